/* sum / mean over one dim (optionally kept as size 1) or over everything. */
#include "ops/ops.h"

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
    float k = (n->op == FT_OP_MEAN && D) ? 1.0f / (float)D : 1.0f;
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
