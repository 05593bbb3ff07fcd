/* Windows through a shared network (ft_model_time_windows): the windowed model computes
 * exactly the base model on each window (concatenated, mean, max), keeps parameter names,
 * trains with the feature cache giving the same result as without it (the frontier passes
 * the reshapes that stack windows into the batch), and refuses what it cannot window.
 * The shared form (ft_model_time_windows_shared) computes the same values and refuses
 * networks that are not convolutional in time up to the node named.
 * Also the graph-aware init: ONNX-style parameter names get their role's init (batch-norm
 * scale 1, running var 1), He init, and re-initialising a loaded model keeps its constants. */
#include "test.h"
#include <math.h>
#include <unistd.h>

/* [5 frames, 3] -> conv over time (kernel 2, as an NCHW [N,1,5,3] map) -> flatten -> linear 4 -> tanh */
static const char *cfg =
    "{\"arch\":\"graph\",\"input\":{\"shape\":[5,3]},\"preprocess\":{\"labels\":[\"a\",\"b\",\"c\",\"d\"]},"
    "\"params\":[{\"name\":\"conv/w:0\",\"shape\":[2,1,2,3]},{\"name\":\"conv/b:0\",\"shape\":[2]},"
    "{\"name\":\"fc.weight\",\"shape\":[4,8]},{\"name\":\"fc.bias\",\"shape\":[4]}],"
    "\"nodes\":[{\"name\":\"map\",\"op\":\"reshape\",\"inputs\":[\"input\"],\"attrs\":{\"shape\":[1,5,3]}},"
    "{\"name\":\"conv\",\"op\":\"conv2d\",\"inputs\":[\"map\"],\"params\":[\"conv/w:0\",\"conv/b:0\"]},"
    "{\"name\":\"flat\",\"op\":\"flatten\",\"inputs\":[\"conv\"]},"
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"flat\"],\"params\":[\"fc.weight\",\"fc.bias\"]},"
    "{\"name\":\"act\",\"op\":\"tanh\",\"inputs\":[\"fc\"]}],"
    "\"n_classes\":4}";

enum { W = 5, D = 3, E = 4, K = 3, HOP = 2, T = W + HOP * (K - 1), NB = 2 };

static void test_values(ft_model *base) {
    float x[NB * T * D], win[NB * W * D], yb[K][NB * E];
    for (int i = 0; i < NB * T * D; i++) x[i] = (float)((i * 29) % 17) / 8.0f - 1.0f;
    for (int k = 0; k < K; k++) {
        for (int n = 0; n < NB; n++) memcpy(win + n * W * D, x + n * T * D + k * HOP * D, sizeof(float) * W * D);
        CHECK_OK(t_model_forward(base, win, NB, yb[k], NULL));
    }
    const char *names[] = {"concat", "mean", "max"};
    for (int p = 0; p < 3; p++) {
        ft_windows_pool pool;
        CHECK_OK(ft_windows_pool_parse(names[p], &pool));
        ft_model *w = NULL;
        CHECK_OK(ft_model_time_windows(base, K, HOP, pool, &w));
        if (!w) continue;
        int width = p == 0 ? K * E : E;
        CHECKF(w->in_ndim == 2 && w->in_shape[0] == T && w->in_shape[1] == D && w->n_classes == width, "%s: [%lld,%lld] -> %d",
               names[p], (long long)w->in_shape[0], (long long)w->in_shape[1], w->n_classes);
        CHECK(ft_params_find(w->params, "conv/w:0") >= 0 && w->params->n == base->params->n);
        CHECK(!w->head_patterns || !w->head_patterns[0]); /* a feature extractor now */
        CHECK(!strstr(w->config_json, "\"labels\"") && strstr(w->config_json, "\"windows\""));
        float y[NB * K * E], want[NB * K * E];
        int64_t numel = 0;
        CHECK_OK(t_model_forward(w, x, NB, y, &numel));
        CHECK(numel == NB * width);
        for (int n = 0; n < NB; n++)
            for (int e = 0; e < E; e++) {
                float s = 0, mx = -INFINITY;
                for (int k = 0; k < K; k++) {
                    float v = yb[k][n * E + e];
                    if (p == 0) want[n * K * E + k * E + e] = v;
                    s += v;
                    if (v > mx) mx = v;
                }
                if (p == 1) want[n * E + e] = s / K;
                if (p == 2) want[n * E + e] = mx;
            }
        CHECKF(t_close(y, want, NB * width, 1e-6, 1e-6, names[p]), "%s vs the base model per window", names[p]);
        ft_model_free(w);
    }
    ft_model *w1 = NULL; /* one window of the same length: the base model, reshaped */
    CHECK_OK(ft_model_time_windows(base, 1, 1, FT_WINDOWS_CONCAT, &w1));
    if (w1) {
        float y[NB * E];
        CHECK(w1->in_shape[0] == W);
        float x0[NB * W * D];
        for (int n = 0; n < NB; n++) memcpy(x0 + n * W * D, x + n * T * D, sizeof(float) * W * D);
        CHECK_OK(t_model_forward(w1, x0, NB, y, NULL));
        CHECK_OK(t_model_forward(base, x0, NB, yb[0], NULL));
        CHECK(t_close(y, yb[0], NB * E, 1e-6, 1e-6, "one window"));
        ft_model_free(w1);
    }
}

/* Shared work: a conv over all W frames with stride HOP in time is convolutional, so the
 * windows can share its computation; a conv with a shorter kernel leaves several steps per
 * window, and a hop the stride does not divide misaligns: both are refused. */
static const char *cfg_conv =
    "{\"arch\":\"graph\",\"input\":{\"shape\":[5,3]},"
    "\"params\":[{\"name\":\"conv.weight\",\"shape\":[6,1,5,3]},{\"name\":\"conv.bias\",\"shape\":[6]},"
    "{\"name\":\"fc.weight\",\"shape\":[4,6]},{\"name\":\"fc.bias\",\"shape\":[4]}],"
    "\"nodes\":[{\"name\":\"map\",\"op\":\"reshape\",\"inputs\":[\"input\"],\"attrs\":{\"shape\":[1,5,3]}},"
    "{\"name\":\"conv\",\"op\":\"conv2d\",\"inputs\":[\"map\"],\"params\":[\"conv.weight\",\"conv.bias\"],"
    "\"attrs\":{\"stride\":[2,1]}},"
    "{\"name\":\"act\",\"op\":\"tanh\",\"inputs\":[\"conv\"]},"
    "{\"name\":\"flat\",\"op\":\"flatten\",\"inputs\":[\"act\"]},"
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"flat\"],\"params\":[\"fc.weight\",\"fc.bias\"]}]}";

static void test_shared(ft_model *base) {
    ft_model *c = NULL;
    CHECK_OK(ft_model_from_config(cfg_conv, &c));
    if (!c) return;
    ft_model_init(c, 4);
    for (int p = 0; p < 3; p++) {
        ft_model *a = NULL, *b = NULL;
        CHECK_OK(ft_model_time_windows(c, K, HOP, (ft_windows_pool)p, &a));
        CHECK_OK(ft_model_time_windows_shared(c, K, HOP, (ft_windows_pool)p, "act", &b));
        if (a && b) {
            CHECK(b->in_shape[0] == T && b->n_classes == a->n_classes && strstr(b->config_json, "shared_up_to"));
            float x[NB * T * D], ya[NB * K * E], yb[NB * K * E];
            for (int i = 0; i < NB * T * D; i++) x[i] = (float)((i * 13) % 19) / 9.0f - 1.0f;
            CHECK_OK(t_model_forward(a, x, NB, ya, NULL));
            CHECK_OK(t_model_forward(b, x, NB, yb, NULL));
            CHECKF(t_close(yb, ya, NB * a->n_classes, 1e-5, 1e-6, "shared vs stacked"), "pool %d", p);
        }
        ft_model_free(a);
        ft_model_free(b);
    }
    ft_model *w = NULL;
    CHECK_ERR(ft_model_time_windows_shared(c, K, 3, FT_WINDOWS_CONCAT, "act", &w), FT_EINVAL); /* stride 2, hop 3 */
    CHECKF(strstr(ft_errmsg(), "act"), "%s", ft_errmsg());
    CHECK_ERR(ft_model_time_windows_shared(c, K, HOP, FT_WINDOWS_CONCAT, "nowhere", &w), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "nowhere"));
    CHECK_ERR(ft_model_time_windows_shared(base, K, HOP, FT_WINDOWS_CONCAT, "conv", &w), FT_EINVAL); /* 4 steps per window */
    CHECKF(strstr(ft_errmsg(), "time axis"), "%s", ft_errmsg());
    CHECK(w == NULL);
    ft_model_free(c);
}

/* The runner: a frozen windowed network with a new head trains the same with and without
 * the feature cache, and the cache reads each example once. */
typedef struct { long calls; } count_impl;
static ft_status blob_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *xv, int32_t *y) {
    (void)ctx;
    float *x = xv;
    ft_pcg32 r;
    ft_pcg32_seed(&r, 77, (uint64_t)i);
    *y = (int32_t)(i % 3);
    for (int k = 0; k < T * D; k++) x[k] = (2 * ft_pcg32_uniform(&r) - 1) + ((k / D) % 3 == *y ? 1.0f : 0.0f);
    __atomic_fetch_add(&((count_impl *)ds->impl)->calls, 1, __ATOMIC_RELAXED);
    return FT_OK;
}

static void train_once(ft_model *base, bool no_cache, float *weights, ft_run_result *res, long *calls) {
    ft_model *w = NULL, *h = NULL;
    CHECK_OK(ft_model_time_windows(base, K, HOP, FT_WINDOWS_CONCAT, &w));
    if (!w) return;
    CHECK_OK(ft_model_replace_head(w, 3, 5, &h));
    ft_model_free(w);
    if (!h) return;
    CHECK_OK(ft_model_select_trainable(h, "head", NULL));
    count_impl ci = {0};
    ft_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = 40; ds.x_dtype = FT_F32; ds.x_ndim = 2; ds.x_shape[0] = T; ds.x_shape[1] = D; ds.x_numel = T * D;
    ds.n_classes = 3; ds.get = blob_get; ds.impl = &ci;
    snprintf(ds.name, sizeof ds.name, "blobs");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", t_tmpdir, no_cache ? "plain" : "cached");
    ft_run_config c = ft_run_defaults();
    c.out_dir = dir;
    c.epochs = 4;
    c.batch_size = 7; /* 40 = 5 x 7 + 5: two batch shapes */
    c.optim = ft_optim_defaults(FT_OPT_ADAM);
    c.optim.lr = 1e-2f;
    c.seed = 3;
    c.workers = 0;
    c.progress = -1;
    c.no_feature_cache = no_cache;
    CHECK_OK(ft_train(h, &ds, NULL, &c, res));
    memcpy(weights, h->params->data, h->params->total * sizeof(float));
    *calls = ci.calls;
    ft_model_free(h);
}

static void test_cache(ft_model *base) {
    size_t nw = base->params->total + 3 * K * E + 3 + 64;
    float *a = calloc(nw, sizeof(float)), *b = calloc(nw, sizeof(float));
    ft_run_result ra, rb;
    long ca = 0, cb = 0;
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    train_once(base, false, a, &ra, &ca);
    train_once(base, true, b, &rb, &cb);
    CHECKF(ra.feature_cache && !rb.feature_cache, "feature cache %d / %d", ra.feature_cache, rb.feature_cache);
    CHECKF(ca == 40 && cb == 4 * 40, "%ld reads with the cache, %ld without", ca, cb);
    CHECK(t_close(a, b, (long)(base->params->total + 3 * K * E + 3), 1e-4, 1e-6, "cache vs none"));
    CHECK(fabs(ra.final_train_loss - rb.final_train_loss) < 1e-4 * (1 + fabs(rb.final_train_loss)));
    free(a);
    free(b);
}

static void test_errors(ft_model *base) {
    ft_model *w = NULL;
    CHECK_ERR(ft_model_time_windows(base, 0, 1, FT_WINDOWS_CONCAT, &w), FT_EINVAL);
    CHECK_ERR(ft_model_time_windows(base, 2, 0, FT_WINDOWS_CONCAT, &w), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "hop"));
    ft_windows_pool p;
    CHECK_ERR(ft_windows_pool_parse("sum", &p), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "sum"));
    ft_model *mlp = NULL;
    CHECK_OK(ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":4,\"hidden\":[],\"n_classes\":6}", &mlp));
    if (mlp) {
        CHECK_ERR(ft_model_time_windows(mlp, 2, 1, FT_WINDOWS_MEAN, &w), FT_EUNSUPPORTED);
        CHECK(strstr(ft_errmsg(), "mlp"));
        ft_model_free(mlp);
    }
    ft_model *fixed = NULL;
    CHECK_OK(ft_model_from_config("{\"arch\":\"graph\",\"input\":{\"shape\":[4],\"batch\":2},\"nodes\":["
                                  "{\"name\":\"r\",\"op\":\"reshape\",\"inputs\":[\"input\"],\"attrs\":{\"shape\":[8],\"full\":true}}]}",
                                  &fixed));
    if (fixed) {
        CHECK_ERR(ft_model_time_windows(fixed, 2, 1, FT_WINDOWS_MEAN, &w), FT_EINVAL);
        CHECK(strstr(ft_errmsg(), "batch"));
        ft_model_free(fixed);
    }
    CHECK(w == NULL);
}

/* ONNX-style names: the init goes by role. */
static const char *cfg_bn =
    "{\"arch\":\"graph\",\"input\":{\"shape\":[2,6,6]},"
    "\"params\":[{\"name\":\"conv/W:0\",\"shape\":[32,2,3,3]},{\"name\":\"conv/B:0\",\"shape\":[32]},"
    "{\"name\":\"bn/gamma:0\",\"shape\":[32]},{\"name\":\"bn/beta:0\",\"shape\":[32]},"
    "{\"name\":\"bn/mean:0\",\"shape\":[32],\"buffer\":true},{\"name\":\"bn/var:0\",\"shape\":[32],\"buffer\":true},"
    "{\"name\":\"clamp:0\",\"shape\":[1],\"buffer\":true}],"
    "\"nodes\":[{\"name\":\"conv\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"params\":[\"conv/W:0\",\"conv/B:0\"]},"
    "{\"name\":\"bn\",\"op\":\"batch_norm\",\"inputs\":[\"conv\"],\"params\":[\"bn/gamma:0\",\"bn/beta:0\",\"bn/mean:0\",\"bn/var:0\"]},"
    "{\"name\":\"mx\",\"op\":\"max\",\"inputs\":[\"bn\"],\"params\":[\"clamp:0\"]},"
    "{\"name\":\"pool\",\"op\":\"global_avg_pool\",\"inputs\":[\"mx\"]}]}";

static const float *pv(ft_model *m, const char *name) { return ft_params_value(m->params, ft_params_find(m->params, name)); }

static void test_init(void) {
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg_bn, &m));
    if (!m) return;
    ft_model_init(m, 11);
    const float *g = pv(m, "bn/gamma:0"), *v = pv(m, "bn/var:0"), *b = pv(m, "conv/B:0"), *w = pv(m, "conv/W:0");
    float bound = 1.0f / sqrtf(18.0f), bmax = 0, wmax = 0;
    int ones = 0;
    for (int i = 0; i < 32; i++) {
        ones += g[i] == 1.0f && v[i] == 1.0f && pv(m, "bn/beta:0")[i] == 0.0f && pv(m, "bn/mean:0")[i] == 0.0f;
        if (fabsf(b[i]) > bmax) bmax = fabsf(b[i]);
    }
    for (int i = 0; i < 32 * 18; i++) if (fabsf(w[i]) > wmax) wmax = fabsf(w[i]);
    CHECKF(ones == 32, "batch norm by role: %d of 32", ones);
    CHECKF(bmax > 0.5f * bound && bmax <= bound, "conv bias U(+-%g): max %g", bound, bmax);
    CHECKF(wmax > 0.9f * bound && wmax <= bound, "conv weight U(+-%g): max %g", bound, wmax);
    ft_model_init_kaiming(m, 11, 0.0f);
    float kb = sqrtf(6.0f / 18.0f);
    wmax = 0;
    bmax = 0;
    for (int i = 0; i < 32 * 18; i++) if (fabsf(w[i]) > wmax) wmax = fabsf(w[i]);
    for (int i = 0; i < 32; i++) if (fabsf(b[i]) > bmax) bmax = fabsf(b[i]);
    CHECKF(wmax > 0.9f * kb && wmax <= kb, "kaiming U(+-%g): max %g", kb, wmax);
    CHECKF(bmax == 0 && g[0] == 1.0f && v[5] == 1.0f, "kaiming biases %g, gamma %g, var %g", bmax, g[0], v[5]);
    /* a "loaded" model: trained-looking values; reinit keeps the constant, resets statistics */
    float *mv = ft_params_value(m->params, ft_params_find(m->params, "bn/mean:0"));
    float *vv = ft_params_value(m->params, ft_params_find(m->params, "bn/var:0"));
    float *cv = ft_params_value(m->params, ft_params_find(m->params, "clamp:0"));
    for (int i = 0; i < 32; i++) { mv[i] = 3; vv[i] = 5; }
    cv[0] = -0.4f;
    float w0 = w[7];
    CHECK_OK(ft_model_reinit(m, 12, true, 0.0f));
    CHECKF(cv[0] == -0.4f && mv[3] == 0 && vv[3] == 1 && w[7] != w0, "reinit: clamp %g, mean %g, var %g", cv[0], mv[3], vv[3]);
    ft_model_free(m);
}

int main(void) {
    ft_set_num_threads(2);
    if (!t_tmpdir_make("windows")) return 1;
    ft_model *base = NULL;
    CHECK_OK(ft_model_from_config(cfg, &base));
    if (base) {
        ft_model_init(base, 1);
        test_values(base);
        test_cache(base);
        test_errors(base);
        test_shared(base);
        ft_model_free(base);
    }
    test_init();
    t_tmpdir_remove();
    TEST_END();
}
