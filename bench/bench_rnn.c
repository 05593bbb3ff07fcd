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

#include "common.h"

#define N_BATCHES 2
#define FEAT 40
#define HID 256
#define LAYERS 2
#define CLASSES 29
#define SMAX 30


static int run_rnn(const bench_opts *o, int64_t frames, const char *cname) {
    const int64_t B = o->batch, T = frames, H = HID;
    ft_params *ps = ft_params_new();
    if (!ps) return bench_die("params");
    const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    char name[64];
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++) {
                int64_t s[2] = {4 * H, j == 0 ? (l ? 2 * H : FEAT) : H};
                snprintf(name, sizeof name, "lstm.%s_l%d%s", pn[j], l, k ? "_reverse" : "");
                if (ft_params_add(ps, name, j < 2 ? 2 : 1, j < 2 ? s : s) < 0) return bench_die("params");
            }
    int64_t ws[2] = {CLASSES, 2 * H}, bs[1] = {CLASSES};
    int wi = ft_params_add(ps, "fc.weight", 2, ws), bi = ft_params_add(ps, "fc.bias", 1, bs);
    if (wi < 0 || bi < 0 || ft_params_finalize(ps)) return bench_die("params");
    for (int i = 0; i < ps->n; i++)
        ft_params_init_uniform(ps, i, 1 + (uint64_t)i, i >= wi ? 1.0f / sqrtf(2.0f * H) : 1.0f / sqrtf((float)H));
    if (ft_params_alloc_grads(ps)) return bench_die("alloc_grads");

    ft_graph *g = ft_graph_new(ps);
    if (!g) return bench_die("graph_new");
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
    if (ft_graph_plan(g, loss, true)) return bench_die("plan");

    ft_optim_config oc = ft_optim_defaults(FT_OPT_ADAMW);
    oc.lr = 1e-3f;
    oc.weight_decay = 0.01f;
    oc.decay_all = true;
    ft_optimizer *opt;
    if (ft_optimizer_new(ps, &oc, &opt)) return bench_die("optimizer");

    size_t nx = (size_t)(B * T * FEAT), nt = (size_t)(B * SMAX);
    float *bx = malloc(N_BATCHES * nx * sizeof *bx);
    int32_t *bt = malloc(N_BATCHES * nt * sizeof *bt), *btl = malloc(N_BATCHES * (size_t)B * sizeof *btl);
    int32_t *bil = malloc((size_t)B * sizeof *bil);
    if (!bx || !bt || !btl || !bil) return bench_oom();
    ft_pcg32 r;
    ft_pcg32_seed(&r, 42, 7);
    for (size_t k = 0; k < N_BATCHES * nx; k++) bx[k] = 2 * ft_pcg32_uniform(&r) - 1;
    for (size_t k = 0; k < N_BATCHES * nt; k++) bt[k] = 1 + (int32_t)(ft_pcg32_next(&r) % (CLASSES - 1));
    for (size_t k = 0; k < N_BATCHES * (size_t)B; k++) btl[k] = 10 + (int32_t)(ft_pcg32_next(&r) % 21);
    for (int64_t b = 0; b < B; b++) bil[b] = (int32_t)T;
    if (ft_graph_set_input(g, il, bil, (size_t)B * sizeof *bil)) return bench_die("set_input");

    bench_batches bb = {N_BATCHES, 3, {x, tg, tl}, {bx, bt, btl}, {nx * sizeof *bx, nt * sizeof *bt, (size_t)B * sizeof *btl}};
    bench_result res;
    if (bench_train_steps(o, g, ps, opt, oc.lr, loss, &bb, &res)) return 1;
    ft_plan_stats st = ft_graph_stats(g);
    bench_print_result(cname, o, &res);
    printf(" batch=%lld frames=%lld seq_s=%.2f param_floats=%lld saved_mb=%.1f arena_mb=%.1f step_allocs=%llu\n",
           (long long)B, (long long)T, (double)B * 1e3 / res.ms, (long long)ps->total, (double)st.saved_bytes / 1048576.0,
           (double)st.arena_bytes / 1048576.0, (unsigned long long)res.step_allocs);
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
    bench_opts o = {2, 2, 10, 32};
    int64_t frames = 100;
    const char *cname = bench_parse(argc, argv, "bench_rnn", &o, (bench_flag[]){{"--frames", &frames}, {NULL, NULL}});
    if (!cname || strcmp(cname, "bilstm-ctc")) return usage();
    if (frames < 30) { fprintf(stderr, "bench_rnn: --frames must be at least 30 (the longest target)\n"); return 2; }
    ft_set_num_threads(o.threads);
    return run_rnn(&o, frames, cname);
}
