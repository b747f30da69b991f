#pragma once
/* The router process: owns upstreams (health, load, picking) and publishes
 * the snapshot. Returns the process exit code. */
int router_main(const char *config_path);
