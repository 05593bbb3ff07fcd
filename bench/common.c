/* Shared by the C benchmarks: see common.h. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

const char *bench_prog = "bench";

double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int bench_die(const char *what) {
    fprintf(stderr, "%s: %s: %s\n", bench_prog, what, ft_errmsg());
    return 1;
}

int bench_oom(void) {
    fprintf(stderr, "%s: out of memory\n", bench_prog);
    return 1;
}

const char *bench_parse(int argc, char **argv, const char *prog, bench_opts *o, const bench_flag *extra) {
    bench_prog = prog;
    const char *cname = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < 1) return NULL;
            if (!strcmp(a, "--threads")) o->threads = (int)v;
            else if (!strcmp(a, "--warmup")) o->warmup = (int)v;
            else if (!strcmp(a, "--steps")) o->steps = (int)v;
            else if (!strcmp(a, "--batch")) o->batch = v;
            else {
                const bench_flag *f = extra;
                while (f && f->flag && strcmp(a, f->flag)) f++;
                if (!f || !f->flag) return NULL;
                *f->value = v;
            }
        } else if (!cname && a[0] != '-') {
            cname = a;
        } else {
            return NULL;
        }
    }
    return cname;
}

int bench_train_steps(const bench_opts *o, ft_graph *g, ft_params *ps, ft_optimizer *opt, float lr,
                      const ft_node *loss, const bench_batches *b, bench_result *r) {
    memset(r, 0, sizeof *r);
    int total = o->warmup + o->steps;
    double *t_step = malloc((size_t)o->steps * 4 * sizeof(double));
    if (!t_step) return bench_oom();
    double *t_fwd = t_step + o->steps, *t_bwd = t_fwd + o->steps, *t_opt = t_bwd + o->steps;
    uint64_t allocs_before = 0;
    for (int s = 0; s < total; s++) {
        int k = s % b->n_batches;
        if (s == o->warmup) allocs_before = ft_alloc_count();
        double t0 = now_ms();
        ft_params_zero_grad(ps);
        for (int j = 0; j < b->n_inputs; j++)
            if (ft_graph_set_input(g, b->input[j], (const char *)b->data[j] + (size_t)k * b->bytes[j], b->bytes[j])) {
                free(t_step);
                return bench_die("set_input");
            }
        if (ft_graph_forward(g)) { free(t_step); return bench_die("forward"); }
        double t1 = now_ms();
        if (ft_graph_backward(g)) { free(t_step); return bench_die("backward"); }
        double t2 = now_ms();
        ft_optimizer_step(opt, lr);
        double t3 = now_ms();
        if (s == 0) r->loss_first = loss->val[0];
        r->loss_last = loss->val[0];
        if (s >= o->warmup) {
            int i = s - o->warmup;
            t_step[i] = t3 - t0;
            t_fwd[i] = t1 - t0;
            t_bwd[i] = t2 - t1;
            t_opt[i] = t3 - t2;
        }
    }
    r->step_allocs = ft_alloc_count() - allocs_before;
    r->min = r->max = t_step[0];
    for (int i = 1; i < o->steps; i++) { r->min = fmin(r->min, t_step[i]); r->max = fmax(r->max, t_step[i]); }
    r->ms = median(t_step, o->steps);
    r->fwd_ms = median(t_fwd, o->steps);
    r->bwd_ms = median(t_bwd, o->steps);
    r->opt_ms = median(t_opt, o->steps);
    free(t_step);
    return 0;
}

void bench_print_result(const char *cname, const bench_opts *o, const bench_result *r) {
    printf("RESULT case=%s impl=finetune ms=%.3f min=%.3f max=%.3f fwd_ms=%.3f bwd_ms=%.3f opt_ms=%.3f "
           "loss_first=%.4f loss_last=%.4f rss_kb=%ld threads=%d steps=%d",
           cname, r->ms, r->min, r->max, r->fwd_ms, r->bwd_ms, r->opt_ms, r->loss_first, r->loss_last, peak_rss_kb(),
           ft_get_num_threads(), o->steps);
}
