/* Recurrent ops: one direction of an LSTM or a GRU (PyTorch gate layouts and semantics),
 * and rnn_final (the last state of each sequence), with naive references.
 *
 * Layout: x [N,T,F] batch-first, y [N,T,H] (LSTM cell_output: [N,T,2H] = [h | c]).
 * G = gates*H rows: LSTM i,f,g,o (4H), GRU r,z,n (3H).
 *
 * Fast path, forward:
 *   A [N*T, G] = x W_ih^T                      one sgemm for every time step
 *   per step s: S [N, G] = h W_hh^T             one sgemm (GRU reset_before_linear: two)
 *               fused nonlinearities over (n, j), which add the biases and A's row of (n, t)
 * A then holds the gate activations, and for backward the LSTM keeps c_t [N*T, H], the GRU
 * hn = W_hn h + b_hn (or r*h when reset_before_linear) [N*T, H] (aux). The previous h is
 * never stored: it is y at the neighbouring step.
 * Backward (BPTT) walks the steps in reverse; per step one sgemm dh = dS W_hh, and the
 * pre-activation gradients overwrite A in place. Then, once over all steps:
 *   dx += dA W_ih,  dW_ih += dA^T x,  dW_hh += dA^T h_prev
 * where h_prev rows are y shifted by one row (one sgemm) plus a rank-N correction for the
 * first step of every sequence (h0 instead of the neighbouring sequence's row).
 * Nothing is allocated: the per-step buffers are the node's scratch.
 *
 * Variable lengths: step s of sequence n is time t = s (forward) or t = L_n - 1 - s
 * (reverse) while s < L_n; y is 0 at t >= L_n and the state stays as it was. */
#include "ops/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

enum { RI_REV = 0, RI_CELL, RI_RB, RI_BIH, RI_BHH, RI_H0, RI_C0, RI_LEN }; /* iarg slots; input indices 0 = absent */

static ft_node *rnn_build(ft_graph *g, ft_op op, ft_node *x, ft_node *w_ih, ft_node *w_hh, ft_node *b_ih, ft_node *b_hh,
                          ft_node *h0, ft_node *c0, ft_node *lengths, const ft_rnn_args *a) {
    const char *nm = op == FT_OP_LSTM ? "lstm" : "gru";
    int gates = op == FT_OP_LSTM ? 4 : 3;
    ft_node *req[3] = {x, w_ih, w_hh};
    if (!ft_graph_ok(g, 3, req)) return NULL;
    ft_node *opt[5] = {b_ih, b_hh, h0, c0, lengths};
    for (int k = 0; k < 5; k++)
        if (opt[k] && !ft_graph_ok(g, 1, &opt[k])) return NULL;
    ft_rnn_args args = {0};
    if (a) args = *a;
    if (x->ndim != 3 || x->dtype != FT_F32)
        return ft_graph_fail(g, FT_ESHAPE, "%s: input must be float [batch, time, features]", nm);
    int64_t N = x->shape[0], T = x->shape[1], F = x->shape[2];
    if (T < 1) return ft_graph_fail(g, FT_ESHAPE, "%s: the input has no time steps", nm);
    if (w_hh->ndim != 2 || w_hh->shape[1] < 1 || w_hh->shape[0] != gates * w_hh->shape[1]) {
        char s[64];
        ft_shape_str(w_hh, s, sizeof s);
        return ft_graph_fail(g, FT_ESHAPE, "%s: weight_hh '%s' is %s, want [%d*hidden, hidden]", nm, w_hh->name, s, gates);
    }
    int64_t H = w_hh->shape[1], G = gates * H;
    if (w_ih->ndim != 2 || w_ih->shape[0] != G || w_ih->shape[1] != F) {
        char s[64];
        ft_shape_str(w_ih, s, sizeof s);
        return ft_graph_fail(g, FT_ESHAPE, "%s: weight_ih '%s' is %s, want [%lld, %lld] (input features %lld)", nm, w_ih->name, s,
                             (long long)G, (long long)F, (long long)F);
    }
    for (int k = 0; k < 2; k++)
        if (opt[k] && (opt[k]->ndim != 1 || opt[k]->shape[0] != G))
            return ft_graph_fail(g, FT_ESHAPE, "%s: %s '%s' must be [%lld]", nm, k ? "bias_hh" : "bias_ih", opt[k]->name, (long long)G);
    for (int k = 2; k < 4; k++)
        if (opt[k] && (opt[k]->ndim != 2 || opt[k]->shape[0] != N || opt[k]->shape[1] != H))
            return ft_graph_fail(g, FT_ESHAPE, "%s: initial %s must be [%lld, %lld]", nm, k == 2 ? "h" : "c", (long long)N, (long long)H);
    if (lengths && (lengths->dtype != FT_I32 || lengths->ndim != 1 || lengths->shape[0] != N))
        return ft_graph_fail(g, FT_ESHAPE, "%s: lengths must be int32 [%lld]", nm, (long long)N);
    if (c0 && op != FT_OP_LSTM) return ft_graph_fail(g, FT_EINVAL, "gru: has no cell state");
    ft_node *in[FT_MAX_INPUTS] = {x, w_ih, w_hh};
    int n_in = 3, at[5] = {0};
    for (int k = 0; k < 5; k++)
        if (opt[k]) { at[k] = n_in; in[n_in++] = opt[k]; }
    int64_t shape[3] = {N, T, op == FT_OP_LSTM && args.cell_output ? 2 * H : H};
    ft_node *n = ft_node_new(g, op, n_in, in, 3, shape);
    if (!n) return NULL;
    n->iarg[RI_REV] = args.reverse;
    n->iarg[RI_CELL] = op == FT_OP_LSTM && args.cell_output;
    n->iarg[RI_RB] = op == FT_OP_GRU && args.reset_before_linear;
    for (int k = 0; k < 5; k++) n->iarg[RI_BIH + k] = at[k];
    /* fast: max(forward N*(3H+G) + G, backward N*(3H+2G) + G); reference: one sequence's steps */
    int64_t fast = N * (3 * H + 2 * G) + G, ref = T * (G + 3 * H) + 8 * H + 4 * G;
    n->scratch_numel = fast > ref ? fast : ref;
    return n;
}

ft_node *ft_lstm(ft_graph *g, ft_node *x, ft_node *w_ih, ft_node *w_hh, ft_node *b_ih, ft_node *b_hh, ft_node *h0,
                 ft_node *c0, ft_node *lengths, const ft_rnn_args *a) {
    return rnn_build(g, FT_OP_LSTM, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, a);
}

ft_node *ft_gru(ft_graph *g, ft_node *x, ft_node *w_ih, ft_node *w_hh, ft_node *b_ih, ft_node *b_hh, ft_node *h0,
                ft_node *lengths, const ft_rnn_args *a) {
    return rnn_build(g, FT_OP_GRU, x, w_ih, w_hh, b_ih, b_hh, h0, NULL, lengths, a);
}

typedef struct {
    int64_t N, T, F, H, G, ldy;
    bool lstm, rev, cell, rb;
    ft_node *x, *wih, *whh, *bih, *bhh, *h0, *c0;
    const int32_t *len;
} rnn_dims;

static rnn_dims rnn_get(const ft_node *n) {
    rnn_dims d;
    d.x = n->in[0]; d.wih = n->in[1]; d.whh = n->in[2];
    d.N = d.x->shape[0]; d.T = d.x->shape[1]; d.F = d.x->shape[2];
    d.H = d.whh->shape[1]; d.G = d.whh->shape[0];
    d.lstm = n->op == FT_OP_LSTM;
    d.rev = n->iarg[RI_REV]; d.cell = n->iarg[RI_CELL]; d.rb = n->iarg[RI_RB];
    d.ldy = n->shape[2];
    d.bih = n->iarg[RI_BIH] ? n->in[n->iarg[RI_BIH]] : NULL;
    d.bhh = n->iarg[RI_BHH] ? n->in[n->iarg[RI_BHH]] : NULL;
    d.h0 = n->iarg[RI_H0] ? n->in[n->iarg[RI_H0]] : NULL;
    d.c0 = n->iarg[RI_C0] ? n->in[n->iarg[RI_C0]] : NULL;
    d.len = n->iarg[RI_LEN] ? (const int32_t *)n->in[n->iarg[RI_LEN]]->val : NULL;
    return d;
}

static inline int64_t rnn_len(const rnn_dims *d, int64_t n) { return d->len ? d->len[n] : d->T; }
/* Time index of step s of sequence n (s < its length). */
static inline int64_t rnn_t(const rnn_dims *d, int64_t n, int64_t s) { return d->rev ? rnn_len(d, n) - 1 - s : s; }

static ft_status check_lengths(const char *op, const int32_t *len, int64_t N, int64_t T) {
    for (int64_t i = 0; len && i < N; i++)
        if (len[i] < 1 || len[i] > T)
            return ft_fail(FT_EINVAL, "%s: lengths[%lld] = %d is outside 1..%lld (the time steps of the input)", op, (long long)i,
                           len[i], (long long)T);
    return FT_OK;
}

/* aux: A [N*T, G], then (backward only) the LSTM's c_t or the GRU's hn / r*h [N*T, H]. */
static int64_t rnn_aux(const ft_node *n) {
    rnn_dims d = rnn_get(n);
    return d.N * d.T * d.G + (n->requires_grad ? d.N * d.T * d.H : 0);
}

static inline float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

/* Combined bias of the fused step: LSTM b_ih + b_hh; GRU b_ih + b_hh except b_hn when it sits
 * inside r * (...) (PyTorch's form), which the step adds to hn itself. */
static void rnn_bias(const rnn_dims *d, float *b) {
    for (int64_t k = 0; k < d->G; k++) {
        float v = d->bih ? d->bih->val[k] : 0.0f;
        if (d->bhh && (d->lstm || d->rb || k < 2 * d->H)) v += d->bhh->val[k];
        b[k] = v;
    }
}

static ft_status rnn_forward(ft_node *n) {
    rnn_dims d = rnn_get(n);
    ft_status st = check_lengths(d.lstm ? "lstm" : "gru", d.len, d.N, d.T);
    if (st) return st;
    int64_t N = d.N, T = d.T, H = d.H, G = d.G, NT = N * T;
    if (N == 0) return FT_OK;
    float *A = n->aux, *E = n->aux_numel > NT * G ? n->aux + NT * G : NULL; /* E: saved c_t / hn / rh */
    float *hs = n->scratch, *cs = hs + N * H, *rh = cs + N * H, *S = rh + N * H, *bias = S + N * G;
    float *y = n->val;
    const float *Whh = d.whh->val;
    rnn_bias(&d, bias);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)NT, (int)G, (int)d.F, 1.0f, d.x->val, (int)d.F, d.wih->val,
                (int)d.F, 0.0f, A, (int)G);
    if (d.h0) memcpy(hs, d.h0->val, (size_t)(N * H) * sizeof *hs);
    else memset(hs, 0, (size_t)(N * H) * sizeof *hs);
    if (d.c0) memcpy(cs, d.c0->val, (size_t)(N * H) * sizeof *cs);
    else memset(cs, 0, (size_t)(N * H) * sizeof *cs);
    memset(rh, 0, (size_t)(N * H) * sizeof *rh);
    for (int64_t b = 0; b < N; b++) /* padded steps output 0 */
        for (int64_t t = rnn_len(&d, b); t < T; t++) memset(y + (b * T + t) * d.ldy, 0, (size_t)d.ldy * sizeof *y);
    const float *bhn = d.bhh && !d.lstm && !d.rb ? d.bhh->val + 2 * H : NULL;
    bool par = N * G >= 8192;
    (void)par;
    for (int64_t s = 0; s < T; s++) {
        /* S = h W_hh^T: all gates (GRU reset_before_linear: r and z; n follows below) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)(d.rb ? 2 * H : G), (int)H, 1.0f, hs, (int)H, Whh,
                    (int)H, 0.0f, S, (int)G);
        if (d.lstm) {
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                if (s >= rnn_len(&d, b)) continue;
                int64_t t = rnn_t(&d, b, s), row = b * T + t;
                float *a = A + row * G, *sr = S + b * G, *h = hs + b * H, *c = cs + b * H, *yr = y + row * d.ldy;
                float *ce = E ? E + row * H : NULL;
                for (int64_t j = 0; j < H; j++) {
                    float ig = sigm(a[j] + sr[j] + bias[j]);
                    float fg = sigm(a[H + j] + sr[H + j] + bias[H + j]);
                    float gg = tanhf(a[2 * H + j] + sr[2 * H + j] + bias[2 * H + j]);
                    float og = sigm(a[3 * H + j] + sr[3 * H + j] + bias[3 * H + j]);
                    float cv = fg * c[j] + ig * gg, hv = og * tanhf(cv);
                    a[j] = ig; a[H + j] = fg; a[2 * H + j] = gg; a[3 * H + j] = og;
                    c[j] = cv; h[j] = hv; yr[j] = hv;
                    if (d.cell) yr[H + j] = cv;
                    if (ce) ce[j] = cv;
                }
            }
        } else if (!d.rb) { /* PyTorch GRU: n = tanh(xn + b_in + r * (W_hn h + b_hn)) */
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                if (s >= rnn_len(&d, b)) continue;
                int64_t t = rnn_t(&d, b, s), row = b * T + t;
                float *a = A + row * G, *sr = S + b * G, *h = hs + b * H, *yr = y + row * d.ldy;
                float *he = E ? E + row * H : NULL;
                for (int64_t j = 0; j < H; j++) {
                    float r = sigm(a[j] + sr[j] + bias[j]);
                    float z = sigm(a[H + j] + sr[H + j] + bias[H + j]);
                    float hn = sr[2 * H + j] + (bhn ? bhn[j] : 0.0f);
                    float nn = tanhf(a[2 * H + j] + bias[2 * H + j] + r * hn);
                    float hv = (1.0f - z) * nn + z * h[j];
                    a[j] = r; a[H + j] = z; a[2 * H + j] = nn;
                    if (he) he[j] = hn;
                    h[j] = hv; yr[j] = hv;
                }
            }
        } else { /* ONNX linear_before_reset=0: n = tanh(xn + W_hn (r*h) + b_in + b_hn) */
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                if (s >= rnn_len(&d, b)) continue;
                int64_t t = rnn_t(&d, b, s), row = b * T + t;
                float *a = A + row * G, *sr = S + b * G, *h = hs + b * H, *rr = rh + b * H;
                for (int64_t j = 0; j < H; j++) {
                    float r = sigm(a[j] + sr[j] + bias[j]);
                    float z = sigm(a[H + j] + sr[H + j] + bias[H + j]);
                    a[j] = r; a[H + j] = z;
                    rr[j] = r * h[j];
                }
                if (E) memcpy(E + row * H, rr, (size_t)H * sizeof *rr);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)H, (int)H, 1.0f, rh, (int)H, Whh + 2 * H * H,
                        (int)H, 0.0f, S + 2 * H, (int)G);
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                if (s >= rnn_len(&d, b)) continue;
                int64_t t = rnn_t(&d, b, s), row = b * T + t;
                float *a = A + row * G, *sr = S + b * G, *h = hs + b * H, *yr = y + row * d.ldy;
                for (int64_t j = 0; j < H; j++) {
                    float nn = tanhf(a[2 * H + j] + sr[2 * H + j] + bias[2 * H + j]);
                    float z = a[H + j], hv = (1.0f - z) * nn + z * h[j];
                    a[2 * H + j] = nn;
                    h[j] = hv; yr[j] = hv;
                }
            }
        }
    }
    return FT_OK;
}

/* dW [M, H] (row stride H) += sum over (n, t) of dG[n,t, 0..M) (row stride ldg)^T h_prev[n,t], where
 * h_prev is y at t-1 (t+1 reversed) and h0 (or 0) at a sequence's first step. One sgemm pairs
 * every dG row with the neighbouring y row; the first step of each sequence, paired with the
 * wrong row (the previous or next sequence's, a padded zero row, or none), is corrected by a
 * rank-N update with D[n] = h0[n] - that row. Rows past a sequence's length have dG = 0.
 * gath [N, M] and D [N, H] are scratch. */
static void acc_prev(const rnn_dims *d, const float *y, const float *dG, int64_t ldg, int64_t M, float *dW, float *gath,
                     float *D) {
    int64_t N = d->N, T = d->T, H = d->H, NT = N * T, ldy = d->ldy;
    if (NT > 1) {
        if (!d->rev) /* dG row r with y row r-1 */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)H, (int)(NT - 1), 1.0f, dG + ldg, (int)ldg, y,
                        (int)ldy, 1.0f, dW, (int)H);
        else /* dG row r with y row r+1 */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)H, (int)(NT - 1), 1.0f, dG, (int)ldg, y + ldy,
                        (int)ldy, 1.0f, dW, (int)H);
    }
    for (int64_t b = 0; b < N; b++) {
        int64_t row = b * T + (d->rev ? rnn_len(d, b) - 1 : 0);
        memcpy(gath + b * M, dG + row * ldg, (size_t)M * sizeof *gath);
        const float *w = d->rev ? (row + 1 < NT ? y + (row + 1) * ldy : NULL) : (row >= 1 ? y + (row - 1) * ldy : NULL);
        const float *h0 = d->h0 ? d->h0->val + b * H : NULL;
        for (int64_t j = 0; j < H; j++) D[b * H + j] = (h0 ? h0[j] : 0.0f) - (w ? w[j] : 0.0f);
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)H, (int)N, 1.0f, gath, (int)M, D, (int)H, 1.0f, dW,
                (int)H);
}

/* dst[c] += sum over rows of src[r, c]; rows of stride ld, width w. */
static void add_colsum(float *dst, const float *src, int64_t rows, int64_t ld, int64_t w) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = src + r * ld;
        #pragma omp simd
        for (int64_t c = 0; c < w; c++) dst[c] += row[c];
    }
}

static void rnn_backward(ft_node *n) {
    rnn_dims d = rnn_get(n);
    int64_t N = d.N, T = d.T, H = d.H, G = d.G, NT = N * T, ldy = d.ldy;
    if (N == 0) return;
    float *A = n->aux, *E = n->aux + NT * G; /* backward runs only with requires_grad: E is there */
    float *dh = n->scratch, *dc = dh + N * H, *tmp = dc + N * H, *dS = tmp + N * H, *gath = dS + N * G;
    const float *y = n->val, *dy = n->grad, *Whh = d.whh->val;
    memset(dh, 0, (size_t)(2 * N * H) * sizeof *dh);
    for (int64_t b = 0; b < N; b++) /* padded rows carry no gradient */
        for (int64_t t = rnn_len(&d, b); t < T; t++) {
            memset(A + (b * T + t) * G, 0, (size_t)G * sizeof *A);
            memset(E + (b * T + t) * H, 0, (size_t)H * sizeof *E);
        }
    bool par = N * G >= 8192;
    (void)par;
    for (int64_t s = T - 1; s >= 0; s--) {
        if (d.lstm) {
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                float *ds = dS + b * G;
                if (s >= rnn_len(&d, b)) { memset(ds, 0, (size_t)G * sizeof *ds); continue; }
                int64_t t = rnn_t(&d, b, s), row = b * T + t, prow = d.rev ? row + 1 : row - 1;
                const float *cp = s == 0 ? (d.c0 ? d.c0->val + b * H : NULL) : E + prow * H;
                const float *ce = E + row * H, *gy = dy + row * ldy;
                float *a = A + row * G, *hh = dh + b * H, *cc = dc + b * H;
                for (int64_t j = 0; j < H; j++) {
                    float ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
                    float tc = tanhf(ce[j]), dhv = hh[j] + gy[j];
                    float dcv = cc[j] + dhv * og * (1.0f - tc * tc) + (d.cell ? gy[H + j] : 0.0f);
                    float cpv = cp ? cp[j] : 0.0f;
                    float di = dcv * gg * ig * (1.0f - ig), df = dcv * cpv * fg * (1.0f - fg);
                    float dg = dcv * ig * (1.0f - gg * gg), dov = dhv * tc * og * (1.0f - og);
                    cc[j] = dcv * fg;
                    a[j] = ds[j] = di;
                    a[H + j] = ds[H + j] = df;
                    a[2 * H + j] = ds[2 * H + j] = dg;
                    a[3 * H + j] = ds[3 * H + j] = dov;
                }
            }
            /* dh_prev = dS W_hh */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)H, (int)G, 1.0f, dS, (int)G, Whh, (int)H, 0.0f,
                        dh, (int)H);
        } else if (!d.rb) {
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                float *ds = dS + b * G;
                if (s >= rnn_len(&d, b)) { memset(ds, 0, (size_t)G * sizeof *ds); continue; }
                int64_t t = rnn_t(&d, b, s), row = b * T + t, prow = d.rev ? row + 1 : row - 1;
                const float *hp = s == 0 ? (d.h0 ? d.h0->val + b * H : NULL) : y + prow * ldy;
                const float *gy = dy + row * ldy;
                float *a = A + row * G, *he = E + row * H, *hh = dh + b * H;
                for (int64_t j = 0; j < H; j++) {
                    float r = a[j], z = a[H + j], nn = a[2 * H + j], hpv = hp ? hp[j] : 0.0f;
                    float dhv = hh[j] + gy[j];
                    float dan = dhv * (1.0f - z) * (1.0f - nn * nn);
                    float dr = dan * he[j] * r * (1.0f - r), dz = dhv * (hpv - nn) * z * (1.0f - z);
                    a[j] = ds[j] = dr;
                    a[H + j] = ds[H + j] = dz;
                    a[2 * H + j] = dan;
                    ds[2 * H + j] = he[j] = dan * r; /* the recurrent side of the n gate sits inside r * (...) */
                    hh[j] = dhv * z;
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)H, (int)G, 1.0f, dS, (int)G, Whh, (int)H, 1.0f,
                        dh, (int)H);
        } else {
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                float *ds = dS + b * G;
                if (s >= rnn_len(&d, b)) { memset(ds, 0, (size_t)G * sizeof *ds); continue; }
                int64_t t = rnn_t(&d, b, s), row = b * T + t, prow = d.rev ? row + 1 : row - 1;
                const float *hp = s == 0 ? (d.h0 ? d.h0->val + b * H : NULL) : y + prow * ldy;
                const float *gy = dy + row * ldy;
                float *a = A + row * G, *hh = dh + b * H;
                for (int64_t j = 0; j < H; j++) {
                    float z = a[H + j], nn = a[2 * H + j], hpv = hp ? hp[j] : 0.0f;
                    float dhv = hh[j] + gy[j];
                    float dan = dhv * (1.0f - z) * (1.0f - nn * nn), dz = dhv * (hpv - nn) * z * (1.0f - z);
                    a[H + j] = ds[H + j] = dz;
                    a[2 * H + j] = ds[2 * H + j] = dan;
                    hh[j] = dhv * z;
                }
            }
            /* d(r*h) = dA_n W_hn */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)H, (int)H, 1.0f, dS + 2 * H, (int)G,
                        Whh + 2 * H * H, (int)H, 0.0f, tmp, (int)H);
            #pragma omp parallel for if (par)
            for (int64_t b = 0; b < N; b++) {
                if (s >= rnn_len(&d, b)) continue;
                int64_t t = rnn_t(&d, b, s), row = b * T + t, prow = d.rev ? row + 1 : row - 1;
                const float *hp = s == 0 ? (d.h0 ? d.h0->val + b * H : NULL) : y + prow * ldy;
                float *a = A + row * G, *ds = dS + b * G, *hh = dh + b * H, *drh = tmp + b * H;
                for (int64_t j = 0; j < H; j++) {
                    float r = a[j], hpv = hp ? hp[j] : 0.0f;
                    a[j] = ds[j] = drh[j] * hpv * r * (1.0f - r);
                    hh[j] += drh[j] * r;
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)H, (int)(2 * H), 1.0f, dS, (int)G, Whh, (int)H,
                        1.0f, dh, (int)H);
        }
    }
    if (d.h0 && d.h0->grad)
        for (int64_t k = 0; k < N * H; k++) d.h0->grad[k] += dh[k];
    if (d.c0 && d.c0->grad)
        for (int64_t k = 0; k < N * H; k++) d.c0->grad[k] += dc[k];
    /* A now holds dL/d(pre-activation) of the input side for every (n, t). */
    if (d.x->grad)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)NT, (int)d.F, (int)G, 1.0f, A, (int)G, d.wih->val,
                    (int)d.F, 1.0f, d.x->grad, (int)d.F);
    if (d.wih->grad)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)d.F, (int)NT, 1.0f, A, (int)G, d.x->val, (int)d.F,
                    1.0f, d.wih->grad, (int)d.F);
    if (d.bih && d.bih->grad) add_colsum(d.bih->grad, A, NT, G, G);
    if (d.bhh && d.bhh->grad) {
        if (d.lstm || d.rb) add_colsum(d.bhh->grad, A, NT, G, G);
        else {
            add_colsum(d.bhh->grad, A, NT, G, 2 * H);
            add_colsum(d.bhh->grad + 2 * H, E, NT, H, H);
        }
    }
    if (d.whh->grad) {
        if (d.lstm) acc_prev(&d, y, A, G, G, d.whh->grad, gath, tmp);
        else {
            acc_prev(&d, y, A, G, 2 * H, d.whh->grad, gath, tmp);
            if (!d.rb) acc_prev(&d, y, E, H, H, d.whh->grad + 2 * H * H, gath, tmp);
            else /* dW_hn += dA_n^T (r*h), r*h saved per step */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)H, (int)NT, 1.0f, A + 2 * H, (int)G, E, (int)H,
                            1.0f, d.whh->grad + 2 * H * H, (int)H);
        }
    }
}

/* Backward reads y (the previous h of every step), W_hh, h0/c0, lengths, and x for dW_ih. The
 * reference backward recomputes the forward from x, so x is kept even with W_ih frozen (the
 * only case where that costs memory). */
static unsigned rnn_saves(const ft_node *n) {
    unsigned m = FT_SAVE_OUT;
    for (int k = 0; k < n->n_in; k++) m |= 1u << k;
    return m;
}

/* ---- reference: one sequence at a time, sums in double, nothing shared with the fast path ---- */

/* Runs sequence b forward from its inputs. Per step s (s < L) it stores h_prev, c_prev, the gate
 * activations and ex (LSTM: c_t; GRU: W_hn h + b_hn, or r*h when reset_before_linear) in the
 * given arrays (any may be NULL), and writes y. Work arrays: gx, gh [G], h, c, rh [H]. */
static void ref_sequence(const ft_node *n, const rnn_dims *d, int64_t b, float *hprev, float *cprev, float *act, float *ex,
                         float *gx, float *gh, float *h, float *c, float *rh) {
    int64_t T = d->T, F = d->F, H = d->H, G = d->G, L = rnn_len(d, b);
    const float *Wih = d->wih->val, *Whh = d->whh->val;
    for (int64_t j = 0; j < H; j++) {
        h[j] = d->h0 ? d->h0->val[b * H + j] : 0.0f;
        c[j] = d->c0 ? d->c0->val[b * H + j] : 0.0f;
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < d->ldy; j++) n->val[(b * T + t) * d->ldy + j] = 0.0f;
    for (int64_t s = 0; s < L; s++) {
        int64_t t = rnn_t(d, b, s);
        const float *xr = d->x->val + (b * T + t) * F;
        if (hprev) memcpy(hprev + s * H, h, (size_t)H * sizeof *h);
        if (cprev) memcpy(cprev + s * H, c, (size_t)H * sizeof *c);
        for (int64_t k = 0; k < G; k++) {
            double sx = d->bih ? d->bih->val[k] : 0.0, sh = d->bhh ? d->bhh->val[k] : 0.0;
            for (int64_t i = 0; i < F; i++) sx += (double)Wih[k * F + i] * xr[i];
            if (!(d->rb && k >= 2 * H))
                for (int64_t j = 0; j < H; j++) sh += (double)Whh[k * H + j] * h[j];
            gx[k] = (float)sx;
            gh[k] = (float)sh;
        }
        float *ac = act ? act + s * G : gx; /* activations (in place when not kept) */
        if (d->lstm) {
            for (int64_t j = 0; j < H; j++) {
                double ig = 1 / (1 + exp(-((double)gx[j] + gh[j]))), fg = 1 / (1 + exp(-((double)gx[H + j] + gh[H + j])));
                double gg = tanh((double)gx[2 * H + j] + gh[2 * H + j]), og = 1 / (1 + exp(-((double)gx[3 * H + j] + gh[3 * H + j])));
                double cv = fg * c[j] + ig * gg;
                c[j] = (float)cv;
                h[j] = (float)(og * tanh(cv));
                ac[j] = (float)ig; ac[H + j] = (float)fg; ac[2 * H + j] = (float)gg; ac[3 * H + j] = (float)og;
                if (ex) ex[s * H + j] = (float)cv;
            }
        } else {
            for (int64_t j = 0; j < H; j++) {
                double r = 1 / (1 + exp(-((double)gx[j] + gh[j]))), z = 1 / (1 + exp(-((double)gx[H + j] + gh[H + j])));
                ac[j] = (float)r; ac[H + j] = (float)z;
                rh[j] = (float)(r * h[j]);
            }
            for (int64_t j = 0; j < H; j++) {
                double hn;
                if (d->rb) {
                    hn = d->bhh ? d->bhh->val[2 * H + j] : 0.0;
                    for (int64_t k = 0; k < H; k++) hn += (double)Whh[(2 * H + j) * H + k] * rh[k];
                    if (ex) ex[s * H + j] = rh[j];
                } else {
                    hn = ac[j] * (double)gh[2 * H + j];
                    if (ex) ex[s * H + j] = gh[2 * H + j];
                }
                ac[2 * H + j] = (float)tanh((double)gx[2 * H + j] + hn);
            }
            for (int64_t j = 0; j < H; j++) h[j] = (float)((1 - (double)ac[H + j]) * ac[2 * H + j] + (double)ac[H + j] * h[j]);
        }
        for (int64_t j = 0; j < H; j++) {
            n->val[(b * T + t) * d->ldy + j] = h[j];
            if (d->cell) n->val[(b * T + t) * d->ldy + H + j] = c[j];
        }
    }
}

static ft_status rnn_forward_ref(ft_node *n) {
    rnn_dims d = rnn_get(n);
    ft_status st = check_lengths(d.lstm ? "lstm" : "gru", d.len, d.N, d.T);
    if (st) return st;
    float *w = n->scratch;
    for (int64_t b = 0; b < d.N; b++)
        ref_sequence(n, &d, b, NULL, NULL, NULL, NULL, w, w + d.G, w + 2 * d.G, w + 2 * d.G + d.H, w + 2 * d.G + 2 * d.H);
    return FT_OK;
}

/* BPTT written out per sequence: recompute its forward, then walk back step by step. */
static void rnn_backward_ref(ft_node *n) {
    rnn_dims d = rnn_get(n);
    int64_t T = d.T, F = d.F, H = d.H, G = d.G;
    const float *Wih = d.wih->val, *Whh = d.whh->val;
    float *hprev = n->scratch, *cprev = hprev + T * H, *act = cprev + T * H, *ex = act + T * G;
    float *gx = ex + T * H, *gh = gx + G, *h = gh + G, *c = h + H, *rh = c + H;
    float *dh = rh + H, *dc = dh + H, *dgx = dc + H, *dgh = dgx + G, *drh = dgh + G, *ndh = drh + H;
    for (int64_t b = 0; b < d.N; b++) {
        int64_t L = rnn_len(&d, b);
        ref_sequence(n, &d, b, hprev, cprev, act, ex, gx, gh, h, c, rh);
        for (int64_t j = 0; j < H; j++) dh[j] = dc[j] = 0.0f;
        for (int64_t s = L - 1; s >= 0; s--) {
            int64_t t = rnn_t(&d, b, s);
            const float *gy = n->grad + (b * T + t) * d.ldy, *a = act + s * G, *hp = hprev + s * H;
            for (int64_t j = 0; j < H; j++) {
                double dhv = (double)dh[j] + gy[j];
                if (d.lstm) {
                    double ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j], tc = tanh((double)ex[s * H + j]);
                    double dcv = dc[j] + dhv * og * (1 - tc * tc) + (d.cell ? gy[H + j] : 0.0);
                    dgx[j] = (float)(dcv * gg * ig * (1 - ig));
                    dgx[H + j] = (float)(dcv * cprev[s * H + j] * fg * (1 - fg));
                    dgx[2 * H + j] = (float)(dcv * ig * (1 - gg * gg));
                    dgx[3 * H + j] = (float)(dhv * tc * og * (1 - og));
                    dc[j] = (float)(dcv * fg);
                    ndh[j] = 0.0f;
                } else {
                    double r = a[j], z = a[H + j], nn = a[2 * H + j];
                    double dan = dhv * (1 - z) * (1 - nn * nn);
                    dgx[H + j] = (float)(dhv * ((double)hp[j] - nn) * z * (1 - z));
                    dgx[2 * H + j] = (float)dan;
                    if (!d.rb) dgx[j] = (float)(dan * ex[s * H + j] * r * (1 - r));
                    ndh[j] = (float)(dhv * z);
                }
            }
            for (int64_t k = 0; k < G; k++) dgh[k] = dgx[k];
            if (!d.lstm && !d.rb)
                for (int64_t j = 0; j < H; j++) dgh[2 * H + j] = dgx[2 * H + j] * act[s * G + j];
            if (d.rb) { /* d(r*h) = W_hn^T dA_n, then the r gate */
                for (int64_t j = 0; j < H; j++) {
                    double acc = 0;
                    for (int64_t k = 0; k < H; k++) acc += (double)dgx[2 * H + k] * Whh[(2 * H + k) * H + j];
                    drh[j] = (float)acc;
                }
                for (int64_t j = 0; j < H; j++) {
                    double r = a[j];
                    dgx[j] = dgh[j] = (float)(drh[j] * (double)hp[j] * r * (1 - r));
                    ndh[j] += (float)(drh[j] * r);
                }
            }
            const float *xr = d.x->val + (b * T + t) * F;
            for (int64_t k = 0; k < G; k++) {
                if (d.wih->grad)
                    for (int64_t i = 0; i < F; i++) d.wih->grad[k * F + i] += dgx[k] * xr[i];
                if (d.bih && d.bih->grad) d.bih->grad[k] += dgx[k];
                if (d.bhh && d.bhh->grad) d.bhh->grad[k] += dgh[k];
                const float *src = d.rb && k >= 2 * H ? ex + s * H : hp; /* what row k of W_hh multiplied */
                if (d.whh->grad)
                    for (int64_t j = 0; j < H; j++) d.whh->grad[k * H + j] += dgh[k] * src[j];
            }
            if (d.x->grad)
                for (int64_t i = 0; i < F; i++) {
                    double acc = 0;
                    for (int64_t k = 0; k < G; k++) acc += (double)dgx[k] * Wih[k * F + i];
                    d.x->grad[(b * T + t) * F + i] += (float)acc;
                }
            for (int64_t j = 0; j < H; j++) {
                double acc = ndh[j];
                for (int64_t k = 0; k < (d.rb ? 2 * H : G); k++) acc += (double)dgh[k] * Whh[k * H + j];
                dh[j] = (float)acc;
            }
        }
        if (d.h0 && d.h0->grad)
            for (int64_t j = 0; j < H; j++) d.h0->grad[b * H + j] += dh[j];
        if (d.c0 && d.c0->grad)
            for (int64_t j = 0; j < H; j++) d.c0->grad[b * H + j] += dc[j];
    }
}

const ft_op_def ft_def_lstm = {"lstm", rnn_forward, rnn_backward, rnn_forward_ref, rnn_backward_ref, rnn_saves, rnn_aux};
const ft_op_def ft_def_gru = {"gru", rnn_forward, rnn_backward, rnn_forward_ref, rnn_backward_ref, rnn_saves, rnn_aux};

/* ---------------- rnn_final ----------------
 * y [N,T,W] -> [N,W]: block k of `hidden` columns is read at t = 0 when it comes from a reverse
 * direction (bidirectional and k odd, or reverse), else at t = lengths[n]-1.
 * iarg: 0 hidden, 1 bidirectional, 2 reverse, 3 has lengths (in[1]). */
ft_node *ft_rnn_final(ft_graph *g, ft_node *y, ft_node *lengths, int hidden, bool bidirectional, bool reverse) {
    if (!ft_graph_ok(g, 1, &y)) return NULL;
    if (lengths && !ft_graph_ok(g, 1, &lengths)) return NULL;
    if (y->ndim != 3 || y->dtype != FT_F32 || y->shape[1] < 1)
        return ft_graph_fail(g, FT_ESHAPE, "rnn_final: input must be float [batch, time >= 1, features]");
    if (hidden < 1 || y->shape[2] % hidden)
        return ft_graph_fail(g, FT_ESHAPE, "rnn_final: width %lld is not a multiple of hidden=%d", (long long)y->shape[2], hidden);
    if (lengths && (lengths->dtype != FT_I32 || lengths->ndim != 1 || lengths->shape[0] != y->shape[0]))
        return ft_graph_fail(g, FT_ESHAPE, "rnn_final: lengths must be int32 [%lld]", (long long)y->shape[0]);
    ft_node *in[2] = {y, lengths};
    int64_t shape[2] = {y->shape[0], y->shape[2]};
    ft_node *n = ft_node_new(g, FT_OP_RNN_FINAL, lengths ? 2 : 1, in, 2, shape);
    if (n) { n->iarg[0] = hidden; n->iarg[1] = bidirectional; n->iarg[2] = reverse; n->iarg[3] = lengths != NULL; }
    return n;
}

/* Time index that block k of sequence b is read at. */
static int64_t fin_t(const ft_node *n, int64_t b, int64_t k) {
    bool rev = n->iarg[1] ? (k & 1) : n->iarg[2];
    int64_t T = n->in[0]->shape[1];
    return rev ? 0 : (n->iarg[3] ? ((const int32_t *)n->in[1]->val)[b] : T) - 1;
}

static ft_status fin_forward(ft_node *n) {
    const ft_node *y = n->in[0];
    int64_t N = y->shape[0], T = y->shape[1], W = y->shape[2], H = n->iarg[0];
    ft_status st = check_lengths("rnn_final", n->iarg[3] ? (const int32_t *)n->in[1]->val : NULL, N, T);
    if (st) return st;
    for (int64_t b = 0; b < N; b++)
        for (int64_t k = 0; k < W / H; k++)
            memcpy(n->val + b * W + k * H, y->val + (b * T + fin_t(n, b, k)) * W + k * H, (size_t)H * sizeof(float));
    return FT_OK;
}

static void fin_backward(ft_node *n) {
    ft_node *y = n->in[0];
    if (!y->grad) return;
    int64_t N = y->shape[0], T = y->shape[1], W = y->shape[2], H = n->iarg[0];
    for (int64_t b = 0; b < N; b++)
        for (int64_t k = 0; k < W / H; k++) {
            float *dst = y->grad + (b * T + fin_t(n, b, k)) * W + k * H;
            const float *src = n->grad + b * W + k * H;
            for (int64_t j = 0; j < H; j++) dst[j] += src[j];
        }
}

static unsigned fin_saves(const ft_node *n) { return n->iarg[3] ? 2u : 0u; }

const ft_op_def ft_def_rnn_final = {"rnn_final", fin_forward, fin_backward, NULL, NULL, fin_saves, NULL};
