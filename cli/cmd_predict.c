/* finetune predict: top-k classes with probabilities for each example of a dataset
 * (--data SPEC), or for image files and folders given as arguments. Image files go
 * through the model's own preprocessing (ft_model_image_opts: resize, centre crop,
 * mean/std); class names come from the dataset, else the model's labels. */
#include "cli.h"
#include "args.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

/* Indices of the k largest probabilities, largest first (ties: lower index first). */
static void top_k(const float *p, int n, int k, int *idx) {
    for (int t = 0; t < k; t++) {
        int best = -1;
        for (int c = 0; c < n; c++) {
            bool taken = false;
            for (int u = 0; u < t && !taken; u++) taken = idx[u] == c;
            if (!taken && (best < 0 || p[c] > p[best])) best = c;
        }
        idx[t] = best;
    }
}


/* ---- image files and folders ---- */

typedef struct {
    char **paths;
    size_t n, cap;
    int64_t not_image; /* files in folders without an image extension */
} path_list;

static bool push_path(path_list *l, const char *p) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **np = ft_realloc(l->paths, cap * sizeof *np);
        if (!np) return false;
        l->paths = np;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = ft_strdup(p))) return false;
    l->n++;
    return true;
}

static void free_paths(path_list *l) {
    for (size_t i = 0; i < l->n; i++) ft_free(l->paths[i]);
    ft_free(l->paths);
}

static bool image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") || !strcasecmp(dot, ".bmp");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The image files of folder `dir` (sorted by name; with `recursive`, those of its
 * subfolders too, in sorted order, depth-first). Hidden entries are ignored. */
static ft_status walk(const char *dir, bool recursive, int depth, path_list *out) {
    if (depth > 64) return ft_fail(FT_EINVAL, "%s: folders nested more than 64 deep", dir);
    DIR *d = opendir(dir);
    if (!d) return ft_fail(errno == ENOENT ? FT_ENOTFOUND : FT_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    path_list names = {0};
    ft_status st = FT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!push_path(&names, e->d_name)) { st = ft_fail(FT_ENOMEM, "out of memory listing %s", dir); break; }
    }
    closedir(d);
    if (!st) qsort(names.paths, names.n, sizeof *names.paths, cmp_str);
    for (size_t i = 0; !st && i < names.n; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names.paths[i]) >= sizeof path) {
            st = ft_fail(FT_EINVAL, "%s/%s: path too long", dir, names.paths[i]);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) { out->not_image++; continue; } /* dangling link */
        if (S_ISDIR(sb.st_mode)) {
            if (recursive) st = walk(path, recursive, depth + 1, out);
        } else if (!image_ext(names.paths[i])) {
            out->not_image++;
        } else if (!push_path(out, path)) {
            st = ft_fail(FT_ENOMEM, "out of memory listing %s", dir);
        }
    }
    free_paths(&names);
    return st;
}

static void print_top(const char *what, const float *probs, const int *idx, int k, char **names, bool json, int64_t index) {
    if (json) {
        json_t *o = json_object(), *top = json_array();
        if (index >= 0) json_object_set_new(o, "index", json_integer(index));
        else json_object_set_new(o, "file", json_string(what));
        for (int t = 0; t < k; t++) {
            json_t *e = json_object();
            json_object_set_new(e, "class", json_integer(idx[t]));
            json_object_set_new(e, "name", json_string(names[idx[t]]));
            json_object_set_new(e, "prob", json_real(probs[idx[t]]));
            json_array_append_new(top, e);
        }
        json_object_set_new(o, "top", top);
        char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (text) printf("%s\n", text);
        free(text);
        return;
    }
    printf("%s ->", what);
    for (int t = 0; t < k; t++) printf("%s %s %.4f", t ? "," : "", names[idx[t]], probs[idx[t]]);
    printf("\n");
}

/* Predict each image file of `args` (files, or folders: their image files). */
static ft_status predict_files(ft_model *m, char **args, int n_args, bool recursive, bool stop, int k, bool json,
                               int *rc) {
    ft_status st = FT_OK;
    path_list files = {0};
    int64_t given_bad = 0;
    char **names = NULL;
    float *x = NULL, *probs = NULL;
    int *idx = NULL;
    /* [H, W]: a sequence model reading a grayscale picture row by row (ft_image_rows) */
    bool rows = m->in_dtype == FT_F32 && m->in_ndim == 2;
    if (!rows && (m->in_dtype != FT_F32 || m->in_ndim != 3 || m->in_shape[0] != 3)) {
        char sh[96];
        cli_format_shape(sh, sizeof sh, m->in_ndim, m->in_shape);
        return ft_fail(FT_ESHAPE, "model %s takes %s %s inputs; predicting image files needs a model of images [3, H, W] "
                       "or of pixel rows [H, W] (use --data SPEC)", m->arch ? m->arch->name : "?", cli_dtype_name(m->in_dtype), sh);
    }
    for (int a = 0; a < n_args; a++) {
        struct stat sb;
        if (stat(args[a], &sb) != 0) {
            st = ft_fail(errno == ENOENT ? FT_ENOTFOUND : FT_EIO, "%s: %s", args[a], strerror(errno));
            if (stop) goto done;
            fprintf(stderr, "finetune: skipped %s\n", ft_errmsg());
            given_bad++;
            st = FT_OK;
            continue;
        }
        size_t before = files.n;
        if (S_ISDIR(sb.st_mode)) st = walk(args[a], recursive, 0, &files);
        else if (!push_path(&files, args[a])) st = ft_fail(FT_ENOMEM, "out of memory");
        if (st) goto done;
        if (S_ISDIR(sb.st_mode) && files.n == before)
            fprintf(stderr, "finetune: note: no image files (*.jpg, *.jpeg, *.png, *.bmp) in %s%s\n", args[a],
                    recursive ? " or below it" : " (add --recursive for its subfolders)");
    }
    ft_image_opts opts = ft_model_image_opts(m);
    opts.size = (int)m->in_shape[1];
    if (!rows && m->in_shape[1] != m->in_shape[2]) {
        st = ft_fail(FT_ESHAPE, "model input [3, %lld, %lld] is not square; image files are centre-cropped to squares",
                     (long long)m->in_shape[1], (long long)m->in_shape[2]);
        goto done;
    }
    if (opts.resize > 0 && opts.resize < opts.size) opts.resize = opts.size;
    int nc = m->n_classes;
    names = cli_class_names(NULL, m, nc);
    x = ft_malloc((size_t)(rows ? m->in_shape[0] * m->in_shape[1] : 3 * m->in_shape[1] * m->in_shape[2]) * sizeof *x);
    probs = ft_malloc((size_t)nc * sizeof *probs);
    idx = ft_malloc((size_t)k * sizeof *idx);
    if (!names || !x || !probs || !idx) { st = ft_fail(FT_ENOMEM, "out of memory"); goto done; }
    int64_t done_n = 0, bad = 0;
    for (size_t i = 0; i < files.n; i++) {
        ft_image img = {0};
        st = ft_image_load(files.paths[i], &img);
        if (!st) st = rows ? ft_image_rows(&img, files.paths[i], m->in_shape[0], m->in_shape[1], x) : ft_image_transform(&img, &opts, NULL, 0, x);
        ft_image_free(&img);
        if (st) {
            if (!strstr(ft_errmsg(), files.paths[i])) ft_fail_context(st, "%s", files.paths[i]);
            if (stop) goto done;
            fprintf(stderr, "finetune: skipped %s\n", ft_errmsg());
            bad++;
            st = FT_OK;
            continue;
        }
        if ((st = ft_predict_one(m, x, probs))) goto done;
        top_k(probs, nc, k, idx);
        print_top(files.paths[i], probs, idx, k, names, json, -1);
        done_n++;
    }
    fprintf(json ? stderr : stdout, "%spredicted %lld image%s; skipped %lld unreadable", json ? "finetune: " : "",
            (long long)done_n, done_n == 1 ? "" : "s", (long long)(bad + given_bad));
    if (files.not_image) fprintf(json ? stderr : stdout, " and %lld without an image extension", (long long)files.not_image);
    fprintf(json ? stderr : stdout, "\n");
    /* Nothing predicted out of something given: a failure, not an empty success. */
    if (done_n == 0) st = ft_fail(FT_EINVAL, "no image could be predicted (of %d path%s given)", n_args, n_args == 1 ? "" : "s");
done:
    (void)rc;
    cli_class_names_free(names, m->n_classes);
    ft_free(idx);
    ft_free(probs);
    ft_free(x);
    free_paths(&files);
    return st;
}

/* Split argv into flags (with their values) and positional paths. */
static int split_args(arg_spec *specs, int n_specs, int argc, char **argv, char **flags, int *n_flags, char **pos,
                      int *n_pos) {
    *n_flags = 0;
    *n_pos = 0;
    flags[(*n_flags)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++) pos[(*n_pos)++] = argv[i];
            break;
        }
        if (a[0] == '-' && a[1]) {
            flags[(*n_flags)++] = argv[i];
            if (a[1] == '-' && !strchr(a, '=')) {
                for (int s = 0; s < n_specs; s++)
                    if (!strcmp(a + 2, specs[s].name) && specs[s].kind != ARG_BOOL && i + 1 < argc) {
                        flags[(*n_flags)++] = argv[++i];
                        break;
                    }
            }
        } else {
            pos[(*n_pos)++] = argv[i];
        }
    }
    return 0;
}

/* ctc: "index<TAB>transcript<TAB>reference" lines, or JSON Lines. */
static ft_status print_transcript(void *user, int64_t i, const char *hyp, const char *ref) {
    printf("%lld\t%s\t%s\n", (long long)i, hyp, ref);
    return FT_OK;
}
static ft_status print_transcript_json(void *user, int64_t i, const char *hyp, const char *ref) {
    json_t *o = json_pack("{s:I, s:s, s:s}", "index", (json_int_t)i, "transcript", hyp, "reference", ref);
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!t) return ft_fail(FT_ENOMEM, "out of memory writing JSON");
    printf("%s\n", t);
    free(t);
    return FT_OK;
}

int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *data = NULL;
    const char *on_error = "skip";
    int64_t k = 5, limit = 0, threads = 2, beam = 1, frontend_window = 76, frontend_hop = 8;
    double bonus = 0;
    const char *task_name = NULL, *frontend = NULL;
    bool json = false, recursive = false;
    const char *audio = NULL, *stream = NULL, *keywords = NULL;
    double window_ms = 0, hop_ms = 100, threshold = 0.5;
    int64_t merge_gap = 0, min_windows = 1, batch = 64;
    arg_spec specs[] = {
        { "model", ARG_STRING, &model, "PATH", "model directory or checkpoint", ARG_REQUIRED, 0, 0, NULL, NULL, false },
        { "data", ARG_STRING, &data, "SPEC", "dataset spec (csv:<path>, idx:<images>,<labels>, fashion-mnist:<dir>[:train|test], mnist-json:<dir>[:offset:per_class], images:<dir>[:size[:resize]], manifest:<file>[:size[:resize]]); or give image files/folders instead", 0, 0, 0, NULL, "", false },
        { "recursive", ARG_BOOL, &recursive, NULL, "with folder arguments: also the images in their subfolders (default: only the folder's own files)", 0, 0, 0, NULL, "off", false },
        { "on-error", ARG_STRING, &on_error, "MODE", "an unreadable image file: skip it (message naming it, counted) or stop", 0, 0, 0, "skip|stop", NULL, false },
        { "top-k", ARG_INT, &k, "K", "classes shown per example (at most the model's class count)", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "limit", ARG_INT, &limit, "N", "predict only the first N examples (0 = all)", ARG_MIN, 0, 0, NULL, NULL, false },
        { "json", ARG_BOOL, &json, NULL, "print one JSON object line per example (JSON Lines)", 0, 0, 0, NULL, "off", false },
        { "audio", ARG_STRING, &audio, "OPTS", "recordings: the audio front end as wav: spec options (e.g. preset=oww:clip=0.782)", 0, 0, 0, NULL, "the model's (recorded by train)", false },
        { "stream", ARG_STRING, &stream, "FILE", "slide a window over a long recording and print the times of detected keywords", 0, 0, 0, NULL, "off", false },
        { "window-ms", ARG_FLOAT, &window_ms, "MS", "--stream: window length in milliseconds", ARG_MIN, 0, 0, NULL, "the model's clip", false },
        { "hop-ms", ARG_FLOAT, &hop_ms, "MS", "--stream: hop between windows in milliseconds", ARG_MIN | ARG_MIN_EXCL, 0, 0, NULL, NULL, false },
        { "threshold", ARG_FLOAT, &threshold, "P", "--stream: a window detects the likeliest keyword when its probability is >= P", ARG_MIN | ARG_MAX, 0, 1, NULL, NULL, false },
        { "keywords", ARG_STRING, &keywords, "LIST", "--stream: the classes that are keywords, comma-separated names or indices", 0, 0, 0, NULL, "all classes", false },
        { "merge-gap", ARG_INT, &merge_gap, "N", "--stream: windows of one keyword separated by at most N windows without it merge into one detection", ARG_MIN | ARG_INT32, 0, 0, NULL, NULL, false },
        { "min-windows", ARG_INT, &min_windows, "N", "--stream: report only detections that span at least N windows", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "batch", ARG_INT, &batch, "N", "--stream: windows per forward pass", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "task", ARG_STRING, &task_name, "ctc|asr", "speech recognition: transcribe each example of ctc:/--data (default: from the data spec)", 0, 0, 0, "ctc|asr", "from the data", false },
        { "beam", ARG_INT, &beam, "N", "ctc: prefix beam search of width N (1 = greedy decoding)", ARG_MIN | ARG_INT32, 1, 0, NULL, NULL, false },
        { "bonus", ARG_FLOAT, &bonus, "X", "ctc, beam search: log-score bonus per output character (insertion bonus)", 0, 0, 0, NULL, NULL, false },
        { "frontend", ARG_STRING, &frontend, "PATH", "ctc: the frozen front-end model the model was trained on (as train --frontend)", 0, 0, 0, NULL, "none", false },
        { "frontend-window", ARG_INT, &frontend_window, "N", "ctc: frames per front-end window", ARG_MIN, 1, 0, NULL, NULL, false },
        { "frontend-hop", ARG_INT, &frontend_hop, "N", "ctc: frames between front-end windows", ARG_MIN, 1, 0, NULL, NULL, false },
        { "threads", ARG_INT, &threads, "N", "compute threads (OpenMP + BLAS)", ARG_MIN | ARG_MAX, 1, 1024, NULL, NULL, false },
    };
    args_ctx a = { "predict", "--model PATH (--data SPEC | IMAGE|FOLDER...) [options]",
                   "Print the top-k classes with their probabilities for each example of a dataset\n"
                   "(with its index and true label), or for each image file given (JPEG, PNG, BMP;\n"
                   "a folder stands for its *.jpg/*.jpeg/*.png/*.bmp files, sorted; --recursive for\n"
                   "subfolders too), preprocessed as the model expects.",
                   specs, (int)(sizeof specs / sizeof specs[0]), NULL, NULL };
    int n_specs = (int)(sizeof specs / sizeof specs[0]), n_flags = 0, n_pos = 0;
    char **flags = malloc((size_t)(argc + 1) * sizeof *flags), **pos = malloc((size_t)(argc + 1) * sizeof *pos);
    if (!flags || !pos) {
        free(flags);
        free(pos);
        fprintf(stderr, "finetune: out of memory\n");
        return CLI_FAIL;
    }
    split_args(specs, n_specs, argc, argv, flags, &n_flags, pos, &n_pos);
    int rc = args_parse(&a, n_flags, flags, true);
    if (rc == ARGS_OK && stream && (data || n_pos > 0))
        rc = args_usage_error(&a, "--stream FILE takes one recording; not with --data or other files");
    else if (rc == ARGS_OK && !stream && (args_was_set(&a, "window-ms") || args_was_set(&a, "hop-ms") || args_was_set(&a, "threshold") ||
                                          args_was_set(&a, "keywords") || args_was_set(&a, "merge-gap") || args_was_set(&a, "min-windows")))
        rc = args_usage_error(&a, "--window-ms, --hop-ms, --threshold, --keywords, --merge-gap and --min-windows apply to --stream only");
    else if (rc == ARGS_OK && !data && n_pos == 0 && !stream)
        rc = args_usage_error(&a, "give --data SPEC, image or audio files/folders, or --stream FILE to predict");
    else if (rc == ARGS_OK && data && n_pos > 0)
        rc = args_usage_error(&a, "give either --data SPEC or image files, not both (unexpected '%s')", pos[0]);
    args_free(&a);
    free(flags);
    if (rc != ARGS_OK) {
        free(pos);
        return rc == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }

    ft_model *m = NULL;
    ft_dataset *ds = NULL;
    void *x = NULL;
    float *probs = NULL;
    int *idx = NULL;
    ft_status st;
    ft_set_num_threads((int)threads);
    if ((st = cli_load_model(model, false, 0, &m, NULL))) goto done;
    if (stream) {
        rc = cli_predict_stream(m, stream, audio, window_ms, hop_ms, (float)threshold, keywords, (int)merge_gap, (int)min_windows, batch, json);
        goto done;
    }
    if (n_pos > 0 && (audio || cli_is_audio_path(pos[0]))) {
        if (k > m->n_classes) k = m->n_classes;
        rc = cli_predict_audio_files(m, pos, n_pos, audio, (int)k, json, !strcmp(on_error, "stop"));
        goto done;
    }
    if (n_pos > 0) {
        if (k > m->n_classes) k = m->n_classes;
        st = predict_files(m, pos, n_pos, recursive, !strcmp(on_error, "stop"), (int)k, json, &rc);
        goto done;
    }
    if (cli_is_ctc(task_name, data)) { /* speech recognition: one transcript per example */
        char **vocab = cli_ctc_model_vocab(m);
        if (!vocab) {
            st = ft_fail(FT_EINVAL, "model %s has no CTC vocabulary (labels starting with \"%s\"): train it with ctc: data",
                         model, FT_CTC_BLANK_NAME);
            goto done;
        }
        cli_frontend fe = {frontend, frontend_window, frontend_hop};
        st = cli_open_ctc(data, m, &fe, (const char *const *)vocab, m->n_classes, false, &ds);
        ft_model_labels_free(vocab, m->n_classes);
        if (st) goto done;
        st = ft_ctc_transcribe(m, ds, limit, 32, (int)beam, (float)bonus, json ? print_transcript_json : print_transcript, NULL);
        goto done;
    }
    ft_image_opts img = ft_model_image_opts(m);
    img.on_error = !strcmp(on_error, "stop") ? FT_IMG_FAIL : FT_IMG_SKIP;
    if ((st = ft_dataset_open_with(data, &img, &ds))) goto done;
    if ((st = cli_check_input(m, ds, data))) goto done;
    int nc = m->n_classes;
    if (k > nc) k = nc;
    int64_t n = limit > 0 && limit < ds->n ? limit : ds->n;
    x = malloc((size_t)(ds->x_numel > 0 ? ds->x_numel : 1) * 4); /* F32 and I32 are both 4 bytes */
    probs = malloc((size_t)nc * sizeof *probs);
    idx = malloc((size_t)k * sizeof *idx);
    if (!x || !probs || !idx) {
        st = ft_fail(FT_ENOMEM, "out of memory for one example of '%s'", data);
        goto done;
    }
    int64_t correct = 0, labelled = 0;
    char b1[32], b2[32];
    for (int64_t i = 0; i < n; i++) {
        int32_t y = -1;
        if ((st = ds->get(ds, i, NULL, x, &y))) goto done;
        if ((st = ft_predict_one(m, x, probs))) goto done;
        top_k(probs, nc, (int)k, idx);
        if (y >= 0) { labelled++; correct += idx[0] == y; }
        if (json) {
            json_t *o = json_object(), *top = json_array();
            json_object_set_new(o, "index", json_integer(i));
            if (y >= 0) {
                json_object_set_new(o, "label", json_integer(y));
                json_object_set_new(o, "label_name", json_string(cli_class_name(ds, y, b1, sizeof b1)));
            }
            for (int t = 0; t < k; t++) {
                json_t *e = json_object();
                json_object_set_new(e, "class", json_integer(idx[t]));
                json_object_set_new(e, "name", json_string(cli_class_name(ds, idx[t], b1, sizeof b1)));
                json_object_set_new(e, "prob", json_real(probs[idx[t]]));
                json_array_append_new(top, e);
            }
            json_object_set_new(o, "top", top);
            char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            json_decref(o);
            if (!text) { st = ft_fail(FT_ENOMEM, "out of memory writing JSON"); goto done; }
            printf("%s\n", text);
            free(text);
        } else {
            printf("#%lld", (long long)i);
            if (y >= 0) printf("  true: %s%s", cli_class_name(ds, y, b1, sizeof b1), idx[0] == y ? "" : " (wrong)");
            printf("  ->");
            for (int t = 0; t < k; t++)
                printf("%s %s %.4f", t ? "," : "", cli_class_name(ds, idx[t], b2, sizeof b2), probs[idx[t]]);
            printf("\n");
        }
    }
    if (!json && labelled)
        printf("top-1 correct: %lld/%lld (%.2f%%)\n", (long long)correct, (long long)labelled,
               100.0 * (double)correct / (double)labelled);

done:
    if (st) rc = cli_lib_error();
    free(pos);
    free(idx);
    free(probs);
    free(x);
    ft_dataset_free(ds);
    ft_model_free(m);
    return rc;
}
