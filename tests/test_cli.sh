#!/usr/bin/env bash
# CLI tests: help and usage errors (exit 2, one line naming the flag), library failures
# (exit 1, naming the file), docs/cli.md covering every flag, and a tiny end-to-end run
# (train -> eval -> predict -> info -> export -> train again from the export, frozen).
# Usage: tests/test_cli.sh <build dir>   (the CLI is <build>/finetune)
# Prints "N passed, N failed"; exit status 1 on any failure.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
F="$(cd "$build" 2>/dev/null && pwd)/finetune"
if [ ! -x "$F" ]; then echo "FAIL: no CLI binary at $build/finetune"; echo "0 passed, 1 failed"; exit 1; fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ft_cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

# run ARGS...: runs the CLI, leaving $rc, $tmp/out and $tmp/err.
run() { "$F" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
show_err() { sed 's/^/    stderr: /' "$tmp/err" | head -5; }
# expect WANT_RC ARGS...
expect() {
  local want=$1; shift
  run "$@"
  if [ "$rc" -eq "$want" ]; then ok; else bad "finetune $* -> exit $rc, want $want"; show_err; fi
}
# err_has TEXT: the last command's stderr contains TEXT
err_has() { if grep -qF -- "$1" "$tmp/err"; then ok; else bad "stderr lacks '$1'"; show_err; fi; }
out_has() { if grep -qF -- "$1" "$tmp/out"; then ok; else bad "stdout lacks '$1'"; sed 's/^/    stdout: /' "$tmp/out" | head -5; fi; }
# one_line: stderr is exactly one line (usage errors)
err_one_line() { local n; n=$(wc -l <"$tmp/err"); if [ "$n" -eq 1 ]; then ok; else bad "stderr has $n lines, want 1"; show_err; fi; }
file_exists() { if [ -s "$1" ]; then ok; else bad "missing or empty: $1"; fi; }

# ---- help and version ----
for cmd in train eval predict info export generate; do
  expect 0 "$cmd" --help
  out_has "Usage: finetune $cmd"
  out_has "--model"
  expect 0 "$cmd" -h
done
expect 0 --help
for cmd in train eval predict info export generate; do out_has "$cmd"; done
expect 0 --version
out_has "finetune "
expect 2                     # no command
expect 2 frobnicate
err_has "frobnicate"

# ---- docs/cli.md documents every flag of every command ----
doc="$here/../docs/cli.md"
if [ -f "$doc" ]; then
  for cmd in train eval predict info export generate; do
    for flag in $("$F" "$cmd" --help | grep -oE '^  --[a-z0-9-]+' | sed 's/^  //'); do
      if grep -qF -- "$flag" "$doc"; then ok; else bad "docs/cli.md does not mention $cmd $flag"; fi
    done
  done
else
  echo "SKIP docs check: $doc not found"
fi

# ---- usage errors: exit 2, one line, naming the flag ----
touch "$tmp/m.json"
base=(--model "$tmp/m.json" --data "csv:$tmp/d.csv" --out "$tmp/r")
expect 2 train "${base[@]}" --bogus 1;        err_has "--bogus"; err_one_line; err_has "finetune train --help"
expect 2 train --data x --out y --model;      err_has "--model"; err_one_line
expect 2 train "${base[@]}" --lr abc;         err_has "--lr"; err_one_line
expect 2 train "${base[@]}" --lr -1;          err_has "--lr"; err_one_line
expect 2 train "${base[@]}" --lr=0;           err_has "--lr"
expect 2 train "${base[@]}" --epochs 0;       err_has "--epochs"; err_one_line
expect 2 train "${base[@]}" --epochs 2.5;     err_has "--epochs"
expect 2 train "${base[@]}" --batch 0;        err_has "--batch"
expect 2 train "${base[@]}" --label-smoothing 1; err_has "--label-smoothing"
expect 2 train "${base[@]}" --optimizer rmsprop; err_has "--optimizer"
expect 2 train "${base[@]}" --val-split 1.5;  err_has "--val-split"
expect 2 train --data x --out y;              err_has "--model"
expect 2 train "${base[@]}" stray;            err_has "stray"
expect 2 eval --model x --data y --batch -3;  err_has "--batch"; err_one_line
expect 2 predict --model x --data y --top-k 0; err_has "--top-k"
expect 2 info;                                err_has "--model"
expect 2 export --model x;                    err_has "--out"
expect 2 export --model x --out y --format tflite; err_has "--format"; err_one_line
expect 2 export --model x --out y --batch 2;  err_has "--format onnx"; err_one_line
expect 2 export --model x --out y --format onnx --opset 9; err_has "--opset"
echo '{"epochs": 2, "bogus_key": 1}' >"$tmp/cfg.json"
expect 2 train "${base[@]}" --config "$tmp/cfg.json"; err_has "bogus_key"
echo '{"lr": "fast"}' >"$tmp/cfg.json"
expect 2 train "${base[@]}" --config "$tmp/cfg.json"; err_has "lr"

# ---- library failures: exit 1, naming the file ----
expect 1 train --model "$tmp/no_such_model.json" --data "csv:$tmp/d.csv" --out "$tmp/r"
err_has "no_such_model.json"; err_has "finetune: "
expect 1 eval --model "$tmp/no_such_dir" --data "csv:$tmp/d.csv"; err_has "no_such_dir"

# ---- end to end on a tiny linearly separable CSV: 4 features, 3 classes ----
awk 'BEGIN { srand(7); print "f0,f1,f2,f3,label";
  for (i = 0; i < 200; i++) { c = i % 3;
    printf "%.4f,%.4f,%.4f,%.4f,%d\n", (c == 0 ? 2 : -1) + rand() * 0.6, (c == 1 ? 2 : -1) + rand() * 0.6,
           (c == 2 ? 2 : -1) + rand() * 0.6, rand() - 0.5, c } }' >"$tmp/d.csv"
echo '{"arch":"mlp","in_features":4,"hidden":[16],"n_classes":3}' >"$tmp/mlp.json"
: >"$tmp/file"
expect 1 train --model "$tmp/mlp.json" --data "csv:$tmp/d.csv" --out "$tmp/file/run"
err_has "$tmp/file/run"
expect 1 train --model "$tmp/mlp.json" --data "csv:$tmp/nope.csv" --out "$tmp/r0" --progress none
err_has "nope.csv"
expect 1 train --model "$tmp/mlp.json" --data "csv:$tmp/d.csv" --out "$tmp/r0" --train 'nosuch.*' --progress none
err_has "nosuch.*"

common=(--threads 2 --workers 1 --progress none --seed 3)
expect 0 train --model "$tmp/mlp.json" --data "csv:$tmp/d.csv" --val-split 0.1 --out "$tmp/run" \
  --epochs 3 --batch 16 --lr 0.02 "${common[@]}"
out_has "mlp"; out_has "$tmp/run"
file_exists "$tmp/run/checkpoint.safetensors"
file_exists "$tmp/run/metrics.jsonl"

ckpt="$tmp/run/checkpoint.safetensors"
expect 0 eval --model "$ckpt" --data "csv:$tmp/d.csv"
out_has "accuracy"; out_has "precision"; out_has "confusion"
expect 0 eval --model "$ckpt" --data "csv:$tmp/d.csv" --json
n=$(wc -l <"$tmp/out")
if [ "$n" -eq 1 ] && head -c1 "$tmp/out" | grep -q '{'; then ok; else bad "eval --json: want one JSON line, got $n lines"; fi
for key in loss accuracy top5 n per_class confusion precision recall f1 support; do out_has "\"$key\""; done
acc=$(sed -n 's/.*"accuracy": *\([0-9.eE+-]*\).*/\1/p' "$tmp/out")
if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a > 0.8) }'; then ok; else bad "eval accuracy '$acc' not > 0.8"; fi

# Keyword spotting metrics: classes 0 and 1 as keywords, 20 noise rows as clips without one.
awk 'BEGIN { srand(11); print "f0,f1,f2,f3,label";
  for (i = 0; i < 20; i++) printf "%.4f,%.4f,%.4f,%.4f,0\n", rand() - 0.5, rand() - 0.5, rand() - 0.5, rand() - 0.5 }' >"$tmp/neg.csv"
expect 0 eval --model "$ckpt" --data "csv:$tmp/d.csv" --threshold 0.6 --keywords 0,1 --negatives "csv:$tmp/neg.csv" \
  --report "$tmp/krun" --json
n=$(wc -l <"$tmp/out"); [ "$n" -eq 1 ] && ok || bad "eval --kws --json: want one JSON line, got $n"
for key in '"kws":' '"threshold":0.6' '"n":220' '"n_none":20' '"mean_frr"' '"mean_far"' '"eer"' '"false_accepts"'; do out_has "$key"; done
n=$(grep -o '"positives"' "$tmp/out" | wc -l); [ "$n" -eq 2 ] && ok || bad "eval --keywords 0,1: $n keywords in the JSON, want 2"
file_exists "$tmp/krun/det.svg"
grep -qF "Keyword spotting" "$tmp/krun/eval.html" && ok || bad "eval.html lacks the keyword-spotting section"
expect 0 eval --model "$ckpt" --data "csv:$tmp/d.csv" --kws
out_has "keyword spotting at threshold 0.5"; out_has "EER"
expect 1 eval --model "$ckpt" --data "csv:$tmp/d.csv" --keywords 0,nosuch; err_has "nosuch"
expect 1 eval --model "$ckpt" --data "csv:$tmp/d.csv" --negatives "csv:$tmp/nope.csv"; err_has "nope.csv"
expect 2 eval --model "$ckpt" --data "csv:$tmp/d.csv" --threshold 1.5; err_has "--threshold"

expect 0 predict --model "$ckpt" --data "csv:$tmp/d.csv" --limit 5 --top-k 2
n=$(grep -c '^#' "$tmp/out"); [ "$n" -eq 5 ] && ok || bad "predict --limit 5 printed $n examples"
expect 0 predict --model "$ckpt" --data "csv:$tmp/d.csv" --limit 3 --json
n=$(grep -c '"top"' "$tmp/out"); [ "$n" -eq 3 ] && ok || bad "predict --json printed $n lines, want 3"

expect 0 info --model "$ckpt"
out_has "mlp"; out_has "head.weight"; out_has "trainable"; out_has "in_features"
expect 0 info --model "$tmp/mlp.json" --freeze 'layers.*'
out_has "no"

expect 0 export --model "$ckpt" --format onnx --out "$tmp/mlp.onnx"
file_exists "$tmp/mlp.onnx"; out_has "ONNX, dynamic batch"
expect 1 export --model "$ckpt" --format onnx --out "$tmp/no/such/dir/m.onnx"; err_has "m.onnx"
# the ONNX file is a model too: fine-tune it with the same globs, export it again, evaluate that
expect 0 train --model "$tmp/mlp.onnx" --data "csv:$tmp/d.csv" --out "$tmp/run_onnx" --epochs 1 --freeze 'layers.*' "${common[@]}"
out_has "51 trainable"
expect 0 export --model "$tmp/run_onnx/checkpoint.safetensors" --format onnx --out "$tmp/mlp2.onnx"
expect 0 eval --model "$tmp/mlp2.onnx" --data "csv:$tmp/d.csv" --json
out_has '"accuracy"'
# cut the ONNX model at a named tensor (the hidden layer's relu: the exporter names unnamed
# nodes <op>_<id>) and train a new head there
expect 0 convert --model "$tmp/mlp.onnx" --cut relu_4 --out "$tmp/mlp_cut"
file_exists "$tmp/mlp_cut/config.json"
expect 0 train --model "$tmp/mlp_cut" --data "csv:$tmp/d.csv" --out "$tmp/run_cut" --epochs 1 --new-head 3 --train 'head.*' "${common[@]}"
out_has "51 trainable"
expect 1 convert --model "$tmp/mlp.onnx" --cut no_such_tensor --out "$tmp/mlp_cut2"; err_has "no_such_tensor"
# --bind NAME=V[,V...]: an extra graph input bound to numbers (ONNX's Add node test: y [3,4,5])
addm=/usr/share/libonnx-testdata/data/node/test_add/model.onnx
if [ -r "$addm" ]; then
  expect 0 convert --model "$addm" --bind y=0.5 --out "$tmp/add_bound"
  file_exists "$tmp/add_bound/config.json"
  expect 2 convert --model "$addm" --bind y --out "$tmp/add_bad"; err_has "NAME=V"
  expect 2 convert --model "$addm" --bind y=1,x --out "$tmp/add_bad"; err_has "not a number"
  expect 1 convert --model "$addm" --bind y=1,2 --out "$tmp/add_bad"; err_has "2 values bound to input 'y'"
  expect 1 convert --model "$addm" --bind w=1 --out "$tmp/add_bad"; err_has "'w' is not a graph input"
  expect 2 convert --model "$ckpt" --bind y=1 --out "$tmp/add_bad"; err_has "apply to ONNX models"
else
  echo "SKIP convert --bind: libonnx-testdata is absent"
fi
expect 0 export --model "$ckpt" --out "$tmp/exp"
file_exists "$tmp/exp/config.json"
file_exists "$tmp/exp/model.safetensors"
expect 0 eval --model "$tmp/exp" --data "csv:$tmp/d.csv" --json
acc2=$(sed -n 's/.*"accuracy": *\([0-9.eE+-]*\).*/\1/p' "$tmp/out")
[ "$acc2" = "$acc" ] && ok || bad "exported model accuracy $acc2 differs from the checkpoint's $acc"

expect 0 train --model "$tmp/exp" --data "csv:$tmp/d.csv" --out "$tmp/run2" --epochs 1 --freeze 'layers.*' "${common[@]}"
out_has "51 trainable"   # 4-16-3 MLP: only the head (48 + 3) trains
file_exists "$tmp/run2/checkpoint.safetensors"
# Config file + command-line override, discriminative LR, a new head.
echo '{"epochs": 5, "lr": 0.01, "optimizer": "sgd", "momentum": 0.9, "batch": 32}' >"$tmp/cfg.json"
expect 0 train --model "$tmp/exp" --data "csv:$tmp/d.csv" --out "$tmp/run3" --config "$tmp/cfg.json" \
  --epochs 1 --head-lr-scale 10 --new-head 4 "${common[@]}"
out_has "1 epoch"; out_has "sgd"; out_has "4 classes"
# Resume the first run for one more epoch.
expect 0 train --model "$tmp/mlp.json" --data "csv:$tmp/d.csv" --val-split 0.1 --out "$tmp/run" \
  --epochs 4 --batch 16 --lr 0.02 "${common[@]}" --resume "$ckpt"

# ---- audio: train on wav: clips records the front end; predict on recordings and --stream ----
le() { local v=$1 n=$2 k; for ((k = 0; k < n; k++)); do printf "\\$(printf %03o $(( (v >> (8 * k)) & 255 )))"; done; }
# tone FILE HZ SECONDS [SILENCE_BEFORE]: 16-bit PCM at 8 kHz
tone() {
  local n=$(awk -v s="$3" -v p="${4:-0}" 'BEGIN { print int((s + p) * 8000) }')
  { printf RIFF; le $((36 + 2 * n)) 4; printf 'WAVEfmt '; le 16 4; le 1 2; le 1 2; le 8000 4; le 16000 4; le 2 2; le 16 2
    printf data; le $((2 * n)) 4
    LC_ALL=C awk -v f="$2" -v n="$n" -v p="${4:-0}" 'BEGIN { for (i = 0; i < n; i++) { t = i / 8000;
      v = t < p ? 0 : int(12000 * sin(6.283185307 * f * t)); if (v < 0) v += 65536; printf "%c%c", v % 256, int(v / 256) } }'; } >"$1"
}
mkdir -p "$tmp/tones/lo" "$tmp/tones/hi"
for k in 1 2 3 4; do tone "$tmp/tones/lo/$k.wav" 500 0.3; tone "$tmp/tones/hi/$k.wav" 1250 0.3; done
tone "$tmp/long.wav" 1250 1.0 1.5
cat >"$tmp/tone.json" <<'JSON'
{"arch":"graph","input":{"shape":[1,1,4000]},
 "params":[{"name":"conv.weight","shape":[4,1,1,64]},{"name":"head.weight","shape":[2,4]},{"name":"head.bias","shape":[2]}],
 "nodes":[{"name":"conv","op":"conv2d","inputs":["input"],"params":["conv.weight"]},
  {"name":"sq","op":"mul","inputs":["conv","conv"]},{"name":"energy","op":"global_avg_pool","inputs":["sq"]},
  {"name":"head","op":"linear","inputs":["energy"],"params":["head.weight","head.bias"]}],
 "output":"head","head":{"node":"head","params":["head.weight","head.bias"]}}
JSON
expect 0 train --model "$tmp/tone.json" --data "wav:$tmp/tones:rate=8000:clip=0.5:features=wave" --out "$tmp/arun" \
  --epochs 2 --batch 4 "${common[@]}"
expect 0 info --model "$tmp/arun/checkpoint.safetensors"
out_has '"audio": "rate=8000:clip=0.5:features=wave:clip=0.5"'
expect 0 predict --model "$tmp/arun/checkpoint.safetensors" "$tmp/tones/lo/1.wav" "$tmp/tones/hi/1.wav" --top-k 1
out_has "lo/1.wav ->"; out_has "predicted 2 recordings"
expect 0 predict --model "$tmp/arun/checkpoint.safetensors" --stream "$tmp/long.wav" --hop-ms 100 --threshold 0.5 --json
n=$(grep -c '"keyword"' "$tmp/out"); [ "$n" -le 2 ] && ok || bad "predict --stream: $n detections of one tone"
err_has "2.50 s at 8000 Hz, 21 windows of 500 ms every 100 ms"
expect 0 predict --model "$tmp/arun/checkpoint.safetensors" --stream "$tmp/long.wav" --window-ms 300 --keywords hi
out_has "windows of 300 ms"
expect 2 predict --model "$tmp/arun/checkpoint.safetensors" "$tmp/long.wav" --hop-ms 100; err_has "--stream"
expect 2 predict --model "$tmp/arun/checkpoint.safetensors" --stream "$tmp/long.wav" --data x; err_has "--stream"
expect 1 predict --model "$tmp/arun/checkpoint.safetensors" --stream "$tmp/nope.wav"; err_has "nope.wav"
expect 1 predict --model "$tmp/arun/checkpoint.safetensors" --stream "$tmp/long.wav" --audio rate=8000:clip=0.4:features=wave
err_has "the model takes 4000"
expect 1 predict --model "$ckpt" --stream "$tmp/long.wav"; err_has "preprocess.audio"

# ---- images: eval --report (confusion PNG), predict on files and folders, bad inputs ----
# Tiny one-colour 24-bit BMPs written here (no image tools needed): class "red" and
# class "blue", 8x8 and one 5x3 (smaller than the model's 8x8 crop).
le32() { local v=$1; printf "\\x$(printf %02x $((v&255)))\\x$(printf %02x $(((v>>8)&255)))\\x$(printf %02x $(((v>>16)&255)))\\x$(printf %02x $(((v>>24)&255)))"; }
le16() { local v=$1; printf "\\x$(printf %02x $((v&255)))\\x$(printf %02x $(((v>>8)&255)))"; }
mkbmp() { # W H R G B PATH
  local w=$1 h=$2 r=$3 g=$4 b=$5 out=$6 row pad y x px
  row=$(( (3*w + 3) / 4 * 4 )); pad=$(( row - 3*w ))
  px="\\x$(printf %02x "$b")\\x$(printf %02x "$g")\\x$(printf %02x "$r")"
  { printf 'BM'; le32 $((54 + row*h)); le32 0; le32 54; le32 40; le32 "$w"; le32 "$h"; le16 1; le16 24; le32 0
    le32 $((row*h)); le32 2835; le32 2835; le32 0; le32 0
    for ((y = 0; y < h; y++)); do for ((x = 0; x < w; x++)); do printf "$px"; done
      for ((x = 0; x < pad; x++)); do printf '\x00'; done; done; } >"$out"
}
im="$tmp/img"; mkdir -p "$im/red" "$im/blue" "$im/blue/more"
for i in 0 1 2 3 4 5; do
  mkbmp 8 8 $((200 + i * 9)) $((i * 5)) 10 "$im/red/r$i.bmp"
  mkbmp 8 8 10 $((i * 5)) $((200 + i * 9)) "$im/blue/b$i.bmp"
done
mkbmp 5 3 250 0 0 "$im/red/small.bmp"        # smaller than the crop: resized up, used
echo '{"arch":"mlp","input_shape":[3,8,8],"hidden":[8],"n_classes":2}' >"$tmp/imlp.json"
expect 0 train --model "$tmp/imlp.json" --data "images:$im:8:8" --out "$tmp/irun" --epochs 12 --batch 4 --lr 0.05 "${common[@]}"
ick="$tmp/irun/checkpoint.safetensors"
# eval --report: eval.html + confusion.png (a PNG of 2 classes x 48 px = 96 x 96)
expect 0 eval --model "$ick" --data "images:$im:8:8" --report "$tmp/irun"
out_has "report:"; out_has "confusion.png"
file_exists "$tmp/irun/eval.html"; file_exists "$tmp/irun/confusion.png"
sig=$(head -c 8 "$tmp/irun/confusion.png" | od -An -tx1 | tr -d ' \n')
[ "$sig" = "89504e470d0a1a0a" ] && ok || bad "confusion.png has no PNG signature ($sig)"
wh=$(od -An -tu1 -j16 -N8 "$tmp/irun/confusion.png" | awk '{ print ($1*16777216+$2*65536+$3*256+$4) "x" ($5*16777216+$6*65536+$7*256+$8) }')
[ "$wh" = "96x96" ] && ok || bad "confusion.png is $wh, want 96x96"
grep -qF "<img src='confusion.png'" "$tmp/irun/eval.html" && ok || bad "eval.html does not show confusion.png"
grep -qF ">blue<" "$tmp/irun/eval.html" && grep -qF ">red<" "$tmp/irun/eval.html" && ok || bad "eval.html lacks the class names"
expect 0 eval --model "$ick" --data "images:$im:8:8" --json --report "$tmp/irun/r2"
n=$(wc -l <"$tmp/out"); [ "$n" -eq 1 ] && ok || bad "eval --json --report: want one JSON line on stdout, got $n"
file_exists "$tmp/irun/r2/confusion.png"
expect 1 eval --model "$ick" --data "images:$im:8:8" --report "$tmp/file/rep"; err_has "$tmp/file"

# predict on files: the model's own class names (stored by train), top-k, probabilities
expect 0 predict --model "$ick" "$im/red/r1.bmp" "$im/blue/b2.bmp" --top-k 1
out_has "$im/red/r1.bmp -> red "; out_has "$im/blue/b2.bmp -> blue "; out_has "predicted 2 images; skipped 0"
expect 0 predict --model "$ick" "$im/red/r0.bmp"          # default top-k 5, capped at the 2 classes
out_has "red"; out_has "blue"
p=$(sed -n 's/.*-> [a-z]* \([0-9.]*\), [a-z]* \([0-9.]*\)$/\1 \2/p' "$tmp/out")
if [ -n "$p" ] && awk -v p="$p" 'BEGIN { split(p, a, " "); s = a[1] + a[2]; exit !(s > 0.999 && s < 1.001 && a[1] >= a[2]) }'; then ok
else bad "predict probabilities '$p' do not sum to 1 in descending order"; fi
# a folder: its own files only, unless --recursive (blue/more/ holds one more image)
mkbmp 8 8 0 0 255 "$im/blue/more/deep.bmp"
expect 0 predict --model "$ick" "$im/blue" --json --top-k 2
n=$(grep -c '"file"' "$tmp/out"); [ "$n" -eq 6 ] && ok || bad "predict on a folder gave $n images, want 6"
expect 0 predict --model "$ick" "$im/blue" --recursive --json
n=$(grep -c '"file"' "$tmp/out"); [ "$n" -eq 7 ] && ok || bad "predict --recursive gave $n images, want 7"
grep -qF "deep.bmp" "$tmp/out" && ok || bad "predict --recursive missed blue/more/deep.bmp"
# bad files: a truncated BMP, a text file named .jpg, a missing path: named, skipped, counted
head -c 100 "$im/red/r2.bmp" >"$tmp/cut.bmp"
echo "not an image" >"$tmp/text.jpg"
expect 0 predict --model "$ick" "$tmp/cut.bmp" "$im/red/r3.bmp" "$tmp/text.jpg" "$tmp/missing.png"
err_has "$tmp/cut.bmp"; err_has "$tmp/text.jpg"; err_has "$tmp/missing.png"
out_has "predicted 1 image; skipped 3 unreadable"
expect 1 predict --model "$ick" "$im/red/r3.bmp" "$tmp/text.jpg" --on-error stop; err_has "$tmp/text.jpg"
expect 1 predict --model "$ick" "$tmp/text.jpg"; err_has "no image could be predicted"
expect 2 predict --model "$ick";                 err_has "--data"
expect 2 predict --model "$ick" --data "images:$im:8:8" "$im/red/r1.bmp"; err_has "not both"
expect 2 predict --model "$ick" "$im/red" --on-error maybe; err_has "--on-error"
expect 1 predict --model "$ckpt" "$im/red/r1.bmp"; err_has "[3, H, W]"  # the CSV model takes [4]
# the dataset path with --on-error: skip counts the bad file, stop names it
cp "$tmp/text.jpg" "$im/red/zz_text.jpg"
expect 0 predict --model "$ick" --data "images:$im:8:8" --limit 2
expect 1 predict --model "$ick" --data "images:$im:8:8" --on-error stop; err_has "zz_text.jpg"
rm -f "$im/red/zz_text.jpg"
# an empty class folder: a clear error naming it
mkdir -p "$im/green"
expect 1 eval --model "$ick" --data "images:$im:8:8"; err_has "green"
rmdir "$im/green"

# --frozen-bn / --image-size on a model they cannot apply to: a clear error naming why
expect 1 train --model "$tmp/imlp.json" --data "images:$im:8:8" --out "$tmp/irun_bn" --frozen-bn "${common[@]}"
err_has "batch norm"
expect 1 train --model "$tmp/imlp.json" --data "images:$im" --out "$tmp/irun_sz" --image-size 12 "${common[@]}"
err_has "layers.0.weight"
expect 2 train --model "$tmp/imlp.json" --data "images:$im" --out "$tmp/irun_sz" --image-size 0; err_has "--image-size"

# ---- a model whose weights do not match its topology: a clear error, never a crash ----
expect 0 export --model "$ick" --out "$tmp/iexp"
cp -r "$tmp/iexp" "$tmp/iexp_bad"
echo '{"arch":"mlp","input_shape":[3,8,8],"hidden":[16],"n_classes":2}' >"$tmp/iexp_bad/config.json"
expect 1 eval --model "$tmp/iexp_bad" --data "images:$im:8:8"; err_has "iexp_bad"; err_has "shape"
expect 1 predict --model "$tmp/iexp_bad" "$im/red/r1.bmp"; err_has "iexp_bad"
cp -r "$tmp/iexp" "$tmp/iexp_cut"
head -c 300 "$tmp/iexp/model.safetensors" >"$tmp/iexp_cut/model.safetensors"
expect 1 eval --model "$tmp/iexp_cut" --data "images:$im:8:8"; err_has "model.safetensors"

# Ctrl-C: SIGINT mid-training finishes the step, writes a resumable checkpoint, exits 130.
awk 'BEGIN { srand(3); print "f0,f1,f2,f3,label";
  for (i = 0; i < 4000; i++) { c = i % 3; printf "%.3f,%.3f,%.3f,%.3f,%d\n", rand()+c, rand(), rand()-c, rand(), c } }' >"$tmp/big.csv"
"$F" train --model "$tmp/mlp.json" --data "csv:$tmp/big.csv" --out "$tmp/int" --epochs 100000 --batch 1 \
  --progress none >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/int/metrics.jsonl" ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"; rc=$?
[ "$rc" -eq 130 ] && ok || { bad "SIGINT during train -> exit $rc, want 130"; show_err; }
err_has "--resume"
file_exists "$tmp/int/checkpoint.safetensors"
expect 0 eval --model "$tmp/int/checkpoint.safetensors" --data "csv:$tmp/d.csv" --json
# The checkpoint resumes (stopping again right away via --max-steps at the next step).
step=$(sed -n 's/.*"step": \([0-9]*\).*/\1/p' "$tmp/int/metrics.jsonl" | tail -1)
expect 0 train --model "$tmp/mlp.json" --data "csv:$tmp/big.csv" --out "$tmp/int" --epochs 100000 --batch 1 \
  --progress none --resume "$tmp/int/checkpoint.safetensors" --max-steps $((step + 5))

# ---- generate (a tiny llama2.c checkpoint from the fuzz corpus: vocab 10, 4 positions) ----
l2c="$here/../fuzz/corpus/llama2c/valid_shared.bin"
expect 0 generate --model "$l2c" --temperature 0 --max-tokens 3
greedy=$(cat "$tmp/out")
if [ "$(echo "$greedy" | wc -w)" -eq 3 ]; then ok; else bad "generate: want 3 ids, got '$greedy'"; fi
expect 0 generate --model "$l2c" --temperature 0.9 --top-k 5 --top-p 0.8 --seed 4 --max-tokens 3
s1=$(cat "$tmp/out")
expect 0 generate --model "$l2c" --temperature 0.9 --top-k 5 --top-p 0.8 --seed 4 --max-tokens 3
[ "$s1" = "$(cat "$tmp/out")" ] && ok || bad "generate: same seed, different tokens"
expect 0 convert --model "$l2c" --out "$tmp/l2c"
out_has "architecture llama"
expect 0 generate --model "$tmp/l2c" --temperature 0 --max-tokens 3
[ "$greedy" = "$(cat "$tmp/out")" ] && ok || bad "generate from the converted directory differs"
expect 2 generate --model "$l2c" --prompt "Once upon"
err_has "--prompt-ids"; err_one_line
expect 2 generate --model "$l2c" --prompt-ids "1,,x"
expect 2 generate --model "$l2c" --top-p 0
expect 1 generate --model "$l2c" --prompt-ids 1,10
err_has "outside the vocabulary"
head -c 1000 "$l2c" >"$tmp/cut.bin"
expect 1 generate --model "$tmp/cut.bin"
err_has "truncated"; err_has "cut.bin"
expect 2 generate --model "$l2c" --prompt "a" --prompt-ids 1
# With the real stories260K and its tokenizer: llama2.c's greedy text, and a text prompt.
S="$here/../../shared/models/stories260K"
if [ -f "$S/stories260K.bin" ]; then
  expect 0 generate --model "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --temperature 0 --max-tokens 40 --stop-id 1
  out_has "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
  expect 0 generate --model "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --prompt "Once upon a time, a dragon" \
    --temperature 0 --max-tokens 20
  out_has "Once upon a time, a dragon went to the park with his mom."
  expect 1 generate --model "$l2c" --tokenizer "$S/tok512.bin" --prompt "hi"
  err_has "tokenizer has 512 tokens"
else
  echo "SKIP generate with stories260K: $S not found"
fi

# ---- text tasks: a tiny Llama over a 28-token WordPiece vocabulary ----
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\non\nmat\ngood\nbad\nfilm\n,\n.\n!\nvery\n##s\nun\n##fun\neu\nrejects\ngerman\ncall\npeter\nblack\n##burn\nx\n' >"$tmp/vocab.txt"
printf '{"arch": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 28, "max_position_embeddings": 32, "tie_word_embeddings": true}\n' >"$tmp/llama.json"
printf 'label\tsentence\npos\tgood film\nneg\tbad film\npos\tvery good\nneg\tvery bad\n' >"$tmp/sst.tsv"
printf 'label\tsentence\npos\tgood\nmeh\tfilm\n' >"$tmp/unseen.tsv"
tt=(--model "$tmp/llama.json" --tokenizer "$tmp/vocab.txt" --batch 2 --progress none)
expect 0 train "${tt[@]}" --data "seq-cls:$tmp/sst.tsv" --val "seq-cls:$tmp/sst.tsv" --epochs 2 --out "$tmp/seq"
out_has "task seq-cls"; out_has "2 classes"
file_exists "$tmp/seq/best.safetensors"
grep -q '"val_macro_f1"' "$tmp/seq/metrics.jsonl" && ok || bad "metrics.jsonl lacks val_macro_f1"
expect 0 eval --model "$tmp/seq/best.safetensors" --data "seq-cls:$tmp/sst.tsv" --json   # tokenizer remembered
out_has '"task":"seq-cls"'; out_has '"macro_f1"'
expect 1 eval --model "$tmp/seq/best.safetensors" --data "seq-cls:$tmp/unseen.tsv"
err_has "unseen.tsv:3: label 'meh' was not seen in training"
expect 1 train "${tt[@]}" --data "seq-cls:$tmp/sst.tsv" --val "seq-cls:$tmp/unseen.tsv" --out "$tmp/seq2"
err_has "unseen.tsv:3"
printf 'label\tsentence\npos\tgood\nbad film\n' >"$tmp/nolabel.tsv"
expect 1 train "${tt[@]}" --data "seq-cls:$tmp/nolabel.tsv" --out "$tmp/seq3"
err_has "nolabel.tsv:3: row has no label"
expect 1 train --model "$tmp/llama.json" --data "seq-cls:$tmp/sst.tsv" --out "$tmp/seq4"
err_has "--tokenizer"
expect 2 train "${tt[@]}" --data "seq-cls:$tmp/sst.tsv" --out "$tmp/seq5" --task ner
printf 'peter###B-PER sat###O\neu###B-ORG rejects###O german###B-MISC\n' >"$tmp/ner.txt"
expect 0 train "${tt[@]}" --data "$tmp/ner.txt" --task token-cls --val "token-cls:$tmp/ner.txt" --bidirectional --epochs 1 --out "$tmp/ner"
out_has "bidirectional attention"
expect 0 eval --model "$tmp/ner/checkpoint.safetensors" --data "token-cls:$tmp/ner.txt" --json
out_has '"entity_f1"'; out_has '"per_type"'
# padding: per batch by default (and reported), --pad-to-dataset, --group-by-length; rows longer than
# the model's 32 positions are cut at 32 (--max-len is capped), never an error or a crash
{ printf 'label\tsentence\npos\tgood\nneg\tbad\n'; printf 'pos\t'; for i in $(seq 40); do printf 'good '; done; printf '\n'; } >"$tmp/long.tsv"
tt1=(--model "$tmp/llama.json" --tokenizer "$tmp/vocab.txt" --batch 1 --progress none)
expect 0 train "${tt1[@]}" --data "seq-cls:$tmp/long.tsv" --max-len 100 --epochs 1 --out "$tmp/pad1"
out_has "1 of 3 examples truncated to 32 tokens"; out_has "batches padded to their longest row, rounded up to a multiple of 8"
out_has "20.8% of the 48 positions computed were padding"   # rows of 3, 3 and 32 tokens -> 8, 8, 32
expect 0 train "${tt1[@]}" --data "seq-cls:$tmp/long.tsv" --max-len 100 --epochs 1 --pad-to-dataset --out "$tmp/pad2"
out_has "batches padded to 32 tokens"; out_has "60.4% of the 96 positions computed were padding"
expect 0 train "${tt1[@]}" --data "seq-cls:$tmp/long.tsv" --epochs 1 --group-by-length --pad-multiple 1 --out "$tmp/pad3"
out_has "rows grouped by length"; out_has "0.0% of the 38 positions computed were padding"
expect 2 train "${tt1[@]}" --data "seq-cls:$tmp/long.tsv" --pad-multiple 0 --out "$tmp/pad4"
expect 0 eval --model "$tmp/pad1/checkpoint.safetensors" --data "seq-cls:$tmp/long.tsv" --max-len 100 --json --batch 1
l1=$(sed 's/.*"loss":\([0-9.e+-]*\).*/\1/' "$tmp/out")
expect 0 eval --model "$tmp/pad1/checkpoint.safetensors" --data "seq-cls:$tmp/long.tsv" --max-len 100 --json --pad-to-dataset --batch 3
l2=$(sed 's/.*"loss":\([0-9.e+-]*\).*/\1/' "$tmp/out")
awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * (a < 0 ? -a : a) + 1e-7) }' && ok || bad "eval loss padded per batch $l1 vs to the dataset $l2"
printf 'the cat sat on the mat\nvery good film\n' >"$tmp/lm.txt"
expect 0 train "${tt[@]}" --data "lm:$tmp/lm.txt" --max-len 8 --epochs 1 --out "$tmp/lm"
expect 0 eval --model "$tmp/lm/checkpoint.safetensors" --data "lm:$tmp/lm.txt" --max-len 8 --json
out_has '"perplexity"'

# ---- speech recognition (CTC): a features CSV whose integer labels are digit transcripts ----
awk 'BEGIN { srand(3); for (i = 0; i < 60; i++) { n = int(rand() * 90) + 10; s = "";
  for (t = 0; t < 8; t++) for (d = 0; d < 11; d++) {
    c = (t == 1 || t == 2) ? int(n / 10) : (t == 4 || t == 5) ? n % 10 : 10;
    s = s sprintf("%.3f,", (d == c) ? 1 : 0) }
  print s n } }' >"$tmp/ctc.csv"
cat >"$tmp/ctc.json" <<'JSON'
{"arch": "graph", "input": {"shape": [8, 11]}, "sequence_output": true,
 "params": [{"name": "fc.weight", "shape": [3, 11]}, {"name": "fc.bias", "shape": [3]}],
 "nodes": [{"name": "fc", "op": "linear", "inputs": ["input"], "params": ["fc.weight", "fc.bias"]}],
 "head": {"node": "fc", "params": ["fc.weight", "fc.bias"]}}
JSON
expect 0 train --model "$tmp/ctc.json" --data "ctc:csv:$tmp/ctc.csv" --val "ctc:csv:$tmp/ctc.csv" --epochs 2 --lr 0.05 --batch 8 --out "$tmp/ctc"
out_has "best validation WER"
expect 0 eval --model "$tmp/ctc/checkpoint.safetensors" --data "csv:$tmp/ctc.csv" --task asr --json
out_has '"wer"'; out_has '"cer"'
expect 0 predict --model "$tmp/ctc/checkpoint.safetensors" --data "ctc:csv:$tmp/ctc.csv" --limit 3 --beam 4 --json
out_has '"transcript"'; out_has '"reference"'
expect 0 predict --model "$tmp/ctc/checkpoint.safetensors" --data "csv:$tmp/ctc.csv" --task asr --limit 2
# one label per word (--vocab words): each number is a word; labels are word pieces "\u2581NN"
expect 0 train --model "$tmp/ctc.json" --data "ctc:csv:$tmp/ctc.csv" --vocab words --val-split 0.2 --epochs 1 --lr 0.05 --batch 8 --out "$tmp/ctcw"
out_has "best validation WER"
expect 0 eval --model "$tmp/ctcw/best.safetensors" --data "ctc:csv:$tmp/ctc.csv" --json
out_has '"wer"'
expect 0 predict --model "$tmp/ctcw/best.safetensors" --data "ctc:csv:$tmp/ctc.csv" --limit 3 --beam 4 --json
out_has '"transcript"'
expect 1 train --model "$tmp/ctc/checkpoint.safetensors" --data "ctc:csv:$tmp/ctc.csv" --vocab words --epochs 1 --out "$tmp/ctcw2"
err_has "already has a character vocabulary"
expect 2 train --model "$tmp/ctc.json" --data "csv:$tmp/ctc.csv" --vocab words --epochs 1 --out "$tmp/ctcw3"
err_has "--vocab applies to speech recognition"
cat >"$tmp/ctc_cls.json" <<'JSON'
{"arch": "graph", "input": {"shape": [88]},
 "params": [{"name": "fc.weight", "shape": [100, 88]}, {"name": "fc.bias", "shape": [100]}],
 "nodes": [{"name": "fc", "op": "linear", "inputs": ["input"], "params": ["fc.weight", "fc.bias"]}]}
JSON
expect 0 train --model "$tmp/ctc_cls.json" --data "csv:$tmp/ctc.csv" --epochs 1 --out "$tmp/ctc_cls"
expect 1 eval --model "$tmp/ctc_cls/checkpoint.safetensors" --data "ctc:csv:$tmp/ctc.csv"
err_has "no CTC vocabulary"

# ---- a model that runs at one batch size only (input.batch, as an import whose nodes depend on
# the batch): --batch defaults to it, another is refused, the short last batch is dropped in
# training; eval and predict pad it and count every example once ----
cat >"$tmp/fixed.json" <<'JSON'
{"arch": "graph", "input": {"shape": [6], "batch": 4},
 "params": [{"name": "l1.weight", "shape": [5, 6]}, {"name": "l1.bias", "shape": [5]},
            {"name": "fc.weight", "shape": [2, 5]}, {"name": "fc.bias", "shape": [2]}],
 "nodes": [{"name": "l1", "op": "linear", "inputs": ["input"], "params": ["l1.weight", "l1.bias"]},
           {"name": "r", "op": "relu", "inputs": ["l1"]},
           {"name": "fc", "op": "linear", "inputs": ["r"], "params": ["fc.weight", "fc.bias"]}],
 "head": {"node": "fc", "params": ["fc.weight", "fc.bias"]}, "n_classes": 2}
JSON
awk 'BEGIN { for (i = 0; i < 11; i++) { c = i % 2; s = ""; for (d = 0; d < 6; d++) s = s sprintf("%.2f,", (d % 2 == c ? 1 : 0) + (i * 7 + d) % 5 / 10); print s c } }' >"$tmp/fixed.csv"
head -3 "$tmp/fixed.csv" >"$tmp/fixed3.csv"
expect 0 train --model "$tmp/fixed.json" --data "csv:$tmp/fixed.csv" --val "csv:$tmp/fixed3.csv" --epochs 2 --out "$tmp/fixed" --progress none
out_has "training:   2 epochs, batch 4,"
out_has "drops the last 3 examples of each epoch"
out_has "2 epochs, 4 optimizer steps"
if [ "$(grep -c '"loss"' "$tmp/fixed/metrics.jsonl" 2>/dev/null)" = 4 ]; then ok; else bad "fixed batch: want 4 steps in metrics.jsonl"; fi
expect 1 train --model "$tmp/fixed.json" --data "csv:$tmp/fixed.csv" --batch 8 --epochs 1 --out "$tmp/fixed8" --progress none
err_has "the model runs at batch 4 only"; err_has "finetune convert --input-shape N,"
expect 1 train --model "$tmp/fixed.json" --data "csv:$tmp/fixed3.csv" --epochs 1 --out "$tmp/fixed_small" --progress none
err_has "3 training examples, fewer than the one batch size the model runs at (4)"
expect 0 eval --model "$tmp/fixed/checkpoint.safetensors" --data "csv:$tmp/fixed.csv" --json
out_has '"n":11'
expect 0 predict --model "$tmp/fixed/checkpoint.safetensors" --data "csv:$tmp/fixed.csv" --top-k 1 --json
if [ "$(grep -c . "$tmp/out")" = 11 ]; then ok; else bad "fixed batch: predict printed $(grep -c . "$tmp/out") lines for 11 examples"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
