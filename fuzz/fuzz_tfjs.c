/* libFuzzer target: TF.js layers model.json text through ft_import_tfjs_mem (JSON, manifest,
 * topology, layer conversion, the graph config's load-time dry run, weight layouts), then,
 * for small models, a graph build, plan and forward on zeros.
 *
 * The weights are not part of the input: the harness sizes them from the manifest itself
 * and fills them deterministically (finite values for every dtype), so the fuzzer spends
 * its time on the JSON. One input length in seven gets a buffer one byte short, to keep
 * the size checks exercised. Seeds: fuzz/corpus/tfjs (each under 4 KB). */
#include "finetune.h"
#include "finetune/import.h"

#include <jansson.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WEIGHT_BYTES (1u << 20)

/* The manifest's weights, back to back, with plausible contents; NULL when the manifest
 * is not usable (the importer reports that itself, given no weights). */
static uint8_t *make_weights(const uint8_t *data, size_t size, size_t *n) {
    *n = 0;
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    json_t *man = json_object_get(root, "weightsManifest");
    size_t total = 0;
    uint8_t *buf = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        for (size_t g = 0; g < json_array_size(man); g++) {
            json_t *ws = json_object_get(json_array_get(man, g), "weights");
            for (size_t k = 0; k < json_array_size(ws); k++) {
                json_t *w = json_array_get(ws, k), *sh = json_object_get(w, "shape");
                const char *qd = json_string_value(json_object_get(json_object_get(w, "quantization"), "dtype"));
                size_t es = !qd ? 4 : !strcmp(qd, "uint8") ? 1 : 2;
                uint64_t numel = 1;
                for (size_t d = 0; d < json_array_size(sh) && numel <= MAX_WEIGHT_BYTES; d++) {
                    json_int_t v = json_integer_value(json_array_get(sh, d));
                    numel *= v > 0 && v <= (json_int_t)MAX_WEIGHT_BYTES ? (uint64_t)v : 0;
                }
                if (numel * es > MAX_WEIGHT_BYTES || at + numel * es > MAX_WEIGHT_BYTES) goto done;
                for (uint64_t i = 0; pass == 1 && i < numel; i++) {
                    uint8_t *p = buf + at + i * es;
                    uint32_t h = (uint32_t)((at + i) * 2654435761u);
                    if (es == 4) {
                        float f = (float)((h >> 8) % 2001) / 1000.0f - 1.0f + (i % 5 == 0 ? 1.5f : 0.0f);
                        memcpy(p, &f, 4);
                    } else if (es == 2) {
                        p[0] = (uint8_t)h;
                        p[1] = (uint8_t)(0x30 | ((h >> 8) & 0x8b)); /* a finite half (exponent < 31) */
                    } else {
                        p[0] = (uint8_t)(h >> 13);
                    }
                }
                at += (size_t)numel * es;
            }
        }
        if (pass == 0) {
            total = at;
            if (!(buf = ft_malloc(total ? total : 1))) goto done;
        }
    }
    *n = total;
done:
    json_decref(root);
    if (!*n && buf) { ft_free(buf); buf = NULL; }
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    size_t nw = 0;
    uint8_t *w = make_weights(data, size, &nw);
    if (nw && size % 7 == 0) nw--;
    ft_model *m = NULL;
    ft_status s = ft_import_tfjs_mem((const char *)data, size, w, nw, "fuzz/model.json", &m);
    ft_free(w);
    if (s != FT_OK) return 0;
    int64_t in_numel = 1;
    for (int d = 0; d < m->in_ndim; d++) in_numel *= m->in_shape[d];
    if (ft_params_count(m->params, false) < (1 << 20) && in_numel < (1 << 14)) {
        ft_graph *g = ft_graph_new(m->params);
        int64_t shape[FT_MAX_DIMS] = {1};
        for (int d = 0; d < m->in_ndim; d++) shape[d + 1] = m->in_shape[d];
        ft_node *x = ft_input(g, "x", m->in_dtype, m->in_ndim + 1, shape);
        ft_node *logits = m->arch->build(m, g, x, false);
        ft_node_keep(logits);
        /* Only run what stays small: a valid model may still ask for huge activations. */
        int64_t total = 0;
        for (int i = 0; i < ft_graph_node_count(g); i++) total += ft_graph_node(g, i)->numel;
        if (logits && total < (1 << 22) && ft_graph_plan(g, NULL, false) == FT_OK) {
            float *zeros = ft_calloc((size_t)in_numel, sizeof(float));
            if (zeros && ft_graph_set_input(g, x, zeros, (size_t)in_numel * 4) == FT_OK) ft_graph_forward(g);
            ft_free(zeros);
        }
        ft_graph_free(g);
    }
    ft_model_free(m);
    return 0;
}
