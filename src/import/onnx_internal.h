/* ONNX import internals shared by onnx.c (reader, driver, config), onnx_eval.c (constant
 * folding) and onnx_map.c (ONNX op -> graph-config nodes). See docs/import.md, "ONNX". */
#ifndef FT_IMPORT_ONNX_INTERNAL_H
#define FT_IMPORT_ONNX_INTERNAL_H

#include "finetune/import.h"
#include "onnx.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define OX_MAX_DIMS 8
#define OX_MAX_NUMEL ((int64_t)1 << 31) /* elements of one constant or activation */

/* ONNX TensorProto.DataType values we name */
enum {
    OX_FLOAT = 1, OX_UINT8 = 2, OX_INT8 = 3, OX_UINT16 = 4, OX_INT16 = 5, OX_INT32 = 6, OX_INT64 = 7, OX_STRING = 8,
    OX_BOOL = 9, OX_FLOAT16 = 10, OX_DOUBLE = 11, OX_UINT32 = 12, OX_UINT64 = 13, OX_COMPLEX64 = 14, OX_COMPLEX128 = 15,
    OX_BFLOAT16 = 16
};

/* Where a constant came from: decides trainable parameter vs fixed buffer. */
enum { ORIG_INIT = 0, ORIG_CONST = 1, ORIG_BIND = 2, ORIG_BRANCH = 3 };

/* One ONNX value (tensor name). Either a constant with known data (initializers, Constant
 * nodes, bound inputs and everything folded from them) or a dynamic value computed by a
 * graph-config node. Both have a static shape. */
typedef struct {
    char *name;
    bool is_const;
    int dt;                        /* ONNX data type; dynamic values are OX_FLOAT or OX_BOOL (0/1 floats) */
    int ndim;
    int64_t shape[OX_MAX_DIMS];
    int64_t numel;
    float *f;                      /* constant data of float types (float16/double converted) */
    int64_t *i;                    /* constant data of integer and bool types */
    int orig;                      /* ORIG_* (constants) */
    char *param;                   /* constant: its parameter, once declared */
    char *node;                    /* dynamic: the graph-config node (or input) giving it; constant: an
                                    * identity node lifting its parameter into an input position */
} oval;

typedef struct {
    char *param;
    float *data; /* owned */
    int64_t numel;
} ofill;

/* An emitted graph-config node, for the head search and pattern fusion. */
typedef struct {
    char *name, *op, *in0, *weight, *bias;
} oemit;

typedef struct {
    char **keys;
    int *vals;
    size_t cap, n;
} omap;

typedef struct ox {
    const char *label;          /* for messages: the path or the caller's label */
    char *dir;                  /* directory for external data ("" = none) */
    ft_onnx_opts o;
    int64_t opset;              /* of the default domain */
    oval *v;
    int nv, capv;
    omap idx;                   /* value name -> index in v (the latest definition) */
    omap names;                 /* graph-config node and param names taken */
    json_t *root, *params, *nodes;
    ofill *fills;
    int nfill, capfill;
    oemit *em;
    int nem, capem;
    omap em_at;                 /* emitted node name -> index in em */
    omap consumed;              /* name -> how many node inputs (any subgraph) and outputs read it */
    omap skip;                  /* first outputs of nodes already handled by a fused pattern */
    const Onnx__GraphProto *cur_graph; /* the (sub)graph being run */
    const Onnx__NodeProto *nd;  /* the node being mapped (messages) */
    int depth;                  /* If-branch nesting while inlining */
    int in_branch;              /* > 0 while inlining a branch */
    char *input_node;           /* the graph input's name in the config */
    bool fixed_batch;           /* a node depends on the batch size (a reshape over the batch) */
    bool batch_fixed_in_file;   /* dim 0 of the data input is a number (in the file or from the caller) */
    int64_t batch_value;
} ox;

/* maps */
int *omap_get(const omap *m, const char *k);
ft_status omap_put(omap *m, const char *k, int v);
void omap_free(omap *m);

/* values */
oval *ox_val(ox *x, const char *name);                  /* NULL when undefined */
int ox_new_val(ox *x, const char *name);                /* a fresh definition of name (index; -1 on OOM) */
ft_status ox_oom(void);
int64_t ox_numel(int ndim, const int64_t *shape);       /* -1 when too large */
bool ox_is_float_type(int dt);
const char *ox_type_name(int dt);

/* attributes of x->nd */
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *nd, const char *name);
int64_t ox_attr_i(const Onnx__NodeProto *nd, const char *name, int64_t def);
float ox_attr_f(const Onnx__NodeProto *nd, const char *name, float def);
const char *ox_attr_s(const Onnx__NodeProto *nd, const char *name, const char *def, char *buf, size_t n);
/* ints attribute: count (or -1 when absent) and pointer */
int ox_attr_ints(const Onnx__NodeProto *nd, const char *name, const int64_t **out);

/* messages naming the node being converted */
ft_status ox_node_fail(ox *x, ft_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ft_status ox_unsupported(ox *x, const char *why);

/* A TensorProto into a constant value (type conversion, external data, size checks). */
ft_status ox_tensor_to_val(ox *x, const Onnx__TensorProto *t, const char *what, oval *out);

/* shape helpers shared by folding and mapping (onnx_eval.c) */
int ox_norm_axis(int64_t axis, int ndim); /* -1 when out of range */
ft_status ox_broadcast(ox *x, int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out);
ft_status ox_reshape_shape(ox *x, const oval *in, const oval *target, bool allowzero, int *nout, int64_t *out);
/* the axes input (opset >= 13) or attribute of Squeeze/Unsqueeze/Reduce*; n = -1 when absent */
ft_status ox_axes(ox *x, const Onnx__NodeProto *nd, int input_index, int64_t *axes, int *n);
ft_status ox_unsqueeze_shape(ox *x, const oval *in, const int64_t *axes, int n, int *nout, int64_t *out);
ft_status ox_squeeze_shape(ox *x, const oval *in, const int64_t *axes, int n, int *nout, int64_t *out);
/* Slice parameters per dim (start, end, step resolved and clamped as ONNX does) */
typedef struct { int64_t start[OX_MAX_DIMS], step[OX_MAX_DIMS], len[OX_MAX_DIMS]; bool sliced[OX_MAX_DIMS]; } oslice;
ft_status ox_slice_params(ox *x, const Onnx__NodeProto *nd, const oval *data, oslice *sl);
oval *ox_in(ox *x, const Onnx__NodeProto *nd, size_t j); /* input j or NULL when absent */
/* define a value (takes over the data of tmp) */
ft_status ox_put(ox *x, const char *name, oval *tmp);

/* folding (onnx_eval.c): *done = false when the op is not one the evaluator knows */
ft_status ox_fold(ox *x, const Onnx__NodeProto *nd, bool *done);
/* mapping (onnx_map.c) */
ft_status ox_map(ox *x, const Onnx__NodeProto *nd);
/* a node of a model of opset 1-6: FT_OK when its op is defined there as at opset 7 */
ft_status ox_check_old_opset(ox *x, const Onnx__NodeProto *nd);
/* run the nodes of a (sub)graph in order (onnx.c) */
ft_status ox_run_graph(ox *x, const Onnx__GraphProto *g, const char *what);

/* config building (onnx.c) */
const char *ox_param(ox *x, oval *v, int force); /* declare v as a parameter; force: 0 by origin, 1 trainable, 2 buffer */
/* declare a parameter from raw data (shape may differ from the ONNX tensor's) */
const char *ox_declare(ox *x, const char *raw, int ndim, const int64_t *shape, const float *data, bool trainable);
const char *ox_emit(ox *x, const char *op, const char *const *ins, int nin, const char *const *pars, int npar,
                    json_t *attrs, const char *hint);
bool ox_op_known(const char *op);
/* v as an activation: its node, or its parameter lifted by an identity node (onnx_map.c) */
const char *ox_lift(ox *x, oval *v); /* a graph-config op the library has */

#endif
