/* Allocation-failure injection for common/config.c: the Nth allocation
 * made by the loader fails, for every N until a load succeeds. Each
 * failed load must return -ENOMEM (or -EINVAL where libyaml reports its own
 * failure differently), leave *ret_cfg untouched and leak nothing (run
 * under ASan/LSan or valgrind). The allocator is wrapped at link time
 * (-Wl,--wrap=...), which reaches the static libsycommon but not libyaml.
 *
 *   test_config_oom EXAMPLE_YAML CLASSIC_YAML */
#include "common/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long countdown = -1; /* fail when it reaches 0; -1: never */
static long calls;

static bool fail_now(void) {
        calls++;
        if (countdown < 0)
                return false;
        return countdown-- == 0;
}

void *__wrap_malloc(size_t n) {
        return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m) {
        return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n) {
        return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
        return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n) {
        return fail_now() ? NULL : __real_strndup(s, n);
}

static int run(const char *path) {
        int failures = 0;
        long n;

        for (n = 0;; n++) {
                struct sy_config *cfg = (struct sy_config *)1;
                char err[512] = "";
                int r;

                countdown = n;
                calls = 0;
                r = sy_config_load(path, &cfg, err, sizeof err);
                countdown = -1;
                if (r == 0) {
                        sy_config_free(cfg);
                        break;
                }
                if (r != -ENOMEM || cfg != (struct sy_config *)1 || !strstr(err, "out of memory")) {
                        fprintf(stderr, "%s: allocation %ld failing: rc %d, error \"%s\"\n", path, n, r, err);
                        failures++;
                }
                if (n > 100000) {
                        fprintf(stderr, "%s: never succeeded\n", path);
                        return failures + 1;
                }
        }
        printf("%s: %ld allocation failure points\n", path, n);
        return failures;
}

int main(int argc, char **argv) {
        int failures = 0;

        if (argc < 3) {
                fprintf(stderr, "usage: %s EXAMPLE_YAML CLASSIC_YAML\n", argv[0]);
                return 2;
        }
        setenv(SY_ALLOW_UNSUPPORTED_ENV, "1", 1); /* the classic file has vSR keys switchyard does not use */
        for (int i = 1; i < argc; i++)
                failures += run(argv[i]);
        return failures ? 1 : 0;
}
