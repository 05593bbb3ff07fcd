/* sum / mean over one dim (optionally kept as size 1) or over everything. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

/* iarg[0] = dim (FT_ALL_DIMS = all), iarg[1] = keepdim. */
static ft_node *reduce(ft_graph *g, ft_op op, ft_node *x, int dim, bool keepdim) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    int64_t s[FT_MAX_DIMS];
    int nd = 0, d = FT_ALL_DIMS;
    if (dim != FT_ALL_DIMS) {
        d = ft_norm_dim(dim, x->ndim);
        if (d < 0) return ft_graph_fail(g, FT_ESHAPE, "%s: dim %d out of range for %d dims", ft_op_name(op), dim, x->ndim);
        for (int i = 0; i < x->ndim; i++) {
            if (i != d) s[nd++] = x->shape[i];
            else if (keepdim) s[nd++] = 1;
        }
    } else if (keepdim) {
        for (int i = 0; i < x->ndim; i++) s[nd++] = 1;
    }
    ft_node *n = ft_node_new(g, op, 1, &x, nd, s);
    if (n) { n->iarg[0] = d; n->iarg[1] = keepdim; }
    return n;
}
ft_node *ft_sum(ft_graph *g, ft_node *x, int dim, bool keepdim) { return reduce(g, FT_OP_SUM, x, dim, keepdim); }
ft_node *ft_mean(ft_graph *g, ft_node *x, int dim, bool keepdim) { return reduce(g, FT_OP_MEAN, x, dim, keepdim); }

/* [outer, D, inner] decomposition of the input. */
static void dims(const ft_node *n, int64_t *outer, int64_t *D, int64_t *inner) {
    const ft_node *x = n->in[0];
    int d = n->iarg[0];
    if (d == FT_ALL_DIMS) { *outer = 1; *D = x->numel; *inner = 1; return; }
    *outer = 1; *inner = 1; *D = x->shape[d];
    for (int i = 0; i < d; i++) *outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= x->shape[i];
}

static ft_status reduce_forward(ft_node *n) {
    int64_t outer, D, inner;
    dims(n, &outer, &D, &inner);
    const float *x = n->in[0]->val;
    /* a mean over nothing is NaN (0/0, as torch); a sum over nothing is 0 */
    float k = n->op != FT_OP_MEAN ? 1.0f : D ? 1.0f / (float)D : NAN;
    #pragma omp parallel for collapse(2) if (n->in[0]->numel > FT_PAR_MIN && outer * inner > 1)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double s = 0; /* double: long reductions stay accurate and order-independent enough */
            for (int64_t j = 0; j < D; j++) s += x[(o * D + j) * inner + i];
            n->val[o * inner + i] = (float)s * k;
        }
    return FT_OK;
}

static void reduce_backward(ft_node *n) {
    int64_t outer, D, inner;
    dims(n, &outer, &D, &inner);
    float *gx = n->in[0]->grad;
    float k = (n->op == FT_OP_MEAN && D) ? 1.0f / (float)D : 1.0f;
    #pragma omp parallel for if (n->in[0]->numel > FT_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < D; j++)
            for (int64_t i = 0; i < inner; i++) gx[(o * D + j) * inner + i] += n->grad[o * inner + i] * k;
}

static unsigned save_none(const ft_node *n) { return 0; }
const ft_op_def ft_def_sum = {"sum", reduce_forward, reduce_backward, NULL, NULL, save_none, NULL};
const ft_op_def ft_def_mean = {"mean", reduce_forward, reduce_backward, NULL, NULL, save_none, NULL};

/* ---------------- reduce_max / reduce_min ----------------
 * Over a set of dims at once (iarg[0] = bitmask of reduced dims, iarg[1] = keepdim), as
 * torch.amax/amin: the gradient is split evenly among the elements equal to the result
 * (aux keeps that count per output). NaN propagates. The fast kernel runs when the reduced
 * dims of size > 1 are contiguous ([outer, R, inner], parallel over outputs); the reference
 * walks every input index. */
static ft_node *reduce_ext(ft_graph *g, ft_op op, ft_node *x, int n_dims, const int *dims, bool keepdim) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (n_dims < 0 || n_dims > FT_MAX_DIMS || (n_dims && !dims))
        return ft_graph_fail(g, FT_EINVAL, "%s: %d dims", ft_op_name(op), n_dims);
    unsigned mask = 0;
    for (int i = 0; i < n_dims; i++) {
        int d = ft_norm_dim(dims[i], x->ndim);
        if (d < 0) return ft_graph_fail(g, FT_ESHAPE, "%s: dim %d out of range for %d dims", ft_op_name(op), dims[i], x->ndim);
        if (mask & (1u << d)) return ft_graph_fail(g, FT_ESHAPE, "%s: dim %d listed twice", ft_op_name(op), dims[i]);
        mask |= 1u << d;
    }
    if (!n_dims) mask = (1u << x->ndim) - 1;
    int64_t s[FT_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!(mask & (1u << d))) s[nd++] = x->shape[d];
        else if (keepdim) s[nd++] = 1;
        if ((mask & (1u << d)) && x->shape[d] == 0)
            return ft_graph_fail(g, FT_ESHAPE, "%s: reducing over the empty dim %d", ft_op_name(op), d);
    }
    ft_node *n = ft_node_new(g, op, 1, &x, nd, s);
    if (n) { n->iarg[0] = (int32_t)mask; n->iarg[1] = keepdim; }
    return n;
}
ft_node *ft_reduce_max(ft_graph *g, ft_node *x, int n_dims, const int *dims, bool keepdim) {
    return reduce_ext(g, FT_OP_REDUCE_MAX, x, n_dims, dims, keepdim);
}
ft_node *ft_reduce_min(ft_graph *g, ft_node *x, int n_dims, const int *dims, bool keepdim) {
    return reduce_ext(g, FT_OP_REDUCE_MIN, x, n_dims, dims, keepdim);
}

/* [outer, R, inner] when the reduced dims of size > 1 are contiguous; false otherwise. */
static bool ext_dims(const ft_node *n, int64_t *outer, int64_t *R, int64_t *inner) {
    const ft_node *x = n->in[0];
    unsigned mask = (unsigned)n->iarg[0];
    int lo = -1, hi = -1;
    for (int d = 0; d < x->ndim; d++)
        if ((mask & (1u << d)) && x->shape[d] > 1) { if (lo < 0) lo = d; hi = d; }
    *outer = *R = *inner = 1;
    if (lo < 0) { *outer = x->numel; return true; } /* nothing of size > 1 is reduced */
    for (int d = lo; d <= hi; d++)
        if (x->shape[d] > 1 && !(mask & (1u << d))) return false;
    for (int d = 0; d < lo; d++) *outer *= x->shape[d];
    for (int d = lo; d <= hi; d++) *R *= x->shape[d];
    for (int d = hi + 1; d < x->ndim; d++) *inner *= x->shape[d];
    return true;
}

/* Output index of input index i (reduced dims dropped). */
static int64_t ext_out_index(const ft_node *x, unsigned mask, int64_t i) {
    int64_t o = 0, stride = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t c = i % x->shape[d];
        i /= x->shape[d];
        if (!(mask & (1u << d))) { o += c * stride; stride *= x->shape[d]; }
    }
    return o;
}

static int64_t ext_aux(const ft_node *n) { return n->numel; }
static unsigned ext_saves(const ft_node *n) { return 1u | FT_SAVE_OUT; }

static inline bool ext_better(bool is_max, float v, float m) { return v != v || (is_max ? v > m : v < m); }

static ft_status ext_forward_ref(ft_node *n) {
    const ft_node *x = n->in[0];
    unsigned mask = (unsigned)n->iarg[0];
    bool mx = n->op == FT_OP_REDUCE_MAX;
    for (int64_t o = 0; o < n->numel; o++) { n->val[o] = mx ? -INFINITY : INFINITY; n->aux[o] = 0; }
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t o = ext_out_index(x, mask, i);
        if (n->val[o] == n->val[o] && ext_better(mx, x->val[i], n->val[o])) n->val[o] = x->val[i];
    }
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t o = ext_out_index(x, mask, i);
        if (x->val[i] == n->val[o]) n->aux[o] += 1;
    }
    return FT_OK;
}

static void ext_backward_ref(ft_node *n) {
    ft_node *x = n->in[0];
    unsigned mask = (unsigned)n->iarg[0];
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t o = ext_out_index(x, mask, i);
        if (x->val[i] == n->val[o]) x->grad[i] += n->grad[o] / n->aux[o];
    }
}

static ft_status ext_forward(ft_node *n) {
    int64_t outer, R, inner;
    if (!ext_dims(n, &outer, &R, &inner)) return ext_forward_ref(n);
    const float *x = n->in[0]->val;
    bool mx = n->op == FT_OP_REDUCE_MAX;
    #pragma omp parallel for collapse(2) if (n->in[0]->numel > FT_PAR_MIN && outer * inner > 1)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = x + o * R * inner + i;
            float m = p[0];
            for (int64_t j = 1; j < R && m == m; j++) {
                float v = p[j * inner];
                if (ext_better(mx, v, m)) m = v;
            }
            int count = 0;
            for (int64_t j = 0; j < R; j++) count += p[j * inner] == m;
            n->val[o * inner + i] = m;
            n->aux[o * inner + i] = (float)count;
        }
    return FT_OK;
}

static void ext_backward(ft_node *n) {
    int64_t outer, R, inner;
    if (!ext_dims(n, &outer, &R, &inner)) { ext_backward_ref(n); return; }
    const float *x = n->in[0]->val;
    float *gx = n->in[0]->grad;
    #pragma omp parallel for collapse(2) if (n->in[0]->numel > FT_PAR_MIN && outer * inner > 1)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = o * inner + i;
            float m = n->val[at], g = n->grad[at] / n->aux[at];
            for (int64_t j = 0; j < R; j++) {
                int64_t k = (o * R + j) * inner + i;
                if (x[k] == m) gx[k] += g;
            }
        }
}

const ft_op_def ft_def_reduce_max = {"reduce_max", ext_forward, ext_backward, ext_forward_ref, ext_backward_ref, ext_saves, ext_aux};
const ft_op_def ft_def_reduce_min = {"reduce_min", ext_forward, ext_backward, ext_forward_ref, ext_backward_ref, ext_saves, ext_aux};
