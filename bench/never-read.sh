#!/usr/bin/env bash
# bench/never-read.sh: see bench/README.md. Options: bench/never-read.sh --help
exec "${PYTHON:-python3}" "$(dirname "$0")/streamprobe.py" never-read "$@"
