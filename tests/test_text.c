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

int main(void) {
    test_reference();
    TEST_END();
}
