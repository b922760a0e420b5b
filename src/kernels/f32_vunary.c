/*
 * Float32 unary elementwise kernels (see f32_vunary.h): scalar variants of
 * every op on libm, SIMD128 variants of the hot ones, and the tables callers
 * choose them from.
 *
 * Each op is written once as a one-element function (relu1) and, for SIMD,
 * a four-lane function (relu4); a macro stamps out the loop around each.
 * Parameters are copied to a local before the loop: y is a float pointer and
 * could otherwise alias them, which would force a reload per element.
 *
 * The trigonometric and hyperbolic ops, which no common model spends its
 * time in, compute in double through the libm functions the other float
 * dtypes use (src/ops/elementwise.c): the wasm build then carries one copy
 * of each function rather than a float and a double one (3.6 KB), and the
 * result is rounded once, from double. They run 1.5 to 2.5 times slower
 * than the float functions did; activations that models use between
 * layers (elu, softplus, mish ...) stay in float.
 *
 * exp, sigmoid and tanh get vector polynomials instead of per-lane libm
 * calls, which in WebAssembly are software routines called one lane at a
 * time. The polynomials are least-squares fits of relative error on the
 * reduced ranges (about 1 ulp there); the kernel tests bound the distance
 * to libm over the whole float range.
 */
#include <math.h>
#include <string.h>

#include "f32_vunary.h"
#include "simd.h"

/* ---- one element ---- */

static inline float abs1(float x, const f32_vunary_params *q) { (void)q; return fabsf(x); }
static inline float neg1(float x, const f32_vunary_params *q) { (void)q; return -x; }
static inline float exp1(float x, const f32_vunary_params *q) { (void)q; return expf(x); }
static inline float log1(float x, const f32_vunary_params *q) { (void)q; return logf(x); }
static inline float sqrt1(float x, const f32_vunary_params *q) { (void)q; return sqrtf(x); }
static inline float reciprocal1(float x, const f32_vunary_params *q) { (void)q; return 1.0f / x; }
static inline float floor1(float x, const f32_vunary_params *q) { (void)q; return floorf(x); }
static inline float ceil1(float x, const f32_vunary_params *q) { (void)q; return ceilf(x); }
/* The default rounding mode rounds halves to even, which is what ONNX asks. */
static inline float round1(float x, const f32_vunary_params *q) { (void)q; return nearbyintf(x); }
static inline float sign1(float x, const f32_vunary_params *q) { (void)q; return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x; }
static inline float sin1(float x, const f32_vunary_params *q) { (void)q; return (float)sin(x); }
static inline float cos1(float x, const f32_vunary_params *q) { (void)q; return (float)cos(x); }
static inline float tan1(float x, const f32_vunary_params *q) { (void)q; return (float)tan(x); }
static inline float asin1(float x, const f32_vunary_params *q) { (void)q; return (float)asin(x); }
static inline float acos1(float x, const f32_vunary_params *q) { (void)q; return (float)acos(x); }
static inline float atan1(float x, const f32_vunary_params *q) { (void)q; return (float)atan(x); }
static inline float sinh1(float x, const f32_vunary_params *q) { (void)q; return (float)sinh(x); }
static inline float cosh1(float x, const f32_vunary_params *q) { (void)q; return (float)cosh(x); }
static inline float asinh1(float x, const f32_vunary_params *q) { (void)q; return (float)asinh(x); }
/* acosh is NaN below 1. Some libm builds (the musl copy the wasm build links) return finite
 * values for x <= -2 instead, so the domain is checked here rather than left to acoshf. */
static inline float acosh1(float x, const f32_vunary_params *q) { (void)q; return x < 1.0f ? NAN : (float)acosh(x); }
static inline float atanh1(float x, const f32_vunary_params *q) { (void)q; return (float)atanh(x); }
static inline float erf1(float x, const f32_vunary_params *q) { (void)q; return erff(x); }
static inline float tanh1(float x, const f32_vunary_params *q) { (void)q; return tanhf(x); }

/* Comparisons are written so that NaN falls through to x, as in numpy. */
static inline float relu1(float x, const f32_vunary_params *q) { (void)q; return x < 0.0f ? 0.0f : x; }
static inline float leakyrelu1(float x, const f32_vunary_params *q) { return x < 0.0f ? q->alpha * x : x; }
static inline float elu1(float x, const f32_vunary_params *q) { return x < 0.0f ? q->alpha * expm1f(x) : x; }

static inline float selu1(float x, const f32_vunary_params *q)
{
    return x <= 0.0f ? q->gamma * (q->alpha * expm1f(x)) : q->gamma * x;
}

static inline float celu1(float x, const f32_vunary_params *q)
{
    return x > 0.0f ? x : q->alpha * expm1f(x / q->alpha);
}

static inline float thresholdedrelu1(float x, const f32_vunary_params *q) { return x > q->alpha ? x : 0.0f; }

/* exp of minus |x| never overflows, so both halves keep full relative precision. */
static inline float sigmoid1(float x, const f32_vunary_params *q)
{
    (void)q;
    float e = expf(-fabsf(x));
    float d = 1.0f + e;
    return x < 0.0f ? e / d : 1.0f / d;
}

static inline float gelu1(float x, const f32_vunary_params *q)
{
    (void)q;
    return x * (1.0f + erff(x * 0.70710678118654752f)) * 0.5f;
}

static inline float silu1(float x, const f32_vunary_params *q) { return x * sigmoid1(x, q); }

static inline float hardsigmoid1(float x, const f32_vunary_params *q)
{
    float v = q->alpha * x + q->beta;
    return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
}

static inline float hardswish1(float x, const f32_vunary_params *q)
{
    (void)q;
    float v = x * (1.0f / 6.0f) + 0.5f;
    v = v < 0.0f ? 0.0f : v;
    v = v > 1.0f ? 1.0f : v;
    return x * v;
}

/* log(1 + e^x) without overflow: x + log(1 + e^-x) for positive x. */
static inline float softplus1(float x, const f32_vunary_params *q)
{
    (void)q;
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

static inline float softsign1(float x, const f32_vunary_params *q) { (void)q; return x / (1.0f + fabsf(x)); }
static inline float mish1(float x, const f32_vunary_params *q) { return x * tanhf(softplus1(x, q)); }

static inline float clip1(float x, const f32_vunary_params *q)
{
    float v = x < q->lo ? q->lo : x;
    return v > q->hi ? q->hi : v;
}

static inline float shrink1(float x, const f32_vunary_params *q)
{
    return x < -q->beta ? x + q->alpha : x > q->beta ? x - q->alpha : 0.0f;
}

/* ---- four lanes ---- */

static inline v128_t abs4(v128_t x, const f32_vunary_params *q) { (void)q; return wasm_f32x4_abs(x); }
static inline v128_t neg4(v128_t x, const f32_vunary_params *q) { (void)q; return wasm_f32x4_neg(x); }
static inline v128_t sqrt4(v128_t x, const f32_vunary_params *q) { (void)q; return wasm_f32x4_sqrt(x); }

static inline v128_t relu4(v128_t x, const f32_vunary_params *q)
{
    (void)q;
    return wasm_v128_andnot(x, wasm_f32x4_lt(x, wasm_f32x4_splat(0.0f)));
}

static inline v128_t leakyrelu4(v128_t x, const f32_vunary_params *q)
{
    v128_t negative = wasm_f32x4_lt(x, wasm_f32x4_splat(0.0f));
    return wasm_v128_bitselect(wasm_f32x4_mul(x, wasm_f32x4_splat(q->alpha)), x, negative);
}

static inline v128_t clip4(v128_t x, const f32_vunary_params *q)
{
    v128_t lo = wasm_f32x4_splat(q->lo), hi = wasm_f32x4_splat(q->hi);
    v128_t v = wasm_v128_bitselect(lo, x, wasm_f32x4_lt(x, lo));
    return wasm_v128_bitselect(hi, v, wasm_f32x4_gt(v, hi));
}

static inline v128_t hardswish4(v128_t x, const f32_vunary_params *q)
{
    (void)q;
    v128_t zero = wasm_f32x4_splat(0.0f), one = wasm_f32x4_splat(1.0f);
    v128_t v = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.0f / 6.0f)), wasm_f32x4_splat(0.5f));
    v = wasm_v128_bitselect(zero, v, wasm_f32x4_lt(v, zero));
    v = wasm_v128_bitselect(one, v, wasm_f32x4_gt(v, one));
    return wasm_f32x4_mul(x, v);
}

/*
 * e^x = 2^n * e^r with n = round(x / ln2) and |r| <= ln2 / 2. ln2 is split
 * in two (Cody and Waite) so n * ln2_hi is exact. e^r = 1 + r + r^2 P(r).
 * 2^n is built in the exponent field in two halves, so that the results near
 * overflow (n = 128) and in the subnormal range (n down to -150) still come
 * out right, rounded once. Clamping first makes out-of-range inputs give
 * inf and 0; wasm min/max keep NaN.
 *
 * n is rounded by adding 1.5 * 2^23, which leaves round-to-nearest-even(v)
 * in the low mantissa bits for |v| < 2^22: one add gives n both as a float
 * and, by subtracting the constant's bit pattern, as an integer. That is
 * cheaper than f32x4.nearest plus a conversion, most of all natively, where
 * SIMDe emulates those two on plain SSE2.
 */
static inline v128_t exp4(v128_t x)
{
    const v128_t ln2_hi = wasm_f32x4_splat(0.693359375f), ln2_lo = wasm_f32x4_splat(-2.12194440e-4f);
    x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-104.0f)), wasm_f32x4_splat(89.0f));
    const v128_t magic = wasm_f32x4_splat(12582912.0f);
    v128_t shifted = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504f)), magic);
    v128_t nf = wasm_f32x4_sub(shifted, magic);
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(nf, ln2_hi));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(nf, ln2_lo));

    v128_t p = wasm_f32x4_splat(1.375140739e-03f);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.368916810e-03f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.166953266e-02f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.666651815e-01f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.999998808e-01f));
    v128_t e = wasm_f32x4_add(r, wasm_f32x4_mul(wasm_f32x4_mul(r, r), p));
    e = wasm_f32x4_add(e, wasm_f32x4_splat(1.0f));

    v128_t n = wasm_i32x4_sub(shifted, magic);
    v128_t n1 = wasm_i32x4_shr(n, 1);
    v128_t n2 = wasm_i32x4_sub(n, n1);
    v128_t bias = wasm_i32x4_splat(127);
    v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(n1, bias), 23);
    v128_t s2 = wasm_i32x4_shl(wasm_i32x4_add(n2, bias), 23);
    return wasm_f32x4_mul(wasm_f32x4_mul(e, s1), s2);
}

static inline v128_t exp4p(v128_t x, const f32_vunary_params *q) { (void)q; return exp4(x); }

static inline v128_t sigmoid4(v128_t x, const f32_vunary_params *q)
{
    (void)q;
    v128_t one = wasm_f32x4_splat(1.0f);
    v128_t e = exp4(wasm_f32x4_neg(wasm_f32x4_abs(x)));
    v128_t num = wasm_v128_bitselect(e, one, wasm_f32x4_lt(x, wasm_f32x4_splat(0.0f)));
    return wasm_f32x4_div(num, wasm_f32x4_add(one, e));
}

static inline v128_t silu4(v128_t x, const f32_vunary_params *q) { return wasm_f32x4_mul(x, sigmoid4(x, q)); }

/*
 * Below |x| = 0.625, tanh(x) = x + x^3 Q(x^2), a fit like exp's. Above,
 * 1 - 2 / (e^2|x| + 1) loses little to cancellation and saturates to 1 by
 * itself once e^2|x| overflows; the sign of x is put back last.
 */
static inline v128_t tanh4(v128_t x, const f32_vunary_params *q)
{
    (void)q;
    v128_t ax = wasm_f32x4_abs(x);
    v128_t s = wasm_f32x4_mul(x, x);
    v128_t p = wasm_f32x4_splat(-5.798100028e-03f);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, s), wasm_f32x4_splat(2.072028071e-02f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, s), wasm_f32x4_splat(-5.376379937e-02f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, s), wasm_f32x4_splat(1.333171874e-01f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, s), wasm_f32x4_splat(-3.333329260e-01f));
    v128_t small = wasm_f32x4_add(x, wasm_f32x4_mul(wasm_f32x4_mul(x, s), p));

    v128_t one = wasm_f32x4_splat(1.0f);
    v128_t e = exp4(wasm_f32x4_add(ax, ax));
    v128_t large = wasm_f32x4_sub(one, wasm_f32x4_div(wasm_f32x4_splat(2.0f), wasm_f32x4_add(e, one)));
    v128_t sign = wasm_v128_and(x, wasm_f32x4_splat(-0.0f));
    large = wasm_v128_or(large, sign);
    return wasm_v128_bitselect(small, large, wasm_f32x4_lt(ax, wasm_f32x4_splat(0.625f)));
}

/* ---- loops ---- */

#define DEFINE_SCALAR(name)                                                                    \
    void f32_v##name##_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p) \
    {                                                                                          \
        const f32_vunary_params q = *p;                                                        \
        for (size_t i = 0; i < n; i++) y[i] = name##1(x[i], &q);                               \
    }

/* The last n % 4 elements go through a zero-filled local vector, so that no
 * load runs past the end of x (input buffers are the caller's, unpadded). */
#define DEFINE_SIMD(name, fn4)                                                                  \
    void f32_v##name##_simd128(const float *x, float *y, size_t n, const f32_vunary_params *p) \
    {                                                                                           \
        const f32_vunary_params q = *p;                                                         \
        size_t i = 0;                                                                           \
        for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, fn4(wasm_v128_load(x + i), &q));      \
        if (i < n) {                                                                            \
            float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                              \
            memcpy(t, x + i, (n - i) * sizeof(float));                                          \
            wasm_v128_store(t, fn4(wasm_v128_load(t), &q));                                     \
            memcpy(y + i, t, (n - i) * sizeof(float));                                          \
        }                                                                                       \
    }

DEFINE_SCALAR(abs)
DEFINE_SCALAR(neg)
DEFINE_SCALAR(exp)
DEFINE_SCALAR(log)
DEFINE_SCALAR(sqrt)
DEFINE_SCALAR(reciprocal)
DEFINE_SCALAR(floor)
DEFINE_SCALAR(ceil)
DEFINE_SCALAR(round)
DEFINE_SCALAR(sign)
DEFINE_SCALAR(sin)
DEFINE_SCALAR(cos)
DEFINE_SCALAR(tan)
DEFINE_SCALAR(asin)
DEFINE_SCALAR(acos)
DEFINE_SCALAR(atan)
DEFINE_SCALAR(sinh)
DEFINE_SCALAR(cosh)
DEFINE_SCALAR(asinh)
DEFINE_SCALAR(acosh)
DEFINE_SCALAR(atanh)
DEFINE_SCALAR(erf)
DEFINE_SCALAR(relu)
DEFINE_SCALAR(leakyrelu)
DEFINE_SCALAR(elu)
DEFINE_SCALAR(selu)
DEFINE_SCALAR(celu)
DEFINE_SCALAR(thresholdedrelu)
DEFINE_SCALAR(sigmoid)
DEFINE_SCALAR(hardsigmoid)
DEFINE_SCALAR(hardswish)
DEFINE_SCALAR(tanh)
DEFINE_SCALAR(softplus)
DEFINE_SCALAR(softsign)
DEFINE_SCALAR(mish)
DEFINE_SCALAR(clip)
DEFINE_SCALAR(shrink)
DEFINE_SCALAR(silu)
DEFINE_SCALAR(gelu)

DEFINE_SIMD(abs, abs4)
DEFINE_SIMD(neg, neg4)
DEFINE_SIMD(exp, exp4p)
DEFINE_SIMD(sqrt, sqrt4)
DEFINE_SIMD(relu, relu4)
DEFINE_SIMD(leakyrelu, leakyrelu4)
DEFINE_SIMD(sigmoid, sigmoid4)
DEFINE_SIMD(hardswish, hardswish4)
DEFINE_SIMD(tanh, tanh4)
DEFINE_SIMD(clip, clip4)
DEFINE_SIMD(silu, silu4)

/* ---- tables ---- */

/* The ops with a SIMD128 kernel, then those with only the scalar one. */
#define SIMD_OPS(X)                                                                            \
    X(ABS, abs) X(NEG, neg) X(EXP, exp) X(SQRT, sqrt) X(RELU, relu) X(LEAKYRELU, leakyrelu)     \
    X(SIGMOID, sigmoid) X(HARDSWISH, hardswish) X(TANH, tanh) X(CLIP, clip) X(SILU, silu)
#define SCALAR_ONLY_OPS(X)                                                                     \
    X(LOG, log) X(RECIPROCAL, reciprocal) X(FLOOR, floor) X(CEIL, ceil) X(ROUND, round)        \
    X(SIGN, sign) X(SIN, sin) X(COS, cos) X(TAN, tan) X(ASIN, asin) X(ACOS, acos)               \
    X(ATAN, atan) X(SINH, sinh) X(COSH, cosh) X(ASINH, asinh) X(ACOSH, acosh) X(ATANH, atanh)  \
    X(ERF, erf) X(ELU, elu) X(SELU, selu) X(CELU, celu) X(THRESHOLDEDRELU, thresholdedrelu)    \
    X(HARDSIGMOID, hardsigmoid) X(SOFTPLUS, softplus) X(SOFTSIGN, softsign) X(MISH, mish)       \
    X(SHRINK, shrink) X(GELU, gelu)
#define SCALAR_ROW(OP, name) [F32_V##OP] = f32_v##name##_scalar,
#define SIMD_ROW(OP, name) [F32_V##OP] = f32_v##name##_simd128,

const f32_vunary_fn f32_vunary_scalar[F32_VUNARY_COUNT] = {SIMD_OPS(SCALAR_ROW) SCALAR_ONLY_OPS(SCALAR_ROW)};
const f32_vunary_fn f32_vunary_simd128[F32_VUNARY_COUNT] = {SIMD_OPS(SIMD_ROW)};

/* What f32_vunary_select hands out, in a table of its own: a library that reads only this one
 * does not link the scalar twins of the SIMD kernels (the kernel tests use them). */
static const f32_vunary_fn fastest[F32_VUNARY_COUNT] = {SIMD_OPS(SIMD_ROW) SCALAR_ONLY_OPS(SCALAR_ROW)};

f32_vunary_fn f32_vunary_select(f32_vunary_op op)
{
    return fastest[op];
}
