/* Elementwise ops: broadcasting add/sub/mul/div, affine scale, activations. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

/* ---------------- broadcasting binary ops ----------------
 * NumPy rules: shapes align from the right; a dim of 1 (or a missing dim) broadcasts.
 * Fast paths: same shape, or an input that is a trailing block of the output (bias-like,
 * offset = o % numel). The reference path maps every output index through strides. */

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } bin_kind;

static ft_node *binary(ft_graph *g, ft_op op, ft_node *a, ft_node *b) {
    ft_node *in[2] = {a, b};
    if (!ft_graph_ok(g, 2, in)) return NULL;
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[FT_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char s1[64], s2[64];
            ft_shape_str(a, s1, sizeof s1);
            ft_shape_str(b, s2, sizeof s2);
            return ft_graph_fail(g, FT_ESHAPE, "%s: shapes %s and %s do not broadcast", ft_op_name(op), s1, s2);
        }
        shape[d] = sa == 1 ? sb : sa;
    }
    return ft_node_new(g, op, 2, in, nd, shape);
}

ft_node *ft_add(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_ADD, a, b); }
ft_node *ft_sub(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_SUB, a, b); }
ft_node *ft_mul(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_MUL, a, b); }
ft_node *ft_div(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_DIV, a, b); }

static bin_kind kind_of(const ft_node *n) {
    return n->op == FT_OP_ADD ? BIN_ADD : n->op == FT_OP_SUB ? BIN_SUB : n->op == FT_OP_MUL ? BIN_MUL : BIN_DIV;
}

/* Is x a trailing block of out (its numel divides out's and its dims equal out's last dims)? */
static bool is_suffix(const ft_node *x, const ft_node *out) {
    int off = out->ndim - x->ndim;
    bool leading_ones = true;
    for (int d = 0; d < x->ndim; d++) {
        if (leading_ones && x->shape[d] == 1 && out->shape[d + off] != 1) continue;
        leading_ones = false;
        if (x->shape[d] != out->shape[d + off]) return false;
    }
    return true;
}

/* Input offset of output index o, via strides (0 on broadcast dims). */
static int64_t bcast_offset(const ft_node *x, const ft_node *out, int64_t o) {
    int64_t off = 0, stride = 1;
    for (int d = out->ndim - 1; d >= 0; d--) {
        int64_t idx = o % out->shape[d];
        o /= out->shape[d];
        int dx = d - (out->ndim - x->ndim);
        if (dx >= 0) {
            if (x->shape[dx] != 1) off += idx * stride;
            stride *= x->shape[dx];
        }
    }
    return off;
}

static inline float bin_apply(bin_kind k, float a, float b) {
    switch (k) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    default: return a / b;
    }
}

static ft_status binary_forward(ft_node *n) {
    const ft_node *a = n->in[0], *b = n->in[1];
    bin_kind k = kind_of(n);
    int64_t N = n->numel;
    bool sa = is_suffix(a, n), sb = is_suffix(b, n);
    if (a->numel == N && b->numel == N) { /* same shape (residual adds): one vector loop per kind */
        const float *av = a->val, *bv = b->val;
        float *y = n->val;
        switch (k) {
        case BIN_ADD:
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = av[o] + bv[o];
            break;
        case BIN_SUB:
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = av[o] - bv[o];
            break;
        case BIN_MUL:
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = av[o] * bv[o];
            break;
        default:
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = av[o] / bv[o];
            break;
        }
    } else if (sa && sb) {
        int64_t na = a->numel, nb = b->numel;
        #pragma omp parallel for if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) n->val[o] = bin_apply(k, a->val[o % na], b->val[o % nb]);
    } else {
        #pragma omp parallel for if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++)
            n->val[o] = bin_apply(k, a->val[bcast_offset(a, n, o)], b->val[bcast_offset(b, n, o)]);
    }
    return FT_OK;
}

/* d out / d input `which` at output index o. */
static inline float bin_local(bin_kind k, int which, float a, float b) {
    switch (k) {
    case BIN_ADD: return 1.0f;
    case BIN_SUB: return which ? -1.0f : 1.0f;
    case BIN_MUL: return which ? a : b;
    default: return which ? -a / (b * b) : 1.0f / b;
    }
}

static void binary_backward_input(ft_node *n, int which, bool reference) {
    ft_node *x = n->in[which];
    if (!x->grad) return;
    const ft_node *a = n->in[0], *b = n->in[1];
    bin_kind k = kind_of(n);
    int64_t N = n->numel;
    if (!reference && x->numel == N && k == BIN_ADD) { /* residual adds: the gradient passes through */
        float *gx = x->grad;
        const float *gy = n->grad;
        #pragma omp parallel for simd if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) gx[o] += gy[o];
        return;
    }
    if (!reference && x->numel == N) {
        bool same_a = a->numel == N, same_b = b->numel == N;
        int64_t na = a->numel, nb = b->numel;
        #pragma omp parallel for if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) {
            float va = same_a ? a->val[o] : a->val[is_suffix(a, n) ? o % na : bcast_offset(a, n, o)];
            float vb = same_b ? b->val[o] : b->val[is_suffix(b, n) ? o % nb : bcast_offset(b, n, o)];
            x->grad[o] += n->grad[o] * bin_local(k, which, va, vb);
        }
        return;
    }
    if (!reference && is_suffix(x, n) && is_suffix(a, n) && is_suffix(b, n)) {
        /* Reduce over the broadcast rows; parallel over the input's elements (no races). */
        int64_t nx = x->numel, na = a->numel, nb = b->numel;
        #pragma omp parallel for if (N > FT_PAR_MIN)
        for (int64_t j = 0; j < nx; j++) {
            float s = 0.0f;
            for (int64_t o = j; o < N; o += nx) s += n->grad[o] * bin_local(k, which, a->val[o % na], b->val[o % nb]);
            x->grad[j] += s;
        }
        return;
    }
    for (int64_t o = 0; o < N; o++) {
        float va = a->val[bcast_offset(a, n, o)], vb = b->val[bcast_offset(b, n, o)];
        x->grad[bcast_offset(x, n, o)] += n->grad[o] * bin_local(k, which, va, vb);
    }
}

static void binary_backward(ft_node *n) {
    binary_backward_input(n, 0, false);
    binary_backward_input(n, 1, false);
}

static ft_status binary_forward_ref(ft_node *n) {
    bin_kind k = kind_of(n);
    for (int64_t o = 0; o < n->numel; o++)
        n->val[o] = bin_apply(k, n->in[0]->val[bcast_offset(n->in[0], n, o)], n->in[1]->val[bcast_offset(n->in[1], n, o)]);
    return FT_OK;
}

static void binary_backward_ref(ft_node *n) {
    binary_backward_input(n, 0, true);
    binary_backward_input(n, 1, true);
}

static unsigned binary_saves(const ft_node *n) {
    switch (n->op) {
    case FT_OP_ADD: case FT_OP_SUB: return 0;
    case FT_OP_MUL: return (n->in[0]->requires_grad ? 2u : 0u) | (n->in[1]->requires_grad ? 1u : 0u);
    default: return 3u; /* div needs both for either gradient */
    }
}

const ft_op_def ft_def_add = {"add", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_sub = {"sub", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_mul = {"mul", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_div = {"div", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};

/* ---------------- unary ops ----------------
 * Each activation is a pair of scalar functions: f(x) and f'(x) expressed through x and
 * y = f(x), whichever is cheaper. The fast kernels are parallel loops; the reference
 * kernels compute in double. */

static unsigned save_none(const ft_node *n) { return 0; }
static unsigned save_in(const ft_node *n) { return 1u; }
static unsigned save_out(const ft_node *n) { return FT_SAVE_OUT; }

static ft_node *unary(ft_graph *g, ft_op op, ft_node *x) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    return ft_node_new(g, op, 1, &x, x->ndim, x->shape);
}

#define UNARY_OP(NAME, ENUM, SAVES, FWD, BWD)                                                    \
    static ft_status NAME##_forward(ft_node *n) {                                                 \
        const float *xv = n->in[0]->val;                                                          \
        float *yv = n->val;                                                                       \
        const float *fa = n->farg; const int32_t *ia = n->iarg; (void)fa; (void)ia;               \
        _Pragma("omp parallel for simd if (n->numel > FT_PAR_MIN)")                               \
        for (int64_t i = 0; i < n->numel; i++) { float x = xv[i]; yv[i] = (FWD); }               \
        return FT_OK;                                                                             \
    }                                                                                             \
    static void NAME##_backward(ft_node *n) {                                                     \
        const float *xv = n->in[0]->val, *yv = n->val, *gy = n->grad;                             \
        float *gx = n->in[0]->grad;                                                               \
        const float *fa = n->farg; const int32_t *ia = n->iarg; (void)fa; (void)ia;               \
        _Pragma("omp parallel for simd if (n->numel > FT_PAR_MIN)")                               \
        for (int64_t i = 0; i < n->numel; i++) {                                                  \
            float x = xv[i], y = yv[i]; (void)x; (void)y; /* unsaved ones are never read */      \
            gx[i] += gy[i] * (float)(BWD);                                                        \
        }                                                                                         \
    }                                                                                             \
    static ft_status NAME##_forward_ref(ft_node *n) {                                             \
        const float *fa = n->farg; const int32_t *ia = n->iarg; (void)fa; (void)ia;               \
        for (int64_t i = 0; i < n->numel; i++) { double x = n->in[0]->val[i]; n->val[i] = (float)(FWD); } \
        return FT_OK;                                                                             \
    }                                                                                             \
    static void NAME##_backward_ref(ft_node *n) {                                                 \
        const float *fa = n->farg; const int32_t *ia = n->iarg; (void)fa; (void)ia;               \
        for (int64_t i = 0; i < n->numel; i++) {                                                  \
            double x = n->in[0]->val ? n->in[0]->val[i] : 0.0, y = n->val ? n->val[i] : 0.0;      \
            (void)x; (void)y;                                                                     \
            n->in[0]->grad[i] += (float)(n->grad[i] * (BWD));                                     \
        }                                                                                         \
    }                                                                                             \
    const ft_op_def ft_def_##NAME = {#NAME, NAME##_forward, NAME##_backward, NAME##_forward_ref,  \
                                     NAME##_backward_ref, SAVES, NULL};

/* Values not saved for backward may have been reused by the planner; the kernels above
 * read x or y only where SAVES says they are kept. */
#define SQRT_2_OVER_PI 0.7978845608028654
#define INV_SQRT_2 0.7071067811865476
#define INV_SQRT_2PI 0.3989422804014327

UNARY_OP(scale, FT_OP_SCALE, save_none, fa[0] * x + fa[1], fa[0])
UNARY_OP(relu, FT_OP_RELU, save_out, x > 0 ? x : 0, y > 0 ? 1 : 0)
UNARY_OP(sigmoid, FT_OP_SIGMOID, save_out, 1 / (1 + exp(-x)), y * (1 - y))
UNARY_OP(tanh, FT_OP_TANH, save_out, tanh(x), 1 - y * y)
UNARY_OP(silu, FT_OP_SILU, save_in, x / (1 + exp(-x)),
         (1 / (1 + exp(-x))) * (1 + x * (1 - 1 / (1 + exp(-x)))))
/* GELU: iarg[0] = 0 exact (erf), 1 tanh approximation (GPT-2's "gelu_new"). */
UNARY_OP(gelu, FT_OP_GELU, save_in,
         ia[0] ? 0.5 * x * (1 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
               : 0.5 * x * (1 + erf(x * INV_SQRT_2)),
         ia[0] ? 0.5 * (1 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))) +
                     0.5 * x * (1 - tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)) *
                                        tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))) *
                         SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
               : 0.5 * (1 + erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x))

/* The hard activations of MobileNet. Gradients as torch: zero at and beyond the clamp
 * points (relu6: x <= 0 or x >= 6; hardsigmoid: x <= -3 or x >= 3), and hardswish's slope
 * is x/3 + 1/2 on [-3, 3] (1 above, 0 below). relu6 and hardsigmoid read y: a value strictly
 * inside the clamp range means x was too. */
UNARY_OP(relu6, FT_OP_RELU6, save_out, x < 0 ? 0 : x > 6 ? 6 : x, (y > 0 && y < 6) ? 1 : 0)
UNARY_OP(hardsigmoid, FT_OP_HARDSIGMOID, save_out, x <= -3 ? 0 : x >= 3 ? 1 : x / 6 + 0.5,
         (y > 0 && y < 1) ? 1.0 / 6 : 0)
UNARY_OP(hardswish, FT_OP_HARDSWISH, save_in, x <= -3 ? 0 : x >= 3 ? x : x * (x + 3) / 6,
         x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1)

ft_node *ft_relu6(ft_graph *g, ft_node *x) { return unary(g, FT_OP_RELU6, x); }
ft_node *ft_hardsigmoid(ft_graph *g, ft_node *x) { return unary(g, FT_OP_HARDSIGMOID, x); }
ft_node *ft_hardswish(ft_graph *g, ft_node *x) { return unary(g, FT_OP_HARDSWISH, x); }

ft_node *ft_scale(ft_graph *g, ft_node *x, float a, float b) {
    ft_node *n = unary(g, FT_OP_SCALE, x);
    if (n) { n->farg[0] = a; n->farg[1] = b; }
    return n;
}
ft_node *ft_relu(ft_graph *g, ft_node *x) { return unary(g, FT_OP_RELU, x); }
ft_node *ft_sigmoid(ft_graph *g, ft_node *x) { return unary(g, FT_OP_SIGMOID, x); }
ft_node *ft_tanh(ft_graph *g, ft_node *x) { return unary(g, FT_OP_TANH, x); }
ft_node *ft_silu(ft_graph *g, ft_node *x) { return unary(g, FT_OP_SILU, x); }
ft_node *ft_gelu(ft_graph *g, ft_node *x, bool tanh_approx) {
    ft_node *n = unary(g, FT_OP_GELU, x);
    if (n) n->iarg[0] = tanh_approx;
    return n;
}
