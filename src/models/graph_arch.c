/* "graph": a model whose config is a serialized op list. Importers (TFLite now, TF.js and
 * ONNX later) write this format; people can write or edit it by hand. The format is
 * documented in docs/import.md.
 *
 * Config:
 *   {"arch": "graph",
 *    "input":  {"shape": [3,224,224], "dtype": "float32", "name": "input"},
 *    "params": [{"name": "conv1.weight", "shape": [32,3,3,3]}, {"name": "bn.running_mean",
 *               "shape": [32], "buffer": true}, ...],
 *    "nodes":  [{"name": "conv1", "op": "conv2d", "inputs": ["input"],
 *                "params": ["conv1.weight", "conv1.bias"], "attrs": {"stride": [2,2]}}, ...],
 *    "output": "logits",                                   (default: the last node)
 *    "head":   {"node": "logits", "params": ["logits.weight", "logits.bias"]},  (optional)
 *    "n_classes": 1001,                                    (default: from the output shape)
 *    "preprocess": {...}, "source": {...}}                 (carried, not interpreted here)
 *
 * A node's operands are its inputs (earlier nodes or the graph input, by name) followed
 * by its params. Shapes of attrs are PyTorch's: NCHW activations, OIHW conv weights, dims
 * counting the batch as dim 0; "reshape" shapes leave the batch out.
 *
 * create() validates everything (unknown op or attribute, a missing input or param, wrong
 * operand count, unused params) and then builds the graph once for a batch of one with
 * placeholder inputs, so a shape error is reported at load time with the node's name, and
 * the output is checked to be logits [N, n_classes]. */
#include "models/models.h"
#include "finetune/import.h"
#include "finetune/io.h"
#include "ops/ops.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G_MAX_NODES 100000
#define G_MAX_OPERANDS 256

typedef enum {
    G_LINEAR, G_MATMUL, G_CONV2D, G_BATCH_NORM, G_MAX_POOL2D, G_AVG_POOL2D, G_GLOBAL_AVG_POOL, G_PAD,
    G_ADD, G_SUB, G_MUL, G_DIV, G_SCALE,
    G_RELU, G_RELU6, G_HARDSWISH, G_HARDSIGMOID, G_SIGMOID, G_TANH, G_GELU, G_SILU,
    G_SOFTMAX, G_LOG_SOFTMAX,
    G_RESHAPE, G_FLATTEN, G_PERMUTE, G_TRANSPOSE, G_CONCAT, G_MEAN, G_SUM,
    G_DROPOUT, G_LAYER_NORM, G_EMBEDDING, G_IDENTITY,
    G_LSTM, G_GRU, G_RNN_FINAL,
    G_EXP, G_LOG, G_SQRT, G_ABS, G_NEG, G_ERF, G_RECIPROCAL, G_POW, G_LEAKY_RELU, G_PRELU, G_CLIP,
    G_MAX, G_MIN, G_WHERE, G_EQUAL, G_GREATER, G_GREATER_EQUAL, G_LESS, G_LESS_EQUAL, G_REDUCE_MAX, G_REDUCE_MIN,
    G_GATHER, G_EXPAND, G_SLICE,
    G_CONV_TRANSPOSE2D, G_CONV1D, G_MAX_POOL1D, G_AVG_POOL1D,
    G_SPLICE,
    G_COUNT
} gop;

/* Operand counts (inputs + params) and the attributes each op accepts. */
static const struct {
    const char *name;
    int min_ops, max_ops;
    const char *attrs; /* comma-separated */
} gops[G_COUNT] = {
    [G_LINEAR] = {"linear", 2, 3, ""},
    [G_MATMUL] = {"matmul", 2, 2, "trans_a,trans_b"},
    [G_CONV2D] = {"conv2d", 2, 3, "stride,pad,dilation,groups"},
    [G_BATCH_NORM] = {"batch_norm", 1, 5, "eps,momentum,affine,frozen_stats"},
    [G_MAX_POOL2D] = {"max_pool2d", 1, 1, "kernel,stride,pad,ceil_mode"},
    [G_AVG_POOL2D] = {"avg_pool2d", 1, 1, "kernel,stride,pad,ceil_mode,count_include_pad"},
    [G_GLOBAL_AVG_POOL] = {"global_avg_pool", 1, 1, "keepdim"},
    [G_PAD] = {"pad", 1, 1, "pad,pads,mode,value"},
    [G_ADD] = {"add", 2, 2, ""},
    [G_SUB] = {"sub", 2, 2, ""},
    [G_MUL] = {"mul", 2, 2, ""},
    [G_DIV] = {"div", 2, 2, ""},
    [G_SCALE] = {"scale", 1, 1, "a,b"},
    [G_RELU] = {"relu", 1, 1, ""},
    [G_RELU6] = {"relu6", 1, 1, ""},
    [G_HARDSWISH] = {"hardswish", 1, 1, ""},
    [G_HARDSIGMOID] = {"hardsigmoid", 1, 1, ""},
    [G_SIGMOID] = {"sigmoid", 1, 1, ""},
    [G_TANH] = {"tanh", 1, 1, ""},
    [G_GELU] = {"gelu", 1, 1, "approximate"},
    [G_SILU] = {"silu", 1, 1, ""},
    [G_SOFTMAX] = {"softmax", 1, 1, "dim"},
    [G_LOG_SOFTMAX] = {"log_softmax", 1, 1, "dim"},
    [G_RESHAPE] = {"reshape", 1, 1, "shape,full"},
    [G_FLATTEN] = {"flatten", 1, 1, "start_dim"},
    [G_PERMUTE] = {"permute", 1, 1, "dims"},
    [G_TRANSPOSE] = {"transpose", 1, 1, "dim0,dim1"},
    [G_CONCAT] = {"concat", 1, G_MAX_OPERANDS, "dim"},
    [G_MEAN] = {"mean", 1, 1, "dims,keepdim"},
    [G_SUM] = {"sum", 1, 1, "dims,keepdim"},
    [G_DROPOUT] = {"dropout", 1, 1, "p"},
    [G_LAYER_NORM] = {"layer_norm", 1, 3, "eps"},
    [G_EMBEDDING] = {"embedding", 2, 2, ""},
    [G_IDENTITY] = {"identity", 1, 1, ""},
    [G_LSTM] = {"lstm", 1, G_MAX_OPERANDS, "hidden_size,num_layers,bidirectional,batch_first,bias,dropout,reverse,cell_output,initial_state"},
    [G_GRU] = {"gru", 1, G_MAX_OPERANDS, "hidden_size,num_layers,bidirectional,batch_first,bias,dropout,reverse,linear_before_reset,initial_state"},
    [G_RNN_FINAL] = {"rnn_final", 1, 2, "hidden_size,bidirectional,reverse"},
    [G_EXP] = {"exp", 1, 1, ""},
    [G_LOG] = {"log", 1, 1, ""},
    [G_SQRT] = {"sqrt", 1, 1, ""},
    [G_ABS] = {"abs", 1, 1, ""},
    [G_NEG] = {"neg", 1, 1, ""},
    [G_ERF] = {"erf", 1, 1, ""},
    [G_RECIPROCAL] = {"reciprocal", 1, 1, ""},
    [G_POW] = {"pow", 1, 2, "exponent"},
    [G_LEAKY_RELU] = {"leaky_relu", 1, 1, "alpha"},
    [G_PRELU] = {"prelu", 2, 2, ""},
    [G_CLIP] = {"clip", 1, 1, "min,max"},
    [G_MAX] = {"max", 2, G_MAX_OPERANDS, ""},
    [G_MIN] = {"min", 2, G_MAX_OPERANDS, ""},
    [G_WHERE] = {"where", 3, 3, ""},
    [G_EQUAL] = {"equal", 2, 2, ""},
    [G_GREATER] = {"greater", 2, 2, ""},
    [G_GREATER_EQUAL] = {"greater_or_equal", 2, 2, ""},
    [G_LESS] = {"less", 2, 2, ""},
    [G_LESS_EQUAL] = {"less_or_equal", 2, 2, ""},
    [G_REDUCE_MAX] = {"reduce_max", 1, 1, "dims,keepdim"},
    [G_REDUCE_MIN] = {"reduce_min", 1, 1, "dims,keepdim"},
    [G_GATHER] = {"gather", 1, 1, "axis,indices,indices_shape"},
    [G_EXPAND] = {"expand", 1, 1, "shape"},
    [G_SLICE] = {"slice", 1, 1, "dim,start,end,step"},
    [G_CONV_TRANSPOSE2D] = {"conv_transpose2d", 2, 3, "stride,pad,output_padding,dilation,groups"},
    [G_CONV1D] = {"conv1d", 2, 3, "stride,pad,dilation,groups"},
    [G_MAX_POOL1D] = {"max_pool1d", 1, 1, "kernel,stride,pad,ceil_mode"},
    [G_AVG_POOL1D] = {"avg_pool1d", 1, 1, "kernel,stride,pad,ceil_mode,count_include_pad"},
    [G_SPLICE] = {"splice", 1, 1, "left,right"},
};

typedef struct {
    char *name;
    gop op;
    int n_in, n_par;
    int *in;      /* node index, or -1 for the graph input */
    int *par;     /* parameter index (= config order = store order) */
    /* attributes (only those of the op are meaningful) */
    int stride[2], pad[4], dilation[2], groups, kernel[2];
    bool ceil_mode, count_include_pad, keepdim, trans_a, trans_b, affine, frozen_stats, tanh_approx, full;
    float eps, momentum, p, value, a, b;
    int dim, dim1;
    int n_dims;                    /* reshape shape / permute dims / reduce dims (-1: all but batch) */
    int hidden, layers;            /* lstm / gru / rnn_final */
    bool bidir, batch_first, bias, reverse, cell_output, linear_before_reset;
    bool initial_state;            /* lstm / gru: h0 (and c0) operands after x[, lengths] */
    int64_t dims[FT_MAX_DIMS];
    float alpha, exponent, lo, hi; /* leaky_relu, pow, clip */
    int64_t *ilist;                /* gather indices; N-d pads ("pads") */
    int64_t n_ilist;
    int64_t start, end, step;      /* slice */
    int mode;                      /* pad: ft_padding_mode */
    bool nd_pad;                   /* pad given as "pads" or with a "mode": ft_pad over every dim */
    int output_padding[2];         /* conv_transpose2d */
} gnode;

typedef struct {
    gnode *nodes;
    int n_nodes;
    int n_total;       /* nodes in the config (n_nodes counts the parsed ones while parsing) */
    int output;
    int *outputs, n_outputs; /* "outputs": every output (outputs[0] == output) */
    int out_ndim;            /* rank of the (first) output */
    int64_t batch;           /* "input": {"batch": B}: the only batch size the graph runs at (-1: any; 0: an
                              * empty batch, as an ONNX import of a 0-size input records it) */
    char *input_name;
    char *head_patterns;
} gimpl;

static void gimpl_free(gimpl *c) {
    if (!c) return;
    for (int i = 0; i < c->n_nodes; i++) {
        ft_free(c->nodes[i].name);
        ft_free(c->nodes[i].in);
        ft_free(c->nodes[i].par);
        ft_free(c->nodes[i].ilist);
    }
    ft_free(c->nodes);
    ft_free(c->outputs);
    ft_free(c->input_name);
    ft_free(c->head_patterns);
    ft_free(c);
}

/* ---------------- attribute parsing ---------------- */

static bool in_list(const char *list, const char *key) {
    size_t k = strlen(key);
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == k && !strncmp(s, key, k)) return true;
        if (!e) break;
        s = e + 1;
    }
    return false;
}

#define NODE_FAIL(st, nd, ...) node_fail(st, (nd)->name, gops[(nd)->op].name, __VA_ARGS__)
static ft_status node_fail(ft_status st, const char *node, const char *op, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static ft_status node_fail(ft_status st, const char *node, const char *op, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ft_fail(st, "graph config: node '%s' (%s): %s", node, op, msg);
}

static bool small_int(json_t *v, int64_t lo, int64_t hi) {
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/* An int, or a list of n ints (n = 2 for [h, w]; pads also accept [h, w] and [t, l, b, r]). */
static ft_status attr_ints(const gnode *nd, json_t *attrs, const char *key, int n, int64_t lo, int64_t hi, int *out) {
    json_t *v = json_object_get(attrs, key);
    if (!v) return FT_OK;
    if (small_int(v, lo, hi)) {
        for (int i = 0; i < n; i++) out[i] = (int)json_integer_value(v);
        return FT_OK;
    }
    size_t len = json_is_array(v) ? json_array_size(v) : 0;
    bool ok = len == (size_t)n || (n == 4 && len == 2);
    for (size_t i = 0; ok && i < len; i++) ok = small_int(json_array_get(v, i), lo, hi);
    if (!ok)
        return NODE_FAIL(FT_EINVAL, nd, "attribute '%s' must be an int or a list of %d ints in [%lld, %lld]", key,
                         n, (long long)lo, (long long)hi);
    if (n == 4 && len == 2) { /* [h, w]: symmetric */
        out[0] = out[2] = (int)json_integer_value(json_array_get(v, 0));
        out[1] = out[3] = (int)json_integer_value(json_array_get(v, 1));
    } else {
        for (int i = 0; i < n; i++) out[i] = (int)json_integer_value(json_array_get(v, (size_t)i));
    }
    return FT_OK;
}

static ft_status attr_bool(const gnode *nd, json_t *attrs, const char *key, bool *out) {
    json_t *v = json_object_get(attrs, key);
    if (!v) return FT_OK;
    if (!json_is_boolean(v)) return NODE_FAIL(FT_EINVAL, nd, "attribute '%s' must be true or false", key);
    *out = json_is_true(v);
    return FT_OK;
}

static ft_status attr_float(const gnode *nd, json_t *attrs, const char *key, float lo, float hi, float *out) {
    json_t *v = json_object_get(attrs, key);
    if (!v) return FT_OK;
    double d = json_number_value(v);
    if (!json_is_number(v) || !(d >= lo && d <= hi))
        return NODE_FAIL(FT_EINVAL, nd, "attribute '%s' must be a number in [%g, %g]", key, (double)lo, (double)hi);
    *out = (float)d;
    return FT_OK;
}

static ft_status attr_int(const gnode *nd, json_t *attrs, const char *key, int lo, int hi, int *out) {
    json_t *v = json_object_get(attrs, key);
    if (!v) return FT_OK;
    if (!small_int(v, lo, hi)) return NODE_FAIL(FT_EINVAL, nd, "attribute '%s' must be an int in [%d, %d]", key, lo, hi);
    *out = (int)json_integer_value(v);
    return FT_OK;
}

/* A list of up to FT_MAX_DIMS ints (a single int is a list of one). */
static ft_status attr_dims(const gnode *nd, json_t *attrs, const char *key, int64_t lo, int64_t hi, int *n, int64_t *out) {
    json_t *v = json_object_get(attrs, key);
    if (!v) return FT_OK;
    if (small_int(v, lo, hi)) {
        *n = 1;
        out[0] = json_integer_value(v);
        return FT_OK;
    }
    size_t len = json_is_array(v) ? json_array_size(v) : 0;
    bool ok = json_is_array(v) && len <= FT_MAX_DIMS;
    for (size_t i = 0; ok && i < len; i++) ok = small_int(json_array_get(v, i), lo, hi);
    if (!ok)
        return NODE_FAIL(FT_EINVAL, nd, "attribute '%s' must be a list of at most %d ints in [%lld, %lld]", key,
                         FT_MAX_DIMS, (long long)lo, (long long)hi);
    *n = (int)len;
    for (size_t i = 0; i < len; i++) out[i] = json_integer_value(json_array_get(v, i));
    return FT_OK;
}

/* Any int64 (slice bounds: ONNX writes INT64_MAX for "to the end"). */
static ft_status attr_i64(const gnode *nd, json_t *attrs, const char *key, int64_t *out) {
    json_t *v = json_object_get(attrs, key);
    if (!v) return FT_OK;
    if (!json_is_integer(v)) return NODE_FAIL(FT_EINVAL, nd, "attribute '%s' must be an int", key);
    *out = json_integer_value(v);
    return FT_OK;
}

/* A list of ints in [lo, hi] of any length up to max, into a new nd->ilist. */
static ft_status attr_ilist(gnode *nd, json_t *attrs, const char *key, int64_t lo, int64_t hi, size_t max) {
    json_t *v = json_object_get(attrs, key);
    size_t len = json_is_array(v) ? json_array_size(v) : 0;
    bool ok = json_is_array(v) && len <= max;
    for (size_t i = 0; ok && i < len; i++) ok = small_int(json_array_get(v, i), lo, hi);
    if (!ok)
        return NODE_FAIL(FT_EINVAL, nd, "attribute '%s' must be a list of at most %zu ints in [%lld, %lld]", key, max,
                         (long long)lo, (long long)hi);
    if (!(nd->ilist = ft_malloc((len ? len : 1) * sizeof *nd->ilist))) return ft_fail(FT_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) nd->ilist[i] = json_integer_value(json_array_get(v, i));
    nd->n_ilist = (int64_t)len;
    return FT_OK;
}

static ft_status parse_attrs(gnode *nd, json_t *attrs) {
    if (!attrs) attrs = json_object(); /* defaults below still apply */
    else json_incref(attrs);
    ft_status s = FT_OK;
    if (!json_is_object(attrs)) { s = NODE_FAIL(FT_EINVAL, nd, "\"attrs\" must be an object"); goto out; }
    const char *key;
    json_t *v;
    json_object_foreach(attrs, key, v) {
        if (!in_list(gops[nd->op].attrs, key)) {
            s = NODE_FAIL(FT_EINVAL, nd, "unknown attribute '%s' (%s takes: %s)", key, gops[nd->op].name,
                          gops[nd->op].attrs[0] ? gops[nd->op].attrs : "none");
            goto out;
        }
    }
    nd->stride[0] = nd->stride[1] = 1;
    nd->dilation[0] = nd->dilation[1] = 1;
    nd->groups = 1;
    nd->count_include_pad = true;
    nd->affine = true;
    nd->eps = 1e-5f;
    nd->momentum = 0.1f;
    nd->a = 1.0f;
    nd->dim = -1;
    switch (nd->op) {
    case G_CONV2D:
        if ((s = attr_ints(nd, attrs, "stride", 2, 1, 4096, nd->stride)) || (s = attr_ints(nd, attrs, "pad", 4, 0, 1 << 20, nd->pad)) ||
            (s = attr_ints(nd, attrs, "dilation", 2, 1, 4096, nd->dilation)) || (s = attr_int(nd, attrs, "groups", 1, 1 << 24, &nd->groups)))
            goto out;
        break;
    case G_MAX_POOL2D:
    case G_AVG_POOL2D:
        if (!json_object_get(attrs, "kernel")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'kernel'"); goto out; }
        nd->stride[0] = nd->stride[1] = 0; /* 0 = the kernel size */
        if ((s = attr_ints(nd, attrs, "kernel", 2, 1, 1 << 20, nd->kernel)) || (s = attr_ints(nd, attrs, "stride", 2, 0, 4096, nd->stride)) ||
            (s = attr_ints(nd, attrs, "pad", 4, 0, 1 << 20, nd->pad)) || (s = attr_bool(nd, attrs, "ceil_mode", &nd->ceil_mode)) ||
            (s = attr_bool(nd, attrs, "count_include_pad", &nd->count_include_pad)))
            goto out;
        break;
    case G_GLOBAL_AVG_POOL:
        s = attr_bool(nd, attrs, "keepdim", &nd->keepdim);
        break;
    case G_PAD: {
        json_t *mode = json_object_get(attrs, "mode");
        const char *ms = json_string_value(mode);
        if (mode && (!ms || (strcmp(ms, "constant") && strcmp(ms, "reflect") && strcmp(ms, "edge")))) {
            s = NODE_FAIL(FT_EINVAL, nd, "attribute 'mode' must be \"constant\", \"reflect\" or \"edge\"");
            goto out;
        }
        nd->mode = !ms || !strcmp(ms, "constant") ? FT_PADDING_CONSTANT : !strcmp(ms, "reflect") ? FT_PADDING_REFLECT : FT_PADDING_EDGE;
        if (json_object_get(attrs, "pad") && json_object_get(attrs, "pads")) {
            s = NODE_FAIL(FT_EINVAL, nd, "give 'pad' (the last two dims) or 'pads' (every dim), not both");
            goto out;
        }
        if ((s = attr_ints(nd, attrs, "pad", 4, 0, 1 << 20, nd->pad)) || (s = attr_float(nd, attrs, "value", -3.4e38f, 3.4e38f, &nd->value)))
            goto out;
        nd->nd_pad = json_object_get(attrs, "pads") || nd->mode != FT_PADDING_CONSTANT;
        if (json_object_get(attrs, "pads")) {
            if ((s = attr_ilist(nd, attrs, "pads", -(1 << 30), 1 << 30, 2 * FT_MAX_DIMS))) goto out;
            if (nd->n_ilist % 2) { s = NODE_FAIL(FT_EINVAL, nd, "'pads' needs an even count: all begins, then all ends"); goto out; }
        }
        break;
    }
    case G_CONV_TRANSPOSE2D:
        if ((s = attr_ints(nd, attrs, "stride", 2, 1, 4096, nd->stride)) || (s = attr_ints(nd, attrs, "pad", 4, 0, 1 << 20, nd->pad)) ||
            (s = attr_ints(nd, attrs, "output_padding", 2, 0, 4096, nd->output_padding)) ||
            (s = attr_ints(nd, attrs, "dilation", 2, 1, 4096, nd->dilation)) || (s = attr_int(nd, attrs, "groups", 1, 1 << 24, &nd->groups)))
            goto out;
        break;
    case G_CONV1D: /* stride, dilation: ints; pad: an int or [left, right] */
        if ((s = attr_int(nd, attrs, "stride", 1, 4096, &nd->stride[1])) || (s = attr_ints(nd, attrs, "pad", 2, 0, 1 << 20, nd->pad)) ||
            (s = attr_int(nd, attrs, "dilation", 1, 4096, &nd->dilation[1])) || (s = attr_int(nd, attrs, "groups", 1, 1 << 24, &nd->groups)))
            goto out;
        break;
    case G_MAX_POOL1D:
    case G_AVG_POOL1D:
        if (!json_object_get(attrs, "kernel")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'kernel'"); goto out; }
        nd->stride[1] = 0; /* 0 = the kernel size */
        if ((s = attr_int(nd, attrs, "kernel", 1, 1 << 20, &nd->kernel[1])) || (s = attr_int(nd, attrs, "stride", 0, 4096, &nd->stride[1])) ||
            (s = attr_ints(nd, attrs, "pad", 2, 0, 1 << 20, nd->pad)) || (s = attr_bool(nd, attrs, "ceil_mode", &nd->ceil_mode)) ||
            (s = attr_bool(nd, attrs, "count_include_pad", &nd->count_include_pad)))
            goto out;
        break;
    case G_GATHER: {
        if (!json_object_get(attrs, "indices")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'indices'"); goto out; }
        nd->dim = 0;
        if ((s = attr_int(nd, attrs, "axis", -FT_MAX_DIMS, FT_MAX_DIMS - 1, &nd->dim)) ||
            (s = attr_ilist(nd, attrs, "indices", -((int64_t)1 << 40), (int64_t)1 << 40, (size_t)1 << 24)))
            goto out;
        nd->n_dims = 1;
        nd->dims[0] = nd->n_ilist;
        if (json_object_get(attrs, "indices_shape")) {
            json_t *is = json_object_get(attrs, "indices_shape");
            if (json_is_array(is) && !json_array_size(is)) nd->n_dims = 0; /* a scalar index */
            else if ((s = attr_dims(nd, attrs, "indices_shape", 0, (int64_t)1 << 30, &nd->n_dims, nd->dims))) goto out;
        }
        int64_t k = 1;
        for (int i = 0; i < nd->n_dims; i++) k *= nd->dims[i];
        if (k != nd->n_ilist) {
            s = NODE_FAIL(FT_EINVAL, nd, "'indices_shape' holds %lld indices but 'indices' lists %lld", (long long)k, (long long)nd->n_ilist);
            goto out;
        }
        break;
    }
    case G_SPLICE: /* context frames: pad[0] = left, pad[1] = right */
        if ((s = attr_int(nd, attrs, "left", 0, 4096, &nd->pad[0])) || (s = attr_int(nd, attrs, "right", 0, 4096, &nd->pad[1]))) goto out;
        break;
    case G_EXPAND:
        if (!json_object_get(attrs, "shape")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'shape' (with the batch dim)"); goto out; }
        s = attr_dims(nd, attrs, "shape", 0, (int64_t)1 << 40, &nd->n_dims, nd->dims);
        break;
    case G_SLICE:
        if (!json_object_get(attrs, "dim")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'dim'"); goto out; }
        nd->start = 0;
        nd->end = INT64_MAX;
        nd->step = 1;
        if ((s = attr_int(nd, attrs, "dim", -FT_MAX_DIMS, FT_MAX_DIMS - 1, &nd->dim)) || (s = attr_i64(nd, attrs, "start", &nd->start)) ||
            (s = attr_i64(nd, attrs, "end", &nd->end)) || (s = attr_i64(nd, attrs, "step", &nd->step)))
            goto out;
        if (nd->step == 0) { s = NODE_FAIL(FT_EINVAL, nd, "'step' must not be 0"); goto out; }
        break;
    case G_BATCH_NORM:
        if ((s = attr_float(nd, attrs, "eps", 0.0f, 1.0f, &nd->eps)) || (s = attr_float(nd, attrs, "momentum", 0.0f, 1.0f, &nd->momentum)) ||
            (s = attr_bool(nd, attrs, "affine", &nd->affine)) || (s = attr_bool(nd, attrs, "frozen_stats", &nd->frozen_stats)))
            goto out;
        break;
    case G_LAYER_NORM:
        s = attr_float(nd, attrs, "eps", 0.0f, 1.0f, &nd->eps);
        break;
    case G_MATMUL:
        if ((s = attr_bool(nd, attrs, "trans_a", &nd->trans_a)) || (s = attr_bool(nd, attrs, "trans_b", &nd->trans_b))) goto out;
        break;
    case G_SCALE:
        if ((s = attr_float(nd, attrs, "a", -3.4e38f, 3.4e38f, &nd->a)) || (s = attr_float(nd, attrs, "b", -3.4e38f, 3.4e38f, &nd->b)))
            goto out;
        break;
    case G_GELU: {
        json_t *a = json_object_get(attrs, "approximate");
        const char *as = json_string_value(a);
        if (a && (!as || (strcmp(as, "none") && strcmp(as, "tanh")))) { s = NODE_FAIL(FT_EINVAL, nd, "attribute 'approximate' must be \"none\" or \"tanh\""); goto out; }
        nd->tanh_approx = as && !strcmp(as, "tanh");
        break;
    }
    case G_SOFTMAX:
    case G_LOG_SOFTMAX:
    case G_CONCAT:
        if (nd->op == G_CONCAT) nd->dim = 1;
        s = attr_int(nd, attrs, "dim", -FT_MAX_DIMS, FT_MAX_DIMS - 1, &nd->dim);
        break;
    case G_TRANSPOSE:
        if (!json_object_get(attrs, "dim0") || !json_object_get(attrs, "dim1")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attributes 'dim0' and 'dim1'"); goto out; }
        if ((s = attr_int(nd, attrs, "dim0", -FT_MAX_DIMS, FT_MAX_DIMS - 1, &nd->dim)) ||
            (s = attr_int(nd, attrs, "dim1", -FT_MAX_DIMS, FT_MAX_DIMS - 1, &nd->dim1)))
            goto out;
        break;
    case G_RESHAPE: {
        if (!json_object_get(attrs, "shape")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'shape' (without the batch dim)"); goto out; }
        if ((s = attr_dims(nd, attrs, "shape", -1, (int64_t)1 << 40, &nd->n_dims, nd->dims))) goto out;
        if ((s = attr_bool(nd, attrs, "full", &nd->full))) goto out;
        int neg = 0;
        for (int i = 0; i < nd->n_dims; i++) neg += nd->dims[i] == -1;
        if (neg > 1 || nd->n_dims > FT_MAX_DIMS - !nd->full || (nd->full && nd->n_dims < 1)) {
            s = NODE_FAIL(FT_EINVAL, nd, "'shape' allows one -1 and at most %d dims", FT_MAX_DIMS - !nd->full);
            goto out;
        }
        break;
    }
    case G_FLATTEN:
        nd->dim = 1;
        s = attr_int(nd, attrs, "start_dim", 1, FT_MAX_DIMS - 1, &nd->dim);
        break;
    case G_PERMUTE: {
        if (!json_object_get(attrs, "dims")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'dims'"); goto out; }
        if ((s = attr_dims(nd, attrs, "dims", 0, FT_MAX_DIMS - 1, &nd->n_dims, nd->dims))) goto out;
        unsigned seen = 0;
        for (int i = 0; i < nd->n_dims; i++) {
            if (nd->dims[i] >= nd->n_dims || (seen & (1u << nd->dims[i]))) { s = NODE_FAIL(FT_EINVAL, nd, "'dims' must be a permutation of 0..%d", nd->n_dims - 1); goto out; }
            seen |= 1u << nd->dims[i];
        }
        break;
    }
    case G_MEAN:
    case G_SUM:
    case G_REDUCE_MAX:
    case G_REDUCE_MIN:
        nd->n_dims = -1;
        if ((s = attr_dims(nd, attrs, "dims", -FT_MAX_DIMS, FT_MAX_DIMS - 1, &nd->n_dims, nd->dims)) ||
            (s = attr_bool(nd, attrs, "keepdim", &nd->keepdim)))
            goto out;
        if (nd->n_dims == 0) { s = NODE_FAIL(FT_EINVAL, nd, "'dims' is empty"); goto out; }
        break;
    case G_LSTM:
    case G_GRU:
    case G_RNN_FINAL:
        if (!json_object_get(attrs, "hidden_size")) { s = NODE_FAIL(FT_EINVAL, nd, "needs attribute 'hidden_size'"); goto out; }
        nd->layers = 1;
        nd->batch_first = nd->bias = nd->linear_before_reset = true;
        if ((s = attr_int(nd, attrs, "hidden_size", 1, 1 << 20, &nd->hidden)) || (s = attr_int(nd, attrs, "num_layers", 1, 64, &nd->layers)) ||
            (s = attr_bool(nd, attrs, "bidirectional", &nd->bidir)) || (s = attr_bool(nd, attrs, "batch_first", &nd->batch_first)) ||
            (s = attr_bool(nd, attrs, "bias", &nd->bias)) || (s = attr_float(nd, attrs, "dropout", 0.0f, 0.999f, &nd->p)) ||
            (s = attr_bool(nd, attrs, "reverse", &nd->reverse)) || (s = attr_bool(nd, attrs, "cell_output", &nd->cell_output)) ||
            (s = attr_bool(nd, attrs, "linear_before_reset", &nd->linear_before_reset)) ||
            (s = attr_bool(nd, attrs, "initial_state", &nd->initial_state)))
            goto out;
        if (nd->bidir && nd->reverse) { s = NODE_FAIL(FT_EINVAL, nd, "'reverse' is for one direction; bidirectional already runs both"); goto out; }
        break;
    case G_DROPOUT:
        if ((s = attr_float(nd, attrs, "p", 0.0f, 0.999f, &nd->p))) goto out;
        break;
    case G_LEAKY_RELU:
        nd->alpha = 0.01f;
        s = attr_float(nd, attrs, "alpha", -3.4e38f, 3.4e38f, &nd->alpha);
        break;
    case G_CLIP:
        nd->lo = -INFINITY;
        nd->hi = INFINITY;
        if ((s = attr_float(nd, attrs, "min", -INFINITY, INFINITY, &nd->lo)) || (s = attr_float(nd, attrs, "max", -INFINITY, INFINITY, &nd->hi)))
            goto out;
        break;
    case G_POW: {
        bool has = json_object_get(attrs, "exponent") != NULL;
        if (has != (nd->n_in + nd->n_par == 1)) {
            s = NODE_FAIL(FT_EINVAL, nd, "takes x with attribute 'exponent', or two operands (base, exponent) without it");
            goto out;
        }
        s = attr_float(nd, attrs, "exponent", -3.4e38f, 3.4e38f, &nd->exponent);
        break;
    }
    default:
        break;
    }
out:
    json_decref(attrs);
    return s;
}

/* ---------------- config ---------------- */

static int find_node(const gimpl *c, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(c->nodes[i].name, name)) return i;
    return -2;
}

/* Node names sorted, for O(log n) lookups while parsing (graphs can have many nodes). */
typedef struct { const char *name; int index; } name_at;
static int cmp_name_at(const void *a, const void *b) {
    int r = strcmp(((const name_at *)a)->name, ((const name_at *)b)->name);
    return r ? r : ((const name_at *)a)->index - ((const name_at *)b)->index;
}
static int lookup(const name_at *sorted, int n, const char *name) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, r = strcmp(sorted[mid].name, name);
        if (!r) return sorted[mid].index;
        if (r < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -2;
}

/* Initial-state operands of an lstm / gru node: h0 and c0 (lstm), h0 (gru), or none. */
static int rnn_states(const gnode *nd) { return nd->initial_state ? (nd->op == G_LSTM ? 2 : 1) : 0; }

static ft_status parse_node(ft_model *m, gimpl *c, int i, json_t *jn, const char *input_name, const name_at *sorted) {
    gnode *nd = &c->nodes[i];
    if (!json_is_object(jn)) return ft_fail(FT_EINVAL, "graph config: nodes[%d] must be an object", i);
    const char *name = json_string_value(json_object_get(jn, "name"));
    const char *op = json_string_value(json_object_get(jn, "op"));
    if (!name || !name[0] || strlen(name) > 200) return ft_fail(FT_EINVAL, "graph config: nodes[%d] needs a \"name\" (1..200 chars)", i);
    if (!(nd->name = ft_strdup(name))) return ft_fail(FT_ENOMEM, "out of memory");
    if (!strcmp(name, input_name)) return ft_fail(FT_EINVAL, "graph config: node name '%s' is used twice (node %d)", name, i);
    const char *k;
    json_t *v;
    json_object_foreach(jn, k, v) {
        if (strcmp(k, "name") && strcmp(k, "op") && strcmp(k, "inputs") && strcmp(k, "params") && strcmp(k, "attrs") &&
            strcmp(k, "source"))
            return ft_fail(FT_EINVAL, "graph config: node '%s': unknown key '%s' (known: name, op, inputs, params, attrs, source)", name, k);
    }
    int o = 0;
    while (o < G_COUNT && (!op || strcmp(gops[o].name, op))) o++;
    if (o == G_COUNT) {
        char known[2000];
        size_t len = 0;
        known[0] = 0;
        for (int j = 0; j < G_COUNT && len < sizeof known; j++)
            len += (size_t)snprintf(known + len, sizeof known - len, j ? ", %s" : "%s", gops[j].name);
        return ft_fail(FT_EUNSUPPORTED, "graph config: node '%s': unknown op '%s' (known: %s)", name, op ? op : "(missing)", known);
    }
    nd->op = (gop)o;
    json_t *ins = json_object_get(jn, "inputs"), *pars = json_object_get(jn, "params");
    if ((ins && !json_is_array(ins)) || (pars && !json_is_array(pars)))
        return NODE_FAIL(FT_EINVAL, nd, "\"inputs\" and \"params\" must be lists of names");
    size_t n_in = ins ? json_array_size(ins) : 0, n_par = pars ? json_array_size(pars) : 0;
    if (n_in + n_par < 1) return NODE_FAIL(FT_EINVAL, nd, "needs at least one operand");
    if (n_in + n_par < (size_t)gops[o].min_ops || n_in + n_par > (size_t)gops[o].max_ops) {
        if (gops[o].min_ops == gops[o].max_ops)
            return NODE_FAIL(FT_EINVAL, nd, "takes %d operands (inputs + params), got %zu", gops[o].min_ops, n_in + n_par);
        return NODE_FAIL(FT_EINVAL, nd, "takes %d to %d operands (inputs + params), got %zu", gops[o].min_ops, gops[o].max_ops, n_in + n_par);
    }
    nd->in = ft_calloc(n_in ? n_in : 1, sizeof *nd->in);
    nd->par = ft_calloc(n_par ? n_par : 1, sizeof *nd->par);
    if (!nd->in || !nd->par) return ft_fail(FT_ENOMEM, "out of memory");
    for (size_t j = 0; j < n_in; j++) {
        const char *in = json_string_value(json_array_get(ins, j));
        if (!in) return NODE_FAIL(FT_EINVAL, nd, "inputs[%zu] must be a node name", j);
        int at = !strcmp(in, input_name) ? -1 : lookup(sorted, c->n_total, in);
        if (at >= i) at = -2; /* a later node (or itself): nodes run in order */
        if (at == -2)
            return NODE_FAIL(FT_ENOTFOUND, nd, "input '%s' is not the graph input ('%s') or an earlier node", in, input_name);
        nd->in[nd->n_in++] = at;
    }
    for (size_t j = 0; j < n_par; j++) {
        const char *pn = json_string_value(json_array_get(pars, j));
        int at = pn ? ft_params_find(m->params, pn) : -1;
        if (!pn) return NODE_FAIL(FT_EINVAL, nd, "params[%zu] must be a parameter name", j);
        if (at < 0) return NODE_FAIL(FT_ENOTFOUND, nd, "param '%s' is not declared in \"params\"", pn);
        nd->par[nd->n_par++] = at;
    }
    ft_status s = parse_attrs(nd, json_object_get(jn, "attrs"));
    if (s) return s;
    if (nd->op == G_LSTM || nd->op == G_GRU) { /* x[, lengths][, h0[, c0]], then per layer and direction weight_ih, weight_hh[, bias_ih, bias_hh] */
        int want = nd->layers * (nd->bidir ? 2 : 1) * (nd->bias ? 4 : 2), states = rnn_states(nd);
        int lead = nd->n_in + nd->n_par - want - states; /* x[, lengths]: inputs */
        if (nd->n_par < want || lead < 1 || lead > 2 || nd->n_in < lead)
            return NODE_FAIL(FT_EINVAL, nd, "operands are x[, lengths]%s and %d params (num_layers=%d x %d directions x weight_ih, weight_hh%s), got %d inputs and %d params",
                             !states ? "" : states == 2 ? ", h0, c0 (initial_state)" : ", h0 (initial_state)", want, nd->layers, nd->bidir ? 2 : 1,
                             nd->bias ? ", bias_ih, bias_hh" : "", nd->n_in, nd->n_par);
    }
    if (nd->op == G_RNN_FINAL && nd->n_par)
        return NODE_FAIL(FT_EINVAL, nd, "operands are y[, lengths]; it has no params");
    if (nd->op == G_BATCH_NORM) {
        int nops = nd->n_in + nd->n_par;
        bool ok = nd->n_in == 1 && (nd->affine ? (nops == 1 || nops == 3 || nops == 5) : (nops == 1 || nops == 3));
        if (!ok)
            return NODE_FAIL(FT_EINVAL, nd, "operands are x[, weight, bias][, running_mean, running_var] (affine: %s), got %d",
                             nd->affine ? "true" : "false", nops);
    }
    return FT_OK;
}

static ft_status parse(ft_model *m, gimpl *c, json_t *root) {
    json_t *in = json_object_get(root, "input");
    if (!json_is_object(in)) return ft_fail(FT_EINVAL, "graph config: needs \"input\": {\"shape\": [...]}");
    json_t *shape = json_object_get(in, "shape");
    size_t nd = json_is_array(shape) ? json_array_size(shape) : 0;
    if (!json_is_array(shape) || nd > FT_MAX_DIMS - 1) /* [] is a batch of scalars, [N] */
        return ft_fail(FT_EINVAL, "graph config: input.shape must be a list of 0..%d non-negative ints (no batch dim)", FT_MAX_DIMS - 1);
    m->in_ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) { /* a 0 is an empty tensor (0-size dims: docs/design.md) */
        if (!small_int(json_array_get(shape, i), 0, (int64_t)1 << 30))
            return ft_fail(FT_EINVAL, "graph config: input.shape[%zu] must be a non-negative int", i);
        m->in_shape[i] = json_integer_value(json_array_get(shape, i));
    }
    const char *dt = json_string_value(json_object_get(in, "dtype"));
    m->in_dtype = FT_F32;
    if (json_object_get(in, "dtype")) {
        if (dt && !strcmp(dt, "int32")) m->in_dtype = FT_I32;
        else if (!dt || strcmp(dt, "float32")) return ft_fail(FT_EINVAL, "graph config: input.dtype must be \"float32\" or \"int32\"");
    }
    json_t *jb = json_object_get(in, "batch");
    if (jb && !small_int(jb, 0, (int64_t)1 << 30)) return ft_fail(FT_EINVAL, "graph config: input.batch must be a non-negative int");
    c->batch = jb ? json_integer_value(jb) : -1;
    const char *iname = json_string_value(json_object_get(in, "name"));
    if (json_object_get(in, "name") && (!iname || !iname[0])) return ft_fail(FT_EINVAL, "graph config: input.name must be a non-empty string");
    if (!(c->input_name = ft_strdup(iname ? iname : "input"))) return ft_fail(FT_ENOMEM, "out of memory");

    json_t *params = json_object_get(root, "params");
    if (params && !json_is_array(params)) return ft_fail(FT_EINVAL, "graph config: \"params\" must be a list");
    for (size_t i = 0; params && i < json_array_size(params); i++) {
        json_t *p = json_array_get(params, i), *ps = json_object_get(p, "shape"), *buf = json_object_get(p, "buffer");
        const char *name = json_string_value(json_object_get(p, "name"));
        size_t pd = json_is_array(ps) ? json_array_size(ps) : 0;
        if (!name || !name[0] || !json_is_array(ps) || pd > FT_PARAM_MAX_DIMS || (buf && !json_is_boolean(buf)))
            return ft_fail(FT_EINVAL, "graph config: params[%zu] must be {\"name\": str, \"shape\": [<= %d ints], \"buffer\": bool}", i,
                           FT_PARAM_MAX_DIMS);
        int64_t s[FT_PARAM_MAX_DIMS], numel = 1;
        for (size_t d = 0; d < pd; d++) {
            if (!small_int(json_array_get(ps, d), 0, (int64_t)1 << 40))
                return ft_fail(FT_EINVAL, "graph config: param '%s': shape[%zu] must be a non-negative int", name, d);
            s[d] = json_integer_value(json_array_get(ps, d));
            if (s[d] && numel > ((int64_t)1 << 40) / s[d]) return ft_fail(FT_EINVAL, "graph config: param '%s' is too large", name);
            numel *= s[d];
        }
        if (ft_params_find(m->params, name) >= 0) return ft_fail(FT_EINVAL, "graph config: param '%s' is declared twice", name);
        int at = json_is_true(buf) ? ft_params_add_buffer(m->params, name, (int)pd, s) : ft_params_add(m->params, name, (int)pd, s);
        if (at < 0) return ft_fail_context(FT_ENOMEM, "graph config"); /* the checks above leave only out-of-memory */
    }

    json_t *nodes = json_object_get(root, "nodes");
    size_t nn = json_is_array(nodes) ? json_array_size(nodes) : 0;
    if (nn < 1 || nn > G_MAX_NODES) return ft_fail(FT_EINVAL, "graph config: \"nodes\" must be a list of 1..%d nodes", G_MAX_NODES);
    if (!(c->nodes = ft_calloc(nn, sizeof *c->nodes))) return ft_fail(FT_ENOMEM, "out of memory");
    c->n_total = (int)nn;
    name_at *sorted = ft_malloc(nn * sizeof *sorted);
    if (!sorted) return ft_fail(FT_ENOMEM, "out of memory");
    for (size_t i = 0; i < nn; i++) {
        const char *nm = json_string_value(json_object_get(json_array_get(nodes, i), "name"));
        sorted[i].name = nm ? nm : "";
        sorted[i].index = (int)i;
    }
    qsort(sorted, nn, sizeof *sorted, cmp_name_at);
    for (size_t i = 1; i < nn; i++)
        if (sorted[i].name[0] && !strcmp(sorted[i].name, sorted[i - 1].name)) {
            ft_status s = ft_fail(FT_EINVAL, "graph config: node name '%s' is used twice (nodes %d and %d)", sorted[i].name,
                                  sorted[i - 1].index, sorted[i].index);
            ft_free(sorted);
            return s;
        }
    ft_status s = FT_OK;
    for (size_t i = 0; i < nn && !s; i++) {
        c->n_nodes = (int)i + 1; /* so gimpl_free frees what parse_node allocated */
        s = parse_node(m, c, (int)i, json_array_get(nodes, i), c->input_name, sorted);
    }
    ft_free(sorted);
    if (s) return s;
    /* Every declared parameter is used by some node: a typo never leaves a weight unused. */
    bool *used = ft_calloc((size_t)m->params->n + 1, sizeof *used);
    if (!used) return ft_fail(FT_ENOMEM, "out of memory");
    for (int i = 0; i < c->n_nodes; i++)
        for (int j = 0; j < c->nodes[i].n_par; j++) used[c->nodes[i].par[j]] = true;
    for (int p = 0; p < m->params->n && !s; p++)
        if (!used[p]) s = ft_fail(FT_EINVAL, "graph config: param '%s' is declared but no node uses it", m->params->p[p].name);
    ft_free(used);
    if (s) return s;
    json_t *out = json_object_get(root, "output"), *outs = json_object_get(root, "outputs");
    c->output = c->n_nodes - 1;
    if (out && outs) return ft_fail(FT_EINVAL, "graph config: give \"output\" or \"outputs\", not both");
    if (outs && (!json_is_array(outs) || json_array_size(outs) < 1 || json_array_size(outs) > 1024))
        return ft_fail(FT_EINVAL, "graph config: \"outputs\" must be a list of 1..1024 node names");
    c->n_outputs = outs ? (int)json_array_size(outs) : 1;
    if (!(c->outputs = ft_calloc((size_t)c->n_outputs, sizeof *c->outputs))) return ft_fail(FT_ENOMEM, "out of memory");
    for (int k = 0; k < c->n_outputs; k++) {
        json_t *o = outs ? json_array_get(outs, (size_t)k) : out;
        int at = c->n_nodes - 1;
        if (o) {
            const char *on = json_string_value(o);
            at = on ? find_node(c, c->n_nodes, on) : -2;
            if (at < 0) return ft_fail(FT_ENOTFOUND, "graph config: \"output%s\" '%s' is not a node", outs ? "s" : "", on ? on : "(not a string)");
        }
        c->outputs[k] = at;
    }
    c->output = c->outputs[0];
    json_t *head = json_object_get(root, "head");
    if (head) {
        const char *hn = json_string_value(json_object_get(head, "node"));
        json_t *hp = json_object_get(head, "params");
        int at = hn ? find_node(c, c->n_nodes, hn) : -2;
        if (at < 0) return ft_fail(FT_ENOTFOUND, "graph config: head.node '%s' is not a node", hn ? hn : "(missing)");
        size_t np = json_is_array(hp) ? json_array_size(hp) : 0;
        if (np < 1) return ft_fail(FT_EINVAL, "graph config: head.params must list the head's parameter names");
        size_t len = 0;
        for (size_t j = 0; j < np; j++) {
            const char *pn = json_string_value(json_array_get(hp, j));
            int pi = pn ? ft_params_find(m->params, pn) : -1;
            bool of_node = false;
            for (int q = 0; pi >= 0 && q < c->nodes[at].n_par; q++) of_node |= c->nodes[at].par[q] == pi;
            if (!of_node) return ft_fail(FT_EINVAL, "graph config: head.params[%zu] '%s' is not a param of node '%s'", j, pn ? pn : "?", hn);
            if (m->params->p[pi].ndim < 1) return ft_fail(FT_EINVAL, "graph config: head param '%s' is a scalar", pn);
            len += strlen(pn) + 1;
        }
        if (!(c->head_patterns = ft_malloc(len + 1))) return ft_fail(FT_ENOMEM, "out of memory");
        c->head_patterns[0] = 0;
        for (size_t j = 0; j < np; j++) {
            if (j) strcat(c->head_patterns, ",");
            strcat(c->head_patterns, json_string_value(json_array_get(hp, j)));
        }
        m->head_patterns = c->head_patterns;
    }
    return FT_OK;
}

/* ---------------- building ---------------- */

static ft_node *reduce_dims(ft_graph *g, const gnode *nd, ft_node *x) {
    int dims[FT_MAX_DIMS], n = 0;
    if (nd->n_dims < 0) { /* all but the batch dim */
        for (int d = x->ndim - 1; d >= 1; d--) dims[n++] = d;
    } else {
        for (int i = 0; i < nd->n_dims; i++) {
            int d = ft_norm_dim((int)nd->dims[i], x->ndim);
            if (d < 0) return ft_graph_fail(g, FT_ESHAPE, "dim %lld out of range for %d dims", (long long)nd->dims[i], x->ndim);
            for (int j = 0; j < n; j++)
                if (dims[j] == d) return ft_graph_fail(g, FT_ESHAPE, "dim %d listed twice", d);
            dims[n++] = d;
        }
        for (int i = 0; i < n; i++) /* descending: reducing a high dim keeps the lower ones valid */
            for (int j = i + 1; j < n; j++)
                if (dims[j] > dims[i]) { int t = dims[i]; dims[i] = dims[j]; dims[j] = t; }
    }
    for (int i = 0; i < n && x; i++)
        x = nd->op == G_MEAN ? ft_mean(g, x, dims[i], nd->keepdim) : ft_sum(g, x, dims[i], nd->keepdim);
    return x;
}

/* The initial state of layer/direction k (k = layer * dirs + direction) from an initial_state
 * operand s [B, layers*dirs, H], B = N or 1 (the same state for every example): [N, H]. */
static ft_node *rnn_state(ft_graph *g, const gnode *nd, ft_node *s, int k, int64_t N, const char *what) {
    int total = nd->layers * (nd->bidir ? 2 : 1);
    if (s->ndim != 3 || s->dtype != FT_F32 || (s->shape[0] != N && s->shape[0] != 1) || s->shape[1] != total || s->shape[2] != nd->hidden) {
        char sh[64], b[48];
        ft_shape_str(s, sh, sizeof sh);
        snprintf(b, sizeof b, N == 1 ? "1" : "%lld or 1", (long long)N);
        return ft_graph_fail(g, FT_ESHAPE, "initial %s '%s' is %s, want [%s, %d, %d] (batch, num_layers x directions, hidden_size)", what, s->name,
                             sh, b, total, nd->hidden);
    }
    int64_t two[2] = {s->shape[0], nd->hidden}, full[2] = {N, nd->hidden};
    ft_node *t = total == 1 ? s : ft_slice(g, s, 1, k, k + 1);
    t = ft_reshape(g, t, 2, two);
    /* a shared state is expanded even for a batch of one: the graph's nodes never depend on the batch size (ONNX export) */
    return s->shape[0] == N && N != 1 ? t : ft_expand(g, t, 2, full);
}

/* torch.nn.LSTM / nn.GRU: layers of one or two directions (ft_lstm / ft_gru each), the
 * directions' outputs concatenated, dropout between layers in training. v = x[, lengths]
 * [, h0[, c0] with initial_state], then per layer and direction (forward first) weight_ih,
 * weight_hh[, bias_ih, bias_hh]: PyTorch's parameter order. With cell_output (LSTM), the last
 * layer gives [h_dirs | c_dirs]. */
static ft_node *rnn_stack(ft_graph *g, const gnode *nd, ft_node **v, int n) {
    int dirs = nd->bidir ? 2 : 1, per = nd->bias ? 4 : 2, states = rnn_states(nd);
    int nw = nd->layers * dirs * per;
    ft_node *x = v[0], *len = n - nw - states > 1 ? v[1] : NULL;
    ft_node **w = v + (n - nw), **st = v + (n - nw - states);
    if (x->ndim != 3) return ft_graph_fail(g, FT_ESHAPE, "%s input must be 3-D ([batch, time, features] with batch_first)", gops[nd->op].name);
    if (!nd->batch_first) x = ft_transpose(g, x, 0, 1);
    for (int l = 0; l < nd->layers && x; l++) {
        if (l > 0 && nd->p > 0) x = ft_dropout(g, x, nd->p);
        bool cell = nd->op == G_LSTM && nd->cell_output && l == nd->layers - 1;
        ft_node *y[2] = {NULL, NULL};
        for (int k = 0; k < dirs; k++) {
            ft_node **p = w + (l * dirs + k) * per;
            ft_rnn_args a = {k == 1 || nd->reverse, cell, !nd->linear_before_reset};
            ft_node *bi = nd->bias ? p[2] : NULL, *bh = nd->bias ? p[3] : NULL;
            if (p[1]->ndim != 2 || p[1]->shape[1] != nd->hidden)
                return ft_graph_fail(g, FT_ESHAPE, "weight_hh '%s' of layer %d does not have hidden_size=%d columns", p[1]->name, l, nd->hidden);
            ft_node *h0 = NULL, *c0 = NULL;
            if (states && !(h0 = rnn_state(g, nd, st[0], l * dirs + k, x->shape[0], "h0"))) return NULL;
            if (states > 1 && !(c0 = rnn_state(g, nd, st[1], l * dirs + k, x->shape[0], "c0"))) return NULL;
            y[k] = nd->op == G_LSTM ? ft_lstm(g, x, p[0], p[1], bi, bh, h0, c0, len, &a) : ft_gru(g, x, p[0], p[1], bi, bh, h0, len, &a);
            if (!y[k]) return NULL;
        }
        if (cell && dirs == 2) { /* [h_f c_f], [h_b c_b] -> [h_f h_b c_f c_b] */
            int64_t H = nd->hidden;
            ft_node *parts[4] = {ft_slice(g, y[0], 2, 0, H), ft_slice(g, y[1], 2, 0, H), ft_slice(g, y[0], 2, H, 2 * H), ft_slice(g, y[1], 2, H, 2 * H)};
            x = ft_concat(g, 4, parts, 2);
        } else {
            x = dirs == 2 ? ft_concat(g, 2, y, 2) : y[0];
        }
    }
    if (x && !nd->batch_first) x = ft_transpose(g, x, 0, 1);
    return x;
}

/* Kaldi-style frame splicing, x [N, T, F] -> [N, T, (left + 1 + right) F]: output frame t is
 * input frames t-left .. t+right side by side (oldest first), a frame index outside [0, T)
 * taking the first or last frame. Composed of a gather on the time axis with the clamped
 * indices [T, K] (backward scatter-adds: an edge frame copied k times gets k gradients) and a
 * reshape, so it inherits their fast and reference kernels. */
static ft_node *splice(ft_graph *g, const gnode *nd, ft_node *x) {
    if (x->ndim != 3) return ft_graph_fail(g, FT_ESHAPE, "splice needs x [N, T, F] (frames, then features), got %d dims", x->ndim);
    int64_t T = x->shape[1], F = x->shape[2], K = (int64_t)nd->pad[0] + nd->pad[1] + 1;
    if (T < 1) return ft_graph_fail(g, FT_ESHAPE, "splice of 0 frames");
    if (K == 1) return x;
    if (T > ((int64_t)1 << 26) / K) /* the index list: as a gather's "indices" attribute is bounded */
        return ft_graph_fail(g, FT_ESHAPE, "splice of %lld frames x %lld context frames is too large", (long long)T, (long long)K);
    int64_t *idx = ft_malloc((size_t)(T * K) * sizeof *idx);
    if (!idx) return ft_graph_fail(g, FT_ENOMEM, "splice: out of memory");
    for (int64_t t = 0; t < T; t++)
        for (int64_t k = 0; k < K; k++) {
            int64_t j = t + k - nd->pad[0];
            idx[t * K + k] = j < 0 ? 0 : j >= T ? T - 1 : j;
        }
    int64_t ishape[2] = {T, K};
    ft_node *y = ft_gather(g, x, 1, 2, ishape, idx); /* [N, T, K, F] */
    ft_free(idx);
    if (!y) return NULL;
    int64_t s[3] = {x->shape[0], T, K * F};
    return ft_reshape(g, y, 3, s);
}

static ft_node *apply(ft_graph *g, const gnode *nd, ft_node **v, int n) {
    ft_node *x = v[0];
    switch (nd->op) {
    case G_LINEAR: return ft_linear(g, x, v[1], n > 2 ? v[2] : NULL);
    case G_MATMUL: return ft_matmul(g, x, v[1], nd->trans_a, nd->trans_b);
    case G_CONV2D: {
        ft_conv2d_args a = ft_conv2d_defaults();
        memcpy(a.stride, nd->stride, sizeof a.stride);
        memcpy(a.pad, nd->pad, sizeof a.pad);
        memcpy(a.dilation, nd->dilation, sizeof a.dilation);
        a.groups = nd->groups;
        return ft_conv2d(g, x, v[1], n > 2 ? v[2] : NULL, &a);
    }
    case G_BATCH_NORM: {
        ft_node *gamma = NULL, *beta = NULL, *mean = NULL, *var = NULL;
        if (nd->affine && n >= 3) { gamma = v[1]; beta = v[2]; }
        if (n == 5) { mean = v[3]; var = v[4]; }
        if (!nd->affine && n == 3) { mean = v[1]; var = v[2]; }
        return ft_batch_norm(g, x, gamma, beta, mean, var, nd->eps, nd->momentum, nd->frozen_stats);
    }
    case G_MAX_POOL2D:
    case G_AVG_POOL2D: {
        ft_pool2d_args a;
        memset(&a, 0, sizeof a);
        memcpy(a.kernel, nd->kernel, sizeof a.kernel);
        memcpy(a.stride, nd->stride, sizeof a.stride);
        memcpy(a.pad, nd->pad, sizeof a.pad);
        a.ceil_mode = nd->ceil_mode;
        a.count_include_pad = nd->count_include_pad;
        return nd->op == G_MAX_POOL2D ? ft_max_pool2d(g, x, &a) : ft_avg_pool2d(g, x, &a);
    }
    case G_GLOBAL_AVG_POOL: return ft_global_avg_pool(g, x, nd->keepdim);
    case G_PAD: {
        if (!nd->nd_pad) return ft_pad2d(g, x, nd->pad, nd->value);
        int64_t pads[2 * FT_MAX_DIMS] = {0};
        int r = x->ndim;
        if (nd->ilist) { /* "pads": every dim, batch included */
            if (nd->n_ilist != 2 * r)
                return ft_graph_fail(g, FT_ESHAPE, "'pads' has %lld entries for a %d-dim input (want %d)", (long long)nd->n_ilist, r, 2 * r);
            memcpy(pads, nd->ilist, (size_t)(2 * r) * sizeof *pads);
        } else { /* "pad" [top, left, bottom, right] of the last two dims, with a mode */
            if (r < 2) return ft_graph_fail(g, FT_ESHAPE, "'pad' needs an input of at least 2 dims");
            pads[r - 2] = nd->pad[0]; pads[r - 1] = nd->pad[1];
            pads[2 * r - 2] = nd->pad[2]; pads[2 * r - 1] = nd->pad[3];
        }
        return ft_pad(g, x, pads, (ft_padding_mode)nd->mode, nd->value);
    }
    case G_ADD: return ft_add(g, x, v[1]);
    case G_SUB: return ft_sub(g, x, v[1]);
    case G_MUL: return ft_mul(g, x, v[1]);
    case G_DIV: return ft_div(g, x, v[1]);
    case G_SCALE: return ft_scale(g, x, nd->a, nd->b);
    case G_RELU: return ft_relu(g, x);
    case G_RELU6: return ft_relu6(g, x);
    case G_HARDSWISH: return ft_hardswish(g, x);
    case G_HARDSIGMOID: return ft_hardsigmoid(g, x);
    case G_SIGMOID: return ft_sigmoid(g, x);
    case G_TANH: return ft_tanh(g, x);
    case G_GELU: return ft_gelu(g, x, nd->tanh_approx);
    case G_SILU: return ft_silu(g, x);
    case G_SOFTMAX: return ft_softmax_dim(g, x, nd->dim);
    case G_LOG_SOFTMAX: return ft_log_softmax_dim(g, x, nd->dim);
    case G_RESHAPE: {
        if (nd->full) return ft_reshape(g, x, nd->n_dims, nd->dims); /* the shape includes the batch dim */
        int64_t s[FT_MAX_DIMS] = {x->shape[0]};
        for (int i = 0; i < nd->n_dims; i++) s[i + 1] = nd->dims[i];
        /* the -1 is resolved per example, so the batch dim never absorbs it (an empty batch too) */
        int64_t known = 1, per = 1;
        int infer = -1;
        for (int i = 1; i <= nd->n_dims; i++) {
            if (s[i] == -1) infer = i;
            else known *= s[i];
        }
        for (int d = 1; d < x->ndim; d++) per *= x->shape[d];
        if (infer > 0 && !known) return ft_graph_fail(g, FT_ESHAPE, "reshape: a -1 next to a 0 in the shape is ambiguous");
        if (infer > 0) s[infer] = per / known;
        return ft_reshape(g, x, nd->n_dims + 1, s);
    }
    case G_FLATTEN: {
        if (nd->dim >= x->ndim) return ft_graph_fail(g, FT_ESHAPE, "flatten start_dim %d for %d dims", nd->dim, x->ndim);
        int64_t s[FT_MAX_DIMS], rest = 1;
        for (int i = 0; i < nd->dim; i++) s[i] = x->shape[i];
        for (int i = nd->dim; i < x->ndim; i++) rest *= x->shape[i];
        s[nd->dim] = rest;
        return x->ndim == nd->dim + 1 ? x : ft_reshape(g, x, nd->dim + 1, s);
    }
    case G_PERMUTE: {
        if (nd->n_dims != x->ndim) return ft_graph_fail(g, FT_ESHAPE, "permute dims has %d entries for a %d-dim input", nd->n_dims, x->ndim);
        int perm[FT_MAX_DIMS];
        bool moved = false;
        for (int i = 0; i < x->ndim; i++) {
            perm[i] = (int)nd->dims[i];
            moved |= perm[i] != i;
        }
        return moved ? ft_permute(g, x, perm) : x;
    }
    case G_TRANSPOSE: return ft_transpose(g, x, nd->dim, nd->dim1);
    case G_CONCAT: {
        ft_node *acc = NULL;
        int at = 0;
        while (at < n) { /* ft_concat takes FT_MAX_INPUTS at a time: chain */
            ft_node *part[FT_MAX_INPUTS];
            int k = 0;
            if (acc) part[k++] = acc;
            while (k < FT_MAX_INPUTS && at < n) part[k++] = v[at++];
            acc = k == 1 ? part[0] : ft_concat(g, k, part, nd->dim);
            if (!acc) return NULL;
        }
        return acc;
    }
    case G_MEAN:
    case G_SUM: return reduce_dims(g, nd, x);
    case G_DROPOUT: return nd->p > 0 ? ft_dropout(g, x, nd->p) : x;
    case G_LAYER_NORM: return ft_layer_norm(g, x, n > 1 ? v[1] : NULL, n > 2 ? v[2] : NULL, nd->eps);
    case G_EMBEDDING: return ft_embedding(g, x, v[1]);
    case G_IDENTITY: return x;
    case G_LSTM:
    case G_GRU: return rnn_stack(g, nd, v, n);
    case G_RNN_FINAL: return ft_rnn_final(g, x, n > 1 ? v[1] : NULL, nd->hidden, nd->bidir, nd->reverse);
    case G_EXP: return ft_exp(g, x);
    case G_LOG: return ft_log(g, x);
    case G_SQRT: return ft_sqrt(g, x);
    case G_ABS: return ft_abs(g, x);
    case G_NEG: return ft_neg(g, x);
    case G_ERF: return ft_erf(g, x);
    case G_RECIPROCAL: return ft_reciprocal(g, x);
    case G_POW: return n == 1 ? ft_pow_scalar(g, x, nd->exponent) : ft_pow(g, x, v[1]);
    case G_LEAKY_RELU: return ft_leaky_relu(g, x, nd->alpha);
    case G_PRELU: return ft_prelu(g, x, v[1]);
    case G_CLIP: return ft_clip(g, x, nd->lo, nd->hi);
    case G_MAX:
    case G_MIN: /* several operands: folded left to right */
        for (int i = 1; i < n && x; i++) x = nd->op == G_MAX ? ft_maximum(g, x, v[i]) : ft_minimum(g, x, v[i]);
        return x;
    case G_WHERE: return ft_where(g, x, v[1], v[2]);
    case G_EQUAL: return ft_equal(g, x, v[1]);
    case G_GREATER: return ft_greater(g, x, v[1]);
    case G_GREATER_EQUAL: return ft_greater_equal(g, x, v[1]);
    case G_LESS: return ft_less(g, x, v[1]);
    case G_LESS_EQUAL: return ft_less_equal(g, x, v[1]);
    case G_REDUCE_MAX:
    case G_REDUCE_MIN: {
        int dims[FT_MAX_DIMS], k = 0;
        if (nd->n_dims < 0) /* all but the batch dim */
            for (int d = 1; d < x->ndim; d++) dims[k++] = d;
        else
            for (int i = 0; i < nd->n_dims; i++) dims[k++] = (int)nd->dims[i];
        if (!k) return x; /* a 1-dim input has nothing but the batch */
        return nd->op == G_REDUCE_MAX ? ft_reduce_max(g, x, k, dims, nd->keepdim) : ft_reduce_min(g, x, k, dims, nd->keepdim);
    }
    case G_GATHER: return ft_gather(g, x, nd->dim, nd->n_dims, nd->dims, nd->ilist);
    case G_EXPAND: return ft_expand(g, x, nd->n_dims, nd->dims);
    case G_SLICE: return ft_slice_step(g, x, nd->dim, nd->start, nd->end, nd->step);
    case G_CONV_TRANSPOSE2D: {
        ft_conv_transpose2d_args a = ft_conv_transpose2d_defaults();
        memcpy(a.stride, nd->stride, sizeof a.stride);
        memcpy(a.pad, nd->pad, sizeof a.pad);
        memcpy(a.output_padding, nd->output_padding, sizeof a.output_padding);
        memcpy(a.dilation, nd->dilation, sizeof a.dilation);
        a.groups = nd->groups;
        return ft_conv_transpose2d(g, x, v[1], n > 2 ? v[2] : NULL, &a);
    }
    case G_CONV1D: {
        ft_conv1d_args a = {.stride = nd->stride[1], .pad = {nd->pad[0], nd->pad[1]}, .dilation = nd->dilation[1], .groups = nd->groups};
        return ft_conv1d(g, x, v[1], n > 2 ? v[2] : NULL, &a);
    }
    case G_MAX_POOL1D:
    case G_AVG_POOL1D: {
        ft_pool1d_args a = {.kernel = nd->kernel[1], .stride = nd->stride[1], .pad = {nd->pad[0], nd->pad[1]},
                            .ceil_mode = nd->ceil_mode, .count_include_pad = nd->count_include_pad};
        return nd->op == G_MAX_POOL1D ? ft_max_pool1d(g, x, &a) : ft_avg_pool1d(g, x, &a);
    }
    case G_SPLICE: return splice(g, nd, x);
    case G_COUNT: break;
    }
    return ft_graph_fail(g, FT_EINVAL, "internal: op %d", (int)nd->op);
}

/* Add the nodes to g. dry: parameters become placeholder inputs of their shape (the store
 * is not finalized yet at create time). *failed = the index of the node that failed. */
static ft_node *emit(ft_model *m, ft_graph *g, ft_node *x, bool dry, int *failed, ft_node **outs) {
    const gimpl *c = m->impl;
    *failed = -1;
    ft_node **val = ft_calloc((size_t)c->n_nodes, sizeof *val);
    ft_node *ops[G_MAX_OPERANDS];
    if (!val) return ft_graph_fail(g, FT_ENOMEM, "out of memory building graph");
    if (c->batch >= 0 && x && x->ndim >= 1 && x->shape[0] != c->batch) { /* nodes that depend on the batch size (imports) */
        ft_free(val);
        return ft_graph_fail(g, FT_ESHAPE, "the graph runs at batch %lld only (its config's input.batch), not %lld", (long long)c->batch,
                             (long long)x->shape[0]);
    }
    ft_node *out = NULL;
    for (int i = 0; i < c->n_nodes; i++) {
        const gnode *nd = &c->nodes[i];
        int n = 0;
        for (int j = 0; j < nd->n_in; j++) ops[n++] = nd->in[j] < 0 ? x : val[nd->in[j]];
        for (int j = 0; j < nd->n_par; j++) {
            const ft_param_info *p = &m->params->p[nd->par[j]];
            ops[n++] = dry ? ft_input(g, p->name, FT_F32, p->ndim, p->shape) : ft_param_at(g, nd->par[j]);
        }
        int before = ft_graph_node_count(g);
        bool ok = true;
        for (int j = 0; j < n; j++) ok &= ops[j] != NULL;
        val[i] = ok ? apply(g, nd, ops, n) : NULL;
        if (!val[i] || ft_graph_status(g)) {
            *failed = i;
            val[i] = NULL;
            break;
        }
        if (val[i]->id >= before) snprintf(val[i]->name, sizeof val[i]->name, "%s", nd->name);
    }
    if (*failed < 0) out = val[c->output];
    for (int k = 0; outs && *failed < 0 && k < c->n_outputs; k++) outs[k] = val[c->outputs[k]];
    ft_free(val);
    return out;
}

static ft_node *graph_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    int failed;
    (void)training; /* dropout and batch norm follow the plan's training flag */
    return emit(m, g, x, false, &failed, NULL);
}

int ft_graph_model_outputs(ft_model *m, ft_graph *g, ft_node *x, ft_node **outs, int max_outs) {
    const gimpl *c = m->impl;
    if (m->arch != &ft_arch_graph || c->n_outputs > max_outs) return -1;
    int failed;
    if (!emit(m, g, x, false, &failed, outs)) return -1;
    return c->n_outputs;
}

bool ft_graph_config_op_known(const char *op) {
    for (int o = 0; o < G_COUNT; o++)
        if (!strcmp(gops[o].name, op)) return true;
    return false;
}

/* Build once for a batch of one with placeholders: shape errors name the node, and the
 * output must be logits [N, n_classes]. */
static ft_status dry_run(ft_model *m, json_t *root) {
    const gimpl *c = m->impl;
    ft_graph *g = ft_graph_new(NULL);
    if (!g) return ft_fail(FT_ENOMEM, "out of memory");
    int64_t shape[FT_MAX_DIMS] = {c->batch >= 0 ? c->batch : 1};
    for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
    ft_node *x = ft_input(g, c->input_name, m->in_dtype, m->in_ndim + 1, shape);
    int failed = -1;
    ft_node *out = x ? emit(m, g, x, true, &failed, NULL) : NULL;
    ft_status s = FT_OK;
    if (!out) {
        s = ft_graph_plan(g, NULL, false); /* returns the recorded build error */
        if (!s) s = ft_fail(FT_EINVAL, "building failed");
        if (failed >= 0) ft_fail_context(s, "graph config: node '%s' (%s)", c->nodes[failed].name, gops[c->nodes[failed].op].name);
        else ft_fail_context(s, "graph config");
        goto done;
    }
    json_t *nc = json_object_get(root, "n_classes");
    /* "sequence_output": true (CTC models): per-frame logits [N, T, n_classes]. */
    int cdim = json_is_true(json_object_get(root, "sequence_output")) ? 2 : 1;
    if (cdim == 1 && out->ndim != 2 && !json_object_get(root, "head") && !nc) {
        /* a feature extractor (no head): any output shape; a new head flattens it first */
        ((gimpl *)c)->out_ndim = out->ndim;
        int64_t per = 1; /* an empty output (a 0-size dim) has 0 */
        for (int d = 1; d < out->ndim; d++) per *= out->shape[d];
        if (out->ndim < 1 || per > 100000000) { s = ft_fail(FT_EINVAL, "graph config: output has %lld values per example", (long long)per); goto done; }
        m->n_classes = (int)per;
        goto done;
    }
    ((gimpl *)c)->out_ndim = cdim == 2 ? 2 : out->ndim; /* a new head on per-frame outputs stays per frame */
    if (cdim == 2 && out->ndim != 3) {
        char sh[64];
        ft_shape_str(out, sh, sizeof sh);
        s = ft_fail(FT_ESHAPE, "graph config: output node '%s' gives %s; with \"sequence_output\" the model must return "
                    "per-frame logits [N, T, n_classes]", c->nodes[c->output].name, sh);
        goto done;
    }
    if (cdim == 1 && out->ndim != 2) {
        char sh[64];
        ft_shape_str(out, sh, sizeof sh);
        s = ft_fail(FT_ESHAPE, "graph config: output node '%s' gives %s; the model must return logits [N, n_classes] "
                    "(add a \"flatten\" node)", c->nodes[c->output].name, sh);
        goto done;
    }
    if (nc) {
        if (!small_int(nc, 1, 1000000) || json_integer_value(nc) != out->shape[cdim]) {
            s = ft_fail(FT_EINVAL, "graph config: n_classes is %s but output node '%s' gives %lld values per %s",
                        json_is_integer(nc) ? "set" : "not an int", c->nodes[c->output].name, (long long)out->shape[cdim],
                        cdim == 2 ? "frame" : "example");
            goto done;
        }
    }
    if (out->shape[cdim] < 1 || out->shape[cdim] > 1000000) { s = ft_fail(FT_EINVAL, "graph config: output has %lld classes", (long long)out->shape[cdim]); goto done; }
    m->n_classes = (int)out->shape[cdim];
done:
    ft_graph_free(g);
    return s;
}

/* preprocess -> the model's image options (ft_model_image_opts): mean/std of 3 channels,
 * the crop size and the resize. "size"/"resize" are an int or [h, w]; an int resize is the
 * shorter side (then a centre crop), [h, w] an exact resize, aspect ratio not kept (the
 * pipeline is square: h x h; docs/import.md). Values out of range are ignored: preprocess
 * is advice, not a contract of the weights. */
static void image_options(ft_model *m, json_t *pre) {
    json_t *mean = json_object_get(pre, "mean"), *std = json_object_get(pre, "std");
    if (json_array_size(mean) == 3 && json_array_size(std) == 3) {
        bool ok = true;
        for (size_t c = 0; c < 3; c++) {
            double mv = json_number_value(json_array_get(mean, c)), sv = json_number_value(json_array_get(std, c));
            ok &= json_is_number(json_array_get(mean, c)) && json_is_number(json_array_get(std, c)) && sv > 1e-6 && sv < 1e6 &&
                  mv > -1e6 && mv < 1e6;
        }
        for (size_t c = 0; ok && c < 3; c++) {
            m->image_mean[c] = (float)json_number_value(json_array_get(mean, c));
            m->image_std[c] = (float)json_number_value(json_array_get(std, c));
        }
    }
    json_t *size = json_object_get(pre, "size"), *resize = json_object_get(pre, "resize");
    if (json_is_array(size)) size = json_array_get(size, 0);
    bool exact = json_is_array(resize);
    if (exact) resize = json_array_get(resize, 0);
    if (small_int(size, 1, 16384)) m->image_size = (int)json_integer_value(size);
    if (small_int(resize, 1, 16384)) {
        m->image_resize = (int)json_integer_value(resize);
        m->image_stretch = exact;
    }
    if (m->image_size && m->image_resize && m->image_resize < m->image_size) m->image_resize = m->image_size;
}

static ft_status graph_create(ft_model *m, const char *cfg_json) {
    gimpl *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "graph config: %s (line %d)", err.text, err.line);
    ft_status s = parse(m, c, root);
    if (!s) s = dry_run(m, root);
    if (!s) image_options(m, json_object_get(root, "preprocess"));
    json_decref(root);
    return s;
}

/* ---------------- head replacement ---------------- */

static char *dump_json(json_t *root) {
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *r = s ? ft_strdup(s) : NULL;
    free(s);
    return r;
}

/* The head's params get dim 0 = n_classes (a linear [n, in] or a 1x1 conv [n, in, 1, 1]
 * head alike). A model without a head (an embedding extractor) gets a new linear head
 * "head" on its output, [n_classes, features]. Class names no longer apply and are dropped. */
static char *graph_config_with_classes(const ft_model *m, int n_classes) {
    const gimpl *c = m->impl;
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!root) return NULL;
    char *r = NULL;
    json_t *params = json_object_get(root, "params"), *head = json_object_get(root, "head");
    if (!json_is_array(params)) {
        params = json_array();
        json_object_set_new(root, "params", params);
    }
    if (head) {
        json_t *hp = json_object_get(head, "params");
        for (size_t j = 0; j < json_array_size(hp); j++) {
            const char *pn = json_string_value(json_array_get(hp, j));
            for (size_t i = 0; pn && i < json_array_size(params); i++) {
                json_t *p = json_array_get(params, i);
                if (strcmp(json_string_value(json_object_get(p, "name")) ? json_string_value(json_object_get(p, "name")) : "", pn)) continue;
                json_t *shape = json_object_get(p, "shape");
                if (json_array_size(shape) < 1) goto out;
                json_array_set_new(shape, 0, json_integer(n_classes));
            }
        }
    } else {
        char hname[64] = "head", wname[96], bname[96];
        for (int k = 1; find_node(c, c->n_nodes, hname) >= 0 || !strcmp(hname, c->input_name); k++) snprintf(hname, sizeof hname, "head_%d", k);
        snprintf(wname, sizeof wname, "%s.weight", hname);
        snprintf(bname, sizeof bname, "%s.bias", hname);
        if (ft_params_find(m->params, wname) >= 0 || ft_params_find(m->params, bname) >= 0) goto out;
        json_t *w = json_pack("{s:s, s:[i,i]}", "name", wname, "shape", n_classes, m->n_classes);
        json_t *b = json_pack("{s:s, s:[i]}", "name", bname, "shape", n_classes);
        json_array_append_new(params, w);
        json_array_append_new(params, b);
        json_t *nodes = json_object_get(root, "nodes");
        const char *feat = c->nodes[c->output].name;
        char fname[80];
        if (c->out_ndim != 2) { /* a feature map: flatten it first */
            snprintf(fname, sizeof fname, "%s.flatten", hname);
            for (int k = 2; find_node(c, c->n_nodes, fname) >= 0; k++) snprintf(fname, sizeof fname, "%s.flatten_%d", hname, k);
            json_t *fl = json_pack("{s:s, s:s, s:[s]}", "name", fname, "op", c->out_ndim < 2 ? "reshape" : "flatten", "inputs", feat);
            if (fl && c->out_ndim < 2) json_object_set_new(fl, "attrs", json_pack("{s:[i]}", "shape", m->n_classes));
            if (!fl || !json_is_array(nodes)) { json_decref(fl); goto out; }
            json_array_append_new(nodes, fl);
            feat = fname;
        }
        json_t *node = json_pack("{s:s, s:s, s:[s], s:[s,s]}", "name", hname, "op", "linear", "inputs", feat,
                                 "params", wname, bname);
        if (!w || !b || !node || !json_is_array(nodes)) { json_decref(node); goto out; }
        json_object_del(root, "outputs");
        json_array_append_new(nodes, node);
        json_object_set_new(root, "output", json_string(hname));
        json_object_set_new(root, "head", json_pack("{s:s, s:[s,s]}", "node", hname, "params", wname, bname));
    }
    json_object_set_new(root, "n_classes", json_integer(n_classes));
    json_t *pre = json_object_get(root, "preprocess");
    if (json_is_object(pre)) json_object_del(pre, "labels");
    r = dump_json(root);
out:
    json_decref(root);
    return r;
}

static void graph_free(ft_model *m) { gimpl_free(m->impl); }

int64_t ft_model_fixed_batch(const ft_model *m) {
    if (!m || m->arch != &ft_arch_graph || !m->impl) return 0;
    const gimpl *c = m->impl;
    return c->batch > 0 ? c->batch : 0;
}

const ft_arch ft_arch_graph = {"graph", graph_create, graph_build, graph_config_with_classes, graph_free, NULL, NULL};

/* ---------------- labels (any architecture: edits the config JSON) ---------------- */

/* Store `labels` (a JSON array of n_classes strings, borrowed) as preprocess.labels. */
static ft_status set_labels_json(ft_model *m, json_t *labels, const char *what) {
    if ((int64_t)json_array_size(labels) != m->n_classes)
        return ft_fail(FT_EINVAL, "%s has %zu labels but the model has %d classes", what, json_array_size(labels), m->n_classes);
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return ft_fail(FT_EINVAL, "%s: the model's config is not a JSON object", what);
    }
    json_t *pre = json_object_get(root, "preprocess");
    if (!json_is_object(pre)) {
        pre = json_object();
        json_object_set_new(root, "preprocess", pre);
    }
    json_object_set(pre, "labels", labels);
    char *cfg = dump_json(root);
    json_decref(root);
    if (!cfg) return ft_fail(FT_ENOMEM, "out of memory");
    ft_free(m->config_json);
    m->config_json = cfg;
    return FT_OK;
}

ft_status ft_model_set_labels(ft_model *m, const char *const *names, int n) {
    json_t *labels = json_array();
    if (!labels) return ft_fail(FT_ENOMEM, "out of memory");
    ft_status s = FT_OK;
    for (int i = 0; i < n && !s; i++) {
        json_t *str = names[i] ? json_string(names[i]) : NULL;
        if (!str) s = ft_fail(FT_EINVAL, "class name %d is missing or not valid UTF-8", i);
        else json_array_append_new(labels, str);
    }
    if (!s) s = set_labels_json(m, labels, "the class-name list");
    json_decref(labels);
    return s;
}

char **ft_model_labels(const ft_model *m) {
    json_t *root = m->config_json ? json_loads(m->config_json, 0, NULL) : NULL;
    json_t *labels = json_object_get(json_object_get(root, "preprocess"), "labels");
    char **out = NULL;
    bool ok = m->n_classes > 0 && json_is_array(labels) && json_array_size(labels) == (size_t)m->n_classes;
    for (int i = 0; ok && i < m->n_classes; i++) ok = json_is_string(json_array_get(labels, (size_t)i));
    if (ok && (out = ft_calloc((size_t)m->n_classes, sizeof *out))) {
        for (int i = 0; i < m->n_classes; i++) {
            if (!(out[i] = ft_strdup(json_string_value(json_array_get(labels, (size_t)i))))) {
                ft_model_labels_free(out, m->n_classes);
                out = NULL;
                break;
            }
        }
    }
    json_decref(root);
    return out;
}

void ft_model_labels_free(char **labels, int n) {
    if (!labels) return;
    for (int i = 0; i < n; i++) ft_free(labels[i]);
    ft_free(labels);
}

ft_status ft_model_set_labels_file(ft_model *m, const char *path) {
    uint8_t *text = NULL;
    size_t n = 0;
    ft_status s = ft_read_file(path, 64u << 20, &text, &n);
    if (s) return s;
    json_t *labels = json_array();
    if (!labels) { s = ft_fail(FT_ENOMEM, "out of memory"); goto out; }
    size_t at = 0, lines = 0;
    while (at < n) {
        size_t e = at;
        while (e < n && text[e] != '\n') e++;
        size_t len = e - at;
        if (len && text[at + len - 1] == '\r') len--;
        json_t *str = json_stringn((const char *)text + at, len);
        if (!str) { s = ft_fail(FT_EFORMAT, "%s: line %zu is not valid UTF-8", path, lines + 1); goto out; }
        json_array_append_new(labels, str);
        lines++;
        at = e + 1;
    }
    while (json_array_size(labels) && !json_string_length(json_array_get(labels, json_array_size(labels) - 1)))
        json_array_remove(labels, json_array_size(labels) - 1);
    s = set_labels_json(m, labels, path);
out:
    json_decref(labels);
    ft_free(text);
    return s;
}
