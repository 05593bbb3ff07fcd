/* Internal: progress output and the HTML run report. */
#ifndef FT_REPORT_H
#define FT_REPORT_H
#include "finetune/core.h"

double ft_now(void);

typedef struct {
    int mode;            /* 1 bar, 0 plain lines, -1 silent */
    double t_start, t_last;
    int64_t first_step;  /* step the timer started at (resume) */
    int64_t examples;
} ft_progress;

void ft_progress_step(ft_progress *p, int64_t step, int64_t total, int epoch, int epochs, double loss, float lr,
                      int64_t examples);
void ft_progress_end_line(ft_progress *p);

/* A bounded history for plots: keeps every stride-th point and, when full, drops every
 * other point and doubles the stride. Fixed size, so pushing never allocates. */
#define FT_SERIES_CAP 2048
#define FT_SERIES_COLS 3
typedef struct {
    double x[FT_SERIES_CAP], y[FT_SERIES_COLS][FT_SERIES_CAP];
    int n;
    int64_t stride, seen;
} ft_series;
void ft_series_push(ft_series *s, double x, const double *y, int ncols);

typedef struct {
    const char *summary;
    const double *step_x, *step_loss;
    int n_steps;
    const double *epoch_x, *epoch_train_loss, *epoch_val_loss, *epoch_val_acc;
    int n_epochs;
    bool has_val;
} ft_report_data;

ft_status ft_report_write(const char *path, const ft_report_data *d);
#endif
