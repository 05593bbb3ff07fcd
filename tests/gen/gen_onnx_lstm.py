#!/usr/bin/python3
"""A bidirectional 2-layer LSTM and a bidirectional GRU exported by torch.onnx.export, with
PyTorch's outputs, for tests/test_onnx.c (ONNX's node tests have no bidirectional case).
Then the same with learned initial states (lstm_h0: a 2-layer bidirectional LSTM, gru_h0: a
bidirectional GRU): h0 (and c0) are parameters [2*layers, 1, H] expanded to the batch, so
the ONNX LSTM/GRU nodes read nonzero initial_h/initial_c computed from initializers.

Writes tests/fixtures/onnx/{bilstm,bigru,lstm_h0,gru_h0}.onnx and <name>.in.pb /
<name>.out.0.pb (the sequence output) / <name>.out.1.pb (the final hidden states, h_n).
Weights are seeded random (torch.manual_seed), not from any pretrained model. lstm_h0.onnx is
also copied to fuzz/corpus/onnx/ as a seed of the fuzz target.

    /usr/bin/python3 tests/gen/gen_onnx_lstm.py
"""
import os
import shutil

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


class StateNet(torch.nn.Module):
    """Learned initial states, the same for every example."""

    def __init__(self, cell, layers):
        super().__init__()
        self.rnn = cell(input_size=5, hidden_size=4, num_layers=layers, bidirectional=True, batch_first=True)
        self.h0 = torch.nn.Parameter(torch.randn(2 * layers, 1, 4) * 0.5)
        self.c0 = torch.nn.Parameter(torch.randn(2 * layers, 1, 4) * 0.5) if cell is torch.nn.LSTM else None

    def forward(self, x):
        n = x.shape[0]
        h0 = self.h0.expand(-1, n, -1).contiguous()
        if self.c0 is not None:
            y, (h, _) = self.rnn(x, (h0, self.c0.expand(-1, n, -1).contiguous()))
        else:
            y, h = self.rnn(x, h0)
        return y, h


def save_pb(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name).SerializeToString())


def main():
    os.makedirs(FIX, exist_ok=True)
    nets = (("bilstm", torch.nn.LSTM, 7), ("bigru", torch.nn.GRU, 8), ("lstm_h0", torch.nn.LSTM, 9), ("gru_h0", torch.nn.GRU, 10))
    for name, cell, seed in nets:
        torch.manual_seed(seed)
        net = (Net(cell) if seed < 9 else StateNet(cell, 2 if cell is torch.nn.LSTM else 1)).eval()
        x = torch.randn(3, 6, 5)
        path = os.path.join(FIX, name + ".onnx")
        torch.onnx.export(net, x, path, opset_version=13, input_names=["x"], output_names=["y", "h_n"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}, "h_n": {1: "N"}})
        with torch.no_grad():
            y, h = net(x)
        save_pb(os.path.join(FIX, name + ".in.pb"), x.numpy(), "x")
        save_pb(os.path.join(FIX, name + ".out.0.pb"), y.numpy(), "y")
        save_pb(os.path.join(FIX, name + ".out.1.pb"), h.numpy(), "h_n")
        if name == "lstm_h0":  # also a seed of fuzz/fuzz_onnx.c: the initial-state path
            shutil.copyfile(path, os.path.join(ROOT, "fuzz", "corpus", "onnx", name + ".onnx"))
        print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
