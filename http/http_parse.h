/* HTTP/1.x message parsing: pure functions over a buffer. Nothing is
 * allocated; names and values point into the caller's buffer. Limits are
 * checked first. (picohttpparser style.)
 *
 * Return values of the parse functions:
 *   > 0        bytes of the header block consumed (through the blank line)
 *   -EAGAIN    incomplete: read more and call again with the whole buffer
 *   -EBADMSG   malformed (400)
 *   -E2BIG     header block larger than max_header_bytes or more than
 *              max_headers headers (431)
 *   -ENOTSUP   HTTP version other than 1.0 / 1.1 (505) */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct http_header {
        const char *name;
        size_t name_len;
        const char *value; /* leading/trailing whitespace removed */
        size_t value_len;
};

struct http_limits {
        size_t max_header_bytes; /* request line + headers + CRLFs */
        size_t max_headers;      /* <= the headers array capacity */
};

struct http_request {
        const char *method;
        size_t method_len;
        const char *target; /* request-target as sent: path + query */
        size_t target_len;
        int minor_version;           /* 0 or 1 */
        struct http_header *headers; /* caller's array */
        size_t num_headers;
};

struct http_response {
        int minor_version;
        int status;
        const char *reason;
        size_t reason_len;
        struct http_header *headers;
        size_t num_headers;
};

/* req->headers must point to an array of at least lim->max_headers entries. */
int http_parse_request(const char *buf, size_t len, const struct http_limits *lim, struct http_request *req);
int http_parse_response(const char *buf, size_t len, const struct http_limits *lim, struct http_response *res);

/* Case-insensitive header lookup; NULL if absent. */
const struct http_header *http_find_header(const struct http_header *h, size_t n, const char *name);
/* Does a comma-separated header value contain token (case-insensitive)?
 * e.g. Connection: keep-alive, Upgrade */
bool http_header_has_token(const char *value, size_t len, const char *token);
/* Strict Content-Length: digits only, no overflow; -EBADMSG otherwise. */
int http_parse_content_length(const char *value, size_t len, uint64_t *ret);

/* How a response's body is framed (RFC 9112 6.3): 1xx, 204 and 304 have
 * none (HTTP_BODY_LENGTH, *ret_length 0), then Transfer-Encoding chunked,
 * then Content-Length (*ret_length), else the body runs to the close.
 * Returns the framing, or -EBADMSG for a bad Content-Length. */
enum http_body_framing { HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_TO_CLOSE };
int http_response_framing(const struct http_response *res, uint64_t *ret_length);

/* Incremental chunked transfer-coding decoder. Zero-initialise, then call
 * http_chunked_step repeatedly over incoming bytes. Each call consumes
 * *ret_consumed bytes of buf and may yield one span of body data
 * (*ret_data, *ret_data_len, pointing into buf; len 0 if none).
 * Returns 1 when the terminating chunk and trailers have been consumed,
 * 0 when more input is needed (or more steps: call again while
 * *ret_consumed > 0 and bytes remain), -EBADMSG on malformed input,
 * -E2BIG if a chunk-size line or the trailers exceed limits. */
struct http_chunked {
        int state;
        uint64_t remaining; /* bytes left in the current chunk */
        size_t line_bytes;  /* bytes of size line / trailer seen, for limits */
        int hex_digits;
};
int http_chunked_step(struct http_chunked *d, const char *buf, size_t len, size_t *ret_consumed, const char **ret_data,
                      size_t *ret_data_len);

/* The standard reason phrase for a status code ("Unknown" if none). */
const char *http_reason_phrase(int status);
