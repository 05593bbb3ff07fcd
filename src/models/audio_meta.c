/* A model's audio front end (preprocess.audio in its config): the options of the wav:
 * dataset spec it was trained with, so predict can rebuild its input from a recording. */
#include "finetune/kws.h"
#include "finetune/io.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

char *ft_model_audio_spec(const ft_model *m) {
    json_t *root = m && m->config_json ? json_loads(m->config_json, 0, NULL) : NULL;
    const char *s = json_string_value(json_object_get(json_object_get(root, "preprocess"), "audio"));
    char *r = s ? ft_strdup(s) : NULL;
    json_decref(root);
    return r;
}

ft_status ft_model_set_audio_spec(ft_model *m, const char *spec_opts) {
    json_t *root = json_loads(m->config_json, 0, NULL);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return ft_fail(FT_EINVAL, "audio front end: the model's config is not a JSON object");
    }
    json_t *pre = json_object_get(root, "preprocess");
    if (!json_is_object(pre)) {
        pre = json_object();
        json_object_set_new(root, "preprocess", pre);
    }
    if (spec_opts) json_object_set_new(pre, "audio", json_string(spec_opts));
    else json_object_del(pre, "audio");
    char *t = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *cfg = t ? ft_strdup(t) : NULL;
    free(t);
    if (!cfg) return ft_fail(FT_ENOMEM, "out of memory");
    ft_free(m->config_json);
    m->config_json = cfg;
    return FT_OK;
}
