#!/usr/bin/python3
"""Random-init files in llm.c's formats, for bench/llmc.sh (llm.c's own Python tools, which
download GPT-2's weights and tokenize a dataset, are not usable here).

    /usr/bin/python3 bench/llmc_files.py DIR [--tokens N] [--seed S]

Writes, under DIR (never inside the repository: the checkpoint is ~500 MB):
  gpt2_124M.bin   llm.c's float32 checkpoint as train_gpt2.c's gpt2_build_from_checkpoint reads
                  it: a header of 256 int32 (magic 20240326, version 3, max_seq_len 1024,
                  vocab_size 50257, num_layers 12, num_heads 12, channels 768, padded_vocab_size
                  50304, the rest 0), then the 16 parameter tensors back to back in
                  fill_in_parameter_sizes' order: wte [Vp,C], wpe [maxT,C], ln1w [L,C], ln1b,
                  qkvw [L,3C,C], qkvb [L,3C], attprojw [L,C,C], attprojb [L,C], ln2w, ln2b,
                  fcw [L,4C,C], fcb [L,4C], fcprojw [L,C,4C], fcprojb [L,C], lnfw [C], lnfb [C].
                  Weights ~ N(0, 0.02), layer-norm weights 1, biases 0 (numpy, seeded).
  dev/data/tinyshakespeare/tiny_shakespeare_{train,val}.bin
                  token shards as llmc/dataloader.h reads them: a header of 256 int32 (magic
                  20240520, version 1, number of tokens), then the tokens as uint16, drawn
                  uniformly from 0..50256. train_gpt2.c's main() opens these paths relative to
                  its working directory.
"""
import argparse
import os

import numpy as np

MAXT, V, L, NH, C, VP = 1024, 50257, 12, 12, 768, 50304


def write_checkpoint(path, rng):
    header = np.zeros(256, dtype=np.int32)
    header[:8] = [20240326, 3, MAXT, V, L, NH, C, VP]
    # (shape, kind): kind w = N(0, 0.02), one = 1, zero = 0
    tensors = [((VP, C), "w"), ((MAXT, C), "w"), ((L, C), "one"), ((L, C), "zero"),
               ((L, 3 * C, C), "w"), ((L, 3 * C), "zero"), ((L, C, C), "w"), ((L, C), "zero"),
               ((L, C), "one"), ((L, C), "zero"), ((L, 4 * C, C), "w"), ((L, 4 * C), "zero"),
               ((L, C, 4 * C), "w"), ((L, C), "zero"), ((C,), "one"), ((C,), "zero")]
    n = 0
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        for shape, kind in tensors:
            if kind == "w":
                t = (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).astype(np.float32)
            else:
                t = np.full(shape, 1.0 if kind == "one" else 0.0, dtype=np.float32)
            f.write(t.tobytes())
            n += t.size
    os.replace(tmp, path)
    return n


def write_tokens(path, ntok, rng):
    header = np.zeros(256, dtype=np.int32)
    header[:3] = [20240520, 1, ntok]
    toks = rng.integers(0, V, size=ntok, dtype=np.uint16)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        f.write(toks.tobytes())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--tokens", type=int, default=65536, help="tokens per shard")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    d = os.path.join(a.dir, "dev", "data", "tinyshakespeare")
    os.makedirs(d, exist_ok=True)
    n = write_checkpoint(os.path.join(a.dir, "gpt2_124M.bin"), rng)
    write_tokens(os.path.join(d, "tiny_shakespeare_train.bin"), a.tokens, rng)
    write_tokens(os.path.join(d, "tiny_shakespeare_val.bin"), a.tokens, rng)
    print(f"wrote {a.dir}/gpt2_124M.bin ({n} parameters) and 2 token shards of {a.tokens} tokens")


if __name__ == "__main__":
    main()
