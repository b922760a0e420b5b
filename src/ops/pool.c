/*
 * Pooling: MaxPool (with the optional Indices output), AveragePool, LpPool,
 * GlobalAveragePool and GlobalMaxPool over N x C x D1 x ... x Dn tensors.
 *
 * The window geometry (kernel, strides, dilations, pads or auto_pad,
 * ceil_mode) is worked out once per dimension by pool_geometry. Float32 max
 * and average pooling over 1, 2 or 3 spatial dims, the common case, runs on
 * the separable kernels of f32_pool.c: the window's depth planes and rows are
 * folded into one padded row, which is then pooled horizontally. Everything
 * else (Indices, LpPool, other dtypes, more than 3 spatial dims) walks each
 * window with a generic loop that reads elements as double, which is exact
 * for every dtype MaxPool accepts.
 */
#include "../kernels/f32_pool.h"
#include "op.h"
#include "spatial.h"

enum { POOL_MAX, POOL_AVG, POOL_LP };

#define MAX_SP (EI_MAX_DIMS - 2)

typedef struct pool_geom {
    int nsp;                 /* spatial dims */
    int64_t in[MAX_SP];      /* input extent per spatial dim */
    int64_t out[MAX_SP];
    int64_t k[MAX_SP], s[MAX_SP], d[MAX_SP];
    int64_t pb[MAX_SP], pe[MAX_SP]; /* padding at the beginning and end */
} pool_geom;

static ei_status pool_geometry(op_ctx *ctx, const ei_tensor *x, pool_geom *g)
{
    window_geom win;
    TRY(spatial_window(ctx, x, NULL, WINDOW_POOL, &win));
    g->nsp = win.nd;
    for (int i = 0; i < win.nd; i++) {
        g->in[i] = win.in[i];
        g->out[i] = win.out[i];
        g->k[i] = win.kernel[i];
        g->s[i] = win.stride[i];
        g->d[i] = win.dilation[i];
        g->pb[i] = win.pad_begin[i];
        g->pe[i] = win.pad_end[i];
    }
    return EI_STATUS_OK;
}

/* Window positions start + j*d, j < k, against an extent: the first valid j
 * and how many are in [0, size) (*count) and in [0, size + pad_end) (*padded). */
static void window_range(int64_t start, int64_t k, int64_t d, int64_t size, int64_t pad_end, int64_t *first,
                         int64_t *count, int64_t *padded)
{
    int64_t j0 = start >= 0 ? 0 : (-start + d - 1) / d;
    int64_t j1 = size - start > 0 ? (size - start + d - 1) / d : 0;
    int64_t jp = size + pad_end - start > 0 ? (size + pad_end - start + d - 1) / d : 0;
    if (j1 > k) j1 = k;
    if (jp > k) jp = k;
    *first = j0;
    *count = j1 > j0 ? j1 - j0 : 0;
    *padded = jp;
}

/* ---- the float32 fast path: max and average over up to 3 spatial dims ---- */

/* The geometry seen as 3-D (depth, height, width), missing leading dims being 1. */
typedef struct geom3 {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
    int64_t row_len; /* floats of the padded row buffer */
} geom3;

static void to_geom3(const pool_geom *g, geom3 *t)
{
    for (int a = 0; a < 3; a++) {
        int i = a - (3 - g->nsp);
        bool real = i >= 0;
        t->in[a] = real ? g->in[i] : 1;
        t->out[a] = real ? g->out[i] : 1;
        t->k[a] = real ? g->k[i] : 1;
        t->s[a] = real ? g->s[i] : 1;
        t->d[a] = real ? g->d[i] : 1;
        t->pb[a] = real ? g->pb[i] : 0;
        t->pe[a] = real ? g->pe[i] : 0;
    }
    /* the row holds the begin padding, the input row, and whatever the last window reaches */
    int64_t reach = t->out[2] > 0 ? (t->out[2] - 1) * t->s[2] + (t->k[2] - 1) * t->d[2] + 1 : 0;
    t->row_len = t->pb[2] + t->in[2];
    if (reach > t->row_len) t->row_len = reach;
}

static bool use_fast_path(op_ctx *ctx, int kind, const pool_geom *g)
{
    return kind != POOL_LP && ctx->in[0]->dtype == EI_DTYPE_FLOAT32 && g->nsp <= 3 && !has_out(ctx, 1);
}

/* scratch floats: padded row, one depth-folded plane (3-D only), column scales */
static int64_t fast_scratch_floats(const pool_geom *g)
{
    geom3 t;
    to_geom3(g, &t);
    return t.row_len + (g->nsp == 3 ? t.in[1] * t.in[2] : 0) + t.out[2];
}

static void pool_f32_fast(op_ctx *ctx, int kind, const pool_geom *g)
{
    geom3 t;
    to_geom3(g, &t);
    const ei_tensor *x = ctx->in[0];
    bool max = kind == POOL_MAX;
    bool include_pad = !max && attr_int(ctx->n, "count_include_pad", 0) != 0;
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t H = t.in[1], W = t.in[2], HW = H * W;
    float *row = ctx->scratch;
    float *folded = row + t.row_len;
    float *cscale = folded + (g->nsp == 3 ? HW : 0);

    /* Cells outside the input keep the identity for the whole run: the row
     * folds below only ever write [pb, pb + W). */
    float identity = max ? -INFINITY : 0.0f;
    for (int64_t i = 0; i < t.row_len; i++) row[i] = identity;
    for (int64_t ox = 0; ox < t.out[2]; ox++) {
        int64_t first, count, padded;
        window_range(ox * t.s[2] - t.pb[2], t.k[2], t.d[2], W, t.pe[2], &first, &count, &padded);
        int64_t n = include_pad ? padded : count;
        cscale[ox] = n > 0 ? 1.0f / (float)n : 0.0f;
    }

    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    int64_t out_plane = t.out[0] * t.out[1] * t.out[2];
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = xd + p * t.in[0] * HW;
        float *yp = yd + p * out_plane;
        for (int64_t oz = 0; oz < t.out[0]; oz++) {
            int64_t zf, zc, zp;
            window_range(oz * t.s[0] - t.pb[0], t.k[0], t.d[0], t.in[0], t.pe[0], &zf, &zc, &zp);
            const float *src = xp + (zc > 0 ? (oz * t.s[0] - t.pb[0] + zf * t.d[0]) * HW : 0);
            if (zc != 1) { /* fold the window's depth planes into one */
                if (max) f32_vmax_rows_simd128((size_t)HW, (size_t)zc, src, (size_t)(t.d[0] * HW), folded);
                else f32_vsum_rows_simd128((size_t)HW, (size_t)zc, src, (size_t)(t.d[0] * HW), folded);
                src = folded;
            }
            for (int64_t oy = 0; oy < t.out[1]; oy++) {
                int64_t yf, yc, yp2;
                int64_t ys = oy * t.s[1] - t.pb[1];
                window_range(ys, t.k[1], t.d[1], H, t.pe[1], &yf, &yc, &yp2);
                const float *rows = src + (yc > 0 ? (ys + yf * t.d[1]) * W : 0);
                float *out = yp + (oz * t.out[1] + oy) * t.out[2];
                if (max) {
                    f32_vmax_rows_simd128((size_t)W, (size_t)yc, rows, (size_t)(t.d[1] * W), row + t.pb[2]);
                    f32_maxpool_hrow_simd128((size_t)t.out[2], row, (size_t)t.k[2], (size_t)t.s[2], (size_t)t.d[2],
                                             out);
                } else {
                    int64_t n = include_pad ? zp * yp2 : zc * yc;
                    f32_vsum_rows_simd128((size_t)W, (size_t)yc, rows, (size_t)(t.d[1] * W), row + t.pb[2]);
                    f32_avgpool_hrow_simd128((size_t)t.out[2], row, (size_t)t.k[2], (size_t)t.s[2], (size_t)t.d[2],
                                             cscale, n > 0 ? 1.0f / (float)n : 0.0f, out);
                }
            }
        }
    }
}

/* ---- the generic path: any dtype, any spatial rank, Indices, LpPool ---- */

static void pool_generic(op_ctx *ctx, int kind, const pool_geom *g)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    ei_tensor *ind = has_out(ctx, 1) ? ctx->out[1] : NULL;
    int nsp = g->nsp;
    bool include_pad = kind == POOL_AVG && attr_int(ctx->n, "count_include_pad", 0) != 0;
    bool col_major = attr_int(ctx->n, "storage_order", 0) != 0;
    double p = kind == POOL_LP ? attr_float(ctx->n, "p", 2.0f) : 2.0;
    int64_t in_plane = shape_numel(nsp, g->in), out_plane = shape_numel(nsp, g->out);
    int64_t kernel_n = shape_numel(nsp, g->k);
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t rstride[MAX_SP], cstride[MAX_SP]; /* row- and column-major strides of the input plane */
    shape_strides(nsp, g->in, rstride);
    for (int i = 0; i < nsp; i++) cstride[i] = i == 0 ? 1 : cstride[i - 1] * g->in[i - 1];

    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t o[MAX_SP] = {0};
        for (int64_t oi = 0; oi < out_plane; oi++) {
            double best = -INFINITY, sum = 0.0;
            int64_t best_at = -1, count = 0, padded = 0;
            int64_t kk[MAX_SP] = {0};
            for (int64_t ki = 0; ki < kernel_n; ki++) {
                bool inside = true, in_pad = true;
                int64_t roff = 0, coff = 0;
                for (int i = 0; i < nsp; i++) {
                    int64_t pos = o[i] * g->s[i] - g->pb[i] + kk[i] * g->d[i];
                    if (pos < 0 || pos >= g->in[i]) inside = false;
                    if (pos >= g->in[i] + g->pe[i]) in_pad = false;
                    roff += pos * rstride[i];
                    coff += pos * cstride[i];
                }
                padded += in_pad;
                if (inside) {
                    double v = tensor_get_f64(x, pl * in_plane + roff);
                    count++;
                    if (kind == POOL_MAX) {
                        if (best_at < 0 || v > best) {
                            best = v;
                            best_at = pl * in_plane + (col_major ? coff : roff);
                        }
                    } else if (kind == POOL_AVG) {
                        sum += v;
                    } else {
                        sum += pow(fabs(v), p);
                    }
                }
                for (int i = nsp - 1; i >= 0; i--) {
                    if (++kk[i] < g->k[i]) break;
                    kk[i] = 0;
                }
            }
            int64_t at = pl * out_plane + oi;
            if (kind == POOL_MAX) {
                tensor_set_f64(y, at, best);
                if (ind) ((int64_t *)ind->data)[at] = best_at;
            } else if (kind == POOL_AVG) {
                int64_t n = include_pad ? padded : count;
                tensor_set_f64(y, at, n > 0 ? sum / (double)n : 0.0);
            } else {
                tensor_set_f64(y, at, pow(sum, 1.0 / p));
            }
            for (int i = nsp - 1; i >= 0; i--) {
                if (++o[i] < g->out[i]) break;
                o[i] = 0;
            }
        }
    }
}

/* ---- MaxPool, AveragePool, LpPool ---- */

static ei_status pool_infer(op_ctx *ctx, int kind)
{
    TRY(check_arity(ctx, 1, 1, 1));
    static const int32_t max_types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, EI_DTYPE_UINT8, EI_DTYPE_INT8, 0};
    static const int32_t float_types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};
    TRY(check_dtype(ctx, 0, kind == POOL_MAX ? max_types : float_types));
    CHECK(ctx, ctx->n_out <= (kind == POOL_MAX ? 2 : 1), "has %d outputs, expected at most %d", ctx->n_out,
          kind == POOL_MAX ? 2 : 1);
    const ei_tensor *x = ctx->in[0];
    pool_geom g;
    TRY(pool_geometry(ctx, x, &g));
    if (kind == POOL_MAX) {
        int64_t order = attr_int(ctx->n, "storage_order", 0);
        CHECK(ctx, order == 0 || order == 1, "attribute storage_order = %lld, expected 0 or 1", (long long)order);
    }
    if (kind == POOL_LP) {
        float p = attr_float(ctx->n, "p", 2.0f);
        CHECK(ctx, p > 0.0f && isfinite(p), "attribute p = %g, expected a positive number", (double)p);
    }
    int64_t dims[EI_MAX_DIMS];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < g.nsp; i++) dims[i + 2] = g.out[i];
    TRY(set_output(ctx, 0, x->dtype, x->rank, dims));
    TRY(set_output(ctx, 1, EI_DTYPE_INT64, x->rank, dims));
    if (use_fast_path(ctx, kind, &g)) {
        int64_t floats = fast_scratch_floats(&g);
        CHECK_SHAPE(ctx, floats <= EI_MAX_TENSOR_BYTES / 4, "input X of shape %s needs too much scratch memory",
                    shape_str(x));
        ctx->scratch_bytes = (size_t)floats * sizeof(float);
    }
    return EI_STATUS_OK;
}

/* The geometry and the path taken, worked out once per plan. */
typedef struct pool_state {
    pool_geom g;
    bool fast;
} pool_state;

static ei_status pool_prepare(op_ctx *ctx, int kind)
{
    pool_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    TRY(pool_geometry(ctx, ctx->in[0], &st->g));
    st->fast = use_fast_path(ctx, kind, &st->g);
    ctx->state = st;
    return EI_STATUS_OK;
}

static ei_status pool_run(op_ctx *ctx, int kind)
{
    const pool_state *st = ctx->state;
    if (st->fast) pool_f32_fast(ctx, kind, &st->g);
    else pool_generic(ctx, kind, &st->g);
    return EI_STATUS_OK;
}

static ei_status maxpool_prepare(op_ctx *ctx) { return pool_prepare(ctx, POOL_MAX); }
static ei_status avgpool_prepare(op_ctx *ctx) { return pool_prepare(ctx, POOL_AVG); }
static ei_status lppool_prepare(op_ctx *ctx) { return pool_prepare(ctx, POOL_LP); }
static ei_status maxpool_infer(op_ctx *ctx) { return pool_infer(ctx, POOL_MAX); }
static ei_status maxpool_run(op_ctx *ctx) { return pool_run(ctx, POOL_MAX); }
static ei_status avgpool_infer(op_ctx *ctx) { return pool_infer(ctx, POOL_AVG); }
static ei_status avgpool_run(op_ctx *ctx) { return pool_run(ctx, POOL_AVG); }
static ei_status lppool_infer(op_ctx *ctx) { return pool_infer(ctx, POOL_LP); }
static ei_status lppool_run(op_ctx *ctx) { return pool_run(ctx, POOL_LP); }

/* ---- GlobalAveragePool, GlobalMaxPool: one value per (n, c) ---- */

static ei_status global_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    static const int32_t types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};
    TRY(check_dtype(ctx, 0, types));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 3, "input X has shape %s, expected N x C x D1 x ... (at least 3 dims)",
                shape_str(x));
    int64_t dims[EI_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    return set_output(ctx, 0, x->dtype, x->rank, dims);
}

static ei_status global_run(op_ctx *ctx, bool max)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t n = shape_numel(x->rank - 2, x->dims + 2);
    if (planes == 0) return EI_STATUS_OK;
    if (n == 0) { /* an empty window: the mean is undefined, the maximum is the identity */
        for (int64_t p = 0; p < planes; p++) tensor_set_f64(y, p, max ? -INFINITY : NAN);
        return EI_STATUS_OK;
    }
    if (x->dtype == EI_DTYPE_FLOAT32) {
        if (max) f32_global_maxpool_simd128((size_t)planes, (size_t)n, x->data, y->data);
        else f32_global_avgpool_simd128((size_t)planes, (size_t)n, x->data, y->data);
        return EI_STATUS_OK;
    }
    const double *xd = x->data;
    double *yd = y->data;
    for (int64_t p = 0; p < planes; p++) {
        double acc = max ? -INFINITY : 0.0;
        for (int64_t i = 0; i < n; i++) {
            double v = xd[p * n + i];
            acc = max ? (acc < v ? v : acc) : acc + v;
        }
        yd[p] = max ? acc : acc / (double)n;
    }
    return EI_STATUS_OK;
}

static ei_status global_avg_run(op_ctx *ctx) { return global_run(ctx, false); }
static ei_status global_max_run(op_ctx *ctx) { return global_run(ctx, true); }

/* ---- MaxUnpool: scatter X to the places Indices name ----
 * Indices are flat positions in the default output shape, (in - 1) * stride +
 * kernel - pads per spatial dim, which is where MaxPool took them from. An
 * output_shape input only enlarges that tensor: the scattered result sits at
 * its origin and the rest is zero (the ONNX reference and test data). */

static ei_status unpool_shape(op_ctx *ctx, int64_t *inferred, int64_t *out)
{
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 3, "input X has shape %s, expected N x C x D1 x ... (at least 3 dims)",
                shape_str(x));
    int nsp = x->rank - 2;
    int64_t k[MAX_SP], s[MAX_SP], pads[2 * MAX_SP];
    bool has_kernel;
    TRY(spatial_ints(ctx, "kernel_shape", nsp, 1, 1, k, &has_kernel));
    CHECK(ctx, has_kernel, "attribute kernel_shape is required");
    TRY(spatial_ints(ctx, "strides", nsp, 1, 1, s, NULL));
    TRY(spatial_ints(ctx, "pads", 2 * nsp, 0, 0, pads, NULL));
    inferred[0] = x->dims[0];
    inferred[1] = x->dims[1];
    for (int i = 0; i < nsp; i++) {
        int64_t in = x->dims[i + 2];
        inferred[i + 2] = in > 0 ? (in - 1) * s[i] + k[i] - pads[i] - pads[i + nsp] : 0;
        CHECK_SHAPE(ctx, inferred[i + 2] >= 0, "pads exceed the unpooled extent along axis %d", i + 2);
    }
    memcpy(out, inferred, (size_t)x->rank * sizeof *out);
    if (has_in(ctx, 2)) {
        const ei_tensor *os = ctx->in[2];
        CHECK(ctx, os->dtype == EI_DTYPE_INT64, "input output_shape has dtype %s, expected int64",
              ei_dtype_name(os->dtype));
        CHECK_SHAPE(ctx, os->rank == 1 && os->dims[0] == x->rank, "input output_shape has shape %s, expected [%d]",
                    shape_str(os), x->rank);
        NEED_DATA(ctx, 2);
        for (int d = 0; d < x->rank; d++) {
            out[d] = tensor_get_i64(os, d);
            CHECK_SHAPE(ctx, out[d] >= inferred[d], "output_shape[%d] = %lld is smaller than the unpooled size %lld",
                        d, (long long)out[d], (long long)inferred[d]);
        }
    }
    return EI_STATUS_OK;
}

static ei_status unpool_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 3, 2));
    static const int32_t types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};
    TRY(check_dtype(ctx, 0, types));
    const ei_tensor *x = ctx->in[0], *ind = ctx->in[1];
    CHECK(ctx, ind->dtype == EI_DTYPE_INT64, "input I has dtype %s, expected int64", ei_dtype_name(ind->dtype));
    CHECK_SHAPE(ctx, ind->rank == x->rank && !memcmp(ind->dims, x->dims, (size_t)x->rank * sizeof(int64_t)),
                "input I has shape %s, expected the shape of X %s", shape_str(ind), shape_str(x));
    int64_t inferred[EI_MAX_DIMS], out[EI_MAX_DIMS];
    TRY(unpool_shape(ctx, inferred, out));
    return set_output(ctx, 0, x->dtype, x->rank, out);
}

static ei_status unpool_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int64_t inferred[EI_MAX_DIMS], out[EI_MAX_DIMS], istride[EI_MAX_DIMS], ostride[EI_MAX_DIMS];
    TRY(unpool_shape(ctx, inferred, out));
    int rank = x->rank;
    shape_strides(rank, inferred, istride);
    shape_strides(rank, out, ostride);
    int64_t limit = shape_numel(rank, inferred), n = numel(x);
    size_t es = dtype_size(x->dtype);
    memset(y->data, 0, (size_t)numel(y) * es);
    const int64_t *ind = ctx->in[1]->data;
    for (int64_t j = 0; j < n; j++) {
        int64_t at = ind[j], off = 0;
        CHECK_SHAPE(ctx, at >= 0 && at < limit, "index %lld in I at %lld is out of range [0, %lld)", (long long)at,
                    (long long)j, (long long)limit);
        for (int d = 0; d < rank; d++) { /* the same coordinates in the (possibly larger) output */
            off += at / istride[d] * ostride[d];
            at %= istride[d];
        }
        memcpy((char *)y->data + off * (int64_t)es, (const char *)x->data + j * (int64_t)es, es);
    }
    return EI_STATUS_OK;
}

const op_def pool_ops[] = {
    {"MaxUnpool", "", 9, unpool_infer, NULL, unpool_run, 0},
    {"MaxPool", "", 1, maxpool_infer, maxpool_prepare, maxpool_run, 0},
    {"AveragePool", "", 1, avgpool_infer, avgpool_prepare, avgpool_run, 0},
    {"LpPool", "", 1, lppool_infer, lppool_prepare, lppool_run, 0},
    {"GlobalAveragePool", "", 1, global_infer, NULL, global_avg_run, 0},
    {"GlobalMaxPool", "", 1, global_infer, NULL, global_max_run, 0},
};
const int pool_ops_count = (int)(sizeof pool_ops / sizeof pool_ops[0]);
