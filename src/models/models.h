/* Internal: the architectures compiled into the library. */
#ifndef FT_MODELS_H
#define FT_MODELS_H
#include "finetune/model.h"

extern const ft_arch ft_arch_mlp;
extern const ft_arch ft_arch_graph; /* generic op list (graph_arch.c) */
extern const ft_arch ft_arch_resnet, ft_arch_vgg, ft_arch_inception_v3, ft_arch_mobilenet_v2; /* torchvision */

#endif
