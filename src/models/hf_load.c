/* Weights of a model directory as Hugging Face's hub lays it out (tokenizer files: src/text, ft_tokenizer_load_dir).
 *
 * Weights: model.safetensors, or model.safetensors.index.json ({"weight_map": {tensor: shard}})
 * and its shards. Tensors load by name; a file tensor that is not a parameter under its own
 * name is tried under the spellings transformers also accepts:
 *   - LayerNorm ".gamma" / ".beta" for ".weight" / ".bias" (old BERT checkpoints, bert-base-uncased);
 *   - with the base-model prefix added ("bert.", "transformer.", "model."), for a checkpoint of the
 *     bare base model (GPT-2's hub checkpoint is saved without "transformer.");
 *   - with that prefix removed, for a checkpoint of a model with a head loaded as the bare model.
 * Tensors no parameter wants are ignored (a pretraining head such as BERT's cls.*, GPT-2's
 * attn.bias mask buffers, a tied lm_head.weight). Every parameter must be found: a missing one,
 * or a shape that disagrees with config.json, is an error naming the tensor. */
#include "models/models.h"
#include "finetune/io.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define HF_MAX_SHARDS 4096

static const char *const BASES[] = {"bert.", "transformer.", "model."};
#define N_BASES (int)(sizeof BASES / sizeof BASES[0])

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The base prefix the model's own names use ("bert." ...), or NULL. */
static const char *model_base(const ft_params *ps) {
    for (int b = 0; b < N_BASES; b++)
        for (int i = 0; i < ps->n; i++)
            if (!strncmp(ps->p[i].name, BASES[b], strlen(BASES[b]))) return BASES[b];
    return NULL;
}

static int find_variants(const ft_params *ps, const char *base, const char *name) {
    int i = ft_params_find(ps, name);
    if (i >= 0) return i;
    char buf[1024];
    if (base && strlen(base) + strlen(name) < sizeof buf) { /* checkpoint of the bare base model */
        size_t lb = strlen(base);
        memcpy(buf, base, lb);
        memcpy(buf + lb, name, strlen(name) + 1);
        if ((i = ft_params_find(ps, buf)) >= 0) return i;
    }
    for (int b = 0; b < N_BASES; b++) /* checkpoint with a prefix the model lacks */
        if (!strncmp(name, BASES[b], strlen(BASES[b])) && (!base || strcmp(base, BASES[b])))
            if ((i = ft_params_find(ps, name + strlen(BASES[b]))) >= 0) return i;
    return -1;
}

static int resolve(const ft_params *ps, const char *base, const char *name) {
    int i = find_variants(ps, base, name);
    if (i >= 0) return i;
    size_t n = strlen(name);
    char buf[1024];
    if (n >= sizeof buf) return -1;
    if (n > 6 && !strcmp(name + n - 6, ".gamma")) snprintf(buf, sizeof buf, "%.*s.weight", (int)(n - 6), name);
    else if (n > 5 && !strcmp(name + n - 5, ".beta")) snprintf(buf, sizeof buf, "%.*s.bias", (int)(n - 5), name);
    else return -1;
    return find_variants(ps, base, buf);
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    int o = snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && o < (int)cap; d++) o += snprintf(buf + o, cap - (size_t)o, d ? ",%lld" : "%lld", (long long)shape[d]);
    if (o < (int)cap) snprintf(buf + o, cap - (size_t)o, "]");
}

/* Open the checkpoint files of dir: model.safetensors or the index and its shards. */
static ft_status open_files(const char *dir, ft_safetensors ***files, int *n_files) {
    char path[4096];
    *files = NULL;
    *n_files = 0;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (file_exists(path)) {
        ft_safetensors **f = ft_calloc(1, sizeof *f);
        if (!f) return ft_fail(FT_ENOMEM, "out of memory");
        ft_status s = ft_st_open(path, &f[0]);
        if (s) { ft_free(f); return s; }
        *files = f;
        *n_files = 1;
        return FT_OK;
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (!file_exists(path)) {
        char bin[4096];
        snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
        if (file_exists(bin))
            return ft_fail(FT_EUNSUPPORTED, "%s: only pytorch_model.bin (a pickle) is there; finetune reads safetensors "
                                            "(model.safetensors, or model.safetensors.index.json and its shards)", dir);
        return ft_fail(FT_ENOTFOUND, "%s: no model.safetensors or model.safetensors.index.json", dir);
    }
    uint8_t *text = NULL;
    size_t len = 0;
    ft_status s = ft_read_file(path, 64u << 20, &text, &len);
    if (s) return s;
    json_error_t err;
    json_t *root = json_loadb((const char *)text, len, 0, &err);
    ft_free(text);
    json_t *map = root ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(map) || json_object_size(map) == 0) {
        json_decref(root);
        return root ? ft_fail(FT_EFORMAT, "%s: no \"weight_map\" object", path)
                    : ft_fail(FT_EFORMAT, "%s: not valid JSON: %s (line %d)", path, err.text, err.line);
    }
    /* distinct shard names, in order of first mention */
    const char **names = ft_calloc(json_object_size(map), sizeof *names);
    ft_safetensors **f = ft_calloc(json_object_size(map), sizeof *f);
    int n = 0;
    if (!names || !f) s = ft_fail(FT_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(map, key, val) {
        if (s) break;
        const char *shard = json_string_value(val);
        if (!shard || !shard[0] || strchr(shard, '/') || !strcmp(shard, "..") || !strcmp(shard, ".")) {
            s = ft_fail(FT_EFORMAT, "%s: tensor '%s' maps to %s%s%s, not a file name in the directory", path, key, shard ? "'" : "",
                        shard ? shard : "a non-string", shard ? "'" : "");
            break;
        }
        int k = 0;
        while (k < n && strcmp(names[k], shard)) k++;
        if (k == n) {
            if (n >= HF_MAX_SHARDS) { s = ft_fail(FT_EFORMAT, "%s: more than %d shards", path, HF_MAX_SHARDS); break; }
            names[n] = shard;
            char sp[4096];
            snprintf(sp, sizeof sp, "%s/%s", dir, shard);
            if (!file_exists(sp)) { s = ft_fail(FT_ENOTFOUND, "%s: shard '%s' (of tensor '%s') is missing", path, shard, key); break; }
            s = ft_st_open(sp, &f[n]);
            if (s) break;
            n++;
        }
        if (!ft_st_find(f[k], key)) s = ft_fail(FT_EFORMAT, "%s: tensor '%s' is not in its shard '%s'", path, key, shard);
    }
    ft_free(names);
    json_decref(root);
    if (s) {
        for (int i = 0; i < n; i++) ft_st_close(f[i]);
        ft_free(f);
        return s;
    }
    *files = f;
    *n_files = n;
    return FT_OK;
}

ft_status ft_hf_load_weights(ft_model *m, const char *dir) {
    ft_safetensors **files = NULL;
    int n_files = 0;
    ft_status s = open_files(dir, &files, &n_files);
    if (s) return s;
    ft_params *ps = m->params;
    const char *base = model_base(ps);
    int *src_f = ft_malloc((size_t)(ps->n ? ps->n : 1) * sizeof *src_f), *src_t = ft_malloc((size_t)(ps->n ? ps->n : 1) * sizeof *src_t);
    if (!src_f || !src_t) { s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    for (int i = 0; i < ps->n; i++) src_f[i] = src_t[i] = -1;
    for (int f = 0; f < n_files && !s; f++) {
        const ft_safetensors *st = files[f];
        for (int j = 0; j < st->n && !s; j++) {
            const ft_st_tensor *t = &st->t[j];
            int i = resolve(ps, base, t->name);
            if (i < 0 || src_f[i] >= 0) continue; /* not ours, or an earlier spelling already won */
            const ft_param_info *p = &ps->p[i];
            bool same = p->ndim == t->ndim;
            for (int d = 0; same && d < p->ndim; d++) same = p->shape[d] == t->shape[d];
            if (!same) {
                char have[160], want[160];
                shape_str(have, sizeof have, t->ndim, t->shape);
                shape_str(want, sizeof want, p->ndim, p->shape);
                s = ft_fail(FT_ESHAPE, "%s: tensor '%s' has shape %s but config.json gives %s for '%s' (does config.json belong to these weights?)",
                            st->path, t->name, have, want, p->name);
                break;
            }
            src_f[i] = f;
            src_t[i] = j;
        }
    }
    for (int i = 0; i < ps->n && !s; i++)
        if (src_f[i] < 0)
            s = ft_fail(FT_ENOTFOUND, "%s: the checkpoint has no tensor '%s'%s", dir, ps->p[i].name,
                        ps->p[i].is_buffer ? " (a buffer)" : "");
    for (int i = 0; i < ps->n && !s; i++) {
        s = ft_st_to_f32(&files[src_f[i]]->t[src_t[i]], ft_params_value(ps, i));
        if (s) ft_fail_context(s, "loading %s", files[src_f[i]]->path);
    }
done:
    ft_free(src_f);
    ft_free(src_t);
    for (int f = 0; f < n_files; f++) ft_st_close(files[f]);
    ft_free(files);
    return s;
}
