/* Service manager notifications (sd_notify(3)): readiness, watchdog
 * keep-alives, stopping. No-ops when not started by systemd or when built
 * without libsystemd. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

void sy_notify_ready(const char *status);
void sy_notify_stopping(void);
void sy_notify_status(const char *status);
/* Sends WATCHDOG=1 when the watchdog is on and half its interval passed. */
void sy_notify_watchdog(uint64_t now_ns);
/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (threads it
 * starts later inherit the mask) and returns a signalfd for them (flags:
 * SFD_*), or -1. */
int sy_signalfd_open(int flags);
/* Reads the signals queued on signalfd sig_fd: on_hup(arg) for each SIGHUP;
 * at any other, "<who> stopping" logged and notified, and true (the rest
 * are left queued). */
bool sy_signals_drain(int sig_fd, const char *who, void (*on_hup)(void *arg), void *arg);
