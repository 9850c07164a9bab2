#!/usr/bin/env bash
# L3 get latency: paca's RedisTier.get beside redis-benchmark's GET, same server, same value
# size, one sequential client each, interleaved in repetitions so drift hits both alike.
#
#   swift build -c release --product paca
#   bench/l3-latency.sh                       # 1 KiB and 16 KiB, 3 repetitions of 20000 gets
#   SIZES="16384" REPS=5 COUNT=50000 bench/l3-latency.sh
#   PACA=.build/debug/paca bench/l3-latency.sh
#   BASELINE=/tmp/paca-old bench/l3-latency.sh   # also an older paca binary, in the same runs
#   CLUSTER=1 bench/l3-latency.sh                # also through a 3-master Redis Cluster (paca-cluster)
#
# Prints every run, then per size the median (over the runs) of each tool's p50, p99 and mean,
# and their ratio to redis-benchmark's. Needs redis-server and redis-benchmark (apt-get install redis-server).
set -euo pipefail

cd "$(dirname "$0")/.."
PACA=${PACA:-.build/release/paca}
SIZES=${SIZES:-"1024 16384"}
REPS=${REPS:-3}
COUNT=${COUNT:-20000}
CONCURRENCY=${CONCURRENCY:-1}
BASELINE=${BASELINE:-}
CLUSTER=${CLUSTER:-0}

for tool in redis-server redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "l3-latency: $tool is not installed (apt-get install redis-server)" >&2; exit 2; }
done
[ -x "$PACA" ] || { echo "l3-latency: no paca binary at $PACA (swift build -c release --product paca)" >&2; exit 2; }

work=$(mktemp -d /tmp/paca-l3-latency-XXXXXX)
redis_pid=
cluster_pids=()
cleanup() {
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    for pid in "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --maxmemory-policy allkeys-lru --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
done
redis-cli -p "$port" ping | grep -q PONG || { echo "l3-latency: redis-server did not start" >&2; exit 1; }

# CLUSTER=1: three masters on loopback, slots spread by redis-cli --cluster create
seeds=""
if [ "$CLUSTER" = 1 ]; then
    for i in 1 2 3; do
        # a free port whose cluster bus port (port + 10000) is free and valid too
        cport=$(python3 -c '
import random, socket
for _ in range(200):
    p = random.randrange(20000, 45000)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass')
        mkdir -p "$work/c$i"
        redis-server --port "$cport" --bind 127.0.0.1 --save "" --appendonly no --cluster-enabled yes \
            --cluster-config-file "$work/c$i/nodes.conf" --dir "$work/c$i" --logfile "$work/c$i/redis.log" &
        cluster_pids+=($!)
        seeds="${seeds:+$seeds,}127.0.0.1:$cport"
        for _ in $(seq 1 100); do redis-cli -p "$cport" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
    done
    redis-cli --cluster create ${seeds//,/ } --cluster-replicas 0 --cluster-yes >"$work/cluster-create.log" 2>&1 \
        || { cat "$work/cluster-create.log" >&2; echo "l3-latency: cluster create failed" >&2; exit 1; }
    first=${seeds%%,*}
    for _ in $(seq 1 200); do
        redis-cli -p "${first#*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
        sleep 0.05
    done
fi

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); redis $(redis-server --version | awk '{print $3}')"
echo "# size tool run p50_us p99_us mean_us"
results="$work/results"
for rep in $(seq 1 "$REPS"); do
    for size in $SIZES; do
        # SET fills the key GET reads (redis-benchmark's GET of a missing key would return nil).
        line=$(redis-benchmark -p "$port" -t set,get -d "$size" -c 1 -n "$COUNT" --csv | grep '^"GET"')
        mean=$(echo "$line" | awk -F'","' '{printf "%.1f", $3 * 1000}')
        p50=$(echo "$line" | awk -F'","' '{printf "%.1f", $5 * 1000}')
        p99=$(echo "$line" | awk -F'","' '{printf "%.1f", $7 * 1000}')
        echo "$size redis-benchmark $rep $p50 $p99 $mean" | tee -a "$results"
        tools="paca ${BASELINE:+baseline}"
        [ "$CLUSTER" = 1 ] && tools="$tools paca-cluster"
        for tool in $tools; do
            binary=$PACA
            [ "$tool" = baseline ] && binary=$BASELINE
            target=(--redis "redis://127.0.0.1:$port/0")
            [ "$tool" = paca-cluster ] && target=(--cluster "$seeds")
            out=$("$binary" l3-latency "${target[@]}" --size "$size" --count "$COUNT" --concurrency "$CONCURRENCY")
            p50=$(echo "$out" | sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p')
            p99=$(echo "$out" | sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p')
            mean=$(echo "$out" | sed -n 's/.*mean_us=\([0-9.]*\).*/\1/p')
            echo "$size $tool $rep $p50 $p99 $mean" | tee -a "$results"
        done
    done
done

echo
echo "# medians over $REPS runs of $COUNT gets (concurrency $CONCURRENCY for paca)"
python3 - "$results" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
sizes = sorted({int(r[0]) for r in rows})
tools = [t for t in ("redis-benchmark", "paca", "baseline", "paca-cluster") if any(r[1] == t for r in rows)]
print(f"{'size':>6} {'tool':>16} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8} {'p50 ratio':>10} {'mean ratio':>11}")
for size in sizes:
    def med(tool, col):
        return statistics.median(float(r[col]) for r in rows if int(r[0]) == size and r[1] == tool)
    p50_ref, mean_ref = med("redis-benchmark", 3), med("redis-benchmark", 5)
    for tool in tools:
        p50, p99, mean = med(tool, 3), med(tool, 4), med(tool, 5)
        print(f"{size:>6} {tool:>16} {p50:>8.1f} {p99:>8.1f} {mean:>8.1f} {p50 / p50_ref:>9.2f}x {mean / mean_ref:>10.2f}x")
print("ratios are to redis-benchmark; its percentiles come from a coarse histogram (buckets ~8 µs wide here), its mean is exact")
EOF
