/* Evaluation report: per-class metrics from a confusion matrix, the confusion matrix as
 * a PNG heatmap (libpng), and eval.html (summary, per-class table, the image and the
 * counts as a table with the class names). Every file is written atomically. */
#include "finetune/runner.h"
#include "finetune/io.h"
#include "finetune/kws.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ft_confusion_metrics(const int64_t *confusion, int k, ft_class_metrics *out) {
    for (int c = 0; c < k; c++) {
        int64_t tp = confusion[(int64_t)c * k + c], sup = 0, pred = 0;
        for (int j = 0; j < k; j++) {
            sup += confusion[(int64_t)c * k + j];
            pred += confusion[(int64_t)j * k + c];
        }
        double p = pred ? (double)tp / (double)pred : 0.0;
        double r = sup ? (double)tp / (double)sup : 0.0;
        out[c] = (ft_class_metrics){p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0, sup, pred};
    }
}

int ft_confusion_png_cell(int k) {
    int cell = k > 0 ? 512 / k : 1;
    if (cell > 48) cell = 48;
    if (cell < 1) cell = 1;
    return cell;
}

/* Colour of a cell whose row fraction is f in [0, 1]: white to dark blue. */
static void heat(double f, uint8_t rgb[3]) {
    static const double lo[3] = {255, 255, 255}, hi[3] = {8, 48, 107};
    if (!(f >= 0)) f = 0;
    if (f > 1) f = 1;
    for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)lrint(lo[c] + (hi[c] - lo[c]) * f);
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool oom;
} membuf;

static void png_write_mem(png_structp png, png_bytep src, png_size_t n) {
    membuf *b = png_get_io_ptr(png);
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *nd = ft_realloc(b->data, cap);
        if (!nd) { b->oom = true; return; }
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}
static void png_flush_mem(png_structp png) { (void)png; }
static void png_err(png_structp png, png_const_charp msg) { (void)msg; png_longjmp(png, 1); }
static void png_warn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

ft_status ft_confusion_png_write(const char *path, const int64_t *confusion, int k, int cell) {
    if (k < 1 || cell < 1 || (int64_t)k * cell > 16384)
        return ft_fail(FT_EINVAL, "%s: confusion image of %d classes x %d pixels is out of range", path, k, cell);
    int side = k * cell;
    uint8_t *row = ft_malloc((size_t)side * 3);
    uint8_t (*colour)[3] = ft_malloc((size_t)k * k * 3);
    membuf b = {0};
    ft_status s = FT_OK;
    png_structp png = NULL;
    png_infop info = NULL;
    if (!row || !colour) { s = ft_fail(FT_ENOMEM, "%s: out of memory", path); goto done; }
    /* Each row normalised by its support: the diagonal is the recall of the class. */
    for (int i = 0; i < k; i++) {
        int64_t sup = 0;
        for (int j = 0; j < k; j++) sup += confusion[(int64_t)i * k + j];
        for (int j = 0; j < k; j++)
            heat(sup ? (double)confusion[(int64_t)i * k + j] / (double)sup : 0.0, colour[(int64_t)i * k + j]);
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_err, png_warn);
    if (png) info = png_create_info_struct(png);
    if (!png || !info) { s = ft_fail(FT_ENOMEM, "%s: out of memory (libpng)", path); goto done; }
    if (setjmp(png_jmpbuf(png))) { s = ft_fail(FT_EIO, "%s: libpng failed to encode the image", path); goto done; }
    png_set_write_fn(png, &b, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < side; y++) {
        int i = y / cell;
        for (int x = 0; x < side; x++) {
            int j = x / cell;
            /* One-pixel grey grid line between cells when cells are large enough. */
            bool grid = cell >= 4 && (x % cell == cell - 1 || y % cell == cell - 1);
            const uint8_t *c = colour[(int64_t)i * k + j];
            for (int ch = 0; ch < 3; ch++) row[3 * x + ch] = grid ? 200 : c[ch];
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    if (b.oom) { s = ft_fail(FT_ENOMEM, "%s: out of memory", path); goto done; }
    s = ft_write_file_atomic(path, b.data, b.len);
done:
    if (png) png_destroy_write_struct(&png, info ? &info : NULL);
    ft_free(b.data);
    ft_free(row);
    ft_free(colour);
    return s;
}

/* HTML-escape s into f. */
static void esc(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *name_of(const char *const *names, int c, char *buf, size_t cap) {
    if (names && names[c]) return names[c];
    snprintf(buf, cap, "%d", c);
    return buf;
}

ft_status ft_eval_report_write(const char *dir, const ft_eval_result *r, const char *const *names, const char *title) {
    return ft_eval_report_write_kws(dir, r, names, title, NULL);
}

/* The keyword-spotting section: per keyword FRR/FAR at the threshold and EER, det.svg. */
static void kws_section(FILE *f, const ft_kws_metrics *kws, const char *const *names) {
    char b1[32];
    fprintf(f, "<h3>Keyword spotting</h3>\n<p>One keyword against the rest at threshold %g: a clip is accepted for "
               "a keyword when its probability is at least the threshold. Negatives of a keyword are every other "
               "clip (%lld of the %lld have no keyword: noise, silence). Mean FRR %.4f, mean FAR %.4f",
            kws->threshold, (long long)kws->n_none, (long long)kws->n, kws->mean_frr, kws->mean_far);
    if (!isnan(kws->mean_eer)) fprintf(f, ", mean EER %.4f", kws->mean_eer);
    fputs(".</p>\n<table><tr><th class='l'>keyword</th><th>positives</th><th>negatives</th><th>false rejects</th>"
          "<th>FRR</th><th>false accepts</th><th>FAR</th><th>EER</th><th>EER threshold</th></tr>\n", f);
    for (int k = 0; k < kws->n_keywords; k++) {
        const ft_kws_keyword *kw = &kws->kw[k];
        fputs("<tr><td class='l'>", f);
        esc(f, name_of(names, kw->keyword, b1, sizeof b1));
        fprintf(f, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%.4f</td><td>%lld</td><td>%.4f</td>",
                (long long)kw->positives, (long long)kw->negatives, (long long)kw->false_rejects, kw->frr,
                (long long)kw->false_accepts, kw->far);
        if (isnan(kw->eer)) fputs("<td>-</td><td>-</td></tr>\n", f);
        else fprintf(f, "<td>%.4f</td><td>%.4f</td></tr>\n", kw->eer, kw->eer_thr);
    }
    fputs("</table>\n<p>DET curves: false-reject rate against false-accept rate over all thresholds (normal-deviate "
          "axes); the dots are the operating points at the threshold.</p>\n<p><img src='det.svg' alt='DET curves'></p>\n", f);
}

ft_status ft_eval_report_write_kws(const char *dir, const ft_eval_result *r, const char *const *names, const char *title,
                                   const ft_kws_metrics *kws) {
    int k = r->n_classes;
    if (k < 1 || !r->confusion) return ft_fail(FT_EINVAL, "%s: evaluation has no confusion matrix", dir);
    ft_status s = ft_mkdirs(dir);
    if (s) return s;
    char png_path[4096], html_path[4096];
    if ((size_t)snprintf(png_path, sizeof png_path, "%s/confusion.png", dir) >= sizeof png_path ||
        (size_t)snprintf(html_path, sizeof html_path, "%s/eval.html", dir) >= sizeof html_path)
        return ft_fail(FT_EINVAL, "report directory name too long: %s", dir);
    int cell = ft_confusion_png_cell(k);
    if ((s = ft_confusion_png_write(png_path, r->confusion, k, cell))) return s;
    if (kws) {
        char det_path[4096];
        if ((size_t)snprintf(det_path, sizeof det_path, "%s/det.svg", dir) >= sizeof det_path)
            return ft_fail(FT_EINVAL, "report directory name too long: %s", dir);
        if ((s = ft_kws_det_svg_write(det_path, kws, names))) return s;
    }

    ft_class_metrics *cm = ft_malloc((size_t)k * sizeof *cm);
    char *text = NULL;
    size_t len = 0;
    FILE *f = cm ? open_memstream(&text, &len) : NULL;
    if (!f) { ft_free(cm); return ft_fail(FT_ENOMEM, "%s: out of memory", html_path); }
    ft_confusion_metrics(r->confusion, k, cm);
    char b1[32];
    fputs("<!doctype html><html><head><meta charset='utf-8'><title>finetune eval</title>"
          "<style>body{font-family:sans-serif;max-width:1180px} table{border-collapse:collapse}"
          " td,th{padding:2px 6px;border:1px solid #ccc;text-align:right} th.l,td.l{text-align:left}</style>"
          "</head><body>\n<h2>finetune eval</h2>\n<p>", f);
    esc(f, title ? title : "");
    fprintf(f, "</p>\n<p>%lld examples; loss %.4f; accuracy %.4f (%lld/%lld)", (long long)r->n, r->loss, r->accuracy,
            (long long)r->correct, (long long)r->n);
    if (k > 5) fprintf(f, "; top-5 %.4f", r->top5);
    fputs("</p>\n<h3>Per class</h3>\n<table><tr><th class='l'>class</th><th>precision</th><th>recall</th><th>f1</th>"
          "<th>support</th><th>predicted</th></tr>\n", f);
    for (int c = 0; c < k; c++) {
        fputs("<tr><td class='l'>", f);
        esc(f, name_of(names, c, b1, sizeof b1));
        fprintf(f, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%lld</td><td>%lld</td></tr>\n", cm[c].precision,
                cm[c].recall, cm[c].f1, (long long)cm[c].support, (long long)cm[c].predicted);
    }
    fputs("</table>\n", f);
    if (kws) kws_section(f, kws, names);
    fputs("<h3>Confusion matrix</h3>\n<p>Rows: true class; columns: predicted class; colour: the fraction "
          "of the row (the diagonal is the class's recall).</p>\n", f);
    fprintf(f, "<p><img src='confusion.png' width='%d' height='%d' alt='confusion matrix' "
               "style='image-rendering:pixelated;border:1px solid #999'></p>\n", k * cell, k * cell);
    if (k <= 100) {
        fputs("<table><tr><th class='l'>true \\ predicted</th>", f);
        for (int j = 0; j < k; j++) {
            fputs("<th>", f);
            esc(f, name_of(names, j, b1, sizeof b1));
            fputs("</th>", f);
        }
        fputs("</tr>\n", f);
        for (int i = 0; i < k; i++) {
            int64_t sup = cm[i].support;
            fputs("<tr><th class='l'>", f);
            esc(f, name_of(names, i, b1, sizeof b1));
            fputs("</th>", f);
            for (int j = 0; j < k; j++) {
                int64_t v = r->confusion[(int64_t)i * k + j];
                double fr = sup ? (double)v / (double)sup : 0.0;
                uint8_t rgb[3];
                heat(fr, rgb);
                fprintf(f, "<td style='background:#%02x%02x%02x;color:%s'>%lld</td>", rgb[0], rgb[1], rgb[2],
                        fr > 0.5 ? "#fff" : "#000", (long long)v);
            }
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    fputs("</body></html>\n", f);
    bool bad = ferror(f) != 0;
    fclose(f);
    ft_free(cm);
    if (bad || !text) { free(text); return ft_fail(FT_ENOMEM, "%s: out of memory", html_path); }
    s = ft_write_file_atomic(html_path, text, len);
    free(text);
    return s;
}
