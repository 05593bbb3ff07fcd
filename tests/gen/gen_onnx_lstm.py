#!/usr/bin/python3
"""A bidirectional 2-layer LSTM and a bidirectional GRU exported by torch.onnx.export, with
PyTorch's outputs, for tests/test_onnx.c (ONNX's node tests have no bidirectional case).

Writes tests/fixtures/onnx/{bilstm,bigru}.onnx and <name>.in.pb / <name>.out.0.pb (the
sequence output) / <name>.out.1.pb (the final hidden states, h_n). Weights are seeded
random (torch.manual_seed), not from any pretrained model.

    /usr/bin/python3 tests/gen/gen_onnx_lstm.py
"""
import os

import numpy as np
import torch
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "onnx")


class Net(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(input_size=5, hidden_size=4, num_layers=2 if cell is torch.nn.LSTM else 1,
                        bidirectional=True, batch_first=True)

    def forward(self, x):
        y, h = self.rnn(x)
        if isinstance(h, tuple):
            h = h[0]
        return y, h


def save_pb(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name).SerializeToString())


def main():
    os.makedirs(FIX, exist_ok=True)
    for name, cell in (("bilstm", torch.nn.LSTM), ("bigru", torch.nn.GRU)):
        torch.manual_seed(7 if name == "bilstm" else 8)
        net = Net(cell).eval()
        x = torch.randn(3, 6, 5)
        path = os.path.join(FIX, name + ".onnx")
        torch.onnx.export(net, x, path, opset_version=13, input_names=["x"], output_names=["y", "h_n"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}, "h_n": {1: "N"}})
        with torch.no_grad():
            y, h = net(x)
        save_pb(os.path.join(FIX, name + ".in.pb"), x.numpy(), "x")
        save_pb(os.path.join(FIX, name + ".out.0.pb"), y.numpy(), "y")
        save_pb(os.path.join(FIX, name + ".out.1.pb"), h.numpy(), "h_n")
        print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
