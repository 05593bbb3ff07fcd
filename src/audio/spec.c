/* Audio dataset spec strings: "wav:<dir>[:key=value...]" and
 * "wav-manifest:<file>[:key=value...]". Options are taken from the right while the last
 * ':'-separated field is key=value with a known key, so a path may itself hold colons. */
#include "audio/audio_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ft_audio_spec(const char *spec) {
    return spec && (!strncmp(spec, "wav:", 4) || !strncmp(spec, "wav-manifest:", 13));
}

static const char *const keys[] = {
    "rate", "clip", "pad", "trim", "features", "n_fft", "win", "hop", "window", "center", "power", "n_mels", "fmin",
    "fmax", "mel_scale", "mel_norm", "log", "log_offset", "top_db", "n_mfcc", "norm", "layout", "gain", "speed",
    "shift", "noise", "snr", "noise_dir", "freq_masks", "freq_width", "time_masks", "time_width", "resample",
    "quality", "cache", "preset", "scale", "bias",
};

static int key_index(const char *k, size_t len) {
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strlen(keys[i]) == len && !strncmp(keys[i], k, len)) return (int)i;
    return -1;
}

static bool num(const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi) return false;
    *out = d;
    return true;
}

static int pick(const char *v, const char *const *names, int n) {
    for (int k = 0; k < n; k++) if (!strcmp(v, names[k])) return k;
    return -1;
}

#define BAD(...) return ft_fail(FT_EINVAL, __VA_ARGS__)

static ft_status apply(const char *spec, const char *k, const char *v, ft_audio_dataset_opts *o) {
    double d;
    int e;
    ft_feature_opts *f = &o->features;
    ft_audio_augment *a = &o->augment;
    if (!strcmp(k, "rate")) {
        if (!num(v, 1, FT_AUDIO_MAX_RATE, &d) || d != floor(d)) BAD("%s: rate=%s is not a sample rate in Hz", spec, v);
        o->audio.target_rate = f->sample_rate = (int)d;
    } else if (!strcmp(k, "clip")) {
        if (!num(v, 0, 3600, &d)) BAD("%s: clip=%s is not a length in seconds in [0, 3600]", spec, v);
        o->clip_seconds = d;
    } else if (!strcmp(k, "pad")) {
        static const char *const n[] = {"center", "start", "end"};
        if ((e = pick(v, n, 3)) < 0) BAD("%s: pad=%s is not center, start or end", spec, v);
        o->pad = (ft_pad_mode)e;
    } else if (!strcmp(k, "trim")) {
        if (!num(v, 0, 200, &d)) BAD("%s: trim=%s is not a level in dB in [0, 200]", spec, v);
        o->trim_db = (float)d;
    } else if (!strcmp(k, "features")) {
        static const char *const n[] = {"wave", "spec", "logmel", "mfcc", "mel"};
        if ((e = pick(v, n, 5)) < 0) BAD("%s: features=%s is not wave, spec, mel, logmel or mfcc", spec, v);
        f->kind = (ft_feature_kind)e;
    } else if (!strcmp(k, "n_fft") || !strcmp(k, "win") || !strcmp(k, "hop") || !strcmp(k, "n_mels") ||
               !strcmp(k, "n_mfcc") || !strcmp(k, "freq_masks") || !strcmp(k, "freq_width") ||
               !strcmp(k, "time_masks") || !strcmp(k, "time_width")) {
        if (!num(v, 0, 1 << 20, &d) || d != floor(d)) BAD("%s: %s=%s is not a whole number", spec, k, v);
        int x = (int)d;
        if (!strcmp(k, "n_fft")) f->n_fft = x;
        else if (!strcmp(k, "win")) f->win_length = x;
        else if (!strcmp(k, "hop")) f->hop_length = x;
        else if (!strcmp(k, "n_mels")) f->n_mels = x;
        else if (!strcmp(k, "n_mfcc")) f->n_mfcc = x;
        else if (!strcmp(k, "freq_masks")) a->freq_masks = x;
        else if (!strcmp(k, "freq_width")) a->freq_mask_width = x;
        else if (!strcmp(k, "time_masks")) a->time_masks = x;
        else a->time_mask_width = x;
    } else if (!strcmp(k, "window")) {
        static const char *const n[] = {"hann", "hamming", "povey", "rect"};
        if ((e = pick(v, n, 4)) < 0) BAD("%s: window=%s is not hann, hamming, povey or rect", spec, v);
        f->window = (ft_window_kind)e;
    } else if (!strcmp(k, "center") || !strcmp(k, "resample") || !strcmp(k, "cache")) {
        if (strcmp(v, "0") && strcmp(v, "1")) BAD("%s: %s=%s is not 0 or 1", spec, k, v);
        bool b = v[0] == '1';
        if (!strcmp(k, "center")) f->center = b;
        else if (!strcmp(k, "resample")) o->audio.resample = b;
        else o->cache = b;
    } else if (!strcmp(k, "power")) {
        if (strcmp(v, "1") && strcmp(v, "2")) BAD("%s: power=%s is not 1 (magnitude) or 2 (power)", spec, v);
        f->power = (float)(v[0] - '0');
    } else if (!strcmp(k, "fmin") || !strcmp(k, "fmax")) {
        if (!num(v, 0, FT_AUDIO_MAX_RATE, &d)) BAD("%s: %s=%s is not a frequency in Hz", spec, k, v);
        if (k[1] == 'm' && k[2] == 'i') f->f_min = (float)d;
        else f->f_max = (float)d;
    } else if (!strcmp(k, "mel_scale")) {
        static const char *const n[] = {"htk", "slaney"};
        if ((e = pick(v, n, 2)) < 0) BAD("%s: mel_scale=%s is not htk or slaney", spec, v);
        f->mel_scale = (ft_mel_scale)e;
    } else if (!strcmp(k, "mel_norm")) {
        static const char *const n[] = {"none", "slaney"};
        if ((e = pick(v, n, 2)) < 0) BAD("%s: mel_norm=%s is not none or slaney", spec, v);
        f->mel_norm_slaney = e == 1;
    } else if (!strcmp(k, "log")) {
        static const char *const n[] = {"db", "offset", "none"};
        if ((e = pick(v, n, 3)) < 0) BAD("%s: log=%s is not db, offset or none", spec, v);
        f->log = (ft_log_kind)e;
    } else if (!strcmp(k, "log_offset")) {
        if (!num(v, 1e-30, 1e6, &d)) BAD("%s: log_offset=%s is not a positive number", spec, v);
        f->log_offset = (float)d;
    } else if (!strcmp(k, "top_db")) {
        if (!num(v, 0, 1000, &d)) BAD("%s: top_db=%s is not in [0, 1000] (0 = off)", spec, v);
        f->top_db = (float)d;
    } else if (!strcmp(k, "norm")) {
        static const char *const n[] = {"none", "utt", "utt-mean"};
        if ((e = pick(v, n, 3)) < 0) BAD("%s: norm=%s is not none, utt or utt-mean (global statistics: see docs/speech.md)", spec, v);
        f->norm = (ft_feat_norm)e;
    } else if (!strcmp(k, "layout")) {
        static const char *const n[] = {"ft", "tf"};
        if ((e = pick(v, n, 2)) < 0) BAD("%s: layout=%s is not ft ([dim, frames]) or tf ([frames, dim])", spec, v);
        f->time_major = e == 1;
    } else if (!strcmp(k, "gain")) {
        if (!num(v, 0, 60, &d)) BAD("%s: gain=%s is not a range in dB in [0, 60]", spec, v);
        a->gain_db = (float)d;
    } else if (!strcmp(k, "speed")) {
        if (!num(v, 0, 0.5, &d)) BAD("%s: speed=%s is not in [0, 0.5]", spec, v);
        a->speed = (float)d;
    } else if (!strcmp(k, "shift")) {
        if (!num(v, 0, 60000, &d)) BAD("%s: shift=%s is not a range in ms in [0, 60000]", spec, v);
        a->shift_ms = (float)d;
    } else if (!strcmp(k, "noise")) {
        if (!num(v, 0, 1, &d)) BAD("%s: noise=%s is not a probability in [0, 1]", spec, v);
        a->noise_prob = (float)d;
    } else if (!strcmp(k, "snr")) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", v);
        char *comma = strchr(buf, ',');
        double lo, hi;
        if (comma) *comma = 0;
        if (!num(buf, -100, 200, &lo) || !num(comma ? comma + 1 : buf, -100, 200, &hi) || hi < lo)
            BAD("%s: snr=%s is not a level or a range lo,hi in dB", spec, v);
        a->snr_min = (float)lo;
        a->snr_max = (float)hi;
    } else if (!strcmp(k, "noise_dir")) {
        if (!v[0] || strlen(v) >= sizeof a->noise_dir) BAD("%s: noise_dir is empty or too long", spec);
        snprintf(a->noise_dir, sizeof a->noise_dir, "%s", v);
        if (a->noise_prob == 0) a->noise_prob = 0.5f;
    } else if (!strcmp(k, "preset")) {
        if (strcmp(v, "oww")) BAD("%s: preset=%s is not oww (openWakeWord's mel front end)", spec, v);
        *f = ft_feature_opts_oww();
        o->audio.target_rate = f->sample_rate;
    } else if (!strcmp(k, "scale") || !strcmp(k, "bias")) {
        if (!num(v, -1e6, 1e6, &d) || (k[0] == 's' && d == 0)) BAD("%s: %s=%s is not a number (scale: non-zero)", spec, k, v);
        if (k[0] == 's') f->scale = (float)d;
        else f->bias = (float)d;
    } else if (!strcmp(k, "quality")) {
        static const char *const n[] = {"best", "medium", "fast", "zoh", "linear"};
        if ((e = pick(v, n, 5)) < 0) BAD("%s: quality=%s is not best, medium, fast, zoh or linear", spec, v);
        o->audio.quality = (ft_resample_quality)e;
    }
    return FT_OK;
}

ft_status ft_audio_spec_parse(const char *spec, const ft_audio_dataset_opts *base, char *path, size_t path_cap,
                              bool *manifest, ft_audio_dataset_opts *o) {
    *o = base ? *base : ft_audio_dataset_opts_default();
    if (!ft_audio_spec(spec)) return ft_fail(FT_EINVAL, "'%s' is not an audio dataset spec (wav:<dir> or wav-manifest:<file>)", spec ? spec : "");
    *manifest = spec[3] == '-';
    const char *arg = spec + (*manifest ? 13 : 4);
    size_t len = strlen(arg);
    /* Collect options right to left, apply left to right (a later key wins). */
    const char *opt_start = arg + len;
    for (;;) {
        const char *c = NULL;
        for (const char *p = arg + len; p > arg; p--) if (p[-1] == ':') { c = p - 1; break; }
        if (!c) break;
        const char *kv = c + 1, *eq = memchr(kv, '=', (size_t)(arg + len - kv));
        if (!eq || key_index(kv, (size_t)(eq - kv)) < 0) {
            if (eq && !memchr(kv, '/', (size_t)(eq - kv)))
                return ft_fail(FT_EINVAL, "%s: unknown option '%.*s' (see docs/speech.md)", spec, (int)(eq - kv), kv);
            break;
        }
        len = (size_t)(c - arg);
        opt_start = c;
    }
    if (len == 0) return ft_fail(FT_EINVAL, "%s: missing %s", spec, *manifest ? "manifest file" : "folder");
    if (len >= path_cap) return ft_fail(FT_EINVAL, "%s: path too long", spec);
    memcpy(path, arg, len);
    path[len] = 0;
    char kvbuf[1200];
    /* Pass 0 applies a preset, pass 1 everything else, so keys refine the preset. */
    for (int pass = 0; pass < 2; pass++) {
        const char *p = opt_start;
        while (*p == ':') {
            const char *q = strchr(p + 1, ':');
            size_t l = q ? (size_t)(q - p - 1) : strlen(p + 1);
            if (l >= sizeof kvbuf) return ft_fail(FT_EINVAL, "%s: option too long", spec);
            memcpy(kvbuf, p + 1, l);
            kvbuf[l] = 0;
            char *eq = strchr(kvbuf, '=');
            *eq = 0;
            if ((pass == 0) == !strcmp(kvbuf, "preset")) {
                ft_status st = apply(spec, kvbuf, eq + 1, o);
                if (st) return st;
            }
            if (!q) break;
            p = q;
        }
    }
    return FT_OK;
}

ft_status ft_dataset_open_audio(const char *spec, const ft_audio_dataset_opts *base, ft_dataset **out) {
    *out = NULL;
    char path[4096];
    bool manifest;
    ft_audio_dataset_opts o;
    ft_status st = ft_audio_spec_parse(spec, base, path, sizeof path, &manifest, &o);
    if (st) return st;
    return manifest ? ft_dataset_audio_manifest(path, &o, out) : ft_dataset_audio_folder(path, &o, out);
}
