/* finetune info: architecture, every parameter (name, shape, trainable) and the config. */
#include "cli.h"
#include "args.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *train_globs = NULL, *freeze_globs = NULL;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "model config (.json), model directory or checkpoint", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "train", ARG_STRING, &train_globs, "GLOBS", "show the trainable set as `train --train GLOBS` would make it", 0, 0, 0, NULL, "all", false },
        { "freeze", ARG_STRING, &freeze_globs, "GLOBS", "show the trainable set as `train --freeze GLOBS` would make it", 0, 0, 0, NULL, "none", false },
    };
    args_ctx a = { "info", "--model PATH [--train GLOBS] [--freeze GLOBS]",
                   "Print a model's architecture, every parameter with its shape and trainable flag,\n"
                   "the parameter counts and the config. --train/--freeze preview a selection.",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_model *m = NULL;
    cli_model_kind kind;
    ft_status st;
    if ((st = cli_load_model(model, true, 0, &m, &kind))) goto done;
    ft_params *ps = m->params;
    if ((train_globs || freeze_globs) && (st = ft_model_select_trainable(m, train_globs, freeze_globs))) goto done;

    char shape[96], buf[32];
    cli_format_shape(shape, sizeof shape, m->in_ndim, m->in_shape);
    printf("model:        %s (%s)\n", model, cli_model_kind_name(kind));
    printf("architecture: %s\n", m->arch ? m->arch->name : "?");
    printf("input:        %s %s per example\n", cli_dtype_name(m->in_dtype), shape);
    printf("classes:      %d\n", m->n_classes);
    printf("head:         %s\n", m->head_patterns ? m->head_patterns : "(not named)");

    int w = 4;
    for (int i = 0; i < ps->n; i++) {
        int len = (int)strlen(ps->p[i].name);
        if (len > w) w = len;
    }
    printf("\n%-*s  %-20s %12s  %s\n", w, "name", "shape", "numel", "trainable");
    int64_t buffers = 0;
    for (int i = 0; i < ps->n; i++) {
        const ft_param_info *p = &ps->p[i];
        cli_format_shape(shape, sizeof shape, p->ndim, p->shape);
        cli_format_count(buf, sizeof buf, p->numel);
        printf("%-*s  %-20s %12s  %s\n", w, p->name, shape, buf,
               p->is_buffer ? "buffer" : p->trainable ? "yes" : "no");
        if (p->is_buffer) buffers += p->numel;
    }
    int64_t total = ft_params_count(ps, false), trainable = ft_params_count(ps, true);
    char t1[32], t2[32], t3[32];
    cli_format_count(t1, sizeof t1, total);
    cli_format_count(t2, sizeof t2, trainable);
    cli_format_count(t3, sizeof t3, buffers);
    printf("\nparameters:   %s total, %s trainable (%.1f%%), %s frozen", t1, t2,
           total ? 100.0 * (double)trainable / (double)total : 0.0, (cli_format_count(buf, sizeof buf, total - trainable), buf));
    if (buffers) printf(" (%s in buffers)", t3);
    printf("\n");

    printf("\nconfig:\n");
    json_t *cfg = m->config_json ? json_loads(m->config_json, 0, NULL) : NULL;
    char *pretty = cfg ? json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    printf("%s\n", pretty ? pretty : m->config_json ? m->config_json : "(none)");
    free(pretty);
    json_decref(cfg);

done:
    if (st) rc = cli_lib_error();
    ft_model_free(m);
    return rc;
}
