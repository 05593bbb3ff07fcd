/* finetune importers: pretrained models from other formats become models of the generic
 * "graph" architecture (an op list in the config JSON, see docs/import.md).
 *
 * An import reads the foreign file once and yields an ordinary ft_model: its config is the
 * serialized op list, its parameters are float32 under names derived from the source.
 * ft_model_export() then writes config.json + model.safetensors, so fine-tuning never
 * parses the foreign format again (`finetune convert`). */
#ifndef FINETUNE_IMPORT_H
#define FINETUNE_IMPORT_H

#include "core.h"
#include "model.h"
#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Import a TensorFlow Lite flatbuffer (.tflite). Quantized (uint8/int8, per-tensor or
 * per-channel) and float16 weights are dequantized to float32; NHWC/OHWI layouts become
 * NCHW/OIHW; the input quantization becomes preprocess mean/std in the config; a final
 * SOFTMAX is dropped (the model returns logits). A truncated or corrupt file fails with
 * FT_EFORMAT and a message naming the file and the field; an op that has no mapping fails
 * with FT_EUNSUPPORTED naming the op and the operator. */
ft_status ft_import_tflite(const char *path, ft_model **out);
/* The same from memory (the fuzz target uses this); label names the data in messages. */
ft_status ft_import_tflite_mem(const uint8_t *data, size_t size, const char *label, ft_model **out);

/* Store class names in the model's config ("preprocess": {"labels": [...]}), one per line
 * of a text file (trailing empty lines ignored). The count must equal m->n_classes.
 * Works for any architecture: it only edits the config JSON. */
ft_status ft_model_set_labels_file(ft_model *m, const char *path);
/* The same from n names (n must equal m->n_classes; `train --new-head` stores the
 * dataset's class names this way). */
ft_status ft_model_set_labels(ft_model *m, const char *const *names, int n);
/* The model's class names (n_classes strings, ft_malloc'd; free with
 * ft_model_labels_free), or NULL when its config has none (or they do not match the
 * class count, e.g. after a head replacement). */
char **ft_model_labels(const ft_model *m);
void ft_model_labels_free(char **labels, int n);

/* Import a TF.js *layers* model: path is model.json or the directory holding it; the
 * weight shards named in its weightsManifest are read from beside it. Keras layers become
 * graph nodes (docs/import.md, "TF.js"): channels_last becomes NCHW, HWIO/depthwise/Dense
 * kernels become OIHW/[C*M,1,kh,kw]/[out,in], uint8/uint16/float16-quantized weights are
 * dequantized, "same" padding is made explicit, a final softmax is dropped (the model
 * returns logits). Parameters are named "<layer>.weight", "<layer>.bias",
 * "<layer>.running_mean", "<layer>.running_var"; the head is the last Dense. A missing or
 * short shard, a manifest that does not match the layers, or bad JSON fails with
 * FT_EFORMAT/FT_ENOTFOUND naming the file and field; an unsupported layer fails with
 * FT_EUNSUPPORTED naming the layer and its class. */
ft_status ft_import_tfjs(const char *path, ft_model **out);
/* The same from memory: weights are the shards of every manifest group concatenated in
 * manifest order (the fuzz target uses this); label names the data in messages. */
ft_status ft_import_tfjs_mem(const char *json, size_t json_len, const uint8_t *weights, size_t weights_len, const char *label,
                             ft_model **out);

/* Import a llama2.c checkpoint (karpathy/llama2.c's run.c format: a 7-int32 header, then
 * float32 tensors) into the "llama" architecture with Hugging Face names. The rows of wq/wk
 * are permuted per head from llama2.c's interleaved RoPE pairs to HF's rotate_half halves
 * (as HF's convert_llama_weights_to_hf), so the one architecture serves both; run.c's fixed
 * rms_norm_eps 1e-5 and rope_theta 10000 go into the config. A header out of range, a
 * truncated file or a non-finite weight fails with FT_EFORMAT naming the file and field. */
ft_status ft_import_llama2c(const char *path, ft_model **out);
ft_status ft_import_llama2c_mem(const uint8_t *data, size_t size, const char *label, ft_model **out);

/* ---- ONNX ----
 * Options for ft_import_onnx (zero-initialise, or start from ft_onnx_defaults()). */
typedef struct {
    /* The data input's shape including the batch dim (0 entries: taken from the file). A
     * symbolic dim 0 is the batch (`batch`, default 1); other symbolic dims must be given
     * here, e.g. {1, 16000} for openWakeWord's melspectrogram [batch_size, samples]. */
    int input_ndim;
    int64_t input_shape[FT_MAX_DIMS];
    int64_t batch;
    /* Float Constant nodes become trainable parameters (PaddleOCR keeps weights in
     * Constants); otherwise they are fixed buffers (or folded into attributes). */
    bool promote_constants;
    /* Tensors to expose as the model's outputs (n_outputs names; 0: the graph outputs). */
    int n_outputs;
    const char *const *outputs;
    /* Cut the graph at this tensor: it becomes the (only) output; what only fed later
     * nodes is dropped. A new head attaches as on any graph model (train --new-head). */
    const char *cut;
    /* The graph input that carries the data (NULL: the first float input that is neither
     * an initializer nor bound below). */
    const char *input;
    /* Other graph inputs bound to constant values: serialized TensorProto bytes (the
     * .pb files of ONNX's test data), n_bind of them, by input name. Float values used by
     * compute ops become buffers; integer values fold like initializers. */
    int n_bind;
    const char *const *bind_names;
    const uint8_t *const *bind_data;
    const size_t *bind_sizes;
    /* Other graph inputs bound to numbers (finetune convert --bind NAME=V[,V...]):
     * n_bind_values of them. Each value takes the input's declared element type (float,
     * double, float16 -> float32; int32, int64, int8/16, uint8/16/32, bool) and shape, where a
     * symbolic dim is the batch (input_shape[0], else `batch`); one value fills the whole shape,
     * otherwise the count must match. Integer inputs need whole numbers in range, bool 0 or 1. */
    int n_bind_values;
    const char *const *bind_value_names;
    const double *const *bind_values;
    const int *bind_value_counts;
} ft_onnx_opts;

/* Import an ONNX model (.onnx, opsets 7-17 of the default domain) into the "graph"
 * architecture (docs/import.md, "ONNX"). Initializers (raw_data, typed fields, external data
 * files beside the model) become parameters under their ONNX names ('/' -> '.'); everything
 * that does not depend on the data input (Shape, Gather, Slice, Concat, Cast, Range, If with
 * a static condition, ...) is folded at import for the chosen input shape. opts may be NULL.
 * A truncated or malformed protobuf, a cycle, a dangling input or an initializer whose data
 * does not match its shape fails with FT_EFORMAT naming the file and the culprit; an op
 * without a mapping fails with FT_EUNSUPPORTED naming the op type, the node and the opset. */
ft_status ft_import_onnx(const char *path, const ft_onnx_opts *opts, ft_model **out);
/* The same from memory (the fuzz target uses this). label names the data in messages;
 * external data files are looked up beside `label` when it is a path. */
ft_status ft_import_onnx_mem(const uint8_t *data, size_t size, const char *label, const ft_onnx_opts *opts, ft_model **out);
ft_onnx_opts ft_onnx_defaults(void); /* batch 1, everything else from the file */

#ifdef __cplusplus
}
#endif
#endif
