/* Frontend internals: server.c (connections, io_uring loop, request
 * framing), pipeline.c (the stages a request walks, in order), one file per
 * stage (stage_*.c, relay.c), respond.c (answers written here) and
 * metrics.c. */
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
#include "common/decisions.h"
#include "common/json.h"
#include "common/usdt.h"
#include "http/http_parse.h"
#include "http/url.h"
#include "frontend/metrics.h"
#include "proto/msg.h"
#include "proto/snapshot.h"
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
        CS_HEAD,        /* reading a request head */
        CS_BODY,        /* reading a request body */
        CS_CLASSIFYING, /* model "auto": waiting for the classifier */
        CS_PICKING,     /* waiting for the router */
        CS_UPSTREAM,    /* proxying */
        CS_RESPOND,     /* writing a local response */
        CS_CLOSING,
};

enum framing { FR_NONE, FR_LENGTH, FR_CHUNKED, FR_CLOSE };

/* pipeline.c: a stage's answer */
enum stage_rc {
        STAGE_NEXT = 0,    /* go on with the next stage */
        STAGE_SUSPEND = 1, /* waiting; the completion calls pipeline_resume() */
        STAGE_DONE = 2,    /* answered (or closed) here */
};

/* A USDT marker for connection c's current request (common/usdt.h; the
 * markers are listed in docs/probes.md), closing its stage in c->times. */
#define FE_MARK(name, c)                                                                       \
        do {                                                                                   \
                SY_TIMES(if (sy_times_wants(&(c)->times, SY_STAGE_OF_##name))                  \
                                 sy_times_mark(&(c)->times, SY_STAGE_OF_##name, fe_now_ns())); \
                SY_MARK(name, (c), (c)->probe_req);                                            \
        } while (0)
/* the request's end: the one marker the probes attach by default gets the times */
#define FE_MARK_DONE(c)                                                                \
        do {                                                                           \
                SY_TIMES(if (sy_times_wants(&(c)->times, SY_ST_DONE))                  \
                                 sy_times_mark(&(c)->times, SY_ST_DONE, fe_now_ns())); \
                SY_MARK_DONE((c), (c)->probe_req, &(c)->times);                        \
        } while (0)

struct stage {
        const char *name;
        enum stage_rc (*run)(struct conn *c);
};

#define FE_PII_TYPES 18 /* stage_guard.c's table of entity types, the last one "other" */

/* One generation of the configuration (SIGHUP loads a new one): every
 * connection holds the one its current request started with. */
struct tls_table;
struct tls_upstream;
struct up_tls;

struct fe_gen {
        struct sy_config *cfg;
        struct tls_table *tls; /* the upstreams' TLS contexts and headers (http/tls.h) */
        _Atomic long refs;     /* connections holding it, +1 while it is the current one */
};

struct conn {
        struct io rd, wr;
        struct worker *w;
        const struct sy_config *cfg; /* the request's configuration (gen's) */
        struct fe_gen *gen;
        struct conn *next, *prev;   /* worker's list */
        struct conn *pnext, *pprev; /* pending list (picks) or waiting list (verdicts, queued picks) */
        bool in_waiting;            /* on the waiting list, not the pending one */
        int fd;
        enum conn_state state;
        bool closing; /* close when outstanding I/O completes */
        bool keepalive;
        bool stream; /* "stream": true in the body */
        bool chunked_in;
        bool expect_continue;
        int minor;
        uint64_t deadline_ns;      /* header/body timeout or idle */
        uint64_t send_deadline_ns; /* a posted write must progress by then (send_timeout_ms); 0: none */

        /* input */
        struct buf in;    /* raw bytes from the client */
        size_t req_start; /* offset of the current request in in */
        size_t head_len;
        uint64_t body_len; /* content-length, or decoded so far */
        struct http_chunked chunk;
        size_t chunk_off;       /* decode position in in */
        struct buf body;        /* decoded body when chunked */
        char path[512];         /* path without query */
        char owned_by_q[64];    /* ?owned_by= */
        char query[1024];       /* the query string forwarded upstream (without owned_by) */
        char owned_by_h[64];    /* x-owned-by: */
        char session[128];      /* x-session-id */
        bool sheddable;         /* x-switchyard-sheddable: 429 instead of 503 when saturated */
        struct buf fwd_headers; /* client headers forwarded upstream */

        /* pipeline.c */
        unsigned stage;                  /* index of the current stage */
        const struct http_request *head; /* the parsed head, while the head stages run */
        struct sockaddr_in6 peer;        /* client address (rate-limit client id of last resort) */

        /* stage_auth.c */
        uint8_t key_digest[32]; /* SHA-256 of the key the client presented */
        bool key_given;
        int key_idx;        /* cfg->api_keys entry, -1: none (auth off) */
        char client_h[128]; /* rate_limits.client_header's value */

        /* stage_limit.c */
        bool limited; /* a limit applies: x-ratelimit-* headers on the answer */
        uint32_t rl_limit_req, rl_remaining_req, rl_reset_req_ms;
        uint32_t rl_limit_tok, rl_remaining_tok, rl_reset_tok_ms;
        uint32_t rl_charged;   /* tokens charged before the request (the estimate) */
        bool rl_tokens;        /* a token limit applies: correct the charge from usage */
        struct buf usage_tail; /* last bytes of the answer, where "usage" is */

        /* stage_guard.c */
        bool need_jailbreak, need_pii, need_category; /* asked of the classifier */
        float pii_score[FE_PII_TYPES];                /* best span score per entity type, 0: none */
        unsigned pii_patterns;                        /* PII_PAT_* found by shape over the whole text */
        bool guard_blocked;

        /* routing */
        uint64_t req_id;
        uint64_t probe_req;        /* the USDT markers' request id (FE_MARK), set by the "request" marker */
        struct sy_req_times times; /* the request's stage times for the probes (FE_MARK, common/usdt.h) */
        uint64_t t_start_ns, t_parsed_ns, t_sent_ns, t_first_byte_ns;
        uint64_t pick_deadline_ns;
        int model_idx;
        char model[SNAP_NAME];
        char engine[64];
        uint16_t tried[8];
        unsigned n_tried;
        unsigned retries;
        bool router_picked;
        bool queued;             /* the router queued the pick (saturated) */
        unsigned retry_after_s;  /* Retry-After of an error answer; 0: 1 s */
        uint32_t token_estimate; /* prompt bytes / 4 + max_tokens */
        /* model "auto" (auto.c) */
        bool is_auto;           /* the client asked for an auto alias */
        bool clf_api;           /* POST /api/v1/classify */
        const char *clf_status; /* x-switchyard-classifier: ok, low_confidence, timeout, ... */
        int clf_reason;         /* FE_CLF_* when no verdict came */
        char category[32];      /* verdict, "" if none */
        float confidence, jailbreak;
        int8_t reasoning;      /* -1 not decided, 0 off, 1 on */
        bool reasoning_client; /* the client set the reasoning switch itself */
        bool clf_verdict;      /* a verdict arrived */
        bool clf_truncated;    /* classification API: text cut to head + tail */
        int cat_idx;           /* config category whose rewrites apply, -1 none */
        bool injected_prompt;
        /* v0.3 decisions (stage_route.c) */
        int decision;                      /* cfg->v03->decisions index, -1: none */
        char matched_kw[256];              /* x-vsr-matched-keywords */
        struct sy_category_cfg dec_prompt; /* the decision's system prompt (pointers into the config) */
        uint64_t t_clf_ns;                 /* classify request sent */
        size_t prompt_off, prompt_len;     /* the prompt's JSON value in the body (prefix hashes) */
        int upstream;                      /* current upstream index or -1 */
        int picked_upstream;               /* stage_pick's choice, for stage_relay */
        uint32_t up_gen;                   /* config generation that index was picked in (sy_done.snap_gen) */
        struct buf upreq;                  /* the request head as sent upstream (the body is upbody) */
        size_t head_len_up;                /* shared head part of upreq (no Host/Content-Length) */
        struct buf upbody;                 /* the body as sent upstream */
        bool stale_retry;                  /* already retried once after a stale pooled connection */
        struct buf upshared;               /* tls.c: the shared head as built, while an upstream filters it */
        uint64_t upshared_key;             /* t_parsed_ns + 1 of the request upshared is for; 0: none */
        uint64_t overhead_ns;
        struct upconn *up;

        /* output */
        struct buf out;
        size_t out_off;
        bool out_last;     /* close after this write */
        bool resp_started; /* bytes of a response reached the client buffer */
        int status;        /* status sent, for metrics */
        enum framing resp_framing;
        bool resp_sse;
        bool dechunk; /* HTTP/1.0 client, chunked upstream */
};

struct upconn {
        struct io conn_io, wr, rd;
        struct worker *w;
        struct upconn *next; /* pool */
        struct conn *c;      /* client being served, NULL when idle */
        int fd;
        uint16_t upstream;
        bool connected, reused, head_done, closing, eof;
        bool timed_out;
        struct sockaddr_in6 addr;
        struct buf orphan, orphan_body; /* request buffers still read by an in-flight send */
        struct msghdr msg;              /* the in-flight send: head and body iovecs */
        struct iovec iov[2];
        uint64_t deadline_ns;
        struct http_chunked chunk;
        uint64_t remaining; /* FR_LENGTH bytes left */
        enum framing framing;
        bool upstream_keepalive;
        bool done;
        size_t sent;
        struct buf in;
        struct buf hold;    /* SSE over chunks: the start of an event whose end has not come yet */
        struct up_tls *tls; /* tls.c: a TLS upstream's session; NULL: plain */
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
        struct conn *pending; /* waiting for pick replies, oldest first */
        struct conn *pending_tail;
        struct conn *waiting; /* waiting for verdicts or queued picks (longer, mixed deadlines) */
        struct conn *waiting_tail;
        uint64_t waiting_min_ns;        /* a lower bound of the waiting list's deadlines */
        struct ring *to_clf, *from_clf; /* classifier ring pair */
        int clf_bell;                   /* producer end of the classifier's doorbell, -1 until opened */
        bool clf_alive;                 /* cached liveness of the classifier */
        uint64_t clf_checked_ns;
        uint32_t clf_generation; /* to notice a restarted classifier */
        uint64_t next_req_id;
        uint64_t probe_seq; /* the last USDT request id (FE_MARK) */

        struct snapshot *snap; /* private copy */
        uint64_t snap_version;
        unsigned rr;
        uint32_t inflight[SNAP_MAX_UPSTREAMS];
        struct pool pools[SNAP_MAX_UPSTREAMS];

        struct ring *to_router, *from_router;
        int router_bell; /* producer end, -1 until opened */
        int my_bell;     /* consumer end */
        struct io bell_io;
        uint64_t last_heartbeat_ns;
        bool router_alive; /* cached liveness of the router */
        uint64_t router_checked_ns;

        struct fe_metrics metrics;
        struct sy_dec_state *dec; /* stage_route.c: v0.3 decisions' scratch, for one configuration */
        struct rlr *rlr;          /* stage_limit.c: this worker's Redis connection, or NULL */
        void *sha_ctx;            /* stage_auth.c: this worker's SHA-256 context (EVP_MD_CTX) */
        _Atomic uint64_t loops;   /* turns of the loop: the main thread waits for a turn after
                                           * swapping the configuration (no worker still reads the old
                                           * current pointer) */
        _Atomic bool running;
        pthread_t thread;
};

struct frontend {
        struct sy_config *cfg;      /* the boot configuration: listener, workers, shm, proxy
                                           * and server settings (they apply at restart) */
        struct fe_gen *_Atomic gen; /* the current one, for new requests */
        struct shm_seg *seg;
        unsigned n_workers;
        struct worker *workers;
        _Atomic int draining;
        _Atomic unsigned nconns; /* client connections, all workers */
        uint64_t drain_deadline_ns;
        int inherited_fd;           /* the listener: socket activation's or our own, shared */
        struct snapshot *boot_snap; /* from the config, until the router publishes */
        struct rl_table *rl;        /* stage_limit.c: client budgets shared by the workers; NULL: none */
};

/* pipeline.c */
void pipeline_start(struct conn *c);                       /* after a request head was taken */
void pipeline_resume(struct conn *c);                      /* a suspended stage completed: the next one */
void pipeline_goto(struct conn *c, const struct stage *s); /* (re)run from stage s (retries) */
bool pipeline_at(const struct conn *c, const struct stage *s);
extern const struct stage stage_auth, stage_local, stage_body, stage_parse, stage_allow, stage_limit, stage_classify,
        stage_route, stage_guard, stage_build, stage_pick, stage_relay;

/* server.c */
void conn_close(struct conn *c);
void conn_send(struct conn *c);         /* flushes c->out */
void conn_request_done(struct conn *c); /* response fully queued/written */
struct io_uring_sqe *worker_sqe(struct worker *w);
/* a recv into in (up to chunk more bytes, or the room left while that is at
 * least chunk / 4), completing on io; -ENOMEM */
int worker_post_recv(struct worker *w, int fd, struct buf *in, size_t chunk, struct io *io);
/* wakes the consumer of ring `to` if it sleeps, through the doorbell `name`
 * of the runtime directory (opened into *bell the first time) */
void worker_ring_bell(struct worker *w, struct ring *to, int *bell, const char *name);
/* appends s as a JSON string (quoted, escaped) */
void respond_put_json_string(struct buf *out, const char *s, size_t len);
bool worker_refresh_snapshot(struct worker *w);
uint64_t fe_now_ns(void);

/* respond.c; every answer carries extra_headers() */
void respond_error(struct conn *c, int status, const char *type, const char *param, const char *code, const char *fmt,
                   ...) __attribute__((format(printf, 6, 7)));
void respond_error_headers(struct conn *c, int status, const char *headers, const char *type, const char *param,
                           const char *code, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void respond_json(struct conn *c, int status, const char *body, size_t len);
void respond(struct conn *c, int status, const char *ctype, const char *body, size_t len, const char *extra);
void respond_models(struct conn *c, const char *id);
void respond_metrics(struct conn *c);
void respond_ready(struct conn *c);
/* headers every answer of the request carries (rate limits), local or relayed */
void respond_common_headers(struct conn *c, struct buf *out);

/* server.c: picks waiting for the router (pick_timeout_us, FIFO), and
 * verdicts / queued picks (longer deadlines) on the waiting list */
void worker_pending_add(struct conn *c);
void worker_waiting_add(struct conn *c);
struct conn *worker_pending_take(struct worker *w, uint64_t req_id, enum conn_state state);
void worker_pending_remove(struct conn *c); /* off whichever list it is on */
/* stage_auth.c: reads the key headers while the head is parsed */
void auth_take_headers(struct conn *c, const struct http_header *hdrs, size_t n);
bool auth_model_allowed(const struct conn *c, const char *model);
const char *auth_client_name(const struct conn *c); /* the key's name, or NULL */
bool auth_metrics_ok(const struct conn *c, const struct http_request *req);
void auth_worker_fini(struct worker *w);

/* stage_parse.c */
bool proxy_key_is(const struct json_member *m, const char *name);
const char *proxy_body(struct conn *c, size_t *ret_len);
/* scans the body's top-level members; false: an error answer was queued */
bool parse_scan_body(struct conn *c, struct json_member *mem, size_t *n);
bool parse_is_routing_key(const struct json_member *m);
bool parse_is_auto_alias(const struct sy_config *cfg, const char *model);

/* stage_classify.c */
void classify_reply(struct worker *w, const void *msg, uint32_t len);
void classify_timeout(struct conn *c);
bool classify_alive(struct worker *w);
/* the text of the prompt as the heads read it (user turns; turns = 0: all) */
void classify_prompt_text(struct conn *c, const struct json_member *mem, size_t n, unsigned turns, struct buf *out);

/* appends the decoded JSON string value v to out, a newline between pieces */
void classify_append_string(struct buf *out, const char *v, size_t len);

/* stage_route.c */
int route_find_category(const struct sy_config *cfg, const char *name);
/* model "auto" without a verdict (classifier late, down, failing): default_model */
enum stage_rc route_fallback(struct conn *c, const char *status, int reason);
/* the model's name as sent upstream (v0.3 provider_model_id), else c->model */
const char *route_upstream_model(const struct conn *c);
void route_worker_fini(struct worker *w);
/* stage_guard.c: a decision's fast_response (the guards' blocked answer) */
void guard_fast_response(struct conn *c, const char *text);
/* the PII seen (best span score per type; structured ones by shape: 1) */
unsigned guard_pii_seen(const struct conn *c, float *scores, const char *const **ret_names);
void route_response_headers(struct conn *c, struct buf *out);
const struct sy_model_score *route_best_model(struct conn *c, const struct sy_category_cfg *cat);

/* stage_guard.c */
bool guard_model_allows(const struct conn *c, const char *model);            /* the model's PII policy, this prompt */
bool guard_wanted(const struct conn *c, bool *ret_jailbreak, bool *ret_pii); /* before classifying */
void guard_take_spans(struct conn *c, const struct sy_pii_span *spans, unsigned n);
double guard_pii_threshold(const struct conn *c); /* the lowest span score any policy reads */
/* the classifier gave no verdict the checks by `by` need: 503, nothing goes upstream */
enum stage_rc guard_unchecked(struct conn *c, const char *by);

/* stage_limit.c */
void limit_observe_answer(struct conn *c, const char *p, size_t n); /* relayed bytes: usage */
void limit_request_done(struct conn *c);                            /* the answer is complete: token correction */
int limit_init(struct frontend *fe);
void limit_worker_fini(struct worker *w);
void limit_fini(struct frontend *fe);

/* stage_pick.c: the worker's side of the router ring */
void pick_reply(struct worker *w, const void *msg, uint32_t len);
void pick_timeout(struct conn *c);
void pick_send_done(struct conn *c, int upstream, int status, uint32_t flags, bool router_picked);
void pick_ring_router(struct worker *w);

/* tls.c: the relay's TLS (memory BIOs) and upstream headers */
const struct tls_upstream *relay_tls_find(const struct conn *c, const struct snap_upstream *su);
/* upreq: shared head + the upstream's headers (+ x-gateway-destination-endpoint: dest's, dest not NULL) */
void relay_tls_head(struct conn *c, const struct tls_upstream *tu, const struct snap_upstream *dest);
/* the slot whose connection carries a request to upstream: its via gateway's
 * (*tu becomes the gateway's), upstream itself, -1 when the gateway is not there */
int relay_tls_via(const struct conn *c, const struct tls_upstream **tu, int upstream);
bool relay_tls_on(const struct tls_upstream *tu); /* tu wants TLS */
int relay_tls_attach(struct upconn *u, const struct tls_upstream *tu);
void relay_tls_free(struct upconn *u);
struct buf *relay_tls_recv_buf(struct upconn *u); /* where the recv goes */
void relay_tls_send(struct upconn *u);            /* instead of the plain send */
void relay_tls_sent(struct upconn *u, size_t n);  /* a send completed */
int relay_tls_recv(struct upconn *u, int res);    /* plaintext bytes, -EAGAIN, 0 EOF, -EPROTO */
bool relay_tls_idle(struct upconn *u, int res);   /* idle in the pool: still usable */

/* relay.c */
void relay_start(struct conn *c, int upstream); /* the picked endpoint */
void proxy_io(struct upconn *u, struct io *io, int res);
void proxy_client_written(struct conn *c); /* a client write completed during CS_UPSTREAM */
void proxy_abort(struct conn *c);          /* client went away */
void proxy_check_timeouts(struct worker *w, uint64_t now);
void proxy_pool_free(struct worker *w);
