/* switchyard check: what the configuration says will happen, at a glance:
 * the listener, the models with their backends, the decisions in priority
 * order (v0.3), the guards, the limits (counts of keys, never a secret),
 * and for a v0.3 file everything that was refused (--allow-unsupported). */
#include "supervisor/check.h"

#include <stdio.h>
#include <string.h>

#include "common/config_v03.h"

static void rule(FILE *f, const struct sy_v03 *v, uint32_t node) {
        static const char *const ops[] = { "AND", "OR", "NOT" };
        const struct sy_rule *r = &v->rules[node];

        switch (r->kind) {
        case SY_RULE_AND:
        case SY_RULE_OR:
        case SY_RULE_NOT:
                fprintf(f, "%s(", ops[r->kind]);
                for (uint32_t k = 0; k < r->n; k++) {
                        if (k)
                                fprintf(f, ", ");
                        rule(f, v, v->kids[r->arg + k]);
                }
                fprintf(f, ")");
                break;
        case SY_RULE_DOMAIN:
                fprintf(f, "domain '%s'", v->domains[r->arg].name);
                break;
        case SY_RULE_KEYWORD:
                fprintf(f, "keyword '%s'", v->keywords[r->arg].name);
                break;
        case SY_RULE_JAILBREAK:
                fprintf(f, "jailbreak '%s' >= %.2f", v->jailbreaks[r->arg].name, v->jailbreaks[r->arg].threshold);
                break;
        case SY_RULE_PII:
                fprintf(f, "pii '%s' >= %.2f", v->piis[r->arg].name, v->piis[r->arg].threshold);
                break;
        }
}

static void list(FILE *f, char *const *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i ? ", " : "", s[i]);
}

static void models(FILE *f, const struct sy_config *cfg) {
        fprintf(f, "models:\n");
        for (size_t i = 0; i < cfg->n_models; i++) {
                const struct sy_model_cfg *m = &cfg->models[i];
                const struct sy_v03_model *vm = sy_v03_find_model(cfg->v03, m->name);

                fprintf(f, "  %s", m->name);
                if (vm && vm->provider_model_id)
                        fprintf(f, " (sent upstream as %s)", vm->provider_model_id);
                if (m->reasoning_family)
                        fprintf(f, ", reasoning family %s", m->reasoning_family);
                if (vm && vm->context_window)
                        fprintf(f, ", max_model_len %llu", (unsigned long long)vm->context_window);
                if (m->pii_policy.set && !m->pii_policy.allow_by_default)
                        fprintf(f, ", pii policy: %zu types allowed", m->pii_policy.n_types_allowed);
                fprintf(f, "\n");
                for (size_t u = 0; u < cfg->n_upstreams; u++) {
                        const struct sy_upstream_cfg *up = &cfg->upstreams[u];
                        bool serves = false;

                        for (size_t k = 0; k < up->n_models && !serves; k++)
                                serves = !strcmp(up->models[k], m->name);
                        if (!serves)
                                continue;
                        fprintf(f, "    backend %s %s://%s:%u weight %u%s", up->name, up->tls ? "https" : "http",
                                up->host, up->port, up->weight, up->kind == SY_UPSTREAM_GATEWAY ? " (gateway)" : "");
                        if (up->tls)
                                fprintf(f, ", TLS (sni %s, CA %s)", up->sni ? up->sni : "-",
                                        up->ca_file ? up->ca_file : "the system store");
                        if (up->api_key_env) /* where the key comes from, never the key */
                                fprintf(f, ", API key from $%s in %s", up->api_key_env, up->auth_header);
                        if (up->n_extra)
                                fprintf(f, ", %zu extra headers", up->n_extra);
                        fprintf(f, "\n");
                }
        }
        fprintf(f,
                "upstreams: policy %s, %u retries, ejected after %u failures for %u ms, health %s every %u ms "
                "(timeout %u ms)\n",
                cfg->router.policy, cfg->proxy.max_retries, cfg->router.passive_failures, cfg->router.ejection_ms,
                cfg->health.path, cfg->health.interval_ms, cfg->health.timeout_ms);
}

static void routing(FILE *f, const struct sy_config *cfg) {
        const struct sy_v03 *v = cfg->v03;

        fprintf(f, "model auto: names ");
        list(f, cfg->auto_aliases, cfg->n_auto_aliases);
        fprintf(f, "; default_model %s\n", cfg->default_model ? cfg->default_model : "(none)");
        if (!v) {
                for (size_t i = 0; i < cfg->n_categories; i++) {
                        const struct sy_category_cfg *c = &cfg->categories[i];
                        fprintf(f, "  category '%s' ->", c->name);
                        for (size_t k = 0; k < c->n_model_scores; k++)
                                fprintf(f, " %s (%.2f)", c->model_scores[k].model, c->model_scores[k].score);
                        fprintf(f, "%s\n", c->system_prompt ? ", system prompt" : "");
                }
                return;
        }
        fprintf(f, "signals:\n");
        for (size_t i = 0; i < v->n_keywords; i++) {
                const struct sy_kw_signal *s = &v->keywords[i];
                fprintf(f, "  keyword '%s' %s %s%s [", s->name,
                        s->op == SY_KW_AND   ? "AND"
                        : s->op == SY_KW_NOR ? "NOR"
                                             : "OR",
                        s->regex ? "regex" : "words", s->case_sensitive ? ", case-sensitive" : "");
                list(f, s->keywords, s->n_keywords);
                fprintf(f, "]\n");
        }
        for (size_t i = 0; i < v->n_domains; i++) {
                fprintf(f, "  domain '%s': classifier categories ", v->domains[i].name);
                list(f, v->domains[i].categories, v->domains[i].n_categories);
                fprintf(f, "\n");
        }
        for (size_t i = 0; i < v->n_jailbreaks; i++)
                fprintf(f, "  jailbreak '%s': score >= %.2f%s\n", v->jailbreaks[i].name, v->jailbreaks[i].threshold,
                        v->jailbreaks[i].include_history ? ", every user turn" : "");
        for (size_t i = 0; i < v->n_piis; i++) {
                fprintf(f, "  pii '%s': score >= %.2f%s, allowed [", v->piis[i].name, v->piis[i].threshold,
                        v->piis[i].include_history ? ", every user turn" : "");
                list(f, v->piis[i].types_allowed, v->piis[i].n_types_allowed);
                fprintf(f, "]\n");
        }
        fprintf(f, "decisions (highest priority first; the first that matches wins):\n");
        for (size_t i = 0; i < v->n_decisions; i++) {
                const struct sy_decision *d = &v->decisions[i];

                fprintf(f, "  %lld %s: ", (long long)d->priority, d->name);
                rule(f, v, d->rule);
                if (d->fast_response) {
                        fprintf(f, " -> fast response \"%.60s\"\n", d->fast_response);
                        continue;
                }
                fprintf(f, " ->");
                for (size_t k = 0; k < d->n_refs; k++)
                        fprintf(f, "%s %s (reasoning %s)", k ? "," : "", d->refs[k].model,
                                d->refs[k].use_reasoning ? "on" : "off");
                if (d->system_prompt)
                        fprintf(f, ", system prompt (%s)", d->prompt_insert ? "insert" : "replace");
                fprintf(f, "\n");
        }
        if (v->n_decisions == 0)
                fprintf(f, "  (none: model auto goes to default_model)\n");
}

static void guards(FILE *f, const struct sy_config *cfg) {
        fprintf(f, "guards: classifier %s", cfg->classifier.enabled ? "on" : "off");
        if (cfg->classifier.enabled)
                fprintf(f, " (jailbreak head %s, pii threshold %.2f)", cfg->classifier.jailbreak_enabled ? "on" : "off",
                        cfg->classifier.pii.threshold);
        fprintf(f, "; prompt_guard %s", cfg->classifier.jailbreak_block ? "blocks" : "off");
        fprintf(f, "; blocked answer %s", cfg->guard.block_status ? "an error status" : "200 with a message");
        fprintf(f, "; without a verdict: %s\n", cfg->guard.on_classifier_error_allow ? "allow" : "block (503)");
}

static void limits(FILE *f, const struct sy_config *cfg) {
        unsigned rpm = cfg->rate_limits.requests_per_minute, tpm = cfg->rate_limits.tokens_per_minute;

        fprintf(f, "limits: %zu API keys; client header %s; every client: ", cfg->n_api_keys,
                cfg->rate_limits.client_header);
        if (rpm)
                fprintf(f, "%u requests/min", rpm);
        else
                fprintf(f, "no request limit");
        if (tpm)
                fprintf(f, ", %u tokens/min", tpm);
        else
                fprintf(f, ", no token limit");
        fprintf(f, "%s\n", cfg->rate_limits.redis.host ? " (Redis: global)" : "");
        for (size_t i = 0; cfg->v03 && i < cfg->v03->n_limits; i++) {
                const struct sy_limit_rule *l = &cfg->v03->limits[i];

                if ((!l->user || !strcmp(l->user, "*")) && !l->model)
                        continue; /* the line above */
                fprintf(f, "  rule %s: user %s, model %s: %u requests/min (burst %u), %u tokens/min (burst %u)\n",
                        l->name ? l->name : "?", l->user ? l->user : "*", l->model ? l->model : "*", l->rpm,
                        l->burst_requests, l->tpm, l->burst_tokens);
        }
}

void check_print(FILE *f, const struct sy_config *cfg) {
        fprintf(f, "listener: %s:%u%s%s, first-byte timeout %u ms\n", cfg->server.host, cfg->server.port,
                cfg->v03 && cfg->v03->listener_name ? " " : "",
                cfg->v03 && cfg->v03->listener_name ? cfg->v03->listener_name : "", cfg->proxy.first_byte_timeout_ms);
        models(f, cfg);
        routing(f, cfg);
        guards(f, cfg);
        limits(f, cfg);
        if (cfg->v03 && cfg->v03->n_refused) {
                fprintf(f, "not used (--allow-unsupported), %zu:\n", cfg->v03->n_refused);
                for (size_t i = 0; i < cfg->v03->n_refused; i++)
                        fprintf(f, "  %s\n", cfg->v03->refused[i]);
        }
}
