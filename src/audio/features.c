/* Audio features on FFTW (single precision, fftw3f): STFT, power/magnitude spectrogram,
 * mel filterbank (HTK or Slaney scale, optional Slaney area norm), log-mel (dB with top_db,
 * or log(x + offset)), MFCC (DCT-II, ortho) and mean/variance normalisation.
 *
 * The formulas are torchaudio 0.13's (transforms.Spectrogram / MelSpectrogram /
 * AmplitudeToDB / MFCC, functional.melscale_fbanks / create_dct), checked against
 * tests/fixtures/audio_features.safetensors from tests/gen/gen_audio_features.py.
 *
 * Threads. An ft_features holds one FFTW plan made with FFTW_ESTIMATE | FFTW_UNALIGNED
 * (no timing, no alignment requirement on the arrays it is later executed on). FFTW's
 * planner and fftwf_destroy_plan are not thread-safe, so both run under one global mutex;
 * fftwf_execute_dft_r2c on a finished plan with other arrays is thread-safe, so
 * ft_features_compute can run on many threads at once with per-call scratch. */
#include "audio/audio_internal.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t fftw_planner_mu = PTHREAD_MUTEX_INITIALIZER;

struct ft_features {
    ft_feature_opts o;
    int n_freq, dim;
    float *window;      /* [n_fft]: win_length window centred, zeros around */
    float *fb;          /* [n_mels][n_freq] */
    int *fb_lo, *fb_hi; /* nonzero range of each filter */
    float *dct;         /* [n_mfcc][n_mels] */
    float *gmean, *gstd;/* [dim] (FT_NORM_GLOBAL) */
    fftwf_plan plan;
};

ft_feature_opts ft_feature_opts_default(void) {
    ft_feature_opts o;
    memset(&o, 0, sizeof o);
    o.kind = FT_FEAT_LOGMEL;
    o.sample_rate = 16000;
    o.n_fft = 400;
    o.window = FT_WIN_HANN;
    o.center = true;
    o.power = 2.0f;
    o.n_mels = 128;
    o.mel_scale = FT_MEL_HTK;
    o.log = FT_LOG_DB;
    o.log_offset = 1e-6f;
    o.top_db = 80.0f;
    o.n_mfcc = 40;
    o.norm = FT_NORM_NONE;
    o.scale = 1.0f;
    o.bias = 0.0f;
    return o;
}

ft_feature_opts ft_feature_opts_oww(void) {
    ft_feature_opts o = ft_feature_opts_default();
    o.kind = FT_FEAT_LOGMEL;
    o.sample_rate = 16000;
    o.n_fft = 512;
    o.win_length = 400;
    o.hop_length = 160;
    o.center = false;
    o.n_mels = 32;
    o.f_min = 60;
    o.f_max = 3800;
    o.mel_scale = FT_MEL_SLANEY;
    o.mel_norm_slaney = true;
    o.log = FT_LOG_DB;
    o.top_db = 80;
    o.scale = 0.1f;
    o.bias = 2.0f;
    o.time_major = true;
    return o;
}

const char *ft_feature_kind_name(ft_feature_kind k) {
    switch (k) {
    case FT_FEAT_WAVE: return "wave";
    case FT_FEAT_SPEC: return "spec";
    case FT_FEAT_MEL: return "mel";
    case FT_FEAT_LOGMEL: return "logmel";
    case FT_FEAT_MFCC: return "mfcc";
    }
    return "?";
}

/* ---- mel scales (torchaudio.functional.functional._hz_to_mel / _mel_to_hz) ---- */

static double hz_to_mel(double f, ft_mel_scale s) {
    if (s == FT_MEL_HTK) return 2595.0 * log10(1.0 + f / 700.0);
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (f >= min_log_hz) return min_log_mel + log(f / min_log_hz) / logstep;
    return f / f_sp;
}

static double mel_to_hz(double m, ft_mel_scale s) {
    if (s == FT_MEL_HTK) return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (m >= min_log_mel) return min_log_hz * exp(logstep * (m - min_log_mel));
    return f_sp * m;
}

static ft_status check_opts(const ft_feature_opts *in, ft_feature_opts *o) {
    *o = in ? *in : ft_feature_opts_default();
    if ((unsigned)o->kind > FT_FEAT_MEL) return ft_fail(FT_EINVAL, "feature kind %d is not one of FT_FEAT_*", (int)o->kind);
    if (o->sample_rate < 1 || o->sample_rate > FT_AUDIO_MAX_RATE)
        return ft_fail(FT_EINVAL, "feature sample rate %d Hz is not in [1, %d]", o->sample_rate, FT_AUDIO_MAX_RATE);
    if (o->kind == FT_FEAT_WAVE) return FT_OK;
    if (o->n_fft < 2 || o->n_fft > 65536) return ft_fail(FT_EINVAL, "n_fft %d is not in [2, 65536]", o->n_fft);
    if (o->win_length == 0) o->win_length = o->n_fft;
    if (o->win_length < 1 || o->win_length > o->n_fft)
        return ft_fail(FT_EINVAL, "win_length %d is not in [1, n_fft %d]", o->win_length, o->n_fft);
    if (o->hop_length == 0) o->hop_length = o->win_length / 2 > 0 ? o->win_length / 2 : 1;
    if (o->hop_length < 1 || o->hop_length > 1 << 20) return ft_fail(FT_EINVAL, "hop_length %d is not positive", o->hop_length);
    if ((unsigned)o->window > FT_WIN_RECT) return ft_fail(FT_EINVAL, "window %d is not one of FT_WIN_*", (int)o->window);
    if (!(o->power == 1.0f || o->power == 2.0f)) return ft_fail(FT_EINVAL, "spectrogram power %g is not 1 or 2", (double)o->power);
    if (o->kind == FT_FEAT_SPEC) return FT_OK;
    if (o->n_mels < 1 || o->n_mels > 4096) return ft_fail(FT_EINVAL, "n_mels %d is not in [1, 4096]", o->n_mels);
    double nyq = o->sample_rate / 2.0;
    if (o->f_max == 0) o->f_max = (float)nyq;
    if (!(o->f_min >= 0) || !(o->f_max > o->f_min) || o->f_max > nyq * 1.0001)
        return ft_fail(FT_EINVAL, "mel range fmin %g .. fmax %g Hz must satisfy 0 <= fmin < fmax <= %g (rate / 2)",
                       (double)o->f_min, (double)o->f_max, nyq);
    if ((unsigned)o->mel_scale > FT_MEL_SLANEY) return ft_fail(FT_EINVAL, "mel scale %d is not HTK or Slaney", (int)o->mel_scale);
    if ((unsigned)o->log > FT_LOG_NONE) return ft_fail(FT_EINVAL, "log kind %d is not one of FT_LOG_*", (int)o->log);
    if (o->log == FT_LOG_OFFSET && !(o->log_offset > 0 && isfinite(o->log_offset)))
        return ft_fail(FT_EINVAL, "log offset %g must be > 0", (double)o->log_offset);
    if (!isfinite(o->top_db)) return ft_fail(FT_EINVAL, "top_db %g is not finite", (double)o->top_db);
    if (o->kind == FT_FEAT_MFCC && (o->n_mfcc < 1 || o->n_mfcc > o->n_mels))
        return ft_fail(FT_EINVAL, "n_mfcc %d is not in [1, n_mels %d]", o->n_mfcc, o->n_mels);
    if (!isfinite(o->scale) || o->scale == 0 || !isfinite(o->bias))
        return ft_fail(FT_EINVAL, "feature scale %g / bias %g: scale must be finite and non-zero (start from "
                       "ft_feature_opts_default())", (double)o->scale, (double)o->bias);
    if ((unsigned)o->norm > FT_NORM_GLOBAL) return ft_fail(FT_EINVAL, "feature norm %d is not one of FT_NORM_*", (int)o->norm);
    if (o->norm == FT_NORM_GLOBAL && (!o->global_mean || !o->global_std))
        return ft_fail(FT_EINVAL, "global feature normalisation needs global_mean and global_std");
    return FT_OK;
}

int ft_features_dim(const ft_features *f) { return f->dim; }
const ft_feature_opts *ft_features_opts(const ft_features *f) { return &f->o; }

void ft_features_free(ft_features *f) {
    if (!f) return;
    if (f->plan) {
        pthread_mutex_lock(&fftw_planner_mu);
        fftwf_destroy_plan(f->plan);
        pthread_mutex_unlock(&fftw_planner_mu);
    }
    ft_free(f->window); ft_free(f->fb); ft_free(f->fb_lo); ft_free(f->fb_hi); ft_free(f->dct);
    ft_free(f->gmean); ft_free(f->gstd);
    ft_free(f);
}

ft_status ft_features_new(const ft_feature_opts *in, ft_features **out) {
    *out = NULL;
    ft_features *f = ft_calloc(1, sizeof *f);
    if (!f) return ft_fail(FT_ENOMEM, "out of memory for a feature extractor");
    ft_status st = check_opts(in, &f->o);
    if (st) { ft_free(f); return st; }
    ft_feature_opts *o = &f->o;
    o->global_mean = o->global_std = NULL;
    if (o->kind == FT_FEAT_WAVE) {
        f->dim = 1;
        *out = f;
        return FT_OK;
    }
    int n_fft = o->n_fft, nf = n_fft / 2 + 1;
    f->n_freq = nf;
    f->dim = o->kind == FT_FEAT_SPEC ? nf : o->kind == FT_FEAT_MFCC ? o->n_mfcc : o->n_mels;
    if (!(f->window = ft_calloc((size_t)n_fft, sizeof *f->window))) goto oom;
    /* torch windows are periodic (N = win_length in the denominator); Povey is Kaldi's
     * (symmetric Hann to the power 0.85). Centred in n_fft as torch.stft pads it. */
    int wl = o->win_length, left = (n_fft - wl) / 2;
    for (int k = 0; k < wl; k++) {
        double w = 1.0, a = 2.0 * M_PI * k;
        switch (o->window) {
        case FT_WIN_HANN: w = 0.5 - 0.5 * cos(a / wl); break;
        case FT_WIN_HAMMING: w = 0.54 - 0.46 * cos(a / wl); break;
        case FT_WIN_POVEY: w = wl > 1 ? pow(0.5 - 0.5 * cos(a / (wl - 1)), 0.85) : 1.0; break;
        case FT_WIN_RECT: w = 1.0; break;
        }
        f->window[left + k] = (float)w;
    }
    if (o->kind != FT_FEAT_SPEC) {
        int nm = o->n_mels;
        f->fb = ft_calloc((size_t)nm * nf, sizeof *f->fb);
        f->fb_lo = ft_calloc((size_t)nm, sizeof *f->fb_lo);
        f->fb_hi = ft_calloc((size_t)nm, sizeof *f->fb_hi);
        double *fpts = ft_malloc((size_t)(nm + 2) * sizeof *fpts);
        if (!f->fb || !f->fb_lo || !f->fb_hi || !fpts) { ft_free(fpts); goto oom; }
        /* melscale_fbanks: all_freqs = linspace(0, rate // 2, n_freqs), mel points evenly
         * spaced between fmin and fmax, triangles max(0, min(down, up)). */
        double m0 = hz_to_mel(o->f_min, o->mel_scale), m1 = hz_to_mel(o->f_max, o->mel_scale);
        for (int k = 0; k < nm + 2; k++) fpts[k] = mel_to_hz(m0 + (m1 - m0) * k / (nm + 1), o->mel_scale);
        double top = (double)(o->sample_rate / 2);
        for (int m = 0; m < nm; m++) {
            double d0 = fpts[m + 1] - fpts[m], d1 = fpts[m + 2] - fpts[m + 1];
            double enorm = o->mel_norm_slaney ? 2.0 / (fpts[m + 2] - fpts[m]) : 1.0;
            int lo = nf, hi = 0;
            for (int k = 0; k < nf; k++) {
                double fr = nf > 1 ? top * k / (nf - 1) : 0.0;
                double down = (fr - fpts[m]) / d0, up = (fpts[m + 2] - fr) / d1;
                double v = down < up ? down : up;
                if (!(v > 0)) continue;
                f->fb[(size_t)m * nf + k] = (float)(v * enorm);
                if (k < lo) lo = k;
                hi = k + 1;
            }
            f->fb_lo[m] = lo < hi ? lo : 0;
            f->fb_hi[m] = hi;
        }
        ft_free(fpts);
    }
    if (o->kind == FT_FEAT_MFCC) {
        int nc = o->n_mfcc, nm = o->n_mels;
        if (!(f->dct = ft_malloc((size_t)nc * nm * sizeof *f->dct))) goto oom;
        for (int k = 0; k < nc; k++)
            for (int m = 0; m < nm; m++) {
                double v = cos(M_PI / nm * (m + 0.5) * k) * sqrt(2.0 / nm);
                if (k == 0) v *= 1.0 / sqrt(2.0);
                f->dct[(size_t)k * nm + m] = (float)v;
            }
    }
    if (in && in->norm == FT_NORM_GLOBAL) {
        f->gmean = ft_malloc((size_t)f->dim * sizeof *f->gmean);
        f->gstd = ft_malloc((size_t)f->dim * sizeof *f->gstd);
        if (!f->gmean || !f->gstd) goto oom;
        for (int d = 0; d < f->dim; d++) {
            f->gmean[d] = in->global_mean[d];
            f->gstd[d] = in->global_std[d];
            if (!isfinite(f->gmean[d]) || !(f->gstd[d] > 0) || !isfinite(f->gstd[d])) {
                double gm = f->gmean[d], gs = f->gstd[d];
                ft_features_free(f);
                return ft_fail(FT_EINVAL, "global normalisation dim %d: mean %g, std %g (std must be > 0)", d, gm, gs);
            }
        }
        o->global_mean = f->gmean;
        o->global_std = f->gstd;
    }
    {
        float *a = fftwf_malloc((size_t)n_fft * sizeof(float));
        fftwf_complex *b = fftwf_malloc((size_t)nf * sizeof(fftwf_complex));
        if (a && b) {
            pthread_mutex_lock(&fftw_planner_mu);
            f->plan = fftwf_plan_dft_r2c_1d(n_fft, a, b, FFTW_ESTIMATE | FFTW_UNALIGNED);
            pthread_mutex_unlock(&fftw_planner_mu);
        }
        fftwf_free(a);
        fftwf_free(b);
        if (!f->plan) { ft_features_free(f); return ft_fail(FT_ENOMEM, "FFTW could not plan a %d-point real FFT", n_fft); }
    }
    *out = f;
    return FT_OK;
oom:
    ft_features_free(f);
    return ft_fail(FT_ENOMEM, "out of memory for a feature extractor");
}

int64_t ft_features_frames(const ft_features *f, int64_t n) {
    const ft_feature_opts *o = &f->o;
    if (o->kind == FT_FEAT_WAVE) return n;
    if (n <= 0) return 0;
    int64_t len = o->center ? n + 2 * (o->n_fft / 2) : n;
    if (len < o->n_fft) return 0;
    return 1 + (len - o->n_fft) / o->hop_length;
}

size_t ft_features_scratch(const ft_features *f, int64_t n) {
    const ft_feature_opts *o = &f->o;
    if (o->kind == FT_FEAT_WAVE) return 1;
    int64_t T = ft_features_frames(f, n);
    int64_t len = o->center ? n + 2 * (o->n_fft / 2) : n;
    /* padded signal + frame + spectrum (complex) + spec [T][n_freq] + mel [T][n_mels] + out [T][dim] */
    size_t s = (size_t)len + (size_t)o->n_fft + 2 * (size_t)f->n_freq + (size_t)T * f->n_freq;
    if (o->kind != FT_FEAT_SPEC) s += (size_t)T * o->n_mels;
    s += (size_t)T * f->dim;
    return s + 16;
}

/* torch's reflect padding (no edge repeat), folded for any n >= 1. */
static int64_t reflect(int64_t k, int64_t n) {
    if (n == 1) return 0;
    int64_t p = 2 * (n - 1);
    k %= p;
    if (k < 0) k += p;
    return k < n ? k : p - k;
}

ft_status ft_features_compute(const ft_features *f, const float *x, int64_t n, float *scratch, float *out) {
    const ft_feature_opts *o = &f->o;
    if (o->kind == FT_FEAT_WAVE) {
        memcpy(out, x, (size_t)n * sizeof *out);
        return FT_OK;
    }
    int64_t T = ft_features_frames(f, n);
    if (T < 1 || (o->center && n < 2))
        return ft_fail(FT_EINVAL, "%lld samples are too few for %s features (n_fft %d, center %s)", (long long)n,
                       ft_feature_kind_name(o->kind), o->n_fft, o->center ? "on" : "off");
    int n_fft = o->n_fft, nf = f->n_freq, pad = o->center ? n_fft / 2 : 0;
    int64_t len = n + 2 * pad;
    float *xp = scratch, *frame = xp + len, *spec_c = frame + n_fft, *spec = spec_c + 2 * nf;
    float *mel = spec + T * nf, *res = o->kind == FT_FEAT_SPEC ? mel : mel + T * o->n_mels;
    for (int64_t k = 0; k < len; k++) xp[k] = x[reflect(k - pad, n)];
    /* STFT: spec[t][k] = |rfft(frame_t * window)[k]|^power */
    for (int64_t t = 0; t < T; t++) {
        const float *src = xp + t * o->hop_length;
        for (int k = 0; k < n_fft; k++) frame[k] = src[k] * f->window[k];
        fftwf_execute_dft_r2c(f->plan, frame, (fftwf_complex *)spec_c);
        float *row = spec + t * nf;
        for (int k = 0; k < nf; k++) {
            float re = spec_c[2 * k], im = spec_c[2 * k + 1];
            float p = re * re + im * im;
            row[k] = o->power == 2.0f ? p : sqrtf(p);
        }
    }
    const float *feat = spec; /* [T][dim] */
    int dim = f->dim;
    if (o->kind != FT_FEAT_SPEC) {
        int nm = o->n_mels;
        for (int64_t t = 0; t < T; t++) {
            const float *row = spec + t * nf;
            for (int m = 0; m < nm; m++) {
                const float *w = f->fb + (size_t)m * nf;
                float s = 0;
                for (int k = f->fb_lo[m]; k < f->fb_hi[m]; k++) s += w[k] * row[k];
                mel[t * nm + m] = s;
            }
        }
        feat = mel;
        if (o->kind == FT_FEAT_LOGMEL || o->kind == FT_FEAT_MFCC) {
            int64_t N = T * nm;
            if (o->log == FT_LOG_DB) {
                float mx = -INFINITY;
                for (int64_t k = 0; k < N; k++) {
                    float v = 10.0f * log10f(mel[k] > 1e-10f ? mel[k] : 1e-10f);
                    mel[k] = v;
                    if (v > mx) mx = v;
                }
                if (o->top_db > 0) {
                    float floor_db = mx - o->top_db;
                    for (int64_t k = 0; k < N; k++) if (mel[k] < floor_db) mel[k] = floor_db;
                }
            } else if (o->log == FT_LOG_OFFSET) {
                for (int64_t k = 0; k < N; k++) mel[k] = logf(mel[k] + o->log_offset);
            }
        }
        if (o->kind == FT_FEAT_MFCC) {
            int nc = o->n_mfcc;
            for (int64_t t = 0; t < T; t++)
                for (int c = 0; c < nc; c++) {
                    const float *w = f->dct + (size_t)c * nm, *row = mel + t * nm;
                    float s = 0;
                    for (int m = 0; m < nm; m++) s += w[m] * row[m];
                    res[t * nc + c] = s;
                }
            feat = res;
        }
    }
    if ((o->kind == FT_FEAT_LOGMEL || o->kind == FT_FEAT_MFCC) && (o->scale != 1.0f || o->bias != 0.0f)) {
        float *fw = (float *)feat;
        for (int64_t k = 0; k < T * dim; k++) fw[k] = fw[k] * o->scale + o->bias;
    }
    /* Normalisation over time, per dimension (feat is [T][dim]; may be spec or mel). */
    if (o->norm != FT_NORM_NONE) {
        float *fw = (float *)feat;
        for (int d = 0; d < dim; d++) {
            double mean, sd;
            if (o->norm == FT_NORM_GLOBAL) {
                mean = o->global_mean[d];
                sd = o->global_std[d];
            } else {
                double s = 0, s2 = 0;
                for (int64_t t = 0; t < T; t++) s += fw[t * dim + d];
                mean = s / T;
                for (int64_t t = 0; t < T; t++) { double v = fw[t * dim + d] - mean; s2 += v * v; }
                sd = o->norm == FT_NORM_UTTERANCE ? sqrt(s2 / T + 1e-5) : 1.0;
            }
            for (int64_t t = 0; t < T; t++) fw[t * dim + d] = (float)((fw[t * dim + d] - mean) / sd);
        }
    }
    if (o->time_major) {
        memcpy(out, feat, (size_t)(T * dim) * sizeof *out);
    } else {
        for (int64_t t = 0; t < T; t++)
            for (int d = 0; d < dim; d++) out[(int64_t)d * T + t] = feat[t * dim + d];
    }
    return FT_OK;
}

ft_status ft_features_compute_alloc(const ft_features *f, const float *x, int64_t n, float **out, int64_t *frames) {
    *out = NULL;
    *frames = 0;
    int64_t T = ft_features_frames(f, n);
    if (T < 1) return ft_fail(FT_EINVAL, "%lld samples are too few for %s features (n_fft %d)", (long long)n,
                              ft_feature_kind_name(f->o.kind), f->o.n_fft);
    float *s = ft_malloc(ft_features_scratch(f, n) * sizeof *s);
    float *r = ft_malloc((size_t)(T * f->dim) * sizeof *r);
    if (!s || !r) { ft_free(s); ft_free(r); return ft_fail(FT_ENOMEM, "out of memory for features of %lld samples", (long long)n); }
    ft_status st = ft_features_compute(f, x, n, s, r);
    ft_free(s);
    if (st) { ft_free(r); return st; }
    *out = r;
    *frames = T;
    return FT_OK;
}
