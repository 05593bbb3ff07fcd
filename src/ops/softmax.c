/* softmax / log-softmax over any dim (the last dim has its own contiguous fast path),
 * cross-entropy and MSE losses. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

/* iarg[0] = how far the softmax dim is from the last (0 = the last dim), so a node made
 * with zeroed arguments means the last dim. */
static ft_node *rowwise(ft_graph *g, ft_op op, ft_node *x, int dim) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (x->ndim < 1) return ft_graph_fail(g, FT_ESHAPE, "%s: needs at least 1 dim", ft_op_name(op));
    int d = ft_norm_dim(dim, x->ndim);
    if (d < 0) return ft_graph_fail(g, FT_ESHAPE, "%s: dim %d out of range for %d dims", ft_op_name(op), dim, x->ndim);
    ft_node *n = ft_node_new(g, op, 1, &x, x->ndim, x->shape);
    if (n) n->iarg[0] = x->ndim - 1 - d;
    return n;
}
ft_node *ft_softmax(ft_graph *g, ft_node *x) { return rowwise(g, FT_OP_SOFTMAX, x, -1); }
ft_node *ft_log_softmax(ft_graph *g, ft_node *x) { return rowwise(g, FT_OP_LOG_SOFTMAX, x, -1); }
ft_node *ft_softmax_dim(ft_graph *g, ft_node *x, int dim) { return rowwise(g, FT_OP_SOFTMAX, x, dim); }
ft_node *ft_log_softmax_dim(ft_graph *g, ft_node *x, int dim) { return rowwise(g, FT_OP_LOG_SOFTMAX, x, dim); }

/* The softmax dim as [outer, C, inner]: a row is C values inner apart. */
static void sm_dims(const ft_node *n, int64_t *outer, int64_t *C, int64_t *inner) {
    int d = n->ndim - 1 - n->iarg[0];
    *C = n->shape[d];
    *inner = 1;
    for (int i = d + 1; i < n->ndim; i++) *inner *= n->shape[i];
    *outer = (*C && *inner) ? n->numel / (*C * *inner) : 0;
}

/* y = x - max - log(sum(exp(x - max))) for log; exp of that for softmax. */
static void softmax_row(const float *x, float *y, int64_t C, bool log_out) {
    float mx = x[0];
    for (int64_t c = 1; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    float s = 0.0f;
    for (int64_t c = 0; c < C; c++) s += expf(x[c] - mx);
    float ls = logf(s);
    if (log_out)
        for (int64_t c = 0; c < C; c++) y[c] = x[c] - mx - ls;
    else
        for (int64_t c = 0; c < C; c++) y[c] = expf(x[c] - mx - ls);
}

/* The same over a strided row (a dim other than the last). */
static void softmax_col(const float *x, float *y, int64_t C, int64_t st, bool log_out) {
    float mx = x[0];
    for (int64_t c = 1; c < C; c++) mx = x[c * st] > mx ? x[c * st] : mx;
    float s = 0.0f;
    for (int64_t c = 0; c < C; c++) s += expf(x[c * st] - mx);
    float ls = logf(s);
    for (int64_t c = 0; c < C; c++) y[c * st] = log_out ? x[c * st] - mx - ls : expf(x[c * st] - mx - ls);
}

static ft_status softmax_forward(ft_node *n) {
    int64_t outer, C, inner;
    sm_dims(n, &outer, &C, &inner);
    bool lg = n->op == FT_OP_LOG_SOFTMAX;
    const float *x = n->in[0]->val;
    if (inner == 1) {
        #pragma omp parallel for if (n->numel > FT_PAR_MIN)
        for (int64_t r = 0; r < outer; r++) softmax_row(x + r * C, n->val + r * C, C, lg);
        return FT_OK;
    }
    #pragma omp parallel for collapse(2) if (n->numel > FT_PAR_MIN)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) softmax_col(x + o * C * inner + i, n->val + o * C * inner + i, C, inner, lg);
    return FT_OK;
}

/* dx for one row of C values st apart (inlined with st = 1 for the last dim). */
static inline void softmax_back_row(const float *y, const float *gy, float *gx, int64_t C, int64_t st, bool lg) {
    float s = 0.0f;
    if (lg) { /* dx = dy - softmax * sum(dy) */
        for (int64_t c = 0; c < C; c++) s += gy[c * st];
        for (int64_t c = 0; c < C; c++) gx[c * st] += gy[c * st] - expf(y[c * st]) * s;
    } else {  /* dx = y * (dy - sum(dy * y)) */
        for (int64_t c = 0; c < C; c++) s += gy[c * st] * y[c * st];
        for (int64_t c = 0; c < C; c++) gx[c * st] += y[c * st] * (gy[c * st] - s);
    }
}

static void softmax_backward(ft_node *n) {
    int64_t outer, C, inner;
    sm_dims(n, &outer, &C, &inner);
    bool lg = n->op == FT_OP_LOG_SOFTMAX;
    const float *y = n->val, *gy = n->grad;
    float *gx = n->in[0]->grad;
    if (inner == 1) {
        #pragma omp parallel for if (n->numel > FT_PAR_MIN)
        for (int64_t r = 0; r < outer; r++) softmax_back_row(y + r * C, gy + r * C, gx + r * C, C, 1, lg);
        return;
    }
    #pragma omp parallel for collapse(2) if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < outer; r++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = r * C * inner + i;
            softmax_back_row(y + base, gy + base, gx + base, C, inner, lg);
        }
}

static ft_status softmax_forward_ref(ft_node *n) {
    int64_t outer, C, inner;
    sm_dims(n, &outer, &C, &inner);
    for (int64_t r = 0; r < outer * inner; r++) {
        int64_t base = (r / inner) * C * inner + r % inner;
        const float *x = n->in[0]->val + base;
        double mx = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) mx = x[c * inner] > mx ? x[c * inner] : mx;
        for (int64_t c = 0; c < C; c++) s += exp(x[c * inner] - mx);
        for (int64_t c = 0; c < C; c++)
            n->val[base + c * inner] =
                (float)(n->op == FT_OP_LOG_SOFTMAX ? x[c * inner] - mx - log(s) : exp(x[c * inner] - mx) / s);
    }
    return FT_OK;
}

static void softmax_backward_ref(ft_node *n) {
    int64_t outer, C, inner;
    sm_dims(n, &outer, &C, &inner);
    for (int64_t r = 0; r < outer * inner; r++) {
        int64_t base = (r / inner) * C * inner + r % inner;
        for (int64_t i = 0; i < C; i++) {
            double acc = 0; /* full Jacobian-vector product */
            for (int64_t j = 0; j < C; j++) {
                double yi = n->val[base + i * inner], yj = n->val[base + j * inner], J;
                if (n->op == FT_OP_LOG_SOFTMAX) J = (i == j) - exp(yi);           /* d y_j / d x_i */
                else J = yj * ((i == j) - yi);
                acc += J * n->grad[base + j * inner];
            }
            n->in[0]->grad[base + i * inner] += (float)acc;
        }
    }
}

static unsigned save_out(const ft_node *n) { return FT_SAVE_OUT; }

const ft_op_def ft_def_softmax = {"softmax", softmax_forward, softmax_backward, softmax_forward_ref,
                                  softmax_backward_ref, save_out, NULL};
const ft_op_def ft_def_log_softmax = {"log_softmax", softmax_forward, softmax_backward, softmax_forward_ref,
                                      softmax_backward_ref, save_out, NULL};

/* ---------------- cross-entropy ----------------
 * logits [..., C], targets I32 [...]. loss = mean over rows whose target != ignore_index of
 * (1-eps) * -logp[t] + eps * mean_c(-logp[c])   (torch.nn.CrossEntropyLoss semantics).
 * aux keeps log-probabilities [R, C] plus the count of counted rows. iarg[0] = ignore_index,
 * farg[0] = label smoothing eps. */
ft_node *ft_cross_entropy(ft_graph *g, ft_node *logits, ft_node *targets, int ignore_index, float label_smoothing) {
    ft_node *in[2] = {logits, targets};
    if (!ft_graph_ok(g, 2, in)) return NULL;
    if (targets->dtype != FT_I32) return ft_graph_fail(g, FT_EINVAL, "cross_entropy: targets must be int32");
    bool ok = logits->ndim == targets->ndim + 1;
    for (int d = 0; ok && d < targets->ndim; d++) ok = logits->shape[d] == targets->shape[d];
    if (!ok) {
        char s1[64], s2[64];
        ft_shape_str(logits, s1, sizeof s1);
        ft_shape_str(targets, s2, sizeof s2);
        return ft_graph_fail(g, FT_ESHAPE, "cross_entropy: logits %s and targets %s do not fit", s1, s2);
    }
    if (label_smoothing < 0 || label_smoothing > 1)
        return ft_graph_fail(g, FT_EINVAL, "cross_entropy: label smoothing %g outside [0,1]", label_smoothing);
    ft_node *n = ft_node_new(g, FT_OP_CROSS_ENTROPY, 2, in, 0, NULL);
    if (n) { n->iarg[0] = ignore_index; n->farg[0] = label_smoothing; }
    return n;
}

static int64_t ce_aux(const ft_node *n) { return n->in[0]->numel + 1; }

static ft_status ce_check(const ft_node *n, int64_t R, int64_t C) {
    const int32_t *t = (const int32_t *)n->in[1]->val;
    for (int64_t r = 0; r < R; r++)
        if (t[r] != n->iarg[0] && (t[r] < 0 || t[r] >= C))
            return ft_fail(FT_EINVAL, "label %d at row %lld is out of range for %lld classes", t[r], (long long)r,
                           (long long)C);
    return FT_OK;
}

static ft_status ce_forward_impl(ft_node *n, bool reference) {
    const ft_node *x = n->in[0];
    int64_t C = x->shape[x->ndim - 1], R = C ? x->numel / C : 0;
    ft_status s = ce_check(n, R, C);
    if (s) return s;
    const int32_t *t = (const int32_t *)n->in[1]->val;
    float eps = n->farg[0];
    float *logp = n->aux;
    double total = 0;
    int64_t count = 0;
    for (int64_t r = 0; r < R; r++) {
        if (t[r] == n->iarg[0]) continue;
        const float *xr = x->val + r * C;
        float *lp = logp + r * C;
        if (reference) {
            double mx = -INFINITY, se = 0;
            for (int64_t c = 0; c < C; c++) mx = xr[c] > mx ? xr[c] : mx;
            for (int64_t c = 0; c < C; c++) se += exp(xr[c] - mx);
            for (int64_t c = 0; c < C; c++) lp[c] = (float)(xr[c] - mx - log(se));
        } else {
            softmax_row(xr, lp, C, true);
        }
        double smooth = 0;
        for (int64_t c = 0; c < C; c++) smooth -= lp[c];
        total += (1.0 - eps) * -(double)lp[t[r]] + eps * smooth / (double)C;
        count++;
    }
    logp[R * C] = (float)count;
    n->val[0] = count ? (float)(total / (double)count) : 0.0f; /* no counted rows: 0, not NaN */
    return FT_OK;
}
static ft_status ce_forward(ft_node *n) { return ce_forward_impl(n, false); }
static ft_status ce_forward_ref(ft_node *n) { return ce_forward_impl(n, true); }

static void ce_backward(ft_node *n) {
    ft_node *x = n->in[0];
    int64_t C = x->shape[x->ndim - 1], R = C ? x->numel / C : 0;
    const int32_t *t = (const int32_t *)n->in[1]->val;
    float count = n->aux[R * C];
    if (count == 0) return;
    float scale = n->grad[0] / count, eps = n->farg[0];
    #pragma omp parallel for if (x->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        if (t[r] == n->iarg[0]) continue;
        const float *lp = n->aux + r * C;
        float *gx = x->grad + r * C;
        for (int64_t c = 0; c < C; c++) {
            float target = eps / (float)C + (c == t[r] ? 1.0f - eps : 0.0f);
            gx[c] += scale * (expf(lp[c]) - target);
        }
    }
}

static unsigned ce_saves(const ft_node *n) { return 1u << 1; /* targets; logits live on in aux */ }

const ft_op_def ft_def_cross_entropy = {"cross_entropy", ce_forward, ce_backward, ce_forward_ref, NULL, ce_saves, ce_aux};

/* ---------------- MSE ---------------- mean((a-b)^2), same shapes. */
ft_node *ft_mse(ft_graph *g, ft_node *a, ft_node *b) {
    ft_node *in[2] = {a, b};
    if (!ft_graph_ok(g, 2, in)) return NULL;
    bool ok = a->ndim == b->ndim;
    for (int d = 0; ok && d < a->ndim; d++) ok = a->shape[d] == b->shape[d];
    if (!ok) {
        char s1[64], s2[64];
        ft_shape_str(a, s1, sizeof s1);
        ft_shape_str(b, s2, sizeof s2);
        return ft_graph_fail(g, FT_ESHAPE, "mse: shapes %s and %s differ", s1, s2);
    }
    return ft_node_new(g, FT_OP_MSE, 2, in, 0, NULL);
}

static ft_status mse_forward(ft_node *n) {
    double s = 0;
    const float *a = n->in[0]->val, *b = n->in[1]->val;
    for (int64_t i = 0; i < n->in[0]->numel; i++) { double d = (double)a[i] - b[i]; s += d * d; }
    n->val[0] = n->in[0]->numel ? (float)(s / (double)n->in[0]->numel) : 0.0f;
    return FT_OK;
}

static void mse_backward(ft_node *n) {
    ft_node *a = n->in[0], *b = n->in[1];
    int64_t N = a->numel;
    float k = N ? 2.0f * n->grad[0] / (float)N : 0.0f;
    for (int64_t i = 0; i < N; i++) {
        float d = a->val[i] - b->val[i];
        if (a->grad) a->grad[i] += k * d;
        if (b->grad) b->grad[i] -= k * d;
    }
}

const ft_op_def ft_def_mse = {"mse", mse_forward, mse_backward, NULL, NULL, NULL, NULL};
