/* finetune train: load or create a model, open the data, pick the trainable parameters,
 * and run ft_train into a run directory. */
#include "cli.h"
#include "args.h"

#include <string.h>
#include <unistd.h>

typedef struct {
    const char *model, *data, *val, *out, *config, *optimizer, *schedule;
    const char *train_globs, *freeze_globs, *resume, *progress;
    const char *task, *tokenizer, *frontend, *vocab, *init, *window_pool, *window_share;
    int64_t max_len, frontend_window, frontend_hop, pad_multiple, windows, window_hop;
    bool bidirectional, pad_to_dataset, group_by_length;
    double val_split, lr, momentum, weight_decay, gamma, min_lr_ratio, clip, label_smoothing;
    double head_lr_scale, backbone_lr;
    int64_t epochs, batch, warmup, step_size, accum, new_head, seed, threads, workers;
    int64_t patience, max_steps, checkpoint_every, image_size;
    bool nesterov, no_augment, no_feature_cache, frozen_bn;
} train_opts;

/* Cross-flag checks the table cannot express. Returns ARGS_OK or ARGS_ERROR. */
static int check_combinations(args_ctx *a, const train_opts *o) {
    if (args_was_set(a, "val") && args_was_set(a, "val-split"))
        return args_usage_error(a, "--val and --val-split cannot both be given");
    bool sgd = !strcmp(o->optimizer, "sgd");
    if (args_was_set(a, "momentum") && !sgd)
        return args_usage_error(a, "--momentum applies to --optimizer sgd only (not %s)", o->optimizer);
    if (o->nesterov && !sgd)
        return args_usage_error(a, "--nesterov applies to --optimizer sgd only (not %s)", o->optimizer);
    if (o->nesterov && !(o->momentum > 0))
        return args_usage_error(a, "--nesterov needs --momentum > 0");
    bool step = !strcmp(o->schedule, "step");
    bool decays = !strcmp(o->schedule, "cosine") || !strcmp(o->schedule, "linear");
    if ((args_was_set(a, "step-size") || args_was_set(a, "gamma")) && !step)
        return args_usage_error(a, "--step-size and --gamma apply to --schedule step only (not %s)", o->schedule);
    if (step && o->step_size < 1)
        return args_usage_error(a, "--schedule step needs --step-size N");
    if (args_was_set(a, "min-lr-ratio") && !decays)
        return args_usage_error(a, "--min-lr-ratio applies to --schedule cosine or linear only (not %s)", o->schedule);
    if (args_was_set(a, "vocab") && !cli_is_ctc(o->task, o->data))
        return args_usage_error(a, "--vocab applies to speech recognition (ctc: data or --task ctc) only");
    if ((args_was_set(a, "window-hop") || args_was_set(a, "window-pool") || args_was_set(a, "window-share")) &&
        !args_was_set(a, "windows"))
        return args_usage_error(a, "--window-hop, --window-pool and --window-share need --windows K");
    if (args_was_set(a, "windows") && o->windows > 1 && !args_was_set(a, "window-hop"))
        return args_usage_error(a, "--windows %lld needs --window-hop N (frames between windows)", (long long)o->windows);
    return ARGS_OK;
}

/* Backbone = every parameter that is not the head: it gets group 1 (own learning rate). */
static ft_status set_backbone_group(ft_model *m) {
    if (!m->head_patterns || !m->head_patterns[0])
        return ft_fail(FT_EUNSUPPORTED, "model %s does not name its head; --head-lr-scale/--backbone-lr need one",
                       m->arch ? m->arch->name : "?");
    int backbone = 0;
    for (int i = 0; i < m->params->n; i++) {
        ft_param_info *p = &m->params->p[i];
        bool head = ft_params_match(m->head_patterns, p->name);
        p->group = head ? 0 : 1;
        backbone += !head && !p->is_buffer;
    }
    if (!backbone)
        return ft_fail(FT_EINVAL, "model %s has no backbone parameters outside its head (%s)",
                       m->arch ? m->arch->name : "?", m->head_patterns);
    return FT_OK;
}

static ft_status select_trainable(ft_model *m, const char *train_globs, const char *freeze_globs) {
    return ft_model_select_trainable(m, train_globs, freeze_globs);
}

static void print_header(const train_opts *o, const ft_model *m, cli_model_kind kind,
                         const ft_dataset *train, const ft_dataset *val, int replaced_from,
                         const ft_run_config *rc) {
    char tot[32], trn[32], shape[96];
    int64_t total = ft_params_count(m->params, false), trainable = ft_params_count(m->params, true);
    cli_format_count(tot, sizeof tot, total);
    cli_format_count(trn, sizeof trn, trainable);
    cli_format_shape(shape, sizeof shape, train->x_ndim, train->x_shape);
    printf("finetune %s\n", ft_version());
    printf("model:      %s from %s (%s", m->arch ? m->arch->name : "?", o->model, cli_model_kind_name(kind));
    if (kind == CLI_MODEL_CONFIG) printf(", init seed %lld", (long long)o->seed);
    printf(")\n");
    if (replaced_from > 0)
        printf("head:       replaced: %d -> %d classes (%s, seed %lld)\n", replaced_from, m->n_classes,
               m->head_patterns ? m->head_patterns : "head", (long long)o->seed);
    if (o->init) printf("init:       %s (seed %lld)\n", o->init, (long long)o->seed);
    if (o->windows > 0)
        printf("windows:    %lld per example, %lld frames apart, through the shared model%s%s; %s\n", (long long)o->windows,
               (long long)(o->window_hop > 0 ? o->window_hop : 1), o->window_share ? ", run once up to " : "",
               o->window_share ? o->window_share : "", o->window_pool);
    printf("parameters: %s total, %s trainable (%.1f%%)\n", tot, trn,
           total ? 100.0 * (double)trainable / (double)total : 0.0);
    printf("data:       %s: %lld examples, %d classes, %s %s each\n", o->data, (long long)train->n,
           train->n_classes, cli_dtype_name(train->x_dtype), shape);
    if (ft_dataset_note(train)[0]) printf("            %s\n", ft_dataset_note(train));
    if (val && o->val)
        printf("validation: %s: %lld examples\n", o->val, (long long)val->n);
    else if (val)
        printf("validation: %lld examples held out of the training data (--val-split %g, seed %lld)\n",
               (long long)val->n, o->val_split, (long long)o->seed);
    else
        printf("validation: none\n");
    printf("optimizer:  %s, lr %g", ft_optim_name(rc->optim.kind), rc->optim.lr);
    if (rc->optim.kind == FT_OPT_SGD) {
        printf(", momentum %g", rc->optim.momentum);
        if (rc->optim.nesterov) printf(" (nesterov)");
    }
    printf(", weight decay %g", rc->optim.weight_decay);
    if (o->head_lr_scale > 0) printf(", head lr x%g", o->head_lr_scale);
    if (o->backbone_lr > 0) printf(", backbone lr %g", o->backbone_lr);
    printf("\nschedule:   %s", ft_sched_name(rc->sched.kind));
    if (rc->sched.warmup_steps) printf(", warmup %lld steps", (long long)rc->sched.warmup_steps);
    if (rc->sched.kind == FT_SCHED_STEP)
        printf(", x%g every %lld steps", rc->sched.gamma, (long long)rc->sched.step_size);
    if (rc->sched.kind == FT_SCHED_COSINE || rc->sched.kind == FT_SCHED_LINEAR)
        printf(", floor %g x lr", rc->sched.min_lr_ratio);
    printf("\ntraining:   %d epoch%s, batch %lld", rc->epochs, rc->epochs == 1 ? "" : "s", (long long)rc->batch_size);
    if (rc->accum_steps > 1) printf(" x %d accumulated", rc->accum_steps);
    if (rc->max_steps > 0) printf(", at most %lld steps", (long long)rc->max_steps);
    if (rc->clip_norm > 0) printf(", clip %g", rc->clip_norm);
    if (o->no_augment) printf(", no augmentation");
    if (rc->label_smoothing > 0) printf(", label smoothing %g", rc->label_smoothing);
    if (rc->patience > 0) printf(", patience %d", rc->patience);
    printf(", seed %llu, %d threads, %d workers\n", (unsigned long long)rc->seed, ft_get_num_threads(), rc->workers);
    if (rc->resume) printf("resume:     %s\n", rc->resume);
    printf("run dir:    %s\n", rc->out_dir);
    fflush(stdout);
}

int cmd_train(int argc, char **argv) {
    ft_run_config rd = ft_run_defaults();
    train_opts o;
    memset(&o, 0, sizeof o);
    o.optimizer = ft_optim_name(rd.optim.kind);
    o.schedule = ft_sched_name(rd.sched.kind);
    o.progress = "auto";
    o.epochs = rd.epochs;
    o.batch = rd.batch_size;
    o.accum = rd.accum_steps > 0 ? rd.accum_steps : 1;
    o.clip = rd.clip_norm;
    o.warmup = rd.sched.warmup_steps;
    o.step_size = rd.sched.step_size;
    o.gamma = rd.sched.gamma > 0 ? rd.sched.gamma : 0.1;
    o.min_lr_ratio = rd.sched.min_lr_ratio;
    o.label_smoothing = rd.label_smoothing;
    o.seed = (int64_t)rd.seed;
    o.threads = 2;
    o.workers = rd.workers;
    o.patience = rd.patience;
    o.max_steps = rd.max_steps;
    o.checkpoint_every = rd.checkpoint_every;
    o.max_len = 128;
    o.pad_multiple = FT_TEXT_PAD_MULTIPLE;
    o.frontend_window = 76;
    o.frontend_hop = 8;
    o.vocab = "chars";
    o.window_pool = "concat";

    /* Defaults that depend on the optimizer come from the library, so the help can't lie. */
    char lr_def[96], wd_def[96];
    snprintf(lr_def, sizeof lr_def, "%g for sgd, %g for adam/adamw", ft_optim_defaults(FT_OPT_SGD).lr,
             ft_optim_defaults(FT_OPT_ADAM).lr);
    snprintf(wd_def, sizeof wd_def, "%g for sgd/adam, %g for adamw", ft_optim_defaults(FT_OPT_SGD).weight_decay,
             ft_optim_defaults(FT_OPT_ADAMW).weight_decay);

    arg_spec specs[] = {
        { "model", ARG_STRING, &o.model, "PATH", "model config (.json, new model), model directory or checkpoint", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "data", ARG_STRING, &o.data, "SPEC", "training data (dataset spec, e.g. csv:train.csv)", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "val", ARG_STRING, &o.val, "SPEC", "validation data (dataset spec)", 0, 0, 0, NULL, "none", false },
        { "val-split", ARG_FLOAT, &o.val_split, "F", "hold out this fraction of --data for validation (seeded)", ARG_MIN | ARG_MIN_EXCL | ARG_MAX | ARG_MAX_EXCL, 0, 1, NULL, "off", false },
        { "out", ARG_STRING, &o.out, "DIR", "run directory (checkpoints, metrics.jsonl, report.html)", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "epochs", ARG_INT, &o.epochs, "N", "epochs to train", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "batch", ARG_INT, &o.batch, "N", "batch size (a model that runs at one batch size only: that one; the short last batch of an epoch is then dropped)", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "lr", ARG_FLOAT, &o.lr, "F", "learning rate", ARG_MIN | ARG_MIN_EXCL, 0, 0, NULL, lr_def, false },
        { "optimizer", ARG_STRING, &o.optimizer, "sgd|adam|adamw", "optimizer", 0, 0, 0, "sgd|adam|adamw", NULL, false },
        { "momentum", ARG_FLOAT, &o.momentum, "F", "SGD momentum", ARG_MIN | ARG_MAX | ARG_MAX_EXCL, 0, 1, NULL, NULL, false },
        { "nesterov", ARG_BOOL, &o.nesterov, NULL, "Nesterov momentum (SGD, needs --momentum > 0)", 0, 0, 0, NULL, "off", false },
        { "weight-decay", ARG_FLOAT, &o.weight_decay, "F", "weight decay (AdamW: decoupled; not on biases and norm weights)", ARG_MIN, 0, 0, NULL, wd_def, false },
        { "schedule", ARG_STRING, &o.schedule, "constant|step|cosine|linear", "learning-rate schedule", 0, 0, 0, "constant|step|cosine|linear", NULL, false },
        { "warmup", ARG_INT, &o.warmup, "N", "linear warmup steps (from 0)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "step-size", ARG_INT, &o.step_size, "N", "step schedule: decay every N optimizer steps", ARG_MIN, 1, 0, NULL, "none", false },
        { "gamma", ARG_FLOAT, &o.gamma, "F", "step schedule: decay factor", ARG_MIN | ARG_MIN_EXCL, 0, 0, NULL, NULL, false },
        { "min-lr-ratio", ARG_FLOAT, &o.min_lr_ratio, "F", "cosine/linear schedule: final lr as a fraction of --lr", ARG_MIN | ARG_MAX, 0, 1, NULL, NULL, false },
        { "clip", ARG_FLOAT, &o.clip, "F", "clip the global gradient norm to F (0 = off)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "accum", ARG_INT, &o.accum, "N", "micro-batches accumulated per optimizer step", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "no-augment", ARG_BOOL, &o.no_augment, NULL, "train on the eval view of images (resize + centre crop): no random crops, flips or jitter", 0, 0, 0, NULL, "off", false },
        { "no-feature-cache", ARG_BOOL, &o.no_feature_cache, NULL, "always run the whole model (by default, when only a head after a frozen part trains on unaugmented data, the frozen part's outputs are computed once and cached)", 0, 0, 0, NULL, "off", false },
        { "label-smoothing", ARG_FLOAT, &o.label_smoothing, "F", "label smoothing of the cross-entropy loss", ARG_MIN | ARG_MAX | ARG_MAX_EXCL, 0, 1, NULL, NULL, false },
        { "train", ARG_STRING, &o.train_globs, "GLOBS", "train only the parameters matching these comma-separated globs (or re:REGEX; \"head\" = the model's head)", 0, 0, 0, NULL, "all", false },
        { "freeze", ARG_STRING, &o.freeze_globs, "GLOBS", "freeze the parameters matching these globs (after --train)", 0, 0, 0, NULL, "none", false },
        { "head-lr-scale", ARG_FLOAT, &o.head_lr_scale, "F", "discriminative lr: the head trains at F x lr, the backbone at lr", ARG_MIN | ARG_MIN_EXCL, 0, 0, NULL, "off", false },
        { "backbone-lr", ARG_FLOAT, &o.backbone_lr, "F", "discriminative lr: the backbone (all but the head) trains at lr F", ARG_MIN | ARG_MIN_EXCL, 0, 0, NULL, "off", false },
        { "image-size", ARG_INT, &o.image_size, "N", "train at N x N input images (the model's input size changes; it must end in a global pool)", ARG_MIN | ARG_MAX, 1, 16384, NULL, "the model's", false },
        { "init", ARG_STRING, &o.init, "pytorch|kaiming", "initialise the model's parameters: a config's new model, or a loaded model again (the same network from scratch: batch-norm statistics reset, constants of an imported graph kept); kaiming = He uniform for ReLU, biases 0", 0, 0, 0, "pytorch|kaiming", "pytorch for a config; a loaded model keeps its weights", false },
        { "windows", ARG_INT, &o.windows, "K", "run K windows of each example (its first dim, frames) through the model, sharing its weights, and combine the K outputs (--window-pool); the data's examples must be W + hop * (K - 1) frames long for a model that reads W", ARG_MIN | ARG_MAX, 1, 4096, NULL, "off", false },
        { "window-hop", ARG_INT, &o.window_hop, "N", "--windows: frames between windows", ARG_MIN | ARG_MAX, 1, 1 << 20, NULL, NULL, false },
        { "window-pool", ARG_STRING, &o.window_pool, "concat|mean|max", "--windows: concatenate the K outputs before the head, or their mean or maximum", 0, 0, 0, "concat|mean|max", NULL, false },
        { "window-share", ARG_STRING, &o.window_share, "NODE", "--windows: run the model once over the whole input up to this node (convolutional in time; checked when built) and stack its time steps into the batch after it", 0, 0, 0, NULL, "off (each window runs the whole model)", false },
        { "frozen-bn", ARG_BOOL, &o.frozen_bn, NULL, "batch norms use their running statistics in training too, and keep them (for a frozen backbone)", 0, 0, 0, NULL, "off", false },
        { "new-head", ARG_INT, &o.new_head, "N", "replace the head with a fresh one for N classes", ARG_MIN | ARG_INT32, 1, 0, NULL, "the data's class count if it differs from the model's", false },
        { "seed", ARG_INT, &o.seed, "N", "seed for init, shuffling, splits and dropout", ARG_MIN, 0, 0, NULL, NULL, false },
        { "threads", ARG_INT, &o.threads, "N", "compute threads (OpenMP + BLAS)", ARG_MIN | ARG_MAX, 1, 1024, NULL, NULL, false },
        { "workers", ARG_INT, &o.workers, "N", "data-loader threads (0 = load in the training thread)", ARG_MIN | ARG_MAX, 0, 256, NULL, NULL, false },
        { "patience", ARG_INT, &o.patience, "N", "early stopping after N epochs without validation improvement (0 = off)", ARG_MIN | ARG_INT32, 0, 0, NULL, NULL, false },
        { "max-steps", ARG_INT, &o.max_steps, "N", "stop after N optimizer steps (0 = no limit)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "checkpoint-every", ARG_INT, &o.checkpoint_every, "N", "also checkpoint every N steps (0 = end of each epoch only)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "resume", ARG_STRING, &o.resume, "PATH", "resume from a checkpoint (e.g. RUN/checkpoint.safetensors)", 0, 0, 0, NULL, "none", false },
        { "progress", ARG_STRING, &o.progress, "auto|bar|plain|none", "progress output on stderr (auto: bar on a terminal, else plain)", 0, 0, 0, "auto|bar|plain|none", NULL, false },
        { "task", ARG_STRING, &o.task, "seq-cls|token-cls|lm|ctc|asr", "text task, or ctc (asr) for speech recognition (default: from the data spec seq-cls:/token-cls:/lm:/ctc:; with a task, --data may be a bare file, or for ctc any dataset spec)", 0, 0, 0, "seq-cls|token-cls|lm|ctc|asr", "from the data", false },
        { "tokenizer", ARG_STRING, &o.tokenizer, "PATH", "text: the model's tokenizer (tokenizer.bin/tok512.bin, tokenizer.json, vocab.txt, or a directory)", 0, 0, 0, NULL, "the model's own", false },
        { "max-len", ARG_INT, &o.max_len, "N", "text: tokens per example, special tokens included (longer ones are truncated; lm: the block length); capped at the model's positions", ARG_MIN | ARG_MAX, 2, 1 << 20, NULL, NULL, false },
        { "bidirectional", ARG_BOOL, &o.bidirectional, NULL, "text, decoders: attend to both sides (no causal mask) in the classification head's model", 0, 0, 0, NULL, "off", false },
        { "pad-multiple", ARG_INT, &o.pad_multiple, "N", "text: pad each batch to its longest row rounded up to a multiple of N (1 = exact; fewer lengths = fewer graphs)", ARG_MIN | ARG_MAX, 1, 4096, NULL, NULL, false },
        { "pad-to-dataset", ARG_BOOL, &o.pad_to_dataset, NULL, "text: pad every batch to the longest row of the data (one fixed shape) instead of the batch's own", 0, 0, 0, NULL, "off", false },
        { "group-by-length", ARG_BOOL, &o.group_by_length, NULL, "text: batch rows of similar length (shuffled mega-batches of 50 batches, each sorted by length), so batches pad less", 0, 0, 0, NULL, "off", false },
        { "frontend", ARG_STRING, &o.frontend, "PATH", "ctc: a frozen front-end model run over sliding windows of each example's frames, once at open (e.g. openWakeWord's speech embedding)", 0, 0, 0, NULL, "none", false },
        { "frontend-window", ARG_INT, &o.frontend_window, "N", "ctc: frames per front-end window", ARG_MIN, 1, 0, NULL, NULL, false },
        { "frontend-hop", ARG_INT, &o.frontend_hop, "N", "ctc: frames between front-end windows", ARG_MIN, 1, 0, NULL, NULL, false },
        { "vocab", ARG_STRING, &o.vocab, "chars|words", "ctc: the label vocabulary of a new model: one label per character (space included), or one per word (word pieces); a model that has a vocabulary keeps it", 0, 0, 0, "chars|words", NULL, false },
        { "config", ARG_STRING, &o.config, "FILE", "JSON file of flag values ({\"epochs\": 3, \"lr\": 0.01}); flags override it", ARG_NO_CONFIG, 0, 0, NULL, "none", false },
    };
    args_ctx a = { "train", "--model PATH --data SPEC --out DIR [options]",
                   "Fine-tune a model on a dataset. Writes DIR/checkpoint.safetensors (resumable),\n"
                   "DIR/best.safetensors (best validation accuracy), DIR/metrics.jsonl and DIR/report.html.\n"
                   "Dataset specs: csv:<path>, idx:<images>,<labels>, fashion-mnist:<dir>[:train|test],\n"
                   "mnist-json:<dir>[:offset:per_class], images:<dir>[:size[:resize]] (folder per class),\n"
                   "manifest:<file.csv|.jsonl>[:size[:resize]]. Image sizes and normalisation default to the model's.\n"
                   "Text: seq-cls:<file.tsv|.csv|.jsonl>, token-cls:<conll.txt>, lm:<file.txt|.jsonl|.tsv> (docs/data.md).",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };

    int rc = args_parse(&a, argc, argv, false);
    if (rc == ARGS_OK && o.config) rc = args_merge_config(&a, o.config);
    if (rc == ARGS_OK) rc = args_check_required(&a);
    if (rc == ARGS_OK) rc = check_combinations(&a, &o);
    if (rc != ARGS_OK) {
        args_free(&a);
        return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }

    ft_model *m = NULL, *m2 = NULL;
    ft_tokenizer *tok = NULL;
    char tok_path[4096] = "";
    ft_task task = FT_TASK_CLASSIFY;
    ft_text_opts topts;
    memset(&topts, 0, sizeof topts);
    ft_dataset *base = NULL, *train = NULL, *val = NULL, *split_val = NULL;
    cli_model_kind kind = CLI_MODEL_DIR;
    int replaced_from = 0;
    ft_run_result res;
    memset(&res, 0, sizeof res);
    ft_status st;

    ft_set_num_threads((int)o.threads);
    /* The run directory first: an unwritable --out fails before any expensive loading. */
    if ((st = ft_mkdirs(o.out))) goto done;
    bool ctc = cli_is_ctc(o.task, o.data);
    if (o.task && !ctc && (st = ft_task_parse(o.task, &task))) goto done;
    if (ft_text_spec_task(o.data) && !task) task = ft_text_spec_task(o.data);
    if ((st = cli_load_model(o.model, true, (uint64_t)o.seed, &m, &kind))) goto done;
    if (o.init && (strcmp(o.init, "pytorch") || kind != CLI_MODEL_CONFIG) &&
        (st = ft_model_reinit(m, (uint64_t)o.seed, !strcmp(o.init, "kaiming"), 0.0f)))
        goto done;
    if (o.windows > 0 && (ctc || task)) {
        st = ft_fail(FT_EINVAL, "--windows applies to classification data (not to text or ctc tasks)");
        goto done;
    }
    if (ctc) { /* speech recognition: the model's vocabulary when it has one, else the data's */
        char **vocab = cli_ctc_model_vocab(m);
        int nv = vocab ? m->n_classes : 0;
        bool words = !strcmp(o.vocab, "words");
        if (vocab && args_was_set(&a, "vocab") && words != ft_ctc_vocab_is_pieces((const char *const *)vocab, nv)) {
            ft_model_labels_free(vocab, nv);
            st = ft_fail(FT_EINVAL, "--vocab %s: model %s already has a %s vocabulary", o.vocab, o.model,
                         words ? "character" : "word-piece");
            goto done;
        }
        cli_frontend fe = {o.frontend, o.frontend_window, o.frontend_hop};
        st = cli_open_ctc(o.data, m, &fe, (const char *const *)vocab, nv, words, &base);
        ft_model_labels_free(vocab, nv);
        if (st) goto done;
        if (o.val && (st = cli_open_ctc(o.val, m, &fe, (const char *const *)base->class_names, base->n_classes, false, &val))) goto done;
    } else if (task) { /* text: the model's tokenizer, labels from the training data, the same labels for --val */
        if ((st = cli_find_tokenizer(o.tokenizer, o.model, m, &tok, tok_path, sizeof tok_path))) goto done;
        topts.tok = tok;
        topts.max_len = cli_text_max_len(m, o.max_len);
        if ((st = ft_dataset_open_text(o.data, task, &topts, &base))) goto done;
        topts.labels = task == FT_TASK_LM ? NULL : (const char *const *)base->class_names;
        topts.n_labels = task == FT_TASK_LM ? 0 : base->n_classes;
        if (o.val && (st = ft_dataset_open_text(o.val, task, &topts, &val))) goto done;
    } else {
        if (o.image_size > 0 && !(m->in_ndim == 3 && m->in_shape[1] == o.image_size && m->in_shape[2] == o.image_size)) {
            if ((st = ft_model_with_image_size(m, (int)o.image_size, &m2))) goto done;
            ft_model_free(m);
            m = m2;
            m2 = NULL;
        }
        if (o.windows > 0) {
            ft_windows_pool wp;
            if ((st = ft_windows_pool_parse(o.window_pool, &wp))) goto done;
            int hop = (int)(o.window_hop > 0 ? o.window_hop : 1);
            if ((st = o.window_share ? ft_model_time_windows_shared(m, (int)o.windows, hop, wp, o.window_share, &m2)
                                     : ft_model_time_windows(m, (int)o.windows, hop, wp, &m2)))
                goto done;
            ft_model_free(m);
            m = m2;
            m2 = NULL;
        }
        if (o.frozen_bn) {
            if ((st = ft_model_with_frozen_bn(m, &m2))) goto done;
            ft_model_free(m);
            m = m2;
            m2 = NULL;
        }
        ft_image_opts img = ft_model_image_opts(m);
        if (o.no_augment) {
            img.random_resized_crop = img.hflip = false;
            img.brightness = img.contrast = img.saturation = 0;
        }
        if ((st = ft_dataset_open_with(o.data, &img, &base))) goto done;
        if (o.val && (st = ft_dataset_open_with(o.val, &img, &val))) goto done;
    }
    train = base;
    if (!o.val && o.val_split > 0) {
        if ((st = ft_dataset_split(base, o.val_split, (uint64_t)o.seed, &train, &split_val))) {
            train = NULL;
            goto done;
        }
        val = split_val;
        if (train->n < 1 || val->n < 1) {
            st = ft_fail(FT_EINVAL, "--val-split %g of %lld examples leaves %lld for training and %lld for validation",
                         o.val_split, (long long)base->n, (long long)train->n, (long long)val->n);
            goto done;
        }
    }

    if (!task && !ctc && ((st = cli_check_input(m, train, o.data)) || (val && (st = cli_check_input(m, val, o.val ? o.val : o.data)))))
        goto done;

    if (task) { /* a head for the task: fresh unless the model already has this one */
        int n = task == FT_TASK_LM ? 0 : o.new_head > 0 ? (int)o.new_head : base->n_classes;
        if (n && n < base->n_classes) {
            st = ft_fail(FT_EINVAL, "--new-head %d is fewer than the %d labels in '%s'", n, base->n_classes, o.data);
            goto done;
        }
        if (ft_model_text_head(m) != task || (n && n != m->n_classes) || o.new_head > 0 || o.bidirectional != m->seq_bidirectional) {
            if ((st = ft_model_for_task(m, task, n, o.bidirectional, (uint64_t)o.seed, &m2))) goto done;
            if (task != FT_TASK_LM) replaced_from = m->n_classes;
            ft_model_free(m);
            m = m2;
            m2 = NULL;
        }
        if ((st = cli_remember_tokenizer(m, tok_path))) goto done;
    }
    int classes = task ? m->n_classes : 0;
    if (task) goto head_done;
    classes = o.new_head > 0 ? (int)o.new_head : base->n_classes;
    if (classes < base->n_classes) {
        st = ft_fail(FT_EINVAL, "--new-head %d is fewer than the %d classes in '%s'", classes, base->n_classes, o.data);
        goto done;
    }
    if (o.new_head > 0 || classes != m->n_classes) {
        if ((st = ft_model_replace_head(m, classes, (uint64_t)o.seed, &m2))) goto done;
        replaced_from = m->n_classes;
        ft_model_free(m);
        m = m2;
        m2 = NULL;
    }
    /* The data's class names become the model's labels, so predict can name classes
     * without the dataset. Names that cannot be stored (not UTF-8) are left out. */
head_done:
    if (base->class_names && base->n_classes == m->n_classes && ft_model_set_labels(m, (const char *const *)base->class_names, base->n_classes))
        fprintf(stderr, "finetune: note: class names not stored in the model: %s\n", ft_errmsg());
    if (!task && ft_audio_spec(o.data) && (st = cli_remember_audio(m, o.data, base))) goto done;
    if ((st = select_trainable(m, o.train_globs, o.freeze_globs))) goto done;

    ft_run_config rcfg = rd;
    rcfg.out_dir = o.out;
    rcfg.epochs = (int)o.epochs;
    rcfg.max_steps = o.max_steps;
    int64_t fixed = ft_model_fixed_batch(m); /* an import that runs at one batch size only */
    if (fixed && !args_was_set(&a, "batch")) o.batch = fixed;
    if (fixed && o.batch != fixed) {
        st = ft_fail(FT_EINVAL, "--batch %lld: the model runs at batch %lld only (an imported graph whose nodes depend on the batch size; "
                     "its config's input.batch); leave --batch out (or give --batch %lld), or import it again at another batch: "
                     "finetune convert --input-shape N,...", (long long)o.batch, (long long)fixed, (long long)fixed);
        goto done;
    }
    if (fixed && train->n < fixed) {
        st = ft_fail(FT_EINVAL, "'%s' gives %lld training examples, fewer than the one batch size the model runs at (%lld): "
                     "a batch of training needs %lld examples (or import the model again at a smaller batch: finetune convert --input-shape N,...)",
                     o.data, (long long)train->n, (long long)fixed, (long long)fixed);
        goto done;
    }
    rcfg.batch_size = o.batch;
    rcfg.accum_steps = (int)o.accum;
    rcfg.clip_norm = (float)o.clip;
    ft_optim_kind ok;
    if ((st = ft_optim_parse(o.optimizer, &ok))) goto done;
    rcfg.optim = ft_optim_defaults(ok);
    if (args_was_set(&a, "lr")) rcfg.optim.lr = (float)o.lr;
    rcfg.optim.momentum = (float)o.momentum;
    rcfg.optim.nesterov = o.nesterov;
    if (args_was_set(&a, "weight-decay")) rcfg.optim.weight_decay = (float)o.weight_decay;
    if (o.head_lr_scale > 0 || o.backbone_lr > 0) {
        if ((st = set_backbone_group(m))) goto done;
        rcfg.optim.group_lr_scale[0] = o.head_lr_scale > 0 ? (float)o.head_lr_scale : 1.0f;
        rcfg.optim.group_lr_scale[1] = o.backbone_lr > 0 ? (float)(o.backbone_lr / rcfg.optim.lr) : 1.0f;
    }
    if ((st = ft_sched_parse(o.schedule, &rcfg.sched.kind))) goto done;
    rcfg.sched.warmup_steps = o.warmup;
    rcfg.sched.total_steps = 0;
    rcfg.sched.step_size = o.step_size;
    rcfg.sched.gamma = (float)o.gamma;
    rcfg.sched.min_lr_ratio = (float)o.min_lr_ratio;
    rcfg.seed = (uint64_t)o.seed;
    rcfg.workers = (int)o.workers;
    rcfg.patience = (int)o.patience;
    rcfg.checkpoint_every = o.checkpoint_every;
    rcfg.resume = o.resume;
    rcfg.label_smoothing = (float)o.label_smoothing;
    rcfg.no_feature_cache = o.no_feature_cache;
    rcfg.text.pad_to_dataset = o.pad_to_dataset;
    rcfg.text.pad_multiple = (int)o.pad_multiple;
    rcfg.text.group_by_length = o.group_by_length;
    if (!strcmp(o.progress, "bar")) rcfg.progress = 1;
    else if (!strcmp(o.progress, "plain")) rcfg.progress = 0;
    else if (!strcmp(o.progress, "none")) rcfg.progress = -1;
    else rcfg.progress = isatty(fileno(stderr)) ? 1 : 0;

    print_header(&o, m, kind, train, val, replaced_from, &rcfg);
    if (fixed && train->n % fixed)
        printf("            drops the last %lld example%s of each epoch (shuffled, so others each epoch): the model runs at batch %lld only\n",
               (long long)(train->n % fixed), train->n % fixed == 1 ? "" : "s", (long long)fixed);
    fflush(stdout);
    if (task) {
        printf("text:       task %s, tokenizer %s, %lld tokens per example%s\n", ft_task_name(task), tok_path,
               (long long)train->x_shape[1], m->seq_bidirectional ? ", bidirectional attention" : "");
        if (o.pad_to_dataset) printf("            batches padded to %lld tokens\n", (long long)train->x_shape[1]);
        else printf("            batches padded to their longest row, rounded up to a multiple of %lld%s\n", (long long)o.pad_multiple,
                    o.group_by_length ? "; rows grouped by length" : "");
        cli_print_text_note(base, o.data, topts.max_len);
        fflush(stdout);
    }
    st = ft_train(m, train, val, &rcfg, &res);
    if (st == FT_EINTR || (st == FT_OK && res.interrupted)) {
        fprintf(stderr, "finetune: %s\n", st ? ft_errmsg() : "training interrupted");
        fprintf(stderr, "finetune: to continue, run the same command with --resume %s/checkpoint.safetensors\n", o.out);
        rc = CLI_INTERRUPTED;
        st = FT_OK;
        goto done;
    }
    if (st) goto done;
    printf("done:       %d epoch%s, %lld optimizer steps%s; final train loss %.4f", res.epochs_done,
           res.epochs_done == 1 ? "" : "s", (long long)res.steps, res.early_stopped ? " (early stopped)" : "",
           res.final_train_loss);
    if (val && task == FT_TASK_TOKEN_CLS) printf("; best validation entity F1 %.2f%% (epoch %d)", 100 * res.best_val_accuracy, res.best_epoch);
    else if (val && task == FT_TASK_LM) printf("; best validation perplexity %.3f (epoch %d)", res.best_val_accuracy > 0 ? 1.0 / res.best_val_accuracy : 0.0, res.best_epoch);
    else if (val && ctc) printf("; best validation WER %.2f%% (epoch %d)", 100 * (1 - res.best_val_accuracy), res.best_epoch);
    else if (val) printf("; best validation accuracy %.2f%% (epoch %d)", 100 * res.best_val_accuracy, res.best_epoch);
    if (task && res.positions > 0)
        printf("\npadding:    %.1f%% of the %lld positions computed were padding", 100.0 * (double)(res.positions - res.real_tokens) / (double)res.positions,
               (long long)res.positions);
    printf("\nsaved:      %s/checkpoint.safetensors%s, metrics.jsonl, report.html\n", o.out,
           val ? ", best.safetensors" : "");
    printf("next:       finetune eval --model %s/checkpoint.safetensors --data <spec>\n", o.out);

done:
    if (st) rc = cli_lib_error();
    ft_model_free(m2);
    ft_model_free(m);
    if (split_val) {
        ft_dataset_free(split_val);
        ft_dataset_free(train); /* the other half of the split */
    } else if (val) {
        ft_dataset_free(val);
    }
    ft_dataset_free(base);
    ft_tokenizer_free(tok);
    args_free(&a);
    return rc;
}
