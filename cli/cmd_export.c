/* finetune export: write a model directory (config.json + model.safetensors) from a
 * checkpoint, a model directory or a config (seeded init). */
#include "cli.h"
#include "args.h"

int cmd_export(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    int64_t seed = (int64_t)ft_run_defaults().seed;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "checkpoint, model directory, or config (.json: seeded init)", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "out", ARG_STRING, &out, "DIR", "directory to write config.json and model.safetensors into", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "seed", ARG_INT, &seed, "N", "init seed when --model is a config file", ARG_MIN, 0, 0, NULL, NULL, false },
    };
    args_ctx a = { "export", "--model PATH --out DIR",
                   "Write DIR/config.json and DIR/model.safetensors (upstream parameter names, written\n"
                   "atomically). The directory can be passed to --model of every command.",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_model *m = NULL;
    ft_status st;
    if ((st = cli_load_model(model, true, (uint64_t)seed, &m, NULL))) goto done;
    if ((st = ft_mkdirs(out))) goto done;
    if ((st = ft_model_export(m, out))) goto done;
    char n[32];
    cli_format_count(n, sizeof n, ft_params_count(m->params, false));
    printf("exported %s (%s parameters) to %s: config.json, model.safetensors\n",
           m->arch ? m->arch->name : "?", n, out);

done:
    if (st) rc = cli_lib_error();
    ft_model_free(m);
    return rc;
}
