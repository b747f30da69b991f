/* Unicode properties for the tokenizers: general category, canonical
 * decomposition (NFD), lower-case mapping and UTF-8 coding. The tables are
 * generated from Python's unicodedata by tools/classifier/gen_unicode.py
 * (clf_unicode_table.h), so the C tokenizers and the Python references
 * agree on the same Unicode version (CLF_UNICODE_VERSION there). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum clf_ucat {
        CLF_UCAT_CN,
        CLF_UCAT_LU,
        CLF_UCAT_LL,
        CLF_UCAT_LT,
        CLF_UCAT_LM,
        CLF_UCAT_LO,
        CLF_UCAT_MN,
        CLF_UCAT_MC,
        CLF_UCAT_ME,
        CLF_UCAT_ND,
        CLF_UCAT_NL,
        CLF_UCAT_NO,
        CLF_UCAT_PC,
        CLF_UCAT_PD,
        CLF_UCAT_PS,
        CLF_UCAT_PE,
        CLF_UCAT_PI,
        CLF_UCAT_PF,
        CLF_UCAT_PO,
        CLF_UCAT_SM,
        CLF_UCAT_SC,
        CLF_UCAT_SK,
        CLF_UCAT_SO,
        CLF_UCAT_ZS,
        CLF_UCAT_ZL,
        CLF_UCAT_ZP,
        CLF_UCAT_CC,
        CLF_UCAT_CF,
        CLF_UCAT_CS,
        CLF_UCAT_CO,
};

#define CLF_UNICODE_NFD_MAX 8   /* longest full canonical decomposition */
#define CLF_UNICODE_LOWER_MAX 3 /* longest lower-case mapping */

enum clf_ucat clf_unicode_category(uint32_t cp);

static inline bool clf_unicode_is_letter(uint32_t cp) {
        enum clf_ucat c = clf_unicode_category(cp);
        return c >= CLF_UCAT_LU && c <= CLF_UCAT_LO;
}
static inline bool clf_unicode_is_number(uint32_t cp) {
        enum clf_ucat c = clf_unicode_category(cp);
        return c >= CLF_UCAT_ND && c <= CLF_UCAT_NO;
}
static inline bool clf_unicode_is_punct(uint32_t cp) {
        enum clf_ucat c = clf_unicode_category(cp);
        return c >= CLF_UCAT_PC && c <= CLF_UCAT_PO;
}
/* "Other" categories: Cc, Cf, Cs, Co and Cn (unassigned). */
static inline bool clf_unicode_is_other(uint32_t cp) {
        enum clf_ucat c = clf_unicode_category(cp);
        return c == CLF_UCAT_CN || c >= CLF_UCAT_CC;
}
static inline bool clf_unicode_is_alnum(uint32_t cp) {
        return clf_unicode_is_letter(cp) || clf_unicode_is_number(cp);
}

/* The Unicode White_Space property (what Rust's char::is_whitespace, the
 * regex \s of tokenizers and Oniguruma match). */
bool clf_unicode_is_white_space(uint32_t cp);

/* Full canonical decomposition of one code point into out (Hangul syllables
 * algorithmically); returns the number of code points (1: cp itself). */
size_t clf_unicode_nfd(uint32_t cp, uint32_t out[CLF_UNICODE_NFD_MAX]);

/* Canonical combining class (0 for starters). */
uint8_t clf_unicode_ccc(uint32_t cp);

/* The primary composite of the canonical pair (a, b) (Hangul included),
 * or 0 when they do not compose. */
uint32_t clf_unicode_compose(uint32_t a, uint32_t b);

/* Lower-case mapping of one code point (Python's chr(cp).lower()); returns
 * the number of code points written. */
size_t clf_unicode_lower(uint32_t cp, uint32_t out[CLF_UNICODE_LOWER_MAX]);

/* Decodes one UTF-8 sequence at s[0..len) (len > 0). Invalid, overlong,
 * surrogate or truncated sequences decode as U+FFFD consuming one byte.
 * Returns the number of bytes consumed (1-4). */
size_t clf_utf8_decode(const char *s, size_t len, uint32_t *ret_cp);

/* Encodes cp (<= 0x10FFFF) as UTF-8 into out; returns 1-4. */
size_t clf_utf8_encode(uint32_t cp, char out[4]);
