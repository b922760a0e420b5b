/*
 * Detection and sampling ops: GridSample, RoiAlign, MaxRoiPool and
 * NonMaxSuppression.
 *
 * These follow the ONNX reference implementations (which mirror onnxruntime
 * and, for GridSample, PyTorch) step by step, including their edge cases:
 * GridSample pads out-of-range coordinates before interpolating, RoiAlign's
 * max mode takes the largest weighted corner, MaxRoiPool rounds the roi to
 * whole pixels and gives 0 for an empty bin (the Fast R-CNN pooling that
 * onnxruntime and torchvision's roi_pool implement), NonMaxSuppression keeps
 * ties in index order. Sample coordinates come from tensors a caller
 * controls, so every one is made finite and every index is bounded before it
 * is used: a NaN grid coordinate gives a NaN sample, a roi naming a batch
 * that does not exist (or a MaxRoiPool roi with a NaN corner) fails the run.
 *
 * NonMaxSuppression's output row count depends on the values of all its
 * inputs, so its infer runs the whole selection (with a temporary buffer,
 * since infer has no scratch) and run repeats it into the output.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "op.h"

#define ATTR_LIMIT ((int64_t)1 << 31)

static const int32_t real_dtypes[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};

static inline double ld(const void *p, int32_t dt, int64_t i)
{
    return dt == EI_DTYPE_FLOAT64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

static inline void st(void *p, int32_t dt, int64_t i, double v)
{
    if (dt == EI_DTYPE_FLOAT64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

static inline double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* =============================== GridSample =============================== */

enum { GS_LINEAR, GS_NEAREST, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct gs_args {
    int mode, padding;
    bool align;
} gs_args;

/* Mode names of opset 16 (bilinear, bicubic) and of opset 20 (linear, cubic). */
static ei_status gs_parse(op_ctx *ctx, gs_args *a)
{
    const char *m = attr_str(ctx->n, "mode", "bilinear");
    if (!strcmp(m, "bilinear") || !strcmp(m, "linear")) a->mode = GS_LINEAR;
    else if (!strcmp(m, "nearest")) a->mode = GS_NEAREST;
    else if (!strcmp(m, "bicubic") || !strcmp(m, "cubic")) a->mode = GS_CUBIC;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL, "attribute 'mode' is '%s', expected bilinear, nearest or bicubic", m);
    const char *p = attr_str(ctx->n, "padding_mode", "zeros");
    if (!strcmp(p, "zeros")) a->padding = GS_ZEROS;
    else if (!strcmp(p, "border")) a->padding = GS_BORDER;
    else if (!strcmp(p, "reflection")) a->padding = GS_REFLECTION;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL,
                        "attribute 'padding_mode' is '%s', expected zeros, border or reflection", p);
    int64_t ac = attr_int(ctx->n, "align_corners", 0);
    CHECK(ctx, ac == 0 || ac == 1, "attribute 'align_corners' is %lld, expected 0 or 1", (long long)ac);
    a->align = ac == 1;
    return EI_STATUS_OK;
}

static ei_status gridsample_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_dtype(ctx, 0, real_dtypes));
    TRY(check_dtype(ctx, 1, real_dtypes));
    const ei_tensor *x = ctx->in[0], *grid = ctx->in[1];
    gs_args a;
    TRY(gs_parse(ctx, &a));
    CHECK_SUPPORTED(ctx, x->rank == 4, "input X has shape %s; only 4-D [N, C, H, W] inputs are supported",
                    shape_str(x));
    CHECK_SHAPE(ctx, grid->rank == 4 && grid->dims[0] == x->dims[0] && grid->dims[3] == 2,
                "grid has shape %s, expected [%lld, H_out, W_out, 2] for X %s", shape_str(grid),
                (long long)x->dims[0], shape_str(x));
    int64_t dims[4] = {x->dims[0], x->dims[1], grid->dims[1], grid->dims[2]};
    return set_output(ctx, 0, x->dtype, 4, dims);
}

/* Grid value in [-1, 1] to a pixel coordinate along a dim of `len` pixels. */
static double gs_denormalize(double v, int64_t len, bool align)
{
    return align ? (v + 1) / 2.0 * (double)(len - 1) : ((v + 1) * (double)len - 1) / 2.0;
}

/* Reflects x into [lo, hi] by bouncing off the nearer border until inside. */
static double gs_reflect(double x, double lo, double hi)
{
    double rng = hi - lo;
    if (rng <= 0) return lo; /* a single pixel with align_corners: every coordinate is that pixel */
    if (x < lo) {
        double dx = lo - x, n = floor(dx / rng), r = dx - n * rng;
        return fmod(n, 2.0) == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi, n = floor(dx / rng), r = dx - n * rng;
        return fmod(n, 2.0) == 0 ? hi - r : lo + r;
    }
    return x;
}

typedef struct gs_plane {
    const void *p;
    int32_t dt;
    int64_t off, h, w;
    double ylo, yhi, xlo, xhi; /* coordinate borders */
    int padding;
} gs_plane;

/* Pixel (iy, ix) of the plane, padded as the padding mode says. */
static double gs_pixel(const gs_plane *pl, int64_t iy, int64_t ix)
{
    switch (pl->padding) {
    case GS_ZEROS:
        if (iy < 0 || iy >= pl->h || ix < 0 || ix >= pl->w) return 0;
        break;
    case GS_BORDER:
        iy = clampi(iy, 0, pl->h - 1);
        ix = clampi(ix, 0, pl->w - 1);
        break;
    default:
        /* the clamp only guards against rounding at the borders */
        iy = clampi((int64_t)gs_reflect((double)iy, pl->ylo, pl->yhi), 0, pl->h - 1);
        ix = clampi((int64_t)gs_reflect((double)ix, pl->xlo, pl->xhi), 0, pl->w - 1);
        break;
    }
    return ld(pl->p, pl->dt, pl->off + iy * pl->w + ix);
}

/* Keys' cubic convolution weights (A = -0.75) of the 4 taps around a point at fraction t. */
static void gs_cubic_coeffs(double t, double c[4])
{
    const double A = -0.75;
    double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
    c[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
    c[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    c[2] = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1;
    c[3] = ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A;
}

static double gs_sample(const gs_plane *pl, int mode, double y, double x)
{
    if (mode == GS_NEAREST) return gs_pixel(pl, (int64_t)y, (int64_t)x);
    double fy = floor(y), fx = floor(x);
    int64_t y0 = (int64_t)fy, x0 = (int64_t)fx;
    double ty = y - fy, tx = x - fx;
    if (mode == GS_LINEAR) {
        return (1 - ty) * ((1 - tx) * gs_pixel(pl, y0, x0) + tx * gs_pixel(pl, y0, x0 + 1)) +
               ty * ((1 - tx) * gs_pixel(pl, y0 + 1, x0) + tx * gs_pixel(pl, y0 + 1, x0 + 1));
    }
    double cy[4], cx[4], v = 0;
    gs_cubic_coeffs(ty, cy);
    gs_cubic_coeffs(tx, cx);
    for (int i = 0; i < 4; i++) {
        double row = 0;
        for (int j = 0; j < 4; j++) row += cx[j] * gs_pixel(pl, y0 - 1 + i, x0 - 1 + j);
        v += cy[i] * row;
    }
    return v;
}

static ei_status gridsample_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *grid = ctx->in[1];
    ei_tensor *y = ctx->out[0];
    gs_args a;
    TRY(gs_parse(ctx, &a));
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t Ho = grid->dims[1], Wo = grid->dims[2], opix = Ho * Wo;
    gs_plane pl = {x->data, x->dtype, 0, H, W, 0, 0, 0, 0, a.padding};
    pl.ylo = a.align ? 0 : -0.5;
    pl.yhi = a.align ? (double)H - 1 : (double)H - 0.5;
    pl.xlo = a.align ? 0 : -0.5;
    pl.xhi = a.align ? (double)W - 1 : (double)W - 0.5;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t p = 0; p < opix; p++) {
            int64_t gi = (n * opix + p) * 2;
            double gx = gs_denormalize(ld(grid->data, grid->dtype, gi), W, a.align);
            double gy = gs_denormalize(ld(grid->data, grid->dtype, gi + 1), H, a.align);
            bool nan = isnan(gx) || isnan(gy);
            /* Far beyond the image every coordinate samples alike; this keeps indices in int64. */
            gx = clampd(gx, -1e15, 1e15);
            gy = clampd(gy, -1e15, 1e15);
            if (a.mode == GS_NEAREST) {
                gx = nearbyint(gx);
                gy = nearbyint(gy);
            }
            if (a.padding == GS_BORDER) {
                if (gx < pl.xlo || gx > pl.xhi) gx = clampd(gx, 0, (double)W - 1);
                if (gy < pl.ylo || gy > pl.yhi) gy = clampd(gy, 0, (double)H - 1);
            } else if (a.padding == GS_REFLECTION) {
                gx = gs_reflect(gx, pl.xlo, pl.xhi);
                gy = gs_reflect(gy, pl.ylo, pl.yhi);
            }
            for (int64_t c = 0; c < C; c++) {
                double v;
                if (nan) v = NAN;
                else if (H == 0 || W == 0) v = 0; /* nothing to sample */
                else {
                    pl.off = (n * C + c) * H * W;
                    v = gs_sample(&pl, a.mode, gy, gx);
                }
                st(y->data, y->dtype, (n * C + c) * opix + p, v);
            }
        }
    }
    return EI_STATUS_OK;
}

/* ================================ RoiAlign ================================ */

#define ROI_MAX_SAMPLES ((int64_t)1 << 24) /* sampling points per output bin beyond this are absurd */

typedef struct roi_args {
    bool max_mode, half_pixel;
    int64_t oh, ow, sampling_ratio;
    double spatial_scale;
} roi_args;

static ei_status roi_parse(op_ctx *ctx, roi_args *a)
{
    const char *m = attr_str(ctx->n, "mode", "avg");
    CHECK(ctx, !strcmp(m, "avg") || !strcmp(m, "max"), "attribute 'mode' is '%s', expected avg or max", m);
    a->max_mode = !strcmp(m, "max");
    /* Before opset 16 the op behaved as output_half_pixel; from 16 the default is half_pixel. */
    const char *ct = ctx->opset >= 16 ? attr_str(ctx->n, "coordinate_transformation_mode", "half_pixel")
                                      : "output_half_pixel";
    CHECK(ctx, !strcmp(ct, "half_pixel") || !strcmp(ct, "output_half_pixel"),
          "attribute 'coordinate_transformation_mode' is '%s', expected half_pixel or output_half_pixel", ct);
    a->half_pixel = !strcmp(ct, "half_pixel");
    a->oh = attr_int(ctx->n, "output_height", 1);
    a->ow = attr_int(ctx->n, "output_width", 1);
    a->sampling_ratio = attr_int(ctx->n, "sampling_ratio", 0);
    a->spatial_scale = attr_float(ctx->n, "spatial_scale", 1.0f);
    CHECK(ctx, a->oh >= 1 && a->oh < ATTR_LIMIT && a->ow >= 1 && a->ow < ATTR_LIMIT,
          "attributes output_height = %lld and output_width = %lld must be at least 1", (long long)a->oh,
          (long long)a->ow);
    CHECK(ctx, a->sampling_ratio >= 0 && a->sampling_ratio <= ROI_MAX_SAMPLES &&
                   a->sampling_ratio * a->sampling_ratio <= ROI_MAX_SAMPLES,
          "attribute 'sampling_ratio' = %lld is out of range", (long long)a->sampling_ratio);
    return EI_STATUS_OK;
}

static ei_status roialign_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 3, 3, 3));
    TRY(check_dtype(ctx, 0, real_dtypes));
    static const int32_t index_dtypes[] = {EI_DTYPE_INT64, EI_DTYPE_INT32, 0};
    TRY(check_dtype(ctx, 2, index_dtypes));
    const ei_tensor *x = ctx->in[0], *rois = ctx->in[1], *bi = ctx->in[2];
    CHECK_SHAPE(ctx, rois->dtype == x->dtype, "rois has dtype %s but X has %s", ei_dtype_name(rois->dtype),
                ei_dtype_name(x->dtype));
    roi_args a;
    TRY(roi_parse(ctx, &a));
    CHECK_SHAPE(ctx, x->rank == 4, "input X has shape %s, expected [N, C, H, W]", shape_str(x));
    CHECK_SHAPE(ctx, rois->rank == 2 && rois->dims[1] == 4, "rois has shape %s, expected [num_rois, 4]",
                shape_str(rois));
    CHECK_SHAPE(ctx, bi->rank == 1 && bi->dims[0] == rois->dims[0], "batch_indices has shape %s, expected [%lld]",
                shape_str(bi), (long long)rois->dims[0]);
    int64_t dims[4] = {rois->dims[0], x->dims[1], a.oh, a.ow};
    return set_output(ctx, 0, x->dtype, 4, dims);
}

/* Sampling points per bin along one axis: the ratio, or ceil(extent / bins). 0 for an empty or inverted roi. */
static bool roi_grid(int64_t ratio, double extent, int64_t bins, int64_t *out)
{
    if (ratio > 0) {
        *out = ratio;
        return true;
    }
    double g = ceil(extent / (double)bins);
    if (isnan(g) || g > (double)ROI_MAX_SAMPLES) return false;
    *out = g > 0 ? (int64_t)g : 0;
    return true;
}

/* The four bilinear taps of the point (y, x); all weights 0 when it lies outside the map. */
typedef struct roi_tap {
    int64_t pos[4];
    double w[4];
} roi_tap;

static void roi_bilinear(int64_t h, int64_t w, double y, double x, roi_tap *t)
{
    memset(t, 0, sizeof *t);
    if (!(y >= -1.0 && y <= (double)h && x >= -1.0 && x <= (double)w) || h == 0 || w == 0) return;
    if (y < 0) y = 0;
    if (x < 0) x = 0;
    int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
    if (yl >= h - 1) {
        yh = yl = h - 1;
        y = (double)yl;
    } else {
        yh = yl + 1;
    }
    if (xl >= w - 1) {
        xh = xl = w - 1;
        x = (double)xl;
    } else {
        xh = xl + 1;
    }
    double ly = y - (double)yl, lx = x - (double)xl, hy = 1 - ly, hx = 1 - lx;
    t->pos[0] = yl * w + xl;
    t->pos[1] = yl * w + xh;
    t->pos[2] = yh * w + xl;
    t->pos[3] = yh * w + xh;
    t->w[0] = hy * hx;
    t->w[1] = hy * lx;
    t->w[2] = ly * hx;
    t->w[3] = ly * lx;
}

static ei_status roialign_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *rois = ctx->in[1], *bi = ctx->in[2];
    ei_tensor *y = ctx->out[0];
    roi_args a;
    TRY(roi_parse(ctx, &a));
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
    double offset = a.half_pixel ? 0.5 : 0.0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = bi->dtype == EI_DTYPE_INT64 ? ((const int64_t *)bi->data)[r] : ((const int32_t *)bi->data)[r];
        if (b < 0 || b >= N)
            return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT, "batch_indices[%lld] = %lld is out of range [0, %lld)",
                           (long long)r, (long long)b, (long long)N);
        double x0 = ld(rois->data, rois->dtype, r * 4 + 0) * a.spatial_scale - offset;
        double y0 = ld(rois->data, rois->dtype, r * 4 + 1) * a.spatial_scale - offset;
        double x1 = ld(rois->data, rois->dtype, r * 4 + 2) * a.spatial_scale - offset;
        double y1 = ld(rois->data, rois->dtype, r * 4 + 3) * a.spatial_scale - offset;
        double rw = x1 - x0, rh = y1 - y0;
        if (!a.half_pixel) { /* malformed rois are forced to 1x1 */
            if (!(rw >= 1)) rw = 1;
            if (!(rh >= 1)) rh = 1;
        }
        double bin_h = rh / (double)a.oh, bin_w = rw / (double)a.ow;
        int64_t gh, gw;
        if (!roi_grid(a.sampling_ratio, rh, a.oh, &gh) || !roi_grid(a.sampling_ratio, rw, a.ow, &gw) ||
            (gh && gw > ROI_MAX_SAMPLES / gh))
            return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT,
                           "roi %lld [%g, %g, %g, %g] needs an absurd number of sampling points", (long long)r,
                           ld(rois->data, rois->dtype, r * 4), ld(rois->data, rois->dtype, r * 4 + 1),
                           ld(rois->data, rois->dtype, r * 4 + 2), ld(rois->data, rois->dtype, r * 4 + 3));
        double count = gh * gw > 1 ? (double)(gh * gw) : 1.0;
        for (int64_t c = 0; c < C; c++) {
            int64_t plane = (b * C + c) * H * W;
            for (int64_t ph = 0; ph < a.oh; ph++) {
                for (int64_t pw = 0; pw < a.ow; pw++) {
                    double out = 0;
                    bool first = true;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double sy = y0 + (double)ph * bin_h + ((double)iy + 0.5) * bin_h / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double sx = x0 + (double)pw * bin_w + ((double)ix + 0.5) * bin_w / (double)gw;
                            roi_tap t;
                            roi_bilinear(H, W, sy, sx, &t);
                            double v[4];
                            for (int k = 0; k < 4; k++)
                                v[k] = t.w[k] ? t.w[k] * ld(x->data, x->dtype, plane + t.pos[k]) : 0;
                            if (!a.max_mode) {
                                out += v[0] + v[1] + v[2] + v[3];
                            } else {
                                double m = fmax(fmax(v[0], v[1]), fmax(v[2], v[3]));
                                out = first || m > out ? m : out;
                                first = false;
                            }
                        }
                    }
                    if (!a.max_mode) out /= count;
                    st(y->data, y->dtype, ((r * C + c) * a.oh + ph) * a.ow + pw, out);
                }
            }
        }
    }
    return EI_STATUS_OK;
}

/* =============================== MaxRoiPool =============================== */

/* Roi corners beyond this are far outside any feature map; clamping them keeps every
 * pixel index and bin bound in range of int64 arithmetic. */
#define MRP_COORD_LIMIT 1e9f

typedef struct mrp_args {
    int64_t ph, pw;
    float spatial_scale;
} mrp_args;

static ei_status mrp_parse(op_ctx *ctx, mrp_args *a)
{
    const int64_t *ps;
    int n = attr_ints(ctx->n, "pooled_shape", &ps);
    CHECK(ctx, n == 2, "attribute 'pooled_shape' has %d values, expected 2 (height, width)", n < 0 ? 0 : n);
    CHECK(ctx, ps[0] >= 1 && ps[0] < ATTR_LIMIT && ps[1] >= 1 && ps[1] < ATTR_LIMIT,
          "attribute 'pooled_shape' is [%lld, %lld], expected positive sizes", (long long)ps[0], (long long)ps[1]);
    a->ph = ps[0];
    a->pw = ps[1];
    a->spatial_scale = attr_float(ctx->n, "spatial_scale", 1.0f);
    return EI_STATUS_OK;
}

static ei_status maxroipool_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_dtype(ctx, 0, real_dtypes));
    const ei_tensor *x = ctx->in[0], *rois = ctx->in[1];
    CHECK_SHAPE(ctx, rois->dtype == x->dtype, "rois has dtype %s but X has %s", ei_dtype_name(rois->dtype),
                ei_dtype_name(x->dtype));
    mrp_args a;
    TRY(mrp_parse(ctx, &a));
    CHECK_SHAPE(ctx, x->rank == 4, "input X has shape %s, expected [N, C, H, W]", shape_str(x));
    CHECK_SHAPE(ctx, rois->rank == 2 && rois->dims[1] == 5,
                "rois has shape %s, expected [num_rois, 5] (batch index, x1, y1, x2, y2)", shape_str(rois));
    int64_t dims[4] = {rois->dims[0], x->dims[1], a.ph, a.pw};
    return set_output(ctx, 0, x->dtype, 4, dims);
}

/* A roi corner scaled to the feature map and rounded half away from zero, as float
 * arithmetic does it in the reference implementations. */
static int64_t mrp_corner(double v, float scale)
{
    float c = roundf((float)v * scale);
    if (c < -MRP_COORD_LIMIT) c = -MRP_COORD_LIMIT;
    if (c > MRP_COORD_LIMIT) c = MRP_COORD_LIMIT;
    return (int64_t)c;
}

/* The pixel range [*lo, *hi) of bin i of `bins` over a roi that starts at `start` and spans `len`
 * pixels, clipped to [0, size). The bin edges are computed in float, as onnxruntime and torchvision
 * do: in double precision the last of 7 bins over 29 pixels would end at pixel 30, not 29. */
static void mrp_bin(int64_t i, int64_t bins, int64_t start, int64_t len, int64_t size, int64_t *lo, int64_t *hi)
{
    float bin = (float)len / (float)bins;
    int64_t b0 = (int64_t)floorf((float)i * bin) + start;
    int64_t b1 = (int64_t)ceilf((float)(i + 1) * bin) + start;
    *lo = clampi(b0, 0, size);
    *hi = clampi(b1, 0, size);
}

static ei_status maxroipool_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *rois = ctx->in[1];
    ei_tensor *y = ctx->out[0];
    mrp_args a;
    TRY(mrp_parse(ctx, &a));
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
    double lowest = x->dtype == EI_DTYPE_FLOAT64 ? -DBL_MAX : -FLT_MAX;
    for (int64_t r = 0; r < R; r++) {
        double bd = ld(rois->data, rois->dtype, r * 5);
        if (!(bd >= 0 && bd < (double)N))
            return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT, "rois[%lld] names batch %g, expected [0, %lld)",
                           (long long)r, bd, (long long)N);
        int64_t b = (int64_t)bd;
        double c[4];
        for (int k = 0; k < 4; k++) {
            c[k] = ld(rois->data, rois->dtype, r * 5 + 1 + k);
            if (isnan(c[k]))
                return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT, "rois[%lld] has a NaN coordinate", (long long)r);
        }
        int64_t x0 = mrp_corner(c[0], a.spatial_scale), y0 = mrp_corner(c[1], a.spatial_scale);
        int64_t x1 = mrp_corner(c[2], a.spatial_scale), y1 = mrp_corner(c[3], a.spatial_scale);
        /* an inverted or empty roi still covers the one pixel at its start */
        int64_t rh = y1 - y0 + 1 > 1 ? y1 - y0 + 1 : 1, rw = x1 - x0 + 1 > 1 ? x1 - x0 + 1 : 1;
        for (int64_t ph = 0; ph < a.ph; ph++) {
            int64_t hs, he;
            mrp_bin(ph, a.ph, y0, rh, H, &hs, &he);
            for (int64_t pw = 0; pw < a.pw; pw++) {
                int64_t ws, we;
                mrp_bin(pw, a.pw, x0, rw, W, &ws, &we);
                bool empty = he <= hs || we <= ws;
                for (int64_t ch = 0; ch < C; ch++) {
                    int64_t plane = (b * C + ch) * H * W;
                    double m = empty ? 0 : lowest;
                    for (int64_t iy = hs; iy < he; iy++) {
                        for (int64_t ix = ws; ix < we; ix++) {
                            double v = ld(x->data, x->dtype, plane + iy * W + ix);
                            if (v > m) m = v;
                        }
                    }
                    st(y->data, y->dtype, ((r * C + ch) * a.ph + ph) * a.pw + pw, m);
                }
            }
        }
    }
    return EI_STATUS_OK;
}

/* ============================ NonMaxSuppression ============================ */

typedef struct nms_cand {
    float score;
    int64_t idx;
} nms_cand;

typedef struct nms_args {
    const float *boxes;  /* [B, n, 4] */
    const float *scores; /* [B, C, n] */
    int64_t B, C, n;
    int64_t max_out;
    float iou_threshold, score_threshold;
    bool has_score_threshold, center;
} nms_args;

static ei_status nms_parse(op_ctx *ctx, nms_args *a)
{
    TRY(check_arity(ctx, 2, 5, 2));
    static const int32_t f32_only[] = {EI_DTYPE_FLOAT32, 0};
    static const int32_t i64_only[] = {EI_DTYPE_INT64, 0};
    TRY(check_dtype(ctx, 0, f32_only));
    TRY(check_dtype(ctx, 1, f32_only));
    TRY(check_dtype(ctx, 2, i64_only));
    TRY(check_dtype(ctx, 3, f32_only));
    TRY(check_dtype(ctx, 4, f32_only));
    const ei_tensor *boxes = ctx->in[0], *scores = ctx->in[1];
    CHECK_SHAPE(ctx, boxes->rank == 3 && boxes->dims[2] == 4, "boxes has shape %s, expected [batches, boxes, 4]",
                shape_str(boxes));
    CHECK_SHAPE(ctx, scores->rank == 3 && scores->dims[0] == boxes->dims[0] && scores->dims[2] == boxes->dims[1],
                "scores has shape %s, expected [%lld, classes, %lld] for boxes %s", shape_str(scores),
                (long long)boxes->dims[0], (long long)boxes->dims[1], shape_str(boxes));
    int64_t cpb = attr_int(ctx->n, "center_point_box", 0);
    CHECK(ctx, cpb == 0 || cpb == 1, "attribute 'center_point_box' is %lld, expected 0 or 1", (long long)cpb);
    for (int i = 2; i < 5; i++) {
        if (!has_in(ctx, i)) continue;
        CHECK_SHAPE(ctx, numel(ctx->in[i]) <= 1, "input %d has shape %s, expected a scalar", i,
                    shape_str(ctx->in[i]));
        if (numel(ctx->in[i]) == 1) NEED_DATA(ctx, i);
    }
    memset(a, 0, sizeof *a);
    a->boxes = boxes->data;
    a->scores = scores->data;
    a->B = boxes->dims[0];
    a->n = boxes->dims[1];
    a->C = scores->dims[1];
    a->center = cpb == 1;
    /* An absent or empty max_output_boxes_per_class selects nothing; negative counts as 0. */
    if (has_in(ctx, 2) && numel(ctx->in[2]) == 1) a->max_out = *(const int64_t *)ctx->in[2]->data;
    if (a->max_out < 0) a->max_out = 0;
    if (has_in(ctx, 3) && numel(ctx->in[3]) == 1) a->iou_threshold = *(const float *)ctx->in[3]->data;
    if (has_in(ctx, 4) && numel(ctx->in[4]) == 1) {
        a->has_score_threshold = true;
        a->score_threshold = *(const float *)ctx->in[4]->data;
    }
    return EI_STATUS_OK;
}

/* Higher score first; among equal scores the lower index. */
static inline bool nms_before(const nms_cand *p, const nms_cand *q)
{
    return p->score > q->score || (p->score == q->score && p->idx < q->idx);
}

static void nms_sift_down(nms_cand *h, int64_t m, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, best = i;
        if (l < m && nms_before(&h[l], &h[best])) best = l;
        if (l + 1 < m && nms_before(&h[l + 1], &h[best])) best = l + 1;
        if (best == i) return;
        nms_cand t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

static inline void min_max(float a, float b, float *lo, float *hi)
{
    *lo = a < b ? a : b;
    *hi = a < b ? b : a;
}

/* True when boxes i and j (of one batch) overlap by more than the threshold. */
static bool nms_suppress(const nms_args *a, const float *bx, int64_t i, int64_t j)
{
    const float *p = bx + i * 4, *q = bx + j * 4;
    float px0, px1, py0, py1, qx0, qx1, qy0, qy1;
    if (!a->center) { /* [y1, x1, y2, x2], corners in either order */
        min_max(p[1], p[3], &px0, &px1);
        min_max(q[1], q[3], &qx0, &qx1);
        min_max(p[0], p[2], &py0, &py1);
        min_max(q[0], q[2], &qy0, &qy1);
    } else { /* [x_center, y_center, width, height] */
        px0 = p[0] - p[2] / 2;
        px1 = p[0] + p[2] / 2;
        qx0 = q[0] - q[2] / 2;
        qx1 = q[0] + q[2] / 2;
        py0 = p[1] - p[3] / 2;
        py1 = p[1] + p[3] / 2;
        qy0 = q[1] - q[3] / 2;
        qy1 = q[1] + q[3] / 2;
    }
    float ix0 = fmaxf(px0, qx0), ix1 = fminf(px1, qx1);
    if (!(ix1 > ix0)) return false;
    float iy0 = fmaxf(py0, qy0), iy1 = fminf(py1, qy1);
    if (!(iy1 > iy0)) return false;
    float inter = (ix1 - ix0) * (iy1 - iy0);
    float area_p = (px1 - px0) * (py1 - py0), area_q = (qx1 - qx0) * (qy1 - qy0);
    float uni = area_p + area_q - inter;
    if (!(inter > 0) || !(area_p > 0) || !(area_q > 0) || !(uni > 0)) return false;
    return inter / uni > a->iou_threshold;
}

/* Runs the selection with work space for n candidates and n selected indices;
 * writes [batch, class, box] rows into out (at most out_rows of them) when out
 * is given, and returns the number selected. */
static int64_t nms_select(const nms_args *a, nms_cand *heap, int64_t *sel, int64_t *out, int64_t out_rows)
{
    int64_t total = 0;
    for (int64_t b = 0; b < a->B; b++) {
        const float *bx = a->boxes + b * a->n * 4;
        for (int64_t c = 0; c < a->C; c++) {
            const float *sc = a->scores + (b * a->C + c) * a->n;
            int64_t m = 0, nsel = 0;
            for (int64_t i = 0; i < a->n; i++) {
                if (a->has_score_threshold && !(sc[i] > a->score_threshold)) continue;
                heap[m].score = sc[i];
                heap[m].idx = i;
                m++;
            }
            for (int64_t i = m / 2 - 1; i >= 0; i--) nms_sift_down(heap, m, i);
            while (m > 0 && nsel < a->max_out) {
                nms_cand top = heap[0];
                heap[0] = heap[--m];
                nms_sift_down(heap, m, 0);
                bool keep = true;
                for (int64_t k = 0; k < nsel && keep; k++) keep = !nms_suppress(a, bx, top.idx, sel[k]);
                if (!keep) continue;
                sel[nsel++] = top.idx;
                if (out && total < out_rows) {
                    out[total * 3 + 0] = b;
                    out[total * 3 + 1] = c;
                    out[total * 3 + 2] = top.idx;
                }
                total++;
            }
        }
    }
    return total;
}

/* Work space of the selection: n candidates and n selected indices. */
static uint64_t nms_work_bytes(const nms_args *a)
{
    return (uint64_t)a->n * (sizeof(nms_cand) + sizeof(int64_t));
}

static ei_status nms_infer(op_ctx *ctx)
{
    nms_args a;
    TRY(nms_parse(ctx, &a));
    uint64_t bytes = nms_work_bytes(&a);
    CHECK_SHAPE(ctx, bytes <= SIZE_MAX / 2, "%lld boxes per batch are more than this build supports",
                (long long)a.n);
    int64_t count = 0;
    if (a.n > 0 && a.max_out > 0 && a.B > 0 && a.C > 0) {
        NEED_DATA(ctx, 0);
        NEED_DATA(ctx, 1);
        nms_cand *heap = malloc((size_t)bytes);
        if (!heap) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory for %lld boxes", (long long)a.n);
        count = nms_select(&a, heap, (int64_t *)(heap + a.n), NULL, 0);
        free(heap);
    }
    int64_t dims[2] = {count, 3};
    TRY(set_output(ctx, 0, EI_DTYPE_INT64, 2, dims));
    ctx->scratch_bytes = (size_t)bytes;
    return EI_STATUS_OK;
}

static ei_status nms_run(op_ctx *ctx)
{
    nms_args a;
    TRY(nms_parse(ctx, &a));
    ei_tensor *y = ctx->out[0];
    int64_t rows = y->dims[0];
    if (rows == 0) return EI_STATUS_OK;
    nms_cand *heap = ctx->scratch;
    int64_t count = nms_select(&a, heap, (int64_t *)(heap + a.n), y->data, rows);
    CHECK(ctx, count == rows, "selected %lld boxes at run time but %lld when shapes were inferred", (long long)count,
          (long long)rows);
    return EI_STATUS_OK;
}

const op_def vision_ops[] = {
    {"GridSample", "", 16, gridsample_infer, NULL, gridsample_run, 0},
    {"RoiAlign", "", 10, roialign_infer, NULL, roialign_run, 0},
    {"MaxRoiPool", "", 1, maxroipool_infer, NULL, maxroipool_run, 0},
    {"NonMaxSuppression", "", 10, nms_infer, NULL, nms_run, 0},
};
const int vision_ops_count = sizeof vision_ops / sizeof vision_ops[0];
