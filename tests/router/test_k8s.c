/* router/k8s.c against tests/router/fake_apiserver.py: list, watch events,
 * watch expiry (ERROR 410 and HTTP 410 -> relist), dropped connections
 * (re-watch from the last resourceVersion), bookmarks, a watch ending
 * normally, relist on request, pods with named ports, a refused token and
 * an untrusted certificate.
 *
 * usage: test_k8s GROUP PYTHON3 FAKE_APISERVER_PY
 *   GROUP: slices | pods | auth | ca | plain
 * Waits are bounded (a state not reached within 15 s fails the test); no
 * timing is asserted. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "router/k8s.h"
#include "tests/check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct k8s_endpoint seen[64];
static size_t n_seen;
static unsigned callbacks;

static char dir[256], api_url[256], ca_file[512], token_file[512];
static int ctl_port;
static pid_t fake_pid;
static FILE *fake_in;

static void on_change(void *arg, const struct k8s_endpoint *eps, size_t n) {
        (void)arg;
        pthread_mutex_lock(&lock);
        n_seen = n < 64 ? n : 64;
        if (n_seen)
                memcpy(seen, eps, n_seen * sizeof *eps);
        callbacks++;
        pthread_mutex_unlock(&lock);
}

/* "name ip:port model; ..." of the current set */
static void current(char *out, size_t cap) {
        size_t o = 0;

        out[0] = 0;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_seen && o < cap; i++)
                o += (size_t)snprintf(out + o, cap - o, "%s%s %s:%u %s", i ? "; " : "", seen[i].name, seen[i].ip,
                                      seen[i].port, seen[i].model);
        pthread_mutex_unlock(&lock);
}

static bool wait_set(const char *want) {
        char cur[4096];

        for (int i = 0; i < 1500; i++) {
                current(cur, sizeof cur);
                if (strcmp(cur, want) == 0)
                        return true;
                usleep(10000);
        }
        fprintf(stderr, "endpoint set: want \"%s\"\n               got  \"%s\"\n", want, cur);
        return false;
}

static void start_fake(const char *py, const char *script, bool plain) {
        int in[2], out[2];
        char line[1024];
        FILE *f;

        snprintf(dir, sizeof dir, "/tmp/sy-k8s-test-XXXXXX");
        check(mkdtemp(dir) != NULL);
        check(pipe(in) == 0 && pipe(out) == 0);
        fake_pid = fork();
        check(fake_pid >= 0);
        if (fake_pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                close(in[1]);
                close(out[0]);
                if (plain)
                        execl(py, py, script, "--dir", dir, "--token", "s3cret-token", "--plain", (char *)NULL);
                else
                        execl(py, py, script, "--dir", dir, "--token", "s3cret-token", (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        fake_in = fdopen(in[1], "w");
        f = fdopen(out[0], "r");
        check(f && fgets(line, sizeof line, f));
        check(sscanf(line, "READY %255s %d %511s", api_url, &ctl_port, ca_file) == 3);
        snprintf(token_file, sizeof token_file, "%s/token", dir);
        FILE *t = fopen(token_file, "w");
        check(t);
        fputs("s3cret-token\n", t);
        fclose(t);
}

static void stop_fake(void) {
        char cmd[600];

        if (fake_in)
                fclose(fake_in);
        if (fake_pid > 0) {
                kill(fake_pid, SIGTERM);
                waitpid(fake_pid, NULL, 0);
        }
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
}

/* One request to the control port; returns the status, body into out. */
static int ctl(const char *method, const char *path, const char *body, char *out, size_t cap) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ctl_port) };
        char req[16384], resp[16384];
        size_t got = 0;
        int fd = socket(AF_INET, SOCK_STREAM, 0), n, status = 0;

        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        check(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
        n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, body ? strlen(body) : 0, body ? body : "");
        check(write(fd, req, (size_t)n) == n);
        for (;;) {
                ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        resp[got] = 0;
        close(fd);
        sscanf(resp, "HTTP/1.%*d %d", &status);
        if (out) {
                char *b = strstr(resp, "\r\n\r\n");
                snprintf(out, cap, "%s", b ? b + 4 : "");
        }
        return status;
}

static void put(const char *resource, const char *obj_fmt, ...) {
        char obj[8192], body[9000];
        va_list ap;

        va_start(ap, obj_fmt);
        vsnprintf(obj, sizeof obj, obj_fmt, ap);
        va_end(ap);
        snprintf(body, sizeof body, "{\"resource\": \"%s\", \"namespace\": \"llm\", \"object\": %s}", resource, obj);
        check_eq(ctl("POST", "/objects", body, NULL, 0), 200);
}

static void del(const char *resource, const char *name) {
        char path[256];
        snprintf(path, sizeof path, "/objects?resource=%s&namespace=llm&name=%s", resource, name);
        check_eq(ctl("DELETE", path, NULL, NULL, 0), 200);
}

static long fake_stat(const char *key) {
        char body[16384], pat[64], *p;

        check_eq(ctl("GET", "/stats", NULL, body, sizeof body), 200);
        snprintf(pat, sizeof pat, "\"%s\": ", key);
        p = strstr(body, pat);
        check(p);
        return strtol(p + strlen(pat), NULL, 10);
}

static struct k8s_stats stats(struct k8s_client *c) {
        struct k8s_stats s;
        k8s_client_get_stats(c, &s);
        return s;
}

/* waits until the client's stat field reaches at least v */
#define WAIT_STAT(c, field, v)                                                                                  \
        do {                                                                                                    \
                int i_;                                                                                         \
                for (i_ = 0; i_ < 1500 && stats(c).field < (uint64_t)(v); i_++)                                 \
                        usleep(10000);                                                                          \
                if (stats(c).field < (uint64_t)(v)) {                                                           \
                        fprintf(stderr, "%s:%d: %s stayed at %llu, want >= %llu\n", __FILE__, __LINE__, #field, \
                                (unsigned long long)stats(c).field, (unsigned long long)(v));                   \
                        exit(1);                                                                                \
                }                                                                                               \
        } while (0)

static void wait_watching(long n) {
        for (int i = 0; i < 1500 && fake_stat("active_watches") < n; i++)
                usleep(10000);
        check(fake_stat("active_watches") >= n);
}

struct runner {
        struct k8s_client *c;
        int stop_fd;
        pthread_t t;
};

static void *run_thread(void *arg) {
        struct runner *r = arg;
        k8s_client_run(r->c, r->stop_fd);
        return NULL;
}

static void start_client(struct runner *r, const struct k8s_opts *o) {
        char err[256];
        int ret = k8s_client_new(o, on_change, NULL, &r->c, err, sizeof err);

        if (ret < 0)
                fprintf(stderr, "k8s_client_new: %s\n", err);
        check_eq(ret, 0);
        r->stop_fd = eventfd(0, EFD_CLOEXEC);
        check(r->stop_fd >= 0);
        check(pthread_create(&r->t, NULL, run_thread, r) == 0);
}

static void stop_client(struct runner *r) {
        uint64_t one = 1;
        check(write(r->stop_fd, &one, sizeof one) == sizeof one);
        pthread_join(r->t, NULL);
        close(r->stop_fd);
        k8s_client_free(r->c);
}

#define SLICE(name, label, eps)                                                                                                                      \
        "{\"kind\": \"EndpointSlice\", \"apiVersion\": \"discovery.k8s.io/v1\", \"addressType\": \"IPv4\", "                                         \
        "\"metadata\": {\"name\": \"" name "\", \"labels\": {\"app\": \"" label                                                                      \
        "\", \"llm-d.ai/model\": \"llama-1b\"}}, "                                                                                                   \
        "\"ports\": [{\"name\": \"metrics\", \"port\": 9000, \"protocol\": \"TCP\"}, {\"name\": \"http\", \"port\": 8000, \"protocol\": \"TCP\"}], " \
        "\"endpoints\": [" eps "]}"
#define EP(ip, pod, ready)                                                 \
        "{\"addresses\": [\"" ip "\"], \"conditions\": {\"ready\": " ready \
        ", \"serving\": true, \"terminating\": false}, "                   \
        "\"targetRef\": {\"kind\": \"Pod\", \"name\": \"" pod "\", \"namespace\": \"llm\"}}"

static struct k8s_opts base_opts(enum sy_k8s_resource res) {
        return (struct k8s_opts){
                .api_server = api_url,
                .token_file = token_file,
                .ca_file = ca_file,
                .namespace_ = "llm",
                .label_selector = "app=vllm",
                .resource = res,
                .port_name = "http",
                .model_label = "llm-d.ai/model",
                .backoff_min_ms = 20,
                .backoff_max_ms = 200,
                .io_timeout_ms = 5000,
        };
}

static void group_slices(void) {
        struct k8s_opts o = base_opts(SY_K8S_ENDPOINTSLICES);
        struct runner r;
        struct k8s_stats s;
        char body[256];

        /* before the client starts: found by the list */
        put("endpointslices", SLICE("llama-abcde", "vllm",
                                    EP("10.0.0.1", "llama-0", "true") "," EP("10.0.0.2", "llama-1", "false") "," EP(
                                            "10.0.0.3", "llama-2", "null")));
        put("endpointslices", SLICE("other-xyz", "other", EP("10.9.9.9", "other-0", "true")));
        start_client(&r, &o);
        check(wait_set("llama-0 10.0.0.1:8000 llama-1b; llama-2 10.0.0.3:8000 llama-1b"));
        check_eq(stats(r.c).lists, 1);
        wait_watching(1);

        /* watch events: ADDED, MODIFIED (not ready any more), DELETED */
        put("endpointslices", SLICE("llama-fghij", "vllm", EP("10.0.1.1", "llama-3", "true")));
        check(wait_set("llama-0 10.0.0.1:8000 llama-1b; llama-2 10.0.0.3:8000 llama-1b; "
                       "llama-3 10.0.1.1:8000 llama-1b"));
        put("endpointslices",
            SLICE("llama-abcde", "vllm", EP("10.0.0.1", "llama-0", "false") "," EP("10.0.0.3", "llama-2", "true")));
        check(wait_set("llama-2 10.0.0.3:8000 llama-1b; llama-3 10.0.1.1:8000 llama-1b"));
        del("endpointslices", "llama-fghij");
        check(wait_set("llama-2 10.0.0.3:8000 llama-1b"));
        /* an object the selector does not match changes nothing */
        put("endpointslices", SLICE("other-xyz", "other", EP("10.9.9.8", "other-1", "true")));
        s = stats(r.c);
        check_eq(s.lists, 1);
        check(s.events >= 3);

        /* watch expiry: ERROR event with code 410 -> relist, then watching again */
        check_eq(ctl("POST", "/expire", "{}", NULL, 0), 200);
        WAIT_STAT(r.c, expired, 1);
        WAIT_STAT(r.c, lists, 2);
        put("endpointslices", SLICE("llama-klmno", "vllm", EP("10.0.2.1", "llama-4", "true")));
        check(wait_set("llama-2 10.0.0.3:8000 llama-1b; llama-4 10.0.2.1:8000 llama-1b"));

        /* a dropped connection: watch again from the last resourceVersion (no
         * relist); what happened meanwhile comes from the history */
        wait_watching(1);
        s = stats(r.c);
        check_eq(ctl("POST", "/drop", "{}", NULL, 0), 200);
        put("endpointslices", SLICE("llama-pqrst", "vllm", EP("10.0.3.1", "llama-5", "true")));
        check(wait_set("llama-2 10.0.0.3:8000 llama-1b; llama-4 10.0.2.1:8000 llama-1b; "
                       "llama-5 10.0.3.1:8000 llama-1b"));
        WAIT_STAT(r.c, watches, s.watches + 1);
        check_eq(stats(r.c).lists, s.lists);
        check(stats(r.c).failures >= s.failures);

        /* HTTP 410 on the next watch -> relist */
        wait_watching(1);
        s = stats(r.c);
        check_eq(ctl("POST", "/expire-http", "{\"count\": 1}", NULL, 0), 200);
        check_eq(ctl("POST", "/drop", "{}", NULL, 0), 200);
        WAIT_STAT(r.c, lists, s.lists + 1);
        WAIT_STAT(r.c, expired, s.expired + 1);

        /* a bookmark moves the resourceVersion on */
        wait_watching(1);
        check_eq(ctl("POST", "/bookmark", "{}", NULL, 0), 200);
        for (int i = 0; i < 1500 && atol(stats(r.c).resource_version) != fake_stat("rv"); i++)
                usleep(10000);
        check_eq(atol(stats(r.c).resource_version), fake_stat("rv"));

        /* a watch that ends normally (timeoutSeconds): watched again, no relist */
        s = stats(r.c);
        check_eq(ctl("POST", "/end", "{}", NULL, 0), 200);
        WAIT_STAT(r.c, watches, s.watches + 1);
        check_eq(stats(r.c).lists, s.lists);

        /* relist asked for (admin refresh) */
        wait_watching(1);
        s = stats(r.c);
        k8s_client_relist(r.c);
        WAIT_STAT(r.c, lists, s.lists + 1);
        check(wait_set("llama-2 10.0.0.3:8000 llama-1b; llama-4 10.0.2.1:8000 llama-1b; "
                       "llama-5 10.0.3.1:8000 llama-1b"));
        check_eq(fake_stat("unauthorized"), 0);
        stop_client(&r);
        (void)body;
}

#define POD(name, ip, phase, ready, extra)                                                                                   \
        "{\"kind\": \"Pod\", \"apiVersion\": \"v1\", \"metadata\": {\"name\": \"" name "\", "                                \
        "\"labels\": {\"app\": \"vllm\", \"llm-d.ai/model\": \"qwen\"}" extra "}, "                                          \
        "\"spec\": {\"containers\": [{\"name\": \"sidecar\", \"ports\": [{\"name\": \"proxy\", \"containerPort\": 8200}]}, " \
        "{\"name\": \"vllm\", \"ports\": [{\"name\": \"http\", \"containerPort\": 8000}]}]}, "                               \
        "\"status\": {\"phase\": \"" phase "\", \"podIP\": \"" ip "\", \"podIPs\": [{\"ip\": \"" ip "\"}], "                 \
        "\"conditions\": [{\"type\": \"Initialized\", \"status\": \"True\"}, {\"type\": \"Ready\", \"status\": \"" ready     \
        "\"}]}}"

static void group_pods(void) {
        struct k8s_opts o = base_opts(SY_K8S_PODS);
        struct runner r;

        put("pods", POD("qwen-0", "10.1.0.1", "Running", "True", ""));
        put("pods", POD("qwen-1", "10.1.0.2", "Running", "False", ""));
        put("pods", POD("qwen-2", "10.1.0.3", "Pending", "False", ""));
        put("pods", POD("qwen-3", "fd00::5", "Running", "True", ""));
        start_client(&r, &o);
        check(wait_set("qwen-0 10.1.0.1:8000 qwen; qwen-3 fd00::5:8000 qwen"));
        wait_watching(1);
        put("pods", POD("qwen-1", "10.1.0.2", "Running", "True", ""));
        check(wait_set("qwen-0 10.1.0.1:8000 qwen; qwen-1 10.1.0.2:8000 qwen; qwen-3 fd00::5:8000 qwen"));
        /* terminating: deletionTimestamp set */
        put("pods", POD("qwen-0", "10.1.0.1", "Running", "True", ", \"deletionTimestamp\": \"2025-01-01T00:00:00Z\""));
        check(wait_set("qwen-1 10.1.0.2:8000 qwen; qwen-3 fd00::5:8000 qwen"));
        del("pods", "qwen-3");
        check(wait_set("qwen-1 10.1.0.2:8000 qwen"));
        stop_client(&r);
}

static void group_plain(void) {
        struct k8s_opts o = base_opts(SY_K8S_ENDPOINTSLICES);
        struct runner r;

        o.port_name = NULL;
        o.port = 8080; /* by number: the slice's ports do not matter */
        o.model_label = NULL;
        put("endpointslices", SLICE("llama-abcde", "vllm", EP("10.0.0.1", "llama-0", "true")));
        start_client(&r, &o);
        check(wait_set("llama-0 10.0.0.1:8080 "));
        wait_watching(1);
        del("endpointslices", "llama-abcde");
        check(wait_set(""));
        stop_client(&r);
}

static void group_auth(void) {
        struct k8s_opts o = base_opts(SY_K8S_ENDPOINTSLICES);
        struct runner r;
        FILE *t = fopen(token_file, "w");

        check(t);
        fputs("wrong-token\n", t);
        fclose(t);
        put("endpointslices", SLICE("llama-abcde", "vllm", EP("10.0.0.1", "llama-0", "true")));
        start_client(&r, &o);
        WAIT_STAT(r.c, failures, 2);
        check(strstr(stats(r.c).last_error, "401") != NULL);
        check_eq(stats(r.c).lists, 0);
        check(fake_stat("unauthorized") >= 2);
        /* the token file is read for every connection: a fixed token works */
        t = fopen(token_file, "w");
        check(t);
        fputs("s3cret-token\n", t);
        fclose(t);
        check(wait_set("llama-0 10.0.0.1:8000 llama-1b"));
        stop_client(&r);
}

static void group_ca(void) {
        struct k8s_opts o = base_opts(SY_K8S_ENDPOINTSLICES);
        struct runner r;
        char other[600], cmd[1400];

        /* a CA the server's certificate does not chain to */
        snprintf(other, sizeof other, "%s/other.crt", dir);
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/other.key -out %s -days 1 "
                 "-subj /CN=other -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
                 dir, other);
        check(system(cmd) == 0);
        o.ca_file = other;
        put("endpointslices", SLICE("llama-abcde", "vllm", EP("10.0.0.1", "llama-0", "true")));
        start_client(&r, &o);
        WAIT_STAT(r.c, failures, 1);
        check(strstr(stats(r.c).last_error, "TLS") != NULL);
        check_eq(stats(r.c).lists, 0);
        check_eq(fake_stat("lists"), 0);
        stop_client(&r);
        pthread_mutex_lock(&lock);
        check_eq(n_seen, 0);
        pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
        char q[64];

        if (argc != 4) {
                fprintf(stderr, "usage: test_k8s GROUP PYTHON3 FAKE_APISERVER_PY\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        check(k8s_query_escape("app=vllm,tier in (a b)", q, sizeof q) > 0);
        check(strcmp(q, "app%3Dvllm%2Ctier%20in%20%28a%20b%29") == 0);
        check_eq(k8s_query_escape("abcdef", q, 4), -ENOBUFS);
#ifndef HAVE_OPENSSL
        if (strcmp(argv[1], "plain") != 0) {
                fprintf(stderr, "built without OpenSSL: skipped\n");
                return TEST_SKIP;
        }
#endif
        start_fake(argv[2], argv[3], strcmp(argv[1], "plain") == 0);
        atexit(stop_fake);
        if (strcmp(argv[1], "slices") == 0)
                group_slices();
        else if (strcmp(argv[1], "pods") == 0)
                group_pods();
        else if (strcmp(argv[1], "plain") == 0)
                group_plain();
        else if (strcmp(argv[1], "auth") == 0)
                group_auth();
        else if (strcmp(argv[1], "ca") == 0)
                group_ca();
        else {
                fprintf(stderr, "unknown group %s\n", argv[1]);
                return 2;
        }
        printf("k8s %s: ok (%u callbacks)\n", argv[1], callbacks);
        return 0;
}
