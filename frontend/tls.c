/* TLS for the relay's upstream connections (relay.c calls these hooks):
 * OpenSSL on memory BIOs (http/tls.h), so the io_uring send and recv
 * stay as they are: what the relay would send is encrypted into tls->out
 * and sent from there, what a recv brings (into tls->in) is decrypted
 * into u->in, where the relay reads the response as over plain HTTP.
 * Also the upstream's own headers (API key, extra_headers), which replace
 * the client's headers of the same names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/log.h"
#include "frontend/frontend-internal.h"
#include "http/tls.h"

struct up_tls {
        struct tls_mem m;
        struct buf in;  /* ciphertext received */
        struct buf out; /* ciphertext to send; out[off..len) not sent yet */
        size_t off;
        bool want_req; /* the current request is to be written once the handshake is done */
        bool failed;
};

const struct tls_upstream *relay_tls_find(const struct conn *c, const struct snap_upstream *su) {
        return c->gen ? tls_table_find(c->gen->tls, su->name) : NULL;
}

#define DEST_HEADER "x-gateway-destination-endpoint"

static bool dropped(const struct tls_upstream *tu, bool dest, const char *line, size_t len) {
        size_t dl = sizeof DEST_HEADER - 1;

        /* the endpoint switchyard picked replaces the client's */
        if (dest && len > dl && line[dl] == ':' && strncasecmp(line, DEST_HEADER, dl) == 0)
                return true;
        for (size_t i = 0; tu && i < tu->n_drop; i++) {
                size_t n = strlen(tu->drop[i]);

                if (len > n && line[n] == ':' && strncasecmp(line, tu->drop[i], n) == 0)
                        return true;
        }
        return false;
}

/* upreq = the request's shared head (the client's copies of the
 * upstream's own headers left out) + the upstream's headers. The shared
 * head as built is kept in upshared while a request goes to an upstream
 * that filters it, for a retry elsewhere. */
void relay_tls_head(struct conn *c, const struct tls_upstream *tu, const struct snap_upstream *dest) {
        bool saved = c->upshared_key == c->t_parsed_ns + 1;

        if (!saved && !(tu && tu->n_drop) && !dest) {
                c->upreq.len = c->head_len_up;
                return;
        }
        if (!saved) {
                c->upshared.len = 0;
                if (buf_append(&c->upshared, c->upreq.p, c->head_len_up) < 0) {
                        c->upreq.len = c->head_len_up;
                        goto headers;
                }
                c->upshared_key = c->t_parsed_ns + 1;
        }
        c->upreq.len = 0;
        for (size_t i = 0; i < c->upshared.len;) {
                const char *p = c->upshared.p + i, *e = memchr(p, '\n', c->upshared.len - i);
                size_t n = e ? (size_t)(e - p) + 1 : c->upshared.len - i;

                /* the request line first, never dropped */
                if (i == 0 || !dropped(tu, dest, p, n))
                        buf_append(&c->upreq, p, n);
                i += n;
        }
        c->head_len_up = c->upreq.len;
        if (!tu && !dest) /* back to the head as built, for an upstream with no headers */
                c->upshared_key = 0;
headers:
        if (tu && tu->headers_len)
                buf_append(&c->upreq, tu->headers, tu->headers_len);
        if (dest)
                buf_printf(&c->upreq, strchr(dest->host, ':') ? DEST_HEADER ": [%s]:%u\r\n" : DEST_HEADER ": %s:%u\r\n",
                           dest->host, dest->port);
}

int relay_tls_via(const struct conn *c, const struct tls_upstream **tu, int upstream) {
        const struct snapshot *s = c->w->snap;

        if (!*tu || !(*tu)->via)
                return upstream;
        for (uint32_t i = 0; i < s->n_upstreams; i++) {
                const struct snap_upstream *g = &s->upstreams[i];

                if (!g->removed && g->resolved && g->kind == SY_UPSTREAM_GATEWAY && strcmp(g->name, (*tu)->via) == 0) {
                        *tu = relay_tls_find(c, g);
                        return (int)i;
                }
        }
        return -1;
}

bool relay_tls_on(const struct tls_upstream *tu) {
        return tu && tu->tls;
}

int relay_tls_attach(struct upconn *u, const struct tls_upstream *tu) {
        char err[256];
        struct up_tls *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        if (tls_mem_init(&t->m, tu, err, sizeof err) < 0) {
                log_warn("upstream %s: %s", tu->name, err);
                free(t);
                return -EPROTO;
        }
        u->tls = t;
        return 0;
}

void relay_tls_free(struct upconn *u) {
        struct up_tls *t = u->tls;

        if (!t)
                return;
        tls_mem_free(&t->m);
        buf_free(&t->in);
        buf_free(&t->out);
        free(t);
        u->tls = NULL;
}

struct buf *relay_tls_recv_buf(struct upconn *u) {
        return u->tls ? &u->tls->in : &u->in;
}

/* Sends what OpenSSL has for the peer, one send in flight at a time (the
 * buffer is appended to only while none is). */
static void flush(struct upconn *u) {
        struct up_tls *t = u->tls;
        struct io_uring_sqe *sqe;

        if (u->wr.busy || u->closing)
                return;
        if (t->off == t->out.len)
                t->off = t->out.len = 0;
        if (tls_mem_take(&t->m, &t->out) < 0) {
                t->failed = true;
                shutdown(u->fd, SHUT_RDWR); /* the posted recv reports it */
                return;
        }
        if (t->off == t->out.len)
                return;
        sqe = worker_sqe(u->w);
        io_uring_prep_send(sqe, u->fd, t->out.p + t->off, t->out.len - t->off, MSG_NOSIGNAL);
        io_uring_sqe_set_data(sqe, &u->wr);
        u->wr.busy = true;
}

static void fail_now(struct upconn *u, const char *why) {
        char reason[300];

        if (!u->tls->failed)
                log_warn("upstream %s: %s", u->w->snap->upstreams[u->upstream].name,
                         why ? why : tls_reason(u->tls->m.ssl, reason, sizeof reason));
        u->tls->failed = true;
}

/* The handshake as far as it goes, then the request when one waits. */
static int step(struct upconn *u) {
        struct up_tls *t = u->tls;
        struct conn *c = u->c;
        int r = tls_mem_handshake(&t->m);

        if (r < 0) {
                fail_now(u, NULL);
                return -EPROTO;
        }
        if (r == 1 && t->want_req && c) {
                t->want_req = false;
                if (tls_mem_write(&t->m, c->upreq.p, c->upreq.len) < 0 ||
                    tls_mem_write(&t->m, c->upbody.p, c->upbody.len) < 0) {
                        fail_now(u, NULL);
                        return -EPROTO;
                }
        }
        flush(u);
        return 0;
}

void relay_tls_send(struct upconn *u) {
        u->tls->want_req = true;
        if (step(u) < 0)
                shutdown(u->fd, SHUT_RDWR); /* the posted recv reports it */
}

void relay_tls_sent(struct upconn *u, size_t n) {
        u->tls->off += n;
        flush(u);
}

/* Ciphertext res bytes arrived in tls->in: plaintext bytes put at
 * u->in.p + u->in.len (not counted in u->in.len), -EAGAIN none yet, 0
 * the peer closed, -EPROTO a TLS failure (logged). */
int relay_tls_recv(struct upconn *u, int res) {
        struct up_tls *t = u->tls;
        size_t got = 0;

        if (t->failed)
                return -EPROTO;
        t->in.len += (size_t)res;
        if (tls_mem_feed(&t->m, t->in.p, t->in.len) < 0)
                return -ENOMEM;
        t->in.len = 0;
        if (!t->m.ready && step(u) < 0)
                return -EPROTO;
        if (!t->m.ready)
                return -EAGAIN;
        for (;;) {
                ssize_t n;

                if (buf_reserve(&u->in, got + 16384) < 0)
                        return -ENOMEM;
                n = tls_mem_read(&t->m, u->in.p + u->in.len + got, u->in.cap - u->in.len - got);
                if (n > 0) {
                        got += (size_t)n;
                        continue;
                }
                if (n == -EPROTO) {
                        fail_now(u, NULL);
                        return -EPROTO;
                }
                flush(u); /* anything OpenSSL has to say back (key updates) */
                if (got)
                        return (int)got; /* a close_notify behind it is seen on the next read */
                return n == -EPIPE ? 0 : -EAGAIN;
        }
}

bool relay_tls_idle(struct upconn *u, int res) {
        int r = relay_tls_recv(u, res);

        /* session tickets after the handshake: no data, the connection stays */
        return r == -EAGAIN;
}
