#include "classifier/clf_json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int clf_json_get(const char *obj, size_t len, const char *key, struct json_member *ret_m) {
        size_t it = 0;
        struct json_member m, found;
        bool have = false;
        int r;

        while ((r = json_iter(obj, len, &it, &m)) > 0) {
                if (!m.key)
                        return -EBADMSG;
                /* json_find compares decoded keys; do the same */
                if (json_find(&m, 1, key) != NULL) {
                        found = m;
                        have = true;
                }
        }
        if (r < 0)
                return r;
        if (have)
                *ret_m = found;
        return have;
}

int clf_json_strdup(const struct json_member *m, char **ret_s) {
        char *s;
        int n;

        if (m->type != JSON_STRING)
                return -EBADMSG;
        s = malloc(m->val_len + 1); /* decoding never grows */
        if (!s)
                return -ENOMEM;
        n = json_string_decode(m->val, m->val_len, s, m->val_len);
        if (n < 0) {
                free(s);
                return n;
        }
        s[n] = 0;
        *ret_s = s;
        return n;
}

int clf_json_key(const struct json_member *m, char *buf, size_t cap) {
        int n;

        if (!m->key || cap == 0)
                return -EBADMSG;
        n = json_string_decode(m->key - 1, m->key_len + 2, buf, cap - 1);
        if (n < 0)
                return n;
        buf[n] = 0;
        return n;
}

int clf_json_keydup(const struct json_member *m, char **ret_s) {
        char *s;
        int n;

        if (!m->key)
                return -EBADMSG;
        s = malloc(m->key_len + 1);
        if (!s)
                return -ENOMEM;
        n = clf_json_key(m, s, m->key_len + 1);
        if (n < 0) {
                free(s);
                return n;
        }
        *ret_s = s;
        return n;
}

int clf_json_double(const struct json_member *m, double *ret_v) {
        char buf[64], *end;
        double v;

        if (m->type != JSON_NUMBER || m->val_len >= sizeof buf)
                return -EBADMSG;
        memcpy(buf, m->val, m->val_len);
        buf[m->val_len] = 0;
        errno = 0;
        v = strtod(buf, &end);
        if (*end || !isfinite(v))
                return -EBADMSG;
        *ret_v = v;
        return 0;
}

int clf_json_int64(const struct json_member *m, int64_t *ret_v) {
        char buf[32], *end;
        long long v;

        if (m->type != JSON_NUMBER || m->val_len >= sizeof buf)
                return -EBADMSG;
        memcpy(buf, m->val, m->val_len);
        buf[m->val_len] = 0;
        errno = 0;
        v = strtoll(buf, &end, 10);
        if (*end || errno == ERANGE)
                return -EBADMSG;
        *ret_v = v;
        return 0;
}

int clf_json_bool(const struct json_member *m, bool *ret_v) {
        if (m->type != JSON_TRUE && m->type != JSON_FALSE)
                return -EBADMSG;
        *ret_v = m->type == JSON_TRUE;
        return 0;
}
