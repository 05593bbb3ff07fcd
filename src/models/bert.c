/* "bert": Hugging Face BertModel / BertForSequenceClassification / BertForTokenClassification.
 *
 * Config: a Hugging Face BERT config.json ("model_type": "bert"), read as BertConfig does:
 * vocab_size 30522, hidden_size 768, num_hidden_layers 12, num_attention_heads 12,
 * intermediate_size 3072, hidden_act "gelu" (exact; "gelu_new"/"gelu_pytorch_tanh" = tanh form),
 * hidden_dropout_prob 0.1, attention_probs_dropout_prob 0.1 (not applied: see docs/models.md),
 * max_position_embeddings 512, type_vocab_size 2, layer_norm_eps 1e-12, classifier_dropout
 * (null = hidden_dropout_prob), position_embedding_type "absolute" (the only one supported).
 * "architectures"[0] picks the head:
 *   BertForSequenceClassification  classifier(dropout(tanh(pooler.dense(h[:, 0])))) -> [B, labels]
 *   BertForTokenClassification     classifier(dropout(h)) -> [B, T, labels] (no pooler)
 *   anything else (BertModel, BertForMaskedLM, BertForPreTraining, ...): the encoder and pooler
 *                                  alone, named as BertModel names them (no "bert." prefix);
 *                                  build returns the pooled output [B, hidden]. A new head
 *                                  (ft_model_replace_head) makes it BertForSequenceClassification.
 * Labels: the size of id2label (else num_labels, else 2).
 * Names (with heads, under "bert."): embeddings.{word,position,token_type}_embeddings.weight,
 * embeddings.LayerNorm.{weight,bias}, encoder.layer.<i>.attention.self.{query,key,value}.{weight,bias},
 * encoder.layer.<i>.attention.output.{dense,LayerNorm}.{weight,bias},
 * encoder.layer.<i>.intermediate.dense.{weight,bias}, encoder.layer.<i>.output.{dense,LayerNorm}.*,
 * pooler.dense.{weight,bias}; then classifier.{weight,bias}. Head: "classifier.*". */
#include "models/hf_common.h"
#include "ops/ops.h"

#include <stdio.h>
#include <string.h>

typedef enum { BERT_BASE, BERT_SEQ_CLS, BERT_TOK_CLS } bert_task;

typedef struct {
    int64_t vocab, hidden, layers, heads, inter, max_pos, type_vocab;
    double ln_eps, hidden_drop, cls_drop;
    bool gelu_tanh;
    bert_task task;
    const char *pre; /* "bert." with a head, "" for the bare BertModel */
} bert_cfg;

static ft_status parse(bert_cfg *c, json_t *root, ft_model *m) {
    static const char *A = "bert";
    ft_status s = FT_OK;
    double d;
    if (!s) s = hf_get_int(root, A, "vocab_size", 30522, 1, 1 << 24, &c->vocab);
    if (!s) s = hf_get_int(root, A, "hidden_size", 768, 1, 1 << 16, &c->hidden);
    if (!s) s = hf_get_int(root, A, "num_hidden_layers", 12, 0, 1024, &c->layers);
    if (!s) s = hf_get_int(root, A, "num_attention_heads", 12, 1, 1024, &c->heads);
    if (!s) s = hf_get_int(root, A, "intermediate_size", 3072, 1, 1 << 20, &c->inter);
    if (!s) s = hf_get_int(root, A, "max_position_embeddings", 512, 1, 1 << 20, &c->max_pos);
    if (!s) s = hf_get_int(root, A, "type_vocab_size", 2, 1, 1 << 16, &c->type_vocab);
    if (!s) s = hf_get_num(root, A, "layer_norm_eps", 1e-12, 0, 1, &c->ln_eps);
    if (!s) s = hf_get_num(root, A, "hidden_dropout_prob", 0.1, 0, 0.999, &c->hidden_drop);
    if (!s) s = hf_get_num(root, A, "attention_probs_dropout_prob", 0.1, 0, 0.999, &d);
    if (!s) s = hf_get_num(root, A, "classifier_dropout", c->hidden_drop, 0, 0.999, &c->cls_drop);
    if (s) return s;
    if (c->hidden % c->heads)
        return ft_fail(FT_EINVAL, "bert config: hidden_size %lld is not a multiple of num_attention_heads %lld",
                       (long long)c->hidden, (long long)c->heads);
    const char *act = json_string_value(json_object_get(root, "hidden_act"));
    if (!act) act = "gelu";
    if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh")) c->gelu_tanh = true;
    else if (strcmp(act, "gelu")) return ft_fail(FT_EUNSUPPORTED, "bert config: hidden_act \"%s\" is not supported (gelu, gelu_new)", act);
    const char *pet = json_string_value(json_object_get(root, "position_embedding_type"));
    if (pet && strcmp(pet, "absolute"))
        return ft_fail(FT_EUNSUPPORTED, "bert config: position_embedding_type \"%s\" is not supported (absolute)", pet);
    const char *arch = hf_architecture(root);
    c->task = !strcmp(arch, "BertForSequenceClassification") ? BERT_SEQ_CLS
              : !strcmp(arch, "BertForTokenClassification") ? BERT_TOK_CLS : BERT_BASE;
    c->pre = c->task == BERT_BASE ? "" : "bert.";
    int n = 0;
    if (c->task != BERT_BASE && (s = hf_num_labels(root, A, &n))) return s;
    m->n_classes = c->task == BERT_BASE ? 0 : n;
    return FT_OK;
}

static ft_status bert_create(ft_model *m, const char *cfg_json) {
    bert_cfg *c = ft_calloc(1, sizeof *c);
    if (!c) return ft_fail(FT_ENOMEM, "out of memory");
    m->impl = c;
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "bert config: %s (line %d)", err.text, err.line);
    ft_status s = parse(c, root, m);
    json_decref(root);
    if (s) return s;
    m->in_dtype = FT_I32;
    m->in_ndim = 1;
    m->in_shape[0] = c->max_pos;
    m->head_patterns = c->task == BERT_BASE ? NULL : "classifier.*";
    m->seq = (ft_seq_info){(int)c->vocab, (int)c->layers, (int)c->max_pos, c->hidden, c->hidden, false};

    ft_params *ps = m->params;
    char n[256];
    const int64_t H = c->hidden;
#define NAME(...) (snprintf(n, sizeof n, __VA_ARGS__), n)
    s = hf_add_mat(ps, c->vocab, H, NAME("%sembeddings.word_embeddings.weight", c->pre));
    if (!s) s = hf_add_mat(ps, c->max_pos, H, NAME("%sembeddings.position_embeddings.weight", c->pre));
    if (!s) s = hf_add_mat(ps, c->type_vocab, H, NAME("%sembeddings.token_type_embeddings.weight", c->pre));
    if (!s) s = hf_add_vec(ps, H, NAME("%sembeddings.LayerNorm.weight", c->pre));
    if (!s) s = hf_add_vec(ps, H, NAME("%sembeddings.LayerNorm.bias", c->pre));
    for (int64_t l = 0; l < c->layers && !s; l++) {
        const char *sub[3] = {"query", "key", "value"};
        for (int k = 0; k < 3 && !s; k++)
            s = hf_add_linear(ps, H, H, true, NAME("%sencoder.layer.%lld.attention.self.%s", c->pre, (long long)l, sub[k]));
        if (!s) s = hf_add_linear(ps, H, H, true, NAME("%sencoder.layer.%lld.attention.output.dense", c->pre, (long long)l));
        if (!s) s = hf_add_vec(ps, H, NAME("%sencoder.layer.%lld.attention.output.LayerNorm.weight", c->pre, (long long)l));
        if (!s) s = hf_add_vec(ps, H, NAME("%sencoder.layer.%lld.attention.output.LayerNorm.bias", c->pre, (long long)l));
        if (!s) s = hf_add_linear(ps, c->inter, H, true, NAME("%sencoder.layer.%lld.intermediate.dense", c->pre, (long long)l));
        if (!s) s = hf_add_linear(ps, H, c->inter, true, NAME("%sencoder.layer.%lld.output.dense", c->pre, (long long)l));
        if (!s) s = hf_add_vec(ps, H, NAME("%sencoder.layer.%lld.output.LayerNorm.weight", c->pre, (long long)l));
        if (!s) s = hf_add_vec(ps, H, NAME("%sencoder.layer.%lld.output.LayerNorm.bias", c->pre, (long long)l));
    }
    if (!s && c->task != BERT_TOK_CLS) s = hf_add_linear(ps, H, H, true, NAME("%spooler.dense", c->pre));
    if (!s && c->task != BERT_BASE) s = hf_add_linear(ps, m->n_classes, H, true, "classifier");
#undef NAME
    return s;
}

static ft_node *drop(ft_graph *g, ft_node *x, double p, bool training) {
    return training && p > 0 ? ft_dropout(g, x, (float)p) : x;
}

/* Embeddings and encoder: the last hidden states [B,T,hidden] (BertModel's last_hidden_state). */
static ft_node *bert_trunk(ft_model *m, ft_graph *g, ft_node *ids, ft_node *mask, ft_node *types, ft_node *positions,
                           bool training) {
    const bert_cfg *c = m->impl;
    const char *P = c->pre;
    if (!ft_graph_ok(g, 1, &ids)) return NULL;
    if (ids->ndim != 2 || ids->dtype != FT_I32) return ft_graph_fail(g, FT_ESHAPE, "bert: input ids must be I32 [batch, tokens]");
    const int64_t T = ids->shape[1];
    const float eps = (float)c->ln_eps;
    if (!positions && T > c->max_pos)
        return ft_graph_fail(g, FT_EINVAL, "bert: %lld tokens exceed max_position_embeddings %lld (truncate the input)",
                             (long long)T, (long long)c->max_pos);
    /* embeddings: (word + token_type) + position, LayerNorm, dropout */
    ft_node *h = ft_embedding(g, ids, hf_param(g, "%sembeddings.word_embeddings.weight", P));
    ft_node *tt = hf_param(g, "%sembeddings.token_type_embeddings.weight", P);
    h = ft_add(g, h, types ? ft_embedding(g, types, tt) : ft_slice(g, tt, 0, 0, 1)); /* no types: all 0 */
    ft_node *pe = hf_param(g, "%sembeddings.position_embeddings.weight", P);
    h = ft_add(g, h, positions ? ft_embedding(g, positions, pe) : ft_slice(g, pe, 0, 0, T));
    h = ft_layer_norm(g, h, hf_param(g, "%sembeddings.LayerNorm.weight", P), hf_param(g, "%sembeddings.LayerNorm.bias", P), eps);
    h = drop(g, h, c->hidden_drop, training);
    ft_attention_args aa = {(int)c->heads, (int)c->heads, false, 0.0f};
    for (int64_t l = 0; l < c->layers; l++) {
        char L[200];
        snprintf(L, sizeof L, "%sencoder.layer.%lld", P, (long long)l);
        ft_node *q = ft_linear(g, h, hf_param(g, "%s.attention.self.query.weight", L), hf_param(g, "%s.attention.self.query.bias", L));
        ft_node *k = ft_linear(g, h, hf_param(g, "%s.attention.self.key.weight", L), hf_param(g, "%s.attention.self.key.bias", L));
        ft_node *v = ft_linear(g, h, hf_param(g, "%s.attention.self.value.weight", L), hf_param(g, "%s.attention.self.value.bias", L));
        ft_node *a = ft_attention(g, q, k, v, mask, &aa);
        a = ft_linear(g, a, hf_param(g, "%s.attention.output.dense.weight", L), hf_param(g, "%s.attention.output.dense.bias", L));
        a = ft_add(g, drop(g, a, c->hidden_drop, training), h);
        a = ft_layer_norm(g, a, hf_param(g, "%s.attention.output.LayerNorm.weight", L),
                          hf_param(g, "%s.attention.output.LayerNorm.bias", L), eps);
        ft_node *f = ft_linear(g, a, hf_param(g, "%s.intermediate.dense.weight", L), hf_param(g, "%s.intermediate.dense.bias", L));
        f = ft_gelu(g, f, c->gelu_tanh);
        f = ft_linear(g, f, hf_param(g, "%s.output.dense.weight", L), hf_param(g, "%s.output.dense.bias", L));
        f = ft_add(g, drop(g, f, c->hidden_drop, training), a);
        h = ft_layer_norm(g, f, hf_param(g, "%s.output.LayerNorm.weight", L), hf_param(g, "%s.output.LayerNorm.bias", L), eps);
    }
    return h;
}

/* The config's head on the last hidden states h [B,T,hidden]. */
static ft_node *bert_head(ft_model *m, ft_graph *g, ft_node *h, bool training) {
    const bert_cfg *c = m->impl;
    const char *P = c->pre;
    if (!ft_graph_ok(g, 1, &h)) return NULL;
    if (c->task == BERT_TOK_CLS)
        return ft_linear(g, drop(g, h, c->cls_drop, training), ft_param(g, "classifier.weight"), ft_param(g, "classifier.bias"));
    /* pooler: tanh(dense(h[:, 0])) */
    int64_t bh[2] = {h->shape[0], c->hidden};
    ft_node *cls = ft_reshape(g, ft_slice(g, h, 1, 0, 1), 2, bh);
    ft_node *pooled = ft_tanh(g, ft_linear(g, cls, hf_param(g, "%spooler.dense.weight", P), hf_param(g, "%spooler.dense.bias", P)));
    if (c->task == BERT_BASE) return pooled;
    return ft_linear(g, drop(g, pooled, c->cls_drop, training), ft_param(g, "classifier.weight"), ft_param(g, "classifier.bias"));
}

ft_node *ft_bert_forward(ft_model *m, ft_graph *g, ft_node *ids, ft_node *mask, ft_node *types, bool training) {
    return bert_head(m, g, bert_trunk(m, g, ids, mask, types, NULL, training), training);
}

static ft_node *bert_build(ft_model *m, ft_graph *g, ft_node *x, bool training) {
    return ft_bert_forward(m, g, x, NULL, NULL, training);
}

/* Sequence-model interface: the encoder (bidirectional; no KV cache) and the config's head. */
static ft_node *bert_hidden(ft_model *m, ft_graph *g, const ft_seq_batch *in) {
    if (!in || !in->ids) return ft_graph_fail(g, FT_EINVAL, "bert: no token ids");
    if (in->past_k || in->past_v) return ft_graph_fail(g, FT_EUNSUPPORTED, "bert: an encoder has no KV cache");
    return bert_trunk(m, g, in->ids, in->attn_mask, in->token_types, in->positions, in->training);
}

ft_node *ft_bert_task_head(ft_model *m, ft_graph *g, ft_node *hidden, const ft_seq_batch *in) {
    const bert_cfg *c = m->impl;
    if (c->task == BERT_BASE)
        return ft_graph_fail(g, FT_EINVAL, "bert: this config (architectures %s) has no task head; give it one (--new-head)",
                             "BertModel/BertForMaskedLM/...");
    return bert_head(m, g, hidden, in && in->training);
}

static char *bert_config_with_classes(const ft_model *m, int n_classes) {
    const bert_cfg *c = m->impl;
    return hf_config_with_labels(m->config_json, c->task == BERT_TOK_CLS ? "BertForTokenClassification" : "BertForSequenceClassification",
                                 n_classes);
}

static void bert_free(ft_model *m) { ft_free(m->impl); }

const ft_arch ft_arch_bert = {"bert", bert_create, bert_build, bert_config_with_classes, bert_free, bert_hidden, NULL};
