/* Image datasets: a folder per class (torchvision's ImageFolder) and a manifest (CSV or
 * JSONL of path,label). Examples are F32 [3, size, size]: get(i) reads the file,
 * decodes it, and applies the eval transform or, with ctx->augment, the training one
 * (see transforms.c).
 *
 * Open. Every candidate file is probed: the first 64 KiB are read and the header parsed
 * (the whole file when the header lies further in), or with opts.verify the whole image
 * is decoded. A file that fails is dropped and counted (FT_IMG_SKIP) or fails the open
 * (FT_IMG_FAIL). Files without an image extension are always skipped and counted. The
 * counts are in ft_image_dataset_counts(), and ft_dataset_note() gives one line for the
 * user. A file that probes fine but fails to decode later (truncated after its header,
 * or changed on disk) makes get() fail with FT_EFORMAT and the path: the loader stops
 * the run with that message; a dataset cannot change its length mid-epoch.
 *
 * Memory. get() runs on the loader's worker threads and never calls ft_malloc. The
 * dataset owns IMG_SLOTS scratch slots (file bytes, decoded RGB, resample scratch); a
 * get() takes a free slot under a mutex (waiting if all are busy) and gives it back.
 * Slots are filled lazily with plain malloc, sized from the largest file and image seen
 * at open, so after each slot's first use nothing is allocated again unless a file grew
 * on disk since the open. Only as many slots are ever filled as get() calls ran at once
 * (the most recently returned slot is reused first). This plain malloc, and libjpeg's and
 * libpng's internal malloc/free during each decode, are outside ft_malloc's counters. */
#include "data/transforms.h"
#include "audio/audio_internal.h"
#include "data/file_list.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define IMG_SLOTS 256
#define IMG_PROBE_BYTES (64u << 10)
#define IMG_MAX_FILE ((size_t)FT_IMAGE_MAX_SIDE * FT_IMAGE_MAX_SIDE * 4 + 4096)
#define NOTE_CAP 768

typedef struct {
    uint8_t *file;
    size_t file_cap;
    uint8_t *rgb;
    size_t rgb_cap;
    void *scratch;
    size_t scratch_cap;
} img_slot;

typedef struct {
    ft_image_opts o;
    char *pool;             /* all paths, NUL-separated */
    int64_t *path_off;      /* n offsets into pool */
    int32_t *labels;        /* n */
    size_t hint_file;       /* largest file at open */
    size_t hint_rgb;        /* largest decode buffer (img_rgb8_bytes) at open */
    size_t hint_scratch;    /* largest transform scratch (tf_scratch_bound) at open */
    ft_image_counts counts;
    char note[NOTE_CAP];

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_ok;
    int n_free;
    int free_stack[IMG_SLOTS];
    img_slot slots[IMG_SLOTS];
} img_impl;

/* ---- scan state shared by both datasets ---- */

typedef struct {
    ft_image_opts o;
    fl_paths ok;            /* usable files */
    ft_image_counts counts;
    char first_not_image[256];
    char first_bad[512];
    size_t max_file, max_rgb, max_scratch; /* over the usable images */
    uint8_t *buf;           /* probe/verify read buffer (plain malloc) */
    size_t buf_cap;
    uint8_t *rgb;           /* verify decode buffer (plain malloc) */
    size_t rgb_cap;
    int64_t class_ok, class_bad, class_skip; /* ok.n and counts when a class folder's walk began */
} scan;

static void scan_free(scan *s) {
    fl_paths_free(&s->ok);
    free(s->buf);
    free(s->rgb);
}

static bool is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") ||
           !strcasecmp(dot, ".bmp");
}

static void note_not_image(scan *s, const char *rel) {
    s->counts.not_image++;
    if (!s->first_not_image[0]) snprintf(s->first_not_image, sizeof s->first_not_image, "%s", rel);
}

/* Probe (or verify) one file; on success add it with `label`. With FT_IMG_SKIP a bad file
 * is counted and FT_OK returned; ENOMEM always fails. */
static ft_status scan_file(scan *s, const char *path, int32_t label) {
    size_t len = 0, file_len = 0;
    size_t want = s->o.verify ? IMG_MAX_FILE : IMG_PROBE_BYTES;
    ft_status st = img_read_file(path, want, &s->buf, &s->buf_cap, &len, &file_len);
    img_info info = {FT_IMAGE_UNKNOWN, 0, 0};
    if (!st) st = img_probe(s->buf, len, file_len, path, &info);
    if (st == FT_EFORMAT && !s->o.verify && file_len > len &&
        (info.fmt == FT_IMAGE_JPEG || info.fmt == FT_IMAGE_PNG)) {
        /* The header may lie past the prefix (large EXIF, ICC or text segments): read it all. */
        st = img_read_file(path, IMG_MAX_FILE, &s->buf, &s->buf_cap, &len, &file_len);
        if (!st) st = img_probe(s->buf, len, file_len, path, &info);
    }
    if (!st && s->o.verify) {
        size_t need = img_rgb8_bytes(info.w, info.h);
        if (need > s->rgb_cap) {
            uint8_t *nb = realloc(s->rgb, need);
            if (!nb) return ft_fail(FT_ENOMEM, "%s: out of memory decoding a %dx%d image", path, info.w, info.h);
            s->rgb = nb;
            s->rgb_cap = need;
        }
        st = img_decode_rgb8(s->buf, len, path, s->rgb, s->rgb_cap, &info);
    }
    if (st == FT_ENOMEM) return st;
    if (st) {
        if (s->o.on_error == FT_IMG_FAIL)
            return ft_fail_context(st, "unreadable image (on_error = FT_IMG_FAIL)");
        s->counts.unreadable++;
        if (!s->first_bad[0]) snprintf(s->first_bad, sizeof s->first_bad, "%s", ft_errmsg());
        ft_clear_error();
        return FT_OK;
    }
    size_t rgb = img_rgb8_bytes(info.w, info.h), scratch = tf_scratch_bound(info.w, info.h, s->o.size);
    if (file_len > s->max_file) s->max_file = file_len;
    if (rgb > s->max_rgb) s->max_rgb = rgb;
    if (scratch > s->max_scratch) s->max_scratch = scratch;
    return fl_paths_add(&s->ok, path, label);
}

/* ---- dataset ---- */

static ft_status img_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y);

static void img_free(ft_dataset *ds) {
    img_impl *m = ds->impl;
    if (!m) return;
    for (int k = 0; k < IMG_SLOTS; k++) {
        free(m->slots[k].file);
        free(m->slots[k].rgb);
        free(m->slots[k].scratch);
    }
    if (m->sync_ok) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
    }
    ft_free(m->pool);
    ft_free(m->path_off);
    ft_free(m->labels);
    ft_free(m);
}

static int slot_take(img_impl *m) {
    pthread_mutex_lock(&m->mu);
    while (m->n_free == 0) pthread_cond_wait(&m->cv, &m->mu);
    int k = m->free_stack[--m->n_free];
    pthread_mutex_unlock(&m->mu);
    return k;
}

static void slot_give(img_impl *m, int k) {
    pthread_mutex_lock(&m->mu);
    m->free_stack[m->n_free++] = k;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static ft_status grow(void **buf, size_t *cap, size_t need, const char *path) {
    if (need <= *cap) return FT_OK;
    void *nb = realloc(*buf, need);
    if (!nb) return ft_fail(FT_ENOMEM, "%s: out of memory (%zu bytes of image scratch)", path, need);
    *buf = nb;
    *cap = need;
    return FT_OK;
}

static ft_status decode_into(img_impl *m, img_slot *sl, const char *path, img_info *info) {
    size_t len = 0, file_len = 0;
    if (!sl->file && m->hint_file) {
        ft_status st = grow((void **)&sl->file, &sl->file_cap, m->hint_file + 1, path);
        if (st) return st;
    }
    ft_status st = img_read_file(path, IMG_MAX_FILE, &sl->file, &sl->file_cap, &len, &file_len);
    if (st) return st;
    if ((st = grow((void **)&sl->rgb, &sl->rgb_cap, m->hint_rgb, path))) return st;
    st = img_decode_rgb8(sl->file, len, path, sl->rgb, sl->rgb_cap, info);
    if (st == FT_ESHAPE) {
        /* Larger than anything seen at open: the file changed since. */
        if ((st = img_probe(sl->file, len, file_len, path, info))) return st;
        if ((st = grow((void **)&sl->rgb, &sl->rgb_cap, img_rgb8_bytes(info->w, info->h), path))) return st;
        st = img_decode_rgb8(sl->file, len, path, sl->rgb, sl->rgb_cap, info);
    }
    return st;
}

static ft_status img_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    img_impl *m = ds->impl;
    if (i < 0 || i >= ds->n)
        return ft_fail(FT_EINVAL, "%s: example %lld out of range [0, %lld)", ds->name, (long long)i,
                       (long long)ds->n);
    const char *path = m->pool + m->path_off[i];
    int k = slot_take(m);
    img_slot *sl = &m->slots[k];
    img_info info;
    ft_status st = decode_into(m, sl, path, &info);
    if (!st) {
        tf_plan p;
        if (ctx && ctx->augment) {
            ft_pcg32 r;
            tf_rng(&r, ctx->seed, ctx->epoch, i);
            tf_plan_train(info.w, info.h, &m->o, &r, &p);
        } else {
            tf_plan_eval(info.w, info.h, m->o.resize, m->o.size, m->o.stretch, &p);
        }
        size_t need = tf_scratch_bytes(&p);
        st = grow(&sl->scratch, &sl->scratch_cap, need > m->hint_scratch ? need : m->hint_scratch, path);
        if (!st) {
            tf_src src = {sl->rgb, NULL, info.w, info.h};
            tf_run(&src, &p, m->o.mean, m->o.std, sl->scratch, x);
            *y = m->labels[i];
        }
    }
    slot_give(m, k);
    return st;
}

/* Build the dataset from a finished scan. Takes the scan's list of usable files and
 * class_names (n_classes strings or NULL), even on failure. */
static ft_status build(scan *s, const char *kind, const char *where, int n_classes, char **class_names,
                       ft_dataset **out) {
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    img_impl *m = ft_calloc(1, sizeof *m);
    if (!ds || !m) {
        ft_free(ds); ft_free(m);
        if (class_names) {
            for (int c = 0; c < n_classes; c++) ft_free(class_names[c]);
            ft_free(class_names);
        }
        return ft_fail(FT_ENOMEM, "out of memory for an image dataset");
    }
    m->o = s->o;
    m->pool = s->ok.pool;
    m->path_off = s->ok.off;
    m->labels = s->ok.label;
    ds->n = s->ok.n;
    memset(&s->ok, 0, sizeof s->ok);
    m->hint_file = s->max_file;
    m->hint_rgb = s->max_rgb;
    m->hint_scratch = s->max_scratch;
    m->counts = s->counts;
    m->counts.used = ds->n;
    ds->impl = m;
    ds->free_impl = img_free;
    ds->get = img_get;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 3;
    ds->x_shape[0] = 3;
    ds->x_shape[1] = ds->x_shape[2] = m->o.size;
    ds->x_numel = 3 * (int64_t)m->o.size * m->o.size;
    ds->n_classes = n_classes;
    ds->class_names = class_names;
    ds->augments = m->o.random_resized_crop || m->o.hflip || m->o.brightness > 0 || m->o.contrast > 0 ||
                   m->o.saturation > 0;
    size_t wl = strlen(where);
    snprintf(ds->name, sizeof ds->name, "%s:%s%s", kind, wl > 48 ? "..." : "", wl > 48 ? where + wl - 45 : where);
    if (pthread_mutex_init(&m->mu, NULL)) goto sync_fail;
    if (pthread_cond_init(&m->cv, NULL)) { pthread_mutex_destroy(&m->mu); goto sync_fail; }
    m->sync_ok = true;
    for (int k = 0; k < IMG_SLOTS; k++) m->free_stack[k] = IMG_SLOTS - 1 - k;
    m->n_free = IMG_SLOTS;

    /* The note: "244 images in 2 classes; skipped 1 of 245 files: 1 not an image (first:
     * ants/imageNotFound.gif)". */
    const ft_image_counts *c = &m->counts;
    int len = snprintf(m->note, sizeof m->note, "%lld images in %d classes", (long long)ds->n, n_classes);
    int64_t skipped = c->not_image + c->unreadable;
    if (skipped && len >= 0 && (size_t)len < sizeof m->note)
        len += snprintf(m->note + len, sizeof m->note - (size_t)len, "; skipped %lld of %lld files:",
                        (long long)skipped, (long long)c->files);
    if (c->not_image && len >= 0 && (size_t)len < sizeof m->note)
        len += snprintf(m->note + len, sizeof m->note - (size_t)len, " %lld not an image (first: %s)%s",
                        (long long)c->not_image, s->first_not_image, c->unreadable ? "," : "");
    if (c->unreadable && len >= 0 && (size_t)len < sizeof m->note)
        snprintf(m->note + len, sizeof m->note - (size_t)len, " %lld unreadable (first: %s)",
                 (long long)c->unreadable, s->first_bad);
    *out = ds;
    return FT_OK;
sync_fail:
    ft_dataset_free(ds);
    return ft_fail(FT_ENOMEM, "cannot create an image dataset's mutex");
}

ft_status ft_image_dataset_counts(const ft_dataset *ds, ft_image_counts *out) {
    memset(out, 0, sizeof *out);
    if (!ds || ds->free_impl != img_free) return ft_fail(FT_EINVAL, "not an image dataset");
    *out = ((const img_impl *)ds->impl)->counts;
    return FT_OK;
}

const char *ft_dataset_note(const ft_dataset *ds) {
    if (!ds || ds->free_impl != img_free) return au_dataset_note(ds);
    return ((const img_impl *)ds->impl)->note;
}

/* ---- folder per class ---- */

/* fl_walker.file: every entry is a file seen; an image is probed, the rest counted. */
static ft_status walk_file(void *ctx, const char *path, const char *rel, const char *name, const struct stat *sb,
                           int32_t label) {
    scan *s = ctx;
    s->counts.files++;
    /* A dangling symlink (no stat) is not an image we can read. */
    if (!sb || !S_ISREG(sb->st_mode) || !is_image_name(name)) { note_not_image(s, rel); return FT_OK; }
    return scan_file(s, path, label);
}

/* Files directly in the root are counted as skipped. */
static void walk_root_file(void *ctx, const char *name) {
    scan *s = ctx;
    s->counts.files++;
    note_not_image(s, name);
}

static void walk_class_begin(void *ctx) {
    scan *s = ctx;
    s->class_ok = s->ok.n;
    s->class_bad = s->counts.unreadable;
    s->class_skip = s->counts.not_image;
}

static ft_status walk_class_end(void *ctx, const char *path) {
    scan *s = ctx;
    if (s->ok.n > s->class_ok) return FT_OK;
    int64_t bad = s->counts.unreadable - s->class_bad, other = s->counts.not_image - s->class_skip;
    if (bad || other)
        return ft_fail(FT_EFORMAT, "%s: class folder has no usable images (%lld unreadable, %lld not images)", path,
                       (long long)bad, (long long)other);
    return ft_fail(FT_EFORMAT, "%s: class folder is empty (no .jpg, .jpeg, .png or .bmp files)", path);
}

ft_status ft_dataset_image_folder(const char *root, const ft_image_opts *opts, ft_dataset **out) {
    *out = NULL;
    if (!root || !root[0]) return ft_fail(FT_EINVAL, "image folder: no path");
    scan s;
    memset(&s, 0, sizeof s);
    ft_status st = tf_opts_check(opts, &s.o);
    if (st) return st;
    fl_walker w = {.file = walk_file, .root_file = walk_root_file, .class_begin = walk_class_begin,
                   .class_end = walk_class_end, .too_deep = " (a symlink loop?)",
                   .layout = "<root>/<class>/<image>", .ctx = &s};
    fl_names cls;
    st = fl_walk_classes(root, &w, &cls);
    if (!st) st = build(&s, "images", root, cls.n, cls.v, out); /* takes the class names */
    scan_free(&s);
    return st;
}

/* ---- manifest ---- */

static bool is_header_path(const char *s) {
    return !strcasecmp(s, "path") || !strcasecmp(s, "file") || !strcasecmp(s, "filename") ||
           !strcasecmp(s, "image") || !strcasecmp(s, "image_path");
}

static bool is_header_label(const char *s) {
    return !strcasecmp(s, "label") || !strcasecmp(s, "class") || !strcasecmp(s, "target") ||
           !strcasecmp(s, "y") || !strcasecmp(s, "category");
}

typedef struct {
    char *path;     /* resolved */
    char *label;    /* text */
    int64_t line;
} man_row;

ft_status ft_dataset_image_manifest(const char *mpath, const ft_image_opts *opts, ft_dataset **out) {
    *out = NULL;
    if (!mpath || !mpath[0]) return ft_fail(FT_EINVAL, "image manifest: no path");
    scan s;
    memset(&s, 0, sizeof s);
    ft_status st = tf_opts_check(opts, &s.o);
    if (st) return st;
    FILE *f = fopen(mpath, "rb");
    if (!f) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such file", mpath);
        return ft_fail(FT_EIO, "%s: cannot open: %s", mpath, strerror(errno));
    }
    /* Base folder for relative paths. */
    char base[4096];
    if ((st = fl_base_dir(mpath, base, sizeof base))) { fclose(f); return st; }
    man_row *rows = NULL;
    int64_t n = 0, cap = 0, line_no = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    bool first = true, jsonl = false;
    int col_path = 0, col_label = 1;
    char *full = ft_malloc(8192);
    if (!full) { fclose(f); return ft_fail(FT_ENOMEM, "out of memory reading %s", mpath); }
    while (!st && (ll = getline(&line, &lcap, f)) >= 0) {
        line_no++;
        if ((size_t)ll != strlen(line)) { st = ft_fail(FT_EFORMAT, "%s:%lld: NUL byte in line", mpath, (long long)line_no); break; }
        while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) line[--ll] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) continue;
        if (first) jsonl = *p == '{';
        char *fp = NULL, *fl = NULL;
        char labelbuf[32];
        json_t *js = NULL;
        if (jsonl) {
            json_error_t je;
            js = json_loads(p, 0, &je);
            if (!js || !json_is_object(js)) {
                st = ft_fail(FT_EFORMAT, "%s:%lld: not a JSON object%s%s", mpath, (long long)line_no, js ? "" : ": ",
                             js ? "" : je.text);
                json_decref(js);
                break;
            }
            json_t *jp = json_object_get(js, "path"), *jl = json_object_get(js, "label");
            if (!json_is_string(jp)) {
                st = ft_fail(FT_EFORMAT, "%s:%lld: \"path\" missing or not a string", mpath, (long long)line_no);
            } else if (json_is_integer(jl) && json_integer_value(jl) >= 0 && json_integer_value(jl) <= FL_MAX_LABEL) {
                snprintf(labelbuf, sizeof labelbuf, "%lld", (long long)json_integer_value(jl));
                fl = labelbuf;
            } else if (json_is_string(jl) && json_string_length(jl) > 0) {
                fl = (char *)json_string_value(jl);
            } else {
                st = ft_fail(FT_EFORMAT, "%s:%lld: \"label\" must be an integer in [0, %d] or a class name", mpath,
                             (long long)line_no, FL_MAX_LABEL);
            }
            if (!st) fp = (char *)json_string_value(jp);
        } else {
            char *fields[64];
            int nf = fl_csv_split(p, fields, 64);
            if (nf < 0) {
                st = ft_fail(FT_EFORMAT, "%s:%lld: unterminated quote", mpath, (long long)line_no);
                break;
            }
            if (first && nf >= 1 && is_header_path(fields[0])) {
                first = false;
                col_path = -1; col_label = -1;
                for (int k = 0; k < nf && k < 64; k++) {
                    if (col_path < 0 && is_header_path(fields[k])) col_path = k;
                    else if (col_label < 0 && is_header_label(fields[k])) col_label = k;
                }
                if (col_label < 0)
                    st = ft_fail(FT_EFORMAT, "%s:%lld: header has no label column (label, class, target, y)",
                                 mpath, (long long)line_no);
                continue;
            }
            int need = (col_path > col_label ? col_path : col_label) + 1;
            if (nf < need || need > 64) {
                st = ft_fail(FT_EFORMAT, "%s:%lld: %d fields, expected path,label", mpath, (long long)line_no, nf);
                break;
            }
            fp = fields[col_path];
            fl = fields[col_label];
            if (!fl[0]) st = ft_fail(FT_EFORMAT, "%s:%lld: empty label", mpath, (long long)line_no);
        }
        first = false;
        if (!st && !fp[0]) st = ft_fail(FT_EFORMAT, "%s:%lld: empty path", mpath, (long long)line_no);
        if (!st) {
            int r = fp[0] == '/' ? snprintf(full, 8192, "%s", fp) : snprintf(full, 8192, "%s/%s", base, fp);
            if (r >= 8192) st = ft_fail(FT_EINVAL, "%s:%lld: path too long", mpath, (long long)line_no);
        }
        if (!st && n == cap) {
            int64_t nc = cap ? cap * 2 : 256;
            man_row *nr = ft_realloc(rows, (size_t)nc * sizeof *nr);
            if (!nr) st = ft_fail(FT_ENOMEM, "out of memory reading %s", mpath);
            else { rows = nr; cap = nc; }
        }
        if (!st) {
            rows[n].path = ft_strdup(full);
            rows[n].label = ft_strdup(fl);
            rows[n].line = line_no;
            if (!rows[n].path || !rows[n].label) {
                ft_free(rows[n].path); ft_free(rows[n].label);
                st = ft_fail(FT_ENOMEM, "out of memory reading %s", mpath);
            } else {
                n++;
            }
        }
        json_decref(js);
    }
    free(line);
    if (!st && ferror(f)) st = ft_fail(FT_EIO, "%s: read error", mpath);
    fclose(f);
    if (!st && n == 0) st = ft_fail(FT_EFORMAT, "%s: no images listed", mpath);

    /* Labels: all integers, or all class names. */
    bool numeric = true;
    for (int64_t k = 0; k < n && numeric; k++) numeric = fl_numeric_label(rows[k].label);
    char **names = NULL;
    int n_classes = 0;
    if (!st && !numeric) {
        char **labels = ft_malloc((size_t)n * sizeof *labels);
        if (!labels) st = ft_fail(FT_ENOMEM, "out of memory reading %s", mpath);
        for (int64_t k = 0; k < n && !st; k++) labels[k] = rows[k].label;
        if (!st) st = fl_class_names(labels, n, mpath, FL_MAX_LABEL, &names, &n_classes);
        ft_free(labels);
    }
    int64_t max_label = -1;
    for (int64_t k = 0; k < n && !st; k++) {
        int32_t label;
        if (numeric) {
            label = (int32_t)atol(rows[k].label);
        } else {
            label = fl_class_index(names, n_classes, rows[k].label);
        }
        if (label > max_label) max_label = label;
        s.counts.files++;
        st = scan_file(&s, rows[k].path, label);
        if (st) ft_fail_context(st, "%s:%lld", mpath, (long long)rows[k].line);
    }
    if (!st && numeric) n_classes = (int)(max_label + 1);
    if (!st && s.ok.n == 0)
        st = ft_fail(FT_EFORMAT, "%s: none of the %lld listed images is usable (first problem: %s)", mpath,
                     (long long)n, s.first_bad);
    if (!st) {
        st = build(&s, "manifest", mpath, n_classes, names, out); /* takes names */
        names = NULL;
    }
    if (names) {
        for (int c = 0; c < n_classes; c++) ft_free(names[c]);
        ft_free(names);
    }
    for (int64_t k = 0; k < n; k++) { ft_free(rows[k].path); ft_free(rows[k].label); }
    ft_free(rows);
    ft_free(full);
    scan_free(&s);
    return st;
}
