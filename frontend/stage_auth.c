/* Stage auth: API keys (auth.api_keys). Off when no key is configured.
 *
 * The key comes in `Authorization: Bearer <key>` (the OpenAI SDKs) or
 * `X-API-Key: <key>` (the guides); only its SHA-256 is kept (computed as
 * the head is read, the header bytes themselves are not copied), and it is
 * compared in constant time with every configured digest, so that neither
 * the time nor the answer says how close a guess was. Every /v1/... and
 * /api/... request needs a key: missing or wrong is 401 before anything else
 * is looked at (an unknown model gives nothing away). Stage allow, after
 * the body is parsed: the key's model allow-list (403 model_not_allowed),
 * then the model's existence (404). /health and /ready stay open; /metrics
 * needs auth.metrics_token when one is set. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "frontend/frontend-internal.h"

#define KEY_MAX 4096

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) {
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 with the digest fetched once and a context kept per worker (the
 * one-shot SHA256() fetches the algorithm on every call: microseconds) */
static void sha256(struct worker *w, const void *p, size_t n, uint8_t out[32]) {
        unsigned len = 32;

        pthread_once(&sha256_once, sha256_fetch);
        if (!w->sha_ctx)
                w->sha_ctx = EVP_MD_CTX_new();
        if (!sha256_md || !w->sha_ctx || EVP_DigestInit_ex2(w->sha_ctx, sha256_md, NULL) != 1 ||
            EVP_DigestUpdate(w->sha_ctx, p, n) != 1 || EVP_DigestFinal_ex(w->sha_ctx, out, &len) != 1)
                memset(out, 0, 32); /* matches no configured digest: 401 */
}

void auth_worker_fini(struct worker *w) {
        EVP_MD_CTX_free(w->sha_ctx);
        w->sha_ctx = NULL;
}

static bool protected_path(const char *path) {
        return strncmp(path, "/v1/", 4) == 0 || strncmp(path, "/api/", 5) == 0;
}

static void trim(const char **v, size_t *len) {
        while (*len && (**v == ' ' || **v == '\t'))
                (*v)++, (*len)--;
        while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
                (*len)--;
}

void auth_take_headers(struct conn *c, const struct http_header *hdrs, size_t n) {
        const struct sy_config *cfg = c->cfg;
        const char *ch = cfg->rate_limits.client_header;

        c->key_given = false;
        c->key_idx = -1;
        c->client_h[0] = 0;
        for (size_t i = 0; i < n; i++) {
                const struct http_header *h = &hdrs[i];
                const char *v = h->value;
                size_t len = h->value_len;

                if (cfg->n_api_keys && !c->key_given && h->name_len == 13 &&
                    strncasecmp(h->name, "authorization", 13) == 0) {
                        if (len < 7 || strncasecmp(v, "Bearer ", 7) != 0)
                                continue;
                        v += 7, len -= 7;
                } else if (cfg->n_api_keys && h->name_len == 9 && strncasecmp(h->name, "x-api-key", 9) == 0) {
                        /* X-API-Key wins over Authorization: the guide's clients send it */
                } else {
                        if (ch && h->name_len == strlen(ch) && strncasecmp(h->name, ch, h->name_len) == 0) {
                                size_t k = len < sizeof c->client_h - 1 ? len : sizeof c->client_h - 1;
                                memcpy(c->client_h, v, k);
                                c->client_h[k] = 0;
                        }
                        continue;
                }
                trim(&v, &len);
                if (len == 0 || len > KEY_MAX)
                        continue; /* no key, or none that could be valid: 401 */
                sha256(c->w, v, len, c->key_digest);
                c->key_given = true;
        }
}

static int find_key(const struct sy_config *cfg, const uint8_t *digest) {
        int found = -1;

        /* every entry compared, whatever matches: the time says nothing */
        for (size_t i = 0; i < cfg->n_api_keys; i++) {
                int eq = CRYPTO_memcmp(cfg->api_keys[i].sha256, digest, 32) == 0;
                found = eq && found < 0 ? (int)i : found;
        }
        return found;
}

bool auth_model_allowed(const struct conn *c, const char *model) {
        const struct sy_config *cfg = c->cfg;
        const struct sy_api_key_cfg *k;

        if (c->key_idx < 0 || (size_t)c->key_idx >= cfg->n_api_keys)
                return true;
        k = &cfg->api_keys[c->key_idx];
        if (k->n_models == 0)
                return true;
        for (size_t i = 0; i < k->n_models; i++)
                if (strcmp(k->models[i], model) == 0)
                        return true;
        return false;
}

const char *auth_client_name(const struct conn *c) {
        const struct sy_config *cfg = c->cfg;

        return c->key_idx >= 0 && (size_t)c->key_idx < cfg->n_api_keys ? cfg->api_keys[c->key_idx].name : NULL;
}

bool auth_metrics_ok(const struct conn *c, const struct http_request *req) {
        const char *tok = c->cfg->metrics_token;
        const struct http_header *h;
        uint8_t want[32], got[32];

        if (!tok)
                return true;
        h = http_find_header(req->headers, req->num_headers, "authorization");
        if (!h || h->value_len < 8 || strncasecmp(h->value, "Bearer ", 7) != 0)
                return false;
        /* digests of both, compared in constant time: lengths say nothing either */
        sha256(c->w, tok, strlen(tok), want);
        sha256(c->w, h->value + 7, h->value_len - 7, got);
        return CRYPTO_memcmp(want, got, 32) == 0;
}

static enum stage_rc run(struct conn *c) {
        const struct sy_config *cfg = c->cfg;

        c->key_idx = -1;
        if (!cfg->n_api_keys || !protected_path(c->path))
                return STAGE_NEXT;
        if (c->key_given)
                c->key_idx = find_key(cfg, c->key_digest);
        if (c->key_idx < 0) {
                bool missing = !c->key_given;
                atomic_fetch_add_explicit(&c->w->metrics.auth_rejected[missing ? 0 : 1], 1, memory_order_relaxed);
                respond_error(c, 401, "invalid_request_error", NULL, "invalid_api_key",
                              missing ? "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' "
                                        "or 'X-API-Key: <key>'."
                                      : "Incorrect API key provided.");
                return STAGE_DONE;
        }
        return STAGE_NEXT;
}

const struct stage stage_auth = { "auth", run };

static enum stage_rc allow(struct conn *c) {
        if (c->clf_api || c->is_auto)
                return STAGE_NEXT; /* no model yet: stage_route checks the one "auto" picks */
        if (!auth_model_allowed(c, c->model)) {
                atomic_fetch_add_explicit(&c->w->metrics.auth_rejected[2], 1, memory_order_relaxed);
                respond_error(c, 403, "invalid_request_error", "model", "model_not_allowed",
                              "this API key may not use model `%s`", c->model);
                return STAGE_DONE;
        }
        if (!snapshot_find_model(c->w->snap, c->model, strlen(c->model))) {
                respond_error(c, 404, "invalid_request_error", "model", "model_not_found",
                              "The model `%s` does not exist", c->model);
                return STAGE_DONE;
        }
        return STAGE_NEXT;
}

const struct stage stage_allow = { "allow", allow };
