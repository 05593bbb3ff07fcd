/* Feature cache: the frozen frontier of a graph (ft_graph_frozen_frontier) and the
 * runner's use of it. Training with the cache must give the same losses, validation
 * metrics and weights as without it (to float rounding) while reading each example once;
 * augmentation, a trainable first layer, dropout or batch statistics upstream move or
 * disable it. */
#include "test.h"
#include <unistd.h>

/* ---- 1. where the frontier lies ---- */
typedef struct {
    ft_params *ps;
    ft_graph *g;
    ft_node *x, *loss, *conv, *bn, *drop, *pool;
} small_net;

/* x [4,3,6,6] -> conv (frozen) -> bn (frozen params) -> relu -> [dropout] -> global pool
 * -> linear (trainable unless all_frozen_but_conv) -> cross-entropy. */
static void small_build(small_net *s, bool bn_frozen_stats, float dropout, bool conv_trainable, bool training) {
    memset(s, 0, sizeof *s);
    s->ps = ft_params_new();
    int64_t ws[4] = {5, 3, 3, 3}, c[1] = {5}, hw[2] = {2, 5}, hb[1] = {2};
    ft_params_add(s->ps, "conv.weight", 4, ws);
    ft_params_add(s->ps, "bn.weight", 1, c);
    ft_params_add(s->ps, "bn.bias", 1, c);
    ft_params_add_buffer(s->ps, "bn.running_mean", 1, c);
    ft_params_add_buffer(s->ps, "bn.running_var", 1, c);
    ft_params_add(s->ps, "head.weight", 2, hw);
    ft_params_add(s->ps, "head.bias", 1, hb);
    CHECK_OK(ft_params_finalize(s->ps));
    CHECK_OK(ft_params_set_trainable(s->ps, "conv.*,bn.*", false));
    if (conv_trainable) CHECK_OK(ft_params_set_trainable(s->ps, "conv.weight", true));
    CHECK_OK(ft_params_alloc_grads(s->ps));
    s->g = ft_graph_new(s->ps);
    int64_t xs[4] = {4, 3, 6, 6}, ys[1] = {4};
    s->x = ft_input(s->g, "x", FT_F32, 4, xs);
    ft_node *y = ft_input(s->g, "y", FT_I32, 1, ys);
    s->conv = ft_conv2d(s->g, s->x, ft_param(s->g, "conv.weight"), NULL, NULL);
    s->bn = ft_batch_norm(s->g, s->conv, ft_param(s->g, "bn.weight"), ft_param(s->g, "bn.bias"),
                          ft_param(s->g, "bn.running_mean"), ft_param(s->g, "bn.running_var"), 1e-5f, 0.1f,
                          bn_frozen_stats);
    ft_node *h = ft_relu(s->g, s->bn);
    if (dropout > 0) h = s->drop = ft_dropout(s->g, h, dropout);
    s->pool = ft_global_avg_pool(s->g, h, false);
    ft_node *z = ft_linear(s->g, s->pool, ft_param(s->g, "head.weight"), ft_param(s->g, "head.bias"));
    s->loss = ft_cross_entropy(s->g, z, y, -100, 0.0f);
    (void)training;
}

static void small_free(small_net *s) {
    ft_graph_free(s->g);
    ft_params_free(s->ps);
}

/* The ONNX math ops keep examples apart, except reductions or softmaxes over the batch. */
static void test_frontier_math(void) {
    for (int variant = 0; variant < 3; variant++) {
        ft_params *ps = ft_params_new();
        int64_t c[1] = {5}, hw[2] = {3, 2}, hb[1] = {3};
        ft_params_add_buffer(ps, "floor", 1, c);
        ft_params_add(ps, "head.weight", 2, hw);
        ft_params_add(ps, "head.bias", 1, hb);
        CHECK_OK(ft_params_finalize(ps));
        CHECK_OK(ft_params_alloc_grads(ps));
        ft_graph *g = ft_graph_new(ps);
        int64_t xs[3] = {4, 2, 5}, ys[1] = {4};
        ft_node *x = ft_input(g, "x", FT_F32, 3, xs), *y = ft_input(g, "y", FT_I32, 1, ys);
        ft_node *h = ft_clip(g, ft_pow_scalar(g, ft_abs(g, x), 0.5f), 0.0f, 2.0f);
        h = ft_maximum(g, h, ft_param(g, "floor"));
        h = ft_where(g, ft_greater(g, h, ft_neg(g, h)), h, ft_exp(g, h));
        ft_node *sm = ft_softmax_dim(g, h, variant == 2 ? 0 : 1);
        int d = 2, db[2] = {0, 2};
        ft_node *r = ft_reduce_max(g, sm, 1, &d, false); /* [4, 2] */
        if (variant == 1) { /* times a max over the batch, [1, 2]: that one is not frozen */
            int64_t s12[2] = {1, 2};
            r = ft_mul(g, r, ft_reshape(g, ft_reduce_max(g, sm, 2, db, true), 2, s12));
        }
        ft_node *z = ft_linear(g, r, ft_param(g, "head.weight"), ft_param(g, "head.bias"));
        ft_node *loss = ft_cross_entropy(g, z, y, -100, 0.0f);
        ft_node *fr[4];
        int n = ft_graph_frozen_frontier(g, x, loss, true, fr, 4);
        if (variant == 1) /* the per-example max (read by mul) and the softmax (read by the batch max) */
            CHECKF(n == 2 && fr[0] == sm && fr[1] == r->in[0], "math frontier, batch max: %d nodes", n);
        else
            CHECKF(n == 1 && fr[0] == (variant == 0 ? r : h), "math frontier, variant %d: %d nodes, first %s", variant, n,
                   n > 0 ? ft_op_name(fr[0]->op) : "-");
        ft_graph_free(g);
        ft_params_free(ps);
    }
}

static void test_frontier(void) {
    small_net s;
    ft_node *fr[4];
    /* Frozen BN (running stats), no dropout: everything up to the pool is frozen. */
    small_build(&s, true, 0.0f, false, true);
    CHECK(ft_graph_frozen_frontier(s.g, s.x, s.loss, true, fr, 4) == 1 && fr[0] == s.pool);
    small_free(&s);
    /* BN on batch statistics in training: not frozen (and it updates running stats). */
    small_build(&s, false, 0.0f, false, true);
    CHECK(ft_graph_frozen_frontier(s.g, s.x, s.loss, true, fr, 4) == 1 && fr[0] == s.conv);
    small_free(&s);
    /* ... nor in an eval plan: a training plan of the same store would move its stats. */
    small_build(&s, false, 0.0f, false, false);
    CHECK(ft_graph_frozen_frontier(s.g, s.x, s.loss, false, fr, 4) == 1 && fr[0] == s.conv);
    small_free(&s);
    /* Dropout in training is stochastic: the frontier is its input; in eval it is the pool. */
    small_build(&s, true, 0.3f, false, true);
    CHECK(ft_graph_frozen_frontier(s.g, s.x, s.loss, true, fr, 4) == 1 && fr[0] == s.drop->in[0]);
    small_free(&s);
    small_build(&s, true, 0.3f, false, false);
    CHECK(ft_graph_frozen_frontier(s.g, s.x, s.loss, false, fr, 4) == 1 && fr[0] == s.pool);
    small_free(&s);
    /* A trainable conv reads the data itself: the frontier is x (nothing to cache). */
    small_build(&s, true, 0.0f, true, true);
    CHECK(ft_graph_frozen_frontier(s.g, s.x, s.loss, true, fr, 4) == 1 && fr[0] == s.x);
    small_free(&s);
    /* Feeding the frontier prunes the frozen part from the plan: same loss, fewer ops. */
    small_build(&s, true, 0.0f, false, true);
    CHECK_OK(ft_graph_plan(s.g, s.loss, true));
    float xv[4 * 3 * 6 * 6];
    int32_t yv[4] = {0, 1, 1, 0};
    ft_pcg32 r;
    ft_pcg32_seed(&r, 3, 1);
    for (int i = 0; i < 4 * 3 * 36; i++) xv[i] = 2 * ft_pcg32_uniform(&r) - 1;
    for (int i = 0; i < s.ps->n; i++) ft_params_init_uniform(s.ps, i, 7 + (uint64_t)i, 0.5f);
    float *rv = ft_params_value(s.ps, ft_params_find(s.ps, "bn.running_var"));
    for (int i = 0; i < 5; i++) rv[i] = 1.0f + 0.1f * (float)i;
    CHECK_OK(ft_graph_set_input(s.g, s.x, xv, sizeof xv));
    CHECK_OK(ft_graph_set_input(s.g, ft_graph_node(s.g, 1), yv, sizeof yv));
    CHECK_OK(ft_graph_forward(s.g));
    float pooled[4 * 5], loss_full = s.loss->val[0];
    memcpy(pooled, s.pool->val, sizeof pooled);
    int full_ops = ft_graph_stats(s.g).n_forward_ops;
    ft_graph_free(s.g);
    ft_params *ps = s.ps;
    small_build(&s, true, 0.0f, false, true);
    ft_params_free(s.ps); /* rebuild on the initialised store */
    ft_graph_free(s.g);
    s.ps = ps;
    s.g = ft_graph_new(ps);
    int64_t xs[4] = {4, 3, 6, 6}, ys[1] = {4};
    s.x = ft_input(s.g, "x", FT_F32, 4, xs);
    ft_node *y = ft_input(s.g, "y", FT_I32, 1, ys);
    ft_node *h = ft_relu(s.g, ft_batch_norm(s.g, ft_conv2d(s.g, s.x, ft_param(s.g, "conv.weight"), NULL, NULL),
                                            ft_param(s.g, "bn.weight"), ft_param(s.g, "bn.bias"),
                                            ft_param(s.g, "bn.running_mean"), ft_param(s.g, "bn.running_var"), 1e-5f,
                                            0.1f, true));
    s.pool = ft_global_avg_pool(s.g, h, false);
    s.loss = ft_cross_entropy(s.g, ft_linear(s.g, s.pool, ft_param(s.g, "head.weight"), ft_param(s.g, "head.bias")),
                              y, -100, 0.0f);
    CHECK(ft_graph_frozen_frontier(s.g, s.x, s.loss, true, fr, 4) == 1 && fr[0] == s.pool);
    CHECK_OK(ft_graph_feed(s.g, s.pool));
    CHECK_OK(ft_graph_plan(s.g, s.loss, true));
    CHECK(s.x->val == NULL); /* x is no longer needed */
    CHECKF(ft_graph_stats(s.g).n_forward_ops < full_ops, "%d vs %d ops", ft_graph_stats(s.g).n_forward_ops, full_ops);
    CHECK_OK(ft_graph_set_input(s.g, s.pool, pooled, sizeof pooled));
    CHECK_OK(ft_graph_set_input(s.g, y, yv, sizeof yv));
    CHECK_OK(ft_graph_forward(s.g));
    CHECKF(s.loss->val[0] == loss_full, "%.9g vs %.9g", s.loss->val[0], loss_full);
    CHECK_OK(ft_graph_backward(s.g));
    CHECK_ERR(ft_graph_feed(s.g, s.pool), FT_EINVAL); /* after planning */
    small_free(&s);
}

/* ---- 2. the runner: same results, each example read once ---- */
typedef struct { long calls; } count_impl;
static ft_status blob_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *xv, int32_t *y) {
    float *x = xv;
    ft_pcg32 r;
    ft_pcg32_seed(&r, 555, (uint64_t)i);
    *y = (int32_t)(i % 3);
    for (int k = 0; k < 20; k++) x[k] = (2 * ft_pcg32_uniform(&r) - 1) + (k % 3 == *y ? 1.5f : 0.0f);
    if (ctx && ctx->augment && ds->augments) /* a seeded per-epoch jitter, as augmentation would be */
        for (int k = 0; k < 20; k++) x[k] += 0.1f * (float)((ctx->epoch * 7 + i + k) % 5);
    __atomic_fetch_add(&((count_impl *)ds->impl)->calls, 1, __ATOMIC_RELAXED);
    return FT_OK;
}
static ft_dataset make_blobs(int64_t n, count_impl *impl) {
    ft_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n; d.x_dtype = FT_F32; d.x_ndim = 1; d.x_shape[0] = 20; d.x_numel = 20; d.n_classes = 3;
    d.get = blob_get; d.impl = impl;
    snprintf(d.name, sizeof d.name, "blobs");
    return d;
}

/* Frozen first layer (and layer norm); dropout after it runs in the head part. */
static ft_model *model(const char *trainable) {
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":20,\"hidden\":[24,12],\"n_classes\":3,"
                                  "\"dropout\":0.2,\"layer_norm\":true}", &m));
    ft_model_init(m, 9);
    CHECK_OK(ft_model_select_trainable(m, trainable, NULL));
    return m;
}

typedef struct {
    double losses[400];
    int n_losses;
    float *weights;
    size_t n_weights;
    ft_run_result res;
    long train_calls, val_calls;
} run_out;

static int read_losses(const char *dir, double *out, int max) {
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f) && n < max) {
        char *p = strstr(line, "\"loss\": ");
        if (!p) p = strstr(line, "\"val_loss\": ");
        if (p) out[n++] = strtod(strchr(p, ':') + 1, NULL); /* step losses and epoch val losses */
    }
    if (f) fclose(f);
    return n;
}

static void run(const char *name, const char *trainable, bool no_cache, bool augments, int workers, run_out *o) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", t_tmpdir, name);
    ft_model *m = model(trainable);
    count_impl ti = {0}, vi = {0};
    ft_dataset train = make_blobs(95, &ti), val = make_blobs(31, &vi);
    train.augments = augments;
    ft_run_config c = ft_run_defaults();
    c.out_dir = dir;
    c.epochs = 6;
    c.batch_size = 10; /* 95 = 9 x 10 + 5: two batch shapes */
    c.optim = ft_optim_defaults(FT_OPT_ADAMW);
    c.optim.lr = 2e-2f;
    c.sched.kind = FT_SCHED_COSINE;
    c.seed = 4;
    c.workers = workers;
    c.progress = -1;
    c.label_smoothing = 0.1f;
    c.no_feature_cache = no_cache;
    CHECK_OK(ft_train(m, &train, &val, &c, &o->res));
    o->n_losses = read_losses(dir, o->losses, 400);
    /* best.safetensors: highest validation accuracy, ties to the lower validation loss. */
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    double best_acc = -1, best_loss = 0;
    int best_epoch = -1;
    while (f && fgets(line, sizeof line, f)) {
        char *pa = strstr(line, "\"val_accuracy\": "), *pl = strstr(line, "\"val_loss\": "), *pe = strstr(line, "{\"epoch\": ");
        if (!pa || !pl || !pe) continue;
        double acc = strtod(pa + 16, NULL), loss = strtod(pl + 12, NULL);
        if (acc > best_acc || (acc == best_acc && loss < best_loss)) { best_acc = acc; best_loss = loss; best_epoch = atoi(pe + 10); }
    }
    if (f) fclose(f);
    CHECKF(best_epoch == o->res.best_epoch, "%s: best epoch %d, metrics say %d", name, o->res.best_epoch, best_epoch);
    o->n_weights = m->params->total;
    o->weights = malloc(o->n_weights * sizeof(float));
    memcpy(o->weights, m->params->data, o->n_weights * sizeof(float));
    o->train_calls = ti.calls;
    o->val_calls = vi.calls;
    ft_model_free(m);
}

static void same(const run_out *a, const run_out *b, const char *what) {
    CHECKF(a->n_losses == b->n_losses && a->n_losses == 60 + 6, "%s: %d vs %d losses", what, a->n_losses, b->n_losses);
    double worst = 0;
    for (int i = 0; i < a->n_losses && i < b->n_losses; i++) {
        double d = fabs(a->losses[i] - b->losses[i]) / (1e-3 + fabs(b->losses[i]));
        if (d > worst) worst = d;
    }
    CHECKF(worst < 1e-4, "%s: losses differ by %g (relative)", what, worst);
    CHECKF(a->n_weights == b->n_weights && t_close(a->weights, b->weights, (long)a->n_weights, 1e-4, 1e-6, what),
           "%s: weights", what);
    CHECKF(a->res.best_val_accuracy == b->res.best_val_accuracy && a->res.best_epoch == b->res.best_epoch,
           "%s: best val %g (epoch %d) vs %g (epoch %d)", what, a->res.best_val_accuracy, a->res.best_epoch,
           b->res.best_val_accuracy, b->res.best_epoch);
}

static void test_runner(void) {
    run_out cached, plain, cached0, aug, full;
    memset(&cached, 0, sizeof cached);
    run("cached", "layers.1.*,head.*", false, false, 2, &cached);
    run("plain", "layers.1.*,head.*", true, false, 2, &plain);
    run("cached0", "layers.1.*,head.*", false, false, 0, &cached0);
    CHECK(cached.res.feature_cache && cached0.res.feature_cache && !plain.res.feature_cache);
    /* Each example is read once with the cache (train and val), every epoch without. */
    CHECKF(cached.train_calls == 95 && cached.val_calls == 31, "%ld train / %ld val reads", cached.train_calls,
           cached.val_calls);
    CHECKF(plain.train_calls == 6 * 95 && plain.val_calls == 6 * 31, "%ld / %ld", plain.train_calls, plain.val_calls);
    same(&cached, &plain, "cache vs none");
    same(&cached0, &plain, "cache (no workers) vs none");
    /* The weights moved: the comparison is not between two untrained models. */
    ft_model *m0 = model("head.*");
    CHECK(!t_close(cached.weights, m0->params->data, (long)cached.n_weights, 1e-3, 1e-5, "trained vs initial weights (a mismatch is expected)"));
    ft_model_free(m0);

    /* Augmented training data: no cache for it (every epoch reads everything), but the
     * validation set is still cached (the backbone is frozen). */
    run("aug", "layers.1.*,head.*", false, true, 2, &aug);
    CHECK(!aug.res.feature_cache);
    CHECKF(aug.train_calls == 6 * 95 && aug.val_calls == 31, "%ld / %ld", aug.train_calls, aug.val_calls);
    /* A trainable first layer: nothing frozen to cache. */
    run("full", "layers.0.*,layers.1.*,head.*", false, false, 2, &full);
    CHECK(!full.res.feature_cache);
    CHECKF(full.train_calls == 6 * 95 && full.val_calls == 6 * 31, "%ld / %ld", full.train_calls, full.val_calls);
    run_out *all[] = {&cached, &plain, &cached0, &aug, &full};
    for (int i = 0; i < 5; i++) free(all[i]->weights);
}

int main(void) {
    ft_set_num_threads(2);
    if (!t_tmpdir_make("fcache")) return 1;
    test_frontier();
    test_frontier_math();
    test_runner();
    t_tmpdir_remove();
    TEST_END();
}
