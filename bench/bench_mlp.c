/* MLP training-step benchmark (finetune side; bench/bench_mlp.py is the PyTorch twin).
 *
 *   bench_mlp [options] <case>
 *   cases:  mlp-sgd     784 -> H -> H -> 10 MLP (ReLU), all layers trainable, SGD momentum 0.9
 *           mlp-adamw   the same with AdamW (lr 1e-3, wd 0.01 on every parameter, as torch)
 *           mlp-frozen  first layer frozen (backward pruned to layers 2-3), SGD momentum 0.9
 *           overhead    raw cblas_sgemm calls of one linear layer vs the library's linear op
 *           blas-check  print the linked OpenBLAS's build config and thread count
 *   options: --threads T (2)  --warmup W (3)  --steps N (20)  --batch B (256)  --hidden H (1024)
 *
 * One step = zero grads, copy the batch into the graph's inputs, forward (linear, ReLU,
 * cross-entropy), backward, optimizer update. The batch comes from 4 batches generated in
 * memory beforehand (x uniform in [0,1), labels uniform in 0..9), used in turn. Every step is
 * timed with CLOCK_MONOTONIC; the result is the median over the timed steps.
 *
 * Output (parsed by bench/run.sh, one line per result, key=value):
 *   RESULT case=<c> impl=finetune ms=<median> min=<> max=<> fwd_ms=<> bwd_ms=<> opt_ms=<>
 *          loss_first=<> loss_last=<> rss_kb=<peak> threads=<T> steps=<N>
 *   OVERHEAD shape=<R>x<K>-><M> raw_ms=<> op_ms=<> graph_ms=<> op_pct=<> graph_pct=<>
 * Exit status: 0 on success, 1 on a library error, 2 on bad usage; `overhead` exits 3 when
 * the op overhead is 10% or more. */
#include "finetune.h"
#include "ops/ops.h" /* ft_op_table: to time the linear op's kernels alone */

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define N_BATCHES 4
#define N_CLASSES 10
#define IN_DIM 784


/* ---------------- MLP training step ---------------- */

static int run_mlp(const bench_opts *o, int64_t hidden, const char *cname) {
    bool adamw = strcmp(cname, "mlp-adamw") == 0, frozen = strcmp(cname, "mlp-frozen") == 0;
    int64_t B = o->batch, H = hidden;
    const int64_t in_dim[3] = {IN_DIM, H, H}, out_dim[3] = {H, H, N_CLASSES};

    ft_params *ps = ft_params_new();
    if (!ps) return bench_die("params");
    int wi[3], bi[3];
    for (int l = 0; l < 3; l++) {
        char name[32];
        int64_t ws[2] = {out_dim[l], in_dim[l]}, bs[1] = {out_dim[l]};
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        wi[l] = ft_params_add(ps, name, 2, ws);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        bi[l] = ft_params_add(ps, name, 1, bs);
        if (wi[l] < 0 || bi[l] < 0) return bench_die("params_add");
    }
    if (ft_params_finalize(ps)) return bench_die("finalize");
    for (int l = 0; l < 3; l++) { /* torch.nn.Linear's default scale: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        float bound = 1.0f / sqrtf((float)in_dim[l]);
        ft_params_init_uniform(ps, wi[l], 1, bound);
        ft_params_init_uniform(ps, bi[l], 1, bound);
    }
    if (frozen && ft_params_set_trainable(ps, "fc1.*", false)) return bench_die("set_trainable");
    if (ft_params_alloc_grads(ps)) return bench_die("alloc_grads");

    ft_graph *g = ft_graph_new(ps);
    if (!g) return bench_die("graph_new");
    int64_t xs[2] = {B, IN_DIM}, ys[1] = {B};
    ft_node *x = ft_input(g, "x", FT_F32, 2, xs);
    ft_node *y = ft_input(g, "y", FT_I32, 1, ys);
    ft_node *h = x;
    for (int l = 0; l < 3; l++) {
        h = ft_linear(g, h, ft_param_at(g, wi[l]), ft_param_at(g, bi[l]));
        if (l < 2) h = ft_relu(g, h);
    }
    ft_node *loss = ft_cross_entropy(g, h, y, -100, 0.0f);
    if (ft_graph_plan(g, loss, true)) return bench_die("plan");

    ft_optim_config oc = ft_optim_defaults(adamw ? FT_OPT_ADAMW : FT_OPT_SGD);
    if (!adamw) { oc.lr = 0.01f; oc.momentum = 0.9f; }
    oc.decay_all = true; /* torch.optim decays every parameter it is given */
    ft_optimizer *opt;
    if (ft_optimizer_new(ps, &oc, &opt)) return bench_die("optimizer");

    /* Batches, in memory. */
    size_t xn = (size_t)(B * IN_DIM);
    float *bx = malloc(N_BATCHES * xn * sizeof *bx);
    int32_t *by = malloc(N_BATCHES * (size_t)B * sizeof *by);
    if (!bx || !by) return bench_oom();
    ft_pcg32 r;
    ft_pcg32_seed(&r, 42, 7);
    for (size_t k = 0; k < N_BATCHES * xn; k++) bx[k] = ft_pcg32_uniform(&r);
    for (int64_t k = 0; k < N_BATCHES * B; k++) by[k] = (int32_t)(ft_pcg32_next(&r) % N_CLASSES);

    bench_batches bb = {N_BATCHES, 2, {x, y}, {bx, by}, {xn * sizeof *bx, (size_t)B * sizeof *by}};
    bench_result res;
    if (bench_train_steps(o, g, ps, opt, oc.lr, loss, &bb, &res)) return 1;
    ft_plan_stats st = ft_graph_stats(g);
    bench_print_result(cname, o, &res);
    printf(" arena_mb=%.1f bwd_ops=%d step_allocs=%llu\n", (double)st.arena_bytes / 1048576.0, st.n_backward_ops,
           (unsigned long long)res.step_allocs);
    free(bx);
    free(by);
    ft_optimizer_free(opt);
    ft_graph_free(g);
    ft_params_free(ps);
    return 0;
}

/* ---------------- framework overhead of one linear layer ----------------
 * raw:   the three sgemm calls a hand-written layer makes: y = x W^T (fwd), dX += dY W,
 *        dW += dY^T x (bwd), on buffers of our own.
 * op:    the library's linear kernels (forward + backward through ft_op_table) on the nodes
 *        of a planned graph x -> linear(W, b) -> sum: adds the bias broadcast and bias grad.
 * graph: the whole graph step: zero grads + ft_graph_forward + ft_graph_backward, i.e. the op
 *        plus the trivial loss (sum), dispatch and activation-gradient zeroing.
 * x is a trainable parameter so that dX is computed, as for any hidden layer. Each variant
 * runs in OVH_BLOCKS blocks (warm-up steps, then its share of the timed steps), the blocks of
 * the three variants alternating, so drift hits them alike while each variant is timed after
 * itself: the raw calls never run right after one of the library's OpenMP regions. */

#define OVH_BLOCKS 3

static float *aligned_rand(size_t n, ft_pcg32 *r, float scale) {
    float *p = ft_malloc_aligned(n * sizeof *p);
    if (p) for (size_t k = 0; k < n; k++) p[k] = (2.0f * ft_pcg32_uniform(r) - 1.0f) * scale;
    return p;
}

static int overhead_one(const bench_opts *o, int64_t R, int64_t K, int64_t M, double *worst_op_pct) {
    ft_pcg32 r;
    ft_pcg32_seed(&r, 3, 1);
    float *x = aligned_rand((size_t)(R * K), &r, 1.0f), *w = aligned_rand((size_t)(M * K), &r, 0.03f);
    float *dy = aligned_rand((size_t)(R * M), &r, 1.0f), *y = aligned_rand((size_t)(R * M), &r, 0.0f);
    float *dx = aligned_rand((size_t)(R * K), &r, 0.0f), *dw = aligned_rand((size_t)(M * K), &r, 0.0f);
    if (!x || !w || !dy || !y || !dx || !dw) return bench_oom();

    ft_params *ps = ft_params_new();
    int64_t xs[2] = {R, K}, ws[2] = {M, K}, bs[1] = {M};
    int xi = ft_params_add(ps, "x", 2, xs), wi = ft_params_add(ps, "w", 2, ws), bi = ft_params_add(ps, "b", 1, bs);
    if (xi < 0 || wi < 0 || bi < 0 || ft_params_finalize(ps)) return bench_die("params");
    ft_params_init_uniform(ps, xi, 5, 1.0f);
    ft_params_init_uniform(ps, wi, 5, 1.0f / sqrtf((float)K));
    ft_params_init_uniform(ps, bi, 5, 1.0f / sqrtf((float)K));
    if (ft_params_alloc_grads(ps)) return bench_die("alloc_grads");
    ft_graph *g = ft_graph_new(ps);
    ft_node *lin = ft_linear(g, ft_param_at(g, xi), ft_param_at(g, wi), ft_param_at(g, bi));
    ft_node *loss = ft_sum(g, lin, FT_ALL_DIMS, false);
    if (ft_graph_plan(g, loss, true)) return bench_die("plan");
    const ft_op_def *def = ft_op_table[FT_OP_LINEAR];

    double *t = malloc((size_t)o->steps * 3 * sizeof *t);
    if (!t) return bench_oom();
    double *tv[3] = {t, t + o->steps, t + 2 * o->steps}; /* raw, op, graph */
    int done[3] = {0, 0, 0};
    for (int blk = 0; blk < OVH_BLOCKS; blk++) {
        for (int v = 0; v < 3; v++) {
            int which = (blk + v) % 3;
            int n = o->steps / OVH_BLOCKS + (blk < o->steps % OVH_BLOCKS);
            for (int s = 0; s < o->warmup + n; s++) {
                double t0 = now_ms();
                if (which == 0) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)M, (int)K, 1.0f, x, (int)K, w,
                                (int)K, 0.0f, y, (int)M);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)K, (int)M, 1.0f, dy, (int)M,
                                w, (int)K, 1.0f, dx, (int)K);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)K, (int)R, 1.0f, dy, (int)M, x,
                                (int)K, 1.0f, dw, (int)K);
                } else if (which == 1) {
                    if (def->forward(lin)) return bench_die("linear forward");
                    def->backward(lin);
                } else {
                    ft_params_zero_grad(ps);
                    if (ft_graph_forward(g) || ft_graph_backward(g)) return bench_die("graph step");
                }
                double dt = now_ms() - t0;
                if (s >= o->warmup) tv[which][done[which]++] = dt;
            }
            /* keep the accumulated gradients bounded (outside the timed region) */
            memset(dx, 0, (size_t)(R * K) * sizeof *dx);
            memset(dw, 0, (size_t)(M * K) * sizeof *dw);
            ft_params_zero_grad(ps);
        }
    }
    double *t_raw = tv[0], *t_op = tv[1], *t_graph = tv[2];
    double raw = median(t_raw, o->steps), op = median(t_op, o->steps), gr = median(t_graph, o->steps);
    double op_pct = 100.0 * (op - raw) / raw, gr_pct = 100.0 * (gr - raw) / raw;
    double gflop = 3.0 * 2.0 * (double)R * (double)K * (double)M * 1e-9;
    printf("OVERHEAD shape=%lldx%lld->%lld raw_ms=%.3f op_ms=%.3f graph_ms=%.3f op_pct=%.1f graph_pct=%.1f "
           "raw_gflops=%.1f threads=%d steps=%d\n",
           (long long)R, (long long)K, (long long)M, raw, op, gr, op_pct, gr_pct, gflop / (raw * 1e-3),
           ft_get_num_threads(), o->steps);
    if (op_pct > *worst_op_pct) *worst_op_pct = op_pct;
    free(t);
    ft_graph_free(g);
    ft_params_free(ps);
    float *bufs[6] = {x, w, dy, y, dx, dw};
    for (int k = 0; k < 6; k++) ft_free_aligned(bufs[k]);
    return 0;
}

static int run_overhead(const bench_opts *o, int64_t hidden) {
    double worst = -1e9;
    int rc = overhead_one(o, o->batch, IN_DIM, hidden, &worst);
    if (!rc) rc = overhead_one(o, o->batch, hidden, hidden, &worst);
    if (rc) return rc;
    printf("OVERHEAD_MAX op_pct=%.1f limit=10 %s\n", worst, worst < 10.0 ? "ok" : "EXCEEDED");
    return worst < 10.0 ? 0 : 3;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_mlp [--threads T] [--warmup W] [--steps N] [--batch B] [--hidden H] "
                    "mlp-sgd|mlp-adamw|mlp-frozen|overhead|blas-check\n");
    return 2;
}

int main(int argc, char **argv) {
    bench_opts o = {2, 3, 20, 256};
    int64_t hidden = 1024;
    const char *cname = bench_parse(argc, argv, "bench_mlp", &o, (bench_flag[]){{"--hidden", &hidden}, {NULL, NULL}});
    if (!cname) return usage();
    ft_set_num_threads(o.threads);
    if (!strcmp(cname, "overhead")) return run_overhead(&o, hidden);
    if (!strcmp(cname, "blas-check")) {
        printf("BLAS openblas_config='%s' openblas_threads=%d omp_threads=%d\n", openblas_get_config(),
               openblas_get_num_threads(), ft_get_num_threads());
        return 0;
    }
    if (!strcmp(cname, "mlp-sgd") || !strcmp(cname, "mlp-adamw") || !strcmp(cname, "mlp-frozen"))
        return run_mlp(&o, hidden, cname);
    return usage();
}
