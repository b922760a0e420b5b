/*
 * The checksum of checksum.h. Lane j of the sixteen takes the 32-bit words
 * at positions j, j + 16, j + 32, ... of the (zero padded) bytes.
 */
#include "checksum.h"
#include "edgeinfer.h"
#include "simd.h"

#define FNV_PRIME 16777619u
#define FNV_BASIS 2166136261u
#define STEP 64 /* bytes per step: sixteen lanes */

static uint32_t fold(const uint32_t h[16])
{
    uint32_t r = FNV_BASIS;
    for (int j = 0; j < 16; j++) r = (r ^ h[j]) * FNV_PRIME;
    return r;
}

uint32_t u8_checksum_simd128(const uint8_t *p, size_t n)
{
    v128_t h[4], prime = wasm_i32x4_splat((int32_t)FNV_PRIME);
    for (int v = 0; v < 4; v++) h[v] = wasm_i32x4_splat((int32_t)(n + (size_t)v));
    uint8_t tail[STEP] = {0};
    for (size_t i = 0; i < n; i += STEP) {
        const uint8_t *q = p + i;
        if (n - i < STEP) { /* the zero padded tail */
            for (size_t k = 0; k < n - i; k++) tail[k] = q[k];
            q = tail;
        }
        for (int v = 0; v < 4; v++) h[v] = wasm_i32x4_mul(wasm_v128_xor(h[v], wasm_v128_load(q + 16 * v)), prime);
    }
    uint32_t lanes[16];
    for (int v = 0; v < 4; v++) wasm_v128_store(lanes + 4 * v, h[v]);
    return fold(lanes);
}

uint32_t u8_checksum_scalar(const uint8_t *p, size_t n)
{
    uint32_t h[16];
    for (int j = 0; j < 16; j++) h[j] = (uint32_t)(n + (size_t)(j / 4));
    for (size_t i = 0; i < n; i += STEP) {
        for (int j = 0; j < 16; j++) {
            uint32_t w = 0;
            for (int b = 0; b < 4; b++) {
                size_t at = i + 4 * (size_t)j + (size_t)b;
                w |= (uint32_t)(at < n ? p[at] : 0) << (8 * b);
            }
            h[j] = (h[j] ^ w) * FNV_PRIME;
        }
    }
    return fold(h);
}

uint32_t ei_checksum(const void *bytes, size_t size)
{
    return u8_checksum_simd128(bytes, size);
}
