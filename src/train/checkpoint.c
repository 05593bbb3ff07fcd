/* Training checkpoints: one safetensors file holding the model ("model.<name>"), the
 * optimizer state ("optim.<k>.<name>") and the loop position in its metadata. Written
 * atomically (temp file, fsync, rename), so a crash mid-save keeps the previous one. */
#include "finetune/runner.h"
#include "finetune/io.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPT_BUFS 4

/* Comma-separated names of trainable parameters: a resume must train the same set. */
static char *trainable_list(const ft_params *ps) {
    size_t n = 1;
    for (int i = 0; i < ps->n; i++) n += strlen(ps->p[i].name) + 1;
    char *s = ft_malloc(n), *o = s;
    if (!s) return NULL;
    *o = 0;
    for (int i = 0; i < ps->n; i++) {
        if (!ps->p[i].trainable || ps->p[i].is_buffer) continue;
        o += sprintf(o, "%s%s", o == s ? "" : ",", ps->p[i].name);
    }
    return s;
}

ft_status ft_checkpoint_save(const char *path, const ft_model *m, ft_optimizer *opt, const ft_train_state *st) {
    const ft_params *ps = m->params;
    ft_st_writer *w = ft_st_writer_new();
    char **names = ft_calloc((size_t)ps->n * (MAX_OPT_BUFS + 1) + 1, sizeof *names);
    char *trainable = trainable_list(ps);
    ft_status s = (w && names && trainable) ? FT_OK : ft_fail(FT_ENOMEM, "out of memory saving checkpoint");
    int nn = 0;
    for (int i = 0; i < ps->n && !s; i++) {
        const ft_param_info *p = &ps->p[i];
        size_t len = strlen(p->name) + 16;
        if (!(names[nn] = ft_malloc(len))) { s = ft_fail(FT_ENOMEM, "out of memory"); break; }
        snprintf(names[nn], len, "model.%s", p->name);
        s = ft_st_writer_add(w, names[nn++], p->ndim, p->shape, ps->data + p->offset);
    }
    float *bufs[MAX_OPT_BUFS];
    int nb = opt ? ft_optimizer_state(opt, bufs, MAX_OPT_BUFS) : 0;
    for (int k = 0; k < nb && !s; k++)
        for (int i = 0; i < ps->n && !s; i++) {
            const ft_param_info *p = &ps->p[i];
            if (p->grad_offset < 0) continue;
            size_t len = strlen(p->name) + 24;
            if (!(names[nn] = ft_malloc(len))) { s = ft_fail(FT_ENOMEM, "out of memory"); break; }
            snprintf(names[nn], len, "optim.%d.%s", k, p->name);
            s = ft_st_writer_add(w, names[nn++], p->ndim, p->shape, bufs[k] + p->grad_offset);
        }
    char num[64];
#define META(k, fmt, v) do { if (!s) { snprintf(num, sizeof num, fmt, v); s = ft_st_writer_meta(w, k, num); } } while (0)
    if (!s) s = ft_st_writer_meta(w, "format", "finetune-checkpoint-1");
    if (!s) s = ft_st_writer_meta(w, "config", m->config_json);
    if (!s) s = ft_st_writer_meta(w, "trainable", trainable);
    META("step", "%" PRId64, st->step);
    META("epoch", "%" PRId64, st->epoch);
    META("batch_in_epoch", "%" PRId64, st->batch_in_epoch);
    META("seed", "%" PRIu64, st->seed);
    META("best_val", "%.17g", st->best_val);
    META("best_val_loss", "%.17g", st->best_val_loss);
    META("best_epoch", "%d", st->best_epoch);
    META("bad_epochs", "%d", st->bad_epochs);
    META("optimizer_steps", "%" PRId64, opt ? ft_optimizer_steps(opt) : (int64_t)0);
    META("optimizer_buffers", "%d", nb);
#undef META
    if (!s) s = ft_st_writer_write(w, path);
    ft_st_writer_free(w);
    for (int i = 0; i < nn; i++) ft_free(names[i]);
    ft_free(names);
    ft_free(trainable);
    return s;
}

static ft_status meta_i64(const ft_safetensors *f, const char *key, int64_t *out) {
    const char *v = ft_st_meta(f, key);
    char *end;
    if (!v) return ft_fail(FT_EFORMAT, "%s: checkpoint metadata lacks \"%s\"", f->path ? f->path : "checkpoint", key);
    long long x = strtoll(v, &end, 10);
    if (*end || end == v) return ft_fail(FT_EFORMAT, "%s: metadata \"%s\" is not an integer", f->path ? f->path : "checkpoint", key);
    *out = x;
    return FT_OK;
}

ft_status ft_checkpoint_load(const char *path, ft_model *m, ft_optimizer *opt, ft_train_state *st) {
    ft_safetensors *f = NULL;
    ft_status s = ft_st_open(path, &f);
    if (s) return s;
    const char *fmt = ft_st_meta(f, "format");
    if (!fmt || strcmp(fmt, "finetune-checkpoint-1") != 0) {
        ft_st_close(f);
        return ft_fail(FT_EFORMAT, "%s: not a finetune training checkpoint (format %s)", path, fmt ? fmt : "missing");
    }
    const char *tr = ft_st_meta(f, "trainable");
    char *mine = trainable_list(m->params);
    if (!mine) { ft_st_close(f); return ft_fail(FT_ENOMEM, "out of memory"); }
    if (opt && (!tr || strcmp(tr, mine) != 0))
        s = ft_fail(FT_EINVAL, "%s: checkpoint was trained with a different set of trainable parameters; "
                    "resume with the same --train/--freeze flags", path);
    ft_free(mine);
    if (!s) s = ft_params_load_st(m->params, f, "model.", true);
    int64_t v = 0;
    if (!s && st) {
        memset(st, 0, sizeof *st);
        if (!(s = meta_i64(f, "step", &v))) st->step = v;
        if (!s && !(s = meta_i64(f, "epoch", &v))) st->epoch = v;
        if (!s && !(s = meta_i64(f, "batch_in_epoch", &v))) st->batch_in_epoch = v;
        if (!s && !(s = meta_i64(f, "seed", &v))) st->seed = (uint64_t)v;
        if (!s && !(s = meta_i64(f, "best_epoch", &v))) st->best_epoch = (int)v;
        if (!s && !(s = meta_i64(f, "bad_epochs", &v))) st->bad_epochs = (int)v;
        const char *bv = ft_st_meta(f, "best_val");
        st->best_val = bv ? strtod(bv, NULL) : 0.0;
        const char *bl = ft_st_meta(f, "best_val_loss"); /* absent in older checkpoints */
        st->best_val_loss = bl ? strtod(bl, NULL) : HUGE_VAL;
    }
    if (!s && opt) {
        float *bufs[MAX_OPT_BUFS];
        int nb = ft_optimizer_state(opt, bufs, MAX_OPT_BUFS);
        int64_t saved_nb = 0;
        if (!(s = meta_i64(f, "optimizer_buffers", &saved_nb)) && saved_nb != nb)
            s = ft_fail(FT_EINVAL, "%s: checkpoint has %lld optimizer buffers, this optimizer has %d (different --optimizer?)",
                        path, (long long)saved_nb, nb);
        char name[512];
        for (int k = 0; k < nb && !s; k++)
            for (int i = 0; i < m->params->n && !s; i++) {
                const ft_param_info *p = &m->params->p[i];
                if (p->grad_offset < 0) continue;
                snprintf(name, sizeof name, "optim.%d.%s", k, p->name);
                const ft_st_tensor *t = ft_st_find(f, name);
                if (!t) s = ft_fail(FT_EFORMAT, "%s: missing optimizer state '%s'", path, name);
                else if (t->numel != p->numel) s = ft_fail(FT_EFORMAT, "%s: optimizer state '%s' has the wrong size", path, name);
                else s = ft_st_to_f32(t, bufs[k] + p->grad_offset);
            }
        if (!s && !(s = meta_i64(f, "optimizer_steps", &v))) ft_optimizer_set_steps(opt, v);
    }
    ft_st_close(f);
    return s;
}
