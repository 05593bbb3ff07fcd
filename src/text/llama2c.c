/* llama2.c tokenizer (tokenizer.bin / tok512.bin): SentencePiece-style BPE by score.
 *
 * File: int32 max_token_length, then for each token: float32 score, int32 length, bytes.
 * There is no count; the vocabulary is every record up to the end of the file. Ids 0, 1, 2
 * are <unk>, <s> (BOS), </s> (EOS) and ids 3..258 are the byte tokens <0x00>..<0xFF>.
 *
 * Encoding follows llama2.c's run.c encode() exactly:
 *   1. if the text is not empty, the " " token goes first (SentencePiece's dummy prefix);
 *   2. the bytes are cut into code-point-sized chunks: a chunk starts at every byte that is
 *      not a continuation byte (10xxxxxx) and takes following continuation bytes while it
 *      is shorter than 4 bytes; a chunk found in the vocabulary is that token, otherwise
 *      each of its bytes becomes the byte token id byte + 3 (byte fallback);
 *   3. repeatedly, of all adjacent pairs whose concatenation is a vocabulary entry, the one
 *      whose entry has the highest score (the leftmost among equals; scores must exceed
 *      -1e10) is merged, until none is left.
 * run.c rescans all pairs after every merge (quadratic); here a heap of candidate pairs
 * ordered by (score desc, position asc) gives the same merges in O(n log n). */
#include "text/text_internal.h"

#include <math.h>
#include <string.h>

static int32_t rd_i32(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }
static float rd_f32(const uint8_t *p) { float v; memcpy(&v, p, 4); return v; }

ft_status ft_tokenizer_from_llama2c(const void *data, size_t len, const char *name, ft_tokenizer **out) {
    if (!out || (!data && len)) return ft_fail(FT_EINVAL, "llama2.c tokenizer: NULL argument");
    *out = NULL;
    if (!name) name = "tokenizer.bin";
    const uint8_t *d = data;
    if (len < 4) return ft_fail(FT_EFORMAT, "%s: %zu bytes is too short for a llama2.c tokenizer", name, len);
    int32_t mtl = rd_i32(d);
    if (mtl <= 0) return ft_fail(FT_EFORMAT, "%s: max_token_length %d is not positive (not a llama2.c tokenizer?)", name, mtl);
    /* pass 1: count and validate records */
    int64_t n = 0;
    size_t o = 4;
    while (o < len) {
        if (len - o < 8)
            return ft_fail(FT_EFORMAT, "%s: truncated record for token %lld at byte %zu", name, (long long)n, o);
        int32_t l = rd_i32(d + o + 4);
        if (l < 0 || (size_t)l > len - o - 8)
            return ft_fail(FT_EFORMAT, "%s: token %lld has length %d, past the end of the file (byte %zu)", name,
                           (long long)n, l, o);
        if (l > mtl)
            return ft_fail(FT_EFORMAT, "%s: token %lld is %d bytes, longer than max_token_length %d", name,
                           (long long)n, l, mtl);
        o += 8 + (size_t)l;
        if (++n > FT_TEXT_MAX_VOCAB) return ft_fail(FT_EFORMAT, "%s: more than %d tokens", name, FT_TEXT_MAX_VOCAB);
    }
    if (n < 259)
        return ft_fail(FT_EFORMAT, "%s: %lld tokens; a llama2.c tokenizer has at least 259 (<unk>, <s>, </s>, 256 bytes)",
                       name, (long long)n);
    ft_tokenizer *t;
    ft_status s = ft__tok_new(FT_TOK_LLAMA2C, name, &t);
    if (s) return s;
    const char **pieces = ft_malloc((size_t)n * sizeof *pieces);
    size_t *lens = ft_malloc((size_t)n * sizeof *lens);
    t->scores = ft_malloc((size_t)n * sizeof *t->scores);
    if (!pieces || !lens || !t->scores) { s = ft_fail(FT_ENOMEM, "%s: out of memory", name); goto fail; }
    o = 4;
    for (int64_t i = 0; i < n; i++) {
        t->scores[i] = rd_f32(d + o);
        lens[i] = (size_t)rd_i32(d + o + 4);
        pieces[i] = (const char *)d + o + 8;
        o += 8 + lens[i];
    }
    s = ft__tok_set_vocab(t, (int32_t)n, pieces, lens);
    if (s) goto fail;
    t->max_token_length = (uint32_t)mtl;
    t->space_id = ft__tok_lookup(t, " ", 1);
    t->sp.unk = 0;
    t->sp.bos = 1;
    t->sp.eos = 2;
    t->sp.pad = 0;
    ft_free(pieces);
    ft_free(lens);
    *out = t;
    return FT_OK;
fail:
    ft_free(pieces);
    ft_free(lens);
    ft_tokenizer_free(t);
    return s;
}

/* ---- encoding ---- */

typedef struct {
    float score;
    int32_t left, right;    /* symbol indices */
    int32_t lid, rid;       /* their ids when the candidate was made (staleness check) */
    int32_t merged;
} cand;

/* max-heap on (score, -left) */
static bool cand_before(const cand *a, const cand *b) {
    if (a->score > b->score) return true;
    if (b->score > a->score) return false;
    return a->left < b->left;
}

typedef struct {
    cand *v;
    int64_t n, cap;
} heap;

static ft_status heap_push(heap *h, cand c) {
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 64;
        cand *v = ft_realloc(h->v, (size_t)cap * sizeof *v);
        if (!v) return ft_fail(FT_ENOMEM, "llama2.c tokenizer: out of memory");
        h->v = v;
        h->cap = cap;
    }
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!cand_before(&c, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = c;
    return FT_OK;
}

static cand heap_pop(heap *h) {
    cand top = h->v[0], last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && cand_before(&h->v[c + 1], &h->v[c])) c++;
        if (!cand_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct {
    int32_t *id, *prev, *next, *start, *end;
    int64_t n, cap;
} syms;

static ft_status sym_push(syms *s, int32_t id, int32_t start, int32_t end) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 64;
        int32_t **arrs[5] = {&s->id, &s->prev, &s->next, &s->start, &s->end};
        for (int k = 0; k < 5; k++) {
            int32_t *a = ft_realloc(*arrs[k], (size_t)cap * sizeof *a);
            if (!a) return ft_fail(FT_ENOMEM, "llama2.c tokenizer: out of memory");
            *arrs[k] = a;
        }
        s->cap = cap;
    }
    int64_t i = s->n++;
    s->id[i] = id;
    s->prev[i] = (int32_t)i - 1;
    s->next[i] = -1;
    s->start[i] = start;
    s->end[i] = end;
    if (i > 0) s->next[i - 1] = (int32_t)i;
    return FT_OK;
}

static ft_status try_pair(const ft_tokenizer *t, const syms *s, int32_t i, char *buf, heap *h) {
    int32_t j = s->next[i];
    if (j < 0) return FT_OK;
    size_t la, lb;
    const char *a = ft__piece(t, s->id[i], &la), *b = ft__piece(t, s->id[j], &lb);
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb);
    int32_t id = ft__tok_lookup(t, buf, la + lb);
    if (id < 0) return FT_OK;
    float sc = t->scores[id];
    if (!(sc > -1e10f)) return FT_OK; /* run.c starts from best_score = -1e10 and needs '>' */
    return heap_push(h, (cand){sc, i, j, s->id[i], s->id[j], id});
}

ft_status ft__llama2c_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out) {
    if (len == 0) return FT_OK;
    if (t->space_id < 0)
        return ft_fail(FT_EFORMAT, "%s: the vocabulary has no \" \" token for the dummy prefix", t->name);
    const uint8_t *u = (const uint8_t *)text;
    syms s = {0};
    heap h = {0};
    char *buf = NULL;
    ft_status st = sym_push(&s, t->space_id, 0, 0);
    /* code-point chunks, byte fallback */
    for (size_t i = 0; i < len && st == FT_OK;) {
        size_t j = i + 1;
        while (j < len && (u[j] & 0xC0) == 0x80 && j - i < 4) j++;
        int32_t id = ft__tok_lookup(t, text + i, j - i);
        if (id >= 0) {
            st = sym_push(&s, id, (int32_t)i, (int32_t)j);
        } else {
            for (size_t k = i; k < j && st == FT_OK; k++) st = sym_push(&s, (int32_t)u[k] + 3, (int32_t)k, (int32_t)k + 1);
        }
        i = j;
    }
    /* every piece is at most max_token_length bytes (checked when loading) */
    if (st == FT_OK) {
        buf = ft_malloc(2 * (size_t)t->max_token_length + 1);
        if (!buf) st = ft_fail(FT_ENOMEM, "llama2.c tokenizer: out of memory");
    }
    for (int32_t i = 0; i + 1 < s.n && st == FT_OK; i++) st = try_pair(t, &s, i, buf, &h);
    while (st == FT_OK && h.n > 0) {
        cand c = heap_pop(&h);
        int32_t i = c.left, j = c.right;
        if (s.id[i] < 0 || s.id[j] < 0 || s.next[i] != j || s.id[i] != c.lid || s.id[j] != c.rid) continue;
        s.id[i] = c.merged;
        s.end[i] = s.end[j];
        s.next[i] = s.next[j];
        if (s.next[j] >= 0) s.prev[s.next[j]] = i;
        s.id[j] = -1;
        if (s.prev[i] >= 0) st = try_pair(t, &s, s.prev[i], buf, &h);
        if (st == FT_OK) st = try_pair(t, &s, i, buf, &h);
    }
    for (int32_t i = 0; s.n > 0 && i >= 0 && st == FT_OK; i = s.next[i]) {
        st = ft__list_push(out, s.id[i], s.start[i]);
    }
    ft_free(buf);
    ft_free(h.v);
    ft_free(s.id);
    ft_free(s.prev);
    ft_free(s.next);
    ft_free(s.start);
    ft_free(s.end);
    return st;
}
