/*
 * Pooling kernels over float32 planes. Max and average pooling are separable,
 * so a 2-D (or 3-D) window is reduced in two steps: first the window's rows
 * are combined elementwise into one row (vmax_rows / vsum_rows), then that
 * row is pooled horizontally (maxpool_hrow / avgpool_hrow). The caller pads
 * the combined row with the identity (-inf or 0), so the horizontal kernels
 * never test borders.
 */
#ifndef EI_F32_POOL_H
#define EI_F32_POOL_H

#include <stddef.h>

/* out[i] = max over r < rows of in[r * stride + i], for i < n; -inf when rows == 0 */
void f32_vmax_rows_simd128(size_t n, size_t rows, const float *in, size_t stride, float *out);
void f32_vmax_rows_scalar(size_t n, size_t rows, const float *in, size_t stride, float *out);
/* out[i] = sum over r < rows of in[r * stride + i]; 0 when rows == 0 */
void f32_vsum_rows_simd128(size_t n, size_t rows, const float *in, size_t stride, float *out);
void f32_vsum_rows_scalar(size_t n, size_t rows, const float *in, size_t stride, float *out);

/* out[x] = max over j < kw of in[x * sw + j * dw], for x < n (kw >= 1) */
void f32_maxpool_hrow_simd128(size_t n, const float *in, size_t kw, size_t sw, size_t dw, float *out);
void f32_maxpool_hrow_scalar(size_t n, const float *in, size_t kw, size_t sw, size_t dw, float *out);
/* out[x] = (sum over j < kw of in[x * sw + j * dw]) * cscale[x] * rscale */
void f32_avgpool_hrow_simd128(size_t n, const float *in, size_t kw, size_t sw, size_t dw, const float *cscale,
                              float rscale, float *out);
void f32_avgpool_hrow_scalar(size_t n, const float *in, size_t kw, size_t sw, size_t dw, const float *cscale,
                             float rscale, float *out);

/* out[c] = mean (max) of in[c * n .. c * n + n), for c < channels; n >= 1 */
void f32_global_avgpool_simd128(size_t channels, size_t n, const float *in, float *out);
void f32_global_avgpool_scalar(size_t channels, size_t n, const float *in, float *out);
void f32_global_maxpool_simd128(size_t channels, size_t n, const float *in, float *out);
void f32_global_maxpool_scalar(size_t channels, size_t n, const float *in, float *out);

#endif
