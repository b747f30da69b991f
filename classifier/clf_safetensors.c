#include "classifier/clf_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classifier/clf_half.h"
#include "classifier/clf_json.h"
#include "common/log.h"

struct clf_safetensors {
        void *map;
        size_t map_len;
        struct clf_st_tensor *t;
        char **names;
        size_t n;
};

static const struct {
        const char *name;
        size_t size;
} dtypes[] = {
        [CLF_DTYPE_F32] = { "F32", 4 },         [CLF_DTYPE_F16] = { "F16", 2 },
        [CLF_DTYPE_BF16] = { "BF16", 2 },       [CLF_DTYPE_F64] = { "F64", 8 },
        [CLF_DTYPE_I64] = { "I64", 8 },         [CLF_DTYPE_I32] = { "I32", 4 },
        [CLF_DTYPE_I16] = { "I16", 2 },         [CLF_DTYPE_I8] = { "I8", 1 },
        [CLF_DTYPE_U8] = { "U8", 1 },           [CLF_DTYPE_BOOL] = { "BOOL", 1 },
        [CLF_DTYPE_F8_E4M3] = { "F8_E4M3", 1 }, [CLF_DTYPE_F8_E5M2] = { "F8_E5M2", 1 },
};

const char *clf_dtype_name(enum clf_dtype dt) {
        return (size_t)dt < sizeof dtypes / sizeof *dtypes ? dtypes[dt].name : "?";
}

static int parse_dtype(const struct json_member *m, enum clf_dtype *ret) {
        char buf[16];
        int n;

        if (m->type != JSON_STRING || (n = json_string_decode(m->val, m->val_len, buf, sizeof buf - 1)) < 0)
                return -EBADMSG;
        buf[n] = 0;
        for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
                if (strcmp(buf, dtypes[i].name) == 0) {
                        *ret = (enum clf_dtype)i;
                        return 0;
                }
        return -EBADMSG;
}

/* array of non-negative integers into v[0..*ret_n), at most max */
static int parse_uints(const struct json_member *m, uint64_t *v, unsigned max, unsigned *ret_n) {
        struct json_member el;
        size_t it = 0;
        unsigned n = 0;
        int r;

        if (m->type != JSON_ARRAY)
                return -EBADMSG;
        while ((r = json_iter(m->val, m->val_len, &it, &el)) > 0) {
                int64_t x;

                if (n >= max || clf_json_int64(&el, &x) < 0 || x < 0)
                        return -EBADMSG;
                v[n++] = (uint64_t)x;
        }
        if (r < 0)
                return -EBADMSG;
        *ret_n = n;
        return 0;
}

static int parse_entry(const struct json_member *m, const uint8_t *data, size_t data_len, struct clf_st_tensor *t) {
        struct json_member dm, sm, om;
        uint64_t shape[CLF_ST_MAX_DIMS], off[2], numel = 1, nbytes;
        unsigned nd, no;

        if (m->type != JSON_OBJECT)
                return -EBADMSG;
        if (clf_json_get(m->val, m->val_len, "dtype", &dm) <= 0 || parse_dtype(&dm, &t->dtype) < 0)
                return -EBADMSG;
        if (clf_json_get(m->val, m->val_len, "shape", &sm) <= 0 || parse_uints(&sm, shape, CLF_ST_MAX_DIMS, &nd) < 0)
                return -EBADMSG;
        if (clf_json_get(m->val, m->val_len, "data_offsets", &om) <= 0 || parse_uints(&om, off, 2, &no) < 0 || no != 2)
                return -EBADMSG;
        for (unsigned i = 0; i < nd; i++) {
                if (shape[i] && numel > UINT64_MAX / shape[i])
                        return -EBADMSG;
                numel *= shape[i];
                t->shape[i] = (int64_t)shape[i];
        }
        if (numel > SIZE_MAX / 8)
                return -EBADMSG;
        nbytes = numel * dtypes[t->dtype].size;
        if (off[0] > off[1] || off[1] > data_len || off[1] - off[0] != nbytes)
                return -EBADMSG;
        t->ndim = nd;
        t->numel = (size_t)numel;
        t->nbytes = (size_t)nbytes;
        t->data = data + off[0];
        return 0;
}

static int cmp_by_data(const void *a, const void *b) {
        const struct clf_st_tensor *x = a, *y = b;

        if (x->data != y->data)
                return (const char *)x->data < (const char *)y->data ? -1 : 1;
        return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int cmp_by_name(const void *a, const void *b) {
        const struct clf_st_tensor *x = a, *y = b;

        return strcmp(x->name, y->name);
}

void clf_safetensors_close(struct clf_safetensors *st) {
        if (!st)
                return;
        for (size_t i = 0; i < st->n; i++)
                free(st->names[i]);
        free(st->names);
        free(st->t);
        if (st->map && st->map != MAP_FAILED)
                munmap(st->map, st->map_len);
        free(st);
}

int clf_safetensors_open(const char *path, struct clf_safetensors **ret_st) {
        struct clf_safetensors *st = NULL;
        struct json_member *members = NULL;
        struct json_limits lim = { .max_depth = 4 };
        const uint8_t *p;
        uint64_t hlen;
        size_t n_members = 0, max_members = 1, erroff = 0;
        struct stat sb;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        st = calloc(1, sizeof *st);
        if (!st) {
                r = -ENOMEM;
                goto fail;
        }
        if (fstat(fd, &sb) < 0) {
                r = -errno;
                goto fail;
        }
        if (!S_ISREG(sb.st_mode)) {
                r = -EINVAL;
                goto fail;
        }
        if (sb.st_size < 8) {
                r = -EBADMSG;
                goto fail;
        }
        st->map_len = (size_t)sb.st_size;
        st->map = mmap(NULL, st->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (st->map == MAP_FAILED) {
                r = -errno;
                st->map = NULL;
                goto fail;
        }
        p = st->map;
        hlen = 0;
        for (int i = 7; i >= 0; i--)
                hlen = (hlen << 8) | p[i];
        if (hlen > CLF_ST_MAX_HEADER || hlen > st->map_len - 8 || hlen < 2 || p[8] != '{') {
                log_debug("classifier: %s: bad safetensors header length %llu", path, (unsigned long long)hlen);
                r = -EBADMSG;
                goto fail;
        }
        /* every tensor entry is an object: '{' count bounds the members */
        for (size_t i = 9; i < 8 + hlen; i++)
                max_members += p[i] == '{';
        members = malloc(max_members * sizeof *members);
        if (!members) {
                r = -ENOMEM;
                goto fail;
        }
        lim.max_members = max_members;
        r = json_scan_object((const char *)p + 8, (size_t)hlen, &lim, members, &n_members, &erroff);
        if (r < 0) {
                log_debug("classifier: %s: safetensors header: invalid JSON at byte %zu", path, erroff);
                r = -EBADMSG;
                goto fail;
        }
        st->t = calloc(n_members ? n_members : 1, sizeof *st->t);
        st->names = calloc(n_members ? n_members : 1, sizeof *st->names);
        if (!st->t || !st->names) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < n_members; i++) {
                struct clf_st_tensor *t = &st->t[st->n];
                char *name;

                if ((r = clf_json_keydup(&members[i], &name)) < 0)
                        goto fail;
                if (strcmp(name, "__metadata__") == 0) {
                        free(name);
                        continue;
                }
                st->names[st->n++] = name;
                t->name = name;
                r = parse_entry(&members[i], p + 8 + hlen, st->map_len - 8 - (size_t)hlen, t);
                if (r < 0) {
                        log_debug("classifier: %s: bad safetensors entry for %s", path, name);
                        goto fail;
                }
        }
        /* no overlapping ranges (empty tensors excepted) */
        qsort(st->t, st->n, sizeof *st->t, cmp_by_data);
        for (size_t i = 1; i < st->n; i++) {
                const struct clf_st_tensor *a = &st->t[i - 1], *b = &st->t[i];

                if (a->nbytes && b->nbytes && (const char *)a->data + a->nbytes > (const char *)b->data) {
                        log_debug("classifier: %s: tensors %s and %s overlap", path, a->name, b->name);
                        r = -EBADMSG;
                        goto fail;
                }
        }
        qsort(st->t, st->n, sizeof *st->t, cmp_by_name);
        for (size_t i = 1; i < st->n; i++)
                if (strcmp(st->t[i - 1].name, st->t[i].name) == 0) {
                        log_debug("classifier: %s: duplicate tensor %s", path, st->t[i].name);
                        r = -EBADMSG;
                        goto fail;
                }
        free(members);
        close(fd);
        log_debug("classifier: %s: %zu tensors", path, st->n);
        *ret_st = st;
        return 0;
fail:
        free(members);
        clf_safetensors_close(st);
        close(fd);
        return r;
}

size_t clf_safetensors_count(const struct clf_safetensors *st) {
        return st->n;
}

const struct clf_st_tensor *clf_safetensors_at(const struct clf_safetensors *st, size_t i) {
        return i < st->n ? &st->t[i] : NULL;
}

const struct clf_st_tensor *clf_safetensors_find(const struct clf_safetensors *st, const char *name) {
        size_t lo = 0, hi = st->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(st->t[mid].name, name);

                if (c == 0)
                        return &st->t[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

int clf_safetensors_to_f32(const struct clf_st_tensor *t, float *out, size_t n) {
        const uint8_t *d = t->data;

        if (n != t->numel)
                return -EINVAL;
        switch (t->dtype) {
        case CLF_DTYPE_F32:
                memcpy(out, d, n * 4);
                return 0;
        case CLF_DTYPE_F16:
        case CLF_DTYPE_BF16:
                for (size_t i = 0; i < n; i++) {
                        uint16_t h = (uint16_t)(d[2 * i] | (d[2 * i + 1] << 8));

                        out[i] = t->dtype == CLF_DTYPE_F16 ? clf_half_f16_to_f32(h) : clf_half_bf16_to_f32(h);
                }
                return 0;
        case CLF_DTYPE_F64:
                for (size_t i = 0; i < n; i++) {
                        double x;

                        memcpy(&x, d + 8 * i, 8);
                        out[i] = (float)x;
                }
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}
