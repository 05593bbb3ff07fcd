/* Every op: finite-difference gradient check (central differences, loss accumulated in
 * double) and fast kernels vs naive reference kernels, forward and backward. */
#include "test.h"
#include "ops/ops.h"

#define MAXP 4
#define MAXIN 2

typedef struct {
    ft_node *p[MAXP];       /* parameter nodes (the differentiable inputs) */
    ft_node *in[MAXIN];     /* int32 inputs */
    const int32_t *in_data[MAXIN];
    int n_in;
} ctx;

typedef ft_node *(*build_fn)(ft_graph *g, ctx *c);

static ft_node *int_input(ft_graph *g, ctx *c, int ndim, const int64_t *shape, const int32_t *data) {
    ft_node *n = ft_input(g, "ids", FT_I32, ndim, shape);
    c->in[c->n_in] = n;
    c->in_data[c->n_in++] = data;
    return n;
}

typedef struct {
    t_grad_case t;
    ctx c;
} harness;

/* Build params of the given shapes, the op, and loss = sum(out * gout). */
static int setup(harness *h, int np, const int nd[], const int64_t shapes[][4], build_fn fn, uint64_t seed, bool away_from_zero) {
    memset(h, 0, sizeof *h);
    h->t.ps = ft_params_new();
    char name[16];
    for (int i = 0; i < np; i++) {
        snprintf(name, sizeof name, "p%d", i);
        ft_params_add(h->t.ps, name, nd[i], shapes[i]);
    }
    ft_params_finalize(h->t.ps);
    for (int i = 0; i < np; i++) {
        ft_params_init_uniform(h->t.ps, i, seed, 1.0f);
        if (away_from_zero) { /* keep clear of kinks (relu at 0) */
            float *v = ft_params_value(h->t.ps, i);
            for (int64_t k = 0; k < h->t.ps->p[i].numel; k++) v[k] += v[k] >= 0 ? 0.1f : -0.1f;
        }
    }
    ft_params_alloc_grads(h->t.ps);
    h->t.g = ft_graph_new(h->t.ps);
    for (int i = 0; i < np; i++) h->c.p[i] = ft_param_at(h->t.g, i);
    h->t.out = fn(h->t.g, &h->c);
    if (!h->t.out) { fprintf(stderr, "build failed: %s\n", ft_graph_status(h->t.g) ? "graph error" : "?"); return 0; }
    ft_pcg32 r;
    ft_pcg32_seed(&r, seed + 99, 7);
    if (!t_grad_plan(&h->t, &r, "op")) return 0;
    for (int i = 0; i < h->c.n_in; i++)
        ft_graph_set_input(h->t.g, h->c.in[i], h->c.in_data[i], (size_t)h->c.in[i]->numel * 4);
    return 1;
}

static void check_op(const char *name, int np, const int nd[], const int64_t shapes[][4], build_fn fn, bool away, double tol) {
    harness h;
    if (!setup(&h, np, nd, shapes, fn, 42, away)) { CHECKF(0, "%s: setup", name); return; }
    /* analytic gradients; fast and reference kernels must agree */
    float *fast_grad = t_grad_fast_vs_ref(&h.t, name, 1e-5, 1e-5, false);
    /* finite differences, in double, on up to 24 entries of every parameter */
    int bad = 0, checked = 0;
    for (int i = 0; i < np; i++) t_grad_fd(&h.t, i, fast_grad, 24, tol, name, &bad, &checked);
    CHECKF(bad == 0, "%s: %d of %d gradient entries disagree with finite differences", name, bad, checked);
    free(fast_grad);
    t_grad_free(&h.t);
}

/* ---- cases ---- */
static ft_node *b_linear(ft_graph *g, ctx *c) { return ft_linear(g, c->p[0], c->p[1], c->p[2]); }
static ft_node *b_linear_nobias(ft_graph *g, ctx *c) { return ft_linear(g, c->p[0], c->p[1], NULL); }
static ft_node *b_matmul(ft_graph *g, ctx *c) { return ft_matmul(g, c->p[0], c->p[1], false, false); }
static ft_node *b_matmul_tt(ft_graph *g, ctx *c) { return ft_matmul(g, c->p[0], c->p[1], true, true); }
static ft_node *b_matmul_ta(ft_graph *g, ctx *c) { return ft_matmul(g, c->p[0], c->p[1], true, false); }
static ft_node *b_matmul_tb(ft_graph *g, ctx *c) { return ft_matmul(g, c->p[0], c->p[1], false, true); }
static ft_node *b_add(ft_graph *g, ctx *c) { return ft_add(g, c->p[0], c->p[1]); }
static ft_node *b_sub(ft_graph *g, ctx *c) { return ft_sub(g, c->p[0], c->p[1]); }
static ft_node *b_mul(ft_graph *g, ctx *c) { return ft_mul(g, c->p[0], c->p[1]); }
static ft_node *b_div(ft_graph *g, ctx *c) { return ft_div(g, c->p[0], c->p[1]); }
static ft_node *b_scale(ft_graph *g, ctx *c) { return ft_scale(g, c->p[0], -1.5f, 0.25f); }
static ft_node *b_relu(ft_graph *g, ctx *c) { return ft_relu(g, c->p[0]); }
static ft_node *b_gelu(ft_graph *g, ctx *c) { return ft_gelu(g, c->p[0], false); }
static ft_node *b_gelu_tanh(ft_graph *g, ctx *c) { return ft_gelu(g, c->p[0], true); }
static ft_node *b_silu(ft_graph *g, ctx *c) { return ft_silu(g, c->p[0]); }
static ft_node *b_sigmoid(ft_graph *g, ctx *c) { return ft_sigmoid(g, c->p[0]); }
static ft_node *b_tanh(ft_graph *g, ctx *c) { return ft_tanh(g, c->p[0]); }
static ft_node *b_softmax(ft_graph *g, ctx *c) { return ft_softmax(g, c->p[0]); }
static ft_node *b_log_softmax(ft_graph *g, ctx *c) { return ft_log_softmax(g, c->p[0]); }
static const int32_t ce_targets[6] = {1, 0, -100, 4, 2, 3};
static ft_node *b_ce(ft_graph *g, ctx *c) {
    int64_t s[1] = {6};
    return ft_cross_entropy(g, c->p[0], int_input(g, c, 1, s, ce_targets), -100, 0.1f);
}
static ft_node *b_ce_plain(ft_graph *g, ctx *c) {
    int64_t s[1] = {6};
    return ft_cross_entropy(g, c->p[0], int_input(g, c, 1, s, ce_targets), -100, 0.0f);
}
static ft_node *b_mse(ft_graph *g, ctx *c) { return ft_mse(g, c->p[0], c->p[1]); }
static ft_node *b_reshape(ft_graph *g, ctx *c) { int64_t s[2] = {4, -1}; return ft_reshape(g, c->p[0], 2, s); }
static ft_node *b_transpose(ft_graph *g, ctx *c) { return ft_transpose(g, c->p[0], 0, 2); }
static ft_node *b_transpose12(ft_graph *g, ctx *c) { return ft_transpose(g, c->p[0], -1, 1); }
static ft_node *b_slice(ft_graph *g, ctx *c) { return ft_slice(g, c->p[0], 1, 1, 3); }
static ft_node *b_concat(ft_graph *g, ctx *c) { ft_node *xs[3] = {c->p[0], c->p[1], c->p[0]}; return ft_concat(g, 3, xs, 1); }
static ft_node *b_sum(ft_graph *g, ctx *c) { return ft_sum(g, c->p[0], 1, true); }
static ft_node *b_sum_all(ft_graph *g, ctx *c) { return ft_sum(g, c->p[0], FT_ALL_DIMS, false); }
static ft_node *b_mean(ft_graph *g, ctx *c) { return ft_mean(g, c->p[0], -1, false); }
static ft_node *b_dropout_eval_path(ft_graph *g, ctx *c) { return ft_dropout(g, c->p[0], 0.3f); }
static const int32_t emb_ids[6] = {3, 0, 3, 1, 4, 2};
static ft_node *b_embedding(ft_graph *g, ctx *c) {
    int64_t s[2] = {2, 3};
    return ft_embedding(g, int_input(g, c, 2, s, emb_ids), c->p[0]);
}
static ft_node *b_layer_norm(ft_graph *g, ctx *c) { return ft_layer_norm(g, c->p[0], c->p[1], c->p[2], 1e-5f); }
static ft_node *b_layer_norm_plain(ft_graph *g, ctx *c) { return ft_layer_norm(g, c->p[0], NULL, NULL, 1e-5f); }
static ft_node *b_rms_norm(ft_graph *g, ctx *c) { return ft_rms_norm(g, c->p[0], c->p[1], 1e-5f); }
static ft_node *b_rms_norm_plain(ft_graph *g, ctx *c) { return ft_rms_norm(g, c->p[0], NULL, 1e-6f); }
static ft_node *b_rope(ft_graph *g, ctx *c) { return ft_rope(g, c->p[0], 2, 10000.0f, NULL); }
static const int32_t rope_pos[3] = {5, 0, 17};
static ft_node *b_rope_pos(ft_graph *g, ctx *c) {
    int64_t s[1] = {3};
    return ft_rope(g, c->p[0], 3, 500.0f, int_input(g, c, 1, s, rope_pos));
}
static ft_node *b_attn(ft_graph *g, ctx *c) {
    ft_attention_args a = {2, 2, false, 0};
    return ft_attention(g, c->p[0], c->p[1], c->p[2], NULL, &a);
}
static const int32_t attn_mask[10] = {1, 1, 1, 1, 0, 0, 1, 1, 1, 1};
static ft_node *b_attn_gqa_causal_mask(ft_graph *g, ctx *c) {
    ft_attention_args a = {3, 1, true, 0.3f};
    int64_t s[2] = {2, 5};
    return ft_attention(g, c->p[0], c->p[1], c->p[2], int_input(g, c, 2, s, attn_mask), &a);
}
static ft_node *b_attn_gqa2_causal(ft_graph *g, ctx *c) {
    ft_attention_args a = {4, 2, true, 0};
    return ft_attention(g, c->p[0], c->p[1], c->p[2], NULL, &a);
}
static ft_node *b_attn_empty_row(ft_graph *g, ctx *c) { /* Tq > Tk, causal: row 0 sees no key */
    ft_attention_args a = {1, 1, true, 0};
    return ft_attention(g, c->p[0], c->p[1], c->p[2], NULL, &a);
}

/* ONNX math ops. Positive operands come from exp() so log/sqrt/pow stay differentiable. */
static ft_node *b_exp(ft_graph *g, ctx *c) { return ft_exp(g, c->p[0]); }
static ft_node *b_log(ft_graph *g, ctx *c) { return ft_log(g, ft_exp(g, c->p[0])); }
static ft_node *b_log_direct(ft_graph *g, ctx *c) { return ft_log(g, ft_abs(g, c->p[0])); }
static ft_node *b_sqrt(ft_graph *g, ctx *c) { return ft_sqrt(g, ft_exp(g, c->p[0])); }
static ft_node *b_abs(ft_graph *g, ctx *c) { return ft_abs(g, c->p[0]); }
static ft_node *b_neg(ft_graph *g, ctx *c) { return ft_neg(g, c->p[0]); }
static ft_node *b_erf(ft_graph *g, ctx *c) { return ft_erf(g, c->p[0]); }
static ft_node *b_reciprocal(ft_graph *g, ctx *c) { return ft_reciprocal(g, c->p[0]); }
static ft_node *b_leaky_relu(ft_graph *g, ctx *c) { return ft_leaky_relu(g, c->p[0], 0.2f); }
static ft_node *b_clip(ft_graph *g, ctx *c) { return ft_clip(g, c->p[0], -0.6f, 0.45f); }
static ft_node *b_clip_lo(ft_graph *g, ctx *c) { return ft_clip(g, c->p[0], -0.6f, INFINITY); }
static ft_node *b_pow2(ft_graph *g, ctx *c) { return ft_pow_scalar(g, c->p[0], 2.0f); }
static ft_node *b_pow3(ft_graph *g, ctx *c) { return ft_pow_scalar(g, c->p[0], 3.0f); }
static ft_node *b_pow_half(ft_graph *g, ctx *c) { return ft_pow_scalar(g, ft_exp(g, c->p[0]), 0.5f); }
static ft_node *b_pow_neg(ft_graph *g, ctx *c) { return ft_pow_scalar(g, ft_exp(g, c->p[0]), -1.5f); }
static ft_node *b_pow(ft_graph *g, ctx *c) { return ft_pow(g, ft_exp(g, c->p[0]), c->p[1]); }
static ft_node *b_maximum(ft_graph *g, ctx *c) { return ft_maximum(g, c->p[0], c->p[1]); }
static ft_node *b_minimum(ft_graph *g, ctx *c) { return ft_minimum(g, c->p[0], c->p[1]); }
static ft_node *b_prelu(ft_graph *g, ctx *c) { return ft_prelu(g, c->p[0], c->p[1]); }
static ft_node *b_where_gt(ft_graph *g, ctx *c) { return ft_where(g, ft_greater(g, c->p[0], c->p[1]), c->p[0], c->p[2]); }
static ft_node *b_mask_le(ft_graph *g, ctx *c) { return ft_mul(g, c->p[0], ft_less_equal(g, c->p[0], c->p[1])); }
static ft_node *b_mask_eq(ft_graph *g, ctx *c) { /* equal of a value with itself: all ones */
    return ft_mul(g, c->p[1], ft_add(g, ft_equal(g, c->p[0], c->p[0]), ft_greater_equal(g, c->p[0], c->p[0])));
}
static ft_node *b_mask_lt(ft_graph *g, ctx *c) { return ft_mul(g, c->p[0], ft_less(g, c->p[1], c->p[0])); }
static ft_node *b_reduce_max12(ft_graph *g, ctx *c) { int d[2] = {1, 2}; return ft_reduce_max(g, c->p[0], 2, d, false); }
static ft_node *b_reduce_min02(ft_graph *g, ctx *c) { int d[2] = {0, -1}; return ft_reduce_min(g, c->p[0], 2, d, true); }
static ft_node *b_reduce_max_all(ft_graph *g, ctx *c) { return ft_reduce_max(g, c->p[0], 0, NULL, false); }
static ft_node *b_reduce_min1(ft_graph *g, ctx *c) { int d[1] = {1}; return ft_reduce_min(g, c->p[0], 1, d, true); }
static ft_node *b_softmax0(ft_graph *g, ctx *c) { return ft_softmax_dim(g, c->p[0], 0); }
static ft_node *b_softmax1(ft_graph *g, ctx *c) { return ft_softmax_dim(g, c->p[0], 1); }
static ft_node *b_log_softmax1(ft_graph *g, ctx *c) { return ft_log_softmax_dim(g, c->p[0], -2); }

/* Forward values at the edges, where torch fixes a convention (ties, 0, boundaries), and
 * the pruning of comparisons: nothing upstream of one gets a gradient. */
static void check_math_edges(void) {
    ft_params *ps = ft_params_new();
    int64_t sh[1] = {6};
    ft_params_add(ps, "a", 1, sh);
    ft_params_add(ps, "b", 1, sh);
    ft_params_add(ps, "c", 1, sh);
    ft_params_finalize(ps);
    const float cv[6] = {0, 4, 1, 1, 1, 1};
    memcpy(ft_params_value(ps, 2), cv, sizeof cv);
    const float av[6] = {-1, 0, 1, 2, 2, -3}, bv[6] = {-1, 0.5f, 1, 3, 1, 4};
    memcpy(ft_params_value(ps, 0), av, sizeof av);
    memcpy(ft_params_value(ps, 1), bv, sizeof bv);
    ft_params_alloc_grads(ps);
    for (int ref = 0; ref < 2; ref++) {
        ft_graph *g = ft_graph_new(ps);
        ft_node *a = ft_param(g, "a"), *b = ft_param(g, "b");
        ft_node *mx = ft_maximum(g, a, b), *ab = ft_abs(g, a), *sq = ft_sqrt(g, ft_param(g, "c")), *cl = ft_clip(g, a, -1, 1);
        ft_node *ge = ft_greater_equal(g, a, b), *wh = ft_where(g, ge, a, b);
        ft_node *terms[5] = {mx, ab, sq, cl, wh};
        ft_node *loss = NULL;
        for (int i = 0; i < 5; i++) {
            ft_node *t = ft_sum(g, terms[i], FT_ALL_DIMS, false);
            loss = loss ? ft_add(g, loss, t) : t;
        }
        ft_node_keep(ge);
        CHECK_OK(ft_graph_plan(g, loss, true));
        CHECK(!ge->requires_grad);
        ft_set_reference_kernels(ref);
        ft_params_zero_grad(ps);
        CHECK_OK(ft_graph_forward(g));
        CHECK_OK(ft_graph_backward(g));
        ft_set_reference_kernels(false);
        const float want_ge[6] = {1, 0, 1, 0, 1, 0};
        CHECK(t_close(ge->val, want_ge, 6, 0, 0, "greater_equal"));
        const float *ga = ft_params_grad(ps, 0), *gb = ft_params_grad(ps, 1);
        const float *gc = ft_params_grad(ps, 2);
        /* d/da: max (ties 0.5) + abs (0 at 0) + clip (1 on [-1, 1], boundaries included) + where (a >= b) */
        CHECKF(ga[0] == 0.5f + -1 + 1 + 1, "grad a[0] = %g", ga[0]);
        CHECKF(ga[1] == 0 + 0 + 1 + 0, "grad a[1] = %g", ga[1]);
        CHECKF(ga[2] == 0.5f + 1 + 1 + 1, "grad a[2] = %g", ga[2]);
        CHECKF(ga[4] == 1 + 1 + 0 + 1, "grad a[4] = %g", ga[4]);
        CHECKF(isinf(gc[0]) && gc[0] > 0 && gc[1] == 0.25f, "sqrt' at 0 and 4: %g %g (want inf 0.25)", gc[0], gc[1]);
        CHECKF(gb[0] == 0.5f && gb[2] == 0.5f && gb[3] == 2 && gb[4] == 0, "grad b = %g %g %g %g", gb[0], gb[2], gb[3], gb[4]);
        ft_graph_free(g);
    }
    ft_params_free(ps);
}

/* Attention memory: an eval plan keeps no [B,H,Tq,Tk] probabilities (per-thread rows of
 * scratch only); a training plan keeps exactly one float per (b, h, i, j). */
static void check_attention_memory(void) {
    const int64_t B = 2, T = 256, H = 4, D = 16;
    int64_t sh[3] = {B, T, H * D};
    for (int training = 0; training < 2; training++) {
        ft_params *ps = ft_params_new();
        int64_t wsh[2] = {H * D, H * D};
        ft_params_add(ps, "w", 2, wsh);
        ft_params_finalize(ps);
        ft_params_alloc_grads(ps);
        ft_graph *g = ft_graph_new(ps);
        ft_node *x = ft_input(g, "x", FT_F32, 3, sh);
        ft_node *q = ft_linear(g, x, ft_param(g, "w"), NULL);
        ft_attention_args a = {(int)H, (int)H, true, 0};
        ft_node *o = ft_attention(g, q, x, x, NULL, &a);
        ft_node *loss = ft_sum(g, o, FT_ALL_DIMS, false);
        ft_node_keep(o);
        CHECK_OK(ft_graph_plan(g, loss, training));
        ft_plan_stats st = ft_graph_stats(g);
        size_t probs = (size_t)(B * H * T * T) * 4, acts = (size_t)(B * T * H * D) * 4;
        if (!training) CHECKF(st.arena_bytes < probs / 2, "eval arena %zu bytes, probabilities alone %zu", st.arena_bytes, probs);
        else CHECKF(st.saved_bytes <= probs + 3 * acts, "saved %zu bytes, want <= P %zu + q,k,v", st.saved_bytes, probs);
        ft_graph_free(g);
        ft_params_free(ps);
    }
}

/* A composite: the same input used twice, through a shared parameter. */
static ft_node *b_reuse(ft_graph *g, ctx *c) {
    ft_node *h = ft_tanh(g, ft_linear(g, c->p[0], c->p[1], NULL));
    return ft_mul(g, h, ft_linear(g, h, c->p[2], NULL));
}

int main(void) {
    ft_set_num_threads(2);
    const double T = 2e-2;
#define C(name, fn, away, ...) do { const int64_t sh[][4] = {__VA_ARGS__}; int nd[MAXP]; \
        int np = (int)(sizeof sh / sizeof sh[0]); \
        for (int i = 0; i < np; i++) { nd[i] = 0; while (nd[i] < 4 && sh[i][nd[i]]) nd[i]++; } \
        check_op(name, np, nd, sh, fn, away, T); } while (0)
    C("linear", b_linear, false, {3, 2, 5}, {4, 5}, {4});
    C("linear_nobias", b_linear_nobias, false, {6, 5}, {3, 5});
    C("matmul", b_matmul, false, {2, 3, 4}, {4, 5});
    C("matmul_batched", b_matmul, false, {2, 3, 4}, {2, 4, 5});
    C("matmul_tt", b_matmul_tt, false, {2, 4, 3}, {2, 5, 4});
    C("matmul_ta", b_matmul_ta, false, {4, 3}, {4, 5});
    C("matmul_tb_shared", b_matmul_tb, false, {2, 3, 4}, {5, 4});
    C("add_bcast", b_add, false, {2, 3, 4}, {3, 1});
    C("add_bias", b_add, false, {2, 3, 4}, {4});
    C("sub_bcast", b_sub, false, {3, 1}, {2, 3, 4});
    C("mul_same", b_mul, false, {2, 3}, {2, 3});
    C("mul_bcast_mid", b_mul, false, {2, 3, 4}, {2, 1, 4});
    C("div", b_div, true, {2, 3, 4}, {4});
    C("scale", b_scale, false, {5, 3});
    C("relu", b_relu, true, {4, 6});
    C("gelu", b_gelu, false, {4, 6});
    C("gelu_tanh", b_gelu_tanh, false, {4, 6});
    C("silu", b_silu, false, {4, 6});
    C("sigmoid", b_sigmoid, false, {4, 6});
    C("tanh", b_tanh, false, {4, 6});
    C("softmax", b_softmax, false, {3, 2, 5});
    C("log_softmax", b_log_softmax, false, {3, 5});
    C("cross_entropy_smooth", b_ce, false, {6, 5});
    C("cross_entropy", b_ce_plain, false, {6, 5});
    C("mse", b_mse, false, {3, 4}, {3, 4});
    C("reshape", b_reshape, false, {2, 3, 4});
    C("transpose02", b_transpose, false, {2, 3, 4});
    C("transpose12", b_transpose12, false, {2, 3, 4, 2});
    C("slice", b_slice, false, {2, 4, 3});
    C("concat", b_concat, false, {2, 3, 2}, {2, 1, 2});
    C("sum_keepdim", b_sum, false, {2, 3, 4});
    C("sum_all", b_sum_all, false, {2, 3, 4});
    C("mean_last", b_mean, false, {2, 3, 4});
    C("dropout_train", b_dropout_eval_path, false, {4, 8});
    C("embedding", b_embedding, false, {5, 4});
    C("layer_norm", b_layer_norm, false, {3, 8}, {8}, {8});
    C("layer_norm_plain", b_layer_norm_plain, false, {2, 3, 8});
    C("shared_param_reuse", b_reuse, false, {3, 4}, {4, 4}, {4, 4});
    C("rms_norm", b_rms_norm, false, {3, 8}, {8});
    C("rms_norm_plain", b_rms_norm_plain, false, {2, 3, 8});
    C("rope", b_rope, false, {2, 3, 8});
    C("rope_positions", b_rope_pos, false, {2, 3, 12});
    C("attention", b_attn, false, {2, 4, 8}, {2, 4, 8}, {2, 4, 8});
    C("attention_gqa_causal_mask", b_attn_gqa_causal_mask, false, {2, 3, 12}, {2, 5, 4}, {2, 5, 4});
    C("attention_gqa2_causal", b_attn_gqa2_causal, false, {1, 6, 16}, {1, 6, 8}, {1, 6, 8});
    C("attention_empty_row", b_attn_empty_row, false, {1, 3, 4}, {1, 2, 4}, {1, 2, 4});
    C("exp", b_exp, false, {4, 6});
    C("log", b_log, false, {4, 6});
    C("log_direct", b_log_direct, true, {4, 6});
    C("sqrt", b_sqrt, false, {4, 6});
    C("abs", b_abs, true, {4, 6});
    C("neg", b_neg, false, {4, 6});
    C("erf", b_erf, false, {4, 6});
    C("reciprocal", b_reciprocal, true, {4, 6});
    C("leaky_relu", b_leaky_relu, true, {4, 6});
    C("clip", b_clip, true, {4, 6});
    C("clip_lo", b_clip_lo, true, {4, 6});
    C("pow2", b_pow2, false, {4, 6});
    C("pow3", b_pow3, false, {4, 6});
    C("pow_half", b_pow_half, false, {4, 6});
    C("pow_neg", b_pow_neg, false, {4, 6});
    C("pow_bcast", b_pow, false, {2, 3, 4}, {3, 1});
    C("pow_same", b_pow, false, {3, 4}, {3, 4});
    C("maximum_bcast", b_maximum, false, {2, 3, 4}, {4});
    C("minimum_bcast_mid", b_minimum, false, {2, 3, 4}, {2, 1, 4});
    C("maximum_bcast_both", b_maximum, false, {3, 1}, {1, 4});
    /* one operand a single value (ONNX's Max(x, c) clamp): the vector fast path */
    C("maximum_scalar", b_maximum, false, {4, 6}, {1});
    C("maximum_scalar_first", b_maximum, false, {1}, {2, 3, 4});
    C("minimum_scalar", b_minimum, false, {4, 6}, {1});
    C("minimum_scalar_first", b_minimum, false, {1, 1}, {3, 5});
    C("mul_scalar", b_mul, false, {4, 6}, {1});
    C("sub_scalar_first", b_sub, false, {1}, {4, 6});
    C("prelu_channel", b_prelu, true, {2, 3, 4, 2}, {3, 1, 1});
    C("prelu_vector", b_prelu, true, {5, 3}, {3});
    C("prelu_scalar", b_prelu, true, {5, 3}, {1});
    C("where_gt", b_where_gt, false, {2, 3, 4}, {4}, {3, 1});
    C("mask_less_equal", b_mask_le, true, {2, 3, 4}, {3, 1});
    C("mask_equal", b_mask_eq, false, {3, 4}, {3, 4});
    C("mask_less", b_mask_lt, true, {2, 5}, {5});
    C("reduce_max12", b_reduce_max12, false, {2, 3, 4});
    C("reduce_min02_keep", b_reduce_min02, false, {2, 3, 4});
    C("reduce_max_all", b_reduce_max_all, false, {2, 3, 4});
    C("reduce_min1_keep", b_reduce_min1, false, {2, 5, 3, 2});
    C("softmax_dim0", b_softmax0, false, {3, 2, 5});
    C("softmax_dim1", b_softmax1, false, {3, 4, 5});
    C("log_softmax_dim1", b_log_softmax1, false, {2, 4, 3});
    check_math_edges();
    check_attention_memory();
    /* every op in the table has a definition */
    for (int i = 0; i < FT_OP_COUNT; i++) CHECKF(ft_op_table[i] && ft_op_table[i]->name, "op %d missing", i);
    TEST_END();
}
