/*
 * Float32 binary elementwise kernels: y = a op b over n contiguous elements.
 * Each op comes in three shapes of operands, which is what a row of a
 * broadcast elementwise op looks like:
 *   v   y[i] = a[i] op b[i]      (vector, vector)
 *   c   y[i] = a[i] op b[0]      (vector, constant)
 *   rc  y[i] = b[0] op a[i]      (constant, vector: reversed operands)
 * All three share one signature so that a table can hold them; in the c and
 * rc shapes b points to a single value. y may be the same buffer as a (or
 * as b in the v shape): every element is read before it is written. Partial
 * overlaps are not allowed.
 *
 * Every op has a scalar variant and, for the hot ones, a SIMD128 variant
 * with identical results (natively, SIMDe's max/min may differ from wasm in
 * the sign of a zero result). Callers pick a variant through the tables below.
 */
#ifndef EI_KERNELS_F32_VBINARY_H
#define EI_KERNELS_F32_VBINARY_H

#include "kernels.h"

typedef void (*f32_vbinary_fn)(const float *a, const float *b, float *y, size_t n);

typedef enum f32_vbinary_op {
    F32_VADD,
    F32_VSUB,
    F32_VMUL,
    F32_VDIV,
    F32_VMAX,   /* NaN if either operand is NaN, like wasm f32x4.max */
    F32_VMIN,   /* NaN if either operand is NaN, like wasm f32x4.min */
    F32_VPRELU, /* a < 0 ? a * b : a (a is X, b the slope) */
    F32_VPOW,   /* powf(a, b); scalar only */
    F32_VBINARY_COUNT
} f32_vbinary_op;

typedef struct f32_vbinary_kernels {
    f32_vbinary_fn v, c, rc;
} f32_vbinary_kernels;

/* Rows indexed by f32_vbinary_op; a variant that does not exist is NULL. */
extern const f32_vbinary_kernels f32_vbinary_scalar[F32_VBINARY_COUNT];
extern const f32_vbinary_kernels f32_vbinary_simd128[F32_VBINARY_COUNT];

/* The fastest kernels for op in this build, never NULL for a valid op. */
f32_vbinary_kernels f32_vbinary_select(f32_vbinary_op op);

/* The kernels, also reachable by name (tests, other op families). */
void f32_vadd_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vaddc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vsub_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vsubc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vrsubc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vmul_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vmulc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vdiv_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vdivc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vrdivc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vmax_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vmaxc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vmin_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vminc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vprelu_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vpreluc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vrpreluc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vpow_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vpowc_scalar(const float *a, const float *b, float *y, size_t n);
void f32_vrpowc_scalar(const float *a, const float *b, float *y, size_t n);

void f32_vadd_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vaddc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vsub_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vsubc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vrsubc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vmul_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vmulc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vdiv_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vdivc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vrdivc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vmax_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vmaxc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vmin_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vminc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vprelu_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vpreluc_simd128(const float *a, const float *b, float *y, size_t n);
void f32_vrpreluc_simd128(const float *a, const float *b, float *y, size_t n);

#endif
