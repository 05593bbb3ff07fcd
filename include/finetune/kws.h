/* finetune keyword spotting: one-vs-rest detection metrics (false-reject and false-accept
 * rates at a threshold, DET curves, equal error rates) and streaming detection over a long
 * recording (docs/speech.md, "Keyword spotting").
 *
 * Scores are a model's class probabilities, one row of n_classes per example. For keyword
 * k, example i is accepted when scores[i][k] >= threshold. Its positives are the examples
 * labelled k; its negatives are every other example: the other words and the examples with
 * no keyword at all (label FT_KWS_NONE: pure noise, silence), which count for every
 * keyword. */
#ifndef FINETUNE_KWS_H
#define FINETUNE_KWS_H

#include "core.h"
#include "model.h"
#include "train.h"
#include "audio.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FT_KWS_NONE (-1) /* label of an example that holds no keyword (noise, silence) */

typedef struct {
    int keyword;                  /* class index */
    int64_t positives, negatives; /* examples labelled keyword / all others */
    int64_t false_rejects;        /* positives scored below the threshold */
    int64_t false_accepts;        /* negatives scored at or above it */
    double frr, far;              /* false_rejects / positives, false_accepts / negatives (0 when empty) */
    /* DET curve: n_det operating points, thresholds ascending (FAR falling, FRR rising):
     * point j accepts scores >= det_thr[j]; the first threshold is the lowest score (FRR 0),
     * the last point is "accept nothing" (det_thr = +inf, FAR 0, FRR 1). Owned. */
    int64_t n_det;
    double *det_thr, *det_far, *det_frr;
    /* Equal error rate: where the curve crosses FRR = FAR, interpolated linearly between the
     * two operating points on either side; eer_thr is the threshold interpolated the same way
     * (the finite one of the pair at the "accept nothing" end). NAN without positives or
     * negatives. */
    double eer, eer_thr;
} ft_kws_keyword;

typedef struct ft_kws_metrics_s {
    float threshold;
    int n_keywords;
    ft_kws_keyword *kw;        /* n_keywords, owned */
    int64_t n;                 /* examples scored */
    int64_t n_none;            /* of which labelled FT_KWS_NONE */
    double mean_frr, mean_far; /* unweighted means over the keywords at the threshold */
    double mean_eer;           /* over the keywords with an EER */
} ft_kws_metrics;

/* Metrics of n scored examples. keywords: the class indices to report (NULL: all
 * n_classes). labels are in [0, n_classes) or FT_KWS_NONE; anything else, a NaN score, or
 * a threshold outside [0, 1] is an error. Thresholds on the DET curve are the distinct
 * scores of the keyword's column. */
ft_status ft_kws_metrics_compute(const float *scores, const int32_t *labels, int64_t n, int n_classes,
                                 const int *keywords, int n_keywords, float threshold, ft_kws_metrics *out);
void ft_kws_metrics_free(ft_kws_metrics *m);

/* The DET curves (FRR against FAR, both on normal-deviate axes from 0.1% to 99.9%, as
 * DET plots are drawn; 0 and 1 are drawn at the axis ends) as an SVG file, written
 * atomically: one coloured line per keyword, a dot at each keyword's operating point at the
 * threshold, the EER diagonal, labelled grid lines and a legend with names[keyword]
 * (NULL, or NULL entries: the index). */
ft_status ft_kws_det_svg_write(const char *path, const ft_kws_metrics *m, const char *const *names);

/* Probabilities for every example of ds (n x n_classes, softmax of the logits, in index
 * order). Labels are ignored, so a set of negatives whose labels mean nothing to the model
 * (a folder of noise) can be scored. */
ft_status ft_predict_dataset(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, float *probs);
/* Probabilities for n examples given back to back in x (n x the model's input numel). */
ft_status ft_predict_batch(ft_model *m, const void *x, int64_t n, float *probs);

/* ---------------- a keyword model's audio front end ----------------
 * A recording becomes the model's input as the wav: dataset it was trained on makes an
 * example: decoded and resampled to the dataset's rate (ft_kws_audio_load), optionally
 * trimmed, placed into the clip around the pad anchor (centre: zeros on both sides, a long
 * recording cropped around its middle), then the features. */
typedef struct ft_kws_audio ft_kws_audio;
/* opts: the wav: spec options ("preset=oww:clip=0.782"); NULL: the model's own
 * (ft_model_audio_spec). They must give a clip length, and the features of a clip must have
 * the model's input size. */
ft_status ft_kws_audio_new(const ft_model *m, const char *opts, ft_kws_audio **out);
void ft_kws_audio_free(ft_kws_audio *a);
int ft_kws_audio_rate(const ft_kws_audio *a);      /* Hz */
int64_t ft_kws_audio_clip(const ft_kws_audio *a);  /* samples per clip */
ft_status ft_kws_audio_load(const ft_kws_audio *a, const char *path, ft_audio *out);
/* One model input from n samples (trim: the dataset's silence trimming, for whole clips). */
ft_status ft_kws_audio_input(ft_kws_audio *a, const float *x, int64_t n, bool trim, float *input);
/* ft_kws_stream_scores through the front end: every window (window samples at the front
 * end's rate, typically its clip) becomes one input. */
ft_status ft_kws_audio_stream(ft_model *m, ft_kws_audio *a, const float *samples, int64_t n, int64_t window, int64_t hop,
                              int64_t batch_size, float *scores);

/* ---------------- streaming ----------------
 * A long recording is cut into windows: window w covers samples [w*hop, w*hop + window)
 * (the last one padded with zeros; a recording shorter than a window is one window), each
 * fed to the model as one example of `input` samples (window <= input: the window's samples
 * come first, zeros after). */
int64_t ft_kws_stream_windows(int64_t n_samples, int64_t window, int64_t hop);
/* Scores of every window (ft_kws_stream_windows(...) x n_classes), batch_size windows per
 * forward pass. samples are at the model's rate. */
ft_status ft_kws_stream_scores(ft_model *m, const float *samples, int64_t n_samples, int64_t window, int64_t hop,
                               int64_t batch_size, float *scores);
/* The same for a model whose input is computed from the window's samples (features, e.g.
 * log-mels): transform(user, win, window, x) turns `window` samples (zero-padded at the end
 * of the recording) into one model input x (the model's input numel). window may then be
 * longer than the model's input. transform must not keep win or x. */
typedef ft_status (*ft_kws_window_fn)(void *user, const float *win, int64_t window, float *x);
ft_status ft_kws_stream_scores_fn(ft_model *m, const float *samples, int64_t n_samples, int64_t window, int64_t hop,
                                  int64_t batch_size, ft_kws_window_fn transform, void *user, float *scores);

/* The audio front end a model was trained with, as the options of a wav: dataset spec
 * ("preset=oww:clip=0.782"), kept in its config as preprocess.audio so predict can turn a
 * recording into the model's input the same way. NULL when the model has none (ft_free the
 * result). set replaces it (NULL removes it). */
char *ft_model_audio_spec(const ft_model *m);
ft_status ft_model_set_audio_spec(ft_model *m, const char *spec_opts);

typedef struct {
    int keyword;         /* class index */
    double start, end;   /* seconds: start of the first window and end of the last window that detected it */
    double peak;         /* seconds: centre of the window with the highest score */
    float score;         /* that highest score */
    int64_t windows;     /* windows that detected it */
} ft_kws_detection;

typedef struct {
    double window_s, hop_s;  /* window length and hop in seconds (for the times) */
    float threshold;         /* a window detects the keyword with the highest score when it is >= threshold */
    const int *keywords;     /* classes that are keywords (NULL: all); the others (silence,
                              * unknown) never detect */
    int n_keywords;
    int max_gap;             /* windows of the same keyword separated by at most this many windows
                              * without it merge into one detection (0: only consecutive ones) */
    int min_windows;         /* drop detections of fewer windows (0 or 1: keep all): a word fills
                              * several overlapping windows, a stray edge of one rarely does */
} ft_kws_detect_opts;

/* Detections from per-window scores (n_windows x n_classes), in time order. *out is
 * ft_malloc'd (ft_free it); *n_out may be 0 (then *out is NULL). */
ft_status ft_kws_detect(const float *scores, int64_t n_windows, int n_classes, const ft_kws_detect_opts *o,
                        ft_kws_detection **out, int64_t *n_out);

#ifdef __cplusplus
}
#endif
#endif
