/* Pooling and padding over the last two dims of x [..., H, W] (NCHW: planes = N*C).
 *
 *  max_pool2d   window max, -inf padding, first maximum wins on ties; aux = the argmax
 *               (index in the input plane, int32 in float slots) when backward runs.
 *  avg_pool2d   window mean; the divisor counts the padding (count_include_pad) but never
 *               the ceil_mode overhang past the bottom/right padding, as torch.
 *  global_avg_pool  [N,C,H,W] -> [N,C] or [N,C,1,1].
 *  pad2d        constant padding top, left, bottom, right.
 *
 * Pool iarg[0..3] = pad top, left, bottom, right; iarg[4] = kh << 16 | kw;
 * iarg[5] = sh << 16 | sw; iarg[6] = count_include_pad; iarg[7] = 1 for the 1-D pools, which
 * run the same kernels on x [..., L] as [..., 1, L] (H = kh = 1, no copy). */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

#define POOL_MAX_ARG 32767

typedef struct {
    int64_t P, H, W, Ho, Wo, kh, kw, sh, sw, pt, pl, pb, pr;
    bool include_pad;
} pool_dims;

static pool_dims pool_get(const ft_node *n) {
    const ft_node *x = n->in[0];
    pool_dims d;
    bool one = n->iarg[7];
    d.H = one ? 1 : x->shape[x->ndim - 2]; d.W = x->shape[x->ndim - 1];
    d.P = d.H * d.W > 0 ? x->numel / (d.H * d.W) : 0;
    d.Ho = one ? 1 : n->shape[n->ndim - 2]; d.Wo = n->shape[n->ndim - 1];
    d.pt = n->iarg[0]; d.pl = n->iarg[1]; d.pb = n->iarg[2]; d.pr = n->iarg[3];
    d.kh = n->iarg[4] >> 16; d.kw = n->iarg[4] & 0xffff;
    d.sh = n->iarg[5] >> 16; d.sw = n->iarg[5] & 0xffff;
    d.include_pad = n->iarg[6];
    return d;
}

/* torch's pooling_output_shape_pad_lr (dilation 1). */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t pa, int64_t pb, bool ceil_mode) {
    int64_t num = in + pa + pb - k + (ceil_mode ? s - 1 : 0);
    if (num < 0) return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + pa) out--;
    return out;
}

static ft_node *pool_build(ft_graph *g, ft_op op, ft_node *x, const ft_pool2d_args *a, bool one_d) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    const char *name = one_d ? (op == FT_OP_MAX_POOL2D ? "max_pool1d" : "avg_pool1d") : ft_op_name(op);
    if (!a) return ft_graph_fail(g, FT_EINVAL, "%s: no arguments", name);
    char s[64];
    ft_shape_str(x, s, sizeof s);
    if (x->dtype != FT_F32 || x->ndim < (one_d ? 1 : 2))
        return ft_graph_fail(g, FT_ESHAPE, "%s: input %s must be float32 %s", name, s, one_d ? "[..., L]" : "[..., H, W]");
    int k[2] = {a->kernel[0], a->kernel[1]};
    int st[2] = {a->stride[0] ? a->stride[0] : k[0], a->stride[1] ? a->stride[1] : k[1]};
    for (int i = 0; i < 2; i++)
        if (k[i] < 1 || k[i] > POOL_MAX_ARG || st[i] < 1 || st[i] > POOL_MAX_ARG)
            return ft_graph_fail(g, FT_EINVAL, "%s: kernel %dx%d / stride %dx%d out of range [1, %d]", name, k[0], k[1],
                                 st[0], st[1], POOL_MAX_ARG);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0 || a->pad[i] >= k[i % 2])
            return ft_graph_fail(g, FT_EINVAL, "%s: padding %d,%d,%d,%d must be >= 0 and below the kernel size %dx%d",
                                 name, a->pad[0], a->pad[1], a->pad[2], a->pad[3], k[0], k[1]);
    int64_t H = one_d ? 1 : x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    int64_t Ho = pool_out(H, k[0], st[0], a->pad[0], a->pad[2], a->ceil_mode);
    int64_t Wo = pool_out(W, k[1], st[1], a->pad[1], a->pad[3], a->ceil_mode);
    if (Ho < 1 || Wo < 1)
        return ft_graph_fail(g, FT_ESHAPE, "%s: kernel %dx%d does not fit the padded input %s", name, k[0], k[1], s);
    int64_t shape[FT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    if (!one_d) shape[x->ndim - 2] = Ho;
    shape[x->ndim - 1] = Wo;
    ft_node *n = ft_node_new(g, op, 1, &x, x->ndim, shape);
    if (!n) return NULL;
    for (int i = 0; i < 4; i++) n->iarg[i] = a->pad[i];
    n->iarg[4] = k[0] << 16 | k[1];
    n->iarg[5] = st[0] << 16 | st[1];
    n->iarg[6] = a->count_include_pad;
    n->iarg[7] = one_d;
    return n;
}

ft_node *ft_max_pool2d(ft_graph *g, ft_node *x, const ft_pool2d_args *a) { return pool_build(g, FT_OP_MAX_POOL2D, x, a, false); }
ft_node *ft_avg_pool2d(ft_graph *g, ft_node *x, const ft_pool2d_args *a) { return pool_build(g, FT_OP_AVG_POOL2D, x, a, false); }

static ft_node *pool1d(ft_graph *g, ft_op op, ft_node *x, const ft_pool1d_args *a) {
    if (!a) return pool_build(g, op, x, NULL, true);
    ft_pool2d_args b = {.kernel = {1, a->kernel}, .stride = {1, a->stride}, .pad = {0, a->pad[0], 0, a->pad[1]},
                        .ceil_mode = a->ceil_mode, .count_include_pad = a->count_include_pad};
    return pool_build(g, op, x, &b, true);
}
ft_node *ft_max_pool1d(ft_graph *g, ft_node *x, const ft_pool1d_args *a) { return pool1d(g, FT_OP_MAX_POOL2D, x, a); }
ft_node *ft_avg_pool1d(ft_graph *g, ft_node *x, const ft_pool1d_args *a) { return pool1d(g, FT_OP_AVG_POOL2D, x, a); }

/* The window of output (ho, wo), clipped to the input: rows [h0, h1), cols [w0, w1). The
 * padding always leaves at least one input element in it (pads are below the kernel). */
static inline void window(const pool_dims *d, int64_t ho, int64_t wo, int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1) {
    int64_t hs = ho * d->sh - d->pt, ws = wo * d->sw - d->pl;
    *h0 = hs < 0 ? 0 : hs;
    *w0 = ws < 0 ? 0 : ws;
    *h1 = hs + d->kh < d->H ? hs + d->kh : d->H;
    *w1 = ws + d->kw < d->W ? ws + d->kw : d->W;
}

/* ---------------- max pool ---------------- */

static int64_t maxpool_aux(const ft_node *n) { return n->requires_grad ? n->numel : 0; }

/* Output columns [wo0, wo1) whose input column wo*s + off lies in [0, W). */
static inline void valid_cols(int64_t W, int64_t Wo, int64_t s, int64_t off, int64_t *wo0, int64_t *wo1) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s, b = W - off <= 0 ? 0 : (W - off + s - 1) / s;
    *wo0 = a < Wo ? a : Wo;
    *wo1 = b < Wo ? (b < *wo0 ? *wo0 : b) : Wo;
}

/* One output row at a time, vectorised over wo: each window tap (i, j) in row-major order
 * updates every output column it is valid for, so each output still sees its window in
 * torch's scan order (the first maximum wins; a NaN is taken). */
static ft_status maxpool_forward(ft_node *n) {
    pool_dims d = pool_get(n);
    const float *x = n->in[0]->val;
    int32_t *arg = (int32_t *)n->aux;
    #pragma omp parallel for if (n->numel * d.kh * d.kw > FT_PAR_MIN)
    for (int64_t p = 0; p < d.P; p++) {
        const float *xp = x + p * d.H * d.W;
        for (int64_t ho = 0; ho < d.Ho; ho++) {
            float *yr = n->val + (p * d.Ho + ho) * d.Wo;
            int32_t *ar = arg ? arg + (p * d.Ho + ho) * d.Wo : NULL;
            int64_t hs = ho * d.sh - d.pt, h0 = hs < 0 ? 0 : hs;
            for (int64_t wo = 0; wo < d.Wo; wo++) {
                int64_t ws = wo * d.sw - d.pl;
                yr[wo] = -INFINITY;
                if (ar) ar[wo] = (int32_t)(h0 * d.W + (ws < 0 ? 0 : ws)); /* kept if all are -inf */
            }
            for (int64_t i = 0; i < d.kh; i++) {
                int64_t h = hs + i;
                if (h < 0 || h >= d.H) continue;
                const float *xr = xp + h * d.W;
                for (int64_t j = 0; j < d.kw; j++) {
                    int64_t off = j - d.pl, wo0, wo1;
                    valid_cols(d.W, d.Wo, d.sw, off, &wo0, &wo1);
                    if (ar) {
                        int32_t base = (int32_t)(h * d.W + off), sw = (int32_t)d.sw;
                        #pragma omp simd
                        for (int64_t wo = wo0; wo < wo1; wo++) {
                            float v = xr[wo * d.sw + off];
                            bool take = (v > yr[wo]) | isnan(v);
                            yr[wo] = take ? v : yr[wo];
                            ar[wo] = take ? base + (int32_t)wo * sw : ar[wo];
                        }
                    } else {
                        #pragma omp simd
                        for (int64_t wo = wo0; wo < wo1; wo++) {
                            float v = xr[wo * d.sw + off];
                            yr[wo] = ((v > yr[wo]) | isnan(v)) ? v : yr[wo];
                        }
                    }
                }
            }
        }
    }
    return FT_OK;
}

static void maxpool_backward(ft_node *n) {
    pool_dims d = pool_get(n);
    float *gx = n->in[0]->grad;
    const int32_t *arg = (const int32_t *)n->aux;
    int64_t S = d.Ho * d.Wo;
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t k = 0; k < S; k++) gx[p * d.H * d.W + arg[p * S + k]] += n->grad[p * S + k];
}

/* Reference: scans the unclipped window element by element, skipping padding. */
static int64_t maxpool_ref_arg(const pool_dims *d, const float *xp, int64_t ho, int64_t wo, float *out) {
    double m = -INFINITY;
    int64_t best = -1;
    for (int64_t i = 0; i < d->kh; i++)
        for (int64_t j = 0; j < d->kw; j++) {
            int64_t h = ho * d->sh - d->pt + i, w = wo * d->sw - d->pl + j;
            if (h < 0 || h >= d->H || w < 0 || w >= d->W) continue;
            double v = xp[h * d->W + w];
            if (best < 0 || v > m || isnan(v)) { m = v; best = h * d->W + w; }
        }
    if (out) *out = (float)m;
    return best;
}

static ft_status maxpool_forward_ref(ft_node *n) {
    pool_dims d = pool_get(n);
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t ho = 0; ho < d.Ho; ho++)
            for (int64_t wo = 0; wo < d.Wo; wo++) {
                int64_t o = (p * d.Ho + ho) * d.Wo + wo;
                int64_t a = maxpool_ref_arg(&d, n->in[0]->val + p * d.H * d.W, ho, wo, &n->val[o]);
                if (n->aux) ((int32_t *)n->aux)[o] = (int32_t)a;
            }
    return FT_OK;
}

/* x is not kept for backward (the argmax is), so the reference routes through the
 * indices its own forward saved. */
static void maxpool_backward_ref(ft_node *n) {
    pool_dims d = pool_get(n);
    const int32_t *arg = (const int32_t *)n->aux;
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t o = 0; o < d.Ho * d.Wo; o++)
            n->in[0]->grad[p * d.H * d.W + arg[p * d.Ho * d.Wo + o]] += n->grad[p * d.Ho * d.Wo + o];
}

static unsigned maxpool_saves(const ft_node *n) { return 0; }

/* ---------------- avg pool ---------------- */

static inline float avg_divisor(const pool_dims *d, int64_t ho, int64_t wo, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    if (!d->include_pad) return (float)((h1 - h0) * (w1 - w0));
    int64_t hs = ho * d->sh - d->pt, ws = wo * d->sw - d->pl;
    int64_t he = hs + d->kh < d->H + d->pb ? hs + d->kh : d->H + d->pb;
    int64_t we = ws + d->kw < d->W + d->pr ? ws + d->kw : d->W + d->pr;
    return (float)((he - hs) * (we - ws));
}

static ft_status avgpool_forward(ft_node *n) {
    pool_dims d = pool_get(n);
    const float *x = n->in[0]->val;
    #pragma omp parallel for if (n->numel * d.kh * d.kw > FT_PAR_MIN)
    for (int64_t p = 0; p < d.P; p++) {
        const float *xp = x + p * d.H * d.W;
        for (int64_t ho = 0; ho < d.Ho; ho++)
            for (int64_t wo = 0; wo < d.Wo; wo++) {
                int64_t h0, h1, w0, w1;
                window(&d, ho, wo, &h0, &h1, &w0, &w1);
                float s = 0.0f;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) s += xp[h * d.W + w];
                n->val[(p * d.Ho + ho) * d.Wo + wo] = s / avg_divisor(&d, ho, wo, h0, h1, w0, w1);
            }
    }
    return FT_OK;
}

static void avgpool_backward(ft_node *n) {
    pool_dims d = pool_get(n);
    float *gx = n->in[0]->grad;
    #pragma omp parallel for if (n->numel * d.kh * d.kw > FT_PAR_MIN)
    for (int64_t p = 0; p < d.P; p++) {
        float *gp = gx + p * d.H * d.W;
        for (int64_t ho = 0; ho < d.Ho; ho++)
            for (int64_t wo = 0; wo < d.Wo; wo++) {
                int64_t h0, h1, w0, w1;
                window(&d, ho, wo, &h0, &h1, &w0, &w1);
                float gv = n->grad[(p * d.Ho + ho) * d.Wo + wo] / avg_divisor(&d, ho, wo, h0, h1, w0, w1);
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) gp[h * d.W + w] += gv;
            }
    }
}

/* Reference: the torch formula spelled out per element, in double. */
static double avg_ref_divisor(const pool_dims *d, int64_t ho, int64_t wo) {
    int64_t cnt = 0, cnt_pad = 0;
    for (int64_t i = 0; i < d->kh; i++)
        for (int64_t j = 0; j < d->kw; j++) {
            int64_t h = ho * d->sh - d->pt + i, w = wo * d->sw - d->pl + j;
            if (h < d->H + d->pb && w < d->W + d->pr) cnt_pad++; /* inside input + padding */
            if (h >= 0 && h < d->H && w >= 0 && w < d->W) cnt++;
        }
    return d->include_pad ? (double)cnt_pad : (double)cnt;
}

static ft_status avgpool_forward_ref(ft_node *n) {
    pool_dims d = pool_get(n);
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t ho = 0; ho < d.Ho; ho++)
            for (int64_t wo = 0; wo < d.Wo; wo++) {
                double s = 0;
                for (int64_t i = 0; i < d.kh; i++)
                    for (int64_t j = 0; j < d.kw; j++) {
                        int64_t h = ho * d.sh - d.pt + i, w = wo * d.sw - d.pl + j;
                        if (h >= 0 && h < d.H && w >= 0 && w < d.W) s += n->in[0]->val[(p * d.H + h) * d.W + w];
                    }
                n->val[(p * d.Ho + ho) * d.Wo + wo] = (float)(s / avg_ref_divisor(&d, ho, wo));
            }
    return FT_OK;
}

static void avgpool_backward_ref(ft_node *n) {
    pool_dims d = pool_get(n);
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t ho = 0; ho < d.Ho; ho++)
            for (int64_t wo = 0; wo < d.Wo; wo++) {
                double gv = n->grad[(p * d.Ho + ho) * d.Wo + wo] / avg_ref_divisor(&d, ho, wo);
                for (int64_t i = 0; i < d.kh; i++)
                    for (int64_t j = 0; j < d.kw; j++) {
                        int64_t h = ho * d.sh - d.pt + i, w = wo * d.sw - d.pl + j;
                        if (h >= 0 && h < d.H && w >= 0 && w < d.W) n->in[0]->grad[(p * d.H + h) * d.W + w] += (float)gv;
                    }
            }
}

static unsigned save_none(const ft_node *n) { return 0; }

/* ---------------- global average pool ---------------- */

ft_node *ft_global_avg_pool(ft_graph *g, ft_node *x, bool keepdim) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (x->ndim != 4 || x->dtype != FT_F32) {
        char s[64];
        ft_shape_str(x, s, sizeof s);
        return ft_graph_fail(g, FT_ESHAPE, "global_avg_pool: input %s must be float32 [N,C,H,W]", s);
    }
    int64_t shape[4] = {x->shape[0], x->shape[1], 1, 1};
    ft_node *n = ft_node_new(g, FT_OP_GLOBAL_AVG_POOL, 1, &x, keepdim ? 4 : 2, shape);
    if (n) n->iarg[0] = keepdim;
    return n;
}

static ft_status gap_forward(ft_node *n) {
    const ft_node *x = n->in[0];
    int64_t S = x->shape[2] * x->shape[3], P = n->numel;
    float inv = S ? 1.0f / (float)S : 0.0f;
    #pragma omp parallel for if (x->numel > FT_PAR_MIN)
    for (int64_t p = 0; p < P; p++) {
        const float *xp = x->val + p * S;
        float s = 0.0f;
        #pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < S; k++) s += xp[k];
        n->val[p] = s * inv;
    }
    return FT_OK;
}

static void gap_backward(ft_node *n) {
    ft_node *x = n->in[0];
    int64_t S = x->shape[2] * x->shape[3], P = n->numel;
    float inv = S ? 1.0f / (float)S : 0.0f;
    #pragma omp parallel for if (x->numel > FT_PAR_MIN)
    for (int64_t p = 0; p < P; p++) {
        float *gp = x->grad + p * S, gv = n->grad[p] * inv;
        #pragma omp simd
        for (int64_t k = 0; k < S; k++) gp[k] += gv;
    }
}

static ft_status gap_forward_ref(ft_node *n) {
    const ft_node *x = n->in[0];
    int64_t S = x->shape[2] * x->shape[3];
    for (int64_t p = 0; p < n->numel; p++) {
        double s = 0;
        for (int64_t k = 0; k < S; k++) s += x->val[p * S + k];
        n->val[p] = (float)(s / (double)S);
    }
    return FT_OK;
}

static void gap_backward_ref(ft_node *n) {
    ft_node *x = n->in[0];
    int64_t S = x->shape[2] * x->shape[3];
    for (int64_t p = 0; p < n->numel; p++)
        for (int64_t k = 0; k < S; k++) x->grad[p * S + k] += (float)((double)n->grad[p] / (double)S);
}

/* ---------------- pad2d ---------------- iarg[0..3] = top, left, bottom, right; farg[0] = value. */

ft_node *ft_pad2d(ft_graph *g, ft_node *x, const int pad[4], float value) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (!pad) return ft_graph_fail(g, FT_EINVAL, "pad2d: no padding given");
    if (x->ndim < 2 || x->dtype != FT_F32) return ft_graph_fail(g, FT_ESHAPE, "pad2d: input must be float32 [..., H, W]");
    for (int i = 0; i < 4; i++)
        if (pad[i] < 0) return ft_graph_fail(g, FT_EINVAL, "pad2d: padding %d,%d,%d,%d must be >= 0", pad[0], pad[1], pad[2], pad[3]);
    int64_t shape[FT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 2] += pad[0] + pad[2];
    shape[x->ndim - 1] += pad[1] + pad[3];
    ft_node *n = ft_node_new(g, FT_OP_PAD2D, 1, &x, x->ndim, shape);
    if (n) {
        for (int i = 0; i < 4; i++) n->iarg[i] = pad[i];
        n->farg[0] = value;
    }
    return n;
}

typedef struct { int64_t P, H, W, Ho, Wo, pt, pl; } pad_dims;
static pad_dims pad_get(const ft_node *n) {
    const ft_node *x = n->in[0];
    pad_dims d = {0, x->shape[x->ndim - 2], x->shape[x->ndim - 1], n->shape[n->ndim - 2], n->shape[n->ndim - 1],
                  n->iarg[0], n->iarg[1]};
    d.P = d.Ho * d.Wo > 0 ? n->numel / (d.Ho * d.Wo) : 0;
    return d;
}

static ft_status pad_forward(ft_node *n) {
    pad_dims d = pad_get(n);
    const float *x = n->in[0]->val;
    float v = n->farg[0];
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t h = 0; h < d.Ho; h++) {
            float *yr = n->val + (p * d.Ho + h) * d.Wo;
            int64_t hi = h - d.pt;
            if (hi < 0 || hi >= d.H) {
                for (int64_t w = 0; w < d.Wo; w++) yr[w] = v;
                continue;
            }
            for (int64_t w = 0; w < d.pl; w++) yr[w] = v;
            memcpy(yr + d.pl, x + (p * d.H + hi) * d.W, (size_t)d.W * sizeof(float));
            for (int64_t w = d.pl + d.W; w < d.Wo; w++) yr[w] = v;
        }
    return FT_OK;
}

static void pad_backward(ft_node *n) {
    pad_dims d = pad_get(n);
    float *gx = n->in[0]->grad;
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t h = 0; h < d.H; h++) {
            const float *gy = n->grad + (p * d.Ho + h + d.pt) * d.Wo + d.pl;
            float *gr = gx + (p * d.H + h) * d.W;
            #pragma omp simd
            for (int64_t w = 0; w < d.W; w++) gr[w] += gy[w];
        }
}

static ft_status pad_forward_ref(ft_node *n) {
    pad_dims d = pad_get(n);
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t h = 0; h < d.Ho; h++)
            for (int64_t w = 0; w < d.Wo; w++) {
                int64_t hi = h - d.pt, wi = w - d.pl;
                bool in = hi >= 0 && hi < d.H && wi >= 0 && wi < d.W;
                n->val[(p * d.Ho + h) * d.Wo + w] = in ? n->in[0]->val[(p * d.H + hi) * d.W + wi] : n->farg[0];
            }
    return FT_OK;
}

static void pad_backward_ref(ft_node *n) {
    pad_dims d = pad_get(n);
    for (int64_t p = 0; p < d.P; p++)
        for (int64_t h = 0; h < d.Ho; h++)
            for (int64_t w = 0; w < d.Wo; w++) {
                int64_t hi = h - d.pt, wi = w - d.pl;
                if (hi >= 0 && hi < d.H && wi >= 0 && wi < d.W)
                    n->in[0]->grad[(p * d.H + hi) * d.W + wi] += n->grad[(p * d.Ho + h) * d.Wo + w];
            }
}

const ft_op_def ft_def_max_pool2d = {"max_pool2d", maxpool_forward, maxpool_backward, maxpool_forward_ref,
                                     maxpool_backward_ref, maxpool_saves, maxpool_aux};
const ft_op_def ft_def_avg_pool2d = {"avg_pool2d", avgpool_forward, avgpool_backward, avgpool_forward_ref,
                                     avgpool_backward_ref, save_none, NULL};
const ft_op_def ft_def_global_avg_pool = {"global_avg_pool", gap_forward, gap_backward, gap_forward_ref,
                                          gap_backward_ref, save_none, NULL};
const ft_op_def ft_def_pad2d = {"pad2d", pad_forward, pad_backward, pad_forward_ref, pad_backward_ref, save_none, NULL};
