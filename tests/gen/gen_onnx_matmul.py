#!/usr/bin/python3
"""MatMul with NumPy batch broadcasting, exported by torch.onnx.export, with PyTorch's
outputs, for tests/test_onnx.c (ONNX's node tests have no MatMul whose batch dims broadcast).

x [2, 1, 6, 4] is the data input; W [1, 5, 4, 6] and P [5, 3, 6] are initializers:
  y1 = x @ W                  [2, 5, 6, 6]  computed A over dim 1, constant B over dim 0
  y2 = y1 @ x                 [2, 5, 6, 4]  a computed B broadcast over dim 1 (how a
                                            grouped-query attention shares K and V heads)
  y3 = x^T @ y1               [2, 5, 4, 6]  a computed A broadcast over dim 1
  y4 = P @ y2                 [2, 5, 3, 4]  a rank-3 constant A against a rank-4 B
Writes tests/fixtures/onnx/bmatmul.onnx, bmatmul.in.pb and bmatmul.out.<k>.pb (k = 0..3).
Weights are seeded random (torch.manual_seed).

    /usr/bin/python3 tests/gen/gen_onnx_matmul.py
"""
import os

import numpy as np
import torch
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "onnx")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(1, 5, 4, 6) * 0.5)
        self.p = torch.nn.Parameter(torch.randn(5, 3, 6) * 0.5)

    def forward(self, x):
        y1 = torch.matmul(x, self.w)
        y2 = torch.matmul(y1, x)
        y3 = torch.matmul(x.transpose(-1, -2), y1)
        y4 = torch.matmul(self.p, y2)
        return y1, y2, y3, y4


def save_pb(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name).SerializeToString())


def main():
    os.makedirs(FIX, exist_ok=True)
    torch.manual_seed(11)
    net = Net().eval()
    x = torch.randn(2, 1, 6, 4)
    path = os.path.join(FIX, "bmatmul.onnx")
    names = ["y1", "y2", "y3", "y4"]
    torch.onnx.export(net, x, path, opset_version=13, input_names=["x"], output_names=names)
    with torch.no_grad():
        ys = net(x)
    save_pb(os.path.join(FIX, "bmatmul.in.pb"), x.numpy(), "x")
    for k, y in enumerate(ys):
        save_pb(os.path.join(FIX, "bmatmul.out.%d.pb" % k), y.numpy(), names[k])
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
