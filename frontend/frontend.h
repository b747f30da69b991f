#pragma once
/* The frontend process: HTTP on io_uring workers. Returns the exit code. */
int frontend_main(const char *config_path);
