/* Optimizers, clipping and schedules against PyTorch reference trajectories
 * (tests/fixtures/optim.safetensors, written by tests/gen/gen_optim.py; the naming is
 * documented at the top of that script). */
#include "test.h"
#include <jansson.h>

#define FIXTURE "tests/fixtures/optim.safetensors"
#define RTOL 1e-5
#define ATOL 1e-6
#define MAXP 4

static ft_safetensors *st;

/* Copies fixture tensor `name` (numel floats) into dst; a CHECK failure if missing. */
static int fx(const char *name, float *dst, int64_t numel) {
    const ft_st_tensor *t = ft_st_find(st, name);
    CHECKF(t != NULL, "fixture tensor %s missing", name);
    if (!t) return 0;
    CHECKF(t->numel == numel, "%s: %lld elements, want %lld", name, (long long)t->numel, (long long)numel);
    if (t->numel != numel) return 0;
    CHECK_OK(ft_st_to_f32(t, dst));
    return 1;
}

static double jnum(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static ft_optim_config config_from_json(json_t *m) {
    const char *kind = json_string_value(json_object_get(m, "kind"));
    ft_optim_kind k = FT_OPT_SGD;
    CHECK_OK(ft_optim_parse(kind, &k));
    ft_optim_config c = ft_optim_defaults(k);
    c.lr = (float)jnum(m, "lr");
    c.momentum = (float)jnum(m, "momentum");
    c.dampening = (float)jnum(m, "dampening");
    c.nesterov = json_is_true(json_object_get(m, "nesterov"));
    c.beta1 = (float)jnum(m, "beta1");
    c.beta2 = (float)jnum(m, "beta2");
    c.eps = (float)jnum(m, "eps");
    c.weight_decay = (float)jnum(m, "weight_decay");
    c.decay_all = json_is_true(json_object_get(m, "decay_all"));
    json_t *gs = json_object_get(m, "group_lr_scale");
    for (int g = 0; g < FT_MAX_GROUPS; g++) c.group_lr_scale[g] = (float)json_number_value(json_array_get(gs, g));
    return c;
}

/* The case's parameters (plus one frozen one) with their init values and flags. */
static ft_params *params_from_json(const char *cname, json_t *m, int idx[MAXP], int *np) {
    ft_params *ps = ft_params_new();
    json_t *plist = json_object_get(m, "params");
    *np = (int)json_array_size(plist);
    for (int i = 0; i < *np; i++) {
        json_t *p = json_array_get(plist, i), *sh = json_object_get(p, "shape");
        int64_t shape[4];
        int nd = (int)json_array_size(sh);
        for (int d = 0; d < nd; d++) shape[d] = json_integer_value(json_array_get(sh, d));
        idx[i] = ft_params_add(ps, json_string_value(json_object_get(p, "name")), nd, shape);
    }
    int64_t fshape[1] = {7};
    int frozen = ft_params_add(ps, "frozen", 1, fshape);
    CHECK_OK(ft_params_finalize(ps));
    for (int i = 0; i < *np; i++) {
        json_t *p = json_array_get(plist, i);
        ft_param_info *pi = &ps->p[idx[i]];
        pi->no_decay = json_is_true(json_object_get(p, "no_decay"));
        pi->group = (int)json_integer_value(json_object_get(p, "group"));
        char nm[128];
        snprintf(nm, sizeof nm, "%s.%s.init", cname, pi->name);
        fx(nm, ft_params_value(ps, idx[i]), pi->numel);
    }
    float *fv = ft_params_value(ps, frozen);
    for (int k = 0; k < 7; k++) fv[k] = (float)k;
    CHECK_OK(ft_params_set_trainable(ps, "frozen", false));
    CHECK_OK(ft_params_alloc_grads(ps));
    CHECK(ft_params_grad(ps, frozen) == NULL);
    return ps;
}

static void load_grads(ft_params *ps, const char *cname, const int idx[MAXP], int np, int s) {
    char nm[128];
    for (int i = 0; i < np; i++) {
        snprintf(nm, sizeof nm, "%s.%s.grad%d", cname, ps->p[idx[i]].name, s);
        fx(nm, ft_params_grad(ps, idx[i]), ps->p[idx[i]].numel);
    }
}

/* Compares every parameter with "<case>.<p>.after<s>". */
static int check_after(ft_params *ps, const char *cname, const int idx[MAXP], int np, int s) {
    char nm[128], what[160];
    int ok = 1;
    float ref[64];
    for (int i = 0; i < np; i++) {
        const ft_param_info *pi = &ps->p[idx[i]];
        snprintf(nm, sizeof nm, "%s.%s.after%d", cname, pi->name, s);
        if (pi->numel > 64 || !fx(nm, ref, pi->numel)) { ok = 0; continue; }
        snprintf(what, sizeof what, "%s step %d", nm, s);
        int good = t_close(ft_params_value(ps, idx[i]), ref, pi->numel, RTOL, ATOL, what);
        CHECKF(good, "%s", what);
        ok &= good;
    }
    return ok;
}

static void test_case(const char *cname) {
    const char *js = ft_st_meta(st, cname);
    CHECKF(js != NULL, "metadata for %s", cname);
    if (!js) return;
    json_t *m = json_loads(js, 0, NULL);
    CHECKF(m != NULL, "metadata of %s parses", cname);
    if (!m) return;
    ft_optim_config cfg = config_from_json(m);
    int steps = (int)json_integer_value(json_object_get(m, "steps"));
    float clip = (float)jnum(m, "clip");
    int idx[MAXP], np = 0;
    ft_params *ps = params_from_json(cname, m, idx, &np);
    int frozen = ft_params_find(ps, "frozen");
    float lrs[16], norms[16];
    char nm[128];
    snprintf(nm, sizeof nm, "%s.lrs", cname);
    fx(nm, lrs, steps);
    if (clip > 0) { snprintf(nm, sizeof nm, "%s.norms", cname); fx(nm, norms, steps); }

    ft_optimizer *o = NULL;
    CHECK_OK(ft_optimizer_new(ps, &cfg, &o));
    if (!o) { ft_params_free(ps); json_decref(m); return; }
    int ok = 1;
    for (int s = 0; s < steps; s++) {
        load_grads(ps, cname, idx, np, s);
        uint64_t a0 = ft_alloc_count();
        if (clip > 0) {
            float n = ft_clip_grad_norm(ps, clip);
            CHECKF(fabs(n - norms[s]) <= 1e-5 * fabs(norms[s]), "%s step %d: norm %g, torch %g", cname, s, n, norms[s]);
        }
        ft_optimizer_step(o, lrs[s]);
        CHECKF(ft_alloc_count() == a0, "%s step %d allocated %llu times", cname, s,
               (unsigned long long)(ft_alloc_count() - a0));
        ok &= check_after(ps, cname, idx, np, s);
    }
    CHECK(ft_optimizer_steps(o) == steps);
    const float *fv = ft_params_value(ps, frozen);
    int frozen_ok = 1;
    for (int k = 0; k < 7; k++) frozen_ok &= fv[k] == (float)k;
    CHECKF(frozen_ok, "%s: frozen parameter changed", cname);
    printf("%-16s %s\n", cname, ok ? "matches torch" : "MISMATCH");
    ft_optimizer_free(o);
    ft_params_free(ps);
    json_decref(m);
}

/* Checkpoint round trip: run 2 steps, copy the state into a fresh optimizer with
 * ft_optimizer_state/set_steps, run the rest there; the trajectory must still match. */
static void test_resume(const char *cname) {
    json_t *m = json_loads(ft_st_meta(st, cname), 0, NULL);
    if (!m) { CHECK(0); return; }
    ft_optim_config cfg = config_from_json(m);
    int steps = (int)json_integer_value(json_object_get(m, "steps"));
    int idx[MAXP], np = 0;
    ft_params *ps = params_from_json(cname, m, idx, &np);
    float lrs[16];
    char nm[128];
    snprintf(nm, sizeof nm, "%s.lrs", cname);
    fx(nm, lrs, steps);
    ft_optimizer *a = NULL, *b = NULL;
    CHECK_OK(ft_optimizer_new(ps, &cfg, &a));
    CHECK_OK(ft_optimizer_new(ps, &cfg, &b));
    if (a && b) {
        for (int s = 0; s < 2; s++) { load_grads(ps, cname, idx, np, s); ft_optimizer_step(a, lrs[s]); }
        float *sa[4], *sb[4];
        int na = ft_optimizer_state(a, sa, 4), nb = ft_optimizer_state(b, sb, 4);
        CHECK(na == nb);
        for (int k = 0; k < na && k < nb; k++) memcpy(sb[k], sa[k], ps->grad_total * sizeof(float));
        ft_optimizer_set_steps(b, ft_optimizer_steps(a));
        int ok = 1;
        for (int s = 2; s < steps; s++) {
            load_grads(ps, cname, idx, np, s);
            ft_optimizer_step(b, lrs[s]);
            ok &= check_after(ps, cname, idx, np, s);
        }
        CHECKF(ok, "%s: resumed trajectory", cname);
    }
    ft_optimizer_free(a);
    ft_optimizer_free(b);
    ft_params_free(ps);
    json_decref(m);
}

static void test_schedule(const char *cname) {
    json_t *m = json_loads(ft_st_meta(st, cname), 0, NULL);
    if (!m) { CHECKF(0, "schedule metadata %s", cname); return; }
    ft_schedule s;
    memset(&s, 0, sizeof s);
    CHECK_OK(ft_sched_parse(json_string_value(json_object_get(m, "kind")), &s.kind));
    s.warmup_steps = json_integer_value(json_object_get(m, "warmup_steps"));
    s.total_steps = json_integer_value(json_object_get(m, "total_steps"));
    s.step_size = json_integer_value(json_object_get(m, "step_size"));
    s.gamma = (float)jnum(m, "gamma");
    s.min_lr_ratio = (float)jnum(m, "min_lr_ratio");
    float base = (float)jnum(m, "base_lr");
    int n = (int)json_integer_value(json_object_get(m, "n"));
    float ref[64], got[64];
    char nm[128];
    snprintf(nm, sizeof nm, "%s.lr", cname);
    if (n <= 64 && fx(nm, ref, n)) {
        for (int t = 0; t < n; t++) got[t] = ft_schedule_lr(&s, base, t);
        CHECKF(t_close(got, ref, n, 1e-6, 1e-12, nm), "schedule %s", cname);
    }
    json_decref(m);
}

/* Runs `cases` (comma-separated list from the metadata) through fn. */
static void each(const char *key, void (*fn)(const char *)) {
    const char *list = ft_st_meta(st, key);
    CHECKF(list != NULL, "metadata %s", key);
    if (!list) return;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    int n = 0;
    for (char *save = NULL, *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save), n++) fn(c);
    CHECKF(n >= 8, "%s lists %d cases", key, n);
}

static void test_names(void) {
    for (int k = FT_OPT_SGD; k <= FT_OPT_ADAMW; k++) {
        ft_optim_kind got;
        CHECK_OK(ft_optim_parse(ft_optim_name((ft_optim_kind)k), &got));
        CHECK(got == (ft_optim_kind)k);
    }
    ft_optim_kind ok;
    CHECK_ERR(ft_optim_parse("adamax", &ok), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "adamax") && strstr(ft_errmsg(), "sgd, adam, adamw"));
    CHECK_ERR(ft_optim_parse(NULL, &ok), FT_EINVAL);
    for (int k = FT_SCHED_CONSTANT; k <= FT_SCHED_LINEAR; k++) {
        ft_sched_kind got;
        CHECK_OK(ft_sched_parse(ft_sched_name((ft_sched_kind)k), &got));
        CHECK(got == (ft_sched_kind)k);
    }
    ft_sched_kind sk;
    CHECK_ERR(ft_sched_parse("exp", &sk), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "constant, step, cosine, linear") != NULL);
    CHECK(strcmp(ft_optim_name((ft_optim_kind)99), "unknown") == 0);

    ft_optim_config c = ft_optim_defaults(FT_OPT_ADAMW);
    CHECK(c.kind == FT_OPT_ADAMW && c.beta1 == 0.9f && c.beta2 == 0.999f && c.eps == 1e-8f && c.weight_decay == 0.01f);
    c = ft_optim_defaults(FT_OPT_ADAM);
    CHECK(c.weight_decay == 0 && c.lr == 1e-3f);
    c = ft_optim_defaults(FT_OPT_SGD);
    CHECK(c.momentum == 0 && c.dampening == 0 && !c.nesterov && c.weight_decay == 0);
}

static void test_invalid(void) {
    ft_params *ps = ft_params_new();
    int64_t sh[1] = {5};
    ft_params_add(ps, "w", 1, sh);
    CHECK_OK(ft_params_finalize(ps));
    CHECK_OK(ft_params_alloc_grads(ps));
    ft_optimizer *o = NULL;
    ft_optim_config c = ft_optim_defaults(FT_OPT_SGD);
    c.lr = -1;
    CHECK_ERR(ft_optimizer_new(ps, &c, &o), FT_EINVAL);
    c = ft_optim_defaults(FT_OPT_SGD);
    c.nesterov = true;
    CHECK_ERR(ft_optimizer_new(ps, &c, &o), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "nesterov") != NULL);
    c = ft_optim_defaults(FT_OPT_ADAM);
    c.beta1 = 1.0f;
    CHECK_ERR(ft_optimizer_new(ps, &c, &o), FT_EINVAL);
    c = ft_optim_defaults(FT_OPT_ADAMW);
    c.weight_decay = NAN;
    CHECK_ERR(ft_optimizer_new(ps, &c, &o), FT_EINVAL);
    c = ft_optim_defaults(FT_OPT_ADAMW);
    ps->p[0].group = FT_MAX_GROUPS;
    CHECK_ERR(ft_optimizer_new(ps, &c, &o), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "'w'") != NULL);
    ps->p[0].group = 0;
    CHECK(o == NULL);

    /* State buffer counts, and out-of-memory at each allocation. */
    c = ft_optim_defaults(FT_OPT_SGD);
    CHECK_OK(ft_optimizer_new(ps, &c, &o));
    float *bufs[4];
    if (o) CHECK(ft_optimizer_state(o, bufs, 4) == 0);
    ft_optimizer_free(o);
    c.momentum = 0.9f;
    CHECK_OK(ft_optimizer_new(ps, &c, &o));
    if (o) CHECK(ft_optimizer_state(o, bufs, 4) == 1);
    ft_optimizer_free(o);
    c = ft_optim_defaults(FT_OPT_ADAM);
    CHECK_OK(ft_optimizer_new(ps, &c, &o));
    if (o) CHECK(ft_optimizer_state(o, bufs, 4) == 2);
    ft_optimizer_free(o);
    for (int k = 0; k < 3; k++) {
        ft_alloc_fail_after(k);
        CHECK_ERR(ft_optimizer_new(ps, &c, &o), FT_ENOMEM);
        CHECK(o == NULL);
    }
    ft_alloc_fail_after(-1);
    ft_optimizer_free(NULL);
    ft_params_free(ps);
}

/* Large parameters take the OpenMP path: results must not depend on the thread count,
 * and clipping must scale exactly when the norm exceeds max_norm. */
static void run_big(int threads, ft_optim_kind kind, float *out, float *norm) {
    ft_set_num_threads(threads);
    ft_params *ps = ft_params_new();
    int64_t sh[2] = {300, 211}, bs[1] = {300};
    int w = ft_params_add(ps, "big.weight", 2, sh);
    int b = ft_params_add(ps, "big.bias", 1, bs);
    CHECK_OK(ft_params_finalize(ps));
    ft_params_init_uniform(ps, w, 7, 0.05f);
    ft_params_init_uniform(ps, b, 7, 0.05f);
    CHECK_OK(ft_params_alloc_grads(ps));
    ft_optim_config c = ft_optim_defaults(kind);
    c.momentum = 0.9f;
    c.weight_decay = 0.01f;
    ft_optimizer *o = NULL;
    CHECK_OK(ft_optimizer_new(ps, &c, &o));
    ft_pcg32 r;
    ft_pcg32_seed(&r, 99, 1);
    for (int s = 0; s < 3 && o; s++) {
        for (int i = 0; i < ps->n; i++) {
            float *g = ft_params_grad(ps, i);
            for (int64_t k = 0; k < ps->p[i].numel; k++) g[k] = ft_pcg32_uniform(&r) - 0.5f;
        }
        norm[s] = ft_clip_grad_norm(ps, 50.0f);
        uint64_t a0 = ft_alloc_count();
        ft_optimizer_step(o, 1e-2f);
        CHECK(ft_alloc_count() == a0);
    }
    memcpy(out, ft_params_value(ps, w), 300 * 211 * sizeof(float));
    ft_optimizer_free(o);
    ft_params_free(ps);
}

static void test_threads(void) {
    int saved = ft_get_num_threads();
    size_t n = 300 * 211;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    float na[3], nb[3];
    for (int kind = FT_OPT_SGD; kind <= FT_OPT_ADAMW; kind++) {
        run_big(1, (ft_optim_kind)kind, a, na);
        run_big(4, (ft_optim_kind)kind, b, nb);
        CHECKF(memcmp(a, b, n * sizeof(float)) == 0, "%s: 1 vs 4 threads differ", ft_optim_name((ft_optim_kind)kind));
        CHECK(memcmp(na, nb, sizeof na) == 0);
    }
    ft_set_num_threads(saved);
    free(a);
    free(b);
}

static void test_clip(void) {
    ft_params *ps = ft_params_new();
    int64_t sh[1] = {3}, sh2[1] = {1};
    int a = ft_params_add(ps, "a", 1, sh), f = ft_params_add(ps, "f", 1, sh2);
    CHECK_OK(ft_params_finalize(ps));
    CHECK_OK(ft_params_set_trainable(ps, "f", false));
    CHECK_OK(ft_params_alloc_grads(ps));
    float *g = ft_params_grad(ps, a);
    g[0] = 3; g[1] = 0; g[2] = 4;                 /* norm 5 */
    CHECK(ft_clip_grad_norm(ps, 10.0f) == 5.0f);  /* under the limit: untouched */
    CHECK(g[0] == 3 && g[2] == 4);
    CHECK(ft_clip_grad_norm(ps, 1.0f) == 5.0f);
    CHECK(fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[2] - 0.8f) < 1e-6f);
    CHECK(fabsf(ft_clip_grad_norm(ps, 1.0f) - 1.0f) < 1e-6f);
    (void)f;
    ft_params_free(ps);
}

static void test_schedule_edges(void) {
    ft_schedule s = { FT_SCHED_COSINE, 10, 0, 0, 1.0f, 0.0f };
    CHECK(ft_schedule_lr(&s, 1.0f, 0) == 0.0f);
    CHECK(ft_schedule_lr(&s, 1.0f, 5) == 0.5f);
    CHECK(ft_schedule_lr(&s, 1.0f, 10) == 1.0f);  /* total_steps 0: no decay span */
    CHECK(ft_schedule_lr(&s, 1.0f, -3) == 0.0f);
    ft_schedule st2 = { FT_SCHED_STEP, 0, 0, 0, 0.5f, 0.0f }; /* step_size 0: constant */
    CHECK(ft_schedule_lr(&st2, 2.0f, 100) == 2.0f);
    ft_schedule lin = { FT_SCHED_LINEAR, 0, 10, 0, 1.0f, 0.0f };
    CHECK(ft_schedule_lr(&lin, 1.0f, 10) == 0.0f && ft_schedule_lr(&lin, 1.0f, 1000) == 0.0f);
}

int main(void) {
    test_names();
    test_invalid();
    test_clip();
    test_threads();
    test_schedule_edges();
    CHECK_OK(ft_st_open(FIXTURE, &st));
    if (st) {
        each("optim_cases", test_case);
        test_resume("adamw_sched");
        test_resume("sgd_nesterov");
        each("sched_cases", test_schedule);
        ft_st_close(st);
    }
    TEST_END();
}
