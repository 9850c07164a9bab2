#!/usr/bin/env bash
# `make run [PORT=8080] [ORIGIN_PORT=9000] [ADMIN_PORT=9090]`: the demo origin on ORIGIN_PORT
# (50 ms latency) and paca on PORT with routes.json, its listen, admin and origin addresses moved
# to those ports.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
origin_port=${ORIGIN_PORT:-9000}
admin_port=${ADMIN_PORT:-9090}
for value in "$port" "$origin_port" "$admin_port"; do
  [[ "$value" =~ ^[0-9]+$ ]] && (( value > 0 && value < 65536 )) || { echo "make run: \"$value\" is not a port number" >&2; exit 2; }
done
[ "$port" != "$origin_port" ] || { echo "make run: PORT and ORIGIN_PORT must differ" >&2; exit 2; }
bin=${PACA_BIN:-.build/release/paca}  # PACA_BIN: another build, e.g. .build/debug/paca
mkdir -p .paca
config=routes.json
if [ "$port" != 8080 ] || [ "$origin_port" != 9000 ] || [ "$admin_port" != 9090 ]; then
  # Beside routes.json (not in .paca/), so its relative paths resolve to the same places.
  config=.routes.demo.json
  sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$port/g" -e "s/127\.0\.0\.1:9000/127.0.0.1:$origin_port/g" \
    -e "s/127\.0\.0\.1:9090/127.0.0.1:$admin_port/g" routes.json > "$config"
  grep -q "127.0.0.1:$port\"" "$config" || { echo "make run: routes.json has no \"listen\": \"127.0.0.1:8080\" to move to port $port" >&2; exit 2; }
fi
"$bin" demo-origin --fixtures fixtures --port "$origin_port" --latency 50ms &
origin=$!
trap 'kill $origin 2>/dev/null || true; wait $origin 2>/dev/null || true' EXIT
# Wait for the origin to answer (or to fail, e.g. when its port is taken).
for _ in $(seq 100); do
  kill -0 "$origin" 2>/dev/null || { echo "make run: the demo origin did not start (is port $origin_port in use? try make run ORIGIN_PORT=...)" >&2; exit 1; }
  curl -s -o /dev/null "http://127.0.0.1:$origin_port/" && break
  sleep 0.1
done
echo
echo "  try:  curl -si http://127.0.0.1:$port/api/users/1 | grep -i -e cache-status -e age"
echo "        (twice: the first is fwd=uri-miss; stored, the second a hit from l1)"
echo "        $bin stats --admin http://127.0.0.1:$admin_port"
echo
"$bin" serve --config "$config"
