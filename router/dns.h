/* DNS discovery: the A/AAAA records of a name (a headless Service:
 * one record per ready pod) as a set of addresses, re-resolved on a period
 * by the discovery thread (never the router's loop). The resolver is a
 * parameter so the set logic is testable without a DNS server. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define DNS_MAX_ADDRS 64

/* Fills ips (IP literals, no brackets) with at most cap addresses.
 * Returns 0, -ENOENT when the name has no addresses (NXDOMAIN, NODATA:
 * a service scaled to zero), or another negative errno when the lookup
 * failed for now (timeouts, SERVFAIL: the last set stays). */
typedef int (*dns_resolve_fn)(void *arg, const char *name, char (*ips)[48], size_t cap, size_t *ret_n);

/* getaddrinfo() (blocking): A and AAAA. */
int dns_getaddrinfo(void *arg, const char *name, char (*ips)[48], size_t cap, size_t *ret_n);

struct dns_set {
        char ips[DNS_MAX_ADDRS][48]; /* sorted, unique */
        size_t n;
        bool valid; /* resolved at least once */
};

/* Resolves name and updates set. Returns 1 if the set changed, 0 if not,
 * or the resolver's error when it failed for now (set unchanged). */
int dns_refresh(struct dns_set *set, const char *name, dns_resolve_fn fn, void *arg);
