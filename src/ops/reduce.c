/*
 * Reductions and the ops that work along one axis: ReduceSum, ReduceMean,
 * ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
 * ReduceLogSumExp, ReduceSumSquare, ArgMax, ArgMin, TopK, CumSum, Softmax,
 * LogSoftmax and Hardmax.
 *
 * A reduction first merges neighbouring dims that are all reduced or all
 * kept (size-1 dims drop out), so any set of axes becomes a short list of
 * groups. Float32 then walks the input once, one contiguous innermost group
 * at a time: a reduced innermost group folds into one accumulator
 * (f32_reduce_row), a kept one folds elementwise into a row of accumulators
 * (f32_reduce_acc). Other dtypes use a plain loop per output element, with
 * double accumulators for float64 and 64-bit integer ones for integers.
 *
 * Reducing over no axes (noop_with_empty_axes) is the same machinery with
 * every dim kept: each output folds exactly one element.
 */
#include "../kernels/f32_reduce.h"
#include "../kernels/f32_softmax.h"
#include "op.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ };

/* ---- which axes, and the merged view of the input ---- */

/* mask[d] is set for every reduced dim of x. */
static ei_status reduce_axes(op_ctx *ctx, const ei_tensor *x, bool *mask)
{
    int rank = x->rank;
    int64_t axes[EI_MAX_DIMS];
    int64_t n;
    if (has_in(ctx, 1)) { /* ReduceSum from opset 13, the others from 18 */
        const ei_tensor *a = ctx->in[1];
        CHECK(ctx, a->dtype == EI_DTYPE_INT64 || a->dtype == EI_DTYPE_INT32,
              "input axes has dtype %s, expected int64", ei_dtype_name(a->dtype));
        CHECK_SHAPE(ctx, a->rank <= 1, "input axes has shape %s, expected 1 dim", shape_str(a));
        NEED_DATA(ctx, 1);
        n = numel(a);
        CHECK(ctx, n <= rank, "input axes has %lld values for an input of %d dims", (long long)n, rank);
        for (int64_t i = 0; i < n; i++) axes[i] = tensor_get_i64(a, i);
    } else {
        const int64_t *v;
        n = attr_ints(ctx->n, "axes", &v);
        if (n < 0) n = 0;
        CHECK(ctx, n <= rank, "attribute axes has %lld values for an input of %d dims", (long long)n, rank);
        for (int64_t i = 0; i < n; i++) axes[i] = v[i];
    }
    for (int d = 0; d < rank; d++) mask[d] = false;
    if (n == 0) {
        bool noop = attr_int(ctx->n, "noop_with_empty_axes", 0) != 0;
        for (int d = 0; d < rank; d++) mask[d] = !noop;
        return EI_STATUS_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t ax = axes[i];
        CHECK(ctx, norm_axis(&ax, rank), "axis %lld is out of range for input X of shape %s", (long long)axes[i],
              shape_str(x));
        CHECK(ctx, !mask[ax], "axis %lld appears twice in axes", (long long)axes[i]);
        mask[ax] = true;
    }
    return EI_STATUS_OK;
}

typedef struct red_view {
    int m;                           /* groups */
    int64_t size[EI_MAX_DIMS];
    bool red[EI_MAX_DIMS];
    int64_t in_stride[EI_MAX_DIMS];  /* row-major over the groups */
    int64_t out_stride[EI_MAX_DIMS]; /* row-major over the kept groups, 0 for reduced ones */
    int64_t count;                   /* elements folded into each output */
} red_view;

static void make_view(const ei_tensor *x, const bool *mask, red_view *v)
{
    v->m = 0;
    for (int d = 0; d < x->rank; d++) {
        if (x->dims[d] == 1) continue;
        if (v->m > 0 && v->red[v->m - 1] == mask[d]) {
            v->size[v->m - 1] *= x->dims[d];
        } else {
            v->size[v->m] = x->dims[d];
            v->red[v->m] = mask[d];
            v->m++;
        }
    }
    if (v->m == 0) { /* one element */
        v->size[0] = 1;
        v->red[0] = false;
        v->m = 1;
    }
    int64_t is = 1, os = 1;
    v->count = 1;
    for (int g = v->m - 1; g >= 0; g--) {
        v->in_stride[g] = is;
        is *= v->size[g];
        v->out_stride[g] = v->red[g] ? 0 : os;
        if (v->red[g]) v->count *= v->size[g];
        else os *= v->size[g];
    }
}

/* ---- float32 ---- */

static int kernel_kind(int kind)
{
    switch (kind) {
    case R_MAX: return F32_REDUCE_MAX;
    case R_MIN: return F32_REDUCE_MIN;
    case R_PROD: return F32_REDUCE_PROD;
    case R_L1: return F32_REDUCE_SUMABS;
    case R_L2: case R_SUMSQ: return F32_REDUCE_SUMSQ;
    default: return F32_REDUCE_SUM;
    }
}

/* Folds all of x into acc (laid out as the kept groups). With `shift`, folds
 * exp(x - shift) by addition instead, for log-sum-exp. */
static void fold_f32(const red_view *v, int rk, const float *x, float *acc, const float *shift)
{
    int last = v->m - 1;
    int64_t len = v->size[last], outer = 1;
    for (int g = 0; g < last; g++) outer *= v->size[g];
    int64_t idx[EI_MAX_DIMS] = {0};
    for (int64_t o = 0; o < outer; o++) {
        int64_t ioff = 0, ooff = 0;
        for (int g = 0; g < last; g++) {
            ioff += idx[g] * v->in_stride[g];
            ooff += idx[g] * v->out_stride[g];
        }
        const float *row = x + ioff;
        if (v->red[last]) {
            if (shift) {
                acc[ooff] += f32_sumexp_row_simd128((size_t)len, row, shift[ooff]);
            } else {
                float part = f32_reduce_row_simd128(rk, (size_t)len, row), a = acc[ooff];
                switch (rk) {
                case F32_REDUCE_MAX: acc[ooff] = a < part ? part : a; break;
                case F32_REDUCE_MIN: acc[ooff] = part < a ? part : a; break;
                case F32_REDUCE_PROD: acc[ooff] = a * part; break;
                default: acc[ooff] = a + part; break;
                }
            }
        } else {
            if (shift) f32_sumexp_acc_simd128((size_t)len, row, shift + ooff, acc + ooff);
            else f32_reduce_acc_simd128(rk, (size_t)len, row, acc + ooff);
        }
        for (int g = last - 1; g >= 0; g--) {
            if (++idx[g] < v->size[g]) break;
            idx[g] = 0;
        }
    }
}

/* What a folded accumulator becomes (shift: the maximum, for log-sum-exp). */
static double finish(int kind, double acc, int64_t count, double shift)
{
    switch (kind) {
    case R_MEAN: return count > 0 ? acc / (double)count : NAN;
    case R_L2: return sqrt(acc);
    case R_LOGSUM: return log(acc);
    case R_LOGSUMEXP: return log(acc) + shift;
    default: return acc;
    }
}

static void reduce_f32(op_ctx *ctx, int kind, const red_view *v)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t n_out = numel(y);
    float *yd = y->data;
    int rk = kernel_kind(kind);
    float *shift = NULL;
    if (kind == R_LOGSUMEXP) {
        shift = ctx->scratch;
        rk = F32_REDUCE_MAX;
    }
    float *first = shift ? shift : yd;
    for (int64_t i = 0; i < n_out; i++) first[i] = f32_reduce_identity(rk);
    if (numel(x) > 0) fold_f32(v, rk, x->data, first, NULL);
    if (shift) {
        for (int64_t i = 0; i < n_out; i++) yd[i] = 0.0f;
        /* a row that is all -inf has no finite maximum to subtract: its sum is 0 */
        for (int64_t i = 0; i < n_out; i++)
            if (shift[i] == -INFINITY) shift[i] = 0.0f;
        if (numel(x) > 0) fold_f32(v, rk, x->data, yd, shift);
    }
    for (int64_t i = 0; i < n_out; i++)
        yd[i] = (float)finish(kind, yd[i], v->count, shift ? shift[i] : 0.0);
    if (shift) /* a +inf maximum gives inf - inf in the shifted sum; the answer is +inf */
        for (int64_t i = 0; i < n_out; i++)
            if (shift[i] == INFINITY) yd[i] = INFINITY;
}

/* ---- other dtypes: one output element at a time ---- */

static void set_i64(ei_tensor *t, int64_t i, int64_t v)
{
    switch (t->dtype) {
    case EI_DTYPE_INT64: ((int64_t *)t->data)[i] = v; break;
    case EI_DTYPE_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)v; break;
    default: tensor_set_f64(t, i, (double)v); break; /* narrower types are exact in a double */
    }
}

/* Wrapping integer arithmetic: overflow of a signed type would be undefined. */
static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

static void reduce_generic(op_ctx *ctx, int kind, const red_view *v)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    bool is_int = dtype_is_int(x->dtype);
    int nk = 0, nr = 0;
    int64_t ksize[EI_MAX_DIMS], kstride[EI_MAX_DIMS], rsize[EI_MAX_DIMS], rstride[EI_MAX_DIMS];
    for (int g = 0; g < v->m; g++) {
        if (v->red[g]) {
            rsize[nr] = v->size[g];
            rstride[nr++] = v->in_stride[g];
        } else {
            ksize[nk] = v->size[g];
            kstride[nk++] = v->in_stride[g];
        }
    }
    int64_t n_out = numel(y);
    int64_t kidx[EI_MAX_DIMS] = {0};
    for (int64_t o = 0; o < n_out; o++) {
        int64_t base = 0;
        for (int g = 0; g < nk; g++) base += kidx[g] * kstride[g];
        double fmax = -INFINITY, facc = kind == R_PROD ? 1.0 : kind == R_MAX ? -INFINITY : kind == R_MIN ? INFINITY : 0.0;
        int64_t iacc = kind == R_PROD ? 1 : kind == R_MAX ? INT64_MIN : kind == R_MIN ? INT64_MAX : 0;
        /* log-sum-exp takes two passes: the maximum, then the shifted sum */
        for (int pass = kind == R_LOGSUMEXP ? 0 : 1; pass < 2; pass++) {
            int64_t ridx[EI_MAX_DIMS] = {0};
            if (pass == 1 && kind == R_LOGSUMEXP && fmax == -INFINITY) fmax = 0.0;
            for (int64_t r = 0; r < v->count; r++) {
                int64_t at = base;
                for (int g = 0; g < nr; g++) at += ridx[g] * rstride[g];
                double f = tensor_get_f64(x, at);
                if (pass == 0) {
                    fmax = fmax < f ? f : fmax;
                } else if (kind == R_LOGSUMEXP) {
                    facc += exp(f - fmax);
                } else if (is_int) {
                    int64_t i = tensor_get_i64(x, at);
                    int64_t a = i < 0 ? (int64_t)(0 - (uint64_t)i) : i;
                    switch (kind) {
                    case R_MAX: iacc = iacc < i ? i : iacc; break;
                    case R_MIN: iacc = i < iacc ? i : iacc; break;
                    case R_PROD: iacc = wrap_mul(iacc, i); break;
                    case R_L1: iacc = wrap_add(iacc, a); break;
                    case R_L2: case R_SUMSQ: iacc = wrap_add(iacc, wrap_mul(i, i)); break;
                    default: iacc = wrap_add(iacc, i); break;
                    }
                } else {
                    switch (kind) {
                    case R_MAX: facc = facc < f ? f : facc; break;
                    case R_MIN: facc = f < facc ? f : facc; break;
                    case R_PROD: facc *= f; break;
                    case R_L1: facc += fabs(f); break;
                    case R_L2: case R_SUMSQ: facc += f * f; break;
                    default: facc += f; break;
                    }
                }
                for (int g = nr - 1; g >= 0; g--) {
                    if (++ridx[g] < rsize[g]) break;
                    ridx[g] = 0;
                }
            }
        }
        /* tensor_set_f64 converts a NaN or out-of-range result to an integer safely */
        if (!is_int || kind == R_LOGSUMEXP) {
            tensor_set_f64(y, o, finish(kind, facc, v->count, fmax));
        } else if (kind == R_MEAN) {
            set_i64(y, o, v->count > 0 ? iacc / v->count : 0);
        } else if (kind == R_L2 || kind == R_LOGSUM) {
            tensor_set_f64(y, o, finish(kind, (double)iacc, v->count, 0.0));
        } else if (v->count == 0 && (kind == R_MAX || kind == R_MIN)) {
            set_i64(y, o, 0); /* no element: no integer identity that fits every dtype */
        } else {
            set_i64(y, o, iacc);
        }
        for (int g = nk - 1; g >= 0; g--) {
            if (++kidx[g] < ksize[g]) break;
            kidx[g] = 0;
        }
    }
}

/* ---- the Reduce* ops ---- */

static const int32_t reduce_types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, EI_DTYPE_INT32, EI_DTYPE_INT64,
                                       EI_DTYPE_UINT32, EI_DTYPE_UINT8, EI_DTYPE_INT8, 0};

static ei_status reduce_infer(op_ctx *ctx, int kind)
{
    TRY(check_arity(ctx, 1, 2, 1));
    TRY(check_dtype(ctx, 0, reduce_types));
    const ei_tensor *x = ctx->in[0];
    bool mask[EI_MAX_DIMS];
    TRY(reduce_axes(ctx, x, mask));
    bool keep = attr_int(ctx->n, "keepdims", 1) != 0;
    int64_t dims[EI_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!mask[d]) dims[r++] = x->dims[d];
        else if (keep) dims[r++] = 1;
    }
    TRY(set_output(ctx, 0, x->dtype, r, dims));
    if (kind == R_LOGSUMEXP && x->dtype == EI_DTYPE_FLOAT32)
        ctx->scratch_bytes = (size_t)shape_numel(r, dims) * sizeof(float);
    return EI_STATUS_OK;
}

static ei_status reduce_run(op_ctx *ctx, int kind)
{
    bool mask[EI_MAX_DIMS];
    TRY(reduce_axes(ctx, ctx->in[0], mask));
    red_view v;
    make_view(ctx->in[0], mask, &v);
    if (numel(ctx->out[0]) == 0) return EI_STATUS_OK;
    if (ctx->in[0]->dtype == EI_DTYPE_FLOAT32) reduce_f32(ctx, kind, &v);
    else reduce_generic(ctx, kind, &v);
    return EI_STATUS_OK;
}

#define REDUCE_OP(name, kind) \
    static ei_status name##_infer(op_ctx *ctx) { return reduce_infer(ctx, kind); } \
    static ei_status name##_run(op_ctx *ctx) { return reduce_run(ctx, kind); }
REDUCE_OP(rsum, R_SUM)
REDUCE_OP(rmean, R_MEAN)
REDUCE_OP(rmax, R_MAX)
REDUCE_OP(rmin, R_MIN)
REDUCE_OP(rprod, R_PROD)
REDUCE_OP(rl1, R_L1)
REDUCE_OP(rl2, R_L2)
REDUCE_OP(rlogsum, R_LOGSUM)
REDUCE_OP(rlogsumexp, R_LOGSUMEXP)
REDUCE_OP(rsumsq, R_SUMSQ)
#undef REDUCE_OP

/* ---- one axis: [outer, n, inner] ---- */

static void axis_split(const ei_tensor *x, int axis, int64_t *outer, int64_t *n, int64_t *inner)
{
    *outer = shape_numel(axis, x->dims);
    *n = x->dims[axis];
    *inner = shape_numel(x->rank - axis - 1, x->dims + axis + 1);
}

/* ---- ArgMax, ArgMin ---- */

/* The index along the axis of the largest (smallest) value; ties go to the
 * first one, or to the last with select_last_index. */
#define DEFINE_ARGEXT(name, T) \
    static void name(const void *xv, int64_t outer, int64_t n, int64_t inner, bool largest, bool last, \
                     int64_t *out) \
    { \
        const T *x = xv; \
        for (int64_t o = 0; o < outer; o++) \
            for (int64_t j = 0; j < inner; j++) { \
                const T *p = x + o * n * inner + j; \
                int64_t best = 0; \
                for (int64_t i = 1; i < n; i++) { \
                    T v = p[i * inner], b = p[best * inner]; \
                    bool better = largest ? v > b : v < b; \
                    if (better || (last && v == b)) best = i; \
                } \
                out[o * inner + j] = best; \
            } \
    }
DEFINE_ARGEXT(argext_f32, float)
DEFINE_ARGEXT(argext_f64, double)
DEFINE_ARGEXT(argext_i32, int32_t)
DEFINE_ARGEXT(argext_i64, int64_t)
DEFINE_ARGEXT(argext_u32, uint32_t)
DEFINE_ARGEXT(argext_u8, uint8_t)
DEFINE_ARGEXT(argext_i8, int8_t)
#undef DEFINE_ARGEXT

static ei_status arg_axis(op_ctx *ctx, const ei_tensor *x, int64_t *axis)
{
    int64_t a = attr_int(ctx->n, "axis", 0);
    *axis = a;
    CHECK(ctx, norm_axis(axis, x->rank), "attribute axis = %lld is out of range for input of shape %s",
          (long long)a, shape_str(x));
    return EI_STATUS_OK;
}

static ei_status argext_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, reduce_types));
    const ei_tensor *x = ctx->in[0];
    int64_t axis;
    TRY(arg_axis(ctx, x, &axis));
    CHECK_SHAPE(ctx, x->dims[axis] > 0 || shape_numel(x->rank, x->dims) == 0,
                "input of shape %s has no element along axis %lld", shape_str(x), (long long)axis);
    bool keep = attr_int(ctx->n, "keepdims", 1) != 0;
    int64_t dims[EI_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis) dims[r++] = x->dims[d];
        else if (keep) dims[r++] = 1;
    }
    return set_output(ctx, 0, EI_DTYPE_INT64, r, dims);
}

static ei_status argext_run(op_ctx *ctx, bool largest)
{
    const ei_tensor *x = ctx->in[0];
    int64_t axis, outer, n, inner;
    TRY(arg_axis(ctx, x, &axis));
    axis_split(x, (int)axis, &outer, &n, &inner);
    if (n == 0) return EI_STATUS_OK; /* then the output is empty too (checked by infer) */
    bool last = attr_int(ctx->n, "select_last_index", 0) != 0;
    int64_t *out = ctx->out[0]->data;
    switch (x->dtype) {
    case EI_DTYPE_FLOAT32: argext_f32(x->data, outer, n, inner, largest, last, out); break;
    case EI_DTYPE_FLOAT64: argext_f64(x->data, outer, n, inner, largest, last, out); break;
    case EI_DTYPE_INT32: argext_i32(x->data, outer, n, inner, largest, last, out); break;
    case EI_DTYPE_INT64: argext_i64(x->data, outer, n, inner, largest, last, out); break;
    case EI_DTYPE_UINT32: argext_u32(x->data, outer, n, inner, largest, last, out); break;
    case EI_DTYPE_UINT8: argext_u8(x->data, outer, n, inner, largest, last, out); break;
    default: argext_i8(x->data, outer, n, inner, largest, last, out); break;
    }
    return EI_STATUS_OK;
}

static ei_status argmax_run(op_ctx *ctx) { return argext_run(ctx, true); }
static ei_status argmin_run(op_ctx *ctx) { return argext_run(ctx, false); }

/* ---- TopK ---- */

/* Whether element a comes before element b (indices along the axis, stride
 * `s` apart): by value, then the lower index first, as the spec requires. */
typedef bool (*topk_before_fn)(const void *x, int64_t s, int64_t a, int64_t b);

#define DEFINE_TOPK_ORDER(name, T) \
    static bool name##_largest(const void *xv, int64_t s, int64_t a, int64_t b) \
    { \
        T va = ((const T *)xv)[a * s], vb = ((const T *)xv)[b * s]; \
        return va > vb || (va == vb && a < b); \
    } \
    static bool name##_smallest(const void *xv, int64_t s, int64_t a, int64_t b) \
    { \
        T va = ((const T *)xv)[a * s], vb = ((const T *)xv)[b * s]; \
        return va < vb || (va == vb && a < b); \
    }
DEFINE_TOPK_ORDER(topk_f32, float)
DEFINE_TOPK_ORDER(topk_f64, double)
DEFINE_TOPK_ORDER(topk_i32, int32_t)
DEFINE_TOPK_ORDER(topk_i64, int64_t)
DEFINE_TOPK_ORDER(topk_u32, uint32_t)
DEFINE_TOPK_ORDER(topk_u8, uint8_t)
DEFINE_TOPK_ORDER(topk_i8, int8_t)
#undef DEFINE_TOPK_ORDER

/* Bottom-up merge sort of idx[0, n) with tmp[0, n) as the second buffer. It
 * only ever compares, so an inconsistent order (NaN) cannot make it misbehave. */
static void merge_sort(int64_t *idx, int64_t *tmp, int64_t n, topk_before_fn before, const void *x, int64_t s)
{
    int64_t *src = idx, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = before(x, s, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx) memcpy(idx, src, (size_t)n * sizeof *idx);
}

static ei_status topk_params(op_ctx *ctx, const ei_tensor *x, int64_t *axis, int64_t *k)
{
    int64_t a = attr_int(ctx->n, "axis", -1);
    *axis = a;
    CHECK(ctx, norm_axis(axis, x->rank), "attribute axis = %lld is out of range for input X of shape %s",
          (long long)a, shape_str(x));
    if (ctx->opset < 10) {
        const attr *ka = attr_find(ctx->n, "k");
        CHECK(ctx, ka && ka->type == ATTR_INT, "attribute k is required");
        *k = ka->i;
    } else {
        CHECK(ctx, has_in(ctx, 1), "input K is required");
        const ei_tensor *kt = ctx->in[1];
        CHECK(ctx, kt->dtype == EI_DTYPE_INT64, "input K has dtype %s, expected int64", ei_dtype_name(kt->dtype));
        CHECK_SHAPE(ctx, numel(kt) == 1 && kt->rank <= 1, "input K has shape %s, expected [1]", shape_str(kt));
        NEED_DATA(ctx, 1);
        *k = tensor_get_i64(kt, 0);
    }
    CHECK_SHAPE(ctx, *k >= 0 && *k <= x->dims[*axis], "K = %lld is out of range for axis %lld of input X of shape %s",
                (long long)*k, (long long)*axis, shape_str(x));
    return EI_STATUS_OK;
}

static ei_status topk_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, ctx->opset < 10 ? 1 : 2, ctx->opset < 10 ? 1 : 2, ctx->opset < 10 ? 1 : 2));
    TRY(check_dtype(ctx, 0, reduce_types));
    const ei_tensor *x = ctx->in[0];
    int64_t axis, k;
    TRY(topk_params(ctx, x, &axis, &k));
    CHECK(ctx, attr_int(ctx->n, "largest", 1) == 0 || attr_int(ctx->n, "largest", 1) == 1,
          "attribute largest must be 0 or 1");
    int64_t dims[EI_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    TRY(set_output(ctx, 0, x->dtype, x->rank, dims));
    TRY(set_output(ctx, 1, EI_DTYPE_INT64, x->rank, dims));
    ctx->scratch_bytes = 2 * (size_t)x->dims[axis] * sizeof(int64_t);
    return EI_STATUS_OK;
}

static ei_status topk_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    int64_t axis, k, outer, n, inner;
    TRY(topk_params(ctx, x, &axis, &k));
    axis_split(x, (int)axis, &outer, &n, &inner);
    bool largest = attr_int(ctx->n, "largest", 1) != 0;
    topk_before_fn before;
    switch (x->dtype) {
    case EI_DTYPE_FLOAT32: before = largest ? topk_f32_largest : topk_f32_smallest; break;
    case EI_DTYPE_FLOAT64: before = largest ? topk_f64_largest : topk_f64_smallest; break;
    case EI_DTYPE_INT32: before = largest ? topk_i32_largest : topk_i32_smallest; break;
    case EI_DTYPE_INT64: before = largest ? topk_i64_largest : topk_i64_smallest; break;
    case EI_DTYPE_UINT32: before = largest ? topk_u32_largest : topk_u32_smallest; break;
    case EI_DTYPE_UINT8: before = largest ? topk_u8_largest : topk_u8_smallest; break;
    default: before = largest ? topk_i8_largest : topk_i8_smallest; break;
    }
    size_t es = dtype_size(x->dtype);
    int64_t *idx = ctx->scratch, *tmp = idx + n;
    const char *xd = x->data;
    char *vals = has_out(ctx, 0) ? ctx->out[0]->data : NULL;
    int64_t *inds = has_out(ctx, 1) ? ctx->out[1]->data : NULL;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const char *row = xd + (o * n * inner + j) * (int64_t)es;
            for (int64_t i = 0; i < n; i++) idx[i] = i;
            merge_sort(idx, tmp, n, before, row, inner);
            for (int64_t i = 0; i < k; i++) {
                int64_t at = o * k * inner + i * inner + j;
                if (vals) memcpy(vals + at * (int64_t)es, row + idx[i] * inner * (int64_t)es, es);
                if (inds) inds[at] = idx[i];
            }
        }
    return EI_STATUS_OK;
}

/* ---- CumSum ---- */

#define DEFINE_CUMSUM(name, T) \
    static void name(const void *xv, void *yv, int64_t outer, int64_t n, int64_t inner, bool exclusive, \
                     bool reverse) \
    { \
        const T *x = xv; \
        T *y = yv; \
        for (int64_t o = 0; o < outer; o++) \
            for (int64_t j = 0; j < inner; j++) { \
                T acc = 0; \
                for (int64_t k = 0; k < n; k++) { \
                    int64_t at = o * n * inner + (reverse ? n - 1 - k : k) * inner + j; \
                    T v = x[at]; \
                    if (exclusive) { \
                        y[at] = acc; \
                        acc = (T)(acc + v); \
                    } else { \
                        acc = (T)(acc + v); \
                        y[at] = acc; \
                    } \
                } \
            } \
    }
DEFINE_CUMSUM(cumsum_f64, double)
DEFINE_CUMSUM(cumsum_u32, uint32_t)
DEFINE_CUMSUM(cumsum_u64, uint64_t)
#undef DEFINE_CUMSUM

/* Signed sums wrap like the unsigned ones instead of overflowing. */
static void cumsum_i64(const void *xv, void *yv, int64_t outer, int64_t n, int64_t inner, bool exclusive,
                       bool reverse, bool narrow)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            uint64_t acc = 0;
            for (int64_t k = 0; k < n; k++) {
                int64_t at = o * n * inner + (reverse ? n - 1 - k : k) * inner + j;
                uint64_t v = narrow ? (uint64_t)((const int32_t *)xv)[at] : (uint64_t)((const int64_t *)xv)[at];
                if (!exclusive) acc += v;
                if (narrow) ((int32_t *)yv)[at] = (int32_t)(uint32_t)acc;
                else ((int64_t *)yv)[at] = (int64_t)acc;
                if (exclusive) acc += v;
            }
        }
}

static ei_status cumsum_axis(op_ctx *ctx, const ei_tensor *x, int64_t *axis)
{
    const ei_tensor *a = ctx->in[1];
    CHECK(ctx, a->dtype == EI_DTYPE_INT64 || a->dtype == EI_DTYPE_INT32, "input axis has dtype %s, expected int32 or int64",
          ei_dtype_name(a->dtype));
    CHECK_SHAPE(ctx, a->rank <= 1 && numel(a) == 1, "input axis has shape %s, expected a scalar", shape_str(a));
    if (!a->data) return EI_STATUS_OK; /* checked again at run */
    int64_t v = tensor_get_i64(a, 0);
    *axis = v;
    CHECK(ctx, norm_axis(axis, x->rank), "axis %lld is out of range for input x of shape %s", (long long)v,
          shape_str(x));
    return EI_STATUS_OK;
}

static ei_status cumsum_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    static const int32_t types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, EI_DTYPE_INT32, EI_DTYPE_INT64,
                                    EI_DTYPE_UINT32, EI_DTYPE_UINT64, 0};
    TRY(check_dtype(ctx, 0, types));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 1, "input x is a scalar, expected at least 1 dim");
    int64_t axis;
    TRY(cumsum_axis(ctx, x, &axis));
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status cumsum_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    int64_t axis, outer, n, inner;
    TRY(cumsum_axis(ctx, x, &axis));
    axis_split(x, (int)axis, &outer, &n, &inner);
    bool excl = attr_int(ctx->n, "exclusive", 0) != 0, rev = attr_int(ctx->n, "reverse", 0) != 0;
    void *y = ctx->out[0]->data;
    switch (x->dtype) {
    case EI_DTYPE_FLOAT32: {
        int64_t block = n * inner;
        for (int64_t o = 0; o < outer; o++)
            f32_cumsum_scalar((size_t)n, (size_t)inner, (const float *)x->data + o * block, (float *)y + o * block,
                              excl, rev);
        break;
    }
    case EI_DTYPE_FLOAT64: cumsum_f64(x->data, y, outer, n, inner, excl, rev); break;
    case EI_DTYPE_UINT32: cumsum_u32(x->data, y, outer, n, inner, excl, rev); break;
    case EI_DTYPE_UINT64: cumsum_u64(x->data, y, outer, n, inner, excl, rev); break;
    default: cumsum_i64(x->data, y, outer, n, inner, excl, rev, x->dtype == EI_DTYPE_INT32); break;
    }
    return EI_STATUS_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax ----
 * Before opset 13 the input is seen as 2-D, [prod(dims[:axis]), prod(dims[axis:])],
 * and the op runs along each flattened row; from 13 it runs along the one
 * axis. Both come down to [outer, n, inner]: rows when inner == 1, columns
 * of an [n, inner] block otherwise. */

enum { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX };

static ei_status softmax_split(op_ctx *ctx, const ei_tensor *x, int64_t *outer, int64_t *n, int64_t *inner)
{
    bool v13 = ctx->opset >= 13;
    int64_t a = attr_int(ctx->n, "axis", v13 ? -1 : 1), axis = a;
    /* the 2-D view also accepts axis == rank: every row holds one element */
    bool ok = v13 ? norm_axis(&axis, x->rank) : (axis == x->rank || norm_axis(&axis, x->rank));
    CHECK(ctx, ok, "attribute axis = %lld is out of range for input of shape %s", (long long)a, shape_str(x));
    if (v13) {
        axis_split(x, (int)axis, outer, n, inner);
    } else {
        *outer = shape_numel((int)axis, x->dims);
        *n = shape_numel(x->rank - (int)axis, x->dims + axis);
        *inner = 1;
    }
    return EI_STATUS_OK;
}

static ei_status softmax_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    static const int32_t types[] = {EI_DTYPE_FLOAT32, 0};
    TRY(check_dtype(ctx, 0, types));
    const ei_tensor *x = ctx->in[0];
    int64_t outer, n, inner;
    TRY(softmax_split(ctx, x, &outer, &n, &inner));
    if (inner > 1) ctx->scratch_bytes = 2 * (size_t)inner * sizeof(float);
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status softmax_run_kind(op_ctx *ctx, int kind)
{
    const ei_tensor *x = ctx->in[0];
    int64_t outer, n, inner;
    TRY(softmax_split(ctx, x, &outer, &n, &inner));
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        const float *in = xd + o * n * inner;
        float *out = yd + o * n * inner;
        if (inner == 1) {
            switch (kind) {
            case SM_SOFTMAX: f32_softmax_row_simd128((size_t)n, in, out); break;
            case SM_LOGSOFTMAX: f32_logsoftmax_row_simd128((size_t)n, in, out); break;
            default: f32_hardmax_row_scalar((size_t)n, in, out); break;
            }
        } else {
            switch (kind) {
            case SM_SOFTMAX: f32_softmax_cols_simd128((size_t)n, (size_t)inner, in, out, ctx->scratch); break;
            case SM_LOGSOFTMAX: f32_logsoftmax_cols_simd128((size_t)n, (size_t)inner, in, out, ctx->scratch); break;
            default: f32_hardmax_cols_scalar((size_t)n, (size_t)inner, in, out); break;
            }
        }
    }
    return EI_STATUS_OK;
}

static ei_status softmax_run(op_ctx *ctx) { return softmax_run_kind(ctx, SM_SOFTMAX); }
static ei_status logsoftmax_run(op_ctx *ctx) { return softmax_run_kind(ctx, SM_LOGSOFTMAX); }
static ei_status hardmax_run(op_ctx *ctx) { return softmax_run_kind(ctx, SM_HARDMAX); }

const op_def reduce_ops[] = {
    {"ReduceSum", "", 1, rsum_infer, NULL, rsum_run, 0},
    {"ReduceMean", "", 1, rmean_infer, NULL, rmean_run, 0},
    {"ReduceMax", "", 1, rmax_infer, NULL, rmax_run, 0},
    {"ReduceMin", "", 1, rmin_infer, NULL, rmin_run, 0},
    {"ReduceProd", "", 1, rprod_infer, NULL, rprod_run, 0},
    {"ReduceL1", "", 1, rl1_infer, NULL, rl1_run, 0},
    {"ReduceL2", "", 1, rl2_infer, NULL, rl2_run, 0},
    {"ReduceLogSum", "", 1, rlogsum_infer, NULL, rlogsum_run, 0},
    {"ReduceLogSumExp", "", 1, rlogsumexp_infer, NULL, rlogsumexp_run, 0},
    {"ReduceSumSquare", "", 1, rsumsq_infer, NULL, rsumsq_run, 0},
    {"ArgMax", "", 1, argext_infer, NULL, argmax_run, 0},
    {"ArgMin", "", 1, argext_infer, NULL, argmin_run, 0},
    {"TopK", "", 1, topk_infer, NULL, topk_run, 0},
    {"CumSum", "", 11, cumsum_infer, NULL, cumsum_run, OP_INPLACE},
    {"Softmax", "", 1, softmax_infer, NULL, softmax_run, OP_INPLACE},
    {"LogSoftmax", "", 1, softmax_infer, NULL, logsoftmax_run, OP_INPLACE},
    {"Hardmax", "", 1, softmax_infer, NULL, hardmax_run, OP_INPLACE},
};
const int reduce_ops_count = (int)(sizeof reduce_ops / sizeof reduce_ops[0]);
