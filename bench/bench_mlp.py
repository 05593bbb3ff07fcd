#!/usr/bin/python3
"""MLP training-step benchmark, PyTorch side (bench/bench_mlp.c is the finetune twin).

    /usr/bin/python3 bench/bench_mlp.py [--threads T] [--warmup W] [--steps N]
                                        [--batch B] [--hidden H] <case>
    cases: mlp-sgd | mlp-adamw | mlp-frozen | blas-check

The model, optimizer settings, init scale and data distribution match bench_mlp.c:
784 -> H -> H -> 10 (ReLU), torch.nn.Linear default init (U(-1/sqrt(fan_in), 1/sqrt(fan_in))
for weight and bias), 4 in-memory batches of x ~ U[0,1) and labels ~ U{0..9} used in turn.
One step = zero_grad(set_to_none=True), forward, cross_entropy, backward, optimizer.step().
Each step is timed with time.perf_counter(); the result is the median of the timed steps.

blas-check runs one matmul, then prints which BLAS libraries are mapped into this process
(/proc/self/maps) and OpenBLAS's build config and thread count, if OpenBLAS is loaded.
"""
import ctypes
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # run.sh checks this first; keep the message plain
    print(f"NOTORCH {e}")
    sys.exit(4)

import common  # noqa: E402

N_BATCHES = 4
N_CLASSES = 10
IN_DIM = 784


def blas_check():
    a = torch.rand(256, 256)
    (a @ a).sum().item()
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ("blas" in parts[5] or "lapack" in parts[5] or "mkl" in parts[5]):
                libs.add(parts[5])
    for p in sorted(libs):
        print(f"BLAS mapped={p}")
    verdict = "reference"
    for p in sorted(libs):
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_config.restype = ctypes.c_char_p
            cfg = lib.openblas_get_config().decode()
            print(f"BLAS openblas_config={cfg!r} openblas_threads={lib.openblas_get_num_threads()} lib={p}")
            verdict = "openblas"
            break
        except (OSError, AttributeError):
            continue
    if any("mkl" in p for p in libs):
        verdict = "mkl"
    info = [w for w in torch.__config__.show().replace(",", " ").split() if w.startswith("BLAS_INFO=")]
    print(f"BLAS verdict={verdict} torch={torch.__version__} torch_build_{info[0] if info else 'BLAS_INFO=?'}")
    return 0 if verdict == "openblas" else 5


def run_mlp(args, case):
    torch.manual_seed(1)
    H = args.hidden
    model = torch.nn.Sequential(
        torch.nn.Linear(IN_DIM, H), torch.nn.ReLU(),
        torch.nn.Linear(H, H), torch.nn.ReLU(),
        torch.nn.Linear(H, N_CLASSES),
    )
    if case == "mlp-frozen":
        model[0].requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    if case == "mlp-adamw":
        opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    else:
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(42)
    xs = [torch.rand(args.batch, IN_DIM, generator=g) for _ in range(N_BATCHES)]
    ys = [torch.randint(0, N_CLASSES, (args.batch,), generator=g) for _ in range(N_BATCHES)]

    t = common.train_steps(args, N_BATCHES, opt, lambda k: F.cross_entropy(model(xs[k]), ys[k]))
    common.print_result(case, args, torch.get_num_threads(), t, lambda ms: "")
    return 0


def main():
    ap = common.arg_parser(3, 20, 256, "hidden", 1024, ["mlp-sgd", "mlp-adamw", "mlp-frozen", "blas-check"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.case == "blas-check":
        return blas_check()
    return run_mlp(args, args.case)


if __name__ == "__main__":
    sys.exit(main())
