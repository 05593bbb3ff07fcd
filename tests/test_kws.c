/* Keyword spotting: one-vs-rest FRR/FAR at a threshold, DET curves and EERs against
 * hand-computed score tables, the DET SVG and the eval report's keyword section, merging
 * per-window detections, and streaming a synthetic recording (tones at known times)
 * through a small graph model whose weights make it a tone detector. */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

static int near(double a, double b) { return fabs(a - b) <= 1e-9; }

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int count(const char *hay, const char *needle) {
    int c = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) c++;
    return c;
}

/* Two keywords and two clips without one (noise, silence). Columns: p(kw0), p(kw1). */
static const float table[7 * 2] = {
    0.9f, 0.1f,   /* kw0 */
    0.8f, 0.2f,   /* kw0 */
    0.3f, 0.7f,   /* kw0, scored low */
    0.7f, 0.3f,   /* kw1, scored high on kw0 */
    0.2f, 0.8f,   /* kw1 */
    0.1f, 0.05f,  /* noise */
    0.05f, 0.1f,  /* silence */
};
static const int32_t labels[7] = {0, 0, 0, 1, 1, FT_KWS_NONE, FT_KWS_NONE};

static void test_metrics(void) {
    ft_kws_metrics m;
    CHECK_OK(ft_kws_metrics_compute(table, labels, 7, 2, NULL, 0, 0.5f, &m));
    CHECK(m.n == 7 && m.n_none == 2 && m.n_keywords == 2);
    /* kw0: positives 0.9 0.8 0.3, negatives 0.7 0.2 0.1 0.05. At 0.5: 0.3 rejected (1/3),
     * 0.7 accepted (1/4). */
    ft_kws_keyword *a = &m.kw[0], *b = &m.kw[1];
    CHECK(a->keyword == 0 && a->positives == 3 && a->negatives == 4);
    CHECK(a->false_rejects == 1 && a->false_accepts == 1);
    CHECK(near(a->frr, 1.0 / 3) && near(a->far, 0.25));
    /* DET of kw0, thresholds ascending: .05 (FAR 4/4, FRR 0), .1 (3/4, 0), .2 (2/4, 0),
     * .3 (1/4, 0), .7 (1/4, 1/3), .8 (0, 1/3), .9 (0, 2/3), +inf (0, 1). */
    static const double thr0[8] = {0.05, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, INFINITY};
    static const double far0[8] = {1, 0.75, 0.5, 0.25, 0.25, 0, 0, 0};
    static const double frr0[8] = {0, 0, 0, 0, 1.0 / 3, 1.0 / 3, 2.0 / 3, 1};
    CHECKF(a->n_det == 8, "n_det %lld", (long long)a->n_det);
    for (int j = 0; j < 8 && a->n_det == 8; j++) {
        CHECKF(fabs(a->det_thr[j] - thr0[j]) < 1e-6 || (isinf(thr0[j]) && isinf(a->det_thr[j])), "thr %d %g", j, a->det_thr[j]);
        CHECKF(near(a->det_far[j], far0[j]) && near(a->det_frr[j], frr0[j]), "point %d: far %g frr %g", j,
               a->det_far[j], a->det_frr[j]);
    }
    /* FRR - FAR goes -1/4 at .3 -> +1/12 at .7: t = 3/4, EER = 1/4, threshold .3 + .75 * .4 = .6. */
    CHECKF(near(a->eer, 0.25), "eer %g", a->eer);
    CHECKF(fabs(a->eer_thr - 0.6) < 1e-6, "eer thr %g", a->eer_thr);
    /* kw1: positives 0.3 0.8; negatives 0.1 0.2 0.7 0.05 0.1 (a tie at 0.1). At 0.5: FRR 1/2,
     * FAR 1/5. DET: .05 (1, 0), .1 (4/5, 0), .2 (2/5, 0), .3 (1/5, 0), .7 (1/5, 1/2),
     * .8 (0, 1/2), +inf (0, 1). EER: -1/5 -> +3/10, t = 2/5: 1/5 at .3 + .4 * .4 = .46. */
    CHECK(b->positives == 2 && b->negatives == 5 && b->false_rejects == 1 && b->false_accepts == 1);
    CHECK(near(b->frr, 0.5) && near(b->far, 0.2));
    CHECKF(b->n_det == 7, "n_det %lld", (long long)b->n_det);
    if (b->n_det == 7) CHECK(near(b->det_far[1], 0.8) && near(b->det_far[2], 0.4) && near(b->det_frr[4], 0.5));
    CHECKF(near(b->eer, 0.2), "eer %g", b->eer);
    CHECKF(fabs(b->eer_thr - 0.46) < 1e-6, "eer thr %g", b->eer_thr);
    CHECK(near(m.mean_frr, 5.0 / 12) && near(m.mean_far, 9.0 / 40) && near(m.mean_eer, 0.225));
    ft_kws_metrics_free(&m);

    /* The threshold is inclusive: at 0.3 kw0's 0.3 is accepted, at 0.7 its negative 0.7 is. */
    CHECK_OK(ft_kws_metrics_compute(table, labels, 7, 2, (const int[]){0}, 1, 0.3f, &m));
    CHECK(m.n_keywords == 1 && m.kw[0].false_rejects == 0 && m.kw[0].false_accepts == 1);
    ft_kws_metrics_free(&m);
    CHECK_OK(ft_kws_metrics_compute(table, labels, 7, 2, (const int[]){1}, 1, 0.7f, &m));
    CHECK(m.kw[0].keyword == 1 && m.kw[0].false_rejects == 1 && m.kw[0].false_accepts == 1);
    ft_kws_metrics_free(&m);
    /* Perfect separation: EER 0 at the first threshold with FRR >= FAR. */
    const float sep[4] = {0.9f, 0.1f, 0.2f, 0.8f};
    const int32_t ls[2] = {0, 1};
    CHECK_OK(ft_kws_metrics_compute(sep, ls, 2, 2, NULL, 0, 0.5f, &m));
    CHECK(m.kw[0].eer == 0 && m.kw[0].frr == 0 && m.kw[0].far == 0);
    ft_kws_metrics_free(&m);
    /* No positives: rates 0 and no EER. */
    const int32_t none[2] = {FT_KWS_NONE, 1};
    CHECK_OK(ft_kws_metrics_compute(sep, none, 2, 2, (const int[]){0}, 1, 0.5f, &m));
    CHECK(m.kw[0].positives == 0 && m.kw[0].frr == 0 && isnan(m.kw[0].eer) && isnan(m.mean_eer));
    ft_kws_metrics_free(&m);

    /* Errors name the culprit. */
    const int32_t bad[2] = {0, 2};
    CHECK_ERR(ft_kws_metrics_compute(sep, bad, 2, 2, NULL, 0, 0.5f, &m), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "example 1") && strstr(ft_errmsg(), "label 2"));
    const float nanv[4] = {0.5f, NAN, 0.5f, 0.5f};
    CHECK_ERR(ft_kws_metrics_compute(nanv, ls, 2, 2, NULL, 0, 0.5f, &m), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "NaN"));
    CHECK_ERR(ft_kws_metrics_compute(sep, ls, 2, 2, NULL, 0, 1.5f, &m), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "threshold 1.5"));
    CHECK_ERR(ft_kws_metrics_compute(sep, ls, 2, 2, (const int[]){3}, 1, 0.5f, &m), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "keyword 3"));
    CHECK_ERR(ft_kws_metrics_compute(sep, ls, 2, 2, (const int[]){1, 1}, 2, 0.5f, &m), FT_EINVAL);
    CHECK_ERR(ft_kws_metrics_compute(sep, ls, 0, 2, NULL, 0, 0.5f, &m), FT_EINVAL);
    /* Out of memory anywhere: a clean failure, nothing leaked (ASan). */
    for (int k = 0; k < 8; k++) {
        ft_alloc_fail_after(k);
        ft_status s = ft_kws_metrics_compute(table, labels, 7, 2, NULL, 0, 0.5f, &m);
        ft_alloc_fail_after(-1);
        if (s == FT_OK) { ft_kws_metrics_free(&m); break; }
        CHECK(s == FT_ENOMEM);
    }
}

static void test_report(void) {
    char dir[] = "/tmp/ft_kws_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    ft_kws_metrics m;
    CHECK_OK(ft_kws_metrics_compute(table, labels, 7, 2, NULL, 0, 0.5f, &m));
    const char *names[2] = {"yes", "no<&>"};
    char path[256];
    snprintf(path, sizeof path, "%s/det.svg", dir);
    CHECK_OK(ft_kws_det_svg_write(path, &m, names));
    char *svg = slurp(path);
    CHECK(svg && !strncmp(svg, "<svg", 4) && strstr(svg, "</svg>"));
    if (svg) {
        CHECK(count(svg, "<polyline class='det'") == 2); /* one curve per keyword */
        CHECK(count(svg, "<circle class='op'") == 2);    /* one operating point each */
        CHECK(strstr(svg, ">yes (EER 25.00%)<") && strstr(svg, ">no&lt;&amp;&gt; (EER 20.00%)<"));
        /* kw0's curve has 8 points. */
        const char *p = strstr(svg, "points='");
        int pts = 0;
        for (p += 8; p && *p != '\''; p++) pts += *p == ',';
        CHECK(pts == 8);
    }
    free(svg);
    /* The eval report with the keyword section. */
    int64_t conf[4] = {2, 1, 1, 1};
    ft_eval_result r;
    memset(&r, 0, sizeof r);
    r.n_classes = 2;
    r.confusion = conf;
    r.n = 5;
    r.correct = 3;
    r.accuracy = 0.6;
    CHECK_OK(ft_eval_report_write_kws(dir, &r, names, "kws test", &m));
    snprintf(path, sizeof path, "%s/eval.html", dir);
    char *html = slurp(path);
    CHECK(html && strstr(html, "Keyword spotting") && strstr(html, "src='det.svg'"));
    if (html) CHECK(strstr(html, "<td>0.3333</td>") && strstr(html, "<td>0.2500</td>") && strstr(html, "Mean FRR 0.4167"));
    free(html);
    snprintf(path, sizeof path, "%s/det.svg", dir);
    CHECK(access(path, F_OK) == 0);
    ft_kws_metrics_free(&m);
    CHECK_ERR(ft_kws_det_svg_write("/nonexistent-dir/det.svg", &(ft_kws_metrics){0}, NULL), FT_EINVAL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void test_detect(void) {
    /* 3 classes: keywords 0 and 1, class 2 is silence (never detects). */
    const float s[12 * 3] = {
        0.1f, 0.1f, 0.8f,    /* 0 silence above threshold: no detection */
        0.6f, 0.1f, 0.3f,    /* 1 kw0 */
        0.9f, 0.05f, 0.05f,  /* 2 kw0, peak */
        0.7f, 0.2f, 0.1f,    /* 3 kw0 */
        0.2f, 0.1f, 0.7f,    /* 4 */
        0.1f, 0.55f, 0.35f,  /* 5 kw1 */
        0.6f, 0.3f, 0.1f,    /* 6 kw0: another keyword ends kw1's detection */
        0.1f, 0.1f, 0.8f,    /* 7 */
        0.1f, 0.1f, 0.8f,    /* 8 */
        0.1f, 0.9f, 0.0f,    /* 9 kw1 */
        0.3f, 0.3f, 0.4f,    /* 10: a one-window gap */
        0.1f, 0.8f, 0.1f,    /* 11 kw1 */
    };
    ft_kws_detect_opts o = {1.0, 0.1, 0.5f, (const int[]){0, 1}, 2, 0, 0};
    ft_kws_detection *d = NULL;
    int64_t n = 0;
    CHECK_OK(ft_kws_detect(s, 12, 3, &o, &d, &n));
    CHECKF(n == 5, "%lld detections", (long long)n);
    if (n == 5) {
        CHECK(d[0].keyword == 0 && near(d[0].start, 0.1) && near(d[0].end, 1.3) && near(d[0].peak, 0.7) &&
              d[0].windows == 3 && fabsf(d[0].score - 0.9f) < 1e-7f);
        CHECK(d[1].keyword == 1 && near(d[1].start, 0.5) && near(d[1].end, 1.5) && d[1].windows == 1);
        CHECK(d[2].keyword == 0 && near(d[2].start, 0.6) && near(d[2].end, 1.6));
        CHECK(d[3].keyword == 1 && near(d[3].start, 0.9) && near(d[3].end, 1.9));
        CHECK(d[4].keyword == 1 && near(d[4].start, 1.1) && near(d[4].end, 2.1));
    }
    ft_free(d);
    /* max_gap 1 merges windows 9 and 11; windows 5 and 6 stay apart (different keywords). */
    o.max_gap = 1;
    CHECK_OK(ft_kws_detect(s, 12, 3, &o, &d, &n));
    CHECKF(n == 4, "%lld detections", (long long)n);
    if (n == 4) CHECK(d[3].keyword == 1 && near(d[3].start, 0.9) && near(d[3].end, 2.1) && d[3].windows == 2 && near(d[3].peak, 1.4));
    ft_free(d);
    /* min_windows 2 keeps only the detections of 2 windows or more: kw0 (3) and kw1 (9+11). */
    o.min_windows = 2;
    CHECK_OK(ft_kws_detect(s, 12, 3, &o, &d, &n));
    CHECKF(n == 2 && d[0].keyword == 0 && d[0].windows == 3 && d[1].keyword == 1 && d[1].windows == 2, "%lld", (long long)n);
    ft_free(d);
    o.min_windows = 0;
    /* All classes keywords: window 0 (silence 0.8) detects class 2 too. */
    o.keywords = NULL;
    o.max_gap = 0;
    CHECK_OK(ft_kws_detect(s, 12, 3, &o, &d, &n));
    CHECK(n >= 1 && d[0].keyword == 2 && near(d[0].start, 0.0));
    ft_free(d);
    /* Nothing above threshold: no detections, NULL. */
    o.threshold = 0.95f;
    CHECK_OK(ft_kws_detect(s, 12, 3, &o, &d, &n));
    CHECK(n == 0 && d == NULL);
    o.threshold = -0.1f;
    CHECK_ERR(ft_kws_detect(s, 12, 3, &o, &d, &n), FT_EINVAL);
    o.threshold = 0.5f;
    o.keywords = (const int[]){5};
    o.n_keywords = 1;
    CHECK_ERR(ft_kws_detect(s, 12, 3, &o, &d, &n), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "keyword 5"));

    CHECK(ft_kws_stream_windows(100, 40, 10) == 7); /* starts 0..60 */
    CHECK(ft_kws_stream_windows(101, 40, 10) == 8); /* the 8th, at 70, is padded */
    CHECK(ft_kws_stream_windows(40, 40, 10) == 1 && ft_kws_stream_windows(5, 40, 10) == 1);
}

/* A tone detector as a graph model: input [1, 1, L] samples at 8 kHz; a 1x64 convolution
 * with cos and sin kernels at 500 Hz and 1250 Hz (4 and 10 whole periods, so each pair
 * ignores the other tone), squared and averaged over time: the energy at each frequency.
 * Logits: class 0 "A" = 0.1 * E(500 Hz) - 10, class 1 "B" likewise at 1250 Hz, class 2
 * (background) 0. A tone of amplitude 0.5 filling a fraction c of the window gives
 * E = (0.5 * 64 / 2)^2 c = 256 c, so a window detects it (p >= 0.5) from c >= 0.39. */
#define RATE 8000
#define WIN 4000 /* 0.5 s */
static ft_model *tone_model(void) {
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"arch\":\"graph\",\"input\":{\"shape\":[1,1,%d]},"
             "\"params\":[{\"name\":\"conv.weight\",\"shape\":[4,1,1,64]},{\"name\":\"head.weight\",\"shape\":[3,4]},"
             "{\"name\":\"head.bias\",\"shape\":[3]}],"
             "\"nodes\":[{\"name\":\"conv\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"params\":[\"conv.weight\"]},"
             "{\"name\":\"sq\",\"op\":\"mul\",\"inputs\":[\"conv\",\"conv\"]},"
             "{\"name\":\"energy\",\"op\":\"global_avg_pool\",\"inputs\":[\"sq\"]},"
             "{\"name\":\"head\",\"op\":\"linear\",\"inputs\":[\"energy\"],\"params\":[\"head.weight\",\"head.bias\"]}],"
             "\"output\":\"head\",\"n_classes\":3}", WIN);
    ft_model *m = NULL;
    ft_status s = ft_model_from_config(cfg, &m);
    if (s) { fprintf(stderr, "tone model: %s\n", ft_errmsg()); return NULL; }
    float *w = ft_params_value(m->params, ft_params_find(m->params, "conv.weight"));
    const double f[2] = {500, 1250};
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 64; k++) {
            w[(2 * t) * 64 + k] = (float)cos(2 * M_PI * f[t] * k / RATE);
            w[(2 * t + 1) * 64 + k] = (float)sin(2 * M_PI * f[t] * k / RATE);
        }
    float *hw = ft_params_value(m->params, ft_params_find(m->params, "head.weight"));
    float *hb = ft_params_value(m->params, ft_params_find(m->params, "head.bias"));
    const float W[12] = {0.1f, 0.1f, 0, 0, 0, 0, 0.1f, 0.1f, 0, 0, 0, 0}, B[3] = {-10, -10, 0};
    memcpy(hw, W, sizeof W);
    memcpy(hb, B, sizeof B);
    return m;
}

/* Every other sample of a window: the model's input. */
static ft_status decimate(void *user, const float *win, int64_t window, float *x) {
    ++*(int *)user;
    for (int64_t i = 0; i < window / 2; i++) x[i] = win[2 * i];
    return FT_OK;
}

static void test_stream(void) {
    ft_model *m = tone_model();
    CHECK(m != NULL);
    if (!m) return;
    /* 4 s of faint noise with tone A at [0.5, 0.9] s, B at [2.0, 2.4] s, A at [3.0, 3.4] s. */
    const int64_t n = 4 * RATE;
    const struct { int kw; double t0, t1, f; } clips[3] = {{0, 0.5, 0.9, 500}, {1, 2.0, 2.4, 1250}, {0, 3.0, 3.4, 500}};
    float *rec = malloc((size_t)n * sizeof *rec);
    ft_pcg32 r;
    ft_pcg32_seed(&r, 7, 1);
    for (int64_t i = 0; i < n; i++) rec[i] = 0.01f * (ft_pcg32_uniform(&r) * 2 - 1);
    for (int c = 0; c < 3; c++)
        for (int64_t i = (int64_t)(clips[c].t0 * RATE); i < (int64_t)(clips[c].t1 * RATE); i++)
            rec[i] += 0.5f * (float)sin(2 * M_PI * clips[c].f * (double)i / RATE);
    const int64_t hop = RATE / 20; /* 50 ms */
    int64_t nw = ft_kws_stream_windows(n, WIN, hop);
    CHECK(nw == 1 + (n - WIN) / hop);
    float *sc = malloc((size_t)nw * 3 * sizeof *sc);
    CHECK_OK(ft_kws_stream_scores(m, rec, n, WIN, hop, 16, sc));
    /* A window over tone A alone (starting at 0.45 s) is class 0, a silent one class 2. */
    CHECKF(sc[9 * 3 + 0] > 0.99f, "p(A) %g", sc[9 * 3]);
    CHECKF(sc[25 * 3 + 2] > 0.99f, "p(bg) %g", sc[25 * 3 + 2]);
    /* Batching does not change the scores. */
    float *sc1 = malloc((size_t)nw * 3 * sizeof *sc1);
    CHECK_OK(ft_kws_stream_scores(m, rec, n, WIN, hop, 1, sc1));
    CHECK(t_close(sc1, sc, nw * 3, 1e-4, 1e-5, "batch 1 vs 16"));
    free(sc1);
    ft_kws_detect_opts o = {(double)WIN / RATE, (double)hop / RATE, 0.5f, (const int[]){0, 1}, 2, 0, 0};
    ft_kws_detection *d = NULL;
    int64_t nd = 0;
    CHECK_OK(ft_kws_detect(sc, nw, 3, &o, &d, &nd));
    CHECKF(nd == 3, "%lld detections", (long long)nd);
    for (int c = 0; c < 3 && nd == 3; c++) {
        /* Each detection spans its clip, starts at most one window before it and ends at most
         * one window after it, and peaks inside it. */
        CHECKF(d[c].keyword == clips[c].kw, "detection %d: keyword %d", c, d[c].keyword);
        CHECKF(d[c].start <= clips[c].t0 + 1e-9 && d[c].start >= clips[c].t0 - 0.5 - 1e-9, "detection %d start %g", c, d[c].start);
        CHECKF(d[c].end >= clips[c].t1 - 1e-9 && d[c].end <= clips[c].t1 + 0.5 + 1e-9, "detection %d end %g", c, d[c].end);
        CHECKF(d[c].peak >= clips[c].t0 && d[c].peak <= clips[c].t1, "detection %d peak %g", c, d[c].peak);
    }
    ft_free(d);
    /* A front end per window: the same recording at 16 kHz, windows twice as long, each
     * decimated to the model's 8 kHz input, gives the same scores. */
    float *rec16 = malloc((size_t)(2 * n) * sizeof *rec16), *sc16 = malloc((size_t)nw * 3 * sizeof *sc16);
    for (int64_t i = 0; i < n; i++) rec16[2 * i] = rec16[2 * i + 1] = rec[i];
    CHECK(ft_kws_stream_windows(2 * n, 2 * WIN, 2 * hop) == nw);
    int calls = 0;
    CHECK_OK(ft_kws_stream_scores_fn(m, rec16, 2 * n, 2 * WIN, 2 * hop, 7, decimate, &calls, sc16));
    CHECK(calls == nw);
    CHECK(t_close(sc16, sc, nw * 3, 1e-5, 1e-6, "16 kHz windows through a front end"));
    free(rec16);
    free(sc16);
    /* A window shorter than the model's input is zero-padded; a longer one is an error. */
    CHECK_OK(ft_kws_stream_scores(m, rec, RATE, WIN / 2, hop, 8, sc));
    CHECK_ERR(ft_kws_stream_scores(m, rec, n, WIN + 1, hop, 8, sc), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "4001 samples"));
    CHECK_ERR(ft_kws_stream_scores(m, rec, 0, WIN, hop, 8, sc), FT_EINVAL);
    free(sc);
    free(rec);
    ft_model_free(m);
}

/* Clips of 0.5 s: tone A, tone B or faint noise (label 2), from the same recipe as above. */
typedef struct { int kind[6]; int32_t label[6]; } clip_set;
static ft_status clip_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    (void)ctx;
    const clip_set *c = ds->impl;
    float *v = x;
    for (int64_t t = 0; t < WIN; t++) {
        double f = c->kind[i] == 0 ? 500 : 1250;
        v[t] = c->kind[i] == 2 ? 0.01f * (float)((t * 7919) % 201 - 100) / 100 : 0.5f * (float)sin(2 * M_PI * f * (double)t / RATE);
    }
    *y = c->label[i];
    return FT_OK;
}

static void test_dataset_scores(void) {
    ft_model *m = tone_model();
    if (!m) return;
    clip_set cs = {{0, 1, 2, 0, 2, 1}, {0, 1, 2, 0, 2, 1}};
    ft_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = 6;
    ds.x_dtype = FT_F32;
    ds.x_ndim = 3;
    ds.x_shape[0] = ds.x_shape[1] = 1;
    ds.x_shape[2] = WIN;
    ds.x_numel = WIN;
    ds.n_classes = 3;
    ds.get = clip_get;
    ds.impl = &cs;
    snprintf(ds.name, sizeof ds.name, "clips");
    float probs[18], again[18];
    int32_t lab[6];
    ft_eval_result r;
    CHECK_OK(ft_evaluate_probs(m, &ds, 4, 0, &r, probs, lab));
    CHECK(r.n == 6 && r.correct == 6);
    for (int i = 0; i < 6; i++) CHECK(lab[i] == cs.label[i] && probs[i * 3 + cs.label[i]] > 0.99f);
    ft_eval_result_free(&r);
    /* Labels the model has never seen (7) do not matter to ft_predict_dataset. */
    for (int i = 0; i < 6; i++) cs.label[i] = 7;
    ds.n_classes = 8;
    CHECK_OK(ft_predict_dataset(m, &ds, 4, 1, again));
    CHECK(t_close(again, probs, 18, 1e-5, 1e-6, "predict_dataset vs evaluate_probs"));
    ds.x_numel = WIN - 1;
    CHECK_ERR(ft_predict_dataset(m, &ds, 4, 0, again), FT_ESHAPE);
    CHECK(strstr(ft_errmsg(), "clips"));
    /* The audio front end a model remembers. */
    char *spec = ft_model_audio_spec(m);
    CHECK(spec == NULL);
    CHECK_OK(ft_model_set_audio_spec(m, "preset=oww:clip=0.782"));
    spec = ft_model_audio_spec(m);
    CHECK(spec && !strcmp(spec, "preset=oww:clip=0.782"));
    ft_free(spec);
    ft_model *m2 = NULL;
    CHECK_OK(ft_model_replace_head(m, 4, 1, &m2)); /* a new head keeps it */
    spec = m2 ? ft_model_audio_spec(m2) : NULL;
    CHECK(spec && !strcmp(spec, "preset=oww:clip=0.782"));
    ft_free(spec);
    ft_model_free(m2);
    CHECK_OK(ft_model_set_audio_spec(m, NULL));
    CHECK(ft_model_audio_spec(m) == NULL);
    ft_model_free(m);
}

/* The audio front end outside a dataset: a 16 kHz WAV recording of the tones, resampled to
 * the model's 8 kHz ("features=wave": the samples are the input), streamed and detected; a
 * single clip predicted; and the errors. */
static void test_audio_front_end(void) {
    ft_model *m = tone_model();
    if (!m) return;
    char dir[] = "/tmp/ft_kwsa_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], clip_path[256];
    snprintf(path, sizeof path, "%s/rec.wav", dir);
    snprintf(clip_path, sizeof clip_path, "%s/b.wav", dir);
    const int64_t n = 4 * 16000;
    float *rec = calloc((size_t)n, sizeof *rec);
    const struct { int kw; double t0, t1, f; } clips[3] = {{0, 0.5, 0.9, 500}, {1, 2.0, 2.4, 1250}, {0, 3.0, 3.4, 500}};
    for (int c = 0; c < 3; c++)
        for (int64_t i = (int64_t)(clips[c].t0 * 16000); i < (int64_t)(clips[c].t1 * 16000); i++)
            rec[i] = 0.5f * (float)sin(2 * M_PI * clips[c].f * (double)i / 16000);
    CHECK_OK(ft_audio_write_wav(path, rec, n, 16000, 16));
    CHECK_OK(ft_audio_write_wav(clip_path, rec + 32000, 6400, 16000, 16)); /* 0.4 s of tone B */
    ft_kws_audio *fe = NULL;
    CHECK_ERR(ft_kws_audio_new(m, NULL, &fe), FT_EINVAL); /* the model records no front end */
    CHECK(strstr(ft_errmsg(), "preprocess.audio"));
    CHECK_ERR(ft_kws_audio_new(m, "rate=8000:clip=0.4:features=wave", &fe), FT_ESHAPE); /* 3200 != 4000 */
    CHECK(strstr(ft_errmsg(), "3200") && strstr(ft_errmsg(), "4000"));
    CHECK_OK(ft_model_set_audio_spec(m, "rate=8000:clip=0.5:features=wave"));
    CHECK_OK(ft_kws_audio_new(m, NULL, &fe));
    if (fe) {
        CHECK(ft_kws_audio_rate(fe) == 8000 && ft_kws_audio_clip(fe) == 4000);
        ft_audio au;
        memset(&au, 0, sizeof au);
        CHECK_OK(ft_kws_audio_load(fe, path, &au));
        CHECK(au.sample_rate == 8000 && au.n == 32000 && au.file_rate == 16000);
        int64_t hop = 400, nw = ft_kws_stream_windows(au.n, 4000, hop);
        float *sc = malloc((size_t)nw * 3 * sizeof *sc);
        CHECK_OK(ft_kws_audio_stream(m, fe, au.data, au.n, 4000, hop, 16, sc));
        ft_kws_detect_opts o = {0.5, 0.05, 0.5f, (const int[]){0, 1}, 2, 0, 0};
        ft_kws_detection *d = NULL;
        int64_t nd = 0;
        CHECK_OK(ft_kws_detect(sc, nw, 3, &o, &d, &nd));
        CHECKF(nd == 3, "%lld detections", (long long)nd);
        for (int c = 0; c < 3 && nd == 3; c++)
            CHECKF(d[c].keyword == clips[c].kw && d[c].peak >= clips[c].t0 && d[c].peak <= clips[c].t1, "detection %d: %d at %g",
                   c, d[c].keyword, d[c].peak);
        ft_free(d);
        free(sc);
        ft_audio_free(&au);
        /* One clip, centred in the 0.5 s input: tone B. */
        float x[WIN], p[3];
        CHECK_OK(ft_kws_audio_load(fe, clip_path, &au));
        CHECK_OK(ft_kws_audio_input(fe, au.data, au.n, true, x));
        CHECK_OK(ft_predict_one(m, x, p));
        CHECKF(p[1] > 0.99f, "p(B) %g", p[1]);
        ft_audio_free(&au);
        CHECK(ft_kws_audio_load(fe, "/nonexistent/x.wav", &au) != FT_OK && strstr(ft_errmsg(), "/nonexistent/x.wav"));
        ft_kws_audio_free(fe);
    }
    free(rec);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    ft_model_free(m);
}

int main(void) {
    test_audio_front_end();
    test_dataset_scores();
    test_metrics();
    test_report();
    test_detect();
    test_stream();
    TEST_END();
}
