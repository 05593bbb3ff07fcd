"""PyTorch references for finetune's torchvision architectures (resnet, vgg, inception_v3,
mobilenet_v2), at their true topology.

Run with Debian's PyTorch + torchvision 0.14:  /usr/bin/python3 tests/gen/gen_torchvision.py
(`apt-get install -y python3-torchvision` if `import torchvision` fails). Optional arguments:
case names to regenerate only those (e.g. `resnet18 vgg16`). Writes tests/fixtures/tv_<case>.safetensors
(one per parity case) and tests/fixtures/tv_names.safetensors. No weights are written: both
sides generate them from the seeded generator below. Consumed by tests/test_torchvision.c.

Parity init ("tv parity init", seed SEED): parameter i of the state_dict (state_dict order,
buffers included; i is the PCG32 stream) gets, with U(b) = pcg32 uniform_tensor(shape, SEED, i, b)
i.e. C's ft_params_init_uniform(ps, i, SEED, b), all arithmetic in float32:
  weight with >= 2 dims (conv, linear)      U(sqrtf(6.0f / fan_in))  (kaiming-uniform, ReLU gain;
                                            fan_in = numel / shape[0]) so that activations keep
                                            their scale through VGG without BatchNorm
  1-D "<m>.bias" where <m>.weight is >= 2-D U(1.0f / sqrtf(fan_in of <m>.weight))  (PyTorch default)
  other 1-D "*.weight" (BatchNorm gamma)    1.0f + U(0.25f)
  other 1-D (BatchNorm beta)                U(0.25f)
  buffer "*.running_mean"                   U(0.25f)
  buffer "*.running_var"                    1.0f + U(0.5f)
  buffer "*.num_batches_tracked"            0
Random BN affine parameters and running statistics make the test see a swapped gamma/beta
or a wrong momentum convention, which the PyTorch defaults (1, 0, 0, 1) would hide.
Input x [2, C, H, W] = U(2.0f) from stream 1000000 (same seed); labels y = [3, 917].

Mode: model.train() with every dropout p = 0, so BatchNorm normalises with batch statistics and
updates its running statistics (momentum 0.1, unbiased variance): the fine-tuning case. Case
"resnet18_frozen_bn" (at 112x112, to save time) instead puts every BatchNorm in eval mode while
training ("frozen_bn": true):
running statistics normalise and stay unchanged. Its running statistics are first set by one
no-grad train forward of x with momentum 1 (batch mean, unbiased variance) so that they fit the
data as a pretrained model's do (the random ones above blow the logits up to ~500); they are in the
fixture as stats.<name> and the C test loads them before its forward. loss = cross_entropy(logits, y), mean.

The reference values come from a float64 run of the same model (weights, input and statistics
are float32 values, exact in float64), stored as float32: a float32 implementation is then
measured against the exact result, not against torch's float32 rounding. The same step in
float32 (torch's own error) is stored under torch32.* as the yardstick the C test prints next
to its own error: in BatchNorm-trained deep nets at batch 2, single gradient entries are
ill-conditioned (torch float32 vs float64 differs by up to ~30% of a parameter's rms gradient
in some entries of resnet50), so entries are judged in aggregate against that yardstick.

Tensors of tv_<case>.safetensors:
  y [2] I32; x_sum [] F32 (sum of x in float64, a generator self-check)
  logits [2, n_classes]; loss []               (float64 run)
  grad_norm [T]: L2 norm of the gradient of each trainable parameter (all non-buffers), in
                state_dict order (float64 run)
  sample.param [K] I32 (index in the state_dict list), sample.index [K] I32 (flat index),
  sample.value [K] F32: K = T + 64 gradient entries, one random entry of every trainable parameter
                plus 64 entries drawn uniformly over all gradient values (numpy RandomState(0))
  torch32.logits, torch32.loss, torch32.grad_norm, torch32.sample.value: the same from torch's
                float32 run
  after.<name>  running_mean / running_var of every BatchNorm after the forward (train mode)
  stats.<name>  (frozen_bn case only) the running statistics to load before the forward
Metadata: "config" (finetune model config JSON), "state_dict" (JSON [[name, shape], ...] of the
torchvision model in order), "case", "mode", "seed", "generator".

tv_names.safetensors: metadata "names.<k>" = JSON {"config": ..., "state_dict": [[name, shape],
...]} for configurations checked by name and shape only (resnet101/152, vgg13/19 (+bn),
inception with aux_logits, mobilenet_v2 at width 0.5 and 1.4, a 10-class resnet18), and tensors
"resnet18.<name>" for a few real torchvision resnet18 state_dict entries after two train-mode
forwards (num_batches_tracked is an I64 scalar = 2): loaded into finetune's resnet18 they check
that torchvision's dtypes and 0-d shapes load.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.models as tvm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402
import pcg32  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
SEED = 2024
X_STREAM = 1000000
LABELS = [3, 917]
N_RANDOM_SAMPLES = 64

# ---- vectorised PCG32: bit-identical to ft_pcg32_* (checked against pcg32.py below) ----
_M64 = (1 << 64) - 1
_MULT = 6364136223846793005
_BLOCK = 1 << 20
_A = None  # _A[k] = MULT^k, _C1[k] = 1 + MULT + ... + MULT^(k-1)  (mod 2^64), k < _BLOCK


def _tables():
    global _A, _C1
    if _A is None:
        m = np.full(_BLOCK, _MULT, dtype=np.uint64)
        m[0] = 1
        _A = np.cumprod(m)  # uint64 arithmetic wraps mod 2^64
        _C1 = np.zeros(_BLOCK, dtype=np.uint64)
        _C1[1:] = np.cumsum(_A[:-1])
    return _A, _C1


def pcg_u32(seed, stream, n):
    """The first n outputs of ft_pcg32 seeded with (seed, stream), as uint64."""
    A, C1 = _tables()
    inc = ((stream << 1) | 1) & _M64
    s = (inc + seed) & _M64          # seed(): state = 0; next() -> inc; state += seed
    s = (s * _MULT + inc) & _M64     # next(): the state before the first output
    # State after a whole block: s * MULT^B + inc * (1 + ... + MULT^(B-1)).
    a_b = pow(_MULT, _BLOCK, 1 << 64)
    c_b = (int(C1[-1]) * _MULT + 1) & _M64
    inc_u = np.uint64(inc)
    out = np.empty(n, dtype=np.uint64)
    for start in range(0, n, _BLOCK):
        k = min(_BLOCK, n - start)
        old = A[:k] * np.uint64(s) + C1[:k] * inc_u
        xs = (((old >> np.uint64(18)) ^ old) >> np.uint64(27)) & np.uint64(0xFFFFFFFF)
        rot = old >> np.uint64(59)
        out[start:start + k] = ((xs >> rot) | (xs << ((np.uint64(32) - rot) & np.uint64(31)))) & np.uint64(0xFFFFFFFF)
        s = (s * a_b + inc * c_b) & _M64
    return out


def uniform(shape, seed, stream, bound):
    """float32 (2u - 1) * bound, exactly as ft_params_init_uniform."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = (pcg_u32(seed, stream, n) >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    v = (np.float32(2.0) * u - np.float32(1.0)) * np.float32(bound)
    return v.astype(np.float32).reshape(shape)


def _self_check():
    for seed, stream, n in [(42, 54, 40), (SEED, 7, 3000), (1, 0, 5)]:
        r = pcg32.PCG32(seed, stream)
        want = np.array([r.next() for _ in range(n)], dtype=np.uint64)
        assert np.array_equal(pcg_u32(seed, stream, n), want), (seed, stream)
    assert np.array_equal(uniform([3, 5], SEED, 3, 0.7), pcg32.uniform_tensor([3, 5], SEED, 3, 0.7))
    # Across a block boundary: step the scalar generator's LCG (no output mixing) to just
    # before index _BLOCK and compare the next outputs.
    big = pcg_u32(SEED, 11, _BLOCK + 5)
    r = pcg32.PCG32(SEED, 11)
    for _ in range(_BLOCK - 3):
        r.state = (r.state * _MULT + r.inc) & _M64
    assert np.array_equal(big[_BLOCK - 3:], np.array([r.next() for _ in range(8)], dtype=np.uint64))


# ---- parity init ----
def bound_f32(num, fan_in):
    return np.float32(np.sqrt(np.float32(num) / np.float32(fan_in)))


def parity_state_dict(model):
    sd = model.state_dict()
    names = list(sd)
    out = {}
    for i, name in enumerate(names):
        t = sd[name]
        shape = list(t.shape)
        if name.endswith("num_batches_tracked"):
            out[name] = torch.zeros((), dtype=torch.int64)
            continue
        if name.endswith("running_mean"):
            v = uniform(shape, SEED, i, 0.25)
        elif name.endswith("running_var"):
            v = np.float32(1.0) + uniform(shape, SEED, i, 0.5)
        elif len(shape) >= 2:
            fan_in = int(np.prod(shape)) // shape[0]
            v = uniform(shape, SEED, i, bound_f32(6.0, fan_in))
        else:
            sib = name[:-5] + ".weight" if name.endswith(".bias") else None
            if sib in sd and sd[sib].dim() >= 2:
                fan_in = sd[sib].numel() // sd[sib].shape[0]
                v = uniform(shape, SEED, i, np.float32(1.0) / np.sqrt(np.float32(fan_in)))
            elif name.endswith(".weight"):
                v = np.float32(1.0) + uniform(shape, SEED, i, 0.25)
            else:
                v = uniform(shape, SEED, i, 0.25)
        out[name] = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
    return out


def name_list(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


# ---- cases: (name, finetune config, torchvision constructor, input [C,H,W], frozen_bn) ----
def cases():
    c = []
    for d, f in [(18, tvm.resnet18), (34, tvm.resnet34), (50, tvm.resnet50)]:
        c.append(("resnet%d" % d, {"arch": "resnet", "depth": d, "n_classes": 1000}, f, [3, 224, 224], False))
    c.append(("resnet18_frozen_bn", {"arch": "resnet", "depth": 18, "n_classes": 1000, "frozen_bn": True,
                                     "input_shape": [3, 112, 112]}, tvm.resnet18, [3, 112, 112], True))
    for d, bn, f in [(11, False, tvm.vgg11), (11, True, tvm.vgg11_bn), (16, False, tvm.vgg16), (16, True, tvm.vgg16_bn)]:
        c.append(("vgg%d%s" % (d, "_bn" if bn else ""),
                  {"arch": "vgg", "depth": d, "batch_norm": bn, "n_classes": 1000, "dropout": 0.0},
                  lambda f=f: f(dropout=0.0, init_weights=False), [3, 224, 224], False))
    c.append(("inception_v3",
              {"arch": "inception_v3", "aux_logits": False, "transform_input": True, "n_classes": 1000, "dropout": 0.0},
              lambda: tvm.inception_v3(aux_logits=False, transform_input=True, init_weights=False, dropout=0.0),
              [3, 299, 299], False))
    c.append(("mobilenet_v2", {"arch": "mobilenet_v2", "width_mult": 1.0, "n_classes": 1000, "dropout": 0.0},
              lambda: tvm.mobilenet_v2(dropout=0.0), [3, 224, 224], False))
    return c


def train_step(ctor, sd, dtype, frozen_bn, x, y):
    """One training forward + backward of a fresh model holding sd, in dtype."""
    model = ctor()
    model.load_state_dict(sd)
    model.to(dtype)
    model.train()
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d) and frozen_bn:
            mod.eval()
        if isinstance(mod, nn.Dropout):
            assert mod.p == 0.0
    logits = model(x.to(dtype))
    if isinstance(logits, tuple):
        logits = logits[0]
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return model, logits.detach(), loss.detach()


def run_case(name, cfg, ctor, in_shape, frozen_bn):
    t0 = time.time()
    torch.manual_seed(0)
    model = ctor()
    sd = parity_state_dict(model)
    x = torch.from_numpy(uniform([2] + in_shape, SEED, X_STREAM, 2.0))
    y = torch.tensor(LABELS, dtype=torch.int64)
    tensors = {}
    if frozen_bn:
        # Running statistics that fit the data (as in a pretrained model): one no-grad train
        # forward with momentum 1 sets them to this batch's mean and unbiased variance.
        model.load_state_dict(sd)
        model.train()
        bns = [mod for mod in model.modules() if isinstance(mod, nn.BatchNorm2d)]
        for mod in bns:
            mod.momentum = 1.0
        with torch.no_grad():
            model(x)
        sd = {k: v.clone() for k, v in model.state_dict().items()}
        for n in sd:
            if n.endswith("running_mean") or n.endswith("running_var"):
                tensors["stats." + n] = sd[n]
    del model
    # The reference is float64 (exact up to ~1e-15); torch's own float32 run is kept as a
    # yardstick for the error a correct float32 implementation makes.
    m64, logits64, loss64 = train_step(ctor, sd, torch.float64, frozen_bn, x, y)
    m32, logits32, loss32 = train_step(ctor, sd, torch.float32, frozen_bn, x, y)

    names = list(m64.state_dict())
    p64, p32 = dict(m64.named_parameters()), dict(m32.named_parameters())
    after = m64.state_dict()
    tensors.update({"y": y.to(torch.int32), "x_sum": torch.tensor(float(x.double().sum()), dtype=torch.float32),
                    "logits": logits64.float(), "loss": loss64.float(),
                    "torch32.logits": logits32, "torch32.loss": loss32})
    norms, norms32, s_param, s_index, s_value, s_value32 = [], [], [], [], [], []
    rs = np.random.RandomState(0)
    grads = []
    for i, n in enumerate(names):
        if n not in p64:
            continue
        g, g32 = p64[n].grad.detach().reshape(-1), p32[n].grad.detach().reshape(-1)
        grads.append((i, g, g32))
        norms.append(float(g.norm()))
        norms32.append(float(g32.double().norm()))
        k = int(rs.randint(0, g.numel()))
        s_param.append(i), s_index.append(k), s_value.append(float(g[k])), s_value32.append(float(g32[k]))
    total = sum(g.numel() for _, g, _ in grads)
    cum = np.cumsum([g.numel() for _, g, _ in grads])
    for _ in range(N_RANDOM_SAMPLES):
        flat = int(rs.randint(0, total))
        j = int(np.searchsorted(cum, flat, side="right"))
        k = flat - (int(cum[j - 1]) if j else 0)
        i, g, g32 = grads[j]
        s_param.append(i), s_index.append(k), s_value.append(float(g[k])), s_value32.append(float(g32[k]))
    tensors["grad_norm"] = np.array(norms, dtype=np.float32)
    tensors["torch32.grad_norm"] = np.array(norms32, dtype=np.float32)
    tensors["sample.param"] = np.array(s_param, dtype=np.int32)
    tensors["sample.index"] = np.array(s_index, dtype=np.int32)
    tensors["sample.value"] = np.array(s_value, dtype=np.float32)
    tensors["torch32.sample.value"] = np.array(s_value32, dtype=np.float32)
    for n in names:
        if n.endswith("running_mean") or n.endswith("running_var"):
            if frozen_bn:
                assert torch.equal(after[n].float(), sd[n]), n
            else:
                tensors["after." + n] = after[n].float()
    assert torch.isfinite(logits64).all(), name
    meta = {"config": json.dumps(cfg), "state_dict": json.dumps(name_list(m64)), "case": name,
            "mode": "train, BatchNorm frozen (eval statistics)" if frozen_bn else "train, dropout 0",
            "seed": str(SEED),
            "generator": "tests/gen/gen_torchvision.py, torch %s, torchvision %s" % (torch.__version__, torchvision.__version__)}
    out = os.path.join(FIX, "tv_%s.safetensors" % name)
    stio.save(out, tensors, meta)
    rel = lambda a, b: float((a.double() - b.double()).abs().max() / b.double().abs().max())
    print("%-20s logits |max| %7.3f std %6.3f  loss %8.4f  grad norms %.2g..%.3g  %9d params  %5.1fs  %7d bytes"
          "  torch f32 vs f64: logits %.1e, norms %.1e" % (
              name, float(logits64.abs().max()), float(logits64.std()), float(loss64), min(norms), max(norms),
              sum(p.numel() for p in m64.parameters()), time.time() - t0, os.path.getsize(out),
              rel(logits32, logits64), max(abs(a - b) / b for a, b in zip(norms32, norms) if b > 1e-3 * max(norms))))


def names_fixture():
    cfgs = []
    for d, f in [(101, tvm.resnet101), (152, tvm.resnet152)]:
        cfgs.append(("resnet%d" % d, {"arch": "resnet", "depth": d, "n_classes": 1000}, f))
    cfgs.append(("resnet18_c10", {"arch": "resnet", "depth": 18, "n_classes": 10}, lambda: tvm.resnet18(num_classes=10)))
    for d, bn, f in [(13, False, tvm.vgg13), (13, True, tvm.vgg13_bn), (19, False, tvm.vgg19), (19, True, tvm.vgg19_bn)]:
        cfgs.append(("vgg%d%s" % (d, "_bn" if bn else ""), {"arch": "vgg", "depth": d, "batch_norm": bn, "n_classes": 1000},
                     lambda f=f: f(init_weights=False)))
    cfgs.append(("inception_v3_aux", {"arch": "inception_v3", "aux_logits": True, "n_classes": 1000},
                 lambda: tvm.inception_v3(aux_logits=True, init_weights=False)))
    cfgs.append(("inception_v3_default", {"arch": "inception_v3", "n_classes": 1000},
                 lambda: tvm.inception_v3(init_weights=False)))
    cfgs.append(("inception_v3_c5", {"arch": "inception_v3", "aux_logits": True, "n_classes": 5},
                 lambda: tvm.inception_v3(aux_logits=True, init_weights=False, num_classes=5)))
    for w in [0.5, 0.75, 1.4]:
        cfgs.append(("mobilenet_v2_w%g" % w, {"arch": "mobilenet_v2", "width_mult": w, "n_classes": 1000},
                     lambda w=w: tvm.mobilenet_v2(width_mult=w)))
    meta = {}
    for k, cfg, ctor in cfgs:
        torch.manual_seed(0)
        meta["names." + k] = json.dumps({"config": cfg, "state_dict": name_list(ctor())})
    # Real torchvision tensors (num_batches_tracked is int64, shape []) for a load check.
    torch.manual_seed(1)
    m = tvm.resnet18()
    m.train()
    with torch.no_grad():
        for _ in range(2):
            m(torch.randn(2, 3, 64, 64))
    sd = m.state_dict()
    tensors = {}
    for n in ["bn1.weight", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
              "layer4.1.bn2.num_batches_tracked", "layer4.1.bn2.running_var", "fc.bias"]:
        tensors["resnet18." + n] = sd[n]
    assert sd["bn1.num_batches_tracked"].dtype == torch.int64 and int(sd["bn1.num_batches_tracked"]) == 2
    meta["generator"] = "tests/gen/gen_torchvision.py, torch %s, torchvision %s" % (torch.__version__, torchvision.__version__)
    out = os.path.join(FIX, "tv_names.safetensors")
    stio.save(out, tensors, meta)
    print("%-20s %d configurations, %d bytes" % ("names", len(cfgs), os.path.getsize(out)))


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    _self_check()
    want = set(sys.argv[1:])
    for c in cases():
        if not want or c[0] in want:
            with torch.random.fork_rng():
                run_case(*c)
    if not want or "names" in want:
        names_fixture()


if __name__ == "__main__":
    main()
