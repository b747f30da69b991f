/* Load scrapes: one non-blocking HTTP GET /metrics per server upstream per
 * interval (router.scrape_interval_ms), driven by the router's epoll loop
 * like the health checks (both with http/http_client.h). Each answer is parsed with metrics_parse() and
 * handed to the picker: 200 with known metrics -> picker_scrape_ok; 404 or
 * no known metric -> unsupported (router counts only); refused, timed out
 * (router.scrape_timeout_ms) or malformed -> failed (the last values go
 * stale). Gateway and unresolved upstreams are not scraped. One connection
 * per scrape (Connection: close); bodies up to 8 MiB, Content-Length,
 * chunked or read to EOF. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "router/picker.h"
#include "proto/snapshot.h"

struct scrape;

int scrape_new(int epfd, const struct sy_config *cfg, struct scrape **ret);
void scrape_free(struct scrape *sc);
/* Starts due scrapes and expires late ones. Returns ms until the next
 * event (INT32_MAX-ish when scraping is off). *ret_updated is set when the
 * picker got new data. */
int scrape_tick(struct scrape *sc, const struct snapshot *s, struct picker *pk, uint64_t now_ns, bool *ret_updated);
/* An epoll event whose data.ptr scrape_owns. */
void scrape_event(struct scrape *sc, void *ptr, uint32_t events, const struct snapshot *s, struct picker *pk,
                  uint64_t now_ns, bool *ret_updated);
bool scrape_owns(const struct scrape *sc, const void *ptr);
/* A new configuration (snapshot s after old): a slot that holds the same
 * server at the same address (snapshot_same_upstream) keeps its scrape in
 * flight and its schedule; the others start over (scraped at once). */
void scrape_rebind(struct scrape *sc, const struct sy_config *cfg, const struct snapshot *old,
                   const struct snapshot *s);
