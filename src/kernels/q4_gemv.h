/*
 * Block-quantized weights used in place (MatMulNBits): 4- or 8-bit values q in blocks of `block`
 * along K, one float scale and one zero point per block, B(k, n) = (q - zp) * scale. Column n's
 * blocks are contiguous: b + n * k_blocks * blob, blob = block * bits / 8 bytes, value k of a
 * 4-bit block in the low (even k) or high (odd k) nibble of byte k / 2. The last block of a
 * column may be partly past K: its extra values are never read into a result.
 *
 * q4_gemv: y[n] = sum_k a[k] B(k, n) for n in [n0, n1). The SIMD kernel unpacks 16 bytes of a
 * block at a time (i8x16 and/shift, interleaved back to k order, zero point subtracted in the
 * integer domain), widens to f32x4 and multiply-accumulates into a per-block sum that the block
 * scale multiplies once; the weights are never copied. For one row of A (token generation) this
 * is the whole product.
 * q4_dequant: column n as float32 into col[0, k_blocks * block), for products with many rows of
 * A, where one unpacked column serves every row.
 */
#ifndef EI_Q4_GEMV_H
#define EI_Q4_GEMV_H

#include <stddef.h>
#include <stdint.h>

typedef struct q4_weights {
    const uint8_t *b;      /* [N, k_blocks, blob] */
    const float *scales;   /* [N, k_blocks] */
    const uint8_t *zp;     /* [N, (k_blocks * bits + 7) / 8] packed like b; NULL means 2^(bits - 1) */
    size_t K, block, k_blocks; /* block a power of 2 from 16 */
    int bits;              /* 4 or 8 */
} q4_weights;

typedef void q4_gemv_fn(const q4_weights *w, const float *a, size_t n0, size_t n1, float *y);
typedef void q4_dequant_fn(const q4_weights *w, size_t n, float *col);
q4_gemv_fn q4_gemv_simd128, q4_gemv_scalar;
q4_dequant_fn q4_dequant_simd128, q4_dequant_scalar;

/* The zero point of block blk of column n. */
static inline int q4_zero_point(const q4_weights *w, size_t n, size_t blk)
{
    if (!w->zp) return 1 << (w->bits - 1);
    const uint8_t *row = w->zp + n * ((w->k_blocks * (size_t)w->bits + 7) / 8);
    return w->bits == 8 ? row[blk] : row[blk / 2] >> (blk % 2 * 4) & 15;
}

#endif
