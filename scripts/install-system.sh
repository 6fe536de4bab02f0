#!/usr/bin/env bash
# Debian packages the tests and the demo need; run by `make install` (so by `make test` and
# `make run`). Nothing missing: does nothing. Missing and root: installs them. Missing and not
# root: prints the exact command to run and exits 1.
set -euo pipefail
PACKAGES=(espeak-ng sox pocketsphinx-testdata chromium chromium-driver)
# openssl: benchmarks/bench_recording.py measures its peer with `openssl speed`.
PACKAGES+=(openssl)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
command_line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  {
    echo "Callseal needs Debian packages that are not installed: ${missing[*]}"
    echo "(speech synthesis and audio tools for the tests and the demo, Chromium for the"
    echo "browser tests). Run as root, then run make again:"
    echo
    echo "  $command_line"
    echo
  } >&2
  exit 1
fi
echo "installing Debian packages (first install): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends -qq "${missing[@]}" >/dev/null
