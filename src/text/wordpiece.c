/* WordPiece (BERT): Hugging Face's BasicTokenizer + WordpieceTokenizer.
 *
 * Basic tokenizer, in order (transformers' BasicTokenizer / tokenizers' BertNormalizer +
 * BertPreTokenizer):
 *   clean text     drop U+0000, U+FFFD and control characters (category C*, except tab,
 *                  LF, CR); white space (tab, LF, CR, Z*) becomes ' '
 *   CJK            characters in the CJK ideograph blocks get spaces around them
 *   lower-case     Python's str.lower(): full mapping (U+0130 -> i + U+0307) and final sigma
 *   strip accents  NFD, then drop nonspacing marks (Mn); on by default with lower-case
 *   split          on white space, and every punctuation character (Unicode P*, plus the ASCII
 *                  ranges !-/ :-@ [-` {-~) is a word of its own
 * Then each word: more than max_input_chars_per_word (100) code points -> [UNK]; otherwise
 * greedy longest-match-first from the left, pieces after the first prefixed with "##"; if
 * some position has no match the whole word is [UNK].
 * Unicode data (categories, case mapping, decomposition) come from utf8proc. */
#include "text/text_internal.h"

#include <jansson.h>
#include <string.h>
#include <utf8proc.h>

/* ---------------- loading ---------------- */

ft_status ft__wordpiece_finish(ft_tokenizer *t) {
    t->sp.pad = ft__tok_lookup(t, "[PAD]", 5);
    t->sp.unk = ft__tok_lookup(t, "[UNK]", 5);
    t->sp.cls = ft__tok_lookup(t, "[CLS]", 5);
    t->sp.sep = ft__tok_lookup(t, "[SEP]", 5);
    t->sp.mask = ft__tok_lookup(t, "[MASK]", 6);
    if (t->sp.unk < 0) return ft_fail(FT_EFORMAT, "%s: the vocabulary has no [UNK] token", t->name);
    return FT_OK;
}

ft_status ft_tokenizer_from_wordpiece(const char *text, size_t len, bool lower_case, const char *name,
                                      ft_tokenizer **out) {
    if (!out || (!text && len)) return ft_fail(FT_EINVAL, "vocab.txt: NULL argument");
    *out = NULL;
    if (!name) name = "vocab.txt";
    if (len > FT_TEXT_MAX_BYTES) return ft_fail(FT_EFORMAT, "%s: too large", name);
    /* one token per line; "\r\n" accepted; a final line without '\n' counts */
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    if (len && text[len - 1] != '\n') n++;
    if (n > FT_TEXT_MAX_VOCAB) return ft_fail(FT_EFORMAT, "%s: more than %d lines", name, FT_TEXT_MAX_VOCAB);
    ft_tokenizer *t;
    ft_status s = ft__tok_new(FT_TOK_WORDPIECE, name, &t);
    if (s) return s;
    const char **pieces = ft_malloc(((size_t)n + 1) * sizeof *pieces);
    size_t *lens = ft_malloc(((size_t)n + 1) * sizeof *lens);
    if (!pieces || !lens) { s = ft_fail(FT_ENOMEM, "%s: out of memory", name); goto fail; }
    int64_t k = 0;
    for (size_t i = 0; i < len && k < n;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        size_t e = j;
        if (e > i && text[e - 1] == '\r') e--;
        /* transformers' load_vocab strips "\n" only; "\r\n" files are accepted here too.
         * Spaces inside and around a token are kept. */
        if (memchr(text + i, 0, e - i)) {
            s = ft_fail(FT_EFORMAT, "%s:%lld: NUL byte in token", name, (long long)k + 1);
            goto fail;
        }
        pieces[k] = text + i;
        lens[k] = e - i;
        k++;
        i = j + 1;
    }
    s = ft__tok_set_vocab(t, (int32_t)k, pieces, lens);
    if (s) goto fail;
    t->lower = lower_case;
    t->strip_accents = lower_case;
    t->clean_text = true;
    t->chinese = true;
    s = ft__wordpiece_finish(t);
    if (s) goto fail;
    ft_free(pieces);
    ft_free(lens);
    *out = t;
    return FT_OK;
fail:
    ft_free(pieces);
    ft_free(lens);
    ft_tokenizer_free(t);
    return s;
}

/* ---------------- character classes ---------------- */

static utf8proc_category_t cat(uint32_t cp) { return utf8proc_category((utf8proc_int32_t)cp); }

static bool is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    utf8proc_category_t c = cat(cp);
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
           c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CN;
}

static bool is_punct(uint32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return true;
    utf8proc_category_t c = cat(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

static bool is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Unicode Cased / Case_Ignorable, for the final-sigma rule of full lower-casing. */
static bool is_cased(uint32_t cp) {
    utf8proc_category_t c = cat(cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
           utf8proc_islower((utf8proc_int32_t)cp) || utf8proc_isupper((utf8proc_int32_t)cp);
}

static bool is_case_ignorable(uint32_t cp) {
    switch (cp) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return true;
    default: break;
    }
    utf8proc_category_t c = cat(cp);
    return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME || c == UTF8PROC_CATEGORY_CF ||
           c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_SK;
}

/* ---------------- normalisation ---------------- */

typedef struct {
    uint32_t *cp;
    int32_t *src;   /* byte offset in the input of the character each one came from */
    int64_t n, cap;
} cpvec;

static ft_status cp_push(cpvec *v, uint32_t cp, int32_t src) {
    if (v->n == v->cap) {
        int64_t cap = v->cap ? v->cap * 2 : 64;
        uint32_t *a = ft_realloc(v->cp, (size_t)cap * sizeof *a);
        if (!a) return ft_fail(FT_ENOMEM, "wordpiece: out of memory");
        v->cp = a;
        int32_t *b = ft_realloc(v->src, (size_t)cap * sizeof *b);
        if (!b) return ft_fail(FT_ENOMEM, "wordpiece: out of memory");
        v->src = b;
        v->cap = cap;
    }
    v->cp[v->n] = cp;
    v->src[v->n] = src;
    v->n++;
    return FT_OK;
}

static ft_status normalize(const ft_tokenizer *t, const char *text, size_t len, cpvec *outv) {
    cpvec a = {0};
    ft_status s = FT_OK;
    const uint8_t *u = (const uint8_t *)text;
    for (size_t i = 0; i < len && s == FT_OK;) {
        int32_t src = (int32_t)i;
        uint32_t cp = ft__utf8_next(u, len, &i);
        if (t->clean_text) {
            if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
            if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || ft__is_white_space(cp)) cp = ' ';
        }
        if (t->chinese && is_cjk(cp)) {
            s = cp_push(&a, ' ', src);
            if (s == FT_OK) s = cp_push(&a, cp, src);
            if (s == FT_OK) s = cp_push(&a, ' ', src);
        } else {
            s = cp_push(&a, cp, src);
        }
    }
    for (int64_t k = 0; k < a.n && s == FT_OK; k++) {
        uint32_t cp = a.cp[k];
        uint32_t low[2];
        int nl = 1;
        low[0] = cp;
        if (t->lower) {
            if (cp == 0x130) { low[0] = 'i'; low[1] = 0x307; nl = 2; }
            else if (cp == 0x3A3) {
                bool before = false, after = false;
                for (int64_t j = k - 1; j >= 0; j--) {
                    if (is_case_ignorable(a.cp[j])) continue;
                    before = is_cased(a.cp[j]);
                    break;
                }
                for (int64_t j = k + 1; j < a.n; j++) {
                    if (is_case_ignorable(a.cp[j])) continue;
                    after = is_cased(a.cp[j]);
                    break;
                }
                low[0] = before && !after ? 0x3C2 : 0x3C3;
            } else {
                low[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            }
        }
        for (int m = 0; m < nl && s == FT_OK; m++) {
            if (!t->strip_accents) { s = cp_push(outv, low[m], a.src[k]); continue; }
            utf8proc_int32_t dec[32];
            int last = 0;
            utf8proc_ssize_t nd = utf8proc_decompose_char((utf8proc_int32_t)low[m], dec, 32, UTF8PROC_DECOMPOSE, &last);
            if (nd < 0 || nd > 32) { dec[0] = (utf8proc_int32_t)low[m]; nd = 1; }
            for (utf8proc_ssize_t d = 0; d < nd && s == FT_OK; d++)
                if (cat((uint32_t)dec[d]) != UTF8PROC_CATEGORY_MN) s = cp_push(outv, (uint32_t)dec[d], a.src[k]);
        }
    }
    ft_free(a.cp);
    ft_free(a.src);
    return s;
}

/* ---------------- WordPiece ---------------- */

static ft_status wordpiece_word(const ft_tokenizer *t, const cpvec *v, int64_t b, int64_t e, char *buf,
                                int32_t *offs, ft_token_list *out) {
    int64_t nc = e - b;
    if (nc > t->max_chars) {
        return ft__list_push(out, t->sp.unk, v->src[b]);
    }
    size_t cl = strlen(t->cont);
    char *w = buf; /* the word's UTF-8, with offs[k] = byte offset of char k; scratch after it */
    size_t wl = 0;
    for (int64_t k = 0; k < nc; k++) {
        offs[k] = (int32_t)wl;
        wl += (size_t)ft__utf8_put(v->cp[b + k], w + wl);
    }
    offs[nc] = (int32_t)wl;
    int64_t first = out->n;
    int64_t start = 0;
    while (start < nc) {
        int64_t end = nc;
        int32_t id = -1;
        while (start < end) {
            if (start == 0) {
                id = ft__tok_lookup(t, w, (size_t)offs[end]);
            } else { /* prefix + piece, built in front of the word's copy at buf + cl + wl */
                char *q = w + wl;
                memcpy(q, t->cont, cl);
                memcpy(q + cl, w + offs[start], (size_t)(offs[end] - offs[start]));
                id = ft__tok_lookup(t, q, (size_t)(offs[end] - offs[start]) + cl);
            }
            if (id >= 0) break;
            end--;
        }
        if (id < 0) { /* the whole word is unknown */
            out->n = first;
            break;
        }
        ft_status s = ft__list_push(out, id, v->src[b + start]);
        if (s) return s;
        start = end;
    }
    if (start < nc) return ft__list_push(out, t->sp.unk, v->src[b]);
    return FT_OK;
}

ft_status ft__wordpiece_encode(const ft_tokenizer *t, const char *text, size_t len, ft_token_list *out) {
    cpvec v = {0};
    ft_status s = normalize(t, text, len, &v);
    size_t cl = strlen(t->cont);
    char *buf = ft_malloc((size_t)t->max_chars * 8 + cl + 8);
    int32_t *offs = ft_malloc(((size_t)t->max_chars + 2) * sizeof *offs);
    if (s == FT_OK && (!buf || !offs)) s = ft_fail(FT_ENOMEM, "wordpiece: out of memory");
    int64_t i = 0;
    while (i < v.n && s == FT_OK) {
        uint32_t cp = v.cp[i];
        if (cp == ' ' || ft__is_white_space(cp)) { i++; continue; }
        if (is_punct(cp)) {
            s = wordpiece_word(t, &v, i, i + 1, buf, offs, out);
            i++;
            continue;
        }
        int64_t j = i;
        while (j < v.n && !(v.cp[j] == ' ' || ft__is_white_space(v.cp[j])) && !is_punct(v.cp[j])) j++;
        s = wordpiece_word(t, &v, i, j, buf, offs, out);
        i = j;
    }
    ft_free(buf);
    ft_free(offs);
    ft_free(v.cp);
    ft_free(v.src);
    return s;
}

/* ---------------- tokenizer.json (WordPiece model) ---------------- */

ft_status ft__wordpiece_from_json(ft_tokenizer *t, json_t *root, json_t *model);

ft_status ft__wordpiece_from_json(ft_tokenizer *t, json_t *root, json_t *model) {
    json_t *norm = json_object_get(root, "normalizer");
    t->clean_text = t->chinese = t->lower = true;
    int strip = -1;
    if (json_is_object(norm)) {
        const char *type = json_string_value(json_object_get(norm, "type"));
        if (!type || strcmp(type, "BertNormalizer") != 0)
            return ft_fail(FT_EUNSUPPORTED, "%s: normalizer \"%s\" is not supported with WordPiece (only BertNormalizer)",
                           t->name, type ? type : "?");
        json_t *v;
        if (json_is_boolean(v = json_object_get(norm, "clean_text"))) t->clean_text = json_is_true(v);
        if (json_is_boolean(v = json_object_get(norm, "handle_chinese_chars"))) t->chinese = json_is_true(v);
        if (json_is_boolean(v = json_object_get(norm, "lowercase"))) t->lower = json_is_true(v);
        if (json_is_boolean(v = json_object_get(norm, "strip_accents"))) strip = json_is_true(v);
    } else if (!json_is_null(norm) && norm) {
        return ft_fail(FT_EFORMAT, "%s: \"normalizer\" is not an object", t->name);
    } else {
        t->clean_text = t->chinese = t->lower = false;
    }
    t->strip_accents = strip < 0 ? t->lower : strip == 1;
    json_t *pre = json_object_get(root, "pre_tokenizer");
    if (json_is_object(pre)) {
        const char *type = json_string_value(json_object_get(pre, "type"));
        if (!type || strcmp(type, "BertPreTokenizer") != 0)
            return ft_fail(FT_EUNSUPPORTED, "%s: pre_tokenizer \"%s\" is not supported with WordPiece (only BertPreTokenizer)",
                           t->name, type ? type : "?");
    }
    json_t *v = json_object_get(model, "max_input_chars_per_word");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000)
            return ft_fail(FT_EFORMAT, "%s: bad max_input_chars_per_word", t->name);
        t->max_chars = (int32_t)json_integer_value(v);
    }
    v = json_object_get(model, "continuing_subword_prefix");
    if (v) {
        const char *p = json_string_value(v);
        if (!p || strlen(p) >= sizeof t->cont)
            return ft_fail(FT_EFORMAT, "%s: bad continuing_subword_prefix", t->name);
        strcpy(t->cont, p);
    }
    ft_status s = ft__wordpiece_finish(t);
    if (s) return s;
    v = json_object_get(model, "unk_token");
    if (json_is_string(v)) {
        int32_t id = ft__tok_lookup(t, json_string_value(v), strlen(json_string_value(v)));
        if (id < 0) return ft_fail(FT_EFORMAT, "%s: unk_token \"%s\" is not in the vocabulary", t->name, json_string_value(v));
        t->sp.unk = id;
    }
    return FT_OK;
}
