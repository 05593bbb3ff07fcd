/* TF.js layers import: a Keras JSON topology (model.json "modelTopology") plus binary weight
 * shards ("weightsManifest") become a "graph" model (docs/import.md, section TF.js).
 *
 * Steps: parse the manifest (names, shapes, dtypes, uint8/uint16/float16 quantization) and
 * lay its weights over the concatenated shard bytes; read the layers and resolve their
 * inbound nodes (classic Keras 2 lists and Keras 3 "keras_history" alike); keep the layers
 * the output depends on, in topological order; convert each layer to graph nodes while
 * tracking its Keras shape (channels_last); then let ft_model_from_config validate the
 * config and fill the parameters (dequantized, HWIO -> OIHW, [in, out] -> [out, in]).
 *
 * Layout: a Keras 4-D tensor [N, H, W, C] is NCHW in the graph. Axes of Concatenate and
 * BatchNormalization are mapped; Flatten and Reshape of an image first permute to NHWC
 * order (when C > 1 and H*W > 1), so the following Dense weights keep Keras's row order.
 *
 * Everything read from the JSON is checked before use: a bad file fails with FT_EFORMAT
 * and a message naming the file and the field or layer; a layer type or option without a
 * mapping fails with FT_EUNSUPPORTED naming the layer and its class. */
#include "finetune/import.h"
#include "finetune/io.h"
#include "finetune/graph.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TJ_MAX_LAYERS 20000
#define TJ_MAX_WEIGHTS 100000
#define TJ_MAX_PER_EXAMPLE ((int64_t)1 << 28) /* input and activation elements per example */
#define TJ_MAX_NAME 120

/* ======================================================================================
 * Manifest: weights over the concatenated shard bytes
 * ====================================================================================== */

typedef enum { W_F32, W_I32, W_U8, W_U16, W_F16 } wkind;

typedef struct {
    const char *name;               /* borrowed from the JSON */
    int ndim;
    int64_t shape[FT_PARAM_MAX_DIMS];
    int64_t numel;
    wkind kind;
    double qmin, qscale;            /* uint8/uint16: value = q * scale + min */
    const uint8_t *data;
    size_t nbytes;
    bool used;
} mweight;

typedef enum { FILL_COPY, FILL_HWIO, FILL_DEPTHWISE, FILL_DENSE, FILL_ONES, FILL_ZEROS } fill_kind;

typedef struct {
    char *param;
    int w;                          /* manifest weight, -1 for ONES/ZEROS */
    fill_kind kind;
} fill;

/* One Keras layer. */
typedef struct {
    const char *name, *cls;         /* borrowed from the JSON */
    json_t *cfg;
    int n_in;
    int *in;                        /* producer layer indices */
    bool needed, done;
    char *node;                     /* graph node holding the layer's output */
    char *lin_node, *w_param, *b_param; /* Dense: its linear node and parameters (the head) */
    int rank;                       /* Keras rank without the batch dim (3 = [H, W, C] image = NCHW here) */
    int64_t shape[FT_MAX_DIMS];     /* Keras shape without the batch dim */
} layer;

typedef struct {
    const char *label;              /* the file, for messages */
    json_t *model;                  /* the whole model.json */
    mweight *w;
    int n_w;
    json_t *w_index;                /* manifest name -> index */
    layer *L;
    int n_layers;
    int input, output;              /* layer indices */
    const char *input_node;
    json_t *root, *nodes, *params, *used_names;
    fill *fills;
    int n_fills, cap_fills;
    int64_t synth_numel;            /* floats of parameters not in the manifest (fixed BN gamma/beta) */
    bool dropped_softmax;
    int cur;                        /* layer being converted, for messages */
} imp;

static ft_status oom(void) { return ft_fail(FT_ENOMEM, "out of memory"); }

static ft_status layer_fail(imp *im, ft_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ft_status layer_fail(imp *im, ft_status s, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const layer *l = &im->L[im->cur];
    return ft_fail(s, "%s: layer '%.100s' (%.60s): %s", im->label, l->name, l->cls, msg);
}

static bool json_int_in(json_t *v, int64_t lo, int64_t hi) {
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static ft_status parse_weight(imp *im, int g, int k, json_t *jw, mweight *w) {
    const char *name = json_string_value(json_object_get(jw, "name"));
    json_t *shape = json_object_get(jw, "shape"), *q = json_object_get(jw, "quantization");
    const char *dtype = json_string_value(json_object_get(jw, "dtype"));
    if (!json_is_object(jw) || !name)
        return ft_fail(FT_EFORMAT, "%s: weightsManifest[%d].weights[%d] needs a \"name\"", im->label, g, k);
    w->name = name;
    size_t nd = json_is_array(shape) ? json_array_size(shape) : (size_t)-1;
    if (nd > FT_PARAM_MAX_DIMS)
        return ft_fail(FT_EFORMAT, "%s: weight '%.100s': \"shape\" must be a list of at most %d ints", im->label, name, FT_PARAM_MAX_DIMS);
    w->ndim = (int)nd;
    w->numel = 1;
    for (size_t d = 0; d < nd; d++) {
        json_t *v = json_array_get(shape, d);
        if (!json_int_in(v, 0, (int64_t)1 << 31))
            return ft_fail(FT_EFORMAT, "%s: weight '%.100s': shape[%zu] must be a non-negative int", im->label, name, d);
        w->shape[d] = json_integer_value(v);
        if (w->shape[d] && w->numel > ((int64_t)1 << 34) / w->shape[d])
            return ft_fail(FT_EFORMAT, "%s: weight '%.100s' is too large", im->label, name);
        w->numel *= w->shape[d];
    }
    if (!dtype) return ft_fail(FT_EFORMAT, "%s: weight '%.100s' needs a \"dtype\"", im->label, name);
    if (strcmp(dtype, "float32") && strcmp(dtype, "int32"))
        return ft_fail(FT_EUNSUPPORTED, "%s: weight '%.100s' has dtype '%.40s' (float32 and int32 are supported)", im->label, name, dtype);
    w->kind = strcmp(dtype, "int32") ? W_F32 : W_I32;
    size_t esize = 4;
    if (q) {
        const char *qd = json_string_value(json_object_get(q, "dtype"));
        if (!json_is_object(q) || !qd)
            return ft_fail(FT_EFORMAT, "%s: weight '%.100s': \"quantization\" needs a \"dtype\"", im->label, name);
        if (!strcmp(qd, "float16")) {
            w->kind = W_F16;
            esize = 2;
        } else if (!strcmp(qd, "uint8") || !strcmp(qd, "uint16")) {
            json_t *mn = json_object_get(q, "min"), *sc = json_object_get(q, "scale");
            if (!json_is_number(mn) || !json_is_number(sc) || !isfinite(json_number_value(mn)) || !isfinite(json_number_value(sc)))
                return ft_fail(FT_EFORMAT, "%s: weight '%.100s': %s quantization needs numbers \"min\" and \"scale\"", im->label, name, qd);
            w->qmin = json_number_value(mn);
            w->qscale = json_number_value(sc);
            w->kind = qd[4] == '8' ? W_U8 : W_U16;
            esize = w->kind == W_U8 ? 1 : 2;
        } else {
            return ft_fail(FT_EUNSUPPORTED, "%s: weight '%.100s' has quantization dtype '%.40s' (uint8, uint16, float16 are supported)",
                           im->label, name, qd);
        }
    }
    w->nbytes = (size_t)w->numel * esize;
    return FT_OK;
}

/* Parse "weightsManifest" and lay the weights over `data` (the shards of every group,
 * concatenated in manifest order): every byte must belong to exactly one weight. */
static ft_status parse_manifest(imp *im, const uint8_t *data, size_t size) {
    json_t *man = json_object_get(im->model, "weightsManifest");
    if (!(im->w_index = json_object())) return oom();
    if (!man && size) return ft_fail(FT_EFORMAT, "%s: %zu bytes of weights but no \"weightsManifest\"", im->label, size);
    if (!man) return FT_OK; /* a model without weights (only parameter-free layers) */
    if (!json_is_array(man)) return ft_fail(FT_EFORMAT, "%s: \"weightsManifest\" must be a list of groups", im->label);
    size_t total = 0;
    for (size_t g = 0; g < json_array_size(man); g++) {
        json_t *ws = json_object_get(json_array_get(man, g), "weights");
        if (!json_is_array(ws)) return ft_fail(FT_EFORMAT, "%s: weightsManifest[%zu] needs a \"weights\" list", im->label, g);
        total += json_array_size(ws);
    }
    if (total > TJ_MAX_WEIGHTS) return ft_fail(FT_EFORMAT, "%s: %zu weights in the manifest (at most %d)", im->label, total, TJ_MAX_WEIGHTS);
    if (!(im->w = ft_calloc(total ? total : 1, sizeof *im->w))) return oom();
    size_t at = 0;
    ft_status s = FT_OK;
    for (size_t g = 0; g < json_array_size(man) && !s; g++) {
        json_t *ws = json_object_get(json_array_get(man, g), "weights");
        for (size_t k = 0; k < json_array_size(ws) && !s; k++) {
            mweight *w = &im->w[im->n_w];
            if ((s = parse_weight(im, (int)g, (int)k, json_array_get(ws, k), w))) break;
            im->n_w++;
            if (json_object_get(im->w_index, w->name)) {
                s = ft_fail(FT_EFORMAT, "%s: weight '%.100s' appears twice in the manifest", im->label, w->name);
                break;
            }
            if (json_object_set_new(im->w_index, w->name, json_integer(im->n_w - 1))) { s = oom(); break; }
            if (at > size || w->nbytes > size - at) {
                s = ft_fail(FT_EFORMAT, "%s: the weight data ends inside weight '%.100s' (needs bytes %zu..%zu of %zu): a shard is missing "
                            "or short", im->label, w->name, at, at + w->nbytes, size);
                break;
            }
            w->data = data ? data + at : NULL;
            at += w->nbytes;
        }
    }
    if (!s && at != size)
        s = ft_fail(FT_EFORMAT, "%s: the shards hold %zu bytes but the manifest's weights take %zu: shards and model.json do not match",
                    im->label, size, at);
    return s;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, f;
    if (e == 0) {
        if (!m) f = sign;
        else { /* subnormal */
            e = 127 - 15 + 1;
            while (!(m & 1024)) { m <<= 1; e--; }
            f = sign | e << 23 | (m & 1023) << 13;
        }
    } else if (e == 31) f = sign | 0x7f800000u | m << 13;
    else f = sign | (e - 15 + 127) << 23 | m << 13;
    float r;
    memcpy(&r, &f, 4);
    return r;
}

/* The weight's values as float32, in its own (Keras) layout. */
static void dequantize(const mweight *w, float *dst) {
    const uint8_t *p = w->data;
    for (int64_t i = 0; i < w->numel; i++) {
        switch (w->kind) {
        case W_F32: {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &u, 4);
            break;
        }
        case W_I32: {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            dst[i] = (float)(int32_t)u;
            break;
        }
        case W_U8: dst[i] = (float)(p[i] * w->qscale + w->qmin); break;
        case W_U16: dst[i] = (float)((p[2 * i] | p[2 * i + 1] << 8) * w->qscale + w->qmin); break;
        case W_F16: dst[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        }
    }
}

/* ======================================================================================
 * Topology: layers, inbound nodes, order
 * ====================================================================================== */

/* Keras 2: [[["name", node_index, tensor_index, {kwargs}], ...]]; Keras 3:
 * [{"args": [...{"class_name": "__keras_tensor__", "config": {"keras_history": ["name", 0, 0]}}...],
 *   "kwargs": {...}}]. Collect the producer names of the layer's (single) call, in order. */
static ft_status history_ref(imp *im, json_t *ref, json_t *index, int *out, int *n, int cap) {
    const char *pn = json_string_value(json_array_get(ref, 0));
    json_t *ni = json_array_get(ref, 1), *ti = json_array_get(ref, 2);
    if (!pn || !json_is_integer(ni) || !json_is_integer(ti))
        return layer_fail(im, FT_EFORMAT, "an inbound reference is not [\"layer\", node_index, tensor_index]");
    json_t *at = json_object_get(index, pn);
    if (!at) return layer_fail(im, FT_EFORMAT, "input layer '%.100s' does not exist", pn);
    if (json_integer_value(ni) != 0)
        return layer_fail(im, FT_EUNSUPPORTED, "takes output %lld of layer '%.100s': shared layers (called more than once) are not supported",
                          (long long)json_integer_value(ni), pn);
    if (json_integer_value(ti) != 0)
        return layer_fail(im, FT_EUNSUPPORTED, "takes tensor %lld of layer '%.100s': multi-output layers are not supported",
                          (long long)json_integer_value(ti), pn);
    if (*n >= cap) return layer_fail(im, FT_EUNSUPPORTED, "more than %d inputs", cap);
    out[(*n)++] = (int)json_integer_value(at);
    return FT_OK;
}

static ft_status collect_keras3(imp *im, json_t *v, json_t *index, int *out, int *n, int cap, int depth) {
    if (depth > 8) return FT_OK;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            ft_status s = collect_keras3(im, json_array_get(v, i), index, out, n, cap, depth + 1);
            if (s) return s;
        }
    } else if (json_is_object(v)) {
        json_t *h = json_object_get(json_object_get(v, "config"), "keras_history");
        const char *cn = json_string_value(json_object_get(v, "class_name"));
        if (h && cn && !strcmp(cn, "__keras_tensor__")) return history_ref(im, h, index, out, n, cap);
    }
    return FT_OK;
}

static ft_status parse_inbound(imp *im, layer *l, json_t *jl, json_t *index) {
    json_t *ib = json_object_get(jl, "inbound_nodes");
    if (!ib || (json_is_array(ib) && json_array_size(ib) == 0)) return FT_OK;
    if (!json_is_array(ib)) return layer_fail(im, FT_EFORMAT, "\"inbound_nodes\" must be a list");
    if (json_array_size(ib) > 1)
        return layer_fail(im, FT_EUNSUPPORTED, "is called %zu times: shared layers are not supported", json_array_size(ib));
    json_t *call = json_array_get(ib, 0);
    int cap = json_is_array(call) && json_array_size(call) < 256 ? (int)json_array_size(call) + 1 : 256;
    if (!(l->in = ft_calloc((size_t)cap, sizeof *l->in))) return oom();
    if (json_is_object(call)) { /* Keras 3 */
        ft_status s = collect_keras3(im, json_object_get(call, "args"), index, l->in, &l->n_in, cap, 0);
        if (s) return s;
    } else if (json_is_array(call)) {
        for (size_t i = 0; i < json_array_size(call); i++) {
            json_t *ref = json_array_get(call, i);
            if (!json_is_array(ref)) return layer_fail(im, FT_EFORMAT, "inbound_nodes[0][%zu] must be a list", i);
            ft_status s = history_ref(im, ref, index, l->in, &l->n_in, cap);
            if (s) return s;
        }
    } else {
        return layer_fail(im, FT_EFORMAT, "inbound_nodes[0] must be a list or an object");
    }
    if (l->n_in == 0) return layer_fail(im, FT_EFORMAT, "its inbound node names no input layer");
    return FT_OK;
}

/* [["name", 0, 0], ...] or (Keras 3, single) ["name", 0, 0]: exactly one entry. */
static ft_status endpoint(imp *im, json_t *v, json_t *index, const char *what, int *out) {
    json_t *ref = v;
    if (json_is_array(v) && json_array_size(v) >= 1 && json_is_array(json_array_get(v, 0))) {
        if (json_array_size(v) != 1)
            return ft_fail(FT_EUNSUPPORTED, "%s: the model has %zu %s (one is supported)", im->label, json_array_size(v), what);
        ref = json_array_get(v, 0);
    }
    const char *name = json_string_value(json_array_get(ref, 0));
    json_t *at = name ? json_object_get(index, name) : NULL;
    if (!at) return ft_fail(FT_EFORMAT, "%s: model config \"%s\" must name a layer of the model", im->label, what);
    if (json_integer_value(json_array_get(ref, 2)) != 0)
        return ft_fail(FT_EUNSUPPORTED, "%s: %s takes tensor %lld of layer '%.100s' (multi-output layers are not supported)", im->label, what,
                       (long long)json_integer_value(json_array_get(ref, 2)), name);
    *out = (int)json_integer_value(at);
    return FT_OK;
}

/* The Keras model config ({"class_name", "config"}), or a message saying why this is not
 * a TF.js layers model. */
static ft_status model_config(imp *im, json_t **out) {
    json_t *topo = json_object_get(im->model, "modelTopology");
    if (!json_is_object(topo))
        return ft_fail(FT_EFORMAT, "%s: no \"modelTopology\" object: not a TF.js layers model.json%s", im->label,
                       json_object_get(im->model, "arch") ? " (this is a finetune config.json: pass its directory)" : "");
    json_t *mc = json_object_get(topo, "model_config");
    if (!mc) mc = topo; /* modelTopology may be the model config itself */
    const char *cls = json_string_value(json_object_get(mc, "class_name"));
    if (!cls) {
        if (json_object_get(topo, "node") || json_object_get(im->model, "format"))
            return ft_fail(FT_EUNSUPPORTED, "%s: modelTopology has no Keras \"class_name\"; a TF.js *graph* model (format '%.40s') is not a "
                           "layers model and is not supported", im->label,
                           json_string_value(json_object_get(im->model, "format")) ? json_string_value(json_object_get(im->model, "format")) : "?");
        return ft_fail(FT_EFORMAT, "%s: modelTopology.model_config needs a \"class_name\"", im->label);
    }
    if (strcmp(cls, "Sequential") && strcmp(cls, "Model") && strcmp(cls, "Functional"))
        return ft_fail(FT_EUNSUPPORTED, "%s: model class '%.60s' (Model, Functional and Sequential are supported)", im->label, cls);
    *out = mc;
    return FT_OK;
}

static ft_status parse_layers(imp *im) {
    json_t *mc = NULL;
    ft_status s = model_config(im, &mc);
    if (s) return s;
    json_t *cfg = json_object_get(mc, "config");
    bool sequential = !strcmp(json_string_value(json_object_get(mc, "class_name")), "Sequential");
    json_t *layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers"); /* old Sequential: config is the list */
    size_t n = json_is_array(layers) ? json_array_size(layers) : 0;
    if (n < 1 || n > TJ_MAX_LAYERS)
        return ft_fail(FT_EFORMAT, "%s: model config needs a \"layers\" list of 1..%d layers", im->label, TJ_MAX_LAYERS);
    /* Sequential without an InputLayer: an implicit one. */
    bool implicit_input = sequential && strcmp(json_string_value(json_object_get(json_array_get(layers, 0), "class_name")) ?
                                                   json_string_value(json_object_get(json_array_get(layers, 0), "class_name")) : "", "InputLayer");
    size_t total = n + implicit_input;
    if (!(im->L = ft_calloc(total, sizeof *im->L))) return oom();
    im->n_layers = (int)total;
    json_t *index = json_object();
    if (!index) return oom();
    if (implicit_input) {
        layer *l = &im->L[0];
        l->name = "input";
        l->cls = "InputLayer";
        l->cfg = json_object_get(json_array_get(layers, 0), "config");
        json_object_set_new(index, l->name, json_integer(0));
    }
    for (size_t i = 0; i < n && !s; i++) {
        layer *l = &im->L[i + implicit_input];
        json_t *jl = json_array_get(layers, i);
        im->cur = (int)(i + implicit_input);
        l->cls = json_string_value(json_object_get(jl, "class_name"));
        l->cfg = json_object_get(jl, "config");
        l->name = json_string_value(json_object_get(jl, "name"));
        if (!l->name) l->name = json_string_value(json_object_get(l->cfg, "name"));
        if (!json_is_object(jl) || !l->cls || !l->name || !l->name[0] || !json_is_object(l->cfg)) {
            s = ft_fail(FT_EFORMAT, "%s: layers[%zu] needs \"class_name\", \"config\" (an object) and a name", im->label, i);
            break;
        }
        if (json_object_get(index, l->name)) { s = ft_fail(FT_EFORMAT, "%s: two layers are named '%.100s'", im->label, l->name); break; }
        if (json_object_set_new(index, l->name, json_integer((json_int_t)(i + implicit_input)))) s = oom();
    }
    for (size_t i = 0; i < n && !s; i++) {
        layer *l = &im->L[i + implicit_input];
        im->cur = (int)(i + implicit_input);
        if (sequential) {
            if (i + implicit_input == 0) continue;
            if (!(l->in = ft_calloc(1, sizeof *l->in))) { s = oom(); break; }
            l->in[0] = (int)(i + implicit_input) - 1;
            l->n_in = 1;
        } else {
            s = parse_inbound(im, l, json_array_get(layers, i), index);
        }
    }
    if (!s) {
        if (sequential) {
            im->input = 0;
            im->output = im->n_layers - 1;
        } else if (!(s = endpoint(im, json_object_get(cfg, "input_layers"), index, "input_layers", &im->input))) {
            s = endpoint(im, json_object_get(cfg, "output_layers"), index, "output_layers", &im->output);
        }
    }
    json_decref(index);
    return s;
}

/* ======================================================================================
 * Emitting graph nodes and parameters
 * ====================================================================================== */

/* A unique node/param-safe name: '/' -> '.', other odd characters -> '_' (names are used
 * in globs), at most TJ_MAX_NAME characters, "_2", "_3", ... when taken. Registers it. */
static ft_status unique_name(imp *im, const char *base, const char *suffix, char *out, size_t cap) {
    char b[TJ_MAX_NAME + 1];
    size_t n = 0;
    for (const char *s = base; *s && n < TJ_MAX_NAME; s++) {
        char c = *s;
        if (c == '/') c = '.';
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) c = '_';
        b[n++] = c;
    }
    b[n] = 0;
    if (!n) snprintf(b, sizeof b, "layer%d", im->cur);
    snprintf(out, cap, "%s%s", b, suffix ? suffix : "");
    for (int k = 2; json_object_get(im->used_names, out); k++) snprintf(out, cap, "%s%s_%d", b, suffix ? suffix : "", k);
    return json_object_set_new(im->used_names, out, json_true()) ? oom() : FT_OK;
}

/* Append a node. params may be NULL; attrs (may be NULL) is stolen. */
static ft_status add_node(imp *im, const char *name, const char *op, const char *const *inputs, int n_in, const char *const *params,
                          int n_par, json_t *attrs) {
    json_t *nd = json_object(), *ins = json_array();
    if (!nd || !ins) { json_decref(nd); json_decref(ins); json_decref(attrs); return oom(); }
    json_object_set_new(nd, "name", json_string(name));
    json_object_set_new(nd, "op", json_string(op));
    for (int i = 0; i < n_in; i++) json_array_append_new(ins, json_string(inputs[i]));
    json_object_set_new(nd, "inputs", ins);
    if (n_par) {
        json_t *ps = json_array();
        for (int i = 0; i < n_par; i++) json_array_append_new(ps, json_string(params[i]));
        json_object_set_new(nd, "params", ps);
    }
    if (attrs && json_object_size(attrs)) json_object_set(nd, "attrs", attrs);
    json_decref(attrs);
    json_object_set_new(nd, "source", json_string(im->L[im->cur].cls));
    return json_array_append_new(im->nodes, nd) ? oom() : FT_OK;
}

static ft_status add_fill(imp *im, const char *param, int w, fill_kind kind) {
    if (im->n_fills == im->cap_fills) {
        int cap = im->cap_fills ? 2 * im->cap_fills : 64;
        fill *f = ft_realloc(im->fills, (size_t)cap * sizeof *f);
        if (!f) return oom();
        im->fills = f;
        im->cap_fills = cap;
    }
    fill *f = &im->fills[im->n_fills];
    f->param = ft_strdup(param);
    f->w = w;
    f->kind = kind;
    if (!f->param) return oom();
    im->n_fills++;
    return FT_OK;
}

/* Declare parameter `name` of the given (graph) shape. */
static ft_status add_param(imp *im, const char *name, int ndim, const int64_t *shape, bool buffer, int w, fill_kind kind) {
    json_t *p = json_object(), *sh = json_array();
    if (!p || !sh) { json_decref(p); json_decref(sh); return oom(); }
    json_object_set_new(p, "name", json_string(name));
    for (int d = 0; d < ndim; d++) json_array_append_new(sh, json_integer(shape[d]));
    json_object_set_new(p, "shape", sh);
    if (buffer) json_object_set_new(p, "buffer", json_true());
    if (json_array_append_new(im->params, p)) return oom();
    if (w < 0) {
        int64_t numel = 1;
        for (int d = 0; d < ndim; d++) numel *= shape[d];
        im->synth_numel += numel;
    }
    return add_fill(im, name, w, kind);
}

/* The manifest weight "<layer>/<var>" (or one ending in "/<layer>/<var>", for name
 * scopes); -1 when absent. */
static int find_weight(imp *im, const char *layer_name, const char *var) {
    char want[512];
    snprintf(want, sizeof want, "%s/%s", layer_name, var);
    json_t *at = json_object_get(im->w_index, want);
    if (at) return (int)json_integer_value(at);
    size_t wl = strlen(want);
    for (int i = 0; i < im->n_w; i++) {
        const char *n = im->w[i].name;
        size_t nl = strlen(n);
        if (nl > wl && n[nl - wl - 1] == '/' && !strcmp(n + nl - wl, want)) return i;
    }
    return -1;
}

static ft_status need_weight(imp *im, const char *var, int ndim, const int64_t *keras_shape, int *out) {
    const layer *l = &im->L[im->cur];
    int w = find_weight(im, l->name, var);
    if (w < 0) return layer_fail(im, FT_EFORMAT, "weight '%.100s/%s' is not in the weightsManifest", l->name, var);
    const mweight *mw = &im->w[w];
    bool ok = mw->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = mw->shape[d] == keras_shape[d];
    if (!ok) {
        char want[96] = "", got[96] = "";
        for (int d = 0; d < ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), d ? ",%lld" : "%lld", (long long)keras_shape[d]);
        for (int d = 0; d < mw->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), d ? ",%lld" : "%lld", (long long)mw->shape[d]);
        return layer_fail(im, FT_EFORMAT, "weight '%.100s' has shape [%s] in the manifest but the layer config implies [%s]", mw->name, got, want);
    }
    if (mw->used) return layer_fail(im, FT_EFORMAT, "weight '%.100s' is used by two layers", mw->name);
    im->w[w].used = true;
    *out = w;
    return FT_OK;
}

/* ---------------- Keras config readers ---------------- */

static bool cfg_bool(json_t *cfg, const char *key, bool def) {
    json_t *v = json_object_get(cfg, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* An int or a list of n ints (kernel_size, strides, dilation_rate, pool_size). */
static ft_status cfg_ints(imp *im, json_t *cfg, const char *key, int n, int lo, int hi, int def, int *out) {
    json_t *v = json_object_get(cfg, key);
    for (int i = 0; i < n; i++) out[i] = def;
    if (!v || json_is_null(v)) {
        if (def < 0) return layer_fail(im, FT_EFORMAT, "config needs \"%s\"", key);
        return FT_OK;
    }
    if (json_int_in(v, lo, hi)) {
        for (int i = 0; i < n; i++) out[i] = (int)json_integer_value(v);
        return FT_OK;
    }
    if (!json_is_array(v) || json_array_size(v) != (size_t)n) return layer_fail(im, FT_EFORMAT, "\"%s\" must be an int or a list of %d ints", key, n);
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        if (!json_int_in(e, lo, hi)) return layer_fail(im, FT_EFORMAT, "\"%s\"[%d] must be an int in [%d, %d]", key, i, lo, hi);
        out[i] = (int)json_integer_value(e);
    }
    return FT_OK;
}

static ft_status check_channels_last(imp *im) {
    const char *df = json_string_value(json_object_get(im->L[im->cur].cfg, "data_format"));
    if (df && strcmp(df, "channels_last"))
        return layer_fail(im, FT_EUNSUPPORTED, "data_format '%.40s' (only channels_last, TF.js's default, is supported)", df);
    return FT_OK;
}

/* "same" padding per axis: out = ceil(in / s), the extra pixel goes to the end. */
static ft_status window(imp *im, const char *padding, int64_t in, int k, int s, int d, int *before, int *after, int64_t *out) {
    int64_t span = (int64_t)(k - 1) * d + 1;
    if (!strcmp(padding, "same")) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + span - in;
        if (total < 0) total = 0;
        if (total > 1 << 20) return layer_fail(im, FT_EUNSUPPORTED, "\"same\" padding of %lld pixels", (long long)total);
        *before = (int)(total / 2);
        *after = (int)(total - total / 2);
    } else if (!strcmp(padding, "valid")) {
        *before = *after = 0;
        if (in < span) return layer_fail(im, FT_ESHAPE, "window %lld is larger than the input (%lld) with \"valid\" padding", (long long)span, (long long)in);
        *out = (in - span) / s + 1;
    } else {
        return layer_fail(im, FT_EUNSUPPORTED, "padding '%.40s' (valid and same are supported)", padding);
    }
    return FT_OK;
}

/* 1 - 0.999 is 0.0010000000000000009 in binary: keep 9 significant digits for the config. */
static double round9(double v) {
    char b[32];
    snprintf(b, sizeof b, "%.9g", v);
    return strtod(b, NULL);
}

static json_t *ints2(int a, int b) { return json_pack("[i,i]", a, b); }
static json_t *ints4(int a, int b, int c, int d) { return json_pack("[i,i,i,i]", a, b, c, d); }

/* ---------------- activations ---------------- */

/* The graph op for a Keras activation name; NULL for linear; *bad on unsupported. */
static const char *activation_op(const char *act, bool *bad) {
    *bad = false;
    if (!act || !strcmp(act, "linear")) return NULL;
    static const char *const map[][2] = {{"relu", "relu"}, {"relu6", "relu6"}, {"sigmoid", "sigmoid"}, {"tanh", "tanh"},
                                         {"softmax", "softmax"}, {"swish", "silu"}, {"silu", "silu"}, {"gelu", "gelu"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(act, map[i][0])) return map[i][1];
    *bad = true;
    return NULL;
}

/* Emit activation `act` after node cur (the layer's output so far; updated). A fused
 * activation's node is "<layer>.<op>"; an activation layer's node is the layer's name
 * (own_name). is_output: a softmax there is dropped (the model returns logits). */
static ft_status emit_activation(imp *im, const char *act, char *cur, size_t cap, bool is_output, bool own_name) {
    bool bad;
    const char *op = activation_op(act, &bad);
    if (bad)
        return layer_fail(im, FT_EUNSUPPORTED, "activation '%.40s' (linear, relu, relu6, sigmoid, tanh, softmax, swish, gelu are supported)", act);
    if (!op) return FT_OK;
    layer *l = &im->L[im->cur];
    if (!strcmp(op, "softmax")) {
        if (is_output) {
            im->dropped_softmax = true;
            return FT_OK;
        }
        if (l->rank != 1) return layer_fail(im, FT_EUNSUPPORTED, "softmax over a %d-D tensor (only over the features of a [N, F] tensor)", l->rank + 1);
    }
    char name[256], suffix[16];
    snprintf(suffix, sizeof suffix, ".%s", op);
    ft_status s = unique_name(im, l->name, own_name ? NULL : suffix, name, sizeof name);
    if (s) return s;
    const char *in[1] = {cur};
    if ((s = add_node(im, name, op, in, 1, NULL, 0, NULL))) return s;
    snprintf(cur, cap, "%s", name);
    return FT_OK;
}

/* ---------------- layers ---------------- */

static int64_t numel_of(const layer *l) {
    int64_t n = 1;
    for (int d = 0; d < l->rank; d++) n *= l->shape[d];
    return n;
}

static ft_status set_out_shape(imp *im, int rank, const int64_t *shape) {
    layer *l = &im->L[im->cur];
    int64_t n = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 1) return layer_fail(im, FT_ESHAPE, "output dim %d is %lld", d, (long long)shape[d]);
        if (n > TJ_MAX_PER_EXAMPLE / shape[d]) return layer_fail(im, FT_ESHAPE, "output is too large");
        n *= shape[d];
    }
    l->rank = rank;
    memcpy(l->shape, shape, (size_t)rank * sizeof *shape);
    return FT_OK;
}

static ft_status need_rank(imp *im, const layer *x, int rank) {
    if (x->rank != rank)
        return layer_fail(im, FT_EUNSUPPORTED, "input '%.100s' has %d dims (batch included); this layer needs %d", x->name, x->rank + 1, rank + 1);
    return FT_OK;
}

static ft_status conv_layer(imp *im, bool depthwise, bool is_output) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    json_t *cfg = l->cfg;
    ft_status s;
    if ((s = need_rank(im, x, 3)) || (s = check_channels_last(im))) return s;
    int k[2], st[2], dil[2];
    if ((s = cfg_ints(im, cfg, "kernel_size", 2, 1, 1 << 16, -1, k)) || (s = cfg_ints(im, cfg, "strides", 2, 1, 1 << 16, 1, st)) ||
        (s = cfg_ints(im, cfg, "dilation_rate", 2, 1, 1 << 16, 1, dil)))
        return s;
    if ((st[0] > 1 || st[1] > 1) && (dil[0] > 1 || dil[1] > 1))
        return layer_fail(im, FT_EUNSUPPORTED, "strides and dilation_rate both > 1 (Keras does not allow it either)");
    const char *padding = json_string_value(json_object_get(cfg, "padding"));
    int64_t H = x->shape[0], W = x->shape[1], C = x->shape[2], out[3];
    int pt, pb, pl, pr;
    if ((s = window(im, padding ? padding : "valid", H, k[0], st[0], dil[0], &pt, &pb, &out[0])) ||
        (s = window(im, padding ? padding : "valid", W, k[1], st[1], dil[1], &pl, &pr, &out[1])))
        return s;
    int64_t O, groups = 1;
    int w = -1, b = -1;
    if (depthwise) {
        json_t *dm = json_object_get(cfg, "depth_multiplier");
        if (dm && !json_int_in(dm, 1, 1 << 16)) return layer_fail(im, FT_EFORMAT, "\"depth_multiplier\" must be a positive int");
        int64_t mult = dm ? json_integer_value(dm) : 1;
        O = C * mult;
        groups = C;
        int64_t ks[4] = {k[0], k[1], C, mult};
        if ((s = need_weight(im, "depthwise_kernel", 4, ks, &w))) return s;
    } else {
        json_t *f = json_object_get(cfg, "filters"), *g = json_object_get(cfg, "groups");
        if (!json_int_in(f, 1, 1 << 24)) return layer_fail(im, FT_EFORMAT, "\"filters\" must be a positive int");
        if (g && !json_int_in(g, 1, 1 << 24)) return layer_fail(im, FT_EFORMAT, "\"groups\" must be a positive int");
        O = json_integer_value(f);
        groups = g ? json_integer_value(g) : 1;
        if (C % groups || O % groups) return layer_fail(im, FT_ESHAPE, "groups %lld does not divide %lld input and %lld output channels",
                                                        (long long)groups, (long long)C, (long long)O);
        int64_t ks[4] = {k[0], k[1], C / groups, O};
        if ((s = need_weight(im, "kernel", 4, ks, &w))) return s;
    }
    if (cfg_bool(cfg, "use_bias", true)) {
        int64_t bs[1] = {O};
        if ((s = need_weight(im, "bias", 1, bs, &b))) return s;
    }
    char wn[256], bn[256], name[256];
    if ((s = unique_name(im, l->name, ".weight", wn, sizeof wn))) return s;
    int64_t ws[4] = {O, depthwise ? 1 : C / groups, k[0], k[1]};
    if ((s = add_param(im, wn, 4, ws, false, w, depthwise ? FILL_DEPTHWISE : FILL_HWIO))) return s;
    const char *par[2] = {wn, bn};
    if (b >= 0) {
        if ((s = unique_name(im, l->name, ".bias", bn, sizeof bn))) return s;
        int64_t bs[1] = {O};
        if ((s = add_param(im, bn, 1, bs, false, b, FILL_COPY))) return s;
    }
    if ((s = unique_name(im, l->name, NULL, name, sizeof name))) return s;
    json_t *attrs = json_object();
    if (!attrs) return oom();
    if (st[0] != 1 || st[1] != 1) json_object_set_new(attrs, "stride", ints2(st[0], st[1]));
    if (pt || pl || pb || pr) json_object_set_new(attrs, "pad", ints4(pt, pl, pb, pr));
    if (dil[0] != 1 || dil[1] != 1) json_object_set_new(attrs, "dilation", ints2(dil[0], dil[1]));
    if (groups != 1) json_object_set_new(attrs, "groups", json_integer(groups));
    const char *in[1] = {x->node};
    if ((s = add_node(im, name, "conv2d", in, 1, par, b >= 0 ? 2 : 1, attrs))) return s;
    out[2] = O;
    if ((s = set_out_shape(im, 3, out))) return s;
    char cur[256];
    snprintf(cur, sizeof cur, "%s", name);
    if ((s = emit_activation(im, json_string_value(json_object_get(cfg, "activation")), cur, sizeof cur, is_output, false))) return s;
    return (l->node = ft_strdup(cur)) ? FT_OK : oom();
}

static ft_status dense_layer(imp *im, bool is_output) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    json_t *cfg = l->cfg, *u = json_object_get(cfg, "units");
    ft_status s;
    if (x->rank != 1 && x->rank != 2)
        return layer_fail(im, FT_EUNSUPPORTED, "input '%.100s' has %d dims (batch included); Dense on 2-D and 3-D inputs is supported", x->name, x->rank + 1);
    if (!json_int_in(u, 1, 1 << 24)) return layer_fail(im, FT_EFORMAT, "\"units\" must be a positive int");
    int64_t U = json_integer_value(u), F = x->shape[x->rank - 1];
    int w = -1, b = -1;
    int64_t ks[2] = {F, U}, bs[1] = {U};
    if ((s = need_weight(im, "kernel", 2, ks, &w))) return s;
    if (cfg_bool(cfg, "use_bias", true) && (s = need_weight(im, "bias", 1, bs, &b))) return s;
    char wn[256], bn[256], name[256];
    if ((s = unique_name(im, l->name, ".weight", wn, sizeof wn))) return s;
    int64_t ws[2] = {U, F};
    if ((s = add_param(im, wn, 2, ws, false, w, FILL_DENSE))) return s;
    if (b >= 0) {
        if ((s = unique_name(im, l->name, ".bias", bn, sizeof bn))) return s;
        if ((s = add_param(im, bn, 1, bs, false, b, FILL_COPY))) return s;
    }
    if ((s = unique_name(im, l->name, NULL, name, sizeof name))) return s;
    const char *in[1] = {x->node}, *par[2] = {wn, bn};
    if ((s = add_node(im, name, "linear", in, 1, par, b >= 0 ? 2 : 1, NULL))) return s;
    if (!(l->lin_node = ft_strdup(name)) || !(l->w_param = ft_strdup(wn)) || (b >= 0 && !(l->b_param = ft_strdup(bn)))) return oom();
    int64_t out[2] = {x->shape[0], U};
    if ((s = set_out_shape(im, x->rank, x->rank == 1 ? &U : out))) return s;
    char cur[256];
    snprintf(cur, sizeof cur, "%s", name);
    if ((s = emit_activation(im, json_string_value(json_object_get(cfg, "activation")), cur, sizeof cur, is_output, false))) return s;
    return (l->node = ft_strdup(cur)) ? FT_OK : oom();
}

static ft_status batch_norm_layer(imp *im) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    json_t *cfg = l->cfg, *ax = json_object_get(cfg, "axis");
    if (json_is_array(ax) && json_array_size(ax) == 1) ax = json_array_get(ax, 0);
    int64_t axis = ax ? (json_is_integer(ax) ? json_integer_value(ax) : 99) : -1;
    if (axis < 0) axis += x->rank + 1;
    if (x->rank != 3 && x->rank != 1)
        return layer_fail(im, FT_EUNSUPPORTED, "input '%.100s' has %d dims (batch included); 4-D and 2-D are supported", x->name, x->rank + 1);
    if (axis != x->rank) return layer_fail(im, FT_EUNSUPPORTED, "axis %s: only the channel (last) axis is supported", ax ? "other than -1" : "?");
    json_t *eps = json_object_get(cfg, "epsilon"), *mom = json_object_get(cfg, "momentum");
    double e = eps ? json_number_value(eps) : 1e-3, m = mom ? json_number_value(mom) : 0.99;
    if ((eps && !json_is_number(eps)) || !(e >= 0 && e <= 1)) return layer_fail(im, FT_EFORMAT, "\"epsilon\" must be a number in [0, 1]");
    if ((mom && !json_is_number(mom)) || !(m >= 0 && m <= 1)) return layer_fail(im, FT_EFORMAT, "\"momentum\" must be a number in [0, 1]");
    int64_t C = x->shape[x->rank - 1], cs[1] = {C};
    bool scale = cfg_bool(cfg, "scale", true), center = cfg_bool(cfg, "center", true);
    int wg = -1, wb = -1, wm = -1, wv = -1;
    ft_status s;
    if ((scale && (s = need_weight(im, "gamma", 1, cs, &wg))) || (center && (s = need_weight(im, "beta", 1, cs, &wb))) ||
        (s = need_weight(im, "moving_mean", 1, cs, &wm)) || (s = need_weight(im, "moving_variance", 1, cs, &wv)))
        return s;
    char g[256], b[256], mn[256], vr[256], name[256];
    /* Keras scale=False / center=False: gamma 1 / beta 0, fixed: buffers, never trained. */
    if ((s = unique_name(im, l->name, ".weight", g, sizeof g)) || (s = add_param(im, g, 1, cs, !scale, wg, scale ? FILL_COPY : FILL_ONES)) ||
        (s = unique_name(im, l->name, ".bias", b, sizeof b)) || (s = add_param(im, b, 1, cs, !center, wb, center ? FILL_COPY : FILL_ZEROS)) ||
        (s = unique_name(im, l->name, ".running_mean", mn, sizeof mn)) || (s = add_param(im, mn, 1, cs, true, wm, FILL_COPY)) ||
        (s = unique_name(im, l->name, ".running_var", vr, sizeof vr)) || (s = add_param(im, vr, 1, cs, true, wv, FILL_COPY)) ||
        (s = unique_name(im, l->name, NULL, name, sizeof name)))
        return s;
    /* Keras: running = m * running + (1 - m) * batch; torch's momentum is 1 - m. */
    json_t *attrs = json_pack("{s:f, s:f}", "eps", round9(e), "momentum", round9(1.0 - m));
    const char *in[1] = {x->node}, *par[4] = {g, b, mn, vr};
    if ((s = add_node(im, name, "batch_norm", in, 1, par, 4, attrs))) return s;
    if ((s = set_out_shape(im, x->rank, x->shape))) return s;
    return (l->node = ft_strdup(name)) ? FT_OK : oom();
}

static ft_status pool_layer(imp *im, bool avg) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    json_t *cfg = l->cfg;
    ft_status s;
    if ((s = need_rank(im, x, 3)) || (s = check_channels_last(im))) return s;
    int k[2], st[2];
    if ((s = cfg_ints(im, cfg, "pool_size", 2, 1, 1 << 16, 2, k))) return s;
    if ((s = cfg_ints(im, cfg, "strides", 2, 1, 1 << 16, 0, st))) return s;
    if (!st[0]) { st[0] = k[0]; st[1] = k[1]; } /* strides None = pool_size */
    const char *padding = json_string_value(json_object_get(cfg, "padding"));
    int64_t out[3] = {0, 0, x->shape[2]};
    int pt, pb, pl, pr;
    if ((s = window(im, padding ? padding : "valid", x->shape[0], k[0], st[0], 1, &pt, &pb, &out[0])) ||
        (s = window(im, padding ? padding : "valid", x->shape[1], k[1], st[1], 1, &pl, &pr, &out[1])))
        return s;
    char name[256];
    if ((s = unique_name(im, l->name, NULL, name, sizeof name))) return s;
    if (avg && out[0] == 1 && out[1] == 1 && k[0] == x->shape[0] && k[1] == x->shape[1] && !(pt || pl || pb || pr)) {
        /* An average over the whole map (Keras MobileNetV2's 7x7 pool before Flatten) is a
         * global average pool: the same numbers, and the model then runs at any input size
         * (train --image-size). */
        const char *in1[1] = {x->node};
        if ((s = add_node(im, name, "global_avg_pool", in1, 1, NULL, 0, json_pack("{s:b}", "keepdim", 1)))) return s;
        if ((s = set_out_shape(im, 3, out))) return s;
        return (l->node = ft_strdup(name)) ? FT_OK : oom();
    }
    json_t *attrs = json_pack("{s:o, s:o}", "kernel", ints2(k[0], k[1]), "stride", ints2(st[0], st[1]));
    if (!attrs) return oom();
    if (pt || pl || pb || pr) json_object_set_new(attrs, "pad", ints4(pt, pl, pb, pr));
    if (avg) json_object_set_new(attrs, "count_include_pad", json_false()); /* TF averages over the valid pixels */
    const char *in[1] = {x->node};
    if ((s = add_node(im, name, avg ? "avg_pool2d" : "max_pool2d", in, 1, NULL, 0, attrs))) return s;
    if ((s = set_out_shape(im, 3, out))) return s;
    return (l->node = ft_strdup(name)) ? FT_OK : oom();
}

static ft_status global_pool_layer(imp *im, bool avg) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    ft_status s;
    if ((s = need_rank(im, x, 3)) || (s = check_channels_last(im))) return s;
    bool keep = cfg_bool(l->cfg, "keepdims", false);
    char name[256], pn[256];
    const char *in[1] = {x->node};
    if (avg) {
        if ((s = unique_name(im, l->name, NULL, name, sizeof name))) return s;
        if ((s = add_node(im, name, "global_avg_pool", in, 1, NULL, 0, keep ? json_pack("{s:b}", "keepdim", 1) : NULL))) return s;
    } else { /* a max pool over the whole map, then flatten */
        if ((s = unique_name(im, l->name, keep ? NULL : ".pool", pn, sizeof pn))) return s;
        json_t *attrs = json_pack("{s:o}", "kernel", ints2((int)x->shape[0], (int)x->shape[1]));
        if ((s = add_node(im, pn, "max_pool2d", in, 1, NULL, 0, attrs))) return s;
        snprintf(name, sizeof name, "%s", pn);
        if (!keep) {
            in[0] = pn;
            if ((s = unique_name(im, l->name, NULL, name, sizeof name)) || (s = add_node(im, name, "flatten", in, 1, NULL, 0, NULL))) return s;
        }
    }
    int64_t o3[3] = {1, 1, x->shape[2]};
    if ((s = keep ? set_out_shape(im, 3, o3) : set_out_shape(im, 1, &x->shape[2]))) return s;
    return (l->node = ft_strdup(name)) ? FT_OK : oom();
}

static ft_status zero_pad_layer(imp *im) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    ft_status s;
    if ((s = need_rank(im, x, 3)) || (s = check_channels_last(im))) return s;
    json_t *p = json_object_get(l->cfg, "padding");
    int t, b, lf, r;
    if (!p) t = b = lf = r = 1;
    else if (json_int_in(p, 0, 1 << 20)) t = b = lf = r = (int)json_integer_value(p);
    else if (json_is_array(p) && json_array_size(p) == 2 && json_int_in(json_array_get(p, 0), 0, 1 << 20) && json_int_in(json_array_get(p, 1), 0, 1 << 20)) {
        t = b = (int)json_integer_value(json_array_get(p, 0));
        lf = r = (int)json_integer_value(json_array_get(p, 1));
    } else {
        json_t *ph = json_array_get(p, 0), *pw = json_array_get(p, 1);
        if (!json_is_array(p) || json_array_size(p) != 2 || json_array_size(ph) != 2 || json_array_size(pw) != 2 ||
            !json_int_in(json_array_get(ph, 0), 0, 1 << 20) || !json_int_in(json_array_get(ph, 1), 0, 1 << 20) ||
            !json_int_in(json_array_get(pw, 0), 0, 1 << 20) || !json_int_in(json_array_get(pw, 1), 0, 1 << 20))
            return layer_fail(im, FT_EFORMAT, "\"padding\" must be an int, [h, w] or [[top, bottom], [left, right]]");
        t = (int)json_integer_value(json_array_get(ph, 0));
        b = (int)json_integer_value(json_array_get(ph, 1));
        lf = (int)json_integer_value(json_array_get(pw, 0));
        r = (int)json_integer_value(json_array_get(pw, 1));
    }
    char name[256];
    if ((s = unique_name(im, l->name, NULL, name, sizeof name))) return s;
    const char *in[1] = {x->node};
    if ((s = add_node(im, name, "pad", in, 1, NULL, 0, json_pack("{s:o}", "pad", ints4(t, lf, b, r))))) return s;
    int64_t out[3] = {x->shape[0] + t + b, x->shape[1] + lf + r, x->shape[2]};
    if ((s = set_out_shape(im, 3, out))) return s;
    return (l->node = ft_strdup(name)) ? FT_OK : oom();
}

/* NCHW and NHWC hold an image in the same order when C == 1 or H*W == 1. */
static bool needs_permute(const layer *x) { return x->rank == 3 && x->shape[2] > 1 && x->shape[0] * x->shape[1] > 1; }

/* *cur := a node holding x in Keras (NHWC) element order. */
static ft_status to_keras_order(imp *im, const layer *x, char *cur, size_t cap) {
    snprintf(cur, cap, "%s", x->node);
    if (!needs_permute(x)) return FT_OK;
    char name[256];
    ft_status s = unique_name(im, im->L[im->cur].name, ".nhwc", name, sizeof name);
    const char *in[1] = {x->node};
    if (!s) s = add_node(im, name, "permute", in, 1, NULL, 0, json_pack("{s:[i,i,i,i]}", "dims", 0, 2, 3, 1));
    if (!s) snprintf(cur, cap, "%s", name);
    return s;
}

static ft_status flatten_layer(imp *im) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    ft_status s = check_channels_last(im);
    if (s) return s;
    int64_t n = numel_of(x);
    char cur[256], name[256];
    if ((s = to_keras_order(im, x, cur, sizeof cur))) return s;
    if ((s = unique_name(im, l->name, NULL, name, sizeof name))) return s;
    const char *in[1] = {cur};
    if ((s = add_node(im, name, x->rank > 1 ? "flatten" : "identity", in, 1, NULL, 0, NULL))) return s;
    if ((s = set_out_shape(im, 1, &n))) return s;
    return (l->node = ft_strdup(name)) ? FT_OK : oom();
}

static ft_status reshape_layer(imp *im) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    json_t *ts = json_object_get(l->cfg, "target_shape");
    size_t nd = json_is_array(ts) ? json_array_size(ts) : 0;
    if (nd < 1 || nd > 3) return layer_fail(im, FT_EUNSUPPORTED, "\"target_shape\" must list 1 to 3 dims");
    int64_t t[3], known = 1, n = numel_of(x);
    int infer = -1;
    for (size_t i = 0; i < nd; i++) {
        json_t *v = json_array_get(ts, i);
        if (json_int_in(v, -1, -1) && infer < 0) { infer = (int)i; t[i] = -1; continue; }
        if (!json_int_in(v, 1, (int64_t)1 << 31)) return layer_fail(im, FT_EFORMAT, "target_shape[%zu] must be a positive int (or one -1)", i);
        t[i] = json_integer_value(v);
        if (known > TJ_MAX_PER_EXAMPLE / t[i]) return layer_fail(im, FT_ESHAPE, "target_shape is too large");
        known *= t[i];
    }
    if (infer >= 0) t[infer] = n % known ? -1 : n / known;
    int64_t prod = 1;
    for (size_t i = 0; i < nd; i++) prod *= t[i] < 0 ? 0 : t[i];
    if (prod != n) return layer_fail(im, FT_ESHAPE, "reshape of %lld values to target_shape with %lld", (long long)n, (long long)prod);
    char cur[256], name[256];
    ft_status s = to_keras_order(im, x, cur, sizeof cur);
    if (s) return s;
    l->rank = (int)nd;
    memcpy(l->shape, t, nd * sizeof *t);
    bool to_image = nd == 3 && needs_permute(l);
    if ((s = unique_name(im, l->name, to_image ? ".reshape" : NULL, name, sizeof name))) return s;
    json_t *shape = json_array();
    for (size_t i = 0; i < nd; i++) json_array_append_new(shape, json_integer(nd == 3 && !to_image ? t[(i + 2) % 3] : t[i]));
    const char *in[1] = {cur};
    if ((s = add_node(im, name, "reshape", in, 1, NULL, 0, json_pack("{s:o}", "shape", shape)))) return s;
    if (to_image) { /* [N, H, W, C] -> [N, C, H, W] */
        char pn[256];
        in[0] = name;
        if ((s = unique_name(im, l->name, NULL, pn, sizeof pn)) ||
            (s = add_node(im, pn, "permute", in, 1, NULL, 0, json_pack("{s:[i,i,i,i]}", "dims", 0, 3, 1, 2))))
            return s;
        snprintf(name, sizeof name, "%s", pn);
    }
    if ((s = set_out_shape(im, (int)nd, t))) return s;
    return (l->node = ft_strdup(name)) ? FT_OK : oom();
}

static ft_status merge_layer(imp *im, const char *op) {
    layer *l = &im->L[im->cur];
    const layer *x0 = &im->L[l->in[0]];
    if (l->n_in < 2) return layer_fail(im, FT_EFORMAT, "needs at least 2 inputs, has %d", l->n_in);
    if (!strcmp(op, "sub") && l->n_in != 2) return layer_fail(im, FT_EFORMAT, "needs exactly 2 inputs, has %d", l->n_in);
    for (int i = 1; i < l->n_in; i++) {
        const layer *xi = &im->L[l->in[i]];
        bool same = xi->rank == x0->rank;
        for (int d = 0; same && d < x0->rank; d++) same = xi->shape[d] == x0->shape[d];
        if (!same) return layer_fail(im, FT_EUNSUPPORTED, "inputs '%.100s' and '%.100s' differ in shape (broadcasting is not supported)", x0->name, xi->name);
    }
    char prev[256], name[256];
    snprintf(prev, sizeof prev, "%s", x0->node);
    ft_status s = FT_OK;
    for (int i = 1; i < l->n_in && !s; i++) {
        if ((s = unique_name(im, l->name, i + 1 < l->n_in ? ".partial" : NULL, name, sizeof name))) break;
        const char *in[2] = {prev, im->L[l->in[i]].node};
        s = add_node(im, name, op, in, 2, NULL, 0, NULL);
        snprintf(prev, sizeof prev, "%s", name);
    }
    if (!s) s = set_out_shape(im, x0->rank, x0->shape);
    if (!s) s = (l->node = ft_strdup(prev)) ? FT_OK : oom();
    return s;
}

static ft_status concat_layer(imp *im) {
    layer *l = &im->L[im->cur];
    const layer *x0 = &im->L[l->in[0]];
    json_t *ax = json_object_get(l->cfg, "axis");
    int64_t axis = ax ? (json_is_integer(ax) ? json_integer_value(ax) : 99) : -1;
    if (axis < 0) axis += x0->rank + 1;
    if (axis < 1 || axis > x0->rank) return layer_fail(im, FT_EFORMAT, "\"axis\" must be a non-batch axis of the %d-D inputs", x0->rank + 1);
    int kd = (int)axis - 1; /* in the Keras shape without batch */
    int64_t out[FT_MAX_DIMS];
    memcpy(out, x0->shape, sizeof out);
    out[kd] = 0;
    for (int i = 0; i < l->n_in; i++) {
        const layer *xi = &im->L[l->in[i]];
        bool ok = xi->rank == x0->rank;
        for (int d = 0; ok && d < x0->rank; d++) ok = d == kd || xi->shape[d] == x0->shape[d];
        if (!ok) return layer_fail(im, FT_ESHAPE, "input '%.100s' does not fit the others along axis %lld", xi->name, (long long)axis);
        out[kd] += xi->shape[kd];
    }
    /* Keras [N, H, W, C] axes 1, 2, 3 are graph dims 2, 3, 1. */
    int dim = x0->rank == 3 ? (kd == 2 ? 1 : kd + 2) : (int)axis;
    char name[256];
    ft_status s = unique_name(im, l->name, NULL, name, sizeof name);
    if (s) return s;
    const char **in = ft_calloc((size_t)l->n_in, sizeof *in);
    if (!in) return oom();
    for (int i = 0; i < l->n_in; i++) in[i] = im->L[l->in[i]].node;
    s = add_node(im, name, "concat", in, l->n_in, NULL, 0, json_pack("{s:i}", "dim", dim));
    ft_free(in);
    if (!s) s = set_out_shape(im, x0->rank, out);
    if (!s) s = (l->node = ft_strdup(name)) ? FT_OK : oom();
    return s;
}

/* A layer that only applies an activation (Activation, ReLU, Softmax) or passes through. */
static ft_status unary_layer(imp *im, const char *act, bool is_output) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    ft_status s = set_out_shape(im, x->rank, x->shape);
    if (s) return s;
    char cur[256];
    snprintf(cur, sizeof cur, "%s", x->node);
    bool bad;
    if (!activation_op(act, &bad) && !bad) { /* linear: an identity node keeps the layer's name */
        char name[256];
        const char *in[1] = {x->node};
        if ((s = unique_name(im, l->name, NULL, name, sizeof name)) || (s = add_node(im, name, "identity", in, 1, NULL, 0, NULL))) return s;
        snprintf(cur, sizeof cur, "%s", name);
    } else if ((s = emit_activation(im, act, cur, sizeof cur, is_output, true))) {
        return s;
    }
    return (l->node = ft_strdup(cur)) ? FT_OK : oom();
}

static ft_status relu_layer(imp *im, bool is_output) {
    json_t *cfg = im->L[im->cur].cfg, *mv = json_object_get(cfg, "max_value");
    json_t *ns = json_object_get(cfg, "negative_slope"), *th = json_object_get(cfg, "threshold");
    if ((ns && !json_is_null(ns) && json_number_value(ns) != 0) || (th && !json_is_null(th) && json_number_value(th) != 0))
        return layer_fail(im, FT_EUNSUPPORTED, "negative_slope or threshold other than 0");
    if (!mv || json_is_null(mv)) return unary_layer(im, "relu", is_output);
    if (json_is_number(mv) && json_number_value(mv) == 6) return unary_layer(im, "relu6", is_output);
    return layer_fail(im, FT_EUNSUPPORTED, "max_value %g (none and 6 are supported)", json_number_value(mv));
}

static ft_status dropout_layer(imp *im) {
    layer *l = &im->L[im->cur];
    const layer *x = &im->L[l->in[0]];
    json_t *r = json_object_get(l->cfg, "rate");
    double p = r ? json_number_value(r) : 0;
    if ((r && !json_is_number(r)) || !(p >= 0 && p < 1)) return layer_fail(im, FT_EFORMAT, "\"rate\" must be a number in [0, 1)");
    if (p > 0.999) p = 0.999;
    char name[256];
    ft_status s = unique_name(im, l->name, NULL, name, sizeof name);
    const char *in[1] = {x->node};
    if (!s) s = add_node(im, name, "dropout", in, 1, NULL, 0, json_pack("{s:f}", "p", round9(p)));
    if (!s) s = set_out_shape(im, x->rank, x->shape);
    if (!s) s = (l->node = ft_strdup(name)) ? FT_OK : oom();
    return s;
}

static ft_status input_layer(imp *im) {
    layer *l = &im->L[im->cur];
    json_t *cfg = l->cfg, *bs = json_object_get(cfg, "batch_input_shape");
    if (!bs) bs = json_object_get(cfg, "batch_shape"); /* Keras 3 */
    size_t nd = json_is_array(bs) ? json_array_size(bs) : 0;
    if (nd < 2 || nd > 4)
        return layer_fail(im, nd ? FT_EUNSUPPORTED : FT_EFORMAT, "needs \"batch_input_shape\" [null, ...] with 1 to 3 dims after the batch");
    const char *dt = json_string_value(json_object_get(cfg, "dtype"));
    if (dt && strcmp(dt, "float32")) return layer_fail(im, FT_EUNSUPPORTED, "input dtype '%.40s' (float32 is supported)", dt);
    int64_t shape[3];
    for (size_t d = 1; d < nd; d++) {
        json_t *v = json_array_get(bs, d);
        if (!json_int_in(v, 1, (int64_t)1 << 30))
            return layer_fail(im, FT_EUNSUPPORTED, "batch_input_shape[%zu] is %s: the graph needs a fixed input size", d, json_is_null(v) ? "null" : "not a positive int");
        shape[d - 1] = json_integer_value(v);
    }
    ft_status s = set_out_shape(im, (int)nd - 1, shape);
    if (s) return s;
    char name[256];
    if ((s = unique_name(im, l->name, NULL, name, sizeof name))) return s;
    if (!(l->node = ft_strdup(name))) return oom();
    im->input_node = l->node;
    return FT_OK;
}

static ft_status convert_layer(imp *im, int i) {
    im->cur = i;
    layer *l = &im->L[i];
    const char *c = l->cls;
    bool is_output = i == im->output;
    if (!strcmp(c, "InputLayer")) {
        if (i != im->input) return layer_fail(im, FT_EUNSUPPORTED, "a second input (one input is supported)");
        return input_layer(im);
    }
    if (l->n_in < 1) return layer_fail(im, FT_EFORMAT, "has no input (no inbound_nodes)");
    for (int k = 0; k < l->n_in; k++)
        if (!im->L[l->in[k]].node) return layer_fail(im, FT_EFORMAT, "input '%.100s' is not computed before it (a cycle?)", im->L[l->in[k]].name);
    bool merge = !strcmp(c, "Add") || !strcmp(c, "Multiply") || !strcmp(c, "Subtract") || !strcmp(c, "Concatenate");
    if (!merge && l->n_in != 1) return layer_fail(im, FT_EFORMAT, "takes one input, has %d", l->n_in);
    if (!strcmp(c, "Conv2D")) return conv_layer(im, false, is_output);
    if (!strcmp(c, "DepthwiseConv2D")) return conv_layer(im, true, is_output);
    if (!strcmp(c, "Dense")) return dense_layer(im, is_output);
    if (!strcmp(c, "BatchNormalization")) return batch_norm_layer(im);
    if (!strcmp(c, "ReLU")) return relu_layer(im, is_output);
    if (!strcmp(c, "Activation")) {
        const char *a = json_string_value(json_object_get(l->cfg, "activation"));
        if (!a) return layer_fail(im, FT_EFORMAT, "needs an \"activation\" name");
        return unary_layer(im, a, is_output);
    }
    if (!strcmp(c, "Softmax")) {
        json_t *ax = json_object_get(l->cfg, "axis");
        if (ax && !json_int_in(ax, -1, -1) && !(json_is_integer(ax) && json_integer_value(ax) == im->L[l->in[0]].rank))
            return layer_fail(im, FT_EUNSUPPORTED, "softmax over an axis other than the last");
        return unary_layer(im, "softmax", is_output);
    }
    if (!strcmp(c, "Add")) return merge_layer(im, "add");
    if (!strcmp(c, "Multiply")) return merge_layer(im, "mul");
    if (!strcmp(c, "Subtract")) return merge_layer(im, "sub");
    if (!strcmp(c, "Concatenate")) return concat_layer(im);
    if (!strcmp(c, "ZeroPadding2D")) return zero_pad_layer(im);
    if (!strcmp(c, "MaxPooling2D")) return pool_layer(im, false);
    if (!strcmp(c, "AveragePooling2D")) return pool_layer(im, true);
    if (!strcmp(c, "GlobalAveragePooling2D")) return global_pool_layer(im, true);
    if (!strcmp(c, "GlobalMaxPooling2D")) return global_pool_layer(im, false);
    if (!strcmp(c, "Flatten")) return flatten_layer(im);
    if (!strcmp(c, "Reshape")) return reshape_layer(im);
    if (!strcmp(c, "Dropout")) return dropout_layer(im);
    return layer_fail(im, FT_EUNSUPPORTED,
                      "unsupported layer type (supported: InputLayer, Conv2D, DepthwiseConv2D, Dense, BatchNormalization, ReLU, Activation, "
                      "Softmax, Add, Multiply, Subtract, Concatenate, ZeroPadding2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, "
                      "GlobalMaxPooling2D, Flatten, Reshape, Dropout)");
}

/* Mark what the output depends on, then convert in list order as inputs become ready
 * (Keras lists layers topologically; the passes only matter for unusual files). */
static ft_status convert_layers(imp *im) {
    int *stack = ft_malloc((size_t)im->n_layers * sizeof *stack), top = 0;
    if (!stack) return oom();
    im->L[im->output].needed = true;
    stack[top++] = im->output;
    while (top) {
        layer *l = &im->L[stack[--top]];
        for (int k = 0; k < l->n_in; k++)
            if (!im->L[l->in[k]].needed) {
                im->L[l->in[k]].needed = true;
                stack[top++] = l->in[k];
            }
    }
    ft_free(stack);
    if (!im->L[im->input].needed)
        return ft_fail(FT_EFORMAT, "%s: the output layer '%.100s' does not depend on the input layer '%.100s'", im->label, im->L[im->output].name,
                       im->L[im->input].name);
    for (int i = 0; i < im->n_layers; i++) {
        if (im->L[i].needed && im->L[i].n_in == 0 && i != im->input) {
            im->cur = i;
            if (!strcmp(im->L[i].cls, "InputLayer")) return layer_fail(im, FT_EUNSUPPORTED, "a second input (one input is supported)");
            return layer_fail(im, FT_EFORMAT, "has no input (no inbound_nodes)");
        }
    }
    ft_status s = convert_layer(im, im->input);
    if (s) return s;
    im->L[im->input].done = true;
    for (bool progress = true; progress && !im->L[im->output].done;) {
        progress = false;
        for (int i = 0; i < im->n_layers; i++) {
            layer *l = &im->L[i];
            if (!l->needed || l->done) continue;
            bool ready = true;
            for (int k = 0; k < l->n_in && ready; k++) ready = im->L[l->in[k]].done;
            if (!ready) continue;
            if ((s = convert_layer(im, i))) return s;
            l->done = progress = true;
        }
    }
    if (!im->L[im->output].done) return ft_fail(FT_EFORMAT, "%s: the layers form a cycle; the output cannot be computed", im->label);
    return FT_OK;
}

/* ======================================================================================
 * Config, parameters, model
 * ====================================================================================== */

static json_t *preprocess(imp *im, const layer *in, int n_classes, ft_status *st) {
    json_t *pre = json_object();
    *st = FT_OK;
    if (!pre) return NULL;
    if (in->rank == 3 && (in->shape[2] == 1 || in->shape[2] == 3)) {
        json_t *m = json_array(), *s = json_array();
        for (int c = 0; c < in->shape[2]; c++) {
            json_array_append_new(m, json_real(0.0));
            json_array_append_new(s, json_real(1.0));
        }
        json_object_set_new(pre, "mean", m);
        json_object_set_new(pre, "std", s);
        json_object_set_new(pre, "size", json_pack("[I,I]", (json_int_t)in->shape[0], (json_int_t)in->shape[1]));
        json_object_set_new(pre, "resize", json_pack("[I,I]", (json_int_t)in->shape[0], (json_int_t)in->shape[1]));
        json_object_set_new(pre, "interpolation", json_string("bilinear"));
        json_object_set_new(pre, "channels", json_string(in->shape[2] == 3 ? "RGB" : "L"));
        json_object_set_new(pre, "note", json_string("TF.js model: the normalization it was trained with is not recorded in model.json; "
                                                     "mean 0 / std 1 passes [0,1] pixels through"));
    }
    /* userDefinedMetadata (standard model.json key): "preprocess" entries override these,
     * "labels" become the class names (scripts/fetch-nsfwjs.sh writes both). */
    json_t *udm = json_object_get(im->model, "userDefinedMetadata");
    json_t *up = json_object_get(udm, "preprocess"), *labels = json_object_get(udm, "labels");
    if (json_is_object(up)) {
        const char *k;
        json_t *v;
        json_object_foreach(up, k, v) if (strcmp(k, "labels")) json_object_set(pre, k, v);
        if (json_object_get(up, "mean") || json_object_get(up, "std")) json_object_del(pre, "note");
    }
    if (labels) {
        bool ok = json_is_array(labels) && json_array_size(labels) == (size_t)n_classes;
        for (size_t i = 0; ok && i < json_array_size(labels); i++) ok = json_is_string(json_array_get(labels, i));
        if (!ok) {
            *st = ft_fail(FT_EFORMAT, "%s: userDefinedMetadata.labels must be a list of %d strings (one per output class)", im->label, n_classes);
            json_decref(pre);
            return NULL;
        }
        json_object_set(pre, "labels", labels);
    }
    return pre;
}

static ft_status fill_params(imp *im, ft_model *m) {
    for (int i = 0; i < im->n_fills; i++) {
        const fill *f = &im->fills[i];
        int pi = ft_params_find(m->params, f->param);
        if (pi < 0) return ft_fail(FT_EINVAL, "internal: parameter '%s' missing", f->param);
        const ft_param_info *p = &m->params->p[pi];
        float *dst = ft_params_value(m->params, pi);
        if (f->kind == FILL_ONES || f->kind == FILL_ZEROS) {
            for (int64_t k = 0; k < p->numel; k++) dst[k] = f->kind == FILL_ONES ? 1.0f : 0.0f;
            continue;
        }
        const mweight *w = &im->w[f->w];
        if (w->numel != p->numel) return ft_fail(FT_EINVAL, "internal: parameter '%s' size", f->param);
        float *tmp = ft_malloc((size_t)(w->numel ? w->numel : 1) * sizeof(float));
        if (!tmp) return oom();
        dequantize(w, tmp);
        const int64_t *s = w->shape;
        switch (f->kind) {
        case FILL_HWIO: { /* [kh, kw, I, O] -> [O, I, kh, kw] */
            int64_t kh = s[0], kw = s[1], I = s[2], O = s[3];
            for (int64_t o = 0; o < O; o++)
                for (int64_t c = 0; c < I; c++)
                    for (int64_t y = 0; y < kh; y++)
                        for (int64_t x = 0; x < kw; x++) dst[((o * I + c) * kh + y) * kw + x] = tmp[((y * kw + x) * I + c) * O + o];
            break;
        }
        case FILL_DEPTHWISE: { /* [kh, kw, C, M] -> [C*M, 1, kh, kw], output channel c*M + k */
            int64_t kh = s[0], kw = s[1], C = s[2], M = s[3];
            for (int64_t c = 0; c < C; c++)
                for (int64_t k = 0; k < M; k++)
                    for (int64_t y = 0; y < kh; y++)
                        for (int64_t x = 0; x < kw; x++) dst[((c * M + k) * kh + y) * kw + x] = tmp[((y * kw + x) * C + c) * M + k];
            break;
        }
        case FILL_DENSE: { /* [in, out] -> [out, in] */
            int64_t I = s[0], O = s[1];
            for (int64_t o = 0; o < O; o++)
                for (int64_t c = 0; c < I; c++) dst[o * I + c] = tmp[c * O + o];
            break;
        }
        default: memcpy(dst, tmp, (size_t)w->numel * sizeof(float)); break;
        }
        ft_free(tmp);
        for (int64_t k = 0; k < p->numel; k++)
            if (!isfinite(dst[k])) return ft_fail(FT_EFORMAT, "%s: weight '%.100s' has a non-finite value", im->label, w->name);
    }
    return FT_OK;
}

static ft_status convert(imp *im, const char *file, ft_model **model) {
    ft_status s;
    if (!(im->root = json_object()) || !(im->used_names = json_object())) return oom();
    json_object_set_new(im->root, "arch", json_string("graph"));
    if ((s = parse_layers(im))) return s;
    json_object_set_new(im->root, "params", im->params = json_array());
    json_object_set_new(im->root, "nodes", im->nodes = json_array());
    if (!im->params || !im->nodes) return oom();
    if ((s = convert_layers(im))) return s;
    for (int i = 0; i < im->n_w; i++) {
        const char *n = im->w[i].name;
        if (im->w[i].used || !strncmp(n, "training/", 9) || !strncmp(n, "optimizer/", 10)) continue;
        bool known_layer = false; /* a weight of a layer the output does not need is fine */
        for (int k = 0; k < im->n_layers && !known_layer; k++) {
            size_t ln = strlen(im->L[k].name);
            known_layer = !im->L[k].needed && !strncmp(n, im->L[k].name, ln) && n[ln] == '/';
        }
        if (!known_layer) return ft_fail(FT_EFORMAT, "%s: weight '%.100s' in the manifest belongs to no layer of the model", im->label, n);
    }
    const layer *in = &im->L[im->input], *out = &im->L[im->output];
    if (im->input == im->output) return ft_fail(FT_EUNSUPPORTED, "%s: the model has no layers after its input", im->label);
    json_t *ishape = in->rank == 3 ? json_pack("[I,I,I]", (json_int_t)in->shape[2], (json_int_t)in->shape[0], (json_int_t)in->shape[1]) : json_array();
    for (int d = 0; in->rank != 3 && d < in->rank; d++) json_array_append_new(ishape, json_integer(in->shape[d]));
    json_object_set_new(im->root, "input", json_pack("{s:s, s:o, s:s}", "name", in->node, "shape", ishape, "dtype", "float32"));
    char outn[256];
    snprintf(outn, sizeof outn, "%s", out->node);
    int64_t K = out->shape[out->rank - 1];
    if (out->rank == 3 && out->shape[0] == 1 && out->shape[1] == 1) { /* [N, 1, 1, K]: flatten */
        char fn[256];
        im->cur = im->output;
        const char *fin[1] = {out->node};
        if ((s = unique_name(im, out->name, ".flatten", fn, sizeof fn)) || (s = add_node(im, fn, "flatten", fin, 1, NULL, 0, NULL))) return s;
        snprintf(outn, sizeof outn, "%s", fn);
    } else if (out->rank != 1) {
        return ft_fail(FT_EUNSUPPORTED, "%s: the output layer '%.100s' gives a %d-D tensor; only classifiers and feature extractors ([N, K]) "
                       "are supported", im->label, out->name, out->rank + 1);
    }
    json_object_set_new(im->root, "output", json_string(outn));
    /* The head: the last Dense, reached from the output through shape-only layers. */
    for (int i = im->output, guard = 0; guard < 16; guard++) {
        const layer *l = &im->L[i];
        if (l->lin_node) {
            if (K > 1 && l->shape[l->rank - 1] == K) {
                json_t *hp = l->b_param ? json_pack("[s,s]", l->w_param, l->b_param) : json_pack("[s]", l->w_param);
                json_object_set_new(im->root, "head", json_pack("{s:s, s:o}", "node", l->lin_node, "params", hp));
            }
            break;
        }
        bool pass = !strcmp(l->cls, "Dropout") || !strcmp(l->cls, "Flatten") || !strcmp(l->cls, "Reshape") ||
                    (i == im->output && im->dropped_softmax);
        if (!pass || l->n_in != 1) break;
        i = l->in[0];
    }
    json_object_set_new(im->root, "n_classes", json_integer(K));
    if (K > 1000000) return ft_fail(FT_EUNSUPPORTED, "%s: %lld outputs", im->label, (long long)K);
    json_t *pre = preprocess(im, in, (int)K, &s);
    if (s) return s;
    json_object_set_new(im->root, "preprocess", pre);
    json_t *topo = json_object_get(im->model, "modelTopology");
    json_t *src = json_pack("{s:s, s:s, s:i, s:b, s:I}", "format", "tfjs-layers", "file", file, "layers", im->n_layers, "dropped_softmax",
                            im->dropped_softmax, "synthesized_numel", (json_int_t)im->synth_numel);
    const char *kv = json_string_value(json_object_get(topo, "keras_version"));
    if (kv) json_object_set_new(src, "keras_version", json_string(kv));
    const char *gb = json_string_value(json_object_get(im->model, "generatedBy"));
    if (gb) json_object_set_new(src, "generated_by", json_string(gb));
    json_object_set_new(im->root, "source", src);
    char *text = json_dumps(im->root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) return oom();
    s = ft_model_from_config(text, model);
    free(text);
    if (s) return ft_fail_context(s, "%s: the converted graph", im->label);
    if ((s = fill_params(im, *model))) {
        ft_model_free(*model);
        *model = NULL;
    }
    return s;
}

static void imp_free(imp *im) {
    for (int i = 0; im->L && i < im->n_layers; i++) {
        ft_free(im->L[i].in);
        ft_free(im->L[i].node);
        ft_free(im->L[i].lin_node);
        ft_free(im->L[i].w_param);
        ft_free(im->L[i].b_param);
    }
    ft_free(im->L);
    ft_free(im->w);
    for (int i = 0; i < im->n_fills; i++) ft_free(im->fills[i].param);
    ft_free(im->fills);
    json_decref(im->root);
    json_decref(im->used_names);
    json_decref(im->w_index);
    json_decref(im->model);
}

static ft_status load_json(imp *im, const char *json, size_t len) {
    json_error_t err;
    im->model = json_loadb(json, len, 0, &err);
    if (!im->model) return ft_fail(FT_EFORMAT, "%s: not valid JSON: %s (line %d, column %d)", im->label, err.text, err.line, err.column);
    if (!json_is_object(im->model)) return ft_fail(FT_EFORMAT, "%s: model.json must be a JSON object", im->label);
    json_t *mc;
    return model_config(im, &mc); /* before any shard is read */
}

static const char *base_name(const char *p) {
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

ft_status ft_import_tfjs_mem(const char *json, size_t json_len, const uint8_t *weights, size_t weights_len, const char *label, ft_model **out) {
    *out = NULL;
    imp im;
    memset(&im, 0, sizeof im);
    im.label = label ? label : "model.json";
    ft_status s = load_json(&im, json, json_len);
    if (!s) s = parse_manifest(&im, weights, weights_len);
    if (!s) s = convert(&im, base_name(im.label), out);
    imp_free(&im);
    return s;
}

/* A manifest path: relative, no "..", no URL. */
static bool safe_path(const char *p) {
    if (!p[0] || p[0] == '/' || strstr(p, "://")) return false;
    for (const char *s = p; *s; s++)
        if ((s == p || s[-1] == '/') && s[0] == '.' && s[1] == '.' && (s[2] == '/' || !s[2])) return false;
    return true;
}

ft_status ft_import_tfjs(const char *path, ft_model **out) {
    *out = NULL;
    char file[4096], dir[4096];
    struct stat sb;
    if (stat(path, &sb) != 0) return ft_fail(FT_ENOTFOUND, "%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) snprintf(file, sizeof file, "%s/model.json", path);
    else snprintf(file, sizeof file, "%s", path);
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    uint8_t *text = NULL, *data = NULL;
    size_t n = 0, total = 0;
    ft_status s = ft_read_file(file, 256u << 20, &text, &n);
    if (s) return s;
    imp im;
    memset(&im, 0, sizeof im);
    im.label = file;
    if ((s = load_json(&im, (const char *)text, n))) goto out;
    ft_free(text);
    text = NULL;
    json_t *man = json_object_get(im.model, "weightsManifest");
    /* Size every shard first: one buffer, and a message naming a missing shard. */
    for (int pass = 0; pass < 2 && !s; pass++) {
        size_t at = 0;
        for (size_t g = 0; g < json_array_size(man) && !s; g++) {
            json_t *paths = json_object_get(json_array_get(man, g), "paths");
            if (!json_is_array(paths)) { s = ft_fail(FT_EFORMAT, "%s: weightsManifest[%zu] needs a \"paths\" list", file, g); break; }
            for (size_t k = 0; k < json_array_size(paths) && !s; k++) {
                const char *p = json_string_value(json_array_get(paths, k));
                if (!p || !safe_path(p)) {
                    s = ft_fail(FT_EFORMAT, "%s: weightsManifest[%zu].paths[%zu] must be a relative file name next to model.json", file, g, k);
                    break;
                }
                char sp[8192];
                snprintf(sp, sizeof sp, "%s/%s", dir, p);
                if (pass == 0) {
                    struct stat ss;
                    if (stat(sp, &ss) != 0 || !S_ISREG(ss.st_mode)) {
                        s = ft_fail(FT_ENOTFOUND, "%s: weight shard '%s' (weightsManifest[%zu].paths[%zu]) is missing", file, sp, g, k);
                        break;
                    }
                    if ((uint64_t)ss.st_size > ((uint64_t)1 << 34) - total) { s = ft_fail(FT_EFORMAT, "%s: the weight shards are too large", file); break; }
                    total += (size_t)ss.st_size;
                } else {
                    uint8_t *d = NULL;
                    size_t dn = 0;
                    if ((s = ft_read_file(sp, total - at, &d, &dn))) break;
                    memcpy(data + at, d, dn);
                    at += dn;
                    ft_free(d);
                }
            }
        }
        if (!s && pass == 0 && !(data = ft_malloc(total ? total : 1))) s = oom();
        if (!s && pass == 1 && at != total) s = ft_fail(FT_EIO, "%s: the weight shards changed while being read", file);
    }
    if (!s) s = parse_manifest(&im, data, total);
    if (!s) s = convert(&im, base_name(file), out);
out:
    ft_free(text);
    imp_free(&im);
    ft_free(data);
    return s;
}
