#include "classifier/clf_unicode.h"

#include "classifier/clf_unicode_table.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

enum clf_ucat clf_unicode_category(uint32_t cp) {
        size_t lo = 0, hi = N_ELEM(clf_unicode_cat_runs);

        if (cp >= 0x110000)
                return CLF_UCAT_CN;
        /* last run whose start <= cp */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if ((clf_unicode_cat_runs[mid] >> 5) <= cp)
                        lo = mid;
                else
                        hi = mid;
        }
        return (enum clf_ucat)(clf_unicode_cat_runs[lo] & 31);
}

bool clf_unicode_is_white_space(uint32_t cp) {
        switch (cp) {
        case 0x09:
        case 0x0a:
        case 0x0b:
        case 0x0c:
        case 0x0d:
        case 0x20:
        case 0x85:
        case 0xa0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202f:
        case 0x205f:
        case 0x3000:
                return true;
        default:
                return cp >= 0x2000 && cp <= 0x200a;
        }
}

static long find_pair(const uint32_t (*tab)[2], size_t n, uint32_t cp) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (tab[mid][0] == cp)
                        return (long)mid;
                if (tab[mid][0] < cp)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

size_t clf_unicode_nfd(uint32_t cp, uint32_t out[CLF_UNICODE_NFD_MAX]) {
        enum { S0 = 0xac00, L0 = 0x1100, V0 = 0x1161, T0 = 0x11a7, NV = 21, NT = 28, NS = 11172 };
        long i;

        if (cp >= S0 && cp < S0 + NS) {
                uint32_t s = cp - S0;

                out[0] = L0 + s / (NV * NT);
                out[1] = V0 + (s % (NV * NT)) / NT;
                if (s % NT == 0)
                        return 2;
                out[2] = T0 + s % NT;
                return 3;
        }
        if (cp < 0xc0 || (i = find_pair(clf_unicode_nfd_keys, N_ELEM(clf_unicode_nfd_keys), cp)) < 0) {
                out[0] = cp;
                return 1;
        }
        uint32_t off = clf_unicode_nfd_keys[i][1] >> 3, n = clf_unicode_nfd_keys[i][1] & 7;

        for (uint32_t k = 0; k < n; k++)
                out[k] = clf_unicode_nfd_pool[off + k];
        return n;
}

uint8_t clf_unicode_ccc(uint32_t cp) {
        size_t lo = 0, hi = N_ELEM(clf_unicode_ccc_runs);

        if (cp < 0x300 || cp >= 0x110000)
                return 0;
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if ((clf_unicode_ccc_runs[mid] >> 8) <= cp)
                        lo = mid;
                else
                        hi = mid;
        }
        return (uint8_t)(clf_unicode_ccc_runs[lo] & 0xff);
}

uint32_t clf_unicode_compose(uint32_t a, uint32_t b) {
        enum { S0 = 0xac00, L0 = 0x1100, V0 = 0x1161, T0 = 0x11a7, NL = 19, NV = 21, NT = 28, NS = 11172 };
        size_t lo = 0, hi = N_ELEM(clf_unicode_comp);

        if (a >= L0 && a < L0 + NL && b >= V0 && b < V0 + NV)
                return S0 + ((a - L0) * NV + (b - V0)) * NT;
        if (a >= S0 && a < S0 + NS && (a - S0) % NT == 0 && b > T0 && b < T0 + NT)
                return a + (b - T0);
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const uint32_t *e = clf_unicode_comp[mid];

                if (e[0] == a && e[1] == b)
                        return e[2];
                if (e[0] < a || (e[0] == a && e[1] < b))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return 0;
}

size_t clf_unicode_lower(uint32_t cp, uint32_t out[CLF_UNICODE_LOWER_MAX]) {
        long i;

        if (cp < 0x80) {
                out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
                return 1;
        }
        for (size_t k = 0; k < N_ELEM(clf_unicode_lowerm); k++)
                if (clf_unicode_lowerm[k][0] == cp) {
                        uint32_t n = clf_unicode_lowerm[k][1];

                        for (uint32_t j = 0; j < n; j++)
                                out[j] = clf_unicode_lowerm[k][2 + j];
                        return n;
                }
        i = find_pair(clf_unicode_lower1, N_ELEM(clf_unicode_lower1), cp);
        out[0] = i < 0 ? cp : clf_unicode_lower1[i][1];
        return 1;
}

size_t clf_utf8_decode(const char *str, size_t len, uint32_t *ret_cp) {
        const unsigned char *s = (const unsigned char *)str;
        uint32_t cp, min;
        size_t n;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0) {
                n = 2, cp = s[0] & 0x1f, min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                n = 3, cp = s[0] & 0x0f, min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                n = 4, cp = s[0] & 0x07, min = 0x10000;
        } else {
                goto bad;
        }
        if (n > len)
                goto bad;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        goto bad;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                goto bad;
        *ret_cp = cp;
        return n;
bad:
        *ret_cp = 0xfffd;
        return 1;
}

size_t clf_utf8_encode(uint32_t cp, char out[4]) {
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xc0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xe0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}
