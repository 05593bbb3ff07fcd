"""Digit-string utterances from the Free Spoken Digit Dataset, for examples/fsdd-asr.

Joins 2-6 FSDD clips ({digit}_{speaker}_{index}.wav, 8 kHz mono 16-bit) with short random
silences, adds white noise at a random SNR, and writes the WAVs (8 kHz) plus manifests
`train.csv` / `test.csv` (header `path,label`, the label being the transcript; transcripts are the digits separated by
spaces, e.g. "3 1 4"). Train strings use only train clips (index 5-49), test strings only test
clips (index 0-4, the conventional split). Seeded: the same arguments give the same files.
Standard library only (wave, audioop, random).

Usage: python3 make_data.py FSDD_RECORDINGS OUT_DIR [--train N] [--test N] [--seed S] [--max-seconds X]
"""
import argparse
import os
import random
import struct
import sys
import warnings
import wave

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 8000


def load_clips(root):
    clips = {}
    for name in sorted(os.listdir(root)):
        if not name.endswith(".wav"):
            continue
        parts = name[:-4].split("_")
        if len(parts) != 3:
            continue
        digit, speaker, index = int(parts[0]), parts[1], int(parts[2])
        with wave.open(os.path.join(root, name), "rb") as w:
            if w.getframerate() != RATE or w.getsampwidth() != 2 or w.getnchannels() != 1:
                sys.exit("%s: expected 8 kHz mono 16-bit" % name)
            data = w.readframes(w.getnframes())
        split = "test" if index < 5 else "train"
        clips.setdefault((split, digit), []).append(data)
    return clips


def silence(rng, lo, hi):
    return b"\0\0" * int(rng.uniform(lo, hi) * RATE)


def make_split(clips, split, n, rng, noise, max_samples, out_dir):
    rows = []
    made = 0
    while made < n:
        k = rng.randint(2, 6)
        digits = [rng.randrange(10) for _ in range(k)]
        pcm = silence(rng, 0.05, 0.3)
        for j, d in enumerate(digits):
            pcm += rng.choice(clips[(split, d)])
            pcm += silence(rng, 0.05, 0.25) if j + 1 < k else silence(rng, 0.05, 0.3)
        if len(pcm) // 2 > max_samples:
            continue  # too long for the fixed clip length: draw again
        rms = max(audioop.rms(pcm, 2), 1)
        snr_db = rng.uniform(10, 30)
        nlen = len(pcm)
        start = 2 * rng.randrange((len(noise) - nlen) // 2)
        seg = noise[start:start + nlen]
        gain = rms / (10 ** (snr_db / 20)) / max(audioop.rms(seg, 2), 1)
        pcm = audioop.add(pcm, audioop.mul(seg, 2, gain), 2)
        name = "%s/%s_%04d.wav" % (split, split, made)
        with wave.open(os.path.join(out_dir, name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm)
        rows.append((name, " ".join(str(d) for d in digits)))
        made += 1
    with open(os.path.join(out_dir, split + ".csv"), "w") as f:
        f.write("path,label\n")  # the audio manifest reads the transcript as the label
        for p, t in rows:
            f.write("%s,%s\n" % (p, t))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fsdd")
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=5.0)
    a = ap.parse_args()
    clips = load_clips(a.fsdd)
    for split in ("train", "test"):
        for d in range(10):
            if not clips.get((split, d)):
                sys.exit("no %s clips of digit %d in %s" % (split, d, a.fsdd))
        os.makedirs(os.path.join(a.out, split), exist_ok=True)
    rng = random.Random(a.seed)
    noise_rng = random.Random(a.seed + 1000)
    noise = struct.pack("<%dh" % (RATE * 20), *[max(-32767, min(32767, int(noise_rng.gauss(0, 3000))))
                                                for _ in range(RATE * 20)])
    max_samples = int(a.max_seconds * RATE)
    tr = make_split(clips, "train", a.train, rng, noise, max_samples, a.out)
    te = make_split(clips, "test", a.test, rng, noise, max_samples, a.out)
    print("wrote %d train and %d test utterances to %s" % (len(tr), len(te), a.out))


if __name__ == "__main__":
    main()
