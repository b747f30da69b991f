/* The checks of the C tests (header-only), one family: check() / check_eq()
 * end the test at the first failure (exit 1); CHECK*() count failures and
 * go on, and the test ends with check_done(). A failure prints file, line
 * and expression. Exit 77 means skipped. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP 77

/* Every failed check says where and what: "file:line: <what>". */
#define check_report_(...)                                      \
        do {                                                    \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                   \
                fputc('\n', stderr);                            \
        } while (0)

/* ---- fatal: the first failed check ends the test (exit 1) ---- */

#define check(expr)                                               \
        do {                                                      \
                if (!(expr)) {                                    \
                        check_report_("check failed: %s", #expr); \
                        exit(1);                                  \
                }                                                 \
        } while (0)

/* check(a == b) that prints both values (negative errno codes included). */
#define check_eq(a, b)                                                                          \
        do {                                                                                    \
                long long a_ = (long long)(a), b_ = (long long)(b);                             \
                if (a_ != b_) {                                                                 \
                        check_report_("check failed: %s == %s (%lld != %lld)", #a, #b, a_, b_); \
                        exit(1);                                                                \
                }                                                                               \
        } while (0)

/* ---- counting: a failed CHECK* is counted and the test goes on; it ends
 * with return check_done("name") (exit status 1 if any failed) ---- */

static int check_failures __attribute__((unused));

#define check_count_(...)                   \
        do {                                \
                check_report_(__VA_ARGS__); \
                check_failures++;           \
        } while (0)

#define CHECK(cond)                                              \
        do {                                                     \
                if (!(cond))                                     \
                        check_count_("CHECK failed: %s", #cond); \
        } while (0)

#define CHECK_EQ(a, b)                                                                                    \
        do {                                                                                              \
                long long a_ = (long long)(a), b_ = (long long)(b);                                       \
                if (a_ != b_)                                                                             \
                        check_count_("CHECK_EQ failed: %s == %lld, expected %s == %lld", #a, a_, #b, b_); \
        } while (0)

#define CHECK_U64(a, b)                                                                              \
        do {                                                                                         \
                unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);       \
                if (a_ != b_)                                                                        \
                        check_count_("CHECK_U64 failed: %s == 0x%llx, expected 0x%llx", #a, a_, b_); \
        } while (0)

/* equal to 1e-12 */
#define CHECK_DBL(a, b)                                                                            \
        do {                                                                                       \
                double a_ = (a), b_ = (b);                                                         \
                if (!(a_ == b_ || (a_ - b_ < 1e-12 && b_ - a_ < 1e-12)))                           \
                        check_count_("CHECK_DBL failed: %s == %.17g, expected %.17g", #a, a_, b_); \
        } while (0)

/* CHECK_MEM(ptr, len, "literal") */
#define CHECK_MEM(p, n, lit)                                                                          \
        do {                                                                                          \
                size_t n_ = (n);                                                                      \
                if (n_ != strlen(lit) || memcmp((p), (lit), n_) != 0)                                 \
                        check_count_("CHECK_MEM failed: %s = \"%.*s\", expected \"%s\"", #p, (int)n_, \
                                     (const char *)(p), lit);                                         \
        } while (0)

#define CHECK_STR(a, b)                                                                                        \
        do {                                                                                                   \
                const char *a_ = (a), *b_ = (b);                                                               \
                if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                         \
                        check_count_("CHECK_STR failed: %s = \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", \
                                     b_ ? b_ : "(null)");                                                      \
        } while (0)

/* "name: ok" and 0, or how many CHECKs failed and 1. */
static inline int check_done(const char *name) {
        if (check_failures) {
                fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
                return 1;
        }
        printf("%s: ok\n", name);
        return 0;
}

/* A test program made of named groups (one meson test each): main() runs
 * the group argv[1] names and prints "<prefix><group>: ok".
 *   static const struct check_group groups[] = { { "basic", test_basic }, ... };
 *   return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "picker "); */
struct check_group {
        const char *name;
        void (*fn)(void);
};

static inline int check_run_group(int argc, char **argv, const struct check_group *groups, size_t n,
                                  const char *prefix) {
        if (argc != 2) {
                fprintf(stderr, "usage: %s GROUP\n", argv[0]);
                return 2;
        }
        for (size_t i = 0; i < n; i++)
                if (strcmp(argv[1], groups[i].name) == 0) {
                        groups[i].fn();
                        printf("%s%s: ok\n", prefix, argv[1]);
                        return 0;
                }
        fprintf(stderr, "unknown group %s\n", argv[1]);
        return 2;
}
