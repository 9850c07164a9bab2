#!/usr/bin/env bash
# Cache-hit throughput: paca vs nginx proxy_cache vs Varnish, side by side.
#
# All three sit in front of the same origin (paca demo-origin serving fixtures/, 50 ms
# latency), are warmed until every benchmark URL is a cache hit, and are then loaded with
# wrk in interleaved repetitions. Prints a table of median req/s and median p99 latency per
# target and body size (req/s, p50, p99), paca's ratio to nginx and to the faster of nginx
# and Varnish. Target "paca-log" is a second paca, the same in every way but with its access
# log on (nginx runs with access_log off and Varnish logs nothing by itself); target
# "nginx-log" (not in the default list) is its counterpart, nginx's proxy_cache with a buffered
# access log, and paca-log's ratio is then taken against it. Target
# "nginx-static" (not in the default list) is the same nginx serving the fixture files from
# disk (page cache, sendfile) with no proxy and no cache: the ceiling an HTTP server reaches on
# this box. Target "paca-b" (not in the default list) is a second paca run from the binary
# PACA_B, for an A/B of two builds in one run. Each run also reports how busy wrk's CPU and the
# server's CPU were, to tell a server-bound run from a client-bound one.
#
#   swift build -c release && bench/hits.sh
#   SKIP_PACA=1 bench/hits.sh            # only nginx and Varnish (stand-in origin if no paca)
#
# Knobs (environment): see bench/README.md. Every process started here is stopped by PID
# on exit; everything listens on 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

PACA=${PACA:-.build/release/paca}
DURATION=${DURATION:-10}          # seconds per wrk run
REPS=${REPS:-3}                   # interleaved repetitions per target and URL
CONNS=${CONNS:-64}                # wrk connections
THREADS=${THREADS:-1}             # wrk threads
LATENCY=${LATENCY:-50ms}          # origin latency
URLS=${URLS:-"/bench/1k.json /bench/16k.json /bench/128k.json"}
TARGETS=${TARGETS:-"paca paca-log nginx varnish"}
SKIP_PACA=${SKIP_PACA:-0}
ORIGIN=${ORIGIN:-auto}            # auto | paca | standin
PIN=${PIN:-auto}                  # auto | 1 | 0: pin servers and wrk to separate CPUs
SERVER_CPUS=${SERVER_CPUS:-}      # taskset list for paca/nginx/varnish (default: last CPU)
WRK_CPUS=${WRK_CPUS:-}            # taskset list for wrk and the origin (default: the others)
NGINX_WORKERS=${NGINX_WORKERS:-1}
VARNISH_POOLS=${VARNISH_POOLS:-}  # default: number of server CPUs
VARNISH_MIN_THREADS=${VARNISH_MIN_THREADS:-$((CONNS + 36))}
VARNISH_MAX_THREADS=${VARNISH_MAX_THREADS:-1000}
VARNISH_EXTRA=${VARNISH_EXTRA:-}  # more varnishd arguments, e.g. "-p timeout_linger=0.1"
NGINX_EXTRA=${NGINX_EXTRA:-}      # more nginx http{} directives, e.g. "gzip off;"
PACA_EXTRA=${PACA_EXTRA:-}        # more arguments to "paca serve"
CLOSE=${CLOSE:-0}                 # 1: every request on a new connection (wrk sends "Connection: close")
KEYS=${KEYS:-1}                   # >1: spread each run over KEYS cached URLs (the path with ?k=0..KEYS-1)
KEEP_TMP=${KEEP_TMP:-0}
PACA_B=${PACA_B:-}                # target "paca-b": a second paca built from other code, for an A/B
PACA_B_LOG=${PACA_B_LOG:-0}       # 1: paca-b runs with its access log on (an A/B of the log's code)
LOG_DIR=${LOG_DIR:-}              # where paca-log, paca-b and nginx-log write their access logs (default: the run's temp dir)
GOAL=${GOAL:-1.25}                # the summary's budget line: GOAL times nginx's requests/s
OUT_DIR=${OUT_DIR:-bench/out}

[[ $SKIP_PACA == 1 ]] && TARGETS=$(tr ' ' '\n' <<<"$TARGETS" | grep -v '^paca' | tr '\n' ' ')
TARGETS=$(echo $TARGETS)
runs_total=$(( $(wc -w <<<"$TARGETS") * $(wc -w <<<"$URLS") * REPS ))
est_seconds=$(( runs_total * (DURATION + 2) + 60 ))
# Entries must outlive the whole run, or a late run measures a refill.
TTL=${TTL:-$(( est_seconds > 240 ? est_seconds + 300 : 300 ))}
MAX_SECONDS=${MAX_SECONDS:-$(( est_seconds * 2 + 120 ))}

die() { echo "hits.sh: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }

# ---------------------------------------------------------------- prerequisites
SUDO=""; [[ $EUID -ne 0 ]] && SUDO="sudo"
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
[[ " $TARGETS " == *" nginx"* ]] && { command -v nginx >/dev/null || missing+=(nginx); }
[[ " $TARGETS " == *" varnish "* ]] && { command -v varnishd >/dev/null || missing+=(varnish); }
if ((${#missing[@]})); then
    note "installing ${missing[*]}"
    $SUDO apt-get update -qq && $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
        || die "could not install ${missing[*]}; install them and retry"
fi
command -v python3 >/dev/null || die "python3 is needed (free ports, stand-in origin)"

have_paca=0; [[ -x $PACA ]] && have_paca=1
if [[ " $TARGETS " == *" paca-b "* ]]; then
    [[ -n $PACA_B && -x $PACA_B ]] || die "target paca-b needs PACA_B=<another paca binary> (found '${PACA_B}')"
fi
if [[ " $TARGETS " == *" paca"* ]] && ((!have_paca)); then
    die "paca binary not found at $PACA: build it with 'make release' (or set PACA=/path/to/paca, or SKIP_PACA=1 to bench only nginx and Varnish)"
fi
case $ORIGIN in
    auto) ((have_paca)) && ORIGIN=paca || ORIGIN=standin ;;
    paca) ((have_paca)) || die "ORIGIN=paca but $PACA is missing: run 'swift build -c release'" ;;
    standin) ;;
    *) die "ORIGIN must be auto, paca or standin" ;;
esac
for u in $URLS; do [[ -f fixtures/origin${u} ]] || die "fixtures/origin${u} missing (python3 fixtures/generate.py)"; done
[[ -n $TARGETS ]] || die "nothing to benchmark (TARGETS is empty)"

ncpu=$(nproc)
if [[ $PIN == auto ]]; then
    PIN=0; ((ncpu >= 2)) && command -v taskset >/dev/null && PIN=1
fi
if [[ $PIN == 1 ]]; then
    SERVER_CPUS=${SERVER_CPUS:-$((ncpu - 1))}
    WRK_CPUS=${WRK_CPUS:-$( ((ncpu > 2)) && echo "0-$((ncpu - 2))" || echo 0)}
    SRV=(taskset -c "$SERVER_CPUS"); CLI=(taskset -c "$WRK_CPUS")
    server_ncpu=$(taskset -c "$SERVER_CPUS" nproc)
else
    SRV=(); CLI=(); server_ncpu=$ncpu
fi
VARNISH_POOLS=${VARNISH_POOLS:-$server_ncpu}
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true

# ---------------------------------------------------------------- process bookkeeping
TMP=$(mktemp -d "${TMPDIR:-/tmp}/paca-hits.XXXXXX")
chmod 755 "$TMP"   # nginx workers and the varnish child run as unprivileged users
PIDS=(); NAMES=(); WATCHDOG=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $WATCHDOG ]] && kill "$WATCHDOG" 2>/dev/null || true
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $KEEP_TMP == 1 || $rc -ne 0 ]]; then echo "hits.sh: logs kept in $TMP" >&2; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# watchdog: bounds the whole run; its own sleep is stopped with it
(
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$MAX_SECONDS" & s=$!
    wait "$s" && { echo "hits.sh: watchdog: over ${MAX_SECONDS}s, stopping" >&2; kill -TERM $$; }
) &
WATCHDOG=$!

# start NAME CMD... : run in the background, log to $TMP/NAME.log, remember the PID
start() {
    local name=$1; shift
    "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=($!); NAMES+=("$name")
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port NAME PORT: until something accepts on 127.0.0.1:PORT (30 s), or the process died
wait_port() {
    local name=$1 port=$2 pid=${PIDS[-1]}
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -20 "$TMP/$name.log" >&2; die "$name exited during start-up (log above)"
        fi
        sleep 0.1
    done
    tail -20 "$TMP/$name.log" >&2; die "$name did not listen on 127.0.0.1:$port within 30 s"
}

# ---------------------------------------------------------------- origin
ORIGIN_PORT=$(free_port)
if [[ $ORIGIN == paca ]]; then
    start origin "${CLI[@]}" "$PACA" demo-origin --fixtures fixtures --port "$ORIGIN_PORT" --latency "$LATENCY"
else
    start origin "${CLI[@]}" python3 bench/standin_origin.py --fixtures fixtures --port "$ORIGIN_PORT" --latency "$LATENCY"
fi
wait_port origin "$ORIGIN_PORT"
note "origin ($ORIGIN) on 127.0.0.1:$ORIGIN_PORT, latency $LATENCY"

declare -A PORT
# ---------------------------------------------------------------- paca
# start_paca TARGET LOG [BINARY]: one paca instance; LOG=1 turns its access log on
start_paca() {
    local t=$1 log=$2 binary=${3:-$PACA} admin_port dir access_log=""
    PORT[$t]=$(free_port); admin_port=$(free_port)
    dir=$TMP/$t; mkdir -p "$dir"
    local log_path=$dir/access.log
    [[ -n $LOG_DIR ]] && log_path=$LOG_DIR/$t-access.log
    [[ $log == 1 ]] && access_log="\"access_log\": { \"path\": \"$log_path\" },"
    cat >"$dir/routes.json" <<EOF
{
  "listen": "127.0.0.1:${PORT[$t]}",
  "admin": { "listen": "127.0.0.1:$admin_port" },
  "storage": { "l1": { "max_bytes": "256MB" }, "l2": { "path": "$dir/cache", "max_bytes": "1GB" } },
  $access_log
  "routes": [
    { "name": "all", "match": "/*", "origin": "http://127.0.0.1:$ORIGIN_PORT", "ttl": "${TTL}s" }
  ]
}
EOF
    start "$t" "${SRV[@]}" "$binary" serve --config "$dir/routes.json" $PACA_EXTRA
    wait_port "$t" "${PORT[$t]}"
    note "$t on 127.0.0.1:${PORT[$t]}$([[ $log == 1 ]] && echo ", access log $log_path")"
}
[[ " $TARGETS " == *" paca "* ]] && start_paca paca 0
[[ " $TARGETS " == *" paca-log "* ]] && start_paca paca-log 1
[[ " $TARGETS " == *" paca-b "* ]] && start_paca paca-b "$PACA_B_LOG" "$PACA_B"

# ---------------------------------------------------------------- nginx
if [[ " $TARGETS " == *" nginx"* ]]; then
    PORT[nginx]=$(free_port); PORT[nginx-static]=$(free_port); PORT[nginx-log]=$(free_port)
    N=$TMP/nginx; mkdir -p "$N"
    user_line=""; [[ $EUID -eq 0 ]] && user_line="user root root;"
    # cache_location ZONE: the proxy_cache location of the nginx targets
    cache_location() {
        cat <<EOF
proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache $1;
            proxy_cache_valid 200 ${TTL}s;
            proxy_cache_lock on;
            proxy_cache_use_stale updating error timeout;
            proxy_cache_background_update on;
            proxy_ignore_headers Set-Cookie;
            add_header X-Cache-Status \$upstream_cache_status always;
EOF
    }
    cat >"$N/nginx.conf" <<EOF
$user_line
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 65536;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    $NGINX_EXTRA
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
    client_body_temp_path $N/body;
    proxy_temp_path $N/proxy_temp;
    fastcgi_temp_path $N/fastcgi_temp;
    uwsgi_temp_path $N/uwsgi_temp;
    scgi_temp_path $N/scgi_temp;
    proxy_cache_path $N/cache levels=1:2 keys_zone=bench:16m max_size=1g inactive=1h use_temp_path=off;
    proxy_cache_path $N/cache-log levels=1:2 keys_zone=bench_log:16m max_size=1g inactive=1h use_temp_path=off;
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:${PORT[nginx]} backlog=4096;
        location / {
            $(cache_location bench)
        }
    }
    server {
        # nginx-log: the same proxy_cache (its own zone) with a buffered access log, the
        # counterpart of paca-log
        listen 127.0.0.1:${PORT[nginx-log]} backlog=4096;
        access_log ${LOG_DIR:-$N}/nginx-access.log combined buffer=64k flush=1s;
        location / {
            $(cache_location bench_log)
        }
    }
    server {
        listen 127.0.0.1:${PORT[nginx-static]} backlog=4096;
        root $ROOT/fixtures/origin;
        location / { add_header X-Cache-Status STATIC always; }
    }
}
EOF
    start nginx "${SRV[@]}" nginx -e "$N/error.log" -p "$N" -c "$N/nginx.conf" -g 'daemon off;'
    wait_port nginx "${PORT[nginx]}"
    note "nginx on 127.0.0.1:${PORT[nginx]} ($NGINX_WORKERS worker)"
fi

# ---------------------------------------------------------------- varnish
if [[ " $TARGETS " == *" varnish "* ]]; then
    PORT[varnish]=$(free_port)
    V=$TMP/varnish-conf; mkdir -p "$V"
    cat >"$V/bench.vcl" <<EOF
vcl 4.1;

backend origin {
    .host = "127.0.0.1";
    .port = "$ORIGIN_PORT";
}

sub vcl_recv {
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # the built-in VCL passes requests with Cookie or Authorization
    unset req.http.Cookie;
    unset req.http.Authorization;
    return (hash);
}

sub vcl_backend_response {
    unset beresp.http.Set-Cookie;
    if (beresp.status == 200) {
        set beresp.ttl = ${TTL}s;
        set beresp.grace = 10s;
        set beresp.uncacheable = false;
        return (deliver);
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
EOF
    start varnish "${SRV[@]}" varnishd -F -a "127.0.0.1:${PORT[varnish]}" -f "$V/bench.vcl" \
        -s malloc,256m -n "$TMP/varnish" \
        -p thread_pools="$VARNISH_POOLS" -p thread_pool_min="$VARNISH_MIN_THREADS" \
        -p thread_pool_max="$VARNISH_MAX_THREADS" $VARNISH_EXTRA
    wait_port varnish "${PORT[varnish]}"
    note "varnish on 127.0.0.1:${PORT[varnish]} (pools=$VARNISH_POOLS, threads $VARNISH_MIN_THREADS..$VARNISH_MAX_THREADS)"
fi

# ---------------------------------------------------------------- warm-up
is_hit() { # is_hit TARGET HEADERFILE
    case $1 in
        paca | paca-log | paca-b) grep -qiE '^cache-status:.*paca;[[:space:]]*hit' "$2" ;;
        nginx | nginx-log) grep -qiE '^x-cache-status:[[:space:]]*hit' "$2" ;;
        nginx-static) grep -qiE '^x-cache-status:[[:space:]]*static' "$2" ;;
        varnish) grep -qiE '^x-cache:[[:space:]]*hit' "$2" ;;
    esac
}

# warm TARGET URL [rewarm]: request until a hit with the full body is served (at most 10
# tries). A hit on the first try means a stale cache, unless this is a re-warm.
warm() {
    local t=$1 u=$2 rewarm=${3:-0} want got code h=$TMP/headers
    want=$(stat -c %s "fixtures/origin$u")
    for try in $(seq 10); do
        read -r code got < <(curl -s -o /dev/null -D "$h" --max-time 10 -w '%{http_code} %{size_download}\n' \
            "http://127.0.0.1:${PORT[$t]}$u" || echo "000 0")
        if [[ $code == 200 && $got == "$want" ]] && is_hit "$t" "$h"; then
            ((try > 1 || rewarm)) || [[ $t == nginx-static ]] || die "$t served a hit for $u on the first request (stale cache dir?)"
            return 0
        fi
        [[ $code == 200 ]] || note "$t $u: HTTP $code (try $try)"
        [[ $code != 200 || $got == "$want" ]] || die "$t $u: body is $got bytes, expected $want"
        sleep 0.2
    done
    sed 's/^/    /' "$h" >&2
    die "$t never served a cache hit for $u (last response headers above)"
}

for t in $TARGETS; do for u in $URLS; do warm "$t" "$u"; done; done
note "all targets serve hits for: $URLS"

# KEYS > 1: a wrk script that walks ?k=0..KEYS-1 on the run's path, and a warm-up pass over all
# of them per target and path (misses fill the cache), long enough to fetch each a few times.
WRK_KEYS=()
if ((KEYS > 1)); then
    cat >"$TMP/keys.lua" <<EOF
local i = 0
request = function()
    i = (i + 1) % $KEYS
    return wrk.format("GET", wrk.path .. "?k=" .. i)
end
EOF
    WRK_KEYS=(-s "$TMP/keys.lua")
    # Each miss waits the origin's latency: twice what one pass over the keys takes, plus a
    # second per 1,000 keys (misses are slower than hits however fast the origin), plus 3 s.
    case $LATENCY in *ms) latency_ms=${LATENCY%ms} ;; *s) latency_ms=$((${LATENCY%s} * 1000)) ;; *) latency_ms=1000 ;; esac
    warm_seconds=$((2 * KEYS * latency_ms / (CONNS * 1000) + KEYS / 1000 + 3))
    for t in $TARGETS; do for u in $URLS; do
        note "$t: warming $KEYS keys of $u (${warm_seconds}s)"
        timeout $((warm_seconds + 30)) "${CLI[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${warm_seconds}s" --timeout 5s "${WRK_KEYS[@]}" \
            "http://127.0.0.1:${PORT[$t]}$u" >/dev/null 2>&1 || die "warming $KEYS keys failed against $t"
        curl -s -o /dev/null -D "$TMP/headers" --max-time 10 "http://127.0.0.1:${PORT[$t]}$u?k=$((KEYS / 2))"
        is_hit "$t" "$TMP/headers" || die "$t does not serve a hit for $u?k=$((KEYS / 2)) after warming"
    done; done
fi

# ---------------------------------------------------------------- load
mkdir -p "$OUT_DIR"
OUT=$OUT_DIR/hits-$(date -u +%Y%m%dT%H%M%SZ).txt
say() { echo "$*" | tee -a "$OUT"; }

to_ms() { # wrk durations: 812.00us 3.21ms 1.02s 1.50m
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1;
        if (f < 0) exit 1; printf "%.3f", n * f }'
}

say "paca bench/hits.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "host: $(uname -sr), $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
say "pinning: $([[ $PIN == 1 ]] && echo "servers on CPU $SERVER_CPUS, wrk+origin on CPU $WRK_CPUS" || echo off)"
say "origin: $ORIGIN, latency $LATENCY; ttl ${TTL}s"
say "wrk: -t$THREADS -c$CONNS -d${DURATION}s --latency, $REPS interleaved reps"
say "versions: $(nginx -v 2>&1 | sed 's/.*version: //'), $(varnishd -V 2>&1 | head -1 | sed 's/ revision.*//;s/[()]//g'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)$([[ " $TARGETS " == *" paca"* ]] && echo ", paca $PACA")"
say ""
say "$(printf '%-12s %-18s %4s %10s %8s %8s %6s %7s %7s %6s %9s %9s' target url rep 'req/s' 'p50 ms' 'p99 ms' errors 'wrk cpu' 'srv cpu' steal 'µs cpu/req' 'of it sys')"

# cpu_ticks CPULIST: busy and total jiffies of those CPUs, from /proc/stat
cpu_ticks() {
    local list=$1 cpus=()
    IFS=',' read -ra parts <<<"$list"
    for p in "${parts[@]}"; do
        if [[ $p == *-* ]]; then for ((c = ${p%-*}; c <= ${p#*-}; c++)); do cpus+=("$c"); done; else cpus+=("$p"); fi
    done
    awk -v want=" ${cpus[*]} " '$1 ~ /^cpu[0-9]+$/ { n = substr($1, 4); if (index(want, " " n " ")) {
        idle += $5 + $6; for (i = 2; i <= NF; i++) total += $i } } END { print total - idle, total }' /proc/stat
}
SERVER_CPU_LIST=${SERVER_CPUS:-0-$((ncpu - 1))}
# server_pid TARGET: the PID of the server process started for TARGET (every nginx target is
# one nginx: its master, and the workers under it)
server_pid() {
    local name=$1 i
    [[ $name == nginx* ]] && name=nginx
    for i in "${!NAMES[@]}"; do [[ ${NAMES[i]} == "$name" ]] && { echo "${PIDS[i]}"; return; }; done
}
# tree_ticks PID: CPU time (user and system, clock ticks, every thread) of PID and the processes
# under it, as two numbers. Time the hypervisor stole is not in it: the server's CPU per request is a measure
# of its own work that a noisy neighbour moves far less than it moves requests per second.
tree_ticks() {
    python3 - "$1" <<'PY'
import os, sys
root, parent, ticks = sys.argv[1], {}, {}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        with open(f'/proc/{pid}/stat') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        continue
    parent[pid], ticks[pid] = fields[1], (int(fields[11]), int(fields[12]))
user = system = 0
for pid, (own_user, own_system) in ticks.items():
    up = pid
    while up != root and up in parent and up not in ('0', '1'):
        up = parent[up]
    if up == root:
        user, system = user + own_user, system + own_system
print(user, system)
PY
}
CLK_TCK=$(getconf CLK_TCK)

# steal_ticks: jiffies the hypervisor gave to other guests while this one wanted them, over all
# CPUs, and all jiffies: a round with much steal measured a share of the box, not the box.
steal_ticks() {
    awk '$1 ~ /^cpu[0-9]+$/ { steal += $9; for (i = 2; i <= NF; i++) total += $i } END { print steal, total }' /proc/stat
}

WRK_CLOSE=(); [[ $CLOSE == 1 ]] && WRK_CLOSE=(-H "Connection: close")
RES=$TMP/results.tsv; : >"$RES"
# Each repetition starts one target later than the last (paca nginx varnish, then nginx varnish
# paca, ...): on a shared VM the first run of a round met more steal, more often, and no target
# should always be the one that meets it.
rotated() { # rotated N: $TARGETS turned left N times
    local list=($TARGETS) n=${#list[@]} i
    for ((i = 0; i < n; i++)); do printf '%s ' "${list[(i + $1) % n]}"; done
}
for u in $URLS; do
    for rep in $(seq "$REPS"); do
        for t in $(rotated $((rep - 1))); do
            url="http://127.0.0.1:${PORT[$t]}$u"
            h=$TMP/headers
            curl -s -o /dev/null -D "$h" --max-time 10 "$url" && is_hit "$t" "$h" \
                || warm "$t" "$u" 1
            out=$TMP/wrk-$t-$(basename "$u")-$rep.txt
            read -r busy0 total0 < <(cpu_ticks "$SERVER_CPU_LIST")
            read -r stolen0 all0 < <(steal_ticks)
            spid=$(server_pid "$t")
            read -r usr0 sys0 < <(tree_ticks "$spid")
            timeout $((DURATION + 30)) /usr/bin/time -f '%P' -o "$out.cpu" "${CLI[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency --timeout 5s "${WRK_CLOSE[@]}" "${WRK_KEYS[@]}" "$url" >"$out" 2>&1 \
                || { cat "$out" >&2; die "wrk failed against $t"; }
            read -r busy1 total1 < <(cpu_ticks "$SERVER_CPU_LIST")
            read -r usr1 sys1 < <(tree_ticks "$spid")
            read -r stolen1 all1 < <(steal_ticks)
            steal=$(awk -v s=$((stolen1 - stolen0)) -v t=$((all1 - all0)) 'BEGIN { printf "%.0f%%", (t > 0 ? 100 * s / t : 0) }')
            srv_cpu=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.0f%%", (t > 0 ? 100 * b / t : 0) }')
            wrk_cpu=$(tail -1 "$out.cpu")
            rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
            p50=$(awk '/^ +50%/ { print $2 }' "$out")
            p99=$(awk '/^ +99%/ { print $2 }' "$out")
            [[ -n $rps && -n $p50 && -n $p99 ]] || { cat "$out" >&2; die "could not parse wrk output"; }
            requests=$(awk '/ requests in / { print $1 }' "$out")
            cpu_us=$(awk -v c=$((usr1 - usr0 + sys1 - sys0)) -v n="${requests:-0}" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (n > 0 ? c * 1e6 / hz / n : 0) }')
            sys_us=$(awk -v c=$((sys1 - sys0)) -v n="${requests:-0}" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (n > 0 ? c * 1e6 / hz / n : 0) }')
            p50=$(to_ms "$p50")
            p99=$(to_ms "$p99")
            errs=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
                        /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
                        END { print n + 0 }' "$out")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$u" "$rep" "$rps" "$p99" "$errs" "$p50" "$cpu_us" "$sys_us" >>"$RES"
            say "$(printf '%-12s %-18s %4s %10.0f %8.2f %8.2f %6s %7s %7s %6s %9s %9s' "$t" "$u" "$rep" "$rps" "$p50" "$p99" "$errs" "$wrk_cpu" "$srv_cpu" "$steal" "$cpu_us" "$sys_us")"
        done
    done
done

# ---------------------------------------------------------------- summary
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

say ""
say "$(printf '%-12s %-10s %12s %8s %8s %7s %10s %9s  %-8s %-10s %s' target body 'median req/s' 'p50 ms' 'p99 ms' errors 'µs cpu/req' 'of it sys' '/ nginx' 'cpu nginx/' '/ best of nginx,varnish')"
for u in $URLS; do
    size=$(stat -c %s "fixtures/origin$u")
    body=$(awk -v s="$size" 'BEGIN { if (s % 1024 == 0) printf "%d KiB", s / 1024; else printf "%d B", s }')
    declare -A MRPS=() MP50=() MP99=() MCPU=() MSYS=()
    for t in $TARGETS nginx varnish; do
        [[ -n ${MRPS[$t]:-} ]] && continue
        MRPS[$t]=$(awk -F'\t' -v t="$t" -v u="$u" '$1 == t && $2 == u { print $4 }' "$RES" | median)
        MP50[$t]=$(awk -F'\t' -v t="$t" -v u="$u" '$1 == t && $2 == u { print $7 }' "$RES" | median)
        MP99[$t]=$(awk -F'\t' -v t="$t" -v u="$u" '$1 == t && $2 == u { print $5 }' "$RES" | median)
        MCPU[$t]=$(awk -F'\t' -v t="$t" -v u="$u" '$1 == t && $2 == u { print $8 }' "$RES" | median)
        MSYS[$t]=$(awk -F'\t' -v t="$t" -v u="$u" '$1 == t && $2 == u { print $9 }' "$RES" | median)
    done
    for t in $TARGETS; do
        errs=$(awk -F'\t' -v t="$t" -v u="$u" '$1 == t && $2 == u { n += $6 } END { print n + 0 }' "$RES")
        vs_nginx=""; vs_best=""; cpu_vs=""
        if [[ $t == paca* ]]; then
            # paca-log is set against nginx-log (both logging) when that target ran
            ref=nginx; [[ $t == paca-log && ${MRPS[nginx-log]:-nan} != nan ]] && ref=nginx-log
            [[ ${MRPS[$ref]} != nan ]] && vs_nginx=$(awk -v a="${MRPS[$t]}" -v b="${MRPS[$ref]}" -v r="$ref" \
                'BEGIN { printf "%.2fx%s", a / b, (r == "nginx" ? "" : " (vs " r ")") }')
            # CPU per request, the reference's over paca's: above 1, paca does a request's work
            # in less of its core (steal is not counted in it)
            [[ ${MCPU[$ref]:-nan} != nan ]] && cpu_vs=$(awk -v a="${MCPU[$t]}" -v b="${MCPU[$ref]}" \
                'BEGIN { if (a > 0) printf "%.2fx", b / a }')
            best=""
            for o in nginx varnish; do
                [[ ${MRPS[$o]} == nan ]] && continue
                if [[ -z $best ]] || awk -v a="${MRPS[$o]}" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=${MRPS[$o]}; bt=$o; fi
            done
            [[ -n $best ]] && vs_best=$(awk -v a="${MRPS[$t]}" -v b="$best" -v n="$bt" 'BEGIN { printf "%.2fx (vs %s)", a / b, n }')
        fi
        say "$(printf '%-12s %-10s %12.0f %8.2f %8.2f %7s %10s %9s  %-8s %-10s %s' "$t" "$body" "${MRPS[$t]}" "${MP50[$t]}" "${MP99[$t]}" "$errs" "${MCPU[$t]}" "${MSYS[$t]}" "$vs_nginx" "$cpu_vs" "$vs_best")"
    done
    # The server is pinned to its own CPU, which it keeps busy: its requests/s is about one
    # second over its CPU per request. Serving GOAL times nginx's requests on that CPU means
    # spending at most nginx's CPU per request over GOAL, system time included.
    if [[ ${MCPU[nginx]:-nan} != nan ]] && awk -v c="${MCPU[nginx]}" 'BEGIN { exit !(c > 0) }'; then
        say "$(awk -v c="${MCPU[nginx]}" -v g="$GOAL" -v b="$body" \
            'BEGIN { printf "  %s: %.2fx nginx on one CPU means at most %.2f µs of CPU per request, system time included", b, g, c / g }')"
    fi
    unset MRPS MP50 MP99 MCPU MSYS
done
say ""
say "written to $OUT"
