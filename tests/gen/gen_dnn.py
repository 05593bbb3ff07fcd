"""PyTorch reference values for a DNN acoustic model in the "graph" architecture: the
graph-config op "splice" (Kaldi-style stacked context frames) followed by an MLP.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_dnn.py
Writes tests/fixtures/dnn.safetensors (read by tests/test_dnn.c).

splice(x, L, R): x [N, T, F] -> [N, T, (L+1+R) F], output frame t = input frames
t-L .. t+R side by side (oldest first); an index outside [0, T) takes the first / last frame
(Kaldi's splice-feats convention: edges repeated).

Model "dnn" (the config in metadata "model"): x [N=3, T=7, F=5]
  splice L=2 R=2 -> [3,7,25] -> linear l1 (16) -> relu -> linear l2 (4) -> [3,7,4] frame logits
  -> mean over time -> logits [3,4];  loss = cross_entropy(logits, y), mean over the batch.
Parameters, in this order (index = PCG32 stream, as C's ft_params_init_uniform(ps, i, 2026,
1.0f / sqrtf(fan_in)), fan_in = in_features of the layer, for weight and bias alike):
  0 l1.weight [16,25]  1 l1.bias [16]  2 l2.weight [4,16]  3 l2.bias [4]
Tensors: x, y (I32), splice [3,7,25], frames [3,7,4], logits [3,4], loss [],
grad.<param> for every parameter, grad.x.

Metadata "model_x": the same model with the input as a parameter xp [3,7,5] (node "xin":
input + xp, fed zeros), so grad.x is its gradient. "edge_model": the edge case the same way.

Case "edge": splice L=3 R=1 of x2 [N=2, T=3, F=4] (the context is longer than the clip on
both sides): edge.x, edge.gout [2,3,20], edge.out = splice(x2), edge.grad_x = d sum(out*gout)/dx2.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402
from pcg32 import uniform_tensor  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "dnn.safetensors")
SEED = 2026
N, T, FEAT, L, R, HID, CLASSES = 3, 7, 5, 2, 2, 16, 4


def splice(x, left, right):
    t = x.shape[1]
    idx = [[min(max(i + k - left, 0), t - 1) for k in range(left + 1 + right)] for i in range(t)]
    idx = torch.tensor(idx, dtype=torch.int64)  # [T, K]
    y = x[:, idx, :]  # [N, T, K, F]
    return y.reshape(x.shape[0], t, -1)


def model_config():
    k = (L + 1 + R) * FEAT
    return {
        "arch": "graph", "input": {"shape": [T, FEAT]},
        "params": [{"name": "l1.weight", "shape": [HID, k]}, {"name": "l1.bias", "shape": [HID]},
                   {"name": "l2.weight", "shape": [CLASSES, HID]}, {"name": "l2.bias", "shape": [CLASSES]}],
        "nodes": [
            {"name": "splice", "op": "splice", "inputs": ["input"], "attrs": {"left": L, "right": R}},
            {"name": "l1", "op": "linear", "inputs": ["splice"], "params": ["l1.weight", "l1.bias"]},
            {"name": "relu", "op": "relu", "inputs": ["l1"]},
            {"name": "frames", "op": "linear", "inputs": ["relu"], "params": ["l2.weight", "l2.bias"]},
            {"name": "logits", "op": "mean", "inputs": ["frames"], "attrs": {"dims": [1]}}],
        "output": "logits"}


def main():
    torch.manual_seed(0)
    x = torch.randn(N, T, FEAT)
    y = torch.randint(0, CLASSES, (N,))
    k = (L + 1 + R) * FEAT
    specs = [("l1.weight", [HID, k], k), ("l1.bias", [HID], k), ("l2.weight", [CLASSES, HID], HID),
             ("l2.bias", [CLASSES], HID)]
    p = {}
    for i, (name, shape, fan) in enumerate(specs):
        bound = np.float32(1.0) / np.sqrt(np.float32(fan))
        p[name] = torch.from_numpy(uniform_tensor(shape, SEED, i, bound)).double().requires_grad_(True)
    xd = x.double().requires_grad_(True)
    s = splice(xd, L, R)
    frames = F.linear(F.relu(F.linear(s, p["l1.weight"], p["l1.bias"])), p["l2.weight"], p["l2.bias"])
    logits = frames.mean(dim=1)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    t = {"x": x, "y": y.to(torch.int32), "splice": s.detach().float(), "frames": frames.detach().float(),
         "logits": logits.detach().float(), "loss": loss.detach().float(), "grad.x": xd.grad.float()}
    for name, v in p.items():
        t["grad." + name] = v.grad.float()

    x2 = torch.randn(2, 3, 4)
    gout = torch.randn(2, 3, 5 * 4)
    x2d = x2.double().requires_grad_(True)
    out = splice(x2d, 3, 1)
    (out * gout.double()).sum().backward()
    t.update({"edge.x": x2, "edge.gout": gout, "edge.out": out.detach().float(), "edge.grad_x": x2d.grad.float()})

    # the same model with the input as a parameter (input + xp, fed zeros): its gradient is
    # grad.x, and finite differences on it go through the splice node
    mx = model_config()
    mx["params"].append({"name": "xp", "shape": [N, T, FEAT]})
    mx["nodes"].insert(0, {"name": "xin", "op": "add", "inputs": ["input"], "params": ["xp"]})
    mx["nodes"][1]["inputs"] = ["xin"]
    ex = {"arch": "graph", "input": {"shape": [3, 4]}, "sequence_output": True,
          "params": [{"name": "xp", "shape": [2, 3, 4]}],
          "nodes": [{"name": "xin", "op": "add", "inputs": ["input"], "params": ["xp"]},
                    {"name": "splice", "op": "splice", "inputs": ["xin"], "attrs": {"left": 3, "right": 1}}]}
    meta = {"model": json.dumps(model_config()), "model_x": json.dumps(mx), "edge_model": json.dumps(ex), "seed": str(SEED),
            "generator": "tests/gen/gen_dnn.py, torch " + torch.__version__}
    stio.save(OUT, t, meta)
    print("loss %.6f; wrote %s: %d tensors, %d bytes" % (loss.item(), OUT, len(t), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
