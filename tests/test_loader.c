/* Loader: coverage and order of batches, identical output for any worker count, per-epoch
 * shuffles, drop_last, resume, restart mid-epoch, error propagation from a worker, zero
 * allocations per epoch after warm-up, and clean shutdown mid-epoch. */
#include "test.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Synthetic dataset: x = [i, i + 0.5, -i], y = i % 7; get(fail_at) fails. */
typedef struct {
    atomic_llong fail_at;
    int delay_us;
} synth;

static ft_status synth_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    synth *s = ds->impl;
    if (i < 0 || i >= ds->n) return ft_fail(FT_EINVAL, "synth: index %lld out of range", (long long)i);
    if (i == atomic_load(&s->fail_at)) return ft_fail(FT_EIO, "synthetic failure at %lld", (long long)i);
    if (s->delay_us) {
        struct timespec ts = {0, (long)s->delay_us * 1000};
        nanosleep(&ts, NULL);
    }
    float *xf = x;
    xf[0] = (float)i; xf[1] = (float)i + 0.5f; xf[2] = -(float)i;
    *y = (int32_t)(i % 7);
    return FT_OK;
}

static void synth_init(ft_dataset *ds, synth *s, int64_t n) {
    memset(ds, 0, sizeof *ds);
    atomic_store(&s->fail_at, -1);
    s->delay_us = 0;
    ds->n = n;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 1;
    ds->x_shape[0] = 3;
    ds->x_numel = 3;
    ds->n_classes = 7;
    ds->get = synth_get;
    ds->impl = s;
    snprintf(ds->name, sizeof ds->name, "synth");
}

static ft_loader_config config(int64_t bs, bool shuffle, bool drop_last, int workers, int prefetch) {
    ft_loader_config c = {.batch_size = bs, .shuffle = shuffle, .drop_last = drop_last, .seed = 1234,
                          .workers = workers, .prefetch = prefetch};
    return c;
}

/* Runs one epoch from start_batch; writes example ids in order to ids[] and the batch
 * sizes to sizes[]. Checks every batch's bookkeeping and contents. Returns examples seen,
 * or -1 on a loader error. */
static int64_t run_epoch(ft_loader *l, int64_t epoch, int64_t start, int64_t *ids, int64_t *sizes, int64_t *n_batches) {
    if (ft_loader_start(l, epoch, start) != FT_OK) return -1;
    int64_t seen = 0, k = start, bad = 0;
    *n_batches = 0;
    for (;;) {
        ft_batch *b = NULL;
        if (ft_loader_next(l, &b) != FT_OK) return -1;
        if (!b) break;
        if (b->epoch != epoch || b->index != k) bad++;
        const float *x = b->x;
        for (int64_t j = 0; j < b->n; j++) {
            int64_t i = (int64_t)x[3 * j];
            if (x[3 * j + 1] != (float)i + 0.5f || x[3 * j + 2] != -(float)i || b->y[j] != i % 7) bad++;
            ids[seen++] = i;
        }
        sizes[(*n_batches)++] = b->n;
        k++;
    }
    CHECKF(bad == 0, "%lld malformed batches/examples in epoch %lld", (long long)bad, (long long)epoch);
    return seen;
}

static bool is_perm(const int64_t *p, int64_t n) {
    char *seen = calloc((size_t)n + 1, 1);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) ok = false;
        else seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

enum { N = 103, BS = 10 };

static void test_coverage_and_order(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, N);
    int64_t ref[3][N], ids[N], sizes[N], nb, perm[N];
    /* Reference: workers = 0. */
    ft_loader *l;
    ft_loader_config c = config(BS, true, false, 0, 1);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    CHECK(ft_loader_batches_per_epoch(l) == 11);
    for (int e = 0; e < 3; e++) {
        CHECK(run_epoch(l, e, 0, ref[e], sizes, &nb) == N);
        CHECK(nb == 11);
        for (int k = 0; k < 10; k++) CHECK(sizes[k] == BS);
        CHECK(sizes[10] == 3); /* partial last batch */
        CHECK(is_perm(ref[e], N));
        ft_permutation(perm, N, 1234, (uint64_t)e);
        CHECK(!memcmp(ref[e], perm, sizeof perm));
    }
    CHECK(memcmp(ref[0], ref[1], sizeof ref[0]) && memcmp(ref[1], ref[2], sizeof ref[0]));
    ft_loader_free(l);

    /* The same batches for every worker count and ring size. */
    int workers[] = {1, 3, 8}, prefetch[] = {1, 2, 5};
    for (int w = 0; w < 3; w++)
        for (int p = 0; p < 3; p++) {
            c = config(BS, true, false, workers[w], prefetch[p]);
            CHECK_OK(ft_loader_new(&ds, &c, &l));
            for (int e = 0; e < 3; e++) {
                CHECK(run_epoch(l, e, 0, ids, sizes, &nb) == N);
                CHECKF(!memcmp(ids, ref[e], sizeof ids), "workers %d prefetch %d epoch %d differ",
                       workers[w], prefetch[p], e);
            }
            ft_loader_free(l);
        }

    /* No shuffle: identity order. */
    c = config(BS, false, false, 2, 2);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    for (int e = 0; e < 2; e++) {
        CHECK(run_epoch(l, e, 0, ids, sizes, &nb) == N);
        bool ident = true;
        for (int i = 0; i < N; i++) ident &= ids[i] == i;
        CHECK(ident);
    }
    ft_loader_free(l);

    /* drop_last: 10 full batches, the first 100 examples of the permutation. */
    for (int w = 0; w <= 3; w += 3) {
        c = config(BS, true, true, w, 2);
        CHECK_OK(ft_loader_new(&ds, &c, &l));
        CHECK(ft_loader_batches_per_epoch(l) == 10);
        CHECK(run_epoch(l, 1, 0, ids, sizes, &nb) == 100);
        CHECK(nb == 10 && sizes[9] == BS);
        CHECK(!memcmp(ids, ref[1], 100 * sizeof ids[0]));
        ft_loader_free(l);
    }

    /* Batch larger than the dataset; batch of 1. */
    c = config(500, true, false, 2, 2);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    CHECK(run_epoch(l, 0, 0, ids, sizes, &nb) == N && nb == 1 && sizes[0] == N);
    ft_loader_free(l);
    c = config(500, true, true, 2, 2);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    CHECK(ft_loader_batches_per_epoch(l) == 0);
    CHECK(run_epoch(l, 0, 0, ids, sizes, &nb) == 0 && nb == 0);
    ft_loader_free(l);
    c = config(1, true, false, 3, 4);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    CHECK(run_epoch(l, 2, 0, ids, sizes, &nb) == N && nb == N);
    CHECK(!memcmp(ids, ref[2], sizeof ids));
    ft_loader_free(l);

    /* Empty dataset. */
    ft_dataset empty;
    synth se;
    synth_init(&empty, &se, 0);
    c = config(4, true, false, 2, 2);
    CHECK_OK(ft_loader_new(&empty, &c, &l));
    CHECK(ft_loader_batches_per_epoch(l) == 0);
    CHECK(run_epoch(l, 0, 0, ids, sizes, &nb) == 0);
    ft_loader_free(l);
}

static void test_resume_and_restart(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, N);
    int64_t full[N], ids[N], sizes[N], nb;
    for (int w = 0; w <= 3; w += 3) {
        ft_loader *l;
        ft_loader_config c = config(BS, true, false, w, 2);
        CHECK_OK(ft_loader_new(&ds, &c, &l));
        CHECK(run_epoch(l, 5, 0, full, sizes, &nb) == N);
        /* Resume at batch 4: the remaining batches equal the full epoch's. */
        CHECK(run_epoch(l, 5, 4, ids, sizes, &nb) == N - 40);
        CHECK(nb == 7 && !memcmp(ids, full + 40, (N - 40) * sizeof ids[0]));
        CHECK(run_epoch(l, 5, 11, ids, sizes, &nb) == 0);
        CHECK_ERR(ft_loader_start(l, 5, 12), FT_EINVAL);
        CHECK_ERR(ft_loader_start(l, 5, -1), FT_EINVAL);
        CHECK_ERR(ft_loader_start(l, -1, 0), FT_EINVAL);

        /* Restart while the previous epoch is in flight. */
        for (int taken = 0; taken < 4; taken++) {
            CHECK_OK(ft_loader_start(l, 3, 0));
            ft_batch *b;
            for (int t = 0; t < taken; t++) CHECK_OK(ft_loader_next(l, &b));
            CHECK(run_epoch(l, 5, 0, ids, sizes, &nb) == N);
            CHECK(!memcmp(ids, full, sizeof ids));
        }
        /* Restart the same epoch in the middle, at a later batch. */
        ft_batch *b;
        CHECK_OK(ft_loader_start(l, 5, 0));
        CHECK_OK(ft_loader_next(l, &b));
        CHECK_OK(ft_loader_next(l, &b));
        CHECK(run_epoch(l, 5, 9, ids, sizes, &nb) == N - 90);
        CHECK(!memcmp(ids, full + 90, (N - 90) * sizeof ids[0]));
        /* After the end, next keeps returning NULL. */
        CHECK_OK(ft_loader_next(l, &b));
        CHECK(b == NULL);
        ft_loader_free(l);
    }
}

static void test_errors(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, N);
    ft_loader *l = NULL;
    ft_loader_config c = config(0, true, false, 0, 1);
    CHECK_ERR(ft_loader_new(&ds, &c, &l), FT_EINVAL);
    c = config(4, true, false, -1, 1);
    CHECK_ERR(ft_loader_new(&ds, &c, &l), FT_EINVAL);
    c = config(4, true, false, 2, 0);
    CHECK_ERR(ft_loader_new(&ds, &c, &l), FT_EINVAL);
    CHECK(l == NULL);
    c = config(4, true, false, 2, 2);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    ft_batch *b;
    CHECK_ERR(ft_loader_next(l, &b), FT_EINVAL);
    ft_loader_free(l);

    /* A failing get(): the error comes out of next() at the batch that holds the bad
     * example, with its message, the same for every worker count. */
    int64_t perm[N];
    ft_permutation(perm, N, 1234, 2);
    int64_t bad_example = perm[57]; /* position 57 -> batch 5 */
    for (int w = 0; w <= 4; w += 2) {
        atomic_store(&s.fail_at, bad_example);
        c = config(BS, true, false, w, 3);
        CHECK_OK(ft_loader_new(&ds, &c, &l));
        CHECK_OK(ft_loader_start(l, 2, 0));
        int got = 0;
        ft_status st;
        while ((st = ft_loader_next(l, &b)) == FT_OK && b) got++;
        CHECK(got == 5);
        CHECK(st == FT_EIO);
        char want[64];
        snprintf(want, sizeof want, "synthetic failure at %lld", (long long)bad_example);
        CHECKF(strstr(ft_errmsg(), want) != NULL, "message: %s", ft_errmsg());
        CHECKF(strstr(ft_errmsg(), "batch 5") != NULL, "message: %s", ft_errmsg());
        /* The error sticks until the next start. */
        ft_clear_error();
        CHECK_ERR(ft_loader_next(l, &b), FT_EIO);
        CHECK(strstr(ft_errmsg(), want) != NULL);
        /* Another epoch puts the bad example elsewhere; with it fixed, all is well again. */
        atomic_store(&s.fail_at, -1);
        int64_t ids[N], sizes[N], nb;
        CHECK(run_epoch(l, 2, 0, ids, sizes, &nb) == N);
        CHECK(!memcmp(ids, perm, sizeof ids));
        /* A failure in the last batch. */
        atomic_store(&s.fail_at, perm[N - 1]);
        CHECK_OK(ft_loader_start(l, 2, 0));
        got = 0;
        while ((st = ft_loader_next(l, &b)) == FT_OK && b) got++;
        CHECK(got == 10 && st == FT_EIO);
        atomic_store(&s.fail_at, -1);
        ft_loader_free(l);
    }
}

/* After one warm-up epoch, start + next allocate nothing. */
static void test_no_alloc(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, N);
    int64_t ids[N], sizes[N], nb;
    for (int w = 0; w <= 3; w += 3) {
        ft_loader *l;
        ft_loader_config c = config(BS, true, false, w, 3);
        CHECK_OK(ft_loader_new(&ds, &c, &l));
        CHECK(run_epoch(l, 0, 0, ids, sizes, &nb) == N);
        uint64_t before = ft_alloc_count();
        CHECK(run_epoch(l, 1, 0, ids, sizes, &nb) == N);
        CHECK(run_epoch(l, 2, 3, ids, sizes, &nb) == N - 30);
        ft_batch *b;
        CHECK_OK(ft_loader_start(l, 3, 0));
        CHECK_OK(ft_loader_next(l, &b));
        uint64_t after = ft_alloc_count();
        CHECKF(after == before, "workers %d: %llu allocations", w, (unsigned long long)(after - before));
        ft_loader_free(l);
    }
    /* ft_loader_new fails cleanly at every allocation. */
    bool done = false;
    for (int k = 0; k < 64 && !done; k++) {
        ft_loader *l = NULL;
        ft_loader_config c = config(BS, true, false, 3, 2);
        ft_alloc_fail_after(k);
        ft_status st = ft_loader_new(&ds, &c, &l);
        ft_alloc_fail_after(-1);
        if (st == FT_OK) done = true;
        else CHECK(st == FT_ENOMEM && l == NULL);
        ft_loader_free(l);
    }
    CHECK(done);
}

/* Freeing mid-epoch joins the workers while they are busy. */
static void test_free_mid_epoch(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, N);
    s.delay_us = 200;
    for (int taken = 0; taken < 3; taken++) {
        ft_loader *l;
        ft_loader_config c = config(4, true, false, 4, 3);
        CHECK_OK(ft_loader_new(&ds, &c, &l));
        CHECK_OK(ft_loader_start(l, 0, 0));
        ft_batch *b;
        for (int t = 0; t < taken; t++) {
            CHECK_OK(ft_loader_next(l, &b));
            CHECK(b && b->n == 4);
        }
        ft_loader_free(l);
    }
    ft_loader *l;
    ft_loader_config c = config(4, true, false, 2, 2);
    CHECK_OK(ft_loader_new(&ds, &c, &l)); /* never started */
    ft_loader_free(l);
    ft_loader_free(NULL);
}

/* Many short epochs with restarts at odd moments (races show up under the sanitizers). */
static void test_stress(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, 37);
    int64_t ref[37], perm[37];
    ft_loader *l;
    ft_loader_config c = config(3, true, false, 4, 1);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    int bad = 0;
    for (int e = 0; e < 300; e++) {
        ft_permutation(perm, 37, 1234, (uint64_t)e);
        CHECK_OK(ft_loader_start(l, e, 0));
        ft_batch *b;
        int64_t seen = 0;
        int stop = e % 5 == 4 ? e % 13 : 1000;
        for (int k = 0; k < stop; k++) {
            if (ft_loader_next(l, &b) != FT_OK) { bad++; break; }
            if (!b) break;
            for (int64_t j = 0; j < b->n; j++) ref[seen++] = (int64_t)((float *)b->x)[3 * j];
        }
        if (memcmp(ref, perm, (size_t)seen * sizeof ref[0])) bad++;
        if (stop == 1000 && seen != 37) bad++;
    }
    CHECK(bad == 0);
    ft_loader_free(l);
}

/* Length grouping: each run of `group` examples of the shuffled order is sorted longest first
 * (ties in order), every example once per epoch, the same batches for any worker count, a
 * different grouping each epoch; group >= n without shuffling sorts the whole set. */
static void test_group_by_length(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, N);
    int64_t len[N];
    for (int64_t i = 0; i < N; i++) len[i] = (i * 37) % 11; /* many ties */
    enum { G = 3 * BS };
    int64_t ids[2][N], ref[N], plain[N], sizes[N], nb;
    for (int w = 0; w < 2; w++) {
        ft_loader_config c = config(BS, true, false, w ? 3 : 0, 2);
        ft_loader *l = NULL;
        CHECK_OK(ft_loader_new(&ds, &c, &l));
        if (!l) return;
        CHECK_OK(ft_loader_group_by_length(l, len, G));
        for (int64_t e = 0; e < 2; e++) {
            int64_t *out = e == 0 ? ids[w] : ref;
            CHECK(run_epoch(l, e, 0, out, sizes, &nb) == N && is_perm(out, N));
        }
        ft_loader_free(l);
    }
    CHECK(!memcmp(ids[0], ids[1], sizeof ids[0])); /* any worker count */
    CHECK(memcmp(ids[0], ref, sizeof ref) != 0);   /* epoch 1 differs from epoch 0 */
    /* the same runs as the plain shuffle, each sorted by length with ties in shuffled order */
    ft_loader_config c = config(BS, true, false, 0, 1);
    ft_loader *l = NULL;
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    if (!l) return;
    CHECK(run_epoch(l, 0, 0, plain, sizes, &nb) == N);
    ft_loader_free(l);
    bool ok = true;
    for (int64_t lo = 0; lo < N; lo += G) {
        int64_t k = lo + G < N ? G : N - lo;
        for (int64_t j = 0; j < k && ok; j++) {
            bool in_run = false;
            for (int64_t q = 0; q < k; q++) in_run |= plain[lo + q] == ids[0][lo + j];
            ok = in_run;
            if (ok && j > 0) {
                int64_t a = ids[0][lo + j - 1], b = ids[0][lo + j];
                ok = len[a] > len[b];
                if (len[a] == len[b]) { /* ties keep the shuffled order */
                    int64_t pa = 0, pb = 0;
                    for (int64_t q = 0; q < k; q++) { if (plain[lo + q] == a) pa = q; if (plain[lo + q] == b) pb = q; }
                    ok = pa < pb;
                }
            }
        }
    }
    CHECKF(ok, "length grouping: a run is not sorted longest first or mixes runs");
    /* no shuffle, group >= n: the whole set by length (evaluation order) */
    c = config(BS, false, false, 0, 1);
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    if (!l) return;
    CHECK_OK(ft_loader_group_by_length(l, len, 1000));
    CHECK(run_epoch(l, 0, 0, plain, sizes, &nb) == N);
    ok = true;
    for (int64_t j = 1; j < N; j++) ok &= len[plain[j - 1]] > len[plain[j]] || (len[plain[j - 1]] == len[plain[j]] && plain[j - 1] < plain[j]);
    CHECK(ok);
    CHECK_ERR(ft_loader_group_by_length(l, len, -1), FT_EINVAL);
    CHECK_OK(ft_loader_group_by_length(l, NULL, 0)); /* off again: file order */
    CHECK(run_epoch(l, 0, 0, plain, sizes, &nb) == N);
    ok = true;
    for (int64_t j = 0; j < N; j++) ok &= plain[j] == j;
    CHECK(ok);
    ft_loader_free(l);
}

/* pad_last (models that run at one batch size only): the short last batch keeps n real
 * examples and fills rows up to the batch size with copies of its last one; drop_last with
 * shuffling drops other examples each epoch. */
static void test_pad_last(void) {
    ft_dataset ds;
    synth s;
    synth_init(&ds, &s, N);
    for (int w = 0; w <= 2; w += 2) {
        ft_loader_config c = config(BS, false, false, w, 2);
        c.pad_last = true;
        ft_loader *l = NULL;
        CHECK_OK(ft_loader_new(&ds, &c, &l));
        if (!l) continue;
        CHECK(ft_loader_batches_per_epoch(l) == N / BS + 1);
        CHECK_OK(ft_loader_start(l, 0, 0));
        int64_t seen = 0, bad = 0;
        ft_batch *b = NULL;
        while (ft_loader_next(l, &b) == FT_OK && b) {
            const float *x = b->x;
            bool last = b->index == N / BS;
            if (b->n != (last ? N % BS : BS) || b->rows != BS) bad++;
            for (int64_t j = 0; j < b->rows; j++) {
                int64_t want = b->index * BS + (j < b->n ? j : b->n - 1); /* unshuffled */
                if ((int64_t)x[3 * j] != want || b->idx[j] != want || b->y[j] != want % 7) bad++;
            }
            seen += b->n;
        }
        CHECKF(bad == 0 && seen == N, "pad_last (%d workers): %lld bad rows, %lld examples", w, (long long)bad, (long long)seen);
        ft_loader_free(l);
    }
    /* drop_last + shuffle: N % BS examples dropped each epoch, not the same ones every epoch */
    ft_loader_config c = config(BS, true, true, 0, 1);
    ft_loader *l = NULL;
    CHECK_OK(ft_loader_new(&ds, &c, &l));
    if (!l) return;
    int64_t ids[N], sizes[N], nb;
    char kept[2][N];
    memset(kept, 0, sizeof kept);
    for (int e = 0; e < 2; e++) {
        int64_t got = run_epoch(l, e, 0, ids, sizes, &nb);
        CHECK(got == N - N % BS && nb == N / BS);
        for (int64_t i = 0; i < got && i < N; i++) if (ids[i] >= 0 && ids[i] < N) kept[e][ids[i]] = 1;
    }
    CHECKF(memcmp(kept[0], kept[1], N) != 0, "drop_last with shuffling dropped the same examples in epochs 0 and 1");
    ft_loader_free(l);
}

int main(void) {
    test_group_by_length();
    test_coverage_and_order();
    test_resume_and_restart();
    test_errors();
    test_no_alloc();
    test_free_mid_epoch();
    test_stress();
    test_pad_last();
    TEST_END();
}
