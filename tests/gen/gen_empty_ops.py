"""PyTorch reference values for 0-size tensors (a dim of 0) through the engine's ops:
concat with empty pieces, linear/matmul with an empty inner dim (K = 0) or an empty batch,
sum/mean over an empty dim (0 and NaN), softmax over an empty dim, slices that come out
empty, reshape/transpose/permute/expand/gather of empty tensors, a constant pad of an
empty tensor, broadcasting with an empty operand, layer/RMS norm, embedding with no ids,
amax over the kept dims of an empty tensor, convolutions and pools of an empty batch.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_empty_ops.py
Writes tests/fixtures/empty_ops.safetensors (consumed by tests/test_empty_tensors.c).

Each case <c> (listed, comma-separated, in metadata "cases") stores <c>.in<k> for its
inputs in the order the C builder takes them (float32, or int32 ids), <c>.out,
<c>.gout (a fixed random upstream gradient, empty when out is) and, for every float
input, <c>.grad<k> = d sum(out * gout) / d in<k> (torch's zeros where nothing flows
back; empty for an empty input). The C test builds the same graph for each case name
through the public API; the computations below are torch's own ops, so the reference
for "mean over nothing" is torch's NaN, for K = 0 torch's zeros plus the bias.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "empty_ops.safetensors")
GEN = torch.Generator().manual_seed(20261130)
CASES = []


def randn(*shape):
    return torch.randn(tuple(shape), generator=GEN, dtype=torch.float32)


def ids(*values):
    return torch.tensor(values, dtype=torch.int32).reshape(-1) if values else torch.zeros(0, dtype=torch.int32)


def case(name, inputs, fn):
    CASES.append((name, inputs, fn))


def define():
    # concat: an empty piece first, in the middle, all pieces empty
    case("concat_empty_first", [randn(2, 0, 3), randn(2, 4, 3)], lambda a, b: torch.cat([a, b], 1))
    case("concat_empty_middle", [randn(3, 2), randn(0, 2), randn(1, 2)], lambda a, b, c: torch.cat([a, b, c], 0))
    case("concat_all_empty", [randn(0, 2), randn(0, 2)], lambda a, b: torch.cat([a, b], 0))
    # linear: K = 0 (zeros plus the bias), no rows; matmul: K = 0 with and without trans_a, no rows
    case("linear_k0", [randn(3, 0), randn(4, 0), randn(4)], lambda x, w, b: F.linear(x, w, b))
    case("linear_k0_nobias", [randn(2, 5, 0), randn(3, 0)], lambda x, w: F.linear(x, w))
    case("linear_rows0", [randn(0, 5), randn(4, 5), randn(4)], lambda x, w, b: F.linear(x, w, b))
    case("matmul_k0", [randn(2, 3, 0), randn(0, 4)], lambda a, b: torch.matmul(a, b))
    case("matmul_k0_trans_a", [randn(0, 3), randn(0, 2)], lambda a, b: torch.matmul(a.t(), b))
    case("matmul_m0", [randn(0, 3), randn(3, 2)], lambda a, b: torch.matmul(a, b))
    # sum / mean over an empty dim and over everything; over a kept dim of an empty tensor
    case("sum_empty_dim", [randn(3, 0, 2)], lambda x: x.sum(1))
    case("sum_all_empty", [randn(0, 4)], lambda x: x.sum())
    case("sum_keepdim_of_empty", [randn(0, 3)], lambda x: x.sum(1, keepdim=True))
    case("mean_empty_dim", [randn(3, 0, 2)], lambda x: x.mean(1))
    case("mean_all_empty", [randn(0, 4)], lambda x: x.mean())
    case("mean_of_empty", [randn(0, 3)], lambda x: x.mean(1))
    case("amax_of_empty", [randn(0, 3)], lambda x: x.amax(1))
    # softmax over an empty dim and of an empty batch
    case("softmax_empty_dim", [randn(2, 0)], lambda x: torch.softmax(x, 1))
    case("log_softmax_of_empty", [randn(0, 3)], lambda x: torch.log_softmax(x, 1))
    # slices that come out empty (start past the end), slices of empty tensors
    case("slice_to_empty_concat", [randn(4, 3)], lambda x: torch.cat([x[0:2], x[10:20]], 0))
    case("slice_of_empty", [randn(0, 5)], lambda x: x[:, 1:3])
    # layout ops on empty tensors
    case("reshape_empty", [randn(0, 3, 4)], lambda x: x.reshape(3, 4, 0))
    case("transpose_empty", [randn(2, 0, 3)], lambda x: x.transpose(0, 2))
    case("permute_empty", [randn(2, 0, 3)], lambda x: x.permute(1, 2, 0))
    case("expand_to_zero", [randn(1, 3)], lambda x: x.expand(0, 3))
    case("gather_no_indices", [randn(4, 3)], lambda x: torch.index_select(x, 0, torch.zeros(0, dtype=torch.long)))
    case("gather_of_empty", [randn(0, 3)], lambda x: torch.index_select(x, 1, torch.tensor([2, 0])))
    # a constant pad of an empty tensor is all padding; plus a parameter (finite differences)
    case("pad_empty_plus", [randn(0, 3), randn(2, 5)], lambda x, p: F.pad(x, (0, 2, 1, 1), value=0.5) + p)
    # broadcasting with an empty operand; unary ops; where
    case("add_bcast_empty", [randn(0, 3), randn(1, 3)], lambda a, b: a + b)
    case("mul_scalar_empty", [randn(4, 0), randn(1)], lambda a, b: a * b)
    case("exp_empty", [randn(0, 4)], lambda x: torch.exp(x))
    case("where_empty", [(randn(0, 1) > 0).float(), randn(0, 3), randn(3)], lambda c, a, b: torch.where(c != 0, a, b))
    # norms over rows of an empty batch, and over an empty last dim
    case("layer_norm_of_empty", [randn(0, 4), randn(4), randn(4)], lambda x, w, b: F.layer_norm(x, (4,), w, b, 1e-5))
    case("layer_norm_empty_dim", [randn(3, 0), randn(0), randn(0)], lambda x, w, b: F.layer_norm(x, (0,), w, b, 1e-5))
    case("rms_norm_of_empty", [randn(0, 4), randn(4)],
         lambda x, w: w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)))
    # embedding of no ids
    case("embedding_no_ids", [ids(), randn(5, 3)], lambda i, w: F.embedding(i.long(), w))
    # convolutions and pools of an empty batch (the weights get zero gradients): an im2col
    # conv, a Winograd-sized 3x3 conv, a depthwise conv, the pools, constant 2-D padding
    case("conv2d_batch0", [randn(0, 2, 5, 5), randn(3, 2, 3, 3), randn(3)], lambda x, w, b: F.conv2d(x, w, b, 2, 1))
    case("conv2d_3x3_batch0", [randn(0, 2, 8, 8), randn(3, 2, 3, 3)], lambda x, w: F.conv2d(x, w, None, 1, 1))
    case("conv2d_depthwise_batch0", [randn(0, 4, 6, 6), randn(4, 1, 3, 3)], lambda x, w: F.conv2d(x, w, None, 1, 1, 1, 4))
    case("max_pool2d_batch0", [randn(0, 3, 4, 4)], lambda x: F.max_pool2d(x, 2))
    case("avg_pool2d_batch0", [randn(0, 3, 5, 5)], lambda x: F.avg_pool2d(x, 3, 2, 1))
    case("global_avg_pool_batch0", [randn(0, 3, 4, 4)], lambda x: x.mean((2, 3)))
    case("pad2d_batch0", [randn(0, 2, 3, 3)], lambda x: F.pad(x, (1, 2, 0, 1), value=0.25))


def main():
    define()
    tensors, names = {}, []
    for name, inputs, fn in CASES:
        leaves = []
        for k, t in enumerate(inputs):
            tensors["%s.in%d" % (name, k)] = t
            if t.dtype == torch.float32:
                t = t.detach().clone().double().requires_grad_(True)
            leaves.append(t)
        out = fn(*leaves)
        gout = randn(*out.shape)
        (out * gout.double()).sum().backward()
        tensors[name + ".out"] = out.detach().float()
        tensors[name + ".gout"] = gout
        for k, t in enumerate(leaves):
            if t.dtype != torch.float64:
                continue
            g = t.grad if t.grad is not None else torch.zeros_like(t)
            tensors["%s.grad%d" % (name, k)] = g.float()
        names.append(name)
    stio.save(OUT, tensors, {"cases": ",".join(names)})
    print("wrote %s: %d cases, %d tensors" % (OUT, len(names), len(tensors)))


if __name__ == "__main__":
    main()
