/* finetune exporters: a model written in another framework's format for deployment.
 *
 * ONNX: any ft_model (the native architectures, and "graph" models from the importers),
 * fine-tuned or not, becomes an ONNX ModelProto of its eval-mode forward pass (batch norm
 * with its running statistics, dropout removed), written atomically. See docs/onnx.md,
 * "Export". */
#ifndef FINETUNE_EXPORT_H
#define FINETUNE_EXPORT_H

#include "core.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int batch;   /* 0: a dynamic batch dim named "N" (the default); > 0: that fixed batch size */
    int seq_len; /* text models: tokens per example; 0 = 128, or the model's positions if fewer */
    int opset;   /* 0: the lowest that fits (13; 17 when a layer norm needs LayerNormalization);
                  * else at least this (13..17) */
} ft_onnx_export_opts;

ft_onnx_export_opts ft_onnx_export_defaults(void);

/* Write m's eval-mode forward pass as an ONNX model (opset 13, or 17 with layer norms; IR
 * version 8) to path, atomically (a failure leaves no file and never a partial one).
 * Inputs: the model's input named as in its config ("input" by default: float32, or int32
 * for token ids) with a leading batch dim; text models (bert, gpt2, llama) take
 * "input_ids" (int32 [N, T]) and "attention_mask" (float32 [N, T], 1 = token, 0 = padding).
 * Output: the logits, as finetune computes them. Parameters become float32 initializers
 * (raw_data) under their finetune names, so a re-import keeps them; constants the mapping
 * needs (shapes, axes, scalars) are Constant nodes. An op without a mapping fails with
 * FT_EUNSUPPORTED naming the node and the op. o may be NULL (defaults). */
ft_status ft_model_export_onnx(const ft_model *m, const char *path, const ft_onnx_export_opts *o);

#ifdef __cplusplus
}
#endif
#endif
