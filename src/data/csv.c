/* Numeric CSV: every row is feature values then an integer class label in the last column.
 *
 * The first non-blank row is a header (and skipped) when it does not parse as numbers.
 * Blank lines are skipped; fields may be padded with spaces or wrapped in double quotes;
 * CRLF line ends are accepted. Every data row must have the same number of columns, every
 * feature must be a finite number and every label a non-negative integer (written "3" or
 * "3.0"). Examples are F32 [n_features]; n_classes = max label + 1. Errors name the file
 * and line ("data.csv:17: ..."). */
#include "finetune/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>

#define CSV_MAX_LABEL 1000000

typedef struct {
    float *x;       /* n * n_features */
    int32_t *y;     /* n */
} csv_impl;

static ft_status csv_get(ft_dataset *ds, int64_t i, const ft_sample_ctx *ctx, void *x, int32_t *y) {
    csv_impl *m = ds->impl;
    if (i < 0 || i >= ds->n)
        return ft_fail(FT_EINVAL, "%s: example %lld out of range [0, %lld)", ds->name,
                       (long long)i, (long long)ds->n);
    memcpy(x, m->x + i * ds->x_numel, (size_t)ds->x_numel * sizeof(float));
    *y = m->y[i];
    return FT_OK;
}

static void csv_free(ft_dataset *ds) {
    csv_impl *m = ds->impl;
    if (m) { ft_free(m->x); ft_free(m->y); }
    ft_free(m);
}

static ft_status read_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such file", path);
        return ft_fail(FT_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = ft_malloc(cap + 1);
    if (!buf) { fclose(f); return ft_fail(FT_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            char *nb = ft_realloc(buf, cap * 2 + 1);
            if (!nb) { ft_free(buf); fclose(f); return ft_fail(FT_ENOMEM, "%s: out of memory", path); }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) { ft_free(buf); fclose(f); return ft_fail(FT_EIO, "%s: read error", path); }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return FT_OK;
}

/* Parse one field starting at *p (the line is NUL-terminated); on success *p points past
 * the field's comma, or at the NUL. Returns false if it is not a number. */
static bool parse_field(char **p, double *v) {
    char *s = *p;
    while (*s == ' ' || *s == '\t') s++;
    bool quoted = *s == '"';
    if (quoted) s++;
    char *end;
    *v = strtod(s, &end);
    if (end == s) return false;
    s = end;
    if (quoted) { if (*s != '"') return false; s++; }
    while (*s == ' ' || *s == '\t') s++;
    if (*s == ',') s++;
    else if (*s) return false;
    *p = s;
    return true;
}

/* Number of fields in a line: commas + 1. */
static int64_t count_fields(const char *s) {
    int64_t k = 1;
    for (; *s; s++) if (*s == ',') k++;
    return k;
}

static bool blank(const char *s) {
    for (; *s; s++) if (*s != ' ' && *s != '\t') return false;
    return true;
}

ft_status ft_dataset_csv(const char *path, ft_dataset **out) {
    *out = NULL;
    if (!path) return ft_fail(FT_EINVAL, "csv: no path");
    char *buf;
    size_t len = 0;
    ft_status st = read_file(path, &buf, &len);
    if (st) return st;

    float *x = NULL;
    int32_t *y = NULL;
    int64_t n = 0, cap = 0, n_feat = -1, max_label = -1;
    bool first = true;
    int64_t line_no = 0;
    char *line = buf, *bufend = buf + len;
    for (; line < bufend; line_no++) {
        char *nl = memchr(line, '\n', (size_t)(bufend - line));
        char *next = nl ? nl + 1 : bufend;
        if (nl) *nl = 0;
        size_t ll = (size_t)((nl ? nl : bufend) - line);
        if (ll > 0 && line[ll - 1] == '\r') line[--ll] = 0;
        if (strlen(line) != ll) {
            st = ft_fail(FT_EFORMAT, "%s:%lld: NUL byte in line", path, (long long)line_no + 1);
            break;
        }
        char *row_text = line;
        line = next;
        if (blank(row_text)) continue;
        if (first) {
            /* The header is the first non-blank row if any of its fields is not a number. */
            first = false;
            char *p = row_text;
            double v;
            bool numeric = true;
            while (numeric && *p) numeric = parse_field(&p, &v);
            if (!numeric) continue;
        }
        int64_t cols = count_fields(row_text);
        if (cols < 2) {
            st = ft_fail(FT_EFORMAT, "%s:%lld: 1 column; need feature columns and a label",
                         path, (long long)line_no + 1);
            break;
        }
        if (n_feat >= 0 && cols - 1 != n_feat) {
            st = ft_fail(FT_EFORMAT, "%s:%lld: %lld columns, earlier rows have %lld",
                         path, (long long)line_no + 1, (long long)cols, (long long)(n_feat + 1));
            break;
        }
        n_feat = cols - 1;
        if (n == cap) {
            int64_t nc = cap ? cap * 2 : 256;
            float *nx = ft_realloc(x, (size_t)nc * (size_t)n_feat * sizeof(float));
            if (nx) x = nx;
            int32_t *ny = nx ? ft_realloc(y, (size_t)nc * sizeof(int32_t)) : NULL;
            if (ny) y = ny;
            if (!nx || !ny) {
                st = ft_fail(FT_ENOMEM, "%s: out of memory at line %lld", path, (long long)line_no + 1);
                break;
            }
            cap = nc;
        }
        char *p = row_text;
        float *row = x + n * n_feat;
        double v = 0;
        for (int64_t c = 0; c < cols && !st; c++) {
            if (!parse_field(&p, &v))
                st = ft_fail(FT_EFORMAT, "%s:%lld: column %lld is not a number", path,
                             (long long)line_no + 1, (long long)c + 1);
            else if (c < n_feat && !(isfinite(v) && fabs(v) <= 3.4e38))
                st = ft_fail(FT_EFORMAT, "%s:%lld: column %lld: %g is not a finite float",
                             path, (long long)line_no + 1, (long long)c + 1, v);
            else if (c < n_feat)
                row[c] = (float)v;
        }
        if (st) break;
        if (!(v >= 0) || v != floor(v) || v > CSV_MAX_LABEL) {
            st = ft_fail(FT_EFORMAT, "%s:%lld: label %g is not an integer in [0, %d]", path,
                         (long long)line_no + 1, v, CSV_MAX_LABEL);
            break;
        }
        y[n] = (int32_t)v;
        if (y[n] > max_label) max_label = y[n];
        n++;
    }
    ft_free(buf);
    if (!st && n == 0) st = ft_fail(FT_EFORMAT, "%s: no data rows", path);
    ft_dataset *ds = NULL;
    csv_impl *m = NULL;
    if (!st) {
        ds = ft_calloc(1, sizeof *ds);
        m = ft_calloc(1, sizeof *m);
        if (!ds || !m) st = ft_fail(FT_ENOMEM, "%s: out of memory", path);
    }
    if (st) { ft_free(x); ft_free(y); ft_free(ds); ft_free(m); return st; }
    m->x = x;
    m->y = y;
    ds->n = n;
    ds->x_dtype = FT_F32;
    ds->x_ndim = 1;
    ds->x_shape[0] = n_feat;
    ds->x_numel = n_feat;
    ds->n_classes = (int)max_label + 1;
    ds->get = csv_get;
    ds->free_impl = csv_free;
    ds->impl = m;
    const char *base = strrchr(path, '/');
    snprintf(ds->name, sizeof ds->name, "csv:%s", base ? base + 1 : path);
    *out = ds;
    return FT_OK;
}
