#!/usr/bin/env bash
# One command for the whole benchmark:
#   bash bench/run.sh [--quick] [--only ours,hocuspocus] [--scenarios S1,S3] [--repeats N] [--profile]
# Installs what is missing (setup.sh), then runs bench/runner/run.py with the
# bench venv. Servers are started and killed by the runner (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ ! -x .venv/bin/python ]; then bash setup.sh; fi
exec .venv/bin/python runner/run.py "$@"
