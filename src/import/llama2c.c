/* llama2.c checkpoints (karpathy/llama2.c run.c, "legacy" export) into the "llama" architecture.
 *
 * Layout: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; a negative vocab_size means the classifier is stored separately), then float32
 * tensors, each stacked over layers: token_embedding [V,dim], rms_att [L,dim], wq [L,dim,dim],
 * wk [L,kv,dim], wv [L,kv,dim], wo [L,dim,dim], rms_ffn [L,dim], w1 [L,hidden,dim],
 * w2 [L,dim,hidden], w3 [L,hidden,dim], rms_final [dim], two unused RoPE tables
 * [seq_len * head_size / 2] each, then wcls [V,dim] when unshared. Matrices are [out,in].
 *
 * llama2.c rotates interleaved pairs (x[2i], x[2i+1]); Hugging Face (and ft_rope) rotate
 * (x[i], x[i+D/2]). So, as HF's convert_llama_weights_to_hf does, the rows of wq and wk are
 * permuted within each head: new row a*D/2 + i = old row 2i + a. Scores q.k are unchanged
 * (the same permutation on both) and every pair keeps its frequency. run.c's fixed
 * hyperparameters become the config: rms_norm_eps 1e-5, rope_theta 10000. */
#include "finetune/import.h"
#include "io/file_internal.h"
#include "models/models.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len; } l2c_header;

static ft_status check_header(const l2c_header *h, const char *label) {
#define BAD(...) ft_fail(FT_EFORMAT, "%s: not a llama2.c checkpoint: " __VA_ARGS__)
    if (h->dim < 2 || h->dim > (1 << 16)) return BAD("dim %d out of range [2, 65536]", label, h->dim);
    if (h->hidden < 1 || h->hidden > (1 << 18)) return BAD("hidden_dim %d out of range [1, 262144]", label, h->hidden);
    if (h->n_layers < 1 || h->n_layers > 1024) return BAD("n_layers %d out of range [1, 1024]", label, h->n_layers);
    if (h->n_heads < 1 || h->dim % h->n_heads || (h->dim / h->n_heads) % 2)
        return BAD("n_heads %d does not split dim %d into even head sizes", label, h->n_heads, h->dim);
    if (h->n_kv_heads < 1 || h->n_kv_heads > h->n_heads || h->n_heads % h->n_kv_heads)
        return BAD("n_kv_heads %d does not divide n_heads %d", label, h->n_kv_heads, h->n_heads);
    if (h->vocab == 0 || h->vocab < -(1 << 24) || h->vocab > (1 << 24)) return BAD("vocab_size %d out of range", label, h->vocab);
    if (h->seq_len < 1 || h->seq_len > (1 << 24)) return BAD("seq_len %d out of range [1, 16777216]", label, h->seq_len);
    return FT_OK;
#undef BAD
}

/* Copy n floats at *at into dst (rows permuted when perm_heads > 0), checking every value. */
static ft_status take(const uint8_t *data, uint64_t *at, uint64_t n, float *dst, const char *label, const char *what,
                      int layer) {
    const uint8_t *src = data + *at;
    for (uint64_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, src + 4 * i, 4);
        if (!isfinite(v)) {
            if (layer >= 0)
                return ft_fail(FT_EFORMAT, "%s: %s of layer %d holds a non-finite value (%g) at element %llu", label, what, layer,
                               (double)v, (unsigned long long)i);
            return ft_fail(FT_EFORMAT, "%s: %s holds a non-finite value (%g) at element %llu", label, what, (double)v,
                           (unsigned long long)i);
        }
        dst[i] = v;
    }
    *at += 4 * n;
    return FT_OK;
}

/* The HF permutation of a [heads*D, cols] projection, in place (tmp holds one head). */
static void permute_rows(float *w, int heads, int64_t D, int64_t cols, float *tmp) {
    for (int h = 0; h < heads; h++) {
        float *blk = w + (int64_t)h * D * cols;
        memcpy(tmp, blk, (size_t)(D * cols) * sizeof *tmp);
        for (int64_t a = 0; a < 2; a++)
            for (int64_t i = 0; i < D / 2; i++)
                memcpy(blk + (a * (D / 2) + i) * cols, tmp + (2 * i + a) * cols, (size_t)cols * sizeof *tmp);
    }
}

ft_status ft_import_llama2c_mem(const uint8_t *data, size_t size, const char *label, ft_model **out) {
    *out = NULL;
    if (!label) label = "llama2.c checkpoint";
    l2c_header h;
    if (size < sizeof h)
        return ft_fail(FT_EFORMAT, "%s: truncated llama2.c checkpoint: %zu bytes, the header alone is 28", label, size);
    memcpy(&h, data, sizeof h);
    ft_status s = check_header(&h, label);
    if (s) return s;
    bool shared = h.vocab > 0;
    int64_t V = shared ? h.vocab : -(int64_t)h.vocab, C = h.dim, L = h.n_layers, F = h.hidden;
    int64_t D = C / h.n_heads, KV = D * h.n_kv_heads;
    uint64_t floats = (uint64_t)(V * C) + (uint64_t)(L * C) * 2 + (uint64_t)(L * C * C) * 2 + (uint64_t)(L * KV * C) * 2 +
                      (uint64_t)(L * C * F) * 3 + (uint64_t)C + (uint64_t)h.seq_len * (uint64_t)D + (shared ? 0 : (uint64_t)(V * C));
    uint64_t need = sizeof h + 4 * floats;
    if (size < need)
        return ft_fail(FT_EFORMAT,
                       "%s: truncated llama2.c checkpoint: the header (dim %d, hidden_dim %d, %d layers, %d heads, %d kv heads, "
                       "vocab %lld, seq_len %d) needs %llu bytes, the file has %zu",
                       label, h.dim, h.hidden, h.n_layers, h.n_heads, h.n_kv_heads, (long long)V, h.seq_len,
                       (unsigned long long)need, size);
    char cfg[768];
    snprintf(cfg, sizeof cfg,
             "{\"arch\": \"llama\", \"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d, "
             "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"vocab_size\": %lld, "
             "\"max_position_embeddings\": %d, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, "
             "\"tie_word_embeddings\": %s, \"hidden_act\": \"silu\", \"model_type\": \"llama\", "
             "\"architectures\": [\"LlamaForCausalLM\"], \"source\": \"llama2.c\"}",
             h.dim, h.hidden, h.n_layers, h.n_heads, h.n_kv_heads, (long long)V, h.seq_len, shared ? "true" : "false");
    ft_model *m = NULL;
    if ((s = ft_model_from_config(cfg, &m))) return ft_fail_context(s, "%s", label);
    float *tmp = ft_malloc((size_t)(D * C) * sizeof *tmp);
    if (!tmp) { ft_model_free(m); return ft_fail(FT_ENOMEM, "out of memory"); }
    uint64_t at = sizeof h;
    char name[128];
#define P(nm) ft_params_value(m->params, ft_params_find(m->params, nm))
    /* Per-layer tensors, in file order: name pattern, rows, cols, heads to permute (0 = none). */
    struct { const char *fmt, *what; int64_t rows, cols; int perm; } per[9] = {
        {"model.layers.%d.input_layernorm.weight", "rms_att_weight", C, 1, 0},
        {"model.layers.%d.self_attn.q_proj.weight", "wq", C, C, h.n_heads},
        {"model.layers.%d.self_attn.k_proj.weight", "wk", KV, C, h.n_kv_heads},
        {"model.layers.%d.self_attn.v_proj.weight", "wv", KV, C, 0},
        {"model.layers.%d.self_attn.o_proj.weight", "wo", C, C, 0},
        {"model.layers.%d.post_attention_layernorm.weight", "rms_ffn_weight", C, 1, 0},
        {"model.layers.%d.mlp.gate_proj.weight", "w1", F, C, 0},
        {"model.layers.%d.mlp.down_proj.weight", "w2", C, F, 0},
        {"model.layers.%d.mlp.up_proj.weight", "w3", F, C, 0},
    };
    s = take(data, &at, (uint64_t)(V * C), P("model.embed_tokens.weight"), label, "token_embedding_table", -1);
    for (int t = 0; t < 9 && !s; t++)
        for (int l = 0; l < L && !s; l++) {
            snprintf(name, sizeof name, per[t].fmt, l);
            float *dst = P(name);
            s = take(data, &at, (uint64_t)(per[t].rows * per[t].cols), dst, label, per[t].what, l);
            if (!s && per[t].perm) permute_rows(dst, per[t].perm, D, per[t].cols, tmp);
        }
    if (!s) s = take(data, &at, (uint64_t)C, P("model.norm.weight"), label, "rms_final_weight", -1);
    at += 4 * (uint64_t)h.seq_len * (uint64_t)D; /* the legacy freq_cis tables: unused */
    if (!s && !shared) s = take(data, &at, (uint64_t)(V * C), P("lm_head.weight"), label, "wcls", -1);
#undef P
    ft_free(tmp);
    if (s) { ft_model_free(m); return s; }
    *out = m;
    return FT_OK;
}

ft_status ft_import_llama2c(const char *path, ft_model **out) {
    *out = NULL;
    int fd;
    struct stat sb;
    ft_status s = ft_open_read(path, &fd, &sb);
    if (s) return s;
    if (!S_ISREG(sb.st_mode)) { close(fd); return ft_fail(FT_EIO, "cannot read '%s': not a regular file", path); }
    size_t size = (size_t)sb.st_size;
    if (size == 0) { close(fd); return ft_fail(FT_EFORMAT, "%s: empty file, not a llama2.c checkpoint", path); }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return ft_fail(FT_EIO, "cannot map '%s' (%zu bytes): %s", path, size, strerror(e));
    s = ft_import_llama2c_mem(map, size, path, out);
    munmap(map, size);
    return s;
}
