/* One non-blocking HTTP/1.1 GET on an epoll loop, as the router's health
 * checks and load scrapes make them: connect, send the request once the
 * socket is writable, read the answer as it arrives: the head only, or
 * head and body (Content-Length, chunked, or to EOF). One connection per
 * request (the request says Connection: close). The owner keeps one per
 * upstream slot, keeps its own schedule and deadline, hands it the epoll
 * events of its socket and says what the answer means.
 *
 * http_client_fetch() is the same request made on an epoll of its own,
 * for a thread that may wait (discovery's /v1/models probes). */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "http/http_parse.h"

#define HTTP_CLIENT_REQ_MAX 2048 /* room for an API key header */

enum http_client_state { HTTP_CLIENT_IDLE, HTTP_CLIENT_CONNECTING, HTTP_CLIENT_HANDSHAKE, HTTP_CLIENT_READING };

enum http_client_result {
        HTTP_CLIENT_MORE,           /* started, or in progress: wait for the next event */
        HTTP_CLIENT_DONE,           /* the answer is in: status, http_client_body() */
        HTTP_CLIENT_NO_SOCKET,      /* start: no socket could be made (g stays idle) */
        HTTP_CLIENT_CONNECT_FAILED, /* err: the socket's error (0 when epoll said only HUP/ERR) */
        HTTP_CLIENT_SEND_FAILED,
        HTTP_CLIENT_BAD_ANSWER, /* malformed, over the limits, or the connection ended first */
        HTTP_CLIENT_TLS_FAILED, /* the handshake failed (certificate not verified...): tls_err says why */
};

struct ssl_st;
struct tls_upstream;

struct http_client {
        int fd; /* -1: idle */
        enum http_client_state state;
        void *ptr;                 /* the epoll registration's data.ptr */
        size_t head_max, body_max; /* body_max 0: only the head is read */
        int err;
        int status;
        struct buf b;   /* the answer as it came (kept allocated between requests) */
        size_t hdr_len; /* 0: head not parsed yet */
        bool chunked;
        uint64_t content_length; /* UINT64_MAX: none (to EOF) */
        struct http_chunked ch;
        size_t raw, body_end; /* chunked: next undecoded byte, end of the decoded body */
        size_t end;           /* HTTP_CLIENT_DONE: the body is b.p[hdr_len, end) */
        size_t req_len;
        char req[HTTP_CLIENT_REQ_MAX];
        struct ssl_st *ssl; /* TLS (http/tls.h): the session on fd, NULL for plain HTTP */
        char tls_err[256];
};

void http_client_init(struct http_client *g, size_t head_max, size_t body_max);
/* Connects to addr and registers with epfd (data.ptr = ptr); req (the
 * whole request, at most HTTP_CLIENT_REQ_MAX bytes) goes out once connected.
 * HTTP_CLIENT_MORE, or HTTP_CLIENT_CONNECT_FAILED (err set) / HTTP_CLIENT_NO_SOCKET
 * with g idle again. */
enum http_client_result http_client_start(struct http_client *g, int epfd, const struct sockaddr_in6 *addr,
                                          const char *req, size_t req_len, void *ptr);
/* The same over TLS when tu has TLS (tu NULL: plain): the handshake
 * (verification included) after the connect, HTTP_CLIENT_TLS_FAILED when
 * it fails. */
enum http_client_result http_client_start_tls(struct http_client *g, int epfd, const struct sockaddr_in6 *addr,
                                              const char *req, size_t req_len, void *ptr,
                                              const struct tls_upstream *tu);
/* An epoll event for g's socket. A result other than HTTP_CLIENT_MORE is the
 * end of this request: the caller closes g (after reading the answer). */
enum http_client_result http_client_event(struct http_client *g, int epfd, uint32_t events);
/* After HTTP_CLIENT_DONE with a body_max: the body, decoded if chunked. */
const char *http_client_body(const struct http_client *g, size_t *ret_len);
/* Closes the connection (if any): idle again. */
void http_client_close(struct http_client *g, int epfd);
void http_client_free(struct http_client *g, int epfd);
/* The whole request, waiting at most timeout_ms: HTTP_CLIENT_DONE (the
 * answer in g: status, http_client_body()), HTTP_CLIENT_MORE when the time
 * ran out, or the failure. The connection is closed; the answer stays in
 * g until the next request or http_client_free(g, -1). */
enum http_client_result http_client_fetch(struct http_client *g, const struct sockaddr_in6 *addr, const char *req,
                                          size_t req_len, unsigned timeout_ms);
