/* A frozen model applied to sliding windows of every example, computed once (speech.h). */
#include "finetune/speech.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    float *feat;     /* n x (T' * E) */
    int32_t *y;
    int64_t per;
} fe_impl;

static ft_status fe_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    const fe_impl *f = ds->impl;
    memcpy(x, f->feat + i * f->per, (size_t)f->per * 4);
    if (y) *y = f->y[i];
    return FT_OK;
}

static void fe_free(ft_dataset *ds) {
    fe_impl *f = ds->impl;
    if (!f) return;
    ft_free(f->feat);
    ft_free(f->y);
    ft_free(f);
}

ft_status ft_dataset_frontend(ft_dataset *inner, ft_model *m, int64_t window, int64_t hop, int64_t batch,
                              ft_dataset **out) {
    *out = NULL;
    if (window < 1 || hop < 1 || batch < 1) return ft_fail(FT_EINVAL, "front end: window, hop and batch must be >= 1");
    if (inner->x_dtype != FT_F32 || m->in_dtype != FT_F32) return ft_fail(FT_EINVAL, "front end: float features only");
    int64_t in_numel = 1;
    for (int d = 0; d < m->in_ndim; d++) in_numel *= m->in_shape[d];
    if (in_numel % window)
        return ft_fail(FT_ESHAPE, "front end: the model takes %lld values, not a whole number of %lld-frame windows",
                       (long long)in_numel, (long long)window);
    int64_t D = in_numel / window;
    if (inner->x_numel % D)
        return ft_fail(FT_ESHAPE, "front end: dataset '%s' has %lld values per example, not frames of %lld", inner->name,
                       (long long)inner->x_numel, (long long)D);
    int64_t T = inner->x_numel / D;
    if (T < window)
        return ft_fail(FT_ESHAPE, "front end: dataset '%s' has %lld frames, fewer than the %lld-frame window", inner->name,
                       (long long)T, (long long)window);
    int64_t Tp = (T - window) / hop + 1;
    ft_graph *g = ft_graph_new(m->params);
    if (!g) return ft_fail(FT_ENOMEM, "out of memory");
    int64_t shape[FT_MAX_DIMS] = {batch};
    for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
    ft_node *x = ft_input(g, "x", FT_F32, m->in_ndim + 1, shape);
    ft_node *o = m->arch->build(m, g, x, false);
    if (o) ft_node_keep(o);
    ft_status s = ft_graph_plan(g, NULL, false);
    if (s) { ft_graph_free(g); return ft_fail_context(s, "front end"); }
    int64_t E = o->numel / batch;
    fe_impl *f = ft_calloc(1, sizeof *f);
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    float *ex = ft_malloc((size_t)inner->x_numel * 4);
    if (f) {
        f->per = Tp * E;
        f->feat = ft_malloc((size_t)(inner->n * f->per) * 4);
        f->y = ft_calloc((size_t)inner->n, sizeof *f->y);
    }
    if (!f || !ds || !ex || !f->feat || !f->y) { s = ft_fail(FT_ENOMEM, "front end: out of memory for %lld examples", (long long)inner->n); goto fail; }
    /* windows of all examples, in order, through batches of `batch`. A window whose frames
     * equal the previous window's (padding: constant frames) is not run again; its output is
     * copied from that window's once every batch is done. */
    int64_t total = inner->n * Tp, fill = 0, loaded = -1;
    int64_t *slot = ft_malloc((size_t)batch * sizeof *slot);      /* window of each batch row */
    uint8_t *same = ft_calloc((size_t)total, 1);                   /* window == previous window */
    if (!slot || !same) { ft_free(slot); ft_free(same); s = ft_fail(FT_ENOMEM, "front end: out of memory"); goto fail; }
    for (int64_t w = 0; w < total || fill; ) {
        if (w < total && fill < batch) {
            int64_t i = w / Tp, k = w % Tp;
            if (loaded != i) {
                if ((s = inner->get(inner, i, NULL, ex, &f->y[i]))) { ft_free(slot); ft_free(same); goto fail; }
                loaded = i;
            }
            const float *win = ex + k * hop * D;
            if (k > 0 && !memcmp(win, win - hop * D, (size_t)in_numel * 4)) {
                same[w++] = 1;
                if (w < total) continue;
            } else {
                memcpy(x->val + fill * in_numel, win, (size_t)in_numel * 4);
                slot[fill++] = w++;
                if (fill < batch && w < total) continue;
            }
            if (!fill) continue;
        }
        for (int64_t j = fill; j < batch; j++) memset(x->val + j * in_numel, 0, (size_t)in_numel * 4);
        if ((s = ft_graph_forward(g))) { ft_free(slot); ft_free(same); goto fail; }
        for (int64_t j = 0; j < fill; j++) {
            int64_t i = slot[j] / Tp, k = slot[j] % Tp;
            memcpy(f->feat + i * f->per + k * E, o->val + j * E, (size_t)E * 4);
        }
        fill = 0;
    }
    for (int64_t w = 0; w < total; w++) /* in order: the previous window is already filled */
        if (same[w]) memcpy(f->feat + w * E, f->feat + (w - 1) * E, (size_t)E * 4);
    ft_free(slot);
    ft_free(same);
    ds->n = inner->n;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 2;
    ds->x_shape[0] = Tp;
    ds->x_shape[1] = E;
    ds->x_numel = Tp * E;
    ds->n_classes = inner->n_classes;
    if (inner->class_names) {
        if (!(ds->class_names = ft_calloc((size_t)inner->n_classes, sizeof *ds->class_names))) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
        for (int c = 0; c < inner->n_classes; c++)
            if (inner->class_names[c] && !(ds->class_names[c] = ft_strdup(inner->class_names[c]))) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
    }
    ds->get = fe_get;
    ds->free_impl = fe_free;
    ds->impl = f;
    snprintf(ds->name, sizeof ds->name, "%s", inner->name);
    ft_free(ex);
    ft_graph_free(g);
    ft_dataset_free(inner);
    *out = ds;
    return FT_OK;
fail:
    if (ds && ds->class_names) {
        for (int c = 0; c < inner->n_classes; c++) ft_free(ds->class_names[c]);
        ft_free(ds->class_names);
    }
    ft_free(ds);
    if (f) { ft_free(f->feat); ft_free(f->y); ft_free(f); }
    ft_free(ex);
    ft_graph_free(g);
    return s;
}
