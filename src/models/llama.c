/* "llama": the Llama decoder (Hugging Face LlamaForCausalLM), built from a HF-style config.
 *
 * Config (HF's LlamaConfig keys; "arch": "llama"): hidden_size, intermediate_size,
 * num_hidden_layers, num_attention_heads, vocab_size (required); num_key_value_heads
 * (default num_attention_heads), head_dim (default hidden_size / num_attention_heads),
 * rms_norm_eps (1e-6), rope_theta (10000), max_position_embeddings (2048),
 * tie_word_embeddings (false), attention_bias (false), mlp_bias (false), hidden_act ("silu"
 * only). rope_scaling other than null is refused.
 *
 * Parameters, in HF's state_dict order and names: model.embed_tokens.weight [V,C]; per layer i
 * model.layers.{i}.self_attn.{q,k,v,o}_proj.weight, model.layers.{i}.mlp.{gate,up,down}_proj.weight,
 * model.layers.{i}.input_layernorm.weight, model.layers.{i}.post_attention_layernorm.weight;
 * model.norm.weight; lm_head.weight [V,C] unless tied.
 *
 * Forward (LlamaDecoderLayer): h += o_proj(attn(rope(q_proj(n1(h))), rope(k_proj(..)), v_proj(..)));
 * h += down_proj(silu(gate_proj(n2(h))) * up_proj(n2(h))); logits = lm_head(norm(h)). */
#include "models/models.h"
#include "ops/ops.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int64_t hidden, inter, vocab, head_dim;
    int n_layers, n_head, n_kv_head, max_pos;
    float eps, theta;
    bool tied, attn_bias, mlp_bias;
} llama_cfg;

#define LLAMA_MAX_DIM (1 << 20)

static ft_status get_int(json_t *root, const char *key, bool required, int64_t dflt, int64_t max, int64_t *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return ft_fail(FT_EINVAL, "llama config: \"%s\" is missing", key);
        *out = dflt;
        return FT_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return ft_fail(FT_EINVAL, "llama config: \"%s\" must be an integer in [1, %lld]", key, (long long)max);
    *out = json_integer_value(v);
    return FT_OK;
}

static ft_status get_num(json_t *root, const char *key, double dflt, double lo, double hi, float *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = (float)dflt; return FT_OK; }
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return ft_fail(FT_EINVAL, "llama config: \"%s\" must be a number in [%g, %g]", key, lo, hi);
    *out = (float)json_number_value(v);
    return FT_OK;
}

static ft_status get_bool(json_t *root, const char *key, bool dflt, bool *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = dflt; return FT_OK; }
    if (!json_is_boolean(v)) return ft_fail(FT_EINVAL, "llama config: \"%s\" must be true or false", key);
    *out = json_is_true(v);
    return FT_OK;
}

static ft_status parse(const char *cfg_json, llama_cfg *c) {
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "llama config: %s (line %d)", err.text, err.line);
    memset(c, 0, sizeof *c);
    int64_t v;
    ft_status s;
    if ((s = get_int(root, "hidden_size", true, 0, LLAMA_MAX_DIM, &c->hidden))) goto out;
    if ((s = get_int(root, "intermediate_size", true, 0, LLAMA_MAX_DIM, &c->inter))) goto out;
    if ((s = get_int(root, "vocab_size", true, 0, 1 << 24, &c->vocab))) goto out;
    if ((s = get_int(root, "num_hidden_layers", true, 0, 1024, &v))) goto out;
    c->n_layers = (int)v;
    if ((s = get_int(root, "num_attention_heads", true, 0, 4096, &v))) goto out;
    c->n_head = (int)v;
    if ((s = get_int(root, "num_key_value_heads", false, c->n_head, 4096, &v))) goto out;
    c->n_kv_head = (int)v;
    if ((s = get_int(root, "max_position_embeddings", false, 2048, 1 << 24, &v))) goto out;
    c->max_pos = (int)v;
    if (c->hidden % c->n_head && !json_object_get(root, "head_dim")) {
        s = ft_fail(FT_EINVAL, "llama config: hidden_size %lld is not a multiple of num_attention_heads %d",
                    (long long)c->hidden, c->n_head);
        goto out;
    }
    if ((s = get_int(root, "head_dim", false, c->hidden / c->n_head, LLAMA_MAX_DIM, &c->head_dim))) goto out;
    if (c->head_dim % 2) { s = ft_fail(FT_EINVAL, "llama config: head_dim %lld must be even (RoPE pairs)", (long long)c->head_dim); goto out; }
    if (c->n_head % c->n_kv_head) {
        s = ft_fail(FT_EINVAL, "llama config: num_attention_heads %d is not a multiple of num_key_value_heads %d", c->n_head,
                    c->n_kv_head);
        goto out;
    }
    if ((s = get_num(root, "rms_norm_eps", 1e-6, 0, 1, &c->eps))) goto out;
    if ((s = get_num(root, "rope_theta", 10000.0, 1e-6, 1e30, &c->theta))) goto out;
    if ((s = get_bool(root, "tie_word_embeddings", false, &c->tied))) goto out;
    if ((s = get_bool(root, "attention_bias", false, &c->attn_bias))) goto out;
    if ((s = get_bool(root, "mlp_bias", false, &c->mlp_bias))) goto out;
    json_t *a = json_object_get(root, "hidden_act");
    if (a && !json_is_null(a) && (!json_is_string(a) || strcmp(json_string_value(a), "silu"))) {
        s = ft_fail(FT_EUNSUPPORTED, "llama config: hidden_act '%s' is not supported (only silu)",
                    json_is_string(a) ? json_string_value(a) : "?");
        goto out;
    }
    a = json_object_get(root, "rope_scaling");
    if (a && !json_is_null(a)) {
        s = ft_fail(FT_EUNSUPPORTED, "llama config: rope_scaling is not supported (only plain RoPE)");
        goto out;
    }
out:
    json_decref(root);
    return s;
}

static ft_status add(ft_model *m, const char *name, int64_t d0, int64_t d1) {
    int64_t sh[2] = {d0, d1};
    return ft_params_add(m->params, name, d1 ? 2 : 1, sh) < 0 ? FT_EINVAL : FT_OK;
}

static ft_status llama_create(ft_model *m, const char *cfg_json) {
    llama_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    ft_status s = parse(cfg_json, c);
    if (s) return s;
    int64_t C = c->hidden, Q = c->n_head * c->head_dim, KV = c->n_kv_head * c->head_dim, I = c->inter;
    m->in_dtype = FT_I32;
    m->in_ndim = 1;
    m->in_shape[0] = c->max_pos;
    m->n_classes = (int)c->vocab;
    m->head_patterns = c->tied ? "model.embed_tokens.weight" : "lm_head.*";
    m->seq = (ft_seq_info){(int)c->vocab, c->n_layers, c->max_pos, C, KV, true};
    char n[128];
    if ((s = add(m, "model.embed_tokens.weight", c->vocab, C))) return s;
    for (int i = 0; i < c->n_layers; i++) {
        static const char *const proj[4] = {"q", "k", "v", "o"};
        for (int p = 0; p < 4; p++) {
            int64_t out = p == 0 ? Q : p == 3 ? C : KV, in = p == 3 ? Q : C;
            snprintf(n, sizeof n, "model.layers.%d.self_attn.%s_proj.weight", i, proj[p]);
            if ((s = add(m, n, out, in))) return s;
            if (c->attn_bias) {
                snprintf(n, sizeof n, "model.layers.%d.self_attn.%s_proj.bias", i, proj[p]);
                if ((s = add(m, n, out, 0))) return s;
            }
        }
        static const char *const mlp[3] = {"gate", "up", "down"};
        for (int p = 0; p < 3; p++) {
            snprintf(n, sizeof n, "model.layers.%d.mlp.%s_proj.weight", i, mlp[p]);
            if ((s = add(m, n, p == 2 ? C : I, p == 2 ? I : C))) return s;
            if (c->mlp_bias) {
                snprintf(n, sizeof n, "model.layers.%d.mlp.%s_proj.bias", i, mlp[p]);
                if ((s = add(m, n, p == 2 ? C : I, 0))) return s;
            }
        }
        snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", i);
        if ((s = add(m, n, C, 0))) return s;
        snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", i);
        if ((s = add(m, n, C, 0))) return s;
    }
    if ((s = add(m, "model.norm.weight", C, 0))) return s;
    if (!c->tied && (s = add(m, "lm_head.weight", c->vocab, C))) return s;
    return FT_OK;
}

static ft_node *proj(ft_graph *g, ft_node *x, int layer, const char *what, bool bias) {
    char w[128], b[128];
    snprintf(w, sizeof w, "model.layers.%d.%s.weight", layer, what);
    snprintf(b, sizeof b, "model.layers.%d.%s.bias", layer, what);
    return ft_linear(g, x, ft_param(g, w), bias ? ft_param(g, b) : NULL);
}

static ft_node *llama_hidden(ft_model *m, ft_graph *g, const ft_seq_batch *in) {
    const llama_cfg *c = m->impl;
    if (!in || !in->ids) return ft_graph_fail(g, FT_EINVAL, "llama: no token ids");
    if (in->ids->ndim != 2 || in->ids->dtype != FT_I32) return ft_graph_fail(g, FT_ESHAPE, "llama: ids must be int32 [batch, time]");
    if ((in->past_k || in->past_v) && !in->positions)
        return ft_graph_fail(g, FT_EINVAL, "llama: a KV cache needs explicit positions");
    if (!in->positions && in->ids->shape[1] > c->max_pos)
        return ft_graph_fail(g, FT_ESHAPE, "llama: %lld tokens exceed max_position_embeddings %d", (long long)in->ids->shape[1],
                             c->max_pos);
    char n[128];
    ft_attention_args aa = {c->n_head, c->n_kv_head, !in->bidirectional, 1.0f / sqrtf((float)c->head_dim)};
    ft_node *h = ft_embedding(g, in->ids, ft_param(g, "model.embed_tokens.weight"));
    for (int i = 0; i < c->n_layers; i++) {
        snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", i);
        ft_node *x = ft_rms_norm(g, h, ft_param(g, n), c->eps);
        ft_node *q = ft_rope(g, proj(g, x, i, "self_attn.q_proj", c->attn_bias), c->n_head, c->theta, in->positions);
        ft_node *k = ft_rope(g, proj(g, x, i, "self_attn.k_proj", c->attn_bias), c->n_kv_head, c->theta, in->positions);
        ft_node *v = proj(g, x, i, "self_attn.v_proj", c->attn_bias);
        if (in->new_k) in->new_k[i] = k;
        if (in->new_v) in->new_v[i] = v;
        if (in->past_k && in->past_k[i]) { ft_node *kk[2] = {in->past_k[i], k}; k = ft_concat(g, 2, kk, 1); }
        if (in->past_v && in->past_v[i]) { ft_node *vv[2] = {in->past_v[i], v}; v = ft_concat(g, 2, vv, 1); }
        ft_node *a = ft_attention(g, q, k, v, in->attn_mask, &aa);
        h = ft_add(g, h, proj(g, a, i, "self_attn.o_proj", c->attn_bias));
        snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", i);
        x = ft_rms_norm(g, h, ft_param(g, n), c->eps);
        ft_node *gate = ft_silu(g, proj(g, x, i, "mlp.gate_proj", c->mlp_bias));
        ft_node *up = proj(g, x, i, "mlp.up_proj", c->mlp_bias);
        h = ft_add(g, h, proj(g, ft_mul(g, gate, up), i, "mlp.down_proj", c->mlp_bias));
    }
    return ft_rms_norm(g, h, ft_param(g, "model.norm.weight"), c->eps);
}

static ft_node *llama_lm_head(ft_model *m, ft_graph *g, ft_node *h) {
    const llama_cfg *c = m->impl;
    return ft_linear(g, h, ft_param(g, c->tied ? "model.embed_tokens.weight" : "lm_head.weight"), NULL);
}

static ft_node *llama_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    ft_seq_batch in = {.ids = x, .training = training};
    return llama_lm_head(m, g, llama_hidden(m, g, &in));
}

static void llama_free(ft_model *m) { ft_free(m->impl); }

const ft_arch ft_arch_llama = {"llama", llama_create, llama_build, NULL, llama_free, llama_hidden, llama_lm_head};
