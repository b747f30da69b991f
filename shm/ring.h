/* Single-producer / single-consumer lock-free ring of variable-length
 * messages, placed in shared memory (DPDK rte_ring style naming: sp = single
 * producer, sc = single consumer).
 *
 * Memory: a struct ring header (head and tail on their own cache lines)
 * followed by a power-of-two data area. Each message is an 8-byte header
 * (u32 length, u16 type, u16 flags) plus payload, padded to 8 bytes, and is
 * always contiguous: a message that would cross the end is preceded by a pad
 * record and written at offset 0. The producer publishes with a release
 * store of head; the consumer frees with a release store of tail; each side
 * reads the other's index with an acquire load.
 *
 * Wake-up: a consumer about to sleep calls ring_sc_prepare_sleep() on every
 * ring it consumes and then waits on its doorbell (shm/bell.h). A producer
 * calls ring_sp_needs_wake() after pushing; it returns true only for the
 * first push after the consumer went to sleep, so under load no system call
 * is made per message. A producer that (re)starts rings the doorbell once
 * without asking: its predecessor may have died between ring_sp_needs_wake()
 * and the ring, leaving the consumer asleep with data in the ring.
 *
 * Crashes: the rings live in the segment, so nothing published is lost. A
 * message peeked but not released by a consumer that dies is delivered
 * again to its successor; a producer killed right after publishing (before
 * ring_pushed() moved) cannot tell whether its last push went out. See
 * tests/shm/test_ring_stress.c for how both are accounted for. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ring;

#define RING_MSG_MAX_TYPE 0xfffe

/* Bytes of shared memory needed for a ring with data_bytes of data
 * (data_bytes: power of two, >= 4096). */
size_t ring_mem_size(uint32_t data_bytes);
/* Initialises a ring in mem (ring_mem_size(data_bytes) bytes, 64-aligned). */
int ring_init(void *mem, uint32_t data_bytes);
/* Validates an existing ring in mem; -EBADMSG if corrupt. */
int ring_attach(void *mem, size_t mem_bytes, struct ring **ret_ring);

/* Largest payload accepted (a quarter of the data area). */
uint32_t ring_max_msg(const struct ring *r);

/* Producer side. -EAGAIN: no room now; -EMSGSIZE: larger than ring_max_msg. */
int ring_sp_push(struct ring *r, uint16_t type, const void *msg, uint32_t len);
int ring_sp_pushv(struct ring *r, uint16_t type, const struct iovec *iov, int iovcnt);
/* After one or more pushes: true if the consumer is asleep and must be woken
 * (ring its doorbell). Clears the flag, so only one caller sees true. */
bool ring_sp_needs_wake(struct ring *r);

/* Consumer side. Peek returns a pointer into the ring valid until release.
 * -EAGAIN when empty. */
int ring_sc_peek(struct ring *r, uint16_t *ret_type, const void **ret_msg, uint32_t *ret_len);
void ring_sc_release(struct ring *r);
/* Copying pop: -ENOBUFS if cap is too small (message stays). */
int ring_sc_pop(struct ring *r, uint16_t *ret_type, void *buf, uint32_t cap, uint32_t *ret_len);
bool ring_sc_empty(struct ring *r);
/* Marks the consumer asleep. Returns true if the ring is still empty (go to
 * sleep), false if data arrived meanwhile (flag cleared; do not sleep). */
bool ring_sc_prepare_sleep(struct ring *r);
void ring_sc_cancel_sleep(struct ring *r);

/* Counters (monotonic, for tests and metrics). */
uint64_t ring_pushed(const struct ring *r);
uint64_t ring_popped(const struct ring *r);
