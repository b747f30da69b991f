/* One switchyard instance per runtime directory: the lock file
 * <runtime_dir>/switchyard.lock, taken before anything in the directory
 * (segment, doorbells) or the port is touched.
 *
 * Byte 0 is the instance lock (OFD locks, fcntl(2) F_OFD_SETLK):
 *   - `switchyard run` holds it exclusively for its whole life and passes
 *     that open file description to its children (LOCKFILE_ENV names the
 *     descriptor); a child checks it really is the lock file of its runtime
 *     directory, holding the exclusive lock, and keeps it open, so the
 *     instance stays locked while any of its processes lives;
 *   - a process started on its own (the systemd units) holds it shared, so
 *     the units of one instance run side by side, and neither a `switchyard
 *     run` nor the processes of one can join them.
 * Bytes 1..3 are the role locks (router, frontend, classifier), exclusive:
 * one process of each role per runtime directory.
 * The kernel drops the locks of a process that dies, however it dies, so
 * they never go stale: a lock file left by a crash is simply taken over.
 *
 * The file's text says who holds it, one 32-byte line per role (the
 * supervisor's "run PID" first), for the messages and for people. */
#pragma once
#include <stddef.h>

#define LOCKFILE_NAME "switchyard.lock"
/* The descriptor of the supervisor's lock, in its children. */
#define LOCKFILE_ENV "SWITCHYARD_LOCK_FD"

enum lockfile_role {
        LOCKFILE_RUN = 0, /* the supervisor: the instance lock itself */
        LOCKFILE_ROUTER = 1,
        LOCKFILE_FRONTEND = 2,
        LOCKFILE_CLASSIFIER = 3,
        LOCKFILE_NROLES = 4,
};

/* `switchyard run`: takes the instance lock of dir exclusively, without
 * waiting, and records our pid. *ret_fd (close-on-exec) holds it; keep it
 * open. -EBUSY when another instance holds it: err says "another switchyard
 * (pid N) is running with runtime directory DIR". Other failures: -errno,
 * err says what. */
int lockfile_lock_instance(const char *dir, int *ret_fd, char *err, size_t errcap);

/* A process of one role (not LOCKFILE_RUN): joins the instance (through
 * the supervisor's descriptor named by LOCKFILE_ENV, or a shared lock on
 * its own) and takes its role lock. The locks are held by descriptors that
 * stay open until the process exits; the supervisor's one stays inheritable
 * and named in LOCKFILE_ENV, so that a process that executes itself again
 * (the classifier does) joins the same way. -EBUSY when another instance, or
 * another process of the role, holds them (err says which, with its pid). */
int lockfile_lock_role(const char *dir, enum lockfile_role role, char *err, size_t errcap);

/* In a child of the supervisor, between fork and exec: makes a copy of the
 * instance lock descriptor that exec keeps (numbered >= 10, so fds 3.. stay
 * free for LISTEN_FDS) and names it in LOCKFILE_ENV. */
int lockfile_pass(int fd);

/* The pid of the live process holding role's lock in dir (for `switchyard
 * probes`, which attaches to it), 0 when none does, -errno when the lock
 * file cannot be read. */
int lockfile_role_pid(const char *dir, enum lockfile_role role);
