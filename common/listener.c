/* The frontend's listening socket (see listener.h). */
#include "common/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTENER_BACKLOG 4096

int listener_open(const char *host, unsigned port, int *ret_fd) {
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
        struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        int one = 1, fd, v6 = 0, r;

        if (!host || port > 65535)
                return -EINVAL;
        if (inet_pton(AF_INET, host, &a4.sin_addr) != 1) {
                if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1)
                        return -EINVAL;
                v6 = 1;
        }
        fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (bind(fd, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4, v6 ? sizeof a6 : sizeof a4) < 0 ||
            listen(fd, LISTENER_BACKLOG) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

void listener_name(const char *host, unsigned port, char *buf, size_t cap) {
        if (host && strchr(host, ':'))
                snprintf(buf, cap, "[%s]:%u", host, port);
        else
                snprintf(buf, cap, "%s:%u", host ? host : "?", port);
}
