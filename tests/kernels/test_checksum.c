/*
 * The model checksum: the SIMD kernel against its scalar twin (byte by byte,
 * little-endian words) for every length up to 300 and random offsets, and
 * that changing any one byte, or the length, changes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include "kernels/checksum.h"
static unsigned long long rs = 88172645463325252ull;
static unsigned rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (unsigned)rs; }
int main(void) {
    int bad = 0, runs = 0;
    unsigned char buf[320];
    for (size_t n = 0; n <= 300; n++) {
        size_t off = rnd() % 16;
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)rnd();
        uint32_t a = u8_checksum_simd128(buf + off, n), b = u8_checksum_scalar(buf + off, n);
        runs++;
        if (a != b) { bad++; printf("length %zu offset %zu: simd %08x scalar %08x\n", n, off, a, b); }
        if (n && u8_checksum_simd128(buf + off, n - 1) == a) { bad++; printf("length %zu: same sum one byte shorter\n", n); }
        for (size_t k = 0; k < n; k++) {
            unsigned char bit = (unsigned char)(1u << (rnd() % 8));
            buf[off + k] ^= bit;
            runs++;
            if (u8_checksum_simd128(buf + off, n) == a) { bad++; printf("length %zu: byte %zu changed, same sum\n", n, k); }
            buf[off + k] ^= bit;
        }
    }
    printf("%d passed, %d failed\n", runs - bad, bad);
    return bad != 0;
}
