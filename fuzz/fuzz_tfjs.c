/* libFuzzer target: TF.js layers model.json text through ft_import_tfjs_mem (JSON, manifest,
 * topology, layer conversion, the graph config's load-time dry run, weight layouts), then,
 * for small models, a graph build, plan and forward on zeros.
 *
 * The weights are not part of the input: the harness sizes them from the manifest itself
 * and fills them deterministically (finite values for every dtype), so the fuzzer spends
 * its time on the JSON. One input length in seven gets a buffer one byte short, to keep
 * the size checks exercised. Seeds: fuzz/corpus/tfjs (each under 4 KB). */
#include "finetune.h"
#include "fuzz_model_common.h"
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
    fuzz_run_model(m);
    return 0;
}
