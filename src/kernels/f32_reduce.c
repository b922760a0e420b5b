/*
 * Reduction kernels over float32 (see f32_reduce.h). The vector forms keep
 * four partial results and merge them at the end, so sums may differ from
 * the scalar twin in the last bits; maxima and minima agree exactly.
 */
#include <math.h>

#include "f32_exp.h"
#include "f32_reduce.h"
#include "simd.h"

float f32_reduce_identity(int kind)
{
    switch (kind) {
    case F32_REDUCE_MAX: return -INFINITY;
    case F32_REDUCE_MIN: return INFINITY;
    case F32_REDUCE_PROD: return 1.0f;
    default: return 0.0f;
    }
}

static inline float fold_scalar(int kind, float acc, float v)
{
    switch (kind) {
    case F32_REDUCE_SUMSQ: return acc + v * v;
    case F32_REDUCE_SUMABS: return acc + fabsf(v);
    case F32_REDUCE_MAX: return acc < v ? v : acc;
    case F32_REDUCE_MIN: return v < acc ? v : acc;
    case F32_REDUCE_PROD: return acc * v;
    default: return acc + v;
    }
}

static inline v128_t fold_simd128(int kind, v128_t acc, v128_t v)
{
    switch (kind) {
    case F32_REDUCE_SUMSQ: return wasm_f32x4_add(acc, wasm_f32x4_mul(v, v));
    case F32_REDUCE_SUMABS: return wasm_f32x4_add(acc, wasm_f32x4_abs(v));
    case F32_REDUCE_MAX: return wasm_f32x4_pmax(acc, v);
    case F32_REDUCE_MIN: return wasm_f32x4_pmin(acc, v);
    case F32_REDUCE_PROD: return wasm_f32x4_mul(acc, v);
    default: return wasm_f32x4_add(acc, v);
    }
}

/* How two partial results combine: the sums all merge by adding. */
static inline float merge(int kind, float a, float b)
{
    switch (kind) {
    case F32_REDUCE_MAX: return a < b ? b : a;
    case F32_REDUCE_MIN: return b < a ? b : a;
    case F32_REDUCE_PROD: return a * b;
    default: return a + b;
    }
}

float f32_reduce_row_scalar(int kind, size_t n, const float *x)
{
    float acc = f32_reduce_identity(kind);
    for (size_t i = 0; i < n; i++) acc = fold_scalar(kind, acc, x[i]);
    return acc;
}

float f32_reduce_row_simd128(int kind, size_t n, const float *x)
{
    v128_t v = wasm_f32x4_splat(f32_reduce_identity(kind));
    size_t i = 0;
    for (; i + 4 <= n; i += 4) v = fold_simd128(kind, v, wasm_v128_load(x + i));
    float lane[4];
    wasm_v128_store(lane, v);
    float acc = merge(kind, merge(kind, lane[0], lane[1]), merge(kind, lane[2], lane[3]));
    for (; i < n; i++) acc = fold_scalar(kind, acc, x[i]);
    return acc;
}

void f32_reduce_acc_scalar(int kind, size_t n, const float *x, float *acc)
{
    for (size_t i = 0; i < n; i++) acc[i] = fold_scalar(kind, acc[i], x[i]);
}

void f32_reduce_acc_simd128(int kind, size_t n, const float *x, float *acc)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(acc + i, fold_simd128(kind, wasm_v128_load(acc + i), wasm_v128_load(x + i)));
    for (; i < n; i++) acc[i] = fold_scalar(kind, acc[i], x[i]);
}

float f32_sumexp_row_scalar(size_t n, const float *x, float shift)
{
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++) acc += exp_approx_scalar(x[i] - shift);
    return acc;
}

float f32_sumexp_row_simd128(size_t n, const float *x, float shift)
{
    v128_t v = wasm_f32x4_splat(0.0f), vs = wasm_f32x4_splat(shift);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) v = wasm_f32x4_add(v, exp_approx_simd128(wasm_f32x4_sub(wasm_v128_load(x + i), vs)));
    float acc = (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
                (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
    for (; i < n; i++) acc += exp_approx_scalar(x[i] - shift);
    return acc;
}

void f32_sumexp_acc_scalar(size_t n, const float *x, const float *shift, float *acc)
{
    for (size_t i = 0; i < n; i++) acc[i] += exp_approx_scalar(x[i] - shift[i]);
}

void f32_sumexp_acc_simd128(size_t n, const float *x, const float *shift, float *acc)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t e = exp_approx_simd128(wasm_f32x4_sub(wasm_v128_load(x + i), wasm_v128_load(shift + i)));
        wasm_v128_store(acc + i, wasm_f32x4_add(wasm_v128_load(acc + i), e));
    }
    for (; i < n; i++) acc[i] += exp_approx_scalar(x[i] - shift[i]);
}

void f32_cumsum_scalar(size_t n, size_t inner, const float *in, float *out, int exclusive, int reverse)
{
    for (size_t j = 0; j < inner; j++) {
        float acc = 0.0f;
        for (size_t k = 0; k < n; k++) {
            size_t at = (reverse ? n - 1 - k : k) * inner + j;
            float v = in[at]; /* read before the write: out may be in */
            if (exclusive) {
                out[at] = acc;
                acc += v;
            } else {
                acc += v;
                out[at] = acc;
            }
        }
    }
}
