/*
 * Elementwise ops: arithmetic, comparisons, logic, Where, the variadic
 * Max/Min/Sum/Mean, and unary math and activations, for every dtype ONNX
 * allows them on (float16 only for Max, Min and Mod; bfloat16 not at all).
 *
 * Every op is one row of a descriptor table (unary_descs, binary_descs,
 * variadic_descs) found by op type; a handful of shared infer/run functions
 * read the row. Float32 goes to the kernels in src/kernels/ (f32_vunary,
 * f32_vbinary), one call per contiguous row of the shared broadcasting
 * iterator. Every other dtype goes through one generic loop per arity that
 * loads each element into a `num` (double for floats, 64-bit integers
 * otherwise), applies the op's element function and stores the result back
 * narrowed to the output dtype. Integer arithmetic is done on uint64 bit
 * patterns so that overflow wraps like two's complement hardware instead of
 * being undefined behaviour, and division or modulo by zero gives 0 rather
 * than a trap. Float16 elements are widened to double on load and rounded
 * back to the nearest float16 (ties to even) on store.
 *
 * In-place: ops whose output has input 0's dtype are flagged OP_INPLACE.
 * The planner aliases on equal byte sizes, which for equal dtypes means
 * equal shapes, so input 0 is never broadcast when aliased, and every loop
 * here reads element i of all inputs before it writes element i. Ops with a
 * bool output (comparisons, IsNaN, IsInf) are not flagged: an int64 input
 * of 2 elements and a broadcast bool output of 16 have the same byte size.
 */
#include <limits.h>

#include "op.h"
#include "../kernels/f32_vbinary.h"
#include "../kernels/f32_vunary.h"

/* ---- dtype classes ---- */

enum {
    T_F32 = 1,
    T_F64 = 2,
    T_SINT = 4, /* int8 .. int64 */
    T_UINT = 8, /* uint8 .. uint64 */
    T_BOOL = 16,
    T_F16 = 32,  /* only the ops that list it; T_FLOAT does not include it */
    T_FLOAT = T_F32 | T_F64,
    T_INT = T_SINT | T_UINT,
    T_NUM = T_FLOAT | T_INT,
    T_SIGNED = T_FLOAT | T_SINT,
    T_ALL = T_NUM | T_BOOL
};

static unsigned type_class(int32_t dtype)
{
    switch (dtype) {
    case EI_DTYPE_FLOAT32: return T_F32;
    case EI_DTYPE_FLOAT64: return T_F64;
    case EI_DTYPE_FLOAT16: return T_F16;
    case EI_DTYPE_INT8: case EI_DTYPE_INT16: case EI_DTYPE_INT32: case EI_DTYPE_INT64: return T_SINT;
    case EI_DTYPE_UINT8: case EI_DTYPE_UINT16: case EI_DTYPE_UINT32: case EI_DTYPE_UINT64: return T_UINT;
    case EI_DTYPE_BOOL: return T_BOOL;
    default: return 0;
    }
}

static ei_status check_class(op_ctx *ctx, int i, unsigned allowed)
{
    if (type_class(ctx->in[i]->dtype) & allowed) return EI_STATUS_OK;
    return op_fail(ctx, EI_STATUS_UNSUPPORTED, "input %d has dtype %s, which this op does not support", i,
                   ei_dtype_name(ctx->in[i]->dtype));
}

static ei_status check_same_dtype(op_ctx *ctx, int i, int j)
{
    if (ctx->in[i]->dtype == ctx->in[j]->dtype) return EI_STATUS_OK;
    return op_fail(ctx, EI_STATUS_INVALID_MODEL, "input %d has dtype %s but input %d has %s", j,
                   ei_dtype_name(ctx->in[j]->dtype), i, ei_dtype_name(ctx->in[i]->dtype));
}

/* ---- one element of any dtype ---- */

/* How an element is held while computed on. Bools hold 0 or 1 in i. */
enum { K_FLOAT, K_SINT, K_UINT, K_BOOL };

typedef union num {
    double f;
    int64_t i;
    uint64_t u;
} num;

static int kind_of(int32_t dtype)
{
    switch (type_class(dtype)) {
    case T_F32: case T_F64: case T_F16: return K_FLOAT;
    case T_UINT: return K_UINT;
    case T_BOOL: return K_BOOL;
    default: return K_SINT;
    }
}

static inline num load(const void *p, int64_t i, int32_t dtype)
{
    num v;
    switch (dtype) {
    case EI_DTYPE_FLOAT32: v.f = ((const float *)p)[i]; break;
    case EI_DTYPE_FLOAT64: v.f = ((const double *)p)[i]; break;
    case EI_DTYPE_FLOAT16: v.f = half_to_double(((const uint16_t *)p)[i]); break;
    case EI_DTYPE_INT8: v.i = ((const int8_t *)p)[i]; break;
    case EI_DTYPE_INT16: v.i = ((const int16_t *)p)[i]; break;
    case EI_DTYPE_INT32: v.i = ((const int32_t *)p)[i]; break;
    case EI_DTYPE_INT64: v.i = ((const int64_t *)p)[i]; break;
    case EI_DTYPE_UINT8: v.u = ((const uint8_t *)p)[i]; break;
    case EI_DTYPE_UINT16: v.u = ((const uint16_t *)p)[i]; break;
    case EI_DTYPE_UINT32: v.u = ((const uint32_t *)p)[i]; break;
    case EI_DTYPE_UINT64: v.u = ((const uint64_t *)p)[i]; break;
    case EI_DTYPE_BOOL: v.i = ((const uint8_t *)p)[i] != 0; break;
    default: v.u = 0; break;
    }
    return v;
}

/* Integers are narrowed by truncation (wrapping), as in two's complement. */
static inline void store(void *p, int64_t i, int32_t dtype, num v)
{
    switch (dtype) {
    case EI_DTYPE_FLOAT32: ((float *)p)[i] = (float)v.f; break;
    case EI_DTYPE_FLOAT64: ((double *)p)[i] = v.f; break;
    case EI_DTYPE_FLOAT16: ((uint16_t *)p)[i] = half_from_double(v.f); break;
    case EI_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v.u; break;
    case EI_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v.u; break;
    case EI_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v.u; break;
    case EI_DTYPE_INT64: ((int64_t *)p)[i] = v.i; break;
    case EI_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v.u; break;
    case EI_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v.u; break;
    case EI_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v.u; break;
    case EI_DTYPE_UINT64: ((uint64_t *)p)[i] = v.u; break;
    case EI_DTYPE_BOOL: ((uint8_t *)p)[i] = v.i != 0; break;
    default: break;
    }
}

static inline double to_double(num v, int kind)
{
    switch (kind) {
    case K_FLOAT: return v.f;
    case K_UINT: return (double)v.u;
    default: return (double)v.i;
    }
}

/* Float to integer saturates (NaN gives 0): a plain C cast of an
 * out-of-range value is undefined, and traps in WebAssembly. */
static inline num from_double(double f, int kind)
{
    num v;
    if (kind == K_FLOAT) {
        v.f = f;
    } else if (kind == K_BOOL) {
        v.i = f != 0.0;
    } else if (isnan(f)) {
        v.u = 0;
    } else if (kind == K_UINT) {
        v.u = f <= 0.0 ? 0 : f >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)f;
    } else {
        v.i = f <= -9223372036854775808.0 ? INT64_MIN : f >= 9223372036854775808.0 ? INT64_MAX : (int64_t)f;
    }
    return v;
}

/* ---- broadcasting helpers ---- */

static ei_status infer_broadcast(op_ctx *ctx, int n, const ei_tensor *const *ins, int32_t out_dtype)
{
    int rank;
    int64_t dims[EI_MAX_DIMS];
    if (!bcast_shape(n, ins, &rank, dims)) {
        char shapes[256];
        size_t k = 0;
        shapes[0] = 0;
        for (int i = 0; i < n && k < sizeof shapes; i++)
            k += ei_format(shapes + k, sizeof shapes - k, "%s%s", i ? " and " : "", shape_str(ins[i]));
        return op_fail(ctx, EI_STATUS_INVALID_SHAPE, "input shapes %s do not broadcast together", shapes);
    }
    return set_output(ctx, 0, out_dtype, rank, dims);
}

/* ======================================================================
 * Unary ops
 * ====================================================================== */

/* Parameters of the generic path: the attributes as doubles. */
typedef struct uparams {
    double alpha, beta, gamma;
} uparams;

typedef double (*f64_unary_fn)(double x, const uparams *p);
typedef num (*int_unary_fn)(num x, int kind);

static double u_abs(double x, const uparams *p) { (void)p; return fabs(x); }
static double u_neg(double x, const uparams *p) { (void)p; return -x; }
static double u_exp(double x, const uparams *p) { (void)p; return exp(x); }
static double u_log(double x, const uparams *p) { (void)p; return log(x); }
static double u_sqrt(double x, const uparams *p) { (void)p; return sqrt(x); }
static double u_reciprocal(double x, const uparams *p) { (void)p; return 1.0 / x; }
static double u_floor(double x, const uparams *p) { (void)p; return floor(x); }
static double u_ceil(double x, const uparams *p) { (void)p; return ceil(x); }
static double u_round(double x, const uparams *p) { (void)p; return nearbyint(x); } /* halves to even */
static double u_sign(double x, const uparams *p) { (void)p; return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }
static double u_sin(double x, const uparams *p) { (void)p; return sin(x); }
static double u_cos(double x, const uparams *p) { (void)p; return cos(x); }
static double u_tan(double x, const uparams *p) { (void)p; return tan(x); }
static double u_asin(double x, const uparams *p) { (void)p; return asin(x); }
static double u_acos(double x, const uparams *p) { (void)p; return acos(x); }
static double u_atan(double x, const uparams *p) { (void)p; return atan(x); }
static double u_sinh(double x, const uparams *p) { (void)p; return sinh(x); }
static double u_cosh(double x, const uparams *p) { (void)p; return cosh(x); }
static double u_asinh(double x, const uparams *p) { (void)p; return asinh(x); }
static double u_acosh(double x, const uparams *p) { (void)p; return acosh(x); }
static double u_atanh(double x, const uparams *p) { (void)p; return atanh(x); }
static double u_erf(double x, const uparams *p) { (void)p; return erf(x); }
static double u_tanh(double x, const uparams *p) { (void)p; return tanh(x); }
static double u_relu(double x, const uparams *p) { (void)p; return x < 0 ? 0.0 : x; }
static double u_leakyrelu(double x, const uparams *p) { return x < 0 ? p->alpha * x : x; }
static double u_elu(double x, const uparams *p) { return x < 0 ? p->alpha * expm1(x) : x; }
static double u_selu(double x, const uparams *p) { return x <= 0 ? p->gamma * (p->alpha * expm1(x)) : p->gamma * x; }
static double u_celu(double x, const uparams *p) { return x > 0 ? x : p->alpha * expm1(x / p->alpha); }
static double u_thresholdedrelu(double x, const uparams *p) { return x > p->alpha ? x : 0.0; }

static double u_sigmoid(double x, const uparams *p)
{
    (void)p;
    double e = exp(-fabs(x));
    return x < 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
}

static double u_hardsigmoid(double x, const uparams *p)
{
    double v = p->alpha * x + p->beta;
    return v < 0 ? 0.0 : v > 1 ? 1.0 : v;
}

static double u_hardswish(double x, const uparams *p)
{
    (void)p;
    double v = x / 6.0 + 0.5;
    return x * (v < 0 ? 0.0 : v > 1 ? 1.0 : v);
}

static double u_softplus(double x, const uparams *p)
{
    (void)p;
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double u_softsign(double x, const uparams *p) { (void)p; return x / (1.0 + fabs(x)); }
static double u_mish(double x, const uparams *p) { return x * tanh(u_softplus(x, p)); }

/* alpha = bias, beta = lambd */
static double u_shrink(double x, const uparams *p)
{
    return x < -p->beta ? x + p->alpha : x > p->beta ? x - p->alpha : 0.0;
}

static double u_isnan(double x, const uparams *p) { (void)p; return isnan(x) ? 1.0 : 0.0; }

/* alpha = detect_negative, beta = detect_positive */
static double u_isinf(double x, const uparams *p)
{
    return isinf(x) && (x < 0 ? p->alpha != 0 : p->beta != 0) ? 1.0 : 0.0;
}

/* Integer versions where converting through double would lose int64 precision. */
static num i_abs(num x, int kind)
{
    if (kind == K_SINT && x.i < 0) x.u = 0 - x.u;
    return x;
}

static num i_neg(num x, int kind)
{
    (void)kind;
    x.u = 0 - x.u;
    return x;
}

static num i_sign(num x, int kind)
{
    x.i = kind == K_SINT ? (x.i > 0) - (x.i < 0) : x.u != 0;
    return x;
}

static num i_relu(num x, int kind)
{
    if (kind == K_SINT && x.i < 0) x.i = 0;
    return x;
}

static num i_not(num x, int kind)
{
    (void)kind;
    x.i = !x.i;
    return x;
}

enum { NO_F32_KERNEL = -1 };

typedef struct unary_desc {
    const char *op;
    int f32;            /* f32_vunary_op, or NO_F32_KERNEL */
    f64_unary_fn f64;   /* floats, and integers when `ints` is NULL */
    int_unary_fn ints;  /* integers and bool */
    unsigned types;     /* allowed input dtype classes */
    bool bool_out;
    const char *attr[3]; /* attributes read into alpha, beta, gamma */
    float def[3];        /* and their defaults */
} unary_desc;

static const unary_desc unary_descs[] = {
    {"Abs", F32_VABS, u_abs, i_abs, T_NUM, false, {0}, {0}},
    {"Neg", F32_VNEG, u_neg, i_neg, T_SIGNED, false, {0}, {0}},
    {"Exp", F32_VEXP, u_exp, NULL, T_FLOAT, false, {0}, {0}},
    {"Log", F32_VLOG, u_log, NULL, T_FLOAT, false, {0}, {0}},
    {"Sqrt", F32_VSQRT, u_sqrt, NULL, T_FLOAT, false, {0}, {0}},
    {"Reciprocal", F32_VRECIPROCAL, u_reciprocal, NULL, T_FLOAT, false, {0}, {0}},
    {"Floor", F32_VFLOOR, u_floor, NULL, T_FLOAT, false, {0}, {0}},
    {"Ceil", F32_VCEIL, u_ceil, NULL, T_FLOAT, false, {0}, {0}},
    {"Round", F32_VROUND, u_round, NULL, T_FLOAT, false, {0}, {0}},
    {"Sign", F32_VSIGN, u_sign, i_sign, T_NUM, false, {0}, {0}},
    {"Sin", F32_VSIN, u_sin, NULL, T_FLOAT, false, {0}, {0}},
    {"Cos", F32_VCOS, u_cos, NULL, T_FLOAT, false, {0}, {0}},
    {"Tan", F32_VTAN, u_tan, NULL, T_FLOAT, false, {0}, {0}},
    {"Asin", F32_VASIN, u_asin, NULL, T_FLOAT, false, {0}, {0}},
    {"Acos", F32_VACOS, u_acos, NULL, T_FLOAT, false, {0}, {0}},
    {"Atan", F32_VATAN, u_atan, NULL, T_FLOAT, false, {0}, {0}},
    {"Sinh", F32_VSINH, u_sinh, NULL, T_FLOAT, false, {0}, {0}},
    {"Cosh", F32_VCOSH, u_cosh, NULL, T_FLOAT, false, {0}, {0}},
    {"Asinh", F32_VASINH, u_asinh, NULL, T_FLOAT, false, {0}, {0}},
    {"Acosh", F32_VACOSH, u_acosh, NULL, T_FLOAT, false, {0}, {0}},
    {"Atanh", F32_VATANH, u_atanh, NULL, T_FLOAT, false, {0}, {0}},
    {"Erf", F32_VERF, u_erf, NULL, T_NUM, false, {0}, {0}},
    {"Tanh", F32_VTANH, u_tanh, NULL, T_FLOAT, false, {0}, {0}},
    {"Relu", F32_VRELU, u_relu, i_relu, T_SIGNED, false, {0}, {0}},
    {"LeakyRelu", F32_VLEAKYRELU, u_leakyrelu, NULL, T_FLOAT, false, {"alpha"}, {0.01f}},
    {"Elu", F32_VELU, u_elu, NULL, T_FLOAT, false, {"alpha"}, {1.0f}},
    {"Selu", F32_VSELU, u_selu, NULL, T_FLOAT, false, {"alpha", NULL, "gamma"},
     {1.67326319217681884765625f, 0.0f, 1.05070102214813232421875f}},
    {"Celu", F32_VCELU, u_celu, NULL, T_FLOAT, false, {"alpha"}, {1.0f}},
    {"ThresholdedRelu", F32_VTHRESHOLDEDRELU, u_thresholdedrelu, NULL, T_FLOAT, false, {"alpha"}, {1.0f}},
    {"Sigmoid", F32_VSIGMOID, u_sigmoid, NULL, T_FLOAT, false, {0}, {0}},
    {"HardSigmoid", F32_VHARDSIGMOID, u_hardsigmoid, NULL, T_FLOAT, false, {"alpha", "beta"}, {0.2f, 0.5f}},
    {"HardSwish", F32_VHARDSWISH, u_hardswish, NULL, T_FLOAT, false, {0}, {0}},
    {"Softplus", F32_VSOFTPLUS, u_softplus, NULL, T_FLOAT, false, {0}, {0}},
    {"Softsign", F32_VSOFTSIGN, u_softsign, NULL, T_FLOAT, false, {0}, {0}},
    {"Mish", F32_VMISH, u_mish, NULL, T_FLOAT, false, {0}, {0}},
    {"Shrink", F32_VSHRINK, u_shrink, NULL, T_NUM, false, {"bias", "lambd"}, {0.0f, 0.5f}},
    {"IsNaN", NO_F32_KERNEL, u_isnan, NULL, T_FLOAT, true, {0}, {0}},
    {"IsInf", NO_F32_KERNEL, u_isinf, NULL, T_FLOAT, true, {"detect_negative", "detect_positive"}, {1.0f, 1.0f}},
    {"Not", NO_F32_KERNEL, NULL, i_not, T_BOOL, false, {0}, {0}},
};

static const unary_desc *find_unary(const char *op)
{
    for (size_t i = 0; i < sizeof unary_descs / sizeof unary_descs[0]; i++)
        if (!strcmp(unary_descs[i].op, op)) return &unary_descs[i];
    return NULL;
}

static ei_status infer_unary(op_ctx *ctx)
{
    const unary_desc *d = find_unary(ctx->n->op_type);
    CHECK_SUPPORTED(ctx, d, "no unary op of this name");
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_class(ctx, 0, d->types));
    const ei_tensor *x = ctx->in[0];
    return set_output(ctx, 0, d->bool_out ? EI_DTYPE_BOOL : x->dtype, x->rank, x->dims);
}

/* The op's row of the table and its attributes, found once per plan. */
typedef struct unary_state {
    const unary_desc *d;
    float a[3];
    f32_vunary_fn f32; /* NULL: the generic loop */
} unary_state;

static ei_status prepare_unary(op_ctx *ctx)
{
    unary_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    const unary_desc *d = st->d = find_unary(ctx->n->op_type);
    CHECK_SUPPORTED(ctx, d, "no unary op of this name");
    for (int k = 0; k < 3; k++) st->a[k] = d->attr[k] ? attr_float(ctx->n, d->attr[k], d->def[k]) : d->def[k];
    if (ctx->in[0]->dtype == EI_DTYPE_FLOAT32 && d->f32 != NO_F32_KERNEL) st->f32 = f32_vunary_select((f32_vunary_op)d->f32);
    ctx->state = st;
    return EI_STATUS_OK;
}

#define SPLIT_GRAIN 16384 /* elements: shorter tensors and rows run on one thread */

typedef struct f32_unary_job {
    f32_vunary_fn fn;
    f32_vunary_params p;
    const float *x;
    float *y;
} f32_unary_job;

static void f32_unary_part(void *arg, size_t b, size_t e)
{
    const f32_unary_job *j = arg;
    j->fn(j->x + b, j->y + b, e - b, &j->p);
}

static ei_status run_unary(op_ctx *ctx)
{
    const unary_state *st = ctx->state;
    const unary_desc *d = st->d;
    if (!has_out(ctx, 0)) return EI_STATUS_OK;
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t n = numel(x);
    if (n == 0) return EI_STATUS_OK;
    const float *a = st->a;

    if (st->f32) {
        f32_unary_job j = {st->f32, {.alpha = a[0], .beta = a[1], .gamma = a[2]}, x->data, y->data};
        op_parallel_range(ctx, (size_t)n, SPLIT_GRAIN, f32_unary_part, &j);
        return EI_STATUS_OK;
    }
    uparams p = {a[0], a[1], a[2]};
    int kx = kind_of(x->dtype), ky = kind_of(y->dtype);
    for (int64_t i = 0; i < n; i++) {
        num v = load(x->data, i, x->dtype);
        if (d->ints && kx != K_FLOAT) v = d->ints(v, kx);
        else v = from_double(d->f64(to_double(v, kx), &p), ky);
        store(y->data, i, y->dtype, v);
    }
    return EI_STATUS_OK;
}

/* ---- Clip: bounds from attributes before opset 11, from optional scalar inputs since ---- */

static ei_status infer_clip(op_ctx *ctx)
{
    if (ctx->opset < 11) {
        TRY(check_arity(ctx, 1, 1, 1));
        TRY(check_class(ctx, 0, T_FLOAT));
    } else {
        TRY(check_arity(ctx, 1, 3, 1));
        TRY(check_class(ctx, 0, T_NUM));
        for (int i = 1; i < 3; i++) {
            if (!has_in(ctx, i)) continue;
            TRY(check_same_dtype(ctx, 0, i));
            CHECK_SHAPE(ctx, numel(ctx->in[i]) == 1, "input %d (%s) has shape %s, expected a scalar", i,
                        i == 1 ? "min" : "max", shape_str(ctx->in[i]));
        }
    }
    const ei_tensor *x = ctx->in[0];
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

/* A bound as a num of x's kind: from input i, the attribute, or the dtype's extreme. */
static num clip_bound(const op_ctx *ctx, int i, bool upper)
{
    const ei_tensor *x = ctx->in[0];
    int kind = kind_of(x->dtype);
    if (ctx->opset < 11) {
        num v;
        v.f = attr_float(ctx->n, upper ? "max" : "min", upper ? INFINITY : -INFINITY);
        return v;
    }
    if (has_in(ctx, i)) return load(ctx->in[i]->data, 0, x->dtype);
    num v;
    if (kind == K_FLOAT) v.f = upper ? INFINITY : -INFINITY;
    else if (kind == K_UINT) v.u = upper ? UINT64_MAX : 0;
    else v.i = upper ? INT64_MAX : INT64_MIN;
    return v;
}

static ei_status run_clip(op_ctx *ctx)
{
    if (!has_out(ctx, 0)) return EI_STATUS_OK;
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t n = numel(x);
    num lo = clip_bound(ctx, 1, false), hi = clip_bound(ctx, 2, true);
    if (n == 0) return EI_STATUS_OK;
    if (x->dtype == EI_DTYPE_FLOAT32) {
        f32_vunary_params p = {.lo = (float)lo.f, .hi = (float)hi.f};
        f32_vunary_select(F32_VCLIP)(x->data, y->data, (size_t)n, &p);
        return EI_STATUS_OK;
    }
    int kind = kind_of(x->dtype);
    for (int64_t i = 0; i < n; i++) {
        num v = load(x->data, i, x->dtype);
        /* Written so that NaN passes through, and lo > hi gives hi, as numpy's clip. */
        if (kind == K_FLOAT) {
            if (v.f < lo.f) v = lo;
            if (v.f > hi.f) v = hi;
        } else if (kind == K_UINT) {
            if (v.u < lo.u) v = lo;
            if (v.u > hi.u) v = hi;
        } else {
            if (v.i < lo.i) v = lo;
            if (v.i > hi.i) v = hi;
        }
        store(y->data, i, y->dtype, v);
    }
    return EI_STATUS_OK;
}

/* ======================================================================
 * Binary ops
 * ====================================================================== */

/* What an element function needs to know besides the two values. */
typedef struct bargs {
    int ka, kb;   /* kinds of the inputs; the output has ka's unless it is bool */
    bool fmod;    /* Mod: C's fmod sign rule instead of Python's */
    bool left;    /* BitShift direction */
} bargs;

typedef num (*binary_fn)(num a, num b, const bargs *e);

static num b_add(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) a.f += b.f;
    else a.u += b.u;
    return a;
}

static num b_sub(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) a.f -= b.f;
    else a.u -= b.u;
    return a;
}

static num b_mul(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) a.f *= b.f;
    else a.u *= b.u;
    return a;
}

/* Integer division truncates toward zero; by zero it gives 0. */
static num b_div(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) a.f /= b.f;
    else if (e->ka == K_UINT) a.u = b.u ? a.u / b.u : 0;
    else if (b.i == 0) a.i = 0;
    else if (b.i == -1) a.u = 0 - a.u; /* INT64_MIN / -1 wraps instead of trapping */
    else a.i /= b.i;
    return a;
}

/* Python's rule (the result has the divisor's sign) unless fmod is set. */
static num b_mod(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) {
        double r = fmod(a.f, b.f);
        if (!e->fmod && r != 0 && (r < 0) != (b.f < 0)) r += b.f;
        a.f = r;
    } else if (e->ka == K_UINT) {
        a.u = b.u ? a.u % b.u : 0;
    } else if (b.i == 0 || b.i == -1) {
        a.i = 0;
    } else {
        int64_t r = a.i % b.i;
        if (!e->fmod && r != 0 && (r < 0) != (b.i < 0)) r += b.i;
        a.i = r;
    }
    return a;
}

/* NaN wins, as numpy's maximum and wasm's f32x4.max. */
static num b_max(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) return isnan(a.f) || a.f >= b.f ? a : b;
    if (e->ka == K_UINT) return a.u >= b.u ? a : b;
    return a.i >= b.i ? a : b;
}

static num b_min(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) return isnan(a.f) || a.f <= b.f ? a : b;
    if (e->ka == K_UINT) return a.u <= b.u ? a : b;
    return a.i <= b.i ? a : b;
}

static num b_prelu(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) {
        if (a.f < 0) a.f *= b.f;
    } else if (e->ka == K_SINT && a.i < 0) {
        a.u *= b.u;
    }
    return a;
}

/* base^exp on 64-bit patterns, wrapping like repeated multiplication. */
static uint64_t int_pow(uint64_t base, uint64_t exp)
{
    uint64_t r = 1;
    while (exp) {
        if (exp & 1) r *= base;
        base *= base;
        exp >>= 1;
    }
    return r;
}

/* The output has the base's dtype; the exponent may be of any numeric dtype. */
static num b_pow(num a, num b, const bargs *e)
{
    if (e->ka == K_FLOAT) {
        a.f = pow(a.f, to_double(b, e->kb));
        return a;
    }
    if (e->kb == K_FLOAT) return from_double(pow(to_double(a, e->ka), b.f), e->ka);
    if (e->kb == K_SINT && b.i < 0) {
        /* 1 / base^n truncated: only 1 and -1 survive. */
        bool one = e->ka == K_UINT ? a.u == 1 : a.i == 1;
        bool minus_one = e->ka == K_SINT && a.i == -1;
        a.i = one ? 1 : minus_one ? ((b.u & 1) ? -1 : 1) : 0;
        return a;
    }
    a.u = int_pow(a.u, b.u);
    return a;
}

static num truth(bool t)
{
    num v;
    v.i = t;
    return v;
}

static num b_equal(num a, num b, const bargs *e)
{
    return truth(e->ka == K_FLOAT ? a.f == b.f : a.u == b.u);
}

static num b_less(num a, num b, const bargs *e)
{
    return truth(e->ka == K_FLOAT ? a.f < b.f : e->ka == K_UINT ? a.u < b.u : a.i < b.i);
}

static num b_less_equal(num a, num b, const bargs *e)
{
    return truth(e->ka == K_FLOAT ? a.f <= b.f : e->ka == K_UINT ? a.u <= b.u : a.i <= b.i);
}

static num b_greater(num a, num b, const bargs *e) { return b_less(b, a, e); }
static num b_greater_equal(num a, num b, const bargs *e) { return b_less_equal(b, a, e); }
static num b_and(num a, num b, const bargs *e) { (void)e; return truth(a.i && b.i); }
static num b_or(num a, num b, const bargs *e) { (void)e; return truth(a.i || b.i); }
static num b_xor(num a, num b, const bargs *e) { (void)e; return truth(!a.i != !b.i); }

/* Shifting by the width or more gives 0 (undefined in C). Values are held
 * in 64 bits, so a left shift of a narrower type is cut back by the store. */
static num b_bitshift(num a, num b, const bargs *e)
{
    if (b.u >= 64) a.u = 0;
    else if (e->left) a.u <<= b.u;
    else a.u >>= b.u;
    return a;
}

enum { OUT_SAME, OUT_BOOL };

typedef struct binary_desc {
    const char *op;
    int f32;          /* f32_vbinary_op, or NO_F32_KERNEL */
    binary_fn fn;
    unsigned types;   /* allowed dtype classes of input 0 */
    unsigned types_b; /* of input 1 when it may differ from input 0 (Pow), else 0: same dtype */
    int out;
} binary_desc;

static const binary_desc binary_descs[] = {
    {"Add", F32_VADD, b_add, T_NUM, 0, OUT_SAME},
    {"Sub", F32_VSUB, b_sub, T_NUM, 0, OUT_SAME},
    {"Mul", F32_VMUL, b_mul, T_NUM, 0, OUT_SAME},
    {"Div", F32_VDIV, b_div, T_NUM, 0, OUT_SAME},
    {"Pow", F32_VPOW, b_pow, T_FLOAT | T_SINT, T_NUM, OUT_SAME},
    {"Mod", NO_F32_KERNEL, b_mod, T_NUM | T_F16, 0, OUT_SAME},
    {"PRelu", F32_VPRELU, b_prelu, T_NUM, 0, OUT_SAME},
    {"BitShift", NO_F32_KERNEL, b_bitshift, T_UINT, 0, OUT_SAME},
    {"Equal", NO_F32_KERNEL, b_equal, T_ALL, 0, OUT_BOOL},
    {"Less", NO_F32_KERNEL, b_less, T_NUM, 0, OUT_BOOL},
    {"LessOrEqual", NO_F32_KERNEL, b_less_equal, T_NUM, 0, OUT_BOOL},
    {"Greater", NO_F32_KERNEL, b_greater, T_NUM, 0, OUT_BOOL},
    {"GreaterOrEqual", NO_F32_KERNEL, b_greater_equal, T_NUM, 0, OUT_BOOL},
    {"And", NO_F32_KERNEL, b_and, T_BOOL, 0, OUT_BOOL},
    {"Or", NO_F32_KERNEL, b_or, T_BOOL, 0, OUT_BOOL},
    {"Xor", NO_F32_KERNEL, b_xor, T_BOOL, 0, OUT_BOOL},
};

static const binary_desc *find_binary(const char *op)
{
    for (size_t i = 0; i < sizeof binary_descs / sizeof binary_descs[0]; i++)
        if (!strcmp(binary_descs[i].op, op)) return &binary_descs[i];
    return NULL;
}

/* Attributes checked at infer; run reads them again without checks. */
static ei_status binary_attrs(op_ctx *ctx, const binary_desc *d, bargs *e)
{
    const ei_tensor *a = ctx->in[0], *b = ctx->in[1];
    e->ka = kind_of(a->dtype);
    e->kb = kind_of(b->dtype);
    e->fmod = false;
    e->left = false;
    if (d->fn == b_mod) {
        int64_t f = attr_int(ctx->n, "fmod", 0);
        CHECK(ctx, f == 0 || f == 1, "attribute fmod is %lld, expected 0 or 1", (long long)f);
        CHECK(ctx, f == 1 || e->ka != K_FLOAT, "attribute fmod must be 1 for %s inputs", ei_dtype_name(a->dtype));
        e->fmod = f == 1;
    }
    if (d->fn == b_bitshift) {
        const char *dir = attr_str(ctx->n, "direction", NULL);
        CHECK(ctx, dir && (!strcmp(dir, "LEFT") || !strcmp(dir, "RIGHT")),
              "attribute direction is %s%s%s, expected \"LEFT\" or \"RIGHT\"", dir ? "\"" : "",
              dir ? dir : "missing", dir ? "\"" : "");
        e->left = !strcmp(dir, "LEFT");
    }
    return EI_STATUS_OK;
}

/*
 * Add, Sub, Mul, Div and Pow before opset 7 broadcast only when their attribute broadcast = 1,
 * and then B to A: B's dims are a contiguous run of A's, starting at attribute `axis` (by
 * default at the end, which numpy's rule already does). PRelu-6's [C] slope applies per channel.
 * *b gets B's tensor with its dims padded with 1s to that position.
 */
static ei_status legacy_operand(op_ctx *ctx, ei_tensor *b)
{
    *b = *ctx->in[1];
    if (ctx->opset >= 7) return EI_STATUS_OK;
    const ei_tensor *a = ctx->in[0];
    if (!strcmp(ctx->n->op_type, "PRelu")) { /* a [C] slope is per channel of an [N, C, ...] X */
        if (b->rank == 1 && a->rank > 2 && b->dims[0] == a->dims[1] && b->dims[0] != a->dims[a->rank - 1]) {
            for (int d = 0; d < a->rank; d++) b->dims[d] = d == 1 ? a->dims[1] : 1;
            b->rank = a->rank;
        }
        return EI_STATUS_OK;
    }
    if (!attr_int(ctx->n, "broadcast", 0)) {
        bool same = a->rank == b->rank;
        for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
        CHECK_SHAPE(ctx, same, "inputs %s and %s differ, and attribute broadcast is not 1 (opset %d)", shape_str(a),
                    shape_str(b), ctx->opset);
        return EI_STATUS_OK;
    }
    const attr *ax = attr_find(ctx->n, "axis");
    if (!ax) return EI_STATUS_OK;
    int64_t axis = attr_int(ctx->n, "axis", 0);
    if (axis < 0) axis += a->rank;
    CHECK_SHAPE(ctx, b->rank <= a->rank && axis >= 0 && axis <= a->rank - b->rank,
                "B of shape %s cannot start at axis %lld of A %s", shape_str(b), (long long)attr_int(ctx->n, "axis", 0),
                shape_str(a));
    for (int d = 0; d < a->rank; d++)
        b->dims[d] = d < axis || d >= axis + b->rank ? 1 : ctx->in[1]->dims[d - axis];
    b->rank = a->rank;
    return EI_STATUS_OK;
}

static ei_status infer_binary(op_ctx *ctx)
{
    const binary_desc *d = find_binary(ctx->n->op_type);
    CHECK_SUPPORTED(ctx, d, "no binary op of this name");
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_class(ctx, 0, d->types));
    if (d->types_b) TRY(check_class(ctx, 1, d->types_b));
    else TRY(check_same_dtype(ctx, 0, 1));
    bargs e;
    TRY(binary_attrs(ctx, d, &e));

    ei_tensor b;
    TRY(legacy_operand(ctx, &b));
    const ei_tensor *ins[2] = {ctx->in[0], &b};
    if (d->fn == b_prelu) {
        /* The slope broadcasts to X, never the other way. */
        int rank;
        int64_t dims[EI_MAX_DIMS];
        bool ok = bcast_shape(2, ins, &rank, dims) && rank == ins[0]->rank;
        for (int i = 0; ok && i < rank; i++) ok = dims[i] == ins[0]->dims[i];
        CHECK_SHAPE(ctx, ok, "slope of shape %s does not broadcast to X of shape %s", shape_str(ins[1]),
                    shape_str(ins[0]));
    }
    return infer_broadcast(ctx, 2, ins, d->out == OUT_BOOL ? EI_DTYPE_BOOL : ins[0]->dtype);
}

/* The op's row of the table, its kernels and attributes, found once per plan. */
typedef struct binary_state {
    const binary_desc *d;
    bool f32;                 /* both inputs float32 and a kernel exists */
    f32_vbinary_kernels k;
    bargs e;
    const op_ctx *ctx;        /* for the activation fused into this node; set by run */
} binary_state;

static ei_status prepare_binary(op_ctx *ctx)
{
    binary_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    const binary_desc *d = st->d = find_binary(ctx->n->op_type);
    CHECK_SUPPORTED(ctx, d, "no binary op of this name");
    st->f32 = d->f32 != NO_F32_KERNEL && ctx->in[0]->dtype == EI_DTYPE_FLOAT32 &&
              ctx->in[1]->dtype == EI_DTYPE_FLOAT32;
    if (st->f32) st->k = f32_vbinary_select((f32_vbinary_op)d->f32);
    TRY(binary_attrs(ctx, d, &st->e));
    ctx->state = st;
    return EI_STATUS_OK;
}

/* Elements [b, e) of one broadcast row, the share of one thread. */
typedef struct f32_row {
    const binary_state *bs;
    const float *a, *b;
    float *y;
    const int64_t *st;
} f32_row;

static void f32_binary_part(void *arg, size_t b, size_t e);

/* One broadcast row of a float32 op (split across threads when long): pick the kernel for the
 * operand shapes, then apply the activation fused into the node while the row is in cache. */
static void f32_binary_row(void *arg, void *out, const void *const *in, const int64_t *st, int64_t n)
{
    const binary_state *bs = arg;
    f32_row r = {bs, in[0], in[1], out, st};
    op_parallel_range(bs->ctx, (size_t)n, SPLIT_GRAIN, f32_binary_part, &r);
}

static void f32_binary_part(void *arg, size_t i0, size_t i1)
{
    const f32_row *r = arg;
    const binary_state *bs = r->bs;
    const int64_t *st = r->st;
    const f32_vbinary_kernels *k = &bs->k;
    const float *a = r->a + (st[0] ? i0 : 0), *b = r->b + (st[1] ? i0 : 0);
    float *y = r->y + i0;
    size_t n = i1 - i0;
    if (st[0] && st[1]) {
        k->v(a, b, y, n);
    } else if (st[0]) {
        k->c(a, b, y, n);
    } else if (st[1]) {
        k->rc(b, a, y, n);
    } else { /* both inputs are constant along this row */
        k->c(a, b, y, 1);
        for (size_t i = 1; i < n; i++) y[i] = y[0];
    }
    op_apply_act(bs->ctx, y, n);
}

typedef struct binary_row_args {
    binary_fn fn;
    bargs e;
    int32_t ta, tb, ty;
} binary_row_args;

static void generic_binary_row(void *arg, void *out, const void *const *in, const int64_t *st, int64_t n)
{
    const binary_row_args *r = arg;
    for (int64_t i = 0; i < n; i++) {
        num a = load(in[0], i * st[0], r->ta), b = load(in[1], i * st[1], r->tb);
        store(out, i, r->ty, r->fn(a, b, &r->e));
    }
}

static ei_status run_binary(op_ctx *ctx)
{
    const binary_state *st = ctx->state;
    if (!has_out(ctx, 0)) return EI_STATUS_OK;
    const ei_tensor *a = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    if (numel(y) == 0) return EI_STATUS_OK;

    ei_tensor bv;
    TRY(legacy_operand(ctx, &bv));
    const ei_tensor *b = &bv;
    const ei_tensor *ins[2] = {a, b};
    const void *data[2] = {a->data, b->data};
    bcast bc;
    bcast_init(&bc, y, 2, ins);
    if (st->f32) {
        binary_state bs = *st;
        bs.ctx = ctx;
        bcast_run(&bc, y->data, data, f32_binary_row, &bs);
        return EI_STATUS_OK;
    }
    binary_row_args r = {st->d->fn, st->e, a->dtype, b->dtype, y->dtype};
    bcast_run(&bc, y->data, data, generic_binary_row, &r);
    return EI_STATUS_OK;
}

/* ======================================================================
 * Variadic ops: Max, Min, Sum, Mean over one or more broadcast inputs
 * ====================================================================== */

typedef struct variadic_desc {
    const char *op;
    int f32;        /* kernel for the two-input float32 case, or NO_F32_KERNEL */
    binary_fn fn;
    unsigned types;
    bool mean;
} variadic_desc;

static const variadic_desc variadic_descs[] = {
    {"Max", F32_VMAX, b_max, T_NUM | T_F16, false},
    {"Min", F32_VMIN, b_min, T_NUM | T_F16, false},
    {"Sum", F32_VADD, b_add, T_FLOAT, false},
    {"Mean", NO_F32_KERNEL, b_add, T_FLOAT, true},
};

static const variadic_desc *find_variadic(const char *op)
{
    for (size_t i = 0; i < sizeof variadic_descs / sizeof variadic_descs[0]; i++)
        if (!strcmp(variadic_descs[i].op, op)) return &variadic_descs[i];
    return NULL;
}

static ei_status infer_variadic(op_ctx *ctx)
{
    const variadic_desc *d = find_variadic(ctx->n->op_type);
    CHECK_SUPPORTED(ctx, d, "no variadic op of this name");
    TRY(check_arity(ctx, 1, INT_MAX, ctx->n_in));
    TRY(check_class(ctx, 0, d->types));
    for (int i = 1; i < ctx->n_in; i++) TRY(check_same_dtype(ctx, 0, i));
    TRY(infer_broadcast(ctx, ctx->n_in, (const ei_tensor *const *)ctx->in, ctx->in[0]->dtype));
    /* More inputs than one broadcast pass takes: partial results go to scratch,
     * so that only the last pass writes the output (which may alias input 0). */
    ctx->scratch_bytes = 0;
    if (ctx->n_in > BCAST_MAX_IN && has_out(ctx, 0)) ctx->scratch_bytes = (size_t)tensor_nbytes(ctx->out[0]);
    return EI_STATUS_OK;
}

typedef struct variadic_row_args {
    binary_fn fn;
    bargs e;
    int n;
    int32_t dtype;
    double scale; /* Mean's 1 / count on the last pass, else 0 */
} variadic_row_args;

static void variadic_row(void *arg, void *out, const void *const *in, const int64_t *st, int64_t n)
{
    const variadic_row_args *r = arg;
    for (int64_t i = 0; i < n; i++) {
        num acc = load(in[0], i * st[0], r->dtype);
        for (int k = 1; k < r->n; k++) acc = r->fn(acc, load(in[k], i * st[k], r->dtype), &r->e);
        if (r->scale != 0) acc.f *= r->scale;
        store(out, i, r->dtype, acc);
    }
}

static ei_status run_variadic(op_ctx *ctx)
{
    const variadic_desc *d = find_variadic(ctx->n->op_type);
    if (!d || !has_out(ctx, 0)) return EI_STATUS_OK;
    ei_tensor *y = ctx->out[0];
    int n = ctx->n_in;
    if (numel(y) == 0) return EI_STATUS_OK;

    if (n == 2 && d->f32 != NO_F32_KERNEL && y->dtype == EI_DTYPE_FLOAT32) {
        const ei_tensor *ins[2] = {ctx->in[0], ctx->in[1]};
        const void *data[2] = {ins[0]->data, ins[1]->data};
        bcast bc;
        bcast_init(&bc, y, 2, ins);
        binary_state bs = {.f32 = true, .k = f32_vbinary_select((f32_vbinary_op)d->f32), .ctx = ctx};
        bcast_run(&bc, y->data, data, f32_binary_row, &bs);
        return EI_STATUS_OK;
    }

    /* Passes of up to BCAST_MAX_IN operands; after the first, operand 0 is
     * the partial result in scratch. */
    int kind = kind_of(y->dtype);
    variadic_row_args r = {d->fn, {kind, kind, false, false}, 0, y->dtype, 0.0};
    ei_tensor acc = *y;
    acc.data = ctx->scratch;
    int next = 0;
    while (next < n) {
        const ei_tensor *ins[BCAST_MAX_IN];
        const void *data[BCAST_MAX_IN];
        int m = 0;
        if (next > 0) {
            ins[m] = &acc;
            data[m++] = acc.data;
        }
        while (m < BCAST_MAX_IN && next < n) {
            ins[m] = ctx->in[next];
            data[m++] = ctx->in[next++]->data;
        }
        bool last = next == n;
        r.n = m;
        r.scale = last && d->mean ? 1.0 / n : 0.0;
        bcast bc;
        bcast_init(&bc, y, m, ins);
        bcast_run(&bc, last ? y->data : acc.data, data, variadic_row, &r);
    }
    return EI_STATUS_OK;
}

/* ======================================================================
 * Where
 * ====================================================================== */

static ei_status infer_where(op_ctx *ctx)
{
    TRY(check_arity(ctx, 3, 3, 3));
    CHECK(ctx, ctx->in[0]->dtype == EI_DTYPE_BOOL, "input 0 (condition) has dtype %s, expected bool",
          ei_dtype_name(ctx->in[0]->dtype));
    TRY(check_class(ctx, 1, T_ALL));
    TRY(check_same_dtype(ctx, 1, 2));
    return infer_broadcast(ctx, 3, (const ei_tensor *const *)ctx->in, ctx->in[1]->dtype);
}

/* Rows by element size: Where only moves elements, so int32 and float32 share a loop. */
#define DEFINE_WHERE_ROW(name, T)                                                                    \
    static void name(void *arg, void *out, const void *const *in, const int64_t *st, int64_t n)      \
    {                                                                                                \
        (void)arg;                                                                                   \
        const uint8_t *c = in[0];                                                                    \
        const T *x = in[1], *y = in[2];                                                              \
        T *o = out;                                                                                  \
        for (int64_t i = 0; i < n; i++) o[i] = c[i * st[0]] ? x[i * st[1]] : y[i * st[2]];           \
    }

DEFINE_WHERE_ROW(where_row8, uint8_t)
DEFINE_WHERE_ROW(where_row16, uint16_t)
DEFINE_WHERE_ROW(where_row32, uint32_t)
DEFINE_WHERE_ROW(where_row64, uint64_t)

static ei_status run_where(op_ctx *ctx)
{
    if (!has_out(ctx, 0)) return EI_STATUS_OK;
    ei_tensor *y = ctx->out[0];
    if (numel(y) == 0) return EI_STATUS_OK;
    const ei_tensor *ins[3] = {ctx->in[0], ctx->in[1], ctx->in[2]};
    const void *data[3] = {ins[0]->data, ins[1]->data, ins[2]->data};
    bcast_row_fn row;
    switch (dtype_size(y->dtype)) {
    case 1: row = where_row8; break;
    case 2: row = where_row16; break;
    case 4: row = where_row32; break;
    case 8: row = where_row64; break;
    default: return op_fail(ctx, EI_STATUS_UNSUPPORTED, "dtype %s is not supported", ei_dtype_name(y->dtype));
    }
    bcast bc;
    bcast_init(&bc, y, 3, ins);
    bcast_run(&bc, y->data, data, row, NULL);
    return EI_STATUS_OK;
}

/* ======================================================================
 * Registry rows. `since` is the first opset with the semantics handled
 * here; later versions only added dtypes (and Clip's inputs, read from
 * ctx->opset).
 * ====================================================================== */

#define UNARY(name, since) {name, "", since, infer_unary, prepare_unary, run_unary, OP_INPLACE}
#define BINARY(name, since, flags) {name, "", since, infer_binary, prepare_binary, run_binary, flags}
#define VARIADIC(name, since) {name, "", since, infer_variadic, NULL, run_variadic, OP_INPLACE}

const op_def elementwise_ops[] = {
    /* opsets 1-6: broadcasting by attribute (legacy_operand) */
    BINARY("Add", 1, OP_INPLACE), BINARY("Sub", 1, OP_INPLACE), BINARY("Mul", 1, OP_INPLACE),
    BINARY("Div", 1, OP_INPLACE), BINARY("Pow", 1, OP_INPLACE),
    BINARY("Add", 7, OP_INPLACE),
    BINARY("Sub", 7, OP_INPLACE),
    BINARY("Mul", 7, OP_INPLACE),
    BINARY("Div", 7, OP_INPLACE),
    BINARY("Pow", 7, OP_INPLACE),
    BINARY("Mod", 10, OP_INPLACE),
    BINARY("PRelu", 6, OP_INPLACE), /* legacy_operand: a [C] slope is per channel */
    BINARY("PRelu", 7, OP_INPLACE),
    BINARY("BitShift", 11, OP_INPLACE),
    BINARY("And", 7, OP_INPLACE),
    BINARY("Or", 7, OP_INPLACE),
    BINARY("Xor", 7, OP_INPLACE),
    /* bool outputs of wider inputs: never in place (see the top of the file) */
    BINARY("Equal", 7, 0),
    BINARY("Less", 7, 0),
    BINARY("LessOrEqual", 12, 0),
    BINARY("Greater", 7, 0),
    BINARY("GreaterOrEqual", 12, 0),
    VARIADIC("Max", 6),
    VARIADIC("Min", 6),
    VARIADIC("Sum", 6),
    VARIADIC("Mean", 6),
    {"Where", "", 9, infer_where, NULL, run_where, OP_INPLACE},
    {"Clip", "", 6, infer_clip, NULL, run_clip, OP_INPLACE},
    UNARY("Not", 1),
    UNARY("Abs", 6),
    UNARY("Neg", 6),
    UNARY("Exp", 6),
    UNARY("Log", 6),
    UNARY("Sqrt", 6),
    UNARY("Reciprocal", 6),
    UNARY("Floor", 6),
    UNARY("Ceil", 6),
    UNARY("Round", 11),
    UNARY("Sign", 9),
    UNARY("Sin", 7),
    UNARY("Cos", 7),
    UNARY("Tan", 7),
    UNARY("Asin", 7),
    UNARY("Acos", 7),
    UNARY("Atan", 7),
    UNARY("Sinh", 9),
    UNARY("Cosh", 9),
    UNARY("Asinh", 9),
    UNARY("Acosh", 9),
    UNARY("Atanh", 9),
    UNARY("Erf", 9),
    UNARY("Tanh", 6),
    UNARY("Relu", 6),
    UNARY("LeakyRelu", 6),
    UNARY("Elu", 6),
    UNARY("Selu", 6),
    UNARY("Celu", 12),
    UNARY("ThresholdedRelu", 10),
    UNARY("Sigmoid", 6),
    UNARY("HardSigmoid", 6),
    UNARY("HardSwish", 14),
    UNARY("Softplus", 1),
    UNARY("Softsign", 1),
    UNARY("Mish", 18),
    UNARY("Shrink", 9),
    {"IsNaN", "", 9, infer_unary, prepare_unary, run_unary, 0},
    {"IsInf", "", 10, infer_unary, prepare_unary, run_unary, 0},
};
const int elementwise_ops_count = (int)(sizeof elementwise_ops / sizeof elementwise_ops[0]);
