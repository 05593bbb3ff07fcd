/* 0-size tensors (a dim of 0) through the public graph API:
 *  1. every case of tests/fixtures/empty_ops.safetensors (tests/gen/gen_empty_ops.py)
 *     built here by name, planned for training (loss = sum(out * gout)), run forward and
 *     backward with the fast and with the reference kernels, and compared with PyTorch:
 *     values (NaN where torch's mean over nothing is NaN), shapes, and every gradient
 *     (zeros where nothing flows back through an empty result); where the loss is finite,
 *     the non-empty parameters are also checked by central finite differences;
 *  2. the ops that refuse an empty input (losses, batch norm, RNNs, attention; pools of an
 *     empty plane) do so at build time with a message naming the
 *     op and the node; a reshape with -1 next to a 0 is refused as ambiguous;
 *  3. planning and inputs: an empty input takes 0 bytes (NULL data too) and nothing
 *     else, a graph of nothing but empty tensors plans and runs, CTC takes empty targets
 *     [N, 0], a graph config takes a 0 in input.shape and input.batch 0, and its
 *     per-example reshape works on an empty batch;
 *  4. an ONNX model (tests/gen/gen_onnx_empty.py) with a Slice past the end and Concats
 *     of empty pieces imports at batch 2 and at an empty batch 0, runs, and its gradients
 *     match finite differences. */
#include "test.h"
#include "models/models.h"
#include "onnx_fd.h"

#include <stdint.h>

typedef ft_node *(*build_fn)(ft_graph *g, ft_node **in);

/* ---- the fixture's cases, by name (the same computations as the generator) ---- */
static ft_node *b_concat1(ft_graph *g, ft_node **in) { return ft_concat(g, 2, in, 1); }
static ft_node *b_concat0_3(ft_graph *g, ft_node **in) { return ft_concat(g, 3, in, 0); }
static ft_node *b_concat0_2(ft_graph *g, ft_node **in) { return ft_concat(g, 2, in, 0); }
static ft_node *b_linear(ft_graph *g, ft_node **in) { return ft_linear(g, in[0], in[1], in[2]); }
static ft_node *b_linear_nobias(ft_graph *g, ft_node **in) { return ft_linear(g, in[0], in[1], NULL); }
static ft_node *b_matmul(ft_graph *g, ft_node **in) { return ft_matmul(g, in[0], in[1], false, false); }
static ft_node *b_matmul_ta(ft_graph *g, ft_node **in) { return ft_matmul(g, in[0], in[1], true, false); }
static ft_node *b_sum1(ft_graph *g, ft_node **in) { return ft_sum(g, in[0], 1, false); }
static ft_node *b_sum_all(ft_graph *g, ft_node **in) { return ft_sum(g, in[0], FT_ALL_DIMS, false); }
static ft_node *b_sum1_keep(ft_graph *g, ft_node **in) { return ft_sum(g, in[0], 1, true); }
static ft_node *b_mean1(ft_graph *g, ft_node **in) { return ft_mean(g, in[0], 1, false); }
static ft_node *b_mean_all(ft_graph *g, ft_node **in) { return ft_mean(g, in[0], FT_ALL_DIMS, false); }
static ft_node *b_amax1(ft_graph *g, ft_node **in) { const int d = 1; return ft_reduce_max(g, in[0], 1, &d, false); }
static ft_node *b_softmax1(ft_graph *g, ft_node **in) { return ft_softmax_dim(g, in[0], 1); }
static ft_node *b_log_softmax1(ft_graph *g, ft_node **in) { return ft_log_softmax_dim(g, in[0], 1); }
static ft_node *b_slice_to_empty_concat(ft_graph *g, ft_node **in) {
    ft_node *p[2] = {ft_slice(g, in[0], 0, 0, 2), ft_slice_step(g, in[0], 0, 10, 20, 1)};
    return ft_concat(g, 2, p, 0);
}
static ft_node *b_slice_of_empty(ft_graph *g, ft_node **in) { return ft_slice(g, in[0], 1, 1, 3); }
static ft_node *b_reshape(ft_graph *g, ft_node **in) { const int64_t s[3] = {3, 4, 0}; return ft_reshape(g, in[0], 3, s); }
static ft_node *b_transpose(ft_graph *g, ft_node **in) { return ft_transpose(g, in[0], 0, 2); }
static ft_node *b_permute(ft_graph *g, ft_node **in) { const int p[3] = {1, 2, 0}; return ft_permute(g, in[0], p); }
static ft_node *b_expand(ft_graph *g, ft_node **in) { const int64_t s[2] = {0, 3}; return ft_expand(g, in[0], 2, s); }
static ft_node *b_gather_none(ft_graph *g, ft_node **in) { const int64_t sh[1] = {0}; return ft_gather(g, in[0], 0, 1, sh, NULL); }
static ft_node *b_gather_of_empty(ft_graph *g, ft_node **in) {
    const int64_t sh[1] = {2}, idx[2] = {2, 0};
    return ft_gather(g, in[0], 1, 1, sh, idx);
}
static ft_node *b_pad_plus(ft_graph *g, ft_node **in) {
    const int64_t pads[4] = {1, 0, 1, 2};
    return ft_add(g, ft_pad(g, in[0], pads, FT_PADDING_CONSTANT, 0.5f), in[1]);
}
static ft_node *b_add(ft_graph *g, ft_node **in) { return ft_add(g, in[0], in[1]); }
static ft_node *b_mul(ft_graph *g, ft_node **in) { return ft_mul(g, in[0], in[1]); }
static ft_node *b_exp(ft_graph *g, ft_node **in) { return ft_exp(g, in[0]); }
static ft_node *b_where(ft_graph *g, ft_node **in) { return ft_where(g, in[0], in[1], in[2]); }
static ft_node *b_layer_norm(ft_graph *g, ft_node **in) { return ft_layer_norm(g, in[0], in[1], in[2], 1e-5f); }
static ft_node *b_rms_norm(ft_graph *g, ft_node **in) { return ft_rms_norm(g, in[0], in[1], 1e-6f); }
static ft_node *b_embedding(ft_graph *g, ft_node **in) { return ft_embedding(g, in[0], in[1]); }
static ft_node *b_conv(ft_graph *g, ft_node **in) {
    ft_conv2d_args a = ft_conv2d_defaults();
    a.stride[0] = a.stride[1] = 2;
    for (int i = 0; i < 4; i++) a.pad[i] = 1;
    return ft_conv2d(g, in[0], in[1], in[2], &a);
}
static ft_node *b_conv3x3(ft_graph *g, ft_node **in) {
    ft_conv2d_args a = ft_conv2d_defaults();
    for (int i = 0; i < 4; i++) a.pad[i] = 1;
    return ft_conv2d(g, in[0], in[1], NULL, &a);
}
static ft_node *b_conv_dw(ft_graph *g, ft_node **in) {
    ft_conv2d_args a = ft_conv2d_defaults();
    for (int i = 0; i < 4; i++) a.pad[i] = 1;
    a.groups = 4;
    return ft_conv2d(g, in[0], in[1], NULL, &a);
}
static ft_node *b_max_pool(ft_graph *g, ft_node **in) { ft_pool2d_args a = {.kernel = {2, 2}}; return ft_max_pool2d(g, in[0], &a); }
static ft_node *b_avg_pool(ft_graph *g, ft_node **in) {
    ft_pool2d_args a = {.kernel = {3, 3}, .stride = {2, 2}, .pad = {1, 1, 1, 1}, .count_include_pad = true};
    return ft_avg_pool2d(g, in[0], &a);
}
static ft_node *b_global_pool(ft_graph *g, ft_node **in) { return ft_global_avg_pool(g, in[0], false); }
static ft_node *b_pad2d(ft_graph *g, ft_node **in) { const int p[4] = {0, 1, 1, 2}; return ft_pad2d(g, in[0], p, 0.25f); }

static const struct { const char *name; build_fn fn; } CASES[] = {
    {"concat_empty_first", b_concat1}, {"concat_empty_middle", b_concat0_3}, {"concat_all_empty", b_concat0_2},
    {"linear_k0", b_linear}, {"linear_k0_nobias", b_linear_nobias}, {"linear_rows0", b_linear},
    {"matmul_k0", b_matmul}, {"matmul_k0_trans_a", b_matmul_ta}, {"matmul_m0", b_matmul},
    {"sum_empty_dim", b_sum1}, {"sum_all_empty", b_sum_all}, {"sum_keepdim_of_empty", b_sum1_keep},
    {"mean_empty_dim", b_mean1}, {"mean_all_empty", b_mean_all}, {"mean_of_empty", b_mean1}, {"amax_of_empty", b_amax1},
    {"softmax_empty_dim", b_softmax1}, {"log_softmax_of_empty", b_log_softmax1},
    {"slice_to_empty_concat", b_slice_to_empty_concat}, {"slice_of_empty", b_slice_of_empty},
    {"reshape_empty", b_reshape}, {"transpose_empty", b_transpose}, {"permute_empty", b_permute},
    {"expand_to_zero", b_expand}, {"gather_no_indices", b_gather_none}, {"gather_of_empty", b_gather_of_empty},
    {"pad_empty_plus", b_pad_plus}, {"add_bcast_empty", b_add}, {"mul_scalar_empty", b_mul}, {"exp_empty", b_exp},
    {"where_empty", b_where}, {"layer_norm_of_empty", b_layer_norm}, {"layer_norm_empty_dim", b_layer_norm},
    {"rms_norm_of_empty", b_rms_norm}, {"embedding_no_ids", b_embedding},
    {"conv2d_batch0", b_conv}, {"conv2d_3x3_batch0", b_conv3x3}, {"conv2d_depthwise_batch0", b_conv_dw},
    {"max_pool2d_batch0", b_max_pool}, {"avg_pool2d_batch0", b_avg_pool}, {"global_avg_pool_batch0", b_global_pool},
    {"pad2d_batch0", b_pad2d},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static const ft_st_tensor *tensor(const ft_safetensors *st, const char *cname, const char *suffix) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", cname, suffix);
    const ft_st_tensor *t = ft_st_find(st, name);
    CHECKF(t != NULL, "fixture has no %s", name);
    return t;
}

static bool same_shape(const ft_node *n, const ft_st_tensor *t) {
    if (n->ndim != t->ndim) return false;
    for (int d = 0; d < n->ndim; d++)
        if (n->shape[d] != t->shape[d]) return false;
    return true;
}

/* a vs the fixture's float32 values; NaN only where the reference is NaN */
static bool matches(const float *a, const ft_st_tensor *t, const char *what) {
    float *ref = malloc((size_t)(t->numel ? t->numel : 1) * 4);
    ft_st_to_f32(t, ref);
    bool ok = true;
    for (int64_t i = 0; i < t->numel && ok; i++) {
        if (isnan(ref[i])) ok = isnan(a[i]);
        else ok = fabs((double)a[i] - ref[i]) <= 1e-5 + 1e-4 * fabs(ref[i]);
        if (!ok) fprintf(stderr, "  %s[%lld]: %g, want %g\n", what, (long long)i, a[i], ref[i]);
    }
    free(ref);
    return ok;
}

typedef struct {
    ft_params *ps;
    ft_graph *g;
    ft_node *in[FT_MAX_INPUTS], *out, *gout, *loss;
    int pidx[FT_MAX_INPUTS], n_in;
    float *gv;
} run;

static void run_free(run *r) {
    ft_graph_free(r->g);
    ft_params_free(r->ps);
    free(r->gv);
}

static double loss_of(run *r) {
    if (ft_graph_forward(r->g)) return NAN;
    double s = 0;
    for (int64_t i = 0; i < r->out->numel; i++) s += (double)r->out->val[i] * r->gv[i];
    return s;
}

/* Build and plan one case; float inputs are trainable parameters, int32 ones inputs. */
static bool setup(run *r, const ft_safetensors *st, const char *cname, build_fn fn) {
    memset(r, 0, sizeof *r);
    r->ps = ft_params_new();
    const ft_st_tensor *t[FT_MAX_INPUTS];
    char name[64];
    for (int k = 0; k < FT_MAX_INPUTS; k++) {
        snprintf(name, sizeof name, "%s.in%d", cname, k);
        if (!(t[k] = ft_st_find(st, name))) break;
        r->pidx[k] = t[k]->dtype == FT_ST_I32 ? -1 : ft_params_add(r->ps, name, t[k]->ndim, t[k]->shape);
        r->n_in = k + 1;
    }
    CHECK_OK(ft_params_finalize(r->ps));
    CHECK_OK(ft_params_alloc_grads(r->ps));
    r->g = ft_graph_new(r->ps);
    for (int k = 0; k < r->n_in; k++) {
        if (r->pidx[k] >= 0) {
            ft_st_to_f32(t[k], ft_params_value(r->ps, r->pidx[k]));
            r->in[k] = ft_param_at(r->g, r->pidx[k]);
        } else {
            r->in[k] = ft_input(r->g, "ids", FT_I32, t[k]->ndim, t[k]->shape);
        }
    }
    r->out = fn(r->g, r->in);
    if (!r->out) {
        CHECKF(0, "%s: build: %s", cname, (ft_graph_plan(r->g, NULL, false), ft_errmsg()));
        return false;
    }
    r->gout = ft_input(r->g, "gout", FT_F32, r->out->ndim, r->out->shape);
    r->loss = ft_sum(r->g, ft_mul(r->g, r->out, r->gout), FT_ALL_DIMS, false);
    ft_node_keep(r->out);
    ft_status s = ft_graph_plan(r->g, r->loss, true);
    CHECKF(s == FT_OK, "%s: plan: %s", cname, ft_errmsg());
    if (s) return false;
    const ft_st_tensor *gt = tensor(st, cname, "gout");
    if (!gt) return false;
    r->gv = malloc((size_t)(gt->numel ? gt->numel : 1) * 4);
    ft_st_to_f32(gt, r->gv);
    /* empty inputs take 0 bytes, from any pointer (NULL included) */
    CHECK_OK(ft_graph_set_input(r->g, r->gout, gt->numel ? r->gv : NULL, (size_t)gt->numel * 4));
    for (int k = 0; k < r->n_in; k++)
        if (r->pidx[k] < 0) CHECK_OK(ft_graph_set_input(r->g, r->in[k], t[k]->numel ? t[k]->data : NULL, t[k]->nbytes));
    return true;
}

static void check_case(const ft_safetensors *st, const char *cname, build_fn fn, int *fd_checked) {
    run r;
    if (!setup(&r, st, cname, fn)) { run_free(&r); return; }
    const ft_st_tensor *want = tensor(st, cname, "out");
    CHECKF(want && same_shape(r.out, want), "%s: output shape", cname);
    for (int ref = 0; ref < 2 && want && same_shape(r.out, want); ref++) {
        const char *kind = ref ? "reference" : "fast";
        ft_set_reference_kernels(ref);
        ft_params_zero_grad(r.ps);
        for (int64_t i = 0; i < r.out->numel; i++) r.out->val[i] = NAN; /* the kernels must write every output */
        CHECK_OK(ft_graph_forward(r.g));
        CHECK_OK(ft_graph_backward(r.g));
        ft_set_reference_kernels(false);
        CHECKF(matches(r.out->val, want, cname), "%s: output (%s kernels)", cname, kind);
        for (int k = 0; k < r.n_in; k++) {
            if (r.pidx[k] < 0) continue;
            char g[16];
            snprintf(g, sizeof g, "grad%d", k);
            const ft_st_tensor *gt = tensor(st, cname, g);
            const float *have = ft_params_grad(r.ps, r.pidx[k]);
            CHECKF(gt && have && gt->numel == r.in[k]->numel && matches(have, gt, cname), "%s: %s (%s kernels)", cname, g, kind);
        }
    }
    /* finite differences on the non-empty parameters when the loss is finite */
    ft_params_zero_grad(r.ps);
    double l0 = loss_of(&r);
    if (isfinite(l0) && !ft_graph_backward(r.g)) {
        int bad = 0;
        for (int k = 0; k < r.n_in; k++) {
            if (r.pidx[k] < 0 || !r.in[k]->numel) continue;
            float *v = ft_params_value(r.ps, r.pidx[k]);
            const float *gr = ft_params_grad(r.ps, r.pidx[k]);
            float *an = malloc((size_t)r.in[k]->numel * 4);
            memcpy(an, gr, (size_t)r.in[k]->numel * 4);
            for (int64_t e = 0; e < r.in[k]->numel; e++) {
                const double h = 1e-3;
                float keep = v[e];
                v[e] = keep + (float)h;
                double lp = loss_of(&r);
                v[e] = keep - (float)h;
                double lm = loss_of(&r);
                v[e] = keep;
                double fd = (lp - lm) / (2 * h);
                (*fd_checked)++;
                if (fabs(fd - an[e]) > 2e-3 * (1 + fabs(fd)) && bad++ < 3)
                    fprintf(stderr, "  %s: d/d in%d[%lld]: analytic %.6g, finite difference %.6g\n", cname, k, (long long)e, an[e], fd);
            }
            free(an);
        }
        CHECKF(bad == 0, "%s: %d gradient entries disagree with finite differences", cname, bad);
    }
    run_free(&r);
}

static void torch_cases(void) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/empty_ops.safetensors", &st));
    if (!st) return;
    const char *cases = ft_st_meta(st, "cases");
    CHECK(cases != NULL);
    /* the fixture and this file list the same cases */
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", cases ? cases : "");
    int n_fixture = 0;
    for (char *save = NULL, *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (int i = 0; i < N_CASES; i++) known |= !strcmp(CASES[i].name, c);
        CHECKF(known, "fixture case %s has no builder here", c);
        n_fixture++;
    }
    CHECKF(n_fixture == N_CASES, "%d fixture cases, %d builders", n_fixture, N_CASES);
    int fd_checked = 0;
    for (int i = 0; i < N_CASES; i++) check_case(st, CASES[i].name, CASES[i].fn, &fd_checked);
    printf("%d PyTorch cases with 0-size tensors checked (fast and reference kernels, forward and backward); "
           "%d gradient entries of non-empty parameters checked by finite differences\n", N_CASES, fd_checked);
    CHECK(fd_checked >= 40);
    ft_st_close(st);
}

/* ---- refusals ---- */

/* The builder fails at build time; the message names the op and the node. */
static void expect_refusal(ft_graph *g, ft_node *n, const char *what, const char *op) {
    CHECKF(n == NULL && ft_graph_status(g) == FT_ESHAPE, "%s: built (status %s)", what, ft_status_name(ft_graph_status(g)));
    ft_status s = ft_graph_plan(g, NULL, false);
    CHECKF(s == FT_ESHAPE && strstr(ft_errmsg(), op) && strstr(ft_errmsg(), "node") && strstr(ft_errmsg(), "empty"),
           "%s: %s", what, ft_errmsg());
}

static void refusals(void) {
    int64_t e4[4] = {0, 3, 5, 5}, h0[4] = {2, 3, 0, 4}, e2[2] = {0, 5}, e3[3] = {0, 2, 8}, l1[1] = {0}, c1[1] = {3};
    int64_t wq[2] = {8, 8}, wh[2] = {8, 2};
    ft_params *ps = ft_params_new();
    int ig = ft_params_add(ps, "bn.gamma", 1, c1), iq = ft_params_add(ps, "w_ih", 2, wq);
    int ih = ft_params_add(ps, "w_hh", 2, wh);
    CHECK_OK(ft_params_finalize(ps));
    /* (pools and 2-D padding take an empty batch, whose result is empty, but not an empty plane) */
    const char *ops[] = {"global_avg_pool", "pad2d", "batch_norm", "cross_entropy", "mse", "lstm", "attention"};
    for (int c = 0; c < (int)(sizeof ops / sizeof ops[0]); c++) {
        ft_graph *g = ft_graph_new(ps);
        ft_node *x4 = ft_input(g, "x", FT_F32, 4, e4), *xh = ft_input(g, "plane", FT_F32, 4, h0);
        ft_node *x2 = ft_input(g, "logits", FT_F32, 2, e2), *n = NULL;
        switch (c) {
        case 0: n = ft_global_avg_pool(g, xh, false); break;
        case 1: { const int p[4] = {1, 0, 0, 0}; n = ft_pad2d(g, xh, p, 0.0f); break; }
        case 2: n = ft_batch_norm(g, x4, ft_param_at(g, ig), NULL, NULL, NULL, 1e-5f, 0.1f, false); break;
        case 3: n = ft_cross_entropy(g, x2, ft_input(g, "y", FT_I32, 1, l1), -100, 0.0f); break;
        case 4: n = ft_mse(g, x2, x2); break;
        case 5: {
            ft_node *x = ft_input(g, "seq", FT_F32, 3, e3);
            n = ft_lstm(g, x, ft_param_at(g, iq), ft_param_at(g, ih), NULL, NULL, NULL, NULL, NULL, NULL);
            break;
        }
        case 6: {
            int64_t q[3] = {1, 0, 8};
            ft_node *qq = ft_input(g, "q", FT_F32, 3, q);
            ft_attention_args a = {.n_head = 2, .n_kv_head = 2};
            n = ft_attention(g, qq, qq, qq, NULL, &a);
            break;
        }
        }
        expect_refusal(g, n, ops[c], ops[c]);
        ft_graph_free(g);
    }
    ft_params_free(ps);
    /* reshape: -1 next to a 0 could be anything (torch refuses too); amax over an empty dim */
    ft_graph *g = ft_graph_new(NULL);
    int64_t s3[3] = {0, 3, 4}, t2[2] = {0, -1};
    ft_node *x = ft_input(g, "x", FT_F32, 3, s3);
    CHECK(ft_reshape(g, x, 2, t2) == NULL);
    CHECKF(ft_graph_plan(g, NULL, false) == FT_ESHAPE && strstr(ft_errmsg(), "ambiguous"), "%s", ft_errmsg());
    ft_graph_free(g);
    g = ft_graph_new(NULL);
    x = ft_input(g, "x", FT_F32, 3, s3);
    const int d0 = 0;
    CHECK(ft_reduce_max(g, x, 1, &d0, false) == NULL);
    CHECKF(ft_graph_plan(g, NULL, false) == FT_ESHAPE && strstr(ft_errmsg(), "empty dim"), "%s", ft_errmsg());
    ft_graph_free(g);
}

/* ---- planning, inputs, graph configs ---- */

static void planning(void) {
    /* nothing but empty tensors: plans, runs, and the arena holds nothing for them */
    ft_graph *g = ft_graph_new(NULL);
    int64_t s[2] = {0, 7};
    ft_node *x = ft_input(g, "x", FT_F32, 2, s);
    ft_node *y = ft_softmax(g, ft_scale(g, x, 2.0f, 1.0f));
    ft_node_keep(y);
    CHECK_OK(ft_graph_plan(g, NULL, false));
    ft_plan_stats st = ft_graph_stats(g);
    CHECKF(st.arena_bytes == 0 && st.n_forward_ops == 2, "arena %zu bytes, %d forward ops", st.arena_bytes, st.n_forward_ops);
    CHECK_OK(ft_graph_set_input(g, x, NULL, 0));
    float one = 1.0f;
    CHECK_ERR(ft_graph_set_input(g, x, &one, sizeof one), FT_ESHAPE);
    CHECK_OK(ft_graph_forward(g));
    CHECK(y->numel == 0 && y->ndim == 2 && y->shape[0] == 0 && y->shape[1] == 7);
    ft_graph_free(g);

    /* CTC with every target empty: targets [N, 0]; the loss is -sum_t log p(blank) */
    g = ft_graph_new(NULL);
    int64_t ls[3] = {2, 3, 4}, ts[2] = {2, 0}, ns[1] = {2};
    ft_node *lp = ft_input(g, "lp", FT_F32, 3, ls), *tg = ft_input(g, "targets", FT_I32, 2, ts);
    ft_node *il = ft_input(g, "in_len", FT_I32, 1, ns), *tl = ft_input(g, "tgt_len", FT_I32, 1, ns);
    ft_node *ctc = ft_ctc_loss(g, ft_log_softmax(g, lp), tg, il, tl, 0, FT_REDUCE_SUM, false);
    ft_node_keep(ctc);
    CHECKF(ft_graph_plan(g, NULL, false) == FT_OK, "ctc with empty targets: %s", ft_errmsg());
    if (ctc) {
        float v[24];
        int32_t in_len[2] = {3, 2}, tgt_len[2] = {0, 0};
        for (int i = 0; i < 24; i++) v[i] = (float)((i * 7) % 5) * 0.3f - 0.5f;
        CHECK_OK(ft_graph_set_input(g, lp, v, sizeof v));
        CHECK_OK(ft_graph_set_input(g, tg, NULL, 0));
        CHECK_OK(ft_graph_set_input(g, il, in_len, sizeof in_len));
        CHECK_OK(ft_graph_set_input(g, tl, tgt_len, sizeof tgt_len));
        CHECK_OK(ft_graph_forward(g));
        double want = 0;
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < in_len[b]; t++) {
                const float *row = v + (b * 3 + t) * 4;
                double z = 0;
                for (int c = 0; c < 4; c++) z += exp((double)row[c]);
                want -= row[0] - log(z);
            }
        CHECKF(fabs(ctc->val[0] - want) < 1e-4 * (1 + fabs(want)), "ctc loss %g, want %g", ctc->val[0], want);
    }
    ft_graph_free(g);

    /* a graph config: a 0 in input.shape, a linear layer on no features (its output is the bias) */
    const char *cfg = "{\"arch\":\"graph\",\"input\":{\"shape\":[0]},"
                      "\"params\":[{\"name\":\"fc.weight\",\"shape\":[3,0]},{\"name\":\"fc.bias\",\"shape\":[3]}],"
                      "\"nodes\":[{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"input\"],\"params\":[\"fc.weight\",\"fc.bias\"]}]}";
    ft_model *m = NULL;
    ft_status rs = ft_model_from_config(cfg, &m);
    CHECKF(rs == FT_OK, "config with input.shape [0]: %s", ft_errmsg());
    if (m) {
        CHECK(m->n_classes == 3);
        int bi = ft_params_find(m->params, "fc.bias");
        CHECK(bi >= 0);
        float *b = bi >= 0 ? ft_params_value(m->params, bi) : NULL;
        if (b) { b[0] = 0.5f; b[1] = -1.0f; b[2] = 2.0f; }
        g = ft_graph_new(m->params);
        int64_t xs[2] = {2, 0};
        ft_node *in = ft_input(g, "x", FT_F32, 2, xs);
        ft_node *out = m->arch->build(m, g, in, false);
        ft_node_keep(out);
        CHECK_OK(ft_graph_plan(g, NULL, false));
        CHECK_OK(ft_graph_forward(g));
        CHECK(out && out->numel == 6 && out->val[0] == 0.5f && out->val[4] == -1.0f && out->val[5] == 2.0f);
        ft_graph_free(g);
        ft_model_free(m);
    }
    /* a per-example reshape (the -1 resolved per example) of an empty batch */
    const char *cfgr = "{\"arch\":\"graph\",\"input\":{\"shape\":[3,4]},"
                       "\"nodes\":[{\"name\":\"r\",\"op\":\"reshape\",\"inputs\":[\"input\"],\"attrs\":{\"shape\":[-1,2]}}]}";
    m = NULL;
    CHECK_OK(ft_model_from_config(cfgr, &m));
    if (m) {
        g = ft_graph_new(m->params);
        int64_t xs[3] = {0, 3, 4};
        ft_node *in = ft_input(g, "x", FT_F32, 3, xs);
        ft_node *out = m->arch->build(m, g, in, false);
        ft_node_keep(out);
        CHECKF(ft_graph_plan(g, NULL, false) == FT_OK, "reshape of an empty batch: %s", ft_errmsg());
        CHECK(out && out->ndim == 3 && out->shape[0] == 0 && out->shape[1] == 6 && out->shape[2] == 2);
        CHECK_OK(ft_graph_forward(g));
        ft_graph_free(g);
        ft_model_free(m);
    }
    /* input.batch 0 (an ONNX import of an empty input records it); a negative dim is still refused */
    const char *cfg0 = "{\"arch\":\"graph\",\"input\":{\"shape\":[3,4],\"batch\":0},"
                       "\"nodes\":[{\"name\":\"r\",\"op\":\"reshape\",\"inputs\":[\"input\"],\"attrs\":{\"shape\":[3,4,0],\"full\":true}}]}";
    m = NULL;
    rs = ft_model_from_config(cfg0, &m);
    CHECKF(rs == FT_OK, "config with input.batch 0: %s", ft_errmsg());
    ft_model_free(m);
    m = NULL;
    CHECK_ERR(ft_model_from_config("{\"arch\":\"graph\",\"input\":{\"shape\":[-1]},\"nodes\":[]}", &m), FT_EINVAL);
    ft_model_free(m);
}

/* ---- an ONNX model with empty tensors (tests/gen/gen_onnx_empty.py): a Slice past the end,
 * a Concat with an empty piece (y = x + b), a Concat of empty pieces only (ee [N, 0, 4]) ---- */
static void onnx_model(void) {
    for (int batch = 2; batch >= 0; batch -= 2) {
        ft_onnx_opts o = ft_onnx_defaults();
        o.input_ndim = 3;
        o.input_shape[0] = batch;
        o.input_shape[1] = 3;
        o.input_shape[2] = 2;
        ft_model *m = NULL;
        ft_status s = ft_import_onnx("tests/fixtures/onnx_empty.onnx", &o, &m);
        CHECKF(s == FT_OK, "import onnx_empty.onnx at batch %d: %s", batch, ft_errmsg());
        if (s) continue;
        ft_graph *g = ft_graph_new(m->params);
        int64_t xs[3] = {batch, 3, 2};
        ft_node *x = ft_input(g, "x", FT_F32, 3, xs), *outs[4];
        int n = ft_graph_model_outputs(m, g, x, outs, 4);
        CHECKF(n == 2, "%d outputs", n);
        if (n == 2) {
            for (int k = 0; k < 2; k++) ft_node_keep(outs[k]);
            CHECK_OK(ft_graph_plan(g, NULL, false));
            float xv[12];
            for (int i = 0; i < 12; i++) xv[i] = 0.5f * (float)i - 2.0f;
            CHECK_OK(ft_graph_set_input(g, x, batch ? xv : NULL, (size_t)batch * 6 * sizeof(float)));
            CHECK_OK(ft_graph_forward(g));
            const float b[2] = {0.25f, -1.5f};
            CHECK(outs[0]->ndim == 3 && outs[0]->shape[0] == batch && outs[0]->shape[1] == 3 && outs[0]->shape[2] == 2);
            bool ok = true;
            for (int i = 0; i < batch * 6; i++) ok &= outs[0]->val[i] == xv[i] + b[i % 2];
            CHECKF(ok, "y = x + b at batch %d", batch);
            CHECK(outs[1]->ndim == 3 && outs[1]->shape[0] == batch && outs[1]->shape[1] == 0 && outs[1]->shape[2] == 4);
            if (batch) { /* gradients through the imported graph: b and x by finite differences */
                char msg[300] = "";
                int fd = onnx_fd_check(m, 3, xs, xv, msg, sizeof msg);
                CHECKF(fd >= 10, "finite differences through onnx_empty.onnx: %d entries (%s)", fd, msg);
            }
        }
        ft_graph_free(g);
        ft_model_free(m);
    }
}

int main(void) {
    torch_cases();
    onnx_model();
    refusals();
    planning();
    TEST_END();
}
