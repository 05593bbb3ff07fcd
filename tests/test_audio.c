/* Audio: decoding (every PCM width, float, stereo mixdown, memory input), bad audio
 * (truncated, wrong header, no samples, unsupported encoding, clipped, NaN/inf, rate
 * mismatch), resampling, trimming, features against torchaudio fixtures, augmentation
 * and the audio datasets. Writes its files under a fresh temporary folder. */
#include "test.h"
#include "finetune/audio.h"
#include "finetune/io.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

static const char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", t_tmpdir, name);
    return b;
}

/* ---- a WAV builder for hand-made (and broken) files ---- */
typedef struct {
    uint8_t b[1 << 16];
    size_t n;
} wbuf;

static void put(wbuf *w, const void *p, size_t n) { memcpy(w->b + w->n, p, n); w->n += n; }
static void put16(wbuf *w, uint32_t v) { uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; put(w, x, 2); }
static void put32(wbuf *w, uint32_t v) { put16(w, v & 0xffff); put16(w, v >> 16); }

/* RIFF header + fmt chunk (tag, channels, rate, bits) + data chunk header declaring
 * `data_bytes`; the caller appends the samples. */
static void wav_header(wbuf *w, int tag, int ch, int rate, int bits, uint32_t data_bytes) {
    w->n = 0;
    put(w, "RIFF", 4);
    put32(w, 36 + data_bytes);
    put(w, "WAVEfmt ", 8);
    put32(w, 16);
    put16(w, (uint32_t)tag);
    put16(w, (uint32_t)ch);
    put32(w, (uint32_t)rate);
    put32(w, (uint32_t)(rate * ch * bits / 8));
    put16(w, (uint32_t)(ch * bits / 8));
    put16(w, (uint32_t)bits);
    put(w, "data", 4);
    put32(w, data_bytes);
}

static void put_sample(wbuf *w, int bits, double v) {
    if (bits == 8) { uint8_t u = (uint8_t)lrint(v * 128 + 128); put(w, &u, 1); return; }
    long full = bits == 16 ? 32768L : bits == 24 ? 8388608L : 2147483648L;
    int64_t q = llrint(v * (double)full);
    if (q > full - 1) q = full - 1;
    uint32_t u = (uint32_t)q;
    for (int k = 0; k < bits / 8; k++) { uint8_t c = (uint8_t)(u >> (8 * k)); put(w, &c, 1); }
}

static void write_raw(const char *path, const wbuf *w) { CHECK_OK(ft_write_file_atomic(path, w->b, w->n)); }

static void test_pcm_widths(void) {
    const int bits[] = {8, 16, 24, 32};
    for (int b = 0; b < 4; b++) {
        wbuf w;
        int n = 100;
        wav_header(&w, 1, 1, 8000, bits[b], (uint32_t)(n * bits[b] / 8));
        for (int k = 0; k < n; k++) put_sample(&w, bits[b], 0.5 * sin(k * 0.1));
        char name[32];
        snprintf(name, sizeof name, "pcm%d.wav", bits[b]);
        write_raw(tpath(name), &w);
        ft_audio a;
        CHECK_OK(ft_audio_load(tpath(name), NULL, &a));
        CHECK(a.n == n && a.sample_rate == 8000 && a.file_channels == 1);
        double tol = bits[b] == 8 ? 1.0 / 128 : 1e-4;
        double worst = 0;
        for (int k = 0; k < n && k < a.n; k++) worst = fmax(worst, fabs(a.data[k] - 0.5 * sin(k * 0.1)));
        CHECKF(worst <= tol, "%d-bit: worst error %g", bits[b], worst);
        char want[32];
        snprintf(want, sizeof want, "PCM %d-bit", bits[b]);
        CHECKF(strstr(a.format, want) != NULL, "format '%s'", a.format);
        ft_audio_free(&a);
    }
    /* float 32 via the writer, 16/24 via the writer */
    float x[64];
    for (int k = 0; k < 64; k++) x[k] = 0.25f * (float)cos(k * 0.3);
    const int wb[] = {16, 24, 32};
    for (int b = 0; b < 3; b++) {
        CHECK_OK(ft_audio_write_wav(tpath("w.wav"), x, 64, 16000, wb[b]));
        ft_audio a;
        CHECK_OK(ft_audio_load(tpath("w.wav"), NULL, &a));
        CHECK(a.n == 64 && a.sample_rate == 16000);
        CHECK(t_close(a.data, x, 64, 0, wb[b] == 16 ? 1e-4 : 1e-6, "writer round trip"));
        ft_audio_free(&a);
    }
    /* stereo is averaged */
    wbuf w;
    wav_header(&w, 1, 2, 8000, 16, 10 * 4);
    for (int k = 0; k < 10; k++) { put_sample(&w, 16, 0.5); put_sample(&w, 16, -0.25); }
    write_raw(tpath("stereo.wav"), &w);
    ft_audio a;
    CHECK_OK(ft_audio_load(tpath("stereo.wav"), NULL, &a));
    CHECK(a.n == 10 && a.file_channels == 2 && fabsf(a.data[3] - 0.125f) < 1e-4f);
    ft_audio_free(&a);
    /* memory input gives the same as the file */
    ft_audio b;
    CHECK_OK(ft_audio_decode_memory(w.b, w.n, "mem.wav", NULL, &b));
    CHECK(b.n == 10 && fabsf(b.data[0] - 0.125f) < 1e-4f);
    ft_audio_free(&b);
}

static void test_bad_audio(void) {
    ft_audio a;
    wbuf w;
    /* truncated: the data chunk declares 200 samples, the file holds 50 */
    wav_header(&w, 1, 1, 8000, 16, 400);
    for (int k = 0; k < 50; k++) put_sample(&w, 16, 0.1);
    write_raw(tpath("cut.wav"), &w);
    CHECK_ERR(ft_audio_load(tpath("cut.wav"), NULL, &a), FT_EFORMAT);
    CHECK(t_msg_has("cut.wav") && t_msg_has("truncated"));
    CHECK(a.data == NULL);
    /* cut inside the header */
    write_raw(tpath("cut_header.wav"), &(wbuf){.n = 20});
    memcpy(w.b, "RIFF", 4);
    CHECK_OK(ft_write_file_atomic(tpath("cut_header.wav"), w.b, 20));
    CHECK(ft_audio_load(tpath("cut_header.wav"), NULL, &a) != FT_OK && t_msg_has("cut_header.wav"));
    /* wrong header: not RIFF at all */
    CHECK_OK(ft_write_file_atomic(tpath("text.wav"), "hello, this is not audio at all....", 35));
    CHECK_ERR(ft_audio_load(tpath("text.wav"), NULL, &a), FT_EFORMAT);
    CHECK(t_msg_has("text.wav") && t_msg_has("not an audio file"));
    /* empty file */
    CHECK_OK(ft_write_file_atomic(tpath("empty.wav"), "", 0));
    CHECK_ERR(ft_audio_load(tpath("empty.wav"), NULL, &a), FT_EFORMAT);
    CHECK(t_msg_has("empty.wav") && t_msg_has("empty"));
    /* 0-length audio: a valid header with no samples */
    wav_header(&w, 1, 1, 8000, 16, 0);
    write_raw(tpath("zero.wav"), &w);
    CHECK_ERR(ft_audio_load(tpath("zero.wav"), NULL, &a), FT_EFORMAT);
    CHECK(t_msg_has("zero.wav") && t_msg_has("no audio samples"));
    /* unsupported encoding: a format tag libsndfile does not decode */
    wav_header(&w, 0x1234, 1, 8000, 16, 20);
    for (int k = 0; k < 10; k++) put_sample(&w, 16, 0.1);
    write_raw(tpath("codec.wav"), &w);
    CHECK_ERR(ft_audio_load(tpath("codec.wav"), NULL, &a), FT_EUNSUPPORTED);
    CHECK(t_msg_has("codec.wav") && t_msg_has("unsupported WAV encoding (format tag 0x1234"));
    /* NaN and inf in a float file */
    float x[16];
    for (int k = 0; k < 16; k++) x[k] = 0.1f;
    x[7] = NAN;
    CHECK_OK(ft_audio_write_wav(tpath("nan.wav"), x, 16, 8000, 32));
    CHECK_ERR(ft_audio_load(tpath("nan.wav"), NULL, &a), FT_EFORMAT);
    CHECK(t_msg_has("nan.wav") && t_msg_has("sample 7") && t_msg_has("NaN"));
    x[7] = INFINITY;
    CHECK_OK(ft_audio_write_wav(tpath("inf.wav"), x, 16, 8000, 32));
    CHECK_ERR(ft_audio_load(tpath("inf.wav"), NULL, &a), FT_EFORMAT);
    ft_audio_opts o = ft_audio_opts_default();
    o.on_nonfinite = FT_AUDIO_ZERO;
    CHECK_OK(ft_audio_load(tpath("inf.wav"), &o, &a));
    CHECK(a.nonfinite == 1 && a.data[7] == 0.0f && a.data[6] == 0.1f);
    ft_audio_free(&a);
    /* clipped float samples: clipped and counted, or refused */
    x[7] = 1.5f;
    x[8] = -3.0f;
    CHECK_OK(ft_audio_write_wav(tpath("clip.wav"), x, 16, 8000, 32));
    CHECK_OK(ft_audio_load(tpath("clip.wav"), NULL, &a));
    CHECK(a.clipped == 2 && a.data[7] == 1.0f && a.data[8] == -1.0f && a.full_scale == 2);
    ft_audio_free(&a);
    o = ft_audio_opts_default();
    o.on_clip = FT_AUDIO_FAIL;
    CHECK_ERR(ft_audio_load(tpath("clip.wav"), &o, &a), FT_EFORMAT);
    CHECK(t_msg_has("clip.wav") && t_msg_has("sample 7"));
    /* sample rate mismatch: refused when resampling is off, converted when on */
    o = ft_audio_opts_default();
    o.target_rate = 16000;
    o.resample = false;
    CHECK_ERR(ft_audio_load(tpath("pcm16.wav"), &o, &a), FT_EINVAL);
    CHECK(t_msg_has("pcm16.wav") && t_msg_has("8000 Hz") && t_msg_has("16000 Hz"));
    o.resample = true;
    CHECK_OK(ft_audio_load(tpath("pcm16.wav"), &o, &a));
    CHECK(a.n == 200 && a.sample_rate == 16000 && a.file_rate == 8000);
    ft_audio_free(&a);
    /* missing file */
    CHECK_ERR(ft_audio_load(tpath("nope.wav"), NULL, &a), FT_ENOTFOUND);
    CHECK(t_msg_has("nope.wav"));
    /* every prefix of a valid file fails cleanly or decodes fewer samples, never crashes */
    int n = 64;
    wav_header(&w, 1, 1, 8000, 16, (uint32_t)n * 2);
    for (int k = 0; k < n; k++) put_sample(&w, 16, 0.3 * sin(k));
    int fails = 0;
    for (size_t len = 0; len < w.n; len++) {
        if (ft_audio_decode_memory(w.b, len, "prefix.wav", NULL, &a) != FT_OK) fails++;
        ft_audio_free(&a);
    }
    CHECKF(fails == (int)w.n, "%d of %zu prefixes failed (all are truncated)", fails, w.n);
}


/* Broken header fields, integer clipping and bad files inside a dataset: each a clear error
 * naming the file (or a documented conversion), never a crash. */
static void test_bad_headers(void) {
    ft_audio a;
    wbuf w;
    struct { const char *name; int tag, ch, rate, bits; const char *msg; } cases[] = {
        {"ch0.wav", 1, 0, 8000, 16, NULL},           /* no channels */
        {"ch2000.wav", 1, 2000, 8000, 16, NULL},     /* more than 1024 channels */
        {"rate0.wav", 1, 1, 0, 16, NULL},            /* no sample rate */
        {"rate1m.wav", 1, 1, 1000000, 16, NULL},     /* above 768 kHz */
        {"bits0.wav", 1, 1, 8000, 0, NULL},          /* PCM of 0 bits */
        {"bits13.wav", 1, 1, 8000, 13, "ok"},        /* 13-bit PCM in 2-byte containers: libsndfile reads it as 16-bit */
        {"float16.wav", 3, 1, 8000, 16, NULL},       /* IEEE float of 16 bits */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        wav_header(&w, cases[c].tag, cases[c].ch, cases[c].rate, cases[c].bits, 40);
        for (int k = 0; k < 20; k++) put_sample(&w, 16, 0.1);
        write_raw(tpath(cases[c].name), &w);
        ft_status st = ft_audio_load(tpath(cases[c].name), NULL, &a);
        if (cases[c].msg) { /* a documented conversion: decoded, finite, within [-1, 1] */
            CHECKF(st == FT_OK && a.n == 20, "%s: status %d", cases[c].name, (int)st);
            for (int64_t k = 0; !st && k < a.n; k++) CHECK(isfinite(a.data[k]) && fabsf(a.data[k]) <= 1.0f);
            if (!st) ft_audio_free(&a);
            continue;
        }
        CHECKF(st == FT_EFORMAT || st == FT_EUNSUPPORTED, "%s: status %d (%s)", cases[c].name, (int)st, st ? ft_errmsg() : "loaded");
        if (st) CHECK(t_msg_has(cases[c].name));
        else ft_audio_free(&a);
    }
    /* a RIFF file that is not WAVE */
    wav_header(&w, 1, 1, 8000, 16, 40);
    memcpy(w.b + 8, "AVI ", 4);
    for (int k = 0; k < 20; k++) put_sample(&w, 16, 0.1);
    write_raw(tpath("avi.wav"), &w);
    CHECK_ERR(ft_audio_load(tpath("avi.wav"), NULL, &a), FT_EFORMAT);
    CHECK(t_msg_has("avi.wav"));
    /* integer PCM at full scale: kept as it is and counted (the recording itself clipped) */
    wav_header(&w, 1, 1, 8000, 16, 20);
    for (int k = 0; k < 10; k++) put_sample(&w, 16, k == 3 ? 1.0 : k == 4 ? -1.0 : 0.1);
    write_raw(tpath("full.wav"), &w);
    CHECK_OK(ft_audio_load(tpath("full.wav"), NULL, &a));
    CHECK(a.full_scale == 2 && a.clipped == 0 && a.data[4] == -1.0f && fabsf(a.data[3] - 32767.0f / 32768) < 1e-6f);
    ft_audio_free(&a);
    /* a manifest naming a NaN file, a 0-length file or a truncated one fails to open, naming it */
    const char *bad[] = {"nan.wav", "zero.wav", "cut.wav"}; /* written by test_bad_audio */
    const char *want[] = {"NaN", "no audio samples", "truncated"};
    for (int b = 0; b < 3; b++) {
        char csv[256], path[300], spec[400];
        snprintf(csv, sizeof csv, "%s", tpath("badm.csv"));
        snprintf(path, sizeof path, "path,label\n%s,one\n%s,two\n", tpath("pcm16.wav"), tpath(bad[b]));
        CHECK_OK(ft_write_file_atomic(csv, path, strlen(path)));
        snprintf(spec, sizeof spec, "wav-manifest:%s:rate=16000", csv);
        ft_dataset *ds = NULL;
        CHECK(ft_dataset_open(spec, &ds) != FT_OK && t_msg_has(bad[b]) && t_msg_has(want[b]));
        ft_dataset_free(ds);
    }
}

static void test_resample(void) {
    /* a 440 Hz sine at 8 kHz -> 16 kHz matches the sine sampled at 16 kHz (away from the ends) */
    int n = 8000;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * 2 * n);
    for (int k = 0; k < n; k++) x[k] = (float)sin(2 * M_PI * 440 * k / 8000.0);
    CHECK(ft_resample_length(n, 8000, 16000) == 2 * n);
    CHECK(ft_resample_length(441, 44100, 16000) == 160);
    CHECK_OK(ft_resample(x, n, 8000, 16000, FT_RESAMPLE_MEDIUM, y));
    double worst = 0;
    for (int k = 400; k < 2 * n - 400; k++) worst = fmax(worst, fabs(y[k] - sin(2 * M_PI * 440 * k / 16000.0)));
    CHECKF(worst < 2e-3, "8k->16k sine: worst error %g", worst);
    /* and back down */
    float *z = malloc(sizeof(float) * n);
    CHECK_OK(ft_resample(y, 2 * n, 16000, 8000, FT_RESAMPLE_MEDIUM, z));
    worst = 0;
    for (int k = 200; k < n - 200; k++) worst = fmax(worst, fabs(z[k] - x[k]));
    CHECKF(worst < 2e-3, "16k->8k round trip: worst error %g", worst);
    CHECK_ERR(ft_resample(x, n, 8000, 0, FT_RESAMPLE_MEDIUM, y), FT_EINVAL);
    CHECK_ERR(ft_resample(x, n, 1, 16000, FT_RESAMPLE_MEDIUM, y), FT_EINVAL);
    free(x); free(y); free(z);
}

static void test_trim(void) {
    float x[4000] = {0};
    for (int k = 1000; k < 2000; k++) x[k] = 0.5f * (float)sin(k * 0.2);
    x[10] = 1e-5f; /* far below top_db */
    int64_t s, l;
    ft_audio_trim(x, 4000, 40, 200, 50, &s, &l);
    CHECKF(s >= 800 && s <= 1000 && s + l >= 2000 && s + l <= 2200, "trim kept [%lld, %lld)", (long long)s, (long long)(s + l));
    float z[100] = {0};
    ft_audio_trim(z, 100, 40, 20, 10, &s, &l);
    CHECK(s == 0 && l == 100); /* all silent: kept */
}

/* One torchaudio case: opts o on input `in`, compared with fixture tensor `name`
 * ([dim, T]). Tolerance: rtol plus atol scaled by the largest reference value. */
static void feat_case(const ft_safetensors *fx, const char *in, const char *name, ft_feature_opts o, double rtol,
                      double atol_rel) {
    const ft_st_tensor *x = ft_st_find(fx, in), *r = ft_st_find(fx, name);
    CHECKF(x && r && r->ndim == 2, "fixture %s / %s", in, name);
    if (!x || !r || r->ndim != 2) return;
    float *xs = malloc(sizeof(float) * x->numel), *ref = malloc(sizeof(float) * r->numel);
    CHECK_OK(ft_st_to_f32(x, xs));
    CHECK_OK(ft_st_to_f32(r, ref));
    ft_features *f = NULL;
    CHECK_OK(ft_features_new(&o, &f));
    if (f) {
        int64_t T = ft_features_frames(f, x->numel);
        CHECKF(ft_features_dim(f) == r->shape[0] && T == r->shape[1], "%s: shape [%d, %lld] vs [%lld, %lld]", name,
               ft_features_dim(f), (long long)T, (long long)r->shape[0], (long long)r->shape[1]);
        if (T == r->shape[1] && ft_features_dim(f) == r->shape[0]) {
            float *out = NULL;
            int64_t frames;
            CHECK_OK(ft_features_compute_alloc(f, xs, x->numel, &out, &frames));
            double mx = 0;
            for (int64_t k = 0; k < r->numel; k++) mx = fmax(mx, fabs(ref[k]));
            CHECKF(out && t_close(out, ref, (long)r->numel, rtol, atol_rel * mx, name), "%s vs torchaudio", name);
            /* time-major is the transpose */
            ft_feature_opts o2 = o;
            o2.time_major = true;
            ft_features *g = NULL;
            CHECK_OK(ft_features_new(&o2, &g));
            float *tm = NULL;
            if (g) CHECK_OK(ft_features_compute_alloc(g, xs, x->numel, &tm, &frames));
            bool same = out && tm;
            for (int d = 0; same && d < ft_features_dim(f); d++)
                for (int64_t t = 0; t < T; t++) same &= tm[t * ft_features_dim(f) + d] == out[d * T + t];
            CHECKF(same, "%s: time-major layout is the transpose", name);
            ft_free(tm);
            ft_features_free(g);
            ft_free(out);
        }
    }
    ft_features_free(f);
    free(xs);
    free(ref);
}

static void test_features(void) {
    ft_safetensors *fx = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/audio_features.safetensors", &fx));
    if (!fx) return;
    ft_feature_opts o = ft_feature_opts_default();
    o.kind = FT_FEAT_MEL;
    feat_case(fx, "x16", "mel_default", o, 1e-3, 1e-6);
    o = ft_feature_opts_default();
    o.kind = FT_FEAT_MFCC;
    feat_case(fx, "x16", "mfcc_default", o, 1e-3, 2e-4);
    o = ft_feature_opts_default();
    o.kind = FT_FEAT_SPEC;
    o.n_fft = 512; o.win_length = 400; o.hop_length = 160; o.window = FT_WIN_HAMMING; o.power = 1;
    feat_case(fx, "x16", "spec_hamming_mag", o, 1e-3, 1e-5);
    o = ft_feature_opts_default();
    o.kind = FT_FEAT_MEL;
    o.n_fft = 512; o.win_length = 400; o.hop_length = 160; o.n_mels = 40; o.f_min = 20; o.f_max = 7600;
    o.mel_norm_slaney = true; o.mel_scale = FT_MEL_SLANEY; o.center = false;
    feat_case(fx, "x16", "mel_slaney", o, 1e-3, 1e-6);
    o = ft_feature_opts_default();
    o.kind = FT_FEAT_LOGMEL;
    o.n_mels = 64; o.top_db = 80;
    feat_case(fx, "x16", "logmel_db", o, 0, 2e-4);
    o = ft_feature_opts_default();
    o.kind = FT_FEAT_MFCC;
    o.n_mfcc = 13; o.log = FT_LOG_OFFSET; o.n_fft = 512; o.hop_length = 160; o.n_mels = 40;
    feat_case(fx, "x16", "mfcc_logmels", o, 1e-3, 2e-4);
    o = ft_feature_opts_default();
    o.kind = FT_FEAT_MEL;
    o.sample_rate = 8000; o.n_fft = 256; o.win_length = 200; o.hop_length = 80; o.n_mels = 32; o.window = FT_WIN_POVEY;
    feat_case(fx, "x8", "mel_8k_povey", o, 1e-3, 1e-6);
    o = ft_feature_opts_oww();
    o.time_major = false;
    feat_case(fx, "x16", "oww_mel", o, 0, 1e-4);
    ft_st_close(fx);

    /* normalisation: per utterance gives mean 0 / variance ~1 per dimension */
    float x[4000];
    for (int k = 0; k < 4000; k++) x[k] = (float)(0.3 * sin(k * 0.05) + 0.1 * sin(k * 0.61));
    o = ft_feature_opts_default();
    o.n_mels = 40;
    o.norm = FT_NORM_UTTERANCE;
    ft_features *f;
    CHECK_OK(ft_features_new(&o, &f));
    float *out;
    int64_t T;
    CHECK_OK(ft_features_compute_alloc(f, x, 4000, &out, &T));
    double m = 0, v = 0;
    for (int64_t t = 0; t < T; t++) m += out[5 * T + t];
    m /= T;
    for (int64_t t = 0; t < T; t++) v += (out[5 * T + t] - m) * (out[5 * T + t] - m);
    v /= T;
    CHECKF(fabs(m) < 1e-4 && fabs(v - 1) < 1e-2, "utt norm: mean %g var %g", m, v);
    ft_free(out);
    ft_features_free(f);
    /* bad options and too-short input */
    o = ft_feature_opts_default();
    o.n_mfcc = 200; o.kind = FT_FEAT_MFCC;
    CHECK_ERR(ft_features_new(&o, &f), FT_EINVAL);
    o = ft_feature_opts_default();
    o.f_max = 9000;
    CHECK_ERR(ft_features_new(&o, &f), FT_EINVAL);
    CHECK(t_msg_has("fmax"));
    o = ft_feature_opts_default();
    o.center = false;
    CHECK_OK(ft_features_new(&o, &f));
    CHECK_ERR(ft_features_compute_alloc(f, x, 100, &out, &T), FT_EINVAL);
    CHECK(t_msg_has("too few"));
    ft_features_free(f);
}

static void write_tone(const char *path, int rate, double freq, double secs, double amp, int bits) {
    int n = (int)(rate * secs);
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int k = 0; k < n; k++) x[k] = (float)(amp * sin(2 * M_PI * freq * k / rate));
    CHECK_OK(ft_audio_write_wav(path, x, n, rate, bits));
    free(x);
}

static void test_datasets(void) {
    char d[512];
    snprintf(d, sizeof d, "%s/kws", t_tmpdir);
    mkdir(d, 0755);
    mkdir(tpath("kws/no"), 0755);
    mkdir(tpath("kws/yes"), 0755);
    mkdir(tpath("kws/yes/more"), 0755);
    write_tone(tpath("kws/no/a.wav"), 8000, 300, 0.30, 0.5, 16);
    write_tone(tpath("kws/no/b.wav"), 8000, 350, 0.40, 0.5, 24);
    write_tone(tpath("kws/yes/a.wav"), 16000, 1200, 0.25, 0.5, 32);
    write_tone(tpath("kws/yes/more/c.wav"), 8000, 1500, 0.60, 0.5, 16);
    CHECK_OK(ft_write_file_atomic(tpath("kws/yes/readme.txt"), "x", 1));
    char spec[1024];
    ft_dataset *ds = NULL;
    /* raw waveform, 16 kHz, 0.5 s */
    snprintf(spec, sizeof spec, "wav:%s:rate=16000:clip=0.5:features=wave", d);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        CHECK(ds->n == 4 && ds->n_classes == 2 && ds->x_ndim == 1 && ds->x_shape[0] == 8000);
        CHECK(!strcmp(ds->class_names[0], "no") && !strcmp(ds->class_names[1], "yes"));
        ft_audio_counts c;
        CHECK_OK(ft_audio_dataset_counts(ds, &c));
        CHECK(c.resampled == 3 && c.cropped == 1 && c.padded == 3 && c.clip_samples == 8000);
        CHECKF(strstr(ft_dataset_note(ds), "4 clips in 2 classes") && strstr(ft_dataset_note(ds), "(3 resampled)"),
               "note: %s", ft_dataset_note(ds));
        const char *p;
        int64_t len;
        CHECK_OK(ft_audio_dataset_item(ds, 3, &p, &len));
        CHECK(strstr(p, "more/c.wav") && len == 9600);
        float *x = malloc(sizeof(float) * 8000);
        int32_t y = -1;
        CHECK_OK(ds->get(ds, 0, NULL, x, &y));
        /* centred: 4800 samples of tone in the middle, zeros at both ends */
        CHECK(y == 0 && x[0] == 0.0f && x[7999] == 0.0f && fabsf(x[4010]) > 0.1f && x[1590] == 0.0f && x[1610] != 0.0f);
        ft_dataset_free(ds);
        free(x);
    }
    /* log-mel features with augmentation: reproducible per (seed, epoch, i), differs across epochs */
    snprintf(spec, sizeof spec, "wav:%s:rate=16000:clip=0.5:features=logmel:n_mels=40:gain=6:shift=50:speed=0.1:"
             "noise=1:snr=10,20:freq_masks=2:freq_width=5:time_masks=2:time_width=5:norm=utt", d);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        CHECK(ds->x_ndim == 2 && ds->x_shape[0] == 40 && ds->x_shape[1] == 41 && ds->augments);
        int64_t N = ds->x_numel;
        float *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N), *c = malloc(sizeof(float) * N);
        int32_t y;
        ft_sample_ctx e0 = {7, 0, true}, e1 = {7, 1, true};
        CHECK_OK(ds->get(ds, 1, &e0, a, &y));   /* warm the slot */
        uint64_t before = ft_alloc_count();
        CHECK_OK(ds->get(ds, 1, &e0, a, &y));
        CHECK_OK(ds->get(ds, 1, &e0, b, &y));
        CHECK(ft_alloc_count() == before);
        CHECK(memcmp(a, b, sizeof(float) * N) == 0);
        CHECK_OK(ds->get(ds, 1, &e1, c, &y));
        CHECK(memcmp(a, c, sizeof(float) * N) != 0);
        CHECK_OK(ds->get(ds, 1, NULL, b, &y));
        CHECK(memcmp(a, b, sizeof(float) * N) != 0);
        bool finite = true;
        for (int64_t k = 0; k < N; k++) finite &= isfinite(a[k]) && isfinite(b[k]);
        CHECK(finite);
        /* a subset augments index i like the base set */
        ft_dataset *sub;
        int64_t idx[1] = {1};
        CHECK_OK(ft_dataset_subset(ds, idx, 1, &sub));
        CHECK_OK(sub->get(sub, 0, &e0, c, &y));
        CHECK(sub->augments);
        ft_dataset_free(sub);
        free(a); free(b); free(c);
        ft_dataset_free(ds);
    }
    /* manifest with relative paths and names as labels; MFCC time-major */
    const char *man = "path,label\nkws/no/a.wav,down\n\"kws/yes/a.wav\",up\nkws/no/b.wav,down\n";
    CHECK_OK(ft_write_file_atomic(tpath("m.csv"), man, strlen(man)));
    snprintf(spec, sizeof spec, "wav-manifest:%s:features=mfcc:n_mfcc=13:n_mels=40:layout=tf:clip=1", tpath("m.csv"));
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        CHECK(ds->n == 3 && ds->n_classes == 2 && !strcmp(ds->class_names[1], "up"));
        CHECK(ds->x_shape[0] == 81 && ds->x_shape[1] == 13);
        float *x = malloc(sizeof(float) * ds->x_numel);
        int32_t y;
        CHECK_OK(ds->get(ds, 1, NULL, x, &y));
        CHECK(y == 1);
        /* the same file through ft_audio_dataset_example (predict) */
        float *x2 = malloc(sizeof(float) * ds->x_numel);
        CHECK_OK(ft_audio_dataset_example(ds, tpath("kws/yes/a.wav"), x2));
        CHECK(memcmp(x, x2, sizeof(float) * ds->x_numel) == 0);
        CHECK_ERR(ft_audio_dataset_example(ds, tpath("kws/yes/readme.txt"), x2), FT_EFORMAT);
        CHECK(t_msg_has("readme.txt"));
        free(x2);
        free(x);
        ft_dataset_free(ds);
    }
    /* a bad file fails the open and names it */
    mkdir(tpath("bad"), 0755);
    mkdir(tpath("bad/x"), 0755);
    write_tone(tpath("bad/x/ok.wav"), 8000, 300, 0.3, 0.5, 16);
    CHECK_OK(ft_write_file_atomic(tpath("bad/x/broken.wav"), "RIFF....WAVEjunk", 16));
    for (int k = 0; k < 20; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "bad/x/ok%02d.wav", k);
        write_tone(tpath(nm), 8000, 300 + k, 0.3, 0.5, 16);
    }
    CHECK_OK(ft_write_file_atomic(tpath("bad/x/zbroken.wav"), "", 0));
    snprintf(spec, sizeof spec, "wav:%s", tpath("bad"));
    /* files are decoded in parallel; the first bad one in order is reported */
    CHECK(ft_dataset_open(spec, &ds) != FT_OK && t_msg_has("broken.wav") && !strstr(ft_errmsg(), "zbroken"));
    snprintf(spec, sizeof spec, "wav:%s:rate=8000:resample=0", d);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    CHECK(t_msg_has("yes/a.wav") && t_msg_has("resampling is off"));
    /* spec errors */
    snprintf(spec, sizeof spec, "wav:%s:n_mels=abc", d);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    CHECK(t_msg_has("n_mels=abc"));
    snprintf(spec, sizeof spec, "wav:%s:bogus=1", d);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    CHECK(t_msg_has("unknown option 'bogus'"));
    CHECK_ERR(ft_dataset_open("wav:/nonexistent/dir", &ds), FT_ENOTFOUND);
    /* white noise lands at the chosen SNR (signal power over the clip's own samples) */
    snprintf(spec, sizeof spec, "wav:%s:rate=16000:clip=0.5:features=wave:noise=1:snr=10", d);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        float *a = malloc(sizeof(float) * 8000), *b = malloc(sizeof(float) * 8000);
        int32_t y;
        int64_t len;
        CHECK_OK(ft_audio_dataset_item(ds, 0, NULL, &len)); /* 4800 samples, centred */
        ft_sample_ctx e0 = {3, 2, true};
        CHECK_OK(ds->get(ds, 0, NULL, a, &y));
        CHECK_OK(ds->get(ds, 0, &e0, b, &y));
        double ps = 0, pn = 0;
        for (int k = 0; k < 8000; k++) { ps += (double)a[k] * a[k]; pn += (double)(b[k] - a[k]) * (b[k] - a[k]); }
        ps /= (double)len;
        pn /= 8000;
        double snr = 10 * log10(ps / pn);
        CHECKF(fabs(snr - 10) < 0.01, "white noise at snr=10 measured %.4f dB", snr);
        free(a); free(b);
        ft_dataset_free(ds);
    }
    /* speed perturbation changes the duration by 1/factor, factor in [0.8, 1.2] */
    snprintf(spec, sizeof spec, "wav:%s:rate=16000:clip=1:features=wave:pad=start:speed=0.2", d);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        float *a = malloc(sizeof(float) * 16000);
        int32_t y;
        int64_t len;
        CHECK_OK(ft_audio_dataset_item(ds, 1, NULL, &len)); /* 0.4 s: 6400 samples */
        int64_t lo = 16000, hi = 0;
        bool differs = false;
        for (int e = 0; e < 8; e++) {
            ft_sample_ctx ctx = {5, e, true};
            CHECK_OK(ds->get(ds, 1, &ctx, a, &y));
            int64_t last = 0;
            for (int64_t k = 0; k < 16000; k++) if (fabsf(a[k]) > 1e-3f) last = k + 1;
            if (last < lo) lo = last;
            if (last > hi) hi = last;
            differs |= last != len;
        }
        CHECKF(lo >= (int64_t)(len / 1.2) - 20 && hi <= (int64_t)(len / 0.8) + 20 && differs && hi > lo,
               "speed-perturbed lengths in [%lld, %lld] for %lld samples", (long long)lo, (long long)hi, (long long)len);
        free(a);
        ft_dataset_free(ds);
    }
    /* noise clips from a folder */
    mkdir(tpath("noise"), 0755);
    write_tone(tpath("noise/hum.wav"), 8000, 50, 1.0, 0.2, 16);
    snprintf(spec, sizeof spec, "wav:%s:rate=16000:clip=0.5:features=wave:noise=1:noise_dir=%s", d, tpath("noise"));
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        float *a = malloc(sizeof(float) * 8000), *b = malloc(sizeof(float) * 8000);
        int32_t y;
        ft_sample_ctx e0 = {1, 0, true};
        CHECK_OK(ds->get(ds, 0, NULL, a, &y));
        CHECK_OK(ds->get(ds, 0, &e0, b, &y));
        CHECK(a[0] == 0.0f && b[0] != 0.0f); /* noise lands on the padding too */
        free(a); free(b);
        ft_dataset_free(ds);
    }
}

static void test_fsdd(void) {
    const char *rel = t_shared("FSDD audio");
    if (!rel) return;
    char sh[PATH_MAX];
    if (!realpath(rel, sh)) { CHECK(!"realpath of the shared folder"); return; } /* the manifest lives in t_tmpdir */
    static char man[10 * (PATH_MAX + 64) + 16];
    size_t ml = (size_t)snprintf(man, sizeof man, "path,label\n");
    for (int d = 0; d < 10; d++)
        ml += (size_t)snprintf(man + ml, sizeof man - ml, "%s/data/fsdd/recordings/%d_jackson_0.wav,%d\n", sh, d, d);
    CHECK_OK(ft_write_file_atomic(tpath("fsdd.csv"), man, strlen(man)));
    char spec[1024];
    snprintf(spec, sizeof spec, "wav-manifest:%s:rate=16000:clip=1:features=logmel:n_mels=32", tpath("fsdd.csv"));
    ft_dataset *ds;
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (!ds) return;
    ft_audio_counts c;
    CHECK_OK(ft_audio_dataset_counts(ds, &c));
    CHECK(ds->n == 10 && ds->n_classes == 10 && c.resampled == 10 && c.sample_rate == 16000);
    ft_dataset_free(ds);
    ft_audio a;
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/models/tflite-micro/yes_1000ms.wav", sh);
    CHECK_OK(ft_audio_load(p, NULL, &a));
    CHECK(a.n == 16000 && a.sample_rate == 16000);
    ft_audio_free(&a);
}

int main(void) {
    if (!t_tmpdir_make("audio")) return 1;
    test_pcm_widths();
    test_bad_audio();
    test_bad_headers();
    test_resample();
    test_trim();
    test_features();
    test_datasets();
    test_fsdd();
    t_tmpdir_remove();
    TEST_END();
}
