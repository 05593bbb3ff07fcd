/* finetune core: status codes, error messages, allocation and I/O hooks, threads.
 *
 * Every library call that can fail returns an ft_status. On failure the call also
 * leaves a one-line message, naming the file, tensor or value at fault, that
 * ft_errmsg() returns (per thread, valid until the next failing call on that thread).
 * The library never calls exit() or abort() on user input, a bad file or out-of-memory. */
#ifndef FINETUNE_CORE_H
#define FINETUNE_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FT_OK = 0,
    FT_EINVAL,    /* bad argument, flag or config value */
    FT_ENOMEM,    /* out of memory */
    FT_EIO,       /* read/write failure (disk full, unwritable path, ...) */
    FT_EFORMAT,   /* file is truncated, corrupt or not the expected format */
    FT_ESHAPE,    /* tensor shapes do not fit together */
    FT_ENOTFOUND, /* a named tensor, file or key is missing */
    FT_EINTR,     /* interrupted by SIGINT/SIGTERM (a checkpoint was written) */
    FT_EUNSUPPORTED,
    FT_STATUS_COUNT
} ft_status;

const char *ft_status_name(ft_status s);

/* Message of the last failure on this thread ("" if none). */
const char *ft_errmsg(void);
/* Record a failure: formats the message and returns `s`, so `return ft_fail(...)` reads well. */
ft_status ft_fail(ft_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context ("loading x.safetensors: <old message>"). */
ft_status ft_fail_context(ft_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ft_clear_error(void);

/* All library allocations go through these. They count calls, so tests can prove that a
 * warmed-up training step allocates nothing, and can make the Nth allocation fail. */
void *ft_malloc(size_t n);
void *ft_calloc(size_t count, size_t size);
void *ft_realloc(void *p, size_t n);
void  ft_free(void *p);
char *ft_strdup(const char *s);
/* 64-byte aligned, for tensor arenas. Free with ft_free_aligned. */
void *ft_malloc_aligned(size_t n);
void  ft_free_aligned(void *p);
uint64_t ft_alloc_count(void);          /* malloc/calloc/realloc calls so far (all threads) */
void ft_alloc_fail_after(int64_t n);    /* test hook: the (n+1)th allocation from now fails; -1 = off */

/* Test hook for I/O: the (n+1)th ft_write_all from now fails with ENOSPC; -1 = off. */
void ft_io_fail_write_after(int64_t n);

/* Threads for our OpenMP kernels and OpenBLAS. We link OpenBLAS's OpenMP build, so both
 * use one OpenMP pool, and BLAS is only called from serial code (never nested). */
void ft_set_num_threads(int n);
int  ft_get_num_threads(void);

/* Library version string. */
const char *ft_version(void);

#ifdef __cplusplus
}
#endif
#endif
