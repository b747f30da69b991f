/* bench/probes_bench.py's marker cost: what one USDT marker costs with and
 * without the stage probe attached. Poses as a frontend: records itself in
 * RUNTIME_DIR/switchyard.lock (the frontend's line, its role lock held) so
 * that `switchyard probes -r RUNTIME_DIR` attaches to it, and fires the
 * frontend's ten markers, as one request does, in a loop.
 *
 *   usdt_cost RUNTIME_DIR SECONDS    prints: ns per request of 10 markers, and
 *                                    ns per getppid() system call (the scale:
 *                                    a marker hit is a trap into the kernel)
 * It waits for a line on stdin between two measurements (without, with). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/usdt.h"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noinline)) one_request(uint64_t conn, uint64_t req) {
        SY_MARK(accepted, conn, 0);
        SY_MARK(request, conn, req);
        SY_MARK(parsed, conn, req);
        SY_MARK(enqueued, conn, req);
        SY_MARK(classified, conn, req);
        SY_MARK(picked, conn, req);
        SY_MARK(upstream_connected, conn, req);
        SY_MARK(upstream_first_byte, conn, req);
        SY_MARK(client_write, conn, req);
        SY_MARK(done, conn, req);
}

static double syscall_ns(void) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < 100000; i++)
                (void)getppid();
        return (double)(now_ns() - t0) / 100000.0;
}

static double measure(double seconds) {
        uint64_t t0 = now_ns(), n = 0, end = t0 + (uint64_t)(seconds * 1e9);
        while (now_ns() < end) {
                for (int i = 0; i < 1000; i++, n++)
                        one_request(1 + (n & 1023), n + 1);
        }
        return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv) {
        char path[4096], rec[33], line[64];
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1 };
        int fd;

        if (argc != 3)
                return 2;
        snprintf(path, sizeof path, "%s/switchyard.lock", argv[1]);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0)
                return 1;
        snprintf(rec, sizeof rec, "%-10s %-20d\n", "frontend", (int)getpid());
        if (pwrite(fd, rec, 32, 64) != 32)
                return 1;
        for (;;) {
                double m = measure(atof(argv[2]));
                printf("%.1f %.1f\n", m, syscall_ns());
                fflush(stdout);
                if (!fgets(line, sizeof line, stdin))
                        return 0;
        }
}
