"""PyTorch reference values for the ONNX math ops of include/finetune/graph.h (exp, log,
sqrt, abs, neg, erf, reciprocal, leaky_relu, prelu, clip, pow, maximum/minimum, where, the
comparisons, reduce_max/min, softmax/log_softmax over any dim), with the inputs at the
points where torch fixes a gradient convention: abs and leaky_relu at 0, clip on its
boundaries, maximum/minimum ties (torch 1.13 gives each operand half), amax/amin ties
(split evenly), pow with exponent 0 and base 0.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_math_ops.py
Writes tests/fixtures/math_ops.safetensors (consumed by tests/test_ops_torch.c), with the
naming of tests/gen/gen_ops.py: <c>.in<k>, <c>.out, <c>.gout, <c>.grad<k> and metadata
"<c>" = {"op", "args", "n_in", "in_dtypes"}. Differences:
  - an F32 input without a gradient in torch (where's condition, comparison operands) has
    no <c>.grad<k>; the test checks that input's gradient only where the tensor exists;
  - "no_grad": true marks ops whose output has no gradient (comparisons): the test runs
    forward only.
Args per op:
  exp/log/sqrt/abs/neg/erf/reciprocal {}
  leaky_relu   {"alpha": float}
  prelu        {}                                in0 x, in1 slope (broadcast to x)
  clip         {"min": float|null, "max": float|null}   null = no bound
  pow_scalar   {"exponent": float}
  pow, maximum, minimum {}                       two broadcasting operands
  where        {}                                in0 cond (F32, nonzero = true), in1 a, in2 b
  equal/greater/greater_equal/less/less_equal {} two broadcasting operands, float 0/1 out
  reduce_max/reduce_min {"dims": [...], "keepdim": bool}   [] = all dims
  softmax/log_softmax {"dim": int}
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "math_ops.safetensors")
GEN = torch.Generator().manual_seed(20261129)


def randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float32)


def away_from_zero(t, gap=0.1):
    return torch.sign(t) * (t.abs() + gap) + (t == 0).float() * gap


def positive(*shape):
    return randn(*shape).abs() + 0.2


def with_zeros(t, every=4):
    t = t.clone()
    t.view(-1)[::every] = 0
    return t


def rounded(*shape, scale=2.0):
    """Values on a coarse grid, so ties are frequent and exact."""
    return torch.round(randn(*shape) * scale) / 2


CASES = []  # (name, op, args, inputs, fn, grad_mask, no_grad)


def case(name, op, args, inputs, fn, grad_mask=None, no_grad=False):
    CASES.append((name, op, args, inputs, fn, grad_mask, no_grad))


def define():
    # unary
    case("exp", "exp", {}, [randn(3, 5)], torch.exp)
    case("log", "log", {}, [positive(3, 5)], torch.log)
    case("sqrt", "sqrt", {}, [positive(3, 5)], torch.sqrt)
    case("abs", "abs", {}, [with_zeros(randn(3, 5))], torch.abs)
    case("neg", "neg", {}, [randn(3, 5)], torch.neg)
    case("erf", "erf", {}, [randn(3, 5) * 1.5], torch.erf)
    case("reciprocal", "reciprocal", {}, [away_from_zero(randn(3, 5), 0.3)], torch.reciprocal)
    case("leaky_relu", "leaky_relu", {"alpha": 0.01}, [with_zeros(randn(3, 5))], lambda x: F.leaky_relu(x, 0.01))
    case("leaky_relu_02", "leaky_relu", {"alpha": 0.2}, [with_zeros(randn(2, 3, 4))], lambda x: F.leaky_relu(x, 0.2))
    # prelu: ONNX slope layouts; torch's prelu takes a [C] weight for dim 1, so compute it
    # from the formula with the same broadcasting (values and gradients are torch's).
    def prelu(x, w):
        return torch.where(x > 0, x, w * x)
    case("prelu_c11", "prelu", {}, [with_zeros(randn(2, 3, 4, 2)), randn(3, 1, 1)], prelu)
    case("prelu_vec", "prelu", {}, [with_zeros(randn(4, 3)), randn(3)], prelu)
    case("prelu_scalar", "prelu", {}, [randn(2, 5), randn(1)], prelu)
    case("prelu_torch", "prelu", {}, [with_zeros(randn(2, 3, 4)), randn(1)], lambda x, w: F.prelu(x, w))
    # clip, boundaries included in the gradient
    xc = randn(3, 6)
    xc.view(-1)[0] = -0.5
    xc.view(-1)[1] = 0.5
    case("clip", "clip", {"min": -0.5, "max": 0.5}, [xc], lambda x: torch.clamp(x, -0.5, 0.5))
    case("clip_min", "clip", {"min": -0.25, "max": None}, [with_zeros(randn(3, 4)) - 0.25], lambda x: torch.clamp(x, min=-0.25))
    case("clip_max", "clip", {"min": None, "max": 0.0}, [with_zeros(randn(3, 4))], lambda x: torch.clamp(x, max=0.0))
    # pow with a scalar exponent
    case("pow_2", "pow_scalar", {"exponent": 2.0}, [with_zeros(randn(3, 5))], lambda x: torch.pow(x, 2.0))
    case("pow_3", "pow_scalar", {"exponent": 3.0}, [with_zeros(randn(3, 5))], lambda x: torch.pow(x, 3.0))
    case("pow_half", "pow_scalar", {"exponent": 0.5}, [positive(3, 5)], lambda x: torch.pow(x, 0.5))
    case("pow_m1", "pow_scalar", {"exponent": -1.0}, [away_from_zero(randn(3, 5), 0.3)], lambda x: torch.pow(x, -1.0))
    case("pow_1_5", "pow_scalar", {"exponent": 1.5}, [positive(3, 5)], lambda x: torch.pow(x, 1.5))
    case("pow_0", "pow_scalar", {"exponent": 0.0}, [with_zeros(randn(3, 5))], lambda x: torch.pow(x, 0.0))
    # pow with two operands: base 0 with exponents >= 1 and 0, exponent 0
    a = torch.tensor([[0.0, 1.5, 2.0], [0.5, 0.0, 3.0]])
    b = torch.tensor([[2.0, 0.5, -1.0], [1.0, 3.0, 0.0]])
    case("pow_edges", "pow", {}, [a, b], torch.pow)
    case("pow_bcast", "pow", {}, [positive(2, 3, 4), randn(3, 1)], torch.pow)
    case("pow_bcast_base", "pow", {}, [positive(4), randn(2, 3, 4)], torch.pow)
    # maximum / minimum with ties, broadcasting
    case("maximum_ties", "maximum", {}, [rounded(3, 4), rounded(3, 4)], torch.maximum)
    case("minimum_ties", "minimum", {}, [rounded(3, 4), rounded(3, 4)], torch.minimum)
    case("maximum_bcast", "maximum", {}, [rounded(2, 3, 4), rounded(4)], torch.maximum)
    case("minimum_bcast", "minimum", {}, [rounded(2, 1, 4), rounded(3, 1)], torch.minimum)
    case("maximum_scalar", "maximum", {}, [randn(2, 3, 2, 2), torch.tensor([0.0])], torch.maximum)
    # where: condition as float (nonzero = true), broadcast over all three
    cond = (randn(3, 4) > 0).float()
    case("where", "where", {}, [cond, randn(3, 4), randn(3, 4)],
         lambda c, x, y: torch.where(c != 0, x, y), grad_mask=[False, True, True])
    cond = (randn(3, 1) > 0).float()
    cond[0, 0], cond[1, 0] = 1.0, 0.0
    case("where_bcast", "where", {}, [cond, randn(2, 3, 4), randn(4)],
         lambda c, x, y: torch.where(c != 0, x, y), grad_mask=[False, True, True])
    # comparisons (forward only), with equal values present
    cmps = {"equal": torch.eq, "greater": torch.gt, "greater_equal": torch.ge, "less": torch.lt, "less_equal": torch.le}
    for op, fn in cmps.items():
        case(op, op, {}, [rounded(3, 4), rounded(3, 4)], lambda x, y, fn=fn: fn(x, y).float(), no_grad=True)
        case(op + "_bcast", op, {}, [rounded(2, 3, 4), rounded(3, 1)], lambda x, y, fn=fn: fn(x, y).float(), no_grad=True)
    # reduce_max / reduce_min, ties split evenly
    for op, fn in (("reduce_max", torch.amax), ("reduce_min", torch.amin)):
        case(op + "_12", op, {"dims": [1, 2], "keepdim": False}, [rounded(2, 3, 4)], lambda x, fn=fn: fn(x, (1, 2)))
        case(op + "_1_keep", op, {"dims": [1], "keepdim": True}, [rounded(2, 3, 4)], lambda x, fn=fn: fn(x, 1, keepdim=True))
        case(op + "_02_keep", op, {"dims": [0, 2], "keepdim": True}, [rounded(2, 3, 4)],
             lambda x, fn=fn: fn(x, (0, 2), keepdim=True))
        case(op + "_all", op, {"dims": [], "keepdim": False}, [rounded(3, 4)], lambda x, fn=fn: fn(x, (0, 1)))
        case(op + "_last", op, {"dims": [-1], "keepdim": False}, [randn(2, 3, 5)], lambda x, fn=fn: fn(x, -1))
    # softmax / log_softmax over any dim
    case("softmax_d0", "softmax", {"dim": 0}, [randn(3, 4) * 2], lambda x: F.softmax(x, 0))
    case("softmax_d1", "softmax", {"dim": 1}, [randn(2, 3, 4) * 2], lambda x: F.softmax(x, 1))
    case("softmax_d1_4d", "softmax", {"dim": 1}, [randn(2, 3, 2, 2) * 2], lambda x: F.softmax(x, 1))
    case("softmax_dlast", "softmax", {"dim": -1}, [randn(2, 3, 4) * 2], lambda x: F.softmax(x, -1))
    case("log_softmax_d0", "log_softmax", {"dim": 0}, [randn(3, 4) * 2], lambda x: F.log_softmax(x, 0))
    case("log_softmax_d1", "log_softmax", {"dim": -2}, [randn(2, 3, 4) * 2], lambda x: F.log_softmax(x, -2))


def run(name, op, args, inputs, fn, grad_mask, no_grad, tensors):
    xs = []
    for k, t in enumerate(inputs):
        want = not no_grad and (grad_mask is None or grad_mask[k])
        xs.append(t.double().requires_grad_(want))
    out = fn(*xs)
    gout = randn(*out.shape) if out.dim() else torch.tensor(1.5, dtype=torch.float32)
    if not no_grad:
        (out * gout.double()).sum().backward()
    for k, t in enumerate(inputs):
        tensors["%s.in%d" % (name, k)] = t
        if xs[k].requires_grad:
            tensors["%s.grad%d" % (name, k)] = xs[k].grad.float()
    tensors["%s.out" % name] = out.detach().float().contiguous()
    tensors["%s.gout" % name] = gout
    meta = {"op": op, "args": args, "n_in": len(inputs), "in_dtypes": ["F32"] * len(inputs)}
    if no_grad:
        meta["no_grad"] = True
    return json.dumps(meta)


def main():
    define()
    tensors, meta = {}, {}
    names = []
    for name, op, args, inputs, fn, grad_mask, no_grad in CASES:
        assert name not in meta, name
        meta[name] = run(name, op, args, inputs, fn, grad_mask, no_grad, tensors)
        names.append(name)
    meta["cases"] = ",".join(names)
    meta["generator"] = "tests/gen/gen_math_ops.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d cases, %d tensors, %d bytes" % (OUT, len(names), len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
