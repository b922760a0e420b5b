/*
 * Data movement without arithmetic: 2-D transposes and an N-D strided copy.
 * They move elements by size only (x8 = 1-byte elements, x32 = 4 bytes, so
 * x32 serves float32, int32 and uint32 alike), which lets every layout op
 * (Transpose, Slice, Concat, Split, Pad, Tile, DepthToSpace ...) work for
 * every dtype through the same loops.
 */
#ifndef EI_KERNELS_TRANSPOSE_H
#define EI_KERNELS_TRANSPOSE_H

#include "kernels.h"

/* Tile builds a view of twice the tensor rank, hence twice EI_MAX_DIMS. */
#define COPY_MAX_RANK 16

/*
 * dst[c * dst_ld + r] = src[r * src_ld + c] for r < rows, c < cols: src is a
 * [rows, cols] matrix with row pitch src_ld, dst its [cols, rows] transpose
 * with row pitch dst_ld (pitches in elements). Blocked so both sides stay in
 * cache; src and dst must not overlap.
 */
void x8_transpose2d_blocked(const void *src, int64_t src_ld, void *dst, int64_t dst_ld, int64_t rows, int64_t cols);
void x16_transpose2d_blocked(const void *src, int64_t src_ld, void *dst, int64_t dst_ld, int64_t rows, int64_t cols);
void x32_transpose2d_blocked(const void *src, int64_t src_ld, void *dst, int64_t dst_ld, int64_t rows, int64_t cols);
void x64_transpose2d_blocked(const void *src, int64_t src_ld, void *dst, int64_t dst_ld, int64_t rows, int64_t cols);
/* The float32 transpose is the 4-byte one under its dtype name. */
void f32_transpose2d_blocked(const float *src, int64_t src_ld, float *dst, int64_t dst_ld, int64_t rows, int64_t cols);

/*
 * Copies a strided view: for every index (i0 .. i{rank-1}) < dims,
 *   dst[sum i_d * dst_stride[d]] = src[sum i_d * src_stride[d]]
 * with strides in elements of esize bytes. Source strides may be negative
 * (reversed slices) or zero (broadcast, tiling); destination strides must
 * address each element once. Dimensions are merged where both sides are
 * contiguous, contiguous rows become memcpy, and a view that is a transpose
 * of its two fastest axes goes through the blocked 2-D kernel.
 * rank <= COPY_MAX_RANK; a zero dim copies nothing; rank 0 copies one element.
 */
void xN_copy_strided(size_t esize, int rank, const int64_t *dims, void *dst, const int64_t *dst_stride,
                     const void *src, const int64_t *src_stride);

/* Writes n copies of the esize-byte value at `value` to dst. */
void xN_fill(size_t esize, void *dst, const void *value, int64_t n);

#endif
