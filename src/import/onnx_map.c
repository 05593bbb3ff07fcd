/* ONNX import: ONNX ops on dynamic values -> graph-config nodes (docs/import.md, "ONNX").
 * Every mapping computes the ONNX output shape itself (static shape inference for the
 * chosen input shape); the graph's own dry run then checks the whole config again.
 * Conventions: ONNX dim 0 is the graph's batch dim; constants in operand positions become
 * parameters (trainable for initializers, buffers for Constant nodes unless
 * promote_constants), and a constant that must come before a dynamic operand is lifted by
 * an `identity` node with the parameter as its only operand. */
#include "import/onnx_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP(name) (!strcmp(op, name))
#define lift ox_lift

/* strcmp on a node's op type; a node without one (a corrupt file) matches nothing */
static int op_cmp(const Onnx__NodeProto *n, const char *t) { return n->op_type ? strcmp(n->op_type, t) : 1; }


static const Onnx__NodeProto *producer(ox *x, const char *name);

static const char *hint(const Onnx__NodeProto *nd) {
    if (nd->name && nd->name[0]) return nd->name;
    return nd->n_output && nd->output[0][0] ? nd->output[0] : nd->op_type;
}

/* define output j of the node as a dynamic value */
static ft_status set_dyn(ox *x, const Onnx__NodeProto *nd, size_t j, const char *node, int ndim, const int64_t *shape, int dt) {
    if (j >= nd->n_output || !nd->output[j][0]) return FT_OK;
    if (!node) return ft_errmsg()[0] ? FT_EINVAL : ox_oom();
    if (ndim > FT_MAX_DIMS) return ox_node_fail(x, FT_EUNSUPPORTED, "result has %d dims (at most %d)", ndim, FT_MAX_DIMS);
    oval o;
    memset(&o, 0, sizeof o);
    o.dt = dt;
    o.ndim = ndim;
    for (int d = 0; d < ndim; d++) o.shape[d] = shape[d];
    if (!(o.node = ft_strdup(node))) return ox_oom();
    if (ox_numel(ndim, shape) < 0) { ft_free(o.node); return ox_node_fail(x, FT_EUNSUPPORTED, "result too large"); }
    return ox_put(x, nd->output[j], &o);
}

/* v in an input position: its node, or its parameter lifted by an identity node */
const char *ox_lift(ox *x, oval *v) {
    if (v->node) return v->node;
    const char *p = ox_param(x, v, 0);
    if (!p) return NULL;
    char h[300];
    snprintf(h, sizeof h, "%s.const", v->name);
    const char *e = ox_emit(x, "identity", NULL, 0, &p, 1, NULL, h);
    if (!e || !(v->node = ft_strdup(e))) return NULL;
    return v->node;
}

/* Operands in order: dynamic ones (and constants before them, lifted) as inputs, trailing
 * constants as params. */
static ft_status operands(ox *x, oval **v, int n, const char **ins, int *nin, const char **pars, int *npar, int force) {
    int last_dyn = -1;
    for (int k = 0; k < n; k++)
        if (!v[k]->is_const) last_dyn = k;
    *nin = *npar = 0;
    for (int k = 0; k < n; k++) {
        const char *s = k <= last_dyn || last_dyn < 0 ? lift(x, v[k]) : ox_param(x, v[k], force);
        if (!s) return ft_errmsg()[0] ? FT_EUNSUPPORTED : ox_oom();
        if (k <= last_dyn || last_dyn < 0) ins[(*nin)++] = s;
        else pars[(*npar)++] = s;
    }
    return FT_OK;
}

static const char *emit1(ox *x, const Onnx__NodeProto *nd, const char *op, const char *in, json_t *attrs) {
    return ox_emit(x, op, &in, 1, NULL, 0, attrs, hint(nd));
}

static json_t *ints_json(int n, const int64_t *v) {
    json_t *a = json_array();
    for (int k = 0; k < n; k++) json_array_append_new(a, json_integer(v[k]));
    return a;
}

static ft_status need_op(ox *x, const char *gop) {
    if (ox_op_known(gop)) return FT_OK;
    char why[160];
    snprintf(why, sizeof why, "the graph has no '%s' op yet", gop);
    return ox_unsupported(x, why);
}

/* A reshape of dynamic v to shape: per example when dim 0 is kept, else over the whole
 * tensor ("full"). Returns v's node when the shape does not change. */
static const char *reshape_to(ox *x, const Onnx__NodeProto *nd, oval *v, int n, const int64_t *shape, const char *h) {
    bool same = n == v->ndim;
    for (int d = 0; same && d < n; d++) same = shape[d] == v->shape[d];
    const char *in = lift(x, v);
    if (!in || same) return in;
    json_t *at;
    if (n >= 1 && v->ndim >= 1 && shape[0] == v->shape[0]) at = json_pack("{s:o}", "shape", ints_json(n - 1, shape + 1));
    else {
        at = json_pack("{s:o, s:b}", "shape", ints_json(n, shape), "full", 1);
        x->fixed_batch = true;
    }
    return ox_emit(x, "reshape", &in, 1, NULL, 0, at, h ? h : hint(nd));
}

static float scalar_f(const oval *v) { return v->f ? v->f[0] : (float)v->i[0]; }

/* ---------------- elementwise ---------------- */

typedef struct { const char *onnx, *gop; } pair;

static ft_status map_unary(ox *x, const Onnx__NodeProto *nd, const char *gop, json_t *attrs) {
    oval *a = ox_in(x, nd, 0);
    if (!a) { json_decref(attrs); return ox_node_fail(x, FT_EFORMAT, "needs an input"); }
    ft_status s = need_op(x, gop);
    if (s) { json_decref(attrs); return s; }
    const char *in = lift(x, a);
    if (!in) { json_decref(attrs); return FT_EUNSUPPORTED; }
    int ndim = a->ndim;
    int64_t sh[OX_MAX_DIMS];
    memcpy(sh, a->shape, sizeof sh);
    return set_dyn(x, nd, 0, emit1(x, nd, gop, in, attrs), ndim, sh, OX_FLOAT);
}

static ft_status emit_binary(ox *x, const Onnx__NodeProto *nd, const char *gop, oval *a, oval *b, int out_dt) {
    ft_status s = need_op(x, gop);
    if (s) return s;
    int n;
    int64_t sh[OX_MAX_DIMS];
    if ((s = ox_broadcast(x, a->ndim, a->shape, b->ndim, b->shape, &n, sh))) return s;
    oval *v[2] = {a, b};
    const char *ins[2], *pars[2];
    int nin, npar;
    if ((s = operands(x, v, 2, ins, &nin, pars, &npar, 0))) return s;
    return set_dyn(x, nd, 0, ox_emit(x, gop, ins, nin, pars, npar, NULL, hint(nd)), n, sh, out_dt);
}

/* x op c for a scalar constant c, as one attribute op where there is one */
static ft_status scalar_form(ox *x, const Onnx__NodeProto *nd, const char *op, oval *a, oval *c, bool c_first, bool *done) {
    *done = false;
    if (!c->is_const || c->numel != 1 || !c->f || c->ndim > a->ndim) return FT_OK;
    float k = scalar_f(c);
    json_t *at = NULL;
    const char *gop = "scale";
    if (OP("Add")) at = json_pack("{s:f}", "b", (double)k);
    else if (OP("Mul")) at = json_pack("{s:f}", "a", (double)k);
    else if (OP("Sub")) at = c_first ? json_pack("{s:f, s:f}", "a", -1.0, "b", (double)k) : json_pack("{s:f}", "b", -(double)k);
    else if (OP("Div") && !c_first && k != 0 && isfinite(1.0f / k) && (1.0f / k) * k == 1.0f) at = json_pack("{s:f}", "a", (double)(1.0f / k));
    else if (OP("Pow") && !c_first && ox_op_known("pow")) { gop = "pow"; at = json_pack("{s:f}", "exponent", (double)k); }
    else if ((OP("Max") || OP("Min")) && ox_op_known("clip")) { gop = "clip"; at = json_pack("{s:f}", OP("Max") ? "min" : "max", (double)k); }
    if (!at) return FT_OK;
    if (!isfinite(k)) { json_decref(at); return FT_OK; }
    *done = true;
    const char *in = lift(x, a);
    if (!in) { json_decref(at); return FT_EUNSUPPORTED; }
    int64_t sh[OX_MAX_DIMS];
    memcpy(sh, a->shape, sizeof sh);
    return set_dyn(x, nd, 0, emit1(x, nd, gop, in, at), a->ndim, sh, OX_FLOAT);
}

static ft_status map_binary(ox *x, const Onnx__NodeProto *nd, const char *op) {
    oval *a = ox_in(x, nd, 0), *b = ox_in(x, nd, 1);
    if (!a || !b) return ox_node_fail(x, FT_EFORMAT, "needs two inputs");
    static const pair m[] = {{"Add", "add"}, {"Sub", "sub"}, {"Mul", "mul"}, {"Div", "div"}, {"Pow", "pow"}, {"Max", "max"}, {"Min", "min"},
                             {"Equal", "equal"}, {"Greater", "greater"}, {"GreaterOrEqual", "greater_or_equal"}, {"Less", "less"},
                             {"LessOrEqual", "less_or_equal"}, {"PRelu", "prelu"}, {"And", "mul"}, {"Or", "max"}};
    const char *gop = NULL;
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++)
        if (OP(m[k].onnx)) gop = m[k].gop;
    bool cmp = OP("Equal") || OP("Greater") || OP("GreaterOrEqual") || OP("Less") || OP("LessOrEqual") || OP("And") || OP("Or");
    bool done = false;
    /* an integer constant against a float value: as float (Pow's integer exponents, the
     * comparisons' integer constants); an integer result (Pow of an integer base) is not
     * computed in float */
    oval *ab[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        oval *c = ab[k], *o = ab[1 - k];
        if (!c->is_const || c->f || !c->i || o->is_const) continue;
        if (OP("Pow") && k == 0) {
            char why[120];
            snprintf(why, sizeof why, "an %s base (the result is %s; only float32 computes)", ox_type_name(c->dt), ox_type_name(c->dt));
            return ox_unsupported(x, why);
        }
        for (int64_t i = 0; i < c->numel; i++)
            if (c->i[i] > (1 << 24) || c->i[i] < -(1 << 24)) return ox_unsupported(x, "an integer constant too large for float32");
        if (!(c->f = ft_malloc((size_t)(c->numel ? c->numel : 1) * sizeof(float)))) return ox_oom();
        for (int64_t i = 0; i < c->numel; i++) c->f[i] = (float)c->i[i];
        c->dt = OX_FLOAT;
    }
    ft_status s;
    if (!cmp && !OP("PRelu")) {
        if ((s = scalar_form(x, nd, op, a, b, false, &done)) || done) return s;
        if (!OP("Pow") && !OP("Div") && (s = scalar_form(x, nd, op, b, a, true, &done))) return s;
        if (done) return FT_OK;
    }
    /* a constant first operand of a symmetric op goes second (it becomes a param) */
    if (a->is_const && !b->is_const) {
        static const pair sw[] = {{"Add", "add"}, {"Mul", "mul"}, {"Max", "max"}, {"Min", "min"}, {"Equal", "equal"},
                                  {"Greater", "less"}, {"Less", "greater"}, {"GreaterOrEqual", "less_or_equal"},
                                  {"LessOrEqual", "greater_or_equal"}, {"And", "mul"}, {"Or", "max"}};
        for (size_t k = 0; k < sizeof sw / sizeof sw[0]; k++)
            if (OP(sw[k].onnx)) return emit_binary(x, nd, sw[k].gop, b, a, cmp ? OX_BOOL : OX_FLOAT);
    }
    return emit_binary(x, nd, gop, a, b, cmp ? OX_BOOL : OX_FLOAT);
}

/* Max/Min/Sum/Mean of n inputs */
static ft_status map_variadic(ox *x, const Onnx__NodeProto *nd, const char *op) {
    int n = 0;
    oval *v[64];
    for (size_t j = 0; j < nd->n_input && n < 64; j++)
        if (ox_in(x, nd, j)) v[n++] = ox_in(x, nd, j);
    if (n < 1) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    if (n == 2 && !OP("Mean")) return map_binary(x, nd, OP("Sum") ? "Add" : op);
    const char *gop = OP("Max") ? "max" : OP("Min") ? "min" : "add";
    ft_status s = need_op(x, gop);
    if (s) return s;
    int r = v[0]->ndim;
    int64_t sh[OX_MAX_DIMS];
    memcpy(sh, v[0]->shape, sizeof sh);
    const char *acc = NULL;
    for (int k = 0; k < n; k++) {
        if ((s = ox_broadcast(x, r, sh, v[k]->ndim, v[k]->shape, &r, sh))) return s;
        if (!k) { acc = lift(x, v[0]); if (!acc) return FT_EUNSUPPORTED; continue; }
        const char *ins[2] = {acc, NULL}, *p = NULL;
        int npar = 0;
        if (v[k]->is_const) { if (!(p = ox_param(x, v[k], 0))) return FT_EUNSUPPORTED; npar = 1; }
        else ins[1] = v[k]->node;
        acc = ox_emit(x, gop, ins, npar ? 1 : 2, &p, npar, NULL, hint(nd));
        if (!acc) return FT_EINVAL;
    }
    if (OP("Mean") && n > 1) acc = emit1(x, nd, "scale", acc, json_pack("{s:f}", "a", 1.0 / n));
    else if (n == 1) acc = emit1(x, nd, "identity", acc, NULL);
    return set_dyn(x, nd, 0, acc, r, sh, OX_FLOAT);
}

static ft_status map_where(ox *x, const Onnx__NodeProto *nd) {
    oval *v[3] = {ox_in(x, nd, 0), ox_in(x, nd, 1), ox_in(x, nd, 2)};
    if (!v[0] || !v[1] || !v[2]) return ox_node_fail(x, FT_EFORMAT, "needs three inputs");
    ft_status s = need_op(x, "where");
    if (s) return s;
    int n1, n;
    int64_t s1[OX_MAX_DIMS], sh[OX_MAX_DIMS];
    if ((s = ox_broadcast(x, v[0]->ndim, v[0]->shape, v[1]->ndim, v[1]->shape, &n1, s1)) ||
        (s = ox_broadcast(x, n1, s1, v[2]->ndim, v[2]->shape, &n, sh)))
        return s;
    if (v[0]->is_const && v[0]->i) { /* a constant condition: as float 0/1 */
        for (int64_t k = 0; k < v[0]->numel; k++) {}
        float *f = ft_malloc((size_t)(v[0]->numel ? v[0]->numel : 1) * sizeof(float));
        if (!f) return ox_oom();
        for (int64_t k = 0; k < v[0]->numel; k++) f[k] = v[0]->i[k] != 0;
        v[0]->f = f;
        v[0]->dt = OX_FLOAT;
    }
    const char *ins[3], *pars[3];
    int nin, npar;
    if ((s = operands(x, v, 3, ins, &nin, pars, &npar, 2))) return s;
    return set_dyn(x, nd, 0, ox_emit(x, "where", ins, nin, pars, npar, NULL, hint(nd)), n, sh, v[1]->dt == OX_BOOL ? OX_BOOL : OX_FLOAT);
}

/* ---------------- CNN ---------------- */

/* pads per spatial dim from pads / auto_pad (begin[d], end[d]) */
static ft_status conv_pads(ox *x, const Onnx__NodeProto *nd, int ns, const int64_t *in, const int64_t *k, const int64_t *st, const int64_t *dl,
                           int64_t *pb, int64_t *pe) {
    char buf[32];
    const char *ap = ox_attr_s(nd, "auto_pad", "NOTSET", buf, sizeof buf);
    const int64_t *p;
    int np = ox_attr_ints(nd, "pads", &p);
    for (int d = 0; d < ns; d++) {
        pb[d] = pe[d] = 0;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t out = (in[d] + st[d] - 1) / st[d];
            int64_t tot = (out - 1) * st[d] + (k[d] - 1) * dl[d] + 1 - in[d];
            if (tot < 0) tot = 0;
            pb[d] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
            pe[d] = tot - pb[d];
        } else if (!strcmp(ap, "NOTSET") && np >= 0) {
            if (np != 2 * ns) return ox_node_fail(x, FT_EFORMAT, "pads has %d entries for %d spatial dims", np, ns);
            pb[d] = p[d];
            pe[d] = p[d + ns];
            if (pb[d] < 0 || pe[d] < 0) return ox_node_fail(x, FT_EUNSUPPORTED, "negative pads");
        } else if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return ox_node_fail(x, FT_EFORMAT, "auto_pad '%s'", ap);
    }
    return FT_OK;
}

static ft_status spatial_ints(ox *x, const Onnx__NodeProto *nd, const char *name, int ns, int64_t def, int64_t *out) {
    const int64_t *v;
    int n = ox_attr_ints(nd, name, &v);
    for (int d = 0; d < ns; d++) out[d] = def;
    if (n < 0) return FT_OK;
    if (n != ns) return ox_node_fail(x, FT_EFORMAT, "%s has %d entries for %d spatial dims", name, n, ns);
    for (int d = 0; d < ns; d++) {
        if (v[d] < 1) return ox_node_fail(x, FT_EFORMAT, "%s entry %d is %lld", name, d, (long long)v[d]);
        out[d] = v[d];
    }
    return FT_OK;
}

static ft_status map_conv(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *w = ox_in(x, nd, 1), *b = ox_in(x, nd, 2);
    if (!a || !w) return ox_node_fail(x, FT_EFORMAT, "needs x and W");
    if (!w->is_const) return ox_unsupported(x, "the weight is computed, not a constant");
    if (b && !b->is_const) return ox_unsupported(x, "the bias is computed, not a constant");
    int ns = a->ndim - 2;
    if (ns < 1 || ns > 2) return ox_unsupported(x, "only 1-D and 2-D convolutions are supported");
    if (w->ndim != a->ndim) return ox_node_fail(x, FT_ESHAPE, "W has %d dims for a %d-dim input", w->ndim, a->ndim);
    int64_t k[2], st[2], dl[2], pb[2], pe[2], g = ox_attr_i(nd, "group", 1);
    ft_status s;
    if ((s = spatial_ints(x, nd, "strides", ns, 1, st)) || (s = spatial_ints(x, nd, "dilations", ns, 1, dl))) return s;
    for (int d = 0; d < ns; d++) k[d] = w->shape[2 + d];
    if ((s = conv_pads(x, nd, ns, a->shape + 2, k, st, dl, pb, pe))) return s;
    if (g < 1 || a->shape[1] % g || w->shape[0] % g || w->shape[1] * g != a->shape[1])
        return ox_node_fail(x, FT_ESHAPE, "input channels %lld, W %lldx%lld and group %lld do not match", (long long)a->shape[1],
                            (long long)w->shape[0], (long long)w->shape[1], (long long)g);
    if (b && b->numel != w->shape[0]) return ox_node_fail(x, FT_ESHAPE, "bias has %lld values for %lld output channels", (long long)b->numel, (long long)w->shape[0]);
    int64_t sh[4] = {a->shape[0], w->shape[0], 1, 1};
    for (int d = 0; d < ns; d++) {
        int64_t o = (a->shape[2 + d] + pb[d] + pe[d] - dl[d] * (k[d] - 1) - 1) / st[d] + 1;
        if (o < 1) return ox_node_fail(x, FT_ESHAPE, "the output would be empty");
        sh[2 + d] = o;
    }
    const char *in = lift(x, a), *pars[2];
    if (!in) return FT_EUNSUPPORTED;
    int npar = 1;
    if (b && !(pars[1] = ox_param(x, b, 0))) return FT_EUNSUPPORTED;
    if (b) npar = 2;
    if (!(pars[0] = ox_param(x, w, 0))) return FT_EUNSUPPORTED;
    json_t *at = ns == 2 ? json_pack("{s:[I,I], s:[I,I,I,I], s:[I,I], s:I}", "stride", st[0], st[1], "pad", pb[0], pb[1], pe[0], pe[1],
                                     "dilation", dl[0], dl[1], "groups", g)
                         : json_pack("{s:I, s:[I,I], s:I, s:I}", "stride", st[0], "pad", pb[0], pe[0], "dilation", dl[0], "groups", g);
    return set_dyn(x, nd, 0, ox_emit(x, ns == 2 ? "conv2d" : "conv1d", &in, 1, pars, npar, at, hint(nd)), a->ndim, sh, OX_FLOAT);
}

static ft_status pool_by_slices(ox *x, const Onnx__NodeProto *nd, oval *a, int ns, const int64_t *k, const int64_t *st, const int64_t *dl,
                                const int64_t *pb, const int64_t *pe, const int64_t *sh, bool avg, bool cip, bool want_idx);

static ft_status map_pool(ox *x, const Onnx__NodeProto *nd, bool avg) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    bool want_idx = !avg && nd->n_output > 1 && nd->output[1][0];
    int ns = a->ndim - 2;
    if (ns < 1 || ns > 3) return ox_unsupported(x, "only 1-D, 2-D and 3-D pools are supported");
    int64_t k[3], st[3], dl[3], pb[3], pe[3];
    ft_status s;
    const int64_t *kv;
    if (ox_attr_ints(nd, "kernel_shape", &kv) != ns) return ox_node_fail(x, FT_EFORMAT, "kernel_shape must have %d entries", ns);
    for (int d = 0; d < ns; d++) {
        if (kv[d] < 1) return ox_node_fail(x, FT_EFORMAT, "kernel_shape entry %d is %lld", d, (long long)kv[d]);
        k[d] = kv[d];
    }
    if ((s = spatial_ints(x, nd, "strides", ns, 1, st)) || (s = spatial_ints(x, nd, "dilations", ns, 1, dl))) return s;
    bool dilated = false;
    for (int d = 0; d < ns; d++) dilated |= dl[d] != 1;
    if (dilated && avg) return ox_unsupported(x, "dilated average pooling");
    if ((s = conv_pads(x, nd, ns, a->shape + 2, k, st, dl, pb, pe))) return s;
    bool ceil = ox_attr_i(nd, "ceil_mode", 0) != 0, cip = ox_attr_i(nd, "count_include_pad", 0) != 0;
    int64_t sh[5] = {a->shape[0], a->shape[1], 1, 1, 1};
    for (int d = 0; d < ns; d++) {
        int64_t len = a->shape[2 + d] + pb[d] + pe[d] - ((k[d] - 1) * dl[d] + 1);
        if (len < 0) return ox_node_fail(x, FT_ESHAPE, "the output would be empty");
        int64_t o = (ceil ? (len + st[d] - 1) / st[d] : len / st[d]) + 1;
        if (ceil && (o - 1) * st[d] >= a->shape[2 + d] + pb[d]) o--;
        if (o < 1) return ox_node_fail(x, FT_ESHAPE, "the output would be empty");
        sh[2 + d] = o;
    }
    /* what the pool ops cannot run: dilations, 3-D, the Indices output */
    if (dilated || ns == 3 || want_idx) return pool_by_slices(x, nd, a, ns, k, st, dl, pb, pe, sh, avg, cip, want_idx);
    for (int d = 0; d < ns; d++)
        if (pb[d] >= k[d] || pe[d] >= k[d]) return ox_unsupported(x, "padding as large as the kernel");
    json_t *at = json_pack("{s:[I,I], s:[I,I], s:[I,I,I,I], s:b}", "kernel", ns == 2 ? k[0] : 1, ns == 2 ? k[1] : k[0], "stride", ns == 2 ? st[0] : 1,
                           ns == 2 ? st[1] : st[0], "pad", ns == 2 ? pb[0] : 0, ns == 2 ? pb[1] : pb[0], ns == 2 ? pe[0] : 0, ns == 2 ? pe[1] : pe[0],
                           "ceil_mode", ceil);
    if (avg) json_object_set_new(at, "count_include_pad", json_boolean(cip));
    const char *in = lift(x, a);
    if (!in) { json_decref(at); return FT_EUNSUPPORTED; }
    if (ns == 1) { /* [N,C,L] -> [N,C,1,L] */
        int64_t x4[4] = {a->shape[0], a->shape[1], 1, a->shape[2]};
        char h[300];
        snprintf(h, sizeof h, "%s.as2d", hint(nd));
        in = reshape_to(x, nd, a, 4, x4, h);
        if (!in) { json_decref(at); return FT_EINVAL; }
    }
    const char *o = ox_emit(x, avg ? "avg_pool2d" : "max_pool2d", &in, 1, NULL, 0, at, hint(nd));
    if (ns == 1 && o) {
        char h[300];
        snprintf(h, sizeof h, "%s.as1d", hint(nd));
        o = ox_emit(x, "reshape", &o, 1, NULL, 0, json_pack("{s:[I,I]}", "shape", sh[1], sh[2]), h);
    }
    return set_dyn(x, nd, 0, o, a->ndim, sh, OX_FLOAT);
}

static ft_status map_global_pool(ox *x, const Onnx__NodeProto *nd, bool avg) {
    oval *a = ox_in(x, nd, 0);
    if (!a || a->ndim < 3) return ox_node_fail(x, FT_EFORMAT, "needs an input with spatial dims");
    int64_t sh[OX_MAX_DIMS], dims[OX_MAX_DIMS];
    int nd2 = 0;
    for (int d = 0; d < a->ndim; d++) sh[d] = d < 2 ? a->shape[d] : 1;
    for (int d = 2; d < a->ndim; d++) dims[nd2++] = d;
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    if (avg && a->ndim == 4) return set_dyn(x, nd, 0, emit1(x, nd, "global_avg_pool", in, json_pack("{s:b}", "keepdim", 1)), 4, sh, OX_FLOAT);
    const char *gop = avg ? "mean" : "reduce_max";
    ft_status s = need_op(x, gop);
    if (s) return s;
    return set_dyn(x, nd, 0, emit1(x, nd, gop, in, json_pack("{s:o, s:b}", "dims", ints_json(nd2, dims), "keepdim", 1)), a->ndim, sh, OX_FLOAT);
}

static ft_status map_batchnorm_training(ox *x, const Onnx__NodeProto *nd, oval *a, oval **v);

static ft_status map_batchnorm(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *v[4] = {ox_in(x, nd, 1), ox_in(x, nd, 2), ox_in(x, nd, 3), ox_in(x, nd, 4)};
    if (!a || !v[0] || !v[1] || !v[2] || !v[3]) return ox_node_fail(x, FT_EFORMAT, "needs X, scale, B, mean and var");
    if (x->opset >= 14 && ox_attr_i(nd, "training_mode", 0)) return map_batchnorm_training(x, nd, a, v);
    for (size_t j = 1; j < nd->n_output; j++)
        if (nd->output[j][0]) return ox_unsupported(x, "training-mode outputs (running statistics) are not supported");
    if (a->ndim < 2) return ox_node_fail(x, FT_ESHAPE, "X needs a channel dim");
    const char *pars[4];
    for (int k = 0; k < 4; k++) {
        if (!v[k]->is_const) return ox_unsupported(x, "computed scale, bias or statistics");
        if (v[k]->numel != a->shape[1]) return ox_node_fail(x, FT_ESHAPE, "input %d has %lld values for %lld channels", k + 1, (long long)v[k]->numel, (long long)a->shape[1]);
        if (!(pars[k] = ox_param(x, v[k], k < 2 ? 0 : 2))) return FT_EUNSUPPORTED;
    }
    float mom = ox_attr_f(nd, "momentum", 0.9f);
    json_t *at = json_pack("{s:f, s:f}", "eps", (double)ox_attr_f(nd, "epsilon", 1e-5f), "momentum", (double)(mom >= 0 && mom <= 1 ? 1.0f - mom : 0.1f));
    const char *in = lift(x, a);
    if (!in) { json_decref(at); return FT_EUNSUPPORTED; }
    int64_t sh[OX_MAX_DIMS];
    memcpy(sh, a->shape, sizeof sh);
    if (a->ndim == 2 || a->ndim == 4) return set_dyn(x, nd, 0, ox_emit(x, "batch_norm", &in, 1, pars, 4, at, hint(nd)), a->ndim, sh, OX_FLOAT);
    /* [N,C,...] -> [N,C,L,1] and back */
    int64_t l = 1;
    for (int d = 2; d < a->ndim; d++) l *= a->shape[d];
    int64_t x4[4] = {a->shape[0], a->shape[1], l, 1};
    char h[300];
    snprintf(h, sizeof h, "%s.as4d", hint(nd));
    const char *r = reshape_to(x, nd, a, 4, x4, h);
    const char *o = r ? ox_emit(x, "batch_norm", &r, 1, pars, 4, at, hint(nd)) : NULL;
    if (!r) json_decref(at);
    snprintf(h, sizeof h, "%s.back", hint(nd));
    if (o) o = ox_emit(x, "reshape", &o, 1, NULL, 0, json_pack("{s:o}", "shape", ints_json(a->ndim - 1, a->shape + 1)), h);
    return set_dyn(x, nd, 0, o, a->ndim, sh, OX_FLOAT);
}

/* ---------------- linear algebra ---------------- */

static ft_status map_gemm(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *b = ox_in(x, nd, 1), *c = ox_in(x, nd, 2);
    if (!a || !b) return ox_node_fail(x, FT_EFORMAT, "needs A and B");
    if (a->ndim != 2 || b->ndim != 2) return ox_node_fail(x, FT_ESHAPE, "A and B must be 2-D");
    bool ta = ox_attr_i(nd, "transA", 0) != 0, tb = ox_attr_i(nd, "transB", 0) != 0;
    float alpha = ox_attr_f(nd, "alpha", 1.0f), beta = ox_attr_f(nd, "beta", 1.0f);
    int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
    int64_t Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
    if (K != Kb) return ox_node_fail(x, FT_ESHAPE, "A gives K = %lld, B gives %lld", (long long)K, (long long)Kb);
    int64_t sh[2] = {M, N};
    if (c && c->ndim > 2) return ox_node_fail(x, FT_ESHAPE, "C has %d dims", c->ndim);
    char h[300];
    const char *cur = NULL;
    bool bias_done = false;
    if (b->is_const && !a->is_const && !ta) {
        /* linear: weight [N, K] (B transposed at import when transB = 0) */
        const char *pars[2];
        int npar = 1;
        if (tb) pars[0] = ox_param(x, b, 0);
        else {
            float *t = ft_malloc((size_t)(b->numel ? b->numel : 1) * sizeof(float));
            if (!t) return ox_oom();
            if (!b->f) { ft_free(t); return ox_unsupported(x, "B has an integer type"); }
            for (int64_t i = 0; i < K; i++)
                for (int64_t j = 0; j < N; j++) t[j * K + i] = b->f[i * N + j];
            int64_t ws[2] = {N, K};
            pars[0] = ox_declare(x, b->name, 2, ws, t, b->orig == ORIG_INIT || b->orig == ORIG_BRANCH || x->o.promote_constants);
            ft_free(t);
        }
        if (!pars[0]) return FT_EUNSUPPORTED;
        if (c && c->is_const && alpha == 1.0f && beta == 1.0f && c->numel == N && (c->ndim == 1 || c->shape[0] == 1)) {
            if (c->ndim == 1) pars[1] = ox_param(x, c, 0);
            else pars[1] = ox_declare(x, c->name, 1, &N, c->f, c->orig == ORIG_INIT || c->orig == ORIG_BRANCH || x->o.promote_constants);
            if (!pars[1]) return FT_EUNSUPPORTED;
            npar = 2;
            bias_done = true;
        }
        const char *in = lift(x, a);
        if (!in) return FT_EUNSUPPORTED;
        cur = ox_emit(x, "linear", &in, 1, pars, npar, NULL, hint(nd));
    } else {
        oval *v[2] = {a, b};
        const char *ins[2], *pars[2];
        int nin, npar;
        ft_status s = operands(x, v, 2, ins, &nin, pars, &npar, 0);
        if (s) return s;
        cur = ox_emit(x, "matmul", ins, nin, pars, npar, json_pack("{s:b, s:b}", "trans_a", ta, "trans_b", tb), hint(nd));
    }
    if (!cur) return FT_EINVAL;
    if (alpha != 1.0f) {
        snprintf(h, sizeof h, "%s.alpha", hint(nd));
        cur = ox_emit(x, "scale", &cur, 1, NULL, 0, json_pack("{s:f}", "a", (double)alpha), h);
        if (!cur) return FT_EINVAL;
    }
    if (c && !bias_done && beta != 0.0f) {
        const char *cn = NULL;
        snprintf(h, sizeof h, "%s.bias", hint(nd));
        if (c->is_const) {
            if (beta != 1.0f) for (int64_t k = 0; k < c->numel && c->f; k++) c->f[k] *= beta;
            const char *p = ox_param(x, c, 0);
            if (!p) return FT_EUNSUPPORTED;
            cur = ox_emit(x, "add", &cur, 1, &p, 1, NULL, h);
        } else {
            cn = c->node;
            if (beta != 1.0f) {
                char h2[300];
                snprintf(h2, sizeof h2, "%s.beta", hint(nd));
                cn = ox_emit(x, "scale", &cn, 1, NULL, 0, json_pack("{s:f}", "a", (double)beta), h2);
            }
            const char *ins[2] = {cur, cn};
            cur = cn ? ox_emit(x, "add", ins, 2, NULL, 0, NULL, h) : NULL;
        }
    }
    return set_dyn(x, nd, 0, cur, 2, sh, OX_FLOAT);
}

static ft_status map_matmul(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *b = ox_in(x, nd, 1);
    if (!a || !b) return ox_node_fail(x, FT_EFORMAT, "needs A and B");
    if (a->ndim < 2 || b->ndim < 2) return ox_unsupported(x, "1-D operands are not supported");
    if (a->shape[a->ndim - 1] != b->shape[b->ndim - 2]) return ox_node_fail(x, FT_ESHAPE, "inner dims %lld and %lld differ", (long long)a->shape[a->ndim - 1], (long long)b->shape[b->ndim - 2]);
    int n;
    int64_t sh[OX_MAX_DIMS];
    ft_status s = ox_broadcast(x, a->ndim - 2, a->shape, b->ndim - 2, b->shape, &n, sh);
    if (s) return s;
    sh[n] = a->shape[a->ndim - 2];
    sh[n + 1] = b->shape[b->ndim - 1];
    n += 2;
    /* MatMul(x, Transpose(W)) of a 2-D constant W [P, K], as exporters (finetune's own among
     * them) write a linear layer on [..., K]: `linear`, W under its own name and layout */
    const Onnx__NodeProto *tp = !a->is_const && b->is_const && b->ndim == 2 ? producer(x, nd->input[1]) : NULL;
    oval *w = tp && !op_cmp(tp, "Transpose") && tp->n_input == 1 ? ox_val(x, tp->input[0]) : NULL;
    const int64_t *perm = NULL;
    int np = tp ? ox_attr_ints(tp, "perm", &perm) : -1;
    if (w && w->is_const && w->f && w->dt == OX_FLOAT && w->ndim == 2 && w->shape[0] == b->shape[1] && w->shape[1] == b->shape[0] &&
        (np < 0 || (np == 2 && perm[0] == 1 && perm[1] == 0))) {
        const char *pw = ox_param(x, w, 0), *in = lift(x, a);
        if (!pw || !in) return FT_EUNSUPPORTED;
        return set_dyn(x, nd, 0, ox_emit(x, "linear", &in, 1, &pw, 1, NULL, hint(nd)), n, sh, OX_FLOAT);
    }
    /* a constant A whose batch dims are all 1 (or none) times a batched computed B:
     * (B^T A^T)^T, so A stays one [M, K] parameter and each example of B is multiplied */
    bool a_flat = a->is_const && a->f && !b->is_const && b->ndim > 2 && a->ndim <= b->ndim;
    for (int d = 0; a_flat && d < a->ndim - 2; d++) a_flat = a->shape[d] == 1;
    if (a_flat) {
        int64_t mk[2] = {a->shape[a->ndim - 2], a->shape[a->ndim - 1]}, p[OX_MAX_DIMS];
        const char *pa = ox_declare(x, a->name, 2, mk, a->f, a->orig == ORIG_INIT || a->orig == ORIG_BRANCH || (a->orig == ORIG_CONST && x->o.promote_constants));
        const char *in = lift(x, b);
        if (!pa || !in) return FT_EUNSUPPORTED;
        char h[300];
        snprintf(h, sizeof h, "%s.t", hint(nd));
        const char *t = ox_emit(x, "matmul", &in, 1, &pa, 1, json_pack("{s:b, s:b}", "trans_a", 1, "trans_b", 1), h);
        for (int d = 0; d < n; d++) p[d] = d;
        p[n - 2] = n - 1;
        p[n - 1] = n - 2;
        return set_dyn(x, nd, 0, t ? emit1(x, nd, "permute", t, json_pack("{s:o}", "dims", ints_json(n, p))) : NULL, n, sh, OX_FLOAT);
    }
    /* a constant B whose batch dims are all 1 (and no more dims than A): one [K, N]
     * parameter shared by every matrix of A */
    bool b_flat = b->is_const && b->f && b->ndim > 2 && b->ndim <= a->ndim;
    for (int d = 0; b_flat && d < b->ndim - 2; d++) b_flat = b->shape[d] == 1;
    if (b_flat) {
        int64_t kn[2] = {b->shape[b->ndim - 2], b->shape[b->ndim - 1]};
        const char *pb = ox_declare(x, b->name, 2, kn, b->f, b->orig == ORIG_INIT || b->orig == ORIG_BRANCH || (b->orig == ORIG_CONST && x->o.promote_constants));
        const char *in = lift(x, a);
        if (!pb || !in) return FT_EUNSUPPORTED;
        return set_dyn(x, nd, 0, ox_emit(x, "matmul", &in, 1, &pb, 1, NULL, hint(nd)), n, sh, OX_FLOAT);
    }
    /* B without batch dims, or both with the result's batch dims: one matmul */
    bool same = a->ndim == n && (b->ndim == 2 || b->ndim == n);
    for (int d = 0; same && d < n - 2; d++) same = a->shape[d] == sh[d] && (b->ndim == 2 || b->shape[d] == sh[d]);
    if (same) {
        /* a constant with batch dims against a computed operand: its dim 0 is fixed */
        if (n > 2 && a->is_const != b->is_const && (a->is_const || b->ndim > 2)) x->fixed_batch = true;
        oval *v[2] = {a, b};
        const char *ins[2], *pars[2];
        int nin, npar;
        if ((s = operands(x, v, 2, ins, &nin, pars, &npar, 0))) return s;
        return set_dyn(x, nd, 0, ox_emit(x, "matmul", ins, nin, pars, npar, NULL, hint(nd)), n, sh, OX_FLOAT);
    }
    /* NumPy batch broadcasting between any two operands (a grouped-query attention's
     * [B, Hkv, G, T, D] x [B, Hkv, 1, D, T], [2, 1, 3, 4] x [1, 5, 4, 6]): each operand whose
     * batch dims are not the result's is expanded to them (`expand`, whose gradient sums over
     * the copies), then one batched matmul. A computed operand that has the result's dim 0
     * keeps any batch (a 1 there); expanding along dim 0 (a constant, or a computed operand
     * with 1 there or fewer dims) ties the graph to the import's batch size. */
    if ((s = need_op(x, "expand"))) return s;
    const char *ins[2];
    for (int k = 0; k < 2; k++) {
        oval *o = k ? b : a;
        const char *in = lift(x, o);
        if (!in) return FT_EUNSUPPORTED;
        bool keep = o->ndim == n;
        for (int d = 0; keep && d < n - 2; d++) keep = o->shape[d] == sh[d];
        if (!keep) {
            int64_t t[OX_MAX_DIMS];
            for (int d = 0; d < n - 2; d++) t[d] = sh[d];
            t[n - 2] = o->shape[o->ndim - 2];
            t[n - 1] = o->shape[o->ndim - 1];
            if (!o->is_const && o->ndim == n && o->shape[0] == sh[0]) t[0] = 1;
            else x->fixed_batch = true;
            char h[300];
            snprintf(h, sizeof h, "%s.%s", hint(nd), k ? "b" : "a");
            in = ox_emit(x, "expand", &in, 1, NULL, 0, json_pack("{s:o}", "shape", ints_json(n, t)), h);
            if (!in) return FT_EINVAL;
        }
        ins[k] = in;
    }
    return set_dyn(x, nd, 0, ox_emit(x, "matmul", ins, 2, NULL, 0, NULL, hint(nd)), n, sh, OX_FLOAT);
}

/* ---------------- shape ops ---------------- */

static ft_status map_reshape_like(ox *x, const Onnx__NodeProto *nd, const char *op) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    int n;
    int64_t sh[OX_MAX_DIMS];
    ft_status s;
    if (OP("Reshape")) {
        oval *t = ox_in(x, nd, 1);
        if (!t) return ox_node_fail(x, FT_EFORMAT, "needs a shape");
        if (!t->is_const) return ox_unsupported(x, "the shape depends on the data");
        if ((s = ox_reshape_shape(x, a, t, ox_attr_i(nd, "allowzero", 0) != 0, &n, sh))) return s;
    } else if (OP("Flatten")) {
        int64_t ax0 = ox_attr_i(nd, "axis", 1);
        int ax = ax0 < 0 ? ox_norm_axis(ax0 + a->ndim, a->ndim + 1) : ox_norm_axis(ax0, a->ndim + 1); /* -r..r */
        if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
        sh[0] = sh[1] = 1;
        for (int d = 0; d < a->ndim; d++) sh[d < ax ? 0 : 1] *= a->shape[d];
        n = 2;
        if (ax == 1 && a->ndim >= 2) {
            const char *in = lift(x, a);
            if (!in) return FT_EUNSUPPORTED;
            return set_dyn(x, nd, 0, a->ndim == 2 ? emit1(x, nd, "identity", in, NULL) : emit1(x, nd, "flatten", in, NULL), 2, sh, a->dt);
        }
    } else {
        int64_t axes[OX_MAX_DIMS];
        int na;
        if ((s = ox_axes(x, nd, 1, axes, &na))) return s;
        s = OP("Squeeze") ? ox_squeeze_shape(x, a, axes, na, &n, sh) : ox_unsqueeze_shape(x, a, axes, na, &n, sh);
        if (s) return s;
    }
    if (n > FT_MAX_DIMS) return ox_unsupported(x, "more than 6 dims");
    if (n == 0) return ox_unsupported(x, "a 0-d (scalar) result");
    const char *r = reshape_to(x, nd, a, n, sh, NULL);
    if (r && a->node && !strcmp(r, a->node)) r = emit1(x, nd, "identity", r, NULL);
    return set_dyn(x, nd, 0, r, n, sh, a->dt);
}

static ft_status map_transpose(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    const int64_t *perm;
    int np = ox_attr_ints(nd, "perm", &perm);
    int64_t p[OX_MAX_DIMS], sh[OX_MAX_DIMS];
    bool seen[OX_MAX_DIMS] = {false};
    if (np >= 0 && np != a->ndim) return ox_node_fail(x, FT_EFORMAT, "perm has %d entries for %d dims", np, a->ndim);
    for (int d = 0; d < a->ndim; d++) {
        int q = np >= 0 ? ox_norm_axis(perm[d], a->ndim) : a->ndim - 1 - d;
        if (q < 0 || seen[q]) return ox_node_fail(x, FT_EFORMAT, "perm is not a permutation");
        seen[q] = true;
        p[d] = q;
        sh[d] = a->shape[q];
    }
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    /* the batch leaves dim 0 (tf2onnx's time-major [T, N, F] before an LSTM): later reshapes
     * "per example" would take dim 0 for the batch, so the graph runs at this batch only */
    if (a->ndim > 1 && p[0] != 0) x->fixed_batch = true;
    return set_dyn(x, nd, 0, emit1(x, nd, "permute", in, json_pack("{s:o}", "dims", ints_json(a->ndim, p))), a->ndim, sh, a->dt);
}

static ft_status map_concat(ox *x, const Onnx__NodeProto *nd) {
    oval *v[256];
    int n = 0;
    for (int all = 0; all < 2 && !n; all++) /* empty pieces add nothing, unless every piece is empty */
        for (size_t j = 0; j < nd->n_input; j++) {
            oval *t = ox_in(x, nd, j);
            if (!t || (!all && t->numel == 0)) continue;
            if (n == 256) return ox_unsupported(x, "more than 256 inputs");
            v[n++] = t;
        }
    if (!n) return ox_node_fail(x, FT_EFORMAT, "needs inputs");
    int ax = ox_norm_axis(ox_attr_i(nd, "axis", 0), v[0]->ndim);
    if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
    int64_t sh[OX_MAX_DIMS];
    memcpy(sh, v[0]->shape, sizeof sh);
    sh[ax] = 0;
    const char *ins[256];
    for (int k = 0; k < n; k++) {
        if (v[k]->ndim != v[0]->ndim) return ox_node_fail(x, FT_ESHAPE, "inputs have different ranks");
        for (int d = 0; d < v[0]->ndim; d++)
            if (d != ax && v[k]->shape[d] != v[0]->shape[d]) return ox_node_fail(x, FT_ESHAPE, "input %d differs off the axis (dim %d)", k, d);
        sh[ax] += v[k]->shape[ax];
        if (!(ins[k] = lift(x, v[k]))) return FT_EUNSUPPORTED;
    }
    return set_dyn(x, nd, 0, ox_emit(x, n == 1 ? "identity" : "concat", ins, n, NULL, 0, n == 1 ? NULL : json_pack("{s:i}", "dim", ax), hint(nd)),
                   v[0]->ndim, sh, v[0]->dt);
}

static ft_status map_slice(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    oslice sl;
    ft_status s = ox_slice_params(x, nd, a, &sl);
    if (s) return s;
    const char *cur = lift(x, a);
    if (!cur) return FT_EUNSUPPORTED;
    int64_t sh[OX_MAX_DIMS];
    memcpy(sh, a->shape, sizeof sh);
    for (int d = 0; d < a->ndim; d++) {
        if (!sl.sliced[d] || (sl.start[d] == 0 && sl.step[d] == 1 && sl.len[d] == a->shape[d])) continue;
        if ((s = need_op(x, "slice"))) return s;
        /* an empty slice (len 0) is [0:0] of the dim: a 0-size tensor */
        int64_t st = sl.len[d] ? sl.start[d] : 0, step = sl.len[d] ? sl.step[d] : 1;
        int64_t end = sl.len[d] ? st + (sl.len[d] - 1) * step + (step > 0 ? 1 : -1) : 0;
        json_t *at = json_pack("{s:i, s:I, s:I, s:I}", "dim", d, "start", st, "end", end, "step", step);
        if (end < 0) json_object_set_new(at, "end", json_integer(INT64_MIN)); /* a negative step running past the beginning (ONNX clamping) */
        cur = emit1(x, nd, "slice", cur, at);
        if (!cur) return FT_EINVAL;
        sh[d] = sl.len[d];
    }
    if (a->node && !strcmp(cur, a->node)) cur = emit1(x, nd, "identity", cur, NULL);
    return set_dyn(x, nd, 0, cur, a->ndim, sh, a->dt);
}

static ft_status map_split(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    int ax = ox_norm_axis(ox_attr_i(nd, "axis", 0), a->ndim);
    if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
    int n = (int)nd->n_output;
    if (n < 1 || n > 1024) return ox_node_fail(x, FT_EFORMAT, "needs outputs");
    int64_t len[1024];
    const int64_t *sp;
    int ns = ox_attr_ints(nd, "split", &sp);
    oval *sv = ox_in(x, nd, 1);
    if (sv) {
        if (!sv->is_const || !sv->i) return ox_unsupported(x, "the split sizes depend on the data");
        ns = (int)sv->numel;
        sp = sv->i;
    }
    if (ns >= 0) {
        if (ns != n) return ox_node_fail(x, FT_EFORMAT, "split has %d entries for %d outputs", ns, n);
        int64_t tot = 0;
        for (int k = 0; k < n; k++) { len[k] = sp[k]; tot += sp[k]; if (sp[k] < 0) return ox_node_fail(x, FT_EFORMAT, "negative split"); }
        if (tot != a->shape[ax]) return ox_node_fail(x, FT_ESHAPE, "split sizes add to %lld, the dim is %lld", (long long)tot, (long long)a->shape[ax]);
    } else {
        int64_t per = (a->shape[ax] + n - 1) / n;
        for (int k = 0; k < n; k++) {
            int64_t rest = a->shape[ax] - per * k;
            len[k] = rest < per ? (rest > 0 ? rest : 0) : per;
        }
    }
    ft_status s = need_op(x, "slice");
    if (s) return s;
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    char *keep = ft_strdup(in);
    if (!keep) return ox_oom();
    int64_t at = 0;
    for (int k = 0; k < n && !s; k++) {
        int64_t sh[OX_MAX_DIMS];
        oval *cur = ox_in(x, nd, 0);
        memcpy(sh, cur->shape, sizeof sh);
        sh[ax] = len[k];
        char h[300];
        snprintf(h, sizeof h, "%s", nd->output[k][0] ? nd->output[k] : hint(nd));
        /* a zero-size piece is an empty slice [at:at] (a 0-size tensor) */
        s = set_dyn(x, nd, (size_t)k,
                    ox_emit(x, "slice", (const char **)&keep, 1, NULL, 0, json_pack("{s:i, s:I, s:I}", "dim", ax, "start", at, "end", at + len[k]), h),
                    cur->ndim, sh, cur->dt);
        at += len[k];
    }
    ft_free(keep);
    return s;
}

/* Gather of rows of a constant matrix by computed integer ids (token ids): `embedding`. */
static ft_status map_embedding(ox *x, const Onnx__NodeProto *nd, oval *w, oval *ids) {
    if (!w->is_const) return ox_unsupported(x, "computed data with computed indices");
    if (w->ndim != 2 || ox_norm_axis(ox_attr_i(nd, "axis", 0), 2) != 0)
        return ox_unsupported(x, "computed indices into anything but rows (axis 0) of a constant matrix");
    if (ids->ndim + 1 > FT_MAX_DIMS) return ox_unsupported(x, "the result would have more than 6 dims");
    ft_status s = need_op(x, "embedding");
    if (s) return s;
    const char *p = ox_param(x, w, 0);
    if (!p) return FT_EUNSUPPORTED;
    int64_t sh[OX_MAX_DIMS];
    memcpy(sh, ids->shape, sizeof sh);
    sh[ids->ndim] = w->shape[1];
    return set_dyn(x, nd, 0, ox_emit(x, "embedding", (const char **)&ids->node, 1, &p, 1, NULL, hint(nd)), ids->ndim + 1, sh, OX_FLOAT);
}

static ft_status map_gather(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *idx = ox_in(x, nd, 1);
    if (!a || !idx) return ox_node_fail(x, FT_EFORMAT, "needs data and indices");
    if (!idx->is_const && (idx->dt == OX_INT32 || idx->dt == OX_INT64)) return map_embedding(x, nd, a, idx);
    if (!idx->is_const || !idx->i) return ox_unsupported(x, "indices that depend on the data");
    int ax = ox_norm_axis(ox_attr_i(nd, "axis", 0), a->ndim);
    if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
    int r = a->ndim - 1 + idx->ndim;
    if (r > FT_MAX_DIMS || r < 1) return ox_unsupported(x, "the result would have 0 or more than 6 dims");
    int64_t sh[OX_MAX_DIMS];
    int q = 0;
    for (int d = 0; d < ax; d++) sh[q++] = a->shape[d];
    for (int d = 0; d < idx->ndim; d++) sh[q++] = idx->shape[d];
    for (int d = ax + 1; d < a->ndim; d++) sh[q++] = a->shape[d];
    ft_status s = need_op(x, "gather");
    if (s) return s;
    json_t *ji = json_array();
    for (int64_t k = 0; k < idx->numel; k++) {
        int64_t v = idx->i[k] < 0 ? idx->i[k] + a->shape[ax] : idx->i[k];
        if (v < 0 || v >= a->shape[ax]) { json_decref(ji); return ox_node_fail(x, FT_EFORMAT, "index %lld is out of range", (long long)idx->i[k]); }
        json_array_append_new(ji, json_integer(v));
    }
    const char *in = lift(x, a);
    if (!in) { json_decref(ji); return FT_EUNSUPPORTED; }
    return set_dyn(x, nd, 0, emit1(x, nd, "gather", in, json_pack("{s:i, s:o, s:o}", "axis", ax, "indices", ji, "indices_shape", ints_json(idx->ndim, idx->shape))),
                   r, sh, a->dt);
}

static ft_status map_expand(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *t = ox_in(x, nd, 1);
    if (!a || !t) return ox_node_fail(x, FT_EFORMAT, "needs an input and a shape");
    if (!t->is_const || !t->i || t->ndim != 1 || t->numel > OX_MAX_DIMS) return ox_unsupported(x, "the shape must be a constant 1-D int64 tensor");
    int n;
    int64_t sh[OX_MAX_DIMS];
    ft_status s = ox_broadcast(x, a->ndim, a->shape, (int)t->numel, t->i, &n, sh);
    if (s) return s;
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    bool same = n == a->ndim;
    for (int d = 0; same && d < n; d++) same = sh[d] == a->shape[d];
    if (same) return set_dyn(x, nd, 0, emit1(x, nd, "identity", in, NULL), n, sh, a->dt);
    if ((s = need_op(x, "expand"))) return s;
    return set_dyn(x, nd, 0, emit1(x, nd, "expand", in, json_pack("{s:o}", "shape", ints_json(n, sh))), n, sh, a->dt);
}

static ft_status map_pad(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    char buf[32];
    const char *mode = ox_attr_s(nd, "mode", "constant", buf, sizeof buf);
    int64_t pads[2 * OX_MAX_DIMS];
    float value = 0;
    if (x->opset < 11) {
        const int64_t *p;
        if (ox_attr_ints(nd, "pads", &p) != 2 * a->ndim) return ox_node_fail(x, FT_EFORMAT, "pads must have %d entries", 2 * a->ndim);
        memcpy(pads, p, (size_t)(2 * a->ndim) * sizeof *pads);
        value = ox_attr_f(nd, "value", 0.0f);
    } else {
        oval *p = ox_in(x, nd, 1), *v = ox_in(x, nd, 2), *ax = ox_in(x, nd, 3);
        if (!p || !p->is_const || !p->i) return ox_unsupported(x, "pads must be a constant int64 tensor");
        if (v && (!v->is_const || v->numel != 1)) return ox_unsupported(x, "constant_value must be a constant scalar");
        if (v) value = scalar_f(v);
        for (int k = 0; k < 2 * a->ndim; k++) pads[k] = 0;
        if (ax) {
            if (!ax->is_const || !ax->i || p->numel != 2 * ax->numel) return ox_unsupported(x, "axes must be constant and match pads");
            for (int64_t k = 0; k < ax->numel; k++) {
                int d = ox_norm_axis(ax->i[k], a->ndim);
                if (d < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
                pads[d] = p->i[k];
                pads[d + a->ndim] = p->i[k + ax->numel];
            }
        } else {
            if (p->numel != 2 * a->ndim) return ox_node_fail(x, FT_EFORMAT, "pads has %lld entries for %d dims", (long long)p->numel, a->ndim);
            memcpy(pads, p->i, (size_t)(2 * a->ndim) * sizeof *pads);
        }
    }
    int64_t sh[OX_MAX_DIMS];
    bool neg = false, only2 = true, any = false;
    for (int d = 0; d < a->ndim; d++) {
        sh[d] = a->shape[d] + pads[d] + pads[d + a->ndim];
        if (sh[d] < 1) return ox_node_fail(x, FT_ESHAPE, "dim %d would be %lld", d, (long long)sh[d]);
        neg |= pads[d] < 0 || pads[d + a->ndim] < 0;
        any |= pads[d] || pads[d + a->ndim];
        if (d < a->ndim - 2 && (pads[d] || pads[d + a->ndim])) only2 = false;
    }
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    if (!any) return set_dyn(x, nd, 0, emit1(x, nd, "identity", in, NULL), a->ndim, sh, a->dt);
    if (!strcmp(mode, "constant") && only2 && !neg && a->ndim >= 2) {
        int n = a->ndim;
        json_t *at = json_pack("{s:[I,I,I,I], s:f}", "pad", pads[n - 2], pads[n - 1], pads[2 * n - 2], pads[2 * n - 1], "value", (double)value);
        return set_dyn(x, nd, 0, emit1(x, nd, "pad", in, at), a->ndim, sh, a->dt);
    }
    if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge")) return ox_unsupported(x, "pad mode (constant, reflect, edge)");
    return set_dyn(x, nd, 0, emit1(x, nd, "pad", in, json_pack("{s:o, s:s, s:f}", "pads", ints_json(2 * a->ndim, pads), "mode", mode, "value", (double)value)),
                   a->ndim, sh, a->dt);
}

/* ---------------- reductions, softmax, norms ---------------- */

static ft_status map_reduce(ox *x, const Onnx__NodeProto *nd, const char *op) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    const char *gop = OP("ReduceMean") ? "mean" : OP("ReduceSum") ? "sum" : OP("ReduceMax") ? "reduce_max" : "reduce_min";
    int64_t axes[OX_MAX_DIMS];
    int n;
    ft_status s = ox_axes(x, nd, OP("ReduceSum") && x->opset >= 13 ? 1 : -1, axes, &n);
    if (s) return s;
    bool keep = ox_attr_i(nd, "keepdims", 1) != 0, red[OX_MAX_DIMS] = {false};
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    if (n == 0 && ox_attr_i(nd, "noop_with_empty_axes", 0)) return set_dyn(x, nd, 0, emit1(x, nd, "identity", in, NULL), a->ndim, a->shape, a->dt);
    int64_t dims[OX_MAX_DIMS], sh[OX_MAX_DIMS];
    int nd2 = 0, r = 0;
    if (n <= 0)
        for (int d = 0; d < a->ndim; d++) red[d] = true;
    for (int k = 0; k < n; k++) {
        int d = ox_norm_axis(axes[k], a->ndim);
        if (d < 0) return ox_node_fail(x, FT_EFORMAT, "axis %lld out of range", (long long)axes[k]);
        red[d] = true;
    }
    for (int d = 0; d < a->ndim; d++) {
        if (red[d]) dims[nd2++] = d;
        if (!red[d] || keep) sh[r++] = red[d] ? 1 : a->shape[d];
    }
    if (r == 0) { /* every dim reduced without keepdims: kept as ones (a 0-d value does not exist in the graph) */
        keep = true;
        for (int d = 0; d < a->ndim; d++) sh[r++] = 1;
    }
    /* dim 0 is the graph's batch. Reducing it at size 1 (an import at batch 1) does nothing
     * there, so it is left out: each example is reduced on its own at any batch size, as
     * ONNX Runtime computes one example at a time. A larger dim 0 is reduced as ONNX says,
     * which mixes the examples (or drops the batch dim): the graph runs at that batch only. */
    if (red[0] && keep && a->shape[0] == 1 && nd2 > 0) { /* nd2 > 0: dims holds 0 (spelled out for gcc's -Wstringop-overflow) */
        memmove(dims, dims + 1, (size_t)--nd2 * sizeof *dims);
        if (!nd2) return set_dyn(x, nd, 0, emit1(x, nd, "identity", in, NULL), r, sh, OX_FLOAT);
    } else if (red[0]) x->fixed_batch = true;
    if ((s = need_op(x, gop))) return s;
    return set_dyn(x, nd, 0, emit1(x, nd, gop, in, json_pack("{s:o, s:b}", "dims", ints_json(nd2, dims), "keepdim", keep)), r, sh, OX_FLOAT);
}

static ft_status map_softmax(ox *x, const Onnx__NodeProto *nd, bool logsm) {
    oval *a = ox_in(x, nd, 0);
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    const char *gop = logsm ? "log_softmax" : "softmax";
    int ax = ox_norm_axis(ox_attr_i(nd, "axis", x->opset >= 13 ? -1 : 1), a->ndim);
    if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    if (ax == a->ndim - 1) return set_dyn(x, nd, 0, emit1(x, nd, gop, in, json_pack("{s:i}", "dim", -1)), a->ndim, a->shape, OX_FLOAT);
    if (x->opset >= 13) {
        /* over one inner dim: move it last, softmax, move it back */
        int64_t p[OX_MAX_DIMS];
        for (int d = 0; d < a->ndim; d++) p[d] = d;
        p[ax] = a->ndim - 1;
        p[a->ndim - 1] = ax;
        char h[300];
        snprintf(h, sizeof h, "%s.to_last", hint(nd));
        const char *t = ox_emit(x, "permute", &in, 1, NULL, 0, json_pack("{s:o}", "dims", ints_json(a->ndim, p)), h);
        const char *sm = t ? emit1(x, nd, gop, t, json_pack("{s:i}", "dim", -1)) : NULL;
        snprintf(h, sizeof h, "%s.back", hint(nd));
        const char *b = sm ? ox_emit(x, "permute", &sm, 1, NULL, 0, json_pack("{s:o}", "dims", ints_json(a->ndim, p)), h) : NULL;
        return set_dyn(x, nd, 0, b, a->ndim, a->shape, OX_FLOAT);
    }
    /* opset < 13: over the flattened dims axis.. as one row */
    int64_t two[2] = {1, 1};
    for (int d = 0; d < a->ndim; d++) two[d < ax ? 0 : 1] *= a->shape[d];
    char h[300];
    snprintf(h, sizeof h, "%s.rows", hint(nd));
    const char *r = reshape_to(x, nd, a, 2, two, h);
    const char *sm = r ? ox_emit(x, gop, &r, 1, NULL, 0, json_pack("{s:i}", "dim", -1), hint(nd)) : NULL;
    if (!sm) return FT_EINVAL;
    json_t *at = two[0] == a->shape[0] ? json_pack("{s:o}", "shape", ints_json(a->ndim - 1, a->shape + 1))
                                       : json_pack("{s:o, s:b}", "shape", ints_json(a->ndim, a->shape), "full", 1);
    if (two[0] != a->shape[0]) x->fixed_batch = true;
    snprintf(h, sizeof h, "%s.back", hint(nd));
    return set_dyn(x, nd, 0, ox_emit(x, "reshape", &sm, 1, NULL, 0, at, h), a->ndim, a->shape, OX_FLOAT);
}

/* LayerNormalization over dims axis.. : the input viewed as [..., D] (D = their product),
 * layer_norm over the last dim with Scale/B flattened to [D], viewed back. The Mean and
 * InvStdDev outputs are computed with mean / sub / mul / sqrt / reciprocal nodes. */
static ft_status map_layernorm(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *w = ox_in(x, nd, 1), *b = ox_in(x, nd, 2);
    if (!a || !w) return ox_node_fail(x, FT_EFORMAT, "needs X and Scale");
    int ax = ox_norm_axis(ox_attr_i(nd, "axis", -1), a->ndim);
    if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
    if (!w->is_const || (b && !b->is_const) || !w->f || (b && !b->f)) return ox_unsupported(x, "a computed scale or bias");
    if (ox_attr_i(nd, "stash_type", 1) != 1) return ox_unsupported(x, "stash_type other than float");
    float eps = ox_attr_f(nd, "epsilon", 1e-5f);
    int64_t D = 1;
    for (int d = ax; d < a->ndim; d++) D *= a->shape[d];
    /* Scale and B broadcast against X[axis:]: expanded to [D] */
    const oval *sb[2] = {w, b};
    const char *pars[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        const oval *v = sb[k];
        if (!v) continue;
        int n;
        int64_t sh[OX_MAX_DIMS];
        ft_status s = ox_broadcast(x, a->ndim - ax, a->shape + ax, v->ndim, v->shape, &n, sh);
        if (s) return s;
        if (n != a->ndim - ax || ox_numel(n, sh) != D) return ox_node_fail(x, FT_ESHAPE, "%s does not broadcast to the normalized dims", k ? "B" : "Scale");
        if (v->ndim == 1 && v->numel == D) pars[k] = ox_param(x, (oval *)v, 0);
        else {
            float *t = ft_malloc((size_t)D * sizeof(float));
            if (!t) return ox_oom();
            int64_t st[OX_MAX_DIMS], acc = 1;
            for (int d = v->ndim - 1; d >= 0; d--) { st[d] = v->shape[d] == 1 ? 0 : acc; acc *= v->shape[d]; }
            for (int64_t i = 0; i < D; i++) {
                int64_t r = i, off = 0;
                for (int d = n - 1; d >= 0; d--) {
                    int vd = d - (n - v->ndim);
                    if (vd >= 0) off += (r % sh[d]) * st[vd];
                    r /= sh[d];
                }
                t[i] = v->f[off];
            }
            pars[k] = ox_declare(x, v->name, 1, &D, t, v->orig != ORIG_CONST || x->o.promote_constants);
            ft_free(t);
        }
        if (!pars[k]) return FT_EUNSUPPORTED;
    }
    int64_t flat[OX_MAX_DIMS];
    int nf = 0;
    for (int d = 0; d < ax; d++) flat[nf++] = a->shape[d];
    if (nf == 0) flat[nf++] = 1;
    flat[nf++] = D;
    char h[300];
    snprintf(h, sizeof h, "%s.rows", hint(nd));
    const char *rows = reshape_to(x, nd, a, nf, flat, h);
    if (!rows) return FT_EINVAL;
    snprintf(h, sizeof h, "%s.norm", hint(nd));
    const char *ln = ox_emit(x, "layer_norm", &rows, 1, pars, b ? 2 : 1, json_pack("{s:f}", "eps", (double)eps), h);
    if (!ln) return FT_EINVAL;
    /* back to X's shape */
    bool same = nf == a->ndim;
    for (int d = 0; same && d < nf; d++) same = flat[d] == a->shape[d];
    const char *y = ln;
    if (!same) {
        json_t *at = flat[0] == a->shape[0] && ax > 0 ? json_pack("{s:o}", "shape", ints_json(a->ndim - 1, a->shape + 1))
                                                       : json_pack("{s:o, s:b}", "shape", ints_json(a->ndim, a->shape), "full", 1);
        if (!(flat[0] == a->shape[0] && ax > 0)) x->fixed_batch = true;
        y = ox_emit(x, "reshape", &ln, 1, NULL, 0, at, hint(nd));
    } else y = emit1(x, nd, "identity", ln, NULL);
    ft_status s = set_dyn(x, nd, 0, y, a->ndim, a->shape, OX_FLOAT);
    if (s) return s;
    bool want_mean = nd->n_output > 1 && nd->output[1][0], want_inv = nd->n_output > 2 && nd->output[2][0];
    if (!want_mean && !want_inv) return FT_OK;
    if ((s = need_op(x, "sqrt")) || (s = need_op(x, "reciprocal"))) return s;
    /* statistics shape: X[:axis] + ones */
    int64_t st_shape[OX_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) st_shape[d] = d < ax ? a->shape[d] : 1;
    json_t *back = ax > 0 ? json_pack("{s:o}", "shape", ints_json(a->ndim - 1, st_shape + 1))
                          : json_pack("{s:o, s:b}", "shape", ints_json(a->ndim, st_shape), "full", 1);
    snprintf(h, sizeof h, "%s.mean", hint(nd));
    const char *mean = ox_emit(x, "mean", &rows, 1, NULL, 0, json_pack("{s:[i], s:b}", "dims", -1, "keepdim", 1), h);
    const char *dv[2] = {rows, mean};
    snprintf(h, sizeof h, "%s.dev", hint(nd));
    const char *dev = mean ? ox_emit(x, "sub", dv, 2, NULL, 0, NULL, h) : NULL;
    const char *sq[2] = {dev, dev};
    snprintf(h, sizeof h, "%s.sq", hint(nd));
    const char *sqr = dev ? ox_emit(x, "mul", sq, 2, NULL, 0, NULL, h) : NULL;
    snprintf(h, sizeof h, "%s.var", hint(nd));
    const char *var = sqr ? ox_emit(x, "mean", &sqr, 1, NULL, 0, json_pack("{s:[i], s:b}", "dims", -1, "keepdim", 1), h) : NULL;
    snprintf(h, sizeof h, "%s.var_eps", hint(nd));
    const char *ve = var ? ox_emit(x, "scale", &var, 1, NULL, 0, json_pack("{s:f}", "b", (double)eps), h) : NULL;
    snprintf(h, sizeof h, "%s.std", hint(nd));
    const char *sd = ve ? ox_emit(x, "sqrt", &ve, 1, NULL, 0, NULL, h) : NULL;
    snprintf(h, sizeof h, "%s.inv_std", hint(nd));
    const char *inv = sd ? ox_emit(x, "reciprocal", &sd, 1, NULL, 0, NULL, h) : NULL;
    if (!inv) { json_decref(back); return FT_EINVAL; }
    if (ax == 0) x->fixed_batch = true;
    const char *outs[2] = {mean, inv};
    for (int k = 0; k < 2 && !s; k++) {
        if (!(k ? want_inv : want_mean)) continue;
        snprintf(h, sizeof h, "%s", nd->output[k + 1]);
        const char *r = ox_emit(x, "reshape", &outs[k], 1, NULL, 0, json_deep_copy(back), h);
        s = set_dyn(x, nd, (size_t)k + 1, r, a->ndim, st_shape, OX_FLOAT);
    }
    json_decref(back);
    return s;
}

static ft_status map_clip(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *lo = NULL, *hi = NULL;
    if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
    float mn = -INFINITY, mx = INFINITY;
    if (x->opset < 11) {
        mn = ox_attr_f(nd, "min", -3.402823e38f);
        mx = ox_attr_f(nd, "max", 3.402823e38f);
    } else {
        lo = ox_in(x, nd, 1);
        hi = ox_in(x, nd, 2);
        if (lo && lo->is_const) { mn = scalar_f(lo); lo = NULL; }
        if (hi && hi->is_const) { mx = scalar_f(hi); hi = NULL; }
    }
    const char *cur = lift(x, a);
    if (!cur) return FT_EUNSUPPORTED;
    ft_status s;
    bool has_lo = isfinite(mn) && mn > -3.4e38f, has_hi = isfinite(mx) && mx < 3.4e38f;
    if (has_lo || has_hi) {
        if (has_lo && has_hi && mn == 0.0f && mx == 6.0f) cur = emit1(x, nd, "relu6", cur, NULL);
        else if (has_lo && !has_hi && mn == 0.0f) cur = emit1(x, nd, "relu", cur, NULL);
        else {
            if ((s = need_op(x, "clip"))) return s;
            json_t *at = json_object();
            if (has_lo) json_object_set_new(at, "min", json_real(mn));
            if (has_hi) json_object_set_new(at, "max", json_real(mx));
            cur = emit1(x, nd, "clip", cur, at);
        }
        if (!cur) return FT_EINVAL;
    }
    oval *dyn[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        if (!dyn[k]) continue;
        const char *gop = k ? "min" : "max";
        if ((s = need_op(x, gop))) return s;
        if (dyn[k]->numel != 1) return ox_node_fail(x, FT_EFORMAT, "min and max must be scalars");
        const char *ins[2] = {cur, dyn[k]->node};
        cur = ox_emit(x, gop, ins, 2, NULL, 0, NULL, hint(nd));
        if (!cur) return FT_EINVAL;
    }
    if (a->node && !strcmp(cur, a->node)) cur = emit1(x, nd, "identity", cur, NULL);
    return set_dyn(x, nd, 0, cur, a->ndim, a->shape, OX_FLOAT);
}

/* ---------------- control flow ---------------- */

static ft_status map_if(ox *x, const Onnx__NodeProto *nd) {
    oval *c = ox_in(x, nd, 0);
    const Onnx__AttributeProto *tb = ox_attr(nd, "then_branch"), *eb = ox_attr(nd, "else_branch");
    if (!c || !tb || !eb || !tb->g || !eb->g) return ox_node_fail(x, FT_EFORMAT, "needs a condition and two branches");
    if (x->depth >= 16) return ox_node_fail(x, FT_EUNSUPPORTED, "If nested more than 16 deep");
    if (c->numel != 1) return ox_node_fail(x, FT_ESHAPE, "the condition has %lld elements (one expected)", (long long)c->numel);
    const Onnx__GraphProto *br[2] = {tb->g, eb->g};
    for (int k = 0; k < 2; k++) /* both, even when only one runs: the outputs read either's names */
        if (br[k]->n_output != nd->n_output)
            return ox_node_fail(x, FT_EFORMAT, "%s has %zu outputs, the If has %zu", k ? "else_branch" : "then_branch", br[k]->n_output, nd->n_output);
    bool stat = c->is_const;
    bool take_then = stat && (c->f ? c->f[0] != 0 : c->i[0] != 0);
    ft_status s = FT_OK;
    x->depth++;
    x->in_branch++;
    const Onnx__NodeProto *saved = x->nd;
    for (int k = 0; k < 2 && !s; k++) {
        if (stat && (k == 0) != take_then) continue;
        const Onnx__GraphProto *g = br[k];
        if (g->n_output != nd->n_output) { s = ox_node_fail(x, FT_EFORMAT, "%s has %zu outputs, the If has %zu", k ? "else_branch" : "then_branch", g->n_output, nd->n_output); break; }
        for (size_t i = 0; i < g->n_initializer && !s; i++) {
            const Onnx__TensorProto *t = g->initializer[i];
            if (!t->name || !t->name[0]) { s = ox_node_fail(x, FT_EFORMAT, "a branch initializer has no name"); break; }
            int vi = ox_new_val(x, t->name);
            if (vi < 0) { s = ox_oom(); break; }
            x->v[vi].orig = ORIG_BRANCH;
            char what[300];
            snprintf(what, sizeof what, "branch initializer '%s'", t->name);
            s = ox_tensor_to_val(x, t, what, &x->v[vi]);
        }
        char what[300];
        snprintf(what, sizeof what, "in the %s of If node '%s': ", k ? "else_branch" : "then_branch", hint(nd));
        if (!s) s = ox_run_graph(x, g, what);
        x->nd = saved;
    }
    x->in_branch--;
    x->depth--;
    if (s) return s;
    for (size_t j = 0; j < nd->n_output && !s; j++) {
        if (!nd->output[j][0]) continue;
        const char *tn = br[0]->output[j]->name ? br[0]->output[j]->name : "", *en = br[1]->output[j]->name ? br[1]->output[j]->name : "";
        if (stat) {
            oval *v = ox_val(x, take_then ? tn : en);
            if (!v) return ox_node_fail(x, FT_EFORMAT, "branch output '%s' is not computed", take_then ? tn : en);
            oval o = *v;
            o.name = NULL;
            o.f = NULL;
            o.i = NULL;
            o.param = NULL;
            o.node = NULL;
            size_t n = (size_t)(v->numel ? v->numel : 1);
            if (v->f && (o.f = ft_malloc(n * sizeof(float)))) memcpy(o.f, v->f, (size_t)v->numel * sizeof(float));
            if (v->i && (o.i = ft_malloc(n * sizeof(int64_t)))) memcpy(o.i, v->i, (size_t)v->numel * sizeof(int64_t));
            if (v->node) o.node = ft_strdup(v->node);
            if ((v->f && !o.f) || (v->i && !o.i) || (v->node && !o.node)) return ox_oom();
            if ((s = ox_put(x, nd->output[j], &o))) return s;
            continue;
        }
        /* a data-dependent condition: both branches run, `where` picks per element */
        oval *a = ox_val(x, tn), *b = ox_val(x, en);
        if (!a || !b) return ox_node_fail(x, FT_EFORMAT, "branch output '%s' is not computed", !a ? tn : en);
        if ((s = need_op(x, "where"))) return s;
        int n;
        int64_t sh[OX_MAX_DIMS];
        if ((s = ox_broadcast(x, a->ndim, a->shape, b->ndim, b->shape, &n, sh))) return s;
        oval *v[3] = {c, a, b};
        const char *ins[3], *pars[3];
        int nin, npar;
        if ((s = operands(x, v, 3, ins, &nin, pars, &npar, 0))) return s;
        char h[300];
        snprintf(h, sizeof h, "%s", nd->output[j]);
        s = set_dyn(x, nd, j, ox_emit(x, "where", ins, nin, pars, npar, NULL, h), n, sh, OX_FLOAT);
    }
    return s;
}

/* ---------------- recurrent layers ---------------- */

static bool used(ox *x, const Onnx__NodeProto *nd, size_t j) {
    return j < nd->n_output && nd->output[j][0] && omap_get(&x->consumed, nd->output[j]);
}

static bool nonzero(const oval *v) {
    for (int64_t i = 0; i < v->numel; i++)
        if (v->f ? v->f[i] != 0 : v->i ? v->i[i] != 0 : false) return true;
    return false;
}

/* ---------------- LSTM with peepholes ----------------
 * The lstm op has no peephole weights, so an LSTM with nonzero P runs unrolled over time
 * with ONNX's equations (gate blocks i, o, f, c of W, R and B):
 *   g = x_t W^T + h R^T + Wb + Rb,  i = sigmoid(g_i + P_i c),  f = sigmoid(g_f + P_f c),
 *   c' = f c + i tanh(g_c),  o = sigmoid(g_o + P_o c'),  h' = o tanh(c')
 * from constant initial states (zeros when absent). Per direction W, R, B (summed) and the
 * three peephole vectors are parameters named after the node, trainable as initializers
 * are. At most 64 steps per direction: the graph grows with the sequence. */
static const char *em1(ox *x, const char *op, const char *a, const char *par, json_t *at, const char *h) {
    if (!a) { json_decref(at); return NULL; }
    return ox_emit(x, op, &a, 1, par ? &par : NULL, par ? 1 : 0, at, h);
}

static const char *em2(ox *x, const char *op, const char *a, const char *b, const char *h) {
    const char *ins[2] = {a, b};
    return a && b ? ox_emit(x, op, ins, 2, NULL, 0, NULL, h) : NULL;
}

static ft_status map_lstm_peephole(ox *x, const Onnx__NodeProto *nd, oval *a, oval *w, oval *r, oval *b, oval *sl, oval *h0, oval *c0, oval *pp, int dirs,
                                   bool rev, int layout, int64_t T, int64_t N, int64_t F, int64_t H) {
    ft_status s;
    if ((s = need_op(x, "slice")) || (s = need_op(x, "permute")) || (s = need_op(x, "concat")) || (s = need_op(x, "sigmoid"))) return s;
    if (!pp->is_const || !pp->f || pp->numel != dirs * 3 * H) return ox_unsupported(x, "peepholes that are not a constant [directions, 3*hidden]");
    if (T > 64) return ox_unsupported(x, "an LSTM with peepholes longer than 64 steps (it runs unrolled)");
    if (sl) {
        if (!sl->is_const || !sl->i) return ox_unsupported(x, "sequence_lens that depend on the data");
        for (int64_t i = 0; i < sl->numel; i++)
            if (sl->i[i] != T) return ox_unsupported(x, "sequence_lens shorter than the sequence");
    }
    oval *st0[2] = {h0, c0};
    bool nz[2] = {false, false};
    for (int k = 0; k < 2; k++) {
        if (!st0[k]) continue;
        if (!st0[k]->is_const || !st0[k]->f || st0[k]->numel != dirs * N * H) return ox_unsupported(x, "computed initial states");
        for (int64_t i = 0; i < st0[k]->numel; i++) nz[k] |= st0[k]->f[i] != 0;
    }
    if (layout && (nz[0] || nz[1])) return ox_unsupported(x, "nonzero initial states of a layout-1 LSTM with peepholes");
    bool train = w->orig != ORIG_CONST || x->o.promote_constants;
    char base[200], h[300];
    snprintf(base, sizeof base, "%s", hint(nd));
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    if (!layout) {
        snprintf(h, sizeof h, "%s.batch_first", base);
        if (!(in = em1(x, "permute", in, NULL, json_pack("{s:[i,i,i]}", "dims", 1, 0, 2), h))) return FT_EINVAL;
    }
    const char *ys[2], *hs[2], *cs[2], *steps[64];
    float *tmp = ft_malloc((size_t)(4 * H * (F > H ? F : H) + 4 * H) * sizeof(float));
    if (!tmp) return ox_oom();
    s = FT_OK;
    for (int d = 0; d < dirs && !s; d++) {
        const char *sfx = d ? "_reverse" : "", *pw, *pr, *pb, *pi, *po, *pf, *hp = NULL, *cp = NULL;
        int64_t sw[2] = {4 * H, F}, sr[2] = {4 * H, H}, g4 = 4 * H;
        snprintf(h, sizeof h, "%s.W%s", base, sfx);
        pw = ox_declare(x, h, 2, sw, w->f + d * 4 * H * F, train);
        snprintf(h, sizeof h, "%s.R%s", base, sfx);
        pr = pw ? ox_declare(x, h, 2, sr, r->f + d * 4 * H * H, train) : NULL;
        for (int64_t k = 0; k < 4 * H; k++) tmp[k] = b ? b->f[d * 8 * H + k] + b->f[d * 8 * H + 4 * H + k] : 0.0f;
        snprintf(h, sizeof h, "%s.B%s", base, sfx);
        pb = pr ? ox_declare(x, h, 1, &g4, tmp, train) : NULL;
        const char **pv[3] = {&pi, &po, &pf};
        static const char *pn[3] = {"P_i", "P_o", "P_f"};
        for (int k = 0; k < 3; k++) {
            snprintf(h, sizeof h, "%s.%s%s", base, pn[k], sfx);
            *pv[k] = pb ? ox_declare(x, h, 1, &H, pp->f + d * 3 * H + k * H, train) : NULL;
            pb = *pv[k] ? pb : NULL;
        }
        if (!pb) { s = FT_EUNSUPPORTED; break; }
        int64_t s2[2] = {N, H};
        for (int k = 0; k < 2; k++) {
            if (!nz[k]) continue;
            snprintf(h, sizeof h, "%s.initial_%s%s", base, k ? "c" : "h", sfx);
            const char *p = ox_declare(x, h, 2, s2, st0[k]->f + d * N * H, false);
            const char *v = p ? ox_emit(x, "identity", NULL, 0, &p, 1, NULL, h) : NULL;
            if (!v) { s = FT_EINVAL; break; }
            if (k) cp = v;
            else hp = v;
        }
        snprintf(h, sizeof h, "%s.xw%s", base, sfx);
        const char *ps2[2] = {pw, pb};
        const char *xw = ox_emit(x, "linear", &in, 1, ps2, 2, NULL, h);
        for (int64_t k = 0; k < T && xw && !s; k++) {
            int64_t t = (d == 1 || rev) ? T - 1 - k : k;
            char p0[240];
            snprintf(p0, sizeof p0, "%s%s.t%lld", base, sfx, (long long)t);
#define H_(what) (snprintf(h, sizeof h, "%s.%s", p0, what), h)
            const char *g = em1(x, "slice", xw, NULL, json_pack("{s:i, s:I, s:I}", "dim", 1, "start", t, "end", t + 1), H_("x"));
            g = em1(x, "reshape", g, NULL, json_pack("{s:[I]}", "shape", 4 * H), H_("x"));
            if (hp) g = em2(x, "add", g, em1(x, "linear", hp, pr, NULL, H_("hr")), H_("gates"));
            const char *gt[4];
            for (int q = 0; q < 4; q++) gt[q] = em1(x, "slice", g, NULL, json_pack("{s:i, s:I, s:I}", "dim", 1, "start", q * H, "end", (q + 1) * H), H_("gate"));
            if (cp) {
                gt[0] = em2(x, "add", gt[0], em1(x, "mul", cp, pi, NULL, H_("peep_i")), H_("i_in"));
                gt[2] = em2(x, "add", gt[2], em1(x, "mul", cp, pf, NULL, H_("peep_f")), H_("f_in"));
            }
            const char *ig = em1(x, "sigmoid", gt[0], NULL, NULL, H_("i"));
            const char *ic = em2(x, "mul", ig, em1(x, "tanh", gt[3], NULL, NULL, H_("g")), H_("ig"));
            const char *c = cp ? em2(x, "add", em2(x, "mul", em1(x, "sigmoid", gt[2], NULL, NULL, H_("f")), cp, H_("fc")), ic, H_("c")) : ic;
            const char *o = em1(x, "sigmoid", em2(x, "add", gt[1], em1(x, "mul", c, po, NULL, H_("peep_o")), H_("o_in")), NULL, NULL, H_("o"));
            const char *hh = em2(x, "mul", o, em1(x, "tanh", c, NULL, NULL, H_("tanh_c")), H_("h"));
#undef H_
            if (!hh) { s = FT_EINVAL; break; }
            steps[t] = hh;
            hp = hh;
            cp = c;
        }
        if (s || !xw) { s = s ? s : FT_EINVAL; break; }
        const char *col[64];
        for (int64_t t = 0; t < T && !s; t++) {
            snprintf(h, sizeof h, "%s%s.y%lld", base, sfx, (long long)t);
            if (!(col[t] = em1(x, "reshape", steps[t], NULL, json_pack("{s:[I,I]}", "shape", (json_int_t)1, H), h))) s = FT_EINVAL;
        }
        snprintf(h, sizeof h, "%s.y%s", base, sfx);
        ys[d] = s ? NULL : T == 1 ? col[0] : ox_emit(x, "concat", col, (int)T, NULL, 0, json_pack("{s:i}", "dim", 1), h);
        if (!ys[d]) s = FT_EINVAL;
        hs[d] = hp;
        cs[d] = cp;
    }
    ft_free(tmp);
    if (s) return s;
    /* Y [T, dirs, N, H] (layout 0) or [N, T, dirs, H]; Y_h, Y_c [dirs, N, H] or [N, dirs, H] */
    if (used(x, nd, 0)) {
        snprintf(h, sizeof h, "%s.Y", base);
        const char *y = dirs == 2 ? ox_emit(x, "concat", ys, 2, NULL, 0, json_pack("{s:i}", "dim", 2), h) : ys[0];
        y = em1(x, "reshape", y, NULL, json_pack("{s:[I,I,I]}", "shape", T, (json_int_t)dirs, H), h);
        int64_t sh[4] = {T, dirs, N, H};
        if (!layout) y = em1(x, "permute", y, NULL, json_pack("{s:[i,i,i,i]}", "dims", 1, 2, 0, 3), h);
        else { sh[0] = N; sh[1] = T; sh[2] = dirs; }
        if ((s = set_dyn(x, nd, 0, y, 4, sh, OX_FLOAT))) return s;
    }
    for (int k = 1; k <= 2; k++) {
        if (!used(x, nd, (size_t)k)) continue;
        const char **src = k == 1 ? hs : cs;
        if (!src[0]) return ox_unsupported(x, "the cell state of a step-less LSTM");
        snprintf(h, sizeof h, "%s.Y_%s", base, k == 1 ? "h" : "c");
        const char *f = dirs == 2 ? ox_emit(x, "concat", src, 2, NULL, 0, json_pack("{s:i}", "dim", 1), h) : src[0];
        f = em1(x, "reshape", f, NULL, json_pack("{s:[I,I]}", "shape", (json_int_t)dirs, H), h);
        int64_t sh[3] = {dirs, N, H};
        if (!layout) {
            f = em1(x, "permute", f, NULL, json_pack("{s:[i,i,i]}", "dims", 1, 0, 2), h);
            x->fixed_batch = true;
        } else { sh[0] = N; sh[1] = dirs; }
        if ((s = set_dyn(x, nd, (size_t)k, f, 3, sh, OX_FLOAT))) return s;
    }
    return FT_OK;
}

/* finetune's ONNX export keeps a recurrent weight (or bias) in PyTorch's gate order under its
 * own name, and reorders the gate blocks with nodes: v = Reshape(Gather(Reshape(P, blocks),
 * onnx_order, axis 0), [1, ...]). The initializer P's name when v is that (so an export ->
 * import round trip keeps the parameter names), else NULL. */
static const char *pytorch_gates_source(ox *x, const char *v, int G, const int *onnx_order) {
    const Onnx__NodeProto *r2 = producer(x, v), *ga = NULL, *r1 = NULL;
    if (!r2 || strcmp(r2->op_type, "Reshape") || r2->n_input < 1) return NULL;
    if (!(ga = producer(x, r2->input[0])) || strcmp(ga->op_type, "Gather") || ga->n_input != 2 || ox_attr_i(ga, "axis", 0) != 0) return NULL;
    const oval *idx = ox_val(x, ga->input[1]);
    if (!idx || !idx->is_const || !idx->i || idx->numel != G) return NULL;
    for (int k = 0; k < G; k++)
        if (idx->i[k] != onnx_order[k]) return NULL;
    if (!(r1 = producer(x, ga->input[0])) || strcmp(r1->op_type, "Reshape") || r1->n_input < 1) return NULL;
    const oval *src = ox_val(x, r1->input[0]);
    return src && src->is_const && src->orig == ORIG_INIT ? src->name : NULL;
}

/* ONNX LSTM (gates i, o, f, c) / GRU (z, r, h) -> the graph's lstm / gru (PyTorch's i, f, g, o
 * / r, z, n): rows reordered, split per direction into PyTorch's parameter names. */
static ft_status map_rnn(ox *x, const Onnx__NodeProto *nd, bool lstm) {
    oval *a = ox_in(x, nd, 0), *w = ox_in(x, nd, 1), *r = ox_in(x, nd, 2), *b = ox_in(x, nd, 3), *sl = ox_in(x, nd, 4),
         *h0 = ox_in(x, nd, 5), *c0 = lstm ? ox_in(x, nd, 6) : NULL, *pp = lstm ? ox_in(x, nd, 7) : NULL;
    if (!a || !w || !r) return ox_node_fail(x, FT_EFORMAT, "needs X, W and R");
    const char *gop = lstm ? "lstm" : "gru";
    ft_status s = need_op(x, gop);
    if (s) return s;
    if (!w->is_const || !r->is_const || (b && !b->is_const) || !w->f || !r->f || (b && !b->f)) return ox_unsupported(x, "computed weights");
    char buf[32];
    const char *dir = ox_attr_s(nd, "direction", "forward", buf, sizeof buf);
    int dirs = !strcmp(dir, "bidirectional") ? 2 : 1;
    bool rev = !strcmp(dir, "reverse");
    if (strcmp(dir, "forward") && strcmp(dir, "reverse") && dirs != 2) return ox_node_fail(x, FT_EFORMAT, "direction '%s'", dir);
    if (ox_attr(nd, "clip")) return ox_unsupported(x, "cell clipping");
    if (ox_attr_i(nd, "input_forget", 0)) return ox_unsupported(x, "input_forget");
    const Onnx__AttributeProto *acts = ox_attr(nd, "activations");
    if (acts) {
        static const char *want_l[] = {"Sigmoid", "Tanh", "Tanh"}, *want_g[] = {"Sigmoid", "Tanh"};
        int per = lstm ? 3 : 2;
        for (size_t k = 0; k < acts->n_strings; k++) {
            const char *wn = lstm ? want_l[k % per] : want_g[k % per];
            if (acts->strings[k].len != strlen(wn) || strncasecmp((const char *)acts->strings[k].data, wn, acts->strings[k].len))
                return ox_unsupported(x, "activations other than the defaults");
        }
    }
    int layout = (int)ox_attr_i(nd, "layout", 0);
    if (a->ndim != 3) return ox_node_fail(x, FT_ESHAPE, "X must be 3-D");
    int64_t T = layout ? a->shape[1] : a->shape[0], N = layout ? a->shape[0] : a->shape[1], F = a->shape[2];
    int G = lstm ? 4 : 3;
    int64_t H = ox_attr_i(nd, "hidden_size", r->ndim == 3 ? r->shape[2] : 0);
    if (H < 1 || w->ndim != 3 || w->shape[0] != dirs || w->shape[1] != G * H || w->shape[2] != F || r->ndim != 3 || r->shape[0] != dirs ||
        r->shape[1] != G * H || r->shape[2] != H || (b && (b->ndim != 2 || b->shape[0] != dirs || b->shape[1] != 2 * G * H)))
        return ox_node_fail(x, FT_ESHAPE, "W, R or B do not match hidden_size %lld, %d direction(s) and %lld input features", (long long)H, dirs, (long long)F);
    if (lstm && pp && (!pp->is_const || !pp->f || pp->numel != dirs * 3 * H || nonzero(pp)))
        return map_lstm_peephole(x, nd, a, w, r, b, sl, h0, c0, pp, dirs, rev, layout, T, N, F, H);
    /* initial states: constants [dirs, N, H] (layout 1: [N, dirs, H]); all zeros is the default */
    oval *st[2] = {h0, c0};
    bool has_state = false;
    for (int k = 0; k < 2; k++) {
        oval *v = st[k];
        if (!v) continue;
        if (!v->is_const) return ox_unsupported(x, "computed initial states (only constants, initializers and bound inputs)");
        if (!v->f) return ox_node_fail(x, FT_EUNSUPPORTED, "initial_%c '%s' has type %s", k ? 'c' : 'h', v->name, ox_type_name(v->dt));
        int64_t want[3] = {layout ? N : dirs, layout ? dirs : N, H};
        if (v->ndim != 3 || v->shape[0] != want[0] || v->shape[1] != want[1] || v->shape[2] != want[2])
            return ox_node_fail(x, FT_ESHAPE, "initial_%c '%s' must be [%lld, %lld, %lld]", k ? 'c' : 'h', v->name, (long long)want[0],
                                (long long)want[1], (long long)want[2]);
        for (int64_t i = 0; i < v->numel; i++) has_state |= v->f[i] != 0;
    }
    if (sl) {
        if (!sl->is_const || !sl->i) return ox_unsupported(x, "sequence_lens that depend on the data");
        for (int64_t i = 0; i < sl->numel; i++)
            if (sl->i[i] != T) return ox_unsupported(x, "sequence_lens shorter than the sequence");
    }
    bool need_c = lstm && used(x, nd, 2);
    /* parameters: per direction weight_ih, weight_hh, bias_ih, bias_hh */
    static const int lstm_order[4] = {0, 2, 3, 1}, gru_order[3] = {1, 0, 2};
    const int *ord = lstm ? lstm_order : gru_order;
    char base[200], nm[300];
    snprintf(base, sizeof base, "%s", hint(nd));
    const char *pars[10];
    bool train = w->orig != ORIG_CONST || x->o.promote_constants;
    int np = 0;
    /* nonzero initial states: parameters <node>.h0 (and .c0) [B, dirs, H] after x, the graph's
     * batch-first layout; B = 1 when every example starts from the same state */
    for (int k = 0; has_state && k < (lstm ? 2 : 1) && !s; k++) {
        oval *v = st[k];
        int64_t B = 1;
        for (int64_t n = 1; v && n < N && B == 1; n++)
            for (int d = 0; d < dirs && B == 1; d++)
                for (int64_t j = 0; j < H; j++) {
                    int64_t a0 = layout ? (0 * dirs + d) * H + j : (d * N + 0) * H + j, an = layout ? (n * dirs + d) * H + j : (d * N + n) * H + j;
                    if (v->f[an] != v->f[a0]) { B = N; break; }
                }
        float *t = ft_calloc((size_t)(B * dirs * H), sizeof(float));
        if (!t) return ox_oom();
        for (int64_t n = 0; v && n < B; n++)
            for (int d = 0; d < dirs; d++)
                for (int64_t j = 0; j < H; j++) t[(n * dirs + d) * H + j] = v->f[layout ? (n * dirs + d) * H + j : (d * N + n) * H + j];
        if (B > 1) x->fixed_batch = true; /* a state per example: the graph runs at this batch only */
        bool tr = v && (v->orig == ORIG_INIT || v->orig == ORIG_BRANCH || (v->orig == ORIG_CONST && x->o.promote_constants));
        char pn[300];
        snprintf(pn, sizeof pn, "%s.%s", hint(nd), k ? "c0" : "h0");
        int64_t ssh[3] = {B, dirs, H};
        if (!(pars[np++] = ox_declare(x, pn, 3, ssh, t, tr))) s = FT_EUNSUPPORTED;
        ft_free(t);
    }
    if (s) return s;
    /* weights finetune exported: their own names (one direction per node) */
    const char *own[4] = {NULL, NULL, NULL, NULL};
    if (dirs == 1) {
        static const int lstm_back[4] = {0, 3, 1, 2}, gru_back[3] = {1, 0, 2}; /* ONNX's gate k <- PyTorch's */
        const int *back = lstm ? lstm_back : gru_back;
        own[0] = pytorch_gates_source(x, nd->input[1], G, back);
        own[1] = pytorch_gates_source(x, nd->input[2], G, back);
        const Onnx__NodeProto *cb = b ? producer(x, nd->input[3]) : NULL;
        if (own[0] && own[1] && cb && !strcmp(cb->op_type, "Concat") && cb->n_input == 2) {
            own[2] = pytorch_gates_source(x, cb->input[0], G, back);
            own[3] = pytorch_gates_source(x, cb->input[1], G, back);
        }
    }
    float *tmp = ft_malloc((size_t)(G * H * (F > H ? F : H)) * sizeof(float));
    if (!tmp) return ox_oom();
    for (int d = 0; d < dirs && !s; d++) {
        const char *sfx = d ? "_reverse" : "";
        for (int k = 0; k < 4 && !s; k++) {
            const oval *src = k == 0 ? w : k == 1 ? r : b;
            int64_t cols = k == 0 ? F : k == 1 ? H : 1;
            for (int gi = 0; gi < G; gi++) {
                if (src)
                    for (int64_t row = 0; row < H; row++)
                        for (int64_t c = 0; c < cols; c++) {
                            int64_t srow = (int64_t)ord[gi] * H + row;
                            tmp[((int64_t)gi * H + row) * cols + c] =
                                k < 2 ? src->f[((int64_t)d * G * H + srow) * cols + c] : src->f[(int64_t)d * 2 * G * H + (k == 3 ? G * H : 0) + srow];
                        }
                else
                    for (int64_t row = 0; row < H * cols; row++) tmp[(int64_t)gi * H * cols + row] = 0;
            }
            static const char *pn[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
            if (own[k]) snprintf(nm, sizeof nm, "%s", own[k]);
            else snprintf(nm, sizeof nm, "%s.%s_l0%s", base, pn[k], sfx);
            int64_t sh[2] = {G * H, cols};
            if (!(pars[np++] = ox_declare(x, nm, k < 2 ? 2 : 1, sh, tmp, train))) s = FT_EUNSUPPORTED;
        }
    }
    ft_free(tmp);
    if (s) return s;
    /* run batch-first: [T,N,F] -> [N,T,F] */
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    char h[300];
    if (!layout) {
        snprintf(h, sizeof h, "%s.batch_first", base);
        in = ox_emit(x, "permute", &in, 1, NULL, 0, json_pack("{s:[i,i,i]}", "dims", 1, 0, 2), h);
        if (!in) return FT_EINVAL;
    }
    json_t *at = json_pack("{s:I, s:b}", "hidden_size", H, "bidirectional", dirs == 2);
    if (rev) json_object_set_new(at, "reverse", json_true());
    if (need_c) json_object_set_new(at, "cell_output", json_true());
    if (!lstm) json_object_set_new(at, "linear_before_reset", json_boolean(ox_attr_i(nd, "linear_before_reset", 0) != 0));
    if (has_state) json_object_set_new(at, "initial_state", json_true());
    const char *y = ox_emit(x, gop, &in, 1, pars, np, at, base);
    if (!y) return FT_EINVAL;
    int64_t W = dirs * H;
    const char *yh = y, *yc = NULL;
    if (need_c) { /* [h_f, h_b, c_f, c_b]: split */
        snprintf(h, sizeof h, "%s.h", base);
        yh = ox_emit(x, "slice", &y, 1, NULL, 0, json_pack("{s:i, s:i, s:I}", "dim", 2, "start", 0, "end", W), h);
        if (!yh) return FT_EINVAL;
    }
    /* Y: [N,T,dirs*H] -> [N,T,dirs,H] -> [T,dirs,N,H] (layout 0) or [N,T,dirs,H] (layout 1) */
    if (used(x, nd, 0)) {
        snprintf(h, sizeof h, "%s.Y", base);
        const char *t = ox_emit(x, "reshape", &yh, 1, NULL, 0, json_pack("{s:[I,I,I]}", "shape", T, (json_int_t)dirs, H), h);
        int64_t sh[4] = {T, dirs, N, H};
        if (t && !layout) {
            snprintf(h, sizeof h, "%s.Y_tdnh", base);
            t = ox_emit(x, "permute", &t, 1, NULL, 0, json_pack("{s:[i,i,i,i]}", "dims", 1, 2, 0, 3), h);
        }
        if (layout) { sh[0] = N; sh[1] = T; sh[2] = dirs; }
        if ((s = set_dyn(x, nd, 0, t, 4, sh, OX_FLOAT))) return s;
    }
    /* Y_h, Y_c: the final states [dirs, N, H] (layout 0) or [N, dirs, H] */
    for (int k = 1; k <= 2; k++) {
        if (!used(x, nd, (size_t)k)) continue;
        if ((s = need_op(x, "rnn_final"))) return s;
        snprintf(h, sizeof h, "%s.final", base);
        json_t *fa = json_pack("{s:I, s:b}", "hidden_size", H, "bidirectional", dirs == 2);
        if (rev) json_object_set_new(fa, "reverse", json_true());
        const char *f = ox_emit(x, "rnn_final", &y, 1, NULL, 0, fa, h);
        if (f && need_c) {
            snprintf(h, sizeof h, "%s.final_%s", base, k == 1 ? "h" : "c");
            f = ox_emit(x, "slice", &f, 1, NULL, 0, json_pack("{s:i, s:I, s:I}", "dim", 1, "start", k == 1 ? 0 : W, "end", k == 1 ? W : 2 * W), h);
        }
        snprintf(h, sizeof h, "%s.Y_%s", base, k == 1 ? "h" : "c");
        if (f) f = ox_emit(x, "reshape", &f, 1, NULL, 0, json_pack("{s:[I,I]}", "shape", (json_int_t)dirs, H), h);
        int64_t sh[3] = {dirs, N, H};
        if (f && !layout) {
            snprintf(h, sizeof h, "%s.Y_%s_dnh", base, k == 1 ? "h" : "c");
            f = ox_emit(x, "permute", &f, 1, NULL, 0, json_pack("{s:[i,i,i]}", "dims", 1, 0, 2), h);
            x->fixed_batch = true; /* dim 0 is no longer the batch */
        }
        if (layout) { sh[0] = N; sh[1] = dirs; }
        if ((s = set_dyn(x, nd, (size_t)k, f, 3, sh, OX_FLOAT))) return s;
    }
    (void)yc;
    return FT_OK;
}

/* ---------------- Erf GELU ----------------
 * Exporters spell GELU (before opset 20) as x * 0.5 * (1 + Erf(x / sqrt(2))): Div(x, 1.414..)
 * or Mul(x, 0.7071..), Erf, Add 1, then Mul by x and Mul by 0.5 in either order (or x * 0.5
 * computed first). Matched at the Erf node when each intermediate has one reader; the
 * pattern becomes one `gelu`. */

static const Onnx__NodeProto *producer(ox *x, const char *name) {
    const Onnx__GraphProto *g = x->cur_graph;
    for (size_t i = 0; g && i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_output; j++)
            if (!strcmp(g->node[i]->output[j], name)) return g->node[i];
    return NULL;
}

/* the only reader of name in the current graph (NULL when none, several or a graph output) */
static const Onnx__NodeProto *sole_reader(ox *x, const char *name) {
    int *c = omap_get(&x->consumed, name);
    if (!c || *c != 1) return NULL;
    const Onnx__GraphProto *g = x->cur_graph;
    for (size_t i = 0; g && i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_input; j++)
            if (!strcmp(g->node[i]->input[j], name)) return g->node[i]->n_output == 1 ? g->node[i] : NULL; /* callers read output[0] */
    return NULL;
}

static bool const_near(ox *x, const char *name, double want) {
    oval *v = ox_val(x, name);
    if (!v) { /* a Constant node not run yet */
        const Onnx__NodeProto *p = producer(x, name);
        if (!p || op_cmp(p, "Constant")) return false;
        const Onnx__AttributeProto *a = ox_attr(p, "value");
        if (!a || !a->t || a->t->data_type != OX_FLOAT) return false;
        float f;
        if (a->t->has_raw_data && a->t->raw_data.len == 4) memcpy(&f, a->t->raw_data.data, 4);
        else if (a->t->n_float_data == 1) f = a->t->float_data[0];
        else return false;
        return fabs(f - want) <= 1e-4 * fabs(want);
    }
    return v->is_const && v->numel == 1 && v->f && fabs(v->f[0] - want) <= 1e-4 * fabs(want);
}

/* the other input of a binary node (the one that is not `name`) */
static const char *other(const Onnx__NodeProto *nd, const char *name) {
    if (nd->n_input != 2) return NULL;
    return !strcmp(nd->input[0], name) ? nd->input[1] : !strcmp(nd->input[1], name) ? nd->input[0] : NULL;
}

static ft_status try_gelu(ox *x, const Onnx__NodeProto *erf, bool *done) {
    *done = false;
    if (!ox_op_known("gelu") || erf->n_input != 1 || erf->n_output != 1) return FT_OK;
    const Onnx__NodeProto *sc = producer(x, erf->input[0]);
    if (!sc || sc->n_input != 2) return FT_OK;
    const char *xin = sc->input[0];
    bool div = !op_cmp(sc, "Div") && const_near(x, sc->input[1], 1.4142135623730951);
    bool mul = !op_cmp(sc, "Mul") && (const_near(x, sc->input[1], 0.7071067811865476) ||
                                              (const_near(x, sc->input[0], 0.7071067811865476) && (xin = sc->input[1])));
    oval *xv = ox_val(x, xin);
    if ((!div && !mul) || !xv || xv->is_const) return FT_OK;
    const Onnx__NodeProto *add = sole_reader(x, erf->output[0]);
    if (!add || op_cmp(add, "Add") || !other(add, erf->output[0]) || !const_near(x, other(add, erf->output[0]), 1.0)) return FT_OK;
    const Onnx__NodeProto *m1 = sole_reader(x, add->output[0]);
    if (!m1 || op_cmp(m1, "Mul")) return FT_OK;
    const char *o1 = other(m1, add->output[0]);
    const Onnx__NodeProto *last = NULL, *half = NULL;
    if (o1 && !strcmp(o1, xin)) { /* (x * (1 + erf)) * 0.5 */
        last = sole_reader(x, m1->output[0]);
        if (!last || op_cmp(last, "Mul") || !other(last, m1->output[0]) || !const_near(x, other(last, m1->output[0]), 0.5)) return FT_OK;
    } else if (o1) { /* (x * 0.5) * (1 + erf) */
        half = producer(x, o1);
        int *c = omap_get(&x->consumed, o1);
        if (!half || op_cmp(half, "Mul") || !c || *c != 1 || !other(half, xin) || !const_near(x, other(half, xin), 0.5)) return FT_OK;
        last = m1;
    } else return FT_OK;
    /* emit gelu(x) as the last node's output; skip the rest */
    const char *in = lift(x, xv);
    if (!in) return FT_EUNSUPPORTED;
    const char *g = ox_emit(x, "gelu", &in, 1, NULL, 0, NULL, last->name && last->name[0] ? last->name : last->output[0]);
    if (!g) return FT_EINVAL;
    oval o;
    memset(&o, 0, sizeof o);
    o.dt = OX_FLOAT;
    o.ndim = xv->ndim;
    memcpy(o.shape, xv->shape, sizeof o.shape);
    if (!(o.node = ft_strdup(g))) return ox_oom();
    ft_status s = ox_put(x, last->output[0], &o);
    const Onnx__NodeProto *sk[4] = {add, m1, last, half};
    for (int k = 0; k < 4 && !s; k++)
        if (sk[k] && sk[k]->n_output) s = omap_put(&x->skip, sk[k]->output[0], 1);
    *done = !s;
    return s;
}

/* ---------------- pools by strided slices ----------------
 * The forms the pool ops cannot run (dilations, 3-D pools, MaxPool's Indices output) as
 * strided slices of the padded input: window offset j along a spatial dim is the slice
 * that starts at j*dilation with step stride. Max and average are separable, so the values
 * take sum_d k_d slices per dim in turn (max: -3e38 padding; average: zero padding, then a
 * constant 1/count per output position, count_include_pad as torch and the pool ops). The
 * Indices output compares the window offsets in row-major order (the first maximum wins)
 * and carries each offset's flat input index (n, c and the spatial position in the
 * storage_order) as a constant; it depends on the batch size. */
static const char *slice_win(ox *x, const char *in, int dim, int64_t dimlen, int64_t start, int64_t n, int64_t step, const char *h) {
    int64_t end = start + (n - 1) * step + 1;
    if (start == 0 && step == 1 && end == dimlen) return in;
    return ox_emit(x, "slice", &in, 1, NULL, 0, json_pack("{s:i, s:I, s:I, s:I}", "dim", dim, "start", start, "end", end, "step", step), h);
}

static ft_status pool_by_slices(ox *x, const Onnx__NodeProto *nd, oval *a, int ns, const int64_t *k, const int64_t *st, const int64_t *dl,
                                const int64_t *pb, const int64_t *pe, const int64_t *sh, bool avg, bool cip, bool want_idx) {
    int r = a->ndim;
    ft_status s;
    if ((s = need_op(x, "slice")) || (s = need_op(x, "pad")) || (s = need_op(x, avg ? "mul" : "max")) ||
        (want_idx && ((s = need_op(x, "greater")) || (s = need_op(x, "where")))))
        return s;
    int64_t nwin = 1, sumk = 0;
    for (int d = 0; d < ns; d++) { nwin *= k[d]; sumk += k[d]; }
    if (sumk > 256 || (want_idx && nwin > 256)) return ox_unsupported(x, "a dilated, 3-D or indexed pool window of more than 256 elements");
    const char *cur = lift(x, a);
    if (!cur) return FT_EUNSUPPORTED;
    char h[300];
    /* pad (or crop) each spatial dim to exactly what the windows read */
    int64_t pads[2 * OX_MAX_DIMS] = {0}, len[3];
    bool any = false;
    for (int d = 0; d < ns; d++) {
        len[d] = (sh[2 + d] - 1) * st[d] + (k[d] - 1) * dl[d] + 1;
        pads[2 + d] = pb[d];
        pads[r + 2 + d] = len[d] - a->shape[2 + d] - pb[d];
        any |= pads[2 + d] || pads[r + 2 + d];
    }
    if (any) {
        snprintf(h, sizeof h, "%s.padded", hint(nd));
        cur = ox_emit(x, "pad", &cur, 1, NULL, 0, json_pack("{s:o, s:f}", "pads", ints_json(2 * r, pads), "value", avg ? 0.0 : -3.0e38), h);
        if (!cur) return FT_EINVAL;
    }
    if (!want_idx) {
        for (int d = 0; d < ns; d++) {
            const char *acc = NULL;
            for (int64_t j = 0; j < k[d]; j++) {
                snprintf(h, sizeof h, "%s.d%d_%lld", hint(nd), d, (long long)j);
                const char *c = slice_win(x, cur, 2 + d, len[d], j * dl[d], sh[2 + d], st[d], h);
                if (!c) return FT_EINVAL;
                if (acc) {
                    const char *two[2] = {acc, c};
                    snprintf(h, sizeof h, "%s.d%d", hint(nd), d);
                    acc = ox_emit(x, avg ? "add" : "max", two, 2, NULL, 0, NULL, h);
                    if (!acc) return FT_EINVAL;
                } else acc = c;
            }
            cur = acc;
        }
        if (avg) {
            int64_t on = 1;
            for (int d = 0; d < ns; d++) on *= sh[2 + d];
            float *inv = ft_malloc((size_t)on * sizeof(float));
            if (!inv) return ox_oom();
            for (int64_t i = 0; i < on; i++) {
                int64_t rem = i, cnt = 1;
                for (int d = ns - 1; d >= 0; d--) {
                    int64_t o = rem % sh[2 + d], c = 0;
                    rem /= sh[2 + d];
                    for (int64_t j = 0; j < k[d]; j++) {
                        int64_t pos = o * st[d] - pb[d] + j * dl[d];
                        c += cip ? pos >= -pb[d] && pos < a->shape[2 + d] + pe[d] : pos >= 0 && pos < a->shape[2 + d];
                    }
                    cnt *= c;
                }
                inv[i] = cnt ? 1.0f / (float)cnt : 0.0f;
            }
            snprintf(h, sizeof h, "%s.inv_count", hint(nd));
            const char *p = ox_declare(x, h, ns, sh + 2, inv, false);
            ft_free(inv);
            if (!p) return FT_EUNSUPPORTED;
            cur = ox_emit(x, "mul", &cur, 1, &p, 1, NULL, hint(nd));
        } else if (a->node && !strcmp(cur, a->node)) cur = emit1(x, nd, "identity", cur, NULL);
        return set_dyn(x, nd, 0, cur, r, sh, OX_FLOAT);
    }
    /* values and indices over every window offset */
    int64_t so = ox_attr_i(nd, "storage_order", 0), plane = 1, sstr[3], on = sh[0] * sh[1];
    for (int d = 0; d < ns; d++) { plane *= a->shape[2 + d]; on *= sh[2 + d]; }
    if (sh[0] * sh[1] * plane > ((int64_t)1 << 24)) return ox_unsupported(x, "indices beyond 2^24 (not exact as float32)");
    for (int d = 0; d < ns; d++) {
        int64_t m = 1;
        for (int e = 0; e < ns; e++)
            if (so ? e < d : e > d) m *= a->shape[2 + e];
        sstr[d] = m;
    }
    float *idx = ft_malloc((size_t)on * sizeof(float));
    if (!idx) return ox_oom();
    const char *bv = NULL, *bi = NULL;
    s = FT_OK;
    for (int64_t w = 0; w < nwin && !s; w++) {
        int64_t j[3], rem = w;
        for (int d = ns - 1; d >= 0; d--) { j[d] = rem % k[d]; rem /= k[d]; }
        const char *c = cur;
        for (int d = 0; d < ns && c; d++) {
            snprintf(h, sizeof h, "%s.win%lld", hint(nd), (long long)w);
            c = slice_win(x, c, 2 + d, len[d], j[d] * dl[d], sh[2 + d], st[d], h);
        }
        for (int64_t i = 0; i < on; i++) {
            int64_t rm = i, off = 0;
            bool in = true;
            for (int d = ns - 1; d >= 0; d--) {
                int64_t pos = (rm % sh[2 + d]) * st[d] - pb[d] + j[d] * dl[d];
                rm /= sh[2 + d];
                in &= pos >= 0 && pos < a->shape[2 + d];
                off += pos * sstr[d];
            }
            idx[i] = in ? (float)(rm * plane + off) : 0.0f; /* rm = n * C + c */
        }
        snprintf(h, sizeof h, "%s.index%lld", hint(nd), (long long)w);
        const char *p = ox_declare(x, h, r, sh, idx, false);
        const char *ic = p ? ox_emit(x, "identity", NULL, 0, &p, 1, NULL, h) : NULL;
        if (!c || !ic) { s = p ? FT_EINVAL : FT_EUNSUPPORTED; break; }
        if (!bv) { bv = c; bi = ic; continue; }
        const char *gi[2] = {c, bv};
        snprintf(h, sizeof h, "%s.gt%lld", hint(nd), (long long)w);
        const char *gt = ox_emit(x, "greater", gi, 2, NULL, 0, NULL, h);
        const char *wi[3] = {gt, ic, bi};
        snprintf(h, sizeof h, "%s.argmax%lld", hint(nd), (long long)w);
        bi = gt ? ox_emit(x, "where", wi, 3, NULL, 0, NULL, h) : NULL;
        snprintf(h, sizeof h, "%s.max%lld", hint(nd), (long long)w);
        bv = bi ? ox_emit(x, "max", gi, 2, NULL, 0, NULL, h) : NULL;
        if (!bv) s = FT_EINVAL;
    }
    ft_free(idx);
    if (s) return s;
    if (a->node && !strcmp(bv, a->node)) bv = emit1(x, nd, "identity", bv, NULL);
    x->fixed_batch = true;
    if ((s = set_dyn(x, nd, 0, bv, r, sh, OX_FLOAT))) return s;
    return set_dyn(x, nd, 1, bi, r, sh, OX_INT64);
}

/* ---------------- ConvTranspose ---------------- */

static int64_t floordiv2(int64_t v) { return v >= 0 ? v / 2 : -((1 - v) / 2); }

/* 3-D as 2-D transposed convolutions over (H, W), one per kernel depth kd: the input's
 * depth is upsampled by the stride (zeros between the slices), each depth slice runs
 * conv_transpose2d with W[:, :, kd], and the result lands kd*dilation deeper; the sum is
 * cropped by the depth pads. W stays one parameter (sliced in the graph). */
static ft_status conv_transpose3d(ox *x, const Onnx__NodeProto *nd, oval *a, oval *w, oval *b, const int64_t *k, const int64_t *st, const int64_t *dl,
                                  const int64_t *op, const int64_t *pb, const int64_t *pe, const int64_t *sh, int64_t g) {
    ft_status s;
    if ((s = need_op(x, "slice")) || (s = need_op(x, "pad")) || (s = need_op(x, "permute"))) return s;
    if (k[0] > 64) return ox_unsupported(x, "a 3-D kernel deeper than 64");
    int64_t N = a->shape[0], C = a->shape[1], D = a->shape[2], H = a->shape[3], W = a->shape[4], Du = (D - 1) * st[0] + 1;
    int64_t Cout = sh[1], Ho = sh[3], Wo = sh[4];
    char h[300];
    const char *cur = lift(x, a);
    if (!cur) return FT_EUNSUPPORTED;
    if (st[0] > 1 && D > 1) { /* [N,C,D,H,W] -> [N,C,D,1,HW] -> zeros after each slice -> [N,C,Du,H,W] */
        int64_t pads[10] = {0};
        pads[5 + 3] = st[0] - 1;
        snprintf(h, sizeof h, "%s.up", hint(nd));
        cur = ox_emit(x, "reshape", &cur, 1, NULL, 0, json_pack("{s:[I,I,I,I]}", "shape", C, D, (json_int_t)1, H * W), h);
        cur = cur ? ox_emit(x, "pad", &cur, 1, NULL, 0, json_pack("{s:o}", "pads", ints_json(10, pads)), h) : NULL;
        cur = cur ? ox_emit(x, "reshape", &cur, 1, NULL, 0, json_pack("{s:[I,I,I]}", "shape", C, D * st[0], H * W), h) : NULL;
        cur = cur ? ox_emit(x, "slice", &cur, 1, NULL, 0, json_pack("{s:i, s:I, s:I}", "dim", 2, "start", (json_int_t)0, "end", Du), h) : NULL;
        cur = cur ? ox_emit(x, "reshape", &cur, 1, NULL, 0, json_pack("{s:[I,I,I,I]}", "shape", C, Du, H, W), h) : NULL;
        if (!cur) return FT_EINVAL;
    }
    snprintf(h, sizeof h, "%s.slices", hint(nd));
    cur = ox_emit(x, "permute", &cur, 1, NULL, 0, json_pack("{s:[i,i,i,i,i]}", "dims", 0, 2, 1, 3, 4), h);
    cur = cur ? ox_emit(x, "reshape", &cur, 1, NULL, 0, json_pack("{s:[I,I,I,I], s:b}", "shape", N * Du, C, H, W, "full", 1), h) : NULL;
    x->fixed_batch = true;
    const char *wp = ox_param(x, w, 0), *bp = b ? ox_param(x, b, 0) : NULL;
    if (!wp || (b && !bp)) return FT_EUNSUPPORTED;
    snprintf(h, sizeof h, "%s.weight", hint(nd));
    const char *wn = ox_emit(x, "identity", NULL, 0, &wp, 1, NULL, h);
    if (!cur || !wn) return FT_EINVAL;
    const char *acc = NULL;
    for (int64_t kd = 0; kd < k[0]; kd++) {
        snprintf(h, sizeof h, "%s.w%lld", hint(nd), (long long)kd);
        const char *wk = ox_emit(x, "slice", &wn, 1, NULL, 0, json_pack("{s:i, s:I, s:I}", "dim", 2, "start", kd, "end", kd + 1), h);
        wk = wk ? ox_emit(x, "reshape", &wk, 1, NULL, 0, json_pack("{s:[I,I,I]}", "shape", w->shape[1], k[1], k[2]), h) : NULL;
        if (!wk) return FT_EINVAL;
        const char *ins[2] = {cur, wk};
        snprintf(h, sizeof h, "%s.k%lld", hint(nd), (long long)kd);
        const char *z = ox_emit(x, "conv_transpose2d", ins, 2, NULL, 0,
                                json_pack("{s:[I,I], s:[I,I,I,I], s:[I,I], s:[I,I], s:I}", "stride", st[1], st[2], "pad", pb[1], pb[2], pe[1], pe[2],
                                          "output_padding", op[1], op[2],
                                          "dilation", dl[1], dl[2], "groups", g),
                                h);
        z = z ? ox_emit(x, "reshape", &z, 1, NULL, 0, json_pack("{s:[I,I,I,I,I], s:b}", "shape", N, Du, Cout, Ho, Wo, "full", 1), h) : NULL;
        z = z ? ox_emit(x, "permute", &z, 1, NULL, 0, json_pack("{s:[i,i,i,i,i]}", "dims", 0, 2, 1, 3, 4), h) : NULL;
        int64_t pads[10] = {0};
        pads[2] = kd * dl[0] - pb[0];
        pads[7] = sh[2] - Du - pads[2];
        if (z && (pads[2] || pads[7])) z = ox_emit(x, "pad", &z, 1, NULL, 0, json_pack("{s:o}", "pads", ints_json(10, pads)), h);
        if (z && acc) {
            const char *two[2] = {acc, z};
            snprintf(h, sizeof h, "%s.sum", hint(nd));
            z = ox_emit(x, "add", two, 2, NULL, 0, NULL, h);
        }
        if (!(acc = z)) return FT_EINVAL;
    }
    if (b) {
        int64_t bs[4] = {Cout, 1, 1, 1};
        snprintf(h, sizeof h, "%s.bias", hint(nd));
        const char *bp4 = ox_declare(x, b->name, 4, bs, b->f, b->orig == ORIG_INIT || b->orig == ORIG_BRANCH || x->o.promote_constants);
        if (!bp4) return FT_EUNSUPPORTED;
        acc = ox_emit(x, "add", &acc, 1, &bp4, 1, NULL, h);
    }
    return set_dyn(x, nd, 0, acc, 5, sh, OX_FLOAT);
}

/* ONNX ConvTranspose: pads explicit, from auto_pad (output = input * stride) or from
 * output_shape; the total padding splits as ONNX's reference does (floor division: SAME_UPPER
 * puts the odd one at the end, otherwise at the beginning), and a negative end padding (an
 * output_shape past the full output) becomes output_padding. */
static ft_status map_conv_transpose(ox *x, const Onnx__NodeProto *nd) {
    oval *a = ox_in(x, nd, 0), *w = ox_in(x, nd, 1), *b = ox_in(x, nd, 2);
    if (!a || !w) return ox_node_fail(x, FT_EFORMAT, "needs X and W");
    if (!w->is_const || !w->f) return ox_unsupported(x, "the weight is computed, not a constant");
    if (b && (!b->is_const || !b->f)) return ox_unsupported(x, "the bias is computed, not a constant");
    int ns = a->ndim - 2;
    if (ns < 1 || ns > 3) return ox_unsupported(x, "only 1-D, 2-D and 3-D transposed convolutions are supported");
    if (w->ndim != a->ndim) return ox_node_fail(x, FT_ESHAPE, "W has %d dims for a %d-dim input", w->ndim, a->ndim);
    ft_status s = need_op(x, "conv_transpose2d");
    if (s) return s;
    int64_t k[3], st[3], dl[3], op[3], pb[3], pe[3], g = ox_attr_i(nd, "group", 1);
    if ((s = spatial_ints(x, nd, "strides", ns, 1, st)) || (s = spatial_ints(x, nd, "dilations", ns, 1, dl))) return s;
    for (int d = 0; d < ns; d++) k[d] = w->shape[2 + d];
    const int64_t *kv = NULL, *opv = NULL, *osv = NULL, *p = NULL;
    int nk = ox_attr_ints(nd, "kernel_shape", &kv), nop = ox_attr_ints(nd, "output_padding", &opv), nos = ox_attr_ints(nd, "output_shape", &osv),
        np = ox_attr_ints(nd, "pads", &p);
    if (nk >= 0 && nk != ns) return ox_node_fail(x, FT_EFORMAT, "kernel_shape has %d entries for %d spatial dims", nk, ns);
    if (nop >= 0 && nop != ns) return ox_node_fail(x, FT_EFORMAT, "output_padding has %d entries for %d spatial dims", nop, ns);
    if (nos >= 0 && nos != ns && nos != ns + 2) return ox_node_fail(x, FT_EFORMAT, "output_shape has %d entries for %d spatial dims", nos, ns);
    if (np >= 0 && np != 2 * ns) return ox_node_fail(x, FT_EFORMAT, "pads has %d entries for %d spatial dims", np, ns);
    if (g < 1 || a->shape[1] != w->shape[0] || w->shape[0] % g)
        return ox_node_fail(x, FT_ESHAPE, "input channels %lld, W [%lld, %lld, ...] and group %lld do not match", (long long)a->shape[1],
                            (long long)w->shape[0], (long long)w->shape[1], (long long)g);
    int64_t cout = w->shape[1] * g;
    if (b && b->numel != cout) return ox_node_fail(x, FT_ESHAPE, "B has %lld values for %lld output channels", (long long)b->numel, (long long)cout);
    char buf[32];
    const char *ap = ox_attr_s(nd, "auto_pad", "NOTSET", buf, sizeof buf);
    bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
    if (!same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return ox_node_fail(x, FT_EFORMAT, "auto_pad '%s'", ap);
    int64_t sh[5] = {a->shape[0], cout, 1, 1, 1};
    for (int d = 0; d < ns; d++) {
        if (nk >= 0 && kv[d] != k[d]) return ox_node_fail(x, FT_ESHAPE, "kernel_shape %lld differs from W's %lld", (long long)kv[d], (long long)k[d]);
        op[d] = nop >= 0 ? opv[d] : 0;
        if (op[d] < 0) return ox_node_fail(x, FT_EFORMAT, "negative output_padding");
        int64_t full = st[d] * (a->shape[2 + d] - 1) + op[d] + (k[d] - 1) * dl[d] + 1;
        if (nos >= 0 || same) {
            int64_t tot = full - (nos >= 0 ? osv[nos - ns + d] : a->shape[2 + d] * st[d]);
            if (!strcmp(ap, "SAME_UPPER")) { pb[d] = floordiv2(tot); pe[d] = tot - pb[d]; }
            else { pe[d] = floordiv2(tot); pb[d] = tot - pe[d]; }
        } else if (np >= 0 && strcmp(ap, "VALID")) {
            pb[d] = p[d];
            pe[d] = p[d + ns];
            if (pb[d] < 0 || pe[d] < 0) return ox_node_fail(x, FT_EFORMAT, "negative pads");
        } else pb[d] = pe[d] = 0;
        sh[2 + d] = full - pb[d] - pe[d];
        if (sh[2 + d] < 1) return ox_node_fail(x, FT_ESHAPE, "the output would be empty");
        if (pb[d] < 0) return ox_unsupported(x, "an output_shape that needs negative padding at the beginning");
        if (pe[d] < 0) { op[d] -= pe[d]; pe[d] = 0; } /* the output grows at the end: zeros (+ bias) */
        if (op[d] && op[d] >= st[d] && op[d] >= dl[d] && (ns < 3 || d > 0)) return ox_unsupported(x, "output padding as large as both the stride and the dilation");
    }
    if (ns == 3) return conv_transpose3d(x, nd, a, w, b, k, st, dl, op, pb, pe, sh, g);
    const char *in = lift(x, a), *pars[2];
    if (!in) return FT_EUNSUPPORTED;
    int npar = 1;
    if (b && !(pars[1] = ox_param(x, b, 0))) return FT_EUNSUPPORTED;
    if (b) npar = 2;
    if (ns == 2) {
        if (!(pars[0] = ox_param(x, w, 0))) return FT_EUNSUPPORTED;
        json_t *at = json_pack("{s:[I,I], s:[I,I,I,I], s:[I,I], s:[I,I], s:I}", "stride", st[0], st[1], "pad", pb[0], pb[1], pe[0], pe[1], "output_padding",
                               op[0], op[1], "dilation", dl[0], dl[1], "groups", g);
        return set_dyn(x, nd, 0, ox_emit(x, "conv_transpose2d", &in, 1, pars, npar, at, hint(nd)), 4, sh, OX_FLOAT);
    }
    /* 1-D: [N,C,L] -> [N,C,1,L] with W as [Cin, Cout/g, 1, k], and back */
    int64_t w4[4] = {w->shape[0], w->shape[1], 1, w->shape[2]}, x4[4] = {a->shape[0], a->shape[1], 1, a->shape[2]};
    if (!(pars[0] = ox_declare(x, w->name, 4, w4, w->f, w->orig == ORIG_INIT || w->orig == ORIG_BRANCH || x->o.promote_constants))) return FT_EUNSUPPORTED;
    char h[300];
    snprintf(h, sizeof h, "%s.as2d", hint(nd));
    const char *r = reshape_to(x, nd, a, 4, x4, h);
    json_t *at = json_pack("{s:[I,I], s:[I,I,I,I], s:[I,I], s:[I,I], s:I}", "stride", (json_int_t)1, st[0], "pad", (json_int_t)0, pb[0], (json_int_t)0, pe[0],
                           "output_padding", (json_int_t)0, op[0], "dilation", (json_int_t)1, dl[0], "groups", g);
    const char *c = r ? ox_emit(x, "conv_transpose2d", &r, 1, pars, npar, at, hint(nd)) : NULL;
    if (!r) json_decref(at);
    if (!c) return FT_EINVAL;
    snprintf(h, sizeof h, "%s.as1d", hint(nd));
    int64_t o3[3] = {sh[0], sh[1], sh[2]};
    return set_dyn(x, nd, 0, ox_emit(x, "reshape", &c, 1, NULL, 0, json_pack("{s:[I,I]}", "shape", o3[1], o3[2]), h), 3, o3, OX_FLOAT);
}

/* ---------------- BatchNormalization, training mode ----------------
 * training_mode = 1 (opset >= 14): Y normalizes with the batch's statistics (`batch_norm`
 * with weight and bias and no running statistics: batch statistics in every plan), and the
 * running_mean / running_var outputs are input * momentum + batch statistic * (1 - momentum)
 * with the biased variance, as ONNX's reference. */
static ft_status map_batchnorm_training(ox *x, const Onnx__NodeProto *nd, oval *a, oval **v) {
    if (a->ndim < 2) return ox_node_fail(x, FT_ESHAPE, "X needs a channel dim");
    int64_t C = a->shape[1];
    const char *pars[2];
    for (int k = 0; k < 4; k++) {
        if (!v[k]->is_const || !v[k]->f) return ox_unsupported(x, "computed scale, bias or statistics");
        if (v[k]->numel != C) return ox_node_fail(x, FT_ESHAPE, "input %d has %lld values for %lld channels", k + 1, (long long)v[k]->numel, (long long)C);
    }
    for (int k = 0; k < 2; k++)
        if (!(pars[k] = ox_param(x, v[k], 0))) return FT_EUNSUPPORTED;
    float mom = ox_attr_f(nd, "momentum", 0.9f), eps = ox_attr_f(nd, "epsilon", 1e-5f);
    const char *in = lift(x, a);
    if (!in) return FT_EUNSUPPORTED;
    char h[300];
    const char *r = in;
    if (a->ndim != 2 && a->ndim != 4) { /* [N,C,...] -> [N,C,L,1] */
        int64_t l = 1;
        for (int d = 2; d < a->ndim; d++) l *= a->shape[d];
        int64_t x4[4] = {a->shape[0], C, l, 1};
        snprintf(h, sizeof h, "%s.as4d", hint(nd));
        if (!(r = reshape_to(x, nd, a, 4, x4, h))) return FT_EINVAL;
    }
    const char *y = ox_emit(x, "batch_norm", &r, 1, pars, 2, json_pack("{s:f}", "eps", (double)eps), hint(nd));
    if (y && r != in) {
        snprintf(h, sizeof h, "%s.back", hint(nd));
        y = ox_emit(x, "reshape", &y, 1, NULL, 0, json_pack("{s:o}", "shape", ints_json(a->ndim - 1, a->shape + 1)), h);
    }
    ft_status s = set_dyn(x, nd, 0, y, a->ndim, a->shape, OX_FLOAT);
    if (s || !(used(x, nd, 1) || used(x, nd, 2))) return s;
    int64_t dims[OX_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < a->ndim; d++)
        if (d != 1) dims[n++] = d;
    snprintf(h, sizeof h, "%s.batch_mean", hint(nd));
    const char *m = ox_emit(x, "mean", &in, 1, NULL, 0, json_pack("{s:o, s:b}", "dims", ints_json(n, dims), "keepdim", 1), h);
    const char *dv[2] = {in, m};
    snprintf(h, sizeof h, "%s.dev", hint(nd));
    const char *dev = m ? ox_emit(x, "sub", dv, 2, NULL, 0, NULL, h) : NULL;
    const char *sq[2] = {dev, dev};
    snprintf(h, sizeof h, "%s.sq", hint(nd));
    const char *sqr = dev ? ox_emit(x, "mul", sq, 2, NULL, 0, NULL, h) : NULL;
    snprintf(h, sizeof h, "%s.batch_var", hint(nd));
    const char *var = sqr ? ox_emit(x, "mean", &sqr, 1, NULL, 0, json_pack("{s:o, s:b}", "dims", ints_json(n, dims), "keepdim", 1), h) : NULL;
    if (!var) return FT_EINVAL;
    x->fixed_batch = true;
    const char *stat[2] = {m, var};
    float *t = ft_malloc((size_t)C * sizeof(float));
    if (!t) return ox_oom();
    for (int k = 0; k < 2 && !s; k++) {
        if (!used(x, nd, (size_t)k + 1)) continue;
        for (int64_t c = 0; c < C; c++) t[c] = v[2 + k]->f[c] * mom;
        snprintf(h, sizeof h, "%s.%s", hint(nd), k ? "running_var" : "running_mean");
        const char *o = ox_emit(x, "reshape", &stat[k], 1, NULL, 0, json_pack("{s:[I], s:b}", "shape", C, "full", 1), h);
        o = o ? ox_emit(x, "scale", &o, 1, NULL, 0, json_pack("{s:f}", "a", 1.0 - (double)mom), h) : NULL;
        const char *p = ox_declare(x, h, 1, &C, t, false);
        o = o && p ? ox_emit(x, "add", &o, 1, &p, 1, NULL, nd->output[k + 1]) : NULL;
        s = set_dyn(x, nd, (size_t)k + 1, o, 1, &C, OX_FLOAT);
    }
    ft_free(t);
    return s;
}

/* ---------------- models of opsets 1 to 6 ----------------
 * The mappings implement each op as defined at opsets 7-17. A node of an older model is
 * accepted when its op's definition there is the one still current at opset 7 (the
 * opset of its last change up to 7 is at most the model's opset), e.g. HardSigmoid-6 or
 * GlobalAveragePool-1; anything else is refused naming the op. */
ft_status ox_check_old_opset(ox *x, const Onnx__NodeProto *nd) {
    static const struct { const char *op; int since; } t[] = {
        {"Abs", 6}, {"Neg", 6}, {"Exp", 6}, {"Log", 6}, {"Sqrt", 6}, {"Reciprocal", 6}, {"Relu", 6}, {"Sigmoid", 6}, {"Tanh", 6},
        {"HardSigmoid", 6}, {"LeakyRelu", 6}, {"Clip", 6}, {"Max", 6}, {"Min", 6}, {"Sum", 6}, {"Mean", 6}, {"Cast", 6},
        {"Floor", 6}, {"Ceil", 6}, {"Tile", 6}, {"GlobalAveragePool", 1}, {"GlobalMaxPool", 1}, {"Conv", 1}, {"MaxPool", 1},
        {"MatMul", 1}, {"Flatten", 1}, {"Transpose", 1}, {"Identity", 1}, {"Softmax", 1}, {"LogSoftmax", 1}, {"Squeeze", 1},
        {"Unsqueeze", 1}, {"Gather", 1}, {"Shape", 1}, {"Size", 1}, {"Constant", 1}, {"Not", 1}, {"Slice", 1}, {"ReduceMean", 1},
        {"ReduceSum", 1}, {"ReduceMax", 1}, {"ReduceMin", 1}, {"Pad", 2}, {"Split", 2}, {"Concat", 4}, {"Reshape", 5},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        if (!op_cmp(nd, t[k].op)) {
            if (x->opset >= t[k].since) return FT_OK;
            char why[200];
            snprintf(why, sizeof why, "%s changed at opset %d; models of opset %d to 17 are supported for it", t[k].op, t[k].since, t[k].since);
            return ox_unsupported(x, why);
        }
    return ox_unsupported(x, "this op changed between the model's opset and opset 7 (the oldest the importer maps)");
}

/* ---------------- the table ---------------- */

ft_status ox_map(ox *x, const Onnx__NodeProto *nd) {
    const char *op = nd->op_type;
    /* computed integers (token ids) only feed Gather (an embedding) and integer Casts */
    for (size_t j = 0; j < nd->n_input; j++) {
        oval *v = ox_in(x, nd, j);
        if (!v || v->is_const || v->dt == OX_FLOAT || v->dt == OX_BOOL) continue;
        bool ids = v->dt == OX_INT32 || v->dt == OX_INT64;
        if (ids && OP("Gather") && j == 1) continue;
        if (ids && OP("Cast") && j == 0 && (ox_attr_i(nd, "to", 0) == OX_INT32 || ox_attr_i(nd, "to", 0) == OX_INT64)) {
            const char *in = v->node;
            return set_dyn(x, nd, 0, emit1(x, nd, "identity", in, NULL), v->ndim, v->shape, (int)ox_attr_i(nd, "to", 0));
        }
        return ox_node_fail(x, FT_EUNSUPPORTED, "input '%s' has type %s (computed integers, such as token ids, can only be Gather indices)",
                            v->name, ox_type_name(v->dt));
    }
    static const pair unary[] = {{"Relu", "relu"}, {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"}, {"HardSwish", "hardswish"}, {"Exp", "exp"},
                                 {"Log", "log"}, {"Sqrt", "sqrt"}, {"Abs", "abs"}, {"Neg", "neg"}, {"Erf", "erf"},
                                 {"Reciprocal", "reciprocal"}, {"Identity", "identity"}};
    if (OP("Erf")) {
        bool done;
        ft_status s = try_gelu(x, nd, &done);
        if (s || done) return s;
    }
    for (size_t k = 0; k < sizeof unary / sizeof unary[0]; k++)
        if (OP(unary[k].onnx)) return map_unary(x, nd, unary[k].gop, NULL);
    if (OP("LeakyRelu")) return map_unary(x, nd, "leaky_relu", json_pack("{s:f}", "alpha", (double)ox_attr_f(nd, "alpha", 0.01f)));
    if (OP("Gelu")) {
        char buf[16];
        return map_unary(x, nd, "gelu", json_pack("{s:s}", "approximate", ox_attr_s(nd, "approximate", "none", buf, sizeof buf)));
    }
    if (OP("HardSigmoid")) {
        float al = ox_attr_f(nd, "alpha", 0.2f), be = ox_attr_f(nd, "beta", 0.5f);
        if (fabsf(al - 1.0f / 6.0f) < 1e-7f && be == 0.5f) return map_unary(x, nd, "hardsigmoid", NULL);
        /* clamp(alpha x + beta, 0, 1) = relu6(6 (alpha x + beta)) / 6 */
        oval *a = ox_in(x, nd, 0);
        const char *in = a ? lift(x, a) : NULL;
        if (!in) return ox_node_fail(x, FT_EFORMAT, "needs an input");
        char h[300];
        snprintf(h, sizeof h, "%s.affine", hint(nd));
        const char *t = ox_emit(x, "scale", &in, 1, NULL, 0, json_pack("{s:f, s:f}", "a", 6.0 * al, "b", 6.0 * be), h);
        snprintf(h, sizeof h, "%s.relu6", hint(nd));
        t = t ? ox_emit(x, "relu6", &t, 1, NULL, 0, NULL, h) : NULL;
        t = t ? emit1(x, nd, "scale", t, json_pack("{s:f}", "a", 1.0 / 6.0)) : NULL;
        return set_dyn(x, nd, 0, t, a->ndim, a->shape, OX_FLOAT);
    }
    if (OP("Dropout")) {
        oval *a = ox_in(x, nd, 0), *r = ox_in(x, nd, 1), *tm = ox_in(x, nd, 2);
        if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
        if (tm && (!tm->is_const || (tm->i ? tm->i[0] : tm->f[0])) && (!r || !r->is_const || scalar_f(r) != 0))
            return ox_unsupported(x, "training_mode = true with a ratio above 0: the output depends on the random mask the reference "
                                     "runtime drew, which cannot be reproduced (ratio 0 maps: nothing is dropped)");
        float p = x->opset < 12 ? ox_attr_f(nd, "ratio", 0.5f) : r && r->is_const ? scalar_f(r) : 0.5f;
        if (!(p >= 0 && p < 1)) p = 0;
        if (nd->n_output > 1 && nd->output[1][0]) { /* the mask of an inference-mode dropout: all true */
            oval mk;
            memset(&mk, 0, sizeof mk);
            mk.is_const = true;
            mk.dt = OX_BOOL;
            mk.ndim = a->ndim;
            memcpy(mk.shape, a->shape, sizeof mk.shape);
            mk.numel = ox_numel(a->ndim, a->shape);
            mk.orig = ORIG_CONST;
            if (!(mk.i = ft_malloc((size_t)(mk.numel ? mk.numel : 1) * sizeof(int64_t)))) return ox_oom();
            for (int64_t k = 0; k < mk.numel; k++) mk.i[k] = 1;
            ft_status s = ox_put(x, nd->output[1], &mk);
            if (s) return s;
        }
        return map_unary(x, nd, "dropout", json_pack("{s:f}", "p", (double)p));
    }
    if (OP("Cast") || OP("CastLike")) {
        oval *a = ox_in(x, nd, 0), *b = ox_in(x, nd, 1);
        if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
        int to = OP("Cast") ? (int)ox_attr_i(nd, "to", 0) : b ? b->dt : 0;
        const char *in = lift(x, a);
        if (!in) return FT_EUNSUPPORTED;
        if (to == OX_FLOAT || (a->dt == OX_BOOL && (to == OX_BOOL || to == OX_INT32 || to == OX_INT64 || to == OX_UINT8 || to == OX_INT8)))
            return set_dyn(x, nd, 0, emit1(x, nd, "identity", in, NULL), a->ndim, a->shape, to == OX_FLOAT ? OX_FLOAT : OX_BOOL);
        char why[80];
        snprintf(why, sizeof why, "Cast from %s to %s of a computed value", ox_type_name(a->dt), ox_type_name(to));
        return ox_unsupported(x, why);
    }
    if (OP("Not")) {
        oval *a = ox_in(x, nd, 0);
        if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
        const char *in = lift(x, a);
        if (!in) return FT_EUNSUPPORTED;
        return set_dyn(x, nd, 0, emit1(x, nd, "scale", in, json_pack("{s:f, s:f}", "a", -1.0, "b", 1.0)), a->ndim, a->shape, OX_BOOL);
    }
    if (OP("Add") || OP("Sub") || OP("Mul") || OP("Div") || OP("Pow") || OP("Equal") || OP("Greater") || OP("GreaterOrEqual") || OP("Less") ||
        OP("LessOrEqual") || OP("PRelu") || OP("And") || OP("Or"))
        return map_binary(x, nd, op);
    if (OP("Max") || OP("Min") || OP("Sum") || OP("Mean")) return map_variadic(x, nd, op);
    if (OP("Where")) return map_where(x, nd);
    if (OP("Conv")) return map_conv(x, nd);
    if (OP("ConvTranspose")) return map_conv_transpose(x, nd);
    if (OP("MaxPool")) return map_pool(x, nd, false);
    if (OP("AveragePool")) return map_pool(x, nd, true);
    if (OP("GlobalAveragePool")) return map_global_pool(x, nd, true);
    if (OP("GlobalMaxPool")) return map_global_pool(x, nd, false);
    if (OP("BatchNormalization")) return map_batchnorm(x, nd);
    if (OP("Gemm")) return map_gemm(x, nd);
    if (OP("MatMul")) return map_matmul(x, nd);
    if (OP("Reshape") || OP("Flatten") || OP("Squeeze") || OP("Unsqueeze")) return map_reshape_like(x, nd, op);
    if (OP("Transpose")) return map_transpose(x, nd);
    if (OP("Concat")) return map_concat(x, nd);
    if (OP("Slice")) return map_slice(x, nd);
    if (OP("Split")) return map_split(x, nd);
    if (OP("Gather")) return map_gather(x, nd);
    if (OP("Expand")) return map_expand(x, nd);
    if (OP("Pad")) return map_pad(x, nd);
    if (OP("ReduceMean") || OP("ReduceSum") || OP("ReduceMax") || OP("ReduceMin")) return map_reduce(x, nd, op);
    if (OP("Softmax")) return map_softmax(x, nd, false);
    if (OP("LogSoftmax")) return map_softmax(x, nd, true);
    if (OP("LayerNormalization")) return map_layernorm(x, nd);
    if (OP("Clip")) return map_clip(x, nd);
    if (OP("If")) return map_if(x, nd);
    if (OP("LSTM")) return map_rnn(x, nd, true);
    if (OP("GRU")) return map_rnn(x, nd, false);
    return ox_unsupported(x, NULL);
}
