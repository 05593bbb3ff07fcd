"""PyTorch references for finetune's Hugging Face Transformer architectures: BERT
(BertModel, BertForSequenceClassification, BertForTokenClassification), GPT-2
(GPT2LMHeadModel, GPT2ForSequenceClassification) and Llama (LlamaForCausalLM).

The `transformers` package is not installable here, so this script re-implements the three
architectures in plain torch, exactly as Hugging Face's modelling code computes them
(modeling_bert.py, modeling_gpt2.py, modeling_llama.py, eager attention):
  BERT   embeddings = word + token_type, += position; LayerNorm(eps layer_norm_eps, 1e-12);
         self-attention scores (q k^T) / sqrt(head_dim) + extended mask, where the extended mask
         is (1 - attention_mask[:, None, None, :]) * finfo(dtype).min; softmax; dropout; context;
         attention.output.dense -> dropout -> LayerNorm(x + input); intermediate.dense -> gelu
         (hidden_act "gelu": the exact erf form); output.dense -> dropout -> LayerNorm(x + attn);
         pooler = tanh(dense(hidden[:, 0])); sequence classification = classifier(dropout(pooled));
         token classification (no pooler: add_pooling_layer=False) = classifier(dropout(hidden)).
         Losses: CrossEntropyLoss (ignore_index -100) over labels.view(-1).
  GPT-2  Conv1D weights are stored [in, out] (y = x @ W + b); h = wte(ids) + wpe(arange(T));
         blocks: x + attn(ln_1(x)), x + mlp(ln_2(x)), LayerNorm eps layer_norm_epsilon (1e-5);
         attention: c_attn -> split q, k, v; scores q k^T / sqrt(head_dim); causal mask with
         torch.where(causal, w, finfo.min); + (1 - attention_mask) * finfo.min; softmax; c_proj.
         mlp: c_fc -> gelu_new (tanh form) -> c_proj; ln_f; lm_head = Linear(n_embd, vocab, no bias)
         tied to wte. LM loss: logits[:, :-1] against labels[:, 1:] (ignore -100).
         Sequence classification: score = Linear(n_embd, num_labels, no bias) on every position,
         pooled at the last non-pad token (pad_token_id in the config).
  Llama  embed_tokens; blocks: x + self_attn(input_layernorm(x)), x + mlp(post_attention_layernorm(x));
         RMSNorm: in float32, x * rsqrt(mean(x^2) + rms_norm_eps), then weight * x; RoPE with
         inv_freq = 1 / theta^(arange(0, D, 2) / D), emb = cat(freqs, freqs), q*cos + rotate_half(q)*sin,
         rotate_half(x) = cat(-x2, x1); grouped-query attention (repeat_kv: kv head h serves query
         heads h*n_rep .. h*n_rep + n_rep - 1); scores * head_dim^-0.5 + causal/padding mask (finfo.min);
         softmax in float32; o_proj; mlp: down(silu(gate(x)) * up(x)); norm; lm_head (tied to
         embed_tokens iff tie_word_embeddings). No biases (attention_bias/mlp_bias false).

Run:  /usr/bin/python3 tests/gen/gen_transformers.py     (Debian python3-torch 1.13)
Writes tests/fixtures/hf_<case>.safetensors and tests/fixtures/hf_names.safetensors. No weights
are written: both sides generate them from the seeded generator below. Consumed by
tests/test_hf.c.

Parity init ("hf parity init", seed SEED): parameter i of named_parameters() (i is the PCG32 stream;
tied parameters appear once), with U(b) = pcg32.uniform_tensor(shape, SEED, i, b), float32:
  tensors with >= 2 dims (weights, embeddings)   U(0.2f)
  1-D "*.weight" (LayerNorm / RMSNorm scales)     1.0f + U(0.25f)
  other 1-D (biases)                              U(0.25f)

Cases (B = 2 sequences of T = 8; row 1 is right-padded: attention_mask 0 on its last 3 tokens):
  bert_seqcls   BertForSequenceClassification, 3 labels
  bert_tokcls   BertForTokenClassification, 5 labels; labels -100 on pads and on two sub-tokens
  gpt2_lm       GPT2LMHeadModel; labels = input_ids with -100 on pads
  gpt2_seqcls   GPT2ForSequenceClassification, 3 labels, pad_token_id 0
  llama_lm      LlamaForCausalLM with GQA (4 heads, 2 kv heads), untied lm_head
  llama_tied    LlamaForCausalLM, 4 heads, 4 kv heads, tie_word_embeddings true
Tensors of hf_<case>.safetensors:
  input_ids [B,T] I32, attention_mask [B,T] I32, token_type_ids [B,T] I32 (BERT), labels I32
  ([B] or [B,T]); logits (float64 run, stored as F32): [B, num_labels] or [B, T, C]; loss [];
  grad_norm [P]: L2 norm of each parameter's gradient in named_parameters order;
  sample.param [K] I32, sample.index [K] I32, sample.value [K]: one random entry of every
  parameter's gradient and 64 entries drawn uniformly over all gradient values (RandomState(0));
  adamw.loss [S+1]: the loss before each of S = 3 torch.optim.AdamW steps and after the last
  (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01 on parameters with >= 2 dims, none on
  1-D ones, as HF's Trainer does for these models).
Metadata: "config" (the HF config.json text), "params" (JSON [[name, shape], ...] of
named_parameters), "case", "architecture", "seed", "generator".

hf_names.safetensors: metadata "names.<k>" = JSON {"config": <HF config.json dict as on the
hub>, "params": [[name, shape], ...]} at the real configurations (bert-base-uncased as
BertModel / BertForSequenceClassification / BertForTokenClassification, gpt2 124M as
GPT2LMHeadModel / GPT2ForSequenceClassification, TinyLlama-1.1B and Llama-2-7B as
LlamaForCausalLM). Built on the meta device: no weights are allocated.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402
import pcg32  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
SEED = 77
N_RANDOM_SAMPLES = 64
ADAMW_STEPS = 3


# ---------------------------------------------------------------- BERT
class BertEmbeddings(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        H = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], H, padding_idx=c.get("pad_token_id", 0), device=dev)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], H, device=dev)
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], H, device=dev)
        self.LayerNorm = nn.LayerNorm(H, eps=c["layer_norm_eps"], device=dev)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, ids, token_type_ids):
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device)[None, :]
        e = self.word_embeddings(ids) + self.token_type_embeddings(token_type_ids)
        e = e + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.hd = H // self.nh
        self.query = nn.Linear(H, H, device=dev)
        self.key = nn.Linear(H, H, device=dev)
        self.value = nn.Linear(H, H, device=dev)
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def split(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.nh, self.hd).permute(0, 2, 1, 3)

    def forward(self, h, ext_mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd)
        scores = scores + ext_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.shape[0], ctx.shape[1], -1)


class BertSelfOutput(nn.Module):
    def __init__(self, c, dev, n_in):
        super().__init__()
        H = c["hidden_size"]
        self.dense = nn.Linear(n_in, H, device=dev)
        self.LayerNorm = nn.LayerNorm(H, eps=c["layer_norm_eps"], device=dev)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, h, inp):
        return self.LayerNorm(self.dropout(self.dense(h)) + inp)


class BertAttention(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        self.self = BertSelfAttention(c, dev)
        self.output = BertSelfOutput(c, dev, c["hidden_size"])

    def forward(self, h, m):
        return self.output(self.self(h, m), h)


class BertIntermediate(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        assert c["hidden_act"] == "gelu"
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"], device=dev)

    def forward(self, h):
        return F.gelu(self.dense(h))  # exact (erf) GELU


class BertLayer(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        self.attention = BertAttention(c, dev)
        self.intermediate = BertIntermediate(c, dev)
        self.output = BertSelfOutput(c, dev, c["intermediate_size"])  # BertOutput has the same layout

    def forward(self, h, m):
        a = self.attention(h, m)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c, dev) for _ in range(c["num_hidden_layers"])])

    def forward(self, h, m):
        for layer in self.layer:
            h = layer(h, m)
        return h


class BertPooler(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"], device=dev)

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c, dev=None, add_pooling_layer=True):
        super().__init__()
        self.embeddings = BertEmbeddings(c, dev)
        self.encoder = BertEncoder(c, dev)
        self.pooler = BertPooler(c, dev) if add_pooling_layer else None

    def forward(self, ids, mask, token_type_ids):
        dt = self.embeddings.word_embeddings.weight.dtype
        ext = (1.0 - mask[:, None, None, :].to(dt)) * torch.finfo(dt).min
        h = self.encoder(self.embeddings(ids, token_type_ids), ext)
        return h, (self.pooler(h) if self.pooler is not None else None)


class BertForSequenceClassification(nn.Module):
    def __init__(self, c, dev=None):
        super().__init__()
        self.num_labels = len(c["id2label"])
        self.bert = BertModel(c, dev)
        p = c.get("classifier_dropout")
        self.dropout = nn.Dropout(p if p is not None else c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], self.num_labels, device=dev)

    def forward(self, ids, mask, token_type_ids, labels):
        _, pooled = self.bert(ids, mask, token_type_ids)
        logits = self.classifier(self.dropout(pooled))
        return logits, F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))


class BertForTokenClassification(nn.Module):
    def __init__(self, c, dev=None):
        super().__init__()
        self.num_labels = len(c["id2label"])
        self.bert = BertModel(c, dev, add_pooling_layer=False)
        p = c.get("classifier_dropout")
        self.dropout = nn.Dropout(p if p is not None else c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], self.num_labels, device=dev)

    def forward(self, ids, mask, token_type_ids, labels):
        h, _ = self.bert(ids, mask, token_type_ids)
        logits = self.classifier(self.dropout(h))
        return logits, F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1), ignore_index=-100)


# ---------------------------------------------------------------- GPT-2
class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: weight [nx, nf] = [in, out]; y = x @ W + b."""

    def __init__(self, nf, nx, dev):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf, device=dev))
        self.bias = nn.Parameter(torch.zeros(nf, device=dev))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(size_out)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        E = c["n_embd"]
        self.nh = c["n_head"]
        self.hd = E // self.nh
        self.c_attn = Conv1D(3 * E, E, dev)
        self.c_proj = Conv1D(E, E, dev)
        self.attn_dropout = nn.Dropout(c["attn_pdrop"])
        self.resid_dropout = nn.Dropout(c["resid_pdrop"])

    def split(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.nh, self.hd).permute(0, 2, 1, 3)

    def forward(self, h, mask):
        q, k, v = self.c_attn(h).split(self.nh * self.hd, dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        T = q.shape[-2]
        causal = torch.tril(torch.ones((T, T), dtype=torch.bool))[None, None]
        w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
        w = w + mask
        w = self.attn_dropout(F.softmax(w, dim=-1))
        a = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        a = a.view(a.shape[0], a.shape[1], -1)
        return self.resid_dropout(self.c_proj(a))


class GPT2MLP(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        E = c["n_embd"]
        inner = c.get("n_inner") or 4 * E
        assert c["activation_function"] == "gelu_new"
        self.c_fc = Conv1D(inner, E, dev)
        self.c_proj = Conv1D(E, inner, dev)
        self.dropout = nn.Dropout(c["resid_pdrop"])

    def forward(self, h):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(h))))


class GPT2Block(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        E = c["n_embd"]
        self.ln_1 = nn.LayerNorm(E, eps=c["layer_norm_epsilon"], device=dev)
        self.attn = GPT2Attention(c, dev)
        self.ln_2 = nn.LayerNorm(E, eps=c["layer_norm_epsilon"], device=dev)
        self.mlp = GPT2MLP(c, dev)

    def forward(self, h, mask):
        h = self.attn(self.ln_1(h), mask) + h
        return h + self.mlp(self.ln_2(h))


class GPT2Model(nn.Module):
    def __init__(self, c, dev=None):
        super().__init__()
        E = c["n_embd"]
        self.wte = nn.Embedding(c["vocab_size"], E, device=dev)
        self.wpe = nn.Embedding(c["n_positions"], E, device=dev)
        self.drop = nn.Dropout(c["embd_pdrop"])
        self.h = nn.ModuleList([GPT2Block(c, dev) for _ in range(c["n_layer"])])
        self.ln_f = nn.LayerNorm(E, eps=c["layer_norm_epsilon"], device=dev)

    def forward(self, ids, mask):
        dt = self.wte.weight.dtype
        ext = (1.0 - mask[:, None, None, :].to(dt)) * torch.finfo(dt).min
        pos = torch.arange(ids.shape[1])[None, :]
        h = self.drop(self.wte(ids) + self.wpe(pos))
        for blk in self.h:
            h = blk(h, ext)
        return self.ln_f(h)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c, dev=None):
        super().__init__()
        self.transformer = GPT2Model(c, dev)
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False, device=dev)
        self.lm_head.weight = self.transformer.wte.weight  # tie_word_embeddings

    def forward(self, ids, mask, labels):
        logits = self.lm_head(self.transformer(ids, mask))
        s = logits[..., :-1, :].contiguous()
        loss = F.cross_entropy(s.view(-1, s.size(-1)), labels[..., 1:].contiguous().view(-1), ignore_index=-100)
        return logits, loss


class GPT2ForSequenceClassification(nn.Module):
    def __init__(self, c, dev=None):
        super().__init__()
        self.num_labels = len(c["id2label"])
        self.pad = c["pad_token_id"]
        self.transformer = GPT2Model(c, dev)
        self.score = nn.Linear(c["n_embd"], self.num_labels, bias=False, device=dev)

    def forward(self, ids, mask, labels):
        logits = self.score(self.transformer(ids, mask))
        # the last non-pad token of each row
        non_pad = (ids != self.pad).int()
        last = (torch.arange(ids.shape[-1]) * non_pad).argmax(-1)
        pooled = logits[torch.arange(ids.shape[0]), last]
        return pooled, F.cross_entropy(pooled.view(-1, self.num_labels), labels.view(-1))


# ---------------------------------------------------------------- Llama
class LlamaRMSNorm(nn.Module):
    def __init__(self, n, eps, dev):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n, device=dev))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.to(torch.float32) if dt != torch.float64 else x  # fp32 (the fp64 reference stays fp64)
        var = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.nkv = c.get("num_key_value_heads") or self.nh
        self.hd = c.get("head_dim") or H // self.nh
        self.theta = c.get("rope_theta", 10000.0)
        self.q_proj = nn.Linear(H, self.nh * self.hd, bias=False, device=dev)
        self.k_proj = nn.Linear(H, self.nkv * self.hd, bias=False, device=dev)
        self.v_proj = nn.Linear(H, self.nkv * self.hd, bias=False, device=dev)
        self.o_proj = nn.Linear(self.nh * self.hd, H, bias=False, device=dev)

    def forward(self, h, mask):
        B, T, _ = h.shape
        q = self.q_proj(h).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, dtype=torch.int64).to(torch.float64) / self.hd))
        freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(h.dtype)[None, None], emb.sin().to(h.dtype)[None, None]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv  # repeat_kv
        k = k[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
        v = v[:, :, None].expand(B, self.nkv, rep, T, self.hd).reshape(B, self.nh, T, self.hd)
        w = torch.matmul(q, k.transpose(2, 3)) * self.hd ** -0.5
        w = w + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32 if h.dtype != torch.float64 else torch.float64).to(q.dtype)
        a = torch.matmul(w, v).transpose(1, 2).contiguous().reshape(B, T, -1)
        return self.o_proj(a)


class LlamaMLP(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        assert c.get("hidden_act", "silu") == "silu"
        self.gate_proj = nn.Linear(H, I, bias=False, device=dev)
        self.up_proj = nn.Linear(H, I, bias=False, device=dev)
        self.down_proj = nn.Linear(I, H, bias=False, device=dev)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c, dev):
        super().__init__()
        self.self_attn = LlamaAttention(c, dev)
        self.mlp = LlamaMLP(c, dev)
        self.input_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"], dev)
        self.post_attention_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"], dev)

    def forward(self, h, mask):
        h = h + self.self_attn(self.input_layernorm(h), mask)
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    def __init__(self, c, dev=None):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c.get("pad_token_id"), device=dev)
        self.layers = nn.ModuleList([LlamaDecoderLayer(c, dev) for _ in range(c["num_hidden_layers"])])
        self.norm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"], dev)

    def forward(self, ids, mask):
        dt = self.embed_tokens.weight.dtype
        T = ids.shape[1]
        causal = torch.tril(torch.ones((T, T), dtype=torch.bool))[None, None]
        allowed = causal & mask[:, None, None, :].bool()
        ext = torch.zeros(allowed.shape, dtype=dt).masked_fill(~allowed, torch.finfo(dt).min)
        h = self.embed_tokens(ids)
        for layer in self.layers:
            h = layer(h, ext)
        return self.norm(h)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c, dev=None):
        super().__init__()
        self.model = LlamaModel(c, dev)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False, device=dev)
        if c.get("tie_word_embeddings", False):
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids, mask, labels):
        logits = self.lm_head(self.model(ids, mask))
        s = logits[..., :-1, :].contiguous()
        loss = F.cross_entropy(s.view(-1, s.size(-1)), labels[..., 1:].contiguous().view(-1), ignore_index=-100)
        return logits, loss


ARCHS = {
    "BertModel": lambda c, d=None: BertModel(c, d),
    "BertForSequenceClassification": BertForSequenceClassification,
    "BertForTokenClassification": BertForTokenClassification,
    "GPT2LMHeadModel": GPT2LMHeadModel,
    "GPT2ForSequenceClassification": GPT2ForSequenceClassification,
    "LlamaForCausalLM": LlamaForCausalLM,
}


# ---------------------------------------------------------------- configurations
def bert_base_uncased():  # config.json of bert-base-uncased on the hub
    return {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": False,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
            "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
            "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute",
            "transformers_version": "4.6.0.dev0", "type_vocab_size": 2, "use_cache": True, "vocab_size": 30522}


def gpt2_124m():  # config.json of gpt2 on the hub
    return {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": 50256,
            "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
            "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
            "resid_pdrop": 0.1, "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
            "summary_type": "cls_index", "summary_use_proj": True,
            "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}}, "vocab_size": 50257}


def tinyllama():  # config.json of TinyLlama/TinyLlama-1.1B-Chat-v1.0
    return {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 1, "eos_token_id": 2,
            "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 5632,
            "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 22,
            "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
            "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
            "transformers_version": "4.35.0", "use_cache": True, "vocab_size": 32000}


def llama2_7b():  # config.json of meta-llama/Llama-2-7b-hf
    return {"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
            "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008, "max_position_embeddings": 4096,
            "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
            "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "tie_word_embeddings": False,
            "torch_dtype": "float16", "transformers_version": "4.31.0.dev0", "use_cache": True, "vocab_size": 32000}


def labels(n, prefix="LABEL_"):
    return {str(i): "%s%d" % (prefix, i) for i in range(n)}


def with_labels(c, arch, n):
    c = dict(c)
    c["architectures"] = [arch]
    c["id2label"] = labels(n)
    c["label2id"] = {v: int(k) for k, v in c["id2label"].items()}
    return c


def small_bert(arch, n_labels):
    c = {"architectures": [arch], "attention_probs_dropout_prob": 0.0, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
         "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 37, "layer_norm_eps": 1e-12,
         "max_position_embeddings": 24, "model_type": "bert", "num_attention_heads": 4, "num_hidden_layers": 2,
         "pad_token_id": 0, "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": 99,
         "classifier_dropout": None}
    return with_labels(c, arch, n_labels)


def small_gpt2(arch, n_labels=None):
    c = {"activation_function": "gelu_new", "architectures": [arch], "attn_pdrop": 0.0, "bos_token_id": 98,
         "embd_pdrop": 0.0, "eos_token_id": 98, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 24,
         "n_embd": 32, "n_head": 4, "n_inner": None, "n_layer": 2, "n_positions": 24, "resid_pdrop": 0.0, "vocab_size": 99}
    if n_labels:
        c = with_labels(c, arch, n_labels)
        c["pad_token_id"] = 0
    return c


def small_llama(n_kv, tied):
    return {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 1, "eos_token_id": 2,
            "hidden_act": "silu", "hidden_size": 32, "intermediate_size": 44, "max_position_embeddings": 24,
            "model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": n_kv,
            "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": tied, "vocab_size": 99}


# ---------------------------------------------------------------- fixtures
def parity_params(model):
    out = {}
    for i, (name, p) in enumerate(model.named_parameters()):
        shape = list(p.shape)
        if len(shape) >= 2:
            v = pcg32.uniform_tensor(shape, SEED, i, 0.2)
        elif name.endswith(".weight"):
            v = np.float32(1.0) + pcg32.uniform_tensor(shape, SEED, i, 0.25)
        else:
            v = pcg32.uniform_tensor(shape, SEED, i, 0.25)
        out[name] = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
    return out


def param_list(model):
    return [[n, list(p.shape)] for n, p in model.named_parameters()]


B, T = 2, 8


def inputs(case, c):
    rs = np.random.RandomState(5)
    V = c["vocab_size"]
    ids = rs.randint(1, V, size=(B, T)).astype(np.int64)
    mask = np.ones((B, T), dtype=np.int64)
    mask[1, T - 3:] = 0
    ids[1, T - 3:] = 0  # pad id 0
    t = {"input_ids": ids, "attention_mask": mask}
    if case.startswith("bert"):
        tt = np.zeros((B, T), dtype=np.int64)
        tt[0, 5:] = 1
        tt[1, 3:5] = 1
        t["token_type_ids"] = tt
    if case in ("bert_seqcls", "gpt2_seqcls"):
        t["labels"] = np.array([2, 1], dtype=np.int64)
    elif case == "bert_tokcls":
        lab = rs.randint(0, 5, size=(B, T)).astype(np.int64)
        lab[mask == 0] = -100
        lab[0, 3] = -100  # continuation sub-tokens
        lab[1, 1] = -100
        t["labels"] = lab
    else:
        lab = ids.copy()
        lab[mask == 0] = -100
        t["labels"] = lab
    return {k: torch.from_numpy(v) for k, v in t.items()}


def run(model, case, x):
    if case.startswith("bert"):
        return model(x["input_ids"], x["attention_mask"], x["token_type_ids"], x["labels"])
    return model(x["input_ids"], x["attention_mask"], x["labels"])


def make_case(case, arch, cfg):
    torch.manual_seed(0)
    model = ARCHS[arch](cfg)
    model.load_state_dict(parity_params(model), strict=False)
    model.double()
    x = inputs(case, cfg)
    logits, loss = run(model, case, x)
    loss.backward()
    names = [n for n, _ in model.named_parameters()]
    params = dict(model.named_parameters())
    norms, s_param, s_index, s_value, grads = [], [], [], [], []
    rs = np.random.RandomState(0)
    for i, n in enumerate(names):
        g = params[n].grad.detach().reshape(-1)
        grads.append((i, g))
        norms.append(float(g.norm()))
        k = int(rs.randint(0, g.numel()))
        s_param.append(i), s_index.append(k), s_value.append(float(g[k]))
    total = sum(g.numel() for _, g in grads)
    cum = np.cumsum([g.numel() for _, g in grads])
    for _ in range(N_RANDOM_SAMPLES):
        flat = int(rs.randint(0, total))
        j = int(np.searchsorted(cum, flat, side="right"))
        k = flat - (int(cum[j - 1]) if j else 0)
        i, g = grads[j]
        s_param.append(i), s_index.append(k), s_value.append(float(g[k]))
    # AdamW trajectory (fresh copy of the same weights)
    m2 = ARCHS[arch](cfg)
    m2.load_state_dict(parity_params(m2), strict=False)
    m2.double()
    decay = [p for p in m2.parameters() if p.dim() >= 2]
    no_decay = [p for p in m2.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    traj = []
    for _ in range(ADAMW_STEPS):
        opt.zero_grad()
        _, l2 = run(m2, case, x)
        traj.append(float(l2))
        l2.backward()
        opt.step()
    with torch.no_grad():
        traj.append(float(run(m2, case, x)[1]))
    assert abs(traj[0] - float(loss)) < 1e-12
    t = {k: v.to(torch.int32) for k, v in x.items()}
    t.update({"logits": logits.detach().float(), "loss": loss.detach().float(),
              "grad_norm": np.array(norms, dtype=np.float32), "sample.param": np.array(s_param, dtype=np.int32),
              "sample.index": np.array(s_index, dtype=np.int32), "sample.value": np.array(s_value, dtype=np.float32),
              "adamw.loss": np.array(traj, dtype=np.float32)})
    meta = {"config": json.dumps(cfg, sort_keys=True), "params": json.dumps(param_list(model)), "case": case,
            "architecture": arch, "seed": str(SEED),
            "generator": "tests/gen/gen_transformers.py, torch %s" % torch.__version__}
    out = os.path.join(FIX, "hf_%s.safetensors" % case)
    stio.save(out, t, meta)
    print("%-12s %-30s logits |max| %6.3f  loss %.5f  adamw %s  %d params  %d bytes" % (
        case, arch, float(logits.abs().max()), float(loss), " ".join("%.4f" % v for v in traj),
        sum(p.numel() for p in model.parameters()), os.path.getsize(out)))


CASES = [
    ("bert_seqcls", "BertForSequenceClassification", lambda: small_bert("BertForSequenceClassification", 3)),
    ("bert_tokcls", "BertForTokenClassification", lambda: small_bert("BertForTokenClassification", 5)),
    ("gpt2_lm", "GPT2LMHeadModel", lambda: small_gpt2("GPT2LMHeadModel")),
    ("gpt2_seqcls", "GPT2ForSequenceClassification", lambda: small_gpt2("GPT2ForSequenceClassification", 3)),
    ("llama_lm", "LlamaForCausalLM", lambda: small_llama(2, False)),
    ("llama_tied", "LlamaForCausalLM", lambda: small_llama(4, True)),
]


def names_fixture():
    real = [
        ("bert-base-uncased", "BertModel", bert_base_uncased()),
        ("bert-base-uncased.seqcls", "BertForSequenceClassification",
         with_labels(bert_base_uncased(), "BertForSequenceClassification", 2)),
        ("bert-base-uncased.tokcls", "BertForTokenClassification",
         with_labels(bert_base_uncased(), "BertForTokenClassification", 9)),
        ("gpt2", "GPT2LMHeadModel", gpt2_124m()),
        ("gpt2.seqcls", "GPT2ForSequenceClassification",
         dict(with_labels(gpt2_124m(), "GPT2ForSequenceClassification", 2), pad_token_id=50256)),
        ("tinyllama-1.1b", "LlamaForCausalLM", tinyllama()),
        ("llama-2-7b", "LlamaForCausalLM", llama2_7b()),
    ]
    meta = {}
    for key, arch, cfg in real:
        if arch == "BertModel":
            cfg = dict(cfg, architectures=["BertModel"])
        m = ARCHS[arch](cfg, torch.device("meta"))
        pl = param_list(m)
        meta["names." + key] = json.dumps({"config": cfg, "params": pl})
        print("%-26s %-30s %4d tensors %13d parameters" % (key, arch, len(pl), sum(p.numel() for p in m.parameters())))
    meta["generator"] = "tests/gen/gen_transformers.py, torch %s" % torch.__version__
    stio.save(os.path.join(FIX, "hf_names.safetensors"), {"seed": np.array([SEED], dtype=np.int32)}, meta)


if __name__ == "__main__":
    torch.set_num_threads(1)
    want = set(sys.argv[1:])
    for case, arch, cfg in CASES:
        if not want or case in want:
            make_case(case, arch, cfg())
    if not want or "names" in want:
        names_fixture()
