/* A picture as a grayscale [rows, cols] matrix, for models that read an image row by row
 * as a sequence (TFLite's MNIST LSTM: 28 time steps of 28 pixels). */
#include "finetune/train.h"

ft_status ft_image_rows(const ft_image *img, const char *name, int64_t rows, int64_t cols, float *out) {
    if (!img || !img->data) return ft_fail(FT_EINVAL, "%s: no image", name ? name : "image");
    if (img->height != rows || img->width != cols)
        return ft_fail(FT_ESHAPE, "%s: the image is %lldx%lld (width x height) but the model reads %lld rows of %lld pixels; "
                       "it is not resized, since the rows are the model's time steps",
                       name ? name : "image", (long long)img->width, (long long)img->height, (long long)rows, (long long)cols);
    int64_t n = rows * cols;
    for (int64_t k = 0; k < n; k++) out[k] = (img->data[k] + img->data[n + k] + img->data[2 * n + k]) * (1.0f / 3.0f);
    return FT_OK;
}
