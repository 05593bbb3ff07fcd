/* libFuzzer target: llama2.c checkpoints through ft_import_llama2c_mem (header checks, size
 * checks, the wq/wk permutation), then, for small models, three greedy tokens of KV-cache
 * generation. Seeds: fuzz/corpus/llama2c (fuzz/gen_corpus_llama2c.py). */
#include "finetune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ft_model *m = NULL;
    if (ft_import_llama2c_mem(data, size, "fuzz.bin", &m) != FT_OK) return 0;
    if (ft_params_count(m->params, false) < (1 << 18) && m->seq.hidden_size <= 256) {
        int32_t bos = m->seq.vocab_size > 1 ? 1 : 0, out[3];
        int n = 0;
        ft_generate_opts o = ft_generate_defaults();
        o.max_tokens = 3;
        ft_generate(m, &bos, 1, &o, out, &n, NULL, NULL);
    }
    ft_model_free(m);
    return 0;
}
