/* Shared by the model-import fuzz targets (fuzz_onnx.c, fuzz_tfjs.c, fuzz_tflite.c): what
 * they do with a model the importer accepted. */
#ifndef FUZZ_MODEL_COMMON_H
#define FUZZ_MODEL_COMMON_H
#include "finetune.h"

/* Runs m for real when it stays small: with under 2^20 parameters and an input of under
 * 2^14 values, builds its graph for one example; when all its nodes together hold under
 * 2^22 values (a valid file may still ask for huge activations), plans it and runs a
 * forward pass on zeros. Then frees m. */
__attribute__((unused)) static void fuzz_run_model(ft_model *m) {
    int64_t in_numel = 1;
    for (int d = 0; d < m->in_ndim; d++) in_numel *= m->in_shape[d];
    if (ft_params_count(m->params, false) < (1 << 20) && in_numel < (1 << 14)) {
        ft_graph *g = ft_graph_new(m->params);
        int64_t shape[FT_MAX_DIMS] = {1};
        for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
        ft_node *x = ft_input(g, "x", m->in_dtype, m->in_ndim + 1, shape);
        ft_node *out = m->arch->build(m, g, x, false);
        ft_node_keep(out);
        int64_t total = 0;
        for (int i = 0; i < ft_graph_node_count(g); i++) total += ft_graph_node(g, i)->numel;
        if (out && total < (1 << 22) && ft_graph_plan(g, NULL, false) == FT_OK) {
            float *zeros = ft_calloc((size_t)in_numel, sizeof(float));
            if (zeros && ft_graph_set_input(g, x, zeros, (size_t)in_numel * 4) == FT_OK) ft_graph_forward(g);
            ft_free(zeros);
        }
        ft_graph_free(g);
    }
    ft_model_free(m);
}

#endif
