#!/usr/bin/env bash
# Purge latency: how long POST /purge takes over 100,000 L1 entries, and over 10,000 L2 entries.
# Starts bench/origin.py and a release paca on free loopback ports, fills the cache with a
# python3 keep-alive client, then times one pattern purge (and a tag-less regex one) with curl.
# Usage: bench/purge.sh [--l1 N] [--l2 N]     (defaults 100000 and 10000; ~1-2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
L1_ENTRIES=100000
L2_ENTRIES=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --l1) L1_ENTRIES="$2"; shift 2 ;;
    --l2) L2_ENTRIES="$2"; shift 2 ;;
    *) echo "usage: bench/purge.sh [--l1 N] [--l2 N]" >&2; exit 64 ;;
  esac
done
PACA="${PACA:-.build/release/paca}"
[ -x "$PACA" ] || { echo "bench/purge.sh: build first: swift build -c release" >&2; exit 1; }
TMP="$(mktemp -d -t paca-purge.XXXXXX)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

ORIGIN_PORT=$(free_port)
python3 bench/origin.py --port "$ORIGIN_PORT" --log "$TMP/origin.log" --max-seconds 600 >/dev/null 2>&1 &
PIDS+=($!)

# fill N URL-distinct entries of SIZE bytes through PORT
fill() {
  python3 - "$1" "$2" "$3" <<'PY'
import http.client, sys
port, count, size = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for i in range(count):
    conn.request("GET", f"/blob/{size}/ttl=3600?i={i}")
    response = conn.getresponse(); response.read()
    if response.status != 200: sys.exit(f"fill: {response.status} at {i}")
PY
}

# run_case NAME L1_JSON COUNT SIZE
run_case() {
  local name="$1" l1="$2" count="$3" size="$4"
  local port admin dir
  port=$(free_port); admin=$(free_port); dir="$TMP/$name"; mkdir -p "$dir"
  cat > "$dir/routes.json" <<JSON
{ "listen": "127.0.0.1:$port", "admin": { "listen": "127.0.0.1:$admin" },
  "storage": { "l1": $l1, "l2": { "path": "cache", "max_bytes": "2GB" } },
  "routes": [ { "name": "all", "match": "/*", "origin": "http://127.0.0.1:$ORIGIN_PORT" } ] }
JSON
  "$PACA" serve --config "$dir/routes.json" --log-level warning >"$dir/paca.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  local start end
  start=$(date +%s.%N); fill "$port" "$count" "$size"; end=$(date +%s.%N)
  sleep 1   # let L2's write-behind queue drain before purging
  local before
  before=$(curl -fsS -H 'Content-Type: application/json' -d '{"pattern": "/blob/*", "dry_run": true}' "http://127.0.0.1:$admin/purge")
  local timing report
  report=$(curl -fsS -w '\n%{time_total}' -H 'Content-Type: application/json' -d '{"pattern": "/blob/*"}' "http://127.0.0.1:$admin/purge")
  timing=$(echo "$report" | tail -1)
  printf '%-4s %7d entries filled in %5.1f s; dry run %s; purge %s in %.3f s\n' "$name" "$count" "$(echo "$end - $start" | bc)" \
    "$(echo "$before" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tiers"])')" \
    "$(echo "$report" | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["tiers"])')" "$timing"
}

run_case l1 '{ "max_bytes": "1GB", "policy": "lru" }' "$L1_ENTRIES" 100   # L1 and L2 (written through)
# L1 entries limited to 1 KB: the 4 KiB answers stream into L2 only.
run_case l2 '{ "max_bytes": "64MB", "max_entry_bytes": "1KB" }' "$L2_ENTRIES" 4K
