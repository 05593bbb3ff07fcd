/* libFuzzer target: llama2.c tokenizer.bin through ft_tokenizer_from_llama2c, then encoding
 * a fixed text (byte fallback, merges by score) and decoding it after BOS. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sample[] = "Once upon a time, \xc3\xa9t\xc3\xa9 \xe2\x84\xa2\xff\x80\x80 aaaa ab";
    ft_tokenizer *t = NULL;
    if (ft_tokenizer_from_llama2c(data, size, "fuzz tok.bin", &t) != FT_OK) return 0;
    fuzz_tok_exercise(t, sample, sizeof sample - 1);
    ft_tokenizer_free(t);
    return 0;
}
