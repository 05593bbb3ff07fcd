/* What the torchvision architectures share: config keys, parameter declaration under
 * torchvision's names, conv / batch-norm / linear graph helpers. See tv_common.h. */
#include "models/tv_common.h"
#include "ops/ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool key_in(const char *key, const char *const *keys) {
    for (; keys && *keys; keys++)
        if (strcmp(key, *keys) == 0) return true;
    return false;
}

ft_status tv_get_bool(json_t *root, const char *arch, const char *key, bool *out) {
    json_t *v = json_object_get(root, key);
    if (!v) return FT_OK;
    if (!json_is_boolean(v)) return ft_fail(FT_EINVAL, "%s config: \"%s\" must be true or false", arch, key);
    *out = json_is_true(v);
    return FT_OK;
}

ft_status tv_parse(const char *arch, const char *cfg_json, ft_model *m, tv_common *c, int64_t def_hw, int64_t min_hw,
                   float def_dropout, const char *const *extra_keys, json_t **root_out) {
    /* "preprocess" and "source" are carried verbatim as in the graph architecture (docs/import.md). */
    static const char *const common[] = {"arch", "n_classes", "input_shape", "frozen_bn", "preprocess", "source", NULL};
    *root_out = NULL;
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "%s config: %s (line %d)", arch, err.text, err.line);
    ft_status s = FT_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (key_in(key, common) || key_in(key, extra_keys) || (def_dropout >= 0 && strcmp(key, "dropout") == 0)) continue;
        char known[256];
        int o = snprintf(known, sizeof known, "n_classes, input_shape, frozen_bn, preprocess, source%s",
                         def_dropout >= 0 ? ", dropout" : "");
        for (const char *const *k = extra_keys; k && *k && o > 0 && o < (int)sizeof known; k++)
            o += snprintf(known + o, sizeof known - (size_t)o, ", %s", *k);
        s = ft_fail(FT_EINVAL, "%s config: unknown key \"%s\" (known: %s)", arch, key, known);
        goto fail;
    }
    memset(c, 0, sizeof *c);
    m->n_classes = 1000;
    if ((v = json_object_get(root, "n_classes"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
            s = ft_fail(FT_EINVAL, "%s config: \"n_classes\" must be an int in 1..1000000", arch);
            goto fail;
        }
        m->n_classes = (int)json_integer_value(v);
    }
    c->in_c = 3;
    c->in_h = c->in_w = def_hw;
    if ((v = json_object_get(root, "input_shape"))) {
        int64_t d[3];
        bool ok = json_is_array(v) && json_array_size(v) == 3;
        for (size_t i = 0; ok && i < 3; i++) {
            json_t *e = json_array_get(v, i);
            ok = json_is_integer(e) && json_integer_value(e) >= 1 && json_integer_value(e) <= 16384;
            if (ok) d[i] = json_integer_value(e);
        }
        if (!ok) {
            s = ft_fail(FT_EINVAL, "%s config: \"input_shape\" must be [channels, height, width] (ints in 1..16384)", arch);
            goto fail;
        }
        c->in_c = d[0];
        c->in_h = d[1];
        c->in_w = d[2];
        if (c->in_h < min_hw || c->in_w < min_hw) {
            s = ft_fail(FT_EINVAL, "%s config: input_shape %lldx%lld is too small (height and width must be at least %lld)",
                        arch, (long long)c->in_h, (long long)c->in_w, (long long)min_hw);
            goto fail;
        }
    }
    m->in_dtype = FT_F32;
    m->in_ndim = 3;
    m->in_shape[0] = c->in_c;
    m->in_shape[1] = c->in_h;
    m->in_shape[2] = c->in_w;
    if ((s = tv_get_bool(root, arch, "frozen_bn", &c->frozen_bn))) goto fail;
    c->dropout = def_dropout >= 0 ? def_dropout : 0.0f;
    if (def_dropout >= 0 && (v = json_object_get(root, "dropout"))) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 1) {
            s = ft_fail(FT_EINVAL, "%s config: \"dropout\" must be a number in [0,1)", arch);
            goto fail;
        }
        c->dropout = (float)json_number_value(v);
    }
    *root_out = root;
    return FT_OK;
fail:
    json_decref(root);
    return s;
}

/* ---- declaration ---- */

static ft_status add(ft_params *ps, bool buffer, const char *prefix, const char *leaf, int ndim, const int64_t *shape) {
    char name[160];
    if (snprintf(name, sizeof name, "%s.%s", prefix, leaf) >= (int)sizeof name)
        return ft_fail(FT_EINVAL, "parameter name '%s.%s' is too long", prefix, leaf);
    int i = buffer ? ft_params_add_buffer(ps, name, ndim, shape) : ft_params_add(ps, name, ndim, shape);
    return i < 0 ? FT_EINVAL : FT_OK;
}

#define FORMAT_PREFIX(buf, fmt)                        \
    char buf[128];                                     \
    do {                                               \
        va_list ap_;                                   \
        va_start(ap_, fmt);                            \
        vsnprintf(buf, sizeof buf, fmt, ap_);          \
        va_end(ap_);                                   \
    } while (0)

ft_status tv_add_conv(ft_params *ps, int64_t out, int64_t in_per_group, int kh, int kw, bool bias, const char *fmt, ...) {
    FORMAT_PREFIX(prefix, fmt);
    int64_t w[4] = {out, in_per_group, kh, kw};
    ft_status s = add(ps, false, prefix, "weight", 4, w);
    if (!s && bias) s = add(ps, false, prefix, "bias", 1, &out);
    return s;
}

ft_status tv_add_bn(ft_params *ps, int64_t ch, const char *fmt, ...) {
    FORMAT_PREFIX(prefix, fmt);
    ft_status s = add(ps, false, prefix, "weight", 1, &ch);
    if (!s) s = add(ps, false, prefix, "bias", 1, &ch);
    if (!s) s = add(ps, true, prefix, "running_mean", 1, &ch);
    if (!s) s = add(ps, true, prefix, "running_var", 1, &ch);
    if (!s) s = add(ps, true, prefix, "num_batches_tracked", 0, NULL);
    return s;
}

ft_status tv_add_linear(ft_params *ps, int64_t out, int64_t in, const char *fmt, ...) {
    FORMAT_PREFIX(prefix, fmt);
    int64_t w[2] = {out, in};
    ft_status s = add(ps, false, prefix, "weight", 2, w);
    if (!s) s = add(ps, false, prefix, "bias", 1, &out);
    return s;
}

/* ---- graph ---- */

static ft_node *param(ft_graph *g, const char *prefix, const char *leaf) {
    char name[160];
    snprintf(name, sizeof name, "%s.%s", prefix, leaf);
    return ft_param(g, name);
}

ft_node *tv_conv(ft_graph *g, ft_node *x, const char *prefix, bool bias, int stride, int pad_h, int pad_w, int groups) {
    ft_conv2d_args a = ft_conv2d_defaults();
    a.stride[0] = a.stride[1] = stride;
    a.pad[0] = a.pad[2] = pad_h;
    a.pad[1] = a.pad[3] = pad_w;
    a.groups = groups;
    return ft_conv2d(g, x, param(g, prefix, "weight"), bias ? param(g, prefix, "bias") : NULL, &a);
}

ft_node *tv_bn(ft_graph *g, ft_node *x, const char *prefix, float eps, bool frozen) {
    return ft_batch_norm(g, x, param(g, prefix, "weight"), param(g, prefix, "bias"), param(g, prefix, "running_mean"),
                         param(g, prefix, "running_var"), eps, 0.1f, frozen);
}

ft_node *tv_linear(ft_graph *g, ft_node *x, const char *prefix) {
    return ft_linear(g, x, param(g, prefix, "weight"), param(g, prefix, "bias"));
}

ft_node *tv_input_4d(ft_model *m, ft_graph *g, ft_node *x) {
    if (!x) return NULL;
    if (x->ndim == 4) return x;
    if (x->ndim != 2)
        return ft_graph_fail(g, FT_ESHAPE, "%s: input must be [N, C, H, W] or [N, C*H*W], got %d dims", m->arch->name, x->ndim);
    int64_t s[4] = {x->shape[0], m->in_shape[0], m->in_shape[1], m->in_shape[2]};
    return ft_reshape(g, x, 4, s);
}

char *tv_config_with_classes(const ft_model *m, int n_classes) {
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!root) return NULL;
    json_object_set_new(root, "n_classes", json_integer(n_classes));
    json_t *pre = json_object_get(root, "preprocess"); /* class names belong to the old head */
    if (json_is_object(pre)) json_object_del(pre, "labels");
    char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(root);
    char *r = s ? ft_strdup(s) : NULL;
    free(s);
    return r;
}

void tv_free_impl(ft_model *m) { ft_free(m->impl); }
