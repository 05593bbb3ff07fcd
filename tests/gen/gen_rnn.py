"""PyTorch reference values for the recurrent ops (ft_lstm, ft_gru, ft_rnn_final) and the
graph-config ops "lstm"/"gru"/"rnn_final".

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_rnn.py
Writes tests/fixtures/rnn.safetensors (read by tests/test_rnn.c). For each case, an
nn.LSTM or nn.GRU (batch_first, num_layers 2, bidirectional) in float64 runs
  - packed: x [N,T,I] with unsorted lengths through pack_padded_sequence(enforce_sorted=False);
    out = pad_packed_sequence(...) [N,T,2H], h_n (and c_n) [layers*2, N, H];
    loss = sum(out*gout) + sum(h_n*gh) (+ sum(c_n*gc))
  - full: the same x at full length, loss = sum(out_full*gout)
Stored: "<case>.<param>" (PyTorch state_dict names), x, lengths (I32), gout, gh, gc, out,
h_n, c_n, and the gradients "<case>.grad.<name>" (packed) and "<case>.fgrad.<name>" (full).
Metadata: per case {"kind", "input_size", "hidden_size", "num_layers", "bias"}.

Initial states (the graph-config attribute "initial_state"; cases listed in the metadata key
"istate_cases"): the same kind of module at full length from h0 (and c0) [2*layers, B, H],
B = N (one state per example) or 1 (one state expanded to every example), loss =
sum(out*gout). Stored: the parameters, x, gout, out, "<case>.h0"/"<case>.c0" in the graph's
batch-first layout [B, 2*layers, H], and the gradients "<case>.grad.<name>" (h0/c0 in the
same layout; a shared state's gradient is the sum over the batch). These cases draw their
random numbers after the others, so adding them left the first three cases unchanged.
"""
import json
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "rnn.safetensors")
GEN = torch.Generator().manual_seed(20261129)


def randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float32)


def case(name, kind, I, H, layers, bias, N, T, lengths, tensors, meta):
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    torch.manual_seed(7)
    m = cls(I, H, num_layers=layers, bias=bias, batch_first=True, bidirectional=True)
    with torch.no_grad():  # weights away from tiny values: exercise the nonlinearities
        for p in m.parameters():
            p.copy_(randn(*p.shape) * 0.5)
    m = m.double()
    x = randn(N, T, I)
    lens = torch.tensor(lengths, dtype=torch.int64)
    gout, gh = randn(N, T, 2 * H), randn(2 * layers, N, H)
    gc = randn(2 * layers, N, H)

    xd = x.double().requires_grad_(True)
    packed = pack_padded_sequence(xd, lens, batch_first=True, enforce_sorted=False)
    out, st = m(packed)
    y, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    h_n = st[0] if kind == "lstm" else st
    loss = (y * gout.double()).sum() + (h_n * gh.double()).sum()
    if kind == "lstm":
        loss = loss + (st[1] * gc.double()).sum()
    loss.backward()
    for pn, p in m.named_parameters():
        tensors["%s.%s" % (name, pn)] = p.detach().float()
        tensors["%s.grad.%s" % (name, pn)] = p.grad.float()
    tensors["%s.grad.x" % name] = xd.grad.float()
    tensors["%s.x" % name] = x
    tensors["%s.lengths" % name] = lens.to(torch.int32)
    tensors["%s.gout" % name] = gout
    tensors["%s.gh" % name] = gh
    tensors["%s.out" % name] = y.detach().float().contiguous()
    tensors["%s.h_n" % name] = h_n.detach().float().contiguous()
    if kind == "lstm":
        tensors["%s.gc" % name] = gc
        tensors["%s.c_n" % name] = st[1].detach().float().contiguous()

    m.zero_grad()
    xf = x.double().requires_grad_(True)
    yf, _ = m(xf)
    (yf * gout.double()).sum().backward()
    tensors["%s.fout" % name] = yf.detach().float().contiguous()
    tensors["%s.fgrad.x" % name] = xf.grad.float()
    for pn, p in m.named_parameters():
        tensors["%s.fgrad.%s" % (name, pn)] = p.grad.float()
    meta[name] = json.dumps({"kind": kind, "input_size": I, "hidden_size": H, "num_layers": layers, "bias": bias})


def istate_case(name, kind, I, H, layers, N, T, shared, tensors, meta):
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    m = cls(I, H, num_layers=layers, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(randn(*p.shape) * 0.5)
    m = m.double()
    B = 1 if shared else N
    x, gout = randn(N, T, I), randn(N, T, 2 * H)
    h0 = randn(2 * layers, B, H).double().requires_grad_(True)
    c0 = randn(2 * layers, B, H).double().requires_grad_(True)
    he, ce = h0.expand(2 * layers, N, H), c0.expand(2 * layers, N, H)
    xd = x.double().requires_grad_(True)
    y, _ = m(xd, (he, ce)) if kind == "lstm" else m(xd, he)
    (y * gout.double()).sum().backward()
    for pn, p in m.named_parameters():
        tensors["%s.%s" % (name, pn)] = p.detach().float()
        tensors["%s.grad.%s" % (name, pn)] = p.grad.float()
    states = [("h0", h0)] + ([("c0", c0)] if kind == "lstm" else [])
    for sn, sv in states:  # batch-first [B, 2*layers, H]
        tensors["%s.%s" % (name, sn)] = sv.detach().float().transpose(0, 1).contiguous()
        tensors["%s.grad.%s" % (name, sn)] = sv.grad.float().transpose(0, 1).contiguous()
    tensors["%s.grad.x" % name] = xd.grad.float()
    tensors["%s.x" % name] = x
    tensors["%s.gout" % name] = gout
    tensors["%s.out" % name] = y.detach().float().contiguous()
    meta[name] = json.dumps({"kind": kind, "input_size": I, "hidden_size": H, "num_layers": layers, "bias": True, "batch": B})


def main():
    tensors, meta = {}, {}
    case("lstm", "lstm", 5, 4, 2, True, 3, 6, [4, 6, 2], tensors, meta)
    case("gru", "gru", 5, 4, 2, True, 3, 6, [4, 6, 2], tensors, meta)
    case("lstm_nobias", "lstm", 3, 3, 2, False, 2, 4, [1, 4], tensors, meta)
    meta["cases"] = "lstm,gru,lstm_nobias"
    istate_case("lstm_h0", "lstm", 4, 3, 2, 3, 5, False, tensors, meta)
    istate_case("lstm_h0_shared", "lstm", 4, 3, 1, 3, 4, True, tensors, meta)
    istate_case("gru_h0_shared", "gru", 4, 3, 2, 2, 5, True, tensors, meta)
    meta["istate_cases"] = "lstm_h0,lstm_h0_shared,gru_h0_shared"
    meta["generator"] = "tests/gen/gen_rnn.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d tensors, %d bytes" % (OUT, len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
