# Shared by the bench/ scripts and deploy/check.sh (sourced from the repository root, after
# `tmp` is set and `die` is defined): every process started is remembered in `pids` and stopped
# on exit, and the scratch directory `$tmp` removed.
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# wait_for URL: a real external process, polled with a deadline (WAIT_SECONDS, default 30 s).
wait_for() {
    for _ in $(seq $((${WAIT_SECONDS:-30} * 10))); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    die "nothing answers at $1"
}
