/* Image pipeline: decoding (JPEG/PNG/BMP written here with libjpeg/libpng/by hand, and
 * files PIL wrote, against PIL's own decode), resampling and the torchvision transforms
 * (against tests/fixtures/resize.safetensors from tests/gen/gen_resize.py), augmentation
 * determinism, broken files (truncated, corrupt, empty, wrong format, every truncation
 * length), the folder and manifest datasets with their skip counts, the loader with
 * workers, allocation-free get(), out-of-memory at open, and the real hymenoptera set
 * when ../shared has it. */
#include "test.h"
#include "data/transforms.h"

#include <errno.h>
#include <jansson.h>
#include <jpeglib.h>
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    if (n && fwrite(data, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    if (len && fread(b, 1, (size_t)len, f) != (size_t)len) { perror(path); exit(2); }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void mkdir_p(const char *p) {
    if (mkdir(p, 0755) && errno != EEXIST) { perror(p); exit(2); }
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- pattern and writers ---- */

/* Gradient test pattern: R along x, G along y, B along the diagonal. */
static uint8_t *gradient(int w, int h) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *o = p + ((size_t)y * w + x) * 3;
            o[0] = (uint8_t)(w > 1 ? x * 255 / (w - 1) : 0);
            o[1] = (uint8_t)(h > 1 ? y * 255 / (h - 1) : 0);
            o[2] = (uint8_t)((x + y) * 255 / (w + h - 2 > 0 ? w + h - 2 : 1));
        }
    return p;
}

static uint8_t *jpeg_encode(const uint8_t *rgb, int w, int h, int comps, int quality, bool progressive,
                            size_t *len) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (comps == 3) { c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1; }
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w * comps);
    while (c.next_scanline < c.image_height) {
        const uint8_t *src = rgb + (size_t)c.next_scanline * w * 3;
        for (int x = 0; x < w; x++) {
            if (comps == 1) row[x] = src[3 * x + 1];
            else memcpy(row + 3 * x, src + 3 * x, 3);
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    uint8_t *res = malloc(outlen);
    memcpy(res, out, outlen);
    free(out);
    *len = outlen;
    return res;
}

/* PNG of `rgb` as colour type `ctype` (RGB, GRAY (G channel), PALETTE (8 colours:
 * index = R >> 5), RGB_ALPHA), optionally interlaced; 16-bit when depth16 (RGB/GRAY:
 * sample * 257). */
static void png_write(const char *path, const uint8_t *rgb, int w, int h, int ctype, bool interlace, bool depth16) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) { fprintf(stderr, "png write failed\n"); exit(2); }
    png_init_io(p, f);
    int depth = depth16 ? 16 : 8;
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color pal[8];
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        for (int k = 0; k < 8; k++) { pal[k].red = (png_byte)(k * 36); pal[k].green = (png_byte)(255 - k * 30); pal[k].blue = (png_byte)(k * 13); }
        png_set_PLTE(p, info, pal, 8);
    }
    png_write_info(p, info);
    int ch = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
    size_t stride = (size_t)w * ch * (depth16 ? 2 : 1);
    uint8_t *img = malloc(stride * h);
    png_bytep *rows = malloc(sizeof *rows * h);
    for (int y = 0; y < h; y++) {
        rows[y] = img + stride * y;
        for (int x = 0; x < w; x++) {
            const uint8_t *s = rgb + ((size_t)y * w + x) * 3;
            uint8_t v[4] = {s[0], s[1], s[2], (uint8_t)(x * 17)};
            if (ctype == PNG_COLOR_TYPE_GRAY) v[0] = s[1];
            if (ctype == PNG_COLOR_TYPE_PALETTE) v[0] = (uint8_t)(s[0] >> 5);
            for (int c = 0; c < ch; c++) {
                if (depth16) { rows[y][(x * ch + c) * 2] = v[c]; rows[y][(x * ch + c) * 2 + 1] = v[c]; }
                else rows[y][x * ch + c] = v[c];
            }
        }
    }
    png_write_image(p, rows);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(f);
    free(img);
    free(rows);
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32le(uint8_t *p, uint32_t v) { put16(p, v & 0xFFFF); put16(p + 2, v >> 16); }

/* BMP of `rgb`: bpp 24 (bottom-up), 32 (top-down, BITFIELDS B-G-R-X), 16 (BITFIELDS
 * 5-6-5), 8 (grey palette from G), 4 (16-entry palette, index = G >> 4). */
static uint8_t *bmp_encode(const uint8_t *rgb, int w, int h, int bpp, size_t *len) {
    int n_pal = bpp <= 8 ? 1 << bpp : 0;
    bool fields = bpp == 16 || bpp == 32;
    size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
    size_t off = 14 + 40 + (fields ? 12 : 0) + (size_t)n_pal * 4;
    *len = off + stride * h;
    uint8_t *b = calloc(1, *len);
    b[0] = 'B'; b[1] = 'M';
    put32le(b + 2, (uint32_t)*len);
    put32le(b + 10, (uint32_t)off);
    put32le(b + 14, 40);
    put32le(b + 18, (uint32_t)w);
    put32le(b + 22, (uint32_t)(bpp == 32 ? -h : h));
    put16(b + 26, 1);
    put16(b + 28, (unsigned)bpp);
    put32le(b + 30, fields ? 3 : 0);
    uint8_t *q = b + 54;
    if (bpp == 32) { put32le(q, 0xFF0000); put32le(q + 4, 0xFF00); put32le(q + 8, 0xFF); q += 12; }
    if (bpp == 16) { put32le(q, 0xF800); put32le(q + 4, 0x07E0); put32le(q + 8, 0x001F); q += 12; }
    for (int k = 0; k < n_pal; k++) {
        uint8_t v = (uint8_t)(bpp == 8 ? k : k * 17);
        q[4 * k] = v; q[4 * k + 1] = v; q[4 * k + 2] = v;
    }
    for (int y = 0; y < h; y++) {
        int fy = bpp == 32 ? y : h - 1 - y;
        uint8_t *row = b + off + stride * fy;
        for (int x = 0; x < w; x++) {
            const uint8_t *s = rgb + ((size_t)y * w + x) * 3;
            switch (bpp) {
            case 24: row[3 * x] = s[2]; row[3 * x + 1] = s[1]; row[3 * x + 2] = s[0]; break;
            case 32: put32le(row + 4 * x, (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2]); break;
            case 16: put16(row + 2 * x, (unsigned)(s[0] >> 3) << 11 | (unsigned)(s[1] >> 2) << 5 | (s[2] >> 3)); break;
            case 8: row[x] = s[1]; break;
            case 4: row[x / 2] |= (uint8_t)((s[1] >> 4) << (x % 2 ? 0 : 4)); break;
            }
        }
    }
    return b;
}

/* Expected decode of bmp_encode's output. */
static void bmp_expect(const uint8_t *rgb, int w, int h, int bpp, uint8_t *out) {
    for (int k = 0; k < w * h; k++) {
        const uint8_t *s = rgb + 3 * k;
        uint8_t *o = out + 3 * k;
        switch (bpp) {
        case 24: case 32: memcpy(o, s, 3); break;
        case 16:
            o[0] = (uint8_t)(((s[0] >> 3) * 255 + 15) / 31);
            o[1] = (uint8_t)(((s[1] >> 2) * 255 + 31) / 63);
            o[2] = (uint8_t)(((s[2] >> 3) * 255 + 15) / 31);
            break;
        case 8: o[0] = o[1] = o[2] = s[1]; break;
        case 4: o[0] = o[1] = o[2] = (uint8_t)((s[1] >> 4) * 17); break;
        }
    }
}

/* Decode to RGB bytes via the public float API (checks that path too). */
static ft_status decode_u8(const uint8_t *buf, size_t len, const char *name, uint8_t **out, int *w, int *h) {
    ft_image img;
    ft_status st = ft_image_decode_memory(buf, len, name, &img);
    *out = NULL;
    if (st) return st;
    *w = (int)img.width;
    *h = (int)img.height;
    size_t n = (size_t)*w * *h;
    *out = malloc(n * 3);
    for (size_t k = 0; k < n; k++)
        for (int c = 0; c < 3; c++) (*out)[3 * k + c] = (uint8_t)lrintf(img.data[c * n + k] * 255.0f);
    ft_image_free(&img);
    return FT_OK;
}

static int max_diff_u8(const uint8_t *a, const uint8_t *b, size_t n, double *mean) {
    int m = 0;
    double s = 0;
    for (size_t k = 0; k < n; k++) {
        int d = abs((int)a[k] - (int)b[k]);
        if (d > m) m = d;
        s += d;
    }
    if (mean) *mean = n ? s / (double)n : 0;
    return m;
}

/* ---- decoding ---- */

static void test_decode_generated(void) {
    const int w = 29, h = 19;
    uint8_t *g = gradient(w, h), *d = NULL, *exp = malloc((size_t)w * h * 3);
    int dw, dh;
    size_t len;
    /* PNG: RGB, grey, palette, RGBA, 16-bit, interlaced; exact. */
    struct { int ctype; bool il, d16; const char *name; } pngs[] = {
        {PNG_COLOR_TYPE_RGB, false, false, "rgb.png"}, {PNG_COLOR_TYPE_GRAY, false, false, "gray.png"},
        {PNG_COLOR_TYPE_PALETTE, false, false, "pal.png"}, {PNG_COLOR_TYPE_RGB_ALPHA, false, false, "rgba.png"},
        {PNG_COLOR_TYPE_RGB, false, true, "rgb16.png"}, {PNG_COLOR_TYPE_GRAY, true, true, "gray16i.png"},
        {PNG_COLOR_TYPE_RGB, true, false, "rgbi.png"},
    };
    for (size_t t = 0; t < sizeof pngs / sizeof pngs[0]; t++) {
        png_write(t_tmp(pngs[t].name), g, w, h, pngs[t].ctype, pngs[t].il, pngs[t].d16);
        uint8_t *buf = read_all(t_tmp(pngs[t].name), &len);
        for (int k = 0; k < w * h; k++) {
            const uint8_t *s = g + 3 * k;
            uint8_t *o = exp + 3 * k;
            if (pngs[t].ctype == PNG_COLOR_TYPE_GRAY) o[0] = o[1] = o[2] = s[1];
            else if (pngs[t].ctype == PNG_COLOR_TYPE_PALETTE) {
                int i = s[0] >> 5;
                o[0] = (uint8_t)(i * 36); o[1] = (uint8_t)(255 - i * 30); o[2] = (uint8_t)(i * 13);
            } else memcpy(o, s, 3);
        }
        CHECK_OK(decode_u8(buf, len, pngs[t].name, &d, &dw, &dh));
        if (d) {
            CHECK(dw == w && dh == h);
            CHECKF(max_diff_u8(d, exp, (size_t)w * h * 3, NULL) == 0, "%s", pngs[t].name);
        }
        free(d); free(buf);
    }
    /* BMP: 24/32/16/8/4-bit; exact. */
    int bpps[] = {24, 32, 16, 8, 4};
    for (int t = 0; t < 5; t++) {
        uint8_t *buf = bmp_encode(g, w, h, bpps[t], &len);
        bmp_expect(g, w, h, bpps[t], exp);
        CHECK_OK(decode_u8(buf, len, "gen.bmp", &d, &dw, &dh));
        if (d) {
            CHECK(dw == w && dh == h);
            CHECKF(max_diff_u8(d, exp, (size_t)w * h * 3, NULL) == 0, "%d-bit BMP", bpps[t]);
        }
        free(d); free(buf);
    }
    /* BMP RLE8, written by hand: 4x3, palette 0..3; one encoded run, one absolute run,
     * end of line, a delta skipping a pixel, end of bitmap (the rest stays index 0). */
    {
        uint8_t b[14 + 40 + 16 + 32] = {0};
        b[0] = 'B'; b[1] = 'M';
        put32le(b + 10, 14 + 40 + 16);
        put32le(b + 14, 40); put32le(b + 18, 4); put32le(b + 22, 3); put16(b + 26, 1); put16(b + 28, 8);
        put32le(b + 30, 1); put32le(b + 46, 4);
        uint8_t pal[4][3] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
        for (int k = 0; k < 4; k++) { b[54 + 4 * k] = pal[k][2]; b[55 + 4 * k] = pal[k][1]; b[56 + 4 * k] = pal[k][0]; }
        /* bottom row: 1 x idx1, absolute [1,2,3] (padded to even) ; end of line ; next
         * row: delta (+1, +0), 1 x idx3 ; end of bitmap */
        uint8_t rle[] = {1, 1, 0, 3, 1, 2, 3, 0, 0, 0, 0, 2, 1, 0, 1, 3, 0, 1};
        memcpy(b + 70, rle, sizeof rle);
        size_t bl = 70 + sizeof rle;
        put32le(b + 2, (uint32_t)bl);
        uint8_t want[3][4] = {{0, 0, 0, 0}, {0, 3, 0, 0}, {1, 1, 2, 3}}; /* top row first */
        CHECK_OK(decode_u8(b, bl, "rle8.bmp", &d, &dw, &dh));
        if (d) {
            bool ok = dw == 4 && dh == 3;
            for (int y = 0; y < 3 && ok; y++)
                for (int x = 0; x < 4; x++) ok = ok && !memcmp(d + (y * 4 + x) * 3, pal[want[y][x]], 3);
            CHECK(ok);
        }
        free(d);
        /* Every truncation of it fails cleanly or decodes. */
        for (size_t cut = 0; cut < bl; cut++) {
            ft_image img;
            ft_status st = ft_image_decode_memory(b, cut, "rle8.bmp", &img);
            if (!st) ft_image_free(&img);
            CHECK(st == FT_OK || st == FT_EFORMAT);
        }
    }
    /* JPEG: colour 4:4:4 q95 and progressive, greyscale; within tolerance. */
    for (int t = 0; t < 3; t++) {
        uint8_t *buf = jpeg_encode(g, w, h, t == 2 ? 1 : 3, 95, t == 1, &len);
        for (int k = 0; k < w * h; k++) {
            if (t == 2) exp[3 * k] = exp[3 * k + 1] = exp[3 * k + 2] = g[3 * k + 1];
            else memcpy(exp + 3 * k, g + 3 * k, 3);
        }
        CHECK_OK(decode_u8(buf, len, "gen.jpg", &d, &dw, &dh));
        if (d) {
            double mean;
            int mx = max_diff_u8(d, exp, (size_t)w * h * 3, &mean);
            CHECK(dw == w && dh == h);
            CHECKF(mean < 2.0 && mx <= 16, "JPEG %d: mean |diff| %.2f, max %d", t, mean, mx);
        }
        ft_image_format fmt;
        int64_t pw, ph;
        CHECK_OK(ft_image_probe_memory(buf, len, "gen.jpg", &fmt, &pw, &ph));
        CHECK(fmt == FT_IMAGE_JPEG && pw == w && ph == h);
        free(d); free(buf);
    }
    free(g); free(exp);
}

/* Decoding PIL's files must give PIL's pixels (same libjpeg-turbo for JPEG). */
static void test_decode_pil(ft_safetensors *fx) {
    const char *cases = ft_st_meta(fx, "cases");
    if (!cases) { CHECK(false); return; }
    char *list = strdup(cases);
    int n = 0;
    for (char *c = strtok(list, ","); c; c = strtok(NULL, ",")) {
        json_t *m = json_loads(ft_st_meta(fx, c), 0, NULL);
        const char *kind = json_string_value(json_object_get(m, "kind"));
        if (kind && !strcmp(kind, "decode")) {
            char k1[128], k2[128];
            snprintf(k1, sizeof k1, "%s.file", c);
            snprintf(k2, sizeof k2, "%s.rgb", c);
            const ft_st_tensor *tf = ft_st_find(fx, k1), *tr = ft_st_find(fx, k2);
            CHECK(tf && tr);
            if (tf && tr) {
                uint8_t *d = NULL;
                int w, h;
                CHECK_OK(decode_u8(tf->data, tf->nbytes, c, &d, &w, &h));
                if (d) {
                    CHECKF(w == tr->shape[1] && h == tr->shape[0], "%s: %dx%d", c, w, h);
                    double mean;
                    int mx = max_diff_u8(d, tr->data, tr->nbytes, &mean);
                    /* CMYK: PIL's MULDIV255 rounding differs from ours by one step. */
                    int tol = strstr(c, "cmyk") ? 1 : 0;
                    CHECKF(mx <= tol, "%s (%s): max |diff| %d vs PIL", c,
                           json_string_value(json_object_get(m, "note")), mx);
                    n++;
                }
                free(d);
            }
        }
        json_decref(m);
    }
    CHECK(n >= 17);
    free(list);
}

/* Broken input: empty, wrong formats, truncated at every length, flipped bytes. */
static void test_decode_broken(void) {
    ft_image img;
    CHECK_ERR(ft_image_decode_memory("", 0, "empty.jpg", &img), FT_EFORMAT);
    CHECK(t_msg_has("empty.jpg") && t_msg_has("empty"));
    CHECK_ERR(ft_image_decode_memory("GIF89a\1\0\1\0\0\0\0;", 14, "a.gif", &img), FT_EUNSUPPORTED);
    CHECK(t_msg_has("a.gif: GIF image; only JPEG, PNG and BMP are supported"));
    CHECK_ERR(ft_image_decode_memory("RIFF\0\0\0\0WEBPVP8 ", 16, "x.webp", &img), FT_EUNSUPPORTED);
    CHECK(t_msg_has("WebP"));
    CHECK_ERR(ft_image_decode_memory("hello, world\n", 13, "notes.jpg", &img), FT_EFORMAT);
    CHECK(t_msg_has("notes.jpg: not a JPEG, PNG or BMP image"));
    CHECK(img.data == NULL);
    CHECK_ERR(ft_image_load(t_tmp("does-not-exist.png"), &img), FT_ENOTFOUND);
    CHECK(t_msg_has("does-not-exist.png"));

    const int w = 21, h = 13;
    uint8_t *g = gradient(w, h);
    size_t jl, bl, pl;
    uint8_t *jpg = jpeg_encode(g, w, h, 3, 90, false, &jl);
    uint8_t *pjpg = jpeg_encode(g, w, h, 3, 90, true, &pl);
    uint8_t *bmp = bmp_encode(g, w, h, 24, &bl);
    png_write(t_tmp("t.png"), g, w, h, PNG_COLOR_TYPE_RGB, true, false);
    size_t nl;
    uint8_t *png = read_all(t_tmp("t.png"), &nl);
    struct { uint8_t *b; size_t n; const char *name; } files[] = {
        {jpg, jl, "t.jpg"}, {pjpg, pl, "p.jpg"}, {bmp, bl, "t.bmp"}, {png, nl, "t.png"}};
    for (int f = 0; f < 4; f++) {
        int fails = 0, bad_status = 0;
        for (size_t cut = 0; cut < files[f].n; cut++) {
            uint8_t *c = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
            memcpy(c, files[f].b, cut);
            ft_status st = ft_image_decode_memory(c, cut, files[f].name, &img);
            if (st == FT_OK) ft_image_free(&img);
            else {
                fails++;
                if (st != FT_EFORMAT || !strstr(ft_errmsg(), files[f].name)) bad_status++;
            }
            free(c);
        }
        /* Every cut loses pixel data, except possibly the JPEG's EOI / PNG's IEND. */
        CHECKF(fails >= (int)files[f].n - 12 && bad_status == 0, "%s: %d of %zu truncations failed, %d oddly",
               files[f].name, fails, files[f].n, bad_status);
        /* Flip bytes one at a time in the first 600 (headers, tables): never a crash. */
        uint8_t *c = malloc(files[f].n);
        for (size_t k = 0; k < files[f].n && k < 600; k++) {
            memcpy(c, files[f].b, files[f].n);
            c[k] ^= (uint8_t)(0x5A + k);
            if (ft_image_decode_memory(c, files[f].n, files[f].name, &img) == FT_OK) ft_image_free(&img);
        }
        free(c);
    }
    /* A truncated JPEG names the problem. */
    for (int k = 1; k <= 3; k++) {
        CHECK_ERR(ft_image_decode_memory(jpg, jl * (size_t)k / 4, "cut.jpg", &img), FT_EFORMAT);
        CHECK(t_msg_has("cut.jpg") && t_msg_has("truncated"));
    }
    /* Oversized headers are refused before allocating: a 20000-wide BMP and PNG. */
    {
        uint8_t b[64];
        memcpy(b, bmp, 64);
        put32le(b + 18, 20000);
        uint64_t before = ft_alloc_count();
        CHECK_ERR(ft_image_decode_memory(b, 64, "huge.bmp", &img), FT_EFORMAT);
        CHECK(t_msg_has("20000x13") && t_msg_has("16384"));
        CHECK(ft_alloc_count() == before);
        uint8_t p[64];
        memcpy(p, png, 64);
        p[16] = 0; p[17] = 0; p[18] = 0x4E; p[19] = 0x20; /* width 20000 (CRC now wrong too) */
        CHECK_ERR(ft_image_decode_memory(p, nl < 64 ? nl : 64, "huge.png", &img), FT_EFORMAT);
        CHECK(t_msg_has("huge.png"));
    }
    free(g); free(jpg); free(pjpg); free(bmp); free(png);
}

/* ---- transforms ---- */

static tf_plan plan_resize(int sw, int sh, int w, int h) {
    tf_plan p;
    memset(&p, 0, sizeof p);
    p.x = (tf_axis){0.0, (double)sw / w, 0, 0, sw, w};
    p.y = (tf_axis){0.0, (double)sh / h, 0, 0, sh, h};
    return p;
}

static float *run_plan(const tf_src *s, const tf_plan *p, const float *mean, const float *std) {
    void *scratch = malloc(tf_scratch_bytes(p));
    float *out = malloc(sizeof(float) * 3 * (size_t)p->x.n * p->y.n);
    tf_run(s, p, mean, std, scratch, out);
    free(scratch);
    return out;
}

static void test_resize_pil(ft_safetensors *fx) {
    const ft_st_tensor *ts = ft_st_find(fx, "src");
    CHECK(ts && ts->ndim == 3);
    if (!ts) return;
    int sh = (int)ts->shape[0], sw = (int)ts->shape[1];
    tf_src src = {ts->data, NULL, sw, sh};
    /* The same image as planar float: the f32 path must agree with the u8 one. */
    float *sf = malloc(sizeof(float) * 3 * sw * sh);
    for (int k = 0; k < sw * sh; k++)
        for (int c = 0; c < 3; c++) sf[c * sw * sh + k] = ts->data[3 * k + c] / 255.0f;
    tf_src srcf = {NULL, sf, sw, sh};
    char *list = strdup(ft_st_meta(fx, "cases"));
    int counts[4] = {0};
    double worst[4] = {0};
    for (char *c = strtok(list, ","); c; c = strtok(NULL, ",")) {
        json_t *m = json_loads(ft_st_meta(fx, c), 0, NULL);
        const char *kind = json_string_value(json_object_get(m, "kind"));
        char key[128];
        snprintf(key, sizeof key, "%s.out", c);
        const ft_st_tensor *to = ft_st_find(fx, key);
        int k = -1;
        tf_plan p;
        float mean[3], std[3];
        bool norm = false;
        if (!strcmp(kind, "resize")) {
            k = 0;
            p = plan_resize(sw, sh, (int)json_integer_value(json_object_get(m, "w")),
                            (int)json_integer_value(json_object_get(m, "h")));
        } else if (!strcmp(kind, "eval")) {
            k = 1;
            tf_plan_eval(sw, sh, (int)json_integer_value(json_object_get(m, "resize")),
                         (int)json_integer_value(json_object_get(m, "size")), false, &p);
            for (int q = 0; q < 3; q++) {
                mean[q] = (float)json_real_value(json_array_get(json_object_get(m, "mean"), (size_t)q));
                std[q] = (float)json_real_value(json_array_get(json_object_get(m, "std"), (size_t)q));
            }
            norm = true;
        } else if (!strcmp(kind, "crop")) {
            k = 2;
            tf_plan_crop(sw, sh, (int)json_integer_value(json_object_get(m, "top")),
                         (int)json_integer_value(json_object_get(m, "left")),
                         (int)json_integer_value(json_object_get(m, "h")),
                         (int)json_integer_value(json_object_get(m, "w")),
                         (int)json_integer_value(json_object_get(m, "size")), &p);
            p.flip = json_is_true(json_object_get(m, "flip"));
        } else if (!strcmp(kind, "jitter")) {
            k = 3;
            p = plan_resize(sw, sh, sw, sh); /* identity */
            const char *op = json_string_value(json_object_get(m, "op"));
            p.n_jitter = 1;
            p.jitter_op[0] = !strcmp(op, "brightness") ? TF_BRIGHTNESS : !strcmp(op, "contrast") ? TF_CONTRAST
                                                                                                 : TF_SATURATION;
            p.jitter_f[0] = (float)json_real_value(json_object_get(m, "f"));
        }
        if (k >= 0 && to) {
            float *o = run_plan(&src, &p, norm ? mean : NULL, norm ? std : NULL);
            float *of = run_plan(&srcf, &p, norm ? mean : NULL, norm ? std : NULL);
            size_t n = (size_t)3 * p.x.n * p.y.n;
            CHECKF(t_close(o, of, (long)n, 1e-5, 1e-5, c), "%s: u8 and f32 sources differ", c);
            double wd = 0;
            bool ok = true;
            if (k == 0) {
                /* PIL (8-bit, rounded after each pass) vs ours (float): within one step. */
                CHECK(to->numel == (int64_t)n);
                for (size_t q = 0; q < n && to->numel == (int64_t)n; q++) {
                    int c3 = (int)(q % 3);
                    size_t px = q / 3;
                    double d = fabs(o[(size_t)c3 * p.x.n * p.y.n + px] * 255.0 - to->data[q]);
                    if (d > wd) wd = d;
                }
                ok = wd <= 1.0 + 1e-3;
            } else {
                float *want = malloc(n * sizeof *want);
                CHECK_OK(ft_st_to_f32(to, want));
                for (size_t q = 0; q < n; q++) {
                    double d = fabs((double)o[q] - want[q]);
                    /* eval/crop: one 8-bit step (/std when normalised); jitter: float only. */
                    double scale = norm ? 1.0 / std[(q / ((size_t)p.x.n * p.y.n))] : 1.0;
                    double tol = k == 3 ? 2e-3 : (1.0 + 1e-3) / 255.0 * scale;
                    if (d / tol > wd) wd = d / tol;
                }
                ok = wd <= 1.0;
                free(want);
            }
            CHECKF(ok, "%s: worst %.3f (tolerance units)", c, wd);
            if (wd > worst[k]) worst[k] = wd;
            counts[k]++;
            free(o); free(of);
        }
        json_decref(m);
    }
    printf("PIL/torchvision fixture: %d resizes (worst %.3f 8-bit steps), %d eval, %d crop, %d jitter "
           "(worst %.2f, %.2f, %.2f of tolerance)\n", counts[0], worst[0], counts[1], counts[2], counts[3], worst[1],
           worst[2], worst[3]);
    CHECK(counts[0] >= 7 && counts[1] >= 5 && counts[2] >= 5 && counts[3] >= 6);
    free(list);
    free(sf);
}

static void test_resize_properties(void) {
    /* Constant in, constant out, at every scale. */
    const int sw = 53, sh = 31;
    uint8_t *img = malloc((size_t)sw * sh * 3);
    memset(img, 77, (size_t)sw * sh * 3);
    tf_src s = {img, NULL, sw, sh};
    int sizes[][2] = {{1, 1}, {7, 3}, {53, 31}, {100, 200}, {26, 15}, {224, 224}};
    for (int t = 0; t < 6; t++) {
        tf_plan p = plan_resize(sw, sh, sizes[t][0], sizes[t][1]);
        float *o = run_plan(&s, &p, NULL, NULL);
        float lo = 1e9f, hi = -1e9f;
        for (int k = 0; k < 3 * sizes[t][0] * sizes[t][1]; k++) { if (o[k] < lo) lo = o[k]; if (o[k] > hi) hi = o[k]; }
        CHECKF(fabsf(lo - 77 / 255.0f) < 1e-5f && fabsf(hi - 77 / 255.0f) < 1e-5f, "constant -> %dx%d: [%g, %g]",
               sizes[t][0], sizes[t][1], lo, hi);
        free(o);
    }
    /* Checkerboard halved: every interior output pixel is the mean. */
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < sw; x++) memset(img + ((size_t)y * sw + x) * 3, (x + y) % 2 ? 200 : 40, 3);
    tf_src cb = {img, NULL, 52, 30}; /* the even-sized part: row stride stays sw */
    (void)cb;
    uint8_t *even = malloc(52 * 30 * 3);
    for (int y = 0; y < 30; y++) memcpy(even + (size_t)y * 52 * 3, img + (size_t)y * sw * 3, 52 * 3);
    tf_src se = {even, NULL, 52, 30};
    tf_plan p = plan_resize(52, 30, 26, 15);
    float *o = run_plan(&se, &p, NULL, NULL);
    float worst = 0;
    for (int y = 1; y < 14; y++)
        for (int x = 1; x < 25; x++)
            for (int c = 0; c < 3; c++) {
                float d = fabsf(o[(c * 15 + y) * 26 + x] - 120 / 255.0f);
                if (d > worst) worst = d;
            }
    CHECKF(worst < 1e-5f, "checkerboard halved: interior off the mean by %g", worst);
    free(o);
    /* A big downscale of it (antialiased) is near the mean everywhere, not aliased. */
    p = plan_resize(52, 30, 5, 3);
    o = run_plan(&se, &p, NULL, NULL);
    worst = 0;
    for (int k = 0; k < 45; k++) if (fabsf(o[k] - 120 / 255.0f) > worst) worst = fabsf(o[k] - 120 / 255.0f);
    CHECKF(worst < 0.05f, "checkerboard 10x down: off the mean by %g", worst);
    free(o);
    free(even);
    free(img);
}

/* stretch: both sides to `resize` (aspect not kept) instead of shorter side + centre crop. */
static void test_stretch(void) {
    ft_image img = {8, 4, NULL};
    img.data = ft_malloc(3 * 8 * 4 * sizeof(float));
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 8; x++) img.data[(c * 4 + y) * 8 + x] = x < 2 ? 0.0f : 1.0f; /* left quarter black */
    ft_image_opts o = ft_image_opts_default();
    o.size = o.resize = 4;
    for (int c = 0; c < 3; c++) { o.mean[c] = 0; o.std[c] = 1; }
    float crop[3 * 16], str[3 * 16];
    CHECK_OK(ft_image_transform(&img, &o, NULL, 0, crop));
    o.stretch = true;
    CHECK_OK(ft_image_transform(&img, &o, NULL, 0, str));
    CHECKF(crop[0] > 0.99f && crop[3] > 0.99f, "crop keeps the middle: %g %g", crop[0], crop[3]); /* cols 2..5 */
    CHECKF(str[0] < 0.5f && str[3] > 0.99f, "stretch keeps the black quarter: %g %g", str[0], str[3]);
    ft_image_free(&img);
}

static void test_random_resized_crop(void) {
    ft_pcg32 r;
    int fallback = 0, total = 0;
    bool in_bounds = true, fb_ok = true, big_ok = true;
    int shapes[][2] = {{500, 375}, {375, 500}, {224, 224}, {1, 1}, {3, 700}, {700, 3}, {17, 9}, {5000, 40}};
    for (int s = 0; s < 8; s++) {
        int w = shapes[s][0], h = shapes[s][1];
        for (int i = 0; i < 300; i++) {
            tf_rng(&r, 42, 3, i);
            int top, left, ch, cw;
            bool fb = tf_random_resized_crop(w, h, 0.08f, 1.0f, 3.0f / 4, 4.0f / 3, &r, &top, &left, &ch, &cw);
            total++;
            if (top < 0 || left < 0 || ch < 1 || cw < 1 || top + ch > h || left + cw > w) in_bounds = false;
            if (fb) {
                /* The fallback: centred, full width or height. */
                fallback++;
                if (!((cw == w || ch == h) && top == (h - ch) / 2 && left == (w - cw) / 2)) fb_ok = false;
            } else if (w >= 224 && h >= 224) {
                double frac = (double)cw * ch / ((double)w * h), ratio = (double)cw / ch;
                if (frac < 0.078 || frac > 1.0 || ratio < 0.74 || ratio > 1.35) big_ok = false;
            }
        }
    }
    CHECK(in_bounds && fb_ok && big_ok);
    /* Only the thin images (3x700, 700x3, 5000x40) need the fallback. */
    CHECKF(fallback >= 900 && fallback < 1000, "fallback %d of %d", fallback, total);
    /* Mean area fraction, as torchvision's get_params gives it (20000 draws with
     * torch.manual_seed(0)): 0.4761 on 1000x1000, 0.4348 on 500x375. */
    int shapes2[][2] = {{1000, 1000}, {500, 375}};
    double want[2] = {0.4761, 0.4348};
    for (int s = 0; s < 2; s++) {
        double sum = 0;
        for (int i = 0; i < 4000; i++) {
            tf_rng(&r, 7, 0, i);
            int top, left, ch, cw;
            tf_random_resized_crop(shapes2[s][0], shapes2[s][1], 0.08f, 1.0f, 3.0f / 4, 4.0f / 3, &r, &top, &left, &ch,
                                   &cw);
            sum += (double)cw * ch / ((double)shapes2[s][0] * shapes2[s][1]);
        }
        CHECKF(fabs(sum / 4000 - want[s]) < 0.015, "mean area fraction %g, torchvision %g", sum / 4000, want[s]);
    }
}

/* ---- datasets ---- */

static void write_jpeg_file(const char *path, int w, int h, int quality) {
    uint8_t *g = gradient(w, h);
    size_t len;
    uint8_t *j = jpeg_encode(g, w, h, 3, quality, false, &len);
    write_bytes(path, j, len);
    free(j); free(g);
}

static void write_bmp_file(const char *path, int w, int h, int bpp) {
    uint8_t *g = gradient(w, h);
    size_t len;
    uint8_t *b = bmp_encode(g, w, h, bpp, &len);
    write_bytes(path, b, len);
    free(b); free(g);
}

/* root/{cat,dog}/...: 7 images, plus a README in the root, notes.txt and a hidden file. */
static void make_folder(const char *root) {
    char p[600];
    mkdir_p(root);
    snprintf(p, sizeof p, "%s/cat", root); mkdir_p(p);
    snprintf(p, sizeof p, "%s/dog", root); mkdir_p(p);
    snprintf(p, sizeof p, "%s/dog/puppies", root); mkdir_p(p);
    snprintf(p, sizeof p, "%s/cat/b.jpg", root); write_jpeg_file(p, 40, 30, 90);
    snprintf(p, sizeof p, "%s/cat/a.PNG", root);
    uint8_t *g = gradient(12, 50);
    png_write(p, g, 12, 50, PNG_COLOR_TYPE_RGB, false, false);
    free(g);
    snprintf(p, sizeof p, "%s/cat/c.bmp", root); write_bmp_file(p, 300, 200, 24);
    snprintf(p, sizeof p, "%s/cat/notes.txt", root); write_bytes(p, "hi\n", 3);
    snprintf(p, sizeof p, "%s/cat/.DS_Store", root); write_bytes(p, "x", 1);
    snprintf(p, sizeof p, "%s/dog/x.jpeg", root); write_jpeg_file(p, 64, 64, 80);
    snprintf(p, sizeof p, "%s/dog/tiny.jpg", root); write_jpeg_file(p, 3, 2, 90); /* smaller than any crop */
    snprintf(p, sizeof p, "%s/dog/puppies/p1.jpg", root); write_jpeg_file(p, 33, 17, 90);
    snprintf(p, sizeof p, "%s/dog/y.Jpg", root); write_bmp_file(p, 9, 9, 8); /* a BMP named .Jpg: fine */
    snprintf(p, sizeof p, "%s/README", root); write_bytes(p, "data\n", 5);
}

static ft_image_opts small_opts(int size) {
    ft_image_opts o = ft_image_opts_default();
    o.size = size;
    o.resize = 0;
    return o;
}

static void test_folder(void) {
    const char *root = t_tmp("folder");
    make_folder(root);
    ft_image_opts o = small_opts(32);
    ft_dataset *ds = NULL;
    CHECK_OK(ft_dataset_image_folder(root, &o, &ds));
    if (!ds) return;
    CHECK(ds->n == 7 && ds->n_classes == 2);
    CHECK(ds->class_names && !strcmp(ds->class_names[0], "cat") && !strcmp(ds->class_names[1], "dog"));
    CHECK(ds->x_dtype == FT_F32 && ds->x_ndim == 3 && ds->x_shape[0] == 3 && ds->x_shape[1] == 32 &&
          ds->x_shape[2] == 32 && ds->x_numel == 3 * 32 * 32);
    ft_image_counts c;
    CHECK_OK(ft_image_dataset_counts(ds, &c));
    CHECKF(c.files == 9 && c.used == 7 && c.not_image == 2 && c.unreadable == 0, "files %lld used %lld not_image %lld "
           "unreadable %lld", (long long)c.files, (long long)c.used, (long long)c.not_image, (long long)c.unreadable);
    const char *note = ft_dataset_note(ds);
    CHECKF(strstr(note, "7 images in 2 classes; skipped 2 of 9 files: 2 not an image (first: README)"), "note: %s",
           note);
    /* Labels in order: cat a.PNG, b.jpg, c.bmp; dog x.jpeg, y.Jpg, tiny? No: byte order
     * of names: tiny.jpg < x.jpeg < y.Jpg, then the subfolder puppies/p1.jpg. */
    int32_t want_y[7] = {0, 0, 0, 1, 1, 1, 1};
    float *x = malloc(sizeof(float) * 3 * 32 * 32), *x2 = malloc(sizeof(float) * 3 * 32 * 32);
    bool labels_ok = true, finite = true;
    for (int64_t i = 0; i < ds->n; i++) {
        int32_t y = -1;
        CHECK_OK(ds->get(ds, i, NULL, x, &y));
        labels_ok = labels_ok && y == want_y[i];
        for (int k = 0; k < 3 * 32 * 32; k++) finite = finite && isfinite(x[k]) && fabsf(x[k]) < 3.0f;
    }
    CHECK(labels_ok && finite);
    /* Example 0 (cat/a.PNG) equals load + ft_image_transform (f32 path), eval and train. */
    char p[600];
    snprintf(p, sizeof p, "%s/cat/a.PNG", root);
    ft_image img;
    CHECK_OK(ft_image_load(p, &img));
    int32_t y;
    ft_sample_ctx ctx = {99, 4, true};
    for (int aug = 0; aug < 2; aug++) {
        CHECK_OK(ds->get(ds, 0, aug ? &ctx : NULL, x, &y));
        CHECK_OK(ft_image_transform(&img, &o, aug ? &ctx : NULL, 0, x2));
        CHECK(t_close(x, x2, 3 * 32 * 32, 1e-4, 1e-4, aug ? "dataset vs transform (train)" : "dataset vs transform (eval)"));
    }
    ft_image_free(&img);
    /* The tiny 3x2 image upsamples to 32x32 with and without augmentation. */
    CHECK_OK(ds->get(ds, 3, NULL, x, &y));
    CHECK_OK(ds->get(ds, 3, &ctx, x, &y));
    /* Augmentation: same (seed, epoch, i) -> same tensor; another epoch or seed differs;
     * augment=false is the eval transform whatever the seed. */
    float *a = malloc(sizeof(float) * 3 * 32 * 32);
    for (int64_t i = 0; i < ds->n; i++) {
        ft_sample_ctx c1 = {5, 2, true}, c2 = {5, 3, true}, c3 = {6, 2, true}, ev = {5, 2, false};
        CHECK_OK(ds->get(ds, i, &c1, x, &y));
        CHECK_OK(ds->get(ds, i, &c1, a, &y));
        CHECK(!memcmp(x, a, sizeof(float) * 3 * 32 * 32));
        CHECK_OK(ds->get(ds, i, &c2, a, &y));
        bool d_epoch = memcmp(x, a, sizeof(float) * 3 * 32 * 32) != 0;
        CHECK_OK(ds->get(ds, i, &c3, a, &y));
        bool d_seed = memcmp(x, a, sizeof(float) * 3 * 32 * 32) != 0;
        if (i != 3) CHECKF(d_epoch && d_seed, "example %lld: augmentation ignores epoch or seed", (long long)i);
        CHECK_OK(ds->get(ds, i, &ev, x, &y));
        CHECK_OK(ds->get(ds, i, NULL, a, &y));
        CHECK(!memcmp(x, a, sizeof(float) * 3 * 32 * 32));
    }
    /* Colour jitter on: still deterministic, values still normalised [0,1] images. */
    ft_image_opts oj = o;
    oj.brightness = 0.4f; oj.contrast = 0.4f; oj.saturation = 0.4f;
    ft_dataset *dj;
    CHECK_OK(ft_dataset_image_folder(root, &oj, &dj));
    if (dj) {
        CHECK_OK(dj->get(dj, 1, &ctx, x, &y));
        CHECK_OK(dj->get(dj, 1, &ctx, a, &y));
        CHECK(!memcmp(x, a, sizeof(float) * 3 * 32 * 32));
        CHECK_OK(ds->get(ds, 1, &ctx, a, &y));
        CHECK(memcmp(x, a, sizeof(float) * 3 * 32 * 32) != 0);
        bool range = true;
        for (int c2 = 0; c2 < 3; c2++)
            for (int k = 0; k < 32 * 32; k++) {
                float v = x[c2 * 1024 + k] * oj.std[c2] + oj.mean[c2];
                range = range && v > -1e-5f && v < 1 + 1e-5f;
            }
        CHECK(range);
        ft_dataset_free(dj);
    }
    /* get() allocates nothing through ft_malloc once warm. */
    uint64_t before = ft_alloc_count();
    for (int r = 0; r < 3; r++)
        for (int64_t i = 0; i < ds->n; i++) CHECK_OK(ds->get(ds, i, &ctx, x, &y));
    CHECK(ft_alloc_count() == before);
    /* Out of range. */
    CHECK_ERR(ds->get(ds, 7, NULL, x, &y), FT_EINVAL);
    /* Loader: 0 and 3 workers give the same augmented batches. */
    ft_loader_config lc = {3, true, false, 11, 0, 2, true, false};
    ft_loader *l0, *l3;
    CHECK_OK(ft_loader_new(ds, &lc, &l0));
    lc.workers = 3;
    CHECK_OK(ft_loader_new(ds, &lc, &l3));
    for (int e = 0; e < 2; e++) {
        CHECK_OK(ft_loader_start(l0, e, 0));
        CHECK_OK(ft_loader_start(l3, e, 0));
        ft_batch *b0, *b3;
        int nb = 0;
        bool same = true;
        for (;;) {
            CHECK_OK(ft_loader_next(l0, &b0));
            CHECK_OK(ft_loader_next(l3, &b3));
            if (!b0 || !b3) { CHECK(!b0 && !b3); break; }
            same = same && b0->n == b3->n && !memcmp(b0->x, b3->x, sizeof(float) * 3 * 32 * 32 * b0->n) &&
                   !memcmp(b0->y, b3->y, sizeof(int32_t) * b0->n);
            nb++;
        }
        CHECK(same && nb == 3);
    }
    ft_loader_free(l0);
    ft_loader_free(l3);
    /* Subset/split keep working (augmentation keyed by the base index). */
    ft_dataset *sa, *sb;
    CHECK_OK(ft_dataset_split(ds, 0.3, 1, &sa, &sb));
    if (sa && sb) {
        CHECK(sa->n + sb->n == 7);
        CHECK_OK(sb->get(sb, 0, &ctx, x, &y));
        CHECK(strcmp(ft_dataset_note(sb), "") == 0);
        ft_dataset_free(sa); ft_dataset_free(sb);
    }
    free(a); free(x); free(x2);
    ft_dataset_free(ds);
}

static void test_folder_broken(void) {
    char p[600];
    const char *root = t_tmp("broken");
    make_folder(root);
    /* A text file named .jpg, a zero-byte .png, a GIF named .jpg, a truncated JPEG (its
     * header intact: the probe passes, get() fails). */
    snprintf(p, sizeof p, "%s/cat/fake.jpg", root); write_bytes(p, "not really a jpeg\n", 18);
    snprintf(p, sizeof p, "%s/cat/zero.png", root); write_bytes(p, "", 0);
    snprintf(p, sizeof p, "%s/dog/anim.jpg", root); write_bytes(p, "GIF89a\1\0\1\0\0\0\0;", 14);
    uint8_t *g = gradient(64, 48);
    size_t jl;
    uint8_t *j = jpeg_encode(g, 64, 48, 3, 90, false, &jl);
    snprintf(p, sizeof p, "%s/dog/cut.jpg", root); write_bytes(p, j, jl / 2);
    free(j); free(g);
    ft_image_opts o = small_opts(16);
    ft_dataset *ds = NULL;
    CHECK_OK(ft_dataset_image_folder(root, &o, &ds));
    if (ds) {
        ft_image_counts c;
        CHECK_OK(ft_image_dataset_counts(ds, &c));
        CHECKF(ds->n == 8 && c.unreadable == 3 && c.not_image == 2 && c.files == 13, "n %lld unreadable %lld "
               "not_image %lld files %lld", (long long)ds->n, (long long)c.unreadable, (long long)c.not_image,
               (long long)c.files);
        const char *note = ft_dataset_note(ds);
        CHECKF(strstr(note, "skipped 5 of 13 files: 2 not an image (first: README), 3 unreadable (first: ") &&
               strstr(note, "fake.jpg: not a JPEG, PNG or BMP image"), "note: %s", note);
        /* cut.jpg is example 3 (dog: cut.jpg < tiny.jpg < ...): get() names it. */
        float x[3 * 16 * 16];
        int32_t y;
        CHECK_ERR(ds->get(ds, 3, NULL, x, &y), FT_EFORMAT);
        CHECK(t_msg_has("dog/cut.jpg") && t_msg_has("truncated"));
        /* The loader stops with that message. */
        ft_loader_config lc = {4, false, false, 1, 2, 2, false, false};
        ft_loader *l;
        CHECK_OK(ft_loader_new(ds, &lc, &l));
        if (l) {
            ft_batch *b;
            CHECK_OK(ft_loader_start(l, 0, 0));
            CHECK_ERR(ft_loader_next(l, &b), FT_EFORMAT);
            CHECK(t_msg_has("cut.jpg"));
            ft_loader_free(l);
        }
        ft_dataset_free(ds);
    }
    /* verify = true decodes everything at open: the truncated file is skipped too. */
    o.verify = true;
    CHECK_OK(ft_dataset_image_folder(root, &o, &ds));
    if (ds) {
        ft_image_counts c;
        CHECK_OK(ft_image_dataset_counts(ds, &c));
        CHECK(ds->n == 7 && c.unreadable == 4);
        float x[3 * 16 * 16];
        int32_t y;
        for (int64_t i = 0; i < ds->n; i++) CHECK_OK(ds->get(ds, i, NULL, x, &y));
        ft_dataset_free(ds);
    }
    /* FT_IMG_FAIL: the first bad file stops the open, named. */
    o.verify = false;
    o.on_error = FT_IMG_FAIL;
    CHECK_ERR(ft_dataset_image_folder(root, &o, &ds), FT_EFORMAT);
    CHECK(ds == NULL && t_msg_has("cat/fake.jpg") && t_msg_has("FT_IMG_FAIL"));
    /* Empty class folder; a class with only unusable files; missing root; root is a file;
     * no class folders. */
    o.on_error = FT_IMG_SKIP;
    snprintf(p, sizeof p, "%s/empty_class", root); mkdir_p(p);
    CHECK_ERR(ft_dataset_image_folder(root, &o, &ds), FT_EFORMAT);
    CHECK(t_msg_has("empty_class: class folder is empty"));
    rmdir(p);
    snprintf(p, sizeof p, "%s/zzz", root); mkdir_p(p);
    snprintf(p, sizeof p, "%s/zzz/bad.png", root); write_bytes(p, "PNG?", 4);
    snprintf(p, sizeof p, "%s/zzz/info.txt", root); write_bytes(p, "?", 1);
    CHECK_ERR(ft_dataset_image_folder(root, &o, &ds), FT_EFORMAT);
    CHECK(t_msg_has("zzz: class folder has no usable images (1 unreadable, 1 not images)"));
    CHECK_ERR(ft_dataset_image_folder(t_tmp("nope"), &o, &ds), FT_ENOTFOUND);
    CHECK(t_msg_has("nope: no such folder"));
    snprintf(p, sizeof p, "%s/README", root);
    CHECK_ERR(ft_dataset_image_folder(p, &o, &ds), FT_EINVAL);
    CHECK(t_msg_has("not a folder"));
    snprintf(p, sizeof p, "%s/cat", root);
    CHECK_ERR(ft_dataset_image_folder(p, &o, &ds), FT_EFORMAT);
    CHECK(t_msg_has("no class folders"));
    /* Bad options. */
    ft_image_opts bad = small_opts(0);
    CHECK_ERR(ft_dataset_image_folder(t_tmp("folder"), &bad, &ds), FT_EINVAL);
    CHECK(t_msg_has("image size 0"));
    bad = small_opts(32);
    bad.resize = 20;
    CHECK_ERR(ft_dataset_image_folder(t_tmp("folder"), &bad, &ds), FT_EINVAL);
    bad = small_opts(32);
    bad.std[1] = 0;
    CHECK_ERR(ft_dataset_image_folder(t_tmp("folder"), &bad, &ds), FT_EINVAL);
    bad = small_opts(32);
    bad.scale_min = 0.5f; bad.scale_max = 0.2f;
    CHECK_ERR(ft_dataset_image_folder(t_tmp("folder"), &bad, &ds), FT_EINVAL);
    /* Not an image dataset. */
    ft_image_counts c;
    CHECK_ERR(ft_image_dataset_counts(NULL, &c), FT_EINVAL);
    CHECK(strcmp(ft_dataset_note(NULL), "") == 0);
}

/* A JPEG whose header lies past the first 64 KiB (two 40 KB APP2 segments before the
 * frame header) still probes, by reading the whole file. */
static void test_big_header(void) {
    mkdir_p(t_tmp("bighdr"));
    mkdir_p(t_tmp("bighdr/a"));
    uint8_t *g = gradient(20, 10);
    size_t jl;
    uint8_t *j = jpeg_encode(g, 20, 10, 3, 90, false, &jl);
    size_t seg = 40000, n = jl + 2 * (seg + 2);
    uint8_t *b = calloc(1, n);
    memcpy(b, j, 2);
    for (int k = 0; k < 2; k++) {
        uint8_t *q = b + 2 + (size_t)k * (seg + 2);
        q[0] = 0xFF; q[1] = 0xE2; q[2] = (uint8_t)(seg >> 8); q[3] = (uint8_t)seg;
    }
    memcpy(b + 2 + 2 * (seg + 2), j + 2, jl - 2);
    write_bytes(t_tmp("bighdr/a/x.jpg"), b, n);
    ft_dataset *ds = NULL;
    ft_image_opts o = small_opts(8);
    CHECK_OK(ft_dataset_image_folder(t_tmp("bighdr"), &o, &ds));
    if (ds) {
        CHECK(ds->n == 1);
        float x[3 * 8 * 8];
        int32_t y;
        CHECK_OK(ds->get(ds, 0, NULL, x, &y));
        /* Replaced on disk by a larger image: the scratch grows, get() still works. */
        write_jpeg_file(t_tmp("bighdr/a/x.jpg"), 300, 200, 90);
        CHECK_OK(ds->get(ds, 0, NULL, x, &y));
        CHECK_OK(ds->get(ds, 0, &(ft_sample_ctx){1, 1, true}, x, &y));
        /* ... or by garbage: a clear error. */
        write_bytes(t_tmp("bighdr/a/x.jpg"), "<html>", 6);
        CHECK_ERR(ds->get(ds, 0, NULL, x, &y), FT_EFORMAT);
        CHECK(t_msg_has("bighdr/a/x.jpg: not a JPEG"));
        ft_dataset_free(ds);
    }
    free(b); free(j); free(g);
}

static void test_manifest(void) {
    char p[600];
    const char *root = t_tmp("folder"); /* from test_folder */
    mkdir_p(t_tmp("man"));
    /* CSV with header, a quoted path holding a comma, relative and absolute paths, names. */
    snprintf(p, sizeof p, "%s/cat/b.jpg", root);
    write_jpeg_file(t_tmp("man/we, too.jpg"), 20, 20, 90);
    FILE *f = fopen(t_tmp("man/list.csv"), "w");
    fprintf(f, "path,label\r\n\"we, too.jpg\",bee\n%s,ant\n\n../folder/dog/x.jpeg , bee\n", p);
    fclose(f);
    ft_image_opts o = small_opts(24);
    ft_dataset *ds = NULL;
    CHECK_OK(ft_dataset_image_manifest(t_tmp("man/list.csv"), &o, &ds));
    if (ds) {
        CHECK(ds->n == 3 && ds->n_classes == 2 && ds->class_names && !strcmp(ds->class_names[0], "ant") &&
              !strcmp(ds->class_names[1], "bee"));
        float x[3 * 24 * 24];
        int32_t y[3];
        for (int i = 0; i < 3; i++) CHECK_OK(ds->get(ds, i, NULL, x, &y[i]));
        CHECK(y[0] == 1 && y[1] == 0 && y[2] == 1);
        CHECKF(!strcmp(ft_dataset_note(ds), "3 images in 2 classes"), "note: %s", ft_dataset_note(ds));
        ft_dataset_free(ds);
    }
    /* JSONL with integer labels and a missing file (skipped, counted; FAIL names the line). */
    f = fopen(t_tmp("man/list.jsonl"), "w");
    fprintf(f, "{\"path\": \"we, too.jpg\", \"label\": 4}\n{\"path\": \"gone.png\", \"label\": 1}\n"
               "{\"path\": \"../folder/cat/c.bmp\", \"label\": 0}\n");
    fclose(f);
    CHECK_OK(ft_dataset_image_manifest(t_tmp("man/list.jsonl"), &o, &ds));
    if (ds) {
        ft_image_counts c;
        CHECK_OK(ft_image_dataset_counts(ds, &c));
        CHECK(ds->n == 2 && ds->n_classes == 5 && ds->class_names == NULL && c.files == 3 && c.unreadable == 1);
        CHECKF(strstr(ft_dataset_note(ds), "1 unreadable (first: ") && strstr(ft_dataset_note(ds), "gone.png: no such file"),
               "note: %s", ft_dataset_note(ds));
        ft_dataset_free(ds);
    }
    o.on_error = FT_IMG_FAIL;
    CHECK_ERR(ft_dataset_image_manifest(t_tmp("man/list.jsonl"), &o, &ds), FT_ENOTFOUND);
    CHECK(t_msg_has("list.jsonl:2") && t_msg_has("gone.png"));
    o.on_error = FT_IMG_SKIP;
    /* Malformed manifests. */
    const char *bad[][2] = {
        {"b1.csv", "path,label\n\"unterminated.jpg,1\n"},
        {"b2.csv", "only_one_field.jpg\n"},
        {"b3.jsonl", "{\"path\": \"a.jpg\", \"label\": -1}\n"},
        {"b4.jsonl", "{\"path\": 3, \"label\": 1}\n"},
        {"b5.jsonl", "{\"path\": \"a.jpg\", \"label\": 1}\n[1, 2]\n"},
        {"b6.csv", ""},
        {"b7.csv", "path,kind\na.jpg,1\n"},
    };
    for (int k = 0; k < 7; k++) {
        write_bytes(t_tmp(bad[k][0]), bad[k][1], strlen(bad[k][1]));
        CHECK_ERR(ft_dataset_image_manifest(t_tmp(bad[k][0]), &o, &ds), FT_EFORMAT);
        CHECK(ds == NULL && t_msg_has(bad[k][0]));
    }
    CHECK_ERR(ft_dataset_image_manifest(t_tmp("nope.csv"), &o, &ds), FT_ENOTFOUND);
    /* Spec strings. */
    char spec[700];
    snprintf(spec, sizeof spec, "images:%s:40", root);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) { CHECK(ds->x_shape[1] == 40 && ds->n == 7); ft_dataset_free(ds); }
    snprintf(spec, sizeof spec, "images:%s:24:30", root);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) { CHECK(ds->x_shape[2] == 24); ft_dataset_free(ds); }
    snprintf(spec, sizeof spec, "images:%s", root);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) { CHECK(ds->x_shape[1] == 224 && !strncmp(ds->name, "images:", 7)); ft_dataset_free(ds); }
    snprintf(spec, sizeof spec, "manifest:%s:16", t_tmp("man/list.csv"));
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) { CHECK(ds->x_shape[1] == 16 && ds->n == 3); ft_dataset_free(ds); }
    snprintf(spec, sizeof spec, "images:%s:0", root);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    snprintf(spec, sizeof spec, "images:%s:64:32", root);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    CHECK(t_msg_has("resize 32"));
    CHECK_ERR(ft_dataset_open("images:", &ds), FT_EINVAL);
}

/* Every allocation failure during an open is a clean FT_ENOMEM (no leak, no crash). */
static void test_oom(void) {
    const char *root = t_tmp("folder");
    ft_image_opts o = small_opts(16);
    int ok_at = -1;
    for (int k = 0; k < 400 && ok_at < 0; k++) {
        ft_dataset *ds = NULL;
        ft_alloc_fail_after(k);
        ft_status st = ft_dataset_image_folder(root, &o, &ds);
        ft_alloc_fail_after(-1);
        if (st == FT_OK) { ok_at = k; ft_dataset_free(ds); }
        else CHECKF(st == FT_ENOMEM && ds == NULL, "fail after %d: %s (%s)", k, ft_status_name(st), ft_errmsg());
    }
    CHECK(ok_at > 0);
    ok_at = -1;
    for (int k = 0; k < 400 && ok_at < 0; k++) {
        ft_dataset *ds = NULL;
        ft_alloc_fail_after(k);
        ft_status st = ft_dataset_image_manifest(t_tmp("man/list.csv"), &o, &ds);
        ft_alloc_fail_after(-1);
        if (st == FT_OK) { ok_at = k; ft_dataset_free(ds); }
        else CHECKF(st == FT_ENOMEM && ds == NULL, "manifest fail after %d: %s (%s)", k, ft_status_name(st), ft_errmsg());
    }
    CHECK(ok_at > 0);
}

static void test_hymenoptera(void) {
    const char *sh = t_shared("hymenoptera");
    if (!sh) return;
    char p[600];
    snprintf(p, sizeof p, "%s/data/hymenoptera/train", sh);
    struct stat sb;
    if (stat(p, &sb) != 0) { printf("SKIP hymenoptera: %s not found\n", p); return; }
    ft_dataset *ds = NULL;
    CHECK_OK(ft_dataset_image_folder(p, NULL, &ds));
    if (ds) {
        ft_image_counts c;
        CHECK_OK(ft_image_dataset_counts(ds, &c));
        CHECK(ds->n == 244 && ds->n_classes == 2 && !strcmp(ds->class_names[0], "ants") &&
              !strcmp(ds->class_names[1], "bees"));
        CHECK(c.files == 245 && c.not_image == 1 && c.unreadable == 0);
        CHECKF(!strcmp(ft_dataset_note(ds), "244 images in 2 classes; skipped 1 of 245 files: 1 not an image "
                       "(first: ants/imageNotFound.gif)"), "note: %s", ft_dataset_note(ds));
        ft_dataset_free(ds);
    }
    /* val: every image decodes and transforms (eval), through a 2-worker loader. */
    snprintf(p, sizeof p, "%s/data/hymenoptera/val", sh);
    CHECK_OK(ft_dataset_image_folder(p, NULL, &ds));
    if (!ds) return;
    CHECK(ds->n == 153 && ds->n_classes == 2);
    ft_loader_config lc = {16, false, false, 0, 2, 2, false, false};
    ft_loader *l;
    CHECK_OK(ft_loader_new(ds, &lc, &l));
    int n = 0, c1 = 0;
    double t0 = now_s();
    bool finite = true;
    if (l) {
        CHECK_OK(ft_loader_start(l, 0, 0));
        ft_batch *b;
        for (;;) {
            ft_status st = ft_loader_next(l, &b);
            CHECK_OK(st);
            if (st || !b) break;
            const float *x = b->x;
            for (int64_t k = 0; k < b->n * ds->x_numel; k += 97) finite = finite && isfinite(x[k]);
            for (int64_t k = 0; k < b->n; k++) c1 += b->y[k];
            n += (int)b->n;
        }
        ft_loader_free(l);
    }
    CHECK(n == 153 && c1 == 83 && finite);
    double dt = now_s() - t0;
    /* One thread, eval and train transforms (decode + resize + normalise to 224x224). */
    float *x = malloc(sizeof(float) * 3 * 224 * 224);
    int32_t y;
    int m = getenv("FT_SANITIZED") ? 10 : 60;
    double t1 = now_s();
    for (int i = 0; i < m; i++) CHECK_OK(ds->get(ds, i, NULL, x, &y));
    double t2 = now_s();
    ft_sample_ctx ctx = {1, 0, true};
    for (int i = 0; i < m; i++) CHECK_OK(ds->get(ds, i, &ctx, x, &y));
    double t3 = now_s();
    printf("hymenoptera val: 153 images via 2 workers in %.2fs; one thread: eval %.0f img/s, train %.0f img/s\n", dt,
           m / (t2 - t1), m / (t3 - t2));
    free(x);
    ft_dataset_free(ds);
}

int main(void) {
    if (!t_tmpdir_make("images")) return 2;
    ft_safetensors *fx = NULL;
    CHECK_OK(ft_st_open("tests/fixtures/resize.safetensors", &fx));
    test_decode_generated();
    if (fx) test_decode_pil(fx);
    test_decode_broken();
    if (fx) test_resize_pil(fx);
    test_resize_properties();
    test_stretch();
    test_random_resized_crop();
    test_folder();
    test_folder_broken();
    test_big_header();
    test_manifest();
    test_oom();
    test_hymenoptera();
    ft_st_close(fx);
    t_tmpdir_remove();
    TEST_END();
}
