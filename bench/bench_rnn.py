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
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"NOTORCH {e}")
    sys.exit(4)

import common  # noqa: E402

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

    def forward_loss(k):
        lp = model(xs[k])
        return F.ctc_loss(lp.transpose(0, 1), tgs[k], ils, tls[k], blank=0, reduction="mean")

    t = common.train_steps(args, N_BATCHES, opt, forward_loss)
    n_params = sum(p.numel() for p in model.parameters())
    common.print_result(args.case, args, torch.get_num_threads(), t,
                        lambda ms: f"batch={B} frames={T} seq_s={B * 1e3 / ms:.2f} params={n_params}")
    return 0


def main():
    ap = common.arg_parser(2, 10, 32, "frames", 100, ["bilstm-ctc"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
