#!/usr/bin/python3
"""Transformer training-step benchmark, PyTorch side (bench/bench_lm.c is the finetune twin).

    /usr/bin/python3 bench/bench_lm.py [--threads T] [--warmup W] [--steps N]
                                       [--batch B] [--seq T] <case>
    cases: bert-small | bert-base | gpt2       (shapes and configs: bench/bench_lm.c)

The models are tests/gen/gen_transformers.py's plain-torch BertForSequenceClassification and
GPT2LMHeadModel (the modules Hugging Face's modelling code defines, computed the same way; the
parity fixtures check finetune against them), imported from there. Random init: every parameter
~ N(0, 0.02), norm weights 1, biases 0. model.train(): hidden dropout 0.1, attention dropout 0
(as bench_lm.c). torch.optim.AdamW(lr 1e-4, weight_decay 0.01) over all parameters.
2 in-memory batches used in turn: ids ~ U{0..V-1}; BERT: attention_mask 1, token_type_ids 0,
labels ~ U{0,1}; GPT-2: labels = ids (the model shifts them: logits[:, :-1] vs labels[:, 1:]).
One step = zero_grad(set_to_none=True), forward + loss, backward, optimizer.step(), each timed
with time.perf_counter(); the result is the median of the timed steps.
"""
import argparse
import os
import resource
import statistics
import sys
import time

try:
    import torch
except ImportError as e:
    print(f"NOTORCH {e}")
    sys.exit(4)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gen"))
import gen_transformers as gt  # noqa: E402

N_BATCHES = 2
LABELS = {"0": "LABEL_0", "1": "LABEL_1"}
BERT_SMALL = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522,
              "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024,
              "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.0,
              "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
              "id2label": LABELS}
BERT_BASE = dict(BERT_SMALL, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
GPT2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024,
        "n_ctx": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "activation_function": "gelu_new",
        "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.0, "layer_norm_epsilon": 1e-05}
DEFAULTS = {"bert-small": (16, 128), "bert-base": (8, 128), "gpt2": (4, 256)}


def run(args, case):
    torch.manual_seed(1)
    gpt2 = case == "gpt2"
    cfg = GPT2 if gpt2 else BERT_BASE if case == "bert-base" else BERT_SMALL
    model = gt.GPT2LMHeadModel(cfg) if gpt2 else gt.BertForSequenceClassification(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.02)
            elif name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    B, T, V = args.batch, args.seq, cfg["vocab_size"]
    g = torch.Generator().manual_seed(42)
    ids = [torch.randint(0, V, (B, T), generator=g) for _ in range(N_BATCHES)]
    mask = torch.ones(B, T, dtype=torch.long)
    types = torch.zeros(B, T, dtype=torch.long)
    labels = ids if gpt2 else [torch.randint(0, 2, (B,), generator=g) for _ in range(N_BATCHES)]

    t_step, t_fwd, t_bwd, t_opt = [], [], [], []
    loss_first = loss_last = 0.0
    for s in range(args.warmup + args.steps):
        k = s % N_BATCHES
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if gpt2:
            _, loss = model(ids[k], mask, labels[k])
        else:
            _, loss = model(ids[k], mask, types, labels[k])
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        lv = loss.item()
        if s == 0:
            loss_first = lv
        loss_last = lv
        if s >= args.warmup:
            t_step.append((t3 - t0) * 1e3)
            t_fwd.append((t1 - t0) * 1e3)
            t_bwd.append((t2 - t1) * 1e3)
            t_opt.append((t3 - t2) * 1e3)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    med = statistics.median
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"RESULT case={case} impl=torch ms={med(t_step):.3f} min={min(t_step):.3f} max={max(t_step):.3f} "
          f"fwd_ms={med(t_fwd):.3f} bwd_ms={med(t_bwd):.3f} opt_ms={med(t_opt):.3f} "
          f"loss_first={loss_first:.4f} loss_last={loss_last:.4f} rss_kb={rss_kb} "
          f"threads={torch.get_num_threads()} steps={args.steps} batch={B} seq={T} tok_s={B * T * 1e3 / med(t_step):.2f} "
          f"params={n_params} omp_wait_policy={policy}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--seq", type=int, default=0)
    ap.add_argument("case", choices=sorted(DEFAULTS))
    args = ap.parse_args()
    args.batch = args.batch or DEFAULTS[args.case][0]
    args.seq = args.seq or DEFAULTS[args.case][1]
    torch.set_num_threads(args.threads)
    return run(args, args.case)


if __name__ == "__main__":
    sys.exit(main())
