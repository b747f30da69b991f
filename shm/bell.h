/* Doorbells: how a producer wakes a sleeping consumer in another process.
 * A doorbell is a named FIFO in the runtime directory; the consumer keeps it
 * open read-write (so it never sees EOF and survives producers restarting)
 * and waits for it to become readable (poll/epoll/io_uring); producers
 * write one byte, non-blocking (a full FIFO means a wake-up is already
 * pending). A FIFO path survives restarts of either side. */
#pragma once

/* Creates the FIFO if missing and opens it O_RDWR|O_NONBLOCK|O_CLOEXEC. */
int bell_open_consumer(const char *path, int *ret_fd);
/* Opens O_WRONLY|O_NONBLOCK|O_CLOEXEC; -ENXIO/-ENOENT if no consumer yet. */
int bell_open_producer(const char *path, int *ret_fd);
/* Writes one byte; EAGAIN is success. */
int bell_ring(int fd);
/* Reads everything pending (consumer, after waking). */
void bell_drain(int fd);
