/*
 * Compares every SIMD128 float32 elementwise kernel with its scalar twin:
 * binary ops in their three operand shapes (vector-vector, vector-constant,
 * constant-vector), unary ops with their parameters, over sizes 1 .. 4*tile+3
 * so that every tail length is seen, out of place and in place. Buffers are
 * malloc'd at their exact size, so a sanitizer build catches any access past
 * a tail, and a guard element after y catches stray writes in any build.
 *
 * Exact ops must give equal values (any NaN equals any NaN, -0 equals +0); exp, sigmoid and
 * tanh use polynomials and must stay within a few ulp of libm, which is also
 * checked over a sweep of the whole float range.
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -Iinclude -Isrc \
 *            tests/kernels/test_f32_elementwise.c src/kernels/f32_v*.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32_vbinary.h"
#include "kernels/f32_vunary.h"

#define TILE 4
#define MAX_N (4 * TILE + 3)
#define GUARD 12345.0f

static int passed, failed;

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static float uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng() >> 8) / 16777216.0f;
}

/* Mostly values in [lo, hi], with some of the inputs that break kernels. */
static float sample(float lo, float hi)
{
    static const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, NAN, INFINITY, -INFINITY, 1e-40f, -1e-40f,
                                     3.4e38f, -3.4e38f, 0.5f, -0.5f, 2.0f};
    if (rng() % 8 == 0) return specials[rng() % (sizeof specials / sizeof specials[0])];
    return uniform(lo, hi);
}

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Distance in units in the last place; NaN matches only NaN. */
static double ulp_distance(float a, float b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0.0 : INFINITY;
    if (a == b) return 0.0;
    if (isinf(a) || isinf(b)) return INFINITY;
    int32_t ia = (int32_t)bits(a), ib = (int32_t)bits(b);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return fabs((double)ia - (double)ib);
}

/* max_ulp 0 asks for identical results, except that +0 and -0 match:
 * SIMDe's native max/min do not order signed zeros as wasm does. Tiny
 * differences below the smallest normal float are accepted for the
 * approximate ops (they flush subnormal intermediate results differently
 * from libm, far below ONNX tolerances). */
static int same(float simd, float scalar, double max_ulp)
{
    if (max_ulp == 0.0) return (isnan(simd) && isnan(scalar)) || simd == scalar;
    if (fabsf(simd - scalar) < 1.2e-38f) return 1;
    return ulp_distance(simd, scalar) <= max_ulp;
}

static void check(int ok, const char *what, const char *name, size_t n, const char *detail)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    printf("FAIL %s %s n=%zu: %s\n", what, name, n, detail);
}

/* ---- binary ---- */

static const char *binary_names[F32_VBINARY_COUNT] = {"add", "sub", "mul", "div", "max", "min", "prelu", "pow"};

/* shape: 0 = v, 1 = c, 2 = rc. inplace: 0 = no, 1 = y is a, 2 = y is b (v only). */
static void test_binary_case(int op, int shape, int inplace, size_t n)
{
    const f32_vbinary_kernels *sk = &f32_vbinary_scalar[op], *vk = &f32_vbinary_simd128[op];
    f32_vbinary_fn simd = shape == 0 ? vk->v : shape == 1 ? vk->c : vk->rc;
    f32_vbinary_fn scalar = shape == 0 ? sk->v : shape == 1 ? sk->c : sk->rc;
    if (!simd) return;
    size_t nb = shape == 0 ? n : 1;
    float *a = malloc(n * sizeof(float)), *b = malloc(nb * sizeof(float));
    float *y = malloc((n + 1) * sizeof(float)), *ref = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = sample(-10.0f, 10.0f);
    for (size_t i = 0; i < nb; i++) b[i] = sample(-10.0f, 10.0f);
    scalar(a, b, ref, n);

    float *out = y;
    if (inplace == 1) out = a;
    if (inplace == 2) out = b;
    y[n] = GUARD;
    simd(a, b, out, n);

    char detail[128] = "";
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        if (!same(out[i], ref[i], 0.0)) {
            ok = 0;
            snprintf(detail, sizeof detail, "at %zu: simd %.9g, scalar %.9g", i, out[i], ref[i]);
        }
    }
    if (ok && bits(y[n]) != bits(GUARD)) {
        ok = 0;
        snprintf(detail, sizeof detail, "wrote past the end");
    }
    char what[64];
    snprintf(what, sizeof what, "binary %s%s", shape == 0 ? "v" : shape == 1 ? "c" : "rc",
             inplace == 1 ? " in-place(a)" : inplace == 2 ? " in-place(b)" : "");
    check(ok, what, binary_names[op], n, detail);
    free(a);
    free(b);
    free(y);
    free(ref);
}

static void test_binary(void)
{
    for (int op = 0; op < F32_VBINARY_COUNT; op++)
        for (int shape = 0; shape < 3; shape++)
            for (int inplace = 0; inplace < (shape == 0 ? 3 : 2); inplace++)
                for (size_t n = 1; n <= MAX_N; n++) test_binary_case(op, shape, inplace, n);
}

/* ---- unary ---- */

typedef struct unary_case {
    f32_vunary_op op;
    const char *name;
    float lo, hi;      /* range of the random inputs */
    double max_ulp;    /* 0: identical */
    f32_vunary_params params;
} unary_case;

static const unary_case unary_cases[] = {
    {F32_VABS, "abs", -10, 10, 0, {.alpha = 0.0f}},
    {F32_VNEG, "neg", -10, 10, 0, {.alpha = 0.0f}},
    {F32_VEXP, "exp", -110, 95, 4, {.alpha = 0.0f}},
    {F32_VSQRT, "sqrt", -1, 100, 0, {.alpha = 0.0f}},
    {F32_VRELU, "relu", -10, 10, 0, {.alpha = 0.0f}},
    {F32_VLEAKYRELU, "leakyrelu", -10, 10, 0, {.alpha = 0.01f}},
    {F32_VLEAKYRELU, "leakyrelu(alpha=-2)", -10, 10, 0, {.alpha = -2.0f}},
    {F32_VSIGMOID, "sigmoid", -100, 100, 4, {.alpha = 0.0f}},
    {F32_VSIGMOID, "sigmoid(small)", -4, 4, 4, {.alpha = 0.0f}},
    {F32_VHARDSWISH, "hardswish", -5, 5, 0, {.alpha = 0.0f}},
    {F32_VTANH, "tanh", -12, 12, 4, {.alpha = 0.0f}},
    {F32_VTANH, "tanh(small)", -1, 1, 4, {.alpha = 0.0f}},
    {F32_VCLIP, "clip", -10, 10, 0, {.lo = -1.0f, .hi = 6.0f}},
    {F32_VCLIP, "clip(lo>hi)", -10, 10, 0, {.lo = 2.0f, .hi = -2.0f}},
    {F32_VCLIP, "clip(inf)", -10, 10, 0, {.lo = -INFINITY, .hi = INFINITY}},
    {F32_VSILU, "silu", -100, 100, 5, {.alpha = 0.0f}},
};

static void test_unary_case(const unary_case *c, int inplace, size_t n)
{
    f32_vunary_fn simd = f32_vunary_simd128[c->op], scalar = f32_vunary_scalar[c->op];
    float *x = malloc(n * sizeof(float)), *y = malloc((n + 1) * sizeof(float));
    float *ref = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = sample(c->lo, c->hi);
    scalar(x, ref, n, &c->params);
    float *out = inplace ? x : y;
    y[n] = GUARD;
    simd(x, out, n, &c->params);

    char detail[128] = "";
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        if (!same(out[i], ref[i], c->max_ulp)) {
            ok = 0;
            snprintf(detail, sizeof detail, "at %zu: simd %.9g, scalar %.9g", i, out[i], ref[i]);
        }
    }
    if (ok && bits(y[n]) != bits(GUARD)) {
        ok = 0;
        snprintf(detail, sizeof detail, "wrote past the end");
    }
    check(ok, inplace ? "unary in-place" : "unary", c->name, n, detail);
    free(x);
    free(y);
    free(ref);
}

/* Every SIMD kernel must be covered by a case above. */
static void test_unary_coverage(void)
{
    for (int op = 0; op < F32_VUNARY_COUNT; op++) {
        if (!f32_vunary_simd128[op]) continue;
        int found = 0;
        for (size_t i = 0; i < sizeof unary_cases / sizeof unary_cases[0]; i++)
            if ((int)unary_cases[i].op == op) found = 1;
        char detail[64];
        snprintf(detail, sizeof detail, "op %d has a SIMD kernel but no test case", op);
        check(found, "unary coverage", "table", 0, detail);
    }
}

/* Walks the float line in steps of 2^11 ulp (about 2 million points), in
 * blocks through the SIMD and scalar kernels, and reports the worst ulp. */
static void test_unary_sweep(f32_vunary_op op, const char *name, double max_ulp)
{
    enum { BLOCK = 1024 };
    float x[BLOCK], a[BLOCK], b[BLOCK];
    f32_vunary_params p = {0};
    double worst = 0.0;
    float worst_x = 0.0f, worst_a = 0.0f, worst_b = 0.0f;
    size_t k = 0;
    for (uint64_t u = 0; u <= 0xffffffffu; u += 1u << 11) {
        uint32_t u32 = (uint32_t)u;
        memcpy(&x[k++], &u32, sizeof u32);
        if (k < BLOCK && u + (1u << 11) <= 0xffffffffu) continue;
        f32_vunary_simd128[op](x, a, k, &p);
        f32_vunary_scalar[op](x, b, k, &p);
        for (size_t i = 0; i < k; i++) {
            if (same(a[i], b[i], 0.5)) continue;
            double d = ulp_distance(a[i], b[i]);
            if (d > worst) {
                worst = d;
                worst_x = x[i];
                worst_a = a[i];
                worst_b = b[i];
            }
        }
        k = 0;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "worst %.0f ulp at x=%.9g: simd %.9g, libm %.9g", worst, worst_x, worst_a,
             worst_b);
    check(worst <= max_ulp, "unary sweep", name, 0, detail);
    printf("sweep %-8s worst %.0f ulp (limit %.0f)\n", name, worst, max_ulp);
}

static void test_unary(void)
{
    for (size_t i = 0; i < sizeof unary_cases / sizeof unary_cases[0]; i++)
        for (int inplace = 0; inplace < 2; inplace++)
            for (size_t n = 1; n <= MAX_N; n++) test_unary_case(&unary_cases[i], inplace, n);
    test_unary_coverage();
    test_unary_sweep(F32_VEXP, "exp", 4);
    test_unary_sweep(F32_VSIGMOID, "sigmoid", 4);
    test_unary_sweep(F32_VTANH, "tanh", 4);
}

/* The select functions must hand out a kernel for every op. */
static void test_select(void)
{
    for (int op = 0; op < F32_VBINARY_COUNT; op++) {
        f32_vbinary_kernels k = f32_vbinary_select((f32_vbinary_op)op);
        check(k.v && k.c && k.rc, "select", binary_names[op], 0, "missing binary kernel");
    }
    for (int op = 0; op < F32_VUNARY_COUNT; op++) {
        char name[32];
        snprintf(name, sizeof name, "unary %d", op);
        check(f32_vunary_select((f32_vunary_op)op) != NULL, "select", name, 0, "missing unary kernel");
    }
}

int main(void)
{
    test_select();
    test_binary();
    test_unary();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
