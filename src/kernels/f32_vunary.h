/*
 * Float32 unary elementwise kernels: y[i] = f(x[i]) over n contiguous
 * elements, for the math functions and activations of ONNX. y may be the
 * same buffer as x (each element is read before it is written); partial
 * overlaps are not allowed.
 *
 * Every op has a scalar variant built on libm. The hot ones also have a
 * SIMD128 variant: exact ops (abs, neg, relu, leaky relu, clip, hard swish,
 * sqrt) give bit-identical results; exp, sigmoid and tanh use polynomial
 * approximations within a few ulp of libm. Callers pick a variant through
 * the tables below.
 */
#ifndef EI_KERNELS_F32_VUNARY_H
#define EI_KERNELS_F32_VUNARY_H

#include "kernels.h"

/* Op parameters; each op documents which fields it reads. Kernels take a
 * pointer that must not be NULL, even for ops that read nothing. */
typedef struct f32_vunary_params {
    float alpha, beta, gamma;
    float lo, hi; /* clip bounds */
} f32_vunary_params;

typedef void (*f32_vunary_fn)(const float *x, float *y, size_t n, const f32_vunary_params *p);

typedef enum f32_vunary_op {
    F32_VABS,
    F32_VNEG,
    F32_VEXP,
    F32_VLOG,
    F32_VSQRT,
    F32_VRECIPROCAL,
    F32_VFLOOR,
    F32_VCEIL,
    F32_VROUND, /* half to even */
    F32_VSIGN,  /* -1, 0 or 1; NaN stays NaN */
    F32_VSIN,
    F32_VCOS,
    F32_VTAN,
    F32_VASIN,
    F32_VACOS,
    F32_VATAN,
    F32_VSINH,
    F32_VCOSH,
    F32_VASINH,
    F32_VACOSH,
    F32_VATANH,
    F32_VERF,
    F32_VRELU,
    F32_VLEAKYRELU,       /* x < 0 ? alpha * x : x */
    F32_VELU,             /* x < 0 ? alpha * (exp(x) - 1) : x */
    F32_VSELU,            /* gamma * (x <= 0 ? alpha * (exp(x) - 1) : x) */
    F32_VCELU,            /* max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) */
    F32_VTHRESHOLDEDRELU, /* x > alpha ? x : 0 */
    F32_VSIGMOID,
    F32_VHARDSIGMOID,     /* max(0, min(1, alpha * x + beta)) */
    F32_VHARDSWISH,       /* x * max(0, min(1, x / 6 + 1 / 2)) */
    F32_VTANH,
    F32_VSOFTPLUS,        /* log(1 + exp(x)) */
    F32_VSOFTSIGN,        /* x / (1 + |x|) */
    F32_VMISH,            /* x * tanh(softplus(x)) */
    F32_VCLIP,            /* min(max(x, lo), hi); NaN stays NaN */
    F32_VSHRINK,          /* x < -beta ? x + alpha : x > beta ? x - alpha : 0 (alpha = bias, beta = lambd) */
    F32_VSILU,            /* x * sigmoid(x), exactly as Sigmoid then Mul computes it */
    F32_VGELU,            /* x * (1 + erf(x / sqrt(2))) / 2 */
    F32_VUNARY_COUNT
} f32_vunary_op;

/* Rows indexed by f32_vunary_op; NULL where the variant does not exist. */
extern const f32_vunary_fn f32_vunary_scalar[F32_VUNARY_COUNT];
extern const f32_vunary_fn f32_vunary_simd128[F32_VUNARY_COUNT];

/* The fastest kernel for op in this build, never NULL for a valid op. */
f32_vunary_fn f32_vunary_select(f32_vunary_op op);

/* The SIMD kernels and their scalar twins by name. */
void f32_vabs_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vneg_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vexp_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsqrt_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vrelu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vleakyrelu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsigmoid_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vhardswish_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vtanh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vclip_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsilu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vgelu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);

void f32_vabs_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vneg_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vexp_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsqrt_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vrelu_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vleakyrelu_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsigmoid_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vhardswish_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vtanh_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vclip_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsilu_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p);

/* Scalar-only kernels. */
void f32_vlog_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vreciprocal_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vfloor_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vceil_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vround_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsign_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsin_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vcos_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vtan_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vasin_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vacos_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vatan_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsinh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vcosh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vasinh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vacosh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vatanh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_verf_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_velu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vselu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vcelu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vthresholdedrelu_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vhardsigmoid_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsoftplus_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vsoftsign_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vmish_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);
void f32_vshrink_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);

#endif
