#pragma once
/* `switchyard run`: starts the frontend, the router and (when configured)
 * the classifier as child processes, restarts a crashed one with backoff,
 * forwards SIGHUP after validating the configuration, and drains on
 * SIGTERM. Returns the exit code. */
int supervisor_main(const char *self_exe, const char *config_path);
