/* CLI helpers for text tasks: finding the model's tokenizer, opening text data with the
 * model's labels, and remembering the tokenizer in the model's config. */
#include "cli.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}
static bool is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

ft_status cli_load_tokenizer_path(const char *path, ft_tokenizer **out) {
    size_t len = strlen(path);
    if (is_dir(path)) return ft_tokenizer_load_dir(path, out);
    if (len > 5 && !strcmp(path + len - 5, ".json")) return ft_tokenizer_load_hf_json(path, out);
    if (len > 4 && !strcmp(path + len - 4, ".txt")) return ft_tokenizer_load_wordpiece(path, true, out);
    return ft_tokenizer_load_llama2c(path, out);
}

/* The tokenizer path a trained model's config remembers ("tokenizer"), or NULL. */
static char *config_tokenizer(const ft_model *m) {
    json_t *root = json_loads(m->config_json, 0, NULL);
    const char *t = json_string_value(json_object_get(root, "tokenizer"));
    char *r = t ? strdup(t) : NULL;
    json_decref(root);
    return r;
}

ft_status cli_find_tokenizer(const char *flag, const char *model_path, const ft_model *m, ft_tokenizer **out, char *used,
                             size_t cap) {
    *out = NULL;
    if (flag) {
        snprintf(used, cap, "%s", flag);
        return cli_load_tokenizer_path(flag, out);
    }
    if (is_dir(model_path)) {
        snprintf(used, cap, "%s", model_path);
        ft_status s = ft_tokenizer_load_dir(model_path, out);
        if (s != FT_ENOTFOUND) return s;
    }
    char *remembered = config_tokenizer(m);
    if (remembered) {
        snprintf(used, cap, "%s", remembered);
        free(remembered);
        if (is_file(used) || is_dir(used)) return cli_load_tokenizer_path(used, out);
    }
    /* llama2.c: tokenizer.bin, or tok<vocab>.bin (its custom-tokenizer naming), next to the checkpoint */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", model_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    snprintf(used, cap, "%s/tokenizer.bin", dir);
    if (is_file(used)) return ft_tokenizer_load_llama2c(used, out);
    if (m->seq.vocab_size > 0) {
        snprintf(used, cap, "%s/tok%d.bin", dir, m->seq.vocab_size);
        if (is_file(used)) return ft_tokenizer_load_llama2c(used, out);
    }
    return ft_fail(FT_ENOTFOUND, "no tokenizer found for model %s: pass --tokenizer (tokenizer.bin / tok512.bin, tokenizer.json, "
                                 "vocab.txt, or a Hugging Face directory)", model_path);
}

ft_status cli_remember_tokenizer(ft_model *m, const char *used) {
    char abs[PATH_MAX];
    if (!realpath(used, abs)) snprintf(abs, sizeof abs, "%s", used);
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!root) return ft_fail(FT_EFORMAT, "model config is not JSON");
    json_object_set_new(root, "tokenizer", json_string(abs));
    char *d = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(root);
    char *cfg = d ? ft_strdup(d) : NULL;
    free(d);
    if (!cfg) return ft_fail(FT_ENOMEM, "out of memory");
    ft_free(m->config_json);
    m->config_json = cfg;
    return FT_OK;
}

int64_t cli_text_max_len(const ft_model *m, int64_t want) {
    int64_t maxpos = m->in_ndim == 1 ? m->in_shape[0] : 0;
    return maxpos > 0 && want > maxpos ? maxpos : want;
}

void cli_print_text_note(const ft_dataset *ds, const char *spec, int64_t max_len) {
    ft_text_counts c;
    if (ft_text_dataset_counts(ds, &c)) return;
    if (c.truncated)
        printf("            %lld of %lld examples truncated to %lld tokens%s\n", (long long)c.truncated, (long long)c.rows,
               (long long)max_len, c.words_dropped ? "" : "");
    if (c.words_dropped) printf("            %lld words past the cut are not scored\n", (long long)c.words_dropped);
    if (c.invalid_utf8)
        printf("            %lld rows had invalid UTF-8, replaced with U+FFFD (first at %s)\n", (long long)c.invalid_utf8,
               c.first_invalid);
    (void)spec;
}
