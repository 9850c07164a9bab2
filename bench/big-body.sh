#!/usr/bin/env bash
# bench/big-body.sh: see bench/README.md. Options: bench/big-body.sh --help
exec "${PYTHON:-python3}" "$(dirname "$0")/streamprobe.py" big-body "$@"
