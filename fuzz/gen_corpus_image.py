#!/usr/bin/env python3
"""Writes the seed corpus for fuzz/fuzz_image.c into fuzz/corpus/image/.

Needs PIL (Debian python3-pil): run from the repository root with
    /usr/bin/python3 fuzz/gen_corpus_image.py
Valid files cover each decoder path (JPEG baseline / progressive / grey / CMYK, PNG
RGB / palette+tRNS / grey 1-bit / 16-bit / grey+alpha / Adam7 interlaced, BMP 24-bit /
8-bit palette / 1-bit / 4-bit / 16-bit bitfields / 32-bit top-down / RLE8 / RLE4 / OS/2
core header); broken ones carry one defect each. Every file is < 4 KB. Deterministic.
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "image")


def pattern(w, h):
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx * 37 + yy * 91) % 256], axis=2)
    return a.astype(np.uint8)


def save(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def chunk(kind, data):
    c = kind + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)


def png_raw(w, h, depth, ctype, rows, interlace=0):
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def png16(a):
    h, w, _ = a.shape
    v = a.astype(np.uint16) * 257
    return png_raw(w, h, 16, 2, b"".join(b"\0" + v[y].astype(">u2").tobytes() for y in range(h)))


def png_adam7(a):
    h, w, _ = a.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        raw += b"".join(b"\0" + sub[y].tobytes() for y in range(sub.shape[0]))
    return png_raw(w, h, 8, 2, raw, interlace=1)


def bmp(w, h, bpp, comp, pixels, palette=None, masks=None, top_down=False):
    """BITMAPINFOHEADER file around ready-made pixel bytes."""
    extra = b""
    if masks:
        extra = b"".join(struct.pack("<I", m) for m in masks)
    pal = b"".join(bytes((b, g, r, 0)) for r, g, b in (palette or []))
    off = 14 + 40 + len(extra) + len(pal)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp, comp, len(pixels), 2835, 2835,
                       len(palette or []), 0)
    return b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off) + info + extra + pal + pixels


def rows_bmp(a, bpp, bottom_up=True):
    h, w, _ = a.shape
    stride = (w * bpp + 31) // 32 * 4
    out = b""
    order = range(h - 1, -1, -1) if bottom_up else range(h)
    for y in order:
        row = bytearray(stride)
        for x in range(w):
            r, g, b = (int(v) for v in a[y, x])
            if bpp == 24:
                row[3 * x:3 * x + 3] = bytes((b, g, r))
            elif bpp == 32:
                row[4 * x:4 * x + 4] = struct.pack("<I", (r << 16) | (g << 8) | b)
            elif bpp == 16:
                row[2 * x:2 * x + 2] = struct.pack("<H", ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3))
            elif bpp == 4:
                row[x // 2] |= (g >> 4) << (0 if x % 2 else 4)
        out += bytes(row)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    a = pattern(16, 12)
    img = Image.fromarray(a, "RGB")
    gray = img.convert("L")
    files = {}
    files["valid_jpeg_baseline.jpg"] = save(img, "JPEG", quality=75)
    files["valid_jpeg_progressive.jpg"] = save(img, "JPEG", quality=75, progressive=True)
    files["valid_jpeg_gray.jpg"] = save(gray, "JPEG", quality=75)
    files["valid_jpeg_cmyk.jpg"] = save(img.convert("CMYK"), "JPEG", quality=75)
    files["valid_jpeg_444_restart.jpg"] = save(img, "JPEG", quality=90, subsampling=0)
    files["valid_png_rgb.png"] = save(img, "PNG")
    pal = img.convert("P", palette=Image.ADAPTIVE, colors=8)
    files["valid_png_palette_trns.png"] = save(pal, "PNG", transparency=2)
    files["valid_png_gray1.png"] = save(gray.point(lambda v: 255 if v > 100 else 0).convert("1"), "PNG")
    files["valid_png_gray_alpha.png"] = save(Image.merge("LA", [gray, gray]), "PNG")
    files["valid_png_rgba.png"] = save(Image.merge("RGBA", [*img.split(), gray]), "PNG")
    files["valid_png_rgb16.png"] = png16(a[:6, :8])
    files["valid_png_adam7.png"] = png_adam7(a[:9, :11])
    files["valid_bmp_24.bmp"] = save(img, "BMP")
    files["valid_bmp_pal8.bmp"] = save(pal, "BMP")
    files["valid_bmp_1bit.bmp"] = save(gray.convert("1"), "BMP")
    files["valid_bmp_4bit.bmp"] = bmp(16, 12, 4, 0, rows_bmp(a, 4), palette=[(k * 17,) * 3 for k in range(16)])
    files["valid_bmp_16_bitfields.bmp"] = bmp(16, 12, 16, 3, rows_bmp(a, 16), masks=[0xF800, 0x07E0, 0x001F])
    files["valid_bmp_32_topdown.bmp"] = bmp(16, 12, 32, 3, rows_bmp(a, 32, bottom_up=False),
                                            masks=[0xFF0000, 0xFF00, 0xFF], top_down=True)
    palette4 = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    rle8 = bytes([3, 1, 0, 3, 2, 3, 1, 0, 0, 0, 0, 2, 1, 1, 2, 2, 0, 0, 0, 1])
    files["valid_bmp_rle8.bmp"] = bmp(6, 4, 8, 1, rle8, palette=palette4)
    rle4 = bytes([4, 0x12, 0, 5, 0x31, 0x23, 0x10, 0, 0, 0, 0, 1])
    files["valid_bmp_rle4.bmp"] = bmp(8, 3, 4, 2, rle4, palette=palette4 * 4)
    core = struct.pack("<IHHHH", 12, 4, 2, 1, 24)
    px = rows_bmp(a[:2, :4], 24)
    files["valid_bmp_os2core.bmp"] = b"BM" + struct.pack("<IHHI", 26 + len(px), 0, 0, 26) + core + px
    # Broken: one defect each.
    jpg = files["valid_jpeg_baseline.jpg"]
    sos = jpg.index(b"\xff\xda")
    files["bad_jpeg_truncated.jpg"] = jpg[:(sos + len(jpg)) // 2]  # inside the scan data
    files["bad_jpeg_no_sos.jpg"] = jpg[:jpg.index(b"\xff\xda")]
    files["bad_jpeg_huge_sof.jpg"] = jpg.replace(b"\xff\xc0\x00\x11\x08\x00\x0c\x00\x10",
                                                 b"\xff\xc0\x00\x11\x08\x7f\xff\x7f\xff", 1)
    pngb = files["valid_png_rgb.png"]
    files["bad_png_truncated.png"] = pngb[:len(pngb) - 30]
    files["bad_png_crc.png"] = pngb[:29] + bytes([pngb[29] ^ 0xFF]) + pngb[30:]
    files["bad_png_huge.png"] = png_raw(20000, 1, 8, 2, b"\0" + b"\0" * 60000)[:200]
    b24 = files["valid_bmp_24.bmp"]
    files["bad_bmp_truncated.bmp"] = b24[:len(b24) - 100]
    files["bad_bmp_offset.bmp"] = b24[:10] + struct.pack("<I", 0x7FFFFFFF) + b24[14:]
    files["bad_bmp_rle_runaway.bmp"] = bmp(6, 4, 8, 1, bytes([0, 200, 1, 2]), palette=palette4)
    files["bad_gif.gif"] = save(pal, "GIF")
    files["bad_empty"] = b""
    files["bad_text.jpg"] = b"this is not an image\n"
    for name, data in sorted(files.items()):
        assert len(data) < 4096, (name, len(data))
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(files), OUT))


if __name__ == "__main__":
    main()
