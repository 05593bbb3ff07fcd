"""PyTorch reference values for the CNN ops of include/finetune/graph.h.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_cnn_ops.py
Writes tests/fixtures/cnn_ops.safetensors (consumed by tests/test_cnn_ops.c).

Naming as gen_ops.py. Each case <c> (all listed, comma-separated, in metadata "cases") stores
  <c>.in0, <c>.in1, ...   inputs in the order of the ft_<op>() builder's arguments, absent
                          (NULL) arguments left out
  <c>.out                 the forward output
  <c>.gout                a fixed random upstream gradient, shape of out
  <c>.grad<k>             d sum(out * gout) / d in<k>, for every input that is not a buffer
  <c>.running_mean, <c>.running_var   batch_norm with running stats: their values after
                          the one forward (updated in training mode, unchanged in eval)
and metadata "<c>" = JSON {"op": <ft_op_name>, "args": {...}, "n_in": number of inputs,
"in_dtypes": ["F32", ...], "buffers": [indices of inputs that are buffer parameters]}.
The args per op:
  conv2d      {"stride": [h, w], "pad": [top, left, bottom, right], "dilation": [h, w],
               "groups": int, "bias": bool}     in0 x [N,C,H,W], in1 w [O,C/g,kh,kw], in2 b [O]
  batch_norm  {"eps", "momentum": float, "affine", "running", "training", "frozen_stats": bool}
               in0 x, then gamma, beta (affine), then running_mean, running_var (running;
               buffers). "training": torch module.train(); false = module.eval(), which the C
               test runs both as frozen_stats in a training plan and as an eval plan.
  max_pool2d / avg_pool2d  {"kernel": [h, w], "stride": [h, w], "pad": [t, l, b, r],
               "ceil_mode": bool, "count_include_pad": bool}
  global_avg_pool {"keepdim": bool}
  pad2d       {"pad": [t, l, b, r], "value": float}
  relu6 / hardswish / hardsigmoid {}
Asymmetric padding (TF "same") has no torch argument: those references pad explicitly with
F.pad (-inf for max pool) and pool/convolve unpadded; the "same" average pool divides the
window sum by the window's count of real elements.

References are computed in float64 from the float32 inputs and rounded once. Max-pool
inputs are distinct values (no ties); activation inputs keep clear of the kinks.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "cnn_ops.safetensors")
GEN = torch.Generator().manual_seed(20240702)


def randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float32)


def distinct(*shape):
    """A shuffled grid of values 0.05 apart: no ties in any window."""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=GEN)
    return ((perm.float() - n / 2) * 0.05).reshape(*shape)


def away(t, kinks, gap=0.1):
    """Move values within gap of a kink to kink +- gap."""
    t = t.clone()
    for k in kinks:
        near = (t - k).abs() < gap
        t[near] = k + torch.where(t[near] >= k, torch.tensor(gap), torch.tensor(-gap))
    return t


CASES = []  # (name, op, args, inputs, buffers, fn)


def case(name, op, args, inputs, fn, buffers=()):
    CASES.append((name, op, args, inputs, list(buffers), fn))


def conv_case(name, x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    args = {"stride": list(stride), "pad": list(pad), "dilation": list(dilation), "groups": groups,
            "bias": b is not None}

    def fn(x, w, b=None):
        t, l, bo, r = pad
        if t == bo and l == r:
            return F.conv2d(x, w, b, stride, (t, l), dilation, groups)
        return F.conv2d(F.pad(x, (l, r, t, bo)), w, b, stride, 0, dilation, groups)
    case(name, "conv2d", args, [x, w] + ([b] if b is not None else []), fn)


def pool_case(name, op, x, kernel, stride, pad, ceil_mode=False, count_include_pad=True):
    args = {"kernel": list(kernel), "stride": list(stride), "pad": list(pad), "ceil_mode": ceil_mode,
            "count_include_pad": count_include_pad}
    t, l, b, r = pad

    def fn(x):
        if op == "max_pool2d":
            if t == b and l == r:
                return F.max_pool2d(x, kernel, stride, (t, l), ceil_mode=ceil_mode)
            return F.max_pool2d(F.pad(x, (l, r, t, b), value=float("-inf")), kernel, stride, 0, ceil_mode=ceil_mode)
        if t == b and l == r:
            return F.avg_pool2d(x, kernel, stride, (t, l), ceil_mode=ceil_mode, count_include_pad=count_include_pad)
        # asymmetric: window sums over the zero-padded input, divided by the counts
        assert not ceil_mode
        xp = F.pad(x, (l, r, t, b))
        s = F.avg_pool2d(xp, kernel, stride, 0, divisor_override=1)
        if count_include_pad:
            return s / (kernel[0] * kernel[1])
        ones = F.pad(torch.ones_like(x[:1, :1]), (l, r, t, b))
        return s / F.avg_pool2d(ones, kernel, stride, 0, divisor_override=1)
    case(name, op, args, [x], fn)


def bn_case(name, x, affine=True, running=True, training=True, eps=1e-5, momentum=0.1):
    C = x.shape[1]
    inputs = [x]
    if affine:
        inputs += [1 + 0.3 * randn(C), 0.5 * randn(C)]
    buffers = []
    if running:
        buffers = [len(inputs), len(inputs) + 1]
        inputs += [0.3 * randn(C), 0.5 + torch.rand(C, generator=GEN)]
    args = {"eps": eps, "momentum": momentum, "affine": affine, "running": running, "training": training,
            "frozen_stats": False}

    def fn(*a):
        x = a[0]
        g, b = (a[1], a[2]) if affine else (None, None)
        rm, rv = (a[-2], a[-1]) if running else (None, None)
        return F.batch_norm(x, rm, rv, g, b, training or not running, momentum, eps)
    case(name, "batch_norm", args, inputs, fn, buffers)


def define():
    # conv2d: every path of src/ops/conv.c (chunked GEMM with nb > 1 for small planes,
    # nb == 1 for planes of >= 1024 outputs, the direct 1x1 path, depthwise)
    conv_case("conv", randn(2, 3, 6, 6), randn(4, 3, 3, 3), randn(4), pad=(1, 1, 1, 1))
    conv_case("conv_nobias", randn(3, 2, 5, 5), randn(4, 2, 3, 3))
    conv_case("conv_stride2", randn(2, 3, 7, 7), randn(4, 3, 3, 3), randn(4), stride=(2, 2), pad=(1, 1, 1, 1))
    conv_case("conv_same_asym", randn(2, 2, 6, 5), randn(3, 2, 3, 3), randn(3), stride=(2, 2), pad=(0, 0, 1, 1))
    conv_case("conv_same_asym2", randn(1, 2, 5, 6), randn(3, 2, 4, 2), None, pad=(1, 0, 2, 1))
    conv_case("conv_dilation2", randn(2, 2, 8, 8), randn(3, 2, 3, 3), randn(3), pad=(2, 2, 2, 2), dilation=(2, 2))
    conv_case("conv_groups2", randn(2, 4, 5, 5), randn(6, 2, 3, 3), randn(6), pad=(1, 1, 1, 1), groups=2)
    conv_case("conv_rect", randn(2, 3, 7, 9), randn(2, 3, 1, 3), randn(2), stride=(2, 1), pad=(0, 2, 0, 2),
              dilation=(1, 2))
    conv_case("conv_stem7x7", randn(1, 3, 12, 12), randn(4, 3, 7, 7), None, stride=(2, 2), pad=(3, 3, 3, 3))
    conv_case("conv_1x1", randn(3, 4, 5, 5), randn(3, 4, 1, 1), randn(3))
    conv_case("conv_1x1_stride2", randn(2, 4, 6, 6), randn(5, 4, 1, 1), None, stride=(2, 2))
    conv_case("conv_1x1_groups2", randn(2, 4, 3, 3), randn(6, 2, 1, 1), randn(6), groups=2)
    conv_case("conv_big_plane", randn(2, 2, 32, 32), randn(3, 2, 3, 3), randn(3), pad=(1, 1, 1, 1))
    conv_case("conv_1x1_big_plane", randn(2, 3, 32, 32), randn(4, 3, 1, 1), randn(4))
    conv_case("conv_chunk_tail", randn(4, 2, 20, 20), randn(3, 2, 3, 3), randn(3), pad=(1, 1, 1, 1))
    conv_case("conv_depthwise", randn(2, 4, 6, 6), randn(4, 1, 3, 3), randn(4), pad=(1, 1, 1, 1), groups=4)
    conv_case("conv_depthwise_s2", randn(2, 4, 7, 7), randn(4, 1, 3, 3), None, stride=(2, 2), pad=(1, 1, 1, 1),
              groups=4)
    conv_case("conv_depthwise_same", randn(1, 3, 8, 7), randn(3, 1, 5, 5), randn(3), stride=(2, 2),
              pad=(1, 1, 2, 2), groups=3)
    conv_case("conv_depthwise_dil", randn(2, 3, 9, 9), randn(3, 1, 3, 3), randn(3), pad=(2, 2, 2, 2),
              dilation=(2, 2), groups=3)
    conv_case("conv_depthwise_s3", randn(1, 2, 10, 11), randn(2, 1, 3, 3), randn(2), stride=(3, 3),
              pad=(1, 1, 1, 1), groups=2)
    # batch norm
    bn_case("bn_train", randn(3, 4, 5, 5) * 2 + 1)
    bn_case("bn_train_2d", randn(6, 5) * 1.5 - 0.5)
    bn_case("bn_train_noaffine", randn(2, 3, 4, 4) + 0.5, affine=False, momentum=0.3)
    bn_case("bn_eval", randn(2, 4, 3, 3) * 2, training=False)
    bn_case("bn_eval_noaffine", randn(2, 3, 3, 3), affine=False, training=False, eps=1e-3)
    bn_case("bn_no_running", randn(2, 3, 4, 4) * 3, running=False)
    # pools
    pool_case("max_pool_3x3s2p1", "max_pool2d", distinct(2, 3, 9, 9), (3, 3), (2, 2), (1, 1, 1, 1))
    pool_case("max_pool_2x2", "max_pool2d", distinct(2, 2, 6, 6), (2, 2), (2, 2), (0, 0, 0, 0))
    pool_case("max_pool_ceil", "max_pool2d", distinct(1, 2, 8, 8), (3, 3), (2, 2), (0, 0, 0, 0), ceil_mode=True)
    pool_case("max_pool_ceil_pad", "max_pool2d", distinct(1, 2, 7, 8), (3, 2), (2, 2), (1, 1, 1, 1), ceil_mode=True)
    pool_case("max_pool_same_asym", "max_pool2d", distinct(1, 3, 6, 6), (3, 3), (2, 2), (0, 0, 1, 1))
    pool_case("avg_pool_incl", "avg_pool2d", randn(2, 3, 7, 7), (3, 3), (2, 2), (1, 1, 1, 1))
    pool_case("avg_pool_excl", "avg_pool2d", randn(2, 3, 7, 7), (3, 3), (2, 2), (1, 1, 1, 1),
              count_include_pad=False)
    pool_case("avg_pool_ceil_incl", "avg_pool2d", randn(1, 2, 8, 8), (3, 3), (2, 2), (1, 1, 1, 1), ceil_mode=True)
    pool_case("avg_pool_ceil_excl", "avg_pool2d", randn(1, 2, 8, 8), (3, 3), (2, 2), (1, 1, 1, 1), ceil_mode=True,
              count_include_pad=False)
    pool_case("avg_pool_ceil_nopad", "avg_pool2d", randn(1, 2, 7, 7), (2, 2), (2, 2), (0, 0, 0, 0), ceil_mode=True)
    pool_case("avg_pool_2x2", "avg_pool2d", randn(2, 2, 6, 4), (2, 2), (2, 2), (0, 0, 0, 0))
    pool_case("avg_pool_same_asym", "avg_pool2d", randn(1, 2, 6, 5), (3, 3), (2, 2), (0, 1, 1, 1),
              count_include_pad=False)
    pool_case("avg_pool_same_s1", "avg_pool2d", randn(1, 2, 5, 5), (3, 3), (1, 1), (1, 1, 1, 1),
              count_include_pad=False)
    case("global_avg_pool", "global_avg_pool", {"keepdim": False}, [randn(2, 3, 4, 5)], lambda x: x.mean((2, 3)))
    case("global_avg_pool_keep", "global_avg_pool", {"keepdim": True}, [randn(2, 3, 3, 3)],
         lambda x: x.mean((2, 3), keepdim=True))
    case("pad2d", "pad2d", {"pad": [1, 2, 0, 1], "value": 0.5}, [randn(2, 3, 4, 3)],
         lambda x: F.pad(x, (2, 1, 1, 0), value=0.5))
    case("pad2d_zero", "pad2d", {"pad": [0, 1, 1, 0], "value": 0.0}, [randn(2, 5, 3)],
         lambda x: F.pad(x, (1, 0, 0, 1)))
    # activations
    case("relu6", "relu6", {}, [away(randn(4, 6) * 4 + 2, (0, 6))], F.relu6)
    case("hardswish", "hardswish", {}, [away(randn(4, 6) * 3, (-3, 3))], F.hardswish)
    case("hardsigmoid", "hardsigmoid", {}, [away(randn(4, 6) * 3, (-3, 3))], F.hardsigmoid)


def run(name, op, args, inputs, buffers, fn, tensors):
    xs = []
    for k, t in enumerate(inputs):
        xs.append(t.double().clone().requires_grad_(k not in buffers))
    out = fn(*xs)
    gout = randn(*out.shape)
    (out * gout.double()).sum().backward()
    for k, t in enumerate(inputs):
        tensors["%s.in%d" % (name, k)] = t
        if k not in buffers:
            tensors["%s.grad%d" % (name, k)] = xs[k].grad.float()
    if op == "batch_norm" and args["running"]:
        tensors["%s.running_mean" % name] = xs[-2].detach().float()
        tensors["%s.running_var" % name] = xs[-1].detach().float()
    tensors["%s.out" % name] = out.detach().float().contiguous()
    tensors["%s.gout" % name] = gout
    return json.dumps({"op": op, "args": args, "n_in": len(inputs), "in_dtypes": ["F32"] * len(inputs),
                       "buffers": buffers})


def main():
    define()
    tensors, meta = {}, {}
    names = []
    for name, op, args, inputs, buffers, fn in CASES:
        assert name not in meta, name
        meta[name] = run(name, op, args, inputs, buffers, fn, tensors)
        names.append(name)
    meta["cases"] = ",".join(names)
    meta["generator"] = "tests/gen/gen_cnn_ops.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d cases, %d tensors, %d bytes" % (OUT, len(names), len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
