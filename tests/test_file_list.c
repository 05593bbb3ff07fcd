/* The labelled file lists behind the audio and image datasets (src/data/file_list.c):
 * sorted listing, the class-per-folder walk (order, labels, rel paths, what is not a
 * regular file, depth limit, errors), the path list and the manifest helpers. */
#include "test.h"
#include "data/file_list.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static void touch(const char *name) {
    FILE *f = fopen(t_tmp(name), "wb");
    if (!f) { perror(name); exit(2); }
    fclose(f);
}

static void mkdir_t(const char *name) {
    if (mkdir(t_tmp(name), 0755) && errno != EEXIST) { perror(name); exit(2); }
}

/* What a walk saw, one line per call: "file <rel> <label>", "dangling <rel>", "other <rel>",
 * "root <name>", "begin", "end <path>". */
typedef struct {
    char log[4096];
    int fail_at;        /* file call number that fails (0: none) */
    int files;
    int end_fails;      /* class_end fails for an empty class */
    int class_files;
} seen;

static void logf_(seen *s, const char *fmt, ...) {
    size_t n = strlen(s->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->log + n, sizeof s->log - n, fmt, ap);
    va_end(ap);
}

static ft_status on_file(void *ctx, const char *path, const char *rel, const char *name, const struct stat *sb,
                         int32_t label) {
    seen *s = ctx;
    s->files++;
    s->class_files++;
    if (strcmp(strrchr(path, '/') + 1, name) || strcmp(strrchr(rel, '/') + 1, name)) logf_(s, "BADPATH %s\n", path);
    if (!sb) logf_(s, "dangling %s\n", rel);
    else if (!S_ISREG(sb->st_mode)) logf_(s, "other %s\n", rel);
    else logf_(s, "file %s %d\n", rel, (int)label);
    if (s->fail_at && s->files == s->fail_at) return ft_fail(FT_EIO, "stop at %s", rel);
    return FT_OK;
}

static void on_root(void *ctx, const char *name) { logf_(ctx, "root %s\n", name); }
static void on_begin(void *ctx) { seen *s = ctx; s->class_files = 0; logf_(s, "begin\n"); }
static ft_status on_end(void *ctx, const char *path) {
    seen *s = ctx;
    logf_(s, "end %s\n", strrchr(path, '/') + 1);
    if (s->end_fails && !s->class_files) return ft_fail(FT_EFORMAT, "%s: empty class", path);
    return FT_OK;
}

static void test_list_dir(void) {
    mkdir_t("ls");
    mkdir_t("ls/empty");
    const char *names[] = {"b", "a", "B", "a2", "10", "9", ".hidden", "Z"};
    char rel[64];
    for (int k = 0; k < 8; k++) { snprintf(rel, sizeof rel, "ls/%s", names[k]); touch(rel); }
    fl_names L;
    CHECK_OK(fl_list_dir(t_tmp("ls"), &L));
    /* strcmp order, hidden names left out. */
    const char *want[] = {"10", "9", "B", "Z", "a", "a2", "b", "empty"};
    CHECKF(L.n == 8, "%d names", L.n);
    for (int k = 0; k < L.n && k < 8; k++) CHECKF(!strcmp(L.v[k], want[k]), "%d: %s, want %s", k, L.v[k], want[k]);
    fl_names_free(&L);
    CHECK(L.n == 0 && !L.v);
    CHECK_OK(fl_list_dir(t_tmp("ls/empty"), &L));
    CHECK(L.n == 0);
    fl_names_free(&L);
    CHECK_ERR(fl_list_dir(t_tmp("ls/missing"), &L), FT_ENOTFOUND);
    CHECK(t_msg_has("ls/missing: no such folder"));
    CHECK(L.n == 0 && !L.v);
    CHECK_ERR(fl_list_dir(t_tmp("ls/a"), &L), FT_EINVAL);
    CHECK(t_msg_has("ls/a: not a folder"));
    if (geteuid() != 0) {
        mkdir_t("ls/locked");
        chmod(t_tmp("ls/locked"), 0);
        CHECK_ERR(fl_list_dir(t_tmp("ls/locked"), &L), FT_EIO);
        CHECK(t_msg_has("ls/locked: cannot list: "));
        chmod(t_tmp("ls/locked"), 0755);
    } else {
        printf("note: running as root, an unlistable folder cannot be made; that case is not checked\n");
    }
}

static void test_walk(void) {
    /* w/: files sorted first, then subfolders sorted, recursively; a dangling symlink and
     * a FIFO are given to the callback as such; hidden entries never. */
    mkdir_t("w");
    mkdir_t("w/sub");
    mkdir_t("w/sub/deeper");
    mkdir_t("w/a_dir");
    touch("w/z.wav");
    touch("w/b.wav");
    touch("w/.hidden.wav");
    touch("w/sub/x.wav");
    touch("w/sub/deeper/y.wav");
    touch("w/a_dir/c.wav");
    CHECK(symlink(t_tmp("w/nowhere"), t_tmp("w/dangling")) == 0);
    CHECK(mkfifo(t_tmp("w/fifo"), 0644) == 0);
    seen s = {0};
    fl_walker w = {.file = on_file, .ctx = &s};
    CHECK_OK(fl_walk(t_tmp("w"), "top", 7, &w));
    const char *want = "file top/b.wav 7\ndangling top/dangling\nother top/fifo\nfile top/z.wav 7\n"
                       "file top/a_dir/c.wav 7\nfile top/sub/x.wav 7\nfile top/sub/deeper/y.wav 7\n";
    CHECKF(!strcmp(s.log, want), "walk saw:\n%s", s.log);

    /* A failing callback stops the walk with its status and message. */
    seen s2 = {.fail_at = 2};
    w.ctx = &s2;
    CHECK_ERR(fl_walk(t_tmp("w"), "top", 0, &w), FT_EIO);
    CHECK(t_msg_has("stop at top/dangling"));
    CHECK(s2.files == 2);

    /* Missing folder, and a file given as the folder. */
    CHECK_ERR(fl_walk(t_tmp("w/missing"), "m", 0, &w), FT_ENOTFOUND);
    CHECK(t_msg_has("w/missing: no such folder"));
    CHECK_ERR(fl_walk(t_tmp("w/b.wav"), "m", 0, &w), FT_EINVAL);
    CHECK(t_msg_has("w/b.wav: not a folder"));

    /* A symlink loop ends at the depth limit, with the walker's note. */
    mkdir_t("loop");
    CHECK(symlink(t_tmp("loop"), t_tmp("loop/again")) == 0);
    seen s3 = {0};
    fl_walker wl = {.file = on_file, .too_deep = " (a symlink loop?)", .ctx = &s3};
    CHECK_ERR(fl_walk(t_tmp("loop"), "loop", 0, &wl), FT_EINVAL);
    CHECK(t_msg_has("folders nested more than 16 deep (a symlink loop?)"));
    wl.too_deep = NULL;
    CHECK_ERR(fl_walk(t_tmp("loop"), "loop", 0, &wl), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "nested more than 16 deep") && !strstr(ft_errmsg(), "symlink"));
}

static void test_walk_classes(void) {
    /* Classes are root's subfolders in strcmp order (labels 0, 1, ...), an empty class
     * folder is walked (class_end decides), root files go to root_file. */
    mkdir_t("c");
    mkdir_t("c/dog");
    mkdir_t("c/cat");
    mkdir_t("c/Emu");
    touch("c/readme.txt");
    touch("c/dog/1.wav");
    touch("c/cat/2.wav");
    touch("c/cat/1.wav");
    seen s = {0};
    fl_walker w = {.file = on_file, .root_file = on_root, .class_begin = on_begin, .class_end = on_end,
                   .layout = "<root>/<class>/<file>", .ctx = &s};
    fl_names cls;
    CHECK_OK(fl_walk_classes(t_tmp("c"), &w, &cls));
    CHECKF(cls.n == 3, "%d classes", cls.n);
    if (cls.n == 3) CHECK(!strcmp(cls.v[0], "Emu") && !strcmp(cls.v[1], "cat") && !strcmp(cls.v[2], "dog"));
    const char *want = "root readme.txt\nbegin\nend Emu\nbegin\nfile cat/1.wav 1\nfile cat/2.wav 1\nend cat\n"
                       "begin\nfile dog/1.wav 2\nend dog\n";
    CHECKF(!strcmp(s.log, want), "walk saw:\n%s", s.log);
    fl_names_free(&cls);
    /* Without root_file / class hooks the same walk gives only the files. */
    seen s1 = {0};
    fl_walker w1 = {.file = on_file, .layout = "x", .ctx = &s1};
    CHECK_OK(fl_walk_classes(t_tmp("c"), &w1, &cls));
    CHECKF(!strcmp(s1.log, "file cat/1.wav 1\nfile cat/2.wav 1\nfile dog/1.wav 2\n"), "walk saw:\n%s", s1.log);
    fl_names_free(&cls);

    /* class_end's failure (the empty class) is the walk's, and no class names come back. */
    seen s2 = {.end_fails = 1};
    w.ctx = &s2;
    CHECK_ERR(fl_walk_classes(t_tmp("c"), &w, &cls), FT_EFORMAT);
    CHECK(t_msg_has("c/Emu: empty class"));
    CHECK(cls.n == 0 && !cls.v);

    /* No class folders: only files (and a dangling link) in root. */
    mkdir_t("flat");
    touch("flat/a.wav");
    CHECK(symlink(t_tmp("flat/none"), t_tmp("flat/link")) == 0);
    seen s3 = {0};
    w.ctx = &s3;
    CHECK_ERR(fl_walk_classes(t_tmp("flat"), &w, &cls), FT_EFORMAT);
    CHECK(t_msg_has("flat: no class folders (expected <root>/<class>/<file>)"));
    CHECKF(!strcmp(s3.log, "root a.wav\nroot link\n"), "walk saw:\n%s", s3.log);
    mkdir_t("none");
    CHECK_ERR(fl_walk_classes(t_tmp("none"), &w, &cls), FT_EFORMAT);
    CHECK_ERR(fl_walk_classes(t_tmp("nothere"), &w, &cls), FT_ENOTFOUND);
    CHECK(t_msg_has("nothere: no such folder"));
    CHECK_ERR(fl_walk_classes(t_tmp("c/readme.txt"), &w, &cls), FT_EINVAL);
    CHECK(t_msg_has("readme.txt: not a folder"));
}

static void test_paths(void) {
    fl_paths l = {0};
    char p[64];
    bool ok = true;
    for (int k = 0; k < 1000 && ok; k++) {
        snprintf(p, sizeof p, "dir/%0*d", 1 + k % 40, k);
        ok = fl_paths_add(&l, p, k * 3) == FT_OK;
    }
    CHECK(ok && l.n == 1000);
    for (int k = 0; k < l.n && ok; k++) {
        snprintf(p, sizeof p, "dir/%0*d", 1 + k % 40, k);
        ok = !strcmp(l.pool + l.off[k], p) && l.label[k] == k * 3;
    }
    CHECK(ok);
    fl_paths_free(&l);
    CHECK(l.n == 0 && !l.pool);
}

static void test_manifest_helpers(void) {
    char line[] = " a.wav , \"b, \"\"q\"\"\" ,, c\t";
    char *f[4];
    CHECK(fl_csv_split(line, f, 4) == 4);
    CHECK(!strcmp(f[0], "a.wav") && !strcmp(f[1], "b, \"q\"") && !strcmp(f[2], "") && !strcmp(f[3], "c"));
    char l2[] = "x,y,z";
    CHECK(fl_csv_split(l2, f, 2) == 3 && !strcmp(f[0], "x") && !strcmp(f[1], "y"));
    char l3[] = "\"open,x";
    CHECK(fl_csv_split(l3, f, 4) == -1);
    char l4[] = "\"q\"junk,x";
    CHECK(fl_csv_split(l4, f, 4) == -1);
    char l5[] = "";
    CHECK(fl_csv_split(l5, f, 4) == 1 && !strcmp(f[0], ""));

    CHECK(fl_numeric_label("0") && fl_numeric_label("1000000") && fl_numeric_label("0000012"));
    CHECK(!fl_numeric_label("") && !fl_numeric_label("1000001") && !fl_numeric_label("00000001") &&
          !fl_numeric_label("-1") && !fl_numeric_label("1a") && !fl_numeric_label(" 1"));

    char *labels[] = {"yes", "no", "yes", "No", "up", "no"};
    char **names = NULL;
    int nc = 0;
    CHECK_OK(fl_class_names(labels, 6, "m.csv", 10, &names, &nc));
    CHECK(nc == 4);
    if (names && nc == 4) {
        CHECK(!strcmp(names[0], "No") && !strcmp(names[1], "no") && !strcmp(names[2], "up") &&
              !strcmp(names[3], "yes"));
        CHECK(names[3] != labels[0]); /* copies */
        int32_t want[] = {3, 1, 3, 0, 2, 1};
        bool ok = true;
        for (int k = 0; k < 6; k++) ok = ok && fl_class_index(names, nc, labels[k]) == want[k];
        CHECK(ok);
        for (int c = 0; c < nc; c++) ft_free(names[c]);
        ft_free(names);
    }
    CHECK_ERR(fl_class_names(labels, 6, "m.csv", 3, &names, &nc), FT_EFORMAT);
    CHECK(t_msg_has("m.csv: 4 classes"));
    CHECK(!names && nc == 4);

    char base[16];
    CHECK_OK(fl_base_dir("m.csv", base, sizeof base));
    CHECK(!strcmp(base, "."));
    CHECK_OK(fl_base_dir("/m.csv", base, sizeof base));
    CHECK(!strcmp(base, "/"));
    CHECK_OK(fl_base_dir("a/b/m.csv", base, sizeof base));
    CHECK(!strcmp(base, "a/b"));
    CHECK_ERR(fl_base_dir("0123456789abcdef/m.csv", base, sizeof base), FT_EINVAL);
    CHECK(t_msg_has("0123456789abcdef/m.csv: path too long"));
}

int main(void) {
    if (!t_tmpdir_make("file_list")) return 2;
    test_list_dir();
    test_walk();
    test_walk_classes();
    test_paths();
    test_manifest_helpers();
    t_tmpdir_remove();
    TEST_END();
}
