/* linear (y = x W^T + b) and batched matmul, through BLAS, with naive references. */
#include "ops/ops.h"

#include <cblas.h>
#include <string.h>

/* cblas_sgemm for any sizes, 0 included (0-size tensors): BLAS requires leading
 * dimensions >= 1 (lda = K = 0 may be rejected, with a message on stderr), and with K = 0
 * the product is a sum of nothing, so C = beta C. */
static void sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (beta == 1.0f) return;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* ---------------- linear ----------------
 * x [..., K], W [M, K] (PyTorch layout), b [M] or NULL  ->  y [..., M]. */
ft_node *ft_linear(ft_graph *g, ft_node *x, ft_node *w, ft_node *b) {
    ft_node *in[3] = {x, w, b};
    if (!ft_graph_ok(g, b ? 3 : 2, in)) return NULL;
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        char sx[64], sw[64];
        ft_shape_str(x, sx, sizeof sx);
        ft_shape_str(w, sw, sizeof sw);
        return ft_graph_fail(g, FT_ESHAPE, "linear '%s': input %s does not fit weight %s", w->name, sx, sw);
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return ft_graph_fail(g, FT_ESHAPE, "linear '%s': bias has wrong shape", b->name);
    int64_t shape[FT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = w->shape[0];
    return ft_node_new(g, FT_OP_LINEAR, b ? 3 : 2, in, x->ndim, shape);
}

static ft_status linear_forward(ft_node *n) {
    const ft_node *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
    int64_t M = w->shape[0], K = w->shape[1], R = ft_shape_numel(x->ndim - 1, x->shape);
    float beta = 0.0f;
    if (b) { /* seed each output row with the bias, then accumulate the product */
        for (int64_t r = 0; r < R; r++) memcpy(n->val + r * M, b->val, (size_t)M * sizeof(float));
        beta = 1.0f;
    }
    sgemm(CblasNoTrans, CblasTrans, R, M, K, x->val, K, w->val, K, beta, n->val, M);
    return FT_OK;
}

static void linear_backward(ft_node *n) {
    ft_node *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
    int64_t M = w->shape[0], K = w->shape[1], R = ft_shape_numel(x->ndim - 1, x->shape);
    const float *dy = n->grad;
    if (x->grad) /* dx [R,K] += dy [R,M] W [M,K] */
        sgemm(CblasNoTrans, CblasNoTrans, R, K, M, dy, M, w->val, K, 1.0f, x->grad, K);
    if (w->grad) /* dW [M,K] += dy^T [M,R] x [R,K] */
        sgemm(CblasTrans, CblasNoTrans, M, K, R, dy, M, x->val, K, 1.0f, w->grad, K);
    if (b && b->grad) /* row by row: contiguous, vectorises, same summation order per column */
        for (int64_t r = 0; r < R; r++) {
            const float *row = dy + r * M;
            float *gb = b->grad;
            #pragma omp simd
            for (int64_t m = 0; m < M; m++) gb[m] += row[m];
        }
}

static unsigned linear_saves(const ft_node *n) {
    unsigned m = 0;
    if (n->in[0]->requires_grad) m |= 1u << 1; /* dx needs W */
    if (n->in[1]->requires_grad) m |= 1u << 0;                    /* dW needs x */
    return m;
}

static ft_status linear_forward_ref(ft_node *n) {
    const ft_node *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
    int64_t M = w->shape[0], K = w->shape[1], R = ft_shape_numel(x->ndim - 1, x->shape);
    for (int64_t r = 0; r < R; r++)
        for (int64_t m = 0; m < M; m++) {
            double s = b ? b->val[m] : 0.0;
            for (int64_t k = 0; k < K; k++) s += (double)x->val[r * K + k] * w->val[m * K + k];
            n->val[r * M + m] = (float)s;
        }
    return FT_OK;
}

static void linear_backward_ref(ft_node *n) {
    ft_node *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
    int64_t M = w->shape[0], K = w->shape[1], R = ft_shape_numel(x->ndim - 1, x->shape);
    for (int64_t r = 0; r < R; r++)
        for (int64_t m = 0; m < M; m++) {
            float d = n->grad[r * M + m];
            for (int64_t k = 0; k < K; k++) {
                if (x->grad) x->grad[r * K + k] += d * w->val[m * K + k];
                if (w->grad) w->grad[m * K + k] += d * x->val[r * K + k];
            }
            if (b && b->grad) b->grad[m] += d;
        }
}

const ft_op_def ft_def_linear = {"linear", linear_forward, linear_backward, linear_forward_ref, linear_backward_ref,
                                 linear_saves, NULL};

/* ---------------- matmul ----------------
 * a [B..., M, K] (or [B..., K, M] with trans_a), b [K, N] (or [N, K] with trans_b), or b
 * batched with the same leading dims as a. y [B..., M, N]. iarg[0] = trans_a,
 * iarg[1] = trans_b, iarg[2] = b is batched. */
ft_node *ft_matmul(ft_graph *g, ft_node *a, ft_node *b, bool trans_a, bool trans_b) {
    ft_node *in[2] = {a, b};
    if (!ft_graph_ok(g, 2, in)) return NULL;
    if (a->ndim < 2 || b->ndim < 2) return ft_graph_fail(g, FT_ESHAPE, "matmul: operands need at least 2 dims");
    int64_t M = a->shape[a->ndim - (trans_a ? 1 : 2)], K = a->shape[a->ndim - (trans_a ? 2 : 1)];
    int64_t Kb = b->shape[b->ndim - (trans_b ? 1 : 2)], N = b->shape[b->ndim - (trans_b ? 2 : 1)];
    bool batched_b = b->ndim > 2;
    bool ok = K == Kb;
    if (batched_b) {
        ok = ok && b->ndim == a->ndim;
        for (int d = 0; ok && d < a->ndim - 2; d++) ok = a->shape[d] == b->shape[d];
    }
    if (!ok) {
        char sa[64], sb[64];
        ft_shape_str(a, sa, sizeof sa);
        ft_shape_str(b, sb, sizeof sb);
        return ft_graph_fail(g, FT_ESHAPE, "matmul: %s%s x %s%s do not fit", sa, trans_a ? "^T" : "", sb,
                             trans_b ? "^T" : "");
    }
    int64_t shape[FT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 2] = M;
    shape[a->ndim - 1] = N;
    ft_node *n = ft_node_new(g, FT_OP_MATMUL, 2, in, a->ndim, shape);
    if (n) { n->iarg[0] = trans_a; n->iarg[1] = trans_b; n->iarg[2] = batched_b; }
    return n;
}

typedef struct { int64_t batch, M, N, K; bool ta, tb, bb; } mm_dims;

static mm_dims mm_get(const ft_node *n) {
    const ft_node *a = n->in[0];
    mm_dims d = {1, n->shape[n->ndim - 2], n->shape[n->ndim - 1], 0, n->iarg[0], n->iarg[1], n->iarg[2]};
    d.K = a->shape[a->ndim - (d.ta ? 2 : 1)];
    for (int i = 0; i < n->ndim - 2; i++) d.batch *= n->shape[i];
    return d;
}

static ft_status matmul_forward(ft_node *n) {
    mm_dims d = mm_get(n);
    const float *A = n->in[0]->val, *B = n->in[1]->val;
    if (!d.bb && !d.ta) { /* fold the batch into M: one GEMM */
        sgemm(CblasNoTrans, d.tb ? CblasTrans : CblasNoTrans, d.batch * d.M, d.N, d.K, A, d.K, B, d.tb ? d.K : d.N, 0.0f,
              n->val, d.N);
        return FT_OK;
    }
    for (int64_t i = 0; i < d.batch; i++)
        sgemm(d.ta ? CblasTrans : CblasNoTrans, d.tb ? CblasTrans : CblasNoTrans, d.M, d.N, d.K, A + i * d.M * d.K,
              d.ta ? d.M : d.K, B + (d.bb ? i * d.K * d.N : 0), d.tb ? d.K : d.N, 0.0f, n->val + i * d.M * d.N, d.N);
    return FT_OK;
}

static void matmul_backward(ft_node *n) {
    mm_dims d = mm_get(n);
    ft_node *a = n->in[0], *b = n->in[1];
    const float *dC = n->grad;
    for (int64_t i = 0; i < d.batch; i++) {
        const float *Bi = b->val + (d.bb ? i * d.K * d.N : 0);
        const float *Ai = a->val + i * d.M * d.K;
        const float *dCi = dC + i * d.M * d.N;
        if (a->grad) { /* dA = dC B^T  (or (dC B^T)^T = B dC^T when trans_a) */
            float *dA = a->grad + i * d.M * d.K;
            if (!d.ta)
                sgemm(CblasNoTrans, d.tb ? CblasNoTrans : CblasTrans, d.M, d.K, d.N, dCi, d.N, Bi, d.tb ? d.K : d.N, 1.0f, dA, d.K);
            else
                sgemm(d.tb ? CblasTrans : CblasNoTrans, CblasTrans, d.K, d.M, d.N, Bi, d.tb ? d.K : d.N, dCi, d.N, 1.0f, dA, d.M);
        }
        if (b->grad) { /* dB = A^T dC  (or dC^T A when trans_b); summed over the batch if b is shared */
            float *dB = b->grad + (d.bb ? i * d.K * d.N : 0);
            if (!d.tb)
                sgemm(d.ta ? CblasNoTrans : CblasTrans, CblasNoTrans, d.K, d.N, d.M, Ai, d.ta ? d.M : d.K, dCi, d.N, 1.0f, dB, d.N);
            else
                sgemm(CblasTrans, d.ta ? CblasTrans : CblasNoTrans, d.N, d.K, d.M, dCi, d.N, Ai, d.ta ? d.M : d.K, 1.0f, dB, d.K);
        }
    }
}

static unsigned matmul_saves(const ft_node *n) {
    unsigned m = 0;
    if (n->in[0]->requires_grad) m |= 1u << 1;
    if (n->in[1]->requires_grad) m |= 1u << 0;
    return m;
}

/* Element accessors honouring the transposes. */
static inline float mm_a(const mm_dims *d, const float *A, int64_t i, int64_t m, int64_t k) {
    return d->ta ? A[i * d->M * d->K + k * d->M + m] : A[i * d->M * d->K + m * d->K + k];
}
static inline int64_t mm_b_idx(const mm_dims *d, int64_t i, int64_t k, int64_t nn) {
    int64_t base = d->bb ? i * d->K * d->N : 0;
    return d->tb ? base + nn * d->K + k : base + k * d->N + nn;
}

static ft_status matmul_forward_ref(ft_node *n) {
    mm_dims d = mm_get(n);
    const float *A = n->in[0]->val, *B = n->in[1]->val;
    for (int64_t i = 0; i < d.batch; i++)
        for (int64_t m = 0; m < d.M; m++)
            for (int64_t c = 0; c < d.N; c++) {
                double s = 0;
                for (int64_t k = 0; k < d.K; k++) s += (double)mm_a(&d, A, i, m, k) * B[mm_b_idx(&d, i, k, c)];
                n->val[(i * d.M + m) * d.N + c] = (float)s;
            }
    return FT_OK;
}

static void matmul_backward_ref(ft_node *n) {
    mm_dims d = mm_get(n);
    ft_node *a = n->in[0], *b = n->in[1];
    for (int64_t i = 0; i < d.batch; i++)
        for (int64_t m = 0; m < d.M; m++)
            for (int64_t c = 0; c < d.N; c++) {
                float g = n->grad[(i * d.M + m) * d.N + c];
                for (int64_t k = 0; k < d.K; k++) {
                    int64_t ai = d.ta ? i * d.M * d.K + k * d.M + m : i * d.M * d.K + m * d.K + k;
                    int64_t bi = mm_b_idx(&d, i, k, c);
                    if (a->grad) a->grad[ai] += g * b->val[bi];
                    if (b->grad) b->grad[bi] += g * a->val[ai];
                }
            }
}

const ft_op_def ft_def_matmul = {"matmul", matmul_forward, matmul_backward, matmul_forward_ref, matmul_backward_ref,
                                 matmul_saves, NULL};
