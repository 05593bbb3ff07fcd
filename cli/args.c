/* Table-driven flag parser, config-file merge and --help generation (see args.h). */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int args_usage_error(const args_ctx *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "finetune %s: ", a->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see finetune %s --help)\n", a->cmd);
    va_end(ap);
    return ARGS_ERROR;
}

/* Flag names compare with '_' and '-' the same, so config keys may use either. */
static bool name_eq(const char *a, const char *b, size_t blen) {
    size_t i = 0;
    for (; i < blen && a[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
        if (x != y) return false;
    }
    return i == blen && a[i] == 0;
}

static arg_spec *find_n(args_ctx *a, const char *name, size_t len) {
    for (int i = 0; i < a->n_specs; i++)
        if (name_eq(a->specs[i].name, name, len)) return &a->specs[i];
    return NULL;
}

arg_spec *args_find(args_ctx *a, const char *name) { return find_n(a, name, strlen(name)); }

bool args_was_set(args_ctx *a, const char *name) {
    arg_spec *s = args_find(a, name);
    return s && s->set;
}

/* ---- values ---- */

static void range_text(const arg_spec *s, char *buf, size_t cap) {
    buf[0] = 0;
    bool lo = s->flags & ARG_MIN, hi = s->flags & ARG_MAX;
    const char *lop = s->flags & ARG_MIN_EXCL ? ">" : ">=";
    const char *hip = s->flags & ARG_MAX_EXCL ? "<" : "<=";
    if (lo && hi) {
        snprintf(buf, cap, "%s %.15g and %s %.15g", lop, s->min, hip, s->max);
    } else if (lo) {
        snprintf(buf, cap, "%s %.15g", lop, s->min);
    } else if (hi) {
        snprintf(buf, cap, "%s %.15g", hip, s->max);
    }
}

static bool in_range(const arg_spec *s, double v) {
    if (s->flags & ARG_MIN) {
        if (s->flags & ARG_MIN_EXCL ? !(v > s->min) : !(v >= s->min)) return false;
    }
    if (s->flags & ARG_MAX) {
        if (s->flags & ARG_MAX_EXCL ? !(v < s->max) : !(v <= s->max)) return false;
    }
    return true;
}

static int range_error(args_ctx *a, const arg_spec *s, const char *where, const char *got) {
    char r[96];
    range_text(s, r, sizeof r);
    return args_usage_error(a, "%s must be %s (got %s)", where, r, got);
}

static bool choice_ok(const char *choices, const char *v) {
    size_t n = strlen(v);
    const char *p = choices;
    while (p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Store a textual value (command line) into s. `where` names the flag for messages. */
static int set_text(args_ctx *a, arg_spec *s, const char *text, const char *where) {
    switch (s->kind) {
    case ARG_INT: {
        char *end;
        errno = 0;
        long long v = (text[0] && !isspace((unsigned char)text[0])) ? strtoll(text, &end, 10) : 0;
        if (!text[0] || isspace((unsigned char)text[0]) || *end)
            return args_usage_error(a, "%s: '%s' is not an integer", where, text);
        if (errno == ERANGE || ((s->flags & ARG_INT32) && (v > INT_MAX || v < INT_MIN)))
            return args_usage_error(a, "%s: '%s' is out of range", where, text);
        if (!in_range(s, (double)v)) return range_error(a, s, where, text);
        *(int64_t *)s->target = v;
        break;
    }
    case ARG_FLOAT: {
        char *end;
        errno = 0;
        double v = (text[0] && !isspace((unsigned char)text[0])) ? strtod(text, &end) : 0;
        if (!text[0] || isspace((unsigned char)text[0]) || *end)
            return args_usage_error(a, "%s: '%s' is not a number", where, text);
        if (errno == ERANGE || !isfinite(v))
            return args_usage_error(a, "%s: '%s' is not a finite number", where, text);
        if (!in_range(s, v)) return range_error(a, s, where, text);
        *(double *)s->target = v;
        break;
    }
    case ARG_STRING:
        if (!text[0]) return args_usage_error(a, "%s: empty value", where);
        if (s->choices && !choice_ok(s->choices, text))
            return args_usage_error(a, "%s: '%s' is not one of %s", where, text, s->choices);
        *(const char **)s->target = text;
        break;
    case ARG_BOOL:
        *(bool *)s->target = true;
        break;
    }
    s->set = true;
    return ARGS_OK;
}

/* ---- help ---- */

static void default_text(const arg_spec *s, char *buf, size_t cap) {
    buf[0] = 0;
    if (s->defstr) { snprintf(buf, cap, "%s", s->defstr); return; }
    switch (s->kind) {
    case ARG_INT: snprintf(buf, cap, "%lld", (long long)*(int64_t *)s->target); break;
    case ARG_FLOAT: snprintf(buf, cap, "%g", *(double *)s->target); break;
    case ARG_STRING: {
        const char *v = *(const char **)s->target;
        if (v) snprintf(buf, cap, "%s", v);
        break;
    }
    case ARG_BOOL: break;
    }
}

void args_print_help(const args_ctx *a, FILE *f) {
    fprintf(f, "Usage: finetune %s %s\n\n", a->cmd, a->usage);
    if (a->summary) fprintf(f, "%s\n\n", a->summary);
    fprintf(f, "Options:\n");
    for (int i = 0; i < a->n_specs; i++) {
        const arg_spec *s = &a->specs[i];
        char left[96], def[128], range[96];
        const char *mv = s->kind == ARG_BOOL ? NULL : s->metavar ? s->metavar : s->choices ? s->choices : "VALUE";
        if (mv) snprintf(left, sizeof left, "--%s %s", s->name, mv);
        else snprintf(left, sizeof left, "--%s", s->name);
        default_text(s, def, sizeof def);
        range_text(s, range, sizeof range);
        if (strlen(left) > 28) fprintf(f, "  %s\n  %-28s %s", left, "", s->help);
        else fprintf(f, "  %-28s %s", left, s->help);
        if (range[0]) fprintf(f, " [%s]", range);
        if (s->flags & ARG_REQUIRED) fprintf(f, " (required)");
        else if (def[0]) fprintf(f, " (default: %s)", def);
        fputc('\n', f);
    }
    fprintf(f, "  %-28s %s\n", "-h, --help", "show this help and exit");
}

/* ---- command line ---- */

static bool is_help(const char *s) { return !strcmp(s, "--help") || !strcmp(s, "-h"); }

int args_parse(args_ctx *a, int argc, char **argv, bool check_required) {
    /* Pass 1: look for --help (skipping the values of known flags) before anything is
     * assigned, so the help shows the defaults. */
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) { args_print_help(a, stdout); return ARGS_HELP; }
        if (!strncmp(argv[i], "--", 2) && !strchr(argv[i], '=')) {
            arg_spec *s = args_find(a, argv[i] + 2);
            if (s && s->kind != ARG_BOOL && i + 1 < argc && strncmp(argv[i + 1], "--", 2)) i++;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) || !arg[2]) {
            if (arg[0] == '-' && arg[1])
                return args_usage_error(a, "unknown flag '%s'", arg);
            return args_usage_error(a, "unexpected argument '%s'", arg);
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        arg_spec *s = find_n(a, name, len);
        if (!s) return args_usage_error(a, "unknown flag '--%.*s'", (int)len, name);
        char where[80];
        snprintf(where, sizeof where, "--%s", s->name);
        const char *val;
        if (s->kind == ARG_BOOL) {
            if (eq) return args_usage_error(a, "%s takes no value", where);
            val = "";
        } else if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
                return args_usage_error(a, "%s needs a value (%s)", where, s->metavar ? s->metavar : "VALUE");
            val = argv[++i];
        }
        if (set_text(a, s, val, where)) return ARGS_ERROR;
    }
    return check_required ? args_check_required(a) : ARGS_OK;
}

int args_check_required(args_ctx *a) {
    for (int i = 0; i < a->n_specs; i++)
        if ((a->specs[i].flags & ARG_REQUIRED) && !a->specs[i].set)
            return args_usage_error(a, "--%s is required", a->specs[i].name);
    return ARGS_OK;
}

/* ---- config file ---- */

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static int set_json(args_ctx *a, arg_spec *s, json_t *v, const char *key) {
    char where[300];
    snprintf(where, sizeof where, "%s: key \"%s\"", a->config_path, key);
    char got[64];
    switch (s->kind) {
    case ARG_INT: {
        if (!json_is_integer(v))
            return args_usage_error(a, "%s must be an integer, not %s", where, json_kind(v));
        long long x = json_integer_value(v);
        snprintf(got, sizeof got, "%lld", x);
        if ((s->flags & ARG_INT32) && (x > INT_MAX || x < INT_MIN))
            return args_usage_error(a, "%s: %s is out of range", where, got);
        if (!in_range(s, (double)x)) return range_error(a, s, where, got);
        if (!s->set) *(int64_t *)s->target = x;
        break;
    }
    case ARG_FLOAT: {
        if (!json_is_number(v))
            return args_usage_error(a, "%s must be a number, not %s", where, json_kind(v));
        double x = json_number_value(v);
        snprintf(got, sizeof got, "%g", x);
        if (!in_range(s, x)) return range_error(a, s, where, got);
        if (!s->set) *(double *)s->target = x;
        break;
    }
    case ARG_STRING: {
        if (!json_is_string(v))
            return args_usage_error(a, "%s must be a string, not %s", where, json_kind(v));
        const char *x = json_string_value(v);
        if (!x[0] || strlen(x) != json_string_length(v))
            return args_usage_error(a, "%s: empty or invalid string", where);
        if (s->choices && !choice_ok(s->choices, x))
            return args_usage_error(a, "%s: '%s' is not one of %s", where, x, s->choices);
        if (!s->set) *(const char **)s->target = x; /* lives as long as config_root */
        break;
    }
    case ARG_BOOL:
        if (!json_is_boolean(v))
            return args_usage_error(a, "%s must be true or false, not %s", where, json_kind(v));
        if (!s->set) *(bool *)s->target = json_is_true(v);
        break;
    }
    s->set = true;
    return ARGS_OK;
}

int args_merge_config(args_ctx *a, const char *path) {
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    a->config_path = path;
    if (!root) {
        if (err.line < 1) return args_usage_error(a, "--config: cannot read '%s': %s", path, err.text);
        return args_usage_error(a, "--config: %s:%d:%d: %s", path, err.line, err.column, err.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return args_usage_error(a, "--config: %s: expected a JSON object of flag names and values", path);
    }
    /* Keep the root alive: string values point into it. Only one config per command. */
    if (a->config_root) json_decref((json_t *)a->config_root);
    a->config_root = root;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        arg_spec *s = args_find(a, key);
        if (!s || (s->flags & ARG_NO_CONFIG))
            return args_usage_error(a, "%s: unknown key \"%s\"", path, key);
        if (set_json(a, s, v, key)) return ARGS_ERROR;
    }
    return ARGS_OK;
}

void args_free(args_ctx *a) {
    if (a->config_root) json_decref((json_t *)a->config_root);
    a->config_root = NULL;
}
