/* switchyard-probes (`switchyard probes` execs it): loads the eBPF probes
 * (stage.bpf.c, runq.bpf.c, iouring.bpf.c, tcpconn.bpf.c), attaches them to
 * the instance whose runtime directory it is given (the pids in its lock
 * file), and serves their histograms on its own port (Prometheus text), with
 * --watch a table a second, with --trace N the N slowest requests of each
 * second. Without BPF permission or BTF it says so in one line and exits 1;
 * switchyard itself never depends on it. See docs/probes.md. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/buf.h"
#include "common/listener.h"
#include "common/lockfile.h"
#include "common/notify.h"
#include "bpf/probes.h"
#include "iouring.skel.h"
#include "runq.skel.h"
#include "stage.skel.h"
#include "tcpconn.skel.h"

#define DEFAULT_LISTEN "127.0.0.1:9465"
#define MAX_TRACE 100

static const char *const stage_names[SY_NSTAGES] = {
        "accept",
        "parse",
        "enqueue",
        "classify",
        "pick",
        "upstream_connect",
        "upstream_first_byte",
        "client_first_byte",
        "done",
        "total",
};
static const char *const mark_names[SY_NMARKS] = {
        "accepted",
        "request",
        "parsed",
        "enqueued",
        "classified",
        "picked",
        "upstream_connected",
        "upstream_first_byte",
        "client_write",
        "done",
};
/* <linux/io_uring.h> IORING_OP_* */
static const char *const iou_names[] = {
        "nop",          "readv",    "writev",         "fsync",           "read_fixed",
        "write_fixed",  "poll_add", "poll_remove",    "sync_file_range", "sendmsg",
        "recvmsg",      "timeout",  "timeout_remove", "accept",          "async_cancel",
        "link_timeout", "connect",  "fallocate",      "openat",          "close",
        "files_update", "statx",    "read",           "write",           "fadvise",
        "madvise",      "send",     "recv",
};

static struct {
        const char *dir;
        char host[64];
        unsigned port;
        bool listen, watch, verbose;
        bool no_runq, no_iouring, no_tcp; /* --probes without them */
        unsigned marks;                   /* --markers: bit per enum sy_mark */
        unsigned trace;
} opt = { .port = 0, .listen = true, .marks = 1u << SY_M_DONE };

static volatile sig_atomic_t stopping;
static int ncpus;
static __u64 epoch = 1;

static struct stage *stage_skel;
static struct runq *runq_skel;
static struct iouring *iou_skel;
static struct tcpconn *tcp_skel;
static struct bpf_link *usdt_links[SY_NMARKS];
static int attached_pid;
static int target_pids[LOCKFILE_NROLES];
static struct ring_buffer *events;

/* this interval's slowest requests (--trace) */
static struct sy_trace_event slowest[MAX_TRACE];
static unsigned n_slowest;

static void on_signal(int sig) {
        stopping = 1;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap) {
        if (!opt.verbose && level != LIBBPF_WARN)
                return 0;
        if (!opt.verbose)
                return 0; /* the reason is said once, in our own words */
        return vfprintf(stderr, fmt, ap);
}

static int usage(FILE *f) {
        fprintf(f,
                "usage: switchyard probes -r RUNTIME_DIR [--listen HOST:PORT|none] [--watch] [--trace N]\n"
                "                        [--probes stage,runq,io_uring,tcp] [--markers LIST] [--stay] [-v]\n"
                "\n"
                "Attaches the eBPF probes to the switchyard instance of RUNTIME_DIR (shm.runtime_dir) and\n"
                "serves their histograms on http://HOST:PORT/metrics (default " DEFAULT_LISTEN "):\n"
                "request stages (switchyard_bpf_stage_seconds), scheduler delay (switchyard_bpf_runq_seconds),\n"
                "io_uring (switchyard_bpf_io_uring_seconds), upstream connects (switchyard_bpf_tcp_connect_seconds).\n"
                "  --watch    a table a second: per stage count, p50, p99, max\n"
                "  --trace N  each second, the N slowest requests with their stages\n"
                "  --probes L the probes loaded (default all; stage always)\n"
                "  --markers L  more USDT markers attached, only counted (default done only, which carries\n"
                "             the stage times; all: every one): each costs a trap per hit (docs/probes.md)\n"
                "  --stay     when they cannot start, say why and wait for SIGTERM (a sidecar)\n"
                "Needs CAP_BPF, CAP_PERFMON (and CAP_SYS_RESOURCE on kernels before 5.11) and the kernel's\n"
                "BTF (/sys/kernel/btf/vmlinux). SWITCHYARD_RUNTIME_DIR may stand for -r.\n");
        return f == stdout ? 0 : 2;
}

/* ---- histograms ------------------------------------------------------------------------- */

/* a per-CPU value of map fd at key, summed; max: this epoch's */
static int read_hist(int fd, const void *key, struct sy_hist *out) {
        static struct sy_hist *v;

        if (!v && !(v = calloc((size_t)ncpus, sizeof *v)))
                return -ENOMEM;

        memset(out, 0, sizeof *out);
        if (bpf_map_lookup_elem(fd, key, v) < 0)
                return -errno;
        for (int c = 0; c < ncpus; c++) {
                for (int i = 0; i < SY_HIST_SLOTS; i++)
                        out->slots[i] += v[c].slots[i];
                out->sum += v[c].sum;
                out->count += v[c].count;
                if (v[c].max_epoch == epoch && v[c].max > out->max)
                        out->max = v[c].max;
        }
        return 0;
}

static void hist_sub(struct sy_hist *d, const struct sy_hist *now, const struct sy_hist *before) {
        for (int i = 0; i < SY_HIST_SLOTS; i++)
                d->slots[i] = now->slots[i] - before->slots[i];
        d->sum = now->sum - before->sum;
        d->count = now->count - before->count;
        d->max = now->max;
}

/* the q-quantile, interpolated in its log2 slot */
static double quantile(const struct sy_hist *h, double q) {
        double want = q * (double)h->count, cum = 0;

        if (!h->count)
                return 0;
        for (int i = 0; i < SY_HIST_SLOTS; i++) {
                double lo = i ? (double)(1ULL << i) : 0, hi = (double)(1ULL << (i + 1));
                if (h->slots[i] && cum + (double)h->slots[i] >= want)
                        return lo + (hi - lo) * (want - cum) / (double)h->slots[i];
                cum += (double)h->slots[i];
        }
        return (double)(1ULL << SY_HIST_SLOTS);
}

static const char *fmt_ns(char *b, size_t cap, double ns) {
        if (ns < 1e3)
                snprintf(b, cap, "%.0fns", ns);
        else if (ns < 1e6)
                snprintf(b, cap, "%.1fus", ns / 1e3);
        else if (ns < 1e9)
                snprintf(b, cap, "%.1fms", ns / 1e6);
        else
                snprintf(b, cap, "%.2fs", ns / 1e9);
        return b;
}

/* One Prometheus histogram series: buckets le = 2^10 .. 2^36 ns */
static void prom_hist(struct buf *b, const char *name, const char *labels, const struct sy_hist *h) {
        unsigned long long cum = 0;
        int i;

        for (i = 0; i < 10; i++)
                cum += h->slots[i];
        for (; i <= 36; i++) {
                buf_printf(b, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, *labels ? "," : "",
                           (double)(1ULL << i) / 1e9, cum);
                if (i < SY_HIST_SLOTS)
                        cum += h->slots[i];
        }
        buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
                   (unsigned long long)h->count);
        if (*labels) {
                buf_printf(b, "%s_sum{%s} %.9f\n", name, labels, (double)h->sum / 1e9);
                buf_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
        } else {
                buf_printf(b, "%s_sum %.9f\n", name, (double)h->sum / 1e9);
                buf_printf(b, "%s_count %llu\n", name, (unsigned long long)h->count);
        }
}

static void prom_head(struct buf *b, const char *name, const char *help) {
        buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
}

static void tcp_label(const struct sy_tcp_key *k, char *b, size_t cap) {
        static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        char a[INET6_ADDRSTRLEN];

        if (memcmp(k->addr, mapped, 12) == 0) {
                inet_ntop(AF_INET, k->addr + 12, a, sizeof a);
                snprintf(b, cap, "%s:%u", a, k->port);
        } else {
                inet_ntop(AF_INET6, k->addr, a, sizeof a);
                snprintf(b, cap, "[%s]:%u", a, k->port);
        }
}

static const char *iou_name(unsigned op, char *b, size_t cap) {
        if (op < sizeof iou_names / sizeof iou_names[0])
                return iou_names[op];
        snprintf(b, cap, "op%u", op);
        return b;
}

/* the /metrics page */
/* a per-CPU __u64 map's value at k, summed over the CPUs */
static __u64 percpu_sum(int fd, __u32 k) {
        static __u64 *v;
        __u64 n = 0;

        if (!v && !(v = calloc((size_t)ncpus, sizeof *v)))
                return 0;
        if (bpf_map_lookup_elem(fd, &k, v) == 0)
                for (int c = 0; c < ncpus; c++)
                        n += v[c];
        return n;
}

static void render(struct buf *b) {
        struct sy_hist h;
        char lab[160], tmp[16];

        prom_head(b, "switchyard_bpf_stage_seconds",
                  "request stages of the frontend, from the stage times its USDT marker done carries "
                  "(docs/probes.md)");
        for (__u32 s = 0; s < SY_NSTAGES; s++) {
                read_hist(bpf_map__fd(stage_skel->maps.stages), &s, &h);
                snprintf(lab, sizeof lab, "stage=\"%s\"", stage_names[s]);
                prom_hist(b, "switchyard_bpf_stage_seconds", lab, &h);
        }
        buf_printf(b, "# HELP switchyard_bpf_markers_total USDT markers fired in the frontend\n"
                      "# TYPE switchyard_bpf_markers_total counter\n");
        for (__u32 m = 0; m < SY_NMARKS; m++)
                buf_printf(b, "switchyard_bpf_markers_total{marker=\"%s\"} %llu\n", mark_names[m],
                           (unsigned long long)percpu_sum(bpf_map__fd(stage_skel->maps.marks), m));
        buf_printf(b,
                   "# HELP switchyard_bpf_stage_times_unreadable_total done markers whose stage times could not be "
                   "read or were of another layout version\n"
                   "# TYPE switchyard_bpf_stage_times_unreadable_total counter\n"
                   "switchyard_bpf_stage_times_unreadable_total %llu\n",
                   (unsigned long long)percpu_sum(bpf_map__fd(stage_skel->maps.bad_times), 0));
        buf_printf(b,
                   "# HELP switchyard_bpf_frontend_pid the frontend process the stage probes are attached to\n"
                   "# TYPE switchyard_bpf_frontend_pid gauge\nswitchyard_bpf_frontend_pid %d\n",
                   attached_pid);
        if (runq_skel) {
                __u32 zero = 0;
                prom_head(b, "switchyard_bpf_runq_seconds",
                          "scheduler delay of switchyard's threads: runnable (woken or preempted) to running");
                read_hist(bpf_map__fd(runq_skel->maps.runq), &zero, &h);
                prom_hist(b, "switchyard_bpf_runq_seconds", "", &h);
        }
        if (iou_skel) {
                prom_head(b, "switchyard_bpf_io_uring_seconds",
                          "io_uring submit to first completion per opcode (a recv includes waiting for the peer)");
                for (__u32 op = 0; op < SY_IOU_OPS; op++) {
                        if (read_hist(bpf_map__fd(iou_skel->maps.ops), &op, &h) < 0 || !h.count)
                                continue;
                        snprintf(lab, sizeof lab, "op=\"%s\"", iou_name(op, tmp, sizeof tmp));
                        prom_hist(b, "switchyard_bpf_io_uring_seconds", lab, &h);
                }
        }
        if (tcp_skel) {
                struct sy_tcp_key k, keep;
                int fd = bpf_map__fd(tcp_skel->maps.connects);
                bool first = true;
                char a[80];

                prom_head(b, "switchyard_bpf_tcp_connect_seconds",
                          "TCP connect (SYN sent to established) of switchyard's sockets per destination address");
                while (bpf_map_get_next_key(fd, first ? NULL : &keep, &k) == 0) {
                        first = false;
                        keep = k;
                        if (read_hist(fd, &k, &h) == 0) {
                                tcp_label(&k, a, sizeof a);
                                snprintf(lab, sizeof lab, "upstream=\"%s\"", a);
                                prom_hist(b, "switchyard_bpf_tcp_connect_seconds", lab, &h);
                        }
                }
        }
}

/* ---- the HTTP side ---------------------------------------------------------------------- */

static void serve(int lfd) {
        char req[2048];
        size_t n = 0;
        struct timeval tv = { .tv_sec = 1 };
        struct buf body = { 0 }, head = { 0 };
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
                return;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        while (n < sizeof req - 1) {
                ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
                if (r <= 0)
                        break;
                n += (size_t)r;
                req[n] = 0;
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        req[n] = 0;
        if (strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET /metrics?", 13) == 0) {
                render(&body);
                buf_printf(&head,
                           "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n",
                           body.len);
        } else {
                static const char nf[] = "{\"error\":{\"message\":\"unknown path: this port serves GET /metrics\","
                                         "\"type\":\"invalid_request_error\",\"code\":\"not_found\"}}";
                buf_append(&body, nf, sizeof nf - 1);
                buf_printf(&head,
                           "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n",
                           body.len);
        }
        (void)!send(fd, head.p, head.len, MSG_NOSIGNAL);
        (void)!send(fd, body.p, body.len, MSG_NOSIGNAL);
        buf_free(&head);
        buf_free(&body);
        close(fd);
}

/* ---- attaching ------------------------------------------------------------------------ */

static void detach_usdt(void) {
        for (int i = 0; i < SY_NMARKS; i++) {
                bpf_link__destroy(usdt_links[i]);
                usdt_links[i] = NULL;
        }
        attached_pid = 0;
}

static const char *failed_mark; /* the marker attach_usdt() could not attach to */

static int attach_usdt(int pid) {
        struct bpf_program *progs[SY_NMARKS] = {
                stage_skel->progs.accepted,
                stage_skel->progs.request,
                stage_skel->progs.parsed,
                stage_skel->progs.enqueued,
                stage_skel->progs.classified,
                stage_skel->progs.picked,
                stage_skel->progs.upstream_connected,
                stage_skel->progs.upstream_first_byte,
                stage_skel->progs.client_write,
                stage_skel->progs.done,
        };
        char exe[64];

        /* the frontend's executable through /proc: also from another mount namespace */
        snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
        for (int i = 0; i < SY_NMARKS; i++) {
                if (!(opt.marks & (1u << i)))
                        continue;
                usdt_links[i] = bpf_program__attach_usdt(progs[i], pid, exe, "switchyard", mark_names[i], NULL);
                if (!usdt_links[i]) {
                        int e = errno;
                        detach_usdt();
                        failed_mark = mark_names[i];
                        return -e;
                }
        }
        attached_pid = pid;
        return 0;
}

static void clear_map(int fd) {
        __u32 k, next;

        while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
                k = next;
                bpf_map_delete_elem(fd, &k);
        }
}

/* targets.bpf.h: the pids, and none learnt yet */
static void set_targets(int fd, int gfd, const int *pids) {
        __u32 k;
        __u8 one = 1;

        clear_map(fd);
        clear_map(gfd);
        for (int r = 0; r < LOCKFILE_NROLES; r++)
                if (pids[r] > 0) {
                        k = (__u32)pids[r];
                        bpf_map_update_elem(fd, &k, &one, BPF_ANY);
                }
}

/* Reads the lock file; (re)attaches when the frontend changed. Returns
 * -ESRCH when no frontend holds its lock, < 0 when attaching failed. */
static int refresh_targets(void) {
        int pids[LOCKFILE_NROLES], r;
        bool changed = false;

        for (int role = 0; role < LOCKFILE_NROLES; role++) {
                pids[role] = lockfile_role_pid(opt.dir, (enum lockfile_role)role);
                if (pids[role] < 0)
                        pids[role] = 0;
                if (pids[role] != target_pids[role])
                        changed = true;
        }
        if (changed) {
                memcpy(target_pids, pids, sizeof pids);
                if (runq_skel)
                        set_targets(bpf_map__fd(runq_skel->maps.targets), bpf_map__fd(runq_skel->maps.gtargets), pids);
                if (iou_skel)
                        set_targets(bpf_map__fd(iou_skel->maps.targets), bpf_map__fd(iou_skel->maps.gtargets), pids);
                if (tcp_skel)
                        set_targets(bpf_map__fd(tcp_skel->maps.targets), bpf_map__fd(tcp_skel->maps.gtargets), pids);
        }
        if (pids[LOCKFILE_FRONTEND] == attached_pid && attached_pid)
                return 0;
        detach_usdt();
        if (!pids[LOCKFILE_FRONTEND])
                return -ESRCH;
        r = attach_usdt(pids[LOCKFILE_FRONTEND]);
        if (r == 0 && opt.verbose)
                fprintf(stderr, "switchyard probes: attached to the frontend, pid %d\n", attached_pid);
        return r;
}

/* ---- --watch and --trace ---------------------------------------------------------------- */

static int on_event(void *ctx, void *data, size_t len) {
        const struct sy_trace_event *e = data;
        unsigned i;

        if (len < sizeof *e)
                return 0;
        if (n_slowest < opt.trace) {
                slowest[n_slowest++] = *e;
                return 0;
        }
        /* replace the fastest kept if this one is slower */
        i = 0;
        for (unsigned j = 1; j < n_slowest; j++)
                if (slowest[j].ns[SY_ST_TOTAL] < slowest[i].ns[SY_ST_TOTAL])
                        i = j;
        if (n_slowest && e->ns[SY_ST_TOTAL] > slowest[i].ns[SY_ST_TOTAL])
                slowest[i] = *e;
        return 0;
}

static int by_total_desc(const void *a, const void *b) {
        const struct sy_trace_event *x = a, *y = b;
        return x->ns[SY_ST_TOTAL] < y->ns[SY_ST_TOTAL] ? 1 : x->ns[SY_ST_TOTAL] > y->ns[SY_ST_TOTAL] ? -1 : 0;
}

static void print_trace(void) {
        char t[16];

        qsort(slowest, n_slowest, sizeof slowest[0], by_total_desc);
        for (unsigned i = 0; i < n_slowest; i++) {
                const struct sy_trace_event *e = &slowest[i];
                printf("slow pid %u req %llu total %s:", e->tgid, (unsigned long long)e->req,
                       fmt_ns(t, sizeof t, (double)e->ns[SY_ST_TOTAL]));
                for (int s = 0; s < SY_ST_TOTAL; s++)
                        if (e->seen & (1u << s))
                                printf(" %s %s", stage_names[s], fmt_ns(t, sizeof t, (double)e->ns[s]));
                printf("\n");
        }
        n_slowest = 0;
}

static void watch_row(const char *name, const struct sy_hist *d) {
        char a[16], b[16], c[16];
        double p50 = quantile(d, 0.5), p99 = quantile(d, 0.99);

        /* the interpolation within a log2 slot may pass the largest value seen */
        if (d->max && p50 > (double)d->max)
                p50 = (double)d->max;
        if (d->max && p99 > (double)d->max)
                p99 = (double)d->max;
        printf("%-34s %8llu %10s %10s %10s\n", name, (unsigned long long)d->count, fmt_ns(a, sizeof a, p50),
               fmt_ns(b, sizeof b, p99), fmt_ns(c, sizeof c, (double)d->max));
}

static void print_watch(void) {
        static struct sy_hist prev_stage[SY_NSTAGES], prev_runq, prev_iou[SY_IOU_OPS];
        struct sy_hist now, d;
        char hm[16], tmp[16], name[128];
        time_t t = time(NULL);

        strftime(hm, sizeof hm, "%H:%M:%S", localtime(&t));
        printf("\n%s  frontend pid %d  (last second)\n%-34s %8s %10s %10s %10s\n", hm, attached_pid, "STAGE", "COUNT",
               "P50", "P99", "MAX");
        for (__u32 s = 0; s < SY_NSTAGES; s++) {
                read_hist(bpf_map__fd(stage_skel->maps.stages), &s, &now);
                hist_sub(&d, &now, &prev_stage[s]);
                prev_stage[s] = now;
                watch_row(stage_names[s], &d);
        }
        if (runq_skel) {
                __u32 zero = 0;
                read_hist(bpf_map__fd(runq_skel->maps.runq), &zero, &now);
                hist_sub(&d, &now, &prev_runq);
                prev_runq = now;
                watch_row("runq (scheduler delay)", &d);
        }
        if (iou_skel)
                for (__u32 op = 0; op < SY_IOU_OPS; op++) {
                        read_hist(bpf_map__fd(iou_skel->maps.ops), &op, &now);
                        hist_sub(&d, &now, &prev_iou[op]);
                        prev_iou[op] = now;
                        if (!d.count)
                                continue;
                        snprintf(name, sizeof name, "io_uring %s", iou_name(op, tmp, sizeof tmp));
                        watch_row(name, &d);
                }
        if (tcp_skel) {
                /* the slowest upstream connect (cumulative p99) */
                struct sy_tcp_key k, keep, worst;
                struct sy_hist wh = { 0 };
                double wp = -1;
                int fd = bpf_map__fd(tcp_skel->maps.connects);
                bool first = true;

                while (bpf_map_get_next_key(fd, first ? NULL : &keep, &k) == 0) {
                        first = false;
                        keep = k;
                        if (read_hist(fd, &k, &now) == 0 && now.count && quantile(&now, 0.99) > wp) {
                                wp = quantile(&now, 0.99);
                                worst = k;
                                wh = now;
                        }
                }
                if (wp >= 0) {
                        char a[80];
                        tcp_label(&worst, a, sizeof a);
                        snprintf(name, sizeof name, "connect %s (all time)", a);
                        watch_row(name, &wh);
                }
        }
        fflush(stdout);
}

static void next_epoch(void) {
        epoch++;
        stage_skel->bss->sy_epoch = epoch;
        if (runq_skel)
                runq_skel->bss->sy_epoch = epoch;
        if (iou_skel)
                iou_skel->bss->sy_epoch = epoch;
        if (tcp_skel)
                tcp_skel->bss->sy_epoch = epoch;
}

/* ---- main ------------------------------------------------------------------------------- */

static int fail_load(const char *what, int err) {
        if (err == -EPERM || err == -EACCES)
                fprintf(stderr,
                        "switchyard probes: no permission to load eBPF programs (needs CAP_BPF and CAP_PERFMON, or "
                        "root); switchyard runs without the probes\n");
        else
                fprintf(stderr, "switchyard probes: cannot load the %s probe: %s; switchyard runs without the probes\n",
                        what, strerror(-err));
        return 1;
}

static struct stat pidns; /* our pid namespace (targets.bpf.h) */

/* the optional probes: a kernel without their tracepoints goes without them */
#define LOAD_OPTIONAL(skel, type)                                                                                \
        do {                                                                                                     \
                skel = type##__open();                                                                           \
                if (skel) {                                                                                      \
                        skel->rodata->pidns_dev = (__u64)pidns.st_dev;                                           \
                        skel->rodata->pidns_ino = (__u64)pidns.st_ino;                                           \
                        if (type##__load(skel) < 0 || type##__attach(skel) < 0) {                                \
                                type##__destroy(skel);                                                           \
                                skel = NULL;                                                                     \
                        }                                                                                        \
                }                                                                                                \
                if (!skel)                                                                                       \
                        fprintf(stderr, "switchyard probes: the %s probe is not available on this kernel: %s\n", \
                                #type, strerror(errno));                                                         \
        } while (0)

/* --markers a,b,...|all: the markers attached (each hit costs a trap); done
 * always (it carries the stage times, the others are only counted) */
static int parse_marks(const char *list) {
        char buf[512], *save = NULL;

        snprintf(buf, sizeof buf, "%s", list);
        opt.marks = 1u << SY_M_DONE;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int m = -1;
                if (!strcmp(t, "all")) {
                        opt.marks = (1u << SY_NMARKS) - 1;
                        continue;
                }
                for (int i = 0; i < SY_NMARKS; i++)
                        if (!strcmp(t, mark_names[i]))
                                m = i;
                if (m < 0) {
                        fprintf(stderr, "switchyard probes: --markers: no marker '%s' (see docs/probes.md)\n", t);
                        return -1;
                }
                opt.marks |= 1u << m;
        }
        return 0;
}

static int run(int argc, char **argv) {
        const char *listen_arg = DEFAULT_LISTEN;
        int lfd = -1, r;
        struct timespec ts;
        uint64_t next_tick;

        opt.dir = getenv("SWITCHYARD_RUNTIME_DIR");
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if ((!strcmp(a, "-r") || !strcmp(a, "--runtime-dir")) && i + 1 < argc)
                        opt.dir = argv[++i];
                else if (!strcmp(a, "--listen") && i + 1 < argc)
                        listen_arg = argv[++i];
                else if (!strcmp(a, "--watch"))
                        opt.watch = true;
                else if (!strcmp(a, "--trace") && i + 1 < argc) {
                        char *end;
                        long n = strtol(argv[++i], &end, 10);
                        if (*end || n < 1 || n > MAX_TRACE) {
                                fprintf(stderr, "switchyard probes: --trace takes a count from 1 to %d\n", MAX_TRACE);
                                return 2;
                        }
                        opt.trace = (unsigned)n;
                } else if (!strcmp(a, "--probes") && i + 1 < argc) {
                        const char *l = argv[++i];
                        opt.no_runq = !strstr(l, "runq");
                        opt.no_iouring = !strstr(l, "io_uring");
                        opt.no_tcp = !strstr(l, "tcp");
                        if (!strstr(l, "stage")) {
                                fprintf(stderr, "switchyard probes: --probes lists stage and any of runq, io_uring, "
                                                "tcp\n");
                                return 2;
                        }
                } else if (!strcmp(a, "--markers") && i + 1 < argc) {
                        if (parse_marks(argv[++i]) < 0)
                                return 2;
                } else if (!strcmp(a, "--stay")) {
                        /* main() */
                } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
                        opt.verbose = true;
                else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
                        return usage(stdout);
                else {
                        fprintf(stderr, "switchyard probes: unexpected argument '%s'\n", a);
                        return usage(stderr);
                }
        }
        if (!opt.dir || !*opt.dir) {
                fprintf(stderr, "switchyard probes: no runtime directory: use -r DIR (shm.runtime_dir)\n");
                return 2;
        }
        if (!strcmp(listen_arg, "none")) {
                opt.listen = false;
        } else {
                const char *colon = strrchr(listen_arg, ':');
                char *end;
                long port = colon ? strtol(colon + 1, &end, 10) : -1;
                size_t hl = colon ? (size_t)(colon - listen_arg) : 0;
                if (!colon || *end || port < 1 || port > 65535 || hl == 0 || hl >= sizeof opt.host) {
                        fprintf(stderr, "switchyard probes: --listen takes HOST:PORT (or none), not '%s'\n",
                                listen_arg);
                        return 2;
                }
                if (listen_arg[0] == '[' && hl > 2 && listen_arg[hl - 1] == ']')
                        memcpy(opt.host, listen_arg + 1, hl - 2);
                else
                        memcpy(opt.host, listen_arg, hl);
                opt.port = (unsigned)port;
        }

        libbpf_set_print(libbpf_log);
        if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
                fprintf(stderr,
                        "switchyard probes: this kernel has no BTF (/sys/kernel/btf/vmlinux: %s; it needs "
                        "CONFIG_DEBUG_INFO_BTF); switchyard runs without the probes\n",
                        strerror(errno));
                return 1;
        }
        ncpus = libbpf_num_possible_cpus();
        if (ncpus <= 0) {
                fprintf(stderr, "switchyard probes: cannot count the CPUs: %s\n", strerror(-ncpus));
                return 1;
        }
        r = lockfile_role_pid(opt.dir, LOCKFILE_FRONTEND);
        if (r <= 0) {
                fprintf(stderr, "switchyard probes: no switchyard frontend is running with runtime directory %s%s%s\n",
                        opt.dir, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
                return 1;
        }

        stage_skel = stage__open();
        if (!stage_skel)
                return fail_load("stage", -errno);
        stage_skel->rodata->trace = opt.trace > 0;
        if ((r = stage__load(stage_skel)) < 0)
                return fail_load("stage", r);
        if (stat("/proc/self/ns/pid", &pidns) < 0) {
                fprintf(stderr, "switchyard probes: cannot read my pid namespace: %s\n", strerror(errno));
                return 1;
        }
        if (!opt.no_runq)
                LOAD_OPTIONAL(runq_skel, runq);
        if (!opt.no_iouring)
                LOAD_OPTIONAL(iou_skel, iouring);
        if (!opt.no_tcp)
                LOAD_OPTIONAL(tcp_skel, tcpconn);
        next_epoch();
        r = refresh_targets();
        if (r < 0) {
                fprintf(stderr,
                        "switchyard probes: cannot attach to the frontend's USDT marker %s (pid %d): %s (a "
                        "switchyard built without <sys/sdt.h> has no markers)\n",
                        failed_mark ? failed_mark : "?", target_pids[LOCKFILE_FRONTEND], strerror(-r));
                return 1;
        }
        if (opt.trace) {
                events = ring_buffer__new(bpf_map__fd(stage_skel->maps.events), on_event, NULL, NULL);
                if (!events) {
                        fprintf(stderr, "switchyard probes: cannot open the trace ring buffer: %s\n", strerror(errno));
                        return 1;
                }
        }
        if (opt.listen) {
                char name[96];
                r = listener_open(opt.host, opt.port, &lfd);
                listener_name(opt.host, opt.port, name, sizeof name);
                if (r < 0) {
                        fprintf(stderr, "switchyard probes: cannot listen on %s: %s\n", name, strerror(-r));
                        return 1;
                }
                fprintf(stderr, "switchyard probes: attached to pid %d, serving http://%s/metrics\n", attached_pid,
                        name);
        }
        sy_notify_ready("probes attached");

        clock_gettime(CLOCK_MONOTONIC, &ts);
        next_tick = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1000;
        while (!stopping) {
                struct pollfd p = { .fd = lfd, .events = POLLIN };
                uint64_t now;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
                if (now >= next_tick) {
                        next_tick += 1000;
                        if (next_tick <= now)
                                next_tick = now + 1000;
                        r = refresh_targets();
                        if (r < 0 && r != -ESRCH && opt.verbose)
                                fprintf(stderr, "switchyard probes: cannot attach to pid %d: %s\n",
                                        target_pids[LOCKFILE_FRONTEND], strerror(-r));
                        if (events)
                                ring_buffer__consume(events);
                        if (opt.watch)
                                print_watch();
                        if (opt.trace)
                                print_trace();
                        next_epoch();
                        continue;
                }
                if (poll(&p, lfd >= 0 ? 1 : 0, (int)(next_tick - now)) > 0 && (p.revents & POLLIN))
                        serve(lfd);
        }
        sy_notify_stopping();
        detach_usdt();
        ring_buffer__free(events);
        tcpconn__destroy(tcp_skel);
        iouring__destroy(iou_skel);
        runq__destroy(runq_skel);
        stage__destroy(stage_skel);
        if (lfd >= 0)
                close(lfd);
        return 0;
}

/* --stay: a failure to start (no BTF, no permission, no frontend) is said
 * and then waited out until SIGTERM, exit 0: a sidecar whose restarts would
 * take its pod out of service (k8s/overlays/probes). */
int main(int argc, char **argv) {
        bool stay = false;
        int r;

        for (int i = 1; i < argc; i++)
                if (!strcmp(argv[i], "--stay"))
                        stay = true;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        r = run(argc, argv);
        if (r == 1 && stay && !stopping) {
                fprintf(stderr, "switchyard probes: --stay: not probing; waiting for SIGTERM\n");
                sy_notify_ready("not probing (see the log)");
                while (!stopping)
                        pause();
                return 0;
        }
        return r;
}
