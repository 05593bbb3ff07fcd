#!/usr/bin/python3
"""Tiny ONNX models for the ONNX importer's tests and fuzz seeds.

Writes fuzz/corpus/onnx/*.onnx (the seeds of fuzz/fuzz_onnx.c, also read by tests/test_onnx.c)
and, for the models that compute something, tests/fixtures/onnx/<name>.in.pb / .out.pb: an
input and the expected output as serialized TensorProtos, computed here with PyTorch's
functional ops (independent of the importer). Broken models (a cycle, a dangling input, an
initializer of the wrong size, an unsupported op) test the error messages.

Run with Debian's python (onnx 1.12, torch 1.13):  /usr/bin/python3 fuzz/gen_corpus_onnx.py
"""
import os

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus", "onnx")
FIX = os.path.join(ROOT, "tests", "fixtures", "onnx")
rng = np.random.default_rng(1234)


def rnd(*shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def save(name, graph, opset=13, extra_opsets=()):
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="gen_corpus_onnx")
    m.ir_version = 7
    with open(os.path.join(CORPUS, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())
    return m


def save_io(name, x, y, suffix=""):
    with open(os.path.join(FIX, name + ".in.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.asarray(x, np.float32), "x").SerializeToString())
    with open(os.path.join(FIX, name + ".out%s.pb" % suffix), "wb") as f:
        f.write(numpy_helper.from_array(np.asarray(y, np.float32), "y").SerializeToString())


def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def t(a):
    return torch.from_numpy(np.asarray(a))


def mlp():
    """Gemm (transB=1 and transB=0), Relu, Softmax over a symbolic batch."""
    w1, b1, w2, b2 = rnd(8, 6), rnd(8), rnd(8, 3), rnd(3)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"], name="fc2"),
    ]
    g = helper.make_graph(nodes, "mlp", [vi("x", ["N", 6])], [vi("logits", ["N", 3])],
                          [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2)])
    save("mlp", g)
    x = rnd(2, 6, scale=1.0)
    y = F.linear(F.relu(F.linear(t(x), t(w1), t(b1))), t(w2).T, t(b2))
    save_io("mlp", x, y.numpy())


def cnn():
    """Conv (pads, stride, groups), BatchNormalization, Relu, MaxPool, AveragePool with
    padding, GlobalAveragePool, Flatten, Gemm: a classifier with a head."""
    w1, b1 = rnd(4, 2, 3, 3), rnd(4)
    gam, bet, mu, var = rnd(4) + 1, rnd(4), rnd(4), np.abs(rnd(4)) + 0.5
    w2 = rnd(8, 2, 3, 3)  # groups = 2
    wf, bf = rnd(5, 8), rnd(5)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["bn"], name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2", group=2, pads=[0, 1, 2, 1], strides=[2, 1]),
        helper.make_node("AveragePool", ["c2"], ["p2"], name="pool2", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                         count_include_pad=0),
        helper.make_node("GlobalAveragePool", ["p2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], name="fc", transB=1),
    ]
    g = helper.make_graph(nodes, "cnn", [vi("x", ["N", 2, 10, 9])], [vi("logits", ["N", 5])],
                          [init("w1", w1), init("b1", b1), init("g", gam), init("b", bet), init("m", mu), init("v", var),
                           init("w2", w2), init("wf", wf), init("bf", bf)])
    save("cnn", g)
    x = rnd(2, 2, 10, 9, scale=1.0)
    h = F.conv2d(t(x), t(w1), t(b1), padding=1)
    h = F.batch_norm(h, t(mu), t(var), t(gam), t(bet), eps=1e-3)
    h = F.max_pool2d(F.relu(h), 2, 2)
    h = F.conv2d(F.pad(h, (1, 1, 0, 2)), t(w2), None, stride=(2, 1), groups=2)
    h = F.avg_pool2d(h, 3, 1, padding=1, count_include_pad=False)
    h = h.mean(dim=(2, 3))
    y = F.linear(h, t(wf), t(bf))
    save_io("cnn", x, y.numpy())


def folding():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape (a dynamic reshape that folds),
    ConstantOfShape + Add, an If whose condition folds (Equal on a Shape), Transpose,
    Squeeze, a Constant node, ReduceMean, Sub/Mul/Div by scalar Constants, a constant-first
    Sub, Sigmoid and Tanh."""
    wb = rnd(4, 3)  # the taken branch's weight (a branch initializer)
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["tq", "wb"], ["bo"], name="branch_mm")], "then",
        [], [vi("bo", None)], [init("wb", wb)])
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["tq"], ["eo"], name="branch_id")], "else", [], [vi("eo", None)])
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"], name="shape"),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["shp", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "rest"], ["newshape"], name="cat", axis=0),
        helper.make_node("Reshape", ["x", "newshape"], ["r"], name="reshape"),     # [N,2,3,4] -> [N,6,4]
        helper.make_node("Transpose", ["r"], ["t0"], name="transpose", perm=[0, 2, 1]),  # [N,4,6]
        helper.make_node("ReduceMean", ["t0"], ["t"], name="mean", axes=[2], keepdims=1),  # [N,4,1] -> squeeze below
        helper.make_node("Squeeze", ["t", "ax2"], ["tq"], name="squeeze"),  # [N,4]
        helper.make_node("Constant", [], ["c3"], value=numpy_helper.from_array(np.array([3], np.int64))),
        helper.make_node("Gather", ["shp", "c3"], ["last"], name="last_dim"),
        helper.make_node("Equal", ["last", "four"], ["cond_v"], name="eq"),
        helper.make_node("Squeeze", ["cond_v"], ["cond"], name="cond_sq"),
        helper.make_node("If", ["cond"], ["ifo"], name="if", then_branch=then_g, else_branch=else_g),
        helper.make_node("Constant", [], ["half"], value=numpy_helper.from_array(np.array(0.5, np.float32))),
        helper.make_node("Mul", ["ifo", "half"], ["m"], name="mul"),
        helper.make_node("ConstantOfShape", ["three"], ["ones"], name="ones",
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Sub", ["ones", "m"], ["s"], name="sub_first"),
        helper.make_node("Sigmoid", ["s"], ["sg"], name="sigmoid"),
        helper.make_node("Div", ["sg", "two"], ["d"], name="div"),
        helper.make_node("Tanh", ["d"], ["y"], name="tanh"),
    ]
    g = helper.make_graph(nodes, "folding", [vi("x", ["N", 2, 3, 4])], [vi("y", ["N", 3])],
                          [init("ax0", np.array([0], np.int64)), init("rest", np.array([6, 4], np.int64)),
                           init("ax2", np.array([2], np.int64)), init("four", np.array(4, np.int64)),
                           init("three", np.array([3], np.int64)), init("two", np.array(2.0, np.float32))])
    save("folding", g)
    x = rnd(2, 2, 3, 4, scale=1.0)
    r = t(x).reshape(2, 6, 4).permute(0, 2, 1).mean(dim=2)
    y = torch.tanh(torch.sigmoid(1 - (r @ t(wb)) * 0.5) / 2)
    save_io("folding", x, y.numpy())


def multi_out():
    """Two outputs of different shapes and a 3-D output: no head, feature extractor."""
    w = rnd(4, 5)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),       # [N,3,5]
        helper.make_node("Relu", ["h"], ["a"], name="relu"),
        helper.make_node("ReduceSum", ["h", "ax"], ["b"], name="sum", keepdims=0),  # [N,5]
    ]
    g = helper.make_graph(nodes, "multi", [vi("x", ["N", 3, 4])], [vi("a", ["N", 3, 5]), vi("b", ["N", 5])],
                          [init("w", w), init("ax", np.array([1], np.int64))])
    save("multi_out", g)
    x = rnd(2, 3, 4, scale=1.0)
    h = t(x) @ t(w)
    save_io("multi_out", x, F.relu(h).numpy(), ".0")
    save_io("multi_out", x, h.sum(dim=1).numpy(), ".1")


def external():
    """An initializer stored in a file beside the model."""
    w = rnd(3, 4)
    tw = numpy_helper.from_array(w, "w")
    tw.ClearField("raw_data")
    tw.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "external.bin"), ("offset", "16"), ("length", str(w.nbytes))):
        e = tw.external_data.add()
        e.key, e.value = k, v
    with open(os.path.join(CORPUS, "external.bin"), "wb") as f:
        f.write(b"\0" * 16 + w.tobytes())
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "ext",
                          [vi("x", ["N", 3])], [vi("y", ["N", 4])], [tw])
    save("external", g)
    x = rnd(2, 3, scale=1.0)
    save_io("external", x, (t(x) @ t(w)).numpy())


def gelu():
    """torch.onnx.export of Linear + GELU (opset 13 spells GELU as the Erf pattern) + Linear."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Linear(8, 4))
    path = os.path.join(CORPUS, "gelu.onnx")
    x = torch.from_numpy(rnd(3, 6, scale=1.5))
    torch.onnx.export(net, x, path, opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    m = onnx.load(path)
    assert "Erf" in [n.op_type for n in m.graph.node]
    with torch.no_grad():
        save_io("gelu", x.numpy(), net(x).numpy())


def ids():
    """Token ids (an int64 graph input): Cast to int32, Gather rows of an embedding matrix,
    ReduceMean over the positions, Gemm. The fixture input is the int64 ids."""
    emb, w, b = rnd(10, 4), rnd(3, 4), rnd(3)
    nodes = [
        helper.make_node("Cast", ["ids"], ["ids32"], name="to_int32", to=TensorProto.INT32),
        helper.make_node("Gather", ["emb", "ids32"], ["e"], name="embed"),
        helper.make_node("ReduceMean", ["e"], ["pooled"], name="pool", axes=[1], keepdims=0),
        helper.make_node("Gemm", ["pooled", "w", "b"], ["logits"], name="fc", transB=1),
    ]
    g = helper.make_graph(nodes, "ids", [vi("ids", ["N", 5], TensorProto.INT64)], [vi("logits", ["N", 3])],
                          [init("emb", emb), init("w", w), init("b", b)])
    save("ids", g)
    x = rng.integers(0, 10, size=(2, 5)).astype(np.int64)
    y = F.linear(F.embedding(t(x), t(emb)).mean(dim=1), t(w), t(b))
    with open(os.path.join(FIX, "ids.in.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "ids").SerializeToString())
    with open(os.path.join(FIX, "ids.out.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y.numpy().astype(np.float32), "y").SerializeToString())


def broken():
    w = init("w", rnd(2, 2))
    # a cycle: a -> b -> a
    g = helper.make_graph([helper.make_node("Add", ["x", "b"], ["a"], name="add_a"),
                           helper.make_node("Relu", ["a"], ["b"], name="relu_b")], "cycle",
                          [vi("x", ["N", 2])], [vi("b", ["N", 2])])
    save("cycle", g)
    # a dangling input
    g = helper.make_graph([helper.make_node("Add", ["x", "nowhere"], ["y"], name="add_dangling")], "dangling",
                          [vi("x", ["N", 2])], [vi("y", ["N", 2])])
    save("dangling", g)
    # an initializer whose raw data is too short
    bad = init("w", rnd(2, 2))
    bad.raw_data = bad.raw_data[:12]
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "bad_init",
                          [vi("x", ["N", 2])], [vi("y", ["N", 2])], [bad])
    save("bad_init", g)
    # an op without a mapping
    g = helper.make_graph([helper.make_node("Det", ["x"], ["y"], name="the_det")], "unsupported",
                          [vi("x", ["N", 2, 2])], [vi("y", ["N"])])
    save("unsupported", g)
    # an unused opset of another domain is fine; a node of that domain is not
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "other_domain",
                          [vi("x", ["N", 2])], [vi("y", ["N", 2])], [w])
    save("other_domain", g, extra_opsets=[("com.microsoft", 1)])
    g = helper.make_graph([helper.make_node("FusedGemm", ["x", "w"], ["y"], name="fused", domain="com.microsoft")],
                          "ms_node", [vi("x", ["N", 2])], [vi("y", ["N", 2])], [w])
    save("ms_node", g, extra_opsets=[("com.microsoft", 1)])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "opset5", [vi("x", ["N", 2])], [vi("y", ["N", 2])])
    save("opset5", g, opset=5)


def broken_fuzzed():
    """Shapes of the fuzzer's findings: an If whose untaken branch has fewer outputs than the
    node (the outputs read both branches' names), and a Reshape whose target overflows int64."""
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    then_g = helper.make_graph([helper.make_node("Constant", [], ["t"], value=one)], "then", [], [vi("t", [1])])
    else_g = helper.make_graph([], "else", [], [])
    nodes = [helper.make_node("Constant", [], ["cond"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
             helper.make_node("If", ["cond"], ["k"], name="the_if", then_branch=then_g, else_branch=else_g),
             helper.make_node("Mul", ["x", "k"], ["y"], name="mul")]
    g = helper.make_graph(nodes, "if_outputs", [vi("x", ["N", 2])], [vi("y", ["N", 2])])
    save("if_outputs", g)
    shape = init("shape", np.array([6, 6917529027641081860], np.int64))
    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"], name="huge")], "reshape_huge",
                          [vi("x", ["N", 6])], [vi("y", ["N", 6])], [shape])
    save("reshape_huge", g)


if __name__ == "__main__":
    os.makedirs(CORPUS, exist_ok=True)
    os.makedirs(FIX, exist_ok=True)
    mlp()
    cnn()
    folding()
    multi_out()
    external()
    gelu()
    broken()
    ids()
    broken_fuzzed()
    print("wrote", len(os.listdir(CORPUS)), "files to", CORPUS, "and", len(os.listdir(FIX)), "to", FIX)
