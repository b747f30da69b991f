/* Percent-decoding of URL paths and query strings (RFC 3986, with '+' as
 * a space in form-encoded queries). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Lenient: decodes s[0..len) into dst (NUL-terminated, cut to cap - 1
 * bytes); a '%' not followed by two hex digits is kept as it is, '+'
 * becomes a space when plus_is_space. Returns the bytes written. */
size_t url_decode(const char *s, size_t len, bool plus_is_space, char *dst, size_t cap);

/* Strict, for names taken from a URL: '+' is a space; -EINVAL for a '%'
 * not followed by two hex digits or an escaped NUL, -ENOBUFS when the
 * result and its NUL do not fit in cap. Returns the decoded length. */
int url_decode_strict(const char *s, size_t len, char *dst, size_t cap);
