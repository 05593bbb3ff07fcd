#!/usr/bin/env bash
# GPT-2 124M training step at B=4, T=64: finetune vs llm.c's CPU train_gpt2.c (and PyTorch),
# interleaved rounds in one run. Results: docs/benchmarks.md.
#
#   bench/llmc.sh --src LLMC [--work DIR] [--threads T] [--steps N] [--rounds R]
#
# LLMC is a checkout of karpathy/llm.c (a work tree, or a bare git directory: its HEAD is
# exported). Nothing of llm.c enters this repository: it is copied to DIR (default
# /tmp/llmc-bench), where train_gpt2.c's main() is patched only to run N+1 training steps
# (default N = 5; step 0 is the warm-up) and to skip its validation-loss and sampling passes
# (neither is part of a training step), then built as llm.c's Makefile builds it
# (cc -Ofast -march=native -fopenmp -DOMP ... -lm). Its checkpoint and token shards are written
# by bench/llmc_files.py (random init; llm.c's Python tools are not usable here).
# Each round runs one after the other: llm.c (OMP_NUM_THREADS=T; default and OMP_WAIT_POLICY=PASSIVE), finetune (bench_lm gpt2
# --batch 4 --seq 64, default environment and OMP_WAIT_POLICY=PASSIVE), PyTorch (bench_lm.py,
# default and PASSIVE). Per peer: median step time of the round, peak RSS (GNU time); the
# table shows each peer's best round. llm.c's step = forward, zero_grad, backward, AdamW
# (lr 1e-4, weight decay 0) as its main() times it; finetune's and PyTorch's add weight decay
# 0.01 and hidden dropout 0.1 (bench/bench_lm.c), which costs little.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

src="" work=/tmp/llmc-bench threads=2 steps=5 rounds=2
while [ $# -gt 0 ]; do
    case $1 in
        --src) src=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        *) echo "usage: bench/llmc.sh --src LLMC [--work DIR] [--threads T] [--steps N] [--rounds R]" >&2; exit 2 ;;
    esac
done
[ -n "$src" ] || { echo "bench/llmc.sh: --src LLMC (a karpathy/llm.c checkout) is required" >&2; exit 2; }
case $(readlink -f "$work") in "$(pwd)"*) echo "bench/llmc.sh: --work must be outside the repository" >&2; exit 2 ;; esac

mkdir -p "$work"
if [ -f "$src/train_gpt2.c" ]; then cp -r "$src"/. "$work"/
else git -C "$src" archive HEAD | tar -x -C "$work"; fi
[ -f "$work/train_gpt2.c" ] || { echo "bench/llmc.sh: no train_gpt2.c in $src" >&2; exit 1; }
# run steps 0..N, no validation / sampling passes
sed -i -e "s/step <= 40/step <= $steps/" -e 's/if (step % 10 == 0) {/if (0) {/' \
    -e 's/if (step > 0 \&\& step % 20 == 0) {/if (0) {/' "$work/train_gpt2.c"
grep -q "step <= $steps" "$work/train_gpt2.c" || { echo "bench/llmc.sh: could not patch train_gpt2.c's loop" >&2; exit 1; }
echo "== building llm.c in $work"
(cd "$work" && cc -Ofast -Wno-unused-result -march=native -fopenmp -DOMP train_gpt2.c -lm -o train_gpt2)
[ -s "$work/gpt2_124M.bin" ] || "$FT_PY" bench/llmc_files.py "$work"

ft_build_lib
BIN="$FT_BUILD/bench/bench_lm"
ft_build_bench bench/bench_lm.c "$BIN"
export OPENBLAS_NUM_THREADS=$threads
unset OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT
ft_blas_coretype
echo "== machine"
ft_machine_info
echo "llm.c:    $(git -C "$src" log -1 --format='%h %cs' 2>/dev/null || echo "$src")"
OUT="$FT_BUILD/bench/llmc_results.txt"
: >"$OUT"

measure() { # round variant cmd...: appends "round= variant= ms= rss_kb= quiet=" to $OUT
    local r=$1 v=$2 tf ms rss quiet out
    shift 2
    tf=$(mktemp)
    ft_wait_quiet
    quiet=$FT_QUIET
    out=$(/usr/bin/time -f '%M' -o "$tf" "$@" 2>&1) || { echo "FAILED: $*" >&2; echo "$out" | tail -5 >&2; rm -f "$tf"; return 1; }
    rss=$(tail -1 "$tf"); rm -f "$tf"
    if [[ $v == llmc* ]]; then # median of steps 1..N ("step k: train loss x (took y ms)")
        ms=$(echo "$out" | sed -n 's/^step \([0-9]*\): .*took \([0-9.]*\) ms.*/\1 \2/p' | awk '$1 > 0 { print $2 }' | sort -g |
            awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    else
        ms=$(ft_result_field "$(echo "$out" | grep '^RESULT')" ms)
    fi
    echo "round=$r variant=$v ms=$ms rss_kb=$rss quiet=$quiet busy=$FT_BUSY" | tee -a "$OUT"
}

args=(--threads "$threads" --warmup 1 --steps "$steps" --batch 4 --seq 64 gpt2)
for r in $(seq 1 "$rounds"); do
    measure "$r" llmc env -C "$work" OMP_NUM_THREADS="$threads" ./train_gpt2
    measure "$r" llmc_passive env -C "$work" OMP_NUM_THREADS="$threads" OMP_WAIT_POLICY=PASSIVE ./train_gpt2
    measure "$r" finetune "$BIN" "${args[@]}"
    measure "$r" finetune_passive env OMP_WAIT_POLICY=PASSIVE "$BIN" "${args[@]}"
    if ft_have_torch; then
        measure "$r" torch "$FT_PY" bench/bench_lm.py "${args[@]}"
        measure "$r" torch_passive env OMP_WAIT_POLICY=PASSIVE "$FT_PY" bench/bench_lm.py "${args[@]}"
    fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
awk '
function f(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
{ v = f("variant"); ms = f("ms") + 0; if (!(v in best) || ms < best[v]) best[v] = ms
  if (f("rss_kb") + 0 > rss[v]) rss[v] = f("rss_kb") + 0; if (f("quiet") != "1") noisy[v] = 1
  all[v] = all[v] " " ms; if (!(v in seen)) { seen[v] = 1; order[++n] = v } }
END {
  print "| peer | best round, s/step | tokens/s | peak RSS (MB) | llm.c time / peer time | rounds (ms) |"
  print "|---|---:|---:|---:|---:|---|"
  for (i = 1; i <= n; i++) { v = order[i]
    printf "| %s | %.2f%s | %.0f | %.0f | %.2f | %s |\n", v, best[v] / 1000, noisy[v] ? "*" : "", 256 * 1000 / best[v], rss[v] / 1024, best["llmc"] / best[v], all[v] }
  print ""; print "(* = the machine was not quiet when a run of that peer started)"
}' "$OUT"
