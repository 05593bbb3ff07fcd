/* Helpers shared by the CLI commands: error reporting, model loading, formatting. */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int cli_lib_error(void) {
    const char *msg = ft_errmsg();
    fprintf(stderr, "finetune: %s\n", msg && msg[0] ? msg : "unknown error");
    return CLI_FAIL;
}

const char *cli_model_kind_name(cli_model_kind k) {
    switch (k) {
    case CLI_MODEL_CONFIG: return "new from config";
    case CLI_MODEL_DIR: return "model directory";
    case CLI_MODEL_CHECKPOINT: return "checkpoint";
    case CLI_MODEL_IMPORTED: return "imported";
    }
    return "?";
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

#define CLI_MAX_CONFIG_BYTES (16u << 20)

/* A TF.js layers model.json (has "modelTopology"), not a finetune config. */
static bool is_tfjs_model(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "\"modelTopology\"") != NULL;
}

ft_status cli_load_model(const char *path, bool allow_config, uint64_t seed, ft_model **out,
                         cli_model_kind *kind) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ft_fail(errno == ENOENT ? FT_ENOTFOUND : FT_EIO, "model '%s': %s", path, strerror(errno));
    bool tfjs = ends_with(path, ".json") && is_tfjs_model(path);
    cli_model_kind k = S_ISDIR(sb.st_mode) ? CLI_MODEL_DIR
                     : tfjs || ends_with(path, ".tflite") || ends_with(path, ".onnx") || ends_with(path, ".bin") ? CLI_MODEL_IMPORTED
                     : ends_with(path, ".json") ? CLI_MODEL_CONFIG : CLI_MODEL_CHECKPOINT;
    if (kind) *kind = k;
    ft_status st;
    if (k == CLI_MODEL_CONFIG) {
        if (!allow_config)
            return ft_fail(FT_EINVAL, "model '%s' is a config file without trained weights; "
                           "pass a model directory or a checkpoint", path);
        uint8_t *text = NULL;
        size_t len = 0;
        if ((st = ft_read_file(path, CLI_MAX_CONFIG_BYTES, &text, &len))) return st;
        st = ft_model_from_config((const char *)text, out);
        ft_free(text);
        if (st) {
            if (!strstr(ft_errmsg(), path)) ft_fail_context(st, "model config '%s'", path);
            return st;
        }
        ft_model_init(*out, seed);
        return FT_OK;
    }
    st = ft_model_load(path, out);
    if (st) {
        *out = NULL;
        if (!strstr(ft_errmsg(), path)) ft_fail_context(st, "loading model '%s'", path);
    }
    return st;
}

const char *cli_dtype_name(ft_dtype d) { return d == FT_I32 ? "I32" : "F32"; }

ft_status cli_check_input(const ft_model *m, const ft_dataset *ds, const char *spec) {
    char ms[96], dsh[96];
    cli_format_shape(ms, sizeof ms, m->in_ndim, m->in_shape);
    cli_format_shape(dsh, sizeof dsh, ds->x_ndim, ds->x_shape);
    int64_t numel = 1;
    for (int d = 0; d < m->in_ndim; d++) numel *= m->in_shape[d];
    bool bad = m->in_dtype != ds->x_dtype || (numel > 0 && ds->x_numel != numel);
    if (bad)
        return ft_fail(FT_ESHAPE, "model %s takes %s %s inputs, but dataset '%s' has %s %s examples",
                       m->arch ? m->arch->name : "?", cli_dtype_name(m->in_dtype), ms, spec,
                       cli_dtype_name(ds->x_dtype), dsh);
    return FT_OK;
}

void cli_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = 0;
    n += (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

const char *cli_class_name(const ft_dataset *ds, int c, char *buf, size_t cap) {
    if (ds && ds->class_names && c >= 0 && c < ds->n_classes && ds->class_names[c]) return ds->class_names[c];
    snprintf(buf, cap, "%d", c);
    return buf;
}

void cli_format_count(char *buf, size_t cap, int64_t v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < cap) buf[o++] = '-';
    for (int i = 0; i < n && o + 1 < cap; i++) {
        if (i && (n - i) % 3 == 0 && o + 1 < cap) buf[o++] = ',';
        if (o + 1 < cap) buf[o++] = digits[i];
    }
    buf[o] = 0;
}

char **cli_class_names(const ft_dataset *ds, const ft_model *m, int k) {
    if (k < 1) return NULL;
    char **model_labels = m && m->n_classes == k ? ft_model_labels(m) : NULL;
    char **out = ft_calloc((size_t)k, sizeof *out);
    for (int c = 0; out && c < k; c++) {
        char buf[32];
        const char *name = ds && ds->class_names && c < ds->n_classes && ds->class_names[c] ? ds->class_names[c]
                         : model_labels ? model_labels[c] : (snprintf(buf, sizeof buf, "%d", c), buf);
        if (!(out[c] = ft_strdup(name))) { cli_class_names_free(out, k); out = NULL; }
    }
    ft_model_labels_free(model_labels, k);
    return out;
}

void cli_class_names_free(char **names, int k) { ft_model_labels_free(names, k); }
