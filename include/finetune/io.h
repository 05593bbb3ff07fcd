/* finetune I/O: safetensors read/write, atomic file writes. */
#ifndef FINETUNE_IO_H
#define FINETUNE_IO_H

#include "core.h"
#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FT_ST_F32, FT_ST_F16, FT_ST_BF16, FT_ST_F64, FT_ST_I32, FT_ST_I64, FT_ST_U8, FT_ST_I8, FT_ST_BOOL } ft_st_dtype;

typedef struct {
    char *name;
    ft_st_dtype dtype;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    const uint8_t *data;   /* points into the mapped file */
    size_t nbytes;
} ft_st_tensor;

/* A read-only safetensors file (mmap'd). Header, offsets and sizes are fully validated
 * on open: a truncated or corrupt file fails with FT_EFORMAT and a message naming it. */
typedef struct ft_safetensors {
    ft_st_tensor *t;
    int n;
    char **meta_keys, **meta_vals; /* __metadata__ (string -> string) */
    int n_meta;
    void *map; size_t map_size;
    char *path;
} ft_safetensors;

ft_status ft_st_open(const char *path, ft_safetensors **out);
/* Parse from memory (the fuzz target uses this). The buffer must outlive the result. */
ft_status ft_st_parse(const uint8_t *buf, size_t size, const char *label, ft_safetensors **out);
void ft_st_close(ft_safetensors *st);
const ft_st_tensor *ft_st_find(const ft_safetensors *st, const char *name);
const char *ft_st_meta(const ft_safetensors *st, const char *key); /* NULL if absent */
/* Convert any float/int dtype to float32 (dst has t->numel floats). */
ft_status ft_st_to_f32(const ft_st_tensor *t, float *dst);

/* Writer: collect tensors (F32 only, data borrowed until write), then write atomically. */
typedef struct ft_st_writer ft_st_writer;
ft_st_writer *ft_st_writer_new(void);
ft_status ft_st_writer_add(ft_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data);
ft_status ft_st_writer_meta(ft_st_writer *w, const char *key, const char *value);
ft_status ft_st_writer_write(ft_st_writer *w, const char *path); /* atomic */
void ft_st_writer_free(ft_st_writer *w);

/* Load every tensor of `st` whose name (after stripping `prefix`, may be NULL) is in
 * `ps`, checking shapes. strict: every parameter must be present. */
ft_status ft_params_load_st(ft_params *ps, const ft_safetensors *st, const char *prefix, bool strict);

/* Atomic write: data goes to "<path>.tmp.<pid>", is fsync'd, then renamed over path and
 * the directory fsync'd. On any failure the temp file is removed and `path` is untouched. */
typedef struct ft_atomic_file ft_atomic_file;
ft_status ft_atomic_open(const char *path, ft_atomic_file **out);
ft_status ft_atomic_write(ft_atomic_file *f, const void *data, size_t n);
ft_status ft_atomic_commit(ft_atomic_file *f);  /* frees f */
void ft_atomic_abort(ft_atomic_file *f);        /* frees f, removes the temp file */
ft_status ft_write_file_atomic(const char *path, const void *data, size_t n);

/* Whole-file read with a size cap; message names the path on failure. */
ft_status ft_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size);
/* mkdir -p; ENOTDIR/EEXIST-as-file give a clear message. */
ft_status ft_mkdirs(const char *path);

#ifdef __cplusplus
}
#endif
#endif
