/* Evaluation metrics and report: per-class precision/recall/F1 against hand-computed
 * confusion matrices, the confusion PNG read back with libpng (size, colours, grid),
 * eval.html content, and the failures (bad sizes, unwritable paths). */
#include "test.h"

#include <png.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12; }

static void test_metrics(void) {
    /* 3 classes, rows true, columns predicted:
     *   a: 5 right, 1 as b, 0 as c        support 6
     *   b: 2 as a,  3 right, 1 as c       support 6
     *   c: 0,       0,       4 right      support 4
     * column sums (predicted): a 7, b 4, c 5.
     * precision a = 5/7, b = 3/4, c = 4/5; recall a = 5/6, b = 3/6, c = 4/4. */
    const int64_t conf[9] = {5, 1, 0, 2, 3, 1, 0, 0, 4};
    ft_class_metrics m[3];
    ft_confusion_metrics(conf, 3, m);
    CHECK(close_to(m[0].precision, 5.0 / 7) && close_to(m[0].recall, 5.0 / 6));
    CHECK(close_to(m[1].precision, 3.0 / 4) && close_to(m[1].recall, 0.5));
    CHECK(close_to(m[2].precision, 4.0 / 5) && close_to(m[2].recall, 1.0));
    /* F1 = 2pr/(p+r): a = 2*(5/7)(5/6)/((5/7)+(5/6)) = 10/13; b = 0.6; c = 8/9. */
    CHECKF(close_to(m[0].f1, 10.0 / 13), "f1 a %.15g", m[0].f1);
    CHECKF(close_to(m[1].f1, 0.6), "f1 b %.15g", m[1].f1);
    CHECKF(close_to(m[2].f1, 8.0 / 9), "f1 c %.15g", m[2].f1);
    CHECK(m[0].support == 6 && m[1].support == 6 && m[2].support == 4);
    CHECK(m[0].predicted == 7 && m[1].predicted == 4 && m[2].predicted == 5);

    /* A class never predicted (precision 0), a class never present (recall 0), and one
     * with neither (all zero): sklearn's zero_division=0. */
    const int64_t z[9] = {3, 0, 1, 2, 0, 0, 0, 0, 0};
    ft_confusion_metrics(z, 3, m);
    CHECK(close_to(m[0].precision, 3.0 / 5) && close_to(m[0].recall, 3.0 / 4));
    CHECK(m[1].precision == 0 && m[1].recall == 0 && m[1].f1 == 0 && m[1].support == 2 && m[1].predicted == 0);
    CHECK(m[2].precision == 0 && m[2].recall == 0 && m[2].f1 == 0 && m[2].support == 0 && m[2].predicted == 1);
    /* One class, all right. */
    const int64_t one[1] = {9};
    ft_confusion_metrics(one, 1, m);
    CHECK(m[0].precision == 1 && m[0].recall == 1 && m[0].f1 == 1);
}

typedef struct {
    int w, h, color_type, bit_depth;
    uint8_t *rgb; /* h rows of w RGB triplets */
} png_img;

static void on_png_error(png_structp p, png_const_charp msg) { (void)msg; png_longjmp(p, 1); }

/* Read an 8-bit RGB PNG; returns 0 when it is not a valid one. */
static int read_png(const char *path, png_img *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint8_t sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) { fclose(f); return 0; }
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, on_png_error, NULL);
    png_infop info = png_create_info_struct(p);
    uint8_t *volatile rgb = NULL;
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_read_struct(&p, &info, NULL);
        fclose(f);
        free(rgb);
        return 0;
    }
    png_init_io(p, f);
    png_set_sig_bytes(p, 8);
    png_read_info(p, info);
    out->w = (int)png_get_image_width(p, info);
    out->h = (int)png_get_image_height(p, info);
    out->color_type = png_get_color_type(p, info);
    out->bit_depth = png_get_bit_depth(p, info);
    if (out->color_type != PNG_COLOR_TYPE_RGB || out->bit_depth != 8) png_longjmp(p, 1);
    rgb = malloc((size_t)out->w * out->h * 3);
    for (int y = 0; y < out->h; y++) png_read_row(p, rgb + (size_t)y * out->w * 3, NULL);
    png_read_end(p, NULL); /* checks the CRCs and IEND */
    png_destroy_read_struct(&p, &info, NULL);
    fclose(f);
    out->rgb = rgb;
    return 1;
}

static const uint8_t *px(const png_img *im, int x, int y) { return im->rgb + ((size_t)y * im->w + x) * 3; }

static void test_png(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/c.png", dir);
    /* Row 0: all in column 0 (fraction 1: darkest); row 1: 1 of 4 in each of col 0, and
     * 3 of 4 in col 1; row 2: empty (support 0: white). */
    const int64_t conf[9] = {8, 0, 0, 1, 3, 0, 0, 0, 0};
    int cell = 10;
    CHECK_OK(ft_confusion_png_write(path, conf, 3, cell));
    png_img im;
    CHECKF(read_png(path, &im), "%s is not a valid 8-bit RGB PNG", path);
    if (!im.rgb) return;
    CHECK(im.w == 3 * cell && im.h == 3 * cell);
    const uint8_t *full = px(&im, 2, 2), *zero = px(&im, 12, 2), *quarter = px(&im, 2, 12), *three = px(&im, 12, 12),
                  *empty = px(&im, 22, 22);
    CHECK(zero[0] == 255 && zero[1] == 255 && zero[2] == 255);
    CHECK(empty[0] == 255 && empty[1] == 255 && empty[2] == 255);
    CHECK(full[0] == 8 && full[1] == 48 && full[2] == 107);
    /* Monotone: more of the row -> darker. */
    int sf = full[0] + full[1] + full[2], sq = quarter[0] + quarter[1] + quarter[2], st = three[0] + three[1] + three[2];
    CHECKF(sf < st && st < sq && sq < 765, "darkness: full %d, 3/4 %d, 1/4 %d", sf, st, sq);
    /* Every pixel of a cell (but its grid line) has one colour; the grid line is grey. */
    int uniform = 1;
    for (int y = 0; y < cell - 1; y++)
        for (int x = 0; x < cell - 1; x++) uniform &= !memcmp(px(&im, 10 + x, 10 + y), three, 3);
    CHECK(uniform);
    const uint8_t *grid = px(&im, cell - 1, 3);
    CHECK(grid[0] == 200 && grid[1] == 200 && grid[2] == 200);
    free(im.rgb);

    /* Cells of 1 pixel: a k x k image, no grid. */
    const int64_t eye[4] = {1, 0, 0, 1};
    CHECK_OK(ft_confusion_png_write(path, eye, 2, 1));
    CHECK(read_png(path, &im));
    if (im.rgb) {
        CHECK(im.w == 2 && im.h == 2);
        CHECK(px(&im, 0, 0)[2] == 107 && px(&im, 1, 0)[0] == 255 && px(&im, 1, 1)[2] == 107);
        free(im.rgb);
    }
    CHECK(ft_confusion_png_cell(2) == 48 && ft_confusion_png_cell(10) == 48 && ft_confusion_png_cell(100) == 5 &&
          ft_confusion_png_cell(1000) == 1);

    /* Bad arguments and an unwritable path: a status and a message, no file. */
    CHECK_ERR(ft_confusion_png_write(path, eye, 0, 4), FT_EINVAL);
    CHECK_ERR(ft_confusion_png_write(path, eye, 2, 0), FT_EINVAL);
    CHECK_ERR(ft_confusion_png_write(path, eye, 2, 9000), FT_EINVAL);
    snprintf(path, sizeof path, "%s/no/such/dir/c.png", dir);
    CHECK(ft_confusion_png_write(path, eye, 2, 4) != FT_OK);
    CHECK(strstr(ft_errmsg(), "c.png") != NULL);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

static void test_report(const char *dir) {
    char rdir[512], path[600];
    snprintf(rdir, sizeof rdir, "%s/run/report", dir);
    int64_t conf[9] = {5, 1, 0, 2, 3, 1, 0, 0, 4};
    ft_eval_result r = {0};
    r.n_classes = 3;
    r.n = 16;
    r.correct = 12;
    r.accuracy = 12.0 / 16;
    r.loss = 0.5;
    r.confusion = conf;
    const char *names[3] = {"T-shirt/top", "<b>&bag", NULL};
    CHECK_OK(ft_eval_report_write(rdir, &r, names, "model m on data d"));
    snprintf(path, sizeof path, "%s/confusion.png", rdir);
    png_img im;
    CHECK(read_png(path, &im));
    int cell = ft_confusion_png_cell(3);
    CHECK(im.w == 3 * cell && im.h == 3 * cell);
    free(im.rgb);
    snprintf(path, sizeof path, "%s/eval.html", rdir);
    char *html = slurp(path);
    CHECK(html != NULL);
    if (html) {
        CHECK(strstr(html, "<img src='confusion.png'") != NULL);
        CHECK(strstr(html, "T-shirt/top") != NULL);
        CHECK(strstr(html, "&lt;b&gt;&amp;bag") != NULL && !strstr(html, "<b>&bag"));
        CHECK(strstr(html, ">2</th>") != NULL);           /* the unnamed class shows its index */
        CHECK(strstr(html, "0.7143") != NULL);            /* precision of class 0: 5/7 */
        CHECK(strstr(html, "0.7692") != NULL);            /* its F1: 10/13 */
        CHECK(strstr(html, "accuracy 0.7500 (12/16)") != NULL);
        CHECK(strstr(html, "</html>") != NULL);
        free(html);
    }
    /* A file where the directory should be. */
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    CHECK(ft_eval_report_write(path, &r, NULL, NULL) != FT_OK);
    CHECK(strstr(ft_errmsg(), "file") != NULL);
    r.confusion = NULL;
    CHECK_ERR(ft_eval_report_write(rdir, &r, NULL, NULL), FT_EINVAL);
}

int main(void) {
    char dir[] = "/tmp/ft_evalrep.XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_metrics();
    test_png(dir);
    test_report(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    TEST_END();
}
