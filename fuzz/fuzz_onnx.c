/* libFuzzer target: ONNX ModelProtos through ft_import_onnx_mem (protobuf-c unpacking, tensors,
 * folding, op mapping, the graph config's load-time dry run), then, for small models, a real
 * graph build, plan and forward on zeros. Seeds: fuzz/corpus/onnx (fuzz/gen_corpus_onnx.py). */
#include "finetune.h"
#include "fuzz_model_common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ft_model *m = NULL;
    /* the label has no directory part: external data would be looked up in the fuzzer's
     * working directory, so it is refused below by the missing file */
    if (ft_import_onnx_mem(data, size, "fuzz.onnx", NULL, &m) != FT_OK) return 0;
    fuzz_run_model(m);
    return 0;
}
