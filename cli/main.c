/* finetune: command dispatch. Each command lives in cli/cmd_<name>.c and returns its exit
 * code; nothing here or below calls exit(). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdbool.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

int cmd_convert(int argc, char **argv); /* cli/cmd_convert.c */
int cmd_generate(int argc, char **argv); /* cli/cmd_generate.c */

static const command commands[] = {
    { "train",   cmd_train,   "fine-tune (or train) a model on a dataset, writing a run directory" },
    { "eval",    cmd_eval,    "loss, accuracy, per-class metrics and confusion matrix on a dataset" },
    { "predict", cmd_predict, "top-k class probabilities for each example of a dataset" },
    { "info",    cmd_info,    "architecture, parameters (names, shapes, trainable) and config" },
    { "export",  cmd_export,  "write a model directory (config.json + model.safetensors) or an ONNX file" },
    { "convert", cmd_convert, "import a TFLite, TF.js or llama2.c model into a model directory" },
    { "generate", cmd_generate, "generate tokens from a decoder language model (KV cache, greedy/top-k/top-p)" },
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f) {
    fprintf(f, "Usage: finetune <command> [options]\n\n"
               "Fine-tune pretrained neural networks on the CPU.\n\n"
               "Commands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nOptions:\n"
               "  -h, --help     show this help and exit\n"
               "  --version      print the version and exit\n\n"
               "Run 'finetune <command> --help' for a command's options.\n"
               "Exit status: 0 ok, 1 failure, 2 usage error, 130 training interrupted (resumable).\n");
}

static const command *find_command(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

/* Both settings below are read once, when the libraries load, so they are fixed by
 * restarting once with the environment changed (the child sees nothing left to change).
 *
 * libgomp's OMP_WAIT_POLICY: its default (spinning) costs little on an idle machine but made
 * an evaluation 4x slower when other processes competed for the cores (measured: 51 s vs
 * 12 s); passive waiting was as fast on an idle machine. So unless the user chose a policy,
 * use PASSIVE.
 *
 * OpenBLAS's OPENBLAS_CORETYPE: a value naming an older core than the CPU (Haswell on an
 * AVX-512 machine, as some images set globally) halves sgemm: 200 vs 385 GFLOP/s for a
 * 512x3136x1152 product measured here. PyTorch's oneDNN convolutions use AVX-512 whatever the
 * variable says. So on a CPU with AVX-512 (F, BW, DQ, VL: what OpenBLAS's SkylakeX kernels
 * need) finetune asks for SkylakeX. FT_BLAS_CORETYPE overrides the choice: a core name to use,
 * or "keep" to leave OPENBLAS_CORETYPE as it is. */
static bool openblas_core_is_pre_avx512(const char *core) {
    static const char *const old[] = {"Haswell", "Zen", "SandyBridge", "Nehalem", "Core2", "Penryn", "Dunnington",
                                      "Prescott", "Atom", "Barcelona", "Bulldozer", "Piledriver", "Steamroller",
                                      "Excavator", "Opteron", "Katmai", "Coppermine", "Northwood", "Banias"};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++)
        if (!strcasecmp(core, old[i])) return true;
    return false;
}

static bool choose_blas_core(void) {
    const char *want = getenv("FT_BLAS_CORETYPE"), *have = getenv("OPENBLAS_CORETYPE");
    if (want && !strcmp(want, "keep")) return false;
    if (!want) {
        if (!have || !openblas_core_is_pre_avx512(have)) return false; /* OpenBLAS detects the core itself */
        if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
            return false;
        want = "SkylakeX";
    }
    if (have && !strcasecmp(have, want)) return false;
    return setenv("OPENBLAS_CORETYPE", want, 1) == 0;
}

static void restart_with_tuned_env(char **argv) {
    bool changed = false;
    if (!getenv("OMP_WAIT_POLICY")) changed |= setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0;
    changed |= choose_blas_core();
    if (changed) execv("/proc/self/exe", argv); /* on failure just carry on as we are */
}

int main(int argc, char **argv) {
    restart_with_tuned_env(argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(c, "--version") || !strcmp(c, "version")) {
        printf("finetune %s\n", ft_version());
        return CLI_OK;
    }
    if (!strcmp(c, "help")) {
        if (argc < 3) { usage(stdout); return CLI_OK; }
        const command *cmd = find_command(argv[2]);
        if (!cmd) {
            fprintf(stderr, "finetune: unknown command '%s' (see finetune --help)\n", argv[2]);
            return CLI_USAGE;
        }
        char *help_argv[] = { argv[2], "--help", NULL };
        return cmd->run(2, help_argv);
    }
    const command *cmd = find_command(c);
    if (!cmd) {
        if (c[0] == '-') fprintf(stderr, "finetune: unknown option '%s' (see finetune --help)\n", c);
        else fprintf(stderr, "finetune: unknown command '%s' (see finetune --help)\n", c);
        return CLI_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
