#!/usr/bin/env bash
# SST-2 sentiment (../shared/data/sst2) with stories260K, the one real pretrained Transformer
# here (a 260K-parameter Llama trained on TinyStories, imported from llama2.c), against the same
# architecture from random weights. Both get a fresh sequence-classification head (score.weight
# on the last real token, as Hugging Face's LlamaForSequenceClassification) and identical
# hyperparameters, steps and data; 3 seeds (head init, shuffling; the scratch model's init).
# To stay within minutes on 2 shared cores the training set is subsampled: the first N_TRAIN rows
# of train.tsv (default 2000 of 67,349), sentences cut at MAX_LEN tokens (default 64; the header
# of each run says how many were truncated). Nothing is selected on dev: the model after the last
# step is evaluated once on the whole dev set (872 sentences). Prints a line per run and one JSON line.
# EPOCHS=4 and LR=1e-3 were chosen on rows 60,001-61,000 of train.tsv held out (see README.md).
# Usage: examples/sst2/run.sh [seeds...]   (default 1 2 3; env N_TRAIN, EPOCHS, MAX_LEN, LR, and PAD:
# extra padding flags for train and eval, e.g. PAD=--pad-to-dataset to time the fixed-shape runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${FT_SHARED:-../shared}
if [ ! -f "$S/data/sst2/train.tsv" ] || [ ! -f "$S/models/stories260K/stories260K.bin" ]; then
  echo "SKIP sst2 example: $S/data/sst2 or $S/models/stories260K not found"; exit 0
fi
FT=${FT:-build/finetune}
[ -x "$FT" ] || make -s all
SEEDS=("${@:-1 2 3}"); SEEDS=(${SEEDS[@]})
PAD=(${PAD:-})
N_TRAIN=${N_TRAIN:-2000}; EPOCHS=${EPOCHS:-4}; MAX_LEN=${MAX_LEN:-64}; LR=${LR:-1e-3}
OUT=runs/sst2
M=$S/models/stories260K
mkdir -p "$OUT"
head -n $((N_TRAIN + 1)) "$S/data/sst2/train.tsv" >"$OUT/train.tsv"
[ -f "$OUT/stories260K/config.json" ] || $FT convert --model "$M/stories260K.bin" --out "$OUT/stories260K" >/dev/null

common=(--tokenizer "$M/tok512.bin" --data "seq-cls:$OUT/train.tsv" --max-len "$MAX_LEN" --epochs "$EPOCHS" --batch 32
        --lr "$LR" --schedule cosine --warmup 20 --progress none "${PAD[@]}")
start=$(date +%s)
declare -A acc f1
for seed in "${SEEDS[@]}"; do
  for v in pretrained scratch; do
    case $v in
      pretrained) model=$M/stories260K.bin ;;
      scratch)    model=$OUT/stories260K/config.json ;;   # same config, seeded random init
    esac
    t0=$(date +%s)
    $FT train --model "$model" "${common[@]}" --seed "$seed" --out "$OUT/$v-$seed" >"$OUT/$v-$seed.log"
    j=$($FT eval --model "$OUT/$v-$seed/checkpoint.safetensors" --data "seq-cls:$S/data/sst2/dev.tsv" --max-len "$MAX_LEN" --json "${PAD[@]}")
    a=$(sed 's/.*"accuracy":\([0-9.e-]*\).*/\1/' <<<"$j"); f=$(sed 's/.*"macro_f1":\([0-9.e-]*\).*/\1/' <<<"$j")
    acc[$v]="${acc[$v]:-} $a"; f1[$v]="${f1[$v]:-} $f"
    echo "seed $seed  $v: dev accuracy $a, macro-F1 $f  ($(( $(date +%s) - t0 )) s)"
  done
done
awk -v pa="${acc[pretrained]}" -v sa="${acc[scratch]}" -v pf="${f1[pretrained]}" -v sf="${f1[scratch]}" -v n="$N_TRAIN" \
    -v e="$EPOCHS" -v L="$MAX_LEN" -v t="$(( $(date +%s) - start ))" '
function mean(x,  a, k, i, m) { k = split(x, a, " "); for (i = 1; i <= k; i++) m += a[i]; return k ? m / k : 0 }
BEGIN {
  printf "mean dev accuracy over seeds: pretrained %.2f%%, from scratch %.2f%%\n", 100*mean(pa), 100*mean(sa);
  printf "{\"example\": \"sst2\", \"model\": \"stories260K\", \"train_examples\": %d, \"epochs\": %d, \"max_len\": %d, \"seeds\": %d, \"pretrained_accuracy\": %.4f, \"scratch_accuracy\": %.4f, \"pretrained_macro_f1\": %.4f, \"scratch_macro_f1\": %.4f, \"seconds\": %d}\n", n, e, L, split(pa, tmp, " "), mean(pa), mean(sa), mean(pf), mean(sf), t;
}'
