/* A small table-driven flag parser shared by the finetune commands.
 *
 * Each command declares one table of arg_spec rows (flag name, kind, target, help, range).
 * The same table parses argv, merges an optional JSON config file (keys = long flag names),
 * and generates the command's --help text, so the help, the parser and the config keys
 * cannot drift apart.
 *
 * Flags are "--name VALUE" or "--name=VALUE"; bool flags take no value. A value that
 * starts with "--" is taken as a missing value (use --name=--odd to pass one). Numbers are
 * parsed strictly (strtoll/strtod with an end check) and range-checked here, so every
 * message names the flag at fault.
 *
 * Errors are usage errors: the parser prints one line
 *   finetune <cmd>: <what is wrong> (see finetune <cmd> --help)
 * on stderr and returns ARGS_ERROR; the caller exits 2. */
#ifndef FT_CLI_ARGS_H
#define FT_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { ARG_INT, ARG_FLOAT, ARG_STRING, ARG_BOOL } arg_kind;

enum {
    ARG_REQUIRED  = 1u << 0, /* must be given (on the command line or in the config) */
    ARG_MIN       = 1u << 1, /* value >= min (or > min with ARG_MIN_EXCL) */
    ARG_MIN_EXCL  = 1u << 2,
    ARG_MAX       = 1u << 3, /* value <= max (or < max with ARG_MAX_EXCL) */
    ARG_MAX_EXCL  = 1u << 4,
    ARG_NO_CONFIG = 1u << 5, /* not accepted as a config-file key (e.g. --config itself) */
    ARG_INT32     = 1u << 6, /* ARG_INT stored later in an int: at most INT_MAX (not shown in help) */
};

typedef struct {
    const char *name;     /* long name without the dashes: "lr" -> --lr */
    arg_kind kind;
    void *target;         /* int64_t* | double* | const char ** | bool* */
    const char *metavar;  /* "N", "F", "PATH"; NULL for bool */
    const char *help;     /* one line */
    unsigned flags;
    double min, max;      /* with ARG_MIN / ARG_MAX */
    const char *choices;  /* strings: "a|b|c" (value must be one of them), or NULL */
    const char *defstr;   /* default shown in --help; NULL: derived from *target, "" : none */
    bool set;             /* out: given on the command line or in the config */
} arg_spec;

typedef struct {
    const char *cmd;      /* "train" */
    const char *usage;    /* "--model PATH --data SPEC --out DIR [options]" */
    const char *summary;  /* one paragraph shown under the usage line */
    arg_spec *specs;
    int n_specs;
    void *config_root;    /* json_t* of a merged config file; owned, freed by args_free */
    const char *config_path;
} args_ctx;

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_ERROR = 2 };

/* Parse argv[1..argc) (argv[0] is the command name). Returns ARGS_OK, ARGS_HELP (the help
 * was printed to stdout: exit 0) or ARGS_ERROR (one line on stderr: exit 2). Checks
 * ARG_REQUIRED only when check_required (callers that merge a config first pass false
 * and call args_check_required afterwards). */
int args_parse(args_ctx *a, int argc, char **argv, bool check_required);
/* Merge a JSON config file: for every key, the flag of that name ('_' and '-' are the
 * same) takes the value unless it was set on the command line. Unknown keys, wrong types
 * and out-of-range values are errors naming the key. Returns ARGS_OK or ARGS_ERROR. */
int args_merge_config(args_ctx *a, const char *path);
int args_check_required(args_ctx *a);
/* Print "finetune <cmd>: <msg> (see finetune <cmd> --help)" to stderr; returns ARGS_ERROR. */
int args_usage_error(const args_ctx *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void args_print_help(const args_ctx *a, FILE *f);
/* The row for a flag name (or NULL). */
arg_spec *args_find(args_ctx *a, const char *name);
bool args_was_set(args_ctx *a, const char *name);
void args_free(args_ctx *a);

#endif
