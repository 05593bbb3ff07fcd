/* Internal: what the torchvision architectures (resnet, vgg, inception_v3, mobilenet_v2) share.
 *
 * Parameter and buffer names are torchvision 0.14's state_dict names, declared in state_dict
 * order. A BatchNorm2d declares weight, bias, running_mean, running_var and
 * num_batches_tracked; the last is a 0-d float buffer (torchvision: int64) that exists only so
 * checkpoints load and export under the same names. It is loaded and saved as is, and not
 * incremented: it only matters to torch with momentum=None, which torchvision never uses. */
#ifndef FT_TV_COMMON_H
#define FT_TV_COMMON_H

#include "models/models.h"

#include <jansson.h>

/* Keys every torchvision config may have. */
typedef struct {
    int64_t in_c, in_h, in_w;   /* input_shape */
    float dropout;              /* "dropout", where the architecture has it */
    bool frozen_bn;             /* "frozen_bn": BatchNorm uses running statistics even in training */
} tv_common;

/* Parse cfg_json: "arch", "n_classes" (default 1000), "input_shape" [C,H,W] (default
 * [3,def_hw,def_hw]; H and W at least min_hw), "frozen_bn", "dropout" (only when
 * def_dropout >= 0); "preprocess" and "source" are allowed and not interpreted (as in the
 * graph architecture). Any other key must be listed in extra_keys (NULL-terminated), so a
 * typo is an error. Sets m->n_classes, m->in_*, and returns the parsed root in *root (caller
 * decrefs; NULL on failure). */
ft_status tv_parse(const char *arch, const char *cfg_json, ft_model *m, tv_common *c, int64_t def_hw, int64_t min_hw,
                   float def_dropout, const char *const *extra_keys, json_t **root);
/* Optional typed keys of root: a missing key leaves *out unchanged. */
ft_status tv_get_bool(json_t *root, const char *arch, const char *key, bool *out);

/* Declaration helpers; the name prefix is a printf format. Each returns FT_OK or the
 * parameter store's failure. */
ft_status tv_add_conv(ft_params *ps, int64_t out, int64_t in_per_group, int kh, int kw, bool bias, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
ft_status tv_add_bn(ft_params *ps, int64_t ch, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ft_status tv_add_linear(ft_params *ps, int64_t out, int64_t in, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Graph helpers: <prefix>.weight (+ <prefix>.bias when bias) looked up by name. */
ft_node *tv_conv(ft_graph *g, ft_node *x, const char *prefix, bool bias, int stride, int pad_h, int pad_w, int groups);
/* BatchNorm2d, momentum 0.1 (torchvision's), running statistics when frozen. */
ft_node *tv_bn(ft_graph *g, ft_node *x, const char *prefix, float eps, bool frozen);
ft_node *tv_linear(ft_graph *g, ft_node *x, const char *prefix);
/* The batch as [N, C, H, W] (a flat [N, C*H*W] input is reshaped). */
ft_node *tv_input_4d(ft_model *m, ft_graph *g, ft_node *x);

/* config_with_classes for all of them: the config with "n_classes" replaced and
 * "preprocess.labels" (the old head's class names) dropped. */
char *tv_config_with_classes(const ft_model *m, int n_classes);
void tv_free_impl(ft_model *m);

#endif
