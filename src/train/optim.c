/* Optimizers (SGD, Adam, AdamW) and global-norm gradient clipping.
 *
 * Semantics follow torch.optim (1.13) exactly, step for step:
 *   SGD:   d = g + wd*p;  b = (t == 1) ? d : momentum*b + (1-dampening)*d;
 *          d = nesterov ? d + momentum*b : b  (only when momentum != 0);  p -= lr*d
 *   Adam:  d = g + wd*p;  m = b1*m + (1-b1)*d;  v = b2*v + (1-b2)*d*d;
 *          p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   AdamW: p *= 1 - lr*wd (decoupled), then Adam without the L2 term.
 * Bias corrections and step sizes are computed in double and cast to float, as torch
 * does with its Python-float scalars. Weight decay is skipped for no_decay parameters
 * unless cfg.decay_all; parameter group g scales the lr by group_lr_scale[g] (0 = 1).
 *
 * State (momentum / m, v) is one flat block per kind with the layout of ps->grad, so a
 * step is one elementwise loop per parameter and allocates nothing. The loops are
 * elementwise, so results do not depend on the thread count. */
#include "finetune/train.h"

#include <math.h>
#include <string.h>

/* Parameters smaller than this are updated by the calling thread alone. */
#define FT_OPT_PAR_MIN 16384

struct ft_optimizer {
    ft_params *ps;
    ft_optim_config cfg;
    size_t n;          /* floats per state buffer (ps->grad_total at creation) */
    float *buf[2];     /* SGD: momentum (if momentum != 0); Adam/AdamW: m, v */
    int n_bufs;
    int64_t t;         /* steps taken */
};

static const char *const optim_names[] = { "sgd", "adam", "adamw" };

const char *ft_optim_name(ft_optim_kind k) {
    return (unsigned)k < sizeof optim_names / sizeof optim_names[0] ? optim_names[k] : "unknown";
}

ft_status ft_optim_parse(const char *name, ft_optim_kind *out) {
    for (int k = 0; name && k < (int)(sizeof optim_names / sizeof optim_names[0]); k++)
        if (strcmp(name, optim_names[k]) == 0) { *out = (ft_optim_kind)k; return FT_OK; }
    return ft_fail(FT_EINVAL, "unknown optimizer '%s' (valid: sgd, adam, adamw)", name ? name : "(null)");
}

/* torch defaults. torch.optim.SGD has no default lr; 0.01 is used here. Adam/AdamW: lr
 * 1e-3, betas (0.9, 0.999), eps 1e-8; AdamW weight_decay 0.01. decay_all is false, so
 * biases and norm weights (no_decay parameters) are not decayed. */
ft_optim_config ft_optim_defaults(ft_optim_kind kind) {
    ft_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lr = kind == FT_OPT_SGD ? 0.01f : 1e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = kind == FT_OPT_ADAMW ? 0.01f : 0.0f;
    return c;
}

static ft_status check_config(const ft_optim_config *c) {
    if ((unsigned)c->kind > FT_OPT_ADAMW) return ft_fail(FT_EINVAL, "optimizer: unknown kind %d", (int)c->kind);
    const char *nm = ft_optim_name(c->kind);
    if (!(c->lr >= 0) || isinf(c->lr)) return ft_fail(FT_EINVAL, "%s: invalid learning rate %g", nm, c->lr);
    if (!(c->weight_decay >= 0) || isinf(c->weight_decay))
        return ft_fail(FT_EINVAL, "%s: invalid weight_decay %g", nm, c->weight_decay);
    for (int g = 0; g < FT_MAX_GROUPS; g++)
        if (!(c->group_lr_scale[g] >= 0) || isinf(c->group_lr_scale[g]))
            return ft_fail(FT_EINVAL, "%s: invalid lr scale %g for group %d", nm, c->group_lr_scale[g], g);
    if (c->kind == FT_OPT_SGD) {
        if (!(c->momentum >= 0) || isinf(c->momentum)) return ft_fail(FT_EINVAL, "sgd: invalid momentum %g", c->momentum);
        if (!(c->dampening >= 0) || isinf(c->dampening)) return ft_fail(FT_EINVAL, "sgd: invalid dampening %g", c->dampening);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return ft_fail(FT_EINVAL, "sgd: nesterov momentum requires momentum > 0 and dampening 0");
    } else {
        if (!(c->beta1 >= 0 && c->beta1 < 1)) return ft_fail(FT_EINVAL, "%s: invalid beta1 %g (need 0 <= beta1 < 1)", nm, c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1)) return ft_fail(FT_EINVAL, "%s: invalid beta2 %g (need 0 <= beta2 < 1)", nm, c->beta2);
        if (!(c->eps >= 0) || isinf(c->eps)) return ft_fail(FT_EINVAL, "%s: invalid eps %g", nm, c->eps);
    }
    return FT_OK;
}

ft_status ft_optimizer_new(ft_params *ps, const ft_optim_config *cfg, ft_optimizer **out) {
    *out = NULL;
    if (!ps || !cfg) return ft_fail(FT_EINVAL, "optimizer: NULL parameters or config");
    ft_status s = check_config(cfg);
    if (s) return s;
    if (ps->grad_total > 0 && !ps->grad)
        return ft_fail(FT_EINVAL, "%s: gradients are not allocated (call ft_params_alloc_grads first)",
                       ft_optim_name(cfg->kind));
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *p = &ps->p[i];
        if (p->grad_offset < 0) continue;
        if (p->group < 0 || p->group >= FT_MAX_GROUPS)
            return ft_fail(FT_EINVAL, "%s: parameter '%s' has group %d (valid: 0..%d)",
                           ft_optim_name(cfg->kind), p->name, p->group, FT_MAX_GROUPS - 1);
        if ((size_t)p->grad_offset + (size_t)p->numel > ps->grad_total)
            return ft_fail(FT_EINVAL, "%s: parameter '%s' lies outside the gradient block",
                           ft_optim_name(cfg->kind), p->name);
    }
    ft_optimizer *o = ft_calloc(1, sizeof *o);
    if (!o) return ft_fail(FT_ENOMEM, "optimizer: out of memory");
    o->ps = ps;
    o->cfg = *cfg;
    o->n = ps->grad_total;
    o->n_bufs = cfg->kind == FT_OPT_SGD ? (cfg->momentum != 0 ? 1 : 0) : 2;
    for (int b = 0; b < o->n_bufs; b++) {
        o->buf[b] = ft_malloc_aligned(o->n * sizeof(float));
        if (!o->buf[b]) {
            size_t n = o->n;
            ft_optimizer_free(o);
            return ft_fail(FT_ENOMEM, "%s: out of memory for %zu state floats",
                           ft_optim_name(cfg->kind), n);
        }
        memset(o->buf[b], 0, o->n * sizeof(float));
    }
    *out = o;
    return FT_OK;
}

void ft_optimizer_free(ft_optimizer *o) {
    if (!o) return;
    for (int b = 0; b < 2; b++) ft_free_aligned(o->buf[b]);
    ft_free(o);
}

int64_t ft_optimizer_steps(const ft_optimizer *o) { return o->t; }
void ft_optimizer_set_steps(ft_optimizer *o, int64_t t) { o->t = t < 0 ? 0 : t; }

int ft_optimizer_state(ft_optimizer *o, float **bufs, int max_bufs) {
    for (int b = 0; b < o->n_bufs && b < max_bufs; b++) bufs[b] = o->buf[b];
    return o->n_bufs;
}

/* p[n], g[n], b[n]: one parameter's values, gradient, momentum buffer (NULL if none). */
static void sgd_update(float *restrict p, const float *restrict g, float *restrict b, int64_t n,
                       float lr, float wd, float mom, float damp1, bool nesterov, bool first) {
    if (!b) {
        #pragma omp parallel for simd schedule(static) if (n >= FT_OPT_PAR_MIN)
        for (int64_t j = 0; j < n; j++) p[j] -= lr * (g[j] + wd * p[j]);
        return;
    }
    /* One branch-free loop per case, so each vectorises. */
    if (first && nesterov) {
        #pragma omp parallel for simd schedule(static) if (n >= FT_OPT_PAR_MIN)
        for (int64_t j = 0; j < n; j++) { float d = g[j] + wd * p[j]; b[j] = d; p[j] -= lr * (d + mom * d); }
    } else if (first) {
        #pragma omp parallel for simd schedule(static) if (n >= FT_OPT_PAR_MIN)
        for (int64_t j = 0; j < n; j++) { float d = g[j] + wd * p[j]; b[j] = d; p[j] -= lr * d; }
    } else if (nesterov) {
        #pragma omp parallel for simd schedule(static) if (n >= FT_OPT_PAR_MIN)
        for (int64_t j = 0; j < n; j++) {
            float d = g[j] + wd * p[j], m = mom * b[j] + damp1 * d;
            b[j] = m;
            p[j] -= lr * (d + mom * m);
        }
    } else {
        #pragma omp parallel for simd schedule(static) if (n >= FT_OPT_PAR_MIN)
        for (int64_t j = 0; j < n; j++) {
            float m = mom * b[j] + damp1 * (g[j] + wd * p[j]);
            b[j] = m;
            p[j] -= lr * m;
        }
    }
}

/* Adam/AdamW on one parameter. decay: AdamW's p *= decay (1 = none); wd: Adam's L2 term. */
static void adam_update(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, int64_t n, float decay, float wd, float b1, float ob1,
                        float b2, float ob2, float step_size, float bc2_sqrt, float eps) {
    #pragma omp parallel for simd schedule(static) if (n >= FT_OPT_PAR_MIN)
    for (int64_t j = 0; j < n; j++) {
        float x = p[j] * decay;
        float d = g[j] + wd * x;
        float mj = b1 * m[j] + ob1 * d;
        float vj = b2 * v[j] + ob2 * d * d;
        m[j] = mj;
        v[j] = vj;
        p[j] = x - step_size * (mj / (sqrtf(vj) / bc2_sqrt + eps));
    }
}

void ft_optimizer_step(ft_optimizer *o, float lr) {
    ft_params *ps = o->ps;
    const ft_optim_config *c = &o->cfg;
    o->t++;
    double t = (double)o->t;
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *pi = &ps->p[i];
        if (pi->grad_offset < 0 || (size_t)pi->grad_offset + (size_t)pi->numel > o->n) continue;
        float *p = ps->data + pi->offset;
        const float *g = ps->grad + pi->grad_offset;
        int64_t n = pi->numel;
        int grp = pi->group >= 0 && pi->group < FT_MAX_GROUPS ? pi->group : 0;
        float scale = c->group_lr_scale[grp] != 0 ? c->group_lr_scale[grp] : 1.0f;
        double plr = (double)lr * scale;
        float wd = (c->decay_all || !pi->no_decay) ? c->weight_decay : 0.0f;
        if (c->kind == FT_OPT_SGD) {
            sgd_update(p, g, o->n_bufs ? o->buf[0] + pi->grad_offset : NULL, n, (float)plr, wd,
                       c->momentum, (float)(1.0 - (double)c->dampening), c->nesterov, o->t == 1);
        } else {
            double bc1 = 1.0 - pow((double)c->beta1, t), bc2 = 1.0 - pow((double)c->beta2, t);
            bool w = c->kind == FT_OPT_ADAMW;
            adam_update(p, g, o->buf[0] + pi->grad_offset, o->buf[1] + pi->grad_offset, n,
                        w ? (float)(1.0 - plr * wd) : 1.0f, w ? 0.0f : wd,
                        c->beta1, (float)(1.0 - (double)c->beta1),
                        c->beta2, (float)(1.0 - (double)c->beta2),
                        (float)(plr / bc1), (float)sqrt(bc2), c->eps);
        }
    }
}

/* torch.nn.utils.clip_grad_norm_: total = ||all grads||_2; coef = max_norm / (total + 1e-6);
 * grads *= coef when coef < 1. The sum of squares is accumulated in double over fixed
 * chunks whose partial sums are added in order, so the result does not depend on the
 * thread count. A non-finite norm is returned as is and leaves the grads untouched. */
#define CLIP_CHUNKS 256
float ft_clip_grad_norm(ft_params *ps, float max_norm) {
    size_t n = ps->grad_total;
    const float *g = ps->grad;
    if (!g || n == 0) return 0.0f;
    double part[CLIP_CHUNKS];
    size_t chunk = (n + CLIP_CHUNKS - 1) / CLIP_CHUNKS;
    #pragma omp parallel for schedule(static) if (n >= 4 * FT_OPT_PAR_MIN)
    for (int k = 0; k < CLIP_CHUNKS; k++) {
        size_t lo = (size_t)k * chunk, hi = lo + chunk < n ? lo + chunk : n;
        double s = 0;
        for (size_t j = lo; j < hi; j++) s += (double)g[j] * g[j];
        part[k] = s;
    }
    double ss = 0;
    for (int k = 0; k < CLIP_CHUNKS; k++) ss += part[k];
    double norm = sqrt(ss);
    double coef = (double)max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        float cf = (float)coef;
        float *gw = ps->grad;
        #pragma omp parallel for simd schedule(static) if (n >= FT_OPT_PAR_MIN)
        for (size_t j = 0; j < n; j++) gw[j] *= cf;
    }
    return (float)norm;
}
