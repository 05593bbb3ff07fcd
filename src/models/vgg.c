/* "vgg": torchvision's VGG-11/13/16/19, with or without BatchNorm.
 *
 * Config: {"arch": "vgg", "depth": 11|13|16|19, "batch_norm": false, "n_classes": 1000,
 *          "input_shape": [3,224,224] (height and width >= 32), "dropout": 0.5, "frozen_bn": false}
 * Names (torchvision 0.14): features.<i>.weight/bias for each 3x3 conv and features.<i+1>.* for
 * its BatchNorm, where <i> counts every module of torchvision's `features` Sequential (conv,
 * [bn], relu, and the max pools); classifier.0 (25088 -> 4096), classifier.3 (4096 -> 4096),
 * classifier.6 (4096 -> n_classes). Head: "classifier.6.*".
 * The feature map is average-pooled to 7x7 as torchvision's AdaptiveAvgPool2d((7, 7)) does
 * (identity at 224x224), so any input size >= 32 gives the same 25088 classifier inputs. */
#include "models/tv_common.h"

#include <stdio.h>
#include <string.h>

#define VGG_MAX_LAYERS 24
#define POOL (-1)

typedef struct {
    tv_common c;
    int depth;
    bool batch_norm;
    int n_layers;
    int layers[VGG_MAX_LAYERS]; /* conv widths, POOL for a max pool */
} vgg_cfg;

static const int CFG_A[] = {64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL};
static const int CFG_B[] = {64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL};
static const int CFG_D[] = {64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL, 512, 512, 512, POOL};
static const int CFG_E[] = {64,  64,  POOL, 128, 128, POOL, 256, 256, 256, 256, POOL,
                            512, 512, 512,  512, POOL, 512, 512, 512, 512, POOL};

static ft_status vgg_create(ft_model *m, const char *cfg_json) {
    vgg_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    static const char *const keys[] = {"depth", "batch_norm", NULL};
    json_t *root = NULL;
    ft_status s = tv_parse("vgg", cfg_json, m, &c->c, 224, 32, 0.5f, keys, &root);
    if (s) return s;
    json_t *v = json_object_get(root, "depth");
    c->depth = json_is_integer(v) ? (int)json_integer_value(v) : 0;
    s = tv_get_bool(root, "vgg", "batch_norm", &c->batch_norm);
    json_decref(root);
    if (s) return s;
    const int *cfg;
    int n;
    switch (c->depth) {
    case 11: cfg = CFG_A; n = (int)(sizeof CFG_A / sizeof CFG_A[0]); break;
    case 13: cfg = CFG_B; n = (int)(sizeof CFG_B / sizeof CFG_B[0]); break;
    case 16: cfg = CFG_D; n = (int)(sizeof CFG_D / sizeof CFG_D[0]); break;
    case 19: cfg = CFG_E; n = (int)(sizeof CFG_E / sizeof CFG_E[0]); break;
    default: return ft_fail(FT_EINVAL, "vgg config: \"depth\" must be one of 11, 13, 16, 19");
    }
    memcpy(c->layers, cfg, (size_t)n * sizeof *cfg);
    c->n_layers = n;
    m->head_patterns = "classifier.6.*";

    ft_params *ps = m->params;
    int64_t in = c->c.in_c;
    int idx = 0;
    for (int i = 0; i < n && !s; i++) {
        if (cfg[i] == POOL) { idx++; continue; }
        s = tv_add_conv(ps, cfg[i], in, 3, 3, true, "features.%d", idx);
        if (!s && c->batch_norm) s = tv_add_bn(ps, cfg[i], "features.%d", idx + 1);
        idx += c->batch_norm ? 3 : 2;
        in = cfg[i];
    }
    if (!s) s = tv_add_linear(ps, 4096, 512 * 7 * 7, "classifier.0");
    if (!s) s = tv_add_linear(ps, 4096, 4096, "classifier.3");
    if (!s) s = tv_add_linear(ps, m->n_classes, 4096, "classifier.6");
    return s;
}

/* AdaptiveAvgPool to `out` along dim (2 or 3): cell i averages [floor(i*n/out), ceil((i+1)*n/out)).
 * Rectangular cells make the 2-D pool separable: rows, then columns. */
static ft_node *adaptive_avg_1d(ft_graph *g, ft_node *x, int dim, int out) {
    if (!x) return NULL;
    int64_t n = x->shape[dim];
    if (n == out) return x;
    ft_node *cells[7];
    for (int i = 0; i < out; i++) {
        int64_t a = (int64_t)i * n / out, b = ((int64_t)(i + 1) * n + out - 1) / out;
        cells[i] = ft_mean(g, ft_slice(g, x, dim, a, b), dim, true);
    }
    return ft_concat(g, out, cells, dim);
}

static ft_node *vgg_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    const vgg_cfg *c = m->impl;
    ft_node *h = tv_input_4d(m, g, x);
    ft_pool2d_args mp = {{2, 2}, {2, 2}, {0, 0, 0, 0}, false, false};
    char name[32];
    int idx = 0;
    for (int i = 0; i < c->n_layers; i++) {
        if (c->layers[i] == POOL) {
            h = ft_max_pool2d(g, h, &mp);
            idx++;
            continue;
        }
        snprintf(name, sizeof name, "features.%d", idx);
        h = tv_conv(g, h, name, true, 1, 1, 1, 1);
        if (c->batch_norm) {
            snprintf(name, sizeof name, "features.%d", idx + 1);
            h = tv_bn(g, h, name, 1e-5f, c->c.frozen_bn);
        }
        h = ft_relu(g, h);
        idx += c->batch_norm ? 3 : 2;
    }
    h = adaptive_avg_1d(g, adaptive_avg_1d(g, h, 2, 7), 3, 7);
    int64_t flat[2] = {h ? h->shape[0] : 0, 512 * 7 * 7};
    h = ft_reshape(g, h, 2, flat);
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "classifier.%d", 3 * k);
        h = ft_relu(g, tv_linear(g, h, name));
        if (training && c->c.dropout > 0) h = ft_dropout(g, h, c->c.dropout);
    }
    return tv_linear(g, h, "classifier.6");
}

const ft_arch ft_arch_vgg = {"vgg", vgg_create, vgg_build, tv_config_with_classes, tv_free_impl, NULL, NULL};
