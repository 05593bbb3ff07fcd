"""Seed corpus for fuzz/fuzz_llama2c.c: tiny llama2.c checkpoints (plain python3, no torch).

python3 fuzz/gen_corpus_llama2c.py  ->  fuzz/corpus/llama2c/*
valid_shared.bin / valid_unshared.bin / valid_gqa.bin: well-formed (random weights);
bad_truncated.bin (last tensor cut), bad_heads.bin (dim not divisible), bad_header.bin (short);
valid_v1.bin (export.py version 1: "ak42" header, norms first) and bad_v2.bin (version 2, refused).
"""
import os
import random
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "llama2c")


def ckpt(dim, hidden, layers, heads, kv, vocab, seq, shared, seed):
    rnd = random.Random(seed)
    D = dim // heads
    kvd = D * kv
    n = (vocab * dim + 2 * layers * dim + 2 * layers * dim * dim + 2 * layers * kvd * dim
         + 3 * layers * dim * hidden + dim + seq * D + (0 if shared else vocab * dim))
    hdr = struct.pack("<7i", dim, hidden, layers, heads, kv, vocab if shared else -vocab, seq)
    return hdr + struct.pack("<%df" % n, *[rnd.uniform(-0.5, 0.5) for _ in range(n)])


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        "valid_shared.bin": ckpt(8, 12, 1, 2, 2, 10, 4, True, 1),
        "valid_unshared.bin": ckpt(8, 12, 2, 2, 2, 7, 6, False, 2),
        "valid_gqa.bin": ckpt(16, 20, 1, 4, 2, 9, 5, True, 3),
    }
    files["bad_truncated.bin"] = files["valid_unshared.bin"][:-9]
    files["bad_heads.bin"] = struct.pack("<7i", 8, 12, 1, 3, 1, 10, 4) + files["valid_shared.bin"][28:]
    files["bad_header.bin"] = files["valid_shared.bin"][:17]
    # version 1: random weights in its order (norms, final norm, embedding, wq..w3; shared classifier)
    dim, hidden, layers, heads, kv, vocab = 8, 12, 1, 2, 1, 10
    D = dim // heads
    n = 2 * layers * dim + dim + vocab * dim + layers * dim * dim * 2 + 2 * layers * D * kv * dim + 3 * layers * dim * hidden
    rnd = random.Random(4)
    hdr = struct.pack("<Ii7iB", 0x616b3432, 1, dim, hidden, layers, heads, kv, vocab, 4, 1)
    files["valid_v1.bin"] = hdr + b"\0" * (256 - len(hdr)) + struct.pack("<%df" % n, *[rnd.uniform(-0.5, 0.5) for _ in range(n)])
    files["bad_v2.bin"] = files["valid_v1.bin"][:4] + struct.pack("<i", 2) + files["valid_v1.bin"][8:]
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), OUT))


if __name__ == "__main__":
    main()
