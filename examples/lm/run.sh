#!/usr/bin/env bash
# Language-model fine-tuning on a new domain: stories260K (children's stories) on SST-2's movie-
# review sentences (../shared/data/sst2). The dev sentences' perplexity is measured before and
# after: every dev sentence is tokenised with BOS first, the sentences are packed into blocks of
# BLOCK tokens, and perplexity = exp(mean next-token cross-entropy over every token). Training
# uses the first N_TRAIN sentences of train.tsv (default 4000 of 67,349, to stay within minutes
# on 2 shared cores), packed the same way. Prints both numbers and one JSON line.
# Usage: examples/lm/run.sh   (env N_TRAIN, EPOCHS, BLOCK, LR, SEED)
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${FT_SHARED:-../shared}
if [ ! -f "$S/data/sst2/train.tsv" ] || [ ! -f "$S/models/stories260K/stories260K.bin" ]; then
  echo "SKIP lm example: $S/data/sst2 or $S/models/stories260K not found"; exit 0
fi
FT=${FT:-build/finetune}
[ -x "$FT" ] || make -s all
N_TRAIN=${N_TRAIN:-4000}; EPOCHS=${EPOCHS:-1}; BLOCK=${BLOCK:-128}; LR=${LR:-2e-3}; SEED=${SEED:-1}
OUT=runs/lm
M=$S/models/stories260K
DEV="lm:$S/data/sst2/dev.tsv"
mkdir -p "$OUT"
head -n $((N_TRAIN + 1)) "$S/data/sst2/train.tsv" >"$OUT/train.tsv"
start=$(date +%s)
ppl() { sed 's/.*"perplexity":\([0-9.e+-]*\).*/\1/'; }
before=$($FT eval --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$DEV" --max-len "$BLOCK" --json | ppl)
echo "dev perplexity before: $before"
$FT train --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "lm:$OUT/train.tsv" --max-len "$BLOCK" \
  --epochs "$EPOCHS" --batch 16 --lr "$LR" --schedule cosine --warmup 20 --seed "$SEED" --progress none --out "$OUT/run" >"$OUT/run.log"
after=$($FT eval --model "$OUT/run/checkpoint.safetensors" --data "$DEV" --max-len "$BLOCK" --json | ppl)
echo "dev perplexity after:  $after"
printf '{"example": "lm", "model": "stories260K", "train_sentences": %d, "epochs": %d, "block": %d, "dev_perplexity_before": %.4f, "dev_perplexity_after": %.4f, "seconds": %d}\n' \
  "$N_TRAIN" "$EPOCHS" "$BLOCK" "$before" "$after" "$(( $(date +%s) - start ))"
