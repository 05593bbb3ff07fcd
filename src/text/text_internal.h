/* Internals shared by the tokenizers in src/text (not part of the public API). */
#ifndef FINETUNE_TEXT_INTERNAL_H
#define FINETUNE_TEXT_INTERNAL_H

#include "finetune/text.h"

#include <stddef.h>
#include <stdint.h>

/* Inputs, vocabularies and pieces larger than this are rejected (int32 offsets inside). */
#define FT_TEXT_MAX_BYTES ((size_t)1 << 30)
#define FT_TEXT_MAX_VOCAB (1 << 24)

/* ---- string -> id hash map (open addressing, FNV-1a); keys point into the vocab blob ---- */
typedef struct {
    int32_t *slot;  /* cap entries: id or -1 */
    uint32_t cap;   /* power of two */
} ft_strmap;

/* ---- (a, b) -> (rank, merged) map for BPE merges ---- */
typedef struct {
    uint64_t *key;  /* (a << 32 | b) + 1; 0 = empty */
    int32_t *rank, *merged;
    uint32_t cap;
} ft_pairmap;

struct ft_tokenizer {
    ft_tok_kind kind;
    char *name;                  /* file or label, for messages */
    int32_t n_vocab;
    char *blob;                  /* all pieces, each NUL-terminated */
    int64_t *off;                /* [n_vocab + 1] piece i = blob + off[i], length off[i+1]-off[i]-1 */
    ft_strmap map;
    ft_special_tokens sp;

    /* WordPiece */
    bool lower, strip_accents, clean_text, chinese;
    int32_t max_chars;           /* max_input_chars_per_word */
    char cont[16];               /* continuing-subword prefix, "##" */

    /* byte-level BPE */
    ft_pairmap merges;
    int32_t n_merges;
    int32_t byte_id[256];        /* id of the one-symbol piece of each byte */
    uint16_t byte_cp[256];       /* GPT-2 bytes_to_unicode */
    bool add_prefix_space;

    /* llama2.c */
    float *scores;
    int32_t space_id;            /* id of " " (the dummy prefix), -1 if absent */
    uint32_t max_token_length;   /* as the file states (informational) */
};

/* Common construction. ft__tok_new allocates a tokenizer of `kind` with name; pieces are
 * added with ft__tok_set_vocab from (string, length) arrays indexed by id. */
ft_status ft__tok_new(ft_tok_kind kind, const char *name, ft_tokenizer **out);
ft_status ft__tok_set_vocab(ft_tokenizer *t, int32_t n, const char *const *pieces, const size_t *lens);
int32_t ft__tok_lookup(const ft_tokenizer *t, const char *s, size_t len);
static inline const char *ft__piece(const ft_tokenizer *t, int32_t id, size_t *len) {
    *len = (size_t)(t->off[id + 1] - t->off[id] - 1);
    return t->blob + t->off[id];
}

ft_status ft__pairmap_init(ft_pairmap *m, uint32_t n);
void ft__pairmap_free(ft_pairmap *m);
/* Inserts or overwrites; returns false when (a, b) was already there (its rank and merged
 * id are replaced). */
bool ft__pairmap_put(ft_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
bool ft__pairmap_get(const ft_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged);

/* ---- UTF-8 ---- */
/* Decodes one code point at s[*i] (i < n), advancing *i. Invalid input yields U+FFFD and
 * consumes one maximal subpart (WHATWG "UTF-8 decode", Python errors="replace"). */
uint32_t ft__utf8_next(const uint8_t *s, size_t n, size_t *i);
/* Writes cp as UTF-8 into buf (4 bytes room); returns the length. */
int ft__utf8_put(uint32_t cp, char *buf);

/* Unicode White_Space (U+0009..000D, U+0085, Zs, Zl, Zp). */
bool ft__is_white_space(uint32_t cp);

/* Output list growth. */
ft_status ft__list_push(ft_token_list *l, int32_t id, int32_t start);

/* Growable int32 vector. */
typedef struct {
    int32_t *v;
    int64_t n, cap;
} ft__i32vec;
ft_status ft__i32_push(ft__i32vec *v, int32_t x);

/* Per-kind encoders: append tokens with their start offsets to out; word ids are filled in
 * by the caller. */
ft_status ft__wordpiece_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out);
ft_status ft__bpe_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out);
ft_status ft__llama2c_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out);

/* GPT-2 bytes_to_unicode table; fills byte_cp. */
void ft__bpe_byte_table(uint16_t byte_cp[256]);
/* Finishes a byte-level BPE tokenizer whose vocab is set: byte ids, specials. */
ft_status ft__bpe_finish(ft_tokenizer *t);
/* Finishes a WordPiece tokenizer whose vocab is set: specials. */
ft_status ft__wordpiece_finish(ft_tokenizer *t);

#endif
