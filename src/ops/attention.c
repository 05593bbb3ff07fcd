/* Transformer ops: RMS norm, rotary position embedding (RoPE), multi-head scaled-dot-product
 * attention (padding and causal masks, grouped-query heads), with naive references.
 *
 * Layouts are the ones projections produce: [B, T, H*D] with head h in columns h*D..h*D+D-1,
 * so no transposes or copies are needed; per (batch, head) the kernels hand BLAS a strided
 * view (leading dimension H*D). */
#include "ops/ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* ---------------- RMS norm ----------------
 * Hugging Face LlamaRMSNorm over the last dim D: y = w * (x * r), r = 1/sqrt(mean(x^2) + eps).
 * in[1] = weight [D] when iarg[0]. farg[0] = eps. aux = r per row. */
ft_node *ft_rms_norm(ft_graph *g, ft_node *x, ft_node *weight, float eps) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (x->ndim < 1) return ft_graph_fail(g, FT_ESHAPE, "rms_norm: input needs at least 1 dim");
    int64_t D = x->shape[x->ndim - 1];
    if (weight && (weight->ndim != 1 || weight->shape[0] != D))
        return ft_graph_fail(g, FT_ESHAPE, "rms_norm: weight '%s' must have shape [%lld]", weight->name, (long long)D);
    if (!(eps >= 0)) return ft_graph_fail(g, FT_EINVAL, "rms_norm: eps=%g must be >= 0", eps);
    ft_node *in[2] = {x, weight};
    ft_node *n = ft_node_new(g, FT_OP_RMS_NORM, weight ? 2 : 1, in, x->ndim, x->shape);
    if (n) { n->iarg[0] = weight != NULL; n->farg[0] = eps; }
    return n;
}

static int64_t rms_aux(const ft_node *n) {
    int64_t D = n->shape[n->ndim - 1];
    return D ? n->numel / D : 0;
}

static ft_status rms_forward(ft_node *n) {
    const float *x = n->in[0]->val, *w = n->iarg[0] ? n->in[1]->val : NULL;
    int64_t D = n->shape[n->ndim - 1], R = D ? n->numel / D : 0;
    float eps = n->farg[0];
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * D;
        float *yr = n->val + r * D;
        float ss = 0.0f; /* float32 accumulation, as torch's mean of x^2 */
        for (int64_t d = 0; d < D; d++) ss += xr[d] * xr[d];
        float rs = 1.0f / sqrtf(ss / (float)D + eps);
        if (w)
            for (int64_t d = 0; d < D; d++) yr[d] = w[d] * (xr[d] * rs);
        else
            for (int64_t d = 0; d < D; d++) yr[d] = xr[d] * rs;
        if (n->aux) n->aux[r] = rs;
    }
    return FT_OK;
}

/* dx = r*g - x * r^3 * sum(g*x)/D with g = dy*w;  dw += sum over rows of dy * x * r. */
static void rms_backward(ft_node *n) {
    ft_node *x = n->in[0], *wn = n->iarg[0] ? n->in[1] : NULL;
    const float *w = wn ? wn->val : NULL;
    int64_t D = n->shape[n->ndim - 1], R = D ? n->numel / D : 0;
    if (x->grad) {
        #pragma omp parallel for if (n->numel > FT_PAR_MIN)
        for (int64_t r = 0; r < R; r++) {
            const float *xr = x->val + r * D, *gy = n->grad + r * D;
            float *gx = x->grad + r * D;
            float rs = n->aux[r], s = 0.0f;
            for (int64_t d = 0; d < D; d++) s += gy[d] * (w ? w[d] : 1.0f) * xr[d];
            float c = rs * rs * rs * s / (float)D;
            for (int64_t d = 0; d < D; d++) gx[d] += rs * gy[d] * (w ? w[d] : 1.0f) - xr[d] * c;
        }
    }
    if (wn && wn->grad)
        for (int64_t r = 0; r < R; r++) {
            const float *xr = x->val + r * D, *gy = n->grad + r * D;
            float rs = n->aux[r];
            #pragma omp simd
            for (int64_t d = 0; d < D; d++) wn->grad[d] += gy[d] * xr[d] * rs;
        }
}

static ft_status rms_forward_ref(ft_node *n) {
    const float *x = n->in[0]->val, *w = n->iarg[0] ? n->in[1]->val : NULL;
    int64_t D = n->shape[n->ndim - 1], R = D ? n->numel / D : 0;
    for (int64_t r = 0; r < R; r++) {
        double ss = 0;
        for (int64_t d = 0; d < D; d++) ss += (double)x[r * D + d] * x[r * D + d];
        double rs = 1.0 / sqrt(ss / (double)D + n->farg[0]);
        for (int64_t d = 0; d < D; d++) n->val[r * D + d] = (float)(x[r * D + d] * rs * (w ? w[d] : 1.0));
        if (n->aux) n->aux[r] = (float)rs;
    }
    return FT_OK;
}

/* Full Jacobian-vector product, recomputing r in double. */
static void rms_backward_ref(ft_node *n) {
    ft_node *x = n->in[0], *wn = n->iarg[0] ? n->in[1] : NULL;
    int64_t D = n->shape[n->ndim - 1], R = D ? n->numel / D : 0;
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->val + r * D, *gy = n->grad + r * D;
        double ss = 0;
        for (int64_t d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
        double rs = 1.0 / sqrt(ss / (double)D + n->farg[0]);
        for (int64_t i = 0; i < D; i++) {
            if (x->grad) {
                double acc = 0; /* d y_j / d x_i = w_j (r [i==j] - x_j x_i r^3 / D) */
                for (int64_t j = 0; j < D; j++)
                    acc += gy[j] * (wn ? wn->val[j] : 1.0) * (rs * (i == j) - (double)xr[j] * xr[i] * rs * rs * rs / (double)D);
                x->grad[r * D + i] += (float)acc;
            }
            if (wn && wn->grad) wn->grad[i] += (float)(gy[i] * xr[i] * rs);
        }
    }
}

static unsigned rms_saves(const ft_node *n) {
    unsigned m = 0;
    bool wg = n->iarg[0] && n->in[1]->requires_grad;
    if (n->in[0]->requires_grad || wg) m |= 1u;
    if (n->iarg[0] && n->in[0]->requires_grad) m |= 2u;
    return m;
}

const ft_op_def ft_def_rms_norm = {"rms_norm", rms_forward, rms_backward, rms_forward_ref, rms_backward_ref,
                                   rms_saves, rms_aux};

/* ---------------- RoPE ----------------
 * x [..., T, H*D]; pairs (i, i + D/2) of every head rotate by angle pos * theta^(-2i/D), as
 * Hugging Face's rotate_half: y_i = x_i cos - x_{i+D/2} sin, y_{i+D/2} = x_{i+D/2} cos + x_i sin.
 * Angles are float32 as in HF and llama2.c: inv = 1/powf(theta, 2i/D), a = (float)pos * inv.
 * in[1] = positions I32 [T] when iarg[1]. iarg[0] = n_head, farg[0] = theta.
 * scratch = the cos/sin table [T, D] (cos in the first D/2 of a row, sin in the rest). */
ft_node *ft_rope(ft_graph *g, ft_node *x, int n_head, float theta, ft_node *positions) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (positions && !ft_graph_ok(g, 1, &positions)) return NULL;
    if (x->ndim < 2) return ft_graph_fail(g, FT_ESHAPE, "rope: input must be [..., T, heads*head_dim]");
    int64_t C = x->shape[x->ndim - 1], T = x->shape[x->ndim - 2];
    if (n_head < 1 || C % n_head || (C / n_head) % 2)
        return ft_graph_fail(g, FT_ESHAPE, "rope: last dim %lld is not n_head=%d times an even head dim", (long long)C,
                             n_head);
    if (!(theta > 0)) return ft_graph_fail(g, FT_EINVAL, "rope: theta=%g must be positive", theta);
    if (positions && (positions->dtype != FT_I32 || positions->ndim != 1 || positions->shape[0] != T))
        return ft_graph_fail(g, FT_ESHAPE, "rope: positions must be int32 [%lld]", (long long)T);
    ft_node *in[2] = {x, positions};
    ft_node *n = ft_node_new(g, FT_OP_ROPE, positions ? 2 : 1, in, x->ndim, x->shape);
    if (n) {
        n->iarg[0] = n_head;
        n->iarg[1] = positions != NULL;
        n->farg[0] = theta;
        n->scratch_numel = T * (C / n_head);
    }
    return n;
}

typedef struct { int64_t outer, T, H, D; } rope_dims;
static rope_dims rope_get(const ft_node *n) {
    rope_dims d;
    d.T = n->shape[n->ndim - 2];
    d.H = n->iarg[0];
    d.D = n->shape[n->ndim - 1] / d.H;
    d.outer = d.T ? n->numel / (d.T * d.H * d.D) : 0;
    return d;
}
static inline float rope_angle(const ft_node *n, int64_t t, int64_t i, int64_t D) {
    int32_t pos = n->iarg[1] ? ((const int32_t *)n->in[1]->val)[t] : (int32_t)t;
    float inv = 1.0f / powf(n->farg[0], (float)(2 * i) / (float)D);
    return (float)pos * inv;
}
static void rope_table(const ft_node *n, rope_dims d) {
    int64_t h = d.D / 2;
    for (int64_t t = 0; t < d.T; t++)
        for (int64_t i = 0; i < h; i++) {
            float a = rope_angle(n, t, i, d.D);
            n->scratch[t * d.D + i] = cosf(a);
            n->scratch[t * d.D + h + i] = sinf(a);
        }
}

/* sign = +1: rotate forward (y = R x); -1: transpose (dx = R^T dy), accumulating. */
static void rope_apply(const ft_node *n, const float *src, float *dst, bool transpose, bool accumulate) {
    rope_dims d = rope_get(n);
    int64_t h = d.D / 2, rows = d.outer * d.T;
    float sg = transpose ? -1.0f : 1.0f;
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *cs = n->scratch + (r % d.T) * d.D, *sn = cs + h;
        for (int64_t hd = 0; hd < d.H; hd++) {
            const float *x = src + (r * d.H + hd) * d.D;
            float *y = dst + (r * d.H + hd) * d.D;
            for (int64_t i = 0; i < h; i++) {
                float x1 = x[i], x2 = x[i + h], s = sg * sn[i];
                float y1 = x1 * cs[i] - x2 * s, y2 = x2 * cs[i] + x1 * s;
                if (accumulate) { y[i] += y1; y[i + h] += y2; }
                else { y[i] = y1; y[i + h] = y2; }
            }
        }
    }
}

static ft_status rope_forward(ft_node *n) {
    rope_table(n, rope_get(n));
    rope_apply(n, n->in[0]->val, n->val, false, false);
    return FT_OK;
}
static void rope_backward(ft_node *n) {
    rope_table(n, rope_get(n));
    rope_apply(n, n->grad, n->in[0]->grad, true, true);
}

/* Reference: rotate_half written out per element, angles recomputed for each. */
static ft_status rope_forward_ref(ft_node *n) {
    rope_dims d = rope_get(n);
    int64_t h = d.D / 2;
    for (int64_t o = 0; o < d.outer; o++)
        for (int64_t t = 0; t < d.T; t++)
            for (int64_t hd = 0; hd < d.H; hd++) {
                const float *x = n->in[0]->val + ((o * d.T + t) * d.H + hd) * d.D;
                float *y = n->val + ((o * d.T + t) * d.H + hd) * d.D;
                for (int64_t i = 0; i < d.D; i++) {
                    float a = rope_angle(n, t, i % h, d.D);
                    double rot = i < h ? -(double)x[i + h] : (double)x[i - h]; /* rotate_half */
                    y[i] = (float)((double)x[i] * cosf(a) + rot * sinf(a));
                }
            }
    return FT_OK;
}
static void rope_backward_ref(ft_node *n) {
    rope_dims d = rope_get(n);
    int64_t h = d.D / 2;
    for (int64_t o = 0; o < d.outer; o++)
        for (int64_t t = 0; t < d.T; t++)
            for (int64_t hd = 0; hd < d.H; hd++) {
                const float *gy = n->grad + ((o * d.T + t) * d.H + hd) * d.D;
                float *gx = n->in[0]->grad + ((o * d.T + t) * d.H + hd) * d.D;
                for (int64_t i = 0; i < d.D; i++) { /* y_j depends on x_i for j = i and j = i +- D/2 */
                    float a = rope_angle(n, t, i % h, d.D);
                    double rot = i < h ? (double)gy[i + h] : -(double)gy[i - h];
                    gx[i] += (float)((double)gy[i] * cosf(a) + rot * sinf(a));
                }
            }
}

static unsigned rope_saves(const ft_node *n) { return n->iarg[1] ? 2u : 0u; }
const ft_op_def ft_def_rope = {"rope", rope_forward, rope_backward, rope_forward_ref, rope_backward_ref, rope_saves,
                               NULL};

/* ---------------- attention ----------------
 * q [B,Tq,Hq*D], k/v [B,Tk,Hkv*D], optional key mask [B,Tk] (I32 or F32, nonzero = attend).
 * Query head h reads kv head h / (Hq/Hkv), as HF's repeat_kv, without copying K/V.
 * iarg: 0 Hq, 1 Hkv, 2 causal, 3 has mask, 4 scratch slots. farg[0] = scale.
 * aux = probabilities P [B,Hq,Tq,Tk] (only when backward runs); scratch = per-thread [Tq,Tk]
 * (P in an eval plan, dP in backward). A row with no key to attend gets P = 0 and output 0. */
ft_node *ft_attention(ft_graph *g, ft_node *q, ft_node *k, ft_node *v, ft_node *key_mask, const ft_attention_args *a) {
    ft_node *in[4] = {q, k, v, key_mask};
    if (!ft_graph_ok(g, 3, in)) return NULL;
    if (key_mask && !ft_graph_ok(g, 1, &key_mask)) return NULL;
    if (!a) return ft_graph_fail(g, FT_EINVAL, "attention: arguments missing");
    int Hq = a->n_head, Hkv = a->n_kv_head;
    if (Hq < 1 || Hkv < 1 || Hq % Hkv)
        return ft_graph_fail(g, FT_EINVAL, "attention: n_head=%d must be a positive multiple of n_kv_head=%d", Hq, Hkv);
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3)
        return ft_graph_fail(g, FT_ESHAPE, "attention: q, k, v must be [batch, time, heads*head_dim]");
    int64_t B = q->shape[0], Tq = q->shape[1], Tk = k->shape[1];
    if (q->shape[2] % Hq) return ft_graph_fail(g, FT_ESHAPE, "attention: q width %lld is not a multiple of n_head=%d", (long long)q->shape[2], Hq);
    int64_t D = q->shape[2] / Hq;
    for (int i = 1; i < 3; i++)
        if (in[i]->shape[0] != B || in[i]->shape[1] != Tk || in[i]->shape[2] != Hkv * D) {
            char s[64];
            ft_shape_str(in[i], s, sizeof s);
            return ft_graph_fail(g, FT_ESHAPE, "attention: %s is %s, want [%lld,%lld,%lld] (n_kv_head=%d, head_dim=%lld)",
                                 i == 1 ? "k" : "v", s, (long long)B, (long long)Tk, (long long)(Hkv * D), Hkv, (long long)D);
        }
    if (key_mask && (key_mask->ndim != 2 || key_mask->shape[0] != B || key_mask->shape[1] != Tk))
        return ft_graph_fail(g, FT_ESHAPE, "attention: key mask must be [%lld,%lld]", (long long)B, (long long)Tk);
    ft_node *n = ft_node_new(g, FT_OP_ATTENTION, key_mask ? 4 : 3, in, 3, q->shape);
    if (!n) return NULL;
    int slots = ft_get_num_threads();
    if (slots < 1) slots = 1;
    n->iarg[0] = Hq; n->iarg[1] = Hkv; n->iarg[2] = a->causal; n->iarg[3] = key_mask != NULL; n->iarg[4] = slots;
    n->farg[0] = a->scale > 0 ? a->scale : 1.0f / sqrtf((float)D);
    int64_t sc = (int64_t)slots * Tq * Tk;
    n->scratch_numel = sc > 2 * Tk ? sc : 2 * Tk;
    return n;
}

typedef struct { int64_t B, Tq, Tk, Hq, Hkv, G, D, ldq, ldk; bool causal; } att_dims;
static att_dims att_get(const ft_node *n) {
    att_dims d;
    d.B = n->shape[0]; d.Tq = n->shape[1]; d.Tk = n->in[1]->shape[1];
    d.Hq = n->iarg[0]; d.Hkv = n->iarg[1]; d.G = d.Hq / d.Hkv;
    d.D = n->shape[2] / d.Hq;
    d.ldq = d.Hq * d.D; d.ldk = d.Hkv * d.D;
    d.causal = n->iarg[2];
    return d;
}
static inline bool att_key_ok(const ft_node *n, const att_dims *d, int64_t b, int64_t i, int64_t j) {
    if (d->causal && j > i + d->Tk - d->Tq) return false;
    if (!n->iarg[3]) return true;
    const ft_node *m = n->in[3];
    return m->dtype == FT_I32 ? ((const int32_t *)m->val)[b * d->Tk + j] != 0 : m->val[b * d->Tk + j] != 0.0f;
}
static int64_t att_aux(const ft_node *n) {
    att_dims d = att_get(n);
    return n->requires_grad ? d.B * d.Hq * d.Tq * d.Tk : 0;
}

/* Softmax of each row of S [Tq,Tk] in place over the keys row i may attend. */
static void att_softmax(const ft_node *n, const att_dims *d, int64_t b, float *S) {
    for (int64_t i = 0; i < d->Tq; i++) {
        float *s = S + i * d->Tk, mx = -INFINITY;
        for (int64_t j = 0; j < d->Tk; j++) {
            if (!att_key_ok(n, d, b, i, j)) s[j] = -INFINITY;
            else if (s[j] > mx) mx = s[j];
        }
        if (mx == -INFINITY) { memset(s, 0, (size_t)d->Tk * sizeof *s); continue; } /* nothing to attend */
        float sum = 0.0f;
        for (int64_t j = 0; j < d->Tk; j++) { s[j] = expf(s[j] - mx); sum += s[j]; }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < d->Tk; j++) s[j] *= inv;
    }
}

static ft_status att_forward(ft_node *n) {
    att_dims d = att_get(n);
    const float *Q = n->in[0]->val, *K = n->in[1]->val, *V = n->in[2]->val;
    int64_t BH = d.B * d.Hq, PT = d.Tq * d.Tk;
    int slots = n->iarg[4]; /* OpenMP threads; scratch has one [Tq,Tk] slice per slot */
    (void)slots;            /* (unused when OpenMP pragmas are off, e.g. clang -fopenmp=libgomp) */
    /* One (batch, head) per thread: sgemm inside the region runs single-threaded (OpenBLAS's
     * OpenMP build); a single head gets BLAS's own threads. */
    #pragma omp parallel for num_threads(slots) schedule(dynamic, 1) if (BH > 1 && slots > 1)
    for (int64_t bh = 0; bh < BH; bh++) {
        int64_t b = bh / d.Hq, h = bh % d.Hq, kh = h / d.G;
        float *P = n->aux ? n->aux + bh * PT : n->scratch + (int64_t)omp_get_thread_num() * PT;
        const float *Qb = Q + b * d.Tq * d.ldq + h * d.D, *Kb = K + b * d.Tk * d.ldk + kh * d.D;
        const float *Vb = V + b * d.Tk * d.ldk + kh * d.D;
        float *O = n->val + b * d.Tq * d.ldq + h * d.D;
        if (d.Tk > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d.Tq, (int)d.Tk, (int)d.D, n->farg[0], Qb,
                        (int)d.ldq, Kb, (int)d.ldk, 0.0f, P, (int)d.Tk);
        att_softmax(n, &d, b, P);
        if (d.Tk > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d.Tq, (int)d.D, (int)d.Tk, 1.0f, P, (int)d.Tk, Vb,
                        (int)d.ldk, 0.0f, O, (int)d.ldq);
        else
            for (int64_t i = 0; i < d.Tq; i++) memset(O + i * d.ldq, 0, (size_t)d.D * sizeof *O);
    }
    return FT_OK;
}

/* Per (batch, kv head), so the query heads sharing K/V never race on dK/dV:
 *   dV += P^T dO;  dP = dO V^T;  dS = P * (dP - rowsum(P * dP)) * scale;  dQ += dS K;  dK += dS^T Q. */
static void att_backward(ft_node *n) {
    att_dims d = att_get(n);
    ft_node *qn = n->in[0], *kn = n->in[1], *vn = n->in[2];
    int64_t BK = d.B * d.Hkv, PT = d.Tq * d.Tk;
    int slots = n->iarg[4]; /* OpenMP threads; scratch has one [Tq,Tk] slice per slot */
    (void)slots;            /* (unused when OpenMP pragmas are off, e.g. clang -fopenmp=libgomp) */
    if (d.Tk == 0) return;
    #pragma omp parallel for num_threads(slots) schedule(dynamic, 1) if (BK > 1 && slots > 1)
    for (int64_t bk = 0; bk < BK; bk++) {
        int64_t b = bk / d.Hkv, kh = bk % d.Hkv;
        float *dP = n->scratch + (int64_t)omp_get_thread_num() * PT;
        const float *Kb = kn->val + b * d.Tk * d.ldk + kh * d.D, *Vb = vn->val + b * d.Tk * d.ldk + kh * d.D;
        for (int64_t g = 0; g < d.G; g++) {
            int64_t h = kh * d.G + g;
            const float *P = n->aux + (b * d.Hq + h) * PT;
            const float *dO = n->grad + b * d.Tq * d.ldq + h * d.D;
            if (vn->grad)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d.Tk, (int)d.D, (int)d.Tq, 1.0f, P, (int)d.Tk,
                            dO, (int)d.ldq, 1.0f, vn->grad + b * d.Tk * d.ldk + kh * d.D, (int)d.ldk);
            if (!qn->grad && !kn->grad) continue;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d.Tq, (int)d.Tk, (int)d.D, 1.0f, dO, (int)d.ldq,
                        Vb, (int)d.ldk, 0.0f, dP, (int)d.Tk);
            for (int64_t i = 0; i < d.Tq; i++) {
                const float *p = P + i * d.Tk;
                float *dp = dP + i * d.Tk, s = 0.0f;
                for (int64_t j = 0; j < d.Tk; j++) s += p[j] * dp[j];
                for (int64_t j = 0; j < d.Tk; j++) dp[j] = p[j] * (dp[j] - s) * n->farg[0];
            }
            if (qn->grad)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d.Tq, (int)d.D, (int)d.Tk, 1.0f, dP, (int)d.Tk,
                            Kb, (int)d.ldk, 1.0f, qn->grad + b * d.Tq * d.ldq + h * d.D, (int)d.ldq);
            if (kn->grad)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d.Tk, (int)d.D, (int)d.Tq, 1.0f, dP, (int)d.Tk,
                            qn->val + b * d.Tq * d.ldq + h * d.D, (int)d.ldq, 1.0f, kn->grad + b * d.Tk * d.ldk + kh * d.D,
                            (int)d.ldk);
        }
    }
}

/* Reference: one query row at a time, scores and softmax in double, no BLAS. p (and dp)
 * live in the first 2*Tk floats of scratch. */
static void att_ref_row(const ft_node *n, const att_dims *d, int64_t b, int64_t h, int64_t i, float *p) {
    const float *q = n->in[0]->val + (b * d->Tq + i) * d->ldq + h * d->D;
    int64_t kh = h / d->G;
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < d->Tk; j++) {
        if (!att_key_ok(n, d, b, i, j)) { p[j] = NAN; continue; }
        const float *k = n->in[1]->val + (b * d->Tk + j) * d->ldk + kh * d->D;
        double dot = 0;
        for (int64_t c = 0; c < d->D; c++) dot += (double)q[c] * k[c];
        p[j] = (float)(dot * n->farg[0]);
        if (p[j] > mx) mx = p[j];
    }
    for (int64_t j = 0; j < d->Tk; j++) sum += isnan(p[j]) ? 0 : exp((double)p[j] - mx);
    for (int64_t j = 0; j < d->Tk; j++) p[j] = isnan(p[j]) ? 0.0f : (float)(exp((double)p[j] - mx) / sum);
}

static ft_status att_forward_ref(ft_node *n) {
    att_dims d = att_get(n);
    float *p = n->scratch;
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.Hq; h++)
            for (int64_t i = 0; i < d.Tq; i++) {
                att_ref_row(n, &d, b, h, i, p);
                if (n->aux) memcpy(n->aux + ((b * d.Hq + h) * d.Tq + i) * d.Tk, p, (size_t)d.Tk * sizeof *p);
                for (int64_t c = 0; c < d.D; c++) {
                    double o = 0;
                    for (int64_t j = 0; j < d.Tk; j++) o += (double)p[j] * n->in[2]->val[(b * d.Tk + j) * d.ldk + (h / d.G) * d.D + c];
                    n->val[(b * d.Tq + i) * d.ldq + h * d.D + c] = (float)o;
                }
            }
    return FT_OK;
}

/* Reference backward: per query row with the saved probabilities, sums in double. */
static void att_backward_ref(ft_node *n) {
    att_dims d = att_get(n);
    ft_node *qn = n->in[0], *kn = n->in[1], *vn = n->in[2];
    float *dp = n->scratch;
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.Hq; h++)
            for (int64_t i = 0; i < d.Tq; i++) {
                int64_t kh = h / d.G;
                const float *p = n->aux + ((b * d.Hq + h) * d.Tq + i) * d.Tk;
                const float *go = n->grad + (b * d.Tq + i) * d.ldq + h * d.D;
                double s = 0;
                for (int64_t j = 0; j < d.Tk; j++) {
                    double acc = 0;
                    if (qn->grad || kn->grad) {
                        const float *v = vn->val + (b * d.Tk + j) * d.ldk + kh * d.D;
                        for (int64_t c = 0; c < d.D; c++) acc += (double)go[c] * v[c];
                    }
                    dp[j] = (float)acc;
                    s += (double)p[j] * acc;
                }
                for (int64_t j = 0; j < d.Tk; j++) {
                    double ds = (double)p[j] * ((double)dp[j] - s) * n->farg[0];
                    for (int64_t c = 0; c < d.D; c++) {
                        if (qn->grad) qn->grad[(b * d.Tq + i) * d.ldq + h * d.D + c] += (float)(ds * kn->val[(b * d.Tk + j) * d.ldk + kh * d.D + c]);
                        if (kn->grad) kn->grad[(b * d.Tk + j) * d.ldk + kh * d.D + c] += (float)(ds * qn->val[(b * d.Tq + i) * d.ldq + h * d.D + c]);
                        if (vn->grad) vn->grad[(b * d.Tk + j) * d.ldk + kh * d.D + c] += (float)((double)p[j] * go[c]);
                    }
                }
            }
}

/* Backward reads P (aux) and dO, plus: */
static unsigned att_saves(const ft_node *n) {
    bool gq = n->in[0]->requires_grad, gk = n->in[1]->requires_grad;
    unsigned m = 0;
    if (gk) m |= 1u;        /* q, for dK = dS^T Q */
    if (gq) m |= 2u;        /* k, for dQ = dS K */
    if (gq || gk) m |= 4u;  /* v, for dP = dO V^T */
    return m;
}

const ft_op_def ft_def_attention = {"attention", att_forward, att_backward, att_forward_ref, att_backward_ref,
                                    att_saves, att_aux};
