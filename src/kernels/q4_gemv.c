/*
 * Block-quantized (4- and 8-bit) weights unpacked inside the product (q4_gemv.h). A chunk is the
 * 16 bytes of a block unpacked at once (8 for a 4-bit block of 16): 32 or 16 values as int16
 * minus the zero point, in k order. What remains of a block past its last whole chunk (only the
 * last block of a column, when K is not a multiple of the block) goes value by value.
 */
#include "q4_gemv.h"

#include "simd.h"

/* Value k of column n's block blk, minus its zero point. */
static int q_at(const q4_weights *w, size_t n, size_t blk, size_t k)
{
    const uint8_t *p = w->b + (n * w->k_blocks + blk) * (w->block * (size_t)w->bits / 8);
    int q = w->bits == 8 ? p[k] : p[k / 2] >> (k % 2 * 4) & 15;
    return q - q4_zero_point(w, n, blk);
}

static size_t block_count(const q4_weights *w, size_t blk)
{
    size_t k0 = blk * w->block;
    return w->K - k0 < w->block ? w->K - k0 : w->block;
}

/* Values per chunk. */
static size_t chunk_len(const q4_weights *w) { return w->bits == 4 && w->block > 16 ? 32 : 16; }

/* The chunk at p minus zp as int16, eight values per vector of v (chunk_len / 8 of them). */
static void unpack(const q4_weights *w, const uint8_t *p, int zp, v128_t v[4])
{
    if (w->bits == 8) {
        v128_t x = wasm_v128_load(p), z = wasm_i16x8_splat((int16_t)zp);
        v[0] = wasm_i16x8_sub(wasm_u16x8_extend_low_u8x16(x), z);
        v[1] = wasm_i16x8_sub(wasm_u16x8_extend_high_u8x16(x), z);
        return;
    }
    v128_t x = w->block > 16 ? wasm_v128_load(p) : wasm_v128_load64_zero(p), z = wasm_i8x16_splat((int8_t)zp);
    v128_t lo = wasm_i8x16_sub(wasm_v128_and(x, wasm_i8x16_splat(15)), z), hi = wasm_i8x16_sub(wasm_u8x16_shr(x, 4), z);
    v128_t e = wasm_i8x16_shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    v128_t o = wasm_i8x16_shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    v[0] = wasm_i16x8_extend_low_i8x16(e);
    v[1] = wasm_i16x8_extend_high_i8x16(e);
    v[2] = wasm_i16x8_extend_low_i8x16(o);
    v[3] = wasm_i16x8_extend_high_i8x16(o);
}

static v128_t lo_f32(v128_t v) { return wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(v)); }
static v128_t hi_f32(v128_t v) { return wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(v)); }

/* a[0, 8) times the eight values of v, as four partial sums. */
static v128_t dot8(const float *a, v128_t v)
{
    return f32x4_madd(wasm_v128_load(a + 4), hi_f32(v), wasm_f32x4_mul(wasm_v128_load(a), lo_f32(v)));
}

void q4_gemv_simd128(const q4_weights *w, const float *a, size_t n0, size_t n1, float *y)
{
    size_t step = chunk_len(w), bytes = step * (size_t)w->bits / 8, blob = w->block * (size_t)w->bits / 8;
    for (size_t n = n0; n < n1; n++) {
        v128_t acc = wasm_f32x4_splat(0);
        float tail = 0;
        for (size_t blk = 0; blk < w->k_blocks; blk++) {
            const uint8_t *p = w->b + (n * w->k_blocks + blk) * blob;
            const float *ak = a + blk * w->block;
            size_t count = block_count(w, blk), c = 0;
            int zp = q4_zero_point(w, n, blk);
            v128_t d = wasm_f32x4_splat(0), v[4];
            for (; c + step <= count; c += step, p += bytes) {
                unpack(w, p, zp, v);
                v128_t s = wasm_f32x4_add(dot8(ak + c, v[0]), dot8(ak + c + 8, v[1]));
                if (step == 32) s = wasm_f32x4_add(s, wasm_f32x4_add(dot8(ak + c + 16, v[2]), dot8(ak + c + 24, v[3])));
                d = wasm_f32x4_add(d, s);
            }
            float t = 0, scale = w->scales[n * w->k_blocks + blk];
            for (; c < count; c++) t += ak[c] * (float)q_at(w, n, blk, c);
            acc = f32x4_madd(d, wasm_f32x4_splat(scale), acc);
            tail += t * scale;
        }
        acc = wasm_f32x4_add(acc, wasm_i64x2_shuffle(acc, acc, 1, 0));
        y[n - n0] = wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) + tail;
    }
}

void q4_gemv_scalar(const q4_weights *w, const float *a, size_t n0, size_t n1, float *y)
{
    for (size_t n = n0; n < n1; n++) {
        float acc = 0;
        for (size_t blk = 0; blk < w->k_blocks; blk++) {
            float d = 0;
            for (size_t k = 0, count = block_count(w, blk); k < count; k++)
                d += a[blk * w->block + k] * (float)q_at(w, n, blk, k);
            acc += d * w->scales[n * w->k_blocks + blk];
        }
        y[n - n0] = acc;
    }
}

void q4_dequant_simd128(const q4_weights *w, size_t n, float *col)
{
    size_t step = chunk_len(w), bytes = step * (size_t)w->bits / 8, blob = w->block * (size_t)w->bits / 8;
    for (size_t blk = 0; blk < w->k_blocks; blk++) {
        const uint8_t *p = w->b + (n * w->k_blocks + blk) * blob;
        float *ck = col + blk * w->block, scale = w->scales[n * w->k_blocks + blk];
        size_t count = block_count(w, blk), c = 0;
        int zp = q4_zero_point(w, n, blk);
        v128_t s = wasm_f32x4_splat(scale), v[4];
        for (; c + step <= count; c += step, p += bytes) {
            unpack(w, p, zp, v);
            for (size_t i = 0; i < step / 8; i++) {
                wasm_v128_store(ck + c + 8 * i, wasm_f32x4_mul(lo_f32(v[i]), s));
                wasm_v128_store(ck + c + 8 * i + 4, wasm_f32x4_mul(hi_f32(v[i]), s));
            }
        }
        for (; c < count; c++) ck[c] = (float)q_at(w, n, blk, c) * scale;
    }
}

void q4_dequant_scalar(const q4_weights *w, size_t n, float *col)
{
    for (size_t blk = 0; blk < w->k_blocks; blk++)
        for (size_t k = 0, count = block_count(w, blk); k < count; k++)
            col[blk * w->block + k] = (float)q_at(w, n, blk, k) * w->scales[n * w->k_blocks + blk];
}
