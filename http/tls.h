/* TLS to upstreams (OpenSSL) and the headers an upstream's configuration
 * adds to every request it gets (its API key, extra_headers).
 *
 * A tls_table is built from a configuration by each process that talks
 * to upstreams (the frontend per configuration generation, the router's
 * health checks and scrapes): one entry per configured upstream that has
 * TLS or headers, found by name. Verification is always on: the
 * certificate chain against ca_file or the system store, and the name
 * (sni, else the host) or the IP address against the certificate.
 *
 * Two ways to run a connection: tls_client_new() for a socket OpenSSL
 * reads and writes itself (the router's epoll clients), and tls_mem for
 * memory BIOs, where the caller moves the ciphertext (the frontend's
 * io_uring relay: encrypt before send, decrypt after recv). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/config.h"

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

struct tls_upstream {
        char *name;
        struct ssl_ctx_st *ctx; /* NULL: plain HTTP */
        char *sni;              /* server name sent; NULL: none (an IP address) */
        char *host;             /* checked against the certificate (name or IP) */
        char *headers;          /* "Name: value\r\n"... (API key, extra_headers); "" when none */
        size_t headers_len;
        char **drop; /* the client's headers of these names are not forwarded (these replace them) */
        size_t n_drop;
        const char *health_path; /* NULL: health.path */
        char err[256];           /* the context could not be made: why (ctx NULL, tls true) */
        char *via;               /* the gateway upstream requests to this one go through; NULL: direct */
        bool tls;
};

struct tls_table {
        struct tls_upstream *u;
        size_t n;
};

/* NULL table: no upstream needs anything (or no memory: *ret NULL, -ENOMEM). */
int tls_table_new(const struct sy_config *cfg, struct tls_table **ret);
void tls_table_free(struct tls_table *t);
/* NULL: a plain upstream with no headers of its own. */
const struct tls_upstream *tls_table_find(const struct tls_table *t, const char *name);

/* A client session for tu (which has TLS), to connect on a socket
 * (SSL_set_fd by the caller) or with memory BIOs. NULL with why in err. */
struct ssl_st *tls_client_new(const struct tls_upstream *tu, char *err, size_t errlen);
/* Why a handshake or read failed: the certificate verification result
 * when that failed, else OpenSSL's error queue (cleared). */
const char *tls_reason(struct ssl_st *ssl, char *buf, size_t len);

/* ---- memory BIOs ------------------------------------------------------------ */

struct tls_mem {
        struct ssl_st *ssl;
        struct bio_st *net_in; /* ciphertext from the peer, written by tls_mem_feed */
        struct bio_st *net_out;
        bool ready; /* handshake done */
};

int tls_mem_init(struct tls_mem *m, const struct tls_upstream *tu, char *err, size_t errlen);
void tls_mem_free(struct tls_mem *m);
/* Ciphertext received from the peer. */
int tls_mem_feed(struct tls_mem *m, const void *p, size_t n);
/* Drives the handshake: 1 done, 0 more bytes needed, -EPROTO failed. */
int tls_mem_handshake(struct tls_mem *m);
/* Plaintext (after the handshake): bytes, 0 none yet, -EPIPE the peer
 * closed (close_notify, or the TCP end), -EPROTO a TLS error. */
ssize_t tls_mem_read(struct tls_mem *m, void *p, size_t cap);
/* Plaintext to send: encrypted into the outgoing ciphertext. */
int tls_mem_write(struct tls_mem *m, const void *p, size_t n);
/* Outgoing ciphertext: appended to out (0, -ENOMEM). */
int tls_mem_take(struct tls_mem *m, struct buf *out);
