/* Parameter store: named views into one flat value block and one flat grad block. */
#include "finetune/params.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

/* ---- PCG32 (O'Neill), mirrored by tests/gen/pcg32.py ---- */
uint32_t ft_pcg32_next(ft_pcg32 *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}
void ft_pcg32_seed(ft_pcg32 *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    ft_pcg32_next(r);
    r->state += seed;
    ft_pcg32_next(r);
}
float ft_pcg32_uniform(ft_pcg32 *r) { return (float)(ft_pcg32_next(r) >> 8) * (1.0f / 16777216.0f); }

/* ---- store ---- */
ft_params *ft_params_new(void) { return ft_calloc(1, sizeof(ft_params)); }

void ft_params_free(ft_params *ps) {
    if (!ps) return;
    for (int i = 0; i < ps->n; i++) ft_free(ps->p[i].name);
    ft_free(ps->p);
    ft_free_aligned(ps->data);
    ft_free_aligned(ps->grad);
    ft_free(ps);
}

static bool name_is_no_decay(const char *name, int ndim) {
    /* Biases and 1-D norm scales are conventionally excluded from weight decay. */
    size_t n = strlen(name);
    if (n >= 5 && strcmp(name + n - 5, ".bias") == 0) return true;
    return ndim <= 1;
}

static int add(ft_params *ps, const char *name, int ndim, const int64_t *shape, bool buffer) {
    if (ps->finalized) { ft_fail(FT_EINVAL, "parameter '%s' added after finalize", name); return -1; }
    if (ndim < 0 || ndim > FT_PARAM_MAX_DIMS) { ft_fail(FT_ESHAPE, "parameter '%s': %d dims", name, ndim); return -1; }
    if (ft_params_find(ps, name) >= 0) { ft_fail(FT_EINVAL, "duplicate parameter name '%s'", name); return -1; }
    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 16;
        ft_param_info *p = ft_realloc(ps->p, (size_t)cap * sizeof *p);
        if (!p) { ft_fail(FT_ENOMEM, "out of memory adding parameter '%s'", name); return -1; }
        ps->p = p; ps->cap = cap;
    }
    ft_param_info *pi = &ps->p[ps->n];
    memset(pi, 0, sizeof *pi);
    if (!(pi->name = ft_strdup(name))) { ft_fail(FT_ENOMEM, "out of memory"); return -1; }
    pi->ndim = ndim;
    pi->numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) { ft_free(pi->name); ft_fail(FT_ESHAPE, "parameter '%s': negative dim", name); return -1; }
        if (shape[d] > 0 && pi->numel > ((int64_t)1 << 40) / shape[d]) {
            ft_free(pi->name);
            ft_fail(FT_ESHAPE, "parameter '%s' is too large", name);
            return -1;
        }
        pi->shape[d] = shape[d];
        pi->numel *= shape[d];
    }
    /* Keep every tensor 16-float aligned inside the block (64 bytes). */
    pi->offset = ps->total;
    ps->total += (size_t)(pi->numel + 15) / 16 * 16;
    pi->grad_offset = -1;
    pi->trainable = !buffer;
    pi->is_buffer = buffer;
    pi->no_decay = name_is_no_decay(name, ndim);
    return ps->n++;
}

int ft_params_add(ft_params *ps, const char *name, int ndim, const int64_t *shape) { return add(ps, name, ndim, shape, false); }
int ft_params_add_buffer(ft_params *ps, const char *name, int ndim, const int64_t *shape) { return add(ps, name, ndim, shape, true); }

ft_status ft_params_finalize(ft_params *ps) {
    if (ps->finalized) return FT_OK;
    size_t bytes = (ps->total ? ps->total : 16) * sizeof(float);
    ps->data = ft_malloc_aligned(bytes);
    if (!ps->data) return ft_fail(FT_ENOMEM, "out of memory for %zu parameter floats", ps->total);
    memset(ps->data, 0, bytes);
    ps->finalized = true;
    return FT_OK;
}

int ft_params_find(const ft_params *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0) return i;
    return -1;
}

float *ft_params_value(ft_params *ps, int i) { return ps->data + ps->p[i].offset; }
float *ft_params_grad(ft_params *ps, int i) {
    return (ps->grad && ps->p[i].grad_offset >= 0) ? ps->grad + ps->p[i].grad_offset : NULL;
}

int64_t ft_params_count(const ft_params *ps, bool trainable_only) {
    int64_t n = 0;
    for (int i = 0; i < ps->n; i++)
        if (!ps->p[i].is_buffer && (!trainable_only || ps->p[i].trainable)) n += ps->p[i].numel;
    return n;
}

/* One pattern: "re:<regex>" or a glob where '*' also crosses dots. */
static bool match_one(const char *pat, size_t len, const char *name) {
    char buf[512];
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, pat, len);
    buf[len] = 0;
    if (strncmp(buf, "re:", 3) == 0) {
        regex_t re;
        if (regcomp(&re, buf + 3, REG_EXTENDED | REG_NOSUB)) return false;
        bool m = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
    }
    return fnmatch(buf, name, 0) == 0;
}

bool ft_params_match(const char *patterns, const char *name) {
    const char *s = patterns;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && *s == ' ') { s++; len--; }
        if (len && match_one(s, len, name)) return true;
        if (!e) break;
        s = e + 1;
    }
    return false;
}

/* Validate each comma-separated pattern matches something; returns the first that doesn't. */
static ft_status check_patterns(const ft_params *ps, const char *patterns, const char *what) {
    const char *s = patterns;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && *s == ' ') { s++; len--; }
        if (len) {
            if (len > 3 && strncmp(s, "re:", 3) == 0) {
                char buf[512]; regex_t re;
                size_t l = len < sizeof buf - 1 ? len : sizeof buf - 1;
                memcpy(buf, s + 3, l - 3); buf[l - 3] = 0;
                if (regcomp(&re, buf, REG_EXTENDED | REG_NOSUB))
                    return ft_fail(FT_EINVAL, "%s: invalid regular expression '%s'", what, buf);
                regfree(&re);
            }
            bool any = false;
            for (int i = 0; i < ps->n && !any; i++) any = match_one(s, len, ps->p[i].name);
            if (!any)
                return ft_fail(FT_ENOTFOUND, "%s: pattern '%.*s' matches no parameter (see `finetune info` for names)",
                               what, (int)len, s);
        }
        if (!e) break;
        s = e + 1;
    }
    return FT_OK;
}

ft_status ft_params_set_trainable(ft_params *ps, const char *patterns, bool on) {
    ft_status s = check_patterns(ps, patterns, on ? "--train" : "--freeze");
    if (s) return s;
    for (int i = 0; i < ps->n; i++)
        if (!ps->p[i].is_buffer && ft_params_match(patterns, ps->p[i].name)) ps->p[i].trainable = on;
    return FT_OK;
}

ft_status ft_params_set_group(ft_params *ps, const char *patterns, int group) {
    ft_status s = check_patterns(ps, patterns, "parameter group");
    if (s) return s;
    for (int i = 0; i < ps->n; i++)
        if (ft_params_match(patterns, ps->p[i].name)) ps->p[i].group = group;
    return FT_OK;
}

ft_status ft_params_alloc_grads(ft_params *ps) {
    size_t total = 0;
    for (int i = 0; i < ps->n; i++) {
        ft_param_info *p = &ps->p[i];
        if (p->trainable && !p->is_buffer) {
            p->grad_offset = (int64_t)total;
            total += (size_t)(p->numel + 15) / 16 * 16;
        } else {
            p->grad_offset = -1;
        }
    }
    ft_free_aligned(ps->grad);
    ps->grad = ft_malloc_aligned((total ? total : 16) * sizeof(float));
    if (!ps->grad) { ps->grad_total = 0; return ft_fail(FT_ENOMEM, "out of memory for %zu gradient floats", total); }
    ps->grad_total = total;
    ft_params_zero_grad(ps);
    return FT_OK;
}

void ft_params_zero_grad(ft_params *ps) {
    if (ps->grad) memset(ps->grad, 0, (ps->grad_total ? ps->grad_total : 16) * sizeof(float));
}

void ft_params_init_uniform(ft_params *ps, int i, uint64_t seed, float bound) {
    ft_pcg32 r;
    ft_pcg32_seed(&r, seed, (uint64_t)i);
    float *v = ft_params_value(ps, i);
    for (int64_t k = 0; k < ps->p[i].numel; k++) v[k] = (2.0f * ft_pcg32_uniform(&r) - 1.0f) * bound;
}
