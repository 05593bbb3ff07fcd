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
import os
import sys

try:
    import torch
except ImportError as e:
    print(f"NOTORCH {e}")
    sys.exit(4)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gen"))
import gen_transformers as gt  # noqa: E402

import common  # noqa: E402

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

    def forward_loss(k):
        if gpt2:
            return model(ids[k], mask, labels[k])[1]
        return model(ids[k], mask, types, labels[k])[1]

    t = common.train_steps(args, N_BATCHES, opt, forward_loss)
    n_params = sum(p.numel() for p in model.parameters())
    common.print_result(case, args, torch.get_num_threads(), t,
                        lambda ms: f"batch={B} seq={T} tok_s={B * T * 1e3 / ms:.2f} params={n_params}")
    return 0


def main():
    ap = common.arg_parser(2, 10, 0, "seq", 0, sorted(DEFAULTS))
    args = ap.parse_args()
    args.batch = args.batch or DEFAULTS[args.case][0]
    args.seq = args.seq or DEFAULTS[args.case][1]
    torch.set_num_threads(args.threads)
    return run(args, args.case)


if __name__ == "__main__":
    sys.exit(main())
