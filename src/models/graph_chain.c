/* Chaining two "graph" models into one: the first model's output, through optional glue
 * nodes, becomes the second model's input; optional tail nodes follow the second. The result
 * is an ordinary graph model (one config, one parameter store), so the feature cache, globs,
 * checkpoints and export work on it unchanged. Built for audio front ends: a mel-spectrogram
 * network feeding a speech-embedding network (docs/speech.md). */
#include "finetune/model.h"
#include "finetune/io.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "<prefix>.<name>", or name when prefix is empty. */
static json_t *pname(const char *prefix, const char *name) {
    if (!prefix || !*prefix) return json_string(name);
    size_t n = strlen(prefix) + strlen(name) + 2;
    char *b = malloc(n);
    if (!b) return NULL;
    snprintf(b, n, "%s.%s", prefix, name);
    json_t *j = json_string(b);
    free(b);
    return j;
}

static const char *jstr(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/* The graph config of m, parsed. */
static ft_status load_cfg(const ft_model *m, const char *what, json_t **out) {
    *out = NULL;
    if (!m->arch || strcmp(m->arch->name, "graph"))
        return ft_fail(FT_EUNSUPPORTED, "chain: the %s model is a %s model; only graph models (imported or written as a "
                       "graph config) chain", what, m->arch ? m->arch->name : "?");
    json_error_t err;
    json_t *root = json_loads(m->config_json, 0, &err);
    if (!root || !json_is_object(root) || !json_is_array(json_object_get(root, "nodes"))) {
        json_decref(root);
        return ft_fail(FT_EFORMAT, "chain: the %s model's config is not a graph config", what);
    }
    *out = root;
    return FT_OK;
}

/* The name of a graph config's output node (its "output", else its last node). */
static const char *output_of(json_t *cfg) {
    const char *o = jstr(cfg, "output");
    if (o) return o;
    json_t *nodes = json_object_get(cfg, "nodes");
    return jstr(json_array_get(nodes, json_array_size(nodes) - 1), "name");
}

static const char *input_of(json_t *cfg) {
    const char *n = jstr(json_object_get(cfg, "input"), "name");
    return n ? n : "input";
}

/* Append cfg's params and nodes to (params, nodes) with names prefixed; the node input named
 * `in_name` is read from `feed` instead (NULL: keep it, unprefixed: the chain's input). */
static ft_status append_model(json_t *cfg, const char *prefix, const char *in_name, const char *feed, json_t *params,
                              json_t *nodes) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(cfg, "params"), i, p) {
        json_t *q = json_deep_copy(p);
        const char *name = jstr(p, "name");
        if (!q || !name) { json_decref(q); return ft_fail(FT_EFORMAT, "chain: a param without a name"); }
        json_object_set_new(q, "name", pname(prefix, name));
        json_array_append_new(params, q);
    }
    json_t *n;
    json_array_foreach(json_object_get(cfg, "nodes"), i, n) {
        json_t *q = json_deep_copy(n);
        const char *name = jstr(n, "name");
        if (!q || !name) { json_decref(q); return ft_fail(FT_EFORMAT, "chain: a node without a name"); }
        json_object_set_new(q, "name", pname(prefix, name));
        json_t *ins = json_object_get(q, "inputs"), *v;
        size_t j;
        json_array_foreach(ins, j, v) {
            const char *s = json_string_value(v);
            if (!s) continue;
            if (!strcmp(s, in_name)) json_array_set_new(ins, j, feed ? json_string(feed) : json_string(s));
            else json_array_set_new(ins, j, pname(prefix, s));
        }
        json_t *ps = json_object_get(q, "params");
        json_array_foreach(ps, j, v) {
            if (json_string_value(v)) json_array_set_new(ps, j, pname(prefix, json_string_value(v)));
        }
        json_array_append_new(nodes, q);
    }
    return FT_OK;
}

/* Append glue nodes (a JSON array text), their input `alias` read from `feed`. Returns the
 * name of the last glue node through *last (unchanged when there are none). */
static ft_status append_glue(const char *text, const char *what, const char *alias, const char *feed, json_t *nodes,
                             const char **last) {
    if (!text || !*text) return FT_OK;
    json_error_t err;
    json_t *g = json_loads(text, 0, &err);
    if (!g || !json_is_array(g)) {
        json_decref(g);
        return ft_fail(FT_EFORMAT, "chain: %s nodes are not a JSON array of graph nodes: %s", what, g ? "not an array" : err.text);
    }
    size_t i;
    json_t *n;
    json_array_foreach(g, i, n) {
        json_t *ins = json_object_get(n, "inputs"), *v;
        size_t j;
        json_array_foreach(ins, j, v) {
            if (json_string_value(v) && !strcmp(json_string_value(v), alias)) json_array_set_new(ins, j, json_string(feed));
        }
        json_array_append(nodes, n);
    }
    json_t *lastn = json_array_get(nodes, json_array_size(nodes) - 1);
    if (json_array_size(g)) *last = jstr(lastn, "name");
    json_decref(g);
    if (json_array_size(g) && !*last) return ft_fail(FT_EFORMAT, "chain: a %s node has no name", what);
    return FT_OK;
}

static ft_status copy_values(const ft_model *src, const char *prefix, ft_model *dst) {
    for (int i = 0; i < src->params->n; i++) {
        const ft_param_info *p = &src->params->p[i];
        char name[1024];
        if (prefix && *prefix) snprintf(name, sizeof name, "%s.%s", prefix, p->name);
        else snprintf(name, sizeof name, "%s", p->name);
        int j = ft_params_find(dst->params, name);
        if (j < 0 || dst->params->p[j].numel != p->numel)
            return ft_fail(FT_EINVAL, "chain: parameter '%s' did not carry over", name);
        memcpy(ft_params_value(dst->params, j), ft_params_value(src->params, i), (size_t)p->numel * sizeof(float));
    }
    return FT_OK;
}

ft_status ft_model_chain(const ft_model *first, const ft_model *second, const ft_chain_opts *o, ft_model **out) {
    *out = NULL;
    ft_chain_opts d = {0};
    if (!o) o = &d;
    json_t *a = NULL, *b = NULL, *root = NULL;
    char *text = NULL;
    ft_status s;
    if ((s = load_cfg(first, "first", &a)) || (s = load_cfg(second, "second", &b))) goto done;
    const char *pa = o->first_prefix, *pb = o->second_prefix;
    if ((!pa || !*pa) && (!pb || !*pb)) {
        s = ft_fail(FT_EINVAL, "chain: give at least one of the models a name prefix (their names may clash)");
        goto done;
    }
    root = json_object();
    json_t *params = json_array(), *nodes = json_array();
    json_object_set_new(root, "arch", json_string("graph"));
    json_object_set(root, "input", json_object_get(a, "input") ? json_object_get(a, "input") : json_object());
    json_object_set_new(root, "params", params);
    json_object_set_new(root, "nodes", nodes);
    /* first: its input stays the chain's input, unprefixed */
    if ((s = append_model(a, pa, input_of(a), NULL, params, nodes))) goto done;
    json_t *a_out_j = pname(pa, output_of(a));
    char a_out[1024];
    snprintf(a_out, sizeof a_out, "%s", json_string_value(a_out_j));
    json_decref(a_out_j);
    const char *feed = a_out;
    if ((s = append_glue(o->glue, "glue", "first", a_out, nodes, &feed))) goto done;
    char feed_b[1024];
    snprintf(feed_b, sizeof feed_b, "%s", feed);
    if ((s = append_model(b, pb, input_of(b), feed_b, params, nodes))) goto done;
    json_t *b_out_j = pname(pb, output_of(b));
    char b_out[1024];
    snprintf(b_out, sizeof b_out, "%s", json_string_value(b_out_j));
    json_decref(b_out_j);
    const char *last = b_out;
    if ((s = append_glue(o->tail, "tail", "second", b_out, nodes, &last))) goto done;
    json_object_set_new(root, "output", json_string(last));
    /* the second model's head stays the head when nothing follows it */
    json_t *head = json_object_get(b, "head");
    if (head && !(o->tail && *o->tail)) {
        json_t *h = json_object(), *hp = json_array(), *v;
        size_t j;
        json_object_set_new(h, "node", pname(pb, jstr(head, "node") ? jstr(head, "node") : ""));
        json_array_foreach(json_object_get(head, "params"), j, v) {
            if (json_string_value(v)) json_array_append_new(hp, pname(pb, json_string_value(v)));
        }
        json_object_set_new(h, "params", hp);
        json_object_set_new(root, "head", h);
    }
    if (json_object_get(b, "n_classes") && !(o->tail && *o->tail)) json_object_set(root, "n_classes", json_object_get(b, "n_classes"));
    /* preprocessing is the first model's (it reads the input); class names the second's */
    json_t *pre = json_deep_copy(json_object_get(a, "preprocess") ? json_object_get(a, "preprocess") : json_object());
    if (json_is_object(pre)) {
        json_object_del(pre, "labels");
        json_t *lb = json_object_get(json_object_get(b, "preprocess"), "labels");
        if (lb && !(o->tail && *o->tail)) json_object_set(pre, "labels", lb);
        json_object_set_new(root, "preprocess", pre);
    } else {
        json_decref(pre);
    }
    json_t *src = json_object();
    json_object_set_new(src, "format", json_string("chain"));
    json_object_set_new(src, "first_prefix", json_string(pa ? pa : ""));
    json_object_set_new(src, "second_prefix", json_string(pb ? pb : ""));
    if (json_object_get(a, "source")) json_object_set(src, "first", json_object_get(a, "source"));
    if (json_object_get(b, "source")) json_object_set(src, "second", json_object_get(b, "source"));
    json_object_set_new(root, "source", src);
    char *t = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (!t || !(text = ft_strdup(t))) { free(t); s = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    free(t);
    ft_model *m = NULL;
    if ((s = ft_model_from_config(text, &m))) {
        ft_fail_context(s, "chain");
        goto done;
    }
    if ((s = copy_values(first, pa, m)) || (s = copy_values(second, pb, m))) { ft_model_free(m); goto done; }
    *out = m;
done:
    ft_free(text);
    json_decref(a);
    json_decref(b);
    json_decref(root);
    return s;
}
