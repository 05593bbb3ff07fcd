/* Internal: the architectures compiled into the library. */
#ifndef FT_MODELS_H
#define FT_MODELS_H
#include "finetune/model.h"

extern const ft_arch ft_arch_mlp;
extern const ft_arch ft_arch_graph; /* generic op list (graph_arch.c) */
/* Whether the graph config knows op name `op` (importers check before emitting it). */
bool ft_graph_config_op_known(const char *op);
/* Build a graph model's forward on x and store each of its "outputs" (the config's list,
 * or its one output) in outs. Returns the count, or -1 (not a graph model, more than
 * max_outs outputs, or a build error recorded in g). */
int ft_graph_model_outputs(ft_model *m, ft_graph *g, ft_node *x, ft_node **outs, int max_outs);
extern const ft_arch ft_arch_resnet, ft_arch_vgg, ft_arch_inception_v3, ft_arch_mobilenet_v2; /* torchvision */
extern const ft_arch ft_arch_bert, ft_arch_gpt2; /* Hugging Face transformers (hf_common.h) */

/* Transformer forwards with explicit text inputs: ids I32 [B,T]; mask NULL or I32/F32 [B,T]
 * (1 attend, 0 padding); token types NULL (all 0) or I32 [B,T]. Return the head's logits:
 * [B, labels] (sequence classification), [B, T, labels] (token classification, GPT-2's score
 * head), [B, T, vocab] (language model), or BERT's pooled output [B, hidden] without a head. */
ft_node *ft_bert_forward(ft_model *m, ft_graph *g, ft_node *ids, ft_node *mask, ft_node *types, bool training);
/* Load the weights of a model directory (model.safetensors or the sharded index) by name, with
 * the Hugging Face spellings (hf_load.c). */
ft_status ft_hf_load_weights(ft_model *m, const char *dir);
ft_node *ft_gpt2_forward(ft_model *m, ft_graph *g, ft_node *ids, ft_node *mask, bool training);
/* ft_model_task_head for each (model.c dispatches). */
ft_node *ft_bert_task_head(ft_model *m, ft_graph *g, ft_node *hidden, const ft_seq_batch *in);
ft_node *ft_gpt2_task_head(ft_model *m, ft_graph *g, ft_node *hidden, const ft_seq_batch *in);
extern const ft_arch ft_arch_llama; /* Llama (Hugging Face names; llama2.c import) */
/* Task heads of sequence-model architectures (arch->hidden) from the config's "architectures"
 * (seq_heads.c); called by ft_model_from_config after arch->create. */
ft_status ft_seq_heads_create(ft_model *m, const char *cfg_json);
/* Generic task heads of ft_seq_heads_create (ft_model_task_head dispatches here for llama). */
ft_node *ft_seq_task_head(ft_model *m, ft_graph *g, ft_node *hidden, const ft_seq_batch *in);
/* The text forward of any text model for a task (seq_heads.c): arch->hidden, then the LM head or
 * ft_model_task_head. ids I32 [B,T]; mask F32 [B,T] (1 real, 0 padding). Returns [B,labels] or
 * [B,T,labels|vocab]. */
ft_node *ft_text_forward(ft_model *m, ft_graph *g, int task, ft_node *ids, ft_node *mask, bool training);

/* generate.c's choice of the next token from logits[V] (exposed for tests): temperature 0 is the
 * first maximum; otherwise softmax(logits / temperature) restricted to the top_k most likely,
 * then to the smallest prefix (most likely first, ties by id) whose mass reaches top_p of what
 * is left, renormalised and drawn with PCG32(o->seed, step). buf: V scratch pairs. */
typedef struct { float p; int32_t id; } ft_prob_id;
int32_t ft_generate_sample(const float *logits, int V, const ft_generate_opts *o, uint64_t step, ft_prob_id *buf);

#endif
