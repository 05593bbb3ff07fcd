/* ONNX export: an ft_model's eval-mode forward pass as an ONNX ModelProto (protobuf-c, from
 * the onnx.proto that Debian's libonnx-dev ships; see docs/onnx.md "Export").
 *
 * The model is built into an ordinary graph for a batch of one (no plan, nothing runs) and
 * the needed nodes are translated one by one, each engine op into one or a few ONNX nodes.
 * For a dynamic batch dim the model is built a second time for a batch of two: a dim that
 * differs between the two graphs depends on the batch, and only such dims are left symbolic
 * (Reshape targets get -1 or 0 there; anything else that would bake the batch in fails and
 * asks for a fixed batch).
 *
 * Parameters become float32 initializers (raw_data pointing into the parameter store: no
 * copy) under their finetune names. Everything the mapping adds (shapes, axes, scalars,
 * masks) is a Constant node, so an importer does not mistake it for a weight. Tensor names
 * are the engine nodes' names (a "graph" model's node names), made unique. */
#include "finetune/export.h"
#include "finetune/io.h"
#include "finetune/tasks.h"
#include "models/models.h"
#include "ops/ops.h"
#include "onnx.pb-c.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONNX_FLOAT 1
#define ONNX_INT32 6
#define ONNX_INT64 7
#define ONNX_BOOL 9
#define BATCH_PARAM "N"

ft_onnx_export_opts ft_onnx_export_defaults(void) {
    ft_onnx_export_opts o = {0, 0, 0};
    return o;
}

/* ---------------- the exporter's state: every allocation is tracked and freed at once ---------------- */
typedef struct {
    void **mem;
    size_t n_mem, cap_mem;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    Onnx__ValueInfoProto **inputs;
    size_t n_inputs;
    const ft_params *ps;
    ft_graph *g, *g2;      /* g2: the same model at batch 2 (NULL for a fixed batch) */
    char **name;           /* tensor name per node id */
    bool *need;
    int opset;
    int n_const;
    ft_status err;
} ex;

static void *ex_alloc(ex *e, size_t bytes) {
    if (e->err) return NULL;
    if (e->n_mem == e->cap_mem) {
        size_t cap = e->cap_mem ? 2 * e->cap_mem : 256;
        void **p = ft_realloc(e->mem, cap * sizeof *p);
        if (!p) { e->err = ft_fail(FT_ENOMEM, "ONNX export: out of memory"); return NULL; }
        e->mem = p;
        e->cap_mem = cap;
    }
    void *p = ft_calloc(1, bytes ? bytes : 1);
    if (!p) { e->err = ft_fail(FT_ENOMEM, "ONNX export: out of memory"); return NULL; }
    e->mem[e->n_mem++] = p;
    return p;
}

static char *ex_printf(ex *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ex_printf(ex *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = ex_alloc(e, (size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static bool grow(ex *e, void ***arr, size_t n, size_t *cap) {
    if (n < *cap) return true;
    size_t c = *cap ? 2 * *cap : 64;
    void **p = ft_realloc(*arr, c * sizeof *p);
    if (!p) { e->err = ft_fail(FT_ENOMEM, "ONNX export: out of memory"); return false; }
    *arr = p;
    *cap = c;
    return true;
}

static void ex_free(ex *e) {
    for (size_t i = 0; i < e->n_mem; i++) ft_free(e->mem[i]);
    ft_free(e->mem);
    ft_free(e->nodes);
    ft_free(e->inits);
    ft_free(e->name);
    ft_free(e->need);
}

/* ---------------- building blocks ---------------- */
/* A node with up to 4 inputs (NULL ends the list; "" is an omitted optional input) and one output. */
static Onnx__NodeProto *op(ex *e, const char *type, const char *out, const char *a, const char *b, const char *c, const char *d) {
    if (e->err || !out) return NULL;
    Onnx__NodeProto *n = ex_alloc(e, sizeof *n);
    if (!n) return NULL;
    onnx__node_proto__init(n);
    const char *ins[4] = {a, b, c, d};
    int k = 0;
    while (k < 4 && ins[k]) k++;
    n->input = ex_alloc(e, (size_t)(k ? k : 1) * sizeof(char *));
    n->output = ex_alloc(e, sizeof(char *));
    if (!n->input || !n->output) return NULL;
    for (int i = 0; i < k; i++) n->input[i] = (char *)ins[i];
    n->n_input = (size_t)k;
    n->output[0] = (char *)out;
    n->n_output = 1;
    n->op_type = (char *)type;
    n->name = (char *)out;
    if (!grow(e, (void ***)&e->nodes, e->n_nodes, &e->cap_nodes)) return NULL;
    e->nodes[e->n_nodes++] = n;
    return n;
}

static Onnx__AttributeProto *attr(ex *e, Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType t) {
    if (e->err || !n) return NULL;
    Onnx__AttributeProto *a = ex_alloc(e, sizeof *a);
    Onnx__AttributeProto **arr = ex_alloc(e, (n->n_attribute + 1) * sizeof *arr);
    if (!a || !arr) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = t;
    if (n->n_attribute) memcpy(arr, n->attribute, n->n_attribute * sizeof *arr);
    arr[n->n_attribute++] = a;
    n->attribute = arr;
    return a;
}
static void attr_i(ex *e, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) { a->has_i = 1; a->i = v; }
}
static void attr_f(ex *e, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) { a->has_f = 1; a->f = v; }
}
static void attr_s(ex *e, Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (a) { a->has_s = 1; a->s.data = (uint8_t *)(uintptr_t)v; a->s.len = strlen(v); }
}
static void attr_ints(ex *e, Onnx__NodeProto *n, const char *name, int k, const int64_t *v) {
    Onnx__AttributeProto *a = attr(e, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = ex_alloc(e, (size_t)(k ? k : 1) * sizeof *c);
    if (!a || !c) return;
    memcpy(c, v, (size_t)k * sizeof *c);
    a->ints = c;
    a->n_ints = (size_t)k;
}

static Onnx__TensorProto *tensor(ex *e, const char *name, int dtype, int ndim, const int64_t *dims, const void *data, size_t bytes,
                                 bool copy) {
    Onnx__TensorProto *t = ex_alloc(e, sizeof *t);
    int64_t *d = ex_alloc(e, (size_t)(ndim ? ndim : 1) * sizeof *d);
    if (!t || !d) return NULL;
    onnx__tensor_proto__init(t);
    if (ndim) memcpy(d, dims, (size_t)ndim * sizeof *d);
    t->dims = d;
    t->n_dims = (size_t)ndim;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->name = (char *)name;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    if (copy) {
        void *b = ex_alloc(e, bytes);
        if (!b) return NULL;
        memcpy(b, data, bytes);
        t->raw_data.data = b;
    } else {
        t->raw_data.data = (uint8_t *)(uintptr_t)data;
    }
    return t;
}

/* A Constant node holding a tensor; returns its output name (hint makes it readable). */
static const char *constant(ex *e, const char *hint, int dtype, int ndim, const int64_t *dims, const void *data, size_t bytes) {
    char *name = ex_printf(e, "%s/const%d", hint, e->n_const++);
    Onnx__NodeProto *n = op(e, "Constant", name, NULL, NULL, NULL, NULL);
    Onnx__AttributeProto *a = attr(e, n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    if (!a) return NULL;
    a->t = tensor(e, "", dtype, ndim, dims, data, bytes, true);
    return a->t ? name : NULL;
}
static const char *const_i64(ex *e, const char *hint, int k, const int64_t *v) {
    int64_t d[1] = {k};
    return constant(e, hint, ONNX_INT64, 1, d, v, (size_t)k * sizeof *v);
}
static const char *const_f(ex *e, const char *hint, float v) { return constant(e, hint, ONNX_FLOAT, 0, NULL, &v, sizeof v); }
static const char *const_fill(ex *e, const char *hint, int64_t n, float v) {
    float *buf = ex_alloc(e, (size_t)n * sizeof *buf);
    if (!buf) return NULL;
    for (int64_t i = 0; i < n; i++) buf[i] = v;
    int64_t d[1] = {n};
    return constant(e, hint, ONNX_FLOAT, 1, d, buf, (size_t)n * sizeof *buf);
}

static const char *tmp(ex *e, const char *base, const char *what) { return ex_printf(e, "%s/%s", base, what); }

static ft_status unsupported(ex *e, const ft_node *n, const char *why) {
    /* a node without a name (a native architecture's) is named by its op and the module of
     * the nearest parameter among its inputs (breadth first): 'lstm of encoder.rnn' */
    char who[112] = "?";
    const ft_node *q[32] = {n};
    for (int h = 0, t = 1; !n->name[0] && h < t && who[0] == '?'; h++)
        for (int i = 0; i < q[h]->n_in && who[0] == '?'; i++) {
            const ft_node *p = q[h]->in[i];
            const char *dot = p->op == FT_OP_PARAM ? strrchr(p->name, '.') : NULL;
            if (p->op == FT_OP_PARAM)
                snprintf(who, sizeof who, "%s of %.*s", ft_op_name(n->op), dot ? (int)(dot - p->name) : (int)strlen(p->name), p->name);
            else if (t < 32) q[t++] = p;
        }
    if (!e->err)
        e->err = ft_fail(FT_EUNSUPPORTED, "ONNX export: node %d '%s' (op %s): %s", n->id, n->name[0] ? n->name : who,
                         ft_op_name(n->op), why);
    return e->err;
}

/* The math ops compute on float32; an int32 operand has no exact ONNX form here. */
static bool float_inputs(ex *e, const ft_node *n) {
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i]->dtype != FT_F32) { unsupported(e, n, "an int32 operand (the op computes on float32)"); return false; }
    return true;
}

/* Does dim d of node n depend on the batch size? (never, for a fixed batch) */
static bool varies(const ex *e, const ft_node *n, int d) {
    if (!e->g2) return false;
    const ft_node *m = ft_graph_node(e->g2, n->id);
    return m->shape[d] != n->shape[d];
}

static const char *transpose(ex *e, const char *x, const char *out, int ndim, const int64_t *perm) {
    Onnx__NodeProto *t = op(e, "Transpose", out, x, NULL, NULL, NULL);
    attr_ints(e, t, "perm", ndim, perm);
    return out;
}
static const char *swap_last2(ex *e, const char *x, const char *out, int ndim) {
    int64_t perm[FT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) perm[i] = i;
    perm[ndim - 2] = ndim - 1;
    perm[ndim - 1] = ndim - 2;
    return transpose(e, x, out, ndim, perm);
}

/* ---------------- recurrent layers and transposed convolution ---------------- */
/* A node with any number of inputs and outputs ("" is an omitted optional input). */
static Onnx__NodeProto *opv(ex *e, const char *type, int n_out, const char *const *outs, int n_in, const char *const *ins) {
    if (e->err) return NULL;
    for (int i = 0; i < n_out; i++)
        if (!outs[i]) return NULL;
    for (int i = 0; i < n_in; i++)
        if (!ins[i]) return NULL;
    Onnx__NodeProto *n = op(e, type, outs[0], ins[0], NULL, NULL, NULL);
    char **in = ex_alloc(e, (size_t)n_in * sizeof *in), **out = ex_alloc(e, (size_t)n_out * sizeof *out);
    if (!n || !in || !out) return NULL;
    for (int i = 0; i < n_in; i++) in[i] = (char *)ins[i];
    for (int i = 0; i < n_out; i++) out[i] = (char *)outs[i];
    n->input = in;
    n->n_input = (size_t)n_in;
    n->output = out;
    n->n_output = (size_t)n_out;
    return n;
}

/* The lstm/gru node's input slots (src/ops/rnn.c keeps them in iarg: the index in in[], 0 = absent). */
enum { RNN_REV = 0, RNN_CELL, RNN_RB, RNN_BIH, RNN_BHH, RNN_H0, RNN_C0, RNN_LEN };
static bool rnn_op(const ft_node *n) { return n->op == FT_OP_LSTM || n->op == FT_OP_GRU; }
static const ft_node *rnn_slot(const ft_node *n, int slot) { return n->iarg[slot] ? n->in[n->iarg[slot]] : NULL; }

/* An initial state [N, H] that is an expand of a state [1, H] shared by every example (a graph
 * config's initial_state param with batch 1): its source, which the mapping broadcasts to the
 * batch itself (exmath's Expand mapping refuses a batch-dependent size). Else s. */
static const ft_node *rnn_state_src(const ft_node *s) {
    if (s && s->op == FT_OP_EXPAND && s->ndim == 2 && s->in[0]->ndim == 2 && s->in[0]->shape[0] == 1 && s->in[0]->shape[1] == s->shape[1])
        return s->in[0];
    return s;
}
static bool rnn_state_slot(const ft_node *n, int k) { return rnn_op(n) && k > 0 && (k == n->iarg[RNN_H0] || k == n->iarg[RNN_C0]); }

/* ONNX initial_h / initial_c [1, N, H] from the engine's state [N, H] (or [1, H] broadcast). */
static const char *rnn_initial(ex *e, const ft_node *n, const ft_node *s, const char *y, const char *what) {
    if (!s) return "";
    const ft_node *src = rnn_state_src(s);
    const char *sn = e->name[src->id], *out = tmp(e, y, what);
    int64_t H = s->shape[1], zero = 0;
    if (src->shape[0] == 1 && (n->in[0]->shape[0] != 1 || varies(e, n->in[0], 0))) {
        /* one state for every example: Expand to [1, N, H], N read from x's shape */
        int64_t one = 1, sh3[3] = {1, 1, H};
        const char *r = tmp(e, y, ex_printf(e, "%s_1", what)), *shp = tmp(e, y, ex_printf(e, "%s_xshape", what)),
                   *nb = tmp(e, y, ex_printf(e, "%s_batch", what)), *full = tmp(e, y, ex_printf(e, "%s_shape", what));
        op(e, "Reshape", r, sn, const_i64(e, y, 3, sh3), NULL, NULL);
        op(e, "Shape", shp, e->name[n->in[0]->id], NULL, NULL, NULL);
        op(e, "Slice", nb, shp, const_i64(e, y, 1, &zero), const_i64(e, y, 1, &one), NULL);
        const char *parts[3] = {const_i64(e, y, 1, &one), nb, const_i64(e, y, 1, &H)};
        attr_i(e, opv(e, "Concat", 1, &full, 3, parts), "axis", 0);
        op(e, "Expand", out, r, full, NULL, NULL);
    } else {
        op(e, "Unsqueeze", out, sn, const_i64(e, y, 1, &zero), NULL, NULL);
    }
    return out;
}

/* PyTorch's gate blocks (rows of G blocks of H) in ONNX's order, as [1, G*H(, cols)]: nodes on
 * the parameter (the initializer keeps its finetune name and layout). */
static const char *rnn_gates(ex *e, const char *w, int G, int64_t H, int64_t cols, const int64_t *order, const char *y, const char *what) {
    int64_t blocks[3] = {G, H, cols}, back[3] = {1, G * H, cols};
    int nd = cols ? 3 : 2;
    const char *r = tmp(e, y, ex_printf(e, "%s_blocks", what)), *gt = tmp(e, y, ex_printf(e, "%s_onnx_order", what)), *out = tmp(e, y, what);
    op(e, "Reshape", r, w, const_i64(e, y, nd, blocks), NULL, NULL);
    attr_i(e, op(e, "Gather", gt, r, const_i64(e, y, G, order), NULL, NULL), "axis", 0);
    op(e, "Reshape", out, gt, const_i64(e, y, nd, back), NULL, NULL);
    return out;
}

/* lstm / gru (one direction, batch-first [N,T,F]) -> ONNX LSTM / GRU (direction forward or
 * reverse, [T,N,F]); outputs y = Y as [N,T,H]; Y_h / Y_c under "<y>/Y_h", "<y>/Y_c". */
static void emit_rnn(ex *e, ft_node *n, const char *y) {
    bool lstm = n->op == FT_OP_LSTM;
    int G = lstm ? 4 : 3;
    int64_t H = n->in[2]->shape[1];
    static const int64_t lstm_order[4] = {0, 3, 1, 2}, gru_order[3] = {1, 0, 2}; /* ONNX i,o,f,c <- PyTorch i,f,g,o; z,r,h <- r,z,n */
    const int64_t *ord = lstm ? lstm_order : gru_order;
    if (n->iarg[RNN_CELL]) {
        /* the per-step cell state has no ONNX output (Y_c is the final one): every use must read
         * only the h columns (a slice inside [0, H)) or the final state (rnn_final) */
        for (int i = n->id + 1; i < ft_graph_node_count(e->g); i++) {
            ft_node *c = ft_graph_node(e->g, i);
            if (!e->need[i]) continue;
            for (int k = 0; k < c->n_in; k++) {
                if (c->in[k] != n) continue;
                int64_t end = c->op == FT_OP_SLICE ? c->iarg[1] + (c->shape[2] - 1) * (c->iarg[2] ? c->iarg[2] : 1) : -1;
                bool h_only = c->op == FT_OP_SLICE && c->iarg[0] == 2 && c->iarg[1] >= 0 && c->iarg[1] < H && end >= 0 && end < H;
                bool final = c->op == FT_OP_RNN_FINAL && !c->iarg[1] && !c->iarg[3] && c->iarg[0] == H && c->iarg[2] == n->iarg[RNN_REV];
                if (!h_only && !final) {
                    unsupported(e, n, "the per-step cell state (cell_output) has no ONNX form: only its h columns and final state export");
                    return;
                }
            }
        }
    }
    const char *xt = tmp(e, y, "x_tnf"), *w = tmp(e, y, "W"), *r = tmp(e, y, "R");
    int64_t perm3[3] = {1, 0, 2};
    transpose(e, e->name[n->in[0]->id], xt, 3, perm3);
    rnn_gates(e, e->name[n->in[1]->id], G, H, n->in[1]->shape[1], ord, y, "W");
    rnn_gates(e, e->name[n->in[2]->id], G, H, H, ord, y, "R");
    const char *b = "";
    const ft_node *bi = rnn_slot(n, RNN_BIH), *bh = rnn_slot(n, RNN_BHH);
    if (bi || bh) {
        int64_t bd[2] = {1, G * H};
        float *zeros = ex_alloc(e, (size_t)(G * H) * sizeof *zeros);
        if (!zeros) return;
        const char *parts[2];
        parts[0] = bi ? rnn_gates(e, e->name[bi->id], G, H, 0, ord, y, "Wb") : constant(e, y, ONNX_FLOAT, 2, bd, zeros, (size_t)(G * H) * 4);
        parts[1] = bh ? rnn_gates(e, e->name[bh->id], G, H, 0, ord, y, "Rb") : constant(e, y, ONNX_FLOAT, 2, bd, zeros, (size_t)(G * H) * 4);
        b = tmp(e, y, "B");
        attr_i(e, opv(e, "Concat", 1, &b, 2, parts), "axis", 1);
    }
    const ft_node *len = rnn_slot(n, RNN_LEN);
    const char *sl = len ? e->name[len->id] : ""; /* int32 [N]: ONNX's sequence_lens, the same semantics */
    const char *h0 = rnn_initial(e, n, rnn_slot(n, RNN_H0), y, "initial_h");
    const char *c0 = lstm ? rnn_initial(e, n, rnn_slot(n, RNN_C0), y, "initial_c") : NULL;
    const char *ins[7] = {xt, w, r, b, sl, h0, c0};
    int n_in = lstm ? 7 : 6;
    while (n_in > 3 && !ins[n_in - 1][0]) n_in--;
    const char *outs[3] = {tmp(e, y, "Y"), tmp(e, y, "Y_h"), tmp(e, y, "Y_c")};
    Onnx__NodeProto *o = opv(e, lstm ? "LSTM" : "GRU", lstm ? 3 : 2, outs, n_in, ins);
    if (o) o->name = (char *)y; /* the engine node's name: an importer names the layer's states after it */
    if (n->iarg[RNN_REV]) {
        Onnx__AttributeProto *a = attr(e, o, "direction", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
        if (a) { a->has_s = 1; a->s.data = (uint8_t *)"reverse"; a->s.len = 7; }
    }
    attr_i(e, o, "hidden_size", H);
    if (!lstm) attr_i(e, o, "linear_before_reset", !n->iarg[RNN_RB]); /* PyTorch's GRU: r * (W_hn h + b_hn) */
    /* Y [T, 1, N, H] -> [N, T, 1, H] -> [N, T, H] */
    int64_t perm4[4] = {2, 0, 1, 3}, back[3] = {0, 0, H};
    const char *yt = tmp(e, y, "Y_nt1h");
    transpose(e, outs[0], yt, 4, perm4);
    Onnx__NodeProto *rs = op(e, "Reshape", y, yt, const_i64(e, y, 3, back), NULL, NULL);
    if (rs) rs->name = (char *)tmp(e, y, "Y_nth"); /* node names are unique: y names the LSTM/GRU node */
}

/* rnn_final: column block k read at the last step (forward) or the first (reverse). */
static void emit_rnn_final(ex *e, ft_node *n, const char *y) {
    const ft_node *src = n->in[0];
    int64_t H = n->iarg[0], W = n->shape[1], T = src->shape[1], two[2] = {-1, H}, flat[2] = {0, W};
    if (n->iarg[3]) { unsupported(e, n, "final states at per-sequence lengths are not exported"); return; }
    if (rnn_op(src) && src->iarg[RNN_CELL]) { /* [h | c] of an LSTM: ONNX's Y_h and Y_c [1, N, H] */
        const char *yn = e->name[src->id], *parts[2] = {tmp(e, y, "h_n"), tmp(e, y, "c_n")};
        op(e, "Reshape", parts[0], tmp(e, yn, "Y_h"), const_i64(e, y, 2, two), NULL, NULL);
        op(e, "Reshape", parts[1], tmp(e, yn, "Y_c"), const_i64(e, y, 2, two), NULL, NULL);
        attr_i(e, opv(e, "Concat", 1, &y, 2, parts), "axis", 1);
        return;
    }
    /* the last and the first step as [N, W] */
    const char *x = e->name[src->id], *steps[2] = {NULL, NULL};
    int nb = (int)(W / H);
    bool any[2] = {false, false};
    for (int k = 0; k < nb; k++) any[n->iarg[1] ? (k & 1) : n->iarg[2]] = true;
    for (int r = 0; r < 2; r++) {
        if (!any[r]) continue;
        int64_t t0 = r ? 0 : T - 1, t1 = t0 + 1, ax = 1;
        const char *s = tmp(e, y, r ? "first" : "last"), *f = any[!r] ? tmp(e, y, r ? "first_nw" : "last_nw") : y;
        op(e, "Slice", s, x, const_i64(e, y, 1, &t0), const_i64(e, y, 1, &t1), const_i64(e, y, 1, &ax));
        op(e, "Reshape", f, s, const_i64(e, y, 2, flat), NULL, NULL);
        steps[r] = f;
    }
    if (!any[0] || !any[1]) return;
    /* bidirectional: block k from the last step when k is even, the first when odd */
    const char **parts = ex_alloc(e, (size_t)nb * sizeof *parts);
    if (!parts) return;
    for (int k = 0; k < nb; k++) {
        int64_t a = k * H, z = a + H, ax = 1;
        parts[k] = tmp(e, y, ex_printf(e, "block%d", k));
        op(e, "Slice", parts[k], steps[k & 1], const_i64(e, y, 1, &a), const_i64(e, y, 1, &z), const_i64(e, y, 1, &ax));
    }
    attr_i(e, opv(e, "Concat", 1, &y, nb, parts), "axis", 1);
}

/* conv_transpose2d -> ConvTranspose; output_padding from the output size. */
static void emit_conv_transpose(ex *e, ft_node *n, const char *y) {
    const ft_node *x = n->in[0], *w = n->in[1];
    int64_t k[2] = {w->shape[2], w->shape[3]}, s[2] = {n->iarg[4] >> 16, n->iarg[4] & 0xffff},
            dl[2] = {n->iarg[5] >> 16, n->iarg[5] & 0xffff}, p[4] = {n->iarg[0], n->iarg[1], n->iarg[2], n->iarg[3]}, op_[2];
    for (int a = 0; a < 2; a++)
        op_[a] = n->shape[2 + a] - ((x->shape[2 + a] - 1) * s[a] - p[a] - p[a + 2] + dl[a] * (k[a] - 1) + 1);
    Onnx__NodeProto *o = op(e, "ConvTranspose", y, e->name[x->id], e->name[w->id], n->iarg[7] ? e->name[n->in[2]->id] : NULL, NULL);
    attr_ints(e, o, "kernel_shape", 2, k);
    attr_ints(e, o, "strides", 2, s);
    attr_ints(e, o, "pads", 4, p);
    attr_ints(e, o, "dilations", 2, dl);
    if (op_[0] || op_[1]) attr_ints(e, o, "output_padding", 2, op_);
    attr_i(e, o, "group", n->iarg[6]);
}

/* ---------------- one engine node -> ONNX ---------------- */
static void emit_node(ex *e, ft_node *n) {
    const char *y = e->name[n->id];
    const char *x = n->n_in > 0 ? e->name[n->in[0]->id] : NULL;
    const char *x1 = n->n_in > 1 ? e->name[n->in[1]->id] : NULL;
    const char *x2 = n->n_in > 2 ? e->name[n->in[2]->id] : NULL;
    Onnx__NodeProto *o;
    switch (n->op) {
    case FT_OP_INPUT:
        return; /* graph inputs are declared by the caller */
    case FT_OP_PARAM: {
        const ft_param_info *p = &e->ps->p[n->param];
        Onnx__TensorProto *t = tensor(e, y, ONNX_FLOAT, p->ndim, p->shape, e->ps->data + p->offset, (size_t)p->numel * 4, false);
        if (!t || !grow(e, (void ***)&e->inits, e->n_inits, &e->cap_inits)) return;
        e->inits[e->n_inits++] = t;
        return;
    }
    case FT_OP_LSTM:
    case FT_OP_GRU: emit_rnn(e, n, y); return;
    case FT_OP_RNN_FINAL: emit_rnn_final(e, n, y); return;
    case FT_OP_CONV_TRANSPOSE2D: emit_conv_transpose(e, n, y); return;
    case FT_OP_LINEAR:
        if (n->in[0]->ndim == 2) {
            o = op(e, "Gemm", y, x, x1, x2, NULL);
            attr_i(e, o, "transB", 1);
        } else {
            const char *wt = swap_last2(e, x1, tmp(e, y, "weight_t"), 2);
            if (x2) {
                const char *mm = tmp(e, y, "matmul");
                op(e, "MatMul", mm, x, wt, NULL, NULL);
                op(e, "Add", y, mm, x2, NULL, NULL);
            } else {
                op(e, "MatMul", y, x, wt, NULL, NULL);
            }
        }
        return;
    case FT_OP_MATMUL: {
        const char *a = n->iarg[0] ? swap_last2(e, x, tmp(e, y, "a_t"), n->in[0]->ndim) : x;
        const char *b = n->iarg[1] ? swap_last2(e, x1, tmp(e, y, "b_t"), n->in[1]->ndim) : x1;
        op(e, "MatMul", y, a, b, NULL, NULL);
        return;
    }
    case FT_OP_ADD: op(e, "Add", y, x, x1, NULL, NULL); return;
    case FT_OP_SUB: op(e, "Sub", y, x, x1, NULL, NULL); return;
    case FT_OP_MUL: op(e, "Mul", y, x, x1, NULL, NULL); return;
    case FT_OP_DIV: op(e, "Div", y, x, x1, NULL, NULL); return;
    case FT_OP_SCALE: {
        float a = n->farg[0], b = n->farg[1];
        if (a == 1.0f && b == 0.0f) { op(e, "Identity", y, x, NULL, NULL, NULL); return; }
        const char *t = x;
        if (a != 1.0f) {
            const char *mo = b != 0.0f ? tmp(e, y, "mul") : y;
            op(e, "Mul", mo, t, const_f(e, y, a), NULL, NULL);
            t = mo;
        }
        if (b != 0.0f) op(e, "Add", y, t, const_f(e, y, b), NULL, NULL);
        return;
    }
    case FT_OP_RELU: op(e, "Relu", y, x, NULL, NULL, NULL); return;
    case FT_OP_SIGMOID: op(e, "Sigmoid", y, x, NULL, NULL, NULL); return;
    case FT_OP_TANH: op(e, "Tanh", y, x, NULL, NULL, NULL); return;
    case FT_OP_SILU: {
        const char *s = tmp(e, y, "sigmoid");
        op(e, "Sigmoid", s, x, NULL, NULL, NULL);
        op(e, "Mul", y, x, s, NULL, NULL);
        return;
    }
    case FT_OP_GELU:
        if (!n->iarg[0]) {
            /* the pattern torch.onnx exports for nn.GELU(): x * (erf(x / sqrt 2) + 1) * 0.5 */
            const char *d = tmp(e, y, "div"), *er = tmp(e, y, "erf"), *ad = tmp(e, y, "add"), *mu = tmp(e, y, "mul");
            op(e, "Div", d, x, const_f(e, y, 1.41421353816986083984375f), NULL, NULL);
            op(e, "Erf", er, d, NULL, NULL, NULL);
            op(e, "Add", ad, er, const_f(e, y, 1.0f), NULL, NULL);
            op(e, "Mul", mu, x, ad, NULL, NULL);
            op(e, "Mul", y, mu, const_f(e, y, 0.5f), NULL, NULL);
        } else {
            /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
            const char *x3 = tmp(e, y, "cube"), *x2b = tmp(e, y, "sq"), *c = tmp(e, y, "cubic"), *s = tmp(e, y, "inner"),
                       *u = tmp(e, y, "scaled"), *th = tmp(e, y, "tanh"), *a1 = tmp(e, y, "add1"), *hx = tmp(e, y, "halfx");
            op(e, "Mul", x2b, x, x, NULL, NULL);
            op(e, "Mul", x3, x2b, x, NULL, NULL);
            op(e, "Mul", c, x3, const_f(e, y, 0.044715f), NULL, NULL);
            op(e, "Add", s, x, c, NULL, NULL);
            op(e, "Mul", u, s, const_f(e, y, 0.7978845608028654f), NULL, NULL);
            op(e, "Tanh", th, u, NULL, NULL, NULL);
            op(e, "Add", a1, th, const_f(e, y, 1.0f), NULL, NULL);
            op(e, "Mul", hx, x, const_f(e, y, 0.5f), NULL, NULL);
            op(e, "Mul", y, hx, a1, NULL, NULL);
        }
        return;
    /* iarg[0]: how far the dim is from the last (ft_softmax_dim); opset >= 13 normalises along that one axis */
    case FT_OP_SOFTMAX: attr_i(e, op(e, "Softmax", y, x, NULL, NULL, NULL), "axis", -1 - n->iarg[0]); return;
    case FT_OP_LOG_SOFTMAX: attr_i(e, op(e, "LogSoftmax", y, x, NULL, NULL, NULL), "axis", -1 - n->iarg[0]); return;
    case FT_OP_RESHAPE: {
        int64_t shape[FT_MAX_DIMS];
        int n_var = 0, left = 0;
        for (int d = 0; d < n->ndim; d++) {
            shape[d] = n->shape[d];
            if (varies(e, n, d)) n_var++;
        }
        for (int d = 0; d < n->ndim && n_var > 1; d++) {
            /* a batch-dependent dim that the input has at the same place: 0 copies it */
            if (varies(e, n, d) && d < n->in[0]->ndim && varies(e, n->in[0], d) && n->in[0]->shape[d] == n->shape[d] &&
                ft_graph_node(e->g2, n->in[0]->id)->shape[d] == ft_graph_node(e->g2, n->id)->shape[d]) {
                shape[d] = 0;
                n_var--;
            }
        }
        for (int d = 0; d < n->ndim; d++)
            if (varies(e, n, d) && shape[d] != 0) { shape[d] = -1; left++; }
        if (left > 1) { unsupported(e, n, "the reshape moves the batch dim; export with a fixed batch (--batch N)"); return; }
        op(e, "Reshape", y, x, const_i64(e, y, n->ndim, shape), NULL, NULL);
        return;
    }
    case FT_OP_TRANSPOSE: {
        int64_t perm[FT_MAX_DIMS];
        for (int d = 0; d < n->ndim; d++) perm[d] = d;
        perm[n->iarg[0]] = n->iarg[1];
        perm[n->iarg[1]] = n->iarg[0];
        transpose(e, x, y, n->ndim, perm);
        return;
    }
    case FT_OP_PERMUTE: {
        int64_t perm[FT_MAX_DIMS];
        for (int d = 0; d < n->ndim; d++) perm[d] = n->iarg[d];
        transpose(e, x, y, n->ndim, perm);
        return;
    }
    case FT_OP_SLICE: {
        /* iarg: dim, start, step (0 = 1); the output has len = shape[d] elements:
         * start, start + step, ..., so end = the last one + sign(step) */
        int d = n->iarg[0];
        int64_t step = n->iarg[2] ? n->iarg[2] : 1, start = n->iarg[1], len = n->shape[d], axis = d;
        int64_t end = start + (len - 1) * step + (step > 0 ? 1 : -1);
        if (varies(e, n->in[0], d)) {
            if (start != 0 || step != 1 || len != n->in[0]->shape[d]) { unsupported(e, n, "slices the batch dim; export with a fixed batch (--batch N)"); return; }
            end = INT64_MAX;
        }
        if (end < 0) end = INT64_MIN; /* a negative step through index 0: -1 would count from the end */
        const char *cs = const_i64(e, y, 1, &start), *ce = const_i64(e, y, 1, &end), *ca = const_i64(e, y, 1, &axis);
        const char *cst = step != 1 ? const_i64(e, y, 1, &step) : NULL; /* before the Slice: nodes stay sorted */
        o = op(e, "Slice", y, x, cs, ce, ca);
        if (o && cst) { /* the 5th input: steps */
            char **in = ex_alloc(e, 5 * sizeof *in);
            if (!in) return;
            for (int k = 0; k < 4; k++) in[k] = o->input[k];
            in[4] = (char *)cst;
            o->input = in;
            o->n_input = 5;
        }
        return;
    }
    case FT_OP_CONCAT: {
        o = op(e, "Concat", y, x, NULL, NULL, NULL);
        if (!o) return;
        char **in = ex_alloc(e, (size_t)n->n_in * sizeof *in);
        if (!in) return;
        for (int i = 0; i < n->n_in; i++) in[i] = e->name[n->in[i]->id];
        o->input = in;
        o->n_input = (size_t)n->n_in;
        attr_i(e, o, "axis", n->iarg[0]);
        return;
    }
    case FT_OP_SUM:
    case FT_OP_MEAN: {
        int64_t axis = n->iarg[0];
        bool all = n->iarg[0] == FT_ALL_DIMS;
        if (n->op == FT_OP_SUM)
            o = op(e, "ReduceSum", y, x, all ? NULL : const_i64(e, y, 1, &axis), NULL, NULL);
        else {
            o = op(e, "ReduceMean", y, x, NULL, NULL, NULL);
            if (!all) attr_ints(e, o, "axes", 1, &axis);
        }
        attr_i(e, o, "keepdims", n->iarg[1]);
        return;
    }
    case FT_OP_DROPOUT: op(e, "Identity", y, x, NULL, NULL, NULL); return; /* eval mode */
    case FT_OP_EMBEDDING: attr_i(e, op(e, "Gather", y, x1, x, NULL, NULL), "axis", 0); return;
    case FT_OP_LAYER_NORM: {
        int64_t D = n->shape[n->ndim - 1];
        const char *gamma = n->iarg[0] ? x1 : const_fill(e, y, D, 1.0f);
        const char *beta = n->iarg[1] ? e->name[n->in[1 + n->iarg[0]]->id] : NULL;
        if (e->opset < 17) e->opset = 17;
        o = op(e, "LayerNormalization", y, x, gamma, beta, NULL);
        attr_i(e, o, "axis", -1);
        attr_f(e, o, "epsilon", n->farg[0]);
        return;
    }
    case FT_OP_CONV2D: {
        const ft_node *w = n->in[1];
        int64_t k[2] = {w->shape[2], w->shape[3]}, s[2] = {n->iarg[4] >> 16, n->iarg[4] & 0xffff},
                dl[2] = {n->iarg[5] >> 16, n->iarg[5] & 0xffff}, p[4] = {n->iarg[0], n->iarg[1], n->iarg[2], n->iarg[3]};
        o = op(e, "Conv", y, x, x1, n->iarg[7] ? x2 : NULL, NULL);
        if (n->in[0]->ndim == 3) { /* conv1d: [N, C, L] x [O, C/groups, k], the W half of the arguments */
            int64_t k1 = w->shape[2], s1 = s[1], dl1 = dl[1], p1[2] = {p[1], p[3]};
            attr_ints(e, o, "kernel_shape", 1, &k1);
            attr_ints(e, o, "strides", 1, &s1);
            attr_ints(e, o, "pads", 2, p1);
            attr_ints(e, o, "dilations", 1, &dl1);
            attr_i(e, o, "group", n->iarg[6]);
            return;
        }
        attr_ints(e, o, "kernel_shape", 2, k);
        attr_ints(e, o, "strides", 2, s);
        attr_ints(e, o, "pads", 4, p);
        attr_ints(e, o, "dilations", 2, dl);
        attr_i(e, o, "group", n->iarg[6]);
        return;
    }
    case FT_OP_BATCH_NORM: {
        int f = n->iarg[0], k = 1;
        int64_t C = n->shape[1];
        const char *gamma = (f & 1) ? e->name[n->in[k++]->id] : const_fill(e, y, C, 1.0f);
        const char *beta = (f & 2) ? e->name[n->in[k++]->id] : const_fill(e, y, C, 0.0f);
        if (!(f & 4)) {
            /* no running statistics: batch statistics in eval too (torch's track_running_stats=False),
             * spelled out: d = x - mean, var = mean(d * d) (biased), over N (and H, W) */
            int64_t axes[3] = {0, 2, 3}, c3[3] = {C, 1, 1};
            int nax = n->ndim == 4 ? 3 : 1;
            const char *mu = tmp(e, y, "mean"), *d = tmp(e, y, "centered"), *d2 = tmp(e, y, "sq"), *var = tmp(e, y, "var"),
                       *ve = tmp(e, y, "var_eps"), *sd = tmp(e, y, "std"), *rs = tmp(e, y, "rstd"), *nm = tmp(e, y, "norm"),
                       *sc = tmp(e, y, "scaled");
            o = op(e, "ReduceMean", mu, x, NULL, NULL, NULL);
            attr_ints(e, o, "axes", nax, axes);
            attr_i(e, o, "keepdims", 1);
            op(e, "Sub", d, x, mu, NULL, NULL);
            op(e, "Mul", d2, d, d, NULL, NULL);
            o = op(e, "ReduceMean", var, d2, NULL, NULL, NULL);
            attr_ints(e, o, "axes", nax, axes);
            attr_i(e, o, "keepdims", 1);
            op(e, "Add", ve, var, const_f(e, y, n->farg[0]), NULL, NULL);
            op(e, "Sqrt", sd, ve, NULL, NULL, NULL);
            op(e, "Reciprocal", rs, sd, NULL, NULL, NULL);
            op(e, "Mul", nm, d, rs, NULL, NULL);
            if (n->ndim == 4) { /* [C] -> [C, 1, 1] against NCHW */
                const char *g3 = tmp(e, y, "gamma_c11"), *b3 = tmp(e, y, "beta_c11");
                op(e, "Reshape", g3, gamma, const_i64(e, y, 3, c3), NULL, NULL);
                op(e, "Reshape", b3, beta, const_i64(e, y, 3, c3), NULL, NULL);
                gamma = g3;
                beta = b3;
            }
            op(e, "Mul", sc, nm, gamma, NULL, NULL);
            op(e, "Add", y, sc, beta, NULL, NULL);
            return;
        }
        const char *mean = e->name[n->in[k]->id], *var = e->name[n->in[k + 1]->id];
        o = op(e, "BatchNormalization", y, x, gamma, beta, mean);
        if (!o) return;
        char **in = ex_alloc(e, 5 * sizeof *in);
        if (!in) return;
        memcpy(in, o->input, 4 * sizeof *in);
        in[4] = (char *)var;
        o->input = in;
        o->n_input = 5;
        attr_f(e, o, "epsilon", n->farg[0]);
        return;
    }
    case FT_OP_MAX_POOL2D:
    case FT_OP_AVG_POOL2D: {
        if (n->ndim != 4) { unsupported(e, n, "only [N, C, H, W] pools are exported"); return; }
        int64_t k[2] = {n->iarg[4] >> 16, n->iarg[4] & 0xffff}, s[2] = {n->iarg[5] >> 16, n->iarg[5] & 0xffff},
                p[4] = {n->iarg[0], n->iarg[1], n->iarg[2], n->iarg[3]};
        bool avg = n->op == FT_OP_AVG_POOL2D, include = avg && n->iarg[6], ceil_mode = false;
        /* torch's ceil_mode: windows that start inside the input or the top/left padding. Max
         * pools and pools that ignore padding get the overhang as extra bottom/right padding
         * (it never wins a max, never counts); a pool counting padding uses ONNX's ceil_mode. */
        for (int a = 0; a < 2; a++) {
            int64_t in = n->in[0]->shape[2 + a], out = n->shape[2 + a];
            int64_t extra = (out - 1) * s[a] + k[a] - (in + p[a] + p[a + 2]);
            if (extra <= 0) continue;
            if (include) ceil_mode = true;
            else p[a + 2] += extra;
        }
        o = op(e, avg ? "AveragePool" : "MaxPool", y, x, NULL, NULL, NULL);
        attr_ints(e, o, "kernel_shape", 2, k);
        attr_ints(e, o, "strides", 2, s);
        attr_ints(e, o, "pads", 4, p);
        if (ceil_mode) attr_i(e, o, "ceil_mode", 1);
        if (avg) attr_i(e, o, "count_include_pad", include);
        return;
    }
    case FT_OP_GLOBAL_AVG_POOL:
        if (n->in[0]->ndim != 4) { unsupported(e, n, "only [N, C, H, W] pools are exported"); return; }
        if (n->iarg[0]) { op(e, "GlobalAveragePool", y, x, NULL, NULL, NULL); return; }
        {
            const char *gp = tmp(e, y, "pool");
            op(e, "GlobalAveragePool", gp, x, NULL, NULL, NULL);
            attr_i(e, op(e, "Flatten", y, gp, NULL, NULL, NULL), "axis", 1);
        }
        return;
    case FT_OP_PAD2D: {
        int nd = n->ndim;
        int64_t pads[2 * FT_MAX_DIMS] = {0};
        pads[nd - 2] = n->iarg[0];
        pads[nd - 1] = n->iarg[1];
        pads[2 * nd - 2] = n->iarg[2];
        pads[2 * nd - 1] = n->iarg[3];
        const char *cp = const_i64(e, y, 2 * nd, pads), *cv = const_f(e, y, n->farg[0]);
        op(e, "Pad", y, x, cp, cv, NULL);
        return;
    }
    case FT_OP_RELU6: {
        const char *lo = const_f(e, y, 0.0f), *hi = const_f(e, y, 6.0f);
        op(e, "Clip", y, x, lo, hi, NULL);
        return;
    }
    case FT_OP_HARDSIGMOID: {
        o = op(e, "HardSigmoid", y, x, NULL, NULL, NULL);
        attr_f(e, o, "alpha", 1.0f / 6.0f);
        attr_f(e, o, "beta", 0.5f);
        return;
    }
    case FT_OP_HARDSWISH: {
        const char *hs = tmp(e, y, "hardsigmoid");
        o = op(e, "HardSigmoid", hs, x, NULL, NULL, NULL);
        attr_f(e, o, "alpha", 1.0f / 6.0f);
        attr_f(e, o, "beta", 0.5f);
        op(e, "Mul", y, x, hs, NULL, NULL);
        return;
    }
    case FT_OP_RMS_NORM: {
        /* x / sqrt(mean(x^2) + eps) * weight */
        const char *sq = tmp(e, y, "sq"), *ms = tmp(e, y, "meansq"), *ad = tmp(e, y, "add"), *rt = tmp(e, y, "sqrt");
        const char *nw = n->iarg[0] ? tmp(e, y, "norm") : y;
        int64_t axis = -1;
        op(e, "Mul", sq, x, x, NULL, NULL);
        o = op(e, "ReduceMean", ms, sq, NULL, NULL, NULL);
        attr_ints(e, o, "axes", 1, &axis);
        attr_i(e, o, "keepdims", 1);
        op(e, "Add", ad, ms, const_f(e, y, n->farg[0]), NULL, NULL);
        op(e, "Sqrt", rt, ad, NULL, NULL, NULL);
        op(e, "Div", nw, x, rt, NULL, NULL);
        if (n->iarg[0]) op(e, "Mul", y, nw, x1, NULL, NULL);
        return;
    }
    case FT_OP_ROPE: {
        /* x [B,T,H*D] -> [B,T,H,D]; y = x * cos + rotate_half(x) * sin with tables [T,1,D] of
         * the angles the kernel uses (positions 0..T-1) */
        if (n->iarg[1]) { unsupported(e, n, "rotary embedding with explicit positions (a KV cache) is not exported"); return; }
        if (n->ndim != 3) { unsupported(e, n, "only [B, T, H*D] rotary embeddings are exported"); return; }
        int64_t H = n->iarg[0], T = n->shape[1], D = n->shape[2] / H, h = D / 2;
        float *cs = ex_alloc(e, (size_t)(2 * T * D) * sizeof *cs);
        if (!cs) return;
        float *sn = cs + T * D;
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < h; i++) {
                float a = (float)t * (1.0f / powf(n->farg[0], (float)(2 * i) / (float)D));
                cs[t * D + i] = cs[t * D + h + i] = cosf(a);
                sn[t * D + i] = sn[t * D + h + i] = sinf(a);
            }
        int64_t td[3] = {T, 1, D}, s4[4] = {0, 0, H, D}, back[3] = {0, 0, -1}, z = 0, hh = h, dd = D, ax = 3;
        const char *x4 = tmp(e, y, "x4"), *a = tmp(e, y, "lo"), *b = tmp(e, y, "hi"), *nb = tmp(e, y, "neg_hi"),
                   *rot = tmp(e, y, "rot"), *xc = tmp(e, y, "xcos"), *rs = tmp(e, y, "rotsin"), *sum = tmp(e, y, "sum");
        op(e, "Reshape", x4, x, const_i64(e, y, 4, s4), NULL, NULL);
        const char *axis = const_i64(e, y, 1, &ax);
        const char *c0 = const_i64(e, y, 1, &z), *c1 = const_i64(e, y, 1, &hh), *c2 = const_i64(e, y, 1, &dd);
        op(e, "Slice", a, x4, c0, c1, axis);
        op(e, "Slice", b, x4, c1, c2, axis);
        op(e, "Neg", nb, b, NULL, NULL, NULL);
        Onnx__NodeProto *c = op(e, "Concat", rot, nb, NULL, NULL, NULL);
        if (!c) return;
        char **in = ex_alloc(e, 2 * sizeof *in);
        if (!in) return;
        in[0] = (char *)nb;
        in[1] = (char *)a;
        c->input = in;
        c->n_input = 2;
        attr_i(e, c, "axis", 3);
        op(e, "Mul", xc, x4, constant(e, y, ONNX_FLOAT, 3, td, cs, (size_t)(T * D) * sizeof *cs), NULL, NULL);
        op(e, "Mul", rs, rot, constant(e, y, ONNX_FLOAT, 3, td, sn, (size_t)(T * D) * sizeof *sn), NULL, NULL);
        op(e, "Add", sum, xc, rs, NULL, NULL);
        op(e, "Reshape", y, sum, const_i64(e, y, 3, back), NULL, NULL);
        return;
    }
    case FT_OP_ATTENTION: {
        int Hq = n->iarg[0], Hkv = n->iarg[1], G = Hq / Hkv;
        int64_t C = n->in[0]->shape[2], D = C / Hq, Tq = n->in[0]->shape[1], Tk = n->in[1]->shape[1];
        int64_t q5[5] = {0, 0, Hkv, G, D}, kv5[5] = {0, 0, Hkv, 1, D}, back[3] = {0, 0, -1};
        int64_t pq[5] = {0, 2, 3, 1, 4}, pk[5] = {0, 2, 3, 4, 1}, po[5] = {0, 3, 1, 2, 4};
        const char *qr = tmp(e, y, "q5"), *kr = tmp(e, y, "k5"), *vr = tmp(e, y, "v5");
        op(e, "Reshape", qr, x, const_i64(e, y, 5, q5), NULL, NULL);
        const char *q = transpose(e, qr, tmp(e, y, "q"), 5, pq);
        op(e, "Reshape", kr, x1, const_i64(e, y, 5, kv5), NULL, NULL);
        op(e, "Reshape", vr, x2, const_i64(e, y, 5, kv5), NULL, NULL);
        const char *kt = transpose(e, kr, tmp(e, y, "k_t"), 5, pk), *v = transpose(e, vr, tmp(e, y, "v"), 5, pq);
        const char *sc = tmp(e, y, "scores"), *ss = tmp(e, y, "scaled");
        op(e, "MatMul", sc, q, kt, NULL, NULL);
        op(e, "Mul", ss, sc, const_f(e, y, n->farg[0]), NULL, NULL);
        const char *s = ss;
        if (n->iarg[2]) { /* causal, aligned to the end: key j > query i + (Tk - Tq) is masked */
            float *mask = ex_alloc(e, (size_t)(Tq * Tk) * sizeof *mask);
            if (!mask) return;
            for (int64_t i = 0; i < Tq; i++)
                for (int64_t j = 0; j < Tk; j++) mask[i * Tk + j] = j > i + (Tk - Tq) ? -1e30f : 0.0f;
            int64_t md[2] = {Tq, Tk};
            const char *cm = tmp(e, y, "causal");
            op(e, "Add", cm, s, constant(e, y, ONNX_FLOAT, 2, md, mask, (size_t)(Tq * Tk) * sizeof *mask), NULL, NULL);
            s = cm;
        }
        if (n->iarg[3]) { /* key padding mask [B, Tk]: (m - 1) * 1e30 added to the scores */
            const char *m = e->name[n->in[3]->id];
            if (n->in[3]->dtype == FT_I32) {
                const char *mf = tmp(e, y, "mask_f");
                attr_i(e, op(e, "Cast", mf, m, NULL, NULL, NULL), "to", ONNX_FLOAT);
                m = mf;
            }
            int64_t md[5] = {0, 1, 1, 1, -1};
            const char *m1 = tmp(e, y, "mask_m1"), *mb = tmp(e, y, "mask_bias"), *m5 = tmp(e, y, "mask5"), *sm = tmp(e, y, "masked");
            op(e, "Sub", m1, m, const_f(e, y, 1.0f), NULL, NULL);
            op(e, "Mul", mb, m1, const_f(e, y, 1e30f), NULL, NULL);
            op(e, "Reshape", m5, mb, const_i64(e, y, 5, md), NULL, NULL);
            op(e, "Add", sm, s, m5, NULL, NULL);
            s = sm;
        }
        const char *p = tmp(e, y, "probs"), *ov = tmp(e, y, "pv"), *ot = tmp(e, y, "pv_t");
        attr_i(e, op(e, "Softmax", p, s, NULL, NULL, NULL), "axis", -1);
        op(e, "MatMul", ov, p, v, NULL, NULL);
        transpose(e, ov, ot, 5, po);
        op(e, "Reshape", y, ot, const_i64(e, y, 3, back), NULL, NULL);
        return;
    }
    case FT_OP_LEAKY_RELU: attr_f(e, op(e, "LeakyRelu", y, x, NULL, NULL, NULL), "alpha", n->farg[0]); return;
    case FT_OP_CLIP: { /* opset >= 11: the bounds are inputs (infinite ones too) */
        const char *lo = const_f(e, y, n->farg[0]), *hi = const_f(e, y, n->farg[1]);
        op(e, "Clip", y, x, lo, hi, NULL);
        return;
    }
    case FT_OP_MAXIMUM: op(e, "Max", y, x, x1, NULL, NULL); return;
    case FT_OP_MINIMUM: op(e, "Min", y, x, x1, NULL, NULL); return;
    case FT_OP_GATHER: {
        /* constant indices (normalised to >= 0 by the builder) as an int64 Constant shaped
         * as the output's index dims: out = x.shape[:a] + idx_shape + x.shape[a+1:] */
        int a = n->iarg[0], k = n->ndim - (n->in[0]->ndim - 1);
        const int64_t *list = n->ilist;
        if (varies(e, n->in[0], a)) {
            /* along a batch-dependent dim: only index lists that mean the same for any batch
             * (seen at batch 1 and 2): the same indices, or the same counted from the end */
            const ft_node *m = ft_graph_node(e->g2, n->id);
            int64_t D1 = n->in[0]->shape[a], D2 = ft_graph_node(e->g2, n->in[0]->id)->shape[a];
            bool same = m->ilist_n == n->ilist_n, from_end = same;
            for (int64_t i = 0; i < n->ilist_n && (same || from_end); i++) {
                same = same && m->ilist[i] == n->ilist[i];
                from_end = from_end && m->ilist[i] - D2 == n->ilist[i] - D1;
            }
            for (int i = 0; i < k; i++) /* the index dims themselves must not grow with the batch */
                if (varies(e, n, a + i)) same = from_end = false;
            if (!same && !from_end) {
                unsupported(e, n, "gathers along the batch dim with indices that depend on the batch size; export with a fixed batch (--batch N)");
                return;
            }
            if (!same) {
                int64_t *neg = ex_alloc(e, (size_t)(n->ilist_n ? n->ilist_n : 1) * sizeof *neg);
                if (!neg) return;
                for (int64_t i = 0; i < n->ilist_n; i++) neg[i] = n->ilist[i] - D1;
                list = neg;
            }
        }
        int64_t idims[FT_MAX_DIMS];
        for (int i = 0; i < k; i++) idims[i] = n->shape[a + i];
        const char *idx = constant(e, y, ONNX_INT64, k, idims, list, (size_t)n->ilist_n * sizeof *list);
        attr_i(e, op(e, "Gather", y, x, idx, NULL, NULL), "axis", a);
        return;
    }
    /* ---- ONNX math (elementwise.c, reduce.c) and N-d data movement (layout.c) ---- */
    case FT_OP_EXP: case FT_OP_LOG: case FT_OP_SQRT: case FT_OP_ABS: case FT_OP_NEG: case FT_OP_ERF: case FT_OP_RECIPROCAL: {
        static const char *const onnx_unary[] = {"Exp", "Log", "Sqrt", "Abs", "Neg", "Erf", "Reciprocal"};
        if (!float_inputs(e, n)) return;
        op(e, onnx_unary[n->op - FT_OP_EXP], y, x, NULL, NULL, NULL);
        return;
    }
    case FT_OP_POW_SCALAR: {
        /* the kernel's exact special cases: 2 -> x * x, 0.5 -> sqrt, 1 -> x, -1 -> 1 / x; else powf */
        float p = n->farg[0];
        if (!float_inputs(e, n)) return;
        if (p == 2.0f) op(e, "Mul", y, x, x, NULL, NULL);
        else if (p == 0.5f) op(e, "Sqrt", y, x, NULL, NULL, NULL);
        else if (p == 1.0f) op(e, "Identity", y, x, NULL, NULL, NULL);
        else if (p == -1.0f) op(e, "Reciprocal", y, x, NULL, NULL, NULL);
        else op(e, "Pow", y, x, const_f(e, y, p), NULL, NULL);
        return;
    }
    case FT_OP_POW: if (float_inputs(e, n)) op(e, "Pow", y, x, x1, NULL, NULL); return;
    case FT_OP_PRELU: if (float_inputs(e, n)) op(e, "PRelu", y, x, x1, NULL, NULL); return; /* slope broadcasts to x, as PRelu's */
    case FT_OP_EQUAL: case FT_OP_GREATER: case FT_OP_GREATER_EQUAL: case FT_OP_LESS: case FT_OP_LESS_EQUAL: {
        /* ONNX compares into bool; the engine's 1.0 / 0.0 is a Cast of it (the bool tensor
         * "<y>/bool" is what a where reading this comparison uses) */
        static const char *const onnx_cmp[] = {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"};
        if (!float_inputs(e, n)) return;
        const char *b = tmp(e, y, "bool");
        op(e, onnx_cmp[n->op - FT_OP_EQUAL], b, x, x1, NULL, NULL);
        attr_i(e, op(e, "Cast", y, b, NULL, NULL, NULL), "to", ONNX_FLOAT);
        return;
    }
    case FT_OP_WHERE: {
        /* the engine's float condition selects where it is != 0 (NaN included): Not(Equal(c, 0)) */
        if (!float_inputs(e, n)) return;
        const ft_node *c = n->in[0];
        const char *cb;
        if (c->op >= FT_OP_EQUAL && c->op <= FT_OP_LESS_EQUAL) cb = tmp(e, x, "bool");
        else {
            const char *eq = tmp(e, y, "cond_eq0");
            cb = tmp(e, y, "cond");
            op(e, "Equal", eq, x, const_f(e, y, 0.0f), NULL, NULL);
            op(e, "Not", cb, eq, NULL, NULL, NULL);
        }
        op(e, "Where", y, cb, x1, x2, NULL);
        return;
    }
    case FT_OP_REDUCE_MAX: case FT_OP_REDUCE_MIN: { /* opset <= 17: axes is an attribute */
        int64_t axes[FT_MAX_DIMS];
        int k = 0;
        if (!float_inputs(e, n)) return;
        for (int d = 0; d < n->in[0]->ndim; d++)
            if ((unsigned)n->iarg[0] & (1u << d)) axes[k++] = d;
        o = op(e, n->op == FT_OP_REDUCE_MAX ? "ReduceMax" : "ReduceMin", y, x, NULL, NULL, NULL);
        attr_ints(e, o, "axes", k, axes);
        attr_i(e, o, "keepdims", n->iarg[1]);
        return;
    }
    case FT_OP_EXPAND: {
        /* the output's shape, with 1 (keep x's dim) where it depends on the batch */
        const ft_node *xi = n->in[0];
        int64_t shape[FT_MAX_DIMS];
        for (int d = 0; d < n->ndim; d++) {
            int xd = d - (n->ndim - xi->ndim);
            shape[d] = n->shape[d];
            if (!varies(e, n, d)) continue;
            if (xd < 0 || !varies(e, xi, xd)) { unsupported(e, n, "expands to a batch-dependent size; export with a fixed batch (--batch N)"); return; }
            shape[d] = 1;
        }
        op(e, "Expand", y, x, const_i64(e, y, n->ndim, shape), NULL, NULL);
        return;
    }
    case FT_OP_PAD: {
        /* negative pads crop first (a Slice: begin -b, end e < 0 counts from the end), then
         * Pad with what is left (its own mode and value) */
        int nd = n->ndim;
        const int64_t *p = n->ilist;
        int64_t starts[FT_MAX_DIMS], ends[FT_MAX_DIMS], axes[FT_MAX_DIMS], pads[2 * FT_MAX_DIMS];
        int k = 0;
        bool grow = false;
        for (int d = 0; d < nd; d++) {
            if (p[d] < 0 || p[nd + d] < 0) {
                starts[k] = p[d] < 0 ? -p[d] : 0;
                ends[k] = p[nd + d] < 0 ? p[nd + d] : INT64_MAX;
                axes[k++] = d;
            }
            pads[d] = p[d] > 0 ? p[d] : 0;
            pads[nd + d] = p[nd + d] > 0 ? p[nd + d] : 0;
            grow |= pads[d] || pads[nd + d];
        }
        const char *src = x;
        if (k) {
            const char *cs = const_i64(e, y, k, starts), *ce = const_i64(e, y, k, ends), *ca = const_i64(e, y, k, axes);
            src = grow ? tmp(e, y, "crop") : y;
            op(e, "Slice", src, x, cs, ce, ca);
        }
        if (!grow) {
            if (!k) op(e, "Identity", y, x, NULL, NULL, NULL);
            return;
        }
        static const char *const mode[] = {"constant", "reflect", "edge"};
        const char *cp = const_i64(e, y, 2 * nd, pads), *cv = NULL;
        if (n->iarg[0] == FT_PADDING_CONSTANT) {
            if (n->dtype == FT_I32) {
                int32_t iv;
                memcpy(&iv, &n->farg[0], sizeof iv);
                cv = constant(e, y, ONNX_INT32, 0, NULL, &iv, sizeof iv);
            } else {
                cv = const_f(e, y, n->farg[0]);
            }
        }
        o = op(e, "Pad", y, src, cp, cv, NULL);
        attr_s(e, o, "mode", mode[n->iarg[0] >= 0 && n->iarg[0] <= 2 ? n->iarg[0] : 0]);
        return;
    }
    default:
        unsupported(e, n, "no ONNX mapping for this op");
        return;
    }
}

/* ---------------- names ---------------- */
static bool name_taken(ex *e, int upto, const char *s) {
    for (int i = 0; i < upto; i++)
        if (e->name[i] && !strcmp(e->name[i], s)) return true;
    return false;
}

/* Tensor names: parameters keep their names, the last node of a named group keeps the
 * name, earlier ones get "<name>/<op><id>"; unnamed nodes "<op>_<id>". */
static void assign_names(ex *e, int count) {
    for (int i = count - 1; i >= 0 && !e->err; i--) {
        ft_node *n = ft_graph_node(e->g, i);
        if (!e->need[i]) continue;
        const char *base = n->op == FT_OP_PARAM ? e->ps->p[n->param].name : n->name;
        char own[256];
        if (!base[0]) { /* native builders leave nodes unnamed: a layer is named after its weight's module */
            for (int k = 0; k < n->n_in && !base[0]; k++) {
                if (n->in[k]->op != FT_OP_PARAM) continue;
                const char *pn = e->ps->p[n->in[k]->param].name, *dot = strrchr(pn, '.');
                if (dot && dot > pn && (size_t)(dot - pn) < sizeof own) {
                    memcpy(own, pn, (size_t)(dot - pn));
                    own[dot - pn] = 0;
                    base = own;
                }
            }
        }
        char *s;
        if (n->op == FT_OP_PARAM || n->op == FT_OP_INPUT) s = ex_printf(e, "%s", base);
        else if (!base[0]) s = ex_printf(e, "%s_%d", ft_op_name(n->op), i);
        else {
            s = ex_printf(e, "%s", base);
            bool clash = false;
            for (int j = i + 1; s && j < count && !clash; j++) clash = e->name[j] && !strcmp(e->name[j], s);
            if (clash) s = ex_printf(e, "%s/%s%d", base, ft_op_name(n->op), i);
        }
        e->name[i] = s;
    }
    /* parameters and inputs must not collide with an op's name (a node named like a weight) */
    for (int i = 0; i < count && !e->err; i++) {
        ft_node *n = ft_graph_node(e->g, i);
        if (!e->need[i] || n->op == FT_OP_PARAM || n->op == FT_OP_INPUT) continue;
        for (int j = 0; j < count; j++) {
            ft_node *m = ft_graph_node(e->g, j);
            if (j == i || !e->need[j] || !e->name[j] || (m->op != FT_OP_PARAM && m->op != FT_OP_INPUT)) continue;
            if (!strcmp(e->name[i], e->name[j])) e->name[i] = ex_printf(e, "%s/%s%d", e->name[i], ft_op_name(n->op), i);
        }
    }
    (void)name_taken;
}

static Onnx__ValueInfoProto *value_info(ex *e, const char *name, const ft_node *n) {
    Onnx__ValueInfoProto *v = ex_alloc(e, sizeof *v);
    Onnx__TypeProto *t = ex_alloc(e, sizeof *t);
    Onnx__TypeProto__Tensor *tt = ex_alloc(e, sizeof *tt);
    Onnx__TensorShapeProto *sh = ex_alloc(e, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = ex_alloc(e, (size_t)(n->ndim ? n->ndim : 1) * sizeof *dims);
    if (!v || !t || !tt || !sh || !dims) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int d = 0; d < n->ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dm = ex_alloc(e, sizeof *dm);
        if (!dm) return NULL;
        onnx__tensor_shape_proto__dimension__init(dm);
        if (varies(e, n, d)) {
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dm->dim_param = d == 0 && n->shape[d] == 1 ? BATCH_PARAM : ex_printf(e, "%s_%d", BATCH_PARAM, d);
        } else {
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dm->dim_value = n->shape[d];
        }
        dims[d] = dm;
    }
    sh->dim = dims;
    sh->n_dim = (size_t)n->ndim;
    tt->has_elem_type = 1;
    tt->elem_type = n->dtype == FT_I32 ? ONNX_INT32 : ONNX_FLOAT;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

/* ---------------- the model's forward graph ---------------- */
#define MAX_OUTPUTS 16
typedef struct { ft_node *in[2]; int n_in; ft_node *out; ft_node *outs[MAX_OUTPUTS]; int n_out; } built;

static ft_status build(ft_model *m, ft_graph *g, int64_t batch, int64_t T, const char *in_name, built *b) {
    memset(b, 0, sizeof *b);
    if (ft_model_is_text(m)) {
        int64_t sh[2] = {batch, T};
        b->in[0] = ft_input(g, "input_ids", FT_I32, 2, sh);
        b->in[1] = ft_input(g, "attention_mask", FT_F32, 2, sh);
        b->n_in = 2;
        if (!b->in[0] || !b->in[1]) return ft_fail(FT_ENOMEM, "ONNX export: out of memory");
        ft_task task = ft_model_text_head(m);
        if (task == FT_TASK_CLASSIFY) task = FT_TASK_LM;
        b->out = ft_text_forward(m, g, task, b->in[0], b->in[1], false);
    } else {
        int64_t sh[FT_MAX_DIMS] = {batch};
        for (int d = 0; d < m->in_ndim; d++) sh[d + 1] = m->in_shape[d];
        b->in[0] = ft_input(g, in_name, m->in_dtype, m->in_ndim + 1, sh);
        b->n_in = 1;
        if (!b->in[0]) return ft_fail(FT_ENOMEM, "ONNX export: out of memory");
        if (m->arch == &ft_arch_graph) { /* a graph config's every output ("outputs"), the first one first */
            int k = ft_graph_model_outputs(m, g, b->in[0], b->outs, MAX_OUTPUTS);
            if (k < 0 && !ft_graph_status(g)) return ft_fail(FT_EUNSUPPORTED, "ONNX export: the model has more than %d outputs", MAX_OUTPUTS);
            b->n_out = k > 0 ? k : 0;
            b->out = k > 0 ? b->outs[0] : NULL;
        } else {
            b->out = m->arch->build(m, g, b->in[0], false);
        }
    }
    if (b->n_out == 0) { b->outs[0] = b->out; b->n_out = 1; }
    if (!b->out) {
        ft_status s = ft_graph_status(g);
        if (!s) return ft_fail(FT_EINVAL, "ONNX export: building the model failed");
        char why[512];
        ft_graph_plan(g, NULL, false); /* fails with the error the build recorded */
        snprintf(why, sizeof why, "%s", ft_errmsg());
        return ft_fail(s, "ONNX export: building the model for a batch of %lld failed: %s", (long long)batch, why);
    }
    return FT_OK;
}

/* The graph input's name: a graph config's "input.name", else "input". */
static void config_input_name(const ft_model *m, char *buf, size_t size) {
    snprintf(buf, size, "input");
    if (!m->config_json || !m->arch || strcmp(m->arch->name, "graph")) return;
    json_t *root = json_loads(m->config_json, 0, NULL);
    json_t *nm = json_object_get(json_object_get(root, "input"), "name");
    if (json_is_string(nm) && json_string_length(nm) > 0 && json_string_length(nm) < size) snprintf(buf, size, "%s", json_string_value(nm));
    json_decref(root);
}

/* A graph model that runs at one batch size only (its config's "input.batch"; imported models
 * whose nodes depend on the batch): that size, else 0. */
static int64_t config_fixed_batch(const ft_model *m) {
    if (!m->config_json || !m->arch || strcmp(m->arch->name, "graph")) return 0;
    json_t *root = json_loads(m->config_json, 0, NULL);
    json_t *b = json_object_get(json_object_get(root, "input"), "batch");
    int64_t v = json_is_integer(b) ? json_integer_value(b) : 0;
    json_decref(root);
    return v;
}

ft_status ft_model_export_onnx(const ft_model *mc, const char *path, const ft_onnx_export_opts *o) {
    ft_onnx_export_opts opt = o ? *o : ft_onnx_export_defaults();
    if (!mc || !path) return ft_fail(FT_EINVAL, "ONNX export: no model or path");
    if (opt.batch < 0) return ft_fail(FT_EINVAL, "ONNX export: batch %d (0 = dynamic, or a size >= 1)", opt.batch);
    if (opt.opset && (opt.opset < 13 || opt.opset > 17)) return ft_fail(FT_EINVAL, "ONNX export: opset %d (13..17 supported)", opt.opset);
    if (opt.seq_len < 0) return ft_fail(FT_EINVAL, "ONNX export: seq_len %d", opt.seq_len);
    ft_model *m = (ft_model *)mc; /* building reads the model; nothing is changed */
    int64_t T = 0;
    if (ft_model_is_text(m)) {
        int64_t maxpos = m->seq.max_positions > 0 ? m->seq.max_positions : (m->in_ndim == 1 ? m->in_shape[0] : 0);
        T = opt.seq_len ? opt.seq_len : 128;
        if (!opt.seq_len && maxpos > 0 && maxpos < T) T = maxpos;
        if (maxpos > 0 && T > maxpos)
            return ft_fail(FT_EINVAL, "ONNX export: seq_len %lld exceeds the model's %lld positions", (long long)T, (long long)maxpos);
    }
    char in_name[128];
    config_input_name(m, in_name, sizeof in_name);
    int64_t fixed = config_fixed_batch(m);
    if (fixed && opt.batch != fixed)
        return ft_fail(FT_EUNSUPPORTED, "ONNX export: the model runs at batch %lld only (its config's input.batch: an imported graph whose nodes depend on the batch size); export with --batch %lld",
                       (long long)fixed, (long long)fixed);

    ex e = {0};
    e.ps = m->params;
    e.opset = opt.opset ? opt.opset : 13;
    ft_status s = FT_OK;
    built b1, b2;
    uint8_t *buf = NULL;
    if (!(e.g = ft_graph_new(m->params))) { s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    if ((s = build(m, e.g, opt.batch ? opt.batch : 1, T, in_name, &b1))) goto done;
    if (!opt.batch) {
        if (!(e.g2 = ft_graph_new(m->params))) { s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
        if ((s = build(m, e.g2, 2, T, in_name, &b2))) { /* an import that baked its batch in (a reshape to a fixed size) */
            char why[600];
            snprintf(why, sizeof why, "%s", ft_errmsg());
            s = ft_fail(s, "%s; for a dynamic batch the model must build for other batch sizes too: export with a fixed batch (--batch N)", why);
            goto done;
        }
        int c1 = ft_graph_node_count(e.g), c2 = ft_graph_node_count(e.g2);
        bool same = c1 == c2 && b1.n_out == b2.n_out;
        for (int k = 0; same && k < b1.n_out; k++) same = b1.outs[k]->id == b2.outs[k]->id;
        for (int i = 0; same && i < c1; i++) same = ft_graph_node(e.g, i)->op == ft_graph_node(e.g2, i)->op &&
                                                   ft_graph_node(e.g, i)->ndim == ft_graph_node(e.g2, i)->ndim;
        if (!same) { s = ft_fail(FT_EUNSUPPORTED, "ONNX export: the model builds differently for other batch sizes; export with a fixed batch (--batch N)"); goto done; }
    }
    int count = ft_graph_node_count(e.g);
    e.name = ft_calloc((size_t)count, sizeof *e.name);
    e.need = ft_calloc((size_t)count, sizeof *e.need);
    if (!e.name || !e.need) { s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    for (int k = 0; k < b1.n_out; k++) e.need[b1.outs[k]->id] = true;
    for (int i = count - 1; i >= 0; i--) {
        ft_node *n = ft_graph_node(e.g, i);
        if (!e.need[i]) continue;
        for (int k = 0; k < n->n_in; k++) /* a shared [1, H] initial state: its source (emit_rnn broadcasts it) */
            e.need[(rnn_state_slot(n, k) ? rnn_state_src(n->in[k]) : n->in[k])->id] = true;
    }
    for (int i = 0; i < count; i++) {
        ft_node *n = ft_graph_node(e.g, i);
        if (e.need[i] && n->op == FT_OP_INPUT && n != b1.in[0] && n != b1.in[1]) {
            s = ft_fail(FT_EUNSUPPORTED, "ONNX export: the model reads an extra input '%s' that export does not provide", n->name);
            goto done;
        }
    }
    assign_names(&e, count);
    if (e.err) { s = e.err; goto done; }
    /* the outputs: a readable name for an unnamed one ("logits" for the first), and never an
     * input or a weight itself, nor an output twice (an Identity copies those) */
    const char *out_names[MAX_OUTPUTS];
    for (int k = 0; k < b1.n_out && !e.err; k++) {
        ft_node *on = b1.outs[k];
        char *nm = k ? ex_printf(&e, "output_%d", k) : (char *)"logits";
        if (nm && !on->name[0] && !name_taken(&e, count, nm)) e.name[on->id] = nm;
    }
    for (int i = 0; i < count && !e.err; i++)
        if (e.need[i]) emit_node(&e, ft_graph_node(e.g, i));
    for (int k = 0; k < b1.n_out && !e.err; k++) {
        ft_node *on = b1.outs[k];
        bool dup = false;
        for (int j = 0; j < k; j++) dup |= b1.outs[j] == on;
        out_names[k] = e.name[on->id];
        if (on->op == FT_OP_INPUT || on->op == FT_OP_PARAM || dup) {
            out_names[k] = k ? ex_printf(&e, "output_%d", k) : "logits";
            op(&e, "Identity", out_names[k], e.name[on->id], NULL, NULL, NULL);
        }
    }
    if (e.err) { s = e.err; goto done; }

    /* graph inputs and outputs */
    Onnx__ValueInfoProto *ins[2] = {NULL, NULL}, *outs[MAX_OUTPUTS];
    int n_ins = 0;
    for (int k = 0; k < b1.n_in; k++)
        if (e.need[b1.in[k]->id] || k == 0) ins[n_ins++] = value_info(&e, b1.in[k]->name, b1.in[k]);
    for (int k = 0; k < b1.n_out; k++) outs[k] = value_info(&e, out_names[k], b1.outs[k]);
    if (e.err) { s = e.err; goto done; }

    Onnx__GraphProto graph;
    onnx__graph_proto__init(&graph);
    graph.name = (char *)(m->arch ? m->arch->name : "finetune");
    graph.node = e.nodes;
    graph.n_node = e.n_nodes;
    graph.initializer = e.inits;
    graph.n_initializer = e.n_inits;
    graph.input = ins;
    graph.n_input = (size_t)n_ins;
    graph.output = outs;
    graph.n_output = (size_t)b1.n_out;

    Onnx__OperatorSetIdProto opset;
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = 1;
    opset.version = e.opset;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};

    Onnx__StringStringEntryProto meta[2];
    Onnx__StringStringEntryProto *metas[2] = {&meta[0], &meta[1]};
    onnx__string_string_entry_proto__init(&meta[0]);
    onnx__string_string_entry_proto__init(&meta[1]);
    meta[0].key = "finetune.arch";
    meta[0].value = (char *)(m->arch ? m->arch->name : "");
    meta[1].key = "finetune.config";
    meta[1].value = m->config_json ? m->config_json : "";

    Onnx__ModelProto model;
    onnx__model_proto__init(&model);
    model.has_ir_version = 1;
    model.ir_version = 8;
    model.opset_import = opsets;
    model.n_opset_import = 1;
    model.producer_name = "finetune";
    model.producer_version = (char *)ft_version();
    model.graph = &graph;
    model.metadata_props = metas;
    model.n_metadata_props = 2;

    size_t size = onnx__model_proto__get_packed_size(&model);
    if (size > (size_t)INT32_MAX) {
        s = ft_fail(FT_EUNSUPPORTED, "ONNX export: the model needs %zu bytes, over protobuf's 2 GB limit (external data is not written yet)", size);
        goto done;
    }
    if (!(buf = ft_malloc(size ? size : 1))) { s = ft_fail(FT_ENOMEM, "ONNX export: out of memory for %zu bytes", size); goto done; }
    size_t packed = onnx__model_proto__pack(&model, buf);
    if (packed != size) { s = ft_fail(FT_EINVAL, "ONNX export: protobuf packed %zu bytes, expected %zu", packed, size); goto done; }
    s = ft_write_file_atomic(path, buf, size);

done:
    ft_free(buf);
    ft_graph_free(e.g);
    ft_graph_free(e.g2);
    ex_free(&e);
    return s;
}
