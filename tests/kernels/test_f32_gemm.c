/*
 * Kernel tests for the float32 GEMM and convolution helpers: every SIMD
 * kernel against its scalar twin, and im2col/col2im + GEMM against a direct
 * convolution, over sizes 1 .. 4*tile+3, odd sizes, K = 0, K across the KC
 * block, transposed and strided operands, and accumulation. Canary values
 * around every output catch writes out of bounds. Exits non-zero on the
 * first mismatch.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -Iinclude -Isrc tests/kernels/test_f32_gemm.c \
 *       src/kernels/f32_gemm.c src/kernels/f32_conv.c -lm
 *   ./a.out            run the tests
 *   ./a.out --bench    also print GFLOP/s of a 256x256x256 product
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/f32_conv.h"
#include "kernels/f32_gemm.h"

#define CANARY 12345.678f
#define GUARD 32 /* canary floats after every buffer */

static uint32_t rng = 12345u;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int failures = 0;

static float *alloc_f(size_t n)
{
    /* 16-byte aligned like the runtime's buffers; GUARD canaries at the end. */
    size_t bytes = ((n + GUARD) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n + GUARD; i++) p[i] = CANARY;
    return p;
}

static void fill_rand(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = frand();
}

static int check_guard(const float *p, size_t n, const char *what)
{
    for (size_t i = n; i < n + GUARD; i++) {
        if (p[i] != CANARY) {
            fprintf(stderr, "FAIL %s: write past the end at +%zu\n", what, i - n);
            failures++;
            return 0;
        }
    }
    return 1;
}

static int close_enough(float got, float want, float scale)
{
    return fabsf(got - want) <= 1e-5f * scale + 1e-6f;
}

/* ---- GEMM ---- */

typedef struct gemm_case {
    size_t M, N, K;
    int trans_a, trans_b; /* operand stored transposed */
    size_t c_extra;       /* extra floats at the end of each C row (ldc > N) */
    int c_col_major;      /* C written with a non-unit column stride */
    int accumulate;
} gemm_case;

static void run_gemm_case(const gemm_case *t)
{
    size_t M = t->M, N = t->N, K = t->K;
    size_t ldc = t->c_col_major ? M + t->c_extra : N + t->c_extra;
    size_t c_rows = t->c_col_major ? N : M;
    size_t c_len = c_rows * ldc;
    float *A = alloc_f(M * K), *B = alloc_f(K * N);
    float *C1 = alloc_f(c_len), *C2 = alloc_f(c_len), *C3 = alloc_f(c_len), *C4 = alloc_f(c_len);
    float *bias = alloc_f(M);
    float *work = alloc_f(f32_gemm_work_size(M, N, K));
    float *pa = alloc_f(f32_gemm_packed_a_size(M, K)), *pb = alloc_f(f32_gemm_packed_b_size(K, N));
    fill_rand(A, M * K);
    fill_rand(B, K * N);
    fill_rand(bias, M);
    ptrdiff_t a_rs = t->trans_a ? 1 : (ptrdiff_t)K, a_cs = t->trans_a ? (ptrdiff_t)M : 1;
    ptrdiff_t b_rs = t->trans_b ? 1 : (ptrdiff_t)N, b_cs = t->trans_b ? (ptrdiff_t)K : 1;
    ptrdiff_t c_rs = t->c_col_major ? 1 : (ptrdiff_t)ldc, c_cs = t->c_col_major ? (ptrdiff_t)ldc : 1;
    /* Valid C cells get a start value (used when accumulating); gaps keep the canary. */
    for (size_t m = 0; m < M; m++) {
        for (size_t n = 0; n < N; n++) {
            float v = frand();
            size_t i = m * (size_t)c_rs + n * (size_t)c_cs;
            C1[i] = C2[i] = C3[i] = C4[i] = v;
        }
    }

    f32_gemm_scalar(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C1, c_rs, c_cs, t->accumulate, NULL);
    f32_gemm_simd128(M, N, K, A, a_rs, a_cs, B, b_rs, b_cs, C2, c_rs, c_cs, t->accumulate, work);
    f32_gemm_pack_a(M, K, A, a_rs, a_cs, pa);
    f32_gemm_pack_b(K, N, B, b_rs, b_cs, pb);
    f32_gemm_packed_scalar(M, N, K, pa, pb, NULL, C3, c_rs, c_cs, t->accumulate);
    f32_gemm_packed_simd128(M, N, K, pa, pb, bias, C4, c_rs, c_cs, t->accumulate); /* with a row bias */

    char what[160];
    snprintf(what, sizeof what, "gemm M=%zu N=%zu K=%zu tA=%d tB=%d extra=%zu ccol=%d acc=%d", M, N, K, t->trans_a,
             t->trans_b, t->c_extra, t->c_col_major, t->accumulate);
    int ok = check_guard(C2, c_len, what) && check_guard(C3, c_len, what) && check_guard(C4, c_len, what) &&
             check_guard(bias, M, what) &&
             check_guard(work, f32_gemm_work_size(M, N, K), what) &&
             check_guard(pa, f32_gemm_packed_a_size(M, K), what) && check_guard(pb, f32_gemm_packed_b_size(K, N), what);
    for (size_t i = 0; ok && i < c_len; i++) {
        size_t m = t->c_col_major ? i % ldc : i / ldc, n = t->c_col_major ? i / ldc : i % ldc;
        if (m >= M || n >= N) { /* a gap between rows: must be untouched */
            if (C2[i] != CANARY || C3[i] != CANARY || C4[i] != CANARY) {
                fprintf(stderr, "FAIL %s: wrote the gap at %zu\n", what, i);
                failures++;
                ok = 0;
            }
            continue;
        }
        float scale = 1.0f;
        for (size_t k = 0; k < K; k++)
            scale += fabsf(A[(ptrdiff_t)m * a_rs + (ptrdiff_t)k * a_cs] * B[(ptrdiff_t)k * b_rs + (ptrdiff_t)n * b_cs]);
        if (!close_enough(C2[i], C1[i], scale) || !close_enough(C3[i], C1[i], scale) ||
            !close_enough(C4[i], C1[i] + bias[m], scale + 1.0f)) {
            fprintf(stderr, "FAIL %s: C[%zu,%zu] simd %g packed-scalar %g reference %g; with bias %g, expected %g\n",
                    what, m, n, C2[i], C3[i], C1[i], C4[i], C1[i] + bias[m]);
            failures++;
            ok = 0;
        }
    }
    free(A), free(B), free(C1), free(C2), free(C3), free(C4), free(bias), free(work), free(pa), free(pb);
}

static void test_gemm(void)
{
    int count = 0;
    static const size_t ks[] = {0, 1, 2, 3, 5, 8, 17};
    for (size_t M = 1; M <= 4 * F32_GEMM_MR + 3; M++) {
        for (size_t N = 1; N <= 4 * F32_GEMM_NR + 3; N++) {
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                gemm_case t = {M, N, ks[ki], (int)(M + N) % 2, (int)(M * N) % 2, N % 3, 0, (int)(M + ks[ki]) % 2};
                run_gemm_case(&t);
                count++;
            }
        }
    }
    /* K across the KC block, rows across the MC block, degenerate shapes, all layouts. */
    static const size_t big[][3] = {
        {1, 1, 1},    {1, 1, 0},     {1, 40, 0},     {0, 5, 7},      {5, 0, 7},       {1, 1000, 300},
        {3, 7, 255},  {5, 9, 256},   {6, 10, 257},   {9, 17, 513},   {67, 131, 257},  {129, 35, 70},
        {130, 20, 3}, {256, 64, 64}, {13, 300, 600}, {200, 1, 1},    {1, 200, 1},     {33, 33, 1}};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        for (int layout = 0; layout < 16; layout++) {
            gemm_case t = {big[i][0], big[i][1], big[i][2], layout & 1, (layout >> 1) & 1, (layout & 4) ? 5 : 0,
                           (layout >> 2) & 1, (layout >> 3) & 1};
            run_gemm_case(&t);
            count++;
        }
    }
    printf("gemm: %d cases\n", count);
}

/* ---- depthwise ---- */

typedef struct dw_case {
    size_t C, mult, H, W;
    size_t kernel[2], stride[2], dilation[2];
    ptrdiff_t pad_begin[2], pad_end[2]; /* negative crops */
    int with_bias;
} dw_case;

/* A direct depthwise kernel against the scalar twin; false when the case has no output. */
static int run_dw_case(const dw_case *t, f32_dwconv_fn *fn, const char *name)
{
    f32_conv_geom g;
    memset(&g, 0, sizeof g);
    g.nd = 2;
    g.channels = t->C;
    g.img[0] = t->H;
    g.img[1] = t->W;
    for (int d = 0; d < 2; d++) {
        ptrdiff_t ek = (ptrdiff_t)((t->kernel[d] - 1) * t->dilation[d] + 1);
        ptrdiff_t span = (ptrdiff_t)g.img[d] + t->pad_begin[d] + t->pad_end[d] - ek;
        if (span < 0) return 0;
        g.grid[d] = (size_t)span / t->stride[d] + 1;
        g.kernel[d] = t->kernel[d];
        g.stride[d] = t->stride[d];
        g.dilation[d] = t->dilation[d];
        g.pad[d] = t->pad_begin[d];
    }
    size_t CO = t->C * t->mult, taps = t->kernel[0] * t->kernel[1], opix = g.grid[0] * g.grid[1];
    float *x = alloc_f(t->C * t->H * t->W), *w = alloc_f(CO * taps), *b = alloc_f(CO);
    float *y1 = alloc_f(CO * opix), *y2 = alloc_f(CO * opix);
    size_t wfloats = (f32_dwconv_work_size(&g) + sizeof(float) - 1) / sizeof(float);
    float *work = alloc_f(wfloats);
    fill_rand(x, t->C * t->H * t->W);
    fill_rand(w, CO * taps);
    fill_rand(b, CO);
    const float *bias = t->with_bias ? b : NULL;
    /* cases with a bias also check the fused activation path: a clip applied per channel plane */
    f32_vunary_params clip = {.lo = -0.5f, .hi = 0.5f};
    f32_vunary_fn post = t->with_bias ? f32_vclip_scalar : NULL;
    f32_dwconv_scalar(&g, t->mult, x, w, bias, y1, NULL, post, &clip);
    fn(&g, t->mult, x, w, bias, y2, work, post, &clip);
    char what[240];
    snprintf(what, sizeof what,
             "%s C=%zu mult=%zu H=%zu W=%zu kernel=%zux%zu strides=%zu,%zu dilations=%zu,%zu pads=%td,%td,%td,%td "
             "bias=%d",
             name, t->C, t->mult, t->H, t->W, t->kernel[0], t->kernel[1], t->stride[0], t->stride[1],
             t->dilation[0], t->dilation[1], t->pad_begin[0], t->pad_begin[1], t->pad_end[0], t->pad_end[1],
             t->with_bias);
    int ok = check_guard(y2, CO * opix, what) && check_guard(work, wfloats, what) &&
             check_guard(x, t->C * t->H * t->W, what);
    for (size_t i = 0; ok && i < CO * opix; i++) {
        if (!close_enough(y2[i], y1[i], 1.0f + (float)taps)) {
            fprintf(stderr, "FAIL %s: y[%zu] simd %g scalar %g\n", what, i, y2[i], y1[i]);
            failures++;
            ok = 0;
        }
    }
    free(x), free(w), free(b), free(y1), free(y2), free(work);
    return 1;
}

/* Input width giving `ow` output columns with no trailing padding beyond what pad_end asks. */
static size_t width_for(size_t ow, size_t k, size_t s, size_t d, ptrdiff_t pads)
{
    ptrdiff_t w = (ptrdiff_t)((ow - 1) * s + (k - 1) * d + 1) - pads;
    return w < 1 ? 1 : (size_t)w;
}

static void test_dwconv(void)
{
    int general = 0, k3 = 0;
    /* Square kernels 1..7 (3x3 also through its own kernel), strides 1..3, dilations 1..2, padding none /
     * half / more than the kernel reaches; output widths 1 .. 4*8+3 (the widest row tile is 8 outputs),
     * heights 1..4 (rows go in pairs). */
    for (size_t k = 1; k <= 7; k++) {
        for (size_t s = 1; s <= 3; s++) {
            for (size_t d = 1; d <= 2; d++) {
                for (int pk = 0; pk < 3; pk++) {
                    ptrdiff_t p = pk == 0 ? 0 : pk == 1 ? (ptrdiff_t)((k - 1) * d / 2) : (ptrdiff_t)((k - 1) * d + 2);
                    for (size_t ow = 1; ow <= 4 * 8 + 3; ow++) {
                        size_t W = width_for(ow, k, s, d, 2 * p);
                        size_t H = width_for(1 + (ow + k) % 4, k, s, d, 2 * p);
                        dw_case t = {1 + ow % 3, 1 + (ow % 5 == 0), H, W, {k, k}, {s, s}, {d, d}, {p, p},
                                     {p, p + (ptrdiff_t)(ow % 2)}, (int)(ow + k) % 2};
                        general += run_dw_case(&t, f32_dwconv_simd128, "dwconv");
                        if (k == 3) k3 += run_dw_case(&t, f32_dwconv3x3_simd128, "dwconv3x3");
                    }
                }
            }
        }
    }
    /* Every small image with strides 1 and 2 and one-pixel pads on either side, as mobilenets use. */
    for (size_t H = 1; H <= 4 * 4 + 3; H++) {
        for (size_t W = 1; W <= 4 * 4 + 3; W++) {
            for (size_t s = 1; s <= 2; s++) {
                for (int pads = 0; pads < 4; pads++) {
                    ptrdiff_t p0 = pads & 1, p1 = (pads >> 1) & 1;
                    dw_case t = {2 + (H + W) % 2, 1, H, W, {3, 3}, {s, s}, {1, 1}, {p0, p0}, {p1, p1},
                                 (int)(H + W + (size_t)pads) % 2};
                    k3 += run_dw_case(&t, f32_dwconv3x3_simd128, "dwconv3x3");
                    general += run_dw_case(&t, f32_dwconv_simd128, "dwconv");
                }
            }
        }
    }
    /* Non-square kernels, unequal strides and dilations, asymmetric and cropping pads, channel
     * multipliers, 1-D shapes (a unit height), kernels larger than 7, big planes. */
    static const dw_case odd[] = {
        {3, 1, 9, 20, {1, 7}, {1, 1}, {1, 1}, {0, 3}, {0, 3}, 1},
        {3, 1, 20, 9, {7, 1}, {1, 1}, {1, 1}, {3, 0}, {3, 0}, 1},
        {2, 1, 11, 13, {3, 5}, {1, 2}, {1, 1}, {1, 2}, {1, 2}, 0},
        {2, 1, 13, 11, {5, 2}, {2, 1}, {1, 3}, {2, 0}, {1, 1}, 1},
        {2, 1, 10, 17, {2, 3}, {3, 1}, {2, 1}, {0, 1}, {1, 0}, 1},
        {2, 1, 16, 16, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, 1},
        {2, 1, 16, 16, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}, 0},
        {2, 1, 15, 15, {3, 3}, {1, 2}, {1, 1}, {1, 1}, {1, 1}, 1},
        {2, 1, 15, 21, {3, 3}, {3, 2}, {2, 3}, {2, 1}, {0, 3}, 1},
        {1, 1, 12, 30, {4, 4}, {4, 4}, {1, 1}, {0, 0}, {0, 0}, 1},
        {1, 1, 12, 30, {2, 2}, {5, 7}, {1, 1}, {1, 1}, {1, 1}, 1},
        {1, 1, 12, 30, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1},
        {2, 1, 9, 9, {3, 3}, {1, 1}, {1, 1}, {-1, -2}, {-1, 0}, 1},
        {2, 1, 9, 9, {5, 5}, {2, 2}, {1, 1}, {-1, 3}, {4, -2}, 0},
        {2, 2, 12, 12, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1},
        {3, 3, 14, 11, {5, 5}, {2, 2}, {1, 1}, {2, 2}, {2, 2}, 1},
        {2, 4, 7, 19, {7, 7}, {1, 1}, {2, 1}, {3, 3}, {3, 3}, 0},
        {4, 1, 1, 37, {1, 3}, {1, 1}, {1, 1}, {0, 1}, {0, 1}, 1},
        {4, 2, 1, 37, {1, 5}, {1, 2}, {1, 3}, {0, 2}, {0, 2}, 1},
        {2, 1, 1, 1, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 1},
        {2, 1, 3, 3, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 1},
        {2, 1, 1, 1, {7, 7}, {1, 1}, {1, 1}, {3, 3}, {3, 3}, 1},
        {2, 1, 20, 23, {9, 11}, {1, 2}, {1, 1}, {4, 5}, {4, 5}, 1},
        {1, 1, 25, 40, {13, 2}, {3, 1}, {2, 9}, {6, 3}, {6, 3}, 0},
        {3, 1, 56, 56, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 1},
        {3, 1, 57, 57, {5, 5}, {2, 2}, {1, 1}, {2, 2}, {2, 2}, 1},
        {3, 1, 16, 16, {7, 7}, {1, 1}, {1, 1}, {3, 3}, {3, 3}, 1},
        {1, 1, 5, 5, {3, 3}, {1, 1}, {1, 1}, {9, 7}, {8, 10}, 1},
        {3, 1, 56, 56, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1},
        {3, 1, 112, 112, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1},
        {2, 3, 9, 10, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 0}, 1},
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        general += run_dw_case(&odd[i], f32_dwconv_simd128, "dwconv");
        if (odd[i].kernel[0] == 3 && odd[i].kernel[1] == 3)
            k3 += run_dw_case(&odd[i], f32_dwconv3x3_simd128, "dwconv3x3");
    }
    printf("dwconv: %d cases, dwconv3x3: %d cases\n", general, k3);
}

/* ---- im2col / col2im against a direct convolution ---- */

typedef struct conv_case {
    int nd;
    size_t cin, cout;
    size_t img[3], kernel[3], stride[3], dilation[3];
    ptrdiff_t pad_begin[3], pad_end[3];
} conv_case;

static size_t out_dim(const conv_case *t, int d)
{
    ptrdiff_t ek = (ptrdiff_t)((t->kernel[d] - 1) * t->dilation[d] + 1);
    ptrdiff_t span = (ptrdiff_t)t->img[d] + t->pad_begin[d] + t->pad_end[d] - ek;
    return span < 0 ? 0 : (size_t)(span / (ptrdiff_t)t->stride[d]) + 1;
}

/* Value of input channel c at grid position o and kernel position k, or 0 in the padding. */
static float tap(const conv_case *t, const float *x, size_t c, const size_t *o, const size_t *k)
{
    size_t off = c;
    for (int d = 0; d < t->nd; d++) {
        ptrdiff_t i = (ptrdiff_t)(o[d] * t->stride[d] + k[d] * t->dilation[d]) - t->pad_begin[d];
        if (i < 0 || i >= (ptrdiff_t)t->img[d]) return 0.0f;
        off = off * t->img[d] + (size_t)i;
    }
    return x[off];
}

static void next_index(int nd, const size_t *dims, size_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return;
        idx[d] = 0;
    }
}

static void run_conv_case(const conv_case *t)
{
    f32_conv_geom g;
    memset(&g, 0, sizeof g);
    g.nd = t->nd;
    g.channels = t->cin;
    size_t npix = 1, nimg = 1, ksize = 1;
    for (int d = 0; d < t->nd; d++) {
        g.img[d] = t->img[d];
        g.grid[d] = out_dim(t, d);
        g.kernel[d] = t->kernel[d];
        g.stride[d] = t->stride[d];
        g.dilation[d] = t->dilation[d];
        g.pad[d] = t->pad_begin[d];
        npix *= g.grid[d];
        nimg *= t->img[d];
        ksize *= t->kernel[d];
    }
    size_t K = t->cin * ksize, M = t->cout;
    float *x = alloc_f(t->cin * nimg), *w = alloc_f(M * K), *pb = alloc_f(f32_gemm_packed_b_size(K, npix));
    float *pa = alloc_f(f32_gemm_packed_a_size(M, K));
    float *y = alloc_f(M * npix), *yref = alloc_f(M * npix);
    fill_rand(x, t->cin * nimg);
    fill_rand(w, M * K);

    /* Forward: y = W * im2col(x), first all columns at once (pb keeps them for the adjoint check). */
    f32_im2col_packed(&g, x, 0, npix, pb);
    f32_gemm_pack_a(M, K, w, (ptrdiff_t)K, 1, pa);
    f32_gemm_packed_simd128(M, npix, K, pa, pb, NULL, y, (ptrdiff_t)npix, 1, 0);
    size_t o[3] = {0}, k[3];
    for (size_t p = 0; p < npix; p++) {
        for (size_t m = 0; m < M; m++) {
            float acc = 0.0f;
            size_t kk = 0;
            for (size_t c = 0; c < t->cin; c++) {
                memset(k, 0, sizeof k);
                for (size_t q = 0; q < ksize; q++, kk++) {
                    acc += w[m * K + kk] * tap(t, x, c, o, k);
                    next_index(t->nd, t->kernel, k);
                }
            }
            yref[m * npix + p] = acc;
        }
        next_index(t->nd, g.grid, o);
    }
    char what[96];
    snprintf(what, sizeof what, "conv nd=%d cin=%zu cout=%zu img0=%zu", t->nd, t->cin, t->cout, t->img[0]);
    int ok = check_guard(pb, f32_gemm_packed_b_size(K, npix), what) && check_guard(y, M * npix, what);
    for (size_t i = 0; ok && i < M * npix; i++) {
        if (!close_enough(y[i], yref[i], (float)K)) {
            fprintf(stderr, "FAIL %s: y[%zu] im2col+gemm %g direct %g\n", what, i, y[i], yref[i]);
            failures++;
            ok = 0;
        }
    }
    /* Then in column ranges of several widths, as the convolution op does to bound its scratch. */
    static const size_t chunks[] = {1, 5, 8, 13};
    for (size_t ci = 0; ok && ci < sizeof chunks / sizeof chunks[0]; ci++) {
        size_t step = chunks[ci];
        float *pc = alloc_f(f32_gemm_packed_b_size(K, step)), *yc = alloc_f(M * npix);
        for (size_t n0 = 0; n0 < npix; n0 += step) {
            size_t n1 = n0 + step < npix ? n0 + step : npix;
            f32_im2col_packed(&g, x, n0, n1, pc);
            f32_gemm_packed_simd128(M, n1 - n0, K, pa, pc, NULL, yc + n0, (ptrdiff_t)npix, 1, 0);
        }
        ok = check_guard(pc, f32_gemm_packed_b_size(K, step), what) && check_guard(yc, M * npix, what);
        for (size_t i = 0; ok && i < M * npix; i++) {
            if (yc[i] != y[i]) {
                fprintf(stderr, "FAIL %s: y[%zu] with %zu-column ranges %g, all at once %g\n", what, i, step, yc[i],
                        y[i]);
                failures++;
                ok = 0;
            }
        }
        free(pc), free(yc);
    }

    /* Transposed: col2im(col) must scatter exactly where im2col gathered from,
     * so <im2col(x), col> == <x, col2im(col)> for any col. */
    float *col = alloc_f(K * npix), *img = alloc_f(t->cin * nimg);
    fill_rand(col, K * npix);
    memset(img, 0, t->cin * nimg * sizeof(float));
    f32_col2im_add(&g, col, 0, npix, img);
    double lhs = 0.0, rhs = 0.0, mag = 1.0;
    for (size_t kk = 0; kk < K; kk++) {
        for (size_t p = 0; p < npix; p++) {
            float v = pb[f32_gemm_pack_b_index(K, npix, kk, p)];
            lhs += (double)v * col[kk * npix + p];
            mag += fabs((double)v * col[kk * npix + p]);
        }
    }
    for (size_t i = 0; i < t->cin * nimg; i++) rhs += (double)x[i] * img[i];
    if (ok && (!check_guard(img, t->cin * nimg, what) || fabs(lhs - rhs) > 1e-4 * mag)) {
        fprintf(stderr, "FAIL %s: col2im is not the adjoint of im2col (%g vs %g)\n", what, lhs, rhs);
        failures++;
        ok = 0;
    }
    /* col2im over column ranges adds up to the same image. */
    for (size_t ci = 0; ok && ci < sizeof chunks / sizeof chunks[0]; ci++) {
        size_t step = chunks[ci];
        float *part = alloc_f(K * step), *img2 = alloc_f(t->cin * nimg);
        memset(img2, 0, t->cin * nimg * sizeof(float));
        for (size_t n0 = 0; n0 < npix; n0 += step) {
            size_t n1 = n0 + step < npix ? n0 + step : npix;
            for (size_t kk = 0; kk < K; kk++)
                for (size_t n = n0; n < n1; n++) part[kk * (n1 - n0) + (n - n0)] = col[kk * npix + n];
            f32_col2im_add(&g, part, n0, n1, img2);
        }
        ok = check_guard(img2, t->cin * nimg, what);
        for (size_t i = 0; ok && i < t->cin * nimg; i++) {
            if (!close_enough(img2[i], img[i], (float)ksize)) {
                fprintf(stderr, "FAIL %s: col2im with %zu-column ranges gives %g at %zu, all at once %g\n", what,
                        step, img2[i], i, img[i]);
                failures++;
                ok = 0;
            }
        }
        free(part), free(img2);
    }
    free(x), free(w), free(pb), free(pa), free(y), free(yref), free(col), free(img);
}

static void test_conv(void)
{
    static const conv_case cases[] = {
        {2, 1, 1, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
        {2, 3, 8, {9, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
        {2, 3, 5, {7, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 0}, {1, 0}},
        {2, 4, 6, {10, 11}, {3, 2}, {1, 3}, {2, 1}, {2, 0}, {0, 3}},
        {2, 2, 3, {4, 4}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
        {2, 5, 9, {13, 17}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}},
        {2, 3, 4, {16, 16}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}},
        {2, 2, 2, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {-1, 0}, {0, -1}},
        {1, 3, 5, {20}, {4}, {3}, {2}, {2}, {1}},
        {1, 1, 1, {1}, {1}, {1}, {1}, {0}, {0}},
        {3, 2, 3, {5, 4, 6}, {3, 2, 3}, {1, 2, 2}, {1, 1, 2}, {1, 0, 1}, {1, 1, 2}},
        {2, 70, 9, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}, /* K = 630 spans KC blocks */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_conv_case(&cases[i]);
    printf("conv: %zu cases\n", sizeof cases / sizeof cases[0]);
}

static void bench(void)
{
    size_t n = 256;
    float *A = alloc_f(n * n), *B = alloc_f(n * n), *C = alloc_f(n * n);
    float *pa = alloc_f(f32_gemm_packed_a_size(n, n)), *pb = alloc_f(f32_gemm_packed_b_size(n, n));
    fill_rand(A, n * n);
    fill_rand(B, n * n);
    f32_gemm_pack_a(n, n, A, (ptrdiff_t)n, 1, pa);
    f32_gemm_pack_b(n, n, B, (ptrdiff_t)n, 1, pb);
    int reps = 0;
    clock_t t0 = clock();
    double secs;
    do {
        f32_gemm_packed_simd128(n, n, n, pa, pb, NULL, C, (ptrdiff_t)n, 1, 0);
        reps++;
        secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    } while (secs < 1.0);
    printf("f32_gemm_packed_simd128 256x256x256: %.2f GFLOP/s\n", 2.0 * n * n * n * reps / secs / 1e9);
    free(A), free(B), free(C), free(pa), free(pb);
}

int main(int argc, char **argv)
{
    test_gemm();
    test_dwconv();
    test_conv();
    if (argc > 1 && !strcmp(argv[1], "--bench")) bench();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("all kernel tests passed\n");
    return 0;
}
