#!/usr/bin/env bash
# Public request-smuggling and malformed-request suites run against `paca serve`:
#
# - defparam/smuggler (https://github.com/defparam/smuggler): the CL.TE / TE.CL desync probe.
#   For each of its Transfer-Encoding mutations (configs default, doubles and exhaustive: spaces
#   and tabs around the name and the colon, control and high bytes before and after `chunked`,
#   doubled fields, line folding, ...) it sends two requests whose lengths disagree by the
#   mutation's reading and reports a desync when one hangs and its edge case does not.
# - uNetworking/h1spec (https://github.com/uNetworking/h1spec): raw requests, malformed and
#   valid, each with the status ranges a conforming server answers (bench/h1spec.py reads them
#   from the suite's own http_test.ts; Deno is not needed).
#
# paca sits in front of bench/origin.py --any-path, which reads every body (Content-Length or
# chunked) and answers 200 on every path, so each verdict is on what paca let through. Exits 1
# when smuggler reports a potential desync or an h1spec case fails.
#
#   swift build -c release --product paca && bench/smuggling.sh
#   SMUGGLER_DIR=/path/to/smuggler H1SPEC_DIR=/path/to/h1spec bench/smuggling.sh   # checkouts (offline)
#
# Without SMUGGLER_DIR / H1SPEC_DIR the suites are cloned (SMUGGLER_REF / H1SPEC_REF, default
# their main branches) into $OUT_DIR: that needs the network. Every process started here is
# stopped by PID on exit; everything listens on and connects to 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
PACA=${PACA:-.build/release/paca}
OUT_DIR=${OUT_DIR:-bench/out}
SMUGGLER=${SMUGGLER_DIR:-$OUT_DIR/smuggler}
H1SPEC=${H1SPEC_DIR:-$OUT_DIR/h1spec}
CONFIGS=${CONFIGS:-"default doubles exhaustive"}   # smuggler's configs/<name>.py to run
METHODS=${METHODS:-"POST GET"}                     # the method of smuggler's requests
TIMEOUT=${TIMEOUT:-3}             # smuggler's socket timeout: a request paca holds this long counts as hung
MAX_SECONDS=${MAX_SECONDS:-1800}  # each smuggler run is stopped after this long

die() { echo "smuggling.sh: $*" >&2; exit 2; }
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"
[[ -x $PACA ]] || die "paca binary not found at $PACA: build it with 'swift build -c release --product paca'"
mkdir -p "$OUT_DIR"

# fetch NAME DIR URL REF MARKER: DIR is a checkout of URL (cloned when DIR was not given)
fetch() {
    local name=$1 dir=$2 url=$3 ref=$4 marker=$5 given=$6
    [[ -f $dir/$marker ]] && return 0
    [[ -n $given ]] && die "$dir is not a $name checkout (no $marker)"
    command -v git >/dev/null || die "git is needed to clone $name"
    echo "cloning $url into $dir"
    git clone -q ${ref:+--branch "$ref"} --depth 1 "$url" "$dir" \
        || die "could not clone $name (offline? set ${name^^}_DIR to a checkout)"
}
fetch smuggler "$SMUGGLER" https://github.com/defparam/smuggler "${SMUGGLER_REF:-}" smuggler.py "${SMUGGLER_DIR:-}"
fetch h1spec "$H1SPEC" https://github.com/uNetworking/h1spec "${H1SPEC_REF:-}" http_test.ts "${H1SPEC_DIR:-}"
SMUGGLER=$(cd "$SMUGGLER" && pwd)
H1SPEC=$(cd "$H1SPEC" && pwd)
version() { [[ -e $1/.git ]] && git -C "$1" rev-parse --short HEAD 2>/dev/null || echo unversioned; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/paca-smuggling.XXXXXX")
source bench/lib.sh
OUT_DIR=$(cd "$OUT_DIR" && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=$OUT_DIR/smuggling-$stamp.txt
say() { echo "$*" | tee -a "$report"; }

ORIGIN_PORT=$(free_port)
python3 bench/origin.py --port "$ORIGIN_PORT" --any-path --max-seconds $((MAX_SECONDS * 3)) >"$tmp/origin.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ORIGIN_PORT/health"

PACA_PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat >"$tmp/routes.json" <<EOF
{
  "listen": "127.0.0.1:$PACA_PORT",
  "admin": { "listen": "127.0.0.1:$ADMIN_PORT" },
  "storage": { "l1": { "max_bytes": "64MB" } },
  "routes": [ { "name": "all", "match": "/*", "origin": "http://127.0.0.1:$ORIGIN_PORT" } ]
}
EOF
"$PACA" serve --config "$tmp/routes.json" >"$tmp/paca.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$PACA_PORT/health"

say "paca $PACA on 127.0.0.1:$PACA_PORT, in front of bench/origin.py --any-path"
say "smuggler $(version "$SMUGGLER") ($SMUGGLER), h1spec $(version "$H1SPEC") ($H1SPEC)"
failed=0

# ---------------------------------------------------------------- h1spec
say ""
say "== h1spec"
if python3 bench/h1spec.py --suite "$H1SPEC/http_test.ts" --port "$PACA_PORT" >"$tmp/h1spec.txt" 2>&1; then :; else
    rc=$?; ((rc == 1)) || { cat "$tmp/h1spec.txt" >&2; die "h1spec.py could not run the suite"; }
    failed=1
fi
tee -a "$report" <"$tmp/h1spec.txt"

# ---------------------------------------------------------------- smuggler
# smuggler writes a payload file under its own payloads/ for each finding, and reads its configs
# from its own configs/: it runs from a copy, so a checkout given by SMUGGLER_DIR is not written.
cp -R "$SMUGGLER" "$tmp/smuggler"
mkdir -p "$tmp/smuggler/payloads"
for config in $CONFIGS; do
    [[ -f $tmp/smuggler/configs/$config.py ]] || die "smuggler has no configs/$config.py"
    for method in $METHODS; do
        say ""
        say "== smuggler, configs/$config.py, $method"
        log=$tmp/smuggler-$config-$method.log
        began=$SECONDS
        (cd "$tmp/smuggler" && timeout "$MAX_SECONDS" python3 smuggler.py --no-color -t "$TIMEOUT" -m "$method" \
            -c "$config.py" -l "$log" -u "http://127.0.0.1:$PACA_PORT/") >"$tmp/smuggler.out" 2>&1 \
            || { cat "$tmp/smuggler.out" >&2; die "smuggler failed or ran past ${MAX_SECONDS}s (configs/$config.py, $method)"; }
        [[ -s $log ]] || { cat "$tmp/smuggler.out" >&2; die "smuggler wrote no log"; }
        # One line per mutation: "[name]  : OK (TECL: 0.00 - 400) (CLTE: 0.00 - 400)", or a
        # timeout, a disconnect, a socket error, or a potential CLTE/TECL issue.
        awk -v secs=$((SECONDS - began)) '
            /^\[/ && /\]/ && !/^\[\+\]/ && !/CRITICAL/ {
                n++
                if (/Potential (CLTE|TECL) Issue Found/) { issues++; print "  FINDING " $0 }
                else if (/: OK/) ok++
                else if (/DISCONNECTED/) disc++
                else if (/TIMEOUT/) { tmo++; print "  timeout " $0 }
                else if (/SOCKET ERROR/) { err++; print "  error   " $0 }
                rest = $0
                while (match(rest, /- [0-9][0-9][0-9]\)/)) { status[substr(rest, RSTART + 2, 3)]++; rest = substr(rest, RSTART + RLENGTH) }
            }
            END {
                s = ""; for (k in status) s = s " " k "×" status[k]
                printf "  %d mutations: %d answered (statuses of the two probes:%s), %d disconnected, %d timed out, %d socket errors, %d potential desyncs (%d s)\n",
                    n, ok, s, disc, tmo, err, issues, secs
            }' "$log" | tee -a "$report"
        if grep -q "Potential \(CLTE\|TECL\) Issue Found" "$log"; then failed=1; fi
        # (awk alone: `| grep -q` under pipefail fails when grep exits before awk has written all)
        awk '/^\[/ && /\]/ && !/^\[\+\]/ { found = 1 } END { exit !found }' "$log" \
            || die "smuggler's log has no mutation lines (format changed?): $log"
        cp "$log" "$OUT_DIR/smuggler-$config-$method-$stamp.log"
    done
done

say ""
if ((failed)); then say "FAILED: see above ($report)"; else say "passed ($report)"; fi
exit "$failed"
