/* The runner's text tasks: graphs over I32 [3, T] examples (ids, mask, targets; tasks.h) and
 * their metrics: accuracy + macro-F1 (seq-cls), seqeval entity F1 + tag accuracy (token-cls),
 * perplexity + next-token accuracy (lm). */
#include "train/text_task.h"
#include "models/models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void ft_text_graph_build(ft_model *m, ft_graph *g, int task, int64_t n, int64_t T, bool training, float smoothing,
                         ft_text_graph *tg) {
    memset(tg, 0, sizeof *tg);
    tg->task = task;
    tg->n = n;
    tg->T = T;
    int64_t nt[2] = {n, T}, n1[1] = {n};
    tg->ids = ft_input(g, "ids", FT_I32, 2, nt);
    tg->mask = ft_input(g, "mask", FT_F32, 2, nt); /* F32: decoders' classifiers pool at the last 1 */
    tg->logits = ft_text_forward(m, g, task, tg->ids, tg->mask, training);
    if (task == FT_TASK_SEQ_CLS) {
        tg->y = ft_input(g, "y", FT_I32, 1, n1);
        tg->loss = ft_cross_entropy(g, tg->logits, tg->y, FT_IGNORE_INDEX, smoothing);
    } else {
        tg->tgt = ft_input(g, "targets", FT_I32, 2, nt);
        tg->loss = ft_cross_entropy(g, tg->logits, tg->tgt, FT_IGNORE_INDEX, smoothing);
    }
    ft_node_keep(tg->logits);
}

void ft_text_graph_set(const ft_text_graph *tg, const int32_t *x, int64_t T_src, const int32_t *y, int64_t n) {
    int64_t T = tg->T, S = T_src;
    int32_t *ids = tg->ids->val ? (int32_t *)(void *)tg->ids->val : NULL;
    int32_t *tgt = tg->tgt && tg->tgt->val ? (int32_t *)(void *)tg->tgt->val : NULL;
    float *mask = tg->mask->val;
    for (int64_t i = 0; i < n; i++) {
        const int32_t *e = x + i * 3 * S;
        if (ids) memcpy(ids + i * T, e, (size_t)T * 4);
        if (mask) for (int64_t t = 0; t < T; t++) mask[i * T + t] = e[S + t] ? 1.0f : 0.0f;
        if (tgt) memcpy(tgt + i * T, e + 2 * S, (size_t)T * 4);
    }
    if (tg->y && tg->y->val) memcpy(tg->y->val, y, (size_t)n * 4);
}

/* One past the last real position of an example (its mask row); at least 1. */
static int64_t row_len(const int32_t *e, int64_t T) {
    int64_t L = T;
    while (L > 1 && !e[T + L - 1]) L--;
    return L;
}

int64_t ft_text_batch_len(const int32_t *x, int64_t T, int64_t n, int multiple) {
    int64_t L = 1;
    for (int64_t i = 0; i < n && L < T; i++) {
        int64_t l = row_len(x + i * 3 * T, T);
        if (l > L) L = l;
    }
    if (multiple > 1) L = (L + multiple - 1) / multiple * multiple;
    return L < T ? L : T;
}

ft_status ft_text_lengths(ft_dataset *ds, int64_t **out) {
    *out = NULL;
    int64_t T = ds->x_shape[1];
    int64_t *len = ft_malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *len);
    int32_t *x = ft_malloc((size_t)ds->x_numel * sizeof *x);
    ft_status s = len && x ? FT_OK : ft_fail(FT_ENOMEM, "out of memory for the lengths of %lld examples", (long long)ds->n);
    for (int64_t i = 0; i < ds->n && !s; i++) {
        int32_t y;
        if (!(s = ds->get(ds, i, NULL, x, &y))) len[i] = row_len(x, T);
    }
    ft_free(x);
    if (s) { ft_free(len); return s; }
    *out = len;
    return FT_OK;
}

ft_status ft_text_check_data(const ft_model *m, const ft_dataset *ds) {
    if (!ft_model_is_text(m))
        return ft_fail(FT_EINVAL, "dataset '%s' is text (%s) but the model (%s) is not a text model", ds->name,
                       ft_task_name((ft_task)ds->task), m->arch ? m->arch->name : "?");
    ft_task head = ft_model_text_head(m);
    if (head != (ft_task)ds->task)
        return ft_fail(FT_EINVAL, "dataset '%s' is for %s but the model's head is for %s (give the model a %s head)", ds->name,
                       ft_task_name((ft_task)ds->task), head == FT_TASK_CLASSIFY ? "no text task" : ft_task_name(head),
                       ft_task_name((ft_task)ds->task));
    if (ds->task != FT_TASK_LM && ds->n_classes > m->n_classes)
        return ft_fail(FT_EINVAL, "dataset '%s' has %d labels but the model's head has %d", ds->name, ds->n_classes, m->n_classes);
    if (ds->task == FT_TASK_LM && ds->n_classes != m->n_classes)
        return ft_fail(FT_EINVAL, "dataset '%s' was tokenised with %d tokens but the model's vocabulary has %d", ds->name,
                       ds->n_classes, m->n_classes);
    int64_t maxpos = m->in_ndim == 1 ? m->in_shape[0] : 0;
    if (maxpos > 0 && ds->x_shape[1] > maxpos)
        return ft_fail(FT_EINVAL, "dataset '%s' has sequences of %lld tokens but the model takes at most %lld (lower --max-len)",
                       ds->name, (long long)ds->x_shape[1], (long long)maxpos);
    if (ds->n < 1) return ft_fail(FT_EINVAL, "dataset '%s' is empty", ds->name);
    return FT_OK;
}

/* ---------------- evaluation ---------------- */
struct ft_text_eval {
    int task, C;
    int64_t T;
    const ft_dataset *ds;
    double loss_sum;
    int64_t counted, correct, examples;
    int64_t *confusion;
    ft_entity_counter *ents;
    const char **truth, **pred; /* one sentence of tag names */
    char **names;               /* tag names (dataset's, else "LABEL_k") */
    bool own_names;
};

void ft_text_eval_free(ft_text_eval *e) {
    if (!e) return;
    ft_free(e->confusion);
    ft_entity_counter_free(e->ents);
    ft_free(e->truth);
    ft_free(e->pred);
    if (e->own_names && e->names) {
        for (int c = 0; c < e->C; c++) ft_free(e->names[c]);
        ft_free(e->names);
    }
    ft_free(e);
}

ft_status ft_text_eval_new(const ft_model *m, const ft_dataset *ds, ft_text_eval **out) {
    *out = NULL;
    ft_text_eval *e = ft_calloc(1, sizeof *e);
    if (!e) return ft_fail(FT_ENOMEM, "out of memory");
    e->task = ds->task;
    e->T = ds->x_shape[1];
    e->ds = ds;
    e->C = m->n_classes;
    ft_status s = FT_OK;
    if (e->task != FT_TASK_LM && !(e->confusion = ft_calloc((size_t)e->C * (size_t)e->C, sizeof *e->confusion)))
        s = ft_fail(FT_ENOMEM, "out of memory");
    if (!s && e->task == FT_TASK_TOKEN_CLS) {
        s = ft_entity_counter_new(&e->ents);
        if (!s && (!(e->truth = ft_calloc((size_t)e->T, sizeof *e->truth)) || !(e->pred = ft_calloc((size_t)e->T, sizeof *e->pred))))
            s = ft_fail(FT_ENOMEM, "out of memory");
        if (!s && ds->class_names && ds->n_classes == e->C) {
            e->names = ds->class_names;
        } else if (!s) {
            e->own_names = true;
            if (!(e->names = ft_calloc((size_t)e->C, sizeof *e->names))) s = ft_fail(FT_ENOMEM, "out of memory");
            for (int c = 0; c < e->C && !s; c++) {
                char b[32];
                if (!(c < ds->n_classes && ds->class_names)) snprintf(b, sizeof b, "LABEL_%d", c);
                else snprintf(b, sizeof b, "%.31s", ds->class_names[c]);
                if (!(e->names[c] = ft_strdup(b))) s = ft_fail(FT_ENOMEM, "out of memory");
            }
        }
    }
    if (s) { ft_text_eval_free(e); return s; }
    *out = e;
    return FT_OK;
}

static int argmax(const float *z, int64_t C) {
    int best = 0;
    for (int64_t c = 1; c < C; c++) if (z[c] > z[best]) best = (int)c;
    return best;
}

ft_status ft_text_eval_add(ft_text_eval *e, const ft_text_graph *tg, const int32_t *x, const int32_t *y, int64_t n) {
    const float *z = tg->logits->val;
    int64_t T = e->T, Tg = tg->T; /* the dataset's length (x) and the batch's (logits) */
    double loss = tg->loss->val[0];
    e->examples += n;
    if (e->task == FT_TASK_SEQ_CLS) {
        int64_t C = tg->logits->shape[1];
        for (int64_t i = 0; i < n; i++) {
            int p = argmax(z + i * C, C);
            e->confusion[(int64_t)y[i] * e->C + p]++;
            e->correct += p == y[i];
        }
        e->counted += n;
        e->loss_sum += loss * (double)n;
        return FT_OK;
    }
    int64_t C = tg->logits->shape[2], batch_count = 0;
    for (int64_t i = 0; i < n; i++) {
        const int32_t *tgt = x + i * 3 * T + 2 * T;
        int64_t w = 0;
        for (int64_t t = 0; t < Tg; t++) { /* past Tg: padding, nothing scored */
            if (tgt[t] == FT_IGNORE_INDEX) continue;
            int p = argmax(z + (i * Tg + t) * C, C);
            batch_count++;
            e->correct += p == tgt[t];
            if (e->task == FT_TASK_TOKEN_CLS) {
                e->confusion[(int64_t)tgt[t] * e->C + p]++;
                e->truth[w] = e->names[tgt[t]];
                e->pred[w] = e->names[p];
                w++;
            }
        }
        if (e->task == FT_TASK_TOKEN_CLS) {
            ft_status s = ft_entity_counter_add(e->ents, e->truth, e->pred, w);
            if (s) return s;
        }
    }
    e->counted += batch_count;
    e->loss_sum += loss * (double)batch_count;
    return FT_OK;
}

ft_status ft_text_eval_finish(ft_text_eval *e, ft_eval_result *res) {
    ft_status s = FT_OK;
    res->task = e->task;
    res->examples = e->examples;
    res->n = e->counted;
    res->correct = e->correct;
    res->n_classes = e->C;
    res->loss = e->counted ? e->loss_sum / (double)e->counted : 0;
    res->accuracy = e->counted ? (double)e->correct / (double)e->counted : 0;
    res->confusion = e->confusion;
    e->confusion = NULL;
    if (res->confusion) res->macro_f1 = ft_macro_f1(res->confusion, res->n_classes);
    if (e->task == FT_TASK_TOKEN_CLS) s = ft_entity_counter_result(e->ents, &res->entities);
    res->perplexity = exp(res->loss);
    res->score = e->task == FT_TASK_TOKEN_CLS ? res->entities.f1 : e->task == FT_TASK_LM ? exp(-res->loss) : res->accuracy;
    ft_text_eval_free(e);
    return s;
}
