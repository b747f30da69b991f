/* Kubernetes discovery client: list + watch EndpointSlices or pods of one
 * namespace (by label selector) through the API server, over HTTPS with
 * the pod's service-account token and CA (or plain HTTP where the URL says
 * so), and keep the set of ready endpoints (ip, port, model label).
 *
 * The client runs in a thread of its own (k8s_client_run blocks); the
 * router's loop never waits on the API server. Semantics:
 *   - list (resourceVersion from the list's metadata), then watch from it
 *     with allowWatchBookmarks; ADDED / MODIFIED / DELETED / BOOKMARK
 *     events update the set and the resourceVersion;
 *   - 410 Gone (HTTP status, or an ERROR event with code 410: "too old
 *     resource version") -> relist;
 *   - the watch ending normally (timeoutSeconds) -> watch again from the
 *     last resourceVersion at once; a dropped connection or an error ->
 *     the same after a backoff (doubling, capped); a failed list -> backoff
 *     and list again;
 *   - the token file is read again for every connection (projected tokens
 *     rotate).
 * Every change of the endpoint set calls the change callback (from the
 * client's thread) with the whole set, sorted by name. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define K8S_NAME 64

struct k8s_endpoint {
        char name[K8S_NAME]; /* pod name (targetRef, or the object's), shortened */
        char ip[48];         /* IP literal, no brackets */
        uint16_t port;
        char model[SY_CFG_NAME_MAX + 1]; /* value of model_label ("" if none or not set) */
};

struct k8s_opts {
        const char *api_server;     /* https://host[:port] or http://...; NULL: from
                                         * KUBERNETES_SERVICE_HOST / _PORT */
        const char *token_file;     /* NULL: the service account's; a missing file
                                         * means no Authorization header */
        const char *ca_file;        /* NULL: the service account's */
        const char *namespace_;     /* NULL: the service account's namespace file */
        const char *label_selector; /* NULL: everything */
        enum sy_k8s_resource resource;
        const char *port_name;    /* port by name, or */
        uint16_t port;            /* by number */
        const char *model_label;  /* may be NULL */
        unsigned watch_timeout_s; /* timeoutSeconds of a watch, default 300 */
        unsigned backoff_min_ms;  /* default 500 */
        unsigned backoff_max_ms;  /* default 30000 */
        unsigned io_timeout_ms;   /* connect, TLS, list; default 10000. A watch
                                         * with nothing for watch_timeout_s + 30 s is
                                         * dropped too */
};

struct k8s_stats {
        uint64_t lists;            /* successful lists */
        uint64_t watches;          /* watches started (200 answered) */
        uint64_t events;           /* watch events applied (bookmarks included) */
        uint64_t expired;          /* 410s: relists because the version was too old */
        uint64_t failures;         /* failed connections, requests, bad answers */
        uint64_t changes;          /* callbacks made */
        char resource_version[64]; /* last seen */
        char last_error[160];
};

typedef void (*k8s_change_fn)(void *arg, const struct k8s_endpoint *eps, size_t n);

struct k8s_client;

/* -EINVAL for bad options (message in err), -ENOTSUP for https without
 * OpenSSL in this build, -ENOMEM. */
int k8s_client_new(const struct k8s_opts *opts, k8s_change_fn fn, void *arg, struct k8s_client **ret, char *err,
                   size_t errlen);
/* Lists and watches until stop_fd is readable; returns 0 then. */
int k8s_client_run(struct k8s_client *c, int stop_fd);
/* From any thread: drop the watch and list again now (admin refresh). */
void k8s_client_relist(struct k8s_client *c);
/* From any thread. */
void k8s_client_get_stats(struct k8s_client *c, struct k8s_stats *ret);
void k8s_client_free(struct k8s_client *c);

/* Percent-encodes s for a query parameter value into out; -ENOBUFS. */
int k8s_query_escape(const char *s, char *out, size_t cap);
