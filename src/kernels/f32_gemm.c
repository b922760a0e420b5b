/*
 * float32 GEMM: packing, the blocked driver, and the 4x8 register-tiled
 * microkernels (WebAssembly SIMD128; natively through SIMDe). The layout of
 * packed operands is described in f32_gemm.h.
 *
 * Loop order (Goto's): for each KC block of K, for each MC block of A rows,
 * for each NR panel of B, for each MR panel of A: one microkernel call. The B
 * panel (KC*NR floats) stays in L1 across the inner loop and the A block
 * (MC*KC floats) in L2 across the middle one. The microkernel keeps the 4x8
 * tile of C in eight vector registers; wasm has no fused multiply-add, so
 * each step is a multiply then an add. It comes in two variants that differ
 * only in how A values are broadcast (see UKERNEL_4X8_BEST).
 */
#include <string.h>

#include "f32_gemm.h"
#include "simd.h"

#define MR F32_GEMM_MR
#define NR F32_GEMM_NR
#define KC F32_GEMM_KC
#define MC 128 /* rows of A per L2 block; a multiple of MR */

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

size_t f32_gemm_packed_a_size(size_t M, size_t K) { return round_up(M, MR) * K; }
size_t f32_gemm_packed_b_size(size_t K, size_t N) { return round_up(N, NR) * K; }

void f32_gemm_pack_a(size_t M, size_t K, const float *A, ptrdiff_t rs, ptrdiff_t cs, float *pa)
{
    size_t mpad = round_up(M, MR);
    for (size_t k0 = 0; k0 < K; k0 += KC) {
        size_t kc = min_sz(KC, K - k0);
        float *blk = pa + k0 * mpad;
        for (size_t m0 = 0; m0 < mpad; m0 += MR) {
            float *dst = blk + m0 * kc;
            size_t mr = min_sz(MR, M - min_sz(m0, M));
            for (size_t r = 0; r < MR; r++) {
                if (r < mr) {
                    const float *src = A + (ptrdiff_t)(m0 + r) * rs + (ptrdiff_t)k0 * cs;
                    for (size_t k = 0; k < kc; k++) dst[k * MR + r] = src[(ptrdiff_t)k * cs];
                } else {
                    for (size_t k = 0; k < kc; k++) dst[k * MR + r] = 0.0f;
                }
            }
        }
    }
}

void f32_gemm_pack_b(size_t K, size_t N, const float *B, ptrdiff_t rs, ptrdiff_t cs, float *pb)
{
    size_t npad = round_up(N, NR);
    for (size_t k0 = 0; k0 < K; k0 += KC) {
        size_t kc = min_sz(KC, K - k0);
        float *blk = pb + k0 * npad;
        for (size_t n0 = 0; n0 < npad; n0 += NR) {
            float *dst = blk + n0 * kc;
            size_t nr = min_sz(NR, N - min_sz(n0, N));
            for (size_t k = 0; k < kc; k++, dst += NR) {
                const float *src = B + (ptrdiff_t)(k0 + k) * rs + (ptrdiff_t)n0 * cs;
                size_t c = 0;
                if (cs == 1 && nr == NR) { /* a whole panel row: two vector copies, not a memcpy call */
                    wasm_v128_store(dst, wasm_v128_load(src));
                    wasm_v128_store(dst + 4, wasm_v128_load(src + 4));
                    continue;
                }
                if (cs == 1) {
                    memcpy(dst, src, nr * sizeof(float));
                    c = nr;
                } else {
                    for (; c < nr; c++) dst[c] = src[(ptrdiff_t)c * cs];
                }
                for (; c < NR; c++) dst[c] = 0.0f;
            }
        }
    }
}

/* Writes (or adds) the valid mr x nr corner of a full MR x NR tile into C. */
static void store_tile(const float *tile, size_t mr, size_t nr, float *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                       int accumulate)
{
    for (size_t r = 0; r < mr; r++) {
        float *row = c + (ptrdiff_t)r * c_rs;
        for (size_t j = 0; j < nr; j++) {
            float v = tile[r * NR + j];
            row[(ptrdiff_t)j * c_cs] = accumulate ? row[(ptrdiff_t)j * c_cs] + v : v;
        }
    }
}

/* ---- SIMD128 ---- */

/*
 * The 4x8 tile: eight accumulators. `loadsplat` picks how A values are
 * broadcast (see UKERNEL_4X8_BEST); each caller passes a constant, so each
 * variant compiles to straight-line code. Two steps of k per iteration halve
 * the pointer updates and loop tests (about 9% of resnet18's time in wasm;
 * four steps were slower).
 */
static inline __attribute__((always_inline)) void ukernel_4x8(int loadsplat, size_t kc, const float *a, const float *b,
                                                              const float *bias, float *c, ptrdiff_t c_rs,
                                                              ptrdiff_t c_cs, size_t mr, size_t nr, int accumulate)
{
    v128_t c00 = wasm_f32x4_splat(0.0f), c10 = c00, c20 = c00, c30 = c00;
    if (bias) {
        c00 = wasm_v128_load32_splat(bias);
        c10 = wasm_v128_load32_splat(bias + 1);
        c20 = wasm_v128_load32_splat(bias + 2);
        c30 = wasm_v128_load32_splat(bias + 3);
    }
    v128_t c01 = c00, c11 = c10, c21 = c20, c31 = c30;
    for (size_t k = 0; k < kc; k += 2) {
        for (size_t s = 0; s < 2 && k + s < kc; s++) {
            const float *as = a + s * MR;
            v128_t b0 = wasm_v128_load(b + s * NR), b1 = wasm_v128_load(b + s * NR + 4), a0, a1, a2, a3;
            if (loadsplat) {
                a0 = wasm_v128_load32_splat(as);
                a1 = wasm_v128_load32_splat(as + 1);
                a2 = wasm_v128_load32_splat(as + 2);
                a3 = wasm_v128_load32_splat(as + 3);
            } else {
                v128_t va = wasm_v128_load(as);
                a0 = wasm_i32x4_shuffle(va, va, 0, 0, 0, 0);
                a1 = wasm_i32x4_shuffle(va, va, 1, 1, 1, 1);
                a2 = wasm_i32x4_shuffle(va, va, 2, 2, 2, 2);
                a3 = wasm_i32x4_shuffle(va, va, 3, 3, 3, 3);
            }
            c00 = f32x4_madd(a0, b0, c00);
            c01 = f32x4_madd(a0, b1, c01);
            c10 = f32x4_madd(a1, b0, c10);
            c11 = f32x4_madd(a1, b1, c11);
            c20 = f32x4_madd(a2, b0, c20);
            c21 = f32x4_madd(a2, b1, c21);
            c30 = f32x4_madd(a3, b0, c30);
            c31 = f32x4_madd(a3, b1, c31);
        }
        a += 2 * MR;
        b += 2 * NR;
    }
    if (mr == MR && nr == NR && c_cs == 1) {
        float *r0 = c, *r1 = c + c_rs, *r2 = c + 2 * c_rs, *r3 = c + 3 * c_rs;
        if (accumulate) {
            c00 = wasm_f32x4_add(c00, wasm_v128_load(r0));
            c01 = wasm_f32x4_add(c01, wasm_v128_load(r0 + 4));
            c10 = wasm_f32x4_add(c10, wasm_v128_load(r1));
            c11 = wasm_f32x4_add(c11, wasm_v128_load(r1 + 4));
            c20 = wasm_f32x4_add(c20, wasm_v128_load(r2));
            c21 = wasm_f32x4_add(c21, wasm_v128_load(r2 + 4));
            c30 = wasm_f32x4_add(c30, wasm_v128_load(r3));
            c31 = wasm_f32x4_add(c31, wasm_v128_load(r3 + 4));
        }
        wasm_v128_store(r0, c00);
        wasm_v128_store(r0 + 4, c01);
        wasm_v128_store(r1, c10);
        wasm_v128_store(r1 + 4, c11);
        wasm_v128_store(r2, c20);
        wasm_v128_store(r2 + 4, c21);
        wasm_v128_store(r3, c30);
        wasm_v128_store(r3 + 4, c31);
        return;
    }
    float tile[MR * NR];
    wasm_v128_store(tile + 0, c00);
    wasm_v128_store(tile + 4, c01);
    wasm_v128_store(tile + 8, c10);
    wasm_v128_store(tile + 12, c11);
    wasm_v128_store(tile + 16, c20);
    wasm_v128_store(tile + 20, c21);
    wasm_v128_store(tile + 24, c30);
    wasm_v128_store(tile + 28, c31);
    store_tile(tile, mr, nr, c, c_rs, c_cs, accumulate);
}

/* Broadcasts each A value with a load (wasm engines emit one broadcast load). */
static void ukernel_4x8_loadsplat_simd128(size_t kc, const float *a, const float *b, const float *bias, float *c,
                                          ptrdiff_t c_rs, ptrdiff_t c_cs, size_t mr, size_t nr, int accumulate)
{
    ukernel_4x8(1, kc, a, b, bias, c, c_rs, c_cs, mr, nr, accumulate);
}

/* Loads four A values at once and broadcasts lanes with shuffles (one instruction
 * each on SSE, where SIMDe's emulated load-splat takes two). */
static void ukernel_4x8_splat_simd128(size_t kc, const float *a, const float *b, const float *bias, float *c,
                                      ptrdiff_t c_rs, ptrdiff_t c_cs, size_t mr, size_t nr, int accumulate)
{
    ukernel_4x8(0, kc, a, b, bias, c, c_rs, c_cs, mr, nr, accumulate);
}

/* One row: a lone last row (M % MR == 1) or a matrix-vector product would
 * waste three quarters of the 4-row kernel. Reads row 0 of the packed panel. */
static void ukernel_1x8_simd128(size_t kc, const float *a, const float *b, const float *bias, float *c,
                                ptrdiff_t c_rs, ptrdiff_t c_cs, size_t mr, size_t nr, int accumulate)
{
    v128_t c0 = wasm_f32x4_splat(bias ? bias[0] : 0.0f), c1 = c0;
    for (size_t k = 0; k < kc; k++) {
        v128_t a0 = wasm_v128_load32_splat(a);
        c0 = f32x4_madd(a0, wasm_v128_load(b), c0);
        c1 = f32x4_madd(a0, wasm_v128_load(b + 4), c1);
        a += MR;
        b += NR;
    }
    if (nr == NR && c_cs == 1) {
        if (accumulate) {
            c0 = wasm_f32x4_add(c0, wasm_v128_load(c));
            c1 = wasm_f32x4_add(c1, wasm_v128_load(c + 4));
        }
        wasm_v128_store(c, c0);
        wasm_v128_store(c + 4, c1);
        return;
    }
    float tile[MR * NR];
    wasm_v128_store(tile, c0);
    wasm_v128_store(tile + 4, c1);
    store_tile(tile, mr, nr, c, c_rs, c_cs, accumulate);
}

/* ---- scalar twin: the same blocking and packed layout, plain arithmetic ---- */

static void ukernel_4x8_scalar(size_t kc, const float *a, const float *b, const float *bias, float *c,
                               ptrdiff_t c_rs, ptrdiff_t c_cs, size_t mr, size_t nr, int accumulate)
{
    float tile[MR * NR];
    for (size_t r = 0; r < MR; r++)
        for (size_t j = 0; j < NR; j++) tile[r * NR + j] = bias ? bias[r] : 0.0f;
    for (size_t k = 0; k < kc; k++) {
        for (size_t r = 0; r < MR; r++)
            for (size_t j = 0; j < NR; j++) tile[r * NR + j] += a[r] * b[j];
        a += MR;
        b += NR;
    }
    store_tile(tile, mr, nr, c, c_rs, c_cs, accumulate);
}

/* bias: MR values (one per tile row) added once, or NULL. */
typedef void (*ukernel_fn)(size_t kc, const float *a, const float *b, const float *bias, float *c, ptrdiff_t c_rs,
                           ptrdiff_t c_cs, size_t mr, size_t nr, int accumulate);

/* K == 0: the product is the empty sum, so C gets only the bias. */
static void gemm_empty(size_t M, size_t N, const float *bias, float *C, ptrdiff_t c_rs, ptrdiff_t c_cs,
                       int accumulate)
{
    for (size_t m = 0; m < M; m++) {
        float b = bias ? bias[m] : 0.0f;
        for (size_t n = 0; n < N; n++) {
            float *c = C + (ptrdiff_t)m * c_rs + (ptrdiff_t)n * c_cs;
            *c = accumulate ? *c + b : b;
        }
    }
}

/* Rows [rb, re) of the product; rb is a multiple of MR. */
static void gemm_packed(size_t M, size_t rb, size_t re, size_t N, size_t K, const float *pa, const float *pb,
                        const float *bias, float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate,
                        ukernel_fn kernel_mr, ukernel_fn kernel_1)
{
    if (re > M) re = M;
    if (rb >= re || N == 0) return;
    if (K == 0) {
        gemm_empty(re - rb, N, bias ? bias + rb : NULL, C + (ptrdiff_t)rb * c_rs, c_rs, c_cs, accumulate);
        return;
    }
    size_t mpad = round_up(M, MR), npad = round_up(N, NR);
    for (size_t k0 = 0; k0 < K; k0 += KC) {
        size_t kc = min_sz(KC, K - k0);
        int acc = accumulate || k0 > 0;
        const float *pa_blk = pa + k0 * mpad, *pb_blk = pb + k0 * npad;
        for (size_t m0 = rb; m0 < re; m0 += MC) {
            size_t m1 = min_sz(m0 + MC, re);
            for (size_t n = 0; n < N; n += NR) {
                size_t nr = min_sz(NR, N - n);
                const float *b = pb_blk + n * kc;
                for (size_t m = m0; m < m1; m += MR) {
                    size_t mr = min_sz(MR, M - m);
                    float *c = C + (ptrdiff_t)m * c_rs + (ptrdiff_t)n * c_cs;
                    ukernel_fn f = mr == 1 ? kernel_1 : kernel_mr;
                    /* The bias goes in with the first K block; a partial tile gets a padded copy. */
                    const float *tb = NULL;
                    float tail_bias[MR] = {0};
                    if (bias && k0 == 0) {
                        tb = bias + m;
                        if (mr < MR) {
                            for (size_t r = 0; r < mr; r++) tail_bias[r] = bias[m + r];
                            tb = tail_bias;
                        }
                    }
                    f(kc, pa_blk + m * kc, b, tb, c, c_rs, c_cs, mr, nr, acc);
                }
            }
        }
    }
}

/* The 4x8 variant for this build; both compute the same sums in the same order.
 * Wasm engines turn load32_splat into one broadcast load that keeps the
 * vector ALUs free for the multiply-adds; SIMDe's native emulation of it
 * costs a move and a shuffle, so natively lane shuffles of one 16-byte load
 * are faster (about 47 against 36 GFLOP/s for 256x256x256 on x86-64). */
static const ukernel_fn ukernel_4x8_simd128[2] = {ukernel_4x8_loadsplat_simd128, ukernel_4x8_splat_simd128};
#if defined(__wasm_simd128__)
#define UKERNEL_4X8_BEST 0
#else
#define UKERNEL_4X8_BEST 1
#endif

void f32_gemm_rows_simd128(size_t M, size_t m0, size_t m1, size_t N, size_t K, const float *pa, const float *pb,
                           const float *bias, float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate)
{
    gemm_packed(M, m0, m1, N, K, pa, pb, bias, C, c_rs, c_cs, accumulate, ukernel_4x8_simd128[UKERNEL_4X8_BEST],
                ukernel_1x8_simd128);
}

void f32_gemm_rows_scalar(size_t M, size_t m0, size_t m1, size_t N, size_t K, const float *pa, const float *pb,
                          const float *bias, float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate)
{
    gemm_packed(M, m0, m1, N, K, pa, pb, bias, C, c_rs, c_cs, accumulate, ukernel_4x8_scalar, ukernel_4x8_scalar);
}

void f32_gemm_packed_simd128(size_t M, size_t N, size_t K, const float *pa, const float *pb, const float *bias,
                             float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate)
{
    f32_gemm_rows_simd128(M, 0, M, N, K, pa, pb, bias, C, c_rs, c_cs, accumulate);
}

void f32_gemm_packed_scalar(size_t M, size_t N, size_t K, const float *pa, const float *pb, const float *bias,
                            float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate)
{
    f32_gemm_rows_scalar(M, 0, M, N, K, pa, pb, bias, C, c_rs, c_cs, accumulate);
}

size_t f32_gemm_work_size(size_t M, size_t N, size_t K)
{
    return f32_gemm_packed_a_size(M, K) + f32_gemm_packed_b_size(K, N);
}

void f32_gemm_simd128(size_t M, size_t N, size_t K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs,
                      const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t c_rs,
                      ptrdiff_t c_cs, int accumulate, float *work)
{
    if (M == 0 || N == 0) return;
    float *pa = work, *pb = work + f32_gemm_packed_a_size(M, K);
    f32_gemm_pack_a(M, K, A, a_rs, a_cs, pa);
    f32_gemm_pack_b(K, N, B, b_rs, b_cs, pb);
    f32_gemm_packed_simd128(M, N, K, pa, pb, NULL, C, c_rs, c_cs, accumulate);
}

void f32_gemm_scalar(size_t M, size_t N, size_t K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t c_rs,
                     ptrdiff_t c_cs, int accumulate, float *work)
{
    (void)work;
    for (size_t m = 0; m < M; m++) {
        for (size_t n = 0; n < N; n++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++)
                acc += A[(ptrdiff_t)m * a_rs + (ptrdiff_t)k * a_cs] * B[(ptrdiff_t)k * b_rs + (ptrdiff_t)n * b_cs];
            float *c = C + (ptrdiff_t)m * c_rs + (ptrdiff_t)n * c_cs;
            *c = accumulate ? *c + acc : acc;
        }
    }
}
