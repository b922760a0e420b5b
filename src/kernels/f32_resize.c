/*
 * Resize kernels over float32 (see f32_resize.h). The bilinear kernel blends
 * the two horizontal interpolations of a row pair; the 2-D kernel does the
 * same for any tap count (bicubic); the N-D kernel walks every combination of
 * taps and serves 1-D, 3-D and other resizes and tf_crop_and_resize.
 */
#include "f32_resize.h"

void f32_resize_bilinear_scalar(size_t planes, size_t ih, size_t iw, size_t oh, size_t ow, const float *in,
                                const int64_t *ry, const float *wy, const int64_t *cx, const float *wx, float *out)
{
    for (size_t p = 0; p < planes; p++) {
        const float *plane = in + p * ih * iw;
        for (size_t y = 0; y < oh; y++) {
            const float *r0 = plane + ry[2 * y], *r1 = plane + ry[2 * y + 1];
            float w0 = wy[2 * y], w1 = wy[2 * y + 1];
            for (size_t x = 0; x < ow; x++) {
                int64_t c0 = cx[2 * x], c1 = cx[2 * x + 1];
                float a = wx[2 * x], b = wx[2 * x + 1];
                float top = r0[c0] * a + r0[c1] * b;
                float bottom = r1[c0] * a + r1[c1] * b;
                *out++ = top * w0 + bottom * w1;
            }
        }
    }
}

void f32_resize_2d_scalar(size_t planes, size_t ih, size_t iw, size_t oh, size_t ow, size_t taps, const float *in,
                          const int64_t *ry, const float *wy, const int64_t *cx, const float *wx, float *out)
{
    for (size_t p = 0; p < planes; p++) {
        const float *plane = in + p * ih * iw;
        for (size_t y = 0; y < oh; y++) {
            const int64_t *rows = ry + taps * y;
            const float *wrow = wy + taps * y;
            for (size_t x = 0; x < ow; x++) {
                const int64_t *cols = cx + taps * x;
                const float *wcol = wx + taps * x;
                float acc = 0.0f;
                for (size_t a = 0; a < taps; a++) {
                    const float *r = plane + rows[a];
                    float h = 0.0f;
                    for (size_t b = 0; b < taps; b++) h += r[cols[b]] * wcol[b];
                    acc += h * wrow[a];
                }
                *out++ = acc;
            }
        }
    }
}

void f32_resize_taps_scalar(int rank, const int64_t *out_dims, const int *ntaps, const int64_t *const *off,
                            const float *const *w, const uint8_t *const *outside, float extrapolation,
                            const float *in, float *out)
{
    int64_t total = 1, combos = 1;
    for (int d = 0; d < rank; d++) {
        total *= out_dims[d];
        combos *= ntaps[d];
    }
    int64_t pos[8] = {0}; /* rank <= 8 */
    for (int64_t i = 0; i < total; i++) {
        int out_of_roi = 0;
        for (int d = 0; outside && d < rank; d++) out_of_roi |= outside[d][pos[d]];
        if (out_of_roi) {
            out[i] = extrapolation;
        } else {
            float acc = 0.0f;
            int t[8] = {0};
            for (int64_t c = 0; c < combos; c++) {
                int64_t o = 0;
                float wt = 1.0f;
                for (int d = 0; d < rank; d++) {
                    int64_t k = pos[d] * ntaps[d] + t[d];
                    o += off[d][k];
                    wt *= w[d][k];
                }
                acc += wt * in[o];
                for (int d = rank - 1; d >= 0; d--) {
                    if (++t[d] < ntaps[d]) break;
                    t[d] = 0;
                }
            }
            out[i] = acc;
        }
        for (int d = rank - 1; d >= 0; d--) {
            if (++pos[d] < out_dims[d]) break;
            pos[d] = 0;
        }
    }
}
