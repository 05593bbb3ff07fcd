/* libFuzzer target: the text dataset readers (TSV, CSV, JSONL, CoNLL in both layouts, plain
 * text) with a small WordPiece vocabulary. The first byte picks the task and the file name
 * (hence the format) and max_len; every example of a dataset that opens is then read. */
#include "finetune.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\ngood\nbad\n##s\n,\n.\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ft_tokenizer *tok;
    if (!tok && ft_tokenizer_from_wordpiece(VOCAB, sizeof VOCAB - 1, true, "vocab", &tok)) abort();
    if (size < 1 || size > 65536) return 0;
    static const char *const names[4] = {"a.tsv", "a.csv", "a.jsonl", "a.txt"};
    static const char *const fixed[3] = {"0", "O", "B-PER"};
    uint8_t sel = data[0];
    ft_task task = (ft_task)(1 + (sel & 3) % 3); /* bits 0-1: seq-cls, token-cls, lm, seq-cls */
    ft_text_opts o;
    memset(&o, 0, sizeof o);
    o.tok = tok;
    o.max_len = 2 + 4 * (sel >> 5);                /* bits 5-7 */
    if (sel & 0x10) { o.labels = fixed; o.n_labels = 3; } /* bit 4: a fixed label set */
    ft_dataset *ds = NULL;
    if (ft_dataset_text_mem(task, (const char *)data + 1, size - 1, names[(sel >> 2) & 3] /* bits 2-3 */, &o, &ds) == FT_OK) {
        int32_t *x = malloc(sizeof(int32_t) * (size_t)ds->x_numel), y;
        for (int64_t i = 0; i < ds->n && x; i++)
            if (ds->get(ds, i, NULL, x, &y)) abort();
        free(x);
        ft_dataset_free(ds);
    }
    return 0;
}
