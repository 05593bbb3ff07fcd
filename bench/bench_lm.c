/* Transformer training-step benchmark (finetune side; bench/bench_lm.py is the PyTorch twin).
 *
 *   bench_lm [options] <case>
 *   cases:  bert-small  BERT encoder, 4 layers, hidden 256, 4 heads, ffn 1024, vocab 30522,
 *                       BertForSequenceClassification (2 labels); default batch 16, seq 128
 *           bert-base   bert-base-uncased's config (12 layers, 768, 12 heads, ffn 3072),
 *                       BertForSequenceClassification (2 labels); default batch 8, seq 128
 *           gpt2        GPT-2 124M (gpt2's config: 12 layers, 768, 12 heads, vocab 50257),
 *                       GPT2LMHeadModel, LM loss; default batch 4, seq 256
 *   options: --threads T (2)  --warmup W (2)  --steps N (10)  --batch B  --seq T
 *
 * Models come from Hugging Face config.json texts (src/models/bert.c, gpt2.c), random init
 * (ft_model_init, seed 1), every parameter trainable. Dropout as in the configs for hidden
 * states (0.1, training mode); attention-probability dropout 0 on both sides (finetune does not
 * implement it: docs/models.md). Optimizer: AdamW lr 1e-4, betas (0.9, 0.999), eps 1e-8, weight
 * decay 0.01 on every parameter (torch.optim.AdamW's default grouping). One step = zero grads,
 * copy the batch into the graph's inputs, forward + cross-entropy, backward, update.
 * Inputs: 2 batches generated beforehand (ids uniform over the vocabulary; BERT: labels uniform
 * in {0,1}, no padding, token types 0; GPT-2: labels = ids shifted by one, the last position
 * ignored), used in turn. The GPT-2 loss is the mean over B*(T-1) positions, as HF's
 * logits[:, :-1] vs labels[:, 1:] (here: one cross-entropy over [B*T, V] with the last
 * position's label -100, which is the same value without copying the logits).
 *
 * Output (parsed by bench/run.sh), one line, key=value:
 *   RESULT case=<c> impl=finetune ms=<median> min=<> max=<> fwd_ms=<> bwd_ms=<> opt_ms=<>
 *          loss_first=<> loss_last=<> rss_kb=<peak> threads=<T> steps=<N> batch=<B> seq=<T> tok_s=<B*T*1000/ms> ...
 * Exit status: 0 on success, 1 on a library error, 2 on bad usage. */
#include "finetune.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define N_BATCHES 2


/* The configs (bench/bench_lm.py writes the same dictionaries). */
static const char *BERT_SMALL =
    "{\"architectures\":[\"BertForSequenceClassification\"],\"model_type\":\"bert\",\"vocab_size\":30522,"
    "\"hidden_size\":256,\"num_hidden_layers\":4,\"num_attention_heads\":4,\"intermediate_size\":1024,"
    "\"hidden_act\":\"gelu\",\"hidden_dropout_prob\":0.1,\"attention_probs_dropout_prob\":0.0,"
    "\"max_position_embeddings\":512,\"type_vocab_size\":2,\"layer_norm_eps\":1e-12,\"pad_token_id\":0,"
    "\"id2label\":{\"0\":\"LABEL_0\",\"1\":\"LABEL_1\"}}";
static const char *BERT_BASE =
    "{\"architectures\":[\"BertForSequenceClassification\"],\"model_type\":\"bert\",\"vocab_size\":30522,"
    "\"hidden_size\":768,\"num_hidden_layers\":12,\"num_attention_heads\":12,\"intermediate_size\":3072,"
    "\"hidden_act\":\"gelu\",\"hidden_dropout_prob\":0.1,\"attention_probs_dropout_prob\":0.0,"
    "\"max_position_embeddings\":512,\"type_vocab_size\":2,\"layer_norm_eps\":1e-12,\"pad_token_id\":0,"
    "\"id2label\":{\"0\":\"LABEL_0\",\"1\":\"LABEL_1\"}}";
static const char *GPT2 =
    "{\"architectures\":[\"GPT2LMHeadModel\"],\"model_type\":\"gpt2\",\"vocab_size\":50257,\"n_positions\":1024,"
    "\"n_ctx\":1024,\"n_embd\":768,\"n_layer\":12,\"n_head\":12,\"activation_function\":\"gelu_new\","
    "\"resid_pdrop\":0.1,\"embd_pdrop\":0.1,\"attn_pdrop\":0.0,\"layer_norm_epsilon\":1e-05}";

static int run_lm(const bench_opts *o, int64_t seq, const char *cname) {
    bool gpt2 = !strcmp(cname, "gpt2");
    const char *cfg = gpt2 ? GPT2 : !strcmp(cname, "bert-base") ? BERT_BASE : BERT_SMALL;
    ft_model *m;
    if (ft_model_from_config(cfg, &m)) return bench_die("model");
    ft_model_init(m, 1);
    ft_params *ps = m->params;
    if (ft_params_alloc_grads(ps)) return bench_die("alloc_grads");
    const int64_t B = o->batch, T = seq, V = gpt2 ? 50257 : 30522; /* the configs' vocab_size */
    const size_t bt = (size_t)(B * T), nl = gpt2 ? bt : (size_t)B;

    ft_graph *g = ft_graph_new(ps);
    if (!g) return bench_die("graph_new");
    int64_t ids_shape[2] = {B, T}, lab_shape[1] = {(int64_t)nl};
    ft_node *ids = ft_input(g, "input_ids", FT_I32, 2, ids_shape);
    ft_node *y = ft_input(g, "labels", FT_I32, 1, lab_shape);
    ft_node *logits = m->arch->build(m, g, ids, true);
    if (gpt2) {
        int64_t r[2] = {(int64_t)bt, V};
        logits = ft_reshape(g, logits, 2, r);
    }
    ft_node *loss = ft_cross_entropy(g, logits, y, -100, 0.0f);
    if (ft_graph_plan(g, loss, true)) return bench_die("plan");

    ft_optim_config oc = ft_optim_defaults(FT_OPT_ADAMW);
    oc.lr = 1e-4f;
    oc.weight_decay = 0.01f;
    oc.decay_all = true;
    ft_optimizer *opt;
    if (ft_optimizer_new(ps, &oc, &opt)) return bench_die("optimizer");

    int32_t *bx = malloc(N_BATCHES * bt * sizeof *bx), *by = malloc(N_BATCHES * nl * sizeof *by);
    if (!bx || !by) return bench_oom();
    ft_pcg32 r;
    ft_pcg32_seed(&r, 42, 7);
    for (size_t k = 0; k < N_BATCHES * bt; k++) bx[k] = (int32_t)(ft_pcg32_next(&r) % (uint32_t)V);
    for (size_t k = 0; k < N_BATCHES * nl; k++) {
        if (!gpt2) by[k] = (int32_t)(ft_pcg32_next(&r) % 2);
        else by[k] = (k + 1) % (size_t)T ? bx[k + 1] : -100; /* next token; none after the last */
    }

    bench_batches bb = {N_BATCHES, 2, {ids, y}, {bx, by}, {bt * sizeof *bx, nl * sizeof *by}};
    bench_result res;
    if (bench_train_steps(o, g, ps, opt, oc.lr, loss, &bb, &res)) return 1;
    ft_plan_stats st = ft_graph_stats(g);
    bench_print_result(cname, o, &res);
    printf(" batch=%lld seq=%lld tok_s=%.2f param_floats=%lld arena_mb=%.1f step_allocs=%llu\n", (long long)B,
           (long long)T, (double)(B * T) * 1e3 / res.ms, (long long)ps->total, (double)st.arena_bytes / 1048576.0,
           (unsigned long long)res.step_allocs);
    free(bx);
    free(by);
    ft_optimizer_free(opt);
    ft_graph_free(g);
    ft_model_free(m);
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_lm [--threads T] [--warmup W] [--steps N] [--batch B] [--seq T] bert-small|bert-base|gpt2\n");
    return 2;
}

int main(int argc, char **argv) {
    bench_opts o = {2, 2, 10, 0};
    int64_t seq = 0;
    const char *cname = bench_parse(argc, argv, "bench_lm", &o, (bench_flag[]){{"--seq", &seq}, {NULL, NULL}});
    if (!cname || (strcmp(cname, "bert-small") && strcmp(cname, "bert-base") && strcmp(cname, "gpt2"))) return usage();
    if (!o.batch) o.batch = !strcmp(cname, "bert-small") ? 16 : !strcmp(cname, "bert-base") ? 8 : 4;
    if (!seq) seq = !strcmp(cname, "gpt2") ? 256 : 128;
    ft_set_num_threads(o.threads);
    return run_lm(&o, seq, cname);
}
