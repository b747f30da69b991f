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
