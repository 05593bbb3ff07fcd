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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"

#define N_BATCHES 2

typedef struct { int threads, warmup, steps; int64_t batch, seq; } opts;

static int die(const char *what) {
    fprintf(stderr, "bench_lm: %s: %s\n", what, ft_errmsg());
    return 1;
}

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

static int run_lm(const opts *o, const char *cname) {
    bool gpt2 = !strcmp(cname, "gpt2");
    const char *cfg = gpt2 ? GPT2 : !strcmp(cname, "bert-base") ? BERT_BASE : BERT_SMALL;
    ft_model *m;
    if (ft_model_from_config(cfg, &m)) return die("model");
    ft_model_init(m, 1);
    ft_params *ps = m->params;
    if (ft_params_alloc_grads(ps)) return die("alloc_grads");
    const int64_t B = o->batch, T = o->seq, V = gpt2 ? 50257 : 30522; /* the configs' vocab_size */
    const size_t bt = (size_t)(B * T), nl = gpt2 ? bt : (size_t)B;

    ft_graph *g = ft_graph_new(ps);
    if (!g) return die("graph_new");
    int64_t ids_shape[2] = {B, T}, lab_shape[1] = {(int64_t)nl};
    ft_node *ids = ft_input(g, "input_ids", FT_I32, 2, ids_shape);
    ft_node *y = ft_input(g, "labels", FT_I32, 1, lab_shape);
    ft_node *logits = m->arch->build(m, g, ids, true);
    if (gpt2) {
        int64_t r[2] = {(int64_t)bt, V};
        logits = ft_reshape(g, logits, 2, r);
    }
    ft_node *loss = ft_cross_entropy(g, logits, y, -100, 0.0f);
    if (ft_graph_plan(g, loss, true)) return die("plan");

    ft_optim_config oc = ft_optim_defaults(FT_OPT_ADAMW);
    oc.lr = 1e-4f;
    oc.weight_decay = 0.01f;
    oc.decay_all = true;
    ft_optimizer *opt;
    if (ft_optimizer_new(ps, &oc, &opt)) return die("optimizer");

    int32_t *bx = malloc(N_BATCHES * bt * sizeof *bx), *by = malloc(N_BATCHES * nl * sizeof *by);
    if (!bx || !by) { fprintf(stderr, "bench_lm: out of memory\n"); return 1; }
    ft_pcg32 r;
    ft_pcg32_seed(&r, 42, 7);
    for (size_t k = 0; k < N_BATCHES * bt; k++) bx[k] = (int32_t)(ft_pcg32_next(&r) % (uint32_t)V);
    for (size_t k = 0; k < N_BATCHES * nl; k++) {
        if (!gpt2) by[k] = (int32_t)(ft_pcg32_next(&r) % 2);
        else by[k] = (k + 1) % (size_t)T ? bx[k + 1] : -100; /* next token; none after the last */
    }

    int total = o->warmup + o->steps;
    double *t_step = malloc((size_t)o->steps * 4 * sizeof(double));
    if (!t_step) { fprintf(stderr, "bench_lm: out of memory\n"); return 1; }
    double *t_fwd = t_step + o->steps, *t_bwd = t_fwd + o->steps, *t_opt = t_bwd + o->steps;
    float loss_first = 0, loss_last = 0;
    uint64_t allocs_before = 0;
    for (int s = 0; s < total; s++) {
        int k = s % N_BATCHES;
        if (s == o->warmup) allocs_before = ft_alloc_count();
        double t0 = now_ms();
        ft_params_zero_grad(ps);
        if (ft_graph_set_input(g, ids, bx + (size_t)k * bt, bt * sizeof(int32_t))) return die("set_input");
        if (ft_graph_set_input(g, y, by + (size_t)k * nl, nl * sizeof(int32_t))) return die("set_input");
        if (ft_graph_forward(g)) return die("forward");
        double t1 = now_ms();
        if (ft_graph_backward(g)) return die("backward");
        double t2 = now_ms();
        ft_optimizer_step(opt, oc.lr);
        double t3 = now_ms();
        if (s == 0) loss_first = loss->val[0];
        loss_last = loss->val[0];
        if (s >= o->warmup) {
            int i = s - o->warmup;
            t_step[i] = t3 - t0;
            t_fwd[i] = t1 - t0;
            t_bwd[i] = t2 - t1;
            t_opt[i] = t3 - t2;
        }
    }
    uint64_t step_allocs = ft_alloc_count() - allocs_before;
    double mn = t_step[0], mx = t_step[0];
    for (int i = 1; i < o->steps; i++) { mn = fmin(mn, t_step[i]); mx = fmax(mx, t_step[i]); }
    ft_plan_stats st = ft_graph_stats(g);
    double med = median(t_step, o->steps);
    printf("RESULT case=%s impl=finetune ms=%.3f min=%.3f max=%.3f fwd_ms=%.3f bwd_ms=%.3f opt_ms=%.3f "
           "loss_first=%.4f loss_last=%.4f rss_kb=%ld threads=%d steps=%d batch=%lld seq=%lld tok_s=%.2f param_floats=%lld "
           "arena_mb=%.1f step_allocs=%llu\n",
           cname, med, mn, mx, median(t_fwd, o->steps), median(t_bwd, o->steps), median(t_opt, o->steps), loss_first,
           loss_last, peak_rss_kb(), ft_get_num_threads(), o->steps, (long long)B, (long long)T, (double)(B * T) * 1e3 / med,
           (long long)ps->total, (double)st.arena_bytes / 1048576.0, (unsigned long long)step_allocs);
    free(t_step);
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
    opts o = {2, 2, 10, 0, 0};
    const char *cname = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < 1) return usage();
            if (!strcmp(a, "--threads")) o.threads = (int)v;
            else if (!strcmp(a, "--warmup")) o.warmup = (int)v;
            else if (!strcmp(a, "--steps")) o.steps = (int)v;
            else if (!strcmp(a, "--batch")) o.batch = v;
            else if (!strcmp(a, "--seq")) o.seq = v;
            else return usage();
        } else if (!cname && a[0] != '-') {
            cname = a;
        } else {
            return usage();
        }
    }
    if (!cname || (strcmp(cname, "bert-small") && strcmp(cname, "bert-base") && strcmp(cname, "gpt2"))) return usage();
    if (!o.batch) o.batch = !strcmp(cname, "bert-small") ? 16 : !strcmp(cname, "bert-base") ? 8 : 4;
    if (!o.seq) o.seq = !strcmp(cname, "gpt2") ? 256 : 128;
    ft_set_num_threads(o.threads);
    return run_lm(&o, cname);
}
