/* What the C training-step benchmarks share (bench_mlp.c, bench_cnn.c, bench_lm.c,
 * bench_rnn.c; bench/common.py is the PyTorch side's twin): timing and memory helpers, the
 * command line, the timed step loop and the common part of the RESULT line that
 * bench/run.sh parses. */
#ifndef FT_BENCH_COMMON_H
#define FT_BENCH_COMMON_H

#include "finetune.h"

#include <stdint.h>

double now_ms(void);
/* Sorts v in place. */
double median(double *v, int n);
long peak_rss_kb(void);                 /* Linux reports ru_maxrss in KiB */

/* The program name in messages ("bench_cnn"); bench_parse sets it. */
extern const char *bench_prog;
/* Prints "<prog>: <what>: <ft_errmsg()>" and returns 1. */
int bench_die(const char *what);
/* Prints "<prog>: out of memory" and returns 1. */
int bench_oom(void);

typedef struct {
    int threads, warmup, steps;
    int64_t batch;
} bench_opts;

/* A driver's own integer option, "--size" and where it goes. */
typedef struct {
    const char *flag;
    int64_t *value;
} bench_flag;

/* Parses [--threads T] [--warmup W] [--steps N] [--batch B] [<extra flag> V ...] <case>
 * (every value a whole number >= 1; `extra` ends with a {NULL} entry) into *o, whose fields
 * hold the defaults. Returns the case name, or NULL on bad usage. */
const char *bench_parse(int argc, char **argv, const char *prog, bench_opts *o, const bench_flag *extra);

/* The in-memory batches: batch k of input j is bytes[j] bytes at data[j] + k * bytes[j]. */
typedef struct {
    int n_batches, n_inputs;
    ft_node *input[4];
    const void *data[4];
    size_t bytes[4];
} bench_batches;

/* Timed step loop results: medians over the timed steps (ms), the first and last loss. */
typedef struct {
    double ms, min, max, fwd_ms, bwd_ms, opt_ms;
    float loss_first, loss_last;
    uint64_t step_allocs;   /* ft_malloc calls during the timed steps */
} bench_result;

/* o->warmup + o->steps training steps, batches used in turn: zero grads, copy the batch into
 * the graph's inputs, forward, backward, optimizer step at lr, each timed with CLOCK_MONOTONIC
 * (the last o->steps count). Returns 0, or 1 after a message naming the failing phase. */
int bench_train_steps(const bench_opts *o, ft_graph *g, ft_params *ps, ft_optimizer *opt, float lr,
                      const ft_node *loss, const bench_batches *b, bench_result *r);

/* Prints "RESULT case=<c> impl=finetune ms=... loss_last=... rss_kb=<peak> threads=<T>
 * steps=<N>" without a newline: the driver adds its own fields and the newline. */
void bench_print_result(const char *cname, const bench_opts *o, const bench_result *r);

#endif
