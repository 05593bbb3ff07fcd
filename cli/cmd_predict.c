/* finetune predict: top-k classes with probabilities for each example of a dataset. */
#include "cli.h"
#include "args.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Indices of the k largest probabilities, largest first (ties: lower index first). */
static void top_k(const float *p, int n, int k, int *idx) {
    for (int t = 0; t < k; t++) {
        int best = -1;
        for (int c = 0; c < n; c++) {
            bool taken = false;
            for (int u = 0; u < t && !taken; u++) taken = idx[u] == c;
            if (!taken && (best < 0 || p[c] > p[best])) best = c;
        }
        idx[t] = best;
    }
}

int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *data = NULL;
    int64_t k = 5, limit = 0, threads = 2;
    bool json = false;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "model directory or checkpoint", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "data", ARG_STRING, &data, "SPEC", "dataset spec (csv:<path>, idx:<images>,<labels>, fashion-mnist:<dir>[:train|test], mnist-json:<dir>[:offset:per_class], images:<dir>[:size[:resize]], manifest:<file>[:size[:resize]])", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "top-k", ARG_INT, &k, "K", "classes shown per example (at most the model's class count)", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "limit", ARG_INT, &limit, "N", "predict only the first N examples (0 = all)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "json", ARG_BOOL, &json, NULL, "print one JSON object line per example (JSON Lines)", 0, 0, 0, NULL, "off", false },
        { "threads", ARG_INT, &threads, "N", "compute threads (OpenMP + BLAS)", ARG_MIN | ARG_MAX, 1, 1024, NULL, NULL, false },
    };
    args_ctx a = { "predict", "--model PATH --data SPEC [options]",
                   "Print the top-k classes with their probabilities for each example, with the\n"
                   "example's index and true label.",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_model *m = NULL;
    ft_dataset *ds = NULL;
    void *x = NULL;
    float *probs = NULL;
    int *idx = NULL;
    ft_status st;
    ft_set_num_threads((int)threads);
    if ((st = cli_load_model(model, false, 0, &m, NULL))) goto done;
    ft_image_opts img = ft_model_image_opts(m);
    if ((st = ft_dataset_open_with(data, &img, &ds))) goto done;
    if ((st = cli_check_input(m, ds, data))) goto done;
    int nc = m->n_classes;
    if (k > nc) k = nc;
    int64_t n = limit > 0 && limit < ds->n ? limit : ds->n;
    x = malloc((size_t)(ds->x_numel > 0 ? ds->x_numel : 1) * 4); /* F32 and I32 are both 4 bytes */
    probs = malloc((size_t)nc * sizeof *probs);
    idx = malloc((size_t)k * sizeof *idx);
    if (!x || !probs || !idx) {
        st = ft_fail(FT_ENOMEM, "out of memory for one example of '%s'", data);
        goto done;
    }
    int64_t correct = 0, labelled = 0;
    char b1[32], b2[32];
    for (int64_t i = 0; i < n; i++) {
        int32_t y = -1;
        if ((st = ds->get(ds, i, NULL, x, &y))) goto done;
        if ((st = ft_predict_one(m, x, probs))) goto done;
        top_k(probs, nc, (int)k, idx);
        if (y >= 0) { labelled++; correct += idx[0] == y; }
        if (json) {
            json_t *o = json_object(), *top = json_array();
            json_object_set_new(o, "index", json_integer(i));
            if (y >= 0) {
                json_object_set_new(o, "label", json_integer(y));
                json_object_set_new(o, "label_name", json_string(cli_class_name(ds, y, b1, sizeof b1)));
            }
            for (int t = 0; t < k; t++) {
                json_t *e = json_object();
                json_object_set_new(e, "class", json_integer(idx[t]));
                json_object_set_new(e, "name", json_string(cli_class_name(ds, idx[t], b1, sizeof b1)));
                json_object_set_new(e, "prob", json_real(probs[idx[t]]));
                json_array_append_new(top, e);
            }
            json_object_set_new(o, "top", top);
            char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            json_decref(o);
            if (!text) { st = ft_fail(FT_ENOMEM, "out of memory writing JSON"); goto done; }
            printf("%s\n", text);
            free(text);
        } else {
            printf("#%lld", (long long)i);
            if (y >= 0) printf("  true: %s%s", cli_class_name(ds, y, b1, sizeof b1), idx[0] == y ? "" : " (wrong)");
            printf("  ->");
            for (int t = 0; t < k; t++)
                printf("%s %s %.4f", t ? "," : "", cli_class_name(ds, idx[t], b2, sizeof b2), probs[idx[t]]);
            printf("\n");
        }
    }
    if (!json && labelled)
        printf("top-1 correct: %lld/%lld (%.2f%%)\n", (long long)correct, (long long)labelled,
               100.0 * (double)correct / (double)labelled);

done:
    if (st) rc = cli_lib_error();
    free(idx);
    free(probs);
    free(x);
    ft_dataset_free(ds);
    ft_model_free(m);
    return rc;
}
