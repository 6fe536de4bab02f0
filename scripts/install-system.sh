#!/usr/bin/env bash
# Debian packages the tests and the demo need. Runs as root (CI, developer machines).
set -euo pipefail
PACKAGES=(espeak-ng sox pocketsphinx-testdata chromium chromium-driver)
# openssl: benchmarks/bench_recording.py measures its peer with `openssl speed`.
PACKAGES+=(openssl)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
