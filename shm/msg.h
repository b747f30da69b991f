/* Messages on the rings between frontend workers and their peers.
 * Fixed little structs followed by variable-length strings; all fields are
 * plain data (no pointers) because the rings are shared between processes. */
#pragma once
#include <stdint.h>

enum sy_msg_type {
        SY_MSG_PICK_REQ = 1,   /* worker -> router */
        SY_MSG_PICK_RESP = 2,  /* router -> worker */
        SY_MSG_DONE = 3,       /* worker -> router: a request finished on an upstream */
        SY_MSG_DISPATCH = 6,   /* worker -> router: sent to an upstream picked without the router */
        SY_MSG_CLASSIFY_REQ = 4,
        SY_MSG_CLASSIFY_RESP = 5,
};

#define SY_PICK_MAX_EXCLUDE 8
#define SY_PICK_MAX_RESULTS 4

/* followed by model (model_len bytes), owned_by, session key */
struct sy_pick_req {
        uint64_t req_id;         /* worker-local id; echoed back */
        uint32_t token_estimate;
        uint16_t model_len;
        uint16_t owned_by_len;
        uint16_t session_len;
        uint16_t n_exclude;
        uint16_t exclude[SY_PICK_MAX_EXCLUDE]; /* upstream indexes already tried */
};

struct sy_pick_resp {
        uint64_t req_id;
        uint64_t snap_version;   /* indexes refer to this snapshot version or later */
        int32_t status;          /* 0, -ENOENT unknown model/engine, -EHOSTUNREACH none healthy */
        uint16_t n;
        uint16_t upstream[SY_PICK_MAX_RESULTS]; /* best first */
};

/* A request the worker sent to an upstream it picked itself (the model had
 * a single candidate): the router counts it in flight like its own picks.
 * No reply; no doorbell (the router reads it at its next wake-up). */
struct sy_dispatch {
        uint64_t req_id;
        uint16_t upstream;
        uint16_t pad[3];
};

enum sy_done_flags {
        SY_DONE_PICKED_BY_ROUTER = 1 << 0, /* the router counted it in flight */
        SY_DONE_FAILED = 1 << 1,           /* connect/reset/timeout/5xx: passive health */
        SY_DONE_RETRIED = 1 << 2,          /* the request went on to another endpoint */
};

struct sy_done {
        uint64_t req_id;
        uint16_t upstream;
        uint16_t http_status;    /* 0 if none was received */
        uint32_t flags;
        uint32_t ttfb_us;
        uint32_t duration_us;
        uint32_t tokens;
};
