/* Keyword spotting: one-vs-rest false-reject / false-accept rates, DET curves and equal
 * error rates from a table of class probabilities; the DET curves as an SVG; streaming
 * detection (windows over a long recording, merged into timed detections). */
#include "finetune/kws.h"
#include "finetune/runner.h"
#include "finetune/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- metrics ---------------- */

void ft_kws_metrics_free(ft_kws_metrics *m) {
    if (!m) return;
    for (int k = 0; m->kw && k < m->n_keywords; k++) {
        ft_free(m->kw[k].det_thr);
        ft_free(m->kw[k].det_far);
        ft_free(m->kw[k].det_frr);
    }
    ft_free(m->kw);
    memset(m, 0, sizeof *m);
}

typedef struct { float s; int pos; } scored;

static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

/* The DET curve and EER of one keyword from its n (score, positive) pairs, sorted here. */
static ft_status det_curve(scored *v, int64_t n, ft_kws_keyword *kw) {
    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    int64_t distinct = 0;
    for (int64_t i = 0; i < n; i++) distinct += i == 0 || v[i].s != v[i - 1].s;
    int64_t np = distinct + 1;
    kw->det_thr = ft_malloc((size_t)np * sizeof(double));
    kw->det_far = ft_malloc((size_t)np * sizeof(double));
    kw->det_frr = ft_malloc((size_t)np * sizeof(double));
    if (!kw->det_thr || !kw->det_far || !kw->det_frr) return ft_fail(FT_ENOMEM, "out of memory for a DET curve");
    double P = (double)kw->positives, N = (double)kw->negatives;
    int64_t rejected_pos = 0, accepted_neg = kw->negatives, j = 0;
    for (int64_t i = 0; i < n;) {
        /* threshold v[i].s accepts v[i..n): everything below it is rejected */
        kw->det_thr[j] = v[i].s;
        kw->det_far[j] = N > 0 ? (double)accepted_neg / N : 0.0;
        kw->det_frr[j] = P > 0 ? (double)rejected_pos / P : 0.0;
        j++;
        float s = v[i].s;
        for (; i < n && v[i].s == s; i++) {
            if (v[i].pos) rejected_pos++;
            else accepted_neg--;
        }
    }
    kw->det_thr[j] = INFINITY;
    kw->det_far[j] = 0.0;
    kw->det_frr[j] = P > 0 ? 1.0 : 0.0;
    kw->n_det = np;
    kw->eer = kw->eer_thr = NAN;
    if (P <= 0 || N <= 0) return FT_OK;
    /* FRR - FAR rises from -1 (accept everything) to 1 (accept nothing). */
    for (j = 0; j < np; j++) {
        double d = kw->det_frr[j] - kw->det_far[j];
        if (d < 0) continue;
        if (d == 0 || j == 0) {
            kw->eer = kw->det_frr[j];
            kw->eer_thr = kw->det_thr[j];
        } else {
            double d0 = kw->det_frr[j - 1] - kw->det_far[j - 1], t = -d0 / (d - d0);
            kw->eer = kw->det_far[j - 1] + t * (kw->det_far[j] - kw->det_far[j - 1]);
            double t0 = kw->det_thr[j - 1], t1 = kw->det_thr[j];
            kw->eer_thr = isfinite(t1) ? t0 + t * (t1 - t0) : t0;
        }
        break;
    }
    return FT_OK;
}

ft_status ft_kws_metrics_compute(const float *scores, const int32_t *labels, int64_t n, int n_classes,
                                 const int *keywords, int n_keywords, float threshold, ft_kws_metrics *out) {
    memset(out, 0, sizeof *out);
    if (n_classes < 1) return ft_fail(FT_EINVAL, "keyword metrics: %d classes", n_classes);
    if (n < 1) return ft_fail(FT_EINVAL, "keyword metrics: no examples");
    if (!(threshold >= 0 && threshold <= 1))
        return ft_fail(FT_EINVAL, "keyword threshold %g is not in [0, 1] (it compares class probabilities)", threshold);
    if (!keywords) n_keywords = n_classes;
    if (n_keywords < 1) return ft_fail(FT_EINVAL, "keyword metrics: no keywords");
    for (int k = 0; keywords && k < n_keywords; k++) {
        if (keywords[k] < 0 || keywords[k] >= n_classes)
            return ft_fail(FT_EINVAL, "keyword %d is not a class of the model (0..%d)", keywords[k], n_classes - 1);
        for (int j = 0; j < k; j++)
            if (keywords[j] == keywords[k]) return ft_fail(FT_EINVAL, "keyword %d is listed twice", keywords[k]);
    }
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] != FT_KWS_NONE && (labels[i] < 0 || labels[i] >= n_classes))
            return ft_fail(FT_EINVAL, "keyword metrics: example %lld has label %d (classes 0..%d, or %d for none)",
                           (long long)i, labels[i], n_classes - 1, FT_KWS_NONE);
        for (int c = 0; c < n_classes; c++)
            if (isnan(scores[i * n_classes + c]))
                return ft_fail(FT_EINVAL, "keyword metrics: example %lld has a NaN score for class %d", (long long)i, c);
        out->n_none += labels[i] == FT_KWS_NONE;
    }
    out->n = n;
    out->threshold = threshold;
    out->kw = ft_calloc((size_t)n_keywords, sizeof *out->kw);
    scored *v = ft_malloc((size_t)n * sizeof *v);
    ft_status s = FT_OK;
    if (!out->kw || !v) { s = ft_fail(FT_ENOMEM, "out of memory for keyword metrics"); goto done; }
    out->n_keywords = n_keywords;
    int n_eer = 0;
    for (int k = 0; k < n_keywords; k++) {
        ft_kws_keyword *kw = &out->kw[k];
        int c = keywords ? keywords[k] : k;
        kw->keyword = c;
        for (int64_t i = 0; i < n; i++) {
            float sc = scores[i * n_classes + c];
            bool pos = labels[i] == c;
            v[i] = (scored){sc, pos};
            if (pos) {
                kw->positives++;
                kw->false_rejects += sc < threshold;
            } else {
                kw->negatives++;
                kw->false_accepts += sc >= threshold;
            }
        }
        kw->frr = kw->positives ? (double)kw->false_rejects / (double)kw->positives : 0.0;
        kw->far = kw->negatives ? (double)kw->false_accepts / (double)kw->negatives : 0.0;
        if ((s = det_curve(v, n, kw))) goto done;
        out->mean_frr += kw->frr / n_keywords;
        out->mean_far += kw->far / n_keywords;
        if (!isnan(kw->eer)) {
            out->mean_eer += kw->eer;
            n_eer++;
        }
    }
    out->mean_eer = n_eer ? out->mean_eer / n_eer : NAN;
done:
    ft_free(v);
    if (s) ft_kws_metrics_free(out);
    return s;
}

/* ---------------- DET plot (SVG) ---------------- */

/* Standard normal CDF and its inverse (bisection: the plot needs a few digits). */
static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double probit(double p) {
    double lo = -8, hi = 8;
    for (int i = 0; i < 60; i++) {
        double mid = 0.5 * (lo + hi);
        if (phi(mid) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

#define DET_LO 0.001
#define DET_HI 0.999
#define PLOT 420   /* plot area side, pixels */
#define MARGIN_L 64
#define MARGIN_T 24
#define MARGIN_B 52
#define LEGEND_W 190

static double det_axis(double p) {
    if (!(p >= DET_LO)) p = DET_LO;
    if (p > DET_HI) p = DET_HI;
    double a = probit(DET_LO), b = probit(DET_HI);
    return (probit(p) - a) / (b - a) * PLOT;
}

static void svg_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

ft_status ft_kws_det_svg_write(const char *path, const ft_kws_metrics *m, const char *const *names) {
    if (!m || m->n_keywords < 1) return ft_fail(FT_EINVAL, "%s: no keyword metrics to plot", path);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ft_fail(FT_ENOMEM, "%s: out of memory", path);
    int W = MARGIN_L + PLOT + 16 + LEGEND_W, H = MARGIN_T + PLOT + MARGIN_B;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' "
               "font-family='sans-serif' font-size='11'>\n<rect width='%d' height='%d' fill='#fff'/>\n", W, H, W, H, W, H);
    /* x = FAR to the right, y = FRR upwards; (0,0) of the plot at its bottom-left. */
#define PX(p) (MARGIN_L + det_axis(p))
#define PY(p) (MARGIN_T + PLOT - det_axis(p))
    static const double ticks[] = {0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999};
    for (size_t t = 0; t < sizeof ticks / sizeof ticks[0]; t++) {
        double p = ticks[t], x = PX(p), y = PY(p);
        char lab[16];
        snprintf(lab, sizeof lab, "%g", 100 * p);
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ddd'/>"
                   "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/>\n",
                x, MARGIN_T, x, MARGIN_T + PLOT, MARGIN_L, y, MARGIN_L + PLOT, y);
        fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%s</text><text x='%d' y='%.1f' text-anchor='end'>%s</text>\n",
                x, MARGIN_T + PLOT + 14, lab, MARGIN_L - 4, y + 4, lab);
    }
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n", MARGIN_L, MARGIN_T, PLOT, PLOT);
    fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#999' stroke-dasharray='4 3'/>\n", PX(DET_LO),
            PY(DET_LO), PX(DET_HI), PY(DET_HI));
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>false-accept rate (%%)</text>\n", MARGIN_L + PLOT / 2, H - 14);
    fprintf(f, "<text x='14' y='%d' text-anchor='middle' transform='rotate(-90 14 %d)'>false-reject rate (%%)</text>\n",
            MARGIN_T + PLOT / 2, MARGIN_T + PLOT / 2);
    for (int k = 0; k < m->n_keywords; k++) {
        const ft_kws_keyword *kw = &m->kw[k];
        const char *col = palette[k % 10];
        fprintf(f, "<polyline class='det' fill='none' stroke='%s' stroke-width='1.5' points='", col);
        for (int64_t j = 0; j < kw->n_det; j++) fprintf(f, "%s%.1f,%.1f", j ? " " : "", PX(kw->det_far[j]), PY(kw->det_frr[j]));
        fputs("'/>\n", f);
        fprintf(f, "<circle class='op' cx='%.1f' cy='%.1f' r='3.5' fill='%s'/>\n", PX(kw->far), PY(kw->frr), col);
        char b[32];
        const char *name = names && names[kw->keyword] ? names[kw->keyword] : (snprintf(b, sizeof b, "%d", kw->keyword), b);
        int ly = MARGIN_T + 8 + 15 * k;
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'/><text x='%d' y='%d'>",
                MARGIN_L + PLOT + 16, ly, MARGIN_L + PLOT + 34, ly, col, MARGIN_L + PLOT + 38, ly + 4);
        svg_esc(f, name);
        if (!isnan(kw->eer)) fprintf(f, " (EER %.2f%%)", 100 * kw->eer);
        fputs("</text>\n", f);
    }
    fprintf(f, "<text x='%d' y='%d'>dots: threshold %g</text>\n", MARGIN_L + PLOT + 16,
            MARGIN_T + 8 + 15 * m->n_keywords + 6, m->threshold);
#undef PX
#undef PY
    fputs("</svg>\n", f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || !text) { free(text); return ft_fail(FT_ENOMEM, "%s: out of memory", path); }
    ft_status s = ft_write_file_atomic(path, text, len);
    free(text);
    return s;
}

/* ---------------- streaming ---------------- */

int64_t ft_kws_stream_windows(int64_t n_samples, int64_t window, int64_t hop) {
    if (window < 1 || hop < 1 || n_samples < 0) return 0;
    if (n_samples <= window) return 1;
    return 1 + (n_samples - window + hop - 1) / hop;
}

ft_status ft_kws_stream_scores(ft_model *m, const float *samples, int64_t n_samples, int64_t window, int64_t hop,
                               int64_t batch_size, float *scores) {
    return ft_kws_stream_scores_fn(m, samples, n_samples, window, hop, batch_size, NULL, NULL, scores);
}

ft_status ft_kws_stream_scores_fn(ft_model *m, const float *samples, int64_t n_samples, int64_t window, int64_t hop,
                                  int64_t batch_size, ft_kws_window_fn transform, void *user, float *scores) {
    int64_t input = 1;
    for (int d = 0; d < m->in_ndim; d++) input *= m->in_shape[d];
    if (m->in_dtype != FT_F32) return ft_fail(FT_ESHAPE, "streaming: the model takes integer inputs, not audio samples");
    if (window < 1 || hop < 1) return ft_fail(FT_EINVAL, "streaming: window %lld and hop %lld samples must be >= 1",
                                              (long long)window, (long long)hop);
    if (!transform && window > input)
        return ft_fail(FT_EINVAL, "streaming: a window of %lld samples is longer than the model's input of %lld samples",
                       (long long)window, (long long)input);
    if (n_samples < 1) return ft_fail(FT_EINVAL, "streaming: the recording has no samples");
    if (batch_size < 1) batch_size = 1;
    int64_t nw = ft_kws_stream_windows(n_samples, window, hop);
    if (batch_size > nw) batch_size = nw;
    float *x = ft_malloc((size_t)(batch_size * input) * sizeof *x);
    float *win = transform ? ft_malloc((size_t)window * sizeof *win) : NULL;
    if (!x || (transform && !win)) {
        ft_free(x);
        ft_free(win);
        return ft_fail(FT_ENOMEM, "out of memory for %lld windows of %lld samples", (long long)batch_size, (long long)input);
    }
    ft_status s = FT_OK;
    for (int64_t w0 = 0; w0 < nw && !s; w0 += batch_size) {
        int64_t nb = nw - w0 < batch_size ? nw - w0 : batch_size;
        memset(x, 0, (size_t)(nb * input) * sizeof *x);
        for (int64_t b = 0; b < nb && !s; b++) {
            int64_t start = (w0 + b) * hop, take = n_samples - start < window ? n_samples - start : window;
            float *dst = transform ? win : x + b * input;
            if (transform) memset(win, 0, (size_t)window * sizeof *win);
            if (take > 0) memcpy(dst, samples + start, (size_t)take * sizeof *x);
            if (transform) s = transform(user, win, window, x + b * input);
        }
        if (!s) s = ft_predict_batch(m, x, nb, scores + w0 * m->n_classes);
    }
    ft_free(x);
    ft_free(win);
    return s;
}

ft_status ft_kws_detect(const float *scores, int64_t n_windows, int n_classes, const ft_kws_detect_opts *o,
                        ft_kws_detection **out, int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (n_classes < 1 || n_windows < 0) return ft_fail(FT_EINVAL, "detect: %d classes, %lld windows", n_classes, (long long)n_windows);
    if (!(o->threshold >= 0 && o->threshold <= 1))
        return ft_fail(FT_EINVAL, "keyword threshold %g is not in [0, 1] (it compares class probabilities)", o->threshold);
    if (!(o->hop_s > 0) || !(o->window_s > 0)) return ft_fail(FT_EINVAL, "detect: window and hop must be > 0 seconds");
    if (o->max_gap < 0 || o->min_windows < 0)
        return ft_fail(FT_EINVAL, "detect: max_gap %d and min_windows %d must be >= 0", o->max_gap, o->min_windows);
    int nk = o->keywords ? o->n_keywords : n_classes;
    for (int k = 0; o->keywords && k < nk; k++)
        if (o->keywords[k] < 0 || o->keywords[k] >= n_classes)
            return ft_fail(FT_EINVAL, "keyword %d is not a class of the model (0..%d)", o->keywords[k], n_classes - 1);
    ft_kws_detection *ev = NULL, cur = {0};
    int64_t n = 0, cap = 0, last = -1; /* last: window of the open detection's latest hit; -1: none open */
    ft_status s = FT_OK;
#define CLOSE() do { \
        if (last >= 0 && cur.windows >= o->min_windows) { \
            if (n == cap) { \
                int64_t nc = cap ? 2 * cap : 16; \
                ft_kws_detection *ne = ft_realloc(ev, (size_t)nc * sizeof *ne); \
                if (!ne) { s = ft_fail(FT_ENOMEM, "out of memory for detections"); goto done; } \
                ev = ne; cap = nc; \
            } \
            ev[n++] = cur; \
        } \
        last = -1; \
    } while (0)
    for (int64_t w = 0; w < n_windows; w++) {
        const float *p = scores + w * n_classes;
        int best = -1;
        for (int k = 0; k < nk; k++) {
            int c = o->keywords ? o->keywords[k] : k;
            if (p[c] >= o->threshold && (best < 0 || p[c] > p[best])) best = c;
        }
        if (last >= 0 && (best != cur.keyword ? best >= 0 || w - last > o->max_gap : false)) CLOSE();
        if (best < 0) continue;
        double t0 = (double)w * o->hop_s;
        if (last >= 0) { /* same keyword, within the gap: extend */
            cur.end = t0 + o->window_s;
            cur.windows++;
            if (p[best] > cur.score) {
                cur.score = p[best];
                cur.peak = t0 + 0.5 * o->window_s;
            }
        } else {
            cur = (ft_kws_detection){best, t0, t0 + o->window_s, t0 + 0.5 * o->window_s, p[best], 1};
        }
        last = w;
    }
    CLOSE();
#undef CLOSE
done:
    if (s) { ft_free(ev); return s; }
    *out = ev;
    *n_out = n;
    return FT_OK;
}
