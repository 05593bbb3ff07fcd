/* Task metrics: seqeval's entity-level precision/recall/F1 (default mode) and macro-F1.
 *
 * Entities follow seqeval.metrics.sequence_labeling.get_entities (prefix mode): the sentences
 * are joined into one sequence with "O" after each; for every tag, its first character is the
 * chunk tag and the type is what follows the first '-' after it (the rest of the string when
 * there is no '-'), "_" when empty. A chunk ends before position i when (prev, cur) is E/S
 * followed by anything, B or I followed by B, S or O, or prev is not O/'.' and the type
 * changes; a chunk starts at i on B or S, on E/I after E, S or O, or when cur is not O/'.'
 * and the type changes. Entities are (type, start, end) sets; per type tp = |true & pred|,
 * micro averages sum over types, zero divisions give 0. tests/gen/gen_seqeval.py is an
 * independent Python transcription of the same code that writes the reference vectors. */
#include "finetune/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char type[32]; int64_t start, end; } entity;

typedef struct { entity *v; int64_t n, cap; } entity_vec;

struct ft_entity_counter {
    entity_vec truth, pred;
    int64_t pos;       /* position in the joined sequence */
    /* running state of the two scanners */
    struct scan { char prev_tag; char prev_type[32]; int64_t begin; } st, sp;
};

static ft_status push(entity_vec *a, const char *type, int64_t s, int64_t e) {
    if (a->n == a->cap) {
        int64_t cap = a->cap ? a->cap * 2 : 256;
        entity *p = ft_realloc(a->v, (size_t)cap * sizeof *p);
        if (!p) return ft_fail(FT_ENOMEM, "out of memory for entities");
        a->v = p;
        a->cap = cap;
    }
    entity *x = &a->v[a->n++];
    snprintf(x->type, sizeof x->type, "%s", type);
    x->start = s;
    x->end = e;
    return FT_OK;
}

/* Chunk tag (first character; the first byte of a multi-byte character stands for it, which
 * only matters for comparing it against ASCII letters) and type of one tag string. */
static void split_tag(const char *chunk, char *tag, char type[32]) {
    *tag = chunk[0];
    const char *rest = chunk[0] ? chunk + 1 : chunk;
    if ((unsigned char)chunk[0] >= 0xC0) while ((*rest & 0xC0) == 0x80) rest++; /* whole first character */
    const char *dash = strchr(rest, '-');
    const char *t = dash ? dash + 1 : rest;
    snprintf(type, 32, "%s", *t ? t : "_");
}

static bool end_of_chunk(char pt, char t, const char *ptype, const char *type) {
    bool e = false;
    if (pt == 'E' || pt == 'S') e = true;
    if ((pt == 'B' || pt == 'I') && (t == 'B' || t == 'S' || t == 'O')) e = true;
    if (pt != 'O' && pt != '.' && strcmp(ptype, type)) e = true;
    return e;
}

static bool start_of_chunk(char pt, char t, const char *ptype, const char *type) {
    bool s = false;
    if (t == 'B' || t == 'S') s = true;
    if ((pt == 'E' || pt == 'S' || pt == 'O') && (t == 'E' || t == 'I')) s = true;
    if (t != 'O' && t != '.' && strcmp(ptype, type)) s = true;
    return s;
}

static ft_status step(struct scan *sc, entity_vec *out, const char *chunk, int64_t i) {
    char tag, type[32];
    split_tag(chunk, &tag, type);
    ft_status s = FT_OK;
    if (end_of_chunk(sc->prev_tag, tag, sc->prev_type, type)) s = push(out, sc->prev_type, sc->begin, i - 1);
    if (start_of_chunk(sc->prev_tag, tag, sc->prev_type, type)) sc->begin = i;
    sc->prev_tag = tag;
    memcpy(sc->prev_type, type, sizeof type);
    return s;
}

ft_status ft_entity_counter_new(ft_entity_counter **out) {
    ft_entity_counter *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    c->st.prev_tag = c->sp.prev_tag = 'O'; /* prev_type "" */
    *out = c;
    return FT_OK;
}

void ft_entity_counter_free(ft_entity_counter *c) {
    if (!c) return;
    ft_free(c->truth.v);
    ft_free(c->pred.v);
    ft_free(c);
}

ft_status ft_entity_counter_add(ft_entity_counter *c, const char *const *truth, const char *const *pred, int64_t n) {
    ft_status s = FT_OK;
    for (int64_t i = 0; i <= n && !s; i++) { /* the sentence, then its "O" separator */
        const char *t = i < n ? truth[i] : "O", *p = i < n ? pred[i] : "O";
        if (!t || !p) return ft_fail(FT_EINVAL, "entity counter: NULL tag at word %lld", (long long)i);
        s = step(&c->st, &c->truth, t, c->pos + i);
        if (!s) s = step(&c->sp, &c->pred, p, c->pos + i);
    }
    c->pos += n + 1;
    return s;
}

static int cmp_entity(const void *a, const void *b) {
    const entity *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    if (c) return c;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static double ratio(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : 0.0; }
static double f1(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

ft_status ft_entity_counter_result(const ft_entity_counter *c, ft_entity_metrics *out) {
    memset(out, 0, sizeof *out);
    /* The "O" after the last sentence has closed every chunk. Sort both lists by (type, start,
     * end) and merge: per type, matches are exact (start, end) equalities (sets: no duplicates
     * can arise, positions are distinct). */
    int64_t nt = c->truth.n, np = c->pred.n;
    entity *t = ft_malloc((size_t)(nt + np + 1) * sizeof *t);
    if (!t) return ft_fail(FT_ENOMEM, "out of memory");
    entity *p = t + nt;
    if (nt) memcpy(t, c->truth.v, (size_t)nt * sizeof *t);
    if (np) memcpy(p, c->pred.v, (size_t)np * sizeof *p);
    qsort(t, (size_t)nt, sizeof *t, cmp_entity);
    qsort(p, (size_t)np, sizeof *p, cmp_entity);
    /* count types */
    int types = 0;
    int64_t i = 0, j = 0;
    while (i < nt || j < np) {
        const char *ty = i < nt && (j >= np || strcmp(t[i].type, p[j].type) <= 0) ? t[i].type : p[j].type;
        while (i < nt && !strcmp(t[i].type, ty)) i++;
        while (j < np && !strcmp(p[j].type, ty)) j++;
        types++;
    }
    out->types = ft_calloc((size_t)(types ? types : 1), sizeof *out->types);
    if (!out->types) { ft_free(t); return ft_fail(FT_ENOMEM, "out of memory"); }
    out->n_types = types;
    i = j = 0;
    for (int k = 0; k < types; k++) {
        ft_entity_type_metrics *m = &out->types[k];
        const char *ty = i < nt && (j >= np || strcmp(t[i].type, p[j].type) <= 0) ? t[i].type : p[j].type;
        snprintf(m->type, sizeof m->type, "%s", ty);
        int64_t i1 = i, j1 = j;
        while (i1 < nt && !strcmp(t[i1].type, ty)) i1++;
        while (j1 < np && !strcmp(p[j1].type, ty)) j1++;
        m->n_true = i1 - i;
        m->n_pred = j1 - j;
        for (int64_t a = i, b = j; a < i1 && b < j1;) { /* both sorted by (start, end) */
            int cmp = cmp_entity(&t[a], &p[b]);
            if (!cmp) { m->tp++; a++; b++; }
            else if (cmp < 0) a++;
            else b++;
        }
        m->precision = ratio(m->tp, m->n_pred);
        m->recall = ratio(m->tp, m->n_true);
        m->f1 = f1(m->precision, m->recall);
        out->tp += m->tp;
        out->n_pred += m->n_pred;
        out->n_true += m->n_true;
        out->macro_f1 += m->f1;
        i = i1;
        j = j1;
    }
    ft_free(t);
    out->precision = ratio(out->tp, out->n_pred);
    out->recall = ratio(out->tp, out->n_true);
    out->f1 = f1(out->precision, out->recall);
    out->macro_f1 = types ? out->macro_f1 / types : 0.0;
    return FT_OK;
}

void ft_entity_metrics_free(ft_entity_metrics *m) {
    if (!m) return;
    ft_free(m->types);
    m->types = NULL;
    m->n_types = 0;
}

double ft_macro_f1(const int64_t *confusion, int k) {
    double sum = 0;
    int present = 0;
    for (int c = 0; c < k; c++) {
        int64_t tp = confusion[(int64_t)c * k + c], support = 0, predicted = 0;
        for (int j = 0; j < k; j++) {
            support += confusion[(int64_t)c * k + j];
            predicted += confusion[(int64_t)j * k + c];
        }
        if (!support && !predicted) continue;
        present++;
        sum += f1(ratio(tp, predicted), ratio(tp, support));
    }
    return present ? sum / present : 0.0;
}

/* ---------------- WER / CER (speech recognition) ----------------
 * Levenshtein distance with unit costs, two rows. Words are compared as byte strings;
 * characters as code points (utf8proc's decoder; an invalid byte is one character). */
#include "finetune/speech.h"

#include <utf8proc.h>

typedef struct { const char *s; int64_t len; } span;
typedef struct { const void *a, *b; bool words; } lev_ctx;

static bool lev_eq(const lev_ctx *c, int64_t i, int64_t j) {
    if (!c->words) return ((const int32_t *)c->a)[i] == ((const int32_t *)c->b)[j];
    const span *x = (const span *)c->a + i, *y = (const span *)c->b + j;
    return x->len == y->len && memcmp(x->s, y->s, (size_t)x->len) == 0;
}

static int64_t lev(const lev_ctx *c, int64_t na, int64_t nb, int64_t *row) {
    int64_t *prev = row, *cur = row + nb + 1;
    for (int64_t j = 0; j <= nb; j++) prev[j] = j;
    for (int64_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (int64_t j = 1; j <= nb; j++) {
            int64_t sub = prev[j - 1] + (lev_eq(c, i - 1, j - 1) ? 0 : 1);
            int64_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        int64_t *t = prev; prev = cur; cur = t;
    }
    return prev[nb];
}

int64_t ft_edit_distance(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    int64_t *row = ft_malloc((size_t)(2 * (nb + 1)) * sizeof *row);
    if (!row) return -1;
    lev_ctx c = {a, b, false};
    int64_t d = lev(&c, na, nb, row);
    ft_free(row);
    return d;
}

static bool is_space(unsigned char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

/* Words (spans into s) and the code points of the normalised text (words joined by one space). */
static ft_status split_utt(const char *s, span **words, int64_t *nw, int32_t **cps, int64_t *nc) {
    size_t n = strlen(s);
    *words = ft_malloc((n / 2 + 1) * sizeof **words);
    *cps = ft_malloc((n + 1) * sizeof **cps);
    if (!*words || !*cps) return ft_fail(FT_ENOMEM, "out of memory for WER/CER");
    *nw = *nc = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_space((unsigned char)s[i])) i++;
        if (i >= n) break;
        size_t st = i;
        while (i < n && !is_space((unsigned char)s[i])) i++;
        if (*nw) (*cps)[(*nc)++] = ' ';
        (*words)[(*nw)++] = (span){s + st, (int64_t)(i - st)};
        for (size_t k = st; k < i;) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + k, (utf8proc_ssize_t)(i - k), &cp);
            if (r <= 0) { cp = 0xFFFD; r = 1; }
            (*cps)[(*nc)++] = cp;
            k += (size_t)r;
        }
    }
    return FT_OK;
}

ft_status ft_asr_counts_add(ft_asr_counts *c, const char *reference, const char *hypothesis) {
    span *rw = NULL, *hw = NULL;
    int32_t *rc = NULL, *hc = NULL;
    int64_t nrw, nhw, nrc, nhc, *row = NULL;
    ft_status st = split_utt(reference, &rw, &nrw, &rc, &nrc);
    if (!st) st = split_utt(hypothesis, &hw, &nhw, &hc, &nhc);
    if (!st) {
        int64_t m = nhc > nhw ? nhc : nhw;
        row = ft_malloc((size_t)(2 * (m + 1)) * sizeof *row);
        if (!row) st = ft_fail(FT_ENOMEM, "out of memory for WER/CER");
    }
    if (!st) {
        lev_ctx w = {rw, hw, true}, ch = {rc, hc, false};
        int64_t we = lev(&w, nrw, nhw, row);
        c->word_edits += we;
        c->words += nrw;
        c->char_edits += lev(&ch, nrc, nhc, row);
        c->chars += nrc;
        c->exact += we == 0 && nrw == nhw;
        c->utterances++;
    }
    ft_free(rw); ft_free(hw); ft_free(rc); ft_free(hc); ft_free(row);
    return st;
}

double ft_asr_wer(const ft_asr_counts *c) { return c->words ? (double)c->word_edits / (double)c->words : 0.0; }
double ft_asr_cer(const ft_asr_counts *c) { return c->chars ? (double)c->char_edits / (double)c->chars : 0.0; }
