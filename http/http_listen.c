/* Listening sockets (see http_listen.h). */
#include "http/http_listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int http_listen(const char *host, uint16_t port, unsigned flags, int backlog, int *ret_fd, uint16_t *ret_port) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char ps[8];
        int fd = -1, one = 1, r;

        snprintf(ps, sizeof ps, "%u", port);
        if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
                return -EADDRNOTAVAIL;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (flags & HTTP_LISTEN_NONBLOCK ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
                goto fail;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if ((flags & HTTP_LISTEN_REUSEPORT) && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
                goto fail;
        if (flags & HTTP_LISTEN_NODELAY)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0 ||
            (ret_port && getsockname(fd, (struct sockaddr *)&ss, &sl) < 0))
                goto fail;
        freeaddrinfo(ai);
        if (ret_port)
                *ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                           : ((struct sockaddr_in *)&ss)->sin_port);
        *ret_fd = fd;
        return 0;
fail:
        r = -errno;
        if (fd >= 0)
                close(fd);
        freeaddrinfo(ai);
        return r;
}
