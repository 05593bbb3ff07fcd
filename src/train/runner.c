/* The train/eval loop: graphs cached per batch shape, accumulation, clipping, schedules,
 * checkpoints (resumable, atomic), early stopping, metrics.jsonl and report.html. */
#include "finetune/runner.h"
#include "finetune/io.h"
#include "finetune/kws.h"
#include "train/report.h"
#include "train/text_task.h"
#include "train/ctc_task.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------- signals ---------------- */
static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }
void ft_install_signal_handlers(void) {
    interrupted = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once; checkpoints are atomic anyway */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
bool ft_interrupted(void) { return interrupted != 0; }
void ft_request_interrupt(void) { interrupted = 1; }

ft_run_config ft_run_defaults(void) {
    ft_run_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 3;
    c.batch_size = 32;
    c.accum_steps = 1;
    c.optim = ft_optim_defaults(FT_OPT_ADAMW);
    c.sched.kind = FT_SCHED_CONSTANT;
    c.seed = 42;
    c.workers = 1;
    c.progress = 1;
    return c;
}

void ft_eval_result_free(ft_eval_result *r) {
    if (r) { ft_free(r->confusion); r->confusion = NULL; ft_entity_metrics_free(&r->entities); }
}

/* ---------------- graphs per batch shape ----------------
 * Graphs are cached per (batch size, plan, sequence length). Images and tables see one or two
 * batch sizes; text batches padded to their own length see a handful of lengths (multiples of
 * the pad multiple), so text caches hold more graphs, within a budget of planned arena bytes
 * (1 GiB, or twice the newest graph's arena if that is more; the least recently used graph
 * goes first, the newest always stays). */
#define MAX_SHAPES 16
#define PLAIN_SHAPES 4
#define TEXT_CACHE_BYTES ((size_t)1 << 30)
#define FC_MAX 8
/* G_PLAIN: the model's graph. G_HEAD: the feature cache's frontier nodes are inputs
 * (ft_graph_feed), so only what follows them runs. */
enum { G_PLAIN = 0, G_HEAD };

/* Per-example activations of the frozen frontier (ft_graph_frozen_frontier) of one
 * dataset, keyed by dataset index: computed once by fc_setup (examples in index order,
 * batches of the run's size, so a resumed run computes the same values), then fed to
 * G_HEAD graphs. */
typedef struct {
    bool on;
    int n_front;
    int ids[FC_MAX];                       /* frontier node ids (graphs are built identically) */
    int64_t per[FC_MAX], off[FC_MAX];      /* floats per example of each, offset in a row */
    int64_t stride;                        /* floats per example in all */
    int64_t n;
    float *feat;                           /* n x stride */
    int32_t *y;                            /* labels */
} feature_cache;

typedef struct {
    int64_t n;
    bool training;
    int mode;
    int task;           /* ds->task; text tasks also key on the sequence length */
    int64_t T;
    ft_graph *g;
    ft_node *x, *y, *logits, *loss;
    ft_node *front[FC_MAX];
    ft_text_graph text;
    ft_ctc_graph ctc;
    uint64_t used;      /* the cache's clock at its last use (LRU) */
} step_graph;

typedef struct {
    step_graph s[MAX_SHAPES];
    int n;
    uint64_t clock;
} graph_cache;

static void cache_free(graph_cache *c) {
    for (int i = 0; i < c->n; i++) ft_graph_free(c->s[i].g);
    c->n = 0;
}

static bool is_text_task(int task) { return task == FT_TASK_SEQ_CLS || task == FT_TASK_TOKEN_CLS || task == FT_TASK_LM; }

/* The sequence length a batch's graph has: text batches padded to their longest row (tb), other
 * sequence data (ctc) the dataset's, 0 for the rest. */
static int64_t batch_len(const ft_dataset *ds, const ft_batch *b, const ft_text_batching *tb) {
    if (!ds || !ds->task) return 0;
    if (!is_text_task(ds->task) || !tb || tb->pad_to_dataset) return ds->x_shape[1];
    return ft_text_batch_len(b->x, ds->x_shape[1], b->n, tb->pad_multiple > 0 ? tb->pad_multiple : FT_TEXT_PAD_MULTIPLE);
}

/* The model's loss graph for a batch of n (inputs x, y; logits kept), not yet planned. Text
 * datasets (ds->task) get the ids/mask/targets graph of text_task.c instead, of length T. */
static ft_status build_step(ft_model *m, const ft_dataset *ds, int64_t n, int64_t T, bool training, float smoothing,
                            step_graph *s) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->training = training;
    s->task = ds ? ds->task : 0;
    s->T = s->task ? (T > 0 ? T : ds->x_shape[1]) : 0;
    if (!(s->g = ft_graph_new(m->params))) return ft_fail(FT_ENOMEM, "out of memory");
    if (s->task == FT_TASK_CTC) {
        ft_ctc_graph_build(m, s->g, n, ds->x_numel, training, &s->ctc);
        s->logits = s->ctc.logits;
        s->loss = s->ctc.loss;
        return FT_OK;
    }
    if (s->task) {
        ft_text_graph_build(m, s->g, s->task, n, s->T, training, smoothing, &s->text);
        s->logits = s->text.logits;
        s->loss = s->text.loss;
        return FT_OK;
    }
    int64_t shape[FT_MAX_DIMS] = {n};
    for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
    s->x = ft_input(s->g, "x", m->in_dtype, m->in_ndim + 1, shape);
    s->logits = m->arch->build(m, s->g, s->x, training);
    s->y = ft_input(s->g, "y", FT_I32, 1, shape);
    s->loss = ft_cross_entropy(s->g, s->logits, s->y, -100, smoothing);
    ft_node_keep(s->logits);
    return FT_OK;
}

/* Find s's frontier, check it is the one fc was set up with (at every batch size), and
 * record it in s->front. */
static ft_status match_frontier(step_graph *s, const feature_cache *fc) {
    if (ft_graph_status(s->g)) return FT_OK; /* planning reports the build error */
    ft_node *fr[FC_MAX];
    int k = ft_graph_frozen_frontier(s->g, s->x, s->loss, s->training, fr, FC_MAX);
    bool same = k == fc->n_front;
    for (int i = 0; same && i < k; i++) same = fr[i]->id == fc->ids[i] && fr[i]->numel == s->n * fc->per[i];
    if (!same)
        return ft_fail(FT_EINVAL, "feature cache: the frozen part of the model differs at batch size %lld; "
                       "run with --no-feature-cache", (long long)s->n);
    for (int i = 0; i < k; i++) s->front[i] = fr[i];
    return FT_OK;
}

static void cache_evict(graph_cache *c, int i) {
    ft_graph_free(c->s[i].g);
    memmove(&c->s[i], &c->s[i + 1], sizeof c->s[0] * (size_t)(c->n - i - 1));
    c->n--;
}

/* The least recently used graph other than `keep` (-1: none kept). */
static int cache_lru(const graph_cache *c, int keep) {
    int k = -1;
    for (int i = 0; i < c->n; i++)
        if (i != keep && (k < 0 || c->s[i].used < c->s[k].used)) k = i;
    return k;
}

/* T: the batch's sequence length (batch_len). */
static ft_status cache_get(graph_cache *c, ft_model *m, const ft_dataset *ds, int64_t n, int64_t T, bool training,
                           float smoothing, int mode, const feature_cache *fc, step_graph **out) {
    int task = ds ? ds->task : 0;
    if (!task) T = 0;
    else if (T <= 0) T = ds->x_shape[1];
    for (int i = 0; i < c->n; i++)
        if (c->s[i].n == n && c->s[i].training == training && c->s[i].mode == mode && c->s[i].task == task && c->s[i].T == T) {
            c->s[i].used = ++c->clock;
            *out = &c->s[i];
            return FT_OK;
        }
    bool text = is_text_task(task);
    if (c->n >= (text ? MAX_SHAPES : PLAIN_SHAPES)) cache_evict(c, cache_lru(c, -1));
    step_graph *s = &c->s[c->n];
    ft_status st = build_step(m, ds, n, T, training, smoothing, s);
    if (st) return st;
    s->mode = mode;
    if (mode == G_HEAD) {
        if ((st = match_frontier(s, fc))) { ft_graph_free(s->g); return st; }
        for (int i = 0; i < fc->n_front && !st; i++) st = ft_graph_feed(s->g, s->front[i]);
        if (st) { ft_graph_free(s->g); return st; }
    }
    if ((st = ft_graph_plan(s->g, s->loss, training))) { ft_graph_free(s->g); return st; }
    s->used = ++c->clock;
    c->n++;
    int keep = c->n - 1;
    size_t budget = 2 * ft_graph_stats(s->g).arena_bytes; /* text: at most 1 GiB, or two graphs of this size */
    if (budget < TEXT_CACHE_BYTES) budget = TEXT_CACHE_BYTES;
    while (text && c->n > 1) {
        size_t bytes = 0;
        for (int i = 0; i < c->n; i++) bytes += ft_graph_stats(c->s[i].g).arena_bytes;
        if (bytes <= budget) break;
        int k = cache_lru(c, keep);
        cache_evict(c, k);
        if (k < keep) keep--;
    }
    *out = &c->s[keep];
    return FT_OK;
}

static void fc_free(feature_cache *fc) {
    ft_free(fc->feat);
    ft_free(fc->y);
    memset(fc, 0, sizeof *fc);
}

static void fc_note(const ft_run_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fc_note(const ft_run_config *cfg, const char *fmt, ...) {
    if (cfg->progress < 0) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("feature cache: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* One forward pass of the frozen part over ds: examples in index order, batches of bs,
 * a plan that computes only the frontier nodes (kept). */
static ft_status fc_extract(feature_cache *fc, ft_model *m, ft_dataset *ds, int64_t bs, bool training, int workers) {
    int64_t fixed = ft_model_fixed_batch(m);
    ft_loader_config lc = {fixed ? fixed : bs, false, false, 0, workers, workers > 0 ? 2 * workers : 1, false, fixed > 0};
    ft_loader *l = NULL;
    ft_status s = ft_loader_new(ds, &lc, &l);
    if (s) return s;
    step_graph g[2];
    int n_g = 0;
    s = ft_loader_start(l, 0, 0);
    ft_batch *b;
    while (!s && !(s = ft_loader_next(l, &b)) && b) {
        step_graph *sg = NULL;
        for (int i = 0; i < n_g; i++) if (g[i].n == b->rows) sg = &g[i];
        if (!sg) {
            if (n_g == 2) { ft_graph_free(g[0].g); g[0] = g[1]; n_g = 1; }
            sg = &g[n_g];
            if ((s = build_step(m, ds, b->rows, 0, training, 0.0f, sg))) break;
            n_g++;
            if ((s = match_frontier(sg, fc))) break;
            sg->logits->keep = false; /* only the frontier is computed */
            for (int k = 0; k < fc->n_front; k++) ft_node_keep(sg->front[k]);
            if ((s = ft_graph_plan(sg->g, NULL, false))) break;
        }
        if ((s = ft_graph_set_input(sg->g, sg->x, b->x, (size_t)(b->rows * ds->x_numel) * 4))) break;
        if ((s = ft_graph_forward(sg->g))) break;
        for (int64_t j = 0; j < b->n; j++) { /* padded rows (a fixed-batch model) are dropped */
            int64_t i = b->idx[j];
            for (int k = 0; k < fc->n_front; k++)
                memcpy(fc->feat + i * fc->stride + fc->off[k], sg->front[k]->val + j * fc->per[k],
                       (size_t)fc->per[k] * sizeof(float));
            fc->y[i] = b->y[j];
        }
    }
    for (int i = 0; i < n_g; i++) ft_graph_free(g[i].g);
    ft_loader_free(l);
    return s;
}

/* Decide whether ds (seen through a `training` plan) can use the feature cache, and
 * fill it. Not applicable is not an error: fc->on stays false. */
static ft_status fc_setup(feature_cache *fc, ft_model *m, ft_dataset *ds, int64_t bs, bool training,
                          const ft_run_config *cfg, const char *what) {
    memset(fc, 0, sizeof *fc);
    if (cfg->no_feature_cache || ds->n < 1 || ds->task) return FT_OK; /* text: not (yet) */
    step_graph s;
    int64_t fixed = ft_model_fixed_batch(m);
    ft_status st = build_step(m, ds, fixed ? fixed : bs < ds->n ? bs : ds->n, 0, training, 0.0f, &s);
    if (st) return st;
    ft_node *fr[FC_MAX];
    int k = ft_graph_status(s.g) ? 0 : ft_graph_frozen_frontier(s.g, s.x, s.loss, training, fr, FC_MAX);
    bool usable = k > 0;
    for (int i = 0; usable && i < k; i++) usable = fr[i] != s.x && fr[i]->dtype == FT_F32;
    if (!usable) { ft_graph_free(s.g); return FT_OK; } /* the data feeds a trainable op directly: nothing to cache */
    if (training && ds->augments) {
        ft_graph_free(s.g);
        fc_note(cfg, "off: the training data is augmented (random crops/flips differ every epoch)");
        return FT_OK;
    }
    fc->n_front = k;
    for (int i = 0; i < k; i++) {
        fc->ids[i] = fr[i]->id;
        fc->per[i] = fr[i]->numel / s.n;
        fc->off[i] = fc->stride;
        fc->stride += fc->per[i];
    }
    char at[160] = "";
    for (int i = 0; i < k && strlen(at) < 100; i++)
        snprintf(at + strlen(at), sizeof at - strlen(at), "%s%s %s", i ? ", " : "", ft_op_name(fr[i]->op),
                 fr[i]->name[0] ? fr[i]->name : "");
    ft_graph_free(s.g);
    double bytes = (double)ds->n * ((double)fc->stride * 4 + 5);
    double limit = cfg->feature_cache_max_bytes > 0 ? (double)cfg->feature_cache_max_bytes : 2.0 * 1024 * 1024 * 1024;
    if (bytes > limit) {
        fc_note(cfg, "off for the %s: %lld examples x %lld floats would take %.1f MB (limit %.1f MB)", what,
                (long long)ds->n, (long long)fc->stride, bytes / 1e6, limit / 1e6);
        memset(fc, 0, sizeof *fc);
        return FT_OK;
    }
    fc->n = ds->n;
    fc->feat = ft_malloc((size_t)ds->n * (size_t)fc->stride * sizeof(float));
    fc->y = ft_malloc((size_t)ds->n * sizeof(int32_t));
    if (!fc->feat || !fc->y) {
        fc_free(fc);
        fc_note(cfg, "off for the %s: out of memory for %.1f MB", what, bytes / 1e6);
        return FT_OK;
    }
    double t0 = ft_now();
    st = fc_extract(fc, m, ds, bs, training, cfg->workers);
    if (st) { fc_free(fc); return st; }
    fc->on = true;
    fc_note(cfg, "on for the %s: %lld floats per example (at %s), %.1f MB for %lld examples, computed in %.1f s; "
            "steps run only what follows", what, (long long)fc->stride, at, bytes / 1e6, (long long)ds->n,
            ft_now() - t0);
    return FT_OK;
}

/* Before a G_HEAD forward: feed the cached frontier values and labels of the batch. */
static void fc_gather(const feature_cache *fc, step_graph *sg, const ft_batch *b) {
    int32_t *y = (int32_t *)(void *)sg->y->val;
    for (int64_t j = 0; j < b->rows; j++) {
        int64_t i = b->idx[j];
        for (int k = 0; k < fc->n_front; k++)
            memcpy(sg->front[k]->val + j * fc->per[k], fc->feat + i * fc->stride + fc->off[k],
                   (size_t)fc->per[k] * sizeof(float));
        y[j] = fc->y[i];
    }
}

/* Feed one batch to sg: from the cache (G_HEAD) or the loader's x and y (ds: the batch's dataset). */
static ft_status feed_batch(step_graph *sg, const feature_cache *fc, const ft_batch *b, const ft_dataset *ds) {
    int64_t x_numel = ds->x_numel;
    if (sg->mode == G_HEAD) { fc_gather(fc, sg, b); return FT_OK; }
    if (sg->task == FT_TASK_CTC) return ft_ctc_graph_set(&sg->ctc, b->x, b->n);
    if (sg->task) { ft_text_graph_set(&sg->text, b->x, ds->x_shape[1], b->y, b->n); return FT_OK; }
    ft_status s = ft_graph_set_input(sg->g, sg->x, b->x, (size_t)(b->rows * x_numel) * 4);
    if (!s) s = ft_graph_set_input(sg->g, sg->y, b->y, (size_t)b->rows * 4);
    return s;
}

static int fc_mode(const feature_cache *fc) { return fc && fc->on ? G_HEAD : G_PLAIN; }

static ft_status check_data(const ft_model *m, const ft_dataset *ds) {
    if (ds->task == FT_TASK_CTC) return ft_ctc_check_data(m, ds);
    if (ds->task) return ft_text_check_data(m, ds);
    int64_t in_numel = 1;
    for (int d = 0; d < m->in_ndim; d++) in_numel *= m->in_shape[d];
    if (ds->x_dtype != m->in_dtype || ds->x_numel != in_numel) {
        char a[96] = "[", b[96] = "[";
        for (int d = 0; d < ds->x_ndim; d++) snprintf(a + strlen(a), sizeof a - strlen(a), d ? ",%lld" : "%lld", (long long)ds->x_shape[d]);
        for (int d = 0; d < m->in_ndim; d++) snprintf(b + strlen(b), sizeof b - strlen(b), d ? ",%lld" : "%lld", (long long)m->in_shape[d]);
        return ft_fail(FT_ESHAPE, "dataset '%s' gives examples of shape %s], the model expects %s]", ds->name, a, b);
    }
    if (ds->n_classes > m->n_classes)
        return ft_fail(FT_EINVAL, "dataset '%s' has %d classes but the model's head has %d (replace the head: --new-head %d)",
                       ds->name, ds->n_classes, m->n_classes, ds->n_classes);
    if (ds->n < 1) return ft_fail(FT_EINVAL, "dataset '%s' is empty", ds->name);
    return FT_OK;
}

/* ---------------- evaluation ---------------- */
/* Padded per batch (tb), the examples go longest first, so each batch pads little; the sums
 * behind the metrics do not depend on the order. */
static ft_status evaluate_text(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, const ft_text_batching *tb,
                               ft_eval_result *res) {
    ft_text_eval *e = NULL;
    ft_status s = ft_text_eval_new(m, ds, &e);
    if (s) return s;
    int64_t *lengths = NULL;
    if (!tb->pad_to_dataset && ds->n > batch_size && (s = ft_text_lengths(ds, &lengths))) { ft_text_eval_free(e); return s; }
    ft_loader_config lc = {batch_size, false, false, 0, workers, workers > 0 ? 2 * workers : 1, false, false};
    ft_loader *l = NULL;
    if ((s = ft_loader_new(ds, &lc, &l)) || (s = ft_loader_group_by_length(l, lengths, lengths ? ds->n : 0))) {
        ft_loader_free(l);
        ft_free(lengths);
        ft_text_eval_free(e);
        return s;
    }
    graph_cache cache = {0};
    s = ft_loader_start(l, 0, 0);
    ft_batch *b;
    while (!s && !(s = ft_loader_next(l, &b)) && b) {
        step_graph *sg;
        if ((s = cache_get(&cache, m, ds, b->n, batch_len(ds, b, tb), false, 0.0f, G_PLAIN, NULL, &sg))) break;
        if ((s = feed_batch(sg, NULL, b, ds))) break;
        if ((s = ft_graph_forward(sg->g))) break;
        if ((s = ft_text_eval_add(e, &sg->text, b->x, b->y, b->n))) break;
    }
    cache_free(&cache);
    ft_loader_free(l);
    ft_free(lengths);
    if (s) { ft_text_eval_free(e); return s; }
    s = ft_text_eval_finish(e, res);
    if (s) ft_eval_result_free(res);
    return s;
}

static ft_status evaluate_ctc(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, ft_eval_result *res) {
    ft_ctc_eval *e = NULL;
    ft_status s = ft_ctc_eval_new(m, ds, &e);
    if (s) return s;
    ft_loader_config lc = {batch_size, false, false, 0, workers, workers > 0 ? 2 * workers : 1, false, false};
    ft_loader *l = NULL;
    if ((s = ft_loader_new(ds, &lc, &l))) { ft_ctc_eval_free(e); return s; }
    graph_cache cache = {0};
    s = ft_loader_start(l, 0, 0);
    ft_batch *b;
    while (!s && !(s = ft_loader_next(l, &b)) && b) {
        step_graph *sg;
        if ((s = cache_get(&cache, m, ds, b->n, batch_len(ds, b, NULL), false, 0.0f, G_PLAIN, NULL, &sg))) break;
        if ((s = feed_batch(sg, NULL, b, ds))) break;
        if ((s = ft_graph_forward(sg->g))) break;
        if ((s = ft_ctc_eval_add(e, &sg->ctc, b->x, b->n))) break;
    }
    cache_free(&cache);
    ft_loader_free(l);
    if (s) { ft_ctc_eval_free(e); return s; }
    return ft_ctc_eval_finish(e, res);
}

/* Softmax of n rows of C logits into out. */
static void softmax_rows(const float *z, int64_t n, int C, float *out) {
    for (int64_t i = 0; i < n; i++, z += C, out += C) {
        float mx = z[0], sum = 0;
        for (int c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < C; c++) sum += (out[c] = expf(z[c] - mx));
        for (int c = 0; c < C; c++) out[c] /= sum;
    }
}

/* probs (may be NULL): n x C softmax probabilities by dataset index; labels (may be NULL) the labels. */
static ft_status evaluate(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, feature_cache *fc,
                          const ft_text_batching *tb, ft_eval_result *res, float *probs, int32_t *labels) {
    memset(res, 0, sizeof *res);
    ft_status s = check_data(m, ds);
    if (s) return s;
    int64_t fixed = ft_model_fixed_batch(m); /* a short batch is padded to it, the padded rows dropped */
    if (fixed) batch_size = fixed;           /* text and ctc: not padded (yet), so n must be a multiple */
    if (ds->task == FT_TASK_CTC) return evaluate_ctc(m, ds, batch_size, workers, res);
    ft_text_batching dflt = {.pad_multiple = 0};
    if (ds->task) return evaluate_text(m, ds, batch_size, workers, tb ? tb : &dflt, res);
    int C = m->n_classes;
    res->n_classes = C;
    res->confusion = ft_calloc((size_t)C * (size_t)C, sizeof *res->confusion);
    if (!res->confusion) return ft_fail(FT_ENOMEM, "out of memory");
    ft_loader_config lc = {batch_size, false, false, 0, workers, workers > 0 ? 2 * workers : 1, false, fixed > 0};
    ft_loader *l = NULL;
    if ((s = ft_loader_new(ds, &lc, &l))) return s;
    graph_cache cache = {0};
    double loss_sum = 0;
    int64_t top5 = 0;
    int mode = fc_mode(fc);
    ft_loader_set_fetch(l, mode != G_HEAD);
    s = ft_loader_start(l, 0, 0);
    ft_batch *b;
    while (!s && !(s = ft_loader_next(l, &b)) && b) {
        step_graph *sg;
        if ((s = cache_get(&cache, m, ds, b->rows, 0, false, 0.0f, mode, fc, &sg))) break;
        if ((s = feed_batch(sg, fc, b, ds))) break;
        if ((s = ft_graph_forward(sg->g))) break;
        const int32_t *yb = (const int32_t *)(const void *)sg->y->val;
        if (b->rows == b->n) loss_sum += (double)sg->loss->val[0] * (double)b->n;
        for (int64_t i = 0; i < b->n; i++) {
            const float *z = sg->logits->val + i * C;
            int best = 0, rank = 0, t = yb[i];
            if (b->rows != b->n) { /* padded: the loss of the real rows only (cross entropy, no smoothing) */
                double mx = z[0], sum = 0;
                for (int c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
                for (int c = 0; c < C; c++) sum += exp((double)z[c] - mx);
                loss_sum += mx + log(sum) - (double)z[t];
            }
            for (int c = 1; c < C; c++) if (z[c] > z[best]) best = c;
            for (int c = 0; c < C; c++) rank += z[c] > z[t];
            res->confusion[(int64_t)t * C + best]++;
            res->correct += best == t;
            top5 += rank < 5;
            if (probs) softmax_rows(z, 1, C, probs + b->idx[i] * C);
            if (labels) labels[b->idx[i]] = t;
        }
        res->n += b->n;
    }
    cache_free(&cache);
    ft_loader_free(l);
    if (s) { ft_eval_result_free(res); return s; }
    res->loss = res->n ? loss_sum / (double)res->n : 0;
    res->accuracy = res->n ? (double)res->correct / (double)res->n : 0;
    res->top5 = res->n ? (double)top5 / (double)res->n : 0;
    res->examples = res->n;
    res->score = res->accuracy;
    return FT_OK;
}

ft_status ft_evaluate(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, ft_eval_result *res) {
    return evaluate(m, ds, batch_size, workers, NULL, NULL, res, NULL, NULL);
}

ft_status ft_evaluate_text_batching(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, const ft_text_batching *tb,
                                    ft_eval_result *res) {
    return evaluate(m, ds, batch_size, workers, NULL, tb, res, NULL, NULL);
}

ft_status ft_evaluate_probs(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, ft_eval_result *res,
                            float *probs, int32_t *labels) {
    if (ds->task) return ft_fail(FT_EUNSUPPORTED, "dataset '%s': per-example probabilities are for one class per example", ds->name);
    return evaluate(m, ds, batch_size, workers, NULL, NULL, res, probs, labels);
}

ft_status ft_predict_one(ft_model *m, const void *x, float *probs) { return ft_predict_batch(m, x, 1, probs); }

/* A model that runs at one batch size B only: n examples in runs of B, the last run padded
 * with copies of its last example, whose outputs are dropped. */
static ft_status predict_fixed(ft_model *m, const void *x, int64_t n, int64_t B, float *probs) {
    size_t row = 4;
    for (int d = 0; d < m->in_ndim; d++) row *= (size_t)m->in_shape[d];
    uint8_t *buf = ft_malloc((size_t)B * row);
    float *p = ft_malloc((size_t)B * (size_t)m->n_classes * sizeof *p);
    ft_status s = buf && p ? FT_OK : ft_fail(FT_ENOMEM, "out of memory");
    for (int64_t lo = 0; lo < n && !s; lo += B) {
        int64_t k = n - lo < B ? n - lo : B;
        memcpy(buf, (const uint8_t *)x + (size_t)lo * row, (size_t)k * row);
        for (int64_t j = k; j < B; j++) memcpy(buf + (size_t)j * row, buf + (size_t)(k - 1) * row, row);
        s = ft_predict_batch(m, buf, B, p);
        if (!s) memcpy(probs + lo * m->n_classes, p, (size_t)k * (size_t)m->n_classes * sizeof *p);
    }
    ft_free(p);
    ft_free(buf);
    return s;
}

ft_status ft_predict_batch(ft_model *m, const void *x, int64_t n, float *probs) {
    if (n < 1) return ft_fail(FT_EINVAL, "predict: %lld examples", (long long)n);
    int64_t fixed = ft_model_fixed_batch(m);
    if (fixed && n != fixed) return predict_fixed(m, x, n, fixed, probs);
    graph_cache cache = {0};
    step_graph *sg;
    ft_status s = cache_get(&cache, m, NULL, n, 0, false, 0.0f, G_PLAIN, NULL, &sg);
    int32_t *y = s ? NULL : ft_calloc((size_t)n, sizeof *y);
    if (!s && !y) s = ft_fail(FT_ENOMEM, "out of memory");
    if (!s) s = ft_graph_set_input(sg->g, sg->x, x, (size_t)sg->x->numel * 4);
    if (!s) s = ft_graph_set_input(sg->g, sg->y, y, (size_t)n * 4);
    if (!s) s = ft_graph_forward(sg->g);
    if (!s) softmax_rows(sg->logits->val, n, m->n_classes, probs);
    ft_free(y);
    cache_free(&cache);
    return s;
}

/* Probabilities of every example of ds, labels ignored (a set of negatives). */
ft_status ft_predict_dataset(ft_model *m, ft_dataset *ds, int64_t batch_size, int workers, float *probs) {
    int64_t in_numel = 1;
    for (int d = 0; d < m->in_ndim; d++) in_numel *= m->in_shape[d];
    if (ds->task || ds->x_dtype != m->in_dtype || ds->x_numel != in_numel) {
        char a[96] = "[", b[96] = "[";
        for (int d = 0; d < ds->x_ndim; d++) snprintf(a + strlen(a), sizeof a - strlen(a), d ? ",%lld" : "%lld", (long long)ds->x_shape[d]);
        for (int d = 0; d < m->in_ndim; d++) snprintf(b + strlen(b), sizeof b - strlen(b), d ? ",%lld" : "%lld", (long long)m->in_shape[d]);
        return ft_fail(FT_ESHAPE, "dataset '%s' gives examples of shape %s], the model expects %s]", ds->name, a, b);
    }
    if (ds->n < 1) return ft_fail(FT_EINVAL, "dataset '%s' is empty", ds->name);
    int C = m->n_classes;
    int64_t fixed = ft_model_fixed_batch(m); /* a short batch is padded to it, the padded rows dropped */
    ft_loader_config lc = {fixed ? fixed : batch_size, false, false, 0, workers, workers > 0 ? 2 * workers : 1, false, fixed > 0};
    ft_loader *l = NULL;
    ft_status s = ft_loader_new(ds, &lc, &l);
    if (s) return s;
    graph_cache cache = {0};
    s = ft_loader_start(l, 0, 0);
    ft_batch *b;
    while (!s && !(s = ft_loader_next(l, &b)) && b) {
        step_graph *sg;
        if ((s = cache_get(&cache, m, NULL, b->rows, 0, false, 0.0f, G_PLAIN, NULL, &sg))) break;
        for (int64_t i = 0; i < b->rows; i++) b->y[i] = 0; /* the labels mean nothing here */
        if ((s = feed_batch(sg, NULL, b, ds))) break;
        if ((s = ft_graph_forward(sg->g))) break;
        for (int64_t i = 0; i < b->n; i++) softmax_rows(sg->logits->val + i * C, 1, C, probs + b->idx[i] * C);
    }
    cache_free(&cache);
    ft_loader_free(l);
    return s;
}

/* ---------------- training ---------------- */
static ft_status path_join(char *buf, size_t n, const char *dir, const char *file) {
    if ((size_t)snprintf(buf, n, "%s/%s", dir, file) >= n) return ft_fail(FT_EINVAL, "path too long: %s/%s", dir, file);
    return FT_OK;
}

static ft_status validate(const ft_run_config *c) {
    if (!c->out_dir || !*c->out_dir) return ft_fail(FT_EINVAL, "an output directory is required");
    if (c->epochs < 1) return ft_fail(FT_EINVAL, "epochs must be >= 1 (got %d)", c->epochs);
    if (c->batch_size < 1) return ft_fail(FT_EINVAL, "batch size must be >= 1");
    if (c->accum_steps < 1) return ft_fail(FT_EINVAL, "accumulation steps must be >= 1");
    if (c->clip_norm < 0 || !isfinite(c->clip_norm)) return ft_fail(FT_EINVAL, "clip norm must be >= 0");
    if (c->label_smoothing < 0 || c->label_smoothing >= 1) return ft_fail(FT_EINVAL, "label smoothing must be in [0,1)");
    if (c->text.pad_multiple < 0 || c->text.pad_multiple > 4096)
        return ft_fail(FT_EINVAL, "text pad multiple %d is not in [0, 4096]", c->text.pad_multiple);
    return FT_OK;
}

ft_status ft_train(ft_model *m, ft_dataset *train, ft_dataset *val, const ft_run_config *cfg, ft_run_result *res) {
    memset(res, 0, sizeof *res);
    ft_status s = validate(cfg);
    if (!s) s = check_data(m, train);
    if (!s && val) s = check_data(m, val);
    int64_t fixed = ft_model_fixed_batch(m); /* batches of exactly that size: the short last one is dropped */
    if (!s && fixed && cfg->batch_size != fixed)
        s = ft_fail(FT_EINVAL, "the model runs at batch %lld only (an imported graph whose nodes depend on the batch size; its config's "
                    "input.batch), not %lld: train with batch size %lld (--batch %lld), or import it again at another batch "
                    "(finetune convert --input-shape N,...)", (long long)fixed, (long long)cfg->batch_size, (long long)fixed, (long long)fixed);
    if (!s && fixed && train->n < fixed)
        s = ft_fail(FT_EINVAL, "dataset '%s' has %lld examples, fewer than the one batch size the model runs at (%lld): "
                    "a batch of training needs %lld examples (or import the model again at a smaller batch: finetune convert --input-shape N,...)",
                    train->name, (long long)train->n, (long long)fixed, (long long)fixed);
    if (!s) s = ft_mkdirs(cfg->out_dir);
    if (s) return s;
    char ckpt[4096], best[4096], metrics[4096], report[4096];
    if ((s = path_join(ckpt, sizeof ckpt, cfg->out_dir, "checkpoint.safetensors")) ||
        (s = path_join(best, sizeof best, cfg->out_dir, "best.safetensors")) ||
        (s = path_join(metrics, sizeof metrics, cfg->out_dir, "metrics.jsonl")) ||
        (s = path_join(report, sizeof report, cfg->out_dir, "report.html")))
        return s;
    if (ft_params_count(m->params, true) == 0)
        return ft_fail(FT_EINVAL, "no trainable parameters (check --train/--freeze)");

    ft_optimizer *opt = NULL;
    ft_loader *loader = NULL;
    int64_t *lengths = NULL;
    graph_cache cache = {0};
    feature_cache tfc = {0}, vfc = {0};
    FILE *mf = NULL;
    ft_series *steps_hist = NULL, *epochs_hist = NULL;
    ft_train_state st = {0};
    st.seed = cfg->seed;
    st.best_val = -1;
    st.best_val_loss = HUGE_VAL;
    st.best_epoch = -1;

    if ((s = ft_params_alloc_grads(m->params))) goto done;
    if ((s = ft_optimizer_new(m->params, &cfg->optim, &opt))) goto done;
    if (cfg->resume) {
        if ((s = ft_checkpoint_load(cfg->resume, m, opt, &st))) goto done;
        if (st.seed != cfg->seed && cfg->progress >= 0)
            fprintf(stderr, "resume: using the checkpoint's seed %llu\n", (unsigned long long)st.seed);
    }
    /* group_by_length (text): mega-batches of 50 batches sorted by length, as Hugging Face's
     * LengthGroupedSampler */
    bool grouped = cfg->text.group_by_length && is_text_task(train->task) && !cfg->text.pad_to_dataset;
    if (grouped && (s = ft_text_lengths(train, &lengths))) goto done;
    ft_loader_config lc = {cfg->batch_size, true, fixed > 0, st.seed, cfg->workers, cfg->workers > 0 ? 2 * cfg->workers : 1, true, false};
    if ((s = ft_loader_new(train, &lc, &loader))) goto done;
    if (grouped && (s = ft_loader_group_by_length(loader, lengths, 50 * cfg->batch_size))) goto done;
    /* Signals from here: an interrupt while the feature cache is computed (which is not
     * cut short) stops training after its first step, with a resumable checkpoint. */
    ft_install_signal_handlers();
    if ((s = fc_setup(&tfc, m, train, cfg->batch_size, true, cfg, "training data"))) goto done;
    if (val && (s = fc_setup(&vfc, m, val, cfg->batch_size, false, cfg, "validation data"))) goto done;
    int64_t batches = ft_loader_batches_per_epoch(loader);
    int64_t steps_per_epoch = (batches + cfg->accum_steps - 1) / cfg->accum_steps;
    int64_t total_steps = steps_per_epoch * cfg->epochs;
    if (cfg->max_steps > 0 && cfg->max_steps < total_steps) total_steps = cfg->max_steps;
    ft_schedule sched = cfg->sched;
    if (sched.total_steps <= 0) sched.total_steps = total_steps;

    /* Bounded histories for the report: the step loop itself allocates nothing. */
    steps_hist = ft_calloc(1, sizeof *steps_hist);
    epochs_hist = ft_calloc(1, sizeof *epochs_hist);
    if (!steps_hist || !epochs_hist) { s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }

    if (!(mf = fopen(metrics, cfg->resume ? "a" : "w"))) { s = ft_fail(FT_EIO, "%s: %s", metrics, strerror(errno)); goto done; }
    ft_progress prog = {cfg->progress, ft_now(), 0, st.step, 0};
    float lr = 0;
    bool stop = false;
    const ft_params *ps = m->params;

    for (int64_t epoch = st.epoch; epoch < cfg->epochs && !stop; epoch++) {
        int mode = fc_mode(&tfc);
        ft_loader_set_fetch(loader, mode != G_HEAD);
        if ((s = ft_loader_start(loader, epoch, st.batch_in_epoch))) goto done;
        double ep_loss = 0;
        int64_t ep_n = 0;
        int micro = 0;
        bool mid_epoch = false;
        double t0 = ft_now();
        ft_batch *b;
        while (!(s = ft_loader_next(loader, &b)) && b) {
            step_graph *sg;
            int64_t T = batch_len(train, b, &cfg->text);
            if ((s = cache_get(&cache, m, train, b->n, T, true, cfg->label_smoothing, mode, &tfc, &sg))) goto done;
            if ((s = feed_batch(sg, &tfc, b, train))) goto done;
            if (is_text_task(train->task)) { /* padding accounting: real tokens vs positions computed */
                const int32_t *x = b->x;
                int64_t Td = train->x_shape[1];
                for (int64_t i = 0; i < b->n; i++)
                    for (int64_t t = 0; t < Td; t++) res->real_tokens += x[i * 3 * Td + Td + t] != 0;
                res->positions += b->n * T;
            }
            ft_graph_set_rng(sg->g, st.seed, (uint64_t)(b->epoch * batches + b->index));
            if ((s = ft_graph_forward(sg->g))) goto done;
            if ((s = ft_graph_backward(sg->g))) goto done;
            float loss = sg->loss->val[0];
            if (!isfinite(loss)) {
                s = ft_fail(FT_EINVAL, "loss became %g at step %lld (epoch %lld); lower --lr or set --clip", loss,
                            (long long)st.step, (long long)epoch + 1);
                goto done;
            }
            ep_loss += (double)loss * (double)b->n;
            ep_n += b->n;
            micro++;
            bool last = b->index == batches - 1;
            if (micro < cfg->accum_steps && !last) continue;
            if (micro > 1) { /* mean over micro-batches */
                float k = 1.0f / (float)micro;
                for (size_t i = 0; i < ps->grad_total; i++) ps->grad[i] *= k;
            }
            micro = 0;
            if (cfg->clip_norm > 0) ft_clip_grad_norm(m->params, cfg->clip_norm);
            lr = ft_schedule_lr(&sched, cfg->optim.lr, st.step);
            ft_optimizer_step(opt, lr);
            ft_params_zero_grad(m->params);
            st.step++;
            double lv = loss;
            ft_series_push(steps_hist, (double)st.step, &lv, 1);
            fprintf(mf, "{\"step\": %lld, \"epoch\": %lld, \"loss\": %.9g, \"lr\": %.9g}\n", (long long)st.step,
                    (long long)epoch + 1, loss, lr);
            ft_progress_step(&prog, st.step, total_steps, (int)epoch, cfg->epochs, ep_loss / (double)ep_n, lr, b->n);
            bool at_limit = cfg->max_steps > 0 && st.step >= cfg->max_steps;
            bool want_ckpt = cfg->checkpoint_every > 0 && st.step % cfg->checkpoint_every == 0;
            if ((ft_interrupted() || at_limit || want_ckpt) && !last) {
                st.epoch = epoch;
                st.batch_in_epoch = b->index + 1;
                if ((s = ft_checkpoint_save(ckpt, m, opt, &st))) goto done;
            }
            if (ft_interrupted() && !last) {
                ft_progress_end_line(&prog);
                res->interrupted = true;
                s = ft_fail(FT_EINTR, "interrupted at step %lld; resumable checkpoint written to %s", (long long)st.step, ckpt);
                goto done;
            }
            if (at_limit) { stop = true; mid_epoch = !last; if (mid_epoch) st.batch_in_epoch = b->index + 1; break; }
        }
        if (s) goto done;
        ft_progress_end_line(&prog);
        /* End of epoch (or of the step budget): evaluate, log, checkpoint. */
        bool epoch_complete = !mid_epoch;
        ft_eval_result ev = {0};
        if (val && (s = evaluate(m, val, cfg->batch_size, cfg->workers, &vfc, &cfg->text, &ev, NULL, NULL))) goto done;
        double train_loss = ep_n ? ep_loss / (double)ep_n : 0;
        double cols[FT_SERIES_COLS] = {train_loss, ev.loss, ev.accuracy};
        ft_series_push(epochs_hist, (double)epoch + 1, cols, FT_SERIES_COLS);
        res->final_train_loss = train_loss;
        res->epochs_done = (int)epoch + 1;
        fprintf(mf, "{\"epoch\": %lld, \"step\": %lld, \"train_loss\": %.6f, \"lr\": %.6g, \"epoch_time_s\": %.3f",
                (long long)epoch + 1, (long long)st.step, train_loss, lr, ft_now() - t0);
        if (val) fprintf(mf, ", \"val_loss\": %.6f, \"val_accuracy\": %.6f", ev.loss, ev.accuracy);
        if (val && ev.task == FT_TASK_SEQ_CLS) fprintf(mf, ", \"val_macro_f1\": %.6f", ev.macro_f1);
        if (val && ev.task == FT_TASK_TOKEN_CLS)
            fprintf(mf, ", \"val_entity_precision\": %.6f, \"val_entity_recall\": %.6f, \"val_entity_f1\": %.6f",
                    ev.entities.precision, ev.entities.recall, ev.entities.f1);
        if (val && ev.task == FT_TASK_LM) fprintf(mf, ", \"val_perplexity\": %.6f", ev.perplexity);
        if (val && ev.task == FT_TASK_CTC) fprintf(mf, ", \"val_wer\": %.6f, \"val_cer\": %.6f", ev.wer, ev.cer);
        fprintf(mf, "}\n");
        fflush(mf);
        /* Best = highest score (accuracy; text tasks: entity F1, 1/perplexity); at an equal score
         * (common on a small held-out set), lower loss. */
        /* The first validation always counts: a CTC score (1 - WER) can be below -1. */
        bool improved = val && (st.best_epoch < 0 || ev.score > st.best_val ||
                                (ev.score == st.best_val && ev.loss < st.best_val_loss));
        if (improved) {
            st.best_val = ev.score;
            st.best_val_loss = ev.loss;
            st.best_epoch = (int)epoch + 1;
            st.bad_epochs = 0;
        }
        else if (val) st.bad_epochs++;
        if (cfg->progress >= 0) {
            if (val && ev.task == FT_TASK_TOKEN_CLS)
                fprintf(stderr, "epoch %lld: train loss %.4f, val loss %.4f, val entity F1 %.2f%% (tag accuracy %.2f%%)%s\n",
                        (long long)epoch + 1, train_loss, ev.loss, 100 * ev.entities.f1, 100 * ev.accuracy, improved ? " (best)" : "");
            else if (val && ev.task == FT_TASK_CTC)
                fprintf(stderr, "epoch %lld: train loss %.4f, val loss %.4f, val WER %.2f%%, CER %.2f%% (exact %.2f%%)%s\n",
                        (long long)epoch + 1, train_loss, ev.loss, 100 * ev.wer, 100 * ev.cer, 100 * ev.accuracy,
                        improved ? " (best)" : "");
            else if (val && ev.task == FT_TASK_LM)
                fprintf(stderr, "epoch %lld: train loss %.4f, val loss %.4f, val perplexity %.3f%s\n", (long long)epoch + 1,
                        train_loss, ev.loss, ev.perplexity, improved ? " (best)" : "");
            else if (val)
                fprintf(stderr, "epoch %lld: train loss %.4f, val loss %.4f, val accuracy %.2f%%%s\n", (long long)epoch + 1,
                        train_loss, ev.loss, 100 * ev.accuracy, improved ? " (best)" : "");
            else
                fprintf(stderr, "epoch %lld: train loss %.4f\n", (long long)epoch + 1, train_loss);
        }
        ft_eval_result_free(&ev);
        if (epoch_complete) { st.epoch = epoch + 1; st.batch_in_epoch = 0; }
        if ((s = ft_checkpoint_save(ckpt, m, opt, &st))) goto done;
        if (improved && (s = ft_checkpoint_save(best, m, opt, &st))) goto done;
        if (cfg->patience > 0 && st.bad_epochs >= cfg->patience) {
            res->early_stopped = true;
            if (cfg->progress >= 0)
                fprintf(stderr, "early stopping: no validation improvement for %d epochs\n", cfg->patience);
            break;
        }
        if (ft_interrupted()) {
            res->interrupted = true;
            s = ft_fail(FT_EINTR, "interrupted after epoch %lld; resumable checkpoint written to %s", (long long)epoch + 1, ckpt);
            goto done;
        }
    }
    res->steps = st.step;
    res->feature_cache = tfc.on;
    res->best_val_accuracy = st.best_epoch < 0 ? 0 : st.best_val; /* CTC: 1 - WER, may be negative */
    res->best_epoch = st.best_epoch;

done:
    if (steps_hist && epochs_hist) {
        char summary[512];
        snprintf(summary, sizeof summary, "%lld optimizer steps; final train loss %.4f; best validation accuracy %.2f%% (epoch %d)",
                 (long long)st.step, res->final_train_loss, 100 * (st.best_val < 0 ? 0 : st.best_val), st.best_epoch);
        ft_report_data rd = {summary, steps_hist->x, steps_hist->y[0], steps_hist->n, epochs_hist->x,
                             epochs_hist->y[0], epochs_hist->y[1], epochs_hist->y[2], epochs_hist->n, val != NULL};
        /* Keep the original error, if any, over a report failure. */
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", ft_errmsg());
        ft_status rs = ft_report_write(report, &rd);
        if (s) ft_fail(s, "%s", saved);
        else s = rs;
    }
    if (mf) fclose(mf);
    ft_free(steps_hist);
    ft_free(epochs_hist);
    cache_free(&cache);
    fc_free(&tfc);
    fc_free(&vfc);
    ft_loader_free(loader);
    ft_free(lengths);
    ft_optimizer_free(opt);
    return s;
}
