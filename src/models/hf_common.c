/* Config and declaration helpers shared by the Hugging Face architectures (hf_common.h). */
#include "models/hf_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

ft_status hf_get_int(json_t *root, const char *arch, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = def; return FT_OK; }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return ft_fail(FT_EINVAL, "%s config: \"%s\" must be an integer in [%lld, %lld]", arch, key, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return FT_OK;
}

ft_status hf_get_num(json_t *root, const char *arch, const char *key, double def, double lo, double hi, double *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = def; return FT_OK; }
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return ft_fail(FT_EINVAL, "%s config: \"%s\" must be a number in [%g, %g]", arch, key, lo, hi);
    *out = json_number_value(v);
    return FT_OK;
}

ft_status hf_get_bool(json_t *root, const char *arch, const char *key, bool def, bool *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = def; return FT_OK; }
    if (!json_is_boolean(v)) return ft_fail(FT_EINVAL, "%s config: \"%s\" must be true or false", arch, key);
    *out = json_is_true(v);
    return FT_OK;
}

const char *hf_architecture(json_t *root) {
    const char *a = json_string_value(json_array_get(json_object_get(root, "architectures"), 0));
    return a ? a : "";
}

ft_status hf_num_labels(json_t *root, const char *arch, int *out) {
    json_t *v = json_object_get(root, "id2label");
    if (v && json_is_object(v) && json_object_size(v) > 0) {
        *out = (int)json_object_size(v);
        return FT_OK;
    }
    int64_t n;
    ft_status s = hf_get_int(root, arch, "num_labels", 2, 1, 1000000, &n);
    *out = (int)n;
    return s;
}

char *hf_config_with_labels(const char *cfg_json, const char *architecture, int n_labels) {
    json_t *root = json_loads(cfg_json, 0, NULL);
    if (!root) return NULL;
    json_t *archs = json_array(), *id2 = json_object(), *l2i = json_object();
    json_array_append_new(archs, json_string(architecture));
    for (int i = 0; i < n_labels; i++) {
        char k[16], v[32];
        snprintf(k, sizeof k, "%d", i);
        snprintf(v, sizeof v, "LABEL_%d", i);
        json_object_set_new(id2, k, json_string(v));
        json_object_set_new(l2i, v, json_integer(i));
    }
    json_object_set_new(root, "architectures", archs);
    json_object_set_new(root, "id2label", id2);
    json_object_set_new(root, "label2id", l2i);
    json_object_del(root, "num_labels");
    char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(root);
    char *r = s ? ft_strdup(s) : NULL;
    free(s);
    return r;
}

/* ft_params_add returns -1 with its message set; out of memory keeps its status. */
static ft_status add_status(int index) {
    if (index >= 0) return FT_OK;
    return strstr(ft_errmsg(), "out of memory") ? FT_ENOMEM : FT_EINVAL;
}

ft_status hf_add_mat(ft_params *ps, int64_t rows, int64_t cols, const char *name) {
    int64_t shape[2] = {rows, cols};
    return add_status(ft_params_add(ps, name, 2, shape));
}

ft_status hf_add_vec(ft_params *ps, int64_t n, const char *name) {
    int64_t shape[1] = {n};
    return add_status(ft_params_add(ps, name, 1, shape));
}

ft_status hf_add_linear(ft_params *ps, int64_t out, int64_t in, bool bias, const char *prefix) {
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    ft_status s = hf_add_mat(ps, out, in, name);
    if (!s && bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        s = hf_add_vec(ps, out, name);
    }
    return s;
}

ft_node *hf_param(ft_graph *g, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ft_param(g, name);
}
