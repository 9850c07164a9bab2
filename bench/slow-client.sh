#!/usr/bin/env bash
# bench/slow-client.sh: see bench/README.md. Options: bench/slow-client.sh --help
exec "${PYTHON:-python3}" "$(dirname "$0")/streamprobe.py" slow-client "$@"
