/* Task heads for sequence models without their own (llama), and the text forward every text
 * task uses.
 *
 * Architectures with the sequence-model interface (ft_arch.hidden) other than bert and gpt2
 * (whose heads are their own, bert.c / gpt2.c) get their classification heads here,
 * generically, as Hugging Face names them for Llama: a
 * config whose "architectures"[0] ends in
 *   ForSequenceClassification  score.weight [labels, hidden] (no bias); the logits of the last
 *                              real token (LlamaForSequenceClassification pools there)
 *   ForTokenClassification     score.weight [labels, hidden] + score.bias [labels] on every token
 * with the labels from id2label / num_labels (hf_num_labels). "bidirectional": true in the
 * config (a finetune key) drops the causal mask, so a decoder's token classifier sees both
 * sides. BERT and GPT-2 keep their own heads (bert.c, gpt2.c). */
#include "models/hf_common.h"
#include "finetune/tasks.h"
#include "ops/ops.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

ft_status ft_seq_heads_create(ft_model *m, const char *cfg_json) {
    if (!m->arch->hidden) return FT_OK;
    bool own = m->arch == &ft_arch_bert || m->arch == &ft_arch_gpt2; /* heads of their own */
    json_error_t err;
    json_t *root = json_loads(cfg_json, 0, &err);
    if (!root) return ft_fail(FT_EFORMAT, "model config: %s", err.text);
    const char *arch = hf_architecture(root);
    ft_status s = FT_OK;
    int task = ends_with(arch, "ForSequenceClassification") ? FT_TASK_SEQ_CLS
               : ends_with(arch, "ForTokenClassification") ? FT_TASK_TOKEN_CLS : FT_TASK_LM;
    bool bidir = false;
    if ((s = hf_get_bool(root, m->arch->name, "bidirectional", false, &bidir))) goto out;
    m->seq_bidirectional = bidir && m->seq.causal;
    if (own) goto out;
    m->seq_head = task;
    if (task != FT_TASK_LM) {
        int n = 0;
        if ((s = hf_num_labels(root, m->arch->name, &n))) goto out;
        m->n_classes = n;
        m->head_patterns = "score.*";
        s = hf_add_linear(m->params, n, m->seq.hidden_size, task == FT_TASK_TOKEN_CLS, "score");
    }
out:
    json_decref(root);
    return s;
}

/* The Hugging Face class name for an architecture's task head: "Llama" + suffix. */
static void class_name(const ft_model *m, ft_task task, char *buf, size_t cap) {
    const char *n = m->arch->name;
    static const struct { const char *arch, *cls; } known[] = {{"llama", "Llama"}, {"bert", "Bert"}, {"gpt2", "GPT2"}};
    const char *base = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) if (!strcmp(n, known[i].arch)) base = known[i].cls;
    char tmp[64];
    if (!base) { snprintf(tmp, sizeof tmp, "%s", n); tmp[0] = (char)toupper((unsigned char)tmp[0]); base = tmp; }
    snprintf(buf, cap, "%s%s", base, task == FT_TASK_SEQ_CLS ? "ForSequenceClassification"
                                     : task == FT_TASK_TOKEN_CLS ? "ForTokenClassification" : "ForCausalLM");
}

/* Which head a loaded model carries for text tasks (FT_TASK_CLASSIFY: none usable). */
ft_task ft_model_text_head(const ft_model *m) {
    if (!m || !m->arch) return FT_TASK_CLASSIFY;
    if (m->arch->hidden && m->arch != &ft_arch_bert && m->arch != &ft_arch_gpt2) return (ft_task)m->seq_head;
    json_t *root = json_loads(m->config_json, 0, NULL);
    const char *a = root ? hf_architecture(root) : "";
    ft_task t = FT_TASK_CLASSIFY;
    if (!strcmp(m->arch->name, "bert"))
        t = !strcmp(a, "BertForSequenceClassification") ? FT_TASK_SEQ_CLS : !strcmp(a, "BertForTokenClassification") ? FT_TASK_TOKEN_CLS : FT_TASK_CLASSIFY;
    else if (!strcmp(m->arch->name, "gpt2"))
        t = !strcmp(a, "GPT2ForSequenceClassification") ? FT_TASK_SEQ_CLS : FT_TASK_LM;
    json_decref(root);
    return t;
}

bool ft_model_is_text(const ft_model *m) {
    return m && m->arch && (m->arch->hidden || !strcmp(m->arch->name, "bert") || !strcmp(m->arch->name, "gpt2"));
}

ft_status ft_model_for_task(const ft_model *m, ft_task task, int n_labels, bool bidirectional, uint64_t seed, ft_model **out) {
    *out = NULL;
    if (!ft_model_is_text(m)) return ft_fail(FT_EUNSUPPORTED, "architecture '%s' is not a text model", m->arch->name);
    if (task != FT_TASK_LM && n_labels < 1) return ft_fail(FT_EINVAL, "a %s head needs at least 1 label", ft_task_name(task));
    bool gpt2 = !strcmp(m->arch->name, "gpt2"), bert = !strcmp(m->arch->name, "bert");
    if (gpt2 && task == FT_TASK_TOKEN_CLS) return ft_fail(FT_EUNSUPPORTED, "gpt2: token classification is not supported (seq-cls, lm)");
    if (bert && task == FT_TASK_LM) return ft_fail(FT_EUNSUPPORTED, "bert: causal language modelling is not supported (seq-cls, token-cls)");
    if (bidirectional && !m->seq.causal) return ft_fail(FT_EUNSUPPORTED, "%s: bidirectional attention applies to decoders (an encoder is bidirectional already)", m->arch->name);
    char cls[96];
    class_name(m, task, cls, sizeof cls);
    char *cfg = NULL;
    if (task == FT_TASK_LM) {
        json_t *root = json_loads(m->config_json, 0, NULL);
        if (!root) return ft_fail(FT_EFORMAT, "model config is not JSON");
        json_t *archs = json_array();
        json_array_append_new(archs, json_string(cls));
        json_object_set_new(root, "architectures", archs);
        json_object_del(root, "id2label");
        json_object_del(root, "label2id");
        json_object_del(root, "num_labels");
        char *d = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
        json_decref(root);
        cfg = d ? ft_strdup(d) : NULL;
        free(d);
    } else {
        cfg = hf_config_with_labels(m->config_json, cls, n_labels);
    }
    if (!cfg) return ft_fail(FT_ENOMEM, "out of memory");
    if (m->seq.causal) { /* "bidirectional" on or off */
        json_t *root = json_loads(cfg, 0, NULL);
        ft_free(cfg);
        cfg = NULL;
        if (root) {
            if (bidirectional) json_object_set_new(root, "bidirectional", json_true());
            else json_object_del(root, "bidirectional");
            char *d = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
            cfg = d ? ft_strdup(d) : NULL;
            free(d);
            json_decref(root);
        }
        if (!cfg) return ft_fail(FT_ENOMEM, "out of memory");
    }
    ft_status s = ft_model_from_config(cfg, out);
    ft_free(cfg);
    if (s) return s;
    ft_model *n = *out;
    ft_model_init(n, seed);
    const char *fresh = n->head_patterns; /* the new head starts from the seeded init */
    bool keep_head = task == FT_TASK_LM;  /* an LM head is the pretrained one */
    for (int i = 0; i < n->params->n; i++) {
        const ft_param_info *p = &n->params->p[i];
        if (!keep_head && fresh && ft_params_match(fresh, p->name)) continue;
        int j = ft_params_find(m->params, p->name);
        const char *dot = strchr(p->name, '.'); /* BertModel -> BertFor...: gains "bert." */
        if (j < 0 && dot) j = ft_params_find(m->params, dot + 1);
        if (j < 0 || m->params->p[j].numel != p->numel) continue;
        memcpy(ft_params_value(n->params, i), m->params->data + m->params->p[j].offset, (size_t)p->numel * 4);
        n->params->p[i].trainable = m->params->p[j].trainable;
    }
    return FT_OK;
}

/* The head of ft_seq_heads_create on hidden [B,T,C]: sequence classification pools at the last
 * real token of in->attn_mask (F32 [B,T]: sel[t] = mask[t] * (1 - mask[t+1]), as gpt2.c; without
 * a mask, the last position), token classification is a linear layer on every token. */
ft_node *ft_seq_task_head(ft_model *m, ft_graph *g, ft_node *h, const ft_seq_batch *in) {
    if (!ft_graph_ok(g, 1, &h)) return NULL;
    if (m->seq_head == FT_TASK_TOKEN_CLS) return ft_linear(g, h, ft_param(g, "score.weight"), ft_param(g, "score.bias"));
    if (m->seq_head != FT_TASK_SEQ_CLS)
        return ft_graph_fail(g, FT_EINVAL, "%s: this config has no classification head; give it one (--new-head)", m->arch->name);
    const int64_t B = h->shape[0], T = h->shape[1], C = h->shape[2];
    int64_t bc[2] = {B, C}, b1t[3] = {B, 1, T};
    ft_node *mask = in ? in->attn_mask : NULL, *pooled;
    if (!mask) {
        pooled = ft_reshape(g, ft_slice(g, h, 1, T - 1, T), 2, bc);
    } else {
        if (mask->dtype != FT_F32 || mask->ndim != 2 || mask->shape[1] != T)
            return ft_graph_fail(g, FT_EINVAL, "%s: sequence classification pools at the last real token: give attn_mask as F32 [B,T]",
                                 m->arch->name);
        ft_node *zero = ft_scale(g, ft_slice(g, mask, 1, 0, 1), 0.0f, 0.0f);
        ft_node *parts[2] = {ft_slice(g, mask, 1, 1, T), zero};
        ft_node *next = T > 1 ? ft_concat(g, 2, parts, 1) : zero;
        ft_node *sel = ft_sub(g, mask, ft_mul(g, mask, next));
        pooled = ft_reshape(g, ft_matmul(g, ft_reshape(g, sel, 3, b1t), h, false, false), 2, bc);
    }
    return ft_linear(g, pooled, ft_param(g, "score.weight"), NULL);
}

/* ---- the text forward ---- */
ft_node *ft_text_forward(ft_model *m, ft_graph *g, int task, ft_node *ids, ft_node *mask, bool training) {
    if (!m->arch->hidden) return ft_graph_fail(g, FT_EUNSUPPORTED, "%s is not a text model", m->arch->name);
    ft_seq_batch sb = {.ids = ids, .attn_mask = mask, .bidirectional = m->seq_bidirectional, .training = training};
    ft_node *h = m->arch->hidden(m, g, &sb);
    if (task == FT_TASK_LM) {
        if (!m->arch->lm_head) return ft_graph_fail(g, FT_EUNSUPPORTED, "%s has no language-modelling head", m->arch->name);
        return m->arch->lm_head(m, g, h);
    }
    return ft_model_task_head(m, g, h, &sb);
}
