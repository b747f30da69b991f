#include "common/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sy_log_level = LOG_INFO_;
const char *sy_log_ident = "switchyard";

void sy_log_init(const char *ident) {
        static const char *names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        const char *e = getenv("SWITCHYARD_LOG_LEVEL");

        if (ident)
                sy_log_ident = ident;
        if (!e || !*e)
                return;
        if (e[0] >= '0' && e[0] <= '7' && e[1] == 0) {
                sy_log_level = e[0] - '0';
                return;
        }
        for (int i = 0; i < 8; i++)
                if (strcasecmp(e, names[i]) == 0)
                        sy_log_level = i;
}

void sy_log_write(int level, const char *fmt, ...) {
        char buf[1024];
        /* under journald the unit already names the process */
        static int journal = -1;
        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;
        int n = journal ? snprintf(buf, sizeof buf, "<%d>%s: ", level, sy_log_ident)
                        : snprintf(buf, sizeof buf, "<%d>%s[%d]: ", level, sy_log_ident, (int)getpid());
        va_list ap;

        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof buf)
                n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof buf - 1)
                n = sizeof buf - 2;
        buf[n++] = '\n';
        /* one write(2) so lines from several processes do not interleave */
        (void)!write(STDERR_FILENO, buf, n);
}
