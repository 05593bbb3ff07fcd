/* CTC loss (Graves et al. 2006), torch.nn.functional.ctc_loss semantics on batch-first
 * log-probabilities.
 *
 * For sequence b with input length L and target l (length U), the extended label sequence
 * l' has S' = 2U+1 states: blank, l1, blank, l2, ..., lU, blank. In log space
 *   alpha[0][0] = lp[0][blank], alpha[0][1] = lp[0][l1],
 *   alpha[t][s] = lp[t][l's] + lse(alpha[t-1][s], alpha[t-1][s-1], alpha[t-1][s-2] if l's is
 *                 not blank and l's != l'(s-2)),
 *   nll = -lse(alpha[L-1][S'-1], alpha[L-1][S'-2]).
 * beta is the mirror image and includes lp[t] too (torch's convention), so the gradient is
 *   d/d lp[t][c] = exp(lp[t][c]) - exp(lse_{s: l's = c}(alpha[t][s] + beta[t][s]) + nll - lp[t][c])
 * for t < L and 0 after, times the reduction's scale: exactly what torch's CPU kernel
 * returns. That is the gradient with respect to the logits of a log_softmax (the extra
 * exp(lp) term cancels when passed back through log_softmax, whose rows sum to one), so
 * log_softmax -> ctc_loss trains correctly, as in torch.
 *
 * iarg[0] = blank, iarg[1] = reduction, iarg[2] = zero_infinity.
 * aux = alpha [N, T, S'max] then nll [N] (forward keeps them for backward).
 * The fast kernels run in float with OpenMP over the batch; the reference kernels are a
 * plain serial transcription of the recursions in double. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

ft_node *ft_ctc_loss(ft_graph *g, ft_node *log_probs, ft_node *targets, ft_node *input_lengths,
                     ft_node *target_lengths, int blank, ft_reduction reduction, bool zero_infinity) {
    ft_node *in[4] = {log_probs, targets, input_lengths, target_lengths};
    if (!ft_graph_ok(g, 4, in)) return NULL;
    if (log_probs->dtype != FT_F32 || log_probs->ndim != 3)
        return ft_graph_fail(g, FT_ESHAPE, "ctc_loss: log_probs '%s' must be float [N,T,C]", log_probs->name);
    int64_t N = log_probs->shape[0], C = log_probs->shape[2];
    if (targets->dtype != FT_I32 || targets->ndim != 2 || targets->shape[0] != N)
        return ft_graph_fail(g, FT_ESHAPE, "ctc_loss: targets '%s' must be int32 [N=%lld,S]", targets->name,
                             (long long)N);
    for (int k = 2; k < 4; k++)
        if (in[k]->dtype != FT_I32 || in[k]->ndim != 1 || in[k]->shape[0] != N)
            return ft_graph_fail(g, FT_ESHAPE, "ctc_loss: %s '%s' must be int32 [N=%lld]",
                                 k == 2 ? "input_lengths" : "target_lengths", in[k]->name, (long long)N);
    if (blank < 0 || blank >= C)
        return ft_graph_fail(g, FT_EINVAL, "ctc_loss: blank %d outside the %lld classes", blank, (long long)C);
    if (reduction != FT_REDUCE_MEAN && reduction != FT_REDUCE_SUM && reduction != FT_REDUCE_NONE)
        return ft_graph_fail(g, FT_EINVAL, "ctc_loss: unknown reduction %d", (int)reduction);
    int64_t shape[1] = {N};
    ft_node *n = ft_node_new(g, FT_OP_CTC_LOSS, 4, in, reduction == FT_REDUCE_NONE ? 1 : 0, shape);
    if (!n) return NULL;
    n->iarg[0] = blank;
    n->iarg[1] = (int32_t)reduction;
    n->iarg[2] = zero_infinity;
    int64_t T = log_probs->shape[1], Sp = 2 * targets->shape[1] + 1;
    int64_t fast = N * (2 * Sp + C);                      /* beta rows + class sums per sequence */
    int64_t ref = 2 * (2 * T * Sp + C);                   /* doubles: alpha, beta, class sums */
    n->scratch_numel = fast > ref ? fast : ref;
    return n;
}

static int64_t ctc_sp(const ft_node *n) { return 2 * n->in[1]->shape[1] + 1; }
static int64_t ctc_aux(const ft_node *n) {
    const ft_node *x = n->in[0];
    return x->shape[0] * x->shape[1] * ctc_sp(n) + x->shape[0];
}

/* Inputs are data: validate them before any kernel reads them. */
static ft_status ctc_check(const ft_node *n) {
    const ft_node *x = n->in[0];
    int64_t N = x->shape[0], T = x->shape[1], C = x->shape[2], S = n->in[1]->shape[1];
    const int32_t *tg = (const int32_t *)n->in[1]->val, *il = (const int32_t *)n->in[2]->val,
                  *tl = (const int32_t *)n->in[3]->val;
    for (int64_t b = 0; b < N; b++) {
        if (il[b] < 0 || il[b] > T)
            return ft_fail(FT_EINVAL, "ctc_loss: input length %d of sequence %lld is outside [0, %lld]", il[b],
                           (long long)b, (long long)T);
        if (tl[b] < 0 || tl[b] > S)
            return ft_fail(FT_EINVAL, "ctc_loss: target length %d of sequence %lld is outside [0, %lld]", tl[b],
                           (long long)b, (long long)S);
        for (int32_t u = 0; u < tl[b]; u++) {
            int32_t c = tg[b * S + u];
            if (c < 0 || c >= C || c == n->iarg[0])
                return ft_fail(FT_EINVAL, "ctc_loss: target %d at position %d of sequence %lld is %s", c, u,
                               (long long)b, c == n->iarg[0] ? "the blank label" : "outside the classes");
        }
    }
    return FT_OK;
}

/* Per-sequence loss -> the reduced output. */
static void ctc_reduce(ft_node *n, const float *nll) {
    int64_t N = n->in[0]->shape[0];
    const int32_t *tl = (const int32_t *)n->in[3]->val;
    double total = 0;
    for (int64_t b = 0; b < N; b++) {
        float l = nll[b];
        if (n->iarg[2] && isinf(l)) l = 0.0f;
        if (n->iarg[1] == FT_REDUCE_NONE) n->val[b] = l;
        else if (n->iarg[1] == FT_REDUCE_SUM) total += l;
        else total += (double)l / (double)(tl[b] > 1 ? tl[b] : 1);
    }
    if (n->iarg[1] == FT_REDUCE_SUM) n->val[0] = (float)total;
    else if (n->iarg[1] == FT_REDUCE_MEAN) n->val[0] = N ? (float)(total / (double)N) : 0.0f;
}

/* Gradient scale of sequence b (0 when the loss was zeroed). */
static float ctc_scale(const ft_node *n, int64_t b, float nll) {
    if (n->iarg[2] && isinf(nll)) return 0.0f;
    if (n->iarg[1] == FT_REDUCE_NONE) return n->grad[b];
    if (n->iarg[1] == FT_REDUCE_SUM) return n->grad[0];
    const int32_t *tl = (const int32_t *)n->in[3]->val;
    int64_t N = n->in[0]->shape[0];
    return n->grad[0] / (float)(tl[b] > 1 ? tl[b] : 1) / (float)N;
}

/* ---------------- fast kernels (float, OpenMP over the batch) ---------------- */

static inline float lse2f(float a, float b) {
    float m = a > b ? a : b;
    if (m == -INFINITY) return -INFINITY;
    return m + logf(expf(a - m) + expf(b - m));
}
static inline float lse3f(float a, float b, float c) {
    float m = a > b ? a : b;
    m = m > c ? m : c;
    if (m == -INFINITY) return -INFINITY;
    return m + logf(expf(a - m) + expf(b - m) + expf(c - m));
}

static inline int32_t ext_label(const int32_t *tgt, int32_t blank, int64_t s) { return s & 1 ? tgt[s >> 1] : blank; }

static ft_status ctc_forward(ft_node *n) {
    ft_status st = ctc_check(n);
    if (st) return st;
    const ft_node *x = n->in[0];
    int64_t N = x->shape[0], T = x->shape[1], C = x->shape[2], S = n->in[1]->shape[1], Sp = ctc_sp(n);
    const int32_t *tg = (const int32_t *)n->in[1]->val, *il = (const int32_t *)n->in[2]->val,
                  *tl = (const int32_t *)n->in[3]->val;
    int32_t blank = n->iarg[0];
    float *nll = n->aux + N * T * Sp;
    #pragma omp parallel for schedule(dynamic) if (N > 1 && N * T * Sp > 4096)
    for (int64_t b = 0; b < N; b++) {
        const float *lp = x->val + b * T * C;
        const int32_t *tgt = tg + b * S;
        float *al = n->aux + b * T * Sp;
        int64_t L = il[b], sp = 2 * (int64_t)tl[b] + 1;
        if (L == 0) { nll[b] = tl[b] == 0 ? 0.0f : INFINITY; continue; }
        for (int64_t s = 0; s < sp; s++) al[s] = -INFINITY;
        al[0] = lp[blank];
        if (sp > 1) al[1] = lp[tgt[0]];
        for (int64_t t = 1; t < L; t++) {
            const float *prev = al + (t - 1) * Sp, *lpt = lp + t * C;
            float *cur = al + t * Sp;
            /* states s < sp - 2(L-t) cannot reach the end in time; they still get computed
             * (cheap) so that the values match torch exactly. */
            cur[0] = prev[0] + lpt[blank];
            for (int64_t s = 1; s < sp; s++) {
                int32_t l = ext_label(tgt, blank, s);
                float a = prev[s], b1 = prev[s - 1];
                float v = (s & 1) && s >= 2 && tgt[(s >> 1) - 1] != l ? lse3f(a, b1, prev[s - 2]) : lse2f(a, b1);
                cur[s] = v + lpt[l];
            }
        }
        const float *last = al + (L - 1) * Sp;
        nll[b] = -(sp > 1 ? lse2f(last[sp - 1], last[sp - 2]) : last[0]);
    }
    ctc_reduce(n, nll);
    return FT_OK;
}

static void ctc_backward(ft_node *n) {
    ft_node *x = n->in[0];
    if (!x->grad) return;
    int64_t N = x->shape[0], T = x->shape[1], C = x->shape[2], S = n->in[1]->shape[1], Sp = ctc_sp(n);
    const int32_t *tg = (const int32_t *)n->in[1]->val, *il = (const int32_t *)n->in[2]->val,
                  *tl = (const int32_t *)n->in[3]->val;
    int32_t blank = n->iarg[0];
    const float *nll = n->aux + N * T * Sp;
    #pragma omp parallel for schedule(dynamic) if (N > 1 && N * T * Sp > 4096)
    for (int64_t b = 0; b < N; b++) {
        float gr = ctc_scale(n, b, nll[b]);
        int64_t L = il[b], sp = 2 * (int64_t)tl[b] + 1;
        if (gr == 0.0f || L == 0) continue;
        const float *lp = x->val + b * T * C, *al = n->aux + b * T * Sp;
        const int32_t *tgt = tg + b * S;
        float *gx = x->grad + b * T * C;
        float *be = n->scratch + b * (2 * Sp + C), *bnext = be + Sp, *lcab = be + 2 * Sp;
        float nl = nll[b];
        for (int64_t t = L - 1; t >= 0; t--) {
            const float *lpt = lp + t * C;
            if (t == L - 1) {
                for (int64_t s = 0; s < sp; s++) be[s] = -INFINITY;
                be[sp - 1] = lpt[blank];
                if (sp > 1) be[sp - 2] = lpt[tgt[tl[b] - 1]];
            } else {
                for (int64_t s = 0; s < sp; s++) {
                    int32_t l = ext_label(tgt, blank, s);
                    float a = bnext[s], b1 = s + 1 < sp ? bnext[s + 1] : -INFINITY;
                    float v = (s & 1) && s + 2 < sp && tgt[(s >> 1) + 1] != l ? lse3f(a, b1, bnext[s + 2]) : lse2f(a, b1);
                    be[s] = v + lpt[l];
                }
            }
            for (int64_t c = 0; c < C; c++) lcab[c] = -INFINITY;
            const float *alt = al + t * Sp;
            for (int64_t s = 0; s < sp; s++) {
                int32_t l = ext_label(tgt, blank, s);
                lcab[l] = lse2f(lcab[l], alt[s] + be[s]);
            }
            float *gt = gx + t * C;
            for (int64_t c = 0; c < C; c++) gt[c] += (expf(lpt[c]) - expf(lcab[c] + nl - lpt[c])) * gr;
            float *tmp = be; be = bnext; bnext = tmp; /* be now free for t-1; bnext holds beta[t] */
        }
    }
}

/* ---------------- reference kernels (double, serial, straight from the recursions) ---------------- */

static double lse_d(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* alpha and beta [L, sp] of sequence b in double; returns nll. */
static double ctc_ref_tables(const ft_node *n, int64_t b, double *al, double *be) {
    const ft_node *x = n->in[0];
    int64_t T = x->shape[1], C = x->shape[2], S = n->in[1]->shape[1];
    const int32_t *tgt = (const int32_t *)n->in[1]->val + b * S;
    int64_t L = ((const int32_t *)n->in[2]->val)[b], U = ((const int32_t *)n->in[3]->val)[b], sp = 2 * U + 1;
    int32_t blank = n->iarg[0];
    const float *lp = x->val + b * T * C;
    if (L == 0) return U == 0 ? 0.0 : INFINITY;
#define lab(s) ((s) % 2 == 1 ? tgt[((s) - 1) / 2] : blank)
    for (int64_t t = 0; t < L; t++)
        for (int64_t s = 0; s < sp; s++) {
            double acc = -INFINITY;
            if (t == 0) {
                if (s <= 1) acc = 0.0;
            } else {
                acc = al[(t - 1) * sp + s];
                if (s >= 1) acc = lse_d(acc, al[(t - 1) * sp + s - 1]);
                if (s >= 2 && lab(s) != blank && lab(s) != lab(s - 2)) acc = lse_d(acc, al[(t - 1) * sp + s - 2]);
            }
            al[t * sp + s] = acc == -INFINITY ? -INFINITY : acc + lp[t * C + lab(s)];
        }
    for (int64_t t = L - 1; t >= 0; t--)
        for (int64_t s = sp - 1; s >= 0; s--) {
            double acc = -INFINITY;
            if (t == L - 1) {
                if (s >= sp - 2) acc = 0.0;
            } else {
                acc = be[(t + 1) * sp + s];
                if (s + 1 < sp) acc = lse_d(acc, be[(t + 1) * sp + s + 1]);
                if (s + 2 < sp && lab(s) != blank && lab(s) != lab(s + 2)) acc = lse_d(acc, be[(t + 1) * sp + s + 2]);
            }
            be[t * sp + s] = acc == -INFINITY ? -INFINITY : acc + lp[t * C + lab(s)];
        }
    double ll = al[(L - 1) * sp + sp - 1];
    if (sp > 1) ll = lse_d(ll, al[(L - 1) * sp + sp - 2]);
    return -ll;
#undef lab
}

static ft_status ctc_forward_ref(ft_node *n) {
    ft_status st = ctc_check(n);
    if (st) return st;
    const ft_node *x = n->in[0];
    int64_t N = x->shape[0], T = x->shape[1], Sp = ctc_sp(n);
    double *al = (double *)n->scratch, *be = al + T * Sp;
    float *nll = n->aux + N * T * Sp;
    for (int64_t b = 0; b < N; b++) nll[b] = (float)ctc_ref_tables(n, b, al, be);
    ctc_reduce(n, nll);
    return FT_OK;
}

static void ctc_backward_ref(ft_node *n) {
    ft_node *x = n->in[0];
    if (!x->grad) return;
    int64_t N = x->shape[0], T = x->shape[1], C = x->shape[2], S = n->in[1]->shape[1], Sp = ctc_sp(n);
    double *al = (double *)n->scratch, *be = al + T * Sp, *lcab = be + T * Sp;
    int32_t blank = n->iarg[0];
    for (int64_t b = 0; b < N; b++) {
        double nll = ctc_ref_tables(n, b, al, be);
        float gr = ctc_scale(n, b, (float)nll);
        const int32_t *tgt = (const int32_t *)n->in[1]->val + b * S;
        int64_t L = ((const int32_t *)n->in[2]->val)[b], sp = 2 * (int64_t)((const int32_t *)n->in[3]->val)[b] + 1;
        if (gr == 0.0f) continue;
        for (int64_t t = 0; t < L; t++) {
            const float *lpt = x->val + (b * T + t) * C;
            for (int64_t c = 0; c < C; c++) lcab[c] = -INFINITY;
            for (int64_t s = 0; s < sp; s++) {
                int32_t l = s % 2 == 1 ? tgt[(s - 1) / 2] : blank;
                lcab[l] = lse_d(lcab[l], al[t * sp + s] + be[t * sp + s]);
            }
            for (int64_t c = 0; c < C; c++)
                x->grad[(b * T + t) * C + c] += (float)((exp((double)lpt[c]) - exp(lcab[c] + nll - lpt[c])) * gr);
        }
    }
}

static unsigned ctc_saves(const ft_node *n) { return 0xFu; /* log_probs, targets, lengths */ }

const ft_op_def ft_def_ctc_loss = {"ctc_loss", ctc_forward, ctc_backward, ctc_forward_ref, ctc_backward_ref, ctc_saves,
                                   ctc_aux};
