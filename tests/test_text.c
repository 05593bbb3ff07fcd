/* Tokenizers (src/text): reference ids from independent implementations
 * (tests/fixtures/text/text_ref.json, written by tests/gen/gen_text_ref.js: gpt-3-encoder for
 * GPT-2, tokenizers.js for WordPiece, llama2.c's run.c for tok512.bin), then hand-checked
 * rules, word alignment, batches and bad inputs. */
#include "test.h"
#include "finetune/text.h"

#include <jansson.h>

#define FIX "tests/fixtures/text/"

/* ---------------- the reference cases ---------------- */

typedef struct {
    char **text;
    size_t *len;
    int n;
} case_set;

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Line `line` (1-based) of a file, without "\n"/"\r". */
static char *file_lines(const char *path, int *n_out, char ***out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) { fclose(f); free(buf); return NULL; }
    fclose(f);
    buf[sz] = 0;
    int cap = 1024, n = 0;
    char **ls = malloc(sizeof *ls * (size_t)cap);
    for (char *p = buf; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = 0;
        if (n == cap) ls = realloc(ls, sizeof *ls * (size_t)(cap *= 2));
        ls[n++] = p;
        if (!e) break;
        p = e + 1;
    }
    *n_out = n;
    *out = ls;
    return buf;
}

/* A list that starts with BOS (id 1), as llama2.c generation does. */
static void ft__list_bos(ft_token_list *l) {
    l->cap = 16;
    l->ids = ft_malloc(16 * sizeof(int32_t));
    l->start = ft_malloc(16 * sizeof(int32_t));
    l->word = ft_malloc(16 * sizeof(int32_t));
    l->ids[0] = 1;
    l->start[0] = 0;
    l->word[0] = -1;
    l->n = 1;
}

static int hexv(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

/* Builds the case texts; real lines need ../shared (returns false with a SKIP line). */
static bool load_cases(json_t *ref, const char *shared, case_set *cs) {
    json_t *cases = json_object_get(ref, "cases");
    cs->n = (int)json_array_size(cases);
    cs->text = calloc((size_t)cs->n, sizeof *cs->text);
    cs->len = calloc((size_t)cs->n, sizeof *cs->len);
    int nd = 0, nc = 0;
    char **dl = NULL, **cl = NULL;
    char *dbuf = NULL, *cbuf = NULL;
    char p[512];
    if (shared) {
        snprintf(p, sizeof p, "%s/data/sst2/dev.tsv", shared);
        dbuf = file_lines(p, &nd, &dl);
        snprintf(p, sizeof p, "%s/data/conll2003/valid.txt", shared);
        cbuf = file_lines(p, &nc, &cl);
    }
    int bad = 0;
    for (int i = 0; i < cs->n; i++) {
        json_t *c = json_array_get(cases, i);
        const char *hex = json_string_value(json_object_get(c, "hex"));
        if (hex) {
            size_t n = strlen(hex) / 2;
            cs->text[i] = malloc(n + 1);
            for (size_t k = 0; k < n; k++) cs->text[i][k] = (char)(hexv(hex[2 * k]) * 16 + hexv(hex[2 * k + 1]));
            cs->text[i][n] = 0;
            cs->len[i] = n;
            continue;
        }
        const char *src = json_string_value(json_object_get(c, "src"));
        int line = (int)json_integer_value(json_object_get(c, "line"));
        char *t = NULL;
        if (src && strcmp(src, "sst2_dev") == 0 && dbuf && line >= 1 && line <= nd) {
            char *tab = strchr(dl[line - 1], '\t');
            t = strdup(tab ? tab + 1 : "");
        } else if (src && strcmp(src, "conll_valid") == 0 && cbuf && line >= 1 && line <= nc) {
            /* words before the last "###", joined with single spaces */
            const char *l = cl[line - 1];
            t = malloc(strlen(l) + 1);
            size_t o = 0;
            for (const char *w = l; *w;) {
                while (*w == ' ') w++;
                if (!*w) break;
                const char *e = strchr(w, ' ');
                if (!e) e = w + strlen(w);
                const char *cut = NULL;
                for (const char *q = w; q + 3 <= e; q++)
                    if (q[0] == '#' && q[1] == '#' && q[2] == '#') cut = q;
                if (!cut) cut = e;
                if (o) t[o++] = ' ';
                memcpy(t + o, w, (size_t)(cut - w));
                o += (size_t)(cut - w);
                w = e;
            }
            t[o] = 0;
        }
        if (!t) { bad++; continue; }
        cs->text[i] = t;
        cs->len[i] = strlen(t);
        uint32_t want = (uint32_t)json_integer_value(json_object_get(c, "fnv"));
        CHECKF(fnv1a(t, cs->len[i]) == want, "case %d (%s line %d): the text in ../shared differs from the fixture's",
               i, src, line);
    }
    free(dbuf); free(cbuf); free(dl); free(cl);
    if (bad && shared) CHECKF(0, "%d real lines could not be read from %s", bad, shared);
    return bad == 0;
}

static void free_cases(case_set *cs) {
    for (int i = 0; i < cs->n; i++) free(cs->text[i]);
    free(cs->text);
    free(cs->len);
}

/* Compares encode() with the reference ids of `key` over every case that has a text. */
static void compare(const ft_tokenizer *t, json_t *ref, const char *key, const case_set *cs, const char *label) {
    json_t *want = json_object_get(ref, key);
    CHECKF(json_array_size(want) == (size_t)cs->n, "%s: fixture has %zu rows for %d cases", key, json_array_size(want), cs->n);
    int ok = 0, tried = 0, shown = 0;
    long ntok = 0;
    for (int i = 0; i < cs->n; i++) {
        if (!cs->text[i]) continue;
        tried++;
        ft_token_list l = {0};
        ft_status s = ft_tokenizer_encode(t, cs->text[i], cs->len[i], &l);
        json_t *w = json_array_get(want, (size_t)i);
        bool same = s == FT_OK && (size_t)l.n == json_array_size(w);
        for (int64_t k = 0; same && k < l.n; k++) same = l.ids[k] == json_integer_value(json_array_get(w, (size_t)k));
        if (same) { ok++; ntok += l.n; }
        else if (shown++ < 3) {
            fprintf(stderr, "  %s case %d \"%.80s\": got", label, i, cs->text[i]);
            for (int64_t k = 0; k < l.n && k < 40; k++) fprintf(stderr, " %d", l.ids[k]);
            fprintf(stderr, "\n    want");
            for (size_t k = 0; k < json_array_size(w) && k < 40; k++)
                fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(w, k)));
            fprintf(stderr, "\n");
        }
        ft_token_list_free(&l);
    }
    printf("%s: %d/%d cases match the reference (%ld tokens)\n", label, ok, tried, ntok);
    CHECKF(ok == tried && tried > 0, "%s: %d of %d cases differ", label, tried - ok, tried);
}

static void test_reference(void) {
    json_error_t e;
    json_t *ref = json_load_file(FIX "text_ref.json", 0, &e);
    CHECKF(ref != NULL, "text_ref.json: %s", e.text);
    if (!ref) return;
    const char *shared = t_shared("tokenizer reference over SST-2/CoNLL lines (stress strings still run)");
    case_set cs;
    bool all = load_cases(ref, shared, &cs);
    if (all) CHECK(json_integer_value(json_object_get(ref, "n_real")) >= 1000);

    ft_tokenizer *t = NULL;
    /* WordPiece: the tokenizer.json files, and vocab.txt through the vocab.txt loader */
    CHECK_OK(ft_tokenizer_load_hf_json(FIX "wordpiece_uncased.json", &t));
    if (t) { compare(t, ref, "wp_uncased", &cs, "wordpiece uncased (tokenizer.json)"); ft_tokenizer_free(t); t = NULL; }
    CHECK_OK(ft_tokenizer_load_wordpiece(FIX "wordpiece_vocab.txt", true, &t));
    if (t) { compare(t, ref, "wp_uncased", &cs, "wordpiece uncased (vocab.txt)"); ft_tokenizer_free(t); t = NULL; }
    CHECK_OK(ft_tokenizer_load_hf_json(FIX "wordpiece_cased.json", &t));
    if (t) { compare(t, ref, "wp_cased", &cs, "wordpiece cased (tokenizer.json)"); ft_tokenizer_free(t); t = NULL; }
    CHECK_OK(ft_tokenizer_load_wordpiece(FIX "wordpiece_vocab.txt", false, &t));
    if (t) { compare(t, ref, "wp_cased", &cs, "wordpiece cased (vocab.txt)"); ft_tokenizer_free(t); t = NULL; }

    /* GPT-2 with the real vocabulary (scripts/fetch-gpt2-bpe.sh) */
    FILE *f = fopen("data-cache/gpt2/vocab.json", "rb");
    if (!f) {
        printf("SKIP GPT-2 BPE reference: data-cache/gpt2 is absent (run scripts/fetch-gpt2-bpe.sh)\n");
    } else {
        fclose(f);
        CHECK_OK(ft_tokenizer_load_bpe("data-cache/gpt2/vocab.json", "data-cache/gpt2/merges.txt", &t));
        if (t) {
            CHECK(ft_tokenizer_vocab_size(t) == 50257);
            CHECK(ft_tokenizer_specials(t)->eos == 50256);
            compare(t, ref, "gpt2", &cs, "gpt2 bpe");
            /* decode(encode(x)) == x for valid UTF-8 */
            int rt = 0, valid = 0;
            for (int i = 0; i < cs.n; i++) {
                if (!cs.text[i]) continue;
                ft_token_list l = {0};
                char *d = NULL;
                size_t dl = 0;
                size_t q = 0;
                bool v = true;
                while (q < cs.len[i] && v) { /* is it valid UTF-8? then it must round-trip */
                    unsigned char c = (unsigned char)cs.text[i][q];
                    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
                    v = c < 0x80 || (c >= 0xC2 && c <= 0xF4);
                    for (int k = 1; k < n && v; k++) v = q + (size_t)k < cs.len[i] && (cs.text[i][q + (size_t)k] & 0xC0) == 0x80;
                    if (v && n == 3) { unsigned char d1 = (unsigned char)cs.text[i][q + 1]; v = !(c == 0xE0 && d1 < 0xA0) && !(c == 0xED && d1 > 0x9F); }
                    if (v && n == 4) { unsigned char d1 = (unsigned char)cs.text[i][q + 1]; v = !(c == 0xF0 && d1 < 0x90) && !(c == 0xF4 && d1 > 0x8F); }
                    q += (size_t)n;
                }
                if (!v) continue;
                valid++;
                if (ft_tokenizer_encode(t, cs.text[i], cs.len[i], &l) == FT_OK &&
                    ft_tokenizer_decode(t, l.ids, l.n, false, &d, &dl) == FT_OK && dl == cs.len[i] &&
                    memcmp(d, cs.text[i], dl) == 0)
                    rt++;
                ft_free(d);
                ft_token_list_free(&l);
            }
            printf("gpt2 bpe: decode(encode(x)) == x for %d/%d valid UTF-8 cases\n", rt, valid);
            CHECK(rt == valid);
            ft_tokenizer_free(t);
            t = NULL;
        }
        /* the same vocabulary as a Hugging Face tokenizer.json (written by the fetch script) */
        if ((f = fopen("data-cache/gpt2/tokenizer.json", "rb"))) {
            fclose(f);
            CHECK_OK(ft_tokenizer_load_hf_json("data-cache/gpt2/tokenizer.json", &t));
            if (t) {
                CHECK(ft_tokenizer_vocab_size(t) == 50257 && ft_tokenizer_specials(t)->eos == 50256);
                compare(t, ref, "gpt2", &cs, "gpt2 bpe (tokenizer.json)");
                ft_tokenizer_free(t);
                t = NULL;
            }
        } else {
            printf("SKIP GPT-2 tokenizer.json: data-cache/gpt2/tokenizer.json is absent (run scripts/fetch-gpt2-bpe.sh)\n");
        }
    }

    /* llama2.c: ids and run.c's decode bytes */
    char p[512];
    if (shared) {
        snprintf(p, sizeof p, "%s/models/stories260K/tok512.bin", shared);
        CHECK_OK(ft_tokenizer_load_llama2c(p, &t));
        if (t) {
            compare(t, ref, "llama2c", &cs, "llama2.c tok512");
            json_t *dec = json_object_get(ref, "llama2c_decode");
            int ok = 0, tried = 0;
            for (int i = 0; i < cs.n; i++) {
                if (!cs.text[i]) continue;
                tried++;
                ft_token_list l = {0};
                ft__list_bos(&l);
                char *d = NULL;
                size_t dl = 0;
                if (ft_tokenizer_encode(t, cs.text[i], cs.len[i], &l) == FT_OK &&
                    ft_tokenizer_decode(t, l.ids, l.n, true, &d, &dl) == FT_OK) {
                    const char *w = json_string_value(json_array_get(dec, (size_t)i));
                    bool same = w && strlen(w) == 2 * dl;
                    for (size_t k = 0; same && k < dl; k++)
                        same = hexv(w[2 * k]) * 16 + hexv(w[2 * k + 1]) == (unsigned char)d[k];
                    ok += same;
                    if (!same && ok + 3 > tried) fprintf(stderr, "  llama2.c decode case %d differs: \"%.60s\"\n", i, d);
                }
                ft_free(d);
                ft_token_list_free(&l);
            }
            printf("llama2.c tok512: decode matches run.c for %d/%d cases\n", ok, tried);
            CHECK(ok == tried && tried > 0);
            ft_tokenizer_free(t);
            t = NULL;
        }
    }
    free_cases(&cs);
    json_decref(ref);
}


/* ---------------- hand-checked rules ---------------- */

static ft_tokenizer *wp_small(bool lower) {
    static const char v[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\nworld\n,\n!\nun\n##aff\n##able\ncafe\n"
                            "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82\n"   /* σοφος (final sigma) */
                            "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83\n"   /* σοφοσ */
                            "\xf0\xa0\x80\x80\n"                           /* U+20000 */
                            "a\n##a\nb\nistanbul\nHello\n";
    ft_tokenizer *t = NULL;
    CHECK_OK(ft_tokenizer_from_wordpiece(v, sizeof v - 1, lower, "small vocab", &t));
    return t;
}

/* Encodes and compares with the pieces named in `want` (space-separated). */
static void expect_pieces(const ft_tokenizer *t, const char *text, size_t len, const char *want) {
    ft_token_list l = {0};
    CHECK_OK(ft_tokenizer_encode(t, text, len, &l));
    char got[4096] = "";
    size_t o = 0;
    for (int64_t i = 0; i < l.n && o < sizeof got - 200; i++) {
        size_t pl;
        const char *p = ft_tokenizer_piece(t, l.ids[i], &pl);
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%.*s", i ? " " : "", (int)pl, p);
    }
    CHECKF(strcmp(got, want) == 0, "\"%.40s\": got \"%s\", want \"%s\"", text, got, want);
    ft_token_list_free(&l);
}
#define EXPECT(t, lit, want) expect_pieces(t, lit, sizeof(lit) - 1, want)

static void test_wordpiece_rules(void) {
    ft_tokenizer *t = wp_small(true);
    if (!t) return;
    CHECK(ft_tokenizer_kind(t) == FT_TOK_WORDPIECE);
    CHECK(ft_tokenizer_specials(t)->cls == 2 && ft_tokenizer_specials(t)->sep == 3 && ft_tokenizer_specials(t)->pad == 0);
    EXPECT(t, "UNaffable", "un ##aff ##able");
    EXPECT(t, "Hello,world!", "hello , world !");
    EXPECT(t, "  hellos\t\nworld  ", "hello ##s world");
    EXPECT(t, "Caf\xc3\xa9", "cafe");                     /* accent stripped (NFD, drop Mn) */
    EXPECT(t, "Cafe\xcc\x81", "cafe");                    /* combining acute */
    EXPECT(t, "\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3", "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82"); /* ΣΟΦΟΣ -> final ς */
    EXPECT(t, "\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3" "a", "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83 ##a"); /* Σ not final: σ */
    EXPECT(t, "\xc4\xb0stanbul", "istanbul");             /* İ -> i + U+0307 -> i */
    EXPECT(t, "a\xf0\xa0\x80\x80" "b", "a \xf0\xa0\x80\x80 b"); /* supplementary-plane CJK is split too */
    EXPECT(t, "hel\xcd\xb8lo", "hello");                  /* U+0378 unassigned: dropped like a control */
    EXPECT(t, "hel\x01lo\x7f", "hello");                  /* control characters dropped */
    EXPECT(t, "hel\xef\xbf\xbdlo", "hello");              /* U+FFFD dropped */
    EXPECT(t, "hel\xfflo", "hello");                      /* invalid UTF-8 -> U+FFFD -> dropped */
    EXPECT(t, "hello\xe2\x80\x8bworld", "[UNK]");         /* U+200B (Cf) dropped: helloworld is unknown */
    EXPECT(t, "hello\xc2\xa0world", "hello world");       /* NBSP is white space */
    expect_pieces(t, "hel\0lo", 6, "hello");              /* NUL dropped */
    EXPECT(t, "", "");
    EXPECT(t, " \t\n ", "");
    EXPECT(t, "xyz hello", "[UNK] hello");
    char longw[102];
    memset(longw, 'a', 101);
    longw[101] = 0;
    ft_token_list l = {0};
    CHECK_OK(ft_tokenizer_encode(t, longw, 100, &l));     /* 100 characters: a ##a ... */
    CHECK(l.n == 100 && l.ids[0] == ft_tokenizer_piece_id(t, "a", 1) && l.ids[99] == ft_tokenizer_piece_id(t, "##a", 3));
    l.n = 0;
    CHECK_OK(ft_tokenizer_encode(t, longw, 101, &l));     /* 101 characters: [UNK] */
    CHECK(l.n == 1 && l.ids[0] == ft_tokenizer_specials(t)->unk);
    ft_token_list_free(&l);
    char *d = NULL;
    int32_t ids[] = {2, 10, 11, 12, 7, 3};
    CHECK_OK(ft_tokenizer_decode(t, ids, 6, true, &d, NULL));
    CHECK(d && strcmp(d, "unaffable world") == 0);
    ft_free(d);
    ft_tokenizer_free(t);
    t = wp_small(false);
    if (!t) return;
    EXPECT(t, "Hello hello HELLO", "Hello hello [UNK]");
    EXPECT(t, "caf\xc3\xa9", "[UNK]");                    /* cased: no accent stripping */
    ft_tokenizer_free(t);
}

static void test_llama2c_rules(const char *shared) {
    if (!shared) return;
    char p[512];
    snprintf(p, sizeof p, "%s/models/stories260K/tok512.bin", shared);
    ft_tokenizer *t = NULL;
    CHECK_OK(ft_tokenizer_load_llama2c(p, &t));
    if (!t) return;
    CHECK(ft_tokenizer_kind(t) == FT_TOK_LLAMA2C && ft_tokenizer_vocab_size(t) == 512);
    CHECK(ft_tokenizer_specials(t)->bos == 1 && ft_tokenizer_specials(t)->eos == 2);
    int32_t sp = ft_tokenizer_piece_id(t, " ", 1);
    CHECK(sp >= 0);
    ft_token_list l = {0};
    CHECK_OK(ft_tokenizer_encode(t, "", 0, &l));
    CHECK(l.n == 0);                                      /* no dummy prefix for "" */
    CHECK_OK(ft_tokenizer_encode(t, "\xff", 1, &l));
    CHECK(l.n == 2 && l.ids[0] == sp && l.ids[1] == 0xFF + 3);  /* byte fallback */
    l.n = 0;
    CHECK_OK(ft_tokenizer_encode(t, "\x01\x02", 2, &l));
    CHECK(l.n == 3 && l.ids[1] == 4 && l.ids[2] == 5);
    l.n = 0;
    CHECK_OK(ft_tokenizer_encode(t, "a\0b", 3, &l));     /* NUL is the byte token <0x00> */
    bool has0 = false;
    for (int64_t i = 0; i < l.n; i++) has0 |= l.ids[i] == 3;
    CHECK(has0);
    l.n = 0;
    CHECK_OK(ft_tokenizer_encode(t, "Once upon a time", 16, &l));
    /* decoding BOS + ids gives the text back (the dummy prefix's space is dropped after BOS) */
    int32_t ids[64];
    ids[0] = 1;
    for (int64_t i = 0; i < l.n && i < 63; i++) ids[i + 1] = l.ids[i];
    char *d = NULL;
    CHECK_OK(ft_tokenizer_decode(t, ids, l.n + 1, true, &d, NULL));
    CHECK(d && strcmp(d, "Once upon a time") == 0);
    ft_free(d);
    /* words: the dummy-prefix token and " upon" belong to the word that follows */
    CHECK(l.word[0] == 0 && l.word[l.n - 1] == 3);
    int32_t bad = 600;
    CHECK_ERR(ft_tokenizer_decode(t, &bad, 1, false, &d, NULL), FT_EINVAL);
    int32_t bytes[] = {1, 3 + 'A', 3 + 0xC3, 3 + 0xA9};
    CHECK_OK(ft_tokenizer_decode(t, bytes, 4, true, &d, NULL));
    CHECK(d && strcmp(d, "A\xc3\xa9") == 0);
    ft_free(d);
    ft_token_list_free(&l);
    ft_tokenizer_free(t);
}

static void test_gpt2_rules(void) {
    ft_tokenizer *t = NULL;
    FILE *f = fopen("data-cache/gpt2/vocab.json", "rb");
    if (!f) { printf("SKIP GPT-2 rules: data-cache/gpt2 is absent\n"); return; }
    fclose(f);
    CHECK_OK(ft_tokenizer_load_dir("data-cache/gpt2", &t));
    if (!t) return;
    CHECK(ft_tokenizer_kind(t) == FT_TOK_BPE);
    ft_token_list l = {0};
    CHECK_OK(ft_tokenizer_encode(t, "Hello world", 11, &l));  /* GPT-2's well-known ids */
    CHECK(l.n == 2 && l.ids[0] == 15496 && l.ids[1] == 995);
    CHECK(l.start[0] == 0 && l.start[1] == 5 && l.word[0] == 0 && l.word[1] == 1);
    ft_token_list_free(&l);
    const char *words[] = {"Hello", "world", "!"};
    CHECK_OK(ft_tokenizer_encode_words(t, words, 3, &l));  /* each word gets a leading space */
    CHECK(l.n == 3 && l.ids[0] == 18435 && l.ids[1] == 995 && l.word[0] == 0 && l.word[1] == 1 && l.word[2] == 2);
    ft_token_list_free(&l);
    /* invalid UTF-8 reads as U+FFFD (bytes EF BF BD) */
    ft_token_list a = {0}, b = {0};
    CHECK_OK(ft_tokenizer_encode(t, "x\xffy", 3, &a));
    CHECK_OK(ft_tokenizer_encode(t, "x\xef\xbf\xbdy", 5, &b));
    CHECK(a.n == b.n && a.n > 0 && memcmp(a.ids, b.ids, (size_t)a.n * 4) == 0);
    ft_token_list_free(&a);
    ft_token_list_free(&b);
    ft_tokenizer_free(t);
}

static void test_words_and_batches(void) {
    ft_tokenizer *t = wp_small(true);
    if (!t) return;
    const char *words[] = {"UNaffable", "world", "!", "", "hellos"};
    ft_token_list rows[3] = {{0}};
    CHECK_OK(ft_tokenizer_encode_words(t, words, 5, &rows[0]));
    int32_t want_w[] = {0, 0, 0, 1, 2, 4, 4};
    CHECK(rows[0].n == 7);
    for (int i = 0; i < 7 && rows[0].n == 7; i++) CHECKF(rows[0].word[i] == want_w[i], "token %d word %d", i, rows[0].word[i]);
    /* first sub-token of each word, as NER labels need */
    CHECK(rows[0].ids[0] == ft_tokenizer_piece_id(t, "un", 2) && rows[0].ids[3] == ft_tokenizer_piece_id(t, "world", 5));
    CHECK_OK(ft_tokenizer_encode(t, "hello", 5, &rows[1]));
    CHECK_OK(ft_tokenizer_encode(t, "", 0, &rows[2]));
    ft_text_batch b;
    ft_batch_opts o = {.max_len = 6, .add_special = true, .pad_id = -1};
    CHECK_OK(ft_text_batch_pack(t, rows, 3, &o, &b));
    CHECK(b.batch == 3 && b.seq == 6 && b.truncated == 1);
    int32_t cls = 2, sep = 3;
    /* row 0: [CLS] un ##aff ##able world [SEP] (truncated: the rest dropped, [SEP] kept) */
    CHECK(b.ids[0] == cls && b.ids[1] == rows[0].ids[0] && b.ids[4] == rows[0].ids[3] && b.ids[5] == sep);
    CHECK(b.word[0] == -1 && b.word[1] == 0 && b.word[4] == 1 && b.word[5] == -1);
    CHECK(b.length[0] == 6 && b.length[1] == 3 && b.length[2] == 2);
    CHECK(b.ids[6] == cls && b.ids[8] == sep && b.ids[9] == 0 && b.mask[8] == 1 && b.mask[9] == 0 && b.word[9] == -1);
    CHECK(b.ids[12] == cls && b.ids[13] == sep && b.mask[13] == 1 && b.mask[14] == 0);
    ft_text_batch_free(&b);
    o = (ft_batch_opts){.max_len = 8, .pad_to_max = true, .pad_id = 4};
    CHECK_OK(ft_text_batch_pack(t, rows + 1, 2, &o, &b));
    CHECK(b.seq == 8 && b.ids[0] == 5 && b.mask[0] == 1 && b.ids[1] == 4 && b.mask[1] == 0 && b.truncated == 0);
    ft_text_batch_free(&b);
    o = (ft_batch_opts){.max_len = 1, .add_special = true, .pad_id = -1};
    CHECK_ERR(ft_text_batch_pack(t, rows, 3, &o, &b), FT_EINVAL);   /* no room for [CLS] + [SEP] */
    const char *texts[] = {"hello world", "un", "world hello hellos"};
    o = (ft_batch_opts){.max_len = 0, .add_special = true, .pad_id = -1};
    CHECK_OK(ft_tokenizer_encode_batch(t, texts, 3, &o, &b));
    CHECK(b.seq == 6 && b.length[0] == 4 && b.length[1] == 3 && b.length[2] == 6 && b.truncated == 0);
    ft_text_batch_free(&b);
    for (int i = 0; i < 3; i++) ft_token_list_free(&rows[i]);
    ft_tokenizer_free(t);
}

/* vocab.json text with GPT-2's 256 byte symbols (ids = byte values), left open for more. */
static size_t byte_vocab(char *v, size_t cap) {
    size_t o = (size_t)snprintf(v, cap, "{");
    uint16_t cps[256];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool pr = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        cps[b] = pr ? (uint16_t)b : (uint16_t)(256 + n++);
    }
    for (int b = 0; b < 256; b++) {
        char u[8];
        int ul = cps[b] < 0x80 ? (u[0] = (char)cps[b], 1)
                               : (u[0] = (char)(0xC0 | (cps[b] >> 6)), u[1] = (char)(0x80 | (cps[b] & 0x3F)), 2);
        if (cps[b] == '"' || cps[b] == '\\') o += (size_t)snprintf(v + o, cap - o, "\"\\%c\": %d, ", u[0], b);
        else o += (size_t)snprintf(v + o, cap - o, "\"%.*s\": %d, ", ul, u, b);
    }
    return o;
}

static void test_bad_inputs(void) {
    ft_tokenizer *t = NULL;
    CHECK_ERR(ft_tokenizer_load_wordpiece("tests/fixtures/text/no-such-vocab.txt", true, &t), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "no-such-vocab.txt") != NULL);
    CHECK_ERR(ft_tokenizer_load_dir("tests/fixtures", &t), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "vocab.txt") != NULL);
    CHECK_ERR(ft_tokenizer_from_wordpiece("a\nb\n", 4, true, "v.txt", &t), FT_EFORMAT);  /* no [UNK] */
    CHECK_OK(ft_tokenizer_from_wordpiece("[UNK]\nab\nx\nab\n", 14, true, "v.txt", &t));    /* duplicate: last line wins */
    if (t) {
        CHECK(ft_tokenizer_piece_id(t, "ab", 2) == 3 && ft_tokenizer_vocab_size(t) == 4);
        ft_tokenizer_free(t);
        t = NULL;
    }
    CHECK(strstr(ft_errmsg(), "[UNK]") != NULL);
    CHECK_ERR(ft_tokenizer_from_bpe("{\"a\": 0", 7, "", 0, "vocab.json", &t), FT_EFORMAT);
    CHECK_ERR(ft_tokenizer_from_bpe("{\"a\": 0}", 8, "", 0, "vocab.json", &t), FT_EFORMAT); /* no byte symbols */
    CHECK(strstr(ft_errmsg(), "byte") != NULL);
    /* a complete byte alphabet, then merges naming unknown tokens */
    char v[8192];
    size_t o = byte_vocab(v, sizeof v);
    o += (size_t)snprintf(v + o, sizeof v - o, "\"ab\": 256}");
    CHECK_OK(ft_tokenizer_from_bpe(v, o, "#version: 0.2\na b\n", 18, "vocab.json", &t));
    if (t) {
        ft_token_list l = {0};
        CHECK_OK(ft_tokenizer_encode(t, "abc ab", 6, &l));
        CHECK(l.n == 4 && l.ids[0] == 256 && l.ids[1] == 'c');
        ft_token_list_free(&l);
        ft_tokenizer_free(t);
        t = NULL;
    }
    {   /* a merge listed twice keeps its last rank (encoder.py's dict(zip(...))) */
        char v2[8192];
        size_t o2 = byte_vocab(v2, sizeof v2);
        o2 += (size_t)snprintf(v2 + o2, sizeof v2 - o2, "\"ab\": 256, \"bc\": 257}");
        static const char m2[] = "a b\nb c\na b\n";
        CHECK_OK(ft_tokenizer_from_bpe(v2, o2, m2, sizeof m2 - 1, "vocab.json", &t));
        if (t) {
            ft_token_list l = {0};
            CHECK_OK(ft_tokenizer_encode(t, "abc", 3, &l));
            CHECK(l.n == 2 && l.ids[0] == 'a' && l.ids[1] == 257);
            ft_token_list_free(&l);
            ft_tokenizer_free(t);
            t = NULL;
        }
    }
    CHECK_ERR(ft_tokenizer_from_bpe(v, o, "#version: 0.2\na zz\n", 19, "vocab.json", &t), FT_EFORMAT);
    CHECK(strstr(ft_errmsg(), "merges.txt:2") != NULL);
    CHECK_ERR(ft_tokenizer_from_bpe(v, o, "b c\n", 4, "vocab.json", &t), FT_EFORMAT); /* "bc" not in vocab */
    CHECK_ERR(ft_tokenizer_from_bpe(v, o, "abc\n", 4, "vocab.json", &t), FT_EFORMAT);
    const char *uni = "{\"model\": {\"type\": \"Unigram\"}}";
    CHECK_ERR(ft_tokenizer_from_hf_json(uni, strlen(uni), "tokenizer.json", &t), FT_EUNSUPPORTED);
    CHECK(strstr(ft_errmsg(), "Unigram") != NULL);
    CHECK_ERR(ft_tokenizer_from_hf_json("[]", 2, "tokenizer.json", &t), FT_EFORMAT);
    /* llama2.c files: too short, truncated record, negative length, too few tokens */
    uint8_t bin[64] = {7, 0, 0, 0};
    CHECK_ERR(ft_tokenizer_from_llama2c(bin, 2, "tok.bin", &t), FT_EFORMAT);
    CHECK_ERR(ft_tokenizer_from_llama2c(bin, 10, "tok.bin", &t), FT_EFORMAT);
    int32_t neg = -5;
    memcpy(bin + 8, &neg, 4);
    CHECK_ERR(ft_tokenizer_from_llama2c(bin, 12, "tok.bin", &t), FT_EFORMAT);
    CHECK(strstr(ft_errmsg(), "tok.bin") != NULL);
    CHECK_ERR(ft_tokenizer_from_llama2c(bin, 4, "tok.bin", &t), FT_EFORMAT);
    CHECK(t == NULL);
}

/* Every allocation failure on the way gives FT_ENOMEM and no leak (ASan checks the latter):
 * loading and encoding, for each kind. */
static void oom_walk(const char *what, ft_status (*load)(ft_tokenizer **), const char *text) {
    int fails = 0, oks = 0;
    for (int k = 0; k < 400 && oks < 3; k++) {
        ft_tokenizer *t = NULL;
        ft_token_list l = {0};
        ft_alloc_fail_after(k);
        ft_status s = load(&t);
        if (s == FT_OK) s = ft_tokenizer_encode(t, text, strlen(text), &l);
        ft_alloc_fail_after(-1);
        CHECKF(s == FT_OK || s == FT_ENOMEM, "%s: allocation %d failed -> %s: %s", what, k, ft_status_name(s), ft_errmsg());
        fails += s == FT_ENOMEM;
        oks += s == FT_OK;
        ft_token_list_free(&l);
        ft_tokenizer_free(t);
    }
    CHECKF(fails > 3 && oks > 0, "%s: %d failures, %d successes", what, fails, oks);
}

static const char *oom_shared;
static ft_status load_wp(ft_tokenizer **t) {
    static const char v[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\nhello\n,\n";
    return ft_tokenizer_from_wordpiece(v, sizeof v - 1, true, "v.txt", t);
}
static ft_status load_bpe(ft_tokenizer **t) {
    char v[8192];
    size_t o = byte_vocab(v, sizeof v);
    o += (size_t)snprintf(v + o, sizeof v - o, "\"ab\": 256, \"\xc4\xa0" "a\": 257}");
    static const char m[] = "a b\n\xc4\xa0 a\n";
    return ft_tokenizer_from_bpe(v, o, m, sizeof m - 1, "vocab.json", t);
}
static ft_status load_llama(ft_tokenizer **t) {
    char p[512];
    snprintf(p, sizeof p, "%s/models/stories260K/tok512.bin", oom_shared);
    return ft_tokenizer_load_llama2c(p, t);
}

static void test_out_of_memory(const char *shared) {
    oom_walk("wordpiece", load_wp, "UNaffable hello, world! caf\xc3\xa9 \xe4\xb8\xad");
    oom_walk("bpe", load_bpe, "ab abab  a\xff b's");
    oom_shared = shared;
    if (shared) oom_walk("llama2.c", load_llama, "Once upon a time \xff\xe2\x84\xa2");
}

static void test_specials_in_text(void) {
    ft_tokenizer *t = wp_small(true);
    if (!t) return;
    ft_token_list l = {0};
    CHECK_OK(ft_tokenizer_encode(t, "[CLS] hello [SEP]", 17, &l));
    bool special = false;
    for (int64_t i = 0; i < l.n; i++) special |= l.ids[i] == ft_tokenizer_specials(t)->cls || l.ids[i] == ft_tokenizer_specials(t)->sep;
    CHECK(!special && l.n == 7);   /* [ cls ] hello [ sep ]: plain text, not added tokens */
    ft_token_list_free(&l);
    ft_tokenizer_free(t);
}

int main(void) {
    test_reference();
    test_wordpiece_rules();
    test_llama2c_rules(t_shared("llama2.c tokenizer rules"));
    test_gpt2_rules();
    test_words_and_batches();
    test_bad_inputs();
    test_out_of_memory(t_shared("llama2.c allocation failures"));
    test_specials_in_text();
    TEST_END();
}
