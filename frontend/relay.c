/* Stage relay: the request goes to the picked endpoint over a kept-alive
 * pooled connection, the response is relayed as it arrives (SSE event by
 * event), a failure before the first byte is retried on another endpoint
 * (back to stage_pick), and a done event tells the router how it went. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "proto/runtime.h"
#include "frontend/frontend-internal.h"
#include "shm/bell.h"
#include "proto/msg.h"

#define UP_READ_CHUNK 65536
#define UP_MAX_HEAD 65536

static void up_close(struct upconn *u);
static void up_recv(struct upconn *u);
static void finish(struct conn *c, bool failed);
static bool can_retry(struct conn *c);


/* ---- upstream connections -------------------------------------------------------------- */

static struct upconn *pool_get(struct worker *w, int upstream) {
        struct pool *p = &w->pools[upstream];
        struct upconn *u = p->idle;

        if (u) {
                p->idle = u->next;
                p->n_idle--;
                u->next = NULL;
                u->reused = true;
        }
        return u;
}

/* An idle connection for slot upstream that goes to the address the
 * snapshot has for it now (slots keep their upstream across
 * configuration changes, but its address may change, and a removed
 * upstream's slot may be given to another one): others are closed. */
static struct upconn *pool_take(struct worker *w, int upstream, bool tls) {
        const struct snap_upstream *su = &w->snap->upstreams[upstream];
        struct upconn *u;

        while ((u = pool_get(w, upstream)) != NULL) {
                if (memcmp(&u->addr, &su->addr, sizeof u->addr) == 0 && !u->tls == !tls)
                        return u;
                up_close(u);
        }
        return NULL;
}

static void pool_put(struct upconn *u) {
        struct worker *w = u->w;
        struct pool *p = &w->pools[u->upstream];
        const struct snap_upstream *su = &w->snap->upstreams[u->upstream];

        if (su->removed || memcmp(&u->addr, &su->addr, sizeof u->addr) != 0 ||
            p->n_idle >= w->fe->cfg->proxy.pool_size || atomic_load_explicit(&w->fe->draining, memory_order_relaxed)) {
                up_close(u);
                return;
        }
        u->c = NULL;
        u->in.len = u->hold.len = 0;
        u->head_done = u->done = u->eof = false;
        u->deadline_ns = UINT64_MAX;
        u->next = p->idle;
        p->idle = u;
        p->n_idle++;
        /* an idle pooled connection keeps a recv posted to notice the peer closing */
        up_recv(u);
}

/* Closes the socket and frees the connection with its buffers. */
static void up_destroy(struct upconn *u) {
        if (u->fd >= 0)
                close(u->fd);
        u->fd = -1;
        relay_tls_free(u);
        buf_free(&u->in);
        buf_free(&u->hold);
        buf_free(&u->orphan);
        buf_free(&u->orphan_body);
        free(u);
}

static void up_free_if_idle(struct upconn *u) {
        if (!u->closing || u->conn_io.busy || u->wr.busy || u->rd.busy)
                return;
        up_destroy(u);
}

static void up_close(struct upconn *u) {
        if (!u->closing) {
                u->closing = true;
                if (u->conn_io.busy || u->wr.busy || u->rd.busy) {
                        struct io_uring_sqe *sqe = worker_sqe(u->w);
                        io_uring_prep_cancel_fd(sqe, u->fd, IORING_ASYNC_CANCEL_ALL);
                        io_uring_sqe_set_data(sqe, NULL);
                        shutdown(u->fd, SHUT_RDWR);
                }
        }
        up_free_if_idle(u);
}

static void pool_remove(struct upconn *u) {
        struct pool *p = &u->w->pools[u->upstream];
        for (struct upconn **pp = &p->idle; *pp; pp = &(*pp)->next)
                if (*pp == u) {
                        *pp = u->next;
                        p->n_idle--;
                        return;
                }
}

void proxy_pool_free(struct worker *w) {
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++)
                while (w->pools[i].idle) {
                        struct upconn *u = pool_get(w, (int)i);
                        u->closing = true;
                        up_destroy(u); /* outstanding SQEs die with the ring */
                }
}

static void up_recv(struct upconn *u) {
        if (u->rd.busy || u->closing)
                return;
        if (worker_post_recv(u->w, u->fd, relay_tls_recv_buf(u), UP_READ_CHUNK, &u->rd) < 0)
                up_close(u);
}

static void up_send(struct upconn *u) {
        struct conn *c = u->c;
        struct io_uring_sqe *sqe;
        size_t head = c->upreq.len;

        /* before an SQE is taken: one taken and left unprepared would go out as
         * whatever that slot held last */
        if (u->tls) {
                relay_tls_send(u); /* encrypted, then sent from the session's buffer */
                return;
        }
        sqe = worker_sqe(u->w);
        /* head and body go out as two iovecs: the body is not copied again
         * behind each attempt's head */
        if (u->sent < head) {
                u->iov[0] = (struct iovec){ c->upreq.p + u->sent, head - u->sent };
                u->iov[1] = (struct iovec){ c->upbody.p, c->upbody.len };
                u->msg.msg_iovlen = 2;
        } else {
                u->iov[0] = (struct iovec){ c->upbody.p + (u->sent - head), c->upbody.len - (u->sent - head) };
                u->msg.msg_iovlen = 1;
        }
        u->msg.msg_iov = u->iov;
        io_uring_prep_sendmsg(sqe, u->fd, &u->msg, MSG_NOSIGNAL);
        io_uring_sqe_set_data(sqe, &u->wr);
        u->wr.busy = true;
}

static struct upconn *up_new(struct worker *w, int upstream) {
        const struct snap_upstream *su = &w->snap->upstreams[upstream];
        struct upconn *u = calloc(1, sizeof *u);
        struct io_uring_sqe *sqe;
        int one = 1, zero = 0;

        if (!u)
                return NULL;
        u->fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (u->fd < 0) {
                free(u);
                return NULL;
        }
        setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        u->w = w;
        u->upstream = (uint16_t)upstream;
        u->conn_io = (struct io){ .kind = IO_UP_CONNECT, .owner = u };
        u->wr = (struct io){ .kind = IO_UP_WR, .owner = u };
        u->rd = (struct io){ .kind = IO_UP_RD, .owner = u };
        u->addr = su->addr;
        sqe = worker_sqe(w);
        io_uring_prep_connect(sqe, u->fd, (const struct sockaddr *)&u->addr, sizeof u->addr);
        io_uring_sqe_set_data(sqe, &u->conn_io);
        u->conn_io.busy = true;
        return u;
}

void relay_start(struct conn *c, int upstream) {
        struct worker *w = c->w;
        const struct snap_upstream *su = &w->snap->upstreams[upstream];
        const struct sy_config *cfg = c->cfg;
        const struct tls_upstream *tu = relay_tls_find(c, su);
        int slot = relay_tls_via(c, &tu, upstream); /* a via gateway's slot carries the request */
        struct upconn *u = NULL;
        c->state = CS_UPSTREAM;
        c->upstream = upstream;
        if (c->n_tried < sizeof c->tried / sizeof c->tried[0])
                c->tried[c->n_tried++] = (uint16_t)upstream;
        w->inflight[upstream]++;

        /* per attempt: Host and Content-Length after the shared head part */
        relay_tls_head(c, tu, slot != upstream ? su : NULL);
        su = slot >= 0 ? &w->snap->upstreams[slot] : su;
        if (buf_printf(&c->upreq, "Host: %s:%u\r\nContent-Length: %zu\r\n\r\n", su->host, su->port, c->upbody.len) <
            0) {
                respond_error(c, 500, "server_error", NULL, "out_of_memory", "out of memory");
                return;
        }

        /* A pooled connection still has the recv posted in pool_put: it
         * takes the response (in.len is 0 there, as below). If the upstream
         * had closed the connection, that recv ends with 0 and the request
         * is sent once more on a fresh connection (the stale_retry path). */
        if (slot >= 0)
                u = pool_take(w, slot, relay_tls_on(tu));
        if (!u && slot >= 0) {
                u = up_new(w, slot);
                if (u && relay_tls_on(tu) && relay_tls_attach(u, tu) < 0) {
                        up_close(u);
                        u = NULL;
                }
                if (u)
                        u->reused = false;
        }
        if (!u) {
                metrics_count_upstream_error(&w->metrics, su->name, "connect");
                finish(c, true);
                return;
        }
        u->c = c;
        c->up = u;
        u->sent = 0;
        u->in.len = u->hold.len = 0;
        u->head_done = u->done = u->eof = false;
        memset(&u->chunk, 0, sizeof u->chunk);
        u->deadline_ns = fe_now_ns() + (uint64_t)(u->conn_io.busy ? cfg->proxy.connect_timeout_ms
                                                                  : cfg->proxy.first_byte_timeout_ms) *
                                               1000000ULL;
        c->t_sent_ns = fe_now_ns();
        if (!u->conn_io.busy) {
                FE_MARK(upstream_connected, c); /* pooled */
                up_send(u);
                up_recv(u); /* no-op while the pooled recv is posted */
        }
}

static enum stage_rc run(struct conn *c) {
        relay_start(c, c->picked_upstream);
        return STAGE_SUSPEND; /* the upstream's answer completes the request */
}

const struct stage stage_relay = { "relay", run };

/* ---- response ----------------------------------------------------------------------------- */

static bool hop_by_hop_resp(const struct http_header *h) {
        static const char *const drop[] = { "connection",       "keep-alive", "transfer-encoding", "content-length",
                                            "proxy-connection", "te",         "trailer",           "upgrade" };
        for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
                if (h->name_len == strlen(drop[i]) && strncasecmp(h->name, drop[i], h->name_len) == 0)
                        return true;
        return false;
}

static const char sse_error[] =
        "data: {\"error\":{\"message\":\"the upstream connection was lost mid-stream\",\"type\":\"server_error\","
        "\"param\":null,\"code\":\"upstream_stream_error\"}}\n\n";

/* The length of the head of p[0..n) that ends with an SSE event (a blank
 * line: LF LF or CRLF CRLF), 0 if none ends there. */
static size_t sse_whole(const char *p, size_t n) {
        while (n >= 2) {
                const char *nl = memrchr(p, '\n', n);
                if (!nl)
                        return 0;
                n = (size_t)(nl - p);
                if (n >= 1 && p[n - 1] == '\n')
                        return n + 1;
                if (n >= 2 && p[n - 1] == '\r' && p[n - 2] == '\n')
                        return n + 1;
        }
        return 0;
}

/* A chunked upstream body is decoded and framed again for the client, one
 * chunk per read (its size, written with fixed width, patched in when the
 * read is decoded), so that the client's stream is at a chunk boundary
 * after each read whatever the upstream's chunks were: a cut can then be
 * ended cleanly. For SSE the start of an event whose end has not come is
 * held back (an event is not split across client writes), so a cut drops
 * it whole instead of gluing it to the error event. */
#define SSE_HOLD_MAX (4 * UP_READ_CHUNK)
static int relay_chunked(struct conn *c, struct upconn *u, const char *p, size_t n) {
        size_t off = 0, start = c->out.len, data;

        if (!c->dechunk)
                buf_append(&c->out, "00000000\r\n", 10);
        data = c->out.len;
        if (u->hold.len) {
                buf_append(&c->out, u->hold.p, u->hold.len);
                u->hold.len = 0;
        }
        while (off < n && !u->done) {
                const char *d;
                size_t used, dlen;
                int r = http_chunked_step(&u->chunk, p + off, n - off, &used, &d, &dlen);
                if (r < 0) {
                        c->out.len = start;
                        return r;
                }
                if (dlen)
                        buf_append(&c->out, d, dlen);
                off += used;
                if (r == 1)
                        u->done = true;
                if (used == 0)
                        break;
        }
        size_t dl = c->out.len - data;
        if (c->resp_sse && !u->done && dl) {
                size_t whole = sse_whole(c->out.p + data, dl);
                if (whole < dl && dl - whole < SSE_HOLD_MAX) {
                        buf_append(&u->hold, c->out.p + data + whole, dl - whole);
                        c->out.len = data + whole;
                        dl = whole;
                }
        }
        if (c->dechunk)
                return 0;
        if (dl) {
                char size[9]; /* dl is at most a read and SSE_HOLD_MAX */
                snprintf(size, sizeof size, "%08x", (unsigned)dl);
                memcpy(c->out.p + start, size, 8);
                buf_append(&c->out, "\r\n", 2);
        } else {
                c->out.len = start;
        }
        if (u->done)
                buf_append(&c->out, "0\r\n\r\n", 5);
        return 0;
}

/* Moves body bytes from u->in to the client's output buffer. */
static int relay_body(struct conn *c, struct upconn *u, const char *p, size_t n) {
        if (c->rl_tokens)
                limit_observe_answer(c, p, n);
        if (u->framing == FR_LENGTH) {
                size_t take = n < u->remaining ? n : (size_t)u->remaining;
                if (take < n)
                        u->upstream_keepalive = false; /* bytes past the body: not reusable */
                buf_append(&c->out, p, take);
                u->remaining -= take;
                if (u->remaining == 0)
                        u->done = true;
                return 0;
        }
        if (u->framing == FR_CHUNKED)
                return relay_chunked(c, u, p, n);
        buf_append(&c->out, p, n); /* FR_CLOSE: until EOF */
        return 0;
}

static int take_response_head(struct conn *c, struct upconn *u) {
        struct worker *w = c->w;
        /* the upstream picked (not the via gateway that carried the request) */
        const struct snap_upstream *su = &w->snap->upstreams[c->upstream >= 0 ? c->upstream : u->upstream];
        struct http_header hdrs[128];
        struct http_response res = { .headers = hdrs };
        struct http_limits lim = { .max_header_bytes = UP_MAX_HEAD, .max_headers = 128 };
        const struct http_header *h;
        int r;

        for (;;) {
                r = http_parse_response(u->in.p, u->in.len, &lim, &res);
                if (r < 0)
                        return r;
                if (res.status >= 100 && res.status < 200) {
                        /* interim response: drop it */
                        memmove(u->in.p, u->in.p + r, u->in.len - (size_t)r);
                        u->in.len -= (size_t)r;
                        res.num_headers = 0;
                        continue;
                }
                break;
        }
        c->status = res.status;
        if ((res.status == 500 || res.status == 502 || res.status == 503 || res.status == 504) && can_retry(c))
                return -EREMOTEIO; /* nothing went to the client yet: another replica answers */
        u->head_done = true;
        c->t_first_byte_ns = fe_now_ns();
        FE_MARK(upstream_first_byte, c);
        u->upstream_keepalive = res.minor_version >= 1;
        h = http_find_header(hdrs, res.num_headers, "connection");
        if (h && http_header_has_token(h->value, h->value_len, "close"))
                u->upstream_keepalive = false;
        h = http_find_header(hdrs, res.num_headers, "transfer-encoding");
        if (res.status == 204 || res.status == 304) {
                u->framing = FR_LENGTH;
                u->remaining = 0;
        } else if (h && http_header_has_token(h->value, h->value_len, "chunked")) {
                u->framing = FR_CHUNKED;
        } else if ((h = http_find_header(hdrs, res.num_headers, "content-length"))) {
                if (http_parse_content_length(h->value, h->value_len, &u->remaining) < 0)
                        return -EBADMSG;
                u->framing = FR_LENGTH;
        } else {
                u->framing = FR_CLOSE;
                u->upstream_keepalive = false;
        }
        h = http_find_header(hdrs, res.num_headers, "content-type");
        c->resp_sse = h && h->value_len >= 17 && strncasecmp(h->value, "text/event-stream", 17) == 0;

        /* the client's framing */
        c->dechunk = u->framing == FR_CHUNKED && c->minor == 0;
        if (u->framing == FR_CLOSE || c->dechunk)
                c->keepalive = false;
        c->resp_framing = c->dechunk ? FR_CLOSE : u->framing;

        buf_printf(&c->out, "HTTP/1.%d %d %.*s\r\n", c->minor, res.status, (int)res.reason_len, res.reason);
        for (size_t i = 0; i < res.num_headers; i++) {
                if (hop_by_hop_resp(&hdrs[i]))
                        continue;
                buf_append(&c->out, hdrs[i].name, hdrs[i].name_len);
                buf_append(&c->out, ": ", 2);
                buf_append(&c->out, hdrs[i].value, hdrs[i].value_len);
                buf_append(&c->out, "\r\n", 2);
        }
        if (u->framing == FR_LENGTH)
                buf_printf(&c->out, "Content-Length: %llu\r\n", (unsigned long long)u->remaining);
        else if (u->framing == FR_CHUNKED && !c->dechunk)
                buf_printf(&c->out, "Transfer-Encoding: chunked\r\n");
        buf_printf(&c->out, "x-vsr-selected-model: %s\r\nx-switchyard-upstream: %s\r\nx-switchyard-engine: %s\r\n",
                   c->model, su->name, su->engine);
        if (c->is_auto)
                route_response_headers(c, &c->out);
        respond_common_headers(c, &c->out);
        if (c->retries)
                buf_printf(&c->out, "x-switchyard-retries: %u\r\n", c->retries);
        buf_printf(&c->out, "Connection: %s\r\n\r\n", c->keepalive ? "keep-alive" : "close");
        c->resp_started = true;
        c->overhead_ns = (c->t_sent_ns - c->t_parsed_ns) + (fe_now_ns() - c->t_first_byte_ns);
        metrics_observe(&w->metrics.ttfb, c->t_first_byte_ns - c->t_sent_ns);
        return r;
}

static void record(struct conn *c, int status, const char *upstream) {
        struct worker *w = c->w;

        metrics_count_request(&w->metrics, c->model, upstream, status);
        metrics_observe(&w->metrics.duration, fe_now_ns() - c->t_parsed_ns);
        if (c->overhead_ns)
                metrics_observe(&w->metrics.overhead, c->overhead_ns);
}

/* The request left the upstream: done event, pool or close. */
static void release_upstream(struct conn *c, bool failed, bool reusable) {
        struct worker *w = c->w;
        struct upconn *u = c->up;

        if (c->upstream >= 0) {
                if (w->inflight[c->upstream] > 0)
                        w->inflight[c->upstream]--;
                /* a 5xx answer counts against a server for passive health; a
                 * gateway's 5xx comes from one of its replicas (the router
                 * ignores it for gateways too) */
                bool bad = failed || (c->status >= 500 && (unsigned)c->upstream < w->snap->n_upstreams &&
                                      w->snap->upstreams[c->upstream].kind == SY_UPSTREAM_SERVER);
                pick_send_done(c, c->upstream, c->status, bad ? SY_DONE_FAILED : 0, c->router_picked);
        }
        c->router_picked = false;
        if (!u)
                return;
        c->up = NULL;
        u->c = NULL;
        if (reusable && !u->closing)
                pool_put(u);
        else
                up_close(u);
}

/* May a request that failed before its first byte go to another endpoint?
 * (Retries left and, in the worker's snapshot, another healthy one.) */
static bool can_retry(struct conn *c) {
        struct worker *w = c->w;
        const struct snap_model *m;

        if (c->retries >= c->cfg->proxy.max_retries || c->n_tried >= sizeof c->tried / sizeof c->tried[0])
                return false;
        m = snapshot_find_model(w->snap, c->model, strlen(c->model));
        return m &&
               snapshot_pick(w->snap, m, c->engine, strlen(c->engine), c->tried, c->n_tried, w->inflight, NULL) >= 0;
}

static void finish(struct conn *c, bool failed) {
        struct worker *w = c->w;
        const char *name = c->upstream >= 0 ? w->snap->upstreams[c->upstream].name : "";

        if (!failed) {
                struct upconn *u = c->up;
                bool reusable = u && u->upstream_keepalive && u->done && u->in.len == 0;
                record(c, c->status, name);
                limit_request_done(c);
                release_upstream(c, false, reusable);
                if (c->out_off >= c->out.len && !c->wr.busy)
                        conn_request_done(c);
                return;
        }
        release_upstream(c, true, false);
        if (c->resp_started) {
                /* mid-stream: an SSE stream ends with an error event (the
                 * client's stream is at an event and chunk boundary, see
                 * relay_chunked); a chunked one is then a whole response and
                 * the connection stays usable, as its head said. Anything
                 * else is cut: the client sees the body end short. */
                if (c->resp_sse && c->resp_framing == FR_CHUNKED) {
                        buf_printf(&c->out, "%zx\r\n%s\r\n0\r\n\r\n", sizeof sse_error - 1, sse_error);
                        record(c, c->status, name);
                        conn_send(c);
                } else if (c->resp_sse && c->dechunk) {
                        c->keepalive = false;
                        buf_append(&c->out, sse_error, sizeof sse_error - 1);
                        c->out_last = true;
                        record(c, c->status, name);
                        conn_send(c);
                } else {
                        c->keepalive = false;
                        record(c, 502, name);
                        conn_close(c);
                }
                return;
        }
        /* before the first byte: another endpoint, if allowed (the router
         * may know one the worker's snapshot does not) */
        if (c->retries < c->cfg->proxy.max_retries && c->n_tried < sizeof c->tried / sizeof c->tried[0]) {
                c->retries++;
                atomic_fetch_add_explicit(&w->metrics.retries, 1, memory_order_relaxed);
                c->upstream = -1;
                pipeline_goto(c, &stage_pick);
                return;
        }
        /* respond_error counts the request in the metrics */
        respond_error(c, 502, "server_error", NULL, "upstream_error",
                      "the upstream for model `%s` failed before answering (%u attempts)", c->model, c->retries + 1);
}

static void fail(struct upconn *u, const char *kind) {
        struct conn *c = u->c;
        struct worker *w = u->w;

        metrics_count_upstream_error(&w->metrics, w->snap->upstreams[u->upstream].name, kind);
        if (c)
                finish(c, true);
        else
                up_close(u);
}

void proxy_io(struct upconn *u, struct io *io, int res) {
        struct conn *c = u->c;

        io->busy = false;
        if (u->closing) {
                up_free_if_idle(u);
                return;
        }
        if (u->tls && io == &u->wr && res >= 0) {
                /* counted even when the answer came first and the connection is idle */
                relay_tls_sent(u, (size_t)res);
                return;
        }
        if (!c) {
                /* idle in the pool: any completion means it is no longer usable */
                if (io == &u->rd) {
                        if (u->tls && res > 0 && relay_tls_idle(u, res)) {
                                up_recv(u);
                                return;
                        }
                        pool_remove(u);
                        up_close(u);
                }
                return;
        }
        switch (io->kind) {
        case IO_UP_CONNECT:
                if (res < 0) {
                        fail(u, "connect");
                        return;
                }
                u->deadline_ns = fe_now_ns() + (uint64_t)u->w->fe->cfg->proxy.first_byte_timeout_ms * 1000000ULL;
                FE_MARK(upstream_connected, c);
                up_send(u);
                up_recv(u);
                return;
        case IO_UP_WR:
                if (res < 0) {
                        if (u->rd.busy) {
                                /* let the recv report what happened */
                                return;
                        }
                        fail(u, "reset");
                        return;
                }
                u->sent += (size_t)res;
                if (u->sent < c->upreq.len + c->upbody.len)
                        up_send(u);
                return;
        case IO_UP_RD:
                break;
        default:
                return;
        }

        if (u->tls && res > 0)
                res = relay_tls_recv(u, res); /* plaintext at u->in's end, or as a recv ends */
        if (res <= 0) {
                if (res == -EINTR || res == -EAGAIN) {
                        up_recv(u);
                        return;
                }
                if (u->head_done && u->framing == FR_CLOSE && res == 0) {
                        u->done = true;
                        u->upstream_keepalive = false;
                        finish(c, false);
                        return;
                }
                if (!u->head_done && u->reused && !c->stale_retry &&
                    (res == 0 || res == -ECONNRESET || res == -EPIPE)) {
                        /* a pooled connection the upstream had closed: once more on a fresh one */
                        int up = c->upstream;
                        c->stale_retry = true;
                        c->up = NULL;
                        u->c = NULL;
                        up_close(u);
                        c->w->inflight[up]--;
                        c->n_tried--;
                        relay_start(c, up);
                        return;
                }
                fail(u, res == 0 || res == -ECONNRESET ? "reset"
                        : res == -ECANCELED            ? "timeout"
                        : res == -EPROTO               ? "tls"
                                                       : "recv");
                return;
        }
        u->in.len += (size_t)res;
        u->deadline_ns = fe_now_ns() + (uint64_t)u->w->fe->cfg->proxy.idle_timeout_ms * 1000000ULL;
        if (!u->head_done) {
                int r = take_response_head(c, u);
                if (r == -EAGAIN) {
                        if (u->in.len >= UP_MAX_HEAD) {
                                fail(u, "protocol");
                                return;
                        }
                        up_recv(u);
                        return;
                }
                if (r == -EREMOTEIO) {
                        fail(u, "status_5xx");
                        return;
                }
                if (r < 0) {
                        fail(u, "protocol");
                        return;
                }
                if (relay_body(c, u, u->in.p + r, u->in.len - (size_t)r) < 0) {
                        fail(u, "protocol");
                        return;
                }
        } else if (relay_body(c, u, u->in.p, u->in.len) < 0) {
                fail(u, "protocol");
                return;
        }
        u->in.len = 0;
        if (u->done) {
                finish(c, false);
                if (!c->closing)
                        conn_send(c);
                return;
        }
        /* send what we have; the next upstream read is posted when the
         * client has taken it. Meanwhile the upstream is not read, and its
         * idle timeout waits too: a slow client is not the upstream's
         * failure (server.send_timeout_ms bounds the client) */
        if (c->out.len > c->out_off) {
                u->deadline_ns = UINT64_MAX;
                conn_send(c);
        } else {
                up_recv(u);
        }
}

void proxy_client_written(struct conn *c) {
        struct upconn *u = c->up;

        if (!u) {
                conn_request_done(c);
                return;
        }
        /* the upstream was not read while the client took its bytes */
        u->deadline_ns = fe_now_ns() + (uint64_t)c->cfg->proxy.idle_timeout_ms * 1000000ULL;
        up_recv(u);
}

void proxy_abort(struct conn *c) {
        struct upconn *u = c->up;

        if (!u)
                return;
        /* the request head/body may still be read by an in-flight send */
        if (u->wr.busy) {
                u->orphan = c->upreq;
                u->orphan_body = c->upbody;
                c->upreq = (struct buf){ 0 };
                c->upbody = (struct buf){ 0 };
        }
        c->keepalive = false;
        release_upstream(c, false, false);
}

/* Deadlines, and requests waiting for the first byte of an endpoint the
 * health checks have since marked down: another endpoint takes them now
 * (a replica that accepts and stops answering would keep them for the
 * whole first-byte timeout). Not while the client's write is in flight:
 * its output buffer is not touched then (the upstream's deadline waits
 * meanwhile, see proxy_io). */
void proxy_check_timeouts(struct worker *w, uint64_t now) {
        for (struct conn *c = w->conns, *next; c; c = next) {
                struct upconn *u = c->up;
                next = c->next;
                if (!u || u->closing || c->closing || c->wr.busy)
                        continue;
                if (now >= u->deadline_ns) {
                        u->timed_out = true;
                        fail(u, u->conn_io.busy ? "connect_timeout" : "timeout");
                } else if (!u->head_done && !w->snap->upstreams[u->upstream].healthy && can_retry(c)) {
                        fail(u, "unhealthy");
                }
        }
}
