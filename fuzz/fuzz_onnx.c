/* libFuzzer target: ONNX ModelProtos through ft_import_onnx_mem (protobuf-c unpacking, tensors,
 * folding, op mapping, the graph config's load-time dry run), then, for small models, a real
 * graph build, plan and forward on zeros. Seeds: fuzz/corpus/onnx (fuzz/gen_corpus_onnx.py). */
#include "finetune.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ft_model *m = NULL;
    /* the label has no directory part: external data would be looked up in the fuzzer's
     * working directory, so it is refused below by the missing file */
    if (ft_import_onnx_mem(data, size, "fuzz.onnx", NULL, &m) != FT_OK) return 0;
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
    return 0;
}
