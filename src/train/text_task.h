/* Internal: the runner's text-task graphs and metrics (text_task.c). */
#ifndef FT_TRAIN_TEXT_TASK_H
#define FT_TRAIN_TEXT_TASK_H
#include "finetune/runner.h"

typedef struct {
    int task;
    int64_t n, T;
    ft_node *ids, *mask, *tgt, *y; /* inputs: I32 ids, F32 mask, I32 targets (y: seq-cls labels) */
    ft_node *logits, *loss;
} ft_text_graph;

/* Adds the inputs, the model's text forward and the loss for a batch of n examples of length T
 * (seq-cls: cross-entropy of [n, labels] against y; token-cls/lm: of [n, T, labels|vocab]
 * against the per-token targets, FT_IGNORE_INDEX skipped). */
void ft_text_graph_build(ft_model *m, ft_graph *g, int task, int64_t n, int64_t T, bool training, float smoothing,
                         ft_text_graph *tg);
/* Copies a batch (x: n examples of I32 [3, T_src], T_src >= tg->T, as the dataset gives them)
 * into the planned graph's inputs: the first tg->T positions of each row (the rest must be
 * padding: the runner pads a batch to its longest row). */
void ft_text_graph_set(const ft_text_graph *tg, const int32_t *x, int64_t T_src, const int32_t *y, int64_t n);
/* The padded length of a batch (x: n examples of I32 [3, T]): its longest row (the last real
 * position of the mask), rounded up to a multiple of `multiple`, at most T. */
int64_t ft_text_batch_len(const int32_t *x, int64_t T, int64_t n, int multiple);
/* The length of each example of a text dataset (its last real position + 1), for grouping. */
ft_status ft_text_lengths(ft_dataset *ds, int64_t **out);
/* Checks that a text dataset suits the model (a text model whose head serves the task, labels
 * within the head, sequence length within the positions). */
ft_status ft_text_check_data(const ft_model *m, const ft_dataset *ds);

/* Evaluation state for one pass over a text dataset. */
typedef struct ft_text_eval ft_text_eval;
ft_status ft_text_eval_new(const ft_model *m, const ft_dataset *ds, ft_text_eval **out);
/* x: the batch as the dataset gives it (I32 [3, T] per example, T the dataset's); the graph's
 * logits may cover a shorter length (tg->T), the rest being padding. */
ft_status ft_text_eval_add(ft_text_eval *e, const ft_text_graph *tg, const int32_t *x, const int32_t *y, int64_t n);
/* Fills res (which must have been zeroed) and frees e. */
ft_status ft_text_eval_finish(ft_text_eval *e, ft_eval_result *res);
void ft_text_eval_free(ft_text_eval *e);
#endif
