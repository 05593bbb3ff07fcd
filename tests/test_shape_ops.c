/* The structural ops (gather, expand, slice with steps, N-d pad, permute) and the
 * convolution variants (conv_transpose2d, conv1d and the 1-D pools on the 2-D kernels):
 *  1. finite-difference gradient checks, each also comparing fast and reference kernels
 *     forward and backward (small cases, and cases large enough for the OpenMP paths);
 *  2. every case of tests/fixtures/shape_ops.safetensors (tests/gen/gen_shape_ops.py)
 *     against PyTorch, with fast and with reference kernels;
 *  3. the graph-config ops (gather, expand, slice, pad with "pads"/"mode", permute) on a
 *     small model, int32 tensors through the data-movement ops, and builder errors. */
#include "test.h"
#include "ops/ops.h"

#include <jansson.h>
#include <stdint.h>

/* ---------------- finite differences ---------------- */

typedef t_tspec tspec; /* 'p' trainable, 'f' frozen, 'i' input: tests/test.h */

/* tol <= 0: compare fast and reference kernels only (cases too large for finite differences). */
static void check_op(const char *name, int nt, const tspec *ts, t_build_fn fn, double tol) {
    t_spec_check(name, nt, ts, fn, NULL, tol, 40, false);
}

/* ---- builders for the FD cases ---- */
static ft_node *b_gather0(ft_graph *g, ft_node **in) {
    const int64_t idx[6] = {3, -1, 0, 3, 3, 1}, sh[2] = {2, 3};
    return ft_gather(g, in[0], 0, 2, sh, idx);
}
static ft_node *b_gather1(ft_graph *g, ft_node **in) {
    const int64_t idx[4] = {4, 0, -5, 2}, sh[1] = {4};
    return ft_gather(g, in[0], 1, 1, sh, idx);
}
static ft_node *b_gather_scalar(ft_graph *g, ft_node **in) {
    const int64_t idx[1] = {-2};
    return ft_gather(g, in[0], -1, 0, NULL, idx);
}
static ft_node *b_gather_big(ft_graph *g, ft_node **in) {
    int64_t idx[40], sh[1] = {40};
    for (int i = 0; i < 40; i++) idx[i] = (i * 7) % 24 - (i % 3 ? 0 : 24);
    return ft_gather(g, in[0], 1, 1, sh, idx);
}
static ft_node *b_expand_mid(ft_graph *g, ft_node **in) { const int64_t s[3] = {3, 4, 5}; return ft_expand(g, in[0], 3, s); }
static ft_node *b_expand_lead(ft_graph *g, ft_node **in) { const int64_t s[4] = {2, 3, 4, 5}; return ft_expand(g, in[0], 4, s); }
static ft_node *b_expand_last(ft_graph *g, ft_node **in) { const int64_t s[3] = {1, 1, 6}; return ft_expand(g, in[0], 3, s); }
static ft_node *b_expand_big(ft_graph *g, ft_node **in) { const int64_t s[4] = {8, 16, 32, 64}; return ft_expand(g, in[0], 4, s); }
static ft_node *b_expand_big_lead(ft_graph *g, ft_node **in) { const int64_t s[3] = {64, 32, 32}; return ft_expand(g, in[0], 3, s); }
static ft_node *b_slice2(ft_graph *g, ft_node **in) { return ft_slice_step(g, in[0], 1, 1, 100, 2); }
static ft_node *b_slice_neg(ft_graph *g, ft_node **in) { return ft_slice_step(g, in[0], 1, -2, INT64_MIN, -3); }
static ft_node *b_slice_last_neg(ft_graph *g, ft_node **in) { return ft_slice_step(g, in[0], -1, INT64_MAX, -100, -1); }
static ft_node *b_slice_big(ft_graph *g, ft_node **in) { return ft_slice_step(g, in[0], 1, 0, INT64_MAX, 3); }
static ft_node *b_pad_const(ft_graph *g, ft_node **in) { const int64_t p[6] = {0, 2, -1, 0, -1, 2}; return ft_pad(g, in[0], p, FT_PADDING_CONSTANT, 0.25f); }
static ft_node *b_pad_reflect(ft_graph *g, ft_node **in) { const int64_t p[6] = {0, 2, 1, 0, 3, 2}; return ft_pad(g, in[0], p, FT_PADDING_REFLECT, 0); }
static ft_node *b_pad_edge(ft_graph *g, ft_node **in) { const int64_t p[8] = {0, 3, -1, 2, 0, -1, 2, 4}; return ft_pad(g, in[0], p, FT_PADDING_EDGE, 0); }
static ft_node *b_pad_reflect_crop(ft_graph *g, ft_node **in) { const int64_t p[4] = {0, -2, 0, 3}; return ft_pad(g, in[0], p, FT_PADDING_REFLECT, 0); }
static ft_node *b_pad_big_reflect(ft_graph *g, ft_node **in) { const int64_t p[8] = {0, 0, 3, 3, 0, 0, 3, 3}; return ft_pad(g, in[0], p, FT_PADDING_REFLECT, 0); }
static ft_node *b_pad_big_edge_lead(ft_graph *g, ft_node **in) { const int64_t p[6] = {0, 2, 1, 0, 3, 1}; return ft_pad(g, in[0], p, FT_PADDING_EDGE, 0); }
static ft_node *b_perm(ft_graph *g, ft_node **in) { const int p[4] = {0, 3, 1, 2}; return ft_permute(g, in[0], p); }
static ft_node *b_perm_last_fixed(ft_graph *g, ft_node **in) { const int p[4] = {2, 0, 1, 3}; return ft_permute(g, in[0], p); }
static ft_node *b_perm_big(ft_graph *g, ft_node **in) { const int p[4] = {0, 2, 3, 1}; return ft_permute(g, in[0], p); }

static ft_conv_transpose2d_args ctargs(int sh, int sw, int pt, int pl, int pb, int pr, int oh, int ow, int dh, int dw, int g) {
    ft_conv_transpose2d_args a = {.stride = {sh, sw}, .pad = {pt, pl, pb, pr}, .output_padding = {oh, ow},
                                  .dilation = {dh, dw}, .groups = g};
    return a;
}
#define CT_B(fname, bias, ...) \
    static ft_node *fname(ft_graph *g, ft_node **in) { \
        ft_conv_transpose2d_args a = ctargs(__VA_ARGS__); \
        return ft_conv_transpose2d(g, in[0], in[1], bias ? in[2] : NULL, &a); }
CT_B(b_ct, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1)
CT_B(b_ct_s2, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1)
CT_B(b_ct_rect, 0, 2, 3, 0, 2, 1, 0, 1, 2, 1, 2, 2)
CT_B(b_ct_dil_op, 1, 1, 2, 2, 0, 0, 1, 1, 1, 2, 1, 1) /* output_padding below the dilation */
static ft_node *b_c1(ft_graph *g, ft_node **in) {
    ft_conv1d_args a = {.stride = 2, .pad = {1, 2}, .dilation = 1, .groups = 1};
    return ft_conv1d(g, in[0], in[1], in[2], &a);
}
static ft_node *b_c1_dw(ft_graph *g, ft_node **in) {
    ft_conv1d_args a = {.stride = 1, .pad = {2, 2}, .dilation = 2, .groups = 4};
    return ft_conv1d(g, in[0], in[1], NULL, &a);
}
static ft_node *b_mp1(ft_graph *g, ft_node **in) {
    ft_pool1d_args a = {.kernel = 3, .stride = 2, .pad = {1, 1}, .ceil_mode = true};
    return ft_max_pool1d(g, in[0], &a);
}
static ft_node *b_ap1(ft_graph *g, ft_node **in) {
    ft_pool1d_args a = {.kernel = 4, .stride = 0, .pad = {1, 2}, .count_include_pad = false};
    return ft_avg_pool1d(g, in[0], &a);
}
static void fd_cases(void) {
    const double T = 2e-2;
#define FD(name, build, ...) do { const tspec ts[] = {__VA_ARGS__}; \
        check_op(name, (int)(sizeof ts / sizeof ts[0]), ts, build, T); } while (0)
#define PAR(name, build, ...) do { const tspec ts[] = {__VA_ARGS__}; \
        check_op(name, (int)(sizeof ts / sizeof ts[0]), ts, build, 0); } while (0)
    FD("gather_axis0_repeats", b_gather0, {{4, 3}, 'p'});
    FD("gather_axis1", b_gather1, {{2, 5, 3}, 'p'});
    FD("gather_scalar_last", b_gather_scalar, {{3, 4}, 'p'});
    FD("expand_mid", b_expand_mid, {{3, 1, 5}, 'p'});
    FD("expand_lead_bcast", b_expand_lead, {{3, 1, 5}, 'p'});
    FD("expand_last", b_expand_last, {{4, 1}, 'p'});
    FD("slice_step2", b_slice2, {{2, 7, 3}, 'p'});
    FD("slice_neg_step3", b_slice_neg, {{3, 8}, 'p'});
    FD("slice_last_reverse", b_slice_last_neg, {{2, 3, 5}, 'p'});
    FD("pad_const_crop", b_pad_const, {{2, 4, 3}, 'p'});
    FD("pad_reflect_lead", b_pad_reflect, {{2, 4, 3}, 'p'});
    FD("pad_edge_4d", b_pad_edge, {{2, 3, 4, 2}, 'p'});
    FD("pad_reflect_crop", b_pad_reflect_crop, {{2, 7}, 'p'});
    FD("permute", b_perm, {{2, 3, 4, 5}, 'p'});
    FD("permute_last_fixed", b_perm_last_fixed, {{2, 3, 4, 5}, 'p'});
    FD("conv_transpose", b_ct, {{2, 3, 4, 4}, 'p'}, {{3, 2, 3, 3}, 'p'}, {{2}, 'p'});
    FD("conv_transpose_s2_outpad", b_ct_s2, {{2, 3, 3, 4}, 'p'}, {{3, 2, 3, 3}, 'p'}, {{2}, 'p'});
    FD("conv_transpose_rect_groups", b_ct_rect, {{2, 4, 3, 3}, 'p'}, {{4, 1, 2, 3}, 'p'});
    FD("conv_transpose_dil_outpad", b_ct_dil_op, {{1, 2, 4, 3}, 'p'}, {{2, 3, 3, 2}, 'p'}, {{3}, 'p'});
    FD("conv_transpose_input_x", b_ct, {{2, 3, 4, 4}, 'i'}, {{3, 2, 3, 3}, 'p'}, {{2}, 'f'});
    FD("conv_transpose_frozen_w", b_ct, {{2, 3, 4, 4}, 'p'}, {{3, 2, 3, 3}, 'f'}, {{2}, 'p'});
    FD("conv1d", b_c1, {{2, 3, 11}, 'p'}, {{4, 3, 3}, 'p'}, {{4}, 'p'});
    FD("conv1d_depthwise_dil", b_c1_dw, {{2, 4, 9}, 'p'}, {{4, 1, 3}, 'p'});
    FD("avg_pool1d", b_ap1, {{2, 3, 10}, 'p'});
    FD("max_pool1d", b_mp1, {{2, 3, 10}, 'p'}); /* random values: no near-ties at this size */
    PAR("par_conv_transpose", b_ct_s2, {{8, 16, 16, 16}, 'p'}, {{16, 8, 3, 3}, 'p'}, {{8}, 'p'});
    PAR("par_conv_transpose_nb1", b_ct, {{2, 8, 40, 40}, 'p'}, {{8, 6, 3, 3}, 'p'}, {{6}, 'p'});
    PAR("par_conv1d", b_c1, {{4, 16, 3000}, 'p'}, {{8, 16, 3}, 'p'}, {{8}, 'p'});
    PAR("par_max_pool1d", b_mp1, {{8, 16, 1000}, 'p'});
    PAR("par_gather", b_gather_big, {{64, 24, 32}, 'p'});
    PAR("par_gather_axis0", b_gather0, {{4, 20000}, 'p'});
    PAR("par_expand", b_expand_big, {{8, 1, 32, 64}, 'p'});
    PAR("par_expand_lead", b_expand_big_lead, {{1, 32, 1}, 'p'});
    PAR("par_slice", b_slice_big, {{16, 300, 32}, 'p'});
    PAR("par_pad_reflect", b_pad_big_reflect, {{4, 16, 32, 32}, 'p'});
    PAR("par_pad_edge_lead", b_pad_big_edge_lead, {{40, 30, 40}, 'p'});
    PAR("par_permute", b_perm_big, {{4, 16, 32, 32}, 'p'});
#undef FD
#undef PAR
}

/* ---------------- PyTorch fixtures ---------------- */

static int64_t ilist_of(json_t *a, int64_t *out, int64_t max) {
    int64_t n = (int64_t)json_array_size(a);
    for (int64_t i = 0; i < n && i < max; i++) out[i] = json_integer_value(json_array_get(a, (size_t)i));
    return n;
}

static ft_node *build_case(ft_graph *g, const char *op, json_t *args, ft_node **in, int n_in) {
#define I(k) json_integer_value(json_object_get(args, k))
#define L(k, out) ilist_of(json_object_get(args, k), out, (int64_t)(sizeof out / sizeof out[0]))
    if (!strcmp(op, "gather")) {
        int64_t idx[64], sh[FT_MAX_DIMS];
        L("indices", idx);
        int nd = (int)L("indices_shape", sh);
        return ft_gather(g, in[0], (int)I("axis"), nd, sh, idx);
    }
    if (!strcmp(op, "expand")) {
        int64_t sh[FT_MAX_DIMS];
        int nd = (int)L("shape", sh);
        return ft_expand(g, in[0], nd, sh);
    }
    if (!strcmp(op, "slice")) return ft_slice_step(g, in[0], (int)I("dim"), I("start"), I("end"), I("step"));
    if (!strcmp(op, "pad")) {
        int64_t p[2 * FT_MAX_DIMS];
        L("pads", p);
        const char *m = json_string_value(json_object_get(args, "mode"));
        ft_padding_mode mode = !strcmp(m, "reflect") ? FT_PADDING_REFLECT : !strcmp(m, "edge") ? FT_PADDING_EDGE : FT_PADDING_CONSTANT;
        return ft_pad(g, in[0], p, mode, (float)json_number_value(json_object_get(args, "value")));
    }
    if (!strcmp(op, "permute")) {
        int64_t p[FT_MAX_DIMS];
        int perm[FT_MAX_DIMS], nd = (int)L("perm", p);
        for (int i = 0; i < nd; i++) perm[i] = (int)p[i];
        return ft_permute(g, in[0], perm);
    }
    int64_t v4[4];
#define A2(k, out) do { L(k, v4); out[0] = (int)v4[0]; out[1] = (int)v4[1]; } while (0)
    if (!strcmp(op, "conv_transpose2d")) {
        ft_conv_transpose2d_args a = ft_conv_transpose2d_defaults();
        A2("stride", a.stride);
        A2("output_padding", a.output_padding);
        A2("dilation", a.dilation);
        L("pad", v4);
        for (int i = 0; i < 4; i++) a.pad[i] = (int)v4[i];
        a.groups = (int)I("groups");
        return ft_conv_transpose2d(g, in[0], in[1], n_in > 2 ? in[2] : NULL, &a);
    }
    if (!strcmp(op, "conv1d")) {
        ft_conv1d_args a = {.stride = (int)I("stride"), .dilation = (int)I("dilation"), .groups = (int)I("groups")};
        A2("pad", a.pad);
        return ft_conv1d(g, in[0], in[1], n_in > 2 ? in[2] : NULL, &a);
    }
    if (!strcmp(op, "max_pool1d") || !strcmp(op, "avg_pool1d")) {
        ft_pool1d_args a = {.kernel = (int)I("kernel"), .stride = (int)I("stride"),
                            .ceil_mode = json_is_true(json_object_get(args, "ceil_mode")),
                            .count_include_pad = json_is_true(json_object_get(args, "count_include_pad"))};
        A2("pad", a.pad);
        return (op[0] == 'm' ? ft_max_pool1d : ft_avg_pool1d)(g, in[0], &a);
    }
#undef A2
    return NULL;
#undef I
#undef L
}

static bool close_to(const ft_safetensors *st, const char *cname, const char *suffix, const float *v, int64_t n,
                     double rtol, double atol) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", cname, suffix);
    const ft_st_tensor *t = ft_st_find(st, name);
    if (!t || t->numel != n) { fprintf(stderr, "  %s: missing or wrong size\n", name); return false; }
    float *ref = malloc((size_t)(n ? n : 1) * 4);
    ft_st_to_f32(t, ref);
    bool ok = t_close(v, ref, (long)n, rtol, atol, name);
    free(ref);
    return ok;
}

static void run_case(const ft_safetensors *st, const char *cname, bool reference) {
    json_t *meta = json_loads(ft_st_meta(st, cname), 0, NULL);
    CHECKF(meta != NULL, "%s: metadata", cname);
    if (!meta) return;
    const char *op = json_string_value(json_object_get(meta, "op"));
    json_t *args = json_object_get(meta, "args");
    int n_in = (int)json_integer_value(json_object_get(meta, "n_in"));
    const char *kind = reference ? "reference" : "fast";
    char name[128];
    ft_params *ps = ft_params_new();
    const ft_st_tensor *t[FT_MAX_INPUTS];
    int pidx[FT_MAX_INPUTS];
    for (int k = 0; k < n_in; k++) {
        snprintf(name, sizeof name, "%s.in%d", cname, k);
        t[k] = ft_st_find(st, name);
        pidx[k] = ft_params_add(ps, name, t[k]->ndim, t[k]->shape);
    }
    ft_params_finalize(ps);
    for (int k = 0; k < n_in; k++) ft_st_to_f32(t[k], ft_params_value(ps, pidx[k]));
    ft_params_alloc_grads(ps);
    ft_graph *g = ft_graph_new(ps);
    ft_node *in[FT_MAX_INPUTS];
    for (int k = 0; k < n_in; k++) in[k] = ft_param_at(g, pidx[k]);
    ft_node *out = build_case(g, op, args, in, n_in);
    CHECKF(out != NULL, "%s: build %s: %s", cname, op, ft_graph_status(g) ? (ft_graph_plan(g, NULL, false), ft_errmsg()) : "?");
    if (out) {
        ft_node *gout = ft_input(g, "gout", FT_F32, out->ndim, out->shape);
        ft_node *loss = ft_sum(g, ft_mul(g, out, gout), FT_ALL_DIMS, false);
        ft_node_keep(out);
        ft_status s = ft_graph_plan(g, loss, true);
        CHECKF(s == FT_OK, "%s: plan: %s", cname, ft_errmsg());
        if (s == FT_OK) {
            snprintf(name, sizeof name, "%s.gout", cname);
            const ft_st_tensor *gt = ft_st_find(st, name);
            float *gv = malloc((size_t)(gt->numel ? gt->numel : 1) * 4);
            ft_st_to_f32(gt, gv);
            ft_graph_set_input(g, gout, gv, (size_t)gt->numel * 4);
            free(gv);
            ft_set_reference_kernels(reference);
            CHECK_OK(ft_graph_forward(g));
            CHECK_OK(ft_graph_backward(g));
            ft_set_reference_kernels(false);
            CHECKF(close_to(st, cname, "out", out->val, out->numel, 1e-4, 1e-5), "%s.out (%s kernels)", cname, kind);
            for (int k = 0; k < n_in; k++) {
                snprintf(name, sizeof name, "grad%d", k);
                CHECKF(close_to(st, cname, name, ft_params_grad(ps, pidx[k]), in[k]->numel, 1e-4, 1e-5), "%s.%s (%s kernels)",
                       cname, name, kind);
            }
        }
    }
    ft_graph_free(g);
    ft_params_free(ps);
    json_decref(meta);
}

static void torch_case(const ft_safetensors *st, const char *c, void *ctx) {
    run_case(st, c, false);
    run_case(st, c, true);
}

static void torch_cases(void) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/shape_ops.safetensors", &st));
    if (!st) return;
    CHECK(ft_st_meta(st, "cases") != NULL);
    int n = t_each_case(st, "cases", torch_case, NULL);
    printf("%d PyTorch structural op cases checked (fast and reference kernels)\n", n);
    CHECK(n >= 38);
    ft_st_close(st);
}

/* ---------------- int32 tensors move through unchanged ---------------- */

static void int32_moves(void) {
    ft_graph *g = ft_graph_new(NULL);
    int64_t xs[2] = {3, 4};
    ft_node *x = ft_input(g, "ids", FT_I32, 2, xs);
    const int64_t idx[2] = {2, 0}, ish[1] = {2}, es[3] = {2, 3, 4}, pads[4] = {0, 0, 1, 0};
    const int perm[2] = {1, 0};
    ft_node *ga = ft_gather(g, x, 0, 1, ish, idx), *ex = ft_expand(g, x, 3, es), *sl = ft_slice_step(g, x, 1, -1, INT64_MIN, -2);
    ft_node *pd = ft_pad(g, x, pads, FT_PADDING_CONSTANT, -7.0f), *pm = ft_permute(g, x, perm);
    ft_node *outs[5] = {ga, ex, sl, pd, pm};
    for (int i = 0; i < 5; i++) {
        CHECKF(outs[i] && outs[i]->dtype == FT_I32, "int32 op %d keeps the dtype", i);
        ft_node_keep(outs[i]);
    }
    CHECK_OK(ft_graph_plan(g, NULL, false));
    int32_t v[12];
    for (int i = 0; i < 12; i++) v[i] = 1000 * i + 7; /* as floats these would be denormals */
    ft_graph_set_input(g, x, v, sizeof v);
    for (int ref = 0; ref < 2; ref++) {
        ft_set_reference_kernels(ref);
        CHECK_OK(ft_graph_forward(g));
        ft_set_reference_kernels(false);
        const int32_t *a = (const int32_t *)(void *)ga->val, *e = (const int32_t *)(void *)ex->val,
                      *s = (const int32_t *)(void *)sl->val, *p = (const int32_t *)(void *)pd->val,
                      *m = (const int32_t *)(void *)pm->val;
        CHECK(a[0] == v[8] && a[3] == v[11] && a[4] == v[0]);
        CHECK(e[12 + 5] == v[5]);
        CHECK(sl->shape[1] == 2 && s[0] == v[3] && s[1] == v[1] && s[2] == v[7]);
        CHECK(pd->shape[0] == 4 && p[0] == v[0] && p[12] == -7 && p[15] == -7);
        CHECK(m[1] == v[4] && m[3] == v[1] && m[4] == v[5]);
    }
    ft_graph_free(g);
}

/* ---------------- graph config ---------------- */

static void graph_config(void) {
    /* input [N,2,3,4]: gather along dim 3 with 2-D indices, slice backwards, reflect pad,
     * edge pad of the old 2-D form, expand, permute; every node also checked in values. */
    const char *cfg =
        "{\"arch\":\"graph\",\"input\":{\"shape\":[2,3,4]},"
        "\"nodes\":["
        "{\"name\":\"ga\",\"op\":\"gather\",\"inputs\":[\"input\"],\"attrs\":{\"axis\":3,\"indices\":[3,-4,1,1],\"indices_shape\":[2,2]}},"
        "{\"name\":\"sl\",\"op\":\"slice\",\"inputs\":[\"input\"],\"attrs\":{\"dim\":3,\"start\":-1,\"end\":-9223372036854775808,\"step\":-2}},"
        "{\"name\":\"pr\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"pads\":[0,0,1,0,0,0,2,-1],\"mode\":\"reflect\"}},"
        "{\"name\":\"pe\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"pad\":[0,1,0,0],\"mode\":\"edge\"}},"
        "{\"name\":\"pc\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"pad\":[1,0,0,0],\"value\":9}},"
        "{\"name\":\"rs\",\"op\":\"reshape\",\"inputs\":[\"sl\"],\"attrs\":{\"shape\":[2,1,3,2]}},"
        "{\"name\":\"ex\",\"op\":\"expand\",\"inputs\":[\"rs\"],\"attrs\":{\"shape\":[1,2,2,3,2]}},"
        "{\"name\":\"pm\",\"op\":\"permute\",\"inputs\":[\"input\"],\"attrs\":{\"dims\":[0,3,1,2]}},"
        "{\"name\":\"f1\",\"op\":\"flatten\",\"inputs\":[\"ga\"]},{\"name\":\"f2\",\"op\":\"flatten\",\"inputs\":[\"pr\"]},"
        "{\"name\":\"f3\",\"op\":\"flatten\",\"inputs\":[\"pe\"]},{\"name\":\"f4\",\"op\":\"flatten\",\"inputs\":[\"ex\"]},"
        "{\"name\":\"f5\",\"op\":\"flatten\",\"inputs\":[\"pm\"]},{\"name\":\"f6\",\"op\":\"flatten\",\"inputs\":[\"pc\"]},"
        "{\"name\":\"cat\",\"op\":\"concat\",\"inputs\":[\"f1\",\"f2\",\"f3\",\"f4\",\"f5\",\"f6\"]}]}";
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &m));
    if (!m) return;
    /* ga [N,2,3,2,2] 24; pr [N,2,6,3] 36; pe [N,2,3,5] 30; ex [N,2,2,3,2] 24; pm 24; pc [N,2,4,4] 32 */
    CHECKF(m->n_classes == 24 + 36 + 30 + 24 + 24 + 32, "n_classes %d", m->n_classes);
    ft_graph *g = ft_graph_new(m->params);
    int64_t shape[4] = {2, 2, 3, 4};
    ft_node *in = ft_input(g, "x", FT_F32, 4, shape);
    ft_node *y = m->arch->build(m, g, in, false);
    ft_node_keep(y);
    CHECK_OK(ft_graph_plan(g, NULL, false));
    float x[48];
    for (int i = 0; i < 48; i++) x[i] = (float)i;
    ft_graph_set_input(g, in, x, sizeof x);
    CHECK_OK(ft_graph_forward(g));
    const float *o = y->val + 170; /* example 1 */
    const float *x1 = x + 24;
#define X(c, h, w) x1[(c) * 12 + (h) * 4 + (w)]
    /* ga[c][h][i][j] = x[c][h][idx[i][j]], idx = [[3,0],[1,1]] */
    CHECK(o[0] == X(0, 0, 3) && o[1] == X(0, 0, 0) && o[2] == X(0, 0, 1) && o[23] == X(1, 2, 1));
    /* pr: H reflect-padded 1 top, 2 bottom (rows 1,0,1,2,1,0); W cropped to 3 */
    const float *pr = o + 24;
    CHECK(pr[0] == X(0, 1, 0) && pr[3] == X(0, 0, 0) && pr[4 * 3 + 2] == X(0, 1, 2) && pr[5 * 3] == X(0, 0, 0) && pr[18] == X(1, 1, 0));
    /* pe: W edge-padded 1 left: [x0, x0, x1, x2, x3] */
    const float *pe = o + 60;
    CHECK(pe[0] == X(0, 0, 0) && pe[1] == X(0, 0, 0) && pe[4] == X(0, 0, 3) && pe[29] == X(1, 2, 3));
    /* ex: sl [N,2,3,2] = x[..., 3::-2] = columns 3, 1, as [N,2,1,3,2] broadcast to [N,2,2,3,2] */
    const float *ex = o + 90;
    CHECK(ex[0] == X(0, 0, 3) && ex[1] == X(0, 0, 1) && ex[6] == X(0, 0, 3) && ex[12] == X(1, 0, 3) && ex[23] == X(1, 2, 1));
    /* pm [N,4,2,3]: pm[w][c][h] = x[c][h][w] */
    const float *pm = o + 114;
    CHECK(pm[0] == X(0, 0, 0) && pm[1] == X(0, 1, 0) && pm[3] == X(1, 0, 0) && pm[6] == X(0, 0, 1) && pm[23] == X(1, 2, 3));
    /* pc: constant 9 top row */
    const float *pc = o + 138;
    CHECK(pc[0] == 9 && pc[3] == 9 && pc[4] == X(0, 0, 0) && pc[31] == X(1, 2, 3));
#undef X
    ft_graph_free(g);
    ft_model_free(m);

    /* errors name the node */
    struct { const char *nodes; const char *needle; } bad[] = {
        {"{\"name\":\"b\",\"op\":\"gather\",\"inputs\":[\"input\"],\"attrs\":{\"axis\":1,\"indices\":[0,3]}}", "gather"},
        {"{\"name\":\"b\",\"op\":\"gather\",\"inputs\":[\"input\"],\"attrs\":{\"axis\":1}}", "needs attribute 'indices'"},
        {"{\"name\":\"b\",\"op\":\"gather\",\"inputs\":[\"input\"],\"attrs\":{\"indices\":[0,1],\"indices_shape\":[3]}}", "indices_shape"},
        {"{\"name\":\"b\",\"op\":\"expand\",\"inputs\":[\"input\"],\"attrs\":{\"shape\":[1,3,4]}}", "broadcast"},
        {"{\"name\":\"b\",\"op\":\"slice\",\"inputs\":[\"input\"],\"attrs\":{\"dim\":1,\"step\":0}}", "'step'"},
        {"{\"name\":\"b\",\"op\":\"slice\",\"inputs\":[\"input\"],\"attrs\":{\"start\":1}}", "needs attribute 'dim'"},
        {"{\"name\":\"b\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"pads\":[0,1,0,1]}}", "'pads' has 4 entries"},
        {"{\"name\":\"b\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"pads\":[0,0,3,0,0,0],\"mode\":\"reflect\"}}", "reflect padding"},
        {"{\"name\":\"b\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"pads\":[0,0,1],\"mode\":\"edge\"}}", "even"},
        {"{\"name\":\"b\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"pad\":1,\"pads\":[0,0]}}", "not both"},
        {"{\"name\":\"b\",\"op\":\"pad\",\"inputs\":[\"input\"],\"attrs\":{\"mode\":\"wrap\"}}", "'mode'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char c[1024];
        snprintf(c, sizeof c, "{\"arch\":\"graph\",\"input\":{\"shape\":[3,3]},\"nodes\":[%s,"
                              "{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"b\"]}]}", bad[i].nodes);
        ft_model *mm = NULL;
        ft_status s = ft_model_from_config(c, &mm);
        CHECKF(s != FT_OK && !mm && strstr(ft_errmsg(), "'b'") && strstr(ft_errmsg(), bad[i].needle),
               "config %zu: %s (%s)", i, ft_status_name(s), ft_errmsg());
        ft_model_free(mm);
    }
}

/* conv1d, the 1-D pools and conv_transpose2d through a config equal the same builders by hand. */
static void graph_config_conv(void) {
    const char *cfg =
        "{\"arch\":\"graph\",\"input\":{\"shape\":[2,12]},"
        "\"params\":[{\"name\":\"c.weight\",\"shape\":[4,2,3]},{\"name\":\"c.bias\",\"shape\":[4]},"
        "{\"name\":\"t.weight\",\"shape\":[1,2,3,2]},{\"name\":\"t.bias\",\"shape\":[2]}],"
        "\"nodes\":["
        "{\"name\":\"c\",\"op\":\"conv1d\",\"inputs\":[\"input\"],\"params\":[\"c.weight\",\"c.bias\"],\"attrs\":{\"stride\":1,\"pad\":[1,2],\"dilation\":2}},"
        "{\"name\":\"mp\",\"op\":\"max_pool1d\",\"inputs\":[\"c\"],\"attrs\":{\"kernel\":2,\"ceil_mode\":true}},"
        "{\"name\":\"ap\",\"op\":\"avg_pool1d\",\"inputs\":[\"mp\"],\"attrs\":{\"kernel\":3,\"stride\":1,\"pad\":1,\"count_include_pad\":false}},"
        "{\"name\":\"r\",\"op\":\"reshape\",\"inputs\":[\"ap\"],\"attrs\":{\"shape\":[1,4,6]}},"
        "{\"name\":\"t\",\"op\":\"conv_transpose2d\",\"inputs\":[\"r\"],\"params\":[\"t.weight\",\"t.bias\"],"
        "\"attrs\":{\"stride\":[2,1],\"pad\":[0,1,1,0],\"output_padding\":[1,0]}},"
        "{\"name\":\"f\",\"op\":\"flatten\",\"inputs\":[\"t\"]}]}";
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &m));
    if (!m) return;
    ft_model_init(m, 5);
    /* c [N,4,11] (12 + 3 padded, dilated kernel 5), mp (ceil) [N,4,6], ap [N,4,6]; t on
     * [N,1,4,6]: H = (4-1)*2 - 1 + 3 + 1 = 9, W = (6-1) - 1 + 2 = 6, 2 channels */
    CHECKF(m->n_classes == 2 * 9 * 6, "n_classes %d", m->n_classes);
    for (int byhand = 0; byhand < 2; byhand++) {
        static float ref[2 * 108];
        ft_graph *g = ft_graph_new(m->params);
        int64_t shape[3] = {2, 2, 12};
        ft_node *in = ft_input(g, "x", FT_F32, 3, shape), *y;
        if (!byhand) y = m->arch->build(m, g, in, false);
        else {
            ft_conv1d_args ca = {.stride = 1, .pad = {1, 2}, .dilation = 2, .groups = 1};
            ft_pool1d_args mp = {.kernel = 2, .ceil_mode = true}, ap = {.kernel = 3, .stride = 1, .pad = {1, 1}};
            ft_conv_transpose2d_args ta = ctargs(2, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1);
            y = ft_conv1d(g, in, ft_param(g, "c.weight"), ft_param(g, "c.bias"), &ca);
            y = ft_avg_pool1d(g, ft_max_pool1d(g, y, &mp), &ap);
            const int64_t rs[4] = {2, 1, 4, 6};
            y = ft_conv_transpose2d(g, ft_reshape(g, y, 4, rs), ft_param(g, "t.weight"), ft_param(g, "t.bias"), &ta);
        }
        ft_node_keep(y);
        CHECK_OK(ft_graph_plan(g, NULL, false));
        float x[48];
        for (int i = 0; i < 48; i++) x[i] = sinf((float)i * 0.7f);
        ft_graph_set_input(g, in, x, sizeof x);
        CHECK_OK(ft_graph_forward(g));
        CHECK(y->numel == 2 * 108);
        if (!byhand) memcpy(ref, y->val, sizeof ref);
        else CHECK(t_close(y->val, ref, 2 * 108, 0, 0, "config vs builders"));
        ft_graph_free(g);
    }
    ft_model_free(m);
}

/* Feature cache: the new ops keep examples apart (no batch-dim padding, gather, expand or
 * permute of dim 0), so a frozen front end through them is cached up to the trainable head. */
static void frozen_frontier(void) {
    ft_params *ps = ft_params_new();
    int64_t ws[4] = {3, 2, 3, 3}, hs[2] = {4, 2 * 7 * 6};
    int wi = ft_params_add(ps, "ct.weight", 4, ws), hi = ft_params_add(ps, "head.weight", 2, hs);
    ft_params_finalize(ps);
    ps->p[wi].trainable = false;
    ft_params_alloc_grads(ps);
    ft_graph *g = ft_graph_new(ps);
    int64_t xs[4] = {5, 4, 3, 2}, ts[2] = {5, 4};
    ft_node *x = ft_input(g, "x", FT_F32, 4, xs), *t = ft_input(g, "t", FT_F32, 2, ts);
    const int64_t pads[8] = {0, 0, 1, 0, 0, 0, 0, 1}, idx[3] = {2, 0, 1}, ish[1] = {3}, es[4] = {1, 3, 4, 3};
    const int perm[4] = {0, 2, 1, 3};
    ft_node *h = ft_pad(g, x, pads, FT_PADDING_REFLECT, 0);   /* [5,4,4,3] */
    h = ft_permute(g, h, perm);                           /* [5,4,4,3] */
    h = ft_gather(g, h, 1, 1, ish, idx);                  /* [5,3,4,3] */
    h = ft_slice_step(g, h, 3, -1, INT64_MIN, -1);        /* [5,3,4,3] */
    h = ft_expand(g, h, 4, es);                           /* [5,3,4,3] */
    ft_conv_transpose2d_args a = ctargs(1, 2, 0, 0, 0, 0, 0, 1, 1, 1, 1);
    ft_node *front = ft_conv_transpose2d(g, h, ft_param_at(g, wi), NULL, &a); /* [5,2,6,8] */
    const int64_t cut[8] = {0, 0, 0, 0, 0, 0, 1, -2};
    ft_node *feat = ft_pad(g, front, cut, FT_PADDING_CONSTANT, 0); /* [5,2,7,6] */
    const int64_t fs[2] = {5, 2 * 7 * 6};
    ft_node *loss = ft_mse(g, ft_linear(g, ft_reshape(g, feat, 2, fs), ft_param_at(g, hi), NULL), t);
    CHECKF(ft_graph_status(g) == FT_OK, "build: %s", (ft_graph_plan(g, NULL, false), ft_errmsg()));
    ft_node *out[4];
    int n = ft_graph_frozen_frontier(g, x, loss, true, out, 4);
    CHECKF(n == 1 && out[0]->op == FT_OP_RESHAPE, "frontier: %d nodes, first %s", n, n > 0 ? ft_op_name(out[0]->op) : "-");
    /* padding the batch dim mixes examples: nothing past it is frozen */
    ft_graph_free(g);
    g = ft_graph_new(ps);
    x = ft_input(g, "x", FT_F32, 4, xs);
    const int64_t bpad[8] = {1, 0, 0, 0, -1, 0, 0, 0}; /* same batch size, shifted by one example */
    ft_node *p = ft_pad(g, x, bpad, FT_PADDING_EDGE, 0);
    ft_node *r = ft_reshape(g, p, 2, (const int64_t[]){5, 24});
    ft_node *y = ft_sum(g, r, FT_ALL_DIMS, false);
    n = ft_graph_frozen_frontier(g, x, y, true, out, 4);
    CHECKF(n == 1 && out[0] == x, "a batch-dim pad is not per example: frontier %d", n);
    ft_graph_free(g);
    ft_params_free(ps);
}

/* ---------------- builder errors ---------------- */

static void builder_errors(void) {
    int64_t xs[3] = {2, 3, 4};
#define ERR(expr, want) do { ft_graph *g = ft_graph_new(NULL); ft_node *x = ft_input(g, "x", FT_F32, 3, xs); \
        CHECK((expr) == NULL); CHECKF(ft_graph_status(g) == (want), "%s", #expr); ft_graph_free(g); } while (0)
    const int64_t i5[1] = {3}, ish[1] = {1}, big[2] = {-4, 0};
    ERR(ft_gather(g, x, 1, 1, ish, i5), FT_ESHAPE);      /* 3 >= 3 */
    ERR(ft_gather(g, x, 1, 1, ish, big), FT_ESHAPE);     /* -4 < -3 */
    ERR(ft_gather(g, x, 3, 1, ish, big + 1), FT_ESHAPE); /* axis */
    const int64_t e1[3] = {2, 2, 4}, e2[3] = {2, -1, 4};
    ERR(ft_expand(g, x, 3, e1), FT_ESHAPE);
    ERR(ft_expand(g, x, 3, e2), FT_ESHAPE);
    ERR(ft_slice_step(g, x, 1, 0, 3, 0), FT_EINVAL);
    ERR(ft_slice_step(g, x, 5, 0, 3, 1), FT_ESHAPE);
    const int64_t p1[6] = {0, -2, 0, 0, -2, 0}, p2[6] = {0, 0, 4, 0, 0, 0};
    ERR(ft_pad(g, x, p1, FT_PADDING_CONSTANT, 0), FT_ESHAPE); /* crops 4 of 3 */
    ERR(ft_pad(g, x, p2, FT_PADDING_REFLECT, 0), FT_ESHAPE);  /* reflect 4 >= 4 */
    ERR(ft_pad(g, x, p2, (ft_padding_mode)7, 0), FT_EINVAL);
    const int q1[3] = {0, 0, 1}, q2[3] = {0, 1, 3};
    ERR(ft_permute(g, x, q1), FT_ESHAPE);
    ERR(ft_permute(g, x, q2), FT_ESHAPE);
#undef ERR
    /* slice clamping gives empty results without an error */
    ft_graph *g = ft_graph_new(NULL);
    ft_node *x = ft_input(g, "x", FT_F32, 3, xs);
    ft_node *e = ft_slice_step(g, x, 2, 3, 1, 1), *r = ft_slice_step(g, x, 2, 0, 3, -1);
    CHECK(e && e->shape[2] == 0 && r && r->shape[2] == 0);
    const int64_t p3[6] = {0, 0, 0, 0, 0, 5};
    CHECK(ft_pad(g, x, p3, FT_PADDING_EDGE, 0) != NULL); /* edge padding may exceed the size */
    CHECK_OK(ft_graph_status(g));
    ft_graph_free(g);
}

int main(void) {
    ft_set_num_threads(2);
    fd_cases();
    torch_cases();
    int32_moves();
    graph_config();
    graph_config_conv();
    frozen_frontier();
    builder_errors();
    TEST_END();
}
