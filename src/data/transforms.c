/* Image transforms: torchvision's Resize + CenterCrop (eval) and RandomResizedCrop +
 * RandomHorizontalFlip + ColorJitter (train), then ToTensor + Normalize.
 *
 * Resampling is PIL's antialiased bilinear (Resample.c, ImagingResample), computed in
 * float: the triangle filter's support is scaled by the downscale factor (support =
 * max(in/out, 1)), taps are clipped to the source rectangle and the weights of each
 * output pixel renormalised. Separable: a horizontal pass over only the source rows the
 * vertical pass needs, then the vertical pass. PIL rounds to 8 bits after each pass; we
 * do not, so results agree with PIL's to within one 8-bit step (tests/test_images.c
 * checks this against tests/fixtures/resize.safetensors).
 *
 * A plan (tf_plan) holds every random choice, drawn from an RNG seeded by (seed, epoch,
 * i) only, so augmentation is the same for any number of loader workers and on resume. */
#include "data/transforms.h"

#include <math.h>
#include <string.h>

/* ---- options ---- */

ft_image_opts ft_image_opts_default(void) {
    ft_image_opts o;
    memset(&o, 0, sizeof o);
    o.size = 224;
    o.resize = 256;
    o.random_resized_crop = true;
    o.scale_min = 0.08f;
    o.scale_max = 1.0f;
    o.ratio_min = 3.0f / 4.0f;
    o.ratio_max = 4.0f / 3.0f;
    o.hflip = true;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, std, sizeof std);
    o.on_error = FT_IMG_SKIP;
    return o;
}

static bool finite_in(float v, float lo, float hi) { return isfinite(v) && v >= lo && v <= hi; }

ft_status tf_opts_check(const ft_image_opts *in, ft_image_opts *out) {
    *out = in ? *in : ft_image_opts_default();
    ft_image_opts *o = out;
    if (o->size < 1 || o->size > FT_IMAGE_MAX_SIDE)
        return ft_fail(FT_EINVAL, "image size %d is not in [1, %d] (start from ft_image_opts_default())", o->size,
                       FT_IMAGE_MAX_SIDE);
    if (o->resize == 0) o->resize = (int)((int64_t)o->size * 256 / 224 + ((int64_t)o->size * 256 % 224 >= 112));
    if (o->resize < o->size || o->resize > FT_IMAGE_MAX_SIDE)
        return ft_fail(FT_EINVAL, "image resize %d must be in [size %d, %d]", o->resize, o->size, FT_IMAGE_MAX_SIDE);
    if (!finite_in(o->scale_min, 1e-6f, 1.0f) || !finite_in(o->scale_max, o->scale_min, 1.0f))
        return ft_fail(FT_EINVAL, "RandomResizedCrop scale (%g, %g) must satisfy 0 < min <= max <= 1",
                       (double)o->scale_min, (double)o->scale_max);
    if (!finite_in(o->ratio_min, 1e-3f, 1e3f) || !finite_in(o->ratio_max, o->ratio_min, 1e3f))
        return ft_fail(FT_EINVAL, "RandomResizedCrop ratio (%g, %g) must satisfy 0 < min <= max",
                       (double)o->ratio_min, (double)o->ratio_max);
    if (!finite_in(o->brightness, 0, 1e3f) || !finite_in(o->contrast, 0, 1e3f) || !finite_in(o->saturation, 0, 1e3f))
        return ft_fail(FT_EINVAL, "colour jitter (brightness %g, contrast %g, saturation %g) must be >= 0",
                       (double)o->brightness, (double)o->contrast, (double)o->saturation);
    for (int c = 0; c < 3; c++)
        if (!isfinite(o->mean[c]) || !(o->std[c] > 0) || !isfinite(o->std[c]))
            return ft_fail(FT_EINVAL, "normalisation channel %d: mean %g, std %g (std must be > 0)", c,
                           (double)o->mean[c], (double)o->std[c]);
    if (o->on_error != FT_IMG_SKIP && o->on_error != FT_IMG_FAIL)
        return ft_fail(FT_EINVAL, "image on_error policy %d is not FT_IMG_SKIP or FT_IMG_FAIL", (int)o->on_error);
    return FT_OK;
}

/* ---- RNG ---- */

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void tf_rng(ft_pcg32 *r, uint64_t seed, int64_t epoch, int64_t i) {
    ft_pcg32_seed(r, splitmix64(seed ^ splitmix64((uint64_t)epoch + 1)), (uint64_t)i);
}

static double uniform(ft_pcg32 *r, double lo, double hi) { return lo + (hi - lo) * (double)ft_pcg32_uniform(r); }

/* Uniform integer in [0, n), n >= 1. */
static int randint(ft_pcg32 *r, int n) { return (int)(((uint64_t)ft_pcg32_next(r) * (uint64_t)n) >> 32); }

/* ---- plans ---- */

static void plan_clear(tf_plan *p) { memset(p, 0, sizeof *p); }

void tf_plan_eval(int w, int h, int resize, int size, bool stretch, tf_plan *p) {
    plan_clear(p);
    /* torchvision _compute_resized_output_size: the shorter side becomes `resize`, the
     * longer one int(resize * long / short). */
    int rw, rh;
    if (stretch) {
        rw = rh = resize;
    } else if (w <= h) {
        rw = resize;
        rh = (int)((double)((int64_t)resize * h) / (double)w);
    } else {
        rh = resize;
        rw = (int)((double)((int64_t)resize * w) / (double)h);
    }
    if (rw < 1) rw = 1;
    if (rh < 1) rh = 1;
    /* CenterCrop: int(round((resized - size) / 2.0)), Python's round half to even. */
    int left = (int)nearbyint((rw - size) / 2.0), top = (int)nearbyint((rh - size) / 2.0);
    p->x = (tf_axis){0.0, (double)w / rw, left, 0, w, size};
    p->y = (tf_axis){0.0, (double)h / rh, top, 0, h, size};
}

void tf_plan_crop(int w, int h, int top, int left, int ch, int cw, int size, tf_plan *p) {
    plan_clear(p);
    if (left < 0) left = 0;
    if (top < 0) top = 0;
    if (left > w - 1) left = w - 1;
    if (top > h - 1) top = h - 1;
    if (cw < 1) cw = 1;
    if (ch < 1) ch = 1;
    if (cw > w - left) cw = w - left;
    if (ch > h - top) ch = h - top;
    p->x = (tf_axis){0.0, (double)cw / size, 0, left, left + cw, size};
    p->y = (tf_axis){0.0, (double)ch / size, 0, top, top + ch, size};
}

bool tf_random_resized_crop(int w, int h, float scale_min, float scale_max, float ratio_min, float ratio_max,
                            ft_pcg32 *r, int *top, int *left, int *ch, int *cw) {
    double area = (double)w * h;
    double lr0 = log((double)ratio_min), lr1 = log((double)ratio_max);
    for (int tries = 0; tries < 10; tries++) {
        double target = area * uniform(r, scale_min, scale_max);
        double aspect = exp(uniform(r, lr0, lr1));
        double cwf = nearbyint(sqrt(target * aspect)), chf = nearbyint(sqrt(target / aspect));
        if (cwf > 0 && cwf <= w && chf > 0 && chf <= h) {
            *ch = (int)chf;
            *cw = (int)cwf;
            *top = randint(r, h - *ch + 1);
            *left = randint(r, w - *cw + 1);
            return false;
        }
    }
    /* Fallback: the centre crop of the whole image, its ratio clamped to the range. */
    double in_ratio = (double)w / h;
    if (in_ratio < ratio_min) {
        *cw = w;
        *ch = (int)nearbyint(w / (double)ratio_min);
    } else if (in_ratio > ratio_max) {
        *ch = h;
        *cw = (int)nearbyint(h * (double)ratio_max);
    } else {
        *cw = w;
        *ch = h;
    }
    if (*cw < 1) *cw = 1;
    if (*ch < 1) *ch = 1;
    if (*cw > w) *cw = w;
    if (*ch > h) *ch = h;
    *top = (h - *ch) / 2;
    *left = (w - *cw) / 2;
    return true;
}

void tf_plan_train(int w, int h, const ft_image_opts *o, ft_pcg32 *r, tf_plan *p) {
    if (o->random_resized_crop) {
        int top, left, ch, cw;
        tf_random_resized_crop(w, h, o->scale_min, o->scale_max, o->ratio_min, o->ratio_max, r, &top, &left, &ch,
                               &cw);
        tf_plan_crop(w, h, top, left, ch, cw, o->size, p);
    } else {
        tf_plan_eval(w, h, o->resize, o->size, o->stretch, p);
    }
    if (o->hflip) p->flip = ft_pcg32_uniform(r) < 0.5f;
    const float strength[3] = {o->brightness, o->contrast, o->saturation};
    if (strength[0] > 0 || strength[1] > 0 || strength[2] > 0) {
        /* ColorJitter: a random order of the ops, then one factor per enabled op. */
        int order[3] = {0, 1, 2};
        for (int k = 2; k > 0; k--) {
            int j = randint(r, k + 1);
            int t = order[k]; order[k] = order[j]; order[j] = t;
        }
        float f[3] = {1, 1, 1};
        for (int k = 0; k < 3; k++)
            if (strength[k] > 0) {
                double lo = 1.0 - strength[k];
                f[k] = (float)uniform(r, lo < 0 ? 0 : lo, 1.0 + strength[k]);
            }
        for (int k = 0; k < 3; k++)
            if (strength[order[k]] > 0) {
                p->jitter_op[p->n_jitter] = order[k];
                p->jitter_f[p->n_jitter] = f[order[k]];
                p->n_jitter++;
            }
    }
}

/* ---- resampling ---- */

typedef struct {
    double support, ss;
    int ksize;
} axis_filter;

static axis_filter axis_filter_of(const tf_axis *a) {
    double fs = a->scale < 1.0 ? 1.0 : a->scale;
    axis_filter f = {fs, 1.0 / fs, (int)ceil(fs) * 2 + 1};
    return f;
}

/* First tap (relative to a->lo) and tap count of output pixel k. */
static void axis_window(const tf_axis *a, const axis_filter *f, int k, double *center, int *xmin, int *cnt) {
    *center = a->in0 + (a->off + k + 0.5) * a->scale;
    double lo = *center - f->support + 0.5, hi = *center + f->support + 0.5;
    int span = a->hi - a->lo;
    int x0 = lo <= 0 ? 0 : lo >= span ? span : (int)lo;
    int x1 = hi <= 0 ? 0 : hi >= span ? span : (int)hi;
    *xmin = x0;
    *cnt = x1 > x0 ? x1 - x0 : 0;
}

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Coefficients: k[j*ksize + t] for tap t of output j; bounds[2j] = absolute first tap,
 * bounds[2j+1] = count. */
static void axis_coeffs(const tf_axis *a, float *k, int *bounds) {
    axis_filter f = axis_filter_of(a);
    for (int j = 0; j < a->n; j++) {
        double center;
        int xmin, cnt;
        axis_window(a, &f, j, &center, &xmin, &cnt);
        float *kj = k + (size_t)j * f.ksize;
        double ww = 0;
        for (int t = 0; t < cnt; t++) ww += triangle((t + xmin - center + 0.5) * f.ss);
        for (int t = 0; t < cnt; t++) {
            double v = triangle((t + xmin - center + 0.5) * f.ss);
            kj[t] = (float)(ww != 0.0 ? v / ww : v);
        }
        for (int t = cnt; t < f.ksize; t++) kj[t] = 0;
        bounds[2 * j] = a->lo + xmin;
        bounds[2 * j + 1] = cnt;
    }
}

/* Source rows [*first, *last) that the vertical pass reads. */
static void rows_needed(const tf_axis *a, int *first, int *last) {
    axis_filter f = axis_filter_of(a);
    *first = a->hi;
    *last = a->lo;
    for (int j = 0; j < a->n; j++) {
        double center;
        int xmin, cnt;
        axis_window(a, &f, j, &center, &xmin, &cnt);
        if (!cnt) continue;
        if (a->lo + xmin < *first) *first = a->lo + xmin;
        if (a->lo + xmin + cnt > *last) *last = a->lo + xmin + cnt;
    }
    if (*last < *first) *last = *first;
}

typedef struct {
    float *kx, *ky, *tmp, *acc;
    int *bx, *by;
    int row0, row1;
} tf_layout;

static size_t layout(const tf_plan *p, uint8_t *base, tf_layout *L) {
    axis_filter fx = axis_filter_of(&p->x), fy = axis_filter_of(&p->y);
    int r0, r1;
    rows_needed(&p->y, &r0, &r1);
    size_t nx = (size_t)p->x.n, ny = (size_t)p->y.n;
    size_t off = 0;
#define CARVE(field, type, count)                                          \
    do {                                                                   \
        off = (off + 63) & ~(size_t)63;                                    \
        if (base) L->field = (type *)(base + off);                         \
        off += (size_t)(count) * sizeof(type);                             \
    } while (0)
    CARVE(kx, float, nx * (size_t)fx.ksize);
    CARVE(ky, float, ny * (size_t)fy.ksize);
    CARVE(bx, int, 2 * nx);
    CARVE(by, int, 2 * ny);
    CARVE(tmp, float, (size_t)(r1 - r0) * nx * 3);
    CARVE(acc, float, nx * 3);
#undef CARVE
    if (base) { L->row0 = r0; L->row1 = r1; }
    return off + 64;
}

size_t tf_scratch_bytes(const tf_plan *p) { return layout(p, NULL, NULL); }

/* Every plan for a w x h source has scale <= max(w, h) / size on its axes (the eval
 * resize makes both sides >= size, a crop is at most the image), and reads <= h rows. */
size_t tf_scratch_bound(int w, int h, int size) {
    size_t n = (size_t)size;
    size_t cx = ((size_t)w + n - 1) / n, cy = ((size_t)h + n - 1) / n;
    size_t kx = 2 * (cx < 1 ? 1 : cx) + 1, ky = 2 * (cy < 1 ? 1 : cy) + 1;
    size_t words = n * kx + n * ky + 4 * n + (size_t)h * n * 3 + n * 3;
    return words * 4 + 8 * 64;
}

/* Horizontal pass of source row y into dst (nx RGB triplets). */
static void hpass_u8(const tf_src *s, int y, const tf_layout *L, int nx, int ksize, float *dst) {
    const uint8_t *row = s->u8 + (size_t)y * (size_t)s->w * 3;
    for (int j = 0; j < nx; j++) {
        const float *k = L->kx + (size_t)j * ksize;
        const uint8_t *px = row + (size_t)L->bx[2 * j] * 3;
        int cnt = L->bx[2 * j + 1];
        float r = 0, g = 0, b = 0;
        for (int t = 0; t < cnt; t++) {
            r += k[t] * px[3 * t];
            g += k[t] * px[3 * t + 1];
            b += k[t] * px[3 * t + 2];
        }
        dst[3 * j] = r; dst[3 * j + 1] = g; dst[3 * j + 2] = b;
    }
}

static void hpass_f32(const tf_src *s, int y, const tf_layout *L, int nx, int ksize, float *dst) {
    size_t plane = (size_t)s->w * (size_t)s->h;
    for (int c = 0; c < 3; c++) {
        const float *row = s->f32 + c * plane + (size_t)y * (size_t)s->w;
        for (int j = 0; j < nx; j++) {
            const float *k = L->kx + (size_t)j * ksize;
            const float *px = row + L->bx[2 * j];
            int cnt = L->bx[2 * j + 1];
            float v = 0;
            for (int t = 0; t < cnt; t++) v += k[t] * px[t];
            dst[3 * j + c] = v;
        }
    }
}

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void jitter(float *out, size_t npx, int op, float f) {
    float *r = out, *g = out + npx, *b = out + 2 * npx;
    switch (op) {
    case TF_BRIGHTNESS:
        for (size_t k = 0; k < 3 * npx; k++) out[k] = clamp01(out[k] * f);
        break;
    case TF_CONTRAST: {
        double sum = 0;
        for (size_t k = 0; k < npx; k++) sum += 0.299f * r[k] + 0.587f * g[k] + 0.114f * b[k];
        float m = (float)(sum / (double)npx) * (1 - f);
        for (size_t k = 0; k < 3 * npx; k++) out[k] = clamp01(f * out[k] + m);
        break;
    }
    case TF_SATURATION:
        for (size_t k = 0; k < npx; k++) {
            float gray = (0.299f * r[k] + 0.587f * g[k] + 0.114f * b[k]) * (1 - f);
            r[k] = clamp01(f * r[k] + gray);
            g[k] = clamp01(f * g[k] + gray);
            b[k] = clamp01(f * b[k] + gray);
        }
        break;
    }
}

void tf_run(const tf_src *src, const tf_plan *p, const float *mean, const float *std, void *scratch, float *out) {
    tf_layout L;
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    layout(p, base, &L);
    axis_coeffs(&p->x, L.kx, L.bx);
    axis_coeffs(&p->y, L.ky, L.by);
    int nx = p->x.n, ny = p->y.n;
    int kxs = axis_filter_of(&p->x).ksize, kys = axis_filter_of(&p->y).ksize;
    size_t rs = (size_t)nx * 3;
    for (int y = L.row0; y < L.row1; y++) {
        float *dst = L.tmp + (size_t)(y - L.row0) * rs;
        if (src->u8) hpass_u8(src, y, &L, nx, kxs, dst);
        else hpass_f32(src, y, &L, nx, kxs, dst);
    }
    float scale = src->u8 ? 1.0f / 255.0f : 1.0f;
    size_t npx = (size_t)nx * (size_t)ny;
    for (int i = 0; i < ny; i++) {
        const float *k = L.ky + (size_t)i * kys;
        int y0 = L.by[2 * i], cnt = L.by[2 * i + 1];
        memset(L.acc, 0, rs * sizeof *L.acc);
        for (int t = 0; t < cnt; t++) {
            const float *row = L.tmp + (size_t)(y0 + t - L.row0) * rs;
            float w = k[t];
            for (size_t q = 0; q < rs; q++) L.acc[q] += w * row[q];
        }
        for (int c = 0; c < 3; c++) {
            float *o = out + c * npx + (size_t)i * nx;
            if (p->flip)
                for (int j = 0; j < nx; j++) o[nx - 1 - j] = L.acc[3 * j + c] * scale;
            else
                for (int j = 0; j < nx; j++) o[j] = L.acc[3 * j + c] * scale;
        }
    }
    for (int q = 0; q < p->n_jitter; q++) jitter(out, npx, p->jitter_op[q], p->jitter_f[q]);
    for (int c = 0; c < 3; c++) {
        float m = mean ? mean[c] : 0.0f, s = std ? std[c] : 1.0f;
        if (m == 0.0f && s == 1.0f) continue;
        float *o = out + c * npx;
        for (size_t k = 0; k < npx; k++) o[k] = (o[k] - m) / s;
    }
}

/* ---- public: one image through the dataset's transform ---- */

ft_status ft_image_transform(const ft_image *img, const ft_image_opts *opts, const ft_sample_ctx *ctx, int64_t i,
                             float *out) {
    if (!img || !img->data || !out) return ft_fail(FT_EINVAL, "ft_image_transform: no image or output");
    if (img->width < 1 || img->height < 1 || img->width > FT_IMAGE_MAX_SIDE || img->height > FT_IMAGE_MAX_SIDE)
        return ft_fail(FT_EINVAL, "ft_image_transform: image size %lldx%lld is not in [1, %d]",
                       (long long)img->width, (long long)img->height, FT_IMAGE_MAX_SIDE);
    ft_image_opts o;
    ft_status st = tf_opts_check(opts, &o);
    if (st) return st;
    tf_plan p;
    int w = (int)img->width, h = (int)img->height;
    if (ctx && ctx->augment) {
        ft_pcg32 r;
        tf_rng(&r, ctx->seed, ctx->epoch, i);
        tf_plan_train(w, h, &o, &r, &p);
    } else {
        tf_plan_eval(w, h, o.resize, o.size, o.stretch, &p);
    }
    void *scratch = ft_malloc(tf_scratch_bytes(&p));
    if (!scratch) return ft_fail(FT_ENOMEM, "out of memory for the image transform");
    tf_src src = {NULL, img->data, w, h};
    tf_run(&src, &p, o.mean, o.std, scratch, out);
    ft_free(scratch);
    return FT_OK;
}
