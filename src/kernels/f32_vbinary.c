/*
 * Float32 binary elementwise kernels (see f32_vbinary.h): a scalar and a
 * SIMD128 variant of each hot op, and the tables callers choose them from.
 *
 * Each op is written once as a one-element function (add1) and, for SIMD,
 * a four-lane function (add4); small macros then stamp out the v, c and rc
 * loops around them, so the three operand shapes cannot drift apart. The
 * SIMD loops handle a tail of fewer than four elements by staging it in a
 * local vector: input rows come from caller buffers that are not padded, so
 * a vector load must not run past the last element.
 */
#include <math.h>
#include <string.h>

#include "f32_vbinary.h"
#include "simd.h"

/* ---- one element ---- */

static inline float add1(float a, float b) { return a + b; }
static inline float sub1(float a, float b) { return a - b; }
static inline float mul1(float a, float b) { return a * b; }
static inline float div1(float a, float b) { return a / b; }

/* The scalar max/min match wasm's f32x4.max/min exactly: NaN in, NaN out,
 * and +0 is larger than -0. */
static inline float max1(float a, float b)
{
    if (isnan(a) || isnan(b)) return a + b;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}

static inline float min1(float a, float b)
{
    if (isnan(a) || isnan(b)) return a + b;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}

static inline float prelu1(float a, float b) { return a < 0.0f ? a * b : a; }

/* x^2 is the common exponent (variances, squared errors) and a product is
 * both exact and much cheaper than powf. */
static inline float pow1(float a, float b) { return b == 2.0f ? a * a : powf(a, b); }

/* ---- four lanes ---- */

static inline v128_t add4(v128_t a, v128_t b) { return wasm_f32x4_add(a, b); }
static inline v128_t sub4(v128_t a, v128_t b) { return wasm_f32x4_sub(a, b); }
static inline v128_t mul4(v128_t a, v128_t b) { return wasm_f32x4_mul(a, b); }
static inline v128_t div4(v128_t a, v128_t b) { return wasm_f32x4_div(a, b); }
static inline v128_t max4(v128_t a, v128_t b) { return wasm_f32x4_max(a, b); }
static inline v128_t min4(v128_t a, v128_t b) { return wasm_f32x4_min(a, b); }

static inline v128_t prelu4(v128_t a, v128_t b)
{
    v128_t negative = wasm_f32x4_lt(a, wasm_f32x4_splat(0.0f));
    return wasm_v128_bitselect(wasm_f32x4_mul(a, b), a, negative);
}

/* The last k < 4 elements, through a zero-filled local vector. */
static inline v128_t load_tail(const float *p, size_t k)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(t, p, k * sizeof(float));
    return wasm_v128_load(t);
}

static inline void store_tail(float *p, v128_t v, size_t k)
{
    float t[4];
    wasm_v128_store(t, v);
    memcpy(p, t, k * sizeof(float));
}

/* ---- loops ---- */

/* f32_v<name>_scalar and f32_v<name>c_scalar around <name>1. */
#define DEFINE_SCALAR_VC(name)                                                      \
    void f32_v##name##_scalar(const float *a, const float *b, float *y, size_t n)  \
    {                                                                               \
        for (size_t i = 0; i < n; i++) y[i] = name##1(a[i], b[i]);                  \
    }                                                                               \
    void f32_v##name##c_scalar(const float *a, const float *b, float *y, size_t n) \
    {                                                                               \
        const float c = b[0];                                                       \
        for (size_t i = 0; i < n; i++) y[i] = name##1(a[i], c);                     \
    }

/* f32_vr<name>c_scalar: the constant is the left operand. */
#define DEFINE_SCALAR_RC(name)                                                       \
    void f32_vr##name##c_scalar(const float *a, const float *b, float *y, size_t n) \
    {                                                                                \
        const float c = b[0];                                                        \
        for (size_t i = 0; i < n; i++) y[i] = name##1(c, a[i]);                      \
    }

#define DEFINE_SIMD_VC(name)                                                                     \
    void f32_v##name##_simd128(const float *a, const float *b, float *y, size_t n)              \
    {                                                                                            \
        size_t i = 0;                                                                            \
        for (; i + 4 <= n; i += 4)                                                               \
            wasm_v128_store(y + i, name##4(wasm_v128_load(a + i), wasm_v128_load(b + i)));       \
        if (i < n) store_tail(y + i, name##4(load_tail(a + i, n - i), load_tail(b + i, n - i)), n - i); \
    }                                                                                            \
    void f32_v##name##c_simd128(const float *a, const float *b, float *y, size_t n)             \
    {                                                                                            \
        const v128_t c = wasm_f32x4_splat(b[0]);                                                 \
        size_t i = 0;                                                                            \
        for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, name##4(wasm_v128_load(a + i), c));    \
        if (i < n) store_tail(y + i, name##4(load_tail(a + i, n - i), c), n - i);                \
    }

#define DEFINE_SIMD_RC(name)                                                                     \
    void f32_vr##name##c_simd128(const float *a, const float *b, float *y, size_t n)            \
    {                                                                                            \
        const v128_t c = wasm_f32x4_splat(b[0]);                                                 \
        size_t i = 0;                                                                            \
        for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, name##4(c, wasm_v128_load(a + i)));    \
        if (i < n) store_tail(y + i, name##4(c, load_tail(a + i, n - i)), n - i);                \
    }

DEFINE_SCALAR_VC(add)
DEFINE_SCALAR_VC(sub)
DEFINE_SCALAR_RC(sub)
DEFINE_SCALAR_VC(mul)
DEFINE_SCALAR_VC(div)
DEFINE_SCALAR_RC(div)
DEFINE_SCALAR_VC(max)
DEFINE_SCALAR_VC(min)
DEFINE_SCALAR_VC(prelu)
DEFINE_SCALAR_RC(prelu)
DEFINE_SCALAR_VC(pow)
DEFINE_SCALAR_RC(pow)

DEFINE_SIMD_VC(add)
DEFINE_SIMD_VC(sub)
DEFINE_SIMD_RC(sub)
DEFINE_SIMD_VC(mul)
DEFINE_SIMD_VC(div)
DEFINE_SIMD_RC(div)
DEFINE_SIMD_VC(max)
DEFINE_SIMD_VC(min)
DEFINE_SIMD_VC(prelu)
DEFINE_SIMD_RC(prelu)

/* ---- tables ---- */

/* The ops with SIMD128 kernels, then those with only scalar ones: each with its v, c and rc
 * kernels. For commutative ops the reversed shape is the plain constant one. */
#define SIMD_OPS(X)                                                                            \
    X(ADD, add, addc, addc) X(SUB, sub, subc, rsubc) X(MUL, mul, mulc, mulc)                    \
    X(DIV, div, divc, rdivc) X(MAX, max, maxc, maxc) X(MIN, min, minc, minc)                    \
    X(PRELU, prelu, preluc, rpreluc)
#define SCALAR_ONLY_OPS(X) X(POW, pow, powc, rpowc)
#define SCALAR_ROW(OP, v, c, rc) [F32_V##OP] = {f32_v##v##_scalar, f32_v##c##_scalar, f32_v##rc##_scalar},
#define SIMD_ROW(OP, v, c, rc) [F32_V##OP] = {f32_v##v##_simd128, f32_v##c##_simd128, f32_v##rc##_simd128},

const f32_vbinary_kernels f32_vbinary_scalar[F32_VBINARY_COUNT] = {SIMD_OPS(SCALAR_ROW) SCALAR_ONLY_OPS(SCALAR_ROW)};
const f32_vbinary_kernels f32_vbinary_simd128[F32_VBINARY_COUNT] = {SIMD_OPS(SIMD_ROW)};

/* What f32_vbinary_select hands out, in a table of its own: a library that reads only this
 * one does not link the scalar twins of the SIMD kernels (the kernel tests use them). */
static const f32_vbinary_kernels fastest[F32_VBINARY_COUNT] = {SIMD_OPS(SIMD_ROW) SCALAR_ONLY_OPS(SCALAR_ROW)};

f32_vbinary_kernels f32_vbinary_select(f32_vbinary_op op)
{
    return fastest[op];
}
