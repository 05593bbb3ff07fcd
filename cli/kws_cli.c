/* Keyword spotting in the CLI: `eval --kws` (one-vs-rest FRR/FAR at --threshold, DET
 * curves and EERs over the evaluation data plus --negatives clips) and its output. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

ft_status cli_kws_parse_keywords(const char *list, char **names, int k, int **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    if (!list) return FT_OK;
    int *kw = ft_malloc((size_t)k * sizeof *kw);
    if (!kw) return ft_fail(FT_ENOMEM, "out of memory");
    int n = 0;
    const char *p = list;
    ft_status st = FT_OK;
    while (!st) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[256];
        if (len == 0 || len >= sizeof item) {
            st = ft_fail(FT_EINVAL, "--keywords '%s': an empty or overlong item", list);
            break;
        }
        memcpy(item, p, len);
        item[len] = 0;
        int c = -1;
        for (int j = 0; j < k && c < 0; j++)
            if (names && names[j] && !strcmp(names[j], item)) c = j;
        if (c < 0) { /* an index */
            char *end;
            long v = strtol(item, &end, 10);
            if (!*end && v >= 0 && v < k) c = (int)v;
        }
        if (c < 0) { st = ft_fail(FT_EINVAL, "--keywords: '%s' is neither a class name nor a class index 0..%d", item, k - 1); break; }
        for (int j = 0; j < n; j++)
            if (kw[j] == c) st = ft_fail(FT_EINVAL, "--keywords: '%s' is listed twice", item);
        if (st) break;
        if (n == k) { st = ft_fail(FT_EINVAL, "--keywords: more items than classes"); break; }
        kw[n++] = c;
        if (!e) break;
        p = e + 1;
    }
    if (st) { ft_free(kw); return st; }
    *out = kw;
    *n_out = n;
    return FT_OK;
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *cli_kws_json(const ft_kws_metrics *m, char **names) {
    json_t *o = json_object(), *arr = json_array();
    json_object_set_new(o, "threshold", json_real(m->threshold));
    json_object_set_new(o, "n", json_integer(m->n));
    json_object_set_new(o, "n_none", json_integer(m->n_none));
    json_object_set_new(o, "mean_frr", jnum(m->mean_frr));
    json_object_set_new(o, "mean_far", jnum(m->mean_far));
    json_object_set_new(o, "mean_eer", jnum(m->mean_eer));
    for (int k = 0; k < m->n_keywords; k++) {
        const ft_kws_keyword *kw = &m->kw[k];
        json_t *e = json_object();
        json_object_set_new(e, "class", json_integer(kw->keyword));
        json_object_set_new(e, "name", json_string(names ? names[kw->keyword] : ""));
        json_object_set_new(e, "positives", json_integer(kw->positives));
        json_object_set_new(e, "negatives", json_integer(kw->negatives));
        json_object_set_new(e, "false_rejects", json_integer(kw->false_rejects));
        json_object_set_new(e, "false_accepts", json_integer(kw->false_accepts));
        json_object_set_new(e, "frr", jnum(kw->frr));
        json_object_set_new(e, "far", jnum(kw->far));
        json_object_set_new(e, "eer", jnum(kw->eer));
        json_object_set_new(e, "eer_threshold", jnum(kw->eer_thr));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "keywords", arr);
    return o;
}

void cli_kws_print(const ft_kws_metrics *m, char **names) {
    printf("\nkeyword spotting at threshold %g (one keyword vs the rest; %lld clips, %lld without a keyword)\n",
           m->threshold, (long long)m->n, (long long)m->n_none);
    int w = 12;
    for (int k = 0; k < m->n_keywords; k++) {
        int len = names ? (int)strlen(names[m->kw[k].keyword]) : 0;
        if (len > w) w = len;
    }
    if (w > 40) w = 40;
    printf("%-*s %9s %9s %9s %9s %9s %9s\n", w, "keyword", "positives", "negatives", "FRR", "FAR", "EER", "EER thr");
    for (int k = 0; k < m->n_keywords; k++) {
        const ft_kws_keyword *kw = &m->kw[k];
        char b[32];
        snprintf(b, sizeof b, "%d", kw->keyword);
        printf("%-*.*s %9lld %9lld %9.4f %9.4f", w, w, names ? names[kw->keyword] : b, (long long)kw->positives,
               (long long)kw->negatives, kw->frr, kw->far);
        if (isnan(kw->eer)) printf(" %9s %9s\n", "-", "-");
        else printf(" %9.4f %9.4f\n", kw->eer, kw->eer_thr);
    }
    printf("%-*s %9s %9s %9.4f %9.4f", w, "mean", "", "", m->mean_frr, m->mean_far);
    if (isnan(m->mean_eer)) printf("\n");
    else printf(" %9.4f\n", m->mean_eer);
}

ft_status cli_kws_evaluate(ft_model *m, ft_dataset *ds, ft_dataset *neg, int64_t batch, int workers,
                           const int *keywords, int n_keywords, float threshold, ft_eval_result *r,
                           ft_kws_metrics *out) {
    int C = m->n_classes;
    int64_t n = ds->n + (neg ? neg->n : 0);
    float *probs = ft_malloc((size_t)(n * C) * sizeof *probs);
    int32_t *labels = ft_malloc((size_t)n * sizeof *labels);
    ft_status st = FT_OK;
    if (!probs || !labels) { st = ft_fail(FT_ENOMEM, "out of memory for %lld x %d scores", (long long)n, C); goto done; }
    if ((st = ft_evaluate_probs(m, ds, batch, workers, r, probs, labels))) goto done;
    if (neg) {
        if ((st = ft_predict_dataset(m, neg, batch, workers, probs + ds->n * C))) {
            ft_fail_context(st, "--negatives");
            goto done;
        }
        for (int64_t i = ds->n; i < n; i++) labels[i] = FT_KWS_NONE;
    }
    st = ft_kws_metrics_compute(probs, labels, n, C, keywords, n_keywords, threshold, out);
done:
    ft_free(probs);
    ft_free(labels);
    return st;
}

/* ---- predict on recordings (needs the audio front end) ---- */

static bool audio_ext(const char *p) {
    static const char *const ext[] = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc",
                                      ".au", ".snd", ".caf", ".w64", ".rf64", NULL};
    const char *dot = strrchr(p, '.');
    if (!dot) return false;
    for (int i = 0; ext[i]; i++)
        if (!strcasecmp(dot, ext[i])) return true;
    return false;
}

bool cli_is_audio_path(const char *path) { return audio_ext(path); }

int cli_predict_audio_files(ft_model *m, char **files, int n, const char *audio_opts, int k, bool json, bool stop) {
    ft_kws_audio *fe = NULL;
    ft_status st = ft_kws_audio_new(m, audio_opts, &fe);
    if (st) return cli_lib_error();
    char **names = cli_class_names(NULL, m, m->n_classes);
    int64_t in = 1;
    for (int d = 0; d < m->in_ndim; d++) in *= m->in_shape[d];
    float *x = ft_malloc((size_t)in * sizeof *x), *p = ft_malloc((size_t)m->n_classes * sizeof *p);
    int rc = CLI_OK, done = 0, bad = 0;
    if (!names || !x || !p) { st = ft_fail(FT_ENOMEM, "out of memory"); goto out; }
    for (int i = 0; i < n; i++) {
        ft_audio au;
        memset(&au, 0, sizeof au);
        st = ft_kws_audio_load(fe, files[i], &au);
        if (!st) st = ft_kws_audio_input(fe, au.data, au.n, true, x);
        ft_audio_free(&au);
        if (!st) st = ft_predict_one(m, x, p);
        if (st) {
            if (!strstr(ft_errmsg(), files[i])) ft_fail_context(st, "%s", files[i]);
            if (stop) goto out;
            fprintf(stderr, "finetune: skipped %s\n", ft_errmsg());
            bad++;
            st = FT_OK;
            continue;
        }
        int top[64];
        int kk = k < 64 ? k : 64;
        for (int t = 0; t < kk; t++) {
            int best = -1;
            for (int c = 0; c < m->n_classes; c++) {
                bool taken = false;
                for (int u = 0; u < t && !taken; u++) taken = top[u] == c;
                if (!taken && (best < 0 || p[c] > p[best])) best = c;
            }
            top[t] = best;
        }
        if (json) {
            json_t *o = json_object(), *arr = json_array();
            json_object_set_new(o, "file", json_string(files[i]));
            for (int t = 0; t < kk; t++) {
                json_t *e = json_object();
                json_object_set_new(e, "class", json_integer(top[t]));
                json_object_set_new(e, "name", json_string(names[top[t]]));
                json_object_set_new(e, "prob", json_real(p[top[t]]));
                json_array_append_new(arr, e);
            }
            json_object_set_new(o, "top", arr);
            char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            json_decref(o);
            if (t) printf("%s\n", t);
            free(t);
        } else {
            printf("%s ->", files[i]);
            for (int t = 0; t < kk; t++) printf("%s %s %.4f", t ? "," : "", names[top[t]], p[top[t]]);
            printf("\n");
        }
        done++;
    }
    fprintf(json ? stderr : stdout, "%spredicted %d recording%s; skipped %d unreadable\n", json ? "finetune: " : "", done,
            done == 1 ? "" : "s", bad);
    if (done == 0) st = ft_fail(FT_EINVAL, "no recording could be predicted (of %d given)", n);
out:
    if (st) rc = cli_lib_error();
    cli_class_names_free(names, m->n_classes);
    ft_free(x);
    ft_free(p);
    ft_kws_audio_free(fe);
    return rc;
}

int cli_predict_stream(ft_model *m, const char *path, const char *audio_opts, double window_ms, double hop_ms,
                       float threshold, const char *keywords, int max_gap, int min_windows, int64_t batch, bool json) {
    ft_kws_audio *fe = NULL;
    ft_audio au;
    memset(&au, 0, sizeof au);
    float *scores = NULL;
    int *kw = NULL, n_kw = 0;
    ft_kws_detection *det = NULL;
    int64_t nd = 0;
    char **names = cli_class_names(NULL, m, m->n_classes);
    ft_status st = names ? FT_OK : ft_fail(FT_ENOMEM, "out of memory");
    if (!st) st = ft_kws_audio_new(m, audio_opts, &fe);
    if (!st) st = cli_kws_parse_keywords(keywords, names, m->n_classes, &kw, &n_kw);
    if (!st) st = ft_kws_audio_load(fe, path, &au);
    if (st) goto out;
    int rate = ft_kws_audio_rate(fe);
    int64_t clip = ft_kws_audio_clip(fe);
    int64_t window = window_ms > 0 ? (int64_t)floor(window_ms * 1e-3 * rate + 0.5) : clip;
    int64_t hop = (int64_t)floor(hop_ms * 1e-3 * rate + 0.5);
    if (window < 1 || hop < 1) {
        st = ft_fail(FT_EINVAL, "--window-ms %g / --hop-ms %g are less than one sample at %d Hz", window_ms, hop_ms, rate);
        goto out;
    }
    int64_t nw = ft_kws_stream_windows(au.n, window, hop);
    if (!(scores = ft_malloc((size_t)(nw * m->n_classes) * sizeof *scores))) { st = ft_fail(FT_ENOMEM, "out of memory"); goto out; }
    if ((st = ft_kws_audio_stream(m, fe, au.data, au.n, window, hop, batch, scores))) goto out;
    ft_kws_detect_opts o = {(double)window / rate, (double)hop / rate, threshold, kw, n_kw, max_gap, min_windows};
    if ((st = ft_kws_detect(scores, nw, m->n_classes, &o, &det, &nd))) goto out;
    for (int64_t i = 0; i < nd; i++) {
        const ft_kws_detection *d = &det[i];
        if (json) {
            json_t *j = json_object();
            json_object_set_new(j, "file", json_string(path));
            json_object_set_new(j, "keyword", json_string(names[d->keyword]));
            json_object_set_new(j, "class", json_integer(d->keyword));
            json_object_set_new(j, "start", json_real(d->start));
            json_object_set_new(j, "end", json_real(d->end));
            json_object_set_new(j, "peak", json_real(d->peak));
            json_object_set_new(j, "score", json_real(d->score));
            json_object_set_new(j, "windows", json_integer(d->windows));
            char *t = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            json_decref(j);
            if (t) printf("%s\n", t);
            free(t);
        } else {
            printf("%8.3f s  %-12s score %.4f  (%.3f-%.3f s, %lld window%s)\n", d->peak, names[d->keyword], d->score,
                   d->start, d->end, (long long)d->windows, d->windows == 1 ? "" : "s");
        }
    }
    fprintf(json ? stderr : stdout, "%s%s: %.2f s at %d Hz, %lld windows of %.0f ms every %.0f ms, threshold %g: %lld detection%s\n",
            json ? "finetune: " : "", path, (double)au.n / rate, rate, (long long)nw, 1e3 * window / rate, 1e3 * hop / rate,
            threshold, (long long)nd, nd == 1 ? "" : "s");
out:
    cli_class_names_free(names, m->n_classes);
    ft_free(det);
    ft_free(kw);
    ft_free(scores);
    ft_audio_free(&au);
    ft_kws_audio_free(fe);
    return st ? cli_lib_error() : CLI_OK;
}

ft_status cli_remember_audio(ft_model *m, const char *spec, const ft_dataset *ds) {
    char path[4096];
    bool manifest;
    ft_audio_dataset_opts o;
    ft_status st = ft_audio_spec_parse(spec, NULL, path, sizeof path, &manifest, &o);
    if (st) return st;
    const char *tail = spec + (manifest ? 13 : 4) + strlen(path);
    ft_audio_counts c;
    if ((st = ft_audio_dataset_counts(ds, &c))) return st;
    char buf[4096];
    /* the clip actually used (the longest one when the spec gave none) */
    if ((size_t)snprintf(buf, sizeof buf, "%s%s%sclip=%.9g", *tail == ':' ? tail + 1 : tail, *tail ? ":" : "", "",
                         (double)c.clip_samples / c.sample_rate) >= sizeof buf)
        return ft_fail(FT_EINVAL, "%s: audio options too long", spec);
    return ft_model_set_audio_spec(m, buf);
}
