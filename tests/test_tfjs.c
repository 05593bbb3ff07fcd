/* TF.js layers import (src/import/tfjs.c).
 *
 * Always run (no downloads):
 *  - hand-computed Dense models: float32, uint8 (q * scale + min) and float16 weights, old
 *    Sequential (a bare layer list) and Keras 3 ("keras_history") topologies;
 *  - a conv/bn/relu6/depthwise/flatten/dense model written here, checked against a naive
 *    channels_last implementation of the Keras layers in this file (float32 and uint8);
 *  - tests/fixtures/tfjs_tiny: a model built and saved by tfjs-layers itself (conv "same"
 *    with odd sizes, BN without gamma, depthwise x2, add, max/avg pool "same", concat,
 *    zero padding, flatten of a 3x2x6 map, reshape to a sequence, dense on 3-D, global
 *    pool), float32 and uint8, against logits TF.js computed (tests/gen/gen_tfjs_ref.js);
 *  - errors: missing/short/long shard, manifest and layer shapes that disagree, unknown
 *    layer type, bad JSON, a TF.js graph model, unsafe shard paths, allocation failures;
 *  - ft_model_load dispatch, export + reload, head replacement, a training step.
 * With data-cache/nsfwjs (scripts/fetch-nsfwjs.sh): the real nsfwjs MobileNetV2 and
 * InceptionV3 against TF.js's logits on a noise input and (with ../shared) two photos, plus
 * a demonstration that Keras's BN epsilon and padding side matter at that tolerance. */
#include "test.h"
#include "finetune/import.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------- helpers ---------------- */

static char tmpdir[256];

static void write_bytes(const char *name, const void *data, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(1); }
    if (n && fwrite(data, 1, n, f) != n) { perror(p); exit(1); }
    fclose(f);
}
static void write_text(const char *name, const char *text) { write_bytes(name, text, strlen(text)); }
static void rm(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
}
static const char *tpath(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* lowbias32; mirrored by tests/gen/gen_tfjs_ref.js. */
static uint32_t hash_u32(uint32_t x) {
    x ^= x >> 16; x *= 0x7feb352du;
    x ^= x >> 15; x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}
static float hash_u01(uint32_t i, uint32_t seed) { return (float)(hash_u32(i + seed * 0x9e3779b9u) >> 8) / 16777216.0f; }

/* Forward a batch; x is NCHW (or [n, features]); logits [n, m->n_classes] into out. */
static ft_status run_model(ft_model *m, const float *x, int64_t n, float *out) {
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[FT_MAX_DIMS] = {n};
    int64_t per = 1;
    for (int d = 0; d < m->in_ndim; d++) { shape[d + 1] = m->in_shape[d]; per *= m->in_shape[d]; }
    ft_node *in = ft_input(g, "x", m->in_dtype, m->in_ndim + 1, shape);
    ft_node *lg = m->arch->build(m, g, in, false);
    ft_node_keep(lg);
    ft_status s = ft_graph_plan(g, NULL, false);
    if (!s) s = ft_graph_set_input(g, in, x, (size_t)(n * per) * 4);
    if (!s) s = ft_graph_forward(g);
    if (!s) memcpy(out, lg->val, (size_t)lg->numel * 4);
    ft_graph_free(g);
    return s;
}

/* NHWC [n, H, W, C] -> NCHW. */
static float *to_nchw(const float *x, int n, int H, int W, int C) {
    float *y = ft_malloc((size_t)n * H * W * C * sizeof *y);
    for (int b = 0; b < n; b++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int c = 0; c < C; c++) y[(((size_t)b * C + c) * H + h) * W + w] = x[(((size_t)b * H + h) * W + w) * C + c];
    return y;
}

static void softmax(float *v, int n) {
    double mx = v[0], sum = 0;
    for (int i = 1; i < n; i++) mx = v[i] > mx ? v[i] : mx;
    for (int i = 0; i < n; i++) sum += exp((double)v[i] - mx);
    for (int i = 0; i < n; i++) v[i] = (float)(exp((double)v[i] - mx) / sum);
}

static int argmax(const float *v, int n) {
    int k = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[k]) k = i;
    return k;
}

static bool msg_has(const char *a, const char *b) {
    const char *m = ft_errmsg();
    bool ok = strstr(m, a) && (!b || strstr(m, b));
    if (!ok) fprintf(stderr, "  message: %s\n", m);
    return ok;
}

static json_t *config_of(const ft_model *m) { return json_loads(m->config_json, 0, NULL); }

/* ---------------- hand-computed Dense models ---------------- */

/* A one-Dense functional model: x [2] -> Dense(2) (activation act). */
static void dense_json(char *out, size_t cap, const char *act, const char *kq, const char *bq) {
    snprintf(out, cap,
             "{\"format\": \"layers-model\", \"modelTopology\": {\"keras_version\": \"2.2.4\", \"model_config\": {\"class_name\": \"Model\", "
             "\"config\": {\"name\": \"m\", \"layers\": ["
             "{\"name\": \"in\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 2], \"dtype\": \"float32\", \"name\": \"in\"}, \"inbound_nodes\": []},"
             "{\"name\": \"d\", \"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2, \"activation\": \"%s\", \"use_bias\": true}, "
             "\"inbound_nodes\": [[[\"in\", 0, 0, {}]]]}],"
             "\"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"d\", 0, 0]]}}},"
             "\"weightsManifest\": [{\"paths\": [\"w.bin\"], \"weights\": ["
             "{\"name\": \"d/kernel\", \"shape\": [2, 2], \"dtype\": \"float32\"%s},"
             "{\"name\": \"d/bias\", \"shape\": [2], \"dtype\": \"float32\"%s}]}]}",
             act, kq, bq);
}

static void check_dense(ft_model *m, const char *what) {
    const float x[4] = {1, 1, 2, -1}, want[4] = {4.5f, 5.0f, -0.5f, -1.0f};
    float y[4] = {0};
    CHECK_OK(run_model(m, x, 2, y));
    CHECKF(t_close(y, want, 4, 0, 1e-6, what), "%s: %g %g %g %g", what, y[0], y[1], y[2], y[3]);
}

static void test_dense_exact(void) {
    /* kernel [in, out] = [[1, 2], [3, 4]]: y0 = x0 + 3 x1 + 0.5, y1 = 2 x0 + 4 x1 - 1 */
    const float kf[6] = {1, 2, 3, 4, 0.5f, -1};
    char js[4096];
    ft_model *m = NULL;

    dense_json(js, sizeof js, "softmax", "", "");
    write_text("model.json", js);
    write_bytes("w.bin", kf, sizeof kf);
    CHECK_OK(ft_import_tfjs(tmpdir, &m));
    if (m) {
        check_dense(m, "float32");
        CHECK(m->n_classes == 2 && m->head_patterns && !strcmp(m->head_patterns, "d.weight,d.bias"));
        int w = ft_params_find(m->params, "d.weight");
        CHECK(w >= 0 && m->params->p[w].shape[0] == 2 && ft_params_value(m->params, w)[1] == 3.0f); /* [out, in] */
        json_t *c = config_of(m);
        CHECK(json_is_true(json_object_get(json_object_get(c, "source"), "dropped_softmax")));
        CHECK(!strcmp(json_string_value(json_object_get(json_object_get(c, "input"), "name")), "in"));
        json_decref(c);
        ft_model_free(m);
    }

    /* uint8: value = q * scale + min with min -1, scale 0.5 */
    dense_json(js, sizeof js, "linear", ", \"quantization\": {\"dtype\": \"uint8\", \"min\": -1, \"scale\": 0.5}",
               ", \"quantization\": {\"scale\": 0.5, \"min\": -1.0, \"dtype\": \"uint8\"}");
    const uint8_t q8[6] = {4, 6, 8, 10, 3, 0};
    write_text("model.json", js);
    write_bytes("w.bin", q8, sizeof q8);
    CHECK_OK(ft_import_tfjs(tpath("model.json"), &m));
    if (m) { check_dense(m, "uint8"); ft_model_free(m); }

    /* uint16, little-endian: q = 2 * value + 2 with min -1, scale 0.5 */
    dense_json(js, sizeof js, "linear", ", \"quantization\": {\"dtype\": \"uint16\", \"min\": -1, \"scale\": 0.5}",
               ", \"quantization\": {\"dtype\": \"uint16\", \"min\": -1, \"scale\": 0.5}");
    const uint8_t q16[12] = {4, 0, 6, 0, 8, 0, 10, 0, 3, 0, 0, 0};
    write_text("model.json", js);
    write_bytes("w.bin", q16, sizeof q16);
    CHECK_OK(ft_import_tfjs(tmpdir, &m));
    if (m) { check_dense(m, "uint16"); ft_model_free(m); }

    /* float16: 1, 2, 3, 4, 0.5, -1 */
    dense_json(js, sizeof js, "linear", ", \"quantization\": {\"dtype\": \"float16\"}", ", \"quantization\": {\"dtype\": \"float16\"}");
    const uint8_t h[12] = {0x00, 0x3c, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44, 0x00, 0x38, 0x00, 0xbc};
    write_text("model.json", js);
    write_bytes("w.bin", h, sizeof h);
    CHECK_OK(ft_import_tfjs(tmpdir, &m));
    if (m) { check_dense(m, "float16"); ft_model_free(m); }

    /* float16 subnormal and negative zero survive */
    const uint8_t hs[12] = {0x01, 0x00, 0x00, 0x80, 0xff, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    write_bytes("w.bin", hs, sizeof hs);
    CHECK_OK(ft_import_tfjs(tmpdir, &m));
    if (m) {
        const float *w = ft_params_value(m->params, ft_params_find(m->params, "d.weight")); /* [out, in]: k00 k10 / k01 k11 */
        CHECK(w[0] == ldexpf(1.0f, -24) && w[0] > 0 && w[1] == 65504.0f && w[2] == 0.0f && signbit(w[2]));
        ft_model_free(m);
    }

    /* The old Sequential form (config is the bare list) and the same weights. */
    const char *seq = "{\"modelTopology\": {\"class_name\": \"Sequential\", \"config\": ["
                      "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2, \"batch_input_shape\": [null, 2], \"activation\": \"linear\"}},"
                      "{\"class_name\": \"Activation\", \"config\": {\"name\": \"sm\", \"activation\": \"softmax\"}}]},"
                      "\"weightsManifest\": [{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"d/bias\", \"shape\": [2], \"dtype\": \"float32\"},"
                      "{\"name\": \"d/kernel\", \"shape\": [2, 2], \"dtype\": \"float32\"}]}]}";
    const float kb[6] = {0.5f, -1, 1, 2, 3, 4};
    write_text("seq.json", seq);
    write_bytes("w.bin", kb, sizeof kb);
    CHECK_OK(ft_import_tfjs(tpath("seq.json"), &m));
    if (m) {
        check_dense(m, "sequential");
        CHECK(m->head_patterns && !strcmp(m->head_patterns, "d.weight,d.bias"));
        ft_model_free(m);
    }

    /* Keras 3: Functional, inbound nodes with keras_history, flat input/output_layers,
     * batch_shape; shards split mid-weight across two files. */
    const char *k3 = "{\"modelTopology\": {\"model_config\": {\"class_name\": \"Functional\", \"config\": {\"name\": \"f\", \"layers\": ["
                     "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 2], \"name\": \"x\"}, \"inbound_nodes\": []},"
                     "{\"name\": \"d\", \"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2, \"activation\": \"softmax\"},"
                     " \"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 2], \"dtype\": \"float32\","
                     " \"keras_history\": [\"x\", 0, 0]}}], \"kwargs\": {}}]}],"
                     "\"input_layers\": [\"x\", 0, 0], \"output_layers\": [\"d\", 0, 0]}}},"
                     "\"weightsManifest\": [{\"paths\": [\"a.bin\", \"b.bin\"], \"weights\": [{\"name\": \"d/kernel\", \"shape\": [2, 2], \"dtype\": \"float32\"},"
                     "{\"name\": \"d/bias\", \"shape\": [2], \"dtype\": \"float32\"}]}]}";
    write_text("k3.json", k3);
    write_bytes("a.bin", kf, 10);
    write_bytes("b.bin", (const uint8_t *)kf + 10, sizeof kf - 10);
    CHECK_OK(ft_import_tfjs(tpath("k3.json"), &m));
    if (m) { check_dense(m, "keras 3"); ft_model_free(m); }
    rm("seq.json");
    rm("k3.json");
    rm("a.bin");
    rm("b.bin");
}

/* ---------------- a conv model against a naive channels_last reference ---------------- */

enum { SH = 6, SW = 5, SC = 2, C1 = 3, DM = 2, NCLS = 3 };
/* Keras layouts: c1 kernel [3,3,SC,C1] (stride 2, same), bias [C1]; bn gamma/beta/mean/var
 * [C1]; dw kernel [2,2,C1,DM] (same), bias [C1*DM]; dense kernel [3*3*C1*DM, NCLS], bias. */
typedef struct {
    float c1k[3 * 3 * SC * C1], c1b[C1], g[C1], b[C1], mu[C1], var[C1], dwk[2 * 2 * C1 * DM], dwb[C1 * DM], dk[3 * 3 * C1 * DM * NCLS], db[NCLS];
} conv_weights;

static void fill_weights(conv_weights *w, bool quantized) {
    float *all = (float *)w;
    size_t n = sizeof *w / sizeof(float);
    for (size_t i = 0; i < n; i++) {
        float u = hash_u01((uint32_t)i, 3);
        all[i] = quantized ? (float)((int)(u * 256) * 0.01 - 1.2) : 2 * u - 1; /* q * scale + min */
    }
    for (int c = 0; c < C1; c++) w->var[c] = quantized ? (float)((int)(hash_u01(c, 5) * 256) * 0.01 + 0.1) : 0.3f + hash_u01(c, 5);
}

static float relu6f(double v) { return (float)(v < 0 ? 0 : v > 6 ? 6 : v); }

/* The Keras computation, written from the layer definitions: NHWC, TF "same" padding. */
static void reference_forward(const conv_weights *w, const float *x /* [SH,SW,SC] */, float *logits) {
    /* conv 3x3 stride 2 same: out 3x3, H pads 0/1, W pads 1/1 */
    float a[3][3][C1], d[3][3][C1 * DM];
    for (int oy = 0; oy < 3; oy++)
        for (int ox = 0; ox < 3; ox++)
            for (int o = 0; o < C1; o++) {
                double s = w->c1b[o];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = oy * 2 + ky - 0, ix = ox * 2 + kx - 1;
                        if (iy < 0 || iy >= SH || ix < 0 || ix >= SW) continue;
                        for (int c = 0; c < SC; c++) s += (double)x[(iy * SW + ix) * SC + c] * w->c1k[((ky * 3 + kx) * SC + c) * C1 + o];
                    }
                double bn = (s - w->mu[o]) / sqrt((double)w->var[o] + 1e-3) * w->g[o] + w->b[o];
                a[oy][ox][o] = relu6f(bn);
            }
    /* depthwise 2x2 same, multiplier DM: pads 0 before, 1 after; output channel c*DM + k */
    for (int oy = 0; oy < 3; oy++)
        for (int ox = 0; ox < 3; ox++)
            for (int c = 0; c < C1; c++)
                for (int k = 0; k < DM; k++) {
                    double s = w->dwb[c * DM + k];
                    for (int ky = 0; ky < 2; ky++)
                        for (int kx = 0; kx < 2; kx++) {
                            int iy = oy + ky, ix = ox + kx;
                            if (iy >= 3 || ix >= 3) continue;
                            s += (double)a[iy][ix][c] * w->dwk[((ky * 2 + kx) * C1 + c) * DM + k];
                        }
                    d[oy][ox][c * DM + k] = (float)s;
                }
    /* flatten in HWC order, dense */
    const float *f = &d[0][0][0];
    for (int j = 0; j < NCLS; j++) {
        double s = w->db[j];
        for (int i = 0; i < 3 * 3 * C1 * DM; i++) s += (double)f[i] * w->dk[i * NCLS + j];
        logits[j] = (float)s;
    }
}

static const char *conv_model_json(char *out, size_t cap, bool quantized) {
    const char *qz = quantized ? ", \"quantization\": {\"dtype\": \"uint8\", \"min\": -1.2, \"scale\": 0.01}" : "";
    const char *qv = quantized ? ", \"quantization\": {\"dtype\": \"uint8\", \"min\": 0.1, \"scale\": 0.01}" : "";
    snprintf(out, cap,
             "{\"modelTopology\": {\"model_config\": {\"class_name\": \"Model\", \"config\": {\"layers\": ["
             "{\"name\": \"img\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %d, %d, %d]}, \"inbound_nodes\": []},"
             "{\"name\": \"c1\", \"class_name\": \"Conv2D\", \"config\": {\"filters\": %d, \"kernel_size\": [3, 3], \"strides\": [2, 2], \"padding\": \"same\","
             " \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], \"activation\": \"linear\", \"use_bias\": true}, \"inbound_nodes\": [[[\"img\", 0, 0, {}]]]},"
             "{\"name\": \"bn\", \"class_name\": \"BatchNormalization\", \"config\": {\"axis\": -1, \"momentum\": 0.99, \"epsilon\": 0.001, \"center\": true, \"scale\": true},"
             " \"inbound_nodes\": [[[\"c1\", 0, 0, {}]]]},"
             "{\"name\": \"r\", \"class_name\": \"ReLU\", \"config\": {\"max_value\": 6.0, \"negative_slope\": 0.0, \"threshold\": 0.0}, \"inbound_nodes\": [[[\"bn\", 0, 0, {}]]]},"
             "{\"name\": \"dw\", \"class_name\": \"DepthwiseConv2D\", \"config\": {\"kernel_size\": 2, \"strides\": 1, \"padding\": \"same\", \"depth_multiplier\": %d,"
             " \"use_bias\": true, \"activation\": \"linear\"}, \"inbound_nodes\": [[[\"r\", 0, 0, {}]]]},"
             "{\"name\": \"f\", \"class_name\": \"Flatten\", \"config\": {}, \"inbound_nodes\": [[[\"dw\", 0, 0, {}]]]},"
             "{\"name\": \"out\", \"class_name\": \"Dense\", \"config\": {\"units\": %d, \"activation\": \"softmax\"}, \"inbound_nodes\": [[[\"f\", 0, 0, {}]]]}],"
             "\"input_layers\": [[\"img\", 0, 0]], \"output_layers\": [[\"out\", 0, 0]]}}},"
             "\"weightsManifest\": [{\"paths\": [\"conv.bin\"], \"weights\": ["
             "{\"name\": \"c1/kernel\", \"shape\": [3, 3, %d, %d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"c1/bias\", \"shape\": [%d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"bn/gamma\", \"shape\": [%d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"bn/beta\", \"shape\": [%d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"bn/moving_mean\", \"shape\": [%d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"bn/moving_variance\", \"shape\": [%d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"dw/depthwise_kernel\", \"shape\": [2, 2, %d, %d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"dw/bias\", \"shape\": [%d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"out/kernel\", \"shape\": [%d, %d], \"dtype\": \"float32\"%s},"
             "{\"name\": \"out/bias\", \"shape\": [%d], \"dtype\": \"float32\"%s}]}]}",
             SH, SW, SC, C1, DM, NCLS, SC, C1, qz, C1, qz, C1, qz, C1, qz, C1, qz, C1, qv, C1, DM, qz, C1 * DM, qz, 9 * C1 * DM, NCLS, qz,
             NCLS, qz);
    return out;
}

/* The weights as the .bin holds them: float32, or uint8 q with value = q * 0.01 + min. */
static size_t conv_model_bin(const conv_weights *w, bool quantized, uint8_t *out) {
    const float *all = (const float *)w;
    size_t n = sizeof *w / sizeof(float);
    if (!quantized) {
        memcpy(out, all, n * 4);
        return n * 4;
    }
    size_t var0 = (size_t)(w->var - all);
    for (size_t i = 0; i < n; i++) {
        double mn = i >= var0 && i < var0 + C1 ? 0.1 : -1.2;
        out[i] = (uint8_t)lround((all[i] - mn) / 0.01);
    }
    return n;
}

static void test_conv_reference(void) {
    for (int qz = 0; qz < 2; qz++) {
        conv_weights w;
        fill_weights(&w, qz);
        static char js[16384];
        static uint8_t bin[sizeof(conv_weights)];
        write_text("model.json", conv_model_json(js, sizeof js, qz));
        write_bytes("conv.bin", bin, conv_model_bin(&w, qz, bin));
        ft_model *m = NULL;
        CHECK_OK(ft_import_tfjs(tmpdir, &m));
        if (!m) continue;
        CHECK(m->in_ndim == 3 && m->in_shape[0] == SC && m->in_shape[1] == SH && m->in_shape[2] == SW && m->n_classes == NCLS);
        float x[2][SH * SW * SC], want[2][NCLS], got[2][NCLS];
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < SH * SW * SC; i++) x[b][i] = 4 * hash_u01((uint32_t)(i + b * 1000), 9) - 2;
            reference_forward(&w, x[b], want[b]);
        }
        float *xc = to_nchw(&x[0][0], 2, SH, SW, SC);
        CHECK_OK(run_model(m, xc, 2, &got[0][0]));
        CHECKF(t_close(&got[0][0], &want[0][0], 2 * NCLS, 1e-5, 1e-5, "conv model"), "%s weights: %g %g %g vs %g %g %g", qz ? "uint8" : "float32",
               got[0][0], got[0][1], got[0][2], want[0][0], want[0][1], want[0][2]);
        /* the padding Keras "same" asks for, explicit: stride-2 3x3 on 6x5 pads H 0/1, W 1/1 */
        json_t *c = config_of(m), *nodes = json_object_get(c, "nodes");
        json_t *c1 = NULL, *dw = NULL;
        for (size_t i = 0; i < json_array_size(nodes); i++) {
            const char *nm = json_string_value(json_object_get(json_array_get(nodes, i), "name"));
            if (!strcmp(nm, "c1")) c1 = json_object_get(json_array_get(nodes, i), "attrs");
            if (!strcmp(nm, "dw")) dw = json_object_get(json_array_get(nodes, i), "attrs");
        }
        json_t *pad = json_object_get(c1, "pad"), *dpad = json_object_get(dw, "pad");
        CHECK(json_integer_value(json_array_get(pad, 0)) == 0 && json_integer_value(json_array_get(pad, 1)) == 1 &&
              json_integer_value(json_array_get(pad, 2)) == 1 && json_integer_value(json_array_get(pad, 3)) == 1);
        CHECK(json_integer_value(json_array_get(dpad, 0)) == 0 && json_integer_value(json_array_get(dpad, 2)) == 1 &&
              json_integer_value(json_object_get(dw, "groups")) == C1);
        json_decref(c);
        ft_free(xc);
        ft_model_free(m);
    }
}

/* Every allocation failing in turn: a clean error, never a crash or a leak. */
static void test_alloc_failures(void) {
    conv_weights w;
    fill_weights(&w, false);
    static char js[16384];
    static uint8_t bin[sizeof(conv_weights)];
    conv_model_json(js, sizeof js, false);
    size_t nb = conv_model_bin(&w, false, bin);
    int failures = 0;
    for (int k = 0; k < 100000; k++) {
        ft_model *m = NULL;
        ft_alloc_fail_after(k);
        ft_status s = ft_import_tfjs_mem(js, strlen(js), bin, nb, "conv.json", &m);
        ft_alloc_fail_after(-1);
        if (s == FT_OK) {
            CHECK(m != NULL);
            ft_model_free(m);
            break;
        }
        failures++;
        if (m) { CHECK(m == NULL); ft_model_free(m); }
    }
    CHECKF(failures > 20, "%d injected failures", failures);
}

/* ---------------- the model TF.js saved itself ---------------- */

static void test_tiny_tfjs(const ft_safetensors *ref) {
    const ft_st_tensor *xin = ref ? ft_st_find(ref, "tiny.input") : NULL;
    CHECK(xin && xin->numel == 2 * 9 * 7 * 3);
    if (!xin) return;
    float xn[2 * 9 * 7 * 3];
    CHECK_OK(ft_st_to_f32(xin, xn));
    float *x = to_nchw(xn, 2, 9, 7, 3);
    const char *files[2] = {"tests/fixtures/tfjs_tiny/model.json", "tests/fixtures/tfjs_tiny/model_u8.json"};
    const char *keys[2] = {"tiny_f32", "tiny_u8"};
    for (int v = 0; v < 2; v++) {
        ft_model *m = NULL;
        CHECK_OK(ft_model_load(files[v], &m));
        if (!m) continue;
        char key[64];
        snprintf(key, sizeof key, "%s.logits", keys[v]);
        const ft_st_tensor *lt = ft_st_find(ref, key);
        snprintf(key, sizeof key, "%s.probs", keys[v]);
        const ft_st_tensor *pt = ft_st_find(ref, key);
        CHECK(lt && pt && lt->numel == 8 && m->n_classes == 4);
        float want[8], wantp[8], got[8];
        if (lt && pt && m->n_classes == 4) {
            ft_st_to_f32(lt, want);
            ft_st_to_f32(pt, wantp);
            CHECK_OK(run_model(m, x, 2, got));
            CHECKF(t_close(got, want, 8, 1e-4, 1e-5, keys[v]), "%s logits differ from TF.js", keys[v]);
            softmax(got, 4);
            softmax(got + 4, 4);
            CHECK(t_close(got, wantp, 8, 1e-4, 1e-6, "probs"));
        }
        /* bn_a has scale=False: its gamma is a fixed buffer of ones, outside the manifest */
        int g = ft_params_find(m->params, "bn_a.weight");
        CHECK(g >= 0 && m->params->p[g].is_buffer && ft_params_value(m->params, g)[0] == 1.0f);
        int b = ft_params_find(m->params, "bn_b.weight");
        CHECK(b >= 0 && !m->params->p[b].is_buffer);
        int64_t all = 0;
        for (int i = 0; i < m->params->n; i++) all += m->params->p[i].numel;
        json_t *c = config_of(m);
        json_t *src = json_object_get(c, "source");
        CHECKF(all == 1635 + json_integer_value(json_object_get(src, "synthesized_numel")) && json_integer_value(json_object_get(src, "synthesized_numel")) == 4,
               "%lld parameter floats", (long long)all);
        CHECK(m->head_patterns && !strcmp(m->head_patterns, "dense_2.weight,dense_2.bias"));
        json_decref(c);
        ft_model_free(m);
    }
    ft_free(x);
}

/* ---------------- errors ---------------- */

static ft_status import_text(const char *js, const void *bin, size_t nb) {
    ft_model *m = NULL;
    write_text("model.json", js);
    write_bytes("w.bin", bin, nb);
    ft_status s = ft_import_tfjs(tmpdir, &m);
    CHECK((s == FT_OK) == (m != NULL));
    ft_model_free(m);
    return s;
}

/* dst = src with the first `from` replaced by `to` (the test fails if absent). */
static const char *subst(char *dst, size_t cap, const char *src, const char *from, const char *to) {
    const char *at = strstr(src, from);
    CHECKF(at != NULL, "'%s' not in the test JSON", from);
    if (!at) { snprintf(dst, cap, "%s", src); return dst; }
    snprintf(dst, cap, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
    return dst;
}

static void test_errors(void) {
    const float kf[6] = {1, 2, 3, 4, 0.5f, -1};
    char js[4096], bad[8192], bad2[8192];
    ft_model *m = NULL;
    dense_json(js, sizeof js, "linear", "", "");

    /* missing shard */
    write_text("model.json", js);
    rm("w.bin");
    CHECK_ERR(ft_import_tfjs(tmpdir, &m), FT_ENOTFOUND);
    CHECK(msg_has("w.bin", "missing") && m == NULL);
    /* short and long shards */
    CHECK_ERR(import_text(js, kf, 20), FT_EFORMAT);
    CHECK(msg_has("ends inside weight 'd/bias'", "short"));
    float more[7] = {1, 2, 3, 4, 0.5f, -1, 9};
    CHECK_ERR(import_text(js, more, sizeof more), FT_EFORMAT);
    CHECK(msg_has("28 bytes", "do not match"));
    /* manifest shape vs layer config */
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "\"shape\": [2, 2]", "\"shape\": [1, 4]"), kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("layer 'd' (Dense)", "'d/kernel' has shape [1,4]"));
    /* a weight the layer needs is not in the manifest */
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "d/bias", "d/bies"), kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("'d/bias' is not in the weightsManifest", NULL));
    /* an unknown layer type names the layer and its class */
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "\"Dense\"", "\"LSTM\""), kf, sizeof kf), FT_EUNSUPPORTED);
    CHECK(msg_has("layer 'd' (LSTM)", "unsupported layer type"));
    /* bad JSON */
    CHECK_ERR(import_text("{\"modelTopology\": {", kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("not valid JSON", NULL));
    CHECK_ERR(import_text("[1, 2]", kf, sizeof kf), FT_EFORMAT);
    CHECK_ERR(import_text("", NULL, 0), FT_EFORMAT);
    /* not a layers model */
    CHECK_ERR(import_text("{\"format\": \"graph-model\", \"modelTopology\": {\"node\": []}}", NULL, 0), FT_EUNSUPPORTED);
    CHECK(msg_has("graph", "not supported"));
    CHECK_ERR(import_text("{\"arch\": \"graph\", \"nodes\": []}", NULL, 0), FT_EFORMAT);
    CHECK(msg_has("finetune config.json", NULL));
    /* unsafe shard paths */
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "\"w.bin\"", "\"../w.bin\""), kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("paths[0]", "relative"));
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "\"w.bin\"", "\"/etc/passwd\""), kf, sizeof kf), FT_EFORMAT);
    /* activation and dtype not mapped, bad quantization */
    dense_json(bad, sizeof bad, "elu", "", "");
    CHECK_ERR(import_text(bad, kf, sizeof kf), FT_EUNSUPPORTED);
    CHECK(msg_has("layer 'd' (Dense)", "activation 'elu'"));
    dense_json(bad, sizeof bad, "linear", ", \"quantization\": {\"dtype\": \"int4\"}", "");
    CHECK_ERR(import_text(bad, kf, sizeof kf), FT_EUNSUPPORTED);
    CHECK(msg_has("'d/kernel'", "int4"));
    dense_json(bad, sizeof bad, "linear", ", \"quantization\": {\"dtype\": \"uint8\", \"min\": 0}", "");
    CHECK_ERR(import_text(bad, kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("\"min\" and \"scale\"", NULL));
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "\"float32\"", "\"complex64\""), kf, sizeof kf), FT_EUNSUPPORTED);
    /* a non-finite weight */
    float nanw[6] = {1, 2, NAN, 4, 0.5f, -1};
    CHECK_ERR(import_text(js, nanw, sizeof nanw), FT_EFORMAT);
    CHECK(msg_has("'d/kernel' has a non-finite value", NULL));
    /* a weight belonging to no layer; a weight listed twice */
    subst(bad2, sizeof bad2, js, "\"d/bias\"", "\"e/bias\"");
    CHECK_ERR(import_text(subst(bad, sizeof bad, bad2, "\"use_bias\": true", "\"use_bias\": false"), kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("'e/bias'", "belongs to no layer"));
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "\"d/bias\"", "\"d/kernel\""), kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("'d/kernel' appears twice", NULL));
    /* a dynamic input size */
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "[null, 2]", "[null, null]"), kf, sizeof kf), FT_EUNSUPPORTED);
    CHECK(msg_has("fixed input size", NULL));
    /* shared layers, two outputs, a dangling reference */
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "[[[\"in\", 0, 0, {}]]]", "[[[\"in\", 1, 0, {}]]]"), kf, sizeof kf), FT_EUNSUPPORTED);
    CHECK(msg_has("shared layers", NULL));
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "[[[\"in\", 0, 0, {}]]]", "[[[\"in\", 0, 0, {}]], [[\"in\", 0, 0, {}]]]"), kf, sizeof kf),
              FT_EUNSUPPORTED);
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "[[\"d\", 0, 0]]", "[[\"d\", 0, 0], [\"d\", 0, 0]]"), kf, sizeof kf), FT_EUNSUPPORTED);
    CHECK(msg_has("2 output_layers", NULL));
    CHECK_ERR(import_text(subst(bad, sizeof bad, js, "[[[\"in\", 0, 0, {}]]]", "[[[\"nowhere\", 0, 0, {}]]]"), kf, sizeof kf), FT_EFORMAT);
    CHECK(msg_has("'nowhere' does not exist", NULL));
    CHECK_ERR(ft_import_tfjs(tpath("nope.json"), &m), FT_ENOTFOUND);
}

/* ---------------- integration: load dispatch, export, new head, training ---------------- */

static void test_integration(void) {
    conv_weights w;
    fill_weights(&w, false);
    static char js[16384];
    static uint8_t bin[sizeof(conv_weights)];
    write_text("model.json", conv_model_json(js, sizeof js, false));
    write_bytes("conv.bin", bin, conv_model_bin(&w, false, bin));
    ft_model *m = NULL, *m2 = NULL, *h = NULL;
    CHECK_OK(ft_model_load(tmpdir, &m));          /* a directory with model.json, no config.json */
    CHECK_OK(ft_model_load(tpath("model.json"), &m2));
    if (!m || !m2) { ft_model_free(m); ft_model_free(m2); return; }
    float x[SC * SH * SW], y1[NCLS], y2[NCLS];
    for (int i = 0; i < SC * SH * SW; i++) x[i] = hash_u01(i, 21);
    CHECK_OK(run_model(m, x, 1, y1));
    CHECK_OK(run_model(m2, x, 1, y2));
    CHECK(!memcmp(y1, y2, sizeof y1));
    ft_model_free(m2);
    m2 = NULL;
    /* convert: export + reload gives the same logits */
    char out[300];
    snprintf(out, sizeof out, "%s/exported", tmpdir);
    CHECK_OK(ft_model_export(m, out));
    CHECK_OK(ft_model_load(out, &m2));
    if (m2) {
        CHECK_OK(run_model(m2, x, 1, y2));
        CHECK(!memcmp(y1, y2, sizeof y1));
        ft_model_free(m2);
    }
    /* a new 7-class head */
    CHECK_OK(ft_model_replace_head(m, 7, 1, &h));
    if (h) {
        CHECK(h->n_classes == 7);
        int wi = ft_params_find(h->params, "out.weight");
        CHECK(wi >= 0 && h->params->p[wi].shape[0] == 7 && h->params->p[wi].shape[1] == 54);
        ft_model_free(h);
    }
    /* a training step: BN batch statistics, backward through every op */
    CHECK_OK(ft_params_alloc_grads(m->params));
    ft_graph *g = ft_graph_new(m->params);
    int64_t xs[4] = {2, SC, SH, SW}, ts[1] = {2};
    ft_node *in = ft_input(g, "x", FT_F32, 4, xs), *tg = ft_input(g, "t", FT_I32, 1, ts);
    ft_node *lg = m->arch->build(m, g, in, true);
    ft_node *loss = ft_cross_entropy(g, lg, tg, -100, 0.0f);
    CHECK_OK(ft_graph_plan(g, loss, true));
    float xb[2 * SC * SH * SW];
    for (int i = 0; i < 2 * SC * SH * SW; i++) xb[i] = hash_u01(i, 22);
    int32_t t[2] = {0, 2};
    CHECK_OK(ft_graph_set_input(g, in, xb, sizeof xb));
    CHECK_OK(ft_graph_set_input(g, tg, t, sizeof t));
    CHECK_OK(ft_graph_forward(g));
    CHECK_OK(ft_graph_backward(g));
    CHECK(loss->val && isfinite(loss->val[0]));
    float *gw = ft_params_grad(m->params, ft_params_find(m->params, "c1.weight"));
    double gs = 0;
    for (int i = 0; gw && i < 3 * 3 * SC * C1; i++) gs += fabs(gw[i]);
    CHECK(gw && gs > 0 && isfinite(gs));
    ft_graph_free(g);
    ft_model_free(m);
    rm("conv.bin");
}

/* ---------------- the real nsfwjs models ---------------- */

typedef struct { int w, h; uint8_t *rgb; } image;

static bool bmp_read(const char *path, image *im) {
    uint8_t *d = NULL;
    size_t n = 0;
    if (ft_read_file(path, (size_t)1 << 28, &d, &n)) return false;
    if (n < 54 || d[0] != 'B' || d[1] != 'M') { ft_free(d); return false; }
    uint32_t off = (uint32_t)(d[10] | d[11] << 8 | d[12] << 16 | (uint32_t)d[13] << 24);
    int32_t w = (int32_t)(d[18] | d[19] << 8 | d[20] << 16 | (uint32_t)d[21] << 24);
    int32_t h = (int32_t)(d[22] | d[23] << 8 | d[24] << 16 | (uint32_t)d[25] << 24);
    int bpp = d[28] | d[29] << 8, comp = d[30];
    bool top_down = h < 0;
    if (h < 0) h = -h;
    size_t stride = ((size_t)w * 3 + 3) & ~(size_t)3;
    if (bpp != 24 || comp != 0 || w <= 0 || h <= 0 || off + stride * (size_t)h > n) { ft_free(d); return false; }
    im->w = w;
    im->h = h;
    im->rgb = ft_malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = d + off + stride * (size_t)(top_down ? y : h - 1 - y);
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) im->rgb[((size_t)y * w + x) * 3 + c] = row[x * 3 + 2 - c];
    }
    ft_free(d);
    return true;
}

/* nsfwjs: RGB / 255, then tf.image.resizeBilinear(alignCorners=true) (tfjs-backend-cpu's
 * arithmetic, in double, rounded to float32) -> NCHW [3, S, S] into out. */
static void resize_align_corners(const image *im, int S, float *out) {
    double ry = S > 1 ? (double)(im->h - 1) / (S - 1) : (double)im->h / S, rx = S > 1 ? (double)(im->w - 1) / (S - 1) : (double)im->w / S;
    for (int y = 0; y < S; y++) {
        double fy = ry * y;
        int y0 = (int)floor(fy), y1 = (int)ceil(fy) < im->h - 1 ? (int)ceil(fy) : im->h - 1;
        double dy = fy - y0;
        for (int x = 0; x < S; x++) {
            double fx = rx * x;
            int x0 = (int)floor(fx), x1 = (int)ceil(fx) < im->w - 1 ? (int)ceil(fx) : im->w - 1;
            double dx = fx - x0;
            for (int c = 0; c < 3; c++) {
                float tl = im->rgb[((size_t)y0 * im->w + x0) * 3 + c] / 255.0f, tr = im->rgb[((size_t)y0 * im->w + x1) * 3 + c] / 255.0f;
                float bl = im->rgb[((size_t)y1 * im->w + x0) * 3 + c] / 255.0f, br = im->rgb[((size_t)y1 * im->w + x1) * 3 + c] / 255.0f;
                double top = tl + (tr - tl) * dx, bot = bl + (br - bl) * dx;
                out[((size_t)c * S + y) * S + x] = (float)(top + (bot - top) * dy);
            }
        }
    }
}

/* Sum of numel over the manifest, read independently of the importer. */
static int64_t manifest_numel(const char *file, int *n_weights) {
    json_t *j = json_load_file(file, 0, NULL);
    int64_t total = 0;
    *n_weights = 0;
    json_t *man = json_object_get(j, "weightsManifest");
    for (size_t g = 0; g < json_array_size(man); g++) {
        json_t *ws = json_object_get(json_array_get(man, g), "weights");
        for (size_t k = 0; k < json_array_size(ws); k++) {
            json_t *sh = json_object_get(json_array_get(ws, k), "shape");
            int64_t n = 1;
            for (size_t d = 0; d < json_array_size(sh); d++) n *= json_integer_value(json_array_get(sh, d));
            total += n;
            (*n_weights)++;
        }
    }
    json_decref(j);
    return total;
}

/* m with its config edited by edit(); parameters copied by name. */
static ft_model *variant(const ft_model *m, void (*edit)(json_t *nodes)) {
    json_t *c = config_of(m);
    edit(json_object_get(c, "nodes"));
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    ft_model *v = NULL;
    if (ft_model_from_config(text, &v) == FT_OK)
        for (int i = 0; i < v->params->n; i++)
            memcpy(ft_params_value(v->params, i), ft_params_value(m->params, ft_params_find(m->params, v->params->p[i].name)),
                   (size_t)v->params->p[i].numel * 4);
    free(text);
    return v;
}
static void edit_eps(json_t *nodes) { /* PyTorch's default instead of the config's 1e-3 */
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *a = json_object_get(json_array_get(nodes, i), "attrs");
        if (json_object_get(a, "eps")) json_object_set_new(a, "eps", json_real(1e-5));
    }
}
static void edit_pad_side(json_t *nodes) { /* ZeroPadding2D's extra row/column on the top/left instead */
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *nd = json_array_get(nodes, i);
        if (strcmp(json_string_value(json_object_get(nd, "op")), "pad")) continue;
        json_object_set_new(json_object_get(nd, "attrs"), "pad", json_pack("[i,i,i,i]", 1, 1, 0, 0));
    }
}

static double max_abs_diff(const float *a, const float *b, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_nsfwjs(const ft_safetensors *ref, const char *name, int S, bool semantics) {
    char file[256], key[96];
    snprintf(file, sizeof file, "data-cache/nsfwjs/%s/model.json", name);
    struct stat sb;
    if (stat(file, &sb) != 0) {
        printf("SKIP nsfwjs %s: %s not found (run scripts/fetch-nsfwjs.sh)\n", name, file);
        return;
    }
    ft_model *m = NULL;
    char dir[256];
    snprintf(dir, sizeof dir, "data-cache/nsfwjs/%s", name);
    CHECK_OK(ft_model_load(dir, &m));
    if (!m) return;
    CHECK(m->n_classes == 5 && m->in_ndim == 3 && m->in_shape[0] == 3 && m->in_shape[1] == S && m->in_shape[2] == S);
    CHECK(m->head_patterns && !strcmp(m->head_patterns, "dense_3.weight,dense_3.bias"));
    /* structure: every manifest value is a parameter; the rest are fixed BN gammas */
    int n_w = 0;
    int64_t want = manifest_numel(file, &n_w), all = 0;
    for (int i = 0; i < m->params->n; i++) all += m->params->p[i].numel;
    json_t *c = config_of(m), *pre = json_object_get(c, "preprocess"), *src = json_object_get(c, "source");
    int64_t synth = json_integer_value(json_object_get(src, "synthesized_numel"));
    CHECKF(all == want + synth, "%s: %lld parameter floats, manifest %lld + synthesized %lld", name, (long long)all, (long long)want, (long long)synth);
    CHECK(strcmp(name, "mobilenet_v2") || synth == 0);
    json_t *labels = json_object_get(pre, "labels");
    CHECK(json_array_size(labels) == 5 && !strcmp(json_string_value(json_array_get(labels, 2)), "Neutral"));
    CHECK(json_number_value(json_array_get(json_object_get(pre, "std"), 0)) == 1.0 && json_is_true(json_object_get(pre, "align_corners")));
    json_decref(c);

    /* inputs: noise, and the two photos when ../shared is there */
    const char *shared = t_shared("nsfwjs photos");
    int n = shared ? 3 : 1;
    size_t per = (size_t)3 * S * S;
    float *x = ft_malloc(3 * per * sizeof *x);
    for (int cc = 0; cc < 3; cc++)
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++) x[((size_t)cc * S + y) * S + xx] = hash_u01((uint32_t)((y * S + xx) * 3 + cc), 11);
    const char *photos[2] = {"grace_hopper.bmp", "cat.bmp"};
    snprintf(key, sizeof key, "%s.input_stats", name);
    const ft_st_tensor *st = ref ? ft_st_find(ref, key) : NULL;
    float stats[6] = {0};
    if (st && st->numel == 6) ft_st_to_f32(st, stats);
    for (int i = 1; i < n; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/models/coral-mobilenet/%s", shared, photos[i - 1]);
        image im = {0};
        CHECK(bmp_read(p, &im));
        if (!im.rgb) { n = i; break; }
        resize_align_corners(&im, S, x + i * per);
        ft_free(im.rgb);
        double s = 0, s2 = 0;
        for (size_t k = 0; k < per; k++) { s += x[i * per + k]; s2 += (double)x[i * per + k] * x[i * per + k]; }
        CHECKF(fabs(s - stats[2 * i]) < 1e-4 * fabs(s) && fabs(s2 - stats[2 * i + 1]) < 1e-4 * fabs(s2), "%s: input %d sums %g %g vs TF.js %g %g", name, i,
               s, s2, stats[2 * i], stats[2 * i + 1]);
    }
    float got[15], wantl[15], wantp[15];
    CHECK_OK(run_model(m, x, n, got));
    snprintf(key, sizeof key, "%s.logits", name);
    const ft_st_tensor *lt = ref ? ft_st_find(ref, key) : NULL;
    snprintf(key, sizeof key, "%s.probs", name);
    const ft_st_tensor *pt = ref ? ft_st_find(ref, key) : NULL;
    CHECK(lt && pt && lt->numel == 15 && pt->numel == 15);
    if (lt && pt && lt->numel == 15 && pt->numel == 15) {
        ft_st_to_f32(lt, wantl);
        ft_st_to_f32(pt, wantp);
        double dl = max_abs_diff(got, wantl, 5 * n);
        CHECKF(t_close(got, wantl, 5 * n, 2e-4, 2e-4, name), "%s: logits differ from TF.js (max %g)", name, dl);
        float prob[15];
        memcpy(prob, got, sizeof prob);
        for (int i = 0; i < n; i++) {
            softmax(prob + 5 * i, 5);
            double sum = 0;
            for (int k = 0; k < 5; k++) sum += prob[5 * i + k];
            CHECK(fabs(sum - 1) < 1e-5);
            if (i > 0) CHECKF(argmax(prob + 5 * i, 5) == 2, "%s: %s is not Neutral", name, photos[i - 1]);
            printf("%s: %-16s Neutral %.4f (TF.js %.4f), top-1 %d\n", name, i ? photos[i - 1] : "noise", prob[5 * i + 2], wantp[5 * i + 2],
                   argmax(prob + 5 * i, 5));
        }
        CHECK(t_close(prob, wantp, 5 * n, 0, 1e-4, "probs"));
        printf("%s: max |logit - TF.js| = %.2g over %d inputs\n", name, dl, n);
        if (semantics) { /* the Keras details matter at this tolerance */
            void (*edits[2])(json_t *) = {edit_eps, edit_pad_side};
            const char *what[2] = {"BN eps 1e-5 instead of 1e-3", "ZeroPadding2D on the top/left"};
            for (int e = 0; e < 2; e++) {
                ft_model *v = variant(m, edits[e]);
                CHECK(v != NULL);
                if (!v) continue;
                float vy[15];
                CHECK_OK(run_model(v, x, n, vy));
                double d = max_abs_diff(vy, wantl, 5 * n);
                printf("%s: with %s, max |logit - TF.js| = %.3g\n", name, what[e], d);
                CHECKF(d > 30 * fmax(dl, 1e-3), "%s: %s changes the logits by only %g", name, what[e], d);
                ft_model_free(v);
            }
        }
    }
    ft_free(x);
    ft_model_free(m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ft_test_tfjs.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    ft_safetensors *ref = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/tfjs_ref.safetensors", &ref));

    test_dense_exact();
    test_conv_reference();
    test_alloc_failures();
    test_tiny_tfjs(ref);
    test_errors();
    test_integration();
    test_nsfwjs(ref, "mobilenet_v2", 224, true);
    test_nsfwjs(ref, "inception_v3", 299, false);

    ft_st_close(ref);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_END();
}
