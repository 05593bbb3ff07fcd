/* Recurrent ops (ft_lstm, ft_gru, ft_rnn_final):
 *  - finite-difference gradients and fast vs reference kernels for each variant (directions,
 *    lengths, initial states, cell output, GRU's two reset forms, biases or none);
 *  - 2-layer bidirectional nn.LSTM / nn.GRU from tests/fixtures/rnn.safetensors
 *    (tests/gen/gen_rnn.py): packed variable-length batches built from the engine ops
 *    (outputs, h_n, c_n, every gradient), and the graph-config ops "lstm"/"gru"/"rnn_final"
 *    loading the PyTorch state_dict names at full length;
 *  - bad lengths and shapes fail with messages. */
#include "test.h"
#include "ops/ops.h"

#include "finetune/io.h"

#include <jansson.h>

/* ---------------- finite differences ---------------- */

enum { P_X, P_WIH, P_WHH, P_BIH, P_BHH, P_H0, P_C0, P_MAX };
typedef struct {
    const char *name;
    bool gru, rev, cell, rb, bias, h0, c0, lengths, final_bidir;
    int N, T, F, H;
    int32_t len[4];
} variant;

typedef struct {
    t_grad_case t;
    ft_node *lens;
    int np;
} harness;

static int setup(harness *h, const variant *v) {
    memset(h, 0, sizeof *h);
    int64_t N = v->N, T = v->T, F = v->F, H = v->H, G = (v->gru ? 3 : 4) * H;
    int64_t shapes[P_MAX][3] = {{N, T, F}, {G, F}, {G, H}, {G}, {G}, {N, H}, {N, H}};
    int nd[P_MAX] = {3, 2, 2, 1, 1, 2, 2};
    bool use[P_MAX] = {true, true, true, v->bias, v->bias, v->h0, v->c0 && !v->gru};
    h->t.ps = ft_params_new();
    int idx[P_MAX];
    char name[16];
    for (int i = 0; i < P_MAX; i++) {
        idx[i] = -1;
        if (!use[i]) continue;
        snprintf(name, sizeof name, "p%d", i);
        idx[i] = ft_params_add(h->t.ps, name, nd[i], shapes[i]);
    }
    ft_params_finalize(h->t.ps);
    for (int i = 0; i < h->t.ps->n; i++) ft_params_init_uniform(h->t.ps, i, 42 + (uint64_t)i, 0.8f);
    ft_params_alloc_grads(h->t.ps);
    h->np = h->t.ps->n;
    h->t.g = ft_graph_new(h->t.ps);
    ft_node *p[P_MAX] = {0};
    for (int i = 0; i < P_MAX; i++) p[i] = idx[i] >= 0 ? ft_param_at(h->t.g, idx[i]) : NULL;
    int64_t ls[1] = {N};
    h->lens = v->lengths ? ft_input(h->t.g, "lengths", FT_I32, 1, ls) : NULL;
    ft_rnn_args a = {v->rev, v->cell, v->rb};
    ft_node *y = v->gru ? ft_gru(h->t.g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], p[P_H0], h->lens, &a)
                        : ft_lstm(h->t.g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], p[P_H0], p[P_C0], h->lens, &a);
    if (v->final_bidir) { /* [y_fwd | y_rev] -> final states of both */
        ft_rnn_args r = a;
        r.reverse = !a.reverse;
        ft_node *y2 = v->gru ? ft_gru(h->t.g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], NULL, h->lens, &r)
                             : ft_lstm(h->t.g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], NULL, NULL, h->lens, &r);
        ft_node *both[2] = {a.reverse ? y2 : y, a.reverse ? y : y2};
        ft_node *cat = ft_concat(h->t.g, 2, both, 2);
        ft_node *fin = ft_rnn_final(h->t.g, cat, h->lens, (int)H, true, false);
        /* the output and the final states both feed the loss */
        int64_t fs[3] = {N, 1, cat ? cat->shape[2] : 0};
        ft_node *f3 = ft_reshape(h->t.g, fin, 3, fs);
        ft_node *parts[2] = {cat, f3};
        y = ft_concat(h->t.g, 2, parts, 1);
    } else if (v->cell || v->rev) { /* also the final state of this direction */
        ft_node *fin = ft_rnn_final(h->t.g, y, h->lens, (int)H, false, v->rev);
        int64_t fs[3] = {N, 1, y ? y->shape[2] : 0};
        ft_node *parts[2] = {y, ft_reshape(h->t.g, fin, 3, fs)};
        y = ft_concat(h->t.g, 2, parts, 1);
    }
    h->t.out = y;
    if (!h->t.out) { fprintf(stderr, "%s: build failed\n", v->name); ft_graph_plan(h->t.g, NULL, false); fprintf(stderr, "  %s\n", ft_errmsg()); return 0; }
    ft_pcg32 r;
    ft_pcg32_seed(&r, 99, 7);
    if (!t_grad_plan(&h->t, &r, v->name)) return 0;
    if (h->lens) ft_graph_set_input(h->t.g, h->lens, v->len, (size_t)N * 4);
    return 1;
}

static void check_variant(const variant *v) {
    harness h;
    if (!setup(&h, v)) { CHECKF(0, "%s: setup", v->name); return; }
    float *fast_grad = t_grad_fast_vs_ref(&h.t, v->name, 2e-6, 2e-5, false);
    int bad = 0, checked = 0;
    for (int i = 0; i < h.np; i++) t_grad_fd(&h.t, i, fast_grad, 20, 2e-3, v->name, &bad, &checked);
    CHECKF(bad == 0, "%s: %d of %d gradient entries disagree with finite differences", v->name, bad, checked);
    /* a warmed-up step allocates nothing (per-step buffers are the node's scratch) */
    uint64_t before = ft_alloc_count();
    t_grad_loss(&h.t);
    CHECK_OK(ft_graph_backward(h.t.g));
    CHECKF(ft_alloc_count() == before, "%s: a training step allocated %llu times", v->name, (unsigned long long)(ft_alloc_count() - before));
    /* an eval plan (no saved states) computes the same output */
    ft_graph *ge = ft_graph_new(h.t.ps);
    int64_t N = v->N, ls[1] = {N};
    ft_node *pe[P_MAX] = {0};
    for (int i = 0, k = 0; i < P_MAX; i++) {
        bool use = i < P_BIH || (i <= P_BHH && v->bias) || (i == P_H0 && v->h0) || (i == P_C0 && v->c0 && !v->gru);
        if (use) pe[i] = ft_param_at(ge, k++);
    }
    ft_node *le = v->lengths ? ft_input(ge, "lengths", FT_I32, 1, ls) : NULL;
    ft_rnn_args a = {v->rev, v->cell, v->rb};
    ft_node *ye = v->gru ? ft_gru(ge, pe[P_X], pe[P_WIH], pe[P_WHH], pe[P_BIH], pe[P_BHH], pe[P_H0], le, &a)
                         : ft_lstm(ge, pe[P_X], pe[P_WIH], pe[P_WHH], pe[P_BIH], pe[P_BHH], pe[P_H0], pe[P_C0], le, &a);
    ft_node_keep(ye);
    CHECK_OK(ft_graph_plan(ge, NULL, false));
    if (le) ft_graph_set_input(ge, le, v->len, (size_t)N * 4);
    CHECK_OK(ft_graph_forward(ge));
    /* the training graph's first op node is this same op (its output is kept for backward) */
    t_grad_loss(&h.t);
    ft_node *yt = NULL;
    for (int i = 0; i < ft_graph_node_count(h.t.g) && !yt; i++)
        if (ft_graph_node(h.t.g, i)->op == (v->gru ? FT_OP_GRU : FT_OP_LSTM)) yt = ft_graph_node(h.t.g, i);
    CHECKF(yt && ye && yt->numel == ye->numel && t_close(ye->val, yt->val, ye->numel, 0, 0, v->name), "%s: eval plan output", v->name);
    ft_graph_free(ge);
    free(fast_grad);
    t_grad_free(&h.t);
}

static void test_gradients(void) {
    static const variant vs[] = {
        {"lstm", .bias = true, .N = 2, .T = 4, .F = 3, .H = 3},
        {"lstm h0 c0", .bias = true, .h0 = true, .c0 = true, .N = 2, .T = 3, .F = 2, .H = 4},
        {"lstm reverse lengths", .rev = true, .bias = true, .h0 = true, .c0 = true, .lengths = true, .N = 3, .T = 5, .F = 3,
         .H = 3, .len = {3, 5, 1}},
        {"lstm lengths cell_output", .cell = true, .bias = true, .h0 = true, .c0 = true, .lengths = true, .N = 3, .T = 4, .F = 2,
         .H = 3, .len = {2, 4, 3}},
        {"lstm no bias bidir final", .lengths = true, .final_bidir = true, .N = 3, .T = 4, .F = 3, .H = 2, .len = {4, 1, 3}},
        {"gru", .gru = true, .bias = true, .N = 2, .T = 4, .F = 3, .H = 3},
        {"gru reverse lengths h0", .gru = true, .rev = true, .bias = true, .h0 = true, .lengths = true, .N = 3, .T = 5, .F = 2,
         .H = 3, .len = {5, 2, 4}},
        {"gru reset_before_linear", .gru = true, .rb = true, .bias = true, .h0 = true, .N = 2, .T = 4, .F = 3, .H = 3},
        {"gru reset_before_linear reverse lengths", .gru = true, .rb = true, .rev = true, .bias = true, .h0 = true, .lengths = true,
         .N = 3, .T = 4, .F = 2, .H = 4, .len = {1, 4, 3}},
        {"gru bidir final", .gru = true, .bias = true, .lengths = true, .final_bidir = true, .N = 2, .T = 3, .F = 2, .H = 3,
         .len = {2, 3}},
    };
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) check_variant(&vs[i]);
}

/* ---------------- errors ---------------- */

static void test_errors(void) {
    ft_params *ps = ft_params_new();
    int64_t sx[3] = {2, 3, 4}, sw[2] = {8, 4}, sh[2] = {8, 2}, sbad[2] = {7, 2}, sl[1] = {2};
    ft_params_add(ps, "x", 3, sx);
    ft_params_add(ps, "wih", 2, sw);
    ft_params_add(ps, "whh", 2, sh);
    ft_params_add(ps, "bad", 2, sbad);
    ft_params_finalize(ps);
    ft_graph *g = ft_graph_new(ps);
    ft_node *y = ft_lstm(g, ft_param(g, "x"), ft_param(g, "wih"), ft_param(g, "bad"), NULL, NULL, NULL, NULL, NULL, NULL);
    CHECK(y == NULL);
    CHECK_ERR(ft_graph_plan(g, NULL, false), FT_ESHAPE);
    CHECKF(strstr(ft_errmsg(), "weight_hh") != NULL, "%s", ft_errmsg());
    ft_graph_free(g);
    /* lengths out of range fail the forward */
    g = ft_graph_new(ps);
    ft_node *len = ft_input(g, "lengths", FT_I32, 1, sl);
    ft_node *gru_w = ft_param(g, "wih"); /* 8 rows: not 3*H for H = 2 */
    CHECK(ft_gru(g, ft_param(g, "x"), gru_w, ft_param(g, "whh"), NULL, NULL, NULL, NULL, NULL) == NULL);
    ft_graph_free(g);
    g = ft_graph_new(ps);
    len = ft_input(g, "lengths", FT_I32, 1, sl);
    y = ft_lstm(g, ft_param(g, "x"), ft_param(g, "wih"), ft_param(g, "whh"), NULL, NULL, NULL, NULL, len, NULL);
    ft_node_keep(y);
    CHECK_OK(ft_graph_plan(g, NULL, false));
    int32_t lv[2] = {3, 4};
    ft_graph_set_input(g, len, lv, sizeof lv);
    CHECK_ERR(ft_graph_forward(g), FT_EINVAL);
    CHECKF(strstr(ft_errmsg(), "lengths[1] = 4") != NULL, "%s", ft_errmsg());
    lv[1] = 0;
    ft_graph_set_input(g, len, lv, sizeof lv);
    CHECK_ERR(ft_graph_forward(g), FT_EINVAL);
    lv[1] = 1;
    ft_graph_set_input(g, len, lv, sizeof lv);
    CHECK_OK(ft_graph_forward(g));
    ft_graph_free(g);
    ft_params_free(ps);
    /* graph config: operand count, hidden_size, attributes */
    static const struct { const char *cfg, *needle; } bad[] = {
        {"{\"arch\":\"graph\",\"input\":{\"shape\":[3,2]},\"params\":[{\"name\":\"r.weight_ih_l0\",\"shape\":[8,2]}],"
         "\"nodes\":[{\"name\":\"r\",\"op\":\"lstm\",\"inputs\":[\"input\"],\"params\":[\"r.weight_ih_l0\"],\"attrs\":{\"hidden_size\":2}}]}",
         "4 params"},
        {"{\"arch\":\"graph\",\"input\":{\"shape\":[3,2]},\"params\":[{\"name\":\"a\",\"shape\":[8,2]},{\"name\":\"b\",\"shape\":[8,2]}],"
         "\"nodes\":[{\"name\":\"r\",\"op\":\"lstm\",\"inputs\":[\"input\"],\"params\":[\"a\",\"b\"],\"attrs\":{\"hidden_size\":3,\"bias\":false}},"
         "{\"name\":\"f\",\"op\":\"rnn_final\",\"inputs\":[\"r\"],\"attrs\":{\"hidden_size\":3}}]}",
         "hidden_size=3"},
        {"{\"arch\":\"graph\",\"input\":{\"shape\":[3,2]},\"nodes\":[{\"name\":\"f\",\"op\":\"rnn_final\",\"inputs\":[\"input\"]}]}",
         "hidden_size"},
        /* initial_state: h0 must be [N or 1, layers x directions, hidden] */
        {"{\"arch\":\"graph\",\"input\":{\"shape\":[3,2]},\"params\":[{\"name\":\"h\",\"shape\":[1,2,2]},{\"name\":\"a\",\"shape\":[6,2]},"
         "{\"name\":\"b\",\"shape\":[6,2]}],\"nodes\":[{\"name\":\"r\",\"op\":\"gru\",\"inputs\":[\"input\"],\"params\":[\"h\",\"a\",\"b\"],"
         "\"attrs\":{\"hidden_size\":2,\"bias\":false,\"initial_state\":true}}]}",
         "initial h0 'h'"},
        {"{\"arch\":\"graph\",\"input\":{\"shape\":[3,2]},\"params\":[{\"name\":\"a\",\"shape\":[6,2]},{\"name\":\"b\",\"shape\":[6,2]}],"
         "\"nodes\":[{\"name\":\"r\",\"op\":\"gru\",\"inputs\":[\"input\"],\"params\":[\"a\",\"b\"],"
         "\"attrs\":{\"hidden_size\":2,\"bias\":false,\"initial_state\":true}}]}",
         "h0 (initial_state)"},
        {"{\"arch\":\"graph\",\"input\":{\"shape\":[3,2]},\"nodes\":[{\"name\":\"f\",\"op\":\"gru\",\"inputs\":[\"input\"],"
         "\"attrs\":{\"hidden_size\":2,\"bidirectional\":true,\"reverse\":true}}]}",
         "reverse"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ft_model *m = NULL;
        ft_status st = ft_model_from_config(bad[i].cfg, &m);
        CHECKF(st != FT_OK && m == NULL && strstr(ft_errmsg(), bad[i].needle), "config %zu: %s (%s)", i, ft_status_name(st), ft_errmsg());
        ft_model_free(m);
    }
}

/* ---------------- PyTorch: 2-layer bidirectional nn.LSTM / nn.GRU ---------------- */

static const char *FIX = "tests/fixtures/rnn.safetensors";

static float *st_f32(const ft_safetensors *st, const char *cs, const char *what, int64_t *numel) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", cs, what);
    const ft_st_tensor *t = ft_st_find(st, name);
    CHECKF(t != NULL, "fixture lacks %s", name);
    if (!t) return NULL;
    float *v = malloc((size_t)t->numel * 4);
    ft_st_to_f32(t, v);
    if (numel) *numel = t->numel;
    return v;
}

static void cmp_param_grads(const ft_params *ps, const ft_safetensors *st, const char *cs, const char *kind, const char *label) {
    char name[160];
    for (int i = 0; i < ps->n; i++) {
        const char *pn = ps->p[i].name + strlen(cs) + 1; /* "<case>.weight_ih_l0" -> "weight_ih_l0" */
        snprintf(name, sizeof name, "%s.%s", kind, pn);
        int64_t n = 0;
        float *want = st_f32(st, cs, name, &n);
        if (!want) continue;
        CHECKF(n == ps->p[i].numel && t_close(ps->grad + ps->p[i].grad_offset, want, n, 2e-4, 2e-5, ps->p[i].name),
               "%s %s: gradient of %s", cs, label, ps->p[i].name);
        free(want);
    }
}

/* Packed variable-length batch, built from the engine ops as graph_arch does, plus the final
 * states of every layer and direction (rnn_final; LSTM with cell_output for c_n). */
static void torch_packed(const ft_safetensors *st, const char *cs, json_t *meta, bool reference) {
    bool lstm = !strcmp(json_string_value(json_object_get(meta, "kind")), "lstm");
    int H = (int)json_integer_value(json_object_get(meta, "hidden_size"));
    int L = (int)json_integer_value(json_object_get(meta, "num_layers"));
    bool bias = json_is_true(json_object_get(meta, "bias"));
    char name[160];
    snprintf(name, sizeof name, "%s.x", cs);
    const ft_st_tensor *xt = ft_st_find(st, name);
    snprintf(name, sizeof name, "%s.lengths", cs);
    const ft_st_tensor *lt = ft_st_find(st, name);
    if (!xt || !lt) { CHECKF(0, "%s: fixture lacks x/lengths", cs); return; }
    int64_t N = xt->shape[0], T = xt->shape[1];
    ft_params *ps = ft_params_new();
    const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < (bias ? 4 : 2); j++) {
                char key[160];
                snprintf(key, sizeof key, "%s.%s_l%d%s", cs, pn[j], l, k ? "_reverse" : "");
                const ft_st_tensor *t = ft_st_find(st, key);
                CHECKF(t != NULL, "fixture lacks %s", key);
                if (t) ft_params_add(ps, key, t->ndim, t->shape);
            }
    snprintf(name, sizeof name, "%s.x", cs);
    int xi = ft_params_add(ps, name, 3, xt->shape);
    ft_params_finalize(ps);
    CHECK_OK(ft_params_load_st(ps, st, NULL, true));
    ft_params_alloc_grads(ps);
    ft_graph *g = ft_graph_new(ps);
    int64_t ls[1] = {N};
    ft_node *len = ft_input(g, "lengths", FT_I32, 1, ls), *x = ft_param_at(g, xi), *loss = NULL;
    ft_node *fin[16] = {0}, *gfin[16] = {0};
    int per = bias ? 4 : 2;
    for (int l = 0; l < L; l++) {
        ft_node *y[2];
        for (int k = 0; k < 2; k++) {
            int p0 = (l * 2 + k) * per;
            ft_node *w[4] = {ft_param_at(g, p0), ft_param_at(g, p0 + 1), bias ? ft_param_at(g, p0 + 2) : NULL,
                             bias ? ft_param_at(g, p0 + 3) : NULL};
            ft_rnn_args a = {k == 1, lstm, false};
            ft_node *o = lstm ? ft_lstm(g, x, w[0], w[1], w[2], w[3], NULL, NULL, len, &a) : ft_gru(g, x, w[0], w[1], w[2], w[3], NULL, len, &a);
            fin[l * 2 + k] = ft_rnn_final(g, o, len, H, false, k == 1);
            int64_t fs[2] = {N, lstm ? 2 * H : H};
            gfin[l * 2 + k] = ft_input(g, "gfin", FT_F32, 2, fs);
            ft_node *term = ft_sum(g, ft_mul(g, fin[l * 2 + k], gfin[l * 2 + k]), FT_ALL_DIMS, false);
            loss = loss ? ft_add(g, loss, term) : term;
            y[k] = lstm ? ft_slice(g, o, 2, 0, H) : o;
        }
        x = ft_concat(g, 2, y, 2);
    }
    int64_t os[3] = {N, T, 2 * (int64_t)H};
    ft_node *gout = ft_input(g, "gout", FT_F32, 3, os);
    loss = ft_add(g, loss, ft_sum(g, ft_mul(g, x, gout), FT_ALL_DIMS, false));
    ft_node_keep(x);
    for (int i = 0; i < 2 * L; i++) ft_node_keep(fin[i]);
    ft_status s = ft_graph_plan(g, loss, true);
    CHECKF(s == FT_OK, "%s: plan: %s", cs, ft_errmsg());
    if (s == FT_OK) {
        ft_graph_set_input(g, len, lt->data, lt->nbytes);
        float *go = st_f32(st, cs, "gout", NULL), *gh = st_f32(st, cs, "gh", NULL), *gc = lstm ? st_f32(st, cs, "gc", NULL) : NULL;
        float *hn = st_f32(st, cs, "h_n", NULL), *cn = lstm ? st_f32(st, cs, "c_n", NULL) : NULL;
        ft_graph_set_input(g, gout, go, (size_t)(N * T * 2 * H) * 4);
        int W = lstm ? 2 * H : H;
        float *buf = malloc((size_t)(N * W) * 4), *want = malloc((size_t)(N * W) * 4);
        for (int i = 0; i < 2 * L; i++) { /* [N, h | c] from [layers*dirs, N, H] */
            for (int64_t b = 0; b < N; b++)
                for (int j = 0; j < H; j++) {
                    buf[b * W + j] = gh[((int64_t)i * N + b) * H + j];
                    if (lstm) buf[b * W + H + j] = gc[((int64_t)i * N + b) * H + j];
                }
            ft_graph_set_input(g, gfin[i], buf, (size_t)(N * W) * 4);
        }
        ft_set_reference_kernels(reference);
        ft_params_zero_grad(ps);
        CHECK_OK(ft_graph_forward(g));
        CHECK_OK(ft_graph_backward(g));
        ft_set_reference_kernels(false);
        const char *lab = reference ? "reference" : "fast";
        float *out = st_f32(st, cs, "out", NULL);
        CHECKF(t_close(x->val, out, N * T * 2 * H, 1e-4, 1e-5, cs), "%s %s: output", cs, lab);
        for (int i = 0; i < 2 * L; i++) {
            for (int64_t b = 0; b < N; b++)
                for (int j = 0; j < H; j++) {
                    want[b * W + j] = hn[((int64_t)i * N + b) * H + j];
                    if (lstm) want[b * W + H + j] = cn[((int64_t)i * N + b) * H + j];
                }
            CHECKF(t_close(fin[i]->val, want, N * W, 1e-4, 1e-5, cs), "%s %s: final state of layer %d direction %d", cs, lab, i / 2, i % 2);
        }
        cmp_param_grads(ps, st, cs, "grad", lab);
        free(out); free(go); free(gh); free(gc); free(hn); free(cn); free(buf); free(want);
    }
    ft_graph_free(g);
    ft_params_free(ps);
}

/* The graph-config op at full length, loading the state_dict names <node>.weight_ih_l0 ... */
static void torch_graph_config(const ft_safetensors *st, const char *cs, json_t *meta) {
    const char *kind = json_string_value(json_object_get(meta, "kind"));
    int H = (int)json_integer_value(json_object_get(meta, "hidden_size"));
    int L = (int)json_integer_value(json_object_get(meta, "num_layers"));
    int F = (int)json_integer_value(json_object_get(meta, "input_size"));
    bool bias = json_is_true(json_object_get(meta, "bias"));
    char name[160];
    snprintf(name, sizeof name, "%s.x", cs);
    const ft_st_tensor *xt = ft_st_find(st, name);
    if (!xt) { CHECKF(0, "%s: no x", cs); return; }
    int64_t N = xt->shape[0], T = xt->shape[1];
    json_t *params = json_array(), *plist = json_array();
    const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    int G = (strcmp(kind, "lstm") ? 3 : 4) * H;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < (bias ? 4 : 2); j++) {
                snprintf(name, sizeof name, "%s.%s_l%d%s", cs, pn[j], l, k ? "_reverse" : "");
                json_t *shape = j == 0 ? json_pack("[i,i]", G, l ? 2 * H : F) : j == 1 ? json_pack("[i,i]", G, H) : json_pack("[i]", G);
                json_array_append_new(params, json_pack("{s:s,s:o}", "name", name, "shape", shape));
                json_array_append_new(plist, json_string(name));
            }
    json_t *cfg = json_pack("{s:s, s:{s:[i,i]}, s:o, s:[{s:s,s:s,s:[s],s:o,s:{s:i,s:i,s:b,s:b,s:b}}, {s:s,s:s,s:[s],s:{s:i,s:b}}]}",
                            "arch", "graph", "input", "shape", (int)T, F, "params", params,
                            "nodes", "name", cs, "op", kind, "inputs", "input", "params", plist, "attrs", "hidden_size", H,
                            "num_layers", L, "bidirectional", 1, "batch_first", 1, "bias", bias,
                            "name", "final", "op", "rnn_final", "inputs", cs, "attrs", "hidden_size", H, "bidirectional", 1);
    char *text = json_dumps(cfg, 0);
    json_decref(cfg);
    ft_model *m = NULL;
    ft_status s = ft_model_from_config(text, &m);
    CHECKF(s == FT_OK, "%s: graph config: %s", cs, ft_errmsg());
    free(text);
    if (s) return;
    CHECK(m->n_classes == 2 * H);
    CHECK_OK(ft_params_load_st(m->params, st, NULL, true));
    ft_params_alloc_grads(m->params);
    ft_graph *g = ft_graph_new(m->params);
    ft_node *in = ft_input(g, "x", FT_F32, 3, xt->shape);
    ft_node *logits = m->arch->build(m, g, in, true), *y = NULL;
    for (int i = 0; i < ft_graph_node_count(g); i++)
        if (!strcmp(ft_graph_node(g, i)->name, cs)) y = ft_graph_node(g, i);
    CHECKF(logits && y && y->ndim == 3 && y->shape[2] == 2 * H, "%s: graph node '%s' [N,T,2H]", cs, cs);
    int64_t os[3] = {N, T, 2 * (int64_t)H};
    ft_node *gout = ft_input(g, "gout", FT_F32, 3, os);
    ft_node *loss = ft_sum(g, ft_mul(g, y, gout), FT_ALL_DIMS, false);
    ft_node_keep(y);
    ft_node_keep(logits);
    s = ft_graph_plan(g, loss, true);
    CHECKF(s == FT_OK, "%s: plan %s", cs, ft_errmsg());
    if (!s) {
        float *go = st_f32(st, cs, "gout", NULL), *fout = st_f32(st, cs, "fout", NULL);
        ft_graph_set_input(g, in, xt->data, xt->nbytes);
        ft_graph_set_input(g, gout, go, (size_t)(N * T * 2 * H) * 4);
        ft_params_zero_grad(m->params);
        CHECK_OK(ft_graph_forward(g));
        CHECK_OK(ft_graph_backward(g));
        CHECKF(t_close(y->val, fout, N * T * 2 * H, 1e-4, 1e-5, cs), "%s graph config: output", cs);
        /* logits = rnn_final: forward at t = T-1, reverse at t = 0 */
        float *want = malloc((size_t)(N * 2 * H) * 4);
        for (int64_t b = 0; b < N; b++)
            for (int j = 0; j < H; j++) {
                want[b * 2 * H + j] = fout[(b * T + T - 1) * 2 * H + j];
                want[b * 2 * H + H + j] = fout[(b * T) * 2 * H + H + j];
            }
        CHECKF(t_close(logits->val, want, N * 2 * H, 1e-6, 1e-7, cs), "%s graph config: rnn_final", cs);
        cmp_param_grads(m->params, st, cs, "fgrad", "graph config");
        free(go); free(fout); free(want);
    }
    ft_graph_free(g);
    ft_model_free(m);
}

/* Initial states through the graph config ("initial_state": h0/c0 params [B, layers*2, H]
 * before the weights, B = N or 1): outputs and every gradient (h0, c0 included) against
 * PyTorch, then finite differences of a few state entries; a shared state (B = 1) also runs
 * at another batch size. */
static double istate_loss(ft_graph *g, ft_node *y, const float *go) {
    if (ft_graph_forward(g)) return NAN;
    double s = 0;
    for (int64_t i = 0; i < y->numel; i++) s += (double)y->val[i] * go[i];
    return s;
}

static void torch_istate(const ft_safetensors *st, const char *cs, json_t *meta) {
    bool lstm = !strcmp(json_string_value(json_object_get(meta, "kind")), "lstm");
    int H = (int)json_integer_value(json_object_get(meta, "hidden_size"));
    int L = (int)json_integer_value(json_object_get(meta, "num_layers"));
    int F = (int)json_integer_value(json_object_get(meta, "input_size"));
    int B = (int)json_integer_value(json_object_get(meta, "batch"));
    char name[160];
    snprintf(name, sizeof name, "%s.x", cs);
    const ft_st_tensor *xt = ft_st_find(st, name);
    if (!xt) { CHECKF(0, "%s: no x", cs); return; }
    int64_t N = xt->shape[0], T = xt->shape[1];
    json_t *params = json_array(), *plist = json_array();
    const char *sn[2] = {"h0", "c0"};
    for (int k = 0; k < (lstm ? 2 : 1); k++) {
        snprintf(name, sizeof name, "%s.%s", cs, sn[k]);
        json_array_append_new(params, json_pack("{s:s,s:[i,i,i]}", "name", name, "shape", B, 2 * L, H));
        json_array_append_new(plist, json_string(name));
    }
    const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    int G = (lstm ? 4 : 3) * H;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++) {
                snprintf(name, sizeof name, "%s.%s_l%d%s", cs, pn[j], l, k ? "_reverse" : "");
                json_t *shape = j == 0 ? json_pack("[i,i]", G, l ? 2 * H : F) : j == 1 ? json_pack("[i,i]", G, H) : json_pack("[i]", G);
                json_array_append_new(params, json_pack("{s:s,s:o}", "name", name, "shape", shape));
                json_array_append_new(plist, json_string(name));
            }
    json_t *cfg = json_pack("{s:s, s:{s:[i,i]}, s:o, s:[{s:s,s:s,s:[s],s:o,s:{s:i,s:i,s:b,s:b}}]}", "arch", "graph", "input", "shape",
                            (int)T, F, "params", params, "nodes", "name", cs, "op", lstm ? "lstm" : "gru", "inputs", "input", "params", plist,
                            "attrs", "hidden_size", H, "num_layers", L, "bidirectional", 1, "initial_state", 1);
    if (B > 1) /* one state per example: the graph runs at that batch only */
        json_object_set_new(json_object_get(cfg, "input"), "batch", json_integer(B));
    char *text = json_dumps(cfg, 0);
    json_decref(cfg);
    ft_model *m = NULL;
    ft_status s = ft_model_from_config(text, &m);
    free(text);
    CHECKF(s == FT_OK, "%s: graph config with initial_state: %s", cs, ft_errmsg());
    if (s) return;
    CHECK_OK(ft_params_load_st(m->params, st, NULL, true));
    ft_params_alloc_grads(m->params);
    ft_graph *g = ft_graph_new(m->params);
    ft_node *in = ft_input(g, "x", FT_F32, 3, xt->shape);
    ft_node *y = m->arch->build(m, g, in, true);
    int64_t os[3] = {N, T, 2 * (int64_t)H};
    ft_node *gout = ft_input(g, "gout", FT_F32, 3, os);
    ft_node *loss = ft_sum(g, ft_mul(g, y, gout), FT_ALL_DIMS, false);
    ft_node_keep(y);
    s = ft_graph_plan(g, loss, true);
    CHECKF(s == FT_OK, "%s: plan %s", cs, ft_errmsg());
    float *go = st_f32(st, cs, "gout", NULL), *out = st_f32(st, cs, "out", NULL);
    if (!s && go && out) {
        ft_graph_set_input(g, in, xt->data, xt->nbytes);
        ft_graph_set_input(g, gout, go, (size_t)(N * T * 2 * H) * 4);
        ft_params_zero_grad(m->params);
        CHECK_OK(ft_graph_forward(g));
        CHECK_OK(ft_graph_backward(g));
        CHECKF(t_close(y->val, out, N * T * 2 * H, 1e-4, 1e-5, cs), "%s initial_state: output", cs);
        cmp_param_grads(m->params, st, cs, "grad", "initial_state");
        /* finite differences of the loss in a few entries of each state */
        const ft_params *ps = m->params;
        int bad = 0;
        for (int k = 0; k < (lstm ? 2 : 1); k++) {
            snprintf(name, sizeof name, "%s.%s", cs, sn[k]);
            int pi = ft_params_find(ps, name);
            float *pv = ft_params_value(m->params, pi), *gr = ps->grad + ps->p[pi].grad_offset;
            for (int64_t e = 0; e < ps->p[pi].numel; e += 5) {
                float keep = pv[e];
                const double step = 1e-3;
                pv[e] = keep + (float)step;
                double lp = istate_loss(g, y, go);
                pv[e] = keep - (float)step;
                double lm = istate_loss(g, y, go);
                pv[e] = keep;
                double fd = (lp - lm) / (2 * step);
                if (!(fabs(fd - gr[e]) <= 2e-3 * (1 + fabs(fd))) && bad++ < 3)
                    fprintf(stderr, "  %s: d/d %s[%lld]: analytic %.6g, finite diff %.6g\n", cs, name, (long long)e, gr[e], fd);
            }
        }
        CHECKF(bad == 0, "%s: %d initial-state gradient entries disagree with finite differences", cs, bad);
    }
    ft_graph_free(g);
    if (B == 1 && out) { /* one shared state: the first example alone gives the same output */
        g = ft_graph_new(m->params);
        int64_t one[3] = {1, T, F};
        in = ft_input(g, "x", FT_F32, 3, one);
        y = m->arch->build(m, g, in, false);
        ft_node_keep(y);
        CHECK_OK(ft_graph_plan(g, NULL, false));
        CHECK_OK(ft_graph_set_input(g, in, xt->data, (size_t)(T * F) * 4));
        CHECK_OK(ft_graph_forward(g));
        CHECKF(y && t_close(y->val, out, T * 2 * H, 1e-4, 1e-5, cs), "%s: batch of one with the shared state", cs);
        ft_graph_free(g);
    }
    free(go);
    free(out);
    ft_model_free(m);
}

static void torch_case(const ft_safetensors *st, const char *c, void *ctx) {
    json_t *meta = json_loads(ft_st_meta(st, c), 0, NULL);
    CHECKF(meta != NULL, "%s: metadata", c);
    if (!meta) return;
    torch_packed(st, c, meta, false);
    torch_packed(st, c, meta, true);
    torch_graph_config(st, c, meta);
    json_decref(meta);
}

static void torch_istate_case(const ft_safetensors *st, const char *c, void *ctx) {
    json_t *meta = json_loads(ft_st_meta(st, c), 0, NULL);
    CHECKF(meta != NULL, "%s: metadata", c);
    if (meta) torch_istate(st, c, meta);
    json_decref(meta);
}

static void test_torch(void) {
    ft_safetensors *st = NULL;
    ft_status s = ft_st_open(FIX, &st);
    CHECKF(s == FT_OK, "%s: %s", FIX, ft_errmsg());
    if (s) return;
    CHECK(t_each_case(st, "cases", torch_case, NULL) == 3);
    CHECK(t_each_case(st, "istate_cases", torch_istate_case, NULL) == 3);
    ft_st_close(st);
}

int main(void) {
    ft_set_num_threads(2);
    test_gradients();
    test_errors();
    test_torch();
    TEST_END();
}
