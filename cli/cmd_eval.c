/* finetune eval: loss, accuracy, top-5, per-class precision/recall/F1 and the confusion
 * matrix of a trained model on a dataset; --json prints one JSON object line. */
#include "cli.h"
#include "args.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MAX_PRINTED_CONFUSION 30 /* classes; larger matrices only in --json */

typedef ft_class_metrics class_stats;

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int print_json(const ft_eval_result *r, const class_stats *cs, const ft_dataset *ds, const ft_kws_metrics *kws,
                      char **names) {
    json_t *o = json_object(), *pc = json_array(), *conf = json_array();
    int k = r->n_classes;
    char buf[32];
    json_object_set_new(o, "loss", jnum(r->loss));
    json_object_set_new(o, "accuracy", jnum(r->accuracy));
    json_object_set_new(o, "top5", k > 5 ? jnum(r->top5) : json_null());
    json_object_set_new(o, "n", json_integer(r->n));
    for (int c = 0; c < k; c++) {
        json_t *e = json_object(), *row = json_array();
        json_object_set_new(e, "name", json_string(cli_class_name(ds, c, buf, sizeof buf)));
        json_object_set_new(e, "precision", jnum(cs[c].precision));
        json_object_set_new(e, "recall", jnum(cs[c].recall));
        json_object_set_new(e, "f1", jnum(cs[c].f1));
        json_object_set_new(e, "support", json_integer(cs[c].support));
        json_array_append_new(pc, e);
        for (int j = 0; j < k; j++) json_array_append_new(row, json_integer(r->confusion[(int64_t)c * k + j]));
        json_array_append_new(conf, row);
    }
    json_object_set_new(o, "per_class", pc);
    json_object_set_new(o, "confusion", conf);
    if (kws) json_object_set_new(o, "kws", cli_kws_json(kws, names));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(o);
    if (!text) {
        fprintf(stderr, "finetune: out of memory writing JSON\n");
        return CLI_FAIL;
    }
    printf("%s\n", text);
    free(text);
    return CLI_OK;
}

static void print_text(const ft_eval_result *r, const class_stats *cs, const ft_dataset *ds,
                       const char *model, const char *data) {
    int k = r->n_classes;
    char buf[32];
    printf("model:     %s\n", model);
    printf("data:      %s (%lld examples)\n", data, (long long)r->n);
    printf("loss:      %.4f\n", r->loss);
    printf("accuracy:  %.4f (%lld/%lld)\n", r->accuracy, (long long)r->correct, (long long)r->n);
    if (k > 5) printf("top-5:     %.4f\n", r->top5);

    int w = 12;
    for (int c = 0; c < k; c++) {
        int len = (int)strlen(cli_class_name(ds, c, buf, sizeof buf));
        if (len > w) w = len;
    }
    if (w > 40) w = 40;
    printf("\n%-*s %9s %9s %9s %9s\n", w, "class", "precision", "recall", "f1", "support");
    double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
    int64_t total = 0;
    for (int c = 0; c < k; c++) {
        printf("%-*.*s %9.4f %9.4f %9.4f %9lld\n", w, w, cli_class_name(ds, c, buf, sizeof buf),
               cs[c].precision, cs[c].recall, cs[c].f1, (long long)cs[c].support);
        mp += cs[c].precision; mr += cs[c].recall; mf += cs[c].f1;
        wp += cs[c].precision * (double)cs[c].support;
        wr += cs[c].recall * (double)cs[c].support;
        wf += cs[c].f1 * (double)cs[c].support;
        total += cs[c].support;
    }
    if (k > 0) {
        printf("%-*s %9.4f %9.4f %9.4f %9lld\n", w, "macro avg", mp / k, mr / k, mf / k, (long long)total);
        double t = total ? (double)total : 1.0;
        printf("%-*s %9.4f %9.4f %9.4f %9lld\n", w, "weighted avg", wp / t, wr / t, wf / t, (long long)total);
    }

    if (k > MAX_PRINTED_CONFUSION) {
        printf("\nconfusion matrix: %d classes, too many to print (use --json)\n", k);
        return;
    }
    /* Column width from the largest count. */
    int64_t mx = 0;
    for (int64_t i = 0; i < (int64_t)k * k; i++) if (r->confusion[i] > mx) mx = r->confusion[i];
    int cw = snprintf(buf, sizeof buf, "%lld", (long long)mx);
    if (cw < 3) cw = 3;
    int lw = snprintf(buf, sizeof buf, "%d", k - 1);
    if (lw < 4) lw = 4;
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%*s", lw, "");
    for (int j = 0; j < k; j++) printf(" %*d", cw, j);
    printf("\n");
    for (int c = 0; c < k; c++) {
        printf("%*d", lw, c);
        for (int j = 0; j < k; j++) printf(" %*lld", cw, (long long)r->confusion[(int64_t)c * k + j]);
        if (ds && ds->class_names && c < ds->n_classes) printf("  %s", cli_class_name(ds, c, buf, sizeof buf));
        printf("\n");
    }
}

/* Text tasks: one JSON line or a short text report. */
static int print_text_task(const ft_eval_result *r, const ft_dataset *ds, bool json, const char *model, const char *data) {
    ft_task task = (ft_task)r->task;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "task", json_string(ft_task_name(task)));
        json_object_set_new(o, "loss", jnum(r->loss));
        json_object_set_new(o, "examples", json_integer(r->examples));
        if (task == FT_TASK_SEQ_CLS) {
            json_object_set_new(o, "accuracy", jnum(r->accuracy));
            json_object_set_new(o, "macro_f1", jnum(r->macro_f1));
        } else if (task == FT_TASK_TOKEN_CLS) {
            json_object_set_new(o, "entity_precision", jnum(r->entities.precision));
            json_object_set_new(o, "entity_recall", jnum(r->entities.recall));
            json_object_set_new(o, "entity_f1", jnum(r->entities.f1));
            json_object_set_new(o, "entity_macro_f1", jnum(r->entities.macro_f1));
            json_object_set_new(o, "tag_accuracy", jnum(r->accuracy));
            json_object_set_new(o, "tokens", json_integer(r->n));
            json_t *pt = json_array();
            for (int k = 0; k < r->entities.n_types; k++) {
                const ft_entity_type_metrics *t = &r->entities.types[k];
                json_t *e = json_object();
                json_object_set_new(e, "type", json_string(t->type));
                json_object_set_new(e, "precision", jnum(t->precision));
                json_object_set_new(e, "recall", jnum(t->recall));
                json_object_set_new(e, "f1", jnum(t->f1));
                json_object_set_new(e, "support", json_integer(t->n_true));
                json_object_set_new(e, "predicted", json_integer(t->n_pred));
                json_array_append_new(pt, e);
            }
            json_object_set_new(o, "per_type", pt);
        } else {
            json_object_set_new(o, "perplexity", jnum(r->perplexity));
            json_object_set_new(o, "token_accuracy", jnum(r->accuracy));
            json_object_set_new(o, "tokens", json_integer(r->n));
        }
        if (r->confusion && task == FT_TASK_SEQ_CLS) {
            json_t *pc = json_array();
            class_stats *cs = calloc((size_t)r->n_classes, sizeof *cs);
            if (cs) ft_confusion_metrics(r->confusion, r->n_classes, cs);
            char buf[32];
            for (int c = 0; cs && c < r->n_classes; c++) {
                json_t *e = json_object();
                json_object_set_new(e, "name", json_string(cli_class_name(ds, c, buf, sizeof buf)));
                json_object_set_new(e, "precision", jnum(cs[c].precision));
                json_object_set_new(e, "recall", jnum(cs[c].recall));
                json_object_set_new(e, "f1", jnum(cs[c].f1));
                json_object_set_new(e, "support", json_integer(cs[c].support));
                json_array_append_new(pc, e);
            }
            free(cs);
            json_object_set_new(o, "per_class", pc);
        }
        char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        json_decref(o);
        if (!text) { fprintf(stderr, "finetune: out of memory writing JSON\n"); return CLI_FAIL; }
        printf("%s\n", text);
        free(text);
        return CLI_OK;
    }
    printf("model:     %s\n", model);
    printf("data:      %s (%lld examples, task %s)\n", data, (long long)r->examples, ft_task_name(task));
    printf("loss:      %.4f\n", r->loss);
    if (task == FT_TASK_SEQ_CLS) {
        printf("accuracy:  %.4f (%lld/%lld)\n", r->accuracy, (long long)r->correct, (long long)r->n);
        printf("macro F1:  %.4f\n", r->macro_f1);
    } else if (task == FT_TASK_TOKEN_CLS) {
        printf("entities:  precision %.4f, recall %.4f, F1 %.4f (seqeval, micro); macro F1 %.4f\n", r->entities.precision,
               r->entities.recall, r->entities.f1, r->entities.macro_f1);
        printf("tags:      accuracy %.4f over %lld words\n\n", r->accuracy, (long long)r->n);
        printf("%-12s %9s %9s %9s %9s\n", "type", "precision", "recall", "f1", "support");
        for (int k = 0; k < r->entities.n_types; k++) {
            const ft_entity_type_metrics *t = &r->entities.types[k];
            printf("%-12.12s %9.4f %9.4f %9.4f %9lld\n", t->type, t->precision, t->recall, t->f1, (long long)t->n_true);
        }
    } else {
        printf("perplexity: %.4f over %lld tokens (next-token accuracy %.4f)\n", r->perplexity, (long long)r->n, r->accuracy);
    }
    return CLI_OK;
}

int cmd_eval(int argc, char **argv) {
    ft_run_config rd = ft_run_defaults();
    const char *model = NULL, *data = NULL, *report = NULL, *task_name = NULL, *tokenizer = NULL, *frontend = NULL;
    int64_t frontend_window = 76, frontend_hop = 8;
    int64_t batch = 256, threads = 2, workers = rd.workers, max_len = 128, pad_multiple = FT_TEXT_PAD_MULTIPLE;
    bool json = false, kws_flag = false, pad_to_dataset = false;
    double threshold = 0.5;
    const char *keywords = NULL, *negatives = NULL;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "model directory or checkpoint", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "data", ARG_STRING, &data, "SPEC", "dataset spec (csv:<path>, idx:<images>,<labels>, fashion-mnist:<dir>[:train|test], mnist-json:<dir>[:offset:per_class], images:<dir>[:size[:resize]], manifest:<file>[:size[:resize]])", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "batch", ARG_INT, &batch, "N", "evaluation batch size", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "report", ARG_STRING, &report, "DIR", "also write DIR/eval.html and DIR/confusion.png (the confusion matrix as an image; e.g. the run directory)", 0, 0, 0, NULL, "none", false },
        { "json", ARG_BOOL, &json, NULL, "print one JSON object line on stdout (loss, accuracy, top5, n, per_class, confusion)", 0, 0, 0, NULL, "off", false },
        { "task", ARG_STRING, &task_name, "seq-cls|token-cls|lm|ctc|asr", "text task, or ctc (asr) for speech recognition (default: from the data spec)", 0, 0, 0, "seq-cls|token-cls|lm|ctc|asr", "from the data", false },
        { "tokenizer", ARG_STRING, &tokenizer, "PATH", "text: the model's tokenizer", 0, 0, 0, NULL, "the one train used", false },
        { "max-len", ARG_INT, &max_len, "N", "text: tokens per example (longer ones are truncated; lm: block length)", ARG_MIN | ARG_MAX, 2, 1 << 20, NULL, NULL, false },
        { "pad-multiple", ARG_INT, &pad_multiple, "N", "text: pad each batch (examples taken longest first) to its longest row rounded up to a multiple of N", ARG_MIN | ARG_MAX, 1, 4096, NULL, NULL, false },
        { "pad-to-dataset", ARG_BOOL, &pad_to_dataset, NULL, "text: pad every batch to the longest row of the data, in file order", 0, 0, 0, NULL, "off", false },
        { "kws", ARG_BOOL, &kws_flag, NULL, "keyword spotting: per keyword (one vs the rest) false-reject and false-accept rates at --threshold, EER and DET curves (--report: det.svg)", 0, 0, 0, NULL, "off", false },
        { "threshold", ARG_FLOAT, &threshold, "P", "keyword spotting: a clip is accepted for a keyword when its probability is >= P (implies --kws)", ARG_MIN | ARG_MAX, 0, 1, NULL, NULL, false },
        { "keywords", ARG_STRING, &keywords, "LIST", "keyword spotting: the classes that are keywords, comma-separated names or indices (implies --kws)", 0, 0, 0, NULL, "all classes", false },
        { "negatives", ARG_STRING, &negatives, "SPEC", "keyword spotting: extra clips without any keyword (noise, silence), a dataset spec whose labels are ignored (implies --kws)", 0, 0, 0, NULL, "none", false },
        { "frontend", ARG_STRING, &frontend, "PATH", "ctc: the frozen front-end model the model was trained on (as train --frontend)", 0, 0, 0, NULL, "none", false },
        { "frontend-window", ARG_INT, &frontend_window, "N", "ctc: frames per front-end window", ARG_MIN, 1, 0, NULL, NULL, false },
        { "frontend-hop", ARG_INT, &frontend_hop, "N", "ctc: frames between front-end windows", ARG_MIN, 1, 0, NULL, NULL, false },
        { "threads", ARG_INT, &threads, "N", "compute threads (OpenMP + BLAS)", ARG_MIN | ARG_MAX, 1, 1024, NULL, NULL, false },
        { "workers", ARG_INT, &workers, "N", "data-loader threads (0 = load in the main thread)", ARG_MIN | ARG_MAX, 0, 256, NULL, NULL, false },
    };
    args_ctx a = { "eval", "--model PATH --data SPEC [options]",
                   "Evaluate a trained model: loss, accuracy, top-5 (more than 5 classes), per-class\n"
                   "precision/recall/F1 and the confusion matrix (--report: also as an image).",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    bool kws = kws_flag || keywords || negatives || (rc == ARGS_OK && args_was_set(&a, "threshold"));
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_model *m = NULL;
    ft_dataset *ds = NULL, *neg = NULL;
    ft_eval_result r;
    memset(&r, 0, sizeof r);
    ft_kws_metrics km;
    memset(&km, 0, sizeof km);
    int *kw_idx = NULL, n_kw = 0;
    class_stats *cs = NULL;
    char **names = NULL, **labels = NULL;
    ft_tokenizer *tok = NULL;
    ft_status st;
    ft_set_num_threads((int)threads);
    ft_task task = FT_TASK_CLASSIFY;
    bool ctc = cli_is_ctc(task_name, data);
    if (task_name && !ctc && (st = ft_task_parse(task_name, &task))) goto done;
    if (!task) task = ft_text_spec_task(data);
    if ((st = cli_load_model(model, false, 0, &m, NULL))) goto done;
    if (task && kws) { st = ft_fail(FT_EINVAL, "--kws is for clip classification, not the text task %s", ft_task_name(task)); goto done; }
    if (ctc && kws) { st = ft_fail(FT_EINVAL, "--kws is for clip classification, not speech recognition (ctc)"); goto done; }
    if (ctc) { /* speech recognition: the model's vocabulary is the fixed set */
        if (!(labels = cli_ctc_model_vocab(m))) {
            st = ft_fail(FT_EINVAL, "model %s has no CTC vocabulary (labels starting with \"%s\"): train it with ctc: data",
                         model, FT_CTC_BLANK_NAME);
            goto done;
        }
        cli_frontend fe = {frontend, frontend_window, frontend_hop};
        if ((st = cli_open_ctc(data, m, &fe, (const char *const *)labels, m->n_classes, false, &ds))) goto done;
        if ((st = ft_evaluate(m, ds, batch, (int)workers, &r))) goto done;
        if (json) {
            printf("{\"loss\": %.9g, \"wer\": %.9g, \"cer\": %.9g, \"exact\": %.9g, \"n\": %lld, \"word_edits\": %lld, "
                   "\"words\": %lld, \"char_edits\": %lld, \"chars\": %lld}\n",
                   r.loss, r.wer, r.cer, r.accuracy, (long long)r.examples, (long long)r.word_edits, (long long)r.words,
                   (long long)r.char_edits, (long long)r.chars);
        } else {
            printf("model:     %s\n", model);
            printf("data:      %s (%lld utterances, task ctc)\n", data, (long long)r.examples);
            printf("loss:      %.4f\n", r.loss);
            printf("WER:       %.4f (%lld edits / %lld words)\n", r.wer, (long long)r.word_edits, (long long)r.words);
            printf("CER:       %.4f (%lld edits / %lld characters)\n", r.cer, (long long)r.char_edits, (long long)r.chars);
            printf("exact:     %.4f (%lld/%lld utterances)\n", r.accuracy, (long long)r.correct, (long long)r.examples);
        }
        goto done;
    }
    if (task) { /* text: the model's labels are the fixed set (a label it never saw is an error) */
        char used[4096];
        if ((st = cli_find_tokenizer(tokenizer, model, m, &tok, used, sizeof used))) goto done;
        ft_text_opts to;
        memset(&to, 0, sizeof to);
        to.tok = tok;
        to.max_len = cli_text_max_len(m, max_len);
        if (task != FT_TASK_LM && (labels = ft_model_labels(m))) {
            to.labels = (const char *const *)labels;
            to.n_labels = m->n_classes;
        }
        if ((st = ft_dataset_open_text(data, task, &to, &ds))) goto done;
        ft_text_batching tb = {pad_to_dataset, (int)pad_multiple, false};
        if ((st = ft_evaluate_text_batching(m, ds, batch, (int)workers, &tb, &r))) goto done;
        if (!json) cli_print_text_note(ds, data, to.max_len);
        rc = print_text_task(&r, ds, json, model, data);
        goto done;
    }
    ft_image_opts img = ft_model_image_opts(m);
    if ((st = ft_dataset_open_with(data, &img, &ds))) goto done;
    if ((st = cli_check_input(m, ds, data))) goto done;
    if (kws) {
        if (!(names = cli_class_names(ds, m, m->n_classes))) {
            st = ft_fail(FT_ENOMEM, "out of memory for %d class names", m->n_classes);
            goto done;
        }
        if ((st = cli_kws_parse_keywords(keywords, names, m->n_classes, &kw_idx, &n_kw))) goto done;
        if (negatives) {
            if ((st = ft_dataset_open_with(negatives, &img, &neg))) goto done;
            if ((st = cli_check_input(m, neg, negatives))) goto done;
        }
        st = cli_kws_evaluate(m, ds, neg, batch, (int)workers, kw_idx, n_kw, (float)threshold, &r, &km);
    } else {
        st = ft_evaluate(m, ds, batch, (int)workers, &r);
    }
    if (st) goto done;
    if (r.n_classes < 1 || !r.confusion) {
        st = ft_fail(FT_EINVAL, "evaluation of '%s' returned no confusion matrix", data);
        goto done;
    }
    if (!(cs = calloc((size_t)r.n_classes, sizeof *cs))) {
        st = ft_fail(FT_ENOMEM, "out of memory for %d classes", r.n_classes);
        goto done;
    }
    ft_confusion_metrics(r.confusion, r.n_classes, cs);
    if (report) {
        if (!names && !(names = cli_class_names(ds, m, r.n_classes))) {
            st = ft_fail(FT_ENOMEM, "out of memory for %d class names", r.n_classes);
            goto done;
        }
        char title[1024];
        snprintf(title, sizeof title, "model %s on %s", model, data);
        if ((st = ft_eval_report_write_kws(report, &r, (const char *const *)names, title, kws ? &km : NULL))) goto done;
    }
    if (json) rc = print_json(&r, cs, ds, kws ? &km : NULL, names);
    else print_text(&r, cs, ds, model, data);
    if (kws && !json) cli_kws_print(&km, names);
    if (report)
        fprintf(json ? stderr : stdout, "%sreport:    %s/eval.html, %s/confusion.png%s%s%s\n", json ? "" : "\n", report, report,
                kws ? ", " : "", kws ? report : "", kws ? "/det.svg" : "");

done:
    if (st) rc = cli_lib_error();
    free(cs);
    cli_class_names_free(names, m ? m->n_classes : r.n_classes);
    ft_kws_metrics_free(&km);
    ft_free(kw_idx);
    ft_dataset_free(neg);
    ft_eval_result_free(&r);
    ft_dataset_free(ds);
    if (m) ft_model_labels_free(labels, m->n_classes);
    ft_model_free(m);
    ft_tokenizer_free(tok);
    return rc;
}
