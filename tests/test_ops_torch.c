/* Every op against PyTorch: tests/fixtures/ops.safetensors (tests/gen/gen_ops.py) and
 * transformer_ops.safetensors (tests/gen/gen_transformer_ops.py) hold
 * inputs, outputs and input gradients of d sum(out * gout); math_ops.safetensors
 * (tests/gen/gen_math_ops.py) the ONNX math ops at torch's gradient conventions. Both the fast and the
 * reference kernels must match. */
#include "test.h"

#include <jansson.h>

static ft_node *build(ft_graph *g, const char *op, json_t *args, ft_node **in, int n_in, const char *cname) {
    json_t *a;
#define B(k) json_is_true(json_object_get(args, k))
#define I(k) (int)json_integer_value(json_object_get(args, k))
#define F(k) (float)json_number_value(json_object_get(args, k))
    if (!strcmp(op, "linear")) return ft_linear(g, in[0], in[1], n_in > 2 ? in[2] : NULL);
    if (!strcmp(op, "matmul")) return ft_matmul(g, in[0], in[1], B("trans_a"), B("trans_b"));
    if (!strcmp(op, "add")) return ft_add(g, in[0], in[1]);
    if (!strcmp(op, "sub")) return ft_sub(g, in[0], in[1]);
    if (!strcmp(op, "mul")) return ft_mul(g, in[0], in[1]);
    if (!strcmp(op, "div")) return ft_div(g, in[0], in[1]);
    if (!strcmp(op, "scale")) return ft_scale(g, in[0], F("a"), F("b"));
    if (!strcmp(op, "relu")) return ft_relu(g, in[0]);
    if (!strcmp(op, "gelu")) return ft_gelu(g, in[0], B("tanh"));
    if (!strcmp(op, "silu")) return ft_silu(g, in[0]);
    if (!strcmp(op, "sigmoid")) return ft_sigmoid(g, in[0]);
    if (!strcmp(op, "tanh")) return ft_tanh(g, in[0]);
    if (!strcmp(op, "softmax")) return json_object_get(args, "dim") ? ft_softmax_dim(g, in[0], I("dim")) : ft_softmax(g, in[0]);
    if (!strcmp(op, "log_softmax"))
        return json_object_get(args, "dim") ? ft_log_softmax_dim(g, in[0], I("dim")) : ft_log_softmax(g, in[0]);
    if (!strcmp(op, "cross_entropy")) return ft_cross_entropy(g, in[0], in[1], I("ignore_index"), F("label_smoothing"));
    if (!strcmp(op, "mse")) return ft_mse(g, in[0], in[1]);
    if (!strcmp(op, "reshape")) {
        json_t *s = json_object_get(args, "shape");
        int64_t sh[FT_MAX_DIMS];
        int nd = (int)json_array_size(s);
        for (int i = 0; i < nd && i < FT_MAX_DIMS; i++) sh[i] = json_integer_value(json_array_get(s, (size_t)i));
        return ft_reshape(g, in[0], nd, sh);
    }
    if (!strcmp(op, "transpose")) return ft_transpose(g, in[0], I("dim0"), I("dim1"));
    if (!strcmp(op, "slice")) return ft_slice(g, in[0], I("dim"), I("start"), I("end"));
    if (!strcmp(op, "concat")) return ft_concat(g, n_in, in, I("dim"));
    if (!strcmp(op, "sum") || !strcmp(op, "mean")) {
        a = json_object_get(args, "dim");
        int dim = json_is_string(a) ? FT_ALL_DIMS : (int)json_integer_value(a);
        return (op[0] == 's' ? ft_sum : ft_mean)(g, in[0], dim, B("keepdim"));
    }
    if (!strcmp(op, "embedding")) return ft_embedding(g, in[0], in[1]);
    if (!strcmp(op, "layer_norm")) return ft_layer_norm(g, in[0], in[1], in[2], F("eps"));
    if (!strcmp(op, "rms_norm")) return ft_rms_norm(g, in[0], n_in > 1 ? in[1] : NULL, F("eps"));
    if (!strcmp(op, "rope")) return ft_rope(g, in[0], I("n_head"), F("theta"), B("positions") ? in[1] : NULL);
    if (!strcmp(op, "attention")) {
        ft_attention_args at = {I("n_head"), I("n_kv_head"), B("causal"), F("scale")};
        return ft_attention(g, in[0], in[1], in[2], B("mask") ? in[3] : NULL, &at);
    }
    /* ONNX math ops (tests/gen/gen_math_ops.py) */
    static const struct { const char *name; ft_node *(*fn)(ft_graph *, ft_node *); } un[] = {
        {"exp", ft_exp}, {"log", ft_log}, {"sqrt", ft_sqrt}, {"abs", ft_abs}, {"neg", ft_neg}, {"erf", ft_erf},
        {"reciprocal", ft_reciprocal}};
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++)
        if (!strcmp(op, un[i].name)) return un[i].fn(g, in[0]);
    static const struct { const char *name; ft_node *(*fn)(ft_graph *, ft_node *, ft_node *); } bin[] = {
        {"pow", ft_pow}, {"maximum", ft_maximum}, {"minimum", ft_minimum}, {"prelu", ft_prelu}, {"equal", ft_equal},
        {"greater", ft_greater}, {"greater_equal", ft_greater_equal}, {"less", ft_less}, {"less_equal", ft_less_equal}};
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++)
        if (!strcmp(op, bin[i].name)) return bin[i].fn(g, in[0], in[1]);
    if (!strcmp(op, "leaky_relu")) return ft_leaky_relu(g, in[0], F("alpha"));
    if (!strcmp(op, "pow_scalar")) return ft_pow_scalar(g, in[0], F("exponent"));
    if (!strcmp(op, "where")) return ft_where(g, in[0], in[1], in[2]);
    if (!strcmp(op, "clip")) {
        json_t *lo = json_object_get(args, "min"), *hi = json_object_get(args, "max");
        return ft_clip(g, in[0], json_is_number(lo) ? F("min") : -INFINITY, json_is_number(hi) ? F("max") : INFINITY);
    }
    if (!strcmp(op, "reduce_max") || !strcmp(op, "reduce_min")) {
        a = json_object_get(args, "dims");
        int dims[FT_MAX_DIMS], nd = (int)json_array_size(a);
        for (int i = 0; i < nd && i < FT_MAX_DIMS; i++) dims[i] = (int)json_integer_value(json_array_get(a, (size_t)i));
        return (!strcmp(op, "reduce_max") ? ft_reduce_max : ft_reduce_min)(g, in[0], nd, dims, B("keepdim"));
    }
    fprintf(stderr, "case %s: unknown op %s\n", cname, op);
    return NULL;
#undef B
#undef I
#undef F
}

static void run_case(const ft_safetensors *st, const char *cname, bool reference) {
    json_t *meta = json_loads(ft_st_meta(st, cname), 0, NULL);
    CHECKF(meta != NULL, "%s: metadata", cname);
    if (!meta) return;
    const char *op = json_string_value(json_object_get(meta, "op"));
    int n_in = (int)json_integer_value(json_object_get(meta, "n_in"));
    json_t *dtypes = json_object_get(meta, "in_dtypes");
    char name[128];
    ft_params *ps = ft_params_new();
    const ft_st_tensor *t[FT_MAX_INPUTS];
    int pidx[FT_MAX_INPUTS];
    for (int k = 0; k < n_in; k++) {
        snprintf(name, sizeof name, "%s.in%d", cname, k);
        t[k] = ft_st_find(st, name);
        pidx[k] = -1;
        if (strcmp(json_string_value(json_array_get(dtypes, (size_t)k)), "F32") == 0)
            pidx[k] = ft_params_add(ps, name, t[k]->ndim, t[k]->shape);
    }
    ft_params_finalize(ps);
    for (int k = 0; k < n_in; k++)
        if (pidx[k] >= 0) ft_st_to_f32(t[k], ft_params_value(ps, pidx[k]));
    ft_params_alloc_grads(ps);
    ft_graph *g = ft_graph_new(ps);
    ft_node *in[FT_MAX_INPUTS];
    for (int k = 0; k < n_in; k++)
        in[k] = pidx[k] >= 0 ? ft_param_at(g, pidx[k]) : ft_input(g, "ids", FT_I32, t[k]->ndim, t[k]->shape);
    ft_node *out = build(g, op, json_object_get(meta, "args"), in, n_in, cname);
    bool no_grad = json_is_true(json_object_get(meta, "no_grad")); /* comparisons: forward only */
    snprintf(name, sizeof name, "%s.gout", cname);
    const ft_st_tensor *gt = ft_st_find(st, name);
    ft_node *gout = out ? ft_input(g, "gout", FT_F32, out->ndim, out->shape) : NULL;
    ft_node *loss = ft_sum(g, ft_mul(g, out, gout), FT_ALL_DIMS, false);
    ft_node_keep(out);
    ft_status s = ft_graph_plan(g, no_grad ? NULL : loss, !no_grad);
    CHECKF(s == FT_OK, "%s: plan: %s", cname, ft_errmsg());
    if (s == FT_OK) {
        for (int k = 0; k < n_in; k++)
            if (pidx[k] < 0) ft_graph_set_input(g, in[k], t[k]->data, t[k]->nbytes);
        float *gv = malloc((size_t)gt->numel * 4);
        ft_st_to_f32(gt, gv);
        ft_graph_set_input(g, gout, gv, (size_t)gt->numel * 4);
        free(gv);
        ft_set_reference_kernels(reference);
        CHECK_OK(ft_graph_forward(g));
        if (!no_grad) CHECK_OK(ft_graph_backward(g));
        ft_set_reference_kernels(false);
        snprintf(name, sizeof name, "%s.out", cname);
        const ft_st_tensor *ot = ft_st_find(st, name);
        float *ref = malloc((size_t)ot->numel * 4);
        ft_st_to_f32(ot, ref);
        CHECKF(ot->numel == out->numel && t_close(out->val, ref, ot->numel, 1e-5, 1e-5, name), "%s (%s kernels)", name,
               reference ? "reference" : "fast");
        free(ref);
        for (int k = 0; k < n_in; k++) {
            if (pidx[k] < 0 || no_grad) continue;
            snprintf(name, sizeof name, "%s.grad%d", cname, k);
            const ft_st_tensor *rt = ft_st_find(st, name);
            if (!rt) continue; /* no gradient in torch (where's condition) */
            float *rg = malloc((size_t)rt->numel * 4);
            ft_st_to_f32(rt, rg);
            CHECKF(t_close(ft_params_grad(ps, pidx[k]), rg, rt->numel, 1e-4, 1e-5, name), "%s (%s kernels)", name,
                   reference ? "reference" : "fast");
            free(rg);
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

static int run_file(const char *path) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open(path, &st));
    if (!st) return 0;
    CHECK(ft_st_meta(st, "cases") != NULL);
    int n = t_each_case(st, "cases", torch_case, NULL);
    printf("%s: %d PyTorch op cases checked (fast and reference kernels)\n", path, n);
    ft_st_close(st);
    return n;
}

int main(void) {
    ft_set_num_threads(2);
    CHECK(run_file("tests/fixtures/ops.safetensors") >= 30);             /* tests/gen/gen_ops.py */
    CHECK(run_file("tests/fixtures/transformer_ops.safetensors") >= 9);  /* tests/gen/gen_transformer_ops.py */
    CHECK(run_file("tests/fixtures/math_ops.safetensors") >= 58);        /* tests/gen/gen_math_ops.py */
    TEST_END();
}
