/* Status messages, counted allocation with failure injection, thread settings. */
#include "finetune/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <omp.h>
#include <cblas.h>

/* openblas_set_num_threads is declared by OpenBLAS's cblas.h. */

static _Thread_local char err_buf[1024];

const char *ft_status_name(ft_status s) {
    static const char *names[] = {
        "ok", "invalid argument", "out of memory", "I/O error", "bad format",
        "shape mismatch", "not found", "interrupted", "unsupported",
    };
    _Static_assert(sizeof names / sizeof names[0] == FT_STATUS_COUNT, "status names");
    return (unsigned)s < FT_STATUS_COUNT ? names[s] : "unknown status";
}

const char *ft_errmsg(void) { return err_buf; }
void ft_clear_error(void) { err_buf[0] = 0; }

ft_status ft_fail(ft_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return s;
}

ft_status ft_fail_context(ft_status s, const char *fmt, ...) {
    char prefix[512], old[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    size_t np = strlen(prefix);
    if (np + 2 < sizeof err_buf) {
        memcpy(err_buf, prefix, np);
        memcpy(err_buf + np, ": ", 2);
        size_t rest = sizeof err_buf - np - 3;
        size_t no = strnlen(old, rest);
        memcpy(err_buf + np + 2, old, no);
        err_buf[np + 2 + no] = 0;
    }
    return s;
}

/* ---- allocation ---- */
static atomic_uint_fast64_t alloc_calls;
static atomic_int_fast64_t fail_countdown = -1;

static bool should_fail(void) {
    atomic_fetch_add(&alloc_calls, 1);
    int64_t c = atomic_load(&fail_countdown);
    if (c < 0) return false;
    if (c == 0) { atomic_store(&fail_countdown, -1); return true; }
    atomic_fetch_sub(&fail_countdown, 1);
    return false;
}

void *ft_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }
void *ft_calloc(size_t c, size_t s) { return should_fail() ? NULL : calloc(c ? c : 1, s ? s : 1); }
void *ft_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }
void ft_free(void *p) { free(p); }
char *ft_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ft_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
void *ft_malloc_aligned(size_t n) {
    if (should_fail()) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? (n + 63) / 64 * 64 : 64)) return NULL;
    return p;
}
void ft_free_aligned(void *p) { free(p); }
uint64_t ft_alloc_count(void) { return atomic_load(&alloc_calls); }
void ft_alloc_fail_after(int64_t n) { atomic_store(&fail_countdown, n); }

/* ---- threads ---- */
static int n_threads = 0;
void ft_set_num_threads(int n) {
    if (n < 1) n = 1;
    n_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}
int ft_get_num_threads(void) { return n_threads ? n_threads : omp_get_max_threads(); }

const char *ft_version(void) { return "0.1.0"; }
