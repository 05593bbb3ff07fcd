/* Internal: the runner's CTC graphs and WER/CER evaluation (ctc_task.c). */
#ifndef FT_TRAIN_CTC_TASK_H
#define FT_TRAIN_CTC_TASK_H
#include "finetune/runner.h"

typedef struct {
    int64_t n, F, S, T, C;      /* batch, feature values per example, target capacity, frames out, classes */
    ft_node *x, *tg, *il, *tl;  /* inputs: features [n, model input], targets I32 [n,S], lengths I32 [n] */
    ft_node *logits, *loss;     /* logits [n, T, C]; loss = CTC (mean over the batch, zero_infinity) */
} ft_ctc_graph;

/* The model's per-frame logits and the CTC loss for a batch of n examples of a CTC dataset
 * (speech.h) whose examples hold x_numel values. Every frame of the model's output counts
 * (utterances are padded to one length; the padding is transcribed as blanks). */
void ft_ctc_graph_build(ft_model *m, ft_graph *g, int64_t n, int64_t x_numel, bool training, ft_ctc_graph *cg);
ft_status ft_ctc_graph_set(const ft_ctc_graph *cg, const float *x, int64_t n);
ft_status ft_ctc_check_data(const ft_model *m, const ft_dataset *ds);

typedef struct ft_ctc_eval ft_ctc_eval;
ft_status ft_ctc_eval_new(const ft_model *m, const ft_dataset *ds, ft_ctc_eval **out);
ft_status ft_ctc_eval_add(ft_ctc_eval *e, const ft_ctc_graph *cg, const float *x, int64_t n);
/* Fills res (zeroed by the caller) and frees e. */
ft_status ft_ctc_eval_finish(ft_ctc_eval *e, ft_eval_result *res);
void ft_ctc_eval_free(ft_ctc_eval *e);
#endif
