/* "gpt2": Hugging Face GPT2LMHeadModel (and GPT2ForSequenceClassification's parameters).
 *
 * Config: a Hugging Face GPT-2 config.json ("model_type": "gpt2"), read as GPT2Config does:
 * vocab_size 50257, n_positions 1024, n_embd 768, n_layer 12, n_head 12, n_inner (null = 4*n_embd),
 * activation_function "gelu_new" (tanh form; "gelu" = exact), resid_pdrop / embd_pdrop 0.1,
 * attn_pdrop (not applied: see docs/models.md), layer_norm_epsilon 1e-5, scale_attn_weights true,
 * scale_attn_by_inverse_layer_idx false, tie_word_embeddings true.
 * "architectures"[0] picks the head:
 *   GPT2ForSequenceClassification  score = Linear(n_embd, labels, no bias) on every position ->
 *                                  [B, T, labels]; the caller pools at the last non-pad token
 *   anything else (GPT2LMHeadModel, GPT2Model): the LM head, lm_head tied to transformer.wte
 *                                  (no separate parameter) -> logits [B, T, vocab_size]. With
 *                                  "tie_word_embeddings": false, lm_head.weight is its own parameter.
 * Names (GPT2LMHeadModel's named_parameters): transformer.wte.weight [V,E], transformer.wpe.weight,
 * transformer.h.<i>.ln_1.{weight,bias}, transformer.h.<i>.attn.c_attn.{weight [E,3E], bias},
 * transformer.h.<i>.attn.c_proj.{weight [E,E], bias}, transformer.h.<i>.ln_2.*,
 * transformer.h.<i>.mlp.c_fc.{weight [E,I], bias}, transformer.h.<i>.mlp.c_proj.{weight [I,E], bias},
 * transformer.ln_f.*. Conv1D weights keep Hugging Face's [in, out] layout: the graph multiplies
 * x @ W directly, so checkpoints load unmodified. Head: "lm_head.*" / "score.*" (with a tied LM
 * head nothing is head-only, so --new-head makes a sequence classifier). */
#include "models/hf_common.h"
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int64_t vocab, n_pos, embd, layers, heads, inner;
    double ln_eps, resid_drop, embd_drop;
    bool gelu_tanh, tied, seq_cls, inv_layer_scale;
} gpt2_cfg;

static ft_status parse(gpt2_cfg *c, json_t *root, ft_model *m) {
    static const char *A = "gpt2";
    ft_status s = FT_OK;
    double d;
    bool scale = true;
    if (!s) s = hf_get_int(root, A, "vocab_size", 50257, 1, 1 << 24, &c->vocab);
    if (!s) s = hf_get_int(root, A, "n_positions", 1024, 1, 1 << 20, &c->n_pos);
    if (!s) s = hf_get_int(root, A, "n_embd", 768, 1, 1 << 16, &c->embd);
    if (!s) s = hf_get_int(root, A, "n_layer", 12, 0, 1024, &c->layers);
    if (!s) s = hf_get_int(root, A, "n_head", 12, 1, 1024, &c->heads);
    if (!s) s = hf_get_int(root, A, "n_inner", 4 * c->embd, 1, 1 << 20, &c->inner);
    if (!s) s = hf_get_num(root, A, "layer_norm_epsilon", 1e-5, 0, 1, &c->ln_eps);
    if (!s) s = hf_get_num(root, A, "resid_pdrop", 0.1, 0, 0.999, &c->resid_drop);
    if (!s) s = hf_get_num(root, A, "embd_pdrop", 0.1, 0, 0.999, &c->embd_drop);
    if (!s) s = hf_get_num(root, A, "attn_pdrop", 0.1, 0, 0.999, &d);
    if (!s) s = hf_get_bool(root, A, "tie_word_embeddings", true, &c->tied);
    if (!s) s = hf_get_bool(root, A, "scale_attn_weights", true, &scale);
    if (!s) s = hf_get_bool(root, A, "scale_attn_by_inverse_layer_idx", false, &c->inv_layer_scale);
    if (s) return s;
    if (!scale) return ft_fail(FT_EUNSUPPORTED, "gpt2 config: scale_attn_weights false is not supported");
    if (c->embd % c->heads)
        return ft_fail(FT_EINVAL, "gpt2 config: n_embd %lld is not a multiple of n_head %lld", (long long)c->embd, (long long)c->heads);
    const char *act = json_string_value(json_object_get(root, "activation_function"));
    if (!act) act = "gelu_new";
    if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh")) c->gelu_tanh = true;
    else if (strcmp(act, "gelu")) return ft_fail(FT_EUNSUPPORTED, "gpt2 config: activation_function \"%s\" is not supported (gelu_new, gelu)", act);
    json_t *ac = json_object_get(root, "add_cross_attention");
    if (json_is_true(ac)) return ft_fail(FT_EUNSUPPORTED, "gpt2 config: add_cross_attention is not supported");
    c->seq_cls = !strcmp(hf_architecture(root), "GPT2ForSequenceClassification");
    if (c->seq_cls) {
        int n = 0;
        if ((s = hf_num_labels(root, A, &n))) return s;
        m->n_classes = n;
    } else {
        m->n_classes = (int)c->vocab;
    }
    return FT_OK;
}

static ft_status gpt2_create(ft_model *m, const char *cfg_json) {
    gpt2_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "gpt2 config: %s (line %d)", err.text, err.line);
    ft_status s = parse(c, root, m);
    json_decref(root);
    if (s) return s;
    m->in_dtype = FT_I32;
    m->in_ndim = 1;
    m->in_shape[0] = c->n_pos;
    m->head_patterns = c->seq_cls ? "score.*" : c->tied ? NULL : "lm_head.*";
    m->seq = (ft_seq_info){(int)c->vocab, (int)c->layers, (int)c->n_pos, c->embd, c->embd, true};

    ft_params *ps = m->params;
    const int64_t E = c->embd;
    char n[256];
#define NAME(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    s = hf_add_mat(ps, c->vocab, E, "transformer.wte.weight");
    if (!s) s = hf_add_mat(ps, c->n_pos, E, "transformer.wpe.weight");
    for (int64_t l = 0; l < c->layers && !s; l++) {
        long long i = (long long)l;
        if (!s) s = hf_add_vec(ps, E, NAME("transformer.h.%lld.ln_1.weight", i));
        if (!s) s = hf_add_vec(ps, E, NAME("transformer.h.%lld.ln_1.bias", i));
        if (!s) s = hf_add_mat(ps, E, 3 * E, NAME("transformer.h.%lld.attn.c_attn.weight", i)); /* Conv1D [in, out] */
        if (!s) s = hf_add_vec(ps, 3 * E, NAME("transformer.h.%lld.attn.c_attn.bias", i));
        if (!s) s = hf_add_mat(ps, E, E, NAME("transformer.h.%lld.attn.c_proj.weight", i));
        if (!s) s = hf_add_vec(ps, E, NAME("transformer.h.%lld.attn.c_proj.bias", i));
        if (!s) s = hf_add_vec(ps, E, NAME("transformer.h.%lld.ln_2.weight", i));
        if (!s) s = hf_add_vec(ps, E, NAME("transformer.h.%lld.ln_2.bias", i));
        if (!s) s = hf_add_mat(ps, E, c->inner, NAME("transformer.h.%lld.mlp.c_fc.weight", i));
        if (!s) s = hf_add_vec(ps, c->inner, NAME("transformer.h.%lld.mlp.c_fc.bias", i));
        if (!s) s = hf_add_mat(ps, c->inner, E, NAME("transformer.h.%lld.mlp.c_proj.weight", i));
        if (!s) s = hf_add_vec(ps, E, NAME("transformer.h.%lld.mlp.c_proj.bias", i));
    }
    if (!s) s = hf_add_vec(ps, E, "transformer.ln_f.weight");
    if (!s) s = hf_add_vec(ps, E, "transformer.ln_f.bias");
    if (!s && c->seq_cls) s = hf_add_mat(ps, m->n_classes, E, "score.weight");
    else if (!s && !c->tied) s = hf_add_mat(ps, c->vocab, E, "lm_head.weight");
#undef NAME
    return s;
}

static ft_node *drop(ft_graph *g, ft_node *x, double p, bool training) {
    return training && p > 0 ? ft_dropout(g, x, (float)p) : x;
}

/* Conv1D: x [..., in] @ W [in, out] + b. */
static ft_node *conv1d(ft_graph *g, ft_node *x, const char *prefix) {
    return ft_add(g, ft_matmul(g, x, hf_param(g, "%s.weight", prefix), false, false), hf_param(g, "%s.bias", prefix));
}

/* Embeddings and blocks: ln_f(h) [B,T,n_embd]. positions (I32 [T]) and a KV cache (per layer
 * past keys/values [B,P,n_embd]) as in ft_seq_batch; new_k/new_v receive this step's keys/values. */
static ft_node *gpt2_trunk(ft_model *m, ft_graph *g, const ft_seq_batch *in) {
    const gpt2_cfg *c = m->impl;
    ft_node *ids = in->ids;
    if (!ft_graph_ok(g, 1, &ids)) return NULL;
    if (ids->ndim != 2 || ids->dtype != FT_I32) return ft_graph_fail(g, FT_ESHAPE, "gpt2: input ids must be I32 [batch, tokens]");
    if ((in->past_k || in->past_v) && !in->positions) return ft_graph_fail(g, FT_EINVAL, "gpt2: a KV cache needs explicit positions");
    const int64_t T = ids->shape[1], E = c->embd;
    const float eps = (float)c->ln_eps;
    if (!in->positions && T > c->n_pos)
        return ft_graph_fail(g, FT_EINVAL, "gpt2: %lld tokens exceed n_positions %lld (truncate the input)", (long long)T,
                             (long long)c->n_pos);
    ft_node *wpe = ft_param(g, "transformer.wpe.weight");
    ft_node *pos = in->positions ? ft_embedding(g, in->positions, wpe) : ft_slice(g, wpe, 0, 0, T);
    ft_node *h = ft_add(g, ft_embedding(g, ids, ft_param(g, "transformer.wte.weight")), pos);
    h = drop(g, h, c->embd_drop, in->training);
    for (int64_t l = 0; l < c->layers; l++) {
        char L[96], p[128];
        snprintf(L, sizeof L, "transformer.h.%lld", (long long)l);
        ft_attention_args aa = {(int)c->heads, (int)c->heads, !in->bidirectional, 0.0f};
        if (c->inv_layer_scale) aa.scale = 1.0f / (sqrtf((float)(E / c->heads)) * (float)(l + 1)); /* / sqrt(d) / (layer + 1) */
        ft_node *a = ft_layer_norm(g, h, hf_param(g, "%s.ln_1.weight", L), hf_param(g, "%s.ln_1.bias", L), eps);
        snprintf(p, sizeof p, "%s.attn.c_attn", L);
        ft_node *qkv = conv1d(g, a, p);
        ft_node *q = ft_slice(g, qkv, 2, 0, E), *k = ft_slice(g, qkv, 2, E, 2 * E), *v = ft_slice(g, qkv, 2, 2 * E, 3 * E);
        if (in->new_k) in->new_k[l] = k;
        if (in->new_v) in->new_v[l] = v;
        if (in->past_k && in->past_k[l]) { ft_node *kk[2] = {in->past_k[l], k}; k = ft_concat(g, 2, kk, 1); }
        if (in->past_v && in->past_v[l]) { ft_node *vv[2] = {in->past_v[l], v}; v = ft_concat(g, 2, vv, 1); }
        a = ft_attention(g, q, k, v, in->attn_mask, &aa);
        snprintf(p, sizeof p, "%s.attn.c_proj", L);
        h = ft_add(g, drop(g, conv1d(g, a, p), c->resid_drop, in->training), h);
        ft_node *f = ft_layer_norm(g, h, hf_param(g, "%s.ln_2.weight", L), hf_param(g, "%s.ln_2.bias", L), eps);
        snprintf(p, sizeof p, "%s.mlp.c_fc", L);
        f = ft_gelu(g, conv1d(g, f, p), c->gelu_tanh);
        snprintf(p, sizeof p, "%s.mlp.c_proj", L);
        h = ft_add(g, h, drop(g, conv1d(g, f, p), c->resid_drop, in->training));
    }
    return ft_layer_norm(g, h, ft_param(g, "transformer.ln_f.weight"), ft_param(g, "transformer.ln_f.bias"), eps);
}

static ft_node *gpt2_hidden(ft_model *m, ft_graph *g, const ft_seq_batch *in) {
    if (!in || !in->ids) return ft_graph_fail(g, FT_EINVAL, "gpt2: no token ids");
    return gpt2_trunk(m, g, in);
}

/* The LM head: tied to wte unless tie_word_embeddings is false (a sequence classifier keeps the
 * tied head too, so it can still generate). */
static ft_node *gpt2_lm_head(ft_model *m, ft_graph *g, ft_node *h) {
    const gpt2_cfg *c = m->impl;
    return ft_linear(g, h, ft_param(g, c->tied || c->seq_cls ? "transformer.wte.weight" : "lm_head.weight"), NULL);
}

/* GPT2ForSequenceClassification: score on every token; pooled at the last real token. With a
 * float mask [B,T], sel[t] = mask[t] * (1 - mask[t+1]) marks it (left or right padding), and
 * [B,1,T] x [B,T,C] picks it; without a mask, the last position. */
ft_node *ft_gpt2_task_head(ft_model *m, ft_graph *g, ft_node *h, const ft_seq_batch *in) {
    const gpt2_cfg *c = m->impl;
    if (!c->seq_cls)
        return ft_graph_fail(g, FT_EINVAL, "gpt2: this config (GPT2LMHeadModel) has no classification head; give it one (--new-head)");
    ft_node *logits = ft_linear(g, h, ft_param(g, "score.weight"), NULL);
    if (!ft_graph_ok(g, 1, &logits)) return NULL;
    const int64_t B = logits->shape[0], T = logits->shape[1], C = logits->shape[2];
    int64_t bc[2] = {B, C}, b1t[3] = {B, 1, T};
    ft_node *mask = in ? in->attn_mask : NULL;
    if (!mask) return ft_reshape(g, ft_slice(g, logits, 1, T - 1, T), 2, bc);
    if (mask->dtype != FT_F32 || mask->ndim != 2 || mask->shape[1] != T)
        return ft_graph_fail(g, FT_EINVAL, "gpt2: sequence classification pools at the last real token: give attn_mask as F32 [B,T]");
    ft_node *zero = ft_scale(g, ft_slice(g, mask, 1, 0, 1), 0.0f, 0.0f);
    ft_node *parts[2] = {ft_slice(g, mask, 1, 1, T), zero};
    ft_node *next = T > 1 ? ft_concat(g, 2, parts, 1) : zero;
    ft_node *sel = ft_sub(g, mask, ft_mul(g, mask, next));
    return ft_reshape(g, ft_matmul(g, ft_reshape(g, sel, 3, b1t), logits, false, false), 2, bc);
}

ft_node *ft_gpt2_forward(ft_model *m, ft_graph *g, ft_node *ids, ft_node *mask, bool training) {
    const gpt2_cfg *c = m->impl;
    ft_seq_batch in = {.ids = ids, .attn_mask = mask, .training = training};
    ft_node *h = gpt2_trunk(m, g, &in);
    if (c->seq_cls) return ft_linear(g, h, ft_param(g, "score.weight"), NULL);
    return gpt2_lm_head(m, g, h);
}

static ft_node *gpt2_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    return ft_gpt2_forward(m, g, x, NULL, training);
}

static char *gpt2_config_with_classes(const ft_model *m, int n_classes) {
    char *cfg = hf_config_with_labels(m->config_json, "GPT2ForSequenceClassification", n_classes);
    if (!cfg) return NULL;
    /* GPT2ForSequenceClassification pools at the last non-pad token: it needs a pad id. */
    json_t *root = json_loads(cfg, 0, NULL);
    ft_free(cfg);
    if (!root) return NULL;
    if (!json_is_integer(json_object_get(root, "pad_token_id"))) {
        json_t *eos = json_object_get(root, "eos_token_id");
        json_object_set_new(root, "pad_token_id", json_is_integer(eos) ? json_copy(eos) : json_integer(50256));
    }
    char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(root);
    char *r = s ? ft_strdup(s) : NULL;
    free(s);
    return r;
}

static void gpt2_free(ft_model *m) { ft_free(m->impl); }

const ft_arch ft_arch_gpt2 = {"gpt2", gpt2_create, gpt2_build, gpt2_config_with_classes, gpt2_free, gpt2_hidden, gpt2_lm_head};
