/* Doorbells: named FIFOs (see bell.h).
 *
 * The consumer holds the FIFO open O_RDWR, so the pipe always has a reader
 * and a writer while it lives: it never reads EOF when producers come and
 * go, and producers' opens do not fail with ENXIO. The pipe object lives as
 * long as any descriptor is open, so a producer that keeps its descriptor
 * reaches a restarted consumer again once it reopens the same path.
 *
 * A write to a FIFO that has no reader (consumer dead) raises SIGPIPE.
 * Library code must not kill its process, so bell_ring() blocks SIGPIPE
 * for the write and consumes the signal it caused, the way libcurl and
 * OpenSSL do for sockets without MSG_NOSIGNAL. That is two extra system
 * calls per ring, and a bell is rung only for a consumer that was asleep. */
#include "shm/bell.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int bell_check_fifo(int fd) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -ENOTSUP;
        return 0;
}

/* Opens path with flags and keeps the fd only if it is a FIFO. */
static int bell_open_fifo(const char *path, int flags, int *ret_fd) {
        int fd, rc;

        fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        rc = bell_check_fifo(fd);
        if (rc < 0) {
                close(fd);
                return rc;
        }
        *ret_fd = fd;
        return 0;
}

int bell_open_consumer(const char *path, int *ret_fd) {
        if (!path || !ret_fd)
                return -EINVAL;
        if (mkfifo(path, 0600) < 0 && errno != EEXIST)
                return -errno;
        return bell_open_fifo(path, O_RDWR, ret_fd);
}

int bell_open_producer(const char *path, int *ret_fd) {
        if (!path || !ret_fd)
                return -EINVAL;
        /* ENXIO: the FIFO exists but no consumer holds it open. */
        return bell_open_fifo(path, O_WRONLY, ret_fd);
}

int bell_ring(int fd) {
        static const char one = 1;
        const struct timespec zero = { 0, 0 };
        sigset_t pipe_set, old_set, pending;
        bool was_pending = false;
        ssize_t n;
        int rc = 0;

        /* Fast path: a process that ignores SIGPIPE (switchyard's do) gets
         * EPIPE from write(2) and no signal: one system call per ring. */
        static int sigpipe_ignored = -1;
        if (sigpipe_ignored < 0) {
                struct sigaction sa;
                sigpipe_ignored = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
        }
        if (sigpipe_ignored) {
                do
                        n = write(fd, &one, 1);
                while (n < 0 && errno == EINTR);
                return n < 0 && errno != EAGAIN ? -errno : 0;
        }

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set) != 0)
                return -EINVAL;
        /* A SIGPIPE can only be pending for us if it was blocked already;
         * otherwise it would have been delivered. */
        if (sigismember(&old_set, SIGPIPE) && sigpending(&pending) == 0)
                was_pending = sigismember(&pending, SIGPIPE);

        do
                n = write(fd, &one, 1);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                rc = errno == EAGAIN ? 0 : -errno; /* full: a wake-up is pending already */
                /* Swallow the SIGPIPE this write raised, not one that was
                 * already pending for someone else. */
                if (rc == -EPIPE && !was_pending)
                        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                                ;
        }

        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
        return rc;
}

void bell_drain(int fd) {
        char buf[256];
        ssize_t n;

        for (;;) {
                n = read(fd, buf, sizeof(buf));
                if (n > 0)
                        continue;
                if (n < 0 && errno == EINTR)
                        continue;
                break; /* EAGAIN: empty; 0 cannot happen while we hold a writer */
        }
}
