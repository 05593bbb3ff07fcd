#!/usr/bin/python3
"""Tiny ONNX models in the old opset forms (opsets 7-11), with reference outputs computed in
NumPy, for tests/test_onnx.c. Only PaddleOCR's classifier (opset 9) exercises these forms
among the real models, so each form gets a small exact case here:

  old_opset7   opset 7:  BatchNormalization-7 (spatial = 1), Flatten-1, Gemm-7 (alpha, beta,
                         transB, C broadcast)                          x [2, 3, 4, 4] -> [2, 5]
  old_opset8   opset 8:  Max-8 and Min-8, n-ary with multidirectional broadcast
                                                           x [2, 3, 4] -> [2, 3, 4] twice
  old_opset9   opset 9:  BatchNormalization-9, Slice-1 (starts/ends/axes attributes, a
                         negative end), Softmax-1 with the default axis 1 on a 4-D input (the
                         input coerced to 2-D [N, C*H*W])              x [2, 3, 5, 4] -> [2, 3, 3, 3]
  old_opset10  opset 10: Pad-2 (pads attribute, reflect), Clip-6 (min/max attributes),
                         Unsqueeze-1 / Squeeze-1 (axes attributes), Split-2 (split attribute),
                         ReduceSum-1 (axes attribute), LogSoftmax-1 on axis 1 of a 3-D input
                         (coerced to 2-D)          x [2, 2, 4, 5] -> [2, 2, 2, 8] and [2, 2, 4]
  old_softmax  opset 11: Softmax-11 and LogSoftmax-11 on axis 1 of a 3-D input (coerced to
                         2-D [N, 12], not a softmax over dim 1 alone)  x [2, 3, 4] -> twice [2, 3, 4]

(Upsample has no mapping in the importer: it is not generated.) Also bad_float_data.onnx: an
initializer 'w' [2, 3] stored in the typed field float_data with 5 values (the importer must
name it). Weights and inputs are seeded PCG32 draws (tests/gen/pcg32.py), never from a
pretrained model.

Writes tests/fixtures/onnx/<name>.onnx, <name>.in.pb, <name>.out.pb (one output) or
<name>.out.<k>.pb.

    /usr/bin/python3 tests/gen/gen_onnx_old_opsets.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pcg32 import uniform_tensor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "onnx")
_stream = [0]


def rnd(*shape, bound=1.0):
    _stream[0] += 1
    return uniform_tensor(list(shape), 20261129, _stream[0], bound)


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def init(name, arr):
    return numpy_helper.from_array(np.ascontiguousarray(arr), name)


def save_pb(path, arr):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32)).SerializeToString())


def save(name, nodes, x, outs, inits, opset):
    """outs: (name, reference array) in output order."""
    ins = [vi("x", ["N"] + list(x.shape[1:]))]
    if opset <= 8:  # IR version 3: every initializer is also a graph input, as old exporters wrote them
        ins += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    g = helper.make_graph(nodes, name, ins, [vi(o, ["N"] + list(r.shape[1:])) for o, r in outs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_onnx_old_opsets.py")
    m.ir_version = 3 if opset <= 8 else 4 if opset == 9 else 5 if opset == 10 else 6
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(FIX, name + ".onnx"))
    save_pb(os.path.join(FIX, name + ".in.pb"), x)
    for k, (_, r) in enumerate(outs):
        save_pb(os.path.join(FIX, name + (".out.pb" if len(outs) == 1 else ".out.%d.pb" % k)), r)
    print("wrote %s (opset %d, %d outputs)" % (name, opset, len(outs)))


def softmax2d(x, axis):
    """ONNX softmax before opset 13: the input coerced to 2-D [prod(dims < axis), prod(rest)]."""
    n = int(np.prod(x.shape[:axis]))
    f = x.astype(np.float64).reshape(n, -1)
    e = np.exp(f - f.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)


def log_softmax2d(x, axis):
    n = int(np.prod(x.shape[:axis]))
    f = x.astype(np.float64).reshape(n, -1)
    m = f.max(axis=1, keepdims=True)
    return (f - m - np.log(np.exp(f - m).sum(axis=1, keepdims=True))).reshape(x.shape)


def bn(x, s, b, mu, var, eps):
    sh = (1, -1) + (1,) * (x.ndim - 2)
    x = x.astype(np.float64)
    return (x - mu.reshape(sh)) / np.sqrt(var.reshape(sh).astype(np.float64) + eps) * s.reshape(sh) + b.reshape(sh)


def bn_params(c):
    return rnd(c, bound=0.5) + 1.0, rnd(c, bound=0.5), rnd(c, bound=0.5), rnd(c, bound=0.4) + 0.6


def old_opset7():
    x = rnd(2, 3, 4, 4)
    s, b, mu, var = bn_params(3)
    w, c = rnd(5, 48, bound=0.3), rnd(5)
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "mu", "var"], ["bn"], name="bn7", epsilon=1e-4, spatial=1),
        helper.make_node("Flatten", ["bn"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "w", "c"], ["y"], name="gemm7", alpha=0.5, beta=2.0, transB=1),
    ]
    f = bn(x, s, b, mu, var, 1e-4).reshape(2, 48)
    y = 0.5 * f @ w.T.astype(np.float64) + 2.0 * c
    save("old_opset7", nodes, x, [("y", y.astype(np.float32))],
         [init("s", s), init("b", b), init("mu", mu), init("var", var), init("w", w), init("c", c)], 7)


def old_opset8():
    x = rnd(2, 3, 4)
    a, b = rnd(4, bound=0.5), rnd(3, 1, bound=0.5)
    nodes = [
        helper.make_node("Max", ["x", "a", "b"], ["mx"], name="max8"),
        helper.make_node("Min", ["x", "a"], ["mn"], name="min8"),
    ]
    save("old_opset8", nodes, x, [("mx", np.maximum(np.maximum(x, a), b)), ("mn", np.minimum(x, a))],
         [init("a", a), init("b", b)], 8)


def old_opset9():
    x = rnd(2, 3, 5, 4)
    s, b, mu, var = bn_params(3)
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "mu", "var"], ["bn"], name="bn9", epsilon=1e-3),
        helper.make_node("Slice", ["bn"], ["sl"], name="slice1", axes=[2, 3], starts=[1, 0], ends=[4, -1]),
        helper.make_node("Softmax", ["sl"], ["y"], name="softmax1"),
    ]
    sl = bn(x, s, b, mu, var, 1e-3)[:, :, 1:4, 0:-1]
    save("old_opset9", nodes, x, [("y", softmax2d(sl, 1).astype(np.float32))],
         [init("s", s), init("b", b), init("mu", mu), init("var", var)], 9)


def old_opset10():
    x = rnd(2, 2, 4, 5)
    nodes = [
        helper.make_node("Pad", ["x"], ["p"], name="pad2", mode="reflect", pads=[0, 0, 1, 2, 0, 0, 1, 1]),
        helper.make_node("Clip", ["p"], ["c"], name="clip6", min=-0.3, max=0.5),
        helper.make_node("Unsqueeze", ["c"], ["u"], name="unsqueeze1", axes=[1]),
        helper.make_node("Squeeze", ["u"], ["q"], name="squeeze1", axes=[1]),
        helper.make_node("Split", ["q"], ["s0", "s1"], name="split2", axis=2, split=[2, 4]),
        helper.make_node("ReduceSum", ["s1"], ["r"], name="reducesum1", axes=[3], keepdims=0),
        helper.make_node("LogSoftmax", ["r"], ["ls"], name="logsoftmax1", axis=1),
    ]
    p = np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 1)], mode="reflect")
    c = np.clip(p, np.float32(-0.3), np.float32(0.5))
    s0, s1 = c[:, :, :2], c[:, :, 2:]
    r = s1.astype(np.float64).sum(axis=3)
    save("old_opset10", nodes, x, [("s0", s0), ("ls", log_softmax2d(r, 1).astype(np.float32))], [], 10)


def old_softmax():
    x = rnd(2, 3, 4, bound=2.0)
    nodes = [
        helper.make_node("Softmax", ["x"], ["s"], name="softmax11", axis=1),
        helper.make_node("LogSoftmax", ["x"], ["l"], name="logsoftmax11", axis=1),
    ]
    save("old_softmax", nodes, x, [("s", softmax2d(x, 1).astype(np.float32)), ("l", log_softmax2d(x, 1).astype(np.float32))], [], 11)


def bad_float_data():
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], [0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    del w.float_data[5]  # 5 values for 6 (make_tensor refuses to write that)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "bad_float_data",
                          [vi("x", ["N", 2])], [vi("y", ["N", 3])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="gen_onnx_old_opsets.py")
    m.ir_version = 8
    onnx.save(m, os.path.join(FIX, "bad_float_data.onnx"))  # no checker: the count is wrong on purpose
    print("wrote bad_float_data")


if __name__ == "__main__":
    old_opset7()
    old_opset8()
    old_opset9()
    old_opset10()
    old_softmax()
    bad_float_data()
