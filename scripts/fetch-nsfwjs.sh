#!/usr/bin/env bash
# Fetches the npm package nsfwjs@4.4.0 and unwraps its two TF.js *layers* models into the
# standard TF.js format that the C importer reads (src/import/tfjs.c, docs/import.md):
#
#   data-cache/nsfwjs/mobilenet_v2/model.json + group1-shard1of1.bin        (224x224)
#   data-cache/nsfwjs/inception_v3/model.json + group1-shard{1..6}of6.bin   (299x299)
#
# The package ships each model as JS modules: dist/models/<name>/model.min.js (the
# model.json object) and group1-shard*of*.min.js (each a base64 string of one shard).
# node require()s them and writes model.json (with ".bin" appended to the manifest paths)
# and the decoded shards. It also records, under the standard "userDefinedMetadata" key,
# what nsfwjs itself does around the model (dist/cjs/core.js, nsfw_classes.js): class
# names, input = RGB pixel / 255, resized with tf.image.resizeBilinear(alignCorners=true)
# to the model's size. The importer copies these into the graph config.
#
# Idempotent: does nothing when both models are already complete (a stamp file is written
# last). Uses the ordinary npm client, so npm's own settings (registry, proxies) apply.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/npm-common.sh
. "$root/scripts/npm-common.sh"
cache="$root/data-cache"
dest="$cache/nsfwjs"
version=4.4.0
models=(mobilenet_v2 inception_v3)
stamp="$dest/.complete-$version"

if [ -f "$stamp" ]; then
  ok=1
  for m in "${models[@]}"; do [ -s "$dest/$m/model.json" ] || ok=0; done
  if [ "$ok" = 1 ]; then
    echo "fetch-nsfwjs: models already in $dest"
    exit 0
  fi
fi

for tool in npm node tar; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fetch-nsfwjs: '$tool' not found; install it (Debian: apt-get install npm, which brings node)" >&2
    exit 1
  fi
done

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.nsfwjs.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch-nsfwjs: npm pack nsfwjs@$version (25 MB)"
ft_npm_pack fetch-nsfwjs "nsfwjs@$version" "$tmp" 120000 "nsfwjs-$version.tgz" || exit 1
ft_unpack fetch-nsfwjs "$FT_TGZ" "$tmp/unpack" || exit 1
pkg="$tmp/unpack/package"
for m in "${models[@]}"; do
  if [ ! -s "$pkg/dist/models/$m/model.min.js" ]; then
    echo "fetch-nsfwjs: the package has no dist/models/$m/model.min.js; unexpected layout" >&2
    exit 1
  fi
done
if [ ! -s "$pkg/dist/cjs/nsfw_classes.js" ]; then
  echo "fetch-nsfwjs: the package has no dist/cjs/nsfw_classes.js; unexpected layout" >&2
  exit 1
fi

mkdir -p "$tmp/out"
# The unwrapping: each .min.js is a UMD bundle whose CommonJS export is the object (model)
# or the base64 string (shard). dist/models/package.json declares them CommonJS.
if ! NSFWJS_VERSION=$version node - "$pkg" "$tmp/out" "${models[@]}" <<'EOF'
const fs = require("fs"), path = require("path");
const [pkg, out, ...models] = process.argv.slice(2);
const fail = (msg) => { console.error("fetch-nsfwjs: " + msg); process.exit(1); };
const classes = require(path.join(pkg, "dist/cjs/nsfw_classes.js")).NSFW_CLASSES;
const labels = Object.keys(classes).map(Number).sort((a, b) => a - b).map((k) => classes[k]);
if (labels.length !== 5) fail("expected 5 classes in nsfw_classes.js, found " + labels.length);
for (const name of models) {
  const dir = path.join(pkg, "dist/models", name);
  const model = require(path.join(dir, "model.min.js"));
  if (!model || !model.modelTopology || !Array.isArray(model.weightsManifest))
    fail(`${name}/model.min.js does not export a TF.js model (modelTopology + weightsManifest)`);
  const batch = model.modelTopology.model_config.config.layers[0].config.batch_input_shape;
  if (!Array.isArray(batch) || batch.length !== 4) fail(`${name}: the first layer has no [null, H, W, 3] batch_input_shape`);
  const size = batch[1];
  fs.mkdirSync(path.join(out, name), { recursive: true });
  let total = 0;
  for (const group of model.weightsManifest) {
    group.paths = group.paths.map((p) => {
      const file = path.join(dir, p + ".min.js");
      if (!fs.existsSync(file)) fail(`${name}: shard ${p}.min.js is missing from the package`);
      const b64 = require(file);
      if (typeof b64 !== "string") fail(`${name}: ${p}.min.js does not export a base64 string`);
      const bytes = Buffer.from(b64, "base64");
      fs.writeFileSync(path.join(out, name, p + ".bin"), bytes);
      total += bytes.length;
      return p + ".bin";
    });
  }
  let want = 0;
  const esize = { uint8: 1, uint16: 2, float16: 2 };
  for (const group of model.weightsManifest)
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      want += n * (w.quantization ? esize[w.quantization.dtype] : 4);
    }
  if (want !== total) fail(`${name}: the shards hold ${total} bytes but the manifest describes ${want}`);
  model.format = "layers-model";
  model.generatedBy = model.generatedBy || "keras " + (model.modelTopology.keras_version || "?");
  model.convertedBy = "finetune scripts/fetch-nsfwjs.sh from nsfwjs@" + process.env.NSFWJS_VERSION;
  model.userDefinedMetadata = Object.assign({}, model.userDefinedMetadata, {
    labels,
    preprocess: {
      mean: [0, 0, 0], std: [1, 1, 1], channels: "RGB", size: [size, size], resize: [size, size],
      interpolation: "bilinear", align_corners: true,
      note: "nsfwjs (dist/cjs/core.js): RGB pixel / 255, tf.image.resizeBilinear(alignCorners=true) to the model size, no crop",
    },
  });
  fs.writeFileSync(path.join(out, name, "model.json"), JSON.stringify(model));
  console.log(`fetch-nsfwjs: ${name}: ${size}x${size}, ${model.weightsManifest[0].weights.length} weights, ${total} bytes`);
}
EOF
then
  echo "fetch-nsfwjs: unwrapping the models with node failed" >&2
  exit 1
fi
cp "$pkg/LICENSE" "$tmp/out/LICENSE" 2>/dev/null || true

# Swap the finished copy into place (a partial earlier attempt is replaced).
rm -rf "$dest"
mv "$tmp/out" "$dest"
touch "$stamp"
echo "fetch-nsfwjs: models in $dest (${models[*]})"
