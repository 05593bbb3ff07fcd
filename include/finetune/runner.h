/* finetune runner: the train/eval loop, checkpoints, metrics log and report. */
#ifndef FINETUNE_RUNNER_H
#define FINETUNE_RUNNER_H

#include "core.h"
#include "model.h"
#include "train.h"
#include "tasks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Text tasks (seq-cls, token-cls, lm): how batches are padded and ordered (docs/data.md,
 * "Padding and batches"). By default each batch is padded only to its own longest row, rounded
 * up to a multiple of FT_TEXT_PAD_MULTIPLE (at most the dataset's T), so a batch of short
 * sentences costs little; the graph per (batch size, length) is cached. Padding never changes a
 * loss or a metric (padded keys are masked, padded positions have no target), only the cost. */
#define FT_TEXT_PAD_MULTIPLE 8
typedef struct {
    bool pad_to_dataset;   /* pad every batch to the dataset's T (its longest row), as a fixed-shape run does */
    int pad_multiple;      /* round a batch's length up to a multiple of this (1 = exact; 0 = FT_TEXT_PAD_MULTIPLE) */
    /* Training only: Hugging Face's group_by_length. The shuffled order is cut into mega-batches
     * of 50 batches, each sorted by length (longest first), so a batch holds rows of similar
     * length and pads little; which rows meet in a mega-batch is still random each epoch.
     * Evaluation always takes its examples longest first when padding per batch. */
    bool group_by_length;
} ft_text_batching;

typedef struct {
    const char *out_dir;        /* run directory: metrics.jsonl, report.html, checkpoints */
    int epochs;
    int64_t max_steps;          /* stop after this many optimizer steps (0 = no limit) */
    int64_t batch_size;
    int accum_steps;            /* micro-batches per optimizer step (>= 1) */
    float clip_norm;            /* 0 = off */
    ft_optim_config optim;
    ft_schedule sched;          /* total_steps 0 = derived from epochs */
    uint64_t seed;
    int workers;                /* loader threads */
    int patience;               /* early stopping: epochs without val improvement (0 = off) */
    int64_t checkpoint_every;   /* also checkpoint every N steps (0 = end of each epoch only) */
    const char *resume;         /* checkpoint to resume from, or NULL */
    int progress;               /* 1 = bar (tty), 0 = plain lines, -1 = silent */
    float label_smoothing;
    /* Feature cache: when a trainable parameter is first used downstream of a frozen part
     * of the graph (ft_graph_frozen_frontier: e.g. only the head trains, batch norm on
     * running statistics) and the training data is not augmented (ds->augments false),
     * the first epoch stores each example's frontier activations (and ft_train's
     * validation set its own), and later epochs feed them to a graph that runs only what
     * follows the frontier. The results equal those without the cache (to float rounding).
     * Memory: n_examples x frontier floats x 4 bytes per set, refused (with a note, the
     * run continues uncached) above feature_cache_max_bytes (0 = 2 GiB). */
    bool no_feature_cache;
    int64_t feature_cache_max_bytes;
    ft_text_batching text;      /* text tasks: padding per batch and length grouping */
} ft_run_config;

ft_run_config ft_run_defaults(void);

typedef struct {
    double loss, accuracy, top5;
    int64_t n, correct;
    int n_classes;
    int64_t *confusion;         /* n_classes x n_classes (true row, predicted col), owned;
                                 * NULL for lm (a vocabulary-sized matrix says nothing) */
    /* Text tasks (ds->task, tasks.h). token-cls and lm: loss, accuracy and the confusion
     * matrix are per scored token (n, correct count tokens). */
    int task;
    int64_t examples;           /* examples evaluated */
    double macro_f1;            /* seq-cls: over classes; token-cls: over tags */
    ft_entity_metrics entities; /* token-cls: seqeval entity metrics (owned) */
    double perplexity;          /* lm: exp(mean token loss) */
    double score;               /* what training keeps the best of: accuracy, entity F1 (token-cls),
                                 * -loss (lm) or 1 - WER (ctc) */
    /* ctc (speech recognition): corpus word and character error rates of greedy decoding
     * (speech.h); accuracy is the share of utterances transcribed exactly. */
    double wer, cer;
    int64_t word_edits, words, char_edits, chars;
} ft_eval_result;
void ft_eval_result_free(ft_eval_result *r);

/* Per-class metrics of a k x k confusion matrix (rows: true class, columns: predicted).
 * A class never predicted has precision 0 and one never present recall 0, and F1 is 0
 * when both are 0 (sklearn's zero_division=0). */
typedef struct {
    double precision, recall, f1;
    int64_t support;    /* examples of the class (row sum) */
    int64_t predicted;  /* examples predicted as the class (column sum) */
} ft_class_metrics;
void ft_confusion_metrics(const int64_t *confusion, int k, ft_class_metrics *out);

/* The confusion matrix as a PNG heatmap (libpng, 8-bit RGB, written atomically): k x k
 * square cells of `cell` pixels, so the image is k*cell pixels a side; each cell's colour
 * goes from white (0) to dark blue (the whole row), i.e. rows are normalised by their
 * support. Cells of 4 pixels or more get a one-pixel grey border on their right/bottom. */
ft_status ft_confusion_png_write(const char *path, const int64_t *confusion, int k, int cell);
/* The cell size the eval report uses: 512 / k pixels, clamped to [1, 48]. */
int ft_confusion_png_cell(int k);
/* <dir>/eval.html (loss, accuracy, top-5, per-class precision/recall/F1, the confusion
 * matrix as <dir>/confusion.png and, up to 100 classes, as a table of counts) for `r`.
 * names: n_classes class names (NULL, or NULL entries: the index). dir is created. */
ft_status ft_eval_report_write(const char *dir, const ft_eval_result *r, const char *const *names, const char *title);
/* The same, plus (kws non-NULL) a keyword-spotting section: per keyword the false-reject and
 * false-accept rates at the threshold and the EER, and the DET curves as <dir>/det.svg
 * (ft_kws_det_svg_write). */
struct ft_kws_metrics_s;
ft_status ft_eval_report_write_kws(const char *dir, const ft_eval_result *r, const char *const *names, const char *title,
                                   const struct ft_kws_metrics_s *kws);

typedef struct {
    int64_t steps;
    int epochs_done;
    double final_train_loss;
    double best_val_accuracy;   /* best validation score (accuracy; text tasks F1, 1/perplexity; CTC 1 - WER, which can be negative) */
    int best_epoch;
    bool interrupted;           /* SIGINT/SIGTERM: checkpoint written, resumable */
    bool early_stopped;
    bool feature_cache;         /* the training set's frozen features were cached (see ft_run_config) */
    /* Text tasks: over the training steps run, real tokens and the positions computed (batch
     * rows x padded length), so 1 - real_tokens / positions is the share spent on padding. */
    int64_t real_tokens, positions;
} ft_run_result;

/* Train m on `train`, evaluating on `val` (may be NULL) after each epoch. Writes
 * <out_dir>/checkpoint.safetensors (resumable, atomic), best.safetensors (best val),
 * metrics.jsonl and report.html. Returns FT_EINTR after a clean interrupt. */
ft_status ft_train(ft_model *m, ft_dataset *train, ft_dataset *val, const ft_run_config *cfg, ft_run_result *res);
ft_status ft_evaluate(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, ft_eval_result *res);
/* ft_evaluate with the text batching of tb (NULL: the defaults, as ft_evaluate). */
ft_status ft_evaluate_text_batching(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, const ft_text_batching *tb,
                                    ft_eval_result *res);
/* ft_evaluate that also writes each example's class probabilities (softmax of the logits)
 * to probs (ds->n x n_classes, by dataset index) and its label to labels (ds->n; may be
 * NULL); one class per example only. */
ft_status ft_evaluate_probs(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, ft_eval_result *res,
                            float *probs, int32_t *labels);
/* Class probabilities for one example (n_classes floats). */
ft_status ft_predict_one(ft_model *m, const void *x, float *probs);

/* Checkpoint = safetensors: "model.<name>" values, "optim.<k>.<name>" optimizer state,
 * metadata: config, step, epoch, batch position, seed, optimizer and schedule. */
typedef struct {
    int64_t step, epoch, batch_in_epoch;
    uint64_t seed;
    double best_val;
    double best_val_loss;       /* validation loss at best_val: equal accuracy with a lower loss is better */
    int best_epoch;
    int bad_epochs;
} ft_train_state;
ft_status ft_checkpoint_save(const char *path, const ft_model *m, ft_optimizer *opt, const ft_train_state *st);
ft_status ft_checkpoint_load(const char *path, ft_model *m, ft_optimizer *opt, ft_train_state *st);

/* Installs SIGINT/SIGTERM handlers that set a flag the loop polls between steps. */
void ft_install_signal_handlers(void);
bool ft_interrupted(void);
void ft_request_interrupt(void); /* for tests */

#ifdef __cplusplus
}
#endif
#endif
