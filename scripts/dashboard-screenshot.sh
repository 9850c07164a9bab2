#!/usr/bin/env bash
# Screenshot of the admin dashboard after some demo traffic, saved as docs/dashboard.png.
# Starts the demo origin and paca (release build if present, else debug) on free loopback ports,
# sends traffic with curl to 127.0.0.1 only, and lets headless Chromium load
# http://127.0.0.1:<admin>/dashboard#token=… (the page keeps the token in sessionStorage).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
bin=.build/release/paca
[ -x "$bin" ] || bin=.build/debug/paca
[ -x "$bin" ] || { swift build; bin=.build/debug/paca; }

work=$(mktemp -d /tmp/paca-dashboard.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
origin_port=$(free_port); proxy_port=$(free_port); admin_port=$(free_port)
export PACA_ADMIN_TOKEN="dashboard-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

cat >"$work/routes.json" <<JSON
{
  "listen": "127.0.0.1:$proxy_port",
  "admin": { "listen": "127.0.0.1:$admin_port", "token_env": "PACA_ADMIN_TOKEN" },
  "storage": { "l1": { "max_bytes": "4MB" }, "l2": { "path": "cache", "max_bytes": "64MB" } },
  "routes": [
    { "name": "users", "match": "/api/users/*", "origin": "http://127.0.0.1:$origin_port", "ttl": "60s" },
    { "name": "products", "match": "/api/products/*", "origin": "http://127.0.0.1:$origin_port", "ttl": "60s" },
    { "name": "all", "match": "/*", "origin": "http://127.0.0.1:$origin_port", "ttl": "30s" }
  ]
}
JSON

"$bin" demo-origin --fixtures fixtures --port "$origin_port" --latency 40ms >"$work/origin.log" 2>&1 &
pids+=($!)
"$bin" serve --config "$work/routes.json" --log-level warning >"$work/paca.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$admin_port/healthz" && curl -s -o /dev/null "http://127.0.0.1:$origin_port/" && break
  sleep 0.1
done

# Paths the demo origin serves (fixtures/origin), a few of them hot.
mapfile -t paths < <(cd fixtures/origin && find api -type f ! -name '_*' | sed 's|^|/|; s|\.[a-z]*$||' | sort | head -60)
[ "${#paths[@]}" -gt 0 ] || paths=(/api/users/1 /api/users/2 /api/products/1)
traffic() {  # $1 rounds: a hot set every round, the long tail now and then
  for round in $(seq "$1"); do
    for i in "${!paths[@]}"; do
      if (( i < 8 || (i + round) % 7 == 0 )); then
        curl -s -o /dev/null "http://127.0.0.1:$proxy_port${paths[$i]}" || true
      fi
    done
  done
}
traffic 15
traffic 400 &  # keeps going while the page polls
pids+=($!)

mkdir -p docs
# The page polls every 2 s; virtual time lets 24 s of polling pass without waiting for it.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,530 \
  --virtual-time-budget=24000 --screenshot="$PWD/docs/dashboard.png" \
  "http://127.0.0.1:$admin_port/dashboard#token=$PACA_ADMIN_TOKEN" >"$work/chromium.log" 2>&1 \
  || { cat "$work/chromium.log" >&2; exit 1; }
echo "saved docs/dashboard.png"
