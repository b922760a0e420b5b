/*
 * Block-quantized (4- and 8-bit) weights unpacked inside the product (q4_gemv.h). The kernels
 * only know nibbles: an 8-bit value is its low nibble plus 16 times its high one, so q4_pack_a
 * gives each 8-bit k two positions, with a and 16 a. Nibbles are taken out of 32-bit lanes with
 * one and each, masked where they lie, rather than widened byte -> i16 -> i32: no byte shifts or
 * shuffles, and LLVM 14 keeps the i32 -> f32 conversion a vector instruction (a widened i16 it
 * converts lane by lane). A is packed in the order and scale this leaves (q4_pack_a), once per
 * row of A rather than once per weight. The zero point leaves the inner loop:
 * sum a (q - z) = sum a q - z sum a, with sum a per group and lane from q4_pack_a; q is exact, so
 * this adds one rounding per block.
 */
#include "q4_gemv.h"

#include "simd.h"

#define CHUNK 32 /* nibble positions of a chunk (16 bytes) */

/* Position of nibble t of a column in a packed row of A, and what A is multiplied by there:
 * nibble s of lane j of a chunk goes to s*4 + j, scaled by 2^-4s (the top nibble is shifted down,
 * not masked, so it keeps 1). */
static size_t packed_pos(size_t t)
{
    size_t r = t % CHUNK;
    return t - r + r % 8 * 4 + r / 8;
}
static float prescale(size_t p)
{
    static const float f[8] = {1, 0x1p-4f, 0x1p-8f, 0x1p-12f, 0x1p-16f, 0x1p-20f, 0x1p-24f, 1};
    return f[p % CHUNK / 4];
}

static size_t col_bytes(const q4_weights *w) { return w->k_blocks * w->block * (size_t)w->bits / 8; }

size_t q4_packed_k(const q4_weights *w) { return (2 * col_bytes(w) + CHUNK - 1) / CHUNK * CHUNK; }

/* Nibble positions sharing one scale per lane: a block, or a chunk of two 4-bit blocks of 16. */
static size_t group_len(const q4_weights *w)
{
    size_t b = w->block * (size_t)w->bits / 4;
    return b > CHUNK ? b : CHUNK;
}

size_t q4_row_len(const q4_weights *w) { return q4_packed_k(w) + q4_packed_k(w) / group_len(w) * 4; }

void q4_pack_a(const q4_weights *w, const float *a, float *ap)
{
    size_t kp = q4_packed_k(w), G = group_len(w), per = (size_t)w->bits / 4;
    for (size_t p = 0; p < q4_row_len(w); p++) ap[p] = 0;
    for (size_t t = 0; t < w->K * per; t++) { /* nibble t; an 8-bit value's high one gets 16 a */
        size_t p = packed_pos(t);
        ap[p] = a[t / per] * prescale(p) * (float)(1 << (t % per * 4));
        if (t % per == 0) ap[kp + p / G * 4 + p % 4] += a[t / per];
    }
}

/* Row a's value at k, and (q - zero point) * scale of value k of column n. */
static float a_at(const q4_weights *w, const float *ap, size_t k)
{
    size_t p = packed_pos(k * (size_t)w->bits / 4);
    return ap[p] / prescale(p);
}
static float value_at(const q4_weights *w, size_t n, size_t k)
{
    size_t blk = k / w->block, i = k % w->block;
    const uint8_t *p = w->b + (n * w->k_blocks + blk) * (w->block * (size_t)w->bits / 8);
    int q = w->bits == 8 ? p[i] : p[i / 2] >> (i % 2 * 4) & 15;
    return (float)(q - q4_zero_point(w, n, blk)) * w->scales[n * w->k_blocks + blk];
}

/* Scale and zero point per lane of the group starting at block blk of column n: the block's,
 * except for a 4-bit block of 16, which fills lanes 0-1, and the next block lanes 2-3 (zeros
 * past the last block). */
static void group_params(const q4_weights *w, size_t n, size_t blk, v128_t *scale, v128_t *zp)
{
    size_t i = n * w->k_blocks + blk;
    float s0 = w->scales[i], z0 = (float)q4_zero_point(w, n, blk);
    if (w->block * (size_t)w->bits / 4 >= CHUNK) {
        *scale = wasm_f32x4_splat(s0);
        *zp = wasm_f32x4_splat(z0);
        return;
    }
    int next = blk + 1 < w->k_blocks;
    float s1 = next ? w->scales[i + 1] : 0, z1 = next ? (float)q4_zero_point(w, n, blk + 1) : 0;
    *scale = wasm_f32x4_make(s0, s0, s1, s1);
    *zp = wasm_f32x4_make(z0, z0, z1, z1);
}

/* The chunk at position k0 of a column of `bytes` bytes at p: half of it when only half is there. */
static v128_t load_chunk(const uint8_t *p, size_t bytes, size_t k0)
{
    return k0 / 2 + 16 > bytes ? wasm_v128_load64_zero(p + k0 / 2) : wasm_v128_load(p + k0 / 2);
}

/* Nibble i of every lane of x, masked where it lies (m[i]), as float; the top one shifted down. */
#define NIB(x, i) wasm_f32x4_convert_i32x4((i) == 7 ? wasm_u32x4_shr(x, 28) : wasm_v128_and(x, m[(i) % 7]))

static const uint32_t masks[7][4] __attribute__((aligned(16))) = {
    {0xf, 0xf, 0xf, 0xf},         {0xf0, 0xf0, 0xf0, 0xf0},         {0xf00, 0xf00, 0xf00, 0xf00},
    {0xf000, 0xf000, 0xf000, 0xf000}, {0xf0000, 0xf0000, 0xf0000, 0xf0000}, {0xf00000, 0xf00000, 0xf00000, 0xf00000},
    {0xf000000, 0xf000000, 0xf000000, 0xf000000}};

/* The masks go into locals through a volatile read: as constants LLVM puts them back into the
 * loop, where V8 builds each 128-bit constant with several instructions at every use. */
static void load_masks(v128_t m[7])
{
    for (int i = 0; i < 7; i++) m[i] = *(volatile const v128_t *)masks[i];
}

/* Pairs of columns sharing A's loads (the last column paired with itself when their count is
 * odd), two sums each. */
#define PAIR(i)                                                                 \
    do {                                                                        \
        v128_t ai = wasm_v128_load(ap + k0 + 4 * (i));                          \
        d[(i) % 2] = f32x4_madd(ai, NIB(x0, i), d[(i) % 2]);                    \
        d[2 + (i) % 2] = f32x4_madd(ai, NIB(x1, i), d[2 + (i) % 2]);            \
    } while (0)

void q4_gemv_simd128(const q4_weights *w, const float *ap, size_t n0, size_t n1, float *y)
{
    size_t kp = q4_packed_k(w), G = group_len(w), step = G * 4 / (w->block * (size_t)w->bits), cb = col_bytes(w);
    v128_t m[7];
    load_masks(m);
    for (size_t n = n0; n < n1; n += 2) {
        size_t n2 = n + 1 < n1 ? n + 1 : n;
        const uint8_t *p0 = w->b + n * cb, *p1 = w->b + n2 * cb;
        const float *asum = ap + kp; /* [kp / G][4] */
        v128_t acc0 = wasm_f32x4_splat(0), acc1 = acc0, s0, z0, s1, z1;
        for (size_t k0 = 0, blk = 0; k0 < kp; asum += 4, blk += step) {
            group_params(w, n, blk, &s0, &z0);
            group_params(w, n2, blk, &s1, &z1);
            v128_t z = wasm_f32x4_splat(0), d[4] = {z, z, z, z};
            for (size_t end = k0 + G; k0 < end; k0 += CHUNK) {
                v128_t x0 = load_chunk(p0, cb, k0), x1 = load_chunk(p1, cb, k0);
                PAIR(0);
                PAIR(1);
                PAIR(2);
                PAIR(3);
                PAIR(4);
                PAIR(5);
                PAIR(6);
                PAIR(7);
            }
            v128_t as = wasm_v128_load(asum);
            acc0 = f32x4_madd(wasm_f32x4_sub(wasm_f32x4_add(d[0], d[1]), wasm_f32x4_mul(z0, as)), s0, acc0);
            acc1 = f32x4_madd(wasm_f32x4_sub(wasm_f32x4_add(d[2], d[3]), wasm_f32x4_mul(z1, as)), s1, acc1);
        }
        acc0 = wasm_f32x4_add(acc0, wasm_i64x2_shuffle(acc0, acc0, 1, 0));
        acc1 = wasm_f32x4_add(acc1, wasm_i64x2_shuffle(acc1, acc1, 1, 0));
        y[n - n0] = wasm_f32x4_extract_lane(acc0, 0) + wasm_f32x4_extract_lane(acc0, 1);
        y[n2 - n0] = wasm_f32x4_extract_lane(acc1, 0) + wasm_f32x4_extract_lane(acc1, 1);
    }
}
#undef PAIR

void q4_gemv_scalar(const q4_weights *w, const float *ap, size_t n0, size_t n1, float *y)
{
    for (size_t n = n0; n < n1; n++) {
        float acc = 0;
        for (size_t k = 0; k < w->K; k++) acc += a_at(w, ap, k) * value_at(w, n, k);
        y[n - n0] = acc;
    }
}

/* Rows of A in fours (the last four repeat a row where M runs out): each chunk of a column is
 * unpacked once and serves four rows. */
#define ROWS(i)                                                     \
    do {                                                            \
        v128_t f = NIB(x, i);                                       \
        d0 = f32x4_madd(wasm_v128_load(a0 + k0 + 4 * (i)), f, d0);  \
        d1 = f32x4_madd(wasm_v128_load(a1 + k0 + 4 * (i)), f, d1);  \
        d2 = f32x4_madd(wasm_v128_load(a2 + k0 + 4 * (i)), f, d2);  \
        d3 = f32x4_madd(wasm_v128_load(a3 + k0 + 4 * (i)), f, d3);  \
    } while (0)
#define FINISH(r) acc##r = f32x4_madd(wasm_f32x4_sub(d##r, wasm_f32x4_mul(zp, wasm_v128_load(a##r + kp + g))), scale, acc##r)

void q4_gemm_simd128(const q4_weights *w, size_t M, const float *ap, size_t lda, size_t n0, size_t n1, float *y, size_t ldy)
{
    size_t kp = q4_packed_k(w), G = group_len(w), step = G * 4 / (w->block * (size_t)w->bits), cb = col_bytes(w);
    v128_t m[7];
    load_masks(m);
    for (size_t m0 = 0; m0 < M; m0 += 4) {
        const float *a0 = ap + m0 * lda, *a1 = ap + (m0 + 1 < M ? m0 + 1 : m0) * lda,
                    *a2 = ap + (m0 + 2 < M ? m0 + 2 : m0) * lda, *a3 = ap + (m0 + 3 < M ? m0 + 3 : m0) * lda;
        for (size_t n = n0; n < n1; n++) {
            v128_t acc0 = wasm_f32x4_splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0, scale, zp;
            for (size_t k0 = 0, blk = 0, g = 0; k0 < kp; g += 4, blk += step) {
                group_params(w, n, blk, &scale, &zp);
                v128_t d0 = wasm_f32x4_splat(0), d1 = d0, d2 = d0, d3 = d0;
                for (size_t end = k0 + G; k0 < end; k0 += CHUNK) {
                    v128_t x = load_chunk(w->b + n * cb, cb, k0);
                    ROWS(0);
                    ROWS(1);
                    ROWS(2);
                    ROWS(3);
                    ROWS(4);
                    ROWS(5);
                    ROWS(6);
                    ROWS(7);
                }
                FINISH(0);
                FINISH(1);
                FINISH(2);
                FINISH(3);
            }
            v128_t acc[4] = {acc0, acc1, acc2, acc3};
            for (size_t r = 0; r < 4 && m0 + r < M; r++) {
                v128_t t = wasm_f32x4_add(acc[r], wasm_i64x2_shuffle(acc[r], acc[r], 1, 0));
                y[(m0 + r) * ldy + n - n0] = wasm_f32x4_extract_lane(t, 0) + wasm_f32x4_extract_lane(t, 1);
            }
        }
    }
}
#undef ROWS
#undef FINISH

void q4_gemm_scalar(const q4_weights *w, size_t M, const float *ap, size_t lda, size_t n0, size_t n1, float *y, size_t ldy)
{
    for (size_t m = 0; m < M; m++) q4_gemv_scalar(w, ap + m * lda, n0, n1, y + m * ldy);
}
