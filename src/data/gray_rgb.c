/* Grayscale examples as RGB images: the "rgb:<spec>" dataset. Wraps a dataset of small
 * grayscale pictures (F32 [1, h, w] or [h, w], values in [0, 1]: IDX, Fashion-MNIST,
 * MNIST JSON) so that a pretrained image model can take them: each example becomes F32
 * [3, size, size], the picture resized as a whole (no crop) with the image pipeline's
 * antialiased bilinear resample, copied to the three channels, then (x - mean) / std.
 *
 * The resample is linear and separable, so at open it is turned into two small matrices
 * (Ry: size x h, Rx: size x w) by resampling unit images with tf_run, and get() is two
 * matrix products into stack buffers: no allocation after open, thread-safe. */
#include "data/transforms.h"

#include <stdio.h>
#include <string.h>

#define GR_MAX_IN 4096        /* h * w of the inner examples (64 x 64) */
#define GR_MAX_TMP 65536      /* h * size floats of the intermediate (256 KB of stack) */

typedef struct {
    ft_dataset *inner;        /* owned */
    int h, w, size;
    float *ry, *rx;           /* [size][h], [size][w] */
    float mean[3], std[3];
} gray_impl;

static ft_status gray_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    (void)ctx; /* no augmentation: the picture is always resized whole */
    gray_impl *g = ds->impl;
    float in[GR_MAX_IN], tmp[GR_MAX_TMP];
    ft_status s = g->inner->get(g->inner, i, NULL, in, y);
    if (s) return s;
    int h = g->h, w = g->w, n = g->size;
    /* tmp[r][c] = sum_j in[r][j] * rx[c][j]   (h x n) */
    for (int r = 0; r < h; r++)
        for (int c = 0; c < n; c++) {
            float acc = 0;
            const float *a = in + (size_t)r * w, *b = g->rx + (size_t)c * w;
            for (int j = 0; j < w; j++) acc += a[j] * b[j];
            tmp[(size_t)r * n + c] = acc;
        }
    /* out[ch][k][c] = (sum_r ry[k][r] * tmp[r][c] - mean[ch]) / std[ch] */
    float *out = x;
    for (int k = 0; k < n; k++) {
        float *row = out + (size_t)k * n;
        for (int c = 0; c < n; c++) row[c] = 0;
        const float *ry = g->ry + (size_t)k * h;
        for (int r = 0; r < h; r++) {
            float wgt = ry[r];
            if (wgt == 0) continue;
            const float *t = tmp + (size_t)r * n;
            for (int c = 0; c < n; c++) row[c] += wgt * t[c];
        }
    }
    size_t plane = (size_t)n * n;
    for (int ch = 2; ch >= 0; ch--) {
        float m = g->mean[ch], sd = g->std[ch];
        float *dst = out + (size_t)ch * plane;
        for (size_t p = 0; p < plane; p++) dst[p] = (out[p] - m) / sd; /* channel 0 last: it is the source */
    }
    return FT_OK;
}

static void gray_free(ft_dataset *ds) {
    gray_impl *g = ds->impl;
    if (!g) return;
    ft_dataset_free(g->inner);
    ft_free(g->ry);
    ft_free(g->rx);
    ft_free(g);
}

/* Resample matrix of one axis: row k = the weights output pixel k gives to each of the
 * `in` source pixels, read off tf_run on unit images of in x 1 pixels. */
static ft_status axis_matrix(int in, int size, float *m) {
    float *src = ft_calloc((size_t)3 * in, sizeof *src), *out = ft_malloc((size_t)3 * size * size * sizeof *out);
    tf_plan p;
    tf_plan_crop(1, in, 0, 0, in, 1, size, &p); /* a 1-wide column of `in` rows, resized to size x size */
    void *scratch = ft_malloc(tf_scratch_bytes(&p) + 64);
    if (!src || !out || !scratch) {
        ft_free(src); ft_free(out); ft_free(scratch);
        return ft_fail(FT_ENOMEM, "out of memory for the rgb: resample");
    }
    for (int j = 0; j < in; j++) {
        memset(src, 0, (size_t)3 * in * sizeof *src);
        for (int ch = 0; ch < 3; ch++) src[(size_t)ch * in + j] = 1.0f;
        tf_src s = {NULL, src, 1, in};
        tf_run(&s, &p, NULL, NULL, scratch, out);
        for (int k = 0; k < size; k++) m[(size_t)k * in + j] = out[(size_t)k * size]; /* column 0 of row k */
    }
    ft_free(src);
    ft_free(out);
    ft_free(scratch);
    return FT_OK;
}

ft_status ft_dataset_gray_to_rgb(ft_dataset *inner, const ft_image_opts *opts, ft_dataset **out) {
    *out = NULL;
    ft_image_opts o;
    ft_status s = tf_opts_check(opts, &o);
    if (s) { ft_dataset_free(inner); return s; }
    int h, w;
    if (inner->x_dtype == FT_F32 && inner->x_ndim == 3 && inner->x_shape[0] == 1) {
        h = (int)inner->x_shape[1];
        w = (int)inner->x_shape[2];
    } else if (inner->x_dtype == FT_F32 && inner->x_ndim == 2) {
        h = (int)inner->x_shape[0];
        w = (int)inner->x_shape[1];
    } else {
        s = ft_fail(FT_EINVAL, "rgb: dataset %s does not hold grayscale pictures (F32 [1, h, w] or [h, w])", inner->name);
        ft_dataset_free(inner);
        return s;
    }
    if ((int64_t)h * w > GR_MAX_IN || (int64_t)h * o.size > GR_MAX_TMP) {
        s = ft_fail(FT_EINVAL, "rgb: %dx%d pictures to %dx%d images is beyond this wrapper (at most %d pixels in, %d rows x size)",
                    h, w, o.size, o.size, GR_MAX_IN, GR_MAX_TMP);
        ft_dataset_free(inner);
        return s;
    }
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    gray_impl *g = ft_calloc(1, sizeof *g);
    if (g) {
        g->ry = ft_malloc((size_t)o.size * h * sizeof *g->ry);
        g->rx = ft_malloc((size_t)o.size * w * sizeof *g->rx);
    }
    if (!ds || !g || !g->ry || !g->rx) {
        if (g) { ft_free(g->ry); ft_free(g->rx); }
        ft_free(g);
        ft_free(ds);
        ft_dataset_free(inner);
        return ft_fail(FT_ENOMEM, "out of memory for the rgb: dataset");
    }
    g->inner = inner;
    g->h = h;
    g->w = w;
    g->size = o.size;
    memcpy(g->mean, o.mean, sizeof g->mean);
    memcpy(g->std, o.std, sizeof g->std);
    ds->impl = g;
    ds->free_impl = gray_free;
    if ((s = axis_matrix(h, o.size, g->ry)) || (s = axis_matrix(w, o.size, g->rx))) {
        ft_dataset_free(ds);
        return s;
    }
    ds->n = inner->n;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 3;
    ds->x_shape[0] = 3;
    ds->x_shape[1] = o.size;
    ds->x_shape[2] = o.size;
    ds->x_numel = (int64_t)3 * o.size * o.size;
    ds->n_classes = inner->n_classes;
    ds->get = gray_get;
    if (inner->class_names) { /* moved: the wrapper names the classes now */
        ds->class_names = inner->class_names;
        inner->class_names = NULL;
    }
    snprintf(ds->name, sizeof ds->name, "rgb:%.56s", inner->name);
    *out = ds;
    return FT_OK;
}
