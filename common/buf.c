/* A growable byte buffer. */
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t extra) {
        size_t need = b->len + extra, cap = b->cap ? b->cap : 1024;
        char *p;

        if (need <= b->cap)
                return 0;
        while (cap < need)
                cap *= 2;
        p = realloc(b->p, cap);
        if (!p)
                return -ENOMEM;
        b->p = p;
        b->cap = cap;
        return 0;
}

int buf_append(struct buf *b, const void *data, size_t n) {
        if (buf_reserve(b, n + 1) < 0)
                return -ENOMEM;
        memcpy(b->p + b->len, data, n);
        b->len += n;
        return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        for (int pass = 0; pass < 2; pass++) {
                size_t room = b->cap - b->len;
                va_start(ap, fmt);
                n = vsnprintf(b->cap ? b->p + b->len : NULL, room, fmt, ap);
                va_end(ap);
                if (n < 0)
                        return -EINVAL;
                if ((size_t)n < room) {
                        b->len += (size_t)n;
                        return n;
                }
                if (buf_reserve(b, (size_t)n + 1) < 0)
                        return -ENOMEM;
        }
        return -ENOMEM;
}

void buf_free(struct buf *b) {
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
}
