/* finetune audio: decoding (libsndfile), resampling (libsamplerate), features on FFTW
 * (STFT, mel filterbanks, log-mel, MFCC, normalisation), energy-based silence trimming,
 * training-time augmentation, and audio datasets (folder per class, manifest CSV).
 * docs/speech.md, sections "Audio input", "Features" and "Augmentation".
 *
 * Waveforms are mono float32 samples, nominally in [-1, 1]. Every call that fails leaves
 * a message naming the file (or the `name` given for memory input). */
#ifndef FINETUNE_AUDIO_H
#define FINETUNE_AUDIO_H

#include "core.h"
#include "params.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- decoding ----------------
 * Anything libsndfile reads: WAV (PCM 8/16/24/32-bit, float, double, u-law, A-law, IMA/MS
 * ADPCM, GSM), WAVE_FORMAT_EXTENSIBLE, RF64/W64, AIFF, AU, CAF, FLAC, Ogg/Vorbis/Opus.
 * Integer PCM is scaled to [-1, 1) (x / 2^(bits-1)); several channels are averaged into
 * one. Bad input is an error naming the file, never a crash:
 *   - not an audio file / a header libsndfile rejects / an encoding it cannot decode:
 *     FT_EFORMAT or FT_EUNSUPPORTED with libsndfile's reason;
 *   - a WAV whose data chunk is cut short (file truncated): FT_EFORMAT "truncated";
 *   - no samples: FT_EFORMAT;
 *   - NaN or infinite samples (float files): FT_EFORMAT with the sample index, unless
 *     on_nonfinite = FT_AUDIO_ZERO (they become 0 and are counted);
 *   - float samples beyond [-1, 1]: clipped to [-1, 1] and counted (on_clip =
 *     FT_AUDIO_CLIP, default) or FT_EFORMAT (FT_AUDIO_FAIL);
 *   - a sample rate other than target_rate: resampled (resample = true, default) or
 *     FT_EINVAL naming both rates.
 * libsndfile and libsamplerate allocate their own working memory with malloc (not
 * ft_malloc) and free it before returning. */
#define FT_AUDIO_MAX_SAMPLES ((int64_t)1 << 28) /* per file, after mixing down (4.6 h at 16 kHz) */
#define FT_AUDIO_MAX_RATE 768000

typedef enum { FT_AUDIO_FAIL = 0, FT_AUDIO_CLIP, FT_AUDIO_ZERO } ft_audio_policy;

/* libsamplerate converters (the values of SRC_SINC_BEST_QUALITY .. SRC_LINEAR). */
typedef enum {
    FT_RESAMPLE_BEST = 0,   /* SRC_SINC_BEST_QUALITY */
    FT_RESAMPLE_MEDIUM = 1, /* SRC_SINC_MEDIUM_QUALITY (default) */
    FT_RESAMPLE_FAST = 2,   /* SRC_SINC_FASTEST */
    FT_RESAMPLE_ZOH = 3,    /* zero-order hold (no filtering) */
    FT_RESAMPLE_LINEAR = 4, /* linear interpolation (no filtering) */
} ft_resample_quality;

typedef struct {
    int target_rate;                /* Hz; 0 = keep the file's rate */
    bool resample;                  /* true (default): convert to target_rate; false: fail */
    ft_resample_quality quality;    /* default FT_RESAMPLE_MEDIUM */
    ft_audio_policy on_clip;        /* float samples beyond [-1,1]: FT_AUDIO_CLIP (default) or FAIL */
    ft_audio_policy on_nonfinite;   /* NaN/inf samples: FT_AUDIO_FAIL (default) or FT_AUDIO_ZERO */
} ft_audio_opts;

ft_audio_opts ft_audio_opts_default(void);

typedef struct {
    float *data;            /* n mono samples; ft_malloc'd, release with ft_audio_free */
    int64_t n;
    int sample_rate;        /* after resampling */
    /* What the file held. */
    int file_rate, file_channels;
    int64_t file_frames;
    char format[48];        /* "WAV PCM 16-bit", "WAV float 32-bit", "FLAC PCM 24-bit", ... */
    int64_t clipped;        /* float samples beyond [-1, 1] that were clipped */
    int64_t full_scale;     /* samples at +-1 after conversion (a hint of clipping in the recording) */
    int64_t nonfinite;      /* NaN/inf samples set to 0 (on_nonfinite = FT_AUDIO_ZERO) */
} ft_audio;

/* Header only: rate, channels, frames and format (in out->file_*, out->format; no data). */
ft_status ft_audio_probe(const char *path, ft_audio *out);
ft_status ft_audio_load(const char *path, const ft_audio_opts *opts, ft_audio *out);
/* From memory (sf_open_virtual); `name` labels messages (may be NULL). */
ft_status ft_audio_decode_memory(const void *data, size_t len, const char *name, const ft_audio_opts *opts,
                                 ft_audio *out);
void ft_audio_free(ft_audio *a);  /* frees a->data and zeroes *a */

/* Write mono float samples as a WAV file, atomically (src/io): bits 16 or 24 (PCM) or 32
 * (IEEE float). PCM samples are clipped to [-1, 1]. For tests, examples and tools. */
ft_status ft_audio_write_wav(const char *path, const float *x, int64_t n, int sample_rate, int bits);

/* ---------------- resampling (libsamplerate) ----------------
 * Output length: round(n * rate_out / rate_in) samples (the converter's output, padded
 * with its last value or cut to exactly that). Same rates: a copy. */
int64_t ft_resample_length(int64_t n, int rate_in, int rate_out);
/* out has ft_resample_length(n, rate_in, rate_out) floats. Ratio via doubles: any pair of
 * rates in [1, FT_AUDIO_MAX_RATE] with ratio in [1/256, 256]. */
ft_status ft_resample(const float *in, int64_t n, int rate_in, int rate_out, ft_resample_quality q, float *out);
/* The same with a ratio out/in (speed perturbation uses 1/speed); out has
 * round(n * ratio) floats. */
ft_status ft_resample_ratio(const float *in, int64_t n, double ratio, ft_resample_quality q, float *out,
                            int64_t n_out);

/* ---------------- silence trimming ----------------
 * Energy-based, as librosa.effects.trim: frames of `frame` samples every `hop` samples,
 * RMS in dB relative to the loudest frame; leading and trailing frames quieter than
 * -top_db are dropped. *start, *len give the kept span (the whole clip when every frame
 * is equally silent, e.g. all zeros). */
void ft_audio_trim(const float *x, int64_t n, float top_db, int frame, int hop, int64_t *start, int64_t *len);

/* ---------------- features (FFTW, fftw3f) ---------------- */
typedef enum { FT_FEAT_WAVE = 0, FT_FEAT_SPEC, FT_FEAT_LOGMEL, FT_FEAT_MFCC, FT_FEAT_MEL } ft_feature_kind;
typedef enum { FT_WIN_HANN = 0, FT_WIN_HAMMING, FT_WIN_POVEY, FT_WIN_RECT } ft_window_kind;
typedef enum { FT_MEL_HTK = 0, FT_MEL_SLANEY } ft_mel_scale;
typedef enum { FT_LOG_DB = 0, FT_LOG_OFFSET, FT_LOG_NONE } ft_log_kind;
typedef enum { FT_NORM_NONE = 0, FT_NORM_UTTERANCE, FT_NORM_UTTERANCE_MEAN, FT_NORM_GLOBAL } ft_feat_norm;

/* Defaults (ft_feature_opts_default) are torchaudio 0.13's MelSpectrogram / MFCC defaults:
 * 16 kHz, n_fft 400, win_length = n_fft, hop = win_length / 2, periodic Hann window,
 * center with reflect padding, power 2, 128 mels, HTK scale, no filter norm, fmin 0,
 * fmax = rate / 2; log-mel = 10 log10(max(mel, 1e-10)) (AmplitudeToDB("power")) with
 * top_db 80 for MFCC (and off for log-mel unless set); MFCC: 40 coefficients, DCT-II
 * ortho on the dB mels. Output layout [dim, frames] (torchaudio's), or [frames, dim]
 * with time_major. */
typedef struct {
    ft_feature_kind kind;   /* default FT_FEAT_LOGMEL */
    int sample_rate;        /* 16000 */
    int n_fft;              /* 400 */
    int win_length;         /* 0 = n_fft (<= n_fft; a shorter window is centred, zero-padded) */
    int hop_length;         /* 0 = win_length / 2 */
    ft_window_kind window;  /* FT_WIN_HANN (periodic, torch.hann_window) */
    bool center;            /* true: pad n_fft/2 on both sides, reflect */
    float power;            /* 2 (power) or 1 (magnitude) */
    int n_mels;             /* 128 */
    float f_min, f_max;     /* 0 and 0 (= rate / 2) */
    ft_mel_scale mel_scale; /* FT_MEL_HTK */
    bool mel_norm_slaney;   /* false: norm=None; true: norm="slaney" (area normalisation) */
    ft_log_kind log;        /* log-mel and MFCC: FT_LOG_DB (default) or log(x + log_offset) */
    float log_offset;       /* 1e-6 (torchaudio MFCC log_mels=True) */
    float top_db;           /* FT_LOG_DB: floor at max - top_db over the utterance; <= 0 off.
                             * Default 80 (applied to MFCC; log-mel too when set) */
    int n_mfcc;             /* 40 */
    ft_feat_norm norm;      /* FT_NORM_NONE */
    const float *global_mean, *global_std; /* FT_NORM_GLOBAL: dim values each (copied) */
    bool time_major;        /* false: [dim, frames]; true: [frames, dim] */
    float scale, bias;      /* x * scale + bias after the log / DCT, before normalisation
                             * (defaults 1 and 0; openWakeWord's x / 10 + 2) */
} ft_feature_opts;

ft_feature_opts ft_feature_opts_default(void);
/* openWakeWord's front end (melspectrogram.onnx, a torchlibrosa LogmelFilterBank, plus the
 * x / 10 + 2 its Python code applies): 16 kHz, n_fft 512, win 400, hop 160, no centring,
 * periodic Hann, power 2, 32 Slaney-scale mels with Slaney norm over 60..3800 Hz,
 * 10 log10(max(mel, 1e-10)) floored at max - 80, then x / 10 + 2; time-major [frames, 32]
 * as its embedding model reads it. Checked against the ONNX graph's output. */
ft_feature_opts ft_feature_opts_oww(void);
const char *ft_feature_kind_name(ft_feature_kind k); /* "wave", "spec", "mel", "logmel", "mfcc" */

/* A feature extractor: FFTW plan (FFTW_ESTIMATE | FFTW_UNALIGNED, made once under a
 * global lock since FFTW's planner is not thread-safe), window, mel filterbank and DCT
 * matrix. Immutable after creation: ft_features_compute may run on many threads at once
 * on one extractor (each with its own scratch; FFTW's new-array execute is thread-safe). */
typedef struct ft_features ft_features;
ft_status ft_features_new(const ft_feature_opts *o, ft_features **out);
void ft_features_free(ft_features *f);
const ft_feature_opts *ft_features_opts(const ft_features *f);
int ft_features_dim(const ft_features *f);               /* n_fft/2+1, n_mels or n_mfcc; 1 for wave */
int64_t ft_features_frames(const ft_features *f, int64_t n_samples); /* n for wave */
/* Floats of scratch ft_features_compute needs for n samples. */
size_t ft_features_scratch(const ft_features *f, int64_t n_samples);
/* out: dim * frames floats in the opts' layout (wave: a copy). Errors only for n too
 * short (center=false: n < n_fft; center=true: n < 2). Allocates nothing. */
ft_status ft_features_compute(const ft_features *f, const float *x, int64_t n, float *scratch, float *out);
/* Convenience for one utterance: allocates out (ft_malloc, dim * frames floats). */
ft_status ft_features_compute_alloc(const ft_features *f, const float *x, int64_t n, float **out, int64_t *frames);

/* ---------------- augmentation ----------------
 * Training only (get() with ctx->augment), seeded: example i of epoch e draws from
 * ft_pcg32_seed(r, splitmix64(seed ^ splitmix64(e + 1)), i) as the image transforms do,
 * in a fixed order (docs/speech.md), so runs are reproducible for any worker count. */
typedef struct {
    float gain_db;          /* gain uniform in [-gain_db, +gain_db] dB; 0 = off */
    float speed;            /* speed factor uniform in [1 - speed, 1 + speed] (resampling; pitch
                             * changes too, as Kaldi/torchaudio speed perturbation); 0 = off */
    float shift_ms;         /* time shift uniform in [-shift_ms, +shift_ms] ms, zero fill; 0 = off */
    float noise_prob;       /* probability of adding noise; 0 = off */
    float snr_min, snr_max; /* SNR in dB, uniform (default 5, 20) */
    char noise_dir[1024];   /* noise clips (all audio files below it, resampled to the dataset's
                             * rate at open); "" = white Gaussian noise */
    int freq_masks, freq_mask_width; /* SpecAugment: masks of width uniform in [0, W] bins */
    int time_masks, time_mask_width; /* (set to 0 after normalisation, i.e. the mean) */
} ft_audio_augment;

/* ---------------- datasets ---------------- */
typedef enum { FT_PAD_CENTER = 0, FT_PAD_START, FT_PAD_END } ft_pad_mode;

typedef struct {
    ft_audio_opts audio;        /* decoding; target_rate 0 = features.sample_rate */
    ft_feature_opts features;   /* kind FT_FEAT_WAVE: examples are raw samples [clip] */
    double clip_seconds;        /* every example is this long (padded with zeros / cropped);
                                 * 0 = the longest clip in the data set (after trimming) */
    ft_pad_mode pad;            /* where a short clip sits: centred (default), at the start
                                 * (zeros after) or at the end (zeros before). A long clip
                                 * is cropped around the same anchor. */
    float trim_db;              /* > 0: trim leading/trailing silence (ft_audio_trim, 25 ms
                                 * frames, 10 ms hop) before padding; 0 = off */
    ft_audio_augment augment;
    bool cache;                 /* keep the decoded, resampled, trimmed clips in memory
                                 * (default true: decode once at open) */
} ft_audio_dataset_opts;

ft_audio_dataset_opts ft_audio_dataset_opts_default(void);

/* Folder per class: class c is the c-th subfolder of root (byte order), its examples the
 * audio files below it (recursively, sorted; extensions .wav .wave .flac .ogg .oga .opus
 * .aif .aiff .aifc .au .snd .caf .w64 .rf64, any case). Every file is decoded at open, so
 * a bad one fails the open with its name. Examples are F32 [clip] (wave) or [dim, frames]
 * / [frames, dim] (features); labels are class indices. */
ft_status ft_dataset_audio_folder(const char *root, const ft_audio_dataset_opts *o, ft_dataset **out);
/* Manifest CSV path,label (a header row naming "path"/"file" is optional); paths are
 * relative to the manifest's folder. Labels: all integers >= 0, or names (sorted). */
ft_status ft_dataset_audio_manifest(const char *path, const ft_audio_dataset_opts *o, ft_dataset **out);

/* Audio datasets only (FT_EINVAL for others, subsets included). */
typedef struct {
    int64_t files;          /* examples */
    int sample_rate;        /* of the examples */
    int64_t clip_samples;   /* every example's length in samples (before features) */
    int64_t resampled;      /* files that were at another rate */
    int64_t cropped, padded;/* clips longer / shorter than clip_samples */
    int64_t clipped;        /* files with float samples beyond [-1, 1] (clipped) */
    int64_t trimmed_samples;/* removed by silence trimming, over all files */
    double seconds;         /* total audio, after trimming */
} ft_audio_counts;
ft_status ft_audio_dataset_counts(const ft_dataset *ds, ft_audio_counts *out);
/* Path of example i and the length in samples of its clip before padding/cropping. */
ft_status ft_audio_dataset_item(const ft_dataset *ds, int64_t i, const char **path, int64_t *samples);
/* The eval example of any audio file under ds's settings (decoding, resampling, trimming,
 * clip length and pad anchor, features; no augmentation): what get() gives for a file of
 * the data set. For predict. x has ds->x_numel floats. Allocates (ft_malloc) for the call. */
ft_status ft_audio_dataset_example(const ft_dataset *ds, const char *path, float *x);
/* The dataset's feature extractor (shared, immutable), NULL for other datasets. */
const ft_features *ft_audio_dataset_features(const ft_dataset *ds);
/* Per-dimension mean and std of the (unnormalised) eval features over the whole dataset
 * (mean/std have ft_features_dim floats), for FT_NORM_GLOBAL. */
ft_status ft_audio_dataset_stats(ft_dataset *ds, float *mean, float *std);

/* Spec strings (ft_dataset_open_with dispatches these):
 *   "wav:<dir>[:key=value...]"            folder per class
 *   "wav-manifest:<file.csv>[:key=value...]"
 * keys: preset (oww: ft_feature_opts_oww, first), rate, clip (seconds), pad (center|start|end),
 * trim (dB), features (wave|spec|mel|logmel|mfcc), n_fft, win, hop, window (hann|hamming|povey|rect), center (0|1), power,
 * n_mels, fmin, fmax, mel_scale (htk|slaney), mel_norm (none|slaney), log (db|offset|none),
 * log_offset, top_db, scale, bias, n_mfcc, norm (none|utt|utt-mean), layout (ft|tf), gain, speed, shift,
 * noise (probability), snr (lo,hi or one value), noise_dir, freq_masks, freq_width,
 * time_masks, time_width, resample (0|1), quality (best|medium|fast|linear|zoh).
 * `base` (may be NULL) gives defaults the spec overrides (e.g. a model's rate). */
ft_status ft_audio_spec_parse(const char *spec, const ft_audio_dataset_opts *base, char *path, size_t path_cap,
                              bool *manifest, ft_audio_dataset_opts *o);
ft_status ft_dataset_open_audio(const char *spec, const ft_audio_dataset_opts *base, ft_dataset **out);
/* True when spec starts with "wav:" or "wav-manifest:". */
bool ft_audio_spec(const char *spec);

#ifdef __cplusplus
}
#endif
#endif
