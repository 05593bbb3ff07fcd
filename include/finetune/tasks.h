/* finetune tasks: text datasets for sequence classification, token classification (NER) and
 * causal language modelling, and their metrics (docs/data.md, docs/tasks.md).
 *
 * A text dataset is an ordinary ft_dataset (so shuffling, subsets, splits and the prefetching
 * loader work unchanged) whose example i is I32 [3, T]:
 *   row 0  token ids, padded with the tokenizer's pad id (GPT-2: <|endoftext|>)
 *   row 1  attention mask: 1 on real tokens (special tokens included), 0 on padding
 *   row 2  per-token targets, FT_IGNORE_INDEX (-100) where nothing is scored:
 *            seq-cls    all -100 (the class is the example's label y)
 *            token-cls  the word's tag on the first sub-token of each word, -100 elsewhere
 *            lm         the next token (row 0 shifted left by one), -100 on padding
 * and ds->task says which. */
#ifndef FINETUNE_TASKS_H
#define FINETUNE_TASKS_H

#include "core.h"
#include "train.h"
#include "text.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FT_IGNORE_INDEX (-100)

typedef enum {
    FT_TASK_CLASSIFY = 0, /* one class per example (images, tabular): the default */
    FT_TASK_SEQ_CLS,      /* text -> one class */
    FT_TASK_TOKEN_CLS,    /* words -> one tag each (NER) */
    FT_TASK_LM,           /* causal language modelling */
    FT_TASK_CTC,          /* features -> a transcript, CTC loss (speech recognition; speech.h) */
} ft_task;
const char *ft_task_name(ft_task t); /* "classify", "seq-cls", "token-cls", "lm", "ctc" ("asr" parses too) */
ft_status ft_task_parse(const char *name, ft_task *out);

typedef struct {
    const ft_tokenizer *tok;   /* required; must outlive the dataset */
    int64_t max_len;           /* tokens per example, special tokens included (> 1). seq-cls and
                                * token-cls: longer rows are truncated (tail dropped, closing
                                * [SEP]/EOS kept) and counted in the note; T = the longest row
                                * after truncation. lm: the block length T. */
    /* Fixed label set (e.g. the training data's or the model's): a label outside it is an
     * error naming file:line. NULL: the labels found in the data (all integers >= 0: "0".."max";
     * otherwise the sorted distinct names; token-cls: sorted tags with "O" first). */
    const char *const *labels;
    int n_labels;
    /* seq-cls / lm from TSV/CSV: the text and label columns, by header name or 0-based index
     * (NULL: auto, see docs/data.md). */
    const char *text_col, *label_col;
} ft_text_opts;

/* Spec strings: "seq-cls:<file>", "token-cls:<file>", "lm:<file>". The task of a spec, or
 * FT_TASK_CLASSIFY when it is not a text spec. */
ft_task ft_text_spec_task(const char *spec);
/* Opens a text spec. A path without a task prefix takes `task` (FT_TASK_CLASSIFY: fail). */
ft_status ft_dataset_open_text(const char *spec, ft_task task, const ft_text_opts *o, ft_dataset **out);
/* The same from memory; `name` is the file name used in messages (its extension picks the
 * format: .tsv, .csv, .jsonl/.json; anything else is plain text (lm) or CoNLL (token-cls)). */
ft_status ft_dataset_text_mem(ft_task task, const char *data, size_t len, const char *name, const ft_text_opts *o,
                              ft_dataset **out);

/* Summary of a text dataset (FT_EINVAL for others, subsets included). */
typedef struct {
    ft_task task;
    int64_t rows;            /* lines/records read (seq-cls, lm) or sentences (token-cls) */
    int64_t tokens;          /* real tokens over all examples (lm: the packed stream) */
    int64_t truncated;       /* examples that lost tokens to max_len */
    int64_t words_dropped;   /* token-cls: words cut off by truncation (not scored) */
    int64_t invalid_utf8;    /* rows with invalid UTF-8 (each maximal invalid run -> U+FFFD) */
    int64_t seq_len;         /* T */
    char first_invalid[160]; /* "file:line" of the first row with invalid UTF-8 */
} ft_text_counts;
ft_status ft_text_dataset_counts(const ft_dataset *ds, ft_text_counts *out);

/* ---------------- models ---------------- */

/* A text model: bert, gpt2, or an architecture with the sequence-model interface (llama). */
bool ft_model_is_text(const ft_model *m);
/* The text task the model's head serves (FT_TASK_CLASSIFY: none, e.g. a bare BertModel). */
ft_task ft_model_text_head(const ft_model *m);
/* A copy of m with a head for `task`: seq-cls / token-cls get a fresh seeded head for n_labels
 * (Hugging Face names: bert "classifier", gpt2/llama "score"; the trunk is copied by name), lm
 * keeps the LM head. bidirectional (decoders with the sequence-model interface only): attention
 * without the causal mask, recorded in the config. */
ft_status ft_model_for_task(const ft_model *m, ft_task task, int n_labels, bool bidirectional, uint64_t seed, ft_model **out);

/* ---------------- metrics ---------------- */

/* Entity-level precision/recall/F1 as seqeval computes them in its default mode
 * (seqeval.metrics.classification_report / f1_score without a scheme): entities come from
 * seqeval's get_entities (prefix tags B-/I-/E-/S-, "O"; IOB1 and IOB2 both read, an I- after
 * O or after another type starts an entity) over the sentences joined with "O" between
 * them; a predicted entity is correct when its type, start and end all equal a true one. */
typedef struct {
    char type[32];           /* entity type ("PER"), truncated to 31 bytes */
    int64_t tp, n_pred, n_true;
    double precision, recall, f1;
} ft_entity_type_metrics;

typedef struct {
    int n_types;             /* types in the truth or the predictions, sorted by name */
    ft_entity_type_metrics *types; /* owned */
    int64_t tp, n_pred, n_true;
    double precision, recall, f1;  /* micro average over all types (seqeval's headline f1) */
    double macro_f1;               /* unweighted mean over the types */
} ft_entity_metrics;

/* Accumulates tagged sentences. Tags are given as strings (tag_names[id]). */
typedef struct ft_entity_counter ft_entity_counter;
ft_status ft_entity_counter_new(ft_entity_counter **out);
void ft_entity_counter_free(ft_entity_counter *c);
/* One sentence of n words: true and predicted tags (strings). */
ft_status ft_entity_counter_add(ft_entity_counter *c, const char *const *truth, const char *const *pred, int64_t n);
ft_status ft_entity_counter_result(const ft_entity_counter *c, ft_entity_metrics *out);
void ft_entity_metrics_free(ft_entity_metrics *m);

/* Macro-F1 of a confusion matrix (rows: true), as sklearn's f1_score(average="macro",
 * zero_division=0): the mean over the classes present in the truth or the predictions. */
double ft_macro_f1(const int64_t *confusion, int k);

#ifdef __cplusplus
}
#endif
#endif
