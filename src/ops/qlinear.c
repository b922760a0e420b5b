/*
 * The com.microsoft quantized ops that onnxruntime's quantizer writes around QLinearConv in
 * its QOperator format: QLinearAdd and QLinearMul (numpy broadcasting), QLinearSigmoid and
 * QLinearGlobalAveragePool (channels first or last). Each works in float32 between dequantizing
 * its inputs and quantizing its output: y = saturate(round_half_even(f(x) / y_scale) + y_zp).
 * Scales and zero points are per tensor; absent zero points are 0; every int8/uint8 input and the
 * output share one dtype.
 */
#include <stdint.h>

#include "quant.h"

static const int32_t q8_types[] = {EI_DTYPE_UINT8, EI_DTYPE_INT8, 0};

/* Input `scale` is a float32 scalar, and input `zp` (optional) a scalar of x's dtype. */
static ei_status check_qparams(op_ctx *ctx, int x, int scale, int zp)
{
    const ei_tensor *s = has_in(ctx, scale) ? ctx->in[scale] : NULL, *z = has_in(ctx, zp) ? ctx->in[zp] : NULL;
    CHECK_SHAPE(ctx, s && s->dtype == EI_DTYPE_FLOAT32 && numel(s) == 1, "input %d (scale) must be a float32 scalar",
                scale);
    CHECK_SHAPE(ctx, !z || (z->dtype == ctx->in[x]->dtype && numel(z) == 1),
                "input %d (zero point) must be a scalar of input %d's dtype %s", zp, x, ei_dtype_name(ctx->in[x]->dtype));
    return EI_STATUS_OK;
}

static float scale_of(const op_ctx *ctx, int i) { return *(const float *)ctx->in[i]->data; }
static int32_t zp_of(const op_ctx *ctx, int i) { return has_in(ctx, i) ? zp_at(ctx->in[i], 0) : 0; }

/* ---- QLinearAdd, QLinearMul: A, A_scale, A_zp?, B, B_scale, B_zp?, C_scale, C_zp? ---- */

static ei_status qbinary_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 7, 8, 2)); /* zero points may be absent: the rest is checked below */
    TRY(check_dtype(ctx, 0, q8_types));
    CHECK_SHAPE(ctx, has_in(ctx, 3) && ctx->in[3]->dtype == ctx->in[0]->dtype, "inputs A and B must have one dtype");
    TRY(check_qparams(ctx, 0, 1, 2));
    TRY(check_qparams(ctx, 3, 4, 5));
    TRY(check_qparams(ctx, 0, 6, 7));
    const ei_tensor *ins[2] = {ctx->in[0], ctx->in[3]};
    int rank;
    int64_t dims[EI_MAX_DIMS];
    CHECK_SHAPE(ctx, bcast_shape(2, ins, &rank, dims), "inputs A %s and B %s do not broadcast", shape_str(ins[0]),
                shape_str(ins[1]));
    return set_output(ctx, 0, ctx->in[0]->dtype, rank, dims);
}

typedef struct qbinary {
    int32_t dt, za, zb, zc;
    float sa, sb, sc;
    bool mul;
} qbinary;

static void qbinary_row(void *arg, void *out, const void *const *in, const int64_t *st, int64_t n)
{
    const qbinary *q = arg;
    for (int64_t i = 0; i < n; i++) {
        float a = (float)(qload(in[0], q->dt, i * st[0]) - q->za) * q->sa;
        float b = (float)(qload(in[1], q->dt, i * st[1]) - q->zb) * q->sb;
        qstore(out, q->dt, i, (q->mul ? a * b : a + b) / q->sc, q->zc);
    }
}

static ei_status qbinary_run(op_ctx *ctx)
{
    ei_tensor *y = ctx->out[0];
    if (numel(y) == 0) return EI_STATUS_OK;
    qbinary q = {y->dtype, zp_of(ctx, 2), zp_of(ctx, 5), zp_of(ctx, 7), scale_of(ctx, 1), scale_of(ctx, 4),
                 scale_of(ctx, 6), !strcmp(ctx->n->op_type, "QLinearMul")};
    const ei_tensor *ins[2] = {ctx->in[0], ctx->in[3]};
    const void *data[2] = {ins[0]->data, ins[1]->data};
    bcast bc;
    bcast_init(&bc, y, 2, ins);
    bcast_run(&bc, y->data, data, qbinary_row, &q);
    return EI_STATUS_OK;
}

/* ---- QLinearSigmoid: X, X_scale, X_zp?, Y_scale, Y_zp? ---- */

/* The inputs of a one-input op: X, X_scale, X_zp?, Y_scale, Y_zp?. */
static ei_status check_unary_inputs(op_ctx *ctx)
{
    TRY(check_arity(ctx, 4, 5, 2));
    TRY(check_dtype(ctx, 0, q8_types));
    TRY(check_qparams(ctx, 0, 1, 2));
    return check_qparams(ctx, 0, 3, 4);
}

static ei_status qsigmoid_infer(op_ctx *ctx)
{
    TRY(check_unary_inputs(ctx));
    return set_output(ctx, 0, ctx->in[0]->dtype, ctx->in[0]->rank, ctx->in[0]->dims);
}

/* A table of the 256 codes: x has no other values. */
static ei_status qsigmoid_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    int32_t dt = x->dtype, base = dt == EI_DTYPE_INT8 ? -128 : 0, zx = zp_of(ctx, 2), zy = zp_of(ctx, 4);
    float sx = scale_of(ctx, 1), sy = scale_of(ctx, 3);
    uint8_t table[256];
    for (int c = 0; c < 256; c++) {
        float v = (float)(base + c - zx) * sx;
        qstore(table, dt, c, 1.0f / (1.0f + expf(-v)) / sy, zy);
    }
    const uint8_t *xs = x->data;
    uint8_t *ys = y->data;
    int64_t n = numel(x);
    for (int64_t i = 0; i < n; i++) ys[i] = table[(uint8_t)(xs[i] - (uint8_t)base)];
    return EI_STATUS_OK;
}

/* ---- QLinearGlobalAveragePool: X, x_scale, x_zp, y_scale, y_zp; channels_last ---- */

static ei_status qgap_infer(op_ctx *ctx)
{
    TRY(check_unary_inputs(ctx));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 3, "input X has shape %s, expected [N, C, spatial...] or [N, spatial..., C]",
                shape_str(x));
    bool last = attr_int(ctx->n, "channels_last", 0) != 0;
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) dims[d] = d == 0 || d == (last ? x->rank - 1 : 1) ? x->dims[d] : 1;
    return set_output(ctx, 0, x->dtype, x->rank, dims);
}

static ei_status qgap_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0];
    bool last = attr_int(ctx->n, "channels_last", 0) != 0;
    int64_t N = x->dims[0], C = x->dims[last ? x->rank - 1 : 1], pix = N > 0 && C > 0 ? numel(x) / (N * C) : 0;
    int32_t dt = x->dtype, zx = zp_of(ctx, 2), zy = zp_of(ctx, 4);
    float scale = pix ? scale_of(ctx, 1) / (float)pix / scale_of(ctx, 3) : 0.0f;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t c = 0; c < C; c++) {
            int64_t sum = 0; /* exact: at most 2^31 values of at most 255 */
            for (int64_t p = 0; p < pix; p++)
                sum += qload(x->data, dt, last ? (n * pix + p) * C + c : (n * C + c) * pix + p) - zx;
            qstore(ctx->out[0]->data, dt, n * C + c, (float)sum * scale, zy);
        }
    }
    return EI_STATUS_OK;
}

#define MS "com.microsoft"
const op_def qlinear_ops[] = {
    {"QLinearAdd", MS, 1, qbinary_infer, NULL, qbinary_run, 0},
    {"QLinearMul", MS, 1, qbinary_infer, NULL, qbinary_run, 0},
    {"QLinearSigmoid", MS, 1, qsigmoid_infer, NULL, qsigmoid_run, OP_INPLACE},
    {"QLinearGlobalAveragePool", MS, 1, qgap_infer, NULL, qgap_run, 0},
};
const int qlinear_ops_count = (int)(sizeof qlinear_ops / sizeof qlinear_ops[0]);
