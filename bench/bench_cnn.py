#!/usr/bin/python3
"""CNN training-step benchmark, PyTorch side (bench/bench_cnn.c is the finetune twin).

    /usr/bin/python3 bench/bench_cnn.py [--threads T] [--warmup W] [--steps N]
                                        [--batch B] [--size S] <case>
    cases: resnet18-full | resnet18-layer4 | resnet18-fc | mobilenetv2-full

torchvision 0.14's resnet18 / mobilenet_v2 (1000 classes, default init), model.train() (batch
norm uses batch statistics and updates its running stats, frozen layers included), frozen
parameters via requires_grad_(False). SGD lr 0.01, momentum 0.9, on the trainable parameters.
2 in-memory batches, x ~ U[-2,2), labels ~ U{0..999}, used in turn. One step =
zero_grad(set_to_none=True), forward, cross_entropy, backward, optimizer.step(). Each step is
timed with time.perf_counter(); the result is the median of the timed steps.
"""
import argparse
import os
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as e:
    print(f"NOTORCH {e}")
    sys.exit(4)

N_BATCHES = 2
N_CLASSES = 1000


def run(args, case):
    torch.manual_seed(1)
    if case.startswith("resnet18"):
        model = torchvision.models.resnet18(num_classes=N_CLASSES)
    else:
        model = torchvision.models.mobilenet_v2(num_classes=N_CLASSES)
    model.train()
    if case in ("resnet18-layer4", "resnet18-fc"):
        keep = ("layer4.", "fc.") if case == "resnet18-layer4" else ("fc.",)
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(keep))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(42)
    xs = [torch.rand(args.batch, 3, args.size, args.size, generator=g) * 4 - 2 for _ in range(N_BATCHES)]
    ys = [torch.randint(0, N_CLASSES, (args.batch,), generator=g) for _ in range(N_BATCHES)]

    t_step, t_fwd, t_bwd, t_opt = [], [], [], []
    loss_first = loss_last = 0.0
    for s in range(args.warmup + args.steps):
        k = s % N_BATCHES
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs[k]), ys[k])
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        lv = loss.item()
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
          f"threads={torch.get_num_threads()} steps={args.steps} batch={args.batch} img_s={args.batch * 1e3 / med(t_step):.2f} "
          f"omp_wait_policy={policy}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("case", choices=["resnet18-full", "resnet18-layer4", "resnet18-fc", "mobilenetv2-full"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    return run(args, args.case)


if __name__ == "__main__":
    sys.exit(main())
