/* ONNX's own backend node tests (Debian libonnx-testdata:
 * /usr/share/libonnx-testdata/data/node/test_* with model.onnx and test_data_set_0/{input,output}_k.pb)
 * through the importer and the engine. Each case is imported with its first float input as
 * the data input and every other input bound to its test value (ft_onnx_opts.bind_*), run,
 * and each output compared with output_k.pb (|a - b| <= 1e-4 + 1e-3 |b|). A case is
 * "passed", "rejected" (the import refuses it with FT_EUNSUPPORTED and a message: an op or
 * form without a mapping, double/float16/integer/string data, ...) or "failed" (imported but
 * wrong numbers, or an import failure other than FT_EUNSUPPORTED). The test fails on any
 * failed case: what cannot be done exactly must be refused.
 *
 * FT_ONNX_TABLE=path writes the per-op table (docs/onnx.md, scripts/onnx-conformance.sh);
 * FT_ONNX_VERBOSE=1 prints every case. Skips with a message when the data is absent. */
#include "test.h"
#include "models/models.h"
#include "onnx.pb-c.h"
#include "onnx_fd.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"
#define MAX_IO 16

typedef struct {
    char op[96];
    int pass, fail, reject, reject_type, grad;
    int xpass, xrefuse, xfail; /* the export round trip of the passed cases */
} opstat;

/* why exports were refused: the message without its node, with a count and the first case */
typedef struct { char why[200], first[96]; int count; } xreason;
static xreason xreasons[64];
static int n_xreasons;
static char xdir[256];

static opstat stats[512];
static int n_stats;

static opstat *stat_of(const char *op) {
    for (int i = 0; i < n_stats; i++)
        if (!strcmp(stats[i].op, op)) return &stats[i];
    if (n_stats == 512) return &stats[511];
    snprintf(stats[n_stats].op, sizeof stats[n_stats].op, "%s", op);
    return &stats[n_stats++];
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_op(const void *a, const void *b) { return strcmp(((const opstat *)a)->op, ((const opstat *)b)->op); }

typedef struct {
    uint8_t *data;
    size_t size;
    Onnx__TensorProto *t;
} pbfile;

static bool load_pb(const char *path, pbfile *p) {
    memset(p, 0, sizeof *p);
    if (ft_read_file(path, (size_t)1 << 30, &p->data, &p->size)) return false;
    p->t = onnx__tensor_proto__unpack(NULL, p->size, p->data);
    return p->t != NULL;
}

static void free_pb(pbfile *p) {
    if (p->t) onnx__tensor_proto__free_unpacked(p->t, NULL);
    ft_free(p->data);
}

/* the expected values as floats (float, double, bool, int types); NULL when not numeric */
static float *pb_floats(const Onnx__TensorProto *t, int64_t *numel) {
    int64_t n = 1;
    for (size_t k = 0; k < t->n_dims; k++) n *= t->dims[k];
    *numel = n;
    float *f = malloc((size_t)(n ? n : 1) * sizeof(float));
    const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
    size_t rn = t->has_raw_data ? t->raw_data.len : 0;
    for (int64_t i = 0; i < n; i++) {
        double v;
        switch (t->data_type) {
        case 1: if (raw) { if (rn != (size_t)n * 4) goto bad; float x; memcpy(&x, raw + 4 * i, 4); v = x; } else { if (t->n_float_data != (size_t)n) goto bad; v = t->float_data[i]; } break;
        case 11: if (raw) { if (rn != (size_t)n * 8) goto bad; memcpy(&v, raw + 8 * i, 8); } else { if (t->n_double_data != (size_t)n) goto bad; v = t->double_data[i]; } break;
        case 9: case 2: if (raw) { if (rn != (size_t)n) goto bad; v = raw[i]; } else { if (t->n_int32_data != (size_t)n) goto bad; v = t->int32_data[i]; } break;
        case 3: if (raw) { if (rn != (size_t)n) goto bad; v = (int8_t)raw[i]; } else { if (t->n_int32_data != (size_t)n) goto bad; v = t->int32_data[i]; } break;
        case 6: if (raw) { if (rn != (size_t)n * 4) goto bad; int32_t x; memcpy(&x, raw + 4 * i, 4); v = x; } else { if (t->n_int32_data != (size_t)n) goto bad; v = t->int32_data[i]; } break;
        case 7: if (raw) { if (rn != (size_t)n * 8) goto bad; int64_t x; memcpy(&x, raw + 8 * i, 8); v = (double)x; } else { if (t->n_int64_data != (size_t)n) goto bad; v = (double)t->int64_data[i]; } break;
        default: goto bad;
        }
        f[i] = (float)v;
    }
    return f;
bad:
    free(f);
    return NULL;
}

typedef enum { R_PASS, R_FAIL, R_REJECT, R_REJECT_TYPE } result;
typedef enum { X_NONE, X_PASS, X_REFUSE, X_FAIL } xresult;

static bool close_enough(double a, double b) { return (isnan(a) && isnan(b)) || (isinf(b) && a == b) || fabs(a - b) <= 1e-4 + 1e-3 * fabs(b); }

/* The export round trip of a passed case: ft_model_export_onnx (a fixed batch: the data
 * input's dim 0), the file imported again with the same data shape (everything that was
 * bound is in the file now), run, and every output compared with the case's expected ones.
 * X_REFUSE: the export (or the re-import) refuses with FT_EUNSUPPORTED and says why. */
static void keep_case(const char *keep, const char *name, const char *model, const ft_onnx_opts *o, const float *xf, pbfile *out, int n_out);

static xresult export_round_trip(const char *name, ft_model *m, const ft_onnx_opts *o, const float *xf, pbfile *out, int n_out, char *msg,
                                 size_t msglen) {
    char path[600];
    const char *keep = getenv("FT_ONNX_EXPORT_DIR");
    if (keep) snprintf(path, sizeof path, "%s/%s.onnx", keep, name);
    else snprintf(path, sizeof path, "%s/x.onnx", xdir);
    ft_onnx_export_opts eo = ft_onnx_export_defaults();
    eo.batch = (int)o->input_shape[0];
    if (eo.batch == 0) { /* the export's batch 0 means a dynamic one */
        snprintf(msg, msglen, "an empty batch (the data input's dim 0 is 0): export takes a fixed batch >= 1, or a dynamic one");
        return X_REFUSE;
    }
    ft_status s = ft_model_export_onnx(m, path, &eo);
    if (s) {
        snprintf(msg, msglen, "%s", ft_errmsg());
        unlink(path);
        return s == FT_EUNSUPPORTED ? X_REFUSE : X_FAIL;
    }
    ft_onnx_opts o2 = ft_onnx_defaults();
    o2.input_ndim = o->input_ndim;
    memcpy(o2.input_shape, o->input_shape, sizeof o2.input_shape);
    ft_model *m2 = NULL;
    s = ft_import_onnx(path, &o2, &m2);
    if (keep) keep_case(keep, name, path, o, xf, out, n_out);
    else unlink(path);
    if (s) { snprintf(msg, msglen, "re-import: %s", ft_errmsg()); return s == FT_EUNSUPPORTED ? X_REFUSE : X_FAIL; }
    xresult r = X_FAIL;
    ft_graph *g = ft_graph_new(m2->params);
    int64_t shape[FT_MAX_DIMS];
    int64_t xn = 1;
    for (int d = 0; d < o->input_ndim; d++) xn *= (shape[d] = o->input_shape[d]);
    ft_node *x = ft_input(g, "x", FT_F32, o->input_ndim, shape), *outs[MAX_IO];
    int n = ft_graph_model_outputs(m2, g, x, outs, MAX_IO);
    if (n != n_out) { snprintf(msg, msglen, "the exported model has %d outputs, want %d", n, n_out); goto done; }
    for (int k = 0; k < n; k++) ft_node_keep(outs[k]);
    s = ft_graph_plan(g, NULL, false);
    if (!s) s = ft_graph_set_input(g, x, xf, (size_t)xn * 4);
    if (!s) s = ft_graph_forward(g);
    if (s) { snprintf(msg, msglen, "exported model: run: %s", ft_errmsg()); goto done; }
    r = X_PASS;
    for (int k = 0; k < n && r == X_PASS; k++) {
        int64_t wn = 0;
        float *want = pb_floats(out[k].t, &wn);
        if (!want || wn != outs[k]->numel) {
            snprintf(msg, msglen, "exported model: output %d has %lld values, want %lld", k, (long long)outs[k]->numel, (long long)wn);
            r = X_FAIL;
        }
        for (int64_t i = 0; r == X_PASS && i < wn; i++)
            if (!close_enough(outs[k]->val[i], want[i])) {
                snprintf(msg, msglen, "exported model: output %d [%lld]: %g, want %g", k, (long long)i, outs[k]->val[i], want[i]);
                r = X_FAIL;
            }
        free(want);
    }
done:
    ft_graph_free(g);
    ft_model_free(m2);
    return r;
}

/* FT_ONNX_EXPORT_DIR (scripts/onnx-export-ort.js, dev-only): keep the exported model with
 * its data input and expected outputs as raw float32 files and a JSON line of shapes. */
static void keep_case(const char *keep, const char *name, const char *model, const ft_onnx_opts *o, const float *xf, pbfile *out, int n_out) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s.json", keep, name);
    FILE *j = fopen(path, "w");
    if (!j) return;
    int64_t xn = 1;
    fprintf(j, "{\"model\": \"%s\", \"input_shape\": [", model);
    for (int d = 0; d < o->input_ndim; d++) { fprintf(j, "%s%lld", d ? ", " : "", (long long)o->input_shape[d]); xn *= o->input_shape[d]; }
    fprintf(j, "], \"outputs\": [");
    snprintf(path, sizeof path, "%s/%s.x.bin", keep, name);
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(xf, 4, (size_t)xn, f); fclose(f); }
    for (int k = 0; k < n_out; k++) {
        int64_t wn = 0;
        float *want = pb_floats(out[k].t, &wn);
        snprintf(path, sizeof path, "%s/%s.y%d.bin", keep, name, k);
        if (want && (f = fopen(path, "wb"))) { fwrite(want, 4, (size_t)wn, f); fclose(f); }
        fprintf(j, "%s%lld", k ? ", " : "", (long long)wn);
        free(want);
    }
    fprintf(j, "]}\n");
    fclose(j);
}

static void note_refusal(const char *msg, const char *name) {
    const char *why = strstr(msg, "(op ");
    if (!why) why = !strncmp(msg, "ONNX export: ", 13) ? msg + 13 : msg;
    for (int i = 0; i < n_xreasons; i++)
        if (!strncmp(xreasons[i].why, why, sizeof xreasons[i].why - 1)) { xreasons[i].count++; return; }
    if (n_xreasons == 64) return;
    snprintf(xreasons[n_xreasons].why, sizeof xreasons[n_xreasons].why, "%.199s", why);
    snprintf(xreasons[n_xreasons].first, sizeof xreasons[n_xreasons].first, "%s", name);
    xreasons[n_xreasons++].count = 1;
}

/* One case. msg receives a line on failure or rejection. */
static result run_case(const char *dir, const char *name, char *msg, size_t msglen, int *fd_entries, xresult *xr, char *xmsg, size_t xmsglen,
                       bool *f32) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t msize = 0;
    uint8_t *mdata = NULL;
    if (ft_read_file(path, (size_t)1 << 30, &mdata, &msize)) { snprintf(msg, msglen, "unreadable model"); return R_FAIL; }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, msize, mdata);
    if (!mp || !mp->graph) {
        ft_free(mdata);
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        snprintf(msg, msglen, "protobuf-c cannot read the model");
        return R_FAIL;
    }
    const Onnx__GraphProto *g = mp->graph;
    result r = R_FAIL;
    pbfile in[MAX_IO], out[MAX_IO];
    int n_in = 0, n_out = 0;
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    ft_model *m = NULL;
    ft_graph *gr = NULL;
    const char *bind_names[MAX_IO];
    const uint8_t *bind_data[MAX_IO];
    size_t bind_sizes[MAX_IO];
    int n_bind = 0, data_k = -1;
    /* the graph inputs without an initializer, in order, match input_k.pb */
    int gi[MAX_IO], n_gi = 0;
    for (size_t k = 0; k < g->n_input && n_gi < MAX_IO; k++) {
        bool is_init = false;
        for (size_t j = 0; j < g->n_initializer; j++) is_init |= g->initializer[j]->name && !strcmp(g->initializer[j]->name, g->input[k]->name);
        if (!is_init) gi[n_gi++] = (int)k;
    }
    for (int k = 0; k < n_gi; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k);
        if (!load_pb(path, &in[k])) { free_pb(&in[k]); snprintf(msg, msglen, "input %d is not a tensor (sequence/optional inputs)", k); r = R_REJECT_TYPE; goto done; }
        n_in = k + 1;
    }
    for (int k = 0; k < (int)g->n_output && k < MAX_IO; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, k);
        if (!load_pb(path, &out[k])) { free_pb(&out[k]); snprintf(msg, msglen, "output %d is not a tensor", k); r = R_REJECT_TYPE; goto done; }
        n_out = k + 1;
    }
    for (int k = 0; k < n_in; k++)
        if (in[k].t->data_type == 1 && data_k < 0) data_k = k;
    /* a float32 case: a float32 input, the first input float32 (or a bool condition), and
     * every other tensor in or out float32, or an integer or bool (indices, shapes, axes, a
     * mask); no double, float16, bfloat16, string or 8/16-bit data, no integer base */
    *f32 = data_k >= 0 && (in[0].t->data_type == 1 || in[0].t->data_type == 9);
    for (int k = 0; k < n_in + n_out; k++) {
        int t = (k < n_in ? in[k].t : out[k - n_in].t)->data_type;
        *f32 &= t == 1 || t == 6 || t == 7 || t == 9;
    }
    if (data_k < 0) {
        snprintf(msg, msglen, "no float32 input (types: %d)", n_in ? in[0].t->data_type : -1);
        r = R_REJECT_TYPE;
        goto done;
    }
    for (int k = 0; k < n_in; k++) {
        if (k == data_k) continue;
        bind_names[n_bind] = g->input[gi[k]]->name;
        bind_data[n_bind] = in[k].data;
        bind_sizes[n_bind++] = in[k].size;
    }
    ft_onnx_opts o = ft_onnx_defaults();
    o.input = g->input[gi[data_k]]->name;
    o.input_ndim = (int)in[data_k].t->n_dims;
    if (o.input_ndim > FT_MAX_DIMS || o.input_ndim < 1) {
        snprintf(msg, msglen, "data input of rank %d", o.input_ndim);
        r = R_REJECT;
        goto done;
    }
    for (int d = 0; d < o.input_ndim; d++) o.input_shape[d] = in[data_k].t->dims[d];
    o.n_bind = n_bind;
    o.bind_names = bind_names;
    o.bind_data = bind_data;
    o.bind_sizes = bind_sizes;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    ft_status s = ft_import_onnx_mem(mdata, msize, path, &o, &m);
    if (s) {
        snprintf(msg, msglen, "%s", ft_errmsg());
        bool typ = strstr(msg, "type ") || strstr(msg, " double") || strstr(msg, "float16") || strstr(msg, "string") ||
                   strstr(msg, "int64") || strstr(msg, "int32") || strstr(msg, "uint8") || strstr(msg, "int8") || strstr(msg, "bool") ||
                   strstr(msg, "is not a tensor");
        r = s == FT_EUNSUPPORTED ? (typ ? R_REJECT_TYPE : R_REJECT) : R_FAIL;
        if (s == FT_EINVAL && strstr(msg, "dims in the file")) r = R_REJECT; /* the test data's shape is not the declared one */
        goto done;
    }
    /* run */
    gr = ft_graph_new(m->params);
    int64_t shape[FT_MAX_DIMS];
    for (int d = 0; d < o.input_ndim; d++) shape[d] = o.input_shape[d];
    ft_node *x = ft_input(gr, "x", FT_F32, o.input_ndim, shape), *outs[MAX_IO];
    int n = ft_graph_model_outputs(m, gr, x, outs, MAX_IO);
    if (n != n_out) { snprintf(msg, msglen, "%d outputs, want %d (%s)", n, n_out, ft_errmsg()); goto done; }
    for (int k = 0; k < n; k++) ft_node_keep(outs[k]);
    int64_t xn = 0;
    float *xf = pb_floats(in[data_k].t, &xn);
    s = xf ? ft_graph_plan(gr, NULL, false) : FT_EFORMAT;
    if (!s) s = ft_graph_set_input(gr, x, xf, (size_t)xn * 4);
    if (!s) s = ft_graph_forward(gr);
    if (s) { free(xf); snprintf(msg, msglen, "run: %s", ft_errmsg()); goto done; }
    r = R_PASS;
    for (int k = 0; k < n && r == R_PASS; k++) {
        int64_t wn = 0;
        float *want = pb_floats(out[k].t, &wn);
        if (!want) { snprintf(msg, msglen, "output %d has type %d", k, out[k].t->data_type); r = R_REJECT_TYPE; break; }
        bool same_shape = wn != 0; /* an empty output (a 0-size dim) must have the expected shape: its values say nothing */
        if (wn == 0) {
            same_shape = outs[k]->ndim == (int)out[k].t->n_dims;
            for (int d = 0; same_shape && d < outs[k]->ndim; d++) same_shape = outs[k]->shape[d] == out[k].t->dims[d];
        }
        if (wn != outs[k]->numel || !same_shape) {
            char sh[96] = "[";
            for (int d = 0; d < outs[k]->ndim; d++)
                snprintf(sh + strlen(sh), sizeof sh - strlen(sh), d ? ",%lld" : "%lld", (long long)outs[k]->shape[d]);
            strcat(sh, "]");
            snprintf(msg, msglen, "output %d has %lld values %s, want %lld", k, (long long)outs[k]->numel, sh, (long long)wn);
            r = R_FAIL;
        } else {
            for (int64_t i = 0; i < wn; i++) {
                double a = outs[k]->val[i], b = want[i];
                bool ok = (isnan(a) && isnan(b)) || (isinf(b) && a == b) || fabs(a - b) <= 1e-4 + 1e-3 * fabs(b);
                if (!ok) {
                    snprintf(msg, msglen, "output %d [%lld]: %g, want %g", k, (long long)i, a, b);
                    r = R_FAIL;
                    break;
                }
            }
        }
        free(want);
    }
    if (r == R_PASS && (*fd_entries = onnx_fd_check(m, o.input_ndim, shape, xf, msg, msglen)) < 0) r = R_FAIL;
    if (r == R_PASS) *xr = export_round_trip(name, m, &o, xf, out, n_out, xmsg, xmsglen);
    free(xf);
done:
    if (gr) ft_graph_free(gr);
    ft_model_free(m);
    for (int k = 0; k < n_in; k++) free_pb(&in[k]);
    for (int k = 0; k < n_out; k++) free_pb(&out[k]);
    onnx__model_proto__free_unpacked(mp, NULL);
    ft_free(mdata);
    return r;
}

/* the op a case tests: its node's op type, or the name's for a multi-node graph */
static void case_op(const char *dir, const char *name, char *op, size_t n) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t size = 0;
    uint8_t *data = NULL;
    snprintf(op, n, "?");
    if (ft_read_file(path, (size_t)1 << 30, &data, &size)) return;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (mp && mp->graph && mp->graph->n_node >= 1) {
        const Onnx__GraphProto *g = mp->graph;
        bool same = true;
        for (size_t k = 1; k < g->n_node; k++) same &= !strcmp(g->node[k]->op_type, g->node[0]->op_type);
        if (same) snprintf(op, n, "%s", g->node[0]->op_type);
        else if (strstr(name, "_expanded")) snprintf(op, n, "(function bodies: *_expanded)");
        else snprintf(op, n, "(multi-node graphs)");
    }
    if (mp) onnx__model_proto__free_unpacked(mp, NULL);
    ft_free(data);
}

int main(void) {
    DIR *d = opendir(NODE_DIR);
    if (!d) {
        printf("SKIP ONNX conformance: %s not found (Debian package libonnx-testdata)\n", NODE_DIR);
        TEST_END();
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "test_", 5)) continue;
        if (n == cap) { cap = cap ? cap * 2 : 1024; names = realloc(names, (size_t)cap * sizeof *names); }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    bool verbose = getenv("FT_ONNX_VERBOSE") != NULL;
    result *res = calloc((size_t)(n ? n : 1), sizeof *res);
    char **msgs = calloc((size_t)(n ? n : 1), sizeof *msgs);
    bool *f32s = calloc((size_t)(n ? n : 1), sizeof *f32s);
    char (*ops)[96] = calloc((size_t)(n ? n : 1), sizeof *ops);
    int tot[4] = {0}, xtot[4] = {0}, n_grad = 0;
    snprintf(xdir, sizeof xdir, "%s/ft_onnx_conf_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(xdir)) { perror("mkdtemp"); return 1; }
    long fd_total = 0;
    for (int i = 0; i < n; i++) {
        char dir[512], op[96], msg[600] = "", xmsg[600] = "";
        snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, names[i]);
        case_op(dir, names[i], op, sizeof op);
        int fd_entries = 0;
        xresult xr = X_NONE;
        bool f32 = false;
        result r = run_case(dir, names[i], msg, sizeof msg, &fd_entries, &xr, xmsg, sizeof xmsg, &f32);
        f32s[i] = f32;
        snprintf(ops[i], sizeof ops[i], "%s", op);
        res[i] = r;
        msgs[i] = strdup(msg);
        opstat *st = stat_of(op);
        tot[r]++;
        if (r == R_PASS && fd_entries > 0) { st->grad++; n_grad++; fd_total += fd_entries; }
        if (r == R_PASS) st->pass++;
        else if (r == R_FAIL) st->fail++;
        else if (r == R_REJECT) st->reject++;
        else st->reject_type++;
        if (xr == X_PASS) { st->xpass++; xtot[X_PASS]++; }
        if (xr == X_REFUSE) { st->xrefuse++; xtot[X_REFUSE]++; note_refusal(xmsg, names[i]); }
        if (xr == X_FAIL) { st->xfail++; xtot[X_FAIL]++; fprintf(stderr, "  EXPORT FAILED %s (%s): %s\n", names[i], op, xmsg); }
        if (verbose && xr == X_REFUSE) printf("  export refused %s (%s): %s\n", names[i], op, xmsg);
        if (r == R_FAIL) fprintf(stderr, "  FAILED %s (%s): %s\n", names[i], op, msg);
        else if (verbose && r == R_PASS) printf("  pass     %s (%s): %d gradient entries checked\n", names[i], op, fd_entries);
        else if (verbose) printf("  rejected %s (%s): %s\n", names[i], op, msg);
    }
    printf("ONNX node tests: %d cases: %d passed, %d failed, %d rejected (%d of them for their data types)\n", n, tot[R_PASS], tot[R_FAIL],
           tot[R_REJECT] + tot[R_REJECT_TYPE], tot[R_REJECT_TYPE]);
    printf("gradients: %d passed cases checked by finite differences (%ld entries); the others have no differentiable path to their outputs (comparisons)\n", n_grad,
           fd_total);
    printf("export round trip (ft_model_export_onnx, imported again, run): %d of the %d passed cases give the expected outputs, %d refused by export, %d wrong\n",
           xtot[X_PASS], tot[R_PASS], xtot[X_REFUSE], xtot[X_FAIL]);
    for (int i = 0; i < n_xreasons; i++) printf("  export refused %d: %s (first: %s)\n", xreasons[i].count, xreasons[i].why, xreasons[i].first);
    rmdir(xdir);
    CHECKF(tot[R_FAIL] == 0, "%d cases imported but gave wrong numbers, wrong gradients or failed unclearly", tot[R_FAIL]);
    CHECKF(xtot[X_FAIL] == 0, "%d exported cases gave wrong numbers or failed unclearly", xtot[X_FAIL]);
    CHECK(xtot[X_PASS] + xtot[X_REFUSE] == tot[R_PASS]);
    CHECK(xtot[X_PASS] > 0);
    CHECK(tot[R_PASS] > 0);
    /* every passing float32 case of the ops issue #5 lists (single-node cases), which must keep passing */
    static const char *const must_pass[] = {
        "test_add", "test_add_bcast", "test_averagepool_1d_default", "test_averagepool_2d_ceil", "test_averagepool_2d_default",
        "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad", "test_averagepool_2d_precomputed_pads",
        "test_averagepool_2d_precomputed_pads_count_include_pad", "test_averagepool_2d_precomputed_same_upper",
        "test_averagepool_2d_precomputed_strides", "test_averagepool_2d_same_lower", "test_averagepool_2d_same_upper", "test_averagepool_2d_strides",
        "test_averagepool_3d_default", "test_batchnorm_epsilon", "test_batchnorm_epsilon_training_mode", "test_batchnorm_example",
        "test_batchnorm_example_training_mode", "test_castlike_DOUBLE_to_FLOAT_expanded", "test_castlike_FLOAT16_to_FLOAT_expanded", "test_clip",
        "test_clip_default_inbounds", "test_clip_default_max", "test_clip_default_min", "test_clip_example", "test_clip_inbounds",
        "test_clip_outbounds", "test_clip_splitbounds", "test_constant_pad", "test_convtranspose", "test_convtranspose_1d", "test_convtranspose_3d",
        "test_convtranspose_autopad_same", "test_convtranspose_dilations", "test_convtranspose_kernel_shape", "test_convtranspose_output_shape",
        "test_convtranspose_pad", "test_convtranspose_pads", "test_convtranspose_with_kernel", "test_div", "test_div_bcast", "test_div_example",
        "test_dropout_default", "test_dropout_default_mask", "test_dropout_default_mask_ratio", "test_dropout_default_old",
        "test_dropout_default_ratio", "test_dropout_random_old", "test_globalaveragepool", "test_globalaveragepool_precomputed", "test_hardsigmoid",
        "test_hardsigmoid_default", "test_hardsigmoid_example", "test_identity", "test_lstm_batchwise", "test_lstm_defaults",
        "test_lstm_with_initial_bias", "test_lstm_with_peepholes", "test_max_example", "test_max_float32", "test_max_one_input",
        "test_max_two_inputs", "test_maxpool_1d_default", "test_maxpool_2d_ceil", "test_maxpool_2d_default", "test_maxpool_2d_dilations",
        "test_maxpool_2d_pads", "test_maxpool_2d_precomputed_pads", "test_maxpool_2d_precomputed_same_upper", "test_maxpool_2d_precomputed_strides",
        "test_maxpool_2d_same_lower", "test_maxpool_2d_same_upper", "test_maxpool_2d_strides", "test_maxpool_3d_default",
        "test_maxpool_with_argmax_2d_precomputed_pads", "test_maxpool_with_argmax_2d_precomputed_strides", "test_min_example", "test_min_float32",
        "test_min_one_input", "test_min_two_inputs", "test_mul", "test_mul_bcast", "test_mul_example", "test_pow", "test_pow_bcast_array",
        "test_pow_bcast_scalar", "test_pow_example", "test_pow_types_float32_int32", "test_pow_types_float32_int64", "test_pow_types_float32_uint32",
        "test_pow_types_float32_uint64", "test_pow_types_int", "test_reshape_extended_dims", "test_reshape_negative_dim",
        "test_reshape_negative_extended_dims", "test_reshape_one_dim", "test_reshape_allowzero_reordered", "test_split_zero_size_splits",
        "test_slice_start_out_of_bounds", "test_reshape_reduced_dims", "test_reshape_reordered_all_dims",
        "test_reshape_reordered_last_dims", "test_reshape_zero_and_negative_dim", "test_reshape_zero_dim", "test_slice", "test_slice_default_axes",
        "test_slice_default_steps", "test_slice_end_out_of_bounds", "test_slice_neg", "test_slice_neg_steps", "test_slice_negative_axes",
        "test_split_equal_parts_1d", "test_split_equal_parts_2d", "test_split_equal_parts_default_axis", "test_split_variable_parts_1d",
        "test_split_variable_parts_2d", "test_split_variable_parts_default_axis", "test_sub", "test_sub_bcast", "test_sub_example",
        "test_training_dropout_zero_ratio", "test_training_dropout_zero_ratio_mask", "test_where_example",
    };
    for (size_t k = 0; k < sizeof must_pass / sizeof must_pass[0]; k++) {
        int at = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], must_pass[k])) at = i;
        if (at < 0) continue; /* not in this version of the data */
        CHECKF(res[at] == R_PASS, "%s no longer passes", must_pass[k]);
    }
    /* Derived: every float32 case (run_case) of an op issue #5 lists must pass, unless it is
     * one of the justified exceptions below, each with the reason its message must give. A
     * new case in the data is held to the same rule without being named. */
    static const char *const listed[] = {
        "Conv", "ConvTranspose", "BatchNormalization", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
        "Tanh", "Erf", "Gelu", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Pow",
        "Sqrt", "Neg", "Exp", "Log", "Abs", "Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "Squeeze", "Unsqueeze",
        "Gather", "Expand", "Pad", "Softmax", "LogSoftmax", "ReduceMean", "ReduceSum", "ReduceMax", "LayerNormalization", "LSTM",
        "GRU", "Shape", "Constant", "Cast", "Identity", "Dropout", "Where", "Equal", "Max", "Min", "GreaterOrEqual",
        "ConstantOfShape", "If",
    };
    static const struct { const char *name, *why; } excused[] = {
        /* Dropout in training mode with a ratio above 0: the expected outputs were drawn with
         * the reference implementation's random mask (NumPy's generator), which no other
         * runtime reproduces (ratio 0 passes: test_training_dropout_zero_ratio*) */
        {"test_training_dropout", "random mask"}, {"test_training_dropout_default", "random mask"},
        {"test_training_dropout_default_mask", "random mask"}, {"test_training_dropout_mask", "random mask"},
        /* Identity of a sequence: its input is a tensor sequence, not a tensor */
        {"test_identity_sequence", "is not a tensor"},
    };
    int n_listed = 0, n_listed_pass = 0;
    for (int i = 0; i < n; i++) {
        /* a function body (test_X_expanded) counts for the op of test_X */
        const char *op = ops[i];
        size_t len = strlen(names[i]);
        if (op[0] == '(' && len > 9 && !strcmp(names[i] + len - 9, "_expanded"))
            for (int j = 0; j < n; j++)
                if (strlen(names[j]) == len - 9 && !strncmp(names[j], names[i], len - 9)) op = ops[j];
        bool is_listed = false;
        for (size_t k = 0; k < sizeof listed / sizeof listed[0]; k++) is_listed |= !strcmp(op, listed[k]);
        if (!is_listed || !f32s[i]) continue;
        n_listed++;
        n_listed_pass += res[i] == R_PASS;
        const char *why = NULL;
        for (size_t k = 0; k < sizeof excused / sizeof excused[0]; k++)
            if (!strcmp(names[i], excused[k].name)) why = excused[k].why;
        if (why) CHECKF(res[i] != R_FAIL && strstr(msgs[i], why), "%s (%s): excused for '%s', but: %s", names[i], op, why, res[i] == R_PASS ? "it passes now (drop it from the exceptions)" : msgs[i]);
        else CHECKF(res[i] == R_PASS, "%s (%s), a float32 case of an op issue #5 lists, does not pass: %s", names[i], op, msgs[i]);
    }
    printf("the ops issue #5 lists: %d of their %d float32 cases pass (%d justified exceptions)\n", n_listed_pass, n_listed, (int)(sizeof excused / sizeof excused[0]));
    CHECK(n_listed_pass > 0);
    const char *table = getenv("FT_ONNX_TABLE");
    qsort(stats, (size_t)n_stats, sizeof stats[0], cmp_op);
    if (table) {
        FILE *f = fopen(table, "w");
        if (f) {
            fprintf(f, "| op | passed / cases | gradient checked | rejected (data types) | rejected (other) | failed | exported: round trip passed / refused |\n|---|---|---|---|---|---|---|\n");
            for (int i = 0; i < n_stats; i++) {
                opstat *s = &stats[i];
                if (s->op[0] == '(') continue;
                fprintf(f, "| %s | %d / %d | %d | %d | %d | %d | %d / %d |\n", s->op, s->pass, s->pass + s->fail + s->reject + s->reject_type, s->grad, s->reject_type, s->reject, s->fail, s->xpass, s->xrefuse);
            }
            for (int i = 0; i < n_stats; i++) {
                opstat *s = &stats[i];
                if (s->op[0] != '(') continue;
                fprintf(f, "| %s | %d / %d | %d | %d | %d | %d | %d / %d |\n", s->op, s->pass, s->pass + s->fail + s->reject + s->reject_type, s->grad, s->reject_type, s->reject, s->fail, s->xpass, s->xrefuse);
            }
            fprintf(f, "| **all** | **%d / %d** | %d | %d | %d | %d | %d / %d |\n", tot[R_PASS], n, n_grad, tot[R_REJECT_TYPE], tot[R_REJECT], tot[R_FAIL], xtot[X_PASS], xtot[X_REFUSE]);
            if (n_xreasons) fprintf(f, "\nWhy `ft_model_export_onnx` refused the other passed cases (cases, the first of them):\n\n");
            for (int i = 0; i < n_xreasons; i++) fprintf(f, "- %s: %d (`%s`)\n", xreasons[i].why, xreasons[i].count, xreasons[i].first);
            fclose(f);
        }
    }
    for (int i = 0; i < n; i++) { free(names[i]); free(msgs[i]); }
    free(names);
    free(f32s);
    free(ops);
    free(res);
    free(msgs);
    TEST_END();
}
