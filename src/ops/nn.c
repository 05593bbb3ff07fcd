/* Layers that are not plain algebra: dropout, embedding lookup, layer norm. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

/* ---------------- dropout ----------------
 * farg[0] = p. iarg[1] = training (set when planning), iarg[2..3] = per-step key. The mask
 * of element k comes from a hash of (key, k): the same for any thread count, and a resumed
 * run needs no RNG state. In eval it is the identity. aux = mask scaled by 1/(1-p). */
ft_node *ft_dropout(ft_graph *g, ft_node *x, float p) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (!(p >= 0.0f && p < 1.0f)) return ft_graph_fail(g, FT_EINVAL, "dropout: p=%g must be in [0,1)", p);
    ft_node *n = ft_node_new(g, FT_OP_DROPOUT, 1, &x, x->ndim, x->shape);
    if (n) n->farg[0] = p;
    return n;
}

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t dropout_aux(const ft_node *n) { return (n->iarg[1] && n->farg[0] > 0) ? n->numel : 0; }

static ft_status dropout_forward(ft_node *n) {
    const float *x = n->in[0]->val;
    if (!n->aux) { memcpy(n->val, x, (size_t)n->numel * 4); return FT_OK; }
    uint64_t key = (uint64_t)(uint32_t)n->iarg[2] | ((uint64_t)(uint32_t)n->iarg[3] << 32);
    float p = n->farg[0], keep = 1.0f / (1.0f - p);
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t i = 0; i < n->numel; i++) {
        float u = (float)(mix64(key + (uint64_t)i) >> 40) * (1.0f / 16777216.0f);
        n->aux[i] = u >= p ? keep : 0.0f;
        n->val[i] = x[i] * n->aux[i];
    }
    return FT_OK;
}

static void dropout_backward(ft_node *n) {
    float *gx = n->in[0]->grad;
    if (!n->aux) { for (int64_t i = 0; i < n->numel; i++) gx[i] += n->grad[i]; return; }
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t i = 0; i < n->numel; i++) gx[i] += n->grad[i] * n->aux[i];
}

static unsigned save_none(const ft_node *n) { return 0; }
const ft_op_def ft_def_dropout = {"dropout", dropout_forward, dropout_backward, NULL, NULL, save_none, dropout_aux};

/* ---------------- embedding ---------------- ids I32 [...], weight [V, D] -> [..., D]. */
ft_node *ft_embedding(ft_graph *g, ft_node *ids, ft_node *weight) {
    ft_node *in[2] = {ids, weight};
    if (!ft_graph_ok(g, 2, in)) return NULL;
    if (ids->dtype != FT_I32) return ft_graph_fail(g, FT_EINVAL, "embedding: ids must be int32");
    if (weight->ndim != 2) return ft_graph_fail(g, FT_ESHAPE, "embedding: weight '%s' must be 2-D", weight->name);
    if (ids->ndim + 1 > FT_MAX_DIMS) return ft_graph_fail(g, FT_ESHAPE, "embedding: too many dims");
    int64_t s[FT_MAX_DIMS];
    memcpy(s, ids->shape, sizeof s);
    s[ids->ndim] = weight->shape[1];
    return ft_node_new(g, FT_OP_EMBEDDING, 2, in, ids->ndim + 1, s);
}

static ft_status embedding_forward(ft_node *n) {
    const int32_t *ids = (const int32_t *)n->in[0]->val;
    const ft_node *w = n->in[1];
    int64_t V = w->shape[0], D = w->shape[1], R = n->in[0]->numel;
    for (int64_t r = 0; r < R; r++)
        if (ids[r] < 0 || ids[r] >= V)
            return ft_fail(FT_EINVAL, "token id %d at position %lld is outside the vocabulary of %lld", ids[r],
                           (long long)r, (long long)V);
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < R; r++) memcpy(n->val + r * D, w->val + (int64_t)ids[r] * D, (size_t)D * 4);
    return FT_OK;
}

static void embedding_backward(ft_node *n) {
    const int32_t *ids = (const int32_t *)n->in[0]->val;
    ft_node *w = n->in[1];
    int64_t D = w->shape[1], R = n->in[0]->numel;
    /* Rows may repeat, so parallelise over columns: every thread owns a slice of D. */
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t d = 0; d < D; d++)
        for (int64_t r = 0; r < R; r++) w->grad[(int64_t)ids[r] * D + d] += n->grad[r * D + d];
}

static unsigned embedding_saves(const ft_node *n) { return 1u; }
const ft_op_def ft_def_embedding = {"embedding", embedding_forward, embedding_backward, NULL, NULL, embedding_saves, NULL};

/* ---------------- layer norm ----------------
 * Over the last dim D: y = (x - mean) * rstd * gamma + beta. gamma/beta may be NULL
 * (iarg[0]/iarg[1] say which are present; inputs are packed). farg[0] = eps.
 * aux = [mean, rstd] per row. */
ft_node *ft_layer_norm(ft_graph *g, ft_node *x, ft_node *gamma, ft_node *beta, float eps) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    ft_node *in[3] = {x, NULL, NULL};
    int k = 1;
    int64_t D = x->ndim ? x->shape[x->ndim - 1] : 0;
    if (gamma) in[k++] = gamma;
    if (beta) in[k++] = beta;
    for (int i = 1; i < k; i++)
        if (in[i]->ndim != 1 || in[i]->shape[0] != D)
            return ft_graph_fail(g, FT_ESHAPE, "layer_norm: '%s' must have shape [%lld]", in[i]->name, (long long)D);
    ft_node *n = ft_node_new(g, FT_OP_LAYER_NORM, k, in, x->ndim, x->shape);
    if (n) { n->iarg[0] = gamma != NULL; n->iarg[1] = beta != NULL; n->farg[0] = eps; }
    return n;
}

static int64_t ln_aux(const ft_node *n) {
    int64_t D = n->shape[n->ndim - 1];
    return D ? 2 * (n->numel / D) : 0;
}

static ft_status ln_forward_impl(ft_node *n, bool reference) {
    const ft_node *x = n->in[0];
    const float *gamma = n->iarg[0] ? n->in[1]->val : NULL;
    const float *beta = n->iarg[1] ? n->in[1 + n->iarg[0]]->val : NULL;
    int64_t D = n->shape[n->ndim - 1], R = D ? n->numel / D : 0;
    float eps = n->farg[0];
    #pragma omp parallel for if (n->numel > FT_PAR_MIN && !reference)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->val + r * D;
        float *yr = n->val + r * D;
        double mean = 0, var = 0;
        for (int64_t d = 0; d < D; d++) mean += xr[d];
        mean /= (double)D;
        for (int64_t d = 0; d < D; d++) var += (xr[d] - mean) * (xr[d] - mean);
        var /= (double)D; /* biased, as torch */
        float rstd = (float)(1.0 / sqrt(var + eps));
        for (int64_t d = 0; d < D; d++) {
            float v = (float)(xr[d] - mean) * rstd;
            yr[d] = v * (gamma ? gamma[d] : 1.0f) + (beta ? beta[d] : 0.0f);
        }
        if (n->aux) { n->aux[2 * r] = (float)mean; n->aux[2 * r + 1] = rstd; }
    }
    return FT_OK;
}
static ft_status ln_forward(ft_node *n) { return ln_forward_impl(n, false); }
static ft_status ln_forward_ref(ft_node *n) { return ln_forward_impl(n, true); }

static void ln_backward(ft_node *n) {
    ft_node *x = n->in[0];
    ft_node *gn = n->iarg[0] ? n->in[1] : NULL, *bn = n->iarg[1] ? n->in[1 + n->iarg[0]] : NULL;
    int64_t D = n->shape[n->ndim - 1], R = D ? n->numel / D : 0;
    if (x->grad) {
        #pragma omp parallel for if (n->numel > FT_PAR_MIN)
        for (int64_t r = 0; r < R; r++) {
            const float *xr = x->val + r * D, *gy = n->grad + r * D;
            float mean = n->aux[2 * r], rstd = n->aux[2 * r + 1];
            float s1 = 0, s2 = 0; /* mean(dy*gamma), mean(dy*gamma*xhat) */
            for (int64_t d = 0; d < D; d++) {
                float gd = gy[d] * (gn ? gn->val[d] : 1.0f), xh = (xr[d] - mean) * rstd;
                s1 += gd; s2 += gd * xh;
            }
            s1 /= (float)D; s2 /= (float)D;
            for (int64_t d = 0; d < D; d++) {
                float gd = gy[d] * (gn ? gn->val[d] : 1.0f), xh = (xr[d] - mean) * rstd;
                x->grad[r * D + d] += rstd * (gd - s1 - xh * s2);
            }
        }
    }
    if ((gn && gn->grad) || (bn && bn->grad))
        for (int64_t r = 0; r < R; r++) {
            const float *xr = x->val + r * D, *gy = n->grad + r * D;
            float mean = n->aux[2 * r], rstd = n->aux[2 * r + 1];
            for (int64_t d = 0; d < D; d++) {
                if (gn && gn->grad) gn->grad[d] += gy[d] * (xr[d] - mean) * rstd;
                if (bn && bn->grad) bn->grad[d] += gy[d];
            }
        }
}

static unsigned ln_saves(const ft_node *n) {
    unsigned m = 0;
    bool gamma_grad = n->iarg[0] && n->in[1]->requires_grad;
    if (n->in[0]->requires_grad || gamma_grad) m |= 1u;      /* x for xhat */
    if (n->iarg[0] && n->in[0]->requires_grad) m |= 2u;     /* gamma for dx */
    return m;
}

static int64_t ln_aux_any(const ft_node *n) { return ln_aux(n); }
const ft_op_def ft_def_layer_norm = {"layer_norm", ln_forward, ln_backward, ln_forward_ref, NULL, ln_saves, ln_aux_any};
