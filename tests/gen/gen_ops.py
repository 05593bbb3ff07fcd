"""PyTorch reference values for every op of include/finetune/graph.h.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_ops.py
Writes tests/fixtures/ops.safetensors (consumed by the C op tests).

Naming. Each case <c> (all listed, comma-separated, in metadata "cases") stores
  <c>.in0, <c>.in1, ...   inputs in the order of the ft_<op>() builder's arguments
                          (F32, or I32 for ids/targets)
  <c>.out                 the forward output
  <c>.gout                a fixed random upstream gradient, shape of out
  <c>.grad<k>             d sum(out * gout) / d in<k>, for every F32 input k
                          (absent for I32 inputs)
and metadata "<c>" = JSON {"op": <op name as in ft_op_name>, "args": {...},
"n_in": number of inputs, "in_dtypes": ["F32" | "I32", ...]}. The args per op:
  linear        {"bias": bool}                 in0 x [.., in], in1 w [out, in], in2 b [out] if bias
  matmul        {"trans_a": bool, "trans_b": bool}   transposes swap the last two dims
  add/sub/mul/div {}                           broadcasting as torch (in1 broadcast to in0 mostly)
  scale         {"a": float, "b": float}       out = a * x + b
  relu/silu/sigmoid/tanh/softmax/log_softmax {}  (softmax/log_softmax over the last dim)
  gelu          {"tanh": bool}                 false: exact erf form; true: tanh approximation
  cross_entropy {"ignore_index": int, "label_smoothing": float}
                                               in0 logits [N, C], in1 targets I32 [N]; out scalar
                                               (mean over non-ignored targets, torch semantics)
  mse           {}                             out = mean((in0 - in1)^2), scalar
  reshape       {"shape": [...]}               may hold one -1
  transpose     {"dim0": int, "dim1": int}
  slice         {"dim": int, "start": int, "end": int}   end exclusive
  concat        {"dim": int}                   n_in inputs
  sum / mean    {"dim": int | "all", "keepdim": bool}    "all" = FT_ALL_DIMS (out has
                                               shape [] when keepdim is false)
  embedding     {}                             in0 ids I32 [...], in1 weight [V, D]
  layer_norm    {"eps": float}                 in0 x [.., D], in1 gamma [D], in2 beta [D]
Scalars are stored with shape [] (one element).

The references are computed in float64 from the float32 inputs and rounded once to float32,
so they are as exact as float32 can hold. Inputs avoid kinks (ReLU near 0) and small
divisors (div). Inputs are small (<= 64 elements per tensor except a few matmul/linear).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ops.safetensors")
GEN = torch.Generator().manual_seed(20240601)


def randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float32)


def away_from_zero(t, gap=0.1):
    return torch.sign(t) * (t.abs() + gap) + (t == 0).float() * gap


def ints(shape, lo, hi):
    return torch.randint(lo, hi, shape, generator=GEN, dtype=torch.int64).to(torch.int32)


CASES = []  # (name, op, args, inputs, fn)


def case(name, op, args, inputs, fn):
    CASES.append((name, op, args, inputs, fn))


def define():
    # linear
    case("linear", "linear", {"bias": True}, [randn(4, 5), randn(3, 5), randn(3)],
         lambda x, w, b: F.linear(x, w, b))
    case("linear_nobias", "linear", {"bias": False}, [randn(4, 5), randn(3, 5)],
         lambda x, w: F.linear(x, w))
    case("linear_3d", "linear", {"bias": True}, [randn(2, 3, 4), randn(5, 4), randn(5)],
         lambda x, w, b: F.linear(x, w, b))
    # matmul
    def mm(ta, tb):
        def f(a, b):
            return torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)
        return f
    case("matmul", "matmul", {"trans_a": False, "trans_b": False}, [randn(3, 4), randn(4, 5)], mm(0, 0))
    case("matmul_ta", "matmul", {"trans_a": True, "trans_b": False}, [randn(4, 3), randn(4, 5)], mm(1, 0))
    case("matmul_tb", "matmul", {"trans_a": False, "trans_b": True}, [randn(3, 4), randn(5, 4)], mm(0, 1))
    case("matmul_tab", "matmul", {"trans_a": True, "trans_b": True}, [randn(4, 3), randn(5, 4)], mm(1, 1))
    case("matmul_batched", "matmul", {"trans_a": False, "trans_b": False},
         [randn(2, 3, 4), randn(2, 4, 5)], mm(0, 0))
    case("matmul_batched_tb", "matmul", {"trans_a": False, "trans_b": True},
         [randn(2, 3, 4), randn(2, 5, 4)], mm(0, 1))
    # binary, broadcasting
    binops = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    for op, fn in binops.items():
        den = (lambda *s: away_from_zero(randn(*s), 0.5)) if op == "div" else randn
        case(op, op, {}, [randn(3, 4), den(3, 4)], fn)
        case(op + "_bcast_col", op, {}, [randn(2, 3, 4), den(3, 1)], fn)
        case(op + "_bcast_row", op, {}, [randn(2, 3, 4), den(4)], fn)
    case("add_bcast_both", "add", {}, [randn(3, 1), randn(1, 4)], torch.add)
    case("mul_bcast_lhs", "mul", {}, [randn(4), randn(2, 3, 4)], torch.mul)
    # scale
    case("scale", "scale", {"a": 2.5, "b": -0.5}, [randn(3, 4)], lambda x: 2.5 * x - 0.5)
    # unary
    case("relu", "relu", {}, [away_from_zero(randn(3, 5))], F.relu)
    case("gelu", "gelu", {"tanh": False}, [randn(3, 5) * 2], lambda x: F.gelu(x))
    case("gelu_tanh", "gelu", {"tanh": True}, [randn(3, 5) * 2], lambda x: F.gelu(x, approximate="tanh"))
    case("silu", "silu", {}, [randn(3, 5) * 2], F.silu)
    case("sigmoid", "sigmoid", {}, [randn(3, 5) * 2], torch.sigmoid)
    case("tanh", "tanh", {}, [randn(3, 5) * 2], torch.tanh)
    # softmax family
    case("softmax", "softmax", {}, [randn(3, 5) * 2], lambda x: F.softmax(x, -1))
    case("softmax_3d", "softmax", {}, [randn(2, 3, 4) * 3], lambda x: F.softmax(x, -1))
    case("log_softmax", "log_softmax", {}, [randn(3, 5) * 2], lambda x: F.log_softmax(x, -1))
    case("log_softmax_3d", "log_softmax", {}, [randn(2, 3, 4) * 3], lambda x: F.log_softmax(x, -1))
    # losses
    tgt = ints((6,), 0, 5)
    tgt[2] = -100
    tgt[5] = -100
    case("cross_entropy", "cross_entropy", {"ignore_index": -100, "label_smoothing": 0.1},
         [randn(6, 5) * 2, tgt],
         lambda x, y: F.cross_entropy(x, y.long(), ignore_index=-100, label_smoothing=0.1))
    case("cross_entropy_plain", "cross_entropy", {"ignore_index": -100, "label_smoothing": 0.0},
         [randn(4, 7) * 2, ints((4,), 0, 7)],
         lambda x, y: F.cross_entropy(x, y.long(), ignore_index=-100))
    case("mse", "mse", {}, [randn(3, 4), randn(3, 4)], F.mse_loss)
    # shape ops
    case("reshape", "reshape", {"shape": [4, -1]}, [randn(2, 3, 4)], lambda x: x.reshape(4, -1))
    case("reshape_3d", "reshape", {"shape": [3, 2, 2]}, [randn(2, 6)], lambda x: x.reshape(3, 2, 2))
    case("transpose", "transpose", {"dim0": 0, "dim1": 1}, [randn(3, 5)], lambda x: x.transpose(0, 1))
    case("transpose_02", "transpose", {"dim0": 0, "dim1": 2}, [randn(2, 3, 4)], lambda x: x.transpose(0, 2))
    case("transpose_12", "transpose", {"dim0": 1, "dim1": 2}, [randn(2, 3, 4)], lambda x: x.transpose(1, 2))
    case("slice", "slice", {"dim": 1, "start": 1, "end": 4}, [randn(4, 6)], lambda x: x[:, 1:4])
    case("slice_3d", "slice", {"dim": 1, "start": 2, "end": 5}, [randn(2, 5, 3)], lambda x: x[:, 2:5, :])
    case("slice_dim0", "slice", {"dim": 0, "start": 0, "end": 2}, [randn(3, 4)], lambda x: x[0:2])
    case("concat", "concat", {"dim": 1}, [randn(2, 3), randn(2, 2), randn(2, 4)],
         lambda *xs: torch.cat(xs, 1))
    case("concat_3d", "concat", {"dim": 1}, [randn(2, 1, 3), randn(2, 2, 3)], lambda *xs: torch.cat(xs, 1))
    case("concat_dim0", "concat", {"dim": 0}, [randn(1, 4), randn(3, 4)], lambda *xs: torch.cat(xs, 0))
    # reductions
    for op, fn in (("sum", torch.sum), ("mean", torch.mean)):
        case(op + "_dim1", op, {"dim": 1, "keepdim": False}, [randn(2, 3, 4)], lambda x, fn=fn: fn(x, 1))
        case(op + "_dim1_keep", op, {"dim": 1, "keepdim": True}, [randn(2, 3, 4)],
             lambda x, fn=fn: fn(x, 1, keepdim=True))
        case(op + "_dim2_keep", op, {"dim": 2, "keepdim": True}, [randn(2, 3, 4)],
             lambda x, fn=fn: fn(x, 2, keepdim=True))
        case(op + "_dim0", op, {"dim": 0, "keepdim": False}, [randn(3, 5)], lambda x, fn=fn: fn(x, 0))
        case(op + "_all", op, {"dim": "all", "keepdim": False}, [randn(2, 3, 4)], lambda x, fn=fn: fn(x))
        case(op + "_all_keep", op, {"dim": "all", "keepdim": True}, [randn(2, 3)],
             lambda x, fn=fn: fn(x, (0, 1), keepdim=True))
    # embedding (ids repeat, so weight grads accumulate)
    ids = torch.tensor([[1, 4, 1], [0, 5, 4]], dtype=torch.int32)
    case("embedding", "embedding", {}, [ids, randn(6, 4)], lambda i, w: F.embedding(i.long(), w))
    # layer norm
    case("layer_norm", "layer_norm", {"eps": 1e-5}, [randn(3, 8) * 2 + 1, randn(8), randn(8)],
         lambda x, g, b: F.layer_norm(x, (x.shape[-1],), g, b, 1e-5))
    case("layer_norm_3d", "layer_norm", {"eps": 1e-5}, [randn(2, 3, 6), 1 + 0.1 * randn(6), randn(6)],
         lambda x, g, b: F.layer_norm(x, (x.shape[-1],), g, b, 1e-5))


def run(name, op, args, inputs, fn, tensors):
    xs = []
    for t in inputs:
        if t.dtype == torch.float32:
            xs.append(t.double().requires_grad_(True))
        else:
            xs.append(t)
    out = fn(*xs)
    gout = randn(*out.shape) if out.dim() else torch.tensor(1.5, dtype=torch.float32)
    (out * gout.double()).sum().backward()
    for k, t in enumerate(inputs):
        tensors["%s.in%d" % (name, k)] = t
        if t.dtype == torch.float32:
            tensors["%s.grad%d" % (name, k)] = xs[k].grad.float()
    tensors["%s.out" % name] = out.detach().float().contiguous()
    tensors["%s.gout" % name] = gout
    return json.dumps({"op": op, "args": args, "n_in": len(inputs),
                       "in_dtypes": ["F32" if t.dtype == torch.float32 else "I32" for t in inputs]})


def main():
    define()
    tensors, meta = {}, {}
    names = []
    for name, op, args, inputs, fn in CASES:
        assert name not in meta, name
        meta[name] = run(name, op, args, inputs, fn, tensors)
        names.append(name)
    meta["cases"] = ",".join(names)
    meta["generator"] = "tests/gen/gen_ops.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d cases, %d tensors, %d bytes" % (OUT, len(names), len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
