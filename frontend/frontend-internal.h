/* Frontend internals shared by server.c (connections, io_uring loop),
 * proxy.c (upstream connections and relaying), respond.c (local endpoints
 * and errors) and metrics.c. */
#pragma once
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/json.h"
#include "frontend/http_parse.h"
#include "frontend/metrics.h"
#include "router/snapshot.h"
#include "shm/segment.h"

#define FE_MAX_WORKERS 256

struct worker;
struct conn;
struct upconn;

/* io_uring user_data points at one of these, embedded in its owner. */
enum io_kind { IO_ACCEPT = 1, IO_CLIENT_RD, IO_CLIENT_WR, IO_UP_CONNECT, IO_UP_WR, IO_UP_RD, IO_BELL, IO_CANCEL };

struct io {
        uint8_t kind;
        bool busy;
        void *owner;
};


enum conn_state {
        CS_HEAD,       /* reading a request head */
        CS_BODY,       /* reading a request body */
        CS_CLASSIFYING,/* model "auto": waiting for the classifier */
        CS_PICKING,    /* waiting for the router */
        CS_UPSTREAM,   /* proxying */
        CS_RESPOND,    /* writing a local response */
        CS_CLOSING,
};

enum framing { FR_NONE, FR_LENGTH, FR_CHUNKED, FR_CLOSE };

struct conn {
        struct io rd, wr;
        struct worker *w;
        struct conn *next, *prev;         /* worker's list */
        struct conn *pnext, *pprev;       /* pending list (picks) or waiting list (verdicts, queued picks) */
        bool in_waiting;                  /* on the waiting list, not the pending one */
        int fd;
        enum conn_state state;
        bool closing;                     /* close when outstanding I/O completes */
        bool keepalive;
        bool stream;                      /* "stream": true in the body */
        bool chunked_in;
        bool expect_continue;
        int minor;
        uint64_t deadline_ns;             /* header/body timeout or idle */

        /* input */
        struct buf in;                    /* raw bytes from the client */
        size_t req_start;                 /* offset of the current request in in */
        size_t head_len;
        uint64_t body_len;                /* content-length, or decoded so far */
        struct http_chunked chunk;
        size_t chunk_off;                 /* decode position in in */
        struct buf body;                  /* decoded body when chunked */
        char path[512];                   /* path without query */
        char owned_by_q[64];              /* ?owned_by= */
        char query[1024];                 /* the query string forwarded upstream (without owned_by) */
        char owned_by_h[64];              /* x-owned-by: */
        char session[128];                /* x-session-id */
        bool sheddable;                   /* x-switchyard-sheddable: 429 instead of 503 when saturated */
        struct buf fwd_headers;           /* client headers forwarded upstream */

        /* routing */
        uint64_t req_id;
        uint64_t t_start_ns, t_parsed_ns, t_sent_ns, t_first_byte_ns;
        uint64_t pick_deadline_ns;
        int model_idx;
        char model[SNAP_NAME];
        char engine[64];
        uint16_t tried[8];
        unsigned n_tried;
        unsigned retries;
        bool router_picked;
        bool queued;                      /* the router queued the pick (saturated) */
        unsigned retry_after_s;           /* Retry-After of an error answer; 0: 1 s */
        uint32_t token_estimate;          /* prompt bytes / 4 + max_tokens */
        /* model "auto" (auto.c) */
        bool is_auto;                     /* the client asked for an auto alias */
        bool clf_api;                     /* POST /api/v1/classify */
        const char *clf_status;           /* x-switchyard-classifier: ok, low_confidence, timeout, ... */
        char category[32];                /* verdict, "" if none */
        float confidence, jailbreak;
        int8_t reasoning;                 /* -1 not decided, 0 off, 1 on */
        bool reasoning_client;            /* the client set the reasoning switch itself */
        bool clf_verdict;                 /* a verdict arrived */
        bool clf_truncated;               /* classification API: text cut to head + tail */
        int cat_idx;                      /* config category whose rewrites apply, -1 none */
        bool injected_prompt;
        uint64_t t_clf_ns;                /* classify request sent */
        size_t prompt_off, prompt_len;    /* the prompt's JSON value in the body (prefix hashes) */
        int upstream;                     /* current upstream index or -1 */
        uint32_t up_gen;                  /* config generation that index was picked in (sy_done.snap_gen) */
        struct buf upreq;                 /* the request head as sent upstream (the body is upbody) */
        size_t head_len_up;               /* shared head part of upreq (no Host/Content-Length) */
        struct buf upbody;                /* the body as sent upstream */
        bool stale_retry;                 /* already retried once after a stale pooled connection */
        uint64_t overhead_ns;
        struct upconn *up;

        /* output */
        struct buf out;
        size_t out_off;
        bool out_last;                    /* close after this write */
        bool resp_started;                /* bytes of a response reached the client buffer */
        int status;                       /* status sent, for metrics */
        enum framing resp_framing;
        bool resp_sse;
        bool dechunk;                     /* HTTP/1.0 client, chunked upstream */
};

struct upconn {
        struct io conn_io, wr, rd;
        struct worker *w;
        struct upconn *next;              /* pool */
        struct conn *c;                   /* client being served, NULL when idle */
        int fd;
        uint16_t upstream;
        bool connected, reused, head_done, closing, eof;
        bool timed_out;
        struct sockaddr_in6 addr;
        struct buf orphan, orphan_body;   /* request buffers still read by an in-flight send */
        struct msghdr msg;                /* the in-flight send: head and body iovecs */
        struct iovec iov[2];
        uint64_t deadline_ns;
        struct http_chunked chunk;
        uint64_t remaining;               /* FR_LENGTH bytes left */
        enum framing framing;
        bool upstream_keepalive;
        bool done;
        size_t sent;
        struct buf in;
};

struct pool {
        struct upconn *idle;
        unsigned n_idle;
};

struct frontend;

struct worker {
        unsigned id;
        struct frontend *fe;
        struct io_uring ring;
        int listen_fd;
        struct io accept_io;
        bool accepting;
        struct conn *conns;
        unsigned nconns;
        struct conn *pending;             /* waiting for pick replies, oldest first */
        struct conn *pending_tail;
        struct conn *waiting;             /* waiting for verdicts or queued picks (longer, mixed deadlines) */
        struct conn *waiting_tail;
        uint64_t waiting_min_ns;          /* a lower bound of the waiting list's deadlines */
        struct ring *to_clf, *from_clf;   /* classifier ring pair */
        int clf_bell;                     /* producer end of the classifier's doorbell, -1 until opened */
        bool clf_alive;                   /* cached liveness of the classifier */
        uint64_t clf_checked_ns;
        uint32_t clf_generation;          /* to notice a restarted classifier */
        uint64_t next_req_id;

        struct snapshot *snap;            /* private copy */
        uint64_t snap_version;
        unsigned rr;
        uint32_t inflight[SNAP_MAX_UPSTREAMS];
        struct pool pools[SNAP_MAX_UPSTREAMS];

        struct ring *to_router, *from_router;
        int router_bell;                  /* producer end, -1 until opened */
        int my_bell;                      /* consumer end */
        struct io bell_io;
        uint64_t last_heartbeat_ns;
        bool router_alive;                /* cached liveness of the router */
        uint64_t router_checked_ns;

        struct fe_metrics metrics;
        pthread_t thread;
};

struct frontend {
        struct sy_config *cfg;
        struct shm_seg *seg;
        unsigned n_workers;
        struct worker *workers;
        _Atomic int draining;
        _Atomic unsigned nconns;          /* client connections, all workers */
        uint64_t drain_deadline_ns;
        int inherited_fd;                 /* socket activation, -1 if none */
        struct snapshot *boot_snap;       /* from the config, until the router publishes */
};

/* server.c */
void conn_close(struct conn *c);
void conn_send(struct conn *c);                 /* flushes c->out */
void conn_request_done(struct conn *c);          /* response fully queued/written */
struct io_uring_sqe *worker_sqe(struct worker *w);
bool worker_refresh_snapshot(struct worker *w);
uint64_t fe_now_ns(void);
/* Percent-decoding; returns the decoded length (dst NUL-terminated). */
size_t url_decode(const char *s, size_t len, bool plus_is_space, char *dst, size_t cap);

/* respond.c */
void respond_error(struct conn *c, int status, const char *type, const char *param, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void respond_json(struct conn *c, int status, const char *body, size_t len);
void respond_local(struct conn *c, const struct http_request *req);
bool respond_is_local(const char *method, size_t mlen, const char *path);
void respond_models(struct conn *c, const char *id);

/* server.c: picks waiting for the router (pick_timeout_us, FIFO), and
 * verdicts / queued picks (longer deadlines) on the waiting list */
void worker_pending_add(struct conn *c);
void worker_waiting_add(struct conn *c);
struct conn *worker_pending_take(struct worker *w, uint64_t req_id, enum conn_state state);
void worker_pending_remove(struct conn *c);      /* off whichever list it is on */
/* auto.c */
void auto_start(struct conn *c, const struct json_member *mem, size_t n);
void auto_classify_reply(struct worker *w, const void *msg, uint32_t len);
void auto_classify_timeout(struct conn *c);
bool auto_classifier_alive(struct worker *w);
/* rewrites for the upstream body after a verdict: returns true when it wrote
 * member m itself (model, messages, chat_template_kwargs) */
bool auto_rewrite_member(struct conn *c, const struct json_member *m, struct buf *out);
void auto_append_members(struct conn *c, const struct json_member *mem, size_t n, struct buf *out);
void auto_response_headers(struct conn *c, struct buf *out);

/* proxy.c */
void proxy_start(struct conn *c);                /* parses the body, picks, sends */
void proxy_continue(struct conn *c);             /* after a verdict or fallback: body, pick */
bool proxy_key_is(const struct json_member *m, const char *name);
const char *proxy_body(struct conn *c, size_t *ret_len);
void proxy_pick_reply(struct worker *w, const void *msg, uint32_t len);
void proxy_pick_timeout(struct conn *c);
void proxy_io(struct upconn *u, struct io *io, int res);
void proxy_client_written(struct conn *c);      /* a client write completed during CS_UPSTREAM */
void proxy_abort(struct conn *c);                /* client went away */
void proxy_check_timeouts(struct worker *w, uint64_t now);
void proxy_pool_free(struct worker *w);
