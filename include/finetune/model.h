/* finetune models: architectures built from a config, with upstream parameter names.
 *
 * A model is its config (JSON, kept verbatim for export) plus a parameter store. Its
 * build() adds the forward computation for one batch shape to a graph. Architectures are
 * listed in one explicit table (src/models/registry.c). */
#ifndef FINETUNE_MODEL_H
#define FINETUNE_MODEL_H

#include "core.h"
#include "params.h"
#include "graph.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ft_model ft_model;

/* One batch of token sequences for a sequence model (Transformer). Graph nodes are the
 * caller's inputs; NULL means "absent". */
typedef struct {
    ft_node *ids;        /* I32 [B,T] token ids (required) */
    ft_node *attn_mask;  /* I32/F32 [B,P+T] over every key (cache + this step): 1 = real, 0 = padding */
    ft_node *positions;  /* I32 [T] position ids; NULL = 0..T-1 (required with a KV cache) */
    ft_node *token_types; /* I32 [B,T] segment ids (BERT's token_type_ids); NULL = all 0 */
    /* KV cache (decoders): per layer, the keys/values of P earlier positions [B,P,kv_width],
     * as graph inputs; NULL = no cache. */
    ft_node **past_k, **past_v;
    /* When non-NULL (arrays of seq.n_layers), the builder stores there each layer's keys and
     * values of this step [B,T,kv_width] (keys after RoPE), so a caller can keep them. */
    ft_node **new_k, **new_v;
    bool bidirectional;  /* decoders: no causal mask (e.g. a bidirectional token classifier) */
    bool training;       /* dropout on */
} ft_seq_batch;

/* What a sequence architecture declares about itself (zero for the others). */
typedef struct {
    int vocab_size, n_layers, max_positions;
    int64_t hidden_size, kv_width; /* kv_width = n_kv_head * head_dim: one row of the KV cache */
    bool causal;                   /* a decoder (supports past_k/past_v) */
} ft_seq_info;

typedef struct ft_arch {
    const char *name;                 /* "mlp", "resnet", "llama", ... */
    /* Parse cfg_json, declare parameters into m->params (not finalized). */
    ft_status (*create)(ft_model *m, const char *cfg_json);
    /* Forward for a batch: x is the input node, returns logits [N, n_classes]. Sequence
     * language models take ids I32 [B,T] and return LM logits [B,T,vocab]. */
    ft_node *(*build)(ft_model *m, ft_graph *g, ft_node *x, bool training);
    /* Rewrite the config for a new head with n_classes outputs (malloc'd JSON). */
    char *(*config_with_classes)(const ft_model *m, int n_classes);
    void (*free_impl)(ft_model *m);
    /* Sequence models only (NULL elsewhere). The task-agnostic trunk: final hidden states
     * [B,T,hidden_size] (after the last norm), for LM, sequence- and token-classification heads. */
    ft_node *(*hidden)(ft_model *m, ft_graph *g, const ft_seq_batch *in);
    /* Language-modelling head: hidden [B,T,C] -> logits [B,T,vocab] (tied or not). */
    ft_node *(*lm_head)(ft_model *m, ft_graph *g, ft_node *hidden);
} ft_arch;

struct ft_model {
    const ft_arch *arch;
    ft_params *params;
    char *config_json;                /* as given, for export */
    int n_classes;
    ft_dtype in_dtype;
    int in_ndim;                      /* per-example input shape */
    int64_t in_shape[FT_MAX_DIMS];
    const char *head_patterns;        /* glob(s) naming the head, e.g. "head.*" */
    /* Image preprocessing the weights expect (0 = unset: ImageNet mean/std, and the crop
     * size from a [3,H,W] input shape). Importers set these from the source format. */
    float image_mean[3], image_std[3];
    int image_size, image_resize;
    bool image_stretch;               /* resize both sides to image_resize (preprocess "resize": [H, W]) */
    ft_seq_info seq;                  /* sequence models (arch->hidden != NULL) */
    /* Sequence models: the task head (src/models/seq_heads.c, from "architectures"[0]), an
     * ft_task (tasks.h; the LM head is FT_TASK_LM), and attention without the causal mask
     * ("bidirectional": true in the config). */
    int seq_head;
    bool seq_bidirectional;
    void *impl;
};

const ft_arch *ft_arch_find(const char *name);
/* Build from a config JSON text ({"arch": "mlp", ...}); parameters zero, finalized. */
ft_status ft_model_from_config(const char *cfg_json, ft_model **out);
/* Seeded PyTorch-style init of every parameter (PCG32, identical in tests/gen). */
void ft_model_init(ft_model *m, uint64_t seed);
/* He (Kaiming) init, for training deep ReLU-family networks from scratch: every weight
 * (>= 2-D) U(-b, b), b = sqrt(6 / ((1 + slope^2) * fan_in)) (torch.nn.init.kaiming_uniform_,
 * mode fan_in, leaky_relu with a = slope; slope 0 is ReLU), conv/linear biases 0, the rest
 * as ft_model_init (norm scales 1). PyTorch's default (ft_model_init) shrinks the signal
 * about 3x per layer, so a deep stack without normalisation starts with outputs that no
 * longer depend on the input. */
void ft_model_init_kaiming(ft_model *m, uint64_t seed, float slope);
/* The same network from scratch: every parameter initialised again (ft_model_init, or
 * ft_model_init_kaiming with `kaiming`), batch-norm running statistics reset (mean 0, var
 * 1), other buffers kept (constants of an imported graph, e.g. the clamp value of a Max). */
ft_status ft_model_reinit(ft_model *m, uint64_t seed, bool kaiming, float slope);
/* Load a model directory or a training checkpoint. A directory holds config.json and
 * model.safetensors, or a sharded model.safetensors.index.json and its shards; a Hugging Face
 * config.json (no "arch", its "model_type" names the architecture) loads as the hub lays it
 * out (see src/models/hf_load.c: base-model prefixes, LayerNorm gamma/beta, tied weights). */
ft_status ft_model_load(const char *path, ft_model **out);
/* Write config.json + model.safetensors under dir (atomically, upstream names). */
ft_status ft_model_export(const ft_model *m, const char *dir);
/* A copy of m with a fresh head for n_classes (seeded init); the rest is copied by name. */
ft_status ft_model_replace_head(const ft_model *m, int n_classes, uint64_t seed, ft_model **out);
void ft_model_free(ft_model *m);
/* The one batch size the model runs at (a "graph" config's input.batch > 0: an imported graph
 * whose nodes depend on the batch size), or 0 when any batch size works. Training then needs
 * batches of exactly that size (the short last batch of an epoch is dropped) and evaluation
 * and prediction pad a short batch to it, discarding the padded rows. */
int64_t ft_model_fixed_batch(const ft_model *m);
/* A copy of m (same weights) that takes size x size images: the config's input shape and
 * preprocess size change (a preprocess resize scales with it). Works when no parameter
 * depends on the input size: networks that end in a global average pool, including
 * imported ones whose average pool covers the whole map. Otherwise fails naming the
 * parameter (e.g. a Flatten feeding a Dense). */
ft_status ft_model_with_image_size(const ft_model *m, int size, ft_model **out);
/* A copy of m whose batch norms use their running statistics in training as in eval, and
 * do not update them (graph models: frozen_stats on every batch_norm node; torchvision
 * architectures: "frozen_bn"). When the layers before the head are frozen, this makes the
 * features the head trains on the ones it is evaluated on. Fails when there is no batch
 * norm with running statistics. */
ft_status ft_model_with_frozen_bn(const ft_model *m, ft_model **out);
/* Choose what trains, as `--train` / `--freeze` do: with `train` (may be NULL) only the
 * matching parameters train; then `freeze` (may be NULL) freezes its matches. In both, the
 * word "head" stands for the model's head (m->head_patterns), so `--train head` is a linear
 * probe on any architecture. Fails if nothing is left to train or a pattern matches nothing. */
ft_status ft_model_select_trainable(ft_model *m, const char *train, const char *freeze);
/* Image options matching the model's preprocessing (crop size, resize, mean, std), on top
 * of ft_image_opts_default(); for ft_dataset_open_with. */
ft_image_opts ft_model_image_opts(const ft_model *m);
/* ---- language models (arch->hidden and arch->lm_head) ---- */
typedef struct {
    int max_tokens;     /* new tokens to generate at most */
    float temperature;  /* 0 = greedy (argmax, first maximum wins) */
    int top_k;          /* 0 = off */
    float top_p;        /* 1 = off (nucleus sampling) */
    uint64_t seed;      /* sampling is a function of (seed, step) */
    int stop_id;        /* stop (without emitting it) when this id is produced; -1 = never */
} ft_generate_opts;
ft_generate_opts ft_generate_defaults(void); /* 256 tokens, greedy, top_k 0, top_p 1, seed 0, stop -1 */
/* Autoregressive generation with a KV cache: the prompt (n_prompt >= 1 ids) is fed one
 * token at a time, then each new token costs one step over the cached keys/values. out
 * receives up to o->max_tokens new ids (*n_out of them); on_token (may be NULL) is called
 * with each as it comes and stops generation early by returning non-zero. Positions stop at
 * the model's max_positions. */
ft_status ft_generate(ft_model *m, const int32_t *prompt, int n_prompt, const ft_generate_opts *o, int32_t *out,
                      int *n_out, int (*on_token)(void *user, int32_t id), void *user);

/* The task head a Hugging Face config names ("architectures": BertForSequenceClassification,
 * BertForTokenClassification, GPT2ForSequenceClassification), with its upstream parameters
 * (BERT's pooler and classifier.*, GPT-2's score.*), on hidden [B,T,C] from arch->hidden:
 * [B, n_classes] for sequence classification, pooled as transformers pools (BERT: the pooler on
 * the first token; GPT-2: the last token that in->attn_mask, F32, marks real), or
 * [B, T, n_classes] for token classification. Llama's heads (LlamaForSequenceClassification:
 * score.weight on the last real token; LlamaForTokenClassification: score.weight/bias) come from
 * src/models/seq_heads.c. Records a graph error and returns NULL for a model without one (a bare
 * BertModel, GPT2LMHeadModel, LlamaForCausalLM). */
ft_node *ft_model_task_head(ft_model *m, ft_graph *g, ft_node *hidden, const ft_seq_batch *in);
/* Chaining two graph models (src/models/graph_chain.c): one "graph" model that runs `first`,
 * then the `glue` nodes, then `second`, then the `tail` nodes. Node and parameter names get
 * the prefixes ("<prefix>.<name>"; at least one prefix is required); values are copied.
 * glue and tail are JSON arrays of graph-config nodes (docs/import.md); in glue the input
 * name "first" means the first model's output, in tail "second" the second's; the second
 * model reads the last glue node (or the first's output). The chain's input and preprocess
 * are the first model's; its head, n_classes and labels the second's (none with a tail). */
typedef struct {
    const char *first_prefix, *second_prefix;
    const char *glue, *tail;  /* may be NULL */
} ft_chain_opts;
ft_status ft_model_chain(const ft_model *first, const ft_model *second, const ft_chain_opts *o, ft_model **out);
/* Several windows of one example through one shared network (src/models/graph_windows.c).
 * m is a graph model whose example input is [W, ...] (dim 0 is time: W frames). The result
 * takes [W + hop * (n_windows - 1), ...]: window k is frames [k * hop, k * hop + W), and all
 * n_windows windows of a batch run through m's nodes (same parameters) as one batch of
 * N * n_windows; m's outputs (E values each) are then combined per example:
 *   FT_WINDOWS_CONCAT  [N, n_windows * E], window-major (window 0's E values first)
 *   FT_WINDOWS_MEAN    [N, E], the mean over the windows
 *   FT_WINDOWS_MAX     [N, E], the maximum over the windows
 * The result has no head (it is a feature extractor: train --new-head adds a linear one);
 * n_classes is its width. Values are copied; parameter names do not change, so globs and
 * checkpoints of m apply. Built from existing graph ops (a gather for the windows, a reshape
 * with the batch in its shape, the reduction), so the feature cache, export and eval work on
 * it; a frozen m is computed once per example by the feature cache. Fails for a model that
 * is not a graph model, has several outputs, a fixed batch (input.batch), an int32 input or
 * an input of more than 4 dims. */
typedef enum { FT_WINDOWS_CONCAT = 0, FT_WINDOWS_MEAN, FT_WINDOWS_MAX } ft_windows_pool;
ft_status ft_windows_pool_parse(const char *s, ft_windows_pool *out); /* "concat", "mean", "max" */
ft_status ft_model_time_windows(const ft_model *m, int n_windows, int hop, ft_windows_pool pool, ft_model **out);
/* The same function computed with shared work: every node up to `node` runs once over the
 * whole input (per-example reshapes before it that name W frames name the longer length),
 * node's output must then hold one time step per window (an axis of size 1 for W frames
 * and n_windows for the longer input), and those steps are stacked into the batch for the
 * rest of the network. Right for networks that are convolutional in time up to `node` with
 * a total stride that divides hop (openWakeWord's embedding: stride 8, so windows 8 frames
 * apart cost 1 + 8 (K - 1) / 76 window passes instead of K). Checked when built: the model
 * must give ft_model_time_windows's values on a seeded input (else FT_EINVAL). */
ft_status ft_model_time_windows_shared(const ft_model *m, int n_windows, int hop, ft_windows_pool pool, const char *node,
                                       ft_model **out);

/* Human-readable summary: parameters, shapes, trainable flags, counts. */
void ft_model_print(const ft_model *m, void *file /* FILE* */);

#ifdef __cplusplus
}
#endif
#endif
