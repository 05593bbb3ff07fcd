/* Audio datasets: a folder per class and a manifest CSV (path,label). Example i is a fixed
 * length clip (clip_samples at the dataset's rate) as raw samples F32 [clip] or features
 * F32 [dim, frames] ([frames, dim] when time_major), label = class index.
 *
 * Open. Every file is read and decoded (libsndfile), resampled to the target rate
 * (libsamplerate) and optionally trimmed; a bad file fails the open with its name. With
 * `cache` (default) the processed clips stay in memory and get() never touches the disk.
 *
 * get(i): the clip (cache, or decoded again into a scratch slot), then with ctx->augment
 * the waveform augmentations (speed, shift, gain, noise; augment.c's order), pad/crop to
 * the clip length, features, SpecAugment. get() never calls ft_malloc: each concurrent
 * call takes one of AU_SLOTS scratch slots (plain malloc, grown on first use). */
#include "audio/audio_internal.h"
#include "data/file_list.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define AU_SLOTS 64

ft_audio_dataset_opts ft_audio_dataset_opts_default(void) {
    ft_audio_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.audio = ft_audio_opts_default();
    o.features = ft_feature_opts_default();
    o.pad = FT_PAD_CENTER;
    o.augment.snr_min = 5;
    o.augment.snr_max = 20;
    o.cache = true;
    return o;
}

/* ---- impl ---- */

typedef struct {
    uint8_t *file;
    size_t file_cap;
    au_buf dec, res, work, feat;
} au_slot;

typedef struct {
    ft_audio_dataset_opts o;
    ft_features *feat;
    int rate;
    int64_t clip;           /* samples per example */
    int64_t frames;         /* feature frames (clip for wave) */
    fl_paths files;
    int64_t *len;           /* processed length of each clip */
    float **clips;          /* n processed clips (cache), ft_malloc'd each */
    int64_t max_len, max_file_len;
    float *noise;           /* concatenated noise clips */
    int64_t *noise_off, *noise_len;
    int n_noise;
    ft_audio_counts counts;
    char note[256];

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_ok;
    int n_free;
    int free_stack[AU_SLOTS];
    au_slot slots[AU_SLOTS];
} au_impl;

static void au_free_impl(ft_dataset *ds) {
    au_impl *m = ds->impl;
    if (!m) return;
    for (int k = 0; k < AU_SLOTS; k++) {
        free(m->slots[k].file);
        au_buf_release(&m->slots[k].dec);
        au_buf_release(&m->slots[k].res);
        au_buf_release(&m->slots[k].work);
        au_buf_release(&m->slots[k].feat);
    }
    if (m->sync_ok) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
    }
    ft_features_free(m->feat);
    fl_paths_free(&m->files);
    ft_free(m->len);
    if (m->clips)
        for (int64_t i = 0; i < ds->n; i++) ft_free(m->clips[i]);
    ft_free(m->clips);
    ft_free(m->noise);
    ft_free(m->noise_off);
    ft_free(m->noise_len);
    ft_free(m);
}

/* Decode + resample + trim one file into *out (samples [start, start+len) of out->p are
 * the clip). Buffers are the caller's (plain or ft_malloc). */
static ft_status load_clip(const au_impl *m, const char *path, uint8_t **file, size_t *file_cap, au_buf *dec,
                           au_buf *res, const float **clip, int64_t *len, ft_audio *info, int64_t *full_len) {
    size_t flen = 0;
    ft_status st = au_read_file(path, file, file_cap, &flen);
    if (st) return st;
    int64_t n;
    if ((st = au_decode(*file, flen, path, &m->o.audio, dec, &n, info))) return st;
    const float *x = dec->p;
    int fr = info->file_rate;
    if (fr != m->rate) {
        if (!m->o.audio.resample)
            return ft_fail(FT_EINVAL, "%s: sample rate %d Hz, %d Hz expected (resampling is off)", path, fr, m->rate);
        int64_t k = ft_resample_length(n, fr, m->rate);
        if ((st = au_buf_reserve(res, k > 0 ? k : 1, path))) return st;
        if ((st = ft_resample(dec->p, n, fr, m->rate, m->o.audio.quality, res->p))) return ft_fail_context(st, "%s", path);
        x = res->p;
        n = k;
    }
    int64_t s0 = 0, l = n;
    if (full_len) *full_len = n;
    if (m->o.trim_db > 0) ft_audio_trim(x, n, m->o.trim_db, m->rate / 40 > 0 ? m->rate / 40 : 1,
                                        m->rate / 100 > 0 ? m->rate / 100 : 1, &s0, &l);
    *clip = x + s0;
    *len = l;
    return FT_OK;
}

static int slot_take(au_impl *m) {
    pthread_mutex_lock(&m->mu);
    while (m->n_free == 0) pthread_cond_wait(&m->cv, &m->mu);
    int k = m->free_stack[--m->n_free];
    pthread_mutex_unlock(&m->mu);
    return k;
}

static void slot_give(au_impl *m, int k) {
    pthread_mutex_lock(&m->mu);
    m->free_stack[m->n_free++] = k;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static int randint(ft_pcg32 *r, int64_t n) { return (int)(((uint64_t)ft_pcg32_next(r) * (uint64_t)n) >> 32); }
static double uniform(ft_pcg32 *r, double lo, double hi) { return lo + (hi - lo) * (double)ft_pcg32_uniform(r); }

/* Place x[0..n) into out[0..clip) around the pad anchor, shifted right by `shift`. */
static void place(const float *x, int64_t n, int64_t clip, ft_pad_mode pad, int64_t shift, float *out) {
    int64_t dst0; /* where x[0] lands */
    if (pad == FT_PAD_START) dst0 = 0;
    else if (pad == FT_PAD_END) dst0 = clip - n;
    else dst0 = (clip - n) >= 0 ? (clip - n) / 2 : -((n - clip + 1) / 2);
    dst0 += shift;
    for (int64_t k = 0; k < clip; k++) {
        int64_t s = k - dst0;
        out[k] = s >= 0 && s < n ? x[s] : 0.0f;
    }
}

/* The waveform and feature augmentations; docs/speech.md "Augmentation" lists the draws. */
static ft_status augment_and_place(au_impl *m, au_slot *sl, const float *x, int64_t n, const ft_sample_ctx *ctx,
                                   int64_t i, float *clipbuf, ft_pcg32 *r, const char *path) {
    const ft_audio_augment *a = &m->o.augment;
    bool aug = ctx && ctx->augment;
    if (aug) au_rng(r, ctx->seed, ctx->epoch, i);
    if (aug && a->speed > 0) {
        double s = uniform(r, 1.0 - a->speed, 1.0 + a->speed);
        int64_t k = (int64_t)floor((double)n / s + 0.5);
        if (k < 1) k = 1;
        ft_status st = au_buf_reserve(&sl->work, k, path);
        if (st) return st;
        if ((st = ft_resample_ratio(x, n, 1.0 / s, m->o.audio.quality, sl->work.p, k))) return ft_fail_context(st, "%s", path);
        x = sl->work.p;
        n = k;
    }
    int64_t shift = 0;
    if (aug && a->shift_ms > 0) {
        int64_t w = (int64_t)floor(a->shift_ms * 1e-3 * m->rate);
        if (w > 0) shift = randint(r, 2 * w + 1) - w;
    }
    double sig = 0;
    for (int64_t k = 0; k < n; k++) sig += (double)x[k] * x[k];
    sig /= (double)(n > 0 ? n : 1);
    place(x, n, m->clip, m->o.pad, shift, clipbuf);
    if (!aug) return FT_OK;
    if (a->gain_db > 0) {
        double g = pow(10.0, uniform(r, -a->gain_db, a->gain_db) / 20.0);
        for (int64_t k = 0; k < m->clip; k++) clipbuf[k] = (float)(clipbuf[k] * g);
        sig *= g * g;
    }
    if (a->noise_prob > 0 && ft_pcg32_uniform(r) < a->noise_prob) {
        double snr = uniform(r, a->snr_min, a->snr_max);
        uint64_t nseed = (uint64_t)ft_pcg32_next(r) << 32 | ft_pcg32_next(r);
        const float *nz = NULL;
        int64_t nlen = 0, off = 0;
        if (m->n_noise > 0) {
            int c = randint(r, m->n_noise);
            nz = m->noise + m->noise_off[c];
            nlen = m->noise_len[c];
            off = randint(r, nlen);
        }
        if (sig > 0) {
            /* noise[k] for k in [0, clip): the clip looped from `off`, or white N(0, 1). */
            ft_pcg32 g;
            ft_pcg32_seed(&g, nseed, 0);
            double pn = 0;
            float *w = NULL;
            ft_status st = au_buf_reserve(&sl->work, m->clip, path);
            if (st) return st;
            w = sl->work.p;
            for (int64_t k = 0; k < m->clip; k++) {
                w[k] = nz ? nz[(off + k) % nlen] : au_gauss(&g);
                pn += (double)w[k] * w[k];
            }
            pn /= (double)m->clip;
            if (pn > 0) {
                double scale = sqrt(sig / (pn * pow(10.0, snr / 10.0)));
                for (int64_t k = 0; k < m->clip; k++) clipbuf[k] += (float)(scale * w[k]);
            }
        }
    }
    return FT_OK;
}

static void spec_augment(const au_impl *m, ft_pcg32 *r, float *x) {
    const ft_audio_augment *a = &m->o.augment;
    int dim = ft_features_dim(m->feat);
    int64_t T = m->frames;
    bool tm = m->o.features.time_major;
    for (int q = 0; q < a->freq_masks; q++) {
        int w = randint(r, (int64_t)a->freq_mask_width + 1);
        if (w > dim) w = dim;
        int s = randint(r, dim - w + 1);
        for (int d = s; d < s + w; d++)
            for (int64_t t = 0; t < T; t++) x[tm ? t * dim + d : d * T + t] = 0;
    }
    for (int q = 0; q < a->time_masks; q++) {
        int64_t w = randint(r, (int64_t)a->time_mask_width + 1);
        if (w > T) w = T;
        int64_t s = randint(r, T - w + 1);
        for (int64_t t = s; t < s + w; t++)
            for (int d = 0; d < dim; d++) x[tm ? t * dim + d : d * T + t] = 0;
    }
}

static ft_status au_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *xout, int32_t *y) {
    au_impl *m = ds->impl;
    if (i < 0 || i >= ds->n)
        return ft_fail(FT_EINVAL, "%s: example %lld out of range [0, %lld)", ds->name, (long long)i, (long long)ds->n);
    const char *path = m->files.pool + m->files.off[i];
    int k = slot_take(m);
    au_slot *sl = &m->slots[k];
    const float *x;
    int64_t n;
    ft_status st = FT_OK;
    if (m->clips) {
        x = m->clips[i];
        n = m->len[i];
    } else {
        ft_audio info;
        st = load_clip(m, path, &sl->file, &sl->file_cap, &sl->dec, &sl->res, &x, &n, &info, NULL);
    }
    bool wave = m->o.features.kind == FT_FEAT_WAVE;
    float *clipbuf = NULL;
    if (!st) {
        if (wave) clipbuf = xout;
        else if (!(st = au_buf_reserve(&sl->feat, m->clip + (int64_t)ft_features_scratch(m->feat, m->clip), path)))
            clipbuf = sl->feat.p;
    }
    ft_pcg32 r;
    if (!st) st = augment_and_place(m, sl, x, n, ctx, i, clipbuf, &r, path);
    if (!st && !wave) {
        st = ft_features_compute(m->feat, clipbuf, m->clip, sl->feat.p + m->clip, xout);
        if (!st && ctx && ctx->augment) spec_augment(m, &r, xout);
    }
    if (!st) *y = m->files.label[i];
    slot_give(m, k);
    return st;
}

/* ---- open ---- */

static bool is_audio_name(const char *name) {
    static const char *const ext[] = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc",
                                      ".au", ".snd", ".caf", ".w64", ".rf64"};
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    for (size_t k = 0; k < sizeof ext / sizeof *ext; k++) if (!strcasecmp(dot, ext[k])) return true;
    return false;
}

/* fl_walker.file: an audio file is added to the list (ctx), anything else counted in
 * the walk's `skipped` (NULL: not counted). */
typedef struct {
    fl_paths *files;
    int64_t *skipped;
    int64_t before;     /* files.n when the class folder's walk began */
} au_walk;

static ft_status walk_file(void *ctx, const char *path, const char *rel, const char *name, const struct stat *sb,
                           int32_t label) {
    au_walk *a = ctx;
    if (!sb || !S_ISREG(sb->st_mode) || !is_audio_name(name)) {
        if (a->skipped) (*a->skipped)++;
        return FT_OK;
    }
    return fl_paths_add(a->files, path, label);
}

static void walk_class_begin(void *ctx) {
    au_walk *a = ctx;
    a->before = a->files->n;
    *a->skipped = 0;
}

static ft_status walk_class_end(void *ctx, const char *path) {
    au_walk *a = ctx;
    if (a->files->n == a->before)
        return ft_fail(FT_EFORMAT, "%s: class folder has no audio files (%lld other files)", path,
                       (long long)*a->skipped);
    return FT_OK;
}

static ft_status opts_check(const ft_audio_dataset_opts *in, ft_audio_dataset_opts *o) {
    *o = in ? *in : ft_audio_dataset_opts_default();
    if (o->audio.target_rate == 0) o->audio.target_rate = o->features.sample_rate;
    o->features.sample_rate = o->audio.target_rate;
    if (o->audio.target_rate < 1 || o->audio.target_rate > FT_AUDIO_MAX_RATE)
        return ft_fail(FT_EINVAL, "audio rate %d Hz is not in [1, %d]", o->audio.target_rate, FT_AUDIO_MAX_RATE);
    if (!(o->clip_seconds >= 0 && o->clip_seconds <= 3600))
        return ft_fail(FT_EINVAL, "clip length %g s is not in [0, 3600]", o->clip_seconds);
    if ((unsigned)o->pad > FT_PAD_END) return ft_fail(FT_EINVAL, "pad mode %d is not one of FT_PAD_*", (int)o->pad);
    if (!(o->trim_db >= 0 && o->trim_db <= 200)) return ft_fail(FT_EINVAL, "trim %g dB is not in [0, 200]", (double)o->trim_db);
    const ft_audio_augment *a = &o->augment;
    if (!(a->gain_db >= 0 && a->gain_db <= 60)) return ft_fail(FT_EINVAL, "gain augmentation %g dB is not in [0, 60]", (double)a->gain_db);
    if (!(a->speed >= 0 && a->speed <= 0.5)) return ft_fail(FT_EINVAL, "speed augmentation %g is not in [0, 0.5]", (double)a->speed);
    if (!(a->shift_ms >= 0 && a->shift_ms <= 60000)) return ft_fail(FT_EINVAL, "time shift %g ms is not in [0, 60000]", (double)a->shift_ms);
    if (!(a->noise_prob >= 0 && a->noise_prob <= 1)) return ft_fail(FT_EINVAL, "noise probability %g is not in [0, 1]", (double)a->noise_prob);
    if (!(isfinite(a->snr_min) && isfinite(a->snr_max) && a->snr_min <= a->snr_max))
        return ft_fail(FT_EINVAL, "noise SNR range [%g, %g] dB is not a finite interval", (double)a->snr_min, (double)a->snr_max);
    if (a->freq_masks < 0 || a->freq_masks > 100 || a->time_masks < 0 || a->time_masks > 100 ||
        a->freq_mask_width < 0 || a->time_mask_width < 0)
        return ft_fail(FT_EINVAL, "SpecAugment masks (%d x %d bins, %d x %d frames) must be in [0, 100] masks of width >= 0",
                       a->freq_masks, a->freq_mask_width, a->time_masks, a->time_mask_width);
    if (o->features.kind == FT_FEAT_WAVE && (a->freq_masks || a->time_masks))
        return ft_fail(FT_EINVAL, "SpecAugment needs features (the dataset gives raw samples)");
    return FT_OK;
}

static ft_status load_noise(au_impl *m) {
    fl_paths L = {0};
    au_walk a = {&L, NULL, 0};
    fl_walker w = {.file = walk_file, .ctx = &a};
    ft_status st = fl_walk(m->o.augment.noise_dir, m->o.augment.noise_dir, 0, &w);
    if (!st && L.n == 0) st = ft_fail(FT_EFORMAT, "%s: no audio files for noise augmentation", m->o.augment.noise_dir);
    if (!st && L.n > 100000) st = ft_fail(FT_EFORMAT, "%s: more than 100000 noise files", m->o.augment.noise_dir);
    int64_t total = 0;
    uint8_t *file = NULL;
    size_t fcap = 0;
    au_buf dec = {0}, res = {0};
    if (!st) {
        m->noise_off = ft_calloc((size_t)L.n, sizeof *m->noise_off);
        m->noise_len = ft_calloc((size_t)L.n, sizeof *m->noise_len);
        if (!m->noise_off || !m->noise_len) st = ft_fail(FT_ENOMEM, "out of memory for noise clips");
    }
    ft_audio_dataset_opts saved = m->o;
    m->o.trim_db = 0;
    for (int64_t k = 0; k < L.n && !st; k++) {
        const float *x;
        int64_t n;
        ft_audio info;
        st = load_clip(m, L.pool + L.off[k], &file, &fcap, &dec, &res, &x, &n, &info, NULL);
        if (st) { ft_fail_context(st, "noise clip"); break; }
        float *nb = ft_realloc(m->noise, (size_t)(total + n) * sizeof *nb);
        if (!nb) { st = ft_fail(FT_ENOMEM, "out of memory for noise clips"); break; }
        m->noise = nb;
        memcpy(m->noise + total, x, (size_t)n * sizeof *x);
        m->noise_off[k] = total;
        m->noise_len[k] = n;
        total += n;
    }
    m->o = saved;
    if (!st) m->n_noise = (int)L.n;
    free(file);
    au_buf_release(&dec);
    au_buf_release(&res);
    fl_paths_free(&L);
    return st;
}

/* Build from a list of files (taken) and class names (taken, may be NULL). */
static ft_status build(fl_paths *files, const ft_audio_dataset_opts *o, const char *kind, const char *where, int n_classes,
                       char **class_names, ft_dataset **out) {
    ft_dataset *ds = ft_calloc(1, sizeof *ds);
    au_impl *m = ft_calloc(1, sizeof *m);
    if (!ds || !m) {
        ft_free(ds); ft_free(m);
        fl_paths_free(files);
        if (class_names) { for (int c = 0; c < n_classes; c++) ft_free(class_names[c]); ft_free(class_names); }
        return ft_fail(FT_ENOMEM, "out of memory for an audio dataset");
    }
    ds->impl = m;
    ds->free_impl = au_free_impl;
    ds->get = au_get;
    ds->n_classes = n_classes;
    ds->class_names = class_names;
    m->files = *files;
    memset(files, 0, sizeof *files);
    m->o = *o;
    m->rate = o->audio.target_rate;
    ds->n = m->files.n;
    for (int k = 0; k < AU_SLOTS; k++) {
        au_slot *sl = &m->slots[k];
        sl->dec.plain = sl->res.plain = sl->work.plain = sl->feat.plain = true;
    }
    size_t wl = strlen(where);
    snprintf(ds->name, sizeof ds->name, "%s:%s%s", kind, wl > 48 ? "..." : "", wl > 48 ? where + wl - 45 : where);
    ft_status st = FT_OK;
    if (pthread_mutex_init(&m->mu, NULL)) st = ft_fail(FT_ENOMEM, "cannot create a mutex");
    else if (pthread_cond_init(&m->cv, NULL)) { pthread_mutex_destroy(&m->mu); st = ft_fail(FT_ENOMEM, "cannot create a condition variable"); }
    else m->sync_ok = true;
    for (int k = 0; k < AU_SLOTS; k++) m->free_stack[k] = AU_SLOTS - 1 - k;
    m->n_free = AU_SLOTS;
    if (!st) st = ft_features_new(&m->o.features, &m->feat);
    if (!st && m->o.augment.noise_dir[0]) st = load_noise(m);
    /* Decode everything once, in parallel over files (OpenMP; no BLAS here): errors name
     * the file now rather than mid-epoch. The first failing file in index order is the one
     * reported, whatever the thread count. */
    uint8_t *flag = NULL; /* per file: resampled, clipped */
    int64_t *full = NULL;
    if (!st) {
        size_t nn = (size_t)(ds->n > 0 ? ds->n : 1);
        m->len = ft_calloc(nn, sizeof *m->len);
        m->clips = m->o.cache ? ft_calloc(nn, sizeof *m->clips) : NULL;
        flag = ft_calloc(nn, 1);
        full = ft_calloc(nn, sizeof *full);
        if (!m->len || (m->o.cache && !m->clips) || !flag || !full) st = ft_fail(FT_ENOMEM, "out of memory for an audio dataset");
    }
    if (!st && ds->n > 0) {
        int64_t bad_i = INT64_MAX;
        ft_status bad_st = FT_OK;
        char bad_msg[1024] = "";
        int64_t n_files = ds->n;
        #pragma omp parallel
        {
            uint8_t *file = NULL;
            size_t fcap = 0;
            au_buf dec = {0}, res = {0};
            dec.plain = res.plain = true;
            #pragma omp for schedule(dynamic, 4)
            for (int64_t i = 0; i < n_files; i++) {
                int64_t seen;
                #pragma omp atomic read
                seen = bad_i;
                if (i > seen) continue;
                const char *path = m->files.pool + m->files.off[i];
                const float *x;
                int64_t n = 0;
                ft_audio info;
                ft_status e = load_clip(m, path, &file, &fcap, &dec, &res, &x, &n, &info, &full[i]);
                if (!e && m->clips) {
                    m->clips[i] = ft_malloc((size_t)n * sizeof *x);
                    if (!m->clips[i]) e = ft_fail(FT_ENOMEM, "%s: out of memory caching %lld samples", path, (long long)n);
                    else memcpy(m->clips[i], x, (size_t)n * sizeof *x);
                }
                if (e) {
                    #pragma omp critical(au_open_err)
                    if (i < bad_i) {
                        bad_st = e;
                        snprintf(bad_msg, sizeof bad_msg, "%s", ft_errmsg());
                        #pragma omp atomic write
                        bad_i = i;
                    }
                    continue;
                }
                m->len[i] = n;
                flag[i] = (uint8_t)((info.file_rate != m->rate) | (info.clipped > 0) << 1);
            }
            free(file);
            au_buf_release(&dec);
            au_buf_release(&res);
        }
        if (bad_st) st = ft_fail(bad_st, "%s", bad_msg);
    }
    ft_audio_counts *c = &m->counts;
    c->files = ds->n;
    c->sample_rate = m->rate;
    for (int64_t i = 0; i < ds->n && !st; i++) {
        c->resampled += flag[i] & 1;
        c->clipped += flag[i] >> 1;
        c->trimmed_samples += full[i] - m->len[i];
        c->seconds += (double)m->len[i] / m->rate;
        if (m->len[i] > m->max_len) m->max_len = m->len[i];
    }
    ft_free(flag);
    ft_free(full);
    if (!st && ds->n == 0) st = ft_fail(FT_EFORMAT, "%s: no audio files", where);
    if (!st) {
        m->clip = o->clip_seconds > 0 ? (int64_t)floor(o->clip_seconds * m->rate + 0.5) : m->max_len;
        if (m->clip < 1) st = ft_fail(FT_EINVAL, "%s: clip length %g s is less than one sample", where, o->clip_seconds);
    }
    if (!st) {
        c->clip_samples = m->clip;
        for (int64_t i = 0; i < ds->n; i++) {
            c->cropped += m->len[i] > m->clip;
            c->padded += m->len[i] < m->clip;
        }
        m->frames = ft_features_frames(m->feat, m->clip);
        if (m->frames < 1 || (o->features.kind != FT_FEAT_WAVE && o->features.center && m->clip < 2))
            st = ft_fail(FT_EINVAL, "%s: clips of %lld samples are too short for %s features (n_fft %d)", where,
                         (long long)m->clip, ft_feature_kind_name(o->features.kind), ft_features_opts(m->feat)->n_fft);
    }
    if (st) { ft_dataset_free(ds); return st; }
    ds->x_dtype = FT_F32;
    if (o->features.kind == FT_FEAT_WAVE) {
        ds->x_ndim = 1;
        ds->x_shape[0] = m->clip;
        ds->x_numel = m->clip;
    } else {
        int dim = ft_features_dim(m->feat);
        ds->x_ndim = 2;
        ds->x_shape[0] = o->features.time_major ? m->frames : dim;
        ds->x_shape[1] = o->features.time_major ? dim : m->frames;
        ds->x_numel = m->frames * dim;
    }
    snprintf(m->note, sizeof m->note, "%lld clips in %d classes, %.1f s at %d Hz (%lld resampled), %.2f s each "
             "(%lld padded, %lld cropped)%s", (long long)ds->n, n_classes, c->seconds, m->rate, (long long)c->resampled,
             (double)m->clip / m->rate, (long long)c->padded, (long long)c->cropped,
             c->clipped ? "; some files had float samples beyond [-1, 1] (clipped)" : "");
    const ft_audio_augment *a = &o->augment;
    ds->augments = a->gain_db > 0 || a->speed > 0 || a->shift_ms > 0 || a->noise_prob > 0 ||
                   (a->freq_masks > 0 && a->freq_mask_width > 0) || (a->time_masks > 0 && a->time_mask_width > 0);
    *out = ds;
    return FT_OK;
}

ft_status ft_dataset_audio_folder(const char *root, const ft_audio_dataset_opts *opts, ft_dataset **out) {
    *out = NULL;
    if (!root || !root[0]) return ft_fail(FT_EINVAL, "audio folder: no path");
    ft_audio_dataset_opts o;
    ft_status st = opts_check(opts, &o);
    if (st) return st;
    fl_paths files = {0};
    int64_t skipped = 0;
    au_walk a = {&files, &skipped, 0};
    fl_walker w = {.file = walk_file, .class_begin = walk_class_begin, .class_end = walk_class_end,
                   .layout = "<root>/<class>/<file>.wav", .ctx = &a};
    fl_names cls;
    if ((st = fl_walk_classes(root, &w, &cls))) { fl_paths_free(&files); return st; }
    return build(&files, &o, "wav", root, cls.n, cls.v, out);
}

/* ---- manifest ---- */

static bool header_path(const char *s) {
    return !strcasecmp(s, "path") || !strcasecmp(s, "file") || !strcasecmp(s, "filename") || !strcasecmp(s, "audio") ||
           !strcasecmp(s, "wav") || !strcasecmp(s, "audio_path");
}

static bool header_label(const char *s) {
    return !strcasecmp(s, "label") || !strcasecmp(s, "class") || !strcasecmp(s, "target") || !strcasecmp(s, "y") ||
           !strcasecmp(s, "category") || !strcasecmp(s, "word") || !strcasecmp(s, "keyword");
}

ft_status ft_dataset_audio_manifest(const char *mpath, const ft_audio_dataset_opts *opts, ft_dataset **out) {
    *out = NULL;
    if (!mpath || !mpath[0]) return ft_fail(FT_EINVAL, "audio manifest: no path");
    ft_audio_dataset_opts o;
    ft_status st = opts_check(opts, &o);
    if (st) return st;
    FILE *f = fopen(mpath, "rb");
    if (!f) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such file", mpath);
        return ft_fail(FT_EIO, "%s: cannot open: %s", mpath, strerror(errno));
    }
    char base[4096];
    if ((st = fl_base_dir(mpath, base, sizeof base))) { fclose(f); return st; }
    fl_paths rows = {0};   /* path, label index into `labels` */
    fl_names labels = {0}; /* label text per row (n = rows.n) */
    char *line = NULL, *full = ft_malloc(8192);
    size_t lcap = 0;
    ssize_t ll;
    int64_t line_no = 0;
    bool first = true;
    int col_path = 0, col_label = 1;
    if (!full) st = ft_fail(FT_ENOMEM, "out of memory reading %s", mpath);
    while (!st && (ll = getline(&line, &lcap, f)) >= 0) {
        line_no++;
        if ((size_t)ll != strlen(line)) { st = ft_fail(FT_EFORMAT, "%s:%lld: NUL byte in line", mpath, (long long)line_no); break; }
        while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) line[--ll] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        char *fields[64];
        int nf = fl_csv_split(p, fields, 64);
        if (nf < 0) { st = ft_fail(FT_EFORMAT, "%s:%lld: unterminated quote", mpath, (long long)line_no); break; }
        if (first && nf >= 1 && header_path(fields[0])) {
            first = false;
            col_path = -1; col_label = -1;
            for (int k = 0; k < nf && k < 64; k++) {
                if (col_path < 0 && header_path(fields[k])) col_path = k;
                else if (col_label < 0 && header_label(fields[k])) col_label = k;
            }
            if (col_label < 0)
                st = ft_fail(FT_EFORMAT, "%s:%lld: header has no label column (label, class, target, y, word)", mpath, (long long)line_no);
            continue;
        }
        first = false;
        int need = (col_path > col_label ? col_path : col_label) + 1;
        if (nf < need || need > 64) { st = ft_fail(FT_EFORMAT, "%s:%lld: %d fields, expected path,label", mpath, (long long)line_no, nf); break; }
        char *fp = fields[col_path], *fl = fields[col_label];
        if (!fp[0]) { st = ft_fail(FT_EFORMAT, "%s:%lld: empty path", mpath, (long long)line_no); break; }
        if (!fl[0]) { st = ft_fail(FT_EFORMAT, "%s:%lld: empty label", mpath, (long long)line_no); break; }
        int r = fp[0] == '/' ? snprintf(full, 8192, "%s", fp) : snprintf(full, 8192, "%s/%s", base, fp);
        if (r >= 8192) { st = ft_fail(FT_EINVAL, "%s:%lld: path too long", mpath, (long long)line_no); break; }
        if ((st = fl_paths_add(&rows, full, (int32_t)(line_no > INT32_MAX ? INT32_MAX : line_no)))) break;
        if (labels.n == labels.cap) {
            int nc = labels.cap ? labels.cap * 2 : 256;
            char **nn = ft_realloc(labels.v, (size_t)nc * sizeof *nn);
            if (!nn) { st = ft_fail(FT_ENOMEM, "out of memory reading %s", mpath); break; }
            labels.v = nn;
            labels.cap = nc;
        }
        if (!(labels.v[labels.n] = ft_strdup(fl))) { st = ft_fail(FT_ENOMEM, "out of memory reading %s", mpath); break; }
        labels.n++;
    }
    free(line);
    ft_free(full);
    if (!st && ferror(f)) st = ft_fail(FT_EIO, "%s: read error", mpath);
    fclose(f);
    if (!st && rows.n == 0) st = ft_fail(FT_EFORMAT, "%s: no audio files listed", mpath);
    bool numeric = true;
    for (int k = 0; k < labels.n && numeric; k++) numeric = fl_numeric_label(labels.v[k]);
    char **cn = NULL;
    int n_classes = 0;
    if (!st && !numeric) st = fl_class_names(labels.v, labels.n, mpath, INT32_MAX, &cn, &n_classes);
    for (int64_t k = 0; k < rows.n && !st; k++) {
        int32_t lab;
        if (numeric) {
            lab = (int32_t)atol(labels.v[k]);
            if (lab + 1 > n_classes) n_classes = lab + 1;
        } else {
            lab = fl_class_index(cn, n_classes, labels.v[k]);
        }
        rows.label[k] = lab;
    }
    fl_names_free(&labels);
    if (st) {
        if (cn) { for (int c = 0; c < n_classes; c++) ft_free(cn[c]); ft_free(cn); }
        fl_paths_free(&rows);
        return st;
    }
    return build(&rows, &o, "wav-manifest", mpath, n_classes, cn, out);
}

/* ---- queries ---- */

static au_impl *impl_of(const ft_dataset *ds) {
    return ds && ds->free_impl == au_free_impl ? ds->impl : NULL;
}

ft_status ft_audio_dataset_counts(const ft_dataset *ds, ft_audio_counts *out) {
    memset(out, 0, sizeof *out);
    au_impl *m = impl_of(ds);
    if (!m) return ft_fail(FT_EINVAL, "not an audio dataset");
    *out = m->counts;
    return FT_OK;
}

ft_status ft_audio_dataset_item(const ft_dataset *ds, int64_t i, const char **path, int64_t *samples) {
    au_impl *m = impl_of(ds);
    if (!m) return ft_fail(FT_EINVAL, "not an audio dataset");
    if (i < 0 || i >= ds->n) return ft_fail(FT_EINVAL, "%s: example %lld out of range", ds->name, (long long)i);
    if (path) *path = m->files.pool + m->files.off[i];
    if (samples) *samples = m->len[i];
    return FT_OK;
}

ft_status ft_audio_dataset_example(const ft_dataset *ds, const char *path, float *xout) {
    au_impl *m = impl_of(ds);
    if (!m) return ft_fail(FT_EINVAL, "not an audio dataset");
    uint8_t *file = NULL;
    size_t fcap = 0;
    au_buf dec = {0}, res = {0}, clip = {0}, scr = {0};
    const float *x;
    int64_t n;
    ft_audio info;
    ft_status st = load_clip(m, path, &file, &fcap, &dec, &res, &x, &n, &info, NULL);
    bool wave = m->o.features.kind == FT_FEAT_WAVE;
    if (!st && !wave) st = au_buf_reserve(&clip, m->clip, path);
    if (!st && !wave) st = au_buf_reserve(&scr, (int64_t)ft_features_scratch(m->feat, m->clip), path);
    if (!st) {
        float *c = wave ? xout : clip.p;
        place(x, n, m->clip, m->o.pad, 0, c);
        if (!wave) st = ft_features_compute(m->feat, c, m->clip, scr.p, xout);
    }
    free(file);
    au_buf_release(&dec);
    au_buf_release(&res);
    au_buf_release(&clip);
    au_buf_release(&scr);
    return st;
}

const char *au_dataset_note(const ft_dataset *ds) {
    au_impl *m = impl_of(ds);
    return m ? m->note : "";
}

const ft_features *ft_audio_dataset_features(const ft_dataset *ds) {
    au_impl *m = impl_of(ds);
    return m ? m->feat : NULL;
}

ft_status ft_audio_dataset_stats(ft_dataset *ds, float *mean, float *std) {
    au_impl *m = impl_of(ds);
    if (!m) return ft_fail(FT_EINVAL, "not an audio dataset");
    int dim = ft_features_dim(m->feat);
    ft_feature_opts fo = *ft_features_opts(m->feat);
    fo.norm = FT_NORM_NONE;
    fo.global_mean = fo.global_std = NULL;
    ft_features *raw = NULL;
    ft_status st = ft_features_new(&fo, &raw);
    if (st) return st;
    double *s = ft_calloc((size_t)dim * 2, sizeof *s);
    float *clip = ft_malloc((size_t)m->clip * sizeof *clip);
    float *scr = ft_malloc(ft_features_scratch(raw, m->clip) * sizeof *scr);
    int64_t T = ft_features_frames(raw, m->clip);
    float *feat = ft_malloc((size_t)(T * dim) * sizeof *feat);
    uint8_t *file = NULL;
    size_t fcap = 0;
    au_buf dec = {0}, res = {0};
    if (!s || !clip || !scr || !feat) st = ft_fail(FT_ENOMEM, "out of memory for feature statistics");
    for (int64_t i = 0; i < ds->n && !st; i++) {
        const float *x;
        int64_t n;
        if (m->clips) { x = m->clips[i]; n = m->len[i]; }
        else {
            ft_audio info;
            if ((st = load_clip(m, m->files.pool + m->files.off[i], &file, &fcap, &dec, &res, &x, &n, &info, NULL))) break;
        }
        place(x, n, m->clip, m->o.pad, 0, clip);
        if ((st = ft_features_compute(raw, clip, m->clip, scr, feat))) break;
        for (int64_t t = 0; t < T; t++)
            for (int d = 0; d < dim; d++) {
                double v = fo.time_major ? feat[t * dim + d] : feat[(int64_t)d * T + t];
                s[d] += v;
                s[dim + d] += v * v;
            }
    }
    if (!st) {
        double N = (double)ds->n * T;
        for (int d = 0; d < dim; d++) {
            double mu = s[d] / N, var = s[dim + d] / N - mu * mu;
            mean[d] = (float)mu;
            std[d] = (float)sqrt(var > 1e-10 ? var : 1e-10);
        }
    }
    free(file);
    au_buf_release(&dec);
    au_buf_release(&res);
    ft_free(s); ft_free(clip); ft_free(scr); ft_free(feat);
    ft_features_free(raw);
    return st;
}
