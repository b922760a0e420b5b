/*
 * Reduction kernels over float32. A reduction over any set of axes is built
 * by the caller from two shapes of work: a contiguous row folded into one
 * value (reduce_row) and a contiguous row folded elementwise into a row of
 * accumulators (reduce_acc). The kind says what is folded.
 */
#ifndef EI_F32_REDUCE_H
#define EI_F32_REDUCE_H

#include <stddef.h>

enum f32_reduce_kind {
    F32_REDUCE_SUM,    /* sum x,   identity 0 */
    F32_REDUCE_SUMSQ,  /* sum x*x, identity 0 */
    F32_REDUCE_SUMABS, /* sum |x|, identity 0 */
    F32_REDUCE_MAX,    /* identity -inf; NaN inputs are skipped */
    F32_REDUCE_MIN,    /* identity +inf; NaN inputs are skipped */
    F32_REDUCE_PROD    /* identity 1 */
};

float f32_reduce_identity(int kind);

/* acc folded over x[0, n), starting from the identity */
float f32_reduce_row_simd128(int kind, size_t n, const float *x);
float f32_reduce_row_scalar(int kind, size_t n, const float *x);
/* acc[i] = fold(acc[i], x[i]) for i < n */
void f32_reduce_acc_simd128(int kind, size_t n, const float *x, float *acc);
void f32_reduce_acc_scalar(int kind, size_t n, const float *x, float *acc);

/* sum of exp(x[i] - shift), for log-sum-exp after the maximum is known */
float f32_sumexp_row_simd128(size_t n, const float *x, float shift);
float f32_sumexp_row_scalar(size_t n, const float *x, float shift);
/* acc[i] += exp(x[i] - shift[i]) */
void f32_sumexp_acc_simd128(size_t n, const float *x, const float *shift, float *acc);
void f32_sumexp_acc_scalar(size_t n, const float *x, const float *shift, float *acc);

/* Running sums down each column of in[n][inner]; exclusive leaves out the
 * element itself, reverse runs from the last row. out may equal in. */
void f32_cumsum_scalar(size_t n, size_t inner, const float *in, float *out, int exclusive, int reverse);

#endif
