/* `switchyard run`: the supervisor of the frontend, the router and the
 * classifier (when the configuration enables it: a classifier: section,
 * prompt_guard, or categories; see common/config.h). */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "shm/segment.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define STABLE_MS 10000 /* a child that ran this long resets its backoff */

struct child {
        const char *role;
        bool disabled;           /* not wanted by the configuration: not started nor restarted */
        pid_t pid;
        uint64_t started_ns;
        uint64_t restart_at_ns;
        unsigned backoff_ms;
        unsigned restarts;
};

static pid_t spawn(const char *self, const char *role, const char *config, const sigset_t *oldmask) {
        pid_t pid = fork();

        if (pid == 0) {
                sigprocmask(SIG_SETMASK, oldmask, NULL);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                /* the binary links OpenBLAS (for the classifier): one thread,
                 * not a pool per core, in the processes that never use it */
                if (strcmp(role, "classifier") != 0)
                        setenv("OPENBLAS_NUM_THREADS", "1", 1);
                execl(self, self, role, "-c", config, (char *)NULL);
                _exit(127);
        }
        return pid;
}

int supervisor_main(const char *self, const char *config_path) {
        struct child kids[] = { { .role = "router" }, { .role = "frontend" }, { .role = "classifier" } };
        const size_t nk = sizeof kids / sizeof kids[0];
        sigset_t mask, old;
        char err[512];
        struct sy_config *cfg;
        bool stopping = false;
        uint64_t stop_deadline = 0;
        int sfd, r;

        sy_log_init("switchyard");
        r = sy_config_load(config_path, &cfg, err, sizeof err);
        if (r < 0) {
                log_err("%s", err);
                return 1;
        }
        for (size_t i = 0; i < cfg->n_warnings; i++)
                log_warn("%s", cfg->warnings[i]);
        if (mkdir(cfg->shm.runtime_dir, 0750) < 0 && errno != EEXIST) {
                log_err("cannot create runtime directory %s: %s", cfg->shm.runtime_dir, strerror(errno));
                sy_config_free(cfg);
                return 1;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, &old);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);

        kids[2].disabled = !cfg->classifier.enabled;
        for (size_t i = 0; i < nk; i++) {
                if (kids[i].disabled)
                        continue;
                kids[i].pid = spawn(self, kids[i].role, config_path, &old);
                kids[i].started_ns = shm_now_ns();
                kids[i].backoff_ms = BACKOFF_MIN_MS;
                log_info("started %s (pid %d)", kids[i].role, (int)kids[i].pid);
        }

        for (;;) {
                struct pollfd pfd = { .fd = sfd, .events = POLLIN };
                uint64_t now = shm_now_ns();
                int timeout = 1000;
                bool any = false;

                for (size_t i = 0; i < nk; i++) {
                        if (kids[i].pid > 0)
                                any = true;
                        else if (!stopping && kids[i].restart_at_ns && !kids[i].disabled) {
                                if (now >= kids[i].restart_at_ns) {
                                        kids[i].pid = spawn(self, kids[i].role, config_path, &old);
                                        kids[i].started_ns = now;
                                        kids[i].restart_at_ns = 0;
                                        kids[i].restarts++;
                                        log_notice("restarted %s (pid %d, restart %u)", kids[i].role,
                                                   (int)kids[i].pid, kids[i].restarts);
                                        any = true;
                                } else {
                                        int ms = (int)((kids[i].restart_at_ns - now) / 1000000ULL) + 1;
                                        if (ms < timeout)
                                                timeout = ms;
                                }
                        }
                }
                if (stopping && !any)
                        break;
                if (stopping && now >= stop_deadline) {
                        for (size_t i = 0; i < nk; i++)
                                if (kids[i].pid > 0)
                                        kill(kids[i].pid, SIGKILL);
                }
                if (poll(&pfd, 1, timeout) <= 0)
                        continue;
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof si) != sizeof si)
                        continue;
                if (si.ssi_signo == SIGCHLD) {
                        pid_t pid;
                        int st;
                        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
                                for (size_t i = 0; i < nk; i++) {
                                        if (kids[i].pid != pid)
                                                continue;
                                        kids[i].pid = 0;
                                        if (stopping)
                                                break;
                                        if (WIFSIGNALED(st))
                                                log_warn("%s (pid %d) died of signal %d", kids[i].role, (int)pid, WTERMSIG(st));
                                        else
                                                log_warn("%s (pid %d) exited with status %d", kids[i].role, (int)pid, WEXITSTATUS(st));
                                        now = shm_now_ns();
                                        if (now - kids[i].started_ns > STABLE_MS * 1000000ULL)
                                                kids[i].backoff_ms = BACKOFF_MIN_MS;
                                        kids[i].restart_at_ns = now + (uint64_t)kids[i].backoff_ms * 1000000ULL;
                                        kids[i].backoff_ms = kids[i].backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : kids[i].backoff_ms * 2;
                                }
                        }
                } else if (si.ssi_signo == SIGHUP) {
                        struct sy_config *nc;
                        r = sy_config_load(config_path, &nc, err, sizeof err);
                        if (r < 0) {
                                log_err("reload refused, keeping the running configuration: %s", err);
                                continue;
                        }
                        log_notice("configuration valid; reloading");
                        for (size_t i = 0; i < nk; i++)
                                if (kids[i].pid > 0)
                                        kill(kids[i].pid, SIGHUP);
                        /* the classifier comes or goes with the configuration */
                        if (nc->classifier.enabled && kids[2].disabled) {
                                kids[2].disabled = false;
                                kids[2].restart_at_ns = shm_now_ns();
                                kids[2].backoff_ms = BACKOFF_MIN_MS;
                        } else if (!nc->classifier.enabled && !kids[2].disabled) {
                                kids[2].disabled = true;
                                kids[2].restart_at_ns = 0;
                                if (kids[2].pid > 0)
                                        kill(kids[2].pid, SIGTERM);
                                log_notice("the classifier is no longer configured: stopping it");
                        }
                        sy_config_free(nc);
                } else if (!stopping) {
                        /* SIGTERM/SIGINT: the frontend drains (stops accepting, finishes
                         * in-flight requests); the router stays until the frontend is gone */
                        stopping = true;
                        stop_deadline = shm_now_ns() + ((uint64_t)cfg->server.drain_timeout_ms + 5000) * 1000000ULL;
                        log_notice("stopping: draining the frontend");
                        for (size_t i = 0; i < nk; i++)
                                if (kids[i].pid > 0 && strcmp(kids[i].role, "frontend") == 0)
                                        kill(kids[i].pid, SIGTERM);
                }
                if (stopping) {
                        bool fe_alive = false;
                        for (size_t i = 0; i < nk; i++)
                                if (kids[i].pid > 0 && strcmp(kids[i].role, "frontend") == 0)
                                        fe_alive = true;
                        if (!fe_alive)
                                for (size_t i = 0; i < nk; i++)
                                        if (kids[i].pid > 0)
                                                kill(kids[i].pid, SIGTERM);
                }
        }
        log_notice("stopped");
        close(sfd);
        sy_config_free(cfg);
        return 0;
}
