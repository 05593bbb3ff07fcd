/* Internal: what the Hugging Face Transformer architectures (bert, gpt2) share.
 *
 * Their config is the Hugging Face config.json itself ("model_type" names the arch, see
 * ft_model_from_config), kept verbatim so an export is again a Hugging Face directory. Keys
 * finetune does not use are ignored, as transformers does; a missing key takes the default of
 * the transformers config class. "architectures"[0] chooses the head. Parameter names are
 * those of the transformers state_dict, in named_parameters() order. */
#ifndef FT_HF_COMMON_H
#define FT_HF_COMMON_H

#include "models/models.h"

#include <jansson.h>

/* Integer key in [lo, hi] (default def when absent or null). */
ft_status hf_get_int(json_t *root, const char *arch, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out);
/* Number key in [lo, hi] (default def when absent or null). */
ft_status hf_get_num(json_t *root, const char *arch, const char *key, double def, double lo, double hi, double *out);
/* Boolean key (default def when absent or null). */
ft_status hf_get_bool(json_t *root, const char *arch, const char *key, bool def, bool *out);
/* "architectures"[0], or "" when absent. */
const char *hf_architecture(json_t *root);
/* Number of labels: the size of "id2label", else "num_labels", else 2. */
ft_status hf_num_labels(json_t *root, const char *arch, int *out);
/* The config with "architectures" = [architecture] and id2label / label2id for n labels
 * (LABEL_0.. as transformers writes them); "num_labels" is dropped. malloc'd (ft_free). */
char *hf_config_with_labels(const char *cfg_json, const char *architecture, int n_labels);
/* Declare "<prefix>.weight" [out, in] and (when bias) "<prefix>.bias" [out]. */
ft_status hf_add_linear(ft_params *ps, int64_t out, int64_t in, bool bias, const char *prefix);
ft_status hf_add_vec(ft_params *ps, int64_t n, const char *name);
ft_status hf_add_mat(ft_params *ps, int64_t rows, int64_t cols, const char *name);
/* ft_param(g, printf(fmt, ...)). */
ft_node *hf_param(ft_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
