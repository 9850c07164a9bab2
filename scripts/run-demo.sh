#!/usr/bin/env bash
# `make run`: the demo origin on :9000 (50 ms latency) and paca on :8080 with routes.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/paca
mkdir -p .paca
"$bin" demo-origin --fixtures fixtures --port 9000 --latency 50ms &
origin=$!
trap 'kill $origin 2>/dev/null || true; wait $origin 2>/dev/null || true' EXIT
# Wait for the origin to answer (or to fail, e.g. when port 9000 is taken).
for _ in $(seq 100); do
  kill -0 "$origin" 2>/dev/null || { echo "make run: the demo origin did not start (is port 9000 in use?)" >&2; exit 1; }
  curl -s -o /dev/null "http://127.0.0.1:9000/" && break
  sleep 0.1
done
echo
echo "  try:  curl -si http://127.0.0.1:8080/api/users/1 | grep -i -e cache-status -e age"
echo "        (twice: the first is fwd=uri-miss; stored, the second a hit from l1)"
echo
"$bin" serve --config routes.json
