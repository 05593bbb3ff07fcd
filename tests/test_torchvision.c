/* The torchvision architectures (resnet, vgg, inception_v3, mobilenet_v2) against torchvision
 * 0.14 at their true topology (tests/gen/gen_torchvision.py -> tests/fixtures/tv_*.safetensors):
 *
 * 1. names: every configuration's parameter + buffer list equals torchvision's state_dict
 *    (names, shapes, order), for the parity cases and tv_names.safetensors (resnet101/152,
 *    vgg13/19, inception with aux logits, mobilenet widths, a 10-class head).
 * 2. config: defaults, heads, config_with_classes / head replacement, error messages.
 * 3. checkpoints: torchvision tensors (int64 0-d num_batches_tracked) load; export/load round trip.
 * 4. parity: weights from the shared seeded generator (documented in the generator), one
 *    training forward (BatchNorm on batch statistics, dropout 0) + backward on a batch of 2 at
 *    the real resolution: logits, loss, running statistics after the forward, every
 *    parameter's gradient norm, and sampled gradient entries.
 *
 * The reference is torch's float64 result of the same step (torch's float32 result is in the
 * fixture too), so each case prints our error and torch float32's against it.
 *
 * Tolerances. Forward values of a correct float32 implementation agree with float64 to ~1e-5;
 * gradients of deep nets do not: a pre-activation within rounding distance of a ReLU kink
 * takes the other branch in one float32 run and not in another, which changes that element's
 * gradient entirely and every earlier layer's gradient by ~0.1-1%, and train-mode BatchNorm
 * at batch 2 amplifies rounding. Which elements flip depends on the summation order (BLAS
 * kernel, compiler, FMA contraction), so the bounds are set from torch float32's own error
 * against float64 (resnet50: single entries off by up to ~30% of the tensor's rms gradient;
 * vgg16_bn: a gradient norm off by 4%), with margin:
 *   logits                 max |d| <= 1e-3 * max |logits|
 *   loss                   |d| <= 1e-4 * |loss|
 *   running statistics     |d| <= 1e-3 * (|ref| + 0.01), after the forward (bit-exact if frozen)
 *   gradient norms         per tensor |d| <= 0.1 * (ref + 1e-5 * largest norm), median tensor
 *                          2e-2 (the absolute part covers gradients that are 0 in exact
 *                          arithmetic, e.g. a conv bias under a training BatchNorm: both sides
 *                          hold rounding noise there)
 *   sampled entries        in units of the tensor's rms gradient (+ 1e-3 of the model's):
 *                          each <= 1.0, rms over all samples <= 0.15
 * A wrong padding, stride, branch order, eps or momentum moves the logits or the running
 * statistics far beyond these; the single-op kernels have tight tests of their own
 * (tests/test_cnn_ops.c). Measured errors are in docs/models.md.
 *
 * Under FT_SANITIZED=1 (the ASan run of tests/run.sh) the parities of the big VGGs are skipped
 * with a SKIP line; names, configs and the other parities still run.
 *
 * Debugging: FT_TV_ONLY=<case> runs one parity case, FT_TV_VERBOSE=1 prints every tensor's
 * gradient-norm error, FT_TV_REFERENCE=1 uses the naive reference kernels, FT_TV_DUMP=<file>
 * writes all gradients (raw float32, state_dict order) for comparison in Python. */
#include "test.h"

#include <jansson.h>
#include <malloc.h>
#include <sys/time.h>
#include <unistd.h>

#define PARITY_SEED 2024
#define X_STREAM 1000000

static double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The generator's parity init (tests/gen/gen_torchvision.py), parameter index = PCG32 stream. */
static void parity_init(ft_params *ps, uint64_t seed) {
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *p = &ps->p[i];
        float *v = ft_params_value(ps, i);
        if (ends_with(p->name, "num_batches_tracked")) {
            v[0] = 0.0f;
        } else if (ends_with(p->name, "running_mean")) {
            ft_params_init_uniform(ps, i, seed, 0.25f);
        } else if (ends_with(p->name, "running_var")) {
            ft_params_init_uniform(ps, i, seed, 0.5f);
            for (int64_t k = 0; k < p->numel; k++) v[k] = 1.0f + v[k];
        } else if (p->ndim >= 2) {
            ft_params_init_uniform(ps, i, seed, sqrtf(6.0f / (float)(p->numel / p->shape[0])));
        } else {
            char sib[256];
            int w = -1;
            if (ends_with(p->name, ".bias")) {
                snprintf(sib, sizeof sib, "%.*s.weight", (int)strlen(p->name) - 5, p->name);
                w = ft_params_find(ps, sib);
            }
            if (w >= 0 && ps->p[w].ndim >= 2) {
                ft_params_init_uniform(ps, i, seed, 1.0f / sqrtf((float)(ps->p[w].numel / ps->p[w].shape[0])));
            } else if (ends_with(p->name, ".weight")) {
                ft_params_init_uniform(ps, i, seed, 0.25f);
                for (int64_t k = 0; k < p->numel; k++) v[k] = 1.0f + v[k];
            } else {
                ft_params_init_uniform(ps, i, seed, 0.25f);
            }
        }
    }
}

static const ft_st_tensor *need(const ft_safetensors *st, const char *name) {
    const ft_st_tensor *t = ft_st_find(st, name);
    if (!t) fprintf(stderr, "%s lacks tensor %s\n", st->path, name);
    return t;
}

static float *load_f32(const ft_safetensors *st, const char *name) {
    const ft_st_tensor *t = need(st, name);
    if (!t) return NULL;
    float *v = malloc((size_t)t->numel * 4);
    ft_st_to_f32(t, v);
    return v;
}

/* The model's parameter list equals state_dict [[name, shape], ...] exactly, in order. */
static bool same_state_dict(const ft_model *m, json_t *sd, const char *what) {
    const ft_params *ps = m->params;
    if (!json_is_array(sd) || (int)json_array_size(sd) != ps->n) {
        fprintf(stderr, "  %s: %d parameters+buffers, torchvision has %zu\n", what, ps->n, json_array_size(sd));
        if (!json_is_array(sd)) return false;
    }
    for (int i = 0; i < ps->n && i < (int)json_array_size(sd); i++) {
        json_t *e = json_array_get(sd, i), *shape = json_array_get(e, 1);
        const char *name = json_string_value(json_array_get(e, 0));
        bool ok = name && strcmp(name, ps->p[i].name) == 0 && (int)json_array_size(shape) == ps->p[i].ndim;
        for (int d = 0; ok && d < ps->p[i].ndim; d++) ok = json_integer_value(json_array_get(shape, d)) == ps->p[i].shape[d];
        if (!ok) {
            fprintf(stderr, "  %s: entry %d is '%s' (%d dims), torchvision has '%s'\n", what, i, ps->p[i].name, ps->p[i].ndim,
                    name ? name : "?");
            return false;
        }
    }
    return (int)json_array_size(sd) == ps->n;
}

/* The architecture's create() alone: names and shapes without allocating the values (VGG's
 * 0.5 GB would cost seconds of page faults per configuration). ft_model_free frees it. */
static ft_model *declare_only(const char *text) {
    json_t *cfg = json_loads(text, 0, NULL);
    const ft_arch *arch = ft_arch_find(json_string_value(json_object_get(cfg, "arch")));
    json_decref(cfg);
    ft_model *m = ft_calloc(1, sizeof *m);
    ft_status s = FT_EINVAL;
    if (m && arch) {
        m->arch = arch;
        m->params = ft_params_new();
        m->config_json = ft_strdup(text);
        s = arch->create(m, text);
    }
    if (s) {
        fprintf(stderr, "  config %s: %s\n", text, ft_errmsg());
        ft_model_free(m);
        m = NULL;
    }
    return m;
}

/* ---- 1. names ---- */
/* Biggest first: later cases reuse the freed heap (see main). */
static const char *CASES[] = {"vgg16_bn", "vgg16", "vgg11_bn", "vgg11", "resnet50", "resnet34", "resnet18",
                              "resnet18_frozen_bn", "inception_v3", "mobilenet_v2"};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

static void check_names(const char *what, const char *cfg_text, const char *sd_text) {
    json_t *cfg = json_loads(cfg_text, 0, NULL), *sd = json_loads(sd_text, 0, NULL);
    CHECKF(cfg && sd, "%s: metadata is not JSON", what);
    ft_model *m = cfg ? declare_only(cfg_text) : NULL;
    CHECKF(m != NULL, "%s: config rejected", what);
    if (m && sd) CHECKF(same_state_dict(m, sd, what), "%s: names/shapes differ from torchvision's state_dict", what);
    ft_model_free(m);
    json_decref(cfg);
    json_decref(sd);
}

static void test_names(void) {
    int n = 0;
    char path[256];
    for (int c = 0; c < N_CASES; c++) {
        snprintf(path, sizeof path, "tests/fixtures/tv_%s.safetensors", CASES[c]);
        ft_safetensors *st = NULL;
        CHECK_OK(ft_st_open(path, &st));
        if (!st) continue;
        const char *cfg = ft_st_meta(st, "config"), *sd = ft_st_meta(st, "state_dict");
        CHECKF(cfg && sd, "%s: no config/state_dict metadata", path);
        if (cfg && sd) check_names(CASES[c], cfg, sd), n++;
        ft_st_close(st);
    }
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/tv_names.safetensors", &st));
    for (int i = 0; st && i < st->n_meta; i++) {
        if (strncmp(st->meta_keys[i], "names.", 6) != 0) continue;
        json_t *e = json_loads(st->meta_vals[i], 0, NULL);
        char *cfg = json_dumps(json_object_get(e, "config"), JSON_SORT_KEYS);
        char *sd = json_dumps(json_object_get(e, "state_dict"), 0);
        if (cfg && sd) check_names(st->meta_keys[i] + 6, cfg, sd), n++;
        free(cfg);
        free(sd);
        json_decref(e);
    }
    ft_st_close(st);
    printf("state_dict names and shapes match torchvision for %d configurations\n", n);
    CHECK(n >= N_CASES + 12);
}

/* ---- 2. configs ---- */
static void test_configs(void) {
    static const struct { const char *cfg, *head; int64_t hw; int n_classes; } ok[] = {
        {"{\"arch\":\"resnet\",\"depth\":18}", "fc.*", 224, 1000},
        {"{\"arch\":\"vgg\",\"depth\":11,\"n_classes\":7,\"input_shape\":[3,32,48]}", "classifier.6.*", 32, 7},
        {"{\"arch\":\"inception_v3\"}", "fc.*,AuxLogits.fc.*", 299, 1000},
        {"{\"arch\":\"inception_v3\",\"aux_logits\":false}", "fc.*", 299, 1000},
        {"{\"arch\":\"mobilenet_v2\",\"width_mult\":0.5,\"frozen_bn\":true}", "classifier.1.*", 224, 1000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ft_model *m = declare_only(ok[i].cfg);
        CHECKF(m != NULL, "%s rejected", ok[i].cfg);
        if (!m) continue;
        CHECKF(m->head_patterns && strcmp(m->head_patterns, ok[i].head) == 0, "%s: head %s", ok[i].cfg, m->head_patterns);
        CHECKF(m->in_ndim == 3 && m->in_shape[0] == 3 && m->in_shape[1] == ok[i].hw, "%s: input shape", ok[i].cfg);
        CHECKF(m->n_classes == ok[i].n_classes, "%s: %d classes", ok[i].cfg, m->n_classes);
        for (int k = 0; k < m->params->n; k++) /* head globs match the head and nothing else */
            if (ft_params_match(m->head_patterns, m->params->p[k].name))
                CHECKF(strstr(m->params->p[k].name, "fc.") || strstr(m->params->p[k].name, "classifier."), "%s", m->params->p[k].name);
        ft_model_free(m);
    }
    /* Inception: the auxiliary classifier exists (for checkpoints) but never trains. */
    ft_model *m = declare_only("{\"arch\":\"inception_v3\",\"n_classes\":10}");
    CHECK(m != NULL);
    int aux = 0;
    for (int k = 0; m && k < m->params->n; k++)
        if (strncmp(m->params->p[k].name, "AuxLogits.", 10) == 0) {
            aux++;
            CHECKF(!m->params->p[k].trainable, "%s is trainable", m->params->p[k].name);
        }
    CHECK(aux == 14);
    ft_model_free(m);

    /* preprocess/source ride along; a new head rewrites n_classes and drops the old labels */
    m = declare_only("{\"arch\":\"resnet\",\"depth\":50,\"n_classes\":2,\"source\":\"torchvision\","
                     "\"preprocess\":{\"mean\":[0.5,0.5,0.5],\"labels\":[\"cat\",\"dog\"]}}");
    CHECK(m != NULL);
    char *nc = m ? m->arch->config_with_classes(m, 7) : NULL;
    json_t *j = nc ? json_loads(nc, 0, NULL) : NULL;
    CHECKF(j && json_integer_value(json_object_get(j, "n_classes")) == 7 &&
               json_integer_value(json_object_get(j, "depth")) == 50 &&
               json_object_get(json_object_get(j, "preprocess"), "mean") &&
               !json_object_get(json_object_get(j, "preprocess"), "labels"),
           "config_with_classes: %s", nc ? nc : "(null)");
    json_decref(j);
    ft_free(nc);
    ft_model_free(m);

    static const struct { const char *cfg, *msg; } bad[] = {
        {"{\"arch\":\"resnet\",\"depth\":20}", "\"depth\" must be one of 18, 34, 50, 101, 152"},
        {"{\"arch\":\"resnet\"}", "\"depth\""},
        {"{\"arch\":\"resnet\",\"depth\":18,\"dropout\":0.1}", "unknown key \"dropout\""},
        {"{\"arch\":\"vgg\",\"depth\":16,\"batchnorm\":true}", "unknown key \"batchnorm\""},
        {"{\"arch\":\"vgg\",\"depth\":16,\"batch_norm\":1}", "\"batch_norm\" must be true or false"},
        {"{\"arch\":\"vgg\",\"depth\":16,\"input_shape\":[3,28,28]}", "at least 32"},
        {"{\"arch\":\"vgg\",\"depth\":16,\"dropout\":1.5}", "\"dropout\""},
        {"{\"arch\":\"inception_v3\",\"input_shape\":[3,64,64]}", "at least 75"},
        {"{\"arch\":\"inception_v3\",\"transform_input\":true,\"input_shape\":[1,299,299]}", "3 input channels"},
        {"{\"arch\":\"mobilenet_v2\",\"width_mult\":0}", "\"width_mult\""},
        {"{\"arch\":\"mobilenet_v2\",\"input_shape\":[3,224]}", "input_shape"},
        {"{\"arch\":\"mobilenet_v2\",\"n_classes\":0}", "n_classes"},
        {"{\"arch\":\"resnet\",\"depth\":18,\"frozen_bn\":\"yes\"}", "frozen_bn"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ft_model *b = NULL;
        CHECK_ERR(ft_model_from_config(bad[i].cfg, &b), FT_EINVAL);
        CHECKF(strstr(ft_errmsg(), bad[i].msg), "%s: message '%s' lacks '%s'", bad[i].cfg, ft_errmsg(), bad[i].msg);
        CHECK(b == NULL);
    }
}

/* ---- 3. checkpoints: torchvision tensors load; export + load round trip; head replacement ---- */
static void test_checkpoints(void) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/tv_names.safetensors", &st));
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config("{\"arch\":\"resnet\",\"depth\":18}", &m));
    if (st && m) {
        CHECK_OK(ft_params_load_st(m->params, st, "resnet18.", false));
        int i = ft_params_find(m->params, "bn1.num_batches_tracked");
        CHECK(i >= 0 && m->params->p[i].ndim == 0 && m->params->p[i].is_buffer);
        CHECKF(i >= 0 && ft_params_value(m->params, i)[0] == 2.0f, "num_batches_tracked (int64 2) loaded as %g",
               i >= 0 ? ft_params_value(m->params, i)[0] : -1.0);
        const char *names[] = {"bn1.running_var", "fc.bias", "layer4.1.bn2.running_var"};
        for (int k = 0; k < 3; k++) {
            char key[96];
            snprintf(key, sizeof key, "resnet18.%s", names[k]);
            float *ref = load_f32(st, key);
            int j = ft_params_find(m->params, names[k]);
            CHECKF(ref && j >= 0 && memcmp(ref, ft_params_value(m->params, j), (size_t)m->params->p[j].numel * 4) == 0,
                   "%s not loaded", names[k]);
            free(ref);
        }
    }
    ft_model_free(m);
    ft_st_close(st);

    /* Export + load keeps every tensor, 0-d buffers included; a new head keeps the backbone. */
    CHECK_OK(ft_model_from_config("{\"arch\":\"mobilenet_v2\",\"width_mult\":0.35,\"n_classes\":10,\"input_shape\":[3,64,64]}", &m));
    if (!m) return;
    parity_init(m->params, 5);
    int nbt = ft_params_find(m->params, "features.5.conv.1.1.num_batches_tracked");
    CHECK(nbt >= 0);
    if (nbt >= 0) ft_params_value(m->params, nbt)[0] = 123.0f;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/mbv2", t_tmpdir);
    CHECK_OK(ft_model_export(m, dir));
    ft_model *back = NULL;
    CHECK_OK(ft_model_load(dir, &back));
    if (back) {
        CHECK(back->params->n == m->params->n && back->params->total == m->params->total);
        CHECK(memcmp(back->params->data, m->params->data, m->params->total * 4) == 0);
    }
    ft_model *h = NULL;
    CHECK_OK(ft_model_replace_head(m, 3, 9, &h));
    if (h) {
        CHECK(h->n_classes == 3);
        int w = ft_params_find(h->params, "classifier.1.weight");
        CHECK(w >= 0 && h->params->p[w].shape[0] == 3 && h->params->p[w].shape[1] == 1280);
        int j = ft_params_find(h->params, "features.5.conv.1.1.num_batches_tracked");
        CHECK(j >= 0 && ft_params_value(h->params, j)[0] == 123.0f);
        j = ft_params_find(h->params, "features.3.conv.1.0.weight");
        int k = ft_params_find(m->params, "features.3.conv.1.0.weight");
        CHECK(j >= 0 && k >= 0 && memcmp(ft_params_value(h->params, j), ft_params_value(m->params, k), (size_t)m->params->p[k].numel * 4) == 0);
    }
    ft_model_free(h);
    ft_model_free(back);
    ft_model_free(m);
}

/* ---- 4. parity ---- */
/* Tolerances: see the comment at the top. */
#define TOL_LOGITS 1e-3      /* max |d| / max |logits| */
#define TOL_LOSS 1e-4        /* relative */
#define TOL_STATS 1e-3       /* |d| / (|ref| + 0.01); measured up to 2.2e-4 (Inception) since the
                              * batch statistics are summed in double (batchnorm.c) */
#define TOL_NORM 0.1         /* every parameter: |d| / (ref + 1e-5 max norm) */
#define TOL_NORM_MEDIAN 2e-2 /* the median parameter */
#define TOL_ENTRY 1.0        /* any sampled entry, in units of its parameter's rms gradient */
#define TOL_ENTRY_RMS 0.15   /* rms over the sampled entries, same units (a wrong or transposed
                              * gradient gives ~1) */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void parity(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/tv_%s.safetensors", name);
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open(path, &st));
    if (!st) return;
    double t0 = now_s();
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(ft_st_meta(st, "config"), &m));
    if (!m) { ft_st_close(st); return; }
    ft_params *ps = m->params;
    parity_init(ps, PARITY_SEED);
    bool frozen = strstr(name, "frozen") != NULL;
    for (int i = 0; i < ps->n; i++) { /* the frozen-BN case brings its running statistics */
        char key[160];
        snprintf(key, sizeof key, "stats.%s", ps->p[i].name);
        const ft_st_tensor *t = ft_st_find(st, key);
        if (t) ft_st_to_f32(t, ft_params_value(ps, i));
    }
    float *stats0 = NULL;
    if (frozen) {
        stats0 = malloc(ps->total * 4);
        memcpy(stats0, ps->data, ps->total * 4);
    }
    CHECK_OK(ft_params_alloc_grads(ps));

    /* input: U(-2, 2) from stream X_STREAM */
    int64_t xs[4] = {2, m->in_shape[0], m->in_shape[1], m->in_shape[2]}, ys[1] = {2};
    int64_t nx = xs[0] * xs[1] * xs[2] * xs[3];
    float *x = malloc((size_t)nx * 4);
    ft_pcg32 r;
    ft_pcg32_seed(&r, PARITY_SEED, X_STREAM);
    double xsum = 0;
    for (int64_t k = 0; k < nx; k++) xsum += x[k] = (2.0f * ft_pcg32_uniform(&r) - 1.0f) * 2.0f;
    float *xsum_ref = load_f32(st, "x_sum");
    CHECKF(xsum_ref && fabs(xsum - xsum_ref[0]) <= 1e-3 + 1e-5 * fabs(xsum), "%s: input sum %g vs %g", name, xsum,
           xsum_ref ? xsum_ref[0] : 0);
    free(xsum_ref);
    int32_t y[2] = {0, 0};
    const ft_st_tensor *yt = need(st, "y");
    if (yt) memcpy(y, yt->data, sizeof y);

    ft_graph *g = ft_graph_new(ps);
    ft_node *xn = ft_input(g, "x", FT_F32, 4, xs);
    ft_node *logits = m->arch->build(m, g, xn, true);
    ft_node *yn = ft_input(g, "y", FT_I32, 1, ys);
    ft_node *loss = ft_cross_entropy(g, logits, yn, -100, 0.0f);
    ft_node_keep(logits);
    CHECK_OK(ft_graph_plan(g, loss, true));
    if (ft_graph_status(g) != FT_OK || !logits) {
        ft_graph_free(g);
        ft_model_free(m);
        free(x);
        free(stats0);
        ft_st_close(st);
        return;
    }
    CHECK_OK(ft_graph_set_input(g, xn, x, (size_t)nx * 4));
    CHECK_OK(ft_graph_set_input(g, yn, y, sizeof y));
    double t1 = now_s();
    CHECK_OK(ft_graph_forward(g));
    double t2 = now_s();
    CHECK_OK(ft_graph_backward(g));
    double t3 = now_s();

    /* Errors against the float64 reference: ours, and torch float32's (the yardstick). */
    float *lref = load_f32(st, "logits"), *l32 = load_f32(st, "torch32.logits");
    float *loss_ref = load_f32(st, "loss");
    double lmax = 0, e_logits = 0, t_logits = 0;
    for (int64_t k = 0; lref && l32 && k < logits->numel; k++) {
        lmax = fmax(lmax, fabs(lref[k]));
        e_logits = fmax(e_logits, fabs(logits->val[k] - lref[k]));
        t_logits = fmax(t_logits, fabs(l32[k] - lref[k]));
    }
    e_logits /= lmax;
    t_logits /= lmax;
    double e_loss = loss_ref ? fabs(loss->val[0] - loss_ref[0]) / fabs(loss_ref[0]) : INFINITY;
    CHECKF(lref && l32 && e_logits <= TOL_LOGITS, "%s: logits differ by %.3g of max|logits| (torch float32: %.3g)", name,
           e_logits, t_logits);
    CHECKF(e_loss <= TOL_LOSS, "%s: loss %.6f vs %.6f", name, loss->val[0], loss_ref ? loss_ref[0] : 0);
    free(lref);
    free(l32);
    free(loss_ref);

    /* running statistics after the forward */
    int n_stats = 0;
    double e_stats = 0;
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *p = &ps->p[i];
        if (!ends_with(p->name, "running_mean") && !ends_with(p->name, "running_var")) continue;
        const float *v = ft_params_value(ps, i);
        if (frozen) {
            CHECKF(memcmp(v, stats0 + p->offset, (size_t)p->numel * 4) == 0, "%s: frozen %s changed", name, p->name);
            continue;
        }
        char key[160];
        snprintf(key, sizeof key, "after.%s", p->name);
        float *ref = load_f32(st, key);
        for (int64_t k = 0; ref && k < p->numel; k++) e_stats = fmax(e_stats, fabs(v[k] - ref[k]) / (fabs(ref[k]) + 1e-2));
        n_stats += ref != NULL;
        free(ref);
    }
    CHECKF(e_stats <= TOL_STATS, "%s: running statistics after the forward differ by %.3g", name, e_stats);

    /* gradient norms (trainable = non-buffer parameters, state_dict order) */
    const ft_st_tensor *nt = need(st, "grad_norm");
    float *nref = load_f32(st, "grad_norm"), *n32 = load_f32(st, "torch32.grad_norm");
    int *grad_of = calloc((size_t)ps->n, sizeof *grad_of); /* param index -> position in grad_norm */
    int ng = 0;
    double nmax = 0, sq = 0, cnt = 0, e_norm = 0, t_norm = 0;
    for (int i = 0; i < ps->n; i++) grad_of[i] = ps->p[i].is_buffer ? -1 : ng++;
    bool norms_ok = nt && nref && n32 && nt->numel == ng;
    CHECKF(norms_ok, "%s: %d trainable parameters, fixture has %lld gradient norms", name, ng, nt ? (long long)nt->numel : -1LL);
    for (int i = 0; norms_ok && i < ps->n; i++)
        if (grad_of[i] >= 0) {
            nmax = fmax(nmax, nref[grad_of[i]]);
            sq += (double)nref[grad_of[i]] * nref[grad_of[i]];
            cnt += (double)ps->p[i].numel;
        }
    double rms_model = cnt > 0 ? sqrt(sq / cnt) : 0; /* rms of all gradient entries */
    double *errs = calloc((size_t)ng + 1, sizeof *errs);
    for (int i = 0; norms_ok && i < ps->n; i++) {
        if (grad_of[i] < 0) continue;
        const float *gr = ft_params_grad(ps, i);
        double s2 = 0;
        for (int64_t k = 0; gr && k < ps->p[i].numel; k++) s2 += (double)gr[k] * gr[k];
        double ref = nref[grad_of[i]], den = ref + 1e-5 * nmax;
        double e = fabs(sqrt(s2) - ref) / den;
        e_norm = fmax(e_norm, e);
        errs[grad_of[i]] = e;
        t_norm = fmax(t_norm, fabs(n32[grad_of[i]] - ref) / den);
        if (!(e <= TOL_NORM) || getenv("FT_TV_VERBOSE"))
            fprintf(stderr, "  %s: grad norm of %s: %g vs %g (torch float32 %g): error %.2e / %.2e\n", name, ps->p[i].name,
                    sqrt(s2), ref, n32[grad_of[i]], e, fabs(n32[grad_of[i]] - ref) / den);
    }
    if (getenv("FT_TV_DUMP")) { /* debugging: write every gradient (raw float32, state_dict order) */
        FILE *f = fopen(getenv("FT_TV_DUMP"), "wb");
        for (int i = 0; f && i < ps->n; i++)
            if (ft_params_grad(ps, i)) fwrite(ft_params_grad(ps, i), 4, (size_t)ps->p[i].numel, f);
        if (f) fclose(f);
    }
    CHECKF(e_norm <= TOL_NORM, "%s: gradient norms differ by up to %.3g (torch float32: %.3g)", name, e_norm, t_norm);
    qsort(errs, (size_t)ng, sizeof *errs, cmp_double);
    double e_median = ng ? errs[ng / 2] : INFINITY;
    free(errs);
    CHECKF(e_median <= TOL_NORM_MEDIAN, "%s: the median gradient norm is off by %.3g", name, e_median);

    /* sampled gradient entries, each in units of its parameter's rms gradient (+ 1e-3 of the
     * model's, for gradients that are 0 in exact arithmetic) */
    const ft_st_tensor *sp = need(st, "sample.param"), *si = need(st, "sample.index");
    float *sv = load_f32(st, "sample.value"), *sv32 = load_f32(st, "torch32.sample.value");
    int n_samples = 0, bad = 0;
    double e2 = 0, t2sum = 0, e_max = 0, t_max = 0;
    for (int64_t k = 0; norms_ok && sp && si && sv && sv32 && k < sp->numel; k++) {
        int i = ((const int32_t *)sp->data)[k];
        int64_t idx = ((const int32_t *)si->data)[k];
        const float *gr = (i >= 0 && i < ps->n) ? ft_params_grad(ps, i) : NULL;
        if (!gr || grad_of[i] < 0 || idx < 0 || idx >= ps->p[i].numel) { bad++; continue; }
        double unit = nref[grad_of[i]] / sqrt((double)ps->p[i].numel) + 1e-3 * rms_model;
        double e = fabs(gr[idx] - sv[k]) / unit, t = fabs(sv32[k] - sv[k]) / unit;
        e2 += e * e;
        t2sum += t * t;
        e_max = fmax(e_max, e);
        t_max = fmax(t_max, t);
        if (!(e <= TOL_ENTRY))
            fprintf(stderr, "  %s: grad %s[%lld]: %g vs %g (torch float32 %g)\n", name, ps->p[i].name, (long long)idx, gr[idx],
                    sv[k], sv32[k]);
        n_samples++;
    }
    double e_rms = n_samples ? sqrt(e2 / n_samples) : INFINITY, t_rms = n_samples ? sqrt(t2sum / n_samples) : 0;
    CHECKF(bad == 0 && n_samples >= ng + 64, "%s: %d samples usable, %d not", name, n_samples, bad);
    CHECKF(e_max <= TOL_ENTRY, "%s: a sampled gradient entry is off by %.3g of its parameter's rms gradient", name, e_max);
    CHECKF(e_rms <= TOL_ENTRY_RMS, "%s: sampled gradient entries: rms error %.3g (in rms-gradient units), torch float32 %.3g",
           name, e_rms, t_rms);
    printf("%-19s %9lld params  forward %.2fs backward %.2fs (setup %.2fs)\n"
           "    error vs float64 (ours / torch float32): logits %.1e / %.1e  loss %.1e  grad norms %.1e / %.1e"
           " (median %.1e)  entries rms %.1e / %.1e max %.1e / %.1e  stats %.1e  (%d norms, %d entries, %d stats)\n",
           name, (long long)ft_params_count(ps, false), t2 - t1, t3 - t2, t1 - t0, e_logits, t_logits, e_loss, e_norm, t_norm,
           e_median, e_rms, t_rms, e_max, t_max, e_stats, ng, n_samples, n_stats);
    free(n32);
    free(sv32);
    free(grad_of);
    free(nref);
    free(sv);
    free(stats0);
    free(x);
    ft_graph_free(g);
    ft_model_free(m);
    ft_st_close(st);
}

/* An eval graph (running statistics, no dropout) on a small input: finite logits, buffers untouched. */
static void test_eval_small(void) {
    const char *cfgs[] = {
        "{\"arch\":\"resnet\",\"depth\":18,\"n_classes\":5,\"input_shape\":[3,40,40]}",
        "{\"arch\":\"vgg\",\"depth\":11,\"batch_norm\":true,\"n_classes\":5,\"input_shape\":[3,40,40]}",
        "{\"arch\":\"inception_v3\",\"n_classes\":5,\"input_shape\":[3,75,75],\"transform_input\":true}",
        "{\"arch\":\"mobilenet_v2\",\"n_classes\":5,\"input_shape\":[3,40,40],\"width_mult\":0.5}",
    };
    for (int c = 0; c < 4; c++) {
        ft_model *m = NULL;
        CHECK_OK(ft_model_from_config(cfgs[c], &m));
        if (!m) continue;
        parity_init(m->params, 3);
        float *before = malloc(m->params->total * 4); /* only the buffers are compared */
        for (int i = 0; i < m->params->n; i++)
            if (m->params->p[i].is_buffer)
                memcpy(before + m->params->p[i].offset, ft_params_value(m->params, i), (size_t)m->params->p[i].numel * 4);
        ft_graph *g = ft_graph_new(m->params);
        int64_t xs[4] = {2, 3, m->in_shape[1], m->in_shape[2]};
        ft_node *x = ft_input(g, "x", FT_F32, 4, xs);
        ft_node *logits = m->arch->build(m, g, x, false);
        ft_node_keep(logits);
        CHECK_OK(ft_graph_plan(g, NULL, false));
        if (ft_graph_status(g) == FT_OK && logits) {
            int64_t n = 2 * 3 * xs[2] * xs[3];
            float *in = malloc((size_t)n * 4);
            for (int64_t k = 0; k < n; k++) in[k] = (float)sin((double)k * 0.01);
            CHECK_OK(ft_graph_set_input(g, x, in, (size_t)n * 4));
            CHECK_OK(ft_graph_forward(g));
            CHECK(logits->ndim == 2 && logits->shape[0] == 2 && logits->shape[1] == 5);
            bool finite = true;
            for (int64_t k = 0; k < logits->numel; k++) finite = finite && isfinite(logits->val[k]);
            CHECKF(finite, "%s: eval logits not finite", cfgs[c]);
            for (int i = 0; i < m->params->n; i++)
                if (m->params->p[i].is_buffer)
                    CHECKF(memcmp(before + m->params->p[i].offset, ft_params_value(m->params, i), (size_t)m->params->p[i].numel * 4) == 0,
                           "%s: eval forward changed %s", cfgs[c], m->params->p[i].name);
            free(in);
        }
        free(before);
        ft_graph_free(g);
        ft_model_free(m);
    }
}

int main(void) {
    /* Keep freed blocks in the heap so the next case reuses them: first-touch page faults of
     * the big VGG blocks (0.5 GB each) cost seconds on some VMs. (ASan has its own allocator.) */
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1); /* never give the heap back */
    if (!t_tmpdir_make("tv")) return 1;
    double t = now_s(), t0 = t;
    test_names();
    printf("names %.1fs\n", now_s() - t), t = now_s();
    test_configs();
    printf("configs %.1fs\n", now_s() - t), t = now_s();
    test_checkpoints();
    printf("checkpoints %.1fs\n", now_s() - t), t = now_s();
    t = t0;
    bool sanitized = getenv("FT_SANITIZED") && strcmp(getenv("FT_SANITIZED"), "1") == 0;
    for (int c = 0; c < N_CASES; c++) {
        if (sanitized && strncmp(CASES[c], "vgg", 3) == 0) {
            printf("SKIP parity %s under FT_SANITIZED=1 (too slow under ASan; names checked above)\n", CASES[c]);
            continue;
        }
        const char *only = getenv("FT_TV_ONLY"); /* debugging: one case (+ FT_TV_REFERENCE=1: naive kernels) */
        if (getenv("FT_TV_REFERENCE")) ft_set_reference_kernels(true);
        if (!only || strcmp(only, CASES[c]) == 0) parity(CASES[c]);
    }
    double te = now_s();
    test_eval_small(); /* after the parities: its VGG reuses their heap */
    printf("eval graphs %.1fs\ntotal %.1fs\n", now_s() - te, now_s() - t);
    t_tmpdir_remove();
    TEST_END();
}
