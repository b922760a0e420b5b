/*
 * exp() for the softmax and log-sum-exp kernels, in a scalar and a SIMD128
 * form that compute the same thing step by step, so twin kernels agree to the
 * last bit except where they sum in a different order.
 *
 * Range reduction x = n*ln2 + r with |r| <= ln2/2, a degree-6 polynomial for
 * exp(r) (Cephes' expf coefficients, about 1 ulp), and 2^n built in the
 * exponent bits. Results that would be denormal flush to 0, which is what a
 * softmax wants for exp(x - max) far below the max. Arguments above 88.37 are
 * clamped there: the callers only pass x - max <= 0. NaN stays NaN.
 */
#ifndef EI_F32_EXP_H
#define EI_F32_EXP_H

#include <stdint.h>
#include <string.h>

#include "simd.h"

#define EXP_LO (-87.33654f)        /* below: result would be denormal, give 0 */
#define EXP_HI 88.3762626647949f
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f    /* ln2 split so n*LN2_HI is exact */
#define EXP_LN2_LO (-2.12194440e-4f)
#define EXP_ROUND 12582912.0f      /* 1.5*2^23: adding and subtracting rounds to nearest even */
#define EXP_P0 1.9875691500e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f

static inline float exp_approx_scalar(float x)
{
    if (x != x) return x;
    if (x < EXP_LO) return 0.0f;
    if (EXP_HI < x) x = EXP_HI;
    float n = (x * EXP_LOG2E + EXP_ROUND) - EXP_ROUND;
    float r = x - n * EXP_LN2_HI;
    r = r - n * EXP_LN2_LO;
    float p = EXP_P0;
    p = p * r + EXP_P1;
    p = p * r + EXP_P2;
    p = p * r + EXP_P3;
    p = p * r + EXP_P4;
    p = p * r + EXP_P5;
    p = p * (r * r);
    p = p + r;
    p = p + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline v128_t exp_approx_simd128(v128_t x)
{
    v128_t under = wasm_f32x4_lt(x, wasm_f32x4_splat(EXP_LO));
    /* pmax/pmin with x first keep a NaN x as it is */
    x = wasm_f32x4_pmax(x, wasm_f32x4_splat(EXP_LO));
    x = wasm_f32x4_pmin(x, wasm_f32x4_splat(EXP_HI));
    v128_t round = wasm_f32x4_splat(EXP_ROUND);
    v128_t n = wasm_f32x4_sub(wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(EXP_LOG2E)), round), round);
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(EXP_LN2_HI)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(EXP_LN2_LO)));
    v128_t p = wasm_f32x4_splat(EXP_P0);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(EXP_P1));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(EXP_P2));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(EXP_P3));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(EXP_P4));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(EXP_P5));
    p = wasm_f32x4_mul(p, wasm_f32x4_mul(r, r));
    p = wasm_f32x4_add(p, r);
    p = wasm_f32x4_add(p, wasm_f32x4_splat(1.0f));
    v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_v128_andnot(wasm_f32x4_mul(p, e), under);
}

#endif
