/*
 * float32 convolution helpers, channel-major (NCHW) planes:
 *  - im2col straight into the GEMM's packed B layout, so a convolution is
 *    one packed GEMM (weights as A) with no second copy of the columns;
 *  - col2im, its adjoint, for transposed convolution;
 *  - direct depthwise 2-D kernels, where im2col + GEMM would copy every
 *    input value KH*KW times to feed a one-row product per channel.
 *
 * Geometry is N-dimensional: an image position is
 *   img[d] = grid[d] * stride[d] - pad[d] + kpos[d] * dilation[d]
 * where `grid` runs over the convolution output (im2col) or the transposed
 * convolution input (col2im); positions outside the image read as zero.
 */
#ifndef EI_F32_CONV_H
#define EI_F32_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "f32_vunary.h"

#define F32_CONV_MAX_ND 6

typedef struct f32_conv_geom {
    int nd;                           /* spatial dims, 1..F32_CONV_MAX_ND */
    size_t channels;                  /* image channels handled by one call */
    size_t img[F32_CONV_MAX_ND];      /* image spatial dims */
    size_t grid[F32_CONV_MAX_ND];     /* column spatial dims */
    size_t kernel[F32_CONV_MAX_ND];
    size_t stride[F32_CONV_MAX_ND];   /* >= 1 */
    size_t dilation[F32_CONV_MAX_ND]; /* >= 1 */
    ptrdiff_t pad[F32_CONV_MAX_ND];   /* leading padding; negative crops */
} f32_conv_geom;

/*
 * Columns [n0, n1) of the column matrix of one image x [channels, img...], as
 * the packed B operand of f32_gemm: K = channels * prod(kernel) rows
 * (channel-major, then kernel position), one column per grid position in
 * row-major order. `pb` gets f32_gemm_packed_b_size(K, n1 - n0) floats.
 * Converting a range at a time keeps the columns in cache for the GEMM that
 * consumes them and bounds the scratch memory.
 */
void f32_im2col_packed(const f32_conv_geom *g, const float *x, size_t n0, size_t n1, float *pb);
/* The same for the rows of channels [c0, c1) only (rows c0 * prod(kernel) ...), written where
 * f32_im2col_packed puts them: threads can share one conversion out by channels. */
void f32_im2col_packed_rows(const f32_conv_geom *g, const float *x, size_t n0, size_t n1, size_t c0, size_t c1,
                            float *pb);

/*
 * The same walk for 8-bit images (uint8 or int8 alike): columns [n0, n1) of
 * the column matrix of x [channels, img...] as a plain row-major byte matrix
 * col [K, n1 - n0]; positions outside the image get `pad` (a quantized
 * input's zero point, the code of 0.0).
 */
void u8_im2col(const f32_conv_geom *g, const uint8_t *x, uint8_t pad, size_t n0, size_t n1, uint8_t *col);

/*
 * y [channels, img...] += col2im of columns [n0, n1): col is row-major
 * [channels * prod(kernel), n1 - n0]; each value is added to the image
 * position it maps to (those outside the image are dropped).
 */
void f32_col2im_add(const f32_conv_geom *g, const float *col, size_t n0, size_t n1, float *y);

/*
 * Depthwise 2-D convolution, one input channel per group: g->nd == 2,
 * g->channels = C input planes x [C, H, W] (img = {H, W}), grid = {OH, OW}
 * the output plane, any kernel, stride, dilation and leading pad (negative
 * crops; the trailing padding follows from the output size). Output channel
 * o = c * mult + j of y [C * mult, OH, OW] is plane c correlated with the
 * row-major kernel w[o * KH * KW ...], plus bias[o] when bias is not NULL.
 * Kernel dims, strides and dilations are >= 1.
 *
 * f32_dwconv_simd128 handles every geometry, f32_dwconv3x3_simd128 the 3x3
 * kernels (any stride, dilation and padding) with the weights in registers.
 * Both take `work`: 16-byte aligned memory of f32_dwconv_work_size(g) bytes
 * (SIZE_MAX when that does not fit in memory). f32_dwconv_scalar is the
 * reference for both and ignores work. When `post` is not NULL, each output
 * channel plane goes through post(plane, plane, OH * OW, post_params) right
 * after it is written, while it is in cache (a fused activation).
 */
typedef void f32_dwconv_fn(const f32_conv_geom *g, size_t mult, const float *x, const float *w, const float *bias,
                           float *y, void *work, f32_vunary_fn post, const f32_vunary_params *post_params);

f32_dwconv_fn f32_dwconv_simd128, f32_dwconv3x3_simd128, f32_dwconv_scalar;
size_t f32_dwconv_work_size(const f32_conv_geom *g);

#endif
