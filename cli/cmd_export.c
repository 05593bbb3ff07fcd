/* finetune export: write a model directory (config.json + model.safetensors) from a
 * checkpoint, a model directory or a config (seeded init); or, with --format onnx, an ONNX
 * file of the model's eval-mode forward pass (include/finetune/export.h). */
#include "cli.h"
#include "args.h"
#include "finetune/export.h"

#include <string.h>

int cmd_export(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *format = "dir";
    int64_t seed = (int64_t)ft_run_defaults().seed, batch = 0, seq_len = 0, opset = 0;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "checkpoint, model directory, imported model, or config (.json: seeded init)", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "out", ARG_STRING, &out, "PATH", "dir: the directory for config.json and model.safetensors; onnx: the .onnx file", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "format", ARG_STRING, &format, "dir|onnx", "a model directory, or an ONNX model of the eval-mode forward pass", 0, 0, 0, "dir|onnx", NULL, false },
        { "batch", ARG_INT, &batch, "N", "onnx: fixed batch size (0 = a dynamic batch dim \"N\")", ARG_MIN | ARG_MAX | ARG_INT32, 0, 1 << 20, NULL, NULL, false },
        { "seq-len", ARG_INT, &seq_len, "N", "onnx, text models: tokens per example (0 = 128, or the model's positions if fewer)", ARG_MIN | ARG_MAX | ARG_INT32, 0, 1 << 20, NULL, NULL, false },
        { "opset", ARG_INT, &opset, "N", "onnx: at least this opset (0 = the lowest that fits: 13, or 17 with layer norms)", ARG_MIN | ARG_MAX | ARG_INT32, 0, 17, NULL, NULL, false },
        { "seed", ARG_INT, &seed, "N", "init seed when --model is a config file", ARG_MIN, 0, 0, NULL, NULL, false },
    };
    args_ctx a = { "export", "--model PATH --out PATH [--format dir|onnx]",
                   "Write DIR/config.json and DIR/model.safetensors (upstream parameter names, written\n"
                   "atomically). The directory can be passed to --model of every command. With --format onnx,\n"
                   "write the model's eval-mode forward pass (batch norm with running statistics, no dropout)\n"
                   "as an ONNX file (opset 13, or 17 with layer norms) for ONNX Runtime and other runtimes.",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    bool onnx = rc == ARGS_OK && !strcmp(format, "onnx");
    if (rc == ARGS_OK && !onnx && (specs[3].set || specs[4].set || specs[5].set))
        rc = args_usage_error(&a, "--batch, --seq-len and --opset only apply to --format onnx");
    if (rc == ARGS_OK && onnx && opset && opset < 13) rc = args_usage_error(&a, "--opset must be 0 or 13..17");
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_model *m = NULL;
    ft_status st;
    if ((st = cli_load_model(model, true, (uint64_t)seed, &m, NULL))) goto done;
    char n[32];
    cli_format_count(n, sizeof n, ft_params_count(m->params, false));
    if (onnx) {
        ft_onnx_export_opts o = ft_onnx_export_defaults();
        o.batch = (int)batch;
        o.seq_len = (int)seq_len;
        o.opset = (int)opset;
        if ((st = ft_model_export_onnx(m, out, &o))) goto done;
        printf("exported %s (%s parameters) to %s: ONNX, %s batch\n", m->arch ? m->arch->name : "?", n, out,
               batch ? "fixed" : "dynamic");
    } else {
        if ((st = ft_mkdirs(out))) goto done;
        if ((st = ft_model_export(m, out))) goto done;
        printf("exported %s (%s parameters) to %s: config.json, model.safetensors\n", m->arch ? m->arch->name : "?", n, out);
    }

done:
    if (st) rc = cli_lib_error();
    ft_model_free(m);
    return rc;
}
