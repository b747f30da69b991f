/* Tiny assertion helpers shared by the tests/router unit tests. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                                    \
        do {                                                                           \
                if (!(cond)) {                                                         \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                                #cond);                                                \
                        test_failures++;                                               \
                }                                                                      \
        } while (0)

#define CHECK_EQ(a, b)                                                                 \
        do {                                                                           \
                long long _a = (long long) (a), _b = (long long) (b);                  \
                if (_a != _b) {                                                        \
                        fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", \
                                __FILE__, __LINE__, #a, _a, #b, _b);                   \
                        test_failures++;                                               \
                }                                                                      \
        } while (0)

#define CHECK_U64(a, b)                                                                \
        do {                                                                           \
                unsigned long long _a = (unsigned long long) (a), _b = (unsigned long long) (b); \
                if (_a != _b) {                                                        \
                        fprintf(stderr, "%s:%d: CHECK_U64 failed: %s == 0x%llx, expected 0x%llx\n", \
                                __FILE__, __LINE__, #a, _a, _b);                       \
                        test_failures++;                                               \
                }                                                                      \
        } while (0)

#define CHECK_DBL(a, b)                                                                \
        do {                                                                           \
                double _a = (a), _b = (b);                                             \
                if (!(_a == _b || (_a - _b < 1e-12 && _b - _a < 1e-12))) {              \
                        fprintf(stderr, "%s:%d: CHECK_DBL failed: %s == %.17g, expected %.17g\n", \
                                __FILE__, __LINE__, #a, _a, _b);                       \
                        test_failures++;                                               \
                }                                                                      \
        } while (0)

/* A heap copy of exactly len bytes, so ASan catches any read past the end. */
static inline char *test_dup_exact(const char *p, size_t len)
{
        char *d = malloc(len ? len : 1);
        if (!d) {
                perror("malloc");
                exit(1);
        }
        memcpy(d, p, len);
        return d;
}

static inline int test_result(const char *name)
{
        if (test_failures) {
                fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
                return 1;
        }
        printf("%s: ok\n", name);
        return 0;
}
