/* The frontend's listening socket: one per instance, made once (by `switchyard
 * run`, which passes it to its frontend child by the socket-activation
 * protocol, or by a frontend started on its own) and shared by all the
 * frontend's workers. No SO_REUSEPORT: a second instance on the same
 * address gets EADDRINUSE instead of half the connections. */
#pragma once
#include <stddef.h>

/* A TCP socket bound to host (an IPv4 or IPv6 literal):port and listening,
 * close-on-exec, SO_REUSEADDR (restarts during TIME_WAIT), TCP_NODELAY.
 * -EINVAL for a host that is not an address literal, else bind's or
 * listen's -errno (-EADDRINUSE: something listens there already). */
int listener_open(const char *host, unsigned port, int *ret_fd);

/* "host:port", "[v6]:port" for the messages. */
void listener_name(const char *host, unsigned port, char *buf, size_t cap);
