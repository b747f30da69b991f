/* Fuzz inputs as files, for loaders that take a path: an anonymous
 * memory file (memfd), named /proc/self/fd/N. */
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

/* Returns the fd (close it after) and its path in path[cap]. */
static inline int fuzz_file(const uint8_t *data, size_t size, char *path, size_t cap) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        size_t off = 0;

        FUZZ_CHECK(fd >= 0);
        while (off < size) {
                ssize_t n = write(fd, data + off, size - off);
                FUZZ_CHECK(n > 0);
                off += (size_t)n;
        }
        snprintf(path, cap, "/proc/self/fd/%d", fd);
        return fd;
}
