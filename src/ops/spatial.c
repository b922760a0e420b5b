/* Window geometry shared by convolutions and pools (spatial.h). */
#include "spatial.h"

ei_status spatial_ints(op_ctx *ctx, const char *name, int count, int64_t lo, int64_t def, int64_t *v,
                       bool *present)
{
    const int64_t *a;
    int n = attr_ints(ctx->n, name, &a);
    if (present) *present = n >= 0;
    if (n < 0) {
        for (int i = 0; i < count; i++) v[i] = def;
        return EI_STATUS_OK;
    }
    CHECK(ctx, n == count, "attribute '%s' has %d values, expected %d", name, n, count);
    for (int i = 0; i < n; i++) {
        CHECK(ctx, a[i] >= lo && a[i] < SPATIAL_LIMIT, "attribute '%s'[%d] = %lld is out of range (expected >= %lld)",
              name, i, (long long)a[i], (long long)lo);
        v[i] = a[i];
    }
    return EI_STATUS_OK;
}

ei_status spatial_auto_pad(op_ctx *ctx, auto_pad_kind *k)
{
    const char *s = attr_str(ctx->n, "auto_pad", "NOTSET");
    if (!strcmp(s, "NOTSET") || !*s) *k = PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER")) *k = PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *k = PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID")) *k = PAD_VALID;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL, "attribute 'auto_pad' is '%s', expected NOTSET, SAME_UPPER, "
                        "SAME_LOWER or VALID", s);
    return EI_STATUS_OK;
}

void spatial_same_pad(auto_pad_kind k, int64_t in, int64_t stride, int64_t extent, int64_t *out, int64_t *begin,
                      int64_t *end)
{
    int64_t o = (in + stride - 1) / stride;
    int64_t total = (o - 1) * stride + extent - in;
    if (total < 0) total = 0;
    *out = o;
    *begin = k == PAD_SAME_UPPER ? total / 2 : total - total / 2;
    *end = total - *begin;
}

/* a * b for non-negative extents, or -1 when it exceeds what the library places. */
static int64_t mul_bounded(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > EI_MAX_TENSOR_BYTES) return -1;
    return r;
}

/* floor(a / 2) for any sign, as Python's // does. */
static int64_t floor_half(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

static ei_status window_kernel(op_ctx *ctx, const ei_tensor *w, window_geom *g)
{
    bool has_kernel;
    TRY(spatial_ints(ctx, "kernel_shape", g->nd, 1, 1, g->kernel, &has_kernel));
    if (!w) {
        CHECK(ctx, has_kernel, "attribute kernel_shape is required");
        return EI_STATUS_OK;
    }
    for (int d = 0; d < g->nd; d++) {
        int64_t k = w->dims[d + 2];
        CHECK_SHAPE(ctx, k >= 1, "weight %s has an empty kernel", shape_str(w));
        CHECK_SHAPE(ctx, !has_kernel || g->kernel[d] == k,
                    "attribute kernel_shape does not match weight %s at spatial dim %d (%lld)", shape_str(w), d,
                    (long long)g->kernel[d]);
        CHECK_SHAPE(ctx, k < SPATIAL_LIMIT, "weight %s has an absurd kernel", shape_str(w));
        g->kernel[d] = k;
    }
    return EI_STATUS_OK;
}

/* ConvTranspose's output_shape attribute: spatial dims (some exporters write [N, C, spatial...]). */
static ei_status window_output_shape(op_ctx *ctx, int nd, int64_t *os, bool *has)
{
    const int64_t *v;
    int n = attr_ints(ctx->n, "output_shape", &v);
    *has = n >= 0;
    if (n < 0) return EI_STATUS_OK;
    CHECK(ctx, n == nd || n == nd + 2, "attribute 'output_shape' has %d values, expected %d", n, nd);
    for (int i = 0; i < nd; i++) {
        os[i] = v[n - nd + i];
        CHECK(ctx, os[i] >= 0 && os[i] < SPATIAL_LIMIT, "attribute 'output_shape'[%d] = %lld is out of range", i,
              (long long)os[i]);
    }
    return EI_STATUS_OK;
}

/* One dim of a convolution or pool: output extent and padding. All values are below 2^31 here. */
static ei_status window_forward(op_ctx *ctx, const ei_tensor *x, window_kind kind, auto_pad_kind ap, bool ceil_mode,
                                int d, int64_t ek, window_geom *g)
{
    int64_t in = g->in[d], s = g->stride[d], pb = g->pad_begin[d], pe = g->pad_end[d];
    if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
        spatial_same_pad(ap, in, s, ek, &g->out[d], &g->pad_begin[d], &g->pad_end[d]);
        return EI_STATUS_OK;
    }
    if (ap == PAD_VALID) pb = pe = g->pad_begin[d] = g->pad_end[d] = 0;
    if (kind == WINDOW_POOL && ap != PAD_VALID)
        CHECK(ctx, pb < ek && pe < ek, "pads (%lld, %lld) along axis %d are not smaller than the window (%lld)",
              (long long)pb, (long long)pe, d + 2, (long long)ek);
    int64_t span = in + pb + pe - ek;
    CHECK_SHAPE(ctx, span >= 0, "the window (%lld) along axis %d is larger than the padded input (%lld + %lld + %lld) "
                "of X %s", (long long)ek, d + 2, (long long)in, (long long)pb, (long long)pe, shape_str(x));
    int64_t out = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    /* ceil_mode may add a window; it must still start inside the input or the begin padding */
    if (ceil_mode && (out - 1) * s >= in + pb) out--;
    g->out[d] = out;
    return EI_STATUS_OK;
}

/* One dim of ConvTranspose, as the ONNX reference implementation computes it: with output_shape
 * the padding is derived (begin = total - total / 2, or total / 2 for SAME_UPPER), pads ignored. */
static ei_status window_transpose(op_ctx *ctx, auto_pad_kind ap, int d, int64_t ek, int64_t opad, bool has_os,
                                  int64_t os, window_geom *g)
{
    int64_t in = g->in[d], s = g->stride[d];
    CHECK(ctx, opad < s || opad < g->dilation[d],
          "output_padding %lld at spatial dim %d must be smaller than the stride or the dilation", (long long)opad, d);
    int64_t full = in == 0 ? 0 : s * (in - 1) + opad + ek; /* length of the unpadded result */
    if (has_os || ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
        int64_t out = has_os ? os : in * s;
        int64_t total = full - out;
        g->pad_begin[d] = ap == PAD_SAME_UPPER ? floor_half(total) : total - floor_half(total);
        g->pad_end[d] = total - g->pad_begin[d];
        g->out[d] = out;
        return EI_STATUS_OK;
    }
    if (ap == PAD_VALID) g->pad_begin[d] = g->pad_end[d] = 0;
    int64_t pb = g->pad_begin[d], pe = g->pad_end[d];
    g->out[d] = full - pb - pe;
    CHECK_SHAPE(ctx, g->out[d] >= 0, "output would have %lld elements at spatial dim %d (pads %lld + %lld exceed the "
                "full output %lld)", (long long)g->out[d], d, (long long)pb, (long long)pe, (long long)full);
    return EI_STATUS_OK;
}

ei_status spatial_window(op_ctx *ctx, const ei_tensor *x, const ei_tensor *w, window_kind kind, window_geom *g)
{
    memset(g, 0, sizeof *g);
    CHECK_SHAPE(ctx, x->rank >= 3 && x->rank <= SPATIAL_MAX_ND + 2,
                "input X has shape %s, expected [N, C, spatial...] with 1 to %d spatial dims", shape_str(x),
                SPATIAL_MAX_ND);
    int nd = g->nd = x->rank - 2;
    TRY(window_kernel(ctx, w, g));
    TRY(spatial_ints(ctx, "strides", nd, 1, 1, g->stride, NULL));
    TRY(spatial_ints(ctx, "dilations", nd, 1, 1, g->dilation, NULL));
    int64_t pads[2 * SPATIAL_MAX_ND], opad[SPATIAL_MAX_ND] = {0}, os[SPATIAL_MAX_ND] = {0};
    TRY(spatial_ints(ctx, "pads", 2 * nd, 0, 0, pads, NULL));
    auto_pad_kind ap;
    TRY(spatial_auto_pad(ctx, &ap));
    bool has_os = false, ceil_mode = kind == WINDOW_POOL && attr_int(ctx->n, "ceil_mode", 0) != 0;
    if (kind == WINDOW_TRANSPOSE) {
        TRY(spatial_ints(ctx, "output_padding", nd, 0, 0, opad, NULL));
        TRY(window_output_shape(ctx, nd, os, &has_os));
    }
    g->ksize = g->in_pix = g->out_pix = 1;
    for (int d = 0; d < nd; d++) {
        g->in[d] = x->dims[d + 2];
        g->pad_begin[d] = pads[d];
        g->pad_end[d] = pads[d + nd];
        int64_t ek = (g->kernel[d] - 1) * g->dilation[d] + 1; /* extent of the dilated kernel, < 2^62 */
        CHECK_SHAPE(ctx, ek < SPATIAL_LIMIT, "dilated kernel extent %lld at spatial dim %d is absurd", (long long)ek,
                    d);
        CHECK_SHAPE(ctx, g->in[d] < SPATIAL_LIMIT, "input X %s is too large at spatial dim %d", shape_str(x), d);
        if (kind == WINDOW_TRANSPOSE) TRY(window_transpose(ctx, ap, d, ek, opad[d], has_os, os[d], g));
        else TRY(window_forward(ctx, x, kind, ap, ceil_mode, d, ek, g));
        g->ksize = mul_bounded(g->ksize, g->kernel[d]);
        g->in_pix = mul_bounded(g->in_pix, g->in[d]);
        g->out_pix = mul_bounded(g->out_pix, g->out[d]);
        CHECK_SHAPE(ctx, g->out[d] < SPATIAL_LIMIT && g->ksize >= 0 && g->in_pix >= 0 && g->out_pix >= 0,
                    "the window over X %s is too large at spatial dim %d (output extent %lld)", shape_str(x), d,
                    (long long)g->out[d]);
    }
    return EI_STATUS_OK;
}
