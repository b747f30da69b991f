/* Unicode tables (generated from Python's unicodedata) and UTF-8 coding. */
#include <stdbool.h>

#include "classifier/clf_unicode.h"
#include "clf-test.h"

static void check_nfd(uint32_t cp, const uint32_t *want, size_t n) {
        uint32_t out[CLF_UNICODE_NFD_MAX];

        check_eq(clf_unicode_nfd(cp, out), n);
        for (size_t i = 0; i < n; i++)
                check_eq(out[i], want[i]);
}

int main(void) {
        uint32_t out[CLF_UNICODE_LOWER_MAX], cp;
        char buf[4];

        check_eq(clf_unicode_category('A'), CLF_UCAT_LU);
        check_eq(clf_unicode_category('a'), CLF_UCAT_LL);
        check_eq(clf_unicode_category('5'), CLF_UCAT_ND);
        check_eq(clf_unicode_category(','), CLF_UCAT_PO);
        check_eq(clf_unicode_category('$'), CLF_UCAT_SC);
        check_eq(clf_unicode_category(' '), CLF_UCAT_ZS);
        check_eq(clf_unicode_category(0x0301), CLF_UCAT_MN); /* combining acute */
        check_eq(clf_unicode_category(0x0903), CLF_UCAT_MC); /* Devanagari visarga */
        check_eq(clf_unicode_category(0x4e2d), CLF_UCAT_LO); /* 中 */
        check_eq(clf_unicode_category(0x0663), CLF_UCAT_ND); /* Arabic-Indic 3 */
        check_eq(clf_unicode_category(0x00bd), CLF_UCAT_NO); /* ½ */
        check_eq(clf_unicode_category(0x200b), CLF_UCAT_CF); /* zero width space */
        check_eq(clf_unicode_category(0xe000), CLF_UCAT_CO); /* private use */
        check_eq(clf_unicode_category(0xd800), CLF_UCAT_CS);
        check_eq(clf_unicode_category(0x0378), CLF_UCAT_CN);  /* unassigned */
        check_eq(clf_unicode_category(0x1f600), CLF_UCAT_SO); /* 😀 */
        check_eq(clf_unicode_category(0x10ffff), CLF_UCAT_CN);
        check_eq(clf_unicode_category(0x110000), CLF_UCAT_CN);
        check(clf_unicode_is_white_space(0x3000) && clf_unicode_is_white_space(0x85) &&
              !clf_unicode_is_white_space(0x200b));
        check(clf_unicode_is_punct(0x3001) && !clf_unicode_is_punct('$'));

        check_nfd('e', (uint32_t[]){ 'e' }, 1);
        check_nfd(0xe9, (uint32_t[]){ 'e', 0x301 }, 2);               /* é */
        check_nfd(0x1e09, (uint32_t[]){ 'c', 0x327, 0x301 }, 3);      /* ḉ: recursive */
        check_nfd(0xc5, (uint32_t[]){ 'A', 0x30a }, 2);               /* Å */
        check_nfd(0x212b, (uint32_t[]){ 'A', 0x30a }, 2);             /* Ångström sign */
        check_nfd(0xd55c, (uint32_t[]){ 0x1112, 0x1161, 0x11ab }, 3); /* 한 */
        check_nfd(0xac00, (uint32_t[]){ 0x1100, 0x1161 }, 2);         /* 가 */
        check_nfd(0xfb01, (uint32_t[]){ 0xfb01 }, 1);                 /* ﬁ: compatibility only */

        check_eq(clf_unicode_lower('A', out), 1);
        check_eq(out[0], 'a');
        check_eq(clf_unicode_lower(0x3a3, out), 1); /* Σ -> σ (no final sigma context) */
        check_eq(out[0], 0x3c3);
        check_eq(clf_unicode_lower(0x130, out), 2); /* İ -> i + combining dot */
        check(out[0] == 'i' && out[1] == 0x307);
        check_eq(clf_unicode_lower(0x410, out), 1); /* А */
        check_eq(out[0], 0x430);
        check_eq(clf_unicode_lower(0x1e9e, out), 1); /* ẞ -> ß */
        check_eq(out[0], 0xdf);

        check_eq(clf_unicode_ccc('a'), 0);
        check_eq(clf_unicode_ccc(0x301), 230);
        check_eq(clf_unicode_ccc(0x323), 220);
        check_eq(clf_unicode_compose('e', 0x301), 0xe9);
        check_eq(clf_unicode_compose('A', 0x30a), 0xc5);
        check_eq(clf_unicode_compose(0x1112, 0x1161), 0xd558); /* 하 */
        check_eq(clf_unicode_compose(0xd558, 0x11ab), 0xd55c); /* 한 */
        check_eq(clf_unicode_compose('e', 'e'), 0);
        check_eq(clf_unicode_compose(0x0308, 0x0301), 0); /* U+0344 is excluded */

        /* UTF-8 */
        check_eq(clf_utf8_decode("\xc3\xa9", 2, &cp), 2);
        check_eq(cp, 0xe9);
        check_eq(clf_utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
        check_eq(cp, 0x1f600);
        check_eq(clf_utf8_decode("\xc0\xaf", 2, &cp), 1); /* overlong */
        check_eq(cp, 0xfffd);
        check_eq(clf_utf8_decode("\xed\xa0\x80", 3, &cp), 1); /* surrogate */
        check_eq(cp, 0xfffd);
        check_eq(clf_utf8_decode("\xe2\x82", 2, &cp), 1); /* truncated */
        check_eq(cp, 0xfffd);
        check_eq(clf_utf8_decode("\x80", 1, &cp), 1);
        check_eq(cp, 0xfffd);
        check_eq(clf_utf8_encode(0x10ffff, buf), 4);
        check(memcmp(buf, "\xf4\x8f\xbf\xbf", 4) == 0);
        for (uint32_t c = 0; c < 0x110000; c += 7) {
                size_t n;

                if (c >= 0xd800 && c <= 0xdfff)
                        continue;
                n = clf_utf8_encode(c, buf);
                check_eq(clf_utf8_decode(buf, n, &cp), n);
                check_eq(cp, c);
        }
        printf("unicode: ok (%s)\n", "tables from tools/classifier/gen_unicode.py");
        return 0;
}
