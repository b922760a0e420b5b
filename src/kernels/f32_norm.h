/*
 * Normalisation kernels over float32: the statistics of a contiguous run and
 * the affine maps that apply them (BatchNormalization, InstanceNormalization,
 * LayerNormalization), plus the cross-channel LRN and Lp normalisation loops.
 */
#ifndef EI_F32_NORM_H
#define EI_F32_NORM_H

#include <stddef.h>

/* Mean and (biased) variance of x[0, n), in two passes so that the variance
 * does not cancel; both 0 when n == 0. */
void f32_meanvar_simd128(size_t n, const float *x, float *mean, float *var);
void f32_meanvar_scalar(size_t n, const float *x, float *mean, float *var);

/* y[i] = x[i] * a + b. y may equal x. */
void f32_vaffine_simd128(size_t n, const float *x, float a, float b, float *y);
void f32_vaffine_scalar(size_t n, const float *x, float a, float b, float *y);

/* y[i] = (x[i] - mean) * inv * scale[i] + bias[i]; bias may be NULL. y may equal x. */
void f32_layernorm_apply_simd128(size_t n, const float *x, float mean, float inv, const float *scale,
                                 const float *bias, float *y);
void f32_layernorm_apply_scalar(size_t n, const float *x, float mean, float inv, const float *scale,
                                const float *bias, float *y);

/* Local response normalisation of in[c][plane] across channels:
 * y = x / (bias + alpha / size * sum of x^2 over the size-channel window)^beta */
void f32_lrn_scalar(size_t c, size_t plane, size_t size, float alpha, float beta, float bias, const float *in,
                    float *out);

/* Each column of in[n][inner] divided by its L1 (p = 1) or L2 (p = 2) norm;
 * an all-zero column stays zero. out may equal in. */
void f32_lpnorm_scalar(size_t n, size_t inner, int p, const float *in, float *out);

#endif
