/* The CNN ops (conv2d, batch_norm, pools, pad2d, hard activations):
 *  1. finite-difference gradient checks of every op and variant (stride 2, asymmetric
 *     padding, dilation, groups, depthwise, 1x1, batch norm with batch and running stats,
 *     pools with and without count_include_pad and ceil_mode), each also comparing fast and
 *     reference kernels forward and backward, with inputs that are trainable, frozen,
 *     buffers or graph inputs (so the pruned dX / dW paths run);
 *  2. every case of tests/fixtures/cnn_ops.safetensors (tests/gen/gen_cnn_ops.py) against
 *     PyTorch, with fast and with reference kernels, including batch norm's running stats
 *     after one training forward and its eval plan;
 *  3. pruning (a conv on an input with a frozen weight runs no backward), zero allocations
 *     per step for a small CNN, and builder errors. */
#include "test.h"
#include "ops/ops.h"

#include <jansson.h>

/* ---------------- finite differences ---------------- */

typedef t_tspec tspec; /* 'p' trainable, 'f' frozen, 'b' buffer, 'i' input: tests/test.h */

/* tol <= 0: compare fast and reference kernels only (cases too large for finite differences). */
static void check_op(const char *name, int nt, const tspec *ts, t_build_fn fn, t_init_fn init, double tol) {
    t_spec_check(name, nt, ts, fn, init, tol, 24, true);
}

/* ---- builders for the FD cases ---- */
static ft_conv2d_args cargs(int s, int pt, int pl, int pb, int pr, int d, int g) {
    ft_conv2d_args a = ft_conv2d_defaults();
    a.stride[0] = a.stride[1] = s;
    a.pad[0] = pt; a.pad[1] = pl; a.pad[2] = pb; a.pad[3] = pr;
    a.dilation[0] = a.dilation[1] = d;
    a.groups = g;
    return a;
}
#define CONV_B(fname, s, pt, pl, pb, pr, d, g, bias) \
    static ft_node *fname(ft_graph *g_, ft_node **in) { \
        ft_conv2d_args a = cargs(s, pt, pl, pb, pr, d, g); \
        return ft_conv2d(g_, in[0], in[1], bias ? in[2] : NULL, &a); }
CONV_B(b_conv, 1, 1, 1, 1, 1, 1, 1, 1)
CONV_B(b_conv_nobias, 1, 0, 0, 0, 0, 1, 1, 0)
CONV_B(b_conv_s2, 2, 1, 1, 1, 1, 1, 1, 1)
CONV_B(b_conv_asym, 2, 0, 0, 1, 1, 1, 1, 1)   /* TF "same", stride 2 */
CONV_B(b_conv_asym2, 1, 1, 0, 2, 1, 1, 1, 0)
CONV_B(b_conv_dil2, 1, 2, 2, 2, 2, 2, 1, 1)
CONV_B(b_conv_g2, 1, 1, 1, 1, 1, 1, 2, 1)
CONV_B(b_conv_1x1, 1, 0, 0, 0, 0, 1, 1, 1)
CONV_B(b_conv_wpad, 1, 0, 2, 1, 0, 1, 1, 1)   /* Winograd: asymmetric padding */
CONV_B(b_conv_p2, 1, 2, 2, 2, 2, 1, 1, 0)     /* Winograd: tiles reading only padding */
CONV_B(b_conv_1x1_s2, 2, 0, 0, 0, 0, 1, 1, 0)
CONV_B(b_dw, 1, 1, 1, 1, 1, 1, 4, 1)
CONV_B(b_dw_s2, 2, 1, 1, 1, 1, 1, 4, 0)
CONV_B(b_dw_same, 2, 0, 0, 1, 1, 1, 3, 1)
CONV_B(b_dw_dil, 1, 2, 2, 2, 2, 2, 3, 1)
CONV_B(b_dw_5x5, 1, 2, 1, 2, 3, 1, 2, 1)      /* 25 taps in one phase: fused groups of 9 */
CONV_B(b_dw_s2_dil2, 2, 2, 2, 1, 1, 2, 2, 0)
CONV_B(b_dw_9x9, 1, 4, 4, 4, 4, 1, 2, 1)      /* 81 taps: per-image dW sums */
static ft_node *b_dw_rect(ft_graph *g, ft_node **in) {
    ft_conv2d_args a = {.stride = {1, 3}, .pad = {2, 0, 1, 2}, .dilation = {2, 1}, .groups = 3};
    return ft_conv2d(g, in[0], in[1], in[2], &a);
}
static ft_node *b_conv_rect(ft_graph *g, ft_node **in) {
    ft_conv2d_args a = {.stride = {2, 1}, .pad = {0, 2, 1, 2}, .dilation = {1, 2}, .groups = 1};
    return ft_conv2d(g, in[0], in[1], in[2], &a);
}

static ft_node *b_bn(ft_graph *g, ft_node **in) { return ft_batch_norm(g, in[0], in[1], in[2], in[3], in[4], 1e-5f, 0.1f, false); }
static ft_node *b_bn_frozen(ft_graph *g, ft_node **in) { return ft_batch_norm(g, in[0], in[1], in[2], in[3], in[4], 1e-5f, 0.1f, true); }
static ft_node *b_bn_plain(ft_graph *g, ft_node **in) { return ft_batch_norm(g, in[0], NULL, NULL, NULL, NULL, 1e-5f, 0.1f, false); }
static ft_node *b_bn_gamma_only(ft_graph *g, ft_node **in) { return ft_batch_norm(g, in[0], in[1], NULL, in[2], in[3], 1e-3f, 0.2f, false); }

static ft_pool2d_args pargs(int k, int s, int pt, int pl, int pb, int pr, bool ceil, bool cip) {
    return (ft_pool2d_args){.kernel = {k, k}, .stride = {s, s}, .pad = {pt, pl, pb, pr}, .ceil_mode = ceil, .count_include_pad = cip};
}
#define POOL_B(fname, op, k, s, pt, pl, pb, pr, ceil, cip) \
    static ft_node *fname(ft_graph *g, ft_node **in) { ft_pool2d_args a = pargs(k, s, pt, pl, pb, pr, ceil, cip); return op(g, in[0], &a); }
POOL_B(b_max_3s2p1, ft_max_pool2d, 3, 2, 1, 1, 1, 1, false, true)
POOL_B(b_max_ceil, ft_max_pool2d, 3, 2, 0, 0, 0, 0, true, true)
POOL_B(b_max_asym, ft_max_pool2d, 3, 2, 0, 0, 1, 1, false, true)
POOL_B(b_max_2x2, ft_max_pool2d, 2, 0, 0, 0, 0, 0, false, true) /* stride 0 = kernel */
POOL_B(b_avg_incl, ft_avg_pool2d, 3, 2, 1, 1, 1, 1, false, true)
POOL_B(b_avg_excl, ft_avg_pool2d, 3, 2, 1, 1, 1, 1, false, false)
POOL_B(b_avg_ceil_incl, ft_avg_pool2d, 3, 2, 1, 1, 1, 1, true, true)
POOL_B(b_avg_ceil_excl, ft_avg_pool2d, 3, 2, 1, 1, 1, 1, true, false)
POOL_B(b_avg_asym, ft_avg_pool2d, 3, 2, 0, 1, 1, 1, false, false)
static ft_node *b_max_rect(ft_graph *g, ft_node **in) {
    ft_pool2d_args a = {.kernel = {3, 2}, .stride = {2, 1}, .pad = {1, 0, 2, 1}, .ceil_mode = true};
    return ft_max_pool2d(g, in[0], &a);
}
static ft_node *b_gap(ft_graph *g, ft_node **in) { return ft_global_avg_pool(g, in[0], false); }
static ft_node *b_gap_keep(ft_graph *g, ft_node **in) { return ft_global_avg_pool(g, in[0], true); }
static ft_node *b_pad(ft_graph *g, ft_node **in) { const int p[4] = {1, 2, 0, 3}; return ft_pad2d(g, in[0], p, -0.5f); }
static ft_node *b_relu6(ft_graph *g, ft_node **in) { return ft_relu6(g, in[0]); }
static ft_node *b_hardswish(ft_graph *g, ft_node **in) { return ft_hardswish(g, in[0]); }
static ft_node *b_hardsigmoid(ft_graph *g, ft_node **in) { return ft_hardsigmoid(g, in[0]); }

/* A small CNN through every op: conv-bn-relu, max pool, depthwise-bn-relu6, 1x1 conv,
 * hardswish, avg pool, pad, conv, hardsigmoid gate, global pool, linear. in: x, conv1 w/b,
 * bn gamma/beta, dw w, pw w, head w (running stats are made here from buffers 6, 7). */
static ft_node *mini_cnn(ft_graph *g, ft_node **in, bool frozen_bn) {
    ft_conv2d_args a = cargs(1, 1, 1, 1, 1, 1, 1);
    ft_node *h = ft_conv2d(g, in[0], in[1], NULL, &a);
    h = ft_relu(g, ft_batch_norm(g, h, in[2], in[3], in[6], in[7], 1e-5f, 0.1f, frozen_bn));
    ft_pool2d_args mp = pargs(3, 2, 1, 1, 1, 1, false, true);
    h = ft_max_pool2d(g, h, &mp);
    ft_conv2d_args dw = cargs(1, 1, 1, 1, 1, 1, 4);
    h = ft_relu6(g, ft_conv2d(g, h, in[4], NULL, &dw));
    ft_conv2d_args pw = ft_conv2d_defaults();
    h = ft_hardswish(g, ft_conv2d(g, h, in[5], NULL, &pw));
    ft_pool2d_args ap = pargs(2, 1, 0, 0, 1, 1, false, false);
    h = ft_avg_pool2d(g, h, &ap);
    const int p[4] = {0, 1, 1, 0};
    h = ft_pad2d(g, h, p, 0.0f);
    h = ft_mul(g, h, ft_hardsigmoid(g, h));
    h = ft_global_avg_pool(g, h, false);
    return ft_linear(g, h, in[8], NULL);
}
static ft_node *b_mini(ft_graph *g, ft_node **in) { return mini_cnn(g, in, false); }

/* ---- value shaping ---- */
static void init_distinct(int k, float *v, int64_t n) { /* shuffled grid 0.05 apart: no ties */
    if (k) return;
    for (int64_t i = 0; i < n; i++) v[i] = (float)(i - n / 2) * 0.05f;
    ft_pcg32 r;
    ft_pcg32_seed(&r, 5, 5);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(ft_pcg32_next(&r) % (uint32_t)(i + 1));
        float t = v[i]; v[i] = v[j]; v[j] = t;
    }
}
static void init_ties(int k, float *v, int64_t n) { /* runs of equal values: the first maximum must win */
    for (int64_t i = 0; i < n; i++) v[i] = (float)((i / 5) % 4) * 0.5f;
}
static void init_bn(int k, float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (k == 0) v[i] = 2 * v[i] + 0.5f;      /* x */
        else if (k == 1) v[i] = 1 + 0.3f * v[i]; /* gamma */
        else if (k == 4) v[i] = 0.6f + fabsf(v[i]); /* running_var */
    }
}
static void init_bn_gamma_only(int k, float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) if (k == 3) v[i] = 0.6f + fabsf(v[i]);
}
static void init_mini(int k, float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (k == 2) v[i] = 1 + 0.3f * v[i];
        if (k == 7) v[i] = 0.6f + fabsf(v[i]);
    }
}
static float clear_of(float x, const float *kinks, int nk, float gap) {
    for (int i = 0; i < nk; i++)
        if (fabsf(x - kinks[i]) < gap) return kinks[i] + (x >= kinks[i] ? gap : -gap);
    return x;
}
static void init_relu6(int k, float *v, int64_t n) {
    const float kk[2] = {0, 6};
    for (int64_t i = 0; i < n; i++) v[i] = clear_of(5 * v[i] + 2.5f, kk, 2, 0.05f);
}
static void init_hard(int k, float *v, int64_t n) {
    const float kk[2] = {-3, 3};
    for (int64_t i = 0; i < n; i++) v[i] = clear_of(5 * v[i], kk, 2, 0.05f);
}

static void fd_cases(void) {
    const double T = 2e-2;
#define FD(name, build, init, ...) do { const tspec ts[] = {__VA_ARGS__}; \
        check_op(name, (int)(sizeof ts / sizeof ts[0]), ts, build, init, T); } while (0)
    /* conv2d: chunked GEMM (small planes), nb == 1 (>= 1024 outputs), direct 1x1, depthwise */
    FD("conv", b_conv, NULL, {{2, 3, 6, 6}, 'p'}, {{4, 3, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv_nobias", b_conv_nobias, NULL, {{3, 2, 5, 5}, 'p'}, {{4, 2, 3, 3}, 'p'});
    FD("conv_stride2", b_conv_s2, NULL, {{2, 3, 7, 7}, 'p'}, {{4, 3, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv_same_asym_s2", b_conv_asym, NULL, {{2, 2, 6, 5}, 'p'}, {{3, 2, 3, 3}, 'p'}, {{3}, 'p'});
    FD("conv_asym_rect_kernel", b_conv_asym2, NULL, {{1, 2, 5, 6}, 'p'}, {{3, 2, 4, 2}, 'p'});
    FD("conv_dilation2", b_conv_dil2, NULL, {{2, 2, 8, 8}, 'p'}, {{3, 2, 3, 3}, 'p'}, {{3}, 'p'});
    FD("conv_groups2", b_conv_g2, NULL, {{2, 4, 5, 5}, 'p'}, {{6, 2, 3, 3}, 'p'}, {{6}, 'p'});
    FD("conv_rect_stride_dil", b_conv_rect, NULL, {{2, 3, 7, 9}, 'p'}, {{2, 3, 2, 3}, 'p'}, {{2}, 'p'});
    FD("conv_1x1", b_conv_1x1, NULL, {{3, 4, 5, 5}, 'p'}, {{3, 4, 1, 1}, 'p'}, {{3}, 'p'});
    FD("conv_1x1_stride2", b_conv_1x1_s2, NULL, {{2, 4, 6, 6}, 'p'}, {{5, 4, 1, 1}, 'p'});
    FD("conv_big_plane", b_conv, NULL, {{2, 2, 32, 32}, 'p'}, {{3, 2, 3, 3}, 'p'}, {{3}, 'p'});
    FD("conv_1x1_big_plane", b_conv_1x1, NULL, {{2, 3, 32, 32}, 'p'}, {{4, 3, 1, 1}, 'p'}, {{4}, 'p'});
    FD("conv_chunk_tail", b_conv, NULL, {{4, 2, 20, 20}, 'p'}, {{3, 2, 3, 3}, 'p'}, {{3}, 'p'});
    /* Winograd F(2x2,3x3) (3x3, stride 1, groups 1, >= 80% of the 2x2 tiles' outputs real):
     * odd planes (a junk row / column of tiles), no padding, asymmetric and wide padding,
     * dX alone, dW alone (im2col). The 6x6 and 32x32 cases above take this path too. */
    FD("conv_wino_odd", b_conv, NULL, {{2, 3, 9, 11}, 'p'}, {{4, 3, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv_wino_nopad_odd", b_conv_nobias, NULL, {{2, 3, 11, 13}, 'p'}, {{4, 3, 3, 3}, 'p'});
    FD("conv_wino_asym_pad", b_conv_wpad, NULL, {{1, 2, 10, 9}, 'p'}, {{3, 2, 3, 3}, 'p'}, {{3}, 'p'});
    FD("conv_wino_pad2", b_conv_p2, NULL, {{2, 2, 8, 8}, 'p'}, {{3, 2, 3, 3}, 'p'});
    FD("conv_wino_dx_only", b_conv, NULL, {{2, 3, 9, 11}, 'p'}, {{4, 3, 3, 3}, 'f'}, {{4}, 'f'});
    FD("conv_wino_dw_only", b_conv, NULL, {{2, 3, 9, 11}, 'i'}, {{4, 3, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv_depthwise", b_dw, NULL, {{2, 4, 6, 6}, 'p'}, {{4, 1, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv_depthwise_s2", b_dw_s2, NULL, {{2, 4, 7, 7}, 'p'}, {{4, 1, 3, 3}, 'p'});
    FD("conv_depthwise_same_5x5", b_dw_same, NULL, {{1, 3, 8, 7}, 'p'}, {{3, 1, 5, 5}, 'p'}, {{3}, 'p'});
    FD("conv_depthwise_dil2", b_dw_dil, NULL, {{2, 3, 9, 9}, 'p'}, {{3, 1, 3, 3}, 'p'}, {{3}, 'p'});
    FD("conv_depthwise_rect_stride_dil", b_dw_rect, NULL, {{2, 3, 7, 10}, 'p'}, {{3, 1, 3, 2}, 'p'}, {{3}, 'p'});
    FD("conv_depthwise_5x5", b_dw_5x5, NULL, {{2, 2, 6, 7}, 'p'}, {{2, 1, 5, 5}, 'p'}, {{2}, 'p'});
    FD("conv_depthwise_s2_dil2", b_dw_s2_dil2, NULL, {{2, 2, 9, 8}, 'p'}, {{2, 1, 3, 3}, 'p'});
    FD("conv_depthwise_9x9", b_dw_9x9, NULL, {{2, 2, 8, 9}, 'p'}, {{2, 1, 9, 9}, 'p'}, {{2}, 'p'});
    /* pruned halves: x from an input (no dX), frozen weight (no dW), frozen bias */
    FD("conv_input_x", b_conv, NULL, {{2, 3, 6, 6}, 'i'}, {{4, 3, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv_frozen_w", b_conv, NULL, {{2, 3, 6, 6}, 'p'}, {{4, 3, 3, 3}, 'f'}, {{4}, 'f'});
    FD("conv_big_plane_input_x", b_conv, NULL, {{2, 2, 32, 32}, 'i'}, {{3, 2, 3, 3}, 'p'}, {{3}, 'f'});
    FD("conv_1x1_big_frozen_w", b_conv_1x1, NULL, {{2, 3, 32, 32}, 'p'}, {{4, 3, 1, 1}, 'f'}, {{4}, 'p'});
    FD("conv_depthwise_input_x", b_dw, NULL, {{2, 4, 6, 6}, 'i'}, {{4, 1, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv_depthwise_frozen_w", b_dw, NULL, {{2, 4, 6, 6}, 'p'}, {{4, 1, 3, 3}, 'f'}, {{4}, 'f'});
    /* batch norm: gradient through the batch statistics; running statistics (frozen) */
    FD("bn_train", b_bn, init_bn, {{3, 4, 3, 3}, 'p'}, {{4}, 'p'}, {{4}, 'p'}, {{4}, 'b'}, {{4}, 'b'});
    FD("bn_train_2d", b_bn, init_bn, {{6, 5}, 'p'}, {{5}, 'p'}, {{5}, 'p'}, {{5}, 'b'}, {{5}, 'b'});
    FD("bn_train_frozen_affine", b_bn, init_bn, {{3, 4, 3, 3}, 'p'}, {{4}, 'f'}, {{4}, 'f'}, {{4}, 'b'}, {{4}, 'b'});
    FD("bn_train_x_input", b_bn, init_bn, {{3, 4, 3, 3}, 'i'}, {{4}, 'p'}, {{4}, 'p'}, {{4}, 'b'}, {{4}, 'b'});
    FD("bn_frozen_stats", b_bn_frozen, init_bn, {{3, 4, 3, 3}, 'p'}, {{4}, 'p'}, {{4}, 'p'}, {{4}, 'b'}, {{4}, 'b'});
    FD("bn_frozen_stats_x_input", b_bn_frozen, init_bn, {{2, 4, 3, 3}, 'i'}, {{4}, 'p'}, {{4}, 'p'}, {{4}, 'b'}, {{4}, 'b'});
    FD("bn_plain_batch_stats", b_bn_plain, NULL, {{4, 3, 2, 2}, 'p'});
    FD("bn_gamma_only", b_bn_gamma_only, init_bn_gamma_only, {{3, 3, 2, 3}, 'p'}, {{3}, 'p'}, {{3}, 'b'}, {{3}, 'b'});
    /* pools (max pool inputs without ties) */
    FD("max_pool_3x3s2p1", b_max_3s2p1, init_distinct, {{2, 3, 9, 9}, 'p'});
    FD("max_pool_ceil", b_max_ceil, init_distinct, {{1, 2, 8, 8}, 'p'});
    FD("max_pool_same_asym", b_max_asym, init_distinct, {{1, 3, 6, 6}, 'p'});
    FD("max_pool_2x2_default_stride", b_max_2x2, init_distinct, {{2, 2, 6, 6}, 'p'});
    FD("max_pool_rect_ceil_asym", b_max_rect, init_distinct, {{1, 2, 7, 6}, 'p'});
    FD("avg_pool_incl_pad", b_avg_incl, NULL, {{2, 3, 7, 7}, 'p'});
    FD("avg_pool_excl_pad", b_avg_excl, NULL, {{2, 3, 7, 7}, 'p'});
    FD("avg_pool_ceil_incl", b_avg_ceil_incl, NULL, {{1, 2, 8, 8}, 'p'});
    FD("avg_pool_ceil_excl", b_avg_ceil_excl, NULL, {{1, 2, 8, 8}, 'p'});
    FD("avg_pool_same_asym", b_avg_asym, NULL, {{1, 2, 6, 5}, 'p'});
    FD("global_avg_pool", b_gap, NULL, {{2, 3, 4, 5}, 'p'});
    FD("global_avg_pool_keepdim", b_gap_keep, NULL, {{2, 3, 3, 3}, 'p'});
    FD("pad2d", b_pad, NULL, {{2, 3, 4, 3}, 'p'});
    FD("pad2d_3d", b_pad, NULL, {{2, 5, 3}, 'p'});
    FD("relu6", b_relu6, init_relu6, {{4, 6}, 'p'});
    FD("hardswish", b_hardswish, init_hard, {{4, 6}, 'p'});
    FD("hardsigmoid", b_hardsigmoid, init_hard, {{4, 6}, 'p'});
    /* Large enough for the OpenMP paths of every kernel (fast vs reference only). */
#define PAR(name, build, init, ...) do { const tspec ts[] = {__VA_ARGS__}; \
        check_op(name, (int)(sizeof ts / sizeof ts[0]), ts, build, init, 0); } while (0)
    PAR("par_conv", b_conv, NULL, {{4, 16, 32, 32}, 'p'}, {{16, 16, 3, 3}, 'p'}, {{16}, 'p'});
    /* Winograd over 4 chunks of images; w frozen: dW (im2col) of 17k-term sums drifts past 1e-4 in float */
    PAR("par_conv_wino_chunks", b_conv, NULL, {{16, 8, 33, 33}, 'p'}, {{12, 8, 3, 3}, 'f'}, {{12}, 'p'});
    PAR("par_conv_chunked", b_conv_s2, NULL, {{16, 32, 16, 16}, 'p'}, {{48, 32, 3, 3}, 'p'}, {{48}, 'p'});
    PAR("par_conv_1x1", b_conv_1x1, NULL, {{4, 16, 32, 32}, 'p'}, {{24, 16, 1, 1}, 'p'}, {{24}, 'p'});
    PAR("par_conv_depthwise", b_dw, NULL, {{4, 4, 64, 64}, 'p'}, {{4, 1, 3, 3}, 'p'}, {{4}, 'p'});
    PAR("par_conv_depthwise_s2", b_dw_s2, NULL, {{4, 4, 65, 64}, 'p'}, {{4, 1, 3, 3}, 'p'});
    PAR("par_bn", b_bn, init_bn, {{4, 16, 32, 32}, 'p'}, {{16}, 'p'}, {{16}, 'p'}, {{16}, 'b'}, {{16}, 'b'});
    PAR("par_bn_frozen", b_bn_frozen, init_bn, {{4, 16, 32, 32}, 'p'}, {{16}, 'p'}, {{16}, 'p'}, {{16}, 'b'}, {{16}, 'b'});
    PAR("par_max_pool", b_max_3s2p1, init_distinct, {{4, 16, 32, 32}, 'p'});
    PAR("max_pool_ties", b_max_3s2p1, init_ties, {{2, 2, 9, 9}, 'p'});
    PAR("max_pool_ties_ceil", b_max_rect, init_ties, {{1, 2, 7, 6}, 'p'});
    PAR("par_avg_pool", b_avg_excl, NULL, {{4, 16, 32, 32}, 'p'});
    PAR("par_global_avg_pool", b_gap, NULL, {{4, 16, 32, 32}, 'p'});
    PAR("par_pad2d", b_pad, NULL, {{4, 16, 32, 32}, 'p'});
    PAR("par_hardswish", b_hardswish, init_hard, {{4, 16, 32, 32}, 'p'});
#undef PAR
    FD("mini_cnn", b_mini, init_mini, {{2, 3, 8, 8}, 'p'}, {{4, 3, 3, 3}, 'p'}, {{4}, 'p'}, {{4}, 'p'},
       {{4, 1, 3, 3}, 'p'}, {{4, 4, 1, 1}, 'p'}, {{4}, 'b'}, {{4}, 'b'}, {{3, 4}, 'p'});
#undef FD
}

/* ---------------- PyTorch fixtures ---------------- */

static void iarr(json_t *a, int *out, int n) {
    for (int i = 0; i < n; i++) out[i] = (int)json_integer_value(json_array_get(a, (size_t)i));
}

static ft_node *build_case(ft_graph *g, const char *op, json_t *args, ft_node **in, int n_in, bool eval_plan) {
#define B(k) json_is_true(json_object_get(args, k))
#define I(k) (int)json_integer_value(json_object_get(args, k))
#define F(k) (float)json_number_value(json_object_get(args, k))
#define A(k, out, n) iarr(json_object_get(args, k), out, n)
    if (!strcmp(op, "conv2d")) {
        ft_conv2d_args a;
        A("stride", a.stride, 2);
        A("pad", a.pad, 4);
        A("dilation", a.dilation, 2);
        a.groups = I("groups");
        return ft_conv2d(g, in[0], in[1], B("bias") ? in[2] : NULL, &a);
    }
    if (!strcmp(op, "batch_norm")) {
        bool affine = B("affine"), running = B("running");
        ft_node *gm = affine ? in[1] : NULL, *bt = affine ? in[2] : NULL;
        ft_node *rm = running ? in[n_in - 2] : NULL, *rv = running ? in[n_in - 1] : NULL;
        /* torch eval(): frozen_stats in a training plan, or a plain eval plan */
        bool frozen = !B("training") && !eval_plan;
        return ft_batch_norm(g, in[0], gm, bt, rm, rv, F("eps"), F("momentum"), frozen);
    }
    if (!strcmp(op, "max_pool2d") || !strcmp(op, "avg_pool2d")) {
        ft_pool2d_args a;
        A("kernel", a.kernel, 2);
        A("stride", a.stride, 2);
        A("pad", a.pad, 4);
        a.ceil_mode = B("ceil_mode");
        a.count_include_pad = B("count_include_pad");
        return (op[0] == 'm' ? ft_max_pool2d : ft_avg_pool2d)(g, in[0], &a);
    }
    if (!strcmp(op, "global_avg_pool")) return ft_global_avg_pool(g, in[0], B("keepdim"));
    if (!strcmp(op, "pad2d")) {
        int p[4];
        A("pad", p, 4);
        return ft_pad2d(g, in[0], p, F("value"));
    }
    if (!strcmp(op, "relu6")) return ft_relu6(g, in[0]);
    if (!strcmp(op, "hardswish")) return ft_hardswish(g, in[0]);
    if (!strcmp(op, "hardsigmoid")) return ft_hardsigmoid(g, in[0]);
    return NULL;
#undef B
#undef I
#undef F
#undef A
}

static bool close_to(const ft_safetensors *st, const char *cname, const char *suffix, const float *v, int64_t n,
                     double rtol, double atol) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", cname, suffix);
    const ft_st_tensor *t = ft_st_find(st, name);
    if (!t || t->numel != n) { fprintf(stderr, "  %s: missing or wrong size\n", name); return false; }
    float *ref = malloc((size_t)n * 4);
    ft_st_to_f32(t, ref);
    bool ok = t_close(v, ref, (long)n, rtol, atol, name);
    free(ref);
    return ok;
}

/* eval_plan: plan without training (batch_norm eval cases only; output checked). */
static void run_case(const ft_safetensors *st, const char *cname, bool reference, bool eval_plan) {
    json_t *meta = json_loads(ft_st_meta(st, cname), 0, NULL);
    CHECKF(meta != NULL, "%s: metadata", cname);
    if (!meta) return;
    const char *op = json_string_value(json_object_get(meta, "op"));
    json_t *args = json_object_get(meta, "args"), *bufs = json_object_get(meta, "buffers");
    int n_in = (int)json_integer_value(json_object_get(meta, "n_in"));
    const char *kind = reference ? "reference" : "fast";
    char name[128];
    ft_params *ps = ft_params_new();
    const ft_st_tensor *t[FT_MAX_INPUTS];
    int pidx[FT_MAX_INPUTS];
    bool is_buf[FT_MAX_INPUTS] = {0};
    for (size_t i = 0; i < json_array_size(bufs); i++) is_buf[json_integer_value(json_array_get(bufs, i))] = true;
    for (int k = 0; k < n_in; k++) {
        snprintf(name, sizeof name, "%s.in%d", cname, k);
        t[k] = ft_st_find(st, name);
        pidx[k] = (is_buf[k] ? ft_params_add_buffer : ft_params_add)(ps, name, t[k]->ndim, t[k]->shape);
    }
    ft_params_finalize(ps);
    for (int k = 0; k < n_in; k++) ft_st_to_f32(t[k], ft_params_value(ps, pidx[k]));
    ft_params_alloc_grads(ps);
    ft_graph *g = ft_graph_new(ps);
    ft_node *in[FT_MAX_INPUTS];
    for (int k = 0; k < n_in; k++) in[k] = ft_param_at(g, pidx[k]);
    ft_node *out = build_case(g, op, args, in, n_in, eval_plan);
    CHECKF(out != NULL, "%s: build %s", cname, op);
    ft_node *gout = out ? ft_input(g, "gout", FT_F32, out->ndim, out->shape) : NULL;
    ft_node *loss = eval_plan ? NULL : ft_sum(g, ft_mul(g, out, gout), FT_ALL_DIMS, false);
    ft_node_keep(out);
    ft_status s = ft_graph_plan(g, loss, !eval_plan);
    CHECKF(s == FT_OK, "%s: plan: %s", cname, ft_errmsg());
    if (s == FT_OK) {
        snprintf(name, sizeof name, "%s.gout", cname);
        const ft_st_tensor *gt = ft_st_find(st, name);
        float *gv = malloc((size_t)gt->numel * 4);
        ft_st_to_f32(gt, gv);
        ft_graph_set_input(g, gout, gv, (size_t)gt->numel * 4);
        free(gv);
        ft_set_reference_kernels(reference);
        CHECK_OK(ft_graph_forward(g)); /* exactly one forward: running stats move once */
        if (!eval_plan) CHECK_OK(ft_graph_backward(g));
        ft_set_reference_kernels(false);
        CHECKF(close_to(st, cname, "out", out->val, out->numel, 1e-4, 1e-5), "%s.out (%s kernels%s)", cname, kind,
               eval_plan ? ", eval plan" : "");
        for (int k = 0; k < n_in && !eval_plan; k++) {
            if (is_buf[k]) continue;
            snprintf(name, sizeof name, "grad%d", k);
            CHECKF(close_to(st, cname, name, ft_params_grad(ps, pidx[k]), in[k]->numel, 1e-4, 1e-5), "%s.%s (%s kernels)",
                   cname, name, kind);
        }
        if (!strcmp(op, "batch_norm") && json_is_true(json_object_get(args, "running"))) {
            CHECKF(close_to(st, cname, "running_mean", ft_params_value(ps, pidx[n_in - 2]), in[n_in - 2]->numel, 1e-5, 1e-6),
                   "%s.running_mean after one forward (%s kernels)", cname, kind);
            CHECKF(close_to(st, cname, "running_var", ft_params_value(ps, pidx[n_in - 1]), in[n_in - 1]->numel, 1e-5, 1e-6),
                   "%s.running_var after one forward (%s kernels)", cname, kind);
        }
    }
    ft_graph_free(g);
    ft_params_free(ps);
    json_decref(meta);
}

static void torch_case(const ft_safetensors *st, const char *c, void *ctx) {
    run_case(st, c, false, false);
    run_case(st, c, true, false);
    if (!strncmp(c, "bn_eval", 7)) {
        run_case(st, c, false, true);
        run_case(st, c, true, true);
    }
}

static void torch_cases(void) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/cnn_ops.safetensors", &st));
    if (!st) return;
    CHECK(ft_st_meta(st, "cases") != NULL);
    int n = t_each_case(st, "cases", torch_case, NULL);
    printf("%d PyTorch CNN op cases checked (fast and reference kernels)\n", n);
    CHECK(n >= 40);
    ft_st_close(st);
}

/* ---------------- planner: pruning, scratch, zero allocation ---------------- */

/* x (input) -> conv (frozen w) -> relu -> global pool -> linear head (trainable) -> mse.
 * The conv needs no backward at all; with a trainable conv weight it does. */
static void pruning(void) {
    for (int trainable_conv = 0; trainable_conv < 2; trainable_conv++) {
        ft_params *ps = ft_params_new();
        int64_t ws[4] = {4, 3, 3, 3}, hs[2] = {5, 4}, xs[4] = {2, 3, 8, 8}, ts[2] = {2, 5};
        int wi = ft_params_add(ps, "conv.weight", 4, ws);
        int hi = ft_params_add(ps, "head.weight", 2, hs);
        ft_params_finalize(ps);
        ft_params_init_uniform(ps, wi, 1, 0.5f);
        ft_params_init_uniform(ps, hi, 2, 0.5f);
        ps->p[wi].trainable = trainable_conv;
        ft_params_alloc_grads(ps);
        ft_graph *g = ft_graph_new(ps);
        ft_node *x = ft_input(g, "x", FT_F32, 4, xs), *tgt = ft_input(g, "t", FT_F32, 2, ts);
        ft_conv2d_args a = cargs(1, 1, 1, 1, 1, 1, 1);
        ft_node *conv = ft_conv2d(g, x, ft_param_at(g, wi), NULL, &a);
        ft_node *h = ft_global_avg_pool(g, ft_relu(g, conv), false);
        ft_node *loss = ft_mse(g, ft_linear(g, h, ft_param_at(g, hi), NULL), tgt);
        CHECK_OK(ft_graph_plan(g, loss, true));
        ft_plan_stats s = ft_graph_stats(g);
        if (!trainable_conv) {
            CHECKF(!conv->requires_grad && !conv->grad && !x->grad, "frozen conv on an input needs no gradient");
            CHECKF(s.n_backward_ops == 2, "backward runs %d ops, want 2 (mse, linear)", s.n_backward_ops);
        } else {
            CHECKF(conv->requires_grad && !x->grad, "trainable conv: gradient for the weight only");
            CHECKF(s.n_backward_ops == 5, "backward runs %d ops, want 5", s.n_backward_ops);
        }
        float xv[2 * 3 * 8 * 8], tv[10];
        for (int i = 0; i < 384; i++) xv[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
        for (int i = 0; i < 10; i++) tv[i] = 0.1f * (float)i;
        ft_graph_set_input(g, x, xv, sizeof xv);
        ft_graph_set_input(g, tgt, tv, sizeof tv);
        CHECK_OK(ft_graph_forward(g));
        CHECK_OK(ft_graph_backward(g));
        ft_graph_free(g);
        ft_params_free(ps);
    }
    /* A conv whose weight is frozen does not keep its input for backward. */
    size_t saved[2];
    for (int frozen = 0; frozen < 2; frozen++) {
        ft_params *ps = ft_params_new();
        int64_t xs[4] = {2, 3, 8, 8}, ws[4] = {4, 3, 3, 3};
        int xi = ft_params_add(ps, "x", 4, xs), wi = ft_params_add(ps, "w", 4, ws);
        ft_params_finalize(ps);
        ps->p[wi].trainable = !frozen;
        ft_params_alloc_grads(ps);
        ft_graph *g = ft_graph_new(ps);
        ft_node *h = ft_scale(g, ft_param_at(g, xi), 2.0f, 0.0f); /* an activation that nothing else saves */
        ft_conv2d_args a = cargs(1, 1, 1, 1, 1, 1, 1);
        ft_node *loss = ft_sum(g, ft_conv2d(g, h, ft_param_at(g, wi), NULL, &a), FT_ALL_DIMS, false);
        CHECK_OK(ft_graph_plan(g, loss, true));
        saved[frozen] = ft_graph_stats(g).saved_bytes;
        ft_graph_free(g);
        ft_params_free(ps);
    }
    CHECKF(saved[0] >= saved[1] + 2 * 3 * 8 * 8 * 4, "frozen conv weight: saved %zu bytes, trainable %zu", saved[1], saved[0]);
}

/* The mini CNN in a training plan: after one warm-up step, forward + backward allocate
 * nothing, and the batch-norm running stats move once per forward. */
static void zero_alloc(void) {
    const tspec ts[] = {{{2, 3, 12, 12}, 'i'}, {{4, 3, 3, 3}, 'p'}, {{4}, 'p'}, {{4}, 'p'}, {{4, 1, 3, 3}, 'p'},
                        {{4, 4, 1, 1}, 'p'}, {{4}, 'b'}, {{4}, 'b'}, {{3, 4}, 'p'}};
    t_spec_case h;
    if (!t_spec_setup(&h, 9, ts, b_mini, init_mini, 9)) { CHECKF(0, "zero_alloc: setup"); t_spec_free(&h); return; }
    CHECKF(h.t.g && ft_graph_stats(h.t.g).arena_bytes > 0, "arena planned");
    float *rm = ft_params_value(h.t.ps, h.pidx[6]);
    float rm0 = rm[0];
    CHECK_OK(ft_graph_forward(h.t.g));
    CHECK_OK(ft_graph_backward(h.t.g));
    float rm1 = rm[0];
    CHECKF(rm1 != rm0, "running mean moves in a training forward");
    uint64_t before = ft_alloc_count();
    for (int step = 0; step < 3; step++) {
        CHECK_OK(ft_graph_forward(h.t.g));
        CHECK_OK(ft_graph_backward(h.t.g));
    }
    CHECKF(ft_alloc_count() == before, "a CNN step allocated %llu times", (unsigned long long)(ft_alloc_count() - before));
    /* r_k = (1-m) r_{k-1} + m mu with the same batch: r_4 - mu = (1-m)^3 (r_1 - mu) */
    double mu = (rm1 - 0.9 * rm0) / 0.1; /* the batch mean, from r1 = 0.9 r0 + 0.1 mu */
    double want = mu + 0.729 * (rm1 - mu);
    CHECKF(fabs(rm[0] - want) < 1e-4 * (1 + fabs(want)), "running mean after 4 forwards: %g, want %g", rm[0], want);
    t_spec_free(&h);
}

/* An eval plan uses the running stats and leaves them alone; a frozen_stats node in a
 * training plan does the same. */
static void bn_modes(void) {
    for (int mode = 0; mode < 2; mode++) {
        ft_params *ps = ft_params_new();
        int64_t xs[4] = {2, 2, 3, 3}, cs[1] = {2};
        int xi = ft_params_add(ps, "x", 4, xs);
        int rmi = ft_params_add_buffer(ps, "rm", 1, cs), rvi = ft_params_add_buffer(ps, "rv", 1, cs);
        ft_params_finalize(ps);
        ft_params_init_uniform(ps, xi, 3, 1.0f);
        float *rm = ft_params_value(ps, rmi), *rv = ft_params_value(ps, rvi), *x = ft_params_value(ps, xi);
        rm[0] = 0.5f; rm[1] = -1.0f; rv[0] = 4.0f; rv[1] = 0.25f;
        ft_params_alloc_grads(ps);
        ft_graph *g = ft_graph_new(ps);
        ft_node *y = ft_batch_norm(g, ft_param_at(g, xi), NULL, NULL, ft_param_at(g, rmi), ft_param_at(g, rvi), 1e-5f, 0.1f,
                                   mode == 1);
        ft_node_keep(y);
        ft_node *loss = mode ? ft_sum(g, y, FT_ALL_DIMS, false) : NULL;
        CHECK_OK(ft_graph_plan(g, loss, mode == 1));
        CHECK_OK(ft_graph_forward(g));
        int bad = 0;
        for (int i = 0; i < 36; i++) {
            int c = (i / 9) % 2;
            double want = (x[i] - rm[c]) / sqrt(rv[c] + 1e-5);
            bad += fabs(y->val[i] - want) > 1e-5 * (1 + fabs(want));
        }
        CHECKF(bad == 0, "batch_norm %s: %d outputs differ from running-stat normalisation", mode ? "frozen_stats" : "eval plan", bad);
        CHECKF(rm[0] == 0.5f && rm[1] == -1.0f && rv[0] == 4.0f && rv[1] == 0.25f, "running stats untouched");
        ft_graph_free(g);
        ft_params_free(ps);
    }
}

static void builder_errors(void) {
    ft_params *ps = ft_params_new();
    int64_t xs[4] = {2, 4, 5, 5}, ws[4] = {6, 3, 3, 3}, one[4] = {1, 3, 1, 1}, cs[1] = {4};
    int xi = ft_params_add(ps, "x", 4, xs), wi = ft_params_add(ps, "w", 4, ws), oi = ft_params_add(ps, "one", 4, one);
    int ci = ft_params_add(ps, "c", 1, cs);
    ft_params_finalize(ps);
    ft_conv2d_args a = ft_conv2d_defaults();
#define ERR(expr, want) do { ft_graph *g = ft_graph_new(ps); ft_node *in_x = ft_param_at(g, xi); (void)in_x; \
        CHECK((expr) == NULL); CHECK(ft_graph_status(g) == (want)); ft_graph_free(g); } while (0)
    ERR(ft_conv2d(g, in_x, ft_param_at(g, wi), NULL, &a), FT_ESHAPE); /* C=4 vs w[1]=3 */
    a.groups = 3;
    ERR(ft_conv2d(g, in_x, ft_param_at(g, wi), NULL, &a), FT_ESHAPE); /* 4 % 3 */
    a = ft_conv2d_defaults();
    a.stride[0] = 0;
    ERR(ft_conv2d(g, in_x, ft_param_at(g, xi), NULL, &a), FT_EINVAL);
    a = ft_conv2d_defaults();
    a.pad[2] = -1;
    ERR(ft_conv2d(g, in_x, ft_param_at(g, xi), NULL, &a), FT_EINVAL);
    ft_pool2d_args p = pargs(3, 2, 3, 0, 0, 0, false, true); /* pad >= kernel */
    ERR(ft_max_pool2d(g, in_x, &p), FT_EINVAL);
    p = pargs(7, 1, 0, 0, 0, 0, false, true); /* window larger than the input */
    ERR(ft_avg_pool2d(g, in_x, &p), FT_ESHAPE);
    ERR(ft_batch_norm(g, in_x, NULL, NULL, ft_param_at(g, ci), NULL, 1e-5f, 0.1f, false), FT_EINVAL);
    ERR(ft_batch_norm(g, in_x, ft_param_at(g, oi), NULL, NULL, NULL, 1e-5f, 0.1f, false), FT_ESHAPE);
    ERR(ft_batch_norm(g, in_x, NULL, NULL, NULL, NULL, 1e-5f, 0.1f, true), FT_EINVAL);
    ERR(ft_global_avg_pool(g, ft_param_at(g, ci), false), FT_ESHAPE);
    const int neg[4] = {0, -1, 0, 0};
    ERR(ft_pad2d(g, in_x, neg, 0.0f), FT_EINVAL);
#undef ERR
    /* batch statistics of one value per channel fail at forward, as torch does */
    {
        ft_graph *g = ft_graph_new(ps);
        ft_node *y = ft_batch_norm(g, ft_param_at(g, oi), NULL, NULL, NULL, NULL, 1e-5f, 0.1f, false);
        ft_node_keep(y);
        CHECK_OK(ft_graph_plan(g, NULL, false));
        CHECK_ERR(ft_graph_forward(g), FT_EINVAL);
        ft_graph_free(g);
    }
    ft_params_free(ps);
}

int main(void) {
    ft_set_num_threads(2);
    fd_cases();
    torch_cases();
    pruning();
    zero_alloc();
    bn_modes();
    builder_errors();
    CHECK(ft_conv2d_defaults().stride[0] == 1 && ft_conv2d_defaults().dilation[1] == 1 && ft_conv2d_defaults().groups == 1);
    for (int i = 0; i < FT_OP_COUNT; i++) CHECKF(ft_op_table[i] && ft_op_table[i]->name, "op %d missing", i);
    TEST_END();
}
