/*
 * 8-bit integer matrix multiplication with 32-bit accumulators:
 *   C[M,N] = requant(bias[m] + sum_k (A[m,k] - za[m]) * (B[k,n] - zb))
 * for uint8 or int8 operands, where requant is either nothing (int32 output,
 * MatMulInteger, ConvInteger) or the QLinear epilogue: a float32 multiplier
 * per tensor or per row (x_scale * w_scale / y_scale), rounding half to even,
 * the output zero point, saturation to uint8 or int8 and an optional clamp
 * (a fused Relu or Clip, in the output's integer domain).
 *
 * Both operands are packed into int16 with their zero points already
 * subtracted (every difference of two 8-bit values fits), so the microkernel
 * needs no zero-point correction and its inner loop is one i32x4.dot_i16x8_s
 * and one add per 8 multiply-accumulates: pairs of k are adjacent, the row
 * operand's pair is broadcast to all lanes and multiplied with the pairs of
 * four columns at once. A is the constant operand in the ops (the weights,
 * packed once in prepare; rows are output channels, so per-channel
 * parameters are per row), B the activations packed per call.
 *
 *   packed A: panels of MR rows; per k pair, MR x 2 int16 ([row][k, k+1])
 *   packed B: panels of NR columns; per k pair, NR x 2 int16 ([col][k, k+1])
 * K is padded to even and rows/columns to whole panels, with zeros. Sums wrap
 * modulo 2^32 like the ONNX reference.
 */
#ifndef EI_Q8_GEMM_H
#define EI_Q8_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define Q8_GEMM_MR 4 /* rows of the register tile */
#define Q8_GEMM_NR 8 /* columns of the register tile: two i32x4 per row */

/* int16 elements of a packed A [M,K] and a packed B [K,N]. */
size_t q8_gemm_packed_a_size(size_t M, size_t K);
size_t q8_gemm_packed_b_size(size_t K, size_t N);

/* Packs A where element (m, k) is the byte A[m*rs + k*cs] (int8 when is_signed, else uint8), minus
 * zp[m] (zp_per_row) or zp[0]; zp NULL means 0. `pa` gets q8_gemm_packed_a_size int16. */
void q8_gemm_pack_a(size_t M, size_t K, const void *A, int is_signed, ptrdiff_t rs, ptrdiff_t cs, const int32_t *zp,
                    int zp_per_row, int16_t *pa);
/* Packs B where element (k, n) is the byte B[k*rs + n*cs], minus zp. `pb` gets
 * q8_gemm_packed_b_size int16. Rows of unit column stride (cs == 1), and columns of unit row stride
 * (rs == 1) when K is a multiple of 8, are packed with SIMD. */
void q8_gemm_pack_b(size_t K, size_t N, const void *B, int is_signed, ptrdiff_t rs, ptrdiff_t cs, int32_t zp,
                    int16_t *pb);
void q8_gemm_pack_b_scalar(size_t K, size_t N, const void *B, int is_signed, ptrdiff_t rs, ptrdiff_t cs, int32_t zp,
                           int16_t *pb);

/* The QLinear epilogue. Output values are clamped to [qmin, qmax] (the full range of the output type
 * unless an activation was fused). */
typedef struct q8_requant {
    const float *scale;   /* multiplier: [M] when per_row, else [1] */
    const int32_t *bias;  /* [M] added to the sum before scaling; NULL for none */
    int per_row;
    int out_signed;       /* int8 output, else uint8 */
    int32_t zp;           /* output zero point */
    int32_t qmin, qmax;
    /* float32 output instead (DynamicQuantizeMatMul): (float)(sum + bias) * scale, plus fbias[m] when
     * given, as Cast, Mul and Add compute it; zp, qmin and qmax unused */
    int out_f32;
    const float *fbias;
} q8_requant;

/*
 * C[m*c_rs + n*c_cs] for the packed operands: uint8/int8 (or float32) through rq, or the int32 sums
 * when rq is NULL. With K == 0 the sum is zero (plus bias).
 */
typedef void q8_gemm_fn(size_t M, size_t N, size_t K, const int16_t *pa, const int16_t *pb, const q8_requant *rq,
                        void *C, ptrdiff_t c_rs, ptrdiff_t c_cs);
q8_gemm_fn q8_gemm_packed_simd128, q8_gemm_packed_scalar;

/*
 * The conversions at the edges of an 8-bit graph, per tensor (QuantizeLinear, DequantizeLinear):
 *   quantize:   y[i] = saturate(round_half_even(x[i] / scale) + zp)   (NaN becomes zp)
 *   dequantize: y[i] = (x[i] - zp) * scale
 * for uint8 or int8 y (quantize) and x (dequantize), n elements.
 */
typedef void q8_quantize_fn(const float *x, void *y, size_t n, float scale, int32_t zp, int is_signed);
typedef void q8_dequantize_fn(const void *x, float *y, size_t n, float scale, int32_t zp, int is_signed);
q8_quantize_fn q8_quantize_simd128, q8_quantize_scalar;
q8_dequantize_fn q8_dequantize_simd128, q8_dequantize_scalar;

/*
 * DynamicQuantizeLinear's parameters for x[0, n): the range [min, max] of x widened to include 0
 * (NaN ignored), scale (max - min) / 255 (1 for an empty range), zero point round(-min / scale)
 * within [0, 255]; x then quantizes to uint8 with q8_quantize.
 */
typedef void q8_dynamic_params_fn(const float *x, size_t n, float *scale, int32_t *zp);
q8_dynamic_params_fn q8_dynamic_params_simd128, q8_dynamic_params_scalar;

/*
 * Depthwise 2-D convolution of 8-bit planes, one input channel per output channel: g->nd == 2,
 * g->channels = C, x [C, H, W] (img), y [C, OH, OW] (grid), any kernel, stride, dilation and
 * leading pad (>= 0). w [C, KH*KW] holds the weights minus their zero points as int16. Channel c
 * of y is bias[c] + the correlation of (x[c] - xz) with w[c], through rq per channel (rq->per_row
 * indexes channels), or int32 sums when rq is NULL. f32_conv.h describes the geometry.
 *
 * The SIMD kernel copies each plane, minus xz and with zero borders, into `work` as int16
 * (q8_dwconv_work_size bytes, 16-byte aligned) and keeps eight outputs of a row in registers
 * over all kernel taps: per tap one load (two and a shuffle for stride 2) and two i32x4.extmul.
 * The scalar twin reads x directly and ignores work.
 */
struct f32_conv_geom;
typedef void q8_dwconv_fn(const struct f32_conv_geom *g, const void *x, int x_signed, int32_t xz, const int16_t *w,
                          const q8_requant *rq, void *y, void *work);
q8_dwconv_fn q8_dwconv_simd128, q8_dwconv_scalar;
size_t q8_dwconv_work_size(const struct f32_conv_geom *g);

/* The epilogue on one value, as both kernels compute it (for ops and tests): 8-bit, or float32. */
int32_t q8_requant_one(const q8_requant *rq, size_t m, uint32_t acc);
float q8_dequant_one(const q8_requant *rq, size_t m, uint32_t acc);

#endif
