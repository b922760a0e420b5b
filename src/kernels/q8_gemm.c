/*
 * 8-bit integer GEMM (see q8_gemm.h): operand packing into int16 k-pair
 * panels, the MR x NR microkernel with i32x4.dot_i16x8_s, its scalar twin,
 * the requantisation epilogue they share, and the per-tensor quantize and
 * dequantize conversions (vectorised like the epilogue).
 *
 * The SIMD epilogue converts the int32 sums to float32, multiplies, clamps,
 * and rounds half to even with the float "magic number" (round_to_code):
 * this equals clamp(round(acc * scale) + zp) for every sum, infinities and
 * NaN (which becomes the zero point) included, as q8_requant_one computes it.
 */
#include <math.h>

#include "f32_conv.h"
#include "q8_gemm.h"
#include "simd.h"

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

size_t q8_gemm_packed_a_size(size_t M, size_t K) { return round_up(M, Q8_GEMM_MR) * round_up(K, 2); }
size_t q8_gemm_packed_b_size(size_t K, size_t N) { return round_up(N, Q8_GEMM_NR) * round_up(K, 2); }

static inline int32_t byte_at(const void *p, int is_signed, ptrdiff_t i)
{
    return is_signed ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

void q8_gemm_pack_a(size_t M, size_t K, const void *A, int is_signed, ptrdiff_t rs, ptrdiff_t cs, const int32_t *zp,
                    int zp_per_row, int16_t *pa)
{
    size_t Kp = round_up(K, 2), Mp = round_up(M, Q8_GEMM_MR);
    for (size_t m = 0; m < Mp; m++) {
        int16_t *dst = pa + m / Q8_GEMM_MR * Q8_GEMM_MR * Kp + m % Q8_GEMM_MR * 2;
        int32_t z = zp ? zp[zp_per_row ? m : 0] : 0;
        for (size_t k = 0; k < Kp; k++) {
            int32_t v = m < M && k < K ? byte_at(A, is_signed, (ptrdiff_t)m * rs + (ptrdiff_t)k * cs) - z : 0;
            dst[k / 2 * Q8_GEMM_MR * 2 + k % 2] = (int16_t)v;
        }
    }
}

void q8_gemm_pack_b_scalar(size_t K, size_t N, const void *B, int is_signed, ptrdiff_t rs, ptrdiff_t cs, int32_t zp,
                           int16_t *pb)
{
    size_t Kp = round_up(K, 2), Np = round_up(N, Q8_GEMM_NR);
    for (size_t n = 0; n < Np; n++) {
        int16_t *dst = pb + n / Q8_GEMM_NR * Q8_GEMM_NR * Kp + n % Q8_GEMM_NR * 2;
        for (size_t k = 0; k < Kp; k++) {
            int32_t v = n < N && k < K ? byte_at(B, is_signed, (ptrdiff_t)k * rs + (ptrdiff_t)n * cs) - zp : 0;
            dst[k / 2 * Q8_GEMM_NR * 2 + k % 2] = (int16_t)v;
        }
    }
}

/* Eight bytes at p widened to int16 (zero or sign extension). */
static inline v128_t load8_i16(const void *p, int is_signed)
{
    return is_signed ? wasm_i16x8_load8x8(p) : wasm_u16x8_load8x8(p);
}

/* Whole panels of rows with unit column stride: rows k and k+1 of eight columns are loaded, widened,
 * shifted by the zero point and interleaved into the two vectors of a k pair. Tails go scalar. */
/* Whole panels of columns contiguous in k (rows of the activations, rs == 1), K a multiple of 8: eight k of
 * each of the eight columns are loaded, widened and shifted by the zero point, and their k pairs (int32
 * lanes) transposed into place, four columns at a time. */
static void pack_b_columns(size_t K, size_t panels, const int8_t *b, int is_signed, ptrdiff_t cs, v128_t z, int16_t *pb)
{
    for (size_t p = 0; p < panels; p++) {
        for (size_t k = 0; k < K; k += 8) {
            int16_t *dst = pb + (p * K + k) * Q8_GEMM_NR;
            for (size_t h = 0; h < Q8_GEMM_NR; h += 4) {
                v128_t c[4];
                for (size_t j = 0; j < 4; j++)
                    c[j] = wasm_i16x8_sub(load8_i16(b + (ptrdiff_t)(p * Q8_GEMM_NR + h + j) * cs + (ptrdiff_t)k, is_signed), z);
                v128_t t0 = wasm_i32x4_shuffle(c[0], c[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(c[0], c[1], 2, 6, 3, 7);
                v128_t t2 = wasm_i32x4_shuffle(c[2], c[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(c[2], c[3], 2, 6, 3, 7);
                wasm_v128_store(dst + h * 2, wasm_i64x2_shuffle(t0, t2, 0, 2));
                wasm_v128_store(dst + h * 2 + 16, wasm_i64x2_shuffle(t0, t2, 1, 3));
                wasm_v128_store(dst + h * 2 + 32, wasm_i64x2_shuffle(t1, t3, 0, 2));
                wasm_v128_store(dst + h * 2 + 48, wasm_i64x2_shuffle(t1, t3, 1, 3));
            }
        }
    }
}

void q8_gemm_pack_b(size_t K, size_t N, const void *B, int is_signed, ptrdiff_t rs, ptrdiff_t cs, int32_t zp,
                    int16_t *pb)
{
    size_t full = cs == 1 || (rs == 1 && K % 8 == 0) ? N / Q8_GEMM_NR : 0, Kp = round_up(K, 2), K2 = K / 2 * 2;
    const int8_t *b = B;
    v128_t z = wasm_i16x8_splat((int16_t)zp);
    if (cs != 1) pack_b_columns(K, full, b, is_signed, cs, z, pb);
    for (size_t p = 0; p < full && cs == 1; p++) {
        int16_t *dst = pb + p * Q8_GEMM_NR * Kp;
        const int8_t *col = b + p * Q8_GEMM_NR;
        for (size_t k = 0; k < K2; k += 2, dst += 2 * Q8_GEMM_NR) {
            v128_t r0 = wasm_i16x8_sub(load8_i16(col + (ptrdiff_t)k * rs, is_signed), z);
            v128_t r1 = wasm_i16x8_sub(load8_i16(col + (ptrdiff_t)(k + 1) * rs, is_signed), z);
            wasm_v128_store(dst, wasm_i16x8_shuffle(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11));
            wasm_v128_store(dst + 8, wasm_i16x8_shuffle(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15));
        }
        if (K2 < K) {
            for (size_t j = 0; j < Q8_GEMM_NR; j++) {
                dst[2 * j] = (int16_t)(byte_at(col, is_signed, (ptrdiff_t)K2 * rs + (ptrdiff_t)j) - zp);
                dst[2 * j + 1] = 0;
            }
        }
    }
    size_t done = full * Q8_GEMM_NR;
    if (done < N || N == 0)
        q8_gemm_pack_b_scalar(K, N - done, b + (ptrdiff_t)done * cs, is_signed, rs, cs, zp, pb + done * Kp);
}

/* (float)(acc + bias) * scale, the first step of both epilogues. */
static float scaled_one(const q8_requant *rq, size_t m, uint32_t acc)
{
    if (rq->bias) acc += (uint32_t)rq->bias[m];
    int32_t a = acc <= INT32_MAX ? (int32_t)acc : (int32_t)(acc - 2147483648u) - INT32_MAX - 1;
    return (float)a * rq->scale[rq->per_row ? m : 0];
}

float q8_dequant_one(const q8_requant *rq, size_t m, uint32_t acc)
{
    float v = scaled_one(rq, m, acc);
    return rq->fbias ? v + rq->fbias[m] : v;
}

int32_t q8_requant_one(const q8_requant *rq, size_t m, uint32_t acc)
{
    float v = scaled_one(rq, m, acc);
    float r = isnan(v) ? (float)rq->zp : nearbyintf(v) + (float)rq->zp;
    int32_t lo = rq->out_signed ? -128 : 0, hi = rq->out_signed ? 127 : 255;
    if (lo < rq->qmin) lo = rq->qmin;
    if (hi > rq->qmax) hi = rq->qmax;
    return r < (float)lo ? lo : r > (float)hi ? hi : (int32_t)r;
}

static void store_scalar(const q8_requant *rq, size_t m, uint32_t acc, void *C, ptrdiff_t i)
{
    if (!rq) {
        uint32_t *c = C;
        c[i] = acc;
    } else if (rq->out_f32) {
        ((float *)C)[i] = q8_dequant_one(rq, m, acc);
    } else if (rq->out_signed) {
        ((int8_t *)C)[i] = (int8_t)q8_requant_one(rq, m, acc);
    } else {
        ((uint8_t *)C)[i] = (uint8_t)q8_requant_one(rq, m, acc);
    }
}

void q8_gemm_packed_scalar(size_t M, size_t N, size_t K, const int16_t *pa, const int16_t *pb, const q8_requant *rq,
                           void *C, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    size_t Kp = round_up(K, 2);
    for (size_t m = 0; m < M; m++) {
        const int16_t *a = pa + m / Q8_GEMM_MR * Q8_GEMM_MR * Kp + m % Q8_GEMM_MR * 2;
        for (size_t n = 0; n < N; n++) {
            const int16_t *b = pb + n / Q8_GEMM_NR * Q8_GEMM_NR * Kp + n % Q8_GEMM_NR * 2;
            uint32_t acc = 0;
            for (size_t k = 0; k < Kp; k += 2) {
                const int16_t *ak = a + k / 2 * Q8_GEMM_MR * 2, *bk = b + k / 2 * Q8_GEMM_NR * 2;
                acc += (uint32_t)(ak[0] * bk[0]) + (uint32_t)(ak[1] * bk[1]);
            }
            store_scalar(rq, m, acc, C, (ptrdiff_t)m * c_rs + (ptrdiff_t)n * c_cs);
        }
    }
}

/*
 * round(f) + zp clamped to [lo + zp, hi + zp], as int32 lanes, where lo and hi are the integer bounds
 * less the zero point (|lo|, |hi| < 2^22) and zp_bits = MAGIC_BITS - zp: NaN becomes 0 (the zero
 * point's code), the clamp comes first (rounding is monotonic and the bounds are integers, so this
 * equals clamping after rounding), then adding 1.5 * 2^23 rounds to an integer, half to even, in
 * the low bits of the float, from which an integer subtraction takes the code. Cheaper than
 * nearest + trunc_sat, which engines lower to long sequences.
 */
#define MAGIC 12582912.0f
#define MAGIC_BITS 0x4B400000
static inline v128_t round_to_code(v128_t f, v128_t lo, v128_t hi, v128_t zp_bits)
{
    f = wasm_v128_and(f, wasm_f32x4_eq(f, f));
    f = wasm_f32x4_pmin(hi, wasm_f32x4_pmax(lo, f));
    return wasm_i32x4_sub(wasm_f32x4_add(f, wasm_f32x4_splat(MAGIC)), zp_bits);
}

/* Writes the first `nr` of the eight results of one row (two i32x4) to C + i*c_cs. */
/* Not inlined: it is called once per eight outputs, and two inlined copies cost more bytes than time. */
__attribute__((noinline)) static void store_row(const q8_requant *rq, size_t m, v128_t lo, v128_t hi, void *C, ptrdiff_t c_cs, size_t nr)
{
    if (rq && rq->bias) {
        v128_t b = wasm_i32x4_splat(rq->bias[m]);
        lo = wasm_i32x4_add(lo, b);
        hi = wasm_i32x4_add(hi, b);
    }
    v128_t s = wasm_f32x4_splat(rq ? rq->scale[rq->per_row ? m : 0] : 0);
    if (rq && rq->out_f32) {
        lo = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(lo), s);
        hi = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(hi), s);
        if (rq->fbias) {
            v128_t b = wasm_f32x4_splat(rq->fbias[m]);
            lo = wasm_f32x4_add(lo, b);
            hi = wasm_f32x4_add(hi, b);
        }
    }
    if (!rq || rq->out_f32) { /* four-byte outputs: int32 sums or float32 */
        int32_t *c = C;
        if (c_cs == 1 && nr == Q8_GEMM_NR) {
            wasm_v128_store(c, lo);
            wasm_v128_store(c + 4, hi);
            return;
        }
        int32_t t[Q8_GEMM_NR];
        wasm_v128_store(t, lo);
        wasm_v128_store(t + 4, hi);
        for (size_t j = 0; j < nr; j++) c[(ptrdiff_t)j * c_cs] = t[j];
        return;
    }
    v128_t lo_f = wasm_f32x4_splat((float)(rq->qmin - rq->zp)), hi_f = wasm_f32x4_splat((float)(rq->qmax - rq->zp));
    v128_t zp_bits = wasm_i32x4_splat(MAGIC_BITS - rq->zp);
    lo = round_to_code(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(lo), s), lo_f, hi_f, zp_bits);
    hi = round_to_code(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(hi), s), lo_f, hi_f, zp_bits);
    v128_t h = wasm_i16x8_narrow_i32x4(lo, hi);
    v128_t q = rq->out_signed ? wasm_i8x16_narrow_i16x8(h, h) : wasm_u8x16_narrow_i16x8(h, h);
    uint8_t *c = C;
    if (c_cs == 1 && nr == Q8_GEMM_NR) {
        wasm_v128_store64_lane(c, q, 0);
        return;
    }
    uint8_t t[16];
    wasm_v128_store(t, q);
    for (size_t j = 0; j < nr; j++) c[(ptrdiff_t)j * c_cs] = t[j];
}

/* One MR x NR tile over all of K: per k pair, two vectors of B (four columns each) against the
 * broadcast pair of each of the four rows. */
static void tile_4x8(size_t Kp, const int16_t *a, const int16_t *b, v128_t *acc)
{
    v128_t c00 = wasm_i32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (size_t k = 0; k < Kp; k += 2) {
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 8);
        v128_t a0 = wasm_v128_load32_splat(a), a1 = wasm_v128_load32_splat(a + 2);
        v128_t a2 = wasm_v128_load32_splat(a + 4), a3 = wasm_v128_load32_splat(a + 6);
        c00 = wasm_i32x4_add(c00, wasm_i32x4_dot_i16x8(a0, b0));
        c01 = wasm_i32x4_add(c01, wasm_i32x4_dot_i16x8(a0, b1));
        c10 = wasm_i32x4_add(c10, wasm_i32x4_dot_i16x8(a1, b0));
        c11 = wasm_i32x4_add(c11, wasm_i32x4_dot_i16x8(a1, b1));
        c20 = wasm_i32x4_add(c20, wasm_i32x4_dot_i16x8(a2, b0));
        c21 = wasm_i32x4_add(c21, wasm_i32x4_dot_i16x8(a2, b1));
        c30 = wasm_i32x4_add(c30, wasm_i32x4_dot_i16x8(a3, b0));
        c31 = wasm_i32x4_add(c31, wasm_i32x4_dot_i16x8(a3, b1));
        a += 2 * Q8_GEMM_MR;
        b += 2 * Q8_GEMM_NR;
    }
    acc[0] = c00, acc[1] = c01, acc[2] = c10, acc[3] = c11;
    acc[4] = c20, acc[5] = c21, acc[6] = c30, acc[7] = c31;
}

void q8_gemm_packed_simd128(size_t M, size_t N, size_t K, const int16_t *pa, const int16_t *pb, const q8_requant *rq,
                            void *C, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    size_t Kp = round_up(K, 2), esize = rq && !rq->out_f32 ? 1 : 4;
    char *c = C;
    /* Row panels outside: one panel of A (the weights) stays in L1 while the columns stream by. */
    for (size_t m0 = 0; m0 < M; m0 += Q8_GEMM_MR) {
        size_t mr = M - m0 < Q8_GEMM_MR ? M - m0 : Q8_GEMM_MR;
        for (size_t n0 = 0; n0 < N; n0 += Q8_GEMM_NR) {
            size_t nr = N - n0 < Q8_GEMM_NR ? N - n0 : Q8_GEMM_NR;
            v128_t acc[2 * Q8_GEMM_MR];
            tile_4x8(Kp, pa + m0 * Kp, pb + n0 * Kp, acc);
            for (size_t r = 0; r < mr; r++)
                store_row(rq, m0 + r, acc[2 * r], acc[2 * r + 1],
                          c + ((ptrdiff_t)(m0 + r) * c_rs + (ptrdiff_t)n0 * c_cs) * (ptrdiff_t)esize, c_cs, nr);
        }
    }
}

void q8_quantize_scalar(const float *x, void *y, size_t n, float scale, int32_t zp, int is_signed)
{
    float lo = is_signed ? -128.0f : 0.0f, hi = is_signed ? 127.0f : 255.0f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i] / scale;
        float r = isnan(v) ? (float)zp : nearbyintf(v) + (float)zp;
        r = r < lo ? lo : r > hi ? hi : r;
        if (is_signed) ((int8_t *)y)[i] = (int8_t)r;
        else ((uint8_t *)y)[i] = (uint8_t)r;
    }
}

/* Eight floats to eight 8-bit codes in the low half of the result, as the GEMM epilogue. */
static inline v128_t quantize8(v128_t a, v128_t b, v128_t s, v128_t lo, v128_t hi, v128_t zp_bits, int is_signed)
{
    a = round_to_code(wasm_f32x4_div(a, s), lo, hi, zp_bits);
    b = round_to_code(wasm_f32x4_div(b, s), lo, hi, zp_bits);
    v128_t h = wasm_i16x8_narrow_i32x4(a, b);
    return is_signed ? wasm_i8x16_narrow_i16x8(h, h) : wasm_u8x16_narrow_i16x8(h, h);
}

void q8_quantize_simd128(const float *x, void *y, size_t n, float scale, int32_t zp, int is_signed)
{
    v128_t s = wasm_f32x4_splat(scale), zp_bits = wasm_i32x4_splat(MAGIC_BITS - zp);
    v128_t lo = wasm_f32x4_splat((float)((is_signed ? -128 : 0) - zp)), hi = wasm_f32x4_splat((float)((is_signed ? 127 : 255) - zp));
    uint8_t *out = y;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        wasm_v128_store64_lane(out + i, quantize8(wasm_v128_load(x + i), wasm_v128_load(x + i + 4), s, lo, hi, zp_bits, is_signed), 0);
    q8_quantize_scalar(x + i, out + i, n - i, scale, zp, is_signed);
}

void q8_dequantize_scalar(const void *x, float *y, size_t n, float scale, int32_t zp, int is_signed)
{
    for (size_t i = 0; i < n; i++) y[i] = (float)(byte_at(x, is_signed, (ptrdiff_t)i) - zp) * scale;
}

void q8_dequantize_simd128(const void *x, float *y, size_t n, float scale, int32_t zp, int is_signed)
{
    v128_t s = wasm_f32x4_splat(scale), z = wasm_i16x8_splat((int16_t)zp);
    const uint8_t *in = x;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t h = wasm_i16x8_sub(load8_i16(in + i, is_signed), z);
        wasm_v128_store(y + i, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(h)), s));
        wasm_v128_store(y + i + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(h)), s));
    }
    q8_dequantize_scalar(in + i, y + i, n - i, scale, zp, is_signed);
}

/* ---- DynamicQuantizeLinear's parameters ---- */

static void dynamic_params(float lo, float hi, float *scale, int32_t *zp)
{
    /* An all-zero input has an empty range; scale 1 keeps every value finite (onnxruntime does the same). */
    float s = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    float z = 0 - lo / s;
    if (!(z >= 0)) z = 0; /* NaN too: an infinite input gives an infinite range */
    if (z > 255) z = 255;
    *scale = s;
    *zp = (int32_t)nearbyintf(z);
}

void q8_dynamic_params_scalar(const float *x, size_t n, float *scale, int32_t *zp)
{
    float lo = 0, hi = 0; /* the range always includes 0, so that 0.0 has an exact code */
    for (size_t i = 0; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    dynamic_params(lo, hi, scale, zp);
}

void q8_dynamic_params_simd128(const float *x, size_t n, float *scale, int32_t *zp)
{
    v128_t vlo = wasm_f32x4_splat(0), vhi = vlo;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) { /* pmin and pmax keep their first operand when the second is NaN */
        v128_t v = wasm_v128_load(x + i);
        vlo = wasm_f32x4_pmin(vlo, v);
        vhi = wasm_f32x4_pmax(vhi, v);
    }
    vlo = wasm_f32x4_pmin(vlo, wasm_i32x4_shuffle(vlo, vlo, 2, 3, 0, 1));
    vhi = wasm_f32x4_pmax(vhi, wasm_i32x4_shuffle(vhi, vhi, 2, 3, 0, 1));
    vlo = wasm_f32x4_pmin(vlo, wasm_i32x4_shuffle(vlo, vlo, 1, 0, 3, 2));
    vhi = wasm_f32x4_pmax(vhi, wasm_i32x4_shuffle(vhi, vhi, 1, 0, 3, 2));
    float lo = wasm_f32x4_extract_lane(vlo, 0), hi = wasm_f32x4_extract_lane(vhi, 0);
    for (; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    dynamic_params(lo, hi, scale, zp);
}

/* ---- depthwise convolution ---- */

/* The zero-bordered int16 plane: rows and columns every output and tap may read, plus a vector of slack. */
static void dw_plane_dims(const f32_conv_geom *g, size_t *rows, size_t *cols)
{
    *rows = (g->grid[0] - 1) * g->stride[0] + (g->kernel[0] - 1) * g->dilation[0] + 1;
    *cols = round_up((round_up(g->grid[1], 8) - 1) * g->stride[1] + (g->kernel[1] - 1) * g->dilation[1] + 1 + 8, 8);
}

size_t q8_dwconv_work_size(const f32_conv_geom *g)
{
    if (g->grid[0] == 0 || g->grid[1] == 0) return 0;
    size_t rows, cols;
    dw_plane_dims(g, &rows, &cols);
    return rows * cols * sizeof(int16_t);
}

static void dw_fill(const f32_conv_geom *g, const uint8_t *x, int x_signed, int32_t xz, size_t rows, size_t cols,
                    int16_t *plane)
{
    size_t H = g->img[0], W = g->img[1];
    v128_t z = wasm_i16x8_splat((int16_t)xz);
    for (size_t r = 0; r < rows; r++) {
        int16_t *dst = plane + r * cols;
        ptrdiff_t iy = (ptrdiff_t)r - g->pad[0], left = g->pad[1];
        size_t c = 0;
        if (iy < 0 || iy >= (ptrdiff_t)H) {
            for (; c < cols; c++) dst[c] = 0;
            continue;
        }
        const uint8_t *src = x + (size_t)iy * W;
        size_t end = (size_t)left + W < cols ? (size_t)left + W : cols; /* [left, end) is the image */
        for (; c < (size_t)left && c < cols; c++) dst[c] = 0;
        for (; c + 8 <= end; c += 8) wasm_v128_store(dst + c, wasm_i16x8_sub(load8_i16(src + (c - left), x_signed), z));
        for (; c < end; c++) dst[c] = (int16_t)(byte_at(src, x_signed, (ptrdiff_t)(c - left)) - xz);
        for (; c < cols; c++) dst[c] = 0;
    }
}

#define DW_SPLATS 64

/* Eight int16 of a plane row at positions j * stride, j = 0..7. */
static inline v128_t dw_load8(const int16_t *p, size_t stride)
{
    if (stride == 1) return wasm_v128_load(p);
    if (stride == 2) return wasm_i16x8_shuffle(wasm_v128_load(p), wasm_v128_load(p + 8), 0, 2, 4, 6, 8, 10, 12, 14);
    int16_t t[8];
    for (size_t j = 0; j < 8; j++) t[j] = p[j * stride];
    return wasm_v128_load(t);
}

void q8_dwconv_simd128(const f32_conv_geom *g, const void *x, int x_signed, int32_t xz, const int16_t *w,
                       const q8_requant *rq, void *y, void *work)
{
    size_t OH = g->grid[0], OW = g->grid[1], KH = g->kernel[0], KW = g->kernel[1], rows, cols;
    if (OH == 0 || OW == 0) return;
    dw_plane_dims(g, &rows, &cols);
    size_t es = rq ? 1 : 4, plane_in = g->img[0] * g->img[1];
    int16_t *plane = work;
    for (size_t c = 0; c < g->channels; c++) {
        dw_fill(g, (const uint8_t *)x + c * plane_in, x_signed, xz, rows, cols, plane);
        const int16_t *wc = w + c * KH * KW;
        v128_t wv[DW_SPLATS]; /* the channel's weights, each splat once (kernels up to 8x8) */
        for (size_t t = 0; t < KH * KW && t < DW_SPLATS; t++) wv[t] = wasm_i16x8_splat(wc[t]);
        int32_t b = rq && rq->bias ? rq->bias[c] : 0;
        q8_requant r1;
        if (rq) { /* the bias was added here already */
            r1 = *rq;
            r1.bias = NULL;
        }
        for (size_t oy = 0; oy < OH; oy++) {
            char *yrow = (char *)y + ((c * OH + oy) * OW) * es;
            for (size_t ox = 0; ox < OW; ox += 8) {
                v128_t lo = wasm_i32x4_splat(b), hi = lo;
                for (size_t ky = 0; ky < KH; ky++) {
                    const int16_t *row = plane + (oy * g->stride[0] + ky * g->dilation[0]) * cols + ox * g->stride[1];
                    for (size_t kx = 0; kx < KW; kx++) {
                        v128_t v = dw_load8(row + kx * g->dilation[1], g->stride[1]);
                        size_t t = ky * KW + kx;
                        v128_t wt = t < DW_SPLATS ? wv[t] : wasm_i16x8_splat(wc[t]);
                        lo = wasm_i32x4_add(lo, wasm_i32x4_extmul_low_i16x8(v, wt));
                        hi = wasm_i32x4_add(hi, wasm_i32x4_extmul_high_i16x8(v, wt));
                    }
                }
                store_row(rq ? &r1 : NULL, c, lo, hi, yrow + ox * es, 1, OW - ox < 8 ? OW - ox : 8);
            }
        }
    }
}

void q8_dwconv_scalar(const f32_conv_geom *g, const void *x, int x_signed, int32_t xz, const int16_t *w,
                      const q8_requant *rq, void *y, void *work)
{
    size_t H = g->img[0], W = g->img[1], OH = g->grid[0], OW = g->grid[1], KH = g->kernel[0], KW = g->kernel[1];
    for (size_t c = 0; c < g->channels; c++) {
        for (size_t oy = 0; oy < OH; oy++) {
            for (size_t ox = 0; ox < OW; ox++) {
                uint32_t acc = 0;
                for (size_t ky = 0; ky < KH; ky++) {
                    for (size_t kx = 0; kx < KW; kx++) {
                        ptrdiff_t iy = (ptrdiff_t)(oy * g->stride[0] + ky * g->dilation[0]) - g->pad[0];
                        ptrdiff_t ix = (ptrdiff_t)(ox * g->stride[1] + kx * g->dilation[1]) - g->pad[1];
                        if (iy < 0 || iy >= (ptrdiff_t)H || ix < 0 || ix >= (ptrdiff_t)W) continue;
                        int32_t v = byte_at(x, x_signed, (ptrdiff_t)((c * H + (size_t)iy) * W + (size_t)ix)) - xz;
                        acc += (uint32_t)(v * w[c * KH * KW + ky * KW + kx]);
                    }
                }
                store_scalar(rq, c, acc, y, (ptrdiff_t)((c * OH + oy) * OW + ox));
            }
        }
    }
}
