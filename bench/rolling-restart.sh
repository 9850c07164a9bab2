#!/usr/bin/env bash
# Rolling restart under load: two paca nodes sharing one redis-server (L3), behind nginx, while
# `paca replay` sends the sample log at RATE requests/s; node A is restarted (SIGTERM, wait for
# the exit, start again, wait for /healthz), then node B. Prints the replay's failed count, which
# must be 0, and how many requests nginx retried on the other node. RETRY=off is the control:
# nginx without proxy_next_upstream turns the same restarts into 502s.
#
#   swift build -c release --product paca && bench/rolling-restart.sh      (or: make rolling-restart)
#
# Why nothing fails: on SIGTERM a node closes its listener (a new connection is refused, and
# nginx's `proxy_next_upstream error` sends the request to the other node), answers requests in
# flight with `Connection: close` (nginx never reuses a connection to a draining node), closes
# its idle keep-alive connections (a request nginx had just written on one fails with an error
# and is retried on the other node: GET and HEAD are idempotent) and exits once they are done.
# Everything listens on 127.0.0.1; every process started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PACA=${PACA:-.build/release/paca}
RATE=${RATE:-200}             # requests per second, open loop
DURATION=${DURATION:-25s}     # how long the replay sends
LATENCY=${LATENCY:-20ms}      # the demo origin's latency
NGINX=${NGINX:-nginx}
RETRY=${RETRY:-on}            # off: nginx never retries (the control run; failures expected)

die() { echo "rolling-restart.sh: $*" >&2; exit 1; }
[[ -x $PACA ]] || die "no paca binary at $PACA: run 'swift build -c release --product paca' (or set PACA=)"
for tool in python3 curl redis-server "$NGINX"; do command -v "$tool" >/dev/null || die "$tool is needed"; done

tmp=$(mktemp -d /tmp/paca-rolling.XXXXXX)
chmod 755 "$tmp"
source bench/lib.sh
wait_healthy() { for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; die "$1 never answered 200"; }

origin_port=$(free_port); redis_port=$(free_port); lb_port=$(free_port)
"$PACA" demo-origin --fixtures fixtures --port "$origin_port" --latency "$LATENCY" >"$tmp/origin.log" 2>&1 &
pids+=($!)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$origin_port/"

declare -A port admin pid
for name in a b; do
    port[$name]=$(free_port); admin[$name]=$(free_port)
    mkdir -p "$tmp/$name"
    cat > "$tmp/$name/routes.json" <<JSON
{
  "listen": "127.0.0.1:${port[$name]}",
  "admin": { "listen": "127.0.0.1:${admin[$name]}" },
  "server": { "shutdown_grace": "10s" },
  "storage": {
    "l1": { "max_bytes": "64MB" },
    "l2": { "path": "l2", "max_bytes": "256MB" },
    "l3": { "url": "redis://127.0.0.1:$redis_port/0", "namespace": "rolling", "timeout": "200ms" }
  },
  "access_log": { "path": "access.log" },
  "routes": [
    { "name": "users", "match": "/api/users/*", "origin": "http://127.0.0.1:$origin_port", "ttl": "60s",
      "key": { "query": { "include": ["id", "page"] } } },
    { "name": "all", "match": "/*", "origin": "http://127.0.0.1:$origin_port", "ttl": "300s" }
  ]
}
JSON
done

start() {  # $1: node
    "$PACA" serve --config "$tmp/$1/routes.json" --log-level warning >>"$tmp/$1/paca.log" 2>&1 &
    pid[$1]=$!
    pids+=("${pid[$1]}")
    wait_healthy "http://127.0.0.1:${admin[$1]}/healthz"
}

restart() {  # $1: node — SIGTERM, wait for the exit, start again, wait for /healthz
    local begin status=0
    begin=$(date +%s.%N)
    kill -TERM "${pid[$1]}"
    wait "${pid[$1]}" || status=$?
    [[ $status == 0 ]] || die "node $1 exited $status after SIGTERM"
    start "$1"
    echo "   node $1 restarted in $(python3 -c "print(f'{$(date +%s.%N) - $begin:.2f}')")s (drain exit status 0)" >&2
}

start a
start b

user_line=""
[[ $(id -u) == 0 ]] && user_line="user root;"
mkdir -p "$tmp/nginx"
next_upstream="error timeout http_502 http_503"
[[ $RETRY == off ]] && next_upstream=off
cat > "$tmp/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    log_format upstreams '\$status \$upstream_addr \$upstream_status';
    access_log $tmp/nginx/access.log upstreams;
    upstream paca {
        server 127.0.0.1:${port[a]} max_fails=1 fail_timeout=1s;
        server 127.0.0.1:${port[b]} max_fails=1 fail_timeout=1s;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$lb_port;
        location / {
            proxy_pass http://paca;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            # A refused connection, a connection closed before the answer (a draining node's idle
            # keep-alive connection), a timeout or a 502/503: try the other node. nginx retries
            # only idempotent methods (GET, HEAD, ...) unless told otherwise.
            proxy_next_upstream $next_upstream;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 1s;
        }
    }
}
NGINX
"$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -g 'daemon off;' 2>"$tmp/nginx/stderr.log" &
pids+=($!)
wait_for "http://127.0.0.1:$lb_port/"

zcat fixtures/access.log.gz > "$tmp/replay.log"
echo "== replay at $RATE/s for $DURATION through nginx (:$lb_port) in front of nodes a (:${port[a]}) and b (:${port[b]})" >&2
"$PACA" replay "$tmp/replay.log" --target "http://127.0.0.1:$lb_port" --rate "$RATE" --duration "$DURATION" \
    --json "$tmp/replay.json" >"$tmp/replay.out" 2>&1 &
replay_pid=$!
pids+=("$replay_pid")
sleep 4      # load before the first restart
echo "== rolling restart" >&2
restart a
sleep 3      # a serves again before b goes
restart b
wait "$replay_pid" || die "paca replay failed: $(tail -5 "$tmp/replay.out")"

python3 - "$tmp/replay.json" "$tmp/nginx/access.log" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
total = report.get("total", report)  # the totals sit at the top level
lines = [l.split(" ", 1) for l in open(sys.argv[2]).read().splitlines()]
retried = sum(1 for _, upstreams in lines if "," in upstreams)
not_ok = sum(1 for status, _ in lines if not status.startswith(("2", "3", "4")))
print(f"requests sent by replay:   {total['requests']} (hit ratio {total['hit_ratio']:.3f})")
print(f"failed (replay errors):    {total['errors']}  {total.get('errors_by_kind', {})}")
print(f"5xx answered by nginx:     {not_ok}")
print(f"retried on the other node: {retried}")
sys.exit(0 if total["errors"] == 0 and not_ok == 0 else 1)
PY
