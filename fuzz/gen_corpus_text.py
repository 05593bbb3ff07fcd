#!/usr/bin/env python3
"""Seeds for the tokenizer fuzz targets (fuzz/fuzz_tok_*.c). Run from the repository root:
    python3 fuzz/gen_corpus_text.py
Writes fuzz/corpus/tok_{wordpiece,bpe,llama2c,encode}/. Deterministic; standard library only."""
import json, os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(d, name, data):
    os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}

wp = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##s", "world", ",", "!", "un", "##aff", "##able",
      "a", "##a", "the", "中", "##é"]
put("tok_wordpiece", "small.txt", "\n".join(wp) + "\n")
put("tok_wordpiece", "crlf_no_final_newline.txt", "\r\n".join(wp))
put("tok_wordpiece", "no_unk.txt", "a\nb\n##c\n")

b2u = bytes_to_unicode()
vocab = {b2u[b]: b for b in range(256)}
merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("a", "n"), ("a", "a")]
for a, b in merges:
    vocab[a + b] = len(vocab)
vocab["<|endoftext|>"] = len(vocab)
vj = json.dumps(vocab, ensure_ascii=False)
mt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
put("tok_bpe", "vocab_nul_merges.bin", vj.encode() + b"\0" + mt.encode())
put("tok_bpe", "bad_merge.bin", vj.encode() + b"\0" + b"#version: 0.2\nx zz\n")
put("tok_bpe", "tokenizer_bpe.json", json.dumps({
    "version": "1.0", "added_tokens": [{"id": len(vocab) - 1, "content": "<|endoftext|>", "special": True}],
    "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]}},
    ensure_ascii=False))
put("tok_bpe", "tokenizer_wordpiece.json", json.dumps({
    "version": "1.0", "added_tokens": [],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
              "vocab": {t: i for i, t in enumerate(wp)}}}, ensure_ascii=False))

def llama(extra):
    out = struct.pack("<i", 8)
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % i for i in range(256)] + extra
    for i, p in enumerate(pieces):
        out += struct.pack("<fi", 0.0 if i < 259 else -float(i - 259), len(p)) + p
    return out
small = llama([b" ", b"a", b"b", b" a", b"ab", b" ab", b"he", "é".encode(), b" the", b"aa", b"aaa"])
put("tok_llama2c", "small.bin", small)
put("tok_llama2c", "truncated.bin", small[:-3])
put("tok_llama2c", "too_few.bin", llama([])[:200])

texts = ["Hello, world! it's the 2nd test", "  \t\n  ", "Café déjà vu ΣΟΦΟΣ İstanbul", "中文字符 日本語 한국어",
         "emoji 😀👨‍👩‍👧", "a" * 130, "x\u00a0y\u3000z\u2028w", "don't 'll 'S"]
for i, t in enumerate(texts):
    put("tok_encode", f"text{i}.txt", t)
put("tok_encode", "invalid_utf8.bin", b"\xff\xfe ab\xc3 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf\x80\x80\x00nul")
