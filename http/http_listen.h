/* Listening sockets for the HTTP servers (the router's admin API, the
 * test upstream; the frontend's workers). */
#pragma once
#include <stdint.h>

enum http_listen_flags {
        HTTP_LISTEN_NONBLOCK = 1 << 0,  /* accept4 never waits */
        HTTP_LISTEN_REUSEPORT = 1 << 1, /* one socket per worker: the kernel spreads connections */
        HTTP_LISTEN_NODELAY = 1 << 2,   /* TCP_NODELAY, inherited by accepted sockets */
};

/* A TCP socket (close-on-exec, SO_REUSEADDR) bound to host:port and
 * listening with backlog. host: a numeric address or a name (the first
 * getaddrinfo answer); port 0: any free port. *ret_port, when not NULL,
 * gets the port bound. -EADDRNOTAVAIL when host does not resolve, else
 * -errno of the call that failed. */
int http_listen(const char *host, uint16_t port, unsigned flags, int backlog, int *ret_fd, uint16_t *ret_port);
