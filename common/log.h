/* Level-checked logging to stderr with <N> priority prefixes (sd-daemon(3))
 * so journald keeps the level. Library code logs at debug only; the hot
 * path emits no log lines. */
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

enum { LOG_EMERG_ = 0, LOG_ERR_ = 3, LOG_WARN_ = 4, LOG_NOTICE_ = 5, LOG_INFO_ = 6, LOG_DEBUG_ = 7 };

extern int sy_log_level;         /* messages above this level are dropped */
extern const char *sy_log_ident; /* process name: "frontend", "router", ... */

void sy_log_init(const char *ident); /* reads SWITCHYARD_LOG_LEVEL (0-7 or name) */
void sy_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sy_log(lvl, ...)                                  \
        do {                                              \
                if ((lvl) <= sy_log_level)                \
                        sy_log_write((lvl), __VA_ARGS__); \
        } while (0)
#define log_err(...) sy_log(LOG_ERR_, __VA_ARGS__)
#define log_warn(...) sy_log(LOG_WARN_, __VA_ARGS__)
#define log_notice(...) sy_log(LOG_NOTICE_, __VA_ARGS__)
#define log_info(...) sy_log(LOG_INFO_, __VA_ARGS__)
#define log_debug(...) sy_log(LOG_DEBUG_, __VA_ARGS__)

/* For functions that explain a failure in err[0..errlen) (errlen 0: no
 * room): err_clear() first; err_oom() on the way out says "<what>out of
 * memory" when r is -ENOMEM and nothing more precise was said. */
static inline void err_clear(char *err, size_t errlen) {
        if (errlen)
                err[0] = 0;
}

static inline void err_oom(int r, char *err, size_t errlen, const char *what) {
        if (r == -ENOMEM && errlen && !err[0])
                snprintf(err, errlen, "%sout of memory", what);
}
