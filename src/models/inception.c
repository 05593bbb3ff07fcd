/* "inception_v3": torchvision's Inception3.
 *
 * Config: {"arch": "inception_v3", "n_classes": 1000, "input_shape": [3,299,299] (height and
 *          width >= 75), "aux_logits": true, "transform_input": false, "dropout": 0.5,
 *          "frozen_bn": false}
 * Names (torchvision 0.14, in order): Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1,
 * Conv2d_4a_3x3, Mixed_5b..Mixed_7c (branches as in torchvision, e.g. Mixed_6b.branch7x7dbl_3),
 * each a BasicConv2d <name>.conv.weight + <name>.bn.* (BatchNorm eps 0.001); AuxLogits.* (between
 * Mixed_6e and Mixed_7a, when aux_logits); fc.weight, fc.bias. Head: "fc.*", plus
 * "AuxLogits.fc.*" with aux_logits.
 *
 * aux_logits: as torchvision's constructor (default true), the auxiliary classifier's
 * parameters exist, so checkpoints written by torchvision's default model match name for name.
 * The ft_arch interface returns one logits tensor, so the auxiliary branch is never computed:
 * it does not enter the loss (torchvision's training recipe adds 0.4 x its loss), its
 * parameters start frozen (never updated or decayed) and are loaded, exported and, on a new
 * head, re-initialised like the main head. aux_logits=false drops them; loading a checkpoint
 * that has them then ignores them.
 *
 * transform_input: as torchvision (default false there and here; torchvision's ImageNet
 * weights set it true): the input is taken to be normalised with the ImageNet mean/std
 * (0.485, 0.456, 0.406)/(0.229, 0.224, 0.225) and is re-normalised per channel to
 * (x_raw - 0.5) / 0.5, the normalisation those weights were trained with:
 * x_c <- x_c * std_c / 0.5 + (mean_c - 0.5) / 0.5. Needs 3 input channels. */
#include "models/tv_common.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    tv_common c;
    bool aux_logits, transform_input;
} incep_cfg;

/* One function describes the network; it runs twice: declaring parameters (ps set, nodes
 * NULL) and building the graph (g set). Channel counts are tracked explicitly. */
typedef struct {
    ft_params *ps;
    ft_graph *g;
    bool frozen;
    ft_status s;
} walk;

/* BasicConv2d: conv (no bias) -> BatchNorm (eps 0.001) -> ReLU, named <blk>.<name>.conv / .bn. */
static ft_node *bc(walk *w, ft_node *x, const char *blk, const char *name, int64_t in, int64_t out, int kh, int kw,
                   int stride, int ph, int pw) {
    char p[96];
    snprintf(p, sizeof p, "%s%s%s", blk, *blk ? "." : "", name);
    if (w->ps) {
        if (!w->s) w->s = tv_add_conv(w->ps, out, in, kh, kw, false, "%s.conv", p);
        if (!w->s) w->s = tv_add_bn(w->ps, out, "%s.bn", p);
        return NULL;
    }
    char conv[112], bn[112];
    snprintf(conv, sizeof conv, "%s.conv", p);
    snprintf(bn, sizeof bn, "%s.bn", p);
    return ft_relu(w->g, tv_bn(w->g, tv_conv(w->g, x, conv, false, stride, ph, pw, 1), bn, 1e-3f, w->frozen));
}

static ft_node *pool(walk *w, ft_node *x, bool max, int k, int stride, int pad) {
    if (w->ps) return NULL;
    ft_pool2d_args a = {{k, k}, {stride, stride}, {pad, pad, pad, pad}, false, true};
    return max ? ft_max_pool2d(w->g, x, &a) : ft_avg_pool2d(w->g, x, &a);
}

static ft_node *cat(walk *w, int n, ft_node **xs) { return w->ps ? NULL : ft_concat(w->g, n, xs, 1); }

/* InceptionA: 64 + 64 + 96 + pool_features channels. */
static ft_node *block_a(walk *w, ft_node *x, const char *blk, int64_t in, int64_t pool_features) {
    ft_node *b[4];
    b[0] = bc(w, x, blk, "branch1x1", in, 64, 1, 1, 1, 0, 0);
    b[1] = bc(w, x, blk, "branch5x5_1", in, 48, 1, 1, 1, 0, 0);
    b[1] = bc(w, b[1], blk, "branch5x5_2", 48, 64, 5, 5, 1, 2, 2);
    b[2] = bc(w, x, blk, "branch3x3dbl_1", in, 64, 1, 1, 1, 0, 0);
    b[2] = bc(w, b[2], blk, "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    b[2] = bc(w, b[2], blk, "branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1);
    b[3] = bc(w, pool(w, x, false, 3, 1, 1), blk, "branch_pool", in, pool_features, 1, 1, 1, 0, 0);
    return cat(w, 4, b);
}

/* InceptionB (grid reduction): 384 + 96 + in channels. */
static ft_node *block_b(walk *w, ft_node *x, const char *blk, int64_t in) {
    ft_node *b[3];
    b[0] = bc(w, x, blk, "branch3x3", in, 384, 3, 3, 2, 0, 0);
    b[1] = bc(w, x, blk, "branch3x3dbl_1", in, 64, 1, 1, 1, 0, 0);
    b[1] = bc(w, b[1], blk, "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    b[1] = bc(w, b[1], blk, "branch3x3dbl_3", 96, 96, 3, 3, 2, 0, 0);
    b[2] = pool(w, x, true, 3, 2, 0);
    return cat(w, 3, b);
}

/* InceptionC (factorised 7x7): 4 x 192 = 768 channels. */
static ft_node *block_c(walk *w, ft_node *x, const char *blk, int64_t in, int64_t c7) {
    ft_node *b[4];
    b[0] = bc(w, x, blk, "branch1x1", in, 192, 1, 1, 1, 0, 0);
    b[1] = bc(w, x, blk, "branch7x7_1", in, c7, 1, 1, 1, 0, 0);
    b[1] = bc(w, b[1], blk, "branch7x7_2", c7, c7, 1, 7, 1, 0, 3);
    b[1] = bc(w, b[1], blk, "branch7x7_3", c7, 192, 7, 1, 1, 3, 0);
    b[2] = bc(w, x, blk, "branch7x7dbl_1", in, c7, 1, 1, 1, 0, 0);
    b[2] = bc(w, b[2], blk, "branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0);
    b[2] = bc(w, b[2], blk, "branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3);
    b[2] = bc(w, b[2], blk, "branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0);
    b[2] = bc(w, b[2], blk, "branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3);
    b[3] = bc(w, pool(w, x, false, 3, 1, 1), blk, "branch_pool", in, 192, 1, 1, 1, 0, 0);
    return cat(w, 4, b);
}

/* InceptionD (grid reduction): 320 + 192 + in channels. */
static ft_node *block_d(walk *w, ft_node *x, const char *blk, int64_t in) {
    ft_node *b[3];
    b[0] = bc(w, x, blk, "branch3x3_1", in, 192, 1, 1, 1, 0, 0);
    b[0] = bc(w, b[0], blk, "branch3x3_2", 192, 320, 3, 3, 2, 0, 0);
    b[1] = bc(w, x, blk, "branch7x7x3_1", in, 192, 1, 1, 1, 0, 0);
    b[1] = bc(w, b[1], blk, "branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3);
    b[1] = bc(w, b[1], blk, "branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0);
    b[1] = bc(w, b[1], blk, "branch7x7x3_4", 192, 192, 3, 3, 2, 0, 0);
    b[2] = pool(w, x, true, 3, 2, 0);
    return cat(w, 3, b);
}

/* InceptionE (expanded filter bank): 320 + 2 x 384 + 2 x 384 + 192 = 2048 channels. */
static ft_node *block_e(walk *w, ft_node *x, const char *blk, int64_t in) {
    ft_node *b[6];
    b[0] = bc(w, x, blk, "branch1x1", in, 320, 1, 1, 1, 0, 0);
    ft_node *t = bc(w, x, blk, "branch3x3_1", in, 384, 1, 1, 1, 0, 0);
    b[1] = bc(w, t, blk, "branch3x3_2a", 384, 384, 1, 3, 1, 0, 1);
    b[2] = bc(w, t, blk, "branch3x3_2b", 384, 384, 3, 1, 1, 1, 0);
    t = bc(w, x, blk, "branch3x3dbl_1", in, 448, 1, 1, 1, 0, 0);
    t = bc(w, t, blk, "branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1);
    b[3] = bc(w, t, blk, "branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1);
    b[4] = bc(w, t, blk, "branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0);
    b[5] = bc(w, pool(w, x, false, 3, 1, 1), blk, "branch_pool", in, 192, 1, 1, 1, 0, 0);
    return cat(w, 6, b); /* = torchvision's cat of [1x1, cat(2a, 2b), cat(3a, 3b), pool] */
}

/* torchvision's _transform_input (see the header comment). */
static ft_node *transform_input(ft_graph *g, ft_node *x) {
    static const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
    ft_node *ch[3];
    for (int c = 0; c < 3; c++)
        ch[c] = ft_scale(g, ft_slice(g, x, 1, c, c + 1), (float)(std[c] / 0.5), (float)((mean[c] - 0.5) / 0.5));
    return ft_concat(g, 3, ch, 1);
}

/* The whole network; returns the logits in build mode. */
static ft_node *network(walk *w, const ft_model *m, ft_node *x) {
    const incep_cfg *c = m->impl;
    x = bc(w, x, "", "Conv2d_1a_3x3", c->c.in_c, 32, 3, 3, 2, 0, 0);
    x = bc(w, x, "", "Conv2d_2a_3x3", 32, 32, 3, 3, 1, 0, 0);
    x = bc(w, x, "", "Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1);
    x = pool(w, x, true, 3, 2, 0);
    x = bc(w, x, "", "Conv2d_3b_1x1", 64, 80, 1, 1, 1, 0, 0);
    x = bc(w, x, "", "Conv2d_4a_3x3", 80, 192, 3, 3, 1, 0, 0);
    x = pool(w, x, true, 3, 2, 0);
    x = block_a(w, x, "Mixed_5b", 192, 32);
    x = block_a(w, x, "Mixed_5c", 256, 64);
    x = block_a(w, x, "Mixed_5d", 288, 64);
    x = block_b(w, x, "Mixed_6a", 288);
    x = block_c(w, x, "Mixed_6b", 768, 128);
    x = block_c(w, x, "Mixed_6c", 768, 160);
    x = block_c(w, x, "Mixed_6d", 768, 160);
    x = block_c(w, x, "Mixed_6e", 768, 192);
    if (w->ps && c->aux_logits) { /* declared only: see the header comment */
        bc(w, NULL, "AuxLogits", "conv0", 768, 128, 1, 1, 1, 0, 0);
        bc(w, NULL, "AuxLogits", "conv1", 128, 768, 5, 5, 1, 0, 0);
        if (!w->s) w->s = tv_add_linear(w->ps, m->n_classes, 768, "AuxLogits.fc");
    }
    x = block_d(w, x, "Mixed_7a", 768);
    x = block_e(w, x, "Mixed_7b", 1280);
    x = block_e(w, x, "Mixed_7c", 2048);
    if (w->ps) {
        if (!w->s) w->s = tv_add_linear(w->ps, m->n_classes, 2048, "fc");
        return NULL;
    }
    return x;
}

static ft_status incep_create(ft_model *m, const char *cfg_json) {
    incep_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    static const char *const keys[] = {"aux_logits", "transform_input", NULL};
    json_t *root = NULL;
    ft_status s = tv_parse("inception_v3", cfg_json, m, &c->c, 299, 75, 0.5f, keys, &root);
    if (s) return s;
    c->aux_logits = true;
    s = tv_get_bool(root, "inception_v3", "aux_logits", &c->aux_logits);
    if (!s) s = tv_get_bool(root, "inception_v3", "transform_input", &c->transform_input);
    json_decref(root);
    if (s) return s;
    if (c->transform_input && c->c.in_c != 3)
        return ft_fail(FT_EINVAL, "inception_v3 config: \"transform_input\" needs 3 input channels, input_shape has %lld",
                       (long long)c->c.in_c);
    m->head_patterns = c->aux_logits ? "fc.*,AuxLogits.fc.*" : "fc.*";
    walk w = {m->params, NULL, false, FT_OK};
    network(&w, m, NULL);
    if (w.s) return w.s;
    /* The auxiliary classifier never receives a gradient here; keep the optimizer off it. */
    for (int i = 0; i < m->params->n; i++)
        if (strncmp(m->params->p[i].name, "AuxLogits.", 10) == 0) m->params->p[i].trainable = false;
    return FT_OK;
}

static ft_node *incep_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    const incep_cfg *c = m->impl;
    ft_node *h = tv_input_4d(m, g, x);
    if (c->transform_input) h = transform_input(g, h);
    walk w = {NULL, g, c->c.frozen_bn, FT_OK};
    h = ft_global_avg_pool(g, network(&w, m, h), false);
    if (training && c->c.dropout > 0) h = ft_dropout(g, h, c->c.dropout);
    return tv_linear(g, h, "fc");
}

const ft_arch ft_arch_inception_v3 = {"inception_v3", incep_create, incep_build, tv_config_with_classes, tv_free_impl, NULL, NULL};
