/* Internal: a bounds-checked reader for the parts of the TFLite flatbuffer schema
 * (tensorflow/lite/schema/schema.fbs, version 3) that the importer needs.
 *
 * ft_tfl_parse() validates every offset, vtable, vector length and string against the
 * buffer before it is used, and copies what it reads into plain structs, so nothing
 * afterwards touches the flatbuffer except constant tensor data, whose (pointer, size) has
 * been checked against the tensor's shape and type. */
#ifndef FT_IMPORT_TFLITE_H
#define FT_IMPORT_TFLITE_H

#include "finetune/core.h"

#define FT_TFL_MAX_DIMS 8

/* TensorType */
enum { FT_TFL_FLOAT32 = 0, FT_TFL_FLOAT16 = 1, FT_TFL_INT32 = 2, FT_TFL_UINT8 = 3, FT_TFL_INT64 = 4,
       FT_TFL_INT16 = 7, FT_TFL_INT8 = 9 };

/* BuiltinOperator codes the importer maps (the name table covers all of them). */
enum {
    FT_TFL_ADD = 0, FT_TFL_AVERAGE_POOL_2D = 1, FT_TFL_CONCATENATION = 2, FT_TFL_CONV_2D = 3,
    FT_TFL_DEPTHWISE_CONV_2D = 4, FT_TFL_DEQUANTIZE = 6, FT_TFL_FULLY_CONNECTED = 9, FT_TFL_LOGISTIC = 14,
    FT_TFL_MAX_POOL_2D = 17, FT_TFL_MUL = 18, FT_TFL_RELU = 19, FT_TFL_RELU6 = 21, FT_TFL_RESHAPE = 22,
    FT_TFL_SOFTMAX = 25, FT_TFL_TANH = 28, FT_TFL_CUSTOM = 32, FT_TFL_PAD = 34, FT_TFL_MEAN = 40,
    FT_TFL_SUB = 41, FT_TFL_DIV = 42, FT_TFL_SQUEEZE = 43, FT_TFL_UNIDIRECTIONAL_SEQUENCE_LSTM = 44,
    FT_TFL_PADV2 = 60, FT_TFL_EXPAND_DIMS = 70, FT_TFL_QUANTIZE = 114, FT_TFL_HARD_SWISH = 117,
};

/* ActivationFunctionType, Padding */
enum { FT_TFL_ACT_NONE = 0, FT_TFL_ACT_RELU = 1, FT_TFL_ACT_RELU_N1_TO_1 = 2, FT_TFL_ACT_RELU6 = 3, FT_TFL_ACT_TANH = 4 };
enum { FT_TFL_PAD_SAME = 0, FT_TFL_PAD_VALID = 1 };

typedef struct {
    char *name;                      /* "" when the file has none */
    int type;                        /* TensorType */
    int ndim;
    int32_t shape[FT_TFL_MAX_DIMS];
    int64_t numel;
    uint32_t buffer;
    const uint8_t *data;             /* constant contents, NULL for activations */
    size_t nbytes;                   /* == numel * element size when data != NULL */
    float *scale;                    /* quantization: real = (q - zero_point) * scale */
    int64_t *zero_point;
    int n_scale, n_zero_point;
    int quantized_dimension;
    bool custom_quantization;        /* QuantizationDetails present: not supported for weights */
    bool sparse;
} ft_tfl_tensor;

typedef struct {
    int padding, stride_w, stride_h, dilation_w, dilation_h;
    int filter_w, filter_h, depth_multiplier, activation;
    int axis;
    bool keep_dims, keep_num_dims;
    int weights_format;
    float beta;
    float cell_clip, proj_clip;
    bool time_major;
} ft_tfl_options;

typedef struct {
    int code;                        /* BuiltinOperator (FT_TFL_CUSTOM for custom ops) */
    const char *custom;              /* custom op name, or NULL */
    int version;
    int n_inputs, n_outputs;
    int *inputs;                     /* tensor indices, -1 = optional input left out */
    int *outputs;
    ft_tfl_options opt;
} ft_tfl_op;

typedef struct {
    uint32_t version;
    char *description;
    int n_subgraphs;
    ft_tfl_tensor *tensors;          /* of subgraph 0 */
    int n_tensors;
    ft_tfl_op *ops;
    int n_ops;
    int *inputs, *outputs;
    int n_inputs, n_outputs;
    char **custom_codes;             /* storage for ft_tfl_op.custom */
    int n_codes;
} ft_tfl_model;

/* Parse and validate; label names the data in messages ("model.tflite"). The buffer must
 * outlive the result (constant data points into it). */
ft_status ft_tfl_parse(const uint8_t *buf, size_t size, const char *label, ft_tfl_model **out);
void ft_tfl_free(ft_tfl_model *m);
/* "CONV_2D"; "op 213" for codes past the table. */
const char *ft_tfl_op_name(int code, char *buf, size_t cap);
/* Element size of a TensorType, 0 if unknown. */
size_t ft_tfl_type_size(int type);
const char *ft_tfl_type_name(int type);

#endif
