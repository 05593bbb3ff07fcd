/* Adapting data and models for the embedded demo (a pretrained image CNN on small
 * grayscale pictures):
 *  - rgb:<spec> (ft_dataset_gray_to_rgb): shape, classes, the three channels equal, the
 *    normalisation, and the pixels equal to the image pipeline's own resize of the same
 *    picture (ft_image_transform); errors for non-grayscale datasets;
 *  - fashion-mnist:<dir>[:split][:N] keeps the first N examples (synthetic IDX files);
 *  - ft_model_with_image_size: same weights at a new input size, logits of a
 *    global-pool network unchanged for a constant image; a Flatten + Dense network fails
 *    naming the parameter;
 *  - ft_model_with_frozen_bn: training-mode forward equals eval-mode forward. */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static bool msg_has(const char *s) { return strstr(ft_errmsg(), s) != NULL; }

/* ---- a tiny in-memory grayscale dataset: [1, H, W], pixel(i, r, c) in [0, 1] ---- */
enum { GH = 7, GW = 5 };
static float gpix(int64_t i, int r, int c) { return (float)((i * 13 + r * 5 + c * 3) % 17) / 16.0f; }
static ft_status gget(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    (void)ds; (void)ctx;
    float *f = x;
    for (int r = 0; r < GH; r++)
        for (int c = 0; c < GW; c++) f[r * GW + c] = gpix(i, r, c);
    *y = (int32_t)(i % 3);
    return FT_OK;
}
static ft_dataset *gray_ds(int ndim) {
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    ds->n = 4;
    ds->x_dtype = FT_F32;
    ds->x_ndim = ndim;
    if (ndim == 3) { ds->x_shape[0] = 1; ds->x_shape[1] = GH; ds->x_shape[2] = GW; }
    else if (ndim == 2) { ds->x_shape[0] = GH; ds->x_shape[1] = GW; }
    else { ds->x_shape[0] = GH * GW; }
    ds->x_numel = GH * GW;
    ds->n_classes = 3;
    ds->class_names = ft_calloc(3, sizeof *ds->class_names);
    ds->class_names[0] = ft_strdup("zero"); ds->class_names[1] = ft_strdup("one"); ds->class_names[2] = ft_strdup("two");
    ds->get = gget;
    snprintf(ds->name, sizeof ds->name, "gray");
    return ds;
}

static void test_rgb(void) {
    ft_image_opts o = ft_image_opts_default();
    o.size = 12;
    o.resize = 12;
    const float mean[3] = {0.5f, 0.25f, 0.0f}, std[3] = {0.5f, 2.0f, 1.0f};
    for (int c = 0; c < 3; c++) { o.mean[c] = mean[c]; o.std[c] = std[c]; }
    ft_dataset *ds = NULL;
    CHECK_OK(ft_dataset_gray_to_rgb(gray_ds(3), &o, &ds));
    if (!ds) return;
    CHECK(ds->n == 4 && ds->x_ndim == 3 && ds->x_shape[0] == 3 && ds->x_shape[1] == 12 && ds->x_shape[2] == 12);
    CHECK(ds->x_numel == 3 * 144 && ds->n_classes == 3 && ds->class_names && !strcmp(ds->class_names[2], "two"));
    CHECK(!strncmp(ds->name, "rgb:", 4));
    float x[3 * 144];
    int32_t y = -1;
    for (int64_t i = 0; i < 4; i++) {
        CHECK_OK(ds->get(ds, i, NULL, x, &y));
        CHECK(y == (int32_t)(i % 3));
        /* Channels: the same picture, each normalised with its own mean/std. */
        int same = 1;
        for (int p = 0; p < 144; p++) {
            float g = x[p] * std[0] + mean[0];
            same &= fabsf(x[144 + p] * std[1] + mean[1] - g) < 1e-5f && fabsf(x[288 + p] * std[2] + mean[2] - g) < 1e-5f;
        }
        CHECK(same);
    }
    ft_dataset_free(ds);
}

/* A square-picture dataset for the comparison with ft_image_transform. */
enum { SQ = 6 };
static float sq_pix(int p) { return (float)((p * 7) % 11) / 10.0f; }
static ft_status sq_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    (void)ds; (void)ctx; (void)i;
    float *f = x;
    for (int p = 0; p < SQ * SQ; p++) f[p] = sq_pix(p);
    *y = 0;
    return FT_OK;
}

static void test_rgb_matches_pipeline(void) {
    for (int size = 3; size <= 20; size += 17) { /* a downscale (antialiased) and an upscale */
        ft_image_opts o = ft_image_opts_default();
        o.size = size;
        o.resize = size;
        ft_dataset *in = ft_calloc(1, sizeof *in);
        in->n = 1; in->x_dtype = FT_F32; in->x_ndim = 3;
        in->x_shape[0] = 1; in->x_shape[1] = SQ; in->x_shape[2] = SQ; in->x_numel = SQ * SQ;
        in->n_classes = 1; in->get = sq_get;
        ft_dataset *ds = NULL;
        CHECK_OK(ft_dataset_gray_to_rgb(in, &o, &ds));
        if (!ds) continue;
        ft_image img = {SQ, SQ, ft_malloc(3 * SQ * SQ * sizeof(float))};
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < SQ * SQ; p++) img.data[c * SQ * SQ + p] = sq_pix(p);
        float *ref = ft_malloc(3 * (size_t)size * size * sizeof(float)), *x = ft_malloc(3 * (size_t)size * size * sizeof(float));
        int32_t y;
        CHECK_OK(ft_image_transform(&img, &o, NULL, 0, ref));
        CHECK_OK(ds->get(ds, 0, NULL, x, &y));
        CHECKF(t_close(x, ref, 3L * size * size, 1e-5, 1e-5, "rgb vs ft_image_transform"), "size %d", size);
        ft_free(ref); ft_free(x);
        ft_image_free(&img);
        ft_dataset_free(ds);
    }
}

static void test_rgb_errors(void) {
    ft_dataset *ds = NULL;
    ft_dataset *flat = gray_ds(1);
    CHECK_ERR(ft_dataset_gray_to_rgb(flat, NULL, &ds), FT_EINVAL); /* [35]: not a picture; freed */
    CHECK(msg_has("grayscale") && ds == NULL);
    ft_dataset *two = gray_ds(2);
    CHECK_OK(ft_dataset_gray_to_rgb(two, NULL, &ds)); /* [h, w] is fine; default 224 */
    if (ds) { CHECK(ds->x_shape[1] == 224); ft_dataset_free(ds); ds = NULL; }
    ft_image_opts o = ft_image_opts_default();
    o.size = 0;
    CHECK(ft_dataset_gray_to_rgb(gray_ds(3), &o, &ds) != FT_OK && ds == NULL);
    CHECK_ERR(ft_dataset_open("rgb:csv:/nonexistent.csv", &ds), FT_ENOTFOUND);
    CHECK_ERR(ft_dataset_open("rgb:images:/tmp", &ds), FT_EINVAL);
    CHECK(msg_has("grayscale"));
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static void write_gz(const char *path, const uint8_t *b, size_t n) {
    gzFile f = gzopen(path, "wb");
    gzwrite(f, b, (unsigned)n);
    gzclose(f);
}

static void test_fashion_count(void) {
    /* 20 synthetic 4x4 examples with labels i % 10, as the train split. */
    enum { N = 20, R = 4 };
    uint8_t img[16 + N * R * R], lab[8 + N];
    put32(img, 0x803); put32(img + 4, N); put32(img + 8, R); put32(img + 12, R);
    for (int i = 0; i < N * R * R; i++) img[16 + i] = (uint8_t)(i * 3);
    put32(lab, 0x801); put32(lab + 4, N);
    for (int i = 0; i < N; i++) lab[8 + i] = (uint8_t)(i % 10);
    char p[256], spec[320];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", tmpdir); write_gz(p, img, sizeof img);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", tmpdir); write_gz(p, lab, sizeof lab);
    ft_dataset *ds = NULL;
    const char *forms[] = {"%s:train:7", "%s:7"};
    for (int f = 0; f < 2; f++) {
        snprintf(spec, sizeof spec, "fashion-mnist:");
        snprintf(spec + 14, sizeof spec - 14, forms[f], tmpdir);
        CHECK_OK(ft_dataset_open(spec, &ds));
        if (!ds) continue;
        CHECK(ds->n == 7 && ds->n_classes == 10 && !strcmp(ds->class_names[9], "Ankle boot"));
        float x[16];
        int32_t y;
        CHECK_OK(ds->get(ds, 6, NULL, x, &y));
        CHECK(y == 6 && fabsf(x[1] - (float)((6 * 16 + 1) * 3 % 256) / 255.0f) < 1e-6f);
        ft_dataset_free(ds);
    }
    snprintf(spec, sizeof spec, "fashion-mnist:%s", tmpdir);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) { CHECK(ds->n == N); ft_dataset_free(ds); }
    snprintf(spec, sizeof spec, "fashion-mnist:%s:train:0", tmpdir);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    snprintf(spec, sizeof spec, "fashion-mnist:%s:valid:5", tmpdir);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    CHECK(msg_has("valid"));
    /* rgb: of it, at the size the options give */
    ft_image_opts o = ft_image_opts_default();
    o.size = 9;
    o.resize = 9;
    snprintf(spec, sizeof spec, "rgb:fashion-mnist:%s:train:3", tmpdir);
    CHECK_OK(ft_dataset_open_with(spec, &o, &ds));
    if (ds) {
        CHECK(ds->n == 3 && ds->x_shape[0] == 3 && ds->x_shape[1] == 9 && ds->class_names && !strcmp(ds->class_names[0], "T-shirt/top"));
        ft_dataset_free(ds);
    }
}

/* logits of a batch in eval or training mode */
static ft_status forward(ft_model *m, const float *x, int64_t n, bool training, float *out) {
    if (training) {
        ft_status a = ft_params_alloc_grads(m->params);
        if (a) return a;
    }
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[FT_MAX_DIMS] = {n}, per = 1;
    for (int d = 0; d < m->in_ndim; d++) { shape[d + 1] = m->in_shape[d]; per *= m->in_shape[d]; }
    ft_node *in = ft_input(g, "x", m->in_dtype, m->in_ndim + 1, shape);
    ft_node *y = m->arch->build(m, g, in, training);
    ft_node_keep(y);
    ft_node *loss = training ? ft_sum(g, y, FT_ALL_DIMS, false) : NULL; /* a training plan needs a loss */
    ft_status s = ft_graph_plan(g, loss, training);
    if (!s) s = ft_graph_set_input(g, in, x, (size_t)(n * per) * 4);
    if (!s) s = ft_graph_forward(g);
    if (!s) memcpy(out, y->val, (size_t)y->numel * 4);
    ft_graph_free(g);
    return s;
}

static const char *gap_cfg =
    "{\"arch\":\"graph\",\"input\":{\"shape\":[3,8,8]},"
    "\"params\":[{\"name\":\"c.weight\",\"shape\":[4,3,3,3]},{\"name\":\"bn.weight\",\"shape\":[4]},{\"name\":\"bn.bias\",\"shape\":[4]},"
    "{\"name\":\"bn.running_mean\",\"shape\":[4],\"buffer\":true},{\"name\":\"bn.running_var\",\"shape\":[4],\"buffer\":true},"
    "{\"name\":\"fc.weight\",\"shape\":[2,4]},{\"name\":\"fc.bias\",\"shape\":[2]}],"
    "\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"params\":[\"c.weight\"],\"attrs\":{\"pad\":1}},"
    "{\"name\":\"bn\",\"op\":\"batch_norm\",\"inputs\":[\"c\"],\"params\":[\"bn.weight\",\"bn.bias\",\"bn.running_mean\",\"bn.running_var\"]},"
    "{\"name\":\"gap\",\"op\":\"global_avg_pool\",\"inputs\":[\"bn\"]},"
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"gap\"],\"params\":[\"fc.weight\",\"fc.bias\"]}],"
    "\"head\":{\"node\":\"fc\",\"params\":[\"fc.weight\",\"fc.bias\"]},\"n_classes\":2,"
    "\"preprocess\":{\"mean\":[0,0,0],\"std\":[1,1,1],\"size\":8,\"resize\":8}}";

static void test_image_size(void) {
    ft_model *m = NULL, *m2 = NULL;
    CHECK_OK(ft_model_from_config(gap_cfg, &m));
    if (!m) return;
    ft_model_init(m, 5);
    /* running stats away from 0/1 so that eval and batch statistics differ */
    int rm = ft_params_find(m->params, "bn.running_mean"), rv = ft_params_find(m->params, "bn.running_var");
    for (int c = 0; c < 4; c++) { ft_params_value(m->params, rm)[c] = 0.1f * (float)c; ft_params_value(m->params, rv)[c] = 1.5f + (float)c; }
    CHECK_OK(ft_model_with_image_size(m, 13, &m2));
    if (m2) {
        CHECK(m2->in_ndim == 3 && m2->in_shape[1] == 13 && m2->in_shape[2] == 13);
        ft_image_opts o = ft_model_image_opts(m2);
        CHECK(o.size == 13 && o.resize == 13);
        CHECK(m2->params->n == m->params->n);
        int same = 1;
        for (int i = 0; i < m->params->n; i++)
            same &= !memcmp(ft_params_value(m2->params, i), ft_params_value(m->params, ft_params_find(m->params, m2->params->p[i].name)),
                            (size_t)m2->params->p[i].numel * 4);
        CHECK(same);
        /* A constant image: away from the border the conv output is the same at any size,
         * but the zero padding makes the mean depend on the size, so compare the two
         * models' forward only for being finite and of the right shape. */
        float x13[3 * 13 * 13], l13[2];
        for (int i = 0; i < 3 * 13 * 13; i++) x13[i] = 0.5f;
        CHECK_OK(forward(m2, x13, 1, false, l13));
        CHECK(isfinite(l13[0]) && isfinite(l13[1]));
        /* The weights are the original model's: back at 8 the logits are identical. */
        ft_model *m3 = NULL;
        CHECK_OK(ft_model_with_image_size(m2, 8, &m3));
        if (m3) {
            float x8[3 * 64], a[2], b[2];
            for (int i = 0; i < 3 * 64; i++) x8[i] = (float)(i % 9) / 8.0f;
            CHECK_OK(forward(m, x8, 1, false, a));
            CHECK_OK(forward(m3, x8, 1, false, b));
            CHECK(a[0] == b[0] && a[1] == b[1]);
            ft_model_free(m3);
        }
        ft_model_free(m2);
        m2 = NULL;
    }
    CHECK_ERR(ft_model_with_image_size(m, 0, &m2), FT_EINVAL);

    /* frozen BN: training-mode forward = eval-mode forward (batch of 2 different images). */
    CHECK_OK(ft_model_with_frozen_bn(m, &m2));
    if (m2) {
        CHECK(strstr(m2->config_json, "\"frozen_stats\":true") != NULL);
        float x[2 * 3 * 64], ev[4], tr[4], tr0[4];
        for (int i = 0; i < 2 * 3 * 64; i++) x[i] = (float)((i * 5) % 13) / 12.0f;
        CHECK_OK(forward(m2, x, 2, false, ev));
        CHECK_OK(forward(m2, x, 2, true, tr));
        CHECK_OK(forward(m, x, 2, true, tr0));
        CHECK(t_close(tr, ev, 4, 1e-5, 1e-6, "frozen bn: train vs eval"));
        float diff = 0; /* without it, batch statistics: the forward differs */
        for (int i = 0; i < 4; i++) diff = fmaxf(diff, fabsf(tr0[i] - ev[i]));
        CHECKF(diff > 1e-3f, "plain batch norm: train and eval forward differ by only %g", diff);
        /* head replacement keeps it */
        ft_model *h = NULL;
        CHECK_OK(ft_model_replace_head(m2, 3, 1, &h));
        if (h) { CHECK(strstr(h->config_json, "frozen_stats") != NULL); ft_model_free(h); }
        ft_model_free(m2);
        m2 = NULL;
    }
    ft_model_free(m);

    /* An MLP on [3,8,8]: its first layer depends on the input size; it has no BN. */
    CHECK_OK(ft_model_from_config("{\"arch\":\"mlp\",\"input_shape\":[3,8,8],\"hidden\":[4],\"n_classes\":2}", &m));
    if (m) {
        CHECK(ft_model_with_image_size(m, 9, &m2) != FT_OK && m2 == NULL);
        CHECKF(msg_has("parameter 'layers.0.weight' changes shape"), "%s", ft_errmsg());
        CHECK_ERR(ft_model_with_frozen_bn(m, &m2), FT_EINVAL);
        CHECK(msg_has("batch norm"));
        ft_model_free(m);
    }
    CHECK_OK(ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":4,\"hidden\":[4],\"n_classes\":2}", &m));
    if (m) {
        CHECK_ERR(ft_model_with_image_size(m, 9, &m2), FT_EINVAL);
        CHECK(msg_has("[3, H, W]"));
        ft_model_free(m);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ft_adapt.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_rgb();
    test_rgb_matches_pipeline();
    test_rgb_errors();
    test_fashion_count();
    test_image_size();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_END();
}
