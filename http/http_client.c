/* One non-blocking HTTP GET on an epoll loop (see http_client.h). */
#include "http/http_client.h"

#include <openssl/ssl.h>

#include "http/tls.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_CLIENT_READ 16384
#define HTTP_CLIENT_MAX_HEADERS 48

void http_client_init(struct http_client *g, size_t head_max, size_t body_max) {
        memset(g, 0, sizeof *g);
        g->fd = -1;
        g->head_max = head_max;
        g->body_max = body_max;
}

/* the connection only: the answer stays readable */
static void close_socket(struct http_client *g, int epfd) {
        if (g->ssl) {
                SSL_free(g->ssl);
                g->ssl = NULL;
        }
        if (g->fd >= 0) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, g->fd, NULL);
                close(g->fd);
        }
        g->fd = -1;
        g->state = HTTP_CLIENT_IDLE;
}

void http_client_close(struct http_client *g, int epfd) {
        close_socket(g, epfd);
        g->b.len = 0;
        g->hdr_len = 0;
}

void http_client_free(struct http_client *g, int epfd) {
        http_client_close(g, epfd);
        buf_free(&g->b);
}

enum http_client_result http_client_start(struct http_client *g, int epfd, const struct sockaddr_in6 *addr,
                                          const char *req, size_t req_len, void *ptr) {
        return http_client_start_tls(g, epfd, addr, req, req_len, ptr, NULL);
}

enum http_client_result http_client_start_tls(struct http_client *g, int epfd, const struct sockaddr_in6 *addr,
                                              const char *req, size_t req_len, void *ptr,
                                              const struct tls_upstream *tu) {
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = ptr };
        int one = 1;

        http_client_close(g, epfd);
        g->err = 0;
        g->tls_err[0] = 0;
        if (req_len > sizeof g->req) {
                g->err = ENAMETOOLONG;
                return HTTP_CLIENT_CONNECT_FAILED;
        }
        if (tu && tu->tls && !(g->ssl = tls_client_new(tu, g->tls_err, sizeof g->tls_err)))
                return HTTP_CLIENT_TLS_FAILED;
        memcpy(g->req, req, req_len);
        g->req_len = req_len;
        g->ptr = ptr;
        g->fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (g->fd < 0)
                return HTTP_CLIENT_NO_SOCKET;
        setsockopt(g->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(g->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS) {
                g->err = errno;
                close_socket(g, -1);
                return HTTP_CLIENT_CONNECT_FAILED;
        }
        if (g->ssl)
                SSL_set_fd(g->ssl, g->fd);
        g->state = HTTP_CLIENT_CONNECTING;
        epoll_ctl(epfd, EPOLL_CTL_ADD, g->fd, &ev);
        return HTTP_CLIENT_MORE;
}

/* Head parsed: how is the body framed? 1: parsed, 0: more, -EBADMSG. */
static int read_head(struct http_client *g) {
        struct http_header hdrs[HTTP_CLIENT_MAX_HEADERS];
        struct http_response res = { .headers = hdrs };
        struct http_limits lim = { .max_header_bytes = g->head_max, .max_headers = HTTP_CLIENT_MAX_HEADERS };
        int f, p = http_parse_response(g->b.p, g->b.len, &lim, &res);

        if (p <= 0)
                return p == -EAGAIN ? 0 : -EBADMSG;
        g->hdr_len = (size_t)p;
        g->status = res.status;
        f = http_response_framing(&res, &g->content_length);
        if (f < 0)
                return -EBADMSG;
        g->chunked = f == HTTP_BODY_CHUNKED;
        if (g->chunked) {
                memset(&g->ch, 0, sizeof g->ch);
                g->raw = g->body_end = g->hdr_len;
        } else if (f == HTTP_BODY_TO_CLOSE) {
                g->content_length = UINT64_MAX;
        }
        return 1;
}

/* 1: body complete in b[hdr_len..end), 0: more, -EBADMSG. */
static int body_done(struct http_client *g, bool eof) {
        if (g->chunked) {
                for (;;) {
                        size_t used = 0, dlen = 0;
                        const char *data = NULL;
                        int r = http_chunked_step(&g->ch, g->b.p + g->raw, g->b.len - g->raw, &used, &data, &dlen);

                        if (r < 0)
                                return -EBADMSG;
                        if (dlen) {
                                memmove(g->b.p + g->body_end, data, dlen);
                                g->body_end += dlen;
                        }
                        g->raw += used;
                        if (r == 1) {
                                g->end = g->body_end;
                                return 1;
                        }
                        if (used == 0 || g->raw == g->b.len)
                                return eof ? -EBADMSG : 0;
                }
        }
        if (g->content_length != UINT64_MAX) {
                if (g->b.len - g->hdr_len >= g->content_length) {
                        g->end = g->hdr_len + (size_t)g->content_length;
                        return 1;
                }
                return eof ? -EBADMSG : 0;
        }
        if (eof) {
                g->end = g->b.len;
                return 1;
        }
        return 0;
}

/* recv(), or SSL_read() over TLS with the same answers (-1 EAGAIN: more
 * later; 0: the end, a close_notify or the TCP end). */
static ssize_t client_recv(struct http_client *g, char *p, size_t n) {
        int x, e;

        if (!g->ssl)
                return recv(g->fd, p, n, 0);
        x = SSL_read(g->ssl, p, (int)(n > (1u << 30) ? 1u << 30 : n));
        if (x > 0)
                return x;
        e = SSL_get_error(g->ssl, x);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                errno = EAGAIN;
                return -1;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && x == 0))
                return 0;
        errno = EPROTO;
        return -1;
}

/* Over TLS: the handshake, then the request. */
static enum http_client_result tls_step(struct http_client *g, int epfd) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = g->ptr };
        int x = SSL_connect(g->ssl), e;

        if (x != 1) {
                e = SSL_get_error(g->ssl, x);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                        ev.events = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
                        epoll_ctl(epfd, EPOLL_CTL_MOD, g->fd, &ev);
                        g->state = HTTP_CLIENT_HANDSHAKE;
                        return HTTP_CLIENT_MORE;
                }
                tls_reason(g->ssl, g->tls_err, sizeof g->tls_err);
                return HTTP_CLIENT_TLS_FAILED;
        }
        /* a fresh connection takes the small request at once */
        if (SSL_write(g->ssl, g->req, (int)g->req_len) != (int)g->req_len)
                return HTTP_CLIENT_SEND_FAILED;
        epoll_ctl(epfd, EPOLL_CTL_MOD, g->fd, &ev);
        g->state = HTTP_CLIENT_READING;
        return HTTP_CLIENT_MORE;
}

static enum http_client_result read_answer(struct http_client *g) {
        size_t limit = g->head_max + g->body_max;

        for (;;) {
                size_t room;
                ssize_t r;
                int d;

                if (g->b.cap - g->b.len < HTTP_CLIENT_READ / 2 && g->b.cap < limit &&
                    buf_reserve(&g->b, limit - g->b.len < HTTP_CLIENT_READ ? limit - g->b.len : HTTP_CLIENT_READ) < 0)
                        return HTTP_CLIENT_BAD_ANSWER;
                room = (g->b.cap < limit ? g->b.cap : limit) - g->b.len;
                if (room == 0)
                        return HTTP_CLIENT_BAD_ANSWER; /* over the limits */
                r = client_recv(g, g->b.p + g->b.len, room);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                        return HTTP_CLIENT_MORE;
                if (r < 0)
                        return HTTP_CLIENT_BAD_ANSWER;
                g->b.len += (size_t)r;
                if (!g->hdr_len) {
                        int h = read_head(g);

                        if (h < 0 || (h == 0 && (r == 0 || g->b.len >= g->head_max)))
                                return HTTP_CLIENT_BAD_ANSWER;
                        if (h == 0)
                                continue;
                        if (!g->body_max) {
                                g->end = g->hdr_len;
                                return HTTP_CLIENT_DONE;
                        }
                }
                d = body_done(g, r == 0);
                if (d < 0)
                        return HTTP_CLIENT_BAD_ANSWER;
                if (d == 1)
                        return HTTP_CLIENT_DONE;
                if (r == 0)
                        return HTTP_CLIENT_BAD_ANSWER;
        }
}

enum http_client_result http_client_event(struct http_client *g, int epfd, uint32_t events) {
        if (g->fd < 0)
                return HTTP_CLIENT_BAD_ANSWER;
        if (g->state == HTTP_CLIENT_CONNECTING) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = g->ptr };
                socklen_t l = sizeof g->err;

                g->err = 0;
                getsockopt(g->fd, SOL_SOCKET, SO_ERROR, &g->err, &l);
                if (g->err || (events & (EPOLLERR | EPOLLHUP)))
                        return HTTP_CLIENT_CONNECT_FAILED;
                if (g->ssl)
                        return tls_step(g, epfd);
                if (send(g->fd, g->req, g->req_len, MSG_NOSIGNAL) != (ssize_t)g->req_len)
                        return HTTP_CLIENT_SEND_FAILED;
                epoll_ctl(epfd, EPOLL_CTL_MOD, g->fd, &ev);
                g->state = HTTP_CLIENT_READING;
                return HTTP_CLIENT_MORE;
        }
        if (g->state == HTTP_CLIENT_HANDSHAKE)
                return tls_step(g, epfd);
        return read_answer(g);
}

const char *http_client_body(const struct http_client *g, size_t *ret_len) {
        *ret_len = g->end - g->hdr_len;
        return g->b.p + g->hdr_len;
}

enum http_client_result http_client_fetch(struct http_client *g, const struct sockaddr_in6 *addr, const char *req,
                                          size_t req_len, unsigned timeout_ms) {
        struct timespec ts;
        uint64_t deadline;
        enum http_client_result r;
        int epfd = epoll_create1(EPOLL_CLOEXEC);

        if (epfd < 0)
                return HTTP_CLIENT_NO_SOCKET;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + timeout_ms;
        r = http_client_start(g, epfd, addr, req, req_len, g);
        while (r == HTTP_CLIENT_MORE) {
                struct epoll_event ev;
                uint64_t now;
                int n;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
                if (now >= deadline)
                        break; /* timed out: HTTP_CLIENT_MORE */
                n = epoll_wait(epfd, &ev, 1, (int)(deadline - now));
                if (n < 0 && errno != EINTR) {
                        r = HTTP_CLIENT_BAD_ANSWER;
                        break;
                }
                if (n == 1)
                        r = http_client_event(g, epfd, ev.events);
        }
        close_socket(g, epfd);
        close(epfd);
        return r;
}
