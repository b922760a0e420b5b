/*
 * Ops that belong to no larger family: Compress, Unique, ReverseSequence, Det
 * and the window generators HannWindow, HammingWindow and BlackmanWindow.
 * (MaxUnpool lives with the pooling ops in pool.c.)
 *
 * Compress and Unique have output shapes that depend on input values, so their
 * infer asks for the data (NEED_DATA) and computes the shape from it; run
 * repeats the same deterministic computation to fill the outputs. Indices and
 * lengths read from tensors are checked before anything is read or written
 * through them.
 */
#include <stdlib.h>

#include "op.h"

static const double PI = 3.14159265358979323846;

/* Fails unless input i has a dtype whose elements can be moved as bytes. */
static ei_status check_copyable(op_ctx *ctx, int i, const char *what)
{
    int32_t dt = ctx->in[i]->dtype;
    CHECK_SUPPORTED(ctx, dt != EI_DTYPE_STRING && dtype_size(dt) > 0,
                    "input %s has dtype %s, which this build does not support", what, ei_dtype_name(dt));
    return EI_STATUS_OK;
}

static int64_t prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++) p *= dims[d];
    return p;
}

/* ---- Compress ----
 * A condition shorter than the selected axis (or the flattened input) drops
 * the rest; a true entry past the end of the axis is an error, as in numpy. */

static ei_status compress_args(op_ctx *ctx, bool *has_axis, int64_t *axis, int64_t *count)
{
    const ei_tensor *x = ctx->in[0], *cond = ctx->in[1];
    *axis = attr_int(ctx->n, "axis", INT64_MIN);
    *has_axis = *axis != INT64_MIN;
    int64_t given = *axis;
    if (!*has_axis) *axis = 0;
    if (*has_axis)
        CHECK(ctx, norm_axis(axis, x->rank), "axis %lld is out of range for input %s", (long long)given,
              shape_str(x));
    int64_t len = *has_axis ? x->dims[*axis] : numel(x), n = numel(cond), c = 0;
    const uint8_t *cv = cond->data;
    for (int64_t i = 0; i < n; i++) {
        if (!cv[i]) continue;
        CHECK_SHAPE(ctx, i < len, "condition %s is true at %lld, past the %lld entries of the %s", shape_str(cond),
                    (long long)i, (long long)len, *has_axis ? "axis" : "flattened input");
        c++;
    }
    *count = c;
    return EI_STATUS_OK;
}

static ei_status compress_infer(op_ctx *ctx)
{
    static const int32_t bool_type[] = {EI_DTYPE_BOOL, 0};
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_copyable(ctx, 0, "input"));
    TRY(check_dtype(ctx, 1, bool_type));
    const ei_tensor *x = ctx->in[0], *cond = ctx->in[1];
    CHECK_SHAPE(ctx, cond->rank == 1, "condition %s must be 1-D", shape_str(cond));
    NEED_DATA(ctx, 1);
    bool has_axis;
    int64_t axis, count;
    TRY(compress_args(ctx, &has_axis, &axis, &count));
    if (!has_axis) return set_output(ctx, 0, x->dtype, 1, &count);
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) dims[d] = d == axis ? count : x->dims[d];
    return set_output(ctx, 0, x->dtype, x->rank, dims);
}

static ei_status compress_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *cond = ctx->in[1];
    bool has_axis;
    int64_t axis, count;
    TRY(compress_args(ctx, &has_axis, &axis, &count));
    size_t es = dtype_size(x->dtype);
    /* without an axis the input is one row of single elements */
    int64_t outer = has_axis ? prod(x->dims, 0, (int)axis) : 1;
    int64_t len = has_axis ? x->dims[axis] : numel(x);
    int64_t inner = has_axis ? prod(x->dims, (int)axis + 1, x->rank) : 1;
    size_t slice = (size_t)inner * es;
    int64_t n = numel(cond) < len ? numel(cond) : len;
    const uint8_t *cv = cond->data;
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    if (slice == 0 || count == 0) return EI_STATUS_OK;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < n; i++) {
            if (!cv[i]) continue;
            memcpy(dst, src + (o * len + i) * (int64_t)slice, slice);
            dst += slice;
        }
    }
    return EI_STATUS_OK;
}

/* ---- Unique ----
 * The input is seen as [outer, n, inner] around the axis (or as n single
 * elements without one); the n slices are sorted by a stable merge sort of
 * their indices, comparing slices lexicographically in row-major order as
 * numpy does. Equal slices are then neighbours, and the first of a run is the
 * first occurrence. NaN sorts after every number and equals every NaN. */

typedef struct unique_view {
    const ei_tensor *x;
    int64_t outer, n, inner;
} unique_view;

static ei_status unique_view_of(op_ctx *ctx, unique_view *v, int64_t *axis_out)
{
    const ei_tensor *x = ctx->in[0];
    int64_t given = attr_int(ctx->n, "axis", INT64_MIN);
    v->x = x;
    if (given != INT64_MIN) {
        int64_t axis = given;
        CHECK(ctx, norm_axis(&axis, x->rank), "axis %lld is out of range for input %s", (long long)given,
              shape_str(x));
        v->outer = prod(x->dims, 0, (int)axis);
        v->n = x->dims[axis];
        v->inner = prod(x->dims, (int)axis + 1, x->rank);
        *axis_out = axis;
    } else {
        v->outer = 1;
        v->n = numel(x);
        v->inner = 1;
        *axis_out = -1;
    }
    return EI_STATUS_OK;
}

static int cmp_f64(double a, double b)
{
    if (a < b) return -1;
    if (a > b) return 1;
    if (a == b) return 0;
    return isnan(a) ? (isnan(b) ? 0 : 1) : -1;
}

static int cmp_elem(const ei_tensor *x, int64_t i, int64_t j)
{
    switch (x->dtype) {
    case EI_DTYPE_FLOAT32: return cmp_f64(((const float *)x->data)[i], ((const float *)x->data)[j]);
    case EI_DTYPE_FLOAT64: return cmp_f64(((const double *)x->data)[i], ((const double *)x->data)[j]);
    case EI_DTYPE_UINT64: {
        uint64_t a = ((const uint64_t *)x->data)[i], b = ((const uint64_t *)x->data)[j];
        return (a > b) - (a < b);
    }
    default: {
        int64_t a = tensor_get_i64(x, i), b = tensor_get_i64(x, j);
        return (a > b) - (a < b);
    }
    }
}

static int cmp_slices(const unique_view *v, int64_t a, int64_t b)
{
    for (int64_t o = 0; o < v->outer; o++) {
        int64_t base = o * v->n * v->inner;
        for (int64_t j = 0; j < v->inner; j++) {
            int c = cmp_elem(v->x, base + a * v->inner + j, base + b * v->inner + j);
            if (c) return c;
        }
    }
    return 0;
}

/* Sorts perm[0..n) = slice indices, stably; tmp holds n entries. */
static void unique_sort(const unique_view *v, int64_t *perm, int64_t *tmp)
{
    int64_t n = v->n;
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = cmp_slices(v, perm[j], perm[i]) < 0 ? perm[j++] : perm[i++];
            while (i < mid) tmp[k++] = perm[i++];
            while (j < hi) tmp[k++] = perm[j++];
        }
        memcpy(perm, tmp, (size_t)n * sizeof *perm);
    }
}

/* Number of distinct slices in a sorted permutation. */
static int64_t unique_count(const unique_view *v, const int64_t *perm)
{
    int64_t k = 0;
    for (int64_t i = 0; i < v->n; i++)
        if (i == 0 || cmp_slices(v, perm[i - 1], perm[i]) != 0) k++;
    return k;
}

static ei_status unique_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_copyable(ctx, 0, "X"));
    const ei_tensor *x = ctx->in[0];
    CHECK_SUPPORTED(ctx, x->dtype != EI_DTYPE_FLOAT16, "input X has dtype float16, which Unique does not support");
    int64_t so = attr_int(ctx->n, "sorted", 1);
    CHECK(ctx, so == 0 || so == 1, "attribute sorted = %lld, expected 0 or 1", (long long)so);
    unique_view v;
    int64_t axis;
    TRY(unique_view_of(ctx, &v, &axis));
    NEED_DATA(ctx, 0);
    /* Counting needs the sort, and infer has no scratch: a temporary
     * allocation, released before returning, is the only way to stay
     * O(n log n) on large inputs. */
    CHECK_SHAPE(ctx, (uint64_t)v.n <= SIZE_MAX / (4 * sizeof(int64_t)), "input %s is too large", shape_str(x));
    int64_t k = 0;
    if (v.n > 0) {
        int64_t *perm = malloc(2 * (size_t)v.n * sizeof(int64_t));
        if (!perm) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory sorting %lld slices", (long long)v.n);
        unique_sort(&v, perm, perm + v.n);
        k = unique_count(&v, perm);
        free(perm);
    }
    /* run keeps the sorted permutation, a merge buffer and the output position of each group */
    ctx->scratch_bytes = 3 * (size_t)v.n * sizeof(int64_t);
    int64_t dims[EI_MAX_DIMS];
    if (axis < 0) {
        TRY(set_output(ctx, 0, x->dtype, 1, &k));
    } else {
        for (int d = 0; d < x->rank; d++) dims[d] = d == axis ? k : x->dims[d];
        TRY(set_output(ctx, 0, x->dtype, x->rank, dims));
    }
    TRY(set_output(ctx, 1, EI_DTYPE_INT64, 1, &k));
    TRY(set_output(ctx, 2, EI_DTYPE_INT64, 1, &v.n));
    return set_output(ctx, 3, EI_DTYPE_INT64, 1, &k);
}

static ei_status unique_run(op_ctx *ctx)
{
    unique_view v;
    int64_t axis;
    TRY(unique_view_of(ctx, &v, &axis));
    bool sorted = attr_int(ctx->n, "sorted", 1) != 0;
    int64_t n = v.n;
    if (n == 0) return EI_STATUS_OK;
    int64_t *perm = ctx->scratch, *tmp = perm + n, *pos = tmp + n;
    unique_sort(&v, perm, tmp);

    /* Groups of equal slices in sorted order: group g starts at perm[start] and
     * that start is its first occurrence, the sort being stable. tmp[i] marks
     * which group (if any) first occurs at slice i. */
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) tmp[i] = -1;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || cmp_slices(&v, perm[i - 1], perm[i]) != 0) tmp[perm[i]] = k++;
    CHECK_SHAPE(ctx, ctx->out[0]->rank >= 1 && k == (axis < 0 ? ctx->out[0]->dims[0] : ctx->out[0]->dims[axis]),
                "found %lld distinct values, but the output was planned for another count", (long long)k);
    /* pos[g]: where group g goes in the outputs */
    if (sorted) {
        for (int64_t g = 0; g < k; g++) pos[g] = g;
    } else {
        int64_t p = 0;
        for (int64_t i = 0; i < n; i++)
            if (tmp[i] >= 0) pos[tmp[i]] = p++;
    }

    const ei_tensor *x = v.x;
    size_t es = dtype_size(x->dtype), slice = (size_t)v.inner * es;
    const char *src = x->data;
    char *y = ctx->out[0]->data;
    int64_t *indices = has_out(ctx, 1) ? ctx->out[1]->data : NULL;
    int64_t *inverse = has_out(ctx, 2) ? ctx->out[2]->data : NULL;
    int64_t *counts = has_out(ctx, 3) ? ctx->out[3]->data : NULL;
    int64_t g = -1, first = 0;
    for (int64_t i = 0; i < n; i++) {
        if (tmp[perm[i]] >= 0) {
            g = tmp[perm[i]];
            first = perm[i];
            int64_t p = pos[g];
            if (indices) indices[p] = first;
            if (counts) counts[p] = 0;
            for (int64_t o = 0; slice && o < v.outer; o++)
                memcpy(y + (o * k + p) * (int64_t)slice, src + (o * n + first) * (int64_t)slice, slice);
        }
        if (counts) counts[pos[g]]++;
        if (inverse) inverse[perm[i]] = pos[g];
    }
    return EI_STATUS_OK;
}

/* ---- ReverseSequence ----
 * The input is [time, batch, ...] or [batch, time, ...]; the first
 * sequence_lens[b] steps of batch entry b are reversed, the rest copied. */

static ei_status reverse_axes(op_ctx *ctx, int *time_axis)
{
    int64_t t = attr_int(ctx->n, "time_axis", 0), b = attr_int(ctx->n, "batch_axis", 1);
    CHECK(ctx, (t == 0 && b == 1) || (t == 1 && b == 0),
          "time_axis = %lld and batch_axis = %lld, expected 0 and 1 in either order", (long long)t, (long long)b);
    *time_axis = (int)t;
    return EI_STATUS_OK;
}

static ei_status reverse_infer(op_ctx *ctx)
{
    static const int32_t len_type[] = {EI_DTYPE_INT64, 0};
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_copyable(ctx, 0, "input"));
    TRY(check_dtype(ctx, 1, len_type));
    const ei_tensor *x = ctx->in[0], *lens = ctx->in[1];
    int ta = 0;
    TRY(reverse_axes(ctx, &ta));
    CHECK_SHAPE(ctx, x->rank >= 2, "input %s has rank %d, expected at least 2", shape_str(x), x->rank);
    CHECK_SHAPE(ctx, lens->rank == 1 && lens->dims[0] == x->dims[1 - ta],
                "sequence_lens %s must be [batch] with batch = %lld", shape_str(lens), (long long)x->dims[1 - ta]);
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status reverse_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *lens = ctx->in[1];
    int ta = 0;
    TRY(reverse_axes(ctx, &ta));
    int64_t steps = x->dims[ta], batch = x->dims[1 - ta];
    const int64_t *lv = lens->data;
    for (int64_t b = 0; b < batch; b++)
        if (lv[b] < 0 || lv[b] > steps)
            return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is out of range [0, %lld]",
                           (long long)b, (long long)lv[b], (long long)steps);
    size_t slice = (size_t)prod(x->dims, 2, x->rank) * dtype_size(x->dtype);
    if (slice == 0) return EI_STATUS_OK;
    const char *src = x->data;
    char *dst = ctx->out[0]->data;
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t t = 0; t < steps; t++) {
            int64_t from = t < lv[b] ? lv[b] - 1 - t : t;
            int64_t di = ta == 0 ? t * batch + b : b * steps + t;
            int64_t si = ta == 0 ? from * batch + b : b * steps + from;
            memcpy(dst + di * (int64_t)slice, src + si * (int64_t)slice, slice);
        }
    }
    return EI_STATUS_OK;
}

/* ---- Det ----
 * LU decomposition with partial pivoting, in double whatever the input. */

static ei_status det_infer(op_ctx *ctx)
{
    static const int32_t types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, types));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 2 && x->dims[x->rank - 1] == x->dims[x->rank - 2],
                "input %s must be [..., M, M]", shape_str(x));
    int64_t m = x->dims[x->rank - 1];
    CHECK_SHAPE(ctx, m <= ((int64_t)1 << 20), "matrix side %lld is too large", (long long)m);
    int64_t batch = prod(x->dims, 0, x->rank - 2);
    CHECK_SHAPE(ctx, (uint64_t)(m * m) <= SIZE_MAX / (2 * sizeof(double)), "matrices of %s are too large",
                shape_str(x));
    if (batch > 0) ctx->scratch_bytes = (size_t)(m * m) * sizeof(double);
    return set_output(ctx, 0, x->dtype, x->rank - 2, x->dims);
}

static double det_lu(double *a, int64_t m)
{
    double det = 1;
    for (int64_t c = 0; c < m; c++) {
        int64_t p = c;
        for (int64_t r = c + 1; r < m; r++)
            if (fabs(a[r * m + c]) > fabs(a[p * m + c])) p = r;
        if (a[p * m + c] == 0) return 0; /* singular (a NaN pivot falls through and spreads) */
        if (p != c) {
            for (int64_t k = 0; k < m; k++) {
                double t = a[c * m + k];
                a[c * m + k] = a[p * m + k];
                a[p * m + k] = t;
            }
            det = -det;
        }
        double piv = a[c * m + c];
        det *= piv;
        for (int64_t r = c + 1; r < m; r++) {
            double f = a[r * m + c] / piv;
            for (int64_t k = c + 1; k < m; k++) a[r * m + k] -= f * a[c * m + k];
        }
    }
    return det;
}

static ei_status det_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    int64_t m = x->dims[x->rank - 1], batch = prod(x->dims, 0, x->rank - 2);
    double *a = ctx->scratch;
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t i = 0; i < m * m; i++) a[i] = tensor_get_f64(x, b * m * m + i);
        tensor_set_f64(ctx->out[0], b, det_lu(a, m));
    }
    return EI_STATUS_OK;
}

/* ---- HannWindow, HammingWindow, BlackmanWindow (opset 17) ----
 * Generalised cosine windows w[n] = a0 - a1 cos(2 pi n / L) + a2 cos(4 pi n / L)
 * with L = size when periodic, size - 1 when symmetric. A symmetric window of
 * one sample would divide 0 by 0; it uses angle 0 instead. */

enum { WIN_HANN, WIN_HAMMING, WIN_BLACKMAN };

static ei_status window_size(op_ctx *ctx, int64_t *size)
{
    const ei_tensor *s = ctx->in[0];
    *size = tensor_get_i64(s, 0);
    CHECK_SHAPE(ctx, *size >= 0, "size = %lld is negative", (long long)*size);
    return EI_STATUS_OK;
}

static ei_status window_infer(op_ctx *ctx)
{
    static const int32_t size_types[] = {EI_DTYPE_INT32, EI_DTYPE_INT64, 0};
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, size_types));
    const ei_tensor *s = ctx->in[0];
    CHECK_SHAPE(ctx, numel(s) == 1 && s->rank <= 1, "size %s must be a scalar", shape_str(s));
    int64_t dt = attr_int(ctx->n, "output_datatype", EI_DTYPE_FLOAT32);
    CHECK_SUPPORTED(ctx, dt == EI_DTYPE_FLOAT32 || dt == EI_DTYPE_FLOAT64 || dtype_is_int((int32_t)dt),
                    "output_datatype %lld is not supported", (long long)dt);
    int64_t p = attr_int(ctx->n, "periodic", 1);
    CHECK(ctx, p == 0 || p == 1, "attribute periodic = %lld, expected 0 or 1", (long long)p);
    NEED_DATA(ctx, 0);
    int64_t size;
    TRY(window_size(ctx, &size));
    return set_output(ctx, 0, (int32_t)dt, 1, &size);
}

static ei_status window_run_kind(op_ctx *ctx, int kind)
{
    int64_t size;
    TRY(window_size(ctx, &size));
    bool periodic = attr_int(ctx->n, "periodic", 1) != 0;
    double a0, a1, a2 = 0;
    switch (kind) {
    case WIN_HANN: a0 = 0.5, a1 = 0.5; break;
    case WIN_HAMMING: a0 = 25.0 / 46.0, a1 = 21.0 / 46.0; break;
    default: a0 = 0.42, a1 = 0.5, a2 = 0.08; break;
    }
    int64_t len = periodic ? size : size - 1;
    for (int64_t i = 0; i < size; i++) {
        double t = len > 0 ? 2 * PI * (double)i / (double)len : 0;
        tensor_set_f64(ctx->out[0], i, a0 - a1 * cos(t) + a2 * cos(2 * t));
    }
    return EI_STATUS_OK;
}

static ei_status hann_run(op_ctx *ctx) { return window_run_kind(ctx, WIN_HANN); }
static ei_status hamming_run(op_ctx *ctx) { return window_run_kind(ctx, WIN_HAMMING); }
static ei_status blackman_run(op_ctx *ctx) { return window_run_kind(ctx, WIN_BLACKMAN); }

const op_def misc_ops[] = {
    {"Compress", "", 9, compress_infer, NULL, compress_run, 0},
    {"Unique", "", 11, unique_infer, NULL, unique_run, 0},
    {"ReverseSequence", "", 10, reverse_infer, NULL, reverse_run, 0},
    {"Det", "", 11, det_infer, NULL, det_run, 0},
    {"HannWindow", "", 17, window_infer, NULL, hann_run, 0},
    {"HammingWindow", "", 17, window_infer, NULL, hamming_run, 0},
    {"BlackmanWindow", "", 17, window_infer, NULL, blackman_run, 0},
};
const int misc_ops_count = (int)(sizeof misc_ops / sizeof misc_ops[0]);
