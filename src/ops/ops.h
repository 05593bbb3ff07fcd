/* Internal op table. Each op file defines its builder(s) and an ft_op_def with the
 * fast forward/backward kernels and their naive reference twins side by side.
 *
 * Conventions for kernels:
 *  - forward writes n->val (and n->aux when the op saves state). It returns a status
 *    because some ops validate data (a label out of range, a token id past the vocab).
 *  - backward ADDS into n->in[i]->grad for every input whose grad is non-NULL (inputs
 *    that need no gradient have grad == NULL: that is the pruning). The planner zeroes
 *    each activation gradient before its first writer runs.
 *  - BLAS is only called from here, outside OpenMP regions (OpenBLAS's OpenMP build
 *    shares our thread pool; nested calls would run it single-threaded). */
#ifndef FT_OPS_H
#define FT_OPS_H

#include "finetune/graph.h"

#define FT_SAVE_OUT (1u << 15)  /* backward reads the op's own output value */

typedef struct {
    const char *name;
    ft_status (*forward)(ft_node *n);
    void (*backward)(ft_node *n);
    ft_status (*forward_ref)(ft_node *n);  /* NULL: forward is already the naive form */
    void (*backward_ref)(ft_node *n);
    /* Which values backward reads: bit i = in[i]->val, FT_SAVE_OUT = n->val. Depends on
     * which inputs need gradients (pruning keeps fewer activations). NULL = all inputs + out. */
    unsigned (*saves)(const ft_node *n);
    /* Floats of per-node state kept from forward to backward (dropout mask, LN stats). */
    int64_t (*aux_numel)(const ft_node *n);
} ft_op_def;

/* Ops whose output carries no gradient (comparisons): the planner never marks them as
 * requiring one, so nothing upstream back-propagates through them. */
static inline bool ft_op_no_grad(ft_op op) {
    return op == FT_OP_EQUAL || op == FT_OP_GREATER || op == FT_OP_GREATER_EQUAL || op == FT_OP_LESS ||
           op == FT_OP_LESS_EQUAL;
}

/* 0-size tensors (a dim of 0). Forward skips a node whose result is empty and backward
 * passes nothing through it (its inputs' gradients stay 0), so most ops need nothing more;
 * the kernels of the ops whose result can be non-empty with an empty input handle it
 * (linear/matmul with K = 0 give zeros plus the bias, sum over nothing is 0 and mean NaN,
 * concat skips empty pieces, pad fills with the constant). The ops below refuse an empty
 * input at build time: the losses, batch statistics, recurrent layers and attention
 * always (their result would be NaN or a reduction over nothing, not something to train
 * on); the convolutions and pools unless their result is empty too (an empty batch), so
 * no kernel of theirs ever sees one. `input` is the input's index, `out_numel` the size of
 * the node's result. */
static inline bool ft_op_takes_empty(ft_op op, int input, int64_t out_numel) {
    switch (op) {
    case FT_OP_CTC_LOSS: /* empty targets [N, 0] are fine (every target empty); empty log-probs are not */
        return input != 0;
    case FT_OP_CONV2D: case FT_OP_CONV_TRANSPOSE2D: case FT_OP_MAX_POOL2D: case FT_OP_AVG_POOL2D:
    case FT_OP_GLOBAL_AVG_POOL: case FT_OP_PAD2D:
        return out_numel == 0;
    case FT_OP_CROSS_ENTROPY: case FT_OP_MSE: case FT_OP_BATCH_NORM: case FT_OP_ATTENTION: case FT_OP_LSTM:
    case FT_OP_GRU: case FT_OP_RNN_FINAL:
        return false;
    default:
        return true;
    }
}

extern const ft_op_def *const ft_op_table[FT_OP_COUNT];

/* Defined in each op file, collected into ft_op_table in ops.c. */
extern const ft_op_def ft_def_input, ft_def_param, ft_def_linear, ft_def_matmul,
    ft_def_add, ft_def_sub, ft_def_mul, ft_def_div, ft_def_scale,
    ft_def_relu, ft_def_gelu, ft_def_silu, ft_def_sigmoid, ft_def_tanh,
    ft_def_softmax, ft_def_log_softmax, ft_def_cross_entropy, ft_def_mse,
    ft_def_reshape, ft_def_transpose, ft_def_slice, ft_def_concat,
    ft_def_sum, ft_def_mean, ft_def_dropout, ft_def_embedding, ft_def_layer_norm;

/* Node creation for builders (graph.c): returns NULL if the graph already failed or an
 * input is NULL. Records shape errors via ft_graph_fail. */
ft_node *ft_node_new(ft_graph *g, ft_op op, int n_in, ft_node *const *in, int ndim, const int64_t *shape);
ft_node *ft_graph_fail(ft_graph *g, ft_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool ft_graph_ok(ft_graph *g, int n, ft_node *const *in);
/* Dropout nodes carry their per-step key in iarg[2..3] (set by ft_graph_set_rng) and
 * the training flag in iarg[1] (set by ft_graph_plan). */

/* Shape helpers. */
int64_t ft_shape_numel(int ndim, const int64_t *shape);
void ft_shape_str(const ft_node *n, char *buf, size_t size);
int ft_norm_dim(int dim, int ndim); /* negative dims count from the end; -1 on error */

/* Threshold below which kernels stay single-threaded (OpenMP start-up dominates). */
#define FT_PAR_MIN 32768

#endif
