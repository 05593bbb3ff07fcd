/* ONNX import: shape helpers and a small evaluator for constant tensors (int64, float,
 * bool), so everything that does not depend on the data input folds at import time:
 * Shape/Size of any value (static shapes), Constant, ConstantOfShape, Range, Cast, the
 * shape ops (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Gather, Slice,
 * Expand, Tile), elementwise arithmetic, comparisons, logic, Where and a few reductions. */
#include "import/onnx_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

oval *ox_in(ox *x, const Onnx__NodeProto *nd, size_t j) {
    return j < nd->n_input && nd->input[j][0] ? ox_val(x, nd->input[j]) : NULL;
}

int ox_norm_axis(int64_t axis, int ndim) {
    if (axis < 0) axis += ndim;
    return axis >= 0 && axis < ndim ? (int)axis : -1;
}

ft_status ox_put(ox *x, const char *name, oval *tmp) {
    if (!name || !name[0]) { ft_free(tmp->f); ft_free(tmp->i); ft_free(tmp->node); return FT_OK; }
    int vi = ox_new_val(x, name);
    if (vi < 0) { ft_free(tmp->f); ft_free(tmp->i); ft_free(tmp->node); return ox_oom(); }
    char *nm = x->v[vi].name;
    x->v[vi] = *tmp;
    x->v[vi].name = nm;
    x->v[vi].numel = ox_numel(tmp->ndim, tmp->shape);
    return FT_OK;
}

ft_status ox_broadcast(ox *x, int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out) {
    int n = na > nb ? na : nb;
    for (int d = 0; d < n; d++) {
        int64_t da = d - (n - na) >= 0 ? a[d - (n - na)] : 1, db = d - (n - nb) >= 0 ? b[d - (n - nb)] : 1;
        if (da != db && da != 1 && db != 1) return ox_node_fail(x, FT_ESHAPE, "shapes do not broadcast (dim %d: %lld vs %lld)", d, (long long)da, (long long)db);
        out[d] = da == 1 ? db : da;
    }
    *nout = n;
    return FT_OK;
}


ft_status ox_reshape_shape(ox *x, const oval *in, const oval *target, bool allowzero, int *nout, int64_t *out) {
    if (!target->is_const || target->f) return ox_node_fail(x, FT_EUNSUPPORTED, "the shape must be a constant int64 tensor");
    if (target->ndim != 1 || target->numel > OX_MAX_DIMS) return ox_node_fail(x, FT_EUNSUPPORTED, "shape must be 1-D with at most %d entries", OX_MAX_DIMS);
    int n = (int)target->numel, infer = -1;
    int64_t known = 1;
    for (int d = 0; d < n; d++) {
        int64_t t = target->i[d];
        if (t == 0 && !allowzero) {
            if (d >= in->ndim) return ox_node_fail(x, FT_EFORMAT, "shape entry %d is 0 (copy) but the input has %d dims", d, in->ndim);
            t = in->shape[d];
        }
        if (t == -1) {
            if (infer >= 0) return ox_node_fail(x, FT_EFORMAT, "shape has two -1 entries");
            infer = d;
        } else if (t < 0) return ox_node_fail(x, FT_EFORMAT, "shape entry %d is %lld", d, (long long)t);
        else if (t > OX_MAX_NUMEL || (t && known > OX_MAX_NUMEL / t)) return ox_node_fail(x, FT_EFORMAT, "shape is too large");
        else known *= t;
        out[d] = t;
    }
    if (infer >= 0) {
        if (!known || in->numel % known) return ox_node_fail(x, FT_ESHAPE, "cannot reshape %lld elements with a -1 entry", (long long)in->numel);
        out[infer] = in->numel / known;
    } else if (known != in->numel)
        return ox_node_fail(x, FT_ESHAPE, "cannot reshape %lld elements into %lld", (long long)in->numel, (long long)known);
    *nout = n;
    return FT_OK;
}

ft_status ox_axes(ox *x, const Onnx__NodeProto *nd, int input_index, int64_t *axes, int *n) {
    *n = -1;
    const int64_t *a;
    int na = ox_attr_ints(nd, "axes", &a);
    if (na >= 0) {
        if (na > OX_MAX_DIMS) return ox_node_fail(x, FT_EUNSUPPORTED, "more than %d axes", OX_MAX_DIMS);
        for (int k = 0; k < na; k++) axes[k] = a[k];
        *n = na;
        return FT_OK;
    }
    oval *v = input_index >= 0 ? ox_in(x, nd, (size_t)input_index) : NULL;
    if (!v) return FT_OK;
    if (!v->is_const || !v->i) return ox_node_fail(x, FT_EUNSUPPORTED, "the axes must be a constant int64 tensor");
    if (v->numel > OX_MAX_DIMS) return ox_node_fail(x, FT_EUNSUPPORTED, "more than %d axes", OX_MAX_DIMS);
    for (int64_t k = 0; k < v->numel; k++) axes[k] = v->i[k];
    *n = (int)v->numel;
    return FT_OK;
}

ft_status ox_unsqueeze_shape(ox *x, const oval *in, const int64_t *axes, int n, int *nout, int64_t *out) {
    int r = in->ndim + n;
    if (n < 0) return ox_node_fail(x, FT_EFORMAT, "Unsqueeze needs axes");
    if (r > OX_MAX_DIMS) return ox_node_fail(x, FT_EUNSUPPORTED, "more than %d dims", OX_MAX_DIMS);
    bool ins[OX_MAX_DIMS] = {false};
    for (int k = 0; k < n; k++) {
        int a = ox_norm_axis(axes[k], r);
        if (a < 0 || ins[a]) return ox_node_fail(x, FT_EFORMAT, "axis %lld is out of range or repeated", (long long)axes[k]);
        ins[a] = true;
    }
    for (int d = 0, j = 0; d < r; d++) out[d] = ins[d] ? 1 : in->shape[j++];
    *nout = r;
    return FT_OK;
}

ft_status ox_squeeze_shape(ox *x, const oval *in, const int64_t *axes, int n, int *nout, int64_t *out) {
    bool rm[OX_MAX_DIMS] = {false};
    if (n < 0) {
        for (int d = 0; d < in->ndim; d++) rm[d] = in->shape[d] == 1;
    } else {
        for (int k = 0; k < n; k++) {
            int a = ox_norm_axis(axes[k], in->ndim);
            if (a < 0) return ox_node_fail(x, FT_EFORMAT, "axis %lld is out of range", (long long)axes[k]);
            if (in->shape[a] != 1) return ox_node_fail(x, FT_ESHAPE, "cannot squeeze dim %d of size %lld", a, (long long)in->shape[a]);
            rm[a] = true;
        }
    }
    int r = 0;
    for (int d = 0; d < in->ndim; d++)
        if (!rm[d]) out[r++] = in->shape[d];
    *nout = r;
    return FT_OK;
}

ft_status ox_slice_params(ox *x, const Onnx__NodeProto *nd, const oval *data, oslice *sl) {
    int64_t st[OX_MAX_DIMS], en[OX_MAX_DIMS], ax[OX_MAX_DIMS], sp[OX_MAX_DIMS];
    int n;
    for (int d = 0; d < data->ndim; d++) {
        sl->start[d] = 0;
        sl->step[d] = 1;
        sl->len[d] = data->shape[d];
        sl->sliced[d] = false;
    }
    if (x->opset < 10) {
        const int64_t *a, *b, *c;
        int na = ox_attr_ints(nd, "starts", &a), nb = ox_attr_ints(nd, "ends", &b), nc = ox_attr_ints(nd, "axes", &c);
        if (na < 0 || nb != na || na > OX_MAX_DIMS || (nc >= 0 && nc != na)) return ox_node_fail(x, FT_EFORMAT, "bad starts/ends/axes");
        n = na;
        for (int k = 0; k < n; k++) { st[k] = a[k]; en[k] = b[k]; ax[k] = nc >= 0 ? c[k] : k; sp[k] = 1; }
    } else {
        const oval *vs = ox_in(x, nd, 1), *ve = ox_in(x, nd, 2), *va = ox_in(x, nd, 3), *vp = ox_in(x, nd, 4);
        if (!vs || !ve || !vs->is_const || !ve->is_const || !vs->i || !ve->i || (va && (!va->is_const || !va->i)) || (vp && (!vp->is_const || !vp->i)))
            return ox_node_fail(x, FT_EUNSUPPORTED, "starts, ends, axes and steps must be constant integers");
        n = (int)vs->numel;
        if (n > OX_MAX_DIMS || ve->numel != n || (va && va->numel != n) || (vp && vp->numel != n))
            return ox_node_fail(x, FT_EFORMAT, "starts, ends, axes and steps must have the same length (at most %d)", OX_MAX_DIMS);
        for (int k = 0; k < n; k++) { st[k] = vs->i[k]; en[k] = ve->i[k]; ax[k] = va ? va->i[k] : k; sp[k] = vp ? vp->i[k] : 1; }
    }
    for (int k = 0; k < n; k++) {
        int a = ox_norm_axis(ax[k], data->ndim);
        if (a < 0 || sl->sliced[a]) return ox_node_fail(x, FT_EFORMAT, "axis %lld is out of range or repeated", (long long)ax[k]);
        if (sp[k] == 0) return ox_node_fail(x, FT_EFORMAT, "step 0");
        int64_t dim = data->shape[a], s = st[k], e = en[k];
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (sp[k] > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            sl->len[a] = e > s ? (e - s + sp[k] - 1) / sp[k] : 0;
        } else {
            s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            sl->len[a] = s > e ? (s - e + (-sp[k]) - 1) / (-sp[k]) : 0;
        }
        sl->start[a] = s;
        sl->step[a] = sp[k];
        sl->sliced[a] = true;
    }
    return FT_OK;
}

/* ---------------- the evaluator ---------------- */

static ft_status alloc_like(oval *o, int dt, int ndim, const int64_t *shape) {
    memset(o, 0, sizeof *o);
    o->is_const = true;
    o->dt = dt;
    o->ndim = ndim;
    for (int d = 0; d < ndim; d++) o->shape[d] = shape[d];
    o->numel = ox_numel(ndim, shape);
    /* A folded value is computed at import; 2^28 elements (1-2 GB) is far beyond any real
     * model's shape arithmetic, and a corrupt shape must not exhaust memory. */
    if (o->numel < 0 || o->numel > ((int64_t)1 << 28))
        return ft_fail(FT_EUNSUPPORTED, "a folded constant of %lld elements is too large", (long long)o->numel);
    size_t n = (size_t)(o->numel ? o->numel : 1);
    if (ox_is_float_type(dt)) o->f = ft_calloc(n, sizeof(float));
    else o->i = ft_calloc(n, sizeof(int64_t));
    return o->f || o->i ? FT_OK : ox_oom();
}

static void strides(int ndim, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) { st[d] = s; s *= shape[d]; }
}

/* offset in a (broadcast against out shape) of output index k */
static int64_t bcast_off(int64_t k, int nout, const int64_t *oshape, const oval *a) {
    int64_t off = 0, ast[OX_MAX_DIMS];
    strides(a->ndim, a->shape, ast);
    for (int d = nout - 1; d >= 0; d--) {
        int64_t i = k % oshape[d];
        k /= oshape[d];
        int ad = d - (nout - a->ndim);
        if (ad >= 0 && a->shape[ad] != 1) off += i * ast[ad];
    }
    return off;
}

static int out_origin(ox *x, oval **ins, int n, bool fl) {
    int o = ORIG_CONST;
    bool bind = false;
    for (int k = 0; k < n; k++) {
        if (!ins[k]) continue;
        if (fl && ins[k]->f && (ins[k]->orig == ORIG_INIT || ins[k]->orig == ORIG_BRANCH)) o = ins[k]->orig;
        bind |= ins[k]->orig == ORIG_BIND;
    }
    (void)x;
    return o == ORIG_CONST && bind ? ORIG_BIND : o;
}

static double fget(const oval *v, int64_t k) { return v->f ? (double)v->f[k] : (double)v->i[k]; }

typedef enum { E_ADD, E_SUB, E_MUL, E_DIV, E_POW, E_MAX, E_MIN, E_MOD, E_EQ, E_LT, E_GT, E_LE, E_GE, E_AND, E_OR, E_XOR } ebin;

static ft_status fold_binary(ox *x, const Onnx__NodeProto *nd, ebin op, oval *a, oval *b) {
    int n;
    int64_t sh[OX_MAX_DIMS];
    ft_status s = ox_broadcast(x, a->ndim, a->shape, b->ndim, b->shape, &n, sh);
    if (s) return s;
    bool cmp = op >= E_EQ;
    bool fl = a->f || b->f;
    oval o;
    if ((s = alloc_like(&o, cmp ? OX_BOOL : a->dt, n, sh))) return s;
    if (!cmp && fl && !o.f) { /* int op float: not valid ONNX; compute in float */
        ft_free(o.i); o.i = NULL;
        o.dt = OX_FLOAT;
        if (!(o.f = ft_calloc((size_t)(o.numel ? o.numel : 1), sizeof(float)))) return ox_oom();
    }
    if (op == E_MOD && fl && !ox_attr_i(nd, "fmod", 0)) { ft_free(o.f); ft_free(o.i); return ox_node_fail(x, FT_EUNSUPPORTED, "float Mod needs fmod=1"); }
    for (int64_t k = 0; k < o.numel; k++) {
        int64_t ia = bcast_off(k, n, sh, a), ib = bcast_off(k, n, sh, b);
        if (fl) {
            float p = a->f ? a->f[ia] : (float)a->i[ia], q = b->f ? b->f[ib] : (float)b->i[ib], r = 0;
            switch (op) {
            case E_ADD: r = p + q; break;
            case E_SUB: r = p - q; break;
            case E_MUL: r = p * q; break;
            case E_DIV: r = p / q; break;
            case E_POW: r = powf(p, q); break;
            case E_MAX: r = p > q || isnan(p) ? p : q; break;
            case E_MIN: r = p < q || isnan(p) ? p : q; break;
            case E_MOD: r = fmodf(p, q); break;
            case E_EQ: r = p == q; break;
            case E_LT: r = p < q; break;
            case E_GT: r = p > q; break;
            case E_LE: r = p <= q; break;
            case E_GE: r = p >= q; break;
            default: r = 0; break;
            }
            if (o.f) o.f[k] = r;
            else o.i[k] = (int64_t)r;
        } else {
            int64_t p = a->i[ia], q = b->i[ib], r = 0;
            switch (op) {
            case E_ADD: r = (int64_t)((uint64_t)p + (uint64_t)q); break;
            case E_SUB: r = (int64_t)((uint64_t)p - (uint64_t)q); break;
            case E_MUL: r = (int64_t)((uint64_t)p * (uint64_t)q); break;
            case E_DIV:
                if (!q) { ft_free(o.i); return ox_node_fail(x, FT_EFORMAT, "integer division by zero"); }
                r = (p == INT64_MIN && q == -1) ? p : p / q;
                break;
            case E_MOD:
                if (!q) { ft_free(o.i); return ox_node_fail(x, FT_EFORMAT, "integer modulo by zero"); }
                r = (p == INT64_MIN && q == -1) ? 0 : p % q;
                if (!ox_attr_i(nd, "fmod", 0) && r && ((r < 0) != (q < 0))) r += q;
                break;
            case E_POW: { double d = pow((double)p, (double)q); r = isfinite(d) && fabs(d) < 9.2e18 ? (int64_t)d : 0; break; }
            case E_MAX: r = p > q ? p : q; break;
            case E_MIN: r = p < q ? p : q; break;
            case E_EQ: r = p == q; break;
            case E_LT: r = p < q; break;
            case E_GT: r = p > q; break;
            case E_LE: r = p <= q; break;
            case E_GE: r = p >= q; break;
            case E_AND: r = p && q; break;
            case E_OR: r = p || q; break;
            case E_XOR: r = (p != 0) != (q != 0); break;
            }
            o.i[k] = r;
        }
    }
    oval *ins[2] = {a, b};
    o.orig = out_origin(x, ins, 2, o.f != NULL);
    return ox_put(x, nd->output[0], &o);
}

static float erff_(float v) { return erff(v); }

static ft_status fold_unary(ox *x, const Onnx__NodeProto *nd, const char *op, oval *a) {
    oval o;
    ft_status s = alloc_like(&o, a->dt, a->ndim, a->shape);
    if (s) return s;
    for (int64_t k = 0; k < a->numel; k++) {
        if (a->f) {
            float v = a->f[k], r;
            if (!strcmp(op, "Neg")) r = -v;
            else if (!strcmp(op, "Abs")) r = fabsf(v);
            else if (!strcmp(op, "Sqrt")) r = sqrtf(v);
            else if (!strcmp(op, "Exp")) r = expf(v);
            else if (!strcmp(op, "Log")) r = logf(v);
            else if (!strcmp(op, "Reciprocal")) r = 1.0f / v;
            else if (!strcmp(op, "Floor")) r = floorf(v);
            else if (!strcmp(op, "Ceil")) r = ceilf(v);
            else if (!strcmp(op, "Round")) r = nearbyintf(v);
            else if (!strcmp(op, "Relu")) r = v > 0 ? v : 0;
            else if (!strcmp(op, "Sigmoid")) r = 1.0f / (1.0f + expf(-v));
            else if (!strcmp(op, "Tanh")) r = tanhf(v);
            else if (!strcmp(op, "Erf")) r = erff_(v);
            else if (!strcmp(op, "Sign")) r = (float)((v > 0) - (v < 0));
            else r = v; /* Identity */
            o.f[k] = r;
        } else {
            int64_t v = a->i[k], r;
            if (!strcmp(op, "Neg")) r = (int64_t)(0 - (uint64_t)v);
            else if (!strcmp(op, "Abs")) r = v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
            else if (!strcmp(op, "Not")) r = !v;
            else if (!strcmp(op, "Relu")) r = v > 0 ? v : 0;
            else if (!strcmp(op, "Sign")) r = (v > 0) - (v < 0);
            else if (!strcmp(op, "Identity") || !strcmp(op, "Floor") || !strcmp(op, "Ceil") || !strcmp(op, "Round")) r = v;
            else { ft_free(o.i); return ox_node_fail(x, FT_EUNSUPPORTED, "%s of an integer constant", op); }
            o.i[k] = r;
        }
    }
    oval *ins[1] = {a};
    o.orig = out_origin(x, ins, 1, o.f != NULL);
    if (!strcmp(op, "Identity")) o.orig = a->orig;
    return ox_put(x, nd->output[0], &o);
}

static ft_status copy_reshaped(ox *x, const Onnx__NodeProto *nd, oval *a, int n, const int64_t *sh) {
    oval o;
    ft_status s = alloc_like(&o, a->dt, n, sh);
    if (s) return s;
    if (o.numel != a->numel) { ft_free(o.f); ft_free(o.i); return ox_node_fail(x, FT_ESHAPE, "element count changes"); }
    if (a->f) memcpy(o.f, a->f, (size_t)a->numel * sizeof(float));
    else memcpy(o.i, a->i, (size_t)a->numel * sizeof(int64_t));
    o.orig = a->orig;
    return ox_put(x, nd->output[0], &o);
}

/* gather elements of a into o: o[k] = a[src(k)] */
static void take(oval *o, const oval *a, int64_t k, int64_t src) {
    if (o->f) o->f[k] = a->f ? a->f[src] : (float)a->i[src];
    else o->i[k] = a->i ? a->i[src] : (int64_t)a->f[src];
}

static ft_status fold_cast(ox *x, const Onnx__NodeProto *nd, oval *a, int to) {
    oval o;
    if (to == OX_STRING || to == OX_COMPLEX64 || to == OX_COMPLEX128 || to <= 0 || to > 16)
        return ox_node_fail(x, FT_EUNSUPPORTED, "Cast to %s", ox_type_name(to));
    ft_status s = alloc_like(&o, to, a->ndim, a->shape);
    if (s) return s;
    for (int64_t k = 0; k < a->numel; k++) {
        if (o.f) {
            float v = a->f ? a->f[k] : (float)a->i[k];
            if (to == OX_FLOAT16) { /* round to half precision */
                if (isfinite(v) && fabsf(v) >= 6.1035156e-05f) {
                    int e;
                    float mnt = frexpf(v, &e);
                    v = ldexpf(nearbyintf(ldexpf(mnt, 11)), e - 11);
                    if (fabsf(v) > 65504.0f) v = copysignf(INFINITY, v);
                } else if (isfinite(v)) v = ldexpf(nearbyintf(ldexpf(v, 24)), -24);
            }
            o.f[k] = v;
        } else {
            int64_t v;
            if (a->f) {
                float f = a->f[k];
                if (to == OX_BOOL) v = f != 0;
                else v = isfinite(f) && fabsf(f) < 9.2e18f ? (int64_t)f : 0;
            } else v = a->i[k];
            switch (to) {
            case OX_BOOL: v = v != 0; break;
            case OX_INT8: v = (int8_t)v; break;
            case OX_UINT8: v = (uint8_t)v; break;
            case OX_INT16: v = (int16_t)v; break;
            case OX_UINT16: v = (uint16_t)v; break;
            case OX_INT32: v = (int32_t)v; break;
            case OX_UINT32: v = (uint32_t)v; break;
            default: break;
            }
            o.i[k] = v;
        }
    }
    o.orig = a->orig;
    return ox_put(x, nd->output[0], &o);
}

ft_status ox_fold(ox *x, const Onnx__NodeProto *nd, bool *done) {
    const char *op = nd->op_type;
    *done = false;
    ft_status s = FT_OK;
    if (!nd->n_output) return ox_node_fail(x, FT_EFORMAT, "node has no outputs");
    if (!strcmp(op, "Constant")) {
        *done = true;
        oval o;
        memset(&o, 0, sizeof o);
        const Onnx__AttributeProto *a;
        if ((a = ox_attr(nd, "value")) && a->t) {
            if ((s = ox_tensor_to_val(x, a->t, "the Constant's value", &o))) { ft_free(o.f); ft_free(o.i); return s; }
        } else if ((a = ox_attr(nd, "value_float"))) {
            int64_t sh[1];
            if ((s = alloc_like(&o, OX_FLOAT, 0, sh))) return s;
            o.f[0] = a->f;
        } else if ((a = ox_attr(nd, "value_int"))) {
            int64_t sh[1];
            if ((s = alloc_like(&o, OX_INT64, 0, sh))) return s;
            o.i[0] = a->i;
        } else if ((a = ox_attr(nd, "value_floats"))) {
            int64_t sh[1] = {(int64_t)a->n_floats};
            if ((s = alloc_like(&o, OX_FLOAT, 1, sh))) return s;
            for (size_t k = 0; k < a->n_floats; k++) o.f[k] = a->floats[k];
        } else if ((a = ox_attr(nd, "value_ints"))) {
            int64_t sh[1] = {(int64_t)a->n_ints};
            if ((s = alloc_like(&o, OX_INT64, 1, sh))) return s;
            for (size_t k = 0; k < a->n_ints; k++) o.i[k] = a->ints[k];
        } else return ox_node_fail(x, FT_EUNSUPPORTED, "a Constant needs value, value_float(s) or value_int(s) (sparse and string values are not supported)");
        o.is_const = true;
        o.orig = x->in_branch && o.f && o.numel > 1 ? ORIG_BRANCH : ORIG_CONST;
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "Shape") || !strcmp(op, "Size")) {
        oval *a = ox_in(x, nd, 0);
        if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
        *done = true;
        oval o;
        if (!strcmp(op, "Size")) {
            int64_t sh[1];
            if ((s = alloc_like(&o, OX_INT64, 0, sh))) return s;
            o.i[0] = ox_numel(a->ndim, a->shape);
        } else {
            int64_t st = ox_attr_i(nd, "start", 0), en = ox_attr_i(nd, "end", a->ndim);
            if (st < 0) st += a->ndim;
            if (en < 0) en += a->ndim;
            st = st < 0 ? 0 : st > a->ndim ? a->ndim : st;
            en = en < 0 ? 0 : en > a->ndim ? a->ndim : en;
            int64_t sh[1] = {en > st ? en - st : 0};
            if ((s = alloc_like(&o, OX_INT64, 1, sh))) return s;
            for (int64_t k = 0; k < sh[0]; k++) o.i[k] = a->shape[st + k];
        }
        o.orig = ORIG_CONST;
        return ox_put(x, nd->output[0], &o);
    }
    /* everything else folds only when every input is a constant */
    if (!nd->n_input) return FT_OK;
    for (size_t j = 0; j < nd->n_input; j++) {
        oval *v = ox_in(x, nd, j);
        if (nd->input[j][0] && (!v || !v->is_const)) return FT_OK;
    }
    oval *a = ox_in(x, nd, 0), *b = ox_in(x, nd, 1);
    static const struct { const char *name; ebin op; } bins[] = {
        {"Add", E_ADD}, {"Sub", E_SUB}, {"Mul", E_MUL}, {"Div", E_DIV}, {"Pow", E_POW}, {"Mod", E_MOD},
        {"Equal", E_EQ}, {"Less", E_LT}, {"Greater", E_GT}, {"LessOrEqual", E_LE}, {"GreaterOrEqual", E_GE},
        {"And", E_AND}, {"Or", E_OR}, {"Xor", E_XOR}};
    for (size_t k = 0; k < sizeof bins / sizeof bins[0]; k++)
        if (!strcmp(op, bins[k].name)) {
            if (!a || !b) return ox_node_fail(x, FT_EFORMAT, "needs two inputs");
            *done = true;
            return fold_binary(x, nd, bins[k].op, a, b);
        }
    if (!strcmp(op, "Max") || !strcmp(op, "Min") || !strcmp(op, "Sum")) { /* variadic */
        if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
        *done = true;
        if (nd->n_input == 1) return fold_unary(x, nd, "Identity", a);
        if (nd->n_input > 2) return ox_node_fail(x, FT_EUNSUPPORTED, "folding %s of more than 2 constants", op);
        return fold_binary(x, nd, op[1] == 'a' ? E_MAX : op[1] == 'i' ? E_MIN : E_ADD, a, b);
    }
    static const char *unary[] = {"Neg", "Abs", "Sqrt", "Exp", "Log", "Reciprocal", "Floor", "Ceil", "Round", "Not", "Relu",
                                  "Sigmoid", "Tanh", "Erf", "Sign", "Identity"};
    for (size_t k = 0; k < sizeof unary / sizeof unary[0]; k++)
        if (!strcmp(op, unary[k])) {
            if (!a) return ox_node_fail(x, FT_EFORMAT, "needs an input");
            *done = true;
            return fold_unary(x, nd, op, a);
        }
    if (!a) return FT_OK;
    if (!strcmp(op, "Cast")) {
        *done = true;
        return fold_cast(x, nd, a, (int)ox_attr_i(nd, "to", 0));
    }
    if (!strcmp(op, "CastLike") && b) {
        *done = true;
        return fold_cast(x, nd, a, b->dt);
    }
    if (!strcmp(op, "Reshape")) {
        if (!b) return ox_node_fail(x, FT_EFORMAT, "needs a shape input");
        *done = true;
        int n;
        int64_t sh[OX_MAX_DIMS];
        if ((s = ox_reshape_shape(x, a, b, ox_attr_i(nd, "allowzero", 0) != 0, &n, sh))) return s;
        return copy_reshaped(x, nd, a, n, sh);
    }
    if (!strcmp(op, "Flatten")) {
        *done = true;
        int64_t ax0 = ox_attr_i(nd, "axis", 1);
        int ax = ax0 < 0 ? ox_norm_axis(ax0 + a->ndim, a->ndim + 1) : ox_norm_axis(ax0, a->ndim + 1); /* -r..r */
        if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
        int64_t sh[2] = {1, 1};
        for (int d = 0; d < a->ndim; d++) sh[d < ax ? 0 : 1] *= a->shape[d];
        return copy_reshaped(x, nd, a, 2, sh);
    }
    if (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
        *done = true;
        int64_t axes[OX_MAX_DIMS], sh[OX_MAX_DIMS];
        int n, r;
        if ((s = ox_axes(x, nd, 1, axes, &n))) return s;
        s = op[0] == 'S' ? ox_squeeze_shape(x, a, axes, n, &r, sh) : ox_unsqueeze_shape(x, a, axes, n, &r, sh);
        return s ? s : copy_reshaped(x, nd, a, r, sh);
    }
    if (!strcmp(op, "Transpose")) {
        *done = true;
        const int64_t *perm;
        int np = ox_attr_ints(nd, "perm", &perm);
        int p[OX_MAX_DIMS];
        bool seen[OX_MAX_DIMS] = {false};
        if (np >= 0 && np != a->ndim) return ox_node_fail(x, FT_EFORMAT, "perm has %d entries for %d dims", np, a->ndim);
        for (int d = 0; d < a->ndim; d++) {
            p[d] = np >= 0 ? ox_norm_axis(perm[d], a->ndim) : a->ndim - 1 - d;
            if (p[d] < 0 || seen[p[d]]) return ox_node_fail(x, FT_EFORMAT, "perm is not a permutation");
            seen[p[d]] = true;
        }
        int64_t sh[OX_MAX_DIMS], ist[OX_MAX_DIMS];
        for (int d = 0; d < a->ndim; d++) sh[d] = a->shape[p[d]];
        oval o;
        if ((s = alloc_like(&o, a->dt, a->ndim, sh))) return s;
        strides(a->ndim, a->shape, ist);
        for (int64_t k = 0; k < o.numel; k++) {
            int64_t r = k, src = 0;
            for (int d = a->ndim - 1; d >= 0; d--) { src += (r % sh[d]) * ist[p[d]]; r /= sh[d]; }
            take(&o, a, k, src);
        }
        o.orig = a->orig;
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "Concat")) {
        *done = true;
        int ax = ox_norm_axis(ox_attr_i(nd, "axis", 0), a->ndim);
        if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
        int64_t sh[OX_MAX_DIMS];
        memcpy(sh, a->shape, sizeof sh);
        sh[ax] = 0;
        bool fl = false;
        for (size_t j = 0; j < nd->n_input; j++) {
            oval *v = ox_in(x, nd, j);
            if (!v) continue;
            if (v->ndim != a->ndim) return ox_node_fail(x, FT_ESHAPE, "inputs have different ranks");
            for (int d = 0; d < a->ndim; d++)
                if (d != ax && v->shape[d] != a->shape[d]) return ox_node_fail(x, FT_ESHAPE, "input shapes differ off the axis");
            sh[ax] += v->shape[ax];
            fl |= v->f != NULL;
        }
        oval o;
        if ((s = alloc_like(&o, fl && !a->f ? OX_FLOAT : a->dt, a->ndim, sh))) return s;
        int64_t outer = 1, inner = 1, at = 0;
        for (int d = 0; d < ax; d++) outer *= sh[d];
        for (int d = ax + 1; d < a->ndim; d++) inner *= sh[d];
        for (int64_t ob = 0; ob < outer; ob++)
            for (size_t j = 0; j < nd->n_input; j++) {
                oval *v = ox_in(x, nd, j);
                if (!v) continue;
                int64_t blk = v->shape[ax] * inner;
                for (int64_t e = 0; e < blk; e++) take(&o, v, at++, ob * blk + e);
            }
        oval *ins[2] = {a, b};
        o.orig = out_origin(x, ins, 2, o.f != NULL);
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "Gather")) {
        if (!b || !b->i) return ox_node_fail(x, FT_EFORMAT, "needs integer indices");
        *done = true;
        int ax = ox_norm_axis(ox_attr_i(nd, "axis", 0), a->ndim);
        if (ax < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
        int r = a->ndim - 1 + b->ndim;
        if (r > OX_MAX_DIMS) return ox_node_fail(x, FT_EUNSUPPORTED, "result has more than %d dims", OX_MAX_DIMS);
        int64_t sh[OX_MAX_DIMS];
        int q = 0;
        for (int d = 0; d < ax; d++) sh[q++] = a->shape[d];
        for (int d = 0; d < b->ndim; d++) sh[q++] = b->shape[d];
        for (int d = ax + 1; d < a->ndim; d++) sh[q++] = a->shape[d];
        oval o;
        if ((s = alloc_like(&o, a->dt, r, sh))) return s;
        int64_t outer = 1, inner = 1, at = 0;
        for (int d = 0; d < ax; d++) outer *= a->shape[d];
        for (int d = ax + 1; d < a->ndim; d++) inner *= a->shape[d];
        for (int64_t ob = 0; ob < outer; ob++)
            for (int64_t t = 0; t < b->numel; t++) {
                int64_t id = b->i[t];
                if (id < 0) id += a->shape[ax];
                if (id < 0 || id >= a->shape[ax]) { ft_free(o.f); ft_free(o.i); return ox_node_fail(x, FT_EFORMAT, "index %lld is out of range", (long long)b->i[t]); }
                for (int64_t e = 0; e < inner; e++) take(&o, a, at++, (ob * a->shape[ax] + id) * inner + e);
            }
        o.orig = a->orig;
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "Slice")) {
        *done = true;
        oslice sl;
        if ((s = ox_slice_params(x, nd, a, &sl))) return s;
        oval o;
        if ((s = alloc_like(&o, a->dt, a->ndim, sl.len))) return s;
        int64_t ist[OX_MAX_DIMS];
        strides(a->ndim, a->shape, ist);
        for (int64_t k = 0; k < o.numel; k++) {
            int64_t r = k, src = 0;
            for (int d = a->ndim - 1; d >= 0; d--) { src += (sl.start[d] + (r % sl.len[d]) * sl.step[d]) * ist[d]; r /= sl.len[d]; }
            take(&o, a, k, src);
        }
        o.orig = a->orig;
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "Expand") || !strcmp(op, "Tile")) {
        if (!b || !b->i || b->ndim != 1 || b->numel > OX_MAX_DIMS) return ox_node_fail(x, FT_EFORMAT, "needs a 1-D integer shape");
        *done = true;
        int n;
        int64_t sh[OX_MAX_DIMS];
        if (op[0] == 'E') {
            if ((s = ox_broadcast(x, a->ndim, a->shape, (int)b->numel, b->i, &n, sh))) return s;
        } else {
            if (b->numel != a->ndim) return ox_node_fail(x, FT_EFORMAT, "repeats has %lld entries for %d dims", (long long)b->numel, a->ndim);
            n = a->ndim;
            for (int d = 0; d < n; d++) {
                if (b->i[d] < 0) return ox_node_fail(x, FT_EFORMAT, "negative repeat");
                sh[d] = a->shape[d] * b->i[d];
            }
        }
        oval o;
        if ((s = alloc_like(&o, a->dt, n, sh))) return s;
        int64_t ist[OX_MAX_DIMS];
        strides(a->ndim, a->shape, ist);
        for (int64_t k = 0; k < o.numel; k++) {
            int64_t src;
            if (op[0] == 'E') src = bcast_off(k, n, sh, a);
            else {
                int64_t r = k;
                src = 0;
                for (int d = n - 1; d >= 0; d--) { src += ((r % sh[d]) % a->shape[d]) * ist[d]; r /= sh[d]; }
            }
            take(&o, a, k, src);
        }
        o.orig = a->orig;
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "ConstantOfShape")) {
        if (!a->i || a->ndim != 1 || a->numel > OX_MAX_DIMS) return ox_node_fail(x, FT_EFORMAT, "needs a 1-D integer shape");
        *done = true;
        const Onnx__AttributeProto *va = ox_attr(nd, "value");
        oval fillv;
        memset(&fillv, 0, sizeof fillv);
        if (va && va->t) {
            if ((s = ox_tensor_to_val(x, va->t, "the value", &fillv))) { ft_free(fillv.f); ft_free(fillv.i); return s; }
            if (fillv.numel != 1) { ft_free(fillv.f); ft_free(fillv.i); return ox_node_fail(x, FT_EFORMAT, "value must have one element"); }
        }
        oval o;
        s = alloc_like(&o, va && va->t ? fillv.dt : OX_FLOAT, (int)a->numel, a->i);
        for (int64_t k = 0; !s && k < o.numel; k++) {
            if (o.f) o.f[k] = fillv.f ? fillv.f[0] : fillv.i ? (float)fillv.i[0] : 0.0f;
            else o.i[k] = fillv.i ? fillv.i[0] : 0;
        }
        ft_free(fillv.f);
        ft_free(fillv.i);
        if (s) return s;
        o.orig = ORIG_CONST;
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "Range")) {
        oval *c = ox_in(x, nd, 2);
        if (!b || !c || a->numel != 1 || b->numel != 1 || c->numel != 1) return ox_node_fail(x, FT_EFORMAT, "needs scalar start, limit and delta");
        *done = true;
        double st = fget(a, 0), li = fget(b, 0), de = fget(c, 0);
        if (de == 0) return ox_node_fail(x, FT_EFORMAT, "delta is 0");
        double cnt = ceil((li - st) / de);
        int64_t sh[1] = {cnt > 0 ? (int64_t)cnt : 0};
        if (sh[0] > OX_MAX_NUMEL) return ox_node_fail(x, FT_EUNSUPPORTED, "range too long");
        oval o;
        if ((s = alloc_like(&o, a->dt, 1, sh))) return s;
        for (int64_t k = 0; k < sh[0]; k++) {
            if (o.f) o.f[k] = (float)(a->f[0] + (float)k * c->f[0]);
            else o.i[k] = a->i[0] + k * c->i[0];
        }
        o.orig = ORIG_CONST;
        return ox_put(x, nd->output[0], &o);
    }
    if (!strcmp(op, "Where")) {
        oval *c = ox_in(x, nd, 2);
        if (!b || !c) return ox_node_fail(x, FT_EFORMAT, "needs three inputs");
        *done = true;
        int n1, n;
        int64_t s1[OX_MAX_DIMS], sh[OX_MAX_DIMS];
        if ((s = ox_broadcast(x, a->ndim, a->shape, b->ndim, b->shape, &n1, s1)) || (s = ox_broadcast(x, n1, s1, c->ndim, c->shape, &n, sh))) return s;
        oval o;
        if ((s = alloc_like(&o, b->dt, n, sh))) return s;
        for (int64_t k = 0; k < o.numel; k++) {
            bool t = fget(a, bcast_off(k, n, sh, a)) != 0;
            const oval *src = t ? b : c;
            take(&o, src, k, bcast_off(k, n, sh, src));
        }
        oval *ins[3] = {a, b, c};
        o.orig = out_origin(x, ins, 3, o.f != NULL);
        return ox_put(x, nd->output[0], &o);
    }
    if (!strncmp(op, "Reduce", 6) && (!strcmp(op + 6, "Sum") || !strcmp(op + 6, "Prod") || !strcmp(op + 6, "Max") || !strcmp(op + 6, "Min") || !strcmp(op + 6, "Mean"))) {
        *done = true;
        int64_t axes[OX_MAX_DIMS];
        int n;
        if ((s = ox_axes(x, nd, !strcmp(op, "ReduceSum") && x->opset >= 13 ? 1 : (x->opset >= 18 ? 1 : -1), axes, &n))) return s;
        bool red[OX_MAX_DIMS] = {false}, keep = ox_attr_i(nd, "keepdims", 1) != 0;
        if (n <= 0) {
            if (n == 0 && ox_attr_i(nd, "noop_with_empty_axes", 0)) return fold_unary(x, nd, "Identity", a);
            for (int d = 0; d < a->ndim; d++) red[d] = true;
        }
        for (int k = 0; k < n; k++) {
            int d = ox_norm_axis(axes[k], a->ndim);
            if (d < 0) return ox_node_fail(x, FT_EFORMAT, "axis out of range");
            red[d] = true;
        }
        int64_t sh[OX_MAX_DIMS], full[OX_MAX_DIMS];
        int r = 0;
        for (int d = 0; d < a->ndim; d++) {
            full[d] = red[d] ? 1 : a->shape[d];
            if (!red[d] || keep) sh[r++] = full[d];
        }
        oval o;
        if ((s = alloc_like(&o, a->dt, r, sh))) return s;
        int64_t *cnt = ft_calloc((size_t)(o.numel ? o.numel : 1), sizeof *cnt), ost[OX_MAX_DIMS];
        double *acc = ft_calloc((size_t)(o.numel ? o.numel : 1), sizeof *acc);
        if (!cnt || !acc) { ft_free(cnt); ft_free(acc); ft_free(o.f); ft_free(o.i); return ox_oom(); }
        strides(a->ndim, full, ost);
        for (int64_t k = 0; k < a->numel; k++) {
            int64_t rr = k, dst = 0;
            for (int d = a->ndim - 1; d >= 0; d--) { if (!red[d]) dst += (rr % a->shape[d]) * ost[d]; rr /= a->shape[d]; }
            double v = fget(a, k);
            if (!cnt[dst]) acc[dst] = v;
            else if (!strcmp(op, "ReduceSum") || !strcmp(op, "ReduceMean")) acc[dst] += v;
            else if (!strcmp(op, "ReduceProd")) acc[dst] *= v;
            else if (!strcmp(op, "ReduceMax")) acc[dst] = v > acc[dst] ? v : acc[dst];
            else acc[dst] = v < acc[dst] ? v : acc[dst];
            cnt[dst]++;
        }
        for (int64_t k = 0; k < o.numel; k++) {
            double v = !strcmp(op, "ReduceMean") && cnt[k] ? acc[k] / (double)cnt[k] : acc[k];
            if (o.f) o.f[k] = (float)v;
            else o.i[k] = (int64_t)v;
        }
        ft_free(cnt);
        ft_free(acc);
        o.orig = ORIG_CONST;
        return ox_put(x, nd->output[0], &o);
    }
    return FT_OK; /* not foldable here: mapped (or refused) by ox_map */
}
