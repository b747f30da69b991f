/* A growable byte buffer: p[0..len) used, cap allocated. Functions return
 * 0 (or bytes written) / -ENOMEM; on failure the buffer is unchanged. */
#pragma once
#include <stddef.h>

struct buf {
        char *p;
        size_t len, cap;
};

int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);
