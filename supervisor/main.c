/* switchyard: one binary, one subcommand per process role. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/config_v03.h"
#include "common/log.h"
#include "proto/runtime.h"
#include "shm/segment.h"
#include <stdatomic.h>
#include "classifier/daemon.h"
#include "frontend/frontend.h"
#include "router/router.h"
#include "supervisor/check.h"
#include "supervisor/convert.h"
#include "supervisor/rolelock.h"
#include "supervisor/supervisor.h"

static int usage(FILE *f) {
        fprintf(f, "usage: switchyard COMMAND -c CONFIG [--allow-unsupported]\n"
                   "       switchyard check|convert CONFIG [--allow-unsupported]\n"
                   "\n"
                   "commands:\n"
                   "  run         start the frontend, the router and (when the configuration uses it) the\n"
                   "              classifier, restart them if they die (no systemd)\n"
                   "  frontend    the HTTP frontend process (a systemd unit runs this)\n"
                   "  router      the router process (a systemd unit runs this)\n"
                   "  classifier  the classifier process (model \"auto\": category, jailbreak, PII)\n"
                   "  check       validate CONFIG and print what it defines: listener, models and backends,\n"
                   "              decisions in priority order (v0.3), guards, limits\n"
                   "  convert     print CONFIG in the other form (classic <-> vLLM Semantic Router v0.3)\n"
                   "              where both can say it; what one cannot say is named, nothing written\n"
                   "  probe ROLE  exit 0 if ROLE (router, frontend, classifier) is alive in CONFIG's runtime\n"
                   "              directory (a liveness probe for Kubernetes / monitoring)\n"
                   "  probes -r RUNTIME_DIR [--listen HOST:PORT] [--watch] [--trace N]\n"
                   "              attach the eBPF latency probes to the instance of RUNTIME_DIR and serve\n"
                   "              their histograms (switchyard-probes; docs/probes.md)\n"
                   "  version     print the version\n"
                   "\n"
                   "CONFIG keys that switchyard would not use are refused at load (file:line:col); with\n"
                   "--allow-unsupported (or SWITCHYARD_ALLOW_UNSUPPORTED=1) each is a warning instead.\n"
                   "Guard and limit keys that would not be enforced are refused either way.\n");
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
        printf("%s: ok%s: listen %s:%u, %zu upstreams, %zu models, %zu categories", path,
               cfg->v03 ? " (vLLM Semantic Router v0.3)" : "", cfg->server.host, cfg->server.port, cfg->n_upstreams,
               cfg->n_models, cfg->n_categories);
        if (cfg->v03)
                printf(", %zu decisions", cfg->v03->n_decisions);
        printf("\n");
        if (cfg->classifier.enabled) {
                const char *m = cfg->classifier.model ? cfg->classifier.model : classifier_default_model();

                printf("  classifier: model %s%s%s%s%s%s%s, backend %s, %u threads, batch %u, wait %u us\n",
                       m ? m : "(none: the default model is not installed)",
                       cfg->classifier.category.model_id ? ", category " : "",
                       cfg->classifier.category.model_id ? cfg->classifier.category.model_id : "",
                       cfg->classifier.pii.model_id ? ", pii " : "",
                       cfg->classifier.pii.model_id ? cfg->classifier.pii.model_id : "",
                       cfg->classifier.jailbreak.model_id ? ", jailbreak " : "",
                       cfg->classifier.jailbreak.model_id ? cfg->classifier.jailbreak.model_id : "",
                       cfg->classifier.backend, cfg->classifier.threads, cfg->classifier.max_batch,
                       cfg->classifier.max_batch_wait_us);
        }
        for (size_t i = 0; i < cfg->n_upstreams; i++) {
                const struct sy_upstream_cfg *u = &cfg->upstreams[i];

                printf("  upstream %s %s://%s:%u engine=%s models=%zu", u->name, u->tls ? "https" : "http", u->host,
                       u->port, u->engine, u->n_models);
                if (u->tls)
                        printf(" tls(sni=%s, ca=%s)", u->sni ? u->sni : "none", u->ca_file ? u->ca_file : "system");
                if (u->api_key_env) /* the variable's name, never its value */
                        printf(" key=$%s in %s", u->api_key_env, u->auth_header);
                printf("\n");
        }
        check_print(stdout, cfg);
        sy_config_free(cfg);
        return 0;
}

/* Liveness from the shared segment: pid alive and heartbeat fresh. */
static int probe(const char *path, const char *role) {
        struct sy_config *cfg;
        struct shm_seg *seg;
        struct shm_layout layout;
        char err[512], seg_path[512];
        bool alive = false;
        int r;

        if (sy_config_load(path, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 2;
        }
        layout = sy_runtime_layout(cfg);
        if (sy_runtime_path(cfg, seg_path, sizeof seg_path, SY_SEGMENT_FILE, 0) < 0 || access(seg_path, F_OK) < 0) {
                fprintf(stderr, "probe: no segment at %s\n", seg_path);
                sy_config_free(cfg);
                return 1;
        }
        r = shm_seg_open(seg_path, &layout, &seg);
        if (r < 0) {
                fprintf(stderr, "probe: %s: %s\n", seg_path, strerror(-r));
                sy_config_free(cfg);
                return 1;
        }
        if (!strcmp(role, "router")) {
                alive = shm_peer_alive(shm_seg_peer(seg, SHM_PEER_ROUTER), 2000ULL * 1000000ULL);
        } else if (!strcmp(role, "classifier")) {
                alive = shm_peer_alive(shm_seg_peer(seg, SHM_PEER_CLASSIFIER), 2000ULL * 1000000ULL);
        } else if (!strcmp(role, "frontend")) {
                alive = layout.max_workers > 0;
                for (uint32_t w = 0; w < layout.max_workers && alive; w++) {
                        struct shm_peer *p = shm_seg_worker(seg, w);
                        if (atomic_load(&p->pid) != 0 && !shm_peer_alive(p, 2000ULL * 1000000ULL))
                                alive = false;
                }
                alive = alive && atomic_load(&shm_seg_worker(seg, 0)->pid) != 0;
        } else {
                fprintf(stderr, "probe: unknown role '%s' (router, frontend, classifier)\n", role);
                shm_seg_close(seg);
                sy_config_free(cfg);
                return 2;
        }
        printf("%s: %s\n", role, alive ? "alive" : "not alive");
        shm_seg_close(seg);
        sy_config_free(cfg);
        return alive ? 0 : 1;
}

/* Runs the executable name next to this one with args; returns only on failure. */
static int exec_sibling(const char *name, char **args) {
        char exe[4096];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 64);
        char *slash;

        if (len <= 0 || !(slash = memrchr(exe, '/', (size_t)len))) {
                fprintf(stderr, "switchyard: cannot find my own executable\n");
                return 1;
        }
        strcpy(slash + 1, name);
        execv(exe, args);
        if (errno == ENOENT && !strcmp(name, "switchyard-probes"))
                fprintf(stderr, "switchyard: this switchyard was built without the eBPF probes (meson -Dbpf; "
                                "docs/probes.md)\n");
        else
                fprintf(stderr, "switchyard: cannot run %s: %s\n", exe, strerror(errno));
        return 1;
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
        if (!strcmp(cmd, "probes")) {
                /* the eBPF probes: their own binary (libbpf), built with -Dbpf */
                argv[1] = "switchyard-probes";
                return exec_sibling("switchyard-probes", argv + 1);
        }
        const char *role = NULL, *file_arg = NULL;
        for (int i = 2; i < argc; i++) {
                if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
                        config = argv[++i];
                else if (!strcmp(argv[i], "--allow-unsupported"))
                        /* read by the config loader here and in the processes started */
                        setenv(SY_ALLOW_UNSUPPORTED_ENV, "1", 1);
                else if (!strcmp(cmd, "probe") && !role && argv[i][0] != '-')
                        role = argv[i];
                else if ((!strcmp(cmd, "check") || !strcmp(cmd, "convert")) && !file_arg && argv[i][0] != '-')
                        config = file_arg = argv[i]; /* `switchyard check FILE` */
                else {
                        fprintf(stderr, "switchyard: unexpected argument '%s'\n", argv[i]);
                        return usage(stderr);
                }
        }
        if (!config) {
                fprintf(stderr, "switchyard: no configuration: use -c FILE or set SWITCHYARD_CONFIG\n");
                return 2;
        }
        /* one instance per runtime directory: the role lock before the
         * segment, the doorbells or the port (common/lockfile.h) */
        if (!strcmp(cmd, "frontend"))
                return rolelock_take(config, LOCKFILE_FRONTEND, "frontend") < 0 ? 1 : frontend_main(config);
        if (!strcmp(cmd, "router"))
                return rolelock_take(config, LOCKFILE_ROUTER, "router") < 0 ? 1 : router_main(config);
        if (!strcmp(cmd, "classifier")) {
                /* its own binary next to this one (see classifier_main.c),
                 * which takes the classifier's lock */
                char *args[] = { "switchyard-classifier", "classifier", "-c", (char *)config, NULL };
                return exec_sibling("switchyard-classifier", args);
        }
        if (!strcmp(cmd, "check"))
                return check(config);
        if (!strcmp(cmd, "convert"))
                return convert_main(config);
        if (!strcmp(cmd, "probe"))
                return probe(config, role ? role : "router");
        if (!strcmp(cmd, "run")) {
                n = readlink("/proc/self/exe", self, sizeof self - 1);
                if (n <= 0)
                        return 1;
                self[n] = 0;
                return supervisor_main(self, config);
        }
        return usage(stderr);
}
