/* "mlp": a multilayer perceptron over flattened inputs.
 *
 * Config: {"arch": "mlp", "in_features": 784 | "input_shape": [1,28,28],
 *          "hidden": [256, 128], "n_classes": 10, "activation": "relu|gelu|tanh|silu|sigmoid",
 *          "dropout": 0.0, "layer_norm": false}
 * Parameters: layers.<i>.weight [out,in], layers.<i>.bias, norms.<i>.{weight,bias} when
 * layer_norm, head.weight [n_classes, last], head.bias. The head is "head.*". */
#include "models/models.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define MLP_MAX_LAYERS 16

typedef struct {
    int64_t in_features;
    int n_hidden;
    int64_t hidden[MLP_MAX_LAYERS];
    char activation[16];
    float dropout;
    bool layer_norm;
} mlp_cfg;

static ft_status parse(const char *cfg_json, mlp_cfg *c, ft_model *m) {
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "mlp config: %s (line %d)", err.text, err.line);
    ft_status s = FT_OK;
    memset(c, 0, sizeof *c);
    snprintf(c->activation, sizeof c->activation, "relu");
    json_t *v;
    m->in_ndim = 0;
    if ((v = json_object_get(root, "input_shape"))) {
        if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > FT_MAX_DIMS - 1) {
            s = ft_fail(FT_EINVAL, "mlp config: input_shape must be a list of 1..%d positive ints", FT_MAX_DIMS - 1);
            goto out;
        }
        c->in_features = 1;
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_int_t d = json_integer_value(json_array_get(v, i));
            if (!json_is_integer(json_array_get(v, i)) || d <= 0) {
                s = ft_fail(FT_EINVAL, "mlp config: input_shape[%zu] must be a positive int", i);
                goto out;
            }
            m->in_shape[m->in_ndim++] = d;
            c->in_features *= d;
        }
    }
    if ((v = json_object_get(root, "in_features"))) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) { s = ft_fail(FT_EINVAL, "mlp config: in_features must be a positive int"); goto out; }
        if (m->in_ndim && c->in_features != json_integer_value(v)) {
            s = ft_fail(FT_EINVAL, "mlp config: in_features %lld disagrees with input_shape (%lld)",
                        (long long)json_integer_value(v), (long long)c->in_features);
            goto out;
        }
        c->in_features = json_integer_value(v);
    }
    if (!c->in_features) { s = ft_fail(FT_EINVAL, "mlp config: needs \"in_features\" or \"input_shape\""); goto out; }
    if (!m->in_ndim) { m->in_ndim = 1; m->in_shape[0] = c->in_features; }
    v = json_object_get(root, "n_classes");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
        s = ft_fail(FT_EINVAL, "mlp config: \"n_classes\" must be a positive int");
        goto out;
    }
    m->n_classes = (int)json_integer_value(v);
    if ((v = json_object_get(root, "hidden"))) {
        if (!json_is_array(v) || json_array_size(v) > MLP_MAX_LAYERS) {
            s = ft_fail(FT_EINVAL, "mlp config: hidden must be a list of at most %d ints", MLP_MAX_LAYERS);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *h = json_array_get(v, i);
            if (!json_is_integer(h) || json_integer_value(h) <= 0 || json_integer_value(h) > (1 << 20)) {
                s = ft_fail(FT_EINVAL, "mlp config: hidden[%zu] must be a positive int", i);
                goto out;
            }
            c->hidden[c->n_hidden++] = json_integer_value(h);
        }
    }
    if ((v = json_object_get(root, "activation"))) {
        const char *a = json_string_value(v);
        if (!a || (strcmp(a, "relu") && strcmp(a, "gelu") && strcmp(a, "tanh") && strcmp(a, "silu") && strcmp(a, "sigmoid"))) {
            s = ft_fail(FT_EINVAL, "mlp config: activation must be one of relu, gelu, tanh, silu, sigmoid");
            goto out;
        }
        snprintf(c->activation, sizeof c->activation, "%s", a);
    }
    if ((v = json_object_get(root, "dropout"))) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 1) {
            s = ft_fail(FT_EINVAL, "mlp config: dropout must be a number in [0,1)");
            goto out;
        }
        c->dropout = (float)json_number_value(v);
    }
    if ((v = json_object_get(root, "layer_norm"))) c->layer_norm = json_is_true(v);
out:
    json_decref(root);
    return s;
}

static ft_status mlp_create(ft_model *m, const char *cfg_json) {
    mlp_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    ft_status s = parse(cfg_json, c, m);
    if (s) return s;
    m->in_dtype = FT_F32;
    m->head_patterns = "head.*";
    char name[64];
    int64_t prev = c->in_features;
    for (int i = 0; i < c->n_hidden; i++) {
        int64_t w[2] = {c->hidden[i], prev}, b[1] = {c->hidden[i]};
        snprintf(name, sizeof name, "layers.%d.weight", i);
        if (ft_params_add(m->params, name, 2, w) < 0) return FT_EINVAL;
        snprintf(name, sizeof name, "layers.%d.bias", i);
        if (ft_params_add(m->params, name, 1, b) < 0) return FT_EINVAL;
        if (c->layer_norm) {
            snprintf(name, sizeof name, "norms.%d.weight", i);
            if (ft_params_add(m->params, name, 1, b) < 0) return FT_EINVAL;
            snprintf(name, sizeof name, "norms.%d.bias", i);
            if (ft_params_add(m->params, name, 1, b) < 0) return FT_EINVAL;
        }
        prev = c->hidden[i];
    }
    int64_t w[2] = {m->n_classes, prev}, b[1] = {m->n_classes};
    if (ft_params_add(m->params, "head.weight", 2, w) < 0 || ft_params_add(m->params, "head.bias", 1, b) < 0)
        return FT_EINVAL;
    return FT_OK;
}

static ft_node *activation(ft_graph *g, const char *a, ft_node *x) {
    if (!strcmp(a, "gelu")) return ft_gelu(g, x, false);
    if (!strcmp(a, "tanh")) return ft_tanh(g, x);
    if (!strcmp(a, "silu")) return ft_silu(g, x);
    if (!strcmp(a, "sigmoid")) return ft_sigmoid(g, x);
    return ft_relu(g, x);
}

static ft_node *mlp_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    const mlp_cfg *c = m->impl;
    int64_t flat[2] = {x->shape[0], c->in_features};
    ft_node *h = x->ndim == 2 ? x : ft_reshape(g, x, 2, flat);
    char w[64], b[64];
    for (int i = 0; i < c->n_hidden; i++) {
        snprintf(w, sizeof w, "layers.%d.weight", i);
        snprintf(b, sizeof b, "layers.%d.bias", i);
        h = ft_linear(g, h, ft_param(g, w), ft_param(g, b));
        if (c->layer_norm) {
            snprintf(w, sizeof w, "norms.%d.weight", i);
            snprintf(b, sizeof b, "norms.%d.bias", i);
            h = ft_layer_norm(g, h, ft_param(g, w), ft_param(g, b), 1e-5f);
        }
        h = activation(g, c->activation, h);
        if (c->dropout > 0) h = ft_dropout(g, h, c->dropout);
    }
    return ft_linear(g, h, ft_param(g, "head.weight"), ft_param(g, "head.bias"));
}

static char *mlp_config_with_classes(const ft_model *m, int n_classes) {
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!root) return NULL;
    json_object_set_new(root, "n_classes", json_integer(n_classes));
    char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(root);
    char *r = s ? ft_strdup(s) : NULL;
    free(s);
    return r;
}

static void mlp_free(ft_model *m) { ft_free(m->impl); }

const ft_arch ft_arch_mlp = {"mlp", mlp_create, mlp_build, mlp_config_with_classes, mlp_free, NULL, NULL};
