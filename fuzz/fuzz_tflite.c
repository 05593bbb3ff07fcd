/* libFuzzer target: TFLite flatbuffers through ft_import_tflite_mem (reader, validation,
 * dequantization, conversion to a "graph" config and its load-time dry run), then, for
 * small models, a real graph build, plan and forward on zeros. Seeds:
 * fuzz/corpus/tflite (fuzz/gen_corpus_tflite.py). */
#include "finetune.h"
#include "fuzz_model_common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ft_model *m = NULL;
    if (ft_import_tflite_mem(data, size, "fuzz.tflite", &m) != FT_OK) return 0;
    fuzz_run_model(m);
    return 0;
}
