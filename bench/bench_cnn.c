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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define N_BATCHES 2
#define N_CLASSES 1000

static int run_cnn(const bench_opts *o, int64_t size, const char *cname) {
    const char *arch, *train = NULL;
    if (!strcmp(cname, "resnet18-full")) arch = "resnet\",\"depth\":18";
    else if (!strcmp(cname, "resnet18-layer4")) { arch = "resnet\",\"depth\":18"; train = "layer4.*,fc.*"; }
    else if (!strcmp(cname, "resnet18-fc")) { arch = "resnet\",\"depth\":18"; train = "fc.*"; }
    else arch = "mobilenet_v2\",\"width_mult\":1.0";
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"arch\":\"%s,\"n_classes\":%d,\"input_shape\":[3,%lld,%lld]}", arch, N_CLASSES,
             (long long)size, (long long)size);
    ft_model *m;
    if (ft_model_from_config(cfg, &m)) return bench_die("model");
    ft_model_init(m, 1);
    if (train && ft_model_select_trainable(m, train, NULL)) return bench_die("select_trainable");
    ft_params *ps = m->params;
    if (ft_params_alloc_grads(ps)) return bench_die("alloc_grads");

    int64_t B = o->batch, xs[4] = {B, 3, size, size}, ys[1] = {B};
    ft_graph *g = ft_graph_new(ps);
    if (!g) return bench_die("graph_new");
    ft_node *x = ft_input(g, "x", FT_F32, 4, xs);
    ft_node *y = ft_input(g, "y", FT_I32, 1, ys);
    ft_node *logits = m->arch->build(m, g, x, true);
    ft_node *loss = ft_cross_entropy(g, logits, y, -100, 0.0f);
    if (ft_graph_plan(g, loss, true)) return bench_die("plan");

    ft_optim_config oc = ft_optim_defaults(FT_OPT_SGD);
    oc.lr = 0.01f;
    oc.momentum = 0.9f;
    oc.decay_all = true;
    ft_optimizer *opt;
    if (ft_optimizer_new(ps, &oc, &opt)) return bench_die("optimizer");

    size_t xn = (size_t)(B * 3 * size * size);
    float *bx = malloc(N_BATCHES * xn * sizeof *bx);
    int32_t *by = malloc(N_BATCHES * (size_t)B * sizeof *by);
    if (!bx || !by) return bench_oom();
    ft_pcg32 r;
    ft_pcg32_seed(&r, 42, 7);
    for (size_t k = 0; k < N_BATCHES * xn; k++) bx[k] = 4.0f * ft_pcg32_uniform(&r) - 2.0f;
    for (int64_t k = 0; k < N_BATCHES * B; k++) by[k] = (int32_t)(ft_pcg32_next(&r) % N_CLASSES);

    bench_batches bb = {N_BATCHES, 2, {x, y}, {bx, by}, {xn * sizeof *bx, (size_t)B * sizeof *by}};
    bench_result res;
    if (bench_train_steps(o, g, ps, opt, oc.lr, loss, &bb, &res)) return 1;
    ft_plan_stats st = ft_graph_stats(g);
    bench_print_result(cname, o, &res);
    printf(" batch=%lld img_s=%.2f arena_mb=%.1f bwd_ops=%d step_allocs=%llu\n", (long long)B, (double)B * 1e3 / res.ms,
           (double)st.arena_bytes / 1048576.0, st.n_backward_ops, (unsigned long long)res.step_allocs);
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
    bench_opts o = {2, 2, 10, 16};
    int64_t size = 224;
    const char *cname = bench_parse(argc, argv, "bench_cnn", &o, (bench_flag[]){{"--size", &size}, {NULL, NULL}});
    if (!cname || (strcmp(cname, "resnet18-full") && strcmp(cname, "resnet18-layer4") && strcmp(cname, "resnet18-fc") &&
                   strcmp(cname, "mobilenetv2-full")))
        return usage();
    ft_set_num_threads(o.threads);
    return run_cnn(&o, size, cname);
}
