/* finetune parameters: one flat float block with named views (llm.c style).
 *
 * Names equal the upstream checkpoint names ("layer4.1.conv2.weight"), so weights load by
 * name. Gradients exist only for trainable parameters and sit in a second flat block
 * with the same order; optimizer state mirrors the gradient block. */
#ifndef FINETUNE_PARAMS_H
#define FINETUNE_PARAMS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FT_PARAM_MAX_DIMS 6

typedef struct {
    char *name;
    int ndim;
    int64_t shape[FT_PARAM_MAX_DIMS];
    int64_t numel;
    size_t offset;      /* into data */
    int64_t grad_offset;/* into grad, -1 when frozen */
    bool trainable;
    bool no_decay;      /* biases and norm weights: no weight decay */
    bool is_buffer;     /* running statistics etc.: saved, never trained */
    int group;          /* parameter group (own learning rate), 0 = default */
} ft_param_info;

typedef struct ft_params {
    ft_param_info *p;
    int n, cap;
    float *data;        /* all values, one allocation */
    float *grad;        /* trainable gradients, one allocation (NULL until finalized) */
    size_t total;       /* floats in data */
    size_t grad_total;  /* floats in grad */
    bool finalized;
} ft_params;

ft_params *ft_params_new(void);
void ft_params_free(ft_params *ps);
/* Declare a parameter (before finalize). Returns its index or -1 (message set). */
int ft_params_add(ft_params *ps, const char *name, int ndim, const int64_t *shape);
int ft_params_add_buffer(ft_params *ps, const char *name, int ndim, const int64_t *shape);
/* Allocate the value block (zeroed). Call once after all adds. */
ft_status ft_params_finalize(ft_params *ps);
int ft_params_find(const ft_params *ps, const char *name);
float *ft_params_value(ft_params *ps, int i);
float *ft_params_grad(ft_params *ps, int i); /* NULL when frozen */
int64_t ft_params_count(const ft_params *ps, bool trainable_only);

/* Trainable selection. Patterns are comma-separated globs ("layer4.*,fc.*"), or a POSIX
 * extended regex when prefixed with "re:". All parameters start trainable.
 * ft_params_set_trainable(ps, patterns, on) marks the matches; it fails (FT_ENOTFOUND) if
 * a pattern matches nothing, so a typo never silently trains everything. */
ft_status ft_params_set_trainable(ft_params *ps, const char *patterns, bool on);
ft_status ft_params_set_group(ft_params *ps, const char *patterns, int group);
bool ft_params_match(const char *patterns, const char *name);
/* (Re)allocate the grad block for the current trainable set, zeroed. */
ft_status ft_params_alloc_grads(ft_params *ps);
void ft_params_zero_grad(ft_params *ps);

/* Initialise with PyTorch-style defaults from a seeded PCG32 stream (identical in the
 * Python fixture generator): uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void ft_params_init_uniform(ft_params *ps, int i, uint64_t seed, float bound);

/* PCG32, shared with tests/gen/pcg32.py so Python and C generate the same numbers. */
typedef struct { uint64_t state, inc; } ft_pcg32;
void ft_pcg32_seed(ft_pcg32 *r, uint64_t seed, uint64_t stream);
uint32_t ft_pcg32_next(ft_pcg32 *r);
float ft_pcg32_uniform(ft_pcg32 *r); /* [0,1) with 24 bits */

#ifdef __cplusplus
}
#endif
#endif
