/* finetune CLI: the commands and the helpers they share.
 *
 * Exit codes: 0 success, 1 a library failure ("finetune: <ft_errmsg()>" on stderr),
 * 2 a usage error (one line naming the flag, see args.h), 130 training interrupted. */
#ifndef FT_CLI_H
#define FT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "finetune.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

/* Each command gets argv with argv[0] = the command name; returns the exit code. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Print "finetune: <ft_errmsg()>" to stderr and return CLI_FAIL. */
int cli_lib_error(void);

typedef enum { CLI_MODEL_CONFIG, CLI_MODEL_DIR, CLI_MODEL_CHECKPOINT, CLI_MODEL_IMPORTED } cli_model_kind;

/* Load --model: a config JSON file (path ends in ".json": a new model, seeded init, only
 * when allow_config), a model directory or a checkpoint (ft_model_load). The message of a
 * failure names the path. kind may be NULL. */
ft_status cli_load_model(const char *path, bool allow_config, uint64_t seed, ft_model **out,
                         cli_model_kind *kind);
const char *cli_model_kind_name(cli_model_kind k);

/* Fails (FT_ESHAPE, message naming both) when the dataset's examples cannot be the
 * model's input: the dtype or the number of elements per example differs. */
ft_status cli_check_input(const ft_model *m, const ft_dataset *ds, const char *spec);

/* ---- text tasks (text_cli.c) ---- */
/* A tokenizer file or directory: a directory (Hugging Face files), *.json (tokenizer.json),
 * *.txt (BERT vocab.txt, lower-cased), anything else a llama2.c tokenizer.bin. */
ft_status cli_load_tokenizer_path(const char *path, ft_tokenizer **out);
/* The model's tokenizer: --tokenizer (flag, may be NULL), else the model directory's files,
 * else the path its config remembers ("tokenizer", written by train), else a llama2.c
 * tokenizer.bin or tok<vocab>.bin next to the model file. `used` receives the path. */
ft_status cli_find_tokenizer(const char *flag, const char *model_path, const ft_model *m, ft_tokenizer **out, char *used,
                             size_t cap);
/* Records the tokenizer's absolute path in the model's config ("tokenizer"). */
ft_status cli_remember_tokenizer(ft_model *m, const char *used);
/* want, capped at the model's positions. */
int64_t cli_text_max_len(const ft_model *m, int64_t want);
/* Indented lines about truncation and invalid UTF-8 of a text dataset (nothing if clean). */
void cli_print_text_note(const ft_dataset *ds, const char *spec, int64_t max_len);

/* "[16, 4]" */
void cli_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape);
/* Class c's name from the dataset's class names, else its index. */
const char *cli_class_name(const ft_dataset *ds, int c, char *buf, size_t cap);
/* k class names: the dataset's (ds may be NULL), else the model's labels (m may be
 * NULL), else the index. ft_malloc'd; NULL when out of memory. */
char **cli_class_names(const ft_dataset *ds, const ft_model *m, int k);
void cli_class_names_free(char **names, int k);
/* "1,234,567" */
void cli_format_count(char *buf, size_t cap, int64_t v);
const char *cli_dtype_name(ft_dtype d);

/* ---- keyword spotting (kws_cli.c) ---- */
/* --keywords LIST: comma-separated class names (names, k entries, may be NULL) or indices.
 * NULL list: *out NULL (all classes). */
ft_status cli_kws_parse_keywords(const char *list, char **names, int k, int **out, int *n_out);
/* Evaluate ds (r: loss, accuracy, confusion) keeping every clip's probabilities, score the
 * clips of neg (may be NULL) as clips without a keyword, and compute the keyword metrics. */
ft_status cli_kws_evaluate(ft_model *m, ft_dataset *ds, ft_dataset *neg, int64_t batch, int workers,
                           const int *keywords, int n_keywords, float threshold, ft_eval_result *r,
                           ft_kws_metrics *out);
struct json_t;
struct json_t *cli_kws_json(const ft_kws_metrics *m, char **names);
void cli_kws_print(const ft_kws_metrics *m, char **names);
/* train on wav: data: keep the spec's options (and the clip length used) in the model. */
ft_status cli_remember_audio(ft_model *m, const char *spec, const ft_dataset *ds);
/* An audio file name (by extension: .wav, .flac, .ogg, ...). */
bool cli_is_audio_path(const char *path);
/* predict on recordings: top-k classes of each file through the model's audio front end
 * (audio_opts overrides it). Returns the exit code. */
int cli_predict_audio_files(ft_model *m, char **files, int n, const char *audio_opts, int k, bool json, bool stop);
/* predict --stream: windows over one recording, merged detections with their times. */
int cli_predict_stream(ft_model *m, const char *path, const char *audio_opts, double window_ms, double hop_ms,
                       float threshold, const char *keywords, int max_gap, int min_windows, int64_t batch, bool json);

/* CTC (speech recognition) data: "ctc:<spec>" or --task ctc|asr (ctc_cli.c). */
bool cli_is_ctc(const char *task, const char *spec);
char **cli_ctc_model_vocab(const ft_model *m); /* free with ft_model_labels_free(v, m->n_classes) */
/* Opens spec (without its "ctc:") with the model's image options and wraps it as a CTC dataset
 * in `vocab` (NULL: the data's own characters, or with `words` its words as word pieces);
 * fe->path: first through ft_dataset_frontend. */
typedef struct { const char *path; int64_t window, hop; } cli_frontend; /* --frontend, --frontend-window, --frontend-hop */
ft_status cli_open_ctc(const char *spec, const ft_model *m, const cli_frontend *fe, const char *const *vocab, int n_vocab, bool words,
                       ft_dataset **out);
#endif
