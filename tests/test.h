/* Minimal test harness: CHECK records failures without stopping; main ends with
 * TEST_END() which prints "N passed, N failed" and returns non-zero on any failure. */
#ifndef FT_TEST_H
#define FT_TEST_H
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "finetune.h"

static int t_pass, t_fail;
#define CHECK(cond) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_OK(expr) do { ft_status s_ = (expr); if (s_ == FT_OK) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr, \
            ft_status_name(s_), ft_errmsg()); } } while (0)
#define CHECK_ERR(expr, want) do { ft_status s_ = (expr); if (s_ == (want)) t_pass++; else { \
    t_fail++; fprintf(stderr, "FAIL %s:%d: %s -> %s, want %s (%s)\n", __FILE__, __LINE__, \
    #expr, ft_status_name(s_), ft_status_name(want), ft_errmsg()); } } while (0)
#define TEST_END() do { printf("%s: %d passed, %d failed\n", __FILE__, t_pass, t_fail); \
    return t_fail ? 1 : 0; } while (0)

/* |a-b| <= atol + rtol*|b| elementwise; prints the worst offender. */
static inline int t_close(const float *a, const float *b, long n, double rtol, double atol, const char *what) {
    long worst = -1; double wd = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim) && (worst < 0 || d > wd)) { worst = i; wd = d; }
    }
    if (worst >= 0) { fprintf(stderr, "  %s: mismatch at %ld: %g vs %g\n", what, worst, a[worst], b[worst]); return 0; }
    return 1;
}
/* Path to ../shared if present; NULL (and a visible skip line) when absent. */
static inline const char *t_shared(const char *what) {
    const char *p = getenv("FT_SHARED"); if (!p) p = "../shared";
    FILE *f; char buf[512]; snprintf(buf, sizeof buf, "%s/README.md", p);
    if ((f = fopen(buf, "r"))) { fclose(f); return p; }
    printf("SKIP %s: %s not found\n", what, p); return NULL;
}
/* ft_errmsg() contains s; otherwise prints both and returns false. */
static inline bool t_msg_has(const char *s) {
    if (strstr(ft_errmsg(), s)) return true;
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", ft_errmsg(), s);
    return false;
}

/* ---- a scratch folder per test binary ---- */

static char t_tmpdir[256];
/* Makes /tmp/ft_test_<tag>_XXXXXX into t_tmpdir; 0 (after perror) if it cannot. */
static inline int t_tmpdir_make(const char *tag) {
    snprintf(t_tmpdir, sizeof t_tmpdir, "/tmp/ft_test_%s_XXXXXX", tag);
    if (!mkdtemp(t_tmpdir)) { perror("mkdtemp"); return 0; }
    return 1;
}
/* Removes t_tmpdir and everything below it. */
static inline void t_tmpdir_remove(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", t_tmpdir);
}
/* t_tmpdir/<name>, in one of 64 buffers used in turn. */
static inline const char *t_tmp(const char *name) {
    static char buf[64][512];
    static int k;
    char *p = buf[k++ % 64];
    snprintf(p, 512, "%s/%s", t_tmpdir, name);
    return p;
}

/* ---- models ---- */

/* An eval forward pass of model m on a batch of n examples x (its input shape each): the
 * output into out, which holds cap floats (a larger output fails with FT_ESHAPE and copies
 * nothing); *out_numel gets its size, if out_numel. */
static inline ft_status t_model_forward_cap(ft_model *m, const float *x, int64_t n, float *out, int64_t cap, int64_t *out_numel) {
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[FT_MAX_DIMS] = {n}, per = 1;
    for (int d = 0; d < m->in_ndim; d++) { shape[d + 1] = m->in_shape[d]; per *= m->in_shape[d]; }
    ft_node *in = ft_input(g, "x", m->in_dtype, m->in_ndim + 1, shape);
    ft_node *y = m->arch->build(m, g, in, false);
    ft_node_keep(y);
    ft_status s = ft_graph_plan(g, NULL, false);
    if (!s) s = ft_graph_set_input(g, in, x, (size_t)(n * per) * 4);
    if (!s) s = ft_graph_forward(g);
    if (!s && y->numel > cap) s = ft_fail(FT_ESHAPE, "the output has %lld values, room for %lld", (long long)y->numel, (long long)cap);
    if (!s) {
        memcpy(out, y->val, (size_t)y->numel * 4);
        if (out_numel) *out_numel = y->numel;
    }
    ft_graph_free(g);
    return s;
}
/* The same without a bound: out must hold the whole output. */
static inline ft_status t_model_forward(ft_model *m, const float *x, int64_t n, float *out, int64_t *out_numel) {
    return t_model_forward_cap(m, x, n, out, INT64_MAX, out_numel);
}

/* ---- gradient checks of ops (test_ops.c, test_cnn_ops.c, test_shape_ops.c, test_rnn.c) ----
 * A case is an op's output `out` in a graph whose loss is sum(out * gout), gout a fixed
 * random input (gvals), planned for training on the parameters ps. */

typedef struct {
    ft_params *ps;
    ft_graph *g;
    ft_node *out, *gout, *loss;
    float *gvals;           /* out->numel values in [-1, 1) (malloc) */
} t_grad_case;

/* Adds gout and the loss to c->g (c->out built), plans, draws gvals from r and sets gout.
 * 0 after a message naming `name` if planning fails. */
static inline int t_grad_plan(t_grad_case *c, ft_pcg32 *r, const char *name) {
    c->gout = ft_input(c->g, "gout", FT_F32, c->out->ndim, c->out->shape);
    c->loss = ft_sum(c->g, ft_mul(c->g, c->out, c->gout), FT_ALL_DIMS, false);
    ft_node_keep(c->out);
    if (ft_graph_plan(c->g, c->loss, true)) { fprintf(stderr, "%s: plan: %s\n", name, ft_errmsg()); return 0; }
    c->gvals = malloc((size_t)(c->out->numel ? c->out->numel : 1) * 4);
    for (int64_t i = 0; i < c->out->numel; i++) c->gvals[i] = 2 * ft_pcg32_uniform(r) - 1;
    ft_graph_set_input(c->g, c->gout, c->gvals, (size_t)c->out->numel * 4);
    return 1;
}

/* Frees the graph, the parameters and gvals. */
static inline void t_grad_free(t_grad_case *c) {
    ft_graph_free(c->g);
    ft_params_free(c->ps);
    free(c->gvals);
}

/* The loss (forward pass), summed in double. */
static inline double t_grad_loss(t_grad_case *c) {
    CHECK_OK(ft_graph_forward(c->g));
    double s = 0;
    for (int64_t i = 0; i < c->out->numel; i++) s += (double)c->out->val[i] * c->gvals[i];
    return s;
}

/* Forward and backward with the fast kernels, then with the reference kernels: outputs must
 * agree within (1e-5, out_atol), gradients within (1e-4, grad_atol), the absolute tolerance
 * scaled per parameter by its gradient's largest entry when grad_scaled (a weight gradient
 * sums thousands of products; an entry that cancels to near zero carries the rounding of
 * the large partial sums). Returns the fast kernels' gradient (malloc, grad_total floats). */
static inline float *t_grad_fast_vs_ref(t_grad_case *c, const char *name, double out_atol, double grad_atol,
                                        bool grad_scaled) {
    ft_params_zero_grad(c->ps);
    t_grad_loss(c);
    CHECK_OK(ft_graph_backward(c->g));
    int64_t G = (int64_t)c->ps->grad_total;
    float *fast_grad = malloc((size_t)(G ? G : 1) * 4), *fast_out = malloc((size_t)(c->out->numel ? c->out->numel : 1) * 4);
    if (G) memcpy(fast_grad, c->ps->grad, (size_t)G * 4);
    memcpy(fast_out, c->out->val, (size_t)c->out->numel * 4);
    ft_set_reference_kernels(true);
    ft_params_zero_grad(c->ps);
    t_grad_loss(c);
    CHECK_OK(ft_graph_backward(c->g));
    ft_set_reference_kernels(false);
    CHECKF(t_close(fast_out, c->out->val, c->out->numel, 1e-5, out_atol, name), "%s: fast forward != reference", name);
    if (!grad_scaled) {
        CHECKF(t_close(fast_grad, c->ps->grad, G, 1e-4, grad_atol, name), "%s: fast backward != reference", name);
    } else {
        for (int i = 0; i < c->ps->n; i++) {
            const ft_param_info *pi = &c->ps->p[i];
            if (pi->grad_offset < 0) continue;
            const float *ref = c->ps->grad + pi->grad_offset;
            double big = 0;
            for (int64_t j = 0; j < pi->numel; j++) big = fmax(big, fabs(ref[j]));
            CHECKF(t_close(fast_grad + pi->grad_offset, ref, pi->numel, 1e-4, grad_atol * fmax(1.0, big), name),
                   "%s: fast backward != reference (%s)", name, pi->name);
        }
    }
    free(fast_out);
    return fast_grad;
}

/* Central differences (step 1e-3, loss in double) on about `entries` evenly spaced entries
 * of parameter i against the analytic gradient `grad` (all parameters' gradients): an
 * entry disagrees when |fd - analytic| > tol * (1 + |fd|). Adds to *bad (describing the
 * first 3) and *checked. */
static inline void t_grad_fd(t_grad_case *c, int i, const float *grad, int entries, double tol, const char *name,
                             int *bad, int *checked) {
    const double step = 1e-3;
    float *v = ft_params_value(c->ps, i);
    const float *gr = grad + c->ps->p[i].grad_offset;
    int64_t n = c->ps->p[i].numel, stride = n > entries ? n / entries : 1;
    for (int64_t e = 0; e < n; e += stride) {
        float keep = v[e];
        v[e] = keep + (float)step;
        double lp = t_grad_loss(c);
        v[e] = keep - (float)step;
        double lm = t_grad_loss(c);
        v[e] = keep;
        double fd = (lp - lm) / (2 * step);
        (*checked)++;
        if (fabs(fd - gr[e]) > tol * (1 + fabs(fd)) && (*bad)++ < 3)
            fprintf(stderr, "  %s: d/d %s[%lld]: analytic %.6g, finite diff %.6g\n", name, c->ps->p[i].name, (long long)e,
                    gr[e], fd);
    }
}
/* Cases given as tensor specs (test_cnn_ops.c, test_shape_ops.c): tensor k has shape
 * ts[k].shape (zero-terminated) and kind 'p' (trainable parameter "t<k>"), 'f' (frozen
 * parameter), 'b' (buffer) or 'i' (graph input); all are drawn from U[-1, 1) with the
 * seeded PCG32 (then init(k, values, n) if given), in order, followed by gvals. */
#define T_SPEC_MAXT 10
typedef struct { int64_t shape[FT_MAX_DIMS]; char kind; } t_tspec;
typedef ft_node *(*t_build_fn)(ft_graph *g, ft_node **in);
typedef void (*t_init_fn)(int k, float *v, int64_t n);

typedef struct {
    t_grad_case t;
    ft_node *in[T_SPEC_MAXT];
    int pidx[T_SPEC_MAXT];      /* parameter index of tensor k (-1: an input) */
    float *data[T_SPEC_MAXT];   /* the inputs' values (malloc) */
    int nt;
} t_spec_case;

static inline int t_spec_ndim(const t_tspec *t) { int d = 0; while (d < FT_MAX_DIMS && t->shape[d]) d++; return d; }

/* Builds case h: the tensors, out = fn(g, in), planned. 0 if building or planning fails. */
static inline int t_spec_setup(t_spec_case *h, int nt, const t_tspec *ts, t_build_fn fn, t_init_fn init, uint64_t seed) {
    memset(h, 0, sizeof *h);
    h->nt = nt;
    h->t.ps = ft_params_new();
    char name[16];
    for (int k = 0; k < nt; k++) {
        snprintf(name, sizeof name, "t%d", k);
        h->pidx[k] = -1;
        if (ts[k].kind == 'b') h->pidx[k] = ft_params_add_buffer(h->t.ps, name, t_spec_ndim(&ts[k]), ts[k].shape);
        else if (ts[k].kind != 'i') h->pidx[k] = ft_params_add(h->t.ps, name, t_spec_ndim(&ts[k]), ts[k].shape);
    }
    CHECK_OK(ft_params_finalize(h->t.ps));
    ft_pcg32 r;
    ft_pcg32_seed(&r, seed, 3);
    for (int k = 0; k < nt; k++) {
        int64_t n = 1;
        for (int d = 0; d < t_spec_ndim(&ts[k]); d++) n *= ts[k].shape[d];
        float *v = h->pidx[k] >= 0 ? ft_params_value(h->t.ps, h->pidx[k]) : (h->data[k] = malloc((size_t)n * 4));
        for (int64_t i = 0; i < n; i++) v[i] = 2 * ft_pcg32_uniform(&r) - 1;
        if (init) init(k, v, n);
        if (ts[k].kind == 'f') h->t.ps->p[h->pidx[k]].trainable = false;
    }
    CHECK_OK(ft_params_alloc_grads(h->t.ps));
    h->t.g = ft_graph_new(h->t.ps);
    for (int k = 0; k < nt; k++)
        h->in[k] = h->pidx[k] >= 0 ? ft_param_at(h->t.g, h->pidx[k])
                                   : ft_input(h->t.g, "x", FT_F32, t_spec_ndim(&ts[k]), ts[k].shape);
    h->t.out = fn(h->t.g, h->in);
    if (!h->t.out) return 0;
    if (!t_grad_plan(&h->t, &r, "setup")) return 0;
    for (int k = 0; k < nt; k++)
        if (h->data[k]) ft_graph_set_input(h->t.g, h->in[k], h->data[k], (size_t)h->in[k]->numel * 4);
    return 1;
}

static inline void t_spec_free(t_spec_case *h) {
    t_grad_free(&h->t);
    for (int k = 0; k < h->nt; k++) free(h->data[k]);
}

/* The whole check of one case (seed 42): fast vs reference kernels (t_grad_fast_vs_ref with
 * atol 1e-5, grad_scaled), then, when tol > 0, central differences on about `entries`
 * entries of every trainable tensor. */
static inline void t_spec_check(const char *name, int nt, const t_tspec *ts, t_build_fn fn, t_init_fn init, double tol,
                                int entries, bool grad_scaled) {
    t_spec_case h;
    if (!t_spec_setup(&h, nt, ts, fn, init, 42)) {
        CHECKF(0, "%s: setup: %s", name, ft_graph_status(h.t.g) ? "build error" : ft_errmsg());
        t_spec_free(&h);
        return;
    }
    float *fast_grad = t_grad_fast_vs_ref(&h.t, name, 1e-5, 1e-5, grad_scaled);
    int bad = 0, checked = 0;
    for (int k = 0; k < nt && tol > 0; k++)
        if (ts[k].kind == 'p') t_grad_fd(&h.t, h.pidx[k], fast_grad, entries, tol, name, &bad, &checked);
    if (tol > 0) CHECKF(bad == 0, "%s: %d of %d gradient entries disagree with finite differences", name, bad, checked);
    free(fast_grad);
    t_spec_free(&h);
}
/* ---- PyTorch fixtures (the .safetensors files tests/gen writes) ---- */

typedef void (*t_case_fn)(const ft_safetensors *st, const char *name, void *ctx);
/* Calls fn(st, name, ctx) for each name in st's comma-separated metadata entry `key` (the
 * fixture's list of cases; none when it is missing), in order. Returns how many. */
static inline int t_each_case(const ft_safetensors *st, const char *key, t_case_fn fn, void *ctx) {
    const char *list = ft_st_meta(st, key);
    char *buf = strdup(list ? list : "");
    int n = 0;
    for (char *save = NULL, *c = buf ? strtok_r(buf, ",", &save) : NULL; c; c = strtok_r(NULL, ",", &save), n++)
        fn(st, c, ctx);
    free(buf);
    return n;
}
#endif
