/* Internal: decoding into caller-owned buffers and the augmentation RNG, shared by
 * decode.c, features.c, augment.c and dataset.c. Not part of the public API. */
#ifndef FT_AUDIO_INTERNAL_H
#define FT_AUDIO_INTERNAL_H

#include "finetune/audio.h"

/* A growable float buffer: either ft_malloc'd (open time, public calls) or plain malloc
 * (get() on loader workers, which must not touch ft_malloc's counters). */
typedef struct {
    float *p;
    int64_t cap;
    bool plain;
} au_buf;

ft_status au_buf_reserve(au_buf *b, int64_t n, const char *name);
void au_buf_release(au_buf *b);

/* Decode `len` bytes (a whole file) into mono samples at the file's rate: out->p[0..*n).
 * info (may be NULL) receives the file_* fields, format and counts; the data pointer of
 * info is not touched. No resampling here. */
ft_status au_decode(const uint8_t *buf, size_t len, const char *name, const ft_audio_opts *o, au_buf *out,
                    int64_t *n, ft_audio *info);

/* Read a whole file into a plain-malloc'd growable byte buffer. */
ft_status au_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len);

/* One line about an audio dataset for the user, "" for other datasets (ft_dataset_note
 * in src/data/image_folder.c forwards here). */
const char *au_dataset_note(const ft_dataset *ds);

/* splitmix64 and the per-example augmentation RNG (the image transforms' tf_rng). */
uint64_t au_splitmix64(uint64_t x);
void au_rng(ft_pcg32 *r, uint64_t seed, int64_t epoch, int64_t i);
/* Standard normal (Box-Muller on two draws). */
float au_gauss(ft_pcg32 *r);

#endif
