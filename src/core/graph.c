/* Graph building, planning (pruned backward + lifetime-based memory layout) and running. */
#include "finetune/graph.h"
#include "ops/ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct ft_graph {
    ft_params *params;
    ft_node **nodes;
    int n, cap;
    ft_status status;
    char err[512];
    ft_node *loss;
    bool training, planned;
    bool fresh_forward;    /* a forward ran since the last backward (backward consumes it) */
    uint8_t *arena;
    size_t arena_size;
    int *bwd;              /* node ids whose backward runs, in backward order */
    int n_bwd;
    int *grad_zero_by;     /* per node: id of the bwd node before which its grad is zeroed */
    bool *needed;          /* per node: computed in forward */
    ft_plan_stats stats;
};

static _Thread_local bool use_reference;
void ft_set_reference_kernels(bool on) { use_reference = on; }
bool ft_reference_kernels(void) { return use_reference; }

const char *ft_op_name(ft_op op) { return (unsigned)op < FT_OP_COUNT ? ft_op_table[op]->name : "?"; }

ft_graph *ft_graph_new(ft_params *params) {
    ft_graph *g = ft_calloc(1, sizeof *g);
    if (g) g->params = params;
    return g;
}

void ft_graph_free(ft_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        ft_free(g->nodes[i]->ilist);
        ft_free(g->nodes[i]);
    }
    ft_free(g->nodes);
    ft_free_aligned(g->arena);
    ft_free(g->bwd);
    ft_free(g->grad_zero_by);
    ft_free(g->needed);
    ft_free(g);
}

ft_status ft_graph_status(const ft_graph *g) { return g->status; }
int ft_graph_node_count(const ft_graph *g) { return g->n; }
ft_node *ft_graph_node(ft_graph *g, int i) { return (i >= 0 && i < g->n) ? g->nodes[i] : NULL; }
ft_plan_stats ft_graph_stats(const ft_graph *g) { return g->stats; }
void ft_node_keep(ft_node *n) { if (n) n->keep = true; }

ft_node *ft_graph_fail(ft_graph *g, ft_status s, const char *fmt, ...) {
    if (g->status == FT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, sizeof g->err, fmt, ap);
        va_end(ap);
        g->status = s;
    }
    return NULL;
}

bool ft_graph_ok(ft_graph *g, int n, ft_node *const *in) {
    if (g->status) return false;
    if (g->planned) { ft_graph_fail(g, FT_EINVAL, "graph already planned; build a new one for a new shape"); return false; }
    for (int i = 0; i < n; i++)
        if (!in[i]) { ft_graph_fail(g, FT_EINVAL, "internal: NULL input to op"); return false; }
    return true;
}

int64_t ft_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

void ft_shape_str(const ft_node *n, char *buf, size_t size) {
    size_t o = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n->ndim && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, i ? ",%lld" : "%lld", (long long)n->shape[i]);
    if (o < size) snprintf(buf + o, size - o, "]");
}

int ft_norm_dim(int dim, int ndim) {
    if (dim < 0) dim += ndim;
    return (dim >= 0 && dim < ndim) ? dim : -1;
}

ft_node *ft_node_new(ft_graph *g, ft_op op, int n_in, ft_node *const *in, int ndim, const int64_t *shape) {
    if (!ft_graph_ok(g, n_in, in)) return NULL;
    if (ndim > FT_MAX_DIMS) return ft_graph_fail(g, FT_ESHAPE, "%s: result has %d dims (max %d)", ft_op_name(op), ndim, FT_MAX_DIMS);
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        ft_node **nn = ft_realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return ft_graph_fail(g, FT_ENOMEM, "out of memory building graph");
        g->nodes = nn;
        g->cap = cap;
    }
    ft_node *n = ft_calloc(1, sizeof *n);
    if (!n) return ft_graph_fail(g, FT_ENOMEM, "out of memory building graph");
    n->op = op;
    n->id = g->n;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    n->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) { ft_free(n); return ft_graph_fail(g, FT_ESHAPE, "%s: negative dimension", ft_op_name(op)); }
        n->shape[i] = shape[i];
    }
    n->numel = ft_shape_numel(ndim, shape);
    n->param = -1;
    for (int i = 0; i < n_in; i++) /* 0-size tensors: see ft_op_takes_empty */
        if (in[i]->numel == 0 && !ft_op_takes_empty(op, i, n->numel)) {
            char s[64];
            ft_shape_str(in[i], s, sizeof s);
            ft_free(n);
            return ft_graph_fail(g, FT_ESHAPE, "%s (node %d): input %d%s%s%s is empty %s; this op needs non-empty tensors", ft_op_name(op),
                                 g->n, i, in[i]->name[0] ? " '" : "", in[i]->name, in[i]->name[0] ? "'" : "", s);
        }
    g->nodes[g->n++] = n;
    return n;
}

ft_node *ft_input(ft_graph *g, const char *name, ft_dtype dtype, int ndim, const int64_t *shape) {
    ft_node *n = ft_node_new(g, FT_OP_INPUT, 0, NULL, ndim, shape);
    if (n) {
        n->dtype = dtype;
        snprintf(n->name, sizeof n->name, "%s", name ? name : "input");
    }
    return n;
}

ft_node *ft_param_at(ft_graph *g, int i) {
    if (!g->params || i < 0 || i >= g->params->n)
        return ft_graph_fail(g, FT_ENOTFOUND, "parameter index %d out of range", i);
    if (!g->params->finalized) return ft_graph_fail(g, FT_EINVAL, "parameter store not finalized");
    /* One node per parameter: reuse it so gradients from all uses meet in one place. */
    for (int k = 0; k < g->n; k++)
        if (g->nodes[k]->op == FT_OP_PARAM && g->nodes[k]->param == i) return g->nodes[k];
    const ft_param_info *p = &g->params->p[i];
    ft_node *n = ft_node_new(g, FT_OP_PARAM, 0, NULL, p->ndim, p->shape);
    if (!n) return NULL;
    n->param = i;
    n->val = ft_params_value(g->params, i);
    snprintf(n->name, sizeof n->name, "%s", p->name);
    return n;
}

ft_node *ft_param(ft_graph *g, const char *name) {
    int i = g->params ? ft_params_find(g->params, name) : -1;
    if (i < 0) return ft_graph_fail(g, FT_ENOTFOUND, "model has no parameter named '%s'", name);
    return ft_param_at(g, i);
}

/* ---------------- planning ---------------- */

typedef struct { size_t size, off; int start, end; ft_node *node; int kind; } interval; /* kind 0 val, 1 grad, 2 aux */

static unsigned saves_of(const ft_node *n) {
    const ft_op_def *d = ft_op_table[n->op];
    if (d->saves) return d->saves(n);
    unsigned m = FT_SAVE_OUT;
    for (int i = 0; i < n->n_in; i++) m |= 1u << i;
    return m;
}

static bool is_leaf(const ft_node *n) { return n->op == FT_OP_INPUT || n->op == FT_OP_PARAM; }

/* Greedy placement: largest first, lowest offset that overlaps no placed interval that is
 * alive at the same time. */
static size_t place_intervals(interval *iv, int n) {
    for (int i = 1; i < n; i++) { /* insertion sort by size desc (n is small-ish) */
        interval t = iv[i];
        int j = i - 1;
        while (j >= 0 && iv[j].size < t.size) { iv[j + 1] = iv[j]; j--; }
        iv[j + 1] = t;
    }
    size_t top = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int j = 0; j < i; j++) {
                if (iv[j].end < iv[i].start || iv[i].end < iv[j].start) continue;
                if (off < iv[j].off + iv[j].size && iv[j].off < off + iv[i].size) {
                    off = iv[j].off + iv[j].size;
                    moved = true;
                }
            }
        }
        iv[i].off = off;
        if (off + iv[i].size > top) top = off + iv[i].size;
    }
    return top;
}

static size_t padded_bytes(int64_t numel) { return ((size_t)numel * 4 + 63) / 64 * 64; }

ft_status ft_graph_plan(ft_graph *g, ft_node *loss, bool training) {
    if (g->status) return ft_fail(g->status, "%s", g->err);
    if (g->planned) return ft_fail(FT_EINVAL, "graph already planned");
    int N = g->n;
    if (training) {
        if (!loss) return ft_fail(FT_EINVAL, "training plan needs a loss node");
        if (loss->numel != 1) return ft_fail(FT_ESHAPE, "loss must be a scalar, got %lld elements", (long long)loss->numel);
    }
    g->loss = loss;
    g->training = training;
    bool *needed = ft_calloc((size_t)N + 1, sizeof *needed);
    bool *on_loss = ft_calloc((size_t)N + 1, sizeof *on_loss);
    int *first_bwd = ft_malloc(((size_t)N + 1) * sizeof *first_bwd);
    int *val_end = ft_malloc(((size_t)N + 1) * sizeof *val_end);
    interval *iv = ft_malloc(((size_t)N * 3 + 1) * sizeof *iv);
    bool *read_by_bwd = ft_calloc((size_t)N + 1, sizeof *read_by_bwd);
    g->bwd = ft_malloc(((size_t)N + 1) * sizeof *g->bwd);
    g->grad_zero_by = ft_malloc(((size_t)N + 1) * sizeof *g->grad_zero_by);
    ft_status st = FT_OK;
    if (!needed || !on_loss || !first_bwd || !val_end || !iv || !read_by_bwd || !g->bwd || !g->grad_zero_by) {
        st = ft_fail(FT_ENOMEM, "out of memory planning graph");
        goto done;
    }
    /* Which nodes forward must compute: ancestors of the loss and of kept outputs. */
    if (loss) needed[loss->id] = on_loss[loss->id] = true;
    for (int i = N - 1; i >= 0; i--) {
        ft_node *n = g->nodes[i];
        if (n->keep) needed[i] = true;
        for (int k = 0; k < n->n_in; k++) {
            if (needed[i]) needed[n->in[k]->id] = true;
            if (on_loss[i]) on_loss[n->in[k]->id] = true;
        }
    }
    /* Which nodes need a gradient: those depending on a trainable parameter. */
    for (int i = 0; i < N; i++) {
        ft_node *n = g->nodes[i];
        n->requires_grad = false;
        if (!training || n->dtype == FT_I32) continue;
        if (n->op == FT_OP_PARAM) {
            const ft_param_info *p = &g->params->p[n->param];
            n->requires_grad = p->trainable && !p->is_buffer;
            if (n->requires_grad && !ft_params_grad(g->params, n->param)) {
                st = ft_fail(FT_EINVAL, "parameter '%s' is trainable but has no gradient buffer (call ft_params_alloc_grads)", p->name);
                goto done;
            }
            n->grad = n->requires_grad ? ft_params_grad(g->params, n->param) : NULL;
        } else if (n->op != FT_OP_INPUT && !ft_op_no_grad(n->op)) {
            for (int k = 0; k < n->n_in; k++) n->requires_grad |= n->in[k]->requires_grad;
        }
    }
    if (training && !loss->requires_grad) {
        st = ft_fail(FT_EINVAL, "nothing to train: no trainable parameter reaches the loss (check --train/--freeze)");
        goto done;
    }
    for (int i = 0; i < N; i++) /* ops that behave differently in training (iarg[1]) */
        if (g->nodes[i]->op == FT_OP_DROPOUT || g->nodes[i]->op == FT_OP_BATCH_NORM) g->nodes[i]->iarg[1] = training;
    /* Backward set, in reverse order; t_b(i) = 2N-1-i. */
    g->n_bwd = 0;
    for (int i = N - 1; i >= 0 && training; i--) {
        ft_node *n = g->nodes[i];
        if (on_loss[i] && n->requires_grad && !is_leaf(n)) g->bwd[g->n_bwd++] = i;
    }
    bool *in_bwd = on_loss; /* reuse: in_bwd[i] = node i's backward runs */
    for (int i = 0; i < N; i++) in_bwd[i] = false;
    for (int k = 0; k < g->n_bwd; k++) in_bwd[g->bwd[k]] = true;

    for (int i = 0; i < N; i++) { val_end[i] = i; first_bwd[i] = -1; g->grad_zero_by[i] = -1; }
    int T_END = 2 * N;
    for (int i = 0; i < N; i++) {
        ft_node *n = g->nodes[i];
        if (!needed[i]) continue;
        unsigned sv = in_bwd[i] ? saves_of(n) : 0;
        if (sv & FT_SAVE_OUT) { val_end[i] = 2 * N - 1 - i; read_by_bwd[i] = true; }
        /* Inputs persist across steps (callers may set them once); kept outputs and the
         * loss stay readable after the step. */
        if (n->keep || n == loss || n->op == FT_OP_INPUT) val_end[i] = T_END;
        for (int k = 0; k < n->n_in; k++) {
            int j = n->in[k]->id;
            if (val_end[j] < i) val_end[j] = i;
            if ((sv >> k) & 1u) {
                int t = 2 * N - 1 - i;
                if (val_end[j] < t) val_end[j] = t;
                read_by_bwd[j] |= n->in[k]->op != FT_OP_PARAM; /* parameters are not activations */
            }
            /* The first consumer in backward order (the largest id) writes j's grad first. */
            if (in_bwd[i] && n->in[k]->requires_grad && first_bwd[j] < i) first_bwd[j] = i;
        }
    }
    int n_iv = 0;
    size_t saved = 0, naive = 0;
    for (int i = 0; i < N; i++) {
        ft_node *n = g->nodes[i];
        n->aux_numel = 0;
        if (!needed[i] || n->op == FT_OP_PARAM) continue;
        int start = n->op == FT_OP_INPUT ? 0 : i;
        iv[n_iv++] = (interval){padded_bytes(n->numel), 0, start, val_end[i], n, 0};
        if (read_by_bwd[i]) saved += (size_t)n->numel * 4;
        const ft_op_def *d = ft_op_table[n->op];
        if (d->aux_numel && (n->aux_numel = d->aux_numel(n)) > 0) {
            int end = in_bwd[i] ? 2 * N - 1 - i : i;
            iv[n_iv++] = (interval){padded_bytes(n->aux_numel), 0, i, end, n, 2};
            if (in_bwd[i]) saved += (size_t)n->aux_numel * 4;
        }
        if (n->requires_grad && training && (in_bwd[i]) ) {
            int start_g = n == loss ? 2 * N - 1 - i : 2 * N - 1 - first_bwd[i];
            if (n != loss && first_bwd[i] < 0) continue;
            iv[n_iv++] = (interval){padded_bytes(n->numel), 0, start_g, 2 * N - 1 - i, n, 1};
            g->grad_zero_by[i] = n == loss ? -1 : first_bwd[i];
        }
    }
    for (int k = 0; k < n_iv; k++) naive += iv[k].size;
    size_t total = place_intervals(iv, n_iv);
    /* Kernel workspace (im2col columns): kernels run one at a time, so one region of the
     * largest scratch_numel, after the placed buffers, serves every node. */
    int64_t scratch_numel = 0;
    for (int i = 0; i < N; i++)
        if (needed[i] && g->nodes[i]->scratch_numel > scratch_numel) scratch_numel = g->nodes[i]->scratch_numel;
    size_t scratch_off = total;
    if (scratch_numel > 0) { total += padded_bytes(scratch_numel); naive += padded_bytes(scratch_numel); }
    g->arena = ft_malloc_aligned(total ? total : 64);
    if (!g->arena) { st = ft_fail(FT_ENOMEM, "out of memory: graph arena of %zu bytes", total); goto done; }
    memset(g->arena, 0, total ? total : 64);
    g->arena_size = total;
    for (int k = 0; k < n_iv; k++) {
        float *p = (float *)(g->arena + iv[k].off);
        if (iv[k].kind == 0) iv[k].node->val = p;
        else if (iv[k].kind == 1) iv[k].node->grad = p;
        else iv[k].node->aux = p;
    }
    for (int i = 0; i < N; i++)
        g->nodes[i]->scratch = needed[i] && g->nodes[i]->scratch_numel > 0 ? (float *)(g->arena + scratch_off) : NULL;
    int n_fwd = 0;
    for (int i = 0; i < N; i++) n_fwd += needed[i] && !is_leaf(g->nodes[i]);
    g->stats = (ft_plan_stats){N, n_fwd, g->n_bwd, total, saved, naive};
    g->needed = needed;
    needed = NULL;
    g->planned = true;
done:
    ft_free(needed);
    ft_free(on_loss);
    ft_free(first_bwd);
    ft_free(val_end);
    ft_free(iv);
    ft_free(read_by_bwd);
    return st;
}

ft_status ft_graph_set_input(ft_graph *g, ft_node *input, const void *data, size_t bytes) {
    if (!g->planned) return ft_fail(FT_EINVAL, "graph not planned");
    if (!input || input->op != FT_OP_INPUT) return ft_fail(FT_EINVAL, "not an input node");
    if (!input->val) return FT_OK; /* unused by this plan */
    if (bytes == 0 && input->numel == 0) return FT_OK; /* an empty input: nothing to copy (data may be NULL) */
    if (bytes != (size_t)input->numel * 4) {
        char s[64];
        ft_shape_str(input, s, sizeof s);
        return ft_fail(FT_ESHAPE, "input '%s' expects %s (%lld values), got %zu bytes", input->name, s,
                       (long long)input->numel, bytes);
    }
    memcpy(input->val, data, bytes);
    return FT_OK;
}

/* splitmix64 finaliser: a counter-based key for dropout masks. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ft_graph_set_rng(ft_graph *g, uint64_t seed, uint64_t step) {
    for (int i = 0; i < g->n; i++) {
        ft_node *n = g->nodes[i];
        if (n->op != FT_OP_DROPOUT) continue;
        uint64_t key = mix64(seed ^ mix64(step * 0x9e3779b97f4a7c15ULL ^ mix64((uint64_t)i + 1)));
        n->iarg[2] = (int32_t)(uint32_t)key;
        n->iarg[3] = (int32_t)(uint32_t)(key >> 32);
    }
}

ft_status ft_graph_forward(ft_graph *g) {
    if (!g->planned) return ft_fail(FT_EINVAL, "graph not planned");
    for (int i = 0; i < g->n; i++) {
        ft_node *n = g->nodes[i];
        if (!g->needed[i] || is_leaf(n)) continue;
        /* An empty result has nothing to compute (embedding still checks its ids). */
        if (n->numel == 0 && n->op != FT_OP_EMBEDDING) continue;
        const ft_op_def *d = ft_op_table[n->op];
        ft_status s = (use_reference && d->forward_ref) ? d->forward_ref(n) : d->forward(n);
        if (s) { g->fresh_forward = false; return ft_fail_context(s, "%s (node %d%s%s)", d->name, i, n->name[0] ? " " : "", n->name); }
    }
    g->fresh_forward = true;
    return FT_OK;
}

ft_status ft_graph_backward(ft_graph *g) {
    if (!g->planned || !g->training) return ft_fail(FT_EINVAL, "graph not planned for training");
    /* Backward reuses activation memory for gradients, so each backward needs its own forward. */
    if (!g->fresh_forward) return ft_fail(FT_EINVAL, "backward needs a forward first (one backward per forward)");
    g->fresh_forward = false;
    g->loss->grad[0] = 1.0f;
    for (int k = 0; k < g->n_bwd; k++) {
        ft_node *n = g->nodes[g->bwd[k]];
        for (int j = 0; j < n->n_in; j++) {
            ft_node *x = n->in[j];
            if (x->grad && x->op != FT_OP_PARAM && g->grad_zero_by[x->id] == n->id) {
                memset(x->grad, 0, (size_t)x->numel * sizeof(float));
                g->grad_zero_by[x->id] = -2 - n->id; /* zeroed this step; restored below */
            }
        }
        /* Nothing flows back through an empty result: its inputs' gradients get 0 (zeroed above). */
        if (n->numel == 0) continue;
        const ft_op_def *d = ft_op_table[n->op];
        if (use_reference && d->backward_ref) d->backward_ref(n);
        else d->backward(n);
    }
    for (int i = 0; i < g->n; i++)
        if (g->grad_zero_by[i] <= -2) g->grad_zero_by[i] = -2 - g->grad_zero_by[i];
    return FT_OK;
}

/* ---------------- frozen frontier (feature caching) ---------------- */

enum { FZ_VARY = 0, FZ_CONST, FZ_FROZEN }; /* per node: varies per step, constant, frozen per example */

/* Whether op node n, whose inputs are all FZ_CONST or FZ_FROZEN (at least one frozen),
 * computes example j of its output from example j of its frozen inputs alone. N is the
 * batch size (x's first dimension). Conservative: an op not listed here is not frozen.
 * Dim 0 may hold a group of g >= 1 rows per example (a reshape with the batch in its shape
 * turning [N, K, ...] into [N*K, ...], as windowed models do: ft_model_time_windows):
 * example j owns rows [j*g, (j+1)*g), i.e. the j-th contiguous N-th of the values. Only a
 * reshape may change the group (row-major, so each example's block stays its own);
 * every other op must keep dim 0 as its frozen inputs have it. */
static bool per_example(const ft_node *n, const uint8_t *st, int64_t N, bool training) {
    if (n->ndim < 1 || N < 1 || n->shape[0] < N || n->shape[0] % N) return false;
    for (int k = 0; k < n->n_in; k++) {
        const ft_node *a = n->in[k];
        if (st[a->id] != FZ_FROZEN) continue;
        if (a->ndim < 1 || a->shape[0] < N || a->shape[0] % N) return false;
        if (a->shape[0] != n->shape[0] && n->op != FT_OP_RESHAPE) return false;
    }
    const ft_node *x = n->in[0];
    switch (n->op) {
    case FT_OP_ADD: case FT_OP_SUB: case FT_OP_MUL: case FT_OP_DIV:
    case FT_OP_POW: case FT_OP_MAXIMUM: case FT_OP_MINIMUM: case FT_OP_PRELU: case FT_OP_WHERE:
    case FT_OP_EQUAL: case FT_OP_GREATER: case FT_OP_GREATER_EQUAL: case FT_OP_LESS: case FT_OP_LESS_EQUAL:
        /* A frozen operand must carry the batch in dim 0 of the result; a constant one
         * must not vary along it (else example j would meet row j of the constant). */
        for (int k = 0; k < n->n_in; k++) {
            const ft_node *a = n->in[k];
            if (st[a->id] == FZ_FROZEN && a->ndim != n->ndim) return false;
            if (st[a->id] == FZ_CONST && a->ndim == n->ndim && a->shape[0] != 1) return false;
        }
        return true;
    case FT_OP_SCALE: case FT_OP_RELU: case FT_OP_GELU: case FT_OP_SILU: case FT_OP_SIGMOID: case FT_OP_TANH:
    case FT_OP_RELU6: case FT_OP_HARDSWISH: case FT_OP_HARDSIGMOID:
    case FT_OP_EXP: case FT_OP_LOG: case FT_OP_SQRT: case FT_OP_ABS: case FT_OP_NEG: case FT_OP_ERF:
    case FT_OP_RECIPROCAL: case FT_OP_LEAKY_RELU: case FT_OP_CLIP: case FT_OP_POW_SCALAR:
        return st[x->id] == FZ_FROZEN;
    case FT_OP_REDUCE_MAX: case FT_OP_REDUCE_MIN: /* iarg[0]: the reduced dims, which must not hold the batch */
        return st[x->id] == FZ_FROZEN && !(n->iarg[0] & 1);
    case FT_OP_SOFTMAX: case FT_OP_LOG_SOFTMAX: case FT_OP_LINEAR: case FT_OP_LAYER_NORM:
        /* Over the last dim (softmax: iarg[0] dims before it), which must not be the batch;
         * weights are constants. */
        if (st[x->id] != FZ_FROZEN || x->ndim < 2) return false;
        if ((n->op == FT_OP_SOFTMAX || n->op == FT_OP_LOG_SOFTMAX) && n->iarg[0] >= x->ndim - 1) return false;
        for (int k = 1; k < n->n_in; k++) if (st[n->in[k]->id] != FZ_CONST) return false;
        return true;
    case FT_OP_EMBEDDING:
        return st[x->id] == FZ_FROZEN && st[n->in[1]->id] == FZ_CONST;
    case FT_OP_RESHAPE: /* each example's contiguous block maps onto itself (dim 0 a multiple of N) */
        return st[x->id] == FZ_FROZEN;
    case FT_OP_TRANSPOSE:
        return st[x->id] == FZ_FROZEN && n->iarg[0] != 0 && n->iarg[1] != 0;
    case FT_OP_SLICE:
        return st[x->id] == FZ_FROZEN && n->iarg[0] != 0;
    case FT_OP_GATHER:
        return st[x->id] == FZ_FROZEN && n->iarg[0] != 0;
    case FT_OP_PERMUTE:
        return st[x->id] == FZ_FROZEN && n->iarg[0] == 0;
    case FT_OP_EXPAND: /* x keeps its batch dim in dim 0 (checked above: same N, same rank) */
        return st[x->id] == FZ_FROZEN && x->ndim == n->ndim;
    case FT_OP_PAD: /* nothing added to or cropped from the batch dim */
        return st[x->id] == FZ_FROZEN && x->ndim >= 1 && n->ilist[0] == 0 && n->ilist[x->ndim] == 0;
    case FT_OP_CONCAT:
        for (int k = 0; k < n->n_in; k++) if (st[n->in[k]->id] != FZ_FROZEN) return false;
        return n->iarg[0] != 0;
    case FT_OP_SUM: case FT_OP_MEAN:
        return st[x->id] == FZ_FROZEN && n->iarg[0] != 0 && n->iarg[0] != FT_ALL_DIMS;
    case FT_OP_DROPOUT:
        return st[x->id] == FZ_FROZEN && !(training && n->farg[0] > 0);
    case FT_OP_CONV2D: case FT_OP_BATCH_NORM:
    case FT_OP_MAX_POOL2D: case FT_OP_AVG_POOL2D: case FT_OP_GLOBAL_AVG_POOL: case FT_OP_PAD2D:
    case FT_OP_CONV_TRANSPOSE2D:
        if (st[x->id] != FZ_FROZEN || x->ndim < 3) return false;
        for (int k = 1; k < n->n_in; k++) if (st[n->in[k]->id] != FZ_CONST) return false;
        /* Batch statistics are not frozen (and update the running ones). Running statistics
         * are only constant with frozen_stats: in an eval plan without it, a training plan
         * of the same store may still be moving them. */
        if (n->op == FT_OP_BATCH_NORM && (!(n->iarg[0] & 4) || !n->iarg[2])) return false;
        return true;
    default:
        return false;
    }
}

int ft_graph_frozen_frontier(ft_graph *g, ft_node *x, ft_node *loss, bool training, ft_node **out, int max_out) {
    if (!g || g->status || g->planned || !x || x->op != FT_OP_INPUT || x->ndim < 1) return 0;
    int N = g->n, count = 0;
    uint8_t *st = ft_calloc((size_t)N + 1, 1);
    bool *needed = ft_calloc((size_t)N + 1, sizeof *needed);
    bool *front = ft_calloc((size_t)N + 1, sizeof *front);
    if (!st || !needed || !front) { count = -1; goto done; }
    if (loss) needed[loss->id] = true;
    for (int i = N - 1; i >= 0; i--) {
        ft_node *n = g->nodes[i];
        if (n->keep) needed[i] = true;
        if (needed[i])
            for (int k = 0; k < n->n_in; k++) needed[n->in[k]->id] = true;
    }
    for (int i = 0; i < N; i++) {
        ft_node *n = g->nodes[i];
        if (n->op == FT_OP_INPUT) { st[i] = n == x ? FZ_FROZEN : FZ_VARY; continue; }
        if (n->op == FT_OP_PARAM) {
            const ft_param_info *p = &g->params->p[n->param];
            st[i] = (p->is_buffer || !p->trainable) ? FZ_CONST : FZ_VARY;
            continue;
        }
        bool vary = false, frozen = false;
        for (int k = 0; k < n->n_in; k++) {
            vary |= st[n->in[k]->id] == FZ_VARY;
            frozen |= st[n->in[k]->id] == FZ_FROZEN;
        }
        bool stateful = (n->op == FT_OP_DROPOUT && training) || n->op == FT_OP_BATCH_NORM;
        if (vary) st[i] = FZ_VARY;
        else if (!frozen) st[i] = stateful ? FZ_VARY : FZ_CONST;
        else st[i] = per_example(n, st, x->shape[0], training) ? FZ_FROZEN : FZ_VARY;
    }
    for (int i = 0; i < N; i++) {
        ft_node *n = g->nodes[i];
        if (!needed[i]) continue;
        if (st[i] == FZ_FROZEN && (n->keep || n == loss)) front[i] = true;
        if (st[i] != FZ_VARY) continue;
        for (int k = 0; k < n->n_in; k++)
            if (st[n->in[k]->id] == FZ_FROZEN) front[n->in[k]->id] = true;
    }
    for (int i = 0; i < N; i++) {
        if (!front[i]) continue;
        if (count == max_out) { count = -1; break; }
        out[count++] = g->nodes[i];
    }
done:
    ft_free(st);
    ft_free(needed);
    ft_free(front);
    return count;
}

ft_status ft_graph_feed(ft_graph *g, ft_node *n) {
    if (!g || !n || n->id >= g->n || g->nodes[n->id] != n) return ft_fail(FT_EINVAL, "ft_graph_feed: node not in this graph");
    if (g->planned) return ft_fail(FT_EINVAL, "ft_graph_feed: graph already planned");
    if (n->op == FT_OP_PARAM) return ft_fail(FT_EINVAL, "ft_graph_feed: '%s' is a parameter", n->name);
    if (n->op == FT_OP_INPUT) return FT_OK;
    n->op = FT_OP_INPUT;
    n->n_in = 0;
    memset(n->in, 0, sizeof n->in);
    n->scratch_numel = 0;
    n->aux_numel = 0;
    if (!n->name[0]) snprintf(n->name, sizeof n->name, "fed%d", n->id);
    return FT_OK;
}
