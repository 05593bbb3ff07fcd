"""A tiny ONNX model with 0-size tensors, for tests/test_empty_tensors.c.

Run with Debian's onnx:  /usr/bin/python3 tests/gen/gen_onnx_empty.py
Writes tests/fixtures/onnx_empty.onnx (opset 13, under 1 KB, deterministic):

  x [N, 3, 2] float
  e  = Slice(x, starts [5], ends [9], axes [1])   -> [N, 0, 2]  (start past the end)
  y  = Concat(x, e, axis 1) + b                   -> [N, 3, 2]  (b an initializer [2])
  ee = Concat(e, e, axis 2)                       -> [N, 0, 4]  (every piece empty)
  outputs y, ee

so y = x + b and ee is empty: the C test needs no reference runtime.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "onnx_empty.onnx")


def main():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 2])
    ee = helper.make_tensor_value_info("ee", TensorProto.FLOAT, ["N", 0, 4])
    inits = [
        numpy_helper.from_array(np.array([5], np.int64), "starts"),
        numpy_helper.from_array(np.array([9], np.int64), "ends"),
        numpy_helper.from_array(np.array([1], np.int64), "axes"),
        numpy_helper.from_array(np.array([0.25, -1.5], np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["e"], name="slice_empty"),
        helper.make_node("Concat", ["x", "e"], ["xe"], axis=1, name="concat_x_empty"),
        helper.make_node("Add", ["xe", "b"], ["y"], name="add_b"),
        helper.make_node("Concat", ["e", "e"], ["ee"], axis=2, name="concat_empty"),
    ]
    g = helper.make_graph(nodes, "empty_tensors", [x], [y, ee], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="gen_onnx_empty.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, OUT)
    print("wrote %s (%d bytes)" % (OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
