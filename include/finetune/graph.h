/* finetune graph: define-then-run tensors with reverse-mode autodiff.
 *
 * A graph is built once per input shape: create input nodes, parameter nodes and op
 * nodes (each builder returns a new node; a NULL input or a shape error makes the
 * builder return NULL and records the first error in the graph). Then ft_graph_plan()
 * decides which nodes need gradients (backward is pruned to what trainable parameters
 * depend on), which activations must be kept for backward, and lays out every buffer in
 * one arena by lifetime. After planning, forward/backward allocate nothing.
 *
 * Shapes are PyTorch's (row-major, last dimension contiguous). Values are float32;
 * index tensors (labels, token ids) are int32 (FT_I32) in the same 4-byte slots. */
#ifndef FINETUNE_GRAPH_H
#define FINETUNE_GRAPH_H

#include "core.h"
#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FT_MAX_DIMS 6
#define FT_MAX_INPUTS 8
#define FT_ALL_DIMS 127 /* reduction over every dimension */

typedef enum { FT_F32 = 0, FT_I32 = 1 } ft_dtype;

/* The op table. Order is part of nothing persistent; it is checked at compile time
 * against the table in src/ops/ops.c. Later issues add attention and LSTM here. */
typedef enum {
    FT_OP_INPUT = 0, /* fed by the caller */
    FT_OP_PARAM,     /* view of a parameter in an ft_params store */
    FT_OP_LINEAR,    /* y = x W^T + b */
    FT_OP_MATMUL,    /* batched matmul with optional transposes */
    FT_OP_ADD, FT_OP_SUB, FT_OP_MUL, FT_OP_DIV, /* broadcasting */
    FT_OP_SCALE,     /* y = a * x + b, scalars */
    FT_OP_RELU, FT_OP_GELU, FT_OP_SILU, FT_OP_SIGMOID, FT_OP_TANH,
    FT_OP_SOFTMAX, FT_OP_LOG_SOFTMAX, /* over one dim (the last unless ft_softmax_dim) */
    FT_OP_CROSS_ENTROPY, /* logits [N,C], targets I32 [N] -> scalar */
    FT_OP_MSE,           /* mean((a-b)^2) -> scalar */
    FT_OP_RESHAPE, FT_OP_TRANSPOSE, FT_OP_SLICE, FT_OP_CONCAT,
    FT_OP_SUM, FT_OP_MEAN,
    FT_OP_DROPOUT,
    FT_OP_EMBEDDING,     /* ids I32 [...], weight [V,D] -> [..., D] */
    FT_OP_LAYER_NORM,    /* over the last dim */
    FT_OP_CONV2D,        /* NCHW x OIHW, stride/pad/dilation/groups; depthwise has its own kernel */
    FT_OP_BATCH_NORM,    /* over C of [N,C,H,W] or [N,C]; batch or running statistics */
    FT_OP_MAX_POOL2D, FT_OP_AVG_POOL2D,
    FT_OP_GLOBAL_AVG_POOL, /* [N,C,H,W] -> [N,C] or [N,C,1,1] */
    FT_OP_PAD2D,         /* constant padding of the last two dims */
    FT_OP_RELU6, FT_OP_HARDSWISH, FT_OP_HARDSIGMOID,
    FT_OP_RMS_NORM,      /* over the last dim, optional weight */
    FT_OP_ROPE,          /* rotary position embedding, rotate_half pairs */
    FT_OP_ATTENTION,     /* multi-head scaled-dot-product attention on [B,T,H*D] */
    FT_OP_CTC_LOSS,      /* connectionist temporal classification, batch-first log-probs */
    FT_OP_LSTM, FT_OP_GRU, /* one direction of a recurrent layer, batch-first [N,T,*] */
    FT_OP_RNN_FINAL,     /* final state per sequence of a recurrent output [N,T,W] -> [N,W] */
    /* ONNX math (elementwise.c, reduce.c): unary, broadcasting binary, comparisons (no gradient) */
    FT_OP_EXP, FT_OP_LOG, FT_OP_SQRT, FT_OP_ABS, FT_OP_NEG, FT_OP_ERF, FT_OP_RECIPROCAL,
    FT_OP_LEAKY_RELU, FT_OP_CLIP, FT_OP_POW_SCALAR,
    FT_OP_POW, FT_OP_MAXIMUM, FT_OP_MINIMUM, FT_OP_PRELU,
    FT_OP_EQUAL, FT_OP_GREATER, FT_OP_GREATER_EQUAL, FT_OP_LESS, FT_OP_LESS_EQUAL,
    FT_OP_WHERE, FT_OP_REDUCE_MAX, FT_OP_REDUCE_MIN,
    FT_OP_GATHER, FT_OP_EXPAND, FT_OP_PAD, FT_OP_PERMUTE, /* N-d data movement, ONNX semantics */
    FT_OP_CONV_TRANSPOSE2D, /* the adjoint of conv2d: x [N,Cin,H,W], w [Cin, Cout/groups, kh, kw] */
    FT_OP_COUNT
} ft_op;

typedef struct ft_graph ft_graph;

typedef struct ft_node {
    ft_op op;
    ft_dtype dtype;
    int id;                         /* creation index = forward order */
    int n_in;
    struct ft_node *in[FT_MAX_INPUTS];
    int ndim;
    int64_t shape[FT_MAX_DIMS];
    int64_t numel;
    int32_t iarg[8];                /* op arguments (axes, flags, ignore_index, ...) */
    float farg[4];                  /* op arguments (eps, p, smoothing, ...) */
    float *val;                     /* value buffer (arena, parameter store, or caller) */
    float *grad;                    /* gradient buffer, NULL when not needed */
    float *aux;                     /* per-op saved state for backward (mask, mean/rstd) */
    int64_t aux_numel;
    int param;                      /* index in the graph's ft_params, -1 otherwise */
    bool requires_grad;             /* set by ft_graph_plan */
    bool keep;                      /* value kept alive until the end of the step */
    char name[48];                  /* optional, for errors and debugging */
    int64_t scratch_numel;          /* floats of temporary workspace the kernels need (set by the builder) */
    float *scratch;                 /* planned workspace, shared by all nodes: valid only inside this
                                     * node's own forward/backward call */
    int64_t *ilist;                 /* op-owned int list (gather indices, N-d pad amounts), freed
                                     * with the graph; NULL for most ops */
    int64_t ilist_n;
} ft_node;

/* ---- building ---- */
ft_graph *ft_graph_new(ft_params *params);
void ft_graph_free(ft_graph *g);
ft_status ft_graph_status(const ft_graph *g); /* first build error, FT_OK if none */

ft_node *ft_input(ft_graph *g, const char *name, ft_dtype dtype, int ndim, const int64_t *shape);
ft_node *ft_param(ft_graph *g, const char *param_name); /* looks the name up in the store */
ft_node *ft_param_at(ft_graph *g, int param_index);

ft_node *ft_linear(ft_graph *g, ft_node *x, ft_node *w, ft_node *b /* may be NULL */);
ft_node *ft_matmul(ft_graph *g, ft_node *a, ft_node *b, bool trans_a, bool trans_b);
ft_node *ft_add(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_sub(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_mul(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_div(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_scale(ft_graph *g, ft_node *x, float a, float b);
ft_node *ft_relu(ft_graph *g, ft_node *x);
ft_node *ft_gelu(ft_graph *g, ft_node *x, bool tanh_approx);
ft_node *ft_silu(ft_graph *g, ft_node *x);
ft_node *ft_sigmoid(ft_graph *g, ft_node *x);
ft_node *ft_tanh(ft_graph *g, ft_node *x);
ft_node *ft_softmax(ft_graph *g, ft_node *x);
ft_node *ft_log_softmax(ft_graph *g, ft_node *x);
/* Mean over targets that are not ignore_index. label_smoothing as in torch.nn.CrossEntropyLoss. */
ft_node *ft_cross_entropy(ft_graph *g, ft_node *logits, ft_node *targets, int ignore_index, float label_smoothing);
ft_node *ft_mse(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_reshape(ft_graph *g, ft_node *x, int ndim, const int64_t *shape); /* one -1 allowed */
ft_node *ft_transpose(ft_graph *g, ft_node *x, int dim0, int dim1);
ft_node *ft_slice(ft_graph *g, ft_node *x, int dim, int64_t start, int64_t end);
ft_node *ft_concat(ft_graph *g, int n, ft_node **xs, int dim);
ft_node *ft_sum(ft_graph *g, ft_node *x, int dim /* or FT_ALL_DIMS */, bool keepdim);
ft_node *ft_mean(ft_graph *g, ft_node *x, int dim /* or FT_ALL_DIMS */, bool keepdim);
ft_node *ft_dropout(ft_graph *g, ft_node *x, float p);
ft_node *ft_embedding(ft_graph *g, ft_node *ids, ft_node *weight);
ft_node *ft_layer_norm(ft_graph *g, ft_node *x, ft_node *gamma, ft_node *beta, float eps);

/* ---- CNN ops (NCHW, PyTorch layouts) ---- */
typedef struct {
    int stride[2];   /* h, w */
    int pad[4];      /* top, left, bottom, right (asymmetric, for TF "same") */
    int dilation[2]; /* h, w */
    int groups;
} ft_conv2d_args;
ft_conv2d_args ft_conv2d_defaults(void); /* stride 1, pad 0, dilation 1, groups 1 */
/* x [N,C,H,W], w [O, C/groups, kh, kw] (OIHW), b [O] or NULL -> [N,O,Ho,Wo] with
 * Ho = (H + pad_top + pad_bottom - dilation_h*(kh-1) - 1) / stride_h + 1. a may be NULL
 * (defaults). groups == C == O runs a direct depthwise kernel; the rest lowers to sgemm. */
ft_node *ft_conv2d(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv2d_args *a);
/* BatchNorm2d over C of [N,C,H,W] (also [N,C]). running_mean/var [C] are buffer params
 * (ft_params_add_buffer). In a training plan and !frozen_stats: batch statistics, and each
 * forward updates the running stats in place as torch does (momentum, unbiased variance for
 * running_var). In an eval plan, or with frozen_stats: running statistics (gamma/beta may still
 * train). gamma/beta may be NULL. running_mean/var may both be NULL (torch's
 * track_running_stats=False: batch statistics always). */
ft_node *ft_batch_norm(ft_graph *g, ft_node *x, ft_node *gamma, ft_node *beta, ft_node *running_mean,
                       ft_node *running_var, float eps, float momentum, bool frozen_stats);
typedef struct {
    int kernel[2];   /* h, w */
    int stride[2];   /* h, w; 0 = the kernel size (torch's stride=None) */
    int pad[4];      /* top, left, bottom, right; each below the kernel size on its axis */
    bool ceil_mode;
    bool count_include_pad; /* avg pool only */
} ft_pool2d_args;
/* x [N,C,H,W] (or any [..., H, W]) -> [..., Ho, Wo]; output sizes and ceil_mode as torch
 * (the last window must start inside the input or the top/left padding). Max pool pads
 * with -inf; on ties the first maximum (row-major) wins. */
ft_node *ft_max_pool2d(ft_graph *g, ft_node *x, const ft_pool2d_args *a);
/* count_include_pad as torch; TF "same" avg pool = count_include_pad false. */
ft_node *ft_avg_pool2d(ft_graph *g, ft_node *x, const ft_pool2d_args *a);
ft_node *ft_global_avg_pool(ft_graph *g, ft_node *x, bool keepdim); /* [N,C,H,W] -> [N,C] or [N,C,1,1] */
/* Constant padding of the last two dims: top, left, bottom, right (each >= 0). */
ft_node *ft_pad2d(ft_graph *g, ft_node *x, const int pad[4], float value);
ft_node *ft_relu6(ft_graph *g, ft_node *x);       /* min(max(x, 0), 6) */
ft_node *ft_hardswish(ft_graph *g, ft_node *x);   /* x * relu6(x + 3) / 6 */
ft_node *ft_hardsigmoid(ft_graph *g, ft_node *x); /* relu6(x + 3) / 6 */

/* Transposed convolution (PyTorch ConvTranspose2d / ONNX ConvTranspose): x [N,Cin,H,W],
 * w [Cin, Cout/groups, kh, kw], b [Cout] or NULL -> [N,Cout,Ho,Wo] with
 * Ho = (H-1)*stride_h - pad_top - pad_bottom + dilation_h*(kh-1) + output_padding_h + 1.
 * It is the adjoint (input gradient) of the conv2d with the same weight and arguments, and
 * runs on the same sgemm + col2im (backward: im2col + sgemm). output_padding[i] must be
 * below stride[i] or dilation[i]. */
typedef struct {
    int stride[2], pad[4], output_padding[2], dilation[2]; /* pad: top, left, bottom, right */
    int groups;
} ft_conv_transpose2d_args;
ft_conv_transpose2d_args ft_conv_transpose2d_defaults(void);
ft_node *ft_conv_transpose2d(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv_transpose2d_args *a);
/* 1-D convolution and pooling over the last dim of [N,C,L]: the 2-D kernels with H = 1,
 * on the same buffers (no reshape copies). x [N,C,L], w [O, C/groups, k], b [O] or NULL. */
typedef struct {
    int stride, pad[2], dilation, groups; /* pad: left, right */
} ft_conv1d_args;
ft_node *ft_conv1d(ft_graph *g, ft_node *x, ft_node *w, ft_node *b, const ft_conv1d_args *a);
typedef struct {
    int kernel, stride; /* stride 0 = the kernel size */
    int pad[2];         /* left, right; each below the kernel */
    bool ceil_mode, count_include_pad;
} ft_pool1d_args;
ft_node *ft_max_pool1d(ft_graph *g, ft_node *x, const ft_pool1d_args *a); /* x [..., L] */
ft_node *ft_avg_pool1d(ft_graph *g, ft_node *x, const ft_pool1d_args *a);

/* ---- N-d data movement with ONNX semantics (int32 tensors are moved too; no gradient) ---- */
/* ONNX Gather with constant indices along axis: the result is
 * x.shape[:axis] + idx_shape + x.shape[axis+1:] (idx_ndim 0: one scalar index drops the
 * axis). Indices may be negative (from the end). Backward scatter-adds: repeated indices
 * accumulate. */
ft_node *ft_gather(ft_graph *g, ft_node *x, int axis, int idx_ndim, const int64_t *idx_shape, const int64_t *indices);
/* ONNX Expand: x broadcast (NumPy rules) against shape[ndim]; the result has
 * max(ndim, x->ndim) dims. A 1 in shape keeps x's dim. Backward sum-reduces. */
ft_node *ft_expand(ft_graph *g, ft_node *x, int ndim, const int64_t *shape);
/* ONNX Slice of one dim: start/end count from the end when negative and are clamped
 * (step > 0: to [0, D]; step < 0: start to [0, D-1], end to [-1, D-1]; so INT64_MAX /
 * INT64_MIN mean "to the end"); step != 0, negative walks backwards. Step 1 is ft_slice. */
ft_node *ft_slice_step(ft_graph *g, ft_node *x, int dim, int64_t start, int64_t end, int64_t step);
typedef enum { FT_PADDING_CONSTANT = 0, FT_PADDING_REFLECT, FT_PADDING_EDGE } ft_padding_mode;
/* ONNX Pad over every dim: pads = [begin_0 .. begin_{n-1}, end_0 .. end_{n-1}] for
 * n = x->ndim. A negative pad crops first; the cropped tensor is then padded with the
 * constant, its mirror image without the edge (reflect: pad < cropped size) or its edge
 * value. Backward adds every output position into the input it copies. */
ft_node *ft_pad(ft_graph *g, ft_node *x, const int64_t *pads, ft_padding_mode mode, float value);
/* General permutation: result dim i is x's dim perm[i] (torch.permute, ONNX Transpose). */
ft_node *ft_permute(ft_graph *g, ft_node *x, const int *perm);

/* ---- Transformer ops ([B,T,C] activations; heads are column blocks of C) ---- */
/* HF LlamaRMSNorm over the last dim: x * rsqrt(mean(x^2) + eps) * weight (weight may be NULL). */
ft_node *ft_rms_norm(ft_graph *g, ft_node *x, ft_node *weight, float eps);
/* Rotary embedding, Hugging Face rotate_half convention (pairs i and i+D/2), on
 * x [B,T,H*D] with head dim D = last/n_head; positions: I32 [T] input or NULL for 0..T-1.
 * Angles in float32 as HF and llama2.c: pos * (1 / powf(theta, 2i/D)). */
ft_node *ft_rope(ft_graph *g, ft_node *x, int n_head, float theta, ft_node *positions);
typedef struct {
    int n_head, n_kv_head;
    bool causal;
    float scale; /* <= 0: 1/sqrt(head_dim) */
} ft_attention_args;
/* Multi-head scaled-dot-product attention on [B,T,H*D] layouts (no transposes needed):
 * q [B,Tq,Hq*D], k,v [B,Tk,Hkv*D], Hq % Hkv == 0 (grouped-query: query head h reads kv head
 * h / (Hq/Hkv), as HF's repeat_kv, without copying), key_mask NULL or an I32/F32 [B,Tk]
 * (nonzero = attend, 0 = padding); causal masks key j > query i (aligned to the end when
 * Tk > Tq, for KV caches). Returns [B,Tq,Hq*D]. Keeps only the probabilities [B,Hq,Tq,Tk]
 * for backward (none in an eval plan); a query row with no key to attend outputs 0. */
ft_node *ft_attention(ft_graph *g, ft_node *q, ft_node *k, ft_node *v, ft_node *key_mask, const ft_attention_args *a);

/* ---- speech ops ---- */
typedef enum { FT_REDUCE_MEAN = 0, FT_REDUCE_SUM = 1, FT_REDUCE_NONE = 2 } ft_reduction;
/* CTC loss, torch.nn.functional.ctc_loss semantics on batch-first inputs:
 * log_probs [N,T,C] (log-softmax outputs), targets I32 [N,S] (padded; row b's first
 * target_lengths[b] entries count, each in [0,C) and != blank), input_lengths I32 [N] (in
 * [0,T]), target_lengths I32 [N] (in [0,S]). Per sequence the loss is -log p(target | x),
 * summed over alignments in log space. reduction: MEAN divides each sequence's loss by its
 * target length (at least 1) and averages over the batch, SUM adds, NONE returns [N].
 * An impossible alignment (too few frames) gives +inf, or 0 (and zero gradient) with
 * zero_infinity. An input length of 0 gives 0 for an empty target and +inf otherwise.
 * The gradient w.r.t. log_probs is torch's: exp(lp) - exp(log(alpha*beta) + nll - lp) for
 * t < input_length, 0 after; it is the true gradient once passed back through a
 * log_softmax (for non-normalised inputs it is torch's value, not the derivative); an
 * infinite loss without zero_infinity gives NaN gradients, as torch. */
ft_node *ft_ctc_loss(ft_graph *g, ft_node *log_probs, ft_node *targets, ft_node *input_lengths,
                     ft_node *target_lengths, int blank, ft_reduction reduction, bool zero_infinity);
/* ---- recurrent ops (src/ops/rnn.c; batch-first, PyTorch gate layouts) ---- */
typedef struct {
    bool reverse;             /* run backwards in time: from each sequence's last valid step to t = 0 */
    bool cell_output;         /* LSTM only: output [N,T,2H] = [h_t | c_t] per step (for ONNX Y_c) */
    bool reset_before_linear; /* GRU only. false (PyTorch; ONNX linear_before_reset=1):
                               *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn));
                               * true (ONNX's default linear_before_reset=0):
                               *   n = tanh(W_in x + b_in + W_hn (r * h) + b_hn) */
} ft_rnn_args;
/* One direction of torch.nn.LSTM: x [N,T,I], w_ih [4H,I], w_hh [4H,H] (gate rows i,f,g,o),
 * b_ih, b_hh [4H] or NULL, h0, c0 [N,H] or NULL (zeros), lengths I32 [N] or NULL (all T)
 * -> h [N,T,H] (or [N,T,2H] with cell_output). With lengths, steps t >= lengths[n] output 0
 * and leave the state alone; reverse starts at t = lengths[n]-1, as PyTorch's packed
 * sequences. A length outside 1..T fails the forward with FT_EINVAL. a may be NULL. */
ft_node *ft_lstm(ft_graph *g, ft_node *x, ft_node *w_ih, ft_node *w_hh, ft_node *b_ih, ft_node *b_hh, ft_node *h0,
                 ft_node *c0, ft_node *lengths, const ft_rnn_args *a);
/* One direction of torch.nn.GRU: gate rows r,z,n; w_ih [3H,I], w_hh [3H,H]; otherwise as ft_lstm.
 * h' = (1 - z) * n + z * h. */
ft_node *ft_gru(ft_graph *g, ft_node *x, ft_node *w_ih, ft_node *w_hh, ft_node *b_ih, ft_node *b_hh, ft_node *h0,
                ft_node *lengths, const ft_rnn_args *a);
/* Final state per sequence from a recurrent output y [N,T,W] (W a multiple of hidden): column
 * block k (width hidden) comes from a reverse direction when bidirectional && k is odd, or
 * when !bidirectional && reverse; a forward block is read at t = lengths[n]-1 (T-1 without
 * lengths), a reverse block at t = 0. So [h_fwd | h_bwd] gives PyTorch's h_n of both
 * directions side by side, and an LSTM's cell_output [h | c] gives h_n and c_n. -> [N,W]. */
ft_node *ft_rnn_final(ft_graph *g, ft_node *y, ft_node *lengths, int hidden, bool bidirectional, bool reverse);
/* ---- ONNX math ops (PyTorch's values and gradient conventions) ---- */
ft_node *ft_exp(ft_graph *g, ft_node *x);
ft_node *ft_log(ft_graph *g, ft_node *x);        /* d/dx = 1/x (inf at 0) */
ft_node *ft_sqrt(ft_graph *g, ft_node *x);       /* d/dx = 1/(2 sqrt x): inf at 0, as torch */
ft_node *ft_abs(ft_graph *g, ft_node *x);        /* d/dx = sign(x), 0 at 0 */
ft_node *ft_neg(ft_graph *g, ft_node *x);
ft_node *ft_erf(ft_graph *g, ft_node *x);
ft_node *ft_reciprocal(ft_graph *g, ft_node *x); /* 1/x */
ft_node *ft_leaky_relu(ft_graph *g, ft_node *x, float alpha); /* x > 0 ? x : alpha*x; slope alpha at 0 */
/* min(max(x, lo), hi); -INFINITY / INFINITY for no bound. The gradient passes where
 * lo <= x <= hi (boundaries included, as torch.clamp). */
ft_node *ft_clip(ft_graph *g, ft_node *x, float lo, float hi);
/* x ** exponent (a scalar). d/dx = exponent * x^(exponent-1), 0 when exponent == 0 (torch). */
ft_node *ft_pow_scalar(ft_graph *g, ft_node *x, float exponent);
/* Broadcasting (NumPy rules, as ft_add) binary ops with torch's gradients:
 * pow: d/da = b a^(b-1) (0 where b == 0), d/db = a^b log a (0 where a == 0 and b >= 0);
 * maximum/minimum: the gradient goes to the larger (smaller) operand, half to each on ties. */
ft_node *ft_pow(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_maximum(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_minimum(ft_graph *g, ft_node *a, ft_node *b);
/* ONNX PRelu: x > 0 ? x : slope * x, slope broadcast to x's shape (unidirectional: the
 * output has x's shape; typically slope [C] against [N,C] or [C,1,1] against NCHW). */
ft_node *ft_prelu(ft_graph *g, ft_node *x, ft_node *slope);
/* Comparisons: broadcasting, float 1.0 / 0.0 out, no gradient (the planner prunes them). */
ft_node *ft_equal(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_greater(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_greater_equal(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_less(ft_graph *g, ft_node *a, ft_node *b);
ft_node *ft_less_equal(ft_graph *g, ft_node *a, ft_node *b);
/* cond != 0 ? a : b, broadcasting over all three; cond (float) gets no gradient. */
ft_node *ft_where(ft_graph *g, ft_node *cond, ft_node *a, ft_node *b);
/* Max / min over a set of dims (n_dims == 0: all), as torch.amax/amin: the gradient is
 * split evenly among the elements equal to the result. */
ft_node *ft_reduce_max(ft_graph *g, ft_node *x, int n_dims, const int *dims, bool keepdim);
ft_node *ft_reduce_min(ft_graph *g, ft_node *x, int n_dims, const int *dims, bool keepdim);
/* softmax / log-softmax over any dim (negative counts from the end); ft_softmax is dim -1. */
ft_node *ft_softmax_dim(ft_graph *g, ft_node *x, int dim);
ft_node *ft_log_softmax_dim(ft_graph *g, ft_node *x, int dim);

/* ---- frozen features (feature caching) ----
 * In a graph not yet planned whose only varying input is `x` (its first dimension is the
 * batch), a node is *frozen* when its value for example j depends only on example j of x,
 * through ops known to treat examples independently, on no trainable parameter, and on
 * nothing stochastic or changing in a plan for `training`: dropout in training is not
 * frozen, dropout in eval is; batch norm is frozen only with frozen_stats (running
 * statistics that nothing updates; without it, a training plan uses batch statistics and
 * moves the running ones that an eval plan reads).
 * The frontier is the set of frozen nodes that some non-frozen node needed by `loss` (or
 * by an output marked with ft_node_keep) reads: everything upstream of it gives the same
 * per-example values every step, so they can be computed once and fed back in.
 * Writes up to max_out frontier nodes, in creation order, to out and returns their count
 * (0: nothing needed is frozen; -1: more than max_out). x itself may be in the frontier
 * (then the first op reading the data already depends on a trainable parameter). */
int ft_graph_frozen_frontier(ft_graph *g, ft_node *x, ft_node *loss, bool training, ft_node **out, int max_out);
/* Turn an op node of a graph not yet planned into an input that the caller fills (with
 * ft_graph_set_input, or by writing node->val after planning). Planning then prunes
 * whatever only it needed. */
ft_status ft_graph_feed(ft_graph *g, ft_node *n);

/* ---- planning and running ---- */
typedef struct {
    int n_nodes;
    int n_forward_ops;          /* op nodes run in forward */
    int n_backward_ops;         /* op nodes whose backward runs (pruned) */
    size_t arena_bytes;         /* the planned arena (values, grads, aux, reuse applied) */
    size_t saved_bytes;         /* activation bytes (incl. inputs, excl. parameters) that backward reads */
    size_t naive_bytes;         /* what the arena would be without lifetime reuse */
} ft_plan_stats;

/* Plan forward (and backward from `loss` when training). Extra outputs to keep alive
 * (logits for metrics) are marked with ft_node_keep() before planning. */
ft_status ft_graph_plan(ft_graph *g, ft_node *loss, bool training);
void ft_node_keep(ft_node *n);
ft_plan_stats ft_graph_stats(const ft_graph *g);

/* Copy caller data into an input node's planned buffer. */
ft_status ft_graph_set_input(ft_graph *g, ft_node *input, const void *data, size_t bytes);
/* Dropout is seeded per step from (seed, step): counter-based, so runs are reproducible
 * for any thread count and resume needs no RNG state. */
void ft_graph_set_rng(ft_graph *g, uint64_t seed, uint64_t step);
ft_status ft_graph_forward(ft_graph *g);
/* Backward from the planned loss (d loss = 1). Needs a forward since the last backward
 * (activation memory is reused for gradients), else FT_EINVAL. Parameter gradients are ADDED
 * into the store's grad block, so gradient accumulation is several forward+backward pairs. */
ft_status ft_graph_backward(ft_graph *g);

/* Run kernels in their naive reference form (for tests comparing fast vs reference). */
void ft_set_reference_kernels(bool on);
bool ft_reference_kernels(void);

const char *ft_op_name(ft_op op);
int ft_graph_node_count(const ft_graph *g);
ft_node *ft_graph_node(ft_graph *g, int i);

#ifdef __cplusplus
}
#endif
#endif
