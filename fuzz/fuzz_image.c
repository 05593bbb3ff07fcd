/* libFuzzer target: image decoding from memory (JPEG via libjpeg-turbo, PNG via libpng,
 * BMP by hand). Any input must give a status, never a crash, an out-of-bounds read or a
 * leak; the probe and the decoder must agree on the size; an image that decodes must
 * go through the eval and training transforms with finite output. */
#include "finetune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Valid headers may declare up to 16384 x 16384 pixels (a 3 GiB float image): decoding
 * those only tests the machine's memory. The size checks themselves run on every input
 * (the probe), and tests/test_images.c checks the limit. */
#define FUZZ_MAX_PIXELS (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy, so ASan sees any read past the end of the input. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    ft_image_format fmt;
    int64_t w = 0, h = 0;
    ft_status st = ft_image_probe_memory(buf, size, "fuzz", &fmt, &w, &h);
    if (st == FT_OK) {
        if (w < 1 || h < 1 || w > FT_IMAGE_MAX_SIDE || h > FT_IMAGE_MAX_SIDE || fmt == FT_IMAGE_UNKNOWN) abort();
        if (w * h <= FUZZ_MAX_PIXELS) {
            ft_image img;
            if (ft_image_decode_memory(buf, size, "fuzz", &img) == FT_OK) {
                if (img.width != w || img.height != h || !img.data) abort();
                ft_image_opts o = ft_image_opts_default();
                o.size = 8;
                o.resize = 9;
                o.brightness = o.contrast = o.saturation = 0.5f;
                float out[3 * 8 * 8];
                for (int aug = 0; aug < 2; aug++) {
                    ft_sample_ctx ctx = {size, (int64_t)(size & 7), aug == 1};
                    if (ft_image_transform(&img, &o, &ctx, (int64_t)size, out) != FT_OK) abort();
                    for (int k = 0; k < 3 * 8 * 8; k++)
                        if (!isfinite(out[k])) abort();
                }
                ft_image_free(&img);
            } else if (img.data) {
                abort(); /* a failed decode must not hand out pixels */
            }
        }
    } else if (w || h) {
        abort();
    }
    free(buf);
    return 0;
}
