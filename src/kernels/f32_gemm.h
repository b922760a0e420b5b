/*
 * float32 matrix multiplication: C[M,N] (+)= A[M,K] * B[K,N].
 *
 * Operands are first packed into panels that the register-tiled microkernel
 * reads sequentially: A into panels of MR rows stored k-major (MR values per
 * k), B into panels of NR columns (NR values per k). Both are split into
 * blocks of KC along K, so that one A panel and one B panel of a block stay
 * in L1 while the microkernel runs; the block for k0 starts at float offset
 * k0 * padded(M or N), which lets a caller pack a whole constant operand once
 * (weights, in prepare) and lets im2col write its columns straight into the
 * packed B layout (f32_gemm_pack_b_index).
 *
 * Packed rows and columns past M and N are zero, so tails cost no branches in
 * the microkernel. Matrices are addressed with element strides (rs, cs), which
 * covers transposes and views without copies.
 */
#ifndef EI_F32_GEMM_H
#define EI_F32_GEMM_H

#include <stddef.h>

#define F32_GEMM_MR 4   /* rows of the register tile */
#define F32_GEMM_NR 8   /* columns of the register tile: two 4-lane vectors */
#define F32_GEMM_KC 256 /* K block: MR*KC + NR*KC floats fit in L1 */

/* Floats of a packed A [M,K] and a packed B [K,N] (padded to whole panels). */
size_t f32_gemm_packed_a_size(size_t M, size_t K);
size_t f32_gemm_packed_b_size(size_t K, size_t N);

/* Position of element (k, n) of B inside its packed form. */
static inline size_t f32_gemm_pack_b_index(size_t K, size_t N, size_t k, size_t n)
{
    size_t k0 = k / F32_GEMM_KC * F32_GEMM_KC;
    size_t kc = K - k0 < F32_GEMM_KC ? K - k0 : F32_GEMM_KC;
    size_t npad = (N + F32_GEMM_NR - 1) / F32_GEMM_NR * F32_GEMM_NR;
    return k0 * npad + n / F32_GEMM_NR * F32_GEMM_NR * kc + (k - k0) * F32_GEMM_NR + n % F32_GEMM_NR;
}

/* Packs A where element (m, k) is A[m*rs + k*cs]; `pa` gets f32_gemm_packed_a_size floats. */
void f32_gemm_pack_a(size_t M, size_t K, const float *A, ptrdiff_t rs, ptrdiff_t cs, float *pa);
/* Packs B where element (k, n) is B[k*rs + n*cs]; `pb` gets f32_gemm_packed_b_size floats. */
void f32_gemm_pack_b(size_t K, size_t N, const float *B, ptrdiff_t rs, ptrdiff_t cs, float *pb);

/*
 * C[m*c_rs + n*c_cs] = bias[m] + sum_k A(m,k) B(k,n) from packed operands, or
 * += when `accumulate` is non-zero. `bias` (one value per row, for a
 * convolution's per-channel bias) may be NULL. With K == 0 the sum is zero.
 */
void f32_gemm_packed_simd128(size_t M, size_t N, size_t K, const float *pa, const float *pb, const float *bias,
                             float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate);
void f32_gemm_packed_scalar(size_t M, size_t N, size_t K, const float *pa, const float *pb, const float *bias,
                            float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate);

/*
 * Rows [m0, m1) of the same product (m0 a multiple of F32_GEMM_MR; C, bias and pa are those of
 * the whole M rows): the share of one thread when a GEMM is split across threads by rows.
 */
void f32_gemm_rows_simd128(size_t M, size_t m0, size_t m1, size_t N, size_t K, const float *pa, const float *pb,
                           const float *bias, float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate);
void f32_gemm_rows_scalar(size_t M, size_t m0, size_t m1, size_t N, size_t K, const float *pa, const float *pb,
                          const float *bias, float *C, ptrdiff_t c_rs, ptrdiff_t c_cs, int accumulate);

/* Floats of work memory f32_gemm_simd128 needs for these sizes. */
size_t f32_gemm_work_size(size_t M, size_t N, size_t K);

/*
 * C (+)= A * B on strided operands: packs both into `work` (f32_gemm_work_size
 * floats, 16-byte aligned), then runs the packed kernel. The scalar twin is a
 * plain triple loop that ignores `work`; it is the reference the tests use.
 */
void f32_gemm_simd128(size_t M, size_t N, size_t K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs,
                      const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t c_rs,
                      ptrdiff_t c_cs, int accumulate, float *work);
void f32_gemm_scalar(size_t M, size_t N, size_t K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_cs,
                     const float *B, ptrdiff_t b_rs, ptrdiff_t b_cs, float *C, ptrdiff_t c_rs,
                     ptrdiff_t c_cs, int accumulate, float *work);

#endif
