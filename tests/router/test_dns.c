/* router/dns.c: the address set of a name across re-resolutions, with a
 * scripted resolver: order and duplicates do not matter, vanished
 * addresses leave, a name with no records empties the set, a temporary
 * failure keeps the last set. And the real resolver on localhost. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "router/dns.h"
#include "tests/check.h"

struct script {
        int ret;
        const char *ips[8];
};

static int fake(void *arg, const char *name, char (*ips)[48], size_t cap, size_t *ret_n) {
        const struct script *s = arg;
        size_t n = 0;

        (void)name;
        if (s->ret < 0 && s->ret != -ENOENT)
                return s->ret;
        for (; n < cap && s->ips[n]; n++)
                snprintf(ips[n], 48, "%s", s->ips[n]);
        *ret_n = n;
        return s->ret;
}

int main(void) {
        static struct dns_set set;
        struct script a = { 0, { "10.0.0.2", "10.0.0.1", "fd00::1", "10.0.0.1" } };
        struct script same = { 0, { "fd00::1", "10.0.0.1", "10.0.0.2" } };
        struct script less = { 0, { "10.0.0.2" } };
        struct script tmpfail = { -EAGAIN, { 0 } };
        struct script gone = { -ENOENT, { 0 } };
        char ips[DNS_MAX_ADDRS][48];
        size_t n = 0;

        check_eq(dns_refresh(&set, "x", fake, &a), 1);
        check_eq(set.n, 3);
        check(strcmp(set.ips[0], "10.0.0.1") == 0 && strcmp(set.ips[1], "10.0.0.2") == 0 &&
              strcmp(set.ips[2], "fd00::1") == 0);
        check_eq(dns_refresh(&set, "x", fake, &same), 0); /* other order: no change */
        check_eq(dns_refresh(&set, "x", fake, &less), 1); /* vanished addresses leave */
        check_eq(set.n, 1);
        check_eq(dns_refresh(&set, "x", fake, &tmpfail), -EAGAIN); /* kept */
        check_eq(set.n, 1);
        check(strcmp(set.ips[0], "10.0.0.2") == 0);
        check_eq(dns_refresh(&set, "x", fake, &gone), 1); /* no records: empty */
        check_eq(set.n, 0);
        check_eq(dns_refresh(&set, "x", fake, &gone), 0);
        check_eq(dns_refresh(&set, "x", fake, &a), 1);
        check_eq(set.n, 3);

        /* the real resolver: localhost is in /etc/hosts */
        check_eq(dns_getaddrinfo(NULL, "localhost", ips, DNS_MAX_ADDRS, &n), 0);
        check(n >= 1);
        check_eq(dns_getaddrinfo(NULL, "no-such-host.invalid", ips, DNS_MAX_ADDRS, &n) < 0, 1);
        printf("dns: ok\n");
        return 0;
}
