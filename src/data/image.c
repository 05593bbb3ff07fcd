/* Image decoding: JPEG through libjpeg-turbo, PNG through libpng, BMP by hand.
 *
 * Every decoder works from a buffer holding the whole file and writes RGB bytes into a
 * caller-owned buffer, so the datasets can decode on worker threads without ft_malloc
 * (see transforms.h). The format is sniffed from the first bytes; the header is parsed
 * and the size checked (at most FT_IMAGE_MAX_SIDE a side, and the caller's buffer must
 * hold it) before any pixel is written.
 *
 * Errors never exit: libjpeg and libpng report through error managers that longjmp back
 * here, and every message names the file. A JPEG that ends before its last scan line is
 * an error ("truncated"), as in PIL; libjpeg's other "corrupt data" warnings are
 * ignored, as PIL does. Progressive JPEGs with more than 256 scans are rejected (real
 * ones have about 10; crafted ones can take minutes to decode).
 *
 * Conversions, chosen to match PIL's Image.convert("RGB") (what torchvision's default
 * loader does): grey -> R = G = B, alpha dropped (not composited), palette expanded
 * (tRNS ignored), 16-bit samples -> high byte, CMYK/YCCK JPEG -> RGB as PIL does (it
 * assumes Adobe's inverted CMYK, R = C * K / 255, for every 4-channel JPEG). */
#include "data/transforms.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#define JPEG_MAX_SCANS 256
#define JPEG_MAX_MEMORY (2048L << 20)

const char *ft_image_format_name(ft_image_format f) {
    switch (f) {
    case FT_IMAGE_JPEG: return "JPEG";
    case FT_IMAGE_PNG: return "PNG";
    case FT_IMAGE_BMP: return "BMP";
    case FT_IMAGE_UNKNOWN: break;
    }
    return "unknown";
}

size_t img_rgb8_bytes(int w, int h) { return (size_t)w * (size_t)h * 3 + (size_t)w * 4; }

static const char *nm(const char *name) { return name ? name : "image"; }

static ft_status check_size(const char *name, const char *fmt, int64_t w, int64_t h) {
    if (w <= 0 || h <= 0)
        return ft_fail(FT_EFORMAT, "%s: %s image has size %lldx%lld", name, fmt, (long long)w, (long long)h);
    if (w > FT_IMAGE_MAX_SIDE || h > FT_IMAGE_MAX_SIDE)
        return ft_fail(FT_EFORMAT, "%s: %s image is %lldx%lld, larger than the %d-pixel limit per side", name,
                       fmt, (long long)w, (long long)h, FT_IMAGE_MAX_SIDE);
    return FT_OK;
}

/* ---- format sniffing ---- */

static bool has_prefix(const uint8_t *b, size_t n, const char *magic, size_t m) {
    return n >= m && !memcmp(b, magic, m);
}

static ft_status sniff(const uint8_t *b, size_t n, const char *name, ft_image_format *fmt) {
    *fmt = FT_IMAGE_UNKNOWN;
    if (n == 0) return ft_fail(FT_EFORMAT, "%s: empty file, not an image", name);
    if (has_prefix(b, n, "\xFF\xD8\xFF", 3)) { *fmt = FT_IMAGE_JPEG; return FT_OK; }
    if (has_prefix(b, n, "\x89PNG\r\n\x1A\n", 8)) { *fmt = FT_IMAGE_PNG; return FT_OK; }
    if (has_prefix(b, n, "BM", 2)) { *fmt = FT_IMAGE_BMP; return FT_OK; }
    const char *other = NULL;
    if (has_prefix(b, n, "GIF87a", 6) || has_prefix(b, n, "GIF89a", 6)) other = "GIF";
    else if (n >= 12 && has_prefix(b, n, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) other = "WebP";
    else if (has_prefix(b, n, "II*\0", 4) || has_prefix(b, n, "MM\0*", 4)) other = "TIFF";
    else if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) other = "HEIF/AVIF";
    else if (has_prefix(b, n, "\0\0\1\0", 4)) other = "ICO";
    else if (has_prefix(b, n, "\xFF\x4F\xFF\x51", 4) || has_prefix(b, n, "\0\0\0\x0CjP  ", 8)) other = "JPEG 2000";
    if (other)
        return ft_fail(FT_EUNSUPPORTED, "%s: %s image; only JPEG, PNG and BMP are supported", name, other);
    return ft_fail(FT_EFORMAT, "%s: not a JPEG, PNG or BMP image", name);
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    bool hit_eof;
} jerr_mgr;

static void j_error_exit(j_common_ptr c) {
    jerr_mgr *e = (jerr_mgr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

static void j_emit_message(j_common_ptr c, int level) {
    jerr_mgr *e = (jerr_mgr *)c->err;
    if (level < 0 && (c->err->msg_code == JWRN_JPEG_EOF || c->err->msg_code == JWRN_HIT_MARKER)) e->hit_eof = true;
}

static void j_output_message(j_common_ptr c) { (void)c; }

static void j_progress(j_common_ptr c) {
    jerr_mgr *e = (jerr_mgr *)c->err;
    if (c->is_decompressor && ((j_decompress_ptr)c)->input_scan_number > JPEG_MAX_SCANS) {
        snprintf(e->msg, sizeof e->msg, "progressive JPEG with more than %d scans", JPEG_MAX_SCANS);
        longjmp(e->jb, 1);
    }
}

/* Header only (dst == NULL) or a full decode into dst. */
static ft_status jpeg_run(const uint8_t *buf, size_t len, const char *name, uint8_t *dst, size_t cap,
                          img_info *info) {
    struct jpeg_decompress_struct c;
    jerr_mgr e;
    memset(&c, 0, sizeof c);
    memset(&e, 0, sizeof e);
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = j_error_exit;
    e.pub.emit_message = j_emit_message;
    e.pub.output_message = j_output_message;
    e.progress.progress_monitor = j_progress;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&c);
        if (e.hit_eof) return ft_fail(FT_EFORMAT, "%s: JPEG is truncated (%s)", name, e.msg);
        return ft_fail(FT_EFORMAT, "%s: bad JPEG: %s", name, e.msg);
    }
    jpeg_create_decompress(&c);
    c.progress = &e.progress;
    c.mem->max_memory_to_use = JPEG_MAX_MEMORY;
    jpeg_mem_src(&c, buf, (unsigned long)len);
    if (jpeg_read_header(&c, TRUE) != JPEG_HEADER_OK) {
        jpeg_destroy_decompress(&c);
        return ft_fail(FT_EFORMAT, "%s: JPEG has no image", name);
    }
    ft_status s = check_size(name, "JPEG", c.image_width, c.image_height);
    if (s) { jpeg_destroy_decompress(&c); return s; }
    bool cmyk = c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK;
    if (c.num_components != 1 && c.num_components != 3 && c.num_components != 4) {
        jpeg_destroy_decompress(&c);
        return ft_fail(FT_EFORMAT, "%s: JPEG with %d colour components is not supported", name, c.num_components);
    }
    info->fmt = FT_IMAGE_JPEG;
    info->w = (int)c.image_width;
    info->h = (int)c.image_height;
    if (!dst) { jpeg_destroy_decompress(&c); return FT_OK; }
    if (cap < img_rgb8_bytes(info->w, info->h)) {
        jpeg_destroy_decompress(&c);
        return ft_fail(FT_ESHAPE, "%s: a %dx%d image does not fit the decode buffer", name, info->w, info->h);
    }
    c.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&c);
    if ((int)c.output_width != info->w || (int)c.output_height != info->h ||
        c.output_components != (cmyk ? 4 : 3)) {
        jpeg_destroy_decompress(&c);
        return ft_fail(FT_EFORMAT, "%s: unexpected JPEG output layout", name);
    }
    size_t stride = (size_t)info->w * 3;
    while (c.output_scanline < c.output_height) {
        size_t y = c.output_scanline;
        JSAMPROW row = dst + y * stride;
        if (jpeg_read_scanlines(&c, &row, 1) != 1) {
            jpeg_destroy_decompress(&c);
            return ft_fail(FT_EFORMAT, "%s: JPEG decoder stalled at row %zu", name, y);
        }
        if (cmyk) {
            /* 4 bytes a pixel written at the row start; rewrite as 3, left to right (the
             * write never overtakes the read). img_rgb8_bytes leaves room for the last row.
             * Stored inverted, as Adobe writes them and PIL always assumes. */
            uint8_t *p = dst + y * stride;
            for (int x = 0; x < info->w; x++) {
                unsigned C = p[4 * x], M = p[4 * x + 1], Y = p[4 * x + 2], K = p[4 * x + 3];
                p[3 * x] = (uint8_t)((C * K + 127) / 255);
                p[3 * x + 1] = (uint8_t)((M * K + 127) / 255);
                p[3 * x + 2] = (uint8_t)((Y * K + 127) / 255);
            }
        }
    }
    bool truncated = e.hit_eof;
    jpeg_abort_decompress(&c);
    jpeg_destroy_decompress(&c);
    if (truncated) return ft_fail(FT_EFORMAT, "%s: JPEG is truncated (data ends before the last row)", name);
    return FT_OK;
}

/* ---- PNG ---- */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    char msg[200];
} png_src;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "file ends early (truncated)");
    memcpy(out, s->p + s->pos, n);
    s->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static ft_status png_run(const uint8_t *buf, size_t len, const char *name, uint8_t *dst, size_t cap,
                         img_info *info) {
    png_src src = {buf, len, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    if (!png) return ft_fail(FT_ENOMEM, "%s: out of memory for the PNG decoder", name);
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ft_fail(FT_ENOMEM, "%s: out of memory for the PNG decoder", name);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return ft_fail(FT_EFORMAT, "%s: bad PNG: %s", name, src.msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_user_limits(png, FT_IMAGE_MAX_SIDE, FT_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(png, 8u << 20);
    png_read_info(png, pinfo);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, pinfo, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    ft_status s = check_size(name, "PNG", w, h);
    if (s) { png_destroy_read_struct(&png, &pinfo, NULL); return s; }
    info->fmt = FT_IMAGE_PNG;
    info->w = (int)w;
    info->h = (int)h;
    if (!dst) { png_destroy_read_struct(&png, &pinfo, NULL); return FT_OK; }
    if (cap < img_rgb8_bytes(info->w, info->h)) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return ft_fail(FT_ESHAPE, "%s: a %dx%d image does not fit the decode buffer", name, info->w, info->h);
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    /* Palette and grey expansion turn a tRNS chunk into alpha: drop it too. */
    if ((ctype & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, pinfo, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    size_t stride = (size_t)info->w * 3;
    if (png_get_rowbytes(png, pinfo) != stride || png_get_channels(png, pinfo) != 3) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return ft_fail(FT_EFORMAT, "%s: unexpected PNG row layout", name);
    }
    for (int pass = 0; pass < passes; pass++)
        for (size_t y = 0; y < (size_t)info->h; y++) png_read_row(png, dst + y * stride, NULL);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return FT_OK;
}

/* ---- BMP ----
 * Headers: OS/2 core (12 bytes) and Windows INFO/V2/V3/V4/V5 (40/52/56/108/124).
 * Pixels: 1/4/8-bit palette (uncompressed, RLE8, RLE4), 16/32-bit (default 5-5-5 and
 * X-8-8-8, or BITFIELDS masks), 24-bit. Rows are bottom-up unless the height is
 * negative. Pixels that RLE data never sets take palette entry 0. */

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

typedef struct {
    int64_t w, h;           /* h > 0 */
    bool top_down;
    int bpp;
    uint32_t comp;          /* 0 RGB, 1 RLE8, 2 RLE4, 3/6 BITFIELDS */
    uint32_t mask[3];
    uint8_t pal[256][3];
    int n_pal;
    size_t data_off;
} bmp_hdr;

static ft_status bmp_header(const uint8_t *b, size_t len, size_t file_len, const char *name, bmp_hdr *hd) {
    memset(hd, 0, sizeof *hd);
    if (len < 26) return ft_fail(FT_EFORMAT, "%s: BMP header truncated", name);
    hd->data_off = le32(b + 10);
    uint32_t hsz = le32(b + 14);
    int64_t w, h;
    int planes;
    size_t pal_entry = 4;
    if (hsz == 12) {
        w = le16(b + 18);
        h = le16(b + 20);
        planes = (int)le16(b + 22);
        hd->bpp = (int)le16(b + 24);
        pal_entry = 3;
    } else if (hsz == 40 || hsz == 52 || hsz == 56 || hsz == 108 || hsz == 124) {
        if (len < 14 + (size_t)hsz) return ft_fail(FT_EFORMAT, "%s: BMP header truncated", name);
        w = (int32_t)le32(b + 18);
        h = (int32_t)le32(b + 22);
        planes = (int)le16(b + 26);
        hd->bpp = (int)le16(b + 28);
        hd->comp = le32(b + 30);
        uint32_t used = le32(b + 46);
        if (hd->bpp <= 8) {
            if (used > 256) return ft_fail(FT_EFORMAT, "%s: BMP palette of %u colours", name, used);
            hd->n_pal = used ? (int)used : 1 << hd->bpp;
        }
    } else {
        return ft_fail(FT_EFORMAT, "%s: BMP header of %u bytes is not supported", name, hsz);
    }
    if (planes != 1) return ft_fail(FT_EFORMAT, "%s: BMP with %d planes", name, planes);
    if (h < 0) {
        hd->top_down = true;
        h = -h;
    }
    hd->w = w;
    hd->h = h;
    ft_status s = check_size(name, "BMP", w, h);
    if (s) return s;
    int bpp = hd->bpp;
    if (hsz == 12 && bpp <= 8) hd->n_pal = 1 << bpp;
    switch (hd->comp) {
    case 0:
        if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
            return ft_fail(FT_EFORMAT, "%s: BMP with %d bits per pixel", name, bpp);
        break;
    case 1: case 2:
        if (bpp != (hd->comp == 1 ? 8 : 4))
            return ft_fail(FT_EFORMAT, "%s: RLE%d BMP with %d bits per pixel", name, hd->comp == 1 ? 8 : 4, bpp);
        if (hd->top_down) return ft_fail(FT_EFORMAT, "%s: top-down RLE BMP", name);
        break;
    case 3: case 6:
        if (bpp != 16 && bpp != 32) return ft_fail(FT_EFORMAT, "%s: BITFIELDS BMP with %d bits per pixel", name, bpp);
        break;
    case 4: case 5:
        return ft_fail(FT_EUNSUPPORTED, "%s: BMP with embedded %s data is not supported", name,
                       hd->comp == 4 ? "JPEG" : "PNG");
    default:
        return ft_fail(FT_EFORMAT, "%s: BMP compression %u is not supported", name, hd->comp);
    }
    size_t after = 14 + (size_t)hsz;
    if (hd->comp == 3 || hd->comp == 6) {
        size_t need = hsz >= 52 ? 0 : (hd->comp == 6 ? 16 : 12);
        size_t at = hsz >= 52 ? 54 : after;
        if (len < at + 12) return ft_fail(FT_EFORMAT, "%s: BMP bit masks truncated", name);
        for (int k = 0; k < 3; k++) hd->mask[k] = le32(b + at + 4 * k);
        after += need;
        for (int k = 0; k < 3; k++) {
            uint32_t m = hd->mask[k];
            if (!m) continue;
            while (!(m & 1)) m >>= 1;
            if (m & (m + 1)) return ft_fail(FT_EFORMAT, "%s: BMP bit mask %08x is not contiguous", name, hd->mask[k]);
        }
    } else if (bpp == 16) {
        hd->mask[0] = 0x7C00; hd->mask[1] = 0x03E0; hd->mask[2] = 0x001F;
    } else if (bpp == 32) {
        hd->mask[0] = 0xFF0000; hd->mask[1] = 0xFF00; hd->mask[2] = 0xFF;
    }
    if (hd->n_pal) {
        size_t pal_bytes = (size_t)hd->n_pal * pal_entry;
        if (len < after + pal_bytes) return ft_fail(FT_EFORMAT, "%s: BMP palette truncated", name);
        for (int k = 0; k < hd->n_pal; k++) {
            const uint8_t *q = b + after + (size_t)k * pal_entry;
            hd->pal[k][0] = q[2]; hd->pal[k][1] = q[1]; hd->pal[k][2] = q[0];
        }
    }
    if (hd->data_off > file_len) return ft_fail(FT_EFORMAT, "%s: BMP pixel data offset past the end of the file", name);
    if (hd->comp == 0 || hd->comp == 3 || hd->comp == 6) {
        uint64_t stride = ((uint64_t)w * (uint64_t)bpp + 31) / 32 * 4;
        uint64_t need = stride * (uint64_t)(h - 1) + ((uint64_t)w * (uint64_t)bpp + 7) / 8;
        if (need > file_len - hd->data_off)
            return ft_fail(FT_EFORMAT, "%s: BMP is truncated (%llu bytes of pixel data, %zu present)", name,
                           (unsigned long long)need, file_len - hd->data_off);
    }
    return FT_OK;
}

/* Scale a masked field to 0..255. */
static uint8_t bmp_field(uint32_t px, uint32_t mask) {
    if (!mask) return 0;
    int shift = 0;
    while (!((mask >> shift) & 1)) shift++;
    uint32_t max = mask >> shift;
    uint32_t v = (px & mask) >> shift;
    return (uint8_t)(((uint64_t)v * 255 + max / 2) / max);
}

static void bmp_put_index(const bmp_hdr *hd, uint8_t *dst, int64_t x, int64_t row, unsigned idx) {
    uint8_t *o = dst + ((size_t)row * (size_t)hd->w + (size_t)x) * 3;
    if ((int)idx < hd->n_pal) memcpy(o, hd->pal[idx], 3);
    else memset(o, 0, 3);
}

static ft_status bmp_rle(const uint8_t *b, size_t len, const char *name, const bmp_hdr *hd, uint8_t *dst) {
    bool rle4 = hd->comp == 2;
    /* Unset pixels: palette entry 0. */
    for (int64_t y = 0; y < hd->h; y++)
        for (int64_t x = 0; x < hd->w; x++) bmp_put_index(hd, dst, x, y, 0);
    size_t p = hd->data_off;
    int64_t x = 0, y = 0; /* y counts from the bottom row */
    while (y < hd->h) {
        if (len - p < 2) return ft_fail(FT_EFORMAT, "%s: RLE BMP is truncated", name);
        unsigned n = b[p], v = b[p + 1];
        p += 2;
        if (n > 0) {
            for (unsigned k = 0; k < n && x < hd->w; k++, x++) {
                unsigned idx = rle4 ? (k & 1 ? v & 15 : v >> 4) : v;
                bmp_put_index(hd, dst, x, hd->h - 1 - y, idx);
            }
        } else if (v == 0) {
            x = 0; y++;
        } else if (v == 1) {
            break;
        } else if (v == 2) {
            if (len - p < 2) return ft_fail(FT_EFORMAT, "%s: RLE BMP is truncated", name);
            x += b[p]; y += b[p + 1];
            p += 2;
        } else {
            size_t bytes = rle4 ? (v + 1) / 2 : v;
            size_t padded = (bytes + 1) & ~(size_t)1;
            if (len - p < bytes) return ft_fail(FT_EFORMAT, "%s: RLE BMP is truncated", name);
            for (unsigned k = 0; k < v; k++, x++) {
                unsigned byte = b[p + (rle4 ? k / 2 : k)];
                unsigned idx = rle4 ? (k & 1 ? byte & 15 : byte >> 4) : byte;
                if (x < hd->w && y < hd->h) bmp_put_index(hd, dst, x, hd->h - 1 - y, idx);
            }
            p += padded <= len - p ? padded : len - p;
        }
    }
    return FT_OK;
}

static ft_status bmp_run(const uint8_t *b, size_t len, const char *name, uint8_t *dst, size_t cap, img_info *info) {
    bmp_hdr hd;
    ft_status s = bmp_header(b, len, len, name, &hd);
    if (s) return s;
    info->fmt = FT_IMAGE_BMP;
    info->w = (int)hd.w;
    info->h = (int)hd.h;
    if (!dst) return FT_OK;
    if (cap < img_rgb8_bytes(info->w, info->h))
        return ft_fail(FT_ESHAPE, "%s: a %dx%d image does not fit the decode buffer", name, info->w, info->h);
    if (hd.comp == 1 || hd.comp == 2) return bmp_rle(b, len, name, &hd, dst);
    size_t stride = ((size_t)hd.w * (size_t)hd.bpp + 31) / 32 * 4;
    for (int64_t r = 0; r < hd.h; r++) {
        const uint8_t *row = b + hd.data_off + (size_t)r * stride;
        int64_t out_row = hd.top_down ? r : hd.h - 1 - r;
        uint8_t *o = dst + (size_t)out_row * (size_t)hd.w * 3;
        for (int64_t x = 0; x < hd.w; x++, o += 3) {
            switch (hd.bpp) {
            case 1: case 4: case 8: {
                size_t bit = (size_t)x * (size_t)hd.bpp;
                unsigned idx = (row[bit / 8] >> (8 - hd.bpp - bit % 8)) & ((1u << hd.bpp) - 1);
                if ((int)idx < hd.n_pal) memcpy(o, hd.pal[idx], 3);
                else memset(o, 0, 3);
                break;
            }
            case 24:
                o[0] = row[3 * x + 2]; o[1] = row[3 * x + 1]; o[2] = row[3 * x];
                break;
            case 16: case 32: {
                uint32_t px = hd.bpp == 16 ? le16(row + 2 * x) : le32(row + 4 * x);
                for (int k = 0; k < 3; k++) o[k] = bmp_field(px, hd.mask[k]);
                break;
            }
            }
        }
    }
    return FT_OK;
}

/* ---- dispatch ---- */

ft_status img_probe(const uint8_t *buf, size_t len, size_t file_len, const char *name, img_info *info) {
    name = nm(name);
    memset(info, 0, sizeof *info);
    if (file_len < len) file_len = len;
    ft_image_format f;
    ft_status s = sniff(buf, len, name, &f);
    if (s) return s;
    info->fmt = f; /* kept on failure: the caller may retry with more of the file */
    switch (f) {
    case FT_IMAGE_JPEG: return jpeg_run(buf, len, name, NULL, 0, info);
    case FT_IMAGE_PNG: return png_run(buf, len, name, NULL, 0, info);
    case FT_IMAGE_BMP: {
        bmp_hdr hd;
        if ((s = bmp_header(buf, len, file_len, name, &hd))) return s;
        info->fmt = FT_IMAGE_BMP;
        info->w = (int)hd.w;
        info->h = (int)hd.h;
        return FT_OK;
    }
    case FT_IMAGE_UNKNOWN: break;
    }
    return ft_fail(FT_EFORMAT, "%s: not an image", name);
}

ft_status img_decode_rgb8(const uint8_t *buf, size_t len, const char *name, uint8_t *dst, size_t dst_cap,
                          img_info *info) {
    name = nm(name);
    memset(info, 0, sizeof *info);
    ft_image_format f;
    ft_status s = sniff(buf, len, name, &f);
    if (s) return s;
    switch (f) {
    case FT_IMAGE_JPEG: return jpeg_run(buf, len, name, dst, dst_cap, info);
    case FT_IMAGE_PNG: return png_run(buf, len, name, dst, dst_cap, info);
    case FT_IMAGE_BMP: return bmp_run(buf, len, name, dst, dst_cap, info);
    case FT_IMAGE_UNKNOWN: break;
    }
    return ft_fail(FT_EFORMAT, "%s: not an image", name);
}

ft_status img_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *cap, size_t *len,
                        size_t *file_len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return ft_fail(FT_ENOTFOUND, "%s: no such file", path);
        return ft_fail(FT_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ft_fail(FT_EIO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    *file_len = size;
    size_t want = size < max_bytes ? size : max_bytes;
    if (want + 1 > *cap) {
        uint8_t *nb = realloc(*buf, want + 1);
        if (!nb) {
            fclose(f);
            return ft_fail(FT_ENOMEM, "%s: out of memory reading %zu bytes", path, want);
        }
        *buf = nb;
        *cap = want + 1;
    }
    size_t got = want ? fread(*buf, 1, want, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (err) return ft_fail(FT_EIO, "%s: read error", path);
    *len = got;
    return FT_OK;
}

/* ---- public API ---- */

ft_status ft_image_probe_memory(const void *data, size_t len, const char *name, ft_image_format *fmt,
                                int64_t *width, int64_t *height) {
    img_info info;
    if (!data && len) return ft_fail(FT_EINVAL, "ft_image_probe_memory: no data");
    ft_status s = img_probe(data ? data : "", len, len, name, &info);
    if (fmt) *fmt = s ? FT_IMAGE_UNKNOWN : info.fmt;
    if (width) *width = s ? 0 : info.w;
    if (height) *height = s ? 0 : info.h;
    return s;
}

void ft_image_free(ft_image *img) {
    if (!img) return;
    ft_free(img->data);
    memset(img, 0, sizeof *img);
}

ft_status ft_image_decode_memory(const void *data, size_t len, const char *name, ft_image *out) {
    memset(out, 0, sizeof *out);
    name = nm(name);
    if (!data && len) return ft_fail(FT_EINVAL, "ft_image_decode_memory: no data");
    img_info info;
    ft_status s = img_probe(data ? data : "", len, len, name, &info);
    if (s) return s;
    size_t cap = img_rgb8_bytes(info.w, info.h);
    size_t npx = (size_t)info.w * (size_t)info.h;
    uint8_t *rgb = ft_malloc(cap);
    float *f = ft_malloc(npx * 3 * sizeof *f);
    if (!rgb || !f) {
        ft_free(rgb); ft_free(f);
        return ft_fail(FT_ENOMEM, "%s: out of memory for a %dx%d image", name, info.w, info.h);
    }
    if ((s = img_decode_rgb8(data, len, name, rgb, cap, &info))) {
        ft_free(rgb); ft_free(f);
        return s;
    }
    for (size_t k = 0; k < npx; k++)
        for (int c = 0; c < 3; c++) f[c * npx + k] = (float)rgb[3 * k + c] * (1.0f / 255.0f);
    ft_free(rgb);
    out->width = info.w;
    out->height = info.h;
    out->data = f;
    return FT_OK;
}

ft_status ft_image_load(const char *path, ft_image *out) {
    memset(out, 0, sizeof *out);
    if (!path) return ft_fail(FT_EINVAL, "ft_image_load: no path");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0, file_len = 0;
    /* The largest plausible file: an uncompressed 32-bit BMP at the size limit. */
    ft_status s = img_read_file(path, (size_t)FT_IMAGE_MAX_SIDE * FT_IMAGE_MAX_SIDE * 4 + 4096, &buf, &cap, &len,
                                &file_len);
    if (!s) s = ft_image_decode_memory(buf, len, path, out);
    free(buf);
    return s;
}
