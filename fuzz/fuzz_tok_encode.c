/* libFuzzer target: the three encoders on arbitrary bytes (invalid UTF-8, NULs, long words,
 * white-space runs), with small tokenizers built in memory: WordPiece (uncased and cased),
 * byte-level BPE and llama2.c. Each text is encoded, encoded as words, batched and decoded. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ft_tokenizer *tk[4];
    static bool init;
    if (!init) {
        init = true;
        ft_tokenizer_from_wordpiece(fuzz_wp_vocab, sizeof fuzz_wp_vocab - 1, true, "fuzz", &tk[0]);
        ft_tokenizer_from_wordpiece(fuzz_wp_vocab, sizeof fuzz_wp_vocab - 1, false, "fuzz", &tk[1]);
        tk[2] = fuzz_bpe_small();
        static uint8_t bin[8192];
        size_t n = fuzz_llama2c_bytes(bin, sizeof bin);
        ft_tokenizer_from_llama2c(bin, n, "fuzz", &tk[3]);
        for (int i = 0; i < 4; i++)
            if (!tk[i]) { fprintf(stderr, "fuzz_tok_encode: tokenizer %d: %s\n", i, ft_errmsg()); __builtin_trap(); }
    }
    if (size > 4096) return 0;
    for (int i = 0; i < 4; i++) fuzz_tok_exercise(tk[i], (const char *)data, size);
    return 0;
}
