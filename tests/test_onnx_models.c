/* Real pretrained ONNX models imported by ft_import_onnx, against ONNX Runtime.
 *
 * References: tests/fixtures/onnx_models_ref.safetensors, written by
 * tests/gen/gen_onnx_models_ref.js (ONNX Runtime on the same inputs; its header documents
 * every tensor). Models: openWakeWord's mel front end, speech-embedding CNN and four
 * wake-word heads (../shared/models/openwakeword), Silero VAD v4 and the PaddleOCR direction
 * classifier (data-cache/onnx, scripts/fetch-onnx-models.sh). Each part skips with a message
 * when its files are absent.
 *
 * Then fine-tuning an imported model with the controls native models have: a cut at a named
 * tensor plus a new head, --train/--freeze globs on the initializer names, a few SGD steps
 * (only the selected parameters move), and the fine-tuned model exported to ONNX
 * (ft_model_export_onnx) and imported again gives finetune's outputs. */
#include "test.h"
#include "models/models.h"
#include "onnx.pb-c.h"
#include "onnx_fd.h"

#include <sndfile.h>
#include <unistd.h>

#define FIX "tests/fixtures/onnx_models_ref.safetensors"
#define CACHE "data-cache/onnx"

static ft_safetensors *ref;
static char tmpdir[256];
static const char *CLIPS[4] = {"yes", "no", "silence", "noise"};
static ft_model *from_config_file(const char *name, uint64_t seed);

static float *ref_f32(const char *name, int64_t *numel) {
    const ft_st_tensor *t = ft_st_find(ref, name);
    if (!t) { fprintf(stderr, "fixture has no %s\n", name); return NULL; }
    float *v = ft_malloc((size_t)t->numel * sizeof *v);
    if (ft_st_to_f32(t, v)) { ft_free(v); return NULL; }
    if (numel) *numel = t->numel;
    return v;
}

/* Forward of a model on one float input of the model's shape times n; out gets the
 * (first) output's values. Returns the output's numel, -1 on failure. */
static int64_t run(ft_model *m, const float *x, int64_t n, float *out, int64_t cap) {
    int64_t got = -1;
    if (t_model_forward_cap(m, x, n, out, cap, &got)) { fprintf(stderr, "forward: %s\n", ft_errmsg()); return -1; }
    return got;
}

/* Every output of m (ft_graph_model_outputs) on one example x; out gets them one after
 * another, numel[k] their sizes. Returns the number of outputs, -1 on failure. */
static int run_outputs(ft_model *m, const float *x, float *out, int64_t cap, int64_t *numel, int max) {
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[FT_MAX_DIMS] = {1}, per = 1;
    for (int d = 0; d < m->in_ndim; d++) { shape[d + 1] = m->in_shape[d]; per *= m->in_shape[d]; }
    ft_node *in = ft_input(g, "x", FT_F32, m->in_ndim + 1, shape), *o[8];
    int n = ft_graph_model_outputs(m, g, in, o, 8);
    ft_status s = n >= 1 && n <= max ? FT_OK : FT_EINVAL;
    for (int k = 0; !s && k < n; k++) ft_node_keep(o[k]);
    if (!s) s = ft_graph_plan(g, NULL, false);
    if (!s) s = ft_graph_set_input(g, in, x, (size_t)per * sizeof *x);
    if (!s) s = ft_graph_forward(g);
    for (int64_t k = 0, at = 0; !s && k < n; at += o[k]->numel, k++) {
        if (at + o[k]->numel > cap) { s = ft_fail(FT_ESHAPE, "outputs larger than %lld values", (long long)cap); break; }
        memcpy(out + at, o[k]->val, (size_t)o[k]->numel * sizeof *out);
        numel[k] = o[k]->numel;
    }
    if (s) fprintf(stderr, "forward: %s\n", ft_errmsg());
    ft_graph_free(g);
    return s ? -1 : n;
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

/* Every model imports: any import error fails the test, FT_EUNSUPPORTED (an op or a form
 * without a mapping) too. Only an absent file is skipped, with a message (import()). */
static bool import_failed(ft_status s, const char *path) {
    CHECKF(s == FT_OK, "import %s: %s", path, ft_errmsg());
    return s != FT_OK;
}

/* Import with an input shape (n dims, batch first); NULL and a message on failure, NULL and a
 * SKIP line when the file is absent. */
static ft_model *import(const char *path, int n, const int64_t *shape, bool promote) {
    ft_onnx_opts o = ft_onnx_defaults();
    o.input_ndim = n;
    for (int i = 0; i < n; i++) o.input_shape[i] = shape[i];
    if (n) o.batch = shape[0];
    o.promote_constants = promote;
    if (access(path, R_OK) != 0) { printf("SKIP %s: absent\n", path); return NULL; }
    ft_model *m = NULL;
    ft_status s = ft_import_onnx(path, &o, &m);
    return import_failed(s, path) ? NULL : m;
}

static bool wav16k(const char *path, float *x, int n, float scale) {
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) return false;
    short buf[16000];
    bool ok = info.samplerate == 16000 && info.channels == 1 && n <= 16000 && sf_readf_short(f, buf, n) == n;
    sf_close(f);
    for (int i = 0; ok && i < n; i++) x[i] = buf[i] * scale;
    return ok;
}

/* ---------------- openWakeWord ---------------- */
static void test_oww(const char *shared) {
    char path[1024], wav[1024];
    /* the mel front end on each clip (raw int16 values) */
    snprintf(path, sizeof path, "%s/models/openwakeword/melspectrogram.onnx", shared);
    int64_t s1[2] = {1, 16000};
    ft_model *m = import(path, 2, s1, false);
    int64_t n_mel = 0;
    float *mel = ref_f32("oww.mel", &n_mel), *y = ft_malloc(16000 * sizeof *y), *x = ft_malloc(16000 * sizeof *x);
    for (int c = 0; m && mel && c < 4; c++) {
        snprintf(wav, sizeof wav, "%s/models/tflite-micro/%s_1000ms.wav", shared, CLIPS[c]);
        CHECKF(wav16k(wav, x, 16000, 1.0f), "%s", wav);
        int64_t k = run(m, x, 1, y, 16000);
        CHECKF(k == n_mel / 4, "mel %s: %lld values, ONNX Runtime %lld", CLIPS[c], (long long)k, (long long)(n_mel / 4));
        if (k != n_mel / 4) break;
        const float *r = mel + c * k;
        CHECKF(t_close(y, r, (long)k, 1e-4, 2e-3, "mel"), "melspectrogram %s", CLIPS[c]);
        printf("melspectrogram %-8s max |diff| %.2e (values up to %.1f)\n", CLIPS[c], max_diff(y, r, k), 60.0);
    }
    /* imported at batch 1, run on the four clips at once: each as ONNX Runtime computes it
     * alone (the ReduceMax of its dB floor covers every dim, the batch's too, so it is taken
     * per example; at batch 1 that is the same) */
    if (m && mel) {
        float *x4 = ft_malloc(4 * 16000 * sizeof *x4), *y4 = ft_malloc((size_t)n_mel * sizeof *y4);
        bool ok = true;
        for (int c = 0; c < 4 && ok; c++) {
            snprintf(wav, sizeof wav, "%s/models/tflite-micro/%s_1000ms.wav", shared, CLIPS[c]);
            ok = wav16k(wav, x4 + c * 16000, 16000, 1.0f);
        }
        int64_t k = ok ? run(m, x4, 4, y4, n_mel) : -1;
        CHECKF(k == n_mel, "mel batch of 4: %lld values, ONNX Runtime %lld", (long long)k, (long long)n_mel);
        if (k == n_mel) {
            CHECKF(t_close(y4, mel, (long)k, 1e-4, 2e-3, "mel batch"), "melspectrogram, the 4 clips in one batch");
            printf("melspectrogram batch of 4 max |diff| %.2e (each clip against ONNX Runtime alone)\n", max_diff(y4, mel, k));
        }
        ft_free(x4);
        ft_free(y4);
    }
    ft_model_free(m);
    ft_free(x);
    ft_free(y);
    ft_free(mel);

    /* the embedding CNN on 12 windows */
    snprintf(path, sizeof path, "%s/models/openwakeword/embedding_model.onnx", shared);
    int64_t s2[4] = {12, 76, 32, 1};
    m = import(path, 4, s2, false);
    int64_t n_emb = 0;
    float *ein = ref_f32("oww.emb_input", NULL), *emb = ref_f32("oww.emb", &n_emb);
    if (m && ein && emb) {
        float *e = ft_malloc((size_t)n_emb * sizeof *e);
        int64_t k = run(m, ein, 12, e, n_emb);
        CHECKF(k == n_emb, "embedding: %lld values", (long long)k);
        if (k == n_emb) {
            CHECKF(t_close(e, emb, (long)k, 1e-4, 1e-3, "embedding"), "embedding_model");
            printf("embedding_model  max |diff| %.2e over %lld values\n", max_diff(e, emb, k), (long long)k);
        }
        ft_free(e);
    }
    ft_model_free(m);
    ft_free(ein);
    ft_free(emb);

    /* the wake-word heads on [1, 16, 96] (hey_mycroft: one batch of 4) */
    float *hin = ref_f32("oww.head_input", NULL);
    const char *heads[4] = {"alexa_v0.1", "hey_jarvis_v0.1", "hey_marvin_v0.1", "hey_mycroft_v0.1"};
    for (int h = 0; hin && h < 4; h++) {
        bool batch4 = h == 3;
        snprintf(path, sizeof path, "%s/models/openwakeword/%s.onnx", shared, heads[h]);
        int64_t s3[3] = {batch4 ? 4 : 1, 16, 96};
        m = import(path, 3, s3, false);
        if (!m) continue;
        char key[64];
        snprintf(key, sizeof key, "oww.%s", heads[h]);
        float *r = ref_f32(key, NULL), got[4] = {0};
        bool ran = m != NULL;
        if (m && batch4) ran = run(m, hin, 4, got, 4) == 4;
        for (int i = 0; m && !batch4 && i < 4 && ran; i++) ran = run(m, hin + i * 1536, 1, got + i, 1) == 1;
        CHECKF(ran, "%s ran", heads[h]);
        if (ran && r) {
            CHECKF(t_close(got, r, 4, 1e-3, 1e-6, heads[h]), "%s", heads[h]);
            printf("%-16s %.4g %.4g %.4g %.4g (ONNX Runtime %.4g %.4g %.4g %.4g)\n", heads[h], got[0], got[1], got[2], got[3],
                   r[0], r[1], r[2], r[3]);
        }
        if (h == 1) {
            /* hey_jarvis's If on GreaterOrEqual depends on the data (imported as a where):
             * gradients through it by finite differences (FD_PER entries a tensor) */
            char msg[300] = "";
            int fd = onnx_fd_check(m, 3, s3, hin, msg, sizeof msg);
            CHECKF(fd > 0, "%s: gradient check: %s", heads[h], fd < 0 ? msg : "nothing compared");
            printf("%-16s %d gradient entries match finite differences (through its data-dependent If)\n", heads[h], fd);
        }
        ft_free(r);
        ft_model_free(m);
    }
    ft_free(hin);
}

/* ---------------- Silero VAD ---------------- */
/* A serialized TensorProto (what ft_onnx_opts binds graph inputs to). */
static uint8_t *tensor_pb(int dtype, int ndim, const int64_t *dims, const void *data, size_t bytes, size_t *len) {
    Onnx__TensorProto t;
    onnx__tensor_proto__init(&t);
    t.n_dims = (size_t)ndim;
    t.dims = (int64_t *)dims;
    t.has_data_type = 1;
    t.data_type = dtype;
    t.has_raw_data = 1;
    t.raw_data.len = bytes;
    t.raw_data.data = (uint8_t *)data;
    *len = onnx__tensor_proto__get_packed_size(&t);
    uint8_t *b = ft_malloc(*len ? *len : 1);
    onnx__tensor_proto__pack(&t, b);
    return b;
}

static void test_silero(void) {
    const char *path = CACHE "/silero_vad.onnx";
    const char *shared = getenv("FT_SHARED") ? getenv("FT_SHARED") : "../shared";
    if (access(path, R_OK) != 0) { printf("SKIP Silero VAD: %s is absent (scripts/fetch-onnx-models.sh)\n", path); return; }
    float *prob = ref_f32("vad.prob", NULL), *hn = ref_f32("vad.hn", NULL), *cn = ref_f32("vad.cn", NULL);
    if (!prob || !hn || !cn) { CHECK(0); goto out; }
    /* each clip: steps 0, 1 and 6, the state h, c bound to ONNX Runtime's state after the step before */
    const int steps[3] = {0, 1, 6};
    double worst = 0, worst_state = 0;
    for (int c = 0; c < 4; c++) {
        char wav[1024];
        snprintf(wav, sizeof wav, "%s/models/tflite-micro/%s_1000ms.wav", shared, CLIPS[c]);
        float audio[16000];
        if (!wav16k(wav, audio, 16000, 1.0f / 32768)) { printf("SKIP Silero VAD: %s unreadable\n", wav); goto out; }
        for (int si = 0; si < 3; si++) {
            int k = steps[si];
            float zeros[128] = {0};
            const float *h = k ? hn + (c * 10 + k - 1) * 128 : zeros, *cc = k ? cn + (c * 10 + k - 1) * 128 : zeros;
            int64_t sd[3] = {2, 1, 64};
            int64_t sr = 16000;
            size_t lens[3];
            uint8_t *pbs[3] = {tensor_pb(7, 0, NULL, &sr, sizeof sr, &lens[0]), tensor_pb(1, 3, sd, h, 512, &lens[1]),
                               tensor_pb(1, 3, sd, cc, 512, &lens[2])};
            const char *names[3] = {"sr", "h", "c"};
            ft_onnx_opts o = ft_onnx_defaults();
            o.input = "input";
            o.input_ndim = 2;
            o.input_shape[0] = 1;
            o.input_shape[1] = 1536;
            o.n_bind = 3;
            o.bind_names = names;
            o.bind_data = (const uint8_t *const *)pbs;
            o.bind_sizes = lens;
            ft_model *m = NULL;
            ft_status s = ft_import_onnx(path, &o, &m);
            bool stop = import_failed(s, path);
            /* all three outputs: P(speech) [1, 1], hn and cn [2, 1, 64] */
            if (m && c == 0 && si == 0) {
                /* most of its weights sit inside If branches (the sample rate's): every one is a
                 * trainable parameter (only the bound state h, c is a buffer), and one
                 * training step gives each of them a gradient */
                int n = m->params->n, buffers = 0, trainable = 0;
                bool *nz = ft_malloc((size_t)(n ? n : 1) * sizeof *nz);
                memset(nz, 0, (size_t)(n ? n : 1) * sizeof *nz);
                for (int i = 0; i < n; i++) { buffers += m->params->p[i].is_buffer; trainable += m->params->p[i].trainable; }
                int64_t xs[2] = {1, 1536};
                int reached = onnx_trained_grads(m, 2, xs, audio, nz);
                CHECKF(trainable == n - buffers && trainable > 0 && buffers <= 2, "silero: %d parameters, %d trainable, %d buffers", n, trainable,
                       buffers);
                CHECKF(reached == trainable, "silero: training reaches %d of its %d trainable parameters", reached, trainable);
                printf("silero_vad       %d trainable parameters (%lld values; the If branches' weights), %d buffers, %d get a gradient\n", trainable,
                       (long long)ft_params_count(m->params, true), buffers, reached);
                ft_free(nz);
            }
            float out[1 + 2 * 128] = {0};
            int64_t got[3] = {0};
            int n = m ? run_outputs(m, audio + k * 1536, out, 1 + 2 * 128, got, 3) : -1;
            if (m) CHECKF(n == 3 && got[0] == 1 && got[1] == 128 && got[2] == 128, "silero %s step %d ran: %d outputs", CLIPS[c], k, n);
            if (n == 3 && got[0] == 1 && got[1] == 128 && got[2] == 128) {
                float r = prob[c * 10 + k];
                CHECKF(fabs(out[0] - r) <= 1e-4 + 1e-3 * fabs(r), "silero %s step %d: %g vs ONNX Runtime %g", CLIPS[c], k, out[0], r);
                worst = fmax(worst, fabs(out[0] - r));
                const float *rh = hn + (c * 10 + k) * 128, *rc = cn + (c * 10 + k) * 128;
                CHECKF(t_close(out + 1, rh, 128, 1e-4, 1e-4, "hn") && t_close(out + 129, rc, 128, 1e-4, 1e-4, "cn"),
                       "silero %s step %d: state vs ONNX Runtime", CLIPS[c], k);
                worst_state = fmax(worst_state, fmax(max_diff(out + 1, rh, 128), max_diff(out + 129, rc, 128)));
            }
            ft_model_free(m);
            for (int i = 0; i < 3; i++) ft_free(pbs[i]);
            if (stop) goto out;
        }
    }
    printf("silero_vad       P(speech) max |diff| %.2e, state hn/cn %.2e over 12 steps (each clip: steps 0, 1, 6)\n", worst, worst_state);
out:
    ft_free(prob);
    ft_free(hn);
    ft_free(cn);
}

/* ---------------- token-id models: export -> import (no download needed) ---------------- */
/* BERT and GPT-2 exported by finetune read input_ids [N, T] (int32) and attention_mask
 * [N, T]. Imported again with input_ids as the data input (an int32 graph input; the Gather
 * of the token embedding on it becomes an `embedding` node) and the mask bound to ones
 * [1, T]: the same logits as finetune's own forward on an unpadded batch of 3. */
static void text_reimport(const char *name, uint64_t seed) {
    enum { TT = 8, NB = 3 };
    ft_model *m = from_config_file(name, seed), *r = NULL;
    CHECKF(m != NULL, "%s", name);
    if (!m) return;
    char path[512], what[128];
    snprintf(path, sizeof path, "%s/%s_ids.onnx", tmpdir, name);
    snprintf(what, sizeof what, "%s (token ids, re-imported)", name);
    ft_onnx_export_opts eo = ft_onnx_export_defaults();
    eo.seq_len = TT;
    CHECK_OK(ft_model_export_onnx(m, path, &eo));
    float ones[TT];
    for (int i = 0; i < TT; i++) ones[i] = 1.0f;
    int64_t md[2] = {1, TT};
    size_t len = 0;
    uint8_t *pb = tensor_pb(1, 2, md, ones, sizeof ones, &len);
    const char *names[1] = {"attention_mask"};
    ft_onnx_opts o = ft_onnx_defaults();
    o.batch = NB;
    o.n_bind = 1;
    o.bind_names = names;
    o.bind_data = (const uint8_t *const *)&pb;
    o.bind_sizes = &len;
    ft_status st = ft_import_onnx(path, &o, &r);
    ft_free(pb);
    unlink(path);
    CHECKF(st == FT_OK, "%s: %s", what, ft_errmsg()); /* finetune's own export: every op maps */
    if (st) { ft_model_free(m); return; }
    CHECKF(r->in_dtype == FT_I32 && r->in_ndim == 1 && r->in_shape[0] == TT, "%s: input int32 [%d]", what, TT);
    int32_t ids[NB * TT];
    float mask[NB * TT];
    for (int i = 0; i < NB * TT; i++) {
        uint32_t h = (uint32_t)i * 2654435761u + 17u;
        h ^= h >> 15;
        ids[i] = (int32_t)(h % 97u) + 1;
        mask[i] = 1.0f;
    }
    int64_t sh[2] = {NB, TT};
    float *a = NULL, *b = NULL;
    int64_t na = -1, nb = -2;
    for (int k = 0; k < 2; k++) { /* k = 0: finetune's text forward; 1: the imported graph */
        ft_graph *g = ft_graph_new(k ? r->params : m->params);
        ft_node *in = ft_input(g, "ids", FT_I32, 2, sh), *mk = k ? NULL : ft_input(g, "mask", FT_F32, 2, sh), *y;
        if (k) y = r->arch->build(r, g, in, false);
        else {
            ft_task task = ft_model_text_head(m);
            y = ft_text_forward(m, g, task == FT_TASK_CLASSIFY ? FT_TASK_LM : task, in, mk, false);
        }
        ft_node_keep(y);
        ft_status s2 = ft_graph_plan(g, NULL, false);
        if (!s2) s2 = ft_graph_set_input(g, in, ids, sizeof ids);
        if (!s2 && mk) s2 = ft_graph_set_input(g, mk, mask, sizeof mask);
        if (!s2) s2 = ft_graph_forward(g);
        CHECKF(s2 == FT_OK, "%s forward %d: %s", what, k, ft_errmsg());
        if (!s2) {
            float *c = ft_malloc((size_t)y->numel * sizeof *c);
            memcpy(c, y->val, (size_t)y->numel * sizeof *c);
            if (k) { b = c; nb = y->numel; } else { a = c; na = y->numel; }
        }
        ft_graph_free(g);
    }
    CHECKF(na > 0 && na == nb, "%s: %lld vs %lld outputs", what, (long long)na, (long long)nb);
    if (na > 0 && na == nb) {
        CHECKF(t_close(b, a, (long)na, 1e-4, 1e-5, what), "%s: imported export vs finetune", what);
        printf("%-40s exported, re-imported: max |diff| %.2e over %lld logits\n", what, max_diff(a, b, na), (long long)na);
    }
    /* the weights keep their names and values (the token embedding and every linear layer,
     * written as MatMul of a Transpose); only the position (and token type) tables, sliced
     * to T rows by the export, fold into new parameters named after the slices */
    int same = 0, found = 0, total = 0;
    for (int i = 0; i < r->params->n; i++) {
        if (r->params->p[i].is_buffer) continue;
        total++;
        int k = ft_params_find(m->params, r->params->p[i].name);
        if (k < 0) { printf("  %s: '%s' is not a parameter of the exported model\n", what, r->params->p[i].name); continue; }
        found++;
        same += m->params->p[k].numel == r->params->p[i].numel &&
                !memcmp(ft_params_value(m->params, k), ft_params_value(r->params, i), (size_t)r->params->p[i].numel * 4);
    }
    CHECKF(found > 0 && same == found && total - found <= 2, "%s: %d of %d trainable parameters found by name, %d of them equal", what, found,
           total, same);
    const char *emb = strstr(name, "bert") ? "bert.embeddings.word_embeddings.weight" : strstr(name, "llama") ? "model.embed_tokens.weight" : "transformer.wte.weight";
    CHECKF(ft_params_find(r->params, emb) >= 0, "%s: %s", what, emb);
    /* gradients through the re-imported graph (grouped-query attention: the MatMuls that
     * broadcast the kv heads) by finite differences */
    if (strstr(name, "llama")) { /* on one example: imported at batch 3, the graph keeps any batch */
        char msg[300] = "";
        int64_t one[2] = {1, TT};
        int fd = onnx_fd_check_in(r, 2, one, NULL, ids, msg, sizeof msg);
        CHECKF(fd > 0, "%s: gradient check: %s", what, fd < 0 ? msg : "nothing compared");
        printf("%-40s %d gradient entries match finite differences\n", what, fd);
    }
    ft_free(a);
    ft_free(b);
    ft_model_free(r);
    ft_model_free(m);
}

/* ---------------- PaddleOCR direction classifier ---------------- */
static void test_ocr(void) {
    const char *path = CACHE "/ch_ppocr_mobile_v2.0_cls_infer.onnx";
    if (access(path, R_OK) != 0) { printf("SKIP PaddleOCR cls: %s is absent (scripts/fetch-onnx-models.sh)\n", path); return; }
    const ft_st_tensor *img = ft_st_find(ref, "ocr.image");
    float *p = ref_f32("ocr.prob", NULL);
    CHECK(img && img->dtype == FT_ST_U8 && img->numel == 4 * 48 * 192 && p);
    if (!img || !p) { ft_free(p); return; }
    float *x = ft_malloc(4 * 3 * 48 * 192 * sizeof *x);
    for (int n = 0; n < 4; n++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 48 * 192; i++) x[(n * 3 + c) * 48 * 192 + i] = ((float)img->data[n * 48 * 192 + i] / 255.0f - 0.5f) / 0.5f;
    for (int promote = 0; promote < 2; promote++) {
        int64_t s[4] = {4, 3, 48, 192};
        ft_model *m = import(path, 4, s, promote);
        if (!m) continue;
        float y[8] = {0};
        int64_t k = m ? run(m, x, 4, y, 8) : -1;
        CHECKF(k == 8, "ocr: %lld outputs", (long long)k);
        if (k == 8) {
            CHECKF(t_close(y, p, 8, 1e-3, 1e-4, "ocr"), "PaddleOCR cls (promote_constants %d)", promote);
            printf("ppocr cls (%s) P(0 deg) %.4f %.4f %.4f %.4f, max |diff| %.2e\n", promote ? "Constants trainable" : "Constants fixed",
                   y[0], y[2], y[4], y[6], max_diff(y, p, 8));
        }
        if (m && promote) {
            /* promoted Constants are parameters, so there is something to train */
            CHECKF(ft_params_count(m->params, true) > 100000, "%lld trainable", (long long)ft_params_count(m->params, true));
            printf("ppocr cls (Constants trainable): %lld trainable parameters\n", (long long)ft_params_count(m->params, true));
        }
        ft_model_free(m);
    }
    ft_free(x);
    ft_free(p);
}

/* ---------------- fine-tune -> export -> import round trips (no download needed) ---------------- */
static ft_model *from_config_file(const char *name, uint64_t seed) {
    char path[512];
    snprintf(path, sizeof path, "tests/fixtures/onnx_export/%s.json", name);
    uint8_t *txt = NULL;
    size_t n = 0;
    ft_model *m = NULL;
    if (ft_read_file(path, 1 << 20, &txt, &n)) return NULL;
    char *cfg = ft_malloc(n + 1);
    memcpy(cfg, txt, n);
    cfg[n] = 0;
    ft_free(txt);
    if (!ft_model_from_config(cfg, &m)) ft_model_init(m, seed);
    ft_free(cfg);
    return m;
}

static void hashed(float *x, int64_t n, uint32_t seed) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)i + seed * 0x9e3779b9u;
        h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
        x[i] = 2.0f * (float)(h >> 8) / 16777216.0f - 1.0f;
    }
}

static int64_t per_example(const ft_model *m) {
    int64_t per = 1;
    for (int d = 0; d < m->in_ndim; d++) per *= m->in_shape[d];
    return per;
}

/* `steps` SGD steps of cross-entropy on a fixed hashed batch of 4 (labels i % K); returns the
 * first and last loss. */
static bool sgd(ft_model *m, int steps, float lr, float *loss0, float *loss1) {
    const int64_t n = 4;
    int64_t shape[FT_MAX_DIMS] = {n};
    for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
    if (ft_params_alloc_grads(m->params)) return false;
    ft_graph *g = ft_graph_new(m->params);
    ft_node *x = ft_input(g, "x", FT_F32, m->in_ndim + 1, shape);
    ft_node *y = ft_input(g, "y", FT_I32, 1, shape);
    ft_node *lg = m->arch->build(m, g, x, true);
    ft_node *loss = ft_cross_entropy(g, lg, y, -100, 0.0f);
    bool ok = ft_graph_plan(g, loss, true) == FT_OK;
    float *xv = ft_malloc((size_t)(n * per_example(m)) * sizeof *xv);
    hashed(xv, n * per_example(m), 77);
    int32_t yv[4];
    for (int i = 0; i < 4; i++) yv[i] = i % (int)lg->shape[1];
    ok = ok && !ft_graph_set_input(g, x, xv, (size_t)(n * per_example(m)) * sizeof *xv) && !ft_graph_set_input(g, y, yv, sizeof yv);
    for (int s = 0; ok && s < steps; s++) {
        ft_params_zero_grad(m->params);
        ok = !ft_graph_forward(g) && !ft_graph_backward(g);
        if (s == 0) *loss0 = loss->val[0];
        *loss1 = loss->val[0];
        for (int i = 0; ok && i < m->params->n; i++) {
            float *gr = ft_params_grad(m->params, i), *v = ft_params_value(m->params, i);
            if (gr) for (int64_t j = 0; j < m->params->p[i].numel; j++) v[j] -= lr * gr[j];
        }
    }
    if (!ok) fprintf(stderr, "sgd: %s\n", ft_errmsg());
    ft_free(xv);
    ft_graph_free(g);
    return ok;
}

/* Export m, import the file again, and compare the two forwards on a hashed batch of 3. */
static void export_reimport(ft_model *m, const char *what) {
    char path[512];
    snprintf(path, sizeof path, "%s/rt.onnx", tmpdir);
    CHECK_OK(ft_model_export_onnx(m, path, NULL));
    ft_model *r = NULL;
    ft_onnx_opts o = ft_onnx_defaults();
    o.batch = 3;
    ft_status s = ft_import_onnx(path, &o, &r);
    if (import_failed(s, what)) { unlink(path); return; }
    int64_t per = per_example(m), cap = 3 * 4096;
    float *x = ft_malloc((size_t)(3 * per) * sizeof *x), *a = ft_malloc((size_t)cap * sizeof *a), *b = ft_malloc((size_t)cap * sizeof *b);
    hashed(x, 3 * per, 5);
    int64_t na = run(m, x, 3, a, cap), nb = run(r, x, 3, b, cap);
    CHECKF(na > 0 && na == nb, "%s: %lld vs %lld outputs", what, (long long)na, (long long)nb);
    if (na > 0 && na == nb) {
        CHECKF(t_close(b, a, (long)na, 1e-4, 1e-5, what), "%s: re-imported export vs finetune", what);
        printf("%-40s exported, re-imported: max |diff| %.2e\n", what, max_diff(a, b, na));
    }
    /* the parameters keep their names and values */
    int same = 0, total = 0;
    for (int i = 0; i < m->params->n; i++) {
        if (m->params->p[i].is_buffer) continue;
        total++;
        int k = ft_params_find(r->params, m->params->p[i].name);
        if (k >= 0 && r->params->p[k].numel == m->params->p[i].numel &&
            !memcmp(ft_params_value(r->params, k), ft_params_value(m->params, i), (size_t)m->params->p[i].numel * 4))
            same++;
    }
    CHECKF(same == total, "%s: %d of %d parameters came back under their names", what, same, total);
    ft_free(x);
    ft_free(a);
    ft_free(b);
    ft_model_free(r);
    unlink(path);
}

static float *copy_param(ft_model *m, const char *name, int *idx) {
    *idx = ft_params_find(m->params, name);
    CHECKF(*idx >= 0, "no parameter %s", name);
    if (*idx < 0) return NULL;
    size_t bytes = (size_t)m->params->p[*idx].numel * 4;
    float *c = ft_malloc(bytes);
    memcpy(c, ft_params_value(m->params, *idx), bytes);
    return c;
}
static bool param_same(ft_model *m, int idx, const float *c) {
    return c && idx >= 0 && !memcmp(c, ft_params_value(m->params, idx), (size_t)m->params->p[idx].numel * 4);
}

/* An imported model (the export of a native one) fine-tuned like a native one: globs on the
 * initializer names, then a cut at a named tensor with a new head; each result exported and
 * imported again. */
static void finetune_imported(const char *name, uint64_t seed, const char *train, const char *freeze, const char *moved,
                              const char *frozen, const char *still, const char *cut) {
    ft_model *m = from_config_file(name, seed);
    char path[512], what[128];
    snprintf(path, sizeof path, "%s/%s.onnx", tmpdir, name);
    CHECK(m && !ft_model_export_onnx(m, path, NULL));
    ft_model_free(m);
    m = NULL;
    ft_onnx_opts o = ft_onnx_defaults();
    snprintf(what, sizeof what, "%s (imported)", name);
    if (import_failed(ft_import_onnx(path, &o, &m), what)) { unlink(path); return; }
    CHECK_OK(ft_model_select_trainable(m, train, freeze));
    int i1, i2, i3;
    float *p1 = copy_param(m, moved, &i1), *p2 = copy_param(m, frozen, &i2), *p3 = copy_param(m, still, &i3);
    float l0 = 0, l1 = 0;
    CHECK(sgd(m, 6, 0.1f, &l0, &l1));
    CHECKF(l1 < l0, "%s --train '%s' --freeze '%s': loss %g -> %g", what, train, freeze, l0, l1);
    CHECKF(p1 && !param_same(m, i1, p1), "%s trained", moved);
    CHECKF(param_same(m, i2, p2), "%s frozen", frozen);
    CHECKF(param_same(m, i3, p3), "%s not selected", still);
    printf("%s --train '%s' --freeze '%s': loss %.4f -> %.4f over 6 SGD steps\n", what, train, freeze, l0, l1);
    snprintf(what, sizeof what, "%s (imported, fine-tuned)", name);
    export_reimport(m, what);
    ft_free(p1);
    ft_free(p2);
    ft_free(p3);
    ft_model_free(m);
    m = NULL;

    o = ft_onnx_defaults();
    o.cut = cut;
    snprintf(what, sizeof what, "%s cut at '%s'", name, cut);
    if (!import_failed(ft_import_onnx(path, &o, &m), what)) {
        ft_model *h = NULL;
        CHECK_OK(ft_model_replace_head(m, 3, 9, &h));
        if (h) {
            CHECKF(h->n_classes == 3, "%d classes", h->n_classes);
            CHECK_OK(ft_model_select_trainable(h, "head", NULL));
            CHECK(sgd(h, 6, 0.2f, &l0, &l1));
            CHECKF(l1 < l0, "%s + new head: loss %g -> %g", what, l0, l1);
            printf("%s + new 3-class head, --train head: loss %.4f -> %.4f\n", what, l0, l1);
            snprintf(what, sizeof what, "%s cut at '%s' + new head", name, cut);
            export_reimport(h, what);
            ft_model_free(h);
        }
        ft_model_free(m);
    }
    unlink(path);
}

/* A model exported by finetune against ONNX Runtime's outputs on it (the generator exported
 * tests/fixtures/onnx_export/slice_steps.json with the CLI): slices with steps 3, -2, -1, 2. */
static void test_exported(void) {
    const ft_st_tensor *t = ft_st_find(ref, "export.slice_steps.out");
    CHECKF(t != NULL, "the fixture has no export.slice_steps.out");
    if (!t) return;
    ft_model *m = from_config_file("slice_steps", 1);
    CHECK(m != NULL);
    float *want = ref_f32("export.slice_steps.out", NULL), x[2 * 2 * 9 * 8], y[6];
    hashed(x, 2 * 2 * 9 * 8, 70);
    int64_t k = m && want ? run(m, x, 2, y, 6) : -1;
    CHECKF(k == 6 && t->numel == 6, "slice_steps: %lld outputs", (long long)k);
    if (k == 6 && t->numel == 6) {
        CHECKF(t_close(y, want, 6, 1e-4, 1e-5, "slice_steps"), "slice_steps: finetune vs ONNX Runtime on finetune's export");
        printf("slice_steps (stepped slices) exported: ONNX Runtime vs finetune max |diff| %.2e\n", max_diff(y, want, 6));
    }
    ft_free(want);
    ft_model_free(m);
}

/* An export refusal names an unnamed engine node (a native architecture's) by its op and the
 * module of its nearest parameter, not '?': the mlp's logits fed to an mse (a loss has no
 * ONNX mapping) by a build that wraps the mlp's. */
static const ft_arch *mlp_arch;
static ft_node *mlp_then_mse(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    ft_node *y = mlp_arch->build(m, g, x, training);
    return y ? ft_mse(g, y, y) : NULL;
}

static void test_unnamed_refusal(void) {
    ft_model *m = from_config_file("mlp", 2);
    CHECK(m != NULL);
    if (!m) return;
    ft_arch a = *m->arch;
    mlp_arch = m->arch;
    a.build = mlp_then_mse;
    m->arch = &a;
    char path[512];
    snprintf(path, sizeof path, "%s/unnamed.onnx", tmpdir);
    ft_onnx_export_opts eo = ft_onnx_export_defaults();
    eo.batch = 2;
    CHECK_ERR(ft_model_export_onnx(m, path, &eo), FT_EUNSUPPORTED);
    const char *msg = ft_errmsg(), *of = strstr(msg, "'mse of ");
    bool module = false; /* the name after "of" is a parameter's module: a prefix of its name */
    for (int i = 0; of && i < m->params->n; i++) {
        const char *nm = m->params->p[i].name, *end = strchr(of + 8, '\'');
        module |= end && !strncmp(nm, of + 8, (size_t)(end - of - 8)) && nm[end - of - 8] == '.';
    }
    CHECKF(of && module && !strstr(msg, "'?'") && strstr(msg, "(op mse)"), "unnamed node: %s", msg);
    printf("export refusal of an unnamed node: %s\n", msg);
    m->arch = mlp_arch;
    unlink(path);
    ft_model_free(m);
}

static void test_roundtrip(void) {
    /* native models through ONNX and back */
    const char *names[4] = {"mlp", "ops_graph", "mobilenet_v2", "slice_steps"};
    for (int i = 0; i < 4; i++) {
        ft_model *m = from_config_file(names[i], 11 + (uint64_t)i);
        CHECKF(m != NULL, "%s", names[i]);
        if (!m) continue;
        char what[64];
        snprintf(what, sizeof what, "%s (native)", names[i]);
        export_reimport(m, what);
        ft_model_free(m);
    }
    finetune_imported("mobilenet_v2", 3, "features.18.*,classifier.*", "features.18.1.*", "classifier.1.weight",
                      "features.18.1.weight", "features.0.0.weight", "features.18.1");
    finetune_imported("ops_graph", 4, "fc.*,head.*", "fc.bias", "fc.weight", "fc.bias", "c1.weight", "ln");
    text_reimport("bert_seqcls", 5);
    text_reimport("gpt2_seqcls", 6);
    text_reimport("llama_lm", 7);
    text_reimport("llama_gqa", 13);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/ft_onnx_models_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_roundtrip();
    test_unnamed_refusal();
    CHECK_OK(ft_st_open(FIX, &ref));
    if (ref) test_exported();
    if (ref) {
        const char *shared = t_shared("openWakeWord and Silero VAD (the clips)");
        if (shared) {
            test_oww(shared);
            test_silero();
        }
        test_ocr();
        ft_st_close(ref);
    }
    rmdir(tmpdir);
    TEST_END();
}
