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
    ft_params *ps;
    ft_graph *g;
    ft_node *out, *gout, *loss, *lens;
    float *gvals;
    int np;
} harness;

static double loss_of(harness *h) {
    CHECK_OK(ft_graph_forward(h->g));
    double s = 0;
    for (int64_t i = 0; i < h->out->numel; i++) s += (double)h->out->val[i] * h->gvals[i];
    return s;
}

static int setup(harness *h, const variant *v) {
    memset(h, 0, sizeof *h);
    int64_t N = v->N, T = v->T, F = v->F, H = v->H, G = (v->gru ? 3 : 4) * H;
    int64_t shapes[P_MAX][3] = {{N, T, F}, {G, F}, {G, H}, {G}, {G}, {N, H}, {N, H}};
    int nd[P_MAX] = {3, 2, 2, 1, 1, 2, 2};
    bool use[P_MAX] = {true, true, true, v->bias, v->bias, v->h0, v->c0 && !v->gru};
    h->ps = ft_params_new();
    int idx[P_MAX];
    char name[16];
    for (int i = 0; i < P_MAX; i++) {
        idx[i] = -1;
        if (!use[i]) continue;
        snprintf(name, sizeof name, "p%d", i);
        idx[i] = ft_params_add(h->ps, name, nd[i], shapes[i]);
    }
    ft_params_finalize(h->ps);
    for (int i = 0; i < h->ps->n; i++) ft_params_init_uniform(h->ps, i, 42 + (uint64_t)i, 0.8f);
    ft_params_alloc_grads(h->ps);
    h->np = h->ps->n;
    h->g = ft_graph_new(h->ps);
    ft_node *p[P_MAX] = {0};
    for (int i = 0; i < P_MAX; i++) p[i] = idx[i] >= 0 ? ft_param_at(h->g, idx[i]) : NULL;
    int64_t ls[1] = {N};
    h->lens = v->lengths ? ft_input(h->g, "lengths", FT_I32, 1, ls) : NULL;
    ft_rnn_args a = {v->rev, v->cell, v->rb};
    ft_node *y = v->gru ? ft_gru(h->g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], p[P_H0], h->lens, &a)
                        : ft_lstm(h->g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], p[P_H0], p[P_C0], h->lens, &a);
    if (v->final_bidir) { /* [y_fwd | y_rev] -> final states of both */
        ft_rnn_args r = a;
        r.reverse = !a.reverse;
        ft_node *y2 = v->gru ? ft_gru(h->g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], NULL, h->lens, &r)
                             : ft_lstm(h->g, p[P_X], p[P_WIH], p[P_WHH], p[P_BIH], p[P_BHH], NULL, NULL, h->lens, &r);
        ft_node *both[2] = {a.reverse ? y2 : y, a.reverse ? y : y2};
        ft_node *cat = ft_concat(h->g, 2, both, 2);
        ft_node *fin = ft_rnn_final(h->g, cat, h->lens, (int)H, true, false);
        /* the output and the final states both feed the loss */
        int64_t fs[3] = {N, 1, cat ? cat->shape[2] : 0};
        ft_node *f3 = ft_reshape(h->g, fin, 3, fs);
        ft_node *parts[2] = {cat, f3};
        y = ft_concat(h->g, 2, parts, 1);
    } else if (v->cell || v->rev) { /* also the final state of this direction */
        ft_node *fin = ft_rnn_final(h->g, y, h->lens, (int)H, false, v->rev);
        int64_t fs[3] = {N, 1, y ? y->shape[2] : 0};
        ft_node *parts[2] = {y, ft_reshape(h->g, fin, 3, fs)};
        y = ft_concat(h->g, 2, parts, 1);
    }
    h->out = y;
    if (!h->out) { fprintf(stderr, "%s: build failed\n", v->name); ft_graph_plan(h->g, NULL, false); fprintf(stderr, "  %s\n", ft_errmsg()); return 0; }
    h->gout = ft_input(h->g, "gout", FT_F32, h->out->ndim, h->out->shape);
    h->loss = ft_sum(h->g, ft_mul(h->g, h->out, h->gout), FT_ALL_DIMS, false);
    ft_node_keep(h->out);
    if (ft_graph_plan(h->g, h->loss, true)) { fprintf(stderr, "%s: plan: %s\n", v->name, ft_errmsg()); return 0; }
    h->gvals = malloc((size_t)h->out->numel * 4);
    ft_pcg32 r;
    ft_pcg32_seed(&r, 99, 7);
    for (int64_t i = 0; i < h->out->numel; i++) h->gvals[i] = 2 * ft_pcg32_uniform(&r) - 1;
    ft_graph_set_input(h->g, h->gout, h->gvals, (size_t)h->out->numel * 4);
    if (h->lens) ft_graph_set_input(h->g, h->lens, v->len, (size_t)N * 4);
    return 1;
}

static void check_variant(const variant *v) {
    harness h;
    if (!setup(&h, v)) { CHECKF(0, "%s: setup", v->name); return; }
    ft_params_zero_grad(h.ps);
    loss_of(&h);
    CHECK_OK(ft_graph_backward(h.g));
    int64_t G = (int64_t)h.ps->grad_total;
    float *fast_grad = malloc((size_t)G * 4), *fast_out = malloc((size_t)h.out->numel * 4);
    memcpy(fast_grad, h.ps->grad, (size_t)G * 4);
    memcpy(fast_out, h.out->val, (size_t)h.out->numel * 4);
    ft_set_reference_kernels(true);
    ft_params_zero_grad(h.ps);
    loss_of(&h);
    CHECK_OK(ft_graph_backward(h.g));
    ft_set_reference_kernels(false);
    CHECKF(t_close(fast_out, h.out->val, h.out->numel, 1e-5, 2e-6, v->name), "%s: fast forward != reference", v->name);
    CHECKF(t_close(fast_grad, h.ps->grad, G, 1e-4, 2e-5, v->name), "%s: fast backward != reference", v->name);
    const double step = 1e-3;
    int bad = 0;
    for (int i = 0; i < h.np; i++) {
        float *pv = ft_params_value(h.ps, i);
        const float *gr = fast_grad + h.ps->p[i].grad_offset;
        int64_t n = h.ps->p[i].numel, stride = n > 20 ? n / 20 : 1;
        for (int64_t k = 0; k < n; k += stride) {
            float keep = pv[k];
            pv[k] = keep + (float)step;
            double lp = loss_of(&h);
            pv[k] = keep - (float)step;
            double lm = loss_of(&h);
            pv[k] = keep;
            double fd = (lp - lm) / (2 * step);
            if (fabs(fd - gr[k]) > 2e-3 * (1 + fabs(fd)) && bad++ < 3)
                fprintf(stderr, "  %s: d/d %s[%lld]: analytic %.6g, finite diff %.6g\n", v->name, h.ps->p[i].name, (long long)k,
                        gr[k], fd);
        }
    }
    CHECKF(bad == 0, "%s: %d gradient entries disagree with finite differences", v->name, bad);
    free(fast_grad);
    free(fast_out);
    ft_graph_free(h.g);
    ft_params_free(h.ps);
    free(h.gvals);
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
}

int main(void) {
    ft_set_num_threads(2);
    test_gradients();
    test_errors();
    TEST_END();
}
