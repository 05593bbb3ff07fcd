# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced, not run). Each later benchmark reuses
# these so every comparison follows the protocol in docs/benchmarks.md.
#
#   ft_flags                 read CC/CFLAGS/WARN/OMPFLAG/INC/LDLIBS/BUILD from the Makefile
#   ft_build_lib             build/libfinetune.a, or, if `make` fails on files mid-edit
#                            elsewhere, an archive of just the core objects (FT_LIB says which)
#   ft_build_bench SRC OUT   compile one benchmark (+ bench/common.c) against FT_LIB with the Makefile's flags
#   ft_machine_info          date, CPU, cores, load, compiler, BLAS, relevant environment
#   ft_have_torch            true if /usr/bin/python3 can import torch
#   ft_result_field LINE KEY value of KEY=... in a RESULT/OVERHEAD line

FT_PY=${FT_PY:-/usr/bin/python3}   # Debian's torch is only importable by the system python

ft_make_var() { make -s --no-print-directory --eval 'print-%: ; @echo "$($*)"' "print-$1"; }

ft_flags() {
    FT_CC=$(ft_make_var CC)
    FT_CFLAGS=$(ft_make_var CFLAGS)
    FT_WARN=$(ft_make_var WARN)
    FT_OMP=$(ft_make_var OMPFLAG)
    FT_INC=$(ft_make_var INC)
    FT_LDLIBS=$(ft_make_var LDLIBS)
    FT_BUILD=$(ft_make_var BUILD)
}

# The objects a training-step benchmark needs when the full library does not build.
FT_CORE_SRC="src/core/*.c src/ops/*.c src/train/optim.c src/train/schedule.c"

ft_build_lib() {
    ft_flags
    mkdir -p "$FT_BUILD/bench"
    if make -s --no-print-directory "$FT_BUILD/libfinetune.a" >"$FT_BUILD/bench/make.log" 2>&1; then
        FT_LIB="$FT_BUILD/libfinetune.a"
        echo "library: $FT_LIB (make)"
        return 0
    fi
    echo "library: 'make $FT_BUILD/libfinetune.a' failed (other parts mid-edit?); last lines:"
    tail -3 "$FT_BUILD/bench/make.log" | sed 's/^/    /'
    echo "library: building the core objects only ($FT_CORE_SRC)"
    local objdir="$FT_BUILD/bench/obj" objs=() src obj
    mkdir -p "$objdir"
    for src in $FT_CORE_SRC; do
        obj="$objdir/$(echo "${src%.c}" | tr / _).o"
        # shellcheck disable=SC2086
        $FT_CC $FT_CFLAGS $FT_WARN $FT_OMP $FT_INC -c "$src" -o "$obj" || return 1
        objs+=("$obj")
    done
    FT_LIB="$FT_BUILD/bench/libfinetune_core.a"
    rm -f "$FT_LIB"
    ar rcs "$FT_LIB" "${objs[@]}"
    echo "library: $FT_LIB (core objects)"
}

ft_build_bench() {
    local src=$1 out=$2
    mkdir -p "$(dirname "$out")"
    # shellcheck disable=SC2086
    $FT_CC $FT_CFLAGS $FT_WARN $FT_OMP $FT_INC -o "$out" "$src" bench/common.c "$FT_LIB" $FT_LDLIBS
}

ft_machine_info() {
    echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu:      $(lscpu | sed -n 's/^Model name:[[:space:]]*//p') ($(nproc) cores online)"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work on the machine disturbs timings)"
    echo "kernel:   $(uname -r)"
    echo "compiler: $($FT_CC --version | head -1); flags: $FT_CFLAGS $FT_OMP"
    echo "env:      OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-unset} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"
}

ft_have_torch() { "$FT_PY" -c 'import torch' >/dev/null 2>&1; }

ft_result_field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# CPU time used by everything on the machine, in cores, over $1 seconds (we are idle meanwhile,
# so this is other people's load). Prints e.g. 0.04.
ft_busy_cores() {
    local s=${1:-1} a b
    read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ </proc/stat
    sleep "$s"
    read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ </proc/stat
    a=$(( (b1-a1)+(b2-a2)+(b3-a3)+(b6-a6)+(b7-a7)+(b8-a8) ))   # user nice system irq softirq steal
    b=$(( a + (b4-a4)+(b5-a5) ))                                 # + idle iowait
    awk -v busy=$a -v tot=$b -v n="$(nproc)" 'BEGIN { printf "%.2f", tot ? n * busy / tot : 0 }'
}

# Waits (up to FT_BENCH_QUIET_WAIT seconds, default 180) until other work uses less than
# FT_BENCH_QUIET_CORES cores (default 0.15) over one second. Sets FT_BUSY to the last sample;
# FT_QUIET=1 if the machine was quiet, 0 if we gave up waiting (the run is then marked).
ft_wait_quiet() {
    local max=${FT_BENCH_QUIET_WAIT:-180} lim=${FT_BENCH_QUIET_CORES:-0.15} t0=$SECONDS
    while :; do
        FT_BUSY=$(ft_busy_cores 1)
        if awk -v b="$FT_BUSY" -v l="$lim" 'BEGIN { exit !(b < l) }'; then FT_QUIET=1; return 0; fi
        if [ $((SECONDS - t0)) -ge "$max" ]; then FT_QUIET=0; return 0; fi
        sleep 2
    done
}

# Runs "$@" and measures, over its lifetime, the CPU that other processes used: total busy
# CPU time from /proc/stat minus the command's own user+system time (GNU time). Sets
# FT_OTHERS (cores, e.g. 0.03) and leaves the command's stdout in FT_RUN_OUT. Returns the
# command's exit status.
ft_run_measured() {
    local tf rc
    tf=$(mktemp)
    read -r _ a1 a2 a3 _ _ a6 a7 a8 _ </proc/stat
    local t0; t0=$(date +%s.%N)
    set +e
    FT_RUN_OUT=$(/usr/bin/time -f '%U %S' -o "$tf" "$@")
    rc=$?
    set -e
    local t1; t1=$(date +%s.%N)
    read -r _ b1 b2 b3 _ _ b6 b7 b8 _ </proc/stat
    local busy=$(( (b1-a1)+(b2-a2)+(b3-a3)+(b6-a6)+(b7-a7)+(b8-a8) ))
    FT_OTHERS=$(awk -v b="$busy" -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" '
        NR == 1 { own = $1 + $2 } END { o = (b / hz - own) / (t1 - t0); printf "%.2f", o < 0 ? 0 : o }' "$tf")
    rm -f "$tf"
    return $rc
}

# The OpenBLAS core type the finetune CLI picks (cli/main.c: SkylakeX on an AVX-512 CPU when
# OPENBLAS_CORETYPE names an older core; FT_BLAS_CORETYPE overrides), exported for every
# peer: PyTorch's linear layers and matmuls run on the same OpenBLAS kernels as ours.
ft_blas_coretype() {
    case "${FT_BLAS_CORETYPE:-}" in
        keep) ;;
        "") if [[ "${OPENBLAS_CORETYPE:-}" =~ ^(Haswell|Zen|SandyBridge|Nehalem|Core2|Penryn|Prescott|Atom|Barcelona|Bulldozer|Piledriver|Steamroller|Excavator)$ ]] &&
                grep -q ' avx512f' /proc/cpuinfo && grep -q ' avx512bw' /proc/cpuinfo &&
                grep -q ' avx512dq' /proc/cpuinfo && grep -q ' avx512vl' /proc/cpuinfo; then
                export OPENBLAS_CORETYPE=SkylakeX
            fi ;;
        *) export OPENBLAS_CORETYPE=$FT_BLAS_CORETYPE ;;
    esac
}
