#!/usr/bin/env bash
# Debian packages for headless MuJoCo rendering (EGL through Mesa's llvmpipe on CPU).
# Installs only what is missing, and only where apt-get and root are available.
set -euo pipefail
missing=()
ldconfig -p | grep -q 'libEGL.so.1' || missing+=(libegl1)
ldconfig -p | grep -q 'libEGL_mesa.so.0' || missing+=(libegl-mesa0)
ldconfig -p | grep -q 'libGL.so.1' || missing+=(libgl1)
[ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ] || [ -e /usr/lib/aarch64-linux-gnu/dri/swrast_dri.so ] \
  || ls /usr/lib/*/dri/*swrast* >/dev/null 2>&1 || missing+=(libgl1-mesa-dri)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing headless rendering packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: headless rendering needs these Debian packages: ${missing[*]} (install them as root)" >&2
fi
