/* finetune generate: autoregressive text generation from a decoder language model (a
 * llama2.c checkpoint, a "llama" model directory), with a KV cache. With a tokenizer
 * (--tokenizer, or the model directory's own files) prompts and output are text; without
 * one, token ids. */
#include "cli.h"
#include "args.h"
#include "finetune/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const ft_tokenizer *tok; /* NULL: print ids */
    int32_t *seq;            /* prompt + new tokens so far */
    int n, n_prompt, printed;
    size_t shown;            /* bytes of the decoded text already printed */
    ft_status st;
} printer;

/* Streams each new token: its id, or the text it adds to the decoded sequence (decoding the
 * whole sequence keeps the tokenizer's context rules, e.g. llama2.c's space after BOS). */
static int print_token(void *user, int32_t id) {
    printer *p = user;
    p->seq[p->n++] = id;
    if (!p->tok) {
        printf(p->printed++ ? " %d" : "%d", id);
        fflush(stdout);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    if ((p->st = ft_tokenizer_decode(p->tok, p->seq, p->n, true, &text, &len))) return 1;
    if (len > p->shown) fwrite(text + p->shown, 1, len - p->shown, stdout);
    p->shown = len > p->shown ? len : p->shown;
    p->printed++;
    fflush(stdout);
    ft_free(text);
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
    const char *model = NULL, *prompt = NULL, *prompt_ids = NULL, *tokenizer = NULL;
    bool print_ids = false;
    int64_t max_tokens = 256, top_k = 0, seed = 0, stop_id = -1, threads = 2;
    double temperature = 1.0, top_p = 1.0;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "decoder model: a llama2.c checkpoint (.bin), a model directory or a checkpoint", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "tokenizer", ARG_STRING, &tokenizer, "PATH", "tokenizer: llama2.c tokenizer.bin (tok512.bin), tokenizer.json, or a directory with HF tokenizer files (default: the model directory's own)", 0, 0, 0, NULL, "", false },
        { "prompt", ARG_STRING, &prompt, "TEXT", "text prompt, encoded with the tokenizer after BOS (default: BOS alone)", 0, 0, 0, NULL, "", false },
        { "prompt-ids", ARG_STRING, &prompt_ids, "IDS", "prompt as token ids, comma- or space-separated (llama2.c: BOS is 1); instead of --prompt", 0, 0, 0, NULL, "1", false },
        { "print-ids", ARG_BOOL, &print_ids, NULL, "print token ids even when a tokenizer is loaded", 0, 0, 0, NULL, "off", false },
        { "max-tokens", ARG_INT, &max_tokens, "N", "new tokens to generate at most (also stops at the model's max positions)", ARG_MIN | ARG_MAX, 0, 1 << 24, NULL, NULL, false },
        { "temperature", ARG_FLOAT, &temperature, "F", "sampling temperature; 0 = greedy (argmax)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "top-k", ARG_INT, &top_k, "K", "sample among the K most likely tokens (0 = all)", ARG_MIN | ARG_INT32, 0, 0, NULL, NULL, false },
        { "top-p", ARG_FLOAT, &top_p, "P", "nucleus sampling: the smallest set with probability >= P (1 = off)", ARG_MIN | ARG_MIN_EXCL | ARG_MAX, 0, 1, NULL, NULL, false },
        { "seed", ARG_INT, &seed, "N", "sampling seed (the same seed gives the same text)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "stop-id", ARG_INT, &stop_id, "ID", "stop when this token is produced (llama2.c models: 1, BOS); -1 = never", ARG_MIN | ARG_INT32, -1, 0, NULL, NULL, false },
        { "threads", ARG_INT, &threads, "N", "compute threads (OpenMP + BLAS)", ARG_MIN | ARG_MAX, 1, 1024, NULL, NULL, false },
    };
    args_ctx a = { "generate", "--model PATH [--tokenizer PATH] [--prompt TEXT | --prompt-ids IDS] [--max-tokens N] [--temperature F] [--top-k K] [--top-p P] [--seed N]",
                   "Generate from a decoder language model with a KV cache. With a tokenizer the prompt\n"
                   "and the output are text; without one, token ids on one line. --temperature 0 is\n"
                   "greedy decoding (llama2.c's run.c -t 0).",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int rc = args_parse(&a, argc, argv, true);
    if (rc == ARGS_OK && prompt && prompt_ids) rc = args_usage_error(&a, "--prompt and --prompt-ids exclude each other");
    args_free(&a);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;

    ft_set_num_threads((int)threads);
    ft_model *m = NULL;
    ft_tokenizer *tok = NULL;
    int32_t *ids = NULL, *out = NULL;
    ft_token_list tl = {0};
    int n_prompt = 0;
    ft_status st;
    if ((st = cli_load_model(model, false, 0, &m, NULL))) goto done;
    struct stat sb;
    if (tokenizer) {
        size_t len = strlen(tokenizer);
        if (stat(tokenizer, &sb) == 0 && S_ISDIR(sb.st_mode)) st = ft_tokenizer_load_dir(tokenizer, &tok);
        else if (len > 5 && !strcmp(tokenizer + len - 5, ".json")) st = ft_tokenizer_load_hf_json(tokenizer, &tok);
        else st = ft_tokenizer_load_llama2c(tokenizer, &tok);
        if (st) goto done;
    } else if (stat(model, &sb) == 0 && S_ISDIR(sb.st_mode) && ft_tokenizer_load_dir(model, &tok) != FT_OK) {
        tok = NULL; /* a model directory without tokenizer files: ids only */
    }
    if (prompt && !tok) {
        rc = CLI_USAGE;
        fprintf(stderr, "finetune generate: --prompt needs a tokenizer: pass --tokenizer (or use --prompt-ids) (see finetune generate --help)\n");
        goto done;
    }
    ids = malloc((size_t)(4096 + max_tokens) * sizeof *ids);
    if (!ids) { st = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    if (prompt_ids || !tok) {
        n_prompt = parse_ids(prompt_ids ? prompt_ids : "1", ids, 4096);
        if (n_prompt < 1) {
            fprintf(stderr, "finetune generate: --prompt-ids: '%s' is not a list of token ids (see finetune generate --help)\n",
                    prompt_ids ? prompt_ids : "");
            rc = CLI_USAGE;
            goto done;
        }
    } else { /* BOS, then the prompt's tokens (run.c: encode(prompt, bos=1, eos=0)) */
        int32_t bos = ft_tokenizer_specials(tok)->bos;
        if (bos >= 0) ids[n_prompt++] = bos;
        if (prompt && (st = ft_tokenizer_encode(tok, prompt, strlen(prompt), &tl))) goto done;
        if (tl.n > 4096 - n_prompt) { st = ft_fail(FT_EINVAL, "--prompt: %lld tokens, at most 4095", (long long)tl.n); goto done; }
        for (int64_t i = 0; i < tl.n; i++) ids[n_prompt++] = tl.ids[i];
        if (n_prompt == 0) { st = ft_fail(FT_EINVAL, "--prompt: empty, and the tokenizer has no BOS token"); goto done; }
    }
    if (tok && ft_tokenizer_vocab_size(tok) != m->seq.vocab_size && m->seq.vocab_size > 0) {
        st = ft_fail(FT_EINVAL, "the tokenizer has %d tokens, the model's vocabulary %d", ft_tokenizer_vocab_size(tok),
                     m->seq.vocab_size);
        goto done;
    }
    out = malloc((size_t)(max_tokens > 0 ? max_tokens : 1) * sizeof *out);
    if (!out) { st = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    ft_generate_opts o = ft_generate_defaults();
    o.max_tokens = (int)max_tokens;
    o.temperature = (float)temperature;
    o.top_k = (int)top_k;
    o.top_p = (float)top_p;
    o.seed = (uint64_t)seed;
    o.stop_id = (int)stop_id;
    printer pr = {print_ids ? NULL : tok, ids, n_prompt, n_prompt, 0, 0, FT_OK};
    if (pr.tok) { /* the prompt's own text is not repeated */
        char *text = NULL;
        if ((st = ft_tokenizer_decode(tok, ids, n_prompt, true, &text, &pr.shown))) goto done;
        if (prompt) fputs(text, stdout);
        ft_free(text);
    }
    int n = 0;
    st = ft_generate(m, ids, n_prompt, &o, out, &n, print_token, &pr);
    if (!st) st = pr.st;
    if (pr.printed || (pr.tok && prompt)) printf("\n");

done:
    if (st) rc = cli_lib_error();
    free(out);
    free(ids);
    ft_token_list_free(&tl);
    ft_tokenizer_free(tok);
    ft_model_free(m);
    return rc;
}
