/* DNS discovery sets (see dns.h). */
#include "router/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int dns_getaddrinfo(void *arg, const char *name, char (*ips)[48], size_t cap, size_t *ret_n) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *ai = NULL, *a;
        size_t n = 0;
        int r;

        (void)arg;
        r = getaddrinfo(name, NULL, &hints, &ai);
        if (r == EAI_NONAME || r == EAI_NODATA)
                return -ENOENT;
        if (r != 0)
                return r == EAI_MEMORY ? -ENOMEM : -EAGAIN;
        for (a = ai; a && n < cap; a = a->ai_next) {
                const void *src = a->ai_family == AF_INET
                                          ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                          : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
                if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) && inet_ntop(a->ai_family, src, ips[n], 48))
                        n++;
        }
        freeaddrinfo(ai);
        *ret_n = n;
        return n ? 0 : -ENOENT;
}

static int cmp(const void *a, const void *b) {
        return strcmp(a, b);
}

int dns_refresh(struct dns_set *set, const char *name, dns_resolve_fn fn, void *arg) {
        char ips[DNS_MAX_ADDRS][48] = { { 0 } }; /* whole entries are compared */
        size_t n = 0, k = 0;
        int r = fn(arg, name, ips, DNS_MAX_ADDRS, &n);
        bool changed;

        if (r == -ENOENT) {
                n = 0;
        } else if (r < 0) {
                return r;
        }
        if (n > DNS_MAX_ADDRS)
                n = DNS_MAX_ADDRS;
        qsort(ips, n, sizeof ips[0], cmp);
        for (size_t i = 0; i < n; i++)
                if (k == 0 || strcmp(ips[k - 1], ips[i]) != 0)
                        memmove(ips[k++], ips[i], sizeof ips[0]);
        changed = !set->valid || set->n != k || memcmp(set->ips, ips, k * sizeof ips[0]) != 0;
        memcpy(set->ips, ips, k * sizeof ips[0]);
        set->n = k;
        set->valid = true;
        return changed ? 1 : 0;
}
