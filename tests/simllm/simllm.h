/* simllm: a small, fast simulator of an OpenAI-compatible LLM server
 * (vLLM or SGLang) for switchyard's tests, benchmarks and demo.
 *
 * Layout:
 *   main.c    command line, listeners, worker threads, signals
 *   server.c  per-thread epoll loop: connections, HTTP/1.1 framing,
 *             per-sequence timers (a min-heap; epoll_pwait2 timeout)
 *   sim.c     the simulated engine: options, live knobs, counters and the
 *             scheduler (running set bounded by max_running + FIFO waiting
 *             queue shared by all threads)
 *   api.c     the endpoints: OpenAI JSON in and out, /metrics, /sim/...
 *
 * Threads: each worker owns its connections, its timers and the sequences
 * of its connections. The only shared mutable state is the scheduler
 * (sim.lock), the knobs (atomics) and the counters (atomics, one block per
 * worker). A sequence admitted from the waiting queue by another thread is
 * handed to its owner through the owner's inbox + eventfd. */
#pragma once
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_parse.h"

#define SIM_MAX_MODELS 16
#define SIM_MAX_WORKERS 64
#define SIM_BLOCK_SIZE 16
/* Prefix cache blocks are cut from the prompt text: SIM_BLOCK_SIZE tokens
 * at ~4 bytes a token. */
#define SIM_BLOCK_BYTES (SIM_BLOCK_SIZE * 4)
/* Cap on prefix cache entries (--kv-blocks beyond this is not cached). */
#define SIM_PCACHE_MAX (1u << 22)
#define SIM_MAX_PATH 256
#define SIM_MAX_PREFILL_LANES 64

enum sim_engine { SIM_ENGINE_VLLM, SIM_ENGINE_SGLANG };

struct sim_opts {
        const char *host;
        int port;
        const char *name;
        enum sim_engine engine;
        const char *models[SIM_MAX_MODELS];
        unsigned n_models;
        unsigned threads;
        unsigned max_tokens;    /* default output tokens */
        unsigned max_running;   /* concurrent sequences */
        unsigned prefill_lanes; /* prefills computed at once; more wait their turn (0: no limit) */
        unsigned kv_blocks;     /* KV capacity = kv_blocks * SIM_BLOCK_SIZE tokens */
        unsigned max_model_len; /* prompt + output tokens limit (400 beyond) */
        unsigned embed_dim;
        uint64_t not_ready_ns;
        const char *ready_file;
        uint64_t seed;
        size_t max_body;
        /* initial knob values */
        double ttft_ms, itl_ms, error_rate, hang_rate, reset_rate;
        double prefill_us_per_token, decode_us_per_token;
        int error_status, reset_after;
        const char *tls_cert, *tls_key; /* both: serve HTTPS only */
        const char *echo_header;        /* its value comes back as x-simllm-echo */
};

/* Knobs changed live by POST /sim/config; read with relaxed loads (a
 * request sees each knob's latest value, no cross-knob consistency). */
struct sim_knobs {
        _Atomic int64_t ttft_ns;
        _Atomic int64_t itl_ns;
        _Atomic int64_t prefill_ns_per_token; /* per uncached prompt token */
        _Atomic int64_t decode_ns_per_token;  /* x (1 + running/max_running) */
        _Atomic double error_rate;
        _Atomic double hang_rate;
        _Atomic double reset_rate;
        _Atomic int error_status;
        _Atomic int reset_after;
        _Atomic bool healthy;
};

enum sim_path {
        SIM_P_CHAT,
        SIM_P_COMPLETIONS,
        SIM_P_EMBEDDINGS,
        SIM_P_MODELS,
        SIM_P_HEALTH,
        SIM_P_METRICS,
        SIM_P_SIM,
        SIM_P_OTHER,
        SIM_P__N
};

/* Counters of one worker: written by that worker only (relaxed atomic
 * adds), summed by readers. */
struct sim_stats {
        alignas(64) _Atomic uint64_t requests[SIM_P__N];
        _Atomic uint64_t errors_injected;
        _Atomic uint64_t hangs_injected;
        _Atomic uint64_t resets_injected;
        _Atomic uint64_t bad_requests;
        _Atomic uint64_t model_not_found;
        _Atomic uint64_t completed;
        _Atomic uint64_t cancelled;
        _Atomic uint64_t conns_accepted;
        _Atomic uint64_t conns_closed;
};

enum sim_seq_state {
        SIM_SEQ_IDLE,     /* not known to the scheduler */
        SIM_SEQ_WAITING,  /* in sim.wait queue */
        SIM_SEQ_ADMITTED, /* counted running, in its owner's inbox */
        SIM_SEQ_RUNNING,  /* counted running, owned by its worker */
};

/* One generation request (a "sequence" in engine terms). */
struct sim_seq {
        /* scheduler fields: under sim.lock */
        struct sim_seq *prev, *next; /* wait queue or inbox links */
        int state;                   /* enum sim_seq_state */
        unsigned worker;             /* owner */
        unsigned model;
        /* owner-only fields */
        uint32_t prompt_tokens;
        uint32_t max_tokens;
        uint32_t generated;
        int64_t reset_at;       /* reset once this many tokens are out; -1 never */
        uint64_t kv_tokens;     /* accounted in sim.kv_tokens */
        uint32_t cached_tokens; /* prefix cache hit, decided at arrival */
        uint32_t n_blocks;      /* full prompt blocks (hashes in conn.blk) */
        bool stream, chat, include_usage, capped;
        uint64_t id;
        int64_t created;
        uint64_t due_ns; /* next token */
        size_t heap_idx; /* SIZE_MAX when not in the timer heap */
};

struct sim_inbox {
        struct sim_seq *head, *tail; /* under sim.lock */
        int efd;                     /* the owner's eventfd */
};

/* Prefix cache: an LRU of chained block hashes (a block's hash covers the
 * whole prompt up to its end), capacity min(--kv-blocks, SIM_PCACHE_MAX).
 * Chained hash buckets + a doubly linked LRU list, all by index. */
struct sim_pc_ent {
        uint64_t h;
        uint32_t hnext;      /* bucket chain */
        uint32_t prev, next; /* LRU list, head = most recent */
};

struct sim_pcache {
        pthread_mutex_t lock;
        uint32_t cap, used, mask; /* mask: buckets - 1 */
        uint32_t head, tail;      /* UINT32_MAX: none */
        uint32_t *buckets;
        struct sim_pc_ent *ent;
};

struct sim {
        struct sim_opts o;
        struct sim_knobs k;
        uint64_t start_ns;
        int64_t start_wall; /* seconds since the epoch */
        /* precomputed text */
        char *model_json[SIM_MAX_MODELS];  /* JSON string literals, quoted */
        char *model_label[SIM_MAX_MODELS]; /* Prometheus label values, escaped */
        char *name_json;                   /* replica name, JSON-escaped, no quotes */
        char *common_hdrs;                 /* x-simllm-replica/engine lines */
        size_t common_hdrs_len;
        const char *engine_name;
        void *tls_ctx; /* SSL_CTX of --tls-cert / --tls-key, NULL: plain HTTP */

        pthread_mutex_t lock;
        unsigned running, waiting;                       /* under lock */
        unsigned running_by_model[SIM_MAX_MODELS];       /* under lock */
        unsigned waiting_by_model[SIM_MAX_MODELS];       /* under lock */
        struct sim_seq *wait_head, *wait_tail;           /* under lock */
        uint64_t prefill_busy_ns[SIM_MAX_PREFILL_LANES]; /* under lock: when each lane frees up */
        struct sim_inbox inbox[SIM_MAX_WORKERS];

        _Atomic uint64_t kv_tokens;   /* tokens of running sequences */
        _Atomic unsigned running_now; /* = running, readable without lock */
        struct sim_pcache pc;
        _Atomic uint64_t pc_query_tokens_by_model[SIM_MAX_MODELS];
        _Atomic uint64_t pc_hit_tokens_by_model[SIM_MAX_MODELS];
        _Atomic uint64_t prompt_tokens_by_model[SIM_MAX_MODELS];
        _Atomic uint64_t gen_tokens_by_model[SIM_MAX_MODELS];
        _Atomic uint64_t success_by_model[SIM_MAX_MODELS];
        struct sim_stats stats[SIM_MAX_WORKERS];
};

/* ---- growable output buffer (allocation failure sticks in .oom) ---- */
struct sbuf {
        char *p;
        size_t len, cap;
        bool oom;
};
int sbuf_reserve(struct sbuf *b, size_t extra);
void sbuf_add(struct sbuf *b, const void *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_u64(struct sbuf *b, uint64_t v);
/* JSON-escapes s (no quotes added). */
void sbuf_json_esc(struct sbuf *b, const char *s, size_t n);
void sbuf_free(struct sbuf *b);

/* ---- sim.c ---- */
uint64_t sim_now_ns(void);
int sim_init(struct sim *s, const struct sim_opts *o);
void sim_destroy(struct sim *s);
/* Index of model name (decoded) or -ENOENT. */
int sim_model_find(const struct sim *s, const char *name, size_t len);
bool sim_ready(const struct sim *s, uint64_t now);
/* Appends the JSON-escaped text of token k (1-based). */
void sim_token_text(const struct sim *s, uint32_t k, struct sbuf *b);

/* Scheduler. submit: q (IDLE, worker/model set) becomes RUNNING (returns
 * true) or WAITING (false). end: takes q out wherever it is; admits waiting
 * sequences into their owners' inboxes and wakes the owners. take: the
 * calling worker's admitted sequences, now RUNNING, as a list (->next). */
bool sim_sched_submit(struct sim *s, struct sim_seq *q);
void sim_sched_end(struct sim *s, struct sim_seq *q);
struct sim_seq *sim_sched_take(struct sim *s, unsigned worker);
/* KV accounting of a running sequence. */
void sim_kv_add(struct sim *s, struct sim_seq *q, uint64_t tokens);

/* Prefix cache. hashes: the chained hashes of the full SIM_BLOCK_BYTES
 * blocks of text (at most max_blocks written); returns their count.
 * lookup: how many leading blocks are cached (no LRU change). insert:
 * adds / touches the blocks (block 0 ends up the most recent). */
uint32_t sim_prefix_hashes(unsigned model, const char *text, size_t len, uint64_t *out, uint32_t max_blocks);
uint32_t sim_pcache_lookup(struct sim *s, const uint64_t *h, uint32_t n);
void sim_pcache_insert(struct sim *s, const uint64_t *h, uint32_t n);
uint32_t sim_pcache_blocks(struct sim *s);

/* ---- server.c ---- */
struct worker;
struct conn;

struct req_info {
        enum { REQ_GET, REQ_POST, REQ_HEAD, REQ_OTHER } method;
        char path[SIM_MAX_PATH]; /* target without the query; "" if too long */
        size_t path_len;
        int minor;
        bool keepalive;
        char hdr_names[512];      /* the request's header names, lower-case, comma-separated
                                    * (x-simllm-header-names: what a proxy forwarded) */
        char selected_model[256]; /* the x-selected-model values, '|'-separated
                                     (x-simllm-selected-model: "" when none came) */
        char echo[512];           /* --echo-header's values, '|'-separated (x-simllm-echo) */
};

struct worker {
        unsigned idx;
        struct sim *sim;
        int epfd, lfd, efd;
        _Atomic bool stop;
        pthread_t thread;
        struct sim_seq **heap;
        size_t heap_len, heap_cap;
        struct conn *conns; /* live connections */
        struct conn *dead;  /* closed, freed at the end of the loop turn */
        struct sbuf tmp;    /* response bodies / events */
        struct sbuf tmp2;   /* string decoding */
        struct sbuf ptext;  /* prompt text for the prefix cache */
        uint64_t rng;
        uint64_t next_id;
        uint64_t now_ns;  /* cached per loop turn */
        int64_t now_wall; /* seconds since the epoch, per loop turn */
        bool no_pwait2;
};

struct conn {
        struct conn *prev, *next;
        struct worker *w;
        int fd;
        int state; /* server.c */
        char *rbuf;
        size_t rpos, rlen, rcap; /* unprocessed input is rbuf[rpos..rlen) */
        char *wbuf;
        size_t woff, wlen, wcap;
        /* the request being read; offsets relative to rpos */
        size_t hdr_len;
        uint64_t body_len;
        bool chunked;
        struct http_chunked ch;
        size_t body_in, body_out;
        bool expect_continue, sent_continue;
        struct req_info ri;
        /* the request being answered */
        bool busy; /* a sequence holds the connection */
        bool in_process;
        bool close_after; /* close once the output is flushed */
        bool peer_eof;
        bool read_paused;
        bool closed;
        bool stream_chunked; /* streaming response uses chunked coding */
        struct sbuf xhdr;    /* x-simllm-model / body-keys header lines */
        uint64_t *blk;       /* prompt block hashes of seq */
        uint32_t blk_cap;
        struct sim_seq seq;
        void *ssl; /* SSL over fd (--tls-cert), NULL: plain */
        bool tls_ready;
};

int worker_init(struct worker *w, struct sim *s, unsigned idx, int lfd);
int sim_tls_init(struct sim *s); /* the SSL_CTX of --tls-cert / --tls-key */
void *worker_run(void *arg);
void worker_destroy(struct worker *w);
void worker_timer_add(struct worker *w, struct sim_seq *q);
void worker_timer_del(struct worker *w, struct sim_seq *q);
double worker_rand(struct worker *w);

struct conn *conn_of_seq(struct sim_seq *q);
/* A complete response with a Content-Length body. extra: header lines,
 * each ending in CRLF (may be NULL). */
void conn_respond(struct conn *c, int status, const char *ctype, const char *extra, size_t extra_len, const char *body,
                  size_t body_len);
/* Streaming: head (status 200, text/event-stream), events, end. */
void conn_stream_head(struct conn *c, const char *extra, size_t extra_len);
void conn_stream_data(struct conn *c, const char *p, size_t n);
void conn_stream_end(struct conn *c);
void conn_flush(struct conn *c);
/* Abortive close (RST). The conn must not be used afterwards except for
 * checking ->closed. */
void conn_reset(struct conn *c);
/* Keep the connection open and never answer. */
void conn_hang(struct conn *c);
/* The sequence holding c finished and its response was queued. */
void conn_seq_done(struct conn *c);

/* ---- api.c ---- */
void api_dispatch(struct conn *c, const char *body, size_t body_len);
/* The sequence was admitted: schedule its first token. */
void api_seq_start(struct conn *c);
/* A sequence's timer is due. */
void api_seq_tick(struct conn *c);
/* Writes the JSON error object body. */
void api_error_body(struct sbuf *b, const char *msg, const char *type, const char *param, const char *code);
