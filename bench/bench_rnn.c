/* Recurrent training-step benchmark (finetune side; bench/bench_rnn.py is the PyTorch twin).
 *
 *   bench_rnn [options] <case>
 *   cases:  bilstm-ctc  2-layer bidirectional LSTM (40 input features, hidden 256) over 100
 *                       frames, linear 512 -> 29 (28 symbols + blank 0), log_softmax, CTC loss
 *                       (mean over the batch of loss / target length, torch's default);
 *                       default batch 32
 *   options: --threads T (2)  --warmup W (2)  --steps N (10)  --batch B  --frames T
 *
 * Parameters carry torch.nn.LSTM's names (lstm.weight_ih_l0, ..._reverse) and its init,
 * uniform(-1/sqrt(H), 1/sqrt(H)) for every LSTM tensor; the linear layer uniform(-1/sqrt(512),
 * 1/sqrt(512)) (ft_params_init_uniform, seed 1). Every parameter trains. Optimizer: AdamW lr 1e-3,
 * betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on every parameter. One step = zero grads,
 * copy the batch into the graph's inputs, forward + loss, backward, update.
 * Inputs: 2 batches generated beforehand (features ~ U(-1, 1); every sequence 100 frames;
 * target lengths ~ U{10..30}, labels ~ U{1..28}), used in turn.
 *
 * Output (parsed by bench/run.sh), one line, key=value:
 *   RESULT case=<c> impl=finetune ms=<median> min=<> max=<> fwd_ms=<> bwd_ms=<> opt_ms=<>
 *          loss_first=<> loss_last=<> rss_kb=<peak> threads=<T> steps=<N> batch=<B> frames=<T>
 *          seq_s=<B*1000/ms> saved_mb=<activations kept for backward> arena_mb=<> step_allocs=<>
 * Exit status: 0 on success, 1 on a library error, 2 on bad usage. */
#include "finetune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define N_BATCHES 2
#define FEAT 40
#define HID 256
#define LAYERS 2
#define CLASSES 29
#define SMAX 30

typedef struct { int threads, warmup, steps; int64_t batch, frames; } opts;

static int die(const char *what) {
    fprintf(stderr, "bench_rnn: %s: %s\n", what, ft_errmsg());
    return 1;
}

static int run_rnn(const opts *o, const char *cname) {
    const int64_t B = o->batch, T = o->frames, H = HID;
    ft_params *ps = ft_params_new();
    if (!ps) return die("params");
    const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    char name[64];
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++) {
                int64_t s[2] = {4 * H, j == 0 ? (l ? 2 * H : FEAT) : H};
                snprintf(name, sizeof name, "lstm.%s_l%d%s", pn[j], l, k ? "_reverse" : "");
                if (ft_params_add(ps, name, j < 2 ? 2 : 1, j < 2 ? s : s) < 0) return die("params");
            }
    int64_t ws[2] = {CLASSES, 2 * H}, bs[1] = {CLASSES};
    int wi = ft_params_add(ps, "fc.weight", 2, ws), bi = ft_params_add(ps, "fc.bias", 1, bs);
    if (wi < 0 || bi < 0 || ft_params_finalize(ps)) return die("params");
    for (int i = 0; i < ps->n; i++)
        ft_params_init_uniform(ps, i, 1 + (uint64_t)i, i >= wi ? 1.0f / sqrtf(2.0f * H) : 1.0f / sqrtf((float)H));
    if (ft_params_alloc_grads(ps)) return die("alloc_grads");

    ft_graph *g = ft_graph_new(ps);
    if (!g) return die("graph_new");
    int64_t xs[3] = {B, T, FEAT}, ts[2] = {B, SMAX}, ls[1] = {B};
    ft_node *x = ft_input(g, "x", FT_F32, 3, xs), *tg = ft_input(g, "targets", FT_I32, 2, ts);
    ft_node *il = ft_input(g, "input_lengths", FT_I32, 1, ls), *tl = ft_input(g, "target_lengths", FT_I32, 1, ls);
    ft_node *h = x;
    for (int l = 0; l < LAYERS; l++) {
        ft_node *y[2];
        for (int k = 0; k < 2; k++) {
            int p0 = (l * 2 + k) * 4;
            ft_rnn_args a = {k == 1, false, false};
            y[k] = ft_lstm(g, h, ft_param_at(g, p0), ft_param_at(g, p0 + 1), ft_param_at(g, p0 + 2), ft_param_at(g, p0 + 3), NULL,
                           NULL, NULL, &a);
        }
        h = ft_concat(g, 2, y, 2);
    }
    ft_node *lp = ft_log_softmax(g, ft_linear(g, h, ft_param_at(g, wi), ft_param_at(g, bi)));
    ft_node *loss = ft_ctc_loss(g, lp, tg, il, tl, 0, FT_REDUCE_MEAN, false);
    if (ft_graph_plan(g, loss, true)) return die("plan");

    ft_optim_config oc = ft_optim_defaults(FT_OPT_ADAMW);
    oc.lr = 1e-3f;
    oc.weight_decay = 0.01f;
    oc.decay_all = true;
    ft_optimizer *opt;
    if (ft_optimizer_new(ps, &oc, &opt)) return die("optimizer");

    size_t nx = (size_t)(B * T * FEAT), nt = (size_t)(B * SMAX);
    float *bx = malloc(N_BATCHES * nx * sizeof *bx);
    int32_t *bt = malloc(N_BATCHES * nt * sizeof *bt), *btl = malloc(N_BATCHES * (size_t)B * sizeof *btl);
    int32_t *bil = malloc((size_t)B * sizeof *bil);
    if (!bx || !bt || !btl || !bil) { fprintf(stderr, "bench_rnn: out of memory\n"); return 1; }
    ft_pcg32 r;
    ft_pcg32_seed(&r, 42, 7);
    for (size_t k = 0; k < N_BATCHES * nx; k++) bx[k] = 2 * ft_pcg32_uniform(&r) - 1;
    for (size_t k = 0; k < N_BATCHES * nt; k++) bt[k] = 1 + (int32_t)(ft_pcg32_next(&r) % (CLASSES - 1));
    for (size_t k = 0; k < N_BATCHES * (size_t)B; k++) btl[k] = 10 + (int32_t)(ft_pcg32_next(&r) % 21);
    for (int64_t b = 0; b < B; b++) bil[b] = (int32_t)T;
    if (ft_graph_set_input(g, il, bil, (size_t)B * sizeof *bil)) return die("set_input");

    int total = o->warmup + o->steps;
    double *t_step = malloc((size_t)o->steps * 4 * sizeof(double));
    if (!t_step) { fprintf(stderr, "bench_rnn: out of memory\n"); return 1; }
    double *t_fwd = t_step + o->steps, *t_bwd = t_fwd + o->steps, *t_opt = t_bwd + o->steps;
    float loss_first = 0, loss_last = 0;
    uint64_t allocs_before = 0;
    for (int s = 0; s < total; s++) {
        int k = s % N_BATCHES;
        if (s == o->warmup) allocs_before = ft_alloc_count();
        double t0 = now_ms();
        ft_params_zero_grad(ps);
        if (ft_graph_set_input(g, x, bx + (size_t)k * nx, nx * sizeof *bx) ||
            ft_graph_set_input(g, tg, bt + (size_t)k * nt, nt * sizeof *bt) ||
            ft_graph_set_input(g, tl, btl + (size_t)k * B, (size_t)B * sizeof *btl))
            return die("set_input");
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
           "loss_first=%.4f loss_last=%.4f rss_kb=%ld threads=%d steps=%d batch=%lld frames=%lld seq_s=%.2f param_floats=%lld "
           "saved_mb=%.1f arena_mb=%.1f step_allocs=%llu\n",
           cname, med, mn, mx, median(t_fwd, o->steps), median(t_bwd, o->steps), median(t_opt, o->steps), loss_first, loss_last,
           peak_rss_kb(), ft_get_num_threads(), o->steps, (long long)B, (long long)T, (double)B * 1e3 / med, (long long)ps->total,
           (double)st.saved_bytes / 1048576.0, (double)st.arena_bytes / 1048576.0, (unsigned long long)step_allocs);
    free(t_step);
    free(bx);
    free(bt);
    free(btl);
    free(bil);
    ft_optimizer_free(opt);
    ft_graph_free(g);
    ft_params_free(ps);
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_rnn [--threads T] [--warmup W] [--steps N] [--batch B] [--frames T] bilstm-ctc\n");
    return 2;
}

int main(int argc, char **argv) {
    opts o = {2, 2, 10, 32, 100};
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
            else if (!strcmp(a, "--frames")) o.frames = v;
            else return usage();
        } else if (!cname && a[0] != '-') {
            cname = a;
        } else {
            return usage();
        }
    }
    if (!cname || strcmp(cname, "bilstm-ctc")) return usage();
    if (o.frames < 30) { fprintf(stderr, "bench_rnn: --frames must be at least 30 (the longest target)\n"); return 2; }
    ft_set_num_threads(o.threads);
    return run_rnn(&o, cname);
}
