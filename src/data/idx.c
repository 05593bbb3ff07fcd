/* IDX files (the MNIST / Fashion-MNIST layout), gzip-compressed or plain.
 *
 * Images: big-endian u32 magic 0x00000803, then u32 count, rows, cols, then
 * count*rows*cols u8 pixels. Labels: magic 0x00000801, u32 count, then count u8 labels.
 * Everything is read into memory at open as u8; get() scales pixels to [0,1] with
 * p / 255.0f (what torchvision's ToTensor computes) into a [1, rows, cols] F32 example. */
#include "finetune/train.h"

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_SIDE 65536u

typedef struct {
    uint8_t *pixels;    /* n * rows * cols */
    uint8_t *labels;    /* n */
    int64_t pix_per;    /* rows * cols */
} idx_impl;

static ft_status idx_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    idx_impl *m = ds->impl;
    if (i < 0 || i >= ds->n)
        return ft_fail(FT_EINVAL, "%s: example %lld out of range [0, %lld)", ds->name,
                       (long long)i, (long long)ds->n);
    const uint8_t *p = m->pixels + i * m->pix_per;
    float *xf = x;
    for (int64_t k = 0; k < m->pix_per; k++) xf[k] = (float)p[k] / 255.0f;
    *y = m->labels[i];
    return FT_OK;
}

static void idx_free(ft_dataset *ds) {
    idx_impl *m = ds->impl;
    if (m) { ft_free(m->pixels); ft_free(m->labels); }
    ft_free(m);
}

static ft_status open_gz(const char *path, gzFile *out) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such file", path);
        if (errno) return ft_fail(FT_EIO, "%s: cannot open: %s", path, strerror(errno));
        return ft_fail(FT_ENOMEM, "%s: cannot open (out of memory)", path);
    }
    gzbuffer(f, 1 << 17);
    *out = f;
    return FT_OK;
}

/* Read exactly n bytes; short reads and zlib errors become FT_EFORMAT naming `what`.
 * `done` and `total` place this read within the section, for the message only. */
static ft_status read_exact(gzFile f, const char *path, const char *what, void *buf, size_t n,
                            size_t done, size_t total) {
    uint8_t *p = buf;
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(f, p + got, (unsigned)want);
        if (r > 0) { got += (size_t)r; continue; }
        int zerr = Z_OK;
        const char *msg = gzerror(f, &zerr);
        if (zerr == Z_ERRNO) return ft_fail(FT_EIO, "%s: read error in %s: %s", path, what, strerror(errno));
        if (zerr == Z_OK || zerr == Z_STREAM_END || zerr == Z_BUF_ERROR)
            return ft_fail(FT_EFORMAT, "%s: truncated: %s has %zu of %zu bytes", path, what, done + got, total);
        return ft_fail(FT_EFORMAT, "%s: corrupt data in %s after %zu of %zu bytes: %s", path, what,
                       done + got, total, msg);
    }
    return FT_OK;
}

/* Read exactly n bytes into a buffer that grows with the data actually present (so a
 * header claiming a huge count cannot trigger a huge allocation before the file ends). */
static ft_status read_body(gzFile f, const char *path, const char *what, size_t n, uint8_t **out) {
    *out = NULL;
    size_t cap = n < (1u << 22) ? n : (1u << 22), got = 0;
    uint8_t *buf = ft_malloc(cap ? cap : 1);
    if (!buf) return ft_fail(FT_ENOMEM, "%s: out of memory for %s (%zu bytes)", path, what, n);
    while (got < n) {
        if (got == cap) {
            size_t nc = cap * 2 < n ? cap * 2 : n;
            uint8_t *nb = ft_realloc(buf, nc);
            if (!nb) { ft_free(buf); return ft_fail(FT_ENOMEM, "%s: out of memory for %s (%zu bytes)", path, what, n); }
            buf = nb;
            cap = nc;
        }
        ft_status st = read_exact(f, path, what, buf + got, cap - got, got, n);
        if (st) { ft_free(buf); return st; }
        got = cap;
    }
    *out = buf;
    return FT_OK;
}

/* After the last expected byte there must be nothing (a longer file means the header lies). */
static ft_status expect_eof(gzFile f, const char *path) {
    uint8_t b;
    int r = gzread(f, &b, 1);
    if (r == 1) return ft_fail(FT_EFORMAT, "%s: trailing data after the declared contents", path);
    if (r < 0) {
        int zerr;
        const char *msg = gzerror(f, &zerr);
        return ft_fail(FT_EFORMAT, "%s: corrupt data at the end: %s", path, msg);
    }
    int zerr;
    const char *msg = gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END)
        return ft_fail(FT_EFORMAT, "%s: truncated or corrupt at the end (%s)", path, msg);
    return FT_OK;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* *n_hdr: the count in the header; *n: the examples loaded (at most limit when > 0). */
static ft_status read_images(const char *path, int64_t limit, uint8_t **pix, uint32_t *n_hdr, uint32_t *n,
                             uint32_t *rows, uint32_t *cols) {
    gzFile f;
    ft_status st = open_gz(path, &f);
    if (st) return st;
    uint8_t h[16];
    if ((st = read_exact(f, path, "the image header", h, 16, 0, 16))) goto done;
    uint32_t magic = be32(h);
    if (magic != IDX_MAGIC_IMAGES) {
        st = ft_fail(FT_EFORMAT, "%s: bad magic 0x%08x, expected 0x%08x (IDX u8 images with 3 dims)",
                     path, magic, IDX_MAGIC_IMAGES);
        goto done;
    }
    *n_hdr = *n = be32(h + 4); *rows = be32(h + 8); *cols = be32(h + 12);
    if (*rows == 0 || *cols == 0 || *rows > IDX_MAX_SIDE || *cols > IDX_MAX_SIDE) {
        st = ft_fail(FT_EFORMAT, "%s: bad image size %ux%u", path, *rows, *cols);
        goto done;
    }
    uint32_t take = *n;
    if (limit > 0 && (uint64_t)limit < take) take = (uint32_t)limit;
    size_t bytes = (size_t)take * *rows * *cols;
    if ((st = read_body(f, path, "the pixels", bytes, pix))) goto done;
    if (take == *n && (st = expect_eof(f, path))) { ft_free(*pix); *pix = NULL; goto done; }
    *n = take;
done:
    gzclose(f);
    return st;
}

static ft_status read_labels(const char *path, int64_t limit, uint8_t **lab, uint32_t *n_hdr, uint32_t *n) {
    gzFile f;
    ft_status st = open_gz(path, &f);
    if (st) return st;
    uint8_t h[8];
    if ((st = read_exact(f, path, "the label header", h, 8, 0, 8))) goto done;
    uint32_t magic = be32(h);
    if (magic != IDX_MAGIC_LABELS) {
        st = ft_fail(FT_EFORMAT, "%s: bad magic 0x%08x, expected 0x%08x (IDX u8 labels with 1 dim)",
                     path, magic, IDX_MAGIC_LABELS);
        goto done;
    }
    *n_hdr = *n = be32(h + 4);
    uint32_t take = *n;
    if (limit > 0 && (uint64_t)limit < take) take = (uint32_t)limit;
    if ((st = read_body(f, path, "the labels", take, lab))) goto done;
    if (take == *n && (st = expect_eof(f, path))) { ft_free(*lab); *lab = NULL; goto done; }
    *n = take;
done:
    gzclose(f);
    return st;
}

/* limit <= 0 loads every example; otherwise the first `limit`. */
ft_status ft_dataset_idx(const char *images_path, const char *labels_path, int64_t limit, ft_dataset **out) {
    *out = NULL;
    if (!images_path || !labels_path) return ft_fail(FT_EINVAL, "ft_dataset_idx: missing path");
    uint8_t *pix = NULL, *lab = NULL;
    uint32_t n_img = 0, n_lab = 0, hdr_img = 0, hdr_lab = 0, rows = 0, cols = 0;
    ft_status st = read_labels(labels_path, limit, &lab, &hdr_lab, &n_lab);
    if (st) return st;
    if ((st = read_images(images_path, limit, &pix, &hdr_img, &n_img, &rows, &cols))) { ft_free(lab); return st; }
    if (hdr_img != hdr_lab || n_img != n_lab) {
        ft_free(pix); ft_free(lab);
        return ft_fail(FT_EFORMAT, "%s has %u images but %s has %u labels", images_path, hdr_img,
                       labels_path, hdr_lab);
    }
    int max_label = -1;
    for (uint32_t i = 0; i < n_lab; i++) if (lab[i] > max_label) max_label = lab[i];

    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    idx_impl *m = ft_calloc(1, sizeof *m);
    if (!ds || !m) {
        ft_free(ds); ft_free(m); ft_free(pix); ft_free(lab);
        return ft_fail(FT_ENOMEM, "out of memory opening %s", images_path);
    }
    m->pixels = pix;
    m->labels = lab;
    m->pix_per = (int64_t)rows * cols;
    ds->n = n_img;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 3;
    ds->x_shape[0] = 1; ds->x_shape[1] = rows; ds->x_shape[2] = cols;
    ds->x_numel = m->pix_per;
    ds->n_classes = max_label + 1;
    ds->get = idx_get;
    ds->free_impl = idx_free;
    ds->impl = m;
    const char *base = strrchr(images_path, '/');
    snprintf(ds->name, sizeof ds->name, "idx:%s", base ? base + 1 : images_path);
    *out = ds;
    return FT_OK;
}
