"""PyTorch reference trajectories for src/train/optim.c and src/train/schedule.c.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_optim.py
Writes tests/fixtures/optim.safetensors (consumed by tests/test_optim.c).

Optimizer cases. For each case <c> (listed, comma-separated, in metadata "optim_cases"):
  metadata "<c>"        JSON: {"kind": "sgd"|"adam"|"adamw", "lr", "momentum", "dampening",
                        "nesterov", "beta1", "beta2", "eps", "weight_decay", "decay_all",
                        "group_lr_scale": [8 floats, 0 = 1], "clip": max_norm (0 = none),
                        "steps": S, "params": [{"name", "shape", "no_decay", "group"}, ...]}
  <c>.lrs               [S]  the lr handed to ft_optimizer_step at step s (before the group scale)
  <c>.<p>.init          parameter <p> before the first step
  <c>.<p>.grad<s>       gradient fed at step s (before clipping), s = 0..S-1
  <c>.<p>.after<s>      parameter after step s
  <c>.norms             [S]  (clip cases) total grad norm returned by clip_grad_norm_ at step s
PyTorch semantics: a parameter with no_decay (and decay_all false) sits in a param group
with weight_decay 0; group g sits in a param group with lr = lrs[s] * group_lr_scale[g].

Schedule cases. For each case <c> in metadata "sched_cases":
  metadata "<c>"        JSON: {"kind": "constant"|"step"|"cosine"|"linear", "base_lr",
                        "warmup_steps", "total_steps", "step_size", "gamma", "min_lr_ratio",
                        "n": number of steps}
  <c>.lr                [n] F32 lr at steps 0..n-1, from the HF transformers formulas
                        (get_{linear,cosine}_schedule_with_warmup; min-lr variant), computed in
                        float64. Warmup: base_lr * step / warmup_steps for step < warmup_steps.
                        Steps past total_steps (when > 0) use step = total_steps (clamped).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

STEPS = 5
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "optim.safetensors")

PARAMS = [  # name, shape, no_decay, group
    ("w", [4, 5], False, 0),
    ("b", [4], True, 0),
    ("u", [3, 2], False, 1),
]


def case(kind, lr, **kw):
    c = {"kind": kind, "lr": lr, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
         "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "decay_all": True,
         "group_lr_scale": [0.0] * 8, "clip": 0.0, "steps": STEPS, "lr_seq": None}
    if kind == "adamw":
        c["weight_decay"] = 0.01
    c.update(kw)
    return c


CASES = {
    "sgd": case("sgd", 0.1),
    "sgd_momentum": case("sgd", 0.1, momentum=0.9),
    "sgd_dampening": case("sgd", 0.05, momentum=0.8, dampening=0.3),
    "sgd_nesterov": case("sgd", 0.1, momentum=0.9, nesterov=True),
    "sgd_wd": case("sgd", 0.1, momentum=0.9, weight_decay=0.05),
    "sgd_nodecay": case("sgd", 0.1, momentum=0.5, weight_decay=0.1, decay_all=False),
    "sgd_groups": case("sgd", 0.1, momentum=0.9, group_lr_scale=[0.0, 0.25] + [0.0] * 6),
    "sgd_clip": case("sgd", 0.1, momentum=0.9, clip=1.5),
    "adam": case("adam", 1e-2),
    "adam_wd": case("adam", 1e-2, weight_decay=0.1),
    "adam_betas": case("adam", 3e-2, beta1=0.8, beta2=0.99, eps=1e-6),
    "adam_nodecay": case("adam", 1e-2, weight_decay=0.1, decay_all=False),
    "adamw": case("adamw", 1e-2),
    "adamw_wd": case("adamw", 1e-2, weight_decay=0.5),
    "adamw_nodecay": case("adamw", 1e-2, weight_decay=0.5, decay_all=False),
    "adamw_groups": case("adamw", 1e-2, weight_decay=0.1, group_lr_scale=[0.0, 3.0] + [0.0] * 6),
    "adamw_sched": case("adamw", 1e-2, weight_decay=0.1, lr_seq=[0.0, 5e-3, 1e-2, 7.5e-3, 2.5e-3]),
    "adamw_clip": case("adamw", 1e-2, clip=2.0),
}


def run_case(name, c, seed, tensors):
    g = torch.Generator().manual_seed(seed)
    params = {}
    for pname, shape, _, _ in PARAMS:
        params[pname] = torch.randn(shape, generator=g).requires_grad_(True)
    # Gradients: a different scale per step so clipping cases clip some steps and not others.
    scales = [0.1, 2.0, 0.2, 3.0, 1.0] if c["clip"] else [1.0] * STEPS
    grads = [{p: torch.randn(params[p].shape, generator=g) * scales[s] for p in params}
             for s in range(STEPS)]
    lrs = c["lr_seq"] if c["lr_seq"] is not None else [c["lr"]] * STEPS

    # Param groups: (group index, decays?) -> list of params.
    groups = {}
    for pname, _, no_decay, grp in PARAMS:
        decays = c["decay_all"] or not no_decay
        groups.setdefault((grp, decays), []).append(params[pname])
    scale = [s if s != 0 else 1.0 for s in c["group_lr_scale"]]
    pg = [{"params": ps, "weight_decay": c["weight_decay"] if decays else 0.0, "gscale": scale[grp]}
          for (grp, decays), ps in sorted(groups.items())]
    if c["kind"] == "sgd":
        opt = torch.optim.SGD(pg, lr=lrs[0], momentum=c["momentum"], dampening=c["dampening"],
                              nesterov=c["nesterov"])
    elif c["kind"] == "adam":
        opt = torch.optim.Adam(pg, lr=lrs[0], betas=(c["beta1"], c["beta2"]), eps=c["eps"])
    else:
        opt = torch.optim.AdamW(pg, lr=lrs[0], betas=(c["beta1"], c["beta2"]), eps=c["eps"])

    for p in params:
        tensors["%s.%s.init" % (name, p)] = params[p].detach().clone()
    norms = []
    for s in range(STEPS):
        for p in params:
            tensors["%s.%s.grad%d" % (name, p, s)] = grads[s][p].clone()
            params[p].grad = grads[s][p].clone()
        if c["clip"]:
            norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), c["clip"])))
        for group in opt.param_groups:
            group["lr"] = lrs[s] * group["gscale"]
        opt.step()
        for p in params:
            tensors["%s.%s.after%d" % (name, p, s)] = params[p].detach().clone()
    tensors["%s.lrs" % name] = torch.tensor(lrs, dtype=torch.float32)
    if c["clip"]:
        tensors["%s.norms" % name] = torch.tensor(norms, dtype=torch.float32)
    meta = {k: v for k, v in c.items() if k != "lr_seq"}
    meta["params"] = [{"name": p, "shape": sh, "no_decay": nd, "group": gr} for p, sh, nd, gr in PARAMS]
    return json.dumps(meta)


# ---- schedules: HF transformers formulas (optimization.py), float64 ----
def hf_lr(kind, base_lr, warmup, total, step_size, gamma, min_ratio, step):
    if total > 0:  # past the end the schedule holds its final value
        step = min(step, total)
    if step < warmup:
        return base_lr * step / max(1, warmup)
    if kind == "constant":
        f = 1.0
    elif kind == "step":  # torch StepLR after warmup: gamma ** ((step - warmup) // step_size)
        f = gamma ** ((step - warmup) // step_size)
    elif kind == "cosine":  # get_cosine_with_min_lr_schedule_with_warmup, num_cycles 0.5
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        f = 0.5 * (1.0 + math.cos(math.pi * progress))
        f = f * (1.0 - min_ratio) + min_ratio
    elif kind == "linear":  # get_linear_schedule_with_warmup, floored at min_ratio
        f = max(0.0, (total - step) / max(1, total - warmup))
        f = f * (1.0 - min_ratio) + min_ratio
    else:
        raise ValueError(kind)
    return base_lr * f


SCHED = {
    "constant": dict(kind="constant", base_lr=0.1, warmup_steps=0, total_steps=20),
    "constant_warmup": dict(kind="constant", base_lr=0.1, warmup_steps=4, total_steps=20),
    "step": dict(kind="step", base_lr=0.5, warmup_steps=0, total_steps=30, step_size=7, gamma=0.1),
    "step_warmup": dict(kind="step", base_lr=0.5, warmup_steps=3, total_steps=30, step_size=5, gamma=0.5),
    "cosine": dict(kind="cosine", base_lr=1e-3, warmup_steps=0, total_steps=20),
    "cosine_warmup": dict(kind="cosine", base_lr=1e-3, warmup_steps=5, total_steps=25),
    "cosine_min": dict(kind="cosine", base_lr=3e-4, warmup_steps=2, total_steps=18, min_lr_ratio=0.1),
    "linear": dict(kind="linear", base_lr=2e-5, warmup_steps=0, total_steps=12),
    "linear_warmup": dict(kind="linear", base_lr=2e-5, warmup_steps=3, total_steps=15),
    "linear_min": dict(kind="linear", base_lr=1e-2, warmup_steps=4, total_steps=16, min_lr_ratio=0.05),
}


def main():
    tensors, meta = {}, {}
    for i, (name, c) in enumerate(CASES.items()):
        meta[name] = run_case(name, c, 1000 + i, tensors)
    meta["optim_cases"] = ",".join(CASES)
    for name, s in SCHED.items():
        s = dict(dict(step_size=0, gamma=1.0, min_lr_ratio=0.0), **s)
        n = s["total_steps"] + 5  # past the end: clamped
        lr = [hf_lr(s["kind"], s["base_lr"], s["warmup_steps"], s["total_steps"], s["step_size"],
                    s["gamma"], s["min_lr_ratio"], t) for t in range(n)]
        tensors["%s.lr" % name] = torch.tensor(lr, dtype=torch.float64).float()
        meta[name] = json.dumps(dict(s, n=n))
    meta["sched_cases"] = ",".join(SCHED)
    meta["generator"] = "tests/gen/gen_optim.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d tensors, %d bytes" % (OUT, len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
