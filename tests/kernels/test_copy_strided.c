/*
 * The N-D strided copy behind Transpose, Slice, Concat, Split and Tile, against
 * a plain index-by-index loop: random ranks, permutations, reversed and
 * broadcast (zero) strides, element sizes 1..16 and empty dims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/transpose.h"
static unsigned long long rs = 88172645463325252ull;
static unsigned rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (unsigned)rs; }
int main(void) {
    int bad = 0, runs = 0;
    for (int it = 0; it < 20000; it++) {
        int rank = rnd() % 7; size_t es = (size_t[]){1, 2, 4, 8, 3, 16}[rnd() % 6];
        int64_t dims[8], n = 1;
        for (int d = 0; d < rank; d++) { dims[d] = rnd() % (rnd() % 4 ? 6 : 40); if (rnd() % 30 == 0) dims[d] = 0; n *= dims[d]; }
        if (n > 200000) continue;
        /* source: a random permutation of a contiguous buffer, with optional reversal or broadcast */
        int perm[8]; for (int d = 0; d < rank; d++) perm[d] = d;
        for (int d = rank - 1; d > 0; d--) { int j = rnd() % (d + 1); int t = perm[d]; perm[d] = perm[j]; perm[j] = t; }
        int64_t sdims[8], sst[8], ss[8], ds[8];
        for (int d = 0; d < rank; d++) sdims[perm[d]] = dims[d];
        int64_t s = 1; for (int d = rank - 1; d >= 0; d--) { sst[d] = s; s *= sdims[d] ? sdims[d] : 1; }
        int64_t srcn = s; int64_t base = 0;
        for (int d = 0; d < rank; d++) {
            ss[d] = sst[perm[d]];
            int k = rnd() % 5;
            if (k == 0 && dims[d] > 0) { base += (dims[d] - 1) * ss[d]; ss[d] = -ss[d]; }
            else if (k == 1) ss[d] = 0;
        }
        s = 1; for (int d = rank - 1; d >= 0; d--) { ds[d] = s; s *= dims[d]; }
        unsigned char *src = malloc(srcn * es + 1), *a = malloc(n * es + 1), *b = malloc(n * es + 1);
        for (int64_t i = 0; i < srcn * (int64_t)es; i++) src[i] = rnd();
        memset(a, 0xAA, n * es); memset(b, 0xAA, n * es);
        xN_copy_strided(es, rank, dims, a, ds, src + base * es, ss);
        int64_t idx[8] = {0};
        for (int64_t i = 0; i < n; i++) {
            int64_t so = base, o = 0;
            for (int d = 0; d < rank; d++) { so += idx[d] * ss[d]; o += idx[d] * ds[d]; }
            memcpy(b + o * es, src + so * es, es);
            for (int d = rank - 1; d >= 0; d--) { if (++idx[d] < dims[d]) break; idx[d] = 0; }
        }
        runs++;
        if (memcmp(a, b, n * es)) { bad++; printf("mismatch it %d rank %d es %zu\n", it, rank, es); }
        free(src); free(a); free(b);
    }
    printf("%d passed, %d failed\n", runs - bad, bad);
    return bad != 0;
}
