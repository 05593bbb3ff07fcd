/* The op table: one entry per ft_op, in enum order, checked at compile time. */
#include "ops/ops.h"

/* The CNN ops (conv.c, batchnorm.c, pool.c, elementwise.c). */
extern const ft_op_def ft_def_conv2d, ft_def_batch_norm, ft_def_max_pool2d, ft_def_avg_pool2d,
    ft_def_global_avg_pool, ft_def_pad2d, ft_def_relu6, ft_def_hardswish, ft_def_hardsigmoid;
/* The Transformer ops (attention.c). */
extern const ft_op_def ft_def_rms_norm, ft_def_rope, ft_def_attention;
/* Speech ops (ctc.c). */
extern const ft_op_def ft_def_ctc_loss;
/* The recurrent ops (rnn.c). */
extern const ft_op_def ft_def_lstm, ft_def_gru, ft_def_rnn_final;
/* ONNX math ops (elementwise.c, reduce.c). */
extern const ft_op_def ft_def_exp, ft_def_log, ft_def_sqrt, ft_def_abs, ft_def_neg, ft_def_erf, ft_def_reciprocal,
    ft_def_leaky_relu, ft_def_clip, ft_def_pow_scalar, ft_def_pow, ft_def_maximum, ft_def_minimum, ft_def_prelu,
    ft_def_equal, ft_def_greater, ft_def_greater_equal, ft_def_less, ft_def_less_equal, ft_def_where,
    ft_def_reduce_max, ft_def_reduce_min;
/* N-d data movement with ONNX semantics (layout.c). */
extern const ft_op_def ft_def_gather, ft_def_expand, ft_def_pad, ft_def_permute;
extern const ft_op_def ft_def_conv_transpose2d; /* conv.c */

const ft_op_def ft_def_input = {.name = "input"};
const ft_op_def ft_def_param = {.name = "param"};

const ft_op_def *const ft_op_table[FT_OP_COUNT] = {
    [FT_OP_INPUT] = &ft_def_input,
    [FT_OP_PARAM] = &ft_def_param,
    [FT_OP_LINEAR] = &ft_def_linear,
    [FT_OP_MATMUL] = &ft_def_matmul,
    [FT_OP_ADD] = &ft_def_add,
    [FT_OP_SUB] = &ft_def_sub,
    [FT_OP_MUL] = &ft_def_mul,
    [FT_OP_DIV] = &ft_def_div,
    [FT_OP_SCALE] = &ft_def_scale,
    [FT_OP_RELU] = &ft_def_relu,
    [FT_OP_GELU] = &ft_def_gelu,
    [FT_OP_SILU] = &ft_def_silu,
    [FT_OP_SIGMOID] = &ft_def_sigmoid,
    [FT_OP_TANH] = &ft_def_tanh,
    [FT_OP_SOFTMAX] = &ft_def_softmax,
    [FT_OP_LOG_SOFTMAX] = &ft_def_log_softmax,
    [FT_OP_CROSS_ENTROPY] = &ft_def_cross_entropy,
    [FT_OP_MSE] = &ft_def_mse,
    [FT_OP_RESHAPE] = &ft_def_reshape,
    [FT_OP_TRANSPOSE] = &ft_def_transpose,
    [FT_OP_SLICE] = &ft_def_slice,
    [FT_OP_CONCAT] = &ft_def_concat,
    [FT_OP_SUM] = &ft_def_sum,
    [FT_OP_MEAN] = &ft_def_mean,
    [FT_OP_DROPOUT] = &ft_def_dropout,
    [FT_OP_EMBEDDING] = &ft_def_embedding,
    [FT_OP_LAYER_NORM] = &ft_def_layer_norm,
    [FT_OP_CONV2D] = &ft_def_conv2d,
    [FT_OP_BATCH_NORM] = &ft_def_batch_norm,
    [FT_OP_MAX_POOL2D] = &ft_def_max_pool2d,
    [FT_OP_AVG_POOL2D] = &ft_def_avg_pool2d,
    [FT_OP_GLOBAL_AVG_POOL] = &ft_def_global_avg_pool,
    [FT_OP_PAD2D] = &ft_def_pad2d,
    [FT_OP_RELU6] = &ft_def_relu6,
    [FT_OP_HARDSWISH] = &ft_def_hardswish,
    [FT_OP_HARDSIGMOID] = &ft_def_hardsigmoid,
    [FT_OP_RMS_NORM] = &ft_def_rms_norm,
    [FT_OP_ROPE] = &ft_def_rope,
    [FT_OP_ATTENTION] = &ft_def_attention,
    [FT_OP_CTC_LOSS] = &ft_def_ctc_loss,
    [FT_OP_LSTM] = &ft_def_lstm,
    [FT_OP_GRU] = &ft_def_gru,
    [FT_OP_RNN_FINAL] = &ft_def_rnn_final,
    [FT_OP_EXP] = &ft_def_exp,
    [FT_OP_LOG] = &ft_def_log,
    [FT_OP_SQRT] = &ft_def_sqrt,
    [FT_OP_ABS] = &ft_def_abs,
    [FT_OP_NEG] = &ft_def_neg,
    [FT_OP_ERF] = &ft_def_erf,
    [FT_OP_RECIPROCAL] = &ft_def_reciprocal,
    [FT_OP_LEAKY_RELU] = &ft_def_leaky_relu,
    [FT_OP_CLIP] = &ft_def_clip,
    [FT_OP_POW_SCALAR] = &ft_def_pow_scalar,
    [FT_OP_POW] = &ft_def_pow,
    [FT_OP_MAXIMUM] = &ft_def_maximum,
    [FT_OP_MINIMUM] = &ft_def_minimum,
    [FT_OP_PRELU] = &ft_def_prelu,
    [FT_OP_EQUAL] = &ft_def_equal,
    [FT_OP_GREATER] = &ft_def_greater,
    [FT_OP_GREATER_EQUAL] = &ft_def_greater_equal,
    [FT_OP_LESS] = &ft_def_less,
    [FT_OP_LESS_EQUAL] = &ft_def_less_equal,
    [FT_OP_WHERE] = &ft_def_where,
    [FT_OP_REDUCE_MAX] = &ft_def_reduce_max,
    [FT_OP_REDUCE_MIN] = &ft_def_reduce_min,
    [FT_OP_GATHER] = &ft_def_gather,
    [FT_OP_EXPAND] = &ft_def_expand,
    [FT_OP_PAD] = &ft_def_pad,
    [FT_OP_PERMUTE] = &ft_def_permute,
    [FT_OP_CONV_TRANSPOSE2D] = &ft_def_conv_transpose2d,
};

/* Adding an op: extend the enum in graph.h, define ft_def_<op> next to its kernels, list
 * it here, and bump this count. */
_Static_assert(FT_OP_COUNT == 70, "ft_op_table is out of date");
