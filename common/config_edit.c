/* In-memory edits of a loaded configuration (see config_edit.h): adding
 * and removing upstreams and model routes, with the same name rules and
 * limits as the config file. */
#include "common/config_edit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

static ssize_t find_upstream(const struct sy_config *cfg, const char *name) {
        const struct sy_upstream_cfg *u = sy_config_find_upstream(cfg, name);

        return u ? u - cfg->upstreams : -1;
}

static bool serves(const struct sy_upstream_cfg *u, const char *model) {
        for (size_t i = 0; i < u->n_models; i++)
                if (strcmp(u->models[i], model) == 0)
                        return true;
        return false;
}

static bool model_referenced(const struct sy_config *cfg, const struct sy_model_cfg *m) {
        if (m->default_engine || m->reasoning_family || m->n_preferred_endpoints || m->pii_policy.set)
                return true;
        if (cfg->default_model && strcmp(cfg->default_model, m->name) == 0)
                return true;
        for (size_t i = 0; i < cfg->n_categories; i++)
                for (size_t j = 0; j < cfg->categories[i].n_model_scores; j++)
                        if (strcmp(cfg->categories[i].model_scores[j].model, m->name) == 0)
                                return true;
        return false;
}

/* Drops models nobody serves or refers to. */
static void prune_models(struct sy_config *cfg) {
        size_t i = 0;

        while (i < cfg->n_models) {
                struct sy_model_cfg *m = &cfg->models[i];
                bool used = model_referenced(cfg, m);

                for (size_t u = 0; !used && u < cfg->n_upstreams; u++)
                        used = serves(&cfg->upstreams[u], m->name);
                if (used) {
                        i++;
                        continue;
                }
                sy_config_model_free(m);
                memmove(m, m + 1, (cfg->n_models - i - 1) * sizeof *m);
                cfg->n_models--;
        }
}

int sy_config_add_upstream(struct sy_config *cfg, const struct sy_upstream_spec *spec) {
        struct sy_upstream_cfg *v, u = { 0 };
        const char *engine = spec->engine ? spec->engine : "vllm";
        size_t added = 0;
        int r = -ENOMEM;

        if (!sy_config_name_ok(spec->name) || !sy_config_host_ok(spec->host) || !sy_config_engine_ok(engine) ||
            spec->port == 0 || spec->n_models > SY_CFG_MAX_MODELS)
                return -EINVAL;
        for (size_t i = 0; i < spec->n_models; i++)
                if (!sy_config_name_ok(spec->models[i]))
                        return -EINVAL;
        if (find_upstream(cfg, spec->name) >= 0)
                return -EEXIST;
        if (cfg->n_upstreams >= SY_CFG_MAX_UPSTREAMS)
                return -E2BIG;
        u.name = strdup(spec->name);
        u.host = strdup(spec->host);
        u.engine = strdup(engine);
        u.port = spec->port;
        u.weight = spec->weight ? spec->weight : 1;
        u.kind = spec->kind;
        u.models = calloc(spec->n_models ? spec->n_models : 1, sizeof *u.models);
        if (!u.name || !u.host || !u.engine || !u.models)
                goto fail;
        for (size_t i = 0; i < spec->n_models; i++) {
                if (serves(&u, spec->models[i]))
                        continue;
                u.models[u.n_models] = strdup(spec->models[i]);
                if (!u.models[u.n_models])
                        goto fail;
                u.n_models++;
        }
        /* models first (may fail on limits), then the upstream */
        for (size_t i = 0; i < u.n_models; i++) {
                if (sy_config_find_model(cfg, u.models[i]))
                        continue;
                r = sy_config_ensure_model(cfg, u.models[i], NULL);
                if (r < 0)
                        goto fail_models;
                added++;
        }
        v = realloc(cfg->upstreams, (cfg->n_upstreams + 1) * sizeof *v);
        if (!v) {
                r = -ENOMEM;
                goto fail_models;
        }
        cfg->upstreams = v;
        cfg->upstreams[cfg->n_upstreams++] = u;
        return 0;
fail_models:
        /* the models just added are the last ones of the table and unused */
        (void)added;
        prune_models(cfg);
fail:
        sy_config_upstream_free(&u);
        return r;
}

int sy_config_remove_upstream(struct sy_config *cfg, const char *name) {
        ssize_t i = find_upstream(cfg, name);

        if (i < 0)
                return -ENOENT;
        sy_config_upstream_free(&cfg->upstreams[i]);
        memmove(&cfg->upstreams[i], &cfg->upstreams[i + 1],
                (cfg->n_upstreams - (size_t)i - 1) * sizeof cfg->upstreams[0]);
        cfg->n_upstreams--;
        prune_models(cfg);
        return 0;
}

int sy_config_add_route(struct sy_config *cfg, const char *model, const char *owned_by, const char *upstream) {
        ssize_t i = find_upstream(cfg, upstream);
        struct sy_upstream_cfg *u;
        char **v, *s;
        int r;

        if (!sy_config_name_ok(model))
                return -EINVAL;
        if (i < 0)
                return -ENOENT;
        u = &cfg->upstreams[i];
        if (owned_by && owned_by[0] && strcasecmp(owned_by, u->engine) != 0)
                return -EINVAL;
        if (serves(u, model))
                return 0;
        if (u->n_models >= SY_CFG_MAX_MODELS)
                return -E2BIG;
        r = sy_config_ensure_model(cfg, model, NULL);
        if (r < 0)
                return r;
        s = strdup(model);
        v = s ? realloc(u->models, (u->n_models + 1) * sizeof *v) : NULL;
        if (!v) {
                free(s);
                prune_models(cfg);
                return -ENOMEM;
        }
        v[u->n_models++] = s;
        u->models = v;
        return 0;
}

int sy_config_remove_route(struct sy_config *cfg, const char *model, const char *owned_by, const char *upstream) {
        int n = 0;

        for (size_t i = 0; i < cfg->n_upstreams; i++) {
                struct sy_upstream_cfg *u = &cfg->upstreams[i];

                if (upstream && strcmp(u->name, upstream) != 0)
                        continue;
                if (owned_by && owned_by[0] && strcasecmp(owned_by, u->engine) != 0)
                        continue;
                for (size_t k = 0; k < u->n_models; k++)
                        if (strcmp(u->models[k], model) == 0) {
                                free(u->models[k]);
                                memmove(&u->models[k], &u->models[k + 1], (u->n_models - k - 1) * sizeof u->models[0]);
                                u->n_models--;
                                n++;
                                break;
                        }
        }
        if (n)
                prune_models(cfg);
        return n;
}
