/* Checks shared by the C unit tests (header-only). A test is a program:
 * a failed check prints file, line and expression and ends it (exit 1);
 * exit 77 means skipped. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

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
