/* CTC: the ctc_loss op against PyTorch (tests/fixtures/ctc.safetensors from
 * tests/gen/gen_ctc.py), fast vs reference kernels, finite differences through log_softmax,
 * bad inputs; greedy and prefix beam-search decoding against hand-worked cases and the
 * Python reference; WER/CER. */
#include "test.h"
#include "ops/ops.h"

#include <unistd.h>

#include <jansson.h>

/* ---------------- the loss against PyTorch ---------------- */

static ft_reduction red_of(const char *s) {
    return !strcmp(s, "sum") ? FT_REDUCE_SUM : !strcmp(s, "none") ? FT_REDUCE_NONE : FT_REDUCE_MEAN;
}

static void torch_case(const ft_safetensors *st, const char *cname, bool reference) {
    json_t *meta = json_loads(ft_st_meta(st, cname), 0, NULL);
    json_t *args = json_object_get(meta, "args");
    char name[128];
    const ft_st_tensor *t[4];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.in%d", cname, k);
        t[k] = ft_st_find(st, name);
        CHECKF(t[k] != NULL, "%s missing", name);
        if (!t[k]) { json_decref(meta); return; }
    }
    ft_params *ps = ft_params_new();
    ft_params_add(ps, "lp", t[0]->ndim, t[0]->shape);
    ft_params_finalize(ps);
    ft_st_to_f32(t[0], ft_params_value(ps, 0));
    ft_params_alloc_grads(ps);
    ft_params_zero_grad(ps);
    ft_graph *g = ft_graph_new(ps);
    ft_node *x = ft_param_at(g, 0), *in[3];
    for (int k = 1; k < 4; k++) in[k - 1] = ft_input(g, "i", FT_I32, t[k]->ndim, t[k]->shape);
    ft_node *out = ft_ctc_loss(g, x, in[0], in[1], in[2], (int)json_integer_value(json_object_get(args, "blank")),
                               red_of(json_string_value(json_object_get(args, "reduction"))),
                               json_is_true(json_object_get(args, "zero_infinity")));
    ft_node *gout = ft_input(g, "gout", FT_F32, out ? out->ndim : 0, out ? out->shape : NULL);
    ft_node *loss = ft_sum(g, ft_mul(g, out, gout), FT_ALL_DIMS, false);
    ft_node_keep(out);
    CHECK_OK(ft_graph_plan(g, loss, true));
    if (ft_graph_status(g) == FT_OK && out) {
        for (int k = 1; k < 4; k++) ft_graph_set_input(g, in[k - 1], t[k]->data, t[k]->nbytes);
        snprintf(name, sizeof name, "%s.gout", cname);
        const ft_st_tensor *gt = ft_st_find(st, name);
        float gv[64];
        ft_st_to_f32(gt, gv);
        ft_graph_set_input(g, gout, gv, (size_t)gt->numel * 4);
        ft_set_reference_kernels(reference);
        CHECK_OK(ft_graph_forward(g));
        CHECK_OK(ft_graph_backward(g));
        ft_set_reference_kernels(false);
        snprintf(name, sizeof name, "%s.out", cname);
        const ft_st_tensor *ot = ft_st_find(st, name);
        float ref[64];
        ft_st_to_f32(ot, ref);
        CHECKF(ot->numel == out->numel && t_close(out->val, ref, ot->numel, 1e-5, 1e-5, name), "%s (%s)", name,
               reference ? "reference" : "fast");
        snprintf(name, sizeof name, "%s.grad0", cname);
        const ft_st_tensor *rt = ft_st_find(st, name);
        float *rg = malloc((size_t)rt->numel * 4);
        ft_st_to_f32(rt, rg);
        CHECKF(t_close(ft_params_grad(ps, 0), rg, rt->numel, 1e-4, 1e-5, name), "%s (%s)", name,
               reference ? "reference" : "fast");
        free(rg);
    }
    ft_graph_free(g);
    ft_params_free(ps);
    json_decref(meta);
}

/* ---------------- a random batch: fast vs reference, finite differences ---------------- */

typedef struct {
    ft_params *ps;
    ft_graph *g;
    ft_node *loss, *in[3];
} rig;

static int build_rig(rig *r, int64_t N, int64_t T, int64_t C, int64_t S, int blank, ft_reduction red, bool zinf,
                     const int32_t *tg, const int32_t *il, const int32_t *tl, uint64_t seed) {
    memset(r, 0, sizeof *r);
    r->ps = ft_params_new();
    int64_t sh[3] = {N, T, C};
    ft_params_add(r->ps, "logits", 3, sh);
    ft_params_finalize(r->ps);
    ft_params_init_uniform(r->ps, 0, seed, 3.0f);
    ft_params_alloc_grads(r->ps);
    r->g = ft_graph_new(r->ps);
    int64_t s2[2] = {N, S}, s1[1] = {N};
    r->in[0] = ft_input(r->g, "targets", FT_I32, 2, s2);
    r->in[1] = ft_input(r->g, "il", FT_I32, 1, s1);
    r->in[2] = ft_input(r->g, "tl", FT_I32, 1, s1);
    ft_node *lp = ft_log_softmax(r->g, ft_param_at(r->g, 0));
    r->loss = ft_ctc_loss(r->g, lp, r->in[0], r->in[1], r->in[2], blank, red, zinf);
    if (red == FT_REDUCE_NONE) r->loss = ft_sum(r->g, r->loss, FT_ALL_DIMS, false);
    if (ft_graph_plan(r->g, r->loss, true)) return 0;
    ft_graph_set_input(r->g, r->in[0], tg, (size_t)(N * S) * 4);
    ft_graph_set_input(r->g, r->in[1], il, (size_t)N * 4);
    ft_graph_set_input(r->g, r->in[2], tl, (size_t)N * 4);
    return 1;
}

static void free_rig(rig *r) { ft_graph_free(r->g); ft_params_free(r->ps); }

static double rig_loss(rig *r) {
    CHECK_OK(ft_graph_forward(r->g));
    return r->loss->val[0];
}

static void check_random_batch(void) {
    enum { N = 5, T = 30, C = 7, S = 9 };
    int32_t tg[N * S], il[N] = {30, 25, 17, 30, 1}, tl[N] = {9, 4, 6, 0, 0};
    ft_pcg32 rng;
    ft_pcg32_seed(&rng, 5, 1);
    for (int i = 0; i < N * S; i++) tg[i] = 1 + (int32_t)(ft_pcg32_next(&rng) % (C - 1));
    tg[1] = tg[0]; tg[2 * S + 3] = tg[2 * S + 2]; /* repeats */
    rig r;
    CHECK(build_rig(&r, N, T, C, S, 0, FT_REDUCE_MEAN, false, tg, il, tl, 7));
    ft_params_zero_grad(r.ps);
    double lf = rig_loss(&r);
    CHECK_OK(ft_graph_backward(r.g));
    int64_t G = r.ps->p[0].numel;
    float *gf = malloc((size_t)G * 4);
    memcpy(gf, ft_params_grad(r.ps, 0), (size_t)G * 4);
    ft_set_reference_kernels(true);
    ft_params_zero_grad(r.ps);
    double lr = rig_loss(&r);
    CHECK_OK(ft_graph_backward(r.g));
    ft_set_reference_kernels(false);
    CHECKF(fabs(lf - lr) <= 1e-5 * (1 + fabs(lr)), "fast loss %.8g vs reference %.8g", lf, lr);
    CHECK(t_close(gf, ft_params_grad(r.ps, 0), G, 1e-4, 1e-6, "ctc fast vs reference grad"));
    /* gradient is 0 past each sequence's input length */
    float past = 0;
    for (int64_t t = il[2]; t < T; t++)
        for (int c = 0; c < C; c++) past += fabsf(gf[(2 * T + t) * C + c]);
    CHECK(past == 0.0f);
    /* finite differences (through log_softmax, where torch's gradient is the derivative) */
    float *v = ft_params_value(r.ps, 0);
    int bad = 0;
    const double h = 1e-2;
    for (int64_t k = 0; k < G; k += 7) {
        float keep = v[k];
        v[k] = keep + (float)h;
        double lp = rig_loss(&r);
        v[k] = keep - (float)h;
        double lm = rig_loss(&r);
        v[k] = keep;
        double fd = (lp - lm) / (2 * h);
        if (fabs(fd - gf[k]) > 2e-3 * (1 + fabs(fd)) + 2e-4) {
            if (bad++ < 3) fprintf(stderr, "  ctc d/d x[%lld]: analytic %.6g, finite diff %.6g\n", (long long)k, gf[k], fd);
        }
    }
    CHECKF(bad == 0, "ctc: %d gradient entries disagree with finite differences", bad);
    free(gf);
    free_rig(&r);

    /* input length 0: empty target -> 0, otherwise +inf (0 with zero_infinity) */
    int32_t tg2[2 * 2] = {1, 2, 1, 2}, il2[2] = {0, 0}, tl2[2] = {0, 2};
    CHECK(build_rig(&r, 2, 3, 4, 2, 0, FT_REDUCE_NONE, false, tg2, il2, tl2, 1));
    CHECK_OK(ft_graph_forward(r.g));
    ft_node *per = r.loss->in[0];
    CHECK(per->val[0] == 0.0f && isinf(per->val[1]));
    free_rig(&r);
}

/* A hand-worked value: T=2, C=2 (blank 0), target [1], uniform probabilities. The paths
 * (1,1), (0,1), (1,0) give p = 3/4, loss = -log(3/4). */
static void check_hand_value(void) {
    float lp[4] = {logf(0.5f), logf(0.5f), logf(0.5f), logf(0.5f)};
    int32_t tg[1] = {1}, il[1] = {2}, tl[1] = {1};
    ft_params *ps = ft_params_new();
    int64_t sh[3] = {1, 2, 2}, s1[1] = {1}, s2[2] = {1, 1};
    ft_params_add(ps, "lp", 3, sh);
    ft_params_finalize(ps);
    memcpy(ft_params_value(ps, 0), lp, sizeof lp);
    for (int ref = 0; ref < 2; ref++) {
        ft_graph *g = ft_graph_new(ps);
        ft_node *a = ft_input(g, "t", FT_I32, 2, s2), *b = ft_input(g, "il", FT_I32, 1, s1),
                *c = ft_input(g, "tl", FT_I32, 1, s1);
        ft_node *l = ft_ctc_loss(g, ft_param_at(g, 0), a, b, c, 0, FT_REDUCE_SUM, false);
        CHECK_OK(ft_graph_plan(g, l, false));
        ft_graph_set_input(g, a, tg, 4);
        ft_graph_set_input(g, b, il, 4);
        ft_graph_set_input(g, c, tl, 4);
        ft_set_reference_kernels(ref);
        CHECK_OK(ft_graph_forward(g));
        ft_set_reference_kernels(false);
        CHECKF(fabsf(l->val[0] + logf(0.75f)) < 1e-6f, "hand value %g", l->val[0]);
        /* bad data: a target equal to the blank, lengths out of range */
        int32_t bad_t[1] = {0}, bad_il[1] = {3}, bad_tl[1] = {2};
        ft_graph_set_input(g, a, bad_t, 4);
        CHECK_ERR(ft_graph_forward(g), FT_EINVAL);
        CHECK(strstr(ft_errmsg(), "blank") != NULL);
        ft_graph_set_input(g, a, tg, 4);
        ft_graph_set_input(g, b, bad_il, 4);
        CHECK_ERR(ft_graph_forward(g), FT_EINVAL);
        CHECK(strstr(ft_errmsg(), "input length 3") != NULL);
        ft_graph_set_input(g, b, il, 4);
        ft_graph_set_input(g, c, bad_tl, 4);
        CHECK_ERR(ft_graph_forward(g), FT_EINVAL);
        ft_graph_free(g);
    }
    /* shape errors at build time */
    ft_graph *g = ft_graph_new(ps);
    ft_node *a = ft_input(g, "t", FT_I32, 2, s2), *b = ft_input(g, "il", FT_I32, 1, s1);
    CHECK(ft_ctc_loss(g, ft_param_at(g, 0), a, b, b, 2, FT_REDUCE_SUM, false) == NULL);
    CHECK(ft_graph_status(g) == FT_EINVAL);
    ft_graph_free(g);
    g = ft_graph_new(ps);
    a = ft_input(g, "t", FT_F32, 2, s2);
    b = ft_input(g, "il", FT_I32, 1, s1);
    CHECK(ft_ctc_loss(g, ft_param_at(g, 0), a, b, b, 0, FT_REDUCE_SUM, false) == NULL);
    ft_graph_free(g);
    ft_params_free(ps);
}

/* ---------------- decoding ---------------- */

static void check_decode_hand(void) {
    /* frames' argmax: 1 1 0 1 2 2 0 0 -> greedy 1 1 2 */
    const int am[8] = {1, 1, 0, 1, 2, 2, 0, 0};
    float lp[8 * 3];
    for (int t = 0; t < 8; t++)
        for (int c = 0; c < 3; c++) lp[t * 3 + c] = c == am[t] ? logf(0.8f) : logf(0.1f);
    int32_t out[8];
    int64_t n = ft_ctc_greedy(lp, 8, 3, 0, out);
    CHECK(n == 3 && out[0] == 1 && out[1] == 1 && out[2] == 2);
    int64_t nb;
    CHECK_OK(ft_ctc_beam_search(lp, 8, 3, 0, 4, 0.0f, out, &nb, NULL));
    CHECK(nb == 3 && out[0] == 1 && out[1] == 1 && out[2] == 2);
    /* The classic case where beam search beats best path: T=2, C=2 (blank 0),
     * p(blank) = 0.6 each frame. Best path is (0,0) -> "" with p 0.36, but "1" collects
     * (1,1) + (0,1) + (1,0) = 0.16 + 0.24 + 0.24 = 0.64. */
    float q[4] = {logf(0.6f), logf(0.4f), logf(0.6f), logf(0.4f)};
    CHECK(ft_ctc_greedy(q, 2, 2, 0, out) == 0);
    double score;
    CHECK_OK(ft_ctc_beam_search(q, 2, 2, 0, 2, 0.0f, out, &nb, &score));
    CHECK(nb == 1 && out[0] == 1);
    CHECKF(fabs(score - log(0.64)) < 1e-6, "beam score %g", score);
    /* with a strong negative insertion bonus the empty string wins */
    CHECK_OK(ft_ctc_beam_search(q, 2, 2, 0, 2, -1.0f, out, &nb, NULL));
    CHECK(nb == 0);
    CHECK_ERR(ft_ctc_beam_search(q, 2, 2, 0, 0, 0.0f, out, &nb, NULL), FT_EINVAL);
    CHECK_ERR(ft_ctc_beam_search(q, 2, 2, 5, 1, 0.0f, out, &nb, NULL), FT_EINVAL);
    CHECK_OK(ft_ctc_beam_search(q, 0, 2, 0, 3, 0.0f, out, &nb, NULL));
    CHECK(nb == 0);
}

static int same_labels(const int32_t *a, int64_t n, json_t *arr) {
    if ((size_t)n != json_array_size(arr)) return 0;
    for (int64_t i = 0; i < n; i++)
        if (a[i] != json_integer_value(json_array_get(arr, (size_t)i))) return 0;
    return 1;
}

static int decode_cases(const ft_safetensors *st) {
    const char *list = ft_st_meta(st, "decode_cases");
    CHECK(list != NULL);
    char buf[1024], name[64];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    int n = 0;
    for (char *save = NULL, *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        json_t *m = json_loads(ft_st_meta(st, c), 0, NULL);
        snprintf(name, sizeof name, "%s.lp", c);
        const ft_st_tensor *t = ft_st_find(st, name);
        int64_t T = t->shape[0], C = t->shape[1];
        float *lp = malloc((size_t)(T * C) * 4);
        int32_t *out = malloc((size_t)T * 4);
        ft_st_to_f32(t, lp);
        int blank = (int)json_integer_value(json_object_get(m, "blank"));
        int64_t k = ft_ctc_greedy(lp, T, C, blank, out);
        CHECKF(same_labels(out, k, json_object_get(m, "greedy")), "%s: greedy differs from Python", c);
        CHECK_OK(ft_ctc_beam_search(lp, T, C, blank, (int)json_integer_value(json_object_get(m, "beam")),
                                    (float)json_number_value(json_object_get(m, "bonus")), out, &k, NULL));
        CHECKF(same_labels(out, k, json_object_get(m, "beam_out")), "%s: beam search differs from Python", c);
        free(lp);
        free(out);
        json_decref(m);
        n++;
    }
    return n;
}

/* ---------------- WER / CER ---------------- */

static void check_wer_cer(void) {
    int32_t a[5] = {1, 2, 3, 4, 5}, b[4] = {1, 3, 4, 6};
    CHECK(ft_edit_distance(a, 5, b, 4) == 2);
    CHECK(ft_edit_distance(a, 5, b, 0) == 5);
    CHECK(ft_edit_distance(a, 0, b, 4) == 4);
    ft_asr_counts c = {0};
    CHECK_OK(ft_asr_counts_add(&c, "the cat sat", "the cat sat"));
    CHECK(c.word_edits == 0 && c.words == 3 && c.chars == 11 && c.exact == 1);
    /* "one two three" vs "one too three four": 1 substitution + 1 insertion over 3 words;
     * characters: "two"->"too" 1, + " four" 5 -> 6 over 13 */
    CHECK_OK(ft_asr_counts_add(&c, "one  two three ", " one too three four"));
    CHECK(c.word_edits == 2 && c.words == 6);
    CHECK(c.char_edits == 6 && c.chars == 24);
    CHECK(c.exact == 1 && c.utterances == 2);
    CHECK(fabs(ft_asr_wer(&c) - 2.0 / 6) < 1e-12 && fabs(ft_asr_cer(&c) - 6.0 / 24) < 1e-12);
    /* UTF-8: "café" is 4 characters, one substituted */
    ft_asr_counts u = {0};
    CHECK_OK(ft_asr_counts_add(&u, "caf\xc3\xa9", "cafe"));
    CHECK(u.chars == 4 && u.char_edits == 1 && u.word_edits == 1);
    ft_asr_counts e = {0};
    CHECK_OK(ft_asr_counts_add(&e, "", "extra"));
    CHECK(ft_asr_wer(&e) == 0.0 && e.word_edits == 1);
}


/* ---------------- the CTC task: dataset wrapper, vocabulary, training, WER ---------------- */

/* Synthetic "speech": each character of the transcript is 3 frames of its one-hot (plus
 * noise) in D = 5 features (' ', 'a', 'b', 'c', and a silence flag), characters separated
 * by one silence frame, padded with silence to T frames. */
enum { SYN_T = 30, SYN_D = 5 };
static const char *syn_tr[] = {"ab", "ba c", "cab", "aab", "c c", "bca", "a", "abba"};
#define SYN_NTR 8

static int syn_pad_from; /* > 0: frames from this one on are constant (padding) */

static int syn_col(char ch) { return ch == ' ' ? 0 : ch - 'a' + 1; }

static ft_status syn_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *xv, int32_t *y) {
    float *x = xv;
    int k = (int)(i % SYN_NTR);
    ft_pcg32 r;
    ft_pcg32_seed(&r, (uint64_t)i, 3);
    for (int f = 0; f < SYN_T * SYN_D; f++) x[f] = 0.2f * (ft_pcg32_uniform(&r) - 0.5f);
    int t = 1;
    for (const char *c = syn_tr[k]; *c; c++) {
        for (int j = 0; j < 3; j++, t++) x[t * SYN_D + syn_col(*c)] += 1.0f;
        t++;
    }
    for (int tt = 0; tt < SYN_T; tt++) {
        bool any = false;
        for (int d = 0; d < SYN_D - 1; d++) any |= x[tt * SYN_D + d] > 0.5f;
        if (!any) x[tt * SYN_D + SYN_D - 1] += 1.0f;
    }
    for (int f = syn_pad_from * SYN_D; syn_pad_from > 0 && f < SYN_T * SYN_D; f++) x[f] = 0.25f; /* constant padding */
    *y = k;
    return FT_OK;
}

static ft_dataset *syn_dataset(int64_t n, const char *extra) {
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    ds->n = n;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 2;
    ds->x_shape[0] = SYN_T;
    ds->x_shape[1] = SYN_D;
    ds->x_numel = SYN_T * SYN_D;
    ds->n_classes = SYN_NTR + (extra ? 1 : 0);
    ds->class_names = ft_calloc((size_t)ds->n_classes, sizeof *ds->class_names);
    for (int k = 0; k < SYN_NTR; k++) ds->class_names[k] = ft_strdup(syn_tr[k]);
    if (extra) ds->class_names[SYN_NTR] = ft_strdup(extra);
    ds->get = syn_get;
    snprintf(ds->name, sizeof ds->name, "synthetic");
    return ds;
}

/* counts examples (x1000) and exact transcripts */
static ft_status count_exact(void *user, int64_t i, const char *hyp, const char *ref) {
    int *c = user;
    *c += 1000 + (strcmp(hyp, ref) == 0);
    return FT_OK;
}

static void check_ctc_task(void) {
    /* vocabulary: blank, then the characters in code point order */
    char **voc = NULL;
    int nv = 0;
    ft_dataset *inner = syn_dataset(64, NULL);
    CHECK_OK(ft_ctc_vocab_build(inner, &voc, &nv));
    CHECK(nv == 5 && !strcmp(voc[0], "<blank>") && !strcmp(voc[1], " ") && !strcmp(voc[2], "a") && !strcmp(voc[4], "c"));
    ft_dataset *train = NULL;
    CHECK_OK(ft_dataset_ctc(inner, NULL, 0, &train));
    if (!train) { ft_ctc_vocab_free(voc, nv); return; }
    int64_t F, S;
    CHECK_OK(ft_ctc_dataset_layout(train, &F, &S));
    CHECK(F == SYN_T * SYN_D && S == 4 && train->x_numel == F + 1 + S && train->task == FT_TASK_CTC);
    float *x = malloc((size_t)train->x_numel * 4);
    int32_t y;
    CHECK_OK(train->get(train, 1, NULL, x, &y)); /* "ba c" */
    const int32_t *tr = (const int32_t *)(void *)(x + F);
    CHECK(tr[0] == 4 && tr[1] == 3 && tr[2] == 2 && tr[3] == 1 && tr[4] == 4);
    char text[32];
    ft_ctc_labels_to_text(tr + 1, tr[0], (const char *const *)train->class_names, train->n_classes, text, sizeof text);
    CHECK(!strcmp(text, "ba c"));
    free(x);
    /* a transcript with a character outside a given vocabulary */
    ft_dataset *bad_inner = syn_dataset(8, "abd"), *bad = NULL;
    CHECK_ERR(ft_dataset_ctc(bad_inner, (const char *const *)voc, nv, &bad), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "'d'") != NULL);
    ft_dataset_free(bad_inner);
    ft_dataset *val = NULL;
    CHECK_OK(ft_dataset_ctc(syn_dataset(16, NULL), (const char *const *)voc, nv, &val));

    /* a per-frame linear model; "sequence_output" lets the graph return [N, T, C] */
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"arch\": \"graph\", \"input\": {\"shape\": [%d, %d]}, \"sequence_output\": true,"
             " \"params\": [{\"name\": \"fc.weight\", \"shape\": [%d, %d]}, {\"name\": \"fc.bias\", \"shape\": [%d]}],"
             " \"nodes\": [{\"name\": \"fc\", \"op\": \"linear\", \"inputs\": [\"input\"], \"params\": [\"fc.weight\", \"fc.bias\"]}]}",
             SYN_T, SYN_D, nv, SYN_D, nv);
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &m));
    if (m) {
        CHECK(m->n_classes == nv);
        ft_model_init(m, 1);
        ft_eval_result before = {0}, after = {0};
        CHECK_OK(ft_evaluate(m, val, 8, 0, &before));
        CHECK(before.task == FT_TASK_CTC && before.examples == 16 && before.words == 2 * (1 + 2 + 1 + 1 + 2 + 1 + 1 + 1));
        ft_run_config rc = ft_run_defaults();
        char dir[] = "/tmp/ft_ctc_XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        rc.out_dir = dir;
        rc.epochs = 30;
        rc.batch_size = 8;
        rc.workers = 0;
        rc.progress = -1;
        rc.optim.lr = 0.05f;
        ft_run_result rr;
        CHECK_OK(ft_train(m, train, val, &rc, &rr));
        CHECK_OK(ft_evaluate(m, val, 8, 0, &after));
        printf("ctc task: val WER %.3f -> %.3f, CER %.3f -> %.3f, loss %.3f -> %.3f\n", before.wer, after.wer, before.cer,
               after.cer, before.loss, after.loss);
        CHECK(before.wer > 0.5);
        CHECKF(after.wer == 0.0 && after.cer == 0.0 && after.accuracy == 1.0, "trained WER %g CER %g", after.wer, after.cer);
        CHECK(after.loss < before.loss);
        /* metrics.jsonl records WER and CER */
        char path[256], line[4096];
        snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
        FILE *f = fopen(path, "r");
        bool seen = false;
        while (f && fgets(line, sizeof line, f)) seen |= strstr(line, "\"val_wer\"") && strstr(line, "\"val_cer\"");
        if (f) fclose(f);
        CHECK(seen);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
        /* transcription, greedy and beam search: every utterance right after training */
        int counts[2] = {0, 0};
        CHECK_OK(ft_ctc_transcribe(m, val, 0, 5, 1, 0.0f, count_exact, &counts[0]));
        CHECK_OK(ft_ctc_transcribe(m, val, 10, 4, 8, 0.0f, count_exact, &counts[1]));
        CHECKF(counts[0] == 16 * 1000 + 16 && counts[1] == 10 * 1000 + 10, "transcribe: %d %d", counts[0], counts[1]);
        ft_model_free(m);
    }
    ft_dataset_free(train);
    ft_dataset_free(val);
    ft_ctc_vocab_free(voc, nv);
}

/* The sliding-window front end against a hand computation: a linear map of each window. */
static void check_frontend(int pad_from) {
    syn_pad_from = pad_from;
    const char *cfg = "{\"arch\": \"graph\", \"input\": {\"shape\": [4, 5]},"
                      " \"params\": [{\"name\": \"fc.weight\", \"shape\": [3, 20]}, {\"name\": \"fc.bias\", \"shape\": [3]}],"
                      " \"nodes\": [{\"name\": \"flat\", \"op\": \"flatten\", \"inputs\": [\"input\"]},"
                      " {\"name\": \"fc\", \"op\": \"linear\", \"inputs\": [\"flat\"], \"params\": [\"fc.weight\", \"fc.bias\"]}]}";
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &m));
    if (!m) return;
    ft_model_init(m, 3);
    ft_dataset *inner = syn_dataset(5, NULL), *fe = NULL;
    CHECK_OK(ft_dataset_frontend(inner, m, 4, 2, 7, &fe)); /* 14 windows an example, batches of 7 */
    if (fe) {
        CHECK(fe->x_ndim == 2 && fe->x_shape[0] == 14 && fe->x_shape[1] == 3 && fe->n == 5);
        CHECK(fe->class_names && !strcmp(fe->class_names[1], syn_tr[1]));
        float raw[SYN_T * SYN_D], got[14 * 3];
        const float *W = ft_params_value(m->params, ft_params_find(m->params, "fc.weight"));
        const float *b = ft_params_value(m->params, ft_params_find(m->params, "fc.bias"));
        int bad = 0;
        for (int64_t i = 0; i < 5; i++) {
            int32_t y, y2;
            syn_get(NULL, i, NULL, raw, &y);
            CHECK_OK(fe->get(fe, i, NULL, got, &y2));
            CHECK(y == y2);
            for (int k = 0; k < 14; k++)
                for (int o = 0; o < 3; o++) {
                    double acc = b[o];
                    for (int j = 0; j < 20; j++) acc += (double)W[o * 20 + j] * raw[k * 2 * SYN_D + j];
                    bad += fabs(acc - got[k * 3 + o]) > 1e-4;
                }
        }
        CHECK(bad == 0);
        /* the CTC wrapper on top: transcripts come through */
        ft_dataset *c = NULL;
        CHECK_OK(ft_dataset_ctc(fe, NULL, 0, &c));
        if (c) CHECK(c->n_classes == 5 && c->x_numel == 14 * 3 + 1 + 4);
        ft_dataset_free(c);
    }
    ft_dataset *small = syn_dataset(2, NULL), *none = NULL;
    CHECK_ERR(ft_dataset_frontend(small, m, 40, 2, 4, &none), FT_ESHAPE); /* model takes 20 values: windows of 40 frames are not whole */
    ft_dataset_free(small);
    ft_model_free(m);
    syn_pad_from = 0;
}


/* Word vocabularies and word pieces: building, spelling, decoding, errors. */
#define WM FT_CTC_WORD_MARK
static void check_word_pieces(void) {
    ft_dataset *inner = syn_dataset(16, NULL);
    char **voc = NULL;
    int nv = 0;
    CHECK_OK(ft_ctc_vocab_build_words(inner, &voc, &nv));
    /* the words of syn_tr, marked and in byte order */
    const char *want[] = {"<blank>", WM "a", WM "aab", WM "ab", WM "abba", WM "ba", WM "bca", WM "c", WM "cab"};
    CHECKF(nv == 9, "%d words", nv);
    for (int v = 0; v < nv && v < 9; v++) CHECKF(!strcmp(voc[v], want[v]), "entry %d: %s", v, voc[v]);
    CHECK(ft_ctc_vocab_is_pieces((const char *const *)voc, nv));
    ft_dataset *w = NULL;
    CHECK_OK(ft_dataset_ctc(inner, (const char *const *)voc, nv, &w));
    if (w) {
        int64_t F, S;
        CHECK_OK(ft_ctc_dataset_layout(w, &F, &S));
        CHECK(S == 2); /* "ba c", "c c": two words */
        float *x = malloc((size_t)w->x_numel * 4);
        int32_t y;
        char text[64];
        CHECK_OK(w->get(w, 4, NULL, x, &y)); /* "c c": the same label twice */
        const int32_t *tr = (const int32_t *)(void *)(x + F);
        CHECK(tr[0] == 2 && tr[1] == 7 && tr[2] == 7);
        CHECK_OK(w->get(w, 1, NULL, x, &y)); /* "ba c" */
        CHECK(tr[0] == 2 && tr[1] == 5 && tr[2] == 7);
        ft_ctc_labels_to_text(tr + 1, tr[0], (const char *const *)w->class_names, w->n_classes, text, sizeof text);
        CHECKF(!strcmp(text, "ba c"), "decoded '%s'", text);
        ft_ctc_labels_to_text(tr + 1, tr[0], (const char *const *)w->class_names, w->n_classes, text, 4);
        CHECKF(!strcmp(text, "ba"), "short buffer: '%s'", text); /* whole entries only */
        CHECK(ft_ctc_vocab_max_bytes((const char *const *)w->class_names, w->n_classes) == strlen(WM "abba"));
        free(x);
        ft_dataset_free(w);
    } else {
        ft_dataset_free(inner);
    }
    /* pieces shorter than words: greedy longest match; marks become spaces */
    const char *pv[] = {"<blank>", WM "a", "b", WM "c", "a", WM "ab", "c", WM "b"};
    ft_dataset *pw = NULL;
    CHECK_OK(ft_dataset_ctc(syn_dataset(8, NULL), pv, 8, &pw));
    if (pw) {
        int64_t F, S;
        CHECK_OK(ft_ctc_dataset_layout(pw, &F, &S));
        float *x = malloc((size_t)pw->x_numel * 4);
        int32_t y;
        char text[64];
        const int32_t *tr = (const int32_t *)(void *)(x + F);
        CHECK_OK(pw->get(pw, 7, NULL, x, &y)); /* "abba" = [_ab][b][a] */
        CHECK(tr[0] == 3 && tr[1] == 5 && tr[2] == 2 && tr[3] == 4);
        CHECK_OK(pw->get(pw, 4, NULL, x, &y)); /* "c c" = [_c][_c] */
        CHECK(tr[0] == 2 && tr[1] == 3 && tr[2] == 3);
        CHECK_OK(pw->get(pw, 1, NULL, x, &y)); /* "ba c" = [_b][a][_c] */
        CHECK(tr[0] == 3 && tr[1] == 7 && tr[2] == 4 && tr[3] == 3);
        int32_t ids[] = {3, 0, 1, 2, 6, 5};
        ft_ctc_labels_to_text(ids, 6, pv, 8, text, sizeof text);
        CHECKF(!strcmp(text, "c abc ab"), "decoded '%s'", text);
        free(x);
        ft_dataset_free(pw);
    }
    /* a word the vocabulary cannot spell; a piece vocabulary cannot spell a word-initial "b" */
    ft_dataset *bad = NULL, *bin = syn_dataset(8, "ab dd");
    CHECK_ERR(ft_dataset_ctc(bin, (const char *const *)voc, nv, &bad), FT_EINVAL);
    CHECKF(strstr(ft_errmsg(), "the word 'dd'") != NULL, "%s", ft_errmsg());
    ft_dataset_free(bin);
    bin = syn_dataset(8, NULL);
    CHECK_ERR(ft_dataset_ctc(bin, pv, 5, &bad), FT_EINVAL); /* without "_ab" and "c": "ba c" fails */
    CHECKF(strstr(ft_errmsg(), "the word 'ba'") != NULL, "%s", ft_errmsg());
    const char *empty[] = {"<blank>", WM "a", ""};
    CHECK_ERR(ft_dataset_ctc(bin, empty, 3, &bad), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "entry 2 is empty") != NULL);
    ft_dataset_free(bin);
    ft_ctc_vocab_free(voc, nv);
}

static void torch_cases_of(const ft_safetensors *st, const char *c, void *ctx) {
    torch_case(st, c, false);
    torch_case(st, c, true);
}

int main(void) {
    ft_set_num_threads(2);
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/ctc.safetensors", &st));
    if (st) {
        int n = t_each_case(st, "cases", torch_cases_of, NULL);
        CHECK(n >= 8);
        int d = decode_cases(st);
        CHECK(d >= 8);
        printf("ctc: %d PyTorch loss cases (fast and reference kernels), %d decoding cases\n", n, d);
        ft_st_close(st);
    }
    check_hand_value();
    check_random_batch();
    check_decode_hand();
    check_wer_cer();
    check_ctc_task();
    check_frontend(0);
    check_frontend(17); /* windows 10-13 of every example repeat window 9: run once, copied */
    check_word_pieces();
    TEST_END();
}
