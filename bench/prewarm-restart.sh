#!/usr/bin/env bash
# Restart under replayed load: the hit ratio in the first minute after a restart, with the
# prewarmer's start-up pass and without it.
#
#   swift build -c release && bench/prewarm-restart.sh
#
# 1. learn: paca (L1 only, prewarm on) takes the first part of fixtures/access.log.gz at RATE
#    requests/s for LEARN; its model is saved when it stops.
# 2. with: paca restarts with an empty L1 and the saved model, prewarm on; the rest of the log is
#    replayed at once, for MEASURE.
# 3. without: the same restart with prewarm off.
# Each phase's hit ratio and origin fetches come from `paca replay --json`. L1 only (no L2, no
# Redis): a restart loses every entry, which is what the start-up pass is for. Everything listens
# on 127.0.0.1; every process started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PACA=${PACA:-.build/release/paca}
RATE=${RATE:-300}             # requests per second, open loop
LEARN=${LEARN:-60s}
MEASURE=${MEASURE:-60s}
LATENCY=${LATENCY:-50ms}      # the demo origin's latency
MAX_RPS=${MAX_RPS:-200}       # prewarm.max_rps
TOP=${TOP:-1000}              # prewarm.top

die() { echo "prewarm-restart.sh: $*" >&2; exit 1; }
[[ -x $PACA ]] || die "no paca binary at $PACA: run 'swift build -c release' (or set PACA=)"
command -v python3 >/dev/null || die "python3 is needed (free ports, reading the JSON reports)"
command -v curl >/dev/null || die "curl is needed"

tmp=$(mktemp -d)
source bench/lib.sh

origin_port=$(free_port); port=$(free_port); admin_port=$(free_port)
"$PACA" demo-origin --fixtures fixtures --port "$origin_port" --latency "$LATENCY" >"$tmp/origin.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$origin_port/"

zcat fixtures/access.log.gz > "$tmp/all.log"
total=$(wc -l < "$tmp/all.log")
half=$(( total / 2 ))
head -n "$half" "$tmp/all.log" > "$tmp/learn.log"
tail -n +"$(( half + 1 ))" "$tmp/all.log" > "$tmp/measure.log"

config() {  # $1: true|false (prewarm)
    cat > "$tmp/routes.json" <<JSON
{
  "listen": "127.0.0.1:$port",
  "admin": { "listen": "127.0.0.1:$admin_port" },
  "storage": { "l1": { "max_bytes": "64MB" } },
  "access_log": { "path": "access.log" },
  "prewarm": { "enabled": $1, "top": $TOP, "max_rps": $MAX_RPS, "max_concurrency": 8, "model": "model.json" },
  "routes": [
    { "name": "users", "match": "/api/users/*", "origin": "http://127.0.0.1:$origin_port", "ttl": "60s",
      "key": { "query": { "include": ["id", "page"] } } },
    { "name": "all", "match": "/*", "origin": "http://127.0.0.1:$origin_port", "ttl": "300s" }
  ]
}
JSON
}

serve() {
    "$PACA" serve --config "$tmp/routes.json" --log-level warning >>"$tmp/paca.log" 2>&1 &
    paca_pid=$!
    pids+=("$paca_pid")
    wait_for "http://127.0.0.1:$admin_port/healthz"
}

stop() { kill "$paca_pid"; wait "$paca_pid" 2>/dev/null || true; }

replay() {  # $1: log, $2: duration, $3: report
    "$PACA" replay "$1" --target "http://127.0.0.1:$port" --rate "$RATE" --duration "$2" --json "$3" >/dev/null
}

field() { python3 -c "import json,sys; r=json.load(open('$1')); print(r['total']['$2'] if 'total' in r else r['$2'])"; }

echo "== learn: $LEARN of the first half of the sample log at $RATE/s (prewarm on)" >&2
config true
serve
replay "$tmp/learn.log" "$LEARN" "$tmp/learn.json"
stop
[[ -s $tmp/model.json ]] || die "no model was saved ($tmp/model.json)"
cp "$tmp/model.json" "$tmp/model.saved"

echo "== with: restart, prewarm at start-up, $MEASURE of the second half" >&2
config true
serve
replay "$tmp/measure.log" "$MEASURE" "$tmp/with.json"
warm=$(curl -s "http://127.0.0.1:$admin_port/prewarm")
stop

echo "== without: restart, prewarm off, $MEASURE of the second half" >&2
cp "$tmp/model.saved" "$tmp/model.json"
config false
serve
replay "$tmp/measure.log" "$MEASURE" "$tmp/without.json"
stop

printf '\n%-28s %10s %14s\n' "first $MEASURE after restart" "hit ratio" "origin fetches"
for phase in with without; do
    printf '%-28s %9.1f%% %14s\n' "prewarm $phase" \
        "$(python3 -c "print(100*$(field "$tmp/$phase.json" hit_ratio))")" "$(field "$tmp/$phase.json" origin_fetches)"
done
echo
echo "prewarmer after the 'with' minute: $(python3 -c "import json; d=json.loads('''$warm'''); print({k: d[k] for k in ('warmed','warmed_by_reason','promoted','origin_requests','precision','used','wasted')})")"
