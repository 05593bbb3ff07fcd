/* finetune convert: import a model from another format (TFLite, TF.js layers) into a model
 * directory (config.json + model.safetensors), so fine-tuning never parses it again. */
#include "cli.h"
#include "args.h"

#include <string.h>

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *labels = NULL;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "model to import: a TFLite flatbuffer (.tflite), a TF.js layers model (model.json or its directory) or a llama2.c checkpoint (.bin)", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "out", ARG_STRING, &out, "DIR", "directory to write config.json and model.safetensors into", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "labels", ARG_STRING, &labels, "PATH", "class names, one per line, stored in the config (must match the class count)", 0, 0, 0, NULL, "", false },
    };
    args_ctx a = { "convert", "--model FILE.tflite|model.json|DIR|FILE.bin --out DIR [--labels PATH]",
                   "Import a pretrained model into a model directory. TFLite and TF.js become the generic\n"
                   "\"graph\" architecture: weights dequantized to float32, layouts converted to NCHW, the\n"
                   "input quantization turned into preprocess mean/std, a final softmax dropped; llama2.c\n"
                   "checkpoints become the \"llama\" architecture with Hugging Face names (docs/import.md).\n"
                   "The directory can be passed to --model of every command.",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_model *m = NULL;
    ft_status st;
    if ((st = ft_model_load(model, &m))) goto done; /* dispatches on .tflite / TF.js model.json */
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
    ft_model_free(m);
    return rc;
}
