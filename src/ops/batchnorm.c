/* Batch normalisation over C of x [N,C,H,W] (or [N,C]): y = (x - mean) * rstd * gamma + beta.
 *
 * Two modes, decided per run:
 *  - batch statistics (training plan and !frozen_stats, or no running stats at all): mean and
 *    biased variance over N*H*W per channel. When running stats exist the forward also updates
 *    them in place as torch does: r = (1 - momentum) * r + momentum * s, with the unbiased
 *    variance for running_var. That is a side effect on buffer parameters, once per forward.
 *  - running statistics (eval plan, or frozen_stats): mean = running_mean,
 *    rstd = 1/sqrt(running_var + eps); x -> y is affine, and gamma/beta may still train.
 * aux = [mean (C), rstd (C)] of the forward, read by backward.
 *
 * Inputs are packed: x, [gamma], [beta], [running_mean, running_var]. iarg[0] = which are
 * present (1 gamma, 2 beta, 4 running stats), iarg[1] = training (set by ft_graph_plan),
 * iarg[2] = frozen_stats. farg[0] = eps, farg[1] = momentum. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

enum { BN_GAMMA = 1, BN_BETA = 2, BN_RUNNING = 4 };

typedef struct {
    int64_t N, C, S, M; /* S = H*W, M = N*S values per channel */
    ft_node *x, *gamma, *beta, *rm, *rv;
    bool batch_stats, update;
    float eps, momentum;
} bn_dims;

static bn_dims bn_get(const ft_node *n) {
    bn_dims d;
    int k = 1, f = n->iarg[0];
    d.x = n->in[0];
    d.gamma = (f & BN_GAMMA) ? n->in[k++] : NULL;
    d.beta = (f & BN_BETA) ? n->in[k++] : NULL;
    d.rm = (f & BN_RUNNING) ? n->in[k++] : NULL;
    d.rv = (f & BN_RUNNING) ? n->in[k++] : NULL;
    d.N = d.x->shape[0];
    d.C = d.x->shape[1];
    d.S = d.x->ndim == 4 ? d.x->shape[2] * d.x->shape[3] : 1;
    d.M = d.N * d.S;
    d.batch_stats = !(f & BN_RUNNING) || (n->iarg[1] && !n->iarg[2]);
    d.update = (f & BN_RUNNING) && d.batch_stats;
    d.eps = n->farg[0];
    d.momentum = n->farg[1];
    return d;
}

ft_node *ft_batch_norm(ft_graph *g, ft_node *x, ft_node *gamma, ft_node *beta, ft_node *running_mean,
                       ft_node *running_var, float eps, float momentum, bool frozen_stats) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if ((running_mean == NULL) != (running_var == NULL))
        return ft_graph_fail(g, FT_EINVAL, "batch_norm: give both running_mean and running_var, or neither");
    if (x->dtype != FT_F32 || (x->ndim != 4 && x->ndim != 2)) {
        char s[64];
        ft_shape_str(x, s, sizeof s);
        return ft_graph_fail(g, FT_ESHAPE, "batch_norm: input %s must be float32 [N,C,H,W] or [N,C]", s);
    }
    if (!(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return ft_graph_fail(g, FT_EINVAL, "batch_norm: eps=%g must be > 0 and momentum=%g in [0,1]", eps, momentum);
    ft_node *in[5] = {x};
    int k = 1, flags = 0;
    if (gamma) { in[k++] = gamma; flags |= BN_GAMMA; }
    if (beta) { in[k++] = beta; flags |= BN_BETA; }
    if (running_mean) { in[k++] = running_mean; in[k++] = running_var; flags |= BN_RUNNING; }
    if (!ft_graph_ok(g, k, in)) return NULL;
    for (int i = 1; i < k; i++)
        if (in[i]->ndim != 1 || in[i]->shape[0] != x->shape[1] || in[i]->dtype != FT_F32)
            return ft_graph_fail(g, FT_ESHAPE, "batch_norm: '%s' must have shape [%lld]", in[i]->name,
                                 (long long)x->shape[1]);
    if (frozen_stats && !running_mean)
        return ft_graph_fail(g, FT_EINVAL, "batch_norm: frozen_stats needs running_mean and running_var");
    ft_node *n = ft_node_new(g, FT_OP_BATCH_NORM, k, in, x->ndim, x->shape);
    if (n) {
        n->iarg[0] = flags;
        n->iarg[2] = frozen_stats;
        n->farg[0] = eps;
        n->farg[1] = momentum;
    }
    return n;
}

static ft_status bn_check(const bn_dims *d) {
    if (d->batch_stats && d->M <= 1)
        return ft_fail(FT_EINVAL, "batch_norm: batch statistics need more than one value per channel (got N*H*W = %lld)",
                       (long long)d->M);
    return FT_OK;
}

/* Statistics of channel c into aux, running stats updated; mean/var in double. */
static void bn_stats_done(const bn_dims *d, float *aux, int64_t c, double mean, double var) {
    if (d->batch_stats) {
        aux[c] = (float)mean;
        aux[d->C + c] = (float)(1.0 / sqrt(var + d->eps));
        if (d->update) {
            double m = d->momentum; /* in double, as torch's CPU kernel */
            d->rm->val[c] = (float)(m * mean + (1.0 - m) * d->rm->val[c]);
            d->rv->val[c] = (float)(m * var * (double)d->M / (double)(d->M - 1) + (1.0 - m) * d->rv->val[c]);
        }
    } else {
        aux[c] = d->rm->val[c];
        aux[d->C + c] = (float)(1.0 / sqrt((double)d->rv->val[c] + d->eps));
    }
}

static ft_status bn_forward(ft_node *n) {
    bn_dims d = bn_get(n);
    ft_status s = bn_check(&d);
    if (s) return s;
    const float *x = d.x->val;
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t c = 0; c < d.C; c++) {
        double mean = 0, var = 0;
        if (d.batch_stats) { /* one pass: sums of x - K and its square, K = a sample of the
                              * channel (shifted data keeps the subtraction below exact enough) */
            float K = x[c * d.S];
            double s1 = 0, s2 = 0;
            for (int64_t i = 0; i < d.N; i++) {
                const float *xp = x + (i * d.C + c) * d.S;
                double a = 0.0, b = 0.0; /* double within the plane too: planes reach 12k values */
                #pragma omp simd reduction(+ : a, b)
                for (int64_t k = 0; k < d.S; k++) { double v = (double)xp[k] - K; a += v; b += v * v; }
                s1 += a;
                s2 += b;
            }
            double m1 = s1 / (double)d.M;
            mean = K + m1;
            var = s2 / (double)d.M - m1 * m1;
            if (var < 0) var = 0;
        }
        bn_stats_done(&d, n->aux, c, mean, var);
        float rstd = n->aux[d.C + c], scale = rstd * (d.gamma ? d.gamma->val[c] : 1.0f);
        float shift = (d.beta ? d.beta->val[c] : 0.0f) - n->aux[c] * scale;
        for (int64_t i = 0; i < d.N; i++) {
            const float *xp = x + (i * d.C + c) * d.S;
            float *yp = n->val + (i * d.C + c) * d.S;
            #pragma omp simd
            for (int64_t k = 0; k < d.S; k++) yp[k] = xp[k] * scale + shift;
        }
    }
    return FT_OK;
}

static void bn_backward(ft_node *n) {
    bn_dims d = bn_get(n);
    float *gx = d.x->grad;
    float *gg = d.gamma ? d.gamma->grad : NULL, *gb = d.beta ? d.beta->grad : NULL;
    bool need_x = gg || (gx && d.batch_stats); /* x is only saved then */
    const float *x = d.x->val, *dy = n->grad;
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t c = 0; c < d.C; c++) {
        float mean = n->aux[c], rstd = n->aux[d.C + c];
        float sdy = 0.0f, sdyxh = 0.0f; /* sum(dy), sum(dy * xhat) */
        for (int64_t i = 0; i < d.N; i++) {
            const float *dyp = dy + (i * d.C + c) * d.S, *xp = x + (i * d.C + c) * d.S;
            float a = 0.0f, b = 0.0f;
            if (need_x) {
                #pragma omp simd reduction(+ : a, b)
                for (int64_t k = 0; k < d.S; k++) { a += dyp[k]; b += dyp[k] * (xp[k] - mean); }
            } else {
                #pragma omp simd reduction(+ : a)
                for (int64_t k = 0; k < d.S; k++) a += dyp[k];
            }
            sdy += a;
            sdyxh += b * rstd;
        }
        if (gg) gg[c] += sdyxh;
        if (gb) gb[c] += sdy;
        if (!gx) continue;
        float scale = rstd * (d.gamma ? d.gamma->val[c] : 1.0f);
        if (d.batch_stats) { /* dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)) */
            float mdy = sdy / (float)d.M, mdyxh = sdyxh / (float)d.M;
            for (int64_t i = 0; i < d.N; i++) {
                const float *dyp = dy + (i * d.C + c) * d.S, *xp = x + (i * d.C + c) * d.S;
                float *gp = gx + (i * d.C + c) * d.S;
                #pragma omp simd
                for (int64_t k = 0; k < d.S; k++) gp[k] += scale * (dyp[k] - mdy - (xp[k] - mean) * rstd * mdyxh);
            }
        } else {
            for (int64_t i = 0; i < d.N; i++) {
                const float *dyp = dy + (i * d.C + c) * d.S;
                float *gp = gx + (i * d.C + c) * d.S;
                #pragma omp simd
                for (int64_t k = 0; k < d.S; k++) gp[k] += scale * dyp[k];
            }
        }
    }
}

static unsigned bn_saves(const ft_node *n) {
    bn_dims d = bn_get(n);
    bool xg = d.x->requires_grad, gg = d.gamma && d.gamma->requires_grad;
    unsigned m = 0;
    if (gg || (xg && d.batch_stats)) m |= 1u; /* x, for xhat */
    if (d.gamma && xg) m |= 2u;               /* gamma, for dx */
    return m;
}

static int64_t bn_aux(const ft_node *n) { return 2 * n->in[0]->shape[1]; }

/* ---------------- reference (double) ---------------- */

static ft_status bn_forward_ref(ft_node *n) {
    bn_dims d = bn_get(n);
    ft_status s = bn_check(&d);
    if (s) return s;
    for (int64_t c = 0; c < d.C; c++) {
        double mean = 0, var = 0;
        if (d.batch_stats) {
            for (int64_t i = 0; i < d.N; i++)
                for (int64_t k = 0; k < d.S; k++) mean += d.x->val[(i * d.C + c) * d.S + k];
            mean /= (double)d.M;
            for (int64_t i = 0; i < d.N; i++)
                for (int64_t k = 0; k < d.S; k++) {
                    double t = d.x->val[(i * d.C + c) * d.S + k] - mean;
                    var += t * t;
                }
            var /= (double)d.M;
        }
        bn_stats_done(&d, n->aux, c, mean, var);
        double m = d.batch_stats ? mean : (double)d.rm->val[c];
        double rstd = 1.0 / sqrt((d.batch_stats ? var : (double)d.rv->val[c]) + d.eps);
        for (int64_t i = 0; i < d.N; i++)
            for (int64_t k = 0; k < d.S; k++) {
                int64_t o = (i * d.C + c) * d.S + k;
                double xh = (d.x->val[o] - m) * rstd;
                n->val[o] = (float)(xh * (d.gamma ? d.gamma->val[c] : 1.0) + (d.beta ? d.beta->val[c] : 0.0));
            }
    }
    return FT_OK;
}

static void bn_backward_ref(ft_node *n) {
    bn_dims d = bn_get(n);
    for (int64_t c = 0; c < d.C; c++) {
        double mean = n->aux[c], rstd = n->aux[d.C + c], sdy = 0, sdyxh = 0;
        bool need_x = (d.gamma && d.gamma->grad) || (d.x->grad && d.batch_stats);
        for (int64_t i = 0; i < d.N; i++)
            for (int64_t k = 0; k < d.S; k++) {
                int64_t o = (i * d.C + c) * d.S + k;
                sdy += n->grad[o];
                if (need_x) sdyxh += n->grad[o] * (d.x->val[o] - mean) * rstd;
            }
        if (d.gamma && d.gamma->grad) d.gamma->grad[c] += (float)sdyxh;
        if (d.beta && d.beta->grad) d.beta->grad[c] += (float)sdy;
        if (!d.x->grad) continue;
        double gm = d.gamma ? d.gamma->val[c] : 1.0;
        for (int64_t i = 0; i < d.N; i++)
            for (int64_t k = 0; k < d.S; k++) {
                int64_t o = (i * d.C + c) * d.S + k;
                double g = n->grad[o];
                if (d.batch_stats) g -= sdy / d.M + (d.x->val[o] - mean) * rstd * sdyxh / d.M;
                d.x->grad[o] += (float)(gm * rstd * g);
            }
    }
}

const ft_op_def ft_def_batch_norm = {"batch_norm", bn_forward, bn_backward, bn_forward_ref, bn_backward_ref,
                                     bn_saves, bn_aux};
