/* Text datasets: sequence classification (TSV/CSV/JSONL), token classification (CoNLL) and
 * causal LM (plain text, JSONL, TSV/CSV), tokenised once at open with the model's tokenizer.
 * Layout of an example and the rules: include/finetune/tasks.h, docs/data.md. */
#include "finetune/tasks.h"
#include "finetune/io.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEXT_MAX_FILE ((size_t)1 << 31) /* 2 GiB */
#define MAX_LABELS 100000

const char *ft_task_name(ft_task t) {
    switch (t) {
    case FT_TASK_CLASSIFY: return "classify";
    case FT_TASK_SEQ_CLS: return "seq-cls";
    case FT_TASK_TOKEN_CLS: return "token-cls";
    case FT_TASK_LM: return "lm";
    case FT_TASK_CTC: return "ctc";
    }
    return "?";
}

ft_status ft_task_parse(const char *name, ft_task *out) {
    for (int t = FT_TASK_CLASSIFY; t <= FT_TASK_CTC; t++)
        if (name && !strcmp(name, ft_task_name((ft_task)t))) { *out = (ft_task)t; return FT_OK; }
    if (name && !strcmp(name, "asr")) { *out = FT_TASK_CTC; return FT_OK; }
    return ft_fail(FT_EINVAL, "unknown task '%s' (seq-cls, token-cls, lm, ctc)", name ? name : "");
}

ft_task ft_text_spec_task(const char *spec) {
    if (!spec) return FT_TASK_CLASSIFY;
    if (!strncmp(spec, "seq-cls:", 8)) return FT_TASK_SEQ_CLS;
    if (!strncmp(spec, "token-cls:", 10)) return FT_TASK_TOKEN_CLS;
    if (!strncmp(spec, "lm:", 3)) return FT_TASK_LM;
    return FT_TASK_CLASSIFY;
}

/* ---------------- growable arrays ---------------- */
typedef struct { int32_t *v; int64_t n, cap; } i32vec;
static ft_status i32_push(i32vec *a, int32_t x) {
    if (a->n == a->cap) {
        int64_t cap = a->cap ? a->cap * 2 : 1024;
        int32_t *p = ft_realloc(a->v, (size_t)cap * sizeof *p);
        if (!p) return ft_fail(FT_ENOMEM, "out of memory for %lld tokens", (long long)cap);
        a->v = p;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return FT_OK;
}
typedef struct { int64_t *v; int64_t n, cap; } i64vec;
static ft_status i64_push(i64vec *a, int64_t x) {
    if (a->n == a->cap) {
        int64_t cap = a->cap ? a->cap * 2 : 256;
        int64_t *p = ft_realloc(a->v, (size_t)cap * sizeof *p);
        if (!p) return ft_fail(FT_ENOMEM, "out of memory for %lld rows", (long long)cap);
        a->v = p;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return FT_OK;
}

/* A set of label strings in insertion order, looked up linearly through a small hash. */
typedef struct {
    char **name;
    int n, cap;
    int *slot; /* open addressing, -1 empty */
    int nslot;
} labelset;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}
static int ls_find(const labelset *l, const char *s) {
    if (!l->nslot) return -1;
    for (uint64_t i = hash_str(s) & (uint64_t)(l->nslot - 1);; i = (i + 1) & (uint64_t)(l->nslot - 1)) {
        int k = l->slot[i];
        if (k < 0) return -1;
        if (!strcmp(l->name[k], s)) return k;
    }
}
static ft_status ls_rehash(labelset *l, int nslot) {
    int *slot = ft_malloc((size_t)nslot * sizeof *slot);
    if (!slot) return ft_fail(FT_ENOMEM, "out of memory for labels");
    for (int i = 0; i < nslot; i++) slot[i] = -1;
    for (int k = 0; k < l->n; k++) {
        uint64_t i = hash_str(l->name[k]) & (uint64_t)(nslot - 1);
        while (slot[i] >= 0) i = (i + 1) & (uint64_t)(nslot - 1);
        slot[i] = k;
    }
    ft_free(l->slot);
    l->slot = slot;
    l->nslot = nslot;
    return FT_OK;
}
static ft_status ls_add(labelset *l, const char *s, int *id) {
    int k = ls_find(l, s);
    if (k >= 0) { *id = k; return FT_OK; }
    if (l->n >= MAX_LABELS) return ft_fail(FT_EINVAL, "more than %d distinct labels", MAX_LABELS);
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **p = ft_realloc(l->name, (size_t)cap * sizeof *p);
        if (!p) return ft_fail(FT_ENOMEM, "out of memory for labels");
        l->name = p;
        l->cap = cap;
    }
    if (!(l->name[l->n] = ft_strdup(s))) return ft_fail(FT_ENOMEM, "out of memory for labels");
    l->n++;
    if (l->n * 2 > l->nslot) {
        ft_status st = ls_rehash(l, l->nslot ? l->nslot * 2 : 64);
        if (st) return st;
    } else {
        uint64_t i = hash_str(s) & (uint64_t)(l->nslot - 1);
        while (l->slot[i] >= 0) i = (i + 1) & (uint64_t)(l->nslot - 1);
        l->slot[i] = l->n - 1;
    }
    *id = l->n - 1;
    return FT_OK;
}
static void ls_free(labelset *l) {
    for (int k = 0; k < l->n; k++) ft_free(l->name[k]);
    ft_free(l->name);
    ft_free(l->slot);
    memset(l, 0, sizeof *l);
}

/* ---------------- the dataset ---------------- */
typedef struct {
    ft_task task;
    int64_t T;
    int32_t pad;
    /* seq-cls, token-cls: rows in CSR form (off[n+1]); token-cls also a target per token */
    int64_t *off;
    int32_t *ids, *tgt, *y;
    /* lm: the packed stream */
    int64_t stream_len;
    ft_text_counts counts;
} text_impl;

static ft_status text_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *xv, int32_t *y) {
    (void)ctx;
    const text_impl *t = ds->impl;
    if (i < 0 || i >= ds->n) return ft_fail(FT_EINVAL, "%s: example %lld out of range", ds->name, (long long)i);
    int32_t *ids = xv, *mask = ids + t->T, *tgt = mask + t->T;
    int64_t T = t->T;
    if (t->task == FT_TASK_LM) {
        int64_t s0 = i * T;
        for (int64_t k = 0; k < T; k++) {
            int64_t p = s0 + k;
            bool real = p < t->stream_len;
            ids[k] = real ? t->ids[p] : t->pad;
            mask[k] = real;
            tgt[k] = real && p + 1 < t->stream_len ? t->ids[p + 1] : FT_IGNORE_INDEX;
        }
        *y = 0;
        return FT_OK;
    }
    int64_t a = t->off[i], len = t->off[i + 1] - a;
    for (int64_t k = 0; k < T; k++) {
        bool real = k < len;
        ids[k] = real ? t->ids[a + k] : t->pad;
        mask[k] = real;
        tgt[k] = real && t->tgt ? t->tgt[a + k] : FT_IGNORE_INDEX;
    }
    *y = t->y ? t->y[i] : 0;
    return FT_OK;
}

static void text_free(ft_dataset *ds) {
    text_impl *t = ds->impl;
    if (!t) return;
    ft_free(t->off);
    ft_free(t->ids);
    ft_free(t->tgt);
    ft_free(t->y);
    ft_free(t);
}

ft_status ft_text_dataset_counts(const ft_dataset *ds, ft_text_counts *out) {
    if (!ds || ds->free_impl != text_free) return ft_fail(FT_EINVAL, "not a text dataset");
    *out = ((const text_impl *)ds->impl)->counts;
    return FT_OK;
}

/* ---------------- UTF-8 ---------------- */
/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid (then one maximal invalid
 * subsequence is skipped by `invalid_len`, WHATWG style). */
static int utf8_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if ((size_t)len > n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int k = 2; k < len; k++) if (p[k] < 0x80 || p[k] > 0xBF) return 0;
    return len;
}
static size_t invalid_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    uint8_t lo = 0x80, hi = 0xBF;
    int need;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) { need = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 1;
    size_t k = 1;
    while ((int)k < need && k < n) {
        uint8_t b = p[k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) break;
        k++;
    }
    return k;
}

/* A NUL-terminated copy of s[0..n) with each maximal invalid UTF-8 subsequence replaced by
 * U+FFFD (and NUL bytes by U+FFFD too, so the text survives C strings). *bad: any replaced. */
static char *clean_text(const char *s, size_t n, bool *bad) {
    char *o = ft_malloc(n * 3 + 1);
    if (!o) return NULL;
    size_t j = 0;
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        int l = p[i] ? utf8_len(p + i, n - i) : 0;
        if (l) { memcpy(o + j, p + i, (size_t)l); j += (size_t)l; i += (size_t)l; continue; }
        *bad = true;
        memcpy(o + j, "\xEF\xBF\xBD", 3);
        j += 3;
        i += p[i] ? invalid_len(p + i, n - i) : 1;
    }
    o[j] = 0;
    return o;
}

/* ---------------- lines and fields ---------------- */
typedef struct {
    const char *p, *end;
    int64_t line; /* 1-based number of the line last returned */
} line_reader;

/* Next line without its "\n" / "\r\n"; false at the end. */
static bool next_line(line_reader *r, const char **s, size_t *n) {
    if (r->p >= r->end) return false;
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    const char *e = nl ? nl : r->end;
    *s = r->p;
    *n = (size_t)(e - r->p);
    if (*n && (*s)[*n - 1] == '\r') (*n)--;
    r->p = nl ? nl + 1 : r->end;
    r->line++;
    return true;
}

#define MAX_FIELDS 64
typedef struct { const char *s; size_t n; bool quoted; } field;

/* Splits a TSV line on tabs (no quoting, as GLUE writes it). */
static int split_tsv(const char *s, size_t n, field *f) {
    int k = 0;
    size_t a = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '\t') {
            if (k == MAX_FIELDS) return -1;
            f[k++] = (field){s + a, i - a, false};
            a = i + 1;
        }
    }
    return k;
}

/* One CSV record (RFC 4180: quoted fields may hold commas, "" and newlines). Quoted fields
 * point into `buf` (unescaped); returns the number of fields, -1 for too many, -2 for an
 * unterminated quote. Advances the reader over every physical line the record used. */
static int read_csv_record(line_reader *r, field *f, char *buf, size_t cap) {
    const char *p = r->p, *end = r->end;
    int k = 0;
    size_t used = 0;
    r->line++;
    for (;;) {
        if (k == MAX_FIELDS) return -1;
        if (p < end && *p == '"') {
            p++;
            char *o = buf + used;
            size_t m = 0;
            for (;;) {
                if (p >= end) return -2;
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') { if (used + m < cap) o[m++] = '"'; p += 2; continue; }
                    p++;
                    break;
                }
                if (*p == '\n') r->line++;
                if (used + m < cap) o[m++] = *p;
                p++;
            }
            f[k++] = (field){o, m, true};
            used += m;
            while (p < end && *p != ',' && *p != '\n') p++; /* junk after the closing quote: dropped */
        } else {
            const char *a = p;
            while (p < end && *p != ',' && *p != '\n') p++;
            size_t m = (size_t)(p - a);
            if (m && a[m - 1] == '\r' && (p >= end || *p == '\n')) m--;
            f[k++] = (field){a, m, false};
        }
        if (p < end && *p == ',') { p++; continue; }
        if (p < end && *p == '\n') p++;
        break;
    }
    r->p = p;
    return k;
}

static bool field_is(const field *f, const char *name) {
    size_t n = f->n;
    const char *s = f->s;
    while (n && (*s == ' ')) { s++; n--; }
    while (n && s[n - 1] == ' ') n--;
    return strlen(name) == n && !strncasecmp(s, name, n);
}

static bool is_uint(const char *s) {
    if (!*s || strlen(s) > 9) return false;
    for (; *s; s++) if (*s < '0' || *s > '9') return false;
    return true;
}

/* ---------------- tokenisation of one row ---------------- */
typedef struct {
    const ft_text_opts *o;
    const ft_tokenizer *tok;
    const ft_special_tokens *sp;
    ft_token_list tl;
    i32vec ids, tgt;
    i64vec off;
    int64_t longest;
    ft_text_counts c;
} builder;

/* Specials around a row: WordPiece [CLS] ... [SEP]; BPE/llama2.c BOS first. */
static int n_lead(const builder *b) {
    return ft_tokenizer_kind(b->tok) == FT_TOK_WORDPIECE ? (b->sp->cls >= 0) : (b->sp->bos >= 0);
}
static int n_tail(const builder *b) { return ft_tokenizer_kind(b->tok) == FT_TOK_WORDPIECE && b->sp->sep >= 0; }

/* Appends the encoded row (b->tl) with specials, truncated to max_len; per-token targets
 * from word_tag (token-cls: the tag of word w on its first token) when non-NULL. */
static ft_status add_row(builder *b, const int32_t *word_tag, int64_t n_words) {
    int lead = n_lead(b), tail = n_tail(b);
    int64_t room = b->o->max_len - lead - tail;
    if (room < 1) return ft_fail(FT_EINVAL, "max_len %lld leaves no room for text after the special tokens", (long long)b->o->max_len);
    int64_t n = b->tl.n;
    if (n > room) {
        b->c.truncated++;
        if (word_tag && n_words > 0) /* words whose first token is cut off are not scored */
            b->c.words_dropped += n_words - (b->tl.word[room - 1] + 1);
        n = room;
    }
    ft_status s;
    if ((s = i64_push(&b->off, b->ids.n))) return s;
    if (lead) {
        int32_t id = ft_tokenizer_kind(b->tok) == FT_TOK_WORDPIECE ? b->sp->cls : b->sp->bos;
        if ((s = i32_push(&b->ids, id))) return s;
        if (word_tag && (s = i32_push(&b->tgt, FT_IGNORE_INDEX))) return s;
    }
    int64_t prev_word = -1;
    for (int64_t k = 0; k < n; k++) {
        if ((s = i32_push(&b->ids, b->tl.ids[k]))) return s;
        if (word_tag) {
            int64_t w = b->tl.word[k];
            int32_t t = FT_IGNORE_INDEX;
            if (w >= 0 && w < n_words && w != prev_word) t = word_tag[w];
            if (w >= 0) prev_word = w;
            if ((s = i32_push(&b->tgt, t))) return s;
        }
    }
    if (tail) {
        if ((s = i32_push(&b->ids, b->sp->sep))) return s;
        if (word_tag && (s = i32_push(&b->tgt, FT_IGNORE_INDEX))) return s;
    }
    int64_t len = n + lead + tail;
    if (len > b->longest) b->longest = len;
    b->c.tokens += len;
    return FT_OK;
}

static void note_bad(builder *b, const char *name, int64_t line) {
    if (!b->c.invalid_utf8++) snprintf(b->c.first_invalid, sizeof b->c.first_invalid, "%.120s:%lld", name, (long long)line);
}

/* ---------------- labels ---------------- */
typedef struct {
    labelset seen;      /* names as met in the data (from data) or the fixed set */
    bool fixed;
    i32vec raw;         /* per row: index into seen */
} labels_acc;

static ft_status label_of(labels_acc *la, const char *s, const char *name, int64_t line, int32_t *id) {
    int k = ls_find(&la->seen, s);
    if (k >= 0) { *id = k; return FT_OK; }
    if (la->fixed) {
        char list[256] = "";
        for (int i = 0; i < la->seen.n && strlen(list) < 200; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", la->seen.name[i]);
        if (la->seen.n && strlen(list) >= 200) snprintf(list + strlen(list), sizeof list - strlen(list), ", ...");
        return ft_fail(FT_EINVAL, "%s:%lld: label '%.60s' was not seen in training (labels: %s)", name, (long long)line, s, list);
    }
    ft_status st = ls_add(&la->seen, s, &k);
    *id = k;
    return st;
}

static int cmp_label(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    if (is_uint(x) && is_uint(y)) { long u = atol(x), v = atol(y); return (u > v) - (u < v); }
    return strcmp(x, y);
}
static int cmp_tag(const void *a, const void *b) { /* "O" first, then by name */
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    bool ox = !strcmp(x, "O"), oy = !strcmp(y, "O");
    if (ox || oy) return oy - ox;
    return strcmp(x, y);
}

/* Final class list: the fixed set as given, or the data's labels (integers: 0..max filled in;
 * names: sorted). remap[k] = class of seen label k. */
static ft_status finish_labels(labels_acc *la, bool tags, char ***names_out, int *n_out, int32_t **remap_out) {
    int n = la->seen.n;
    int32_t *remap = ft_malloc((size_t)(n ? n : 1) * sizeof *remap);
    if (!remap) return ft_fail(FT_ENOMEM, "out of memory for labels");
    if (la->fixed) {
        for (int k = 0; k < n; k++) remap[k] = k;
        *names_out = NULL;
        *n_out = n;
        *remap_out = remap;
        return FT_OK;
    }
    bool all_int = !tags && n > 0;
    long mx = -1;
    for (int k = 0; k < n && all_int; k++) {
        all_int = is_uint(la->seen.name[k]);
        if (all_int && atol(la->seen.name[k]) > mx) mx = atol(la->seen.name[k]);
    }
    if (all_int && mx >= MAX_LABELS) all_int = false;
    int nc = all_int ? (int)mx + 1 : n;
    char **names = ft_calloc((size_t)(nc ? nc : 1), sizeof *names);
    if (!names) { ft_free(remap); return ft_fail(FT_ENOMEM, "out of memory for labels"); }
    if (all_int) {
        for (int c = 0; c < nc; c++) {
            char b[16];
            snprintf(b, sizeof b, "%d", c);
            names[c] = ft_strdup(b);
        }
        for (int k = 0; k < n; k++) remap[k] = (int32_t)atol(la->seen.name[k]);
    } else {
        bool oom = false;
        for (int k = 0; k < n; k++) oom |= !(names[k] = ft_strdup(la->seen.name[k]));
        if (!oom) qsort(names, (size_t)n, sizeof *names, tags ? cmp_tag : cmp_label);
        for (int k = 0; k < n; k++)
            for (int c = 0; c < n; c++)
                if (names[c] && !strcmp(names[c], la->seen.name[k])) { remap[k] = c; break; }
    }
    for (int c = 0; c < nc; c++)
        if (!names[c]) {
            for (int j = 0; j < nc; j++) ft_free(names[j]);
            ft_free(names);
            ft_free(remap);
            return ft_fail(FT_ENOMEM, "out of memory for labels");
        }
    *names_out = names;
    *n_out = nc;
    *remap_out = remap;
    return FT_OK;
}

/* ---------------- readers ---------------- */
typedef enum { FMT_TSV, FMT_CSV, FMT_JSONL, FMT_PLAIN } file_fmt;

static file_fmt format_of(const char *name, ft_task task) {
    const char *dot = strrchr(name, '.');
    if (dot && !strcasecmp(dot, ".tsv")) return FMT_TSV;
    if (dot && !strcasecmp(dot, ".csv")) return FMT_CSV;
    if (dot && (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".json") || !strcasecmp(dot, ".ndjson"))) return FMT_JSONL;
    return task == FT_TASK_SEQ_CLS ? FMT_TSV : FMT_PLAIN;
}

static const char *const TEXT_NAMES[] = {"sentence", "text", "content", "review", "document", "sentence1", "tweet", NULL};
static const char *const LABEL_NAMES[] = {"label", "labels", "class", "target", "category", "sentiment", "y", NULL};

/* Column by name or index among the header fields (hdr may be NULL: index only). */
static int find_col(const char *want, const field *hdr, int nf, const char *const *auto_names) {
    if (want) {
        if (is_uint(want)) return atoi(want) < nf ? atoi(want) : -1;
        for (int k = 0; hdr && k < nf; k++) if (field_is(&hdr[k], want)) return k;
        return -1;
    }
    for (int a = 0; hdr && auto_names[a]; a++)
        for (int k = 0; k < nf; k++) if (field_is(&hdr[k], auto_names[a])) return k;
    return -1;
}

/* One text (and, for seq-cls, label) per record of a TSV/CSV/JSONL file, handed to `row`. */
typedef ft_status (*row_fn)(void *u, const char *text, size_t tlen, const char *label, int64_t line);

static ft_status read_table(const char *data, size_t len, const char *name, file_fmt fmt, ft_task task,
                            const ft_text_opts *o, row_fn row, void *u) {
    bool need_label = task == FT_TASK_SEQ_CLS;
    line_reader r = {data, data + len, 0};
    field f[MAX_FIELDS], hdr[MAX_FIELDS];
    char *buf = NULL, *hbuf = NULL;
    ft_status s = FT_OK;
    int tcol = -1, lcol = -1, nf_hdr = 0;
    bool first = true;
    if (fmt == FMT_CSV) {
        buf = ft_malloc(len + 1);
        hbuf = ft_malloc(len + 1);
        if (!buf || !hbuf) { s = ft_fail(FT_ENOMEM, "out of memory reading %s", name); goto out; }
    }
    while (r.p < r.end) {
        int64_t line = r.line + 1;
        int nf;
        if (fmt == FMT_TSV) {
            const char *ls;
            size_t ln;
            next_line(&r, &ls, &ln);
            if (ln == 0) continue;
            nf = split_tsv(ls, ln, f);
        } else {
            const char *save = r.p;
            if (*save == '\n' || (*save == '\r' && save + 1 < r.end && save[1] == '\n')) {
                const char *ls;
                size_t ln;
                next_line(&r, &ls, &ln);
                continue;
            }
            nf = read_csv_record(&r, f, first ? hbuf : buf, len + 1);
            if (nf == -2) { s = ft_fail(FT_EFORMAT, "%s:%lld: unterminated quoted field", name, (long long)line); goto out; }
        }
        if (nf < 0) { s = ft_fail(FT_EFORMAT, "%s:%lld: more than %d columns", name, (long long)line, MAX_FIELDS); goto out; }
        if (first) {
            first = false;
            /* A header when a column is named as a text or label column (or as asked). */
            int th = find_col(o->text_col, f, nf, TEXT_NAMES), lh = find_col(o->label_col, f, nf, LABEL_NAMES);
            bool named = (o->text_col && !is_uint(o->text_col)) || (o->label_col && !is_uint(o->label_col));
            if ((th >= 0 && (!o->text_col || !is_uint(o->text_col))) || (lh >= 0 && (!o->label_col || !is_uint(o->label_col)))) {
                memcpy(hdr, f, sizeof(field) * (size_t)nf);
                nf_hdr = nf;
                tcol = th;
                lcol = lh;
                if (tcol < 0) {
                    if (o->text_col) { s = ft_fail(FT_EINVAL, "%s:1: no text column '%s' in the header", name, o->text_col); goto out; }
                    /* the one column that is not the label */
                    if (nf == 2 && lcol >= 0) tcol = 1 - lcol;
                    else if (!need_label && nf == 1) tcol = 0;
                    else { s = ft_fail(FT_EFORMAT, "%s:1: no text column in the header (expected one named sentence, text or content; or give the column)", name); goto out; }
                }
                if (need_label && lcol < 0) {
                    if (o->label_col) { s = ft_fail(FT_EINVAL, "%s:1: no label column '%s' in the header", name, o->label_col); goto out; }
                    if (nf == 2) lcol = 1 - tcol;
                    else { s = ft_fail(FT_EFORMAT, "%s:1: no label column in the header (expected one named label; or give the column)", name); goto out; }
                }
                (void)nf_hdr;
                continue;
            }
            if (named) { s = ft_fail(FT_EINVAL, "%s:1: no header row naming the columns asked for", name); goto out; }
            /* No header: label then text (SST-2, fastText order) unless given by index. */
            lcol = o->label_col ? atoi(o->label_col) : 0;
            tcol = o->text_col ? atoi(o->text_col) : (need_label ? 1 : 0);
            if (!need_label && nf == 1) tcol = 0;
        }
        int needed = (tcol > lcol ? tcol : lcol) + 1;
        if (!need_label) needed = tcol + 1;
        if (nf < needed) {
            if (need_label)
                s = ft_fail(FT_EFORMAT, "%s:%lld: row has no label or no text (%d column%s; the label is column %d, the text column %d)",
                            name, (long long)line, nf, nf == 1 ? "" : "s", lcol + 1, tcol + 1);
            else
                s = ft_fail(FT_EFORMAT, "%s:%lld: row has no text (column %d; %d column%s)", name, (long long)line, tcol + 1, nf, nf == 1 ? "" : "s");
            goto out;
        }
        char lab[256] = "";
        if (need_label) {
            const field *lf = &f[lcol];
            const char *ls = lf->s;
            size_t ln = lf->n;
            while (ln && (*ls == ' ' || *ls == '\t')) { ls++; ln--; }
            while (ln && (ls[ln - 1] == ' ' || ls[ln - 1] == '\t' || ls[ln - 1] == '\r')) ln--;
            if (ln == 0) { s = ft_fail(FT_EFORMAT, "%s:%lld: empty label", name, (long long)line); goto out; }
            if (ln >= sizeof lab) { s = ft_fail(FT_EFORMAT, "%s:%lld: label longer than %zu bytes", name, (long long)line, sizeof lab - 1); goto out; }
            memcpy(lab, ls, ln);
            lab[ln] = 0;
        }
        if ((s = row(u, f[tcol].s, f[tcol].n, lab, line))) goto out;
    }
    if (first && need_label) s = ft_fail(FT_EFORMAT, "%s: no rows", name);
out:
    ft_free(buf);
    ft_free(hbuf);
    return s;
}

/* A line with invalid UTF-8 (which JSON may not hold) is read with each maximal invalid
 * sequence replaced by U+FFFD, as any other text, and counted in bld. */
static ft_status read_jsonl(const char *data, size_t len, const char *name, ft_task task, const ft_text_opts *o, row_fn row, void *u,
                            builder *bld) {
    line_reader r = {data, data + len, 0};
    const char *ls;
    size_t ln;
    bool need_label = task == FT_TASK_SEQ_CLS;
    while (next_line(&r, &ls, &ln)) {
        size_t k = 0;
        while (k < ln && (ls[k] == ' ' || ls[k] == '\t')) k++;
        if (k == ln) continue;
        json_error_t err;
        bool non_ascii = false, bad = false;
        for (size_t q = 0; q < ln && !non_ascii; q++) non_ascii = (uint8_t)ls[q] >= 0x80;
        char *c = NULL;
        if (non_ascii) {
            if (!(c = clean_text(ls, ln, &bad))) return ft_fail(FT_ENOMEM, "out of memory");
            if (bad) note_bad(bld, name, r.line);
        }
        json_t *j = json_loadb(c ? c : ls, c ? strlen(c) : ln, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        ft_free(c);
        if (!j) return ft_fail(FT_EFORMAT, "%s:%lld: not JSON: %s", name, (long long)r.line, err.text);
        if (!json_is_object(j)) { json_decref(j); return ft_fail(FT_EFORMAT, "%s:%lld: expected a JSON object", name, (long long)r.line); }
        json_t *t = NULL, *l = NULL;
        if (o->text_col) t = json_object_get(j, o->text_col);
        for (int a = 0; !o->text_col && !t && TEXT_NAMES[a]; a++) t = json_object_get(j, TEXT_NAMES[a]);
        if (o->label_col) l = json_object_get(j, o->label_col);
        for (int a = 0; !o->label_col && !l && LABEL_NAMES[a]; a++) l = json_object_get(j, LABEL_NAMES[a]);
        ft_status s = FT_OK;
        char lab[256] = "";
        if (!json_is_string(t)) s = ft_fail(FT_EFORMAT, "%s:%lld: no text field (\"%s\" as a string)", name, (long long)r.line, o->text_col ? o->text_col : "text");
        else if (need_label && !l) s = ft_fail(FT_EFORMAT, "%s:%lld: row has no label (\"%s\")", name, (long long)r.line, o->label_col ? o->label_col : "label");
        else if (need_label && json_is_integer(l) && json_integer_value(l) >= 0) snprintf(lab, sizeof lab, "%lld", (long long)json_integer_value(l));
        else if (need_label && json_is_string(l) && json_string_length(l) > 0 && json_string_length(l) < sizeof lab) snprintf(lab, sizeof lab, "%s", json_string_value(l));
        else if (need_label) s = ft_fail(FT_EFORMAT, "%s:%lld: the label must be a non-negative integer or a string of 1-255 bytes", name, (long long)r.line);
        if (!s) s = row(u, json_string_value(t), json_string_length(t), lab, r.line);
        json_decref(j);
        if (s) return s;
    }
    return FT_OK;
}

/* ---------------- per-task row handlers ---------------- */
typedef struct {
    builder *b;
    labels_acc *la;
    const char *name;
    ft_task task;
} row_ctx;

static ft_status encode_clean(builder *b, const char *text, size_t n, const char *name, int64_t line) {
    bool bad = false;
    char *c = clean_text(text, n, &bad);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    if (bad) note_bad(b, name, line);
    b->tl.n = 0;
    ft_status s = ft_tokenizer_encode(b->tok, c, strlen(c), &b->tl);
    ft_free(c);
    if (s) return ft_fail_context(s, "%s:%lld", name, (long long)line);
    return FT_OK;
}

static ft_status seq_row(void *u, const char *text, size_t n, const char *label, int64_t line) {
    row_ctx *r = u;
    int32_t id;
    ft_status s = label_of(r->la, label, r->name, line, &id);
    if (!s) s = i32_push(&r->la->raw, id);
    if (!s) s = encode_clean(r->b, text, n, r->name, line);
    if (!s) s = add_row(r->b, NULL, 0);
    r->b->c.rows++;
    return s;
}

static ft_status lm_row(void *u, const char *text, size_t n, const char *label, int64_t line) {
    (void)label;
    row_ctx *r = u;
    builder *b = r->b;
    size_t k = 0;
    while (k < n && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r')) k++;
    if (k == n) return FT_OK; /* blank */
    ft_status s = encode_clean(b, text, n, r->name, line);
    if (s) return s;
    /* Each document: BOS first (llama2.c, GPT-2); GPT-2 also ends it with <|endoftext|>. */
    ft_tok_kind kind = ft_tokenizer_kind(b->tok);
    int32_t lead = kind == FT_TOK_WORDPIECE ? b->sp->cls : b->sp->bos;
    if (lead >= 0 && (s = i32_push(&b->ids, lead))) return s;
    for (int64_t i = 0; i < b->tl.n; i++)
        if ((s = i32_push(&b->ids, b->tl.ids[i]))) return s;
    int32_t tail = kind == FT_TOK_WORDPIECE ? b->sp->sep : kind == FT_TOK_BPE ? b->sp->eos : -1;
    if (tail >= 0 && (s = i32_push(&b->ids, tail))) return s;
    b->c.rows++;
    return FT_OK;
}

/* CoNLL: "word###TAG word###TAG ..." per line (one sentence a line), or the classic layout:
 * one token a line, the word first and the tag last (whitespace-separated), a blank line
 * between sentences, -DOCSTART- lines skipped. */
#define MAX_WORDS 4096
static ft_status conll_sentence(row_ctx *r, char **words, char **tags, int64_t nw, int64_t line) {
    builder *b = r->b;
    if (nw == 0) return FT_OK;
    int32_t *tag = ft_malloc((size_t)nw * sizeof *tag);
    if (!tag) return ft_fail(FT_ENOMEM, "out of memory");
    ft_status s = FT_OK;
    for (int64_t w = 0; w < nw && !s; w++) {
        int32_t id;
        s = label_of(r->la, tags[w], r->name, line, &id);
        tag[w] = id;
    }
    b->tl.n = 0;
    if (!s) s = ft_tokenizer_encode_words(b->tok, (const char *const *)words, nw, &b->tl);
    if (s && s != FT_ENOMEM) s = ft_fail_context(s, "%s:%lld", r->name, (long long)line);
    if (!s) {
        /* a word that produced no token (e.g. only characters the tokenizer drops) is not scored */
        s = add_row(b, tag, nw);
    }
    b->c.rows++;
    ft_free(tag);
    return s;
}

static ft_status read_conll(const char *data, size_t len, const char *name, row_ctx *rc) {
    line_reader r = {data, data + len, 0};
    const char *ls;
    size_t ln;
    char **words = ft_calloc(MAX_WORDS, sizeof *words), **tags = ft_calloc(MAX_WORDS, sizeof *tags);
    ft_status s = FT_OK;
    if (!words || !tags) { ft_free(words); ft_free(tags); return ft_fail(FT_ENOMEM, "out of memory"); }
    int64_t nw = 0, start_line = 0;
    int layout = 0; /* 0 unknown, 1 word###TAG per line, 2 token per line */
#define CLEAR() do { for (int64_t q = 0; q < nw; q++) { ft_free(words[q]); ft_free(tags[q]); words[q] = tags[q] = NULL; } nw = 0; } while (0)
    while (!s && next_line(&r, &ls, &ln)) {
        bool bad = false;
        char *c = clean_text(ls, ln, &bad);
        if (!c) { s = ft_fail(FT_ENOMEM, "out of memory"); break; }
        if (bad) note_bad(rc->b, name, r.line);
        char *p = c;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) { /* blank: ends a sentence in the token-per-line layout */
            ft_free(c);
            if (layout == 2) { s = conll_sentence(rc, words, tags, nw, start_line); CLEAR(); }
            continue;
        }
        if (!strncmp(p, "-DOCSTART-", 10)) { ft_free(c); continue; }
        if (!layout) layout = strstr(p, "###") ? 1 : 2;
        if (layout == 1) {
            start_line = r.line;
            char *save = NULL;
            for (char *tk = strtok_r(p, " \t", &save); tk && !s; tk = strtok_r(NULL, " \t", &save)) {
                char *sep = NULL;
                for (char *q = strstr(tk, "###"); q; q = strstr(q + 1, "###")) sep = q; /* the last ### */
                if (!sep || sep == tk || !sep[3]) {
                    s = ft_fail(FT_EFORMAT, "%s:%lld: token '%.40s' is not word###TAG%s", name, (long long)r.line, tk,
                                sep && !sep[3] ? " (no tag: a row without a label)" : "");
                    break;
                }
                if (nw == MAX_WORDS) { s = ft_fail(FT_EFORMAT, "%s:%lld: more than %d words in a sentence", name, (long long)r.line, MAX_WORDS); break; }
                *sep = 0;
                words[nw] = ft_strdup(tk);
                tags[nw] = ft_strdup(sep + 3);
                nw++;
                if (!words[nw - 1] || !tags[nw - 1]) s = ft_fail(FT_ENOMEM, "out of memory");
            }
            if (!s) s = conll_sentence(rc, words, tags, nw, start_line);
            CLEAR();
        } else {
            if (!nw) start_line = r.line;
            char *save = NULL, *first = strtok_r(p, " \t", &save), *last = first, *tk;
            int cols = 1;
            while ((tk = strtok_r(NULL, " \t", &save))) { last = tk; cols++; }
            if (cols < 2) s = ft_fail(FT_EFORMAT, "%s:%lld: token '%.40s' has no tag (a row without a label)", name, (long long)r.line, first);
            else if (nw == MAX_WORDS) s = ft_fail(FT_EFORMAT, "%s:%lld: more than %d words in a sentence", name, (long long)r.line, MAX_WORDS);
            else {
                words[nw] = ft_strdup(first);
                tags[nw] = ft_strdup(last);
                nw++;
                if (!words[nw - 1] || !tags[nw - 1]) s = ft_fail(FT_ENOMEM, "out of memory");
            }
        }
        ft_free(c);
    }
    if (!s && nw) s = conll_sentence(rc, words, tags, nw, start_line);
    CLEAR();
#undef CLEAR
    ft_free(words);
    ft_free(tags);
    return s;
}

/* ---------------- open ---------------- */
static void builder_free(builder *b) {
    ft_token_list_free(&b->tl);
    ft_free(b->ids.v);
    ft_free(b->tgt.v);
    ft_free(b->off.v);
}

ft_status ft_dataset_text_mem(ft_task task, const char *data, size_t len, const char *name, const ft_text_opts *o,
                              ft_dataset **out) {
    *out = NULL;
    if (!o || !o->tok) return ft_fail(FT_EINVAL, "%s: a text dataset needs the model's tokenizer", name);
    if (task != FT_TASK_SEQ_CLS && task != FT_TASK_TOKEN_CLS && task != FT_TASK_LM)
        return ft_fail(FT_EINVAL, "%s: task %s is not a text task", name, ft_task_name(task));
    if (o->max_len < 2 || o->max_len > (1 << 20)) return ft_fail(FT_EINVAL, "%s: max_len %lld is not in [2, %d]", name, (long long)o->max_len, 1 << 20);
    if (o->n_labels < 0 || (o->n_labels > 0 && !o->labels)) return ft_fail(FT_EINVAL, "%s: bad label set", name);
    builder b;
    memset(&b, 0, sizeof b);
    b.o = o;
    b.tok = o->tok;
    b.sp = ft_tokenizer_specials(o->tok);
    labels_acc la;
    memset(&la, 0, sizeof la);
    ft_status s = FT_OK;
    int32_t *remap = NULL;
    char **names = NULL;
    int n_classes = 0;
    ft_dataset *ds = NULL;
    text_impl *t = NULL;
    if (task != FT_TASK_LM && o->labels) {
        la.fixed = true;
        for (int k = 0; k < o->n_labels && !s; k++) {
            int id;
            if (!o->labels[k]) { s = ft_fail(FT_EINVAL, "%s: label %d of the set is NULL", name, k); break; }
            s = ls_add(&la.seen, o->labels[k], &id);
            if (!s && id != k) s = ft_fail(FT_EINVAL, "%s: label '%s' appears twice in the label set", name, o->labels[k]);
        }
        if (s) goto fail;
    }
    row_ctx rc = {&b, &la, name, task};
    file_fmt fmt = format_of(name, task);
    if (task == FT_TASK_TOKEN_CLS) s = read_conll(data, len, name, &rc);
    else if (fmt == FMT_JSONL) s = read_jsonl(data, len, name, task, o, task == FT_TASK_LM ? lm_row : seq_row, &rc, &b);
    else if (fmt == FMT_PLAIN) {
        line_reader r = {data, data + len, 0};
        const char *ls;
        size_t ln;
        while (!s && next_line(&r, &ls, &ln)) s = lm_row(&rc, ls, ln, "", r.line);
    } else s = read_table(data, len, name, fmt, task, o, task == FT_TASK_LM ? lm_row : seq_row, &rc);
    if (s) goto fail;

    if (task == FT_TASK_LM) {
        if (b.ids.n < 2) { s = ft_fail(FT_EFORMAT, "%s: no text (%lld tokens)", name, (long long)b.ids.n); goto fail; }
        b.c.tokens = b.ids.n;
    } else if (b.off.n == 0) {
        s = ft_fail(FT_EFORMAT, "%s: no examples", name);
        goto fail;
    } else {
        if ((s = i64_push(&b.off, b.ids.n))) goto fail;
        if ((s = finish_labels(&la, task == FT_TASK_TOKEN_CLS, &names, &n_classes, &remap))) goto fail;
        if (task == FT_TASK_SEQ_CLS)
            for (int64_t i = 0; i < la.raw.n; i++) la.raw.v[i] = remap[la.raw.v[i]];
        else
            for (int64_t i = 0; i < b.tgt.n; i++) if (b.tgt.v[i] >= 0) b.tgt.v[i] = remap[b.tgt.v[i]];
    }

    ds = ft_calloc(1, sizeof *ds);
    t = ft_calloc(1, sizeof *t);
    if (!ds || !t) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
    t->task = task;
    t->pad = b.sp->pad >= 0 ? b.sp->pad : b.sp->eos >= 0 ? b.sp->eos : 0;
    t->counts = b.c;
    t->counts.task = task;
    if (task == FT_TASK_LM) {
        t->T = o->max_len;
        t->stream_len = b.ids.n;
        ds->n = (b.ids.n - 1 + t->T - 1) / t->T; /* blocks holding at least one target */
        if (ds->n < 1) ds->n = 1;
        t->counts.rows = b.c.rows;
    } else {
        t->T = b.longest;
        ds->n = b.off.n - 1;
        t->off = b.off.v; b.off.v = NULL;
        if (task == FT_TASK_SEQ_CLS) { t->y = la.raw.v; la.raw.v = NULL; }
        else { t->tgt = b.tgt.v; b.tgt.v = NULL; }
    }
    t->ids = b.ids.v; b.ids.v = NULL;
    t->counts.seq_len = t->T;
    ds->impl = t;
    ds->x_dtype = FT_I32;
    ds->x_ndim = 2;
    ds->x_shape[0] = 3;
    ds->x_shape[1] = t->T;
    ds->x_numel = 3 * t->T;
    ds->task = task;
    ds->get = text_get;
    ds->free_impl = text_free;
    if (task == FT_TASK_LM) {
        ds->n_classes = ft_tokenizer_vocab_size(o->tok);
    } else if (names) {
        ds->n_classes = n_classes;
        ds->class_names = names;
        names = NULL;
    } else { /* fixed set: copy it */
        ds->n_classes = la.seen.n;
        ds->class_names = ft_calloc((size_t)(la.seen.n ? la.seen.n : 1), sizeof *ds->class_names);
        if (!ds->class_names) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
        for (int k = 0; k < la.seen.n; k++) {
            if (!(ds->class_names[k] = ft_strdup(la.seen.name[k]))) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
        }
    }
    snprintf(ds->name, sizeof ds->name, "%s:%.50s", ft_task_name(task), name);
    ft_free(remap);
    ls_free(&la.seen);
    ft_free(la.raw.v);
    builder_free(&b);
    *out = ds;
    return FT_OK;
fail:
    if (names) { for (int c = 0; c < n_classes; c++) ft_free(names[c]); ft_free(names); }
    ft_free(remap);
    ls_free(&la.seen);
    ft_free(la.raw.v);
    builder_free(&b);
    if (ds && !ds->impl) ft_free(t);
    if (ds) ft_dataset_free(ds);
    else ft_free(t);
    return s;
}

ft_status ft_dataset_open_text(const char *spec, ft_task task, const ft_text_opts *o, ft_dataset **out) {
    *out = NULL;
    if (!spec) return ft_fail(FT_EINVAL, "no dataset spec");
    ft_task st = ft_text_spec_task(spec);
    const char *path = spec;
    if (st != FT_TASK_CLASSIFY) {
        if (task != FT_TASK_CLASSIFY && task != st)
            return ft_fail(FT_EINVAL, "dataset spec '%s' is for task %s, not %s", spec, ft_task_name(st), ft_task_name(task));
        task = st;
        path = strchr(spec, ':') + 1;
    }
    if (task == FT_TASK_CLASSIFY)
        return ft_fail(FT_EINVAL, "'%s': not a text dataset spec (seq-cls:<file>, token-cls:<file>, lm:<file>)", spec);
    if (!*path) return ft_fail(FT_EINVAL, "dataset spec '%s': missing file", spec);
    uint8_t *data = NULL;
    size_t size = 0;
    ft_status s = ft_read_file(path, TEXT_MAX_FILE, &data, &size);
    if (s) return s;
    s = ft_dataset_text_mem(task, (const char *)data, size, path, o, out);
    ft_free(data);
    return s;
}
