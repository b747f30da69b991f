/* The request pipeline: every request walks these stages once, top to
 * bottom. A stage either passes the request on (STAGE_NEXT), answers it
 * itself (STAGE_DONE: an error, a local endpoint, a blocked prompt), or
 * suspends it (STAGE_SUSPEND: waiting for the body, the classifier, the
 * router, the upstream); whoever completes the wait calls pipeline_resume(),
 * which goes on with the next stage. Adding a step is adding a stage file
 * and one line below.
 *
 * The first stages run on the request head alone (c->head is set only
 * while they run); stage_body suspends until the body is in, and
 * server.c resumes the request when it is. */
#include "frontend/frontend-internal.h"

static const struct stage *const pipeline[] = {
        &stage_auth,     /* stage_auth.c: API key (401 before anything else) */
        &stage_local,    /* stage_local.c: /health, /ready, /metrics, /v1/models; 404/405 */
        &stage_body,     /* server.c: waits for the request body */
        &stage_parse,    /* stage_parse.c: the JSON body (model, stream, owned_by, session) */
        &stage_allow,    /* stage_auth.c: the key's model allow-list (403) */
        &stage_limit,    /* stage_limit.c: per-client request and token rate limits (429) */
        &stage_classify, /* stage_classify.c: one classifier pass when auto or a guard needs it */
        &stage_route,    /* stage_route.c: model "auto": the verdict's category -> model */
        &stage_guard,    /* stage_guard.c: jailbreak and PII policy (blocked answer) */
        &stage_build,    /* stage_route.c: the body sent upstream */
        &stage_pick,     /* stage_pick.c: the endpoint (router, or the snapshot) */
        &stage_relay,    /* relay.c: upstream request and streamed answer */
};

#define N_STAGES (sizeof pipeline / sizeof pipeline[0])

static void run(struct conn *c) {
        while (c->stage < N_STAGES && !c->closing) {
                enum stage_rc rc = pipeline[c->stage]->run(c);

                if (rc != STAGE_NEXT)
                        return;
                c->stage++;
        }
}

void pipeline_start(struct conn *c) {
        c->stage = 0;
        run(c);
}

void pipeline_resume(struct conn *c) {
        c->stage++;
        run(c);
}

void pipeline_goto(struct conn *c, const struct stage *s) {
        for (unsigned i = 0; i < N_STAGES; i++)
                if (pipeline[i] == s) {
                        c->stage = i;
                        run(c);
                        return;
                }
}

bool pipeline_at(const struct conn *c, const struct stage *s) {
        return c->stage < N_STAGES && pipeline[c->stage] == s;
}
