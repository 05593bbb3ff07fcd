/* libFuzzer target: byte-level BPE files. An input with a NUL byte is vocab.json (before it)
 * + merges.txt (after it) through ft_tokenizer_from_bpe; otherwise it is a tokenizer.json
 * through ft_tokenizer_from_hf_json (BPE or WordPiece model). A loaded tokenizer encodes a
 * fixed text and decodes the ids. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sample[] = "Hello world, it's the 2nd   test\n\n\xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87 aaaa\xff";
    ft_tokenizer *t = NULL;
    const uint8_t *nul = memchr(data, 0, size);
    ft_status s;
    if (nul)
        s = ft_tokenizer_from_bpe((const char *)data, (size_t)(nul - data), (const char *)nul + 1,
                                  size - (size_t)(nul - data) - 1, "fuzz vocab.json", &t);
    else
        s = ft_tokenizer_from_hf_json((const char *)data, size, "fuzz tokenizer.json", &t);
    if (s != FT_OK) return 0;
    fuzz_tok_exercise(t, sample, sizeof sample - 1);
    ft_tokenizer_free(t);
    return 0;
}
