/* Editing a loaded configuration in memory: what discovery and the admin
 * API add to (or take from) the file's configuration before the router
 * applies it (router_apply). Strings are copied in; the struct sy_config
 * keeps owning everything, and sy_config_free() frees what was added. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct sy_upstream_spec {
        const char *name;
        const char *host; /* host name or IP literal (no brackets) */
        uint16_t port;
        const char *engine; /* NULL: "vllm" */
        const char *const *models;
        size_t n_models;
        uint32_t weight; /* 0: 1 */
        enum sy_upstream_kind kind;
};

/* Adds an upstream, and its models to the model table. -EEXIST (name
 * taken), -E2BIG (SY_CFG_MAX_UPSTREAMS / _MODELS), -EINVAL (a name, host
 * or engine the config file would refuse), -ENOMEM. */
int sy_config_add_upstream(struct sy_config *cfg, const struct sy_upstream_spec *spec);
/* Removes the named upstream (-ENOENT if none). Models no upstream serves
 * any more leave the model table unless something refers to them
 * (settings in models:, default_model, categories). */
int sy_config_remove_upstream(struct sy_config *cfg, const char *name);
/* The upstream serves model from now on (added to its models and to the
 * model table; 0 if it already did). owned_by, if not NULL, must be the
 * upstream's engine (-EINVAL otherwise). -ENOENT: no such upstream. */
int sy_config_add_route(struct sy_config *cfg, const char *model, const char *owned_by, const char *upstream);
/* Stops model being served by the matching upstreams (upstream NULL: every
 * upstream; owned_by NULL: any engine). Returns how many stopped (0: none). */
int sy_config_remove_route(struct sy_config *cfg, const char *model, const char *owned_by, const char *upstream);
