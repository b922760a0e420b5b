/*
 * Kernel tests for the block-quantized product (q4_gemv.h): the SIMD kernels and their scalar
 * twins against a double-precision sum over the unpacked values, for 4 and 8 bits, every block
 * size from 16 to 256, K from 1 to a few blocks (partial last blocks and an odd number of 4-bit
 * blocks of 16 included), packed and default zero points, and column ranges that do not start at
 * 0. A is packed by q4_pack_a; dequantized columns must hold each weight (k < K) at A's packed
 * position of k, divided by the factor pack_a applies there; products agree within float rounding of the sum of
 * |a * w|. Canaries after every output catch writes out of bounds. Exits non-zero if any case fails.
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

static void run_case(int bits, size_t block, size_t K, size_t N, int with_zp)
{
    size_t kb = (K + block - 1) / block, blob = block * (size_t)bits / 8, zrow = (kb * (size_t)bits + 7) / 8;
    uint8_t *b = malloc(N * kb * blob), *zp = malloc(N * zrow);
    float *scales = malloc(N * kb * 4), *a = malloc(K * 4), *y[2], *col[2];
    int *pos = malloc(K * sizeof *pos);
    for (size_t i = 0; i < N * kb * blob; i++) b[i] = (uint8_t)next();
    for (size_t i = 0; i < N * zrow; i++) zp[i] = (uint8_t)next();
    for (size_t i = 0; i < N * kb; i++) scales[i] = (float)(next() % 2000) / 1000.0f - 1.0f;
    for (size_t i = 0; i < K; i++) a[i] = (float)(next() % 2000) / 500.0f - 2.0f;
    q4_weights w = {b, scales, with_zp ? zp : NULL, K, block, kb, bits};
    size_t kp = q4_packed_k(&w), rl = q4_row_len(&w);
    float *ap = malloc((rl + 4) * 4), *probe = malloc(K * 4);
    for (size_t i = 0; i < rl + 4; i++) ap[i] = CANARY;
    q4_pack_a(&w, a, ap);
    if (ap[rl] != CANARY) fail("pack_a canary", 0, CANARY, ap[rl]);
    float *pp = malloc(rl * 4), *f = malloc(K * 4); /* where pack_a puts each k, times what */
    for (size_t k = 0; k < K; k++) {
        memset(probe, 0, K * 4);
        probe[k] = 1;
        q4_pack_a(&w, probe, pp);
        pos[k] = -1;
        for (size_t i = 0; i < kp; i++)
            if (pp[i] != 0) pos[k] = (int)i, f[k] = pp[i];
    }
    char what[128];
    snprintf(what, sizeof what, "bits %d block %zu K %zu N %zu zp %d", bits, block, K, N, with_zp);
    size_t n0 = N > 2 ? 1 : 0;
    q4_gemv_fn *gemv[2] = {q4_gemv_simd128, q4_gemv_scalar};
    q4_dequant_fn *deq[2] = {q4_dequant_simd128, q4_dequant_scalar};
    for (int v = 0; v < 2; v++) {
        y[v] = malloc((N + 4) * 4);
        col[v] = malloc((kp + 4) * 4);
        for (size_t i = 0; i < N + 4; i++) y[v][i] = CANARY;
        gemv[v](&w, ap, n0, N, y[v]);
        if (y[v][N - n0] != CANARY) fail(what, N, CANARY, y[v][N - n0]);
    }
    for (size_t n = n0; n < N; n++) {
        double want = 0, mag = 0;
        for (size_t v = 0; v < 2; v++) {
            for (size_t i = 0; i < kp + 4; i++) col[v][i] = CANARY;
            deq[v](&w, n, col[v]);
            if (col[v][kp] != CANARY) fail(what, n, CANARY, col[v][kp]);
        }
        for (size_t k = 0; k < K; k++) {
            size_t blk = k / block, i = k % block;
            const uint8_t *p = b + (n * kb + blk) * blob;
            int q = bits == 8 ? p[i] : p[i / 2] >> (i % 2 * 4) & 15;
            double wk = (double)(q - q4_zero_point(&w, n, blk)) * scales[n * kb + blk];
            float c0 = pos[k] < 0 ? NAN : col[0][pos[k]] * f[k], c1 = pos[k] < 0 ? NAN : col[1][pos[k]] * f[k];
            if (!(fabs(c0 - wk) <= 1e-6 * fabs(wk) && fabs(c1 - wk) <= 1e-6 * fabs(wk))) fail(what, n, wk, c0);
            want += a[k] * wk;
            mag += fabs(a[k] * wk);
        }
        for (int v = 0; v < 2; v++)
            if (fabs(y[v][n - n0] - want) > 1e-5 * mag + 1e-6) fail(what, n, want, y[v][n - n0]);
    }
    for (int v = 0; v < 2; v++) free(y[v]), free(col[v]);
    free(b), free(zp), free(scales), free(a), free(ap), free(probe), free(pp), free(pos), free(f);
}

int main(void)
{
    int cases = 0;
    for (int bits = 4; bits <= 8; bits += 4)
        for (size_t block = 16; block <= 256; block *= 2) {
            size_t Ks[] = {1, 7, block - 1, block, block + 9, 3 * block, 3 * block + block / 2 + 3};
            for (size_t i = 0; i < sizeof Ks / sizeof Ks[0]; i++)
                for (size_t N = 1; N <= 7; N += 3)
                    for (int z = 0; z < 2; z++, cases++) run_case(bits, block, Ks[i], N, z);
        }
    printf("q4_gemv: %d cases, %d failures\n", cases, failures);
    return failures != 0;
}
