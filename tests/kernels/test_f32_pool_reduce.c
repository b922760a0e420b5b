/*
 * SIMD128 kernels against their scalar twins: pooling, reductions, softmax
 * and normalisation. Sizes run over 1 .. 4*TILE+3 around the vector width,
 * buffers are allocated to their exact size (run under ASan to catch reads
 * past a tail), and the kernels that allow out == in are also run in place.
 * Maxima, and sums taken in the same order by both twins, must match
 * exactly; sums that the vector form splits across lanes get a tolerance.
 * Exits non-zero on the first mismatch.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -Iinclude -Isrc tests/kernels/test_f32_pool_reduce.c \
 *       src/kernels/f32_pool.c src/kernels/f32_reduce.c src/kernels/f32_softmax.c src/kernels/f32_norm.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32_exp.h"
#include "kernels/f32_norm.h"
#include "kernels/f32_pool.h"
#include "kernels/f32_reduce.h"
#include "kernels/f32_softmax.h"

#define TILE 4 /* floats per vector */
#define MAX_N (4 * TILE + 3)

static int failures;
static uint32_t rng = 12345;

static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 65536.0f * 8.0f - 4.0f;
}

/* A fresh buffer of exactly n floats (at least one), random, with a NaN or
 * -inf sprinkled in when `special` is set. */
static float *buf(size_t n, int special)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) p[i] = frand();
    if (special && n > 2) {
        p[n / 2] = NAN;
        p[n / 3] = -INFINITY;
    }
    return p;
}

static int same(float a, float b, float tol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (a == b) return 1;
    return fabsf(a - b) <= tol * (1.0f + fabsf(b));
}

static void expect(const char *what, size_t n, const float *got, const float *want, float tol, const char *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (!same(got[i], want[i], tol)) {
            if (failures++ < 20)
                fprintf(stderr, "FAIL %s (%s): [%zu] simd %.9g scalar %.9g\n", what, ctx, i, (double)got[i],
                        (double)want[i]);
            return;
        }
}

static void test_rows(void)
{
    char ctx[96];
    for (size_t n = 1; n <= MAX_N; n++)
        for (size_t rows = 0; rows <= 4; rows++) {
            size_t stride = n + 3;
            size_t len = rows ? (rows - 1) * stride + n : 0;
            float *in = buf(len, 1), *a = buf(n, 0), *b = buf(n, 0);
            snprintf(ctx, sizeof ctx, "n=%zu rows=%zu", n, rows);
            f32_vmax_rows_simd128(n, rows, in, stride, a);
            f32_vmax_rows_scalar(n, rows, in, stride, b);
            expect("vmax_rows", n, a, b, 0.0f, ctx);
            f32_vsum_rows_simd128(n, rows, in, stride, a);
            f32_vsum_rows_scalar(n, rows, in, stride, b);
            expect("vsum_rows", n, a, b, 0.0f, ctx);
            free(in);
            free(a);
            free(b);
        }
}

static void test_hrow(void)
{
    char ctx[96];
    for (size_t n = 1; n <= MAX_N; n++)
        for (size_t kw = 1; kw <= 4; kw++)
            for (size_t sw = 1; sw <= 3; sw++)
                for (size_t dw = 1; dw <= 2; dw++) {
                    size_t len = (n - 1) * sw + (kw - 1) * dw + 1;
                    float *in = buf(len, kw == 3), *scale = buf(n, 0), *a = buf(n, 0), *b = buf(n, 0);
                    snprintf(ctx, sizeof ctx, "n=%zu kw=%zu sw=%zu dw=%zu", n, kw, sw, dw);
                    f32_maxpool_hrow_simd128(n, in, kw, sw, dw, a);
                    f32_maxpool_hrow_scalar(n, in, kw, sw, dw, b);
                    expect("maxpool_hrow", n, a, b, 0.0f, ctx);
                    f32_avgpool_hrow_simd128(n, in, kw, sw, dw, scale, 0.25f, a);
                    f32_avgpool_hrow_scalar(n, in, kw, sw, dw, scale, 0.25f, b);
                    expect("avgpool_hrow", n, a, b, 0.0f, ctx);
                    free(in);
                    free(scale);
                    free(a);
                    free(b);
                }
}

static void test_global(void)
{
    char ctx[96];
    static const size_t extra[] = {49, 196, 1000};
    for (size_t c = 1; c <= 3; c++)
        for (size_t k = 1; k <= MAX_N + 3; k++) {
            size_t n = k <= MAX_N ? k : extra[k - MAX_N - 1];
            float *in = buf(c * n, 0), *a = buf(c, 0), *b = buf(c, 0);
            snprintf(ctx, sizeof ctx, "c=%zu n=%zu", c, n);
            f32_global_avgpool_simd128(c, n, in, a);
            f32_global_avgpool_scalar(c, n, in, b);
            expect("global_avgpool", c, a, b, 1e-5f, ctx);
            f32_global_maxpool_simd128(c, n, in, a);
            f32_global_maxpool_scalar(c, n, in, b);
            expect("global_maxpool", c, a, b, 0.0f, ctx);
            free(in);
            free(a);
            free(b);
        }
}

typedef void (*row_fn)(size_t n, const float *in, float *out);

/* Out of place against the scalar twin, then in place against the out-of-place result. */
static void check_row(const char *what, row_fn simd, row_fn scalar, size_t n, float tol)
{
    char ctx[64];
    snprintf(ctx, sizeof ctx, "n=%zu", n);
    float *in = buf(n, 0), *a = buf(n, 0), *b = buf(n, 0), *c = buf(n, 0);
    for (size_t i = 0; i < n; i += 5) in[i] *= 20.0f; /* spread the exponents */
    simd(n, in, a);
    scalar(n, in, b);
    expect(what, n, a, b, tol, ctx);
    memcpy(c, in, n * sizeof *c);
    simd(n, c, c);
    snprintf(ctx, sizeof ctx, "n=%zu in place", n);
    expect(what, n, c, a, 0.0f, ctx);
    free(in);
    free(a);
    free(b);
    free(c);
}

typedef void (*cols_fn)(size_t n, size_t m, const float *in, float *out, float *tmp);

static void check_cols(const char *what, cols_fn simd, cols_fn scalar, size_t n, size_t m)
{
    char ctx[64];
    snprintf(ctx, sizeof ctx, "n=%zu m=%zu", n, m);
    float *in = buf(n * m, 0), *a = buf(n * m, 0), *b = buf(n * m, 0), *c = buf(n * m, 0), *tmp = buf(2 * m, 0);
    simd(n, m, in, a, tmp);
    scalar(n, m, in, b, tmp);
    expect(what, n * m, a, b, 1e-6f, ctx);
    memcpy(c, in, n * m * sizeof *c);
    simd(n, m, c, c, tmp);
    snprintf(ctx, sizeof ctx, "n=%zu m=%zu in place", n, m);
    expect(what, n * m, c, a, 0.0f, ctx);
    free(in);
    free(a);
    free(b);
    free(c);
    free(tmp);
}

static void test_softmax(void)
{
    for (size_t n = 1; n <= MAX_N + 3; n++) {
        size_t len = n <= MAX_N ? n : n * 97;
        check_row("softmax_row", f32_softmax_row_simd128, f32_softmax_row_scalar, len, 1e-5f);
        check_row("logsoftmax_row", f32_logsoftmax_row_simd128, f32_logsoftmax_row_scalar, len, 1e-5f);
    }
    for (size_t n = 1; n <= 5; n++)
        for (size_t m = 1; m <= MAX_N; m++) {
            check_cols("softmax_cols", f32_softmax_cols_simd128, f32_softmax_cols_scalar, n, m);
            check_cols("logsoftmax_cols", f32_logsoftmax_cols_simd128, f32_logsoftmax_cols_scalar, n, m);
        }
    /* the scalar-only Hardmax: one 1 at the first maximum */
    float in[6] = {1, 5, 2, 5, -1, 0}, out[6];
    f32_hardmax_row_scalar(6, in, out);
    float want[6] = {0, 1, 0, 0, 0, 0};
    expect("hardmax_row", 6, out, want, 0.0f, "ties");
    f32_hardmax_cols_scalar(3, 2, in, out); /* columns {1,2,-1} and {5,5,0} */
    float want_cols[6] = {0, 1, 1, 0, 0, 0};
    expect("hardmax_cols", 6, out, want_cols, 0.0f, "ties");
}

static void test_exp(void)
{
    /* both forms against libm over the range the kernels use, and the special values */
    float worst = 0.0f;
    for (int i = 0; i <= 100000; i++) {
        float x = -90.0f + 90.0f * (float)i / 100000.0f;
        float e = exp_approx_scalar(x), ref = expf(x);
        float lane[4];
        wasm_v128_store(lane, exp_approx_simd128(wasm_f32x4_splat(x)));
        if (!same(lane[0], e, 0.0f)) {
            if (failures++ < 20) fprintf(stderr, "FAIL exp: x=%.9g simd %.9g scalar %.9g\n", x, lane[0], e);
        }
        if (ref > 1e-37f) {
            float rel = fabsf(e - ref) / ref;
            if (rel > worst) worst = rel;
        }
    }
    if (worst > 4e-7f) {
        failures++;
        fprintf(stderr, "FAIL exp: relative error %g against expf\n", (double)worst);
    }
    float sp[4] = {NAN, -INFINITY, 0.0f, -100.0f}, got[4];
    wasm_v128_store(got, exp_approx_simd128(wasm_v128_load(sp)));
    float want[4] = {NAN, 0.0f, 1.0f, 0.0f};
    expect("exp special simd", 4, got, want, 0.0f, "nan,-inf,0,-100");
    for (int i = 0; i < 4; i++) got[i] = exp_approx_scalar(sp[i]);
    expect("exp special scalar", 4, got, want, 0.0f, "nan,-inf,0,-100");
}

static void test_reduce(void)
{
    static const char *names[] = {"sum", "sumsq", "sumabs", "max", "min", "prod"};
    char ctx[96];
    for (int kind = F32_REDUCE_SUM; kind <= F32_REDUCE_PROD; kind++)
        for (size_t n = 0; n <= MAX_N + 2; n++) {
            size_t len = n <= MAX_N ? n : n * 50;
            int exact = kind == F32_REDUCE_MAX || kind == F32_REDUCE_MIN;
            float *x = buf(len, 0);
            if (kind == F32_REDUCE_PROD)
                for (size_t i = 0; i < len; i++) x[i] = 1.0f + x[i] / 64.0f;
            snprintf(ctx, sizeof ctx, "%s n=%zu", names[kind], len);
            float a = f32_reduce_row_simd128(kind, len, x), b = f32_reduce_row_scalar(kind, len, x);
            expect("reduce_row", 1, &a, &b, exact ? 0.0f : 1e-5f, ctx);
            float *acc_a = buf(len, 0), *acc_b = malloc((len ? len : 1) * sizeof(float));
            memcpy(acc_b, acc_a, len * sizeof(float));
            f32_reduce_acc_simd128(kind, len, x, acc_a);
            f32_reduce_acc_scalar(kind, len, x, acc_b);
            expect("reduce_acc", len, acc_a, acc_b, 0.0f, ctx);
            float *shift = buf(len, 0);
            memcpy(acc_b, acc_a, len * sizeof(float));
            f32_sumexp_acc_simd128(len, x, shift, acc_a);
            f32_sumexp_acc_scalar(len, x, shift, acc_b);
            expect("sumexp_acc", len, acc_a, acc_b, 0.0f, ctx);
            a = f32_sumexp_row_simd128(len, x, 1.5f);
            b = f32_sumexp_row_scalar(len, x, 1.5f);
            expect("sumexp_row", 1, &a, &b, 1e-5f, ctx);
            free(x);
            free(acc_a);
            free(acc_b);
            free(shift);
        }
    /* cumsum is scalar only: check it against the definition, in place too */
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    f32_cumsum_scalar(3, 2, x, y, 0, 0);
    float fwd[6] = {1, 2, 4, 6, 9, 12};
    expect("cumsum", 6, y, fwd, 0.0f, "forward");
    memcpy(y, x, sizeof y);
    f32_cumsum_scalar(3, 2, y, y, 1, 1);
    float rev_excl[6] = {8, 10, 5, 6, 0, 0};
    expect("cumsum", 6, y, rev_excl, 0.0f, "reverse exclusive in place");
}

static void test_norm(void)
{
    char ctx[64];
    for (size_t n = 0; n <= MAX_N + 2; n++) {
        size_t len = n <= MAX_N ? n : n * 50;
        snprintf(ctx, sizeof ctx, "n=%zu", len);
        float *x = buf(len, 0), *scale = buf(len, 0), *bias = buf(len, 0), *a = buf(len, 0), *b = buf(len, 0);
        float ma, va, mb, vb;
        f32_meanvar_simd128(len, x, &ma, &va);
        f32_meanvar_scalar(len, x, &mb, &vb);
        expect("meanvar mean", 1, &ma, &mb, 1e-5f, ctx);
        expect("meanvar var", 1, &va, &vb, 1e-5f, ctx);
        f32_vaffine_simd128(len, x, 0.75f, -2.0f, a);
        f32_vaffine_scalar(len, x, 0.75f, -2.0f, b);
        expect("vaffine", len, a, b, 0.0f, ctx);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float *bp = with_bias ? bias : NULL;
            f32_layernorm_apply_simd128(len, x, 0.5f, 1.25f, scale, bp, a);
            f32_layernorm_apply_scalar(len, x, 0.5f, 1.25f, scale, bp, b);
            expect("layernorm_apply", len, a, b, 0.0f, ctx);
            memcpy(b, x, len * sizeof(float));
            f32_layernorm_apply_simd128(len, b, 0.5f, 1.25f, scale, bp, b);
            expect("layernorm_apply in place", len, b, a, 0.0f, ctx);
        }
        free(x);
        free(scale);
        free(bias);
        free(a);
        free(b);
    }
}

int main(void)
{
    test_rows();
    test_hrow();
    test_global();
    test_exp();
    test_softmax();
    test_reduce();
    test_norm();
    if (failures) {
        fprintf(stderr, "%d mismatches\n", failures);
        return 1;
    }
    printf("f32 pool/reduce/softmax/norm kernels: simd128 matches scalar\n");
    return 0;
}
