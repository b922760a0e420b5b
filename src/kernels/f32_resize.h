/*
 * Resize kernels over float32. Interpolation along each axis is a small set
 * of taps per output coordinate: an input offset and a weight (2 taps for
 * linear, 4 for cubic), built by the op from the coordinate transformation.
 * Offsets are in elements and already multiplied by the axis stride, so the
 * kernels only add and multiply. The op builds the tables once per run.
 */
#ifndef EI_F32_RESIZE_H
#define EI_F32_RESIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * 2-D bilinear over `planes` planes of [ih, iw] -> [oh, ow]:
 *   out[y][x] = sum over a, b < 2 of wy[2y+a] * wx[2x+b] * plane[ry[2y+a] + cx[2x+b]]
 * ry holds row offsets (row * iw), cx column indices.
 */
void f32_resize_bilinear_scalar(size_t planes, size_t ih, size_t iw, size_t oh, size_t ow, const float *in,
                                const int64_t *ry, const float *wy, const int64_t *cx, const float *wx, float *out);

/*
 * 2-D interpolation with `taps` taps per axis (4 for cubic), same layout as above:
 *   out[y][x] = sum over a, b < taps of wy[taps*y+a] * wx[taps*x+b] * plane[ry[taps*y+a] + cx[taps*x+b]]
 */
void f32_resize_2d_scalar(size_t planes, size_t ih, size_t iw, size_t oh, size_t ow, size_t taps, const float *in,
                          const int64_t *ry, const float *wy, const int64_t *cx, const float *wx, float *out);

/*
 * N-D separable interpolation. For the output element at position p:
 *   out[p] = sum over t_d < ntaps[d] of (prod_d w[d][p_d * ntaps[d] + t_d]) * in[sum_d off[d][p_d * ntaps[d] + t_d]]
 * unless outside (when not NULL) has outside[d][p_d] != 0 for some d: then out[p] = extrapolation.
 */
void f32_resize_taps_scalar(int rank, const int64_t *out_dims, const int *ntaps, const int64_t *const *off,
                            const float *const *w, const uint8_t *const *outside, float extrapolation,
                            const float *in, float *out);

#endif
