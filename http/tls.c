/* TLS to upstreams and the per-upstream headers (see tls.h). */
#include "http/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static bool is_ip(const char *s) {
        unsigned char a[16];

        return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static void openssl_reason(char *buf, size_t len, const char *what) {
        unsigned long e = ERR_get_error();
        char s[200] = "";

        if (e)
                ERR_error_string_n(e, s, sizeof s);
        ERR_clear_error();
        snprintf(buf, len, "%s%s%s", what, s[0] ? ": " : "", s);
}

/* Verification on, TLS 1.2 at least, the CA file or the system store. */
static struct ssl_ctx_st *make_ctx(const struct sy_upstream_cfg *uc, char *err, size_t errlen) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

        if (!ctx) {
                openssl_reason(err, errlen, "SSL_CTX_new");
                return NULL;
        }
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (uc->ca_file ? SSL_CTX_load_verify_locations(ctx, uc->ca_file, NULL) != 1
                        : SSL_CTX_set_default_verify_paths(ctx) != 1) {
                char what[300];

                snprintf(what, sizeof what, "loading %s", uc->ca_file ? uc->ca_file : "the system CA store");
                openssl_reason(err, errlen, what);
                SSL_CTX_free(ctx);
                return NULL;
        }
        return ctx;
}

static int add_drop(struct tls_upstream *tu, const char *name) {
        char **v = realloc(tu->drop, (tu->n_drop + 1) * sizeof *v);

        if (!v)
                return -ENOMEM;
        tu->drop = v;
        v[tu->n_drop] = strdup(name);
        if (!v[tu->n_drop])
                return -ENOMEM;
        tu->n_drop++;
        return 0;
}

static int fill(struct tls_upstream *tu, const struct sy_upstream_cfg *uc) {
        struct buf h = { 0 };
        int r = 0;

        tu->name = strdup(uc->name);
        tu->host = strdup(uc->host);
        tu->tls = uc->tls;
        if (!tu->name || !tu->host || (uc->sni && !(tu->sni = strdup(uc->sni))) ||
            (uc->health_path && !(tu->health_path = strdup(uc->health_path))) ||
            (uc->via && !(tu->via = strdup(uc->via))))
                return -ENOMEM;
        if (uc->api_key) {
                r = buf_printf(&h, "%s: %s%s\r\n", uc->auth_header, uc->auth_prefix ? uc->auth_prefix : "",
                               uc->api_key);
                if (r >= 0)
                        r = add_drop(tu, uc->auth_header);
        }
        for (size_t i = 0; r >= 0 && i < uc->n_extra; i++) {
                r = buf_printf(&h, "%s: %s\r\n", uc->extra_names[i], uc->extra_values[i]);
                if (r >= 0)
                        r = add_drop(tu, uc->extra_names[i]);
        }
        if (r >= 0)
                r = buf_append(&h, "", 1); /* NUL-terminated */
        if (r < 0) {
                buf_free(&h);
                return -ENOMEM;
        }
        tu->headers = h.p;
        tu->headers_len = h.len - 1;
        if (uc->tls)
                tu->ctx = make_ctx(uc, tu->err, sizeof tu->err);
        return 0;
}

int tls_table_new(const struct sy_config *cfg, struct tls_table **ret) {
        struct tls_table *t;
        size_t n = 0;

        *ret = NULL;
        for (size_t i = 0; i < cfg->n_upstreams; i++)
                n += cfg->upstreams[i].tls || cfg->upstreams[i].api_key || cfg->upstreams[i].n_extra ||
                     cfg->upstreams[i].health_path || cfg->upstreams[i].via;
        if (!n)
                return 0;
        t = calloc(1, sizeof *t);
        if (!t || !(t->u = calloc(n, sizeof *t->u))) {
                free(t);
                return -ENOMEM;
        }
        for (size_t i = 0; i < cfg->n_upstreams; i++) {
                const struct sy_upstream_cfg *uc = &cfg->upstreams[i];

                if (!(uc->tls || uc->api_key || uc->n_extra || uc->health_path || uc->via))
                        continue;
                if (fill(&t->u[t->n++], uc) < 0) {
                        tls_table_free(t);
                        return -ENOMEM;
                }
        }
        *ret = t;
        return 0;
}

void tls_table_free(struct tls_table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++) {
                struct tls_upstream *tu = &t->u[i];

                free(tu->name);
                free(tu->sni);
                free(tu->host);
                if (tu->headers)
                        explicit_bzero(tu->headers, tu->headers_len); /* holds the API key */
                free(tu->headers);
                for (size_t j = 0; j < tu->n_drop; j++)
                        free(tu->drop[j]);
                free(tu->drop);
                free((char *)tu->health_path);
                free(tu->via);
                SSL_CTX_free(tu->ctx);
        }
        free(t->u);
        free(t);
}

const struct tls_upstream *tls_table_find(const struct tls_table *t, const char *name) {
        for (size_t i = 0; t && i < t->n; i++)
                if (strcmp(t->u[i].name, name) == 0)
                        return &t->u[i];
        return NULL;
}

struct ssl_st *tls_client_new(const struct tls_upstream *tu, char *err, size_t errlen) {
        SSL *ssl;

        if (!tu->ctx) {
                snprintf(err, errlen, "%s", tu->err[0] ? tu->err : "no TLS context");
                return NULL;
        }
        ssl = SSL_new(tu->ctx);
        if (!ssl) {
                openssl_reason(err, errlen, "SSL_new");
                return NULL;
        }
        if (tu->sni && SSL_set_tlsext_host_name(ssl, tu->sni) != 1)
                goto fail;
        /* the name the certificate must carry: sni, else the host */
        if (is_ip(tu->sni ? tu->sni : tu->host) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tu->host) != 1
                                                : SSL_set1_host(ssl, tu->sni ? tu->sni : tu->host) != 1)
                goto fail;
        SSL_set_connect_state(ssl);
        return ssl;
fail:
        openssl_reason(err, errlen, "setting the server name");
        SSL_free(ssl);
        return NULL;
}

const char *tls_reason(struct ssl_st *ssl, char *buf, size_t len) {
        long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

        if (v != X509_V_OK) {
                snprintf(buf, len, "TLS certificate verification failed: %s", X509_verify_cert_error_string(v));
                ERR_clear_error();
        } else {
                openssl_reason(buf, len, "TLS handshake failed");
        }
        return buf;
}

/* ---- memory BIOs ------------------------------------------------------------ */

int tls_mem_init(struct tls_mem *m, const struct tls_upstream *tu, char *err, size_t errlen) {
        memset(m, 0, sizeof *m);
        m->ssl = tls_client_new(tu, err, errlen);
        if (!m->ssl)
                return -EPROTO;
        m->net_in = BIO_new(BIO_s_mem());
        m->net_out = BIO_new(BIO_s_mem());
        if (!m->net_in || !m->net_out) {
                BIO_free(m->net_in);
                BIO_free(m->net_out);
                SSL_free(m->ssl);
                m->ssl = NULL;
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        /* an empty read BIO means "more later", not EOF */
        BIO_set_mem_eof_return(m->net_in, -1);
        SSL_set_bio(m->ssl, m->net_in, m->net_out); /* the SSL owns them now */
        return 0;
}

void tls_mem_free(struct tls_mem *m) {
        if (m->ssl)
                SSL_free(m->ssl);
        memset(m, 0, sizeof *m);
}

int tls_mem_feed(struct tls_mem *m, const void *p, size_t n) {
        return n == 0 || BIO_write(m->net_in, p, (int)n) == (int)n ? 0 : -ENOMEM;
}

int tls_mem_handshake(struct tls_mem *m) {
        int x;

        if (m->ready)
                return 1;
        x = SSL_do_handshake(m->ssl);
        if (x == 1) {
                m->ready = true;
                return 1;
        }
        switch (SSL_get_error(m->ssl, x)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
                return 0;
        default:
                return -EPROTO;
        }
}

ssize_t tls_mem_read(struct tls_mem *m, void *p, size_t cap) {
        int x = SSL_read(m->ssl, p, (int)(cap > (1u << 30) ? 1u << 30 : cap));

        if (x > 0)
                return x;
        switch (SSL_get_error(m->ssl, x)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
                return 0;
        case SSL_ERROR_ZERO_RETURN:
                return -EPIPE;
        default:
                return -EPROTO;
        }
}

int tls_mem_write(struct tls_mem *m, const void *p, size_t n) {
        /* the memory BIO takes everything: a write completes at once */
        while (n > 0) {
                int x = SSL_write(m->ssl, p, (int)(n > (1u << 30) ? 1u << 30 : n));

                if (x <= 0)
                        return -EPROTO;
                p = (const char *)p + x;
                n -= (size_t)x;
        }
        return 0;
}

int tls_mem_take(struct tls_mem *m, struct buf *out) {
        size_t n = BIO_ctrl_pending(m->net_out);

        if (n == 0)
                return 0;
        if (buf_reserve(out, n) < 0)
                return -ENOMEM;
        if (BIO_read(m->net_out, out->p + out->len, (int)n) != (int)n)
                return -EPROTO;
        out->len += n;
        return 0;
}
