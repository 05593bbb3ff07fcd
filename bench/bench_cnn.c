/* CNN training-step benchmark (finetune side; bench/bench_cnn.py is the PyTorch twin).
 *
 *   bench_cnn [options] <case>
 *   cases:  resnet18-full     ResNet-18, every layer trainable
 *           resnet18-layer4   ResNet-18, only layer4.* and fc.* trainable
 *           resnet18-fc       ResNet-18, only fc.* trainable
 *           mobilenetv2-full  MobileNetV2 (width 1.0), every layer trainable
 *   options: --threads T (2)  --warmup W (2)  --steps N (10)  --batch B (16)  --size S (224)
 *
 * The models are the torchvision architectures (src/models), 1000 classes, batch norm in
 * training mode (batch statistics, running stats updated, also in frozen layers: as torch's
 * model.train() with requires_grad_(False)), seeded PyTorch-style init. Optimizer: SGD,
 * lr 0.01, momentum 0.9, no weight decay, on the trainable parameters only. One step = zero
 * grads, copy the batch into the graph's inputs, forward + cross-entropy, backward, update.
 * The batch comes from 2 batches generated in memory beforehand (x uniform in [-2,2), labels
 * uniform in 0..999), used in turn. Every step is timed with CLOCK_MONOTONIC; the result is
 * the median over the timed steps.
 *
 * Output (parsed by bench/run.sh), one line, key=value:
 *   RESULT case=<c> impl=finetune ms=<median> min=<> max=<> fwd_ms=<> bwd_ms=<> opt_ms=<>
 *          loss_first=<> loss_last=<> rss_kb=<peak> threads=<T> steps=<N> batch=<B> img_s=<B*1000/ms> ...
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
#define N_CLASSES 1000

typedef struct { int threads, warmup, steps; int64_t batch, size; } opts;

static int die(const char *what) {
    fprintf(stderr, "bench_cnn: %s: %s\n", what, ft_errmsg());
    return 1;
}

static int run_cnn(const opts *o, const char *cname) {
    const char *arch, *train = NULL;
    if (!strcmp(cname, "resnet18-full")) arch = "resnet\",\"depth\":18";
    else if (!strcmp(cname, "resnet18-layer4")) { arch = "resnet\",\"depth\":18"; train = "layer4.*,fc.*"; }
    else if (!strcmp(cname, "resnet18-fc")) { arch = "resnet\",\"depth\":18"; train = "fc.*"; }
    else arch = "mobilenet_v2\",\"width_mult\":1.0";
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"arch\":\"%s,\"n_classes\":%d,\"input_shape\":[3,%lld,%lld]}", arch, N_CLASSES,
             (long long)o->size, (long long)o->size);
    ft_model *m;
    if (ft_model_from_config(cfg, &m)) return die("model");
    ft_model_init(m, 1);
    if (train && ft_model_select_trainable(m, train, NULL)) return die("select_trainable");
    ft_params *ps = m->params;
    if (ft_params_alloc_grads(ps)) return die("alloc_grads");

    int64_t B = o->batch, xs[4] = {B, 3, o->size, o->size}, ys[1] = {B};
    ft_graph *g = ft_graph_new(ps);
    if (!g) return die("graph_new");
    ft_node *x = ft_input(g, "x", FT_F32, 4, xs);
    ft_node *y = ft_input(g, "y", FT_I32, 1, ys);
    ft_node *logits = m->arch->build(m, g, x, true);
    ft_node *loss = ft_cross_entropy(g, logits, y, -100, 0.0f);
    if (ft_graph_plan(g, loss, true)) return die("plan");

    ft_optim_config oc = ft_optim_defaults(FT_OPT_SGD);
    oc.lr = 0.01f;
    oc.momentum = 0.9f;
    oc.decay_all = true;
    ft_optimizer *opt;
    if (ft_optimizer_new(ps, &oc, &opt)) return die("optimizer");

    size_t xn = (size_t)(B * 3 * o->size * o->size);
    float *bx = malloc(N_BATCHES * xn * sizeof *bx);
    int32_t *by = malloc(N_BATCHES * (size_t)B * sizeof *by);
    if (!bx || !by) { fprintf(stderr, "bench_cnn: out of memory\n"); return 1; }
    ft_pcg32 r;
    ft_pcg32_seed(&r, 42, 7);
    for (size_t k = 0; k < N_BATCHES * xn; k++) bx[k] = 4.0f * ft_pcg32_uniform(&r) - 2.0f;
    for (int64_t k = 0; k < N_BATCHES * B; k++) by[k] = (int32_t)(ft_pcg32_next(&r) % N_CLASSES);

    int total = o->warmup + o->steps;
    double *t_step = malloc((size_t)o->steps * 4 * sizeof(double));
    if (!t_step) { fprintf(stderr, "bench_cnn: out of memory\n"); return 1; }
    double *t_fwd = t_step + o->steps, *t_bwd = t_fwd + o->steps, *t_opt = t_bwd + o->steps;
    float loss_first = 0, loss_last = 0;
    uint64_t allocs_before = 0;
    for (int s = 0; s < total; s++) {
        int k = s % N_BATCHES;
        if (s == o->warmup) allocs_before = ft_alloc_count();
        double t0 = now_ms();
        ft_params_zero_grad(ps);
        if (ft_graph_set_input(g, x, bx + (size_t)k * xn, xn * sizeof(float))) return die("set_input");
        if (ft_graph_set_input(g, y, by + (size_t)k * B, (size_t)B * sizeof(int32_t))) return die("set_input");
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
           "loss_first=%.4f loss_last=%.4f rss_kb=%ld threads=%d steps=%d batch=%lld img_s=%.2f arena_mb=%.1f bwd_ops=%d "
           "step_allocs=%llu\n",
           cname, med, mn, mx, median(t_fwd, o->steps), median(t_bwd, o->steps), median(t_opt, o->steps), loss_first,
           loss_last, peak_rss_kb(), ft_get_num_threads(), o->steps, (long long)B, (double)B * 1e3 / med,
           (double)st.arena_bytes / 1048576.0, st.n_backward_ops, (unsigned long long)step_allocs);
    free(t_step);
    free(bx);
    free(by);
    ft_optimizer_free(opt);
    ft_graph_free(g);
    ft_model_free(m);
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_cnn [--threads T] [--warmup W] [--steps N] [--batch B] [--size S] "
                    "resnet18-full|resnet18-layer4|resnet18-fc|mobilenetv2-full\n");
    return 2;
}

int main(int argc, char **argv) {
    opts o = {2, 2, 10, 16, 224};
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
            else if (!strcmp(a, "--size")) o.size = v;
            else return usage();
        } else if (!cname && a[0] != '-') {
            cname = a;
        } else {
            return usage();
        }
    }
    if (!cname || (strcmp(cname, "resnet18-full") && strcmp(cname, "resnet18-layer4") && strcmp(cname, "resnet18-fc") &&
                   strcmp(cname, "mobilenetv2-full")))
        return usage();
    ft_set_num_threads(o.threads);
    return run_cnn(&o, cname);
}
