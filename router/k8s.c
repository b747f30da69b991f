/* Kubernetes list + watch client (see k8s.h).
 *
 * One connection per request (Connection: close): a list, or a watch that
 * streams chunked JSON events, one object per line. Sockets are
 * non-blocking; every wait is a poll() on the socket, the stop fd and the
 * client's own wake eventfd (relist requests), with a deadline. TLS is
 * OpenSSL's, with the CA file as the only trust anchor and the API
 * server's name or IP checked against the certificate. */
#include "router/k8s.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include "common/buf.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "http/http_parse.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define LIST_MAX (64u << 20)  /* bytes of one list answer */
#define EVENT_MAX (16u << 20) /* bytes of one watch event */
#define HEAD_MAX 32768

struct obj {
        char *name;
        struct k8s_endpoint *eps;
        size_t n;
};

struct k8s_client {
        char *scheme_host; /* for messages */
        char *host;        /* connect to */
        char port[8];
        bool tls;
        char *token_file, *ca_file, *ns, *selector_q, *port_name, *model_label;
        enum sy_k8s_resource resource;
        uint16_t port_num;
        unsigned watch_timeout_s, backoff_min_ms, backoff_max_ms, io_timeout_ms;
        k8s_change_fn fn;
        void *arg;
        int wake_fd;

        struct obj *objs;
        size_t n_objs;
        struct k8s_endpoint *last; /* what the callback saw last */
        size_t n_last;
        bool have_last;
        char rv[64];

        pthread_mutex_t lock; /* stats */
        struct k8s_stats stats;
#ifdef HAVE_OPENSSL
        SSL_CTX *ctx;
#endif
};

struct conn {
        struct k8s_client *cl;
        int fd, stop_fd;
#ifdef HAVE_OPENSSL
        SSL *ssl;
#endif
};

/* ---- small helpers ---------------------------------------------------------------------- */

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_error(struct k8s_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct k8s_client *c, const char *fmt, ...) {
        char msg[160];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&c->lock);
        c->stats.failures++;
        snprintf(c->stats.last_error, sizeof c->stats.last_error, "%s", msg);
        pthread_mutex_unlock(&c->lock);
        log_warn("kubernetes discovery (%s): %s", c->scheme_host, msg);
}

static void count(struct k8s_client *c, uint64_t *field) {
        pthread_mutex_lock(&c->lock);
        (*field)++;
        snprintf(c->stats.resource_version, sizeof c->stats.resource_version, "%s", c->rv);
        pthread_mutex_unlock(&c->lock);
}

int k8s_query_escape(const char *s, char *out, size_t cap) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;

        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                             ch == '-' || ch == '_' || ch == '.' || ch == '~';
                if (o + (plain ? 1 : 3) >= cap)
                        return -ENOBUFS;
                if (plain) {
                        out[o++] = (char)ch;
                } else {
                        out[o++] = '%';
                        out[o++] = hex[ch >> 4];
                        out[o++] = hex[ch & 15];
                }
        }
        out[o] = 0;
        return (int)o;
}

/* ---- JSON access ------------------------------------------------------------------------- */

struct jv {
        const char *p;
        size_t n;
        enum json_type t;
};

static bool jget(struct jv obj, const char *key, struct jv *ret) {
        struct json_member m;
        size_t it = 0, kl = strlen(key);
        bool found = false;

        if (!obj.p || obj.t != JSON_OBJECT)
                return false;
        while (json_iter(obj.p, obj.n, &it, &m) == 1)
                if (m.key_len == kl && memcmp(m.key, key, kl) == 0) {
                        *ret = (struct jv){ m.val, m.val_len, m.type };
                        found = true; /* the last of duplicates wins */
                }
        return found;
}

/* obj.a.b... */
static bool jpath(struct jv obj, const char *path, struct jv *ret) {
        char k[64];
        struct jv cur = obj;

        while (*path) {
                size_t n = strcspn(path, ".");
                if (n >= sizeof k)
                        return false;
                memcpy(k, path, n);
                k[n] = 0;
                if (!jget(cur, k, &cur))
                        return false;
                path += n + (path[n] == '.');
        }
        *ret = cur;
        return true;
}

static bool jstr(struct jv v, char *out, size_t cap) {
        int n;

        if (v.t != JSON_STRING || cap == 0)
                return false;
        n = json_string_decode(v.p, v.n, out, cap - 1);
        if (n < 0)
                return false;
        out[n] = 0; /* the decoder does not terminate */
        return true;
}

static bool jpath_str(struct jv obj, const char *path, char *out, size_t cap) {
        struct jv v;
        return jpath(obj, path, &v) && jstr(v, out, cap);
}

static bool jnum(struct jv v, long *ret) {
        char tmp[24];

        if (v.t != JSON_NUMBER || v.n >= sizeof tmp)
                return false;
        memcpy(tmp, v.p, v.n);
        tmp[v.n] = 0;
        *ret = strtol(tmp, NULL, 10);
        return true;
}

/* ---- objects -> endpoints ---------------------------------------------------------------- */

static void short_name(char *dst, const char *src) {
        snprintf(dst, K8S_NAME, "%s", src);
}

static bool ip_ok(const char *s) {
        unsigned char a[16];
        return inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, a) == 1;
}

static int push_ep(struct k8s_endpoint **eps, size_t *n, const char *name, const char *ip, uint16_t port,
                   const char *model) {
        struct k8s_endpoint *v;

        if (!ip_ok(ip) || port == 0)
                return 0;
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*eps)[i].ip, ip) == 0 && (*eps)[i].port == port)
                        return 0;
        v = realloc(*eps, (*n + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        *eps = v;
        v += (*n)++;
        memset(v, 0, sizeof *v);
        short_name(v->name, name);
        snprintf(v->ip, sizeof v->ip, "%s", ip);
        v->port = port;
        snprintf(v->model, sizeof v->model, "%s", model);
        return 0;
}

/* The number (under num_key) of the entry of a ports list named c->port_name; 0 if none. */
static uint16_t named_port(struct k8s_client *c, struct jv ports, const char *num_key) {
        struct json_member m;
        size_t it = 0;
        char tmp[64];

        if (ports.t != JSON_ARRAY)
                return 0;
        while (json_iter(ports.p, ports.n, &it, &m) == 1) {
                struct jv p = { m.val, m.val_len, m.type }, v;
                long num;
                if (jpath_str(p, "name", tmp, sizeof tmp) && strcmp(tmp, c->port_name) == 0 && jget(p, num_key, &v) &&
                    jnum(v, &num) && num > 0 && num < 65536)
                        return (uint16_t)num;
        }
        return 0;
}

static void model_of(struct k8s_client *c, struct jv obj, char *model, size_t cap) {
        struct jv labels, v;

        model[0] = 0;
        if (c->model_label && jpath(obj, "metadata.labels", &labels) && jget(labels, c->model_label, &v))
                jstr(v, model, cap);
}

static int slice_endpoints(struct k8s_client *c, struct jv obj, const char *oname, struct k8s_endpoint **eps,
                           size_t *n) {
        struct jv ports, list, e, addrs, a, cond, ready;
        struct json_member m;
        char model[SY_CFG_NAME_MAX + 1], at[16];
        uint16_t port = c->port_num;
        size_t it;
        int r;

        if (jpath_str(obj, "addressType", at, sizeof at) && strcmp(at, "FQDN") == 0)
                return 0;
        if (c->port_name) {
                port = jget(obj, "ports", &ports) ? named_port(c, ports, "port") : 0;
                if (!port)
                        return 0;
        }
        model_of(c, obj, model, sizeof model);
        if (!jget(obj, "endpoints", &list) || list.t != JSON_ARRAY)
                return 0;
        it = 0;
        while (json_iter(list.p, list.n, &it, &m) == 1) {
                char pod[254];
                size_t ai = 0;
                struct json_member am;

                e = (struct jv){ m.val, m.val_len, m.type };
                /* conditions.ready: null or absent means ready */
                if (jget(e, "conditions", &cond) && jget(cond, "ready", &ready) && ready.t == JSON_FALSE)
                        continue;
                if (!jpath_str(e, "targetRef.name", pod, sizeof pod))
                        snprintf(pod, sizeof pod, "%s", oname);
                if (!jget(e, "addresses", &addrs) || addrs.t != JSON_ARRAY)
                        continue;
                while (json_iter(addrs.p, addrs.n, &ai, &am) == 1) {
                        char ip[64];
                        a = (struct jv){ am.val, am.val_len, am.type };
                        if (jstr(a, ip, sizeof ip)) {
                                r = push_ep(eps, n, pod, ip, port, model);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

static int pod_endpoints(struct k8s_client *c, struct jv obj, const char *oname, struct k8s_endpoint **eps, size_t *n) {
        struct jv v, conds, ctrs;
        struct json_member m;
        char model[SY_CFG_NAME_MAX + 1], tmp[64], ip[64];
        uint16_t port = c->port_num;
        bool ready = false;
        size_t it;

        if (jpath(obj, "metadata.deletionTimestamp", &v) && v.t != JSON_NULL)
                return 0;
        if (!jpath_str(obj, "status.phase", tmp, sizeof tmp) || strcmp(tmp, "Running") != 0)
                return 0;
        if (jpath(obj, "status.conditions", &conds) && conds.t == JSON_ARRAY) {
                it = 0;
                while (json_iter(conds.p, conds.n, &it, &m) == 1) {
                        struct jv cnd = { m.val, m.val_len, m.type };
                        char type[32], st[16];
                        if (jpath_str(cnd, "type", type, sizeof type) && strcmp(type, "Ready") == 0 &&
                            jpath_str(cnd, "status", st, sizeof st))
                                ready = strcmp(st, "True") == 0;
                }
        }
        if (!ready || !jpath_str(obj, "status.podIP", ip, sizeof ip) || !ip[0])
                return 0;
        if (c->port_name) {
                port = 0;
                if (jpath(obj, "spec.containers", &ctrs) && ctrs.t == JSON_ARRAY) {
                        it = 0;
                        while (!port && json_iter(ctrs.p, ctrs.n, &it, &m) == 1) {
                                struct jv ctr = { m.val, m.val_len, m.type }, ports;
                                if (jget(ctr, "ports", &ports))
                                        port = named_port(c, ports, "containerPort");
                        }
                }
                if (!port)
                        return 0;
        }
        model_of(c, obj, model, sizeof model);
        return push_ep(eps, n, oname, ip, port, model);
}

static ssize_t obj_index(struct k8s_client *c, const char *name) {
        for (size_t i = 0; i < c->n_objs; i++)
                if (strcmp(c->objs[i].name, name) == 0)
                        return (ssize_t)i;
        return -1;
}

static void obj_remove(struct k8s_client *c, size_t i) {
        free(c->objs[i].name);
        free(c->objs[i].eps);
        c->objs[i] = c->objs[--c->n_objs];
}

static void objs_clear(struct k8s_client *c) {
        while (c->n_objs)
                obj_remove(c, c->n_objs - 1);
}

/* ADDED / MODIFIED (or a list item): replaces the object's endpoints. */
static int obj_upsert(struct k8s_client *c, struct jv obj) {
        char name[254];
        struct k8s_endpoint *eps = NULL;
        size_t n = 0;
        ssize_t i;
        int r;

        if (!jpath_str(obj, "metadata.name", name, sizeof name))
                return -EBADMSG;
        r = c->resource == SY_K8S_PODS ? pod_endpoints(c, obj, name, &eps, &n)
                                       : slice_endpoints(c, obj, name, &eps, &n);
        if (r < 0) {
                free(eps);
                return r;
        }
        i = obj_index(c, name);
        if (i < 0) {
                struct obj *v = realloc(c->objs, (c->n_objs + 1) * sizeof *v);
                char *s = strdup(name);
                if (!v || !s) {
                        if (v)
                                c->objs = v;
                        free(s);
                        free(eps);
                        return -ENOMEM;
                }
                c->objs = v;
                i = (ssize_t)c->n_objs++;
                c->objs[i] = (struct obj){ .name = s };
        }
        free(c->objs[i].eps);
        c->objs[i].eps = eps;
        c->objs[i].n = n;
        return 0;
}

static int obj_delete(struct k8s_client *c, struct jv obj) {
        char name[254];
        ssize_t i;

        if (!jpath_str(obj, "metadata.name", name, sizeof name))
                return -EBADMSG;
        i = obj_index(c, name);
        if (i >= 0)
                obj_remove(c, (size_t)i);
        return 0;
}

static int ep_cmp(const void *a, const void *b) {
        const struct k8s_endpoint *x = a, *y = b;
        int r = strcmp(x->name, y->name);
        if (r)
                return r;
        r = strcmp(x->ip, y->ip);
        return r ? r : (int)x->port - (int)y->port;
}

/* The flat, sorted, deduplicated set; the callback when it changed. */
static int publish(struct k8s_client *c) {
        struct k8s_endpoint *all = NULL;
        size_t n = 0, cap = 0, k = 0;

        for (size_t i = 0; i < c->n_objs; i++)
                cap += c->objs[i].n;
        if (cap) {
                all = malloc(cap * sizeof *all);
                if (!all)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_objs; i++)
                for (size_t j = 0; j < c->objs[i].n; j++)
                        all[n++] = c->objs[i].eps[j];
        if (n)
                qsort(all, n, sizeof *all, ep_cmp);
        /* an address in two objects (a pod moving between slices) once */
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                for (size_t j = 0; j < k && !dup; j++)
                        dup = strcmp(all[j].ip, all[i].ip) == 0 && all[j].port == all[i].port;
                if (!dup)
                        all[k++] = all[i];
        }
        n = k;
        if (c->have_last && n == c->n_last && (n == 0 || memcmp(all, c->last, n * sizeof *all) == 0)) {
                free(all);
                return 0;
        }
        free(c->last);
        c->last = all;
        c->n_last = n;
        c->have_last = true;
        count(c, &c->stats.changes);
        if (c->fn)
                c->fn(c->arg, all, n);
        return 1;
}

/* ---- connections ------------------------------------------------------------------------- */

/* Waits for events on the connection's socket; -ECANCELED if stop_fd,
 * -EINTR if a relist was asked for, -ETIMEDOUT at the deadline. */
static int wait_io(struct conn *k, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p[3] = {
                        { .fd = k->fd, .events = events },
                        { .fd = k->stop_fd, .events = POLLIN },
                        { .fd = k->cl->wake_fd, .events = POLLIN },
                };
                uint64_t now = now_ms();
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(p, 3, (int)(deadline - now > 1000000 ? 1000000 : deadline - now));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (p[1].revents)
                        return -ECANCELED;
                if (p[2].revents) {
                        uint64_t v;
                        if (read(k->cl->wake_fd, &v, sizeof v) < 0) {
                                /* drained by someone else: fine */
                        }
                        return -EINTR;
                }
                if (p[0].revents)
                        return 0;
        }
}

static void conn_close(struct conn *k) {
#ifdef HAVE_OPENSSL
        if (k->ssl) {
                SSL_free(k->ssl);
                k->ssl = NULL;
        }
#endif
        if (k->fd >= 0)
                close(k->fd);
        k->fd = -1;
}

#ifdef HAVE_OPENSSL
/* After an SSL_* call on k returned x: when OpenSSL wants the socket
 * readable or writable, waits for it and returns 1 (call again); else 0,
 * with the SSL error in *ret_err; < 0 when the wait failed. */
static int tls_wait(struct conn *k, int x, uint64_t deadline, int *ret_err) {
        int e = SSL_get_error(k->ssl, x), r;

        *ret_err = e;
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return 0;
        r = wait_io(k, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        return r < 0 ? r : 1;
}
#endif

static int conn_open(struct conn *k, uint64_t deadline) {
        struct k8s_client *c = k->cl;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
        int r = getaddrinfo(c->host, c->port, &hints, &ai), one = 1;

        k->fd = -1;
        if (r != 0) {
                set_error(c, "cannot resolve %s: %s", c->host, gai_strerror(r));
                return -EHOSTUNREACH;
        }
        r = -ECONNREFUSED;
        for (a = ai; a; a = a->ai_next) {
                int err = 0;
                socklen_t l = sizeof err;

                k->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (k->fd < 0)
                        continue;
                setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (connect(k->fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        r = -errno;
                        conn_close(k);
                        continue;
                }
                r = wait_io(k, POLLOUT, deadline);
                if (r == 0) {
                        getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                        r = err ? -err : 0;
                }
                if (r == 0)
                        break;
                conn_close(k);
                if (r == -ECANCELED || r == -EINTR)
                        break;
        }
        freeaddrinfo(ai);
        if (r < 0) {
                if (r != -ECANCELED && r != -EINTR)
                        set_error(c, "cannot connect to %s: %s", c->scheme_host, strerror(-r));
                return r;
        }
#ifdef HAVE_OPENSSL
        if (c->tls) {
                unsigned char tmp[16];
                bool is_ip = inet_pton(AF_INET, c->host, tmp) == 1 || inet_pton(AF_INET6, c->host, tmp) == 1;

                k->ssl = SSL_new(c->ctx);
                if (!k->ssl || SSL_set_fd(k->ssl, k->fd) != 1) {
                        conn_close(k);
                        return -ENOMEM;
                }
                if (is_ip) {
                        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->ssl), c->host);
                } else {
                        SSL_set_tlsext_host_name(k->ssl, c->host);
                        SSL_set1_host(k->ssl, c->host);
                }
                for (;;) {
                        int x = SSL_connect(k->ssl), e;
                        if (x == 1)
                                break;
                        r = tls_wait(k, x, deadline, &e);
                        if (r == 1)
                                continue;
                        if (r == 0)
                                r = -EPROTO;
                        goto tls_fail;
                }
        }
#endif
        return 0;
#ifdef HAVE_OPENSSL
tls_fail:
        if (r == -EPROTO) {
                long v = SSL_get_verify_result(k->ssl);
                unsigned long e = ERR_get_error();
                char eb[128];
                ERR_error_string_n(e, eb, sizeof eb);
                set_error(c, "TLS handshake with %s failed: %s%s%s", c->scheme_host,
                          v != X509_V_OK ? X509_verify_cert_error_string(v) : eb,
                          v != X509_V_OK ? " (certificate verification)" : "", "");
        } else if (r != -ECANCELED && r != -EINTR) {
                set_error(c, "TLS handshake with %s: %s", c->scheme_host, strerror(-r));
        }
        ERR_clear_error();
        conn_close(k);
        return r;
#endif
}

/* > 0 bytes, 0 end of stream, < 0 error (-ECANCELED, -EINTR, -ETIMEDOUT, -EIO). */
static ssize_t conn_read(struct conn *k, char *buf, size_t cap, uint64_t deadline) {
        for (;;) {
                ssize_t n;
                int r;
#ifdef HAVE_OPENSSL
                if (k->ssl) {
                        int x = SSL_read(k->ssl, buf, (int)(cap > 1 << 30 ? 1 << 30 : cap)), e;
                        if (x > 0)
                                return x;
                        r = tls_wait(k, x, deadline, &e);
                        if (r < 0)
                                return r;
                        if (r == 1)
                                continue;
                        if (e == SSL_ERROR_ZERO_RETURN)
                                return 0;
                        ERR_clear_error();
                        /* an unclean close (no close_notify) is an end of stream too; the
                         * caller decides from the framing whether it was complete */
                        return e == SSL_ERROR_SYSCALL ? 0 : -EIO;
                }
#endif
                n = recv(k->fd, buf, cap, 0);
                if (n >= 0)
                        return n;
                if (errno != EAGAIN && errno != EINTR)
                        return errno == ECONNRESET ? 0 : -errno;
                r = wait_io(k, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
}

static int conn_write(struct conn *k, const char *p, size_t len, uint64_t deadline) {
        while (len > 0) {
                ssize_t n;
                int r;
#ifdef HAVE_OPENSSL
                if (k->ssl) {
                        int x = SSL_write(k->ssl, p, (int)len), e;
                        if (x > 0) {
                                p += x;
                                len -= (size_t)x;
                                continue;
                        }
                        r = tls_wait(k, x, deadline, &e);
                        if (r < 0)
                                return r;
                        if (r == 1)
                                continue;
                        ERR_clear_error();
                        return -EIO;
                }
#endif
                n = send(k->fd, p, len, MSG_NOSIGNAL);
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                r = wait_io(k, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A small file's text without its trailing newlines and spaces (NULL if
 * it cannot be read); *ret_len its length. */
static char *read_trimmed(const char *path, size_t max, size_t *ret_len) {
        char *s = NULL;
        size_t n = 0;

        if (sy_read_file(path, max, &s, &n) < 0)
                return NULL;
        while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
                s[--n] = 0;
        *ret_len = n;
        return s;
}

/* ---- one request ------------------------------------------------------------------------- */

typedef int (*body_fn)(struct k8s_client *c, void *arg, const char *data, size_t len);

/* Sends GET path, reads the head (status into *ret_status), then hands the
 * body to fn as it arrives. Returns 1 when the body ended by its framing
 * (Content-Length or the last chunk), 0 when the connection closed first
 * (for a watch: dropped), < 0 on errors; fn's errors are passed on. The
 * body deadline moves forward by idle_ms with every byte. */
static int request(struct k8s_client *c, int stop_fd, const char *path, unsigned idle_ms, body_fn fn, void *arg,
                   int *ret_status) {
        struct conn k = { .cl = c, .fd = -1, .stop_fd = stop_fd };
        uint64_t deadline = now_ms() + c->io_timeout_ms;
        char *token = NULL, *head = NULL;
        struct buf req = { 0 };
        size_t tlen = 0, hlen = 0;
        uint64_t clen = 0;
        bool chunked = false, have_len = false;
        struct http_chunked ch = { 0 };
        int r, status = 0;

        head = malloc(HEAD_MAX);
        if (!head)
                return -ENOMEM;
        if (c->token_file)
                token = read_trimmed(c->token_file, 65536, &tlen);
        r = buf_printf(&req,
                       "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                       "User-Agent: switchyard\r\nConnection: close\r\n",
                       path, c->scheme_host);
        if (r >= 0 && token && tlen)
                r = buf_printf(&req, "Authorization: Bearer %s\r\n", token);
        if (r >= 0)
                r = buf_append(&req, "\r\n", 2);
        if (token) {
                explicit_bzero(token, tlen);
                free(token);
        }
        if (r < 0)
                goto out;
        r = conn_open(&k, deadline);
        if (r < 0)
                goto out;
        r = conn_write(&k, req.p, req.len, deadline);
        if (r < 0)
                goto io_err;
        /* head */
        for (;;) {
                struct http_header hdrs[64];
                struct http_response res = { .headers = hdrs };
                struct http_limits lim = { .max_header_bytes = HEAD_MAX, .max_headers = 64 };
                ssize_t n = conn_read(&k, head + hlen, HEAD_MAX - hlen, deadline);
                int p, f;

                if (n < 0) {
                        r = (int)n;
                        goto io_err;
                }
                if (n == 0) {
                        r = -ECONNRESET;
                        goto io_err;
                }
                hlen += (size_t)n;
                p = http_parse_response(head, hlen, &lim, &res);
                if (p == -EAGAIN && hlen < HEAD_MAX)
                        continue;
                if (p < 0) {
                        r = -EBADMSG;
                        goto io_err;
                }
                status = res.status;
                f = http_response_framing(&res, &clen);
                if (f < 0) {
                        r = -EBADMSG;
                        goto io_err;
                }
                chunked = f == HTTP_BODY_CHUNKED;
                have_len = f == HTTP_BODY_LENGTH;
                memmove(head, head + p, hlen - (size_t)p);
                hlen -= (size_t)p;
                break;
        }
        *ret_status = status;
        if (status != 200) {
                r = 1; /* the caller reports the status; the body (a Status) is not read */
                goto out;
        }
        /* body: what came with the head, then more */
        deadline = now_ms() + idle_ms;
        for (;;) {
                size_t off = 0;

                while (off < hlen) {
                        if (chunked) {
                                const char *d;
                                size_t used = 0, dl = 0;
                                int s = http_chunked_step(&ch, head + off, hlen - off, &used, &d, &dl);
                                if (s < 0) {
                                        r = -EBADMSG;
                                        goto io_err;
                                }
                                off += used;
                                if (dl && (r = fn(c, arg, d, dl)) < 0)
                                        goto out;
                                if (s == 1) {
                                        r = 1;
                                        goto out;
                                }
                                if (used == 0 && dl == 0)
                                        break;
                        } else {
                                size_t take = hlen - off;
                                if (have_len && take > clen)
                                        take = (size_t)clen;
                                if (take && (r = fn(c, arg, head + off, take)) < 0)
                                        goto out;
                                off += take;
                                if (have_len) {
                                        clen -= take;
                                        if (clen == 0) {
                                                r = 1;
                                                goto out;
                                        }
                                }
                                break;
                        }
                }
                if (have_len && clen == 0) {
                        r = 1;
                        goto out;
                }
                memmove(head, head + off, hlen - off);
                hlen -= off;
                if (hlen == HEAD_MAX) {
                        r = -EBADMSG;
                        goto io_err;
                }
                {
                        ssize_t n = conn_read(&k, head + hlen, HEAD_MAX - hlen, deadline);
                        if (n == 0) {
                                r = (!chunked && !have_len) ? 1 : 0;
                                goto out;
                        }
                        if (n < 0) {
                                r = (int)n;
                                goto io_err;
                        }
                        hlen += (size_t)n;
                        deadline = now_ms() + idle_ms;
                }
        }
io_err:
        if (r != -ECANCELED && r != -EINTR && r != -ETIMEDOUT)
                set_error(c, "%s (GET %.100s)", r == -EBADMSG ? "malformed HTTP answer" : strerror(-r), path);
        else if (r == -ETIMEDOUT)
                set_error(c, "timed out (GET %.100s)", path);
out:
        conn_close(&k);
        buf_free(&req);
        free(head);
        return r;
}

/* ---- list -------------------------------------------------------------------------------- */

static int collect(struct k8s_client *c, void *arg, const char *data, size_t len) {
        struct buf *b = arg;

        if (b->len + len > LIST_MAX) {
                set_error(c, "list answer larger than %u bytes", LIST_MAX);
                return -EFBIG;
        }
        return buf_append(b, data, len) < 0 ? -ENOMEM : 0;
}

static void base_path(struct k8s_client *c, char *out, size_t cap) {
        if (c->resource == SY_K8S_PODS)
                snprintf(out, cap, "/api/v1/namespaces/%s/pods", c->ns);
        else
                snprintf(out, cap, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices", c->ns);
}

/* A list answer's body: the objects replace the set, then publish. */
static int list_apply(struct k8s_client *c, const char *p, size_t len) {
        struct json_member top[16];
        size_t n = 0, off = 0, it = 0;
        struct jv root, items, v;
        struct json_member m;
        struct json_limits lim = { .max_depth = 64, .max_members = 16 };
        int r;

        r = json_scan_object(p ? p : "", len, &lim, top, &n, &off);
        if (r < 0) {
                set_error(c, "list: not a JSON object");
                return -EBADMSG;
        }
        root = (struct jv){ p, len, JSON_OBJECT };
        if (!jpath_str(root, "metadata.resourceVersion", c->rv, sizeof c->rv)) {
                set_error(c, "list: no metadata.resourceVersion");
                return -EBADMSG;
        }
        objs_clear(c);
        if (jget(root, "items", &items) && items.t == JSON_ARRAY)
                while (json_iter(items.p, items.n, &it, &m) == 1) {
                        v = (struct jv){ m.val, m.val_len, m.type };
                        r = obj_upsert(c, v);
                        if (r == -ENOMEM)
                                return r;
                }
        count(c, &c->stats.lists);
        r = publish(c);
        return r < 0 ? r : 0;
}

static int do_list(struct k8s_client *c, int stop_fd) {
        char path[2048], base[512];
        struct buf b = { 0 };
        int status = 0, r;

        base_path(c, base, sizeof base);
        snprintf(path, sizeof path, "%s?%s%s", base, c->selector_q ? "labelSelector=" : "",
                 c->selector_q ? c->selector_q : "");
        r = request(c, stop_fd, path, c->io_timeout_ms, collect, &b, &status);
        if (r < 0)
                goto out;
        if (r == 0 && status == 200) {
                set_error(c, "list: connection closed before the end of the answer");
                r = -ECONNRESET;
                goto out;
        }
        if (status != 200) {
                set_error(c, "list %s: HTTP %d%s", path, status,
                          status == 401   ? " (token refused)"
                          : status == 403 ? " (RBAC: list not allowed)"
                                          : "");
                r = -EPROTO;
                goto out;
        }
        r = list_apply(c, b.p, b.len);
out:
        buf_free(&b);
        return r;
}

/* ---- watch ------------------------------------------------------------------------------- */

enum { W_GONE = 1, W_ERROR = 2 };

struct wstate {
        struct buf line;
        int outcome; /* 0, W_GONE (relist), W_ERROR */
};

static int handle_event(struct k8s_client *c, struct wstate *w, const char *p, size_t len) {
        struct json_member top[8];
        struct json_limits lim = { .max_depth = 64, .max_members = 8 };
        size_t n = 0, off = 0;
        struct jv root, obj;
        char type[16], rv[64];
        long code = 0;

        if (json_scan_object(p, len, &lim, top, &n, &off) < 0) {
                set_error(c, "watch: an event is not a JSON object");
                w->outcome = W_ERROR;
                return -EBADMSG;
        }
        root = (struct jv){ p, len, JSON_OBJECT };
        if (!jpath_str(root, "type", type, sizeof type) || !jget(root, "object", &obj) || obj.t != JSON_OBJECT) {
                set_error(c, "watch: an event without type or object");
                w->outcome = W_ERROR;
                return -EBADMSG;
        }
        if (strcmp(type, "ERROR") == 0) {
                struct jv cv;
                char msg[128] = "";
                if (jget(obj, "code", &cv))
                        jnum(cv, &code);
                jpath_str(obj, "message", msg, sizeof msg);
                if (code == 410) {
                        log_info("kubernetes discovery: watch expired (%s); listing again", msg);
                        count(c, &c->stats.expired);
                        w->outcome = W_GONE;
                } else {
                        set_error(c, "watch: ERROR event %ld: %s", code, msg);
                        w->outcome = W_ERROR;
                }
                return -EPIPE; /* ends this watch */
        }
        if (jpath_str(obj, "metadata.resourceVersion", rv, sizeof rv) && rv[0])
                snprintf(c->rv, sizeof c->rv, "%s", rv);
        if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
                if (obj_upsert(c, obj) == -ENOMEM)
                        return -ENOMEM;
        } else if (strcmp(type, "DELETED") == 0) {
                obj_delete(c, obj);
        } else if (strcmp(type, "BOOKMARK") != 0) {
                log_debug("kubernetes discovery: event type %s ignored", type);
        }
        count(c, &c->stats.events);
        return publish(c) < 0 ? -ENOMEM : 0;
}

static int watch_data(struct k8s_client *c, void *arg, const char *data, size_t len) {
        struct wstate *w = arg;
        size_t start = 0;
        int r;

        for (size_t i = 0; i < len; i++) {
                if (data[i] != '\n')
                        continue;
                if (w->line.len) {
                        if (buf_append(&w->line, data + start, i - start) < 0)
                                return -ENOMEM;
                        r = handle_event(c, w, w->line.p, w->line.len);
                        w->line.len = 0;
                } else if (i > start) {
                        r = handle_event(c, w, data + start, i - start);
                } else {
                        r = 0;
                }
                if (r < 0)
                        return r;
                start = i + 1;
        }
        if (start < len) {
                if (w->line.len + (len - start) > EVENT_MAX) {
                        set_error(c, "watch: an event larger than %u bytes", EVENT_MAX);
                        w->outcome = W_ERROR;
                        return -EFBIG;
                }
                if (buf_append(&w->line, data + start, len - start) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Returns 1: ended normally (watch again), 0: dropped (again after a
 * backoff), -EAGAIN: relist, other < 0: errors (-ECANCELED: stop). */
static int do_watch(struct k8s_client *c, int stop_fd) {
        char path[2048], base[512];
        struct wstate w = { 0 };
        int status = 0, r;

        base_path(c, base, sizeof base);
        snprintf(path, sizeof path, "%s?%s%s%swatch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u",
                 base, c->selector_q ? "labelSelector=" : "", c->selector_q ? c->selector_q : "",
                 c->selector_q ? "&" : "", c->rv, c->watch_timeout_s);
        r = request(c, stop_fd, path, (c->watch_timeout_s + 30) * 1000u, watch_data, &w, &status);
        if (status == 200)
                count(c, &c->stats.watches);
        buf_free(&w.line);
        if (status == 410 || w.outcome == W_GONE) {
                if (status == 410)
                        count(c, &c->stats.expired);
                return -EAGAIN;
        }
        if (r == -EINTR)
                return -EAGAIN; /* relist asked for */
        if (w.outcome == W_ERROR)
                return -EAGAIN;
        if (r < 0)
                return r;
        if (status != 200) {
                set_error(c, "watch: HTTP %d", status);
                return -EAGAIN;
        }
        return r;
}

/* ---- the loop ---------------------------------------------------------------------------- */

/* Sleeps ms; -ECANCELED when stop_fd fires, 1 when a relist was asked for. */
static int nap(struct k8s_client *c, int stop_fd, unsigned ms) {
        struct pollfd p[2] = { { .fd = stop_fd, .events = POLLIN }, { .fd = c->wake_fd, .events = POLLIN } };
        int r = poll(p, 2, (int)ms);

        if (r > 0 && p[0].revents)
                return -ECANCELED;
        if (r > 0 && p[1].revents) {
                uint64_t v;
                if (read(c->wake_fd, &v, sizeof v) < 0) {
                        /* nothing */
                }
                return 1;
        }
        return 0;
}

static unsigned next_backoff(const struct k8s_client *c, unsigned ms) {
        return ms * 2 > c->backoff_max_ms ? c->backoff_max_ms : ms * 2;
}

int k8s_client_run(struct k8s_client *c, int stop_fd) {
        unsigned backoff = c->backoff_min_ms;
        bool listed = false;

        for (;;) {
                int r;

                if (!listed) {
                        r = do_list(c, stop_fd);
                        if (r == -ECANCELED)
                                return 0;
                        if (r == -EINTR)
                                continue;
                        if (r < 0) {
                                if (nap(c, stop_fd, backoff) < 0)
                                        return 0;
                                backoff = next_backoff(c, backoff);
                                continue;
                        }
                        listed = true;
                        backoff = c->backoff_min_ms;
                }
                r = do_watch(c, stop_fd);
                if (r == -ECANCELED)
                        return 0;
                if (r == -EAGAIN) {
                        listed = false;
                        continue;
                }
                if (r == 1) {
                        backoff = c->backoff_min_ms;
                        continue;
                }
                /* dropped: watch again from the last version, after a pause */
                r = nap(c, stop_fd, backoff);
                if (r < 0)
                        return 0;
                if (r == 1)
                        listed = false;
                backoff = next_backoff(c, backoff);
        }
}

void k8s_client_relist(struct k8s_client *c) {
        uint64_t one = 1;

        if (write(c->wake_fd, &one, sizeof one) < 0) {
                /* the counter is already set */
        }
}

void k8s_client_get_stats(struct k8s_client *c, struct k8s_stats *ret) {
        pthread_mutex_lock(&c->lock);
        *ret = c->stats;
        pthread_mutex_unlock(&c->lock);
}

/* ---- setup ------------------------------------------------------------------------------- */

int k8s_client_new(const struct k8s_opts *o, k8s_change_fn fn, void *arg, struct k8s_client **ret, char *err,
                   size_t errlen) {
        struct k8s_client *c = calloc(1, sizeof *c);
        char url[512], sel[3 * 1024 + 1];
        const char *h, *he, *p;
        int r = -ENOMEM;

        err_clear(err, errlen);
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        c->fn = fn;
        c->arg = arg;
        c->resource = o->resource;
        c->port_num = o->port;
        c->watch_timeout_s = o->watch_timeout_s ? o->watch_timeout_s : 300;
        c->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 500;
        c->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 30000;
        if (c->backoff_max_ms < c->backoff_min_ms)
                c->backoff_max_ms = c->backoff_min_ms;
        c->io_timeout_ms = o->io_timeout_ms ? o->io_timeout_ms : 10000;
        if (c->wake_fd < 0)
                goto fail;
        if (o->api_server) {
                snprintf(url, sizeof url, "%s", o->api_server);
        } else {
                const char *eh = getenv("KUBERNETES_SERVICE_HOST"), *ep = getenv("KUBERNETES_SERVICE_PORT");
                if (!eh || !*eh) {
                        snprintf(err, errlen,
                                 "no api_server given and KUBERNETES_SERVICE_HOST is not set "
                                 "(not running in a pod?)");
                        r = -EINVAL;
                        goto fail;
                }
                snprintf(url, sizeof url, strchr(eh, ':') ? "https://[%s]:%s" : "https://%s:%s", eh,
                         ep && *ep ? ep : "443");
        }
        if (strncasecmp(url, "https://", 8) == 0) {
                c->tls = true;
                h = url + 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                h = url + 7;
        } else {
                snprintf(err, errlen, "api_server %s: not an http(s) URL", url);
                r = -EINVAL;
                goto fail;
        }
        if (*h == '[') {
                he = strchr(h, ']');
                if (!he) {
                        snprintf(err, errlen, "api_server %s: bad IPv6 literal", url);
                        r = -EINVAL;
                        goto fail;
                }
                c->host = strndup(h + 1, (size_t)(he - h - 1));
                p = he + 1;
        } else {
                he = h + strcspn(h, ":/");
                c->host = strndup(h, (size_t)(he - h));
                p = he;
        }
        snprintf(c->port, sizeof c->port, "%s", c->tls ? "443" : "80");
        if (*p == ':')
                snprintf(c->port, sizeof c->port, "%.*s", (int)strcspn(p + 1, "/"), p + 1);
        c->scheme_host = strndup(h, (size_t)(p - h) + (*p == ':' ? 1 + strcspn(p + 1, "/") : 0));
        if (!c->host || !c->scheme_host)
                goto fail;
#ifndef HAVE_OPENSSL
        if (c->tls) {
                snprintf(err, errlen, "api_server %s: this build has no TLS (built without OpenSSL)", url);
                r = -ENOTSUP;
                goto fail;
        }
#else
        if (c->tls) {
                const char *ca = o->ca_file ? o->ca_file : SA_DIR "/ca.crt";
                c->ctx = SSL_CTX_new(TLS_client_method());
                if (!c->ctx)
                        goto fail;
                SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
                SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
                if (SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1) {
                        snprintf(err, errlen, "cannot load the CA file %s", ca);
                        ERR_clear_error();
                        r = -EINVAL;
                        goto fail;
                }
        }
#endif
        c->token_file = strdup(o->token_file ? o->token_file : SA_DIR "/token");
        if (o->namespace_) {
                c->ns = strdup(o->namespace_);
        } else {
                size_t n;
                c->ns = read_trimmed(SA_DIR "/namespace", 4096, &n);
                if (!c->ns) {
                        snprintf(err, errlen, "no namespace given and %s/namespace cannot be read", SA_DIR);
                        r = -EINVAL;
                        goto fail;
                }
        }
        if (o->label_selector && *o->label_selector) {
                if (k8s_query_escape(o->label_selector, sel, sizeof sel) < 0) {
                        snprintf(err, errlen, "label_selector too long");
                        r = -EINVAL;
                        goto fail;
                }
                c->selector_q = strdup(sel);
                if (!c->selector_q)
                        goto fail;
        }
        if (o->port_name && !(c->port_name = strdup(o->port_name)))
                goto fail;
        if (o->model_label && !(c->model_label = strdup(o->model_label)))
                goto fail;
        if (!c->token_file || !c->ns)
                goto fail;
        if (!c->port_name && !c->port_num) {
                snprintf(err, errlen, "no port given");
                r = -EINVAL;
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        err_oom(r, err, errlen, "");
        k8s_client_free(c);
        return r;
}

void k8s_client_free(struct k8s_client *c) {
        if (!c)
                return;
        objs_clear(c);
        free(c->objs);
        free(c->last);
        free(c->scheme_host);
        free(c->host);
        free(c->token_file);
        free(c->ca_file);
        free(c->ns);
        free(c->selector_q);
        free(c->port_name);
        free(c->model_label);
        if (c->wake_fd >= 0)
                close(c->wake_fd);
#ifdef HAVE_OPENSSL
        if (c->ctx)
                SSL_CTX_free(c->ctx);
#endif
        pthread_mutex_destroy(&c->lock);
        free(c);
}
