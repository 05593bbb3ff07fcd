/* finetune generate: autoregressive text generation from a decoder language model (a
 * llama2.c checkpoint, a "llama" model directory), with a KV cache. Until the text
 * tokenizers land, prompts are token ids and the output is token ids. */
#include "cli.h"
#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int print_id(void *user, int32_t id) {
    int *count = user;
    printf((*count)++ ? " %d" : "%d", id);
    fflush(stdout);
    return 0;
}

/* "1,403 407" -> ids (commas and/or spaces). Returns the count, -1 on a bad item. */
static int parse_ids(const char *s, int32_t *ids, int cap) {
    int n = 0;
    while (*s) {
        while (*s == ',' || *s == ' ') s++;
        if (!*s) break;
        char *e;
        errno = 0;
        long v = strtol(s, &e, 10);
        if (e == s || errno || v < 0 || v > INT32_MAX || (*e && *e != ',' && *e != ' ') || n == cap) return -1;
        ids[n++] = (int32_t)v;
        s = e;
    }
    return n;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *prompt_ids = NULL;
    int64_t max_tokens = 256, top_k = 0, seed = 0, stop_id = -1, threads = 2;
    double temperature = 1.0, top_p = 1.0;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "decoder model: a llama2.c checkpoint (.bin), a model directory or a checkpoint", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "prompt", ARG_STRING, &prompt, "TEXT", "text prompt (needs a tokenizer: not available yet, use --prompt-ids)", 0, 0, 0, NULL, "", false },
        { "prompt-ids", ARG_STRING, &prompt_ids, "IDS", "prompt as token ids, comma- or space-separated (llama2.c: BOS is 1)", 0, 0, 0, NULL, "1", false },
        { "max-tokens", ARG_INT, &max_tokens, "N", "new tokens to generate at most (also stops at the model's max positions)", ARG_MIN | ARG_MAX, 0, 1 << 24, NULL, NULL, false },
        { "temperature", ARG_FLOAT, &temperature, "F", "sampling temperature; 0 = greedy (argmax)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "top-k", ARG_INT, &top_k, "K", "sample among the K most likely tokens (0 = all)", ARG_MIN | ARG_INT32, 0, 0, NULL, NULL, false },
        { "top-p", ARG_FLOAT, &top_p, "P", "nucleus sampling: the smallest set with probability >= P (1 = off)", ARG_MIN | ARG_MIN_EXCL | ARG_MAX, 0, 1, NULL, NULL, false },
        { "seed", ARG_INT, &seed, "N", "sampling seed (the same seed gives the same text)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "stop-id", ARG_INT, &stop_id, "ID", "stop when this token is produced (llama2.c models: 1, BOS); -1 = never", ARG_MIN | ARG_INT32, -1, 0, NULL, NULL, false },
        { "threads", ARG_INT, &threads, "N", "compute threads (OpenMP + BLAS)", ARG_MIN | ARG_MAX, 1, 1024, NULL, NULL, false },
    };
    args_ctx a = { "generate", "--model PATH [--prompt-ids IDS] [--max-tokens N] [--temperature F] [--top-k K] [--top-p P] [--seed N]",
                   "Generate tokens from a decoder language model with a KV cache and print their ids\n"
                   "on one line. --temperature 0 is greedy decoding (llama2.c's run.c -t 0).",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    if (rc == ARGS_OK && prompt)
        rc = args_usage_error(&a, "--prompt: text prompts need the tokenizer, which is not built in yet; pass --prompt-ids");
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    int32_t ids[4096];
    int n_prompt = parse_ids(prompt_ids ? prompt_ids : "1", ids, 4096);
    if (n_prompt < 1) {
        fprintf(stderr, "finetune generate: --prompt-ids: '%s' is not a list of token ids (see finetune generate --help)\n",
                prompt_ids ? prompt_ids : "");
        return CLI_USAGE;
    }
    ft_set_num_threads((int)threads);
    ft_model *m = NULL;
    int32_t *out = NULL;
    ft_status st;
    if ((st = cli_load_model(model, false, 0, &m, NULL))) goto done;
    out = malloc((size_t)(max_tokens > 0 ? max_tokens : 1) * sizeof *out);
    if (!out) { st = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    ft_generate_opts o = ft_generate_defaults();
    o.max_tokens = (int)max_tokens;
    o.temperature = (float)temperature;
    o.top_k = (int)top_k;
    o.top_p = (float)top_p;
    o.seed = (uint64_t)seed;
    o.stop_id = (int)stop_id;
    int n = 0, printed = 0;
    st = ft_generate(m, ids, n_prompt, &o, out, &n, print_id, &printed);
    if (printed) printf("\n");

done:
    if (st) rc = cli_lib_error();
    free(out);
    ft_model_free(m);
    return rc;
}
