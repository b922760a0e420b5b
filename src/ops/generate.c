/*
 * Ops that make tensors rather than transform them: Constant,
 * ConstantOfShape, Range, EyeLike, and the dtype conversions Cast and
 * CastLike.
 *
 * Cast follows numpy on x86, which is what onnxruntime does too: floats
 * convert to integers by truncation toward zero, and a NaN or a value the
 * integer cannot hold gives the bit pattern numpy gives there (the x86
 * "integer indefinite", the smallest int32 or int64, wrapped to narrower
 * types), so results do not depend on the machine and there is none of the
 * undefined behaviour of a plain C cast. float16 and bfloat16 round to
 * nearest even.
 * Strings are not supported.
 */
#include "op.h"

#define DTYPE_BFLOAT16 EI_DTYPE_BFLOAT16

/* Element types this file converts between: the numeric ones and bool. */
static bool dtype_convertible(int32_t dt)
{
    if (dt == EI_DTYPE_STRING || dtype_size(dt) == 0) return false;
    return dt == EI_DTYPE_BOOL || dtype_is_int(dt) || dtype_is_float(dt) || dt == DTYPE_BFLOAT16;
}

/* Fills n elements of es bytes each with the value at val. */
static void fill_elems(void *dst, const void *val, size_t es, int64_t n)
{
    switch (es) {
    case 1: memset(dst, *(const uint8_t *)val, (size_t)n); break;
    case 2: {
        uint16_t v, *p = dst;
        memcpy(&v, val, 2);
        for (int64_t i = 0; i < n; i++) p[i] = v;
        break;
    }
    case 4: {
        uint32_t v, *p = dst;
        memcpy(&v, val, 4);
        for (int64_t i = 0; i < n; i++) p[i] = v;
        break;
    }
    default: {
        uint64_t v, *p = dst;
        memcpy(&v, val, 8);
        for (int64_t i = 0; i < n; i++) p[i] = v;
        break;
    }
    }
}

/* ---- bfloat16 (float16 conversions are shared: half_to_double, half_from_double) ---- */

static double bf16_to_f64(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if (isnan(f)) return (uint16_t)((bits >> 16) | 0x40); /* stay a quiet NaN */
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

/* ---- float to integer, as x86 does it ---- */

static int32_t f64_to_i32(double v)
{
    return v > -2147483649.0 && v < 2147483648.0 ? (int32_t)v : INT32_MIN;
}

static int64_t f64_to_i64(double v)
{
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (int64_t)v : INT64_MIN;
}

/* Unsigned targets: values from 2^(N-1) up convert shifted down by 2^(N-1), then get the top bit back. */
static uint32_t f64_to_u32(double v)
{
    if (!(v >= 2147483648.0)) return (uint32_t)f64_to_i32(v);
    return (uint32_t)f64_to_i32(v - 2147483648.0) ^ 0x80000000u;
}

static uint64_t f64_to_u64(double v)
{
    if (!(v >= 9223372036854775808.0)) return (uint64_t)f64_to_i64(v);
    return (uint64_t)f64_to_i64(v - 9223372036854775808.0) ^ ((uint64_t)1 << 63);
}

/* ---- Cast: blocks of elements go through a double or an int64 buffer ---- */

#define CAST_BLOCK 256

static bool dtype_floatish(int32_t dt)
{
    return dtype_is_float(dt) || dt == DTYPE_BFLOAT16;
}

static void load_f64(int32_t dt, const void *src, int64_t n, double *v)
{
    switch (dt) {
    case EI_DTYPE_FLOAT32: for (int64_t i = 0; i < n; i++) v[i] = ((const float *)src)[i]; break;
    case EI_DTYPE_FLOAT64: for (int64_t i = 0; i < n; i++) v[i] = ((const double *)src)[i]; break;
    case EI_DTYPE_FLOAT16: for (int64_t i = 0; i < n; i++) v[i] = half_to_double(((const uint16_t *)src)[i]); break;
    default: for (int64_t i = 0; i < n; i++) v[i] = bf16_to_f64(((const uint16_t *)src)[i]); break;
    }
}

/* Integers and bool, sign- or zero-extended; a uint64 keeps its bits. */
static void load_i64(int32_t dt, const void *src, int64_t n, int64_t *v)
{
    switch (dt) {
    case EI_DTYPE_INT8: for (int64_t i = 0; i < n; i++) v[i] = ((const int8_t *)src)[i]; break;
    case EI_DTYPE_INT16: for (int64_t i = 0; i < n; i++) v[i] = ((const int16_t *)src)[i]; break;
    case EI_DTYPE_INT32: for (int64_t i = 0; i < n; i++) v[i] = ((const int32_t *)src)[i]; break;
    case EI_DTYPE_INT64: for (int64_t i = 0; i < n; i++) v[i] = ((const int64_t *)src)[i]; break;
    case EI_DTYPE_UINT8: for (int64_t i = 0; i < n; i++) v[i] = ((const uint8_t *)src)[i]; break;
    case EI_DTYPE_UINT16: for (int64_t i = 0; i < n; i++) v[i] = ((const uint16_t *)src)[i]; break;
    case EI_DTYPE_UINT32: for (int64_t i = 0; i < n; i++) v[i] = ((const uint32_t *)src)[i]; break;
    case EI_DTYPE_UINT64: for (int64_t i = 0; i < n; i++) v[i] = (int64_t)((const uint64_t *)src)[i]; break;
    default: for (int64_t i = 0; i < n; i++) v[i] = ((const uint8_t *)src)[i] != 0; break; /* bool */
    }
}

static void store_from_f64(int32_t dt, void *dst, int64_t n, const double *v)
{
    switch (dt) {
    case EI_DTYPE_FLOAT32: for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)v[i]; break;
    case EI_DTYPE_FLOAT64: for (int64_t i = 0; i < n; i++) ((double *)dst)[i] = v[i]; break;
    case EI_DTYPE_FLOAT16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = half_from_double(v[i]); break;
    case DTYPE_BFLOAT16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = f32_to_bf16((float)v[i]); break;
    case EI_DTYPE_BOOL: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = v[i] != 0; break;
    /* the narrow types go through int32, as x86 code does */
    case EI_DTYPE_INT8: for (int64_t i = 0; i < n; i++) ((int8_t *)dst)[i] = (int8_t)f64_to_i32(v[i]); break;
    case EI_DTYPE_INT16: for (int64_t i = 0; i < n; i++) ((int16_t *)dst)[i] = (int16_t)f64_to_i32(v[i]); break;
    case EI_DTYPE_INT32: for (int64_t i = 0; i < n; i++) ((int32_t *)dst)[i] = f64_to_i32(v[i]); break;
    case EI_DTYPE_UINT8: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)f64_to_i32(v[i]); break;
    case EI_DTYPE_UINT16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = (uint16_t)f64_to_i32(v[i]); break;
    case EI_DTYPE_UINT32: for (int64_t i = 0; i < n; i++) ((uint32_t *)dst)[i] = f64_to_u32(v[i]); break;
    case EI_DTYPE_INT64: for (int64_t i = 0; i < n; i++) ((int64_t *)dst)[i] = f64_to_i64(v[i]); break;
    case EI_DTYPE_UINT64: for (int64_t i = 0; i < n; i++) ((uint64_t *)dst)[i] = f64_to_u64(v[i]); break;
    default: break;
    }
}

/* Integers wrap to the narrower type; src_u64 says the int64 values hold uint64 bits. */
static void store_from_i64(int32_t dt, bool src_u64, void *dst, int64_t n, const int64_t *v)
{
    switch (dt) {
    case EI_DTYPE_FLOAT32:
        if (src_u64) for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)(uint64_t)v[i];
        else for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)v[i];
        break;
    case EI_DTYPE_FLOAT64:
        if (src_u64) for (int64_t i = 0; i < n; i++) ((double *)dst)[i] = (double)(uint64_t)v[i];
        else for (int64_t i = 0; i < n; i++) ((double *)dst)[i] = (double)v[i];
        break;
    case EI_DTYPE_FLOAT16: case DTYPE_BFLOAT16: {
        double tmp[CAST_BLOCK];
        for (int64_t i = 0; i < n; i++) tmp[i] = src_u64 ? (double)(uint64_t)v[i] : (double)v[i];
        store_from_f64(dt, dst, n, tmp);
        break;
    }
    case EI_DTYPE_BOOL: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = v[i] != 0; break;
    case EI_DTYPE_INT8: for (int64_t i = 0; i < n; i++) ((int8_t *)dst)[i] = (int8_t)v[i]; break;
    case EI_DTYPE_INT16: for (int64_t i = 0; i < n; i++) ((int16_t *)dst)[i] = (int16_t)v[i]; break;
    case EI_DTYPE_INT32: for (int64_t i = 0; i < n; i++) ((int32_t *)dst)[i] = (int32_t)v[i]; break;
    case EI_DTYPE_INT64: for (int64_t i = 0; i < n; i++) ((int64_t *)dst)[i] = v[i]; break;
    case EI_DTYPE_UINT8: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)v[i]; break;
    case EI_DTYPE_UINT16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = (uint16_t)v[i]; break;
    case EI_DTYPE_UINT32: for (int64_t i = 0; i < n; i++) ((uint32_t *)dst)[i] = (uint32_t)v[i]; break;
    case EI_DTYPE_UINT64: for (int64_t i = 0; i < n; i++) ((uint64_t *)dst)[i] = (uint64_t)v[i]; break;
    default: break;
    }
}

static ei_status cast_check(op_ctx *ctx, int32_t to)
{
    int32_t from = ctx->in[0]->dtype;
    CHECK_SUPPORTED(ctx, from != EI_DTYPE_STRING && to != EI_DTYPE_STRING, "casts from %s to %s are not supported",
                    ei_dtype_name(from), ei_dtype_name(to));
    CHECK_SUPPORTED(ctx, dtype_convertible(from), "input has dtype %s (%d), which this build does not support",
                    ei_dtype_name(from), (int)from);
    CHECK_SUPPORTED(ctx, dtype_convertible(to), "cast to dtype %s (%d) is not supported", ei_dtype_name(to),
                    (int)to);
    const ei_tensor *x = ctx->in[0];
    return set_output(ctx, 0, to, x->rank, x->dims);
}

static ei_status cast_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    const attr *a = attr_find(ctx->n, "to");
    CHECK(ctx, a && a->type == ATTR_INT, "attribute 'to' is missing or not an int");
    CHECK(ctx, a->i > 0 && a->i < 64, "attribute 'to' = %lld is not a dtype", (long long)a->i);
    return cast_check(ctx, (int32_t)a->i);
}

static ei_status castlike_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    return cast_check(ctx, ctx->in[1]->dtype);
}

static ei_status cast_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t n = numel(x);
    size_t si = dtype_size(x->dtype), so = dtype_size(y->dtype);
    if (x->dtype == y->dtype) {
        if (y->data != x->data && n > 0) memcpy(y->data, x->data, (size_t)n * si);
        return EI_STATUS_OK;
    }
    const char *src = x->data;
    char *dst = y->data;
    bool from_float = dtype_floatish(x->dtype);
    for (int64_t i = 0; i < n; i += CAST_BLOCK) {
        int64_t m = n - i < CAST_BLOCK ? n - i : CAST_BLOCK;
        if (from_float) {
            double v[CAST_BLOCK];
            load_f64(x->dtype, src + i * (int64_t)si, m, v);
            store_from_f64(y->dtype, dst + i * (int64_t)so, m, v);
        } else {
            int64_t v[CAST_BLOCK];
            load_i64(x->dtype, src + i * (int64_t)si, m, v);
            store_from_i64(y->dtype, x->dtype == EI_DTYPE_UINT64, dst + i * (int64_t)so, m, v);
        }
    }
    return EI_STATUS_OK;
}

/* ---- Constant ---- */

/* The tensor a Constant node holds; its data may point into the attribute. */
static ei_status constant_value(op_ctx *ctx, ei_tensor *t)
{
    CHECK(ctx, ctx->n->n_attr == 1, "has %d attributes, expected exactly one value attribute", ctx->n->n_attr);
    const attr *a = &ctx->n->attrs[0];
    memset(t, 0, sizeof *t);
    if (!strcmp(a->name, "value") && a->type == ATTR_TENSOR) {
        *t = a->tensors[0];
        CHECK_SUPPORTED(ctx, t->dtype != EI_DTYPE_STRING && dtype_size(t->dtype) > 0,
                        "value tensor has dtype %s, which this build does not support", ei_dtype_name(t->dtype));
    } else if (!strcmp(a->name, "value_float") && a->type == ATTR_FLOAT) {
        t->dtype = EI_DTYPE_FLOAT32;
        t->data = (void *)&a->f;
    } else if (!strcmp(a->name, "value_int") && a->type == ATTR_INT) {
        t->dtype = EI_DTYPE_INT64;
        t->data = (void *)&a->i;
    } else if (!strcmp(a->name, "value_floats") && a->type == ATTR_FLOATS) {
        t->dtype = EI_DTYPE_FLOAT32;
        t->rank = 1;
        t->dims[0] = a->n;
        t->data = a->floats;
    } else if (!strcmp(a->name, "value_ints") && a->type == ATTR_INTS) {
        t->dtype = EI_DTYPE_INT64;
        t->rank = 1;
        t->dims[0] = a->n;
        t->data = a->ints;
    } else if (!strcmp(a->name, "value_string") || !strcmp(a->name, "value_strings") ||
               !strcmp(a->name, "sparse_value")) {
        return op_fail(ctx, EI_STATUS_UNSUPPORTED, "attribute '%s' is not supported", a->name);
    } else {
        return op_fail(ctx, EI_STATUS_INVALID_MODEL, "attribute '%s' (type %d) is not a Constant value", a->name,
                       a->type);
    }
    return EI_STATUS_OK;
}

static ei_status constant_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 0, 0, 0));
    ei_tensor t;
    TRY(constant_value(ctx, &t));
    return set_output(ctx, 0, t.dtype, t.rank, t.dims);
}

static ei_status constant_run(op_ctx *ctx)
{
    ei_tensor t;
    TRY(constant_value(ctx, &t));
    int64_t bytes = tensor_nbytes(&t);
    if (bytes > 0) memcpy(ctx->out[0]->data, t.data, (size_t)bytes);
    return EI_STATUS_OK;
}

/* ---- ConstantOfShape ---- */

static ei_status constant_of_shape_value(op_ctx *ctx, ei_tensor *v)
{
    static const float zero = 0.0f;
    const ei_tensor *t = attr_tensor(ctx->n, "value");
    if (!t) {
        memset(v, 0, sizeof *v);
        v->dtype = EI_DTYPE_FLOAT32;
        v->data = (void *)&zero;
        return EI_STATUS_OK;
    }
    CHECK(ctx, numel(t) == 1, "attribute value %s must hold exactly one element", shape_str(t));
    CHECK_SUPPORTED(ctx, t->dtype != EI_DTYPE_STRING && dtype_size(t->dtype) > 0,
                    "value has dtype %s, which this build does not support", ei_dtype_name(t->dtype));
    *v = *t;
    return EI_STATUS_OK;
}

static ei_status constant_of_shape_infer(op_ctx *ctx)
{
    static const int32_t i64[] = {EI_DTYPE_INT64, 0};
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, i64));
    ei_tensor v;
    TRY(constant_of_shape_value(ctx, &v));
    const ei_tensor *s = ctx->in[0];
    CHECK_SHAPE(ctx, s->rank == 1, "input shape %s must be 1-D", shape_str(s));
    CHECK_SHAPE(ctx, s->dims[0] <= EI_MAX_DIMS, "output would have rank %lld (at most %d supported)",
                (long long)s->dims[0], EI_MAX_DIMS);
    if (s->dims[0] == 0) return set_output(ctx, 0, v.dtype, 0, NULL); /* a scalar: no shape values to wait for */
    NEED_DATA(ctx, 0);
    return set_output(ctx, 0, v.dtype, (int)s->dims[0], s->data);
}

static ei_status constant_of_shape_run(op_ctx *ctx)
{
    ei_tensor v;
    TRY(constant_of_shape_value(ctx, &v));
    fill_elems(ctx->out[0]->data, v.data, dtype_size(v.dtype), numel(ctx->out[0]));
    return EI_STATUS_OK;
}

/* ---- Range ---- */

static ei_status range_count(op_ctx *ctx, int64_t *count)
{
    const ei_tensor *s = ctx->in[0], *l = ctx->in[1], *d = ctx->in[2];
    if (dtype_is_float(s->dtype)) {
        double start = tensor_get_f64(s, 0), limit = tensor_get_f64(l, 0), delta = tensor_get_f64(d, 0);
        CHECK(ctx, delta != 0, "delta is 0");
        /* the length comes from the input's precision, as numpy and onnxruntime compute it */
        double n = s->dtype == EI_DTYPE_FLOAT32 ? (double)ceilf(((float)limit - (float)start) / (float)delta)
                                                : ceil((limit - start) / delta);
        CHECK_SHAPE(ctx, !isnan(n) && n < 1e15, "start %g, limit %g and delta %g give no valid length", start,
                    limit, delta);
        *count = n > 0 ? (int64_t)n : 0;
        return EI_STATUS_OK;
    }
    int64_t start = tensor_get_i64(s, 0), limit = tensor_get_i64(l, 0), delta = tensor_get_i64(d, 0), diff;
    CHECK(ctx, delta != 0, "delta is 0");
    CHECK_SHAPE(ctx, !__builtin_sub_overflow(limit, start, &diff), "limit - start overflows int64");
    if ((diff > 0) != (delta > 0) || diff == 0) {
        *count = 0;
        return EI_STATUS_OK;
    }
    /* ceil(diff / delta) with both of one sign, without overflow */
    int64_t q = diff / delta, r = diff % delta;
    *count = q + (r != 0);
    return EI_STATUS_OK;
}

static ei_status range_infer(op_ctx *ctx)
{
    static const int32_t types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, EI_DTYPE_INT16, EI_DTYPE_INT32,
                                    EI_DTYPE_INT64, 0};
    TRY(check_arity(ctx, 3, 3, 3));
    TRY(check_dtype(ctx, 0, types));
    for (int i = 0; i < 3; i++) {
        const ei_tensor *t = ctx->in[i];
        CHECK(ctx, t->dtype == ctx->in[0]->dtype, "input %d has dtype %s, input 0 has %s", i,
              ei_dtype_name(t->dtype), ei_dtype_name(ctx->in[0]->dtype));
        CHECK_SHAPE(ctx, t->rank <= 1 && numel(t) == 1, "input %d %s must be a scalar", i, shape_str(t));
    }
    for (int i = 0; i < 3; i++) NEED_DATA(ctx, i);
    int64_t n;
    TRY(range_count(ctx, &n));
    return set_output(ctx, 0, ctx->in[0]->dtype, 1, &n);
}

static ei_status range_run(op_ctx *ctx)
{
    ei_tensor *y = ctx->out[0];
    int64_t n = y->dims[0];
    if (dtype_is_float(y->dtype)) {
        double start = tensor_get_f64(ctx->in[0], 0), delta = tensor_get_f64(ctx->in[2], 0);
        for (int64_t i = 0; i < n; i++) tensor_set_f64(y, i, start + (double)i * delta);
        return EI_STATUS_OK;
    }
    /* unsigned arithmetic: the last value may pass the type's range only when limit is near it */
    uint64_t start = (uint64_t)tensor_get_i64(ctx->in[0], 0), delta = (uint64_t)tensor_get_i64(ctx->in[2], 0);
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = start + (uint64_t)i * delta;
        switch (y->dtype) {
        case EI_DTYPE_INT16: ((int16_t *)y->data)[i] = (int16_t)v; break;
        case EI_DTYPE_INT32: ((int32_t *)y->data)[i] = (int32_t)v; break;
        default: ((int64_t *)y->data)[i] = (int64_t)v; break;
        }
    }
    return EI_STATUS_OK;
}

/* ---- EyeLike ---- */

static ei_status eyelike_dtype(op_ctx *ctx, int32_t *dt)
{
    int64_t d = attr_int(ctx->n, "dtype", ctx->in[0]->dtype);
    CHECK_SUPPORTED(ctx, d > 0 && d < 64 && dtype_convertible((int32_t)d), "dtype %lld is not supported",
                    (long long)d);
    *dt = (int32_t)d;
    return EI_STATUS_OK;
}

static ei_status eyelike_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank == 2, "input %s must be 2-D", shape_str(x));
    int32_t dt = 0;
    TRY(eyelike_dtype(ctx, &dt));
    return set_output(ctx, 0, dt, 2, x->dims);
}

static void store_one(int32_t dt, char *p)
{
    switch (dt) {
    case EI_DTYPE_FLOAT32: { float v = 1.0f; memcpy(p, &v, 4); break; }
    case EI_DTYPE_FLOAT64: { double v = 1.0; memcpy(p, &v, 8); break; }
    case EI_DTYPE_FLOAT16: { uint16_t v = 0x3c00; memcpy(p, &v, 2); break; }
    case DTYPE_BFLOAT16: { uint16_t v = 0x3f80; memcpy(p, &v, 2); break; }
    default: { /* integers and bool: 1 in the lowest byte on a little-endian machine */
        memset(p, 0, dtype_size(dt));
        p[0] = 1;
        break;
    }
    }
}

static ei_status eyelike_run(op_ctx *ctx)
{
    ei_tensor *y = ctx->out[0];
    int64_t rows = y->dims[0], cols = y->dims[1], k = attr_int(ctx->n, "k", 0);
    size_t es = dtype_size(y->dtype);
    char *dst = y->data;
    if (rows * cols > 0) memset(dst, 0, (size_t)(rows * cols) * es); /* zero bits are zero in every dtype */
    if (k >= cols || k <= -rows) return EI_STATUS_OK;
    for (int64_t i = k < 0 ? -k : 0; i < rows && i + k < cols; i++)
        store_one(y->dtype, dst + (i * cols + i + k) * (int64_t)es);
    return EI_STATUS_OK;
}

const op_def generate_ops[] = {
    {"Constant", "", 1, constant_infer, NULL, constant_run, 0},
    {"ConstantOfShape", "", 9, constant_of_shape_infer, NULL, constant_of_shape_run, 0},
    {"Range", "", 11, range_infer, NULL, range_run, 0},
    {"EyeLike", "", 9, eyelike_infer, NULL, eyelike_run, OP_SHAPE_ONLY},
    {"Cast", "", 6, cast_infer, NULL, cast_run, 0},
    {"CastLike", "", 15, castlike_infer, NULL, cast_run, 0},
};
const int generate_ops_count = sizeof generate_ops / sizeof generate_ops[0];
