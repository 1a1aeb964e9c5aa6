#!/usr/bin/env bash
# Installs everything the benchmark needs: the Node peers and load generator
# (npm, into bench/node_modules), and a bench virtualenv (bench/.venv) with
# pycrdt-websocket, uvicorn, matplotlib and py-spy. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
BENCH="$PWD"
ROOT="$(cd .. && pwd)"

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then echo "setup: Node >= 20 needed, found $(node --version)" >&2; exit 1; fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# Our server, as users install it, into the project's venv (skipped when it is already there).
if [ -x "$ROOT/.venv/bin/python" ] && [ ! -x "$ROOT/.venv/bin/whiteboard" ]; then
  "$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check -e "$ROOT" || echo "setup: could not install the project (is it complete yet?)" >&2
fi
command -v taskset >/dev/null || echo "setup: taskset not found (util-linux): runs will not be pinned" >&2
echo "setup: ok ($BENCH)"
