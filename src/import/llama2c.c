/* llama2.c checkpoints (karpathy/llama2.c run.c, "legacy" export) into the "llama" architecture.
 *
 * Layout: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; a negative vocab_size means the classifier is stored separately), then float32
 * tensors, each stacked over layers: token_embedding [V,dim], rms_att [L,dim], wq [L,dim,dim],
 * wk [L,kv,dim], wv [L,kv,dim], wo [L,dim,dim], rms_ffn [L,dim], w1 [L,hidden,dim],
 * w2 [L,dim,hidden], w3 [L,hidden,dim], rms_final [dim], two unused RoPE tables
 * [seq_len * head_size / 2] each, then wcls [V,dim] when unshared. Matrices are [out,in].
 * export.py's "version 1" (float32 with a 256-byte header: magic "ak42", version, the same 7
 * ints with a positive vocab_size, a shared-classifier byte) stores the same tensors in another
 * order (norms first, no RoPE tables) and reads here too; version 2 (int8) is refused.
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

/* Tensors in file order. Each is one named tensor (layer < 0) or one per layer. */
enum { T_EMB, T_RMS_ATT, T_WQ, T_WK, T_WV, T_WO, T_RMS_FFN, T_W1, T_W2, T_W3, T_RMS_FINAL, T_FREQ, T_WCLS, T_END };
static const int legacy_order[] = {T_EMB, T_RMS_ATT, T_WQ, T_WK, T_WV, T_WO, T_RMS_FFN, T_W1, T_W2, T_W3, T_RMS_FINAL, T_FREQ, T_WCLS, T_END};
static const int v1_order[] = {T_RMS_ATT, T_RMS_FFN, T_RMS_FINAL, T_EMB, T_WQ, T_WK, T_WV, T_WO, T_W1, T_W2, T_W3, T_WCLS, T_END};

#define L2C_MAGIC 0x616b3432u /* "ak42": export.py's versioned formats */

ft_status ft_import_llama2c_mem(const uint8_t *data, size_t size, const char *label, ft_model **out) {
    *out = NULL;
    if (!label) label = "llama2.c checkpoint";
    if (size >= 4 && !memcmp(data, "PK\3\4", 4))
        return ft_fail(FT_EUNSUPPORTED, "%s: a zip archive (a PyTorch pickle?), not a llama2.c checkpoint; "
                       "export it to safetensors or with llama2.c's export.py", label);
    /* Legacy (run.c): the 7-int header at 0. Version 1 (export.py --version 1): magic, version,
     * the 7 ints, a shared-classifier byte, zero padding to 256 bytes. */
    l2c_header h;
    uint64_t at = sizeof h;
    const int *order = legacy_order;
    bool shared;
    uint32_t magic = 0;
    if (size >= 4) memcpy(&magic, data, 4);
    if (magic == L2C_MAGIC) {
        int32_t version = 0;
        if (size < 256) return ft_fail(FT_EFORMAT, "%s: truncated llama2.c checkpoint: %zu bytes, the versioned header is 256", label, size);
        memcpy(&version, data + 4, 4);
        if (version != 1)
            return ft_fail(FT_EUNSUPPORTED, "%s: llama2.c checkpoint version %d is not supported (only the float32 "
                           "formats: legacy and version 1; version 2 is int8-quantized)", label, version);
        memcpy(&h, data + 8, sizeof h);
        if (data[36] > 1) return ft_fail(FT_EFORMAT, "%s: not a llama2.c checkpoint: shared_classifier flag %d", label, data[36]);
        if (h.vocab < 0) return ft_fail(FT_EFORMAT, "%s: not a llama2.c checkpoint: vocab_size %d", label, h.vocab);
        shared = data[36];
        at = 256;
        order = v1_order;
    } else {
        if (size < sizeof h)
            return ft_fail(FT_EFORMAT, "%s: truncated llama2.c checkpoint: %zu bytes, the header alone is 28", label, size);
        memcpy(&h, data, sizeof h);
        shared = h.vocab > 0;
    }
    ft_status s = check_header(&h, label);
    if (s) return s;
    int64_t V = h.vocab > 0 ? h.vocab : -(int64_t)h.vocab, C = h.dim, L = h.n_layers, F = h.hidden;
    int64_t D = C / h.n_heads, KV = D * h.n_kv_heads;
    /* Per tensor: name (per-layer ones take %d), llama2.c's name, rows, cols, per layer, heads to permute. */
    struct { const char *name, *what; int64_t rows, cols; bool per_layer; int perm; } t[T_END] = {
        [T_EMB] = {"model.embed_tokens.weight", "token_embedding_table", V, C, false, 0},
        [T_RMS_ATT] = {"model.layers.%d.input_layernorm.weight", "rms_att_weight", C, 1, true, 0},
        [T_WQ] = {"model.layers.%d.self_attn.q_proj.weight", "wq", C, C, true, h.n_heads},
        [T_WK] = {"model.layers.%d.self_attn.k_proj.weight", "wk", KV, C, true, h.n_kv_heads},
        [T_WV] = {"model.layers.%d.self_attn.v_proj.weight", "wv", KV, C, true, 0},
        [T_WO] = {"model.layers.%d.self_attn.o_proj.weight", "wo", C, C, true, 0},
        [T_RMS_FFN] = {"model.layers.%d.post_attention_layernorm.weight", "rms_ffn_weight", C, 1, true, 0},
        [T_W1] = {"model.layers.%d.mlp.gate_proj.weight", "w1", F, C, true, 0},
        [T_W2] = {"model.layers.%d.mlp.down_proj.weight", "w2", C, F, true, 0},
        [T_W3] = {"model.layers.%d.mlp.up_proj.weight", "w3", F, C, true, 0},
        [T_RMS_FINAL] = {"model.norm.weight", "rms_final_weight", C, 1, false, 0},
        [T_FREQ] = {NULL, "freq_cis", h.seq_len, D, false, 0}, /* the legacy RoPE tables: skipped */
        [T_WCLS] = {shared ? NULL : "lm_head.weight", "wcls", shared ? 0 : V, C, false, 0},
    };
    uint64_t need = at;
    for (const int *o = order; *o != T_END; o++)
        need += 4 * (uint64_t)(t[*o].rows * t[*o].cols) * (uint64_t)(t[*o].per_layer ? L : 1);
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
    char name[128];
    for (const int *o = order; *o != T_END && !s; o++) {
        uint64_t n = (uint64_t)(t[*o].rows * t[*o].cols);
        if (!t[*o].name) { at += 4 * n; continue; }
        for (int l = 0; l < (t[*o].per_layer ? L : 1) && !s; l++) {
            snprintf(name, sizeof name, t[*o].name, l);
            float *dst = ft_params_value(m->params, ft_params_find(m->params, name));
            s = take(data, &at, n, dst, label, t[*o].what, t[*o].per_layer ? l : -1);
            if (!s && t[*o].perm) permute_rows(dst, t[*o].perm, D, t[*o].cols, tmp);
        }
    }
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
