/* The "graph" architecture: every op of the format, validation messages (node and op
 * named), equality with the same net built by hand, head replacement (linear, 1x1 conv,
 * none), training through it, export/load, and out-of-memory paths. */
#include "test.h"
#include "models/models.h"

#include <jansson.h>

static ft_status from_json(const char *text, ft_model **m) {
    *m = NULL;
    return ft_model_from_config(text, m);
}

static void fill_input(float *x, int64_t n, uint64_t seed) {
    ft_pcg32 r;
    ft_pcg32_seed(&r, seed, 3);
    for (int64_t i = 0; i < n; i++) x[i] = ft_pcg32_uniform(&r) * 2 - 1;
}

/* A small residual CNN in the format, and the same net built with ft_* by hand. */
static const char *cnn_cfg =
    "{\"arch\":\"graph\",\"input\":{\"shape\":[3,9,9]},"
    "\"params\":[{\"name\":\"c1.weight\",\"shape\":[8,3,3,3]},{\"name\":\"c1.bias\",\"shape\":[8]},"
    "{\"name\":\"bn.weight\",\"shape\":[8]},{\"name\":\"bn.bias\",\"shape\":[8]},"
    "{\"name\":\"bn.running_mean\",\"shape\":[8],\"buffer\":true},{\"name\":\"bn.running_var\",\"shape\":[8],\"buffer\":true},"
    "{\"name\":\"dw.weight\",\"shape\":[8,1,3,3]},{\"name\":\"fc.weight\",\"shape\":[4,8]},{\"name\":\"fc.bias\",\"shape\":[4]}],"
    "\"nodes\":["
    "{\"name\":\"c1\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"params\":[\"c1.weight\",\"c1.bias\"],\"attrs\":{\"stride\":2,\"pad\":[0,0,1,1]}},"
    "{\"name\":\"bn\",\"op\":\"batch_norm\",\"inputs\":[\"c1\"],\"params\":[\"bn.weight\",\"bn.bias\",\"bn.running_mean\",\"bn.running_var\"]},"
    "{\"name\":\"r\",\"op\":\"relu6\",\"inputs\":[\"bn\"]},"
    "{\"name\":\"dw\",\"op\":\"conv2d\",\"inputs\":[\"r\"],\"params\":[\"dw.weight\"],\"attrs\":{\"pad\":1,\"groups\":8}},"
    "{\"name\":\"res\",\"op\":\"add\",\"inputs\":[\"dw\",\"r\"]},"
    "{\"name\":\"mp\",\"op\":\"max_pool2d\",\"inputs\":[\"res\"],\"attrs\":{\"kernel\":2,\"ceil_mode\":true}},"
    "{\"name\":\"gap\",\"op\":\"global_avg_pool\",\"inputs\":[\"mp\"]},"
    "{\"name\":\"drop\",\"op\":\"dropout\",\"inputs\":[\"gap\"],\"attrs\":{\"p\":0.5}},"
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"drop\"],\"params\":[\"fc.weight\",\"fc.bias\"]}],"
    "\"head\":{\"node\":\"fc\",\"params\":[\"fc.weight\",\"fc.bias\"]},\"n_classes\":4,"
    "\"preprocess\":{\"labels\":[\"a\",\"b\",\"c\",\"d\"]}}";

static ft_node *cnn_by_hand(ft_graph *g, ft_node *x) {
    ft_conv2d_args a = ft_conv2d_defaults();
    a.stride[0] = a.stride[1] = 2;
    a.pad[2] = a.pad[3] = 1;
    ft_node *h = ft_conv2d(g, x, ft_param(g, "c1.weight"), ft_param(g, "c1.bias"), &a);
    h = ft_batch_norm(g, h, ft_param(g, "bn.weight"), ft_param(g, "bn.bias"), ft_param(g, "bn.running_mean"),
                      ft_param(g, "bn.running_var"), 1e-5f, 0.1f, false);
    ft_node *r = ft_relu6(g, h);
    ft_conv2d_args d = ft_conv2d_defaults();
    for (int i = 0; i < 4; i++) d.pad[i] = 1;
    d.groups = 8;
    h = ft_add(g, ft_conv2d(g, r, ft_param(g, "dw.weight"), NULL, &d), r);
    ft_pool2d_args p;
    memset(&p, 0, sizeof p);
    p.kernel[0] = p.kernel[1] = 2;
    p.ceil_mode = true;
    p.count_include_pad = true;
    h = ft_global_avg_pool(g, ft_max_pool2d(g, h, &p), false);
    h = ft_dropout(g, h, 0.5f);
    return ft_linear(g, h, ft_param(g, "fc.weight"), ft_param(g, "fc.bias"));
}

static void test_same_as_by_hand(void) {
    ft_model *m = NULL;
    CHECK_OK(from_json(cnn_cfg, &m));
    if (!m) return;
    CHECK(m->n_classes == 4 && m->in_ndim == 3 && m->in_shape[0] == 3 && m->in_shape[2] == 9);
    CHECK(m->head_patterns && !strcmp(m->head_patterns, "fc.weight,fc.bias"));
    ft_model_init(m, 11);
    int rv = ft_params_find(m->params, "bn.running_var"), rm = ft_params_find(m->params, "bn.running_mean");
    CHECK(rv >= 0 && m->params->p[rv].is_buffer && ft_params_value(m->params, rv)[0] == 1.0f);
    for (int i = 0; i < 8; i++) { ft_params_value(m->params, rm)[i] = 0.1f * i; ft_params_value(m->params, rv)[i] = 1 + 0.2f * i; }
    float x[2 * 243], a[8], b[8];
    fill_input(x, 2 * 243, 1);
    int64_t n = 0;
    CHECK_OK(t_model_forward(m, x, 2, a, &n));
    CHECK(n == 8);
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[4] = {2, 3, 9, 9};
    ft_node *in = ft_input(g, "x", FT_F32, 4, shape), *y = cnn_by_hand(g, in);
    ft_node_keep(y);
    CHECK_OK(ft_graph_plan(g, NULL, false));
    CHECK_OK(ft_graph_set_input(g, in, x, sizeof x));
    CHECK_OK(ft_graph_forward(g));
    if (y) memcpy(b, y->val, sizeof b);
    CHECK(y && memcmp(a, b, sizeof a) == 0);
    ft_graph_free(g);

    /* export + load: identical outputs, same config semantics */
    char tmp[] = "/tmp/ft_graph_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    CHECK_OK(ft_model_export(m, tmp));
    ft_model *m2 = NULL;
    CHECK_OK(ft_model_load(tmp, &m2));
    if (m2) {
        CHECK_OK(t_model_forward(m2, x, 2, b, NULL));
        CHECK(memcmp(a, b, sizeof a) == 0);
        CHECK(m2->head_patterns && !strcmp(m2->head_patterns, "fc.weight,fc.bias"));
        ft_model_free(m2);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);

    /* training through it: 30 SGD steps on one batch lower the loss; frozen BN stats move */
    ft_params_alloc_grads(m->params);
    g = ft_graph_new(m->params);
    in = ft_input(g, "x", FT_F32, 4, shape);
    ft_node *lg = m->arch->build(m, g, in, true);
    int64_t ys[1] = {2};
    ft_node *tg = ft_input(g, "y", FT_I32, 1, ys);
    ft_node *loss = ft_cross_entropy(g, lg, tg, -100, 0.0f);
    CHECK_OK(ft_graph_plan(g, loss, true));
    int32_t labels[2] = {1, 3};
    CHECK_OK(ft_graph_set_input(g, in, x, sizeof x));
    CHECK_OK(ft_graph_set_input(g, tg, labels, sizeof labels));
    float first = 0, last = 0, rm0 = ft_params_value(m->params, rm)[1];
    for (int step = 0; step < 30; step++) {
        ft_graph_set_rng(g, 1, (uint64_t)step);
        ft_params_zero_grad(m->params);
        CHECK_OK(ft_graph_forward(g));
        CHECK_OK(ft_graph_backward(g));
        if (step == 0) first = loss->val[0];
        last = loss->val[0];
        for (int i = 0; i < m->params->n; i++) {
            float *gr = ft_params_grad(m->params, i), *v = ft_params_value(m->params, i);
            for (int64_t k = 0; gr && k < m->params->p[i].numel; k++) v[k] -= 0.1f * gr[k];
        }
    }
    printf("graph cnn: loss %.4f -> %.4f\n", first, last);
    CHECKF(last < first * 0.5f, "loss %.4f -> %.4f", first, last);
    CHECK(ft_params_value(m->params, rm)[1] != rm0); /* batch statistics updated the running mean */
    ft_graph_free(g);
    ft_model_free(m);
}

/* Every op of the format, with values checked where the op is more than a builder call. */
static void test_all_ops(void) {
    const char *cfg =
        "{\"arch\":\"graph\",\"input\":{\"shape\":[2,4,6],\"name\":\"img\"},"
        "\"params\":[{\"name\":\"k\",\"shape\":[2,1,1]},{\"name\":\"ln.w\",\"shape\":[6]},{\"name\":\"ln.b\",\"shape\":[6]},"
        "{\"name\":\"mm\",\"shape\":[6,6]}],"
        "\"nodes\":["
        "{\"name\":\"p\",\"op\":\"pad\",\"inputs\":[\"img\"],\"attrs\":{\"pad\":[1,0,0,1],\"value\":0.5}},"
        "{\"name\":\"ap\",\"op\":\"avg_pool2d\",\"inputs\":[\"p\"],\"attrs\":{\"kernel\":[2,2],\"stride\":[1,1],\"pad\":[1,1,1,1],\"count_include_pad\":false}},"
        "{\"name\":\"s1\",\"op\":\"sub\",\"inputs\":[\"img\"],\"params\":[\"k\"]},"
        "{\"name\":\"m1\",\"op\":\"mul\",\"inputs\":[\"s1\",\"img\"]},"
        "{\"name\":\"d1\",\"op\":\"div\",\"inputs\":[\"m1\"],\"params\":[\"k\"]},"
        "{\"name\":\"sc\",\"op\":\"scale\",\"inputs\":[\"d1\"],\"attrs\":{\"a\":0.5,\"b\":0.25}},"
        "{\"name\":\"a1\",\"op\":\"hardswish\",\"inputs\":[\"sc\"]},{\"name\":\"a2\",\"op\":\"hardsigmoid\",\"inputs\":[\"a1\"]},"
        "{\"name\":\"a3\",\"op\":\"sigmoid\",\"inputs\":[\"a2\"]},{\"name\":\"a4\",\"op\":\"tanh\",\"inputs\":[\"a3\"]},"
        "{\"name\":\"a5\",\"op\":\"gelu\",\"inputs\":[\"a4\"],\"attrs\":{\"approximate\":\"tanh\"}},{\"name\":\"a6\",\"op\":\"silu\",\"inputs\":[\"a5\"]},"
        "{\"name\":\"a7\",\"op\":\"relu\",\"inputs\":[\"a6\"]},{\"name\":\"id\",\"op\":\"identity\",\"inputs\":[\"a7\"]},"
        "{\"name\":\"ln\",\"op\":\"layer_norm\",\"inputs\":[\"id\"],\"params\":[\"ln.w\",\"ln.b\"],\"attrs\":{\"eps\":1e-6}},"
        "{\"name\":\"mt\",\"op\":\"matmul\",\"inputs\":[\"ln\"],\"params\":[\"mm\"],\"attrs\":{\"trans_b\":true}},"
        "{\"name\":\"sm\",\"op\":\"softmax\",\"inputs\":[\"mt\"]},{\"name\":\"lsm\",\"op\":\"log_softmax\",\"inputs\":[\"sm\"],\"attrs\":{\"dim\":-1}},"
        "{\"name\":\"perm\",\"op\":\"permute\",\"inputs\":[\"img\"],\"attrs\":{\"dims\":[0,3,1,2]}},"
        "{\"name\":\"tr\",\"op\":\"transpose\",\"inputs\":[\"perm\"],\"attrs\":{\"dim0\":1,\"dim1\":3}},"
        "{\"name\":\"rs\",\"op\":\"reshape\",\"inputs\":[\"tr\"],\"attrs\":{\"shape\":[-1,2]}},"
        "{\"name\":\"mean\",\"op\":\"mean\",\"inputs\":[\"rs\"],\"attrs\":{\"dims\":[1]}},"
        "{\"name\":\"sum\",\"op\":\"sum\",\"inputs\":[\"lsm\"],\"attrs\":{\"dims\":[2,3],\"keepdim\":true}},"
        "{\"name\":\"fl\",\"op\":\"flatten\",\"inputs\":[\"sum\"]},"
        "{\"name\":\"fa\",\"op\":\"flatten\",\"inputs\":[\"ap\"]},"
        "{\"name\":\"mall\",\"op\":\"mean\",\"inputs\":[\"ap\"],\"attrs\":{\"keepdim\":false}},"
        "{\"name\":\"mall2\",\"op\":\"reshape\",\"inputs\":[\"mall\"],\"attrs\":{\"shape\":[1]}},"
        "{\"name\":\"cat\",\"op\":\"concat\",\"inputs\":[\"fl\",\"mean\",\"fa\",\"fl\",\"fl\",\"fl\",\"fl\",\"fl\",\"fl\",\"fl\",\"mall2\"],\"attrs\":{\"dim\":1}}],"
        "\"output\":\"cat\"}";
    ft_model *m = NULL;
    CHECK_OK(from_json(cfg, &m));
    if (!m) return;
    /* fl: [N,2], mean: [N,2], fa: [N, 2*6*8] (pad -> 5x7, avg 2x2/1 pad 1 -> 6x8), 7 more fl, mall2 [N,1] */
    CHECKF(m->n_classes == 2 + 2 + 96 + 14 + 1, "n_classes %d", m->n_classes);
    ft_model_init(m, 3);
    float *k = ft_params_value(m->params, ft_params_find(m->params, "k"));
    k[0] = 2;
    k[1] = -4;
    float x[2 * 48], y[2 * 115];
    fill_input(x, 2 * 48, 9);
    int64_t n;
    CHECK_OK(t_model_forward(m, x, 2, y, &n));
    CHECK(n == 2 * 115);
    /* permute [N,2,4,6] -> [N,6,2,4], transpose(1,3) -> [N,4,2,6], reshape [-1,2] -> [N,24,2], mean over 1 */
    for (int e = 0; e < 2; e++)
        for (int c = 0; c < 2; c++) {
            double s = 0; /* element [h, c', w] with c' the middle index... reshape groups pairs of the last dim w */
            for (int h = 0; h < 4; h++)
                for (int cc = 0; cc < 2; cc++)
                    for (int w = 0; w < 6; w++)
                        if (w % 2 == c) s += x[e * 48 + cc * 24 + h * 6 + w];
            float want = (float)(s / 24);
            CHECKF(fabsf(y[e * 115 + 2 + c] - want) < 1e-5f, "mean[%d][%d] %g vs %g", e, c, y[e * 115 + 2 + c], want);
        }
    /* log_softmax of a softmax summed over both dims -> finite; the copies of fl agree */
    for (int e = 0; e < 2; e++) {
        CHECK(y[e * 115 + 0] == y[e * 115 + 100] && y[e * 115 + 1] == y[e * 115 + 113]);
        CHECK(isfinite(y[e * 115 + 0]));
    }
    /* pad value 0.5 then avg 2x2 (no pad counted): the corner window sees only the pad value */
    CHECKF(fabsf(y[4] - 0.5f) < 1e-6f, "avg corner %g", y[4]);
    ft_model_free(m);

    /* embedding on int32 ids */
    const char *emb = "{\"arch\":\"graph\",\"input\":{\"shape\":[3],\"dtype\":\"int32\"},\"params\":[{\"name\":\"e\",\"shape\":[10,4]}],"
                      "\"nodes\":[{\"name\":\"em\",\"op\":\"embedding\",\"inputs\":[\"input\"],\"params\":[\"e\"]},"
                      "{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"em\"]}]}";
    CHECK_OK(from_json(emb, &m));
    if (m) {
        CHECK(m->in_dtype == FT_I32 && m->n_classes == 12);
        ft_model_init(m, 1);
        int32_t ids[3] = {7, 0, 7};
        float out[12];
        CHECK_OK(t_model_forward(m, (const float *)(const void *)ids, 1, out, NULL));
        const float *e = ft_params_value(m->params, 0);
        CHECK(!memcmp(out, e + 28, 16) && !memcmp(out + 4, e, 16) && !memcmp(out + 8, e + 28, 16));
        ft_model_free(m);
    }
}

/* The ONNX math ops: each config runs on x [2 examples, 2, 3] in (-1, 1) and its output
 * is compared with the value computed here. */
static int run_math(const char *params, const char *nodes, const float *x, float *y) {
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "{\"arch\":\"graph\",\"input\":{\"shape\":[2,3]},\"params\":[%s],\"nodes\":[%s,"
             "{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"o\"]}]}", params, nodes);
    ft_model *m = NULL;
    ft_status s = from_json(cfg, &m);
    CHECKF(s == FT_OK, "%s: %s", nodes, ft_errmsg());
    if (s) return 0;
    float *sl = ft_params_find(m->params, "slope") >= 0 ? ft_params_value(m->params, ft_params_find(m->params, "slope")) : NULL;
    if (sl) { sl[0] = 0.5f; sl[1] = -2.0f; }
    int64_t n = 0;
    CHECK_OK(t_model_forward(m, x, 2, y, &n));
    ft_model_free(m);
    return (int)n;
}

static void test_math_ops(void) {
    float x[12], y[12], want[12];
    fill_input(x, 12, 5);
    x[3] = 0; /* abs, leaky_relu, prelu, comparisons at 0 */
    static const struct { const char *nodes; int kind; } cases[] = {
        {"{\"name\":\"o\",\"op\":\"exp\",\"inputs\":[\"input\"]}", 0},
        {"{\"name\":\"e\",\"op\":\"exp\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"log\",\"inputs\":[\"e\"]}", 1},
        {"{\"name\":\"e\",\"op\":\"exp\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"sqrt\",\"inputs\":[\"e\"]}", 2},
        {"{\"name\":\"o\",\"op\":\"abs\",\"inputs\":[\"input\"]}", 3},
        {"{\"name\":\"o\",\"op\":\"neg\",\"inputs\":[\"input\"]}", 4},
        {"{\"name\":\"o\",\"op\":\"erf\",\"inputs\":[\"input\"]}", 5},
        {"{\"name\":\"e\",\"op\":\"exp\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"reciprocal\",\"inputs\":[\"e\"]}", 6},
        {"{\"name\":\"o\",\"op\":\"pow\",\"inputs\":[\"input\"],\"attrs\":{\"exponent\":2}}", 7},
        {"{\"name\":\"e\",\"op\":\"exp\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"pow\",\"inputs\":[\"e\",\"input\"]}", 8},
        {"{\"name\":\"o\",\"op\":\"leaky_relu\",\"inputs\":[\"input\"],\"attrs\":{\"alpha\":0.1}}", 9},
        {"{\"name\":\"o\",\"op\":\"leaky_relu\",\"inputs\":[\"input\"]}", 10},
        {"{\"name\":\"o\",\"op\":\"prelu\",\"inputs\":[\"input\"],\"params\":[\"slope\"]}", 11},
        {"{\"name\":\"o\",\"op\":\"clip\",\"inputs\":[\"input\"],\"attrs\":{\"min\":-0.5,\"max\":0.25}}", 12},
        {"{\"name\":\"o\",\"op\":\"clip\",\"inputs\":[\"input\"],\"attrs\":{\"max\":0.25}}", 13},
        {"{\"name\":\"n\",\"op\":\"neg\",\"inputs\":[\"input\"]},{\"name\":\"h\",\"op\":\"scale\",\"inputs\":[\"input\"],\"attrs\":{\"a\":0.5}},"
         "{\"name\":\"o\",\"op\":\"max\",\"inputs\":[\"input\",\"n\",\"h\"]}", 3},
        {"{\"name\":\"n\",\"op\":\"neg\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"min\",\"inputs\":[\"input\",\"n\"]}", 14},
        {"{\"name\":\"n\",\"op\":\"neg\",\"inputs\":[\"input\"]},{\"name\":\"c\",\"op\":\"greater_or_equal\",\"inputs\":[\"input\",\"n\"]},"
         "{\"name\":\"o\",\"op\":\"where\",\"inputs\":[\"c\",\"input\",\"n\"]}", 3},
        {"{\"name\":\"o\",\"op\":\"equal\",\"inputs\":[\"input\",\"input\"]}", 15},
        {"{\"name\":\"n\",\"op\":\"neg\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"greater\",\"inputs\":[\"input\",\"n\"]}", 16},
        {"{\"name\":\"n\",\"op\":\"neg\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"less\",\"inputs\":[\"input\",\"n\"]}", 17},
        {"{\"name\":\"n\",\"op\":\"neg\",\"inputs\":[\"input\"]},{\"name\":\"o\",\"op\":\"less_or_equal\",\"inputs\":[\"input\",\"n\"]}", 18},
        {"{\"name\":\"o\",\"op\":\"softmax\",\"inputs\":[\"input\"],\"attrs\":{\"dim\":1}}", 19},
        {"{\"name\":\"o\",\"op\":\"log_softmax\",\"inputs\":[\"input\"],\"attrs\":{\"dim\":-2}}", 20},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int k = cases[c].kind;
        int n = run_math(k == 11 ? "{\"name\":\"slope\",\"shape\":[2,1]}" : "", cases[c].nodes, x, y);
        CHECKF(n == 12, "%s: %d outputs", cases[c].nodes, n);
        if (n != 12) continue;
        for (int i = 0; i < 12; i++) {
            double v = x[i], col = 0;
            for (int r = 0; r < 2; r++) col += exp(x[(i / 6) * 6 + r * 3 + i % 3]);
            double w[] = {exp(v), v, exp(v / 2), fabs(v), -v, erf(v), exp(-v), v * v, exp(v * v), v > 0 ? v : 0.1 * v,
                          v > 0 ? v : 0.01 * v, v > 0 ? v : ((i % 6) < 3 ? 0.5 : -2.0) * v, v < -0.5 ? -0.5 : v > 0.25 ? 0.25 : v,
                          v > 0.25 ? 0.25 : v, -fabs(v), 1, v > -v, v < -v, v <= -v, exp(v) / col, v - log(col)};
            want[i] = (float)w[k];
        }
        CHECKF(t_close(y, want, 12, 2e-6, 2e-6, cases[c].nodes), "math op %s", cases[c].nodes);
    }
    /* reduce_max (default: all but the batch, keepdim) and reduce_min over the last dim */
    int n = run_math("", "{\"name\":\"o\",\"op\":\"reduce_max\",\"inputs\":[\"input\"],\"attrs\":{\"keepdim\":true}}", x, y);
    CHECK(n == 2);
    for (int e = 0; e < 2 && n == 2; e++) {
        float m = x[e * 6];
        for (int i = 1; i < 6; i++) m = fmaxf(m, x[e * 6 + i]);
        CHECKF(y[e] == m, "reduce_max[%d] %g vs %g", e, y[e], m);
    }
    n = run_math("", "{\"name\":\"o\",\"op\":\"reduce_min\",\"inputs\":[\"input\"],\"attrs\":{\"dims\":[-1]}}", x, y);
    CHECK(n == 4);
    for (int r = 0; r < 4 && n == 4; r++)
        CHECKF(y[r] == fminf(fminf(x[r * 3], x[r * 3 + 1]), x[r * 3 + 2]), "reduce_min[%d]", r);
}

static void expect_fail(const char *cfg, ft_status want, const char *const *needles) {
    ft_model *m = NULL;
    ft_status s = ft_model_from_config(cfg, &m);
    CHECKF(s == want && m == NULL, "got %s (%s), want %s for %s", ft_status_name(s), ft_errmsg(), ft_status_name(want), cfg);
    for (int i = 0; needles[i]; i++) CHECKF(strstr(ft_errmsg(), needles[i]) != NULL, "message '%s' lacks '%s'", ft_errmsg(), needles[i]);
    ft_model_free(m);
}

#define HDR "{\"arch\":\"graph\",\"input\":{\"shape\":[3,8,8]},"
#define FAIL(cfg, st, ...) do { const char *nd_[] = {__VA_ARGS__, NULL}; expect_fail(cfg, st, nd_); } while (0)

static void test_errors(void) {
    FAIL(HDR "\"nodes\":[{\"name\":\"x1\",\"op\":\"frobnicate\",\"inputs\":[\"input\"]}]}", FT_EUNSUPPORTED, "x1", "frobnicate", "conv2d");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"relu\",\"inputs\":[\"nope\"]}]}", FT_ENOTFOUND, "'a'", "relu", "nope");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"relu\",\"inputs\":[\"b\"]},{\"name\":\"b\",\"op\":\"relu\",\"inputs\":[\"input\"]}]}",
         FT_ENOTFOUND, "'a'", "earlier node");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"add\",\"inputs\":[\"input\"]}]}", FT_EINVAL, "'a'", "add", "2 operands");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"relu\",\"inputs\":[]}]}", FT_EINVAL, "'a'", "at least one operand");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"max_pool2d\",\"inputs\":[\"input\"],\"attrs\":{\"kernel\":2,\"strides\":2}}]}",
         FT_EINVAL, "'a'", "unknown attribute 'strides'", "stride");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"max_pool2d\",\"inputs\":[\"input\"]}]}", FT_EINVAL, "'a'", "kernel");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"max_pool2d\",\"inputs\":[\"input\"],\"attrs\":{\"kernel\":[2,2,2]}}]}", FT_EINVAL, "'a'", "kernel");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"dropout\",\"inputs\":[\"input\"],\"attrs\":{\"p\":1.5}}]}", FT_EINVAL, "'a'", "'p'");
    FAIL(HDR "\"nodes\":[{\"name\":\"a\",\"op\":\"relu\",\"inputs\":[\"input\"]},{\"name\":\"a\",\"op\":\"relu\",\"inputs\":[\"input\"]}]}",
         FT_EINVAL, "'a'", "twice");
    FAIL(HDR "\"nodes\":[{\"name\":\"input\",\"op\":\"relu\",\"inputs\":[\"input\"]}]}", FT_EINVAL, "twice");
    FAIL(HDR "\"params\":[{\"name\":\"w\",\"shape\":[2,2]}],\"nodes\":[{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"input\"]}]}",
         FT_EINVAL, "'w'", "no node uses it");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"linear\",\"inputs\":[\"input\"],\"params\":[\"w\"]}]}", FT_ENOTFOUND, "'f'", "'w'", "not declared");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"relu\",\"inputs\":[\"input\"]}],\"n_classes\":3}", FT_ESHAPE, "'f'", "[1,3,8,8]", "flatten");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"relu\",\"inputs\":[\"input\"]}],\"outputs\":[]}", FT_EINVAL, "outputs");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"relu\",\"inputs\":[\"input\"]}],\"outputs\":[\"f\",\"g\"]}", FT_ENOTFOUND, "outputs", "'g'");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"reshape\",\"inputs\":[\"input\"],\"attrs\":{\"shape\":[],\"full\":true}}]}", FT_EINVAL, "'f'", "shape");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"input\"]}],\"n_classes\":10}", FT_EINVAL, "n_classes", "192");
    FAIL(HDR "\"params\":[{\"name\":\"w\",\"shape\":[4,5,3,3]}],\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"params\":[\"w\"]},"
             "{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"c\"]}]}", FT_ESHAPE, "node 'c' (conv2d)");
    FAIL(HDR "\"params\":[{\"name\":\"w\",\"shape\":[4,192]}],\"nodes\":[{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"input\"]},"
             "{\"name\":\"l\",\"op\":\"linear\",\"inputs\":[\"f\"],\"params\":[\"w\"]}],\"head\":{\"node\":\"f\",\"params\":[\"w\"]}}",
         FT_EINVAL, "head.params", "'w'", "'f'");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"input\"]}],\"output\":\"g\"}", FT_ENOTFOUND, "output", "'g'");
    FAIL(HDR "\"nodes\":[{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"input\"],\"colour\":1}]}", FT_EINVAL, "'f'", "colour");
    FAIL("{\"arch\":\"graph\",\"nodes\":[]}", FT_EINVAL, "input");
    FAIL(HDR "\"nodes\":[]}", FT_EINVAL, "nodes");
    FAIL("{\"arch\":\"graph\",\"input\":{\"shape\":[3,-1]},\"nodes\":[]}", FT_EINVAL, "input.shape[1]");
    FAIL(HDR "\"nodes\":[{\"name\":\"s\",\"op\":\"softmax\",\"inputs\":[\"input\"],\"attrs\":{\"dim\":5}},{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"s\"]}]}",
         FT_ESHAPE, "'s'", "dim 5");
    FAIL(HDR "\"nodes\":[{\"name\":\"p\",\"op\":\"pow\",\"inputs\":[\"input\"]}]}", FT_EINVAL, "'p'", "exponent");
    FAIL(HDR "\"nodes\":[{\"name\":\"p\",\"op\":\"pow\",\"inputs\":[\"input\",\"input\"],\"attrs\":{\"exponent\":2}}]}", FT_EINVAL, "'p'", "exponent");
    FAIL(HDR "\"params\":[{\"name\":\"s\",\"shape\":[2,1,1,1]}],\"nodes\":[{\"name\":\"p\",\"op\":\"prelu\",\"inputs\":[\"input\"],\"params\":[\"s\"]}]}",
         FT_ESHAPE, "'p'", "slope");
    FAIL(HDR "\"nodes\":[{\"name\":\"c\",\"op\":\"clip\",\"inputs\":[\"input\"],\"attrs\":{\"min\":\"a\"}}]}", FT_EINVAL, "'c'", "'min'");
    FAIL(HDR "\"nodes\":[{\"name\":\"r\",\"op\":\"reduce_max\",\"inputs\":[\"input\"],\"attrs\":{\"dims\":[1,1]}}]}", FT_ESHAPE, "'r'", "twice");
    FAIL(HDR "\"nodes\":[{\"name\":\"w\",\"op\":\"where\",\"inputs\":[\"input\",\"input\"]}]}", FT_EINVAL, "'w'", "3 operands");
    FAIL(HDR "\"nodes\":[{\"name\":\"p\",\"op\":\"permute\",\"inputs\":[\"input\"],\"attrs\":{\"dims\":[0,1,1,2]}}]}", FT_EINVAL, "'p'", "permutation");
    FAIL(HDR "\"params\":[{\"name\":\"g\",\"shape\":[3]}],\"nodes\":[{\"name\":\"b\",\"op\":\"batch_norm\",\"inputs\":[\"input\"],\"params\":[\"g\"]}]}",
         FT_EINVAL, "'b'", "running_mean");
}

static void test_heads(void) {
    ft_model *m = NULL, *h = NULL;
    CHECK_OK(from_json(cnn_cfg, &m));
    if (!m) return;
    ft_model_init(m, 5);
    CHECK_OK(ft_model_replace_head(m, 7, 2, &h));
    if (h) {
        int w = ft_params_find(h->params, "fc.weight");
        CHECK(h->n_classes == 7 && w >= 0 && h->params->p[w].shape[0] == 7 && h->params->p[w].shape[1] == 8);
        CHECK(!strstr(h->config_json, "\"labels\""));
        int c = ft_params_find(h->params, "c1.weight");
        CHECK(!memcmp(ft_params_value(h->params, c), ft_params_value(m->params, ft_params_find(m->params, "c1.weight")), 8 * 27 * 4));
        ft_model_free(h);
    }
    ft_model_free(m);

    /* a 1x1 conv head followed by flatten */
    const char *conv_head = HDR "\"params\":[{\"name\":\"cls.weight\",\"shape\":[10,3,1,1]},{\"name\":\"cls.bias\",\"shape\":[10]}],"
                                "\"nodes\":[{\"name\":\"g\",\"op\":\"global_avg_pool\",\"inputs\":[\"input\"],\"attrs\":{\"keepdim\":true}},"
                                "{\"name\":\"cls\",\"op\":\"conv2d\",\"inputs\":[\"g\"],\"params\":[\"cls.weight\",\"cls.bias\"]},"
                                "{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"cls\"]}],"
                                "\"head\":{\"node\":\"cls\",\"params\":[\"cls.weight\",\"cls.bias\"]}}";
    CHECK_OK(from_json(conv_head, &m));
    if (m) {
        CHECK(m->n_classes == 10);
        CHECK_OK(ft_model_replace_head(m, 3, 1, &h));
        if (h) {
            int w = ft_params_find(h->params, "cls.weight");
            CHECK(h->n_classes == 3 && h->params->p[w].shape[0] == 3 && h->params->p[w].shape[1] == 3 && h->params->p[w].ndim == 4);
            ft_model_free(h);
        }
        ft_model_free(m);
    }
    /* no head: a linear head "head" is appended on the output */
    const char *body = HDR "\"nodes\":[{\"name\":\"head\",\"op\":\"global_avg_pool\",\"inputs\":[\"input\"]}]}";
    CHECK_OK(from_json(body, &m));
    if (m) {
        CHECK(m->n_classes == 3 && m->head_patterns == NULL);
        CHECK_OK(ft_model_replace_head(m, 5, 1, &h));
        if (h) {
            int w = ft_params_find(h->params, "head_1.weight");
            CHECK(h->n_classes == 5 && w >= 0 && h->params->p[w].shape[0] == 5 && h->params->p[w].shape[1] == 3);
            CHECK(h->head_patterns && !strcmp(h->head_patterns, "head_1.weight,head_1.bias"));
            float x[192], y[5];
            fill_input(x, 192, 2);
            CHECK_OK(t_model_forward(h, x, 1, y, NULL));
            ft_model *h2 = NULL; /* replacing again rewrites the appended head */
            CHECK_OK(ft_model_replace_head(h, 2, 1, &h2));
            CHECK(h2 && h2->n_classes == 2 && ft_params_find(h2->params, "head_1.weight") >= 0 && h2->params->n == 2);
            ft_model_free(h2);
            ft_model_free(h);
        }
        ft_model_free(m);
    }
}

/* preprocess -> ft_model_image_opts (the image pipeline's size, resize, mean, std) */
static void test_preprocess(void) {
    ft_model *m = NULL;
    const char *cfg = "{\"arch\":\"graph\",\"input\":{\"shape\":[3,4,4]},\"nodes\":[{\"name\":\"g\",\"op\":\"global_avg_pool\",\"inputs\":[\"input\"]}],"
                      "\"preprocess\":{\"mean\":[0.5,0.25,0.125],\"std\":[2,3,4],\"size\":[200,200],\"resize\":232}}";
    CHECK_OK(from_json(cfg, &m));
    if (m) {
        ft_image_opts o = ft_model_image_opts(m);
        CHECK(o.size == 200 && o.resize == 232 && o.mean[2] == 0.125f && o.std[1] == 3.0f);
        ft_model_free(m);
    }
    /* out-of-range advice is ignored: the defaults stay */
    cfg = "{\"arch\":\"graph\",\"input\":{\"shape\":[3,4,4]},\"nodes\":[{\"name\":\"g\",\"op\":\"global_avg_pool\",\"inputs\":[\"input\"]}],"
          "\"preprocess\":{\"mean\":[0.5,0.25],\"std\":[0,1,1],\"size\":-3,\"resize\":\"big\"}}";
    CHECK_OK(from_json(cfg, &m));
    if (m) {
        ft_image_opts o = ft_model_image_opts(m), d = ft_image_opts_default();
        CHECK(m->image_size == 0 && m->image_resize == 0 && m->image_std[0] == 0 && o.mean[0] == d.mean[0]);
        ft_model_free(m);
    }
}

static void test_oom(void) {
    int fails = 0, oks = 0;
    for (int n = 0; n < 400; n++) {
        ft_model *m = NULL;
        ft_alloc_fail_after(n);
        ft_status s = ft_model_from_config(cnn_cfg, &m);
        ft_alloc_fail_after(-1);
        if (s == FT_OK) { oks++; ft_model_free(m); break; }
        CHECKF(s == FT_ENOMEM && m == NULL, "n=%d: %s %s", n, ft_status_name(s), ft_errmsg());
        fails++;
    }
    CHECKF(oks == 1, "never succeeded after %d injected failures", fails);
}

/* Import-oriented forms: a feature extractor's output of any shape (a new head flattens it),
 * several outputs, a reshape over the batch ("full") and a param-only identity node. */
static void test_import_forms(void) {
    ft_model *m = NULL, *h = NULL;
    const char *cfg = "{\"arch\":\"graph\",\"input\":{\"shape\":[2,3]},"
        "\"params\":[{\"name\":\"c\",\"shape\":[2,3],\"buffer\":true}],"
        "\"nodes\":[{\"name\":\"k\",\"op\":\"identity\",\"params\":[\"c\"]},"
        "{\"name\":\"d\",\"op\":\"sub\",\"inputs\":[\"k\",\"input\"]},"
        "{\"name\":\"r\",\"op\":\"reshape\",\"inputs\":[\"d\"],\"attrs\":{\"shape\":[3,2],\"full\":true}},"
        "{\"name\":\"t\",\"op\":\"relu\",\"inputs\":[\"d\"]}],"
        "\"outputs\":[\"t\",\"r\"]}";
    CHECK_OK(from_json(cfg, &m));
    if (!m) return;
    CHECK(m->n_classes == 6); /* [N,2,3]: 6 values per example */
    float *c = ft_params_value(m->params, 0);
    for (int i = 0; i < 6; i++) c[i] = (float)i;
    float x[6] = {1, 1, 1, 1, 1, 1};
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[3] = {1, 2, 3};
    ft_node *in = ft_input(g, "x", FT_F32, 3, shape), *o[4];
    CHECK(ft_graph_model_outputs(m, g, in, o, 4) == 2);
    ft_node_keep(o[0]);
    ft_node_keep(o[1]);
    CHECK_OK(ft_graph_plan(g, NULL, false));
    CHECK_OK(ft_graph_set_input(g, in, x, sizeof x));
    CHECK_OK(ft_graph_forward(g));
    CHECK(o[0]->ndim == 3 && o[1]->ndim == 2 && o[1]->shape[0] == 3 && o[1]->shape[1] == 2);
    CHECK(o[0]->val[0] == 0 && o[0]->val[5] == 4 && o[1]->val[0] == -1 && o[1]->val[5] == 4);
    ft_graph_free(g);
    CHECK_OK(ft_model_replace_head(m, 3, 1, &h));
    if (h) {
        CHECK(h->n_classes == 3);
        CHECK(strstr(h->config_json, "head.flatten") != NULL);
        int w = ft_params_find(h->params, "head.weight");
        CHECK(w >= 0 && h->params->p[w].shape[1] == 6);
    }
    ft_model_free(h);
    ft_model_free(m);
}

int main(void) {
    test_import_forms();
    test_same_as_by_hand();
    test_all_ops();
    test_math_ops();
    test_errors();
    test_heads();
    test_preprocess();
    test_oom();
    TEST_END();
}
