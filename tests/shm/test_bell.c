/* Unit tests for shm/bell: FIFO doorbells. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/bell.h"
#include "shm-test.h"

static bool readable(int fd, int timeout_ms) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

int main(void) {
        char dir[256], path[300], file[300];
        struct stat st;
        int cfd = -1, pfd = -1, fd2 = -1;
        pid_t pid;
        int status;

        test_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/bell", dir);
        snprintf(file, sizeof(file), "%s/file", dir);

        /* no FIFO yet */
        check_eq(bell_open_producer(path, &pfd), -ENOENT);
        check_eq(pfd, -1);

        /* the consumer creates it */
        check_eq(bell_open_consumer(path, &cfd), 0);
        check(cfd >= 0);
        check(stat(path, &st) == 0 && S_ISFIFO(st.st_mode));
        check(!readable(cfd, 0));
        check((fcntl(cfd, F_GETFD) & FD_CLOEXEC) != 0);

        /* a second consumer open reuses the FIFO */
        check_eq(bell_open_consumer(path, &fd2), 0);
        close(fd2);

        check_eq(bell_open_producer(path, &pfd), 0);
        check_eq(bell_ring(pfd), 0);
        check(readable(cfd, 0));
        bell_drain(cfd);
        check(!readable(cfd, 0));

        /* ringing a full FIFO is not an error: a wake-up is pending */
        for (int i = 0; i < 200000; i++)
                check_eq(bell_ring(pfd), 0);
        check(readable(cfd, 0));
        bell_drain(cfd);
        check(!readable(cfd, 0));

        /* from another process */
        pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                int fd;

                if (bell_open_producer(path, &fd) < 0 || bell_ring(fd) < 0)
                        _exit(1);
                _exit(0);
        }
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        check(readable(cfd, 5000));
        bell_drain(cfd);

        /* consumer gone: -EPIPE, and no SIGPIPE kills us (default action) */
        signal(SIGPIPE, SIG_DFL);
        close(cfd);
        check_eq(bell_ring(pfd), -EPIPE);
        {
                sigset_t pending;

                check(sigpending(&pending) == 0 && !sigismember(&pending, SIGPIPE));
        }
        /* no consumer holds it: producers cannot open it */
        check_eq(bell_open_producer(path, &fd2), -ENXIO);

        /* the consumer comes back; the producer's old descriptor works */
        check_eq(bell_open_consumer(path, &cfd), 0);
        check(!readable(cfd, 0));
        check_eq(bell_ring(pfd), 0);
        check(readable(cfd, 0));
        bell_drain(cfd);

        /* not a FIFO */
        {
                int fd = open(file, O_CREAT | O_WRONLY, 0600);

                check(fd >= 0);
                close(fd);
                fd2 = -1;
                check_eq(bell_open_consumer(file, &fd2), -ENOTSUP);
                check_eq(bell_open_producer(file, &fd2), -ENOTSUP);
                check_eq(fd2, -1);
        }

        close(pfd);
        close(cfd);
        printf("bell: ok\n");
        return 0;
}
