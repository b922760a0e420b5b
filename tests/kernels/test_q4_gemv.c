/*
 * Kernel tests for the block-quantized product (q4_gemv.h): q4_gemv and q4_gemm, SIMD and scalar,
 * on rows of A packed by q4_pack_a, against a double-precision sum over the unpacked values, for
 * 4 and 8 bits, every block size from 16 to 256, K from 1 to a few blocks (partial last blocks and
 * an odd number of 4-bit blocks of 16 included), packed and default zero points, 1, 4 and 7 rows
 * (a partial group of four), and column ranges that do not start at 0. Results agree within float
 * rounding of the sum of |a * w|. Canaries after every output row and the packed rows catch writes
 * out of bounds. Exits non-zero if any case fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/q4_gemv.h"

#define CANARY -12345.0f

static unsigned rng = 77u;
static unsigned next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static int failures = 0;

static void fail(const char *what, size_t n, double want, double got)
{
    if (failures++ < 10) fprintf(stderr, "FAIL %s col %zu: want %.9g got %.9g\n", what, n, want, got);
}

/* The products of M rows of A with columns [n0, N) of a random B, by gemv (row by row) and gemm,
 * SIMD and scalar, against sums in double. */
static void run_case(int bits, size_t block, size_t K, size_t N, size_t M, int with_zp)
{
    size_t kb = (K + block - 1) / block, blob = block * (size_t)bits / 8, zrow = (kb * (size_t)bits + 7) / 8;
    uint8_t *b = malloc(N * kb * blob), *zp = malloc(N * zrow);
    float *scales = malloc(N * kb * 4), *a = malloc(M * K * 4);
    for (size_t i = 0; i < N * kb * blob; i++) b[i] = (uint8_t)next();
    for (size_t i = 0; i < N * zrow; i++) zp[i] = (uint8_t)next();
    for (size_t i = 0; i < N * kb; i++) scales[i] = (float)(next() % 2000) / 1000.0f - 1.0f;
    for (size_t i = 0; i < M * K; i++) a[i] = (float)(next() % 2000) / 500.0f - 2.0f;
    q4_weights w = {b, scales, with_zp ? zp : NULL, K, block, kb, bits};
    size_t rl = q4_row_len(&w), n0 = N > 2 ? 1 : 0, ldy = N - n0 + 1; /* a canary after each row */
    float *ap = malloc((M * rl + 4) * 4), *y = malloc((M * ldy + 4) * 4);
    for (size_t i = 0; i < M * rl + 4; i++) ap[i] = CANARY;
    for (size_t m = 0; m < M; m++) q4_pack_a(&w, a + m * K, ap + m * rl);
    if (ap[M * rl] != CANARY) fail("pack_a canary", 0, CANARY, ap[M * rl]);
    char what[160];
    q4_gemv_fn *gemv[2] = {q4_gemv_simd128, q4_gemv_scalar};
    q4_gemm_fn *gemm[2] = {q4_gemm_simd128, q4_gemm_scalar};
    for (int kind = 0; kind < 4; kind++) {
        snprintf(what, sizeof what, "%s %s bits %d block %zu K %zu N %zu M %zu zp %d", kind / 2 ? "gemm" : "gemv",
                 kind % 2 ? "scalar" : "simd128", bits, block, K, N, M, with_zp);
        for (size_t i = 0; i < M * ldy + 4; i++) y[i] = CANARY;
        if (kind / 2) gemm[kind % 2](&w, M, ap, rl, n0, N, y, ldy);
        else
            for (size_t m = 0; m < M; m++) gemv[kind % 2](&w, ap + m * rl, n0, N, y + m * ldy);
        for (size_t m = 0; m < M; m++) {
            if (y[m * ldy + N - n0] != CANARY) fail(what, N, CANARY, y[m * ldy + N - n0]);
            for (size_t n = n0; n < N; n++) {
                double want = 0, mag = 0;
                for (size_t k = 0; k < K; k++) {
                    size_t blk = k / block, i = k % block;
                    const uint8_t *p = b + (n * kb + blk) * blob;
                    int q = bits == 8 ? p[i] : p[i / 2] >> (i % 2 * 4) & 15;
                    double wk = (double)(q - q4_zero_point(&w, n, blk)) * scales[n * kb + blk];
                    want += a[m * K + k] * wk;
                    mag += fabs(a[m * K + k] * wk);
                }
                if (fabs(y[m * ldy + n - n0] - want) > 1e-5 * mag + 1e-6) fail(what, n, want, y[m * ldy + n - n0]);
            }
        }
    }
    free(b), free(zp), free(scales), free(a), free(ap), free(y);
}

int main(void)
{
    int cases = 0;
    for (int bits = 4; bits <= 8; bits += 4)
        for (size_t block = 16; block <= 256; block *= 2) {
            size_t Ks[] = {1, 7, block - 1, block, block + 9, 3 * block, 3 * block + block / 2 + 3};
            for (size_t i = 0; i < sizeof Ks / sizeof Ks[0]; i++)
                for (size_t N = 1; N <= 7; N += 3)
                    for (int z = 0; z < 2; z++, cases++) run_case(bits, block, Ks[i], N, 1 + (cases % 3) * 3, z);
        }
    printf("q4_gemv: %d cases, %d failures\n", cases, failures);
    return failures != 0;
}
