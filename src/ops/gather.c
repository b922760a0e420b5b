/*
 * Indexing ops: Gather, GatherElements, GatherND, Scatter, ScatterElements,
 * ScatterND, OneHot and NonZero.
 *
 * Apart from the reductions of the scatters, these ops only move elements, so
 * they work for every fixed-size dtype by copying element bytes. Indices come
 * from tensors the caller or an earlier node controls, so every index is
 * checked at run time: a negative one counts from the end of its axis, and
 * one still out of range fails the run with a message naming the node, the
 * position and the value, before anything is read or written out of bounds.
 */
#include "op.h"

static const int32_t index_dtypes[] = {EI_DTYPE_INT32, EI_DTYPE_INT64, 0};

/* Fails unless input i has a dtype whose elements can be copied as bytes. */
static ei_status check_copyable(op_ctx *ctx, int i, const char *what)
{
    int32_t dt = ctx->in[i]->dtype;
    CHECK_SUPPORTED(ctx, dt != EI_DTYPE_STRING && dtype_size(dt) > 0,
                    "input %s has dtype %s, which this build does not support", what, ei_dtype_name(dt));
    return EI_STATUS_OK;
}

static int64_t index_at(const ei_tensor *t, int64_t i)
{
    if (t->dtype == EI_DTYPE_INT32) return ((const int32_t *)t->data)[i];
    return ((const int64_t *)t->data)[i];
}

/* Maps v into [0, n) counting negatives from the end; false when out of [-n, n). */
static bool norm_index(int64_t v, int64_t n, int64_t *out)
{
    if (v < -n || v >= n) return false;
    *out = v < 0 ? v + n : v;
    return true;
}

/* An index already checked by norm_index, mapped into [0, n). */
static int64_t wrap_index(int64_t v, int64_t n)
{
    return v < 0 ? v + n : v;
}

static ei_status bad_index(op_ctx *ctx, int64_t pos, int64_t v, int64_t n, int axis)
{
    return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT,
                   "indices element %lld has value %lld, out of range [-%lld, %lld) for axis %d of the data",
                   (long long)pos, (long long)v, (long long)n, (long long)n, axis);
}

/* Copies one element of es bytes; the fixed sizes let the compiler inline the copy. */
static inline void copy_elem(char *dst, const char *src, size_t es)
{
    switch (es) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
    }
}

static int64_t prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++) p *= dims[d];
    return p;
}

/* Advances a row-major position over dims; false after the last one. */
static bool next_pos(int rank, const int64_t *dims, int64_t *pos)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++pos[d] < dims[d]) return true;
        pos[d] = 0;
    }
    return false;
}

/* ---- Gather ---- */

static ei_status gather_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1];
    TRY(check_copyable(ctx, 0, "data"));
    TRY(check_dtype(ctx, 1, index_dtypes));
    CHECK_SHAPE(ctx, x->rank >= 1, "input data is a scalar, expected rank >= 1");
    int64_t axis = attr_int(ctx->n, "axis", 0);
    CHECK(ctx, norm_axis(&axis, x->rank), "axis %lld is out of range for data of rank %d", (long long)axis,
          x->rank);
    CHECK_SHAPE(ctx, x->rank - 1 + ind->rank <= EI_MAX_DIMS, "output would have rank %d (at most %d supported)",
                x->rank - 1 + ind->rank, EI_MAX_DIMS);
    int64_t dims[EI_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < axis; d++) dims[r++] = x->dims[d];
    for (int d = 0; d < ind->rank; d++) dims[r++] = ind->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++) dims[r++] = x->dims[d];
    return set_output(ctx, 0, x->dtype, r, dims);
}

static ei_status gather_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1];
    int64_t axis = attr_int(ctx->n, "axis", 0);
    norm_axis(&axis, x->rank);
    size_t es = dtype_size(x->dtype);
    int64_t outer = prod(x->dims, 0, (int)axis), n_axis = x->dims[axis];
    int64_t row = prod(x->dims, (int)axis + 1, x->rank) * (int64_t)es; /* bytes per index */
    int64_t n = numel(ind), idx;
    for (int64_t j = 0; j < n; j++)
        if (!norm_index(index_at(ind, j), n_axis, &idx)) return bad_index(ctx, j, index_at(ind, j), n_axis, (int)axis);
    if (row == 0) return EI_STATUS_OK; /* empty slices: nothing to copy, and the data may be absent */
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < n; j++) {
            idx = wrap_index(index_at(ind, j), n_axis);
            memcpy(dst + (o * n + j) * row, src + (o * n_axis + idx) * row, (size_t)row);
        }
    }
    return EI_STATUS_OK;
}

/* ---- GatherElements, ScatterElements and Scatter share their shape rules ---- */

/* indices has data's rank and fits inside data on every axis but `axis`. */
static ei_status check_elements_shapes(op_ctx *ctx, const ei_tensor *x, const ei_tensor *ind, int64_t *axis)
{
    CHECK_SHAPE(ctx, x->rank >= 1, "input data is a scalar, expected rank >= 1");
    CHECK_SHAPE(ctx, ind->rank == x->rank, "indices %s and data %s have different ranks", shape_str(ind),
                shape_str(x));
    CHECK(ctx, norm_axis(axis, x->rank), "axis %lld is out of range for data of rank %d", (long long)*axis,
          x->rank);
    for (int d = 0; d < x->rank; d++)
        CHECK_SHAPE(ctx, d == *axis || ind->dims[d] <= x->dims[d],
                    "indices %s is larger than data %s at axis %d", shape_str(ind), shape_str(x), d);
    return EI_STATUS_OK;
}

static ei_status gather_elements_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1];
    TRY(check_copyable(ctx, 0, "data"));
    TRY(check_dtype(ctx, 1, index_dtypes));
    int64_t axis = attr_int(ctx->n, "axis", 0);
    TRY(check_elements_shapes(ctx, x, ind, &axis));
    return set_output(ctx, 0, x->dtype, ind->rank, ind->dims);
}

static ei_status gather_elements_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1];
    int64_t axis = attr_int(ctx->n, "axis", 0);
    norm_axis(&axis, x->rank);
    size_t es = dtype_size(x->dtype);
    int64_t xs[EI_MAX_DIMS], pos[EI_MAX_DIMS] = {0};
    shape_strides(x->rank, x->dims, xs);
    int64_t n = numel(ind), n_axis = x->dims[axis];
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    for (int64_t i = 0; i < n; i++, next_pos(ind->rank, ind->dims, pos)) {
        int64_t v = index_at(ind, i), idx;
        if (!norm_index(v, n_axis, &idx)) return bad_index(ctx, i, v, n_axis, (int)axis);
        int64_t off = 0;
        for (int d = 0; d < x->rank; d++) off += (d == axis ? idx : pos[d]) * xs[d];
        copy_elem(dst + i * (int64_t)es, src + off * (int64_t)es, es);
    }
    return EI_STATUS_OK;
}

/* ---- scatter reductions ---- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

/* Reads the reduction attribute: add and mul since opset 16, max and min since 18. */
static ei_status parse_reduction(op_ctx *ctx, int *red)
{
    const char *s = attr_str(ctx->n, "reduction", "none");
    if (!strcmp(s, "none")) *red = RED_NONE;
    else if (!strcmp(s, "add") && ctx->opset >= 16) *red = RED_ADD;
    else if (!strcmp(s, "mul") && ctx->opset >= 16) *red = RED_MUL;
    else if (!strcmp(s, "max") && ctx->opset >= 18) *red = RED_MAX;
    else if (!strcmp(s, "min") && ctx->opset >= 18) *red = RED_MIN;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL, "reduction '%s' is not valid at opset %d", s, ctx->opset);
    if (*red != RED_NONE) {
        int32_t dt = ctx->in[0]->dtype;
        CHECK_SUPPORTED(ctx, dt == EI_DTYPE_BOOL || dtype_is_int(dt) || dt == EI_DTYPE_FLOAT32 ||
                                 dt == EI_DTYPE_FLOAT64,
                        "reduction '%s' on dtype %s is not supported", s, ei_dtype_name(dt));
    }
    return EI_STATUS_OK;
}

/* Integers reduce in uint64 so that overflow wraps as the narrow type would, instead of being undefined. */
static uint64_t load_bits(int32_t dt, const char *p)
{
    switch (dt) {
    case EI_DTYPE_INT8: return (uint64_t)(int64_t)*(const int8_t *)p;
    case EI_DTYPE_INT16: { int16_t v; memcpy(&v, p, 2); return (uint64_t)(int64_t)v; }
    case EI_DTYPE_INT32: { int32_t v; memcpy(&v, p, 4); return (uint64_t)(int64_t)v; }
    case EI_DTYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case EI_DTYPE_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case EI_DTYPE_INT64: case EI_DTYPE_UINT64: { uint64_t v; memcpy(&v, p, 8); return v; }
    default: return *(const uint8_t *)p; /* uint8, bool */
    }
}

static void store_bits(int32_t dt, char *p, uint64_t v)
{
    size_t es = dtype_size(dt);
    uint8_t b8 = (uint8_t)v;
    uint16_t b16 = (uint16_t)v;
    uint32_t b32 = (uint32_t)v;
    if (es == 1) memcpy(p, &b8, 1);
    else if (es == 2) memcpy(p, &b16, 2);
    else if (es == 4) memcpy(p, &b32, 4);
    else memcpy(p, &v, 8);
}

static bool int_greater(int32_t dt, uint64_t a, uint64_t b)
{
    bool is_unsigned = dt == EI_DTYPE_UINT8 || dt == EI_DTYPE_UINT16 || dt == EI_DTYPE_UINT32 ||
                       dt == EI_DTYPE_UINT64 || dt == EI_DTYPE_BOOL;
    return is_unsigned ? a > b : (int64_t)a > (int64_t)b;
}

/* dst = dst (op) src for one element of dtype dt. */
static void combine(int32_t dt, int red, char *dst, const char *src)
{
    if (dt == EI_DTYPE_FLOAT32 || dt == EI_DTYPE_FLOAT64) {
        double a, b;
        if (dt == EI_DTYPE_FLOAT32) {
            float fa, fb;
            memcpy(&fa, dst, 4);
            memcpy(&fb, src, 4);
            a = fa, b = fb;
        } else {
            memcpy(&a, dst, 8);
            memcpy(&b, src, 8);
        }
        switch (red) {
        case RED_ADD: a += b; break;
        case RED_MUL: a *= b; break;
        case RED_MAX: a = b > a ? b : a; break;
        case RED_MIN: a = b < a ? b : a; break;
        default: a = b; break;
        }
        if (dt == EI_DTYPE_FLOAT32) {
            float fa = (float)a;
            memcpy(dst, &fa, 4);
        } else {
            memcpy(dst, &a, 8);
        }
        return;
    }
    uint64_t a = load_bits(dt, dst), b = load_bits(dt, src);
    switch (red) {
    case RED_ADD: a = dt == EI_DTYPE_BOOL ? (a | b) : a + b; break;
    case RED_MUL: a = dt == EI_DTYPE_BOOL ? (a & b) : a * b; break;
    case RED_MAX: if (int_greater(dt, b, a)) a = b; break;
    case RED_MIN: if (int_greater(dt, a, b)) a = b; break;
    default: a = b; break;
    }
    store_bits(dt, dst, a);
}

/* The output starts as a copy of data, unless it already is data's buffer. */
static void copy_input(op_ctx *ctx)
{
    int64_t bytes = tensor_nbytes(ctx->in[0]);
    if (bytes > 0 && ctx->out[0]->data != ctx->in[0]->data)
        memcpy(ctx->out[0]->data, ctx->in[0]->data, (size_t)bytes);
}

/* ---- ScatterElements (and Scatter, its older name) ---- */

static ei_status scatter_elements_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 3, 3, 3));
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1], *upd = ctx->in[2];
    TRY(check_copyable(ctx, 0, "data"));
    TRY(check_dtype(ctx, 1, index_dtypes));
    CHECK(ctx, upd->dtype == x->dtype, "updates has dtype %s but data has %s", ei_dtype_name(upd->dtype),
          ei_dtype_name(x->dtype));
    int64_t axis = attr_int(ctx->n, "axis", 0);
    TRY(check_elements_shapes(ctx, x, ind, &axis));
    bool same = upd->rank == ind->rank;
    for (int d = 0; same && d < ind->rank; d++) same = upd->dims[d] == ind->dims[d];
    CHECK_SHAPE(ctx, same, "updates %s and indices %s have different shapes", shape_str(upd), shape_str(ind));
    int red;
    TRY(parse_reduction(ctx, &red));
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status scatter_elements_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1], *upd = ctx->in[2];
    int64_t axis = attr_int(ctx->n, "axis", 0);
    norm_axis(&axis, x->rank);
    int red;
    TRY(parse_reduction(ctx, &red));
    size_t es = dtype_size(x->dtype);
    int64_t xs[EI_MAX_DIMS], pos[EI_MAX_DIMS] = {0};
    shape_strides(x->rank, x->dims, xs);
    int64_t n = numel(ind), n_axis = x->dims[axis];
    for (int64_t i = 0; i < n; i++) {
        int64_t v = index_at(ind, i), idx;
        if (!norm_index(v, n_axis, &idx)) return bad_index(ctx, i, v, n_axis, (int)axis);
    }
    copy_input(ctx);
    const char *src = upd->data;
    char *dst = ctx->out[0]->data;
    for (int64_t i = 0; i < n; i++, next_pos(ind->rank, ind->dims, pos)) {
        int64_t idx = wrap_index(index_at(ind, i), n_axis), off = 0;
        for (int d = 0; d < x->rank; d++) off += (d == axis ? idx : pos[d]) * xs[d];
        if (red == RED_NONE) copy_elem(dst + off * (int64_t)es, src + i * (int64_t)es, es);
        else combine(x->dtype, red, dst + off * (int64_t)es, src + i * (int64_t)es);
    }
    return EI_STATUS_OK;
}

/* ---- GatherND ---- */

static ei_status gather_nd_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1];
    TRY(check_copyable(ctx, 0, "data"));
    CHECK_SUPPORTED(ctx, ind->dtype == EI_DTYPE_INT64, "indices has dtype %s, expected int64",
                    ei_dtype_name(ind->dtype));
    int64_t b = ctx->opset >= 12 ? attr_int(ctx->n, "batch_dims", 0) : 0;
    CHECK_SHAPE(ctx, x->rank >= 1 && ind->rank >= 1, "data %s and indices %s must both have rank >= 1",
                shape_str(x), shape_str(ind));
    CHECK(ctx, b >= 0 && b < x->rank && b < ind->rank,
          "batch_dims %lld must be in [0, min(rank of data %d, rank of indices %d))", (long long)b, x->rank,
          ind->rank);
    for (int d = 0; d < b; d++)
        CHECK_SHAPE(ctx, x->dims[d] == ind->dims[d], "batch dim %d differs: data %s, indices %s", d, shape_str(x),
                    shape_str(ind));
    int64_t k = ind->dims[ind->rank - 1];
    CHECK_SHAPE(ctx, k >= 1 && k <= x->rank - b,
                "indices %s has last dim %lld, expected 1 to %lld (data rank minus batch_dims)", shape_str(ind),
                (long long)k, (long long)(x->rank - b));
    int64_t dims[2 * EI_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < ind->rank - 1; d++) dims[r++] = ind->dims[d];
    for (int d = (int)(b + k); d < x->rank; d++) dims[r++] = x->dims[d];
    return set_output(ctx, 0, x->dtype, r, dims);
}

static ei_status gather_nd_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1];
    int b = (int)(ctx->opset >= 12 ? attr_int(ctx->n, "batch_dims", 0) : 0);
    int k = (int)ind->dims[ind->rank - 1];
    size_t es = dtype_size(x->dtype);
    int64_t xs[EI_MAX_DIMS];
    shape_strides(x->rank, x->dims, xs);
    int64_t batches = prod(x->dims, 0, b);
    int64_t per_batch = prod(ind->dims, b, ind->rank - 1); /* index tuples in one batch */
    int64_t slice = prod(x->dims, b + k, x->rank) * (int64_t)es;
    int64_t batch_bytes = prod(x->dims, b, x->rank) * (int64_t)es;
    const int64_t *iv = ind->data;
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    for (int64_t bi = 0; bi < batches; bi++) {
        for (int64_t m = 0; m < per_batch; m++) {
            int64_t t = bi * per_batch + m, off = 0;
            for (int j = 0; j < k; j++) {
                int64_t idx, v = iv[t * k + j];
                if (!norm_index(v, x->dims[b + j], &idx)) return bad_index(ctx, t * k + j, v, x->dims[b + j], b + j);
                off += idx * xs[b + j];
            }
            if (slice > 0) memcpy(dst + t * slice, src + bi * batch_bytes + off * (int64_t)es, (size_t)slice);
        }
    }
    return EI_STATUS_OK;
}

/* ---- ScatterND ---- */

static ei_status scatter_nd_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 3, 3, 3));
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1], *upd = ctx->in[2];
    TRY(check_copyable(ctx, 0, "data"));
    CHECK_SUPPORTED(ctx, ind->dtype == EI_DTYPE_INT64, "indices has dtype %s, expected int64",
                    ei_dtype_name(ind->dtype));
    CHECK(ctx, upd->dtype == x->dtype, "updates has dtype %s but data has %s", ei_dtype_name(upd->dtype),
          ei_dtype_name(x->dtype));
    CHECK_SHAPE(ctx, x->rank >= 1 && ind->rank >= 1, "data %s and indices %s must both have rank >= 1",
                shape_str(x), shape_str(ind));
    int64_t k = ind->dims[ind->rank - 1];
    CHECK_SHAPE(ctx, k >= 1 && k <= x->rank, "indices %s has last dim %lld, expected 1 to the data rank %d",
                shape_str(ind), (long long)k, x->rank);
    /* updates = indices.shape[:-1] + data.shape[k:] */
    bool ok = upd->rank == ind->rank - 1 + x->rank - k;
    for (int d = 0; ok && d < ind->rank - 1; d++) ok = upd->dims[d] == ind->dims[d];
    for (int d = (int)k; ok && d < x->rank; d++) ok = upd->dims[ind->rank - 1 + d - k] == x->dims[d];
    CHECK_SHAPE(ctx, ok, "updates %s does not match indices %s and data %s", shape_str(upd), shape_str(ind),
                shape_str(x));
    int red;
    TRY(parse_reduction(ctx, &red));
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status scatter_nd_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1], *upd = ctx->in[2];
    int red;
    TRY(parse_reduction(ctx, &red));
    int k = (int)ind->dims[ind->rank - 1];
    size_t es = dtype_size(x->dtype);
    int64_t xs[EI_MAX_DIMS];
    shape_strides(x->rank, x->dims, xs);
    int64_t tuples = prod(ind->dims, 0, ind->rank - 1), slice = prod(x->dims, k, x->rank);
    const int64_t *iv = ind->data;
    for (int64_t i = 0; i < tuples * k; i++) {
        int64_t idx;
        if (!norm_index(iv[i], x->dims[i % k], &idx)) return bad_index(ctx, i, iv[i], x->dims[i % k], (int)(i % k));
    }
    copy_input(ctx);
    const char *src = upd->data;
    char *dst = ctx->out[0]->data;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int j = 0; j < k; j++) {
            off += wrap_index(iv[t * k + j], x->dims[j]) * xs[j];
        }
        char *d = dst + off * (int64_t)es;
        const char *s = src + t * slice * (int64_t)es;
        if (red == RED_NONE) {
            if (slice > 0) memcpy(d, s, (size_t)(slice * (int64_t)es));
        } else {
            for (int64_t e = 0; e < slice; e++) combine(x->dtype, red, d + e * (int64_t)es, s + e * (int64_t)es);
        }
    }
    return EI_STATUS_OK;
}

/* ---- OneHot ---- */

/* An index of any numeric dtype as an integer; false for NaN or values no depth can reach. */
static bool onehot_index(const ei_tensor *t, int64_t i, int64_t *out)
{
    if (t->dtype == EI_DTYPE_FLOAT32 || t->dtype == EI_DTYPE_FLOAT64) {
        double v = tensor_get_f64(t, i);
        if (!(v > -9.0e18 && v < 9.0e18)) return false;
        *out = (int64_t)v;
        return true;
    }
    if (t->dtype == EI_DTYPE_UINT64 && ((const uint64_t *)t->data)[i] > (uint64_t)INT64_MAX) return false;
    *out = tensor_get_i64(t, i);
    return true;
}

static ei_status onehot_depth(op_ctx *ctx, int64_t *depth)
{
    const ei_tensor *d = ctx->in[1];
    CHECK_SHAPE(ctx, numel(d) == 1 && d->rank <= 1, "depth %s must hold exactly one value", shape_str(d));
    int64_t v;
    CHECK_SHAPE(ctx, onehot_index(d, 0, &v) && v >= 1, "depth must be a positive number");
    *depth = v;
    return EI_STATUS_OK;
}

static ei_status onehot_infer(op_ctx *ctx)
{
    static const int32_t numeric[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, EI_DTYPE_INT8, EI_DTYPE_INT16,
                                      EI_DTYPE_INT32, EI_DTYPE_INT64, EI_DTYPE_UINT8, EI_DTYPE_UINT16,
                                      EI_DTYPE_UINT32, EI_DTYPE_UINT64, 0};
    TRY(check_arity(ctx, 3, 3, 3));
    TRY(check_dtype(ctx, 0, numeric));
    TRY(check_dtype(ctx, 1, numeric));
    TRY(check_copyable(ctx, 2, "values"));
    const ei_tensor *ind = ctx->in[0], *vals = ctx->in[2];
    CHECK_SHAPE(ctx, numel(vals) == 2 && vals->rank == 1, "values %s must hold [off_value, on_value]",
                shape_str(vals));
    NEED_DATA(ctx, 1);
    int64_t depth;
    TRY(onehot_depth(ctx, &depth));
    int64_t axis = attr_int(ctx->n, "axis", -1);
    CHECK(ctx, norm_axis(&axis, ind->rank + 1), "axis %lld is out of range for an output of rank %d",
          (long long)axis, ind->rank + 1);
    int64_t dims[EI_MAX_DIMS + 1];
    int r = 0;
    for (int d = 0; d < ind->rank; d++) {
        if (d == axis) dims[r++] = depth;
        dims[r++] = ind->dims[d];
    }
    if (axis == ind->rank) dims[r++] = depth;
    return set_output(ctx, 0, vals->dtype, r, dims);
}

static ei_status onehot_run(op_ctx *ctx)
{
    const ei_tensor *ind = ctx->in[0], *vals = ctx->in[2];
    int64_t depth;
    TRY(onehot_depth(ctx, &depth));
    int64_t axis = attr_int(ctx->n, "axis", -1);
    norm_axis(&axis, ind->rank + 1);
    size_t es = dtype_size(vals->dtype);
    const char *off_v = vals->data, *on_v = off_v + es;
    char *dst = ctx->out[0]->data;
    int64_t total = numel(ctx->out[0]);
    for (int64_t i = 0; i < total; i++) copy_elem(dst + i * (int64_t)es, off_v, es);
    int64_t inner = prod(ind->dims, (int)axis, ind->rank), n = numel(ind);
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        if (!onehot_index(ind, i, &v)) continue;
        /* negative indices count from the end since opset 11; out-of-range ones leave all off values */
        if (v < 0 && ctx->opset >= 11) v += depth;
        if (v < 0 || v >= depth) continue;
        int64_t o = i / inner, in = i % inner;
        copy_elem(dst + ((o * depth + v) * inner + in) * (int64_t)es, on_v, es);
    }
    return EI_STATUS_OK;
}

/* ---- NonZero ---- */

static bool elem_nonzero(const ei_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EI_DTYPE_FLOAT32: return ((const float *)t->data)[i] != 0.0f;
    case EI_DTYPE_FLOAT64: return ((const double *)t->data)[i] != 0.0;
    case EI_DTYPE_FLOAT16: return (((const uint16_t *)t->data)[i] & 0x7fff) != 0; /* +0 and -0 are zero */
    default: {
        size_t es = dtype_size(t->dtype);
        const uint8_t *p = (const uint8_t *)t->data + i * (int64_t)es;
        for (size_t b = 0; b < es; b++)
            if (p[b]) return true;
        return false;
    }
    }
}

static ei_status nonzero_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_copyable(ctx, 0, "X"));
    NEED_DATA(ctx, 0);
    const ei_tensor *x = ctx->in[0];
    int64_t n = numel(x), nz = 0;
    for (int64_t i = 0; i < n; i++) nz += elem_nonzero(x, i);
    /* a scalar counts as a 1-D tensor of one element, as numpy and onnxruntime do */
    int64_t dims[2] = {x->rank > 0 ? x->rank : 1, nz};
    return set_output(ctx, 0, EI_DTYPE_INT64, 2, dims);
}

static ei_status nonzero_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    int rank = x->rank;
    int64_t n = numel(x), nz = ctx->out[0]->dims[1], k = 0;
    int64_t pos[EI_MAX_DIMS] = {0};
    int64_t *dst = ctx->out[0]->data;
    for (int64_t i = 0; i < n && k < nz; i++, next_pos(rank, x->dims, pos)) {
        if (!elem_nonzero(x, i)) continue;
        if (rank == 0) dst[k] = 0;
        for (int d = 0; d < rank; d++) dst[d * nz + k] = pos[d];
        k++;
    }
    return EI_STATUS_OK;
}

const op_def gather_ops[] = {
    {"Gather", "", 1, gather_infer, NULL, gather_run, 0},
    {"GatherElements", "", 11, gather_elements_infer, NULL, gather_elements_run, 0},
    {"GatherND", "", 11, gather_nd_infer, NULL, gather_nd_run, 0},
    {"Scatter", "", 9, scatter_elements_infer, NULL, scatter_elements_run, OP_INPLACE},
    {"ScatterElements", "", 11, scatter_elements_infer, NULL, scatter_elements_run, OP_INPLACE},
    {"ScatterND", "", 11, scatter_nd_infer, NULL, scatter_nd_run, OP_INPLACE},
    {"OneHot", "", 9, onehot_infer, NULL, onehot_run, 0},
    {"NonZero", "", 9, nonzero_infer, NULL, nonzero_run, 0},
};
const int gather_ops_count = sizeof gather_ops / sizeof gather_ops[0];
