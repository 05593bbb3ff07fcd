/* Datasets: common helpers (free, subset, split), the seeded permutation shared with the
 * loader, and the spec strings the CLI uses to name a dataset. The readers themselves
 * live in idx.c, mnist_json.c, csv.c and image_folder.c (audio: src/audio). */
#include "finetune/train.h"
#include "finetune/audio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

void ft_dataset_free(ft_dataset *ds) {
    if (!ds) return;
    if (ds->free_impl) ds->free_impl(ds);
    if (ds->class_names) {
        for (int c = 0; c < ds->n_classes; c++) ft_free(ds->class_names[c]);
        ft_free(ds->class_names);
    }
    ft_free(ds);
}

/* Replace ds->class_names with copies of names[0..n). */
static ft_status set_class_names(ft_dataset *ds, const char *const *names, int n) {
    char **cn = ft_calloc((size_t)n, sizeof *cn);
    if (!cn) return ft_fail(FT_ENOMEM, "out of memory for %d class names", n);
    for (int c = 0; c < n; c++) {
        if (!(cn[c] = ft_strdup(names[c]))) {
            for (int k = 0; k < c; k++) ft_free(cn[k]);
            ft_free(cn);
            return ft_fail(FT_ENOMEM, "out of memory for class names");
        }
    }
    if (ds->class_names) {
        for (int c = 0; c < ds->n_classes; c++) ft_free(ds->class_names[c]);
        ft_free(ds->class_names);
    }
    ds->class_names = cn;
    ds->n_classes = n;
    return FT_OK;
}

/* ---- permutation ----
 * Fisher-Yates, exactly as the Python fixture generator must mirror it:
 *
 *   r = PCG32(seed, stream)             # ft_pcg32_seed(&r, seed, stream)
 *   perm = [0, 1, ..., n-1]
 *   for i in range(n-1, 0, -1):         # i = n-1 down to 1
 *       j = (r.next() * (i + 1)) >> 32  # uint32 times uint64, uniform in [0, i]
 *       perm[i], perm[j] = perm[j], perm[i]
 *
 * One PCG32 draw per i (n-1 draws in all, none for n <= 1). The multiply-shift maps a
 * 32-bit draw onto [0, i] (Lemire's method without the rejection step: the bias is below
 * (i+1)/2^32, negligible for dataset sizes). Valid for n <= 2^32. */
void ft_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    if (n < 2) return;
    ft_pcg32 r;
    ft_pcg32_seed(&r, seed, stream);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(((uint64_t)ft_pcg32_next(&r) * (uint64_t)(i + 1)) >> 32);
        int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

/* ---- subset ---- */
typedef struct {
    ft_dataset *base;
    int64_t *idx;
} subset_impl;

static ft_status subset_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    subset_impl *s = ds->impl;
    if (i < 0 || i >= ds->n)
        return ft_fail(FT_EINVAL, "%s: example %lld out of range [0, %lld)", ds->name,
                       (long long)i, (long long)ds->n);
    return s->base->get(s->base, s->idx[i], ctx, x, y);
}

static void subset_free(ft_dataset *ds) {
    subset_impl *s = ds->impl;
    if (s) ft_free(s->idx);
    ft_free(s);
}

ft_status ft_dataset_subset(ft_dataset *ds, const int64_t *idx, int64_t n, ft_dataset **out) {
    *out = NULL;
    if (!ds || !ds->get || n < 0 || (n > 0 && !idx))
        return ft_fail(FT_EINVAL, "ft_dataset_subset: bad arguments");
    for (int64_t k = 0; k < n; k++)
        if (idx[k] < 0 || idx[k] >= ds->n)
            return ft_fail(FT_EINVAL, "subset of %s: index %lld (position %lld) out of range [0, %lld)",
                           ds->name, (long long)idx[k], (long long)k, (long long)ds->n);
    ft_dataset *sd = ft_calloc(1, sizeof *sd);
    subset_impl *s = ft_calloc(1, sizeof *s);
    int64_t *cp = ft_malloc((size_t)(n > 0 ? n : 1) * sizeof *cp);
    if (!sd || !s || !cp) {
        ft_free(sd); ft_free(s); ft_free(cp);
        return ft_fail(FT_ENOMEM, "out of memory for a subset of %lld examples of %s", (long long)n, ds->name);
    }
    if (n > 0) memcpy(cp, idx, (size_t)n * sizeof *cp);
    s->base = ds;
    s->idx = cp;
    sd->n = n;
    sd->x_dtype = ds->x_dtype;
    sd->x_ndim = ds->x_ndim;
    memcpy(sd->x_shape, ds->x_shape, sizeof sd->x_shape);
    sd->x_numel = ds->x_numel;
    sd->n_classes = ds->n_classes;
    sd->augments = ds->augments;
    sd->task = ds->task;
    sd->get = subset_get;
    sd->free_impl = subset_free;
    sd->impl = s;
    snprintf(sd->name, sizeof sd->name, "%.54s[subset]", ds->name);
    if (ds->class_names) {
        ft_status st = set_class_names(sd, (const char *const *)ds->class_names, ds->n_classes);
        if (st) { ft_dataset_free(sd); return st; }
    }
    *out = sd;
    return FT_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* n_b = round(frac_b * n) examples go to b, the other n - n_b to a. The choice is the
 * permutation(seed, stream 0) of 0..n-1: a takes its first n_a entries, b the rest; each
 * side is then sorted ascending so a subset keeps the base dataset's order. */
ft_status ft_dataset_split(ft_dataset *ds, double frac_b, uint64_t seed, ft_dataset **a, ft_dataset **b) {
    *a = *b = NULL;
    if (!ds || !ds->get) return ft_fail(FT_EINVAL, "ft_dataset_split: no dataset");
    if (!(frac_b >= 0.0 && frac_b <= 1.0))
        return ft_fail(FT_EINVAL, "split fraction %g is not in [0, 1]", frac_b);
    int64_t n = ds->n;
    int64_t n_b = (int64_t)(frac_b * (double)n + 0.5);
    if (n_b > n) n_b = n;
    int64_t n_a = n - n_b;
    int64_t *perm = ft_malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    if (!perm) return ft_fail(FT_ENOMEM, "out of memory splitting %s (%lld examples)", ds->name, (long long)n);
    ft_permutation(perm, n, seed, 0);
    qsort(perm, (size_t)n_a, sizeof *perm, cmp_i64);
    qsort(perm + n_a, (size_t)n_b, sizeof *perm, cmp_i64);
    ft_status st = ft_dataset_subset(ds, perm, n_a, a);
    if (!st) st = ft_dataset_subset(ds, perm + n_a, n_b, b);
    ft_free(perm);
    if (st) { ft_dataset_free(*a); *a = NULL; return st; }
    snprintf((*a)->name, sizeof (*a)->name, "%.50s[split a]", ds->name);
    snprintf((*b)->name, sizeof (*b)->name, "%.50s[split b]", ds->name);
    return FT_OK;
}

/* ---- spec strings ---- */
static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static bool file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* <dir>/<base>.gz if present, else <dir>/<base> if present, else the .gz name (so the
 * reader's "not found" message names the canonical file). */
static void idx_path(char *buf, size_t cap, const char *dir, const char *base) {
    snprintf(buf, cap, "%s/%s", dir, base);
    if (file_exists(buf)) {
        char gz[4096];
        snprintf(gz, sizeof gz, "%s.gz", buf);
        if (!file_exists(gz)) return;
    }
    snprintf(buf, cap, "%s/%s.gz", dir, base);
}

static bool parse_i64(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 20) return false;
    char tmp[24];
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end || end == tmp) return false;
    *out = v;
    return true;
}

/* "<dir>[:train|test][:N]": N (a number) keeps the first N examples of the split. */
static ft_status open_fashion(const char *arg, ft_dataset **out) {
    char dir[4096], split[8] = "train";
    size_t len = strlen(arg);
    int64_t limit = 0;
    const char *colon = strrchr(arg, ':');
    if (colon && parse_i64(colon + 1, strlen(colon + 1), &limit)) {
        if (limit < 1) return ft_fail(FT_EINVAL, "fashion-mnist: example count %lld is not positive", (long long)limit);
        len = (size_t)(colon - arg);
        colon = NULL;
        for (const char *p = arg + len; p > arg; p--) if (p[-1] == ':') { colon = p - 1; break; }
    }
    if (colon) {
        const char *seg = colon + 1;
        size_t sl = (size_t)(arg + len - seg);
        if ((sl == 5 && !strncmp(seg, "train", 5)) || (sl == 4 && !strncmp(seg, "test", 4))) {
            memcpy(split, seg, sl);
            split[sl] = 0;
            len = (size_t)(colon - arg);
        } else if (sl && !memchr(seg, '/', sl)) {
            return ft_fail(FT_EINVAL, "fashion-mnist split '%.*s' is not train or test", (int)sl, seg);
        }
    }
    if (len == 0) return ft_fail(FT_EINVAL, "fashion-mnist: missing directory (fashion-mnist:<dir>[:train|test])");
    if (len >= sizeof dir) return ft_fail(FT_EINVAL, "fashion-mnist: directory name too long");
    memcpy(dir, arg, len);
    dir[len] = 0;
    const char *prefix = !strcmp(split, "train") ? "train" : "t10k";
    char img[4200], lab[4200], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    idx_path(img, sizeof img, dir, base);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    idx_path(lab, sizeof lab, dir, base);
    ft_dataset *ds;
    ft_status st = ft_dataset_idx(img, lab, limit, &ds);
    if (st) return st;
    if (ds->n_classes > 10) {
        int nc = ds->n_classes;
        ft_dataset_free(ds);
        return ft_fail(FT_EFORMAT, "%s: labels go up to %d, Fashion-MNIST has 10 classes", lab, nc - 1);
    }
    if ((st = set_class_names(ds, fashion_names, 10))) { ft_dataset_free(ds); return st; }
    if (limit) snprintf(ds->name, sizeof ds->name, "fashion-mnist:%s:%lld", split, (long long)ds->n);
    else snprintf(ds->name, sizeof ds->name, "fashion-mnist:%s", split);
    *out = ds;
    return FT_OK;
}

/* "<dir>[:offset:per_class]": the two trailing fields are taken as numbers only when both
 * parse, so a directory name may itself contain colons. per_class <= 0 means all. */
static ft_status open_mnist_json(const char *arg, ft_dataset **out) {
    char dir[4096];
    size_t len = strlen(arg);
    int64_t offset = 0, per_class = 0;
    const char *c2 = strrchr(arg, ':');
    if (c2) {
        const char *c1 = NULL;
        for (const char *p = c2 - 1; p >= arg; p--) if (*p == ':') { c1 = p; break; }
        int64_t o, k;
        if (c1 && parse_i64(c1 + 1, (size_t)(c2 - c1 - 1), &o) && parse_i64(c2 + 1, strlen(c2 + 1), &k)) {
            offset = o; per_class = k;
            len = (size_t)(c1 - arg);
        }
    }
    if (len == 0) return ft_fail(FT_EINVAL, "mnist-json: missing directory (mnist-json:<dir>[:offset:per_class])");
    if (len >= sizeof dir) return ft_fail(FT_EINVAL, "mnist-json: directory name too long");
    memcpy(dir, arg, len);
    dir[len] = 0;
    return ft_dataset_mnist_json(dir, offset, per_class, out);
}

/* "<path>[:size[:resize]]" for images: and manifest:. Trailing fields are taken as
 * numbers only when they parse, so a path may itself contain colons. */
static ft_status open_images(const char *kind, const char *arg, const ft_image_opts *base, ft_dataset **out) {
    char path[4096];
    size_t len = strlen(arg);
    int64_t num[2] = {0, 0};
    int n_num = 0;
    for (int k = 0; k < 2; k++) {
        const char *c = NULL;
        for (const char *p = arg + len; p > arg; p--) if (p[-1] == ':') { c = p - 1; break; }
        int64_t v;
        if (!c || !parse_i64(c + 1, (size_t)(arg + len - c - 1), &v)) break;
        num[1] = num[0];
        num[0] = v;
        n_num++;
        len = (size_t)(c - arg);
    }
    if (len == 0) return ft_fail(FT_EINVAL, "%s: missing path (%s:<path>[:size[:resize]])", kind, kind);
    if (len >= sizeof path) return ft_fail(FT_EINVAL, "%s: path too long", kind);
    memcpy(path, arg, len);
    path[len] = 0;
    ft_image_opts o = base ? *base : ft_image_opts_default();
    if (n_num >= 1) {
        if (num[0] < 1 || num[0] > FT_IMAGE_MAX_SIDE)
            return ft_fail(FT_EINVAL, "%s: image size %lld is not in [1, %d]", kind, (long long)num[0], FT_IMAGE_MAX_SIDE);
        o.size = (int)num[0];
        o.resize = 0; /* size * 256 / 224 */
        o.stretch = false; /* a size in the spec: shorter-side resize + centre crop */
    }
    if (n_num == 2) {
        if (num[1] < o.size || num[1] > FT_IMAGE_MAX_SIDE)
            return ft_fail(FT_EINVAL, "%s: resize %lld is not in [size %d, %d]", kind, (long long)num[1], o.size,
                           FT_IMAGE_MAX_SIDE);
        o.resize = (int)num[1];
    }
    if (!strcmp(kind, "images")) return ft_dataset_image_folder(path, &o, out);
    return ft_dataset_image_manifest(path, &o, out);
}

ft_status ft_dataset_open(const char *spec, ft_dataset **out) { return ft_dataset_open_with(spec, NULL, out); }

ft_status ft_dataset_open_with(const char *spec, const ft_image_opts *image, ft_dataset **out) {
    *out = NULL;
    if (!spec) return ft_fail(FT_EINVAL, "no dataset spec");
    if (!strncmp(spec, "idx:", 4)) {
        const char *comma = strchr(spec + 4, ',');
        if (!comma || comma == spec + 4 || !comma[1])
            return ft_fail(FT_EINVAL, "dataset spec '%s': expected idx:<images>,<labels>", spec);
        size_t len = (size_t)(comma - (spec + 4));
        char img[4096];
        if (len >= sizeof img) return ft_fail(FT_EINVAL, "idx: images path too long");
        memcpy(img, spec + 4, len);
        img[len] = 0;
        return ft_dataset_idx(img, comma + 1, 0, out);
    }
    if (!strncmp(spec, "fashion-mnist:", 14)) return open_fashion(spec + 14, out);
    if (!strncmp(spec, "mnist-json:", 11)) return open_mnist_json(spec + 11, out);
    if (!strncmp(spec, "csv:", 4)) {
        if (!spec[4]) return ft_fail(FT_EINVAL, "dataset spec '%s': expected csv:<path>", spec);
        return ft_dataset_csv(spec + 4, out);
    }
    if (!strncmp(spec, "rgb:", 4)) {
        ft_dataset *inner = NULL;
        if (!strncmp(spec + 4, "rgb:", 4) || !strncmp(spec + 4, "images:", 7) || !strncmp(spec + 4, "manifest:", 9))
            return ft_fail(FT_EINVAL, "dataset spec '%s': rgb: wraps grayscale datasets (idx:, fashion-mnist:, mnist-json:)", spec);
        ft_status st = ft_dataset_open_with(spec + 4, NULL, &inner);
        if (st) return st;
        return ft_dataset_gray_to_rgb(inner, image, out);
    }
    if (!strncmp(spec, "images:", 7)) return open_images("images", spec + 7, image, out);
    if (!strncmp(spec, "manifest:", 9)) return open_images("manifest", spec + 9, image, out);
    if (ft_audio_spec(spec)) return ft_dataset_open_audio(spec, NULL, out);
    return ft_fail(FT_EINVAL, "unknown dataset spec '%s' (expected idx:<images>,<labels>, "
                   "fashion-mnist:<dir>[:train|test][:N], mnist-json:<dir>[:offset:per_class], csv:<path>, "
                   "images:<dir>[:size[:resize]], manifest:<file>[:size[:resize]], rgb:<grayscale spec>, "
                   "wav:<dir>[:key=value...] or wav-manifest:<file>[:key=value...])", spec);
}
