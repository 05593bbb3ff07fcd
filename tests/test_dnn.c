/* A DNN acoustic model in the "graph" architecture: the "splice" op (stacked context frames,
 * edges repeated) and splice -> linear -> relu -> linear -> mean over time, against PyTorch
 * (tests/fixtures/dnn.safetensors from tests/gen/gen_dnn.py: the spliced frames, frame
 * logits, logits, loss and every gradient, the input's included), with fast and reference
 * kernels; finite differences through the splice node; attribute and shape errors. */
#include "test.h"
#include "models/models.h"

#include <jansson.h>
#include <math.h>

#define SEED 2026

static float *st_f32(const ft_safetensors *st, const char *name, int64_t *numel) {
    const ft_st_tensor *t = ft_st_find(st, name);
    CHECKF(t != NULL, "%s missing", name);
    if (!t) return NULL;
    float *v = malloc((size_t)t->numel * 4);
    ft_st_to_f32(t, v);
    if (numel) *numel = t->numel;
    return v;
}

/* A model from the fixture's config key, with extra "outputs" (NULL: as is), initialised as
 * the generator does (PCG32 stream = param index, bound 1/sqrt(fan_in of the layer)); the
 * param "xp" (the input as a parameter) gets tensor xname. */
static ft_model *load_model(const ft_safetensors *st, const char *key, const char *outputs_json, const char *xname, bool smooth) {
    json_t *cfg = json_loads(ft_st_meta(st, key), 0, NULL);
    CHECKF(cfg != NULL, "metadata %s", key);
    if (!cfg) return NULL;
    size_t i;
    json_t *nd;
    json_array_foreach(json_object_get(cfg, "nodes"), i, nd) /* smooth: relu -> tanh */
        if (smooth && !strcmp(json_string_value(json_object_get(nd, "op")), "relu")) json_object_set_new(nd, "op", json_string("tanh"));
    if (outputs_json) {
        json_object_del(cfg, "output");
        json_object_set_new(cfg, "outputs", json_loads(outputs_json, 0, NULL));
    }
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(text, &m));
    free(text);
    if (!m) return NULL;
    ft_params *ps = m->params;
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *p = &ps->p[i];
        if (!strcmp(p->name, "xp")) {
            float *x = st_f32(st, xname, NULL);
            if (x) memcpy(ft_params_value(ps, i), x, (size_t)p->numel * 4);
            free(x);
            continue;
        }
        char wn[128];
        snprintf(wn, sizeof wn, "%.*s.weight", (int)(strchr(p->name, '.') - p->name), p->name);
        int w = ft_params_find(ps, wn);
        CHECKF(w >= 0, "%s", wn);
        if (w >= 0) ft_params_init_uniform(ps, i, SEED, 1.0f / sqrtf((float)ps->p[w].shape[1]));
    }
    CHECK_OK(ft_params_alloc_grads(ps));
    ft_params_zero_grad(ps);
    return m;
}

typedef struct {
    ft_graph *g;
    ft_node *in, *loss, *outs[3];
    int n_outs;
} run;

/* loss = cross_entropy(outs[0], y) (y: N labels) or, y NULL, sum(outs[0] * gout) */
static void build(ft_model *m, run *r, int64_t N, const int32_t *y, const float *gout) {
    memset(r, 0, sizeof *r);
    r->g = ft_graph_new(m->params);
    int64_t shape[FT_MAX_DIMS] = {N};
    for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
    r->in = ft_input(r->g, "x", FT_F32, m->in_ndim + 1, shape);
    r->n_outs = ft_graph_model_outputs(m, r->g, r->in, r->outs, 3);
    CHECK(r->n_outs >= 1);
    if (r->n_outs < 1) return;
    ft_node *t;
    if (y) {
        int64_t ns[1] = {N};
        t = ft_input(r->g, "y", FT_I32, 1, ns);
        r->loss = ft_cross_entropy(r->g, r->outs[0], t, -100, 0.0f);
    } else {
        t = ft_input(r->g, "gout", FT_F32, r->outs[0]->ndim, r->outs[0]->shape);
        r->loss = ft_sum(r->g, ft_mul(r->g, r->outs[0], t), FT_ALL_DIMS, false);
    }
    for (int k = 0; k < r->n_outs; k++) ft_node_keep(r->outs[k]);
    CHECK_OK(ft_graph_plan(r->g, r->loss, true));
    if (y) CHECK_OK(ft_graph_set_input(r->g, t, y, (size_t)N * 4));
    else CHECK_OK(ft_graph_set_input(r->g, t, gout, (size_t)r->outs[0]->numel * 4));
}

static double run_loss(run *r, const float *x, int64_t n) {
    if (ft_graph_set_input(r->g, r->in, x, (size_t)n * 4) || ft_graph_forward(r->g)) return NAN;
    return r->loss->val[0];
}

static void check_tensor(const ft_safetensors *st, const char *name, const float *got, int64_t n, double rtol, double atol,
                         const char *mode) {
    int64_t rn = 0;
    float *ref = st_f32(st, name, &rn);
    CHECKF(ref && rn == n && t_close(got, ref, n, rtol, atol, name), "%s (%s kernels)", name, mode);
    free(ref);
}

static void test_dnn_torch(const ft_safetensors *st, bool xp, bool reference) {
    const char *mode = reference ? "reference" : "fast";
    ft_model *m = load_model(st, xp ? "model_x" : "model", "[\"logits\", \"splice\", \"frames\"]", "x", false);
    if (!m) return;
    CHECK(m->n_classes == 4 && m->in_ndim == 2 && m->in_shape[0] == 7 && m->in_shape[1] == 5);
    const ft_st_tensor *yt = ft_st_find(st, "y");
    int64_t nx = 0;
    float *x = st_f32(st, "x", &nx);
    CHECK(yt && yt->numel == 3 && nx == 3 * 7 * 5);
    if (!yt || !x || yt->numel != 3) { free(x); ft_model_free(m); return; }
    int32_t y[3];
    memcpy(y, yt->data, sizeof y);
    if (xp) memset(x, 0, (size_t)nx * 4); /* the input is the parameter xp; the graph input is zeros */
    run r;
    build(m, &r, 3, y, NULL);
    ft_set_reference_kernels(reference);
    double loss = run_loss(&r, x, nx);
    CHECK_OK(ft_graph_backward(r.g));
    ft_set_reference_kernels(false);
    if (r.n_outs == 3 && !ft_graph_status(r.g)) {
        check_tensor(st, "logits", r.outs[0]->val, r.outs[0]->numel, 1e-5, 1e-5, mode);
        check_tensor(st, "splice", r.outs[1]->val, r.outs[1]->numel, 0, 0, mode); /* a copy: exact */
        check_tensor(st, "frames", r.outs[2]->val, r.outs[2]->numel, 1e-5, 1e-5, mode);
        float lf = (float)loss;
        check_tensor(st, "loss", &lf, 1, 1e-5, 1e-6, mode);
        for (int i = 0; i < m->params->n; i++) {
            char gn[128];
            const char *pn = m->params->p[i].name;
            snprintf(gn, sizeof gn, "grad.%s", !strcmp(pn, "xp") ? "x" : pn);
            check_tensor(st, gn, ft_params_grad(m->params, i), m->params->p[i].numel, 1e-4, 1e-6, mode);
        }
    }
    ft_graph_free(r.g);
    free(x);
    ft_model_free(m);
}

/* Central finite differences of the loss with respect to every entry (or every stride-th) of
 * the param named pname, against backward: |fd - grad| <= tol (|grad| + 0.01). Step 1e-2 (the
 * float32 loss carries ~1e-7 of rounding), so the model must be smooth: the caller swaps ReLU
 * for tanh (a step of 1e-2 moves some of the 80 pre-activations an input frame feeds across
 * ReLU's kink). */
static void fd_param(ft_model *m, run *r, const float *x, int64_t nx, const char *pname, int stride, double tol) {
    int pi = ft_params_find(m->params, pname);
    CHECKF(pi >= 0, "%s", pname);
    if (pi < 0) return;
    ft_params_zero_grad(m->params);
    run_loss(r, x, nx);
    CHECK_OK(ft_graph_backward(r->g));
    int64_t n = m->params->p[pi].numel;
    float *an = malloc((size_t)n * 4), *v = ft_params_value(m->params, pi);
    memcpy(an, ft_params_grad(m->params, pi), (size_t)n * 4);
    int bad = 0;
    double worst = 0;
    const float h = 1e-2f;
    for (int64_t k = 0; k < n; k += stride) {
        float keep = v[k];
        v[k] = keep + h;
        double lp = run_loss(r, x, nx);
        v[k] = keep - h;
        double lm = run_loss(r, x, nx);
        v[k] = keep;
        double num = (lp - lm) / (2.0 * h), err = fabs(num - an[k]) / (fabs(an[k]) + 1e-2);
        if (err > worst) worst = err;
        if (err > tol) {
            bad++;
            fprintf(stderr, "  %s[%lld]: backward %.6g, finite differences %.6g\n", pname, (long long)k, an[k], num);
        }
    }
    CHECKF(bad == 0, "finite differences of %s: %d entries off (worst relative error %.3g)", pname, bad, worst);
    free(an);
}

static void test_fd(const ft_safetensors *st) {
    /* the DNN (ReLU swapped for tanh: smooth) with its input as the parameter xp: d loss / d x
     * goes through splice (gather's scatter-add: the first and last frames are copied into
     * several context slots) */
    ft_model *m = load_model(st, "model_x", NULL, "x", true);
    if (!m) return;
    const ft_st_tensor *yt = ft_st_find(st, "y");
    int32_t y[3] = {0, 0, 0};
    if (yt && yt->numel == 3) memcpy(y, yt->data, sizeof y);
    float zeros[3 * 7 * 5] = {0};
    run r;
    build(m, &r, 3, y, NULL);
    if (!ft_graph_status(r.g)) {
        fd_param(m, &r, zeros, 105, "xp", 1, 2e-2);
        fd_param(m, &r, zeros, 105, "l1.weight", 7, 2e-2);
        fd_param(m, &r, zeros, 105, "l2.weight", 1, 2e-2);
    }
    ft_graph_free(r.g);
    ft_model_free(m);

    /* the edge case alone (context longer than the clip on both sides): linear in x */
    m = load_model(st, "edge_model", NULL, "edge.x", false);
    if (!m) return;
    int64_t ng = 0;
    float *gout = st_f32(st, "edge.gout", &ng), z[24] = {0};
    if (gout) {
        build(m, &r, 2, NULL, gout);
        if (!ft_graph_status(r.g)) fd_param(m, &r, z, 24, "xp", 1, 1e-2);
        ft_graph_free(r.g);
    }
    free(gout);
    ft_model_free(m);
}

static void test_edge_torch(const ft_safetensors *st, bool reference) {
    const char *mode = reference ? "reference" : "fast";
    ft_model *m = load_model(st, "edge_model", NULL, "edge.x", false);
    if (!m) return;
    CHECK(m->in_ndim == 2 && m->n_classes == 20);
    int64_t ng = 0;
    float *gout = st_f32(st, "edge.gout", &ng), z[24] = {0};
    if (gout && ng == 2 * 3 * 20) {
        run r;
        build(m, &r, 2, NULL, gout);
        ft_set_reference_kernels(reference);
        run_loss(&r, z, 24);
        CHECK_OK(ft_graph_backward(r.g));
        ft_set_reference_kernels(false);
        if (!ft_graph_status(r.g)) {
            check_tensor(st, "edge.out", r.outs[0]->val, r.outs[0]->numel, 0, 0, mode);
            check_tensor(st, "edge.grad_x", ft_params_grad(m->params, 0), 24, 1e-5, 1e-6, mode);
        }
        ft_graph_free(r.g);
    }
    free(gout);
    ft_model_free(m);
}

/* splice by hand on a tiny clip: T = 2, F = 1, frames {1, 2}, L = 2, R = 1 */
static void test_small(void) {
    const char *cfg = "{\"arch\":\"graph\",\"input\":{\"shape\":[2,1]},\"sequence_output\":true,"
                      "\"nodes\":[{\"name\":\"s\",\"op\":\"splice\",\"inputs\":[\"input\"],\"attrs\":{\"left\":2,\"right\":1}}]}";
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &m));
    if (!m) return;
    CHECK(m->n_classes == 4);
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[3] = {1, 2, 1};
    ft_node *in = ft_input(g, "x", FT_F32, 3, shape), *y = m->arch->build(m, g, in, false);
    ft_node_keep(y);
    CHECK_OK(ft_graph_plan(g, NULL, false));
    float x[2] = {1, 2};
    CHECK_OK(ft_graph_set_input(g, in, x, sizeof x));
    CHECK_OK(ft_graph_forward(g));
    const float want[8] = {1, 1, 1, 2, /* t = 0: frames -2, -1, 0, 1 */ 1, 1, 2, 2 /* t = 1: -1, 0, 1, 2 */};
    CHECK(y && y->ndim == 3 && y->shape[1] == 2 && y->shape[2] == 4 && !memcmp(y->val, want, sizeof want));
    ft_graph_free(g);
    ft_model_free(m);
    /* left = right = 0 is the identity */
    CHECK_OK(ft_model_from_config("{\"arch\":\"graph\",\"input\":{\"shape\":[3,2]},\"sequence_output\":true,"
                                  "\"nodes\":[{\"name\":\"s\",\"op\":\"splice\",\"inputs\":[\"input\"]}]}", &m));
    CHECK(m && m->n_classes == 2);
    ft_model_free(m);
}

static void expect_fail(const char *cfg, const char *needle) {
    ft_model *m = NULL;
    ft_status s = ft_model_from_config(cfg, &m);
    CHECKF(s != FT_OK && strstr(ft_errmsg(), needle), "want an error with '%s', got %d: %s", needle, (int)s, ft_errmsg());
    ft_model_free(m);
}

static void test_errors(void) {
    expect_fail("{\"arch\":\"graph\",\"input\":{\"shape\":[8]},\"nodes\":[{\"name\":\"sp\",\"op\":\"splice\",\"inputs\":[\"input\"],"
                "\"attrs\":{\"left\":1}}]}", "splice needs x [N, T, F]");
    expect_fail("{\"arch\":\"graph\",\"input\":{\"shape\":[4,8]},\"nodes\":[{\"name\":\"sp\",\"op\":\"splice\",\"inputs\":[\"input\"],"
                "\"attrs\":{\"left\":-1}}]}", "left");
    expect_fail("{\"arch\":\"graph\",\"input\":{\"shape\":[4,8]},\"nodes\":[{\"name\":\"sp\",\"op\":\"splice\",\"inputs\":[\"input\"],"
                "\"attrs\":{\"width\":3}}]}", "unknown attribute 'width'");
}

/* the example config loads (the dry run checks every shape) */
static void test_example(void) {
    uint8_t *text = NULL;
    size_t n = 0;
    CHECK_OK(ft_read_file("examples/fsdd-kws/dnn.json", 1 << 20, &text, &n));
    if (!text) return;
    char *z = malloc(n + 1);
    memcpy(z, text, n);
    z[n] = 0;
    ft_free(text);
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(z, &m));
    free(z);
    CHECK(m && m->n_classes == 10 && m->in_ndim == 2 && m->in_shape[0] == 101 && m->in_shape[1] == 40);
    ft_model_free(m);
}

int main(void) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/dnn.safetensors", &st));
    if (st) {
        for (int ref = 0; ref < 2; ref++) {
            test_dnn_torch(st, false, ref);
            test_dnn_torch(st, true, ref);
            test_edge_torch(st, ref);
        }
        test_fd(st);
        ft_st_close(st);
    }
    test_small();
    test_errors();
    test_example();
    TEST_END();
}
