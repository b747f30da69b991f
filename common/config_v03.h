/* What a vLLM Semantic Router `version: v0.3` file says that the classic
 * structures of struct sy_config cannot: the signals, the decisions over
 * them, the models' upstream names and cards, the local-limiter rules.
 * Loaded by common/config_v03.c (cfg->v03, NULL for a classic file);
 * decisions are evaluated by common/decisions.h.
 *
 * Everything here is read-only after the load and owned by the config. */
#pragma once
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sy_kw_op { SY_KW_OR = 0, SY_KW_AND = 1, SY_KW_NOR = 2 };

/* routing.signals.keywords[] */
struct sy_kw_signal {
        char *name;
        enum sy_kw_op op;
        bool case_sensitive;
        bool regex;      /* method: regex (POSIX extended); else whole words / phrases */
        char **keywords; /* as written */
        size_t n_keywords;
        regex_t *re;   /* regex: one per keyword */
        uint32_t base; /* index of keywords[0] among all keywords of the config */
        unsigned line;
};

/* routing.signals.domains[]: matched when the classifier's category is one
 * of categories (mmlu_categories; the domain's name when none are given) */
struct sy_domain_signal {
        char *name;
        char **categories;
        size_t n_categories;
        unsigned line;
};

/* routing.signals.jailbreak[]: the jailbreak head's score >= threshold */
struct sy_jb_signal {
        char *name;
        double threshold; /* default 0.7 */
        bool include_history;
        unsigned line;
};

/* routing.signals.pii[]: a detected entity (score >= threshold) of a type
 * not in types_allowed */
struct sy_pii_signal {
        char *name;
        double threshold; /* default 0.5 */
        bool include_history;
        char **types_allowed; /* upper case */
        size_t n_types_allowed;
        unsigned line;
};

enum sy_rule_kind {
        SY_RULE_AND = 0,
        SY_RULE_OR = 1,
        SY_RULE_NOT = 2, /* NOT over several conditions: none of them (NOR) */
        SY_RULE_DOMAIN = 3,
        SY_RULE_KEYWORD = 4,
        SY_RULE_JAILBREAK = 5,
        SY_RULE_PII = 6,
};

/* One node of a decision's rule tree: an operator over kids[first ..
 * first + n) (indices into sy_v03.rules), or a condition on signal arg. */
struct sy_rule {
        uint8_t kind;
        uint32_t arg; /* signal index (conditions), first kid's slot in kids[] (operators) */
        uint32_t n;   /* operators: number of kids */
};

struct sy_model_ref {
        char *model;
        bool use_reasoning;
};

struct sy_decision {
        char *name;
        int64_t priority;
        uint32_t rule; /* root node in sy_v03.rules */
        struct sy_model_ref *refs;
        size_t n_refs;
        char *system_prompt; /* plugin system_prompt; NULL: none */
        bool prompt_insert;  /* mode: insert (default replace) */
        char *fast_response; /* plugin fast_response: the message; NULL: none */
        unsigned line;
        uint32_t order;        /* position in the file */
        const void *name_node; /* the loader's, for messages */
};

/* providers.models[]: the model's own settings */
struct sy_v03_model {
        char *name;
        char *provider_model_id; /* the model name sent upstream; NULL: name */
        uint64_t context_window; /* modelCards context_window_size; 0: not given */
};

/* global.services.ratelimit local-limiter rules[] */
struct sy_limit_rule {
        char *name;
        char *user;  /* NULL or "*": every user */
        char *model; /* NULL: every model */
        uint32_t rpm, tpm, burst_requests, burst_tokens;
        unsigned line;
};

struct sy_v03 {
        char *listener_name;
        struct sy_kw_signal *keywords;
        size_t n_keywords;
        uint32_t n_keyword_total; /* keywords of every signal */
        struct sy_domain_signal *domains;
        size_t n_domains;
        struct sy_jb_signal *jailbreaks;
        size_t n_jailbreaks;
        struct sy_pii_signal *piis;
        size_t n_piis;
        struct sy_rule *rules;
        size_t n_rules;
        uint32_t *kids;
        size_t n_kids;
        struct sy_decision *decisions; /* highest priority first (file order among equals) */
        size_t n_decisions;
        struct sy_v03_model *models;
        size_t n_models;
        struct sy_limit_rule *limits;
        size_t n_limits;
        /* what the decisions need of the classifier */
        bool uses_domain, uses_jailbreak, uses_pii, include_history;
        double pii_min_threshold;
        /* what was refused (--allow-unsupported): "line:col: path: why", every one */
        char **refused;
        size_t n_refused;
        struct sy_kw_index *index; /* common/decisions.c: the exact keywords' lookup table */
};

void sy_v03_free(struct sy_v03 *v);
const struct sy_v03_model *sy_v03_find_model(const struct sy_v03 *v, const char *name);
