/* The runtime directory's lock file (see lockfile.h). */
#include "common/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCKFILE_RECORD 32 /* bytes per role line: "%-10s %-20d\n" */
#define LOCKFILE_PASS_MIN_FD 10

static const char *const lockfile_role_names[LOCKFILE_NROLES] = { "run", "router", "frontend", "classifier" };

static int lockfile_path(const char *dir, char *buf, size_t cap) {
        int n = snprintf(buf, cap, "%s/%s", dir, LOCKFILE_NAME);

        return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Byte `byte` of the file, without waiting: 0, -EBUSY if another open file
 * description holds a conflicting lock, -errno. */
static int lockfile_set(int fd, short type, off_t byte) {
        struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

        while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
                if (errno == EINTR)
                        continue;
                return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
        }
        return 0;
}

/* The lock type another open file description holds on byte (F_UNLCK:
 * none that conflicts with type), or -errno. */
static int lockfile_get(int fd, short type, off_t byte) {
        struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

        if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                return -errno;
        return fl.l_type;
}

static bool lockfile_pid_alive(pid_t pid) {
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* The live pid recorded for role, 0 if none. */
static pid_t lockfile_record_pid(int fd, enum lockfile_role role) {
        char rec[LOCKFILE_RECORD + 1], *p, *end;
        size_t name_len = strlen(lockfile_role_names[role]);
        ssize_t n = pread(fd, rec, LOCKFILE_RECORD, (off_t)role * LOCKFILE_RECORD);
        long pid;

        if (n <= (ssize_t)name_len)
                return 0;
        rec[n] = 0;
        if (memcmp(rec, lockfile_role_names[role], name_len) != 0 || rec[name_len] != ' ')
                return 0;
        p = rec + name_len;
        errno = 0;
        pid = strtol(p, &end, 10);
        if (errno || end == p || pid <= 0 || pid > INT_MAX)
                return 0;
        return lockfile_pid_alive((pid_t)pid) ? (pid_t)pid : 0;
}

static void lockfile_record(int fd, enum lockfile_role role) {
        char rec[LOCKFILE_RECORD + 1];

        snprintf(rec, sizeof rec, "%-10s %-20d\n", lockfile_role_names[role], (int)getpid());
        (void)!pwrite(fd, rec, LOCKFILE_RECORD, (off_t)role * LOCKFILE_RECORD);
}

/* Who holds the instance: a supervisor (exclusive lock) if it lives, else
 * any process of the instance that does (the children of a supervisor that
 * was killed, or the units started on their own: shared lock, where the
 * "run" line is an earlier supervisor's); 0 if the file does not say. */
static pid_t lockfile_instance_pid(int fd) {
        bool exclusive = lockfile_get(fd, F_RDLCK, LOCKFILE_RUN) == F_WRLCK;

        for (int role = exclusive ? LOCKFILE_RUN : LOCKFILE_ROUTER; role < LOCKFILE_NROLES; role++) {
                pid_t pid = lockfile_record_pid(fd, (enum lockfile_role)role);
                if (pid)
                        return pid;
        }
        return 0;
}

static void lockfile_busy_instance(int fd, const char *dir, const char *path, char *err, size_t errcap) {
        pid_t pid = lockfile_instance_pid(fd);

        if (pid)
                snprintf(err, errcap, "another switchyard (pid %d) is running with runtime directory %s", (int)pid,
                         dir);
        else
                snprintf(err, errcap, "another switchyard is running with runtime directory %s (it holds %s)", dir,
                         path);
}

static int lockfile_open(const char *dir, char *path, size_t cap, int *ret_fd, char *err, size_t errcap) {
        struct stat st;
        int fd, r;

        r = lockfile_path(dir, path, cap);
        if (r < 0) {
                snprintf(err, errcap, "runtime directory %s: name too long", dir);
                return r;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                snprintf(err, errcap, "cannot open the lock file %s: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(err, errcap, "the lock file %s is not a regular file", path);
                close(fd);
                return -EINVAL;
        }
        *ret_fd = fd;
        return 0;
}

static void lockfile_fail(int r, const char *path, char *err, size_t errcap) {
        if (r == -EINVAL)
                snprintf(err, errcap, "cannot lock %s: the kernel has no open file description locks (Linux >= 3.15)",
                         path);
        else
                snprintf(err, errcap, "cannot lock %s: %s", path, strerror(-r));
}

/* Takes the instance byte as type (F_WRLCK: the instance's own, F_RDLCK:
 * one of its processes'); on failure err says why. */
static int lockfile_set_run(int fd, short type, const char *dir, const char *path, char *err, size_t errcap) {
        int r = lockfile_set(fd, type, LOCKFILE_RUN);

        if (r == -EBUSY)
                lockfile_busy_instance(fd, dir, path, err, errcap);
        else if (r < 0)
                lockfile_fail(r, path, err, errcap);
        return r;
}

int lockfile_lock_instance(const char *dir, int *ret_fd, char *err, size_t errcap) {
        char path[4096];
        int fd = -1, r;

        r = lockfile_open(dir, path, sizeof path, &fd, err, errcap);
        if (r < 0)
                return r;
        r = lockfile_set_run(fd, F_WRLCK, dir, path, err, errcap);
        if (r < 0)
                goto fail;
        /* Ours: whatever the file says is a dead instance's (nothing holds
         * any lock of it now but us, since every process of an instance
         * holds byte 0). */
        if (ftruncate(fd, 0) < 0) {
                r = -errno;
                snprintf(err, errcap, "cannot write the lock file %s: %s", path, strerror(-r));
                goto fail;
        }
        lockfile_record(fd, LOCKFILE_RUN);
        *ret_fd = fd;
        return 0;
fail:
        close(fd);
        return r;
}

/* The supervisor's descriptor, if LOCKFILE_ENV names one that is this
 * directory's lock file and holds the exclusive instance lock: 1 and
 * *ret_fd, else 0. own is our own descriptor of the same file. */
static int lockfile_inherited(int own, int *ret_fd) {
        const char *s = getenv(LOCKFILE_ENV);
        struct stat a, b;
        char *end;
        long n;

        if (!s)
                return 0;
        errno = 0;
        n = strtol(s, &end, 10);
        if (errno || end == s || *end || n < 0 || n > INT_MAX)
                return 0;
        if (fstat((int)n, &a) < 0 || fstat(own, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                return 0; /* another directory's (or nothing): we are on our own */
        /* Someone holds the exclusive lock (seen from our description), and
         * nobody but the inherited description conflicts with it: the
         * inherited one is the holder. */
        if (lockfile_get(own, F_RDLCK, LOCKFILE_RUN) != F_WRLCK ||
            lockfile_get((int)n, F_WRLCK, LOCKFILE_RUN) != F_UNLCK)
                return 0;
        /* left inheritable, LOCKFILE_ENV set: the classifier execs itself
         * again (OPENBLAS_NUM_THREADS) and joins the same way */
        *ret_fd = (int)n;
        return 1;
}

int lockfile_lock_role(const char *dir, enum lockfile_role role, char *err, size_t errcap) {
        char path[4096];
        int fd = -1, parent = -1, r;

        if (role <= LOCKFILE_RUN || role >= LOCKFILE_NROLES) {
                snprintf(err, errcap, "lockfile: bad role %d", (int)role);
                return -EINVAL;
        }
        r = lockfile_open(dir, path, sizeof path, &fd, err, errcap);
        if (r < 0)
                return r;
        if (!lockfile_inherited(fd, &parent)) {
                r = lockfile_set_run(fd, F_RDLCK, dir, path, err, errcap);
                if (r < 0)
                        goto fail;
        }
        /* The role lock on our own description: it goes with this process
         * (the supervisor's description outlives a restarted child). */
        r = lockfile_set(fd, F_WRLCK, role);
        if (r == -EBUSY) {
                pid_t pid = lockfile_record_pid(fd, role);

                if (pid)
                        snprintf(err, errcap, "another switchyard %s (pid %d) is running with runtime directory %s",
                                 lockfile_role_names[role], (int)pid, dir);
                else
                        snprintf(err, errcap, "another switchyard %s is running with runtime directory %s",
                                 lockfile_role_names[role], dir);
                goto fail;
        }
        if (r < 0) {
                lockfile_fail(r, path, err, errcap);
                goto fail;
        }
        lockfile_record(fd, role);
        return 0; /* fd (and parent) stay open until we exit */
fail:
        if (parent >= 0)
                close(parent);
        close(fd);
        return r;
}

int lockfile_pass(int fd) {
        char s[16];
        int copy = fcntl(fd, F_DUPFD, LOCKFILE_PASS_MIN_FD); /* without FD_CLOEXEC */

        if (copy < 0)
                return -errno;
        snprintf(s, sizeof s, "%d", copy);
        return setenv(LOCKFILE_ENV, s, 1) < 0 ? -errno : 0;
}

int lockfile_role_pid(const char *dir, enum lockfile_role role) {
        char path[4096];
        int fd, r;
        pid_t pid;

        if (role < 0 || role >= LOCKFILE_NROLES || lockfile_path(dir, path, sizeof path) < 0)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* the role's lock held: the recorded pid is its holder, not a stale line */
        r = lockfile_get(fd, F_WRLCK, role);
        pid = r == F_UNLCK ? 0 : lockfile_record_pid(fd, role);
        close(fd);
        return r < 0 ? r : (int)pid;
}
