/* Data movement: reshape, transpose, slice (with ONNX steps), concat. Values are copied (no aliasing), so
 * the memory planner can treat every node alike. */
#include "ops/ops.h"

#include <string.h>

/* ---------------- reshape ---------------- */
ft_node *ft_reshape(ft_graph *g, ft_node *x, int ndim, const int64_t *shape) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (ndim < 0 || ndim > FT_MAX_DIMS) return ft_graph_fail(g, FT_ESHAPE, "reshape: %d dims", ndim);
    int64_t s[FT_MAX_DIMS], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        s[d] = shape[d];
        if (s[d] == -1) {
            if (infer >= 0) return ft_graph_fail(g, FT_ESHAPE, "reshape: more than one -1");
            infer = d;
        } else if (s[d] < 0) {
            return ft_graph_fail(g, FT_ESHAPE, "reshape: negative dim");
        } else {
            known *= s[d];
        }
    }
    if (infer >= 0 && known == 0) /* torch: the -1 could be anything */
        return ft_graph_fail(g, FT_ESHAPE, "reshape: a -1 next to a 0 in the shape is ambiguous (%lld values)", (long long)x->numel);
    if (infer >= 0) s[infer] = x->numel / known;
    if (ft_shape_numel(ndim, s) != x->numel) {
        char sx[64];
        ft_shape_str(x, sx, sizeof sx);
        return ft_graph_fail(g, FT_ESHAPE, "reshape: %s (%lld values) cannot become %lld values", sx,
                             (long long)x->numel, (long long)ft_shape_numel(ndim, s));
    }
    ft_node *n = ft_node_new(g, FT_OP_RESHAPE, 1, &x, ndim, s);
    if (n) n->dtype = x->dtype;
    return n;
}

static ft_status reshape_forward(ft_node *n) {
    memcpy(n->val, n->in[0]->val, (size_t)n->numel * 4);
    return FT_OK;
}
static void reshape_backward(ft_node *n) {
    float *gx = n->in[0]->grad;
    for (int64_t i = 0; i < n->numel; i++) gx[i] += n->grad[i];
}
static unsigned save_none(const ft_node *n) { return 0; }
const ft_op_def ft_def_reshape = {"reshape", reshape_forward, reshape_backward, NULL, NULL, save_none, NULL};

/* ---------------- transpose ----------------
 * Swap dims d0 < d1. Viewed as [A, D0, B, D1, C] -> [A, D1, B, D0, C]. */
ft_node *ft_transpose(ft_graph *g, ft_node *x, int dim0, int dim1) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    int a = ft_norm_dim(dim0, x->ndim), b = ft_norm_dim(dim1, x->ndim);
    if (a < 0 || b < 0) return ft_graph_fail(g, FT_ESHAPE, "transpose: dims %d,%d out of range for %d dims", dim0, dim1, x->ndim);
    if (a > b) { int t = a; a = b; b = t; }
    int64_t s[FT_MAX_DIMS];
    memcpy(s, x->shape, sizeof s);
    s[a] = x->shape[b];
    s[b] = x->shape[a];
    ft_node *n = ft_node_new(g, FT_OP_TRANSPOSE, 1, &x, x->ndim, s);
    if (n) { n->iarg[0] = a; n->iarg[1] = b; n->dtype = x->dtype; }
    return n;
}

typedef struct { int64_t A, D0, B, D1, C; } tdims;
static tdims tget(const ft_node *x, int a, int b) {
    tdims t = {1, x->shape[a], 1, x->shape[b], 1};
    for (int d = 0; d < a; d++) t.A *= x->shape[d];
    for (int d = a + 1; d < b; d++) t.B *= x->shape[d];
    for (int d = b + 1; d < x->ndim; d++) t.C *= x->shape[d];
    return t;
}

/* dst[a, j, b, i, c] (op) src[a, i, b, j, c]; accumulate when add. */
static void transpose_copy(const float *src, float *dst, tdims t, bool add) {
    #pragma omp parallel for collapse(2) if (t.A * t.D0 * t.B * t.D1 * t.C > FT_PAR_MIN)
    for (int64_t a = 0; a < t.A; a++)
        for (int64_t i = 0; i < t.D0; i++)
            for (int64_t b = 0; b < t.B; b++)
                for (int64_t j = 0; j < t.D1; j++) {
                    const float *s = src + (((a * t.D0 + i) * t.B + b) * t.D1 + j) * t.C;
                    float *d = dst + (((a * t.D1 + j) * t.B + b) * t.D0 + i) * t.C;
                    if (add) for (int64_t c = 0; c < t.C; c++) d[c] += s[c];
                    else memcpy(d, s, (size_t)t.C * 4);
                }
}

static ft_status transpose_forward(ft_node *n) {
    transpose_copy(n->in[0]->val, n->val, tget(n->in[0], n->iarg[0], n->iarg[1]), false);
    return FT_OK;
}
static void transpose_backward(ft_node *n) {
    /* The gradient is the same transpose applied to the output's layout. */
    transpose_copy(n->grad, n->in[0]->grad, tget(n, n->iarg[0], n->iarg[1]), true);
}

/* Reference: map every output index back through the swapped coordinates. */
static void transpose_ref(const ft_node *x, const float *src, float *dst, int a, int b, bool backward) {
    const ft_node *shape_src = x;
    int64_t idx[FT_MAX_DIMS];
    for (int64_t o = 0; o < x->numel; o++) {
        int64_t r = o;
        for (int d = shape_src->ndim - 1; d >= 0; d--) { idx[d] = r % shape_src->shape[d]; r /= shape_src->shape[d]; }
        int64_t t = idx[a]; idx[a] = idx[b]; idx[b] = t;
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++) {
            int64_t dim = x->shape[d == a ? b : d == b ? a : d];
            off = off * dim + idx[d];
        }
        if (backward) dst[off] += src[o];
        else dst[off] = src[o];
    }
}
static ft_status transpose_forward_ref(ft_node *n) {
    transpose_ref(n->in[0], n->in[0]->val, n->val, n->iarg[0], n->iarg[1], false);
    return FT_OK;
}
static void transpose_backward_ref(ft_node *n) {
    transpose_ref(n, n->grad, n->in[0]->grad, n->iarg[0], n->iarg[1], true);
}
const ft_op_def ft_def_transpose = {"transpose", transpose_forward, transpose_backward, transpose_forward_ref,
                                    transpose_backward_ref, save_none, NULL};

/* ---------------- slice ---------------- x[..., start:end:step, ...] along dim.
 * iarg[0] = dim, iarg[1] = start, iarg[2] = step (0 from older builders means 1). Step 1
 * copies contiguous blocks; other steps gather inner blocks one at a time. */
static ft_node *slice_node(ft_graph *g, ft_node *x, int d, int64_t start, int64_t len, int64_t step) {
    int64_t s[FT_MAX_DIMS];
    memcpy(s, x->shape, sizeof s);
    s[d] = len;
    ft_node *n = ft_node_new(g, FT_OP_SLICE, 1, &x, x->ndim, s);
    if (n) { n->iarg[0] = d; n->iarg[1] = (int32_t)start; n->iarg[2] = (int32_t)step; n->dtype = x->dtype; }
    return n;
}

ft_node *ft_slice(ft_graph *g, ft_node *x, int dim, int64_t start, int64_t end) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    int d = ft_norm_dim(dim, x->ndim);
    if (d < 0) return ft_graph_fail(g, FT_ESHAPE, "slice: dim %d out of range", dim);
    if (start < 0) start += x->shape[d];
    if (end < 0) end += x->shape[d];
    if (start < 0 || end > x->shape[d] || start > end)
        return ft_graph_fail(g, FT_ESHAPE, "slice: [%lld:%lld] outside dim %d of size %lld", (long long)start,
                             (long long)end, d, (long long)x->shape[d]);
    return slice_node(g, x, d, start, end - start, 1);
}

/* ONNX Slice semantics for one axis. */
ft_node *ft_slice_step(ft_graph *g, ft_node *x, int dim, int64_t start, int64_t end, int64_t step) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    int d = ft_norm_dim(dim, x->ndim);
    if (d < 0) return ft_graph_fail(g, FT_ESHAPE, "slice: dim %d out of range", dim);
    if (step == 0) return ft_graph_fail(g, FT_EINVAL, "slice: step 0");
    int64_t D = x->shape[d], len;
    if (D > INT32_MAX) return ft_graph_fail(g, FT_ESHAPE, "slice: dim %d of size %lld is too large", d, (long long)D);
    if (start < 0) start += D;
    if (end < 0) end += D;
    if (step > 0) {
        start = start < 0 ? 0 : start > D ? D : start;
        end = end < 0 ? 0 : end > D ? D : end;
        len = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
        start = start < 0 ? 0 : start > D - 1 ? D - 1 : start;
        end = end < -1 ? -1 : end > D - 1 ? D - 1 : end;
        len = start > end ? (start - end - 1) / -step + 1 : 0;
    }
    if (len <= 1) step = 1;                  /* one element (or none): nothing to stride */
    if (step > D) step = D;                  /* only fits int32 when it no longer matters */
    if (step < -D) step = -D;
    if (len == 0) start = 0;
    return slice_node(g, x, d, start, len, step);
}

/* [outer, D, inner] view of x along dim. */
static void split3(const ft_node *x, int d, int64_t *outer, int64_t *inner) {
    *outer = 1; *inner = 1;
    for (int i = 0; i < d; i++) *outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= x->shape[i];
}

static inline int64_t slice_step(const ft_node *n) { return n->iarg[2] ? n->iarg[2] : 1; }

static ft_status slice_forward(ft_node *n) {
    const ft_node *x = n->in[0];
    int d = n->iarg[0];
    int64_t outer, inner, start = n->iarg[1], len = n->shape[d], D = x->shape[d], step = slice_step(n);
    split3(x, d, &outer, &inner);
    if (step == 1) {
        for (int64_t o = 0; o < outer; o++)
            memcpy(n->val + o * len * inner, x->val + (o * D + start) * inner, (size_t)(len * inner) * 4);
        return FT_OK;
    }
    #pragma omp parallel for collapse(2) if (n->numel > FT_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < len; k++)
            memcpy(n->val + (o * len + k) * inner, x->val + (o * D + start + k * step) * inner, (size_t)inner * 4);
    return FT_OK;
}
static void slice_backward(ft_node *n) {
    ft_node *x = n->in[0];
    int d = n->iarg[0];
    int64_t outer, inner, start = n->iarg[1], len = n->shape[d], D = x->shape[d], step = slice_step(n);
    split3(x, d, &outer, &inner);
    if (step == 1) {
        for (int64_t o = 0; o < outer; o++) {
            float *gx = x->grad + (o * D + start) * inner;
            const float *gy = n->grad + o * len * inner;
            for (int64_t i = 0; i < len * inner; i++) gx[i] += gy[i];
        }
        return;
    }
    #pragma omp parallel for collapse(2) if (n->numel > FT_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < len; k++) {
            float *gx = x->grad + (o * D + start + k * step) * inner;
            const float *gy = n->grad + (o * len + k) * inner;
            for (int64_t i = 0; i < inner; i++) gx[i] += gy[i];
        }
}
/* Reference: each output element decoded on its own. */
static int64_t slice_ref_src(const ft_node *n, int64_t e) {
    const ft_node *x = n->in[0];
    int d = n->iarg[0];
    int64_t outer, inner, len = n->shape[d];
    split3(x, d, &outer, &inner);
    int64_t i = e % inner, k = (e / inner) % len, o = e / (inner * len);
    return (o * x->shape[d] + n->iarg[1] + k * slice_step(n)) * inner + i;
}
static ft_status slice_forward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) n->val[e] = n->in[0]->val[slice_ref_src(n, e)];
    return FT_OK;
}
static void slice_backward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) n->in[0]->grad[slice_ref_src(n, e)] += n->grad[e];
}
const ft_op_def ft_def_slice = {"slice", slice_forward, slice_backward, slice_forward_ref, slice_backward_ref, save_none, NULL};

/* ---------------- concat ---------------- along dim, up to FT_MAX_INPUTS tensors. */
ft_node *ft_concat(ft_graph *g, int n_in, ft_node **xs, int dim) {
    if (n_in < 1 || n_in > FT_MAX_INPUTS) return ft_graph_fail(g, FT_EINVAL, "concat: %d inputs (1..%d)", n_in, FT_MAX_INPUTS);
    if (!ft_graph_ok(g, n_in, xs)) return NULL;
    int d = ft_norm_dim(dim, xs[0]->ndim);
    if (d < 0) return ft_graph_fail(g, FT_ESHAPE, "concat: dim %d out of range", dim);
    int64_t s[FT_MAX_DIMS];
    memcpy(s, xs[0]->shape, sizeof s);
    s[d] = 0;
    for (int i = 0; i < n_in; i++) {
        bool ok = xs[i]->ndim == xs[0]->ndim;
        for (int k = 0; ok && k < xs[0]->ndim; k++) ok = k == d || xs[i]->shape[k] == xs[0]->shape[k];
        if (!ok) return ft_graph_fail(g, FT_ESHAPE, "concat: input %d does not match input 0 outside dim %d", i, d);
        s[d] += xs[i]->shape[d];
    }
    ft_node *n = ft_node_new(g, FT_OP_CONCAT, n_in, xs, xs[0]->ndim, s);
    if (n) n->iarg[0] = d;
    return n;
}

static void concat_move(ft_node *n, bool backward) {
    int d = n->iarg[0];
    int64_t outer, inner, Dout = n->shape[d], at = 0;
    split3(n, d, &outer, &inner);
    for (int i = 0; i < n->n_in; i++) {
        ft_node *x = n->in[i];
        int64_t Dx = x->shape[d];
        if (!backward || x->grad)
            for (int64_t o = 0; o < outer; o++) {
                float *y = (backward ? n->grad : n->val) + (o * Dout + at) * inner;
                if (backward) {
                    float *gx = x->grad + o * Dx * inner;
                    for (int64_t k = 0; k < Dx * inner; k++) gx[k] += y[k];
                } else {
                    memcpy(y, x->val + o * Dx * inner, (size_t)(Dx * inner) * 4);
                }
            }
        at += Dx;
    }
}
static ft_status concat_forward(ft_node *n) { concat_move(n, false); return FT_OK; }
static void concat_backward(ft_node *n) { concat_move(n, true); }
const ft_op_def ft_def_concat = {"concat", concat_forward, concat_backward, NULL, NULL, save_none, NULL};
