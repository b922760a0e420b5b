/*
 * Block-quantized (4- and 8-bit) weights unpacked inside the product (q4_gemv.h). Values are
 * taken out of 32-bit lanes (u32 shift and and) rather than widened byte -> i16 -> i32: no byte
 * shifts or shuffles, and LLVM 14 keeps the i32 -> f32 conversion a vector instruction (a widened
 * i16 it converts lane by lane). The order this leaves the values in is undone on A instead
 * (q4_pack_a), once per row of A rather than once per weight. The product takes the zero point
 * out of the inner loop: sum a (q - z) = sum a q - z sum a, with sum a per block and lane from
 * q4_pack_a; q is at most 255 and exact, so this adds one rounding per block.
 */
#include "q4_gemv.h"

#include "simd.h"

/* Values per chunk, and a chunk's position in the column of k (chunk-relative order). */
static size_t chunk_len(int bits) { return 128 / (size_t)bits; }
static size_t packed_pos(size_t k, int bits)
{
    size_t L = 32 / (size_t)bits, cv = 4 * L, r = k % cv;
    return k - r + r % L * 4 + r / L;
}

size_t q4_packed_k(const q4_weights *w)
{
    size_t cv = chunk_len(w->bits);
    return (w->k_blocks * w->block + cv - 1) / cv * cv;
}

/* Values sharing one scale per lane: a block, or a chunk of two 4-bit blocks of 16. */
static size_t group_len(const q4_weights *w) { return w->block > chunk_len(w->bits) ? w->block : chunk_len(w->bits); }

size_t q4_row_len(const q4_weights *w) { return q4_packed_k(w) + q4_packed_k(w) / group_len(w) * 4; }

/* What A's value at packed position p is multiplied by: 2^-(bits * s) for slot s, but the top one. */
static float prescale(size_t p, int bits)
{
    size_t s = p % chunk_len(bits) / 4;
    return s == 32 / (size_t)bits - 1 ? 1.0f : 1.0f / (float)(1u << (bits * s));
}

void q4_pack_a(const q4_weights *w, const float *a, float *ap)
{
    size_t kp = q4_packed_k(w), G = group_len(w);
    for (size_t p = 0; p < q4_row_len(w); p++) ap[p] = 0;
    for (size_t k = 0; k < w->K; k++) {
        size_t p = packed_pos(k, w->bits);
        ap[p] = a[k] * prescale(p, w->bits);
        ap[kp + p / G * 4 + p % 4] += a[k];
    }
}

/* (q - zero point) * scale of value k of column n. */
static float value_at(const q4_weights *w, size_t n, size_t k)
{
    size_t blk = k / w->block, i = k % w->block;
    const uint8_t *p = w->b + (n * w->k_blocks + blk) * (w->block * (size_t)w->bits / 8);
    int q = w->bits == 8 ? p[i] : p[i / 2] >> (i % 2 * 4) & 15;
    return (float)(q - q4_zero_point(w, n, blk)) * w->scales[n * w->k_blocks + blk];
}

/* Scale and zero point per lane of the group starting at block blk of column n: the block's,
 * except for a 4-bit block of 16, which fills lanes 0-1, and the next block lanes 2-3 (zeros past
 * the last block). */
static void group_params(const q4_weights *w, size_t n, size_t blk, v128_t *scale, v128_t *zp)
{
    size_t i = n * w->k_blocks + blk;
    float s0 = w->scales[i], z0 = (float)q4_zero_point(w, n, blk);
    if (w->block >= chunk_len(w->bits)) {
        *scale = wasm_f32x4_splat(s0);
        *zp = wasm_f32x4_splat(z0);
        return;
    }
    int next = blk + 1 < w->k_blocks;
    float s1 = next ? w->scales[i + 1] : 0, z1 = next ? (float)q4_zero_point(w, n, blk + 1) : 0;
    *scale = wasm_f32x4_make(s0, s0, s1, s1);
    *zp = wasm_f32x4_make(z0, z0, z1, z1);
}

/* The chunk at k0 of a column whose bytes start at p: half of it when only half is there. */
static v128_t load_chunk(const q4_weights *w, const uint8_t *p, size_t k0)
{
    p += k0 * (size_t)w->bits / 8;
    return k0 + chunk_len(w->bits) > w->k_blocks * w->block ? wasm_v128_load64_zero(p) : wasm_v128_load(p);
}

/* Value s of every lane of x as float, for the dequantization. */
static v128_t slot(v128_t x, int bits, int s)
{
    return wasm_f32x4_convert_i32x4(wasm_v128_and(wasm_u32x4_shr(x, (uint32_t)(bits * s)), wasm_i32x4_splat((1 << bits) - 1)));
}

/* d += a[4i, 4i+4) * (value i of every lane of x) * 2^(bits * i) for the slots of a chunk: the
 * value is masked where it lies, A was scaled by 2^-(bits * i) for it (exact), and the top one is
 * shifted down instead (masked it would be negative). Two sums in turn. */
#define MAC(i, q0, q1)                                                                      \
    do {                                                                                  \
        v128_t ai = wasm_v128_load(a + 4 * (i));                                          \
        d[(i) % 2] = f32x4_madd(ai, wasm_f32x4_convert_i32x4(q0), d[(i) % 2]);            \
        d[2 + (i) % 2] = f32x4_madd(ai, wasm_f32x4_convert_i32x4(q1), d[2 + (i) % 2]);    \
    } while (0)
#define SLOT(i) MAC(i, wasm_v128_and(x0, m[i]), wasm_v128_and(x1, m[i]))
static inline void dot_chunk(int bits, const float *a, v128_t x0, v128_t x1, const v128_t *m, v128_t d[4])
{
    SLOT(0);
    SLOT(1);
    SLOT(2);
    if (bits == 4) {
        SLOT(3);
        SLOT(4);
        SLOT(5);
        SLOT(6);
        MAC(7, wasm_u32x4_shr(x0, 28), wasm_u32x4_shr(x1, 28));
    } else {
        MAC(3, wasm_u32x4_shr(x0, 24), wasm_u32x4_shr(x1, 24));
    }
}
#undef SLOT
#undef MAC

static const uint32_t masks[2][7][4] __attribute__((aligned(16))) = {
    {{0xff, 0xff, 0xff, 0xff}, {0xff00, 0xff00, 0xff00, 0xff00}, {0xff0000, 0xff0000, 0xff0000, 0xff0000}},
    {{0xf, 0xf, 0xf, 0xf}, {0xf0, 0xf0, 0xf0, 0xf0}, {0xf00, 0xf00, 0xf00, 0xf00}, {0xf000, 0xf000, 0xf000, 0xf000},
     {0xf0000, 0xf0000, 0xf0000, 0xf0000}, {0xf00000, 0xf00000, 0xf00000, 0xf00000}, {0xf000000, 0xf000000, 0xf000000, 0xf000000}}};

/* Columns go in pairs (sharing A's loads), the last one paired with itself when their count is
 * odd; the masks are read into locals through a volatile pointer, since as constants LLVM puts
 * them back into the loop, where V8 builds each 128-bit constant with several instructions. */
void q4_gemv_simd128(const q4_weights *w, const float *ap, size_t n0, size_t n1, float *y)
{
    size_t cv = chunk_len(w->bits), kp = q4_packed_k(w), G = group_len(w), col = w->k_blocks * w->block * (size_t)w->bits / 8;
    v128_t m[7];
    for (int i = 0; i < 7; i++) m[i] = *(volatile v128_t *)&masks[w->bits == 4][i];
    for (size_t n = n0; n < n1; n += 2) {
        size_t n2 = n + 1 < n1 ? n + 1 : n;
        const uint8_t *p = w->b + n * col, *q = w->b + n2 * col;
        const float *asum = ap + kp; /* [kp / G][4] */
        v128_t acc0 = wasm_f32x4_splat(0), acc1 = acc0, s0, z0, s1, z1;
        for (size_t k0 = 0, blk = 0; k0 < kp; asum += 4, blk += G / w->block) {
            group_params(w, n, blk, &s0, &z0);
            group_params(w, n2, blk, &s1, &z1);
            v128_t z = wasm_f32x4_splat(0), d[4] = {z, z, z, z}; /* two sums per column */
            for (size_t end = k0 + G; k0 < end; k0 += cv) {
                if (w->bits == 4) dot_chunk(4, ap + k0, load_chunk(w, p, k0), load_chunk(w, q, k0), m, d);
                else dot_chunk(8, ap + k0, load_chunk(w, p, k0), load_chunk(w, q, k0), m, d);
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

void q4_gemv_scalar(const q4_weights *w, const float *ap, size_t n0, size_t n1, float *y)
{
    for (size_t n = n0; n < n1; n++) {
        float acc = 0;
        for (size_t k = 0; k < w->K; k++) {
            size_t p = packed_pos(k, w->bits);
            acc += ap[p] / prescale(p, w->bits) * value_at(w, n, k);
        }
        y[n - n0] = acc;
    }
}

void q4_dequant_simd128(const q4_weights *w, size_t n, float *col)
{
    size_t cv = chunk_len(w->bits), kp = q4_packed_k(w), G = group_len(w);
    const uint8_t *p = w->b + n * w->k_blocks * w->block * (size_t)w->bits / 8;
    v128_t scale, zp;
    for (size_t k0 = 0, blk = 0; k0 < kp; blk += G / w->block) {
        group_params(w, n, blk, &scale, &zp);
        for (size_t end = k0 + G; k0 < end; k0 += cv) {
            v128_t x = load_chunk(w, p, k0);
            for (int s = 0; s < 32 / w->bits; s++) { /* times 1 / prescale, for A's packed values */
                v128_t v = wasm_f32x4_mul(wasm_f32x4_sub(slot(x, w->bits, s), zp), scale);
                wasm_v128_store(col + k0 + 4 * s, wasm_f32x4_mul(v, wasm_f32x4_splat(1 / prescale(4 * (size_t)s, w->bits))));
            }
        }
    }
}

void q4_dequant_scalar(const q4_weights *w, size_t n, float *col)
{
    for (size_t p = 0, kp = q4_packed_k(w); p < kp; p++) col[p] = 0;
    for (size_t k = 0; k < w->K; k++) {
        size_t p = packed_pos(k, w->bits);
        col[p] = value_at(w, n, k) / prescale(p, w->bits);
    }
}
