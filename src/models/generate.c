/* Autoregressive generation for decoder architectures (arch->hidden + arch->lm_head), with a
 * KV cache.
 *
 * One graph is planned for a single-token step: ids [1,1], its position [1], per layer the
 * cache of earlier keys/values [1, P, kv_width] (inputs, P = positions - 1), and a key mask
 * [1, P+1] marking the filled cache slots and the new token. The builder concatenates each
 * layer's cache with the step's own key/value and hands them out (new_k/new_v, kept), and
 * the loop copies them into the cache inputs at the step's position. So each token costs one
 * step over the cached prefix, and the whole run allocates once. */
#include "models/models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ft_generate_opts ft_generate_defaults(void) {
    ft_generate_opts o = {256, 0.0f, 0, 1.0f, 0, -1};
    return o;
}

typedef ft_prob_id prob_id;
static int by_prob_desc(const void *a, const void *b) {
    const prob_id *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Greedy: the first maximum. Otherwise softmax(logits / T), restricted to the top_k most
 * likely and then to the smallest prefix with mass >= top_p, sampled with PCG32(seed, step). */
int32_t ft_generate_sample(const float *logits, int V, const ft_generate_opts *o, uint64_t step, prob_id *buf) {
    if (o->temperature <= 0.0f) {
        int32_t best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < V; i++) buf[i] = (prob_id){expf((logits[i] - mx) / o->temperature), i};
    int n = V;
    if ((o->top_k > 0 && o->top_k < V) || o->top_p < 1.0f) {
        qsort(buf, (size_t)V, sizeof *buf, by_prob_desc);
        if (o->top_k > 0 && o->top_k < n) n = o->top_k;
    }
    double total = 0;
    for (int i = 0; i < n; i++) total += buf[i].p;
    if (o->top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += buf[i].p;
            if (cum >= o->top_p * total) { n = i + 1; break; }
        }
        total = 0;
        for (int i = 0; i < n; i++) total += buf[i].p;
    }
    ft_pcg32 r;
    ft_pcg32_seed(&r, o->seed, step);
    double u = ft_pcg32_uniform(&r) * total, cum = 0;
    for (int i = 0; i < n; i++) {
        cum += buf[i].p;
        if (u < cum) return buf[i].id;
    }
    return buf[n - 1].id;
}

ft_status ft_generate(ft_model *m, const int32_t *prompt, int n_prompt, const ft_generate_opts *o, int32_t *out,
                      int *n_out, int (*on_token)(void *user, int32_t id), void *user) {
    *n_out = 0;
    ft_generate_opts dflt = ft_generate_defaults();
    if (!o) o = &dflt;
    const ft_seq_info *si = &m->seq;
    if (!m->arch->hidden || !m->arch->lm_head || !si->causal)
        return ft_fail(FT_EUNSUPPORTED, "generate: architecture '%s' is not a decoder language model", m->arch->name);
    if (n_prompt < 1) return ft_fail(FT_EINVAL, "generate: the prompt needs at least one token (e.g. BOS)");
    if (n_prompt > si->max_positions)
        return ft_fail(FT_EINVAL, "generate: the prompt has %d tokens, the model takes at most %d positions", n_prompt,
                       si->max_positions);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= si->vocab_size)
            return ft_fail(FT_EINVAL, "generate: prompt token %d at position %d is outside the vocabulary of %d", prompt[i], i,
                           si->vocab_size);
    if (o->max_tokens < 0) return ft_fail(FT_EINVAL, "generate: max_tokens %d must be >= 0", o->max_tokens);
    if (!(o->temperature >= 0) || !(o->top_p > 0 && o->top_p <= 1) || o->top_k < 0)
        return ft_fail(FT_EINVAL, "generate: temperature must be >= 0, top_p in (0, 1], top_k >= 0");
    if (o->max_tokens == 0) return FT_OK;
    int64_t total = (int64_t)n_prompt + o->max_tokens - 1; /* the last new token is never fed back */
    int C = (int)(total < si->max_positions ? total : si->max_positions); /* positions this run can use */
    int P = C - 1, L = si->n_layers, V = si->vocab_size;
    int64_t kvw = si->kv_width;

    ft_status s = FT_OK;
    ft_graph *g = ft_graph_new(m->params);
    ft_node **nodes = ft_calloc((size_t)L * 4, sizeof *nodes);
    prob_id *buf = ft_malloc((size_t)V * sizeof *buf);
    if (!g || !nodes || !buf) { s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    ft_node **past_k = nodes, **past_v = nodes + L, **new_k = nodes + 2 * L, **new_v = nodes + 3 * L;
    int64_t sh_ids[2] = {1, 1}, sh_pos[1] = {1}, sh_mask[2] = {1, (int64_t)P + 1}, sh_kv[3] = {1, P, kvw};
    ft_seq_batch in = {0};
    in.ids = ft_input(g, "ids", FT_I32, 2, sh_ids);
    in.positions = ft_input(g, "positions", FT_I32, 1, sh_pos);
    in.attn_mask = ft_input(g, "mask", FT_F32, 2, sh_mask);
    if (P > 0) {
        for (int l = 0; l < L; l++) {
            past_k[l] = ft_input(g, "past_k", FT_F32, 3, sh_kv);
            past_v[l] = ft_input(g, "past_v", FT_F32, 3, sh_kv);
        }
        in.past_k = past_k;
        in.past_v = past_v;
    }
    in.new_k = new_k;
    in.new_v = new_v;
    ft_node *logits = m->arch->lm_head(m, g, m->arch->hidden(m, g, &in));
    if ((s = ft_graph_status(g))) goto done;
    ft_node_keep(logits);
    for (int l = 0; l < L && P > 0; l++) { ft_node_keep(new_k[l]); ft_node_keep(new_v[l]); }
    if ((s = ft_graph_plan(g, NULL, false))) goto done;
    /* An input the model never reads has no buffer. Without the key mask the unfilled
     * cache slots would be attended, so that is an error; unused positions are fine. */
    if (!in.attn_mask->val) {
        s = ft_fail(FT_EINVAL, "generate: the %s model ignores the attention mask, which KV-cache decoding needs",
                    m->arch->name);
        goto done;
    }
    float *mask = in.attn_mask->val;
    memset(mask, 0, (size_t)(P + 1) * sizeof *mask);
    mask[P] = 1.0f; /* the new token's own key, concatenated after the cache */
    int32_t token = prompt[0];
    for (int pos = 0; pos < C; pos++) {
        ((int32_t *)in.ids->val)[0] = token;
        if (in.positions->val) ((int32_t *)in.positions->val)[0] = pos;
        if ((s = ft_graph_forward(g))) goto done;
        if (pos < P) { /* cache this position's keys and values */
            for (int l = 0; l < L; l++) {
                memcpy(past_k[l]->val + (int64_t)pos * kvw, new_k[l]->val, (size_t)kvw * sizeof(float));
                memcpy(past_v[l]->val + (int64_t)pos * kvw, new_v[l]->val, (size_t)kvw * sizeof(float));
            }
            mask[pos] = 1.0f;
        }
        if (pos + 1 < n_prompt) { token = prompt[pos + 1]; continue; }
        int32_t next = ft_generate_sample(logits->val, V, o, (uint64_t)*n_out, buf);
        if (next == o->stop_id) break;
        out[(*n_out)++] = next;
        if (on_token && on_token(user, next)) break;
        if (*n_out >= o->max_tokens) break;
        token = next;
    }
done:
    ft_graph_free(g);
    ft_free(nodes);
    ft_free(buf);
    return s;
}
