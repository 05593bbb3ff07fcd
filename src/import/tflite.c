/* TFLite import: a bounds-checked flatbuffer reader for the tables of schema.fbs v3 that
 * we need, and the conversion of subgraph 0 into a "graph" model (docs/import.md).
 *
 * Flatbuffers in brief: the file starts with a uoffset (u32) to the root table and the
 * 4-byte identifier "TFL3". A table starts with an soffset (i32) to its vtable
 * (vtable = table - soffset); the vtable holds u16 vtable size, u16 table size, then one
 * u16 offset per field (0 = absent, default applies). Field i sits at table + vt[2 + i].
 * Vectors and strings are reached by a uoffset (relative to where it is stored) and start
 * with a u32 length; strings end in a NUL. A union is two fields: a u8 type, then an offset.
 * Everything is little-endian. Every one of those steps is checked here. */
#include "import/tflite.h"
#include "finetune/import.h"
#include "finetune/io.h"
#include "models/models.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================================
 * Reader
 * ====================================================================================== */

typedef struct {
    const uint8_t *b;
    size_t n;
    const char *label;
    char where[96];     /* "tensor 12", "operator 3": prefixed to field names in messages */
    ft_status st;       /* first failure */
} rd;

typedef struct {
    size_t pos, vt;     /* table and vtable positions */
    uint32_t vsize, tsize;
} tbl;

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static bool rfail(rd *r, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool rfail(rd *r, const char *field, const char *fmt, ...) {
    if (r->st) return false;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->st = ft_fail(FT_EFORMAT, "%s: corrupt TFLite file: %s%s%s: %s", r->label, r->where, r->where[0] ? " " : "", field, msg);
    return false;
}

static bool rtable(rd *r, size_t pos, tbl *t, const char *field) {
    if (r->st) return false;
    if (pos > r->n || r->n - pos < 4) return rfail(r, field, "table offset %zu is past the end (%zu bytes)", pos, r->n);
    int64_t vt = (int64_t)pos - (int32_t)le32(r->b + pos);
    if (vt < 0 || (uint64_t)vt > r->n - 4) return rfail(r, field, "vtable offset out of bounds");
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vsize = le16(r->b + t->vt);
    t->tsize = le16(r->b + t->vt + 2);
    if (t->vsize < 4 || (t->vsize & 1) || t->vsize > r->n - t->vt) return rfail(r, field, "bad vtable size %u", t->vsize);
    if (t->tsize < 4 || t->tsize > r->n - t->pos) return rfail(r, field, "table size %u runs past the end", t->tsize);
    return true;
}

/* Absolute position of field id (size bytes), 0 when absent or on error (check r->st). */
static size_t rfield(rd *r, const tbl *t, int id, size_t size, const char *field) {
    if (r->st) return 0;
    size_t slot = 4 + 2 * (size_t)id;
    if (slot + 2 > t->vsize) return 0;
    uint16_t off = le16(r->b + t->vt + slot);
    if (!off) return 0;
    if ((size_t)off + size > t->tsize) { rfail(r, field, "field runs past its table"); return 0; }
    return t->pos + off;
}

static int64_t rscalar(rd *r, const tbl *t, int id, int size, bool is_signed, int64_t def, const char *field) {
    size_t at = rfield(r, t, id, (size_t)size, field);
    if (!at) return def;
    const uint8_t *p = r->b + at;
    switch (size) {
    case 1: return is_signed ? (int64_t)(int8_t)p[0] : (int64_t)p[0];
    case 2: return is_signed ? (int64_t)(int16_t)le16(p) : (int64_t)le16(p);
    case 4: return is_signed ? (int64_t)(int32_t)le32(p) : (int64_t)le32(p);
    default: return (int64_t)le64(p);
    }
}

static float rfloat(rd *r, const tbl *t, int id, float def, const char *field) {
    size_t at = rfield(r, t, id, 4, field);
    if (!at) return def;
    uint32_t u = le32(r->b + at);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Follow the uoffset in field id. false when absent or on error. */
static bool rref(rd *r, const tbl *t, int id, size_t *target, const char *field) {
    size_t at = rfield(r, t, id, 4, field);
    if (!at) return false;
    size_t tgt = at + le32(r->b + at); /* at < n <= SIZE_MAX/2 in practice; u32 add cannot wrap a 64-bit size_t */
    if (tgt < at || tgt > r->n - 4) return rfail(r, field, "offset %zu is past the end (%zu bytes)", tgt, r->n);
    *target = tgt;
    return true;
}

static bool rvec(rd *r, const tbl *t, int id, size_t esize, size_t *data, uint32_t *len, const char *field) {
    size_t v;
    *len = 0;
    if (!rref(r, t, id, &v, field)) return false;
    uint32_t n = le32(r->b + v);
    if ((uint64_t)n * esize > r->n - v - 4) return rfail(r, field, "vector of %u elements runs past the end", n);
    *data = v + 4;
    *len = n;
    return true;
}

static bool rsubtable(rd *r, const tbl *t, int id, tbl *sub, const char *field) {
    size_t tgt;
    if (!rref(r, t, id, &tgt, field)) return false;
    return rtable(r, tgt, sub, field);
}

/* Element k of a vector of tables at data (length already checked). */
static bool rvec_table(rd *r, size_t data, uint32_t k, tbl *t, const char *field) {
    size_t e = data + 4 * (size_t)k;
    return rtable(r, e + le32(r->b + e), t, field);
}

/* A malloc'd copy of a string field; "" when absent; NULL on error. */
static char *rstring(rd *r, const tbl *t, int id, const char *field) {
    size_t d = 0;
    uint32_t len = 0;
    bool present = rvec(r, t, id, 1, &d, &len, field);
    if (r->st) return NULL;
    if (present && (d + len >= r->n || r->b[d + len] != 0)) { rfail(r, field, "string is not NUL-terminated"); return NULL; }
    char *s = ft_malloc((size_t)len + 1);
    if (!s) { r->st = ft_fail(FT_ENOMEM, "out of memory"); return NULL; }
    if (present) memcpy(s, r->b + d, len);
    s[present ? len : 0] = 0;
    return s;
}

/* A vector of int32 as a malloc'd array (n may be 0; returns non-NULL unless error). */
static int32_t *rints(rd *r, const tbl *t, int id, int *n, uint32_t max_len, const char *field) {
    size_t d = 0;
    uint32_t len = 0;
    rvec(r, t, id, 4, &d, &len, field);
    if (r->st) return NULL;
    if (len > max_len) { rfail(r, field, "%u entries (at most %u)", len, max_len); return NULL; }
    int32_t *a = ft_malloc(((size_t)len + 1) * sizeof *a);
    if (!a) { r->st = ft_fail(FT_ENOMEM, "out of memory"); return NULL; }
    for (uint32_t i = 0; i < len; i++) a[i] = (int32_t)le32(r->b + d + 4 * (size_t)i);
    *n = (int)len;
    return a;
}

/* ======================================================================================
 * Schema
 * ====================================================================================== */

static const char *const op_names[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
    "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU",
    "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB",
    "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE",
    "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT",
    "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR",
    "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE",
    "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE",
    "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK",
    "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",
    "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D",
    "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE",
    "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
};

const char *ft_tfl_op_name(int code, char *buf, size_t cap) {
    if (code >= 0 && code < (int)(sizeof op_names / sizeof op_names[0])) return op_names[code];
    snprintf(buf, cap, "op %d", code);
    return buf;
}

size_t ft_tfl_type_size(int type) {
    switch (type) {
    case FT_TFL_FLOAT32: case FT_TFL_INT32: return 4;
    case FT_TFL_FLOAT16: case FT_TFL_INT16: return 2;
    case FT_TFL_UINT8: case FT_TFL_INT8: case 6 /* BOOL */: return 1;
    case FT_TFL_INT64: case 10 /* FLOAT64 */: return 8;
    default: return 0;
    }
}

const char *ft_tfl_type_name(int type) {
    static const char *const n[] = {"float32", "float16", "int32", "uint8", "int64", "string", "bool", "int16",
                                    "complex64", "int8", "float64", "complex128", "uint64", "resource", "variant",
                                    "uint32", "uint16", "int4"};
    return type >= 0 && type < (int)(sizeof n / sizeof n[0]) ? n[type] : "unknown";
}

/* BuiltinOptions union member for each op we read options of (1-based union index). */
enum { OPT_CONV2D = 1, OPT_DEPTHWISE = 2, OPT_POOL2D = 5, OPT_FULLY_CONNECTED = 8, OPT_SOFTMAX = 9,
       OPT_CONCATENATION = 10, OPT_ADD = 11, OPT_RESHAPE = 17, OPT_MUL = 21, OPT_REDUCER = 27, OPT_SUB = 28,
       OPT_DIV = 29, OPT_SQUEEZE = 30, OPT_UNI_LSTM = 71 };

static int expected_options(int code) {
    switch (code) {
    case FT_TFL_CONV_2D: return OPT_CONV2D;
    case FT_TFL_DEPTHWISE_CONV_2D: return OPT_DEPTHWISE;
    case FT_TFL_AVERAGE_POOL_2D: case FT_TFL_MAX_POOL_2D: case 12 /* L2_POOL_2D */: return OPT_POOL2D;
    case FT_TFL_FULLY_CONNECTED: return OPT_FULLY_CONNECTED;
    case FT_TFL_SOFTMAX: return OPT_SOFTMAX;
    case FT_TFL_CONCATENATION: return OPT_CONCATENATION;
    case FT_TFL_ADD: return OPT_ADD;
    case FT_TFL_MUL: return OPT_MUL;
    case FT_TFL_SUB: return OPT_SUB;
    case FT_TFL_DIV: return OPT_DIV;
    case FT_TFL_RESHAPE: return OPT_RESHAPE;
    case FT_TFL_MEAN: case 74 /* SUM */: case 82 /* REDUCE_MAX */: return OPT_REDUCER;
    case FT_TFL_SQUEEZE: return OPT_SQUEEZE;
    case FT_TFL_UNIDIRECTIONAL_SEQUENCE_LSTM: return OPT_UNI_LSTM;
    default: return 0;
    }
}

static void read_options(rd *r, int code, int type, const tbl *o, ft_tfl_options *x) {
    memset(x, 0, sizeof *x);
    x->dilation_w = x->dilation_h = 1;
    x->depth_multiplier = 1;
    x->beta = 1.0f;
    if (!o) return;
    switch (type) {
    case OPT_CONV2D:
        x->padding = (int)rscalar(r, o, 0, 1, true, 0, "Conv2DOptions.padding");
        x->stride_w = (int)rscalar(r, o, 1, 4, true, 0, "Conv2DOptions.stride_w");
        x->stride_h = (int)rscalar(r, o, 2, 4, true, 0, "Conv2DOptions.stride_h");
        x->activation = (int)rscalar(r, o, 3, 1, true, 0, "Conv2DOptions.fused_activation_function");
        x->dilation_w = (int)rscalar(r, o, 4, 4, true, 1, "Conv2DOptions.dilation_w_factor");
        x->dilation_h = (int)rscalar(r, o, 5, 4, true, 1, "Conv2DOptions.dilation_h_factor");
        break;
    case OPT_DEPTHWISE:
        x->padding = (int)rscalar(r, o, 0, 1, true, 0, "DepthwiseConv2DOptions.padding");
        x->stride_w = (int)rscalar(r, o, 1, 4, true, 0, "DepthwiseConv2DOptions.stride_w");
        x->stride_h = (int)rscalar(r, o, 2, 4, true, 0, "DepthwiseConv2DOptions.stride_h");
        x->depth_multiplier = (int)rscalar(r, o, 3, 4, true, 0, "DepthwiseConv2DOptions.depth_multiplier");
        x->activation = (int)rscalar(r, o, 4, 1, true, 0, "DepthwiseConv2DOptions.fused_activation_function");
        x->dilation_w = (int)rscalar(r, o, 5, 4, true, 1, "DepthwiseConv2DOptions.dilation_w_factor");
        x->dilation_h = (int)rscalar(r, o, 6, 4, true, 1, "DepthwiseConv2DOptions.dilation_h_factor");
        break;
    case OPT_POOL2D:
        x->padding = (int)rscalar(r, o, 0, 1, true, 0, "Pool2DOptions.padding");
        x->stride_w = (int)rscalar(r, o, 1, 4, true, 0, "Pool2DOptions.stride_w");
        x->stride_h = (int)rscalar(r, o, 2, 4, true, 0, "Pool2DOptions.stride_h");
        x->filter_w = (int)rscalar(r, o, 3, 4, true, 0, "Pool2DOptions.filter_width");
        x->filter_h = (int)rscalar(r, o, 4, 4, true, 0, "Pool2DOptions.filter_height");
        x->activation = (int)rscalar(r, o, 5, 1, true, 0, "Pool2DOptions.fused_activation_function");
        break;
    case OPT_FULLY_CONNECTED:
        x->activation = (int)rscalar(r, o, 0, 1, true, 0, "FullyConnectedOptions.fused_activation_function");
        x->weights_format = (int)rscalar(r, o, 1, 1, true, 0, "FullyConnectedOptions.weights_format");
        x->keep_num_dims = rscalar(r, o, 2, 1, false, 0, "FullyConnectedOptions.keep_num_dims") != 0;
        break;
    case OPT_SOFTMAX: x->beta = rfloat(r, o, 0, 0.0f, "SoftmaxOptions.beta"); break;
    case OPT_CONCATENATION:
        x->axis = (int)rscalar(r, o, 0, 4, true, 0, "ConcatenationOptions.axis");
        x->activation = (int)rscalar(r, o, 1, 1, true, 0, "ConcatenationOptions.fused_activation_function");
        break;
    case OPT_ADD: case OPT_MUL: case OPT_SUB: case OPT_DIV:
        x->activation = (int)rscalar(r, o, 0, 1, true, 0, "options.fused_activation_function");
        break;
    case OPT_REDUCER: x->keep_dims = rscalar(r, o, 0, 1, false, 0, "ReducerOptions.keep_dims") != 0; break;
    case OPT_UNI_LSTM:
        x->activation = (int)rscalar(r, o, 0, 1, true, 0, "UnidirectionalSequenceLSTMOptions.fused_activation_function");
        x->cell_clip = rfloat(r, o, 1, 0.0f, "UnidirectionalSequenceLSTMOptions.cell_clip");
        x->proj_clip = rfloat(r, o, 2, 0.0f, "UnidirectionalSequenceLSTMOptions.proj_clip");
        x->time_major = rscalar(r, o, 3, 1, false, 0, "UnidirectionalSequenceLSTMOptions.time_major") != 0;
        break;
    default: break;
    }
}

void ft_tfl_free(ft_tfl_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_tensors; i++) {
        ft_free(m->tensors[i].name);
        ft_free(m->tensors[i].scale);
        ft_free(m->tensors[i].zero_point);
    }
    for (int i = 0; i < m->n_ops; i++) {
        ft_free(m->ops[i].inputs);
        ft_free(m->ops[i].outputs);
    }
    for (int i = 0; i < m->n_codes; i++) ft_free(m->custom_codes[i]);
    ft_free(m->custom_codes);
    ft_free(m->tensors);
    ft_free(m->ops);
    ft_free(m->inputs);
    ft_free(m->outputs);
    ft_free(m->description);
    ft_free(m);
}

typedef struct { const uint8_t *data; size_t size; } rbuf;

static void read_quant(rd *r, const tbl *q, ft_tfl_tensor *t) {
    size_t d;
    uint32_t n;
    if (rvec(r, q, 2, 4, &d, &n, "quantization.scale") && n) {
        if (!(t->scale = ft_malloc((size_t)n * sizeof *t->scale))) { r->st = ft_fail(FT_ENOMEM, "out of memory"); return; }
        for (uint32_t i = 0; i < n; i++) {
            uint32_t u = le32(r->b + d + 4 * (size_t)i);
            memcpy(&t->scale[i], &u, 4);
        }
        t->n_scale = (int)n;
    }
    if (rvec(r, q, 3, 8, &d, &n, "quantization.zero_point") && n) {
        if (!(t->zero_point = ft_malloc((size_t)n * sizeof *t->zero_point))) { r->st = ft_fail(FT_ENOMEM, "out of memory"); return; }
        for (uint32_t i = 0; i < n; i++) t->zero_point[i] = (int64_t)le64(r->b + d + 8 * (size_t)i);
        t->n_zero_point = (int)n;
    }
    t->custom_quantization = rscalar(r, q, 4, 1, false, 0, "quantization.details_type") != 0;
    t->quantized_dimension = (int)rscalar(r, q, 6, 4, true, 0, "quantization.quantized_dimension");
}

static void read_tensor(rd *r, const tbl *tt, ft_tfl_tensor *t, const rbuf *bufs, uint32_t n_bufs) {
    int n = 0;
    int32_t *shape = rints(r, tt, 0, &n, FT_TFL_MAX_DIMS, "shape");
    if (!shape) return;
    t->ndim = n;
    t->numel = 1;
    for (int d = 0; d < n; d++) {
        t->shape[d] = shape[d];
        if (shape[d] < 0) { rfail(r, "shape", "dimension %d is %d", d, shape[d]); break; }
        if (shape[d] && t->numel > ((int64_t)1 << 40) / shape[d]) { rfail(r, "shape", "too many elements"); break; }
        t->numel *= shape[d];
    }
    ft_free(shape);
    t->type = (int)rscalar(r, tt, 1, 1, true, 0, "type");
    t->buffer = (uint32_t)rscalar(r, tt, 2, 4, false, 0, "buffer");
    t->name = rstring(r, tt, 3, "name");
    tbl q;
    if (rsubtable(r, tt, 4, &q, "quantization")) read_quant(r, &q, t);
    size_t sp;
    t->sparse = rref(r, tt, 6, &sp, "sparsity");
    if (r->st) return;
    if (t->buffer >= n_bufs) { rfail(r, "buffer", "index %u but the model has %u buffers", t->buffer, n_bufs); return; }
    const rbuf *b = &bufs[t->buffer];
    if (b->size && !t->sparse) { /* sparse data (a compressed layout) is never read */
        size_t es = ft_tfl_type_size(t->type);
        if (!t->sparse && (!es || (uint64_t)t->numel * es != b->size)) {
            rfail(r, "buffer", "%zu bytes for shape of %lld %s elements", b->size, (long long)t->numel, ft_tfl_type_name(t->type));
            return;
        }
        t->data = b->data;
        t->nbytes = b->size;
    }
    if (t->n_scale > 1 || t->n_zero_point > 1) {
        int qd = t->quantized_dimension;
        if (qd < 0 || qd >= t->ndim || (t->n_scale != t->shape[qd] && t->n_scale > 1) ||
            (t->n_zero_point > 1 && t->n_zero_point != t->shape[qd]))
            rfail(r, "quantization", "%d scales / %d zero points do not fit quantized_dimension %d of a %d-dim tensor",
                  t->n_scale, t->n_zero_point, qd, t->ndim);
    }
}

static int32_t *index_vector(rd *r, const tbl *t, int id, int *n, int n_tensors, bool allow_missing, const char *field) {
    int32_t *a = rints(r, t, id, n, 1u << 20, field);
    if (!a) return NULL;
    for (int i = 0; i < *n; i++) {
        if ((a[i] == -1 && allow_missing) || (a[i] >= 0 && a[i] < n_tensors)) continue;
        rfail(r, field, "[%d] = %d is not a tensor index (%d tensors)", i, a[i], n_tensors);
        ft_free(a);
        return NULL;
    }
    return a;
}

ft_status ft_tfl_parse(const uint8_t *buf, size_t size, const char *label, ft_tfl_model **out) {
    *out = NULL;
    rd r = {buf, size, label ? label : "tflite", "", FT_OK};
    if (size < 8 || memcmp(buf + 4, "TFL3", 4) != 0)
        return ft_fail(FT_EFORMAT, "%s: not a TFLite file (no \"TFL3\" identifier at byte 4)", r.label);
    if (size > ((size_t)1 << 31)) return ft_fail(FT_EFORMAT, "%s: %zu bytes; files over 2 GB are not supported", r.label, size);
    ft_tfl_model *m = ft_calloc(1, sizeof *m);
    rbuf *bufs = NULL;
    if (!m) return ft_fail(FT_ENOMEM, "out of memory");
    tbl root, sg;
    if (!rtable(&r, le32(buf), &root, "root table")) goto done;
    m->version = (uint32_t)rscalar(&r, &root, 0, 4, false, 0, "Model.version");
    if (!r.st && m->version != 3) {
        r.st = ft_fail(FT_EFORMAT, "%s: TFLite schema version %u (only version 3 is supported)", r.label, m->version);
        goto done;
    }
    m->description = rstring(&r, &root, 3, "Model.description");
    if (r.st) goto done;

    /* operator codes */
    size_t codes_at = 0;
    uint32_t n_codes = 0;
    rvec(&r, &root, 1, 4, &codes_at, &n_codes, "Model.operator_codes");
    if (r.st) goto done;
    int *code_of = ft_calloc((size_t)n_codes + 1, sizeof *code_of), *ver_of = ft_calloc((size_t)n_codes + 1, sizeof *ver_of);
    m->custom_codes = ft_calloc((size_t)n_codes + 1, sizeof *m->custom_codes);
    if (!code_of || !ver_of || !m->custom_codes) { ft_free(code_of); ft_free(ver_of); r.st = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    m->n_codes = (int)n_codes;
    for (uint32_t i = 0; i < n_codes && !r.st; i++) {
        tbl c;
        snprintf(r.where, sizeof r.where, "operator_codes[%u]", i);
        if (!rvec_table(&r, codes_at, i, &c, "OperatorCode")) break;
        int64_t dep = rscalar(&r, &c, 0, 1, true, 0, "deprecated_builtin_code");
        int64_t ext = rscalar(&r, &c, 3, 4, true, 0, "builtin_code");
        code_of[i] = (int)(dep > ext ? dep : ext); /* as TFLite's GetBuiltinCode */
        ver_of[i] = (int)rscalar(&r, &c, 2, 4, true, 1, "version");
        if (code_of[i] < 0) rfail(&r, "builtin_code", "negative operator code %d", code_of[i]);
        if (code_of[i] == FT_TFL_CUSTOM) m->custom_codes[i] = rstring(&r, &c, 1, "custom_code");
    }

    /* buffers */
    size_t bufs_at = 0;
    uint32_t n_bufs = 0;
    r.where[0] = 0;
    rvec(&r, &root, 4, 4, &bufs_at, &n_bufs, "Model.buffers");
    if (!r.st && !(bufs = ft_calloc((size_t)n_bufs + 1, sizeof *bufs))) r.st = ft_fail(FT_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n_bufs && !r.st; i++) {
        tbl b;
        snprintf(r.where, sizeof r.where, "buffers[%u]", i);
        if (!rvec_table(&r, bufs_at, i, &b, "Buffer")) break;
        size_t d = 0;
        uint32_t len = 0;
        if (rvec(&r, &b, 0, 1, &d, &len, "data") && len) {
            bufs[i].data = buf + d;
            bufs[i].size = len;
        }
        uint64_t off = (uint64_t)rscalar(&r, &b, 1, 8, false, 0, "offset"), sz = (uint64_t)rscalar(&r, &b, 2, 8, false, 0, "size");
        if (off > 1) { /* stored after the flatbuffer (models over 2 GB) */
            if (off > size || sz > size - off) { rfail(&r, "offset", "%llu + size %llu is past the end", (unsigned long long)off, (unsigned long long)sz); break; }
            bufs[i].data = buf + off;
            bufs[i].size = (size_t)sz;
        }
    }

    /* subgraph 0 */
    size_t sgs_at = 0;
    uint32_t n_sg = 0;
    r.where[0] = 0;
    rvec(&r, &root, 2, 4, &sgs_at, &n_sg, "Model.subgraphs");
    if (!r.st && n_sg < 1) rfail(&r, "Model.subgraphs", "no subgraph");
    m->n_subgraphs = (int)n_sg;
    if (r.st || !rvec_table(&r, sgs_at, 0, &sg, "subgraphs[0]")) goto codes_done;
    size_t ts_at = 0;
    uint32_t n_ts = 0;
    rvec(&r, &sg, 0, 4, &ts_at, &n_ts, "SubGraph.tensors");
    if (!r.st && !(m->tensors = ft_calloc((size_t)n_ts + 1, sizeof *m->tensors))) r.st = ft_fail(FT_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n_ts && !r.st; i++) {
        tbl tt;
        snprintf(r.where, sizeof r.where, "tensor %u", i);
        m->n_tensors = (int)i + 1;
        if (!rvec_table(&r, ts_at, i, &tt, "Tensor")) break;
        read_tensor(&r, &tt, &m->tensors[i], bufs, n_bufs);
    }
    r.where[0] = 0;
    if (!r.st) m->inputs = index_vector(&r, &sg, 1, &m->n_inputs, m->n_tensors, false, "SubGraph.inputs");
    if (!r.st) m->outputs = index_vector(&r, &sg, 2, &m->n_outputs, m->n_tensors, false, "SubGraph.outputs");
    size_t ops_at = 0;
    uint32_t n_ops = 0;
    if (!r.st) rvec(&r, &sg, 3, 4, &ops_at, &n_ops, "SubGraph.operators");
    if (!r.st && !(m->ops = ft_calloc((size_t)n_ops + 1, sizeof *m->ops))) r.st = ft_fail(FT_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n_ops && !r.st; i++) {
        tbl ot, opt;
        ft_tfl_op *op = &m->ops[i];
        snprintf(r.where, sizeof r.where, "operator %u", i);
        m->n_ops = (int)i + 1;
        if (!rvec_table(&r, ops_at, i, &ot, "Operator")) break;
        uint32_t ci = (uint32_t)rscalar(&r, &ot, 0, 4, false, 0, "opcode_index");
        if (!r.st && ci >= n_codes) { rfail(&r, "opcode_index", "%u but there are %u operator codes", ci, n_codes); break; }
        op->code = code_of[ci];
        op->version = ver_of[ci];
        op->custom = m->custom_codes[ci];
        op->inputs = index_vector(&r, &ot, 1, &op->n_inputs, m->n_tensors, true, "inputs");
        if (!r.st) op->outputs = index_vector(&r, &ot, 2, &op->n_outputs, m->n_tensors, false, "outputs");
        int type = (int)rscalar(&r, &ot, 3, 1, false, 0, "builtin_options_type");
        bool has = rsubtable(&r, &ot, 4, &opt, "builtin_options");
        if (r.st) break;
        int want = expected_options(op->code);
        char nb[32];
        if (has && type && want && type != want) {
            rfail(&r, "builtin_options_type", "%d, but %s takes options type %d", type, ft_tfl_op_name(op->code, nb, sizeof nb), want);
            break;
        }
        read_options(&r, op->code, want, has && type == want ? &opt : NULL, &op->opt);
    }
codes_done:
    ft_free(code_of);
    ft_free(ver_of);
done:
    ft_free(bufs);
    if (r.st) { ft_tfl_free(m); return r.st; }
    *out = m;
    return FT_OK;
}

/* ======================================================================================
 * Dequantization and layouts
 * ====================================================================================== */

static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, f = h & 0x3ff, u;
    if (e == 0) {
        if (!f) u = s;
        else { /* subnormal */
            int k = -1;
            do { k++; f <<= 1; } while (!(f & 0x400));
            u = s | (uint32_t)(127 - 15 - k) << 23 | (f & 0x3ff) << 13;
        }
    } else if (e == 31) {
        u = s | 0x7f800000u | f << 13;
    } else {
        u = s | (e + 127 - 15) << 23 | f << 13;
    }
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* The tensor's values as float, in its own (TFLite) layout. Quantized integers use
 * real = (q - zero_point) * scale, per tensor or per channel along quantized_dimension;
 * fallback_scale (per channel, n_fallback entries) stands in for a missing scale (int32
 * biases: input_scale * weight_scale). */
static ft_status dequantize(const char *label, const ft_tfl_tensor *t, const float *fallback_scale, int n_fallback, float *dst) {
    const char *tn = t->name && t->name[0] ? t->name : "(unnamed)";
    if (t->sparse) return ft_fail(FT_EUNSUPPORTED, "%s: tensor '%s' is sparse (not supported)", label, tn);
    if (t->custom_quantization) return ft_fail(FT_EUNSUPPORTED, "%s: tensor '%s' uses custom quantization (not supported)", label, tn);
    if (!t->data) return ft_fail(FT_EFORMAT, "%s: tensor '%s' should be a constant but has no data", label, tn);
    const uint8_t *p = t->data;
    int64_t n = t->numel;
    if (t->type == FT_TFL_FLOAT32) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = le32(p + 4 * i);
            memcpy(&dst[i], &u, 4);
        }
        return FT_OK;
    }
    if (t->type == FT_TFL_FLOAT16) {
        for (int64_t i = 0; i < n; i++) dst[i] = half_to_float(le16(p + 2 * i));
        return FT_OK;
    }
    if (t->type != FT_TFL_UINT8 && t->type != FT_TFL_INT8 && t->type != FT_TFL_INT32 && t->type != FT_TFL_INT16 && t->type != FT_TFL_INT64)
        return ft_fail(FT_EUNSUPPORTED, "%s: tensor '%s' has type %s (weights must be float32, float16, uint8, int8, int16, int32 or int64)",
                       label, tn, ft_tfl_type_name(t->type));
    const float *scale = t->scale;
    int n_scale = t->n_scale;
    if (!n_scale && fallback_scale) { scale = fallback_scale; n_scale = n_fallback; }
    if (!n_scale)
        return ft_fail(FT_EUNSUPPORTED, "%s: tensor '%s' is %s without quantization scale", label, tn, ft_tfl_type_name(t->type));
    /* [outer, C, inner] around the quantized dimension */
    int qd = t->quantized_dimension;
    int64_t C = 1, inner = 1;
    if (n_scale > 1 || t->n_zero_point > 1) {
        if (qd < 0 || qd >= t->ndim) return ft_fail(FT_EFORMAT, "%s: tensor '%s': quantized_dimension %d", label, tn, qd);
        C = t->shape[qd];
        for (int d = qd + 1; d < t->ndim; d++) inner *= t->shape[d];
        if ((n_scale > 1 && n_scale != C) || (t->n_zero_point > 1 && t->n_zero_point != C))
            return ft_fail(FT_EFORMAT, "%s: tensor '%s': %d scales for %lld channels", label, tn, n_scale, (long long)C);
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = C > 1 ? (i / inner) % C : 0;
        double s = scale[n_scale > 1 ? c : 0];
        int64_t zp = t->n_zero_point ? t->zero_point[t->n_zero_point > 1 ? c : 0] : 0;
        int64_t q;
        switch (t->type) {
        case FT_TFL_UINT8: q = p[i]; break;
        case FT_TFL_INT8: q = (int8_t)p[i]; break;
        case FT_TFL_INT16: q = (int16_t)le16(p + 2 * i); break;
        case FT_TFL_INT32: q = (int32_t)le32(p + 4 * i); break;
        default: q = (int64_t)le64(p + 8 * i); break;
        }
        dst[i] = (float)(((double)q - (double)zp) * s); /* doubles: a corrupt zero point cannot overflow */
    }
    return FT_OK;
}

/* 4-D permutation: dst dim i = src dim perm[i]. */
static void permute4(const float *src, const int64_t s[4], const int perm[4], float *dst) {
    int64_t st[4] = {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
    int64_t d[4] = {s[perm[0]], s[perm[1]], s[perm[2]], s[perm[3]]};
    int64_t o = 0;
    for (int64_t a = 0; a < d[0]; a++)
        for (int64_t b = 0; b < d[1]; b++)
            for (int64_t c = 0; c < d[2]; c++)
                for (int64_t e = 0; e < d[3]; e++)
                    dst[o++] = src[a * st[perm[0]] + b * st[perm[1]] + c * st[perm[2]] + e * st[perm[3]]];
}

/* ======================================================================================
 * Conversion to a "graph" config
 * ====================================================================================== */

typedef enum { FILL_COPY, FILL_OHWI, FILL_DEPTHWISE, FILL_NHWC, FILL_BIAS, FILL_STACK, FILL_ZERO } fill_kind;

typedef struct {
    char *param;        /* parameter name */
    int tensor;         /* source tensor */
    fill_kind kind;
    int64_t src_shape[4]; /* the source as 4-D (TFLite layout) for permutes */
    int in_tensor, w_tensor; /* bias: for the input_scale * weight_scale fallback */
    int stack[4];       /* FILL_STACK: these tensors' values one after another (LSTM gates) */
} fill;

typedef struct {
    char *node;         /* graph node that holds this tensor's value, NULL if none yet */
    bool nchw;          /* a 4-D activation, laid out NCHW in the graph */
    int alias;          /* constant tensor: the tensor whose data it is (DEQUANTIZE), else itself */
} tval;

typedef struct {        /* what we emitted, for finding the head */
    char *name;
    const char *op;
    char *input;
    char *weight, *bias;
} emitted;

/* A string -> int hash map (open addressing), for node names: a file may repeat one
 * operator thousands of times, so name lookups must not be linear. */
typedef struct {
    char **key;
    int *val;
    size_t cap, n;
} smap;

static uint64_t shash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int *smap_find(const smap *m, const char *k) {
    if (!m->cap) return NULL;
    for (size_t i = shash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->key[i]) return NULL;
        if (!strcmp(m->key[i], k)) return &m->val[i];
    }
}

static ft_status smap_put(smap *m, const char *k, int v) {
    int *at = smap_find(m, k);
    if (at) { *at = v; return FT_OK; }
    if (2 * (m->n + 1) > m->cap) { /* grow to keep the load under 1/2 */
        size_t cap = m->cap ? 2 * m->cap : 64;
        char **key = ft_calloc(cap, sizeof *key);
        int *val = ft_calloc(cap, sizeof *val);
        if (!key || !val) { ft_free(key); ft_free(val); return ft_fail(FT_ENOMEM, "out of memory"); }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->key[i]) continue;
            size_t j = shash(m->key[i]) & (cap - 1);
            while (key[j]) j = (j + 1) & (cap - 1);
            key[j] = m->key[i];
            val[j] = m->val[i];
        }
        ft_free(m->key);
        ft_free(m->val);
        m->key = key;
        m->val = val;
        m->cap = cap;
    }
    size_t i = shash(k) & (m->cap - 1);
    while (m->key[i]) i = (i + 1) & (m->cap - 1);
    if (!(m->key[i] = ft_strdup(k))) return ft_fail(FT_ENOMEM, "out of memory");
    m->val[i] = v;
    m->n++;
    return FT_OK;
}

static void smap_free(smap *m) {
    for (size_t i = 0; i < m->cap; i++) ft_free(m->key[i]);
    ft_free(m->key);
    ft_free(m->val);
    memset(m, 0, sizeof *m);
}

typedef struct {
    const ft_tfl_model *tm;
    const char *label;
    smap used;          /* node names taken ("input" included) */
    smap next_suffix;   /* name -> the next _k to try for it */
    smap emitted_at;    /* node name -> index in em */
    json_t *root, *nodes, *params;
    tval *tv;
    fill *fills;
    int n_fills, cap_fills;
    emitted *em;
    int n_em, cap_em;
    int cur_op;         /* for messages */
} imp;

static const char *tname(const imp *im, int t) {
    const char *n = im->tm->tensors[t].name;
    return n && n[0] ? n : "(unnamed)";
}

static ft_status op_fail(imp *im, ft_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ft_status op_fail(imp *im, ft_status s, const char *fmt, ...) {
    const ft_tfl_op *op = &im->tm->ops[im->cur_op];
    char msg[300], nb[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *out = op->n_outputs ? tname(im, op->outputs[0]) : "-";
    const char *opn = op->code == FT_TFL_CUSTOM && op->custom ? op->custom : ft_tfl_op_name(op->code, nb, sizeof nb);
    if (s == FT_EUNSUPPORTED && !strncmp(msg, "unsupported ", 12)) /* "unsupported op X in node 3 (output 'y')" */
        return ft_fail(s, "%s: %s in node %d (output '%.120s')", im->label, msg, im->cur_op, out);
    return ft_fail(s, "%s: node %d (%s, output '%.120s'): %s", im->label, im->cur_op, opn, out, msg);
}

static bool name_used(const imp *im, const char *name) { return smap_find(&im->used, name) != NULL; }

/* A readable, unique node name from a TFLite tensor name: the first of its ';'-joined
 * names, without the last path component when strip (".../Conv2D_Fold" of a weight),
 * '/' -> '.', other odd characters -> '_' (names are used in globs). */
static void make_name(imp *im, const char *src, bool strip, const char *suffix, char *out, size_t cap) {
    char base[160];
    size_t n = 0;
    const char *s = src ? src : "";
    size_t len = strcspn(s, ";");
    if (strip) {
        size_t cut = len;
        while (cut > 0 && s[cut - 1] != '/') cut--;
        if (cut > 1) len = cut - 1;
    }
    for (size_t i = 0; i < len && n + 1 < sizeof base; i++) {
        char c = s[i];
        if (c == '/') c = '.';
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) c = '_';
        base[n++] = c;
    }
    while (n && base[n - 1] == '.') n--;
    base[n] = 0;
    if (!n) snprintf(base, sizeof base, "op%d", im->cur_op);
    snprintf(out, cap, "%s%s", base, suffix ? suffix : "");
    if (!name_used(im, out)) return;
    char plain[200];
    snprintf(plain, sizeof plain, "%s", out);
    int *next = smap_find(&im->next_suffix, plain), k = next ? *next : 2;
    for (;; k++) {
        snprintf(out, cap, "%s%s_%d", base, suffix ? suffix : "", k);
        if (!name_used(im, out)) break;
    }
    smap_put(&im->next_suffix, plain, k + 1); /* only a hint: out of memory just means a longer search */
}

static ft_status oom(void) { return ft_fail(FT_ENOMEM, "out of memory"); }

/* Append a node; inputs NULL-terminated list of names; params may be NULL. attrs stolen. */
static ft_status add_node(imp *im, const char *name, const char *op, const char *const *inputs, int n_in,
                          const char *weight, const char *bias, json_t *attrs) {
    json_t *nd = json_object(), *ins = json_array();
    if (!nd || !ins) { json_decref(nd); json_decref(ins); json_decref(attrs); return oom(); }
    json_object_set_new(nd, "name", json_string(name));
    json_object_set_new(nd, "op", json_string(op));
    for (int i = 0; i < n_in; i++) json_array_append_new(ins, json_string(inputs[i]));
    json_object_set_new(nd, "inputs", ins);
    if (weight || bias) {
        json_t *ps = json_array();
        if (weight) json_array_append_new(ps, json_string(weight));
        if (bias) json_array_append_new(ps, json_string(bias));
        json_object_set_new(nd, "params", ps);
    }
    if (attrs && json_object_size(attrs)) json_object_set(nd, "attrs", attrs);
    json_decref(attrs);
    json_object_set_new(nd, "source", json_integer(im->cur_op));
    if (json_array_append_new(im->nodes, nd)) return oom();
    if (im->n_em == im->cap_em) {
        int cap = im->cap_em ? 2 * im->cap_em : 64;
        emitted *e = ft_realloc(im->em, (size_t)cap * sizeof *e);
        if (!e) return oom();
        im->em = e;
        im->cap_em = cap;
    }
    ft_status st = smap_put(&im->used, name, 1);
    if (!st) st = smap_put(&im->emitted_at, name, im->n_em);
    if (st) return st;
    emitted *e = &im->em[im->n_em];
    memset(e, 0, sizeof *e);
    e->op = op; /* string literals */
    e->name = ft_strdup(name);
    e->input = n_in ? ft_strdup(inputs[0]) : NULL;
    e->weight = weight ? ft_strdup(weight) : NULL;
    e->bias = bias ? ft_strdup(bias) : NULL;
    im->n_em++;
    if (!e->name || (n_in && !e->input) || (weight && !e->weight) || (bias && !e->bias)) return oom();
    return FT_OK;
}

/* Declare a parameter filled from tensor t. */
static ft_status add_param(imp *im, const char *name, int ndim, const int64_t *shape, int t, fill_kind kind,
                           const int64_t src4[4], int in_t, int w_t, bool buffer) {
    json_t *p = json_object(), *sh = json_array();
    if (!p || !sh) { json_decref(p); json_decref(sh); return oom(); }
    json_object_set_new(p, "name", json_string(name));
    for (int d = 0; d < ndim; d++) json_array_append_new(sh, json_integer(shape[d]));
    json_object_set_new(p, "shape", sh);
    if (buffer) json_object_set_new(p, "buffer", json_true());
    if (json_array_append_new(im->params, p)) return oom();
    if (im->n_fills == im->cap_fills) {
        int cap = im->cap_fills ? 2 * im->cap_fills : 64;
        fill *f = ft_realloc(im->fills, (size_t)cap * sizeof *f);
        if (!f) return oom();
        im->fills = f;
        im->cap_fills = cap;
    }
    fill *f = &im->fills[im->n_fills];
    memset(f, 0, sizeof *f);
    f->param = ft_strdup(name);
    f->tensor = im->tv[t].alias;
    f->kind = kind;
    if (src4) memcpy(f->src_shape, src4, sizeof f->src_shape);
    f->in_tensor = in_t;
    f->w_tensor = w_t;
    im->n_fills++;
    return f->param ? FT_OK : oom();
}

static bool is_const(const imp *im, int t) { return t >= 0 && im->tm->tensors[im->tv[t].alias].data != NULL; }

/* The graph node holding activation tensor t. */
static ft_status act_input(imp *im, int t, const char **name) {
    if (t < 0) return op_fail(im, FT_EFORMAT, "a required input is missing (-1)");
    if (im->tm->tensors[t].sparse) return op_fail(im, FT_EUNSUPPORTED, "sparse tensor '%s' is not supported", tname(im, t));
    if (is_const(im, t)) return op_fail(im, FT_EUNSUPPORTED, "constant tensor '%s' where an activation is expected is not supported", tname(im, t));
    if (!im->tv[t].node) return op_fail(im, FT_EFORMAT, "input tensor %d '%s' is not produced by an earlier operator", t, tname(im, t));
    *name = im->tv[t].node;
    return FT_OK;
}

static ft_status set_output(imp *im, int t, const char *node, bool nchw) {
    ft_free(im->tv[t].node);
    im->tv[t].node = ft_strdup(node);
    im->tv[t].nchw = nchw;
    return im->tv[t].node ? FT_OK : oom();
}

/* Fused activation after node `name`; *name becomes the activation's node. */
static ft_status fused_activation(imp *im, int act, char *name, size_t cap) {
    const char *op = NULL;
    switch (act) {
    case FT_TFL_ACT_NONE: return FT_OK;
    case FT_TFL_ACT_RELU: op = "relu"; break;
    case FT_TFL_ACT_RELU6: op = "relu6"; break;
    case FT_TFL_ACT_TANH: op = "tanh"; break;
    default: return op_fail(im, FT_EUNSUPPORTED, "fused activation %d is not supported (NONE, RELU, RELU6, TANH are)", act);
    }
    char an[256];
    char suffix[16];
    snprintf(suffix, sizeof suffix, ".%s", op);
    make_name(im, name, false, suffix, an, sizeof an);
    const char *in[1] = {name};
    ft_status s = add_node(im, an, op, in, 1, NULL, NULL, NULL);
    if (!s) snprintf(name, cap, "%s", an);
    return s;
}

/* TF "SAME": out = ceil(in / stride); the extra padding goes to the bottom/right. */
static void same_pad(int64_t in, int k, int stride, int dil, int *before, int *after) {
    int64_t out = (in + stride - 1) / stride;
    int64_t need = (out - 1) * stride + (int64_t)(k - 1) * dil + 1 - in;
    if (need < 0) need = 0;
    *before = (int)(need / 2);
    *after = (int)(need - need / 2);
}

static bool nhwc4(const imp *im, int t) { return im->tm->tensors[t].ndim == 4; }

/* Output spatial size for a window op, given pads. */
static int64_t win_out(int64_t in, int k, int s, int dil, int pb, int pa) { return (in + pb + pa - (int64_t)(k - 1) * dil - 1) / s + 1; }

static ft_status check_out_shape(imp *im, int t, const int64_t *want, int nd) {
    const ft_tfl_tensor *o = &im->tm->tensors[t];
    bool ok = o->ndim == nd;
    for (int d = 0; ok && d < nd; d++) ok = o->shape[d] == want[d];
    if (!ok) return op_fail(im, FT_EFORMAT, "output tensor '%s' has a shape that does not follow from the inputs", tname(im, t));
    return FT_OK;
}

static ft_status conv_like(imp *im, const ft_tfl_op *op, bool depthwise) {
    const ft_tfl_model *tm = im->tm;
    if (op->n_inputs < 2 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs input, filter[, bias] and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    int xt = op->inputs[0], wt = op->inputs[1], bt = op->n_inputs > 2 ? op->inputs[2] : -1;
    if (!nhwc4(im, xt) || wt < 0 || tm->tensors[wt].ndim != 4) return op_fail(im, FT_EFORMAT, "input and filter must be 4-D");
    if (!is_const(im, wt)) return op_fail(im, FT_EUNSUPPORTED, "the filter is not a constant");
    if (bt >= 0 && !is_const(im, bt)) return op_fail(im, FT_EUNSUPPORTED, "the bias is not a constant");
    const ft_tfl_tensor *X = &tm->tensors[xt], *W = &tm->tensors[im->tv[wt].alias];
    const ft_tfl_options *o = &op->opt;
    if (o->stride_h < 1 || o->stride_w < 1 || o->stride_h > 4096 || o->stride_w > 4096 || o->dilation_h < 1 || o->dilation_w < 1 ||
        o->dilation_h > 4096 || o->dilation_w > 4096)
        return op_fail(im, FT_EFORMAT, "stride %dx%d / dilation %dx%d", o->stride_h, o->stride_w, o->dilation_h, o->dilation_w);
    int64_t H = X->shape[1], Wd = X->shape[2], C = X->shape[3];
    int64_t O, KH = W->shape[1], KW = W->shape[2], I;
    int groups;
    if (depthwise) {
        O = W->shape[3];
        I = 1;
        if (W->shape[0] != 1 || C < 1 || O % C) return op_fail(im, FT_EFORMAT, "depthwise filter [1,%d,%d,%d] for %lld input channels",
                                                              W->shape[1], W->shape[2], W->shape[3], (long long)C);
        groups = (int)C;
    } else {
        O = W->shape[0];
        I = W->shape[3];
        if (I < 1 || C % I || C / I > (1 << 24)) return op_fail(im, FT_EFORMAT, "filter has %lld input channels for an input of %lld", (long long)I, (long long)C);
        groups = (int)(C / I);
        if (O % groups) return op_fail(im, FT_EFORMAT, "%lld filters do not split into %d groups", (long long)O, groups);
    }
    if (KH < 1 || KW < 1 || O < 1) return op_fail(im, FT_EFORMAT, "empty filter");
    if (bt >= 0 && (tm->tensors[bt].numel != O)) return op_fail(im, FT_EFORMAT, "bias has %lld values for %lld filters", (long long)tm->tensors[bt].numel, (long long)O);
    int pad[4] = {0, 0, 0, 0};
    if (o->padding == FT_TFL_PAD_SAME) {
        same_pad(H, (int)KH, o->stride_h, o->dilation_h, &pad[0], &pad[2]);
        same_pad(Wd, (int)KW, o->stride_w, o->dilation_w, &pad[1], &pad[3]);
    } else if (o->padding != FT_TFL_PAD_VALID) {
        return op_fail(im, FT_EFORMAT, "padding %d", o->padding);
    }
    int64_t want[4] = {X->shape[0], win_out(H, (int)KH, o->stride_h, o->dilation_h, pad[0], pad[2]),
                       win_out(Wd, (int)KW, o->stride_w, o->dilation_w, pad[1], pad[3]), O};
    if ((s = check_out_shape(im, op->outputs[0], want, 4))) return s;

    char name[256], wn[300], bn[300];
    make_name(im, W->name, true, NULL, name, sizeof name);
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    int64_t wshape[4] = {O, I, KH, KW}, src4[4] = {W->shape[0], W->shape[1], W->shape[2], W->shape[3]};
    if ((s = add_param(im, wn, 4, wshape, wt, depthwise ? FILL_DEPTHWISE : FILL_OHWI, src4, -1, -1, false))) return s;
    if (bt >= 0 && (s = add_param(im, bn, 1, &O, bt, FILL_BIAS, NULL, xt, wt, false))) return s;
    json_t *a = json_pack("{s:[i,i], s:[i,i,i,i], s:[i,i], s:i}", "stride", o->stride_h, o->stride_w, "pad", pad[0], pad[1], pad[2],
                          pad[3], "dilation", o->dilation_h, o->dilation_w, "groups", groups);
    const char *in[1] = {x};
    if ((s = add_node(im, name, "conv2d", in, 1, wn, bt >= 0 ? bn : NULL, a))) return s;
    if ((s = fused_activation(im, o->activation, name, sizeof name))) return s;
    return set_output(im, op->outputs[0], name, true);
}

static ft_status pool(imp *im, const ft_tfl_op *op, bool avg) {
    if (op->n_inputs < 1 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs an input and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    int xt = op->inputs[0];
    if (!nhwc4(im, xt)) return op_fail(im, FT_EFORMAT, "input must be 4-D");
    const ft_tfl_tensor *X = &im->tm->tensors[xt];
    const ft_tfl_options *o = &op->opt;
    if (o->filter_h < 1 || o->filter_w < 1 || o->stride_h < 1 || o->stride_w < 1 || o->filter_h > (1 << 20) ||
        o->filter_w > (1 << 20) || o->stride_h > 4096 || o->stride_w > 4096)
        return op_fail(im, FT_EFORMAT, "filter %dx%d stride %dx%d", o->filter_h, o->filter_w, o->stride_h, o->stride_w);
    int pad[4] = {0, 0, 0, 0};
    if (o->padding == FT_TFL_PAD_SAME) {
        same_pad(X->shape[1], o->filter_h, o->stride_h, 1, &pad[0], &pad[2]);
        same_pad(X->shape[2], o->filter_w, o->stride_w, 1, &pad[1], &pad[3]);
    } else if (o->padding != FT_TFL_PAD_VALID) {
        return op_fail(im, FT_EFORMAT, "padding %d", o->padding);
    }
    int64_t want[4] = {X->shape[0], win_out(X->shape[1], o->filter_h, o->stride_h, 1, pad[0], pad[2]),
                       win_out(X->shape[2], o->filter_w, o->stride_w, 1, pad[1], pad[3]), X->shape[3]};
    if ((s = check_out_shape(im, op->outputs[0], want, 4))) return s;
    char name[256];
    make_name(im, tname(im, op->outputs[0]), false, NULL, name, sizeof name);
    const char *in[1] = {x};
    bool global = avg && want[1] == 1 && want[2] == 1 && o->filter_h == X->shape[1] && o->filter_w == X->shape[2] && !pad[0] &&
                  !pad[1] && !pad[2] && !pad[3];
    if (global) s = add_node(im, name, "global_avg_pool", in, 1, NULL, NULL, json_pack("{s:b}", "keepdim", 1));
    else
        s = add_node(im, name, avg ? "avg_pool2d" : "max_pool2d", in, 1, NULL, NULL,
                     avg ? json_pack("{s:[i,i], s:[i,i], s:[i,i,i,i], s:b}", "kernel", o->filter_h, o->filter_w, "stride", o->stride_h,
                                     o->stride_w, "pad", pad[0], pad[1], pad[2], pad[3], "count_include_pad", 0)
                         : json_pack("{s:[i,i], s:[i,i], s:[i,i,i,i]}", "kernel", o->filter_h, o->filter_w, "stride", o->stride_h,
                                     o->stride_w, "pad", pad[0], pad[1], pad[2], pad[3]));
    if (s) return s;
    if ((s = fused_activation(im, o->activation, name, sizeof name))) return s;
    return set_output(im, op->outputs[0], name, true);
}

/* Bring activation tensor t to TFLite (NHWC) memory order: a permute when it is NCHW in
 * the graph and the two orders differ (H*W > 1 and C > 1). */
static ft_status to_nhwc_order(imp *im, int t, const char **node, char *buf, size_t cap) {
    const ft_tfl_tensor *T = &im->tm->tensors[t];
    if (!im->tv[t].nchw || (int64_t)T->shape[1] * T->shape[2] == 1 || T->shape[3] == 1) return FT_OK;
    make_name(im, *node, false, ".nhwc", buf, cap);
    const char *in[1] = {*node};
    ft_status s = add_node(im, buf, "permute", in, 1, NULL, NULL, json_pack("{s:[i,i,i,i]}", "dims", 0, 2, 3, 1));
    *node = buf;
    return s;
}

static ft_status fully_connected(imp *im, const ft_tfl_op *op) {
    const ft_tfl_model *tm = im->tm;
    if (op->n_inputs < 2 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs input, weights[, bias] and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    int xt = op->inputs[0], wt = op->inputs[1], bt = op->n_inputs > 2 ? op->inputs[2] : -1;
    if (wt < 0 || !is_const(im, wt) || (bt >= 0 && !is_const(im, bt))) return op_fail(im, FT_EUNSUPPORTED, "weights and bias must be constants");
    const ft_tfl_tensor *X = &tm->tensors[xt], *W = &tm->tensors[im->tv[wt].alias];
    if (op->opt.weights_format != 0) return op_fail(im, FT_EUNSUPPORTED, "shuffled weights format %d is not supported", op->opt.weights_format);
    if (W->ndim != 2 || W->shape[1] < 1) return op_fail(im, FT_EFORMAT, "weights must be 2-D");
    int64_t O = W->shape[0], I = W->shape[1];
    if (bt >= 0 && tm->tensors[bt].numel != O) return op_fail(im, FT_EFORMAT, "bias has %lld values for %lld outputs", (long long)tm->tensors[bt].numel, (long long)O);
    if (X->ndim < 2 || X->shape[0] < 1) return op_fail(im, FT_EUNSUPPORTED, "input of %d dims", X->ndim);
    int64_t per = X->numel / X->shape[0];
    char name[256], wn[300], bn[300], pb[300], fb[300];
    make_name(im, W->name, true, NULL, name, sizeof name);
    const char *cur = x;
    if (per == I && X->ndim > 2) { /* flatten each example in TFLite order */
        if (X->ndim == 4 && (s = to_nhwc_order(im, xt, &cur, pb, sizeof pb))) return s;
        make_name(im, name, false, ".flatten", fb, sizeof fb);
        const char *in[1] = {cur};
        if ((s = add_node(im, fb, "flatten", in, 1, NULL, NULL, NULL))) return s;
        cur = fb;
    } else if (per != I && !(X->shape[X->ndim - 1] == I && op->opt.keep_num_dims && X->ndim != 4)) {
        return op_fail(im, FT_EUNSUPPORTED, "input [%lld values per example] does not match %lld weight columns", (long long)per, (long long)I);
    }
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    int64_t wshape[2] = {O, I};
    if ((s = add_param(im, wn, 2, wshape, wt, FILL_COPY, NULL, -1, -1, false))) return s;
    if (bt >= 0 && (s = add_param(im, bn, 1, &O, bt, FILL_BIAS, NULL, xt, wt, false))) return s;
    const char *in[1] = {cur};
    if ((s = add_node(im, name, "linear", in, 1, wn, bt >= 0 ? bn : NULL, NULL))) return s;
    if ((s = fused_activation(im, op->opt.activation, name, sizeof name))) return s;
    return set_output(im, op->outputs[0], name, false);
}

/* A constant operand of a binary op, as a parameter in the layout of the other operand. */
static ft_status const_operand(imp *im, int t, bool other_nchw, const char *node, const char *suffix, char *pname, size_t cap) {
    const ft_tfl_tensor *T = &im->tm->tensors[im->tv[t].alias];
    snprintf(pname, cap, "%s%s", node, suffix);
    int64_t shape[FT_TFL_MAX_DIMS];
    if (other_nchw && T->ndim <= 4 && T->ndim > 0 && T->numel > 1) {
        int64_t s4[4] = {1, 1, 1, 1};
        for (int d = 0; d < T->ndim; d++) s4[4 - T->ndim + d] = T->shape[d];
        int64_t nchw[4] = {s4[0], s4[3], s4[1], s4[2]};
        return add_param(im, pname, 4, nchw, t, FILL_NHWC, s4, -1, -1, true);
    }
    if (T->ndim > FT_PARAM_MAX_DIMS) return op_fail(im, FT_EUNSUPPORTED, "constant of %d dims", T->ndim);
    for (int d = 0; d < T->ndim; d++) shape[d] = T->shape[d];
    return add_param(im, pname, T->ndim, shape, t, FILL_COPY, NULL, -1, -1, true);
}

static ft_status binary(imp *im, const ft_tfl_op *op, const char *gop) {
    if (op->n_inputs != 2 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs two inputs and an output");
    int a = op->inputs[0], b = op->inputs[1];
    if (a < 0 || b < 0) return op_fail(im, FT_EFORMAT, "missing input");
    bool ca = is_const(im, a), cb = is_const(im, b);
    if (ca && cb) return op_fail(im, FT_EUNSUPPORTED, "both inputs are constants");
    int act_t = ca ? b : a;
    const char *xa = NULL;
    ft_status s = act_input(im, act_t, &xa);
    if (s) return s;
    bool nchw = im->tv[act_t].nchw;
    const ft_tfl_tensor *A = &im->tm->tensors[a], *B = &im->tm->tensors[b];
    if (!ca && !cb) {
        const char *xb;
        if ((s = act_input(im, b, &xb))) return s;
        if (im->tv[a].nchw != im->tv[b].nchw && A->numel > 1 && B->numel > 1)
            return op_fail(im, FT_EUNSUPPORTED, "broadcasting a 4-D and a %d-D activation", im->tv[a].nchw ? B->ndim : A->ndim);
        nchw = im->tv[a].nchw || im->tv[b].nchw;
    }
    char name[256], cn[300];
    make_name(im, tname(im, op->outputs[0]), false, NULL, name, sizeof name);
    const char *in[2];
    int n_in = 0;
    const char *param = NULL;
    if (ca || cb) {
        if ((s = const_operand(im, ca ? a : b, nchw, name, ".const", cn, sizeof cn))) return s;
        param = cn;
        if (ca && strcmp(gop, "add") && strcmp(gop, "mul"))
            return op_fail(im, FT_EUNSUPPORTED, "a constant first operand of %s", gop);
        in[n_in++] = xa;
    } else {
        in[n_in++] = im->tv[a].node;
        in[n_in++] = im->tv[b].node;
    }
    if ((s = add_node(im, name, gop, in, n_in, param, NULL, NULL))) return s;
    if ((s = fused_activation(im, op->opt.activation, name, sizeof name))) return s;
    return set_output(im, op->outputs[0], name, nchw && im->tm->tensors[op->outputs[0]].ndim == 4);
}

static ft_status unary(imp *im, const ft_tfl_op *op, const char *gop) {
    if (op->n_inputs < 1 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs an input and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    char name[256];
    make_name(im, tname(im, op->outputs[0]), false, NULL, name, sizeof name);
    const char *in[1] = {x};
    if ((s = add_node(im, name, gop, in, 1, NULL, NULL, NULL))) return s;
    return set_output(im, op->outputs[0], name, im->tv[op->inputs[0]].nchw);
}

/* RESHAPE / SQUEEZE / EXPAND_DIMS: to the output tensor's (static) shape. */
static ft_status reshape(imp *im, const ft_tfl_op *op) {
    if (op->n_inputs < 1 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs an input and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    int xt = op->inputs[0], ot = op->outputs[0];
    const ft_tfl_tensor *X = &im->tm->tensors[xt], *O = &im->tm->tensors[ot];
    if (X->numel != O->numel) return op_fail(im, FT_EFORMAT, "reshape from %lld to %lld values", (long long)X->numel, (long long)O->numel);
    if (X->ndim < 1 || O->ndim < 2 || X->shape[0] != O->shape[0] || O->ndim > FT_MAX_DIMS)
        return op_fail(im, FT_EUNSUPPORTED, "reshape that changes the batch dim or gives %d dims", O->ndim);
    char name[256], pb[300], post[300];
    make_name(im, tname(im, ot), false, NULL, name, sizeof name);
    const char *cur = x;
    if (X->ndim == 4 && (s = to_nhwc_order(im, xt, &cur, pb, sizeof pb))) return s;
    bool out_nchw = O->ndim == 4;
    bool permute_after = out_nchw && (int64_t)O->shape[1] * O->shape[2] > 1 && O->shape[3] > 1;
    const char *in[1] = {cur};
    if (O->ndim == 2) {
        s = add_node(im, name, "flatten", in, 1, NULL, NULL, NULL);
    } else {
        json_t *shape = json_array();
        if (out_nchw && !permute_after) { /* same memory order: straight to NCHW */
            json_array_append_new(shape, json_integer(O->shape[3]));
            json_array_append_new(shape, json_integer(O->shape[1]));
            json_array_append_new(shape, json_integer(O->shape[2]));
        } else {
            for (int d = 1; d < O->ndim; d++) json_array_append_new(shape, json_integer(O->shape[d]));
        }
        json_t *a = json_object();
        json_object_set_new(a, "shape", shape);
        s = add_node(im, permute_after ? (make_name(im, name, false, ".nhwc", post, sizeof post), post) : name, "reshape", in, 1, NULL, NULL, a);
        if (!s && permute_after) {
            const char *in2[1] = {post};
            s = add_node(im, name, "permute", in2, 1, NULL, NULL, json_pack("{s:[i,i,i,i]}", "dims", 0, 3, 1, 2));
        }
    }
    if (s) return s;
    return set_output(im, ot, name, out_nchw);
}

/* Axis of a TFLite tensor of rank nd in our layout. */
static int our_axis(int axis, int nd, bool nchw) {
    if (axis < 0) axis += nd;
    if (!nchw) return axis;
    static const int map[4] = {0, 2, 3, 1};
    return axis >= 0 && axis < 4 ? map[axis] : axis;
}

static ft_status concatenation(imp *im, const ft_tfl_op *op) {
    if (op->n_inputs < 1 || op->n_outputs < 1 || op->n_inputs > 256) return op_fail(im, FT_EFORMAT, "needs 1..256 inputs and an output");
    const char *in[256];
    bool nchw = false;
    for (int i = 0; i < op->n_inputs; i++) {
        ft_status s = act_input(im, op->inputs[i], &in[i]);
        if (s) return s;
        if (i && im->tv[op->inputs[i]].nchw != nchw) return op_fail(im, FT_EUNSUPPORTED, "inputs of different ranks");
        nchw = im->tv[op->inputs[i]].nchw;
    }
    int nd = im->tm->tensors[op->outputs[0]].ndim;
    if (op->opt.axis < -nd || op->opt.axis >= nd) return op_fail(im, FT_EFORMAT, "axis %d for %d dims", op->opt.axis, nd);
    int axis = our_axis(op->opt.axis, nd, nchw);
    if (axis == 0) return op_fail(im, FT_EUNSUPPORTED, "concatenation along the batch dim");
    char name[256];
    make_name(im, tname(im, op->outputs[0]), false, NULL, name, sizeof name);
    ft_status s = add_node(im, name, "concat", in, op->n_inputs, NULL, NULL, json_pack("{s:i}", "dim", axis));
    if (!s) s = fused_activation(im, op->opt.activation, name, sizeof name);
    return s ? s : set_output(im, op->outputs[0], name, nchw);
}

/* Integer contents of a small constant tensor (paddings, axes). */
static ft_status const_ints(imp *im, int t, int64_t *v, int max, int *n) {
    if (t < 0 || !is_const(im, t)) return op_fail(im, FT_EUNSUPPORTED, "expects a constant integer tensor");
    const ft_tfl_tensor *T = &im->tm->tensors[im->tv[t].alias];
    if (T->numel > max || (T->type != FT_TFL_INT32 && T->type != FT_TFL_INT64)) return op_fail(im, FT_EUNSUPPORTED, "expects at most %d int32/int64 values", max);
    for (int64_t i = 0; i < T->numel; i++) v[i] = T->type == FT_TFL_INT32 ? (int32_t)le32(T->data + 4 * i) : (int64_t)le64(T->data + 8 * i);
    *n = (int)T->numel;
    return FT_OK;
}

static ft_status pad_op(imp *im, const ft_tfl_op *op) {
    if (op->n_inputs < 2 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs input, paddings and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    int xt = op->inputs[0];
    int64_t p[16];
    int n;
    if ((s = const_ints(im, op->inputs[1], p, 16, &n))) return s;
    if (!nhwc4(im, xt) || n != 8) return op_fail(im, FT_EUNSUPPORTED, "only 4-D inputs are supported");
    if (p[0] || p[1] || p[6] || p[7]) return op_fail(im, FT_EUNSUPPORTED, "padding of the batch or channel dims");
    for (int i = 2; i < 6; i++)
        if (p[i] < 0 || p[i] > (1 << 20)) return op_fail(im, FT_EFORMAT, "padding %lld", (long long)p[i]);
    float value = 0;
    if (op->code == FT_TFL_PADV2 && op->n_inputs > 2 && op->inputs[2] >= 0) {
        const ft_tfl_tensor *V = &im->tm->tensors[im->tv[op->inputs[2]].alias];
        if (!is_const(im, op->inputs[2]) || V->numel != 1) return op_fail(im, FT_EUNSUPPORTED, "the pad value must be a constant scalar");
        if ((s = dequantize(im->label, V, NULL, 0, &value))) return s;
    }
    char name[256];
    make_name(im, tname(im, op->outputs[0]), false, NULL, name, sizeof name);
    const char *in[1] = {x};
    s = add_node(im, name, "pad", in, 1, NULL, NULL,
                 json_pack("{s:[i,i,i,i], s:f}", "pad", (int)p[2], (int)p[4], (int)p[3], (int)p[5], "value", (double)value));
    return s ? s : set_output(im, op->outputs[0], name, true);
}

static ft_status mean_op(imp *im, const ft_tfl_op *op) {
    if (op->n_inputs < 2 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs input, axes and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    int xt = op->inputs[0];
    int nd = im->tm->tensors[xt].ndim;
    int64_t ax[8];
    int n;
    if ((s = const_ints(im, op->inputs[1], ax, 8, &n))) return s;
    bool nchw = im->tv[xt].nchw;
    unsigned mask = 0;
    for (int i = 0; i < n; i++) {
        if (ax[i] < -nd || ax[i] >= nd) return op_fail(im, FT_EFORMAT, "axis %lld for %d dims", (long long)ax[i], nd);
        int a = our_axis((int)ax[i], nd, nchw);
        if (a == 0) return op_fail(im, FT_EUNSUPPORTED, "mean over the batch dim");
        mask |= 1u << a;
    }
    char name[256];
    make_name(im, tname(im, op->outputs[0]), false, NULL, name, sizeof name);
    const char *in[1] = {x};
    bool keep = op->opt.keep_dims;
    if (nchw && mask == 0xC) {
        s = add_node(im, name, "global_avg_pool", in, 1, NULL, NULL, json_pack("{s:b}", "keepdim", keep));
    } else {
        json_t *dims = json_array();
        for (int d = 0; d < nd; d++)
            if (mask & (1u << d)) json_array_append_new(dims, json_integer(d));
        json_t *a = json_pack("{s:o, s:b}", "dims", dims, "keepdim", keep);
        if (!keep && nchw && !(mask & 2)) { json_decref(a); return op_fail(im, FT_EUNSUPPORTED, "mean that keeps channels but drops spatial dims one at a time"); }
        s = add_node(im, name, "mean", in, 1, NULL, NULL, a);
    }
    return s ? s : set_output(im, op->outputs[0], name, nchw && keep);
}

static ft_status softmax_op(imp *im, const ft_tfl_op *op) {
    if (op->n_inputs < 1 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs an input and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    if (im->tv[op->inputs[0]].nchw) return op_fail(im, FT_EUNSUPPORTED, "softmax over the channels of a 4-D tensor");
    char name[256], sn[300];
    make_name(im, tname(im, op->outputs[0]), false, NULL, name, sizeof name);
    const char *cur = x;
    if (op->opt.beta != 1.0f) {
        if (!(op->opt.beta > 0 && op->opt.beta < 1e6f)) return op_fail(im, FT_EFORMAT, "beta %g", (double)op->opt.beta);
        make_name(im, name, false, ".beta", sn, sizeof sn);
        const char *in[1] = {x};
        if ((s = add_node(im, sn, "scale", in, 1, NULL, NULL, json_pack("{s:f}", "a", (double)op->opt.beta)))) return s;
        cur = sn;
    }
    const char *in[1] = {cur};
    if ((s = add_node(im, name, "softmax", in, 1, NULL, NULL, NULL))) return s;
    return set_output(im, op->outputs[0], name, false);
}

/* UNIDIRECTIONAL_SEQUENCE_LSTM (24 inputs: x; input-to-{input,forget,cell,output} weights
 * 1-4; recurrent-to-* 5-8; peepholes 9-11; gate biases 12-15; projection 16-17; output and
 * cell state 18-19; layer norms 20-23). The gate order i, f, c, o is PyTorch's i, f, g, o, so
 * the tensors stack into weight_ih_l0 [4H, F], weight_hh_l0 [4H, H], bias_ih_l0 [4H] of one
 * "lstm" node (bias_hh_l0 starts at zero). The states start at zero (TFLite's variable
 * tensors, reset per inference). cell_clip / proj_clip are not applied (the converter writes
 * cell_clip 10 for Keras layers, which never clip); they are kept in the node's source. */
static ft_status seq_lstm(imp *im, const ft_tfl_op *op) {
    const ft_tfl_model *tm = im->tm;
    if (op->n_inputs < 20 || op->n_outputs < 1) return op_fail(im, FT_EFORMAT, "needs 20 to 24 inputs and an output");
    const char *x;
    ft_status s = act_input(im, op->inputs[0], &x);
    if (s) return s;
    int xt = op->inputs[0], ot = op->outputs[0];
    const ft_tfl_tensor *X = &tm->tensors[xt];
    if (X->ndim != 3) return op_fail(im, FT_EUNSUPPORTED, "input of %d dims (want [batch, time, features])", X->ndim);
    if (op->opt.time_major) return op_fail(im, FT_EUNSUPPORTED, "time-major input is not supported");
    if (op->opt.activation != FT_TFL_ACT_TANH) return op_fail(im, FT_EUNSUPPORTED, "cell activation %d is not supported (TANH is)", op->opt.activation);
    static const struct { int at; const char *what; } absent[] = {{9, "peephole"}, {10, "peephole"}, {11, "peephole"}, {16, "projection"},
                                                                  {17, "projection"}, {20, "layer-norm"}, {21, "layer-norm"}, {22, "layer-norm"}, {23, "layer-norm"}};
    for (size_t k = 0; k < sizeof absent / sizeof absent[0]; k++)
        if (absent[k].at < op->n_inputs && op->inputs[absent[k].at] >= 0)
            return op_fail(im, FT_EUNSUPPORTED, "the %s LSTM variant (input %d) is not supported", absent[k].what, absent[k].at);
    for (int k = 18; k < 20; k++) {
        int t = op->inputs[k];
        if (t < 0) continue;
        const ft_tfl_tensor *S = &tm->tensors[im->tv[t].alias];
        for (int64_t e = 0; S->data && S->type == FT_TFL_FLOAT32 && e < S->numel; e++)
            if (((const float *)S->data)[e] != 0.0f) return op_fail(im, FT_EUNSUPPORTED, "a non-zero initial %s state is not supported", k == 18 ? "output" : "cell");
    }
    int64_t F = X->shape[2], H = -1;
    for (int k = 1; k <= 15; k++) {
        if (k >= 9 && k <= 11) continue;
        int t = op->inputs[k];
        if (t < 0) return op_fail(im, FT_EUNSUPPORTED, "input %d is missing (the CIFG variant without an input gate is not supported)", k);
        if (!is_const(im, t)) return op_fail(im, FT_EUNSUPPORTED, "input %d ('%s') must be a constant", k, tname(im, t));
        const ft_tfl_tensor *W = &tm->tensors[im->tv[t].alias];
        if (H < 0) H = W->ndim == 2 ? W->shape[0] : -1;
        bool ok = H > 0 && (k <= 4 ? W->ndim == 2 && W->shape[0] == H && W->shape[1] == F
                                   : k <= 8 ? W->ndim == 2 && W->shape[0] == H && W->shape[1] == H : W->ndim == 1 && W->shape[0] == H);
        if (!ok) return op_fail(im, FT_EFORMAT, "gate tensor %d ('%s') does not fit %lld cells and %lld input features", k, tname(im, t), (long long)H, (long long)F);
    }
    int64_t want[3] = {X->shape[0], X->shape[1], H};
    if ((s = check_out_shape(im, ot, want, 3))) return s;
    char name[256], p[4][300];
    make_name(im, tname(im, ot), false, NULL, name, sizeof name);
    static const char *const pn[4] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
    for (int k = 0; k < 4; k++) snprintf(p[k], sizeof p[k], "%s.%s", name, pn[k]);
    int64_t sih[2] = {4 * H, F}, shh[2] = {4 * H, H}, sb[1] = {4 * H};
    const int64_t *shapes[4] = {sih, shh, sb, sb};
    int first[3] = {1, 5, 12};
    for (int k = 0; k < 4; k++) {
        if ((s = add_param(im, p[k], k < 2 ? 2 : 1, shapes[k], op->inputs[k < 3 ? first[k] : 12], k < 3 ? FILL_STACK : FILL_ZERO, NULL, -1, -1, false)))
            return s;
        for (int g = 0; k < 3 && g < 4; g++) im->fills[im->n_fills - 1].stack[g] = im->tv[op->inputs[first[k] + g]].alias;
    }
    json_t *nd = json_object(), *ins = json_array(), *ps = json_array();
    if (!nd || !ins || !ps) { json_decref(nd); json_decref(ins); json_decref(ps); return oom(); }
    json_array_append_new(ins, json_string(x));
    for (int k = 0; k < 4; k++) json_array_append_new(ps, json_string(p[k]));
    json_object_set_new(nd, "name", json_string(name));
    json_object_set_new(nd, "op", json_string("lstm"));
    json_object_set_new(nd, "inputs", ins);
    json_object_set_new(nd, "params", ps);
    json_object_set_new(nd, "attrs", json_pack("{s:I}", "hidden_size", (json_int_t)H));
    json_object_set_new(nd, "source", json_pack("{s:i, s:f, s:f}", "operator", im->cur_op, "cell_clip", (double)op->opt.cell_clip,
                                                "proj_clip", (double)op->opt.proj_clip));
    if (json_array_append_new(im->nodes, nd)) return oom();
    if ((s = smap_put(&im->used, name, 1))) return s;
    return set_output(im, ot, name, false);
}

static ft_status convert_op(imp *im, int k) {
    const ft_tfl_op *op = &im->tm->ops[k];
    im->cur_op = k;
    char nb[32];
    switch (op->code) {
    case FT_TFL_CONV_2D: return conv_like(im, op, false);
    case FT_TFL_DEPTHWISE_CONV_2D: return conv_like(im, op, true);
    case FT_TFL_FULLY_CONNECTED: return fully_connected(im, op);
    case FT_TFL_AVERAGE_POOL_2D: return pool(im, op, true);
    case FT_TFL_MAX_POOL_2D: return pool(im, op, false);
    case FT_TFL_ADD: return binary(im, op, "add");
    case FT_TFL_SUB: return binary(im, op, "sub");
    case FT_TFL_MUL: return binary(im, op, "mul");
    case FT_TFL_DIV: return binary(im, op, "div");
    case FT_TFL_RELU: return unary(im, op, "relu");
    case FT_TFL_RELU6: return unary(im, op, "relu6");
    case FT_TFL_LOGISTIC: return unary(im, op, "sigmoid");
    case FT_TFL_TANH: return unary(im, op, "tanh");
    case FT_TFL_HARD_SWISH: return unary(im, op, "hardswish");
    case FT_TFL_RESHAPE: case FT_TFL_SQUEEZE: case FT_TFL_EXPAND_DIMS: return reshape(im, op);
    case FT_TFL_CONCATENATION: return concatenation(im, op);
    case FT_TFL_PAD: case FT_TFL_PADV2: return pad_op(im, op);
    case FT_TFL_MEAN: return mean_op(im, op);
    case FT_TFL_SOFTMAX: return softmax_op(im, op);
    case FT_TFL_UNIDIRECTIONAL_SEQUENCE_LSTM: return seq_lstm(im, op);
    case FT_TFL_QUANTIZE:
    case FT_TFL_DEQUANTIZE: { /* float graph: the value passes through; a constant stays a constant */
        if (op->n_inputs < 1 || op->n_outputs < 1 || op->inputs[0] < 0) return op_fail(im, FT_EFORMAT, "needs an input and an output");
        int xt = op->inputs[0], ot = op->outputs[0];
        if (im->tm->tensors[xt].numel != im->tm->tensors[ot].numel) return op_fail(im, FT_EFORMAT, "changes the element count");
        if (is_const(im, xt)) { im->tv[ot].alias = im->tv[xt].alias; return FT_OK; }
        const char *x;
        ft_status s = act_input(im, xt, &x);
        return s ? s : set_output(im, ot, x, im->tv[xt].nchw);
    }
    case FT_TFL_CUSTOM: return op_fail(im, FT_EUNSUPPORTED, "unsupported custom op '%s'", op->custom ? op->custom : "?");
    default: return op_fail(im, FT_EUNSUPPORTED, "unsupported op %s", ft_tfl_op_name(op->code, nb, sizeof nb));
    }
}

/* Preprocess for a quantized image input: our input is RGB in [0, 1] (pixel / 255), and
 * the model wants real = (q - zp) * scale with q the pixel (uint8) or pixel - 128 (int8):
 * real = (x - mean) / std with mean = (zp [+128]) / 255, std = 1 / (255 * scale). */
static json_t *preprocess(const ft_tfl_tensor *in) {
    json_t *pre = json_object();
    bool image = in->ndim == 4 && (in->shape[3] == 1 || in->shape[3] == 3) && in->shape[1] > 1 && in->shape[2] > 1;
    double mean = 0, std = 1;
    bool quant = (in->type == FT_TFL_UINT8 || in->type == FT_TFL_INT8) && in->n_scale == 1 && in->scale[0] > 0;
    if (quant) {
        double zp = in->n_zero_point ? (double)in->zero_point[0] : 0;
        if (in->type == FT_TFL_INT8) zp += 128;
        mean = zp / 255.0;
        std = 1.0 / (255.0 * in->scale[0]);
        json_object_set_new(pre, "input_quantization",
                            json_pack("{s:s, s:f, s:I}", "dtype", ft_tfl_type_name(in->type), "scale", (double)in->scale[0], "zero_point",
                                      (json_int_t)(in->n_zero_point ? in->zero_point[0] : 0)));
    }
    if (image) {
        json_t *m = json_array(), *s = json_array();
        for (int c = 0; c < in->shape[3]; c++) {
            json_array_append_new(m, json_real(mean));
            json_array_append_new(s, json_real(std));
        }
        json_object_set_new(pre, "mean", m);
        json_object_set_new(pre, "std", s);
        json_object_set_new(pre, "size", json_pack("[i,i]", in->shape[1], in->shape[2]));
        json_object_set_new(pre, "resize", json_pack("[i,i]", in->shape[1], in->shape[2]));
        json_object_set_new(pre, "interpolation", json_string("bilinear"));
        json_object_set_new(pre, "channels", json_string(in->shape[3] == 3 ? "RGB" : "L"));
        if (!quant) json_object_set_new(pre, "note", json_string("float input: the normalization the model was trained with is not "
                                                                 "recorded in the file; mean 0 / std 1 passes [0,1] pixels through"));
    }
    return pre;
}

static ft_status fill_params(imp *im, ft_model *m) {
    const ft_tfl_model *tm = im->tm;
    for (int i = 0; i < im->n_fills; i++) {
        const fill *f = &im->fills[i];
        int pi = ft_params_find(m->params, f->param);
        if (pi < 0) return ft_fail(FT_EINVAL, "internal: parameter '%s' missing", f->param);
        const ft_tfl_tensor *T = &tm->tensors[f->tensor];
        float *dst = ft_params_value(m->params, pi);
        if (f->kind == FILL_ZERO) {
            memset(dst, 0, (size_t)m->params->p[pi].numel * sizeof *dst);
            continue;
        }
        if (f->kind == FILL_STACK) {
            int64_t at = 0;
            for (int k = 0; k < 4; k++) {
                const ft_tfl_tensor *P = &tm->tensors[f->stack[k]];
                if (at + P->numel > m->params->p[pi].numel) return ft_fail(FT_EINVAL, "internal: parameter '%s' size", f->param);
                ft_status s = dequantize(im->label, P, NULL, 0, dst + at);
                if (s) return ft_fail_context(s, "parameter '%s'", f->param);
                at += P->numel;
            }
            for (int64_t k = 0; k < at; k++)
                if (!isfinite(dst[k])) return ft_fail(FT_EFORMAT, "%s: parameter '%s' has a non-finite value", im->label, f->param);
            continue;
        }
        if (T->numel != m->params->p[pi].numel) return ft_fail(FT_EINVAL, "internal: parameter '%s' size", f->param);
        float *tmp = ft_malloc((size_t)(T->numel ? T->numel : 1) * sizeof(float)), *fb = NULL;
        if (!tmp) return oom();
        int n_fb = 0;
        if (f->kind == FILL_BIAS && !T->n_scale && (T->type == FT_TFL_INT32 || T->type == FT_TFL_INT64)) {
            /* bias scale = input_scale * weight_scale (per channel) */
            const ft_tfl_tensor *X = &tm->tensors[f->in_tensor], *W = &tm->tensors[im->tv[f->w_tensor].alias];
            if (X->n_scale == 1 && W->n_scale >= 1 && (fb = ft_malloc((size_t)W->n_scale * sizeof *fb))) {
                for (int c = 0; c < W->n_scale; c++) fb[c] = X->scale[0] * W->scale[c];
                n_fb = W->n_scale;
            }
        }
        ft_status s = dequantize(im->label, T, fb, n_fb, tmp);
        ft_free(fb);
        if (s) { ft_free(tmp); return ft_fail_context(s, "parameter '%s'", f->param); }
        static const int ohwi[4] = {0, 3, 1, 2}, dw[4] = {3, 0, 1, 2};
        switch (f->kind) {
        case FILL_OHWI: permute4(tmp, f->src_shape, ohwi, dst); break;
        case FILL_NHWC: permute4(tmp, f->src_shape, ohwi, dst); break;
        case FILL_DEPTHWISE: permute4(tmp, f->src_shape, dw, dst); break;
        default: memcpy(dst, tmp, (size_t)T->numel * sizeof(float)); break;
        }
        ft_free(tmp);
        for (int64_t k = 0; k < T->numel; k++)
            if (!isfinite(dst[k])) return ft_fail(FT_EFORMAT, "%s: parameter '%s' (tensor '%s') has a non-finite value", im->label, f->param, tname(im, f->tensor));
    }
    return FT_OK;
}

/* Walk back from the output through shape-only nodes to a linear/conv2d with a weight
 * whose dim 0 is the class count: that is the head. */
static const emitted *find_head(const imp *im, const char *out) {
    const char *cur = out;
    for (int guard = 0; guard < 16 && cur; guard++) {
        const int *at = smap_find(&im->emitted_at, cur);
        if (!at) return NULL;
        const emitted *e = &im->em[*at];
        if ((!strcmp(e->op, "linear") || !strcmp(e->op, "conv2d")) && e->weight) return e;
        if (strcmp(e->op, "flatten") && strcmp(e->op, "reshape") && strcmp(e->op, "identity") && strcmp(e->op, "dropout")) return NULL;
        cur = e->input;
    }
    return NULL;
}

static int64_t param_dim0(const imp *im, const char *name) {
    for (size_t i = 0; i < json_array_size(im->params); i++) {
        json_t *p = json_array_get(im->params, i);
        if (!strcmp(json_string_value(json_object_get(p, "name")), name)) return json_integer_value(json_array_get(json_object_get(p, "shape"), 0));
    }
    return -1;
}

static ft_status convert(imp *im, const char *src_name, ft_model **model) {
    const ft_tfl_model *tm = im->tm;
    if (tm->n_inputs != 1 || tm->n_outputs != 1)
        return ft_fail(FT_EUNSUPPORTED, "%s: the model has %d inputs and %d outputs (one of each is supported)", im->label, tm->n_inputs, tm->n_outputs);
    if (!(im->tv = ft_calloc((size_t)tm->n_tensors + 1, sizeof *im->tv))) return oom();
    for (int t = 0; t < tm->n_tensors; t++) im->tv[t].alias = t;
    int it = tm->inputs[0];
    const ft_tfl_tensor *IN = &tm->tensors[it];
    if (IN->data) return ft_fail(FT_EFORMAT, "%s: the input tensor '%s' is a constant", im->label, tname(im, it));
    if (IN->ndim < 2 || IN->ndim > FT_MAX_DIMS) return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has %d dims (2..%d: batch first)", im->label, tname(im, it), IN->ndim, FT_MAX_DIMS);
    for (int d = 0; d < IN->ndim; d++)
        if (IN->shape[d] < 1) return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has a dynamic or empty dim %d", im->label, tname(im, it), d);
    const char *dtype = "float32";
    if (IN->type == FT_TFL_INT32) dtype = "int32";
    else if (IN->type != FT_TFL_FLOAT32 && IN->type != FT_TFL_UINT8 && IN->type != FT_TFL_INT8)
        return ft_fail(FT_EUNSUPPORTED, "%s: input '%s' has type %s", im->label, tname(im, it), ft_tfl_type_name(IN->type));
    json_t *ishape = json_array(); /* NHWC -> CHW per example */
    if (IN->ndim == 4) json_array_append_new(ishape, json_integer(IN->shape[3]));
    for (int d = 1; d < (IN->ndim == 4 ? 3 : IN->ndim); d++) json_array_append_new(ishape, json_integer(IN->shape[d]));
    json_object_set_new(im->root, "arch", json_string("graph"));
    json_object_set_new(im->root, "input", json_pack("{s:s, s:o, s:s}", "name", "input", "shape", ishape, "dtype", dtype));
    json_object_set_new(im->root, "preprocess", preprocess(IN));
    json_t *src = json_pack("{s:s, s:s, s:i, s:i}", "format", "tflite", "file", src_name, "schema_version", (int)tm->version, "operators", tm->n_ops);
    if (tm->description && tm->description[0]) json_object_set_new(src, "description", json_string(tm->description));
    json_object_set_new(im->root, "source", src);
    json_object_set_new(im->root, "params", im->params = json_array());
    json_object_set_new(im->root, "nodes", im->nodes = json_array());
    if (!im->params || !im->nodes) return oom();
    if (!(im->tv[it].node = ft_strdup("input"))) return oom();
    ft_status s = smap_put(&im->used, "input", 1);
    if (s) return s;
    im->tv[it].nchw = IN->ndim == 4;

    /* A final SOFTMAX is left out: the model returns logits. */
    int ot = tm->outputs[0], last = tm->n_ops;
    bool dropped_softmax = false;
    for (int k = tm->n_ops - 1; k >= 0; k--) {
        const ft_tfl_op *op = &tm->ops[k];
        if (op->n_outputs >= 1 && op->outputs[0] == ot) {
            if (op->code == FT_TFL_SOFTMAX && op->n_inputs >= 1 && op->inputs[0] >= 0 && op->opt.beta == 1.0f) {
                ot = op->inputs[0];
                last = k;
                dropped_softmax = true;
            }
            break;
        }
    }
    for (int k = 0; k < tm->n_ops && !s; k++)
        if (k != last || !dropped_softmax) s = convert_op(im, k);
    if (s) return s;
    if (!im->tv[ot].node) return ft_fail(FT_EFORMAT, "%s: the output tensor '%s' is not computed by any operator", im->label, tname(im, ot));
    const ft_tfl_tensor *OT = &tm->tensors[ot];
    char out[300];
    snprintf(out, sizeof out, "%s", im->tv[ot].node);
    if (OT->ndim == 4 && OT->shape[1] == 1 && OT->shape[2] == 1) {
        char fn[300];
        im->cur_op = tm->n_ops;
        make_name(im, out, false, ".flatten", fn, sizeof fn);
        const char *in[1] = {out};
        if ((s = add_node(im, fn, "flatten", in, 1, NULL, NULL, NULL))) return s;
        snprintf(out, sizeof out, "%s", fn);
    } else if (OT->ndim != 2) {
        char sh[96] = "";
        for (int d = 0; d < OT->ndim; d++) snprintf(sh + strlen(sh), sizeof sh - strlen(sh), d ? ",%d" : "%d", OT->shape[d]);
        return ft_fail(FT_EUNSUPPORTED, "%s: the output '%s' has shape [%s]; only classifiers and feature extractors ([1, K] or "
                       "[1, 1, 1, K]) are supported for now", im->label, tname(im, ot), sh);
    }
    json_object_set_new(im->root, "output", json_string(out));
    const emitted *head = find_head(im, out);
    int64_t K = OT->shape[OT->ndim - 1];
    if (head && K > 1 && param_dim0(im, head->weight) == K) {
        json_t *hp = json_array();
        json_array_append_new(hp, json_string(head->weight));
        if (head->bias) json_array_append_new(hp, json_string(head->bias));
        json_object_set_new(im->root, "head", json_pack("{s:s, s:o}", "node", head->name, "params", hp));
    }
    json_object_set_new(im->root, "n_classes", json_integer(K));
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
    for (int t = 0; im->tv && t < im->tm->n_tensors; t++) ft_free(im->tv[t].node);
    ft_free(im->tv);
    for (int i = 0; i < im->n_fills; i++) ft_free(im->fills[i].param);
    ft_free(im->fills);
    for (int i = 0; i < im->n_em; i++) {
        ft_free(im->em[i].name);
        ft_free(im->em[i].input);
        ft_free(im->em[i].weight);
        ft_free(im->em[i].bias);
    }
    ft_free(im->em);
    smap_free(&im->used);
    smap_free(&im->next_suffix);
    smap_free(&im->emitted_at);
    json_decref(im->root);
}

ft_status ft_import_tflite_mem(const uint8_t *data, size_t size, const char *label, ft_model **out) {
    *out = NULL;
    if (!label) label = "tflite";
    ft_tfl_model *tm = NULL;
    ft_status s = ft_tfl_parse(data, size, label, &tm);
    if (s) return s;
    imp im;
    memset(&im, 0, sizeof im);
    im.tm = tm;
    im.label = label;
    const char *base = strrchr(label, '/');
    if (!(im.root = json_object())) s = oom();
    else s = convert(&im, base ? base + 1 : label, out);
    imp_free(&im);
    ft_tfl_free(tm);
    return s;
}

ft_status ft_import_tflite(const char *path, ft_model **out) {
    *out = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    ft_status s = ft_read_file(path, (size_t)1 << 31, &data, &size);
    if (s) return s;
    s = ft_import_tflite_mem(data, size, path, out);
    ft_free(data);
    return s;
}
