/* The v0.3 reader (common/config_v03.c) and the decisions (common/decisions.c):
 *   - files: tests/config/v03/routing.yaml loads with what it says;
 *   - errors: unsupported and bad keys refused at their line:col with the
 *     key's path; --allow-unsupported: a warning each, the decisions that
 *     need a refused signal dropped;
 *   - eval: AND / OR / NOT, keyword OR / AND / NOR, whole words and
 *     phrases, case sensitivity, regex, non-word keywords, domains by
 *     mmlu_categories, jailbreak and PII thresholds and allowed types,
 *     priority order (file order among equals), matched keywords.
 * usage: test_v03 GROUP ROUTING_YAML */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/config_v03.h"
#include "common/decisions.h"
#include "tests/check.h"

static const char *const head = "version: v0.3\n"
                                "providers:\n"
                                "  defaults: {default_model: a}\n"
                                "  models:\n"
                                "    - name: a\n"
                                "      backend_refs: [{endpoint: \"127.0.0.1:9001\"}]\n"
                                "    - name: b\n"
                                "      backend_refs: [{endpoint: \"127.0.0.1:9002\"}]\n";

static int load(const char *body, struct sy_config **cfg, char *err, size_t errlen) {
        char y[8192];

        snprintf(y, sizeof y, "%s%s", head, body);
        return sy_config_load_string("t.yaml", y, strlen(y), cfg, err, errlen);
}

/* body must be refused with "t.yaml:LINE:COL: ..." containing what */
static void refused(const char *body, unsigned line, unsigned col, const char *what) {
        struct sy_config *cfg = NULL;
        char err[1024], want[64];
        int r = load(body, &cfg, err, sizeof err);

        snprintf(want, sizeof want, "t.yaml:%u:%u: ", line, col);
        CHECK(r < 0);
        if (r >= 0) {
                sy_config_free(cfg);
                fprintf(stderr, "  loaded: %s\n", body);
                return;
        }
        if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
                fprintf(stderr, "  want %s...%s\n  got  %s\n", want, what, err);
        CHECK(strncmp(err, want, strlen(want)) == 0);
        CHECK(strstr(err, what) != NULL);
}

static int group_files(const char *path) {
        struct sy_config *cfg;
        char err[1024];
        const struct sy_v03 *v;

        check(sy_config_load(path, &cfg, err, sizeof err) == 0 || (fprintf(stderr, "%s\n", err), 0));
        v = cfg->v03;
        check(v != NULL);
        CHECK_EQ(cfg->n_upstreams, 2);
        CHECK_EQ(cfg->server.port, 8801);
        CHECK_EQ(cfg->proxy.first_byte_timeout_ms, 120000);
        CHECK_STR(cfg->default_model, "small-model");
        CHECK_STR(cfg->router.policy, "least_request");
        CHECK_EQ(cfg->proxy.max_retries, 1);
        CHECK_EQ(cfg->router.passive_failures, 2);
        CHECK_EQ(cfg->router.ejection_ms, 3000);
        CHECK_EQ(cfg->health.interval_ms, 200);
        CHECK_EQ(cfg->upstreams[0].weight, 3);
        CHECK_STR(sy_v03_find_model(v, "small-model")->provider_model_id, "small-model-instruct");
        CHECK_EQ(sy_v03_find_model(v, "big-model")->context_window, 131072);
        CHECK_EQ(v->n_decisions, 4);
        CHECK_STR(v->decisions[0].name, "block_attacks");
        CHECK_STR(v->decisions[3].name, "math_not_code");
        CHECK(v->decisions[0].fast_response != NULL);
        CHECK(v->uses_domain && v->uses_jailbreak && v->uses_pii);
        CHECK(cfg->classifier.enabled);
        CHECK_STR(cfg->rate_limits.client_header, "x-user-id");
        CHECK_EQ(cfg->rate_limits.requests_per_minute, 600);
        CHECK_EQ(v->n_limits, 2);
        CHECK_EQ(cfg->n_categories, 2);
        sy_config_free(cfg);
        return check_done("v03-files");
}

static int group_errors(void) {
        /* head is 8 lines: the body starts at line 9 */
        refused("semantic_cache: {enabled: true}\n", 9, 1, "semantic_cache: semantic cache is not supported");
        refused("routing:\n  signals:\n    embeddings: []\n", 11, 5,
                "routing.signals.embeddings: embedding signals are not supported");
        refused("routing:\n  decisions:\n    - name: d\n      rules: {type: fact_check, name: x}\n"
                "      modelRefs: [{model: a}]\n",
                12, 21, "conditions of type 'fact_check' are not supported");
        refused("routing:\n  decisions:\n    - name: d\n      rules: {type: keyword, name: nope}\n"
                "      modelRefs: [{model: a}]\n",
                12, 36, "no keyword signal named 'nope'");
        refused("routing:\n  decisions:\n    - name: d\n      rules: {operator: XOR, conditions: []}\n"
                "      modelRefs: [{model: a}]\n",
                12, 25, "expected AND, OR or NOT");
        refused("routing:\n  decisions:\n    - name: d\n      rules: {operator: AND, conditions: []}\n", 11, 7,
                "has no modelRefs and no fast_response");
        refused("routing:\n  decisions:\n    - {name: d, rules: {operator: AND, conditions: []}, modelRefs: "
                "[{model: a}]}\n    - {name: d, rules: {operator: AND, conditions: []}, modelRefs: [{model: a}]}\n",
                12, 14, "decision 'd' given twice");
        refused("routing:\n  signals:\n    keywords:\n      - {name: k, keywords: [\"(\"], method: regex}\n", 12, 9,
                "not a POSIX extended regex");
        refused("routing:\n  signals:\n    keywords:\n      - {name: k, keywords: [x], method: bm25}\n", 12, 42,
                "keyword method 'bm25' is not supported");
        refused("routing:\n  signals:\n    jailbreak:\n      - {name: j, method: contrastive}\n", 12, 19,
                "'method' is not supported");
        refused("global:\n  services:\n    ratelimit:\n      providers:\n        - type: envoy-ratelimit\n", 13, 17,
                "only the local-limiter provider is supported");
        refused("global:\n  services:\n    ratelimit:\n      providers:\n        - type: local-limiter\n"
                "          rules: [{match: {group: g}, requests_per_unit: 5}]\n",
                14, 28, "no groups");
        refused("global:\n  services:\n    ratelimit:\n      providers:\n        - type: local-limiter\n"
                "          rules: [{requests_per_unit: 5, unit: hour}]\n",
                14, 48, "per minute");
        refused("listeners:\n  - {port: 8080, api_keys: [k]}\n", 10, 18, "listener API keys are not checked");
        refused("routing:\n  modelCards:\n    - {name: a, context_window_size: lots}\n", 11, 38, "context_window_size");
        return check_done("v03-errors");
}

static int group_allow(void) {
        struct sy_config *cfg;
        char err[1024];
        int r;

        setenv(SY_ALLOW_UNSUPPORTED_ENV, "1", 1);
        r = load("routing:\n  signals:\n    keywords:\n      - {name: k, keywords: [x], method: bm25}\n"
                 "      - {name: ok, keywords: [y]}\n"
                 "  decisions:\n"
                 "    - {name: needs_k, rules: {type: keyword, name: k}, modelRefs: [{model: a}]}\n"
                 "    - {name: fine, rules: {type: keyword, name: ok}, modelRefs: [{model: b}],\n"
                 "       plugins: [{type: semantic_cache}]}\n"
                 "semantic_cache: {enabled: true}\n",
                 &cfg, err, sizeof err);
        unsetenv(SY_ALLOW_UNSUPPORTED_ENV);
        check(r == 0 || (fprintf(stderr, "%s\n", err), 0));
        CHECK_EQ(cfg->v03->n_decisions, 1);
        CHECK_STR(cfg->v03->decisions[0].name, "fine");
        CHECK_EQ(cfg->v03->n_refused, 3); /* the method, the plugin, the top-level key */
        CHECK(cfg->n_warnings >= 4);      /* and the decision dropped */
        sy_config_free(cfg);
        return check_done("v03-allow");
}

static int decide(struct sy_config *cfg, const char *text, const char *cat, float jb, const float *pii, char *matched) {
        static const char *const types[] = { "PERSON", "EMAIL_ADDRESS", "US_SSN" };
        static const float none[3];
        struct sy_dec_state *st;
        struct sy_dec_input in = { text, strlen(text), cat, jb, pii ? pii : none, types, 3 };
        char m[256];
        int d;

        check(sy_dec_state_new(cfg->v03, &st) == 0);
        d = sy_decide(cfg->v03, st, &in, matched ? matched : m, 256);
        sy_dec_state_free(st);
        return d;
}

static const char *name_of(struct sy_config *cfg, int d) {
        return d < 0 ? "(none)" : cfg->v03->decisions[d].name;
}

#define DECIDES(cfg, text, cat, jb, pii, want) CHECK_STR(name_of(cfg, decide(cfg, text, cat, jb, pii, NULL)), want)

static int group_eval(void) {
        static const char *const body =
                "routing:\n"
                "  signals:\n"
                "    keywords:\n"
                "      - {name: code, operator: OR, keywords: [code, \"stack trace\", \"c++\"]}\n"
                "      - {name: both, operator: AND, keywords: [URGENT, prod], case_sensitive: true}\n"
                "      - {name: polite, operator: NOR, keywords: [please, thanks]}\n"
                "      - {name: ids, operator: OR, method: regex, keywords: [\"^ID[0-9]+$\", \"ERR_[A-Z]+\"]}\n"
                "    domains:\n"
                "      - {name: science, mmlu_categories: [physics, \"computer science\"]}\n"
                "      - {name: math}\n"
                "    jailbreak: [{name: jb, threshold: 0.8}]\n"
                "    pii: [{name: p, threshold: 0.6, pii_types_allowed: [EMAIL_ADDRESS]}]\n"
                "  decisions:\n"
                "    - {name: guard, priority: 100, rules: {operator: OR, conditions: [{type: jailbreak, name: jb},\n"
                "       {type: pii, name: p}]}, plugins: [{type: fast_response, configuration: {message: no}}]}\n"
                "    - {name: urgent, priority: 50, rules: {operator: AND, conditions: [{type: keyword, name: "
                "both},\n"
                "       {type: keyword, name: code}]}, modelRefs: [{model: b}]}\n"
                "    - {name: first_equal, priority: 10, rules: {type: keyword, name: ids}, modelRefs: [{model: a}]}\n"
                "    - {name: code, priority: 10, rules: {type: keyword, name: code}, modelRefs: [{model: a}]}\n"
                "    - {name: rude_science, priority: 5, rules: {operator: AND, conditions: [{type: domain, name: "
                "science},\n"
                "       {type: keyword, name: polite}]}, modelRefs: [{model: b}]}\n"
                "    - {name: not_math, priority: 1, rules: {operator: NOT, conditions: [{type: domain, name: math}]},\n"
                "       modelRefs: [{model: a}]}\n";
        struct sy_config *cfg;
        char err[1024], matched[256];
        float pii[3] = { 0 };

        check(load(body, &cfg, err, sizeof err) == 0 || (fprintf(stderr, "%s\n", err), 0));
        /* whole words and phrases, any case unless case-sensitive */
        DECIDES(cfg, "look at my Code", "math", -1, NULL, "code");
        DECIDES(cfg, "decoder ring", "math", -1, NULL, "(none)");
        DECIDES(cfg, "a Stack  Trace here", "math", -1, NULL, "code");
        DECIDES(cfg, "stack of traces", "math", -1, NULL, "(none)");
        DECIDES(cfg, "I like C++ a lot", "math", -1, NULL, "code");
        DECIDES(cfg, "URGENT prod code", "math", -1, NULL, "urgent");
        DECIDES(cfg, "urgent prod code", "math", -1, NULL, "code");
        DECIDES(cfg, "URGENT code", "math", -1, NULL, "code");
        CHECK_EQ(decide(cfg, "URGENT: prod, code!", "math", -1, NULL, matched), 1);
        CHECK_STR(matched, "URGENT,prod,code");
        /* regex; priority ties go by file order */
        DECIDES(cfg, "got ERR_TIMEOUT", "math", -1, NULL, "first_equal");
        DECIDES(cfg, "ERR_TIMEOUT in my code", "math", -1, NULL, "first_equal");
        DECIDES(cfg, "err_timeout", "math", -1, NULL, "first_equal"); /* case-insensitive by default */
        DECIDES(cfg, "xID42", "math", -1, NULL, "(none)");
        /* domains by mmlu_categories; NOR; NOT */
        DECIDES(cfg, "why is the sky blue", "physics", -1, NULL, "rude_science");
        DECIDES(cfg, "why is the sky blue, please", "physics", -1, NULL, "not_math");
        DECIDES(cfg, "what is a monad", "computer_science", -1, NULL, "rude_science");
        DECIDES(cfg, "what is 2+2", "math", -1, NULL, "(none)");
        DECIDES(cfg, "what is 2+2", NULL, -1, NULL, "not_math");
        /* jailbreak and PII thresholds, allowed types */
        DECIDES(cfg, "hello", "math", 0.79f, NULL, "(none)");
        DECIDES(cfg, "hello", "math", 0.8f, NULL, "guard");
        pii[1] = 0.99f; /* EMAIL_ADDRESS: allowed */
        DECIDES(cfg, "hello", "math", 0.1f, pii, "(none)");
        pii[2] = 0.59f; /* US_SSN under the threshold */
        DECIDES(cfg, "hello", "math", 0.1f, pii, "(none)");
        pii[2] = 0.6f;
        DECIDES(cfg, "hello", "math", 0.1f, pii, "guard");
        sy_config_free(cfg);
        return check_done("v03-eval");
}

int main(int argc, char **argv) {
        if (argc < 2)
                return 2;
        if (!strcmp(argv[1], "files") && argc > 2)
                return group_files(argv[2]);
        if (!strcmp(argv[1], "errors"))
                return group_errors();
        if (!strcmp(argv[1], "allow"))
                return group_allow();
        if (!strcmp(argv[1], "eval"))
                return group_eval();
        return 2;
}
