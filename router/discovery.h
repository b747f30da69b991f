/* Upstream discovery: the configured sources (kubernetes, dns) turned
 * into upstreams that the router adds to the file's configuration.
 *
 * Threads, never the router's loop, do the waiting: one per Kubernetes
 * source (list + watch, router/k8s.h) and one "hub" thread that
 * re-resolves DNS sources and asks new endpoints for their /v1/models
 * (models_from: v1_models). When the set of discovered upstreams changes,
 * the eventfd discovery_fd() becomes readable; the router then rebuilds
 * its configuration (file + discovery_merge() + admin entries) and applies
 * it.
 *
 * Names of discovered upstreams: "k8s/<pod>/<ip>:<port>" and
 * "dns/<first label of the name>/<ip>:<port>" (at most 63 bytes; the pod
 * part is shortened to fit). */
#pragma once
#include <stdbool.h>

#include "common/buf.h"
#include "common/config.h"

struct discovery;

/* Starts the sources of cfg->discovery (none: a discovery that never
 * fires). Returns -EINVAL with a message for sources that cannot start
 * (no API server, unreadable CA file, ...). */
int discovery_new(const struct sy_config *cfg, struct discovery **ret, char *err, size_t errlen);
void discovery_free(struct discovery *d);
int discovery_fd(const struct discovery *d);
/* Adds every discovered upstream to cfg (an upstream whose name is taken
 * is skipped); clears the eventfd. Returns the number added. */
int discovery_merge(struct discovery *d, struct sy_config *cfg);
/* Relist / re-resolve / re-probe now (admin API). */
void discovery_refresh(struct discovery *d);
/* Do a and b configure the same sources? (a reload keeps the running
 * discovery then, with what it found.) */
bool discovery_same_sources(const struct sy_config *a, const struct sy_config *b);
/* JSON array of the sources and their state, for the admin API. */
int discovery_status_json(struct discovery *d, struct buf *out);
