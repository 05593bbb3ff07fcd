/* Model lifecycle: config -> parameters, init, load/export, head replacement, summary. */
#include "models/models.h"
#include "ops/ops.h"
#include "finetune/io.h"
#include "finetune/runner.h"
#include "finetune/import.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *ft_arch_names(void);

void ft_model_free(ft_model *m) {
    if (!m) return;
    if (m->arch && m->arch->free_impl) m->arch->free_impl(m);
    ft_params_free(m->params);
    ft_free(m->config_json);
    ft_free(m);
}

ft_status ft_model_from_config(const char *cfg_json, ft_model **out) {
    *out = NULL;
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "model config is not valid JSON: %s (line %d, column %d)", err.text, err.line, err.column);
    if (!json_is_object(root)) { json_decref(root); return ft_fail(FT_EFORMAT, "model config must be a JSON object"); }
    const char *arch_name = json_string_value(json_object_get(root, "arch"));
    if (!arch_name && !json_object_get(root, "arch")) /* a Hugging Face config.json */
        arch_name = json_string_value(json_object_get(root, "model_type"));
    const ft_arch *arch = ft_arch_find(arch_name);
    if (!arch && !json_object_get(root, "arch") && arch_name) {
        ft_status s = ft_fail(FT_EUNSUPPORTED, "model config: Hugging Face model_type '%s' is not supported (known: %s)", arch_name,
                              ft_arch_names());
        json_decref(root);
        return s;
    }
    if (!arch) {
        ft_status s = ft_fail(FT_EUNSUPPORTED, "model config: unknown \"arch\" '%s' (known: %s)", arch_name ? arch_name : "(missing)",
                              ft_arch_names());
        json_decref(root);
        return s;
    }
    json_decref(root);
    ft_model *m = ft_calloc(1, sizeof *m);
    if (!m) return ft_fail(FT_ENOMEM, "out of memory");
    m->arch = arch;
    m->params = ft_params_new();
    m->config_json = ft_strdup(cfg_json);
    if (!m->params || !m->config_json) { ft_model_free(m); return ft_fail(FT_ENOMEM, "out of memory"); }
    ft_status s = arch->create(m, cfg_json);
    if (!s) s = ft_seq_heads_create(m, cfg_json); /* task heads of sequence models (seq_heads.c) */
    if (!s) s = ft_params_finalize(m->params);
    if (s) { ft_model_free(m); return s; }
    *out = m;
    return FT_OK;
}

static int64_t fan_in_of(const ft_param_info *w) { return w->shape[0] ? w->numel / w->shape[0] : 1; }

/* Graph models name parameters as their source did (ONNX initializers such as
 * "model/batch_normalization/ReadVariableOp:0"), so the name rules of ft_model_init miss
 * them: set each node's parameters by their role instead. Batch norm: scale 1, shift 0,
 * running mean 0, running var 1. Conv and linear: the bias U(+-1/sqrt(fan_in of its
 * weight)) (what the name rules give "<node>.bias"), or 0 with `zero_bias`; with
 * `weight_gain` > 0 the weight is U(+-weight_gain * sqrt(3 / fan_in)). The same stream
 * (seed, index) as ft_model_init, so conventionally named params get the same values. */
static void init_graph_roles(ft_model *m, uint64_t seed, float weight_gain, bool zero_bias) {
    json_t *root = json_loads(m->config_json, 0, NULL);
    json_t *nodes = json_object_get(root, "nodes"), *nd;
    size_t i;
    ft_params *ps = m->params;
    json_array_foreach(nodes, i, nd) {
        const char *op = json_string_value(json_object_get(nd, "op"));
        json_t *pl = json_object_get(nd, "params");
        int np = (int)json_array_size(pl), id[5] = {-1, -1, -1, -1, -1};
        if (!op || np < 1 || np > 5) continue;
        for (int k = 0; k < np; k++) id[k] = ft_params_find(ps, json_string_value(json_array_get(pl, k)));
        if (!strcmp(op, "batch_norm")) {
            json_t *aff = json_object_get(json_object_get(nd, "attrs"), "affine");
            bool affine = !json_is_false(aff);
            /* operands after x: weight, bias, mean, var; or mean, var (affine: false) */
            float v4[4] = {1, 0, 0, 1}, v2a[2] = {1, 0}, v2[2] = {0, 1};
            const float *v = np == 4 ? v4 : affine ? v2a : v2;
            if (np != 4 && np != 2) continue;
            for (int k = 0; k < np; k++) {
                if (id[k] < 0) continue;
                float *x = ft_params_value(ps, id[k]);
                for (int64_t e = 0; e < ps->p[id[k]].numel; e++) x[e] = v[k];
            }
        } else if (!strcmp(op, "conv2d") || !strcmp(op, "conv1d") || !strcmp(op, "linear") || !strcmp(op, "conv_transpose2d")) {
            if (id[0] < 0 || ps->p[id[0]].ndim < 2 || ps->p[id[0]].is_buffer) continue;
            int64_t fan = fan_in_of(&ps->p[id[0]]);
            if (weight_gain > 0) ft_params_init_uniform(ps, id[0], seed, weight_gain * sqrtf(3.0f / (float)(fan ? fan : 1)));
            if (np >= 2 && id[1] >= 0 && ps->p[id[1]].ndim == 1 && !ps->p[id[1]].is_buffer) {
                if (zero_bias) memset(ft_params_value(ps, id[1]), 0, (size_t)ps->p[id[1]].numel * sizeof(float));
                else ft_params_init_uniform(ps, id[1], seed, 1.0f / sqrtf((float)(fan ? fan : 1)));
            }
        }
    }
    json_decref(root);
}

void ft_model_init_kaiming(ft_model *m, uint64_t seed, float slope) {
    ft_model_init(m, seed);
    float gain = sqrtf(2.0f / (1.0f + slope * slope));
    ft_params *ps = m->params;
    for (int i = 0; i < ps->n; i++) { /* by name: weights and their ".bias" siblings */
        ft_param_info *p = &ps->p[i];
        if (p->is_buffer || p->ndim < 2) continue;
        int64_t fan = fan_in_of(p);
        ft_params_init_uniform(ps, i, seed, gain * sqrtf(3.0f / (float)(fan ? fan : 1)));
        size_t len = strlen(p->name);
        char sib[256];
        if (len > 7 && !strcmp(p->name + len - 7, ".weight") && len + 1 < sizeof sib) {
            snprintf(sib, sizeof sib, "%.*s.bias", (int)(len - 7), p->name);
            int b = ft_params_find(ps, sib);
            if (b >= 0 && !ps->p[b].is_buffer) memset(ft_params_value(ps, b), 0, (size_t)ps->p[b].numel * sizeof(float));
        }
    }
    if (m->arch && !strcmp(m->arch->name, "graph")) init_graph_roles(m, seed, gain, true);
}

/* Whether buffer i holds batch-norm running statistics (by role in a graph model, else by
 * its name "running_..."). */
static bool is_bn_stat(const ft_model *m, json_t *nodes, int i) {
    const char *name = m->params->p[i].name;
    if (strstr(name, "running_")) return true;
    json_t *nd;
    size_t k;
    json_array_foreach(nodes, k, nd) {
        const char *op = json_string_value(json_object_get(nd, "op"));
        json_t *pl = json_object_get(nd, "params");
        size_t np = json_array_size(pl);
        if (!op || strcmp(op, "batch_norm") || (np != 4 && np != 2)) continue;
        bool affine = !json_is_false(json_object_get(json_object_get(nd, "attrs"), "affine"));
        if (np == 2 && affine) continue;
        for (size_t j = np - 2; j < np; j++)
            if (json_string_value(json_array_get(pl, j)) && !strcmp(json_string_value(json_array_get(pl, j)), name)) return true;
    }
    return false;
}

ft_status ft_model_reinit(ft_model *m, uint64_t seed, bool kaiming, float slope) {
    ft_params *ps = m->params;
    json_t *root = json_loads(m->config_json, 0, NULL), *nodes = json_object_get(root, "nodes");
    int64_t total = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].is_buffer && !is_bn_stat(m, nodes, i)) total += ps->p[i].numel;
    float *keep = ft_malloc((size_t)(total > 0 ? total : 1) * sizeof *keep), *k = keep;
    if (!keep) { json_decref(root); return ft_fail(FT_ENOMEM, "out of memory"); }
    bool *kept = ft_calloc((size_t)(ps->n > 0 ? ps->n : 1), sizeof *kept);
    if (!kept) { ft_free(keep); json_decref(root); return ft_fail(FT_ENOMEM, "out of memory"); }
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].is_buffer && !is_bn_stat(m, nodes, i)) {
            memcpy(k, ft_params_value(ps, i), (size_t)ps->p[i].numel * sizeof *k);
            k += ps->p[i].numel;
            kept[i] = true;
        }
    json_decref(root);
    if (kaiming) ft_model_init_kaiming(m, seed, slope);
    else ft_model_init(m, seed);
    k = keep;
    for (int i = 0; i < ps->n; i++)
        if (kept[i]) {
            memcpy(ft_params_value(ps, i), k, (size_t)ps->p[i].numel * sizeof *k);
            k += ps->p[i].numel;
        }
    ft_free(keep);
    ft_free(kept);
    return FT_OK;
}

/* PyTorch-style defaults: weights (>= 2-D) and their biases U(-1/sqrt(fan_in), +), 1-D
 * norm scales 1, other 1-D 0; buffers named running_var 1, others 0; recurrent initial
 * states (<node>.h0, <node>.c0) 0, PyTorch's default state. Stream = index.
 * Graph models: by each node's roles too (init_graph_roles). */
void ft_model_init(ft_model *m, uint64_t seed) {
    ft_params *ps = m->params;
    for (int i = 0; i < ps->n; i++) {
        ft_param_info *p = &ps->p[i];
        float *v = ft_params_value(ps, i);
        size_t len = strlen(p->name);
        bool state = len > 3 && (!strcmp(p->name + len - 3, ".h0") || !strcmp(p->name + len - 3, ".c0"));
        if (p->is_buffer || state) {
            float f = !state && strstr(p->name, "running_var") ? 1.0f : 0.0f;
            for (int64_t k = 0; k < p->numel; k++) v[k] = f;
            continue;
        }
        if (p->ndim >= 2) {
            int64_t fan_in = p->shape[0] ? p->numel / p->shape[0] : 1;
            ft_params_init_uniform(ps, i, seed, 1.0f / sqrtf((float)(fan_in ? fan_in : 1)));
            continue;
        }
        /* 1-D: a bias of a sibling weight matrix, or a norm parameter. */
        char sib[256];
        int w = -1;
        if (len > 5 && strcmp(p->name + len - 5, ".bias") == 0 && len - 5 + 8 < sizeof sib) {
            snprintf(sib, sizeof sib, "%.*s.weight", (int)(len - 5), p->name);
            w = ft_params_find(ps, sib);
        }
        if (w >= 0 && ps->p[w].ndim >= 2) {
            int64_t fan_in = ps->p[w].shape[0] ? ps->p[w].numel / ps->p[w].shape[0] : 1;
            ft_params_init_uniform(ps, i, seed, 1.0f / sqrtf((float)(fan_in ? fan_in : 1)));
        } else {
            float f = (len > 7 && strcmp(p->name + len - 7, ".weight") == 0) ? 1.0f : 0.0f;
            for (int64_t k = 0; k < p->numel; k++) v[k] = f;
        }
    }
    if (m->arch && !strcmp(m->arch->name, "graph")) init_graph_roles(m, seed, 0.0f, false);
}

static ft_status load_dir(const char *dir, ft_model **out) {
    char path[4096];
    struct stat sb; /* a TF.js model directory: model.json (and shards), no config.json */
    snprintf(path, sizeof path, "%s/model.json", dir);
    if (stat(path, &sb) == 0) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        if (stat(path, &sb) != 0) return ft_import_tfjs(dir, out);
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    uint8_t *cfg = NULL;
    size_t n = 0;
    ft_status s = ft_read_file(path, 1 << 20, &cfg, &n);
    if (s) return s;
    char *text = ft_malloc(n + 1);
    if (!text) { ft_free(cfg); return ft_fail(FT_ENOMEM, "out of memory"); }
    memcpy(text, cfg, n);
    text[n] = 0;
    ft_free(cfg);
    s = ft_model_from_config(text, out);
    ft_free(text);
    if (s) return ft_fail_context(s, "%s", path);
    s = ft_hf_load_weights(*out, dir);
    if (s) { ft_model_free(*out); *out = NULL; }
    return s;
}

ft_status ft_model_load(const char *path, ft_model **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return ft_fail(FT_ENOTFOUND, "%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) return load_dir(path, out);
    size_t len = strlen(path); /* a TFLite flatbuffer: imported as a "graph" model */
    if (len > 7 && strcasecmp(path + len - 7, ".tflite") == 0) return ft_import_tflite(path, out);
    if (len > 5 && strcasecmp(path + len - 5, ".onnx") == 0) return ft_import_onnx(path, NULL, out); /* ONNX: a "graph" model */
    if (len > 5 && strcasecmp(path + len - 5, ".json") == 0) return ft_import_tfjs(path, out); /* TF.js model.json */
    if (len > 4 && strcasecmp(path + len - 4, ".bin") == 0) return ft_import_llama2c(path, out); /* llama2.c checkpoint */
    /* A single safetensors file: a training checkpoint, config in its metadata. */
    ft_safetensors *st = NULL;
    ft_status s = ft_st_open(path, &st);
    if (s) return s;
    const char *cfg = ft_st_meta(st, "config");
    if (!cfg) {
        ft_st_close(st);
        return ft_fail(FT_EFORMAT, "%s: no \"config\" in its metadata; pass the model directory (config.json + model.safetensors) instead", path);
    }
    s = ft_model_from_config(cfg, out);
    if (!s) s = ft_params_load_st((*out)->params, st, "model.", true);
    if (s) { ft_fail_context(s, "%s", path); ft_model_free(*out); *out = NULL; }
    ft_st_close(st);
    return s;
}

ft_status ft_model_export(const ft_model *m, const char *dir) {
    ft_status s = ft_mkdirs(dir);
    if (s) return s;
    char path[4096];
    /* Pretty-print the config so people can read and edit it. */
    json_t *root = json_loads(m->config_json, 0, NULL);
    char *pretty = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *text = pretty ? pretty : m->config_json;
    char *with_nl = ft_malloc(strlen(text) + 2);
    if (!with_nl) { free(pretty); return ft_fail(FT_ENOMEM, "out of memory"); }
    sprintf(with_nl, "%s\n", text);
    s = ft_write_file_atomic(path, with_nl, strlen(with_nl));
    ft_free(with_nl);
    free(pretty);
    if (s) return s;
    ft_st_writer *w = ft_st_writer_new();
    if (!w) return ft_fail(FT_ENOMEM, "out of memory");
    const ft_params *ps = m->params;
    for (int i = 0; i < ps->n && !s; i++)
        s = ft_st_writer_add(w, ps->p[i].name, ps->p[i].ndim, ps->p[i].shape, ps->data + ps->p[i].offset);
    if (!s) s = ft_st_writer_meta(w, "format", "pt");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!s) s = ft_st_writer_write(w, path);
    ft_st_writer_free(w);
    return s;
}

ft_status ft_model_replace_head(const ft_model *m, int n_classes, uint64_t seed, ft_model **out) {
    *out = NULL;
    if (n_classes < 1) return ft_fail(FT_EINVAL, "new head needs at least 1 class, got %d", n_classes);
    char *cfg = m->arch->config_with_classes ? m->arch->config_with_classes(m, n_classes) : NULL;
    if (!cfg) return ft_fail(FT_EUNSUPPORTED, "architecture '%s' cannot replace its head", m->arch->name);
    ft_status s = ft_model_from_config(cfg, out);
    ft_free(cfg);
    if (s) return s;
    ft_model *n = *out;
    ft_model_init(n, seed);
    for (int i = 0; i < n->params->n; i++) {
        const ft_param_info *p = &n->params->p[i];
        if (m->head_patterns && ft_params_match(m->head_patterns, p->name)) continue; /* fresh head */
        int j = ft_params_find(m->params, p->name);
        const char *dot = strchr(p->name, '.'); /* a bare Hugging Face base model gains its prefix ("bert.") with a head */
        if (j < 0 && dot && m->arch == n->arch) j = ft_params_find(m->params, dot + 1);
        if (j < 0 || m->params->p[j].numel != p->numel) continue;
        memcpy(ft_params_value(n->params, i), m->params->data + m->params->p[j].offset, (size_t)p->numel * 4);
        n->params->p[i].trainable = m->params->p[j].trainable;
    }
    return FT_OK;
}

/* A new model from the edited config `root` (consumed) with m's weights copied by name;
 * every parameter must keep its size. `what` says what changed, for messages. */
static ft_status rebuild(const ft_model *m, json_t *root, const char *what, ft_model **out) {
    char *cfg = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!cfg) return ft_fail(FT_ENOMEM, "out of memory");
    char *cfg2 = ft_strdup(cfg);
    free(cfg);
    if (!cfg2) return ft_fail(FT_ENOMEM, "out of memory");
    ft_status s = ft_model_from_config(cfg2, out);
    ft_free(cfg2);
    if (s) return ft_fail_context(s, "model %s %s", m->arch->name, what);
    ft_model *n = *out;
    for (int i = 0; i < n->params->n; i++) {
        const ft_param_info *p = &n->params->p[i];
        int j = ft_params_find(m->params, p->name);
        if (j < 0 || m->params->p[j].numel != p->numel) {
            s = ft_fail(FT_ESHAPE, "model %s %s: parameter '%s' changes shape (the network depends on the input "
                        "size, e.g. a Flatten before a Dense)", m->arch->name, what, p->name);
            ft_model_free(n);
            *out = NULL;
            return s;
        }
        memcpy(ft_params_value(n->params, i), m->params->data + m->params->p[j].offset, (size_t)p->numel * 4);
        n->params->p[i].trainable = m->params->p[j].trainable;
    }
    return FT_OK;
}

ft_status ft_model_with_frozen_bn(const ft_model *m, ft_model **out) {
    *out = NULL;
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return ft_fail(FT_EINVAL, "model %s: config is not a JSON object", m->arch->name);
    }
    json_t *nodes = json_object_get(root, "nodes");
    int n_bn = 0;
    if (json_is_array(nodes)) { /* graph: each batch_norm with running statistics */
        size_t i;
        json_t *nd;
        json_array_foreach(nodes, i, nd) {
            const char *op = json_string_value(json_object_get(nd, "op"));
            if (!op || strcmp(op, "batch_norm") || json_array_size(json_object_get(nd, "params")) < 3) continue;
            json_t *attrs = json_object_get(nd, "attrs");
            if (!json_is_object(attrs)) {
                attrs = json_object();
                json_object_set_new(nd, "attrs", attrs);
            }
            json_object_set_new(attrs, "frozen_stats", json_true());
            n_bn++;
        }
    } else if (strcmp(m->arch->name, "mlp")) { /* torchvision architectures: one config switch */
        json_object_set_new(root, "frozen_bn", json_true());
        n_bn = 1;
    }
    if (!n_bn) {
        json_decref(root);
        return ft_fail(FT_EINVAL, "model %s has no batch norm with running statistics to freeze", m->arch->name);
    }
    return rebuild(m, root, "with frozen batch norm", out);
}

ft_status ft_model_with_image_size(const ft_model *m, int size, ft_model **out) {
    *out = NULL;
    if (size < 1 || size > FT_IMAGE_MAX_SIDE) return ft_fail(FT_EINVAL, "image size %d is not in [1, %d]", size, FT_IMAGE_MAX_SIDE);
    if (m->in_ndim != 3 || m->in_shape[0] != 3 || m->in_dtype != FT_F32)
        return ft_fail(FT_EINVAL, "model %s does not take [3, H, W] images; its input size cannot change", m->arch->name);
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return ft_fail(FT_EINVAL, "model %s: config is not a JSON object", m->arch->name);
    }
    /* The graph architecture keeps its input shape in input.shape, the others in input_shape. */
    json_t *in = json_object_get(root, "input"), *shape = json_is_object(in) ? json_object_get(in, "shape") : json_object_get(root, "input_shape");
    if (json_array_size(shape) != 3) {
        json_decref(root);
        return ft_fail(FT_EUNSUPPORTED, "model %s: its config has no [3, H, W] input shape to change", m->arch->name);
    }
    json_array_set_new(shape, 1, json_integer(size));
    json_array_set_new(shape, 2, json_integer(size));
    json_t *pre = json_object_get(root, "preprocess");
    if (json_is_object(pre)) { /* the crop is the new size; a resize below it becomes the size */
        json_object_set_new(pre, "size", json_integer(size));
        json_t *rs = json_object_get(pre, "resize");
        if (json_is_array(rs)) rs = json_array_get(rs, 0);
        if (json_is_integer(rs) && m->image_size > 0)
            json_object_set_new(pre, "resize", json_integer(json_integer_value(rs) == m->image_size ? size
                                                          : json_integer_value(rs) * size / m->image_size));
    }
    char what[64];
    snprintf(what, sizeof what, "at %dx%d input", size, size);
    return rebuild(m, root, what, out);
}

/* patterns with each comma-separated item "head" replaced by the model's head patterns. */
static char *expand_head(const ft_model *m, const char *patterns) {
    const char *head = m->head_patterns && m->head_patterns[0] ? m->head_patterns : NULL;
    size_t n = strlen(patterns) + 1, extra = head ? strlen(head) : 0;
    char *out = ft_malloc(n * (extra + 1) + 1), *o = out;
    if (!out) return NULL;
    const char *p = patterns;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && *p == ' ') { p++; len--; }
        if (o != out) *o++ = ',';
        if (len == 4 && !strncmp(p, "head", 4) && head) o += sprintf(o, "%s", head);
        else { memcpy(o, p, len); o += len; }
        if (!e) break;
        p = e + 1;
    }
    *o = 0;
    return out;
}

ft_status ft_model_select_trainable(ft_model *m, const char *train, const char *freeze) {
    ft_params *ps = m->params;
    ft_status s = FT_OK;
    if (train) {
        char *t = expand_head(m, train);
        if (!t) return ft_fail(FT_ENOMEM, "out of memory");
        for (int i = 0; i < ps->n; i++) ps->p[i].trainable = false;
        s = ft_params_set_trainable(ps, t, true);
        ft_free(t);
        if (s) return s;
    }
    if (freeze) {
        char *f = expand_head(m, freeze);
        if (!f) return ft_fail(FT_ENOMEM, "out of memory");
        s = ft_params_set_trainable(ps, f, false);
        ft_free(f);
        if (s) return s;
    }
    if (ft_params_count(ps, true) == 0) return ft_fail(FT_EINVAL, "no trainable parameters left after --train/--freeze");
    return FT_OK;
}

ft_node *ft_model_task_head(ft_model *m, ft_graph *g, ft_node *hidden, const ft_seq_batch *in) {
    if (m->arch == &ft_arch_bert) return ft_bert_task_head(m, g, hidden, in);
    if (m->arch == &ft_arch_gpt2) return ft_gpt2_task_head(m, g, hidden, in);
    if (m->arch->hidden && m->seq_head) return ft_seq_task_head(m, g, hidden, in); /* llama: seq_heads.c */
    return ft_graph_fail(g, FT_EUNSUPPORTED, "architecture '%s' has no task head of its own", m->arch->name);
}

ft_image_opts ft_model_image_opts(const ft_model *m) {
    ft_image_opts o = ft_image_opts_default();
    if (m->in_ndim == 3 && m->in_shape[0] == 3 && m->in_shape[1] == m->in_shape[2]) {
        o.size = (int)m->in_shape[1];
        o.resize = 0; /* size * 256 / 224, the torchvision convention */
    }
    if (m->image_size > 0) o.size = m->image_size;
    if (m->image_resize > 0) o.resize = m->image_resize;
    o.stretch = m->image_stretch;
    if (m->image_std[0] > 0)
        for (int c = 0; c < 3; c++) { o.mean[c] = m->image_mean[c]; o.std[c] = m->image_std[c]; }
    return o;
}

void ft_model_print(const ft_model *m, void *file) {
    FILE *f = file;
    const ft_params *ps = m->params;
    fprintf(f, "architecture: %s\n", m->arch->name);
    fprintf(f, "input (per example): [");
    for (int d = 0; d < m->in_ndim; d++) fprintf(f, d ? ",%lld" : "%lld", (long long)m->in_shape[d]);
    fprintf(f, "]  classes: %d  head: %s\n", m->n_classes, m->head_patterns ? m->head_patterns : "-");
    fprintf(f, "%-44s %-18s %12s  %s\n", "parameter", "shape", "numel", "trainable");
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *p = &ps->p[i];
        char shape[64];
        int o = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < p->ndim && o < (int)sizeof shape; d++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, d ? ",%lld" : "%lld", (long long)p->shape[d]);
        if (o < (int)sizeof shape) snprintf(shape + o, sizeof shape - (size_t)o, "]");
        fprintf(f, "%-44s %-18s %12lld  %s\n", p->name, shape, (long long)p->numel,
                p->is_buffer ? "buffer" : p->trainable ? "yes" : "frozen");
    }
    int64_t total = ft_params_count(ps, false), train = ft_params_count(ps, true);
    fprintf(f, "parameters: %lld total, %lld trainable (%.1f%%), %lld frozen\n", (long long)total, (long long)train,
            total ? 100.0 * (double)train / (double)total : 0.0, (long long)(total - train));
}
