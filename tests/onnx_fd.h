#ifndef FT_TEST_ONNX_FD_H
#define FT_TEST_ONNX_FD_H
#include "test.h"
#include "models/models.h"

#define FD_MAX_OUT 16

/* Finite differences through an imported ONNX model (tests/test_onnx_conformance.c,
 * tests/test_onnx.c, tests/test_onnx_models.c): a new parameter store holds the model's
 * parameters (same order, all trainable, so bound operands and weights are checked too) and
 * a float data input as one more (int32 token ids stay a graph input); loss = sum_k <output_k, r_k> with seeded r. The graph is planned for
 * training (dropout draws the same mask on every forward of one step; batch norm uses batch
 * statistics), and for up to FD_PER entries of every tensor the analytic gradient must match
 * the central difference, in double, within 2% plus the float32 rounding noise of the loss.
 * Entries at a kink or a jump (the one-sided differences disagree: relu at 0, max ties,
 * clip bounds, comparisons flipping) and non-finite losses are skipped. Returns the number
 * of entries compared (-1 on a mismatch, described in msg). */
#define FD_PER 8

static double fd_loss(ft_graph *g, ft_node **outs, int n, float *const *r, double *mag) {
    if (ft_graph_forward(g)) return NAN;
    double s = 0, m = 0;
    for (int k = 0; k < n; k++)
        for (int64_t i = 0; i < outs[k]->numel; i++) {
            double t = (double)outs[k]->val[i] * r[k][i];
            s += t;
            m += fabs(t);
        }
    if (mag) *mag = m;
    return s;
}

/* xf: a float data input (checked too), or ids: int32 token ids (an `embedding` model), a
 * graph input that is not differentiated. */
static inline int onnx_fd_check_in(ft_model *m, int ndim, const int64_t *shape, const float *xf, const int32_t *ids, char *msg, size_t msglen) {
    ft_params *src = m->params, *ps = ft_params_new();
    ft_graph *g = NULL;
    float *r[FD_MAX_OUT] = {NULL}, *an = NULL;
    int n = 0, checked = 0;
    for (int i = 0; i < src->n; i++) ft_params_add(ps, src->p[i].name, src->p[i].ndim, src->p[i].shape);
    int xi = ids ? src->n - 1 : ft_params_add(ps, "conformance.x", ndim, shape);
    if ((!ids && xi != src->n) || ft_params_finalize(ps) || ft_params_alloc_grads(ps)) { checked = 0; goto done; }
    for (int i = 0; i < src->n; i++) memcpy(ft_params_value(ps, i), ft_params_value(src, i), (size_t)src->p[i].numel * sizeof(float));
    if (!ids) memcpy(ft_params_value(ps, xi), xf, (size_t)ps->p[xi].numel * sizeof(float));
    g = ft_graph_new(ps);
    ft_node *x = ids ? ft_input(g, "ids", FT_I32, ndim, shape) : ft_param_at(g, xi), *outs[FD_MAX_OUT], *rin[FD_MAX_OUT], *loss = NULL;
    n = ft_graph_model_outputs(m, g, x, outs, FD_MAX_OUT);
    if (n < 1) goto done;
    ft_pcg32 rng;
    ft_pcg32_seed(&rng, 7, 1);
    for (int k = 0; k < n; k++) {
        ft_node_keep(outs[k]);
        rin[k] = ft_input(g, "r", FT_F32, outs[k]->ndim, outs[k]->shape);
        r[k] = malloc((size_t)outs[k]->numel * sizeof(float));
        for (int64_t i = 0; i < outs[k]->numel; i++) r[k][i] = 2 * ft_pcg32_uniform(&rng) - 1;
        ft_node *t = ft_sum(g, ft_mul(g, outs[k], rin[k]), FT_ALL_DIMS, false);
        loss = loss ? ft_add(g, loss, t) : t;
    }
    if (ft_graph_plan(g, loss, true)) goto done; /* e.g. nothing differentiable reaches the loss */
    for (int k = 0; k < n; k++)
        if (ft_graph_set_input(g, rin[k], r[k], (size_t)outs[k]->numel * sizeof(float))) goto done;
    if (ids && ft_graph_set_input(g, x, ids, (size_t)x->numel * sizeof(int32_t))) goto done;
    ft_graph_set_rng(g, 1, 0);
    ft_params_zero_grad(ps);
    double mag, l0 = fd_loss(g, outs, n, r, &mag);
    if (!isfinite(l0) || ft_graph_backward(g)) goto done;
    for (int i = 0; i <= xi && checked >= 0; i++) {
        float *gr = ft_params_grad(ps, i), *v = ft_params_value(ps, i);
        int64_t ne = ps->p[i].numel;
        if (!gr || !ne) continue;
        free(an);
        an = malloc((size_t)ne * sizeof(float));
        memcpy(an, gr, (size_t)ne * sizeof(float));
        int64_t step = ne > FD_PER ? ne / FD_PER : 1;
        for (int64_t e = 0; e < ne; e += step) {
            float v0 = v[e];
            double h = 1e-3;
            v[e] = (float)(v0 + h);
            double hp = (double)v[e] - v0, lp = fd_loss(g, outs, n, r, NULL);
            v[e] = (float)(v0 - h);
            double hm = v0 - (double)v[e], lm = fd_loss(g, outs, n, r, NULL);
            v[e] = v0;
            if (!isfinite(lp) || !isfinite(lm)) continue;
            double fwd = (lp - l0) / hp, bwd = (l0 - lm) / hm, fd = (lp - lm) / (hp + hm);
            double noise = 4e-7 * mag / hp;
            if (fabs(fwd - bwd) > 0.05 * (fabs(fwd) + fabs(bwd)) + 4 * noise + 1e-3) continue; /* a kink or a jump */
            double a = an[e];
            if (fabs(a - fd) > 0.02 * fmax(fabs(a), fabs(fd)) + 2 * noise + 1e-4) {
                snprintf(msg, msglen, "gradient of %s[%lld]: analytic %.6g, finite difference %.6g", ps->p[i].name, (long long)e, a, fd);
                checked = -1;
                break;
            }
            checked++;
        }
    }
    fd_loss(g, outs, n, r, NULL); /* the last forward leaves the values as they were */
done:
    free(an);
    for (int k = 0; k < FD_MAX_OUT; k++) free(r[k]);
    if (g) ft_graph_free(g);
    ft_params_free(ps);
    ft_clear_error();
    return checked;
}

static inline int onnx_fd_check(ft_model *m, int ndim, const int64_t *shape, const float *xf, char *msg, size_t msglen) {
    return onnx_fd_check_in(m, ndim, shape, xf, NULL, msg, msglen);
}

/* The model's own store, as training sees it (its trainable flags, not all-trainable): one
 * forward and backward in training mode of loss = sum of every output on the float input x.
 * Returns how many trainable parameters got a nonzero gradient entry (-1 on failure);
 * nonzero[i] (optional, m->params->n entries) says which. */
static inline int onnx_trained_grads(ft_model *m, int ndim, const int64_t *shape, const float *x, bool *nonzero) {
    ft_params *ps = m->params;
    if (ft_params_alloc_grads(ps)) return -1;
    ft_graph *g = ft_graph_new(ps);
    ft_node *in = ft_input(g, "x", FT_F32, ndim, shape), *outs[FD_MAX_OUT], *loss = NULL;
    int n = ft_graph_model_outputs(m, g, in, outs, FD_MAX_OUT), got = -1;
    for (int k = 0; k < n; k++) {
        ft_node *t = ft_sum(g, outs[k], FT_ALL_DIMS, false);
        loss = loss ? ft_add(g, loss, t) : t;
    }
    if (n >= 1 && !ft_graph_plan(g, loss, true) && !ft_graph_set_input(g, in, x, (size_t)in->numel * sizeof(float))) {
        ft_params_zero_grad(ps);
        if (!ft_graph_forward(g) && !ft_graph_backward(g)) {
            got = 0;
            for (int i = 0; i < ps->n; i++) {
                const float *gr = ft_params_grad(ps, i);
                bool nz = false;
                for (int64_t e = 0; gr && e < ps->p[i].numel && !nz; e++) nz = gr[e] != 0;
                if (nonzero) nonzero[i] = nz;
                got += nz;
            }
        }
    }
    ft_graph_free(g);
    return got;
}

#endif
