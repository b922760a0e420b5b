/*
 * Softmax, LogSoftmax and Hardmax kernels over float32 (see f32_softmax.h).
 * Both twins subtract the maximum before exponentiating, so large inputs do
 * not overflow, and use the same exp approximation (f32_exp.h); they differ
 * only in the order of the sums.
 */
#include <math.h>

#include "f32_exp.h"
#include "f32_softmax.h"
#include "simd.h"

/* Maximum ignoring NaN, -inf for an empty row; the scalar and vector forms pick
 * the same element because `acc < x ? x : acc` is what pmax computes. */
static float max_scalar(size_t n, const float *x)
{
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) m = m < x[i] ? x[i] : m;
    return m;
}

static float max_simd128(size_t n, const float *x)
{
    v128_t vm = wasm_f32x4_splat(-INFINITY);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vm = wasm_f32x4_pmax(vm, wasm_v128_load(x + i));
    float lane[4], m = -INFINITY;
    wasm_v128_store(lane, vm);
    for (int l = 0; l < 4; l++) m = m < lane[l] ? lane[l] : m;
    for (; i < n; i++) m = m < x[i] ? x[i] : m;
    return m;
}

static float hsum(v128_t v)
{
    return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
           (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/* out[i] = exp(in[i] - max), returns the sum */
static float exp_store_scalar(size_t n, const float *in, float max, float *out)
{
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float e = exp_approx_scalar(in[i] - max);
        out[i] = e;
        sum += e;
    }
    return sum;
}

static float exp_store_simd128(size_t n, const float *in, float max, float *out)
{
    v128_t vmax = wasm_f32x4_splat(max), vsum = wasm_f32x4_splat(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t e = exp_approx_simd128(wasm_f32x4_sub(wasm_v128_load(in + i), vmax));
        wasm_v128_store(out + i, e);
        vsum = wasm_f32x4_add(vsum, e);
    }
    float sum = hsum(vsum);
    for (; i < n; i++) {
        float e = exp_approx_scalar(in[i] - max);
        out[i] = e;
        sum += e;
    }
    return sum;
}

static float exp_sum_scalar(size_t n, const float *in, float max)
{
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += exp_approx_scalar(in[i] - max);
    return sum;
}

static float exp_sum_simd128(size_t n, const float *in, float max)
{
    v128_t vmax = wasm_f32x4_splat(max), vsum = wasm_f32x4_splat(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vsum = wasm_f32x4_add(vsum, exp_approx_simd128(wasm_f32x4_sub(wasm_v128_load(in + i), vmax)));
    float sum = hsum(vsum);
    for (; i < n; i++) sum += exp_approx_scalar(in[i] - max);
    return sum;
}

void f32_softmax_row_scalar(size_t n, const float *in, float *out)
{
    float max = max_scalar(n, in);
    float inv = 1.0f / exp_store_scalar(n, in, max, out);
    for (size_t i = 0; i < n; i++) out[i] *= inv;
}

void f32_softmax_row_simd128(size_t n, const float *in, float *out)
{
    float max = max_simd128(n, in);
    float inv = 1.0f / exp_store_simd128(n, in, max, out);
    v128_t vinv = wasm_f32x4_splat(inv);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(out + i), vinv));
    for (; i < n; i++) out[i] *= inv;
}

/* (x - max) - log(sum) rather than x - (max + log(sum)): exact for the
 * maximum itself even when the inputs are large */
void f32_logsoftmax_row_scalar(size_t n, const float *in, float *out)
{
    float max = max_scalar(n, in);
    float lse = logf(exp_sum_scalar(n, in, max));
    for (size_t i = 0; i < n; i++) out[i] = (in[i] - max) - lse;
}

void f32_logsoftmax_row_simd128(size_t n, const float *in, float *out)
{
    float max = max_simd128(n, in);
    float lse = logf(exp_sum_simd128(n, in, max));
    v128_t vmax = wasm_f32x4_splat(max), vlse = wasm_f32x4_splat(lse);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(out + i, wasm_f32x4_sub(wasm_f32x4_sub(wasm_v128_load(in + i), vmax), vlse));
    for (; i < n; i++) out[i] = (in[i] - max) - lse;
}

/* ---- down the columns: tmp[0, m) holds the maxima, tmp[m, 2m) the sums ---- */

static void col_max_scalar(size_t n, size_t m, const float *in, float *max)
{
    for (size_t j = 0; j < m; j++) max[j] = -INFINITY;
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < m; j++) max[j] = max[j] < in[r * m + j] ? in[r * m + j] : max[j];
}

static void col_max_simd128(size_t n, size_t m, const float *in, float *max)
{
    for (size_t j = 0; j < m; j++) max[j] = -INFINITY;
    for (size_t r = 0; r < n; r++) {
        const float *row = in + r * m;
        size_t j = 0;
        for (; j + 4 <= m; j += 4)
            wasm_v128_store(max + j, wasm_f32x4_pmax(wasm_v128_load(max + j), wasm_v128_load(row + j)));
        for (; j < m; j++) max[j] = max[j] < row[j] ? row[j] : max[j];
    }
}

void f32_softmax_cols_scalar(size_t n, size_t m, const float *in, float *out, float *tmp)
{
    float *max = tmp, *sum = tmp + m;
    col_max_scalar(n, m, in, max);
    for (size_t j = 0; j < m; j++) sum[j] = 0.0f;
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < m; j++) {
            float e = exp_approx_scalar(in[r * m + j] - max[j]);
            out[r * m + j] = e;
            sum[j] += e;
        }
    for (size_t j = 0; j < m; j++) sum[j] = 1.0f / sum[j];
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < m; j++) out[r * m + j] *= sum[j];
}

void f32_softmax_cols_simd128(size_t n, size_t m, const float *in, float *out, float *tmp)
{
    float *max = tmp, *sum = tmp + m;
    col_max_simd128(n, m, in, max);
    for (size_t j = 0; j < m; j++) sum[j] = 0.0f;
    for (size_t r = 0; r < n; r++) {
        const float *x = in + r * m;
        float *y = out + r * m;
        size_t j = 0;
        for (; j + 4 <= m; j += 4) {
            v128_t e = exp_approx_simd128(wasm_f32x4_sub(wasm_v128_load(x + j), wasm_v128_load(max + j)));
            wasm_v128_store(y + j, e);
            wasm_v128_store(sum + j, wasm_f32x4_add(wasm_v128_load(sum + j), e));
        }
        for (; j < m; j++) {
            float e = exp_approx_scalar(x[j] - max[j]);
            y[j] = e;
            sum[j] += e;
        }
    }
    for (size_t j = 0; j < m; j++) sum[j] = 1.0f / sum[j];
    for (size_t r = 0; r < n; r++) {
        float *y = out + r * m;
        size_t j = 0;
        for (; j + 4 <= m; j += 4)
            wasm_v128_store(y + j, wasm_f32x4_mul(wasm_v128_load(y + j), wasm_v128_load(sum + j)));
        for (; j < m; j++) y[j] *= sum[j];
    }
}

void f32_logsoftmax_cols_scalar(size_t n, size_t m, const float *in, float *out, float *tmp)
{
    float *max = tmp, *lse = tmp + m;
    col_max_scalar(n, m, in, max);
    for (size_t j = 0; j < m; j++) lse[j] = 0.0f;
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < m; j++) lse[j] += exp_approx_scalar(in[r * m + j] - max[j]);
    for (size_t j = 0; j < m; j++) lse[j] = logf(lse[j]);
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < m; j++) out[r * m + j] = (in[r * m + j] - max[j]) - lse[j];
}

void f32_logsoftmax_cols_simd128(size_t n, size_t m, const float *in, float *out, float *tmp)
{
    float *max = tmp, *lse = tmp + m;
    col_max_simd128(n, m, in, max);
    for (size_t j = 0; j < m; j++) lse[j] = 0.0f;
    for (size_t r = 0; r < n; r++) {
        const float *x = in + r * m;
        size_t j = 0;
        for (; j + 4 <= m; j += 4) {
            v128_t e = exp_approx_simd128(wasm_f32x4_sub(wasm_v128_load(x + j), wasm_v128_load(max + j)));
            wasm_v128_store(lse + j, wasm_f32x4_add(wasm_v128_load(lse + j), e));
        }
        for (; j < m; j++) lse[j] += exp_approx_scalar(x[j] - max[j]);
    }
    for (size_t j = 0; j < m; j++) lse[j] = logf(lse[j]);
    for (size_t r = 0; r < n; r++) {
        const float *x = in + r * m;
        float *y = out + r * m;
        size_t j = 0;
        for (; j + 4 <= m; j += 4) {
            v128_t d = wasm_f32x4_sub(wasm_v128_load(x + j), wasm_v128_load(max + j));
            wasm_v128_store(y + j, wasm_f32x4_sub(d, wasm_v128_load(lse + j)));
        }
        for (; j < m; j++) y[j] = (x[j] - max[j]) - lse[j];
    }
}

/* ---- Hardmax: the first maximum wins, as numpy's argmax ---- */

void f32_hardmax_row_scalar(size_t n, const float *in, float *out)
{
    if (n == 0) return;
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (in[i] > in[best]) best = i;
    for (size_t i = 0; i < n; i++) out[i] = 0.0f;
    out[best] = 1.0f;
}

void f32_hardmax_cols_scalar(size_t n, size_t m, const float *in, float *out)
{
    if (n == 0) return;
    for (size_t j = 0; j < m; j++) {
        size_t best = 0;
        for (size_t r = 1; r < n; r++)
            if (in[r * m + j] > in[best * m + j]) best = r;
        for (size_t r = 0; r < n; r++) out[r * m + j] = 0.0f;
        out[best * m + j] = 1.0f;
    }
}
