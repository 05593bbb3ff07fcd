/* finetune text: tokenizers for Transformer models (docs/text.md).
 *
 * Three kinds, each loaded from the files its model ships with:
 *   FT_TOK_WORDPIECE  BERT: vocab.txt (or a tokenizer.json with a WordPiece model). Hugging
 *                     Face's basic tokenizer (clean text, CJK split, optional lower-casing
 *                     + accent stripping, punctuation split), then greedy longest-match-first
 *                     WordPiece with "##" continuations; words over 100 characters -> [UNK].
 *   FT_TOK_BPE        GPT-2 byte-level BPE: vocab.json + merges.txt (or a tokenizer.json with a
 *                     BPE model and a ByteLevel pre-tokenizer). GPT-2's pre-tokenisation regex,
 *                     the byte-to-unicode mapping and ranked merges.
 *   FT_TOK_LLAMA2C    llama2.c's tokenizer.bin (tok512.bin for stories260K): SentencePiece-style
 *                     BPE by score with byte fallback, exactly as llama2.c's run.c encodes.
 *
 * Text is UTF-8. WordPiece and BPE read invalid UTF-8 as U+FFFD (one per maximal invalid
 * subsequence, as the WHATWG decoder and Python's errors="replace" do); llama2.c works on raw
 * bytes, so an invalid byte simply becomes its <0xXX> token.
 *
 * A tokenizer is immutable after loading; it may be used from several threads at once. */
#ifndef FINETUNE_TEXT_H
#define FINETUNE_TEXT_H

#include "finetune/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FT_TOK_WORDPIECE = 1, FT_TOK_BPE, FT_TOK_LLAMA2C } ft_tok_kind;

typedef struct ft_tokenizer ft_tokenizer;

/* Special token ids, -1 where the vocabulary has none. WordPiece: [PAD] [UNK] [CLS] [SEP]
 * [MASK]. GPT-2: bos = eos = <|endoftext|>, no pad (batches pad with eos unless told
 * otherwise). llama2.c: unk 0, bos 1, eos 2, pad 0. */
typedef struct {
    int32_t pad, unk, bos, eos, cls, sep, mask;
} ft_special_tokens;

/* ---- loading (each returns a new tokenizer in *out; free with ft_tokenizer_free) ---- */

/* BERT vocab.txt: one token per line, id = line number. lower_case = do_lower_case (also
 * strips accents, as BERT uncased does). */
ft_status ft_tokenizer_load_wordpiece(const char *vocab_txt, bool lower_case, ft_tokenizer **out);
/* GPT-2 vocab.json ({"token": id}) + merges.txt ("#version" line, then "a b" per rank). */
ft_status ft_tokenizer_load_bpe(const char *vocab_json, const char *merges_txt, ft_tokenizer **out);
/* Hugging Face tokenizer.json whose model is WordPiece (BertNormalizer options honoured) or
 * byte-level BPE (ByteLevel pre-tokenizer, GPT-2 regex). Other pipelines: FT_EUNSUPPORTED
 * with a message naming the component. */
ft_status ft_tokenizer_load_hf_json(const char *tokenizer_json, ft_tokenizer **out);
/* llama2.c tokenizer.bin: int32 max_token_length, then per token float score, int32 length,
 * bytes; the vocabulary size is the number of records in the file. */
ft_status ft_tokenizer_load_llama2c(const char *tok_bin, ft_tokenizer **out);
/* A Hugging Face model directory: tokenizer.json if present, else vocab.json + merges.txt,
 * else vocab.txt (do_lower_case from tokenizer_config.json, default true). A directory with
 * none of them fails with FT_ENOTFOUND naming the files looked for. */
ft_status ft_tokenizer_load_dir(const char *dir, ft_tokenizer **out);

/* The same from memory (`name` is used in messages). These are what the fuzzers drive. */
ft_status ft_tokenizer_from_wordpiece(const char *vocab_txt, size_t len, bool lower_case,
                                      const char *name, ft_tokenizer **out);
ft_status ft_tokenizer_from_bpe(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                size_t merges_len, const char *name, ft_tokenizer **out);
ft_status ft_tokenizer_from_hf_json(const char *json, size_t len, const char *name, ft_tokenizer **out);
ft_status ft_tokenizer_from_llama2c(const void *data, size_t len, const char *name, ft_tokenizer **out);

void ft_tokenizer_free(ft_tokenizer *t);

ft_tok_kind ft_tokenizer_kind(const ft_tokenizer *t);
int32_t ft_tokenizer_vocab_size(const ft_tokenizer *t);
const ft_special_tokens *ft_tokenizer_specials(const ft_tokenizer *t);
/* The vocabulary string of id (GPT-2: in its byte-to-unicode spelling), and its length;
 * NULL for an id out of range. */
const char *ft_tokenizer_piece(const ft_tokenizer *t, int32_t id, size_t *len);
/* Id of a vocabulary string, or -1. */
int32_t ft_tokenizer_piece_id(const ft_tokenizer *t, const char *piece, size_t len);
/* llama2.c scores (NULL for the other kinds). */
const float *ft_tokenizer_scores(const ft_tokenizer *t);

/* ---- encoding one text ---- */

/* A growable list of tokens. ids[i] is the token; start[i] is the byte offset in the input
 * of the first character the token covers; word[i] is the index of the word it belongs to
 * (see below), -1 for special tokens. Initialise with {0}; free with ft_token_list_free. */
typedef struct {
    int32_t *ids, *start, *word;
    int64_t n, cap;
} ft_token_list;
void ft_token_list_free(ft_token_list *l);

/* Encodes text[0..len) without special tokens and appends to `out` (call with out->n = 0
 * for a fresh list). word[i] counts whitespace-separated words of the input: a token gets
 * the word holding its first non-space byte (a token that is only whitespace gets the word
 * that follows it, or the last word).
 * llama2.c: `len` bytes are used as is; the dummy-prefix " " token comes first when len > 0
 * (run.c's rule), with word 0. */
ft_status ft_tokenizer_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out);

/* Encodes pre-split words (CoNLL tokens): the words are joined with single spaces (BPE:
 * each word gets a leading space, as Hugging Face's add_prefix_space=True with
 * is_split_into_words does) and word[i] is the index into `words` that token i comes from.
 * For NER, the label goes on the first token of each word: the first i with word[i] == w. */
ft_status ft_tokenizer_encode_words(const ft_tokenizer *t, const char *const *words, int64_t n_words,
                                    ft_token_list *out);

/* ---- batches: special tokens, truncation, padding, attention masks ---- */

typedef struct {
    int64_t max_len;     /* > 0: at most this many tokens per row, special tokens included */
    bool add_special;    /* WordPiece: [CLS] ... [SEP]; BPE/llama2.c: BOS first */
    bool add_eos;        /* BPE/llama2.c: EOS last (with add_special) */
    bool pad_to_max;     /* rows are max_len long; else as long as the longest row */
    int32_t pad_id;      /* -1: the tokenizer's pad (GPT-2: <|endoftext|>) */
} ft_batch_opts;

/* Row-major [batch, seq] arrays. mask is 1 on real tokens (specials included), 0 on padding;
 * word is the word index or -1 (special tokens, padding); length[b] = real tokens in row b.
 * truncated counts rows that lost tokens to max_len (the tail is dropped; the closing
 * [SEP]/EOS is kept). Free with ft_text_batch_free. */
typedef struct {
    int64_t batch, seq;
    int32_t *ids, *mask, *word, *length;
    int64_t truncated;
} ft_text_batch;
void ft_text_batch_free(ft_text_batch *b);

/* Packs already-encoded rows (ft_tokenizer_encode / _encode_words). */
ft_status ft_text_batch_pack(const ft_tokenizer *t, const ft_token_list *rows, int64_t n,
                             const ft_batch_opts *o, ft_text_batch *out);
/* Encodes and packs n texts (NUL-terminated). */
ft_status ft_tokenizer_encode_batch(const ft_tokenizer *t, const char *const *texts, int64_t n,
                                    const ft_batch_opts *o, ft_text_batch *out);

/* ---- decoding ---- */

/* Ids back to text (a fresh NUL-terminated ft_malloc'd string; *len excludes the NUL).
 * BPE: concatenation of the pieces mapped back to bytes (invalid UTF-8 is returned as is).
 * llama2.c: run.c's decode applied token by token (the leading space of a piece right after
 * BOS is dropped, <0xXX> pieces are the raw byte). WordPiece: pieces joined by spaces with
 * "##" continuations glued on. Special tokens are skipped when skip_special. An id out of
 * range fails with FT_EINVAL. */
ft_status ft_tokenizer_decode(const ft_tokenizer *t, const int32_t *ids, int64_t n, bool skip_special,
                              char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
