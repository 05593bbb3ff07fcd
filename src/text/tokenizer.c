/* Tokenizer common code: vocabulary storage and lookup, UTF-8 decoding, word alignment,
 * batch packing (special tokens, truncation, padding, masks), decoding and directory
 * loading. The three encoders are in wordpiece.c, bpe.c and llama2c.c. */
#include "text/text_internal.h"
#include "finetune/io.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

/* ---------------- hash maps ---------------- */

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static uint32_t pow2_at_least(uint64_t n) {
    uint32_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

ft_status ft__tok_new(ft_tok_kind kind, const char *name, ft_tokenizer **out) {
    *out = NULL;
    ft_tokenizer *t = ft_calloc(1, sizeof *t);
    if (!t) return ft_fail(FT_ENOMEM, "tokenizer: out of memory");
    t->kind = kind;
    t->name = ft_strdup(name ? name : "tokenizer");
    if (!t->name) { ft_free(t); return ft_fail(FT_ENOMEM, "tokenizer: out of memory"); }
    t->sp = (ft_special_tokens){-1, -1, -1, -1, -1, -1, -1};
    t->space_id = -1;
    t->max_chars = 100;
    strcpy(t->cont, "##");
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    *out = t;
    return FT_OK;
}

void ft_tokenizer_free(ft_tokenizer *t) {
    if (!t) return;
    ft_free(t->name);
    ft_free(t->blob);
    ft_free(t->off);
    ft_free(t->map.slot);
    ft__pairmap_free(&t->merges);
    ft_free(t->scores);
    ft_free(t);
}

/* Builds blob/off/map from pieces. A string that occurs twice is looked up as its last id for
 * WordPiece (transformers' load_vocab fills a dict line by line) and its first id otherwise. */
ft_status ft__tok_set_vocab(ft_tokenizer *t, int32_t n, const char *const *pieces, const size_t *lens) {
    if (n <= 0) return ft_fail(FT_EFORMAT, "%s: the vocabulary is empty", t->name);
    if (n > FT_TEXT_MAX_VOCAB)
        return ft_fail(FT_EFORMAT, "%s: %d tokens, more than the limit of %d", t->name, n, FT_TEXT_MAX_VOCAB);
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (lens[i] > FT_TEXT_MAX_BYTES || total > FT_TEXT_MAX_BYTES)
            return ft_fail(FT_EFORMAT, "%s: the vocabulary is too large", t->name);
        total += lens[i] + 1;
    }
    t->blob = ft_malloc(total ? total : 1);
    t->off = ft_malloc(((size_t)n + 1) * sizeof *t->off);
    t->map.cap = pow2_at_least((uint64_t)n * 2);
    t->map.slot = ft_malloc((size_t)t->map.cap * sizeof *t->map.slot);
    if (!t->blob || !t->off || !t->map.slot) return ft_fail(FT_ENOMEM, "%s: out of memory", t->name);
    memset(t->map.slot, 0xff, (size_t)t->map.cap * sizeof *t->map.slot);
    int64_t o = 0;
    for (int32_t i = 0; i < n; i++) {
        t->off[i] = o;
        if (lens[i]) memcpy(t->blob + o, pieces[i], lens[i]);
        t->blob[o + (int64_t)lens[i]] = 0;
        o += (int64_t)lens[i] + 1;
    }
    t->off[n] = o;
    t->n_vocab = n;
    uint32_t mask = t->map.cap - 1;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = ft__piece(t, i, &len);
        uint32_t h = fnv1a(s, len) & mask;
        for (;;) {
            int32_t id = t->map.slot[h];
            if (id < 0) { t->map.slot[h] = i; break; }
            size_t l2;
            const char *s2 = ft__piece(t, id, &l2);
            if (l2 == len && memcmp(s, s2, len) == 0) { /* duplicate string */
                if (t->kind == FT_TOK_WORDPIECE) t->map.slot[h] = i; /* HF's load_vocab: the last line wins */
                break;
            }
            h = (h + 1) & mask;
        }
    }
    return FT_OK;
}

int32_t ft__tok_lookup(const ft_tokenizer *t, const char *s, size_t len) {
    if (!t->map.slot) return -1;
    uint32_t mask = t->map.cap - 1, h = fnv1a(s, len) & mask;
    for (;;) {
        int32_t id = t->map.slot[h];
        if (id < 0) return -1;
        size_t l2;
        const char *s2 = ft__piece(t, id, &l2);
        if (l2 == len && memcmp(s, s2, len) == 0) return id;
        h = (h + 1) & mask;
    }
}

static uint32_t hash64(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL; k ^= k >> 33;
    return (uint32_t)k;
}

ft_status ft__pairmap_init(ft_pairmap *m, uint32_t n) {
    m->cap = pow2_at_least((uint64_t)n * 2);
    m->key = ft_calloc(m->cap, sizeof *m->key);
    m->rank = ft_malloc((size_t)m->cap * sizeof *m->rank);
    m->merged = ft_malloc((size_t)m->cap * sizeof *m->merged);
    if (!m->key || !m->rank || !m->merged) return ft_fail(FT_ENOMEM, "BPE merges: out of memory");
    return FT_OK;
}

void ft__pairmap_free(ft_pairmap *m) {
    ft_free(m->key);
    ft_free(m->rank);
    ft_free(m->merged);
    memset(m, 0, sizeof *m);
}

bool ft__pairmap_put(ft_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    uint64_t k = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint32_t mask = m->cap - 1, h = hash64(k) & mask;
    while (m->key[h]) {
        if (m->key[h] == k) { m->rank[h] = rank; m->merged[h] = merged; return false; }
        h = (h + 1) & mask;
    }
    m->key[h] = k;
    m->rank[h] = rank;
    m->merged[h] = merged;
    return true;
}

bool ft__pairmap_get(const ft_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged) {
    if (!m->key) return false;
    uint64_t k = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint32_t mask = m->cap - 1, h = hash64(k) & mask;
    while (m->key[h]) {
        if (m->key[h] == k) { *rank = m->rank[h]; *merged = m->merged[h]; return true; }
        h = (h + 1) & mask;
    }
    return false;
}

/* ---------------- UTF-8 ---------------- */

uint32_t ft__utf8_next(const uint8_t *s, size_t n, size_t *i) {
    uint8_t b = s[*i];
    if (b < 0x80) { (*i)++; return b; }
    int need;
    uint32_t cp;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) { need = 1; cp = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2; cp = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3; cp = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else { (*i)++; return 0xFFFD; }
    size_t j = *i + 1;
    for (int k = 0; k < need; k++, j++) {
        if (j >= n || s[j] < lo || s[j] > hi) { *i = j; return 0xFFFD; }
        cp = (cp << 6) | (s[j] & 0x3F);
        lo = 0x80; hi = 0xBF;
    }
    *i = j;
    return cp;
}

int ft__utf8_put(uint32_t cp, char *buf) {
    uint8_t *o = (uint8_t *)buf;
    if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | (cp >> 6)); o[1] = (uint8_t)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12)); o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18)); o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

bool ft__is_white_space(uint32_t cp) {
    if ((cp >= 9 && cp <= 13) || cp == 0x20 || cp == 0x85) return true;
    if (cp < 0x80) return false;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* ---------------- lists ---------------- */

static ft_status list_reserve(ft_token_list *l, int64_t need) {
    if (need <= l->cap) return FT_OK;
    int64_t cap = l->cap ? l->cap : 16;
    while (cap < need) cap *= 2;
    int32_t *a = ft_realloc(l->ids, (size_t)cap * sizeof *a);
    if (!a) return ft_fail(FT_ENOMEM, "tokenizer: out of memory");
    l->ids = a;
    int32_t *b = ft_realloc(l->start, (size_t)cap * sizeof *b);
    if (!b) return ft_fail(FT_ENOMEM, "tokenizer: out of memory");
    l->start = b;
    int32_t *c = ft_realloc(l->word, (size_t)cap * sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "tokenizer: out of memory");
    l->word = c;
    l->cap = cap;
    return FT_OK;
}

ft_status ft__list_push(ft_token_list *l, int32_t id, int32_t start) {
    if (l->n == l->cap) {
        ft_status s = list_reserve(l, l->n + 1);
        if (s) return s;
    }
    l->ids[l->n] = id;
    l->start[l->n] = start;
    l->word[l->n] = -1;
    l->n++;
    return FT_OK;
}

void ft_token_list_free(ft_token_list *l) {
    if (!l) return;
    ft_free(l->ids);
    ft_free(l->start);
    ft_free(l->word);
    memset(l, 0, sizeof *l);
}

ft_status ft__i32_push(ft__i32vec *v, int32_t x) {
    if (v->n == v->cap) {
        int64_t cap = v->cap ? v->cap * 2 : 16;
        int32_t *a = ft_realloc(v->v, (size_t)cap * sizeof *a);
        if (!a) return ft_fail(FT_ENOMEM, "tokenizer: out of memory");
        v->v = a;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return FT_OK;
}

/* ---------------- accessors ---------------- */

ft_tok_kind ft_tokenizer_kind(const ft_tokenizer *t) { return t->kind; }
int32_t ft_tokenizer_vocab_size(const ft_tokenizer *t) { return t->n_vocab; }
const ft_special_tokens *ft_tokenizer_specials(const ft_tokenizer *t) { return &t->sp; }
const float *ft_tokenizer_scores(const ft_tokenizer *t) { return t->kind == FT_TOK_LLAMA2C ? t->scores : NULL; }

const char *ft_tokenizer_piece(const ft_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n_vocab) { if (len) *len = 0; return NULL; }
    size_t l;
    const char *s = ft__piece(t, id, &l);
    if (len) *len = l;
    return s;
}

int32_t ft_tokenizer_piece_id(const ft_tokenizer *t, const char *piece, size_t len) {
    return ft__tok_lookup(t, piece, len);
}

/* ---------------- encoding + word alignment ---------------- */

/* word_starts: sorted byte offsets where each word starts. Assigns word ids to tokens
 * [first, out->n) from their byte ranges [start, end). */
static void assign_words(const char *text, size_t len, ft_token_list *out, int64_t first,
                         const int32_t *word_starts, int64_t n_words) {
    const uint8_t *s = (const uint8_t *)text;
    for (int64_t k = first; k < out->n; k++) {
        size_t p = (size_t)out->start[k];
        /* first non-white-space code point at or after start */
        for (;;) {
            if (p >= len) break;
            size_t q = p;
            uint32_t cp = ft__utf8_next(s, len, &q);
            if (!ft__is_white_space(cp)) break;
            p = q;
        }
        int64_t lo = 0, hi = n_words; /* last word start <= p */
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if ((size_t)word_starts[mid] <= p) lo = mid + 1; else hi = mid;
        }
        int64_t w = lo - 1;
        if (w < 0) w = 0;
        if (n_words == 0) w = 0;
        out->word[k] = (int32_t)w;
    }
}

static ft_status encode_raw(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out) {
    if (!t || !out || (!text && len)) return ft_fail(FT_EINVAL, "tokenizer encode: NULL argument");
    if (len > FT_TEXT_MAX_BYTES)
        return ft_fail(FT_EINVAL, "%s: text of %zu bytes is longer than the limit of %zu", t->name, len,
                       FT_TEXT_MAX_BYTES);
    switch (t->kind) {
    case FT_TOK_WORDPIECE: return ft__wordpiece_encode(t, text, len, out);
    case FT_TOK_BPE: return ft__bpe_encode(t, text, len, out);
    case FT_TOK_LLAMA2C: return ft__llama2c_encode(t, text, len, out);
    }
    return ft_fail(FT_EINVAL, "tokenizer: bad kind");
}

ft_status ft_tokenizer_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out) {
    ft__i32vec starts = {0};
    int64_t first = out ? out->n : 0;
    ft_status s = encode_raw(t, text, len, out);
    if (s == FT_OK) { /* words: maximal runs of non-white-space code points */
        const uint8_t *u = (const uint8_t *)text;
        bool in_word = false;
        for (size_t i = 0; i < len && s == FT_OK;) {
            size_t p = i;
            uint32_t cp = ft__utf8_next(u, len, &i);
            bool ws = ft__is_white_space(cp);
            if (!ws && !in_word) s = ft__i32_push(&starts, (int32_t)p);
            in_word = !ws;
        }
        if (s == FT_OK) assign_words(text, len, out, first, starts.v, starts.n);
    }
    if (s && out) out->n = first;
    ft_free(starts.v);
    return s;
}

ft_status ft_tokenizer_encode_words(const ft_tokenizer *t, const char *const *words, int64_t n_words,
                                    ft_token_list *out) {
    if (!t || !out || (n_words && !words) || n_words < 0)
        return ft_fail(FT_EINVAL, "tokenizer encode_words: bad argument");
    size_t total = 0;
    for (int64_t w = 0; w < n_words; w++) {
        if (!words[w]) return ft_fail(FT_EINVAL, "tokenizer encode_words: word %lld is NULL", (long long)w);
        total += strlen(words[w]) + 1;
        if (total > FT_TEXT_MAX_BYTES) return ft_fail(FT_EINVAL, "%s: words too long in total", t->name);
    }
    bool lead = t->kind == FT_TOK_BPE;
    char *buf = ft_malloc(total + 1);
    int32_t *starts = ft_malloc(((size_t)n_words + 1) * sizeof *starts);
    if (!buf || !starts) { ft_free(buf); ft_free(starts); return ft_fail(FT_ENOMEM, "tokenizer: out of memory"); }
    size_t n = 0;
    for (int64_t w = 0; w < n_words; w++) {
        if (w > 0 || lead) buf[n++] = ' ';
        starts[w] = (int32_t)n;
        size_t l = strlen(words[w]);
        memcpy(buf + n, words[w], l);
        n += l;
    }
    buf[n] = 0;
    int64_t first = out->n;
    ft_status s = encode_raw(t, buf, n, out);
    if (s == FT_OK) assign_words(buf, n, out, first, starts, n_words);
    else out->n = first;
    ft_free(buf);
    ft_free(starts);
    return s;
}

/* ---------------- batches ---------------- */

void ft_text_batch_free(ft_text_batch *b) {
    if (!b) return;
    ft_free(b->ids);
    ft_free(b->mask);
    ft_free(b->word);
    ft_free(b->length);
    memset(b, 0, sizeof *b);
}

ft_status ft_text_batch_pack(const ft_tokenizer *t, const ft_token_list *rows, int64_t n,
                             const ft_batch_opts *o, ft_text_batch *out) {
    if (!t || !o || !out || n < 0 || (n && !rows)) return ft_fail(FT_EINVAL, "batch: bad argument");
    memset(out, 0, sizeof *out);
    int32_t pre = -1, post = -1;
    if (o->add_special) {
        if (t->kind == FT_TOK_WORDPIECE) {
            if (t->sp.cls < 0 || t->sp.sep < 0)
                return ft_fail(FT_EINVAL, "%s: the vocabulary has no [CLS]/[SEP] token for add_special", t->name);
            pre = t->sp.cls;
            post = t->sp.sep;
        } else {
            if (t->sp.bos < 0) return ft_fail(FT_EINVAL, "%s: the vocabulary has no BOS token", t->name);
            pre = t->sp.bos;
            if (o->add_eos) {
                if (t->sp.eos < 0) return ft_fail(FT_EINVAL, "%s: the vocabulary has no EOS token", t->name);
                post = t->sp.eos;
            }
        }
    }
    int64_t n_special = (pre >= 0) + (post >= 0);
    if (o->max_len < 0 || (o->max_len > 0 && o->max_len < n_special) || (o->pad_to_max && o->max_len <= 0))
        return ft_fail(FT_EINVAL, "batch: max_len %lld is too small for %lld special tokens",
                       (long long)o->max_len, (long long)n_special);
    int32_t pad = o->pad_id >= 0 ? o->pad_id : (t->sp.pad >= 0 ? t->sp.pad : t->sp.eos);
    if (pad < 0 || pad >= t->n_vocab)
        return ft_fail(FT_EINVAL, "%s: no pad id (the vocabulary has no pad token; set pad_id)", t->name);
    int64_t seq = 0;
    for (int64_t b = 0; b < n; b++) {
        int64_t l = rows[b].n + n_special;
        if (o->max_len > 0 && l > o->max_len) l = o->max_len;
        if (l > seq) seq = l;
    }
    if (o->pad_to_max) seq = o->max_len;
    if (seq > INT32_MAX || (n && seq > (int64_t)(SIZE_MAX / 16) / n)) return ft_fail(FT_EINVAL, "batch: too large");
    size_t cells = (size_t)(n * seq);
    out->ids = ft_malloc((cells ? cells : 1) * sizeof(int32_t));
    out->mask = ft_malloc((cells ? cells : 1) * sizeof(int32_t));
    out->word = ft_malloc((cells ? cells : 1) * sizeof(int32_t));
    out->length = ft_malloc(((size_t)n + 1) * sizeof(int32_t));
    if (!out->ids || !out->mask || !out->word || !out->length) {
        ft_text_batch_free(out);
        return ft_fail(FT_ENOMEM, "batch: out of memory");
    }
    out->batch = n;
    out->seq = seq;
    for (int64_t b = 0; b < n; b++) {
        int32_t *ids = out->ids + b * seq, *mask = out->mask + b * seq, *word = out->word + b * seq;
        int64_t keep = rows[b].n;
        if (o->max_len > 0 && keep + n_special > o->max_len) {
            keep = o->max_len - n_special;
            out->truncated++;
        }
        int64_t k = 0;
        if (pre >= 0) { ids[k] = pre; word[k] = -1; k++; }
        for (int64_t i = 0; i < keep; i++, k++) {
            int32_t id = rows[b].ids[i];
            if (id < 0 || id >= t->n_vocab) {
                ft_text_batch_free(out);
                return ft_fail(FT_EINVAL, "batch: row %lld has token id %d outside the vocabulary of %d",
                               (long long)b, id, t->n_vocab);
            }
            ids[k] = id;
            word[k] = rows[b].word ? rows[b].word[i] : -1;
        }
        if (post >= 0) { ids[k] = post; word[k] = -1; k++; }
        out->length[b] = (int32_t)k;
        for (int64_t i = 0; i < seq; i++) mask[i] = i < k;
        for (int64_t i = k; i < seq; i++) { ids[i] = pad; word[i] = -1; }
    }
    return FT_OK;
}

ft_status ft_tokenizer_encode_batch(const ft_tokenizer *t, const char *const *texts, int64_t n,
                                    const ft_batch_opts *o, ft_text_batch *out) {
    if (!t || n < 0 || (n && !texts)) return ft_fail(FT_EINVAL, "encode_batch: bad argument");
    ft_token_list *rows = ft_calloc(n ? (size_t)n : 1, sizeof *rows);
    if (!rows) return ft_fail(FT_ENOMEM, "encode_batch: out of memory");
    ft_status s = FT_OK;
    for (int64_t b = 0; b < n && s == FT_OK; b++) {
        if (!texts[b]) s = ft_fail(FT_EINVAL, "encode_batch: text %lld is NULL", (long long)b);
        else s = ft_tokenizer_encode(t, texts[b], strlen(texts[b]), &rows[b]);
    }
    if (s == FT_OK) s = ft_text_batch_pack(t, rows, n, o, out);
    for (int64_t b = 0; b < n; b++) ft_token_list_free(&rows[b]);
    ft_free(rows);
    return s;
}

/* ---------------- decoding ---------------- */

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static bool sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = ft_realloc(b->p, cap);
        if (!q) return false;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return true;
}

static bool is_special(const ft_tokenizer *t, int32_t id) {
    const ft_special_tokens *s = &t->sp;
    return id == s->pad || id == s->unk || id == s->bos || id == s->eos || id == s->cls || id == s->sep ||
           id == s->mask;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ft_status ft_tokenizer_decode(const ft_tokenizer *t, const int32_t *ids, int64_t n, bool skip_special,
                              char **text, size_t *len) {
    if (!t || !text || n < 0 || (n && !ids)) return ft_fail(FT_EINVAL, "decode: bad argument");
    *text = NULL;
    if (len) *len = 0;
    sbuf b = {0};
    if (!sb_put(&b, "", 0)) return ft_fail(FT_ENOMEM, "decode: out of memory");
    uint8_t cp_byte[512];
    if (t->kind == FT_TOK_BPE) {
        memset(cp_byte, 0, sizeof cp_byte);
        for (int i = 0; i < 256; i++) cp_byte[t->byte_cp[i]] = (uint8_t)i;
    }
    bool ok = true, first = true;
    for (int64_t k = 0; k < n && ok; k++) {
        int32_t id = ids[k];
        if (id < 0 || id >= t->n_vocab) {
            ft_free(b.p);
            return ft_fail(FT_EINVAL, "decode: token id %d at position %lld is outside the vocabulary of %d", id,
                           (long long)k, t->n_vocab);
        }
        if (skip_special && is_special(t, id)) continue;
        size_t pl;
        const char *p = ft__piece(t, id, &pl);
        if (t->kind == FT_TOK_LLAMA2C) {
            /* run.c: after BOS (id 1) a leading space is dropped; "<0xXX>" is the raw byte */
            int32_t prev = k > 0 ? ids[k - 1] : -1;
            if (prev == 1 && pl > 0 && p[0] == ' ') { p++; pl--; }
            if (pl == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' && hexval(p[3]) >= 0 &&
                hexval(p[4]) >= 0) {
                char c = (char)(hexval(p[3]) * 16 + hexval(p[4]));
                ok = sb_put(&b, &c, 1);
            } else {
                ok = sb_put(&b, p, pl);
            }
        } else if (t->kind == FT_TOK_BPE) {
            size_t i = 0;
            while (i < pl && ok) {
                size_t j = i;
                uint32_t cp = ft__utf8_next((const uint8_t *)p, pl, &j);
                if (cp < 512 && (cp_byte[cp] || t->byte_cp[0] == cp)) {
                    char c = (char)cp_byte[cp];
                    ok = sb_put(&b, &c, 1);
                } else {
                    ok = sb_put(&b, p + i, j - i);
                }
                i = j;
            }
        } else {
            size_t cl = strlen(t->cont);
            if (pl >= cl && cl > 0 && memcmp(p, t->cont, cl) == 0 && !first) {
                ok = sb_put(&b, p + cl, pl - cl);
            } else {
                if (!first) ok = sb_put(&b, " ", 1);
                if (ok) ok = sb_put(&b, p, pl);
            }
        }
        first = false;
    }
    if (!ok) { ft_free(b.p); return ft_fail(FT_ENOMEM, "decode: out of memory"); }
    *text = b.p;
    if (len) *len = b.n;
    return FT_OK;
}

/* ---------------- loading from files ---------------- */

#define MAX_TOKENIZER_FILE ((size_t)1 << 30)

ft_status ft_tokenizer_load_wordpiece(const char *path, bool lower_case, ft_tokenizer **out) {
    uint8_t *d;
    size_t n;
    ft_status s = ft_read_file(path, MAX_TOKENIZER_FILE, &d, &n);
    if (s) return s;
    s = ft_tokenizer_from_wordpiece((const char *)d, n, lower_case, path, out);
    ft_free(d);
    return s;
}

ft_status ft_tokenizer_load_bpe(const char *vocab_json, const char *merges_txt, ft_tokenizer **out) {
    uint8_t *v, *m;
    size_t nv, nm;
    ft_status s = ft_read_file(vocab_json, MAX_TOKENIZER_FILE, &v, &nv);
    if (s) return s;
    s = ft_read_file(merges_txt, MAX_TOKENIZER_FILE, &m, &nm);
    if (s) { ft_free(v); return s; }
    s = ft_tokenizer_from_bpe((const char *)v, nv, (const char *)m, nm, vocab_json, out);
    ft_free(v);
    ft_free(m);
    return s;
}

ft_status ft_tokenizer_load_hf_json(const char *path, ft_tokenizer **out) {
    uint8_t *d;
    size_t n;
    ft_status s = ft_read_file(path, MAX_TOKENIZER_FILE, &d, &n);
    if (s) return s;
    s = ft_tokenizer_from_hf_json((const char *)d, n, path, out);
    ft_free(d);
    return s;
}

ft_status ft_tokenizer_load_llama2c(const char *path, ft_tokenizer **out) {
    uint8_t *d;
    size_t n;
    ft_status s = ft_read_file(path, MAX_TOKENIZER_FILE, &d, &n);
    if (s) return s;
    s = ft_tokenizer_from_llama2c(d, n, path, out);
    ft_free(d);
    return s;
}

static bool exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

ft_status ft_tokenizer_load_dir(const char *dir, ft_tokenizer **out) {
    if (!dir || !out) return ft_fail(FT_EINVAL, "load tokenizer: NULL argument");
    *out = NULL;
    size_t dl = strlen(dir);
    char *a = ft_malloc(dl + 32), *b = ft_malloc(dl + 32);
    if (!a || !b) { ft_free(a); ft_free(b); return ft_fail(FT_ENOMEM, "load tokenizer: out of memory"); }
    ft_status s;
    snprintf(a, dl + 32, "%s/tokenizer.json", dir);
    if (exists(a)) { s = ft_tokenizer_load_hf_json(a, out); goto done; }
    snprintf(a, dl + 32, "%s/vocab.json", dir);
    snprintf(b, dl + 32, "%s/merges.txt", dir);
    if (exists(a) || exists(b)) {
        if (!exists(a) || !exists(b)) {
            s = ft_fail(FT_ENOTFOUND, "%s: has %s but not %s (a BPE tokenizer needs both)", dir,
                        exists(a) ? "vocab.json" : "merges.txt", exists(a) ? "merges.txt" : "vocab.json");
            goto done;
        }
        s = ft_tokenizer_load_bpe(a, b, out);
        goto done;
    }
    snprintf(a, dl + 32, "%s/vocab.txt", dir);
    if (exists(a)) {
        bool lower = true;
        snprintf(b, dl + 32, "%s/tokenizer_config.json", dir);
        if (exists(b)) {
            json_error_t e;
            json_t *cfg = json_load_file(b, 0, &e);
            if (!cfg) { s = ft_fail(FT_EFORMAT, "%s:%d: %s", b, e.line, e.text); goto done; }
            json_t *v = json_object_get(cfg, "do_lower_case");
            if (json_is_boolean(v)) lower = json_is_true(v);
            json_decref(cfg);
        }
        s = ft_tokenizer_load_wordpiece(a, lower, out);
        goto done;
    }
    s = ft_fail(FT_ENOTFOUND, "%s: no tokenizer found (looked for tokenizer.json, vocab.json + merges.txt, vocab.txt)",
                dir);
done:
    ft_free(a);
    ft_free(b);
    return s;
}
