"""PIL / torchvision references for the image pipeline (src/data/image.c, transforms.c).

Run with Debian's PIL and torchvision:  /usr/bin/python3 tests/gen/gen_resize.py
Writes tests/fixtures/resize.safetensors (consumed by tests/test_images.c).

Source image: "src" U8 [23, 37, 3] (h, w, RGB), numpy RandomState(7) values blurred a
little so resampling has structure at several scales.

Cases (metadata "cases" = comma-separated names; metadata "<c>" = JSON describing it):
  resize    {"w": W, "h": H}                  "<c>.out" U8 [H, W, 3]: PIL
            Image.resize((W, H), BILINEAR) of src (antialiased, 8-bit)
  eval      {"resize": R, "size": S, "mean": [3], "std": [3]}
            "<c>.out" F32 [3, S, S]: torchvision Resize(R), CenterCrop(S), ToTensor(),
            Normalize(mean, std) on the PIL image
  crop      {"top": i, "left": j, "h": h, "w": w, "size": S, "flip": bool}
            "<c>.out" F32 [3, S, S]: F.resized_crop(img, i, j, h, w, S) (then F.hflip if
            flip), ToTensor()
  jitter    {"op": "brightness"|"contrast"|"saturation", "f": factor}
            "<c>.out" F32 [3, 23, 37]: torchvision's tensor adjust_<op>(ToTensor(src), f)
            (grey = 0.2989 R + 0.587 G + 0.114 B; we use PIL's 0.299, a 1e-4 difference)
  decode    {"format": "JPEG"|"PNG"|"BMP", "note": "..."}
            "<c>.file" U8 [n]: the encoded file; "<c>.rgb" U8 [h, w, 3]: PIL's
            Image.open(...).convert("RGB") (for 16-bit grey PNG, which PIL clips instead of
            scaling, the high byte of each sample, which is what we decode)

Deterministic: running twice gives byte-identical output.
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

H, W = 23, 37
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def source():
    rs = np.random.RandomState(7)
    a = rs.randint(0, 256, size=(H + 2, W + 2, 3)).astype(np.float64)
    # 3x3 box blur plus a gradient: both fine detail and smooth regions.
    b = sum(a[dy:dy + H, dx:dx + W] for dy in range(3) for dx in range(3)) / 9.0
    yy, xx = np.mgrid[0:H, 0:W]
    b[..., 0] = 0.5 * b[..., 0] + 127 * xx / (W - 1)
    b[..., 2] = 0.5 * b[..., 2] + 127 * yy / (H - 1)
    b[::5, ::7, 1] = 255  # isolated bright pixels
    return np.clip(np.rint(b), 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    c = kind + data
    return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)


def png16_rgb(arr16):
    """A 16-bit RGB PNG (PIL cannot write one)."""
    h, w, _ = arr16.shape
    raw = b"".join(b"\0" + arr16[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def main():
    src = source()
    pil = Image.fromarray(src, "RGB")
    tensors = {"src": src}
    meta = {}
    cases = []

    def add(name, desc, **arrays):
        cases.append(name)
        meta[name] = json.dumps(desc, sort_keys=True)
        for k, v in arrays.items():
            tensors[name + "." + k] = v

    # Plain resizes: down on both axes, up on both, mixed, extreme.
    for (w, h) in [(10, 7), (18, 11), (64, 50), (37, 5), (5, 40), (1, 1), (36, 23)]:
        out = np.asarray(pil.resize((w, h), Image.BILINEAR))
        add("resize_%dx%d" % (w, h), {"kind": "resize", "w": w, "h": h}, out=out)

    to_t = T.ToTensor()
    for (r, s) in [(16, 12), (23, 20), (40, 32), (12, 12), (8, 5)]:
        tf = T.Compose([T.Resize(r), T.CenterCrop(s), T.ToTensor(), T.Normalize(MEAN, STD)])
        out = tf(pil).numpy().astype(np.float32)
        add("eval_%d_%d" % (r, s), {"kind": "eval", "resize": r, "size": s, "mean": MEAN, "std": STD}, out=out)

    for (i, j, h, w, s, flip) in [(0, 0, 23, 37, 16, False), (3, 5, 12, 20, 16, True), (10, 30, 13, 7, 24, False),
                                  (0, 0, 1, 1, 4, False), (2, 1, 20, 35, 9, True)]:
        img = F.resized_crop(pil, i, j, h, w, [s, s])
        if flip:
            img = F.hflip(img)
        out = to_t(img).numpy().astype(np.float32)
        add("crop_%d_%d_%d_%d_%d" % (i, j, h, w, s),
            {"kind": "crop", "top": i, "left": j, "h": h, "w": w, "size": s, "flip": flip}, out=out)

    t = to_t(pil)
    for op, f in [("brightness", 1.3), ("brightness", 0.6), ("contrast", 1.4), ("contrast", 0.5),
                  ("saturation", 1.8), ("saturation", 0.3)]:
        out = getattr(F, "adjust_" + op)(t, f).numpy().astype(np.float32)
        add("jitter_%s_%g" % (op, f), {"kind": "jitter", "op": op, "f": f}, out=out)

    # Decoding: small files PIL writes (and one 16-bit PNG written by hand).
    small = pil.resize((16, 12), Image.BILINEAR)
    sm = np.asarray(small)
    rgba = Image.fromarray(np.dstack([sm, (np.arange(16 * 12).reshape(12, 16) * 7 % 256).astype(np.uint8)]), "RGBA")
    pal = small.convert("P", palette=Image.ADAPTIVE, colors=13)
    pal.info["transparency"] = 3
    gray = small.convert("L")
    one = gray.point(lambda v: 255 if v > 128 else 0).convert("1")
    g16 = (np.asarray(gray).astype(np.uint16) * 257 + 3).astype(np.uint16)
    rgb16 = sm.astype(np.uint16) * 256 + 255 - sm.astype(np.uint16)
    files = [
        ("jpeg_rgb", "JPEG", encode(small, "JPEG", quality=90), "4:2:0 baseline"),
        ("jpeg_444", "JPEG", encode(small, "JPEG", quality=95, subsampling=0), "4:4:4"),
        ("jpeg_prog", "JPEG", encode(small, "JPEG", quality=85, progressive=True), "progressive"),
        ("jpeg_gray", "JPEG", encode(gray, "JPEG", quality=90), "greyscale"),
        ("jpeg_cmyk", "JPEG", encode(small.convert("CMYK"), "JPEG", quality=95), "CMYK (Adobe, inverted)"),
        ("png_rgb", "PNG", encode(small, "PNG"), "8-bit RGB"),
        ("png_rgba", "PNG", encode(rgba, "PNG"), "RGBA: alpha dropped"),
        ("png_pal", "PNG", encode(pal, "PNG", transparency=3), "palette with tRNS"),
        ("png_gray", "PNG", encode(gray, "PNG"), "8-bit grey"),
        ("png_la", "PNG", encode(Image.merge("LA", [gray, gray]), "PNG"), "grey + alpha"),
        ("png_1bit", "PNG", encode(one, "PNG"), "1-bit grey"),
        ("png_gray16", "PNG", encode(Image.fromarray(g16, "I;16"), "PNG"), "16-bit grey"),
        ("png_rgb16", "PNG", png16_rgb(rgb16), "16-bit RGB"),
        ("bmp_rgb", "BMP", encode(small, "BMP"), "24-bit"),
        ("bmp_pal", "BMP", encode(pal, "BMP"), "8-bit palette"),
        ("bmp_gray", "BMP", encode(gray, "BMP"), "8-bit grey palette"),
        ("bmp_1bit", "BMP", encode(one, "BMP"), "1-bit"),
    ]
    for name, fmt, data, note in files:
        im = Image.open(io.BytesIO(data))
        if name == "png_gray16":
            rgb = np.repeat((g16 >> 8).astype(np.uint8)[..., None], 3, axis=2)
        else:
            rgb = np.asarray(im.convert("RGB"))
        assert im.format == fmt, (name, im.format)
        add(name, {"kind": "decode", "format": fmt, "note": note},
            file=np.frombuffer(data, dtype=np.uint8).copy(), rgb=rgb)

    meta["cases"] = ",".join(cases)
    meta["generator"] = "tests/gen/gen_resize.py (PIL %s, torchvision %s)" % (Image.__version__,
                                                                             __import__("torchvision").__version__)
    out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "resize.safetensors")
    stio.save(out, tensors, meta)
    print("wrote %s: %d cases, %d bytes" % (os.path.normpath(out), len(cases), os.path.getsize(out)))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
