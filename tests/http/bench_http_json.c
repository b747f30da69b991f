/* Throughput of the HTTP parser, the chunked decoder and the JSON scanner.
 * Prints figures; never fails on timing. `meson test --benchmark`, or run
 * it directly (an optional argument scales the iteration counts). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "http/http_parse.h"

static volatile size_t sink;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void report(const char *what, size_t bytes, long iters, double secs) {
        printf("%-40s %8.1f ns/op %9.1f MB/s  (%zu bytes x %ld)\n", what, secs * 1e9 / (double)iters,
               (double)bytes * (double)iters / secs / 1e6, bytes, iters);
}

static const char request[] = "POST /v1/chat/completions HTTP/1.1\r\n"
                              "Host: switchyard.internal:8080\r\n"
                              "Accept-Encoding: gzip, deflate\r\n"
                              "Connection: keep-alive\r\n"
                              "Accept: application/json\r\n"
                              "Content-Type: application/json\r\n"
                              "User-Agent: OpenAI/Python 1.40.6\r\n"
                              "X-Stainless-Lang: python\r\n"
                              "X-Stainless-Package-Version: 1.40.6\r\n"
                              "X-Stainless-Runtime: CPython\r\n"
                              "Authorization: Bearer sk-proj-0123456789abcdefghijklmnop\r\n"
                              "Content-Length: 1234\r\n"
                              "\r\n";

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "date: Tue, 01 Oct 2024 12:00:00 GMT\r\n"
                               "server: uvicorn\r\n"
                               "content-type: text/event-stream; charset=utf-8\r\n"
                               "transfer-encoding: chunked\r\n"
                               "x-request-id: 6f1c2a7e-1b4d-4c59-9e1a-3c0f1d2b9a77\r\n"
                               "\r\n";

static void bench_request(long iters) {
        struct http_header h[64];
        struct http_request req = { .headers = h };
        struct http_limits lim = { .max_header_bytes = 8192, .max_headers = 64 };
        size_t len = sizeof(request) - 1;
        double t;

        t = now();
        for (long i = 0; i < iters; i++) {
                int r = http_parse_request(request, len, &lim, &req);
                sink += (size_t)r + req.num_headers;
        }
        report("http_parse_request (OpenAI SDK POST)", len, iters, now() - t);
}

static void bench_response(long iters) {
        struct http_header h[64];
        struct http_response res = { .headers = h };
        struct http_limits lim = { .max_header_bytes = 8192, .max_headers = 64 };
        size_t len = sizeof(response) - 1;
        double t;

        t = now();
        for (long i = 0; i < iters; i++) {
                int r = http_parse_response(response, len, &lim, &res);
                sink += (size_t)r + res.num_headers;
        }
        report("http_parse_response (vLLM SSE)", len, iters, now() - t);
}

static void bench_chunked(long iters) {
        static char body[70000];
        size_t n = 0;
        double t;

        while (n < 64000)
                n += (size_t)sprintf(body + n,
                                     "%x\r\ndata: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":"
                                     "{\"content\":\" token\"}}]}\r\n\r\n\r\n",
                                     (unsigned)strlen("data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":"
                                                      "{\"content\":\" token\"}}]}\r\n\r\n"));
        n += (size_t)sprintf(body + n, "0\r\n\r\n");
        t = now();
        for (long i = 0; i < iters; i++) {
                struct http_chunked d = { 0 };
                size_t off = 0, c, dl;
                const char *p;
                while (http_chunked_step(&d, body + off, n - off, &c, &p, &dl) == 0 && c > 0) {
                        off += c;
                        sink += dl;
                }
        }
        report("http_chunked_step (SSE stream, 64 KB)", n, iters, now() - t);
}

static size_t make_chat(char *body, size_t target, bool cjk) {
        size_t k = 0;

        k += (size_t)sprintf(body + k, "{\"model\":\"auto\",\"stream\":true,\"messages\":[");
        for (int i = 0; k < target; i++)
                k += (size_t)sprintf(body + k, "%s{\"role\":\"%s\",\"content\":\"%s\"}", i ? "," : "",
                                     i % 2 ? "assistant" : "user",
                                     cjk ? "\xe8\xaf\xb7\xe8\xa7\xa3\xe9\x87\x8a\xe4\xb8\x80\xe4\xb8\x8b"
                                           "\xe9\x87\x8f\xe5\xad\x90\xe8\xae\xa1\xe7\xae\x97\xe7\x9a\x84"
                                           "\xe5\x9f\xba\xe6\x9c\xac\xe5\x8e\x9f\xe7\x90\x86\xe3\x80\x82"
                                           "\xe8\xaf\xb7\xe8\xa7\xa3\xe9\x87\x8a\xe4\xb8\x80\xe4\xb8\x8b"
                                           "\xe9\x87\x8f\xe5\xad\x90\xe8\xae\xa1\xe7\xae\x97\xe7\x9a\x84"
                                         : "Explain how a transformer model computes attention over a "
                                           "long context, step by step.\\nUse \\\"examples\\\" where it "
                                           "helps; keep each step short and precise, please.");
        k += (size_t)sprintf(body + k, "],\"temperature\":0.7,\"max_tokens\":1024}");
        return k;
}

static void bench_json(long iters, bool cjk) {
        static char body[140000];
        size_t len = make_chat(body, 100000, cjk);
        struct json_member m[32];
        struct json_limits lim = { .max_depth = 64, .max_members = 32 };
        size_t n, err;
        double t;

        if (json_scan_object(body, len, &lim, m, &n, &err) != 0) {
                fprintf(stderr, "bench body invalid at %zu\n", err);
                exit(1);
        }
        t = now();
        for (long i = 0; i < iters; i++) {
                int r = json_scan_object(body, len, &lim, m, &n, &err);
                sink += (size_t)r + n;
        }
        report(cjk ? "json_scan_object (100 KB chat, CJK)" : "json_scan_object (100 KB chat, ASCII)", len, iters,
               now() - t);
}

static void bench_json_small(long iters) {
        const char *body = "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful "
                           "assistant.\"},{\"role\":\"user\",\"content\":\"What is the capital of France?\"}],"
                           "\"stream\":true,\"temperature\":0.2}";
        size_t len = strlen(body), n, err;
        struct json_member m[32];
        struct json_limits lim = { .max_depth = 64, .max_members = 32 };
        double t;

        t = now();
        for (long i = 0; i < iters; i++) {
                int r = json_scan_object(body, len, &lim, m, &n, &err);
                sink += (size_t)r + n;
        }
        report("json_scan_object (small chat body)", len, iters, now() - t);
}

int main(int argc, char **argv) {
        double scale = argc > 1 ? atof(argv[1]) : 1.0;

        bench_request((long)(2000000 * scale));
        bench_response((long)(2000000 * scale));
        bench_chunked((long)(2000 * scale));
        bench_json_small((long)(1000000 * scale));
        bench_json((long)(2000 * scale), false);
        bench_json((long)(2000 * scale), true);
        return 0;
}
