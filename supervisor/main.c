/* switchyard: one binary, one subcommand per process role. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "frontend/frontend.h"
#include "router/router.h"
#include "supervisor/supervisor.h"

static int usage(FILE *f) {
        fprintf(f,
                "usage: switchyard COMMAND -c CONFIG\n"
                "\n"
                "commands:\n"
                "  run         start the frontend and the router, restart them if they die (no systemd)\n"
                "  frontend    the HTTP frontend process (a systemd unit runs this)\n"
                "  router      the router process (a systemd unit runs this)\n"
                "  check       validate CONFIG and print what it defines\n"
                "  version     print the version\n");
        return f == stdout ? 0 : 2;
}

static int check(const char *path) {
        struct sy_config *cfg;
        char err[512];

        if (sy_config_load(path, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        for (size_t i = 0; i < cfg->n_warnings; i++)
                fprintf(stderr, "warning: %s\n", cfg->warnings[i]);
        printf("%s: ok: listen %s:%u, %zu upstreams, %zu models, %zu categories\n", path, cfg->server.host,
               cfg->server.port, cfg->n_upstreams, cfg->n_models, cfg->n_categories);
        for (size_t i = 0; i < cfg->n_upstreams; i++)
                printf("  upstream %s http://%s:%u engine=%s models=%zu\n", cfg->upstreams[i].name,
                       cfg->upstreams[i].host, cfg->upstreams[i].port, cfg->upstreams[i].engine,
                       cfg->upstreams[i].n_models);
        sy_config_free(cfg);
        return 0;
}

int main(int argc, char **argv) {
        const char *cmd, *config = getenv("SWITCHYARD_CONFIG");
        char self[4096];
        ssize_t n;

        if (argc < 2)
                return usage(stderr);
        cmd = argv[1];
        if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
                return usage(stdout);
        if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
                printf("switchyard %s\n", SWITCHYARD_VERSION);
                return 0;
        }
        for (int i = 2; i < argc; i++) {
                if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
                        config = argv[++i];
                else {
                        fprintf(stderr, "switchyard: unexpected argument '%s'\n", argv[i]);
                        return usage(stderr);
                }
        }
        if (!config) {
                fprintf(stderr, "switchyard: no configuration: use -c FILE or set SWITCHYARD_CONFIG\n");
                return 2;
        }
        if (!strcmp(cmd, "frontend"))
                return frontend_main(config);
        if (!strcmp(cmd, "router"))
                return router_main(config);
        if (!strcmp(cmd, "check"))
                return check(config);
        if (!strcmp(cmd, "run")) {
                n = readlink("/proc/self/exe", self, sizeof self - 1);
                if (n <= 0)
                        return 1;
                self[n] = 0;
                return supervisor_main(self, config);
        }
        return usage(stderr);
}
