/* Runs tests/test_cli.sh against the CLI of this build directory and folds the script's
 * own "N passed, N failed" line into this test's counts; the script's exit status is one
 * more check. The build directory comes from argv[0]: build/tests/test_cli -> build. */
#include "test.h"

#include <sys/stat.h>
#include <sys/wait.h>

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Single-quote s for sh (quotes inside become '\''). */
static void sh_quote(char *dst, size_t cap, const char *s) {
    size_t o = 0;
    if (o + 1 < cap) dst[o++] = '\'';
    for (; *s && o + 5 < cap; s++) {
        if (*s == '\'') { memcpy(dst + o, "'\\''", 4); o += 4; }
        else dst[o++] = *s;
    }
    if (o + 1 < cap) dst[o++] = '\'';
    dst[o] = 0;
}

int main(int argc, char **argv) {
    (void)argc;
    /* build dir = argv[0] without its last two components ("tests/test_cli"). */
    char build[2048];
    snprintf(build, sizeof build, "%s", argv[0]);
    char *slash = strrchr(build, '/');
    if (!slash) {
        snprintf(build, sizeof build, "..");        /* run as "test_cli" from <build>/tests */
    } else {
        *slash = 0;
        if ((slash = strrchr(build, '/'))) *slash = 0;
        else snprintf(build, sizeof build, ".");    /* run as "tests/test_cli" from <build> */
    }
    if (!build[0]) snprintf(build, sizeof build, "/");

    /* The script: tests/test_cli.sh from the current directory (tests/run.sh runs from the
     * repository root), else next to the build directory. */
    char script[2200];
    snprintf(script, sizeof script, "tests/test_cli.sh");
    if (!exists(script)) snprintf(script, sizeof script, "%s/../tests/test_cli.sh", build);
    if (!exists(script)) {
        fprintf(stderr, "FAIL: tests/test_cli.sh not found (cwd or %s/..)\n", build);
        t_fail++;
        TEST_END();
    }

    char qs[4500], qb[4200], cmd[9000];
    sh_quote(qs, sizeof qs, script);
    sh_quote(qb, sizeof qb, build);
    snprintf(cmd, sizeof cmd, "bash %s %s 2>&1", qs, qb);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    CHECKF(p != NULL, "cannot run %s", cmd);
    if (!p) TEST_END();
    char line[4096];
    int sp = -1, sf = -1;
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        int a, b;
        if (sscanf(line, "%d passed, %d failed", &a, &b) == 2) { sp = a; sf = b; }
    }
    int status = pclose(p);
    int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    CHECKF(sp >= 0, "test_cli.sh printed no \"N passed, N failed\" line");
    if (sp > 0) t_pass += sp;
    if (sf > 0) t_fail += sf;
    CHECKF(code == 0, "test_cli.sh exited with status %d", code);
    TEST_END();
}
