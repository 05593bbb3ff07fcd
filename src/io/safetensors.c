/* safetensors: a validating read-only reader (mmap or memory), an F32 writer that goes
 * through ft_atomic_*, dtype conversion to float32, and loading into ft_params by name.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"k": "v"}}
 * then the data buffer; offsets are relative to the buffer start. As in the reference
 * implementation the tensors must tile the buffer exactly: sorted by offset, each begins
 * where the previous ended, the first at 0 and the last at the end of the file. */
#include "finetune/io.h"
#include "io/file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000ull /* the reference implementation's limit */
#define ST_MAX_DIMS 8

static const struct { const char *name; size_t size; } dtypes[] = {
    [FT_ST_F32] = {"F32", 4}, [FT_ST_F16] = {"F16", 2}, [FT_ST_BF16] = {"BF16", 2},
    [FT_ST_F64] = {"F64", 8}, [FT_ST_I32] = {"I32", 4}, [FT_ST_I64] = {"I64", 8},
    [FT_ST_U8] = {"U8", 1},   [FT_ST_I8] = {"I8", 1},   [FT_ST_BOOL] = {"BOOL", 1},
};
_Static_assert(sizeof dtypes / sizeof dtypes[0] == FT_ST_BOOL + 1, "dtype table");

/* Valid safetensors dtypes that we cannot convert: FT_EUNSUPPORTED rather than FT_EFORMAT. */
static const char *const other_dtypes[] = {
    "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
};

static const char *lbl(const char *label) { return label ? label : "<memory>"; }

/* ---- little-endian loads (data may be unaligned) ---- */

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t ld32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t ld64(const uint8_t *p) { return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* IEEE half -> float, exact for every input (subnormals, inf, NaN payloads). */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | man << 13);
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        float f = (float)man * 0x1p-24f; /* subnormal: man * 2^-24, exact in float */
        return sign ? -f : f;
    }
    return bits_f32(sign | (exp + 112) << 23 | man << 13);
}

/* ---- reader ---- */

void ft_st_close(ft_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) ft_free(st->t[i].name);
    ft_free(st->t);
    for (int i = 0; i < st->n_meta; i++) { ft_free(st->meta_keys[i]); ft_free(st->meta_vals[i]); }
    ft_free(st->meta_keys);
    ft_free(st->meta_vals);
    if (st->map) munmap(st->map, st->map_size);
    ft_free(st->path);
    ft_free(st);
}

static ft_status parse_dtype(const char *label, const char *name, json_t *v, ft_st_dtype *out) {
    if (!v) return ft_fail(FT_EFORMAT, "%s: tensor '%s' has no \"dtype\"", label, name);
    const char *s = json_string_value(v);
    if (!s) return ft_fail(FT_EFORMAT, "%s: tensor '%s': \"dtype\" is not a string", label, name);
    for (int d = 0; d <= FT_ST_BOOL; d++)
        if (!strcmp(s, dtypes[d].name)) { *out = (ft_st_dtype)d; return FT_OK; }
    for (size_t i = 0; i < sizeof other_dtypes / sizeof other_dtypes[0]; i++)
        if (!strcmp(s, other_dtypes[i]))
            return ft_fail(FT_EUNSUPPORTED, "%s: tensor '%s' has dtype %s, which is not supported", label, name, s);
    return ft_fail(FT_EFORMAT, "%s: tensor '%s' has unknown dtype \"%.40s\"", label, name, s);
}

static ft_status parse_shape(const char *label, const char *name, json_t *v, ft_st_tensor *t) {
    if (!v) return ft_fail(FT_EFORMAT, "%s: tensor '%s' has no \"shape\"", label, name);
    if (!json_is_array(v)) return ft_fail(FT_EFORMAT, "%s: tensor '%s': \"shape\" is not an array", label, name);
    size_t nd = json_array_size(v);
    if (nd > ST_MAX_DIMS)
        return ft_fail(FT_EUNSUPPORTED, "%s: tensor '%s' has %zu dimensions, at most %d are supported",
                       label, name, nd, ST_MAX_DIMS);
    bool zero = false;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(v, i);
        if (!json_is_integer(d))
            return ft_fail(FT_EFORMAT, "%s: tensor '%s': shape entry %zu is not an integer", label, name, i);
        json_int_t x = json_integer_value(d);
        if (x < 0)
            return ft_fail(FT_EFORMAT, "%s: tensor '%s': shape entry %zu is negative (%lld)", label, name, i,
                           (long long)x);
        t->shape[i] = (int64_t)x;
        if (x == 0) zero = true;
    }
    t->ndim = (int)nd;
    int64_t numel = 1;
    if (zero) numel = 0;
    else for (size_t i = 0; i < nd; i++) {
        if (numel > INT64_MAX / t->shape[i])
            return ft_fail(FT_EFORMAT, "%s: tensor '%s': element count of its shape overflows", label, name);
        numel *= t->shape[i];
    }
    t->numel = numel;
    return FT_OK;
}

static ft_status parse_offsets(const char *label, const char *name, json_t *v, uint64_t *b, uint64_t *e) {
    if (!v) return ft_fail(FT_EFORMAT, "%s: tensor '%s' has no \"data_offsets\"", label, name);
    if (!json_is_array(v) || json_array_size(v) != 2)
        return ft_fail(FT_EFORMAT, "%s: tensor '%s': \"data_offsets\" is not an array of two integers", label, name);
    json_t *jb = json_array_get(v, 0), *je = json_array_get(v, 1);
    if (!json_is_integer(jb) || !json_is_integer(je))
        return ft_fail(FT_EFORMAT, "%s: tensor '%s': \"data_offsets\" is not an array of two integers", label, name);
    json_int_t xb = json_integer_value(jb), xe = json_integer_value(je);
    if (xb < 0 || xe < 0)
        return ft_fail(FT_EFORMAT, "%s: tensor '%s': negative data_offsets [%lld,%lld]", label, name,
                       (long long)xb, (long long)xe);
    if (xe < xb)
        return ft_fail(FT_EFORMAT, "%s: tensor '%s': data_offsets [%lld,%lld] end before they begin", label, name,
                       (long long)xb, (long long)xe);
    *b = (uint64_t)xb;
    *e = (uint64_t)xe;
    return FT_OK;
}

typedef struct { uint64_t b, e; int idx; } span;

static int span_cmp(const void *x, const void *y) {
    const span *a = x, *b = y;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    if (a->e != b->e) return a->e < b->e ? -1 : 1;
    return a->idx - b->idx;
}

static ft_status parse_metadata(const char *label, json_t *m, ft_safetensors *st) {
    if (json_is_null(m)) return FT_OK;
    if (!json_is_object(m)) return ft_fail(FT_EFORMAT, "%s: \"__metadata__\" is not an object", label);
    size_t nm = json_object_size(m);
    if (nm == 0) return FT_OK;
    st->meta_keys = ft_calloc(nm, sizeof *st->meta_keys);
    st->meta_vals = ft_calloc(nm, sizeof *st->meta_vals);
    if (!st->meta_keys || !st->meta_vals) return ft_fail(FT_ENOMEM, "%s: out of memory reading metadata", label);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        const char *s = json_string_value(v);
        if (!s) return ft_fail(FT_EFORMAT, "%s: metadata value for key '%s' is not a string", label, k);
        int i = st->n_meta;
        st->meta_keys[i] = ft_strdup(k);
        st->meta_vals[i] = ft_strdup(s);
        if (st->meta_keys[i] || st->meta_vals[i]) st->n_meta++; /* so close frees a half pair */
        if (!st->meta_keys[i] || !st->meta_vals[i]) return ft_fail(FT_ENOMEM, "%s: out of memory reading metadata", label);
    }
    return FT_OK;
}

/* Parse the JSON header and fill st (tensors point into buf). Everything is checked. */
static ft_status parse_header(const uint8_t *buf, size_t size, const char *label, ft_safetensors *st) {
    if (size < 8)
        return ft_fail(FT_EFORMAT, "%s: file is %zu bytes, too short for a safetensors header (truncated?)", label, size);
    uint64_t hlen = ld64(buf);
    if (hlen > ST_MAX_HEADER)
        return ft_fail(FT_EFORMAT, "%s: header length %llu exceeds the limit of %llu bytes (not a safetensors file?)",
                       label, (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > size - 8)
        return ft_fail(FT_EFORMAT, "%s: header length %llu runs past the end of the %zu-byte file (truncated?)",
                       label, (unsigned long long)hlen, size);
    const uint8_t *data = buf + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && json_error_code(&jerr) == json_error_out_of_memory)
        return ft_fail(FT_ENOMEM, "%s: out of memory parsing the %llu-byte header", label, (unsigned long long)hlen);
    if (!root)
        return ft_fail(FT_EFORMAT, "%s: header is not valid JSON: %s (line %d, column %d)", label, jerr.text,
                       jerr.line, jerr.column);
    ft_status s = FT_OK;
    span *spans = NULL;
    if (!json_is_object(root)) { s = ft_fail(FT_EFORMAT, "%s: header is not a JSON object", label); goto done; }

    size_t total = json_object_size(root);
    json_t *meta = json_object_get(root, "__metadata__");
    size_t nt = total - (meta ? 1 : 0);
    if (nt > (size_t)INT32_MAX) { s = ft_fail(FT_EFORMAT, "%s: too many tensors", label); goto done; }
    if (meta && (s = parse_metadata(label, meta, st)) != FT_OK) goto done;
    if (nt > 0) {
        st->t = ft_calloc(nt, sizeof *st->t);
        spans = ft_malloc(nt * sizeof *spans);
        if (!st->t || !spans) { s = ft_fail(FT_ENOMEM, "%s: out of memory reading %zu tensor headers", label, nt); goto done; }
    }
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        if (!json_is_object(v)) { s = ft_fail(FT_EFORMAT, "%s: tensor '%s': entry is not a JSON object", label, name); goto done; }
        ft_st_tensor *t = &st->t[st->n];
        uint64_t b = 0, e = 0;
        if ((s = parse_dtype(label, name, json_object_get(v, "dtype"), &t->dtype)) != FT_OK) goto done;
        if ((s = parse_shape(label, name, json_object_get(v, "shape"), t)) != FT_OK) goto done;
        if ((s = parse_offsets(label, name, json_object_get(v, "data_offsets"), &b, &e)) != FT_OK) goto done;
        if (e > data_size) {
            s = ft_fail(FT_EFORMAT, "%s: tensor '%s': data_offsets [%llu,%llu] run past the end of the %zu-byte data (truncated?)",
                        label, name, (unsigned long long)b, (unsigned long long)e, data_size);
            goto done;
        }
        size_t dsz = dtypes[t->dtype].size;
        if ((uint64_t)t->numel > (e - b) / dsz || (uint64_t)t->numel * dsz != e - b) {
            char need[32] = "more than 2^64";
            if ((uint64_t)t->numel <= UINT64_MAX / dsz)
                snprintf(need, sizeof need, "%llu", (unsigned long long)t->numel * dsz);
            s = ft_fail(FT_EFORMAT, "%s: tensor '%s': %lld elements of %s need %s bytes, data_offsets [%llu,%llu] hold %llu",
                        label, name, (long long)t->numel, dtypes[t->dtype].name, need,
                        (unsigned long long)b, (unsigned long long)e, (unsigned long long)(e - b));
            goto done;
        }
        t->name = ft_strdup(name);
        if (!t->name) { s = ft_fail(FT_ENOMEM, "%s: out of memory", label); goto done; }
        t->data = data + b;
        t->nbytes = (size_t)(e - b);
        spans[st->n] = (span){b, e, st->n};
        st->n++;
    }
    /* The tensors must tile the data buffer: no overlap, no gap, nothing after the last. */
    if (st->n > 1) qsort(spans, (size_t)st->n, sizeof *spans, span_cmp);
    uint64_t at = 0;
    for (int i = 0; i < st->n; i++) {
        const span *p = &spans[i];
        if (p->b < at) {
            const span *q = &spans[i - 1];
            s = ft_fail(FT_EFORMAT, "%s: tensor '%s' data_offsets [%llu,%llu] overlap tensor '%s' [%llu,%llu]", label,
                        st->t[p->idx].name, (unsigned long long)p->b, (unsigned long long)p->e,
                        st->t[q->idx].name, (unsigned long long)q->b, (unsigned long long)q->e);
            goto done;
        }
        if (p->b > at) {
            s = ft_fail(FT_EFORMAT, "%s: tensor '%s' data_offsets [%llu,%llu] leave a gap of %llu unused bytes before it",
                        label, st->t[p->idx].name, (unsigned long long)p->b, (unsigned long long)p->e,
                        (unsigned long long)(p->b - at));
            goto done;
        }
        at = p->e;
    }
    if (at != data_size)
        s = ft_fail(FT_EFORMAT, "%s: %llu bytes after the end of the last tensor's data (header says %llu, data is %zu)",
                    label, (unsigned long long)(data_size - at), (unsigned long long)at, data_size);
done:
    ft_free(spans);
    json_decref(root);
    return s;
}

ft_status ft_st_parse(const uint8_t *buf, size_t size, const char *label, ft_safetensors **out) {
    *out = NULL;
    label = lbl(label);
    if (!buf && size) return ft_fail(FT_EINVAL, "%s: no buffer", label);
    ft_safetensors *st = ft_calloc(1, sizeof *st);
    if (!st) return ft_fail(FT_ENOMEM, "%s: out of memory", label);
    st->path = ft_strdup(label);
    if (!st->path) { ft_free(st); return ft_fail(FT_ENOMEM, "%s: out of memory", label); }
    ft_status s = parse_header(buf ? buf : (const uint8_t *)"", size, label, st);
    if (s != FT_OK) { ft_st_close(st); return s; }
    *out = st;
    return FT_OK;
}

ft_status ft_st_open(const char *path, ft_safetensors **out) {
    *out = NULL;
    if (!path || !*path) return ft_fail(FT_EINVAL, "safetensors: empty path");
    int fd;
    struct stat sb;
    ft_status os = ft_open_read(path, &fd, &sb);
    if (os) return os;
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ft_fail(FT_EIO, "cannot read '%s': not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return ft_fail(FT_EIO, "cannot map '%s' (%zu bytes): %s", path, size, strerror(e));
        }
    }
    close(fd); /* the mapping stays valid */
    ft_status s = ft_st_parse(map, size, path, out);
    if (s != FT_OK) {
        if (map) munmap(map, size);
        return s;
    }
    (*out)->map = map;
    (*out)->map_size = size;
    return FT_OK;
}

const ft_st_tensor *ft_st_find(const ft_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name)) return &st->t[i];
    return NULL;
}

const char *ft_st_meta(const ft_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_vals[i];
    return NULL;
}

/* double -> float without the undefined behaviour of an out-of-range conversion:
 * anything that would round past FLT_MAX becomes +-inf, as IEEE rounding would give. */
static float f64_to_f32(double d) {
    if (fabs(d) >= 0x1.ffffffp+127) return d < 0 ? -INFINITY : INFINITY;
    return (float)d;
}

ft_status ft_st_to_f32(const ft_st_tensor *t, float *dst) {
    if (!t) return ft_fail(FT_EINVAL, "ft_st_to_f32: no tensor");
    const char *name = t->name ? t->name : "?";
    if ((unsigned)t->dtype > FT_ST_BOOL) return ft_fail(FT_EINVAL, "tensor '%s': bad dtype %d", name, (int)t->dtype);
    size_t dsz = dtypes[t->dtype].size;
    if (t->numel < 0 || (uint64_t)t->numel > SIZE_MAX / dsz || (size_t)t->numel * dsz != t->nbytes)
        return ft_fail(FT_EINVAL, "tensor '%s': %lld elements do not fit its %zu bytes", name, (long long)t->numel, t->nbytes);
    if (t->numel == 0) return FT_OK;
    if (!dst || !t->data) return ft_fail(FT_EINVAL, "tensor '%s': no data or destination", name);
    size_t n = (size_t)t->numel;
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case FT_ST_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, p, n * 4);
#else
        for (size_t i = 0; i < n; i++) dst[i] = bits_f32(ld32(p + 4 * i));
#endif
        break;
    case FT_ST_F16:  for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(ld16(p + 2 * i)); break;
    case FT_ST_BF16: for (size_t i = 0; i < n; i++) dst[i] = bits_f32((uint32_t)ld16(p + 2 * i) << 16); break;
    case FT_ST_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t u = ld64(p + 8 * i);
            double d;
            memcpy(&d, &u, 8);
            dst[i] = f64_to_f32(d);
        }
        break;
    case FT_ST_I32:  for (size_t i = 0; i < n; i++) dst[i] = (float)(int32_t)ld32(p + 4 * i); break;
    case FT_ST_I64:  for (size_t i = 0; i < n; i++) dst[i] = (float)(int64_t)ld64(p + 8 * i); break;
    case FT_ST_U8:   for (size_t i = 0; i < n; i++) dst[i] = (float)p[i]; break;
    case FT_ST_I8:   for (size_t i = 0; i < n; i++) dst[i] = (float)(int8_t)p[i]; break;
    case FT_ST_BOOL: for (size_t i = 0; i < n; i++) dst[i] = p[i] ? 1.0f : 0.0f; break;
    }
    return FT_OK;
}

/* ---- writer ---- */

typedef struct {
    char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const float *data; /* borrowed */
} st_wtensor;

struct ft_st_writer {
    st_wtensor *t;
    int n, cap;
    char **mk, **mv;
    int n_meta, meta_cap;
};

ft_st_writer *ft_st_writer_new(void) {
    ft_st_writer *w = ft_calloc(1, sizeof *w);
    if (!w) ft_fail(FT_ENOMEM, "safetensors writer: out of memory");
    return w;
}

void ft_st_writer_free(ft_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) ft_free(w->t[i].name);
    ft_free(w->t);
    for (int i = 0; i < w->n_meta; i++) { ft_free(w->mk[i]); ft_free(w->mv[i]); }
    ft_free(w->mk);
    ft_free(w->mv);
    ft_free(w);
}

ft_status ft_st_writer_add(ft_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data) {
    if (!w) return ft_fail(FT_EINVAL, "safetensors writer: no writer");
    if (!name || !*name) return ft_fail(FT_EINVAL, "safetensors writer: empty tensor name");
    if (!strcmp(name, "__metadata__")) return ft_fail(FT_EINVAL, "safetensors writer: '__metadata__' is reserved");
    if (ndim < 0 || ndim > ST_MAX_DIMS || (ndim > 0 && !shape))
        return ft_fail(FT_EINVAL, "safetensors writer: tensor '%s' has %d dimensions (0..%d allowed)", name, ndim, ST_MAX_DIMS);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return ft_fail(FT_EINVAL, "safetensors writer: tensor '%s' added twice", name);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return ft_fail(FT_EINVAL, "safetensors writer: tensor '%s' has negative dimension %d", name, i);
        if (shape[i] == 0) { numel = 0; continue; }
        if (numel > (int64_t)(SIZE_MAX / 4 / 2) / shape[i])
            return ft_fail(FT_EINVAL, "safetensors writer: tensor '%s' is too large", name);
        numel *= shape[i];
    }
    if (numel > 0 && !data) return ft_fail(FT_EINVAL, "safetensors writer: tensor '%s' has no data", name);
    if (w->n == w->cap) {
        int ncap = w->cap ? w->cap * 2 : 16;
        st_wtensor *nt = ft_realloc(w->t, (size_t)ncap * sizeof *nt);
        if (!nt) return ft_fail(FT_ENOMEM, "safetensors writer: out of memory");
        w->t = nt;
        w->cap = ncap;
    }
    st_wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = ft_strdup(name);
    if (!t->name) return ft_fail(FT_ENOMEM, "safetensors writer: out of memory");
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    t->data = data;
    w->n++;
    return FT_OK;
}

ft_status ft_st_writer_meta(ft_st_writer *w, const char *key, const char *value) {
    if (!w) return ft_fail(FT_EINVAL, "safetensors writer: no writer");
    if (!key || !value) return ft_fail(FT_EINVAL, "safetensors writer: metadata key and value are required");
    char *v = ft_strdup(value);
    if (!v) return ft_fail(FT_ENOMEM, "safetensors writer: out of memory");
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->mk[i], key)) { ft_free(w->mv[i]); w->mv[i] = v; return FT_OK; }
    if (w->n_meta == w->meta_cap) {
        int ncap = w->meta_cap ? w->meta_cap * 2 : 8;
        char **nk = ft_realloc(w->mk, (size_t)ncap * sizeof *nk);
        if (!nk) { ft_free(v); return ft_fail(FT_ENOMEM, "safetensors writer: out of memory"); }
        w->mk = nk;
        char **nv = ft_realloc(w->mv, (size_t)ncap * sizeof *nv);
        if (!nv) { ft_free(v); return ft_fail(FT_ENOMEM, "safetensors writer: out of memory"); }
        w->mv = nv;
        w->meta_cap = ncap;
    }
    char *k = ft_strdup(key);
    if (!k) { ft_free(v); return ft_fail(FT_ENOMEM, "safetensors writer: out of memory"); }
    w->mk[w->n_meta] = k;
    w->mv[w->n_meta] = v;
    w->n_meta++;
    return FT_OK;
}

/* Build the JSON header ("__metadata__" first, then tensors in the order added), padded
 * with spaces to a multiple of 8 bytes and preceded by its u64 length. */
static ft_status build_header(const ft_st_writer *w, const char *path, char **out, size_t *out_len) {
    json_t *root = json_object();
    if (!root) return ft_fail(FT_ENOMEM, "writing '%s': out of memory", path);
    ft_status s = FT_OK;
    if (w->n_meta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m)) { s = ft_fail(FT_ENOMEM, "writing '%s': out of memory", path); goto done; }
        for (int i = 0; i < w->n_meta; i++) {
            json_t *v = json_string(w->mv[i]);
            if (!v) { s = ft_fail(FT_EINVAL, "writing '%s': metadata value for '%s' is not valid UTF-8", path, w->mk[i]); goto done; }
            if (json_object_set_new(m, w->mk[i], v)) { s = ft_fail(FT_EINVAL, "writing '%s': metadata key '%s' is not valid UTF-8", path, w->mk[i]); goto done; }
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_wtensor *t = &w->t[i];
        uint64_t nb = (uint64_t)t->numel * 4;
        json_t *sh = json_array();
        bool ok = sh != NULL;
        for (int d = 0; ok && d < t->ndim; d++) ok = !json_array_append_new(sh, json_integer(t->shape[d]));
        if (!ok) { json_decref(sh); s = ft_fail(FT_ENOMEM, "writing '%s': out of memory", path); goto done; }
        /* "o" steals sh, also when json_pack fails */
        json_t *o = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", sh, "data_offsets",
                              (json_int_t)off, (json_int_t)(off + nb));
        if (!o) { s = ft_fail(FT_ENOMEM, "writing '%s': out of memory", path); goto done; }
        if (json_object_set_new(root, t->name, o)) {
            s = ft_fail(FT_EINVAL, "writing '%s': tensor name '%s' is not valid UTF-8", path, t->name);
            goto done;
        }
        off += nb;
    }
    char *js = json_dumps(root, JSON_COMPACT);
    if (!js) { s = ft_fail(FT_ENOMEM, "writing '%s': out of memory", path); goto done; }
    size_t jl = strlen(js), padded = (jl + 7) / 8 * 8;
    char *buf = ft_malloc(8 + padded);
    if (!buf) { free(js); s = ft_fail(FT_ENOMEM, "writing '%s': out of memory", path); goto done; }
    for (int i = 0; i < 8; i++) buf[i] = (char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, js, jl);
    memset(buf + 8 + jl, ' ', padded - jl);
    free(js); /* json_dumps allocates with jansson's allocator */
    *out = buf;
    *out_len = 8 + padded;
done:
    json_decref(root);
    return s;
}

ft_status ft_st_writer_write(ft_st_writer *w, const char *path) {
    if (!w) return ft_fail(FT_EINVAL, "safetensors writer: no writer");
    if (!path || !*path) return ft_fail(FT_EINVAL, "safetensors writer: empty output path");
    char *hdr = NULL;
    size_t hlen = 0;
    ft_status s = build_header(w, path, &hdr, &hlen);
    if (s != FT_OK) return s;
    ft_atomic_file *f = NULL;
    s = ft_atomic_open(path, &f);
    if (s == FT_OK) s = ft_atomic_write(f, hdr, hlen);
    ft_free(hdr);
    for (int i = 0; s == FT_OK && i < w->n; i++) {
        const st_wtensor *t = &w->t[i];
        if (t->numel == 0) continue;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        s = ft_atomic_write(f, t->data, (size_t)t->numel * 4);
#else
        uint8_t chunk[4096];
        for (int64_t j = 0; s == FT_OK && j < t->numel; j += 1024) {
            int64_t m = t->numel - j < 1024 ? t->numel - j : 1024;
            for (int64_t k = 0; k < m; k++) {
                uint32_t u;
                memcpy(&u, &t->data[j + k], 4);
                for (int b = 0; b < 4; b++) chunk[4 * k + b] = (uint8_t)(u >> (8 * b));
            }
            s = ft_atomic_write(f, chunk, (size_t)m * 4);
        }
#endif
    }
    if (s == FT_OK) return ft_atomic_commit(f);
    if (f) ft_atomic_abort(f);
    return s;
}

/* ---- loading into ft_params ---- */

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

ft_status ft_params_load_st(ft_params *ps, const ft_safetensors *st, const char *prefix, bool strict) {
    if (!ps || !st) return ft_fail(FT_EINVAL, "ft_params_load_st: no parameters or no file");
    const char *label = lbl(st->path);
    if (!ps->finalized) return ft_fail(FT_EINVAL, "loading %s: parameters are not finalized", label);
    size_t plen = prefix ? strlen(prefix) : 0;
    /* Pass 1: match and check everything, so a bad file changes no value. */
    int *src = ps->n > 0 ? ft_malloc((size_t)ps->n * sizeof *src) : NULL;
    if (ps->n > 0 && !src) return ft_fail(FT_ENOMEM, "loading %s: out of memory", label);
    for (int i = 0; i < ps->n; i++) src[i] = -1;
    ft_status s = FT_OK;
    for (int j = 0; j < st->n; j++) {
        const ft_st_tensor *t = &st->t[j];
        if (plen && strncmp(t->name, prefix, plen) != 0) continue;
        int i = ft_params_find(ps, t->name + plen);
        if (i < 0) continue;
        const ft_param_info *p = &ps->p[i];
        bool same = p->ndim == t->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = p->shape[d] == t->shape[d];
        if (!same) {
            char have[160], want[160];
            fmt_shape(have, sizeof have, t->ndim, t->shape);
            fmt_shape(want, sizeof want, p->ndim, p->shape);
            s = ft_fail(FT_ESHAPE, "%s: tensor '%s' has shape %s, model expects %s", label, t->name, have, want);
            goto done;
        }
        src[i] = j;
    }
    if (strict)
        for (int i = 0; i < ps->n; i++)
            if (src[i] < 0) {
                s = ft_fail(FT_ENOTFOUND, "%s: no tensor '%s%s' for parameter '%s'", label, plen ? prefix : "",
                            ps->p[i].name, ps->p[i].name);
                goto done;
            }
    /* Pass 2: convert. */
    for (int i = 0; i < ps->n && s == FT_OK; i++)
        if (src[i] >= 0) s = ft_st_to_f32(&st->t[src[i]], ft_params_value(ps, i));
    if (s != FT_OK) ft_fail_context(s, "loading %s", label);
done:
    ft_free(src);
    return s;
}
