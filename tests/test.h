/* Minimal test harness: CHECK records failures without stopping; main ends with
 * TEST_END() which prints "N passed, N failed" and returns non-zero on any failure. */
#ifndef FT_TEST_H
#define FT_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "finetune.h"

static int t_pass, t_fail;
#define CHECK(cond) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_OK(expr) do { ft_status s_ = (expr); if (s_ == FT_OK) t_pass++; else { t_fail++; \
    fprintf(stderr, "FAIL %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr, \
            ft_status_name(s_), ft_errmsg()); } } while (0)
#define CHECK_ERR(expr, want) do { ft_status s_ = (expr); if (s_ == (want)) t_pass++; else { \
    t_fail++; fprintf(stderr, "FAIL %s:%d: %s -> %s, want %s (%s)\n", __FILE__, __LINE__, \
    #expr, ft_status_name(s_), ft_status_name(want), ft_errmsg()); } } while (0)
#define TEST_END() do { printf("%s: %d passed, %d failed\n", __FILE__, t_pass, t_fail); \
    return t_fail ? 1 : 0; } while (0)

/* |a-b| <= atol + rtol*|b| elementwise; prints the worst offender. */
static inline int t_close(const float *a, const float *b, long n, double rtol, double atol, const char *what) {
    long worst = -1; double wd = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim) && (worst < 0 || d > wd)) { worst = i; wd = d; }
    }
    if (worst >= 0) { fprintf(stderr, "  %s: mismatch at %ld: %g vs %g\n", what, worst, a[worst], b[worst]); return 0; }
    return 1;
}
/* Path to ../shared if present; NULL (and a visible skip line) when absent. */
static inline const char *t_shared(const char *what) {
    const char *p = getenv("FT_SHARED"); if (!p) p = "../shared";
    FILE *f; char buf[512]; snprintf(buf, sizeof buf, "%s/README.md", p);
    if ((f = fopen(buf, "r"))) { fclose(f); return p; }
    printf("SKIP %s: %s not found\n", what, p); return NULL;
}
#endif
