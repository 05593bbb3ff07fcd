/* CTC datasets: an inner dataset of feature matrices whose class names are transcripts,
 * wrapped so that each example carries its character targets (speech.h). */
#include "finetune/speech.h"
#include "finetune/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct {
    ft_dataset *inner;
    int64_t F, S;
    int n_tr;            /* inner classes = transcripts */
    int32_t *len;        /* [n_tr] target lengths */
    int32_t *tg;         /* [n_tr, S] target ids */
} ctc_impl;

/* The transcript of inner class k. */
static const char *transcript(const ft_dataset *in, int k, char buf[32]) {
    if (in->class_names && in->class_names[k]) return in->class_names[k];
    snprintf(buf, 32, "%d", k);
    return buf;
}

static bool ws(int32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Code points of the normalised transcript (whitespace runs -> ' ', trimmed); returns the
 * count, -1 on invalid UTF-8. out has room for strlen(s). */
static int64_t normalise(const char *s, int32_t *out) {
    int64_t n = 0;
    size_t len = strlen(s), i = 0;
    bool pending_space = false;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (r <= 0) return -1;
        i += (size_t)r;
        if (ws(cp)) { pending_space = n > 0; continue; }
        if (pending_space) { out[n++] = ' '; pending_space = false; }
        out[n++] = cp;
    }
    return n;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void ft_ctc_vocab_free(char **vocab, int n_vocab) {
    if (!vocab) return;
    for (int i = 0; i < n_vocab; i++) ft_free(vocab[i]);
    ft_free(vocab);
}

ft_status ft_ctc_vocab_build(const ft_dataset *inner, char ***vocab, int *n_vocab) {
    *vocab = NULL;
    *n_vocab = 0;
    size_t total = 0;
    char nb[32];
    for (int k = 0; k < inner->n_classes; k++) total += strlen(transcript(inner, k, nb));
    int32_t *cps = ft_malloc((total + 1) * sizeof *cps);
    if (!cps) return ft_fail(FT_ENOMEM, "out of memory for the CTC vocabulary");
    int64_t n = 0;
    for (int k = 0; k < inner->n_classes; k++) {
        int64_t m = normalise(transcript(inner, k, nb), cps + n);
        if (m < 0) {
            ft_free(cps);
            return ft_fail(FT_EFORMAT, "dataset '%s': transcript %d is not valid UTF-8", inner->name, k);
        }
        n += m;
    }
    qsort(cps, (size_t)n, sizeof *cps, cmp_i32);
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        if (!u || cps[i] != cps[u - 1]) cps[u++] = cps[i];
    char **v = ft_calloc((size_t)u + 1, sizeof *v);
    ft_status s = v ? FT_OK : ft_fail(FT_ENOMEM, "out of memory for the CTC vocabulary");
    if (!s && !(v[0] = ft_strdup(FT_CTC_BLANK_NAME))) s = ft_fail(FT_ENOMEM, "out of memory");
    for (int64_t i = 0; i < u && !s; i++) {
        utf8proc_uint8_t b[8] = {0};
        utf8proc_encode_char(cps[i], b);
        if (!(v[i + 1] = ft_strdup((const char *)b))) s = ft_fail(FT_ENOMEM, "out of memory");
    }
    ft_free(cps);
    if (s) { ft_ctc_vocab_free(v, (int)u + 1); return s; }
    *vocab = v;
    *n_vocab = (int)u + 1;
    return FT_OK;
}

/* Byte comparison for qsort over strings. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

ft_status ft_ctc_vocab_build_words(const ft_dataset *inner, char ***vocab, int *n_vocab) {
    *vocab = NULL;
    *n_vocab = 0;
    /* every word of every normalised transcript, marked ("\u2581word"), sorted, unique */
    int64_t n_words = 0;
    char nb[32];
    for (int k = 0; k < inner->n_classes; k++) {
        const char *t = transcript(inner, k, nb);
        for (utf8proc_ssize_t i = 0, len = (utf8proc_ssize_t)strlen(t), r; i < len; i += r) {
            utf8proc_int32_t cp;
            if ((r = utf8proc_iterate((const utf8proc_uint8_t *)t + i, len - i, &cp)) <= 0)
                return ft_fail(FT_EFORMAT, "dataset '%s': transcript %d is not valid UTF-8", inner->name, k);
        }
        bool in = false;
        for (const char *p = t; *p; p++) {
            bool w = ws((unsigned char)*p);
            if (!w && !in) n_words++;
            in = !w;
        }
    }
    char **words = ft_calloc((size_t)n_words + 1, sizeof *words);
    if (!words) return ft_fail(FT_ENOMEM, "out of memory for the CTC vocabulary");
    ft_status s = FT_OK;
    int64_t n = 0;
    for (int k = 0; k < inner->n_classes && !s; k++) {
        const char *t = transcript(inner, k, nb);
        size_t len = strlen(t), i = 0;
        while (i < len && !s) {
            while (i < len && ws((unsigned char)t[i])) i++;
            size_t j = i;
            while (j < len && !ws((unsigned char)t[j])) j++;
            if (j > i) {
                char *w = ft_malloc(j - i + sizeof FT_CTC_WORD_MARK);
                if (!w) { s = ft_fail(FT_ENOMEM, "out of memory for the CTC vocabulary"); break; }
                memcpy(w, FT_CTC_WORD_MARK, sizeof FT_CTC_WORD_MARK - 1);
                memcpy(w + sizeof FT_CTC_WORD_MARK - 1, t + i, j - i);
                w[j - i + sizeof FT_CTC_WORD_MARK - 1] = 0;
                words[n++] = w;
            }
            i = j;
        }
    }
    if (s) { ft_ctc_vocab_free(words, (int)n); return s; }
    qsort(words, (size_t)n, sizeof *words, cmp_str);
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++) {
        if (u && !strcmp(words[i], words[u - 1])) { ft_free(words[i]); continue; }
        words[u++] = words[i];
    }
    if (u + 1 > 1 << 20) {
        ft_ctc_vocab_free(words, (int)u);
        return ft_fail(FT_EINVAL, "dataset '%s': %lld distinct words, too many for a word vocabulary", inner->name, (long long)u);
    }
    char **v = ft_calloc((size_t)u + 1, sizeof *v);
    if (!v || !(v[0] = ft_strdup(FT_CTC_BLANK_NAME))) {
        ft_free(v);
        ft_ctc_vocab_free(words, (int)u);
        return ft_fail(FT_ENOMEM, "out of memory for the CTC vocabulary");
    }
    memcpy(v + 1, words, (size_t)u * sizeof *v);
    ft_free(words);
    *vocab = v;
    *n_vocab = (int)u + 1;
    return FT_OK;
}

bool ft_ctc_vocab_is_pieces(const char *const *vocab, int n_vocab) {
    for (int v = 1; v < n_vocab; v++)
        if (vocab[v] && !strncmp(vocab[v], FT_CTC_WORD_MARK, sizeof FT_CTC_WORD_MARK - 1)) return true;
    return false;
}

static ft_status ctc_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    ctc_impl *c = ds->impl;
    int32_t k = 0;
    ft_status s = c->inner->get(c->inner, i, ctx, x, &k);
    if (s) return s;
    if (k < 0 || k >= c->n_tr) return ft_fail(FT_EINVAL, "dataset '%s': example %lld has label %d, no transcript", ds->name, (long long)i, k);
    int32_t *tr = (int32_t *)x + c->F;
    tr[0] = c->len[k];
    memcpy(tr + 1, c->tg + (int64_t)k * c->S, (size_t)c->S * 4);
    if (y) *y = 0;
    return FT_OK;
}

static void ctc_free(ft_dataset *ds) {
    ctc_impl *c = ds->impl;
    if (!c) return;
    ft_dataset_free(c->inner);
    ft_free(c->len);
    ft_free(c->tg);
    ft_free(c);
}

/* Spelling of one transcript in the vocabulary; returns the label count (ids may be NULL: count
 * only), -1 for invalid UTF-8, -2 for a character (char vocabulary) or a place (word pieces)
 * no entry matches, with *bad at the offending text in the marked / normalised form (copied
 * into badbuf). cps: room for strlen(t) + 1 code points; mk: room for 4 * strlen(t) + 1 bytes. */
typedef struct {
    bool pieces;
    int n;
    const char *const *vocab;
    const int32_t *vcp;   /* char vocabulary: code point of entry v (entry 0: -1) */
    const size_t *vlen;   /* pieces: byte length of entry v */
} spelling;

static int64_t spell(const spelling *sp, const char *t, int32_t *cps, char *mk, int32_t *ids, char *badbuf, size_t badcap) {
    int64_t m = normalise(t, cps);
    if (m < 0) return -1;
    if (!sp->pieces) {
        for (int64_t j = 0; j < m; j++) {
            int v = 1;
            while (v < sp->n && sp->vcp[v] != cps[j]) v++;
            if (v == sp->n) {
                utf8proc_uint8_t b[8] = {0};
                utf8proc_encode_char(cps[j], b);
                snprintf(badbuf, badcap, "the character '%s'", (const char *)b);
                return -2;
            }
            if (ids) ids[j] = v;
        }
        return m;
    }
    /* word pieces: "\u2581" before every word, no spaces; greedy longest match */
    size_t k = 0;
    for (int64_t j = 0; j < m; j++) {
        if (j == 0 || cps[j] == ' ') {
            memcpy(mk + k, FT_CTC_WORD_MARK, sizeof FT_CTC_WORD_MARK - 1);
            k += sizeof FT_CTC_WORD_MARK - 1;
            if (cps[j] == ' ') continue;
        }
        k += (size_t)utf8proc_encode_char(cps[j], (utf8proc_uint8_t *)mk + k);
    }
    mk[k] = 0;
    int64_t n = 0;
    for (size_t p = 0; p < k;) {
        int best = 0;
        for (int v = 1; v < sp->n; v++)
            if (sp->vlen[v] > sp->vlen[best] && !strncmp(mk + p, sp->vocab[v], sp->vlen[v])) best = v;
        if (!best) {
            const char *w = mk + p, *e = strstr(mk + p + 1, FT_CTC_WORD_MARK);
            bool start = !strncmp(w, FT_CTC_WORD_MARK, sizeof FT_CTC_WORD_MARK - 1);
            if (start) w += sizeof FT_CTC_WORD_MARK - 1;
            int wl = (int)(e ? (size_t)(e - w) : strlen(w));
            snprintf(badbuf, badcap, start ? "the word '%.*s'" : "'%.*s' inside a word", wl > 64 ? 64 : wl, w);
            return -2;
        }
        if (ids) ids[n] = best;
        n++;
        p += sp->vlen[best];
    }
    return n;
}

ft_status ft_dataset_ctc(ft_dataset *inner, const char *const *vocab_in, int n_vocab_in, ft_dataset **out) {
    *out = NULL;
    if (inner->x_dtype != FT_F32) return ft_fail(FT_EINVAL, "dataset '%s': CTC needs float features", inner->name);
    if (inner->n_classes < 1) return ft_fail(FT_EINVAL, "dataset '%s' has no transcripts", inner->name);
    char **own = NULL;
    int n_vocab = n_vocab_in;
    const char *const *vocab = vocab_in;
    ft_status s = FT_OK;
    if (!vocab) {
        if ((s = ft_ctc_vocab_build(inner, &own, &n_vocab))) return s;
        vocab = (const char *const *)own;
    }
    if (n_vocab < 2) { ft_ctc_vocab_free(own, n_vocab); return ft_fail(FT_EINVAL, "a CTC vocabulary needs the blank and at least one label"); }
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    ctc_impl *c = ft_calloc(1, sizeof *c);
    int32_t *cps = NULL, *vcp = ft_malloc((size_t)n_vocab * sizeof *vcp);
    size_t *vlen = ft_calloc((size_t)n_vocab, sizeof *vlen);
    char *mk = NULL;
    spelling sp = {ft_ctc_vocab_is_pieces(vocab, n_vocab), n_vocab, vocab, vcp, vlen};
    if (!ds || !c || !vcp || !vlen) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
    /* the vocabulary as code points (characters) or byte strings (word pieces); entry 0 is the blank */
    vcp[0] = -1;
    for (int v = 1; v < n_vocab; v++) {
        utf8proc_int32_t cp = -1;
        const char *e = vocab[v] ? vocab[v] : "";
        vlen[v] = strlen(e);
        if (sp.pieces) {
            if (!vlen[v]) { s = ft_fail(FT_EINVAL, "CTC vocabulary entry %d is empty", v); goto fail; }
            continue;
        }
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)e, -1, &cp);
        if (r <= 0 || e[r] != 0) { s = ft_fail(FT_EINVAL, "CTC vocabulary entry %d ('%s') is not one character", v, e); goto fail; }
        vcp[v] = cp;
    }
    c->inner = inner;
    c->n_tr = inner->n_classes;
    c->F = inner->x_numel;
    size_t longest = 1;
    char nb[32], bad[128];
    for (int k = 0; k < c->n_tr; k++) {
        size_t l = strlen(transcript(inner, k, nb));
        if (l > longest) longest = l;
    }
    cps = ft_malloc((longest + 1) * sizeof *cps);
    mk = ft_malloc(4 * longest + 4);
    c->len = ft_calloc((size_t)c->n_tr, sizeof *c->len);
    if (!cps || !mk || !c->len) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
    /* first pass: lengths and S; second: the ids */
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < c->n_tr; k++) {
            const char *t = transcript(inner, k, nb);
            int64_t m = spell(&sp, t, cps, mk, pass ? c->tg + (int64_t)k * c->S : NULL, bad, sizeof bad);
            if (m == -1) { s = ft_fail(FT_EFORMAT, "dataset '%s': transcript %d is not valid UTF-8", inner->name, k); goto fail; }
            if (m == -2) {
                if (sp.pieces)
                    s = ft_fail(FT_EINVAL, "dataset '%s': transcript \"%s\" has %s, which no entry of the model's word-piece "
                                "vocabulary of %d matches", inner->name, t, bad, n_vocab - 1);
                else
                    s = ft_fail(FT_EINVAL, "dataset '%s': transcript \"%s\" has %s, which is not in the model's vocabulary of %d",
                                inner->name, t, bad, n_vocab - 1);
                goto fail;
            }
            if (!pass) {
                c->len[k] = (int32_t)m;
                if (m > c->S) c->S = m;
            }
        }
        if (!pass) {
            if (c->S < 1) c->S = 1;
            c->tg = ft_calloc((size_t)(c->n_tr * c->S), sizeof *c->tg);
            if (!c->tg) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
        }
    }
    ds->n = inner->n;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 1;
    ds->x_shape[0] = c->F + 1 + c->S;
    ds->x_numel = ds->x_shape[0];
    ds->n_classes = n_vocab;
    ds->class_names = ft_calloc((size_t)n_vocab, sizeof *ds->class_names);
    if (!ds->class_names) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
    for (int v = 0; v < n_vocab; v++)
        if (!(ds->class_names[v] = ft_strdup(vocab[v] ? vocab[v] : ""))) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
    ds->task = FT_TASK_CTC;
    ds->get = ctc_get;
    ds->free_impl = ctc_free;
    ds->impl = c;
    ds->augments = inner->augments;
    snprintf(ds->name, sizeof ds->name, "%s", inner->name);
    ft_free(cps);
    ft_free(mk);
    ft_free(vcp);
    ft_free(vlen);
    ft_ctc_vocab_free(own, n_vocab);
    *out = ds;
    return FT_OK;
fail:
    if (ds && ds->class_names) ft_ctc_vocab_free(ds->class_names, n_vocab);
    ft_free(ds);
    if (c) { ft_free(c->len); ft_free(c->tg); ft_free(c); }
    ft_free(cps);
    ft_free(mk);
    ft_free(vcp);
    ft_free(vlen);
    ft_ctc_vocab_free(own, n_vocab);
    return s;
}

ft_status ft_ctc_dataset_layout(const ft_dataset *ds, int64_t *F, int64_t *S) {
    if (ds->task != FT_TASK_CTC || ds->get != ctc_get) return ft_fail(FT_EINVAL, "dataset '%s' is not a CTC dataset", ds->name);
    const ctc_impl *c = ds->impl;
    *F = c->F;
    *S = c->S;
    return FT_OK;
}

void ft_ctc_labels_to_text(const int32_t *ids, int64_t n, const char *const *vocab, int n_vocab, char *out, size_t cap) {
    size_t k = 0;
    const size_t ml = sizeof FT_CTC_WORD_MARK - 1;
    if (!cap) return;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] <= 0 || ids[i] >= n_vocab || !vocab[ids[i]]) continue;
        const char *e = vocab[ids[i]];
        bool word = !strncmp(e, FT_CTC_WORD_MARK, ml);
        if (word) e += ml; /* a word piece's mark is a space between words */
        size_t l = strlen(e), sp = word && k > 0;
        if (k + sp + l + 1 > cap) break;
        if (sp) out[k++] = ' ';
        memcpy(out + k, e, l);
        k += l;
    }
    out[k] = 0;
}

size_t ft_ctc_vocab_max_bytes(const char *const *vocab, int n_vocab) {
    size_t m = 4;
    for (int v = 1; v < n_vocab; v++)
        if (vocab[v] && strlen(vocab[v]) > m) m = strlen(vocab[v]);
    return m;
}
