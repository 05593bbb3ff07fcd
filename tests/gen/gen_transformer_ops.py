"""PyTorch reference values for the Transformer ops (ft_rms_norm, ft_rope, ft_attention).

Run with Debian's PyTorch:  /usr/bin/python3 tests/gen/gen_transformer_ops.py
Writes tests/fixtures/transformer_ops.safetensors, in the format of gen_ops.py (read by
tests/test_ops_torch.c). The formulas are Hugging Face's modeling_llama.py:
  rms_norm   {"eps"}                      LlamaRMSNorm: w * (x * rsqrt(mean(x^2, -1) + eps))
                                          in0 x [.., D], in1 weight [D] (absent: no weight)
  rope       {"n_head", "theta", "positions": bool}
                                          LlamaRotaryEmbedding + apply_rotary_pos_emb
                                          (rotate_half); in0 x [B, T, H*D], in1 positions I32 [T]
  attention  {"n_head", "n_kv_head", "causal", "scale", "mask": bool}
                                          eager attention with repeat_kv (query head h reads kv
                                          head h // (Hq/Hkv)); in0 q [B,Tq,Hq*D], in1 k, in2 v
                                          [B,Tk,Hkv*D], in3 key mask I32 [B,Tk] (1 = attend);
                                          causal: key j hidden from query i when j > i + Tk - Tq
cos/sin are computed in float32 as HF does; everything else in float64 from the float32 inputs.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "transformer_ops.safetensors")
GEN = torch.Generator().manual_seed(20261129)


def randn(*shape):
    return torch.randn(*shape, generator=GEN, dtype=torch.float32)


def rms_norm(eps):
    def f(x, w=None):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        return y * w if w is not None else y
    return f


def rope_cos_sin(T, D, theta, pos):
    # LlamaRotaryEmbedding (default rope_type), float32
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    freqs = pos.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope(n_head, theta):
    def f(x, pos=None):
        B, T, C = x.shape
        D = C // n_head
        p = pos.long() if pos is not None else torch.arange(T)
        cos, sin = rope_cos_sin(T, D, theta, p)
        xh = x.view(B, T, n_head, D)
        cos, sin = cos.double()[None, :, None, :], sin.double()[None, :, None, :]
        return (xh * cos + rotate_half(xh) * sin).reshape(B, T, C)
    return f


def attention(hq, hkv, causal, scale):
    def f(q, k, v, mask=None):
        B, Tq, C = q.shape
        Tk = k.shape[1]
        D = C // hq
        qh = q.view(B, Tq, hq, D).transpose(1, 2)
        kh = k.view(B, Tk, hkv, D).transpose(1, 2)
        vh = v.view(B, Tk, hkv, D).transpose(1, 2)
        g = hq // hkv
        # repeat_kv: [B, Hkv, T, D] -> [B, Hkv*g, T, D]
        kh = kh[:, :, None].expand(B, hkv, g, Tk, D).reshape(B, hq, Tk, D)
        vh = vh[:, :, None].expand(B, hkv, g, Tk, D).reshape(B, hq, Tk, D)
        s = torch.matmul(qh, kh.transpose(2, 3)) * (scale if scale > 0 else 1.0 / math.sqrt(D))
        allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
        if causal:
            i = torch.arange(Tq)[:, None]
            j = torch.arange(Tk)[None, :]
            allowed = allowed & (j <= i + Tk - Tq)[None, None]
        if mask is not None:
            allowed = allowed & (mask != 0)[:, None, None, :]
        s = s.masked_fill(~allowed, float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, vh)
        return o.transpose(1, 2).reshape(B, Tq, C)
    return f


CASES = []


def case(name, op, args, inputs, fn):
    CASES.append((name, op, args, inputs, fn))


def define():
    case("rms_norm", "rms_norm", {"eps": 1e-5}, [randn(3, 8) * 2 + 0.5, 1 + 0.3 * randn(8)], rms_norm(1e-5))
    case("rms_norm_3d", "rms_norm", {"eps": 1e-6}, [randn(2, 3, 16), randn(16)], rms_norm(1e-6))
    case("rms_norm_plain", "rms_norm", {"eps": 1e-5}, [randn(4, 6)], rms_norm(1e-5))
    case("rope", "rope", {"n_head": 2, "theta": 10000.0, "positions": False}, [randn(2, 5, 16)], rope(2, 10000.0))
    case("rope_positions", "rope", {"n_head": 3, "theta": 500000.0, "positions": True},
         [randn(1, 4, 24), torch.tensor([7, 0, 130, 3], dtype=torch.int32)], rope(3, 500000.0))
    case("attention", "attention", {"n_head": 2, "n_kv_head": 2, "causal": False, "scale": 0.0, "mask": False},
         [randn(2, 4, 8), randn(2, 4, 8), randn(2, 4, 8)], attention(2, 2, False, 0.0))
    case("attention_causal_gqa", "attention", {"n_head": 4, "n_kv_head": 2, "causal": True, "scale": 0.0, "mask": False},
         [randn(2, 5, 16), randn(2, 5, 8), randn(2, 5, 8)], attention(4, 2, True, 0.0))
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.int32)
    case("attention_padding", "attention", {"n_head": 2, "n_kv_head": 1, "causal": False, "scale": 0.0, "mask": True},
         [randn(2, 6, 8), randn(2, 6, 4), randn(2, 6, 4), mask], attention(2, 1, False, 0.0))
    mask2 = torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 0]], dtype=torch.int32)
    case("attention_kv_cache_causal_mask", "attention",
         {"n_head": 3, "n_kv_head": 3, "causal": True, "scale": 0.25, "mask": True},
         [randn(2, 2, 12), randn(2, 5, 12), randn(2, 5, 12), mask2], attention(3, 3, True, 0.25))


def run(name, op, args, inputs, fn, tensors):
    xs = [t.double().requires_grad_(True) if t.dtype == torch.float32 else t for t in inputs]
    out = fn(*xs)
    gout = randn(*out.shape)
    (out * gout.double()).sum().backward()
    for k, t in enumerate(inputs):
        tensors["%s.in%d" % (name, k)] = t
        if t.dtype == torch.float32:
            tensors["%s.grad%d" % (name, k)] = xs[k].grad.float()
    tensors["%s.out" % name] = out.detach().float().contiguous()
    tensors["%s.gout" % name] = gout
    return json.dumps({"op": op, "args": args, "n_in": len(inputs),
                       "in_dtypes": ["F32" if t.dtype == torch.float32 else "I32" for t in inputs]})


def main():
    define()
    tensors, meta, names = {}, {}, []
    for name, op, args, inputs, fn in CASES:
        assert name not in meta, name
        meta[name] = run(name, op, args, inputs, fn, tensors)
        names.append(name)
    meta["cases"] = ",".join(names)
    meta["generator"] = "tests/gen/gen_transformer_ops.py, torch " + torch.__version__
    stio.save(OUT, tensors, meta)
    print("wrote %s: %d cases, %d tensors, %d bytes" % (OUT, len(names), len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
