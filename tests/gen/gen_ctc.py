"""PyTorch reference values for the CTC loss op (ft_ctc_loss), and CTC decoding references.

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_ctc.py
Writes tests/fixtures/ctc.safetensors (consumed by tests/test_ctc.c).

Loss cases, in the naming of gen_ops.py: <c>.in0 log_probs [N,T,C] (batch-first, F32),
<c>.in1 targets I32 [N,S] (padded), <c>.in2 input_lengths I32 [N], <c>.in3 target_lengths
I32 [N], <c>.out, <c>.gout, <c>.grad0 = d sum(out * gout) / d log_probs as torch's autograd
returns it (torch.nn.functional.ctc_loss on the [T,N,C] transpose, in float64).
Metadata "<c>" = {"op": "ctc_loss", "args": {"blank", "reduction", "zero_infinity"}};
metadata "cases" lists them.

Decoding cases (metadata "decode_cases"): <d>.lp log-probs [T,C] (F32), metadata "<d>" =
{"blank", "beam", "bonus", "greedy": [...], "beam_out": [...]} with the labels that the
Python references below produce: greedy (argmax per frame, collapse repeats, drop blanks)
and prefix beam search (Hannun et al. 2014, no language model; `bonus` is added to a
prefix's log-score for each label it contains).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ctc.safetensors")
GEN = torch.Generator().manual_seed(20261129)


def randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float32)


def ints(shape, lo, hi):
    return torch.randint(lo, hi, shape, generator=GEN, dtype=torch.int64).to(torch.int32)


def loss_case(tensors, meta, name, lp, targets, il, tl, blank, reduction, zero_infinity):
    x = lp.double().requires_grad_(True)
    out = F.ctc_loss(x.transpose(0, 1), targets.long(), il.long(), tl.long(), blank=blank,
                     reduction=reduction, zero_infinity=zero_infinity)
    gout = randn(*out.shape) if out.dim() else torch.tensor(1.5, dtype=torch.float32)
    (out * gout.double()).sum().backward()
    tensors[name + ".in0"] = lp
    tensors[name + ".in1"] = targets
    tensors[name + ".in2"] = il
    tensors[name + ".in3"] = tl
    tensors[name + ".out"] = out.detach().float().contiguous()
    tensors[name + ".gout"] = gout
    tensors[name + ".grad0"] = x.grad.float().contiguous()
    meta[name] = json.dumps({"op": "ctc_loss", "args": {"blank": blank, "reduction": reduction,
                                                        "zero_infinity": zero_infinity}})
    return name


def random_targets(N, S, C, blank, tl, repeat_pairs=True):
    t = torch.zeros(N, S, dtype=torch.int32)
    for b in range(N):
        for u in range(S):
            c = int(ints((1,), 0, C - 1)[0])
            if c >= blank:
                c += 1  # never the blank
            t[b, u] = c
        if repeat_pairs and tl[b] >= 2:
            t[b, 1] = t[b, 0]  # a repeated label needs a blank between the two
    return t


def define_loss(tensors, meta):
    names = []
    # 1. normalised inputs, mean, repeats, one empty target, variable input lengths
    N, T, C, S = 4, 12, 5, 4
    lp = F.log_softmax(randn(N, T, C) * 2, -1)
    tl = torch.tensor([4, 2, 0, 3], dtype=torch.int32)
    il = torch.tensor([12, 9, 5, 10], dtype=torch.int32)
    tg = random_targets(N, S, C, 0, tl)
    names.append(loss_case(tensors, meta, "ctc_mean", lp, tg, il, tl, 0, "mean", False))
    # 2. sum, blank = last class
    lp = F.log_softmax(randn(3, 10, 6) * 2, -1)
    tl = torch.tensor([3, 5, 1], dtype=torch.int32)
    il = torch.tensor([10, 10, 4], dtype=torch.int32)
    tg = random_targets(3, 5, 6, 5, tl)
    names.append(loss_case(tensors, meta, "ctc_sum_blank_last", lp, tg, il, tl, 5, "sum", False))
    # 3. none, blank in the middle
    lp = F.log_softmax(randn(3, 8, 4) * 1.5, -1)
    tl = torch.tensor([2, 3, 1], dtype=torch.int32)
    il = torch.tensor([8, 7, 3], dtype=torch.int32)
    tg = random_targets(3, 3, 4, 2, tl)
    names.append(loss_case(tensors, meta, "ctc_none_blank2", lp, tg, il, tl, 2, "none", False))
    # 4. non-normalised inputs: torch's gradient formula, not the derivative
    lp = randn(2, 7, 5)
    tl = torch.tensor([3, 2], dtype=torch.int32)
    il = torch.tensor([7, 6], dtype=torch.int32)
    tg = random_targets(2, 3, 5, 0, tl)
    names.append(loss_case(tensors, meta, "ctc_unnormalised", lp, tg, il, tl, 0, "mean", False))
    # 5. zero_infinity: sequence 1 cannot align (3 repeated labels need 5 frames, has 4)
    lp = F.log_softmax(randn(3, 6, 4), -1)
    tg = torch.tensor([[1, 2, 3], [2, 2, 2], [3, 1, 0]], dtype=torch.int32)
    tl = torch.tensor([3, 3, 2], dtype=torch.int32)
    il = torch.tensor([6, 4, 6], dtype=torch.int32)
    names.append(loss_case(tensors, meta, "ctc_zero_infinity_none", lp, tg, il, tl, 0, "none", True))
    names.append(loss_case(tensors, meta, "ctc_zero_infinity_mean", lp, tg, il, tl, 0, "mean", True))
    # 6. longer sequences, peaked distributions (large dynamic range in log space)
    N, T, C, S = 3, 60, 8, 12
    lp = F.log_softmax(randn(N, T, C) * 6, -1)
    tl = torch.tensor([12, 7, 10], dtype=torch.int32)
    il = torch.tensor([60, 41, 55], dtype=torch.int32)
    tg = random_targets(N, S, C, 0, tl)
    names.append(loss_case(tensors, meta, "ctc_long_peaked", lp, tg, il, tl, 0, "mean", False))
    # 7. exactly tight: target length U with no repeats and input length U
    lp = F.log_softmax(randn(1, 4, 5), -1)
    tg = torch.tensor([[1, 2, 3, 4]], dtype=torch.int32)
    names.append(loss_case(tensors, meta, "ctc_tight", lp, tg, torch.tensor([4], dtype=torch.int32),
                           torch.tensor([4], dtype=torch.int32), 0, "sum", False))
    return names


# ---------------- decoding references ----------------

def greedy(lp, blank):
    out, prev = [], None
    for t in range(lp.shape[0]):
        k = int(np.argmax(lp[t]))
        if k != blank and k != prev:
            out.append(k)
        prev = k
    return out


def logadd(*xs):
    m = max(xs)
    if m == -math.inf:
        return -math.inf
    return m + math.log(sum(math.exp(x - m) for x in xs))


def prefix_beam(lp, blank, beam, bonus):
    """CTC prefix beam search: each prefix keeps (log p ending in blank, log p ending in a
    label). The beam keeps the `beam` prefixes with the best log(p_b + p_nb) + bonus*len;
    ties keep the earlier-inserted prefix (stable sort). Returns the best prefix."""
    T, C = lp.shape
    beams = {(): (0.0, -math.inf)}
    order = [()]
    for t in range(T):
        nxt, norder = {}, []

        def add(prefix, pb, pnb):
            if prefix not in nxt:
                nxt[prefix] = (-math.inf, -math.inf)
                norder.append(prefix)
            ob, onb = nxt[prefix]
            nxt[prefix] = (logadd(ob, pb), logadd(onb, pnb))

        for prefix in order:
            pb, pnb = beams[prefix]
            for c in range(C):
                p = float(lp[t, c])
                if c == blank:
                    add(prefix, logadd(pb, pnb) + p, -math.inf)
                    continue
                last = prefix[-1] if prefix else None
                ext = prefix + (c,)
                if c == last:
                    add(ext, -math.inf, pb + p)      # a blank separated the repeat
                    add(prefix, -math.inf, pnb + p)  # the repeat collapses
                else:
                    add(ext, -math.inf, logadd(pb, pnb) + p)

        def score(pr):
            b, nb = nxt[pr]
            return logadd(b, nb) + bonus * len(pr)
        norder.sort(key=lambda pr: -score(pr))
        order = norder[:beam]
        beams = {pr: nxt[pr] for pr in order}
    return list(order[0])


def define_decode(tensors, meta):
    names = []
    rng = np.random.default_rng(7)
    specs = [  # (T, C, blank, beam, bonus, sharpness)
        (10, 4, 0, 1, 0.0, 1.0), (12, 5, 0, 4, 0.0, 1.0), (15, 6, 0, 8, 0.0, 0.5),
        (20, 5, 4, 8, 0.0, 2.0), (16, 4, 0, 16, 0.0, 0.3), (25, 7, 0, 10, 0.5, 1.0),
        (18, 5, 2, 6, -0.5, 0.7), (30, 11, 0, 20, 0.0, 1.5),
    ]
    for i, (T, C, blank, beam, bonus, sharp) in enumerate(specs):
        z = rng.standard_normal((T, C)) * sharp * 3
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        lp = lp.astype(np.float32)
        lp64 = lp.astype(np.float64)
        name = "dec%d" % i
        tensors[name + ".lp"] = lp
        meta[name] = json.dumps({"blank": blank, "beam": beam, "bonus": bonus,
                                 "greedy": greedy(lp64, blank), "beam_out": prefix_beam(lp64, blank, beam, bonus)})
        names.append(name)
    return names


def main():
    tensors, meta = {}, {}
    meta["cases"] = ",".join(define_loss(tensors, meta))
    meta["decode_cases"] = ",".join(define_decode(tensors, meta))
    meta["generator"] = "tests/gen/gen_ctc.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d tensors, %d bytes" % (OUT, len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
