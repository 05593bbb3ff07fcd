/* Keyword spotting in the CLI: `eval --kws` (one-vs-rest FRR/FAR at --threshold, DET
 * curves and EERs over the evaluation data plus --negatives clips) and its output. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
