#include "common/notify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

static uint64_t watchdog_us, last_ping_ns;
static int watchdog_checked;

void sy_notify_ready(const char *status) {
        char buf[256];
        snprintf(buf, sizeof buf, "READY=1\nSTATUS=%s", status ? status : "ready");
        sd_notify(0, buf);
}

void sy_notify_stopping(void) {
        sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

void sy_notify_status(const char *status) {
        char buf[256];
        snprintf(buf, sizeof buf, "STATUS=%s", status);
        sd_notify(0, buf);
}

void sy_notify_watchdog(uint64_t now_ns) {
        if (!watchdog_checked) {
                uint64_t us = 0;
                watchdog_checked = 1;
                if (sd_watchdog_enabled(0, &us) > 0)
                        watchdog_us = us;
        }
        if (!watchdog_us || now_ns - last_ping_ns < watchdog_us * 1000 / 2)
                return;
        last_ping_ns = now_ns;
        sd_notify(0, "WATCHDOG=1");
}
#else
void sy_notify_ready(const char *status) {
        (void)status;
}
void sy_notify_stopping(void) {
}
void sy_notify_status(const char *status) {
        (void)status;
}
void sy_notify_watchdog(uint64_t now_ns) {
        (void)now_ns;
}
#endif

bool sy_signals_drain(int sig_fd, const char *who, void (*on_hup)(void *arg), void *arg) {
        struct signalfd_siginfo si;

        while (read(sig_fd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGHUP) {
                        on_hup(arg);
                } else {
                        log_notice("%s stopping", who);
                        sy_notify_stopping();
                        return true;
                }
        }
        return false;
}

int sy_signalfd_open(int flags) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        return signalfd(-1, &mask, flags);
}
