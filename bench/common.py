"""What the PyTorch training-step benchmarks share (bench_mlp.py, bench_cnn.py, bench_lm.py,
bench_rnn.py; bench/common.c is the finetune side's twin): the command line, the timed step
loop and the RESULT line that bench/run.sh parses.

The drivers import torch themselves first (printing NOTORCH and exiting 4 without it); this
module uses only what they pass in.
"""
import argparse
import os
import resource
import statistics
import time


def arg_parser(warmup, steps, batch, extra, extra_default, cases):
    """[--threads T] [--warmup W] [--steps N] [--batch B] [--<extra> V] <case>."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--" + extra, type=int, default=extra_default)
    ap.add_argument("case", choices=cases)
    return ap


class Steps:
    """Per-step times (ms) of the timed steps and the first and last loss."""

    def __init__(self):
        self.step, self.fwd, self.bwd, self.opt = [], [], [], []
        self.loss_first = self.loss_last = 0.0


def train_steps(args, n_batches, opt, forward_loss):
    """args.warmup + args.steps steps, batch k = s % n_batches: zero_grad(set_to_none=True),
    forward_loss(k) (forward + loss), backward, opt.step(), each timed with
    time.perf_counter(); the last args.steps count. loss.item() is read outside the timed
    region."""
    t = Steps()
    for s in range(args.warmup + args.steps):
        k = s % n_batches
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = forward_loss(k)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        lv = loss.item()
        if s == 0:
            t.loss_first = lv
        t.loss_last = lv
        if s >= args.warmup:
            t.step.append((t3 - t0) * 1e3)
            t.fwd.append((t1 - t0) * 1e3)
            t.bwd.append((t2 - t1) * 1e3)
            t.opt.append((t3 - t2) * 1e3)
    return t


def print_result(case, args, threads, t, extra):
    """RESULT case=<c> impl=torch ms=<median> ... steps=<N> <extra> omp_wait_policy=<>;
    extra(ms) gives the driver's own fields from the median step time."""
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    med = statistics.median
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    mid = extra(med(t.step))
    print(f"RESULT case={case} impl=torch ms={med(t.step):.3f} min={min(t.step):.3f} max={max(t.step):.3f} "
          f"fwd_ms={med(t.fwd):.3f} bwd_ms={med(t.bwd):.3f} opt_ms={med(t.opt):.3f} "
          f"loss_first={t.loss_first:.4f} loss_last={t.loss_last:.4f} rss_kb={rss_kb} "
          f"threads={threads} steps={args.steps} {mid + ' ' if mid else ''}omp_wait_policy={policy}")
