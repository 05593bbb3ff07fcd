/* Chaining graph models (ft_model_chain): the chain computes second(glue(first(x))) exactly,
 * names are prefixed (both models name their weight "fc.weight"), values are copied, the
 * second model's head and labels carry over, a tail replaces them, the chain trains and
 * exports like any graph model, and bad inputs fail with a clear message. */
#include "test.h"

/* first: [4] -> linear 6 -> relu; second: [2, 3] -> flatten -> linear 3 (its head, labels). */
static const char *cfg_a =
    "{\"arch\":\"graph\",\"input\":{\"shape\":[4]},\"preprocess\":{\"sample_rate\":16000},"
    "\"params\":[{\"name\":\"fc.weight\",\"shape\":[6,4]},{\"name\":\"fc.bias\",\"shape\":[6]}],"
    "\"nodes\":[{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"input\"],\"params\":[\"fc.weight\",\"fc.bias\"]},"
    "{\"name\":\"act\",\"op\":\"relu\",\"inputs\":[\"fc\"]}],\"source\":{\"format\":\"test-a\"}}";
static const char *cfg_b =
    "{\"arch\":\"graph\",\"input\":{\"shape\":[2,3],\"name\":\"feats\"},"
    "\"preprocess\":{\"labels\":[\"x\",\"y\",\"z\"]},"
    "\"params\":[{\"name\":\"fc.weight\",\"shape\":[3,6]},{\"name\":\"fc.bias\",\"shape\":[3]}],"
    "\"nodes\":[{\"name\":\"flat\",\"op\":\"flatten\",\"inputs\":[\"feats\"]},"
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"flat\"],\"params\":[\"fc.weight\",\"fc.bias\"]}],"
    "\"head\":{\"node\":\"fc\",\"params\":[\"fc.weight\",\"fc.bias\"]}}";

int main(void) {
    ft_model *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(ft_model_from_config(cfg_a, &a));
    CHECK_OK(ft_model_from_config(cfg_b, &b));
    if (!a || !b) TEST_END();
    ft_model_init(a, 1);
    ft_model_init(b, 2);
    ft_chain_opts o = {"front", "net", "[{\"name\":\"glue\",\"op\":\"scale\",\"inputs\":[\"first\"],\"attrs\":{\"a\":0.5,\"b\":1}},"
                                       "{\"name\":\"glue2\",\"op\":\"reshape\",\"inputs\":[\"glue\"],\"attrs\":{\"shape\":[2,3]}}]", NULL};
    CHECK_OK(ft_model_chain(a, b, &o, &c));
    if (!c) TEST_END();
    CHECK(c->n_classes == 3 && c->in_ndim == 1 && c->in_shape[0] == 4);
    CHECK(ft_params_find(c->params, "front.fc.weight") >= 0 && ft_params_find(c->params, "net.fc.weight") >= 0);
    CHECK(c->head_patterns && strstr(c->head_patterns, "net.fc.weight"));
    char **labels = ft_model_labels(c);
    CHECK(labels && !strcmp(labels[2], "z"));
    ft_model_labels_free(labels, c->n_classes);
    CHECK(strstr(c->config_json, "\"sample_rate\": 16000") && strstr(c->config_json, "\"chain\""));
    /* chain(x) == b(0.5 * a(x) + 1) */
    float x[3 * 4], ya[3 * 6], yb[3 * 3], yc[3 * 3];
    for (int i = 0; i < 12; i++) x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
    CHECK_OK(t_model_forward(a, x, 3, ya, NULL));
    for (int i = 0; i < 18; i++) ya[i] = 0.5f * ya[i] + 1.0f;
    CHECK_OK(t_model_forward(b, ya, 3, yb, NULL));
    CHECK_OK(t_model_forward(c, x, 3, yc, NULL));
    CHECK(t_close(yc, yb, 9, 1e-6, 1e-6, "chain vs the two models"));
    /* Freezing the front by glob; a new head keeps the chain intact. */
    CHECK_OK(ft_model_select_trainable(c, NULL, "front.*"));
    CHECK(ft_params_count(c->params, true) == 3 * 6 + 3);
    ft_model *c5 = NULL;
    CHECK_OK(ft_model_replace_head(c, 5, 3, &c5));
    CHECK(c5 && c5->n_classes == 5);
    ft_model_free(c5);
    ft_model_free(c);
    c = NULL;

    /* A tail after the second model: its output, doubled; no head, no labels then. */
    o.tail = "[{\"name\":\"twice\",\"op\":\"scale\",\"inputs\":[\"second\"],\"attrs\":{\"a\":2}}]";
    CHECK_OK(ft_model_chain(a, b, &o, &c));
    if (c) {
        float yt[9];
        CHECK_OK(t_model_forward(c, x, 3, yt, NULL));
        for (int i = 0; i < 9; i++) yb[i] *= 2;
        CHECK(t_close(yt, yb, 9, 1e-6, 1e-6, "tail"));
        CHECK(!strstr(c->config_json, "\"labels\""));
        ft_model_free(c);
        c = NULL;
    }
    o.tail = NULL;

    /* Errors. */
    ft_chain_opts none = {NULL, "", NULL, NULL};
    CHECK_ERR(ft_model_chain(a, b, &none, &c), FT_EINVAL);
    CHECK(strstr(ft_errmsg(), "prefix"));
    ft_chain_opts badglue = {"front", "net", "[{\"name\":\"r\",\"op\":\"reshape\",\"inputs\":[\"first\"],\"attrs\":{\"shape\":[5]}}]", NULL};
    CHECK(ft_model_chain(a, b, &badglue, &c) != FT_OK && c == NULL);
    CHECKF(strstr(ft_errmsg(), "chain") && strstr(ft_errmsg(), "'r'"), "%s", ft_errmsg());
    ft_chain_opts badjson = {"front", "net", "[{", NULL};
    CHECK_ERR(ft_model_chain(a, b, &badjson, &c), FT_EFORMAT);
    CHECK(strstr(ft_errmsg(), "glue"));
    ft_model *mlp = NULL;
    CHECK_OK(ft_model_from_config("{\"arch\":\"mlp\",\"in_features\":4,\"hidden\":[],\"n_classes\":6}", &mlp));
    if (mlp) {
        CHECK_ERR(ft_model_chain(mlp, b, &o, &c), FT_EUNSUPPORTED);
        CHECK(strstr(ft_errmsg(), "mlp"));
        ft_model_free(mlp);
    }
    ft_model_free(a);
    ft_model_free(b);
    TEST_END();
}
