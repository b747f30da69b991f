/* An upstream's TLS and provider keys (common/config_tls.c) and what
 * http/tls.c makes of them: values, defaults, the headers sent, each
 * refusal at its line:col; and a memory-BIO session (tls_mem, the
 * relay's) against an in-process OpenSSL server: handshake, both ways,
 * close_notify, and the verification failures with their reasons. The
 * certificate is made here (libcrypto), into a temporary file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/config.h"
#include "http/tls.h"
#include "tests/check.h"

static char cert_path[64] = "/tmp/sy-tls-cert-XXXXXX", junk_path[64] = "/tmp/sy-tls-junk-XXXXXX";
static EVP_PKEY *pkey;
static X509 *cert;

/* A self-signed certificate for localhost and 127.0.0.1. */
static void make_cert(void) {
        X509V3_CTX v3;
        X509_EXTENSION *ext;
        FILE *f;
        int fd;

        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        check(pkey);
        cert = X509_new();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -60);
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
        X509_set_pubkey(cert, pkey);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                   -1, -1, 0);
        X509_set_issuer_name(cert, X509_get_subject_name(cert));
        X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        check(ext);
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        check(X509_sign(cert, pkey, EVP_sha256()) > 0);
        fd = mkstemp(cert_path);
        check(fd >= 0);
        f = fdopen(fd, "w");
        check(f && PEM_write_X509(f, cert) == 1);
        fclose(f);
        fd = mkstemp(junk_path);
        check(fd >= 0 && write(fd, "not a certificate\n", 18) == 18);
        close(fd);
}

static struct sy_config *load(const char *yaml, char *err, size_t errlen) {
        struct sy_config *cfg = NULL;

        if (sy_config_load_string("t", yaml, strlen(yaml), &cfg, err, errlen) < 0)
                return NULL;
        return cfg;
}

static struct sy_config *load_ok(const char *yaml) {
        char err[512];
        struct sy_config *cfg = load(yaml, err, sizeof err);

        if (!cfg)
                check_count_("unexpected failure: %s\n--- yaml ---\n%s", err, yaml);
        return cfg;
}

static void expect_fail(const char *yaml, const char *msg, unsigned line, unsigned col) {
        char err[512] = "", at[32];
        struct sy_config *cfg = load(yaml, err, sizeof err);

        snprintf(at, sizeof at, "t:%u:%u: ", line, col);
        if (cfg || !strstr(err, msg) || strncmp(err, at, strlen(at)) != 0)
                check_count_("want \"%s%s\", got \"%s\"\n--- yaml ---\n%s", at, msg, cfg ? "(loaded)" : err, yaml);
        sy_config_free(cfg);
}

static const char *yaml_with(const char *keys) {
        static char b[8192];

        snprintf(b, sizeof b, "upstreams:\n  - name: p\n    url: https://api.example.com\n    models: [m]\n%s", keys);
        return b;
}

static void test_values(void) {
        char y[4096];
        struct sy_config *cfg;
        struct tls_table *t = NULL;
        const struct tls_upstream *tu = NULL;

        setenv("SY_TLS_TEST_KEY", "sk-abc123", 1);
        cfg = load_ok(yaml_with(""));
        if (cfg) {
                const struct sy_upstream_cfg *u = &cfg->upstreams[0];

                CHECK(u->tls);
                CHECK_EQ(u->port, 443);
                CHECK_STR(u->host, "api.example.com");
                CHECK_STR(u->sni, "api.example.com");
                CHECK(!u->ca_file && !u->api_key && !u->auth_header && u->n_extra == 0 && !u->health_path);
                CHECK(tls_table_new(cfg, &t) == 0 && t);
                tu = tls_table_find(t, "p");
                CHECK(tu && tu->tls && tu->ctx && tu->headers_len == 0 && tu->n_drop == 0);
                CHECK(!tls_table_find(t, "q"));
                tls_table_free(t);
                sy_config_free(cfg);
        }
        snprintf(y, sizeof y,
                 "    ca_file: %s\n    sni: internal.example\n    api_key_env: SY_TLS_TEST_KEY\n"
                 "    extra_headers:\n      OpenAI-Organization: org-1\n      X-Team: \"a b\"\n"
                 "    health_path: /v1/models\n",
                 cert_path);
        cfg = load_ok(yaml_with(y));
        if (cfg) {
                const struct sy_upstream_cfg *u = &cfg->upstreams[0];

                CHECK_STR(u->ca_file, cert_path);
                CHECK_STR(u->sni, "internal.example");
                CHECK_STR(u->api_key, "sk-abc123");
                CHECK_STR(u->auth_header, "Authorization");
                CHECK_STR(u->auth_prefix, "Bearer ");
                CHECK_EQ(u->n_extra, 2);
                CHECK_STR(u->health_path, "/v1/models");
                CHECK(cfg->n_warnings == 0);
                CHECK(tls_table_new(cfg, &t) == 0 && t);
                tu = tls_table_find(t, "p");
                CHECK(tu && tu->ctx);
                if (tu) {
                        CHECK_STR(tu->headers,
                                  "Authorization: Bearer sk-abc123\r\nOpenAI-Organization: org-1\r\nX-Team: a b\r\n");
                        CHECK(tu->n_drop == 3 && strcmp(tu->drop[0], "Authorization") == 0 &&
                              strcmp(tu->drop[2], "X-Team") == 0);
                        CHECK_STR(tu->health_path, "/v1/models");
                }
                tls_table_free(t);
                sy_config_free(cfg);
        }
        /* another header and no prefix; an IP address: no SNI, the address verified */
        cfg = load_ok("upstreams:\n  - name: p\n    url: https://10.0.0.7:8443\n    models: [m]\n"
                      "    api_key_env: SY_TLS_TEST_KEY\n    auth_header: x-api-key\n    auth_prefix: \"\"\n");
        if (cfg) {
                CHECK(cfg->upstreams[0].tls && cfg->upstreams[0].port == 8443 && !cfg->upstreams[0].sni);
                CHECK(tls_table_new(cfg, &t) == 0 && t && (tu = tls_table_find(t, "p")));
                if (t && tu)
                        CHECK_STR(tu->headers, "x-api-key: sk-abc123\r\n");
                tls_table_free(t);
                sy_config_free(cfg);
        }
        /* tls: true where the form has no url; the key over plain HTTP: a warning */
        cfg = load_ok("vllm_endpoints:\n  - name: p\n    address: vllm.internal\n    port: 8000\n    models: [m]\n"
                      "    tls: true\n");
        if (cfg) {
                CHECK(cfg->upstreams[0].tls && strcmp(cfg->upstreams[0].sni, "vllm.internal") == 0);
                sy_config_free(cfg);
        }
        cfg = load_ok("upstreams:\n  - name: p\n    url: http://vllm:8000\n    models: [m]\n"
                      "    api_key_env: SY_TLS_TEST_KEY\n");
        if (cfg) {
                CHECK(!cfg->upstreams[0].tls && cfg->n_warnings == 1 &&
                      strstr(cfg->warnings[0], "goes over plain HTTP"));
                CHECK(tls_table_new(cfg, &t) == 0 && t && (tu = tls_table_find(t, "p")) && !tu->ctx);
                tls_table_free(t);
                sy_config_free(cfg);
        }
        cfg = load_ok("upstreams:\n  - {name: p, url: \"http://h\", models: [m], via: gw}\n"
                      "  - {name: gw, url: \"https://g\", models: [x], kind: gateway}\n");
        if (cfg) {
                CHECK_STR(cfg->upstreams[0].via, "gw");
                CHECK(tls_table_new(cfg, &t) == 0 && t && (tu = tls_table_find(t, "p")) && !tu->tls);
                if (t && tu)
                        CHECK_STR(tu->via, "gw");
                tls_table_free(t);
                sy_config_free(cfg);
        }
        /* v0.3: an https base_url and a backend's credentials make the same upstream */
        cfg = load_ok("version: v0.3\nproviders:\n  models:\n    - name: m\n      backend_refs:\n"
                      "        - name: b\n          base_url: https://api.example.com/v1\n"
                      "          api_key_env: SY_TLS_TEST_KEY\n          auth_header: api-key\n"
                      "          extra_headers: {X-Org: o}\n");
        if (cfg) {
                const struct sy_upstream_cfg *u = &cfg->upstreams[0];

                CHECK(cfg->n_upstreams == 1 && u->tls && u->port == 443);
                CHECK_STR(u->name, "b");
                CHECK_STR(u->sni, "api.example.com");
                CHECK_STR(u->api_key, "sk-abc123");
                CHECK_STR(u->auth_header, "api-key");
                CHECK(u->n_extra == 1 && strcmp(u->extra_values[0], "o") == 0);
                sy_config_free(cfg);
        }
        /* nothing to do: no table */
        cfg = load_ok("upstreams:\n  - name: p\n    url: http://vllm:8000\n    models: [m]\n");
        if (cfg) {
                t = (struct tls_table *)1;
                CHECK(tls_table_new(cfg, &t) == 0 && !t);
                sy_config_free(cfg);
        }
}

static void test_errors(void) {
        char y[512];

        setenv("SY_TLS_TEST_KEY", "sk-abc123", 1);
        setenv("SY_TLS_TEST_CRLF", "sk\r\nX-Evil: 1", 1);
        unsetenv("SY_TLS_TEST_UNSET");
        expect_fail(yaml_with("    tls: false\n"), "upstreams[0]: tls: false contradicts the url's scheme (https)", 5,
                    5);
        expect_fail("upstreams:\n  - name: p\n    url: http://h\n    tls: true\n    models: [m]\n",
                    "tls: true contradicts the url's scheme (http); write the url as https://", 4, 5);
        expect_fail("upstreams:\n  - name: p\n    url: http://h\n    sni: h\n    models: [m]\n",
                    "sni is for TLS upstreams only", 4, 5);
        expect_fail("upstreams:\n  - name: p\n    url: http://h\n    ca_file: /x.pem\n    models: [m]\n",
                    "cannot read /x.pem", 4, 14);
        expect_fail(yaml_with("    sni: 10.1.2.3\n"), "upstreams[0].sni: \"10.1.2.3\" is an IP address", 5, 10);
        expect_fail(yaml_with("    ca_file: /nonexistent/ca.pem\n"),
                    "upstreams[0].ca_file: cannot read /nonexistent/ca.pem", 5, 14);
        snprintf(y, sizeof y, "    ca_file: %s\n", junk_path);
        expect_fail(yaml_with(y), "holds no PEM certificate", 5, 14);
        expect_fail(yaml_with("    api_key_env: SY_TLS_TEST_UNSET\n"),
                    "upstreams[0].api_key_env: the environment variable SY_TLS_TEST_UNSET is not set", 5, 18);
        expect_fail(yaml_with("    api_key_env: 9KEY\n"), "expected an environment variable name", 5, 18);
        expect_fail(yaml_with("    api_key_env: SY_TLS_TEST_CRLF\n"),
                    "the value of SY_TLS_TEST_CRLF has a control character", 5, 18);
        expect_fail(yaml_with("    auth_header: x-api-key\n"),
                    "auth_header says how the API key is sent, but no api_key_env gives one", 5, 5);
        expect_fail(yaml_with("    auth_prefix: \"Token \"\n"), "auth_prefix says how the API key is sent", 5, 5);
        expect_fail(yaml_with("    api_key_env: SY_TLS_TEST_KEY\n    auth_header: Host\n"),
                    "upstreams[0].auth_header: \"Host\" is a header switchyard writes itself", 6, 18);
        expect_fail(yaml_with("    api_key_env: SY_TLS_TEST_KEY\n    auth_prefix: \"a\\nb\"\n"),
                    "upstreams[0].auth_prefix: contains a control character", 6, 18);
        expect_fail(yaml_with("    extra_headers:\n      Content-Length: 5\n"),
                    "\"Content-Length\" is a header switchyard writes itself", 6, 7);
        expect_fail(yaml_with("    extra_headers:\n      X-A: \"1\\r\\nX-B: 2\"\n"),
                    "upstreams[0].extra_headers.X-A: contains a control character", 6, 12);
        expect_fail(yaml_with("    extra_headers:\n      X-A: 1\n      x-a: 2\n"), "header x-a is given twice", 7, 7);
        expect_fail(yaml_with("    extra_headers: [a]\n"), "upstreams[0].extra_headers: expected a mapping", 5, 20);
        expect_fail(yaml_with("    api_key_env: SY_TLS_TEST_KEY\n    extra_headers:\n      authorization: x\n"),
                    "extra_headers sets Authorization, which carries the API key", 6, 5);
        expect_fail(yaml_with("    health_path: v1/models\n"), "expected an absolute URL path", 5, 18);
        expect_fail(yaml_with("    verify: false\n"),
                    "unknown key 'verify' in upstream (known: name, url, engine, models, weight, kind, tls, sni", 5, 5);
        expect_fail("upstreams:\n  - name: p\n    url: https://h/v1\n    models: [m]\n",
                    "is not a URL of the form https://host[:port]", 3, 10);
        expect_fail("version: v0.3\nproviders:\n  models:\n    - name: m\n      backend_refs:\n"
                    "        - name: b\n          base_url: https://api.example.com/v1\n"
                    "          api_key_env: SY_TLS_TEST_UNSET\n",
                    "the environment variable SY_TLS_TEST_UNSET is not set", 8, 24);
        /* via: a gateway upstream of the file, for a server */
        expect_fail("upstreams:\n  - {name: p, url: \"http://h\", models: [m], via: gw}\n",
                    "upstream 'p': via: no upstream named 'gw'", 2, 50);
        expect_fail("upstreams:\n  - {name: p, url: \"http://h\", models: [m], via: q}\n"
                    "  - {name: q, url: \"http://g\", models: [m]}\n",
                    "upstream 'p': via: 'q' is not a gateway (kind: gateway)", 2, 50);
        expect_fail("upstreams:\n  - {name: p, url: \"http://h\", models: [m], kind: gateway, via: q}\n"
                    "  - {name: q, url: \"http://g\", models: [m], kind: gateway}\n",
                    "upstream 'p': via is for servers switchyard picks", 2, 65);
}

/* ---- tls_mem against an in-process server ---------------------------------------- */

/* Moves ciphertext both ways until neither side has any. */
static void pump(struct tls_mem *m, SSL *srv, BIO *s_in, BIO *s_out) {
        for (int i = 0; i < 20; i++) {
                struct buf b = { 0 };
                char tmp[16384];
                int n;

                check(tls_mem_take(m, &b) == 0);
                if (b.len)
                        BIO_write(s_in, b.p, (int)b.len);
                buf_free(&b);
                if (!SSL_is_init_finished(srv))
                        SSL_do_handshake(srv);
                while ((n = BIO_read(s_out, tmp, sizeof tmp)) > 0)
                        check(tls_mem_feed(m, tmp, (size_t)n) == 0);
                tls_mem_handshake(m);
        }
}

static int session(const char *ca, const char *sni, char *reason, size_t rlen) {
        char yaml[512], err[256], got[64];
        struct sy_config *cfg;
        struct tls_table *t = NULL;
        struct tls_mem m;
        SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
        SSL *srv;
        BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
        int r = 0;

        check(sctx && SSL_CTX_use_certificate(sctx, cert) == 1 && SSL_CTX_use_PrivateKey(sctx, pkey) == 1);
        srv = SSL_new(sctx);
        BIO_set_mem_eof_return(s_in, -1);
        SSL_set_bio(srv, s_in, s_out);
        SSL_set_accept_state(srv);
        snprintf(yaml, sizeof yaml,
                 "upstreams:\n  - name: p\n    url: https://localhost:9\n    models: [m]\n"
                 "    ca_file: %s\n%s%s%s",
                 ca, sni ? "    sni: " : "", sni ? sni : "", sni ? "\n" : "");
        cfg = load_ok(yaml);
        check(cfg && tls_table_new(cfg, &t) == 0 && t);
        check(tls_mem_init(&m, tls_table_find(t, "p"), err, sizeof err) == 0);
        pump(&m, srv, s_in, s_out);
        if (!m.ready) {
                tls_reason(m.ssl, reason, rlen);
                r = -EPROTO;
                goto out;
        }
        /* client to server, server to client, then the server's close_notify */
        check(tls_mem_write(&m, "GET / HTTP/1.1\r\n\r\n", 18) == 0);
        pump(&m, srv, s_in, s_out);
        CHECK_EQ(SSL_read(srv, got, sizeof got), 18);
        CHECK_EQ(SSL_write(srv, "HTTP/1.1 200 OK\r\n", 17), 17);
        pump(&m, srv, s_in, s_out);
        CHECK_EQ(tls_mem_read(&m, got, sizeof got), 17);
        CHECK_MEM(got, 17, "HTTP/1.1 200 OK\r\n");
        CHECK_EQ(tls_mem_read(&m, got, sizeof got), 0); /* nothing more yet */
        SSL_shutdown(srv);
        pump(&m, srv, s_in, s_out);
        CHECK_EQ(tls_mem_read(&m, got, sizeof got), -EPIPE);
out:
        tls_mem_free(&m);
        tls_table_free(t);
        sy_config_free(cfg);
        SSL_free(srv);
        SSL_CTX_free(sctx);
        return r;
}

static void test_session(void) {
        char reason[256] = "", other[64] = "/tmp/sy-tls-other-XXXXXX";
        EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *c2 = X509_dup(cert);
        FILE *f;
        int fd;

        CHECK_EQ(session(cert_path, NULL, reason, sizeof reason), 0);
        /* the name the server's certificate does not carry */
        CHECK_EQ(session(cert_path, "other.example", reason, sizeof reason), -EPROTO);
        CHECK(strstr(reason, "TLS certificate verification failed: hostname mismatch"));
        /* a CA that did not sign it: the same name, another key */
        X509_set_pubkey(c2, k2);
        check(X509_sign(c2, k2, EVP_sha256()) > 0);
        fd = mkstemp(other);
        check(fd >= 0 && (f = fdopen(fd, "w")) && PEM_write_X509(f, c2) == 1);
        fclose(f);
        CHECK_EQ(session(other, NULL, reason, sizeof reason), -EPROTO);
        CHECK(strstr(reason, "TLS certificate verification failed: "));
        unlink(other);
        X509_free(c2);
        EVP_PKEY_free(k2);
}

int main(void) {
        make_cert();
        test_values();
        test_errors();
        test_session();
        unlink(cert_path);
        unlink(junk_path);
        X509_free(cert);
        EVP_PKEY_free(pkey);
        return check_done("config-tls");
}
