#!/bin/sh
# Regenerate the per-op table of docs/onnx.md from ONNX's backend node tests (Debian
# libonnx-testdata) run through the importer: build/tests/test_onnx_conformance writes the
# table, this script puts it between the markers in docs/onnx.md.
#   scripts/onnx-conformance.sh [BUILD_DIR]
set -e
build=${1:-build}
cd "$(dirname "$0")/.."
make -s -j2 BUILD="$build" "$build/tests/test_onnx_conformance"
tmp=$(mktemp)
FT_ONNX_TABLE="$tmp" "$build/tests/test_onnx_conformance"
awk -v table="$tmp" '
  /<!-- conformance table start -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
  /<!-- conformance table end -->/ { skip = 0 }
  !skip { print }
' docs/onnx.md > docs/onnx.md.tmp
mv docs/onnx.md.tmp docs/onnx.md
rm -f "$tmp"
echo "docs/onnx.md: table updated"
