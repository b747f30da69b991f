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
