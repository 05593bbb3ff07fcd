/* finetune speech recognition: CTC decoding and the WER/CER metrics (docs/speech.md).
 * The CTC loss itself is a graph op (ft_ctc_loss in graph.h). */
#ifndef FINETUNE_SPEECH_H
#define FINETUNE_SPEECH_H

#include "core.h"
#include "train.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Greedy CTC decoding of one utterance: lp [T,C] row-major (log-probabilities or logits;
 * only the argmax matters, the first maximum wins ties), argmax per frame, repeats collapsed,
 * blanks dropped. Writes the labels to out (room for T) and returns how many. */
int64_t ft_ctc_greedy(const float *lp, int64_t T, int64_t C, int blank, int32_t *out);

/* CTC prefix beam search (Hannun et al. 2014) without a language model. lp [T,C] are
 * log-probabilities. Each prefix keeps the log-probability of ending in a blank and in a
 * label; after every frame the `beam` prefixes with the best log(p_blank + p_label) +
 * bonus * length survive (bonus: a per-label insertion bonus, 0 for none; ties keep the
 * prefix seen first). Writes the best prefix to out (room for T), its length to *n_out,
 * and its log-score (bonus included) to *score when score is not NULL. */
ft_status ft_ctc_beam_search(const float *lp, int64_t T, int64_t C, int blank, int beam, float bonus, int32_t *out,
                             int64_t *n_out, double *score);

/* Levenshtein distance (unit insert/delete/substitute) between two label sequences. */
int64_t ft_edit_distance(const int32_t *a, int64_t na, const int32_t *b, int64_t nb);

/* Corpus-level word and character error rates: total edits over total reference length.
 * Words are maximal runs of non-whitespace; characters are the Unicode code points of the
 * transcript with its whitespace runs collapsed to one space and trimmed (UTF-8; invalid
 * bytes count as one character each). */
typedef struct {
    int64_t utterances;
    int64_t word_edits, words;   /* WER = word_edits / words */
    int64_t char_edits, chars;   /* CER = char_edits / chars */
    int64_t exact;               /* utterances transcribed exactly (word sequences equal) */
} ft_asr_counts;
ft_status ft_asr_counts_add(ft_asr_counts *c, const char *reference, const char *hypothesis);
double ft_asr_wer(const ft_asr_counts *c); /* 0 when there are no reference words */
double ft_asr_cer(const ft_asr_counts *c);

/* ---------------- CTC datasets (task "ctc", docs/speech.md) ----------------
 * ft_dataset_ctc wraps a dataset whose examples are feature matrices (e.g. an audio manifest
 * of log-mels) and whose labels name the transcripts: the inner class name of example i is
 * its transcript (a dataset without class names: the label's decimal digits). Transcripts
 * are normalised (whitespace runs -> one space, trimmed) and spelt in a character
 * vocabulary: vocab[0] is the CTC blank ("<blank>"), every other entry one Unicode character
 * (UTF-8). Example i of the wrapper is F32 [F + 1 + S]: the inner example's F values, then,
 * as int32 bit patterns in the same 4-byte slots, the target length and S target ids (S =
 * the longest transcript, padded with 0). ds->task = FT_TASK_CTC, n_classes = the vocabulary
 * size, class_names = the vocabulary. */
#define FT_CTC_BLANK_NAME "<blank>"

/* The character vocabulary of a dataset's transcripts: "<blank>" then its characters in code
 * point order (ft_malloc'd array of ft_malloc'd strings; free with ft_ctc_vocab_free). */
ft_status ft_ctc_vocab_build(const ft_dataset *inner, char ***vocab, int *n_vocab);
void ft_ctc_vocab_free(char **vocab, int n_vocab);
/* Word pieces (SentencePiece's convention): an entry that starts with U+2581 ("\u2581") starts
 * a word; a vocabulary with at least one such entry is a word-piece vocabulary, its entries
 * any non-empty strings. A transcript is spelt in it as "\u2581w1\u2581w2..." (its words, each
 * marked, no spaces) cut greedily into the longest matching entries; decoding concatenates
 * the entries and turns each mark into a space between words. */
#define FT_CTC_WORD_MARK "\xe2\x96\x81"
/* The word vocabulary of a dataset's transcripts: "<blank>" then "\u2581word" for every
 * distinct whitespace-separated word, in byte order (small-vocabulary recognition, e.g. digit
 * strings or commands: one label per word). At most 2^20 words. */
ft_status ft_ctc_vocab_build_words(const ft_dataset *inner, char ***vocab, int *n_vocab);
/* True when vocab is a word-piece vocabulary (an entry after the blank starts with the mark). */
bool ft_ctc_vocab_is_pieces(const char *const *vocab, int n_vocab);
/* The longest entry in bytes (at least 4: one UTF-8 character), for sizing text buffers. */
size_t ft_ctc_vocab_max_bytes(const char *const *vocab, int n_vocab);
/* vocab NULL: ft_ctc_vocab_build's. A transcript character (or, with word pieces, a word) that
 * vocab cannot spell is an error naming the transcript. The wrapper owns `inner` (freed with
 * it). */
ft_status ft_dataset_ctc(ft_dataset *inner, const char *const *vocab, int n_vocab, ft_dataset **out);
/* Values per example of the inner features (F) and the target capacity (S). */
ft_status ft_ctc_dataset_layout(const ft_dataset *ds, int64_t *F, int64_t *S);
/* A frozen front end over sliding windows (e.g. openWakeWord's speech embedding over 76 mel
 * frames every 8): every example of `inner` is read as time-major frames [T, D] (D = the
 * model's input size / window); the model runs on the windows of `window` frames starting
 * every `hop` frames, and its outputs (E values per window, E = the model's output size) form
 * the new example F32 [T', E], T' = (T - window) / hop + 1. Everything is computed once, at
 * open, in batches of `batch` windows (eval plan: dropout off, batch norm on running
 * statistics), and kept in memory; labels and class names are the inner ones. Augmentation
 * of the inner dataset is not applied (the eval view is used). The wrapper owns `inner`; the
 * model is only used during the call. */
ft_status ft_dataset_frontend(ft_dataset *inner, ft_model *m, int64_t window, int64_t hop, int64_t batch,
                              ft_dataset **out);

/* Transcribes the first n examples of a CTC dataset (n <= 0: all) with model m (per-frame
 * logits [N, T, C], C = the vocabulary): greedy decoding when beam <= 1, else prefix beam
 * search of that width with the insertion bonus. Calls cb(user, i, hypothesis, reference)
 * for each example in order (the reference is the example's transcript); a non-zero status
 * from cb stops and is returned. */
struct ft_model;
ft_status ft_ctc_transcribe(struct ft_model *m, ft_dataset *ds, int64_t n, int64_t batch, int beam, float bonus,
                            ft_status (*cb)(void *user, int64_t i, const char *hyp, const char *ref), void *user);

/* Label ids -> text (vocab entries concatenated, word-piece marks as spaces between words; ids
 * out of range or the blank are skipped). Writes at most cap bytes including the terminating 0. */
void ft_ctc_labels_to_text(const int32_t *ids, int64_t n, const char *const *vocab, int n_vocab, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
