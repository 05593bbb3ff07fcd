/* Shared by the tokenizer fuzz targets: small tokenizers of each kind built in memory (no
 * files needed), and an exercise of every encoding/decoding entry point on one text. */
#ifndef FUZZ_TOK_COMMON_H
#define FUZZ_TOK_COMMON_H
#include "finetune.h"

#include <stdio.h>
#include <string.h>

/* Encodes text with t in every way (text, words, batch) and decodes the ids back. */
__attribute__((unused)) static void fuzz_tok_exercise(const ft_tokenizer *t, const char *text, size_t len) {
    ft_token_list l = {0};
    if (ft_tokenizer_encode(t, text, len, &l) == FT_OK) {
        char *d = NULL;
        if (ft_tokenizer_decode(t, l.ids, l.n, false, &d, NULL) == FT_OK) ft_free(d);
        d = NULL;
        if (ft_tokenizer_decode(t, l.ids, l.n, true, &d, NULL) == FT_OK) ft_free(d);
        ft_batch_opts o = {.max_len = 1 + (int64_t)(len % 17), .add_special = len % 2, .add_eos = len % 3 == 0,
                           .pad_to_max = len % 5 == 0, .pad_id = -1};
        ft_text_batch b;
        if (ft_text_batch_pack(t, &l, 1, &o, &b) == FT_OK) ft_text_batch_free(&b);
    }
    ft_token_list_free(&l);
    /* words: the text cut at spaces (NULs end a word early, as C strings do) */
    char *copy = ft_malloc(len + 1);
    const char *words[64];
    int nw = 0;
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = 0;
        char *p = copy;
        while (nw < 64) {
            words[nw++] = p;
            char *sp = memchr(p, ' ', (size_t)(copy + len - p));
            if (!sp) break;
            *sp = 0;
            p = sp + 1;
        }
        ft_token_list w = {0};
        if (ft_tokenizer_encode_words(t, words, nw, &w) == FT_OK) {
            for (int64_t i = 0; i < w.n; i++)
                if (w.word[i] < 0 || w.word[i] >= nw) __builtin_trap(); /* word ids stay in range */
        }
        ft_token_list_free(&w);
    }
    ft_free(copy);
}

static const char fuzz_wp_vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\nworld\n,\n!\nun\n##aff\n##able\n"
                                    "a\n##a\nb\n##b\nthe\n\xe4\xb8\xad\n##\xc3\xa9\n";

/* A byte-level BPE vocabulary: the 256 byte symbols and a few merges. */
__attribute__((unused)) static ft_tokenizer *fuzz_bpe_small(void) {
    static char v[8192];
    size_t o = (size_t)snprintf(v, sizeof v, "{");
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool pr = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        unsigned cp = pr ? (unsigned)b : 256u + (unsigned)n++;
        if (cp == '"' || cp == '\\') o += (size_t)snprintf(v + o, sizeof v - o, "\"\\%c\": %d, ", (char)cp, b);
        else if (cp < 0x80) o += (size_t)snprintf(v + o, sizeof v - o, "\"%c\": %d, ", (char)cp, b);
        else o += (size_t)snprintf(v + o, sizeof v - o, "\"%c%c\": %d, ", (char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F)), b);
    }
    o += (size_t)snprintf(v + o, sizeof v - o,
                          "\"\xc4\xa0t\": 256, \"he\": 257, \"\xc4\xa0the\": 258, \"in\": 259, \"an\": 260, \"aa\": 261, "
                          "\"<|endoftext|>\": 262}");
    static const char m[] = "#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\ni n\na n\na a\n";
    ft_tokenizer *t = NULL;
    if (ft_tokenizer_from_bpe(v, o, m, sizeof m - 1, "fuzz vocab.json", &t) != FT_OK) return NULL;
    return t;
}

/* A llama2.c tokenizer: <unk>, <s>, </s>, 256 byte tokens, then a few pieces with scores. */
__attribute__((unused)) static size_t fuzz_llama2c_bytes(uint8_t *buf, size_t cap) {
    static const char *extra[] = {" ", "a", "b", " a", "ab", " ab", "he", "\xc3\xa9", " the", "aa", "aaa", "<s>"};
    size_t o = 0;
    int32_t mtl = 8;
    memcpy(buf, &mtl, 4);
    o = 4;
    char piece[16];
    for (int i = 0; i < 259 + 12; i++) {
        const char *p = piece;
        if (i == 0) p = "<unk>";
        else if (i == 1) p = "\n<s>\n";
        else if (i == 2) p = "\n</s>\n";
        else if (i < 259) { snprintf(piece, sizeof piece, "<0x%02X>", i - 3); }
        else p = extra[i - 259];
        float score = i < 259 ? 0.0f : -(float)(i - 259);
        int32_t l = (int32_t)strlen(p);
        if (o + 8 + (size_t)l > cap) return 0;
        memcpy(buf + o, &score, 4);
        memcpy(buf + o + 4, &l, 4);
        memcpy(buf + o + 8, p, (size_t)l);
        o += 8 + (size_t)l;
    }
    return o;
}
#endif
