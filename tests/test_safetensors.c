/* safetensors reader/writer: round trip, dtype conversion, truncated and corrupt files,
 * loading into ft_params, unwritable paths and full disks (the old file must survive). */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void path_in(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", tmpdir, name); }

/* Whole file, or NULL; *n gets its size. */
static uint8_t *slurp(const char *path, size_t *n) {
    uint8_t *d;
    if (ft_read_file(path, 1 << 26, &d, n) != FT_OK) return NULL;
    return d;
}

static int count_temp_files(void) {
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* A safetensors image from a header string and raw data bytes (exact-size allocation, so
 * ASan catches any read past the end). */
static uint8_t *make_st(const char *hdr, const void *data, size_t dn, size_t *n) {
    size_t hl = strlen(hdr);
    *n = 8 + hl + dn;
    uint8_t *b = malloc(*n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, hdr, hl);
    if (dn) memcpy(b + 8 + hl, data, dn);
    return b;
}

/* Parse from memory and expect `want`; the message must contain every given fragment. */
static void expect_parse(const char *hdr, size_t dn, ft_status want, const char *frag1, const char *frag2) {
    uint8_t zeros[256] = {0};
    size_t n;
    uint8_t *b = make_st(hdr, zeros, dn, &n);
    ft_safetensors *st = (ft_safetensors *)1;
    ft_status s = ft_st_parse(b, n, "bad.safetensors", &st);
    CHECKF(s == want, "header %s: got %s (%s), want %s", hdr, ft_status_name(s), ft_errmsg(), ft_status_name(want));
    if (s != FT_OK) {
        CHECKF(st == NULL, "header %s: out not cleared", hdr);
        CHECKF(strstr(ft_errmsg(), "bad.safetensors") != NULL, "message lacks the file: %s", ft_errmsg());
        if (frag1) CHECKF(strstr(ft_errmsg(), frag1) != NULL, "message lacks '%s': %s", frag1, ft_errmsg());
        if (frag2) CHECKF(strstr(ft_errmsg(), frag2) != NULL, "message lacks '%s': %s", frag2, ft_errmsg());
    }
    ft_st_close(st == (ft_safetensors *)1 ? NULL : st);
    free(b);
}

static void test_round_trip(void) {
    char path[256];
    path_in(path, sizeof path, "rt.safetensors");
    float w[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 65504};
    float bias[3] = {0.25f, 0.5f, 0.75f};
    float scalar = 42;
    int64_t sw[2] = {2, 3}, sb[1] = {3}, sz[2] = {0, 7};
    ft_st_writer *wr = ft_st_writer_new();
    CHECK(wr != NULL);
    CHECK_OK(ft_st_writer_add(wr, "layer.weight", 2, sw, w));
    CHECK_OK(ft_st_writer_add(wr, "layer.bias", 1, sb, bias));
    CHECK_OK(ft_st_writer_add(wr, "step", 0, NULL, &scalar));
    CHECK_OK(ft_st_writer_add(wr, "empty", 2, sz, NULL));
    CHECK_ERR(ft_st_writer_add(wr, "layer.bias", 1, sb, bias), FT_EINVAL);
    CHECK_ERR(ft_st_writer_add(wr, "__metadata__", 1, sb, bias), FT_EINVAL);
    CHECK_OK(ft_st_writer_meta(wr, "format", "pt"));
    CHECK_OK(ft_st_writer_meta(wr, "epoch", "2"));
    CHECK_OK(ft_st_writer_meta(wr, "epoch", "3")); /* replaces */
    CHECK_OK(ft_st_writer_meta(wr, "note", "quotes \" and \\ and \xc3\xa9"));
    CHECK_OK(ft_st_writer_write(wr, path));
    ft_st_writer_free(wr);
    CHECK(count_temp_files() == 0);

    size_t n;
    uint8_t *raw = slurp(path, &n);
    CHECK(raw != NULL);
    if (raw) {
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
        CHECK(hl % 8 == 0);
        CHECK(8 + hl + (6 + 3 + 1) * 4 == n);
        CHECK(raw[8] == '{');
        ft_free(raw);
    }

    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open(path, &st));
    if (!st) return;
    CHECK(st->n == 4);
    CHECK(!strcmp(st->t[0].name, "layer.weight") && !strcmp(st->t[3].name, "empty")); /* order kept */
    const ft_st_tensor *t = ft_st_find(st, "layer.weight");
    CHECK(t && t->dtype == FT_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
    float out[8];
    if (t) { CHECK_OK(ft_st_to_f32(t, out)); CHECK(memcmp(out, w, sizeof w) == 0); }
    t = ft_st_find(st, "layer.bias");
    if (t) { CHECK_OK(ft_st_to_f32(t, out)); CHECK(memcmp(out, bias, sizeof bias) == 0); }
    t = ft_st_find(st, "step");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    if (t) { CHECK_OK(ft_st_to_f32(t, out)); CHECK(out[0] == 42); }
    t = ft_st_find(st, "empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0 && t->shape[1] == 7);
    CHECK(ft_st_find(st, "nope") == NULL);
    CHECK(st->n_meta == 3);
    CHECK(ft_st_meta(st, "format") && !strcmp(ft_st_meta(st, "format"), "pt"));
    CHECK(ft_st_meta(st, "epoch") && !strcmp(ft_st_meta(st, "epoch"), "3"));
    CHECK(ft_st_meta(st, "note") && !strcmp(ft_st_meta(st, "note"), "quotes \" and \\ and \xc3\xa9"));
    CHECK(ft_st_meta(st, "missing") == NULL);
    ft_st_close(st);

    /* Byte-exact against the reference layout: compact JSON, space padding to 8. */
    path_in(path, sizeof path, "exact.safetensors");
    float two[2] = {1, 2};
    int64_t s2[1] = {2};
    wr = ft_st_writer_new();
    CHECK_OK(ft_st_writer_add(wr, "a", 1, s2, two));
    CHECK_OK(ft_st_writer_write(wr, path));
    ft_st_writer_free(wr);
    /* 54 bytes of JSON, padded with 2 spaces to 56 */
    size_t en;
    uint8_t *expect = make_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ", two, 8, &en);
    raw = slurp(path, &n);
    CHECK(raw && n == en && memcmp(raw, expect, n) == 0);
    ft_free(raw);
    free(expect);

    /* An empty writer makes a valid empty file. */
    path_in(path, sizeof path, "none.safetensors");
    wr = ft_st_writer_new();
    CHECK_OK(ft_st_writer_write(wr, path));
    ft_st_writer_free(wr);
    CHECK_OK(ft_st_open(path, &st));
    if (st) { CHECK(st->n == 0 && st->n_meta == 0); ft_st_close(st); }
}

static uint8_t *le16s(const uint16_t *v, int n) {
    uint8_t *b = malloc((size_t)n * 2);
    for (int i = 0; i < n; i++) { b[2 * i] = (uint8_t)v[i]; b[2 * i + 1] = (uint8_t)(v[i] >> 8); }
    return b;
}

static bool same_float(float a, float b) { return isnan(a) ? isnan(b) : (a == b && signbit(a) == signbit(b)); }

static void test_dtypes(void) {
    /* F16 and BF16 against known values, incl. subnormals, inf, NaN and -0. */
    uint16_t h[10] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x7C00, 0xFC00, 0x7E00, 0x8000, 0x3555};
    float hw[10] = {1, -2, 65504, 0x1p-24f, 0x1p-14f, INFINITY, -INFINITY, NAN, -0.0f, 0.333251953125f};
    uint16_t bf[7] = {0x3F80, 0xC040, 0x4049, 0x7F80, 0x0001, 0x7FC0, 0x8000};
    float bw[7] = {1, -3, 3.140625f, INFINITY, 0x1p-133f, NAN, -0.0f};
    uint8_t *hb = le16s(h, 10), *bb = le16s(bf, 7);
    uint8_t data[20 + 14 + 16 + 8 + 16 + 2 + 2 + 3];
    size_t o = 0;
    memcpy(data + o, hb, 20); o += 20;
    memcpy(data + o, bb, 14); o += 14;
    double f64[2] = {-2.5, 1e300};
    memcpy(data + o, f64, 16); o += 16; /* little-endian host */
    int32_t i32[2] = {-7, 123456};
    memcpy(data + o, i32, 8); o += 8;
    int64_t i64[2] = {(int64_t)1 << 40, -3};
    memcpy(data + o, i64, 16); o += 16;
    data[o++] = 255; data[o++] = 7;            /* U8 */
    data[o++] = 0x80; data[o++] = 5;           /* I8 */
    data[o++] = 0; data[o++] = 1; data[o++] = 2; /* BOOL */
    free(hb);
    free(bb);
    const char *hdr =
        "{\"h\":{\"dtype\":\"F16\",\"shape\":[10],\"data_offsets\":[0,20]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[7],\"data_offsets\":[20,34]},"
        "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[34,50]},"
        "\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[50,58]},"
        "\"l\":{\"dtype\":\"I64\",\"shape\":[2,1],\"data_offsets\":[58,74]},"
        "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[74,76]},"
        "\"s\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[76,78]},"
        "\"z\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[78,81]}}";
    size_t n;
    uint8_t *img = make_st(hdr, data, o, &n); /* header length 'odd': data is unaligned */
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_parse(img, n, "dtypes", &st));
    if (!st) { free(img); return; }
    float out[16];
    const ft_st_tensor *t = ft_st_find(st, "h");
    CHECK(t && t->dtype == FT_ST_F16);
    if (t) {
        CHECK_OK(ft_st_to_f32(t, out));
        for (int i = 0; i < 10; i++) CHECKF(same_float(out[i], hw[i]), "f16 %04x -> %g, want %g", h[i], out[i], hw[i]);
    }
    t = ft_st_find(st, "b");
    CHECK(t && t->dtype == FT_ST_BF16);
    if (t) {
        CHECK_OK(ft_st_to_f32(t, out));
        for (int i = 0; i < 7; i++) CHECKF(same_float(out[i], bw[i]), "bf16 %04x -> %g, want %g", bf[i], out[i], bw[i]);
    }
    struct { const char *name; int n; float want[3]; } cases[] = {
        {"d", 2, {-2.5f, INFINITY}}, {"i", 2, {-7, 123456}}, {"l", 2, {1099511627776.0f, -3}},
        {"u", 2, {255, 7}}, {"s", 2, {-128, 5}}, {"z", 3, {0, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        t = ft_st_find(st, cases[c].name);
        CHECK(t != NULL);
        if (!t) continue;
        CHECK_OK(ft_st_to_f32(t, out));
        for (int i = 0; i < cases[c].n; i++)
            CHECKF(same_float(out[i], cases[c].want[i]), "%s[%d] = %g, want %g", cases[c].name, i, out[i], cases[c].want[i]);
    }
    /* exhaustive F16: every half value, against a reference built from the definition */
    int bad = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        uint8_t two[2] = {(uint8_t)u, (uint8_t)(u >> 8)};
        ft_st_tensor one = {.name = "x", .dtype = FT_ST_F16, .ndim = 0, .numel = 1, .data = two, .nbytes = 2};
        float f;
        if (ft_st_to_f32(&one, &f) != FT_OK) { bad++; continue; }
        int e = (int)(u >> 10) & 31, m = (int)(u & 1023);
        double ref = e == 31 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
        if (u & 0x8000) ref = -ref;
        if (!same_float(f, (float)ref)) bad++;
    }
    CHECKF(bad == 0, "%d half values converted wrongly", bad);
    ft_st_close(st);
    free(img);
}

/* Every prefix of a valid file must fail cleanly, both from memory and from disk. */
static void test_truncated(void) {
    char path[256];
    path_in(path, sizeof path, "full.safetensors");
    float a[5] = {1, 2, 3, 4, 5}, b[2] = {6, 7};
    int64_t sa[1] = {5}, sb[2] = {1, 2};
    ft_st_writer *wr = ft_st_writer_new();
    CHECK_OK(ft_st_writer_add(wr, "a", 1, sa, a));
    CHECK_OK(ft_st_writer_add(wr, "b", 2, sb, b));
    CHECK_OK(ft_st_writer_meta(wr, "k", "v"));
    CHECK_OK(ft_st_writer_write(wr, path));
    ft_st_writer_free(wr);
    size_t n;
    uint8_t *full = slurp(path, &n);
    CHECK(full != NULL);
    if (!full) return;
    int wrong = 0;
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, full, len);
        ft_safetensors *st = NULL;
        ft_status s = ft_st_parse(len ? cut : NULL, len, "cut.safetensors", &st);
        if (s != FT_EFORMAT || st || !strstr(ft_errmsg(), "cut.safetensors")) {
            wrong++;
            fprintf(stderr, "  prefix %zu: %s %s\n", len, ft_status_name(s), ft_errmsg());
        }
        ft_st_close(st);
        free(cut);
    }
    CHECKF(wrong == 0, "%d of %zu prefixes not rejected cleanly", wrong, n);
    /* the same from disk, for a few lengths incl. empty */
    size_t lens[] = {0, 7, 8, 9, n / 2, n - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char p2[256];
        path_in(p2, sizeof p2, "cut.safetensors");
        CHECK_OK(ft_write_file_atomic(p2, full, lens[i]));
        ft_safetensors *st = NULL;
        CHECK_ERR(ft_st_open(p2, &st), FT_EFORMAT);
        CHECK(st == NULL && strstr(ft_errmsg(), p2));
    }
    /* and the complete file still parses from memory */
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_parse(full, n, "full", &st));
    ft_st_close(st);
    ft_free(full);
}

static void test_corrupt(void) {
    expect_parse("{\"a\":", 0, FT_EFORMAT, "not valid JSON", NULL);
    expect_parse("", 0, FT_EFORMAT, "not valid JSON", NULL);
    expect_parse("[1,2]", 0, FT_EFORMAT, "not a JSON object", NULL);
    expect_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, FT_EFORMAT, "JSON", NULL);
    expect_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FT_EFORMAT, "JSON", NULL);
    expect_parse("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FT_EFORMAT, "JSON", NULL);
    /* offsets */
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, FT_EFORMAT, "'w'", "past the end");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8, FT_EFORMAT, "'w'", "negative");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, FT_EFORMAT, "'w'", "end before");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8, FT_EFORMAT, "'w'", "data_offsets");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, FT_EFORMAT, "'w'", "data_offsets");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 8, FT_EFORMAT, "'w'", "data_offsets");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 8, FT_EFORMAT, "JSON", NULL);
    expect_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, FT_EFORMAT, "'b'", "overlap");
    expect_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FT_EFORMAT, "overlap", NULL);
    expect_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, FT_EFORMAT, "'b'", "gap");
    expect_parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, FT_EFORMAT, "after the end", NULL);
    /* sizes */
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, FT_EFORMAT, "'w'", "3 elements");
    expect_parse("{\"w\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, FT_EFORMAT, "'w'", NULL);
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0, FT_EFORMAT, "'w'", NULL);
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,1099511627776],\"data_offsets\":[0,8]}}",
                 8, FT_EFORMAT, "'w'", "overflow");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,0],\"data_offsets\":[0,0]}}",
                 0, FT_OK, NULL, NULL);
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, FT_EFORMAT, "'w'", "negative");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, FT_EFORMAT, "'w'", "integer");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, FT_EFORMAT, "'w'", "shape");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, FT_EUNSUPPORTED, "'w'", "9");
    /* dtypes and structure */
    expect_parse("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FT_EFORMAT, "'w'", "F33");
    expect_parse("{\"w\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FT_EUNSUPPORTED, "'w'", "U32");
    expect_parse("{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FT_EFORMAT, "'w'", "dtype");
    expect_parse("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, FT_EFORMAT, "'w'", "dtype");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, FT_EFORMAT, "'w'", "shape");
    expect_parse("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, FT_EFORMAT, "'w'", "data_offsets");
    expect_parse("{\"w\":[1,2]}", 0, FT_EFORMAT, "'w'", "not a JSON object");
    expect_parse("{\"__metadata__\":{\"k\":1}}", 0, FT_EFORMAT, "'k'", "not a string");
    expect_parse("{\"__metadata__\":[]}", 0, FT_EFORMAT, "__metadata__", NULL);
    expect_parse("{\"__metadata__\":{\"k\":\"v\"}}", 0, FT_OK, NULL, NULL);
    expect_parse("{}", 0, FT_OK, NULL, NULL);

    /* header length: huge, past the end, inside the 8 bytes */
    uint8_t b[64] = {0};
    uint64_t lens[] = {(uint64_t)1 << 60, UINT64_MAX, 200000000, 57, 64};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int k = 0; k < 8; k++) b[k] = (uint8_t)(lens[i] >> (8 * k));
        memcpy(b + 8, "{}", 2);
        ft_safetensors *st = NULL;
        CHECK_ERR(ft_st_parse(b, sizeof b, "len.safetensors", &st), FT_EFORMAT);
        CHECK(st == NULL && strstr(ft_errmsg(), "len.safetensors") && strstr(ft_errmsg(), "header length"));
    }
    /* files that do not exist or are directories */
    ft_safetensors *st = NULL;
    char path[256];
    path_in(path, sizeof path, "does-not-exist.safetensors");
    CHECK_ERR(ft_st_open(path, &st), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "does-not-exist.safetensors") != NULL);
    CHECK_ERR(ft_st_open(tmpdir, &st), FT_EIO);
    CHECK(st == NULL);
}

static void write_st(const char *path, int n, const char **names, const int *ndims, const int64_t (*shapes)[4],
                     const float **data) {
    ft_st_writer *wr = ft_st_writer_new();
    for (int i = 0; i < n; i++) CHECK_OK(ft_st_writer_add(wr, names[i], ndims[i], shapes[i], data[i]));
    CHECK_OK(ft_st_writer_write(wr, path));
    ft_st_writer_free(wr);
}

static void test_load_params(void) {
    int64_t sw[2] = {5, 4}, sb[1] = {5};
    ft_params *ps = ft_params_new();
    CHECK(ps != NULL);
    if (!ps) return;
    CHECK(ft_params_add(ps, "fc.weight", 2, sw) >= 0);
    CHECK(ft_params_add(ps, "fc.bias", 1, sb) >= 0);
    CHECK(ft_params_add_buffer(ps, "bn.running_mean", 1, sb) >= 0);
    ft_safetensors *st = NULL;
    char path[256];

    float w[20], wbig[40], bias[5], rm[5];
    for (int i = 0; i < 40; i++) wbig[i] = (float)i;
    for (int i = 0; i < 20; i++) w[i] = 0.5f * (float)i;
    for (int i = 0; i < 5; i++) { bias[i] = -(float)i; rm[i] = 10 + (float)i; }
    const char *names[4] = {"model.fc.weight", "model.fc.bias", "model.bn.running_mean", "other.thing"};
    int nd[4] = {2, 1, 1, 1};
    int64_t shapes[4][4] = {{5, 4}, {5}, {5}, {5}};
    const float *data[4] = {w, bias, rm, rm};
    path_in(path, sizeof path, "model.safetensors");
    write_st(path, 4, names, nd, (const int64_t (*)[4])shapes, data);
    CHECK_OK(ft_st_open(path, &st));
    CHECK_ERR(ft_params_load_st(ps, st, "model.", true), FT_EINVAL); /* not finalized */
    CHECK_OK(ft_params_finalize(ps));
    CHECK_OK(ft_params_load_st(ps, st, "model.", true));
    int iw = ft_params_find(ps, "fc.weight"), ib = ft_params_find(ps, "fc.bias"), ir = ft_params_find(ps, "bn.running_mean");
    CHECK(memcmp(ft_params_value(ps, iw), w, sizeof w) == 0);
    CHECK(memcmp(ft_params_value(ps, ib), bias, sizeof bias) == 0);
    CHECK(memcmp(ft_params_value(ps, ir), rm, sizeof rm) == 0);
    /* without the prefix nothing matches: strict fails naming the first parameter */
    CHECK_ERR(ft_params_load_st(ps, st, NULL, true), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "'fc.weight'") && strstr(ft_errmsg(), path));
    CHECK_OK(ft_params_load_st(ps, st, NULL, false));
    ft_st_close(st);

    /* missing buffer: strict names it, non-strict loads the rest */
    path_in(path, sizeof path, "nobuf.safetensors");
    float w2[20];
    for (int i = 0; i < 20; i++) w2[i] = 100 + (float)i;
    const float *data2[2] = {w2, bias};
    const char *names2[2] = {"fc.weight", "fc.bias"};
    write_st(path, 2, names2, nd, (const int64_t (*)[4])shapes, data2);
    CHECK_OK(ft_st_open(path, &st));
    CHECK_ERR(ft_params_load_st(ps, st, "", true), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "'bn.running_mean'") && strstr(ft_errmsg(), "nobuf.safetensors"));
    CHECK(memcmp(ft_params_value(ps, iw), w, sizeof w) == 0); /* strict failure changes nothing */
    CHECK_OK(ft_params_load_st(ps, st, "", false));
    CHECK(memcmp(ft_params_value(ps, iw), w2, sizeof w2) == 0);
    CHECK(memcmp(ft_params_value(ps, ir), rm, sizeof rm) == 0);
    ft_st_close(st);

    /* wrong shape: exact message, and no value changes */
    path_in(path, sizeof path, "wrong.safetensors");
    int64_t shapes3[2][4] = {{5}, {10, 4}};
    const char *names3[2] = {"fc.bias", "fc.weight"};
    int nd3[2] = {1, 2};
    float bias3[5] = {9, 9, 9, 9, 9};
    const float *data3[2] = {bias3, wbig};
    write_st(path, 2, names3, nd3, (const int64_t (*)[4])shapes3, data3);
    CHECK_OK(ft_st_open(path, &st));
    CHECK_ERR(ft_params_load_st(ps, st, NULL, false), FT_ESHAPE);
    char want[512];
    snprintf(want, sizeof want, "%s: tensor 'fc.weight' has shape [10,4], model expects [5,4]", path);
    CHECKF(!strcmp(ft_errmsg(), want), "got '%s'", ft_errmsg());
    CHECK(memcmp(ft_params_value(ps, ib), bias, sizeof bias) == 0);
    ft_st_close(st);

    /* wrong rank */
    int64_t shapes4[1][4] = {{20}};
    const char *names4[1] = {"fc.weight"};
    int nd4[1] = {1};
    const float *data4[1] = {w};
    write_st(path, 1, names4, nd4, (const int64_t (*)[4])shapes4, data4);
    CHECK_OK(ft_st_open(path, &st));
    CHECK_ERR(ft_params_load_st(ps, st, NULL, false), FT_ESHAPE);
    CHECK(strstr(ft_errmsg(), "[20], model expects [5,4]") != NULL);
    ft_st_close(st);

    /* BF16 tensor into a float parameter */
    uint16_t hb[5] = {0x3F80, 0x4000, 0x4040, 0x4080, 0xBF80};
    uint8_t *bytes = le16s(hb, 5);
    size_t n;
    uint8_t *img = make_st("{\"fc.bias\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[0,10]}}", bytes, 10, &n);
    CHECK_OK(ft_st_parse(img, n, "bf16.safetensors", &st));
    CHECK_OK(ft_params_load_st(ps, st, NULL, false));
    float bwant[5] = {1, 2, 3, 4, -1};
    CHECK(memcmp(ft_params_value(ps, ib), bwant, sizeof bwant) == 0);
    ft_st_close(st);
    free(img);
    free(bytes);
    ft_params_free(ps);
}

/* The previous file survives every failed write, and no temp file is left behind. */
static void test_write_failures(void) {
    char path[256], bad[256];
    path_in(path, sizeof path, "ckpt.safetensors");
    float a[4] = {1, 2, 3, 4}, b[1000];
    for (int i = 0; i < 1000; i++) b[i] = (float)i;
    int64_t sa[1] = {4}, sb[1] = {1000};
    ft_st_writer *wr = ft_st_writer_new();
    CHECK_OK(ft_st_writer_add(wr, "a", 1, sa, a));
    CHECK_OK(ft_st_writer_write(wr, path));
    ft_st_writer_free(wr);
    size_t n0;
    uint8_t *before = slurp(path, &n0);

    wr = ft_st_writer_new();
    CHECK_OK(ft_st_writer_add(wr, "a", 1, sa, a));
    CHECK_OK(ft_st_writer_add(wr, "b", 1, sb, b));
    CHECK_OK(ft_st_writer_meta(wr, "step", "2"));
    /* writes: header, a, b. The (n+1)th fails for n = 0, 1, 2; n = 3 succeeds. */
    for (int k = 0; k < 3; k++) {
        ft_io_fail_write_after(k);
        CHECK_ERR(ft_st_writer_write(wr, path), FT_EIO);
        ft_io_fail_write_after(-1);
        CHECKF(strstr(ft_errmsg(), "No space left") != NULL, "n=%d: %s", k, ft_errmsg());
        size_t n;
        uint8_t *now = slurp(path, &n);
        CHECKF(now && n == n0 && memcmp(now, before, n) == 0, "n=%d: old file changed", k);
        ft_free(now);
        CHECKF(count_temp_files() == 0, "n=%d: temp file left", k);
    }
    /* real full disk: a file-size limit, with SIGXFSZ ignored so write() fails with EFBIG */
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    rlim_t limits[] = {0, 100, 2000};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct rlimit lim = {limits[i], old.rlim_max};
        CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
        ft_status s = ft_st_writer_write(wr, path);
        CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
        CHECKF(s == FT_EIO && strstr(ft_errmsg(), "File too large"), "limit %d: %s %s", (int)limits[i],
               ft_status_name(s), ft_errmsg());
        size_t n;
        uint8_t *now = slurp(path, &n);
        CHECKF(now && n == n0 && memcmp(now, before, n) == 0, "limit %d: old file changed", (int)limits[i]);
        ft_free(now);
        CHECKF(count_temp_files() == 0, "limit %d: temp file left", (int)limits[i]);
    }
    signal(SIGXFSZ, oldsig);
    ft_io_fail_write_after(3);
    CHECK_OK(ft_st_writer_write(wr, path));
    ft_io_fail_write_after(-1);
    ft_safetensors *st = NULL;
    CHECK_OK(ft_st_open(path, &st));
    CHECK(st && st->n == 2 && ft_st_meta(st, "step"));
    ft_st_close(st);

    /* unwritable: a regular file used as a parent directory (root ignores chmod) */
    path_in(bad, sizeof bad, "plainfile");
    CHECK_OK(ft_write_file_atomic(bad, "x", 1));
    path_in(bad, sizeof bad, "plainfile/sub/out.safetensors");
    CHECK_ERR(ft_st_writer_write(wr, bad), FT_EIO);
    CHECKF(strstr(ft_errmsg(), "Not a directory") && strstr(ft_errmsg(), bad), "%s", ft_errmsg());
    path_in(bad, sizeof bad, "plainfile/sub");
    CHECK_ERR(ft_mkdirs(bad), FT_EIO);
    CHECK(errno == ENOTDIR);
    CHECKF(strstr(ft_errmsg(), "plainfile'") && strstr(ft_errmsg(), "not a directory"), "%s", ft_errmsg());
    /* the output path is an existing directory: rename fails, temp removed */
    path_in(bad, sizeof bad, "adir");
    CHECK_OK(ft_mkdirs(bad));
    CHECK_ERR(ft_st_writer_write(wr, bad), FT_EIO);
    CHECK(count_temp_files() == 0);
    ft_st_writer_free(wr);
    ft_free(before);
}

/* Every allocation failing in turn: each call fails with FT_ENOMEM or succeeds, no leak
 * (ASan) and no crash. */
static void test_oom(void) {
    char path[256];
    path_in(path, sizeof path, "oom.safetensors");
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t sa[2] = {2, 3};
    size_t n = 0;
    uint8_t *img = NULL;
    int bad = 0, ok_at = -1;
    for (int k = 0; k < 200 && ok_at < 0; k++) {
        ft_alloc_fail_after(k);
        ft_st_writer *wr = ft_st_writer_new();
        ft_status s = wr ? FT_OK : FT_ENOMEM;
        if (s == FT_OK) s = ft_st_writer_add(wr, "a", 2, sa, a);
        if (s == FT_OK) s = ft_st_writer_add(wr, "b", 1, sa, a);
        if (s == FT_OK) s = ft_st_writer_meta(wr, "k1", "v1");
        if (s == FT_OK) s = ft_st_writer_meta(wr, "k2", "v2");
        if (s == FT_OK) s = ft_st_writer_write(wr, path);
        ft_alloc_fail_after(-1);
        ft_st_writer_free(wr);
        if (s == FT_OK) ok_at = k;
        else if (s != FT_ENOMEM) { bad++; fprintf(stderr, "  writer k=%d: %s %s\n", k, ft_status_name(s), ft_errmsg()); }
    }
    CHECKF(ok_at > 0 && bad == 0, "writer: first success at %d, %d wrong statuses", ok_at, bad);
    CHECK(count_temp_files() == 0);
    img = slurp(path, &n);
    CHECK(img != NULL);
    ft_params *ps = ft_params_new();
    ft_params_add(ps, "a", 2, sa);
    ft_params_add(ps, "b", 1, sa);
    CHECK_OK(ft_params_finalize(ps));
    ok_at = -1;
    bad = 0;
    for (int k = 0; k < 200 && ok_at < 0 && img; k++) {
        ft_alloc_fail_after(k);
        ft_safetensors *st = NULL;
        ft_status s = ft_st_parse(img, n, "oom", &st);
        if (s == FT_OK) s = ft_params_load_st(ps, st, NULL, true);
        ft_alloc_fail_after(-1);
        ft_st_close(st);
        if (s == FT_OK) ok_at = k;
        else if (s != FT_ENOMEM) { bad++; fprintf(stderr, "  reader k=%d: %s %s\n", k, ft_status_name(s), ft_errmsg()); }
    }
    CHECKF(ok_at > 0 && bad == 0, "reader: first success at %d, %d wrong statuses", ok_at, bad);
    CHECK(memcmp(ft_params_value(ps, 0), a, sizeof a) == 0);
    ft_params_free(ps);
    ft_free(img);
}

/* The fuzz seed corpus doubles as regression cases: "valid_*" files must load and convert,
 * every other file (broken seeds, crashes the fuzzer once found) must fail cleanly. */
static void test_corpus(void) {
    const char *dir = "fuzz/corpus/safetensors";
    DIR *d = opendir(dir);
    if (!d) { printf("SKIP corpus: %s not found (run from the repository root)\n", dir); return; }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        files++;
        bool valid = strncmp(e->d_name, "valid_", 6) == 0;
        ft_safetensors *st = NULL;
        ft_status s = ft_st_open(path, &st);
        CHECKF(valid ? s == FT_OK : (s == FT_EFORMAT || s == FT_EUNSUPPORTED), "%s: %s %s", path,
               ft_status_name(s), ft_errmsg());
        if (s != FT_OK) { CHECKF(strstr(ft_errmsg(), path) != NULL, "message lacks the file: %s", ft_errmsg()); continue; }
        for (int i = 0; i < st->n; i++) {
            float *dst = malloc(st->t[i].numel ? (size_t)st->t[i].numel * 4 : 1);
            CHECK_OK(ft_st_to_f32(&st->t[i], dst));
            free(dst);
        }
        ft_st_close(st);
    }
    closedir(d);
    CHECK(files >= 10);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ft_test_st_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_round_trip();
    test_dtypes();
    test_truncated();
    test_corrupt();
    test_load_params();
    test_write_failures();
    test_oom();
    test_corpus();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TEST_END();
}
