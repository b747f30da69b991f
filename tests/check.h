/* Checks shared by the C unit tests (header-only). A test is a program:
 * a failed check prints file, line and expression and ends it (exit 1);
 * exit 77 means skipped. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP 77

#define check(expr)                                                                        \
        do {                                                                               \
                if (!(expr)) {                                                             \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        exit(1);                                                           \
                }                                                                          \
        } while (0)

/* check(a == b) that prints both values (negative errno codes included). */
#define check_eq(a, b)                                                                     \
        do {                                                                               \
                long long a_ = (long long)(a), b_ = (long long)(b);                        \
                if (a_ != b_) {                                                            \
                        fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", \
                                __FILE__, __LINE__, #a, #b, a_, b_);                       \
                        exit(1);                                                           \
                }                                                                          \
        } while (0)

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
