/*
 * Pooling kernels over float32 (see f32_pool.h). The vector forms handle
 * horizontal strides 1 and 2, the strides of nearly every pooling layer;
 * other strides run the scalar loop inside the vector kernel. Maxima use
 * `acc < x ? x : acc` in both twins (wasm's pmax), so they agree exactly.
 */
#include <math.h>

#include "f32_pool.h"
#include "simd.h"

void f32_vmax_rows_scalar(size_t n, size_t rows, const float *in, size_t stride, float *out)
{
    for (size_t i = 0; i < n; i++) {
        float m = -INFINITY;
        for (size_t r = 0; r < rows; r++) {
            float v = in[r * stride + i];
            m = m < v ? v : m;
        }
        out[i] = m;
    }
}

void f32_vmax_rows_simd128(size_t n, size_t rows, const float *in, size_t stride, float *out)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t m = wasm_f32x4_splat(-INFINITY);
        for (size_t r = 0; r < rows; r++) m = wasm_f32x4_pmax(m, wasm_v128_load(in + r * stride + i));
        wasm_v128_store(out + i, m);
    }
    for (; i < n; i++) {
        float m = -INFINITY;
        for (size_t r = 0; r < rows; r++) {
            float v = in[r * stride + i];
            m = m < v ? v : m;
        }
        out[i] = m;
    }
}

void f32_vsum_rows_scalar(size_t n, size_t rows, const float *in, size_t stride, float *out)
{
    for (size_t i = 0; i < n; i++) {
        float s = 0.0f;
        for (size_t r = 0; r < rows; r++) s += in[r * stride + i];
        out[i] = s;
    }
}

void f32_vsum_rows_simd128(size_t n, size_t rows, const float *in, size_t stride, float *out)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t s = wasm_f32x4_splat(0.0f);
        for (size_t r = 0; r < rows; r++) s = wasm_f32x4_add(s, wasm_v128_load(in + r * stride + i));
        wasm_v128_store(out + i, s);
    }
    for (; i < n; i++) {
        float s = 0.0f;
        for (size_t r = 0; r < rows; r++) s += in[r * stride + i];
        out[i] = s;
    }
}

/* Four outputs x..x+3 at stride sw, taps from in + j*dw: stride 1 is a plain
 * load, stride 2 takes the even lanes of two loads. Only called while the
 * second load stays inside the row (see the loop bounds below). */
static v128_t load_strided(const float *p, size_t sw)
{
    if (sw == 1) return wasm_v128_load(p);
    return wasm_i32x4_shuffle(wasm_v128_load(p), wasm_v128_load(p + 4), 0, 2, 4, 6);
}

/* Outputs [0, *end) that the vector loop may take: stride 2 stops one block
 * early so that its second load never reads past the last tap. */
static size_t vector_end(size_t n, size_t sw)
{
    if (sw == 1) return n;
    if (sw == 2) return n > 0 ? n - 1 : 0;
    return 0;
}

void f32_maxpool_hrow_scalar(size_t n, const float *in, size_t kw, size_t sw, size_t dw, float *out)
{
    for (size_t x = 0; x < n; x++) {
        const float *p = in + x * sw;
        float m = p[0];
        for (size_t j = 1; j < kw; j++) {
            float v = p[j * dw];
            m = m < v ? v : m;
        }
        out[x] = m;
    }
}

void f32_maxpool_hrow_simd128(size_t n, const float *in, size_t kw, size_t sw, size_t dw, float *out)
{
    size_t end = vector_end(n, sw), x = 0;
    for (; x + 4 <= end; x += 4) {
        const float *p = in + x * sw;
        v128_t m = load_strided(p, sw);
        for (size_t j = 1; j < kw; j++) m = wasm_f32x4_pmax(m, load_strided(p + j * dw, sw));
        wasm_v128_store(out + x, m);
    }
    f32_maxpool_hrow_scalar(n - x, in + x * sw, kw, sw, dw, out + x);
}

void f32_avgpool_hrow_scalar(size_t n, const float *in, size_t kw, size_t sw, size_t dw, const float *cscale,
                             float rscale, float *out)
{
    for (size_t x = 0; x < n; x++) {
        const float *p = in + x * sw;
        float s = 0.0f;
        for (size_t j = 0; j < kw; j++) s += p[j * dw];
        out[x] = (s * cscale[x]) * rscale;
    }
}

void f32_avgpool_hrow_simd128(size_t n, const float *in, size_t kw, size_t sw, size_t dw, const float *cscale,
                              float rscale, float *out)
{
    size_t end = vector_end(n, sw), x = 0;
    v128_t vr = wasm_f32x4_splat(rscale);
    for (; x + 4 <= end; x += 4) {
        const float *p = in + x * sw;
        v128_t s = wasm_f32x4_splat(0.0f);
        for (size_t j = 0; j < kw; j++) s = wasm_f32x4_add(s, load_strided(p + j * dw, sw));
        wasm_v128_store(out + x, wasm_f32x4_mul(wasm_f32x4_mul(s, wasm_v128_load(cscale + x)), vr));
    }
    f32_avgpool_hrow_scalar(n - x, in + x * sw, kw, sw, dw, cscale + x, rscale, out + x);
}

void f32_global_avgpool_scalar(size_t channels, size_t n, const float *in, float *out)
{
    for (size_t c = 0; c < channels; c++) {
        const float *p = in + c * n;
        float s = 0.0f;
        for (size_t i = 0; i < n; i++) s += p[i];
        out[c] = s / (float)n;
    }
}

void f32_global_avgpool_simd128(size_t channels, size_t n, const float *in, float *out)
{
    for (size_t c = 0; c < channels; c++) {
        const float *p = in + c * n;
        v128_t v = wasm_f32x4_splat(0.0f);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) v = wasm_f32x4_add(v, wasm_v128_load(p + i));
        float s = (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
                  (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
        for (; i < n; i++) s += p[i];
        out[c] = s / (float)n;
    }
}

void f32_global_maxpool_scalar(size_t channels, size_t n, const float *in, float *out)
{
    for (size_t c = 0; c < channels; c++) {
        const float *p = in + c * n;
        float m = -INFINITY;
        for (size_t i = 0; i < n; i++) m = m < p[i] ? p[i] : m;
        out[c] = m;
    }
}

void f32_global_maxpool_simd128(size_t channels, size_t n, const float *in, float *out)
{
    for (size_t c = 0; c < channels; c++) {
        const float *p = in + c * n;
        v128_t v = wasm_f32x4_splat(-INFINITY);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) v = wasm_f32x4_pmax(v, wasm_v128_load(p + i));
        float lane[4], m = -INFINITY;
        wasm_v128_store(lane, v);
        for (int l = 0; l < 4; l++) m = m < lane[l] ? lane[l] : m;
        for (; i < n; i++) m = m < p[i] ? p[i] : m;
        out[c] = m;
    }
}
