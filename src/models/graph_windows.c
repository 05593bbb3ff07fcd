/* Several windows of one example through one shared network: a graph model that reads W
 * frames becomes one that reads W + hop * (K - 1) frames, runs its K windows (hop frames
 * apart) through the same nodes and parameters as one batch of N * K, and combines the K
 * outputs of each example (concatenated, mean or max). openWakeWord's own heads read 16
 * consecutive speech embeddings (76-frame windows, hop 8) in this way (docs/speech.md).
 *
 * Only existing graph ops: gather (axis 1, constant indices [K, W]) cuts the windows, a
 * reshape with the batch in its shape ("full") stacks them into the batch, and after the
 * network another one (plus a mean or reduce_max) gives each example its row back. Each
 * example stays a contiguous block throughout, so the feature cache still computes a
 * frozen network once per example (ft_graph_frozen_frontier allows batch groups).
 *
 * The shared form (ft_model_time_windows_shared) runs the nodes up to a named one once over
 * the whole input instead and stacks that node's time steps into the batch: the same values
 * for a network convolutional in time, at a fraction of the cost (the windows overlap). It
 * is built next to the plain form and checked against it on a seeded input. */
#include "finetune/model.h"
#include "finetune/io.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pool_names[] = {"concat", "mean", "max"};

ft_status ft_windows_pool_parse(const char *s, ft_windows_pool *out) {
    for (int k = 0; k < 3; k++)
        if (s && !strcmp(s, pool_names[k])) { *out = (ft_windows_pool)k; return FT_OK; }
    return ft_fail(FT_EINVAL, "window pooling '%s' is not one of concat, mean, max", s ? s : "(null)");
}

static json_t *ints(int n, const int64_t *v) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *node(const char *name, const char *op, const char *input, json_t *attrs) {
    json_t *n = json_object();
    json_object_set_new(n, "name", json_string(name));
    json_object_set_new(n, "op", json_string(op));
    json_t *in = json_array();
    json_array_append_new(in, json_string(input));
    json_object_set_new(n, "inputs", in);
    json_object_set_new(n, "attrs", attrs);
    return n;
}

/* A reshape whose shape includes the batch dim: [-1, dims...]. */
static json_t *full_reshape(const char *name, const char *input, int n, const int64_t *dims) {
    int64_t s[FT_MAX_DIMS];
    s[0] = -1;
    for (int i = 0; i < n; i++) s[i + 1] = dims[i];
    json_t *a = json_object();
    json_object_set_new(a, "shape", ints(n + 1, s));
    json_object_set_new(a, "full", json_true());
    return node(name, "reshape", input, a);
}

/* After node `from` (E values per window, N*K rows): each example's K outputs joined or
 * pooled; the result is the output, with no head. */
static void finish(json_t *root, json_t *nodes, const char *from, int K, int64_t E, ft_windows_pool pool) {
    if (pool == FT_WINDOWS_CONCAT) {
        int64_t d = (int64_t)K * E;
        json_array_append_new(nodes, full_reshape("windows.join", from, 1, &d));
        json_object_set_new(root, "output", json_string("windows.join"));
    } else {
        int64_t d[2] = {K, E};
        json_array_append_new(nodes, full_reshape("windows.join", from, 2, d));
        json_t *a = json_object();
        int64_t one = 1;
        json_object_set_new(a, "dims", ints(1, &one));
        json_array_append_new(nodes, node("windows.pool", pool == FT_WINDOWS_MEAN ? "mean" : "reduce_max", "windows.join", a));
        json_object_set_new(root, "output", json_string("windows.pool"));
    }
    json_object_del(root, "outputs");
    json_object_del(root, "head"); /* a feature extractor now: --new-head adds a linear head */
    json_object_set_new(root, "n_classes", json_integer(pool == FT_WINDOWS_CONCAT ? (int64_t)K * E : E));
    json_t *pp = json_object_get(root, "preprocess");
    if (json_is_object(pp)) json_object_del(pp, "labels");
}

static ft_status node_shape(json_t *cfg, const char *name, int *ndim, int64_t *shape);

/* The shared form: the input grows to T frames and every node up to `share` runs once over
 * it (per-example reshapes before it that name W frames name T instead); share's output
 * must have one axis that is 1 for W frames and K for T; that axis moves next to the batch
 * and the K steps become K rows of a batch of N*K with share's one-window shape, which the
 * rest of the network reads as before. */
static ft_status share_windows(json_t *root, const char *in_name, const char *share, int64_t W, int64_t T, int K,
                               int64_t E, ft_windows_pool pool, const ft_model *m) {
    (void)in_name;
    (void)m;
    json_t *nodes = json_object_get(root, "nodes"), *nd;
    size_t i, at = (size_t)-1;
    json_array_foreach(nodes, i, nd) {
        const char *nm = json_string_value(json_object_get(nd, "name"));
        if (nm && !strcmp(nm, share)) { at = i; break; }
    }
    if (at == (size_t)-1) return ft_fail(FT_EINVAL, "windows: the model has no node '%s'", share);
    int nd1 = 0, nd2 = 0;
    int64_t s1[FT_MAX_DIMS], s2[FT_MAX_DIMS];
    ft_status s = node_shape(root, share, &nd1, s1);
    if (s) return s;
    json_array_set_new(json_object_get(json_object_get(root, "input"), "shape"), 0, json_integer(T));
    for (i = 0; i <= at; i++) {
        nd = json_array_get(nodes, i);
        const char *op = json_string_value(json_object_get(nd, "op"));
        json_t *attrs = json_object_get(nd, "attrs");
        if (!op || strcmp(op, "reshape") || json_is_true(json_object_get(attrs, "full"))) continue;
        json_t *sh = json_object_get(attrs, "shape"), *v;
        size_t j;
        json_array_foreach(sh, j, v) {
            if (json_integer_value(v) == W) json_array_set_new(sh, j, json_integer(T));
        }
    }
    if ((s = node_shape(root, share, &nd2, s2))) return s;
    int ta = -1;
    bool ok = nd1 == nd2;
    for (int d = 0; ok && d < nd1; d++) {
        if (s1[d] == s2[d]) continue;
        if (ta >= 0 || s1[d] != 1 || s2[d] != K) ok = false;
        ta = d;
    }
    if (!ok || (ta < 0 && K > 1))
        return ft_fail(FT_EINVAL, "windows: node '%s' does not have one time axis that grows from 1 to %d steps when the "
                       "input grows from %lld to %lld frames", share, K, (long long)W, (long long)T);
    /* readers of `share` read the stacked windows */
    for (i = at + 1; i < json_array_size(nodes); i++) {
        json_t *ins = json_object_get(json_array_get(nodes, i), "inputs"), *v;
        size_t j;
        json_array_foreach(ins, j, v) {
            if (json_string_value(v) && !strcmp(json_string_value(v), share)) json_array_set_new(ins, j, json_string("windows.batch"));
        }
    }
    int64_t dims[FT_MAX_DIMS];
    int k = 0;
    dims[k++] = 0;
    if (ta >= 0) dims[k++] = ta + 1;
    for (int d = 0; d < nd1; d++) if (d != ta) dims[k++] = d + 1;
    json_t *pa = json_object();
    json_object_set_new(pa, "dims", ints(k, dims));
    char out_copy[1024];
    const char *o = json_string_value(json_object_get(root, "output"));
    json_t *outs = json_object_get(root, "outputs");
    if (json_array_size(outs)) o = json_string_value(json_array_get(outs, 0));
    if (!o) o = json_string_value(json_object_get(json_array_get(nodes, json_array_size(nodes) - 1), "name"));
    snprintf(out_copy, sizeof out_copy, "%s", o ? o : "");
    json_array_insert_new(nodes, at + 1, node("windows.time", "permute", share, pa));
    json_array_insert_new(nodes, at + 2, full_reshape("windows.batch", "windows.time", nd1, s1));
    finish(root, nodes, !strcmp(out_copy, share) ? "windows.batch" : out_copy, K, E, pool);
    return FT_OK;
}

/* The output shape of node `name` of graph config `cfg` (not consumed) for one example,
 * built at batch 1. */
static ft_status node_shape(json_t *cfg, const char *name, int *ndim, int64_t *shape) {
    json_t *c = json_deep_copy(cfg);
    json_object_set_new(c, "output", json_string(name));
    json_object_del(c, "outputs");
    json_object_del(c, "head");
    json_object_del(c, "n_classes");
    /* only the nodes up to `name`, and the params they use (later nodes may not fit yet) */
    json_t *nodes = json_object_get(c, "nodes"), *params = json_object_get(c, "params"), *nd;
    size_t i, keep = json_array_size(nodes);
    json_array_foreach(nodes, i, nd) {
        const char *nm = json_string_value(json_object_get(nd, "name"));
        if (nm && !strcmp(nm, name)) { keep = i + 1; break; }
    }
    while (json_array_size(nodes) > keep) json_array_remove(nodes, json_array_size(nodes) - 1);
    for (size_t j = json_array_size(params); j-- > 0;) {
        const char *pn = json_string_value(json_object_get(json_array_get(params, j), "name"));
        bool used = false;
        json_array_foreach(nodes, i, nd) {
            json_t *pl = json_object_get(nd, "params"), *v;
            size_t k;
            json_array_foreach(pl, k, v) used = used || (pn && json_string_value(v) && !strcmp(pn, json_string_value(v)));
        }
        if (!used) json_array_remove(params, j);
    }
    char *t = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER), *text = t ? ft_strdup(t) : NULL;
    free(t);
    json_decref(c);
    if (!text) return ft_fail(FT_ENOMEM, "out of memory");
    ft_model *m = NULL;
    ft_status s = ft_model_from_config(text, &m);
    ft_free(text);
    if (s) return ft_fail_context(s, "windows: node '%s'", name);
    ft_graph *g = ft_graph_new(m->params);
    int64_t sh[FT_MAX_DIMS] = {1};
    for (int d = 0; d < m->in_ndim; d++) sh[d + 1] = m->in_shape[d];
    ft_node *x = g ? ft_input(g, "x", m->in_dtype, m->in_ndim + 1, sh) : NULL;
    ft_node *y = x ? m->arch->build(m, g, x, false) : NULL;
    if (!g) s = ft_fail(FT_ENOMEM, "out of memory");
    else if ((s = ft_graph_status(g))) ft_fail_context(s, "windows: node '%s'", name);
    else if (!y) s = ft_fail(FT_EINVAL, "windows: node '%s' gives no value", name);
    else {
        *ndim = y->ndim - 1;
        for (int d = 1; d < y->ndim; d++) shape[d - 1] = y->shape[d];
    }
    ft_graph_free(g);
    ft_model_free(m);
    return s;
}

/* One forward at batch n (eval plan) into out (the output's numel floats). */
static ft_status run_once(ft_model *m, const float *x, int64_t n, float *out, int64_t cap) {
    ft_graph *g = ft_graph_new(m->params);
    if (!g) return ft_fail(FT_ENOMEM, "out of memory");
    int64_t sh[FT_MAX_DIMS] = {n}, per = 1;
    for (int d = 0; d < m->in_ndim; d++) { sh[d + 1] = m->in_shape[d]; per *= m->in_shape[d]; }
    ft_node *in = ft_input(g, "x", m->in_dtype, m->in_ndim + 1, sh);
    ft_node *y = m->arch->build(m, g, in, false);
    if (y) ft_node_keep(y);
    ft_status s = ft_graph_plan(g, NULL, false);
    if (!s) s = ft_graph_set_input(g, in, x, (size_t)(n * per) * sizeof(float));
    if (!s) s = ft_graph_forward(g);
    if (!s && y->numel > cap) s = ft_fail(FT_ESHAPE, "windows: unexpected output size");
    if (!s) memcpy(out, y->val, (size_t)y->numel * sizeof(float));
    ft_graph_free(g);
    return s;
}

static ft_status build_windows(const ft_model *m, int K, int hop, ft_windows_pool pool, const char *share, ft_model **out);

ft_status ft_model_time_windows(const ft_model *m, int K, int hop, ft_windows_pool pool, ft_model **out) {
    return build_windows(m, K, hop, pool, NULL, out);
}

ft_status ft_model_time_windows_shared(const ft_model *m, int K, int hop, ft_windows_pool pool, const char *node,
                                       ft_model **out) {
    *out = NULL;
    if (!node || !*node) return ft_fail(FT_EINVAL, "windows: no node named to share the windows' computation up to");
    ft_model *a = NULL, *b = NULL;
    ft_status s = build_windows(m, K, hop, pool, NULL, &a);
    if (!s) s = build_windows(m, K, hop, pool, node, &b);
    /* The shared form must compute what the stacked windows compute: check on seeded input. */
    int64_t per = 1, n = 2;
    if (!s)
        for (int d = 0; d < a->in_ndim; d++) per *= a->in_shape[d];
    float *x = NULL, *ya = NULL, *yb = NULL;
    if (!s) {
        x = ft_malloc((size_t)(n * per) * sizeof *x);
        ya = ft_malloc((size_t)(n * a->n_classes) * sizeof *ya);
        yb = ft_malloc((size_t)(n * a->n_classes) * sizeof *yb);
        if (!x || !ya || !yb) s = ft_fail(FT_ENOMEM, "out of memory");
    }
    if (!s) {
        ft_pcg32 r;
        ft_pcg32_seed(&r, 20261129, 0);
        for (int64_t i = 0; i < n * per; i++) x[i] = 2.0f * ft_pcg32_uniform(&r) - 1.0f;
        s = run_once(a, x, n, ya, n * a->n_classes);
        if (!s) s = run_once(b, x, n, yb, n * a->n_classes);
    }
    if (!s) {
        double worst = 0, scale = 1e-6;
        for (int64_t i = 0; i < n * a->n_classes; i++) if (fabs(ya[i]) > scale) scale = fabs(ya[i]);
        for (int64_t i = 0; i < n * a->n_classes; i++) {
            double d = fabs((double)ya[i] - yb[i]) / scale;
            if (!(d <= worst)) worst = d;
        }
        if (!(worst < 1e-4))
            s = ft_fail(FT_EINVAL, "windows: running the model once up to '%s' over all %d windows differs from running "
                        "each window (by %.3g relative): the network before it is not convolutional in time with a "
                        "stride that divides the hop %d", node, K, worst, hop);
    }
    ft_free(x);
    ft_free(ya);
    ft_free(yb);
    ft_model_free(a);
    if (s) { ft_model_free(b); return s; }
    *out = b;
    return FT_OK;
}

static ft_status build_windows(const ft_model *m, int K, int hop, ft_windows_pool pool, const char *share, ft_model **out) {
    *out = NULL;
    if (!m->arch || strcmp(m->arch->name, "graph"))
        return ft_fail(FT_EUNSUPPORTED, "windows: model %s is not a graph model (imported or written as a graph config)",
                       m->arch ? m->arch->name : "?");
    if (K < 1 || K > 4096) return ft_fail(FT_EINVAL, "windows: %d windows is not in [1, 4096]", K);
    if (hop < 1 || hop > (1 << 20)) return ft_fail(FT_EINVAL, "windows: hop %d frames is not in [1, 2^20]", hop);
    if ((unsigned)pool > FT_WINDOWS_MAX) return ft_fail(FT_EINVAL, "windows: pooling %d is not one of FT_WINDOWS_*", (int)pool);
    if (m->in_dtype != FT_F32 || m->in_ndim < 1 || m->in_ndim > FT_MAX_DIMS - 2)
        return ft_fail(FT_EINVAL, "windows: the model's input must be float32 [frames, ...] with 1 to %d dims per example",
                       FT_MAX_DIMS - 2);
    int64_t W = m->in_shape[0], E = m->n_classes;
    if ((int64_t)K * W > (1 << 24)) return ft_fail(FT_EINVAL, "windows: %d windows of %lld frames are too many", K, (long long)W);
    if (E < 1) return ft_fail(FT_EINVAL, "windows: the model has no output width");
    json_error_t err;
    json_t *root = json_loads(m->config_json, 0, &err);
    json_t *in = root ? json_object_get(root, "input") : NULL, *nodes = root ? json_object_get(root, "nodes") : NULL;
    ft_status s = FT_OK;
    char *text = NULL;
    int64_t *idx = NULL;
    if (!json_is_object(root) || !json_is_object(in) || !json_is_array(nodes)) {
        s = ft_fail(FT_EFORMAT, "windows: the model's config is not a graph config");
        goto done;
    }
    if (json_object_get(in, "batch")) {
        s = ft_fail(FT_EINVAL, "windows: the model runs at one batch size only (input.batch); its windows cannot share a batch");
        goto done;
    }
    json_t *outs = json_object_get(root, "outputs");
    if (json_array_size(outs) > 1) {
        s = ft_fail(FT_EINVAL, "windows: the model has %zu outputs; windows need one", json_array_size(outs));
        goto done;
    }
    const char *out_name = json_string_value(json_array_size(outs) ? json_array_get(outs, 0) : json_object_get(root, "output"));
    if (!out_name) out_name = json_string_value(json_object_get(json_array_get(nodes, json_array_size(nodes) - 1), "name"));
    const char *in_name = json_string_value(json_object_get(in, "name"));
    if (!in_name) in_name = "input";
    if (!out_name) { s = ft_fail(FT_EFORMAT, "windows: the model's output node has no name"); goto done; }
    char out_copy[1024], in_copy[1024];
    snprintf(out_copy, sizeof out_copy, "%s", out_name);
    snprintf(in_copy, sizeof in_copy, "%s", in_name);

    int64_t T = W + (int64_t)hop * (K - 1);
    if (share) { /* run once over all T frames up to `share`, then stack its K time steps into the batch */
        s = share_windows(root, in_copy, share, W, T, K, m->n_classes, pool, m);
        goto built;
    }
    /* the input grows to T frames */
    json_t *shape = json_object_get(in, "shape");
    json_array_set_new(shape, 0, json_integer(T));

    /* windows: gather [N, T, ...] -> [N, K, W, ...]; reshape -> [N*K, W, ...] */
    if (!(idx = ft_malloc((size_t)K * (size_t)W * sizeof *idx))) { s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    for (int64_t k = 0; k < K; k++)
        for (int64_t t = 0; t < W; t++) idx[k * W + t] = k * hop + t;
    json_t *ga = json_object();
    json_object_set_new(ga, "axis", json_integer(1));
    json_object_set_new(ga, "indices", ints((int)(K * W), idx));
    int64_t ish[2] = {K, W};
    json_object_set_new(ga, "indices_shape", ints(2, ish));
    json_t *pre = json_array();
    json_array_append_new(pre, node("windows.frames", "gather", in_copy, ga));
    json_array_append_new(pre, full_reshape("windows.batch", "windows.frames", m->in_ndim, m->in_shape));
    /* the network reads the stacked windows */
    size_t i;
    json_t *nd;
    json_array_foreach(nodes, i, nd) {
        json_t *ins = json_object_get(nd, "inputs"), *v;
        size_t j;
        json_array_foreach(ins, j, v) {
            if (json_string_value(v) && !strcmp(json_string_value(v), in_copy)) json_array_set_new(ins, j, json_string("windows.batch"));
        }
    }
    for (size_t k = json_array_size(pre); k-- > 0;) json_array_insert(nodes, 0, json_array_get(pre, k));
    json_decref(pre);
    finish(root, nodes, out_copy, K, E, pool);
built:
    if (s) goto done;
    json_t *src = json_object();
    json_object_set_new(src, "format", json_string("windows"));
    json_object_set_new(src, "windows", json_integer(K));
    json_object_set_new(src, "hop", json_integer(hop));
    json_object_set_new(src, "window", json_integer(W));
    json_object_set_new(src, "pool", json_string(pool_names[pool]));
    if (share) json_object_set_new(src, "shared_up_to", json_string(share));
    if (json_object_get(root, "source")) json_object_set(src, "inner", json_object_get(root, "source"));
    json_object_set_new(root, "source", src);


    char *t = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!t || !(text = ft_strdup(t))) { free(t); s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    free(t);
    ft_model *n = NULL;
    if ((s = ft_model_from_config(text, &n))) { ft_fail_context(s, "windows"); goto done; }
    for (int p = 0; p < n->params->n; p++) {
        const ft_param_info *q = &n->params->p[p];
        int j = ft_params_find(m->params, q->name);
        if (j < 0 || m->params->p[j].numel != q->numel) {
            s = ft_fail(FT_EINVAL, "windows: parameter '%s' did not carry over", q->name);
            ft_model_free(n);
            goto done;
        }
        memcpy(ft_params_value(n->params, p), ft_params_value(m->params, j), (size_t)q->numel * sizeof(float));
        n->params->p[p].trainable = m->params->p[j].trainable;
    }
    *out = n;
done:
    ft_free(idx);
    ft_free(text);
    json_decref(root);
    return s;
}
