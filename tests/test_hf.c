/* Hugging Face Transformer architectures (bert, gpt2, and llama when it is compiled in) against
 * tests/gen/gen_transformers.py, and the Hugging Face model directory loader.
 *
 * 1. names: at the real configurations (bert-base-uncased as BertModel / ...ForSequence- /
 *    ...ForTokenClassification, gpt2 124M as GPT2LMHeadModel / GPT2ForSequenceClassification,
 *    TinyLlama-1.1B, Llama-2-7B), the config.json as the hub has it gives exactly the parameter
 *    names and shapes of the transformers model, in named_parameters() order (declared only:
 *    nothing is allocated).
 * 2. parity at small configurations with padded batches, fast and reference kernels: logits,
 *    loss, every gradient's norm, sampled gradient entries, and 3 AdamW steps, against a
 *    float64 torch run of the same seeded weights.
 * 3. directories as they come from the hub: prefixes present or not, LayerNorm gamma/beta, a tied
 *    lm_head absent, extra tensors, a 2-shard index; bad directories fail with clear messages;
 *    tokenizer files are located. */
#include "test.h"
#include "models/models.h"
#include "finetune/text.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED 77

static char tmpdir[256];

static const ft_st_tensor *need(const ft_safetensors *st, const char *name) {
    const ft_st_tensor *t = ft_st_find(st, name);
    if (!t) fprintf(stderr, "%s lacks tensor %s\n", st->path, name);
    return t;
}

static float *load_f32(const ft_safetensors *st, const char *name) {
    const ft_st_tensor *t = need(st, name);
    if (!t) return NULL;
    float *v = malloc((size_t)t->numel * 4 + 4);
    ft_st_to_f32(t, v);
    return v;
}

static int32_t *load_i32(const ft_safetensors *st, const char *name, int64_t *n) {
    const ft_st_tensor *t = need(st, name);
    if (!t) return NULL;
    int32_t *v = malloc((size_t)t->numel * 4 + 4);
    memcpy(v, t->data, (size_t)t->numel * 4);
    if (n) *n = t->numel;
    return v;
}

/* "hf parity init" (gen_transformers.py): >= 2-D U(0.2); 1-D *.weight 1 + U(0.25); other 1-D U(0.25). */
static void parity_init(ft_params *ps, uint64_t seed) {
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *p = &ps->p[i];
        float *v = ft_params_value(ps, i);
        size_t len = strlen(p->name);
        if (p->ndim >= 2) {
            ft_params_init_uniform(ps, i, seed, 0.2f);
        } else if (len > 7 && !strcmp(p->name + len - 7, ".weight")) {
            ft_params_init_uniform(ps, i, seed, 0.25f);
            for (int64_t k = 0; k < p->numel; k++) v[k] = 1.0f + v[k];
        } else {
            ft_params_init_uniform(ps, i, seed, 0.25f);
        }
    }
}

/* create() alone: names and shapes without allocating values (Llama-2-7B is 27 GB in float32). */
static ft_model *declare_only(const char *text) {
    json_t *cfg = json_loads(text, 0, NULL);
    const char *an = json_string_value(json_object_get(cfg, "model_type"));
    const ft_arch *arch = ft_arch_find(an);
    json_decref(cfg);
    if (!arch) return NULL;
    ft_model *m = ft_calloc(1, sizeof *m);
    m->arch = arch;
    m->params = ft_params_new();
    m->config_json = ft_strdup(text);
    if (arch->create(m, text)) {
        fprintf(stderr, "  config %.80s...: %s\n", text, ft_errmsg());
        ft_model_free(m);
        return NULL;
    }
    return m;
}

static bool same_params(const ft_model *m, json_t *pl, const char *what) {
    const ft_params *ps = m->params;
    if ((int)json_array_size(pl) != ps->n) fprintf(stderr, "  %s: %d parameters, transformers has %zu\n", what, ps->n, json_array_size(pl));
    for (int i = 0; i < ps->n && i < (int)json_array_size(pl); i++) {
        json_t *e = json_array_get(pl, i), *shape = json_array_get(e, 1);
        const char *name = json_string_value(json_array_get(e, 0));
        bool ok = name && !strcmp(name, ps->p[i].name) && (int)json_array_size(shape) == ps->p[i].ndim;
        for (int d = 0; ok && d < ps->p[i].ndim; d++) ok = json_integer_value(json_array_get(shape, d)) == ps->p[i].shape[d];
        if (!ok) {
            fprintf(stderr, "  %s: entry %d is '%s', transformers has '%s'\n", what, i, ps->p[i].name, name ? name : "?");
            return false;
        }
    }
    return (int)json_array_size(pl) == ps->n;
}

/* ---- 1. names at the real configurations ---- */
static void test_names(void) {
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/hf_names.safetensors", &st));
    int n = 0, skipped = 0;
    for (int i = 0; st && i < st->n_meta; i++) {
        if (strncmp(st->meta_keys[i], "names.", 6)) continue;
        json_t *e = json_loads(st->meta_vals[i], 0, NULL);
        char *cfg = json_dumps(json_object_get(e, "config"), JSON_SORT_KEYS);
        const char *mt = json_string_value(json_object_get(json_object_get(e, "config"), "model_type"));
        if (!ft_arch_find(mt)) {
            printf("SKIP %s: no '%s' architecture in this build\n", st->meta_keys[i] + 6, mt);
            skipped++;
        } else {
            ft_model *m = declare_only(cfg);
            CHECKF(m != NULL, "%s: config rejected", st->meta_keys[i]);
            if (m) CHECKF(same_params(m, json_object_get(e, "params"), st->meta_keys[i] + 6), "%s: names/shapes differ", st->meta_keys[i] + 6);
            if (m) n++;
            ft_model_free(m);
        }
        free(cfg);
        json_decref(e);
    }
    ft_st_close(st);
    printf("parameter names and shapes equal transformers' at %d real configurations (%d skipped)\n", n, skipped);
    CHECK(n >= 5);
}

/* ---- 2. parity ---- */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    ft_graph *g;
    ft_node *ids, *mask, *types, *labels, *sel, *logits, *loss;
} net;

/* Builds the case's forward + loss as the transformers model computes it. */
/* Two ways in: the sequence-model interface (arch->hidden, then arch->lm_head or
 * ft_model_task_head, with every input a batch can carry), or the direct forwards
 * (ft_bert_forward / ft_gpt2_forward, whose GPT-2 sequence head is pooled here by a one-hot
 * selector). The fast-kernel run uses the first, the reference run the second. */
static net build(ft_model *m, const char *kind, int64_t B, int64_t T, bool seq_interface) {
    net n = {0};
    n.g = ft_graph_new(m->params);
    int64_t bt[2] = {B, T};
    bool pool = !strcmp(kind, "seqcls_pool");
    n.ids = ft_input(n.g, "input_ids", FT_I32, 2, bt);
    /* the GPT-2 sequence head pools by a float mask; the others take the int mask */
    n.mask = ft_input(n.g, "attention_mask", pool && seq_interface ? FT_F32 : FT_I32, 2, bt);
    bool bert = !strcmp(m->arch->name, "bert"), gpt2 = !strcmp(m->arch->name, "gpt2");
    if (bert) n.types = ft_input(n.g, "token_type_ids", FT_I32, 2, bt);
    ft_node *logits = NULL;
    if (seq_interface || (!bert && !gpt2)) {
        ft_seq_batch sb = {.ids = n.ids, .attn_mask = n.mask, .token_types = n.types, .training = true};
        ft_node *h = m->arch->hidden(m, n.g, &sb);
        logits = !strcmp(kind, "lm") ? m->arch->lm_head(m, n.g, h) : ft_model_task_head(m, n.g, h, &sb);
        if (pool) { /* already pooled */
            n.logits = logits;
            int64_t b1[1] = {B};
            n.labels = ft_input(n.g, "labels", FT_I32, 1, b1);
            n.loss = ft_cross_entropy(n.g, logits, n.labels, -100, 0.0f);
            ft_node_keep(n.logits);
            return n;
        }
    } else {
        logits = bert ? ft_bert_forward(m, n.g, n.ids, n.mask, n.types, true) : ft_gpt2_forward(m, n.g, n.ids, n.mask, true);
    }
    n.logits = logits;
    if (!strcmp(kind, "seqcls_pool")) { /* GPT-2: score at the last non-pad token, a one-hot [B,1,T] selector */
        int64_t s[3] = {B, 1, T}, bc[2] = {B, m->n_classes};
        n.sel = ft_input(n.g, "selector", FT_F32, 3, s);
        logits = ft_reshape(n.g, ft_matmul(n.g, n.sel, logits, false, false), 2, bc);
        n.logits = logits;
        int64_t b1[1] = {B};
        n.labels = ft_input(n.g, "labels", FT_I32, 1, b1);
        n.loss = ft_cross_entropy(n.g, logits, n.labels, -100, 0.0f);
    } else if (!strcmp(kind, "seqcls")) {
        int64_t b1[1] = {B};
        n.labels = ft_input(n.g, "labels", FT_I32, 1, b1);
        n.loss = ft_cross_entropy(n.g, logits, n.labels, -100, 0.0f);
    } else if (!strcmp(kind, "tokcls")) {
        int64_t r[2] = {B * T, m->n_classes}, l1[1] = {B * T};
        n.labels = ft_input(n.g, "labels", FT_I32, 1, l1);
        n.loss = ft_cross_entropy(n.g, ft_reshape(n.g, logits, 2, r), n.labels, -100, 0.0f);
    } else { /* lm: logits[:, :-1] against labels[:, 1:] (shifted on the host) */
        int64_t V = logits ? logits->shape[2] : 1, r[2] = {B * (T - 1), V}, l1[1] = {B * (T - 1)};
        n.labels = ft_input(n.g, "labels", FT_I32, 1, l1);
        n.loss = ft_cross_entropy(n.g, ft_reshape(n.g, ft_slice(n.g, logits, 1, 0, T - 1), 2, r), n.labels, -100, 0.0f);
    }
    ft_node_keep(n.logits);
    return n;
}

static void parity(const char *name, const char *kind, bool reference) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/hf_%s.safetensors", name);
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open(path, &st));
    if (!st) return;
    const char *cfg = ft_st_meta(st, "config");
    json_t *cj = json_loads(cfg ? cfg : "", 0, NULL);
    const char *mt = json_string_value(json_object_get(cj, "model_type"));
    if (!ft_arch_find(mt)) {
        printf("SKIP parity %s: no '%s' architecture in this build\n", name, mt ? mt : "?");
        json_decref(cj);
        ft_st_close(st);
        return;
    }
    ft_set_reference_kernels(reference);
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &m));
    if (!m) { json_decref(cj); ft_st_close(st); ft_set_reference_kernels(false); return; }
    json_t *pl = json_loads(ft_st_meta(st, "params"), 0, NULL);
    CHECKF(same_params(m, pl, name), "%s: parameter list", name);
    json_decref(pl);
    ft_params *ps = m->params;
    parity_init(ps, SEED);
    CHECK_OK(ft_params_alloc_grads(ps));

    const ft_st_tensor *it = need(st, "input_ids");
    int64_t B = it ? it->shape[0] : 1, T = it ? it->shape[1] : 1, nl = 0;
    int32_t *ids = load_i32(st, "input_ids", NULL), *mask = load_i32(st, "attention_mask", NULL);
    int32_t *types = ft_st_find(st, "token_type_ids") ? load_i32(st, "token_type_ids", NULL) : NULL;
    int32_t *labels = load_i32(st, "labels", &nl);
    net n = build(m, kind, B, T, !reference);
    CHECK_OK(ft_graph_plan(n.g, n.loss, true));
    if (ft_graph_status(n.g) || !n.loss || !ids || !labels) {
        fprintf(stderr, "  %s: %s\n", name, ft_errmsg());
        goto out;
    }
    ft_graph_set_input(n.g, n.ids, ids, (size_t)(B * T) * 4);
    if (n.mask->dtype == FT_F32) {
        float *fm = malloc((size_t)(B * T) * 4);
        for (int64_t k = 0; k < B * T; k++) fm[k] = (float)mask[k];
        ft_graph_set_input(n.g, n.mask, fm, (size_t)(B * T) * 4);
        free(fm);
    } else {
        ft_graph_set_input(n.g, n.mask, mask, (size_t)(B * T) * 4);
    }
    if (n.types) ft_graph_set_input(n.g, n.types, types, (size_t)(B * T) * 4);
    if (!strcmp(kind, "lm")) {
        int32_t *sh = malloc((size_t)(B * (T - 1)) * 4);
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t + 1 < T; t++) sh[b * (T - 1) + t] = labels[b * T + t + 1];
        ft_graph_set_input(n.g, n.labels, sh, (size_t)(B * (T - 1)) * 4);
        free(sh);
    } else {
        ft_graph_set_input(n.g, n.labels, labels, (size_t)nl * 4);
    }
    if (n.sel) { /* the last non-pad token (pad_token_id) of each row */
        int pad = (int)json_integer_value(json_object_get(cj, "pad_token_id"));
        float *sel = calloc((size_t)(B * T), 4);
        for (int64_t b = 0; b < B; b++) {
            int64_t last = 0;
            for (int64_t t = 0; t < T; t++)
                if (ids[b * T + t] != pad) last = t;
            sel[b * T + last] = 1.0f;
        }
        ft_graph_set_input(n.g, n.sel, sel, (size_t)(B * T) * 4);
        free(sel);
    }
    CHECK_OK(ft_graph_forward(n.g));
    CHECK_OK(ft_graph_backward(n.g));

    bool direct = reference && (!strcmp(m->arch->name, "bert") || !strcmp(m->arch->name, "gpt2"));
    const char *tag = reference ? (direct ? "reference, direct forward" : "reference, sequence interface") : "fast, sequence interface";
    /* logits and loss */
    float *ref_logits = load_f32(st, "logits"), *ref_loss = load_f32(st, "loss");
    double dl = 0, ml = 0;
    for (int64_t k = 0; ref_logits && k < n.logits->numel; k++) {
        dl = fmax(dl, fabs((double)n.logits->val[k] - ref_logits[k]));
        ml = fmax(ml, fabs((double)ref_logits[k]));
    }
    CHECKF(ref_logits && need(st, "logits")->numel == n.logits->numel && dl <= 2e-5 * ml, "%s (%s): logits max |d| %.3g of max %.3g",
           name, tag, dl, ml);
    double lossd = ref_loss ? fabs((double)n.loss->val[0] - ref_loss[0]) / fabs(ref_loss[0]) : 1;
    CHECKF(lossd <= 1e-5, "%s (%s): loss %.7f vs %.7f", name, tag, n.loss->val[0], ref_loss ? ref_loss[0] : 0);

    /* gradients: every parameter's norm, sampled entries */
    float *gn = load_f32(st, "grad_norm");
    int64_t ns = 0;
    int32_t *sp = load_i32(st, "sample.param", &ns), *si = load_i32(st, "sample.index", NULL);
    float *sv = load_f32(st, "sample.value");
    double maxnorm = 0, worst_norm = 0, worst_entry = 0;
    int worst_i = -1;
    for (int i = 0; gn && i < ps->n; i++) maxnorm = fmax(maxnorm, gn[i]);
    for (int i = 0; gn && i < ps->n; i++) {
        const float *gr = ft_params_grad(ps, i);
        double s2 = 0;
        for (int64_t k = 0; gr && k < ps->p[i].numel; k++) s2 += (double)gr[k] * gr[k];
        /* floor: BERT's key biases have an exactly zero gradient (softmax ignores a per-query shift),
         * so their norm is float32 rounding noise, ~1e-9 of the largest norm */
        double d = fabs(sqrt(s2) - gn[i]) / (gn[i] + 1e-4 * maxnorm);
        if (d > worst_norm) { worst_norm = d; worst_i = i; }
    }
    CHECKF(gn && worst_norm <= 1e-4, "%s (%s): gradient norm of %s off by %.3g (relative)", name, tag,
           worst_i >= 0 ? ps->p[worst_i].name : "?", worst_norm);
    for (int64_t k = 0; sp && k < ns; k++) {
        int i = sp[k];
        const float *gr = i >= 0 && i < ps->n ? ft_params_grad(ps, i) : NULL;
        double rms = gn[i] / sqrt((double)ps->p[i].numel) + 1e-6 * maxnorm;
        double d = gr ? fabs((double)gr[si[k]] - sv[k]) / rms : 1e9;
        worst_entry = fmax(worst_entry, d);
    }
    CHECKF(ns >= 64 + ps->n && worst_entry <= 1e-3, "%s (%s): a sampled gradient entry is off by %.3g of its parameter's rms gradient",
           name, tag, worst_entry);

    /* 3 AdamW steps (weight decay 0.01 on >= 2-D parameters, none on biases and norms) */
    ft_optim_config oc = ft_optim_defaults(FT_OPT_ADAMW);
    oc.lr = 1e-3f;
    oc.beta1 = 0.9f;
    oc.beta2 = 0.999f;
    oc.eps = 1e-8f;
    oc.weight_decay = 0.01f;
    oc.decay_all = false;
    ft_optimizer *opt = NULL;
    CHECK_OK(ft_optimizer_new(ps, &oc, &opt));
    int64_t nt = 0;
    float *traj = load_f32(st, "adamw.loss");
    if (traj) nt = need(st, "adamw.loss")->numel;
    float got[16];
    got[0] = n.loss->val[0];
    for (int s = 1; opt && s < nt && s < 16; s++) {
        ft_optimizer_step(opt, oc.lr);
        ft_params_zero_grad(ps);
        CHECK_OK(ft_graph_forward(n.g));
        got[s] = n.loss->val[0];
        if (s + 1 < nt) CHECK_OK(ft_graph_backward(n.g));
    }
    CHECKF(traj && nt == 4 && t_close(got, traj, nt, 1e-5, 0, "adamw losses"), "%s (%s): AdamW trajectory", name, tag);
    printf("%-12s %-26s logits %.1e  loss %.1e  grad norms %.1e  entries %.1e  adamw %.4f -> %.4f (torch %.4f)\n", name, tag,
           ml > 0 ? dl / ml : 0.0, lossd, worst_norm, worst_entry, got[0], nt ? got[nt - 1] : 0.0f, traj ? traj[nt - 1] : 0.0f);
    ft_optimizer_free(opt);
    free(traj);
    free(gn);
    free(sp);
    free(si);
    free(sv);
    free(ref_logits);
    free(ref_loss);
out:
    ft_graph_free(n.g);
    free(ids);
    free(mask);
    free(types);
    free(labels);
    ft_model_free(m);
    json_decref(cj);
    ft_st_close(st);
    ft_set_reference_kernels(false);
    (void)cmp_double;
}

/* ---- 3. Hugging Face directories ---- */
static void write_text(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) { fputs(text, f); fclose(f); }
}

/* A model from a fixture's config with parity weights. */
static ft_model *fixture_model(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/hf_%s.safetensors", name);
    ft_safetensors *st = NULL;
    ft_model *m = NULL;
    if (ft_st_open(path, &st) == FT_OK && ft_model_from_config(ft_st_meta(st, "config"), &m) == FT_OK) parity_init(m->params, SEED);
    ft_st_close(st);
    return m;
}

typedef const char *(*rename_fn)(const char *name, char *buf, size_t cap);

/* Writes m's tensors under renamed names (NULL = dropped) into shards (k of n by index). */
static void write_checkpoint(const ft_model *m, const char *dir, rename_fn rn, int n_shards, const char **extra, int n_extra) {
    ft_st_writer *w[2] = {ft_st_writer_new(), ft_st_writer_new()};
    json_t *map = json_object();
    char buf[256], sh[64];
    static const float zeros[64 * 64];
    for (int i = 0; i < m->params->n; i++) {
        const ft_param_info *p = &m->params->p[i];
        const char *nm = rn ? rn(p->name, buf, sizeof buf) : p->name;
        if (!nm) continue;
        int k = n_shards == 2 && i >= m->params->n / 2;
        ft_st_writer_add(w[k], nm, p->ndim, p->shape, m->params->data + p->offset);
        snprintf(sh, sizeof sh, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
        json_object_set_new(map, nm, json_string(sh));
    }
    for (int e = 0; e < n_extra; e++) { /* tensors the model does not use */
        int64_t s[2] = {8, 8};
        ft_st_writer_add(w[0], extra[e], 2, s, zeros);
        snprintf(sh, sizeof sh, "model-%05d-of-%05d.safetensors", 1, n_shards);
        json_object_set_new(map, extra[e], json_string(sh));
    }
    char path[512];
    if (n_shards == 1) {
        ft_st_writer_meta(w[0], "format", "pt");
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        CHECK_OK(ft_st_writer_write(w[0], path));
    } else {
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/model-%05d-of-00002.safetensors", dir, k + 1);
            CHECK_OK(ft_st_writer_write(w[k], path));
        }
        json_t *idx = json_pack("{s:{s:i},s:o}", "metadata", "total_size", 0, "weight_map", map);
        char *text = json_dumps(idx, JSON_INDENT(2) | JSON_SORT_KEYS);
        write_text(dir, "model.safetensors.index.json", text);
        free(text);
        json_decref(idx);
        map = NULL;
    }
    json_decref(map);
    ft_st_writer_free(w[0]);
    ft_st_writer_free(w[1]);
}

static const char *bert_hub_names(const char *name, char *buf, size_t cap) { /* LayerNorm.gamma/beta as in bert-base-uncased */
    size_t n = strlen(name);
    if (strstr(name, "LayerNorm.weight")) snprintf(buf, cap, "%.*s.gamma", (int)(n - 7), name);
    else if (strstr(name, "LayerNorm.bias")) snprintf(buf, cap, "%.*s.beta", (int)(n - 5), name);
    else return name;
    return buf;
}

static const char *gpt2_hub_names(const char *name, char *buf, size_t cap) { /* saved without "transformer.", no lm_head */
    if (!strncmp(name, "transformer.", 12)) { snprintf(buf, cap, "%s", name + 12); return buf; }
    return name;
}

static bool same_values(const ft_model *a, const ft_model *b) {
    if (!a || !b || a->params->n != b->params->n) return false;
    for (int i = 0; i < a->params->n; i++) {
        int j = ft_params_find(b->params, a->params->p[i].name);
        if (j < 0 || memcmp(a->params->data + a->params->p[i].offset, b->params->data + b->params->p[j].offset,
                            (size_t)a->params->p[i].numel * 4)) {
            fprintf(stderr, "  %s differs\n", a->params->p[i].name);
            return false;
        }
    }
    return true;
}

static void mkdir_in(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
    mkdir(out, 0755);
}

static void write_config(const char *dir, const ft_model *m, const char *override_key, json_t *override_val) {
    json_t *c = json_loads(m->config_json, 0, NULL);
    if (override_key) json_object_set_new(c, override_key, override_val);
    char *t = json_dumps(c, JSON_INDENT(2));
    write_text(dir, "config.json", t);
    free(t);
    json_decref(c);
}

static void test_directories(void) {
    char d[512];
    ft_model *bert = fixture_model("bert_seqcls"), *gpt2 = fixture_model("gpt2_lm"), *got = NULL;
    CHECK(bert && gpt2);
    if (!bert || !gpt2) { ft_model_free(bert); ft_model_free(gpt2); return; }

    /* BERT as bert-base-uncased stores it: LayerNorm gamma/beta, a pretraining head and buffers to ignore */
    mkdir_in(d, sizeof d, "bert");
    write_config(d, bert, NULL, NULL);
    const char *bert_extra[] = {"cls.predictions.transform.dense.weight", "cls.seq_relationship.weight"};
    write_checkpoint(bert, d, bert_hub_names, 1, bert_extra, 2);
    write_text(d, "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    write_text(d, "tokenizer_config.json", "{\"do_lower_case\": false, \"model_max_length\": 512}");
    CHECK_OK(ft_model_load(d, &got));
    CHECKF(same_values(bert, got), "bert: loaded values differ");
    CHECK(got && got->n_classes == 3 && !strcmp(got->head_patterns, "classifier.*"));
    ft_model_free(got);
    got = NULL;
    ft_tokenizer *tok = NULL; /* the tokenizer of the same directory (src/text) */
    CHECK_OK(ft_tokenizer_load_dir(d, &tok));
    CHECK(tok && ft_tokenizer_kind(tok) == FT_TOK_WORDPIECE && ft_tokenizer_vocab_size(tok) == 5);
    ft_tokenizer_free(tok);

    /* The same checkpoint as the bare encoder (architectures BertForMaskedLM: names lose "bert."),
     * then a new head: BertForSequenceClassification with the encoder copied. */
    write_config(d, bert, "architectures", json_pack("[s]", "BertForMaskedLM"));
    CHECK_OK(ft_model_load(d, &got));
    if (got) {
        CHECK(got->n_classes == 0 && ft_params_find(got->params, "embeddings.word_embeddings.weight") == 0 &&
              ft_params_find(got->params, "classifier.weight") < 0);
        ft_model *h = NULL;
        CHECK_OK(ft_model_replace_head(got, 4, 1, &h));
        int a = h ? ft_params_find(h->params, "bert.encoder.layer.1.output.dense.weight") : -1;
        int b = ft_params_find(got->params, "encoder.layer.1.output.dense.weight");
        CHECK(h && h->n_classes == 4 && a >= 0 && b >= 0 &&
              !memcmp(ft_params_value(h->params, a), ft_params_value(got->params, b), (size_t)got->params->p[b].numel * 4));
        CHECK(h && ft_params_find(h->params, "classifier.weight") >= 0 && h->params->p[ft_params_find(h->params, "classifier.weight")].shape[0] == 4);
        ft_model_free(h);
    }
    ft_model_free(got);
    got = NULL;

    /* config.json that disagrees with the tensors: the message names the tensor */
    write_config(d, bert, "intermediate_size", json_integer(40));
    CHECK_ERR(ft_model_load(d, &got), FT_ESHAPE);
    CHECK(t_msg_has("intermediate.dense.weight' has shape [37,32] but config.json gives [40,32]"));
    write_config(d, bert, "num_hidden_layers", json_integer(3));
    CHECK_ERR(ft_model_load(d, &got), FT_ENOTFOUND);
    CHECK(t_msg_has("no tensor 'bert.encoder.layer.2.attention.self.query.weight'"));
    write_config(d, bert, "model_type", json_string("t5"));
    CHECK_ERR(ft_model_load(d, &got), FT_EUNSUPPORTED);
    CHECK(t_msg_has("model_type 't5' is not supported"));
    write_config(d, bert, "hidden_act", json_string("swish"));
    CHECK_ERR(ft_model_load(d, &got), FT_EUNSUPPORTED);
    CHECK(t_msg_has("hidden_act \"swish\""));
    write_config(d, bert, "num_attention_heads", json_integer(5));
    CHECK_ERR(ft_model_load(d, &got), FT_EINVAL);
    CHECK(t_msg_has("not a multiple of num_attention_heads"));
    CHECK(got == NULL);

    /* GPT-2 as the hub has it: no "transformer." prefix, no lm_head (tied), attn.bias buffers; 2 shards */
    mkdir_in(d, sizeof d, "gpt2");
    write_config(d, gpt2, NULL, NULL);
    const char *gpt2_extra[] = {"h.0.attn.bias", "h.1.attn.masked_bias"};
    write_checkpoint(gpt2, d, gpt2_hub_names, 2, gpt2_extra, 2);
    CHECK_OK(ft_model_load(d, &got));
    CHECKF(same_values(gpt2, got), "gpt2: loaded values differ");
    CHECK(got && got->n_classes == 99 && ft_params_find(got->params, "lm_head.weight") < 0);
    ft_model_free(got);
    got = NULL;
    CHECK_ERR(ft_tokenizer_load_dir(d, &tok), FT_ENOTFOUND); /* missing tokenizer files: a clear message */
    CHECK(t_msg_has("no tokenizer found (looked for tokenizer.json, vocab.json + merges.txt, vocab.txt)"));
    write_text(d, "vocab.json", "{}");
    CHECK_ERR(ft_tokenizer_load_dir(d, &tok), FT_ENOTFOUND);
    CHECK(t_msg_has("has vocab.json but not merges.txt"));
    CHECK(tok == NULL);
    /* every allocation of a sharded load may fail: a clean FT_ENOMEM, nothing half-loaded (ASan: no leak) */
    int n_fail = 0;
    for (int64_t k = 0; k < 100000; k++) {
        ft_alloc_fail_after(k);
        ft_status s = ft_model_load(d, &got);
        ft_alloc_fail_after(-1);
        if (s == FT_OK) break;
        n_fail++;
        if (s != FT_ENOMEM || got) {
            CHECKF(s == FT_ENOMEM && !got, "allocation %lld failing gave %s: %s", (long long)k, ft_status_name(s), ft_errmsg());
            break;
        }
    }
    CHECKF(got && same_values(gpt2, got), "load after %d allocation failures", n_fail);
    CHECK(n_fail > 5);
    printf("sharded GPT-2 directory: each of its %d allocations failing gives a clean FT_ENOMEM\n", n_fail);
    ft_model_free(got);
    got = NULL;
    /* a shard that is missing, an index naming a tensor its shard lacks */
    char p[600];
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", d);
    char q[600];
    snprintf(q, sizeof q, "%s/moved.safetensors", d);
    rename(p, q);
    CHECK_ERR(ft_model_load(d, &got), FT_ENOTFOUND);
    CHECK(t_msg_has("shard 'model-00002-of-00002.safetensors'"));
    rename(q, p);
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {\"wte.weight\": \"model-00002-of-00002.safetensors\"}}");
    CHECK_ERR(ft_model_load(d, &got), FT_EFORMAT);
    CHECK(t_msg_has("tensor 'wte.weight' is not in its shard"));
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {\"wte.weight\": \"../x.safetensors\"}}");
    CHECK_ERR(ft_model_load(d, &got), FT_EFORMAT);
    CHECK(t_msg_has("not a file name in the directory"));
    remove(p);
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", d);
    remove(p);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    remove(p);
    CHECK_ERR(ft_model_load(d, &got), FT_ENOTFOUND);
    CHECK(t_msg_has("no model.safetensors or model.safetensors.index.json"));

    /* Export writes a Hugging Face directory again (config.json as given, HF names); it loads. */
    mkdir_in(d, sizeof d, "gpt2_export");
    CHECK_OK(ft_model_export(gpt2, d));
    CHECK_OK(ft_model_load(d, &got));
    CHECKF(same_values(gpt2, got), "gpt2 export: values differ");
    ft_model_free(got);
    got = NULL;
    /* A new head on GPT-2: GPT2ForSequenceClassification with a pad token. */
    ft_model *h = NULL;
    CHECK_OK(ft_model_replace_head(gpt2, 2, 3, &h));
    CHECK(h && h->n_classes == 2 && ft_params_find(h->params, "score.weight") >= 0 && strstr(h->config_json, "\"pad_token_id\": 98"));
    ft_model_free(h);
    ft_model_free(bert);
    ft_model_free(gpt2);
}

/* ---- 4. GPT-2 generation with a KV cache (positions from the cache) equals full forwards ---- */
static void test_gpt2_generate(void) {
    ft_model *m = fixture_model("gpt2_lm");
    if (!m) { CHECK(m != NULL); return; }
    int32_t seq[24] = {5, 17, 42};
    int n = 0;
    ft_generate_opts o = ft_generate_defaults();
    o.max_tokens = 12;
    CHECK_OK(ft_generate(m, seq, 3, &o, seq + 3, &n, NULL, NULL));
    CHECK(n == 12);
    /* one full causal forward over prompt + generated: each generated token is the argmax at the previous position */
    int64_t T = 3 + n, bt[2] = {1, T};
    ft_graph *g = ft_graph_new(m->params);
    ft_node *ids = ft_input(g, "ids", FT_I32, 2, bt);
    ft_seq_batch sb = {.ids = ids};
    ft_node *logits = m->arch->lm_head(m, g, m->arch->hidden(m, g, &sb));
    ft_node_keep(logits);
    CHECK_OK(ft_graph_plan(g, NULL, false));
    int agree = 0;
    if (ft_graph_status(g) == FT_OK && logits) {
        ft_graph_set_input(g, ids, seq, (size_t)T * 4);
        CHECK_OK(ft_graph_forward(g));
        int64_t V = logits->shape[2];
        for (int64_t t = 2; t + 1 < T; t++) {
            const float *row = logits->val + t * V;
            int64_t best = 0;
            for (int64_t v = 1; v < V; v++)
                if (row[v] > row[best]) best = v;
            agree += best == seq[t + 1];
        }
    }
    CHECKF(agree == n, "KV-cache generation agrees with the full forward at %d of %d tokens", agree, n);
    printf("gpt2 greedy generation with a KV cache: %d of %d tokens equal the full forward's argmax\n", agree, n);
    ft_graph_free(g);
    /* an encoder cannot generate */
    ft_model *b = fixture_model("bert_seqcls");
    int32_t out[4];
    CHECK_ERR(ft_generate(b, seq, 3, &o, out, &n, NULL, NULL), FT_EUNSUPPORTED);
    ft_model_free(b);
    ft_model_free(m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ft_test_hf_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_names();
    static const char *cases[][2] = {{"bert_seqcls", "seqcls"}, {"bert_tokcls", "tokcls"}, {"gpt2_lm", "lm"},
                                     {"gpt2_seqcls", "seqcls_pool"}, {"llama_lm", "lm"}, {"llama_tied", "lm"}};
    for (int r = 0; r < 2; r++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) parity(cases[c][0], cases[c][1], r == 1);
    test_directories();
    test_gpt2_generate();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_END();
}
