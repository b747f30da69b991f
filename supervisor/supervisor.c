/* `switchyard run`: the supervisor of the frontend, the router and the
 * classifier (when the configuration enables it: a classifier: section,
 * prompt_guard, or categories; see common/config.h).
 *
 * One instance per runtime directory and per port: before it touches the
 * segment, the doorbells or the port it takes the runtime directory's lock
 * (common/lockfile.h) exclusively for its whole life, and refuses to start
 * when another instance holds it. Holding it, nothing of another instance
 * lives there, so a crashed instance's segment and doorbells are removed
 * and made afresh by the children. It then binds the frontend's listening
 * socket itself (no SO_REUSEPORT: a second instance on the port gets
 * EADDRINUSE) and hands it to every frontend it starts by the systemd
 * socket-activation protocol (LISTEN_FDS=1, LISTEN_PID, fd 3), so that the
 * socket, and the connections waiting in its backlog, outlive a frontend
 * restart. The children get the lock's open file description too
 * (LOCKFILE_ENV): the instance stays locked while any of them lives. */
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
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "common/config.h"
#include "common/listener.h"
#include "common/lockfile.h"
#include "common/log.h"
#include "proto/runtime.h"
#include "shm/segment.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define STABLE_MS 10000 /* a child that ran this long resets its backoff */

struct child {
        const char *role;
        bool disabled; /* not wanted by the configuration: not started nor restarted */
        pid_t pid;
        uint64_t started_ns;
        uint64_t restart_at_ns;
        unsigned backoff_ms;
        unsigned restarts;
};

/* The instance's shared state, to pass to every child. */
struct instance {
        int lock_fd;   /* the runtime directory's lock, held exclusively */
        int listen_fd; /* the frontend's listening socket */
};

static pid_t spawn(const char *self, const char *role, const char *config, const sigset_t *oldmask,
                   const struct instance *in) {
        pid_t pid = fork();

        if (pid == 0) {
                char s[16];

                sigprocmask(SIG_SETMASK, oldmask, NULL);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (lockfile_pass(in->lock_fd) < 0)
                        _exit(127);
                if (strcmp(role, "frontend") == 0) {
                        /* socket activation: fd 3, for this pid */
                        if (in->listen_fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(in->listen_fd, 3) < 0)
                                _exit(127);
                        snprintf(s, sizeof s, "%d", (int)getpid());
                        setenv("LISTEN_PID", s, 1);
                        setenv("LISTEN_FDS", "1", 1);
                        unsetenv("LISTEN_FDNAMES");
                }
                /* the binary links OpenBLAS (for the classifier): one thread,
                 * not a pool per core, in the processes that never use it */
                if (strcmp(role, "classifier") != 0)
                        setenv("OPENBLAS_NUM_THREADS", "1", 1);
                execl(self, self, role, "-c", config, (char *)NULL);
                _exit(127);
        }
        return pid;
}

/* Holding the lock, nothing of another instance uses the runtime
 * directory: a crashed instance's segment and doorbells go, and the
 * children make them afresh (a valid segment would be kept with the dead
 * instance's ring contents and peer slots). */
static bool worker_bell_name(const char *name) {
        size_t digits;

        if (strncmp(name, "worker-", 7) != 0)
                return false;
        digits = strspn(name + 7, "0123456789");
        return digits > 0 && strcmp(name + 7 + digits, ".bell") == 0;
}

static void remove_stale(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, SY_SEGMENT_FILE) != 0 && strcmp(e->d_name, SY_ROUTER_BELL) != 0 &&
                    strcmp(e->d_name, SY_CLASSIFIER_BELL) != 0 && !worker_bell_name(e->d_name))
                        continue;
                if (unlinkat(dirfd(d), e->d_name, 0) == 0)
                        log_debug("removed the stale %s/%s", dir, e->d_name);
                else if (errno != ENOENT)
                        log_warn("cannot remove the stale %s/%s: %s", dir, e->d_name, strerror(errno));
        }
        closedir(d);
}

int supervisor_main(const char *self, const char *config_path) {
        struct child kids[] = { { .role = "router" }, { .role = "frontend" }, { .role = "classifier" } };
        const size_t nk = sizeof kids / sizeof kids[0];
        sigset_t mask, old;
        char err[512];
        struct sy_config *cfg;
        bool stopping = false;
        uint64_t stop_deadline = 0;
        struct instance in = { .lock_fd = -1, .listen_fd = -1 };
        char addr[320];
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
        /* one instance per runtime directory, then per port */
        r = lockfile_lock_instance(cfg->shm.runtime_dir, &in.lock_fd, err, sizeof err);
        if (r < 0) {
                log_err("%s", err);
                sy_config_free(cfg);
                return 1;
        }
        remove_stale(cfg->shm.runtime_dir);
        listener_name(cfg->server.host, cfg->server.port, addr, sizeof addr);
        r = listener_open(cfg->server.host, cfg->server.port, &in.listen_fd);
        if (r < 0) {
                if (r == -EADDRINUSE)
                        log_err("cannot listen on %s: address already in use (another switchyard, or another "
                                "program, listens there)",
                                addr);
                else
                        log_err("cannot listen on %s: %s", addr, strerror(-r));
                close(in.lock_fd);
                sy_config_free(cfg);
                return 1;
        }
        log_info("listening on %s (the socket passed to the frontend)", addr);

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
                kids[i].pid = spawn(self, kids[i].role, config_path, &old, &in);
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
                                        kids[i].pid = spawn(self, kids[i].role, config_path, &old, &in);
                                        kids[i].started_ns = now;
                                        kids[i].restart_at_ns = 0;
                                        kids[i].restarts++;
                                        log_notice("restarted %s (pid %d, restart %u)", kids[i].role, (int)kids[i].pid,
                                                   kids[i].restarts);
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
                                                log_warn("%s (pid %d) died of signal %d", kids[i].role, (int)pid,
                                                         WTERMSIG(st));
                                        else
                                                log_warn("%s (pid %d) exited with status %d", kids[i].role, (int)pid,
                                                         WEXITSTATUS(st));
                                        now = shm_now_ns();
                                        if (now - kids[i].started_ns > STABLE_MS * 1000000ULL)
                                                kids[i].backoff_ms = BACKOFF_MIN_MS;
                                        kids[i].restart_at_ns = now + (uint64_t)kids[i].backoff_ms * 1000000ULL;
                                        kids[i].backoff_ms = kids[i].backoff_ms * 2 > BACKOFF_MAX_MS
                                                                     ? BACKOFF_MAX_MS
                                                                     : kids[i].backoff_ms * 2;
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
                        if (nc->server.port != cfg->server.port || strcmp(nc->server.host, cfg->server.host) != 0 ||
                            strcmp(nc->shm.runtime_dir, cfg->shm.runtime_dir) != 0)
                                log_warn("server.host, server.port and shm.runtime_dir changes apply when switchyard "
                                         "run restarts: it holds the listening socket on %s and the lock of %s",
                                         addr, cfg->shm.runtime_dir);
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
        close(in.listen_fd);
        close(in.lock_fd);
        close(sfd);
        sy_config_free(cfg);
        return 0;
}
