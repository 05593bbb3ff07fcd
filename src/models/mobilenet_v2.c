/* "mobilenet_v2": torchvision's MobileNetV2.
 *
 * Config: {"arch": "mobilenet_v2", "width_mult": 1.0 (0 < w <= 4), "n_classes": 1000,
 *          "input_shape": [3,224,224], "dropout": 0.2, "frozen_bn": false}
 * Names (torchvision 0.14): features.0.0 (3x3 conv, stride 2) + features.0.1 (bn);
 * features.<i>.conv.* for the 17 inverted residual blocks: with expansion, conv.0.0/conv.0.1 (1x1
 * expand + bn), conv.1.0/conv.1.1 (3x3 depthwise + bn), conv.2 (1x1 project), conv.3 (bn);
 * without (the first block), conv.0.0/conv.0.1 (depthwise + bn), conv.1 (project), conv.2 (bn);
 * features.18.0/features.18.1 (1x1 conv to the last channels + bn); classifier.1 (linear).
 * Activations are ReLU6; the projection is linear; a block adds its input when stride 1 and
 * channels match. Channel counts use torchvision's _make_divisible(c * width_mult, 8).
 * Head: "classifier.1.*". */
#include "models/tv_common.h"

#include <stdio.h>
#include <string.h>

#define MB_BLOCKS 17

typedef struct {
    tv_common c;
    double width_mult;
    int64_t first, last;
    int n_blocks;
    struct { int64_t in, hidden, out; int stride, expand; } b[MB_BLOCKS];
} mbv2_cfg;

/* torchvision's _make_divisible(v, 8): round to the nearest multiple of 8, not below 8 and
 * not more than 10% below v. */
static int64_t make_divisible(double v) {
    int64_t d = 8;
    int64_t n = (int64_t)(v + d / 2.0) / d * d;
    if (n < d) n = d;
    if ((double)n < 0.9 * v) n += d;
    return n;
}

static ft_status mbv2_create(ft_model *m, const char *cfg_json) {
    mbv2_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    static const char *const keys[] = {"width_mult", NULL};
    json_t *root = NULL;
    ft_status s = tv_parse("mobilenet_v2", cfg_json, m, &c->c, 224, 1, 0.2f, keys, &root);
    if (s) return s;
    c->width_mult = 1.0;
    json_t *v = json_object_get(root, "width_mult");
    if (v) c->width_mult = json_is_number(v) ? json_number_value(v) : -1;
    json_decref(root);
    if (!(c->width_mult > 0 && c->width_mult <= 4))
        return ft_fail(FT_EINVAL, "mobilenet_v2 config: \"width_mult\" must be a number in (0, 4]");
    m->head_patterns = "classifier.1.*";

    static const int setting[7][4] = {/* t, c, n, s */
                                      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    c->first = make_divisible(32 * c->width_mult);
    c->last = make_divisible(1280 * (c->width_mult > 1.0 ? c->width_mult : 1.0));
    int64_t in = c->first;
    for (int r = 0; r < 7; r++) {
        int64_t out = make_divisible(setting[r][1] * c->width_mult);
        for (int i = 0; i < setting[r][2]; i++) {
            int k = c->n_blocks++;
            c->b[k].in = in;
            c->b[k].out = out;
            c->b[k].expand = setting[r][0];
            c->b[k].hidden = (int64_t)(in * setting[r][0]); /* int(round(inp * t)), t integral */
            c->b[k].stride = i == 0 ? setting[r][3] : 1;
            in = out;
        }
    }

    ft_params *ps = m->params;
    s = tv_add_conv(ps, c->first, c->c.in_c, 3, 3, false, "features.0.0");
    if (!s) s = tv_add_bn(ps, c->first, "features.0.1");
    for (int k = 0; k < c->n_blocks && !s; k++) {
        int f = k + 1, j = 0;
        int64_t hid = c->b[k].hidden;
        if (c->b[k].expand != 1) {
            s = tv_add_conv(ps, hid, c->b[k].in, 1, 1, false, "features.%d.conv.0.0", f);
            if (!s) s = tv_add_bn(ps, hid, "features.%d.conv.0.1", f);
            j = 1;
        }
        if (!s) s = tv_add_conv(ps, hid, 1, 3, 3, false, "features.%d.conv.%d.0", f, j);
        if (!s) s = tv_add_bn(ps, hid, "features.%d.conv.%d.1", f, j);
        if (!s) s = tv_add_conv(ps, c->b[k].out, hid, 1, 1, false, "features.%d.conv.%d", f, j + 1);
        if (!s) s = tv_add_bn(ps, c->b[k].out, "features.%d.conv.%d", f, j + 2);
    }
    if (!s) s = tv_add_conv(ps, c->last, in, 1, 1, false, "features.%d.0", c->n_blocks + 1);
    if (!s) s = tv_add_bn(ps, c->last, "features.%d.1", c->n_blocks + 1);
    if (!s) s = tv_add_linear(ps, m->n_classes, c->last, "classifier.1");
    return s;
}

/* Conv2dNormActivation: conv (no bias, "same" padding) -> bn -> relu6 under <prefix>.0 / .1. */
static ft_node *conv_bn_relu6(ft_graph *g, ft_node *x, const mbv2_cfg *c, const char *prefix, int k, int stride,
                              int groups) {
    char conv[64], bn[64];
    snprintf(conv, sizeof conv, "%s.0", prefix);
    snprintf(bn, sizeof bn, "%s.1", prefix);
    ft_node *h = tv_conv(g, x, conv, false, stride, (k - 1) / 2, (k - 1) / 2, groups);
    return ft_relu6(g, tv_bn(g, h, bn, 1e-5f, c->c.frozen_bn));
}

static ft_node *mbv2_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    const mbv2_cfg *c = m->impl;
    ft_node *h = conv_bn_relu6(g, tv_input_4d(m, g, x), c, "features.0", 3, 2, 1);
    char name[64];
    for (int k = 0; k < c->n_blocks; k++) {
        int f = k + 1, j = 0;
        ft_node *y = h;
        if (c->b[k].expand != 1) {
            snprintf(name, sizeof name, "features.%d.conv.0", f);
            y = conv_bn_relu6(g, y, c, name, 1, 1, 1);
            j = 1;
        }
        snprintf(name, sizeof name, "features.%d.conv.%d", f, j);
        y = conv_bn_relu6(g, y, c, name, 3, c->b[k].stride, (int)c->b[k].hidden);
        snprintf(name, sizeof name, "features.%d.conv.%d", f, j + 1);
        y = tv_conv(g, y, name, false, 1, 0, 0, 1);
        snprintf(name, sizeof name, "features.%d.conv.%d", f, j + 2);
        y = tv_bn(g, y, name, 1e-5f, c->c.frozen_bn);
        h = (c->b[k].stride == 1 && c->b[k].in == c->b[k].out) ? ft_add(g, h, y) : y;
    }
    snprintf(name, sizeof name, "features.%d", c->n_blocks + 1);
    h = ft_global_avg_pool(g, conv_bn_relu6(g, h, c, name, 1, 1, 1), false);
    if (training && c->c.dropout > 0) h = ft_dropout(g, h, c->c.dropout);
    return tv_linear(g, h, "classifier.1");
}

const ft_arch ft_arch_mobilenet_v2 = {"mobilenet_v2", mbv2_create, mbv2_build, tv_config_with_classes, tv_free_impl, NULL, NULL};
