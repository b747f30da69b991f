/* Benchmark: a v0.3 file with N decisions (default 10,000) over N keyword
 * signals and 14 domains, generated here: its load time, and the time to
 * evaluate one request (a prompt that matches a late decision, and one that
 * matches none, the worst case: every decision is tried). Printed next to
 * the same figures for a 6-decision file measured in the same run. Times
 * are the process's CPU time (a shared host's wall clock says little).
 *
 * usage: bench_decisions [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/decisions.h"

static const char *const domains[] = { "math",       "physics", "chemistry",   "biology",         "law",
                                       "business",   "history", "economics",   "health",          "psychology",
                                       "philosophy", "other",   "engineering", "computer science" };

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* the host is shared: CPU time */
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gen(struct buf *b, unsigned n) {
        buf_printf(b, "version: v0.3\nproviders:\n  defaults: {default_model: m0}\n  models:\n");
        for (unsigned i = 0; i < 4; i++)
                buf_printf(b, "    - name: m%u\n      backend_refs: [{endpoint: \"127.0.0.1:%u\"}]\n", i, 18000 + i);
        buf_printf(b, "routing:\n  signals:\n    domains:\n");
        for (unsigned i = 0; i < 14; i++)
                buf_printf(b, "      - {name: \"%s\"}\n", domains[i]);
        buf_printf(b, "    keywords:\n");
        for (unsigned i = 0; i < n; i++)
                buf_printf(
                        b,
                        "      - {name: kw%u, operator: %s, keywords: [\"alpha%u\", \"beta%u gamma\", \"delta%u\"]}\n",
                        i, i % 3 == 0 ? "AND" : "OR", i, i, i);
        buf_printf(b, "  decisions:\n");
        for (unsigned i = 0; i < n; i++)
                buf_printf(b,
                           "    - name: d%u\n      priority: %u\n      rules:\n        operator: AND\n"
                           "        conditions:\n          - {type: keyword, name: kw%u}\n"
                           "          - operator: NOT\n            conditions: [{type: domain, name: \"%s\"}]\n"
                           "      modelRefs: [{model: m%u, use_reasoning: %s}]\n",
                           i, n - i, i, domains[i % 14], i % 4, i % 2 ? "true" : "false");
}

static void prompt(struct buf *b, unsigned words, const char *tail) {
        static const char *const filler[] = { "please", "explain", "how", "the", "system", "works", "with", "care" };

        for (unsigned i = 0; i < words; i++)
                buf_printf(b, "%s%s", i ? " " : "", filler[i % 8]);
        buf_printf(b, " %s", tail);
}

static int run(unsigned n) {
        struct buf y = { 0 }, hit = { 0 }, miss = { 0 };
        struct sy_config *cfg;
        struct sy_dec_state *st;
        struct sy_dec_input in = { .jailbreak = -1, .category = "other" };
        char err[512], matched[256], tail[64];
        double t0, t_load, t_hit, t_miss;
        unsigned iters = 2000;
        int d = -1;

        gen(&y, n);
        t0 = now_s();
        if (sy_config_load_string("bench.yaml", y.p, y.len, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        t_load = now_s() - t0;
        if (sy_dec_state_new(cfg->v03, &st) < 0)
                return 1;
        /* a later decision's AND keywords: kw(n-3) when n-3 is a multiple of 3 */
        snprintf(tail, sizeof tail, "alpha%u beta%u gamma delta%u", (n - 3) / 3 * 3, (n - 3) / 3 * 3, (n - 3) / 3 * 3);
        prompt(&hit, 200, tail);
        prompt(&miss, 200, "nothing to see");
        in.text = hit.p;
        in.len = hit.len;
        t0 = now_s();
        for (unsigned i = 0; i < iters; i++)
                d = sy_decide(cfg->v03, st, &in, matched, sizeof matched);
        t_hit = (now_s() - t0) / iters;
        if (d < 0) {
                fprintf(stderr, "bench: the matching prompt matched nothing\n");
                return 1;
        }
        printf("  %6u decisions: load %8.2f ms; evaluate: match (%s, keywords %s) %8.2f us, no match %s", n,
               t_load * 1e3, cfg->v03->decisions[d].name, matched, t_hit * 1e6, "");
        in.text = miss.p;
        in.len = miss.len;
        /* no keyword of any signal: every decision is tried and fails */
        t0 = now_s();
        for (unsigned i = 0; i < iters; i++)
                d = sy_decide(cfg->v03, st, &in, matched, sizeof matched);
        t_miss = (now_s() - t0) / iters;
        printf("%8.2f us (%s)\n", t_miss * 1e6, d < 0 ? "none matched" : cfg->v03->decisions[d].name);
        sy_dec_state_free(st);
        sy_config_free(cfg);
        buf_free(&y);
        buf_free(&hit);
        buf_free(&miss);
        return 0;
}

int main(int argc, char **argv) {
        unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000;

        if (n < 6)
                n = 6;
        printf("v0.3 decisions (a 200-word prompt; baseline first):\n");
        if (run(6) || run(n))
                return 1;
        return 0;
}
