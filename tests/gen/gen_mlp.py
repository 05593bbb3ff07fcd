"""PyTorch reference training run of finetune's "mlp" architecture.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_mlp.py
Writes tests/fixtures/mlp_train.safetensors.

Model: input [N, 20] -> Linear(20,32) -> ReLU -> Linear(32,16) -> ReLU -> Linear(16,5);
no dropout. loss = cross_entropy(logits, y), mean over the batch.
Parameters, in this order (index = PCG32 stream):
  0 layers.0.weight [32,20]  1 layers.0.bias [32]  2 layers.1.weight [16,32]
  3 layers.1.bias [16]       4 head.weight [5,16]  5 head.bias [5]
Init: pcg32.uniform_tensor(shape, seed=1234, stream=index, bound) with
bound = 1.0f / sqrtf(fan_in) in float32 (fan_in = in_features of that layer, for weight and
bias alike); i.e. C's ft_params_init_uniform(ps, i, 1234, 1.0f / sqrtf(fan_in)).
layers.0.* is FROZEN (requires_grad False); the other four are trained.
The same batch (x, y; N = 8) is used at every one of 10 steps.

Tensors:
  x [8,20] F32, y [8] I32
  init.<param>                initial values of all six parameters
  logits0 [8,5]               logits at step 0 (initial weights)
  loss0 []                    loss at step 0
  grad0.<param>               gradient of each trainable parameter at step 0
  <opt>.losses [10]           loss at steps 0..9, each computed before that step's update
  <opt>.final.<param>         all six parameters after 10 updates (layers.0.* unchanged)
for <opt> in
  adamw: torch.optim.AdamW(lr=1e-2, weight_decay=0.01), betas (0.9, 0.999), eps 1e-8, decay on
         every trainable parameter (finetune: decay_all = true)
  sgd:   torch.optim.SGD(lr=0.1, momentum=0.9)
Metadata: "model" (JSON of the architecture), "adamw" / "sgd" (JSON of the optimizer config).
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

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "mlp_train.safetensors")
SEED = 1234
N, IN, HIDDEN, CLASSES = 8, 20, [32, 16], 5
STEPS = 10
OPTS = {
    "adamw": {"kind": "adamw", "lr": 1e-2, "weight_decay": 0.01, "beta1": 0.9, "beta2": 0.999,
              "eps": 1e-8, "decay_all": True},
    "sgd": {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
            "weight_decay": 0.0},
}


def param_specs():
    specs, fan = [], IN
    for i, h in enumerate(HIDDEN):
        specs += [("layers.%d.weight" % i, [h, fan], fan), ("layers.%d.bias" % i, [h], fan)]
        fan = h
    specs += [("head.weight", [CLASSES, fan], fan), ("head.bias", [CLASSES], fan)]
    return specs


def init_params():
    params = {}
    for idx, (name, shape, fan_in) in enumerate(param_specs()):
        bound = np.float32(1.0) / np.sqrt(np.float32(fan_in))  # 1.0f / sqrtf(fan_in)
        t = torch.from_numpy(uniform_tensor(shape, SEED, idx, bound))
        params[name] = t.requires_grad_(not name.startswith("layers.0."))
    return params


def forward(p, x):
    h = x
    for i in range(len(HIDDEN)):
        h = F.relu(F.linear(h, p["layers.%d.weight" % i], p["layers.%d.bias" % i]))
    return F.linear(h, p["head.weight"], p["head.bias"])


def main():
    torch.manual_seed(0)
    x = torch.randn(N, IN)
    y = torch.randint(0, CLASSES, (N,))
    tensors = {"x": x, "y": y.to(torch.int32)}
    p0 = init_params()
    for name, t in p0.items():
        tensors["init." + name] = t.detach().clone()

    for opt_name, oc in OPTS.items():
        p = {k: v.detach().clone().requires_grad_(v.requires_grad) for k, v in p0.items()}
        trainable = [v for v in p.values() if v.requires_grad]
        if oc["kind"] == "adamw":
            opt = torch.optim.AdamW(trainable, lr=oc["lr"], betas=(oc["beta1"], oc["beta2"]),
                                    eps=oc["eps"], weight_decay=oc["weight_decay"])
        else:
            opt = torch.optim.SGD(trainable, lr=oc["lr"], momentum=oc["momentum"])
        losses = []
        for step in range(STEPS):
            opt.zero_grad()
            logits = forward(p, x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            if step == 0 and opt_name == "adamw":
                tensors["logits0"] = logits.detach().clone()
                tensors["loss0"] = loss.detach().clone()
                for k, v in p.items():
                    if v.requires_grad:
                        tensors["grad0." + k] = v.grad.detach().clone()
            losses.append(loss.item())
            opt.step()
        tensors[opt_name + ".losses"] = torch.tensor(losses, dtype=torch.float32)
        for k, v in p.items():
            tensors["%s.final.%s" % (opt_name, k)] = v.detach().clone()
        print("%s: loss %.6f -> %.6f" % (opt_name, losses[0], losses[-1]))

    meta = {k: json.dumps(v) for k, v in OPTS.items()}
    meta["model"] = json.dumps({"arch": "mlp", "in": IN, "hidden": HIDDEN, "classes": CLASSES,
                                "activation": "relu", "dropout": 0.0, "init_seed": SEED,
                                "frozen": "layers.0.*", "steps": STEPS, "batch": N})
    meta["generator"] = "tests/gen/gen_mlp.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d tensors, %d bytes" % (OUT, len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
