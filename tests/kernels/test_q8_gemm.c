/*
 * Kernel tests for the 8-bit GEMM: the SIMD microkernel and its scalar twin
 * against a plain triple loop over the unpacked bytes, over M in 1 .. 4*MR+3,
 * N in 1 .. 4*NR+3 and several K (0, odd, even, long), for uint8 and int8
 * operands and outputs, per-tensor and per-row zero points and multipliers,
 * biases, fused clamps, saturating multipliers, int32 output and a strided
 * (transposed) C. The SIMD B packing is compared with the scalar one, and the
 * byte im2col with a direct gather. Canary bytes after every output catch
 * writes out of bounds. Exits non-zero on the first failing case.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/f32_conv.h"
#include "kernels/q8_gemm.h"

#define GUARD 64
#define CANARY 0xA5

static uint32_t rng = 2024u;
static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static int failures = 0;

static void *alloc_b(size_t bytes)
{
    size_t n = (bytes + GUARD + 63) / 64 * 64;
    uint8_t *p = aligned_alloc(64, n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(p, CANARY, n);
    return p;
}

static int guard_ok(const void *p, size_t bytes, const char *what)
{
    const uint8_t *b = p;
    for (size_t i = bytes; i < bytes + GUARD; i++) {
        if (b[i] != CANARY) {
            fprintf(stderr, "FAIL %s: write past the end at +%zu\n", what, i - bytes);
            failures++;
            return 0;
        }
    }
    return 1;
}

static int32_t byte_at(const uint8_t *p, int is_signed, size_t i) { return is_signed ? (int8_t)p[i] : p[i]; }

typedef struct qcase {
    size_t M, N, K;
    int a_signed, b_signed;
    int requant;    /* else int32 output */
    int out_signed, per_row, bias, clamp;
    float scale_mag; /* multipliers up to this (large ones saturate) */
    int c_trans;    /* C written column-major */
    int f32;        /* float32 output (with requant): sum * scale + a float bias */
} qcase;

static void run_case(const qcase *t)
{
    size_t M = t->M, N = t->N, K = t->K, es = t->requant && !t->f32 ? 1 : 4;
    uint8_t *A = alloc_b(M * K), *B = alloc_b(K * N);
    for (size_t i = 0; i < M * K; i++) A[i] = (uint8_t)next();
    for (size_t i = 0; i < K * N; i++) B[i] = (uint8_t)next();
    int32_t *za = alloc_b(M * 4), *bias = alloc_b(M * 4);
    float *scale = alloc_b(M * 4), *fbias = alloc_b(M * 4);
    for (size_t m = 0; m < M; m++) {
        za[m] = t->a_signed ? (int32_t)(next() % 256) - 128 : (int32_t)(next() % 256);
        bias[m] = (int32_t)(next() % 20001) - 10000;
        scale[m] = t->scale_mag * (float)(next() % 1000 + 1) / 1000.0f;
        fbias[m] = (float)((int)(next() % 2001) - 1000) / 7.0f;
    }
    int32_t zb = t->b_signed ? (int32_t)(next() % 256) - 128 : (int32_t)(next() % 256);
    q8_requant rq = {.scale = scale, .bias = t->bias ? bias : NULL, .per_row = t->per_row,
                     .out_signed = t->out_signed, .zp = (int32_t)(next() % 100) - (t->out_signed ? 50 : 0),
                     .qmin = t->out_signed ? -128 : 0, .qmax = t->out_signed ? 127 : 255};
    rq.out_f32 = t->f32;
    rq.fbias = t->f32 && t->bias ? fbias : NULL;
    if (t->clamp) {
        rq.qmin = rq.zp;
        rq.qmax = rq.zp + 40;
    }
    size_t pa_n = q8_gemm_packed_a_size(M, K), pb_n = q8_gemm_packed_b_size(K, N);
    int16_t *pa = alloc_b(pa_n * 2), *pb = alloc_b(pb_n * 2), *pb2 = alloc_b(pb_n * 2);
    q8_gemm_pack_a(M, K, A, t->a_signed, (ptrdiff_t)K, 1, za, t->per_row, pa);
    q8_gemm_pack_b(K, N, B, t->b_signed, (ptrdiff_t)N, 1, zb, pb);
    q8_gemm_pack_b_scalar(K, N, B, t->b_signed, (ptrdiff_t)N, 1, zb, pb2);
    ptrdiff_t c_rs = t->c_trans ? 1 : (ptrdiff_t)N, c_cs = t->c_trans ? (ptrdiff_t)M : 1;
    uint8_t *C1 = alloc_b(M * N * es), *C2 = alloc_b(M * N * es);
    q8_requant *r = t->requant || t->f32 ? &rq : NULL;
    q8_gemm_packed_simd128(M, N, K, pa, pb, r, C1, c_rs, c_cs);
    q8_gemm_packed_scalar(M, N, K, pa, pb2, r, C2, c_rs, c_cs);

    char what[200];
    snprintf(what, sizeof what, "q8 M=%zu N=%zu K=%zu a%c b%c %s out%c perrow=%d bias=%d clamp=%d scale=%g trans=%d", M,
             N, K, t->a_signed ? 's' : 'u', t->b_signed ? 's' : 'u', t->f32 ? "f32" : t->requant ? "requant" : "int32",
             t->out_signed ? 's' : 'u', t->per_row, t->bias, t->clamp, t->scale_mag, t->c_trans);
    int ok = guard_ok(C1, M * N * es, what) && guard_ok(C2, M * N * es, what) && guard_ok(pa, pa_n * 2, what) &&
             guard_ok(pb, pb_n * 2, what);
    /* the same bytes read as columns contiguous in k (rs 1), the layout of activation rows */
    int16_t *pt = alloc_b(pb_n * 2), *pt2 = alloc_b(pb_n * 2);
    q8_gemm_pack_b(K, N, B, t->b_signed, 1, (ptrdiff_t)K, zb, pt);
    q8_gemm_pack_b_scalar(K, N, B, t->b_signed, 1, (ptrdiff_t)K, zb, pt2);
    ok = ok && guard_ok(pt, pb_n * 2, what);
    if (ok && (memcmp(pb, pb2, pb_n * 2) || memcmp(pt, pt2, pb_n * 2))) {
        fprintf(stderr, "FAIL %s: SIMD and scalar B packing differ\n", what);
        failures++;
        ok = 0;
    }
    free(pt), free(pt2);
    for (size_t m = 0; ok && m < M; m++) {
        for (size_t n = 0; ok && n < N; n++) {
            uint32_t acc = 0;
            for (size_t k = 0; k < K; k++)
                acc += (uint32_t)((byte_at(A, t->a_signed, m * K + k) - za[t->per_row ? m : 0]) *
                                  (byte_at(B, t->b_signed, k * N + n) - zb));
            int64_t want = !r ? (int32_t)acc : q8_requant_one(r, m, acc), got[2];
            if (t->f32) { /* compared bit for bit */
                float f = q8_dequant_one(r, m, acc);
                int32_t bits;
                memcpy(&bits, &f, 4);
                want = bits;
            }
            size_t i = (size_t)((ptrdiff_t)m * c_rs + (ptrdiff_t)n * c_cs);
            const uint8_t *Cs[2] = {C1, C2};
            for (int j = 0; j < 2; j++) {
                if (!r || t->f32) got[j] = ((const int32_t *)Cs[j])[i];
                else got[j] = t->out_signed ? (int8_t)Cs[j][i] : Cs[j][i];
            }
            if (got[0] != want || got[1] != want) {
                fprintf(stderr, "FAIL %s: C[%zu,%zu] simd %lld scalar %lld want %lld\n", what, m, n,
                        (long long)got[0], (long long)got[1], (long long)want);
                failures++;
                ok = 0;
            }
        }
    }
    free(A), free(B), free(za), free(bias), free(scale), free(fbias), free(pa), free(pb), free(pb2), free(C1), free(C2);
}

/* The byte im2col against a direct gather, for a 2-D geometry with padding, stride and dilation. */
static void im2col_case(size_t C, size_t H, size_t W, size_t kh, size_t kw, size_t stride, size_t dil, size_t pad)
{
    f32_conv_geom g;
    memset(&g, 0, sizeof g);
    g.nd = 2;
    g.channels = C;
    g.img[0] = H, g.img[1] = W;
    g.kernel[0] = kh, g.kernel[1] = kw;
    g.stride[0] = g.stride[1] = stride;
    g.dilation[0] = g.dilation[1] = dil;
    g.pad[0] = g.pad[1] = (ptrdiff_t)pad;
    size_t oh = (H + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (W + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
    g.grid[0] = oh, g.grid[1] = ow;
    size_t K = C * kh * kw, N = oh * ow;
    uint8_t *x = alloc_b(C * H * W);
    for (size_t i = 0; i < C * H * W; i++) x[i] = (uint8_t)next();
    size_t n0 = N / 3, n1 = N - N / 5; /* a range starting and ending inside lines */
    uint8_t *col = alloc_b(K * (n1 - n0));
    u8_im2col(&g, x, 77, n0, n1, col);
    char what[120];
    snprintf(what, sizeof what, "u8_im2col C=%zu %zux%zu k%zux%zu s%zu d%zu p%zu", C, H, W, kh, kw, stride, dil, pad);
    int ok = guard_ok(col, K * (n1 - n0), what);
    for (size_t k = 0; ok && k < K; k++) {
        size_t c = k / (kh * kw), ky = k / kw % kh, kx = k % kw;
        for (size_t n = n0; ok && n < n1; n++) {
            ptrdiff_t y = (ptrdiff_t)(n / ow * stride + ky * dil) - (ptrdiff_t)pad;
            ptrdiff_t xx = (ptrdiff_t)(n % ow * stride + kx * dil) - (ptrdiff_t)pad;
            int in = y >= 0 && y < (ptrdiff_t)H && xx >= 0 && xx < (ptrdiff_t)W;
            uint8_t want = in ? x[c * H * W + (size_t)y * W + (size_t)xx] : 77;
            if (col[k * (n1 - n0) + (n - n0)] != want) {
                fprintf(stderr, "FAIL %s: row %zu column %zu\n", what, k, n);
                failures++;
                ok = 0;
            }
        }
    }
    free(x), free(col);
}

/* Quantize and dequantize, SIMD against scalar, over lengths 0 .. 4*8+3 and values that round on
 * halves, saturate both ways, and NaN and infinities. */
static void convert_cases(void)
{
    static const float specials[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1e9f, -1e9f, INFINITY, -INFINITY, NAN, 127.5f, -128.5f};
    for (int is_signed = 0; is_signed < 2; is_signed++) {
        for (size_t n = 0; n <= 35; n++) {
            float *x = alloc_b(n * 4), *y1 = alloc_b(n * 4), *y2 = alloc_b(n * 4);
            uint8_t *q1 = alloc_b(n), *q2 = alloc_b(n);
            for (size_t i = 0; i < n; i++)
                x[i] = i % 3 == 0 ? specials[(i / 3) % 12] : (float)((int)(next() % 2001) - 1000) / 4.0f;
            float scale = n % 2 ? 0.5f : 2.0f;
            int32_t zp = is_signed ? (int32_t)(n % 7) - 3 : (int32_t)(n * 7 % 256);
            q8_quantize_simd128(x, q1, n, scale, zp, is_signed);
            q8_quantize_scalar(x, q2, n, scale, zp, is_signed);
            q8_dequantize_simd128(q1, y1, n, scale, zp, is_signed);
            q8_dequantize_scalar(q1, y2, n, scale, zp, is_signed);
            char what[80];
            snprintf(what, sizeof what, "q8 convert n=%zu signed=%d", n, is_signed);
            if (!guard_ok(q1, n, what) || !guard_ok(y1, n * 4, what)) return;
            for (size_t i = 0; i < n; i++) {
                float v = x[i] / scale;
                double r = isnan(v) ? zp : nearbyint((double)v) + zp, lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
                int32_t want = (int32_t)(r < lo ? lo : r > hi ? hi : r), got = is_signed ? (int8_t)q1[i] : q1[i];
                if (got != want || q1[i] != q2[i] || y1[i] != y2[i] || y1[i] != (float)(got - zp) * scale) {
                    fprintf(stderr, "FAIL %s: x[%zu] = %g: quantized %d (scalar %d, want %d), dequantized %g / %g\n",
                            what, i, x[i], got, q2[i], want, y1[i], y2[i]);
                    failures++;
                    return;
                }
            }
            free(x), free(y1), free(y2), free(q1), free(q2);
        }
    }
}

/* DynamicQuantizeLinear's parameters, SIMD against scalar, over lengths 0 .. 35, with the extremes
 * anywhere (the tail too), NaN, all-positive, all-negative and all-zero inputs. */
static void dynamic_params_cases(void)
{
    for (size_t n = 0; n <= 35; n++) {
        for (int kind = 0; kind < 4; kind++) {
            float *x = alloc_b(n * 4 + 4);
            for (size_t i = 0; i < n; i++) {
                float v = (float)((int)(next() % 2001) - 1000) / 8.0f;
                x[i] = kind == 0 ? v : kind == 1 ? fabsf(v) + 1 : kind == 2 ? -fabsf(v) - 1 : 0;
                if (kind == 0 && i % 11 == 5) x[i] = NAN;
            }
            float s1, s2;
            int32_t z1, z2;
            q8_dynamic_params_simd128(x, n, &s1, &z1);
            q8_dynamic_params_scalar(x, n, &s2, &z2);
            float lo = 0, hi = 0;
            for (size_t i = 0; i < n; i++) {
                if (x[i] < lo) lo = x[i];
                if (x[i] > hi) hi = x[i];
            }
            float want = hi == lo ? 1.0f : (hi - lo) / 255.0f;
            if (s1 != s2 || z1 != z2 || s1 != want || z1 < 0 || z1 > 255 || z1 != (int32_t)nearbyintf(-lo / want)) {
                fprintf(stderr, "FAIL q8_dynamic_params n=%zu kind=%d: scale %g / %g (want %g), zero point %d / %d\n", n,
                        kind, s1, s2, want, z1, z2);
                failures++;
            }
            free(x);
        }
    }
}

/* The depthwise kernel against its scalar twin (which reads x directly, with bounds checks). */
static void dwconv_case(size_t C, size_t H, size_t W, size_t k, size_t stride, size_t dil, size_t pad, int x_signed,
                        int requant)
{
    f32_conv_geom g;
    memset(&g, 0, sizeof g);
    g.nd = 2;
    g.channels = C;
    g.img[0] = H, g.img[1] = W;
    g.kernel[0] = g.kernel[1] = k;
    g.stride[0] = g.stride[1] = stride;
    g.dilation[0] = g.dilation[1] = dil;
    g.pad[0] = g.pad[1] = (ptrdiff_t)pad;
    size_t oh = (H + 2 * pad - dil * (k - 1) - 1) / stride + 1, ow = (W + 2 * pad - dil * (k - 1) - 1) / stride + 1;
    g.grid[0] = oh, g.grid[1] = ow;
    size_t es = requant ? 1 : 4, n = C * oh * ow;
    uint8_t *x = alloc_b(C * H * W), *y1 = alloc_b(n * es), *y2 = alloc_b(n * es);
    int16_t *w = alloc_b(C * k * k * 2);
    void *work = alloc_b(q8_dwconv_work_size(&g));
    for (size_t i = 0; i < C * H * W; i++) x[i] = (uint8_t)next();
    for (size_t i = 0; i < C * k * k; i++) w[i] = (int16_t)((int)(next() % 511) - 255);
    float *scale = alloc_b(C * 4);
    int32_t *bias = alloc_b(C * 4);
    for (size_t c = 0; c < C; c++) {
        scale[c] = 1e-4f * (float)(c + 1);
        bias[c] = (int32_t)(next() % 4001) - 2000;
    }
    q8_requant rq = {.scale = scale, .bias = bias, .per_row = 1, .out_signed = x_signed, .zp = 3,
                     .qmin = x_signed ? -128 : 0, .qmax = x_signed ? 127 : 255};
    int32_t xz = x_signed ? -5 : 130;
    q8_dwconv_simd128(&g, x, x_signed, xz, w, requant ? &rq : NULL, y1, work);
    q8_dwconv_scalar(&g, x, x_signed, xz, w, requant ? &rq : NULL, y2, NULL);
    char what[120];
    snprintf(what, sizeof what, "q8_dwconv C=%zu %zux%zu k%zu s%zu d%zu p%zu signed=%d requant=%d", C, H, W, k, stride,
             dil, pad, x_signed, requant);
    if (guard_ok(y1, n * es, what) && guard_ok(work, q8_dwconv_work_size(&g), what) && memcmp(y1, y2, n * es)) {
        fprintf(stderr, "FAIL %s: SIMD and scalar differ\n", what);
        failures++;
    }
    free(x), free(y1), free(y2), free(w), free(work), free(scale), free(bias);
}

/* Giga multiply-adds per second of the SIMD kernel on packed operands (2 ops each, as GFLOP/s counts). */
static void bench(size_t M, size_t N, size_t K)
{
    int16_t *pa = alloc_b(q8_gemm_packed_a_size(M, K) * 2), *pb = alloc_b(q8_gemm_packed_b_size(K, N) * 2);
    memset(pa, 1, q8_gemm_packed_a_size(M, K) * 2);
    memset(pb, 1, q8_gemm_packed_b_size(K, N) * 2);
    uint8_t *C = alloc_b(M * N);
    float one = 1e-3f;
    q8_requant rq = {.scale = &one, .qmin = 0, .qmax = 255};
    int reps = 0;
    clock_t t0 = clock();
    double secs;
    do {
        q8_gemm_packed_simd128(M, N, K, pa, pb, &rq, C, (ptrdiff_t)N, 1);
        reps++;
        secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    } while (secs < 1.0);
    printf("q8_gemm_packed_simd128 %zux%zux%zu: %.2f GOP/s\n", M, N, K, 2.0 * M * N * K * reps / secs / 1e9);
    free(pa), free(pb), free(C);
}

int main(int argc, char **argv)
{
    static const size_t Ks[] = {0, 1, 2, 3, 8, 17, 64};
    size_t cases = 0;
    for (size_t M = 1; M <= 4 * Q8_GEMM_MR + 3; M++) {
        for (size_t N = 1; N <= 4 * Q8_GEMM_NR + 3; N++) {
            for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++, cases++) {
                unsigned v = (unsigned)cases;
                qcase t = {.M = M, .N = N, .K = Ks[ki], .a_signed = v & 1, .b_signed = (v >> 1) & 1,
                           .requant = (v % 5) != 0, .out_signed = (v >> 2) & 1, .per_row = (v >> 3) & 1,
                           .bias = (v >> 4) & 1, .clamp = v % 7 == 3, .scale_mag = v % 11 == 5 ? 1e6f : 0.01f,
                           .c_trans = v % 3 == 1, .f32 = v % 13 == 4};
                run_case(&t);
                if (failures) return 1;
            }
        }
    }
    /* Long K: the int16 products of extreme bytes, summed over thousands of pairs. */
    qcase big = {.M = 9, .N = 21, .K = 4099, .a_signed = 1, .b_signed = 0, .requant = 1, .per_row = 1, .bias = 1,
                 .scale_mag = 1e-4f};
    run_case(&big);
    big.requant = 0;
    run_case(&big);
    im2col_case(3, 7, 9, 3, 3, 1, 1, 1);
    im2col_case(2, 10, 8, 3, 2, 2, 1, 2);
    im2col_case(4, 9, 9, 3, 3, 1, 2, 2);
    im2col_case(5, 4, 6, 1, 1, 1, 1, 0);
    im2col_case(2, 5, 40, 3, 3, 1, 1, 1);
    convert_cases();
    dynamic_params_cases();
    for (int v = 0; v < 4; v++) {
        dwconv_case(3, 9, 9, 3, 1, 1, 1, v & 1, v >> 1);
        dwconv_case(2, 12, 17, 3, 2, 1, 1, v & 1, v >> 1);
        dwconv_case(4, 10, 23, 5, 1, 1, 2, v & 1, v >> 1);
        dwconv_case(2, 11, 19, 3, 3, 2, 2, v & 1, v >> 1);
        dwconv_case(1, 5, 4, 1, 1, 1, 0, v & 1, v >> 1);
        dwconv_case(2, 14, 33, 3, 2, 1, 0, v & 1, v >> 1);
        dwconv_case(2, 12, 20, 9, 1, 1, 4, v & 1, v >> 1); /* 81 taps: past the splat array */
    }
    im2col_case(3, 6, 37, 5, 5, 1, 1, 2);
    if (failures) return 1;
    printf("q8 gemm: %zu cases passed\n", cases + 2);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench(256, 256, 256);
        bench(64, 128, 576);
        bench(512, 56, 4608);
    }
    return 0;
}
