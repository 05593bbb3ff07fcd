/* ONNX import: tiny models from fuzz/gen_corpus_onnx.py (expected outputs computed there with
 * PyTorch, in tests/fixtures/onnx) through the importer and the engine; error messages for
 * malformed and truncated protobufs, cycles, dangling inputs, wrong initializer sizes,
 * unsupported ops and opsets; cutting, outputs and head replacement; gradients of each model
 * by finite differences (tests/onnx_fd.h); and the openWakeWord
 * models of ../shared (structure and clean refusals; output parity against ONNX Runtime lives
 * with the export tests). */
#include "test.h"
#include "models/models.h"
#include "onnx.pb-c.h"
#include "onnx_fd.h"

#include <jansson.h>
#include <unistd.h>

#define CORPUS "fuzz/corpus/onnx/"
#define FIX "tests/fixtures/onnx/"

static uint8_t *read_all(const char *path, size_t *n) {
    uint8_t *d = NULL;
    if (ft_read_file(path, (size_t)1 << 30, &d, n)) return NULL;
    return d;
}

/* A serialized TensorProto of floats (raw_data or float_data) into data/shape. */
static float *read_pb(const char *path, int *ndim, int64_t *shape) {
    size_t n = 0;
    uint8_t *d = read_all(path, &n);
    if (!d) return NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, n, d);
    ft_free(d);
    if (!t) return NULL;
    int64_t numel = 1;
    *ndim = (int)t->n_dims;
    for (size_t k = 0; k < t->n_dims; k++) { shape[k] = t->dims[k]; numel *= t->dims[k]; }
    float *out = malloc((size_t)(numel ? numel : 1) * sizeof(float));
    if (t->has_raw_data && t->raw_data.len == (size_t)numel * 4) memcpy(out, t->raw_data.data, (size_t)numel * 4);
    else if (t->n_float_data == (size_t)numel) memcpy(out, t->float_data, (size_t)numel * 4);
    else { free(out); out = NULL; }
    onnx__tensor_proto__free_unpacked(t, NULL);
    return out;
}

/* Forward x [shape] through every output of m; outs[k] (malloc'd) and their numel. */
static ft_status run_all(ft_model *m, const float *x, int ndim, const int64_t *shape, float **outs, int64_t *numel, int max_outs, int *n_outs) {
    ft_graph *g = ft_graph_new(m->params);
    ft_node *in = ft_input(g, "x", FT_F32, ndim, shape), *o[16];
    int n = ft_graph_model_outputs(m, g, in, o, 16);
    ft_status s = n < 1 || n > max_outs ? FT_EINVAL : FT_OK;
    for (int k = 0; !s && k < n; k++) ft_node_keep(o[k]);
    if (!s) s = ft_graph_plan(g, NULL, false);
    if (!s) s = ft_graph_set_input(g, in, x, (size_t)in->numel * 4);
    if (!s) s = ft_graph_forward(g);
    for (int k = 0; !s && k < n; k++) {
        outs[k] = malloc((size_t)o[k]->numel * 4);
        memcpy(outs[k], o[k]->val, (size_t)o[k]->numel * 4);
        numel[k] = o[k]->numel;
    }
    if (!s) *n_outs = n;
    ft_graph_free(g);
    return s;
}

/* Import model `name` (from the fuzz corpus, or the fixtures with from_fix), run its fixture
 * input, compare output k with .out[.k].pb. missing_op: an engine op that may not be in the
 * library yet (then a clean refusal naming it passes). */
static void check_model_at(const char *name, int n_expected_outs, bool from_fix, const char *missing_op) {
    char path[256];
    int ndim;
    int64_t shape[8];
    snprintf(path, sizeof path, FIX "%s.in.pb", name);
    float *x = read_pb(path, &ndim, shape);
    CHECK(x != NULL);
    if (!x) return;
    snprintf(path, sizeof path, "%s%s.onnx", from_fix ? FIX : CORPUS, name);
    ft_model *m = NULL;
    ft_onnx_opts o = ft_onnx_defaults();
    o.input_ndim = ndim;
    memcpy(o.input_shape, shape, (size_t)ndim * sizeof *shape);
    ft_status s = ft_import_onnx(path, &o, &m);
    if (s == FT_EUNSUPPORTED && missing_op && !ft_graph_config_op_known(missing_op)) {
        CHECKF(strstr(ft_errmsg(), missing_op) != NULL, "%s: %s", name, ft_errmsg());
        printf("  %s: waits for the '%s' op: %s\n", name, missing_op, ft_errmsg());
        free(x);
        return;
    }
    CHECKF(s == FT_OK, "%s: %s", name, ft_errmsg());
    if (s) { free(x); return; }
    float *outs[16] = {0};
    int64_t numel[16];
    int n = 0;
    if (x) CHECK_OK(run_all(m, x, ndim, shape, outs, numel, 16, &n));
    CHECKF(n == n_expected_outs, "%s: %d outputs", name, n);
    for (int k = 0; k < n; k++) {
        int on;
        int64_t os[8];
        if (n_expected_outs > 1) snprintf(path, sizeof path, FIX "%s.out.%d.pb", name, k);
        else snprintf(path, sizeof path, FIX "%s.out.pb", name);
        float *want = read_pb(path, &on, os);
        int64_t wn = 1;
        for (int d = 0; d < on; d++) wn *= os[d];
        CHECKF(want && wn == numel[k], "%s output %d: %lld values, want %lld", name, k, (long long)numel[k], (long long)wn);
        if (want && wn == numel[k]) CHECKF(t_close(outs[k], want, (long)wn, 1e-4, 1e-5, name), "%s output %d", name, k);
        free(want);
        free(outs[k]);
    }
    /* gradients of the input and of every parameter by finite differences */
    char msg[300] = "";
    int fd = onnx_fd_check(m, ndim, shape, x, msg, sizeof msg);
    CHECKF(fd > 0, "%s: gradient check: %s", name, fd < 0 ? msg : "nothing compared");
    printf("  %s: %d gradient entries match finite differences\n", name, fd);
    free(x);
    ft_model_free(m);
}

static void check_model(const char *name, int n_expected_outs) { check_model_at(name, n_expected_outs, false, NULL); }

static void test_models(void) {
    check_model("mlp", 1);
    check_model("cnn", 1);
    check_model("folding", 1);
    check_model("multi_out", 2);
    check_model("external", 1);
    check_model("gelu", 1);
    /* torch.onnx.export of a 2-layer bidirectional LSTM and a bidirectional GRU
     * (tests/gen/gen_onnx_lstm.py): the sequence output and h_n */
    check_model_at("bilstm", 2, true, "lstm");
    check_model_at("bigru", 2, true, "gru");
    /* MatMul with broadcast batch dims (tests/gen/gen_onnx_matmul.py): constant and
     * computed operands, either side, ranks 3 and 4 */
    check_model_at("bmatmul", 4, true, NULL);
    /* learned initial states (initializers expanded to the batch): nonzero initial_h/initial_c
     * become trainable parameters <node>.h0 / <node>.c0 [1, directions, H] */
    check_model_at("lstm_h0", 2, true, NULL);
    check_model_at("gru_h0", 2, true, NULL);
    /* the old opset forms (tests/gen/gen_onnx_old_opsets.py, NumPy references): BN-7 + Gemm-7
     * (IR 3: the initializers are graph inputs too), Max-8/Min-8, BN-9 + Slice-1 + Softmax-1
     * on a 4-D input, Pad-2 (reflect) + Clip-6 + Squeeze-1/Unsqueeze-1 + Split-2 + ReduceSum-1
     * + LogSoftmax-1, and Softmax-11/LogSoftmax-11 on axis 1 of a 3-D input: before opset 13
     * the input is coerced to 2-D, so the softmax covers every dim from the axis on */
    check_model_at("old_opset7", 1, true, NULL);
    check_model_at("old_opset8", 2, true, NULL);
    check_model_at("old_opset9", 1, true, NULL);
    check_model_at("old_opset10", 2, true, NULL);
    check_model_at("old_softmax", 2, true, NULL);
    {
        ft_model *ms = NULL;
        CHECK_OK(ft_import_onnx(FIX "lstm_h0.onnx", NULL, &ms));
        int states = 0;
        for (int i = 0; ms && i < ms->params->n; i++) {
            const ft_param_info *p = &ms->params->p[i];
            size_t len = strlen(p->name);
            if (len < 3 || (strcmp(p->name + len - 3, ".h0") && strcmp(p->name + len - 3, ".c0"))) continue;
            states++;
            CHECKF(!p->is_buffer && p->ndim == 3 && p->shape[0] == 1 && p->shape[1] == 2 && p->shape[2] == 4, "state %s", p->name);
        }
        CHECKF(states == 4, "lstm_h0: %d initial-state parameters (2 layers x h0, c0)", states);
        ft_model_free(ms);
    }
    /* the folded If's taken branch keeps its weight (a branch initializer, wb [4, 3]) as a
     * trainable parameter, and training reaches it */
    {
        ft_model *mf = NULL;
        ft_onnx_opts of = ft_onnx_defaults();
        int64_t fs[4] = {2, 2, 3, 4};
        of.input_ndim = 4;
        memcpy(of.input_shape, fs, sizeof fs);
        CHECK_OK(ft_import_onnx(CORPUS "folding.onnx", &of, &mf));
        int wb = -1;
        for (int i = 0; mf && i < mf->params->n; i++) {
            size_t len = strlen(mf->params->p[i].name);
            if (len >= 2 && !strcmp(mf->params->p[i].name + len - 2, "wb")) wb = i;
        }
        CHECKF(wb >= 0, "folding: the branch initializer wb is not a parameter");
        if (wb >= 0) {
            const ft_param_info *p = &mf->params->p[wb];
            CHECKF(p->trainable && !p->is_buffer && p->numel == 12, "folding: %s trainable %d buffer %d numel %lld", p->name, p->trainable,
                   p->is_buffer, (long long)p->numel);
            float xf[48];
            for (int i = 0; i < 48; i++) xf[i] = (float)((i * 7) % 11) / 11.0f - 0.4f;
            bool nz[16] = {false};
            CHECK(mf->params->n <= 16 && onnx_trained_grads(mf, 4, fs, xf, nz) >= 1);
            CHECKF(nz[wb], "folding: training gives %s no gradient", p->name);
        }
        ft_model_free(mf);
    }
    /* the Erf pattern became one gelu node */
    ft_model *m = NULL;
    CHECK_OK(ft_import_onnx(CORPUS "gelu.onnx", NULL, &m));
    if (m) {
        CHECK(strstr(m->config_json, "\"gelu\"") != NULL);
        CHECK(strstr(m->config_json, "\"erf\"") == NULL && strstr(m->config_json, "\"scale\"") == NULL);
    }
    ft_model_free(m);
}

/* int64 token ids as the data input (an int32 graph input): Cast between integer types is an
 * identity, Gather of an initializer's rows by the ids an `embedding`; an id outside the
 * vocabulary fails the forward naming it. */
static void test_ids(void) {
    size_t n = 0;
    uint8_t *d = read_all(FIX "ids.in.pb", &n);
    Onnx__TensorProto *t = d ? onnx__tensor_proto__unpack(NULL, n, d) : NULL;
    free(d);
    CHECK(t && t->data_type == 7 && t->n_dims == 2 && t->dims[0] == 2 && t->dims[1] == 5 && t->has_raw_data && t->raw_data.len == 80);
    if (!t || t->raw_data.len != 80) { if (t) onnx__tensor_proto__free_unpacked(t, NULL); return; }
    int32_t ids[10];
    for (int i = 0; i < 10; i++) {
        int64_t v;
        memcpy(&v, t->raw_data.data + 8 * i, 8);
        ids[i] = (int32_t)v;
    }
    onnx__tensor_proto__free_unpacked(t, NULL);
    int on;
    int64_t os[8];
    float *want = read_pb(FIX "ids.out.pb", &on, os);
    ft_model *m = NULL;
    CHECK_OK(ft_import_onnx(CORPUS "ids.onnx", NULL, &m));
    if (m && want) {
        CHECK(m->in_dtype == FT_I32 && m->in_ndim == 1 && m->in_shape[0] == 5 && m->n_classes == 3);
        CHECK(strstr(m->config_json, "\"embedding\"") != NULL && strstr(m->config_json, "\"int32\"") != NULL);
        for (int bad = 0; bad < 2; bad++) {
            ft_graph *g = ft_graph_new(m->params);
            int64_t sh[2] = {2, 5};
            ft_node *in = ft_input(g, "ids", FT_I32, 2, sh), *y = m->arch->build(m, g, in, false);
            ft_node_keep(y);
            CHECK_OK(ft_graph_plan(g, NULL, false));
            int32_t v[10];
            memcpy(v, ids, sizeof v);
            if (bad) v[7] = 10; /* the vocabulary has 10 rows */
            CHECK_OK(ft_graph_set_input(g, in, v, sizeof v));
            if (bad) {
                CHECK_ERR(ft_graph_forward(g), FT_EINVAL);
                CHECKF(strstr(ft_errmsg(), "token id 10") != NULL, "%s", ft_errmsg());
            } else {
                CHECK_OK(ft_graph_forward(g));
                CHECK(y && y->numel == 6 && t_close(y->val, want, 6, 1e-5, 1e-6, "ids"));
            }
            ft_graph_free(g);
        }
    }
    free(want);
    ft_model_free(m);
}

/* The classifier's last Gemm is its head; the MLP without a head gets one on its output. */
static void test_head_and_cut(void) {
    ft_model *m = NULL, *m2 = NULL;
    CHECK_OK(ft_import_onnx(CORPUS "cnn.onnx", NULL, &m));
    if (!m) return;
    CHECK(m->n_classes == 5);
    CHECK(m->head_patterns && !strcmp(m->head_patterns, "wf,bf"));
    CHECK(ft_params_find(m->params, "m") >= 0 && m->params->p[ft_params_find(m->params, "m")].is_buffer);
    CHECK(ft_params_find(m->params, "w1") >= 0 && !m->params->p[ft_params_find(m->params, "w1")].is_buffer);
    CHECK_OK(ft_model_replace_head(m, 3, 7, &m2));
    if (m2) CHECK(m2->n_classes == 3);
    ft_model_free(m2);
    ft_model_free(m);
    m = m2 = NULL;
    /* cut at the pooled features: a [N,8,1,1] feature extractor; a new head flattens it */
    ft_onnx_opts o = ft_onnx_defaults();
    o.cut = "gap";
    CHECK_OK(ft_import_onnx(CORPUS "cnn.onnx", &o, &m));
    if (!m) return;
    CHECK(m->n_classes == 8);
    CHECK(ft_params_find(m->params, "wf") < 0); /* pruned with the nodes after the cut */
    CHECK(m->head_patterns == NULL);
    CHECK_OK(ft_model_replace_head(m, 4, 1, &m2));
    if (m2) {
        CHECK(m2->n_classes == 4);
        CHECK(strstr(m2->config_json, "\"flatten\"") != NULL);
    }
    ft_model_free(m2);
    ft_model_free(m);
    o.cut = "no_such_tensor";
    CHECK_ERR(ft_import_onnx(CORPUS "cnn.onnx", &o, &m), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "no_such_tensor") != NULL);
    /* a chosen input shape: batch 3 */
    o = ft_onnx_defaults();
    o.input_ndim = 4;
    int64_t sh[4] = {3, 2, 10, 9};
    memcpy(o.input_shape, sh, sizeof sh);
    CHECK_OK(ft_import_onnx(CORPUS "cnn.onnx", &o, &m));
    ft_model_free(m);
    sh[1] = 3; /* 3 channels into a conv that wants 2 */
    memcpy(o.input_shape, sh, sizeof sh);
    CHECK_ERR(ft_import_onnx(CORPUS "cnn.onnx", &o, &m), FT_ESHAPE);
    CHECK(strstr(ft_errmsg(), "conv1") != NULL);
    /* ft_model_load dispatches on .onnx */
    CHECK_OK(ft_model_load(CORPUS "mlp.onnx", &m));
    if (m) CHECK(m->n_classes == 3);
    ft_model_free(m);
}

static void expect_fail(const char *file, ft_status want, const char *a, const char *b) {
    ft_model *m = NULL;
    char path[256];
    snprintf(path, sizeof path, CORPUS "%s", file);
    ft_status s = ft_import_onnx(path, NULL, &m);
    CHECKF(s == want, "%s: got %s (%s)", file, ft_status_name(s), ft_errmsg());
    CHECKF(strstr(ft_errmsg(), file) != NULL, "%s: message names the file: %s", file, ft_errmsg());
    CHECKF(!a || strstr(ft_errmsg(), a), "%s: '%s' in: %s", file, a, ft_errmsg());
    CHECKF(!b || strstr(ft_errmsg(), b), "%s: '%s' in: %s", file, b, ft_errmsg());
    CHECK(m == NULL);
}

static void test_errors(void) {
    expect_fail("cycle.onnx", FT_EFORMAT, "cycle", "add_a");
    expect_fail("dangling.onnx", FT_EFORMAT, "add_dangling", "nowhere");
    expect_fail("bad_init.onnx", FT_EFORMAT, "initializer 'w'", "12 bytes");
    expect_fail("unsupported.onnx", FT_EUNSUPPORTED, "Det", "the_det");
    CHECKF(strstr(ft_errmsg(), "opset 13") != NULL, "the unsupported op's message names the opset: %s", ft_errmsg());
    expect_fail("ms_node.onnx", FT_EUNSUPPORTED, "com.microsoft", "FusedGemm");
    expect_fail("opset5.onnx", FT_EUNSUPPORTED, "opset 5", NULL);
    expect_fail("if_outputs.onnx", FT_EFORMAT, "the_if", "else_branch has 0 outputs"); /* fuzz findings */
    expect_fail("reshape_huge.onnx", FT_EFORMAT, "huge", "too large");
    {   /* a typed-field initializer (float_data) with 5 values for [2, 3] */
        ft_model *mb = NULL;
        CHECK_ERR(ft_import_onnx(FIX "bad_float_data.onnx", NULL, &mb), FT_EFORMAT);
        printf("  bad_float_data: %s\n", ft_errmsg());
        CHECKF(strstr(ft_errmsg(), "'w'") && strstr(ft_errmsg(), "5") && strstr(ft_errmsg(), "6"), "bad_float_data: %s", ft_errmsg());
    }
    ft_model *m = NULL;
    CHECK_OK(ft_import_onnx(CORPUS "other_domain.onnx", NULL, &m)); /* an unused com.microsoft import is fine */
    ft_model_free(m);
    m = NULL;
    /* truncated and corrupted protobufs: a clean error or (when the cut falls between
     * fields) a valid smaller model, never a crash */
    size_t n = 0;
    uint8_t *d = read_all(CORPUS "cnn.onnx", &n);
    CHECK(d != NULL);
    int clean = 0;
    for (size_t cut = 0; d && cut < n; cut += 7) {
        ft_status s = ft_import_onnx_mem(d, cut, "cut.onnx", NULL, &m);
        if (s) clean += (s == FT_EFORMAT || s == FT_EUNSUPPORTED || s == FT_ENOTFOUND || s == FT_ESHAPE || s == FT_EINVAL) && strstr(ft_errmsg(), "cut.onnx") != NULL;
        else clean++;
        ft_model_free(m);
        m = NULL;
    }
    CHECK(d && clean == (int)((n + 6) / 7));
    CHECK_ERR(ft_import_onnx_mem(d, n / 2, "half.onnx", NULL, &m), FT_EFORMAT);
    CHECK(strstr(ft_errmsg(), "half.onnx") != NULL);
    uint8_t junk[64];
    for (int i = 0; i < 64; i++) junk[i] = (uint8_t)(i * 37 + 11);
    CHECK_ERR(ft_import_onnx_mem(junk, sizeof junk, "junk.onnx", NULL, &m), FT_EFORMAT);
    free(d);
    CHECK_ERR(ft_import_onnx("no/such/file.onnx", NULL, &m), FT_ENOTFOUND);
}

/* External data: the corpus's external.onnx reads its weight from external.bin beside it
 * (offset 16). Each case edits one external_data entry in memory; the import is labelled
 * with a path in the corpus folder, so the data file resolves there. */
static void test_external_errors(void) {
    size_t n = 0;
    uint8_t *d = read_all(CORPUS "external.onnx", &n);
    Onnx__ModelProto *mp = d ? onnx__model_proto__unpack(NULL, n, d) : NULL;
    free(d);
    CHECK(mp && mp->graph && mp->graph->n_initializer == 1 && mp->graph->initializer[0]->n_external_data == 3);
    if (!mp || !mp->graph || mp->graph->n_initializer != 1 || mp->graph->initializer[0]->n_external_data != 3) {
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        return;
    }
    Onnx__TensorProto *t = mp->graph->initializer[0];
    static const struct { const char *key, *value; ft_status want; const char *needle; } cases[] = {
        {NULL, NULL, FT_OK, NULL}, /* unchanged: loads */
        {"location", "../onnx/external.bin", FT_EFORMAT, "must be a relative path below the model's folder"},
        {"location", "/tmp/external.bin", FT_EFORMAT, "must be a relative path below the model's folder"},
        {"location", "", FT_EFORMAT, "without a \"location\""},
        {"location", "no_such_data.bin", FT_ENOTFOUND, "no_such_data.bin"},
        {"offset", "40", FT_EFORMAT, "does not hold the 48 bytes"},   /* 40 + 48 > the file's 64 bytes */
        {"offset", "-1", FT_EFORMAT, "bad offset or length"},
        {"offset", "12abc", FT_EFORMAT, "bad offset or length"},
        {"length", "44", FT_EFORMAT, "does not hold the 48 bytes"},   /* the shape needs 48 */
        {"length", "999", FT_EFORMAT, "does not hold the 48 bytes"},  /* past the end of the file */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Onnx__StringStringEntryProto *e = NULL;
        for (size_t k = 0; k < t->n_external_data && cases[c].key; k++)
            if (!strcmp(t->external_data[k]->key, cases[c].key)) e = t->external_data[k];
        CHECK(!cases[c].key || e);
        char *keep = e ? e->value : NULL;
        if (e) e->value = (char *)cases[c].value;
        size_t len = onnx__model_proto__get_packed_size(mp);
        uint8_t *buf = malloc(len);
        onnx__model_proto__pack(mp, buf);
        if (e) e->value = keep;
        ft_model *m = NULL;
        ft_status s = ft_import_onnx_mem(buf, len, CORPUS "external_edit.onnx", NULL, &m);
        free(buf);
        CHECKF(s == cases[c].want && (!cases[c].needle || (strstr(ft_errmsg(), cases[c].needle) && strstr(ft_errmsg(), "initializer 'w'"))),
               "external data case %zu (%s = '%s'): %s: %s", c, cases[c].key ? cases[c].key : "-", cases[c].value ? cases[c].value : "",
               ft_status_name(s), ft_errmsg());
        CHECK((m != NULL) == (s == FT_OK));
        ft_model_free(m);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
}

/* openWakeWord (../shared): what maps now, and clean refusals naming op, node and opset. */
static void test_openwakeword(void) {
    const char *shared = t_shared("openWakeWord ONNX models");
    if (!shared) return;
    char path[512];
    ft_model *m = NULL;
    snprintf(path, sizeof path, "%s/models/openwakeword/alexa_v0.1.onnx", shared);
    CHECK_OK(ft_import_onnx(path, NULL, &m));
    if (m) {
        CHECK(m->n_classes == 1);
        CHECK(m->in_ndim == 2 && m->in_shape[0] == 16 && m->in_shape[1] == 96);
    }
    ft_model_free(m);
    m = NULL;
    const char *models[] = {"embedding_model", "melspectrogram", "hey_jarvis_v0.1", "hey_mycroft_v0.1"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/models/openwakeword/%s.onnx", shared, models[k]);
        ft_onnx_opts o = ft_onnx_defaults();
        if (k == 1) { o.input_ndim = 2; o.input_shape[0] = 1; o.input_shape[1] = 16000; }
        ft_status s = ft_import_onnx(path, &o, &m);
        if (s == FT_OK) {
            CHECK(m->n_classes >= 1);
            printf("  %s: imported (%lld parameter floats)\n", models[k], (long long)ft_params_count(m->params, false));
        } else {
            CHECKF(s == FT_EUNSUPPORTED && strstr(ft_errmsg(), "opset 13") && strstr(ft_errmsg(), models[k]), "%s: %s", models[k], ft_errmsg());
            printf("  %s: %s\n", models[k], ft_errmsg());
        }
        ft_model_free(m);
        m = NULL;
    }
    /* the melspectrogram's sample count is symbolic: without a shape, a clear message */
    snprintf(path, sizeof path, "%s/models/openwakeword/melspectrogram.onnx", shared);
    CHECK_ERR(ft_import_onnx(path, NULL, &m), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "samples") != NULL);
}

/* Graph inputs bound to numbers (ft_onnx_opts.bind_values, finetune convert --bind): the
 * declared type and shape, one value filling it, and clear errors for an unknown input, a
 * wrong count and a fraction bound to an integer input. ONNX's node tests as the models. */
static void test_bind_values(void) {
    const char *add = "/usr/share/libonnx-testdata/data/node/test_add/model.onnx",
               *pw = "/usr/share/libonnx-testdata/data/node/test_pow_types_float32_int64/model.onnx";
    if (access(add, R_OK) != 0 || access(pw, R_OK) != 0) { printf("SKIP bind values: libonnx-testdata is absent\n"); return; }
    double vals[60];
    for (int i = 0; i < 60; i++) vals[i] = 0.25 * i - 3;
    float x[60];
    for (int i = 0; i < 60; i++) x[i] = (float)(i % 7) - 2.5f;
    const char *names[1] = {"y"};
    for (int fill = 0; fill < 2; fill++) { /* y [3, 4, 5]: all 60 values, or one filling it */
        int count = fill ? 1 : 60;
        const double *vp = vals;
        ft_onnx_opts o = ft_onnx_defaults();
        o.n_bind_values = 1;
        o.bind_value_names = names;
        o.bind_values = &vp;
        o.bind_value_counts = &count;
        ft_model *m = NULL;
        CHECK_OK(ft_import_onnx(add, &o, &m));
        if (!m) continue;
        CHECK(m->in_ndim == 2 && m->in_shape[0] == 4 && m->in_shape[1] == 5);
        int64_t sh[3] = {3, 4, 5}, numel[1];
        float *out[1] = {NULL};
        int n = 0;
        CHECK_OK(run_all(m, x, 3, sh, out, numel, 1, &n));
        bool ok = n == 1 && numel[0] == 60;
        for (int i = 0; ok && i < 60; i++) ok = out[0][i] == x[i] + (float)vals[fill ? 0 : i];
        CHECKF(ok, "bound y (%d values): x + y", count);
        free(out[0]);
        ft_model_free(m);
    }
    /* errors: each names the culprit */
    struct { const char *file, *name; double v[3]; int n; ft_status want; const char *msg; } bad[] = {
        {add, "z", {1}, 1, FT_ENOTFOUND, "'z' is not a graph input"},
        {add, "y", {1, 2, 3}, 3, FT_ESHAPE, "3 values bound to input 'y' of shape [3,4,5]"},
        {pw, "y", {2, 2.5, 2}, 3, FT_EINVAL, "value 2.5 bound to the int64 input 'y'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const double *vp = bad[k].v;
        ft_onnx_opts o = ft_onnx_defaults();
        o.n_bind_values = 1;
        o.bind_value_names = &bad[k].name;
        o.bind_values = &vp;
        o.bind_value_counts = &bad[k].n;
        ft_model *m = NULL;
        CHECK_ERR(ft_import_onnx(bad[k].file, &o, &m), bad[k].want);
        CHECKF(strstr(ft_errmsg(), bad[k].msg) != NULL, "%s", ft_errmsg());
        ft_model_free(m);
    }
    /* an int64 exponent bound to whole numbers: x ^ [2, 3, 1] */
    {
        const double v[3] = {2, 3, 1}, *vp = v;
        int count = 3;
        ft_onnx_opts o = ft_onnx_defaults();
        o.n_bind_values = 1;
        o.bind_value_names = names;
        o.bind_values = &vp;
        o.bind_value_counts = &count;
        ft_model *m = NULL;
        ft_status s = ft_import_onnx(pw, &o, &m);
        CHECKF(s == FT_OK, "%s", ft_errmsg());
        if (m) {
            float xp[3] = {1.5f, -2.0f, 3.0f};
            int64_t sh[1] = {3}, numel[1];
            float *out[1] = {NULL};
            int n = 0;
            CHECK_OK(run_all(m, xp, 1, sh, out, numel, 1, &n));
            CHECK(n == 1 && numel[0] == 3 && fabsf(out[0][0] - 2.25f) < 1e-6f && fabsf(out[0][1] + 8.0f) < 1e-5f && fabsf(out[0][2] - 3.0f) < 1e-6f);
            free(out[0]);
        }
        ft_model_free(m);
    }
}

int main(void) {
    test_bind_values();
    test_models();
    test_ids();
    test_head_and_cut();
    test_errors();
    test_external_errors();
    test_openwakeword();
    TEST_END();
}
