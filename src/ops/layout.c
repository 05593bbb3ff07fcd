/* N-d data movement with ONNX semantics: gather (constant indices), expand (broadcast),
 * pad (constant / reflect / edge over every dim, negative pads crop) and permute. Values
 * are copied as 4-byte slots, so int32 tensors move too (they never need gradients).
 *
 * Fast kernels work a row (the last dim) at a time: a row's source offset is decoded once,
 * then the row is a memcpy, a fill or a strided gather. Backward adds into x's gradient;
 * rows run in parallel only where no two output rows feed the same input row (a gather
 * along dim 0, an expand or a reflect/edge pad of a leading dim run serially, or in
 * parallel over a dim that keeps them apart). The reference kernels decode every element's
 * coordinates on their own.
 *
 * gather   iarg[0] = axis; ilist = the indices, already in [0, D)
 * expand   nothing: x's shape and the node's shape say it all
 * pad      iarg[0] = mode; farg[0] = value; ilist = pads [begin_0.., end_0..]
 * permute  iarg[0..ndim) = perm */
#include "ops/ops.h"

#include <string.h>

/* Row-major strides of a shape. */
static void strides_of(int nd, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) { st[d] = s; s *= shape[d]; }
}

static unsigned save_none(const ft_node *n) { return 0; }

/* ---------------- gather ---------------- */

ft_node *ft_gather(ft_graph *g, ft_node *x, int axis, int idx_ndim, const int64_t *idx_shape, const int64_t *indices) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    int a = ft_norm_dim(axis, x->ndim);
    if (a < 0) return ft_graph_fail(g, FT_ESHAPE, "gather: axis %d out of range for %d dims", axis, x->ndim);
    if (idx_ndim < 0 || x->ndim - 1 + idx_ndim > FT_MAX_DIMS)
        return ft_graph_fail(g, FT_ESHAPE, "gather: %d index dims on a %d-dim input make more than %d dims", idx_ndim,
                             x->ndim, FT_MAX_DIMS);
    int64_t K = 1, s[FT_MAX_DIMS];
    for (int i = 0; i < idx_ndim; i++) {
        if (idx_shape[i] < 0) return ft_graph_fail(g, FT_ESHAPE, "gather: negative index shape");
        K *= idx_shape[i];
    }
    if (K > 0 && !indices) return ft_graph_fail(g, FT_EINVAL, "gather: no indices given");
    int o = 0;
    for (int d = 0; d < a; d++) s[o++] = x->shape[d];
    for (int i = 0; i < idx_ndim; i++) s[o++] = idx_shape[i];
    for (int d = a + 1; d < x->ndim; d++) s[o++] = x->shape[d];
    int64_t D = x->shape[a];
    for (int64_t k = 0; k < K; k++)
        if (indices[k] < -D || indices[k] >= D)
            return ft_graph_fail(g, FT_ESHAPE, "gather: index %lld (entry %lld) out of range for dim %d of size %lld",
                                 (long long)indices[k], (long long)k, a, (long long)D);
    int64_t *list = ft_malloc((size_t)(K ? K : 1) * sizeof *list);
    if (!list) return ft_graph_fail(g, FT_ENOMEM, "gather: out of memory");
    for (int64_t k = 0; k < K; k++) list[k] = indices[k] < 0 ? indices[k] + D : indices[k];
    ft_node *n = ft_node_new(g, FT_OP_GATHER, 1, &x, o, s);
    if (!n) { ft_free(list); return NULL; }
    n->iarg[0] = a;
    n->dtype = x->dtype;
    n->ilist = list;
    n->ilist_n = K;
    return n;
}

typedef struct { int64_t outer, D, inner, K; } gdims;
static gdims gather_get(const ft_node *n) {
    const ft_node *x = n->in[0];
    int a = n->iarg[0];
    gdims d = {1, x->shape[a], 1, n->ilist_n};
    for (int i = 0; i < a; i++) d.outer *= x->shape[i];
    for (int i = a + 1; i < x->ndim; i++) d.inner *= x->shape[i];
    return d;
}

static ft_status gather_forward(ft_node *n) {
    gdims d = gather_get(n);
    const float *x = n->in[0]->val;
    const int64_t *idx = n->ilist;
    #pragma omp parallel for collapse(2) if (n->numel > FT_PAR_MIN)
    for (int64_t o = 0; o < d.outer; o++)
        for (int64_t k = 0; k < d.K; k++)
            memcpy(n->val + (o * d.K + k) * d.inner, x + (o * d.D + idx[k]) * d.inner, (size_t)d.inner * sizeof(float));
    return FT_OK;
}

/* Repeated indices add into one row: parallel over the outer blocks only (disjoint). */
static void gather_backward(ft_node *n) {
    gdims d = gather_get(n);
    float *gx = n->in[0]->grad;
    const int64_t *idx = n->ilist;
    #pragma omp parallel for if (d.outer > 1 && n->numel > FT_PAR_MIN)
    for (int64_t o = 0; o < d.outer; o++)
        for (int64_t k = 0; k < d.K; k++) {
            float *dst = gx + (o * d.D + idx[k]) * d.inner;
            const float *src = n->grad + (o * d.K + k) * d.inner;
            #pragma omp simd
            for (int64_t i = 0; i < d.inner; i++) dst[i] += src[i];
        }
}

/* Reference: every output element decoded to (outer, k, inner) on its own. */
static ft_status gather_forward_ref(ft_node *n) {
    gdims d = gather_get(n);
    for (int64_t e = 0; e < n->numel; e++) {
        int64_t i = e % d.inner, k = (e / d.inner) % d.K, o = e / (d.inner * d.K);
        n->val[e] = n->in[0]->val[(o * d.D + n->ilist[k]) * d.inner + i];
    }
    return FT_OK;
}
static void gather_backward_ref(ft_node *n) {
    gdims d = gather_get(n);
    for (int64_t e = 0; e < n->numel; e++) {
        int64_t i = e % d.inner, k = (e / d.inner) % d.K, o = e / (d.inner * d.K);
        n->in[0]->grad[(o * d.D + n->ilist[k]) * d.inner + i] += n->grad[e];
    }
}
const ft_op_def ft_def_gather = {"gather", gather_forward, gather_backward, gather_forward_ref, gather_backward_ref,
                                 save_none, NULL};

/* ---------------- expand ---------------- */

ft_node *ft_expand(ft_graph *g, ft_node *x, int ndim, const int64_t *shape) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (ndim < 0 || ndim > FT_MAX_DIMS || (ndim && !shape))
        return ft_graph_fail(g, FT_ESHAPE, "expand: target shape of %d dims (at most %d)", ndim, FT_MAX_DIMS);
    int nd = ndim > x->ndim ? ndim : x->ndim;
    int64_t s[FT_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int xd = d - (nd - x->ndim), td = d - (nd - ndim);
        int64_t a = xd >= 0 ? x->shape[xd] : 1, b = td >= 0 ? shape[td] : 1;
        if (b < 0) return ft_graph_fail(g, FT_ESHAPE, "expand: negative dim %lld in the target shape", (long long)b);
        if (a == b || b == 1) s[d] = a;
        else if (a == 1) s[d] = b;
        else {
            char sx[64];
            ft_shape_str(x, sx, sizeof sx);
            return ft_graph_fail(g, FT_ESHAPE, "expand: input %s cannot broadcast to size %lld in dim %d of the result", sx,
                                 (long long)b, d);
        }
    }
    ft_node *n = ft_node_new(g, FT_OP_EXPAND, 1, &x, nd, s);
    if (n) n->dtype = x->dtype;
    return n;
}

/* x's strides aligned to the output's dims, 0 where x is broadcast (or missing). */
static void expand_strides(const ft_node *n, int64_t *xs) {
    const ft_node *x = n->in[0];
    int64_t st[FT_MAX_DIMS];
    strides_of(x->ndim, x->shape, st);
    int off = n->ndim - x->ndim;
    for (int d = 0; d < n->ndim; d++) {
        int xd = d - off;
        xs[d] = (xd >= 0 && x->shape[xd] == n->shape[d] && n->shape[d] != 1) ? st[xd] : 0;
    }
}

/* Offset in x of output row r (all dims but the last). */
static inline int64_t row_offset(int nd, const int64_t *shape, const int64_t *xs, int64_t r) {
    int64_t off = 0;
    for (int d = nd - 2; d >= 0; d--) {
        off += (r % shape[d]) * xs[d];
        r /= shape[d];
    }
    return off;
}

static ft_status expand_forward(ft_node *n) {
    if (!n->numel) return FT_OK;
    int64_t xs[FT_MAX_DIMS];
    expand_strides(n, xs);
    if (n->ndim == 0) { n->val[0] = n->in[0]->val[0]; return FT_OK; }
    int nd = n->ndim;
    int64_t L = n->shape[nd - 1], R = n->numel / L, sl = xs[nd - 1];
    const float *x = n->in[0]->val;
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *src = x + row_offset(nd, n->shape, xs, r);
        float *dst = n->val + r * L;
        if (sl) memcpy(dst, src, (size_t)L * sizeof(float));
        else {
            float v = src[0];
            for (int64_t i = 0; i < L; i++) dst[i] = v;
        }
    }
    return FT_OK;
}

static void expand_row_add(float *gx, const float *gy, int64_t L, int64_t sl) {
    if (sl) {
        #pragma omp simd
        for (int64_t i = 0; i < L; i++) gx[i] += gy[i];
    } else {
        float s = 0.0f;
        #pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < L; i++) s += gy[i];
        gx[0] += s;
    }
}

/* Rows that share an x row (a broadcast leading dim) must not run at once: parallel over
 * all rows when no leading dim is broadcast, else over dim 0 when it is not, else serial. */
static void expand_backward(ft_node *n) {
    if (!n->numel) return;
    int64_t xs[FT_MAX_DIMS];
    expand_strides(n, xs);
    float *gx = n->in[0]->grad;
    if (n->ndim == 0) { gx[0] += n->grad[0]; return; }
    int nd = n->ndim;
    int64_t L = n->shape[nd - 1], R = n->numel / L, sl = xs[nd - 1];
    bool lead_bcast = false;
    for (int d = 0; d < nd - 1; d++) lead_bcast |= xs[d] == 0 && n->shape[d] > 1;
    if (!lead_bcast) {
        #pragma omp parallel for if (n->numel > FT_PAR_MIN)
        for (int64_t r = 0; r < R; r++) expand_row_add(gx + row_offset(nd, n->shape, xs, r), n->grad + r * L, L, sl);
        return;
    }
    int64_t B = nd > 1 && (xs[0] != 0 || n->shape[0] == 1) ? n->shape[0] : 1, per = R / (B ? B : 1);
    #pragma omp parallel for if (B > 1 && n->numel > FT_PAR_MIN)
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = b * per; r < (b + 1) * per; r++)
            expand_row_add(gx + row_offset(nd, n->shape, xs, r), n->grad + r * L, L, sl);
}

static int64_t expand_ref_offset(const ft_node *n, int64_t e) {
    const ft_node *x = n->in[0];
    int64_t off = 0, mul = 1;
    for (int d = n->ndim - 1; d >= 0; d--) {
        int64_t c = e % n->shape[d];
        e /= n->shape[d];
        int xd = d - (n->ndim - x->ndim);
        if (xd < 0) continue;
        if (x->shape[xd] > 1) off += c * mul;
        mul *= x->shape[xd];
    }
    return off;
}
static ft_status expand_forward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) n->val[e] = n->in[0]->val[expand_ref_offset(n, e)];
    return FT_OK;
}
static void expand_backward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) n->in[0]->grad[expand_ref_offset(n, e)] += n->grad[e];
}
const ft_op_def ft_def_expand = {"expand", expand_forward, expand_backward, expand_forward_ref, expand_backward_ref,
                                 save_none, NULL};

/* ---------------- pad ---------------- */

ft_node *ft_pad(ft_graph *g, ft_node *x, const int64_t *pads, ft_padding_mode mode, float value) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    int nd = x->ndim;
    if (!pads && nd) return ft_graph_fail(g, FT_EINVAL, "pad: no pads given");
    if (mode != FT_PADDING_CONSTANT && mode != FT_PADDING_REFLECT && mode != FT_PADDING_EDGE)
        return ft_graph_fail(g, FT_EINVAL, "pad: unknown mode %d", (int)mode);
    static const char *const mname[] = {"constant", "reflect", "edge"};
    int64_t s[FT_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int64_t b = pads[d], e = pads[nd + d], D = x->shape[d];
        const int64_t lim = (int64_t)1 << 40;
        if (b < -lim || b > lim || e < -lim || e > lim)
            return ft_graph_fail(g, FT_EINVAL, "pad: pads %lld, %lld of dim %d out of range", (long long)b, (long long)e, d);
        int64_t kept = D + (b < 0 ? b : 0) + (e < 0 ? e : 0); /* after cropping */
        if (kept < 0 || D + b + e < 0)
            return ft_graph_fail(g, FT_ESHAPE, "pad: pads %lld, %lld crop more than dim %d's %lld values", (long long)b,
                                 (long long)e, d, (long long)D);
        int64_t grow = (b > 0 ? b : 0) > (e > 0 ? e : 0) ? (b > 0 ? b : 0) : (e > 0 ? e : 0);
        if (mode != FT_PADDING_CONSTANT && grow > 0 && (kept < 1 || (mode == FT_PADDING_REFLECT && grow >= kept)))
            return ft_graph_fail(g, FT_ESHAPE, "pad: %s padding of %lld on dim %d needs %s than the %lld values there",
                                 mname[mode], (long long)grow, d, mode == FT_PADDING_REFLECT ? "more" : "at least one value, more",
                                 (long long)kept);
        s[d] = D + b + e;
    }
    int64_t *list = ft_malloc((size_t)(2 * nd + 1) * sizeof *list);
    if (!list) return ft_graph_fail(g, FT_ENOMEM, "pad: out of memory");
    memcpy(list, pads, (size_t)(2 * nd) * sizeof *list);
    ft_node *n = ft_node_new(g, FT_OP_PAD, 1, &x, nd, s);
    if (!n) { ft_free(list); return NULL; }
    n->ilist = list;
    n->ilist_n = 2 * nd;
    n->iarg[0] = mode;
    n->dtype = x->dtype;
    if (x->dtype == FT_I32) { /* the fill value as int32 bits */
        int32_t iv = (int32_t)value;
        memcpy(&n->farg[0], &iv, sizeof iv);
    } else {
        n->farg[0] = value;
    }
    return n;
}

/* Source coordinate of output coordinate o along dim d, or -1 for a constant pad. */
static inline int64_t pad_src(const ft_node *n, int d, int64_t o) {
    int nd = n->ndim;
    int64_t b = n->ilist[d], e = n->ilist[nd + d], D = n->in[0]->shape[d];
    int64_t lo = b < 0 ? -b : 0, hi = D - (e < 0 ? -e : 0), s = o - b;
    if (s >= lo && s < hi) return s;
    switch (n->iarg[0]) {
    case FT_PADDING_EDGE: return s < lo ? lo : hi - 1;
    case FT_PADDING_REFLECT: return s < lo ? 2 * lo - s : 2 * (hi - 1) - s;
    default: return -1;
    }
}

/* Offset in x of output row r (dims but the last), or -1 when the row is constant padding. */
static inline int64_t pad_row_src(const ft_node *n, const int64_t *xst, int64_t r) {
    int64_t off = 0;
    for (int d = n->ndim - 2; d >= 0; d--) {
        int64_t s = pad_src(n, d, r % n->shape[d]);
        r /= n->shape[d];
        if (s < 0) return -1;
        off += s * xst[d];
    }
    return off;
}

typedef struct { int64_t L, R, b, lo, hi, W; } pad_row;
static pad_row pad_row_get(const ft_node *n) {
    int nd = n->ndim;
    pad_row p;
    p.L = n->shape[nd - 1];
    p.R = p.L ? n->numel / p.L : 0;
    p.b = n->ilist[nd - 1];
    p.W = n->in[0]->shape[nd - 1];
    p.lo = p.b < 0 ? -p.b : 0;
    p.hi = p.W - (n->ilist[2 * nd - 1] < 0 ? -n->ilist[2 * nd - 1] : 0);
    return p;
}

static ft_status pad_forward(ft_node *n) {
    if (!n->numel) return FT_OK;
    const ft_node *x = n->in[0];
    if (n->ndim == 0) { n->val[0] = x->val[0]; return FT_OK; }
    int64_t xst[FT_MAX_DIMS];
    strides_of(x->ndim, x->shape, xst);
    pad_row p = pad_row_get(n);
    float v = n->farg[0];
    /* output columns [c0, c1) copy x columns [c0 - b, c1 - b) = [lo, hi) */
    int64_t c0 = p.lo + p.b, c1 = p.hi + p.b;
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < p.R; r++) {
        float *y = n->val + r * p.L;
        int64_t off = pad_row_src(n, xst, r);
        if (off < 0) {
            for (int64_t i = 0; i < p.L; i++) y[i] = v;
            continue;
        }
        const float *xr = x->val + off;
        if (c1 > c0) memcpy(y + c0, xr + p.lo, (size_t)(c1 - c0) * sizeof(float));
        for (int64_t i = 0; i < c0; i++) {
            int64_t s = pad_src(n, n->ndim - 1, i);
            y[i] = s < 0 ? v : xr[s];
        }
        for (int64_t i = c1 > c0 ? c1 : c0; i < p.L; i++) {
            int64_t s = pad_src(n, n->ndim - 1, i);
            y[i] = s < 0 ? v : xr[s];
        }
    }
    return FT_OK;
}

static void pad_row_add(const ft_node *n, const pad_row *p, float *gr, const float *gy) {
    int64_t c0 = p->lo + p->b, c1 = p->hi + p->b;
    if (c1 > c0) {
        const float *src = gy + c0;
        float *dst = gr + p->lo;
        #pragma omp simd
        for (int64_t i = 0; i < c1 - c0; i++) dst[i] += src[i];
    }
    if (n->iarg[0] == FT_PADDING_CONSTANT) return;
    for (int64_t i = 0; i < c0; i++) gr[pad_src(n, n->ndim - 1, i)] += gy[i];
    for (int64_t i = c1 > c0 ? c1 : c0; i < p->L; i++) gr[pad_src(n, n->ndim - 1, i)] += gy[i];
}

/* Constant padding maps rows one-to-one: parallel. Reflect/edge padding of a leading dim
 * sends several rows to one: serial (the last dim's own copies stay inside a row). */
static void pad_backward(ft_node *n) {
    if (!n->numel) return;
    ft_node *x = n->in[0];
    if (n->ndim == 0) { x->grad[0] += n->grad[0]; return; }
    int64_t xst[FT_MAX_DIMS];
    strides_of(x->ndim, x->shape, xst);
    pad_row p = pad_row_get(n);
    bool shared = false;
    for (int d = 0; d < n->ndim - 1 && n->iarg[0] != FT_PADDING_CONSTANT; d++)
        shared |= n->ilist[d] > 0 || n->ilist[n->ndim + d] > 0;
    if (shared) {
        for (int64_t r = 0; r < p.R; r++) {
            int64_t off = pad_row_src(n, xst, r);
            if (off >= 0) pad_row_add(n, &p, x->grad + off, n->grad + r * p.L);
        }
        return;
    }
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < p.R; r++) {
        int64_t off = pad_row_src(n, xst, r);
        if (off >= 0) pad_row_add(n, &p, x->grad + off, n->grad + r * p.L);
    }
}

/* Reference: each output element's source decoded dim by dim; -1 = constant. */
static int64_t pad_ref_src(const ft_node *n, int64_t e) {
    int64_t off = 0, mul = 1;
    for (int d = n->ndim - 1; d >= 0; d--) {
        int64_t o = e % n->shape[d];
        e /= n->shape[d];
        int64_t b = n->ilist[d], en = n->ilist[n->ndim + d], D = n->in[0]->shape[d];
        int64_t lo = b < 0 ? -b : 0, hi = D - (en < 0 ? -en : 0), s = o - b;
        if (s < lo || s >= hi) {
            if (n->iarg[0] == FT_PADDING_CONSTANT) return -1;
            if (n->iarg[0] == FT_PADDING_EDGE) s = s < lo ? lo : hi - 1;
            else s = s < lo ? lo + (lo - s) : (hi - 1) - (s - (hi - 1));
        }
        off += s * mul;
        mul *= D;
    }
    return off;
}
static ft_status pad_forward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) {
        int64_t s = pad_ref_src(n, e);
        n->val[e] = s < 0 ? n->farg[0] : n->in[0]->val[s];
    }
    return FT_OK;
}
static void pad_backward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) {
        int64_t s = pad_ref_src(n, e);
        if (s >= 0) n->in[0]->grad[s] += n->grad[e];
    }
}
const ft_op_def ft_def_pad = {"pad", pad_forward, pad_backward, pad_forward_ref, pad_backward_ref, save_none, NULL};

/* ---------------- permute ---------------- */

ft_node *ft_permute(ft_graph *g, ft_node *x, const int *perm) {
    if (!ft_graph_ok(g, 1, &x)) return NULL;
    if (!perm && x->ndim) return ft_graph_fail(g, FT_EINVAL, "permute: no permutation given");
    int64_t s[FT_MAX_DIMS];
    unsigned seen = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || (seen & (1u << perm[i])))
            return ft_graph_fail(g, FT_ESHAPE, "permute: not a permutation of the %d dims of the input", x->ndim);
        seen |= 1u << perm[i];
        s[i] = x->shape[perm[i]];
    }
    ft_node *n = ft_node_new(g, FT_OP_PERMUTE, 1, &x, x->ndim, s);
    if (!n) return NULL;
    for (int i = 0; i < x->ndim; i++) n->iarg[i] = perm[i];
    n->dtype = x->dtype;
    return n;
}

/* x's stride for each output dim. */
static void permute_strides(const ft_node *n, int64_t *xs) {
    int64_t st[FT_MAX_DIMS];
    strides_of(n->in[0]->ndim, n->in[0]->shape, st);
    for (int d = 0; d < n->ndim; d++) xs[d] = st[n->iarg[d]];
}

/* A permutation is one-to-one: rows run in parallel both ways. */
static void permute_move(ft_node *n, bool backward) {
    if (!n->numel) return;
    int64_t xs[FT_MAX_DIMS];
    permute_strides(n, xs);
    int nd = n->ndim;
    float *x = backward ? n->in[0]->grad : n->in[0]->val;
    if (nd == 0) { if (backward) x[0] += n->grad[0]; else n->val[0] = x[0]; return; }
    int64_t L = n->shape[nd - 1], R = n->numel / L, sl = xs[nd - 1];
    #pragma omp parallel for if (n->numel > FT_PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        float *xr = x + row_offset(nd, n->shape, xs, r);
        if (backward) {
            const float *gy = n->grad + r * L;
            for (int64_t i = 0; i < L; i++) xr[i * sl] += gy[i];
        } else if (sl == 1) {
            memcpy(n->val + r * L, xr, (size_t)L * sizeof(float));
        } else {
            float *y = n->val + r * L;
            for (int64_t i = 0; i < L; i++) y[i] = xr[i * sl];
        }
    }
}
static ft_status permute_forward(ft_node *n) { permute_move(n, false); return FT_OK; }
static void permute_backward(ft_node *n) { permute_move(n, true); }

static int64_t permute_ref_offset(const ft_node *n, int64_t e) {
    const ft_node *x = n->in[0];
    int64_t c[FT_MAX_DIMS], off = 0;
    for (int d = n->ndim - 1; d >= 0; d--) { c[d] = e % n->shape[d]; e /= n->shape[d]; }
    int64_t xc[FT_MAX_DIMS];
    for (int d = 0; d < n->ndim; d++) xc[n->iarg[d]] = c[d];
    for (int d = 0; d < x->ndim; d++) off = off * x->shape[d] + xc[d];
    return off;
}
static ft_status permute_forward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) n->val[e] = n->in[0]->val[permute_ref_offset(n, e)];
    return FT_OK;
}
static void permute_backward_ref(ft_node *n) {
    for (int64_t e = 0; e < n->numel; e++) n->in[0]->grad[permute_ref_offset(n, e)] += n->grad[e];
}
const ft_op_def ft_def_permute = {"permute", permute_forward, permute_backward, permute_forward_ref,
                                  permute_backward_ref, save_none, NULL};
