/*
 * Resize (opsets 10, 11, 13) and Upsample (opsets 7 and 9).
 *
 * Every mode is separable: along each axis an output coordinate maps to an
 * input coordinate (coordinate_transformation_mode), and from there to one
 * tap (nearest), two (linear) or four (cubic), each an input index clamped to
 * the axis and a weight. This file builds those tap tables in the run's
 * scratch memory; float32 kernels in f32_resize.c do the arithmetic, with
 * fast paths for the usual case where only the last two axes change. Nearest only copies elements, so
 * it runs here for every dtype. Linear and cubic on other numeric dtypes go
 * through float32 and are rounded back.
 *
 * Opset differences: Upsample and Resize-10 map coordinates as
 * "asymmetric" and pick the nearest pixel by truncation when enlarging and
 * by ceiling when shrinking, as onnxruntime does; Resize-11 adds roi, sizes,
 * cubic and the attributes; Resize-13 makes roi and scales optional.
 */
#include "op.h"
#include "../kernels/f32_resize.h"

enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC };
enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN, CT_CROP };
enum { NR_ROUND_PREFER_FLOOR, NR_ROUND_PREFER_CEIL, NR_FLOOR, NR_CEIL, NR_LEGACY };

typedef struct resize_params {
    int mode, coord, nearest;
    double cubic_a;
    bool exclude_outside;
    float extrapolation;
    int64_t out_dims[EI_MAX_DIMS];
    double scale[EI_MAX_DIMS];   /* output length / input length, given or computed from sizes */
    double len_out[EI_MAX_DIMS]; /* length_resized of the coordinate formulas (not floored) */
    double roi_start[EI_MAX_DIMS], roi_end[EI_MAX_DIMS];
} resize_params;

static const char *const coord_names[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                          "tf_half_pixel_for_nn", "tf_crop_and_resize"};
static const char *const nearest_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

/* Attributes. Resize from opset 11 has the full set; older forms are fixed to the behaviour of their time. */
static ei_status parse_attrs(op_ctx *ctx, bool is_resize, resize_params *p)
{
    bool modern = is_resize && ctx->opset >= 11;
    const char *m = attr_str(ctx->n, "mode", "nearest");
    if (!strcmp(m, "nearest")) p->mode = MODE_NEAREST;
    else if (!strcmp(m, "linear") || (!is_resize && !strcmp(m, "bilinear"))) p->mode = MODE_LINEAR;
    else if (!strcmp(m, "cubic") && modern) p->mode = MODE_CUBIC;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL, "mode '%s' is not valid", m);
    p->coord = CT_ASYMMETRIC;
    p->nearest = NR_LEGACY;
    p->cubic_a = -0.75;
    p->exclude_outside = false;
    p->extrapolation = 0.0f;
    if (!modern) return EI_STATUS_OK;
    const char *c = attr_str(ctx->n, "coordinate_transformation_mode", "half_pixel");
    p->coord = find_name(coord_names, 6, c);
    CHECK(ctx, p->coord >= 0, "coordinate_transformation_mode '%s' is not valid", c);
    const char *nm = attr_str(ctx->n, "nearest_mode", "round_prefer_floor");
    p->nearest = find_name(nearest_names, 4, nm);
    CHECK(ctx, p->nearest >= 0, "nearest_mode '%s' is not valid", nm);
    p->cubic_a = attr_float(ctx->n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = attr_int(ctx->n, "exclude_outside", 0) != 0;
    p->extrapolation = attr_float(ctx->n, "extrapolation_value", 0.0f);
    return EI_STATUS_OK;
}

static bool present(const op_ctx *ctx, int i)
{
    return has_in(ctx, i) && numel(ctx->in[i]) > 0;
}

/* Output dims, scales and roi; returns EI_STATUS_NEEDS_DATA while a needed value is unknown. */
static ei_status parse_sizes(op_ctx *ctx, bool is_resize, resize_params *p)
{
    const ei_tensor *x = ctx->in[0];
    int r = x->rank;
    CHECK_SHAPE(ctx, r >= 1, "input X is a scalar, expected rank >= 1");
    const float *scales = NULL;
    const int64_t *sizes = NULL;
    int scales_i = -1, sizes_i = -1, roi_i = -1;
    if (!is_resize && ctx->opset < 9) {
        int n = attr_floats(ctx->n, "scales", &scales);
        CHECK(ctx, n == r, "attribute scales has %d values, expected %d (the rank of X)", n, r);
    } else if (!is_resize || ctx->opset < 11) {
        CHECK(ctx, has_in(ctx, 1), "input scales is required");
        scales_i = 1;
    } else {
        if (present(ctx, 1)) roi_i = 1;
        if (present(ctx, 2)) scales_i = 2;
        if (present(ctx, 3)) sizes_i = 3;
        CHECK(ctx, (scales_i >= 0) != (sizes_i >= 0), "exactly one of the inputs scales and sizes must be given");
    }
    if (scales_i >= 0) {
        const ei_tensor *s = ctx->in[scales_i];
        CHECK(ctx, s->dtype == EI_DTYPE_FLOAT32, "scales has dtype %s, expected float32", ei_dtype_name(s->dtype));
        CHECK_SHAPE(ctx, s->rank == 1 && s->dims[0] == r, "scales %s must hold one value per axis of X %s",
                    shape_str(s), shape_str(x));
        NEED_DATA(ctx, scales_i);
        scales = s->data;
    }
    if (sizes_i >= 0) {
        const ei_tensor *s = ctx->in[sizes_i];
        CHECK(ctx, s->dtype == EI_DTYPE_INT64, "sizes has dtype %s, expected int64", ei_dtype_name(s->dtype));
        CHECK_SHAPE(ctx, s->rank == 1 && s->dims[0] == r, "sizes %s must hold one value per axis of X %s",
                    shape_str(s), shape_str(x));
        NEED_DATA(ctx, sizes_i);
        sizes = s->data;
    }
    for (int d = 0; d < r; d++) {
        p->roi_start[d] = 0.0;
        p->roi_end[d] = 1.0;
    }
    if (p->coord == CT_CROP && roi_i >= 0) {
        const ei_tensor *roi = ctx->in[roi_i];
        CHECK(ctx, roi->dtype == EI_DTYPE_FLOAT32 || roi->dtype == EI_DTYPE_FLOAT64,
              "roi has dtype %s, expected float32 or float64", ei_dtype_name(roi->dtype));
        CHECK_SHAPE(ctx, roi->rank == 1 && roi->dims[0] == 2 * r, "roi %s must hold 2 values per axis of X %s",
                    shape_str(roi), shape_str(x));
        NEED_DATA(ctx, roi_i);
        for (int d = 0; d < r; d++) {
            p->roi_start[d] = tensor_get_f64(roi, d);
            p->roi_end[d] = tensor_get_f64(roi, r + d);
            CHECK(ctx, isfinite(p->roi_start[d]) && isfinite(p->roi_end[d]), "roi for axis %d is not finite", d);
        }
    }
    for (int d = 0; d < r; d++) {
        int64_t in = x->dims[d];
        if (sizes) {
            CHECK_SHAPE(ctx, sizes[d] >= 0, "sizes[%d] = %lld is negative", d, (long long)sizes[d]);
            p->out_dims[d] = sizes[d];
            p->len_out[d] = (double)sizes[d];
            p->scale[d] = in > 0 ? (double)sizes[d] / (double)in : 0.0;
        } else {
            double s = scales[d];
            CHECK(ctx, s > 0 && isfinite(s), "scale %g for axis %d must be a positive number", s, d);
            /* floor(in * scale) even for tf_crop_and_resize, as onnxruntime and the ONNX reference do */
            double len = (double)in * s;
            CHECK_SHAPE(ctx, len >= 0 && len < 1e12, "scale %g for axis %d of X %s gives an absurd size", s, d,
                        shape_str(x));
            p->out_dims[d] = (int64_t)floor(len);
            p->len_out[d] = len;
            p->scale[d] = s;
        }
        CHECK_SHAPE(ctx, in > 0 || p->out_dims[d] == 0, "axis %d of X %s is empty and cannot be resized to %lld",
                    d, shape_str(x), (long long)p->out_dims[d]);
    }
    return EI_STATUS_OK;
}

static ei_status parse_all(op_ctx *ctx, bool is_resize, resize_params *p)
{
    TRY(parse_attrs(ctx, is_resize, p));
    return parse_sizes(ctx, is_resize, p);
}

static int ntaps_of(int mode)
{
    return mode == MODE_NEAREST ? 1 : mode == MODE_LINEAR ? 2 : 4;
}

static uint64_t align8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

/* Scratch bytes of one axis's tables: offsets, weights, outside flags (64-bit: size_t is 32 in wasm). */
static uint64_t axis_table_bytes(int64_t out_len, int taps)
{
    uint64_t n = (uint64_t)out_len * (uint64_t)taps;
    return align8(n * sizeof(int64_t)) + align8(n * sizeof(float)) + align8((uint64_t)out_len);
}

/* Linear and cubic on dtypes other than float32 run in float32 copies of input and output. */
static bool needs_f32_copy(const resize_params *p, int32_t dtype)
{
    return p->mode != MODE_NEAREST && dtype != EI_DTYPE_FLOAT32;
}

static ei_status resize_infer_common(op_ctx *ctx, bool is_resize)
{
    if (is_resize && ctx->opset >= 11) TRY(check_arity(ctx, 1, 4, 1));
    else if (is_resize || ctx->opset >= 9) TRY(check_arity(ctx, 2, 2, 2));
    else TRY(check_arity(ctx, 1, 1, 1));
    const ei_tensor *x = ctx->in[0];
    int32_t dt = x->dtype;
    CHECK_SUPPORTED(ctx, dt != EI_DTYPE_STRING && dtype_size(dt) > 0,
                    "input X has dtype %s, which this build does not support", ei_dtype_name(dt));
    resize_params p;
    TRY(parse_all(ctx, is_resize, &p));
    if (p.mode != MODE_NEAREST)
        CHECK_SUPPORTED(ctx, dtype_is_float(dt) || dtype_is_int(dt),
                        "linear and cubic modes do not support input X of dtype %s", ei_dtype_name(dt));
    CHECK_SUPPORTED(ctx, dt != EI_DTYPE_FLOAT16 || (p.mode == MODE_NEAREST && p.coord != CT_CROP),
                    "float16 input is supported only in nearest mode without tf_crop_and_resize");
    TRY(set_output(ctx, 0, dt, x->rank, p.out_dims));
    ctx->scratch_bytes = 0;
    int64_t out_n = shape_numel(x->rank, p.out_dims);
    if (out_n == 0) return EI_STATUS_OK; /* run returns at once */
    uint64_t bytes = 0;
    for (int d = 0; d < x->rank; d++) bytes += axis_table_bytes(p.out_dims[d], ntaps_of(p.mode));
    if (needs_f32_copy(&p, dt)) bytes += align8((uint64_t)numel(x) * 4) + align8((uint64_t)out_n * 4);
    CHECK_SHAPE(ctx, bytes <= (uint64_t)EI_MAX_TENSOR_BYTES && bytes <= SIZE_MAX,
                "resizing %s to %lld elements needs %llu bytes of scratch, too many", shape_str(x),
                (long long)out_n, (unsigned long long)bytes);
    ctx->scratch_bytes = (size_t)bytes;
    return EI_STATUS_OK;
}

/* ---- tap tables ---- */

/* Input coordinate of output coordinate x along axis d (in_len > 0). */
static double original_coord(const resize_params *p, int d, int64_t x, int64_t in_len)
{
    double s = p->scale[d], len = p->len_out[d], xr = (double)x;
    switch (p->coord) {
    case CT_HALF_PIXEL: return (xr + 0.5) / s - 0.5;
    case CT_PYTORCH_HALF_PIXEL: return len > 1 ? (xr + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return len == 1 ? 0.0 : xr * (double)(in_len - 1) / (len - 1);
    case CT_ASYMMETRIC: return xr / s;
    case CT_TF_HALF_PIXEL_FOR_NN: return (xr + 0.5) / s;
    default: {
        double a = p->roi_start[d], b = p->roi_end[d], span = (double)(in_len - 1);
        return len > 1 ? a * span + xr * (b - a) * span / (len - 1) : 0.5 * (a + b) * span;
    }
    }
}

static int64_t nearest_index(const resize_params *p, int d, double xo)
{
    double f = floor(xo), frac = xo - f;
    switch (p->nearest) {
    case NR_ROUND_PREFER_FLOOR: return (int64_t)(frac <= 0.5 ? f : f + 1);
    case NR_ROUND_PREFER_CEIL: return (int64_t)(frac < 0.5 ? f : f + 1);
    case NR_FLOOR: return (int64_t)f;
    case NR_CEIL: return (int64_t)ceil(xo);
    default: return (int64_t)(p->scale[d] < 1 ? ceil(xo) : f); /* NR_LEGACY */
    }
}

static int64_t clamp_index(int64_t i, int64_t len)
{
    return i < 0 ? 0 : i >= len ? len - 1 : i;
}

/*
 * Fills the tables of axis d: taps entries of offset (input index times stride) and
 * weight per output coordinate, and its outside flag. Returns whether any
 * coordinate fell outside the roi.
 */
static bool build_axis(const resize_params *p, int d, int64_t in_len, int64_t stride, int taps, int64_t *off,
                       float *w, uint8_t *outside)
{
    bool any_outside = false;
    for (int64_t i = 0; i < p->out_dims[d]; i++) {
        double xo = original_coord(p, d, i, in_len);
        int64_t *o = off + i * taps;
        float *wt = w + i * taps;
        outside[i] = p->coord == CT_CROP && !(xo >= 0 && xo <= (double)(in_len - 1));
        if (outside[i] || isnan(xo)) {
            any_outside |= outside[i];
            for (int k = 0; k < taps; k++) o[k] = 0, wt[k] = k == 0 && !outside[i];
            continue;
        }
        /* Past two pixels from the edge every tap clamps to the edge, so far coordinates lose nothing. */
        if (xo < -2) xo = -2;
        if (xo > (double)in_len + 1) xo = (double)in_len + 1;
        if (p->mode == MODE_NEAREST) {
            o[0] = clamp_index(nearest_index(p, d, xo), in_len) * stride;
            wt[0] = 1.0f;
            continue;
        }
        double f = floor(xo), t = xo - f, c[4], a = p->cubic_a;
        int64_t first;
        if (p->mode == MODE_LINEAR) {
            c[0] = 1 - t;
            c[1] = t;
            first = (int64_t)f;
        } else {
            double t1 = t + 1, u = 1 - t, u1 = u + 1;
            c[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
            c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
            c[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
            c[3] = ((a * u1 - 5 * a) * u1 + 8 * a) * u1 - 4 * a;
            first = (int64_t)f - 1;
        }
        double sum = 0;
        for (int k = 0; k < taps; k++) {
            int64_t idx = first + k;
            if (p->exclude_outside && (idx < 0 || idx >= in_len)) c[k] = 0;
            sum += c[k];
            o[k] = clamp_index(idx, in_len) * stride;
        }
        for (int k = 0; k < taps; k++) wt[k] = (float)(p->exclude_outside && sum != 0 ? c[k] / sum : c[k]);
    }
    return any_outside;
}

/* Whether an axis's tables map every output coordinate to the same input coordinate with weight 1. */
static bool axis_is_identity(int64_t out_len, int64_t in_len, int64_t stride, int taps, const int64_t *off,
                             const float *w, const uint8_t *outside)
{
    if (out_len != in_len) return false;
    for (int64_t i = 0; i < out_len; i++) {
        if (outside[i]) return false;
        for (int k = 0; k < taps; k++) {
            float wk = w[i * taps + k];
            if (wk != 0.0f && !(wk == 1.0f && off[i * taps + k] == i * stride)) return false;
        }
    }
    return true;
}

/* ---- nearest: element copies for every dtype ---- */

/* dst[j] = src[base + col[j]] for j < n, elements of es bytes; typed so that each copy is one load and store. */
static void copy_row(char *dst, const char *src, int64_t base, const int64_t *col, int64_t n, size_t es)
{
    switch (es) {
    case 1:
        for (int64_t j = 0; j < n; j++) ((uint8_t *)dst)[j] = ((const uint8_t *)src)[base + col[j]];
        break;
    case 2:
        for (int64_t j = 0; j < n; j++) ((uint16_t *)dst)[j] = ((const uint16_t *)src)[base + col[j]];
        break;
    case 4:
        for (int64_t j = 0; j < n; j++) ((uint32_t *)dst)[j] = ((const uint32_t *)src)[base + col[j]];
        break;
    default:
        for (int64_t j = 0; j < n; j++) ((uint64_t *)dst)[j] = ((const uint64_t *)src)[base + col[j]];
        break;
    }
}

static void nearest_run(const ei_tensor *x, ei_tensor *y, const int64_t *const *off, const uint8_t *const *outside,
                        bool any_outside, float extrapolation)
{
    int r = x->rank;
    size_t es = dtype_size(x->dtype);
    uint8_t extra[8] = {0};
    if (any_outside) {
        ei_tensor t = {x->dtype, 0, {0}, extra};
        tensor_set_f64(&t, 0, extrapolation);
    }
    int64_t last = y->dims[r - 1], rows = numel(y) / last;
    int64_t pos[EI_MAX_DIMS] = {0};
    const char *src = x->data;
    char *dst = y->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t base = 0;
        bool row_outside = false;
        for (int d = 0; d < r - 1; d++) {
            base += off[d][pos[d]];
            row_outside |= any_outside && outside[d][pos[d]];
        }
        const int64_t *col = off[r - 1];
        if (any_outside) {
            for (int64_t j = 0; j < last; j++, dst += es) {
                if (row_outside || outside[r - 1][j]) memcpy(dst, extra, es);
                else memcpy(dst, src + (base + col[j]) * (int64_t)es, es);
            }
        } else {
            copy_row(dst, src, base, col, last, es);
            dst += last * (int64_t)es;
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++pos[d] < y->dims[d]) break;
            pos[d] = 0;
        }
    }
}

/* ---- dtype round trip for linear and cubic ---- */

static void to_f32(const ei_tensor *t, float *dst)
{
    int64_t n = numel(t);
    for (int64_t i = 0; i < n; i++) dst[i] = (float)tensor_get_f64(t, i);
}

/* Integers round to nearest and saturate; floats store as they are. */
static void from_f32(ei_tensor *t, const float *src)
{
    double lo = 0, hi = 0;
    switch (t->dtype) {
    case EI_DTYPE_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
    case EI_DTYPE_UINT8: hi = UINT8_MAX; break;
    case EI_DTYPE_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
    case EI_DTYPE_UINT16: hi = UINT16_MAX; break;
    case EI_DTYPE_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
    case EI_DTYPE_UINT32: hi = UINT32_MAX; break;
    case EI_DTYPE_INT64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;
    case EI_DTYPE_UINT64: hi = 18446744073709549568.0; break;
    default: break;
    }
    bool is_int = dtype_is_int(t->dtype);
    int64_t n = numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = src[i];
        if (is_int) {
            v = isnan(v) ? 0 : nearbyint(v);
            v = v < lo ? lo : v > hi ? hi : v;
        }
        tensor_set_f64(t, i, v);
    }
}

static ei_status resize_run_common(op_ctx *ctx, bool is_resize)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    resize_params p;
    TRY(parse_all(ctx, is_resize, &p));
    int r = x->rank, taps = ntaps_of(p.mode);
    if (numel(y) == 0) return EI_STATUS_OK;

    int64_t xs[EI_MAX_DIMS];
    shape_strides(r, x->dims, xs);
    int64_t *off[EI_MAX_DIMS];
    float *w[EI_MAX_DIMS];
    uint8_t *outside[EI_MAX_DIMS];
    char *sp = ctx->scratch;
    bool any_outside = false, ident[EI_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        size_t n = (size_t)y->dims[d] * (size_t)taps; /* infer checked the tables fit in size_t */
        off[d] = (int64_t *)sp;
        sp += align8(n * sizeof(int64_t));
        w[d] = (float *)sp;
        sp += align8(n * sizeof(float));
        outside[d] = (uint8_t *)sp;
        sp += align8((size_t)y->dims[d]);
        any_outside |= build_axis(&p, d, x->dims[d], xs[d], taps, off[d], w[d], outside[d]);
        ident[d] = axis_is_identity(y->dims[d], x->dims[d], xs[d], taps, off[d], w[d], outside[d]);
    }
    if (p.mode == MODE_NEAREST) {
        nearest_run(x, y, (const int64_t *const *)off, (const uint8_t *const *)outside, any_outside,
                    p.extrapolation);
        return EI_STATUS_OK;
    }

    const float *in = x->data;
    float *out = y->data;
    if (needs_f32_copy(&p, x->dtype)) {
        float *xin = (float *)sp;
        sp += align8((uint64_t)numel(x) * 4);
        out = (float *)sp;
        to_f32(x, xin);
        in = xin;
    }
    /* the usual case: only the last two axes change (NCHW images), every coordinate inside */
    bool planar = !any_outside && r >= 2;
    for (int d = 0; planar && d < r - 2; d++) planar = ident[d];
    if (planar) {
        int64_t planes = 1;
        for (int d = 0; d < r - 2; d++) planes *= x->dims[d];
        size_t ih = (size_t)x->dims[r - 2], iw = (size_t)x->dims[r - 1];
        size_t oh = (size_t)y->dims[r - 2], ow = (size_t)y->dims[r - 1];
        if (taps == 2)
            f32_resize_bilinear_scalar((size_t)planes, ih, iw, oh, ow, in, off[r - 2], w[r - 2], off[r - 1],
                                       w[r - 1], out);
        else
            f32_resize_2d_scalar((size_t)planes, ih, iw, oh, ow, (size_t)taps, in, off[r - 2], w[r - 2],
                                 off[r - 1], w[r - 1], out);
    } else {
        /* identity axes shrink to one tap so that the kernel does not walk their zero weights */
        int ntaps[EI_MAX_DIMS];
        for (int d = 0; d < r; d++) {
            ntaps[d] = ident[d] ? 1 : taps;
            if (!ident[d]) continue;
            for (int64_t i = 0; i < y->dims[d]; i++) {
                off[d][i] = i * xs[d];
                w[d][i] = 1.0f;
            }
        }
        f32_resize_taps_scalar(r, y->dims, ntaps, (const int64_t *const *)off, (const float *const *)w,
                               any_outside ? (const uint8_t *const *)outside : NULL, p.extrapolation, in, out);
    }
    if (out != y->data) from_f32(y, out);
    return EI_STATUS_OK;
}

static ei_status resize_infer(op_ctx *ctx) { return resize_infer_common(ctx, true); }
static ei_status resize_run(op_ctx *ctx) { return resize_run_common(ctx, true); }
static ei_status upsample_infer(op_ctx *ctx) { return resize_infer_common(ctx, false); }
static ei_status upsample_run(op_ctx *ctx) { return resize_run_common(ctx, false); }

const op_def resize_ops[] = {
    {"Resize", "", 10, resize_infer, NULL, resize_run, 0},
    {"Upsample", "", 7, upsample_infer, NULL, upsample_run, 0},
};
const int resize_ops_count = sizeof resize_ops / sizeof resize_ops[0];
