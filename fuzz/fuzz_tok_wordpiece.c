/* libFuzzer target: BERT vocab.txt through ft_tokenizer_from_wordpiece (both casings), then
 * encoding a fixed text and the input itself with the loaded vocabulary. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sample[] = "Hello, UNaffable world! Caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xce\xa3\xce\xa3 a\xffz";
    for (int lower = 0; lower < 2; lower++) {
        ft_tokenizer *t = NULL;
        if (ft_tokenizer_from_wordpiece((const char *)data, size, lower, "fuzz vocab.txt", &t) != FT_OK) continue;
        fuzz_tok_exercise(t, sample, sizeof sample - 1);
        fuzz_tok_exercise(t, (const char *)data, size > 2048 ? 2048 : size);
        ft_tokenizer_free(t);
    }
    return 0;
}
