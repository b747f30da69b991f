/* Helpers shared by the tests/router unit tests (the checks: tests/check.h). */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"

/* A heap copy of exactly len bytes, so ASan catches any read past the end. */
static inline char *test_dup_exact(const char *p, size_t len) {
        char *d = malloc(len ? len : 1);
        if (!d) {
                perror("malloc");
                exit(1);
        }
        memcpy(d, p, len);
        return d;
}
