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
import sys

try:
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as e:
    print(f"NOTORCH {e}")
    sys.exit(4)

import common  # noqa: E402

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

    t = common.train_steps(args, N_BATCHES, opt, lambda k: F.cross_entropy(model(xs[k]), ys[k]))
    common.print_result(case, args, torch.get_num_threads(), t,
                        lambda ms: f"batch={args.batch} img_s={args.batch * 1e3 / ms:.2f}")
    return 0


def main():
    ap = common.arg_parser(2, 10, 16, "size", 224, ["resnet18-full", "resnet18-layer4", "resnet18-fc", "mobilenetv2-full"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    return run(args, args.case)


if __name__ == "__main__":
    sys.exit(main())
