/* Tiny assertion helpers shared by the tests/http unit tests. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int test_failures;

#define CHECK(cond)                                                               \
        do {                                                                      \
                if (!(cond)) {                                                    \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,    \
                                __LINE__, #cond);                                 \
                        test_failures++;                                          \
                }                                                                 \
        } while (0)

#define CHECK_EQ(a, b)                                                            \
        do {                                                                      \
                long long _a = (long long) (a), _b = (long long) (b);             \
                if (_a != _b) {                                                   \
                        fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, "    \
                                "expected %s == %lld\n", __FILE__, __LINE__, #a,  \
                                _a, #b, _b);                                      \
                        test_failures++;                                          \
                }                                                                 \
        } while (0)

/* CHECK_MEM(ptr, len, "literal") */
#define CHECK_MEM(p, n, lit)                                                      \
        do {                                                                      \
                size_t _n = (n);                                                  \
                if (_n != strlen(lit) || memcmp((p), (lit), _n) != 0) {           \
                        fprintf(stderr, "%s:%d: CHECK_MEM failed: %s = \"%.*s\", " \
                                "expected \"%s\"\n", __FILE__, __LINE__, #p,      \
                                (int) _n, (const char *) (p), lit);               \
                        test_failures++;                                          \
                }                                                                 \
        } while (0)

static inline int test_done(const char *name) {
        if (test_failures) {
                fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
                return 1;
        }
        printf("%s: ok\n", name);
        return 0;
}

/* A buffer whose last byte sits right before an unmapped page, so that
 * any read past len faults even without AddressSanitizer. */
struct guard_buf {
        char *map;
        size_t map_len;
};

static inline char *guard_copy(struct guard_buf *g, const void *src, size_t len) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        size_t data_pages = (len + page - 1) / page;

        if (data_pages == 0)
                data_pages = 1;
        g->map_len = (data_pages + 1) * page;
        g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (g->map == MAP_FAILED) {
                perror("mmap");
                abort();
        }
        if (mprotect(g->map + data_pages * page, page, PROT_NONE) < 0) {
                perror("mprotect");
                abort();
        }
        char *p = g->map + data_pages * page - len;
        memcpy(p, src, len);
        return p;
}

static inline void guard_free(struct guard_buf *g) {
        munmap(g->map, g->map_len);
}
