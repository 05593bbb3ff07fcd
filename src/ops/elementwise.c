/* Elementwise ops: broadcasting add/sub/mul/div and the ONNX binary ops (pow, maximum,
 * minimum, prelu, comparisons, where), affine scale, activations and unary math. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

/* ---------------- broadcasting binary ops ----------------
 * NumPy rules: shapes align from the right; a dim of 1 (or a missing dim) broadcasts.
 * Fast paths: same shape, or an input that is one block of the output: its dims equal the
 * output's on a contiguous range and are 1 elsewhere (a bias [C], a per-channel [C,1,1]
 * against NCHW), so its offset is (o / inner) % C. The reference path maps every output
 * index through strides. where(cond, a, b) shares the machinery with three operands. */

typedef enum {
    BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MAX, BIN_MIN, BIN_PRELU,
    BIN_EQ, BIN_GT, BIN_GE, BIN_LT, BIN_LE, BIN_WHERE
} bin_kind;

/* The broadcast shape of n operands; NULL (and a graph error) when they do not broadcast. */
static ft_node *broadcast_new(ft_graph *g, ft_op op, int n, ft_node **in) {
    if (!ft_graph_ok(g, n, in)) return NULL;
    int nd = 0;
    for (int i = 0; i < n; i++) nd = in[i]->ndim > nd ? in[i]->ndim : nd;
    int64_t shape[FT_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        shape[d] = 1;
        for (int i = 0; i < n; i++) {
            int di = d - (nd - in[i]->ndim);
            int64_t s = di >= 0 ? in[i]->shape[di] : 1;
            if (s == 1) continue;
            if (shape[d] != 1 && shape[d] != s) {
                char s1[64], s2[64];
                ft_shape_str(in[0], s1, sizeof s1);
                ft_shape_str(in[i], s2, sizeof s2);
                return ft_graph_fail(g, FT_ESHAPE, "%s: shapes %s and %s do not broadcast", ft_op_name(op), s1, s2);
            }
            shape[d] = s;
        }
    }
    return ft_node_new(g, op, n, in, nd, shape);
}

static ft_node *binary(ft_graph *g, ft_op op, ft_node *a, ft_node *b) {
    ft_node *in[2] = {a, b};
    return broadcast_new(g, op, 2, in);
}

ft_node *ft_add(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_ADD, a, b); }
ft_node *ft_sub(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_SUB, a, b); }
ft_node *ft_mul(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_MUL, a, b); }
ft_node *ft_div(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_DIV, a, b); }
ft_node *ft_pow(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_POW, a, b); }
ft_node *ft_maximum(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_MAXIMUM, a, b); }
ft_node *ft_minimum(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_MINIMUM, a, b); }
ft_node *ft_equal(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_EQUAL, a, b); }
ft_node *ft_greater(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_GREATER, a, b); }
ft_node *ft_greater_equal(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_GREATER_EQUAL, a, b); }
ft_node *ft_less(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_LESS, a, b); }
ft_node *ft_less_equal(ft_graph *g, ft_node *a, ft_node *b) { return binary(g, FT_OP_LESS_EQUAL, a, b); }

ft_node *ft_where(ft_graph *g, ft_node *cond, ft_node *a, ft_node *b) {
    ft_node *in[3] = {cond, a, b};
    return broadcast_new(g, FT_OP_WHERE, 3, in);
}

/* Unidirectional (ONNX): slope broadcasts to x, the output keeps x's shape. */
ft_node *ft_prelu(ft_graph *g, ft_node *x, ft_node *slope) {
    ft_node *n = binary(g, FT_OP_PRELU, x, slope);
    if (!n) return NULL;
    bool same = n->ndim == x->ndim;
    for (int d = 0; same && d < x->ndim; d++) same = n->shape[d] == x->shape[d];
    if (!same) {
        char s1[64], s2[64];
        ft_shape_str(x, s1, sizeof s1);
        ft_shape_str(slope, s2, sizeof s2);
        return ft_graph_fail(g, FT_ESHAPE, "prelu: slope %s does not broadcast to x %s", s2, s1);
    }
    return n;
}

static bin_kind kind_of(const ft_node *n) {
    switch (n->op) {
    case FT_OP_ADD: return BIN_ADD;
    case FT_OP_SUB: return BIN_SUB;
    case FT_OP_MUL: return BIN_MUL;
    case FT_OP_DIV: return BIN_DIV;
    case FT_OP_POW: return BIN_POW;
    case FT_OP_MAXIMUM: return BIN_MAX;
    case FT_OP_MINIMUM: return BIN_MIN;
    case FT_OP_PRELU: return BIN_PRELU;
    case FT_OP_EQUAL: return BIN_EQ;
    case FT_OP_GREATER: return BIN_GT;
    case FT_OP_GREATER_EQUAL: return BIN_GE;
    case FT_OP_LESS: return BIN_LT;
    case FT_OP_LESS_EQUAL: return BIN_LE;
    default: return BIN_WHERE;
    }
}

/* How input x maps onto output positions: a block (offset (o / inner) % C; the same shape
 * is inner 1, C numel) or, failing that, the general stride walk. */
typedef struct { bool same, block; int64_t inner, C; } bmap;

static bmap bmap_of(const ft_node *x, const ft_node *out) {
    bmap m = {x->numel == out->numel, true, 1, 1};
    int off = out->ndim - x->ndim, lo = -1, hi = -1;
    for (int d = 0; d < x->ndim; d++)
        if (x->shape[d] != 1) { if (lo < 0) lo = d + off; hi = d + off; }
    if (lo < 0) return m; /* one element */
    for (int d = lo; d <= hi; d++) {
        if (x->shape[d - off] != out->shape[d]) { m.block = false; return m; }
        m.C *= out->shape[d];
    }
    for (int d = hi + 1; d < out->ndim; d++) m.inner *= out->shape[d];
    return m;
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

static inline int64_t bmap_at(const bmap *m, const ft_node *x, const ft_node *out, int64_t o) {
    if (m->same) return o;
    if (m->block) return m->inner == 1 ? o % m->C : (o / m->inner) % m->C;
    return bcast_offset(x, out, o);
}

/* torch.maximum/minimum propagate NaN. */
static inline float fmax_nan(float a, float b) { return a != a ? a : b != b ? b : a > b ? a : b; }
static inline float fmin_nan(float a, float b) { return a != a ? a : b != b ? b : a < b ? a : b; }

static inline float bin_apply(bin_kind k, float a, float b) {
    switch (k) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    case BIN_DIV: return a / b;
    case BIN_POW: return powf(a, b);
    case BIN_MAX: return fmax_nan(a, b);
    case BIN_MIN: return fmin_nan(a, b);
    case BIN_PRELU: return a > 0 ? a : b * a;
    case BIN_EQ: return a == b ? 1.0f : 0.0f;
    case BIN_GT: return a > b ? 1.0f : 0.0f;
    case BIN_GE: return a >= b ? 1.0f : 0.0f;
    case BIN_LT: return a < b ? 1.0f : 0.0f;
    case BIN_LE: return a <= b ? 1.0f : 0.0f;
    default: return 0.0f;
    }
}

/* One operand a single (non-NaN) value and the other the output's shape: ONNX graphs clamp
 * with Max(x, c) and scale with Mul(x, c). Vector loops with the same results as
 * bin_apply (NaN and operand order included). Returns false when it does not apply. */
static bool scalar_forward(ft_node *n, bin_kind k) {
    const ft_node *a = n->in[0], *b = n->in[1];
    int64_t N = n->numel;
    bool bs = b->numel == 1 && a->numel == N, as = a->numel == 1 && b->numel == N;
    if (!(as || bs) || N < 2) return false;
    const float *v = bs ? a->val : b->val;
    const float c = bs ? b->val[0] : a->val[0];
    float *y = n->val;
    if (c != c) return false;
    switch (k) {
    case BIN_MAX: /* fmax_nan(a, b): a NaN -> a; b NaN -> b; else a > b ? a : b */
        if (bs) {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = (v[o] > c || v[o] != v[o]) ? v[o] : c;
        } else {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = c > v[o] ? c : v[o];
        }
        return true;
    case BIN_MIN:
        if (bs) {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = (v[o] < c || v[o] != v[o]) ? v[o] : c;
        } else {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = c < v[o] ? c : v[o];
        }
        return true;
    case BIN_ADD:
        #pragma omp parallel for simd if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) y[o] = bs ? v[o] + c : c + v[o];
        return true;
    case BIN_SUB:
        #pragma omp parallel for simd if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) y[o] = bs ? v[o] - c : c - v[o];
        return true;
    case BIN_MUL:
        #pragma omp parallel for simd if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) y[o] = bs ? v[o] * c : c * v[o];
        return true;
    default:
        return false;
    }
}

/* The gradient to the full-shape operand `which` when the other one is a single
 * (non-NaN) value: bin_local's values in vector loops. Returns false when it does not apply. */
static bool scalar_backward(ft_node *n, bin_kind k, int which) {
    ft_node *x = n->in[which];
    const ft_node *o_ = n->in[1 - which];
    int64_t N = n->numel;
    if (n->n_in != 2 || x->numel != N || o_->numel != 1 || N < 2) return false;
    const float c = o_->val[0], *v = x->val, *gy = n->grad;
    float *gx = x->grad;
    if (c != c) return false;
    switch (k) {
    case BIN_MAX: /* which 0: a = v, b = c: v == c ? 0.5 : v > c; which 1: a = c, b = v: v == c ? 0.5 : !(c > v) */
        if (!which) {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) gx[o] += gy[o] * (v[o] == c ? 0.5f : v[o] > c ? 1.0f : 0.0f);
        } else {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) gx[o] += gy[o] * (v[o] == c ? 0.5f : c > v[o] ? 0.0f : 1.0f);
        }
        return true;
    case BIN_MIN:
        if (!which) {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) gx[o] += gy[o] * (v[o] == c ? 0.5f : v[o] < c ? 1.0f : 0.0f);
        } else {
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) gx[o] += gy[o] * (v[o] == c ? 0.5f : c < v[o] ? 0.0f : 1.0f);
        }
        return true;
    case BIN_MUL:
        #pragma omp parallel for simd if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) gx[o] += gy[o] * c;
        return true;
    case BIN_SUB:
        if (!which) return false; /* which 0 of sub: the plain pass-through below */
        #pragma omp parallel for simd if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) gx[o] -= gy[o];
        return true;
    default:
        return false;
    }
}

static ft_status binary_forward(ft_node *n) {
    const ft_node *a = n->in[0], *b = n->in[1];
    bin_kind k = kind_of(n);
    int64_t N = n->numel;
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
        case BIN_DIV:
            #pragma omp parallel for simd if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = av[o] / bv[o];
            break;
        default:
            #pragma omp parallel for if (N > FT_PAR_MIN)
            for (int64_t o = 0; o < N; o++) y[o] = bin_apply(k, av[o], bv[o]);
            break;
        }
        return FT_OK;
    }
    if (scalar_forward(n, k)) return FT_OK;
    bmap ma = bmap_of(a, n), mb = bmap_of(b, n);
    #pragma omp parallel for if (N > FT_PAR_MIN)
    for (int64_t o = 0; o < N; o++) n->val[o] = bin_apply(k, a->val[bmap_at(&ma, a, n, o)], b->val[bmap_at(&mb, b, n, o)]);
    return FT_OK;
}

static ft_status where_forward(ft_node *n) {
    const ft_node *c = n->in[0], *a = n->in[1], *b = n->in[2];
    int64_t N = n->numel;
    bmap mc = bmap_of(c, n), ma = bmap_of(a, n), mb = bmap_of(b, n);
    #pragma omp parallel for if (N > FT_PAR_MIN)
    for (int64_t o = 0; o < N; o++)
        n->val[o] = c->val[bmap_at(&mc, c, n, o)] != 0 ? a->val[bmap_at(&ma, a, n, o)] : b->val[bmap_at(&mb, b, n, o)];
    return FT_OK;
}

/* d out / d input `which` at an output position whose operands are a and b (where: the
 * condition and, unused, nothing: a = cond). */
static inline float bin_local(bin_kind k, int which, float a, float b) {
    switch (k) {
    case BIN_ADD: return 1.0f;
    case BIN_SUB: return which ? -1.0f : 1.0f;
    case BIN_MUL: return which ? a : b;
    case BIN_DIV: return which ? -a / (b * b) : 1.0f / b;
    case BIN_POW: /* torch: 0 where the exponent is 0; for the exponent, 0 where a == 0 and b >= 0 */
        if (!which) return b == 0 ? 0.0f : b * powf(a, b - 1);
        return (a == 0 && b >= 0) ? 0.0f : powf(a, b) * logf(a);
    case BIN_MAX: return a == b ? 0.5f : ((a > b) == !which) ? 1.0f : 0.0f;
    case BIN_MIN: return a == b ? 0.5f : ((a < b) == !which) ? 1.0f : 0.0f;
    case BIN_PRELU: return which ? (a > 0 ? 0.0f : a) : (a > 0 ? 1.0f : b);
    case BIN_WHERE: return (a != 0) == (which == 1) ? 1.0f : 0.0f;
    default: return 0.0f; /* comparisons: no gradient */
    }
}

/* The local derivative at output o: binary ops read in[0], in[1]; where reads cond. */
static inline float local_at(const ft_node *n, bin_kind k, int which, const bmap *m, int64_t o) {
    const ft_node *a = n->in[0];
    float va = a->val[bmap_at(&m[0], a, n, o)];
    if (k == BIN_WHERE) return bin_local(k, which, va, 0.0f);
    if (k == BIN_ADD || k == BIN_SUB) return bin_local(k, which, 0.0f, 0.0f);
    const ft_node *b = n->in[1];
    return bin_local(k, which, va, b->val[bmap_at(&m[1], b, n, o)]);
}

static void binary_backward_input(ft_node *n, int which, bool reference) {
    ft_node *x = n->in[which];
    if (!x->grad) return;
    bin_kind k = kind_of(n);
    int64_t N = n->numel;
    if (N == 0) return;
    bmap m[3];
    int n_read = k == BIN_WHERE ? 1 : 2; /* operands the local derivative reads */
    for (int i = 0; i < n_read; i++) m[i] = bmap_of(n->in[i], n);
    if (reference) {
        for (int i = 0; i < n_read; i++) m[i].same = m[i].block = false;
        for (int64_t o = 0; o < N; o++) x->grad[bcast_offset(x, n, o)] += n->grad[o] * local_at(n, k, which, m, o);
        return;
    }
    if (x->numel == N && k == BIN_ADD) { /* residual adds: the gradient passes through */
        float *gx = x->grad;
        const float *gy = n->grad;
        #pragma omp parallel for simd if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) gx[o] += gy[o];
        return;
    }
    if (x->numel == N && k != BIN_WHERE && scalar_backward(n, k, which)) return;
    if (x->numel == N) {
        #pragma omp parallel for if (N > FT_PAR_MIN)
        for (int64_t o = 0; o < N; o++) x->grad[o] += n->grad[o] * local_at(n, k, which, m, o);
        return;
    }
    bmap mx = bmap_of(x, n);
    if (mx.block) {
        /* Reduce over the broadcast positions; parallel over the input's elements (no races). */
        int64_t C = mx.C, inner = mx.inner, outer = N / (C * inner);
        #pragma omp parallel for if (N > FT_PAR_MIN)
        for (int64_t j = 0; j < C; j++) {
            float s = 0.0f;
            for (int64_t q = 0; q < outer; q++)
                for (int64_t i = 0; i < inner; i++) {
                    int64_t o = (q * C + j) * inner + i;
                    s += n->grad[o] * local_at(n, k, which, m, o);
                }
            x->grad[j] += s;
        }
        return;
    }
    for (int64_t o = 0; o < N; o++) x->grad[bcast_offset(x, n, o)] += n->grad[o] * local_at(n, k, which, m, o);
}

static void binary_backward(ft_node *n) {
    for (int i = 0; i < n->n_in; i++)
        if (!(n->op == FT_OP_WHERE && i == 0)) binary_backward_input(n, i, false);
}

static ft_status binary_forward_ref(ft_node *n) {
    bin_kind k = kind_of(n);
    for (int64_t o = 0; o < n->numel; o++) {
        if (k == BIN_WHERE)
            n->val[o] = n->in[0]->val[bcast_offset(n->in[0], n, o)] != 0 ? n->in[1]->val[bcast_offset(n->in[1], n, o)]
                                                                          : n->in[2]->val[bcast_offset(n->in[2], n, o)];
        else
            n->val[o] = bin_apply(k, n->in[0]->val[bcast_offset(n->in[0], n, o)], n->in[1]->val[bcast_offset(n->in[1], n, o)]);
    }
    return FT_OK;
}

static void binary_backward_ref(ft_node *n) {
    for (int i = 0; i < n->n_in; i++)
        if (!(n->op == FT_OP_WHERE && i == 0)) binary_backward_input(n, i, true);
}

static unsigned binary_saves(const ft_node *n) {
    switch (n->op) {
    case FT_OP_ADD: case FT_OP_SUB: return 0;
    case FT_OP_MUL: return (n->in[0]->requires_grad ? 2u : 0u) | (n->in[1]->requires_grad ? 1u : 0u);
    case FT_OP_WHERE: return 1u; /* the condition */
    case FT_OP_EQUAL: case FT_OP_GREATER: case FT_OP_GREATER_EQUAL: case FT_OP_LESS: case FT_OP_LESS_EQUAL: return 0;
    default: return 3u; /* div, pow, maximum, minimum, prelu need both for either gradient */
    }
}

static void no_backward(ft_node *n) { (void)n; }

const ft_op_def ft_def_add = {"add", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_sub = {"sub", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_mul = {"mul", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_div = {"div", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_pow = {"pow", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_maximum = {"maximum", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_minimum = {"minimum", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_prelu = {"prelu", binary_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
const ft_op_def ft_def_where = {"where", where_forward, binary_backward, binary_forward_ref, binary_backward_ref, binary_saves, NULL};
#define CMP_DEF(NAME) \
    const ft_op_def ft_def_##NAME = {#NAME, binary_forward, no_backward, binary_forward_ref, no_backward, binary_saves, NULL};
CMP_DEF(equal)
CMP_DEF(greater)
CMP_DEF(greater_equal)
CMP_DEF(less)
CMP_DEF(less_equal)

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

/* ---------------- ONNX unary math ----------------
 * Gradients follow torch's formulas, including their values at the edges: abs'(0) = 0,
 * sqrt'(0) = inf, log'(0) = inf, clip passes the gradient on its boundaries, pow with
 * exponent 0 has gradient 0. The fast kernels compute in float (G* pick the float libm
 * function), the reference kernels in double. */
#define GEXP(v) _Generic((v), float: expf, default: exp)(v)
#define GLOG(v) _Generic((v), float: logf, default: log)(v)
#define GSQRT(v) _Generic((v), float: sqrtf, default: sqrt)(v)
#define GERF(v) _Generic((v), float: erff, default: erf)(v)
#define GFABS(v) _Generic((v), float: fabsf, default: fabs)(v)
#define GPOW(v, e) _Generic((v), float: powf, default: pow)((v), (e))
#define TWO_OVER_SQRT_PI 1.1283791670955126f

UNARY_OP(exp, FT_OP_EXP, save_out, GEXP(x), y)
UNARY_OP(log, FT_OP_LOG, save_in, GLOG(x), 1 / x)
UNARY_OP(sqrt, FT_OP_SQRT, save_out, GSQRT(x), 0.5f / y)
UNARY_OP(abs, FT_OP_ABS, save_in, GFABS(x), (x > 0) - (x < 0))
UNARY_OP(neg, FT_OP_NEG, save_none, -x, -1)
UNARY_OP(erf, FT_OP_ERF, save_in, GERF(x), TWO_OVER_SQRT_PI * GEXP(-x * x))
UNARY_OP(reciprocal, FT_OP_RECIPROCAL, save_out, 1 / x, -y * y)
/* farg[0] = alpha. */
UNARY_OP(leaky_relu, FT_OP_LEAKY_RELU, save_in, x > 0 ? x : fa[0] * x, x > 0 ? 1 : fa[0])
/* farg[0] = lo, farg[1] = hi: min(max(x, lo), hi) (lo > hi gives hi, as torch); NaN passes. */
UNARY_OP(clip, FT_OP_CLIP, save_in, (x < fa[0] ? fa[0] : x) > fa[1] ? fa[1] : (x < fa[0] ? fa[0] : x),
         (x >= fa[0] && x <= fa[1]) ? 1 : 0)
/* farg[0] = exponent; 2, 0.5, 1 and -1 take torch's exact special cases. */
UNARY_OP(pow_scalar, FT_OP_POW_SCALAR, save_in,
         fa[0] == 2 ? x * x : fa[0] == 0.5f ? GSQRT(x) : fa[0] == 1 ? x : fa[0] == -1 ? 1 / x : GPOW(x, fa[0]),
         fa[0] == 0 ? 0 : fa[0] == 2 ? 2 * x : fa[0] == 1 ? 1 : fa[0] * GPOW(x, fa[0] - 1))

ft_node *ft_exp(ft_graph *g, ft_node *x) { return unary(g, FT_OP_EXP, x); }
ft_node *ft_log(ft_graph *g, ft_node *x) { return unary(g, FT_OP_LOG, x); }
ft_node *ft_sqrt(ft_graph *g, ft_node *x) { return unary(g, FT_OP_SQRT, x); }
ft_node *ft_abs(ft_graph *g, ft_node *x) { return unary(g, FT_OP_ABS, x); }
ft_node *ft_neg(ft_graph *g, ft_node *x) { return unary(g, FT_OP_NEG, x); }
ft_node *ft_erf(ft_graph *g, ft_node *x) { return unary(g, FT_OP_ERF, x); }
ft_node *ft_reciprocal(ft_graph *g, ft_node *x) { return unary(g, FT_OP_RECIPROCAL, x); }
ft_node *ft_leaky_relu(ft_graph *g, ft_node *x, float alpha) {
    ft_node *n = unary(g, FT_OP_LEAKY_RELU, x);
    if (n) n->farg[0] = alpha;
    return n;
}
ft_node *ft_clip(ft_graph *g, ft_node *x, float lo, float hi) {
    if (lo != lo || hi != hi) return ft_graph_fail(g, FT_EINVAL, "clip: bounds must not be NaN");
    ft_node *n = unary(g, FT_OP_CLIP, x);
    if (n) { n->farg[0] = lo; n->farg[1] = hi; }
    return n;
}
ft_node *ft_pow_scalar(ft_graph *g, ft_node *x, float exponent) {
    if (exponent != exponent) return ft_graph_fail(g, FT_EINVAL, "pow: exponent is NaN");
    ft_node *n = unary(g, FT_OP_POW_SCALAR, x);
    if (n) n->farg[0] = exponent;
    return n;
}
