/* Stage local: what the frontend answers itself, from the head alone:
 * GET /health, /ready, /metrics, /v1/models and /v1/models/{id}; and the
 * methods and paths it does not serve (405, 404). Everything else is a
 * POST to a proxied endpoint or the classification API and goes on. */
#include <string.h>

#include "frontend/frontend-internal.h"

static bool is_local(const char *path) {
        return strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0 || strcmp(path, "/metrics") == 0 ||
               strcmp(path, "/v1/models") == 0 || strncmp(path, "/v1/models/", 11) == 0;
}

/* The POST endpoints: proxied ones, and the classification API. */
static bool post_path(const char *path) {
        return strcmp(path, "/v1/chat/completions") == 0 || strcmp(path, "/v1/completions") == 0 ||
               strcmp(path, "/v1/embeddings") == 0 || strcmp(path, "/v1/responses") == 0 ||
               strcmp(path, "/api/v1/classify") == 0;
}

static void answer(struct conn *c) {
        if (strcmp(c->path, "/health") == 0) {
                respond_json(c, 200, "{\"status\":\"ok\"}", 15);
        } else if (strcmp(c->path, "/ready") == 0) {
                respond_ready(c);
        } else if (strcmp(c->path, "/v1/models") == 0) {
                respond_models(c, NULL);
        } else if (strncmp(c->path, "/v1/models/", 11) == 0) {
                /* ids may contain '/', sent as is or as %2F (the SDKs encode it) */
                char id[SNAP_NAME];
                url_decode(c->path + 11, strlen(c->path + 11), false, id, sizeof id);
                respond_models(c, id);
        } else if (!auth_metrics_ok(c, c->head)) {
                respond_error(c, 401, "invalid_request_error", NULL, "invalid_metrics_token",
                              "/metrics needs the metrics token (Authorization: Bearer <token>)");
        } else {
                respond_metrics(c);
        }
}

static enum stage_rc run(struct conn *c) {
        const struct http_request *req = c->head;
        bool get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
        bool post = req->method_len == 4 && memcmp(req->method, "POST", 4) == 0;

        if (is_local(c->path)) {
                /* a GET with a body: drop the body by not keeping the connection */
                if (c->chunked_in || c->body_len)
                        c->keepalive = false;
                if (!get)
                        respond_error(c, 405, "invalid_request_error", NULL, "method_not_allowed", "use GET for %s",
                                      c->path);
                else
                        answer(c);
                return STAGE_DONE;
        }
        if (!post_path(c->path)) {
                respond_error(c, 404, "invalid_request_error", NULL, "not_found", "unknown path %s", c->path);
                return STAGE_DONE;
        }
        if (!post) {
                respond_error(c, 405, "invalid_request_error", NULL, "method_not_allowed", "use POST for %s", c->path);
                return STAGE_DONE;
        }
        return STAGE_NEXT;
}

const struct stage stage_local = { "local", run };
