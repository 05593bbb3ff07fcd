/* "resnet": torchvision's ResNet-18/34/50/101/152 (v1.5: the stride sits on the 3x3 conv).
 *
 * Config: {"arch": "resnet", "depth": 18|34|50|101|152, "n_classes": 1000,
 *          "input_shape": [3,224,224], "frozen_bn": false}
 * Names (torchvision 0.14 state_dict, in order): conv1.weight, bn1.*, layer<s>.<b>.conv<k>.weight,
 * layer<s>.<b>.bn<k>.*, layer<s>.<b>.downsample.0.weight, layer<s>.<b>.downsample.1.*,
 * fc.weight, fc.bias, where bn.* = weight, bias, running_mean, running_var, num_batches_tracked.
 * Head: "fc.*". torchvision's ResNet has no dropout. */
#include "models/tv_common.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    tv_common c;
    int depth;
    bool bottleneck;
    int blocks[4];
} resnet_cfg;

static const int STAGE_WIDTH[4] = {64, 128, 256, 512};
#define L "layer%d.%d.%s" /* block member names */

static ft_status resnet_create(ft_model *m, const char *cfg_json) {
    resnet_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    static const char *const keys[] = {"depth", NULL};
    json_t *root = NULL;
    ft_status s = tv_parse("resnet", cfg_json, m, &c->c, 224, 1, -1.0f, keys, &root);
    if (s) return s;
    json_t *v = json_object_get(root, "depth");
    c->depth = json_is_integer(v) ? (int)json_integer_value(v) : 0;
    json_decref(root);
    static const struct { int depth; bool bottleneck; int blocks[4]; } table[] = {
        {18, false, {2, 2, 2, 2}}, {34, false, {3, 4, 6, 3}}, {50, true, {3, 4, 6, 3}},
        {101, true, {3, 4, 23, 3}}, {152, true, {3, 8, 36, 3}},
    };
    int k = -1;
    for (int i = 0; i < (int)(sizeof table / sizeof table[0]); i++)
        if (table[i].depth == c->depth) k = i;
    if (k < 0) return ft_fail(FT_EINVAL, "resnet config: \"depth\" must be one of 18, 34, 50, 101, 152");
    c->bottleneck = table[k].bottleneck;
    memcpy(c->blocks, table[k].blocks, sizeof c->blocks);
    m->head_patterns = "fc.*";

    ft_params *ps = m->params;
    const int exp = c->bottleneck ? 4 : 1;
    s = tv_add_conv(ps, 64, c->c.in_c, 7, 7, false, "conv1");
    if (!s) s = tv_add_bn(ps, 64, "bn1");
    int64_t inplanes = 64;
    for (int st = 0; st < 4 && !s; st++) {
        int64_t planes = STAGE_WIDTH[st];
        for (int b = 0; b < c->blocks[st] && !s; b++) {
            int stride = (st > 0 && b == 0) ? 2 : 1;
            if (c->bottleneck) {
                s = tv_add_conv(ps, planes, inplanes, 1, 1, false, L, st + 1, b, "conv1");
                if (!s) s = tv_add_bn(ps, planes, L, st + 1, b, "bn1");
                if (!s) s = tv_add_conv(ps, planes, planes, 3, 3, false, L, st + 1, b, "conv2");
                if (!s) s = tv_add_bn(ps, planes, L, st + 1, b, "bn2");
                if (!s) s = tv_add_conv(ps, planes * 4, planes, 1, 1, false, L, st + 1, b, "conv3");
                if (!s) s = tv_add_bn(ps, planes * 4, L, st + 1, b, "bn3");
            } else {
                s = tv_add_conv(ps, planes, inplanes, 3, 3, false, L, st + 1, b, "conv1");
                if (!s) s = tv_add_bn(ps, planes, L, st + 1, b, "bn1");
                if (!s) s = tv_add_conv(ps, planes, planes, 3, 3, false, L, st + 1, b, "conv2");
                if (!s) s = tv_add_bn(ps, planes, L, st + 1, b, "bn2");
            }
            if (!s && (stride != 1 || inplanes != planes * exp)) {
                s = tv_add_conv(ps, planes * exp, inplanes, 1, 1, false, L, st + 1, b, "downsample.0");
                if (!s) s = tv_add_bn(ps, planes * exp, L, st + 1, b, "downsample.1");
            }
            inplanes = planes * exp;
        }
    }
    if (!s) s = tv_add_linear(ps, m->n_classes, 512 * exp, "fc");
    return s;
}

/* conv -> bn (-> relu) with names <block>.conv<k> / <block>.bn<k>. */
static ft_node *conv_bn(ft_graph *g, ft_node *x, const resnet_cfg *c, const char *block, int k, int stride, int pad,
                        bool relu) {
    char conv[64], bn[64];
    snprintf(conv, sizeof conv, "%s.conv%d", block, k);
    snprintf(bn, sizeof bn, "%s.bn%d", block, k);
    ft_node *h = tv_bn(g, tv_conv(g, x, conv, false, stride, pad, pad, 1), bn, 1e-5f, c->c.frozen_bn);
    return relu ? ft_relu(g, h) : h;
}

static ft_node *resnet_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    const resnet_cfg *c = m->impl;
    ft_node *h = tv_input_4d(m, g, x);
    h = ft_relu(g, tv_bn(g, tv_conv(g, h, "conv1", false, 2, 3, 3, 1), "bn1", 1e-5f, c->c.frozen_bn));
    ft_pool2d_args mp = {{3, 3}, {2, 2}, {1, 1, 1, 1}, false, false};
    h = ft_max_pool2d(g, h, &mp);
    const int exp = c->bottleneck ? 4 : 1;
    int64_t inplanes = 64;
    for (int st = 0; st < 4; st++) {
        int64_t planes = STAGE_WIDTH[st];
        for (int b = 0; b < c->blocks[st]; b++) {
            int stride = (st > 0 && b == 0) ? 2 : 1;
            char block[32], name[64];
            snprintf(block, sizeof block, "layer%d.%d", st + 1, b);
            ft_node *out;
            if (c->bottleneck) {
                out = conv_bn(g, h, c, block, 1, 1, 0, true);
                out = conv_bn(g, out, c, block, 2, stride, 1, true);
                out = conv_bn(g, out, c, block, 3, 1, 0, false);
            } else {
                out = conv_bn(g, h, c, block, 1, stride, 1, true);
                out = conv_bn(g, out, c, block, 2, 1, 1, false);
            }
            ft_node *identity = h;
            if (stride != 1 || inplanes != planes * exp) {
                snprintf(name, sizeof name, "%s.downsample.0", block);
                identity = tv_conv(g, h, name, false, stride, 0, 0, 1);
                snprintf(name, sizeof name, "%s.downsample.1", block);
                identity = tv_bn(g, identity, name, 1e-5f, c->c.frozen_bn);
            }
            h = ft_relu(g, ft_add(g, out, identity));
            inplanes = planes * exp;
        }
    }
    return tv_linear(g, ft_global_avg_pool(g, h, false), "fc");
}

const ft_arch ft_arch_resnet = {"resnet", resnet_create, resnet_build, tv_config_with_classes, tv_free_impl, NULL, NULL};
