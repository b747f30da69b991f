/* Per-thread event loop: epoll (edge-triggered connections), non-blocking
 * sockets, HTTP/1.1 keep-alive and pipelining, Content-Length and chunked
 * request bodies, and a min-heap of sequence timers that sets the
 * epoll_pwait2 timeout. */
#include "tests/simllm/simllm.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"

#define TAG_LISTEN 1u
#define TAG_EVENT 2u

#define MAX_HEADER_BYTES (64u * 1024)
#define MAX_HEADERS 64
#define RBUF_INITIAL 4096
#define WBUF_INITIAL 4096
#define READ_AHEAD_MAX (256u * 1024) /* buffered pipelined input while busy */

enum conn_state {
        CS_HEADERS, /* waiting for a request head */
        CS_BODY,    /* head parsed, reading the body */
        CS_HUNG,    /* never answered; input discarded */
        CS_LINGER,  /* output shut down; discarding input until EOF */
};

static const struct http_limits limits = { MAX_HEADER_BYTES, MAX_HEADERS };

static void conn_process(struct conn *c);
static void conn_close(struct conn *c);
static void conn_read_more(struct conn *c, bool drain_all);

/* ---- TLS (--tls-cert / --tls-key): SSL over the non-blocking socket ---- */

int sim_tls_init(struct sim *s) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

        if (!ctx)
                return -ENOMEM;
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (!s->o.tls_cert || !s->o.tls_key || SSL_CTX_use_certificate_chain_file(ctx, s->o.tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, s->o.tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
                char e[256] = "both --tls-cert and --tls-key are needed";

                if (ERR_peek_error())
                        ERR_error_string_n(ERR_get_error(), e, sizeof e);
                log_err("TLS: %s", e);
                SSL_CTX_free(ctx);
                return -EINVAL;
        }
        s->tls_ctx = ctx;
        return 0;
}

/* read() / send() with their answers (-1 EAGAIN, 0 the end), over TLS when on */
static ssize_t conn_io(struct conn *c, void *p, size_t n, bool wr) {
        int x, e;

        if (!c->ssl)
                return wr ? send(c->fd, p, n, MSG_NOSIGNAL) : read(c->fd, p, n);
        x = wr ? SSL_write(c->ssl, p, (int)n) : SSL_read(c->ssl, p, (int)n);
        if (x > 0)
                return x;
        e = SSL_get_error(c->ssl, x);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                errno = EAGAIN;
                return -1;
        }
        if (!wr && (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && x == 0)))
                return 0;
        errno = EPIPE;
        return -1;
}

/* The server side of the handshake: true once done (a failure closes c). */
static bool conn_tls_ready(struct conn *c) {
        int x, e;

        if (!c->ssl || c->tls_ready)
                return true;
        x = SSL_accept(c->ssl);
        if (x == 1) {
                c->tls_ready = true;
                return true;
        }
        e = SSL_get_error(c->ssl, x);
        ERR_clear_error();
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                conn_close(c);
        return false;
}

/* ---- timer heap (min by due_ns) ---- */

static bool heap_less(struct sim_seq *a, struct sim_seq *b) {
        return a->due_ns < b->due_ns;
}

static void heap_set(struct worker *w, size_t i, struct sim_seq *q) {
        w->heap[i] = q;
        q->heap_idx = i;
}

static void heap_up(struct worker *w, size_t i) {
        struct sim_seq *q = w->heap[i];

        while (i > 0) {
                size_t p = (i - 1) / 2;

                if (!heap_less(q, w->heap[p]))
                        break;
                heap_set(w, i, w->heap[p]);
                i = p;
        }
        heap_set(w, i, q);
}

static void heap_down(struct worker *w, size_t i) {
        struct sim_seq *q = w->heap[i];

        for (;;) {
                size_t l = 2 * i + 1, m = l;

                if (l >= w->heap_len)
                        break;
                if (l + 1 < w->heap_len && heap_less(w->heap[l + 1], w->heap[l]))
                        m = l + 1;
                if (!heap_less(w->heap[m], q))
                        break;
                heap_set(w, i, w->heap[m]);
                i = m;
        }
        heap_set(w, i, q);
}

void worker_timer_add(struct worker *w, struct sim_seq *q) {
        if (q->heap_idx != SIZE_MAX) {
                worker_timer_del(w, q);
        }
        if (w->heap_len == w->heap_cap) {
                size_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
                struct sim_seq **h = realloc(w->heap, cap * sizeof *h);

                if (!h) {
                        /* cannot pace it: let it run at the next turn */
                        log_err("timer heap: out of memory");
                        return;
                }
                w->heap = h;
                w->heap_cap = cap;
        }
        heap_set(w, w->heap_len++, q);
        heap_up(w, q->heap_idx);
}

void worker_timer_del(struct worker *w, struct sim_seq *q) {
        size_t i = q->heap_idx;

        if (i == SIZE_MAX)
                return;
        q->heap_idx = SIZE_MAX;
        w->heap_len--;
        if (i == w->heap_len)
                return;
        heap_set(w, i, w->heap[w->heap_len]);
        heap_down(w, i);
        heap_up(w, w->heap[i]->heap_idx);
}

double worker_rand(struct worker *w) {
        /* xorshift64* */
        uint64_t x = w->rng;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        w->rng = x;
        return (double)((x * UINT64_C(2685821657736338717)) >> 11) * 0x1.0p-53;
}

/* ---- output ---- */

struct conn *conn_of_seq(struct sim_seq *q) {
        return (struct conn *)((char *)q - offsetof(struct conn, seq));
}

static int wbuf_reserve(struct conn *c, size_t n) {
        size_t cap;
        char *p;

        if (c->wlen + n <= c->wcap)
                return 0;
        if (c->woff > 0) {
                memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
                c->wlen -= c->woff;
                c->woff = 0;
                if (c->wlen + n <= c->wcap)
                        return 0;
        }
        cap = c->wcap ? c->wcap : WBUF_INITIAL;
        while (cap < c->wlen + n)
                cap *= 2;
        p = realloc(c->wbuf, cap);
        if (!p)
                return -ENOMEM;
        c->wbuf = p;
        c->wcap = cap;
        return 0;
}

static void wput(struct conn *c, const void *p, size_t n) {
        if (c->closed)
                return;
        if (wbuf_reserve(c, n) < 0) {
                log_err("connection output: out of memory");
                conn_close(c);
                return;
        }
        memcpy(c->wbuf + c->wlen, p, n);
        c->wlen += n;
}

static void wputs(struct conn *c, const char *s) {
        wput(c, s, strlen(s));
}

static void put_status_line(struct conn *c, int status) {
        char line[64];
        int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, http_reason_phrase(status));

        wput(c, line, (size_t)n);
}

static void put_connection_header(struct conn *c) {
        if (c->close_after || !c->ri.keepalive)
                wputs(c, "Connection: close\r\n");
        else if (c->ri.minor == 0)
                wputs(c, "Connection: keep-alive\r\n");
}

void conn_respond(struct conn *c, int status, const char *ctype, const char *extra, size_t extra_len, const char *body,
                  size_t body_len) {
        char cl[64];
        int n;

        if (c->closed)
                return;
        if (!c->ri.keepalive)
                c->close_after = true;
        put_status_line(c, status);
        if (ctype) {
                wputs(c, "Content-Type: ");
                wputs(c, ctype);
                wputs(c, "\r\n");
        }
        n = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", body_len);
        wput(c, cl, (size_t)n);
        wput(c, c->w->sim->common_hdrs, c->w->sim->common_hdrs_len);
        if (extra_len)
                wput(c, extra, extra_len);
        put_connection_header(c);
        wput(c, "\r\n", 2);
        if (c->ri.method != REQ_HEAD)
                wput(c, body, body_len);
}

void conn_stream_head(struct conn *c, const char *extra, size_t extra_len) {
        if (c->closed)
                return;
        c->stream_chunked = c->ri.minor >= 1;
        if (!c->stream_chunked)
                c->ri.keepalive = false; /* HTTP/1.0: the end of the body is the close */
        put_status_line(c, 200);
        wputs(c, "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n");
        if (c->stream_chunked)
                wputs(c, "Transfer-Encoding: chunked\r\n");
        wput(c, c->w->sim->common_hdrs, c->w->sim->common_hdrs_len);
        if (extra_len)
                wput(c, extra, extra_len);
        put_connection_header(c);
        wput(c, "\r\n", 2);
}

void conn_stream_data(struct conn *c, const char *p, size_t n) {
        char sz[24];
        int k;

        if (c->closed || n == 0)
                return;
        if (!c->stream_chunked) {
                wput(c, p, n);
                return;
        }
        k = snprintf(sz, sizeof sz, "%zx\r\n", n);
        wput(c, sz, (size_t)k);
        wput(c, p, n);
        wput(c, "\r\n", 2);
}

void conn_stream_end(struct conn *c) {
        if (c->closed)
                return;
        if (c->stream_chunked)
                wput(c, "0\r\n\r\n", 5);
        if (!c->ri.keepalive)
                c->close_after = true;
}

/* Hung or lingering connections: read and drop input until EOF. */
static void conn_discard_input(struct conn *c) {
        char junk[4096];

        for (;;) {
                ssize_t n = conn_io(c, junk, sizeof junk, false);

                if (n > 0)
                        continue;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                conn_close(c);
                return;
        }
}

static void conn_linger(struct conn *c) {
        /* Half-close and drain: closing with unread input would send an RST
         * that can destroy the response before the client reads it. */
        shutdown(c->fd, SHUT_WR);
        c->state = CS_LINGER;
        c->rpos = c->rlen = 0;
        if (c->peer_eof)
                conn_close(c);
        else
                conn_discard_input(c);
}

void conn_flush(struct conn *c) {
        while (!c->closed && c->woff < c->wlen) {
                ssize_t n = conn_io(c, c->wbuf + c->woff, c->wlen - c->woff, true);

                if (n > 0) {
                        c->woff += (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return; /* EPOLLOUT (edge) resumes */
                conn_close(c);
                return;
        }
        if (c->closed)
                return;
        c->woff = c->wlen = 0;
        if (c->close_after && !c->busy && c->state != CS_LINGER)
                conn_linger(c);
}

/* ---- connection lifetime ---- */

static void conn_close(struct conn *c) {
        struct worker *w = c->w;

        if (c->closed)
                return;
        c->closed = true;
        if (c->seq.state != SIM_SEQ_IDLE || c->busy) {
                worker_timer_del(w, &c->seq);
                if (c->seq.state != SIM_SEQ_IDLE)
                        atomic_fetch_add_explicit(&w->sim->stats[w->idx].cancelled, 1, memory_order_relaxed);
                sim_sched_end(w->sim, &c->seq);
                c->busy = false;
        }
        close(c->fd);
        c->fd = -1;
        atomic_fetch_add_explicit(&w->sim->stats[w->idx].conns_closed, 1, memory_order_relaxed);
        /* unlink from live, push on dead */
        if (c->prev)
                c->prev->next = c->next;
        else
                w->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = NULL;
        c->next = w->dead;
        w->dead = c;
}

static void conn_free(struct conn *c) {
        SSL_free(c->ssl);
        free(c->rbuf);
        free(c->wbuf);
        sbuf_free(&c->xhdr);
        free(c->blk);
        free(c);
}

void conn_reset(struct conn *c) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };

        if (c->closed)
                return;
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        conn_close(c);
}

void conn_hang(struct conn *c) {
        c->state = CS_HUNG;
        c->rpos = c->rlen = 0;
}

void conn_seq_done(struct conn *c) {
        c->busy = false;
        if (c->closed || c->in_process)
                return;
        conn_process(c);
        conn_flush(c);
        if (!c->closed && c->read_paused) {
                /* input we stopped reading while busy: edge-triggered epoll
                 * will not report it again */
                c->read_paused = false;
                conn_read_more(c, true);
        }
}

/* ---- input ---- */

static void send_error_close(struct conn *c, int status, const char *msg) {
        struct sbuf *b = &c->w->tmp;

        atomic_fetch_add_explicit(&c->w->sim->stats[c->w->idx].bad_requests, 1, memory_order_relaxed);
        b->len = 0;
        api_error_body(b, msg, "invalid_request_error", NULL, NULL);
        c->close_after = true;
        c->ri.keepalive = false;
        conn_respond(c, status, "application/json", NULL, 0, b->p, b->len);
}

static void copy_request_info(struct conn *c, const struct http_request *req) {
        struct req_info *ri = &c->ri;
        const struct http_header *h;
        size_t plen;

        if (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0)
                ri->method = REQ_GET;
        else if (req->method_len == 4 && memcmp(req->method, "POST", 4) == 0)
                ri->method = REQ_POST;
        else if (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0)
                ri->method = REQ_HEAD;
        else
                ri->method = REQ_OTHER;
        for (plen = 0; plen < req->target_len && req->target[plen] != '?'; plen++)
                ;
        if (plen < sizeof ri->path) {
                memcpy(ri->path, req->target, plen);
                ri->path_len = plen;
        } else {
                ri->path_len = 0;
        }
        ri->path[ri->path_len] = 0;
        ri->minor = req->minor_version;
        ri->keepalive = req->minor_version >= 1;
        h = http_find_header(req->headers, req->num_headers, "connection");
        if (h) {
                if (http_header_has_token(h->value, h->value_len, "close"))
                        ri->keepalive = false;
                else if (http_header_has_token(h->value, h->value_len, "keep-alive"))
                        ri->keepalive = true;
        }
        {
                size_t n = 0;
                for (size_t i = 0; i < req->num_headers; i++) {
                        const struct http_header *hh = &req->headers[i];
                        if (n + hh->name_len + 2 >= sizeof ri->hdr_names)
                                break;
                        if (n)
                                ri->hdr_names[n++] = ',';
                        for (size_t k = 0; k < hh->name_len; k++) {
                                char ch = hh->name[k];
                                ri->hdr_names[n++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
                        }
                }
                ri->hdr_names[n] = 0;
                n = 0;
                for (size_t i = 0; i < req->num_headers; i++) {
                        const struct http_header *hh = &req->headers[i];
                        if (hh->name_len != 16 || strncasecmp(hh->name, "x-selected-model", 16) != 0)
                                continue;
                        if (n + hh->value_len + 2 >= sizeof ri->selected_model)
                                break;
                        if (n)
                                ri->selected_model[n++] = '|';
                        for (size_t k = 0; k < hh->value_len; k++) {
                                unsigned char ch = (unsigned char)hh->value[k];
                                ri->selected_model[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
                        }
                }
                ri->selected_model[n] = 0;
                n = 0;
                for (size_t i = 0; c->w->sim->o.echo_header && i < req->num_headers; i++) {
                        const struct http_header *hh = &req->headers[i];
                        if (hh->name_len != strlen(c->w->sim->o.echo_header) ||
                            strncasecmp(hh->name, c->w->sim->o.echo_header, hh->name_len) != 0)
                                continue;
                        if (n + hh->value_len + 2 >= sizeof ri->echo)
                                break;
                        if (n)
                                ri->echo[n++] = '|';
                        for (size_t k = 0; k < hh->value_len; k++) {
                                unsigned char ch = (unsigned char)hh->value[k];
                                ri->echo[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
                        }
                }
                ri->echo[n] = 0;
        }
        h = http_find_header(req->headers, req->num_headers, "expect");
        c->expect_continue = h && h->value_len == 12 && strncasecmp(h->value, "100-continue", 12) == 0;
        c->sent_continue = false;
}

/* Parses the head at rbuf+rpos. 1: parsed (state CS_BODY), 0: need more,
 * -1: answered with an error (connection closing). */
static int conn_parse_head(struct conn *c) {
        struct http_header hdrs[MAX_HEADERS];
        struct http_request req = { .headers = hdrs };
        const struct http_header *te, *cl;
        const char *buf = c->rbuf + c->rpos;
        size_t len = c->rlen - c->rpos;
        int r;

        r = http_parse_request(buf, len, &limits, &req);
        if (r == -EAGAIN) {
                if (len > MAX_HEADER_BYTES) {
                        c->ri = (struct req_info){ .minor = 1 };
                        send_error_close(c, 431, "request header too large");
                        return -1;
                }
                return 0;
        }
        if (r < 0) {
                c->ri = (struct req_info){ .minor = 1 };
                send_error_close(c,
                                 r == -E2BIG     ? 431
                                 : r == -ENOTSUP ? 505
                                                 : 400,
                                 r == -E2BIG     ? "request header too large"
                                 : r == -ENOTSUP ? "HTTP version not supported"
                                                 : "malformed HTTP request");
                return -1;
        }
        c->hdr_len = (size_t)r;
        copy_request_info(c, &req);
        c->body_len = 0;
        c->chunked = false;
        te = http_find_header(req.headers, req.num_headers, "transfer-encoding");
        cl = http_find_header(req.headers, req.num_headers, "content-length");
        if (te) {
                if (cl || !(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0)) {
                        send_error_close(c, 400, "unsupported Transfer-Encoding");
                        return -1;
                }
                c->chunked = true;
                c->ch = (struct http_chunked){ 0 };
                c->body_in = c->body_out = c->hdr_len;
        } else if (cl) {
                if (http_parse_content_length(cl->value, cl->value_len, &c->body_len) < 0) {
                        send_error_close(c, 400, "invalid Content-Length");
                        return -1;
                }
                if (c->body_len > c->w->sim->o.max_body) {
                        send_error_close(c, 413, "request body too large");
                        return -1;
                }
        }
        c->state = CS_BODY;
        return 1;
}

/* 1: body complete (*ret_end = request bytes from rpos, *ret_body_len),
 * 0: need more, -1: answered with an error. */
static int conn_read_body(struct conn *c, size_t *ret_end, size_t *ret_body_len) {
        char *base = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;

        if (!c->chunked) {
                if (avail - c->hdr_len < c->body_len)
                        return 0;
                *ret_end = c->hdr_len + (size_t)c->body_len;
                *ret_body_len = (size_t)c->body_len;
                return 1;
        }
        while (c->body_in < avail) {
                const char *data;
                size_t used, dlen;
                int r = http_chunked_step(&c->ch, base + c->body_in, avail - c->body_in, &used, &data, &dlen);

                if (r < 0) {
                        send_error_close(c, 400, "malformed chunked body");
                        return -1;
                }
                if (dlen) {
                        if (c->body_out - c->hdr_len + dlen > c->w->sim->o.max_body) {
                                send_error_close(c, 413, "request body too large");
                                return -1;
                        }
                        /* decode in place: the data never lies before body_out */
                        memmove(base + c->body_out, data, dlen);
                        c->body_out += dlen;
                }
                c->body_in += used;
                if (r == 1) {
                        *ret_end = c->body_in;
                        *ret_body_len = c->body_out - c->hdr_len;
                        return 1;
                }
                if (used == 0)
                        break;
        }
        return 0;
}

/* Answers every complete request in the input, in order, until one holds
 * the connection (a sequence) or more input is needed. */
static void conn_process(struct conn *c) {
        c->in_process = true;
        while (!c->closed && !c->busy && c->state != CS_HUNG && c->state != CS_LINGER && !c->close_after) {
                size_t end, body_len;
                int r;

                if (c->rpos == c->rlen) {
                        c->rpos = c->rlen = 0;
                        break;
                }
                if (c->state == CS_HEADERS) {
                        r = conn_parse_head(c);
                        if (r <= 0)
                                break;
                }
                r = conn_read_body(c, &end, &body_len);
                if (r < 0)
                        break;
                if (r == 0) {
                        if (c->expect_continue && !c->sent_continue) {
                                wputs(c, "HTTP/1.1 100 Continue\r\n\r\n");
                                c->sent_continue = true;
                        }
                        break;
                }
                c->state = CS_HEADERS;
                api_dispatch(c, c->rbuf + c->rpos + c->hdr_len, body_len);
                if (c->closed)
                        break;
                if (c->state == CS_HUNG)
                        break;
                c->rpos += end;
                if (!c->ri.keepalive)
                        c->close_after = true;
        }
        c->in_process = false;
        if (!c->closed && c->peer_eof && !c->busy && c->state != CS_HUNG)
                c->close_after = true;
}

static int rbuf_make_room(struct conn *c) {
        size_t want, cap, limit;
        char *p;

        if (c->rcap - c->rlen >= 1024)
                return 1;
        if (c->rpos > 0) {
                memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
                c->rlen -= c->rpos;
                c->rpos = 0;
                if (c->rcap - c->rlen >= 1024)
                        return 1;
        }
        if (c->busy && c->rlen >= READ_AHEAD_MAX)
                return 0;
        limit = MAX_HEADER_BYTES + 2 * c->w->sim->o.max_body + 4096;
        if (c->rlen >= limit) {
                send_error_close(c, 413, "request too large");
                return -1;
        }
        want = c->rcap ? c->rcap * 2 : RBUF_INITIAL;
        cap = want;
        p = realloc(c->rbuf, cap);
        if (!p) {
                conn_close(c);
                return -1;
        }
        c->rbuf = p;
        c->rcap = cap;
        return 1;
}

/* Reads until EAGAIN, or until a short read when !drain_all (with
 * edge-triggered epoll the next arrival is a new edge; a FIN that came with
 * the data is reported as EPOLLRDHUP, which asks for drain_all). */
static void conn_read_more(struct conn *c, bool drain_all) {
        for (;;) {
                size_t space;
                ssize_t n;
                int r;

                if (c->state == CS_HUNG || c->state == CS_LINGER) {
                        conn_discard_input(c);
                        return;
                }
                r = rbuf_make_room(c);

                if (r < 0)
                        break;
                if (r == 0) {
                        c->read_paused = true;
                        break;
                }
                space = c->rcap - c->rlen;
                n = conn_io(c, c->rbuf + c->rlen, space, false);
                if (n > 0) {
                        c->rlen += (size_t)n;
                        conn_process(c);
                        if (c->closed)
                                return;
                        /* TLS: a short read is one record, not a drained socket */
                        if ((size_t)n < space && !drain_all && !c->ssl)
                                break; /* drained: the next arrival is a new edge */
                        continue;
                }
                if (n == 0) {
                        /* the client is gone (or half-closed): an unfinished
                         * sequence is aborted, like vLLM does on disconnect;
                         * complete requests already read are still answered */
                        c->peer_eof = true;
                        if (c->busy || c->rpos == c->rlen) {
                                conn_close(c);
                                return;
                        }
                        conn_process(c);
                        if (c->closed)
                                return;
                        if (c->busy) {
                                conn_close(c);
                                return;
                        }
                        break;
                }
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        break;
                conn_close(c);
                return;
        }
        conn_flush(c);
}

static void worker_accept(struct worker *w) {
        for (;;) {
                struct epoll_event ev;
                struct conn *c;
                int one = 1;
                int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                log_warn("accept: %s", strerror(errno));
                        return;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = calloc(1, sizeof *c);
                if (!c) {
                        close(fd);
                        continue;
                }
                c->fd = fd;
                c->w = w;
                if (w->sim->tls_ctx && (!(c->ssl = SSL_new(w->sim->tls_ctx)) || SSL_set_fd(c->ssl, fd) != 1)) {
                        SSL_free(c->ssl);
                        close(fd);
                        free(c);
                        continue;
                }
                if (c->ssl)
                        SSL_set_accept_state(c->ssl);
                c->state = CS_HEADERS;
                c->seq.heap_idx = SIZE_MAX;
                c->seq.worker = w->idx;
                c->ri.keepalive = true;
                c->ri.minor = 1;
                ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
                ev.data.ptr = c;
                if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        log_warn("epoll_ctl: %s", strerror(errno));
                        close(fd);
                        free(c);
                        continue;
                }
                c->next = w->conns;
                if (w->conns)
                        w->conns->prev = c;
                w->conns = c;
                atomic_fetch_add_explicit(&w->sim->stats[w->idx].conns_accepted, 1, memory_order_relaxed);
        }
}

static void worker_inbox(struct worker *w) {
        uint64_t v;
        struct sim_seq *q, *next;

        (void)!read(w->efd, &v, sizeof v);
        for (q = sim_sched_take(w->sim, w->idx); q; q = next) {
                next = q->next;
                q->next = q->prev = NULL;
                api_seq_start(conn_of_seq(q));
        }
}

static void worker_timers(struct worker *w) {
        while (w->heap_len && w->heap[0]->due_ns <= w->now_ns) {
                struct sim_seq *q = w->heap[0];

                worker_timer_del(w, q);
                api_seq_tick(conn_of_seq(q));
        }
}

static void worker_update_clock(struct worker *w) {
        struct timespec ts;

        w->now_ns = sim_now_ns();
        clock_gettime(CLOCK_REALTIME, &ts);
        w->now_wall = ts.tv_sec;
}

static int worker_wait(struct worker *w, struct epoll_event *evs, int max) {
        uint64_t wait_ns;
        struct timespec ts;
        bool timed = w->heap_len > 0;

        if (timed) {
                uint64_t now = sim_now_ns();

                wait_ns = w->heap[0]->due_ns > now ? w->heap[0]->due_ns - now : 0;
                ts.tv_sec = (time_t)(wait_ns / 1000000000u);
                ts.tv_nsec = (long)(wait_ns % 1000000000u);
        }
        if (!w->no_pwait2) {
                int n = epoll_pwait2(w->epfd, evs, max, timed ? &ts : NULL, NULL);

                if (n >= 0 || errno != ENOSYS)
                        return n;
                w->no_pwait2 = true;
        }
        return epoll_wait(w->epfd, evs, max, timed ? (int)((wait_ns + 999999) / 1000000) : -1);
}

void *worker_run(void *arg) {
        struct worker *w = arg;
        struct epoll_event evs[256];

        while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
                int n = worker_wait(w, evs, 256);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_err("epoll_wait: %s", strerror(errno));
                        break;
                }
                worker_update_clock(w);
                for (int i = 0; i < n; i++) {
                        uintptr_t tag = (uintptr_t)evs[i].data.ptr;
                        struct conn *c;

                        if (tag == TAG_LISTEN) {
                                worker_accept(w);
                                continue;
                        }
                        if (tag == TAG_EVENT) {
                                worker_inbox(w);
                                continue;
                        }
                        c = evs[i].data.ptr;
                        if (c->closed || !conn_tls_ready(c))
                                continue;
                        if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                conn_read_more(c, evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
                        if (!c->closed && (evs[i].events & EPOLLOUT))
                                conn_flush(c);
                }
                worker_timers(w);
                while (w->dead) {
                        struct conn *c = w->dead;

                        w->dead = c->next;
                        conn_free(c);
                }
        }
        return NULL;
}

int worker_init(struct worker *w, struct sim *s, unsigned idx, int lfd) {
        struct epoll_event ev;
        int r;

        memset(w, 0, sizeof *w);
        w->idx = idx;
        w->sim = s;
        w->lfd = lfd;
        w->efd = -1;
        w->rng = (s->o.seed ? s->o.seed : 0x9e3779b97f4a7c15u) ^ ((uint64_t)(idx + 1) * 0xbf58476d1ce4e5b9u);
        if (!w->rng)
                w->rng = 1;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0)
                return -errno;
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->efd < 0) {
                r = -errno;
                goto fail;
        }
        ev.events = EPOLLIN;
        ev.data.ptr = (void *)(uintptr_t)TAG_LISTEN;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, lfd, &ev) < 0) {
                r = -errno;
                goto fail;
        }
        ev.events = EPOLLIN;
        ev.data.ptr = (void *)(uintptr_t)TAG_EVENT;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->efd, &ev) < 0) {
                r = -errno;
                goto fail;
        }
        s->inbox[idx].efd = w->efd;
        worker_update_clock(w);
        return 0;
fail:
        if (w->efd >= 0)
                close(w->efd);
        close(w->epfd);
        w->efd = w->epfd = -1;
        return r;
}

void worker_destroy(struct worker *w) {
        while (w->conns)
                conn_close(w->conns);
        while (w->dead) {
                struct conn *c = w->dead;

                w->dead = c->next;
                conn_free(c);
        }
        w->sim->inbox[w->idx].efd = -1;
        if (w->efd >= 0)
                close(w->efd);
        if (w->epfd >= 0)
                close(w->epfd);
        if (w->lfd >= 0)
                close(w->lfd);
        free(w->heap);
        sbuf_free(&w->tmp);
        sbuf_free(&w->tmp2);
        sbuf_free(&w->ptext);
}
