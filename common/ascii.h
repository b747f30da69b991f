/* Character classes the parsers share (ASCII only, locale-free, inline). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

static inline bool ascii_is_digit(uint8_t c) {
        return (unsigned)(c - '0') < 10u;
}

/* A hex digit's value, or -1. */
static inline int ascii_hex_value(uint8_t c) {
        if (ascii_is_digit(c))
                return c - '0';
        c |= 0x20;
        if ((unsigned)(c - 'a') < 6u)
                return c - 'a' + 10;
        return -1;
}

static inline int ascii_lower(uint8_t c) {
        return (unsigned)(c - 'A') < 26u ? c | 0x20 : c;
}

/* Category names compare case-insensitively, '_' and ' ' alike
 * ("computer_science" is "computer science"). */
static inline bool ascii_category_eq(const char *a, const char *b) {
        for (;; a++, b++) {
                int x = *a == '_' ? ' ' : ascii_lower((uint8_t)*a);
                int y = *b == '_' ? ' ' : ascii_lower((uint8_t)*b);

                if (x != y)
                        return false;
                if (!x)
                        return true;
        }
}
