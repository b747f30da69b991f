/* Small helpers shared by the shm tests (header-only, everything static). */
#pragma once
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/check.h"

/* xorshift64*: deterministic, fast, good enough for sizes and payloads. */
static inline uint64_t test_rand(uint64_t *state) {
        uint64_t x = *state;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        return x * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t test_mix(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static inline uint32_t test_fnv1a(const void *p, size_t n) {
        const unsigned char *b = p;
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 16777619u;
        }
        return h;
}

/* Fills n bytes with a pattern derived from seed. */
static inline void test_fill(void *p, size_t n, uint64_t seed) {
        unsigned char *b = p;
        uint64_t s = test_mix(seed) | 1;
        size_t i = 0;

        while (i < n) {
                uint64_t w = test_rand(&s);
                size_t k = n - i < 8 ? n - i : 8;

                memcpy(b + i, &w, k);
                i += k;
        }
}

/* A fresh private directory for segment files and FIFOs; /dev/shm if it is
 * there (tmpfs, like production), else TMPDIR or /tmp. It is removed, with
 * everything in it, when the process that made it exits (children leave
 * with _exit() and do not run it). */
static char test_dir_path[256];
static pid_t test_dir_owner;

static inline void test_tmpdir_cleanup(void) {
        char path[600];
        struct dirent *de;
        DIR *d;

        if (!test_dir_path[0] || getpid() != test_dir_owner)
                return;
        d = opendir(test_dir_path);
        if (d) {
                while ((de = readdir(d))) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", test_dir_path, de->d_name);
                        unlink(path);
                }
                closedir(d);
        }
        rmdir(test_dir_path);
        test_dir_path[0] = 0;
}

static inline void test_tmpdir(char *buf, size_t cap) {
        const char *base = getenv("TMPDIR");
        struct stat st;

        if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
                base = "/dev/shm";
        if (!base || !*base)
                base = "/tmp";
        snprintf(buf, cap, "%s/switchyard-shm-test-XXXXXX", base);
        if (!mkdtemp(buf)) {
                fprintf(stderr, "mkdtemp %s: %s\n", buf, strerror(errno));
                exit(1);
        }
        snprintf(test_dir_path, sizeof(test_dir_path), "%s", buf);
        test_dir_owner = getpid();
        atexit(test_tmpdir_cleanup);
}

static inline int fcntl_nonblock(int fd) {
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}
