/* IEEE half (f16) and bfloat16 to f32, exact (subnormals, inf, NaN). */
#pragma once
#include <stdint.h>
#include <string.h>

static inline float clf_half_f16_to_f32(uint16_t h) {
        uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
        float f;

        if (exp == 0x1f) {
                bits = sign | 0x7f800000u | (man << 13);
        } else if (exp == 0) {
                if (man == 0) {
                        bits = sign;
                } else {
                        /* subnormal: normalize */
                        exp = 127 - 15 + 1;
                        while (!(man & 0x400)) {
                                man <<= 1;
                                exp--;
                        }
                        man &= 0x3ff;
                        bits = sign | (exp << 23) | (man << 13);
                }
        } else {
                bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
        }
        memcpy(&f, &bits, sizeof f);
        return f;
}

static inline float clf_half_bf16_to_f32(uint16_t h) {
        uint32_t bits = (uint32_t)h << 16;
        float f;

        memcpy(&f, &bits, sizeof f);
        return f;
}
