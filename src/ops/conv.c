/* 2-D convolution: x [N,C,H,W] (NCHW) * w [O, C/G, kh, kw] (OIHW) + b [O] -> y [N,O,Ho,Wo].
 *
 * Four fast paths, one naive reference:
 *  - GEMM: a chunk of nb images is unfolded (im2col) into col [C*kh*kw, nb*Ho*Wo] in the
 *    node's scratch, then per group y = W col (sgemm). nb > 1 only when a plane is small
 *    (deep layers: 7x7, 14x14), so sgemm sees >= ~1024 columns; the product then lands in a
 *    scratch [O, nb*Ho*Wo] and is scattered to NCHW. Backward: dW += dy col^T (same im2col),
 *    dcol = W^T dy then col2im into dx. Either half is skipped when its gradient is pruned.
 *  - 1x1, stride 1, no padding with nb == 1: x itself is the column matrix (no im2col).
 *  - Winograd F(2x2, 3x3) for 3x3, stride 1, dilation 1, groups 1 (planes up to 1024, and at
 *    least 80% of the 2x2 tiles' outputs real): forward and dX as 16 sgemm calls each over
 *    transformed tiles (below); dW stays on the im2col GEMM, which is more accurate in float
 *    (the Winograd dW sums over all tiles in the transform domain and then cancels: 5e-4
 *    relative error on 32x32 planes, against 1e-5 for im2col).
 *  - depthwise (groups == C == O): a direct kernel on phase-split padded planes (below),
 *    OpenMP over (n, c) planes forward and over c backward (dx and dw of a channel belong
 *    to one thread), contiguous vector loops inside.
 *  - reference: plain nested loops in double, every case (depthwise included).
 * BLAS is called from serial code only; im2col/col2im/scatter are OpenMP loops.
 *
 * iarg[0..3] = pad top, left, bottom, right; iarg[4] = stride_h << 16 | stride_w;
 * iarg[5] = dilation_h << 16 | dilation_w; iarg[6] = groups; iarg[7] = has bias. */
#include "ops/ops.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#define CONV_MAX_ARG 32767      /* stride and dilation are packed in 16 bits */
#define CONV_MAX_DIM (1 << 20)  /* any one dimension of x or w */
#define CONV_TARGET_COLS 1024   /* sgemm columns wanted per chunk */
#define CONV_SCRATCH_CAP (1 << 22) /* floats (16 MiB) of columns before nb stops growing */

typedef struct {
    int64_t N, C, H, W, O, kh, kw, Ho, Wo, HW;
    int64_t sh, sw, dh, dw, pt, pl, pb, pr;
    int64_t G, Cg, Og, Kg; /* groups; per group: in channels, out channels, Cg*kh*kw */
    int64_t nb;            /* images per GEMM chunk */
    int64_t nbw;           /* Winograd: images per transform chunk */
    int64_t th, tw;        /* Winograd: 2x2 output tiles per column / row of a plane */
    bool bias, depthwise, direct, wino;
} conv_dims;

ft_conv2d_args ft_conv2d_defaults(void) {
    return (ft_conv2d_args){.stride = {1, 1}, .pad = {0, 0, 0, 0}, .dilation = {1, 1}, .groups = 1};
}

#define WINO_TARGET_T 1024       /* Winograd: tiles (GEMM columns) wanted per chunk */
#define WINO_SCRATCH_CAP (1 << 23) /* floats of V + M per chunk before nb stops growing */
#define WINO_MAX_PLANE 1024       /* Ho and Wo at most this (per-thread padded plane buffers) */

static int64_t wino_chunk(const conv_dims *d) {
    int64_t tpi = d->th * d->tw, nb = (WINO_TARGET_T + tpi - 1) / tpi;
    if (nb > d->N) nb = d->N;
    while (nb > 1 && 16 * (d->C + d->O) * nb * tpi > WINO_SCRATCH_CAP) nb--;
    return nb < 1 ? 1 : nb;
}

static int64_t conv_chunk(const conv_dims *d) {
    int64_t nb = (CONV_TARGET_COLS + d->HW - 1) / d->HW;
    if (nb > d->N) nb = d->N;
    while (nb > 1 && (d->C * d->kh * d->kw + d->O) * nb * d->HW > CONV_SCRATCH_CAP) nb--;
    return nb < 1 ? 1 : nb;
}

static conv_dims conv_get(const ft_node *n) {
    const ft_node *x = n->in[0], *w = n->in[1];
    conv_dims d;
    bool one = x->ndim == 3; /* conv1d: [N,C,L] is [N,C,1,L] on the same buffer */
    d.N = x->shape[0]; d.C = x->shape[1]; d.H = one ? 1 : x->shape[2]; d.W = x->shape[x->ndim - 1];
    d.O = w->shape[0]; d.kh = one ? 1 : w->shape[2]; d.kw = w->shape[w->ndim - 1];
    d.Ho = one ? 1 : n->shape[2]; d.Wo = n->shape[n->ndim - 1]; d.HW = d.Ho * d.Wo;
    d.pt = n->iarg[0]; d.pl = n->iarg[1]; d.pb = n->iarg[2]; d.pr = n->iarg[3];
    d.sh = n->iarg[4] >> 16; d.sw = n->iarg[4] & 0xffff;
    d.dh = n->iarg[5] >> 16; d.dw = n->iarg[5] & 0xffff;
    d.G = n->iarg[6]; d.bias = n->iarg[7];
    d.Cg = d.C / d.G; d.Og = d.O / d.G; d.Kg = d.Cg * d.kh * d.kw;
    d.depthwise = d.G == d.C && d.O == d.C && d.G > 1;
    d.direct = d.kh == 1 && d.kw == 1 && d.sh == 1 && d.sw == 1 && !d.pt && !d.pl && !d.pb && !d.pr;
    d.th = (d.Ho + 1) / 2;
    d.tw = (d.Wo + 1) / 2;
    d.wino = d.kh == 3 && d.kw == 3 && d.sh == 1 && d.sw == 1 && d.dh == 1 && d.dw == 1 && d.G == 1 &&
             d.Ho <= WINO_MAX_PLANE && d.Wo <= WINO_MAX_PLANE && 5 * d.HW >= 16 * d.th * d.tw;
    /* ^ and >= 80% of the 2x2 tiles' outputs are real: not 7x7, 5x5 or 3x3 planes */
    d.nb = conv_chunk(&d);
    d.nbw = d.wino ? wino_chunk(&d) : 1;
    return d;
}

static int64_t conv_scratch(const conv_dims *d);

/* conv2d, or conv1d (one_d: x [N,C,L], w [O,C/G,k] taken as H = kh = 1; the node keeps the
 * 3-D shapes and conv_get reads them so, on the same buffers). */
static ft_node *conv_build(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv2d_args *a, bool one_d) {
    ft_node *in[3] = {x, w, b};
    const char *op = one_d ? "conv1d" : "conv2d";
    char sx[64], sw[64];
    ft_shape_str(x, sx, sizeof sx);
    ft_shape_str(w, sw, sizeof sw);
    if (x->dtype != FT_F32 || w->dtype != FT_F32 || (b && b->dtype != FT_F32))
        return ft_graph_fail(g, FT_EINVAL, "%s '%s': operands must be float32", op, w->name);
    if (!one_d && (x->ndim != 4 || w->ndim != 4))
        return ft_graph_fail(g, FT_ESHAPE, "conv2d '%s': input %s and weight %s must be 4-D (NCHW, OIHW)", w->name, sx, sw);
    if (one_d && (x->ndim != 3 || w->ndim != 3))
        return ft_graph_fail(g, FT_ESHAPE, "conv1d '%s': input %s and weight %s must be 3-D ([N,C,L], [O,C/groups,k])", w->name, sx, sw);
    /* xs, ws: the 4-D view (conv1d: H = kh = 1) */
    int64_t xs[4] = {x->shape[0], x->shape[1], one_d ? 1 : x->shape[2], x->shape[x->ndim - 1]};
    int64_t ws[4] = {w->shape[0], w->shape[1], one_d ? 1 : w->shape[2], w->shape[w->ndim - 1]};
    int G = a->groups;
    if (G < 1 || xs[1] % G || ws[0] % G || ws[1] * G != xs[1])
        return ft_graph_fail(g, FT_ESHAPE, "%s '%s': input %s, weight %s and groups=%d do not fit", op, w->name, sx,
                             sw, G);
    for (int i = 0; i < 2; i++)
        if (a->stride[i] < 1 || a->stride[i] > CONV_MAX_ARG || a->dilation[i] < 1 || a->dilation[i] > CONV_MAX_ARG)
            return ft_graph_fail(g, FT_EINVAL, "%s '%s': stride %dx%d / dilation %dx%d out of range [1, %d]",
                                 op, w->name, a->stride[0], a->stride[1], a->dilation[0], a->dilation[1], CONV_MAX_ARG);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0) return ft_graph_fail(g, FT_EINVAL, "%s '%s': negative padding", op, w->name);
    if (b && (b->ndim != 1 || b->shape[0] != ws[0]))
        return ft_graph_fail(g, FT_ESHAPE, "%s '%s': bias '%s' must have shape [%lld]", op, w->name, b->name,
                             (long long)ws[0]);
    /* Sizes from model files: keep every product below, and each sgemm dimension, in range. */
    const int64_t lim = CONV_MAX_DIM;
    for (int i = 1; i < 4; i++)
        if (xs[i] < 1 || xs[i] > lim || ws[i] < 1 || ws[i] > lim)
            return ft_graph_fail(g, FT_ESHAPE, "%s '%s': input %s / weight %s: dimensions must be in [1, %lld]",
                                 op, w->name, sx, sw, (long long)lim);
    if (ws[0] < 1 || ws[0] > lim || xs[0] > lim)
        return ft_graph_fail(g, FT_ESHAPE, "%s '%s': weight %s / batch out of range", op, w->name, sw);
    int64_t eh = (int64_t)a->dilation[0] * (ws[2] - 1) + 1, ew = (int64_t)a->dilation[1] * (ws[3] - 1) + 1;
    int64_t hp = xs[2] + a->pad[0] + a->pad[2], wp = xs[3] + a->pad[1] + a->pad[3];
    if (ws[2] < 1 || ws[3] < 1 || hp < eh || wp < ew)
        return ft_graph_fail(g, FT_ESHAPE, "%s '%s': kernel %s larger than the padded input %s", op, w->name, sw, sx);
    int64_t shape[4] = {xs[0], ws[0], (hp - eh) / a->stride[0] + 1, (wp - ew) / a->stride[1] + 1};
    if (one_d) shape[2] = shape[3];
    ft_node *n = ft_node_new(g, FT_OP_CONV2D, b ? 3 : 2, in, one_d ? 3 : 4, shape);
    if (!n) return NULL;
    for (int i = 0; i < 4; i++) n->iarg[i] = a->pad[i];
    n->iarg[4] = a->stride[0] << 16 | a->stride[1];
    n->iarg[5] = a->dilation[0] << 16 | a->dilation[1];
    n->iarg[6] = G;
    n->iarg[7] = b != NULL;
    conv_dims d = conv_get(n);
    if (d.Kg * d.Og > INT32_MAX || d.Kg * d.nb * d.HW > INT32_MAX || d.C * d.kh * d.kw * d.nb * d.HW > ((int64_t)1 << 40))
        return ft_graph_fail(g, FT_ESHAPE, "%s '%s': input %s with weight %s is too large", op, w->name, sx, sw);
    n->scratch_numel = conv_scratch(&d);
    return n;
}

ft_node *ft_conv2d(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv2d_args *a) {
    ft_node *in[3] = {x, w, b};
    if (!ft_graph_ok(g, b ? 3 : 2, in)) return NULL;
    ft_conv2d_args def = ft_conv2d_defaults();
    return conv_build(g, x, w, b, a ? a : &def, false);
}

ft_node *ft_conv1d(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv1d_args *a) {
    ft_node *in[3] = {x, w, b};
    if (!ft_graph_ok(g, b ? 3 : 2, in)) return NULL;
    ft_conv2d_args c = ft_conv2d_defaults();
    if (a) {
        c.stride[1] = a->stride;
        c.dilation[1] = a->dilation;
        c.pad[1] = a->pad[0];
        c.pad[3] = a->pad[1];
        c.groups = a->groups;
    }
    return conv_build(g, x, w, b, &c, true);
}

/* Output columns [wo0, wo1) whose input column wo*s + off lies in [0, W). */
static inline void valid_range(int64_t W, int64_t Wo, int64_t s, int64_t off, int64_t *wo0, int64_t *wo1) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = W - off <= 0 ? 0 : (W - off + s - 1) / s;
    if (a > Wo) a = Wo;
    if (b > Wo) b = Wo;
    if (b < a) b = a;
    *wo0 = a;
    *wo1 = b;
}

/* col [C*kh*kw, nbk*HW] from images x[0..nbk). Row (c,i,j), column (image, ho, wo). */
static void im2col(const conv_dims *d, const float *x, int64_t nbk, float *col) {
    int64_t R = d->C * d->kh * d->kw, cols = nbk * d->HW;
    #pragma omp parallel for collapse(2) if (R * cols > FT_PAR_MIN)
    for (int64_t r = 0; r < R; r++)
        for (int64_t bi = 0; bi < nbk; bi++) {
            int64_t c = r / (d->kh * d->kw), i = (r / d->kw) % d->kh, j = r % d->kw;
            const float *xp = x + (bi * d->C + c) * d->H * d->W;
            float *dst = col + r * cols + bi * d->HW;
            int64_t off = j * d->dw - d->pl, wo0, wo1;
            valid_range(d->W, d->Wo, d->sw, off, &wo0, &wo1);
            for (int64_t ho = 0; ho < d->Ho; ho++) {
                int64_t hi = ho * d->sh - d->pt + i * d->dh;
                float *dr = dst + ho * d->Wo;
                if (hi < 0 || hi >= d->H) { memset(dr, 0, (size_t)d->Wo * sizeof(float)); continue; }
                const float *xr = xp + hi * d->W;
                for (int64_t wo = 0; wo < wo0; wo++) dr[wo] = 0.0f;
                if (d->sw == 1) memcpy(dr + wo0, xr + wo0 + off, (size_t)(wo1 - wo0) * sizeof(float));
                else
                    for (int64_t wo = wo0; wo < wo1; wo++) dr[wo] = xr[wo * d->sw + off];
                for (int64_t wo = wo1; wo < d->Wo; wo++) dr[wo] = 0.0f;
            }
        }
}

/* dx[0..nbk) += col2im(col): the adjoint of im2col. Parallel over (image, channel)
 * planes; a plane is only written by its own channel's rows. */
static void col2im_add(const conv_dims *d, const float *col, int64_t nbk, float *dx) {
    int64_t cols = nbk * d->HW;
    #pragma omp parallel for collapse(2) if (d->C * d->kh * d->kw * cols > FT_PAR_MIN)
    for (int64_t bi = 0; bi < nbk; bi++)
        for (int64_t c = 0; c < d->C; c++) {
            float *dxp = dx + (bi * d->C + c) * d->H * d->W;
            for (int64_t i = 0; i < d->kh; i++)
                for (int64_t j = 0; j < d->kw; j++) {
                    const float *src = col + ((c * d->kh + i) * d->kw + j) * cols + bi * d->HW;
                    int64_t off = j * d->dw - d->pl, wo0, wo1;
                    valid_range(d->W, d->Wo, d->sw, off, &wo0, &wo1);
                    for (int64_t ho = 0; ho < d->Ho; ho++) {
                        int64_t hi = ho * d->sh - d->pt + i * d->dh;
                        if (hi < 0 || hi >= d->H) continue;
                        float *dr = dxp + hi * d->W;
                        const float *sr = src + ho * d->Wo;
                        if (d->sw == 1) {
                            #pragma omp simd
                            for (int64_t wo = wo0; wo < wo1; wo++) dr[wo + off] += sr[wo];
                        } else {
                            for (int64_t wo = wo0; wo < wo1; wo++) dr[wo * d->sw + off] += sr[wo];
                        }
                    }
                }
        }
}

/* ---------------- depthwise (groups == C == O) ----------------
 * Per (image, channel) plane, the zero-padded input is split into sh*sw phase planes
 * P[p][q][r][c] = xpad[r*sh + p][c*sw + q], each Hq x Wq. Tap (i, j) reads phase
 * ((i*dh) % sh, (j*dw) % sw) shifted by off_t = ((i*dh) / sh) * Wq + (j*dw) / sw, so for every
 * stride and dilation the output, flattened with row stride Wq, is a sum of contiguous
 * shifted vectors (columns wo >= Wo are junk, dropped when copying out):
 *   forward  yq[k] = b + sum_t w_t * P_t[k + off_t]                     k < Ho*Wq
 *   dW       dw_t += sum_k dyq[k] * P_t[k + off_t]          (dyq: dy with zero junk columns)
 *   dX       dP_ph[k] = sum_{t in phase ph} w_t * dyE[k + M - off_t]    k < Hq*Wq
 * where dyE is dyq behind M = max off_t zeros: the transposed conv as a gather, so every
 * output is written once. dP then goes back to dx (the padding positions dropped). 3x3
 * taps are fused into one vector pass. Each thread works in its own slot of the node
 * scratch (slots = threads at build time). */

#define DW_MAX_FUSED 9
#define DW_TAB 128 /* taps with precomputed offsets (larger kernels compute them per use) */

typedef struct {
    int64_t Hq, Wq;  /* phase plane */
    int64_t PS;      /* floats per phase plane, with slack for the largest shift */
    int64_t L;       /* Ho * Wq */
    int64_t M;       /* largest tap shift */
    int64_t slot;    /* floats per thread */
    int64_t T;       /* taps */
    int32_t ph[DW_TAB], sh[DW_TAB]; /* tap t: phase plane index, shift inside it */
} dw_geom;

static inline int64_t dw_tap_phase(const conv_dims *d, const dw_geom *q, int64_t t) {
    if (t < DW_TAB) return q->ph[t];
    int64_t i = t / d->kw, j = t % d->kw;
    return ((i * d->dh) % d->sh) * d->sw + (j * d->dw) % d->sw;
}
static inline int64_t dw_tap_shift(const conv_dims *d, const dw_geom *q, int64_t t) {
    if (t < DW_TAB) return q->sh[t];
    int64_t i = t / d->kw, j = t % d->kw;
    return ((i * d->dh) / d->sh) * q->Wq + (j * d->dw) / d->sw;
}

/* Slot layout: x phases [nph*PS] | dx phases or forward temp [nph*PS] | dyE or yq [tail]
 * | temp [Hq*Wq] for summing taps beyond 9 into a phase | a row [sw*Wq] when sw > 1. */
static dw_geom dw_get(const conv_dims *d) {
    dw_geom q;
    int64_t Hp = d->H + d->pt + d->pb, Wp = d->W + d->pl + d->pr;
    q.Hq = (Hp + d->sh - 1) / d->sh;
    q.Wq = (Wp + d->sw - 1) / d->sw;
    q.M = ((d->kh - 1) * d->dh / d->sh) * q.Wq + (d->kw - 1) * d->dw / d->sw;
    q.PS = (q.Hq * q.Wq + (d->kw - 1) * d->dw / d->sw + 15) / 16 * 16;
    q.L = d->Ho * q.Wq;
    q.T = d->kh * d->kw;
    int64_t tail = q.M + q.Hq * q.Wq > q.L ? q.M + q.Hq * q.Wq : q.L;
    q.slot = (2 * d->sh * d->sw * q.PS + tail + (q.T > DW_MAX_FUSED ? q.Hq * q.Wq : 0) + (d->sw > 1 ? d->sw * q.Wq : 0) +
              15) / 16 * 16;
    for (int64_t t = 0; t < q.T && t < DW_TAB; t++) {
        int64_t i = t / d->kw, j = t % d->kw;
        q.ph[t] = (int32_t)(((i * d->dh) % d->sh) * d->sw + (j * d->dw) % d->sw);
        q.sh[t] = (int32_t)(((i * d->dh) / d->sh) * q.Wq + (j * d->dw) / d->sw);
    }
    return q;
}

/* Phase planes of one input plane xp [H, W]. Only real positions are written: the slot
 * is zeroed once per call, so the padding positions stay zero. */
static void dw_phases(const conv_dims *d, const dw_geom *q, const float *xp, float *ph) {
    for (int64_t p = 0; p < d->sh; p++)
        for (int64_t pq = 0; pq < d->sw; pq++) {
            float *P = ph + (p * d->sw + pq) * q->PS;
            int64_t off = pq - d->pl, c0, c1;
            valid_range(d->W, q->Wq, d->sw, off, &c0, &c1);
            for (int64_t r = 0; r < q->Hq; r++) {
                int64_t h = r * d->sh + p - d->pt;
                if (h < 0 || h >= d->H) continue;
                float *row = P + r * q->Wq;
                const float *xr = xp + h * d->W + off; /* read at c * sw, c in [c0, c1) */
                if (d->sw == 1) memcpy(row + c0, xr + c0, (size_t)(c1 - c0) * sizeof(float));
                else if (d->sw == 2) {
                    #pragma omp simd
                    for (int64_t c = c0; c < c1; c++) row[c] = xr[2 * c];
                } else {
                    for (int64_t c = c0; c < c1; c++) row[c] = xr[c * d->sw];
                }
            }
        }
}

/* dx plane [H, W] += the phase planes' entries at real (not padding) positions. With
 * sw > 1 the column phases of a row are first interleaved into row (sw*Wq floats), so
 * both loops stay contiguous. */
static void dw_unphase_add(const conv_dims *d, const dw_geom *q, const float *ph, float *dxp, float *row) {
    for (int64_t p = 0; p < d->sh; p++)
        for (int64_t r = 0; r < q->Hq; r++) {
            int64_t h = r * d->sh + p - d->pt;
            if (h < 0 || h >= d->H) continue;
            float *dr = dxp + h * d->W;
            const float *src = ph + p * d->sw * q->PS + r * q->Wq;
            if (d->sw == 2) {
                const float *a = src, *b = src + q->PS;
                #pragma omp simd
                for (int64_t c = 0; c < q->Wq; c++) { row[2 * c] = a[c]; row[2 * c + 1] = b[c]; }
                src = row;
            } else if (d->sw > 2) {
                for (int64_t pq = 0; pq < d->sw; pq++)
                    for (int64_t c = 0; c < q->Wq; c++) row[c * d->sw + pq] = src[pq * q->PS + c];
                src = row;
            }
            src += d->pl; /* padded column w + pl holds dx column w */
            #pragma omp simd
            for (int64_t w = 0; w < d->W; w++) dr[w] += src[w];
        }
}

/* out[k] = b + sum_t w[t] * src[t][k] for k < L: 9 taps (3x3) in one fused vector pass,
 * otherwise one pass per tap. */
static void taps_sum(float *restrict out, int64_t L, const float *const *src, const float *w, int T, float b) {
    if (T == 9) {
        const float *restrict p0 = src[0], *restrict p1 = src[1], *restrict p2 = src[2], *restrict p3 = src[3],
                              *restrict p4 = src[4], *restrict p5 = src[5], *restrict p6 = src[6],
                              *restrict p7 = src[7], *restrict p8 = src[8];
        float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
        #pragma omp simd
        for (int64_t k = 0; k < L; k++)
            out[k] = b + w0 * p0[k] + w1 * p1[k] + w2 * p2[k] + w3 * p3[k] + w4 * p4[k] + w5 * p5[k] + w6 * p6[k] +
                     w7 * p7[k] + w8 * p8[k];
        return;
    }
    #pragma omp simd
    for (int64_t k = 0; k < L; k++) out[k] = b;
    for (int t = 0; t < T; t++) {
        const float *restrict p = src[t];
        float wv = w[t];
        #pragma omp simd
        for (int64_t k = 0; k < L; k++) out[k] += wv * p[k];
    }
}

/* acc[t] += sum_k a[k] * src[t][k] for k < L (9 taps fused). */
static void taps_dot(double *acc, int64_t L, const float *restrict a, const float *const *src, int T) {
    if (T == 9) {
        const float *restrict p0 = src[0], *restrict p1 = src[1], *restrict p2 = src[2], *restrict p3 = src[3],
                              *restrict p4 = src[4], *restrict p5 = src[5], *restrict p6 = src[6],
                              *restrict p7 = src[7], *restrict p8 = src[8];
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0;
        #pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7, s8)
        for (int64_t k = 0; k < L; k++) {
            float v = a[k];
            s0 += v * p0[k]; s1 += v * p1[k]; s2 += v * p2[k]; s3 += v * p3[k]; s4 += v * p4[k];
            s5 += v * p5[k]; s6 += v * p6[k]; s7 += v * p7[k]; s8 += v * p8[k];
        }
        acc[0] += s0; acc[1] += s1; acc[2] += s2; acc[3] += s3; acc[4] += s4;
        acc[5] += s5; acc[6] += s6; acc[7] += s7; acc[8] += s8;
        return;
    }
    for (int t = 0; t < T; t++) {
        const float *restrict p = src[t];
        float s = 0.0f;
        #pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < L; k++) s += a[k] * p[k];
        acc[t] += s;
    }
}

static void dw_plane_forward(const conv_dims *d, const dw_geom *q, const float *xp, const float *wc, float b,
                             float *yp, float *buf) {
    int64_t nph = d->sh * d->sw;
    float *ph = buf, *yq = buf + 2 * nph * q->PS, *tmp = buf + nph * q->PS;
    dw_phases(d, q, xp, ph);
    for (int64_t t0 = 0; t0 < q->T; t0 += DW_MAX_FUSED) { /* taps in groups of 9; later groups add */
        int T = (int)(q->T - t0 < DW_MAX_FUSED ? q->T - t0 : DW_MAX_FUSED);
        const float *src[DW_MAX_FUSED];
        for (int t = 0; t < T; t++) src[t] = ph + dw_tap_phase(d, q, t0 + t) * q->PS + dw_tap_shift(d, q, t0 + t);
        if (t0 == 0) taps_sum(yq, q->L, src, wc, T, b);
        else {
            taps_sum(tmp, q->L, src, wc + t0, T, 0.0f);
            #pragma omp simd
            for (int64_t k = 0; k < q->L; k++) yq[k] += tmp[k];
        }
    }
    for (int64_t ho = 0; ho < d->Ho; ho++) memcpy(yp + ho * d->Wo, yq + ho * q->Wq, (size_t)d->Wo * sizeof(float));
}

static void dw_forward(const ft_node *n, const conv_dims *d, const float *x, const float *w, const float *b, float *y) {
    dw_geom q = dw_get(d);
    int slots = (int)(n->scratch_numel / q.slot); /* threads at build time */
    if (slots < 1) slots = 1;
    #pragma omp parallel num_threads(slots) if (d->N * d->C * q.L * q.T > FT_PAR_MIN)
    {
        float *buf = n->scratch + omp_get_thread_num() * q.slot;
        memset(buf, 0, (size_t)q.slot * sizeof(float));
        #pragma omp for schedule(static)
        for (int64_t pc = 0; pc < d->N * d->C; pc++) {
            int64_t c = pc % d->C;
            dw_plane_forward(d, &q, x + pc * d->H * d->W, w + c * q.T, b ? b[c] : 0.0f, y + pc * d->HW, buf);
        }
    }
}

/* One channel over all images: its dx and dw belong to this thread alone. The slot is
 * zero on entry (padding positions of the x phases, dyE's prefix and junk columns). */
static void dw_channel_backward(const conv_dims *d, const dw_geom *q, int64_t c, const float *x, const float *w,
                                const float *dy, float *dx, float *dwt, float *buf) {
    int64_t nph = d->sh * d->sw, HWq = q->Hq * q->Wq;
    float *ph = buf, *dph = buf + nph * q->PS, *dyE = buf + 2 * nph * q->PS, *dyq = dyE + q->M;
    float *tmp = dyE + (q->M + HWq > q->L ? q->M + HWq : q->L);
    const float *wc = w + c * q->T;
    double acc[DW_TAB] = {0}; /* per-tap dW over the images (kernels beyond DW_TAB taps add per image) */
    bool big = q->T > DW_TAB;
    for (int64_t i = 0; i < d->N; i++) {
        int64_t pc = i * d->C + c;
        const float *dyp = dy + pc * d->HW;
        for (int64_t ho = 0; ho < d->Ho; ho++) memcpy(dyq + ho * q->Wq, dyp + ho * d->Wo, (size_t)d->Wo * sizeof(float));
        if (dwt) {
            dw_phases(d, q, x + pc * d->H * d->W, ph);
            for (int64_t t0 = 0; t0 < q->T; t0 += DW_MAX_FUSED) {
                int T = (int)(q->T - t0 < DW_MAX_FUSED ? q->T - t0 : DW_MAX_FUSED);
                const float *src[DW_MAX_FUSED];
                double part[DW_MAX_FUSED] = {0};
                for (int t = 0; t < T; t++) src[t] = ph + dw_tap_phase(d, q, t0 + t) * q->PS + dw_tap_shift(d, q, t0 + t);
                taps_dot(big ? part : acc + t0, q->L, dyq, src, T);
                if (big)
                    for (int t = 0; t < T; t++) dwt[c * q->T + t0 + t] += (float)part[t];
            }
        }
        if (dx) {
            for (int64_t p = 0; p < nph; p++) { /* each phase plane gathers from its own taps */
                const float *src[DW_MAX_FUSED];
                float wt[DW_MAX_FUSED];
                float *out = dph + p * q->PS;
                int T = 0;
                bool first = true;
                for (int64_t t = 0; t <= q->T; t++) {
                    if (t < q->T) {
                        if (dw_tap_phase(d, q, t) != p) continue;
                        src[T] = dyE + q->M - dw_tap_shift(d, q, t);
                        wt[T++] = wc[t];
                        if (T < DW_MAX_FUSED) continue;
                    }
                    if (first) taps_sum(out, HWq, src, wt, T, 0.0f); /* also zeroes a phase without taps */
                    else if (T) {
                        taps_sum(tmp, HWq, src, wt, T, 0.0f);
                        #pragma omp simd
                        for (int64_t k = 0; k < HWq; k++) out[k] += tmp[k];
                    }
                    first = false;
                    T = 0;
                }
            }
            dw_unphase_add(d, q, dph, dx + pc * d->H * d->W, tmp + (q->T > DW_MAX_FUSED ? HWq : 0));
        }
    }
    if (dwt && !big)
        for (int64_t t = 0; t < q->T; t++) dwt[c * q->T + t] += (float)acc[t];
}

static void dw_backward(const ft_node *n, const conv_dims *d, const float *x, const float *w, const float *dy, float *dx,
                        float *dwt) {
    dw_geom q = dw_get(d);
    int slots = (int)(n->scratch_numel / q.slot); /* threads at build time */
    if (slots < 1) slots = 1;
    #pragma omp parallel num_threads(slots) if (d->N * d->C * q.L * q.T > FT_PAR_MIN)
    {
        float *buf = n->scratch + omp_get_thread_num() * q.slot;
        memset(buf, 0, (size_t)q.slot * sizeof(float));
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < d->C; c++) dw_channel_backward(d, &q, c, x, w, dy, dx, dwt, buf);
    }
}

/* ---------------- Winograd F(2x2, 3x3) (3x3, stride 1, dilation 1, groups 1) ----------------
 * Lavin & Gray's minimal filtering: each 2x2 output tile is A^T [(G g G^T) . (B^T d B)] A
 * with d the 4x4 input tile (tiles overlap by 2), so a conv is 16 independent GEMMs, one per
 * transform point p, over tiles T = (images in the chunk) * th * tw:
 *   forward  M_p [O,T]  = U_p [O,C] V_p [C,T]        U = G g G^T, V = B^T d B, y = A^T M A
 *   dW       dU_p [O,C] += dM_p [O,T] V_p^T           dM = A dy A^T, then dg += G^T dU G
 *   dX       dV_p [C,T] = U_p^T dM_p                  then dx += B dV B^T (overlapping tiles)
 * Each is the adjoint of a forward transform, so dW and dX are exact gradients of the same
 * arithmetic. 9 multiplies per output become 4 (plus transforms, and up to one junk row and
 * column of tiles on odd planes). Layouts are point-major: V [16][C][T], M [16][O][T],
 * U [16][O][C]. Input planes are first copied into a zero-bordered per-thread buffer
 * (Hp2 x Wp2 = (2th+2) x (2tw+2)), so the tile loops have no bounds checks; dX accumulates a
 * plane's tiles the same way and adds the real positions to dx. Transforms are OpenMP loops
 * over (image, channel) planes; the 16 sgemm calls run serially (BLAS threads them). */

typedef struct {
    int64_t Hp2, Wp2, PP;   /* padded plane buffer and its floats (rounded up) */
    int64_t tpi, Tmax;      /* tiles per image, per chunk */
    float *U, *V, *M, *planes;
    int slots;
} wino_buf;

/* Per-thread buffer: the padded plane (Hp2 rows of E and O columns, 2*(tw+1) floats each) and
 * 16*(tw+1) floats of row temporaries. */
static int64_t wino_plane_floats(const conv_dims *d) {
    return ((2 * d->th + 2) * (2 * d->tw + 2) + 16 * (d->tw + 1) + 15) / 16 * 16;
}

static int64_t wino_scratch(const conv_dims *d) {
    int threads = ft_get_num_threads();
    if (threads < 1) threads = 1;
    int64_t tmax = d->nbw * d->th * d->tw;
    return 16 * d->O * d->C + 16 * (d->C + d->O) * tmax + threads * wino_plane_floats(d);
}

static wino_buf wino_get(const ft_node *n, const conv_dims *d) {
    wino_buf b;
    b.Hp2 = 2 * d->th + 2;
    b.Wp2 = 2 * d->tw + 2;
    b.PP = wino_plane_floats(d);
    b.tpi = d->th * d->tw;
    b.Tmax = d->nbw * b.tpi;
    b.U = n->scratch;
    b.V = b.U + 16 * d->O * d->C;
    b.M = b.V + 16 * d->C * b.Tmax;
    b.planes = b.M + 16 * d->O * b.Tmax;
    int64_t fixed = 16 * d->O * d->C + 16 * (d->C + d->O) * b.Tmax;
    b.slots = (int)((n->scratch_numel - fixed) / b.PP); /* threads at build time */
    if (b.slots < 1) b.slots = 1;
    return b;
}

/* U[p][o][c] = (G g G^T)[p] for every filter g = w[o][c] (3x3). Blocks of 64 filters are
 * first transposed to [9][64], so the transform is a vector loop with contiguous stores. */
#define WINO_WBLK 64
static void wino_weights(const conv_dims *d, const float *w, float *U) {
    int64_t OC = d->O * d->C, nblk = (OC + WINO_WBLK - 1) / WINO_WBLK;
    #pragma omp parallel for schedule(static) if (OC * 16 > FT_PAR_MIN)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t o0 = blk * WINO_WBLK, n = OC - o0 < WINO_WBLK ? OC - o0 : WINO_WBLK;
        float g[9][WINO_WBLK];
        for (int64_t k = 0; k < n; k++)
            for (int t = 0; t < 9; t++) g[t][k] = w[(o0 + k) * 9 + t];
        float *u = U + o0;
        #pragma omp simd
        for (int64_t k = 0; k < n; k++) {
            float t[4][3]; /* G g */
            for (int j = 0; j < 3; j++) {
                float a = g[j][k], bb = g[3 + j][k], c = g[6 + j][k];
                t[0][j] = a;
                t[1][j] = 0.5f * (a + bb + c);
                t[2][j] = 0.5f * (a - bb + c);
                t[3][j] = c;
            }
            for (int i = 0; i < 4; i++) { /* (G g) G^T */
                float a = t[i][0], bb = t[i][1], c = t[i][2];
                u[(i * 4 + 0) * OC + k] = a;
                u[(i * 4 + 1) * OC + k] = 0.5f * (a + bb + c);
                u[(i * 4 + 2) * OC + k] = 0.5f * (a - bb + c);
                u[(i * 4 + 3) * OC + k] = c;
            }
        }
    }
}

/* Copy plane xp [H, W] into the padded buffer: padded row r = h + pt, column q = w + pl
 * goes to E[q/2] (q even) or O[q/2] (q odd) of the row (E, O: tw+1 floats each). */
static void wino_plane_in(const conv_dims *d, const wino_buf *b, const float *xp, float *pl) {
    int64_t tw1 = d->tw + 1, RS = 2 * tw1;
    for (int64_t h = 0; h < d->H && h + d->pt < b->Hp2; h++) {
        float *E = pl + (h + d->pt) * RS, *O = E + tw1;
        const float *xr = xp + h * d->W;
        int64_t par = d->pl & 1, k0 = d->pl >> 1; /* w = 0 lands in (par ? O : E)[k0] */
        float *A = par ? O : E, *B = par ? E : O;
        int64_t na = (d->W + 1) / 2, nb = d->W / 2;
        if (k0 + na > tw1) na = tw1 - k0;
        #pragma omp simd
        for (int64_t k = 0; k < na; k++) A[k0 + k] = xr[2 * k];          /* even w */
        int64_t kb = k0 + par;                                             /* w = 1 lands in B[kb] */
        if (kb + nb > tw1) nb = tw1 - kb;
        #pragma omp simd
        for (int64_t k = 0; k < nb; k++) B[kb + k] = xr[2 * k + 1];      /* odd w */
    }
}

/* dxp [H, W] += the real positions of the padded buffer (the inverse of wino_plane_in). */
static void wino_plane_out_add(const conv_dims *d, const wino_buf *b, const float *pl, float *dxp) {
    int64_t tw1 = d->tw + 1, RS = 2 * tw1;
    for (int64_t h = 0; h < d->H && h + d->pt < b->Hp2; h++) {
        const float *E = pl + (h + d->pt) * RS, *O = E + tw1;
        float *dr = dxp + h * d->W;
        int64_t par = d->pl & 1, k0 = d->pl >> 1;
        const float *A = par ? O : E, *B = par ? E : O;
        int64_t na = (d->W + 1) / 2, nb = d->W / 2, kb = k0 + par;
        if (k0 + na > tw1) na = tw1 - k0;
        if (kb + nb > tw1) nb = tw1 - kb;
        #pragma omp simd
        for (int64_t k = 0; k < na; k++) dr[2 * k] += A[k0 + k];
        #pragma omp simd
        for (int64_t k = 0; k < nb; k++) dr[2 * k + 1] += B[kb + k];
    }
}

/* V[p][c][t] = (B^T d B)[p] for every tile of images x[0..nbk), columns T = nbk * tpi. The
 * plane goes into the thread's buffer as even and odd padded columns (E, O: tw+1 each per
 * row), so both passes are contiguous vector loops: rows first (B^T d), then columns. */
static void wino_input(const conv_dims *d, const wino_buf *b, const float *x, int64_t nbk, float *V) {
    int64_t T = nbk * b->tpi, CT = d->C * T, tw = d->tw, tw1 = tw + 1, RS = 2 * tw1;
    #pragma omp parallel num_threads(b->slots) if (nbk * d->C * b->tpi * 16 > FT_PAR_MIN)
    {
        float *pl = b->planes + omp_get_thread_num() * b->PP, *tmp = pl + b->Hp2 * RS;
        memset(pl, 0, (size_t)(b->Hp2 * RS) * sizeof(float)); /* padding stays zero: only real rows are written */
        #pragma omp for schedule(static)
        for (int64_t pc = 0; pc < nbk * d->C; pc++) {
            int64_t bi = pc / d->C, c = pc % d->C;
            wino_plane_in(d, b, x + pc * d->H * d->W, pl);
            float *vb = V + c * T + bi * b->tpi;
            for (int64_t ty = 0; ty < d->th; ty++) {
                const float *r0 = pl + 2 * ty * RS, *r1 = r0 + RS, *r2 = r1 + RS, *r3 = r2 + RS;
                float *t0 = tmp, *t1 = t0 + RS, *t2 = t1 + RS, *t3 = t2 + RS; /* E then O, per row of B^T d */
                #pragma omp simd
                for (int64_t k = 0; k < RS; k++) {
                    t0[k] = r0[k] - r2[k];
                    t1[k] = r1[k] + r2[k];
                    t2[k] = r2[k] - r1[k];
                    t3[k] = r1[k] - r3[k];
                }
                const float *ts[4] = {t0, t1, t2, t3};
                for (int i = 0; i < 4; i++) {
                    const float *e = ts[i], *o = ts[i] + tw1;
                    float *v0 = vb + (i * 4) * CT + ty * tw, *v1 = v0 + CT, *v2 = v1 + CT, *v3 = v2 + CT;
                    #pragma omp simd
                    for (int64_t tx = 0; tx < tw; tx++) {
                        v0[tx] = e[tx] - e[tx + 1];
                        v1[tx] = o[tx] + e[tx + 1];
                        v2[tx] = e[tx + 1] - o[tx];
                        v3[tx] = o[tx] - o[tx + 1];
                    }
                }
            }
            for (int64_t h = 0; h < d->H && h + d->pt < b->Hp2; h++) /* back to zero for the next plane */
                memset(pl + (h + d->pt) * RS, 0, (size_t)RS * sizeof(float));
        }
    }
}

/* y[0..nbk) = A^T M A (+ bias), the tiles clipped to Ho x Wo. Per tile row: the columns'
 * A^T pass into R[a][j] (8 temp rows), then the rows' pass into two output rows. */
static void wino_output(const conv_dims *d, const wino_buf *b, const float *M, int64_t nbk, const float *bias, float *y) {
    int64_t T = nbk * b->tpi, OT = d->O * T, tw = d->tw;
    #pragma omp parallel num_threads(b->slots) if (nbk * d->O * b->tpi * 16 > FT_PAR_MIN)
    {
        float *R = b->planes + omp_get_thread_num() * b->PP, *y0 = R + 8 * tw, *y1 = y0 + 2 * tw;
        #pragma omp for schedule(static)
        for (int64_t po = 0; po < nbk * d->O; po++) {
            int64_t bi = po / d->O, o = po % d->O;
            float bv = bias ? bias[o] : 0.0f;
            float *yp = y + po * d->HW;
            const float *mb = M + o * T + bi * b->tpi;
            for (int64_t ty = 0; ty < d->th; ty++) {
                for (int j = 0; j < 4; j++) {
                    const float *m0 = mb + j * OT + ty * tw, *m1 = m0 + 4 * OT, *m2 = m1 + 4 * OT, *m3 = m2 + 4 * OT;
                    float *ra = R + j * tw, *rb = R + (4 + j) * tw;
                    #pragma omp simd
                    for (int64_t tx = 0; tx < tw; tx++) {
                        ra[tx] = m0[tx] + m1[tx] + m2[tx];
                        rb[tx] = m1[tx] - m2[tx] - m3[tx];
                    }
                }
                for (int a = 0; a < 2; a++) {
                    const float *r0 = R + 4 * a * tw, *r1 = r0 + tw, *r2 = r1 + tw, *r3 = r2 + tw;
                    float *yr = a ? y1 : y0;
                    #pragma omp simd
                    for (int64_t tx = 0; tx < tw; tx++) {
                        yr[2 * tx] = r0[tx] + r1[tx] + r2[tx] + bv;
                        yr[2 * tx + 1] = r1[tx] - r2[tx] - r3[tx] + bv;
                    }
                }
                memcpy(yp + 2 * ty * d->Wo, y0, (size_t)d->Wo * sizeof(float));
                if (2 * ty + 1 < d->Ho) memcpy(yp + (2 * ty + 1) * d->Wo, y1, (size_t)d->Wo * sizeof(float));
            }
        }
    }
}

/* dM[p][o][t] = (A dy A^T)[p], dy's tiles zero-extended past Ho x Wo: dy's two rows of a tile
 * row are split into even / odd columns (u, v), then each row i of A dy gives 4 points. */
static void wino_output_grad(const conv_dims *d, const wino_buf *b, const float *dy, int64_t nbk, float *dM) {
    int64_t T = nbk * b->tpi, OT = d->O * T, tw = d->tw;
    #pragma omp parallel num_threads(b->slots) if (nbk * d->O * b->tpi * 16 > FT_PAR_MIN)
    {
        float *e0 = b->planes + omp_get_thread_num() * b->PP, *e1 = e0 + 2 * tw, *uv = e1 + 2 * tw;
        float *u0 = uv, *v0 = u0 + tw, *u1 = v0 + tw, *v1 = u1 + tw;
        memset(e0, 0, (size_t)(4 * tw) * sizeof(float)); /* the junk column (odd Wo) stays zero */
        #pragma omp for schedule(static)
        for (int64_t po = 0; po < nbk * d->O; po++) {
            int64_t bi = po / d->O, o = po % d->O;
            const float *dp = dy + po * d->HW;
            float *mb = dM + o * T + bi * b->tpi;
            for (int64_t ty = 0; ty < d->th; ty++) {
                memcpy(e0, dp + 2 * ty * d->Wo, (size_t)d->Wo * sizeof(float));
                if (2 * ty + 1 < d->Ho) memcpy(e1, dp + (2 * ty + 1) * d->Wo, (size_t)d->Wo * sizeof(float));
                else memset(e1, 0, (size_t)(2 * tw) * sizeof(float));
                #pragma omp simd
                for (int64_t tx = 0; tx < tw; tx++) {
                    u0[tx] = e0[2 * tx]; v0[tx] = e0[2 * tx + 1];
                    u1[tx] = e1[2 * tx]; v1[tx] = e1[2 * tx + 1];
                }
                static const float cu[4] = {0.0f, 1.0f, -1.0f, -1.0f}; /* row i of A dy = row0 * (i < 3) + cu[i] * row1 */
                for (int i = 0; i < 4; i++) {
                    float c0 = i < 3 ? 1.0f : 0.0f, c1 = cu[i];
                    float *q0 = mb + (4 * i) * OT + ty * tw, *q1 = q0 + OT, *q2 = q1 + OT, *q3 = q2 + OT;
                    #pragma omp simd
                    for (int64_t tx = 0; tx < tw; tx++) {
                        float a = c0 * u0[tx] + c1 * u1[tx], bb = c0 * v0[tx] + c1 * v1[tx];
                        q0[tx] = a;
                        q1[tx] = a + bb;
                        q2[tx] = a - bb;
                        q3[tx] = -bb;
                    }
                }
            }
        }
    }
}

/* dx[0..nbk) += B dV B^T: per tile row, the columns' B pass into P[i][j] (16 temp rows), then
 * each row's B^T pass adds columns 2tx..2tx+3 into the thread's padded plane (even / odd
 * columns as in wino_input), whose real positions are finally added to dx. */
static void wino_input_grad(const conv_dims *d, const wino_buf *b, const float *dV, int64_t nbk, float *dx) {
    int64_t T = nbk * b->tpi, CT = d->C * T, tw = d->tw, tw1 = tw + 1, RS = 2 * tw1;
    #pragma omp parallel num_threads(b->slots) if (nbk * d->C * b->tpi * 16 > FT_PAR_MIN)
    {
        float *pl = b->planes + omp_get_thread_num() * b->PP, *P = pl + b->Hp2 * RS;
        #pragma omp for schedule(static)
        for (int64_t pc = 0; pc < nbk * d->C; pc++) {
            int64_t bi = pc / d->C, c = pc % d->C;
            memset(pl, 0, (size_t)(b->Hp2 * RS) * sizeof(float));
            const float *vb = dV + c * T + bi * b->tpi;
            for (int64_t ty = 0; ty < d->th; ty++) {
                for (int j = 0; j < 4; j++) {
                    const float *v0 = vb + j * CT + ty * tw, *v1 = v0 + 4 * CT, *v2 = v1 + 4 * CT, *v3 = v2 + 4 * CT;
                    float *p0 = P + j * tw, *p1 = p0 + 4 * tw, *p2 = p1 + 4 * tw, *p3 = p2 + 4 * tw;
                    #pragma omp simd
                    for (int64_t tx = 0; tx < tw; tx++) {
                        p0[tx] = v0[tx];
                        p1[tx] = v1[tx] - v2[tx] + v3[tx];
                        p2[tx] = -v0[tx] + v1[tx] + v2[tx];
                        p3[tx] = -v3[tx];
                    }
                }
                for (int i = 0; i < 4; i++) {
                    const float *q0 = P + 4 * i * tw, *q1 = q0 + tw, *q2 = q1 + tw, *q3 = q2 + tw;
                    float *E = pl + (2 * ty + i) * RS, *O = E + tw1;
                    #pragma omp simd
                    for (int64_t tx = 0; tx < tw; tx++) {
                        E[tx] += q0[tx];
                        O[tx] += q1[tx] - q2[tx] + q3[tx];
                    }
                    #pragma omp simd
                    for (int64_t tx = 0; tx < tw; tx++) {
                        E[tx + 1] += -q0[tx] + q1[tx] + q2[tx];
                        O[tx + 1] -= q3[tx];
                    }
                }
            }
            wino_plane_out_add(d, b, pl, dx + pc * d->H * d->W);
        }
    }
}

static void wino_forward(const ft_node *n, const conv_dims *d, const float *x, const float *w, const float *bias,
                         float *y) {
    wino_buf b = wino_get(n, d);
    wino_weights(d, w, b.U);
    for (int64_t n0 = 0; n0 < d->N; n0 += d->nbw) {
        int64_t nbk = d->N - n0 < d->nbw ? d->N - n0 : d->nbw, T = nbk * b.tpi;
        wino_input(d, &b, x + n0 * d->C * d->H * d->W, nbk, b.V);
        for (int p = 0; p < 16; p++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d->O, (int)T, (int)d->C, 1.0f,
                        b.U + p * d->O * d->C, (int)d->C, b.V + p * d->C * T, (int)T, 0.0f, b.M + p * d->O * T, (int)T);
        wino_output(d, &b, b.M, nbk, bias, y + n0 * d->O * d->HW);
    }
}

/* dx += the gradient through the Winograd forward (dW goes through im2col: see above). */
static void wino_backward_dx(const ft_node *n, const conv_dims *d, const float *w, const float *dy, float *dx) {
    wino_buf b = wino_get(n, d);
    wino_weights(d, w, b.U);
    for (int64_t n0 = 0; n0 < d->N; n0 += d->nbw) {
        int64_t nbk = d->N - n0 < d->nbw ? d->N - n0 : d->nbw, T = nbk * b.tpi;
        wino_output_grad(d, &b, dy + n0 * d->O * d->HW, nbk, b.M);
        for (int p = 0; p < 16; p++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d->C, (int)T, (int)d->O, 1.0f,
                        b.U + p * d->O * d->C, (int)d->C, b.M + p * d->O * T, (int)T, 0.0f, b.V + p * d->C * T, (int)T);
        wino_input_grad(d, &b, b.V, nbk, dx + n0 * d->C * d->H * d->W);
    }
}

/* Scratch floats: depthwise, one phase-plane slot per thread; Winograd, see wino_scratch; GEMM, the column matrix of a
 * chunk plus the chunk's output when nb > 1; none for the direct 1x1 path. */
static int64_t conv_scratch(const conv_dims *d) {
    if (d->depthwise) {
        int threads = ft_get_num_threads();
        return (threads > 0 ? threads : 1) * dw_get(d).slot;
    }
    if (d->direct && d->nb == 1) return 0;
    int64_t gemm = d->C * d->kh * d->kw * d->nb * d->HW + (d->nb > 1 ? d->O * d->nb * d->HW : 0);
    if (d->wino) { /* dW still goes through im2col (see wino_backward_dx) */
        int64_t w = wino_scratch(d);
        return w > gemm ? w : gemm;
    }
    return gemm;
}

/* ---------------- forward / backward ---------------- */

static ft_status conv_forward(ft_node *n) {
    conv_dims d = conv_get(n);
    const float *x = n->in[0]->val, *w = n->in[1]->val, *b = d.bias ? n->in[2]->val : NULL;
    float *y = n->val;
    if (d.depthwise) { dw_forward(n, &d, x, w, b, y); return FT_OK; }
    if (d.wino) { wino_forward(n, &d, x, w, b, y); return FT_OK; }
    for (int64_t n0 = 0; n0 < d.N; n0 += d.nb) {
        int64_t nbk = d.N - n0 < d.nb ? d.N - n0 : d.nb, cols = nbk * d.HW;
        const float *col = x + n0 * d.C * d.H * d.W;
        if (!(d.direct && d.nb == 1)) {
            im2col(&d, col, nbk, n->scratch);
            col = n->scratch;
        }
        /* nb == 1: the product goes straight into y (seeded with the bias); otherwise into
         * the scratch after the columns, then scattered to NCHW with the bias. */
        float *out = d.nb == 1 ? y + n0 * d.O * d.HW : n->scratch + d.C * d.kh * d.kw * d.nb * d.HW;
        float beta = 0.0f;
        if (d.nb == 1 && b) {
            #pragma omp parallel for if (d.O * d.HW > FT_PAR_MIN)
            for (int64_t o = 0; o < d.O; o++)
                for (int64_t k = 0; k < d.HW; k++) out[o * d.HW + k] = b[o];
            beta = 1.0f;
        }
        for (int64_t g = 0; g < d.G; g++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d.Og, (int)cols, (int)d.Kg, 1.0f,
                        w + g * d.Og * d.Kg, (int)d.Kg, col + g * d.Kg * cols, (int)cols, beta, out + g * d.Og * cols,
                        (int)cols);
        if (d.nb > 1) {
            #pragma omp parallel for collapse(2) if (d.O * cols > FT_PAR_MIN)
            for (int64_t bi = 0; bi < nbk; bi++)
                for (int64_t o = 0; o < d.O; o++) {
                    float *yr = y + ((n0 + bi) * d.O + o) * d.HW, bv = b ? b[o] : 0.0f;
                    const float *src = out + o * cols + bi * d.HW;
                    #pragma omp simd
                    for (int64_t k = 0; k < d.HW; k++) yr[k] = src[k] + bv;
                }
        }
    }
    return FT_OK;
}

static void conv_backward(ft_node *n) {
    conv_dims d = conv_get(n);
    ft_node *xn = n->in[0], *wn = n->in[1], *bn = d.bias ? n->in[2] : NULL;
    const float *dy = n->grad;
    if (bn && bn->grad) {
        #pragma omp parallel for if (d.N * d.O * d.HW > FT_PAR_MIN)
        for (int64_t o = 0; o < d.O; o++) {
            float s = 0.0f;
            for (int64_t i = 0; i < d.N; i++) {
                const float *r = dy + (i * d.O + o) * d.HW;
                #pragma omp simd reduction(+ : s)
                for (int64_t k = 0; k < d.HW; k++) s += r[k];
            }
            bn->grad[o] += s;
        }
    }
    if (!wn->grad && !xn->grad) return;
    if (d.depthwise) { dw_backward(n, &d, xn->val, wn->val, dy, xn->grad, wn->grad); return; }
    if (d.wino && xn->grad) wino_backward_dx(n, &d, wn->val, dy, xn->grad);
    bool gemm_dx = xn->grad && !d.wino;
    if (!wn->grad && !gemm_dx) return;
    const float *w = wn->val;
    int64_t colsz = d.C * d.kh * d.kw * d.nb * d.HW;
    for (int64_t n0 = 0; n0 < d.N; n0 += d.nb) {
        int64_t nbk = d.N - n0 < d.nb ? d.N - n0 : d.nb, cols = nbk * d.HW;
        const float *dyc = dy + n0 * d.O * d.HW;
        if (d.nb > 1) { /* gather the chunk's dy into [O, nbk*HW] */
            float *t = n->scratch + colsz;
            #pragma omp parallel for collapse(2) if (d.O * cols > FT_PAR_MIN)
            for (int64_t bi = 0; bi < nbk; bi++)
                for (int64_t o = 0; o < d.O; o++)
                    memcpy(t + o * cols + bi * d.HW, dyc + (bi * d.O + o) * d.HW, (size_t)d.HW * sizeof(float));
            dyc = t;
        }
        if (wn->grad) { /* dW_g [Og, Kg] += dy_g [Og, cols] col_g^T */
            const float *col = xn->val + n0 * d.C * d.H * d.W;
            if (!(d.direct && d.nb == 1)) {
                im2col(&d, col, nbk, n->scratch);
                col = n->scratch;
            }
            for (int64_t g = 0; g < d.G; g++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d.Og, (int)d.Kg, (int)cols, 1.0f,
                            dyc + g * d.Og * cols, (int)cols, col + g * d.Kg * cols, (int)cols, 1.0f,
                            wn->grad + g * d.Og * d.Kg, (int)d.Kg);
        }
        if (gemm_dx) { /* dcol_g [Kg, cols] = W_g^T dy_g, then col2im */
            float *dx = xn->grad + n0 * d.C * d.H * d.W;
            bool direct = d.direct && d.nb == 1;
            float *dcol = direct ? dx : n->scratch;
            for (int64_t g = 0; g < d.G; g++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d.Kg, (int)cols, (int)d.Og, 1.0f,
                            w + g * d.Og * d.Kg, (int)d.Kg, dyc + g * d.Og * cols, (int)cols, direct ? 1.0f : 0.0f,
                            dcol + g * d.Kg * cols, (int)cols);
            if (!direct) col2im_add(&d, dcol, nbk, dx);
        }
    }
}

static unsigned conv_saves(const ft_node *n) {
    unsigned m = 0;
    if (n->in[1]->requires_grad) m |= 1u; /* dW needs x */
    if (n->in[0]->requires_grad) m |= 2u; /* dx needs W */
    return m;
}

/* ---------------- reference (double, every case) ---------------- */

static ft_status conv_forward_ref(ft_node *n) {
    conv_dims d = conv_get(n);
    const float *x = n->in[0]->val, *w = n->in[1]->val, *b = d.bias ? n->in[2]->val : NULL;
    for (int64_t i = 0; i < d.N; i++)
        for (int64_t o = 0; o < d.O; o++)
            for (int64_t ho = 0; ho < d.Ho; ho++)
                for (int64_t wo = 0; wo < d.Wo; wo++) {
                    double s = b ? b[o] : 0.0;
                    int64_t g = o / d.Og;
                    for (int64_t cg = 0; cg < d.Cg; cg++)
                        for (int64_t ki = 0; ki < d.kh; ki++)
                            for (int64_t kj = 0; kj < d.kw; kj++) {
                                int64_t hi = ho * d.sh - d.pt + ki * d.dh, wi = wo * d.sw - d.pl + kj * d.dw;
                                if (hi < 0 || hi >= d.H || wi < 0 || wi >= d.W) continue;
                                s += (double)x[((i * d.C + g * d.Cg + cg) * d.H + hi) * d.W + wi] *
                                     w[((o * d.Cg + cg) * d.kh + ki) * d.kw + kj];
                            }
                    n->val[((i * d.O + o) * d.Ho + ho) * d.Wo + wo] = (float)s;
                }
    return FT_OK;
}

static void conv_backward_ref(ft_node *n) {
    conv_dims d = conv_get(n);
    ft_node *xn = n->in[0], *wn = n->in[1], *bn = d.bias ? n->in[2] : NULL;
    const float *dy = n->grad;
    if (bn && bn->grad)
        for (int64_t o = 0; o < d.O; o++) {
            double s = 0;
            for (int64_t i = 0; i < d.N; i++)
                for (int64_t k = 0; k < d.HW; k++) s += dy[(i * d.O + o) * d.HW + k];
            bn->grad[o] += (float)s;
        }
    if (wn->grad) /* dW[o,cg,ki,kj] = sum over images and outputs of dy * x */
        for (int64_t o = 0; o < d.O; o++)
            for (int64_t cg = 0; cg < d.Cg; cg++)
                for (int64_t ki = 0; ki < d.kh; ki++)
                    for (int64_t kj = 0; kj < d.kw; kj++) {
                        double s = 0;
                        int64_t c = (o / d.Og) * d.Cg + cg;
                        for (int64_t i = 0; i < d.N; i++)
                            for (int64_t ho = 0; ho < d.Ho; ho++)
                                for (int64_t wo = 0; wo < d.Wo; wo++) {
                                    int64_t hi = ho * d.sh - d.pt + ki * d.dh, wi = wo * d.sw - d.pl + kj * d.dw;
                                    if (hi < 0 || hi >= d.H || wi < 0 || wi >= d.W) continue;
                                    s += (double)dy[((i * d.O + o) * d.Ho + ho) * d.Wo + wo] *
                                         xn->val[((i * d.C + c) * d.H + hi) * d.W + wi];
                                }
                        wn->grad[((o * d.Cg + cg) * d.kh + ki) * d.kw + kj] += (float)s;
                    }
    if (xn->grad) /* dx[i,c,hi,wi] gathers every (o, ki, kj) whose window covers it */
        for (int64_t i = 0; i < d.N; i++)
            for (int64_t c = 0; c < d.C; c++)
                for (int64_t hi = 0; hi < d.H; hi++)
                    for (int64_t wi = 0; wi < d.W; wi++) {
                        double s = 0;
                        int64_t g = c / d.Cg, cg = c % d.Cg;
                        for (int64_t o = g * d.Og; o < (g + 1) * d.Og; o++)
                            for (int64_t ki = 0; ki < d.kh; ki++)
                                for (int64_t kj = 0; kj < d.kw; kj++) {
                                    int64_t th = hi + d.pt - ki * d.dh, tw = wi + d.pl - kj * d.dw;
                                    if (th < 0 || tw < 0 || th % d.sh || tw % d.sw) continue;
                                    int64_t ho = th / d.sh, wo = tw / d.sw;
                                    if (ho >= d.Ho || wo >= d.Wo) continue;
                                    s += (double)dy[((i * d.O + o) * d.Ho + ho) * d.Wo + wo] *
                                         wn->val[((o * d.Cg + cg) * d.kh + ki) * d.kw + kj];
                                }
                        xn->grad[((i * d.C + c) * d.H + hi) * d.W + wi] += (float)s;
                    }
}

const ft_op_def ft_def_conv2d = {"conv2d", conv_forward, conv_backward, conv_forward_ref, conv_backward_ref,
                                 conv_saves, NULL};

/* ---------------- conv_transpose2d ----------------
 * y = conv_transpose(x; w) is the input gradient of the conv2d whose input is y's plane,
 * whose output is x's plane, with the same weight (Cin = the conv's O, Cout = its C), so it
 * runs on the same pieces in the conv's terms (ct_get: C = Cout, H x W = y's plane,
 * O = Cin, Ho x Wo = x's plane):
 *   forward  dcol_g [Kg, cols] = W_g^T x_g, then y = bias + col2im(dcol)
 *   dX       col = im2col(dy), dx_g [Og, cols] += W_g col_g      (the conv's forward)
 *   dW       dW_g [Og, Kg] += x_g col_g^T                        (the conv's dW, roles swapped)
 * A chunk of nb images goes through sgemm at once when planes are small; x (and dx) are
 * then gathered to / scattered from [Cin, nb*H*W] in the scratch after the columns.
 * output_padding only enlarges y: those rows and columns get the bias alone. */

ft_conv_transpose2d_args ft_conv_transpose2d_defaults(void) {
    return (ft_conv_transpose2d_args){.stride = {1, 1}, .dilation = {1, 1}, .groups = 1};
}

static conv_dims ct_get(const ft_node *n) {
    const ft_node *x = n->in[0], *w = n->in[1];
    conv_dims d;
    memset(&d, 0, sizeof d);
    d.N = x->shape[0]; d.O = x->shape[1]; d.Ho = x->shape[2]; d.Wo = x->shape[3]; d.HW = d.Ho * d.Wo;
    d.C = n->shape[1]; d.H = n->shape[2]; d.W = n->shape[3];
    d.kh = w->shape[2]; d.kw = w->shape[3];
    d.pt = n->iarg[0]; d.pl = n->iarg[1]; d.pb = n->iarg[2]; d.pr = n->iarg[3];
    d.sh = n->iarg[4] >> 16; d.sw = n->iarg[4] & 0xffff;
    d.dh = n->iarg[5] >> 16; d.dw = n->iarg[5] & 0xffff;
    d.G = n->iarg[6]; d.bias = n->iarg[7];
    d.Cg = d.C / d.G; d.Og = d.O / d.G; d.Kg = d.Cg * d.kh * d.kw;
    d.nb = conv_chunk(&d);
    d.nbw = 1;
    return d;
}

ft_node *ft_conv_transpose2d(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv_transpose2d_args *a) {
    ft_node *in[3] = {x, w, b};
    if (!ft_graph_ok(g, b ? 3 : 2, in)) return NULL;
    ft_conv_transpose2d_args def = ft_conv_transpose2d_defaults();
    if (!a) a = &def;
    char sx[64], sw[64];
    ft_shape_str(x, sx, sizeof sx);
    ft_shape_str(w, sw, sizeof sw);
    if (x->dtype != FT_F32 || w->dtype != FT_F32 || (b && b->dtype != FT_F32))
        return ft_graph_fail(g, FT_EINVAL, "conv_transpose2d '%s': operands must be float32", w->name);
    if (x->ndim != 4 || w->ndim != 4)
        return ft_graph_fail(g, FT_ESHAPE, "conv_transpose2d '%s': input %s and weight %s must be 4-D ([N,Cin,H,W], [Cin,Cout/groups,kh,kw])",
                             w->name, sx, sw);
    int G = a->groups;
    if (G < 1 || x->shape[1] % G || w->shape[0] != x->shape[1])
        return ft_graph_fail(g, FT_ESHAPE, "conv_transpose2d '%s': input %s, weight %s and groups=%d do not fit", w->name, sx, sw, G);
    for (int i = 0; i < 2; i++) {
        if (a->stride[i] < 1 || a->stride[i] > CONV_MAX_ARG || a->dilation[i] < 1 || a->dilation[i] > CONV_MAX_ARG)
            return ft_graph_fail(g, FT_EINVAL, "conv_transpose2d '%s': stride %dx%d / dilation %dx%d out of range [1, %d]",
                                 w->name, a->stride[0], a->stride[1], a->dilation[0], a->dilation[1], CONV_MAX_ARG);
        if (a->output_padding[i] < 0 || (a->output_padding[i] >= a->stride[i] && a->output_padding[i] >= a->dilation[i]))
            return ft_graph_fail(g, FT_EINVAL, "conv_transpose2d '%s': output_padding %d,%d must be below the stride or the dilation",
                                 w->name, a->output_padding[0], a->output_padding[1]);
    }
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0) return ft_graph_fail(g, FT_EINVAL, "conv_transpose2d '%s': negative padding", w->name);
    int64_t Cout = w->shape[1] * G;
    if (b && (b->ndim != 1 || b->shape[0] != Cout))
        return ft_graph_fail(g, FT_ESHAPE, "conv_transpose2d '%s': bias '%s' must have shape [%lld]", w->name, b->name, (long long)Cout);
    const int64_t lim = CONV_MAX_DIM;
    for (int i = 0; i < 4; i++)
        if (x->shape[i] < 1 || x->shape[i] > lim || w->shape[i] < 1 || w->shape[i] > lim || Cout > lim)
            return ft_graph_fail(g, FT_ESHAPE, "conv_transpose2d '%s': input %s / weight %s: dimensions must be in [1, %lld]",
                                 w->name, sx, sw, (long long)lim);
    int64_t Ho = (x->shape[2] - 1) * a->stride[0] - a->pad[0] - a->pad[2] + (int64_t)a->dilation[0] * (w->shape[2] - 1) +
                 a->output_padding[0] + 1;
    int64_t Wo = (x->shape[3] - 1) * a->stride[1] - a->pad[1] - a->pad[3] + (int64_t)a->dilation[1] * (w->shape[3] - 1) +
                 a->output_padding[1] + 1;
    if (Ho < 1 || Wo < 1 || Ho > lim || Wo > lim)
        return ft_graph_fail(g, FT_ESHAPE, "conv_transpose2d '%s': input %s with weight %s gives a %lldx%lld output", w->name,
                             sx, sw, (long long)Ho, (long long)Wo);
    int64_t shape[4] = {x->shape[0], Cout, Ho, Wo};
    ft_node *n = ft_node_new(g, FT_OP_CONV_TRANSPOSE2D, b ? 3 : 2, in, 4, shape);
    if (!n) return NULL;
    for (int i = 0; i < 4; i++) n->iarg[i] = a->pad[i];
    n->iarg[4] = a->stride[0] << 16 | a->stride[1];
    n->iarg[5] = a->dilation[0] << 16 | a->dilation[1];
    n->iarg[6] = G;
    n->iarg[7] = b != NULL;
    conv_dims d = ct_get(n);
    if (d.Kg * d.Og > INT32_MAX || d.Kg * d.nb * d.HW > INT32_MAX || d.O * d.nb * d.HW > INT32_MAX ||
        d.C * d.kh * d.kw * d.nb * d.HW > ((int64_t)1 << 40))
        return ft_graph_fail(g, FT_ESHAPE, "conv_transpose2d '%s': input %s with weight %s is too large", w->name, sx, sw);
    n->scratch_numel = d.C * d.kh * d.kw * d.nb * d.HW + (d.nb > 1 ? d.O * d.nb * d.HW : 0);
    return n;
}

/* t [O, nbk*HW] <-> images [nbk][O][HW] (add: scatter-add into the images). */
static void ct_gather(const conv_dims *d, const float *img, int64_t nbk, float *t) {
    int64_t cols = nbk * d->HW;
    #pragma omp parallel for collapse(2) if (d->O * cols > FT_PAR_MIN)
    for (int64_t bi = 0; bi < nbk; bi++)
        for (int64_t o = 0; o < d->O; o++)
            memcpy(t + o * cols + bi * d->HW, img + (bi * d->O + o) * d->HW, (size_t)d->HW * sizeof(float));
}
static void ct_scatter_add(const conv_dims *d, const float *t, int64_t nbk, float *img) {
    int64_t cols = nbk * d->HW;
    #pragma omp parallel for collapse(2) if (d->O * cols > FT_PAR_MIN)
    for (int64_t bi = 0; bi < nbk; bi++)
        for (int64_t o = 0; o < d->O; o++) {
            float *dst = img + (bi * d->O + o) * d->HW;
            const float *src = t + o * cols + bi * d->HW;
            #pragma omp simd
            for (int64_t k = 0; k < d->HW; k++) dst[k] += src[k];
        }
}

static ft_status ct_forward(ft_node *n) {
    conv_dims d = ct_get(n);
    const float *x = n->in[0]->val, *w = n->in[1]->val, *b = d.bias ? n->in[2]->val : NULL;
    int64_t plane = d.H * d.W, colsz = d.C * d.kh * d.kw * d.nb * d.HW;
    for (int64_t n0 = 0; n0 < d.N; n0 += d.nb) {
        int64_t nbk = d.N - n0 < d.nb ? d.N - n0 : d.nb, cols = nbk * d.HW;
        const float *xin = x + n0 * d.O * d.HW;
        if (d.nb > 1) {
            ct_gather(&d, xin, nbk, n->scratch + colsz);
            xin = n->scratch + colsz;
        }
        for (int64_t g = 0; g < d.G; g++)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d.Kg, (int)cols, (int)d.Og, 1.0f, w + g * d.Og * d.Kg,
                        (int)d.Kg, xin + g * d.Og * cols, (int)cols, 0.0f, n->scratch + g * d.Kg * cols, (int)cols);
        float *y = n->val + n0 * d.C * plane;
        #pragma omp parallel for collapse(2) if (nbk * d.C * plane > FT_PAR_MIN)
        for (int64_t bi = 0; bi < nbk; bi++)
            for (int64_t c = 0; c < d.C; c++) {
                float *yp = y + (bi * d.C + c) * plane, bv = b ? b[c] : 0.0f;
                for (int64_t k = 0; k < plane; k++) yp[k] = bv;
            }
        col2im_add(&d, n->scratch, nbk, y);
    }
    return FT_OK;
}

static void ct_backward(ft_node *n) {
    conv_dims d = ct_get(n);
    ft_node *xn = n->in[0], *wn = n->in[1], *bn = d.bias ? n->in[2] : NULL;
    const float *dy = n->grad, *w = wn->val;
    int64_t plane = d.H * d.W, colsz = d.C * d.kh * d.kw * d.nb * d.HW;
    if (bn && bn->grad) {
        #pragma omp parallel for if (d.N * d.C * plane > FT_PAR_MIN)
        for (int64_t c = 0; c < d.C; c++) {
            float s = 0.0f;
            for (int64_t i = 0; i < d.N; i++) {
                const float *r = dy + (i * d.C + c) * plane;
                #pragma omp simd reduction(+ : s)
                for (int64_t k = 0; k < plane; k++) s += r[k];
            }
            bn->grad[c] += s;
        }
    }
    if (!xn->grad && !wn->grad) return;
    for (int64_t n0 = 0; n0 < d.N; n0 += d.nb) {
        int64_t nbk = d.N - n0 < d.nb ? d.N - n0 : d.nb, cols = nbk * d.HW;
        float *col = n->scratch, *t = n->scratch + colsz;
        im2col(&d, dy + n0 * d.C * plane, nbk, col);
        if (wn->grad) { /* dW_g [Og, Kg] += x_g [Og, cols] col_g^T */
            const float *xin = xn->val + n0 * d.O * d.HW;
            if (d.nb > 1) {
                ct_gather(&d, xin, nbk, t);
                xin = t;
            }
            for (int64_t g = 0; g < d.G; g++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d.Og, (int)d.Kg, (int)cols, 1.0f,
                            xin + g * d.Og * cols, (int)cols, col + g * d.Kg * cols, (int)cols, 1.0f,
                            wn->grad + g * d.Og * d.Kg, (int)d.Kg);
        }
        if (xn->grad) { /* dx_g [Og, cols] += W_g col_g: straight into dx when nb == 1 */
            float *dx = xn->grad + n0 * d.O * d.HW, *out = d.nb > 1 ? t : dx;
            for (int64_t g = 0; g < d.G; g++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d.Og, (int)cols, (int)d.Kg, 1.0f,
                            w + g * d.Og * d.Kg, (int)d.Kg, col + g * d.Kg * cols, (int)cols, d.nb > 1 ? 0.0f : 1.0f,
                            out + g * d.Og * cols, (int)cols);
            if (d.nb > 1) ct_scatter_add(&d, t, nbk, dx);
        }
    }
}

static unsigned ct_saves(const ft_node *n) {
    unsigned m = 0;
    if (n->in[1]->requires_grad) m |= 1u; /* dW needs x */
    if (n->in[0]->requires_grad) m |= 2u; /* dx needs W */
    return m;
}

/* Reference (double): y[i,co,oh,ow] gathers every (ci, kh, kw) whose scattered tap lands there:
 * oh = h*sh - pt + ki*dh for an input row h. */
static ft_status ct_forward_ref(ft_node *n) {
    const ft_node *xn = n->in[0], *wn = n->in[1];
    int64_t N = xn->shape[0], Cin = xn->shape[1], H = xn->shape[2], W = xn->shape[3];
    int64_t Cout = n->shape[1], Ho = n->shape[2], Wo = n->shape[3], kh = wn->shape[2], kw = wn->shape[3];
    int64_t pt = n->iarg[0], pl = n->iarg[1], sh = n->iarg[4] >> 16, sw = n->iarg[4] & 0xffff;
    int64_t dh = n->iarg[5] >> 16, dw = n->iarg[5] & 0xffff, G = n->iarg[6], Cog = Cout / G, Cig = Cin / G;
    const float *b = n->iarg[7] ? n->in[2]->val : NULL;
    for (int64_t i = 0; i < N; i++)
        for (int64_t co = 0; co < Cout; co++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = b ? b[co] : 0.0;
                    int64_t g = co / Cog, cl = co % Cog;
                    for (int64_t ci = g * Cig; ci < (g + 1) * Cig; ci++)
                        for (int64_t ki = 0; ki < kh; ki++)
                            for (int64_t kj = 0; kj < kw; kj++) {
                                int64_t th = oh + pt - ki * dh, tw = ow + pl - kj * dw;
                                if (th < 0 || tw < 0 || th % sh || tw % sw || th / sh >= H || tw / sw >= W) continue;
                                s += (double)xn->val[((i * Cin + ci) * H + th / sh) * W + tw / sw] *
                                     wn->val[((ci * Cog + cl) * kh + ki) * kw + kj];
                            }
                    n->val[((i * Cout + co) * Ho + oh) * Wo + ow] = (float)s;
                }
    return FT_OK;
}

static void ct_backward_ref(ft_node *n) {
    ft_node *xn = n->in[0], *wn = n->in[1], *bn = n->iarg[7] ? n->in[2] : NULL;
    int64_t N = xn->shape[0], Cin = xn->shape[1], H = xn->shape[2], W = xn->shape[3];
    int64_t Cout = n->shape[1], Ho = n->shape[2], Wo = n->shape[3], kh = wn->shape[2], kw = wn->shape[3];
    int64_t pt = n->iarg[0], pl = n->iarg[1], sh = n->iarg[4] >> 16, sw = n->iarg[4] & 0xffff;
    int64_t dh = n->iarg[5] >> 16, dw = n->iarg[5] & 0xffff, G = n->iarg[6], Cog = Cout / G, Cig = Cin / G;
    const float *dy = n->grad;
    if (bn && bn->grad)
        for (int64_t co = 0; co < Cout; co++) {
            double s = 0;
            for (int64_t i = 0; i < N; i++)
                for (int64_t k = 0; k < Ho * Wo; k++) s += dy[(i * Cout + co) * Ho * Wo + k];
            bn->grad[co] += (float)s;
        }
    /* each x element scatters to y[oh = h*sh - pt + ki*dh, ow = w*sw - pl + kj*dw] */
    for (int64_t ci = 0; ci < Cin; ci++) {
        int64_t g = ci / Cig;
        for (int64_t cl = 0; cl < Cog; cl++)
            for (int64_t ki = 0; ki < kh; ki++)
                for (int64_t kj = 0; kj < kw; kj++) {
                    int64_t co = g * Cog + cl, wi = ((ci * Cog + cl) * kh + ki) * kw + kj;
                    double sw_acc = 0;
                    for (int64_t i = 0; i < N; i++)
                        for (int64_t h = 0; h < H; h++)
                            for (int64_t w = 0; w < W; w++) {
                                int64_t oh = h * sh - pt + ki * dh, ow = w * sw - pl + kj * dw;
                                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                                double gy = dy[((i * Cout + co) * Ho + oh) * Wo + ow];
                                int64_t xi = ((i * Cin + ci) * H + h) * W + w;
                                sw_acc += gy * xn->val[xi];
                                if (xn->grad) xn->grad[xi] += (float)(gy * wn->val[wi]);
                            }
                    if (wn->grad) wn->grad[wi] += (float)sw_acc;
                }
    }
}

const ft_op_def ft_def_conv_transpose2d = {"conv_transpose2d", ct_forward, ct_backward, ct_forward_ref, ct_backward_ref,
                                           ct_saves, NULL};
