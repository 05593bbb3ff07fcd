/* libFuzzer target: model configs (JSON) through ft_model_from_config, then a graph build
 * and plan for one example, so shape errors in builders are exercised too. */
#include "finetune.h"

#include <jansson.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keep sizes small: a config asking for a billion-unit layer is valid but would only test
 * the machine's memory. The parser's own limits are checked by the unit tests. */
static bool small_numbers(json_t *v, json_int_t limit) {
    if (json_is_integer(v)) return json_integer_value(v) <= limit;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!small_numbers(json_array_get(v, i), limit)) return false;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) if (!small_numbers(x, limit)) return false;
    }
    return true;
}

/* Hugging Face configs default to the real model sizes (BERT-base: 110M parameters), so a typo'd
 * key builds a big model: declare the parameters first (nothing allocated) and skip big ones. */
static bool small_model(const char *text) {
    json_t *root = json_loads(text, 0, NULL);
    const char *mt = json_string_value(json_object_get(root, "model_type"));
    const ft_arch *arch = !json_object_get(root, "arch") ? ft_arch_find(mt) : NULL;
    json_decref(root);
    if (!arch) return true;
    ft_model *m = ft_calloc(1, sizeof *m);
    if (!m) return false;
    m->arch = arch;
    m->params = ft_params_new();
    m->config_json = ft_strdup(text);
    bool ok = m->params && m->config_json && arch->create(m, text) == FT_OK && ft_params_count(m->params, false) < (1 << 20);
    for (int d = 0; ok && d < m->in_ndim; d++) ok = m->in_shape[d] <= 64; /* tokens: attention is T x T */
    ft_model_free(m);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    json_t *probe = json_loadb((const char *)data, size, 0, NULL);
    /* Hugging Face configs (bert, gpt2, llama): layers x width x vocab multiply, so keep each small */
    bool ok = !probe || small_numbers(probe, json_object_get(probe, "model_type") ? 64 : 4096);
    json_decref(probe);
    if (!ok) return 0;
    char *text = ft_malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    ft_model *m = NULL;
    if (small_model(text) && ft_model_from_config(text, &m) == FT_OK) {
        int64_t numel = 1;
        for (int d = 0; d < m->in_ndim; d++) numel *= m->in_shape[d];
        if (ft_params_count(m->params, false) < (1 << 20) && numel < (1 << 16)) {
            ft_model_init(m, 1);
            ft_graph *g = ft_graph_new(m->params);
            int64_t shape[FT_MAX_DIMS] = {2};
            for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
            ft_node *x = ft_input(g, "x", m->in_dtype, m->in_ndim + 1, shape);
            ft_node *logits = m->arch->build(m, g, x, false);
            ft_node_keep(logits);
            if (ft_graph_plan(g, NULL, false) == FT_OK) ft_graph_forward(g);
            ft_graph_free(g);
        }
        ft_model_free(m);
    }
    ft_free(text);
    return 0;
}
