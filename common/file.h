/* Reading a whole (small) file. */
#pragma once
#include <stddef.h>

/* Reads a regular file of at most max bytes into a malloc'd, NUL-terminated
 * buffer. -EISDIR / -EINVAL for a directory / other non-regular file,
 * -EFBIG over max, -ENOMEM, or the -errno of open/read. A file that shrinks
 * while being read gives what was read. */
int sy_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);
