"""PyTorch reference values for the structural ops of include/finetune/graph.h: gather,
expand, slice with steps, N-d pad (constant / reflect / edge, negative pads), permute,
conv_transpose2d, conv1d and the 1-D pools.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_shape_ops.py
Writes tests/fixtures/shape_ops.safetensors (consumed by tests/test_shape_ops.c).

Naming as gen_cnn_ops.py: each case <c> (listed in metadata "cases") stores <c>.in0, ...
(the builder's tensor arguments in order, absent ones left out), <c>.out, <c>.gout (a
fixed random upstream gradient) and <c>.grad<k> = d sum(out * gout) / d in<k>; metadata
"<c>" = JSON {"op": name, "args": {...}, "n_in": count}. Args per op:
  gather           {"axis": int, "indices": [flat ints, may be negative], "indices_shape": [...]}
  expand           {"shape": [...]}
  slice            {"dim", "start", "end", "step": int}      (ONNX / Python slice semantics)
  pad              {"pads": [begin_0.., end_0..], "mode": "constant"|"reflect"|"edge", "value"}
  permute          {"perm": [...]}
  conv_transpose2d {"stride": [h,w], "pad": [t,l,b,r], "output_padding": [h,w], "dilation": [h,w],
                    "groups": int, "bias": bool}
  conv1d           {"stride", "dilation", "groups": int, "pad": [left, right], "bias": bool}
  max_pool1d / avg_pool1d {"kernel", "stride": int, "pad": [left, right], "ceil_mode",
                    "count_include_pad": bool}

The references are written independently of the C kernels' formulas: gather is
index_select + reshape, slice steps are Python's slice.indices() (which clamps exactly as
ONNX Slice does) through index_select, reflect/edge pads are numpy.pad of an index grid
after cropping with Python slices, conv_transpose2d is torch's (asymmetric pads crop its
output). Everything runs in float64 from the float32 inputs and is rounded once.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "shape_ops.safetensors")
GEN = torch.Generator().manual_seed(20261129)


def randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float32)


def distinct(*shape):
    n = int(np.prod(shape))
    perm = torch.randperm(n, generator=GEN)
    return ((perm.float() - n / 2) * 0.05).reshape(*shape)


CASES = []


def case(name, op, args, inputs, fn):
    CASES.append((name, op, args, inputs, fn))


def gather_case(name, x, axis, indices, indices_shape):
    def fn(x):
        a = axis % x.dim()
        D = x.shape[a]
        idx = torch.tensor([i + D if i < 0 else i for i in indices], dtype=torch.long)
        y = torch.index_select(x, a, idx)
        return y.reshape(tuple(x.shape[:a]) + tuple(indices_shape) + tuple(x.shape[a + 1:]))
    case(name, "gather", {"axis": axis, "indices": list(indices), "indices_shape": list(indices_shape)}, [x], fn)


def slice_case(name, x, dim, start, end, step):
    def fn(x):
        d = dim % x.dim()
        idx = list(range(*slice(start, end, step).indices(x.shape[d])))
        return torch.index_select(x, d, torch.tensor(idx, dtype=torch.long))
    case(name, "slice", {"dim": dim, "start": start, "end": end, "step": step}, [x], fn)


def pad_case(name, x, pads, mode="constant", value=0.0):
    n = x.dim()

    def fn(x):
        # crop the negative pads first (Python slices), then pad the rest
        crop = tuple(slice(max(-pads[d], 0), x.shape[d] - max(-pads[n + d], 0)) for d in range(n))
        grow = [(max(pads[d], 0), max(pads[n + d], 0)) for d in range(n)]
        xc = x[crop]
        if mode == "constant":
            flat = []
            for d in reversed(range(n)):
                flat += list(grow[d])
            return F.pad(xc, flat, value=value)
        grid = np.arange(xc.numel()).reshape(tuple(xc.shape))
        idx = np.pad(grid, grow, mode=mode)
        return xc.reshape(-1)[torch.from_numpy(idx.reshape(-1))].reshape(idx.shape)
    case(name, "pad", {"pads": list(pads), "mode": mode, "value": value}, [x], fn)


def convt_case(name, x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), output_padding=(0, 0), dilation=(1, 1),
               groups=1):
    args = {"stride": list(stride), "pad": list(pad), "output_padding": list(output_padding),
            "dilation": list(dilation), "groups": groups, "bias": b is not None}

    def fn(x, w, b=None):
        t, l, bo, r = pad
        # torch pads symmetrically: run with no padding, then crop top/left/bottom/right
        y = F.conv_transpose2d(x, w, b, stride, 0, output_padding, groups, dilation)
        return y[:, :, t:y.shape[2] - bo, l:y.shape[3] - r]
    case(name, "conv_transpose2d", args, [x, w] + ([b] if b is not None else []), fn)


def conv1d_case(name, x, w, b=None, stride=1, pad=(0, 0), dilation=1, groups=1):
    args = {"stride": stride, "pad": list(pad), "dilation": dilation, "groups": groups, "bias": b is not None}

    def fn(x, w, b=None):
        return F.conv1d(F.pad(x, list(pad)), w, b, stride, 0, dilation, groups)
    case(name, "conv1d", args, [x, w] + ([b] if b is not None else []), fn)


def pool1d_case(name, op, x, kernel, stride, pad, ceil_mode=False, count_include_pad=True):
    args = {"kernel": kernel, "stride": stride, "pad": list(pad), "ceil_mode": ceil_mode,
            "count_include_pad": count_include_pad}
    assert pad[0] == pad[1]

    def fn(x):
        if op == "max_pool1d":
            return F.max_pool1d(x, kernel, stride, pad[0], ceil_mode=ceil_mode)
        return F.avg_pool1d(x, kernel, stride, pad[0], ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    case(name, op, args, [x], fn)


def define():
    # gather: every axis, 2-D and scalar indices, negative and repeated indices
    gather_case("gather_axis0", randn(5, 3), 0, [4, -1, 0, 2, 4], [5])
    gather_case("gather_axis1_2d_idx", randn(2, 6, 3), 1, [0, 5, -2, 5, 1, 1], [2, 3])
    gather_case("gather_last_scalar", randn(2, 3, 4), -1, [-3], [])
    gather_case("gather_axis2_repeat", randn(2, 3, 4, 2), 2, [3, 3, 3, 0], [2, 2])
    # expand: size-1 dims, new leading dims, a 1 in the target keeps x's dim
    case("expand_broadcast", "expand", {"shape": [2, 3, 4]}, [randn(2, 1, 4)],
         lambda x: x.expand(2, 3, 4))
    case("expand_new_dims", "expand", {"shape": [3, 1, 4, 5]}, [randn(4, 1)],
         lambda x: torch.broadcast_to(x, torch.broadcast_shapes(x.shape, (3, 1, 4, 5))))
    case("expand_keep_with_ones", "expand", {"shape": [1, 1, 1]}, [randn(3, 1, 2)], lambda x: x * 1)
    case("expand_lead_bcast", "expand", {"shape": [2, 4, 3, 5]}, [randn(1, 4, 1, 5)],
         lambda x: x.expand(2, 4, 3, 5))
    # slice with steps (ONNX clamping: out-of-range bounds, INT64_MAX / INT64_MIN ends)
    slice_case("slice_step2", randn(2, 9, 3), 1, 1, 8, 2)
    slice_case("slice_step3_clamped", randn(3, 10), -1, -100, 100, 3)
    slice_case("slice_neg_step", randn(2, 7, 2), 1, -1, -(2 ** 63), -1)
    slice_case("slice_neg_step2", randn(4, 9), 1, 7, 1, -2)
    slice_case("slice_neg_step_clamped", randn(2, 6), 1, 2 ** 63 - 1, -(2 ** 63), -4)
    slice_case("slice_step1_int64max", randn(2, 5, 3), 1, 2, 2 ** 63 - 1, 1)
    slice_case("slice_first_dim_step", randn(6, 2), 0, 0, 6, 2)
    # pad: N-d, every mode, negative pads crop
    pad_case("pad_const_nd", randn(2, 3, 4), [0, 1, 2, 0, 2, 1], "constant", 0.5)
    pad_case("pad_const_negative", randn(2, 5, 6), [0, -1, 2, 0, 1, -3], "constant", -1.0)
    pad_case("pad_reflect_2d", randn(2, 3, 4, 5), [0, 0, 2, 1, 0, 0, 1, 3], "reflect")
    pad_case("pad_reflect_leading", randn(2, 4, 3), [0, 2, 1, 0, 3, 2], "reflect")
    pad_case("pad_edge", randn(2, 3, 4, 3), [0, 1, 3, 0, 0, 2, 1, 2], "edge")
    pad_case("pad_edge_crop", randn(2, 6, 5), [0, -2, 2, 0, 3, -1], "edge")
    pad_case("pad_reflect_crop", randn(1, 7), [0, -2, 0, 3], "reflect")
    # permute
    case("permute_0213", "permute", {"perm": [0, 2, 1, 3]}, [randn(2, 3, 4, 5)], lambda x: x.permute(0, 2, 1, 3))
    case("permute_cycle", "permute", {"perm": [2, 0, 1]}, [randn(3, 4, 5)], lambda x: x.permute(2, 0, 1))
    case("permute_5d", "permute", {"perm": [0, 4, 2, 3, 1]}, [randn(2, 3, 2, 2, 4)], lambda x: x.permute(0, 4, 2, 3, 1))
    # conv_transpose2d (asymmetric pads, output_padding, groups, dilation; a plane large
    # enough for nb == 1), conv1d and the 1-D pools
    convt_case("convt", randn(2, 3, 4, 4), randn(3, 2, 3, 3), randn(2), pad=(1, 1, 1, 1))
    convt_case("convt_s2", randn(2, 4, 3, 5), randn(4, 3, 3, 3), randn(3), stride=(2, 2), pad=(1, 1, 1, 1),
               output_padding=(1, 1))
    convt_case("convt_nobias_s2k4", randn(1, 3, 4, 4), randn(3, 2, 4, 4), None, stride=(2, 2), pad=(1, 1, 1, 1))
    convt_case("convt_groups_dil", randn(2, 4, 5, 4), randn(4, 3, 3, 2), randn(6), stride=(1, 2), pad=(0, 1, 2, 0),
               output_padding=(0, 1), dilation=(2, 1), groups=2)
    convt_case("convt_1x1", randn(2, 5, 3, 3), randn(5, 4, 1, 1), randn(4))
    convt_case("convt_big_plane", randn(2, 3, 32, 33), randn(3, 2, 3, 3), randn(2), stride=(2, 2), pad=(1, 1, 1, 1))
    conv1d_case("conv1d", randn(2, 3, 16), randn(4, 3, 5), randn(4), pad=(2, 2))
    conv1d_case("conv1d_s2_asym", randn(2, 4, 15), randn(6, 2, 3), None, stride=2, pad=(0, 1), groups=2)
    conv1d_case("conv1d_dil_depthwise", randn(1, 3, 20), randn(3, 1, 3), randn(3), pad=(2, 2), dilation=2, groups=3)
    pool1d_case("max_pool1d", "max_pool1d", distinct(2, 3, 11), 3, 2, (1, 1))
    pool1d_case("max_pool1d_ceil", "max_pool1d", distinct(1, 2, 10), 3, 2, (0, 0), ceil_mode=True)
    pool1d_case("avg_pool1d", "avg_pool1d", randn(2, 3, 11), 3, 2, (1, 1))
    pool1d_case("avg_pool1d_excl", "avg_pool1d", randn(2, 2, 9), 4, 1, (2, 2), count_include_pad=False)


def run(name, op, args, inputs, fn, tensors):
    xs = [t.double().clone().requires_grad_(True) for t in inputs]
    out = fn(*xs)
    gout = randn(*out.shape)
    (out * gout.double()).sum().backward()
    for k, t in enumerate(inputs):
        tensors["%s.in%d" % (name, k)] = t
        tensors["%s.grad%d" % (name, k)] = xs[k].grad.float()
    tensors["%s.out" % name] = out.detach().float().contiguous()
    tensors["%s.gout" % name] = gout
    return json.dumps({"op": op, "args": args, "n_in": len(inputs)})


def main():
    define()
    tensors, meta, names = {}, {}, []
    for name, op, args, inputs, fn in CASES:
        assert name not in meta, name
        meta[name] = run(name, op, args, inputs, fn, tensors)
        names.append(name)
    meta["cases"] = ",".join(names)
    meta["generator"] = "tests/gen/gen_shape_ops.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d cases, %d tensors, %d bytes" % (OUT, len(names), len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
