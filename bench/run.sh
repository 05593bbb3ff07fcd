#!/usr/bin/env bash
# Side-by-side benchmarks, finetune vs PyTorch (`make bench` runs this). Protocol and recorded
# results: docs/benchmarks.md.
#
#   bench/run.sh [--threads T] [--warmup W] [--steps N] [--rounds R] [--cases "mlp-sgd ..."]
#                [--cnn-warmup W] [--cnn-steps N] [--cnn-rounds R] [--lm-warmup W] [--lm-steps N] [--lm-rounds R]
#                [--rnn-warmup W] [--rnn-steps N] [--rnn-rounds R]
#                [--variants "finetune_passive torch_passive"]
#   bench/run.sh --report DIR    only print the tables from DIR/mlp_results.txt, DIR/overhead.txt,
#                                DIR/cnn_results.txt, DIR/lm_results.txt and DIR/rnn_results.txt (those that exist)
#
# Cases: mlp-sgd mlp-adamw mlp-frozen (bench/bench_mlp.c/.py; --warmup/--steps/--rounds) and
# resnet18-full resnet18-layer4 resnet18-fc mobilenetv2-full (bench/bench_cnn.c/.py: batch 16,
# 224x224; --cnn-warmup/--cnn-steps/--cnn-rounds, default 2/10/3) and bert-small bert-base gpt2
# (bench/bench_lm.c/.py: Transformer training step with AdamW, tokens/s; --lm-warmup/--lm-steps/
# --lm-rounds, default 1/5/2; not in the default set: name them with --cases) and bilstm-ctc
# (bench/bench_rnn.c/.py: 2-layer bidirectional LSTM 40 -> 256 over 100 frames, batch 32, linear +
# CTC loss; --rnn-warmup/--rnn-steps/--rnn-rounds, default 1/5/2; name it with --cases). The GPT-2 124M
# comparison with llm.c is bench/llmc.sh. All MLP and CNN cases by default; --cases picks.
# The framework-overhead check runs when an MLP case is selected. --variants restricts the CNN
# and Transformer runs to some of: finetune finetune_passive torch torch_passive torch_ompblas
# (all by default; on a crowded machine the PASSIVE pair alone finishes in reasonable time).
#
# Builds bench/bench_mlp.c and bench/bench_cnn.c into build/bench/ with the Makefile's flags, checks that PyTorch's
# BLAS is OpenBLAS, then runs, for each round and case, one after the other: finetune,
# finetune with OMP_WAIT_POLICY=PASSIVE, PyTorch with the default environment, PyTorch with
# OMP_WAIT_POLICY=PASSIVE, and PyTorch on the OpenMP OpenBLAS build that finetune links
# (LD_LIBRARY_PATH; when that build is installed). Each run is its own process (so peak RSS is per case) and starts
# when the machine is quiet (bench/common.sh: ft_wait_quiet); a run that started on a busy
# machine or during which other processes used 0.25 cores or more is marked *. Each run:
# W warm-up steps, then the median of N timed steps.
# A table row shows, per peer, the lowest of the R round medians (the round least disturbed
# by other work on the machine); every round's value is in build/bench/mlp_results.txt.
# Then times one linear layer's raw sgemm calls against the library's linear op and fails
# (exit 1) if the op's overhead, median over rounds, is 10% or more.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

# ---- tables (from the result files, so a saved run can be shown again with --report) ----

# mlp_table FILE: per case and variant the lowest round median (marked * when other work was
# running), the largest peak RSS; the phase split of the best round; every round median.
mlp_table() {
    local cases torch
    cases=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^case=/) { c = substr($i, 6); if (!(c in s)) { s[c] = 1; o = o (o ? " " : "") c } } } END { print o }' "$1")
    torch=$(grep -q 'variant=torch' "$1" && echo 1 || echo 0)
    awk -v cases="$cases" -v torch="$torch" '
    function f(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    function cell(k) { return (k in best) ? sprintf("%.1f%s", best[k], noisy[k] ? "*" : "") : "-" }
    function mx(a, b) { return a > b ? a : b }
    /^round=/ {
        key = f("case") SUBSEP f("variant"); ms = f("ms") + 0
        if (!(key in best) || ms < best[key]) {
            best[key] = ms; noisy[key] = f("quiet") != "1"
            fwd[key] = f("fwd_ms"); bwd[key] = f("bwd_ms"); opt[key] = f("opt_ms")
        }
        if (f("rss_kb") + 0 > rss[key]) rss[key] = f("rss_kb") + 0
        all[key] = all[key] (all[key] == "" ? "" : " ") ms (f("quiet") != "1" ? "*" : "")
        loss[key] = f("loss_first")
    }
    END {
        n = split(cases, cs, " ")
        nv = split("finetune finetune_passive torch torch_passive torch_ompblas", vs, " ")
        split("finetune|finetune (PASSIVE)|torch (default)|torch (PASSIVE)|torch (OpenMP OpenBLAS)", hs, "|")
        print "| case | finetune ms/step | finetune (PASSIVE) | torch ms/step (default) | torch (PASSIVE) | torch (OpenMP OpenBLAS) | ratio torch best of default/PASSIVE / finetune | ratio torch best of all three / finetune | peak RSS finetune / torch |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            c = cs[i]; ft = c SUBSEP "finetune"; fp = c SUBSEP "finetune_passive"
            frss = mx(rss[fp], rss[ft]) / 1024
            tb = 0; t2 = 0; trss = 0
            for (j = 3; j <= nv; j++) { k = c SUBSEP vs[j]; if (k in best) {
                if (!tb || best[k] < tb) tb = best[k]
                if (j <= 4 && (!t2 || best[k] < t2)) t2 = best[k]
                trss = mx(trss, rss[k]) } }
            if (!torch) { printf "| %s | %s | %s | - | - | - | - | - | %.0f MB / - |\n", c, cell(ft), cell(fp), frss; continue }
            printf "| %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.0f MB / %.0f MB |\n", c, cell(ft), cell(fp), cell(c SUBSEP "torch"),
                cell(c SUBSEP "torch_passive"), cell(c SUBSEP "torch_ompblas"), t2 / best[ft], tb / best[ft], frss, trss / 1024
        }
        print ""
        print "Where the time goes (ms, from the best round): forward+loss / backward / optimizer update; first-step loss"
        print ""
        line = "| case"; sep = "|---"
        for (j = 1; j <= nv; j++) { line = line " | " hs[j]; sep = sep "|---" }
        print line " |"; print sep "|"
        for (i = 1; i <= n; i++) {
            c = cs[i]; line = "| " c
            for (j = 1; j <= nv; j++) { k = c SUBSEP vs[j]; line = line (k in best ? sprintf(" | %.1f / %.1f / %.1f; %.3f", fwd[k], bwd[k], opt[k], loss[k]) : " | -") }
            print line " |"
        }
        print ""
        print "Every round median (ms/step; * = other work was running: the machine was not quiet at the start, or other processes used >= 0.25 cores during the run):"
        print ""
        for (i = 1; i <= n; i++) {
            c = cs[i]; line = "- " c ":"
            for (j = 1; j <= nv; j++) { k = c SUBSEP vs[j]; if (k in all) line = line " " vs[j] " [" all[k] "]" }
            print line
        }
    }' "$1"
}

# cnn_table FILE [UNIT]: images/s (UNIT "tok/s": tokens/s, batch x seq from the RESULT line) per case and variant from the lowest round median (marked * when
# other work was running), the largest peak RSS, the ratio of finetune's throughput to
# PyTorch's best configuration; the phase split of the best round; every round median.
cnn_table() {
    local cases unit=${2:-img/s}
    cases=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^case=/) { c = substr($i, 6); if (!(c in s)) { s[c] = 1; o = o (o ? " " : "") c } } } END { print o }' "$1")
    awk -v cases="$cases" -v unit="$unit" '
    function f(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    function ips(k) { return batch[k] * 1000 / best[k] }
    function cell(k) { return (k in best) ? sprintf("%.2f%s", ips(k), noisy[k] ? "*" : "") : "-" }
    function mx(a, b) { return a > b ? a : b }
    /^round=/ {
        key = f("case") SUBSEP f("variant"); ms = f("ms") + 0
        if (!(key in best) || ms < best[key]) {
            best[key] = ms; noisy[key] = f("quiet") != "1"; batch[key] = f("batch") * (f("seq") != "" ? f("seq") : 1)
            fwd[key] = f("fwd_ms"); bwd[key] = f("bwd_ms"); opt[key] = f("opt_ms")
        }
        if (f("rss_kb") + 0 > rss[key]) rss[key] = f("rss_kb") + 0
        all[key] = all[key] (all[key] == "" ? "" : " ") ms (f("quiet") != "1" ? "*" : "")
    }
    END {
        n = split(cases, cs, " ")
        nv = split("finetune finetune_passive torch torch_passive torch_ompblas", vs, " ")
        split("finetune|finetune (PASSIVE)|torch (default)|torch (PASSIVE)|torch (OpenMP OpenBLAS)", hs, "|")
        print "| case | finetune " unit " | finetune (PASSIVE) | torch " unit " (default) | torch (PASSIVE) | torch (OpenMP OpenBLAS) | finetune / torch best (throughput) | finetune best / torch best | peak RSS finetune / torch (MB) |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            c = cs[i]; ft = c SUBSEP "finetune"; fp = c SUBSEP "finetune_passive"
            frss = mx(rss[fp], rss[ft]) / 1024
            fb = (ft in best) ? ips(ft) : 0; if ((fp in best) && ips(fp) > fb) fb = ips(fp)
            tb = 0; trss = 0
            for (j = 3; j <= nv; j++) { k = c SUBSEP vs[j]; if (k in best) { if (ips(k) > tb) tb = ips(k); trss = mx(trss, rss[k]) } }
            if (!tb) { printf "| %s | %s | %s | - | - | - | - | - | %.0f / - |\n", c, cell(ft), cell(fp), frss; continue }
            printf "| %s | %s | %s | %s | %s | %s | %s | %.2f | %.0f / %.0f |\n", c, cell(ft), cell(fp), cell(c SUBSEP "torch"),
                cell(c SUBSEP "torch_passive"), cell(c SUBSEP "torch_ompblas"), (ft in best ? sprintf("%.2f", ips(ft) / tb) : "-"), fb / tb, frss, trss / 1024
        }
        print ""
        print "Where the time goes (ms, from the best round): forward+loss / backward / optimizer update"
        print ""
        line = "| case"; sep = "|---"
        for (j = 1; j <= nv; j++) { line = line " | " hs[j]; sep = sep "|---" }
        print line " |"; print sep "|"
        for (i = 1; i <= n; i++) {
            c = cs[i]; line = "| " c
            for (j = 1; j <= nv; j++) { k = c SUBSEP vs[j]; line = line (k in best ? sprintf(" | %.0f / %.0f / %.0f", fwd[k], bwd[k], opt[k]) : " | -") }
            print line " |"
        }
        print ""
        print "Every round median (ms/step; * = other work was running: the machine was not quiet at the start, or other processes used >= 0.25 cores during the run):"
        print ""
        for (i = 1; i <= n; i++) {
            c = cs[i]; line = "- " c ":"
            for (j = 1; j <= nv; j++) { k = c SUBSEP vs[j]; if (k in all) line = line " " vs[j] " [" all[k] "]" }
            print line
        }
    }' "$1"
}

# overhead_table FILE: medians over rounds per wait policy and shape; exit 1 when the linear
# op's overhead in the default environment is 10% or more.
overhead_table() {
    awk '
    function f(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    function med(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    { s = f("policy") " | " f("shape"); if (!(s in raw)) order[++n] = s
      raw[s] = raw[s] " " f("raw_ms"); op[s] = op[s] " " f("op_ms"); gr[s] = gr[s] " " f("graph_ms")
      opp[s] = opp[s] " " f("op_pct"); grp[s] = grp[s] " " f("graph_pct") }
    END {
        print ""
        print "| OMP_WAIT_POLICY | linear layer (R x K -> M) | raw 3x sgemm ms | linear op fwd+bwd ms | overhead | graph step ms (op + sum loss + zeroing) | overhead |"
        print "|---|---|---:|---:|---:|---:|---:|"
        worst = -1e9
        for (i = 1; i <= n; i++) { s = order[i]
            printf "| %s | %.2f | %.2f | %+.1f%% | %.2f | %+.1f%% |\n", s, med(raw[s]), med(op[s]), med(opp[s]), med(gr[s]), med(grp[s])
            if (s ~ /^default/ && med(opp[s]) > worst) worst = med(opp[s]) }
        print ""
        printf "(medians over rounds) linear op overhead, default environment: worst %+.1f%% (limit 10%%): %s\n", worst, worst < 10 ? "ok" : "EXCEEDED"
        exit worst < 10 ? 0 : 1
    }' "$1"
}

threads=2 warmup=3 steps=20 rounds=5 cases="mlp-sgd mlp-adamw mlp-frozen resnet18-full resnet18-layer4 resnet18-fc mobilenetv2-full"
cnn_warmup=2 cnn_steps=10 cnn_rounds=3 variants="finetune finetune_passive torch torch_passive torch_ompblas"
lm_warmup=1 lm_steps=5 lm_rounds=2
rnn_warmup=1 rnn_steps=5 rnn_rounds=2
while [ $# -gt 0 ]; do
    case $1 in
        --threads) threads=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --cases) cases=$2; shift 2 ;;
        --cnn-warmup) cnn_warmup=$2; shift 2 ;;
        --cnn-steps) cnn_steps=$2; shift 2 ;;
        --cnn-rounds) cnn_rounds=$2; shift 2 ;;
        --variants) variants=$2; shift 2 ;;
        --lm-warmup) lm_warmup=$2; shift 2 ;;
        --lm-steps) lm_steps=$2; shift 2 ;;
        --lm-rounds) lm_rounds=$2; shift 2 ;;
        --rnn-warmup) rnn_warmup=$2; shift 2 ;;
        --rnn-steps) rnn_steps=$2; shift 2 ;;
        --rnn-rounds) rnn_rounds=$2; shift 2 ;;
        --report)
            [ ! -s "$2/mlp_results.txt" ] || { mlp_table "$2/mlp_results.txt"; echo; }
            [ ! -s "$2/cnn_results.txt" ] || { cnn_table "$2/cnn_results.txt"; echo; }
            [ ! -s "$2/lm_results.txt" ] || { cnn_table "$2/lm_results.txt" tok/s; echo; }
            [ ! -s "$2/rnn_results.txt" ] || { cnn_table "$2/rnn_results.txt" seq/s; echo; }
            [ ! -s "$2/overhead.txt" ] || overhead_table "$2/overhead.txt"
            exit ;;
        *) echo "usage: bench/run.sh [--threads T] [--warmup W] [--steps N] [--rounds R] [--cases LIST] [--cnn-warmup W] [--cnn-steps N] [--cnn-rounds R] [--lm-warmup W] [--lm-steps N] [--lm-rounds R] [--rnn-warmup W] [--rnn-steps N] [--rnn-rounds R] [--variants LIST]" >&2; exit 2 ;;
    esac
done
if [ "$steps" -lt 10 ] || [ "$warmup" -lt 1 ] || [ "$cnn_steps" -lt 10 ] || [ "$cnn_warmup" -lt 1 ]; then
    echo "bench/run.sh: the protocol needs --steps/--cnn-steps >= 10 and --warmup/--cnn-warmup >= 1" >&2; exit 2
fi
mlp_cases="" cnn_cases="" lm_cases="" rnn_cases=""
for c in $cases; do
    case $c in
        mlp-sgd|mlp-adamw|mlp-frozen) mlp_cases="$mlp_cases $c" ;;
        resnet18-full|resnet18-layer4|resnet18-fc|mobilenetv2-full) cnn_cases="$cnn_cases $c" ;;
        bert-small|bert-base|gpt2) lm_cases="$lm_cases $c" ;;
        bilstm-ctc) rnn_cases="$rnn_cases $c" ;;
        *) echo "bench/run.sh: unknown case '$c'" >&2; exit 2 ;;
    esac
done

ft_build_lib
for b in mlp cnn lm rnn; do ft_build_bench "bench/bench_$b.c" "$FT_BUILD/bench/bench_$b"; done
BIN="$FT_BUILD/bench/bench_mlp"
OUT="$FT_BUILD/bench/mlp_results.txt"

# Same BLAS thread count for both peers: torch.set_num_threads does not reach OpenBLAS.
export OPENBLAS_NUM_THREADS=$threads
unset OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT
ft_blas_coretype
echo "== machine"
ft_machine_info
echo "threads:  $threads (ft_set_num_threads / torch.set_num_threads; OPENBLAS_NUM_THREADS=$threads for both)"
echo "protocol: MLP $warmup warm-up steps, median of $steps timed steps, $rounds rounds; CNN $cnn_warmup / $cnn_steps / $cnn_rounds; peers run one after the other"

echo "finetune: links $(readlink -f "$(ldd "$BIN" | awk '/libopenblas/ { print $3; exit }')")"
echo "finetune: $("$BIN" --threads "$threads" blas-check)"

torch=0 torch_omp=0
OMP_BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
echo "== PyTorch"
if ft_have_torch; then
    torch=1
    if ! "$FT_PY" bench/bench_mlp.py --threads "$threads" blas-check; then
        echo "WARNING: PyTorch's libblas.so.3 is not OpenBLAS; its matmuls run on another BLAS (see above)"
    fi
    update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: /libblas.so.3 alternative: /p' || true
    # A third PyTorch configuration: the OpenMP OpenBLAS build that finetune links, put in
    # front of the system's choice with LD_LIBRARY_PATH (one OpenMP pool for BLAS and ATen).
    if [ -e "$OMP_BLAS/libblas.so.3" ]; then
        torch_omp=1
        echo "PyTorch with LD_LIBRARY_PATH=$OMP_BLAS:"
        LD_LIBRARY_PATH=$OMP_BLAS "$FT_PY" bench/bench_mlp.py --threads "$threads" blas-check | sed 's/^/  /' || true
    fi
else
    echo "PyTorch is not importable by $FT_PY (Debian: apt-get install python3-torch); running finetune alone"
fi

run_one() { # round variant cmd...  (appends to $OUT)
    local r=$1 v=$2 line quiet
    shift 2
    ft_wait_quiet
    if ! ft_run_measured "$@" || ! line=$(printf '%s\n' "$FT_RUN_OUT" | grep '^RESULT'); then
        echo "FAILED: $*" >&2; return 1
    fi
    # quiet = the machine was idle when the run started and other work used < 0.25 cores during it
    quiet=$FT_QUIET
    awk -v o="$FT_OTHERS" 'BEGIN { exit !(o < 0.25) }' || quiet=0
    mkdir -p "$(dirname "$OUT")"
    echo "round=$r variant=$v busy=$FT_BUSY others=$FT_OTHERS quiet=$quiet $line" >>"$OUT"
    printf '  round %d %-16s %s  (other load: %s cores before, %s during%s)\n' "$r" "$v" \
        "$(echo "$line" | cut -d' ' -f2,4-6,12)" "$FT_BUSY" "$FT_OTHERS" "$([ "$quiet" = 1 ] || echo ', NOT QUIET')"
}

# run_peers ROUND KIND VARIANTS ARGS...: one run per variant of build/bench/bench_KIND or
# bench/bench_KIND.py, one after the other (appends to $OUT).
run_peers() {
    local r=$1 kind=$2 vars=$3 v bin="$FT_BUILD/bench/bench_$2" py="bench/bench_$2.py"
    shift 3
    for v in $vars; do
        case $v in
            finetune) run_one "$r" finetune "$bin" "$@" ;;
            finetune_passive) run_one "$r" finetune_passive env OMP_WAIT_POLICY=PASSIVE "$bin" "$@" ;;
            torch) [ $torch = 0 ] || run_one "$r" torch "$FT_PY" "$py" "$@" ;;
            torch_passive) [ $torch = 0 ] || run_one "$r" torch_passive env OMP_WAIT_POLICY=PASSIVE "$FT_PY" "$py" "$@" ;;
            torch_ompblas) [ $torch = 0 ] || [ $torch_omp = 0 ] ||
                run_one "$r" torch_ompblas env LD_LIBRARY_PATH="$OMP_BLAS" "$FT_PY" "$py" "$@" ;;
            *) echo "bench/run.sh: unknown variant '$v'" >&2; exit 2 ;;
        esac
    done
}

# step_section KIND UNIT ROUNDS WARMUP STEPS TITLE PROTOCOL CASES...: a training-step comparison
# whose rounds interleave every case and peer (--variants); results in
# build/bench/KIND_results.txt, table (cnn_table, throughput in UNIT) in build/bench/KIND_table.md.
step_section() {
    local kind=$1 unit=$2 rounds=$3 warm=$4 n=$5 title=$6 protocol=$7 r c table
    shift 7
    OUT="$FT_BUILD/bench/${kind}_results.txt"
    : >"$OUT"
    echo
    echo "== $title"
    [ -z "$protocol" ] || echo "protocol: $protocol"
    for r in $(seq 1 "$rounds"); do
        for c in "$@"; do
            run_peers "$r" "$kind" "$variants" --threads "$threads" --warmup "$warm" --steps "$n" "$c"
        done
    done
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
    table="$FT_BUILD/bench/${kind}_table.md"
    cnn_table "$OUT" "$unit" >"$table"
    echo
    cat "$table"
    echo "results: $OUT; table: $table"
}

status=0
TABLE="$FT_BUILD/bench/mlp_table.md"
if [ -n "$mlp_cases" ]; then
: >"$OUT"
echo "== MLP training step (batch 256, 784 -> 1024 -> 1024 -> 10, ReLU)"
for r in $(seq 1 "$rounds"); do
    for c in $mlp_cases; do
        # every peer, whatever --variants says
        run_peers "$r" mlp "finetune finetune_passive torch torch_passive torch_ompblas" \
            --threads "$threads" --warmup "$warmup" --steps "$steps" "$c"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

mlp_table "$OUT" >"$TABLE"
echo
cat "$TABLE"

echo
echo "== Framework overhead: one linear layer, raw cblas_sgemm (fwd + dX + dW) vs the library's linear op"
# Run in the default environment (gated: the op must cost < 10% over its sgemm calls) and,
# for reference, with OMP_WAIT_POLICY=PASSIVE.
OVH="$FT_BUILD/bench/overhead.txt"
: >"$OVH"
for r in $(seq 1 "$rounds"); do
    for pol in default PASSIVE; do
        ft_wait_quiet
        echo "  round $r, OMP_WAIT_POLICY=$pol: background load $FT_BUSY cores$([ "$FT_QUIET" = 1 ] || echo ', NOT QUIET')"
        envp=(); [ $pol = default ] || envp=("OMP_WAIT_POLICY=$pol")
        env "${envp[@]}" "$BIN" --threads "$threads" --warmup "$warmup" --steps 30 overhead | grep '^OVERHEAD ' |
            sed "s/^OVERHEAD /OVERHEAD policy=$pol /" | tee -a "$OVH" | cut -d' ' -f3-9 | sed 's/^/    /' || true
    done
done
overhead_table "$OVH" >"$OVH.table" || status=1
tee -a "$TABLE" <"$OVH.table"
[ "$status" = 0 ] || echo "bench/run.sh: the linear op costs 10% or more over its raw sgemm calls (see docs/benchmarks.md)"
echo "results: $OUT, $OVH; tables: $TABLE"
fi

# ---- CNN, Transformer (AdamW) and recurrent (BiLSTM + linear + CTC, AdamW) training steps ----
# (if, not ||: a failed run must stop the script under set -e)
if [ -n "$cnn_cases" ]; then
    # shellcheck disable=SC2086
    step_section cnn img/s "$cnn_rounds" "$cnn_warmup" "$cnn_steps" \
        "CNN training step (batch 16, 3x224x224, SGD momentum, batch norm in training mode)" "" $cnn_cases
fi
if [ -n "$lm_cases" ]; then
    # shellcheck disable=SC2086
    step_section lm tok/s "$lm_rounds" "$lm_warmup" "$lm_steps" \
        "Transformer training step (AdamW; bert-small 16x128, bert-base 8x128, gpt2 4x256 tokens)" \
        "$lm_warmup warm-up steps, median of $lm_steps timed steps, $lm_rounds rounds" $lm_cases
fi
if [ -n "$rnn_cases" ]; then
    # shellcheck disable=SC2086
    step_section rnn seq/s "$rnn_rounds" "$rnn_warmup" "$rnn_steps" \
        "Recurrent training step (2-layer bidirectional LSTM 40 -> 256, 100 frames, batch 32, linear + CTC loss; AdamW)" \
        "$rnn_warmup warm-up steps, median of $rnn_steps timed steps, $rnn_rounds rounds" $rnn_cases
fi
exit "$status"
