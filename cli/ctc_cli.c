/* CLI helpers for the CTC (speech recognition) task: "ctc:<spec>" data, the vocabulary a
 * trained model keeps in its labels, and the WER/CER lines. */
#include "cli.h"

#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool cli_is_ctc(const char *task, const char *spec) {
    if (task && (!strcmp(task, "ctc") || !strcmp(task, "asr"))) return true;
    return spec && !strncmp(spec, "ctc:", 4);
}

/* The model's CTC vocabulary: its labels when the first is the blank, else NULL. */
char **cli_ctc_model_vocab(const ft_model *m) {
    char **labels = ft_model_labels(m);
    if (labels && m->n_classes >= 2 && !strcmp(labels[0], FT_CTC_BLANK_NAME)) return labels;
    ft_model_labels_free(labels, m->n_classes);
    return NULL;
}

ft_status cli_open_ctc(const char *spec, const ft_model *m, const cli_frontend *fe, const char *const *vocab, int n_vocab, bool words,
                       ft_dataset **out) {
    *out = NULL;
    const char *inner_spec = !strncmp(spec, "ctc:", 4) ? spec + 4 : spec;
    ft_image_opts img = ft_model_image_opts(m);
    ft_dataset *inner = NULL;
    ft_status s = ft_dataset_open_with(inner_spec, &img, &inner);
    if (s) return s;
    if (fe && fe->path) { /* a frozen front end over sliding windows, computed once */
        ft_model *fm = NULL;
        ft_dataset *w = NULL;
        if ((s = cli_load_model(fe->path, false, 0, &fm, NULL))) { ft_dataset_free(inner); return s; }
        double t0 = now_s();
        s = ft_dataset_frontend(inner, fm, fe->window, fe->hop, 256, &w);
        ft_model_free(fm);
        if (s) { ft_dataset_free(inner); return ft_fail_context(s, "--frontend %s", fe->path); }
        fprintf(stderr, "front end: %s over %lld examples -> [%lld, %lld] each, computed in %.1f s\n", fe->path,
                (long long)w->n, (long long)w->x_shape[0], (long long)w->x_shape[1], now_s() - t0);
        inner = w;
    }
    char **own = NULL;
    if (!vocab && words) { /* one label per word */
        if ((s = ft_ctc_vocab_build_words(inner, &own, &n_vocab))) { ft_dataset_free(inner); return s; }
        vocab = (const char *const *)own;
    }
    s = ft_dataset_ctc(inner, vocab, n_vocab, out);
    ft_ctc_vocab_free(own, own ? n_vocab : 0);
    if (s) ft_dataset_free(inner);
    return s;
}
