#!/usr/bin/env bash
# The embedded demo (`make demo`): fine-tune a real pretrained CNN on a small real dataset,
# both fetched by the project itself (no ../shared):
#   - the network: nsfwjs's MobileNetV2 (npm package nsfwjs@4.4.0, scripts/fetch-nsfwjs.sh;
#     an ImageNet MobileNetV2 that nsfwjs fine-tuned to 5 classes), imported from TF.js;
#   - the data: 500 Fashion-MNIST training pictures and 500 test pictures (Debian package
#     dataset-fashion-mnist), 28x28 grayscale, given to the network as 96x96 RGB (rgb:).
# It compares, with the same budget (6 epochs, batch 32, Adam lr 3e-3) and seeds:
#   pretrained: the backbone frozen (batch norm too: --frozen-bn), a new 10-class head and
#               the two dense layers before it trained;
#   scratch:    the same network from a random init, every layer trained (its batch norms
#               with PyTorch's momentum 0.1: the imported Keras 0.001 suits fine-tuning, but
#               from a random init the running statistics would not settle in 96 steps).
# Test accuracy on the 500 held-out pictures (nothing is chosen on them), mean of the seeds.
# Everything lands in runs/demo/. DEMO_SEEDS="1 2 3" for more seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
FT=build/finetune
FM=/usr/share/datasets/fashion-mnist
OUT=runs/demo
SEEDS=${DEMO_SEEDS:-1 2}
SIZE=96
EPOCHS=6
TRAIN="rgb:fashion-mnist:$FM:train:500"
TEST="rgb:fashion-mnist:$FM:test:500"
start=$(date +%s)

scripts/fetch-nsfwjs.sh
rm -rf "$OUT"
echo "== 1/4 importing nsfwjs MobileNetV2 (TF.js) as the project's own format =="
$FT convert --model data-cache/nsfwjs/mobilenet_v2/model.json --out "$OUT/mobilenet_v2"
sed 's/"momentum": *0\.001\b/"momentum": 0.1/g' "$OUT/mobilenet_v2/config.json" >"$OUT/scratch-config.json"

common=(--image-size "$SIZE" --new-head 10 --data "$TRAIN" --epochs "$EPOCHS" --batch 32 --lr 3e-3 --progress none)
acc() { $FT eval --model "$1" --data "$TEST" --batch 50 --json | sed 's/.*"accuracy":\([0-9.]*\).*/\1/'; }

echo "== 2/4 fine-tuning on 500 Fashion-MNIST pictures vs training from scratch (seeds: $SEEDS) =="
pre=(); scratch=()
for seed in $SEEDS; do
  t0=$(date +%s)
  $FT train --model "$OUT/mobilenet_v2" --frozen-bn --train 'head,dense_1.*,dense_2.*' "${common[@]}" \
      --seed "$seed" --out "$OUT/pretrained-$seed" >/dev/null
  pre+=("$(acc "$OUT/pretrained-$seed/checkpoint.safetensors")")
  t1=$(date +%s)
  $FT train --model "$OUT/scratch-config.json" "${common[@]}" --seed "$seed" --out "$OUT/scratch-$seed" >/dev/null
  scratch+=("$(acc "$OUT/scratch-$seed/checkpoint.safetensors")")
  t2=$(date +%s)
  echo "seed $seed: pretrained ${pre[-1]} ($((t1 - t0)) s), from scratch ${scratch[-1]} ($((t2 - t1)) s)"
done

first=${SEEDS%% *}
echo "== 3/4 evaluation report of the pretrained model (seed $first) =="
$FT eval --model "$OUT/pretrained-$first/checkpoint.safetensors" --data "$TEST" --batch 50 \
    --report "$OUT/pretrained-$first" | sed -n '/^accuracy/p;/^report/p'
echo "== 4/4 predictions for three test pictures =="
$FT predict --model "$OUT/pretrained-$first/checkpoint.safetensors" --data "$TEST" --limit 3 --top-k 3

awk -v p="${pre[*]}" -v s="${scratch[*]}" -v t="$(( $(date +%s) - start ))" 'BEGIN {
  np = split(p, a, " "); ns = split(s, b, " ");
  for (i = 1; i <= np; i++) mp += a[i] / np;
  for (i = 1; i <= ns; i++) ms += b[i] / ns;
  printf "pretrained MobileNetV2 (nsfwjs): %.2f%%   from scratch: %.2f%%   (500 test pictures, mean of %d seeds, %d s)\n", 100 * mp, 100 * ms, np, t;
  printf "{\"demo\": \"nsfwjs mobilenet_v2 -> fashion-mnist (500 pictures, 96x96)\", \"pretrained_accuracy\": %.4f, \"scratch_accuracy\": %.4f, \"seeds\": %d, \"seconds\": %d}\n", mp, ms, np, t;
}'
echo "reports: $OUT/*/report.html; confusion matrix: $OUT/pretrained-$first/eval.html"
