#!/usr/bin/env bash
# `make run`: the demo origin on :9000 (50 ms latency) and paca on :8080 with routes.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/paca
mkdir -p .paca
"$bin" demo-origin --fixtures fixtures --port 9000 --latency 50ms &
origin=$!
trap 'kill $origin 2>/dev/null || true; wait $origin 2>/dev/null || true' EXIT
echo
echo "  try:  curl -si http://127.0.0.1:8080/api/users/1 | grep -i -e cache-status -e age"
echo "        (twice: the first is fwd=uri-miss; stored, the second a hit from l1)"
echo
"$bin" serve --config routes.json
