/* The frontend: N worker threads, each with its own io_uring, connections,
 * upstream pools and ring pair to the router, all accepting on one listening
 * socket (passed by systemd or `switchyard run`, or bound here once).
 *
 * Every socket operation is an io_uring request whose user_data points at a
 * struct io embedded in its owner (conn or upconn); an owner is freed only
 * when it is closing and none of its struct io is busy. The loop waits for
 * completions with a timeout set by the earliest pending pick deadline, so
 * a router that does not answer in time is replaced by a local pick from
 * the snapshot. */
#include "frontend/frontend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/listener.h"
#include "common/log.h"
#include "common/notify.h"
#include "proto/runtime.h"
#include "frontend/frontend-internal.h"
#include "http/tls.h"
#include "shm/bell.h"
#include "proto/msg.h"

#define TICK_NS (50ULL * 1000000ULL)
#define READ_CHUNK 16384

uint64_t fe_now_ns(void) {
        return shm_now_ns();
}

/* ---- io_uring helpers --------------------------------------------------- */

struct io_uring_sqe *worker_sqe(struct worker *w) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

        if (!sqe) {
                io_uring_submit(&w->ring);
                sqe = io_uring_get_sqe(&w->ring);
        }
        return sqe; /* never NULL after a submit with an empty SQ */
}

int worker_post_recv(struct worker *w, int fd, struct buf *in, size_t chunk, struct io *io) {
        struct io_uring_sqe *sqe;

        /* the room left, while it is a quarter of a chunk or more: a few
         * bytes received (a head sent slowly) do not double the buffer */
        if ((in->cap - in->len < chunk / 4 || in->cap == 0) && buf_reserve(in, chunk) < 0)
                return -ENOMEM;
        sqe = worker_sqe(w);
        io_uring_prep_recv(sqe, fd, in->p + in->len, in->cap - in->len, 0);
        io_uring_sqe_set_data(sqe, io);
        io->busy = true;
        return 0;
}

void worker_ring_bell(struct worker *w, struct ring *to, int *bell, const char *name) {
        static const char one = 1;
        struct io_uring_sqe *sqe;
        char path[512];

        if (!ring_sp_needs_wake(to))
                return;
        if (*bell < 0 &&
            (sy_runtime_path(w->fe->cfg, path, sizeof path, name, 0) < 0 || bell_open_producer(path, bell) < 0))
                return;
        /* the doorbell write goes out with the worker's next io_uring
         * submit: no system call of its own */
        sqe = worker_sqe(w);
        io_uring_prep_write(sqe, *bell, &one, 1, 0);
        io_uring_sqe_set_data(sqe, NULL);
}

static void post_recv(struct conn *c) {
        if (c->rd.busy || c->closing)
                return;
        if (worker_post_recv(c->w, c->fd, &c->in, READ_CHUNK, &c->rd) < 0)
                conn_close(c);
}

void conn_send(struct conn *c) {
        struct io_uring_sqe *sqe;

        if (c->wr.busy || c->closing || c->out_off >= c->out.len)
                return;
        sqe = worker_sqe(c->w);
        io_uring_prep_send(sqe, c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        io_uring_sqe_set_data(sqe, &c->wr);
        c->wr.busy = true;
        /* posted again after every partial write: the client must take some bytes by then */
        c->send_deadline_ns = fe_now_ns() + (uint64_t)c->cfg->server.send_timeout_ms * 1000000ULL;
}

static void gen_put(struct fe_gen *g) {
        /* pairs with itself: the last one to let go sees every other's writes */
        if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) {
                tls_table_free(g->tls);
                sy_config_free(g->cfg);
                free(g);
        }
}

static void conn_free_if_idle(struct conn *c) {
        struct worker *w = c->w;

        if (!c->closing || c->rd.busy || c->wr.busy)
                return;
        if (c->up)
                proxy_abort(c);
        if (c->up)
                return; /* upstream side still has I/O in flight */
        if (c->fd >= 0)
                close(c->fd);
        if (c->prev)
                c->prev->next = c->next;
        else
                w->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        w->nconns--;
        atomic_fetch_sub_explicit(&w->fe->nconns, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&w->metrics.open_connections, 1, memory_order_relaxed);
        buf_free(&c->in);
        buf_free(&c->body);
        buf_free(&c->out);
        buf_free(&c->fwd_headers);
        buf_free(&c->upreq);
        buf_free(&c->upbody);
        buf_free(&c->upshared);
        buf_free(&c->usage_tail);
        gen_put(c->gen);
        free(c);
}

static bool on_a_list(const struct conn *c);

/* The connection takes the current configuration (a new request starts):
 * no atomic operation unless a reload happened since its last request. */
static void conn_pin_config(struct conn *c) {
        struct fe_gen *g = atomic_load_explicit(&c->w->fe->gen, memory_order_acquire);

        if (g == c->gen)
                return;
        atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
        gen_put(c->gen);
        c->gen = g;
        c->cfg = g->cfg;
}

void conn_close(struct conn *c) {
        if (!c->closing) {
                c->closing = true;
                c->state = CS_CLOSING;
                if (on_a_list(c))
                        worker_pending_remove(c);
                if (c->rd.busy || c->wr.busy) {
                        struct io_uring_sqe *sqe = worker_sqe(c->w);
                        /* ends a recv waiting on an idle client; the completion frees */
                        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
                        io_uring_sqe_set_data(sqe, NULL);
                        shutdown(c->fd, SHUT_RDWR);
                }
        }
        conn_free_if_idle(c);
}

/* ---- pending picks -------------------------------------------------------- */

static void list_append(struct conn *c, struct conn **head, struct conn **tail, bool waiting) {
        c->in_waiting = waiting;
        c->pnext = NULL;
        c->pprev = *tail;
        if (*tail)
                (*tail)->pnext = c;
        else
                *head = c;
        *tail = c;
}

void worker_pending_add(struct conn *c) {
        list_append(c, &c->w->pending, &c->w->pending_tail, false);
}

void worker_waiting_add(struct conn *c) {
        struct worker *w = c->w;

        list_append(c, &w->waiting, &w->waiting_tail, true);
        if (!w->waiting_min_ns || c->pick_deadline_ns < w->waiting_min_ns)
                w->waiting_min_ns = c->pick_deadline_ns;
}

void worker_pending_remove(struct conn *c) {
        struct worker *w = c->w;
        struct conn **head = c->in_waiting ? &w->waiting : &w->pending;
        struct conn **tail = c->in_waiting ? &w->waiting_tail : &w->pending_tail;

        if (c->pprev)
                c->pprev->pnext = c->pnext;
        else if (*head == c)
                *head = c->pnext;
        if (c->pnext)
                c->pnext->pprev = c->pprev;
        else if (*tail == c)
                *tail = c->pprev;
        c->pnext = c->pprev = NULL;
        c->in_waiting = false;
}

static bool on_a_list(const struct conn *c) {
        const struct worker *w = c->w;

        return c->pnext || c->pprev || w->pending == c || w->waiting == c;
}

struct conn *worker_pending_take(struct worker *w, uint64_t req_id, enum conn_state state) {
        for (struct conn *c = w->pending; c; c = c->pnext)
                if (c->req_id == req_id && c->state == state) {
                        worker_pending_remove(c);
                        return c;
                }
        for (struct conn *c = w->waiting; c; c = c->pnext)
                if (c->req_id == req_id && c->state == state) {
                        worker_pending_remove(c);
                        return c;
                }
        return NULL;
}

/* ---- snapshot --------------------------------------------------------------- */

bool worker_refresh_snapshot(struct worker *w) {
        uint64_t v = shm_snap_version(w->fe->seg);
        uint32_t len;

        if (v == w->snap_version)
                return false;
        if (shm_snap_read(w->fe->seg, w->snap, sizeof *w->snap, &len, &w->snap_version) < 0 || len != sizeof *w->snap) {
                /* nothing from the router yet: keep the one built from the config */
                return false;
        }
        return true;
}

/* ---- request head ------------------------------------------------------------ */

static void reset_request(struct conn *c) {
        c->head_len = 0;
        c->body_len = 0;
        c->chunked_in = false;
        c->expect_continue = false;
        memset(&c->chunk, 0, sizeof c->chunk);
        c->chunk_off = 0;
        c->body.len = 0;
        c->fwd_headers.len = 0;
        c->upreq.len = 0;
        c->path[0] = c->owned_by_q[0] = c->owned_by_h[0] = c->session[0] = c->query[0] = 0;
        c->model[0] = c->engine[0] = 0;
        c->model_idx = -1;
        c->n_tried = c->retries = 0;
        c->router_picked = false;
        c->upstream = -1;
        c->stream = false;
        c->resp_started = false;
        c->status = 0;
        c->resp_framing = FR_NONE;
        c->resp_sse = false;
        c->dechunk = false;
        c->t_sent_ns = c->t_first_byte_ns = 0;
        c->upbody.len = 0;
        c->stale_retry = false;
        c->overhead_ns = 0;
        c->out_last = false;
        c->sheddable = c->queued = false;
        c->retry_after_s = 0;
        c->token_estimate = 0;
        c->prompt_off = c->prompt_len = 0;
        c->is_auto = c->clf_api = c->injected_prompt = false;
        c->reasoning_client = c->clf_verdict = c->clf_truncated = false;
        c->cat_idx = -1;
        c->decision = -1;
        c->matched_kw[0] = 0;
        c->dec_prompt.system_prompt = NULL;
        c->clf_status = NULL;
        c->clf_reason = 0;
        c->key_idx = -1;
        c->key_given = false;
        c->limited = c->rl_tokens = false;
        c->rl_charged = 0;
        c->usage_tail.len = 0;
        c->need_jailbreak = c->need_pii = c->need_category = c->guard_blocked = false;
        memset(c->pii_score, 0, sizeof c->pii_score);
        c->pii_patterns = 0;
        c->picked_upstream = -1;
        c->category[0] = 0;
        c->confidence = 0;
        c->jailbreak = -1;
        c->reasoning = -1;
}

static bool hop_by_hop(const struct http_header *h) {
        static const char *const drop[] = {
                "connection",
                "keep-alive",
                "proxy-connection",
                "proxy-authorization",
                "te",
                "trailer",
                "transfer-encoding",
                "upgrade",
                "host",
                "content-length",
                "expect",
                "x-owned-by",
                "content-type",
                "x-switchyard-sheddable",
        };
        for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
                if (h->name_len == strlen(drop[i]) && strncasecmp(h->name, drop[i], h->name_len) == 0)
                        return true;
        return false;
}

static void copy_header_value(char *dst, size_t cap, const struct http_header *h) {
        size_t n = h->value_len < cap - 1 ? h->value_len : cap - 1;
        memcpy(dst, h->value, n);
        dst[n] = 0;
}

/* The query string as forwarded upstream: every parameter but owned_by
 * (a routing field, like owned_by in the body), as the client wrote it.
 * -ENOBUFS when it does not fit. */
static int forward_query(const char *q, size_t qlen, char *dst, size_t cap) {
        size_t n = 0, i = 0;

        while (i < qlen) {
                const char *p = q + i, *amp = memchr(p, '&', qlen - i);
                size_t len = amp ? (size_t)(amp - p) : qlen - i;

                i += len + 1;
                if (len == 0 || (len >= 8 && memcmp(p, "owned_by", 8) == 0 && (len == 8 || p[8] == '=')))
                        continue;
                if (n + len + 2 > cap)
                        return -ENOBUFS;
                if (n)
                        dst[n++] = '&';
                memcpy(dst + n, p, len);
                n += len;
        }
        dst[n] = 0;
        return 0;
}

/* The decoded value of query parameter key into dst ("" if absent). */
static void query_param(const char *q, size_t qlen, const char *key, char *dst, size_t cap) {
        size_t klen = strlen(key);
        const char *p = q, *end = q + qlen;

        while (p < end) {
                const char *amp = memchr(p, '&', end - p);
                const char *e = amp ? amp : end;
                if ((size_t)(e - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
                        url_decode(p + klen + 1, (size_t)(e - p - klen - 1), true, dst, cap);
                        return;
                }
                p = e + 1;
        }
}

/* Parses the head at c->in[req_start..]. Returns 1 when a head was taken,
 * 0 when more input is needed, -1 when an error response was queued. */
static int take_head(struct conn *c) {
        const struct sy_config *cfg = c->cfg;
        struct http_header hdrs[256];
        struct http_request req = { .headers = hdrs };
        struct http_limits lim = {
                .max_header_bytes = cfg->server.max_header_bytes,
                .max_headers = cfg->server.max_headers < 256 ? cfg->server.max_headers : 256,
        };
        const struct http_header *h;
        const char *q;
        int r;

        r = http_parse_request(c->in.p + c->req_start, c->in.len - c->req_start, &lim, &req);
        if (r == -EAGAIN)
                return 0;
        c->keepalive = false;
        if (r == -E2BIG) {
                respond_error(c, 431, "invalid_request_error", NULL, "request_header_fields_too_large",
                              "request header block exceeds %zu bytes or %zu fields", lim.max_header_bytes,
                              lim.max_headers);
                return -1;
        }
        if (r == -ENOTSUP) {
                respond_error(c, 505, "invalid_request_error", NULL, "http_version_not_supported",
                              "only HTTP/1.0 and HTTP/1.1 are supported");
                return -1;
        }
        if (r < 0) {
                respond_error(c, 400, "invalid_request_error", NULL, "bad_request", "malformed HTTP request");
                return -1;
        }
        c->head_len = (size_t)r;
        c->minor = req.minor_version;
        c->t_start_ns = fe_now_ns();
        SY_TIMES(sy_times_request(&c->times, c->t_start_ns));
        SY_MARK(request, c, c->probe_req = ++c->w->probe_seq);

        /* keep-alive: 1.1 default on, 1.0 default off */
        c->keepalive = req.minor_version >= 1;
        h = http_find_header(hdrs, req.num_headers, "connection");
        if (h) {
                if (http_header_has_token(h->value, h->value_len, "close"))
                        c->keepalive = false;
                else if (http_header_has_token(h->value, h->value_len, "keep-alive"))
                        c->keepalive = true;
        }
        if (atomic_load_explicit(&c->w->fe->draining, memory_order_relaxed))
                c->keepalive = false;

        /* target: path and query */
        q = memchr(req.target, '?', req.target_len);
        {
                size_t plen = q ? (size_t)(q - req.target) : req.target_len;
                if (plen >= sizeof c->path) {
                        respond_error(c, 404, "invalid_request_error", NULL, "not_found", "unknown path");
                        return -1;
                }
                memcpy(c->path, req.target, plen);
                c->path[plen] = 0;
                if (q) {
                        query_param(q + 1, req.target_len - plen - 1, "owned_by", c->owned_by_q, sizeof c->owned_by_q);
                        if (forward_query(q + 1, req.target_len - plen - 1, c->query, sizeof c->query) < 0) {
                                respond_error(c, 414, "invalid_request_error", NULL, "uri_too_long",
                                              "the query string is longer than %zu bytes", sizeof c->query - 1);
                                return -1;
                        }
                }
        }

        /* body framing, strict where leniency smuggles (RFC 9112 6.1, 6.3):
         * one Content-Length (a duplicate is refused even when equal), one
         * Transfer-Encoding, exactly "chunked", never both, never in 1.0 */
        {
                const struct http_header *te = NULL, *cl = NULL;
                const char *bad = NULL;
                uint64_t len = 0;

                for (size_t i = 0; i < req.num_headers && !bad; i++) {
                        const struct http_header *x = &hdrs[i];
                        if (x->name_len == 17 && strncasecmp(x->name, "transfer-encoding", 17) == 0) {
                                if (te)
                                        bad = "more than one Transfer-Encoding header";
                                te = x;
                        } else if (x->name_len == 14 && strncasecmp(x->name, "content-length", 14) == 0) {
                                if (cl)
                                        bad = "more than one Content-Length header";
                                else if (http_parse_content_length(x->value, x->value_len, &len) < 0)
                                        bad = "invalid Content-Length";
                                cl = x;
                        }
                }
                if (!bad && te && cl)
                        bad = "both Transfer-Encoding and Content-Length";
                else if (!bad && te && req.minor_version == 0)
                        bad = "Transfer-Encoding in an HTTP/1.0 request";
                else if (!bad && te && !(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0))
                        bad = "unsupported Transfer-Encoding (only chunked)";
                if (bad) {
                        c->keepalive = false;
                        respond_error(c, 400, "invalid_request_error", NULL, "bad_request", "%s", bad);
                        return -1;
                }
                if (te) {
                        c->chunked_in = true;
                } else {
                        c->body_len = len;
                        if (len > cfg->server.max_body_bytes) {
                                c->keepalive = false; /* the body that may follow is not read */
                                respond_error(c, 413, "invalid_request_error", NULL, "request_too_large",
                                              "request body of %llu bytes exceeds the limit of %zu bytes",
                                              (unsigned long long)len, cfg->server.max_body_bytes);
                                return -1;
                        }
                }
        }
        h = http_find_header(hdrs, req.num_headers, "expect");
        if (h) {
                if (h->value_len == 12 && strncasecmp(h->value, "100-continue", 12) == 0) {
                        c->expect_continue = true;
                } else {
                        c->keepalive = false;
                        respond_error(c, 417, "invalid_request_error", NULL, "expectation_failed",
                                      "unsupported Expect header");
                        return -1;
                }
        }
        h = http_find_header(hdrs, req.num_headers, "x-owned-by");
        if (h)
                copy_header_value(c->owned_by_h, sizeof c->owned_by_h, h);
        h = http_find_header(hdrs, req.num_headers, c->cfg->router.session.header);
        if (h)
                copy_header_value(c->session, sizeof c->session, h);
        h = http_find_header(hdrs, req.num_headers, "x-switchyard-sheddable");
        if (h &&
            ((h->value_len == 4 && strncasecmp(h->value, "true", 4) == 0) || (h->value_len == 1 && h->value[0] == '1')))
                c->sheddable = true;

        auth_take_headers(c, hdrs, req.num_headers);

        /* the head stages: what needs no body is answered there */
        c->head = &req;
        pipeline_start(c);
        c->head = NULL;
        return pipeline_at(c, &stage_body) && !c->closing ? 1 : -1;
}

/* Stage body: the headers forwarded upstream are taken while the head is
 * still parsed; then the request waits for its body (process_input resumes
 * it when the body is in). */
static enum stage_rc body_stage(struct conn *c) {
        const struct http_request *req = c->head;
        bool auth = c->cfg->n_api_keys > 0;
        const char *sel = c->cfg->proxy.selected_model_header;
        size_t sel_len = strlen(sel);

        /* headers forwarded upstream: end-to-end ones only, and not the
         * client's switchyard key when switchyard checks keys */
        for (size_t i = 0; i < req->num_headers; i++) {
                const struct http_header *h = &req->headers[i];
                if (hop_by_hop(h))
                        continue;
                /* switchyard says which model serves: a client's own value
                 * would steer a gateway's HTTPRoute behind it */
                if (h->name_len == sel_len && strncasecmp(h->name, sel, sel_len) == 0)
                        continue;
                if (auth && ((h->name_len == 13 && strncasecmp(h->name, "authorization", 13) == 0) ||
                             (h->name_len == 9 && strncasecmp(h->name, "x-api-key", 9) == 0)))
                        continue;
                buf_append(&c->fwd_headers, h->name, h->name_len);
                buf_append(&c->fwd_headers, ": ", 2);
                buf_append(&c->fwd_headers, h->value, h->value_len);
                buf_append(&c->fwd_headers, "\r\n", 2);
        }
        return STAGE_SUSPEND;
}

const struct stage stage_body = { "body", body_stage };

static void send_continue(struct conn *c) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        buf_append(&c->out, cont, sizeof cont - 1);
        conn_send(c);
}

/* Consumes body bytes. Returns 1 when complete, 0 when more is needed,
 * -1 when an error response was queued. */
static int take_body(struct conn *c) {
        const struct sy_config *cfg = c->cfg;
        size_t body_start = c->req_start + c->head_len;

        if (!c->chunked_in)
                return c->in.len - body_start >= c->body_len ? 1 : 0;
        if (c->chunk_off < body_start)
                c->chunk_off = body_start;
        while (c->chunk_off < c->in.len) {
                const char *data;
                size_t used, dlen;
                int r = http_chunked_step(&c->chunk, c->in.p + c->chunk_off, c->in.len - c->chunk_off, &used, &data,
                                          &dlen);
                if (r < 0) {
                        c->keepalive = false;
                        respond_error(c, 400, "invalid_request_error", NULL, "bad_request",
                                      "malformed chunked request body");
                        return -1;
                }
                /* a chunk that cannot fit is refused at its size line, not
                 * after its bytes (remaining is 0 outside sizes and data) */
                if (dlen || c->chunk.remaining) {
                        if (c->body.len + dlen > cfg->server.max_body_bytes ||
                            c->chunk.remaining > cfg->server.max_body_bytes - c->body.len - dlen) {
                                c->keepalive = false;
                                respond_error(c, 413, "invalid_request_error", NULL, "request_too_large",
                                              "request body exceeds the limit of %zu bytes",
                                              cfg->server.max_body_bytes);
                                return -1;
                        }
                        if (dlen)
                                buf_append(&c->body, data, dlen);
                }
                c->chunk_off += used;
                if (r == 1) {
                        c->body_len = c->body.len;
                        return 1;
                }
                if (used == 0)
                        break;
        }
        return 0;
}

/* Drives the request state machine over buffered input. */
static void process_input(struct conn *c) {
        const struct sy_config *cfg = c->cfg;
        int r;

        while (!c->closing) {
                if (c->state == CS_HEAD) {
                        if (c->req_start == c->in.len) {
                                /* nothing buffered: reclaim the buffer */
                                c->in.len = c->req_start = 0;
                                break;
                        }
                        /* may free the configuration cfg points to (this
                         * connection held the last reference to the one
                         * before a reload): read it again */
                        conn_pin_config(c);
                        cfg = c->cfg;
                        reset_request(c);
                        r = take_head(c);
                        if (r == 0) {
                                if (c->in.len - c->req_start > cfg->server.max_header_bytes) {
                                        c->keepalive = false;
                                        respond_error(c, 431, "invalid_request_error", NULL,
                                                      "request_header_fields_too_large",
                                                      "request header block exceeds %zu bytes",
                                                      cfg->server.max_header_bytes);
                                }
                                break;
                        }
                        if (r < 0)
                                break; /* a local or error response is being written */
                        c->state = CS_BODY;
                        c->deadline_ns = fe_now_ns() + (uint64_t)cfg->server.header_timeout_ms * 1000000ULL;
                }
                if (c->state == CS_BODY) {
                        r = take_body(c);
                        if (r == 0) {
                                if (c->expect_continue) {
                                        c->expect_continue = false;
                                        send_continue(c);
                                }
                                break;
                        }
                        if (r < 0)
                                break;
                        c->state = CS_PICKING;
                        pipeline_resume(c);
                }
                break;
        }
        if (!c->closing && (c->state == CS_HEAD || c->state == CS_BODY))
                post_recv(c);
}

/* Called when the response for the current request has been written in
 * full: next request (pipelined bytes first) or close. */
void conn_request_done(struct conn *c) {
        const struct sy_config *cfg = c->cfg;
        size_t consumed;

        FE_MARK_DONE(c);
        if (c->closing)
                return;
        if (!c->keepalive || c->out_last) {
                conn_close(c);
                return;
        }
        consumed = c->req_start + c->head_len +
                   (c->chunked_in ? (c->chunk_off - c->req_start - c->head_len) : c->body_len);
        if (consumed > c->in.len)
                consumed = c->in.len;
        /* move pipelined bytes to the front */
        memmove(c->in.p, c->in.p + consumed, c->in.len - consumed);
        c->in.len -= consumed;
        c->req_start = 0;
        c->head_len = 0;
        c->body_len = 0;
        c->chunked_in = false;
        c->state = CS_HEAD;
        c->out.len = c->out_off = 0;
        c->deadline_ns =
                fe_now_ns() +
                (uint64_t)(c->in.len ? cfg->server.header_timeout_ms : cfg->server.idle_timeout_ms) * 1000000ULL;
        process_input(c);
}

/* ---- completions -------------------------------------------------------------- */

static void on_client_read(struct conn *c, int res) {
        const struct sy_config *cfg = c->cfg;

        c->rd.busy = false;
        if (c->closing) {
                conn_free_if_idle(c);
                return;
        }
        if (res <= 0) {
                if (res == -EINTR || res == -EAGAIN) {
                        post_recv(c);
                        return;
                }
                /* client went away (or half-closed); an in-flight proxy is cancelled */
                conn_close(c);
                return;
        }
        if (c->in.len == c->req_start && c->state == CS_HEAD)
                c->deadline_ns = fe_now_ns() + (uint64_t)cfg->server.header_timeout_ms * 1000000ULL;
        c->in.len += (size_t)res;
        if (c->state == CS_HEAD || c->state == CS_BODY) {
                process_input(c);
        } else {
                /* pipelined bytes while a response is in progress: keep them, bounded */
                if (c->in.len - c->req_start > cfg->server.max_header_bytes + cfg->server.max_body_bytes + 65536) {
                        conn_close(c);
                        return;
                }
                post_recv(c);
        }
}

static void on_client_write(struct conn *c, int res) {
        c->wr.busy = false;
        c->send_deadline_ns = 0;
        if (c->closing) {
                conn_free_if_idle(c);
                return;
        }
        if (res < 0) {
                if (res == -EINTR || res == -EAGAIN) {
                        conn_send(c);
                        return;
                }
                conn_close(c);
                return;
        }
        c->out_off += (size_t)res;
        FE_MARK(client_write, c);
        if (c->out_off < c->out.len) {
                conn_send(c);
                return;
        }
        c->out.len = c->out_off = 0;
        if (c->state == CS_UPSTREAM) {
                proxy_client_written(c);
        } else if (c->state == CS_RESPOND) {
                conn_request_done(c);
        }
        /* CS_BODY: a 100 Continue went out */
}

static void post_accept(struct worker *w) {
        struct io_uring_sqe *sqe;

        if (w->accept_io.busy || !w->accepting)
                return;
        sqe = worker_sqe(w);
        /* one connection per accept, not multishot: the workers share one
         * listening socket, whose exclusive wake-up goes to the first
         * armed accept; a multishot one stays first in the queue and would
         * take every connection, a single one leaves the queue when it
         * completes and the next connection goes to the next idle worker */
        io_uring_prep_accept(sqe, w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        io_uring_sqe_set_data(sqe, &w->accept_io);
        w->accept_io.busy = true;
}

static void on_accept(struct worker *w, struct io_uring_cqe *cqe) {
        int fd = cqe->res, one = 1;
        struct conn *c;

        if (!(cqe->flags & IORING_CQE_F_MORE))
                w->accept_io.busy = false;
        if (fd < 0) {
                if (fd != -ECANCELED)
                        log_debug("accept: %s", strerror(-fd));
                post_accept(w);
                return;
        }
        if (!w->accepting) {
                close(fd);
                return;
        }
        atomic_fetch_add_explicit(&w->metrics.accepted, 1, memory_order_relaxed);
        /* the limit is per process: one counter shared by the workers */
        if (atomic_fetch_add_explicit(&w->fe->nconns, 1, memory_order_relaxed) >= w->fe->cfg->server.max_connections) {
                atomic_fetch_sub_explicit(&w->fe->nconns, 1, memory_order_relaxed);
                static const char body[] = "{\"error\":{\"message\":\"too many connections\",\"type\":\"server_error\","
                                           "\"param\":null,\"code\":\"too_many_connections\"}}";
                char busy[256];
                int n = snprintf(busy, sizeof busy,
                                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                                 sizeof body - 1, body);
                if (n > 0 && (size_t)n < sizeof busy)
                        (void)!send(fd, busy, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(fd);
                atomic_fetch_add_explicit(&w->metrics.rejected_connections, 1, memory_order_relaxed);
                post_accept(w);
                return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        if (!c) {
                atomic_fetch_sub_explicit(&w->fe->nconns, 1, memory_order_relaxed);
                close(fd);
                post_accept(w);
                return;
        }
        c->w = w;
        conn_pin_config(c);
        c->fd = fd;
        SY_TIMES(c->times.accepted = fe_now_ns());
        SY_MARK(accepted, c, 0);
        c->rd = (struct io){ .kind = IO_CLIENT_RD, .owner = c };
        c->wr = (struct io){ .kind = IO_CLIENT_WR, .owner = c };
        c->state = CS_HEAD;
        c->upstream = -1;
        c->deadline_ns = fe_now_ns() + (uint64_t)w->fe->cfg->server.header_timeout_ms * 1000000ULL;
        c->next = w->conns;
        if (w->conns)
                w->conns->prev = c;
        w->conns = c;
        w->nconns++;
        atomic_fetch_add_explicit(&w->metrics.open_connections, 1, memory_order_relaxed);
        post_recv(c);
        post_accept(w);
}

static void post_bell(struct worker *w) {
        struct io_uring_sqe *sqe;

        if (w->bell_io.busy)
                return;
        sqe = worker_sqe(w);
        io_uring_prep_poll_add(sqe, w->my_bell, POLLIN);
        io_uring_sqe_set_data(sqe, &w->bell_io);
        w->bell_io.busy = true;
}

static void drain_router(struct worker *w) {
        uint16_t type;
        const void *msg;
        uint32_t len;

        while (ring_sc_peek(w->from_router, &type, &msg, &len) == 0) {
                if (type == SY_MSG_PICK_RESP)
                        pick_reply(w, msg, len);
                ring_sc_release(w->from_router);
        }
        while (ring_sc_peek(w->from_clf, &type, &msg, &len) == 0) {
                if (type == SY_MSG_CLASSIFY_RESP)
                        classify_reply(w, msg, len);
                ring_sc_release(w->from_clf);
        }
}

static void check_timeouts(struct worker *w, uint64_t now) {
        struct conn *c, *next;

        for (c = w->pending; c; c = next) {
                next = c->pnext;
                if (c->pick_deadline_ns > now)
                        break; /* FIFO with one timeout: the rest are later */
                worker_pending_remove(c);
                pick_timeout(c);
        }
        if (w->waiting && w->waiting_min_ns <= now) {
                uint64_t min = 0;
                for (c = w->waiting; c; c = next) {
                        next = c->pnext;
                        if (c->pick_deadline_ns <= now) {
                                worker_pending_remove(c);
                                if (c->state == CS_CLASSIFYING)
                                        classify_timeout(c);
                                else
                                        pick_timeout(c);
                        } else if (!min || c->pick_deadline_ns < min) {
                                min = c->pick_deadline_ns;
                        }
                }
                /* a timeout handler may have added to the list: keep the lower bound */
                for (c = w->waiting; c; c = c->pnext)
                        if (!min || c->pick_deadline_ns < min)
                                min = c->pick_deadline_ns;
                w->waiting_min_ns = min;
        }
        for (c = w->conns; c; c = next) {
                next = c->next;
                if (!c->closing && c->wr.busy && c->send_deadline_ns && now >= c->send_deadline_ns) {
                        /* the client stopped reading: its connection (and upstream) go */
                        atomic_fetch_add_explicit(&w->metrics.send_timeouts, 1, memory_order_relaxed);
                        log_debug("connection %d: no write progress for %u ms, closed", c->fd,
                                  c->cfg->server.send_timeout_ms);
                        conn_close(c);
                        continue;
                }
                if (c->closing || now < c->deadline_ns)
                        continue;
                if (c->state == CS_HEAD && c->in.len == c->req_start) {
                        conn_close(c); /* idle keep-alive connection */
                } else if (c->state == CS_HEAD || c->state == CS_BODY) {
                        c->keepalive = false;
                        respond_error(c, 408, "invalid_request_error", NULL, "request_timeout",
                                      "the request was not received in time");
                }
        }
        proxy_check_timeouts(w, now);
}

static bool worker_idle_for_exit(struct worker *w) {
        for (struct conn *c = w->conns; c; c = c->next)
                if (!c->closing && !(c->state == CS_HEAD && c->in.len == c->req_start))
                        return false;
        return true;
}

/* Handles every completion that is ready. */
static void worker_reap(struct worker *w) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;

        io_uring_for_each_cqe(&w->ring, head, cqe) {
                struct io *io = io_uring_cqe_get_data(cqe);
                n++;
                if (!io)
                        continue;
                switch (io->kind) {
                case IO_ACCEPT:
                        on_accept(w, cqe);
                        break;
                case IO_CLIENT_RD:
                        on_client_read(io->owner, cqe->res);
                        break;
                case IO_CLIENT_WR:
                        on_client_write(io->owner, cqe->res);
                        break;
                case IO_UP_CONNECT:
                case IO_UP_WR:
                case IO_UP_RD:
                        proxy_io(io->owner, io, cqe->res);
                        break;
                case IO_BELL:
                        w->bell_io.busy = false;
                        bell_drain(w->my_bell);
                        post_bell(w);
                        break;
                default:
                        break;
                }
        }
        io_uring_cq_advance(&w->ring, n);
}

static void *worker_run(void *arg) {
        struct worker *w = arg;
        struct frontend *fe = w->fe;
        uint64_t last_tick = 0;
        bool stopped_accepting = false;
        char name[16];

        /* top -H, /proc/PID/task/TID/comm: which worker is busy */
        snprintf(name, sizeof name, "sy-worker-%u", w->id);
        pthread_setname_np(pthread_self(), name);

        if (w->ring.flags & IORING_SETUP_R_DISABLED)
                syscall(__NR_io_uring_register, w->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        w->accepting = true;
        atomic_store_explicit(&w->running, true, memory_order_release);
        post_accept(w);
        post_bell(w);
        for (;;) {
                struct io_uring_cqe *cqe;
                struct __kernel_timespec ts;
                uint64_t now = fe_now_ns(), wait_ns = TICK_NS;
                bool sleep_ok;

                /* a quiescent point: nothing of the last turn is still held */
                atomic_fetch_add_explicit(&w->loops, 1, memory_order_release);
                if (atomic_load_explicit(&fe->draining, memory_order_relaxed)) {
                        if (!stopped_accepting) {
                                stopped_accepting = true;
                                w->accepting = false;
                                if (w->accept_io.busy) {
                                        struct io_uring_sqe *sqe = worker_sqe(w);
                                        io_uring_prep_cancel(sqe, &w->accept_io, 0);
                                        io_uring_sqe_set_data(sqe, NULL);
                                }
                                /* idle keep-alive connections can go now */
                                for (struct conn *c = w->conns, *nx; c; c = nx) {
                                        nx = c->next;
                                        if (c->state == CS_HEAD && c->in.len == c->req_start)
                                                conn_close(c);
                                }
                        }
                        if (worker_idle_for_exit(w) || now >= fe->drain_deadline_ns)
                                break;
                }
                {
                        uint64_t next_ns = w->pending ? w->pending->pick_deadline_ns : 0;
                        if (w->waiting && (!next_ns || w->waiting_min_ns < next_ns))
                                next_ns = w->waiting_min_ns;
                        if (next_ns && next_ns > now && next_ns - now < wait_ns)
                                wait_ns = next_ns - now;
                        else if (next_ns && next_ns <= now)
                                wait_ns = 0;
                }
                sleep_ok = ring_sc_prepare_sleep(w->from_router);
                if (!ring_sc_prepare_sleep(w->from_clf))
                        sleep_ok = false;
                if (!sleep_ok)
                        wait_ns = 0;
                ts.tv_sec = (long long)(wait_ns / 1000000000ULL);
                ts.tv_nsec = (long long)(wait_ns % 1000000000ULL);
                if (wait_ns == 0) {
                        io_uring_submit(&w->ring);
                } else {
                        io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
                }
                ring_sc_cancel_sleep(w->from_router);
                ring_sc_cancel_sleep(w->from_clf);

                worker_reap(w);
                drain_router(w);
                now = fe_now_ns();
                if ((w->pending && w->pending->pick_deadline_ns <= now) || (w->waiting && w->waiting_min_ns <= now))
                        check_timeouts(w, now), last_tick = now;
                else if (now - last_tick >= TICK_NS) {
                        check_timeouts(w, now);
                        last_tick = now;
                }
                if (now - w->last_heartbeat_ns >= 100000000ULL) {
                        shm_peer_heartbeat(shm_seg_worker(fe->seg, w->id));
                        w->last_heartbeat_ns = now;
                        worker_refresh_snapshot(w);
                }
        }
        atomic_store_explicit(&w->running, false, memory_order_release);
        /* drain deadline passed or all done: close what is left, and let the
         * cancelled operations complete so that everything is freed */
        for (struct conn *c = w->conns, *nx; c; c = nx) {
                nx = c->next;
                conn_close(c);
        }
        for (int i = 0; i < 100 && w->conns; i++) {
                struct __kernel_timespec ts = { .tv_nsec = 10000000 };
                struct io_uring_cqe *cqe;
                io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
                worker_reap(w);
        }
        return NULL;
}

/* ---- setup ---------------------------------------------------------------------- */

/* ---- reload ------------------------------------------------------------------------ */

/* SIGHUP: a new configuration for new requests (API keys, limits, guards,
 * categories, auto routing); requests in flight finish with theirs and no
 * connection is dropped. Upstreams and models come through the router's
 * snapshot. An invalid file is refused and the running one stays. */
static void reload(struct frontend *fe, const char *path) {
        struct sy_config *nc = NULL;
        struct fe_gen *g, *old;
        uint64_t seen[FE_MAX_WORKERS];
        char err[1024];
        int r = sy_config_load(path, &nc, err, sizeof err);

        if (r < 0) {
                log_err("SIGHUP: %s; keeping the running configuration", err);
                return;
        }
        if (nc->server.port != fe->cfg->server.port || strcmp(nc->server.host, fe->cfg->server.host) != 0 ||
            nc->server.workers != fe->cfg->server.workers)
                log_warn("SIGHUP: server listener and worker changes apply at restart");
        g = calloc(1, sizeof *g);
        if (!g) {
                sy_config_free(nc);
                return;
        }
        g->cfg = nc;
        g->refs = 1;
        if (tls_table_new(nc, &g->tls) < 0)
                log_err("SIGHUP: out of memory for the upstreams' TLS settings; they take effect at restart");
        old = atomic_exchange_explicit(&fe->gen, g, memory_order_acq_rel);
        /* wait until every running worker has turned its loop once: none can
         * still be about to take a reference to old */
        for (unsigned i = 0; i < fe->n_workers; i++)
                seen[i] = atomic_load_explicit(&fe->workers[i].loops, memory_order_acquire);
        for (int tries = 0; tries < 400; tries++) {
                bool all = true;
                for (unsigned i = 0; i < fe->n_workers; i++)
                        if (atomic_load_explicit(&fe->workers[i].running, memory_order_acquire) &&
                            atomic_load_explicit(&fe->workers[i].loops, memory_order_acquire) == seen[i])
                                all = false;
                if (all)
                        break;
                usleep(1000);
        }
        gen_put(old);
        log_notice("SIGHUP: configuration reloaded (%zu API keys, %zu categories)", nc->n_api_keys, nc->n_categories);
}

/* One listening socket for all the workers (see common/listener.h). */
static int make_listener(const struct sy_config *cfg, int *ret_fd) {
        return listener_open(cfg->server.host, cfg->server.port, ret_fd);
}

static int worker_init(struct frontend *fe, struct worker *w, unsigned id) {
        const struct sy_config *cfg = fe->cfg;
        struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN };

        char path[512];
        int r;

        w->id = id;
        w->fe = fe;
        w->router_bell = -1;
        w->clf_bell = -1;
        w->my_bell = -1;
        w->listen_fd = -1;
        w->accept_io = (struct io){ .kind = IO_ACCEPT, .owner = w };
        w->bell_io = (struct io){ .kind = IO_BELL, .owner = w };
        w->next_req_id = (uint64_t)fe_now_ns() << 8; /* distinct from a previous incarnation's ids */
        w->snap = malloc(sizeof *w->snap);
        if (!w->snap)
                return -ENOMEM;
        memcpy(w->snap, fe->boot_snap, sizeof *w->snap);
        /* SINGLE_ISSUER: the ring belongs to the thread that creates it, so it
         * is created disabled here and enabled by the worker thread itself */
        p.flags |= IORING_SETUP_R_DISABLED;
        r = io_uring_queue_init_params(4096, &w->ring, &p);
        if (r < 0) {
                struct io_uring_params p0 = { 0 }; /* older kernels */
                r = io_uring_queue_init_params(4096, &w->ring, &p0);
        }
        if (r < 0)
                return r;
        w->listen_fd = fe->inherited_fd; /* the one listener, shared */
        w->to_router = shm_seg_ring(fe->seg, id, SHM_PEER_ROUTER, SHM_TO_PEER);
        w->from_router = shm_seg_ring(fe->seg, id, SHM_PEER_ROUTER, SHM_FROM_PEER);
        w->to_clf = shm_seg_ring(fe->seg, id, SHM_PEER_CLASSIFIER, SHM_TO_PEER);
        w->from_clf = shm_seg_ring(fe->seg, id, SHM_PEER_CLASSIFIER, SHM_FROM_PEER);
        if (sy_runtime_path(cfg, path, sizeof path, SY_WORKER_BELL, id) < 0)
                return -ENAMETOOLONG;
        r = bell_open_consumer(path, &w->my_bell);
        if (r < 0)
                return r;
        shm_peer_attach(shm_seg_worker(fe->seg, id));
        worker_refresh_snapshot(w);
        /* a producer rings its consumer once at start (see shm/ring.h) */
        ring_sp_needs_wake(w->to_router);
        if (sy_runtime_path(cfg, path, sizeof path, SY_ROUTER_BELL, 0) == 0 &&
            bell_open_producer(path, &w->router_bell) == 0)
                bell_ring(w->router_bell);
        ring_sp_needs_wake(w->to_clf);
        if (sy_runtime_path(cfg, path, sizeof path, SY_CLASSIFIER_BELL, 0) == 0 &&
            bell_open_producer(path, &w->clf_bell) == 0)
                bell_ring(w->clf_bell);
        return 0;
}

static void worker_fini(struct worker *w) {
        proxy_pool_free(w);
        limit_worker_fini(w);
        route_worker_fini(w);
        auth_worker_fini(w);
        io_uring_queue_exit(&w->ring);
        if (w->listen_fd >= 0 && w->listen_fd != w->fe->inherited_fd)
                close(w->listen_fd);
        if (w->my_bell >= 0)
                close(w->my_bell);
        if (w->router_bell >= 0)
                close(w->router_bell);
        if (w->clf_bell >= 0)
                close(w->clf_bell);
        free(w->snap);
}

/* systemd socket activation: LISTEN_PID/LISTEN_FDS, first fd is 3. */
static int inherited_listener(void) {
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

        if (!pid || !fds || (pid_t)strtol(pid, NULL, 10) != getpid() || strtol(fds, NULL, 10) < 1)
                return -1;
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        return 3;
}

int frontend_main(const char *config_path) {
        struct frontend fe = { .inherited_fd = -1 };
        char err[512], path[512];
        struct shm_layout layout;
        int sfd = -1, code = 1, r;
        unsigned started = 0;
        struct fe_gen *boot_gen = NULL;
        bool activated;

        sy_log_init("frontend");
        r = sy_config_load(config_path, &fe.cfg, err, sizeof err);
        if (r < 0) {
                log_err("%s", err);
                return 1;
        }
        boot_gen = calloc(1, sizeof *boot_gen);
        if (!boot_gen)
                goto out;
        boot_gen->cfg = fe.cfg;
        boot_gen->refs = 2; /* current, and the boot configuration main keeps (never freed by a put) */
        if (tls_table_new(fe.cfg, &boot_gen->tls) < 0)
                goto out;
        fe.gen = boot_gen;
        fe.n_workers = fe.cfg->server.workers ? fe.cfg->server.workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
        if (fe.n_workers > fe.cfg->shm.max_workers)
                fe.n_workers = fe.cfg->shm.max_workers;
        if (fe.n_workers > FE_MAX_WORKERS)
                fe.n_workers = FE_MAX_WORKERS;
        fe.boot_snap = malloc(sizeof *fe.boot_snap);
        fe.workers = calloc(fe.n_workers, sizeof *fe.workers);
        if (!fe.boot_snap || !fe.workers)
                goto out;
        r = snapshot_build(fe.cfg, fe.boot_snap, err, sizeof err);
        if (r < 0) {
                log_err("%s", err);
                goto out;
        }
        if (err[0])
                log_warn("%s", err);
        layout = sy_runtime_layout(fe.cfg);
        sy_runtime_path(fe.cfg, path, sizeof path, SY_SEGMENT_FILE, 0);
        r = shm_seg_open(path, &layout, &fe.seg);
        if (r < 0) {
                log_err("cannot open shared segment %s: %s", path, strerror(-r));
                goto out;
        }
        if (limit_init(&fe) < 0)
                goto out;
        fe.inherited_fd = inherited_listener();
        activated = fe.inherited_fd >= 0;
        /* not socket activated: bind it ourselves, once, for all workers */
        if (!activated && (r = make_listener(fe.cfg, &fe.inherited_fd)) < 0) {
                listener_name(fe.cfg->server.host, fe.cfg->server.port, path, sizeof path);
                log_err("cannot listen on %s: %s", path, strerror(-r));
                goto out;
        }

        sfd = sy_signalfd_open(SFD_CLOEXEC);
        signal(SIGPIPE, SIG_IGN); /* before any bell_ring (it checks once) */

        for (unsigned i = 0; i < fe.n_workers; i++) {
                r = worker_init(&fe, &fe.workers[i], i);
                if (r == -ENOSYS || r == -EPERM) {
                        log_err("worker %u: io_uring is not available (%s): the kernel or a seccomp profile "
                                "refuses io_uring_setup; allow io_uring_setup, io_uring_enter and "
                                "io_uring_register (see docs/deploy.md)",
                                i, strerror(-r));
                        goto stop;
                }
                if (r < 0) {
                        log_err("worker %u: %s", i, strerror(-r));
                        goto stop;
                }
        }
        for (started = 0; started < fe.n_workers; started++)
                if (pthread_create(&fe.workers[started].thread, NULL, worker_run, &fe.workers[started]) != 0)
                        goto stop;
        if (activated)
                log_notice("frontend serving the socket passed by the service manager with %u workers", fe.n_workers);
        else
                log_notice("frontend listening on %s:%u with %u workers", fe.cfg->server.host, fe.cfg->server.port,
                           fe.n_workers);

        sy_notify_ready("serving");
        for (;;) {
                struct signalfd_siginfo si;
                struct pollfd pfd = { .fd = sfd, .events = POLLIN };
                uint64_t now;
                bool workers_alive = true;

                /* the watchdog is fed only while every worker loop turns */
                if (poll(&pfd, 1, 250) <= 0 || read(sfd, &si, sizeof si) != sizeof si) {
                        now = fe_now_ns();
                        for (unsigned i = 0; i < fe.n_workers; i++)
                                if (!shm_peer_alive(shm_seg_worker(fe.seg, i), 2000ULL * 1000000ULL))
                                        workers_alive = false;
                        if (workers_alive)
                                sy_notify_watchdog(now);
                        continue;
                }
                if (si.ssi_signo == SIGHUP) {
                        reload(&fe, config_path);
                        continue;
                }
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                        break;
        }
        code = 0;
stop:
        fe.drain_deadline_ns = fe_now_ns() + (uint64_t)fe.cfg->server.drain_timeout_ms * 1000000ULL;
        atomic_store(&fe.draining, 1);
        sy_notify_stopping();
        log_notice("draining: finishing in-flight requests (up to %u ms)", fe.cfg->server.drain_timeout_ms);
        for (unsigned i = 0; i < started; i++)
                bell_ring(fe.workers[i].my_bell);
        for (unsigned i = 0; i < started; i++)
                pthread_join(fe.workers[i].thread, NULL);
        for (unsigned i = 0; i < fe.n_workers; i++)
                if (fe.workers[i].snap)
                        worker_fini(&fe.workers[i]);
        log_notice("frontend stopped");
out:
        if (sfd >= 0)
                close(sfd);
        if (fe.inherited_fd >= 0)
                close(fe.inherited_fd);
        limit_fini(&fe);
        {
                /* the current one's own reference; the boot one goes with fe.cfg */
                struct fe_gen *g = atomic_exchange(&fe.gen, NULL);
                if (g && g != boot_gen)
                        gen_put(g);
                if (boot_gen)
                        tls_table_free(boot_gen->tls);
                free(boot_gen);
        }
        shm_seg_close(fe.seg);
        free(fe.workers);
        free(fe.boot_snap);
        sy_config_free(fe.cfg);
        return code;
}

/* exported for respond.c's /metrics */
unsigned frontend_metrics(struct worker *w, struct fe_metrics **all, unsigned cap);
unsigned frontend_metrics(struct worker *w, struct fe_metrics **all, unsigned cap) {
        unsigned n = w->fe->n_workers < cap ? w->fe->n_workers : cap;
        for (unsigned i = 0; i < n; i++)
                all[i] = &w->fe->workers[i].metrics;
        return n;
}
