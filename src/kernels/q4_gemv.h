/*
 * Block-quantized weights used in place (MatMulNBits): 4- or 8-bit values q in blocks of `block`
 * along K, one float scale and one zero point per block, B(k, n) = (q - zp) * scale. Column n's
 * blocks are contiguous: b + n * k_blocks * blob, blob = block * bits / 8 bytes, value k of a
 * 4-bit block in the low (even k) or high (odd k) nibble of byte k / 2. The last block of a
 * column may be partly past K: its extra values are never read into a result.
 *
 * A chunk is the 16 bytes loaded at once: four 32-bit lanes of 8 nibbles (an 8-bit value is two:
 * low + 16 * high). The SIMD kernels take nibble s of every lane with one and, masking it where
 * it lies (the top one with a shift), so each f32x4 holds nibbles 8*j + s of lanes j = 0..3 times
 * 2^(4s); the product wants A in that order and scale: q4_pack_a writes row a of A as
 * ap[q4_packed_k], one position per nibble, chunk by chunk, position s*4 + j holding the A value
 * of nibble 8*j + s times 2^-4s (times 16 more for a high nibble; exact; the top s keeps 1) and
 * zeros past K, then per group of nibbles sharing a scale (a block; a chunk for 4-bit blocks of
 * 16, half a chunk each, the next block's in lanes 2 and 3) the sums of the A values each lane j
 * meets, four floats: q4_row_len floats in all.
 *
 * q4_gemv: y[n - n0] = sum_k A[k] B(k, n) for n in [n0, n1), from the packed row ap (token
 * generation). The SIMD kernel unpacks each chunk in registers (and, convert) and multiplies and
 * accumulates sum a q per block, then subtracts zero point times A's lane sums and applies the
 * block scale once per block; the weights are never copied. Columns go in pairs, sharing A's
 * loads. q4_gemm: the same for M packed rows of A (ap, lda floats apart) into
 * y[m * ldy + n - n0]: each chunk of a column is unpacked once and serves four rows.
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
typedef void q4_gemm_fn(const q4_weights *w, size_t M, const float *ap, size_t lda, size_t n0, size_t n1, float *y,
                        size_t ldy);
q4_gemv_fn q4_gemv_simd128, q4_gemv_scalar;
/* Positions of a packed row: k_blocks * block rounded up to whole chunks; its length with the
 * lane sums (what q4_pack_a writes). */
size_t q4_packed_k(const q4_weights *w);
size_t q4_row_len(const q4_weights *w);
void q4_pack_a(const q4_weights *w, const float *a, float *ap);
q4_gemm_fn q4_gemm_simd128, q4_gemm_scalar;

/* The zero point of block blk of column n. */
static inline int q4_zero_point(const q4_weights *w, size_t n, size_t blk)
{
    if (!w->zp) return 1 << (w->bits - 1);
    const uint8_t *row = w->zp + n * ((w->k_blocks * (size_t)w->bits + 7) / 8);
    return w->bits == 8 ? row[blk] : row[blk / 2] >> (blk % 2 * 4) & 15;
}

#endif
