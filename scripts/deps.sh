#!/usr/bin/env bash
# Installs the Debian packages finetune builds, tests and demos with, if any are missing.
# Runs apt-get only when something is absent, so repeated `make test` calls are quick.
set -euo pipefail
pkgs=(build-essential clang libclang-rt-14-dev libomp-dev libopenblas-dev libjansson-dev zlib1g-dev
      dataset-fashion-mnist npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
