/*
 * Normalisation kernels over float32 (see f32_norm.h).
 */
#include <math.h>

#include "f32_norm.h"
#include "simd.h"

static float hsum(v128_t v)
{
    return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
           (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

void f32_meanvar_scalar(size_t n, const float *x, float *mean, float *var)
{
    if (n == 0) {
        *mean = *var = 0.0f;
        return;
    }
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += x[i];
    float m = s / (float)n, q = 0.0f;
    for (size_t i = 0; i < n; i++) q += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = q / (float)n;
}

void f32_meanvar_simd128(size_t n, const float *x, float *mean, float *var)
{
    if (n == 0) {
        *mean = *var = 0.0f;
        return;
    }
    v128_t vs = wasm_f32x4_splat(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vs = wasm_f32x4_add(vs, wasm_v128_load(x + i));
    float s = hsum(vs);
    for (; i < n; i++) s += x[i];
    float m = s / (float)n;
    v128_t vm = wasm_f32x4_splat(m), vq = wasm_f32x4_splat(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(x + i), vm);
        vq = wasm_f32x4_add(vq, wasm_f32x4_mul(d, d));
    }
    float q = hsum(vq);
    for (; i < n; i++) q += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = q / (float)n;
}

void f32_vaffine_scalar(size_t n, const float *x, float a, float b, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

void f32_vaffine_simd128(size_t n, const float *x, float a, float b, float *y)
{
    v128_t va = wasm_f32x4_splat(a), vb = wasm_f32x4_splat(b);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(x + i), va), vb));
    for (; i < n; i++) y[i] = x[i] * a + b;
}

void f32_layernorm_apply_scalar(size_t n, const float *x, float mean, float inv, const float *scale,
                                const float *bias, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float v = ((x[i] - mean) * inv) * scale[i];
        y[i] = bias ? v + bias[i] : v;
    }
}

void f32_layernorm_apply_simd128(size_t n, const float *x, float mean, float inv, const float *scale,
                                 const float *bias, float *y)
{
    v128_t vm = wasm_f32x4_splat(mean), vi = wasm_f32x4_splat(inv);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + i), vm), vi),
                                  wasm_v128_load(scale + i));
        if (bias) v = wasm_f32x4_add(v, wasm_v128_load(bias + i));
        wasm_v128_store(y + i, v);
    }
    for (; i < n; i++) {
        float v = ((x[i] - mean) * inv) * scale[i];
        y[i] = bias ? v + bias[i] : v;
    }
}

void f32_lrn_scalar(size_t c, size_t plane, size_t size, float alpha, float beta, float bias, const float *in,
                    float *out)
{
    /* the window of channel k is [k - (size-1)/2, k + ceil((size-1)/2)] */
    size_t before = (size - 1) / 2, after = size - 1 - before;
    float a = alpha / (float)size;
    for (size_t k = 0; k < c; k++) {
        size_t lo = k >= before ? k - before : 0;
        size_t hi = k + after < c ? k + after : c - 1;
        for (size_t p = 0; p < plane; p++) {
            float s = 0.0f;
            for (size_t j = lo; j <= hi; j++) {
                float v = in[j * plane + p];
                s += v * v;
            }
            out[k * plane + p] = in[k * plane + p] / powf(bias + a * s, beta);
        }
    }
}

void f32_lpnorm_scalar(size_t n, size_t inner, int p, const float *in, float *out)
{
    for (size_t j = 0; j < inner; j++) {
        float s = 0.0f;
        for (size_t k = 0; k < n; k++) {
            float v = in[k * inner + j];
            s += p == 1 ? fabsf(v) : v * v;
        }
        float norm = p == 1 ? s : sqrtf(s);
        float inv = norm > 0.0f ? 1.0f / norm : 0.0f;
        for (size_t k = 0; k < n; k++) out[k * inner + j] = in[k * inner + j] * inv;
    }
}
