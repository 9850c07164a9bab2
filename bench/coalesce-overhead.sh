#!/usr/bin/env bash
# Cross-node coalescing overhead on a miss: two release paca nodes on one redis-server, one with
# storage.l3.coalesce_lock on (the default) and one with it off, in front of the demo origin at
# 0 ms latency. A python3 keep-alive client sends sequential misses (distinct query strings),
# alternating the two nodes in rounds, and prints p50/p90/p99 of each plus the Redis commands
# the runs cost (INFO commandstats), which is the noise-free part of the answer.
# Usage: bench/coalesce-overhead.sh [--misses N] [--rounds R]   (defaults 200 and 5; ~30 s)
set -euo pipefail
cd "$(dirname "$0")/.."
MISSES=200
ROUNDS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --misses) MISSES="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "usage: bench/coalesce-overhead.sh [--misses N] [--rounds R]" >&2; exit 64 ;;
  esac
done
PACA="${PACA:-.build/release/paca}"
[ -x "$PACA" ] || { echo "bench/coalesce-overhead.sh: build first: swift build -c release --product paca" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "bench/coalesce-overhead.sh: needs redis-server (make test-deps)" >&2; exit 1; }
TMP="$(mktemp -d -t paca-coalesce.XXXXXX)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
ORIGIN_PORT=$(free_port)
"$PACA" demo-origin --fixtures fixtures --port "$ORIGIN_PORT" --latency 0ms >"$TMP/origin.log" 2>&1 &
PIDS+=($!)
declare -A PORTS
for mode in on off; do
  PORTS[$mode]=$(free_port)
  lock=$([ "$mode" = on ] && echo true || echo false)
  mkdir -p "$TMP/$mode"
  cat >"$TMP/$mode/routes.json" <<JSON
{ "listen": "127.0.0.1:${PORTS[$mode]}",
  "storage": { "l1": { "max_bytes": "64MB" },
               "l3": { "url": "redis://127.0.0.1:$REDIS_PORT", "namespace": "bench-$mode", "coalesce_lock": $lock } },
  "routes": [ { "name": "all", "match": "/*", "origin": "http://127.0.0.1:$ORIGIN_PORT", "ttl": "60s" } ] }
JSON
  "$PACA" serve --config "$TMP/$mode/routes.json" >"$TMP/$mode/serve.log" 2>&1 &
  PIDS+=($!)
done
for port in "${PORTS[on]}" "${PORTS[off]}" "$ORIGIN_PORT"; do
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

python3 - "$REDIS_PORT" "${PORTS[on]}" "${PORTS[off]}" "$MISSES" "$ROUNDS" <<'PY'
import http.client, statistics, subprocess, sys, time
redis_port, on_port, off_port, misses, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def commandstats():
    out = subprocess.run(["redis-cli", "-p", redis_port, "INFO", "commandstats"], capture_output=True, text=True).stdout
    calls = {}
    for line in out.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line.split(":", 1)
            calls[name[8:]] = int(rest.split(",")[0].split("=")[1])
    return calls

def run(port, tag, count):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        conn.request("GET", f"/api/users/17?miss={tag}-{i}")
        response = conn.getresponse(); response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        status = response.getheader("Cache-Status", "")
        if "fwd=uri-miss" not in status: sys.exit(f"not a miss: {status}")
    conn.close()
    return latencies

def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]

run(on_port, "warm", 20); run(off_port, "warm", 20)
results = {"on": [], "off": []}
before = commandstats()
for r in range(rounds):
    order = [("on", on_port), ("off", off_port)] if r % 2 == 0 else [("off", off_port), ("on", on_port)]
    for mode, port in order:
        results[mode] += run(port, f"r{r}", misses)
after = commandstats()
for mode in ("on", "off"):
    v = results[mode]
    print(f"coalesce_lock {mode:3}: {len(v)} misses  p50 {pct(v, .5):.3f} ms  p90 {pct(v, .9):.3f} ms  p99 {pct(v, .99):.3f} ms  mean {statistics.mean(v):.3f} ms")
on, off = results["on"], results["off"]
print(f"overhead: p50 {pct(on, .5) - pct(off, .5):+.3f} ms, p99 {pct(on, .99) - pct(off, .99):+.3f} ms")
delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
print("Redis commands over both runs (lock on and off together):", dict(sorted(delta.items())))
PY
