/* libFuzzer target: audio decoding from memory (libsndfile through sf_open_virtual, our
 * RIFF truncation check, mixdown, clipping), resampling to 16 kHz and log-mel features.
 * Any input must give a status, never a crash, an out-of-bounds read or a leak; decoded
 * samples must be finite and within [-1, 1]; features of them must be finite. */
#include "finetune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ft_features *feat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!feat) {
        ft_feature_opts o = ft_feature_opts_default();
        o.n_mels = 32;
        if (ft_features_new(&o, &feat) != FT_OK) abort();
    }
    /* An exact-size copy, so ASan sees any read past the end of the input. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    ft_audio_opts o = ft_audio_opts_default();
    o.on_nonfinite = (size & 1) ? FT_AUDIO_ZERO : FT_AUDIO_FAIL;
    ft_audio a;
    ft_status st = ft_audio_decode_memory(buf, size, "fuzz.wav", &o, &a);
    if (st == FT_OK) {
        if (!a.data || a.n < 1 || a.sample_rate < 1 || a.sample_rate != a.file_rate) abort();
        for (int64_t k = 0; k < a.n; k++)
            if (!isfinite(a.data[k]) || a.data[k] > 1.0f || a.data[k] < -1.0f) abort();
        /* Again through the resampler to 16 kHz, unless that makes more than 2^20 samples
         * (a 64 KiB input may hold 512K samples at any rate: resampled that only tests time). */
        int64_t m = ft_resample_length(a.n, a.sample_rate, 16000);
        int64_t n0 = a.n;
        ft_audio_free(&a);
        if (m <= (1 << 20)) {
            o.target_rate = 16000;
            st = ft_audio_decode_memory(buf, size, "fuzz.wav", &o, &a);
            if (st == FT_OK) {
                if (a.sample_rate != 16000 || a.n != m || n0 < 1) abort();
                for (int64_t k = 0; k < a.n; k++)
                    if (!isfinite(a.data[k]) || a.data[k] > 2.0f || a.data[k] < -2.0f) abort(); /* sinc overshoot */
                int64_t n = a.n < 16000 ? a.n : 16000; /* features of the first second */
                if (n >= 2) {
                    float *out;
                    int64_t T;
                    if (ft_features_compute_alloc(feat, a.data, n, &out, &T) != FT_OK) abort();
                    for (int64_t k = 0; k < T * 32; k++)
                        if (!isfinite(out[k])) abort();
                    ft_free(out);
                }
                ft_audio_free(&a);
            } else if (st != FT_EINVAL) {
                abort(); /* only the resampling ratio may fail the second time */
            }
        }
    } else if (a.data || a.n) {
        abort(); /* a failed decode must not hand out samples */
    }
    free(buf);
    return 0;
}
