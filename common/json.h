/* A validating, non-allocating JSON scanner for request bodies (RFC 8259).
 * It checks the whole document and reports the members of the top-level
 * object as byte spans into the buffer, so the frontend can read a few
 * fields and splice the body (remove routing-only fields, replace "model")
 * without building a tree. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member {
        const char *key; /* raw key text between the quotes (escapes not decoded) */
        size_t key_len;
        const char *val; /* raw value text: for strings, including the quotes */
        size_t val_len;
        enum json_type type;
        size_t start; /* offset of the key's opening quote */
        size_t end;   /* offset just past the value */
};

struct json_limits {
        unsigned max_depth; /* nesting, default 64 if 0 */
        size_t max_members; /* top-level members reported; more -> -E2BIG */
};

/* Validates buf[0..len) as one JSON value which must be an object; fills
 * members[0..*ret_n). Whitespace around the object is allowed.
 * Returns 0, -EBADMSG (invalid JSON; *ret_err_off = byte offset),
 * -EPROTOTYPE (valid JSON but not an object), -E2BIG (limits). */
int json_scan_object(const char *buf, size_t len, const struct json_limits *lim, struct json_member *members,
                     size_t *ret_n, size_t *ret_err_off);

/* Like json_scan_object but over any value; used for nested objects/arrays:
 * iterate the elements of an array value or the members of an object value
 * (a span previously returned). *iter starts at 0. Returns 1 and fills the
 * member (key NULL for array elements), 0 at the end, -EBADMSG on error.
 * The member's start/end are offsets into val (for array elements, start
 * is the value's own offset). */
int json_iter(const char *val, size_t len, size_t *iter, struct json_member *ret_member);

/* Finds a top-level member by key. Keys are compared after escape
 * decoding and the last of duplicate keys wins, as in the JSON parsers
 * (Python, JavaScript, Go) of the upstreams, so that routing reads the
 * same "model" the upstream will ({"model":"a","mod\u0065l":"b"} is "b"). */
const struct json_member *json_find(const struct json_member *m, size_t n, const char *key);

/* Decodes a JSON string value (with quotes) into out (UTF-8). Returns the
 * decoded length, -ENOBUFS if cap is too small, -EBADMSG if not a string. */
int json_string_decode(const char *val, size_t len, char *out, size_t cap);
/* Writes s as a JSON string literal with quotes; returns bytes written or
 * -ENOBUFS. */
int json_string_encode(const char *s, size_t len, char *out, size_t cap);
