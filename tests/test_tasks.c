/* Text datasets (seq-cls, token-cls, lm), their bad inputs, and the task metrics: seqeval's
 * entity F1 against tests/fixtures/seqeval_ref.json (tests/gen/gen_seqeval.py) and hand cases,
 * macro-F1. */
#include "test.h"
#include "finetune/tasks.h"

#include <jansson.h>

static const char VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\non\nmat\ngood\nbad\nfilm\n,\n.\n!\nvery\n##s\nun\n##fun\n"
    "eu\nrejects\ngerman\ncall\npeter\nblack\n##burn\n\xef\xbf\xbd\n";

static ft_tokenizer *wp(void) {
    ft_tokenizer *t = NULL;
    ft_status s = ft_tokenizer_from_wordpiece(VOCAB, sizeof VOCAB - 1, true, "vocab", &t);
    if (s) { fprintf(stderr, "vocab: %s\n", ft_errmsg()); exit(1); }
    return t;
}

static ft_text_opts opts(const ft_tokenizer *t, int64_t max_len) {
    ft_text_opts o;
    memset(&o, 0, sizeof o);
    o.tok = t;
    o.max_len = max_len;
    return o;
}

/* example i of ds into rows (3*T ints) */
static void get(ft_dataset *ds, int64_t i, int32_t *x, int32_t *y) { CHECK_OK(ds->get(ds, i, NULL, x, y)); }

static ft_dataset *open_mem(ft_task task, const char *text, const char *name, const ft_text_opts *o) {
    ft_dataset *ds = NULL;
    CHECK_OK(ft_dataset_text_mem(task, text, strlen(text), name, o, &ds));
    return ds;
}

static void expect_err(ft_task task, const char *text, const char *name, const ft_text_opts *o, ft_status want,
                       const char *needle) {
    ft_dataset *ds = NULL;
    ft_status s = ft_dataset_text_mem(task, text, strlen(text), name, o, &ds);
    CHECKF(s == want && strstr(ft_errmsg(), needle), "%s: got %s '%s', want %s containing '%s'", name, ft_status_name(s),
           ft_errmsg(), ft_status_name(want), needle);
    CHECK(ds == NULL);
}

static void test_seq_cls(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 16);
    /* TSV with a header (SST-2 layout), label first */
    ft_dataset *ds = open_mem(FT_TASK_SEQ_CLS, "label\tsentence\n0\tthe cat sat\n1\tvery good film !\n\n1\tgood\n", "a.tsv", &o);
    if (ds) {
        CHECK(ds->n == 3 && ds->n_classes == 2 && ds->task == FT_TASK_SEQ_CLS);
        CHECK(ds->x_dtype == FT_I32 && ds->x_shape[0] == 3 && ds->x_shape[1] == 6); /* [CLS] very good film ! [SEP] */
        CHECK(!strcmp(ds->class_names[0], "0") && !strcmp(ds->class_names[1], "1"));
        int32_t x[18], y;
        get(ds, 0, x, &y);
        int32_t want_ids[6] = {2, 5, 6, 7, 3, 0}, want_mask[6] = {1, 1, 1, 1, 1, 0};
        CHECK(y == 0 && !memcmp(x, want_ids, sizeof want_ids) && !memcmp(x + 6, want_mask, sizeof want_mask));
        bool ign = true;
        for (int k = 0; k < 6; k++) ign &= x[12 + k] == FT_IGNORE_INDEX;
        CHECK(ign);
        get(ds, 2, x, &y);
        CHECK(y == 1 && x[0] == 2 && x[1] == 10 && x[2] == 3 && x[3] == 0 && x[6 + 2] == 1 && x[6 + 3] == 0);
        ft_text_counts c;
        CHECK_OK(ft_text_dataset_counts(ds, &c));
        CHECK(c.rows == 3 && c.truncated == 0 && c.seq_len == 6);
        ft_dataset_free(ds);
    }
    /* no header: label, text; string labels sorted; CSV with quotes */
    ds = open_mem(FT_TASK_SEQ_CLS, "pos,\"good, very good\"\nneg,bad\n\"neg\",\"the \"\"cat\"\"\"\n", "b.csv", &o);
    if (ds) {
        CHECK(ds->n == 3 && ds->n_classes == 2 && !strcmp(ds->class_names[0], "neg") && !strcmp(ds->class_names[1], "pos"));
        int32_t x[3 * 16], y;
        get(ds, 0, x, &y);
        CHECK(y == 1 && x[1] == 10 && x[2] == 13 && x[3] == 16);
        get(ds, 2, x, &y);
        CHECK(y == 0);
        ft_dataset_free(ds);
    }
    /* header with text first, label second; CSV header named columns */
    ds = open_mem(FT_TASK_SEQ_CLS, "text,label\nthe cat,2\ngood,0\n", "c.csv", &o);
    if (ds) { CHECK(ds->n == 2 && ds->n_classes == 3); ft_dataset_free(ds); }
    /* JSONL, integer and string labels mixed -> names */
    ds = open_mem(FT_TASK_SEQ_CLS, "{\"text\": \"good film\", \"label\": 1}\n\n{\"sentence\": \"bad\", \"label\": 0}\n", "d.jsonl", &o);
    if (ds) { CHECK(ds->n == 2 && ds->n_classes == 2); ft_dataset_free(ds); }
    /* columns by name */
    ft_text_opts oc = o;
    oc.text_col = "body";
    oc.label_col = "y2";
    ds = open_mem(FT_TASK_SEQ_CLS, "id\ty2\tbody\n7\ta\tgood\n8\tb\tbad\n", "e.tsv", &oc);
    if (ds) { CHECK(ds->n == 2 && ds->n_classes == 2); ft_dataset_free(ds); }

    /* fixed label set (evaluation): unseen label -> file:line */
    const char *labs[2] = {"0", "1"};
    ft_text_opts of = o;
    of.labels = labs;
    of.n_labels = 2;
    expect_err(FT_TASK_SEQ_CLS, "label\tsentence\n0\tgood\n2\tbad\n", "dev.tsv", &of, FT_EINVAL,
               "dev.tsv:3: label '2' was not seen in training (labels: 0, 1)");
    ds = open_mem(FT_TASK_SEQ_CLS, "label\tsentence\n1\tgood\n", "dev.tsv", &of);
    if (ds) { CHECK(ds->n_classes == 2 && !strcmp(ds->class_names[1], "1")); ft_dataset_free(ds); }
    /* a row without a label, an empty label */
    expect_err(FT_TASK_SEQ_CLS, "label\tsentence\n0\tgood\nbad film\n", "f.tsv", &o, FT_EFORMAT, "f.tsv:3: row has no label");
    expect_err(FT_TASK_SEQ_CLS, "label\tsentence\n0\tgood\n\tbad film\n", "g.tsv", &o, FT_EFORMAT, "g.tsv:3: empty label");
    expect_err(FT_TASK_SEQ_CLS, "{\"text\": \"good\"}\n", "h.jsonl", &o, FT_EFORMAT, "h.jsonl:1: row has no label");
    expect_err(FT_TASK_SEQ_CLS, "{\"text\": \"good\", \"label\": 1}\n{oops\n", "i.jsonl", &o, FT_EFORMAT, "i.jsonl:2: not JSON");
    expect_err(FT_TASK_SEQ_CLS, "a,\"unterminated\n", "j.csv", &o, FT_EFORMAT, "j.csv:1: unterminated quoted field");
    expect_err(FT_TASK_SEQ_CLS, "label\tsentence\n", "k.tsv", &o, FT_EFORMAT, "k.tsv: no examples");
    expect_err(FT_TASK_SEQ_CLS, "", "l.tsv", &o, FT_EFORMAT, "no rows");
    ft_text_opts bad = o;
    bad.tok = NULL;
    expect_err(FT_TASK_SEQ_CLS, "0\tgood\n", "m.tsv", &bad, FT_EINVAL, "tokenizer");

    /* over-long rows: truncated to max_len, [SEP] kept, counted */
    ft_text_opts o4 = opts(t, 4);
    ds = open_mem(FT_TASK_SEQ_CLS, "0\tthe cat sat on the mat\n1\tgood\n", "n.tsv", &o4);
    if (ds) {
        int32_t x[12], y;
        get(ds, 0, x, &y);
        CHECK(ds->x_shape[1] == 4 && x[0] == 2 && x[1] == 5 && x[2] == 6 && x[3] == 3);
        ft_text_counts c;
        CHECK_OK(ft_text_dataset_counts(ds, &c));
        CHECK(c.truncated == 1);
        ft_dataset_free(ds);
    }
    /* invalid UTF-8: replaced with U+FFFD (which is in this vocabulary), counted, never a crash */
    ds = open_mem(FT_TASK_SEQ_CLS, "0\tgood \xff\xfe film\n1\tbad\xc3\n", "o.tsv", &o);
    if (ds) {
        ft_text_counts c;
        CHECK_OK(ft_text_dataset_counts(ds, &c));
        CHECK(c.invalid_utf8 == 2 && !strcmp(c.first_invalid, "o.tsv:1"));
        int32_t x[3 * 16], y;
        get(ds, 0, x, &y);
        CHECK(x[1] == 10 && x[2] == 12); /* good U+FFFD film: WordPiece drops U+FFFD, as BERT's clean_text */
        ft_dataset_free(ds);
    }
    /* the spec string picks the task; a mismatch is an error */
    ft_dataset *d2 = NULL;
    CHECK_ERR(ft_dataset_open_text("lm:x.txt", FT_TASK_SEQ_CLS, &o, &d2), FT_EINVAL);
    CHECK_ERR(ft_dataset_open_text("seq-cls:/nonexistent/x.tsv", FT_TASK_CLASSIFY, &o, &d2), FT_ENOTFOUND);
    CHECK_ERR(ft_dataset_open_text("/x.tsv", FT_TASK_CLASSIFY, &o, &d2), FT_EINVAL);
    CHECK(ft_text_spec_task("token-cls:a") == FT_TASK_TOKEN_CLS && ft_text_spec_task("csv:a") == FT_TASK_CLASSIFY);
    ft_tokenizer_free(t);
}

static void test_token_cls(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 32);
    /* the repo's layout: one sentence a line, word###TAG; "blackburn" -> black ##burn */
    const char *a = "EU###B-ORG rejects###O German###B-MISC call###O\nPeter###B-PER Blackburn###I-PER\n";
    ft_dataset *ds = open_mem(FT_TASK_TOKEN_CLS, a, "train.txt", &o);
    if (ds) {
        CHECK(ds->n == 2 && ds->task == FT_TASK_TOKEN_CLS && ds->n_classes == 5);
        CHECK(!strcmp(ds->class_names[0], "O") && !strcmp(ds->class_names[1], "B-MISC") && !strcmp(ds->class_names[4], "I-PER"));
        int32_t x[3 * 6], y;
        CHECK(ds->x_shape[1] == 6);
        get(ds, 1, x, &y); /* [CLS] peter black ##burn [SEP] pad */
        int32_t ids[6] = {2, 24, 25, 26, 3, 0}, tg[6] = {-100, 3, 4, -100, -100, -100};
        CHECK(!memcmp(x, ids, sizeof ids) && !memcmp(x + 12, tg, sizeof tg));
        get(ds, 0, x, &y);
        int32_t tg0[6] = {-100, 2, 0, 1, 0, -100};
        CHECK(!memcmp(x + 12, tg0, sizeof tg0));
        ft_dataset_free(ds);
    }
    /* the classic layout: token per line, tag last, blank lines, -DOCSTART- */
    const char *b = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n";
    ds = open_mem(FT_TASK_TOKEN_CLS, b, "classic.txt", &o);
    if (ds) {
        CHECK(ds->n == 2 && ds->n_classes == 4);
        int32_t x[3 * 5], y;
        CHECK(ds->x_shape[1] == 5);
        get(ds, 1, x, &y);
        CHECK(x[10 + 1] == 2 && x[10 + 2] == 3 && x[10 + 3] == -100);
        ft_dataset_free(ds);
    }
    /* rows without a tag, unseen tags at evaluation, truncation drops words */
    expect_err(FT_TASK_TOKEN_CLS, "EU###B-ORG rejects\n", "p.txt", &o, FT_EFORMAT, "p.txt:1: token 'rejects' is not word###TAG");
    expect_err(FT_TASK_TOKEN_CLS, "EU###B-ORG rejects###\n", "q.txt", &o, FT_EFORMAT, "q.txt:1:");
    expect_err(FT_TASK_TOKEN_CLS, "EU B-ORG\nrejects\n", "r.txt", &o, FT_EFORMAT, "r.txt:2: token 'rejects' has no tag");
    const char *tags[3] = {"O", "B-ORG", "I-ORG"};
    ft_text_opts of = o;
    of.labels = tags;
    of.n_labels = 3;
    expect_err(FT_TASK_TOKEN_CLS, "EU###B-ORG\nPeter###B-PER\n", "valid.txt", &of, FT_EINVAL, "valid.txt:2: label 'B-PER' was not seen in training");
    ft_text_opts o4 = opts(t, 4);
    ds = open_mem(FT_TASK_TOKEN_CLS, "EU###B-ORG rejects###O German###B-MISC call###O\n", "s.txt", &o4);
    if (ds) {
        ft_text_counts c;
        CHECK_OK(ft_text_dataset_counts(ds, &c));
        CHECK(c.truncated == 1 && c.words_dropped == 2);
        ft_dataset_free(ds);
    }
    ft_tokenizer_free(t);
}

static void test_lm(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 4);
    /* plain text: one document a line, [CLS] ... [SEP] around each for WordPiece */
    ft_dataset *ds = open_mem(FT_TASK_LM, "the cat sat\n\ngood film\n", "c.txt", &o);
    if (ds) {
        /* stream: 2 5 6 7 3 2 10 12 3 (9 tokens) -> 8 targets -> 2 blocks of 4 */
        CHECK(ds->n == 2 && ds->task == FT_TASK_LM && ds->x_shape[1] == 4);
        int32_t x[12], y;
        get(ds, 0, x, &y);
        int32_t ids[4] = {2, 5, 6, 7}, tg[4] = {5, 6, 7, 3};
        CHECK(!memcmp(x, ids, sizeof ids) && !memcmp(x + 8, tg, sizeof tg));
        get(ds, 1, x, &y);
        int32_t ids1[4] = {3, 2, 10, 12}, tg1[4] = {2, 10, 12, 3};
        CHECK(!memcmp(x, ids1, sizeof ids1) && !memcmp(x + 8, tg1, sizeof tg1));
        ft_dataset_free(ds);
    }
    ds = open_mem(FT_TASK_LM, "the cat sat on the mat\n", "d.txt", &o); /* 8 tokens, 7 targets: 2 blocks, the last partial */
    if (ds) {
        int32_t x[12], y;
        get(ds, 1, x, &y);
        CHECK(ds->n == 2 && x[0] == 8 && x[3] == 3 && x[4 + 3] == 1 && x[8 + 3] == -100 && x[8 + 2] == 3);
        ft_dataset_free(ds);
    }
    ds = open_mem(FT_TASK_LM, "label\tsentence\n0\tthe cat\n1\tgood\n", "e.tsv", &o); /* TSV: the text column */
    if (ds) {
        ft_text_counts c;
        CHECK_OK(ft_text_dataset_counts(ds, &c));
        CHECK(c.rows == 2 && c.tokens == 7);
        ft_dataset_free(ds);
    }
    ds = open_mem(FT_TASK_LM, "{\"text\": \"good film\"}\n", "f.jsonl", &o);
    if (ds) { CHECK(ds->n == 1); ft_dataset_free(ds); }
    expect_err(FT_TASK_LM, "\n\n", "g.txt", &o, FT_EFORMAT, "g.txt: no text");
    expect_err(FT_TASK_LM, "{\"txt\": 1}\n", "h.jsonl", &o, FT_EFORMAT, "h.jsonl:1: no text field");
    ft_tokenizer_free(t);
}

/* ---------------- metrics ---------------- */
static void run_case(json_t *c, int k) {
    ft_entity_counter *ec = NULL;
    CHECK_OK(ft_entity_counter_new(&ec));
    if (!ec) return;
    json_t *tr = json_object_get(c, "truth"), *pr = json_object_get(c, "pred");
    for (size_t s = 0; s < json_array_size(tr); s++) {
        json_t *ts = json_array_get(tr, s), *ps = json_array_get(pr, s);
        size_t n = json_array_size(ts);
        const char *tv[64], *pv[64];
        for (size_t i = 0; i < n && i < 64; i++) {
            tv[i] = json_string_value(json_array_get(ts, i));
            pv[i] = json_string_value(json_array_get(ps, i));
        }
        CHECK_OK(ft_entity_counter_add(ec, tv, pv, (int64_t)n));
    }
    ft_entity_metrics m;
    CHECK_OK(ft_entity_counter_result(ec, &m));
    json_t *types = json_object_get(c, "types");
    bool ok = m.n_types == (int)json_array_size(types) && m.tp == json_integer_value(json_object_get(c, "tp")) &&
              m.n_pred == json_integer_value(json_object_get(c, "n_pred")) &&
              m.n_true == json_integer_value(json_object_get(c, "n_true")) &&
              fabs(m.f1 - json_real_value(json_object_get(c, "f1"))) < 1e-12 &&
              fabs(m.precision - json_number_value(json_object_get(c, "precision"))) < 1e-12 &&
              fabs(m.recall - json_number_value(json_object_get(c, "recall"))) < 1e-12 &&
              fabs(m.macro_f1 - json_number_value(json_object_get(c, "macro_f1"))) < 1e-12;
    for (int i = 0; ok && i < m.n_types; i++) {
        json_t *e = json_array_get(types, (size_t)i);
        ok = !strcmp(m.types[i].type, json_string_value(json_object_get(e, "type"))) &&
             m.types[i].tp == json_integer_value(json_object_get(e, "tp")) &&
             m.types[i].n_pred == json_integer_value(json_object_get(e, "n_pred")) &&
             m.types[i].n_true == json_integer_value(json_object_get(e, "n_true")) &&
             fabs(m.types[i].f1 - json_number_value(json_object_get(e, "f1"))) < 1e-12;
    }
    CHECKF(ok, "seqeval case %d: f1 %.6f (tp %lld pred %lld true %lld, %d types) vs reference %.6f", k, m.f1,
           (long long)m.tp, (long long)m.n_pred, (long long)m.n_true, m.n_types, json_number_value(json_object_get(c, "f1")));
    ft_entity_metrics_free(&m);
    ft_entity_counter_free(ec);
}

static void test_seqeval(void) {
    /* hand case, seqeval's README: MISC missed (shifted start), PER right -> 0.5 */
    ft_entity_counter *ec = NULL;
    CHECK_OK(ft_entity_counter_new(&ec));
    const char *t1[] = {"O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"}, *p1[] = {"O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"};
    const char *t2[] = {"B-PER", "I-PER", "O"}, *p2[] = {"B-PER", "I-PER", "O"};
    CHECK_OK(ft_entity_counter_add(ec, t1, p1, 7));
    CHECK_OK(ft_entity_counter_add(ec, t2, p2, 3));
    ft_entity_metrics m;
    CHECK_OK(ft_entity_counter_result(ec, &m));
    CHECK(m.n_types == 2 && !strcmp(m.types[0].type, "MISC") && m.types[0].f1 == 0 && m.types[1].f1 == 1);
    CHECK(m.f1 == 0.5 && m.precision == 0.5 && m.recall == 0.5 && m.macro_f1 == 0.5);
    ft_entity_metrics_free(&m);
    ft_entity_counter_free(ec);
    /* empty: all zero, no NaN */
    CHECK_OK(ft_entity_counter_new(&ec));
    CHECK_OK(ft_entity_counter_result(ec, &m));
    CHECK(m.n_types == 0 && m.f1 == 0 && m.precision == 0);
    ft_entity_metrics_free(&m);
    ft_entity_counter_free(ec);

    json_error_t err;
    json_t *root = json_load_file("tests/fixtures/seqeval_ref.json", 0, &err);
    CHECKF(root != NULL, "tests/fixtures/seqeval_ref.json: %s", err.text);
    if (!root) return;
    json_t *cases = json_object_get(root, "cases");
    CHECK(json_array_size(cases) >= 60);
    for (size_t k = 0; k < json_array_size(cases); k++) run_case(json_array_get(cases, k), (int)k);
    json_decref(root);
}

static void test_macro_f1(void) {
    /* 3 classes: class 2 never true nor predicted -> excluded (sklearn over present labels) */
    int64_t c[9] = {3, 1, 0, 2, 4, 0, 0, 0, 0};
    double f0 = 2.0 * (3.0 / 5) * (3.0 / 4) / (3.0 / 5 + 3.0 / 4), f1v = 2.0 * (4.0 / 5) * (4.0 / 6) / (4.0 / 5 + 4.0 / 6);
    CHECK(fabs(ft_macro_f1(c, 3) - (f0 + f1v) / 2) < 1e-12);
    int64_t d[4] = {5, 0, 3, 0}; /* class 1 never predicted: F1 0, still counted */
    CHECK(fabs(ft_macro_f1(d, 2) - (2.0 * (5.0 / 8) * 1.0 / (5.0 / 8 + 1.0)) / 2) < 1e-12);
    ft_task tk;
    CHECK_OK(ft_task_parse("token-cls", &tk));
    CHECK(tk == FT_TASK_TOKEN_CLS);
    CHECK_ERR(ft_task_parse("ner", &tk), FT_EINVAL);
}

/* The real files, when ../shared is there: SST-2 dev and CoNLL valid open with the stories260K
 * tokenizer (llama2.c: BOS first, no [SEP]). */
static void test_shared(void) {
    const char *sh = t_shared("test_tasks real data");
    if (!sh) return;
    char p[1024];
    snprintf(p, sizeof p, "%s/models/stories260K/tok512.bin", sh);
    ft_tokenizer *t = NULL;
    CHECK_OK(ft_tokenizer_load_llama2c(p, &t));
    if (!t) return;
    ft_text_opts o = opts(t, 128);
    ft_dataset *ds = NULL;
    snprintf(p, sizeof p, "seq-cls:%s/data/sst2/dev.tsv", sh);
    CHECK_OK(ft_dataset_open_text(p, FT_TASK_CLASSIFY, &o, &ds));
    if (ds) {
        CHECK(ds->n == 872 && ds->n_classes == 2);
        int32_t *x = malloc(sizeof(int32_t) * (size_t)ds->x_numel), y;
        get(ds, 0, x, &y);
        CHECK(x[0] == 1 && y == 0 && x[ds->x_shape[1]] == 1);
        free(x);
        ft_dataset_free(ds);
    }
    snprintf(p, sizeof p, "token-cls:%s/data/conll2003/valid.txt", sh);
    CHECK_OK(ft_dataset_open_text(p, FT_TASK_CLASSIFY, &o, &ds));
    if (ds) {
        CHECK(ds->n == 3250 && ds->n_classes == 9 && !strcmp(ds->class_names[0], "O"));
        ft_dataset_free(ds);
    }
    ft_tokenizer_free(t);
}

/* Every allocation failure on the way through the readers: FT_ENOMEM or success, never a crash. */
static void test_oom(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 8);
    const char *data[3] = {"label\tsentence\n0\tthe cat sat on the mat\n1\tgood \xff film\n", "EU###B-ORG rejects###O\nPeter###B-PER Blackburn###I-PER\n",
                           "the cat sat\ngood film\n"};
    const char *names[3] = {"a.tsv", "b.txt", "c.txt"};
    ft_task tasks[3] = {FT_TASK_SEQ_CLS, FT_TASK_TOKEN_CLS, FT_TASK_LM};
    for (int k = 0; k < 3; k++) {
        bool ok = true, done = false;
        for (int64_t n = 0; n < 400 && !done; n++) {
            ft_dataset *ds = NULL;
            ft_alloc_fail_after(n);
            ft_status s = ft_dataset_text_mem(tasks[k], data[k], strlen(data[k]), names[k], &o, &ds);
            ft_alloc_fail_after(-1);
            if (s == FT_OK) done = true;
            else if (s != FT_ENOMEM) { ok = false; fprintf(stderr, "oom %s at %lld: %s\n", names[k], (long long)n, ft_errmsg()); break; }
            ft_dataset_free(ds);
        }
        CHECK(ok && done);
    }
    ft_tokenizer_free(t);
}

/* ---------------- training and evaluation through ft_train / ft_evaluate ---------------- */
static char tmpdir[] = "/tmp/ft_test_tasks_XXXXXX";

/* A tiny Llama over the test vocabulary (28 tokens). */
static ft_model *tiny_llama(void) {
    const char *cfg = "{\"arch\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32, \"num_hidden_layers\": 2,"
                      " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 28,"
                      " \"max_position_embeddings\": 32, \"tie_word_embeddings\": true}";
    ft_model *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &m));
    if (m) ft_model_init(m, 7);
    return m;
}

static ft_run_config run_cfg(const char *sub, int epochs) {
    static char out[4][256];
    static int k;
    ft_run_config c = ft_run_defaults();
    snprintf(out[k % 4], sizeof out[0], "%s/%s", tmpdir, sub);
    c.out_dir = out[k++ % 4];
    c.epochs = epochs;
    c.batch_size = 4;
    c.optim.lr = 1e-2f;
    c.workers = 0;
    c.progress = -1;
    return c;
}

static void test_train_seq_cls(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 16);
    const char *data = "label\tsentence\npos\tgood film\nneg\tbad film\npos\tvery good\nneg\tvery bad\npos\tthe good cat\n"
                       "neg\tthe bad cat\npos\tgood , good\nneg\tbad , bad\n";
    ft_dataset *ds = open_mem(FT_TASK_SEQ_CLS, data, "toy.tsv", &o);
    ft_model *base = tiny_llama(), *m = NULL;
    if (!ds || !base) return;
    /* an LM head cannot take seq-cls data */
    ft_eval_result r;
    memset(&r, 0, sizeof r);
    ft_status s = ft_evaluate(base, ds, 4, 0, &r);
    CHECKF(s == FT_EINVAL && strstr(ft_errmsg(), "the model's head is for lm"), "%s", ft_errmsg());
    CHECK_OK(ft_model_for_task(base, FT_TASK_SEQ_CLS, 2, false, 3, &m));
    if (m) {
        CHECK(ft_model_text_head(m) == FT_TASK_SEQ_CLS && m->n_classes == 2 && ft_params_find(m->params, "score.weight") >= 0 &&
              ft_params_find(m->params, "score.bias") < 0);
        /* the trunk is copied by name */
        int a = ft_params_find(base->params, "model.norm.weight"), b = ft_params_find(m->params, "model.norm.weight");
        CHECK(a >= 0 && b >= 0 && !memcmp(ft_params_value(base->params, a), ft_params_value(m->params, b), 16 * 4));
        ft_run_config c = run_cfg("seq", 30);
        ft_run_result res;
        CHECK_OK(ft_train(m, ds, ds, &c, &res));
        CHECK_OK(ft_evaluate(m, ds, 3, 0, &r));
        CHECKF(r.task == FT_TASK_SEQ_CLS && r.accuracy == 1.0 && r.macro_f1 == 1.0 && r.examples == 8, "accuracy %g", r.accuracy);
        CHECK(res.best_val_accuracy == 1.0);
        ft_eval_result_free(&r);
        /* the checkpoint reloads with its head */
        char p[300];
        snprintf(p, sizeof p, "%s/best.safetensors", c.out_dir);
        ft_model *back = NULL;
        CHECK_OK(ft_model_load(p, &back));
        if (back) {
            CHECK(ft_model_text_head(back) == FT_TASK_SEQ_CLS);
            CHECK_OK(ft_evaluate(back, ds, 8, 0, &r));
            CHECK(r.accuracy == 1.0);
            ft_eval_result_free(&r);
            ft_model_free(back);
        }
        ft_model_free(m);
    }
    ft_model_free(base);
    ft_dataset_free(ds);
    ft_tokenizer_free(t);
}

static void test_train_token_cls(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 16);
    const char *data = "peter###B-PER blackburn###I-PER sat###O\nthe###O cat###O sat###O on###O peter###B-PER\n"
                       "eu###B-ORG rejects###O german###B-MISC call###O\ngerman###B-MISC cat###O\n";
    ft_dataset *ds = open_mem(FT_TASK_TOKEN_CLS, data, "toy.txt", &o);
    ft_model *base = tiny_llama(), *m = NULL;
    if (!ds || !base) return;
    CHECK_OK(ft_model_for_task(base, FT_TASK_TOKEN_CLS, ds->n_classes, true, 3, &m));
    if (m) {
        CHECK(m->seq_bidirectional && ft_params_find(m->params, "score.bias") >= 0);
        ft_eval_result r;
        memset(&r, 0, sizeof r);
        ft_run_config c = run_cfg("tok", 40);
        ft_run_result res;
        CHECK_OK(ft_train(m, ds, ds, &c, &res));
        CHECK_OK(ft_evaluate(m, ds, 3, 0, &r));
        CHECKF(r.task == FT_TASK_TOKEN_CLS && r.entities.f1 == 1.0 && r.entities.n_true == 5 && r.n == 14 && r.accuracy == 1.0,
               "entity f1 %g (true %lld), tag accuracy %g over %lld", r.entities.f1, (long long)r.entities.n_true, r.accuracy,
               (long long)r.n);
        CHECK(r.entities.n_types == 3 && !strcmp(r.entities.types[0].type, "MISC"));
        ft_eval_result_free(&r);
        ft_model_free(m);
    }
    ft_model_free(base);
    ft_dataset_free(ds);
    ft_tokenizer_free(t);
}

static void test_train_lm(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 8);
    ft_dataset *ds = open_mem(FT_TASK_LM, "the cat sat on the mat\nthe cat sat on the mat\nvery good film\n", "toy.txt", &o);
    ft_model *m = tiny_llama();
    if (!ds || !m) return;
    ft_eval_result r0, r1;
    memset(&r0, 0, sizeof r0);
    memset(&r1, 0, sizeof r1);
    CHECK_OK(ft_evaluate(m, ds, 2, 0, &r0));
    CHECK(r0.task == FT_TASK_LM && r0.n == 20 && r0.confusion == NULL && fabs(r0.perplexity - exp(r0.loss)) < 1e-9);
    CHECKF(r0.perplexity > 15 && r0.perplexity < 45, "untrained perplexity %g (vocabulary 28)", r0.perplexity);
    ft_run_config c = run_cfg("lm", 30);
    ft_run_result res;
    CHECK_OK(ft_train(m, ds, ds, &c, &res));
    CHECK_OK(ft_evaluate(m, ds, 2, 0, &r1));
    CHECKF(r1.perplexity < 2.0, "trained perplexity %g", r1.perplexity);
    ft_eval_result_free(&r0);
    ft_eval_result_free(&r1);
    ft_model_free(m);
    ft_dataset_free(ds);
    ft_tokenizer_free(t);
}

/* BERT takes the same data: BertForTokenClassification from a bare BertModel config. */
static void test_bert_token_cls(void) {
    const char *cfg = "{\"model_type\": \"bert\", \"vocab_size\": 28, \"hidden_size\": 16, \"num_hidden_layers\": 1,"
                      " \"num_attention_heads\": 2, \"intermediate_size\": 32, \"max_position_embeddings\": 32,"
                      " \"hidden_dropout_prob\": 0.0}";
    ft_model *base = NULL, *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &base));
    if (!base) return;
    ft_model_init(base, 5);
    CHECK(ft_model_text_head(base) == FT_TASK_CLASSIFY);
    CHECK_ERR(ft_model_for_task(base, FT_TASK_LM, 0, false, 1, &m), FT_EUNSUPPORTED);
    CHECK_ERR(ft_model_for_task(base, FT_TASK_TOKEN_CLS, 3, true, 1, &m), FT_EUNSUPPORTED);
    CHECK_OK(ft_model_for_task(base, FT_TASK_TOKEN_CLS, 3, false, 1, &m));
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 16);
    ft_dataset *ds = open_mem(FT_TASK_TOKEN_CLS, "peter###B-PER sat###O\neu###B-ORG sat###O\n", "b.txt", &o);
    if (m && ds) {
        CHECK(ft_model_text_head(m) == FT_TASK_TOKEN_CLS && ft_params_find(m->params, "classifier.weight") >= 0);
        ft_eval_result r;
        memset(&r, 0, sizeof r);
        CHECK_OK(ft_evaluate(m, ds, 2, 0, &r));
        CHECK(r.n == 4 && r.examples == 2);
        ft_eval_result_free(&r);
    }
    ft_dataset_free(ds);
    ft_model_free(m);
    ft_model_free(base);
    ft_tokenizer_free(t);
}

/* GPT-2's own sequence-classification head (score.*, pooled at the last real token) on text data. */
static void test_gpt2_seq_cls(void) {
    const char *cfg = "{\"model_type\": \"gpt2\", \"vocab_size\": 28, \"n_positions\": 32, \"n_embd\": 16, \"n_layer\": 1,"
                      " \"n_head\": 2, \"resid_pdrop\": 0.0, \"embd_pdrop\": 0.0}";
    ft_model *base = NULL, *m = NULL;
    CHECK_OK(ft_model_from_config(cfg, &base));
    if (!base) return;
    ft_model_init(base, 5);
    CHECK(ft_model_text_head(base) == FT_TASK_LM);
    CHECK_ERR(ft_model_for_task(base, FT_TASK_TOKEN_CLS, 3, false, 1, &m), FT_EUNSUPPORTED);
    CHECK_OK(ft_model_for_task(base, FT_TASK_SEQ_CLS, 2, false, 1, &m));
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 16);
    ft_dataset *ds = open_mem(FT_TASK_SEQ_CLS, "1\tgood film\n0\tbad\n1\tvery good\n0\tvery bad film !\n", "g.tsv", &o);
    if (m && ds) {
        CHECK(ft_model_text_head(m) == FT_TASK_SEQ_CLS && ft_params_find(m->params, "score.weight") >= 0);
        ft_run_config c = run_cfg("gpt2", 30);
        ft_run_result res;
        CHECK_OK(ft_train(m, ds, NULL, &c, &res));
        ft_eval_result r;
        memset(&r, 0, sizeof r);
        CHECK_OK(ft_evaluate(m, ds, 3, 0, &r)); /* batch 3: padding differs between batches */
        CHECKF(r.accuracy == 1.0 && r.n == 4, "gpt2 seq-cls accuracy %g", r.accuracy);
        ft_eval_result_free(&r);
    }
    ft_dataset_free(ds);
    ft_model_free(m);
    ft_model_free(base);
    ft_tokenizer_free(t);
}


/* ---------------- padding per batch ---------------- */
/* The step losses of a run (metrics.jsonl lines with "loss"). */
static int read_step_losses(const char *dir, double *loss, int cap) {
    char p[400];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *l = json_object_get(j, "loss");
        if (l) loss[n++] = json_number_value(l);
        json_decref(j);
    }
    fclose(f);
    return n;
}

static bool close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b))); }

typedef struct {
    const char *name;
    ft_task task;
    const char *arch; /* "llama", "bert", "gpt2" */
    bool bidirectional;
} pad_case;

static ft_model *pad_model(const pad_case *pc, int n_labels) {
    ft_model *base = NULL, *m = NULL;
    if (!strcmp(pc->arch, "llama")) base = tiny_llama();
    else if (!strcmp(pc->arch, "bert"))
        CHECK_OK(ft_model_from_config("{\"model_type\": \"bert\", \"vocab_size\": 28, \"hidden_size\": 16, \"num_hidden_layers\": 1,"
                                      " \"num_attention_heads\": 2, \"intermediate_size\": 32, \"max_position_embeddings\": 32,"
                                      " \"hidden_dropout_prob\": 0.0}", &base));
    else
        CHECK_OK(ft_model_from_config("{\"model_type\": \"gpt2\", \"vocab_size\": 28, \"n_positions\": 32, \"n_embd\": 16, \"n_layer\": 1,"
                                      " \"n_head\": 2, \"resid_pdrop\": 0.0, \"embd_pdrop\": 0.0}", &base));
    if (!base) return NULL;
    if (strcmp(pc->arch, "llama")) ft_model_init(base, 5);
    if (pc->task == FT_TASK_LM) return base;
    CHECK_OK(ft_model_for_task(base, pc->task, n_labels, pc->bidirectional, 3, &m));
    ft_model_free(base);
    return m;
}

/* The same rows padded to the dataset's longest row or to each batch's own (exactly, or rounded
 * up to 8) give the same loss and metrics, in evaluation and step by step in training, for causal
 * and bidirectional Llama, BERT and GPT-2; only the positions computed differ. */
static void test_dynamic_padding(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 24);
    const char *seq = "label\tsentence\npos\tgood\nneg\tbad film\npos\tvery good , very good , the good film , very good cat !\n"
                      "neg\tbad\npos\tgood film !\nneg\tthe bad cat sat on the mat , very bad\npos\tvery good\nneg\tunfun\n"
                      "pos\tgood\nneg\tbad , bad\n";
    const char *tok = "peter###B-PER sat###O\neu###B-ORG rejects###O german###B-MISC call###O on###O the###O mat###O ,###O "
                      "peter###B-PER blackburn###I-PER sat###O on###O the###O cat###O\ngerman###B-MISC\n"
                      "the###O cat###O sat###O\neu###B-ORG\npeter###B-PER blackburn###I-PER\n";
    const char *lm = "the cat sat on the mat\nvery good film\ngood\nthe bad cat , very bad\nfilm\n"; /* 27 tokens: blocks 8, 8, 8, 3 */
    ft_dataset *dseq = open_mem(FT_TASK_SEQ_CLS, seq, "pad.tsv", &o);
    ft_dataset *dtok = open_mem(FT_TASK_TOKEN_CLS, tok, "pad.txt", &o);
    ft_text_opts o8 = opts(t, 8);
    ft_dataset *dlm = open_mem(FT_TASK_LM, lm, "pad_lm.txt", &o8);
    if (!dseq || !dtok || !dlm) return;
    CHECK(dseq->x_shape[1] >= 12 && dtok->x_shape[1] >= 12 && dlm->n == 4); /* the longest rows; most are far shorter */
    const pad_case cases[] = {
        {"llama seq-cls", FT_TASK_SEQ_CLS, "llama", false},
        {"llama token-cls bidirectional", FT_TASK_TOKEN_CLS, "llama", true},
        {"bert token-cls", FT_TASK_TOKEN_CLS, "bert", false},
        {"bert seq-cls", FT_TASK_SEQ_CLS, "bert", false},
        {"gpt2 seq-cls", FT_TASK_SEQ_CLS, "gpt2", false},
        {"llama lm", FT_TASK_LM, "llama", false},
    };
    const ft_text_batching modes[4] = {{true, 0, false}, {false, 1, false}, {false, 0, false}, {false, 1, true}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const pad_case *pc = &cases[k];
        ft_dataset *ds = pc->task == FT_TASK_SEQ_CLS ? dseq : pc->task == FT_TASK_TOKEN_CLS ? dtok : dlm;
        /* evaluation: padded to the dataset in file order vs per batch, longest first */
        ft_model *m = pad_model(pc, ds->n_classes);
        if (!m) continue;
        ft_eval_result r[3];
        memset(r, 0, sizeof r);
        for (int v = 0; v < 3; v++) CHECK_OK(ft_evaluate_text_batching(m, ds, 3, 0, &modes[v], &r[v]));
        for (int v = 1; v < 3; v++)
            CHECKF(close_rel(r[v].loss, r[0].loss, 2e-6) && r[v].n == r[0].n && r[v].correct == r[0].correct &&
                   r[v].macro_f1 == r[0].macro_f1 && r[v].entities.f1 == r[0].entities.f1 && r[v].examples == r[0].examples,
                   "%s: eval padded per batch (mode %d): loss %.9g, %lld/%lld correct vs padded to the dataset %.9g, %lld/%lld",
                   pc->name, v, r[v].loss, (long long)r[v].correct, (long long)r[v].n, r[0].loss, (long long)r[0].correct,
                   (long long)r[0].n);
        for (int v = 0; v < 3; v++) ft_eval_result_free(&r[v]);
        ft_model_free(m);
        /* training: the same batches (same seed) give the same loss at every step */
        double loss[4][64];
        int nl[4];
        ft_run_result res[4];
        for (int v = 0; v < 4; v++) {
            m = pad_model(pc, ds->n_classes);
            if (!m) return;
            char sub[64];
            snprintf(sub, sizeof sub, "pad%zu_%d", k, v);
            ft_run_config c = run_cfg(sub, 2);
            c.batch_size = pc->task == FT_TASK_LM ? 1 : 2; /* batches of one size: grouping can only save */
            c.text = modes[v];
            CHECK_OK(ft_train(m, ds, NULL, &c, &res[v]));
            nl[v] = read_step_losses(c.out_dir, loss[v], 64);
            ft_model_free(m);
        }
        for (int v = 1; v < 3; v++) {
            bool same = nl[v] == nl[0] && nl[0] >= 6;
            int bad = -1;
            for (int i = 0; same && i < nl[0]; i++)
                if (!close_rel(loss[v][i], loss[0][i], 1e-4)) { same = false; bad = i; }
            CHECKF(same, "%s: training padded per batch (mode %d): %d steps vs %d; step %d loss %.9g vs %.9g", pc->name, v, nl[v], nl[0],
                   bad + 1, bad >= 0 ? loss[v][bad] : 0.0, bad >= 0 ? loss[0][bad] : 0.0);
            CHECK(res[v].real_tokens == res[0].real_tokens && res[v].steps == res[0].steps);
        }
        /* the work differs: padded per batch computes fewer positions (lm: only its last block is short) */
        CHECKF(res[1].positions < res[0].positions && res[2].positions <= res[0].positions && res[1].positions <= res[2].positions &&
               res[0].positions == 2 * ds->n * ds->x_shape[1],
               "%s: positions %lld (dataset), %lld (exact), %lld (x8)", pc->name, (long long)res[0].positions,
               (long long)res[1].positions, (long long)res[2].positions);
        /* grouped by length: every row once per epoch, never more positions than the ungrouped exact run */
        CHECKF(res[3].real_tokens == res[1].real_tokens && res[3].positions <= res[1].positions && nl[3] == nl[1],
               "%s: grouped by length: %lld real tokens in %lld positions vs %lld in %lld", pc->name, (long long)res[3].real_tokens,
               (long long)res[3].positions, (long long)res[1].real_tokens, (long long)res[1].positions);
    }
    ft_text_batching bad = {false, -1, false};
    ft_run_config c = run_cfg("padbad", 1);
    c.text = bad;
    ft_model *m = tiny_llama();
    ft_run_result rr;
    CHECK_ERR(ft_train(m, dlm, NULL, &c, &rr), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "pad multiple") != NULL);
    ft_model_free(m);
    ft_dataset_free(dseq);
    ft_dataset_free(dtok);
    ft_dataset_free(dlm);
    ft_tokenizer_free(t);
}


/* Issue #4's bad inputs not covered above: invalid UTF-8 in every format (CoNLL in both layouts,
 * plain-text and JSONL LM data, JSONL seq-cls) is replaced with U+FFFD and counted, never an
 * error or a crash; rows longer than the model's positions are refused with a message. */
static void test_bad_text_inputs(void) {
    ft_tokenizer *t = wp();
    ft_text_opts o = opts(t, 16);
    struct { ft_task task; const char *text, *name, *first; int64_t n_bad; } cases[] = {
        {FT_TASK_TOKEN_CLS, "peter###B-PER s\xfft###O\neu###B-ORG\n", "u1.txt", "u1.txt:1", 1},
        {FT_TASK_TOKEN_CLS, "peter B-PER\ns\xe2\x82t O\n\neu\xc0 B-ORG\n", "u2.txt", "u2.txt:2", 2},
        {FT_TASK_TOKEN_CLS, "peter###B-\xffPER sat###O\n", "u3.txt", "u3.txt:1", 1}, /* in a tag: the tag's name */
        {FT_TASK_LM, "the cat \xed\xa0\x80 sat\ngood\n", "u4.txt", "u4.txt:1", 1},
        {FT_TASK_LM, "{\"text\": \"good\"}\n{\"text\": \"the \xf8\x88\x80\x80\x80 cat\"}\n", "u5.jsonl", "u5.jsonl:2", 1},
        {FT_TASK_SEQ_CLS, "{\"text\": \"bad \xff film\", \"label\": 0}\n{\"text\": \"good\", \"label\": \"1\xc3\"}\n", "u6.jsonl", "u6.jsonl:1", 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ft_dataset *ds = NULL;
        ft_status s = ft_dataset_text_mem(cases[k].task, cases[k].text, strlen(cases[k].text), cases[k].name, &o, &ds);
        CHECKF(s == FT_OK, "%s: %s", cases[k].name, ft_errmsg());
        if (!ds) continue;
        ft_text_counts c;
        CHECK_OK(ft_text_dataset_counts(ds, &c));
        CHECKF(c.invalid_utf8 == cases[k].n_bad && !strcmp(c.first_invalid, cases[k].first), "%s: %lld rows with invalid UTF-8, first %s",
               cases[k].name, (long long)c.invalid_utf8, c.first_invalid);
        ft_dataset_free(ds);
    }
    /* a JSONL line that is not JSON for other reasons still fails with its line */
    expect_err(FT_TASK_SEQ_CLS, "{\"text\": \"good\", \"label\": 1}\n{\"text\": \"b\xff\", \"label\": 0\n", "u7.jsonl", &o, FT_EFORMAT,
               "u7.jsonl:2: not JSON");
    /* rows longer than the model's positions (32) never reach it: a message, not a crash */
    ft_text_opts o64 = opts(t, 64);
    char longrow[400] = "label\tsentence\n0\tgood\n1\t";
    for (int i = 0; i < 40; i++) strcat(longrow, "cat ");
    strcat(longrow, "\n");
    ft_dataset *ds = open_mem(FT_TASK_SEQ_CLS, longrow, "long.tsv", &o64);
    ft_model *base = tiny_llama(), *m = NULL;
    if (ds && base) CHECK_OK(ft_model_for_task(base, FT_TASK_SEQ_CLS, 2, false, 1, &m));
    if (ds && m) {
        CHECK(ds->x_shape[1] == 42);
        ft_eval_result r;
        memset(&r, 0, sizeof r);
        CHECK_ERR(ft_evaluate(m, ds, 2, 0, &r), FT_EINVAL);
        CHECKF(strstr(ft_errmsg(), "has sequences of 42 tokens but the model takes at most 32 (lower --max-len)") != NULL, "%s",
               ft_errmsg());
        ft_run_config c = run_cfg("long", 1);
        ft_run_result res;
        CHECK_ERR(ft_train(m, ds, NULL, &c, &res), FT_EINVAL);
    }
    ft_model_free(m);
    ft_model_free(base);
    ft_dataset_free(ds);
    ft_tokenizer_free(t);
    /* a missing tokenizer file, of every kind: FT_ENOTFOUND naming the file */
    ft_tokenizer *tk = NULL;
    CHECK_ERR(ft_tokenizer_load_wordpiece("/nonexistent/vocab.txt", true, &tk), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "/nonexistent/vocab.txt") != NULL);
    CHECK_ERR(ft_tokenizer_load_llama2c("/nonexistent/tok512.bin", &tk), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "/nonexistent/tok512.bin") != NULL);
    CHECK_ERR(ft_tokenizer_load_hf_json("/nonexistent/tokenizer.json", &tk), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "/nonexistent/tokenizer.json") != NULL);
    CHECK_ERR(ft_tokenizer_load_bpe("/nonexistent/vocab.json", "/nonexistent/merges.txt", &tk), FT_ENOTFOUND);
    CHECK(strstr(ft_errmsg(), "/nonexistent/") != NULL);
    CHECK_ERR(ft_tokenizer_load_dir("/nonexistent", &tk), FT_ENOTFOUND);
    CHECK(tk == NULL);
}

int main(void) {
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_train_seq_cls();
    test_train_token_cls();
    test_train_lm();
    test_bert_token_cls();
    test_gpt2_seq_cls();
    test_dynamic_padding();
    test_bad_text_inputs();
    test_oom();
    test_seq_cls();
    test_token_cls();
    test_lm();
    test_seqeval();
    test_macro_f1();
    test_shared();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_END();
}
