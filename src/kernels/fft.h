/*
 * Complex discrete Fourier transforms of any length, in double precision
 * (DFT and STFT compute in double for float32 tensors too, so that long
 * transforms keep float32 accuracy).
 *
 * A length whose prime factors are all small runs a self-sorting (Stockham)
 * mixed-radix FFT: butterflies written out for radices 2, 3, 4 and 5, and a
 * direct DFT of the radix for any other prime up to FFT_MAX_RADIX. A length
 * with a larger prime factor goes through Bluestein's algorithm: the
 * transform becomes a circular convolution with a chirp, done with
 * power-of-two FFTs, so a prime length costs O(n log n) instead of O(n^2).
 *
 * Complex values are interleaved (re, im) pairs of doubles. Nothing here
 * allocates: the plan is built into caller memory, and a transform borrows a
 * work buffer.
 */
#ifndef EI_KERNELS_FFT_H
#define EI_KERNELS_FFT_H

#include <stdbool.h>

#include "kernels.h"

/* Largest prime factor handled by a direct butterfly; above it, Bluestein. */
#define FFT_MAX_RADIX 64
/* Factors of any length that fits in 64 bits. */
#define FFT_MAX_FACTORS 64

typedef struct fft_plan {
    size_t n;
    int n_factors;                /* radices of the Stockham stages; 0 with Bluestein */
    int factors[FFT_MAX_FACTORS];
    const double *tw;             /* [n][2] exp(-2 pi i k / n); NULL with Bluestein */
    /* Bluestein, when m != 0 */
    size_t m;                     /* power-of-two convolution length >= 2n - 1 */
    const struct fft_plan *sub;   /* the length-m plan */
    const double *chirp;          /* [n][2] exp(-pi i k^2 / n) */
    const double *kernel;         /* [m][2] transform of the conjugate chirp, divided by m */
} fft_plan;

/* Bytes of plan memory for length n >= 1 (fft_plan_init), or 0 when n is too large
 * for size_t arithmetic. */
size_t fft_plan_bytes(size_t n);
/* Bytes of the work buffer f64_fft_scalar needs for length n (also what fft_plan_init
 * borrows), or 0 when n is too large. */
size_t fft_work_bytes(size_t n);

/* Bytes of temporary space fft_plan_init needs for length n: 0 unless the plan uses
 * Bluestein, which transforms its convolution kernel once. */
size_t fft_init_work_bytes(size_t n);

/* Builds the plan for length n >= 1 in mem (fft_plan_bytes(n) bytes, aligned to 16),
 * using work (fft_init_work_bytes(n) bytes, aligned to 16; NULL when that is 0). */
const fft_plan *fft_plan_init(void *mem, size_t n, double *work);

/*
 * In-place transform of x[n][2]: X[k] = sum_j x[j] exp(-+2 pi i j k / n), the
 * minus sign forward, the plus sign when inverse is set. The inverse is not
 * divided by n. work: fft_work_bytes(n) bytes, aligned to 16, not overlapping x.
 */
void f64_fft_scalar(const fft_plan *p, double *x, double *work, bool inverse);

#endif
