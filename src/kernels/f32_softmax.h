/*
 * Softmax, LogSoftmax and Hardmax over float32, either along contiguous rows
 * (the last axis) or down the rows of a [n, m] block (an inner axis, one
 * result per column). Every function accepts out == in.
 */
#ifndef EI_F32_SOFTMAX_H
#define EI_F32_SOFTMAX_H

#include <stddef.h>

/* out[i] = exp(in[i] - max) / sum_j exp(in[j] - max), i < n */
void f32_softmax_row_simd128(size_t n, const float *in, float *out);
void f32_softmax_row_scalar(size_t n, const float *in, float *out);

/* out[i] = in[i] - max - log(sum_j exp(in[j] - max)), i < n */
void f32_logsoftmax_row_simd128(size_t n, const float *in, float *out);
void f32_logsoftmax_row_scalar(size_t n, const float *in, float *out);

/* The same down each column of in[n][m] (row stride m); tmp holds 2*m floats. */
void f32_softmax_cols_simd128(size_t n, size_t m, const float *in, float *out, float *tmp);
void f32_softmax_cols_scalar(size_t n, size_t m, const float *in, float *out, float *tmp);
void f32_logsoftmax_cols_simd128(size_t n, size_t m, const float *in, float *out, float *tmp);
void f32_logsoftmax_cols_scalar(size_t n, size_t m, const float *in, float *out, float *tmp);

/* 1 at the first maximum of each row (or column), 0 elsewhere. */
void f32_hardmax_row_scalar(size_t n, const float *in, float *out);
void f32_hardmax_cols_scalar(size_t n, size_t m, const float *in, float *out);

#endif
