/* HTTP/1.x message parsing: pure functions over a buffer (picohttpparser
 * style). Nothing is allocated, nothing is read at or beyond buf + len, and
 * every function is reentrant.
 *
 * Syntax is RFC 9112, strict where leniency has been a smuggling vector:
 *   - tokens (method, field names) are tchar only; no whitespace before ':'
 *   - obs-fold (a line starting with SP/HTAB) is rejected
 *   - field values and reason phrases: HTAB, SP, VCHAR, obs-text only
 *     (NUL, other controls, DEL and lone CR are rejected)
 *   - request-target: no controls, SP or DEL (obs-text bytes are accepted,
 *     as nginx and picohttpparser do)
 *   - line endings in the header block: CRLF, or a bare LF
 *   - empty lines before the start line are skipped (RFC 9112 2.2)
 * The chunked decoder is stricter still: CRLF everywhere, as a bare LF in
 * chunk framing is a classic request smuggling vector. */
#include "http/http_parse.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/ascii.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static const uint8_t tchar[256] = {
        ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
        ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1,  ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
        ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1,  ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
        ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,  ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1,
        ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1,
        ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,  ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
        ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,  ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,
        ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,  ['z'] = 1,
};

/* Bytes allowed in a field value / reason phrase: HTAB, SP, VCHAR, obs-text. */
static inline bool is_field_byte(uint8_t c) {
        return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/* Bytes allowed in a request-target: everything visible, obs-text too. */
static inline bool is_target_byte(uint8_t c) {
        return c > 0x20 && c != 0x7f;
}

static inline bool is_ows(uint8_t c) {
        return c == ' ' || c == '\t';
}

#ifdef __SSE2__
/* Skips 16 bytes at a time while none is <= max (unsigned) or DEL: returns
 * the first such byte, or where fewer than 16 bytes are left. */
static inline const uint8_t *skip16_above(const uint8_t *p, const uint8_t *end, uint8_t max) {
        const __m128i lim = _mm_set1_epi8((char)max);
        const __m128i del = _mm_set1_epi8(0x7f);
        while (end - p >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
                __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, lim), v), _mm_cmpeq_epi8(v, del));
                unsigned m = (unsigned)_mm_movemask_epi8(bad);
                if (m != 0)
                        return p + __builtin_ctz(m);
                p += 16;
        }
        return p;
}
#endif

/* Returns the first p in [p, end) that is not a field byte (or end). */
static inline const uint8_t *skip_field_bytes(const uint8_t *p, const uint8_t *end) {
        for (;;) {
#ifdef __SSE2__
                p = skip16_above(p, end, 0x1f);
#else
                while (end - p >= 4 && is_field_byte(p[0]) && is_field_byte(p[1]) && is_field_byte(p[2]) &&
                       is_field_byte(p[3]))
                        p += 4;
#endif
                while (p < end && *p >= 0x20 && *p != 0x7f)
                        p++;
                if (p < end && *p == '\t') {
                        p++;
                        continue;
                }
                return p;
        }
}

/* Returns the first p in [p, end) that is not a request-target byte. */
static inline const uint8_t *skip_target_bytes(const uint8_t *p, const uint8_t *end) {
#ifdef __SSE2__
        p = skip16_above(p, end, 0x20);
#endif
        while (p < end && is_target_byte(*p))
                p++;
        return p;
}

static inline const uint8_t *skip_token(const uint8_t *p, const uint8_t *end) {
        while (end - p >= 4 && tchar[p[0]] && tchar[p[1]] && tchar[p[2]] && tchar[p[3]])
                p += 4;
        while (p < end && tchar[*p])
                p++;
        return p;
}

/* Consumes a line ending (CRLF or LF) at *pp. 0 on success. */
static inline int eat_eol(const uint8_t **pp, const uint8_t *end) {
        const uint8_t *p = *pp;

        if (p == end)
                return -EAGAIN;
        if (*p == '\n') {
                *pp = p + 1;
                return 0;
        }
        if (*p != '\r')
                return -EBADMSG;
        if (p + 1 == end)
                return -EAGAIN;
        if (p[1] != '\n')
                return -EBADMSG;
        *pp = p + 2;
        return 0;
}

/* Skips empty lines before a start line. */
static inline int skip_empty_lines(const uint8_t **pp, const uint8_t *end) {
        const uint8_t *p = *pp;

        while (p < end && (*p == '\r' || *p == '\n')) {
                int r = eat_eol(&p, end);
                if (r < 0)
                        return r;
        }
        *pp = p;
        return 0;
}

/* "HTTP/" DIGIT "." DIGIT. Returns 0 and the digits, -EAGAIN if the
 * available bytes are a strict prefix of that form, -EBADMSG otherwise. */
static inline int parse_version(const uint8_t **pp, const uint8_t *end, int *ret_major, int *ret_minor) {
        static const char pat[] = "HTTP/0.0";
        const uint8_t *p = *pp;
        size_t avail = (size_t)(end - p);

        if (likely(avail >= 8)) {
                if (memcmp(p, "HTTP/", 5) != 0 || !ascii_is_digit(p[5]) || p[6] != '.' || !ascii_is_digit(p[7]))
                        return -EBADMSG;
                *ret_major = p[5] - '0';
                *ret_minor = p[7] - '0';
                *pp = p + 8;
                return 0;
        }
        for (size_t i = 0; i < avail; i++) {
                if (pat[i] == '0') {
                        if (!ascii_is_digit(p[i]))
                                return -EBADMSG;
                } else if (p[i] != (uint8_t)pat[i])
                        return -EBADMSG;
        }
        return -EAGAIN;
}

static inline int check_version(int major, int minor) {
        return major == 1 && (minor == 0 || minor == 1) ? 0 : -ENOTSUP;
}

/* Parses header lines up to and including the empty line. */
static inline int parse_headers(const uint8_t **pp, const uint8_t *end, struct http_header *headers, size_t max_headers,
                                size_t *ret_n) {
        const uint8_t *p = *pp;
        size_t n = 0;

        for (;;) {
                const uint8_t *name, *value, *eol;
                int r;

                if (unlikely(p == end))
                        return -EAGAIN;
                if (*p == '\r' || *p == '\n') {
                        r = eat_eol(&p, end);
                        if (r < 0)
                                return r;
                        break;
                }
                /* obs-fold, or whitespace between start line and first field */
                if (unlikely(!tchar[*p]))
                        return -EBADMSG;
                if (unlikely(n >= max_headers))
                        return -E2BIG;

                name = p;
                p = skip_token(p, end);
                if (unlikely(p == end))
                        return -EAGAIN;
                if (unlikely(*p != ':'))
                        return -EBADMSG;
                headers[n].name = (const char *)name;
                headers[n].name_len = (size_t)(p - name);
                p++;
                while (p < end && is_ows(*p))
                        p++;
                value = p;
                p = skip_field_bytes(p, end);
                eol = p;
                r = eat_eol(&p, end);
                if (unlikely(r < 0))
                        return r;
                while (eol > value && is_ows(eol[-1]))
                        eol--;
                headers[n].value = (const char *)value;
                headers[n].value_len = (size_t)(eol - value);
                n++;
        }
        *pp = p;
        *ret_n = n;
        return 0;
}

/* The parsers never look past max_header_bytes (clamped so that the
 * consumed count fits the int return value). */
static inline size_t header_max(const struct http_limits *lim) {
        return lim->max_header_bytes < INT_MAX ? lim->max_header_bytes : INT_MAX;
}

/* Where the parsers stop reading in buf[0..len). */
static inline const uint8_t *header_end(const uint8_t *buf, size_t len, const struct http_limits *lim) {
        size_t max = header_max(lim);
        return buf + (len < max ? len : max);
}

/* Does buf[0..len) hold the end of a header block (an empty line)? */
static bool has_block_end(const uint8_t *buf, size_t len) {
        const uint8_t *p = buf, *end = buf + len;

        while ((p = memchr(p, '\n', (size_t)(end - p)))) {
                p++;
                if (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
                        return true;
        }
        return false;
}

/* Limits first: when more than max bytes are buffered and the first max
 * bytes hold no complete header block, the answer is -E2BIG, whatever
 * else is wrong with those bytes. */
static inline int finish(int r, const uint8_t *buf, size_t len, const struct http_limits *lim) {
        size_t max = header_max(lim);

        if (r >= 0 || len <= max)
                return r;
        if (r == -EAGAIN || ((r == -EBADMSG || r == -ENOTSUP) && !has_block_end(buf, max)))
                return -E2BIG;
        return r;
}

/* Consumes the method (a token) or the request-target at *pp and the SP
 * after it; the word must not be empty. 0 on success. */
static inline int eat_word_sp(const uint8_t **pp, const uint8_t *end, bool target, size_t *ret_len) {
        const uint8_t *start = *pp;
        const uint8_t *p = target ? skip_target_bytes(start, end) : skip_token(start, end);

        if (p == end)
                return -EAGAIN;
        if (*p != ' ' || p == start)
                return -EBADMSG;
        *ret_len = (size_t)(p - start);
        *pp = p + 1;
        return 0;
}

static int parse_request(const uint8_t *buf, const uint8_t *end, const struct http_limits *lim,
                         struct http_request *req) {
        const uint8_t *p = buf, *method, *target;
        size_t method_len, target_len, n;
        int major, minor, r;

        r = skip_empty_lines(&p, end);
        if (r < 0)
                return r;

        method = p;
        r = eat_word_sp(&p, end, false, &method_len);
        if (r < 0)
                return r;
        target = p;
        r = eat_word_sp(&p, end, true, &target_len);
        if (r < 0)
                return r;

        r = parse_version(&p, end, &major, &minor);
        if (r < 0)
                return r;
        r = eat_eol(&p, end);
        if (r < 0)
                return r;
        r = check_version(major, minor);
        if (r < 0)
                return r;

        r = parse_headers(&p, end, req->headers, lim->max_headers, &n);
        if (r < 0)
                return r;

        req->method = (const char *)method;
        req->method_len = method_len;
        req->target = (const char *)target;
        req->target_len = target_len;
        req->minor_version = minor;
        req->num_headers = n;
        return (int)(p - buf);
}

int http_parse_request(const char *buf, size_t len, const struct http_limits *lim, struct http_request *req) {
        const uint8_t *b = (const uint8_t *)buf;
        return finish(parse_request(b, header_end(b, len, lim), lim, req), b, len, lim);
}

static int parse_response(const uint8_t *buf, const uint8_t *end, const struct http_limits *lim,
                          struct http_response *res) {
        const uint8_t *p = buf, *reason, *reason_end;
        int major, minor, status, r;
        size_t n;

        r = skip_empty_lines(&p, end);
        if (r < 0)
                return r;

        r = parse_version(&p, end, &major, &minor);
        if (r < 0)
                return r;
        if (p == end)
                return -EAGAIN;
        if (*p != ' ')
                return -EBADMSG;
        r = check_version(major, minor);
        if (r < 0)
                return r;
        p++;

        /* status-code = 3DIGIT */
        if (end - p < 3) {
                for (; p < end; p++)
                        if (!ascii_is_digit(*p))
                                return -EBADMSG;
                return -EAGAIN;
        }
        if (!ascii_is_digit(p[0]) || p[0] == '0' || !ascii_is_digit(p[1]) || !ascii_is_digit(p[2]))
                return -EBADMSG;
        status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;

        /* SP [ reason-phrase ]; the SP is tolerated missing when the
         * reason is empty ("HTTP/1.1 200\r\n"), as most clients do. */
        if (p == end)
                return -EAGAIN;
        if (*p == ' ')
                p++;
        else if (*p != '\r' && *p != '\n')
                return -EBADMSG;
        reason = p;
        p = skip_field_bytes(p, end);
        reason_end = p;
        r = eat_eol(&p, end);
        if (r < 0)
                return r;

        r = parse_headers(&p, end, res->headers, lim->max_headers, &n);
        if (r < 0)
                return r;

        res->minor_version = minor;
        res->status = status;
        res->reason = (const char *)reason;
        res->reason_len = (size_t)(reason_end - reason);
        res->num_headers = n;
        return (int)(p - buf);
}

int http_parse_response(const char *buf, size_t len, const struct http_limits *lim, struct http_response *res) {
        const uint8_t *b = (const uint8_t *)buf;
        return finish(parse_response(b, header_end(b, len, lim), lim, res), b, len, lim);
}

static inline uint8_t lower(uint8_t c) {
        return (unsigned)(c - 'A') < 26u ? c | 0x20 : c;
}

static bool eq_nocase(const char *a, const char *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (lower((uint8_t)a[i]) != lower((uint8_t)b[i]))
                        return false;
        return true;
}

const struct http_header *http_find_header(const struct http_header *h, size_t n, const char *name) {
        size_t len = strlen(name);

        for (size_t i = 0; i < n; i++)
                if (h[i].name_len == len && eq_nocase(h[i].name, name, len))
                        return &h[i];
        return NULL;
}

bool http_header_has_token(const char *value, size_t len, const char *token) {
        size_t tlen = strlen(token);
        const char *p = value, *end = value + len;

        while (p < end) {
                const char *e = memchr(p, ',', (size_t)(end - p));
                const char *s = p, *t;

                if (!e)
                        e = end;
                t = e;
                while (s < t && is_ows((uint8_t)*s))
                        s++;
                while (t > s && is_ows((uint8_t)t[-1]))
                        t--;
                if ((size_t)(t - s) == tlen && eq_nocase(s, token, tlen))
                        return true;
                p = e + 1;
        }
        return false;
}

int http_parse_content_length(const char *value, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                unsigned d = (uint8_t)value[i] - (unsigned)'0';
                if (d > 9)
                        return -EBADMSG;
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int http_response_framing(const struct http_response *res, uint64_t *ret_length) {
        const struct http_header *h;

        *ret_length = 0;
        if ((res->status >= 100 && res->status < 200) || res->status == 204 || res->status == 304)
                return HTTP_BODY_LENGTH;
        h = http_find_header(res->headers, res->num_headers, "transfer-encoding");
        if (h && http_header_has_token(h->value, h->value_len, "chunked"))
                return HTTP_BODY_CHUNKED;
        h = http_find_header(res->headers, res->num_headers, "content-length");
        if (!h)
                return HTTP_BODY_TO_CLOSE;
        return http_parse_content_length(h->value, h->value_len, ret_length) < 0 ? -EBADMSG : HTTP_BODY_LENGTH;
}

/* ---- chunked transfer coding (RFC 9112 7.1) ---- */

enum {
        CH_SIZE = 0, /* chunk-size hex digits */
        CH_SIZE_WS,  /* BWS after the size, before ';' or CRLF */
        CH_EXT,      /* chunk-ext, ignored */
        CH_SIZE_LF,  /* CR seen at the end of the size line */
        CH_DATA,     /* chunk-data */
        CH_DATA_CR,  /* CRLF after chunk-data */
        CH_DATA_LF,
        CH_TRAILER_BOL, /* start of a trailer line or of the final CRLF */
        CH_TRAILER,     /* inside a trailer field line */
        CH_TRAILER_LF,  /* CR seen at the end of a trailer field line */
        CH_END_LF,      /* CR of the final CRLF seen */
        CH_DONE,
        CH_ERROR,
};

#define CHUNK_LINE_MAX 1024u    /* chunk-size line, extensions included */
#define CHUNK_TRAILER_MAX 8192u /* all trailer lines together */

static int chunked_fail(struct http_chunked *d, int err) {
        d->state = CH_ERROR;
        d->remaining = (uint64_t)-err;
        return err;
}

int http_chunked_step(struct http_chunked *d, const char *buf, size_t len, size_t *ret_consumed, const char **ret_data,
                      size_t *ret_data_len) {
        const uint8_t *p = (const uint8_t *)buf, *end = p + len;
        int state = d->state;

        if (state == CH_ERROR)
                return -(int)d->remaining;

        while (p < end) {
                uint8_t c = *p;

                switch (state) {
                case CH_SIZE: {
                        int h = ascii_hex_value(c);
                        if (h >= 0) {
                                if (d->remaining > (UINT64_MAX >> 4))
                                        return chunked_fail(d, -EBADMSG);
                                d->remaining = d->remaining << 4 | (uint64_t)h;
                                d->hex_digits++;
                                break;
                        }
                        if (d->hex_digits == 0)
                                return chunked_fail(d, -EBADMSG);
                        if (c == '\r')
                                state = CH_SIZE_LF;
                        else if (c == ';')
                                state = CH_EXT;
                        else if (is_ows(c))
                                state = CH_SIZE_WS;
                        else
                                return chunked_fail(d, -EBADMSG);
                        break;
                }
                case CH_SIZE_WS:
                        if (c == ';')
                                state = CH_EXT;
                        else if (c == '\r')
                                state = CH_SIZE_LF;
                        else if (!is_ows(c))
                                return chunked_fail(d, -EBADMSG);
                        break;
                case CH_EXT:
                case CH_TRAILER:
                        /* an extension or a trailer field line, up to its CR */
                        if (c == '\r')
                                state = state == CH_EXT ? CH_SIZE_LF : CH_TRAILER_LF;
                        else if (!is_field_byte(c))
                                return chunked_fail(d, -EBADMSG);
                        break;
                case CH_SIZE_LF:
                        if (c != '\n')
                                return chunked_fail(d, -EBADMSG);
                        d->line_bytes = 0;
                        d->hex_digits = 0;
                        state = d->remaining ? CH_DATA : CH_TRAILER_BOL;
                        p++;
                        continue;
                case CH_DATA: {
                        size_t n = (size_t)(end - p);
                        if ((uint64_t)n > d->remaining)
                                n = (size_t)d->remaining;
                        d->remaining -= n;
                        if (d->remaining == 0)
                                state = CH_DATA_CR;
                        d->state = state;
                        *ret_data = (const char *)p;
                        *ret_data_len = n;
                        *ret_consumed = (size_t)(p + n - (const uint8_t *)buf);
                        return 0;
                }
                case CH_DATA_CR:
                case CH_DATA_LF:
                        /* the CRLF after chunk-data, outside any line limit */
                        if (c != (state == CH_DATA_CR ? '\r' : '\n'))
                                return chunked_fail(d, -EBADMSG);
                        state = state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
                        p++;
                        continue;
                case CH_TRAILER_BOL:
                        if (c == '\r') {
                                state = CH_END_LF;
                        } else if (tchar[c]) {
                                state = CH_TRAILER;
                        } else {
                                return chunked_fail(d, -EBADMSG);
                        }
                        break;
                case CH_TRAILER_LF:
                        if (c != '\n')
                                return chunked_fail(d, -EBADMSG);
                        state = CH_TRAILER_BOL;
                        break;
                case CH_END_LF:
                        if (c != '\n')
                                return chunked_fail(d, -EBADMSG);
                        p++;
                        d->state = CH_DONE;
                        *ret_data = NULL;
                        *ret_data_len = 0;
                        *ret_consumed = (size_t)(p - (const uint8_t *)buf);
                        return 1;
                case CH_DONE:
                        goto out;
                default:
                        return chunked_fail(d, -EBADMSG);
                }

                /* bytes of a size line or of the trailers, for the limits */
                d->line_bytes++;
                if (state <= CH_SIZE_LF) {
                        if (d->line_bytes > CHUNK_LINE_MAX)
                                return chunked_fail(d, -E2BIG);
                } else if (d->line_bytes > CHUNK_TRAILER_MAX) {
                        return chunked_fail(d, -E2BIG);
                }
                p++;
        }
out:
        d->state = state;
        *ret_data = NULL;
        *ret_data_len = 0;
        *ret_consumed = (size_t)(p - (const uint8_t *)buf);
        return state == CH_DONE ? 1 : 0;
}

const char *http_reason_phrase(int status) {
        switch (status) {
        case 100:
                return "Continue";
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 204:
                return "No Content";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 409:
                return "Conflict";
        case 413:
                return "Payload Too Large";
        case 414:
                return "URI Too Long";
        case 422:
                return "Unprocessable Entity";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return "Unknown";
        }
}
