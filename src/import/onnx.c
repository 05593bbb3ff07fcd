/* ONNX import: the protobuf is read by protobuf-c from the code protoc-c generates from
 * Debian's onnx.proto (build/gen/onnx.pb-c.{c,h}); this file turns the ModelProto into a
 * "graph" model (docs/import.md, "ONNX"): values, initializers (raw, typed and external
 * data), the node order (cycles and dangling inputs are errors), the config JSON and the
 * parameter values. Folding is in onnx_eval.c, op mapping in onnx_map.c. */
#include "import/onnx_internal.h"
#include "finetune/io.h"
#include "models/models.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ft_status ox_oom(void) { return ft_fail(FT_ENOMEM, "out of memory"); }

/* ---------------- string map ---------------- */

static uint64_t ohash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

int *omap_get(const omap *m, const char *k) {
    if (!m->cap) return NULL;
    for (size_t i = ohash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) return NULL;
        if (!strcmp(m->keys[i], k)) return &m->vals[i];
    }
}

ft_status omap_put(omap *m, const char *k, int v) {
    int *at = omap_get(m, k);
    if (at) { *at = v; return FT_OK; }
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        char **nk = ft_calloc(nc, sizeof *nk);
        int *nv = ft_calloc(nc, sizeof *nv);
        if (!nk || !nv) { ft_free(nk); ft_free(nv); return ox_oom(); }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            size_t j = ohash(m->keys[i]) & (nc - 1);
            while (nk[j]) j = (j + 1) & (nc - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
        ft_free(m->keys);
        ft_free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = nc;
    }
    char *dup = ft_strdup(k);
    if (!dup) return ox_oom();
    size_t j = ohash(k) & (m->cap - 1);
    while (m->keys[j]) j = (j + 1) & (m->cap - 1);
    m->keys[j] = dup;
    m->vals[j] = v;
    m->n++;
    return FT_OK;
}

void omap_free(omap *m) {
    for (size_t i = 0; i < m->cap; i++) ft_free(m->keys[i]);
    ft_free(m->keys);
    ft_free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---------------- values ---------------- */

oval *ox_val(ox *x, const char *name) {
    int *at = name && name[0] ? omap_get(&x->idx, name) : NULL;
    return at ? &x->v[*at] : NULL;
}

int ox_new_val(ox *x, const char *name) {
    if (x->nv == x->capv) {
        int nc = x->capv ? x->capv * 2 : 256;
        oval *nv = ft_realloc(x->v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        x->v = nv;
        x->capv = nc;
    }
    oval *v = &x->v[x->nv];
    memset(v, 0, sizeof *v);
    if (!(v->name = ft_strdup(name)) || omap_put(&x->idx, name, x->nv)) { ft_free(v->name); return -1; }
    return x->nv++;
}

int64_t ox_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        if (shape[d] && n > OX_MAX_NUMEL / shape[d]) return -1;
        n *= shape[d];
    }
    return n;
}

bool ox_is_float_type(int dt) { return dt == OX_FLOAT || dt == OX_DOUBLE || dt == OX_FLOAT16 || dt == OX_BFLOAT16; }

const char *ox_type_name(int dt) {
    static const char *n[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool",
                              "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16"};
    return dt >= 0 && dt <= 16 ? n[dt] : "unknown";
}

/* ---------------- attributes ---------------- */

const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *nd, const char *name) {
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (nd->attribute[i]->name && !strcmp(nd->attribute[i]->name, name)) return nd->attribute[i];
    return NULL;
}
int64_t ox_attr_i(const Onnx__NodeProto *nd, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = ox_attr(nd, name);
    return a && (a->has_i || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) ? a->i : def;
}
float ox_attr_f(const Onnx__NodeProto *nd, const char *name, float def) {
    const Onnx__AttributeProto *a = ox_attr(nd, name);
    return a && (a->has_f || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) ? a->f : def;
}
const char *ox_attr_s(const Onnx__NodeProto *nd, const char *name, const char *def, char *buf, size_t n) {
    const Onnx__AttributeProto *a = ox_attr(nd, name);
    if (!a || !a->has_s) return def;
    size_t len = a->s.len < n - 1 ? a->s.len : n - 1;
    memcpy(buf, a->s.data, len);
    buf[len] = 0;
    return buf;
}
int ox_attr_ints(const Onnx__NodeProto *nd, const char *name, const int64_t **out) {
    const Onnx__AttributeProto *a = ox_attr(nd, name);
    *out = NULL;
    if (!a) return -1;
    *out = a->ints;
    return (int)a->n_ints;
}

/* ---------------- messages ---------------- */

static const char *node_label(const Onnx__NodeProto *nd, char *buf, size_t n) {
    if (nd->name && nd->name[0]) snprintf(buf, n, "%s", nd->name);
    else if (nd->n_output && nd->output[0][0]) snprintf(buf, n, "output '%s'", nd->output[0]);
    else snprintf(buf, n, "(unnamed)");
    return buf;
}

ft_status ox_node_fail(ox *x, ft_status s, const char *fmt, ...) {
    char msg[512], nb[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!x->nd) return ft_fail(s, "%s: %s", x->label, msg);
    return ft_fail(s, "%s: node '%s' (%s, opset %lld): %s", x->label, node_label(x->nd, nb, sizeof nb), x->nd->op_type,
                   (long long)x->opset, msg);
}

ft_status ox_unsupported(ox *x, const char *why) {
    char nb[200];
    return ft_fail(FT_EUNSUPPORTED, "%s: unsupported op %s in node '%s' (opset %lld)%s%s", x->label, x->nd->op_type,
                   node_label(x->nd, nb, sizeof nb), (long long)x->opset, why ? ": " : "", why ? why : "");
}

/* ---------------- tensors ---------------- */

static size_t elem_size(int dt) {
    switch (dt) {
    case OX_FLOAT: case OX_INT32: case OX_UINT32: return 4;
    case OX_DOUBLE: case OX_INT64: case OX_UINT64: return 8;
    case OX_FLOAT16: case OX_BFLOAT16: case OX_INT16: case OX_UINT16: return 2;
    case OX_INT8: case OX_UINT8: case OX_BOOL: return 1;
    default: return 0;
    }
}

static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        if (!m) bits = s;
        else { /* subnormal */
            float f = ldexpf((float)m, -24);
            return s ? -f : f;
        }
    } else if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* element k of little-endian raw bytes of type dt into f (float types) or i (others) */
static void raw_elem(const uint8_t *p, int dt, float *f, int64_t *i) {
    uint64_t u = 0;
    size_t es = elem_size(dt);
    for (size_t b = 0; b < es; b++) u |= (uint64_t)p[b] << (8 * b);
    switch (dt) {
    case OX_FLOAT: { uint32_t w = (uint32_t)u; memcpy(f, &w, 4); break; }
    case OX_DOUBLE: { double d; memcpy(&d, &u, 8); *f = (float)d; break; }
    case OX_FLOAT16: *f = half_to_float((uint16_t)u); break;
    case OX_BFLOAT16: { uint32_t w = (uint32_t)u << 16; memcpy(f, &w, 4); break; }
    case OX_INT8: *i = (int8_t)u; break;
    case OX_UINT8: *i = (uint8_t)u; break;
    case OX_INT16: *i = (int16_t)u; break;
    case OX_UINT16: *i = (uint16_t)u; break;
    case OX_INT32: *i = (int32_t)u; break;
    case OX_UINT32: *i = (uint32_t)u; break;
    case OX_INT64: case OX_UINT64: *i = (int64_t)u; break;
    case OX_BOOL: *i = u != 0; break;
    default: break;
    }
}

/* External data: "location" relative to the model's folder (no absolute path, no ".."),
 * "offset" and "length" checked against the file. */
static ft_status read_external(ox *x, const Onnx__TensorProto *t, const char *what, size_t need, uint8_t **out) {
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t k = 0; k < t->n_external_data; k++) {
        const Onnx__StringStringEntryProto *e = t->external_data[k];
        if (!e->key || !e->value) continue;
        char *end = NULL;
        if (!strcmp(e->key, "location")) loc = e->value;
        else if (!strcmp(e->key, "offset")) { off = strtoll(e->value, &end, 10); if (!end || *end || off < 0) off = -1; }
        else if (!strcmp(e->key, "length")) { len = strtoll(e->value, &end, 10); if (!end || *end || len < 0) len = -2; }
    }
    if (!loc || !loc[0]) return ft_fail(FT_EFORMAT, "%s: %s: external data without a \"location\"", x->label, what);
    if (off < 0 || len == -2) return ft_fail(FT_EFORMAT, "%s: %s: external data has a bad offset or length", x->label, what);
    if (loc[0] == '/' || strstr(loc, ".."))
        return ft_fail(FT_EFORMAT, "%s: %s: external data location '%s' must be a relative path below the model's folder", x->label, what, loc);
    if (!x->dir) return ft_fail(FT_EUNSUPPORTED, "%s: %s: external data '%s' needs the model's path (loaded from memory)", x->label, what, loc);
    size_t pl = strlen(x->dir) + strlen(loc) + 2;
    char *path = ft_malloc(pl);
    if (!path) return ox_oom();
    snprintf(path, pl, "%s%s", x->dir, loc);
    uint8_t *data = NULL;
    size_t size = 0;
    ft_status s = ft_read_file(path, (size_t)1 << 40, &data, &size);
    if (s) { ft_free(path); return ft_fail_context(s, "%s: %s: external data", x->label, what); }
    if (len < 0) len = (int64_t)size - off;
    if ((uint64_t)off > size || (uint64_t)len > size - (uint64_t)off || (size_t)len != need) {
        s = ft_fail(FT_EFORMAT, "%s: %s: external data in '%s' (offset %lld, length %lld) does not hold the %zu bytes its shape needs (file: %zu bytes)",
                    x->label, what, path, (long long)off, (long long)len, need, size);
        ft_free(data);
        ft_free(path);
        return s;
    }
    ft_free(path);
    memmove(data, data + off, need);
    *out = data;
    return FT_OK;
}

ft_status ox_tensor_to_val(ox *x, const Onnx__TensorProto *t, const char *what, oval *v) {
    int dt = t->data_type;
    v->is_const = true;
    v->dt = dt;
    if (t->n_dims > OX_MAX_DIMS) return ft_fail(FT_EUNSUPPORTED, "%s: %s has %zu dims (at most %d)", x->label, what, t->n_dims, OX_MAX_DIMS);
    v->ndim = (int)t->n_dims;
    for (int d = 0; d < v->ndim; d++) v->shape[d] = t->dims[d];
    v->numel = ox_numel(v->ndim, v->shape);
    if (v->numel < 0) return ft_fail(FT_EFORMAT, "%s: %s has a negative or too large shape", x->label, what);
    if (t->segment) return ft_fail(FT_EUNSUPPORTED, "%s: %s is a segmented tensor", x->label, what);
    size_t es = elem_size(dt);
    if (!es) {
        if (dt == OX_STRING) return ft_fail(FT_EUNSUPPORTED, "%s: %s has type string (not supported)", x->label, what);
        return ft_fail(dt == OX_COMPLEX64 || dt == OX_COMPLEX128 ? FT_EUNSUPPORTED : FT_EFORMAT, "%s: %s has data type %d (%s)",
                       x->label, what, dt, ox_type_name(dt));
    }
    bool fl = ox_is_float_type(dt);
    size_t n = (size_t)v->numel;
    if (fl) v->f = ft_malloc((n ? n : 1) * sizeof(float));
    else v->i = ft_malloc((n ? n : 1) * sizeof(int64_t));
    if (!v->f && !v->i) return ox_oom();
    bool external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external || t->has_raw_data) {
        const uint8_t *raw = t->raw_data.data;
        size_t rn = t->raw_data.len;
        uint8_t *ext = NULL;
        if (external) {
            ft_status s = read_external(x, t, what, n * es, &ext);
            if (s) return s;
            raw = ext;
            rn = n * es;
        }
        if (rn != n * es) {
            ft_free(ext);
            return ft_fail(FT_EFORMAT, "%s: %s: raw_data has %zu bytes for shape of %zu %s elements (%zu bytes)", x->label, what, rn, n,
                           ox_type_name(dt), n * es);
        }
        for (size_t k = 0; k < n; k++) raw_elem(raw + k * es, dt, fl ? &v->f[k] : NULL, fl ? NULL : &v->i[k]);
        ft_free(ext);
        return FT_OK;
    }
    size_t have = 0;
    switch (dt) {
    case OX_FLOAT: have = t->n_float_data; break;
    case OX_DOUBLE: have = t->n_double_data; break;
    case OX_INT64: have = t->n_int64_data; break;
    case OX_UINT32: case OX_UINT64: have = t->n_uint64_data; break;
    default: have = t->n_int32_data; break; /* int32, int16, int8, uint16, uint8, bool, float16, bfloat16 */
    }
    if (have != n)
        return ft_fail(FT_EFORMAT, "%s: %s: %zu values stored for shape of %zu %s elements", x->label, what, have, n, ox_type_name(dt));
    for (size_t k = 0; k < n; k++) {
        switch (dt) {
        case OX_FLOAT: v->f[k] = t->float_data[k]; break;
        case OX_DOUBLE: v->f[k] = (float)t->double_data[k]; break;
        case OX_FLOAT16: v->f[k] = half_to_float((uint16_t)t->int32_data[k]); break;
        case OX_BFLOAT16: { uint32_t w = (uint32_t)t->int32_data[k] << 16; memcpy(&v->f[k], &w, 4); break; }
        case OX_INT64: v->i[k] = t->int64_data[k]; break;
        case OX_UINT32: case OX_UINT64: v->i[k] = (int64_t)t->uint64_data[k]; break;
        case OX_BOOL: v->i[k] = t->int32_data[k] != 0; break;
        default: v->i[k] = t->int32_data[k]; break;
        }
    }
    return FT_OK;
}

/* ---------------- names ---------------- */

/* ONNX names -> config names: '/' and ':' become '.', characters globs or JSON trip on
 * become '_', leading dots go; unique with _2, _3. */
static ft_status unique_name(ox *x, const char *raw, const char *suffix, char *out, size_t n) {
    char base[200];
    size_t k = 0;
    for (const char *s = raw && raw[0] ? raw : "node"; *s && k < sizeof base - 24; s++) {
        char c = *s;
        if (c == '/' || c == ':') c = '.';
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) c = '_';
        if (c == '.' && (k == 0 || base[k - 1] == '.')) continue;
        base[k++] = c;
    }
    while (k && base[k - 1] == '.') k--;
    if (!k) base[k++] = 'n';
    base[k] = 0;
    if (suffix) snprintf(base + k, sizeof base - k, "%s", suffix);
    snprintf(out, n, "%s", base);
    for (int i = 2; omap_get(&x->names, out); i++) snprintf(out, n, "%s_%d", base, i);
    return omap_put(&x->names, out, 1);
}

/* ---------------- config building ---------------- */

const char *ox_declare(ox *x, const char *raw, int ndim, const int64_t *shape, const float *data, bool trainable) {
    char nm[256];
    if (unique_name(x, raw, NULL, nm, sizeof nm)) return NULL;
    if (ndim > FT_PARAM_MAX_DIMS) {
        ox_node_fail(x, FT_EUNSUPPORTED, "parameter '%s' has %d dims (at most %d)", raw, ndim, FT_PARAM_MAX_DIMS);
        return NULL;
    }
    int64_t numel = ox_numel(ndim, shape);
    json_t *js = json_array();
    for (int d = 0; d < ndim; d++) json_array_append_new(js, json_integer(shape[d]));
    json_t *p = json_pack("{s:s, s:o}", "name", nm, "shape", js);
    if (!p) { ox_oom(); return NULL; }
    if (!trainable) json_object_set_new(p, "buffer", json_true());
    json_array_append_new(x->params, p);
    if (x->nfill == x->capfill) {
        int nc = x->capfill ? x->capfill * 2 : 64;
        ofill *nf = ft_realloc(x->fills, (size_t)nc * sizeof *nf);
        if (!nf) { ox_oom(); return NULL; }
        x->fills = nf;
        x->capfill = nc;
    }
    ofill *f = &x->fills[x->nfill];
    f->param = ft_strdup(nm);
    f->data = ft_malloc((size_t)(numel ? numel : 1) * sizeof(float));
    f->numel = numel;
    if (!f->param || !f->data) { ft_free(f->param); ft_free(f->data); ox_oom(); return NULL; }
    memcpy(f->data, data, (size_t)numel * sizeof(float));
    x->nfill++;
    return f->param;
}

const char *ox_param(ox *x, oval *v, int force) {
    if (v->param) return v->param;
    if (!v->is_const || !v->f) {
        ox_node_fail(x, FT_EUNSUPPORTED, "constant '%s' of type %s cannot be a float parameter", v->name, ox_type_name(v->dt));
        return NULL;
    }
    if (v->dt != OX_FLOAT) {
        ox_node_fail(x, FT_EUNSUPPORTED, "tensor '%s' has type %s (only float32 computes)", v->name, ox_type_name(v->dt));
        return NULL;
    }
    bool trainable = force == 1 || (force == 0 && (v->orig == ORIG_INIT || v->orig == ORIG_BRANCH ||
                                                   (v->orig == ORIG_CONST && x->o.promote_constants)));
    const char *p = ox_declare(x, v->name, v->ndim, v->shape, v->f, trainable);
    if (!p) return NULL;
    if (!(v->param = ft_strdup(p))) { ox_oom(); return NULL; }
    return v->param;
}

const char *ox_emit(ox *x, const char *op, const char *const *ins, int nin, const char *const *pars, int npar, json_t *attrs,
                    const char *hint) {
    char nm[256];
    if (unique_name(x, hint, NULL, nm, sizeof nm)) { json_decref(attrs); return NULL; }
    json_t *n = json_pack("{s:s, s:s}", "name", nm, "op", op), *ji = json_array();
    for (int i = 0; i < nin; i++) json_array_append_new(ji, json_string(ins[i]));
    json_object_set_new(n, "inputs", ji);
    if (npar) {
        json_t *jp = json_array();
        for (int i = 0; i < npar; i++) json_array_append_new(jp, json_string(pars[i]));
        json_object_set_new(n, "params", jp);
    }
    if (attrs && json_object_size(attrs)) json_object_set(n, "attrs", attrs);
    json_decref(attrs);
    if (x->nd && x->nd->op_type) json_object_set_new(n, "source", json_string(x->nd->op_type));
    json_array_append_new(x->nodes, n);
    if (x->nem == x->capem) {
        int nc = x->capem ? x->capem * 2 : 256;
        oemit *ne = ft_realloc(x->em, (size_t)nc * sizeof *ne);
        if (!ne) { ox_oom(); return NULL; }
        x->em = ne;
        x->capem = nc;
    }
    oemit *e = &x->em[x->nem];
    memset(e, 0, sizeof *e);
    e->name = ft_strdup(nm);
    e->op = ft_strdup(op);
    e->in0 = nin ? ft_strdup(ins[0]) : NULL;
    e->weight = npar > 0 ? ft_strdup(pars[0]) : NULL;
    e->bias = npar > 1 ? ft_strdup(pars[1]) : NULL;
    if (!e->name || !e->op || omap_put(&x->em_at, nm, x->nem)) { ox_oom(); return NULL; }
    x->nem++;
    return e->name;
}

bool ox_op_known(const char *op) { return ft_graph_config_op_known(op); }

/* ---------------- running a graph ---------------- */

/* Names a subgraph reads from outside itself, checked against the values defined so far. */
static bool outer_ready(ox *x, const Onnx__GraphProto *g, omap *local) {
    for (size_t k = 0; k < g->n_initializer; k++)
        if (g->initializer[k]->name && omap_put(local, g->initializer[k]->name, 1)) return false;
    for (size_t k = 0; k < g->n_input; k++)
        if (g->input[k]->name && omap_put(local, g->input[k]->name, 1)) return false;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        for (size_t j = 0; j < nd->n_input; j++) {
            const char *in = nd->input[j];
            if (in[0] && !omap_get(local, in) && !ox_val(x, in)) return false;
        }
        for (size_t a = 0; a < nd->n_attribute; a++)
            if (nd->attribute[a]->g && !outer_ready(x, nd->attribute[a]->g, local)) return false;
        for (size_t j = 0; j < nd->n_output; j++)
            if (nd->output[j][0] && omap_put(local, nd->output[j], 1)) return false;
    }
    return true;
}

static bool node_ready(ox *x, const Onnx__NodeProto *nd) {
    for (size_t j = 0; j < nd->n_input; j++)
        if (nd->input[j][0] && !ox_val(x, nd->input[j])) return false;
    for (size_t a = 0; a < nd->n_attribute; a++) {
        if (!nd->attribute[a]->g) continue;
        omap local = {0};
        bool ok = outer_ready(x, nd->attribute[a]->g, &local);
        omap_free(&local);
        if (!ok) return false;
    }
    return true;
}

static ft_status run_node(ox *x, const Onnx__NodeProto *nd) {
    const Onnx__NodeProto *saved = x->nd;
    x->nd = nd;
    ft_status s = FT_OK;
    if (!nd->op_type || !nd->op_type[0]) s = ox_node_fail(x, FT_EFORMAT, "node without an op_type");
    else if (nd->domain && nd->domain[0] && strcmp(nd->domain, "ai.onnx")) {
        char nb[200];
        s = ft_fail(FT_EUNSUPPORTED, "%s: unsupported op %s of domain '%s' in node '%s'", x->label, nd->op_type, nd->domain,
                    node_label(nd, nb, sizeof nb));
    } else {
        for (size_t j = 0; j < nd->n_output; j++)
            for (size_t k = 0; k < j; k++)
                if (nd->output[j][0] && !strcmp(nd->output[j], nd->output[k]))
                    s = ox_node_fail(x, FT_EFORMAT, "output '%s' is listed twice", nd->output[j]);
        bool done = false;
        if (!s && x->opset < 7) s = ox_check_old_opset(x, nd);
        if (!s) s = ox_fold(x, nd, &done);
        if (!s && !done) s = ox_map(x, nd);
    }
    x->nd = saved;
    return s;
}

/* Nodes run in order; a node whose inputs are not defined yet waits (files are meant to be
 * sorted, but some exporters are not). What never becomes ready is a dangling input or a
 * cycle. */
ft_status ox_run_graph(ox *x, const Onnx__GraphProto *g, const char *what) {
    size_t n = g->n_node;
    if (!n) return FT_OK;
    bool *done = ft_calloc(n, sizeof *done);
    if (!done) return ox_oom();
    size_t left = n;
    ft_status s = FT_OK;
    const Onnx__GraphProto *outer = x->cur_graph;
    x->cur_graph = g;
    while (left && !s) {
        size_t progress = 0;
        for (size_t i = 0; i < n && !s; i++) {
            if (done[i]) continue;
            const Onnx__NodeProto *nd = g->node[i];
            bool skip = nd->n_output && nd->output[0][0] && omap_get(&x->skip, nd->output[0]);
            if (!skip && !node_ready(x, nd)) continue;
            if (!skip) s = run_node(x, nd);
            done[i] = true;
            left--;
            progress++;
        }
        if (s || !left || progress) continue;
        /* stuck: name the first waiting node and what it waits for */
        omap produced = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; !done[i] && j < g->node[i]->n_output; j++)
                if (g->node[i]->output[j][0] && omap_put(&produced, g->node[i]->output[j], (int)i)) { omap_free(&produced); ft_free(done); return ox_oom(); }
        for (size_t i = 0; i < n && !s; i++) {
            if (done[i]) continue;
            const Onnx__NodeProto *nd = g->node[i];
            char nb[200];
            for (size_t j = 0; j < nd->n_input && !s; j++) {
                const char *in = nd->input[j];
                if (!in[0] || ox_val(x, in)) continue;
                int *p = omap_get(&produced, in);
                if (!p)
                    s = ft_fail(FT_EFORMAT, "%s: %snode '%s' (%s) reads '%s', which no node, initializer or graph input defines", x->label,
                                what, node_label(nd, nb, sizeof nb), nd->op_type ? nd->op_type : "?", in);
                else {
                    char nb2[200];
                    s = ft_fail(FT_EFORMAT, "%s: %sthe graph has a cycle: node '%s' (%s) waits for '%s' from node '%s', which depends on it",
                                x->label, what, node_label(nd, nb, sizeof nb), nd->op_type ? nd->op_type : "?", in,
                                node_label(g->node[*p], nb2, sizeof nb2));
                }
            }
            if (!s) /* it reads an undefined name inside a subgraph */
                s = ft_fail(FT_EFORMAT, "%s: %snode '%s' (%s): a subgraph reads a name that nothing defines", x->label, what,
                            node_label(nd, nb, sizeof nb), nd->op_type ? nd->op_type : "?");
        }
        omap_free(&produced);
    }
    x->cur_graph = outer;
    ft_free(done);
    return s;
}

/* ---------------- the model ---------------- */

static ft_status mark_consumed(ox *x, const Onnx__GraphProto *g, int depth) {
    if (depth > 32) return ft_fail(FT_EUNSUPPORTED, "%s: subgraphs nested more than 32 deep", x->label);
    ft_status s = FT_OK;
    for (size_t i = 0; i < g->n_node && !s; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        for (size_t j = 0; j < nd->n_input && !s; j++)
            if (nd->input[j][0]) {
                int *c = omap_get(&x->consumed, nd->input[j]);
                if (c) ++*c;
                else s = omap_put(&x->consumed, nd->input[j], 1);
            }
        for (size_t a = 0; a < nd->n_attribute && !s; a++)
            if (nd->attribute[a]->g) s = mark_consumed(x, nd->attribute[a]->g, depth + 1);
    }
    for (size_t k = 0; k < g->n_output && !s; k++)
        if (g->output[k]->name) {
            int *c = omap_get(&x->consumed, g->output[k]->name);
            if (c) ++*c;
            else s = omap_put(&x->consumed, g->output[k]->name, 1);
        }
    return s;
}

static void ox_free(ox *x) {
    for (int i = 0; i < x->nv; i++) {
        ft_free(x->v[i].name);
        ft_free(x->v[i].f);
        ft_free(x->v[i].i);
        ft_free(x->v[i].param);
        ft_free(x->v[i].node);
    }
    ft_free(x->v);
    for (int i = 0; i < x->nfill; i++) { ft_free(x->fills[i].param); ft_free(x->fills[i].data); }
    ft_free(x->fills);
    for (int i = 0; i < x->nem; i++) {
        ft_free(x->em[i].name);
        ft_free(x->em[i].op);
        ft_free(x->em[i].in0);
        ft_free(x->em[i].weight);
        ft_free(x->em[i].bias);
    }
    ft_free(x->em);
    omap_free(&x->idx);
    omap_free(&x->names);
    omap_free(&x->em_at);
    omap_free(&x->consumed);
    omap_free(&x->skip);
    ft_free(x->dir);
    ft_free(x->input_node);
    json_decref(x->root);
}

/* Static shape of a graph input (symbolic dim 0 = the batch). */
/* ft_onnx_opts.bind_values[b]: numbers for a graph input, in its declared type and shape. */
static ft_status bind_numbers(ox *x, const Onnx__GraphProto *g, int b) {
    const char *nm = x->o.bind_value_names ? x->o.bind_value_names[b] : NULL;
    const double *val = x->o.bind_values ? x->o.bind_values[b] : NULL;
    int n = x->o.bind_value_counts ? x->o.bind_value_counts[b] : 0;
    if (!nm || !val || n < 1) return ft_fail(FT_EINVAL, "%s: bound value %d has no name or no values", x->label, b);
    const Onnx__ValueInfoProto *vi = NULL;
    for (size_t k = 0; k < g->n_input && !vi; k++)
        if (g->input[k]->name && !strcmp(g->input[k]->name, nm)) vi = g->input[k];
    if (!vi) return ft_fail(FT_ENOTFOUND, "%s: bound input '%s' is not a graph input", x->label, nm);
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type || !tp->tensor_type->shape)
        return ft_fail(FT_EUNSUPPORTED, "%s: bound input '%s' is not a tensor with a shape", x->label, nm);
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    int et = tp->tensor_type->elem_type;
    if (sh->n_dim > FT_MAX_DIMS) return ft_fail(FT_EUNSUPPORTED, "%s: bound input '%s' has %zu dims", x->label, nm, sh->n_dim);
    int64_t dims[FT_MAX_DIMS], numel = 1, batch = x->o.input_ndim > 0 ? x->o.input_shape[0] : x->o.batch > 0 ? x->o.batch : 1;
    char shs[128] = "[";
    for (size_t d = 0; d < sh->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dm = sh->dim[d];
        dims[d] = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value > 0 ? dm->dim_value : batch;
        if (dims[d] > ((int64_t)1 << 26) / numel) return ft_fail(FT_EUNSUPPORTED, "%s: bound input '%s' is too large", x->label, nm);
        numel *= dims[d];
        size_t l = strlen(shs);
        snprintf(shs + l, sizeof shs - l, "%s%lld", d ? "," : "", (long long)dims[d]);
    }
    size_t l = strlen(shs);
    snprintf(shs + l, sizeof shs - l, "]");
    if (n != 1 && n != numel)
        return ft_fail(FT_ESHAPE, "%s: %d values bound to input '%s' of shape %s (%lld values; one value fills it)", x->label, n, nm, shs,
                       (long long)numel);
    size_t width;
    double lo = 0, hi = 0;
    int dt = et;
    switch (et) {
    case OX_FLOAT: case 10 /* float16 */: case 11 /* double */: dt = OX_FLOAT; width = 4; break;
    case OX_INT64: width = 8; lo = -9007199254740992.0; hi = 9007199254740992.0; break; /* exact in a double */
    case OX_INT32: width = 4; lo = INT32_MIN; hi = INT32_MAX; break;
    case 3: width = 1; lo = INT8_MIN; hi = INT8_MAX; break;
    case 2: width = 1; hi = UINT8_MAX; break;
    case 5: width = 2; lo = INT16_MIN; hi = INT16_MAX; break;
    case 4: width = 2; hi = UINT16_MAX; break;
    case 12: width = 4; hi = UINT32_MAX; break;
    case 9 /* bool */: width = 1; hi = 1; break;
    default: return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has type %s: --bind takes numeric inputs", x->label, nm, ox_type_name(et));
    }
    for (int i = 0; i < n; i++) {
        if (!isfinite(val[i]) && dt != OX_FLOAT)
            return ft_fail(FT_EINVAL, "%s: value %g bound to the %s input '%s' is not a whole number", x->label, val[i], ox_type_name(et), nm);
        if (dt != OX_FLOAT && (val[i] != floor(val[i]) || val[i] < lo || val[i] > hi))
            return ft_fail(FT_EINVAL, "%s: value %.17g bound to the %s input '%s' is not a whole number in [%.0f, %.0f]", x->label, val[i],
                           ox_type_name(et), nm, lo, hi);
    }
    uint8_t *raw = ft_malloc((size_t)numel * width);
    if (!raw) return ox_oom();
    for (int64_t i = 0; i < numel; i++) {
        double v = val[n == 1 ? 0 : i];
        uint8_t *p = raw + i * (int64_t)width;
        if (dt == OX_FLOAT) { float f = (float)v; memcpy(p, &f, 4); }
        else if (width == 8) { int64_t q = (int64_t)v; memcpy(p, &q, 8); }
        else if (width == 4 && et == OX_INT32) { int32_t q = (int32_t)v; memcpy(p, &q, 4); }
        else if (width == 4) { uint32_t q = (uint32_t)v; memcpy(p, &q, 4); }
        else if (width == 2 && et == 5) { int16_t q = (int16_t)v; memcpy(p, &q, 2); }
        else if (width == 2) { uint16_t q = (uint16_t)v; memcpy(p, &q, 2); }
        else if (et == 3) { int8_t q = (int8_t)v; memcpy(p, &q, 1); }
        else *p = (uint8_t)v;
    }
    Onnx__TensorProto t;
    onnx__tensor_proto__init(&t);
    t.n_dims = sh->n_dim;
    t.dims = dims;
    t.has_data_type = 1;
    t.data_type = dt;
    t.has_raw_data = 1;
    t.raw_data.len = (size_t)numel * width;
    t.raw_data.data = raw;
    t.name = (char *)nm;
    oval *old = ox_val(x, nm);
    int vi_ = old ? (int)(old - x->v) : ox_new_val(x, nm);
    if (vi_ < 0) { ft_free(raw); return ox_oom(); }
    oval *v = &x->v[vi_];
    ft_free(v->f); ft_free(v->i);
    v->f = NULL; v->i = NULL;
    v->orig = ORIG_BIND;
    char what[300];
    snprintf(what, sizeof what, "the values bound to input '%s'", nm);
    ft_status s = ox_tensor_to_val(x, &t, what, v);
    ft_free(raw);
    return s;
}

static ft_status input_shape(ox *x, const Onnx__ValueInfoProto *vi, oval *v) {
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return ft_fail(FT_EUNSUPPORTED, "%s: graph input '%s' is not a tensor", x->label, vi->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    v->dt = tt->elem_type;
    if (x->o.input_ndim > 0) {
        if (x->o.input_ndim > FT_MAX_DIMS) return ft_fail(FT_EINVAL, "%s: input shape has %d dims (at most %d)", x->label, x->o.input_ndim, FT_MAX_DIMS);
        v->ndim = x->o.input_ndim;
        for (int d = 0; d < v->ndim; d++) v->shape[d] = x->o.input_shape[d];
        x->batch_fixed_in_file = tt->shape && tt->shape->n_dim >= 1 &&
                                 tt->shape->dim[0]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (tt->shape && tt->shape->n_dim != (size_t)v->ndim)
            return ft_fail(FT_EINVAL, "%s: input '%s' has %zu dims in the file, the given shape has %d", x->label, vi->name, tt->shape->n_dim, v->ndim);
    } else {
        if (!tt->shape) return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has no shape in the file: give one", x->label, vi->name);
        if (tt->shape->n_dim > FT_MAX_DIMS) return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has %zu dims (at most %d)", x->label, vi->name, tt->shape->n_dim, FT_MAX_DIMS);
        v->ndim = (int)tt->shape->n_dim;
        for (int d = 0; d < v->ndim; d++) {
            const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[d];
            if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value > 0) {
                v->shape[d] = dm->dim_value;
                if (d == 0) x->batch_fixed_in_file = true;
            }
            else if (d == 0) v->shape[d] = x->o.batch > 0 ? x->o.batch : 1;
            else
                return ft_fail(FT_EINVAL, "%s: dim %d of input '%s' is symbolic ('%s'): give the input shape (ft_onnx_opts.input_shape, --input-shape)",
                               x->label, d, vi->name,
                               dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dm->dim_param ? dm->dim_param : "?");
        }
    }
    for (int d = 0; d < v->ndim; d++) /* a given shape may hold a 0 (an empty tensor) */
        if (v->shape[d] < (x->o.input_ndim > 0 ? 0 : 1) || v->shape[d] > ((int64_t)1 << 30))
            return ft_fail(FT_EINVAL, "%s: input '%s' dim %d is %lld", x->label, vi->name, d, (long long)v->shape[d]);
    v->numel = ox_numel(v->ndim, v->shape);
    if (v->numel < 0) return ft_fail(FT_EINVAL, "%s: input '%s' is too large", x->label, vi->name);
    return FT_OK;
}

/* Drop nodes no output needs, then params no node uses. */
static ft_status prune(ox *x, json_t *outs) {
    size_t n = json_array_size(x->nodes);
    omap need = {0};
    ft_status s = FT_OK;
    for (size_t k = 0; k < json_array_size(outs) && !s; k++) s = omap_put(&need, json_string_value(json_array_get(outs, k)), 1);
    json_t *kept = json_array(), *used = json_object();
    for (size_t i = n; i-- > 0 && !s;) {
        json_t *nd = json_array_get(x->nodes, i);
        if (!omap_get(&need, json_string_value(json_object_get(nd, "name")))) continue;
        json_t *ins = json_object_get(nd, "inputs"), *ps = json_object_get(nd, "params");
        for (size_t k = 0; k < json_array_size(ins) && !s; k++) s = omap_put(&need, json_string_value(json_array_get(ins, k)), 1);
        for (size_t k = 0; k < json_array_size(ps); k++) json_object_set_new(used, json_string_value(json_array_get(ps, k)), json_true());
        json_array_insert(kept, 0, nd);
    }
    json_t *pk = json_array();
    for (size_t i = 0; i < json_array_size(x->params); i++) {
        json_t *p = json_array_get(x->params, i);
        if (json_object_get(used, json_string_value(json_object_get(p, "name")))) json_array_append(pk, p);
    }
    omap_free(&need);
    json_decref(used);
    if (s) { json_decref(kept); json_decref(pk); return s; }
    json_object_set_new(x->root, "nodes", kept);
    json_object_set_new(x->root, "params", pk);
    x->nodes = kept;
    x->params = pk;
    return FT_OK;
}

/* The last linear / matmul-with-weight / conv2d before the output, through shape-only
 * nodes, whose weight gives K outputs, is the head. */
static const oemit *find_head(ox *x, const char *out, int64_t K) {
    const char *cur = out;
    for (int guard = 0; guard < 16 && cur; guard++) {
        int *at = omap_get(&x->em_at, cur);
        if (!at) return NULL;
        const oemit *e = &x->em[*at];
        if ((!strcmp(e->op, "linear") || !strcmp(e->op, "conv2d")) && e->weight) {
            for (size_t i = 0; i < json_array_size(x->params); i++) {
                json_t *p = json_array_get(x->params, i);
                if (!strcmp(json_string_value(json_object_get(p, "name")), e->weight))
                    return json_integer_value(json_array_get(json_object_get(p, "shape"), 0)) == K ? e : NULL;
            }
            return NULL;
        }
        if (strcmp(e->op, "flatten") && strcmp(e->op, "reshape") && strcmp(e->op, "identity") && strcmp(e->op, "dropout")) return NULL;
        cur = e->in0;
    }
    return NULL;
}

static ft_status fill_params(ox *x, ft_model *m) {
    for (int i = 0; i < x->nfill; i++) {
        int pi = ft_params_find(m->params, x->fills[i].param);
        if (pi < 0) continue; /* pruned */
        if (m->params->p[pi].numel != x->fills[i].numel) return ft_fail(FT_EINVAL, "internal: parameter '%s' size", x->fills[i].param);
        memcpy(ft_params_value(m->params, pi), x->fills[i].data, (size_t)x->fills[i].numel * sizeof(float));
    }
    return FT_OK;
}

static ft_status convert(ox *x, const Onnx__ModelProto *mp, const char *file, ft_model **model) {
    const Onnx__GraphProto *g = mp->graph;
    if (!g) return ft_fail(FT_EFORMAT, "%s: the model has no graph", x->label);
    /* opsets */
    x->opset = -1;
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *op = mp->opset_import[k];
        if (!op->domain || !op->domain[0] || !strcmp(op->domain, "ai.onnx")) x->opset = op->has_version ? op->version : 1;
    }
    if (x->opset < 0) {
        if (mp->n_opset_import) return ft_fail(FT_EUNSUPPORTED, "%s: the model imports no default-domain opset", x->label);
        x->opset = 1;
    }
    if (x->opset < 1 || x->opset > 17) /* 1 to 6: only ops defined there as at opset 7 (ox_check_old_opset) */
        return ft_fail(FT_EUNSUPPORTED, "%s: opset %lld of the default domain (supported: 7 to 17)", x->label, (long long)x->opset);
    /* initializers */
    ft_status s = FT_OK;
    for (size_t k = 0; k < g->n_initializer && !s; k++) {
        const Onnx__TensorProto *t = g->initializer[k];
        char what[300];
        snprintf(what, sizeof what, "initializer '%s'", t->name ? t->name : "");
        if (!t->name || !t->name[0]) return ft_fail(FT_EFORMAT, "%s: initializer %zu has no name", x->label, k);
        if (ox_val(x, t->name)) return ft_fail(FT_EFORMAT, "%s: initializer '%s' is defined twice", x->label, t->name);
        int vi = ox_new_val(x, t->name);
        if (vi < 0) return ox_oom();
        x->v[vi].orig = ORIG_INIT;
        s = ox_tensor_to_val(x, t, what, &x->v[vi]);
    }
    if (s) return s;
    if (g->n_sparse_initializer) return ft_fail(FT_EUNSUPPORTED, "%s: sparse initializers are not supported", x->label);
    /* bound inputs */
    for (int b = 0; b < x->o.n_bind; b++) {
        const char *nm = x->o.bind_names[b];
        bool found = false;
        for (size_t k = 0; k < g->n_input; k++) found |= g->input[k]->name && !strcmp(g->input[k]->name, nm);
        if (!found) return ft_fail(FT_ENOTFOUND, "%s: bound input '%s' is not a graph input", x->label, nm);
        Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, x->o.bind_sizes[b], x->o.bind_data[b]);
        if (!t) return ft_fail(FT_EFORMAT, "%s: the value bound to input '%s' is not a valid TensorProto", x->label, nm);
        oval *old = ox_val(x, nm);
        int vi = old ? (int)(old - x->v) : ox_new_val(x, nm);
        if (vi < 0) { onnx__tensor_proto__free_unpacked(t, NULL); return ox_oom(); }
        oval *v = &x->v[vi];
        ft_free(v->f); ft_free(v->i);
        v->f = NULL; v->i = NULL;
        v->orig = ORIG_BIND;
        char what[300];
        snprintf(what, sizeof what, "the value bound to input '%s'", nm);
        s = ox_tensor_to_val(x, t, what, v);
        onnx__tensor_proto__free_unpacked(t, NULL);
        if (s) return s;
    }
    /* inputs bound to numbers: the declared type and shape (a symbolic dim is the batch) */
    for (int b = 0; b < x->o.n_bind_values && !s; b++) s = bind_numbers(x, g, b);
    if (s) return s;
    /* the data input: the first graph input without a value of type float or int32/int64
     * (token ids), unless the caller names one */
    const Onnx__ValueInfoProto *din = NULL;
    for (size_t k = 0; k < g->n_input && !din; k++) {
        const Onnx__ValueInfoProto *vi = g->input[k];
        if (!vi->name || !vi->name[0]) return ft_fail(FT_EFORMAT, "%s: graph input %zu has no name", x->label, k);
        int et = vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && vi->type->tensor_type
                     ? vi->type->tensor_type->elem_type : 0;
        if (x->o.input ? !strcmp(vi->name, x->o.input) : (!ox_val(x, vi->name) && (ox_is_float_type(et) || et == OX_INT32 || et == OX_INT64)))
            din = vi;
    }
    if (!din) {
        if (x->o.input) return ft_fail(FT_ENOTFOUND, "%s: input '%s' is not a graph input", x->label, x->o.input);
        for (size_t k = 0; k < g->n_input; k++)
            if (!ox_val(x, g->input[k]->name) && g->input[k]->type && g->input[k]->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
                g->input[k]->type->tensor_type)
                return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has type %s; the data input must be float32, int32 or int64", x->label,
                               g->input[k]->name, ox_type_name(g->input[k]->type->tensor_type->elem_type));
        return ft_fail(FT_EUNSUPPORTED, "%s: the graph has no float or integer input", x->label);
    }
    oval iv;
    memset(&iv, 0, sizeof iv);
    if ((s = input_shape(x, din, &iv))) return s;
    x->batch_value = iv.shape[0];
    bool ids = iv.dt == OX_INT32 || iv.dt == OX_INT64; /* token ids: an int32 graph input (int64 ids are given as int32) */
    if (iv.dt != OX_FLOAT && !ids)
        return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has type %s (float32, int32 and int64 inputs are supported)", x->label, din->name,
                       ox_type_name(iv.dt));
    if (iv.ndim < 1) return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' is a scalar (the batch dim is dim 0)", x->label, din->name);
    for (size_t k = 0; k < g->n_input; k++) {
        const char *nm = g->input[k]->name;
        if (g->input[k] != din && !ox_val(x, nm))
            return ft_fail(FT_EUNSUPPORTED, "%s: graph input '%s' has no value: only one data input is supported (bind the others)", x->label, nm);
    }
    {
        oval *old = ox_val(x, din->name);
        if (old) { /* an input that is also an initializer, chosen as the data input */
            ft_free(old->f); ft_free(old->i);
            old->f = NULL; old->i = NULL;
        }
        int vi = old ? (int)(old - x->v) : ox_new_val(x, din->name);
        if (vi < 0) return ox_oom();
        char nm[256];
        if ((s = unique_name(x, din->name, NULL, nm, sizeof nm))) return s;
        char *keep = x->v[vi].name;
        x->v[vi] = iv;
        x->v[vi].name = keep;
        x->v[vi].is_const = false;
        if (!(x->v[vi].node = ft_strdup(nm)) || !(x->input_node = ft_strdup(nm))) return ox_oom();
    }
    json_t *ishape = json_array();
    for (int d = 1; d < iv.ndim; d++) json_array_append_new(ishape, json_integer(iv.shape[d]));
    json_object_set_new(x->root, "arch", json_string("graph"));
    json_object_set_new(x->root, "input", json_pack("{s:s, s:o, s:s}", "name", x->input_node, "shape", ishape, "dtype", ids ? "int32" : "float32"));
    json_t *src = json_pack("{s:s, s:s, s:I, s:I}", "format", "onnx", "file", file, "opset", (json_int_t)x->opset, "batch", (json_int_t)iv.shape[0]);
    if (mp->producer_name && mp->producer_name[0]) json_object_set_new(src, "producer", json_string(mp->producer_name));
    if (!json_object_get(src, "producer") && mp->producer_name) json_object_del(src, "producer");
    json_object_set_new(x->root, "source", src);
    json_object_set_new(x->root, "params", x->params = json_array());
    json_object_set_new(x->root, "nodes", x->nodes = json_array());
    if (!x->params || !x->nodes) return ox_oom();

    if ((s = mark_consumed(x, g, 0))) return s;
    for (int k = 0; k < x->o.n_outputs && !s; k++) s = omap_put(&x->consumed, x->o.outputs[k], 1);
    if (!s && x->o.cut) s = omap_put(&x->consumed, x->o.cut, 1);
    if (s) return s;
    if ((s = ox_run_graph(x, g, ""))) return s;

    /* outputs */
    json_t *outs = json_array();
    const char *one[1];
    const char *const *names;
    int n_out;
    if (x->o.cut) { one[0] = x->o.cut; names = one; n_out = 1; }
    else if (x->o.n_outputs > 0) { names = x->o.outputs; n_out = x->o.n_outputs; }
    else {
        n_out = (int)g->n_output;
        names = NULL;
    }
    if (n_out < 1) { json_decref(outs); return ft_fail(FT_EFORMAT, "%s: the graph has no outputs", x->label); }
    oval *first = NULL;
    for (int k = 0; k < n_out; k++) {
        const char *nm = names ? names[k] : g->output[k]->name;
        oval *v = ox_val(x, nm);
        if (!v) { json_decref(outs); return ft_fail(x->o.cut || names ? FT_ENOTFOUND : FT_EFORMAT, "%s: output '%s' is not computed by the graph", x->label, nm ? nm : "?"); }
        if (v->is_const) { /* it does not depend on the input: a buffer lifted into an activation */
            if (!v->f && v->i) {
                if (!(v->f = ft_malloc((size_t)(v->numel ? v->numel : 1) * sizeof(float)))) { json_decref(outs); return ox_oom(); }
                for (int64_t k = 0; k < v->numel; k++) v->f[k] = (float)v->i[k];
            }
            v->dt = OX_FLOAT;
            v->orig = ORIG_CONST;
            x->nd = NULL;
            if (v->ndim < 1 || !ox_lift(x, v)) { json_decref(outs); return v->ndim < 1 ? ft_fail(FT_EUNSUPPORTED, "%s: output '%s' is a constant scalar", x->label, nm) : FT_EUNSUPPORTED; }
        }
        if (!v->node || !strcmp(v->node, x->input_node)) { /* the input itself: an identity node */
            x->nd = NULL;
            const char *in[1] = {x->input_node};
            const char *e = ox_emit(x, "identity", in, 1, NULL, 0, NULL, nm);
            if (!e) { json_decref(outs); return ft_fail(FT_ENOMEM, "out of memory"); }
            ft_free(v->node);
            if (!(v->node = ft_strdup(e))) { json_decref(outs); return ox_oom(); }
        }
        json_array_append_new(outs, json_string(v->node));
        if (!first) first = v;
    }
    if ((s = prune(x, outs))) { json_decref(outs); return s; }
    /* a batch dim fixed in the file (or by the caller) other than 1, or a node that depends
     * on it: the graph runs at that batch size only */
    if (x->fixed_batch || (x->batch_fixed_in_file && x->batch_value > 1))
        json_object_set_new(json_object_get(x->root, "input"), "batch", json_integer(x->batch_value));
    if (n_out == 1) {
        json_object_set_new(x->root, "output", json_string(json_string_value(json_array_get(outs, 0))));
        json_decref(outs);
    } else json_object_set_new(x->root, "outputs", outs);
    int64_t K = first->shape[first->ndim - 1];
    const oemit *head = first->ndim == 2 && K > 1 ? find_head(x, first->node, K) : NULL;
    if (head) {
        json_t *hp = json_array();
        json_array_append_new(hp, json_string(head->weight));
        if (head->bias) json_array_append_new(hp, json_string(head->bias));
        json_object_set_new(x->root, "head", json_pack("{s:s, s:o}", "node", head->name, "params", hp));
    }
    char *text = json_dumps(x->root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) return ox_oom();
    s = ft_model_from_config(text, model);
    free(text);
    if (s) return ft_fail_context(s, "%s: the converted graph", x->label);
    if ((s = fill_params(x, *model))) { ft_model_free(*model); *model = NULL; }
    return s;
}

ft_onnx_opts ft_onnx_defaults(void) {
    ft_onnx_opts o;
    memset(&o, 0, sizeof o);
    o.batch = 1;
    return o;
}

static void *pb_alloc(void *ud, size_t n) { (void)ud; return ft_malloc(n ? n : 1); }
static void pb_free(void *ud, void *p) { (void)ud; ft_free(p); }

ft_status ft_import_onnx_mem(const uint8_t *data, size_t size, const char *label, const ft_onnx_opts *opts, ft_model **out) {
    *out = NULL;
    if (!label) label = "onnx";
    ProtobufCAllocator al = {pb_alloc, pb_free, NULL};
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&al, size, data);
    if (!mp) return ft_fail(FT_EFORMAT, "%s: not a valid ONNX protobuf (malformed or truncated ModelProto, %zu bytes)", label, size);
    ox x;
    memset(&x, 0, sizeof x);
    x.label = label;
    x.o = opts ? *opts : ft_onnx_defaults();
    if (x.o.batch <= 0) x.o.batch = 1;
    ft_status s = FT_OK;
    const char *slash = strrchr(label, '/');
    if (!(x.dir = ft_malloc(slash ? (size_t)(slash - label) + 2 : 3))) s = ox_oom();
    else if (slash) { memcpy(x.dir, label, (size_t)(slash - label) + 1); x.dir[slash - label + 1] = 0; }
    else strcpy(x.dir, "./");
    if (!s && !(x.root = json_object())) s = ox_oom();
    if (!s) s = convert(&x, mp, slash ? slash + 1 : label, out);
    ox_free(&x);
    onnx__model_proto__free_unpacked(mp, &al);
    return s;
}

ft_status ft_import_onnx(const char *path, const ft_onnx_opts *opts, ft_model **out) {
    *out = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    ft_status s = ft_read_file(path, (size_t)1 << 31, &data, &size);
    if (s) return s;
    s = ft_import_onnx_mem(data, size, path, opts, out);
    ft_free(data);
    return s;
}
