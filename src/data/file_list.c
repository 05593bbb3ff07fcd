/* Labelled file lists shared by the audio and image datasets: see file_list.h. */
#include "data/file_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FL_PATH_MAX 8192

/* ---- paths with labels ---- */

void fl_paths_free(fl_paths *l) {
    ft_free(l->pool); ft_free(l->off); ft_free(l->label);
    memset(l, 0, sizeof *l);
}

ft_status fl_paths_add(fl_paths *l, const char *s, int32_t label) {
    size_t k = strlen(s) + 1;
    if (l->len + k > l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4096;
        while (nc < l->len + k) nc *= 2;
        char *np = ft_realloc(l->pool, nc);
        if (!np) return ft_fail(FT_ENOMEM, "out of memory for file names");
        l->pool = np;
        l->cap = nc;
    }
    if (l->n == l->ncap) {
        int64_t nc = l->ncap ? l->ncap * 2 : 256;
        int64_t *no = ft_realloc(l->off, (size_t)nc * sizeof *no);
        if (!no) return ft_fail(FT_ENOMEM, "out of memory for file names");
        l->off = no;
        int32_t *nl = ft_realloc(l->label, (size_t)nc * sizeof *nl);
        if (!nl) return ft_fail(FT_ENOMEM, "out of memory for file names");
        l->label = nl;
        l->ncap = nc;
    }
    memcpy(l->pool + l->len, s, k);
    l->off[l->n] = (int64_t)l->len;
    l->label[l->n] = label;
    l->len += k;
    l->n++;
    return FT_OK;
}

/* ---- folder listing ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void fl_names_free(fl_names *l) {
    for (int k = 0; k < l->n; k++) ft_free(l->v[k]);
    ft_free(l->v);
    memset(l, 0, sizeof *l);
}

ft_status fl_list_dir(const char *dir, fl_names *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such folder", dir);
        if (errno == ENOTDIR) return ft_fail(FT_EINVAL, "%s: not a folder", dir);
        return ft_fail(FT_EIO, "%s: cannot list: %s", dir, strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (out->n == out->cap) {
            int nc = out->cap ? out->cap * 2 : 64;
            char **nn = ft_realloc(out->v, (size_t)nc * sizeof *nn);
            if (!nn) { closedir(d); fl_names_free(out); return ft_fail(FT_ENOMEM, "out of memory listing %s", dir); }
            out->v = nn;
            out->cap = nc;
        }
        if (!(out->v[out->n] = ft_strdup(e->d_name))) {
            closedir(d); fl_names_free(out);
            return ft_fail(FT_ENOMEM, "out of memory listing %s", dir);
        }
        out->n++;
    }
    closedir(d);
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return FT_OK;
}

/* ---- class-per-folder walk ---- */

static ft_status walk(const char *dir, const char *rel, int32_t label, int depth, const fl_walker *w) {
    if (depth > FL_MAX_DEPTH)
        return ft_fail(FT_EINVAL, "%s: folders nested more than %d deep%s", dir, FL_MAX_DEPTH,
                       w->too_deep ? w->too_deep : "");
    fl_names L;
    ft_status st = fl_list_dir(dir, &L);
    if (st) return st;
    char *path = ft_malloc(FL_PATH_MAX), *rpath = ft_malloc(FL_PATH_MAX);
    bool *is_dir = ft_calloc((size_t)(L.n > 0 ? L.n : 1), sizeof *is_dir);
    if (!path || !rpath || !is_dir) st = ft_fail(FT_ENOMEM, "out of memory scanning %s", dir);
    /* Pass 0: the files, in order; pass 1: the subfolders. */
    for (int pass = 0; pass < 2 && !st; pass++) {
        for (int k = 0; k < L.n && !st; k++) {
            if (snprintf(path, FL_PATH_MAX, "%s/%s", dir, L.v[k]) >= FL_PATH_MAX ||
                snprintf(rpath, FL_PATH_MAX, "%s/%s", rel, L.v[k]) >= FL_PATH_MAX) {
                st = ft_fail(FT_EINVAL, "%s/%s: path too long", dir, L.v[k]);
                break;
            }
            if (pass == 0) {
                struct stat sb;
                bool ok = stat(path, &sb) == 0;
                if (ok && S_ISDIR(sb.st_mode)) { is_dir[k] = true; continue; }
                st = w->file(w->ctx, path, rpath, L.v[k], ok ? &sb : NULL, label);
            } else if (is_dir[k]) {
                st = walk(path, rpath, label, depth + 1, w);
            }
        }
    }
    ft_free(path); ft_free(rpath); ft_free(is_dir);
    fl_names_free(&L);
    return st;
}

ft_status fl_walk(const char *dir, const char *rel, int32_t label, const fl_walker *w) {
    return walk(dir, rel, label, 0, w);
}

ft_status fl_walk_classes(const char *root, const fl_walker *w, fl_names *classes) {
    memset(classes, 0, sizeof *classes);
    fl_names top;
    ft_status st = fl_list_dir(root, &top);
    if (st) return st;
    fl_names cls = {0};
    char *path = ft_malloc(FL_PATH_MAX);
    if (!path) st = ft_fail(FT_ENOMEM, "out of memory scanning %s", root);
    /* Classes: the subfolders, in order; the other entries go to root_file. */
    for (int k = 0; k < top.n && !st; k++) {
        if (snprintf(path, FL_PATH_MAX, "%s/%s", root, top.v[k]) >= FL_PATH_MAX) {
            st = ft_fail(FT_EINVAL, "%s/%s: path too long", root, top.v[k]);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (cls.n == cls.cap) {
                int nc = cls.cap ? cls.cap * 2 : 16;
                char **nn = ft_realloc(cls.v, (size_t)nc * sizeof *nn);
                if (!nn) { st = ft_fail(FT_ENOMEM, "out of memory scanning %s", root); break; }
                cls.v = nn;
                cls.cap = nc;
            }
            cls.v[cls.n++] = top.v[k];
            top.v[k] = NULL;
        } else if (w->root_file) {
            w->root_file(w->ctx, top.v[k]);
        }
    }
    if (!st && cls.n == 0) st = ft_fail(FT_EFORMAT, "%s: no class folders (expected %s)", root, w->layout);
    for (int c = 0; c < cls.n && !st; c++) {
        if (w->class_begin) w->class_begin(w->ctx);
        snprintf(path, FL_PATH_MAX, "%s/%s", root, cls.v[c]);
        st = walk(path, cls.v[c], c, 0, w);
        if (!st && w->class_end) st = w->class_end(w->ctx, path);
    }
    for (int k = 0; k < top.n; k++) ft_free(top.v[k]);
    ft_free(top.v);
    ft_free(path);
    if (st) fl_names_free(&cls);
    else *classes = cls;
    return st;
}

/* ---- manifests ---- */

int fl_csv_split(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        char *start = p, *w = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"') {
                    if (p[1] == '"') { *w++ = '"'; p += 2; continue; }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            while (*p == ' ' || *p == '\t') p++;
        } else {
            while (*p && *p != ',') *w++ = *p++;
            while (w > start && (w[-1] == ' ' || w[-1] == '\t')) w--;
        }
        bool more = *p == ',';
        if (*p && !more) return -1;
        *w = 0;
        if (n < max) f[n] = start;
        n++;
        if (!more) break;
        p++;
    }
    return n;
}

ft_status fl_base_dir(const char *mpath, char *base, size_t cap) {
    const char *slash = strrchr(mpath, '/');
    if (!slash) { snprintf(base, cap, "."); return FT_OK; }
    size_t bl = (size_t)(slash - mpath);
    if (bl >= cap) return ft_fail(FT_EINVAL, "%s: path too long", mpath);
    memcpy(base, mpath, bl);
    base[bl] = 0;
    if (!bl) snprintf(base, cap, "/");
    return FT_OK;
}

bool fl_numeric_label(const char *s) {
    if (!*s) return false;
    for (const char *p = s; *p; p++) if (*p < '0' || *p > '9') return false;
    return strlen(s) <= 7 && atol(s) <= FL_MAX_LABEL;
}

ft_status fl_class_names(char *const *labels, int64_t n, const char *where, int64_t max_classes, char ***names,
                         int *n_classes) {
    *names = NULL;
    *n_classes = 0;
    char **all = ft_malloc((size_t)(n > 0 ? n : 1) * sizeof *all);
    if (!all) return ft_fail(FT_ENOMEM, "out of memory reading %s", where);
    memcpy(all, labels, (size_t)n * sizeof *all);
    qsort(all, (size_t)n, sizeof *all, cmp_str);
    int64_t u = 0;
    for (int64_t k = 0; k < n; k++)
        if (!u || strcmp(all[u - 1], all[k])) all[u++] = all[k];
    *n_classes = (int)u;
    ft_status st = FT_OK;
    if (u > max_classes) st = ft_fail(FT_EFORMAT, "%s: %lld classes", where, (long long)u);
    char **cn = st ? NULL : ft_calloc((size_t)(u > 0 ? u : 1), sizeof *cn);
    if (!st && !cn) st = ft_fail(FT_ENOMEM, "out of memory reading %s", where);
    for (int64_t k = 0; k < u && !st; k++)
        if (!(cn[k] = ft_strdup(all[k]))) st = ft_fail(FT_ENOMEM, "out of memory reading %s", where);
    ft_free(all);
    if (st) {
        if (cn) { for (int64_t k = 0; k < u; k++) ft_free(cn[k]); ft_free(cn); }
        return st;
    }
    *names = cn;
    return FT_OK;
}

int32_t fl_class_index(char *const *names, int n_classes, const char *label) {
    const char *key = label;
    char **hit = bsearch(&key, names, (size_t)n_classes, sizeof *names, cmp_str);
    return (int32_t)(hit - (char **)names);
}
