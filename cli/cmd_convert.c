/* finetune convert: import a model from another format (TFLite, TF.js layers, ONNX) into a model
 * directory (config.json + model.safetensors), so fine-tuning never parses it again. */
#include "cli.h"
#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "1,16000" -> shape; false on a bad list */
static bool parse_shape(const char *s, ft_onnx_opts *o) {
    o->input_ndim = 0;
    while (*s) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 1 || o->input_ndim == FT_MAX_DIMS) return false;
        o->input_shape[o->input_ndim++] = v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return false;
    }
    return o->input_ndim > 0;
}

#define MAX_BINDS 16

/* --bind NAME=V[,V...] (repeatable): the values parsed into vals (ft_malloc'd); false with
 * a message on a bad one. */
static bool parse_bind(const char *spec, char **name, double **vals, int *count) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        fprintf(stderr, "finetune convert: --bind wants NAME=V[,V...], e.g. sr=16000 (got '%s')\n", spec);
        return false;
    }
    int n = 1;
    for (const char *q = eq + 1; *q; q++) n += *q == ',';
    *name = ft_malloc((size_t)(eq - spec) + 1);
    *vals = ft_malloc((size_t)n * sizeof **vals);
    if (!*name || !*vals) { fprintf(stderr, "finetune convert: out of memory\n"); return false; }
    memcpy(*name, spec, (size_t)(eq - spec));
    (*name)[eq - spec] = 0;
    const char *q = eq + 1;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        double v = strtod(q, &end);
        if (end == q || errno || (*end && *end != ',')) {
            fprintf(stderr, "finetune convert: --bind %s: value %d is not a number (got '%s')\n", *name, i + 1, spec);
            return false;
        }
        (*vals)[i] = v;
        q = *end ? end + 1 : end;
    }
    *count = n;
    return true;
}

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *labels = NULL, *input_shape = NULL, *cut = NULL, *bind = NULL;
    bool promote = false;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "model to import: a TFLite flatbuffer (.tflite), an ONNX model (.onnx), a TF.js layers model (model.json or its directory) or a llama2.c checkpoint (.bin)", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "out", ARG_STRING, &out, "DIR", "directory to write config.json and model.safetensors into", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "labels", ARG_STRING, &labels, "PATH", "class names, one per line, stored in the config (must match the class count)", 0, 0, 0, NULL, "", false },
        { "input-shape", ARG_STRING, &input_shape, "N,D,...", "ONNX: the data input's shape with the batch dim, for symbolic dims (e.g. 1,16000)", 0, 0, 0, NULL, "", false },
        { "cut", ARG_STRING, &cut, "TENSOR", "ONNX: cut the graph at this tensor; it becomes the output (a new head attaches with train --new-head)", 0, 0, 0, NULL, "", false },
        { "promote-constants", ARG_BOOL, &promote, NULL, "ONNX: float Constant nodes become trainable parameters (PaddleOCR keeps weights in Constants)", 0, 0, 0, NULL, NULL, false },
        { "bind", ARG_STRING, &bind, "NAME=V[,V...]", "ONNX: bind an extra graph input to constant values in its declared type and shape (one value fills it; a symbolic dim is the batch); repeatable, e.g. --bind sr=16000 --bind h=0", ARG_NO_CONFIG, 0, 0, NULL, "", false },
    };
    args_ctx a = { "convert", "--model FILE.tflite|FILE.onnx|model.json|DIR|FILE.bin --out DIR [--labels PATH] [ONNX options]",
                   "Import a pretrained model into a model directory. TFLite and TF.js become the generic\n"
                   "\"graph\" architecture: weights dequantized to float32, layouts converted to NCHW, the\n"
                   "input quantization turned into preprocess mean/std, a final softmax dropped; ONNX models\n"
                   "become \"graph\" models with everything static folded for the input shape; llama2.c\n"
                   "checkpoints become the \"llama\" architecture with Hugging Face names (docs/import.md).\n"
                   "The directory can be passed to --model of every command.",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_model *m = NULL;
    ft_status st = FT_OK;
    size_t ml = strlen(model);
    bool onnx = ml > 5 && !strcasecmp(model + ml - 5, ".onnx");
    if ((input_shape || cut || promote || bind) && !onnx) {
        fprintf(stderr, "finetune convert: --input-shape, --cut, --bind and --promote-constants apply to ONNX models (.onnx)\n");
        return CLI_USAGE;
    }
    /* every --bind (the parser keeps the last one only) */
    char *bnames[MAX_BINDS] = {NULL};
    double *bvals[MAX_BINDS] = {NULL};
    int bcounts[MAX_BINDS] = {0}, nb = 0;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        const char *spec = !strcmp(argv[i], "--bind") && i + 1 < argc ? argv[++i] : !strncmp(argv[i], "--bind=", 7) ? argv[i] + 7 : NULL;
        if (!spec) continue;
        if (nb == MAX_BINDS) { fprintf(stderr, "finetune convert: at most %d --bind\n", MAX_BINDS); rc = CLI_USAGE; break; }
        if (!parse_bind(spec, &bnames[nb], &bvals[nb], &bcounts[nb])) rc = CLI_USAGE;
        nb++;
    }
    if (rc != CLI_OK) goto done;
    if (onnx) {
        ft_onnx_opts o = ft_onnx_defaults();
        if (input_shape && !parse_shape(input_shape, &o)) {
            fprintf(stderr, "finetune convert: --input-shape must be positive ints separated by commas, e.g. 1,16000 (got '%s')\n", input_shape);
            rc = CLI_USAGE;
            goto done;
        }
        o.cut = cut;
        o.promote_constants = promote;
        o.n_bind_values = nb;
        o.bind_value_names = (const char *const *)bnames;
        o.bind_values = (const double *const *)bvals;
        o.bind_value_counts = bcounts;
        st = ft_import_onnx(model, &o, &m);
    } else st = ft_model_load(model, &m); /* dispatches on .tflite / TF.js model.json / .bin */
    if (st) goto done;
    if (labels && (st = ft_model_set_labels_file(m, labels))) goto done;
    if ((st = ft_model_export(m, out))) goto done;
    char n[32], shape[96];
    cli_format_count(n, sizeof n, ft_params_count(m->params, false));
    cli_format_shape(shape, sizeof shape, m->in_ndim, m->in_shape);
    printf("converted %s to %s: config.json, model.safetensors\n", model, out);
    printf("  architecture %s, %s parameters, input %s, %d outputs, head: %s\n", m->arch->name, n, shape, m->n_classes,
           m->head_patterns ? m->head_patterns : "none (a new head can be added with train --new-head)");

done:
    if (st) rc = cli_lib_error();
    for (int i = 0; i < nb; i++) { ft_free(bnames[i]); ft_free(bvals[i]); }
    ft_model_free(m);
    return rc;
}
