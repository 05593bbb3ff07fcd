#!/usr/bin/env python3
"""Writes the seed corpus for fuzz/fuzz_wav.c into fuzz/corpus/wav/.

Plain Python (no packages): run from the repository root with
    python3 fuzz/gen_corpus_wav.py
Valid files cover the WAV encodings libsndfile reads (PCM u8/16/24/32, float 32/64,
stereo, u-law, A-law, WAVE_FORMAT_EXTENSIBLE, 8 kHz and 16 kHz) plus AIFF and AU; broken
ones carry one defect each (truncated data, a header cut short, no samples, an unknown
format tag, NaN and out-of-range floats, a bogus rate). Every file is < 2 KB. Deterministic.
"""
import math
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "wav")


def samples(n, rate):
    return [0.6 * math.sin(2 * math.pi * 440 * k / rate) + 0.1 * math.sin(k * 0.37) for k in range(n)]


def enc(x, kind):
    if kind == "u8":
        return bytes(max(0, min(255, int(round(v * 127 + 128)))) for v in x)
    if kind == "s16":
        return b"".join(struct.pack("<h", int(round(v * 32767))) for v in x)
    if kind == "s24":
        return b"".join(struct.pack("<i", int(round(v * 8388607)))[:3] for v in x)
    if kind == "s32":
        return b"".join(struct.pack("<i", int(round(v * 2147483647))) for v in x)
    if kind == "f32":
        return b"".join(struct.pack("<f", v) for v in x)
    if kind == "f64":
        return b"".join(struct.pack("<d", v) for v in x)
    if kind in ("ulaw", "alaw"):
        return bytes((int(v * 100) & 0xFF) for v in x)
    raise ValueError(kind)


def wav(tag, ch, rate, bits, data, declared=None, extensible=False):
    block = ch * bits // 8
    if extensible:
        guid = struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, ch, rate, rate * block, block, bits, 22, bits, 0) + guid
    else:
        fmt = struct.pack("<HHIIHH", tag, ch, rate, rate * block, block, bits)
    d = len(data) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", d) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def aiff(rate, x):
    data = b"".join(struct.pack(">h", int(round(v * 32767))) for v in x)
    # 80-bit extended sample rate
    e, m = 16383 + int(math.floor(math.log2(rate))), rate
    mant = int(m * (1 << 63) / (1 << int(math.floor(math.log2(rate)))))
    ext = struct.pack(">HQ", e, mant)
    comm = struct.pack(">hIh", 1, len(x), 16) + ext
    ssnd = struct.pack(">II", 0, 0) + data
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm + b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


def au(rate, x):
    data = b"".join(struct.pack(">h", int(round(v * 32767))) for v in x)
    return struct.pack(">4sIIIII", b".snd", 24, len(data), 3, rate, 1) + data


def main():
    os.makedirs(OUT, exist_ok=True)
    x8, x16 = samples(200, 8000), samples(300, 16000)
    files = {
        "pcm_u8.wav": wav(1, 1, 8000, 8, enc(x8, "u8")),
        "pcm_s16_8k.wav": wav(1, 1, 8000, 16, enc(x8, "s16")),
        "pcm_s16_16k.wav": wav(1, 1, 16000, 16, enc(x16, "s16")),
        "pcm_s24.wav": wav(1, 1, 16000, 24, enc(x16[:150], "s24")),
        "pcm_s32.wav": wav(1, 1, 16000, 32, enc(x16[:100], "s32")),
        "float32.wav": wav(3, 1, 16000, 32, enc(x16[:100], "f32")),
        "float64.wav": wav(3, 1, 16000, 64, enc(x16[:60], "f64")),
        "stereo_s16.wav": wav(1, 2, 8000, 16, enc([v for v in x8 for _ in (0, 1)][:300], "s16")),
        "ulaw.wav": wav(7, 1, 8000, 8, enc(x8, "ulaw")),
        "alaw.wav": wav(6, 1, 8000, 8, enc(x8, "alaw")),
        "extensible_s16.wav": wav(1, 1, 16000, 16, enc(x16[:100], "s16"), extensible=True),
        "aiff_s16.aiff": aiff(8000, x8[:100]),
        "au_s16.au": au(8000, x8[:100]),
        "bad_truncated.wav": wav(1, 1, 8000, 16, enc(x8[:50], "s16"), declared=400),
        "bad_header_cut.wav": wav(1, 1, 8000, 16, enc(x8, "s16"))[:30],
        "bad_zero_samples.wav": wav(1, 1, 8000, 16, b""),
        "bad_format_tag.wav": wav(0x1234, 1, 8000, 16, enc(x8[:50], "s16")),
        "bad_nan.wav": wav(3, 1, 8000, 32, enc(x8[:20], "f32") + struct.pack("<f", float("nan")) * 3),
        "bad_clipped.wav": wav(3, 1, 8000, 32, enc([v * 4 for v in x8[:50]], "f32")),
        "bad_rate_zero.wav": wav(1, 1, 0, 16, enc(x8[:50], "s16")),
        "bad_text.wav": b"this is not a wave file\n" * 4,
    }
    for name, b in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(b)
    print("wrote", len(files), "files to", OUT)


if __name__ == "__main__":
    main()
