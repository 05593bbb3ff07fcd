/* CTC decoding: greedy (best path) and prefix beam search without a language model.
 *
 * Prefix beam search keeps the prefixes in a trie (node = parent + label), so a prefix is a
 * node id and two ways of reaching the same prefix at one frame merge in its accumulators.
 * Per frame, every surviving prefix p with (pb, pnb) = log P(p, ending in blank / in a label):
 *   blank:            p       gets  pb' += lse(pb, pnb) + lp[blank]
 *   c == last(p):     p + c   gets pnb' += pb + lp[c]      (a blank separated the repeat)
 *                     p       gets pnb' += pnb + lp[c]     (the repeat collapses)
 *   other c:          p + c   gets pnb' += lse(pb, pnb) + lp[c]
 * Then the `beam` best by lse(pb', pnb') + bonus * |p| survive, ties in first-touch order
 * (tests/gen/gen_ctc.py has the same algorithm in Python; tests/test_ctc.c compares). */
#include "finetune/speech.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t ft_ctc_greedy(const float *lp, int64_t T, int64_t C, int blank, int32_t *out) {
    int64_t n = 0;
    int32_t prev = -1;
    for (int64_t t = 0; t < T; t++) {
        const float *r = lp + t * C;
        int32_t k = 0;
        for (int64_t c = 1; c < C; c++)
            if (r[c] > r[k]) k = (int32_t)c;
        if (k != blank && k != prev) out[n++] = k;
        prev = k;
    }
    return n;
}

/* log(exp(a) + exp(b)), the same formula as the Python reference. */
static double lse(double a, double b) {
    double m = a > b ? a : b;
    if (m == -INFINITY) return -INFINITY;
    return m + log(exp(a - m) + exp(b - m));
}

typedef struct {
    int32_t parent, label, depth;
    int32_t first_child, next_sibling;
    double pb, pnb;      /* this frame's accumulators (valid when stamp == t) */
    int64_t stamp;       /* last frame that touched the accumulators */
    double cur_b, cur_nb;/* values at the previous frame (for beam members) */
} trie_node;

typedef struct {
    trie_node *v;
    int64_t n, cap;
    int32_t *touched;    /* node ids touched this frame, first-touch order */
    int64_t n_touched, cap_touched;
} trie;

static int32_t trie_new(trie *tr, int32_t parent, int32_t label) {
    if (tr->n == tr->cap) {
        int64_t cap = tr->cap ? tr->cap * 2 : 1024;
        trie_node *p = ft_realloc(tr->v, (size_t)cap * sizeof *p);
        if (!p) return -1;
        tr->v = p;
        tr->cap = cap;
    }
    int32_t id = (int32_t)tr->n++;
    trie_node *x = &tr->v[id];
    x->parent = parent;
    x->label = label;
    x->depth = parent >= 0 ? tr->v[parent].depth + 1 : 0;
    x->first_child = -1;
    x->next_sibling = -1;
    x->stamp = -1;
    x->pb = x->pnb = x->cur_b = x->cur_nb = -INFINITY;
    if (parent >= 0) {
        x->next_sibling = tr->v[parent].first_child;
        tr->v[parent].first_child = id;
    }
    return id;
}

static int touch(trie *tr, int32_t id, int64_t t, double pb, double pnb) {
    trie_node *x = &tr->v[id];
    if (x->stamp != t) {
        if (tr->n_touched == tr->cap_touched) {
            int64_t cap = tr->cap_touched ? tr->cap_touched * 2 : 1024;
            int32_t *p = ft_realloc(tr->touched, (size_t)cap * sizeof *p);
            if (!p) return -1;
            tr->touched = p;
            tr->cap_touched = cap;
        }
        tr->touched[tr->n_touched++] = id;
        x->stamp = t;
        x->pb = x->pnb = -INFINITY;
    }
    x->pb = lse(x->pb, pb);
    x->pnb = lse(x->pnb, pnb);
    return 0;
}

typedef struct { double score; int64_t order; int32_t id; } ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

ft_status ft_ctc_beam_search(const float *lp, int64_t T, int64_t C, int blank, int beam, float bonus, int32_t *out,
                             int64_t *n_out, double *score) {
    *n_out = 0;
    if (beam < 1) return ft_fail(FT_EINVAL, "ctc beam search: beam width %d must be at least 1", beam);
    if (C < 1 || blank < 0 || blank >= C) return ft_fail(FT_EINVAL, "ctc beam search: blank %d outside %lld classes", blank, (long long)C);
    if (C > INT32_MAX) return ft_fail(FT_EINVAL, "ctc beam search: too many classes");
    trie tr = {0};
    int32_t *beam_ids = ft_malloc((size_t)beam * sizeof *beam_ids);
    int32_t *child_of = ft_malloc((size_t)C * sizeof *child_of); /* label -> child of the current prefix */
    ranked *rk = NULL;
    int64_t rk_cap = 0;
    ft_status st = FT_OK;
    if (!beam_ids || !child_of) { st = ft_fail(FT_ENOMEM, "out of memory for the beam search"); goto done; }
    for (int64_t c = 0; c < C; c++) child_of[c] = -1;
    int32_t root = trie_new(&tr, -1, -1);
    if (root < 0) { st = ft_fail(FT_ENOMEM, "out of memory for the beam search"); goto done; }
    tr.v[root].cur_b = 0.0;
    int n_beam = 1;
    beam_ids[0] = root;
    for (int64_t t = 0; t < T; t++) {
        const float *r = lp + t * C;
        tr.n_touched = 0;
        for (int k = 0; k < n_beam; k++) {
            int32_t p = beam_ids[k];
            double pb = tr.v[p].cur_b, pnb = tr.v[p].cur_nb, both = lse(pb, pnb);
            int32_t last = tr.v[p].label;
            for (int32_t ch = tr.v[p].first_child; ch >= 0; ch = tr.v[ch].next_sibling) child_of[tr.v[ch].label] = ch;
            for (int64_t c = 0; c < C; c++) {
                double x = (double)r[c];
                if (c == blank) {
                    if (touch(&tr, p, t, both + x, -INFINITY)) goto oom;
                    continue;
                }
                int32_t e = child_of[c];
                if (e < 0) {
                    e = trie_new(&tr, p, (int32_t)c);
                    if (e < 0) goto oom;
                    child_of[c] = e;
                }
                if (c == last) {
                    if (touch(&tr, e, t, -INFINITY, pb + x)) goto oom;
                    if (touch(&tr, p, t, -INFINITY, pnb + x)) goto oom;
                } else {
                    if (touch(&tr, e, t, -INFINITY, both + x)) goto oom;
                }
            }
            for (int32_t ch = tr.v[p].first_child; ch >= 0; ch = tr.v[ch].next_sibling) child_of[tr.v[ch].label] = -1;
        }
        if (tr.n_touched > rk_cap) {
            ranked *q = ft_realloc(rk, (size_t)tr.n_touched * sizeof *q);
            if (!q) goto oom;
            rk = q;
            rk_cap = tr.n_touched;
        }
        for (int64_t i = 0; i < tr.n_touched; i++) {
            const trie_node *x = &tr.v[tr.touched[i]];
            rk[i] = (ranked){lse(x->pb, x->pnb) + (double)bonus * x->depth, i, tr.touched[i]};
        }
        qsort(rk, (size_t)tr.n_touched, sizeof *rk, cmp_ranked);
        n_beam = tr.n_touched < beam ? (int)tr.n_touched : beam;
        for (int k = 0; k < n_beam; k++) {
            trie_node *x = &tr.v[rk[k].id];
            x->cur_b = x->pb;
            x->cur_nb = x->pnb;
            beam_ids[k] = rk[k].id;
        }
    }
    {
        int32_t best = beam_ids[0];
        const trie_node *b = &tr.v[best];
        int64_t len = b->depth;
        if (score) *score = lse(b->cur_b, b->cur_nb) + (double)bonus * len;
        for (int32_t id = best; id != root; id = tr.v[id].parent) out[tr.v[id].depth - 1] = tr.v[id].label;
        *n_out = len;
    }
    goto done;
oom:
    st = ft_fail(FT_ENOMEM, "out of memory for the beam search");
done:
    ft_free(tr.v);
    ft_free(tr.touched);
    ft_free(beam_ids);
    ft_free(child_of);
    ft_free(rk);
    return st;
}
