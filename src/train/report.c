/* Run reporting: progress bar / plain lines, metrics.jsonl, and report.html (inline SVG). */
#include "train/report.h"
#include "finetune/io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double ft_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_time(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e7) { snprintf(buf, n, "--:--"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%02d:%02d", t / 60, t % 60);
}

void ft_progress_step(ft_progress *p, int64_t step, int64_t total, int epoch, int epochs, double loss, float lr,
                      int64_t examples) {
    double now = ft_now();
    if (p->mode < 0) return;
    p->examples += examples;
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->examples / el : 0;
    double eta = (step > p->first_step && total > 0) ? el / (double)(step - p->first_step) * (double)(total - step) : -1;
    char e1[32], e2[32];
    fmt_time(el, e1, sizeof e1);
    fmt_time(eta, e2, sizeof e2);
    if (p->mode == 1) {
        if (now - p->t_last < 0.1 && step != total) return; /* ~10 redraws a second */
        p->t_last = now;
        int width = 24, fill = total > 0 ? (int)((double)width * (double)step / (double)total) : 0;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] epoch %d/%d step %lld/%lld loss %.4f lr %.2e %.0f ex/s %s<%s  ", bar, epoch + 1, epochs,
                (long long)step, (long long)total, loss, lr, rate, e1, e2);
        fflush(stderr);
    } else if (now - p->t_last >= 5.0 || step == total) { /* plain log lines, every 5 s */
        p->t_last = now;
        fprintf(stderr, "epoch %d/%d step %lld/%lld loss %.4f lr %.2e %.0f ex/s elapsed %s eta %s\n", epoch + 1, epochs,
                (long long)step, (long long)total, loss, lr, rate, e1, e2);
    }
}

void ft_progress_end_line(ft_progress *p) {
    if (p->mode == 1) fputc('\n', stderr);
}

void ft_series_push(ft_series *s, double x, const double *y, int ncols) {
    if (s->stride < 1) s->stride = 1;
    if (s->seen++ % s->stride) return;
    if (s->n == FT_SERIES_CAP) {
        for (int i = 0; i < FT_SERIES_CAP / 2; i++) {
            s->x[i] = s->x[2 * i];
            for (int c = 0; c < FT_SERIES_COLS; c++) s->y[c][i] = s->y[c][2 * i];
        }
        s->n = FT_SERIES_CAP / 2;
        s->stride *= 2;
        if ((s->seen - 1) % s->stride) return;
    }
    s->x[s->n] = x;
    for (int c = 0; c < ncols && c < FT_SERIES_COLS; c++) s->y[c][s->n] = y[c];
    s->n++;
}

/* ---- report.html ---- */

static void svg_chart(FILE *f, const char *title, const double *x, const double *y, int n, const double *x2,
                      const double *y2, int n2, const char *l1, const char *l2) {
    const int W = 560, H = 260, L = 56, R = 12, T = 28, B = 34;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n; i++) { xmin = fmin(xmin, x[i]); xmax = fmax(xmax, x[i]); ymin = fmin(ymin, y[i]); ymax = fmax(ymax, y[i]); }
    for (int i = 0; i < n2; i++) { xmin = fmin(xmin, x2[i]); xmax = fmax(xmax, x2[i]); ymin = fmin(ymin, y2[i]); ymax = fmax(ymax, y2[i]); }
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' style='font:11px sans-serif'>\n", W, H);
    fprintf(f, "<text x='%d' y='16' font-weight='bold'>%s</text>\n", L, title);
    if (n + n2 == 0 || !isfinite(ymin) || !isfinite(ymax)) { fprintf(f, "<text x='%d' y='60'>no data</text></svg>\n", L); return; }
    if (xmax == xmin) xmax = xmin + 1;
    if (ymax == ymin) { ymax += 0.5; ymin -= 0.5; }
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#999'/>\n", L, T, W - L - R, H - T - B);
    for (int k = 0; k <= 4; k++) {
        double v = ymin + (ymax - ymin) * k / 4.0;
        int py = H - B - (H - T - B) * k / 4;
        fprintf(f, "<text x='4' y='%d'>%.4g</text><line x1='%d' x2='%d' y1='%d' y2='%d' stroke='#eee'/>\n", py + 4, v, L,
                W - R, py, py);
        double xv = xmin + (xmax - xmin) * k / 4.0;
        fprintf(f, "<text x='%d' y='%d' text-anchor='%s'>%.4g</text>\n", L + (W - L - R) * k / 4, H - B + 16,
                k == 0 ? "start" : k == 4 ? "end" : "middle", xv);
    }
    for (int s = 0; s < 2; s++) {
        const double *xs = s ? x2 : x, *ys = s ? y2 : y;
        int m = s ? n2 : n;
        if (!m) continue;
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", s ? "#d62728" : "#1f77b4");
        for (int i = 0; i < m; i++)
            fprintf(f, "%.1f,%.1f ", L + (xs[i] - xmin) / (xmax - xmin) * (W - L - R),
                    H - B - (ys[i] - ymin) / (ymax - ymin) * (H - T - B));
        fprintf(f, "'/>\n");
        if (m == 1) fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>\n", L + (xs[0] - xmin) / (xmax - xmin) * (W - L - R),
                            H - B - (ys[0] - ymin) / (ymax - ymin) * (H - T - B), s ? "#d62728" : "#1f77b4");
        const char *lab = s ? l2 : l1;
        if (lab) fprintf(f, "<text x='%d' y='%d' fill='%s'>%s</text>\n", W - R - 150, T + 14 + 14 * s, s ? "#d62728" : "#1f77b4", lab);
    }
    fprintf(f, "</svg>\n");
}

ft_status ft_report_write(const char *path, const ft_report_data *d) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.report", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ft_fail(FT_EIO, "%s: cannot write report", path);
    fprintf(f, "<!doctype html><html><head><meta charset='utf-8'><title>finetune run</title></head>"
               "<body style='font-family:sans-serif;max-width:1180px'>\n<h2>finetune run</h2>\n<p>%s</p>\n",
            d->summary ? d->summary : "");
    svg_chart(f, "training loss (per step)", d->step_x, d->step_loss, d->n_steps, NULL, NULL, 0, "train loss", NULL);
    svg_chart(f, "loss per epoch", d->epoch_x, d->epoch_train_loss, d->n_epochs, d->epoch_x, d->epoch_val_loss,
              d->has_val ? d->n_epochs : 0, "train", d->has_val ? "validation" : NULL);
    if (d->has_val)
        svg_chart(f, "validation accuracy per epoch", d->epoch_x, d->epoch_val_acc, d->n_epochs, NULL, NULL, 0, "val accuracy", NULL);
    fprintf(f, "<p>Metrics per epoch are in metrics.jsonl next to this file.</p></body></html>\n");
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) { remove(tmp); return ft_fail(FT_EIO, "%s: write failed (disk full?)", path); }
    if (rename(tmp, path) != 0) { remove(tmp); return ft_fail(FT_EIO, "%s: cannot rename report into place", path); }
    return FT_OK;
}
