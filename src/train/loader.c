/* Loader: seeded shuffling, batching and background prefetch.
 *
 * Batch k of epoch e holds the examples perm_e[k*B .. min((k+1)*B, n)) in that order,
 * where perm_e = ft_permutation(n, seed, stream e) when shuffling, else the identity
 * (with ft_loader_group_by_length, then sorted by length within runs of `group`).
 * Its content depends on nothing else, so any number of workers gives the same batches.
 *
 * Threads. `workers` threads fill a ring of prefetch+1 preallocated slots: batch k
 * always goes to slot k % n_slots. Batches [tail, head) are claimed; a worker may claim
 * batch `head` once head < tail + n_slots, i.e. its slot has been released by the
 * consumer. ft_loader_next hands out batch `tail` once its slot is READY and keeps it (the
 * caller may read it until the next call), so up to `prefetch` batches are in flight
 * while the caller works on one. With workers == 0, ft_loader_next fills the one slot
 * itself.
 *
 * Restarting (ft_loader_start mid-epoch) stops new claims, waits until no worker is
 * filling a slot (a get() cannot be interrupted), then resets every slot and the
 * permutation. ft_loader_free does the same, then joins the threads.
 *
 * Memory: everything (permutation, slots, threads) is allocated in ft_loader_new;
 * start/next never allocate. A failing get() in a worker copies its message into the
 * slot; ft_loader_next re-raises it on the caller's thread when it reaches that batch,
 * so errors are reported in batch order and identically for any number of workers. */
#include "finetune/train.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOADER_MAX_WORKERS 256
#define LOADER_MAX_PREFETCH 4096
#define LOADER_MSG 1024

typedef enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_ERROR } slot_state;

typedef struct {
    ft_batch b;
    slot_state state;
    ft_status err;
    char msg[LOADER_MSG];
} slot;

struct ft_loader {
    ft_dataset *ds;
    ft_loader_config cfg;
    int64_t n_batches;
    size_t x_bytes;         /* bytes per example */
    int64_t *perm;          /* n */
    int64_t (*sortbuf)[2];  /* n (length, position) pairs for length grouping, or NULL */
    const int64_t *lengths; /* ft_loader_group_by_length */
    int64_t group;
    slot *slots;
    int n_slots;

    pthread_t *threads;
    int n_threads;          /* started successfully */
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* workers wait: something to claim, or shutdown */
    pthread_cond_t cv_done; /* caller waits: a slot finished, or no fill in flight */
    bool sync_ok;           /* mutex and condvars initialised */

    /* All below guarded by mu. */
    bool started;           /* ft_loader_start succeeded at least once */
    bool active;            /* workers may claim batches of the current epoch */
    bool shutdown;
    bool held;              /* the caller holds batch `tail` */
    bool failed;            /* the epoch stopped on an error (sticky until the next start) */
    ft_status fail_st;
    char fail_msg[LOADER_MSG];
    int64_t epoch, head, tail;
    int in_flight;          /* slots being filled */
    bool fetch;             /* call get() (ft_loader_set_fetch); read by fillers of the current epoch */
    bool fetch_next;        /* takes effect at the next start */
};

int64_t ft_loader_batches_per_epoch(const ft_loader *l) { return l->n_batches; }

/* Fill slot s with batch k of the current epoch. Called with mu NOT held: s is owned by
 * the filler (state FILLING, or workers == 0), and perm/epoch do not change while a fill
 * is in flight. Returns the get() status; on failure the message is in s->msg. On the
 * caller's thread (workers == 0) the caller's last error message is left as it was. */
static ft_status fill_batch(ft_loader *l, slot *s, int64_t epoch, int64_t k, bool on_caller) {
    char saved[LOADER_MSG];
    bool restore = on_caller;
    if (restore) snprintf(saved, sizeof saved, "%s", ft_errmsg());
    int64_t bs = l->cfg.batch_size, n = l->ds->n;
    int64_t lo = k * bs, hi = lo + bs < n ? lo + bs : n;
    s->b.n = hi - lo;
    s->b.rows = l->cfg.pad_last && hi - lo < bs ? bs : hi - lo;
    s->b.epoch = epoch;
    s->b.index = k;
    uint8_t *x = s->b.x;
    const ft_sample_ctx ctx = {l->cfg.seed, epoch, l->cfg.augment};
    for (int64_t j = lo; j < hi; j++) s->b.idx[j - lo] = l->perm[j];
    for (int64_t j = lo; j < hi && l->fetch; j++) {
        int64_t i = l->perm[j];
        ft_clear_error();
        ft_status st = l->ds->get(l->ds, i, &ctx, x + (size_t)(j - lo) * l->x_bytes, &s->b.y[j - lo]);
        if (st) {
            const char *m = ft_errmsg();
            snprintf(s->msg, sizeof s->msg, "%s: example %lld (batch %lld of epoch %lld): %s",
                     l->ds->name, (long long)i, (long long)k, (long long)epoch,
                     m[0] ? m : ft_status_name(st));
            return st;
        }
    }
    for (int64_t j = s->b.n; j < s->b.rows; j++) { /* pad_last: repeat the last example */
        s->b.idx[j] = s->b.idx[s->b.n - 1];
        if (!l->fetch) continue;
        s->b.y[j] = s->b.y[s->b.n - 1];
        memcpy(x + (size_t)j * l->x_bytes, x + (size_t)(s->b.n - 1) * l->x_bytes, l->x_bytes);
    }
    if (restore && saved[0]) ft_fail(FT_OK, "%s", saved);
    else if (restore) ft_clear_error();
    return FT_OK;
}

static void *worker_main(void *arg) {
    ft_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->shutdown &&
               !(l->active && l->head < l->n_batches && l->head < l->tail + l->n_slots))
            pthread_cond_wait(&l->cv_work, &l->mu);
        if (l->shutdown) break;
        int64_t k = l->head++;
        int64_t epoch = l->epoch;
        slot *s = &l->slots[k % l->n_slots];
        s->state = SLOT_FILLING;
        l->in_flight++;
        pthread_mutex_unlock(&l->mu);

        ft_status st = fill_batch(l, s, epoch, k, false);

        pthread_mutex_lock(&l->mu);
        s->err = st;
        s->state = st ? SLOT_ERROR : SLOT_READY;
        l->in_flight--;
        pthread_cond_broadcast(&l->cv_done);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Stop claims and wait for fills in flight to finish. Called with mu held. */
static void quiesce(ft_loader *l) {
    l->active = false;
    while (l->in_flight > 0) pthread_cond_wait(&l->cv_done, &l->mu);
}

void ft_loader_free(ft_loader *l) {
    if (!l) return;
    if (l->sync_ok) {
        pthread_mutex_lock(&l->mu);
        quiesce(l);
        l->shutdown = true;
        pthread_cond_broadcast(&l->cv_work);
        pthread_mutex_unlock(&l->mu);
        for (int t = 0; t < l->n_threads; t++) pthread_join(l->threads[t], NULL);
        pthread_cond_destroy(&l->cv_work);
        pthread_cond_destroy(&l->cv_done);
        pthread_mutex_destroy(&l->mu);
    }
    if (l->slots)
        for (int i = 0; i < l->n_slots; i++) {
            ft_free_aligned(l->slots[i].b.x);
            ft_free(l->slots[i].b.y);
            ft_free(l->slots[i].b.idx);
        }
    ft_free(l->slots);
    ft_free(l->threads);
    ft_free(l->perm);
    ft_free(l->sortbuf);
    ft_free(l);
}

static size_t dtype_size(ft_dtype t) {
    switch (t) {
    case FT_F32: return sizeof(float);
    case FT_I32: return sizeof(int32_t);
    }
    return 0;
}

ft_status ft_loader_new(ft_dataset *ds, const ft_loader_config *cfg, ft_loader **out) {
    *out = NULL;
    if (!ds || !ds->get || !cfg) return ft_fail(FT_EINVAL, "ft_loader_new: no dataset or config");
    if (cfg->batch_size < 1) return ft_fail(FT_EINVAL, "batch size %lld must be >= 1", (long long)cfg->batch_size);
    if (cfg->workers < 0 || cfg->workers > LOADER_MAX_WORKERS)
        return ft_fail(FT_EINVAL, "loader workers %d not in [0, %d]", cfg->workers, LOADER_MAX_WORKERS);
    if (cfg->prefetch < 1 || cfg->prefetch > LOADER_MAX_PREFETCH)
        return ft_fail(FT_EINVAL, "loader prefetch %d not in [1, %d]", cfg->prefetch, LOADER_MAX_PREFETCH);
    if (ds->n < 0 || ds->x_numel < 0) return ft_fail(FT_EINVAL, "dataset %s has a negative size", ds->name);
    size_t esz = dtype_size(ds->x_dtype);
    if (!esz) return ft_fail(FT_EUNSUPPORTED, "dataset %s: unknown input dtype %d", ds->name, (int)ds->x_dtype);

    ft_loader *l = ft_calloc(1, sizeof *l);
    if (!l) return ft_fail(FT_ENOMEM, "out of memory for a loader");
    l->ds = ds;
    l->cfg = *cfg;
    l->x_bytes = (size_t)ds->x_numel * esz;
    l->n_batches = cfg->drop_last ? ds->n / cfg->batch_size
                                  : ds->n / cfg->batch_size + (ds->n % cfg->batch_size != 0);
    int64_t bs = cfg->pad_last || cfg->batch_size < ds->n ? cfg->batch_size : (ds->n > 0 ? ds->n : 1);
    l->n_slots = cfg->workers > 0 ? cfg->prefetch + 1 : 1;
    l->perm = ft_malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *l->perm);
    l->slots = ft_calloc((size_t)l->n_slots, sizeof *l->slots);
    l->threads = cfg->workers > 0 ? ft_calloc((size_t)cfg->workers, sizeof *l->threads) : NULL;
    if (!l->perm || !l->slots || (cfg->workers > 0 && !l->threads)) goto oom;
    for (int i = 0; i < l->n_slots; i++) {
        l->slots[i].b.x = ft_malloc_aligned((size_t)bs * l->x_bytes);
        l->slots[i].b.y = ft_malloc((size_t)bs * sizeof(int32_t));
        l->slots[i].b.idx = ft_malloc((size_t)bs * sizeof(int64_t));
        if (!l->slots[i].b.x || !l->slots[i].b.y || !l->slots[i].b.idx) goto oom;
    }
    for (int64_t i = 0; i < ds->n; i++) l->perm[i] = i;
    l->fetch = l->fetch_next = true;

    if (pthread_mutex_init(&l->mu, NULL)) goto sync_fail;
    if (pthread_cond_init(&l->cv_work, NULL)) { pthread_mutex_destroy(&l->mu); goto sync_fail; }
    if (pthread_cond_init(&l->cv_done, NULL)) {
        pthread_cond_destroy(&l->cv_work);
        pthread_mutex_destroy(&l->mu);
        goto sync_fail;
    }
    l->sync_ok = true;
    for (int t = 0; t < cfg->workers; t++) {
        int rc = pthread_create(&l->threads[t], NULL, worker_main, l);
        if (rc) {
            ft_loader_free(l);
            return ft_fail(FT_ENOMEM, "cannot start loader worker thread %d of %d: %s", t + 1,
                           cfg->workers, strerror(rc));
        }
        l->n_threads++;
    }
    *out = l;
    return FT_OK;
oom:
    ft_loader_free(l);
    return ft_fail(FT_ENOMEM, "out of memory for a loader (%d slots of %lld examples of %s)",
                   cfg->workers > 0 ? cfg->prefetch + 1 : 1, (long long)bs, ds->name);
sync_fail:
    ft_loader_free(l);
    return ft_fail(FT_ENOMEM, "cannot create the loader's mutex/condition variables");
}

/* Longest first; equal lengths keep their position (a stable sort through the pair). */
static int by_len_desc(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? 1 : -1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Sort each run of l->group examples of the epoch's order by length (l->lengths). */
static void group_by_length(ft_loader *l) {
    int64_t n = l->ds->n, g = l->group;
    for (int64_t lo = 0; lo < n; lo += g) {
        int64_t k = lo + g < n ? g : n - lo;
        for (int64_t j = 0; j < k; j++) {
            l->sortbuf[j][0] = l->lengths[l->perm[lo + j]];
            l->sortbuf[j][1] = lo + j;
        }
        qsort(l->sortbuf, (size_t)k, sizeof *l->sortbuf, by_len_desc);
        /* sortbuf[j][1] are positions; read the examples before overwriting them */
        for (int64_t j = 0; j < k; j++) l->sortbuf[j][0] = l->perm[l->sortbuf[j][1]];
        for (int64_t j = 0; j < k; j++) l->perm[lo + j] = l->sortbuf[j][0];
    }
}

ft_status ft_loader_group_by_length(ft_loader *l, const int64_t *lengths, int64_t group) {
    if (!l) return ft_fail(FT_EINVAL, "ft_loader_group_by_length: no loader");
    if (group < 0) return ft_fail(FT_EINVAL, "loader length group %lld must be >= 0", (long long)group);
    bool on = group > 0 && lengths && l->ds->n > 0;
    if (on && !l->sortbuf && !(l->sortbuf = ft_malloc((size_t)l->ds->n * sizeof *l->sortbuf)))
        return ft_fail(FT_ENOMEM, "out of memory for grouping %lld examples by length", (long long)l->ds->n);
    pthread_mutex_lock(&l->mu);
    l->lengths = on ? lengths : NULL;
    l->group = on ? group : 0;
    pthread_mutex_unlock(&l->mu);
    return FT_OK;
}

void ft_loader_set_fetch(ft_loader *l, bool fetch) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->fetch_next = fetch;
    pthread_mutex_unlock(&l->mu);
}

ft_status ft_loader_start(ft_loader *l, int64_t epoch, int64_t start_batch) {
    if (!l) return ft_fail(FT_EINVAL, "ft_loader_start: no loader");
    if (epoch < 0) return ft_fail(FT_EINVAL, "epoch %lld is negative", (long long)epoch);
    if (start_batch < 0 || start_batch > l->n_batches)
        return ft_fail(FT_EINVAL, "start batch %lld not in [0, %lld] (batches per epoch)",
                       (long long)start_batch, (long long)l->n_batches);
    pthread_mutex_lock(&l->mu);
    quiesce(l);
    for (int i = 0; i < l->n_slots; i++) l->slots[i].state = SLOT_FREE;
    if (l->cfg.shuffle) ft_permutation(l->perm, l->ds->n, l->cfg.seed, (uint64_t)epoch);
    else for (int64_t i = 0; i < l->ds->n; i++) l->perm[i] = i;
    if (l->group > 0) group_by_length(l);
    l->epoch = epoch;
    l->fetch = l->fetch_next;
    l->head = l->tail = start_batch;
    l->held = false;
    l->failed = false;
    l->started = true;
    l->active = true;
    pthread_cond_broadcast(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    return FT_OK;
}

ft_status ft_loader_next(ft_loader *l, ft_batch **out) {
    *out = NULL;
    if (!l) return ft_fail(FT_EINVAL, "ft_loader_next: no loader");
    pthread_mutex_lock(&l->mu);
    if (!l->started) {
        pthread_mutex_unlock(&l->mu);
        return ft_fail(FT_EINVAL, "ft_loader_next called before ft_loader_start");
    }
    if (l->failed) {
        ft_status st = ft_fail(l->fail_st, "%s", l->fail_msg);
        pthread_mutex_unlock(&l->mu);
        return st;
    }
    if (l->held) {
        /* Release the batch handed out last time; its slot may take batch tail + n_slots. */
        l->slots[l->tail % l->n_slots].state = SLOT_FREE;
        l->tail++;
        l->held = false;
        pthread_cond_broadcast(&l->cv_work);
    }
    if (l->tail >= l->n_batches) {
        pthread_mutex_unlock(&l->mu);
        return FT_OK;
    }
    slot *s = &l->slots[l->tail % l->n_slots];
    ft_status st;
    if (l->n_threads == 0) {
        pthread_mutex_unlock(&l->mu);
        st = fill_batch(l, s, l->epoch, l->tail, true);
        pthread_mutex_lock(&l->mu);
    } else {
        while (s->state != SLOT_READY && s->state != SLOT_ERROR)
            pthread_cond_wait(&l->cv_done, &l->mu);
        st = s->state == SLOT_ERROR ? s->err : FT_OK;
    }
    if (st) {
        l->failed = true;
        l->fail_st = st;
        memcpy(l->fail_msg, s->msg, sizeof l->fail_msg);
        l->active = false;
        ft_fail(st, "%s", l->fail_msg);
        pthread_mutex_unlock(&l->mu);
        return st;
    }
    l->held = true;
    *out = &s->b;
    pthread_mutex_unlock(&l->mu);
    return FT_OK;
}
