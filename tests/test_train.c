/* Training end to end: the MLP against PyTorch (tests/fixtures/mlp_train.safetensors),
 * pruned backward for frozen layers, zero allocations per warmed-up step, bit-exact resume
 * (after a step limit and after an interrupt), frozen parameters untouched, atomic
 * checkpoints under a failing disk, a model that runs at one batch size only. */
#include "test.h"
#include "train/report.h"

#include <sys/stat.h>
#include <unistd.h>

static const char *MLP_CFG = "{\"arch\": \"mlp\", \"in_features\": 20, \"hidden\": [32, 16], \"n_classes\": 5}";

static const ft_st_tensor *need(const ft_safetensors *st, const char *name) {
    const ft_st_tensor *t = ft_st_find(st, name);
    if (!t) fprintf(stderr, "fixture lacks %s\n", name);
    return t;
}

static float *load_f32(const ft_safetensors *st, const char *name) {
    const ft_st_tensor *t = need(st, name);
    if (!t) return NULL;
    float *v = malloc((size_t)t->numel * 4);
    ft_st_to_f32(t, v);
    return v;
}

/* ---- 1. the MLP against PyTorch: init, logits, gradients, 10 steps of AdamW and SGD ---- */
static void test_mlp_vs_torch(void) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/mlp_train.safetensors", &st));
    if (!st) return;
    const ft_st_tensor *yt = need(st, "y");
    float *x = load_f32(st, "x");
    int32_t y[8];
    memcpy(y, yt->data, sizeof y);
    const char *opts[2] = {"adamw", "sgd"};
    for (int o = 0; o < 2; o++) {
        ft_model *m = NULL;
        CHECK_OK(ft_model_from_config(MLP_CFG, &m));
        ft_model_init(m, 1234);
        /* our seeded init equals the Python PCG32 init bit for bit */
        for (int i = 0; i < m->params->n; i++) {
            char name[96];
            snprintf(name, sizeof name, "init.%s", m->params->p[i].name);
            float *ref = load_f32(st, name);
            CHECKF(ref && memcmp(ref, ft_params_value(m->params, i), (size_t)m->params->p[i].numel * 4) == 0,
                   "init of %s differs from the PyTorch generator", name);
            free(ref);
        }
        CHECK_OK(ft_params_set_trainable(m->params, "layers.0.*", false));
        CHECK_OK(ft_params_alloc_grads(m->params));
        ft_optim_config oc = ft_optim_defaults(o == 0 ? FT_OPT_ADAMW : FT_OPT_SGD);
        if (o == 0) { oc.lr = 1e-2f; oc.weight_decay = 0.01f; oc.decay_all = true; }
        else { oc.lr = 0.1f; oc.momentum = 0.9f; }
        ft_optimizer *opt = NULL;
        CHECK_OK(ft_optimizer_new(m->params, &oc, &opt));
        ft_graph *g = ft_graph_new(m->params);
        int64_t xs[2] = {8, 20}, ys[1] = {8};
        ft_node *xn = ft_input(g, "x", FT_F32, 2, xs);
        ft_node *logits = m->arch->build(m, g, xn, true);
        ft_node *yn = ft_input(g, "y", FT_I32, 1, ys);
        ft_node *loss = ft_cross_entropy(g, logits, yn, -100, 0.0f);
        ft_node_keep(logits);
        CHECK_OK(ft_graph_plan(g, loss, true));
        ft_graph_set_input(g, xn, x, sizeof(float) * 160);
        ft_graph_set_input(g, yn, y, sizeof y);
        char name[96];
        snprintf(name, sizeof name, "%s.losses", opts[o]);
        float *losses = load_f32(st, name);
        float got[10];
        for (int step = 0; step < 10; step++) {
            CHECK_OK(ft_graph_forward(g));
            CHECK_OK(ft_graph_backward(g));
            got[step] = loss->val[0];
            if (step == 0) {
                float *l0 = load_f32(st, "logits0");
                CHECKF(t_close(logits->val, l0, 40, 1e-5, 1e-6, "logits0"), "logits at step 0");
                free(l0);
                for (int i = 2; i < m->params->n; i++) {
                    snprintf(name, sizeof name, "grad0.%s", m->params->p[i].name);
                    float *gr = load_f32(st, name);
                    CHECKF(gr && t_close(ft_params_grad(m->params, i), gr, m->params->p[i].numel, 1e-4, 1e-6, name), "%s", name);
                    free(gr);
                }
                CHECK(ft_params_grad(m->params, 0) == NULL); /* frozen: no gradient buffer at all */
            }
            ft_optimizer_step(opt, oc.lr);
            ft_params_zero_grad(m->params);
        }
        CHECKF(t_close(got, losses, 10, 1e-5, 1e-6, opts[o]), "%s: loss trajectory differs from PyTorch", opts[o]);
        CHECK_ERR(ft_graph_backward(g), FT_EINVAL); /* a second backward without a forward is refused */
        for (int i = 0; i < m->params->n; i++) {
            snprintf(name, sizeof name, "%s.final.%s", opts[o], m->params->p[i].name);
            float *fin = load_f32(st, name);
            CHECKF(fin && t_close(ft_params_value(m->params, i), fin, m->params->p[i].numel, 1e-4, 1e-5, name),
                   "%s after 10 steps", name);
            if (i < 2) /* frozen layer: bit-identical */
                CHECKF(fin && memcmp(fin, ft_params_value(m->params, i), (size_t)m->params->p[i].numel * 4) == 0,
                       "frozen %s changed", name);
            free(fin);
        }
        free(losses);
        ft_graph_free(g);
        ft_optimizer_free(opt);
        ft_model_free(m);
    }
    free(x);
    ft_st_close(st);
}

/* ---- 2. pruning: freezing the first layer removes backward ops and saved activations ---- */
static ft_plan_stats plan_stats(const char *freeze) {
    ft_model *m = NULL;
    ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":64,\"hidden\":[128,128,128],\"n_classes\":10}", &m);
    if (freeze) ft_params_set_trainable(m->params, freeze, false);
    ft_params_alloc_grads(m->params);
    ft_graph *g = ft_graph_new(m->params);
    int64_t xs[2] = {32, 64}, ys[1] = {32};
    ft_node *x = ft_input(g, "x", FT_F32, 2, xs);
    ft_node *loss = ft_cross_entropy(g, m->arch->build(m, g, x, true), ft_input(g, "y", FT_I32, 1, ys), -100, 0);
    ft_graph_plan(g, loss, true);
    ft_plan_stats s = ft_graph_stats(g);
    ft_graph_free(g);
    ft_model_free(m);
    return s;
}

static void test_pruning(void) {
    ft_plan_stats all = plan_stats(NULL), first = plan_stats("layers.0.*"), head = plan_stats("layers.*");
    printf("backward ops: all %d, layer0 frozen %d, head only %d; saved bytes: %zu, %zu, %zu; arena %zu/%zu/%zu (naive %zu)\n",
           all.n_backward_ops, first.n_backward_ops, head.n_backward_ops, all.saved_bytes, first.saved_bytes,
           head.saved_bytes, all.arena_bytes, first.arena_bytes, head.arena_bytes, all.naive_bytes);
    CHECK(first.n_backward_ops < all.n_backward_ops);
    CHECK(head.n_backward_ops < first.n_backward_ops);
    CHECK(head.n_backward_ops == 2); /* cross-entropy + head linear */
    CHECK(first.saved_bytes < all.saved_bytes);
    CHECK(head.saved_bytes < first.saved_bytes);
    CHECK(all.arena_bytes < all.naive_bytes); /* lifetimes let buffers share memory */
}

/* A synthetic dataset: 3 Gaussian blobs in 20-D, deterministic from its index. Optionally
 * raises an interrupt when a chosen example is fetched. */
typedef struct { int64_t interrupt_at; } blob_impl;
static ft_status blob_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *xv, int32_t *y) {
    float *x = xv;
    ft_pcg32 r;
    ft_pcg32_seed(&r, 777, (uint64_t)i);
    *y = (int32_t)(i % 3);
    for (int k = 0; k < 20; k++) x[k] = (2 * ft_pcg32_uniform(&r) - 1) + (k % 3 == *y ? 1.5f : 0.0f);
    blob_impl *b = ds->impl;
    if (b && b->interrupt_at == i) ft_request_interrupt();
    return FT_OK;
}
static ft_dataset make_blobs(int64_t n, blob_impl *impl) {
    ft_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n; d.x_dtype = FT_F32; d.x_ndim = 1; d.x_shape[0] = 20; d.x_numel = 20; d.n_classes = 3;
    d.get = blob_get; d.impl = impl;
    snprintf(d.name, sizeof d.name, "blobs");
    return d;
}

/* ---- 3. zero allocations in warmed-up steps (loader, graph, optimizer) ---- */
static void test_zero_alloc(void) {
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":20,\"hidden\":[32],\"n_classes\":3,\"dropout\":0.1,\"layer_norm\":true}", &m));
    ft_model_init(m, 1);
    CHECK_OK(ft_params_alloc_grads(m->params));
    ft_optim_config oc = ft_optim_defaults(FT_OPT_ADAMW);
    ft_optimizer *opt = NULL;
    CHECK_OK(ft_optimizer_new(m->params, &oc, &opt));
    ft_dataset ds = make_blobs(100, NULL);
    ft_loader_config lc = {16, true, true, 5, 2, 4, true, false};
    ft_loader *l = NULL;
    CHECK_OK(ft_loader_new(&ds, &lc, &l));
    ft_graph *g = ft_graph_new(m->params);
    int64_t xs[2] = {16, 20}, ys[1] = {16};
    ft_node *x = ft_input(g, "x", FT_F32, 2, xs);
    ft_node *yn = ft_input(g, "y", FT_I32, 1, ys);
    ft_node *loss = ft_cross_entropy(g, m->arch->build(m, g, x, true), yn, -100, 0.1f);
    CHECK_OK(ft_graph_plan(g, loss, true));
    uint64_t before = 0;
    int steps = 0;
    for (int epoch = 0; epoch < 3; epoch++) {
        CHECK_OK(ft_loader_start(l, epoch, 0));
        ft_batch *b;
        while (ft_loader_next(l, &b) == FT_OK && b) {
            ft_graph_set_input(g, x, b->x, 16 * 20 * 4);
            ft_graph_set_input(g, yn, b->y, 16 * 4);
            ft_graph_set_rng(g, 1, (uint64_t)steps);
            ft_graph_forward(g);
            ft_graph_backward(g);
            ft_clip_grad_norm(m->params, 1.0f);
            ft_optimizer_step(opt, 1e-3f);
            ft_params_zero_grad(m->params);
            if (++steps == 1) before = ft_alloc_count(); /* after warm-up step 1 */
        }
    }
    uint64_t delta = ft_alloc_count() - before;
    printf("allocations over steps 2..%d: %llu\n", steps, (unsigned long long)delta);
    CHECK(steps > 10);
    CHECK(delta == 0);
    ft_graph_free(g);
    ft_loader_free(l);
    ft_optimizer_free(opt);
    ft_model_free(m);
}

/* ---- 4. resume is bit-exact; frozen parameters are bit-identical after training ---- */
static ft_model *fresh_model(void) {
    ft_model *m = NULL;
    ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":20,\"hidden\":[24,12],\"n_classes\":3,\"dropout\":0.2}", &m);
    ft_model_init(m, 9);
    ft_params_set_trainable(m->params, "layers.0.*", false);
    return m;
}

static ft_run_config run_cfg(const char *out) {
    ft_run_config c = ft_run_defaults();
    c.out_dir = out;
    c.epochs = 3;
    c.batch_size = 10;
    c.accum_steps = 2;
    c.clip_norm = 1.0f;
    c.optim = ft_optim_defaults(FT_OPT_ADAMW);
    c.optim.lr = 2e-2f;
    c.sched.kind = FT_SCHED_COSINE;
    c.sched.warmup_steps = 3;
    c.sched.total_steps = 15; /* fixed horizon: --max-steps would otherwise end the cosine early */
    c.seed = 11;
    c.workers = 2;
    c.progress = -1;
    return c;
}

/* "loss" of each step line in metrics.jsonl, in order. */
static int read_losses(const char *dir, double *out, int max) {
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f) && n < max) {
        char *p = strstr(line, "\"loss\": ");
        if (p && strncmp(line, "{\"step\"", 7) == 0) out[n++] = strtod(p + 8, NULL);
    }
    if (f) fclose(f);
    return n;
}

static void test_resume(void) {
    ft_dataset ds = make_blobs(95, NULL), val = make_blobs(30, NULL);
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/full", t_tmpdir);
    snprintf(b, sizeof b, "%s/split", t_tmpdir);
    ft_model *ma = fresh_model();
    float *frozen0 = malloc((size_t)ma->params->p[0].numel * 4);
    memcpy(frozen0, ft_params_value(ma->params, 0), (size_t)ma->params->p[0].numel * 4);
    ft_run_config ca = run_cfg(a);
    ft_run_result ra;
    CHECK_OK(ft_train(ma, &ds, &val, &ca, &ra));
    CHECK(ra.steps == 15); /* 10 batches/epoch, 2 per step -> 5 steps x 3 epochs */
    CHECKF(memcmp(frozen0, ft_params_value(ma->params, 0), (size_t)ma->params->p[0].numel * 4) == 0,
           "frozen layers.0.weight changed during training");
    CHECKF(ra.best_val_accuracy > 0.8, "best val accuracy %.3f", ra.best_val_accuracy);

    /* stop after 7 steps (mid-epoch 2), then resume from the checkpoint */
    ft_model *mb = fresh_model();
    ft_run_config cb = run_cfg(b);
    cb.max_steps = 7;
    ft_run_result rb;
    CHECK_OK(ft_train(mb, &ds, &val, &cb, &rb));
    CHECK(rb.steps == 7);
    ft_model_free(mb);
    mb = fresh_model();
    char ck[400];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", b);
    cb.max_steps = 0;
    cb.resume = ck;
    CHECK_OK(ft_train(mb, &ds, &val, &cb, &rb));
    CHECK(rb.steps == 15);
    CHECKF(memcmp(ma->params->data, mb->params->data, ma->params->total * 4) == 0, "resumed run's parameters differ");
    double la[64], lb[64];
    int na = read_losses(a, la, 64), nb = read_losses(b, lb, 64);
    CHECK(na == 15 && nb == 15);
    CHECKF(na == nb && memcmp(la, lb, sizeof(double) * (size_t)na) == 0, "step losses differ after resume");
    ft_model_free(mb);

    /* interrupt while fetching example 40 (epoch 0), then resume */
    snprintf(b, sizeof b, "%s/interrupt", t_tmpdir);
    blob_impl trig = {40};
    ft_dataset ds_int = make_blobs(95, &trig);
    mb = fresh_model();
    ft_run_config ci = run_cfg(b);
    ft_status s = ft_train(mb, &ds_int, &val, &ci, &rb);
    CHECK_ERR(s, FT_EINTR);
    CHECK(rb.interrupted);
    CHECK(rb.steps < 15);
    printf("interrupted: %s\n", ft_errmsg());
    ft_model_free(mb);
    mb = fresh_model();
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", b);
    ci.resume = ck;
    CHECK_OK(ft_train(mb, &ds, &val, &ci, &rb));
    CHECKF(memcmp(ma->params->data, mb->params->data, ma->params->total * 4) == 0, "params differ after interrupt+resume");
    ft_model_free(mb);

    /* resuming with another trainable set is refused with a clear message */
    mb = fresh_model();
    ft_params_set_trainable(mb->params, "layers.*", true);
    CHECK_ERR(ft_train(mb, &ds, &val, &ci, &rb), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "trainable") != NULL);
    ft_model_free(mb);

    /* a failing disk during a checkpoint save leaves the previous checkpoint intact */
    struct stat sb;
    CHECK(stat(ck, &sb) == 0);
    uint8_t *before = NULL, *after = NULL;
    size_t nbef = 0, naft = 0;
    CHECK_OK(ft_read_file(ck, 1 << 26, &before, &nbef));
    ft_train_state st = {0};
    for (int k = 0; k < 4; k++) {
        ft_io_fail_write_after(k);
        CHECK(ft_checkpoint_save(ck, ma, NULL, &st) != FT_OK);
        ft_io_fail_write_after(-1);
    }
    CHECK_OK(ft_read_file(ck, 1 << 26, &after, &naft));
    CHECK(nbef == naft && memcmp(before, after, nbef) == 0);
    ft_free(before);
    ft_free(after);
    free(frozen0);
    ft_model_free(ma);
}

/* ---- 5. export and reload; head replacement keeps the body ---- */
static void test_export_and_head(void) {
    ft_model *m = fresh_model(), *r = NULL, *h = NULL;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/export", t_tmpdir);
    CHECK_OK(ft_model_export(m, dir));
    CHECK_OK(ft_model_load(dir, &r));
    CHECK(r && r->params->total == m->params->total && memcmp(r->params->data, m->params->data, m->params->total * 4) == 0);
    CHECK_OK(ft_model_replace_head(m, 7, 3, &h));
    CHECK(h && h->n_classes == 7);
    int hw = ft_params_find(h->params, "head.weight"), l0 = ft_params_find(h->params, "layers.0.weight");
    CHECK(hw >= 0 && h->params->p[hw].shape[0] == 7);
    CHECK(memcmp(ft_params_value(h->params, l0), ft_params_value(m->params, l0), (size_t)h->params->p[l0].numel * 4) == 0);
    CHECK(!h->params->p[l0].trainable); /* the frozen choice carries over */
    /* a model directory with a mismatched tensor is refused, naming it */
    ft_model *bad = NULL;
    CHECK_ERR(ft_model_from_config("{\"arch\":\"resnet9000\"}", &bad), FT_EUNSUPPORTED);
    CHECK_ERR(ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":-3,\"n_classes\":2}", &bad), FT_EINVAL);
    CHECK_ERR(ft_model_from_config("{not json", &bad), FT_EFORMAT);
    CHECK_OK(ft_model_export(h, dir)); /* 7-class head now on disk */
    CHECK_OK(ft_model_load(dir, &bad));
    CHECK(bad && bad->n_classes == 7);
    ft_model_free(bad);
    /* "head" names the model's head in --train/--freeze */
    CHECK_OK(ft_model_select_trainable(m, "head", NULL));
    CHECK(ft_params_count(m->params, true) == 12 * 3 + 3);
    CHECK_OK(ft_model_select_trainable(m, "head, layers.1.*", "layers.1.bias"));
    CHECK(ft_params_count(m->params, true) == 12 * 3 + 3 + 24 * 12);
    CHECK_ERR(ft_model_select_trainable(m, NULL, "layers.*,head"), FT_EINVAL); /* nothing left */
    CHECK_ERR(ft_model_select_trainable(m, "nope.*", NULL), FT_ENOTFOUND);
    ft_model_free(m);
    ft_model_free(r);
    ft_model_free(h);
}

/* ---- 7. a model that runs at one batch size only (a graph config's input.batch, as an import
 * whose nodes depend on the batch): training drops the short last batch, evaluation and
 * prediction pad it and count only the real examples ---- */
#define FIXED_CFG(BATCH)                                                                                             \
    "{\"arch\":\"graph\",\"input\":{\"shape\":[20]" BATCH "},"                                                       \
    "\"params\":[{\"name\":\"l1.weight\",\"shape\":[8,20]},{\"name\":\"l1.bias\",\"shape\":[8]},"                    \
    "{\"name\":\"fc.weight\",\"shape\":[3,8]},{\"name\":\"fc.bias\",\"shape\":[3]}],"                                 \
    "\"nodes\":[{\"name\":\"l1\",\"op\":\"linear\",\"inputs\":[\"input\"],\"params\":[\"l1.weight\",\"l1.bias\"]},"  \
    "{\"name\":\"r\",\"op\":\"relu\",\"inputs\":[\"l1\"]},"                                                          \
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"r\"],\"params\":[\"fc.weight\",\"fc.bias\"]}],"                \
    "\"head\":{\"node\":\"fc\",\"params\":[\"fc.weight\",\"fc.bias\"]},\"n_classes\":3}"

/* The fixed-batch model mf and the same network at any batch size (mv, run one example at a
 * time) give the same metrics and probabilities over n examples. */
static void check_fixed_vs_free(ft_model *mf, ft_model *mv, ft_dataset *ds) {
    int64_t n = ds->n;
    memcpy(mv->params->data, mf->params->data, mf->params->total * 4);
    ft_eval_result rf, rv;
    float *pf = calloc((size_t)n * 3, 4), *pv = calloc((size_t)n * 3, 4);
    int32_t *lf = calloc((size_t)n, 4), *lv = calloc((size_t)n, 4);
    CHECK_OK(ft_evaluate_probs(mf, ds, 3, 0, &rf, pf, lf)); /* the batch asked for is the model's, 4 */
    CHECK_OK(ft_evaluate_probs(mv, ds, 1, 0, &rv, pv, lv));
    CHECKF(rf.n == n && rf.examples == n, "fixed-batch eval counted %lld of %lld examples", (long long)rf.n, (long long)n);
    CHECK(rf.correct == rv.correct);
    CHECKF(fabs(rf.loss - rv.loss) < 1e-5 * (1 + fabs(rv.loss)), "eval loss %.7f at batch 4 (padded), %.7f one by one", rf.loss, rv.loss);
    CHECK(memcmp(rf.confusion, rv.confusion, 9 * sizeof *rf.confusion) == 0);
    CHECK(memcmp(lf, lv, (size_t)n * 4) == 0);
    double d = 0;
    for (int64_t i = 0; i < n * 3; i++) d = fmax(d, fabs((double)pf[i] - pv[i]));
    CHECKF(d < 1e-5, "eval probabilities differ by %g", d);
    ft_eval_result_free(&rf);
    ft_eval_result_free(&rv);
    memset(pf, 0, (size_t)n * 12);
    CHECK_OK(ft_predict_dataset(mf, ds, 8, 0, pf)); /* n rows, every one written */
    d = 0;
    for (int64_t i = 0; i < n * 3; i++) d = fmax(d, fabs((double)pf[i] - pv[i]));
    CHECKF(d < 1e-5, "predicted probabilities differ by %g", d);
    /* ft_predict_batch of fewer and of more examples than the batch */
    float x[9 * 20], qf[27], qv[27];
    int32_t y;
    for (int i = 0; i < 9; i++) ds->get(ds, i, NULL, x + i * 20, &y);
    for (int k = 1; k <= 9; k += 4) {
        CHECK_OK(ft_predict_batch(mf, x, k, qf));
        CHECK_OK(ft_predict_batch(mv, x, k, qv));
        d = 0;
        for (int i = 0; i < k * 3; i++) d = fmax(d, fabs((double)qf[i] - qv[i]));
        CHECKF(d < 1e-5, "ft_predict_batch of %d: probabilities differ by %g", k, d);
    }
    free(pf); free(pv); free(lf); free(lv);
}

static void test_fixed_batch(void) {
    ft_model *mf = NULL, *mv = NULL;
    CHECK_OK(ft_model_from_config(FIXED_CFG(",\"batch\":4"), &mf));
    CHECK_OK(ft_model_from_config(FIXED_CFG(""), &mv));
    if (!mf || !mv) { ft_model_free(mf); ft_model_free(mv); return; }
    ft_model_init(mf, 5);
    CHECK(ft_model_fixed_batch(mf) == 4 && ft_model_fixed_batch(mv) == 0);
    ft_dataset ds = make_blobs(10, NULL), val = make_blobs(7, NULL);
    /* the graph itself runs at 4 only: without the padding, a batch of 2 fails */
    float x2[40];
    int32_t y;
    ds.get(&ds, 0, NULL, x2, &y);
    ds.get(&ds, 1, NULL, x2 + 20, &y);
    ft_graph *g = ft_graph_new(mf->params);
    ft_node *in = ft_input(g, "x", FT_F32, 2, (int64_t[]){2, 20});
    ft_node *o = mf->arch->build(mf, g, in, false);
    CHECK(ft_graph_status(g) == FT_ESHAPE);
    CHECK(ft_graph_plan(g, o, false) != FT_OK && strstr(ft_errmsg(), "batch 4 only"));
    ft_graph_free(g);
    check_fixed_vs_free(mf, mv, &ds);
    check_fixed_vs_free(mf, mv, &val);

    char dir[300];
    snprintf(dir, sizeof dir, "%s/fixed", t_tmpdir);
    ft_run_config c = run_cfg(dir);
    c.accum_steps = 1;
    c.sched.total_steps = 0;
    c.sched.warmup_steps = 0;
    ft_run_result r;
    c.batch_size = 5; /* another batch size is refused up front, saying how to get one */
    CHECK_ERR(ft_train(mf, &ds, &val, &c, &r), FT_EINVAL);
    CHECKF(strstr(ft_errmsg(), "batch 4 only") && strstr(ft_errmsg(), "--batch 4") && strstr(ft_errmsg(), "--input-shape N,"),
           "message: %s", ft_errmsg());
    c.batch_size = 4;
    ft_dataset small = make_blobs(3, NULL);
    CHECK_ERR(ft_train(mf, &small, NULL, &c, &r), FT_EINVAL);
    CHECKF(strstr(ft_errmsg(), "3 examples, fewer than"), "message: %s", ft_errmsg());
    /* 10 examples at batch 4: 2 steps per epoch (2 examples dropped, others each epoch); the
     * first layer frozen, so the feature cache (padded batches too) feeds the head */
    CHECK_OK(ft_model_select_trainable(mf, "head", NULL));
    CHECK_OK(ft_train(mf, &ds, &val, &c, &r));
    CHECKF(r.steps == 3 * 2, "%lld steps for 3 epochs of 10 examples at batch 4", (long long)r.steps);
    double l[16];
    CHECK(read_losses(dir, l, 16) == 6);
    check_fixed_vs_free(mf, mv, &val); /* the trained weights: still the same metrics */
    ft_model_free(mf);
    ft_model_free(mv);
}

/* ---- 6. the report's bounded history keeps its shape for any run length ---- */
static void test_series(void) {
    ft_series *h = calloc(1, sizeof *h);
    for (int64_t i = 1; i <= 1000000; i++) { double y = (double)i; ft_series_push(h, (double)i, &y, 1); }
    CHECK(h->n > FT_SERIES_CAP / 2 && h->n <= FT_SERIES_CAP);
    CHECK(h->x[0] == 1.0);
    bool mono = true;
    for (int i = 1; i < h->n; i++) mono &= h->x[i] > h->x[i - 1] && h->y[0][i] == h->x[i];
    CHECK(mono);
    CHECKF(h->x[h->n - 1] > 1000000 - 2 * (double)h->stride, "last point %g", h->x[h->n - 1]);
    free(h);
}

int main(void) {
    ft_set_num_threads(2);
    if (!t_tmpdir_make("train")) return 1;
    test_mlp_vs_torch();
    test_pruning();
    test_zero_alloc();
    test_resume();
    test_export_and_head();
    test_series();
    test_fixed_batch();
    t_tmpdir_remove();
    TEST_END();
}
