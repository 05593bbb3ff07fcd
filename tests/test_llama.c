/* The "llama" architecture, the llama2.c importer and KV-cache generation.
 *
 *  - a llama2.c checkpoint written here (random weights, unshared classifier, grouped-query
 *    heads) imports, and the model's logits equal a plain llama2.c-style forward written in
 *    this file (interleaved RoPE pairs, run.c's loops): that checks the wq/wk permutation;
 *  - generation with the KV cache picks the same tokens as full-sequence forwards;
 *  - truncated / corrupt checkpoints and bad configs fail with a clear message;
 *  - with ../shared: stories260K greedy decoding reproduces llama2.c's run.c token for token
 *    (tests/fixtures/stories260k_greedy.txt, 256 steps). */
#include "test.h"
#include "models/models.h"

#include <math.h>
#include <stdint.h>

/* ---- a llama2.c checkpoint in memory ---- */
typedef struct { int dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len; } l2c_cfg;

static size_t l2c_floats(const l2c_cfg *c, bool shared) {
    size_t C = (size_t)c->dim, L = (size_t)c->n_layers, F = (size_t)c->hidden, V = (size_t)c->vocab;
    size_t D = C / (size_t)c->n_heads, KV = D * (size_t)c->n_kv_heads;
    return V * C + 2 * L * C + 2 * L * C * C + 2 * L * KV * C + 3 * L * C * F + C + (size_t)c->seq_len * D + (shared ? 0 : V * C);
}

static uint8_t *l2c_write(const l2c_cfg *c, bool shared, uint64_t seed, size_t *size) {
    size_t nf = l2c_floats(c, shared);
    *size = 28 + 4 * nf;
    uint8_t *buf = malloc(*size);
    int32_t hdr[7] = {c->dim, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, shared ? c->vocab : -c->vocab, c->seq_len};
    memcpy(buf, hdr, 28);
    ft_pcg32 r;
    ft_pcg32_seed(&r, seed, 3);
    float *f = (float *)(buf + 28);
    for (size_t i = 0; i < nf; i++) f[i] = (2 * ft_pcg32_uniform(&r) - 1) * 0.4f;
    /* norm weights around 1, as trained models have */
    size_t C = (size_t)c->dim, L = (size_t)c->n_layers, V = (size_t)c->vocab, D = C / (size_t)c->n_heads;
    size_t KV = D * (size_t)c->n_kv_heads, F = (size_t)c->hidden;
    for (size_t i = 0; i < L * C; i++) f[V * C + i] += 1.0f;                                       /* rms_att */
    size_t ffn = V * C + L * C + 2 * L * C * C + 2 * L * KV * C;
    for (size_t i = 0; i < L * C; i++) f[ffn + i] += 1.0f;                                          /* rms_ffn */
    for (size_t i = 0; i < C; i++) f[ffn + L * C + 3 * L * C * F + i] += 1.0f;                     /* rms_final */
    return buf;
}

/* run.c's forward for one token at pos with its KV cache (kc/vc [L, seq_len, kv]). */
static void ref_rmsnorm(float *o, const float *x, const float *w, int n) {
    float ss = 0;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss = 1.0f / sqrtf(ss / n + 1e-5f);
    for (int j = 0; j < n; j++) o[j] = w[j] * (ss * x[j]);
}
static void ref_matmul(float *o, const float *x, const float *w, int n, int d) {
    for (int i = 0; i < d; i++) {
        float v = 0;
        for (int j = 0; j < n; j++) v += w[(size_t)i * n + j] * x[j];
        o[i] = v;
    }
}
static void ref_forward(const l2c_cfg *c, bool shared, const float *wts, int token, int pos, float *kc, float *vc, float *logits) {
    int C = c->dim, L = c->n_layers, F = c->hidden, V = c->vocab, H = c->n_heads, D = C / H, KV = D * c->n_kv_heads;
    int G = H / c->n_kv_heads, T = c->seq_len;
    const float *emb = wts, *rms_att = emb + (size_t)V * C, *wq = rms_att + (size_t)L * C, *wk = wq + (size_t)L * C * C;
    const float *wv = wk + (size_t)L * KV * C, *wo = wv + (size_t)L * KV * C, *rms_ffn = wo + (size_t)L * C * C;
    const float *w1 = rms_ffn + (size_t)L * C, *w2 = w1 + (size_t)L * F * C, *w3 = w2 + (size_t)L * C * F;
    const float *rms_f = w3 + (size_t)L * F * C, *wcls = shared ? emb : rms_f + C + (size_t)T * D;
    float x[256], xb[256], xb2[256], q[256], hb[512], hb2[512], att[64];
    memcpy(x, emb + (size_t)token * C, (size_t)C * 4);
    for (int l = 0; l < L; l++) {
        ref_rmsnorm(xb, x, rms_att + (size_t)l * C, C);
        float *k = kc + ((size_t)l * T + pos) * KV, *v = vc + ((size_t)l * T + pos) * KV;
        ref_matmul(q, xb, wq + (size_t)l * C * C, C, C);
        ref_matmul(k, xb, wk + (size_t)l * KV * C, C, KV);
        ref_matmul(v, xb, wv + (size_t)l * KV * C, C, KV);
        for (int i = 0; i < C; i += 2) { /* interleaved pairs */
            float fr = 1.0f / powf(10000.0f, (float)(i % D) / (float)D), val = (float)pos * fr, fc = cosf(val), fs = sinf(val);
            for (int w = 0; w < (i < KV ? 2 : 1); w++) {
                float *vec = w == 0 ? q : k, a = vec[i], b = vec[i + 1];
                vec[i] = a * fc - b * fs;
                vec[i + 1] = a * fs + b * fc;
            }
        }
        for (int h = 0; h < H; h++) {
            float mx = -INFINITY, sum = 0;
            for (int t = 0; t <= pos; t++) {
                const float *kt = kc + ((size_t)l * T + t) * KV + (h / G) * D;
                float s = 0;
                for (int i = 0; i < D; i++) s += q[h * D + i] * kt[i];
                att[t] = s / sqrtf((float)D);
                mx = att[t] > mx ? att[t] : mx;
            }
            for (int t = 0; t <= pos; t++) { att[t] = expf(att[t] - mx); sum += att[t]; }
            for (int i = 0; i < D; i++) {
                float o = 0;
                for (int t = 0; t <= pos; t++) o += att[t] / sum * vc[((size_t)l * T + t) * KV + (h / G) * D + i];
                xb[h * D + i] = o;
            }
        }
        ref_matmul(xb2, xb, wo + (size_t)l * C * C, C, C);
        for (int i = 0; i < C; i++) x[i] += xb2[i];
        ref_rmsnorm(xb, x, rms_ffn + (size_t)l * C, C);
        ref_matmul(hb, xb, w1 + (size_t)l * F * C, C, F);
        ref_matmul(hb2, xb, w3 + (size_t)l * F * C, C, F);
        for (int i = 0; i < F; i++) hb[i] = hb[i] / (1.0f + expf(-hb[i])) * hb2[i];
        ref_matmul(xb, hb, w2 + (size_t)l * C * F, F, C);
        for (int i = 0; i < C; i++) x[i] += xb[i];
    }
    ref_rmsnorm(x, x, rms_f, C);
    ref_matmul(logits, x, wcls, C, V);
}

/* Full-sequence logits [T, V] of ids through the graph (build()). */
static float *full_logits(ft_model *m, const int32_t *ids, int T) {
    ft_graph *g = ft_graph_new(m->params);
    int64_t sh[2] = {1, T};
    ft_node *x = ft_input(g, "ids", FT_I32, 2, sh);
    ft_node *lg = m->arch->build(m, g, x, false);
    ft_node_keep(lg);
    float *out = NULL;
    ft_status s = ft_graph_plan(g, NULL, false);
    CHECKF(s == FT_OK, "plan: %s", ft_errmsg());
    if (!s) {
        ft_graph_set_input(g, x, ids, (size_t)T * 4);
        CHECK_OK(ft_graph_forward(g));
        CHECK(lg->ndim == 3 && lg->shape[1] == T && lg->shape[2] == m->seq.vocab_size);
        out = malloc((size_t)lg->numel * 4);
        memcpy(out, lg->val, (size_t)lg->numel * 4);
    }
    ft_graph_free(g);
    return out;
}

static void test_import_matches_llama2c_forward(void) {
    l2c_cfg c = {32, 40, 2, 4, 2, 37, 16};
    for (int shared = 0; shared < 2; shared++) {
        size_t size;
        uint8_t *buf = l2c_write(&c, shared, 7 + shared, &size);
        ft_model *m = NULL;
        CHECK_OK(ft_import_llama2c_mem(buf, size, "tiny.bin", &m));
        if (!m) { free(buf); continue; }
        CHECK(m->seq.vocab_size == 37 && m->seq.n_layers == 2 && m->seq.max_positions == 16 && m->seq.kv_width == 16);
        CHECK((ft_params_find(m->params, "lm_head.weight") >= 0) == !shared);
        const int T = 9;
        int32_t ids[9] = {1, 5, 36, 0, 12, 12, 7, 30, 2};
        float *lg = full_logits(m, ids, T);
        float *kc = calloc((size_t)c.n_layers * c.seq_len * 16, 4), *vc = calloc((size_t)c.n_layers * c.seq_len * 16, 4);
        float ref[64];
        int bad = 0;
        for (int t = 0; t < T && lg; t++) {
            ref_forward(&c, shared, (const float *)(buf + 28), ids[t], t, kc, vc, ref);
            bad += !t_close(lg + (size_t)t * c.vocab, ref, c.vocab, 1e-4, 1e-4, "logits vs llama2.c forward");
        }
        CHECKF(lg && bad == 0, "shared=%d: %d positions differ from the llama2.c-style forward", shared, bad);
        /* KV-cache generation == argmax of full forwards over the growing sequence */
        int32_t prompt[3] = {1, 20, 3}, gen[100], seq[16]; /* gen holds max_tokens */
        int n = 0;
        ft_generate_opts o = ft_generate_defaults();
        o.max_tokens = 10;
        CHECK_OK(ft_generate(m, prompt, 3, &o, gen, &n, NULL, NULL));
        CHECK(n == 10);
        memcpy(seq, prompt, sizeof prompt);
        memcpy(seq + 3, gen, (size_t)n * 4);
        float *lg2 = full_logits(m, seq, 3 + n - 1);
        int agree = 0;
        for (int i = 0; i < n && lg2; i++) {
            const float *row = lg2 + (size_t)(2 + i) * c.vocab;
            int best = 0;
            for (int v = 1; v < c.vocab; v++) if (row[v] > row[best]) best = v;
            agree += best == gen[i];
        }
        CHECKF(agree == n, "KV-cache generation: %d of %d tokens agree with full forwards", agree, n);
        /* max positions: generation stops at seq_len */
        o.max_tokens = 100;
        CHECK_OK(ft_generate(m, prompt, 3, &o, gen, &n, NULL, NULL));
        CHECKF(n == c.seq_len - 3 + 1, "generated %d tokens within %d positions", n, c.seq_len);
        free(lg); free(lg2); free(kc); free(vc);
        ft_model_free(m);
        free(buf);
    }
}

static void test_sampling(void) {
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config("{\"arch\":\"llama\",\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":1,"
                                  "\"num_attention_heads\":2,\"vocab_size\":20,\"max_position_embeddings\":32}", &m));
    if (!m) return;
    ft_model_init(m, 3);
    int32_t p[1] = {1}, a[8], b[8], c[8];
    int na, nb, nc;
    ft_generate_opts o = ft_generate_defaults();
    o.max_tokens = 8; o.temperature = 1.0f; o.top_k = 5; o.top_p = 0.9f; o.seed = 11;
    CHECK_OK(ft_generate(m, p, 1, &o, a, &na, NULL, NULL));
    CHECK_OK(ft_generate(m, p, 1, &o, b, &nb, NULL, NULL));
    CHECK(na == 8 && nb == 8 && memcmp(a, b, sizeof a) == 0); /* same seed, same tokens */
    o.top_k = 1; /* top-1 sampling is greedy */
    CHECK_OK(ft_generate(m, p, 1, &o, a, &na, NULL, NULL));
    o.temperature = 0; o.top_k = 0; o.top_p = 1;
    CHECK_OK(ft_generate(m, p, 1, &o, c, &nc, NULL, NULL));
    CHECK(na == 8 && nc == 8 && memcmp(a, c, sizeof a) == 0);
    o.temperature = -1;
    CHECK_ERR(ft_generate(m, p, 1, &o, a, &na, NULL, NULL), FT_EINVAL);
    o.temperature = 0;
    p[0] = 20;
    CHECK_ERR(ft_generate(m, p, 1, &o, a, &na, NULL, NULL), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "outside the vocabulary") != NULL);
    /* a prompt longer than the model's 32 positions: a message, not a crash */
    int32_t longp[40] = {0};
    CHECK_ERR(ft_generate(m, longp, 40, &o, a, &na, NULL, NULL), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "the prompt has 40 tokens, the model takes at most 32 positions") != NULL);
    ft_model_free(m);
}


/* The sampler itself: temperature, top-k and top-p (nucleus) keep exactly the tokens they
 * should, and over 20,000 seeded draws each kept token comes up as often as its renormalised
 * probability says. */
static void sample_freq(const float *logits, int V, const ft_generate_opts *o, double *freq) {
    ft_prob_id buf[8];
    for (int i = 0; i < V; i++) freq[i] = 0;
    enum { DRAWS = 20000 };
    for (int k = 0; k < DRAWS; k++) {
        int32_t id = ft_generate_sample(logits, V, o, (uint64_t)k, buf);
        if (id >= 0 && id < V) freq[id] += 1.0 / DRAWS;
    }
}

static void test_sampler(void) {
    const double p[6] = {0.4, 0.25, 0.15, 0.1, 0.06, 0.04};
    float lg[6];
    for (int i = 0; i < 6; i++) lg[i] = (float)log(p[i]) + 3.0f; /* a shift changes nothing */
    ft_generate_opts o = ft_generate_defaults();
    double f[6], want[6];
    struct { float temp; int top_k; float top_p; int keep; } cases[] = {
        {1.0f, 0, 1.0f, 6},  /* plain sampling: p */
        {1.0f, 3, 1.0f, 3},  /* top-3: p[0..2] / 0.8 */
        {1.0f, 0, 0.6f, 2},  /* nucleus 0.6: 0.4 < 0.6 <= 0.65: two tokens */
        {1.0f, 0, 0.3f, 1},  /* nucleus 0.3: the most likely alone */
        {1.0f, 4, 0.7f, 2},  /* top-4 (mass 0.9), then 0.7 of it (0.63): two tokens */
        {2.0f, 0, 1.0f, 6},  /* temperature 2: p^(1/2) renormalised */
        {0.5f, 2, 1.0f, 2},  /* temperature 0.5 then top-2: p^2 over the two */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        o.temperature = cases[c].temp;
        o.top_k = cases[c].top_k;
        o.top_p = cases[c].top_p;
        o.seed = 100 + c;
        double tot = 0;
        for (int i = 0; i < 6; i++) tot += (want[i] = i < cases[c].keep ? pow(p[i], 1.0 / cases[c].temp) : 0);
        bool ok = true;
        sample_freq(lg, 6, &o, f);
        for (int i = 0; i < 6; i++) {
            want[i] /= tot;
            if (want[i] == 0 ? f[i] != 0 : fabs(f[i] - want[i]) > 0.015) ok = false;
        }
        CHECKF(ok, "sampler case %zu (T %g, top-k %d, top-p %g): frequencies %.3f %.3f %.3f %.3f %.3f %.3f, want %.3f %.3f %.3f %.3f %.3f %.3f",
               c, cases[c].temp, cases[c].top_k, cases[c].top_p, f[0], f[1], f[2], f[3], f[4], f[5], want[0], want[1], want[2],
               want[3], want[4], want[5]);
    }
    /* greedy: the first maximum; a draw depends on (seed, step) only */
    float tie[4] = {1.0f, 3.0f, 3.0f, 2.0f};
    ft_prob_id buf[8];
    o = ft_generate_defaults();
    CHECK(ft_generate_sample(tie, 4, &o, 0, buf) == 1);
    o.temperature = 1.0f;
    o.seed = 9;
    int32_t a = ft_generate_sample(lg, 6, &o, 17, buf), b = ft_generate_sample(lg, 6, &o, 17, buf);
    CHECK(a == b);
    int diff = 0;
    for (uint64_t k = 0; k < 64; k++) {
        o.seed = 9;
        int32_t x = ft_generate_sample(lg, 6, &o, k, buf);
        o.seed = 10;
        diff += x != ft_generate_sample(lg, 6, &o, k, buf);
    }
    CHECK(diff > 10); /* another seed, other draws */
}

/* The same weights in export.py's version-1 layout: 256-byte header, norms first, no RoPE tables. */
static uint8_t *l2c_to_v1(const l2c_cfg *c, bool shared, const uint8_t *legacy, size_t *size) {
    size_t C = (size_t)c->dim, L = (size_t)c->n_layers, F = (size_t)c->hidden, V = (size_t)c->vocab;
    size_t D = C / (size_t)c->n_heads, KV = D * (size_t)c->n_kv_heads;
    /* legacy segments: emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq, wcls */
    size_t len[13] = {V * C, L * C, L * C * C, L * KV * C, L * KV * C, L * C * C, L * C, L * F * C, L * C * F, L * F * C, C,
                      (size_t)c->seq_len * D, shared ? 0 : V * C};
    size_t off[13], o = 0;
    for (int i = 0; i < 13; i++) { off[i] = o; o += len[i]; }
    static const int v1[12] = {1, 6, 10, 0, 2, 3, 4, 5, 7, 8, 9, 12};
    size_t nf = 0;
    for (int i = 0; i < 12; i++) nf += len[v1[i]];
    *size = 256 + 4 * nf;
    uint8_t *buf = calloc(1, *size);
    uint32_t magic = 0x616b3432u;
    int32_t version = 1, hdr[7] = {c->dim, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab, c->seq_len};
    memcpy(buf, &magic, 4);
    memcpy(buf + 4, &version, 4);
    memcpy(buf + 8, hdr, 28);
    buf[36] = shared;
    const float *src = (const float *)(legacy + 28);
    float *dst = (float *)(buf + 256);
    for (int i = 0; i < 12; i++) { memcpy(dst, src + off[v1[i]], len[v1[i]] * 4); dst += len[v1[i]]; }
    return buf;
}

static void test_version1(void) {
    l2c_cfg c = {32, 40, 2, 4, 2, 37, 16};
    for (int shared = 0; shared < 2; shared++) {
        size_t n0, n1;
        uint8_t *legacy = l2c_write(&c, shared, 21, &n0), *v1 = l2c_to_v1(&c, shared, legacy, &n1);
        ft_model *a = NULL, *b = NULL;
        CHECK_OK(ft_import_llama2c_mem(legacy, n0, "legacy.bin", &a));
        CHECK_OK(ft_import_llama2c_mem(v1, n1, "v1.bin", &b));
        if (a && b) {
            CHECK(a->params->n == b->params->n && a->params->total == b->params->total);
            CHECKF(memcmp(a->params->data, b->params->data, a->params->total * 4) == 0, "shared=%d: version 1 differs from legacy", shared);
        }
        ft_model_free(a);
        ft_model_free(b);
        CHECK_ERR(ft_import_llama2c_mem(v1, n1 - 4, "v1cut.bin", &b), FT_EFORMAT);
        int32_t two = 2;
        memcpy(v1 + 4, &two, 4);
        CHECK_ERR(ft_import_llama2c_mem(v1, n1, "v2.bin", &b), FT_EUNSUPPORTED);
        CHECKF(strstr(ft_errmsg(), "version 2") != NULL, "message: %s", ft_errmsg());
        free(legacy);
        free(v1);
    }
    ft_model *m = NULL;
    const uint8_t zip[64] = {'P', 'K', 3, 4};
    CHECK_ERR(ft_import_llama2c_mem(zip, sizeof zip, "pytorch_model.bin", &m), FT_EUNSUPPORTED);
    CHECKF(strstr(ft_errmsg(), "zip") != NULL, "message: %s", ft_errmsg());
}

static void test_bad_inputs(void) {
    l2c_cfg c = {16, 24, 1, 2, 1, 11, 8};
    size_t size;
    uint8_t *buf = l2c_write(&c, true, 1, &size);
    ft_model *m = NULL;
    CHECK_ERR(ft_import_llama2c_mem(buf, size - 1, "cut.bin", &m), FT_EFORMAT);
    CHECKF(strstr(ft_errmsg(), "truncated") && strstr(ft_errmsg(), "cut.bin"), "message: %s", ft_errmsg());
    CHECK_ERR(ft_import_llama2c_mem(buf, 20, "hdr.bin", &m), FT_EFORMAT);
    int32_t *h = (int32_t *)buf;
    h[3] = 3; /* 16 is not 3 heads */
    CHECK_ERR(ft_import_llama2c_mem(buf, size, "heads.bin", &m), FT_EFORMAT);
    CHECKF(strstr(ft_errmsg(), "n_heads") != NULL, "message: %s", ft_errmsg());
    h[3] = 2; h[4] = 0;
    CHECK_ERR(ft_import_llama2c_mem(buf, size, "kv.bin", &m), FT_EFORMAT);
    h[4] = 1; h[5] = 0;
    CHECK_ERR(ft_import_llama2c_mem(buf, size, "vocab.bin", &m), FT_EFORMAT);
    h[5] = 11;
    float nanv = NAN;
    memcpy(buf + 28 + 4 * 11 * 16 + 8, &nanv, 4); /* in rms_att_weight */
    CHECK_ERR(ft_import_llama2c_mem(buf, size, "nan.bin", &m), FT_EFORMAT);
    CHECKF(strstr(ft_errmsg(), "rms_att_weight") != NULL, "message: %s", ft_errmsg());
    CHECK(m == NULL);
    free(buf);
    CHECK_ERR(ft_import_llama2c("tests/no-such-file.bin", &m), FT_ENOTFOUND);
    /* configs */
    CHECK_ERR(ft_model_from_config("{\"arch\":\"llama\",\"intermediate_size\":8,\"num_hidden_layers\":1,"
                                   "\"num_attention_heads\":2,\"vocab_size\":5}", &m), FT_EINVAL);
    CHECKF(strstr(ft_errmsg(), "hidden_size") != NULL, "message: %s", ft_errmsg());
    CHECK_ERR(ft_model_from_config("{\"arch\":\"llama\",\"hidden_size\":16,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                                   "\"num_attention_heads\":4,\"num_key_value_heads\":3,\"vocab_size\":5}", &m), FT_EINVAL);
    CHECK_ERR(ft_model_from_config("{\"arch\":\"llama\",\"hidden_size\":16,\"intermediate_size\":8,\"num_hidden_layers\":1,"
                                   "\"num_attention_heads\":4,\"vocab_size\":5,\"rope_scaling\":{\"type\":\"linear\"}}", &m),
              FT_EUNSUPPORTED);
    CHECK(m == NULL);
}

/* Token ids from the fixture: '#' lines are comments. */
static int read_ids(const char *path, int32_t *ids, int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        for (char *p = line, *e; n < cap; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p) break;
            ids[n++] = (int32_t)v;
        }
    }
    fclose(f);
    return n;
}

static void test_stories260k(void) {
    const char *sh = t_shared("stories260K greedy generation");
    if (!sh) return;
    char path[512];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", sh);
    ft_model *m = NULL;
    CHECK_OK(ft_model_load(path, &m)); /* .bin dispatches to the llama2.c importer */
    if (!m) return;
    CHECK(strcmp(m->arch->name, "llama") == 0);
    CHECK(m->seq.hidden_size == 64 && m->seq.n_layers == 5 && m->seq.vocab_size == 512 && m->seq.max_positions == 512);
    CHECK(m->seq.kv_width == 32); /* 4 kv heads of 8 */
    CHECK(ft_params_find(m->params, "lm_head.weight") < 0); /* shared classifier */
    int32_t want[512], got[512];
    int n_want = read_ids("tests/fixtures/stories260k_greedy.txt", want, 512), n_got = 0;
    CHECK(n_want == 256);
    int32_t bos = 1;
    ft_generate_opts o = ft_generate_defaults();
    o.max_tokens = 256;
    o.stop_id = 1; /* run.c stops at BOS */
    CHECK_OK(ft_generate(m, &bos, 1, &o, got, &n_got, NULL, NULL));
    int same = 0;
    while (same < n_got && same < n_want && got[same] == want[same]) same++;
    printf("stories260K: %d of %d greedy tokens equal llama2.c's run.c\n", same, n_want);
    CHECKF(n_got == n_want && same == n_want, "first difference at token %d (got %d, run.c %d)", same,
           same < n_got ? got[same] : -1, same < n_want ? want[same] : -1);
    ft_model_free(m);
}

int main(void) {
    ft_set_num_threads(2);
    test_import_matches_llama2c_forward();
    test_sampling();
    test_sampler();
    test_version1();
    test_bad_inputs();
    test_stories260k();
    TEST_END();
}
