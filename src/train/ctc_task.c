/* The runner's CTC task (speech recognition): the model's per-frame logits, log_softmax and
 * the CTC loss over the targets each example of a CTC dataset carries (speech.h); eval
 * decodes greedily and scores WER, CER and exact-transcript accuracy. */
#include "train/ctc_task.h"
#include "finetune/speech.h"
#include "ops/ops.h"

#include <math.h>
#include <string.h>

static int64_t model_in_numel(const ft_model *m) {
    int64_t k = 1;
    for (int d = 0; d < m->in_ndim; d++) k *= m->in_shape[d];
    return k;
}

void ft_ctc_graph_build(ft_model *m, ft_graph *g, int64_t n, int64_t x_numel, bool training, ft_ctc_graph *cg) {
    memset(cg, 0, sizeof *cg);
    cg->n = n;
    cg->F = model_in_numel(m);
    cg->S = x_numel - cg->F - 1;
    int64_t shape[FT_MAX_DIMS] = {n};
    for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
    cg->x = ft_input(g, "x", FT_F32, m->in_ndim + 1, shape);
    cg->logits = m->arch->build(m, g, cg->x, training);
    if (cg->logits && cg->logits->ndim != 3) {
        ft_graph_fail(g, FT_ESHAPE, "ctc: the model must return per-frame logits [N, T, C] (a graph model with "
                      "\"sequence_output\": true), not %d-D", cg->logits->ndim);
        cg->logits = NULL;
    }
    if (cg->logits) {
        cg->T = cg->logits->shape[1];
        cg->C = cg->logits->shape[2];
    }
    int64_t ns[2] = {n, cg->S > 0 ? cg->S : 1}, n1[1] = {n};
    cg->tg = ft_input(g, "targets", FT_I32, 2, ns);
    cg->il = ft_input(g, "input_lengths", FT_I32, 1, n1);
    cg->tl = ft_input(g, "target_lengths", FT_I32, 1, n1);
    cg->loss = ft_ctc_loss(g, ft_log_softmax(g, cg->logits), cg->tg, cg->il, cg->tl, 0, FT_REDUCE_MEAN, true);
    if (cg->logits) ft_node_keep(cg->logits);
}

ft_status ft_ctc_graph_set(const ft_ctc_graph *cg, const float *x, int64_t n) {
    int64_t F = cg->F, S = cg->S, row = F + 1 + S;
    float *xv = cg->x->val;
    int32_t *tg = (int32_t *)(void *)cg->tg->val, *il = (int32_t *)(void *)cg->il->val, *tl = (int32_t *)(void *)cg->tl->val;
    for (int64_t i = 0; i < n; i++) {
        const float *e = x + i * row;
        const int32_t *tr = (const int32_t *)(const void *)(e + F);
        if (xv) memcpy(xv + i * F, e, (size_t)F * 4);
        if (tg) memcpy(tg + i * S, tr + 1, (size_t)S * 4);
        if (tl) tl[i] = tr[0];
        if (il) il[i] = (int32_t)cg->T;
    }
    return FT_OK;
}

ft_status ft_ctc_check_data(const ft_model *m, const ft_dataset *ds) {
    int64_t F = model_in_numel(m);
    if (ds->x_dtype != FT_F32 || ds->x_numel < F + 2)
        return ft_fail(FT_ESHAPE, "dataset '%s': its features do not fit the model's input (%lld values per example "
                       "expected)", ds->name, (long long)F);
    if (m->in_dtype != FT_F32) return ft_fail(FT_EINVAL, "ctc: the model's input must be float features");
    int64_t iF, iS;
    if (!ft_ctc_dataset_layout(ds, &iF, &iS) && iF != F)
        return ft_fail(FT_ESHAPE, "dataset '%s' gives %lld feature values per example, the model expects %lld", ds->name,
                       (long long)iF, (long long)F);
    if (ds->n_classes != m->n_classes)
        return ft_fail(FT_EINVAL, "dataset '%s' has a vocabulary of %d (blank included) but the model outputs %d classes per frame",
                       ds->name, ds->n_classes, m->n_classes);
    if (ds->n < 1) return ft_fail(FT_EINVAL, "dataset '%s' is empty", ds->name);
    return FT_OK;
}

struct ft_ctc_eval {
    const ft_dataset *ds;
    double loss_sum;
    int64_t examples;
    ft_asr_counts counts;
    int32_t *ids;        /* decoding buffer (T) */
    int64_t cap;
    char *ref, *hyp;     /* text buffers */
    size_t tcap, hcap, entry;  /* their sizes; the longest vocabulary entry in bytes */
};

ft_status ft_ctc_eval_new(const ft_model *m, const ft_dataset *ds, ft_ctc_eval **out) {
    ft_ctc_eval *e = ft_calloc(1, sizeof *e);
    if (!e) return ft_fail(FT_ENOMEM, "out of memory");
    e->ds = ds;
    int64_t S = ds->x_numel - model_in_numel(m) - 1;
    e->entry = ft_ctc_vocab_max_bytes((const char *const *)ds->class_names, ds->n_classes);
    e->tcap = (size_t)(S > 64 ? S : 64) * (e->entry + 1) + 1;
    e->ref = ft_malloc(e->tcap);
    if (!e->ref) { ft_ctc_eval_free(e); return ft_fail(FT_ENOMEM, "out of memory"); }
    *out = e;
    return FT_OK;
}

ft_status ft_ctc_eval_add(ft_ctc_eval *e, const ft_ctc_graph *cg, const float *x, int64_t n) {
    if (cg->T > e->cap) {
        int32_t *p = ft_realloc(e->ids, (size_t)cg->T * sizeof *p);
        if (!p) return ft_fail(FT_ENOMEM, "out of memory");
        e->ids = p;
        e->cap = cg->T;
        size_t hc = (size_t)cg->T * (e->entry + 1) + 1; /* T labels at most */
        char *h = ft_realloc(e->hyp, hc);
        if (!h) return ft_fail(FT_ENOMEM, "out of memory");
        e->hyp = h;
        e->hcap = hc;
    }
    const char *const *vocab = (const char *const *)e->ds->class_names;
    int nv = e->ds->n_classes;
    e->loss_sum += (double)cg->loss->val[0] * (double)n;
    for (int64_t i = 0; i < n; i++) {
        const int32_t *tr = (const int32_t *)(const void *)(x + i * (cg->F + 1 + cg->S) + cg->F);
        ft_ctc_labels_to_text(tr + 1, tr[0], vocab, nv, e->ref, e->tcap);
        int64_t k = ft_ctc_greedy(cg->logits->val + i * cg->T * cg->C, cg->T, cg->C, 0, e->ids);
        ft_ctc_labels_to_text(e->ids, k, vocab, nv, e->hyp, e->hcap);
        ft_status s = ft_asr_counts_add(&e->counts, e->ref, e->hyp);
        if (s) return s;
    }
    e->examples += n;
    return FT_OK;
}

ft_status ft_ctc_eval_finish(ft_ctc_eval *e, ft_eval_result *res) {
    res->task = FT_TASK_CTC;
    res->n = res->examples = e->examples;
    res->correct = e->counts.exact;
    res->loss = e->examples ? e->loss_sum / (double)e->examples : 0;
    res->accuracy = e->examples ? (double)e->counts.exact / (double)e->examples : 0;
    res->n_classes = e->ds->n_classes;
    res->wer = ft_asr_wer(&e->counts);
    res->cer = ft_asr_cer(&e->counts);
    res->word_edits = e->counts.word_edits;
    res->words = e->counts.words;
    res->char_edits = e->counts.char_edits;
    res->chars = e->counts.chars;
    res->score = 1.0 - res->wer;
    ft_ctc_eval_free(e);
    return FT_OK;
}

void ft_ctc_eval_free(ft_ctc_eval *e) {
    if (!e) return;
    ft_free(e->ids);
    ft_free(e->ref);
    ft_free(e->hyp);
    ft_free(e);
}

ft_status ft_ctc_transcribe(ft_model *m, ft_dataset *ds, int64_t n, int64_t batch, int beam, float bonus,
                            ft_status (*cb)(void *user, int64_t i, const char *hyp, const char *ref), void *user) {
    ft_status s = ft_ctc_check_data(m, ds);
    if (s) return s;
    if (n <= 0 || n > ds->n) n = ds->n;
    if (batch < 1) batch = 1;
    if (batch > n) batch = n;
    const char *const *vocab = (const char *const *)ds->class_names;
    int nv = ds->n_classes;
    ft_graph *g = ft_graph_new(m->params);
    if (!g) return ft_fail(FT_ENOMEM, "out of memory");
    ft_ctc_graph cg;
    ft_ctc_graph_build(m, g, batch, ds->x_numel, false, &cg);
    if ((s = ft_graph_plan(g, cg.loss, false))) { ft_graph_free(g); return s; }
    float *x = ft_calloc((size_t)(batch * ds->x_numel), 4);
    int32_t *ids = ft_malloc((size_t)(cg.T > 0 ? cg.T : 1) * sizeof *ids);
    size_t cap = (size_t)(cg.S + cg.T + 8) * (ft_ctc_vocab_max_bytes(vocab, nv) + 1);
    char *hyp = ft_malloc(cap), *ref = ft_malloc(cap);
    if (!x || !ids || !hyp || !ref) s = ft_fail(FT_ENOMEM, "out of memory");
    for (int64_t i0 = 0; !s && i0 < n; i0 += batch) {
        int64_t k = n - i0 < batch ? n - i0 : batch;
        for (int64_t j = 0; !s && j < k; j++) s = ds->get(ds, i0 + j, NULL, x + j * ds->x_numel, NULL);
        if (s) break;
        for (int64_t j = k; j < batch; j++) memcpy(x + j * ds->x_numel, x, (size_t)ds->x_numel * 4); /* pad the last batch */
        if ((s = ft_ctc_graph_set(&cg, x, batch)) || (s = ft_graph_forward(g))) break;
        for (int64_t j = 0; !s && j < k; j++) {
            const float *lp = cg.logits->val + j * cg.T * cg.C;
            int64_t len;
            if (beam > 1) {
                /* beam search wants log-probabilities: log_softmax each frame into a copy */
                float *row = ft_malloc((size_t)(cg.T * cg.C) * 4);
                if (!row) { s = ft_fail(FT_ENOMEM, "out of memory"); break; }
                for (int64_t t = 0; t < cg.T; t++) {
                    const float *z = lp + t * cg.C;
                    float mx = z[0];
                    for (int64_t c = 1; c < cg.C; c++) mx = z[c] > mx ? z[c] : mx;
                    double se = 0;
                    for (int64_t c = 0; c < cg.C; c++) se += exp((double)(z[c] - mx));
                    float ls = mx + (float)log(se);
                    for (int64_t c = 0; c < cg.C; c++) row[t * cg.C + c] = z[c] - ls;
                }
                s = ft_ctc_beam_search(row, cg.T, cg.C, 0, beam, bonus, ids, &len, NULL);
                ft_free(row);
                if (s) break;
            } else {
                len = ft_ctc_greedy(lp, cg.T, cg.C, 0, ids);
            }
            const int32_t *tr = (const int32_t *)(const void *)(x + j * ds->x_numel + cg.F);
            ft_ctc_labels_to_text(ids, len, vocab, nv, hyp, cap);
            ft_ctc_labels_to_text(tr + 1, tr[0], vocab, nv, ref, cap);
            s = cb(user, i0 + j, hyp, ref);
        }
    }
    ft_free(x);
    ft_free(ids);
    ft_free(hyp);
    ft_free(ref);
    ft_graph_free(g);
    return s;
}
