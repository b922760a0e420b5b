/*
 * Normalisation ops over float32: BatchNormalization (inference, and the
 * opset 14 training mode that also updates the running statistics),
 * InstanceNormalization, LayerNormalization, LpNormalization,
 * MeanVarianceNormalization and LRN.
 *
 * BatchNormalization and InstanceNormalization come down to one affine map
 * y = x * a + b per (n, c) plane; LayerNormalization normalises rows of the
 * trailing dims. MeanVarianceNormalization reduces over an arbitrary set of
 * axes, so it keeps per-group statistics in double scratch and walks the
 * input with an index counter.
 */
#include "../kernels/f32_norm.h"
#include "op.h"

static const int32_t f32_only[] = {EI_DTYPE_FLOAT32, 0};

/* Checks that input i is float32 with `count` elements. */
static ei_status check_param(op_ctx *ctx, int i, const char *name, int64_t count)
{
    const ei_tensor *t = ctx->in[i];
    CHECK(ctx, t->dtype == EI_DTYPE_FLOAT32, "input %s has dtype %s, expected float32", name,
          ei_dtype_name(t->dtype));
    CHECK_SHAPE(ctx, numel(t) == count, "input %s has shape %s, expected %lld elements", name, shape_str(t),
                (long long)count);
    return EI_STATUS_OK;
}

/* ---- BatchNormalization ---- */

/* Before opset 9, spatial = 0 gives every element of a sample its own
 * statistics ([C, D1, ...] parameters) instead of one per channel. */
static bool bn_spatial(op_ctx *ctx)
{
    return ctx->opset >= 9 || attr_int(ctx->n, "spatial", 1) != 0;
}

/* From opset 14 the attribute training_mode = 1 normalises with the batch's own
 * statistics and puts the momentum-updated running mean and variance in the
 * optional outputs 1 and 2. Older opsets signalled training by their extra
 * outputs (with a different set of them), which is not supported. */
static bool bn_training(op_ctx *ctx)
{
    return ctx->opset >= 14 && attr_int(ctx->n, "training_mode", 0) != 0;
}

static ei_status bn_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 5, 5, 5));
    TRY(check_dtype(ctx, 0, f32_only));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 2, "input X has shape %s, expected N x C x ...", shape_str(x));
    int64_t mode = attr_int(ctx->n, "training_mode", 0);
    CHECK(ctx, mode == 0 || mode == 1, "attribute training_mode is %lld, expected 0 or 1", (long long)mode);
    CHECK_SUPPORTED(ctx, mode == 0 || ctx->opset >= 14, "training_mode = 1 is not supported before opset 14");
    bool training = bn_training(ctx);
    int max_out = training ? 3 : 1;
    for (int i = max_out; i < ctx->n_out; i++)
        CHECK_SUPPORTED(ctx, !has_out(ctx, i), "output %d holds training statistics, which are not supported%s", i,
                        ctx->opset >= 14 ? " (only training_mode = 1 has outputs 1 and 2)" : "");
    int64_t count = bn_spatial(ctx) ? x->dims[1] : shape_numel(x->rank - 1, x->dims + 1);
    static const char *names[] = {"", "scale", "B", "mean", "var"};
    for (int i = 1; i < 5; i++) TRY(check_param(ctx, i, names[i], count));
    if (training) {
        float momentum = attr_float(ctx->n, "momentum", 0.9f);
        CHECK(ctx, isfinite(momentum), "attribute momentum is %g, expected a finite value", (double)momentum);
        int64_t c = x->dims[1];
        TRY(set_output(ctx, 1, EI_DTYPE_FLOAT32, 1, &c));
        TRY(set_output(ctx, 2, EI_DTYPE_FLOAT32, 1, &c));
    }
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

/* Training mode: per channel, the (biased) mean and variance over the batch and
 * the spatial dims normalise X, and blend into the running statistics:
 * running = input * momentum + batch * (1 - momentum). The statistics of the
 * channel's N planes are combined exactly (equal-sized groups: the variance
 * is the mean of the plane variances plus the variance of the plane means).
 * Every plane of a channel is read before any is written, so Y may alias X. */
static ei_status bn_run_training(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    const float *scale = ctx->in[1]->data, *bias = ctx->in[2]->data;
    const float *mean_in = ctx->in[3]->data, *var_in = ctx->in[4]->data;
    float eps = attr_float(ctx->n, "epsilon", 1e-5f);
    float momentum = attr_float(ctx->n, "momentum", 0.9f);
    int64_t n = x->dims[0], c = x->dims[1], plane = shape_numel(x->rank - 2, x->dims + 2);
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    float *mean_out = has_out(ctx, 1) ? ctx->out[1]->data : NULL;
    float *var_out = has_out(ctx, 2) ? ctx->out[2]->data : NULL;
    for (int64_t k = 0; k < c; k++) {
        /* Welford's update over the plane means keeps their spread free of cancellation. */
        double mean = 0, spread = 0, sum_var = 0;
        for (int64_t b = 0; b < n; b++) {
            float m, v;
            f32_meanvar_simd128((size_t)plane, xd + (b * c + k) * plane, &m, &v);
            double delta = m - mean;
            mean += delta / (double)(b + 1);
            spread += delta * (m - mean);
            sum_var += v;
        }
        double var = n > 0 ? (sum_var + spread) / (double)n : 0.0;
        float a = scale[k] / sqrtf((float)var + eps);
        float shift = bias[k] - (float)mean * a;
        for (int64_t b = 0; b < n; b++) {
            int64_t off = (b * c + k) * plane;
            f32_vaffine_simd128((size_t)plane, xd + off, a, shift, yd + off);
        }
        if (mean_out) mean_out[k] = mean_in[k] * momentum + (float)mean * (1.0f - momentum);
        if (var_out) var_out[k] = var_in[k] * momentum + (float)var * (1.0f - momentum);
    }
    return EI_STATUS_OK;
}

static ei_status bn_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    const float *scale = ctx->in[1]->data, *bias = ctx->in[2]->data;
    const float *mean = ctx->in[3]->data, *var = ctx->in[4]->data;
    float eps = attr_float(ctx->n, "epsilon", 1e-5f);
    int64_t n = x->dims[0], c = x->dims[1], plane = shape_numel(x->rank - 2, x->dims + 2);
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    if (bn_training(ctx)) return bn_run_training(ctx);
    if (!bn_spatial(ctx)) { /* legacy per-element statistics: one affine map per element */
        int64_t m = c * plane;
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < m; i++) {
                float a = scale[i] / sqrtf(var[i] + eps);
                yd[b * m + i] = xd[b * m + i] * a + (bias[i] - mean[i] * a);
            }
        return EI_STATUS_OK;
    }
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < c; k++) {
            float a = scale[k] / sqrtf(var[k] + eps);
            int64_t off = (b * c + k) * plane;
            f32_vaffine_simd128((size_t)plane, xd + off, a, bias[k] - mean[k] * a, yd + off);
        }
    return EI_STATUS_OK;
}

/* ---- InstanceNormalization ---- */

static ei_status in_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 3, 3, 3));
    TRY(check_dtype(ctx, 0, f32_only));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 3, "input X has shape %s, expected N x C x D1 x ...", shape_str(x));
    TRY(check_param(ctx, 1, "scale", x->dims[1]));
    TRY(check_param(ctx, 2, "B", x->dims[1]));
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status in_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    const float *scale = ctx->in[1]->data, *bias = ctx->in[2]->data;
    float eps = attr_float(ctx->n, "epsilon", 1e-5f);
    int64_t n = x->dims[0], c = x->dims[1], plane = shape_numel(x->rank - 2, x->dims + 2);
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < c; k++) {
            int64_t off = (b * c + k) * plane;
            float mean, var;
            f32_meanvar_simd128((size_t)plane, xd + off, &mean, &var);
            float a = scale[k] / sqrtf(var + eps);
            f32_vaffine_simd128((size_t)plane, xd + off, a, bias[k] - mean * a, yd + off);
        }
    return EI_STATUS_OK;
}

/* ---- LayerNormalization ---- */

/* Scale and B broadcast to the normalised shape X.dims[axis:]; when their
 * shape is not that shape already they are expanded into scratch at run. */
typedef struct ln_shape {
    int64_t axis, outer, m; /* m: elements normalised together */
    ei_tensor norm;         /* the normalised shape, as a tensor header */
} ln_shape;

static ei_status ln_geometry(op_ctx *ctx, ln_shape *s)
{
    const ei_tensor *x = ctx->in[0];
    int64_t a = attr_int(ctx->n, "axis", -1);
    s->axis = a;
    CHECK(ctx, norm_axis(&s->axis, x->rank), "attribute axis = %lld is out of range for input X of shape %s",
          (long long)a, shape_str(x));
    s->outer = shape_numel((int)s->axis, x->dims);
    s->m = shape_numel(x->rank - (int)s->axis, x->dims + s->axis);
    memset(&s->norm, 0, sizeof s->norm);
    s->norm.dtype = EI_DTYPE_FLOAT32;
    s->norm.rank = x->rank - (int)s->axis;
    memcpy(s->norm.dims, x->dims + s->axis, (size_t)s->norm.rank * sizeof(int64_t));
    return EI_STATUS_OK;
}

static bool same_shape(const ei_tensor *a, const ei_tensor *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

static ei_status ln_check_param(op_ctx *ctx, int i, const char *name, const ln_shape *s)
{
    const ei_tensor *t = ctx->in[i];
    CHECK(ctx, t->dtype == EI_DTYPE_FLOAT32, "input %s has dtype %s, expected float32", name,
          ei_dtype_name(t->dtype));
    const ei_tensor *pair[2] = {&s->norm, t};
    int rank;
    int64_t dims[EI_MAX_DIMS];
    bool ok = t->rank <= s->norm.rank && bcast_shape(2, pair, &rank, dims);
    for (int d = 0; ok && d < rank; d++) ok = dims[d] == s->norm.dims[d];
    CHECK_SHAPE(ctx, ok, "input %s of shape %s does not broadcast to the normalised shape %s", name, shape_str(t),
                shape_str(&s->norm));
    return EI_STATUS_OK;
}

static ei_status ln_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 3, 2));
    TRY(check_dtype(ctx, 0, f32_only));
    CHECK(ctx, ctx->n_out <= 3, "has %d outputs, expected at most 3", ctx->n_out);
    const ei_tensor *x = ctx->in[0];
    ln_shape s;
    TRY(ln_geometry(ctx, &s));
    TRY(ln_check_param(ctx, 1, "Scale", &s));
    if (has_in(ctx, 2)) TRY(ln_check_param(ctx, 2, "B", &s));
    TRY(set_output(ctx, 0, x->dtype, x->rank, x->dims));
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) dims[d] = d < s.axis ? x->dims[d] : 1;
    TRY(set_output(ctx, 1, EI_DTYPE_FLOAT32, x->rank, dims));
    TRY(set_output(ctx, 2, EI_DTYPE_FLOAT32, x->rank, dims));
    size_t expand = 0;
    for (int i = 1; i < 3; i++)
        if (has_in(ctx, i) && !same_shape(ctx->in[i], &s.norm)) expand += (size_t)s.m * sizeof(float);
    ctx->scratch_bytes = expand;
    return EI_STATUS_OK;
}

static void copy_row(void *arg, void *out, const void *const *in, const int64_t *in_stride, int64_t n)
{
    (void)arg;
    const float *src = in[0];
    float *dst = out;
    for (int64_t i = 0; i < n; i++) dst[i] = src[i * in_stride[0]];
}

/* Input i as a full [m] vector: its own data, or expanded into *scratch. */
static const float *ln_param(op_ctx *ctx, int i, const ln_shape *s, float **scratch)
{
    if (!has_in(ctx, i)) return NULL;
    const ei_tensor *t = ctx->in[i];
    if (same_shape(t, &s->norm)) return t->data;
    float *dst = *scratch;
    *scratch += s->m;
    ei_tensor full = s->norm;
    full.data = dst;
    const ei_tensor *ins[1] = {t};
    const void *in_data[1] = {t->data};
    bcast b;
    bcast_init(&b, &full, 1, ins);
    bcast_run(&b, dst, in_data, copy_row, NULL);
    return dst;
}

static ei_status ln_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ln_shape s;
    TRY(ln_geometry(ctx, &s));
    float eps = attr_float(ctx->n, "epsilon", 1e-5f);
    float *scratch = ctx->scratch;
    const float *scale = ln_param(ctx, 1, &s, &scratch);
    const float *bias = ln_param(ctx, 2, &s, &scratch);
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    float *mean_out = has_out(ctx, 1) ? ctx->out[1]->data : NULL;
    float *inv_out = has_out(ctx, 2) ? ctx->out[2]->data : NULL;
    for (int64_t r = 0; r < s.outer; r++) {
        float mean, var;
        f32_meanvar_simd128((size_t)s.m, xd + r * s.m, &mean, &var);
        float inv = 1.0f / sqrtf(var + eps);
        f32_layernorm_apply_simd128((size_t)s.m, xd + r * s.m, mean, inv, scale, bias, yd + r * s.m);
        if (mean_out) mean_out[r] = mean;
        if (inv_out) inv_out[r] = inv;
    }
    return EI_STATUS_OK;
}

/* ---- LpNormalization ---- */

static ei_status lpn_params(op_ctx *ctx, int64_t *axis, int *p)
{
    const ei_tensor *x = ctx->in[0];
    int64_t a = attr_int(ctx->n, "axis", -1), pv = attr_int(ctx->n, "p", 2);
    *axis = a;
    CHECK(ctx, norm_axis(axis, x->rank), "attribute axis = %lld is out of range for input of shape %s",
          (long long)a, shape_str(x));
    CHECK(ctx, pv == 1 || pv == 2, "attribute p = %lld, expected 1 or 2", (long long)pv);
    *p = (int)pv;
    return EI_STATUS_OK;
}

static ei_status lpn_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, f32_only));
    int64_t axis;
    int p;
    TRY(lpn_params(ctx, &axis, &p));
    return set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
}

static ei_status lpn_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    int64_t axis;
    int p;
    TRY(lpn_params(ctx, &axis, &p));
    int64_t outer = shape_numel((int)axis, x->dims), n = x->dims[axis];
    int64_t inner = shape_numel(x->rank - (int)axis - 1, x->dims + axis + 1);
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        f32_lpnorm_scalar((size_t)n, (size_t)inner, p, xd + o * n * inner, yd + o * n * inner);
    return EI_STATUS_OK;
}

/* ---- MeanVarianceNormalization: y = (x - mean) / (sqrt(var) + 1e-9) ---- */

#define MVN_EPS 1e-9 /* the constant of the op's function body */
#define LRN_SIZE_LIMIT ((int64_t)1 << 31)

/* kstride[d]: stride of dim d in the array of statistics, 0 for a reduced dim. */
static ei_status mvn_axes(op_ctx *ctx, int64_t *kstride, int64_t *groups)
{
    const ei_tensor *x = ctx->in[0];
    static const int64_t def[] = {0, 2, 3};
    const int64_t *axes = def;
    int n = attr_ints(ctx->n, "axes", &axes);
    if (n < 0) {
        axes = def;
        n = 3;
    }
    bool red[EI_MAX_DIMS] = {false};
    CHECK(ctx, n <= x->rank, "attribute axes has %d values for an input of shape %s", n, shape_str(x));
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i];
        CHECK(ctx, norm_axis(&a, x->rank), "axis %lld is out of range for input X of shape %s", (long long)axes[i],
              shape_str(x));
        CHECK(ctx, !red[a], "axis %lld appears twice in axes", (long long)axes[i]);
        red[a] = true;
    }
    int64_t s = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        kstride[d] = red[d] ? 0 : s;
        if (!red[d]) s *= x->dims[d];
    }
    *groups = s;
    return EI_STATUS_OK;
}

static ei_status mvn_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, f32_only));
    const ei_tensor *x = ctx->in[0];
    int64_t kstride[EI_MAX_DIMS], groups;
    TRY(mvn_axes(ctx, kstride, &groups));
    ctx->scratch_bytes = 2 * (size_t)groups * sizeof(double);
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

/* Calls back once per element with its linear index and statistics slot. */
typedef struct mvn_walk {
    int rank;
    const int64_t *dims, *kstride;
    int64_t idx[EI_MAX_DIMS];
    int64_t slot;
} mvn_walk;

static void walk_next(mvn_walk *w)
{
    for (int d = w->rank - 1; d >= 0; d--) {
        w->slot += w->kstride[d];
        if (++w->idx[d] < w->dims[d]) return;
        w->slot -= w->dims[d] * w->kstride[d];
        w->idx[d] = 0;
    }
}

static ei_status mvn_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    int64_t kstride[EI_MAX_DIMS], groups;
    TRY(mvn_axes(ctx, kstride, &groups));
    int64_t total = numel(x);
    if (total == 0) return EI_STATUS_OK;
    double *sum = ctx->scratch, *sq = sum + groups;
    for (int64_t g = 0; g < groups; g++) sum[g] = sq[g] = 0.0;
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    mvn_walk w = {x->rank, x->dims, kstride, {0}, 0};
    for (int64_t i = 0; i < total; i++, walk_next(&w)) {
        sum[w.slot] += xd[i];
        sq[w.slot] += (double)xd[i] * xd[i];
    }
    double count = (double)(total / groups);
    for (int64_t g = 0; g < groups; g++) {
        double mean = sum[g] / count, var = sq[g] / count - mean * mean;
        sum[g] = mean;
        sq[g] = 1.0 / (sqrt(var > 0.0 ? var : 0.0) + MVN_EPS);
    }
    mvn_walk w2 = {x->rank, x->dims, kstride, {0}, 0};
    for (int64_t i = 0; i < total; i++, walk_next(&w2)) yd[i] = (float)((xd[i] - sum[w2.slot]) * sq[w2.slot]);
    return EI_STATUS_OK;
}

/* ---- LRN ---- */

static ei_status lrn_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, f32_only));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 3, "input X has shape %s, expected N x C x D1 x ...", shape_str(x));
    const attr *size = attr_find(ctx->n, "size");
    CHECK(ctx, size && size->type == ATTR_INT, "attribute size is required");
    CHECK(ctx, size->i >= 1 && size->i < LRN_SIZE_LIMIT, "attribute size = %lld, expected a positive count",
          (long long)size->i);
    return set_output(ctx, 0, x->dtype, x->rank, x->dims);
}

static ei_status lrn_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    int64_t size = attr_int(ctx->n, "size", 1);
    float alpha = attr_float(ctx->n, "alpha", 1e-4f), beta = attr_float(ctx->n, "beta", 0.75f);
    float bias = attr_float(ctx->n, "bias", 1.0f);
    int64_t n = x->dims[0], c = x->dims[1], plane = shape_numel(x->rank - 2, x->dims + 2);
    const float *xd = x->data;
    float *yd = ctx->out[0]->data;
    for (int64_t b = 0; b < n; b++)
        f32_lrn_scalar((size_t)c, (size_t)plane, (size_t)size, alpha, beta, bias, xd + b * c * plane,
                       yd + b * c * plane);
    return EI_STATUS_OK;
}

const op_def norm_ops[] = {
    {"BatchNormalization", "", 1, bn_infer, NULL, bn_run, OP_INPLACE},
    {"InstanceNormalization", "", 1, in_infer, NULL, in_run, OP_INPLACE},
    /* onnxruntime's pre-opset-17 form, in the default domain and in com.microsoft */
    {"LayerNormalization", "", 1, ln_infer, NULL, ln_run, OP_INPLACE},
    {"LayerNormalization", "com.microsoft", 1, ln_infer, NULL, ln_run, OP_INPLACE},
    {"LayerNormalization", "", 17, ln_infer, NULL, ln_run, OP_INPLACE},
    {"LpNormalization", "", 1, lpn_infer, NULL, lpn_run, OP_INPLACE},
    {"MeanVarianceNormalization", "", 1, mvn_infer, NULL, mvn_run, OP_INPLACE},
    {"LRN", "", 1, lrn_infer, NULL, lrn_run, 0},
};
const int norm_ops_count = (int)(sizeof norm_ops / sizeof norm_ops[0]);
