#!/usr/bin/env bash
# bench/warming-experiment.sh: the prewarming replay experiment (see bench/README.md).
# Regenerates fixtures/logs/warming.log.gz if it is missing, builds paca (release; BUILD=debug
# for a debug build, much slower to run), and replays the log without and with warming at
# each L1 size in SIZES (default "4MB 16MB"). Extra arguments go to `paca simulate`
# (e.g. --max-rps 10 --min-probability 0.9). JSON results land in $OUT (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
LOG=fixtures/logs/warming.log.gz
BUILD=${BUILD:-release}
SIZES=${SIZES:-"4MB 16MB"}
OUT=${OUT:-$(mktemp -d)}

[ -f "$LOG" ] || python3 fixtures/generate_warming.py
swift build -c "$BUILD" --product paca >&2
PACA=$(swift build -c "$BUILD" --show-bin-path)/paca

# The popularity model's admission sketch hashes keys with String.hashValue, which Swift seeds
# per process; a fixed seed makes the figures repeat exactly from run to run.
export SWIFT_DETERMINISTIC_HASHING=1
for size in $SIZES; do
    echo "== L1 $size =="
    "$PACA" simulate "$LOG" --warm --l1 "$size" --json "$OUT/warming-$size.json" "$@"
    echo
done
echo "JSON results in $OUT"
