/* Messages on the rings between frontend workers and their peers.
 * Fixed little structs followed by variable-length strings; all fields are
 * plain data (no pointers) because the rings are shared between processes. */
#pragma once
#include <stdint.h>

enum sy_msg_type {
        SY_MSG_PICK_REQ = 1,  /* worker -> router */
        SY_MSG_PICK_RESP = 2, /* router -> worker */
        SY_MSG_DONE = 3,      /* worker -> router: a request finished on an upstream */
        SY_MSG_DISPATCH = 6,  /* worker -> router: sent to an upstream picked without the router */
        SY_MSG_CLASSIFY_REQ = 4,
        SY_MSG_CLASSIFY_RESP = 5,
};

#define SY_PICK_MAX_EXCLUDE 8
#define SY_PICK_MAX_RESULTS 4

enum sy_pick_flags {
        SY_PICK_SHEDDABLE = 1 << 0, /* client marked it sheddable (x-switchyard-sheddable): 429 when saturated */
};

/* followed by n_prefix uint64 prefix hashes (prefix_hash_chain() over the
 * raw bytes of the request's "messages" / "prompt" JSON value, blocks of
 * SY_PICK_PREFIX_BLOCK bytes), then model (model_len bytes), owned_by,
 * session key (x-session-id header, else the body's "user" field). */
#define SY_PICK_MAX_PREFIX 64
#define SY_PICK_PREFIX_BLOCK 256
struct sy_pick_req {
        uint64_t req_id;         /* worker-local id; echoed back */
        uint32_t token_estimate; /* prompt bytes / 4 + max_tokens if given */
        uint16_t model_len;
        uint16_t owned_by_len;
        uint16_t session_len;
        uint16_t n_exclude;
        uint16_t exclude[SY_PICK_MAX_EXCLUDE]; /* upstream indexes already tried */
        uint16_t flags;                        /* SY_PICK_* */
        uint16_t n_prefix;                     /* <= SY_PICK_MAX_PREFIX */
        uint32_t pad;
};

/* status:
 *   0             upstream[0..n) best first
 *   -ENOENT       unknown model/engine
 *   -EHOSTUNREACH none healthy
 *   -EINPROGRESS  every endpoint is saturated and the request is queued in
 *                 the router: a second answer with the same req_id follows
 *                 within wait_ms (the frontend waits that long plus its own
 *                 pick timeout before falling back)
 *   -EBUSY        saturated and the queue is full or its deadline passed:
 *                 the frontend answers 429 (sheddable) or 503, Retry-After
 *                 retry_after_s */
struct sy_pick_resp {
        uint64_t req_id;
        uint64_t snap_version; /* indexes refer to this snapshot version or later */
        int32_t status;
        uint16_t n;
        uint16_t upstream[SY_PICK_MAX_RESULTS]; /* best first */
        uint16_t retry_after_s;                 /* -EBUSY */
        uint32_t wait_ms;                       /* -EINPROGRESS */
        uint32_t snap_gen;                      /* config generation (low 32 bits) the indexes were picked in */
};

/* A request the worker sent to an upstream it picked itself (the model had
 * a single candidate): the router counts it in flight like its own picks.
 * No reply; no doorbell (the router reads it at its next wake-up). */
struct sy_dispatch {
        uint64_t req_id;
        uint16_t upstream;
        uint16_t pad;
        uint32_t snap_gen; /* config generation (low 32 bits) of the snapshot it was picked from */
};

enum sy_done_flags {
        SY_DONE_PICKED_BY_ROUTER = 1 << 0, /* the router counted it in flight */
        SY_DONE_FAILED = 1 << 1,           /* connect/reset/timeout/5xx: passive health */
        SY_DONE_RETRIED = 1 << 2,          /* the request went on to another endpoint */
};

struct sy_done {
        uint64_t req_id;
        uint16_t upstream;
        uint16_t http_status; /* 0 if none was received */
        uint32_t flags;
        uint32_t ttfb_us;
        uint32_t duration_us;
        uint32_t tokens;
        /* config generation (low 32 bits) of the snapshot upstream was taken
         * from: the router ignores the event if the slot has changed hands
         * since (proto/snapshot.h since_gen) */
        uint32_t snap_gen;
};

/* ---- classifier ------------------------------------------------------------ */

enum sy_classify_flags {
        SY_CLASSIFY_PII = 1 << 0,         /* also return PII spans (classification API, PII guard) */
        SY_CLASSIFY_NO_CATEGORY = 1 << 1, /* guards only: passes that serve only the category are skipped */
};

/* worker -> classifier; followed by text_len bytes of UTF-8 text (at most
 * SY_CLASSIFY_MAX_TEXT: the frontend keeps the head and the tail of a
 * longer text, joined by "\n"). */
#define SY_CLASSIFY_MAX_TEXT 16384
struct sy_classify_req {
        uint64_t req_id; /* worker-local id; echoed back */
        uint32_t text_len;
        uint16_t flags;           /* SY_CLASSIFY_* */
        uint16_t pii_threshold_q; /* PII span score threshold x 65535; 0: the classifier's own */
};

#define SY_CLASSIFY_LABEL 32
#define SY_CLASSIFY_MAX_SPANS 64

/* A PII entity: byte offsets into the text that was sent. */
struct sy_pii_span {
        uint32_t start, end; /* [start, end) */
        float score;
        char type[SY_CLASSIFY_LABEL]; /* e.g. "EMAIL_ADDRESS", NUL-terminated */
};

/* classifier -> worker; followed by n_spans struct sy_pii_span. */
struct sy_classify_resp {
        uint64_t req_id;
        int32_t status;    /* 0, or -errno (the frontend falls back to default_model) */
        float confidence;  /* of category, [0, 1] */
        float jailbreak;   /* probability of the jailbreak label; < 0: no jailbreak head */
        uint32_t queue_us; /* waited in the classifier before its batch ran */
        uint32_t run_us;   /* the batch's tokenize + forward time */
        uint16_t batch;    /* texts in that batch */
        uint16_t n_spans;
        uint32_t tokens;                  /* tokens the text became (after truncation) */
        char category[SY_CLASSIFY_LABEL]; /* label name, NUL-terminated; "" without a category head */
};
