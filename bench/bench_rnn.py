#!/usr/bin/python3
"""Recurrent training-step benchmark, PyTorch side (bench/bench_rnn.c is the finetune twin).

    /usr/bin/python3 bench/bench_rnn.py [--threads T] [--warmup W] [--steps N]
                                        [--batch B] [--frames T] bilstm-ctc

bilstm-ctc: torch.nn.LSTM(40, 256, num_layers=2, bidirectional=True, batch_first=True) with its
default init, Linear(512, 29), log_softmax, F.ctc_loss(blank 0, reduction "mean") on the
[T, N, C] transpose. model.train(). torch.optim.AdamW(lr 1e-3, weight_decay 0.01) over all
parameters. 2 in-memory batches used in turn: features ~ U(-1, 1), every sequence T frames,
target lengths ~ U{10..30}, labels ~ U{1..28}. One step = zero_grad(set_to_none=True), forward +
loss, backward, optimizer.step(), each timed with time.perf_counter(); the result is the median
of the timed steps. Prints one RESULT line in bench_rnn.c's format.
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
except ImportError as e:
    print(f"NOTORCH {e}")
    sys.exit(4)

N_BATCHES = 2
FEAT, HID, LAYERS, CLASSES, SMAX = 40, 256, 2, 29, 30


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(FEAT, HID, num_layers=LAYERS, bidirectional=True, batch_first=True)
        self.fc = torch.nn.Linear(2 * HID, CLASSES)

    def forward(self, x):
        y, _ = self.lstm(x)
        return F.log_softmax(self.fc(y), dim=-1)


def run(args):
    torch.manual_seed(1)
    model = Model()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    B, T = args.batch, args.frames
    g = torch.Generator().manual_seed(42)
    xs = [torch.rand(B, T, FEAT, generator=g) * 2 - 1 for _ in range(N_BATCHES)]
    tgs = [torch.randint(1, CLASSES, (B, SMAX), generator=g, dtype=torch.int32) for _ in range(N_BATCHES)]
    tls = [torch.randint(10, 31, (B,), generator=g, dtype=torch.int32) for _ in range(N_BATCHES)]
    ils = torch.full((B,), T, dtype=torch.int32)
    t_step, t_fwd, t_bwd, t_opt = [], [], [], []
    loss_first = loss_last = 0.0
    for s in range(args.warmup + args.steps):
        k = s % N_BATCHES
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        lp = model(xs[k])
        loss = F.ctc_loss(lp.transpose(0, 1), tgs[k], ils, tls[k], blank=0, reduction="mean")
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
    n_params = sum(p.numel() for p in model.parameters())
    print(f"RESULT case={args.case} impl=torch ms={med(t_step):.3f} min={min(t_step):.3f} max={max(t_step):.3f} "
          f"fwd_ms={med(t_fwd):.3f} bwd_ms={med(t_bwd):.3f} opt_ms={med(t_opt):.3f} "
          f"loss_first={loss_first:.4f} loss_last={loss_last:.4f} rss_kb={rss_kb} "
          f"threads={torch.get_num_threads()} steps={args.steps} batch={B} frames={T} seq_s={B * 1e3 / med(t_step):.2f} "
          f"params={n_params} omp_wait_policy={policy}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("case", choices=["bilstm-ctc"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
