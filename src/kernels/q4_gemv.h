/*
 * Block-quantized weights used in place (MatMulNBits): 4- or 8-bit values q in blocks of `block`
 * along K, one float scale and one zero point per block, B(k, n) = (q - zp) * scale. Column n's
 * blocks are contiguous: b + n * k_blocks * blob, blob = block * bits / 8 bytes, value k of a
 * 4-bit block in the low (even k) or high (odd k) nibble of byte k / 2. The last block of a
 * column may be partly past K: its extra values are never read into a result.
 *
 * A chunk is the 16 bytes loaded at once: four 32-bit lanes of L = 32 / bits values each (32
 * values for 4 bits, 16 for 8). The SIMD kernels take value s of every lane with one shift and
 * one and (s = 0 .. L-1), so each f32x4 holds values k = L*j + s of lanes j = 0..3; the product
 * wants A in that order: q4_pack_a writes row a of A as ap[q4_packed_k], chunk by chunk, with
 * position s*4 + j holding A[L*j + s] and zeros past K, then per block (per chunk for 4-bit
 * blocks of 16, half a chunk each, the next block's scale in lanes 2 and 3) the sums of the
 * values each lane j meets, four floats: q4_row_len floats in all.
 *
 * q4_gemv: y[n - n0] = sum_k A[k] B(k, n) for n in [n0, n1), from the packed row ap. The SIMD
 * kernel unpacks each chunk in registers (u32 shift, and, convert) and multiply-accumulates into
 * four independent per-block sums, which the zero point times A's lane sums and then the block
 * scale correct once per block;
 * the weights are never copied. For one row of A (token generation) this is the whole product.
 * q4_dequant: column n as float32 in the same packed order into col[0, q4_packed_k), for products
 * with many rows of A, where one unpacked column serves every row (A packed likewise).
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

typedef void q4_gemv_fn(const q4_weights *w, const float *ap, size_t n0, size_t n1, float *y);
typedef void q4_dequant_fn(const q4_weights *w, size_t n, float *col);
q4_gemv_fn q4_gemv_simd128, q4_gemv_scalar;
/* Positions of a packed row: k_blocks * block rounded up to whole chunks; its length with the
 * lane sums (what q4_pack_a writes). */
size_t q4_packed_k(const q4_weights *w);
size_t q4_row_len(const q4_weights *w);
void q4_pack_a(const q4_weights *w, const float *a, float *ap);
q4_dequant_fn q4_dequant_simd128, q4_dequant_scalar;

/* The zero point of block blk of column n. */
static inline int q4_zero_point(const q4_weights *w, size_t n, size_t blk)
{
    if (!w->zp) return 1 << (w->bits - 1);
    const uint8_t *row = w->zp + n * ((w->k_blocks * (size_t)w->bits + 7) / 8);
    return w->bits == 8 ? row[blk] : row[blk / 2] >> (blk % 2 * 4) & 15;
}

#endif
