/* 2-D convolution: x [N,C,H,W] (NCHW) * w [O, C/G, kh, kw] (OIHW) + b [O] -> y [N,O,Ho,Wo].
 *
 * Three fast paths, one naive reference:
 *  - GEMM: a chunk of nb images is unfolded (im2col) into col [C*kh*kw, nb*Ho*Wo] in the
 *    node's scratch, then per group y = W col (sgemm). nb > 1 only when a plane is small
 *    (deep layers: 7x7, 14x14), so sgemm sees >= ~1024 columns; the product then lands in a
 *    scratch [O, nb*Ho*Wo] and is scattered to NCHW. Backward: dW += dy col^T (same im2col),
 *    dcol = W^T dy then col2im into dx. Either half is skipped when its gradient is pruned.
 *  - 1x1, stride 1, no padding with nb == 1: x itself is the column matrix (no im2col).
 *  - depthwise (groups == C == O): a direct kernel, OpenMP over (n, c) planes forward and
 *    over c backward (dx and dw of a channel belong to one thread), loops over wo inside.
 *  - reference: plain nested loops in double, every case (depthwise included).
 * BLAS is called from serial code only; im2col/col2im/scatter are OpenMP loops.
 *
 * iarg[0..3] = pad top, left, bottom, right; iarg[4] = stride_h << 16 | stride_w;
 * iarg[5] = dilation_h << 16 | dilation_w; iarg[6] = groups; iarg[7] = has bias. */
#include "ops/ops.h"

#include <cblas.h>
#include <string.h>

#define CONV_MAX_ARG 32767      /* stride and dilation are packed in 16 bits */
#define CONV_TARGET_COLS 1024   /* sgemm columns wanted per chunk */
#define CONV_SCRATCH_CAP (1 << 22) /* floats (16 MiB) of columns before nb stops growing */

typedef struct {
    int64_t N, C, H, W, O, kh, kw, Ho, Wo, HW;
    int64_t sh, sw, dh, dw, pt, pl, pb, pr;
    int64_t G, Cg, Og, Kg; /* groups; per group: in channels, out channels, Cg*kh*kw */
    int64_t nb;            /* images per GEMM chunk */
    bool bias, depthwise, direct;
} conv_dims;

ft_conv2d_args ft_conv2d_defaults(void) {
    return (ft_conv2d_args){.stride = {1, 1}, .pad = {0, 0, 0, 0}, .dilation = {1, 1}, .groups = 1};
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
    d.N = x->shape[0]; d.C = x->shape[1]; d.H = x->shape[2]; d.W = x->shape[3];
    d.O = w->shape[0]; d.kh = w->shape[2]; d.kw = w->shape[3];
    d.Ho = n->shape[2]; d.Wo = n->shape[3]; d.HW = d.Ho * d.Wo;
    d.pt = n->iarg[0]; d.pl = n->iarg[1]; d.pb = n->iarg[2]; d.pr = n->iarg[3];
    d.sh = n->iarg[4] >> 16; d.sw = n->iarg[4] & 0xffff;
    d.dh = n->iarg[5] >> 16; d.dw = n->iarg[5] & 0xffff;
    d.G = n->iarg[6]; d.bias = n->iarg[7];
    d.Cg = d.C / d.G; d.Og = d.O / d.G; d.Kg = d.Cg * d.kh * d.kw;
    d.depthwise = d.G == d.C && d.O == d.C && d.G > 1;
    d.direct = d.kh == 1 && d.kw == 1 && d.sh == 1 && d.sw == 1 && !d.pt && !d.pl && !d.pb && !d.pr;
    d.nb = conv_chunk(&d);
    return d;
}

/* Scratch floats: the column matrix of a chunk, plus the chunk's output when nb > 1. */
static int64_t conv_scratch(const conv_dims *d) {
    if (d->depthwise || (d->direct && d->nb == 1)) return 0;
    return d->C * d->kh * d->kw * d->nb * d->HW + (d->nb > 1 ? d->O * d->nb * d->HW : 0);
}

ft_node *ft_conv2d(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv2d_args *a) {
    ft_node *in[3] = {x, w, b};
    if (!ft_graph_ok(g, b ? 3 : 2, in)) return NULL;
    ft_conv2d_args def = ft_conv2d_defaults();
    if (!a) a = &def;
    char sx[64], sw[64];
    ft_shape_str(x, sx, sizeof sx);
    ft_shape_str(w, sw, sizeof sw);
    if (x->dtype != FT_F32 || w->dtype != FT_F32 || (b && b->dtype != FT_F32))
        return ft_graph_fail(g, FT_EINVAL, "conv2d '%s': operands must be float32", w->name);
    if (x->ndim != 4 || w->ndim != 4)
        return ft_graph_fail(g, FT_ESHAPE, "conv2d '%s': input %s and weight %s must be 4-D (NCHW, OIHW)", w->name, sx, sw);
    int G = a->groups;
    if (G < 1 || x->shape[1] % G || w->shape[0] % G || w->shape[1] * G != x->shape[1])
        return ft_graph_fail(g, FT_ESHAPE, "conv2d '%s': input %s, weight %s and groups=%d do not fit", w->name, sx,
                             sw, G);
    for (int i = 0; i < 2; i++)
        if (a->stride[i] < 1 || a->stride[i] > CONV_MAX_ARG || a->dilation[i] < 1 || a->dilation[i] > CONV_MAX_ARG)
            return ft_graph_fail(g, FT_EINVAL, "conv2d '%s': stride %dx%d / dilation %dx%d out of range [1, %d]",
                                 w->name, a->stride[0], a->stride[1], a->dilation[0], a->dilation[1], CONV_MAX_ARG);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0) return ft_graph_fail(g, FT_EINVAL, "conv2d '%s': negative padding", w->name);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return ft_graph_fail(g, FT_ESHAPE, "conv2d '%s': bias '%s' must have shape [%lld]", w->name, b->name,
                             (long long)w->shape[0]);
    int64_t eh = (int64_t)a->dilation[0] * (w->shape[2] - 1) + 1, ew = (int64_t)a->dilation[1] * (w->shape[3] - 1) + 1;
    int64_t hp = x->shape[2] + a->pad[0] + a->pad[2], wp = x->shape[3] + a->pad[1] + a->pad[3];
    if (w->shape[2] < 1 || w->shape[3] < 1 || hp < eh || wp < ew)
        return ft_graph_fail(g, FT_ESHAPE, "conv2d '%s': kernel %s larger than the padded input %s", w->name, sw, sx);
    int64_t shape[4] = {x->shape[0], w->shape[0], (hp - eh) / a->stride[0] + 1, (wp - ew) / a->stride[1] + 1};
    ft_node *n = ft_node_new(g, FT_OP_CONV2D, b ? 3 : 2, in, 4, shape);
    if (!n) return NULL;
    for (int i = 0; i < 4; i++) n->iarg[i] = a->pad[i];
    n->iarg[4] = a->stride[0] << 16 | a->stride[1];
    n->iarg[5] = a->dilation[0] << 16 | a->dilation[1];
    n->iarg[6] = G;
    n->iarg[7] = b != NULL;
    conv_dims d = conv_get(n);
    n->scratch_numel = conv_scratch(&d);
    return n;
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

/* ---------------- depthwise (groups == C == O) ---------------- */

static void dw_forward(const conv_dims *d, const float *x, const float *w, const float *b, float *y) {
    #pragma omp parallel for collapse(2) if (d->N * d->C * d->HW * d->kh * d->kw > FT_PAR_MIN)
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t c = 0; c < d->C; c++) {
            const float *xp = x + (n * d->C + c) * d->H * d->W, *wc = w + c * d->kh * d->kw;
            float *yp = y + (n * d->C + c) * d->HW, bv = b ? b[c] : 0.0f;
            for (int64_t ho = 0; ho < d->Ho; ho++) {
                float *yr = yp + ho * d->Wo;
                for (int64_t wo = 0; wo < d->Wo; wo++) yr[wo] = bv;
                for (int64_t i = 0; i < d->kh; i++) {
                    int64_t hi = ho * d->sh - d->pt + i * d->dh;
                    if (hi < 0 || hi >= d->H) continue;
                    const float *xr = xp + hi * d->W;
                    for (int64_t j = 0; j < d->kw; j++) {
                        float wv = wc[i * d->kw + j];
                        int64_t off = j * d->dw - d->pl, wo0, wo1;
                        valid_range(d->W, d->Wo, d->sw, off, &wo0, &wo1);
                        if (d->sw == 1) {
                            #pragma omp simd
                            for (int64_t wo = wo0; wo < wo1; wo++) yr[wo] += wv * xr[wo + off];
                        } else if (d->sw == 2) {
                            #pragma omp simd
                            for (int64_t wo = wo0; wo < wo1; wo++) yr[wo] += wv * xr[2 * wo + off];
                        } else {
                            for (int64_t wo = wo0; wo < wo1; wo++) yr[wo] += wv * xr[wo * d->sw + off];
                        }
                    }
                }
            }
        }
}

/* dx and dw of channel c only touch channel c: parallel over channels, images inside. */
static void dw_backward(const conv_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dwt) {
    #pragma omp parallel for if (d->N * d->C * d->HW * d->kh * d->kw > FT_PAR_MIN)
    for (int64_t c = 0; c < d->C; c++) {
        const float *wc = w + c * d->kh * d->kw;
        float *gwc = dwt ? dwt + c * d->kh * d->kw : NULL;
        for (int64_t n = 0; n < d->N; n++) {
            const float *xp = x ? x + (n * d->C + c) * d->H * d->W : NULL, *dyp = dy + (n * d->C + c) * d->HW;
            float *dxp = dx ? dx + (n * d->C + c) * d->H * d->W : NULL;
            for (int64_t ho = 0; ho < d->Ho; ho++) {
                const float *dyr = dyp + ho * d->Wo;
                for (int64_t i = 0; i < d->kh; i++) {
                    int64_t hi = ho * d->sh - d->pt + i * d->dh;
                    if (hi < 0 || hi >= d->H) continue;
                    for (int64_t j = 0; j < d->kw; j++) {
                        int64_t off = j * d->dw - d->pl, wo0, wo1;
                        valid_range(d->W, d->Wo, d->sw, off, &wo0, &wo1);
                        if (dxp) {
                            float *dxr = dxp + hi * d->W, wv = wc[i * d->kw + j];
                            if (d->sw == 1) {
                                #pragma omp simd
                                for (int64_t wo = wo0; wo < wo1; wo++) dxr[wo + off] += wv * dyr[wo];
                            } else {
                                for (int64_t wo = wo0; wo < wo1; wo++) dxr[wo * d->sw + off] += wv * dyr[wo];
                            }
                        }
                        if (gwc) {
                            const float *xr = xp + hi * d->W;
                            float s = 0.0f;
                            if (d->sw == 1) {
                                #pragma omp simd reduction(+ : s)
                                for (int64_t wo = wo0; wo < wo1; wo++) s += dyr[wo] * xr[wo + off];
                            } else if (d->sw == 2) {
                                #pragma omp simd reduction(+ : s)
                                for (int64_t wo = wo0; wo < wo1; wo++) s += dyr[wo] * xr[2 * wo + off];
                            } else {
                                for (int64_t wo = wo0; wo < wo1; wo++) s += dyr[wo] * xr[wo * d->sw + off];
                            }
                            gwc[i * d->kw + j] += s;
                        }
                    }
                }
            }
        }
    }
}

/* ---------------- forward / backward ---------------- */

static ft_status conv_forward(ft_node *n) {
    conv_dims d = conv_get(n);
    const float *x = n->in[0]->val, *w = n->in[1]->val, *b = d.bias ? n->in[2]->val : NULL;
    float *y = n->val;
    if (d.depthwise) { dw_forward(&d, x, w, b, y); return FT_OK; }
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
    if (d.depthwise) { dw_backward(&d, xn->val, wn->val, dy, xn->grad, wn->grad); return; }
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
        if (xn->grad) { /* dcol_g [Kg, cols] = W_g^T dy_g, then col2im */
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
