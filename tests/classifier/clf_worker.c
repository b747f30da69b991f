/* A fake frontend worker for the classifier process's integration test
 * (tests/integration/test_classifier.py): attaches to the shared segment as
 * worker W, sends SY_MSG_CLASSIFY_REQ for each line of standard input (at
 * most C in flight), and prints each answer as a JSON line in input order:
 *   {"i": 0, "status": 0, "category": "math", "confidence": 0.61,
 *    "jailbreak": 0.1, "tokens": 12, "batch": 4, "queue_us": 80,
 *    "run_us": 900, "spans": [[10, 27, "EMAIL_ADDRESS", 0.99]]}
 * or {"i": 3, "timeout": true} when none came within the deadline.
 *
 *   clf_worker -c CONFIG [-w W] [-C CONCURRENCY] [--pii] [--deadline-ms MS]
 *   clf_worker -c CONFIG --malformed     bad messages, then one good one
 *
 * --malformed sends: a text_len above SY_CLASSIFY_MAX_TEXT (answer
 * -EMSGSIZE), a text_len that disagrees with the message (-EBADMSG), a
 * message of an unknown type and one shorter than the request header (no
 * answer: nothing to answer to), then a good request; it prints the
 * answers as above (i = 0, 1, 4). */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/json.h"
#include "proto/runtime.h"
#include "shm/bell.h"
#include "proto/msg.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define MAX_TEXTS 4096

struct worker {
        struct shm_seg *seg;
        struct ring *out, *in;
        int bell, clf_bell;
        const char *clf_bell_path;
};

static void ring_classifier(struct worker *w, bool force) {
        if (!force && !ring_sp_needs_wake(w->out))
                return;
        if (w->clf_bell < 0 && bell_open_producer(w->clf_bell_path, &w->clf_bell) < 0)
                return;
        if (bell_ring(w->clf_bell) < 0) {
                close(w->clf_bell);
                w->clf_bell = -1;
        }
}

static int send_req(struct worker *w, uint64_t id, const char *text, uint32_t text_len, uint32_t claim, uint16_t type,
                    uint16_t flags) {
        struct sy_classify_req q = { .req_id = id, .text_len = claim, .flags = flags };
        struct iovec iov[2] = { { &q, sizeof q }, { (void *)text, text_len } };
        int r;

        while ((r = ring_sp_pushv(w->out, type, iov, 2)) == -EAGAIN)
                usleep(100);
        ring_classifier(w, false);
        return r;
}

static void print_resp(long i, const struct sy_classify_resp *a, const struct sy_pii_span *sp) {
        char cat[SY_CLASSIFY_LABEL * 6 + 3];
        int n = json_string_encode(a->category, strnlen(a->category, SY_CLASSIFY_LABEL), cat, sizeof cat);

        printf("{\"i\": %ld, \"status\": %d, \"category\": %.*s, \"confidence\": %.6g, \"jailbreak\": %.6g, "
               "\"tokens\": %u, \"batch\": %u, \"queue_us\": %u, \"run_us\": %u, \"spans\": [",
               i, a->status, n > 0 ? n : 2, n > 0 ? cat : "\"\"", a->confidence, a->jailbreak, a->tokens, a->batch,
               a->queue_us, a->run_us);
        for (unsigned k = 0; k < a->n_spans; k++) {
                char t[SY_CLASSIFY_LABEL * 6 + 3];
                int tn = json_string_encode(sp[k].type, strnlen(sp[k].type, SY_CLASSIFY_LABEL), t, sizeof t);

                printf("%s[%u, %u, %.*s, %.6g]", k ? ", " : "", sp[k].start, sp[k].end, tn > 0 ? tn : 2,
                       tn > 0 ? t : "\"\"", sp[k].score);
        }
        printf("]}\n");
}

/* waits for answers up to deadline; stores them by req_id */
static int collect(struct worker *w, struct sy_classify_resp *ans, struct sy_pii_span (*spans)[SY_CLASSIFY_MAX_SPANS],
                   bool *got, size_t n, uint64_t deadline_ns, size_t *ret_got) {
        uint8_t buf[sizeof(struct sy_classify_resp) + SY_CLASSIFY_MAX_SPANS * sizeof(struct sy_pii_span)];
        size_t k = 0;

        for (;;) {
                uint16_t type;
                uint32_t len;

                while (ring_sc_pop(w->in, &type, buf, sizeof buf, &len) == 0) {
                        const struct sy_classify_resp *a = (const void *)buf;

                        if (type != SY_MSG_CLASSIFY_RESP || len < sizeof *a || a->req_id >= n || got[a->req_id])
                                continue;
                        ans[a->req_id] = *a;
                        memcpy(spans[a->req_id], a + 1, a->n_spans * sizeof(struct sy_pii_span));
                        got[a->req_id] = true;
                        k++;
                }
                if (k > 0 || shm_now_ns() >= deadline_ns)
                        break;
                if (ring_sc_prepare_sleep(w->in)) {
                        struct pollfd p = { .fd = w->bell, .events = POLLIN };

                        poll(&p, 1, 20);
                        bell_drain(w->bell);
                }
                ring_sc_cancel_sleep(w->in);
        }
        *ret_got = k;
        return 0;
}

int main(int argc, char **argv) {
        const char *config = NULL;
        unsigned wi = 0, conc = 8, deadline_ms = 20000;
        bool pii = false, malformed = false;
        struct sy_config *cfg;
        struct shm_layout layout;
        struct worker w = { .bell = -1, .clf_bell = -1 };
        char err[512], path[512], bell_path[512];
        static char *texts[MAX_TEXTS];
        static struct sy_classify_resp ans[MAX_TEXTS];
        static struct sy_pii_span spans[MAX_TEXTS][SY_CLASSIFY_MAX_SPANS];
        static bool got[MAX_TEXTS];
        size_t n = 0, sent = 0, done = 0;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        uint64_t deadline;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-c") && i + 1 < argc)
                        config = argv[++i];
                else if (!strcmp(argv[i], "-w") && i + 1 < argc)
                        wi = (unsigned)atoi(argv[++i]);
                else if (!strcmp(argv[i], "-C") && i + 1 < argc)
                        conc = (unsigned)atoi(argv[++i]);
                else if (!strcmp(argv[i], "--deadline-ms") && i + 1 < argc)
                        deadline_ms = (unsigned)atoi(argv[++i]);
                else if (!strcmp(argv[i], "--pii"))
                        pii = true;
                else if (!strcmp(argv[i], "--malformed"))
                        malformed = true;
                else {
                        fprintf(stderr, "clf_worker: unexpected '%s'\n", argv[i]);
                        return 2;
                }
        }
        if (!config || sy_config_load(config, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "clf_worker: %s\n", config ? err : "-c CONFIG");
                return 2;
        }
        layout = sy_runtime_layout(cfg);
        sy_runtime_path(cfg, path, sizeof path, SY_SEGMENT_FILE, 0);
        if (shm_seg_open(path, &layout, &w.seg) < 0 || wi >= layout.max_workers) {
                fprintf(stderr, "clf_worker: cannot open %s as worker %u\n", path, wi);
                return 1;
        }
        shm_peer_attach(shm_seg_worker(w.seg, wi));
        w.out = shm_seg_ring(w.seg, wi, SHM_PEER_CLASSIFIER, SHM_TO_PEER);
        w.in = shm_seg_ring(w.seg, wi, SHM_PEER_CLASSIFIER, SHM_FROM_PEER);
        /* what a restarted worker finds in its answer ring is its predecessor's */
        {
                uint16_t t;
                const void *m;
                uint32_t l;

                while (ring_sc_peek(w.in, &t, &m, &l) == 0)
                        ring_sc_release(w.in);
        }
        sy_runtime_path(cfg, path, sizeof path, SY_WORKER_BELL, wi);
        if (bell_open_consumer(path, &w.bell) < 0)
                return 1;
        sy_runtime_path(cfg, bell_path, sizeof bell_path, SY_CLASSIFIER_BELL, 0);
        w.clf_bell_path = bell_path;
        ring_classifier(&w, true); /* a producer rings its consumer once at start */

        if (malformed) {
                static char big[64];
                size_t k;

                memset(big, 'a', sizeof big);
                send_req(&w, 0, big, 10, SY_CLASSIFY_MAX_TEXT + 1, SY_MSG_CLASSIFY_REQ, 0);
                send_req(&w, 1, big, 10, 11, SY_MSG_CLASSIFY_REQ, 0);
                send_req(&w, 2, big, 10, 10, 77, 0);
                {
                        uint32_t tiny = 3;

                        while (ring_sp_push(w.out, SY_MSG_CLASSIFY_REQ, &tiny, sizeof tiny) == -EAGAIN)
                                usleep(100);
                }
                send_req(&w, 4, "What is the derivative of x squared?", 36, 36, SY_MSG_CLASSIFY_REQ, 0);
                ring_classifier(&w, true);
                deadline = shm_now_ns() + (uint64_t)deadline_ms * 1000000ULL;
                while (!(got[0] && got[1] && got[4]) && shm_now_ns() < deadline)
                        collect(&w, ans, spans, got, 5, deadline, &k);
                for (long i = 0; i < 5; i++)
                        if (got[i])
                                print_resp(i, &ans[i], spans[i]);
                        else if (i != 2 && i != 3)
                                printf("{\"i\": %ld, \"timeout\": true}\n", i);
                return 0;
        }
        while (n < MAX_TEXTS && (len = getline(&line, &cap, stdin)) >= 0) {
                while (len > 0 && line[len - 1] == '\n')
                        line[--len] = 0;
                texts[n++] = strdup(line);
        }
        free(line);
        deadline = shm_now_ns() + (uint64_t)deadline_ms * 1000000ULL;
        while (done < n && shm_now_ns() < deadline) {
                size_t k;

                while (sent < n && sent - done < conc) {
                        size_t tl = strlen(texts[sent]);

                        send_req(&w, sent, texts[sent], (uint32_t)tl, (uint32_t)tl, SY_MSG_CLASSIFY_REQ,
                                 pii ? SY_CLASSIFY_PII : 0);
                        sent++;
                }
                collect(&w, ans, spans, got, n, deadline, &k);
                done += k;
        }
        for (size_t i = 0; i < n; i++) {
                if (got[i])
                        print_resp((long)i, &ans[i], spans[i]);
                else
                        printf("{\"i\": %zu, \"timeout\": true}\n", i);
                free(texts[i]);
        }
        atomic_store(&shm_seg_worker(w.seg, wi)->pid, 0);
        shm_seg_close(w.seg);
        sy_config_free(cfg);
        return 0;
}
