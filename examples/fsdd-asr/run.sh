#!/usr/bin/env bash
# fsdd-asr: digit-string recognition with CTC on the Free Spoken Digit Dataset
# (../shared/data/fsdd, 8 kHz; index 0-4 of each speaker and digit is the test split).
# make_data.py joins 2-6 clips with short random silences and white noise (SNR 10-30 dB) into
# utterances "3 1 4": N_TRAIN strings from train clips only, N_TEST (>= 500) from test clips
# only, seeded. Two models, the same 2-layer bidirectional LSTM + linear layer over the
# character vocabulary (blank, space, 0-9), trained with the CTC loss (docs/speech.md):
#   pretrained  on openWakeWord's front end (../shared/models/openwakeword): its mel
#               spectrogram (preset=oww, 16 kHz: FSDD is resampled) and its frozen speech-
#               embedding network over 76-frame windows every 8 frames (--frontend; needs the
#               ONNX importer to load embedding_model.onnx), 53 x 96 features an utterance;
#   scratch     on log-mels (16 kHz, 20 ms hop, 40 mels, pairs of frames stacked), no
#               pretrained part.
# Eval: greedy decoding, corpus WER and CER on the test strings. Ends with one JSON line.
# Usage: examples/fsdd-asr/run.sh   (env N_TRAIN, N_TEST, EPOCHS, LR, BATCH, SEED)
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${FT_SHARED:-../shared}
if [ ! -d "$S/data/fsdd/recordings" ]; then echo "SKIP fsdd-asr example: $S/data/fsdd not found"; exit 0; fi
FT=${FT:-build/finetune}
[ -x "$FT" ] || make -s all
N_TRAIN=${N_TRAIN:-2000}; N_TEST=${N_TEST:-500}; EPOCHS=${EPOCHS:-30}; LR=${LR:-1e-2}; BATCH=${BATCH:-16}; SEED=${SEED:-1}
OUT=runs/fsdd-asr
D=$OUT/data
mkdir -p "$OUT"
if [ ! -f "$D/test.csv" ] || [ "$(($(wc -l <"$D/train.csv") - 1))" != "$N_TRAIN" ] || [ "$(($(wc -l <"$D/test.csv") - 1))" != "$N_TEST" ]; then
  rm -rf "$D"
  python3 examples/fsdd-asr/make_data.py "$S/data/fsdd/recordings" "$D" --train "$N_TRAIN" --test "$N_TEST" --seed "$SEED" --max-seconds 4.9
fi
# 4.98 s at 16 kHz with a 320-sample hop (centred frames): 250 frames of 40 log-mels.
FEAT="rate=16000:clip=4.98:pad=start:features=logmel:n_fft=640:hop=320:n_mels=40:fmax=4000:top_db=80:norm=utt:layout=tf"
# openWakeWord: 4.98 s -> 495 mel frames of 32 -> 53 embeddings of 96 (76-frame windows, hop 8).
OWW=$S/models/openwakeword/embedding_model.onnx
FEAT_OWW="rate=16000:clip=4.98:pad=start:preset=oww"
FRONT=(--frontend "$OWW" --frontend-window 76 --frontend-hop 8)
variants=(pretrained scratch)
if ! $FT info --model "$OWW" >/dev/null 2>&1; then
  echo "note: $OWW does not load ($($FT info --model "$OWW" 2>&1 | tail -1)); pretrained run skipped"
  variants=(scratch)
fi
start=$(date +%s)
declare -A wer cer
wer[pretrained]=null; cer[pretrained]=null
for v in "${variants[@]}"; do
  case $v in
    pretrained) model=examples/fsdd-asr/bilstm_oww.json; feat=$FEAT_OWW; extra=("${FRONT[@]}") ;;
    scratch)    model=examples/fsdd-asr/bilstm_logmel.json; feat=$FEAT; extra=() ;;
  esac
  $FT train --model "$model" "${extra[@]}" --data "ctc:wav-manifest:$D/train.csv:$feat" --epochs "$EPOCHS" --batch "$BATCH" \
      --lr "$LR" --schedule cosine --warmup 50 --clip 5 --seed "$SEED" --progress none --out "$OUT/$v" >"$OUT/$v.log"
  j=$($FT eval --model "$OUT/$v/checkpoint.safetensors" "${extra[@]}" --data "ctc:wav-manifest:$D/test.csv:$feat" --json)
  wer[$v]=$(printf '%s' "$j" | sed -n 's/.*"wer": \([0-9.e+-]*\).*/\1/p')
  cer[$v]=$(printf '%s' "$j" | sed -n 's/.*"cer": \([0-9.e+-]*\).*/\1/p')
  echo "$v: test WER ${wer[$v]}, CER ${cer[$v]} ($j)"
done
printf '{"example": "fsdd-asr", "n_train": %d, "n_test": %d, "epochs": %d, "pretrained_wer": %s, "pretrained_cer": %s, "scratch_wer": %s, "scratch_cer": %s, "seconds": %d}\n' \
  "$N_TRAIN" "$N_TEST" "$EPOCHS" "${wer[pretrained]}" "${cer[pretrained]}" "${wer[scratch]}" "${cer[scratch]}" $(($(date +%s) - start))
