/* Structured PII found by its shape, over the whole prompt: US social
 * security numbers, payment card numbers, e-mail addresses, IPv4
 * addresses and IBANs, each validated the way Presidio's pattern
 * recognizers validate them (SSN area/group/serial rules, the Luhn check,
 * the IBAN mod-97 check, octets 0..255). The classifier reads at most its
 * max_len tokens of the head and tail of a long prompt; these checks read
 * every byte, so a number pasted in the middle of a long prompt is still
 * found. One pass, no allocation, no backtracking. */
#include "frontend/pii_patterns.h"

#include <stdbool.h>
#include <string.h>

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c) {
        return is_digit(c) || is_alpha(c);
}

/* a digit run that is not part of a longer word or number */
static bool boundary_before(const char *s, size_t i) {
        return i == 0 || !(is_alnum(s[i - 1]) || s[i - 1] == '-' || s[i - 1] == '.' || s[i - 1] == '_');
}

static bool boundary_after(const char *s, size_t n, size_t i) {
        if (i >= n)
                return true;
        if (is_alnum(s[i]) || s[i] == '_')
                return false;
        /* "123-45-6789." ends a sentence; "1.2.3.4.5" is not an address */
        if ((s[i] == '-' || s[i] == '.') && i + 1 < n && is_alnum(s[i + 1]))
                return false;
        return true;
}

static unsigned num(const char *s, size_t k) {
        unsigned v = 0;

        for (size_t i = 0; i < k; i++)
                v = v * 10 + (unsigned)(s[i] - '0');
        return v;
}

/* ddd-dd-dddd or ddd dd dddd, with the SSA's rules: area not 000, 666 or
 * 9xx, group not 00, serial not 0000, and not the all-same-digit ones */
static size_t ssn_at(const char *s, size_t n, size_t i) {
        const char *p = s + i;
        char sep;

        if (i + 11 > n || !boundary_before(s, i))
                return 0;
        sep = p[3];
        if ((sep != '-' && sep != ' ') || p[6] != sep)
                return 0;
        for (int k = 0; k < 11; k++)
                if (k != 3 && k != 6 && !is_digit(p[k]))
                        return 0;
        if (!boundary_after(s, n, i + 11))
                return 0;
        {
                unsigned area = num(p, 3), group = num(p + 4, 2), serial = num(p + 7, 4);
                bool same = true;
                if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
                        return 0;
                for (int k = 1; k < 11; k++)
                        if (k != 3 && k != 6 && p[k] != p[0])
                                same = false;
                if (same)
                        return 0;
        }
        return 11;
}

/* 13..19 digits, single spaces or dashes between groups, Luhn-valid */
static size_t card_at(const char *s, size_t n, size_t i) {
        int digits[19], nd = 0;
        size_t j = i, last = i;
        int sum = 0;

        if (!boundary_before(s, i) || !is_digit(s[i]))
                return 0;
        while (j < n && nd < 19) {
                if (is_digit(s[j])) {
                        digits[nd++] = s[j] - '0';
                        last = ++j;
                } else if ((s[j] == ' ' || s[j] == '-') && j + 1 < n && is_digit(s[j + 1]) && nd > 0) {
                        j++;
                } else {
                        break;
                }
        }
        if (nd < 13 || !boundary_after(s, n, last) || (last < n && is_digit(s[last])))
                return 0;
        for (int k = 0; k < nd; k++) {
                int d = digits[nd - 1 - k];
                if (k & 1) {
                        d *= 2;
                        if (d > 9)
                                d -= 9;
                }
                sum += d;
        }
        if (sum % 10 != 0)
                return 0;
        /* issuer prefixes (Presidio's): Visa 4, Mastercard 5/2, Amex 3, Discover 6 */
        if (digits[0] < 2 || digits[0] > 6)
                return 0;
        return last - i;
}

static bool email_local(char c) {
        return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* local@domain.tld at the '@' at index i */
static bool email_at(const char *s, size_t n, size_t i) {
        size_t a = i, b = i + 1, dots = 0, label = 0;

        while (a > 0 && email_local(s[a - 1]))
                a--;
        if (a == i)
                return false;
        while (b < n && (is_alnum(s[b]) || s[b] == '-' || s[b] == '.')) {
                if (s[b] == '.') {
                        if (label == 0)
                                return false;
                        dots++;
                        label = 0;
                } else {
                        label++;
                }
                b++;
        }
        if (b > i + 1 && s[b - 1] == '.') {
                b--; /* a sentence's final period */
                dots--;
                label = 1;
                for (size_t k = b; k > i + 1 && s[k - 1] != '.'; k--)
                        label = b - k + 1;
        }
        if (dots == 0)
                return false;
        /* the top-level domain: two letters or more */
        {
                size_t t = b, letters = 0;
                while (t > i + 1 && s[t - 1] != '.') {
                        if (!is_alpha(s[t - 1]))
                                return false;
                        letters++;
                        t--;
                }
                return letters >= 2;
        }
}

/* d.d.d.d, octets 0..255 without leading zeros */
static size_t ipv4_at(const char *s, size_t n, size_t i) {
        size_t j = i;

        if (!boundary_before(s, i))
                return 0;
        for (int part = 0; part < 4; part++) {
                size_t k = j;
                unsigned v = 0;
                while (k < n && is_digit(s[k]) && k - j < 3)
                        v = v * 10 + (unsigned)(s[k++] - '0');
                if (k == j || v > 255 || (k - j > 1 && s[j] == '0') || (k < n && is_digit(s[k])))
                        return 0;
                j = k;
                if (part < 3) {
                        if (j >= n || s[j] != '.')
                                return 0;
                        j++;
                }
        }
        return boundary_after(s, n, j) ? j - i : 0;
}

/* CCdd then 11..30 letters and digits, spaces allowed every 4, mod 97 == 1 */
static size_t iban_at(const char *s, size_t n, size_t i) {
        char c[34];
        size_t nc = 0, j = i, last = i;
        unsigned rem = 0;

        if (!boundary_before(s, i) || i + 4 > n || !(s[i] >= 'A' && s[i] <= 'Z') ||
            !(s[i + 1] >= 'A' && s[i + 1] <= 'Z') || !is_digit(s[i + 2]) || !is_digit(s[i + 3]))
                return 0;
        while (j < n && nc < sizeof c) {
                if (is_digit(s[j]) || (s[j] >= 'A' && s[j] <= 'Z')) {
                        c[nc++] = s[j];
                        last = ++j;
                } else if (s[j] == ' ' && j + 1 < n && is_alnum(s[j + 1]) && nc % 4 == 0) {
                        j++;
                } else {
                        break;
                }
        }
        if (nc < 15 || nc > 34 || !boundary_after(s, n, last))
                return 0;
        /* move the first four to the end, letters as 10..35, mod 97 */
        for (size_t k = 0; k < nc; k++) {
                char ch = c[(k + 4) % nc];
                if (is_digit(ch))
                        rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
                else
                        rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
        }
        return rem == 1 ? last - i : 0;
}

unsigned pii_patterns_scan(const char *s, size_t n) {
        unsigned found = 0;

        for (size_t i = 0; i < n; i++) {
                char ch = s[i];

                if (ch == '@') {
                        if (!(found & PII_PAT_EMAIL) && email_at(s, n, i))
                                found |= PII_PAT_EMAIL;
                        continue;
                }
                if (is_digit(ch) && boundary_before(s, i)) {
                        if (!(found & PII_PAT_SSN) && ssn_at(s, n, i))
                                found |= PII_PAT_SSN;
                        if (!(found & PII_PAT_CREDIT_CARD) && card_at(s, n, i) > 0)
                                found |= PII_PAT_CREDIT_CARD;
                        if (!(found & PII_PAT_IP) && ipv4_at(s, n, i))
                                found |= PII_PAT_IP;
                        /* skip the rest of this number */
                        while (i + 1 < n && (is_digit(s[i + 1]) || s[i + 1] == '-' || s[i + 1] == '.' ||
                                             (s[i + 1] == ' ' && i + 2 < n && is_digit(s[i + 2]))))
                                i++;
                        continue;
                }
                if (ch >= 'A' && ch <= 'Z' && !(found & PII_PAT_IBAN) && iban_at(s, n, i))
                        found |= PII_PAT_IBAN;
        }
        return found;
}
