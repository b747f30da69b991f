/* The router's snapshot: building it from a configuration (stable upstream
 * slots, addresses carried over from the previous one), re-resolving, and
 * the least-in-flight pick the frontend makes without the router. */
#include "proto/snapshot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void copy_str(char *dst, size_t cap, const char *src) {
        size_t n = src ? strlen(src) : 0;

        if (n >= cap)
                n = cap - 1;
        memcpy(dst, src ? src : "", n);
        dst[n] = 0;
}

/* numeric_only: AI_NUMERICHOST, which never makes a lookup */
static int resolve_flags(const char *host, uint16_t port, bool numeric_only, struct sockaddr_in6 *ret) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = numeric_only ? AI_NUMERICHOST : 0 };
        struct addrinfo *ai = NULL;
        int r = getaddrinfo(host, NULL, &hints, &ai);

        if (r != 0 || !ai)
                return -EHOSTUNREACH;
        r = snapshot_addr_from(ai, port, ret);
        freeaddrinfo(ai);
        return r;
}

int snapshot_addr_from(const struct addrinfo *ai, uint16_t port, struct sockaddr_in6 *ret) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

        if (!ai || !ai->ai_addr)
                return -EHOSTUNREACH;
        if (ai->ai_family == AF_INET) {
                const struct sockaddr_in *v4 = (const struct sockaddr_in *)ai->ai_addr;
                a.sin6_addr.s6_addr[10] = 0xff;
                a.sin6_addr.s6_addr[11] = 0xff;
                memcpy(&a.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6) {
                a.sin6_addr = ((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
                a.sin6_scope_id = ((const struct sockaddr_in6 *)ai->ai_addr)->sin6_scope_id;
        } else {
                return -EAFNOSUPPORT;
        }
        *ret = a;
        return 0;
}

static int resolve(const char *host, uint16_t port, struct sockaddr_in6 *ret) {
        return resolve_flags(host, port, false, ret);
}

int snapshot_numeric_addr(const char *host, uint16_t port, struct sockaddr_in6 *ret) {
        return resolve_flags(host, port, true, ret) < 0 ? -EINVAL : 0;
}

bool snapshot_same_upstream(const struct snap_upstream *a, const struct snap_upstream *b) {
        return !a->removed && !b->removed && strcmp(a->name, b->name) == 0 && a->since_gen == b->since_gen &&
               a->resolved && b->resolved && memcmp(&a->addr, &b->addr, sizeof a->addr) == 0;
}

int snapshot_find_upstream(const struct snapshot *s, const char *name) {
        for (uint32_t i = 0; i < s->n_upstreams && i < SNAP_MAX_UPSTREAMS; i++)
                if (strcmp(s->upstreams[i].name, name) == 0)
                        return (int)i;
        return -ENOENT;
}

/* A slot for a new name once every slot has been used: the tombstone
 * removed longest ago with nothing in flight, else the one removed longest
 * ago. -E2BIG if there is no tombstone. */
static int reuse_slot(const struct snapshot *s, const bool *used) {
        int best = -1, best_idle = -1;

        for (uint32_t j = 0; j < s->n_upstreams; j++) {
                const struct snap_upstream *u = &s->upstreams[j];
                if (used[j] || !u->removed)
                        continue;
                if (best < 0 || u->removed_gen < s->upstreams[best].removed_gen)
                        best = (int)j;
                if (u->inflight == 0 && (best_idle < 0 || u->removed_gen < s->upstreams[best_idle].removed_gen))
                        best_idle = (int)j;
        }
        if (best_idle >= 0)
                return best_idle;
        return best >= 0 ? best : -E2BIG;
}

int snapshot_build(const struct sy_config *cfg, struct snapshot *ret_snap, char *err, size_t errlen) {
        return snapshot_build_from(cfg, NULL, 0, SNAP_BUILD_RESOLVE, ret_snap, err, errlen);
}

int snapshot_build_from(const struct sy_config *cfg, const struct snapshot *prev, uint64_t gen, unsigned flags,
                        struct snapshot *ret_snap, char *err, size_t errlen) {
        struct snapshot *s = ret_snap;
        int slot_of[SNAP_MAX_UPSTREAMS];
        bool used[SNAP_MAX_UPSTREAMS] = { false }, fresh[SNAP_MAX_UPSTREAMS] = { false };
        uint32_t n = 0;
        size_t i, j, k;
        int r;

        if (errlen)
                err[0] = 0;
        if (cfg->n_upstreams > SNAP_MAX_UPSTREAMS || cfg->n_models > SNAP_MAX_MODELS)
                return -E2BIG;
        memset(s, 0, sizeof *s);
        s->config_generation = gen;
        if (prev) {
                n = prev->n_upstreams < SNAP_MAX_UPSTREAMS ? prev->n_upstreams : SNAP_MAX_UPSTREAMS;
                /* names that stay keep their slots (a tombstone of the name comes back) */
                for (i = 0; i < cfg->n_upstreams; i++) {
                        int p = snapshot_find_upstream(prev, cfg->upstreams[i].name);
                        slot_of[i] = p >= 0 && !used[p] ? p : -1;
                        if (slot_of[i] >= 0)
                                used[slot_of[i]] = true;
                }
                /* names gone: tombstones */
                for (j = 0; j < n; j++) {
                        struct snap_upstream *u = &s->upstreams[j];
                        if (used[j])
                                continue;
                        *u = prev->upstreams[j];
                        if (!u->removed) {
                                u->removed = 1;
                                u->removed_gen = (uint32_t)gen;
                        }
                        u->healthy = u->resolved = u->saturated = 0;
                }
        } else {
                for (i = 0; i < cfg->n_upstreams; i++)
                        slot_of[i] = -1;
        }
        /* new names: never-used slots, then the oldest tombstones */
        s->n_upstreams = n;
        for (i = 0; i < cfg->n_upstreams; i++) {
                int slot;

                if (slot_of[i] >= 0)
                        continue;
                if (n < SNAP_MAX_UPSTREAMS)
                        slot = (int)n++;
                else if ((slot = reuse_slot(s, used)) < 0)
                        return -E2BIG;
                used[slot] = fresh[slot] = true;
                slot_of[i] = slot;
        }
        s->n_upstreams = n;

        for (i = 0; i < cfg->n_upstreams; i++) {
                const struct sy_upstream_cfg *uc = &cfg->upstreams[i];
                struct snap_upstream *u = &s->upstreams[slot_of[i]];
                const struct snap_upstream *pu = prev && !fresh[slot_of[i]] ? &prev->upstreams[slot_of[i]] : NULL;

                memset(u, 0, sizeof *u);
                copy_str(u->name, sizeof u->name, uc->name);
                copy_str(u->host, sizeof u->host, uc->host);
                copy_str(u->engine, sizeof u->engine, uc->engine ? uc->engine : "vllm");
                u->port = uc->port;
                u->kind = (uint8_t)uc->kind;
                u->weight = uc->weight ? uc->weight : 1;
                u->since_gen = pu ? pu->since_gen : prev ? (uint32_t)gen : 0;
                if (pu && pu->port == uc->port && strcmp(pu->host, u->host) == 0 &&
                    (pu->resolved || (pu->removed && pu->addr.sin6_family == AF_INET6))) {
                        /* known upstream, same address: no lookup */
                        u->addr = pu->addr;
                        r = 0;
                } else if (snapshot_numeric_addr(uc->host, uc->port, &u->addr) == 0) {
                        r = 0;
                } else if (flags & SNAP_BUILD_RESOLVE) {
                        r = resolve(uc->host, uc->port, &u->addr);
                        if (r < 0)
                                snprintf(err, errlen, "upstream %s: cannot resolve host '%s' (will retry)", uc->name,
                                         uc->host);
                } else {
                        r = -EAGAIN;
                        snprintf(err, errlen, "upstream %s: resolving host '%s' in the background", uc->name, uc->host);
                }
                u->resolved = r == 0;
                u->healthy = r == 0;
        }

        for (i = 0; i < cfg->n_models; i++) {
                const struct sy_model_cfg *mc = &cfg->models[i];
                struct snap_model *m = &s->models[s->n_models];

                if (strlen(mc->name) >= sizeof m->name)
                        continue; /* refused by the config loader already */
                copy_str(m->name, sizeof m->name, mc->name);
                for (j = 0; j < cfg->n_upstreams; j++) {
                        const struct sy_upstream_cfg *uc = &cfg->upstreams[j];
                        for (k = 0; k < uc->n_models; k++)
                                if (strcmp(uc->models[k], mc->name) == 0)
                                        break;
                        if (k == uc->n_models)
                                continue;
                        if (m->n_upstreams < SNAP_MAX_MODEL_UPSTREAMS)
                                m->upstreams[m->n_upstreams++] = (uint16_t)slot_of[j];
                }
                if (mc->default_engine)
                        copy_str(m->default_engine, sizeof m->default_engine, mc->default_engine);
                else if (m->n_upstreams > 0) {
                        /* vllm if any replica runs it (the guides' default), else the first one's */
                        const char *e = s->upstreams[m->upstreams[0]].engine;
                        for (j = 0; j < m->n_upstreams; j++)
                                if (strcmp(s->upstreams[m->upstreams[j]].engine, "vllm") == 0)
                                        e = "vllm";
                        copy_str(m->default_engine, sizeof m->default_engine, e);
                }
                s->n_models++;
        }
        return 0;
}

int snapshot_resolve(struct snap_upstream *u) {
        struct sockaddr_in6 a;
        int r = resolve(u->host, u->port, &a);

        if (r < 0)
                return r;
        if (u->resolved && memcmp(&a, &u->addr, sizeof a) == 0)
                return 0;
        u->addr = a;
        if (u->resolved)
                return 0;
        u->resolved = 1;
        return 1;
}

const struct snap_model *snapshot_find_model(const struct snapshot *s, const char *name, size_t len) {
        for (uint32_t i = 0; i < s->n_models; i++)
                if (strncmp(s->models[i].name, name, len) == 0 && s->models[i].name[len] == 0 && len < SNAP_NAME)
                        return &s->models[i];
        return NULL;
}

bool snapshot_engine_matches(const struct snapshot *s, const struct snap_model *m, uint16_t u, const char *engine,
                             size_t engine_len) {
        const char *want = engine;
        size_t n = engine_len;

        if (!engine || engine_len == 0) {
                want = m->default_engine;
                n = strlen(want);
                if (n == 0)
                        return true;
        }
        return strncasecmp(s->upstreams[u].engine, want, n) == 0 && s->upstreams[u].engine[n] == 0;
}

int snapshot_pick(const struct snapshot *s, const struct snap_model *m, const char *engine, size_t engine_len,
                  const uint16_t *exclude, unsigned n_exclude, const uint32_t *inflight, unsigned *rr) {
        int best = -1, any = 0;
        uint64_t best_load = UINT64_MAX;
        unsigned start = rr ? (*rr)++ : 0;

        for (unsigned k = 0; k < m->n_upstreams; k++) {
                uint16_t u = m->upstreams[(start + k) % m->n_upstreams];
                const struct snap_upstream *up = &s->upstreams[u];
                unsigned x;
                uint64_t load;

                if (!snapshot_engine_matches(s, m, u, engine, engine_len))
                        continue;
                any = 1;
                if (!up->healthy)
                        continue;
                for (x = 0; x < n_exclude; x++)
                        if (exclude[x] == u)
                                break;
                if (x < n_exclude)
                        continue;
                /* least in flight per unit of weight */
                load = ((uint64_t)(inflight ? inflight[u] : up->inflight) << 16) / (up->weight ? up->weight : 1);
                if (load < best_load) {
                        best_load = load;
                        best = u;
                }
        }
        if (best >= 0)
                return best;
        return any ? -EHOSTUNREACH : -ENOENT;
}
