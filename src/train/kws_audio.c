/* A keyword model's audio front end outside a dataset: a recording becomes the model's
 * input exactly as the wav: dataset it was trained on makes an example (decode, resample to
 * the dataset's rate, trim, place into the clip around the pad anchor, features), so
 * predict can score single files and windows of a long recording. */
#include "finetune/kws.h"
#include "finetune/audio.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct ft_kws_audio {
    ft_audio_dataset_opts o;
    ft_features *f;
    int rate;
    int64_t clip, in_numel;
    float *clipbuf, *scratch;
};

void ft_kws_audio_free(ft_kws_audio *a) {
    if (!a) return;
    ft_features_free(a->f);
    ft_free(a->clipbuf);
    ft_free(a->scratch);
    ft_free(a);
}

ft_status ft_kws_audio_new(const ft_model *m, const char *opts, ft_kws_audio **out) {
    *out = NULL;
    char *own = opts ? NULL : ft_model_audio_spec(m);
    const char *tail = opts ? opts : own;
    if (!tail)
        return ft_fail(FT_EINVAL, "the model records no audio front end (preprocess.audio, written by train on wav: "
                       "data); give its options, e.g. --audio preset=oww:clip=0.782");
    char spec[2048], path[16];
    bool manifest;
    ft_status s = FT_OK;
    ft_kws_audio *a = ft_calloc(1, sizeof *a);
    if (!a) { ft_free(own); return ft_fail(FT_ENOMEM, "out of memory"); }
    if ((size_t)snprintf(spec, sizeof spec, "wav:-%s%s", *tail && *tail != ':' ? ":" : "", tail) >= sizeof spec) {
        s = ft_fail(FT_EINVAL, "audio options too long: %s", tail);
        goto fail;
    }
    if ((s = ft_audio_spec_parse(spec, NULL, path, sizeof path, &manifest, &a->o))) goto fail;
    a->rate = a->o.audio.target_rate > 0 ? a->o.audio.target_rate : a->o.features.sample_rate;
    a->o.features.sample_rate = a->rate;
    a->o.audio.target_rate = a->rate;
    if (!(a->o.clip_seconds > 0)) {
        s = ft_fail(FT_EINVAL, "audio options '%s' give no clip length (clip=SECONDS)", tail);
        goto fail;
    }
    a->clip = (int64_t)floor(a->o.clip_seconds * a->rate + 0.5);
    a->in_numel = 1;
    for (int d = 0; d < m->in_ndim; d++) a->in_numel *= m->in_shape[d];
    if ((s = ft_features_new(&a->o.features, &a->f))) goto fail;
    int64_t need = (int64_t)ft_features_dim(a->f) * ft_features_frames(a->f, a->clip);
    if (need != a->in_numel) {
        s = ft_fail(FT_ESHAPE, "audio options '%s' make %lld values per clip (%d x %lld), the model takes %lld", tail,
                    (long long)need, ft_features_dim(a->f), (long long)ft_features_frames(a->f, a->clip),
                    (long long)a->in_numel);
        goto fail;
    }
    a->clipbuf = ft_malloc((size_t)a->clip * sizeof(float));
    a->scratch = ft_malloc((ft_features_scratch(a->f, a->clip) + 1) * sizeof(float));
    if (!a->clipbuf || !a->scratch) { s = ft_fail(FT_ENOMEM, "out of memory"); goto fail; }
    ft_free(own);
    *out = a;
    return FT_OK;
fail:
    ft_free(own);
    ft_kws_audio_free(a);
    return s;
}

int ft_kws_audio_rate(const ft_kws_audio *a) { return a->rate; }
int64_t ft_kws_audio_clip(const ft_kws_audio *a) { return a->clip; }

ft_status ft_kws_audio_load(const ft_kws_audio *a, const char *path, ft_audio *out) {
    ft_audio_opts ao = a->o.audio;
    ao.target_rate = a->rate;
    return ft_audio_load(path, &ao, out);
}

/* x[0..n) placed into the clip around the pad anchor (the dataset's rule), then features. */
ft_status ft_kws_audio_input(ft_kws_audio *a, const float *x, int64_t n, bool trim, float *input) {
    int64_t s0 = 0, len = n;
    if (trim && a->o.trim_db > 0)
        ft_audio_trim(x, n, a->o.trim_db, a->rate / 40 > 0 ? a->rate / 40 : 1, a->rate / 100 > 0 ? a->rate / 100 : 1, &s0, &len);
    x += s0;
    n = len;
    int64_t clip = a->clip, dst0;
    if (a->o.pad == FT_PAD_START) dst0 = 0;
    else if (a->o.pad == FT_PAD_END) dst0 = clip - n;
    else dst0 = (clip - n) >= 0 ? (clip - n) / 2 : -((n - clip + 1) / 2);
    for (int64_t k = 0; k < clip; k++) {
        int64_t s = k - dst0;
        a->clipbuf[k] = s >= 0 && s < n ? x[s] : 0.0f;
    }
    return ft_features_compute(a->f, a->clipbuf, clip, a->scratch, input);
}

static ft_status window_fn(void *user, const float *win, int64_t window, float *x) {
    return ft_kws_audio_input(user, win, window, false, x);
}

ft_status ft_kws_audio_stream(ft_model *m, ft_kws_audio *a, const float *samples, int64_t n, int64_t window, int64_t hop,
                              int64_t batch_size, float *scores) {
    return ft_kws_stream_scores_fn(m, samples, n, window, hop, batch_size, window_fn, a, scores);
}
