/*
 * Layout ops: they move, copy or drop elements without computing on them
 * (Reshape, Transpose, Concat, Split, Slice, Pad, Tile, Expand, DepthToSpace,
 * Trilu ...), plus Shape and Size, which read only shapes. They work for
 * every dtype by moving elements by their byte size, through the strided copy
 * kernel in kernels/transpose.c.
 *
 * Infer validates everything (attributes, index tensors, element counts); run
 * parses the same attributes and index tensors again, because infer keeps no
 * state, and then only copies. Attributes that later opsets turned into inputs
 * (Split's split, Squeeze's axes, Slice's starts, Pad's pads ...) are read
 * from wherever ctx->opset says they live.
 */
#include "op.h"

#include "../kernels/transpose.h"

/* ---- shared helpers ---- */

static bool mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static bool add_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }

/* Fails for dtypes whose elements have no fixed size (strings) or are unknown. */
static ei_status check_elem(op_ctx *ctx, int i)
{
    CHECK_SUPPORTED(ctx, dtype_size(ctx->in[i]->dtype) > 0, "input %d has dtype %s, which has no fixed element size",
                    i, ei_dtype_name(ctx->in[i]->dtype));
    return EI_STATUS_OK;
}

/* An integer list that an opset keeps in an attribute and a later one in an input. */
typedef struct int_list {
    int64_t n;           /* -1 when absent */
    const int64_t *a;    /* from an attribute */
    const ei_tensor *t;  /* from an input */
} int_list;

static int64_t list_get(const int_list *l, int64_t k) { return l->a ? l->a[k] : tensor_get_i64(l->t, k); }

/* Reads input i (as_input) or attribute `name` into *l. In infer, an input without a value yet
 * returns EI_STATUS_NEEDS_DATA. */
static ei_status get_list(op_ctx *ctx, bool as_input, int i, const char *name, int_list *l)
{
    l->n = -1;
    l->a = NULL;
    l->t = NULL;
    if (!as_input) {
        const int64_t *v;
        int n = attr_ints(ctx->n, name, &v);
        if (n < 0) {
            const attr *a = attr_find(ctx->n, name);
            CHECK(ctx, !a, "attribute '%s' must be a list of ints", name);
            return EI_STATUS_OK;
        }
        l->n = n;
        l->a = v;
        return EI_STATUS_OK;
    }
    if (!has_in(ctx, i)) return EI_STATUS_OK;
    NEED_DATA(ctx, i);
    const ei_tensor *t = ctx->in[i];
    CHECK(ctx, t->dtype == EI_DTYPE_INT64 || t->dtype == EI_DTYPE_INT32,
          "input %d ('%s') has dtype %s, expected int64 or int32", i, name, ei_dtype_name(t->dtype));
    CHECK(ctx, t->rank <= 1, "input %d ('%s') has shape %s, expected a 1-D tensor", i, name, shape_str(t));
    l->n = numel(t);
    l->t = t;
    return EI_STATUS_OK;
}

/* Copies input 0 to output 0 unless they share memory (the in-place ops). */
static void copy_input(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = has_out(ctx, 0) ? ctx->out[0] : NULL;
    if (!y || y->data == x->data) return;
    int64_t nb = tensor_nbytes(x);
    if (nb > 0) memcpy(y->data, x->data, (size_t)nb);
}

static ei_status run_copy(op_ctx *ctx)
{
    copy_input(ctx);
    return EI_STATUS_OK;
}

/* Normalises a list of axes against `rank` into out[], rejecting out-of-range and repeated axes. */
static ei_status norm_axes(op_ctx *ctx, const int_list *l, int rank, int64_t *out)
{
    CHECK(ctx, l->n <= rank, "%lld axes given for rank %d", (long long)l->n, rank);
    for (int64_t k = 0; k < l->n; k++) {
        int64_t a = list_get(l, k);
        CHECK(ctx, norm_axis(&a, rank), "axis %lld is out of range for rank %d", (long long)a, rank);
        for (int64_t j = 0; j < k; j++) CHECK(ctx, out[j] != a, "axis %lld appears twice", (long long)a);
        out[k] = a;
    }
    return EI_STATUS_OK;
}

/* ---- Reshape ---- */

static ei_status reshape_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int_list s;
    TRY(get_list(ctx, true, 1, "shape", &s));
    CHECK_SHAPE(ctx, s.n <= EI_MAX_DIMS, "shape has %lld values, at most %d dims supported", (long long)s.n,
                EI_MAX_DIMS);
    bool allowzero = ctx->opset >= 14 && attr_int(ctx->n, "allowzero", 0) != 0;
    int64_t dims[EI_MAX_DIMS], known = 1;
    int infer_at = -1;
    bool has_zero = false;
    for (int i = 0; i < s.n; i++) {
        int64_t v = list_get(&s, i);
        if (v == -1) {
            CHECK_SHAPE(ctx, infer_at < 0, "shape has -1 at both index %d and %d, at most one allowed", infer_at, i);
            infer_at = i;
            dims[i] = 1;
            continue;
        }
        CHECK_SHAPE(ctx, v >= 0, "shape value %lld at index %d is invalid (below -1)", (long long)v, i);
        if (v == 0 && !allowzero) {
            CHECK_SHAPE(ctx, i < x->rank, "shape value 0 at index %d copies an input dim, but input has shape %s",
                        i, shape_str(x));
            v = x->dims[i];
        } else if (v == 0) {
            has_zero = true;
        }
        dims[i] = v;
        CHECK_SHAPE(ctx, mul_ok(known, v, &known), "shape product overflows");
    }
    int64_t total = numel(x);
    if (infer_at >= 0) {
        CHECK_SHAPE(ctx, !has_zero, "shape has both 0 and -1 with allowzero=1");
        CHECK_SHAPE(ctx, known > 0, "cannot infer the -1 dim when the other dims have 0 elements (input %s)",
                    shape_str(x));
        CHECK_SHAPE(ctx, total % known == 0, "cannot reshape input %s (%lld elements) to a multiple of %lld",
                    shape_str(x), (long long)total, (long long)known);
        dims[infer_at] = total / known;
    } else {
        CHECK_SHAPE(ctx, known == total, "cannot reshape input %s (%lld elements) to %lld elements", shape_str(x),
                    (long long)total, (long long)known);
    }
    return set_output(ctx, 0, x->dtype, (int)s.n, dims);
}

/* ---- Flatten ---- */

static ei_status flatten_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int64_t axis = attr_int(ctx->n, "axis", 1);
    CHECK(ctx, axis >= -x->rank && axis <= x->rank, "axis %lld is out of range for input %s", (long long)axis,
          shape_str(x));
    if (axis < 0) axis += x->rank;
    int64_t dims[2] = {shape_numel((int)axis, x->dims), shape_numel(x->rank - (int)axis, x->dims + axis)};
    return set_output(ctx, 0, x->dtype, 2, dims);
}

/* ---- Identity, Dropout ---- */

static ei_status identity_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_elem(ctx, 0));
    return set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
}

/* Inference-mode Dropout is the identity; a training-mode dropout with a nonzero ratio would need
 * random numbers and is refused. */
static ei_status dropout_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, ctx->opset >= 12 ? 3 : 1, 1));
    TRY(check_elem(ctx, 0));
    CHECK(ctx, ctx->n_out >= 1 && ctx->n_out <= 2, "has %d outputs, expected 1 or 2", ctx->n_out);
    const ei_tensor *x = ctx->in[0];
    if (has_in(ctx, 2)) {
        NEED_DATA(ctx, 2);
        const ei_tensor *tm = ctx->in[2];
        CHECK(ctx, tm->dtype == EI_DTYPE_BOOL && numel(tm) == 1, "training_mode must be one bool, got %s %s",
              ei_dtype_name(tm->dtype), shape_str(tm));
        if (tensor_get_i64(tm, 0)) {
            double ratio = 0.5;
            if (has_in(ctx, 1)) {
                NEED_DATA(ctx, 1);
                CHECK(ctx, dtype_is_float(ctx->in[1]->dtype) && ctx->in[1]->dtype != EI_DTYPE_FLOAT16 &&
                               numel(ctx->in[1]) == 1,
                      "ratio must be one float32 or float64, got %s %s", ei_dtype_name(ctx->in[1]->dtype),
                      shape_str(ctx->in[1]));
                ratio = tensor_get_f64(ctx->in[1], 0);
            }
            CHECK_SUPPORTED(ctx, ratio == 0, "training_mode is true with ratio %g: random dropout is not supported",
                            ratio);
        }
    }
    TRY(set_output(ctx, 0, x->dtype, x->rank, x->dims));
    /* The mask is bool from opset 10; before, it had the input's dtype. */
    return set_output(ctx, 1, ctx->opset >= 10 ? EI_DTYPE_BOOL : x->dtype, x->rank, x->dims);
}

static ei_status dropout_run(op_ctx *ctx)
{
    copy_input(ctx);
    if (!has_out(ctx, 1)) return EI_STATUS_OK;
    ei_tensor *mask = ctx->out[1];
    unsigned char one[8] = {0};
    size_t es = dtype_size(mask->dtype);
    if (mask->dtype == EI_DTYPE_FLOAT16) {
        uint16_t h = 0x3C00; /* 1.0 in IEEE half precision */
        memcpy(one, &h, 2);
    } else {
        ei_tensor v = {mask->dtype, 0, {0}, one};
        tensor_set_f64(&v, 0, 1.0);
    }
    xN_fill(es, mask->data, one, numel(mask));
    return EI_STATUS_OK;
}

/* ---- Shape, Size: folded at plan time from input shapes ---- */

static void shape_range(op_ctx *ctx, int64_t *start, int64_t *end)
{
    int64_t r = ctx->in[0]->rank;
    int64_t s = 0, e = r;
    if (ctx->opset >= 15) {
        s = attr_int(ctx->n, "start", 0);
        e = attr_int(ctx->n, "end", r);
    }
    if (s < 0) s = s < -r ? 0 : s + r;
    if (e < 0) e = e < -r ? 0 : e + r;
    if (s > r) s = r;
    if (e > r) e = r;
    *start = s;
    *end = e > s ? e : s;
}

static ei_status shape_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    int64_t s, e;
    shape_range(ctx, &s, &e);
    int64_t len = e - s;
    return set_output(ctx, 0, EI_DTYPE_INT64, 1, &len);
}

static ei_status shape_run(op_ctx *ctx)
{
    int64_t s, e;
    shape_range(ctx, &s, &e);
    int64_t *y = ctx->out[0]->data;
    for (int64_t i = s; i < e; i++) y[i - s] = ctx->in[0]->dims[i];
    return EI_STATUS_OK;
}

static ei_status size_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    return set_output(ctx, 0, EI_DTYPE_INT64, 0, NULL);
}

static ei_status size_run(op_ctx *ctx)
{
    *(int64_t *)ctx->out[0]->data = numel(ctx->in[0]);
    return EI_STATUS_OK;
}

/* ---- Squeeze, Unsqueeze ---- */

static ei_status squeeze_infer(op_ctx *ctx)
{
    bool as_input = ctx->opset >= 13;
    TRY(check_arity(ctx, 1, as_input ? 2 : 1, 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int_list l;
    TRY(get_list(ctx, as_input, 1, "axes", &l));
    bool drop[EI_MAX_DIMS] = {false};
    if (l.n < 0) {
        for (int d = 0; d < x->rank; d++) drop[d] = x->dims[d] == 1;
    } else {
        int64_t axes[EI_MAX_DIMS];
        TRY(norm_axes(ctx, &l, x->rank, axes));
        for (int64_t k = 0; k < l.n; k++) {
            CHECK_SHAPE(ctx, x->dims[axes[k]] == 1, "cannot squeeze axis %lld of input %s: its size is not 1",
                        (long long)axes[k], shape_str(x));
            drop[axes[k]] = true;
        }
    }
    int64_t dims[EI_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (!drop[d]) dims[r++] = x->dims[d];
    return set_output(ctx, 0, x->dtype, r, dims);
}

static ei_status unsqueeze_infer(op_ctx *ctx)
{
    bool as_input = ctx->opset >= 13;
    TRY(check_arity(ctx, as_input ? 2 : 1, as_input ? 2 : 1, as_input ? 2 : 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int_list l;
    TRY(get_list(ctx, as_input, 1, "axes", &l));
    CHECK(ctx, l.n >= 0, "axes are required");
    CHECK_SHAPE(ctx, x->rank + l.n <= EI_MAX_DIMS, "output would have rank %lld (at most %d supported)",
                (long long)(x->rank + l.n), EI_MAX_DIMS);
    int r = x->rank + (int)l.n;
    int64_t axes[EI_MAX_DIMS];
    TRY(norm_axes(ctx, &l, r, axes));
    bool ins[EI_MAX_DIMS] = {false};
    for (int64_t k = 0; k < l.n; k++) ins[axes[k]] = true;
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0, j = 0; d < r; d++) dims[d] = ins[d] ? 1 : x->dims[j++];
    return set_output(ctx, 0, x->dtype, r, dims);
}

/* ---- Transpose ---- */

static ei_status transpose_perm(op_ctx *ctx, int64_t *perm)
{
    const ei_tensor *x = ctx->in[0];
    const int64_t *p;
    int n = attr_ints(ctx->n, "perm", &p);
    if (n < 0) {
        for (int d = 0; d < x->rank; d++) perm[d] = x->rank - 1 - d;
        return EI_STATUS_OK;
    }
    CHECK(ctx, n == x->rank, "perm has %d values but input %s has rank %d", n, shape_str(x), x->rank);
    bool seen[EI_MAX_DIMS] = {false};
    for (int d = 0; d < n; d++) {
        CHECK(ctx, p[d] >= 0 && p[d] < n && !seen[p[d]], "perm is not a permutation of 0..%d (value %lld at %d)",
              n - 1, (long long)p[d], d);
        seen[p[d]] = true;
        perm[d] = p[d];
    }
    return EI_STATUS_OK;
}

static ei_status transpose_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int64_t perm[EI_MAX_DIMS], dims[EI_MAX_DIMS];
    TRY(transpose_perm(ctx, perm));
    for (int d = 0; d < x->rank; d++) dims[d] = x->dims[perm[d]];
    return set_output(ctx, 0, x->dtype, x->rank, dims);
}

static ei_status transpose_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t perm[EI_MAX_DIMS], xs[EI_MAX_DIMS], ys[EI_MAX_DIMS], src[EI_MAX_DIMS];
    TRY(transpose_perm(ctx, perm));
    shape_strides(x->rank, x->dims, xs);
    shape_strides(y->rank, y->dims, ys);
    for (int d = 0; d < x->rank; d++) src[d] = xs[perm[d]];
    xN_copy_strided(dtype_size(x->dtype), y->rank, y->dims, y->data, ys, x->data, src);
    return EI_STATUS_OK;
}

/* ---- Concat ---- */

static ei_status concat_axis(op_ctx *ctx, int64_t *axis)
{
    const attr *a = attr_find(ctx->n, "axis");
    CHECK(ctx, a || ctx->opset < 4, "attribute 'axis' is required");
    *axis = attr_int(ctx->n, "axis", 1);
    CHECK(ctx, norm_axis(axis, ctx->in[0]->rank), "axis %lld is out of range for input 0 of shape %s",
          (long long)*axis, shape_str(ctx->in[0]));
    return EI_STATUS_OK;
}

static ei_status concat_infer(op_ctx *ctx)
{
    CHECK(ctx, ctx->n_in >= 1, "has no inputs");
    TRY(check_arity(ctx, 1, ctx->n_in, ctx->n_in));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x0 = ctx->in[0];
    int64_t axis;
    TRY(concat_axis(ctx, &axis));
    int64_t dims[EI_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < ctx->n_in; i++) {
        const ei_tensor *x = ctx->in[i];
        CHECK_SHAPE(ctx, x->dtype == x0->dtype, "input %d has dtype %s, input 0 has %s", i, ei_dtype_name(x->dtype),
                    ei_dtype_name(x0->dtype));
        CHECK_SHAPE(ctx, x->rank == x0->rank, "input %d has shape %s, input 0 has %s (ranks differ)", i,
                    shape_str(x), shape_str(x0));
        for (int d = 0; d < x->rank; d++)
            CHECK_SHAPE(ctx, d == axis || x->dims[d] == x0->dims[d],
                        "input %d has shape %s, input 0 has %s: dims differ off axis %lld", i, shape_str(x),
                        shape_str(x0), (long long)axis);
        CHECK_SHAPE(ctx, add_ok(dims[axis], x->dims[axis], &dims[axis]), "concatenated size overflows");
    }
    return set_output(ctx, 0, x0->dtype, x0->rank, dims);
}

static ei_status concat_run(op_ctx *ctx)
{
    ei_tensor *y = ctx->out[0];
    int64_t axis;
    TRY(concat_axis(ctx, &axis));
    if (numel(y) == 0) return EI_STATUS_OK;
    size_t es = dtype_size(y->dtype);
    int64_t outer = shape_numel((int)axis, y->dims);
    int64_t inner = shape_numel(y->rank - (int)axis - 1, y->dims + axis + 1);
    int64_t off = 0;
    for (int i = 0; i < ctx->n_in; i++) {
        const ei_tensor *x = ctx->in[i];
        int64_t row = x->dims[axis] * inner;
        int64_t dims[2] = {outer, row}, ds[2] = {y->dims[axis] * inner, 1}, ss[2] = {row, 1};
        if (row > 0) xN_copy_strided(es, 2, dims, (char *)y->data + off * (int64_t)es, ds, x->data, ss);
        off += row;
    }
    return EI_STATUS_OK;
}

/* ---- Split ---- */

typedef struct split_plan {
    int64_t axis;
    int_list parts; /* n < 0: equal parts */
    int64_t equal;
} split_plan;

static ei_status split_parse(op_ctx *ctx, split_plan *p)
{
    bool as_input = ctx->opset >= 13;
    TRY(check_arity(ctx, 1, as_input ? 2 : 1, 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    CHECK(ctx, ctx->n_out >= 1, "has no outputs");
    p->axis = attr_int(ctx->n, "axis", 0);
    CHECK(ctx, norm_axis(&p->axis, x->rank), "axis %lld is out of range for input %s", (long long)p->axis,
          shape_str(x));
    int64_t dim = x->dims[p->axis];
    TRY(get_list(ctx, as_input, 1, "split", &p->parts));
    if (p->parts.n < 0) {
        CHECK_SHAPE(ctx, dim % ctx->n_out == 0, "axis %lld of input %s does not split into %d equal parts",
                    (long long)p->axis, shape_str(x), ctx->n_out);
        p->equal = dim / ctx->n_out;
        return EI_STATUS_OK;
    }
    CHECK(ctx, p->parts.n == ctx->n_out, "split has %lld values for %d outputs", (long long)p->parts.n, ctx->n_out);
    int64_t sum = 0;
    for (int64_t k = 0; k < p->parts.n; k++) {
        int64_t v = list_get(&p->parts, k);
        CHECK_SHAPE(ctx, v >= 0 && v <= dim, "split value %lld at index %lld is out of range for axis size %lld",
                    (long long)v, (long long)k, (long long)dim);
        sum += v;
        CHECK_SHAPE(ctx, sum <= dim, "split values add up to more than axis %lld of input %s", (long long)p->axis,
                    shape_str(x));
    }
    CHECK_SHAPE(ctx, sum == dim, "split values add up to %lld, but axis %lld of input %s has %lld", (long long)sum,
                (long long)p->axis, shape_str(x), (long long)dim);
    return EI_STATUS_OK;
}

static int64_t split_part(const split_plan *p, int k) { return p->parts.n < 0 ? p->equal : list_get(&p->parts, k); }

static ei_status split_infer(op_ctx *ctx)
{
    split_plan p;
    TRY(split_parse(ctx, &p));
    const ei_tensor *x = ctx->in[0];
    int64_t dims[EI_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    for (int k = 0; k < ctx->n_out; k++) {
        dims[p.axis] = split_part(&p, k);
        TRY(set_output(ctx, k, x->dtype, x->rank, dims));
    }
    return EI_STATUS_OK;
}

static ei_status split_run(op_ctx *ctx)
{
    split_plan p;
    TRY(split_parse(ctx, &p));
    const ei_tensor *x = ctx->in[0];
    if (numel(x) == 0) return EI_STATUS_OK;
    size_t es = dtype_size(x->dtype);
    int64_t outer = shape_numel((int)p.axis, x->dims);
    int64_t inner = shape_numel(x->rank - (int)p.axis - 1, x->dims + p.axis + 1);
    int64_t off = 0;
    for (int k = 0; k < ctx->n_out; k++) {
        int64_t row = split_part(&p, k) * inner;
        if (has_out(ctx, k) && row > 0) {
            int64_t dims[2] = {outer, row}, ds[2] = {row, 1}, ss[2] = {x->dims[p.axis] * inner, 1};
            xN_copy_strided(es, 2, dims, ctx->out[k]->data, ds, (const char *)x->data + off * (int64_t)es, ss);
        }
        off += row;
    }
    return EI_STATUS_OK;
}

/* ---- Slice ---- */

typedef struct slice_plan {
    int64_t start[EI_MAX_DIMS], step[EI_MAX_DIMS], len[EI_MAX_DIMS];
} slice_plan;

static ei_status slice_parse(op_ctx *ctx, slice_plan *p)
{
    bool as_input = ctx->opset >= 10;
    TRY(check_arity(ctx, as_input ? 3 : 1, as_input ? 5 : 1, as_input ? 3 : 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int_list starts, ends, axes, steps = {-1, NULL, NULL}; /* steps came with the inputs, never an attribute */
    TRY(get_list(ctx, as_input, 1, "starts", &starts));
    TRY(get_list(ctx, as_input, 2, "ends", &ends));
    TRY(get_list(ctx, as_input, 3, "axes", &axes));
    if (as_input) TRY(get_list(ctx, true, 4, "steps", &steps));
    CHECK(ctx, starts.n >= 0 && ends.n >= 0, "starts and ends are required");
    CHECK(ctx, starts.n == ends.n, "starts has %lld values, ends has %lld", (long long)starts.n, (long long)ends.n);
    CHECK(ctx, axes.n < 0 || axes.n == starts.n, "axes has %lld values, starts has %lld", (long long)axes.n,
          (long long)starts.n);
    CHECK(ctx, steps.n < 0 || steps.n == starts.n, "steps has %lld values, starts has %lld", (long long)steps.n,
          (long long)starts.n);
    CHECK(ctx, starts.n <= x->rank, "%lld starts given for input %s", (long long)starts.n, shape_str(x));

    for (int d = 0; d < x->rank; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->len[d] = x->dims[d];
    }
    int64_t ax[EI_MAX_DIMS];
    if (axes.n >= 0) {
        TRY(norm_axes(ctx, &axes, x->rank, ax));
    } else {
        for (int64_t k = 0; k < starts.n; k++) ax[k] = k;
    }
    for (int64_t k = 0; k < starts.n; k++) {
        int64_t a = ax[k], dim = x->dims[a];
        int64_t st = list_get(&starts, k), en = list_get(&ends, k);
        int64_t step = steps.n >= 0 ? list_get(&steps, k) : 1;
        CHECK(ctx, step != 0, "step for axis %lld is 0", (long long)a);
        /* Negative indices count from the end; then clamp as ONNX says: starts into [0, dim] going
         * forward and [0, dim-1] going backward, ends into [0, dim] and [-1, dim-1]. */
        if (st < 0) st = st < -dim ? -1 : st + dim;
        if (en < 0) en = en < -dim ? -1 : en + dim;
        if (step > 0) {
            st = st < 0 ? 0 : st > dim ? dim : st;
            en = en < 0 ? 0 : en > dim ? dim : en;
        } else {
            st = st < 0 ? 0 : st > dim - 1 ? dim - 1 : st;
            en = en < -1 ? -1 : en > dim - 1 ? dim - 1 : en;
        }
        int64_t len = 0;
        /* en - st is within [-dim-1, dim+1]; ceil((en - st) / step) without overflowing a huge step. */
        if (step > 0 && en > st) len = (en - st - 1) / step + 1;
        if (step < 0 && en < st) len = (st - en - 1) / (step == INT64_MIN ? INT64_MAX : -step) + 1;
        p->start[a] = st;
        p->step[a] = step;
        p->len[a] = len;
    }
    return EI_STATUS_OK;
}

static ei_status slice_infer(op_ctx *ctx)
{
    slice_plan p;
    TRY(slice_parse(ctx, &p));
    return set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, p.len);
}

static ei_status slice_run(op_ctx *ctx)
{
    slice_plan p;
    TRY(slice_parse(ctx, &p));
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    if (numel(y) == 0) return EI_STATUS_OK;
    int64_t xs[EI_MAX_DIMS], ys[EI_MAX_DIMS], ss[EI_MAX_DIMS], base = 0;
    shape_strides(x->rank, x->dims, xs);
    shape_strides(y->rank, y->dims, ys);
    for (int d = 0; d < x->rank; d++) {
        base += p.start[d] * xs[d];
        /* A single element is read along an axis of length 1, whatever its (maybe huge) step. */
        ss[d] = p.len[d] > 1 ? p.step[d] * xs[d] : 0;
    }
    size_t es = dtype_size(x->dtype);
    xN_copy_strided(es, y->rank, y->dims, y->data, ys, (const char *)x->data + base * (int64_t)es, ss);
    return EI_STATUS_OK;
}

/* ---- Expand: numpy broadcasting of the input against a shape, in both directions ---- */

static ei_status expand_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int_list s;
    TRY(get_list(ctx, true, 1, "shape", &s));
    CHECK_SHAPE(ctx, s.n <= EI_MAX_DIMS, "shape has %lld values, at most %d dims supported", (long long)s.n,
                EI_MAX_DIMS);
    int r = x->rank > s.n ? x->rank : (int)s.n;
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        int kx = d - (r - x->rank), ks = d - (r - (int)s.n);
        int64_t a = kx >= 0 ? x->dims[kx] : 1, b = ks >= 0 ? list_get(&s, ks) : 1;
        CHECK_SHAPE(ctx, b >= 0, "shape value %lld at index %d is negative", (long long)b, ks);
        CHECK_SHAPE(ctx, a == b || a == 1 || b == 1, "input %s cannot be broadcast to shape value %lld at index %d",
                    shape_str(x), (long long)b, ks);
        dims[d] = a == 1 ? b : a;
    }
    return set_output(ctx, 0, x->dtype, r, dims);
}

static void expand_row(void *arg, void *out, const void *const *in, const int64_t *in_stride, int64_t n)
{
    size_t es = *(const size_t *)arg;
    if (in_stride[0])
        memcpy(out, in[0], (size_t)n * es);
    else
        xN_fill(es, out, in[0], n);
}

static ei_status expand_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    if (numel(y) == 0) return EI_STATUS_OK;
    bcast b;
    bcast_init(&b, y, 1, &x);
    size_t es = dtype_size(x->dtype);
    const void *in[1] = {x->data};
    bcast_run(&b, y->data, in, expand_row, &es);
    return EI_STATUS_OK;
}

/* ---- Tile ---- */

static ei_status tile_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    int_list rep;
    TRY(get_list(ctx, true, 1, "repeats", &rep));
    CHECK_SHAPE(ctx, rep.n == x->rank, "repeats has %lld values, input %s has rank %d", (long long)rep.n,
                shape_str(x), x->rank);
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) {
        int64_t k = list_get(&rep, d);
        CHECK_SHAPE(ctx, k >= 0, "repeats value %lld at index %d is negative", (long long)k, d);
        CHECK_SHAPE(ctx, mul_ok(x->dims[d], k, &dims[d]), "tiling axis %d of input %s %lld times overflows", d,
                    shape_str(x), (long long)k);
    }
    return set_output(ctx, 0, x->dtype, x->rank, dims);
}

static ei_status tile_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    if (numel(y) == 0) return EI_STATUS_OK;
    /* The output is a [rep0, d0, rep1, d1, ...] view of the input with stride 0 on the rep axes. */
    int64_t xs[EI_MAX_DIMS], dims[COPY_MAX_RANK], ds[COPY_MAX_RANK], ss[COPY_MAX_RANK];
    shape_strides(x->rank, x->dims, xs);
    int r = x->rank;
    for (int d = 0; d < r; d++) {
        dims[2 * d] = y->dims[d] / x->dims[d];
        dims[2 * d + 1] = x->dims[d];
        ss[2 * d] = 0;
        ss[2 * d + 1] = xs[d];
    }
    shape_strides(2 * r, dims, ds);
    xN_copy_strided(dtype_size(x->dtype), 2 * r, dims, y->data, ds, x->data, ss);
    return EI_STATUS_OK;
}

/* ---- Pad ---- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

typedef struct pad_plan {
    int mode;
    int64_t before[EI_MAX_DIMS]; /* output elements before the kept input range, >= 0 */
    int64_t lo[EI_MAX_DIMS];     /* first kept input index (negative pads crop) */
    int64_t n[EI_MAX_DIMS];      /* kept input elements */
    int64_t out[EI_MAX_DIMS];
} pad_plan;

static ei_status pad_parse(op_ctx *ctx, pad_plan *p)
{
    bool as_input = ctx->opset >= 11, with_axes = ctx->opset >= 18;
    TRY(check_arity(ctx, as_input ? 2 : 1, with_axes ? 4 : as_input ? 3 : 1, as_input ? 2 : 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    const char *mode = attr_str(ctx->n, "mode", "constant");
    if (!strcmp(mode, "constant")) p->mode = PAD_CONSTANT;
    else if (!strcmp(mode, "reflect")) p->mode = PAD_REFLECT;
    else if (!strcmp(mode, "edge")) p->mode = PAD_EDGE;
    else CHECK_SUPPORTED(ctx, false, "mode '%s' is not supported (constant, reflect, edge)", mode);
    int_list pads;
    TRY(get_list(ctx, as_input, 1, "pads", &pads));
    CHECK(ctx, pads.n >= 0, "pads are required");
    /* opset 18: pads name only the axes listed in the optional input 'axes', the others get 0 */
    int_list axes_in;
    int64_t axes[EI_MAX_DIMS], full[2 * EI_MAX_DIMS] = {0};
    TRY(get_list(ctx, with_axes, 3, "axes", &axes_in));
    int64_t n_axes = axes_in.n >= 0 ? axes_in.n : x->rank;
    if (axes_in.n >= 0) TRY(norm_axes(ctx, &axes_in, x->rank, axes));
    else for (int d = 0; d < x->rank; d++) axes[d] = d;
    CHECK(ctx, pads.n == 2 * n_axes, "pads has %lld values, expected %lld (2 per %s)", (long long)pads.n,
          (long long)(2 * n_axes), axes_in.n >= 0 ? "axis listed in 'axes'" : "axis of input 0");
    for (int64_t k = 0; k < n_axes; k++) {
        full[axes[k]] = list_get(&pads, k);
        full[axes[k] + x->rank] = list_get(&pads, k + n_axes);
    }
    if (as_input && has_in(ctx, 2)) {
        const ei_tensor *v = ctx->in[2];
        CHECK_SHAPE(ctx, v->dtype == x->dtype && numel(v) <= 1,
                    "constant_value is %s %s, expected one value of the input's dtype %s", ei_dtype_name(v->dtype),
                    shape_str(v), ei_dtype_name(x->dtype));
    }
    for (int d = 0; d < x->rank; d++) {
        int64_t pb = full[d], pe = full[d + x->rank], dim = x->dims[d];
        int64_t cut_b = pb < 0 ? pb : 0, cut_e = pe < 0 ? pe : 0;
        CHECK_SHAPE(ctx, cut_b >= -dim && cut_e >= -dim && dim + cut_b + cut_e >= 0,
                    "pads %lld and %lld on axis %d remove more than the %lld elements of input %s", (long long)pb,
                    (long long)pe, d, (long long)dim, shape_str(x));
        p->lo[d] = -cut_b;
        p->n[d] = dim + cut_b + cut_e;
        p->before[d] = pb > 0 ? pb : 0;
        int64_t after = pe > 0 ? pe : 0;
        CHECK_SHAPE(ctx, add_ok(p->n[d], p->before[d], &p->out[d]) && add_ok(p->out[d], after, &p->out[d]),
                    "pads %lld and %lld on axis %d overflow", (long long)pb, (long long)pe, d);
        CHECK_SHAPE(ctx, p->mode == PAD_CONSTANT || p->n[d] > 0 || p->out[d] == 0,
                    "cannot pad axis %d of input %s in mode '%s': no elements to repeat", d, shape_str(x), mode);
    }
    return EI_STATUS_OK;
}

static ei_status pad_infer(op_ctx *ctx)
{
    pad_plan p;
    TRY(pad_parse(ctx, &p));
    return set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, p.out);
}

/* Input index read by output index o along one axis, or -1 for the constant. */
static int64_t pad_source(const pad_plan *p, int d, int64_t o)
{
    int64_t j = o - p->before[d], n = p->n[d];
    if (j < 0 || j >= n) {
        if (p->mode == PAD_CONSTANT) return -1;
        if (p->mode == PAD_EDGE) {
            j = j < 0 ? 0 : n - 1;
        } else if (n == 1) {
            j = 0;
        } else {
            /* Reflection without repeating the edge is periodic with period 2(n-1). */
            int64_t period = 2 * (n - 1);
            j %= period;
            if (j < 0) j += period;
            if (j >= n) j = period - j;
        }
    }
    return p->lo[d] + j;
}

/* The padding value as esize bytes: opset 11+ from the constant_value input, before from 'value'. */
static ei_status pad_value(op_ctx *ctx, unsigned char *v)
{
    const ei_tensor *x = ctx->in[0];
    memset(v, 0, 16);
    if (ctx->opset >= 11) {
        if (has_in(ctx, 2) && numel(ctx->in[2]) == 1) memcpy(v, ctx->in[2]->data, dtype_size(x->dtype));
        return EI_STATUS_OK;
    }
    float f = attr_float(ctx->n, "value", 0.0f);
    if (f == 0) return EI_STATUS_OK;
    CHECK_SUPPORTED(ctx, x->dtype != EI_DTYPE_FLOAT16, "a nonzero pad value for float16 input is not supported");
    ei_tensor t = {x->dtype, 0, {0}, v};
    tensor_set_f64(&t, 0, f);
    return EI_STATUS_OK;
}

static ei_status pad_run(op_ctx *ctx)
{
    pad_plan p;
    TRY(pad_parse(ctx, &p));
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    if (numel(y) == 0) return EI_STATUS_OK;
    _Alignas(16) unsigned char value[16];
    TRY(pad_value(ctx, value));
    const size_t es = dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = y->data;
    int r = x->rank;
    if (r == 0) {
        memcpy(dst, src, es);
        return EI_STATUS_OK;
    }
    int64_t xs[EI_MAX_DIMS];
    shape_strides(r, x->dims, xs);

    /* One output row (innermost axis) at a time: its outer coordinates either all map to an input
     * row or the whole row is the constant. */
    int last = r - 1;
    int64_t row = p.out[last], rows = numel(y) / row;
    int64_t idx[EI_MAX_DIMS] = {0};
    for (int64_t k = 0; k < rows; k++, dst += row * (int64_t)es) {
        int64_t soff = 0;
        bool constant = false;
        for (int d = 0; d < last; d++) {
            int64_t j = pad_source(&p, d, idx[d]);
            if (j < 0) constant = true;
            else soff += j * xs[d];
        }
        if (constant) {
            xN_fill(es, dst, value, row);
        } else {
            const char *s = src + soff * (int64_t)es;
            int64_t b = p.before[last], n = p.n[last];
            for (int64_t o = 0; o < row; o++) {
                if (o == b && n > 0) {
                    memcpy(dst + o * (int64_t)es, s + p.lo[last] * (int64_t)es, (size_t)n * es);
                    o += n - 1;
                    continue;
                }
                int64_t j = pad_source(&p, last, o);
                memcpy(dst + o * (int64_t)es, j < 0 ? (const char *)value : s + j * (int64_t)es, es);
            }
        }
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < p.out[d]) break;
            idx[d] = 0;
        }
    }
    return EI_STATUS_OK;
}

/* ---- DepthToSpace, SpaceToDepth ---- */

static ei_status blocksize(op_ctx *ctx, int64_t *b)
{
    const attr *a = attr_find(ctx->n, "blocksize");
    CHECK(ctx, a && a->type == ATTR_INT, "attribute 'blocksize' is required");
    *b = a->i;
    CHECK(ctx, *b >= 1 && *b <= ((int64_t)1 << 16), "blocksize %lld is out of range", (long long)*b);
    return EI_STATUS_OK;
}

static ei_status depth_to_space_parse(op_ctx *ctx, int64_t *b, bool *crd)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    TRY(blocksize(ctx, b));
    const char *mode = ctx->opset >= 11 ? attr_str(ctx->n, "mode", "DCR") : "DCR";
    CHECK(ctx, !strcmp(mode, "DCR") || !strcmp(mode, "CRD"), "mode '%s' is not DCR or CRD", mode);
    *crd = !strcmp(mode, "CRD");
    CHECK_SHAPE(ctx, x->rank == 4, "input has shape %s, expected 4 dims", shape_str(x));
    CHECK_SHAPE(ctx, x->dims[1] % (*b * *b) == 0, "channels of input %s are not a multiple of blocksize^2 = %lld",
                shape_str(x), (long long)(*b * *b));
    return EI_STATUS_OK;
}

static ei_status depth_to_space_infer(op_ctx *ctx)
{
    int64_t b;
    bool crd;
    TRY(depth_to_space_parse(ctx, &b, &crd));
    const ei_tensor *x = ctx->in[0];
    int64_t dims[4] = {x->dims[0], x->dims[1] / (b * b), 0, 0};
    CHECK_SHAPE(ctx, mul_ok(x->dims[2], b, &dims[2]) && mul_ok(x->dims[3], b, &dims[3]), "output size overflows");
    return set_output(ctx, 0, x->dtype, 4, dims);
}

static ei_status depth_to_space_run(op_ctx *ctx)
{
    int64_t b;
    bool crd;
    TRY(depth_to_space_parse(ctx, &b, &crd));
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t xs[4];
    shape_strides(4, x->dims, xs);
    int64_t c = y->dims[1];
    /* The output seen as [N, C', H, b, W, b]; DCR reads channel (b1*b + b2)*C' + c,
     * CRD reads channel c*b*b + b1*b + b2. */
    int64_t dims[6] = {x->dims[0], c, x->dims[2], b, x->dims[3], b}, ds[6];
    int64_t ss[6] = {xs[0], crd ? b * b * xs[1] : xs[1], xs[2], crd ? b * xs[1] : b * c * xs[1], xs[3],
                     crd ? xs[1] : c * xs[1]};
    shape_strides(6, dims, ds);
    xN_copy_strided(dtype_size(x->dtype), 6, dims, y->data, ds, x->data, ss);
    return EI_STATUS_OK;
}

static ei_status space_to_depth_parse(op_ctx *ctx, int64_t *b)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    TRY(blocksize(ctx, b));
    CHECK_SHAPE(ctx, x->rank == 4, "input has shape %s, expected 4 dims", shape_str(x));
    CHECK_SHAPE(ctx, x->dims[2] % *b == 0 && x->dims[3] % *b == 0,
                "spatial dims of input %s are not multiples of blocksize %lld", shape_str(x), (long long)*b);
    return EI_STATUS_OK;
}

static ei_status space_to_depth_infer(op_ctx *ctx)
{
    int64_t b;
    TRY(space_to_depth_parse(ctx, &b));
    const ei_tensor *x = ctx->in[0];
    int64_t dims[4] = {x->dims[0], 0, x->dims[2] / b, x->dims[3] / b};
    CHECK_SHAPE(ctx, mul_ok(x->dims[1], b * b, &dims[1]), "output size overflows");
    return set_output(ctx, 0, x->dtype, 4, dims);
}

static ei_status space_to_depth_run(op_ctx *ctx)
{
    int64_t b;
    TRY(space_to_depth_parse(ctx, &b));
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t xs[4];
    shape_strides(4, x->dims, xs);
    /* The output seen as [N, b, b, C, H/b, W/b]: channel (b1*b + b2)*C + c reads x[n, c, h*b + b1, w*b + b2]. */
    int64_t dims[6] = {x->dims[0], b, b, x->dims[1], y->dims[2], y->dims[3]}, ds[6];
    int64_t ss[6] = {xs[0], xs[2], xs[3], xs[1], b * xs[2], b * xs[3]};
    shape_strides(6, dims, ds);
    xN_copy_strided(dtype_size(x->dtype), 6, dims, y->data, ds, x->data, ss);
    return EI_STATUS_OK;
}

/* ---- Trilu ---- */

static ei_status trilu_k(op_ctx *ctx, int64_t *k)
{
    *k = 0;
    if (!has_in(ctx, 1)) return EI_STATUS_OK;
    NEED_DATA(ctx, 1);
    const ei_tensor *t = ctx->in[1];
    CHECK(ctx, t->dtype == EI_DTYPE_INT64 && numel(t) == 1, "k must be one int64, got %s %s",
          ei_dtype_name(t->dtype), shape_str(t));
    *k = tensor_get_i64(t, 0);
    return EI_STATUS_OK;
}

static ei_status trilu_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 2, 1));
    TRY(check_elem(ctx, 0));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 2, "input has shape %s, expected at least 2 dims", shape_str(x));
    int64_t k;
    TRY(trilu_k(ctx, &k));
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status trilu_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t k;
    TRY(trilu_k(ctx, &k));
    bool upper = attr_int(ctx->n, "upper", 1) != 0;
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    if (numel(x) == 0) return EI_STATUS_OK;
    int64_t mats = numel(x) / (rows * cols);
    const int64_t es = (int64_t)dtype_size(x->dtype);
    /* Clamping k first keeps i + k from overflowing; beyond these bounds nothing changes. */
    if (k < -rows - 1) k = -rows - 1;
    if (k > cols + 1) k = cols + 1;
    const char *s = x->data;
    char *d = y->data;
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < rows; i++, s += cols * es, d += cols * es) {
            /* Keep columns [c0, c1): j - i >= k for upper, j - i <= k for lower. */
            int64_t c0 = upper ? i + k : 0, c1 = upper ? cols : i + k + 1;
            c0 = c0 < 0 ? 0 : c0 > cols ? cols : c0;
            c1 = c1 < c0 ? c0 : c1 > cols ? cols : c1;
            memset(d, 0, (size_t)(c0 * es));
            memcpy(d + c0 * es, s + c0 * es, (size_t)((c1 - c0) * es));
            memset(d + c1 * es, 0, (size_t)((cols - c1) * es));
        }
    }
    return EI_STATUS_OK;
}

const op_def layout_ops[] = {
    {"Reshape", "", 5, reshape_infer, NULL, run_copy, OP_INPLACE},
    {"Flatten", "", 1, flatten_infer, NULL, run_copy, OP_INPLACE},
    {"Squeeze", "", 1, squeeze_infer, NULL, run_copy, OP_INPLACE},
    {"Unsqueeze", "", 1, unsqueeze_infer, NULL, run_copy, OP_INPLACE},
    {"Identity", "", 1, identity_infer, NULL, run_copy, OP_INPLACE},
    {"Dropout", "", 7, dropout_infer, NULL, dropout_run, OP_INPLACE},
    {"Shape", "", 1, shape_infer, NULL, shape_run, OP_SHAPE_ONLY},
    {"Size", "", 1, size_infer, NULL, size_run, OP_SHAPE_ONLY},
    {"Transpose", "", 1, transpose_infer, NULL, transpose_run, 0},
    {"Concat", "", 1, concat_infer, NULL, concat_run, 0},
    {"Split", "", 2, split_infer, NULL, split_run, 0},
    {"Slice", "", 1, slice_infer, NULL, slice_run, 0},
    {"Expand", "", 8, expand_infer, NULL, expand_run, 0},
    {"Tile", "", 6, tile_infer, NULL, tile_run, 0},
    {"Pad", "", 2, pad_infer, NULL, pad_run, 0},
    {"DepthToSpace", "", 1, depth_to_space_infer, NULL, depth_to_space_run, 0},
    {"SpaceToDepth", "", 1, space_to_depth_infer, NULL, space_to_depth_run, 0},
    {"Trilu", "", 14, trilu_infer, NULL, trilu_run, 0},
    {"Trilu", "com.microsoft", 1, trilu_infer, NULL, trilu_run, 0},
};
const int layout_ops_count = (int)(sizeof layout_ops / sizeof layout_ops[0]);
