/* Where the processes meet: the shared segment and the doorbells live in
 * the runtime directory (config shm.runtime_dir), with the lock file that
 * keeps it to one instance (common/lockfile.h): every process takes it
 * before it touches anything else there. */
#pragma once
#include <stdio.h>

#include "common/config.h"
#include "common/lockfile.h"
#include "shm/segment.h"

#define SY_SNAP_BYTES (128u * 1024u)

/* dir/fmt with idx (fmt: one of the names below); -1 when it does not fit. */
__attribute__((format(printf, 4, 0))) static inline int sy_runtime_dir_path(const char *dir, char *buf, size_t cap,
                                                                            const char *fmt, unsigned idx) {
        int n = snprintf(buf, cap, "%s/", dir);
        if (n < 0 || (size_t)n >= cap)
                return -1;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        n += snprintf(buf + n, cap - n, fmt, idx);
#pragma GCC diagnostic pop
        return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

__attribute__((format(printf, 4, 0))) static inline int sy_runtime_path(const struct sy_config *cfg, char *buf,
                                                                        size_t cap, const char *fmt, unsigned idx) {
        return sy_runtime_dir_path(cfg->shm.runtime_dir, buf, cap, fmt, idx);
}

static inline struct shm_layout sy_runtime_layout(const struct sy_config *cfg) {
        return (struct shm_layout){
                .max_workers = cfg->shm.max_workers,
                .ring_bytes = cfg->shm.ring_bytes,
                .snap_bytes = SY_SNAP_BYTES,
        };
}

#define SY_LOCK_FILE LOCKFILE_NAME
#define SY_SEGMENT_FILE "switchyard.shm"
#define SY_ROUTER_BELL "router.bell"
#define SY_CLASSIFIER_BELL "classifier.bell"
#define SY_WORKER_BELL "worker-%u.bell"
