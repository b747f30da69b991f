/* Helpers shared by the tests/http unit tests (the checks: tests/check.h). */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/check.h"

/* A buffer whose last byte sits right before an unmapped page, so that
 * any read past len faults even without AddressSanitizer. */
struct guard_buf {
        char *map;
        size_t map_len;
};

static inline char *guard_copy(struct guard_buf *g, const void *src, size_t len) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
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
