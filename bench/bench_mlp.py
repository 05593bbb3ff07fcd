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
import argparse
import ctypes
import os
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # run.sh checks this first; keep the message plain
    print(f"NOTORCH {e}")
    sys.exit(4)

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

    t_step, t_fwd, t_bwd, t_opt = [], [], [], []
    loss_first = loss_last = 0.0
    total = args.warmup + args.steps
    for s in range(total):
        k = s % N_BATCHES
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs[k]), ys[k])
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        lv = loss.item()  # outside the timed region
        if s == 0:
            loss_first = lv
        loss_last = lv
        if s >= args.warmup:
            t_step.append((t3 - t0) * 1e3)
            t_fwd.append((t1 - t0) * 1e3)
            t_bwd.append((t2 - t1) * 1e3)
            t_opt.append((t3 - t2) * 1e3)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    med = statistics.median
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    print(f"RESULT case={case} impl=torch ms={med(t_step):.3f} min={min(t_step):.3f} max={max(t_step):.3f} "
          f"fwd_ms={med(t_fwd):.3f} bwd_ms={med(t_bwd):.3f} opt_ms={med(t_opt):.3f} "
          f"loss_first={loss_first:.4f} loss_last={loss_last:.4f} rss_kb={rss_kb} "
          f"threads={torch.get_num_threads()} steps={args.steps} omp_wait_policy={policy}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("case", choices=["mlp-sgd", "mlp-adamw", "mlp-frozen", "blas-check"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.case == "blas-check":
        return blas_check()
    return run_mlp(args, args.case)


if __name__ == "__main__":
    sys.exit(main())
