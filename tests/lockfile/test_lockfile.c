/* Unit tests for common/lockfile: the instance lock (exclusive for `run`,
 * passed to its children, shared for the processes on their own), the
 * role locks, the messages, and the takeover of a dead holder's file.
 * Locks belong to processes here, so each case forks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "common/lockfile.h"

static char dir[256];

/* A child that runs fn and reports through its exit status; the parent
 * waits for it. */
static int in_child(int (*fn)(void *), void *arg) {
        int st;
        pid_t pid = fork();

        check(pid >= 0);
        if (pid == 0)
                _exit(fn(arg));
        check(waitpid(pid, &st, 0) == pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* A child that takes a lock, says so on a pipe and holds it until the
 * parent writes to the other pipe. */
struct holder {
        pid_t pid;
        int stop;
};

struct hold_arg {
        enum lockfile_role role; /* LOCKFILE_RUN: the instance lock */
        int pass_fd;             /* >= 0: passed to us as to a supervised child */
};

static struct holder hold(struct hold_arg a) {
        int up[2], down[2];
        struct holder h;
        char c = 0;

        check(pipe(up) == 0 && pipe(down) == 0);
        h.pid = fork();
        check(h.pid >= 0);
        if (h.pid == 0) {
                char err[512];
                int fd, r;

                close(up[0]);
                close(down[1]);
                if (a.pass_fd >= 0)
                        check(lockfile_pass(a.pass_fd) == 0);
                r = a.role == LOCKFILE_RUN ? lockfile_lock_instance(dir, &fd, err, sizeof err)
                                           : lockfile_lock_role(dir, a.role, err, sizeof err);
                c = r == 0 ? 'y' : 'n';
                if (r < 0)
                        fprintf(stderr, "holder: %s\n", err);
                (void)!write(up[1], &c, 1);
                (void)!read(down[0], &c, 1); /* until the parent says */
                _exit(r == 0 ? 0 : 1);
        }
        close(up[1]);
        close(down[0]);
        check(read(up[0], &c, 1) == 1);
        check(c == 'y');
        close(up[0]);
        h.stop = down[1];
        return h;
}

static void release(struct holder h) {
        int st;

        check(write(h.stop, "x", 1) == 1); /* (a later child holds a copy of the pipe: no EOF) */
        close(h.stop);
        check(waitpid(h.pid, &st, 0) == h.pid);
        check(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static char expect[1024];

/* 0 when the call is refused with -EBUSY and err contains expect. */
static int refused_instance(void *unused) {
        char err[512];
        int fd;

        (void)unused;
        if (lockfile_lock_instance(dir, &fd, err, sizeof err) != -EBUSY)
                return 1;
        if (!strstr(err, expect)) {
                fprintf(stderr, "said '%s', wanted '%s'\n", err, expect);
                return 2;
        }
        return 0;
}

static int refused_role(void *role) {
        char err[512];

        if (lockfile_lock_role(dir, *(enum lockfile_role *)role, err, sizeof err) != -EBUSY)
                return 1;
        if (!strstr(err, expect)) {
                fprintf(stderr, "said '%s', wanted '%s'\n", err, expect);
                return 2;
        }
        return 0;
}

static int takes_role(void *role) {
        char err[512];
        int r = lockfile_lock_role(dir, *(enum lockfile_role *)role, err, sizeof err);

        if (r < 0)
                fprintf(stderr, "%s\n", err);
        return r == 0 ? 0 : 1;
}

static int takes_instance(void *unused) {
        char err[512];
        int fd, r = lockfile_lock_instance(dir, &fd, err, sizeof err);

        (void)unused;
        if (r < 0)
                fprintf(stderr, "%s\n", err);
        return r == 0 ? 0 : 1;
}

/* A supervised child: the supervisor's descriptor passed, then the role. */
static int passed_fd;
static int supervised_role(void *role) {
        check(lockfile_pass(passed_fd) == 0);
        return takes_role(role);
}

static int supervised_refused_role(void *role) {
        check(lockfile_pass(passed_fd) == 0);
        return refused_role(role);
}

static int forged_env_role(void *role) {
        char s[16];
        int other = open("/dev/null", O_RDONLY);

        snprintf(s, sizeof s, "%d", other);
        setenv(LOCKFILE_ENV, s, 1);
        return refused_role(role);
}

int main(void) {
        enum lockfile_role router = LOCKFILE_ROUTER, frontend = LOCKFILE_FRONTEND;
        char err[512], text[256] = { 0 };
        int fd;
        ssize_t n;

        snprintf(dir, sizeof dir, "/tmp/sy-lockfile-%d", (int)getpid());
        check(mkdir(dir, 0700) == 0);

        /* the supervisor: exclusive, its pid in the file */
        check_eq(lockfile_lock_instance(dir, &fd, err, sizeof err), 0);
        snprintf(expect, sizeof expect, "another switchyard (pid %d) is running with runtime directory %s",
                 (int)getpid(), dir);
        check_eq(in_child(refused_instance, NULL), 0);   /* a second run */
        check_eq(in_child(refused_role, &router), 0);    /* a router on its own */
        check_eq(in_child(forged_env_role, &router), 0); /* a descriptor that is not the lock */
        {
                char p[300];
                snprintf(p, sizeof p, "%s/%s", dir, LOCKFILE_NAME);
                int t = open(p, O_RDONLY);
                n = read(t, text, sizeof text - 1);
                close(t);
                check(n >= 32);
                snprintf(expect, sizeof expect, "run        %d", (int)getpid());
                check(strncmp(text, expect, strlen(expect)) == 0);
        }

        /* its children: the passed descriptor lets them in, one per role */
        passed_fd = fd;
        check_eq(in_child(supervised_role, &router), 0);
        {
                struct holder r = hold((struct hold_arg){ .role = LOCKFILE_ROUTER, .pass_fd = fd });
                snprintf(expect, sizeof expect,
                         "another switchyard router (pid %d) is running with runtime directory %s", (int)r.pid, dir);
                check_eq(in_child(supervised_refused_role, &router), 0); /* a second router */
                check_eq(in_child(supervised_role, &frontend), 0);       /* another role: in */
                release(r);
        }
        check_eq(in_child(supervised_role, &router), 0); /* the first router gone: in */
        close(fd);

        /* the supervisor gone: the processes on their own share the instance */
        {
                struct holder r = hold((struct hold_arg){ .role = LOCKFILE_ROUTER, .pass_fd = -1 });
                struct holder f = hold((struct hold_arg){ .role = LOCKFILE_FRONTEND, .pass_fd = -1 });

                snprintf(expect, sizeof expect, "another switchyard (pid %d) is running with runtime directory %s",
                         (int)r.pid, dir);
                check_eq(in_child(refused_instance, NULL), 0); /* a run joins no units */
                snprintf(expect, sizeof expect, "another switchyard frontend (pid %d)", (int)f.pid);
                check_eq(in_child(refused_role, &frontend), 0);
                release(r);
                release(f);
        }

        /* a dead holder's file (a crash: the child dies holding it) is taken over */
        {
                struct holder s = hold((struct hold_arg){ .role = LOCKFILE_RUN, .pass_fd = -1 });
                kill(s.pid, SIGKILL);
                check(waitpid(s.pid, NULL, 0) == s.pid);
                close(s.stop);
        }
        check_eq(in_child(takes_instance, NULL), 0);
        check_eq(in_child(takes_role, &router), 0);

        {
                char p[300];
                snprintf(p, sizeof p, "%s/%s", dir, LOCKFILE_NAME);
                unlink(p);
        }
        rmdir(dir);
        printf("lockfile: ok\n");
        return 0;
}
