/* Byte-level BPE (GPT-2): vocab.json + merges.txt, or a Hugging Face tokenizer.json.
 *
 * Encoding (openai/gpt-2 encoder.py, which gpt-3-encoder and Hugging Face follow):
 *   1. UTF-8 decode (invalid bytes -> U+FFFD, WHATWG rule);
 *   2. split with GPT-2's pattern
 *        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      matched by hand below (first alternative that matches at the current position, each
 *      quantifier greedy, with the one backtrack the lookahead needs); \s is Unicode
 *      White_Space, \p{L} and \p{N} are general categories from utf8proc;
 *   3. each piece's UTF-8 bytes become one symbol per byte (bytes_to_unicode spelling);
 *   4. merges: repeatedly take the adjacent pair with the lowest merge rank and merge every
 *      non-overlapping occurrence of it, left to right; stop when no pair has a rank.
 * Step 4 uses a heap of candidate pairs; one round pops every pair of the current lowest
 * rank and merges them in position order, which is exactly encoder.py's loop. */
#include "text/text_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

void ft__bpe_byte_table(uint16_t byte_cp[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_cp[b] = printable ? (uint16_t)b : (uint16_t)(256 + n++);
    }
}

ft_status ft__bpe_finish(ft_tokenizer *t) {
    ft__bpe_byte_table(t->byte_cp);
    for (int b = 0; b < 256; b++) {
        char u[4];
        int l = ft__utf8_put(t->byte_cp[b], u);
        t->byte_id[b] = ft__tok_lookup(t, u, (size_t)l);
        if (t->byte_id[b] < 0)
            return ft_fail(FT_EFORMAT, "%s: the vocabulary lacks the symbol \"%.*s\" of byte 0x%02X (not a byte-level BPE vocabulary?)",
                           t->name, l, u, b);
    }
    int32_t eot = ft__tok_lookup(t, "<|endoftext|>", 13);
    if (eot >= 0) t->sp.bos = t->sp.eos = eot;
    return FT_OK;
}

/* ---------------- vocabulary + merges ---------------- */

typedef struct {
    const char **s;
    size_t *l;
    int32_t n;      /* max id + 1 */
    int32_t cap;
} idvocab;

static ft_status idv_set(idvocab *v, const char *name, int64_t id, const char *s, size_t l) {
    if (id < 0 || id >= FT_TEXT_MAX_VOCAB)
        return ft_fail(FT_EFORMAT, "%s: token \"%.40s\" has id %lld, outside [0, %d)", name, s, (long long)id,
                       FT_TEXT_MAX_VOCAB);
    if (id >= v->cap) {
        int32_t cap = v->cap ? v->cap : 1024;
        while (cap <= id) cap *= 2;
        const char **a = ft_realloc(v->s, (size_t)cap * sizeof *a);
        if (!a) return ft_fail(FT_ENOMEM, "%s: out of memory", name);
        v->s = a;
        size_t *b = ft_realloc(v->l, (size_t)cap * sizeof *b);
        if (!b) return ft_fail(FT_ENOMEM, "%s: out of memory", name);
        v->l = b;
        for (int32_t i = v->cap; i < cap; i++) v->s[i] = NULL;
        v->cap = cap;
    }
    if (v->s[id] && (v->l[id] != l || memcmp(v->s[id], s, l) != 0))
        return ft_fail(FT_EFORMAT, "%s: id %lld is used by two different tokens (\"%.40s\", \"%.40s\")", name,
                       (long long)id, v->s[id], s);
    v->s[id] = s;
    v->l[id] = l;
    if (id + 1 > v->n) v->n = (int32_t)id + 1;
    return FT_OK;
}

static ft_status idv_from_object(idvocab *v, const char *name, json_t *obj) {
    if (!json_is_object(obj)) return ft_fail(FT_EFORMAT, "%s: the vocabulary is not a JSON object", name);
    const char *k;
    json_t *val;
    json_object_foreach(obj, k, val) {
        if (!json_is_integer(val))
            return ft_fail(FT_EFORMAT, "%s: token \"%.40s\" has a value that is not an integer id", name, k);
        ft_status s = idv_set(v, name, json_integer_value(val), k, strlen(k));
        if (s) return s;
    }
    return FT_OK;
}

static ft_status idv_install(ft_tokenizer *t, idvocab *v) {
    for (int32_t i = 0; i < v->n; i++)
        if (!v->s[i]) return ft_fail(FT_EFORMAT, "%s: no token has id %d (ids must be 0..%d without gaps)", t->name, i, v->n - 1);
    return ft__tok_set_vocab(t, v->n, v->s, v->l);
}

static void idv_free(idvocab *v) {
    ft_free(v->s);
    ft_free(v->l);
}

static ft_status add_merge(ft_tokenizer *t, const char *a, size_t la, const char *b, size_t lb, int32_t rank,
                           const char *where, char **tmp, size_t *tmpcap) {
    int32_t ia = ft__tok_lookup(t, a, la), ib = ft__tok_lookup(t, b, lb);
    if (ia < 0 || ib < 0)
        return ft_fail(FT_EFORMAT, "%s: merge \"%.*s %.*s\": \"%.*s\" is not in the vocabulary", where, (int)la, a,
                       (int)lb, b, ia < 0 ? (int)la : (int)lb, ia < 0 ? a : b);
    if (la + lb > *tmpcap) {
        size_t cap = (la + lb) * 2;
        char *p = ft_realloc(*tmp, cap);
        if (!p) return ft_fail(FT_ENOMEM, "%s: out of memory", where);
        *tmp = p;
        *tmpcap = cap;
    }
    memcpy(*tmp, a, la);
    memcpy(*tmp + la, b, lb);
    int32_t im = ft__tok_lookup(t, *tmp, la + lb);
    if (im < 0)
        return ft_fail(FT_EFORMAT, "%s: merge \"%.*s %.*s\": the result \"%.*s\" is not in the vocabulary", where,
                       (int)la, a, (int)lb, b, (int)(la + lb), *tmp);
    /* a repeated pair keeps its last rank, as encoder.py's dict(zip(...)) does */
    ft__pairmap_put(&t->merges, ia, ib, rank, im);
    return FT_OK;
}

ft_status ft_tokenizer_from_bpe(const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                                const char *name, ft_tokenizer **out) {
    if (!out || (!vocab_json && vocab_len) || (!merges && merges_len)) return ft_fail(FT_EINVAL, "BPE: NULL argument");
    *out = NULL;
    if (!name) name = "vocab.json";
    json_error_t e;
    json_t *root = json_loadb(vocab_json ? vocab_json : "", vocab_len, 0, &e);
    if (!root) return ft_fail(FT_EFORMAT, "%s:%d: %s", name, e.line, e.text);
    ft_tokenizer *t = NULL;
    idvocab v = {0};
    char *tmp = NULL;
    size_t tmpcap = 0;
    ft_status s = idv_from_object(&v, name, root);
    if (!s) s = ft__tok_new(FT_TOK_BPE, name, &t);
    if (!s) s = idv_install(t, &v);
    if (!s) s = ft__bpe_finish(t);
    /* merges.txt: optional "#version" first line, then "a b" per line; rank = line order */
    int64_t lines = 1;
    for (size_t i = 0; i < merges_len; i++) lines += merges[i] == '\n';
    if (!s && lines > FT_TEXT_MAX_VOCAB) s = ft_fail(FT_EFORMAT, "merges.txt: more than %d lines", FT_TEXT_MAX_VOCAB);
    if (!s) s = ft__pairmap_init(&t->merges, (uint32_t)lines);
    int32_t rank = 0;
    int64_t lineno = 0;
    char where[64];
    for (size_t i = 0; !s && i < merges_len;) {
        size_t j = i;
        while (j < merges_len && merges[j] != '\n') j++;
        size_t end = j;
        if (end > i && merges[end - 1] == '\r') end--;
        lineno++;
        const char *ln = merges + i;
        size_t ll = end - i;
        i = j + 1;
        if (ll == 0 || (lineno == 1 && ll >= 8 && memcmp(ln, "#version", 8) == 0)) continue;
        const char *sp = memchr(ln, ' ', ll);
        snprintf(where, sizeof where, "merges.txt:%lld", (long long)lineno);
        if (!sp || sp == ln || sp == ln + ll - 1 || memchr(sp + 1, ' ', (size_t)(ln + ll - sp - 1))) {
            s = ft_fail(FT_EFORMAT, "%s: expected two tokens separated by one space, got \"%.*s\"", where,
                        (int)(ll > 60 ? 60 : ll), ln);
            break;
        }
        s = add_merge(t, ln, (size_t)(sp - ln), sp + 1, (size_t)(ln + ll - sp - 1), rank++, where, &tmp, &tmpcap);
    }
    if (!s) t->n_merges = rank;
    ft_free(tmp);
    idv_free(&v);
    json_decref(root);
    if (s) { ft_tokenizer_free(t); return s; }
    *out = t;
    return FT_OK;
}

/* ---------------- tokenizer.json ---------------- */

ft_status ft__wordpiece_from_json(ft_tokenizer *t, json_t *root, json_t *model);

static ft_status bpe_from_json(ft_tokenizer *t, json_t *root, json_t *model) {
    json_t *v;
    const char *n = t->name;
    if ((v = json_object_get(model, "byte_fallback")) && json_is_true(v))
        return ft_fail(FT_EUNSUPPORTED, "%s: BPE with byte_fallback (SentencePiece-style) is not supported", n);
    const char *keys[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        v = json_object_get(model, keys[k]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_value(v)[0] == 0))
            return ft_fail(FT_EUNSUPPORTED, "%s: BPE with a %s is not supported", n, keys[k]);
    }
    if ((v = json_object_get(model, "dropout")) && !json_is_null(v) && !(json_is_number(v) && json_number_value(v) == 0))
        return ft_fail(FT_EUNSUPPORTED, "%s: BPE dropout is not supported", n);
    if ((v = json_object_get(model, "ignore_merges")) && json_is_true(v))
        return ft_fail(FT_EUNSUPPORTED, "%s: BPE with ignore_merges is not supported", n);
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) {
        const char *type = json_string_value(json_object_get(norm, "type"));
        return ft_fail(FT_EUNSUPPORTED, "%s: normalizer \"%s\" is not supported with byte-level BPE", n, type ? type : "?");
    }
    json_t *pre = json_object_get(root, "pre_tokenizer");
    const char *pt = json_string_value(json_object_get(pre, "type"));
    if (!pt || strcmp(pt, "ByteLevel") != 0)
        return ft_fail(FT_EUNSUPPORTED, "%s: pre_tokenizer \"%s\" is not supported with BPE (only ByteLevel)", n,
                       pt ? pt : "none");
    if ((v = json_object_get(pre, "use_regex")) && json_is_false(v))
        return ft_fail(FT_EUNSUPPORTED, "%s: ByteLevel with use_regex false is not supported", n);
    t->add_prefix_space = json_is_true(json_object_get(pre, "add_prefix_space"));
    ft_status s = ft__bpe_finish(t);
    if (s) return s;
    json_t *merges = json_object_get(model, "merges");
    if (!json_is_array(merges)) return ft_fail(FT_EFORMAT, "%s: model.merges is not an array", n);
    size_t nm = json_array_size(merges);
    if (nm > FT_TEXT_MAX_VOCAB) return ft_fail(FT_EFORMAT, "%s: too many merges", n);
    s = ft__pairmap_init(&t->merges, (uint32_t)nm + 1);
    char *tmp = NULL;
    size_t tmpcap = 0;
    char where[64];
    for (size_t i = 0; i < nm && !s; i++) {
        json_t *m = json_array_get(merges, i);
        const char *a, *b;
        size_t la, lb;
        snprintf(where, sizeof where, "%s: merge %zu", n, i);
        if (json_is_string(m)) {
            const char *str = json_string_value(m);
            size_t l = json_string_length(m);
            const char *sp = memchr(str, ' ', l);
            if (!sp || sp == str || sp == str + l - 1 || memchr(sp + 1, ' ', (size_t)(str + l - sp - 1))) {
                s = ft_fail(FT_EFORMAT, "%s: expected \"a b\", got \"%.60s\"", where, str);
                break;
            }
            a = str; la = (size_t)(sp - str); b = sp + 1; lb = (size_t)(str + l - sp - 1);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0)); la = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1)); lb = json_string_length(json_array_get(m, 1));
        } else {
            s = ft_fail(FT_EFORMAT, "%s: not a string \"a b\" or a pair [a, b]", where);
            break;
        }
        s = add_merge(t, a, la, b, lb, (int32_t)i, where, &tmp, &tmpcap);
    }
    ft_free(tmp);
    if (!s) t->n_merges = (int32_t)nm;
    return s;
}

ft_status ft_tokenizer_from_hf_json(const char *json, size_t len, const char *name, ft_tokenizer **out) {
    if (!out || (!json && len)) return ft_fail(FT_EINVAL, "tokenizer.json: NULL argument");
    *out = NULL;
    if (!name) name = "tokenizer.json";
    json_error_t e;
    json_t *root = json_loadb(json ? json : "", len, 0, &e);
    if (!root) return ft_fail(FT_EFORMAT, "%s:%d: %s", name, e.line, e.text);
    ft_tokenizer *t = NULL;
    idvocab v = {0};
    ft_status s = FT_OK;
    json_t *model = json_object_get(root, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    ft_tok_kind kind = 0;
    if (!json_is_object(model)) s = ft_fail(FT_EFORMAT, "%s: no \"model\" object (not a tokenizer.json?)", name);
    else if (type && strcmp(type, "WordPiece") == 0) kind = FT_TOK_WORDPIECE;
    else if (type && strcmp(type, "BPE") == 0) kind = FT_TOK_BPE;
    else if (!type && json_object_get(model, "merges")) kind = FT_TOK_BPE;
    else s = ft_fail(FT_EUNSUPPORTED, "%s: model type \"%s\" is not supported (WordPiece or BPE)", name, type ? type : "?");
    if (!s) s = ft__tok_new(kind, name, &t);
    if (!s) s = idv_from_object(&v, name, json_object_get(model, "vocab"));
    json_t *added = json_object_get(root, "added_tokens");
    for (size_t i = 0; !s && json_is_array(added) && i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
        if (!json_is_integer(id) || !json_is_string(content))
            s = ft_fail(FT_EFORMAT, "%s: added_tokens[%zu] has no integer id and string content", name, i);
        else
            s = idv_set(&v, name, json_integer_value(id), json_string_value(content), json_string_length(content));
    }
    if (!s) s = idv_install(t, &v);
    if (!s) s = kind == FT_TOK_WORDPIECE ? ft__wordpiece_from_json(t, root, model) : bpe_from_json(t, root, model);
    idv_free(&v);
    json_decref(root);
    if (s) { ft_tokenizer_free(t); return s; }
    *out = t;
    return FT_OK;
}

/* ---------------- pre-tokenisation ---------------- */

enum { C_WS, C_L, C_N, C_O };

static int cclass(uint32_t cp) {
    if (ft__is_white_space(cp)) return C_WS;
    if (cp < 0x80) {
        if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return C_L;
        if (cp >= '0' && cp <= '9') return C_N;
        return C_O;
    }
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    if (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) return C_L;
    if (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO) return C_N;
    return C_O;
}

/* End of the GPT-2 pattern's match at i (i < n); cl[] holds cclass of each code point. */
static int64_t gpt2_match(const uint32_t *c, const uint8_t *cl, int64_t n, int64_t i) {
    if (c[i] == '\'' && i + 1 < n) {
        uint32_t y = c[i + 1];
        if (y == 's' || y == 't' || y == 'm' || y == 'd') return i + 2;
        if (i + 2 < n) {
            uint32_t z = c[i + 2];
            if ((y == 'r' && z == 'e') || (y == 'v' && z == 'e') || (y == 'l' && z == 'l')) return i + 3;
        }
    }
    /* ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' */
    int64_t j = i;
    if (c[i] == ' ' && i + 1 < n && cl[i + 1] != C_WS) j = i + 1;
    if (cl[j] != C_WS) {
        int k = cl[j];
        while (j < n && cl[j] == k) j++;
        return j;
    }
    /* '\s+(?!\S)', then '\s+' */
    j = i;
    while (j < n && cl[j] == C_WS) j++;
    if (j == n) return j;
    if (j - 1 > i) return j - 1;
    return j;
}

/* ---------------- merging ---------------- */

typedef struct {
    int32_t rank, left;
} pcand;

static bool pc_before(pcand a, pcand b) { return a.rank != b.rank ? a.rank < b.rank : a.left < b.left; }

typedef struct {
    pcand *v;
    int64_t n, cap;
} pheap;

static ft_status ph_push(pheap *h, pcand c) {
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 64;
        pcand *v = ft_realloc(h->v, (size_t)cap * sizeof *v);
        if (!v) return ft_fail(FT_ENOMEM, "BPE: out of memory");
        h->v = v;
        h->cap = cap;
    }
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!pc_before(c, h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = c;
    return FT_OK;
}

static pcand ph_pop(pheap *h) {
    pcand top = h->v[0], last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pc_before(h->v[c + 1], h->v[c])) c++;
        if (!pc_before(h->v[c], last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct {
    int32_t *id, *next, *prev, *pos;  /* pos: byte index of the symbol's first byte in the piece */
    int64_t cap;
    pheap heap;
    pcand *round;
    int64_t round_cap;
} bpe_work;

static ft_status work_reserve(bpe_work *w, int64_t n) {
    if (n <= w->cap) return FT_OK;
    int64_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    int32_t **arrs[4] = {&w->id, &w->next, &w->prev, &w->pos};
    for (int k = 0; k < 4; k++) {
        int32_t *a = ft_realloc(*arrs[k], (size_t)cap * sizeof *a);
        if (!a) return ft_fail(FT_ENOMEM, "BPE: out of memory");
        *arrs[k] = a;
    }
    w->cap = cap;
    return FT_OK;
}

static ft_status push_pair(const ft_tokenizer *t, bpe_work *w, int32_t i) {
    int32_t j = w->next[i], rank, merged;
    if (j < 0) return FT_OK;
    if (!ft__pairmap_get(&t->merges, w->id[i], w->id[j], &rank, &merged)) return FT_OK;
    return ph_push(&w->heap, (pcand){rank, i});
}

static int cmp_left(const void *a, const void *b) {
    const pcand *x = a, *y = b;
    return (x->left > y->left) - (x->left < y->left);
}

/* Merges the symbols of one piece (bytes[0..nb)), then appends its tokens; srcs[k] = input
 * offset of byte k. */
static ft_status bpe_piece(const ft_tokenizer *t, bpe_work *w, const uint8_t *bytes, int64_t nb, const int32_t *srcs,
                           ft_token_list *out) {
    ft_status s = work_reserve(w, nb);
    if (s) return s;
    for (int64_t k = 0; k < nb; k++) {
        w->id[k] = t->byte_id[bytes[k]];
        w->next[k] = k + 1 < nb ? (int32_t)k + 1 : -1;
        w->prev[k] = (int32_t)k - 1;
        w->pos[k] = (int32_t)k;
    }
    w->heap.n = 0;
    for (int32_t k = 0; k + 1 < nb && !s; k++) s = push_pair(t, w, k);
    while (!s && w->heap.n > 0) {
        int32_t r = w->heap.v[0].rank;
        int64_t nr = 0;
        while (w->heap.n > 0 && w->heap.v[0].rank == r) {
            pcand c = ph_pop(&w->heap);
            if (nr == w->round_cap) {
                int64_t cap = w->round_cap ? w->round_cap * 2 : 64;
                pcand *v = ft_realloc(w->round, (size_t)cap * sizeof *v);
                if (!v) return ft_fail(FT_ENOMEM, "BPE: out of memory");
                w->round = v;
                w->round_cap = cap;
            }
            w->round[nr++] = c;
        }
        qsort(w->round, (size_t)nr, sizeof *w->round, cmp_left);
        int32_t a = -1, b = -1, merged = -1;
        for (int64_t q = 0; q < nr && !s; q++) {
            int32_t i = w->round[q].left, j, rank, m;
            if (w->id[i] < 0 || (j = w->next[i]) < 0) continue;
            if (!ft__pairmap_get(&t->merges, w->id[i], w->id[j], &rank, &m) || rank != r) continue;
            if (a < 0) { a = w->id[i]; b = w->id[j]; merged = m; }
            if (w->id[i] != a || w->id[j] != b) continue;
            w->id[i] = merged;
            w->next[i] = w->next[j];
            if (w->next[j] >= 0) w->prev[w->next[j]] = i;
            w->id[j] = -1;
            if (w->prev[i] >= 0) s = push_pair(t, w, w->prev[i]);
            if (!s) s = push_pair(t, w, i);
        }
    }
    for (int32_t i = 0; nb > 0 && i >= 0 && !s; i = w->next[i]) {
        s = ft__list_push(out, w->id[i], srcs[w->pos[i]]);
    }
    return s;
}

ft_status ft__bpe_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out) {
    const uint8_t *u = (const uint8_t *)text;
    /* decode: code points with their source offsets */
    int64_t cap = (int64_t)len + 2;
    uint32_t *cp = ft_malloc((size_t)cap * sizeof *cp);
    uint8_t *cl = ft_malloc((size_t)cap);
    int32_t *src = ft_malloc((size_t)cap * sizeof *src);
    uint8_t *bytes = ft_malloc((size_t)cap * 4);
    int32_t *bsrc = ft_malloc((size_t)cap * 4 * sizeof *bsrc);
    bpe_work w = {0};
    ft_status s = FT_OK;
    if (!cp || !cl || !src || !bytes || !bsrc) { s = ft_fail(FT_ENOMEM, "BPE: out of memory"); goto done; }
    int64_t n = 0;
    if (t->add_prefix_space && (len == 0 || u[0] != ' ')) { cp[n] = ' '; src[n] = 0; n++; }
    if (len == 0 && n == 1 && t->add_prefix_space) n = 0; /* an empty text stays empty */
    for (size_t i = 0; i < len;) {
        src[n] = (int32_t)i;
        cp[n++] = ft__utf8_next(u, len, &i);
    }
    for (int64_t k = 0; k < n; k++) cl[k] = (uint8_t)cclass(cp[k]);
    for (int64_t i = 0; i < n && !s;) {
        int64_t j = gpt2_match(cp, cl, n, i);
        int64_t nb = 0;
        for (int64_t k = i; k < j; k++) {
            char buf[4];
            int l = ft__utf8_put(cp[k], buf);
            for (int q = 0; q < l; q++) { bytes[nb] = (uint8_t)buf[q]; bsrc[nb] = src[k]; nb++; }
        }
        s = bpe_piece(t, &w, bytes, nb, bsrc, out);
        i = j;
    }
done:
    ft_free(cp);
    ft_free(cl);
    ft_free(src);
    ft_free(bytes);
    ft_free(bsrc);
    ft_free(w.id);
    ft_free(w.next);
    ft_free(w.prev);
    ft_free(w.pos);
    ft_free(w.heap.v);
    ft_free(w.round);
    return s;
}
