/* libFuzzer target: the safetensors parser must reject any malformed input with a status,
 * never crash, read out of bounds or leak; accepted files must convert cleanly. */
#include "finetune/io.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy, so ASan sees any read past the end of the input. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    ft_safetensors *st = NULL;
    if (ft_st_parse(buf, size, "fuzz.safetensors", &st) == FT_OK) {
        for (int i = 0; i < st->n; i++) {
            const ft_st_tensor *t = &st->t[i];
            /* numel * dtype size == nbytes <= size, so this is bounded by the input */
            float *dst = malloc(t->numel > 0 ? (size_t)t->numel * sizeof *dst : 1);
            if (!dst) continue;
            if (ft_st_to_f32(t, dst) != FT_OK) abort(); /* a validated tensor must convert */
            free(dst);
            if (ft_st_find(st, t->name) == NULL) abort();
        }
        for (int i = 0; i < st->n_meta; i++)
            if (ft_st_meta(st, st->meta_keys[i]) == NULL) abort();
        ft_st_close(st);
    } else if (st != NULL) {
        abort(); /* a failed parse must not hand out a result */
    }
    free(buf);
    return 0;
}
