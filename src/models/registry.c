/* The explicit list of architectures (no self-registration: static builds keep working). */
#include "models/models.h"

#include <string.h>

static const ft_arch *const archs[] = {
    &ft_arch_mlp,
    &ft_arch_graph, /* generic op list: importers target it (docs/import.md) */
    &ft_arch_resnet, &ft_arch_vgg, &ft_arch_inception_v3, &ft_arch_mobilenet_v2, /* torchvision */
    &ft_arch_bert, &ft_arch_gpt2, /* Hugging Face transformers: "model_type" of a config.json */
    &ft_arch_llama, /* Hugging Face LlamaForCausalLM */
};

const ft_arch *ft_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (name && strcmp(archs[i]->name, name) == 0) return archs[i];
    return NULL;
}

/* Comma-separated names, for error messages. */
const char *ft_arch_names(void) { return "mlp, graph, resnet, vgg, inception_v3, mobilenet_v2, bert, gpt2, llama"; }
