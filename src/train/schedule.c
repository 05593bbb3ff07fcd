/* Learning-rate schedules, matching HF transformers' get_*_schedule_with_warmup.
 *
 *   warmup (step < warmup_steps):  base_lr * step / warmup_steps   (0 at step 0, as HF)
 *   after warmup, with a = step - warmup_steps, span = max(1, total_steps - warmup_steps):
 *     constant: base_lr
 *     step:     base_lr * gamma^floor(a / step_size)      (torch StepLR; step_size <= 0: constant)
 *     cosine:   base_lr * (r + (1-r) * 0.5 * (1 + cos(pi * min(1, a/span))))
 *     linear:   base_lr * (r + (1-r) * max(0, (total_steps - step) / span))
 *   with r = min_lr_ratio. When total_steps > 0, steps past it use step = total_steps, so
 *   the schedule holds its final value (cosine and linear end at r * base_lr).
 * Computed in double and rounded once to float. */
#include "finetune/train.h"

#include <math.h>
#include <string.h>

float ft_schedule_lr(const ft_schedule *s, float base_lr, int64_t step) {
    if (step < 0) step = 0;
    if (s->total_steps > 0 && step > s->total_steps) step = s->total_steps;
    double lr = base_lr;
    if (step < s->warmup_steps) return (float)(lr * (double)step / (double)s->warmup_steps);
    double a = (double)(step - s->warmup_steps);
    double span = s->total_steps - s->warmup_steps > 1 ? (double)(s->total_steps - s->warmup_steps) : 1.0;
    double r = s->min_lr_ratio, f = 1.0;
    switch (s->kind) {
    case FT_SCHED_CONSTANT: f = 1.0; break;
    case FT_SCHED_STEP:
        f = s->step_size > 0 ? pow((double)s->gamma, (double)((step - s->warmup_steps) / s->step_size)) : 1.0;
        break;
    case FT_SCHED_COSINE: {
        double prog = a / span < 1.0 ? a / span : 1.0;
        f = r + (1.0 - r) * 0.5 * (1.0 + cos(M_PI * prog));
        break;
    }
    case FT_SCHED_LINEAR: {
        double q = (double)(s->total_steps - step) / span;
        f = r + (1.0 - r) * (q > 0 ? q : 0.0);
        break;
    }
    }
    return (float)(lr * f);
}

static const char *const sched_names[] = { "constant", "step", "cosine", "linear" };

const char *ft_sched_name(ft_sched_kind k) {
    return (unsigned)k < sizeof sched_names / sizeof sched_names[0] ? sched_names[k] : "unknown";
}

ft_status ft_sched_parse(const char *name, ft_sched_kind *out) {
    for (int k = 0; name && k < (int)(sizeof sched_names / sizeof sched_names[0]); k++)
        if (strcmp(name, sched_names[k]) == 0) { *out = (ft_sched_kind)k; return FT_OK; }
    return ft_fail(FT_EINVAL, "unknown schedule '%s' (valid: constant, step, cosine, linear)",
                   name ? name : "(null)");
}
