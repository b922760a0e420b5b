/*
 * float32 convolution helpers, channel-major (NCHW) planes:
 *  - im2col straight into the GEMM's packed B layout, so a convolution is
 *    one packed GEMM (weights as A) with no second copy of the columns;
 *  - col2im, its adjoint, for transposed convolution;
 *  - a direct depthwise 3x3 kernel (stride 1 or 2), where im2col + GEMM
 *    would do 9x the memory traffic for one output channel per group.
 *
 * Geometry is N-dimensional: an image position is
 *   img[d] = grid[d] * stride[d] - pad[d] + kpos[d] * dilation[d]
 * where `grid` runs over the convolution output (im2col) or the transposed
 * convolution input (col2im); positions outside the image read as zero.
 */
#ifndef EI_F32_CONV_H
#define EI_F32_CONV_H

#include <stddef.h>

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

/*
 * y [channels, img...] += col2im of columns [n0, n1): col is row-major
 * [channels * prod(kernel), n1 - n0]; each value is added to the image
 * position it maps to (those outside the image are dropped).
 */
void f32_col2im_add(const f32_conv_geom *g, const float *col, size_t n0, size_t n1, float *y);

/* Floats of work memory the depthwise kernels need. */
size_t f32_dwconv_work_size(size_t OH, size_t OW, size_t stride);

/*
 * Depthwise 3x3 convolution, dilation 1: plane c of y [C, OH, OW] is plane c
 * of x [C, H, W] correlated with w[c*9 .. c*9+8] (row-major 3x3), plus
 * bias[c] when bias is not NULL. stride is 1 or 2; pad_t and pad_l are the
 * top and left padding (bottom and right follow from OH and OW). `work` holds
 * f32_dwconv_work_size floats (16-byte aligned). The scalar twin ignores work.
 */
void f32_dwconv_simd128(size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t stride, size_t pad_t,
                        size_t pad_l, const float *x, const float *w, const float *bias, float *y, float *work);
void f32_dwconv_scalar(size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t stride, size_t pad_t,
                       size_t pad_l, const float *x, const float *w, const float *bias, float *y, float *work);

#endif
