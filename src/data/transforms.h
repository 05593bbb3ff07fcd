/* Internal: image decoding into caller-owned buffers (image.c) and the resize / crop /
 * flip / colour-jitter / normalise transforms (transforms.c) behind the image datasets
 * (image_folder.c) and the public ft_image_* calls.
 *
 * Nothing here allocates through ft_malloc: the datasets call these from get() on the
 * loader's worker threads, with scratch memory they own (see image_folder.c). */
#ifndef FT_DATA_TRANSFORMS_H
#define FT_DATA_TRANSFORMS_H

#include "finetune/train.h"

/* ---- decoding (image.c) ---- */

typedef struct {
    ft_image_format fmt;
    int w, h;
} img_info;

/* Format and size from the first `len` bytes of a file of `file_len` bytes (file_len lets
 * BMP check that its pixel data fits). Fails with FT_EUNSUPPORTED for a recognised
 * format we do not decode (GIF, WebP, TIFF, ...), FT_EFORMAT for anything unreadable or
 * larger than FT_IMAGE_MAX_SIDE a side. Messages start with `name`. On failure
 * info->fmt still says which decoder the magic bytes chose (UNKNOWN if none). */
ft_status img_probe(const uint8_t *buf, size_t len, size_t file_len, const char *name, img_info *info);

/* Bytes of dst that img_decode_rgb8 needs for a w x h image: the RGB pixels plus one
 * 4-channel row (CMYK JPEGs are converted row by row in place). */
size_t img_rgb8_bytes(int w, int h);

/* Decode a whole file held in memory into dst as h rows of w RGB byte triplets
 * (interleaved, top row first). Fails with FT_ESHAPE if dst_cap < img_rgb8_bytes(w, h).
 * libjpeg and libpng allocate their own working memory with malloc (not ft_malloc) and
 * free it before returning. */
ft_status img_decode_rgb8(const uint8_t *buf, size_t len, const char *name, uint8_t *dst, size_t dst_cap,
                          img_info *info);

/* Read at most max_bytes of `path` into *buf (plain malloc/realloc, grown as needed;
 * *cap is its size). *len = bytes read, *file_len = the file's size. */
ft_status img_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *cap, size_t *len,
                        size_t *file_len);

/* ---- transforms (transforms.c) ---- */

/* Copy opts (NULL = defaults) into *out, resolve resize = 0, and check every field. */
ft_status tf_opts_check(const ft_image_opts *opts, ft_image_opts *out);

/* Source pixels: either u8 (h rows of w RGB triplets, values 0..255, scaled by 1/255) or
 * f32 (planar [3][h][w], used as is). */
typedef struct {
    const uint8_t *u8;
    const float *f32;
    int w, h;
} tf_src;

/* One axis of a resample: output pixel k (0 <= k < n) takes its centre from
 *   c = in0 + (off + k + 0.5) * scale
 * measured from `lo`, and its filter taps are limited to source pixels [lo, hi). This is
 * PIL's ImagingResample: a plain resize is in0 = 0, scale = in/out, off = 0, [0, in);
 * "resize then crop at `left`" is the same with off = left; "crop [j, j+cw) then resize
 * to n" is lo = j, hi = j + cw, scale = cw / n. */
typedef struct {
    double in0, scale;
    int off, lo, hi, n;
} tf_axis;

enum { TF_BRIGHTNESS = 0, TF_CONTRAST, TF_SATURATION };

typedef struct {
    tf_axis x, y;
    bool flip;              /* mirror the output left-right */
    int n_jitter;           /* colour jitter ops, applied in order */
    int jitter_op[3];       /* TF_BRIGHTNESS, ... */
    float jitter_f[3];      /* their factors */
} tf_plan;

/* The augmentation RNG of example i in epoch `epoch`:
 *   ft_pcg32_seed(r, splitmix64(seed ^ splitmix64(epoch + 1)), i)
 * (the loader's shuffle uses ft_pcg32_seed(seed, epoch), so the two never coincide). */
void tf_rng(ft_pcg32 *r, uint64_t seed, int64_t epoch, int64_t i);

/* Eval transform: resize the shorter side to `resize` (the longer one to
 * int(resize * long / short), as torchvision), or with `stretch` both sides to `resize`,
 * then centre-crop size x size. */
void tf_plan_eval(int w, int h, int resize, int size, bool stretch, tf_plan *p);
/* Crop rows [top, top+ch) x cols [left, left+cw), resize to size x size. */
void tf_plan_crop(int w, int h, int top, int left, int ch, int cw, int size, tf_plan *p);
/* torchvision RandomResizedCrop.get_params with our RNG: up to 10 tries of an area
 * fraction in [scale_min, scale_max) and a log-uniform aspect ratio, then the centre-crop
 * fallback. Draws 2 numbers per try and 2 more for the accepted position. Returns true
 * when it fell back. */
bool tf_random_resized_crop(int w, int h, float scale_min, float scale_max, float ratio_min, float ratio_max,
                            ft_pcg32 *r, int *top, int *left, int *ch, int *cw);
/* Training transform: RandomResizedCrop (or the eval transform if o->random_resized_crop
 * is false), then flip with p = 0.5 (one draw if o->hflip), then colour jitter (a random
 * order of the enabled ops, then one factor per enabled op). */
void tf_plan_train(int w, int h, const ft_image_opts *o, ft_pcg32 *r, tf_plan *p);

/* Scratch bytes tf_run needs for this plan, and an upper bound over every plan that
 * maps a w x h image to size x size (eval or random crop). */
size_t tf_scratch_bytes(const tf_plan *p);
size_t tf_scratch_bound(int w, int h, int size);
/* Antialiased bilinear resample (PIL's, in float), flip, colour jitter, then
 * (x - mean) / std: out is [3][p->y.n][p->x.n]. mean/std may be NULL (0 and 1). */
void tf_run(const tf_src *src, const tf_plan *p, const float *mean, const float *std, void *scratch,
            float *out);

#endif
