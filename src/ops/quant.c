/*
 * Quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv, and
 * DynamicQuantizeMatMul (com.microsoft).
 *
 * Quantized values are uint8 or int8 (DequantizeLinear also reads int32).
 * Quantizing rounds half to even and saturates to the target range, as the
 * ONNX spec and onnxruntime do. The integer ops subtract the zero points
 * first, so that padding and zero-point handling are one rule (a padded input
 * is its zero point, i.e. contributes nothing), then accumulate products in
 * 32 bits; the spec allows that accumulation to overflow, so it is done in
 * uint32 where wrapping is defined. The QLinear ops then requantize the
 * accumulator with the float multiplier x_scale * w_scale / y_scale, computed
 * in float32 like onnxruntime so that results match it bit for bit.
 *
 * The products run on the q8 kernels (kernels/q8_gemm.h): the weights,
 * minus their zero points, are packed once in prepare when constant; the
 * convolutions are a GEMM per image and group over a byte im2col (or the
 * direct depthwise kernel), the matrix products a GEMM with B as the packed
 * operand. Matrix products with per-row parameters of A or y keep a plain
 * loop. A Relu or Clip that the compile step's fuse-qdq pass merged into a
 * QLinearConv or QLinearMatMul becomes a clamp of the quantized output.
 *
 * Per-tensor parameters are scalars or one-element tensors. Per-axis
 * parameters (QuantizeLinear and DequantizeLinear from opset 13) are 1-D along
 * `axis`; the matrix products take per-row parameters for A and y and
 * per-column ones for B; the convolutions take per-output-channel weight
 * parameters.
 */
#include <stdint.h>

#include "../kernels/f32_conv.h"
#include "../kernels/q8_gemm.h"
#include "matmul.h"
#include "op.h"
#include "quant.h"
#include "spatial.h"

#define ATTR_LIMIT SPATIAL_LIMIT

static const int32_t q8_dtypes[] = {EI_DTYPE_UINT8, EI_DTYPE_INT8, 0};
static const int32_t f32_only[] = {EI_DTYPE_FLOAT32, 0};
static const int32_t i32_only[] = {EI_DTYPE_INT32, 0};

/* The int32 value of a wrapped 32-bit accumulator, without implementation-defined conversions. */
static inline int32_t wrap32(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

static ei_status check_same_dtype(op_ctx *ctx, int i, int j, const char *what_i, const char *what_j)
{
    if (!has_in(ctx, i) || !has_in(ctx, j)) return EI_STATUS_OK;
    CHECK_SHAPE(ctx, ctx->in[i]->dtype == ctx->in[j]->dtype, "%s has dtype %s but %s has %s", what_i,
                ei_dtype_name(ctx->in[i]->dtype), what_j, ei_dtype_name(ctx->in[j]->dtype));
    return EI_STATUS_OK;
}

static ei_status check_scalar(op_ctx *ctx, int i, const char *what)
{
    if (!has_in(ctx, i)) return EI_STATUS_OK;
    CHECK_SHAPE(ctx, numel(ctx->in[i]) == 1, "%s has shape %s, expected a scalar (per-tensor quantization)", what,
                shape_str(ctx->in[i]));
    return EI_STATUS_OK;
}

/* Asks for scratch memory, failing for sizes this build cannot address. */
static ei_status set_scratch(op_ctx *ctx, uint64_t bytes)
{
    CHECK_SHAPE(ctx, bytes <= (uint64_t)EI_MAX_TENSOR_BYTES && bytes <= SIZE_MAX / 2,
                "needs %llu bytes of scratch memory, more than this build supports", (unsigned long long)bytes);
    ctx->scratch_bytes = (size_t)bytes;
    return EI_STATUS_OK;
}

/* ======================= QuantizeLinear, DequantizeLinear ======================= */

/* x viewed as [outer, ch, inner] with the parameters indexed by ch (ch = 1: per-tensor). */
typedef struct qaxis {
    int64_t outer, ch, inner;
} qaxis;

/* Checks scale and zero point (inputs 1 and 2) against x and finds the quantization axis. */
static ei_status quant_axis(op_ctx *ctx, const char *scale_name, const char *zp_name, qaxis *q)
{
    const ei_tensor *x = ctx->in[0], *scale = ctx->in[1], *zp = has_in(ctx, 2) ? ctx->in[2] : NULL;
    TRY(check_dtype(ctx, 1, f32_only));
    if (zp) {
        bool same = zp->rank == scale->rank;
        for (int d = 0; same && d < zp->rank; d++) same = zp->dims[d] == scale->dims[d];
        CHECK_SHAPE(ctx, same || (numel(zp) == 1 && numel(scale) == 1), "%s %s and %s %s have different shapes",
                    zp_name, shape_str(zp), scale_name, shape_str(scale));
    }
    if (numel(scale) == 1 && scale->rank <= 1) {
        q->outer = 1;
        q->ch = 1;
        q->inner = numel(x);
        return EI_STATUS_OK;
    }
    CHECK_SHAPE(ctx, ctx->opset >= 13 && scale->rank == 1,
                "%s has shape %s, expected a scalar%s", scale_name, shape_str(scale),
                ctx->opset >= 13 ? " or a 1-D tensor along axis" : " (per-axis quantization needs opset 13)");
    int64_t axis = attr_int(ctx->n, "axis", 1);
    CHECK(ctx, norm_axis(&axis, x->rank), "axis %lld is out of range for input %s", (long long)axis, shape_str(x));
    CHECK_SHAPE(ctx, scale->dims[0] == x->dims[axis], "%s has %lld elements but axis %lld of input %s has %lld",
                scale_name, (long long)scale->dims[0], (long long)axis, shape_str(x), (long long)x->dims[axis]);
    q->outer = shape_numel((int)axis, x->dims);
    q->ch = x->dims[axis];
    q->inner = shape_numel(x->rank - (int)axis - 1, x->dims + axis + 1);
    return EI_STATUS_OK;
}

static ei_status quantize_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 3, 2));
    static const int32_t x_dtypes[] = {EI_DTYPE_FLOAT32, EI_DTYPE_INT32, 0};
    TRY(check_dtype(ctx, 0, x_dtypes));
    TRY(check_dtype(ctx, 2, q8_dtypes));
    qaxis q;
    TRY(quant_axis(ctx, "y_scale", "y_zero_point", &q));
    int32_t dt = has_in(ctx, 2) ? ctx->in[2]->dtype : EI_DTYPE_UINT8;
    return set_output(ctx, 0, dt, ctx->in[0]->rank, ctx->in[0]->dims);
}

static ei_status quantize_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *zp = has_in(ctx, 2) ? ctx->in[2] : NULL;
    const float *scale = ctx->in[1]->data;
    ei_tensor *y = ctx->out[0];
    qaxis q;
    TRY(quant_axis(ctx, "y_scale", "y_zero_point", &q));
    for (int64_t o = 0; o < q.outer; o++) {
        for (int64_t c = 0; c < q.ch; c++) {
            float s = scale[c];
            int32_t z = zp_at(zp, c);
            int64_t base = (o * q.ch + c) * q.inner;
            if (x->dtype == EI_DTYPE_FLOAT32) {
                q8_quantize_simd128((const float *)x->data + base, (uint8_t *)y->data + base, (size_t)q.inner, s, z,
                                    y->dtype == EI_DTYPE_INT8);
            } else {
                const int32_t *xi = (const int32_t *)x->data + base;
                for (int64_t i = 0; i < q.inner; i++)
                    qstore(y->data, y->dtype, base + i, (float)((double)xi[i] / s), z);
            }
        }
    }
    return EI_STATUS_OK;
}

static ei_status dequantize_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 3, 2));
    static const int32_t x_dtypes[] = {EI_DTYPE_UINT8, EI_DTYPE_INT8, EI_DTYPE_INT32, 0};
    TRY(check_dtype(ctx, 0, x_dtypes));
    TRY(check_same_dtype(ctx, 2, 0, "x_zero_point", "x"));
    qaxis q;
    TRY(quant_axis(ctx, "x_scale", "x_zero_point", &q));
    return set_output(ctx, 0, EI_DTYPE_FLOAT32, ctx->in[0]->rank, ctx->in[0]->dims);
}

static ei_status dequantize_run(op_ctx *ctx)
{
    const ei_tensor *x = ctx->in[0], *zp = has_in(ctx, 2) ? ctx->in[2] : NULL;
    const float *scale = ctx->in[1]->data;
    float *y = ctx->out[0]->data;
    qaxis q;
    TRY(quant_axis(ctx, "x_scale", "x_zero_point", &q));
    for (int64_t o = 0; o < q.outer; o++) {
        for (int64_t c = 0; c < q.ch; c++) {
            float s = scale[c];
            int64_t z = zp_at(zp, c);
            int64_t base = (o * q.ch + c) * q.inner;
            if (x->dtype != EI_DTYPE_INT32)
                q8_dequantize_simd128((const uint8_t *)x->data + base, y + base, (size_t)q.inner, s, (int32_t)z,
                                      x->dtype == EI_DTYPE_INT8);
            else
                for (int64_t i = 0; i < q.inner; i++) y[base + i] = (float)(qload(x->data, x->dtype, base + i) - z) * s;
        }
    }
    return EI_STATUS_OK;
}

/* ============================ DynamicQuantizeLinear ============================ */

static ei_status dynamic_quantize_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    TRY(check_dtype(ctx, 0, f32_only));
    TRY(set_output(ctx, 0, EI_DTYPE_UINT8, ctx->in[0]->rank, ctx->in[0]->dims));
    TRY(set_output(ctx, 1, EI_DTYPE_FLOAT32, 0, NULL));
    return set_output(ctx, 2, EI_DTYPE_UINT8, 0, NULL);
}

static ei_status dynamic_quantize_run(op_ctx *ctx)
{
    const float *x = ctx->in[0]->data;
    size_t n = (size_t)numel(ctx->in[0]);
    float scale;
    int32_t zp;
    q8_dynamic_params_simd128(x, n, &scale, &zp);
    q8_quantize_simd128(x, ctx->out[0]->data, n, scale, zp, 0);
    if (has_out(ctx, 1)) *(float *)ctx->out[1]->data = scale;
    if (has_out(ctx, 2)) *(uint8_t *)ctx->out[2]->data = (uint8_t)zp;
    return EI_STATUS_OK;
}

/* ============================ the q8 GEMM's helpers ============================ */

/* Columns per q8 GEMM call: about 64K int16 of packed B, at least 128. */
static size_t q8_chunk(size_t K, size_t N)
{
    size_t nc = K ? 65536 / K : N;
    if (nc < 128) nc = 128;
    nc = nc / Q8_GEMM_NR * Q8_GEMM_NR;
    return nc < N ? nc : N;
}

static size_t bytes_aligned(uint64_t n) { return (size_t)((n + EI_ALIGN - 1) / EI_ALIGN * EI_ALIGN); }

/* The fused activation (the QDQ pass's Relu or Clip) as a clamp in the output's integer domain. */
static ei_status q8_act_clamp(op_ctx *ctx, float sy, int32_t zy, q8_requant *rq)
{
    rq->qmin = rq->out_signed ? -128 : 0;
    rq->qmax = rq->out_signed ? 127 : 255;
    const fused_act *a = &ctx->n->act;
    if (!a->on) return EI_STATUS_OK;
    CHECK_SUPPORTED(ctx, a->op == F32_VRELU || a->op == F32_VCLIP, "a fused activation other than Relu or Clip");
    float lo = a->op == F32_VRELU ? 0.0f : a->lo, hi = a->op == F32_VRELU ? INFINITY : a->hi;
    double ql = nearbyint((double)(lo / sy)) + zy, qh = nearbyint((double)(hi / sy)) + zy;
    if (ql > rq->qmin) rq->qmin = ql > rq->qmax ? rq->qmax : (int32_t)ql;
    if (qh < rq->qmax) rq->qmax = qh < rq->qmin ? rq->qmin : (int32_t)qh;
    return EI_STATUS_OK;
}

/* ======================== MatMulInteger, QLinearMatMul ======================== */
/* numpy matmul shapes: 1-D operands are promoted (and the added dim dropped
 * from the output), leading dims broadcast. */

typedef mm_shape qmm;

/* Where a per-tensor, per-row or per-column parameter lives for each output
 * batch and row (or column): offset = sum(batch_idx * bs) + row * vs. */
typedef struct qparam {
    int64_t bs[EI_MAX_DIMS];
    int64_t vs;
} qparam;

static ei_status qmm_plan(op_ctx *ctx, const ei_tensor *a, const ei_tensor *b, qmm *g)
{
    return mm_shape_plan(ctx, a, b, g);
}

/* Parameter p (absent: zero everywhere) of a matrix with `len` rows (per_col:
 * columns): a scalar, a 1-D [len], or [..., len, 1] ([..., 1, len] per column)
 * whose leading dims broadcast against the output's batch dims. */
static ei_status qparam_plan(op_ctx *ctx, const ei_tensor *p, const char *what, int64_t len, bool per_col,
                             const qmm *g, qparam *q)
{
    memset(q, 0, sizeof *q);
    if (!p || (numel(p) == 1 && p->rank <= 1)) return EI_STATUS_OK;
    const char *kind = per_col ? "per-column" : "per-row";
    if (p->rank == 1) {
        CHECK_SHAPE(ctx, p->dims[0] == len, "%s has shape %s, expected a scalar or [%lld] (%s)", what, shape_str(p),
                    (long long)len, kind);
        q->vs = 1;
        return EI_STATUS_OK;
    }
    int r = p->rank;
    int64_t along = per_col ? p->dims[r - 1] : p->dims[r - 2], one = per_col ? p->dims[r - 2] : p->dims[r - 1];
    CHECK_SHAPE(ctx, r - 2 <= g->batch_rank && one == 1 && (along == len || along == 1),
                "%s has shape %s, which does not fit the %s parameters of a product with %lld %s", what, shape_str(p),
                kind, (long long)len, per_col ? "columns" : "rows");
    q->vs = along == 1 ? 0 : 1;
    int64_t s = along;
    for (int d = r - 3; d >= 0; d--) {
        int od = g->batch_rank - (r - 2) + d;
        int64_t v = p->dims[d];
        CHECK_SHAPE(ctx, v == 1 || v == g->batch[od], "%s has shape %s, which does not broadcast to the batch dims",
                    what, shape_str(p));
        q->bs[od] = v == 1 ? 0 : s;
        s *= v;
    }
    return EI_STATUS_OK;
}

/* Everything a quantized matrix product needs besides its operands. */
typedef struct qmm_args {
    qmm g;
    qparam azp, bzp;
    /* QLinearMatMul only */
    bool requant;
    qparam as, bs, ys, yzp;
} qmm_args;

/* The three ops of the family: DynamicQuantizeMatMul (com.microsoft) quantizes its float32 A per
 * tensor as DynamicQuantizeLinear does, multiplies like MatMulInteger and writes float32
 * sum * a_scale * b_scale (+ bias): the compile step's fuse-dynamic-quant pass makes it from those ops. */
enum { QMM_INTEGER, QMM_QLINEAR, QMM_DYNAMIC };

static int qmm_mode(const op_ctx *ctx)
{
    const char *op = ctx->n->op_type;
    return !strcmp(op, "QLinearMatMul") ? QMM_QLINEAR : !strcmp(op, "MatMulInteger") ? QMM_INTEGER : QMM_DYNAMIC;
}

/* Inputs by role: MatMulInteger is (A, B, a_zp, b_zp), QLinearMatMul is (a, a_scale, a_zp, b,
 * b_scale, b_zp, y_scale, y_zp), DynamicQuantizeMatMul is (A, B, b_scale, b_zp, bias). */
typedef struct qmm_io {
    const ei_tensor *a, *b, *a_zp, *b_zp;
    const ei_tensor *a_scale, *b_scale, *y_scale, *y_zp; /* QLinearMatMul only (and b_scale) */
    /* [N]: int32, a ninth input the compile step's fuse-qdq gives a Gemm; DynamicQuantizeMatMul's float32 */
    const ei_tensor *bias;
} qmm_io;

static qmm_io qmm_inputs(const op_ctx *ctx, int mode)
{
    /* the input index of a, b, a_zp, b_zp, a_scale, b_scale, y_scale, y_zp and bias; -1: none */
    static const int8_t roles[3][9] = {[QMM_INTEGER] = {0, 1, 2, 3, -1, -1, -1, -1, -1},
                                       [QMM_QLINEAR] = {0, 3, 2, 5, 1, 4, 6, 7, 8},
                                       [QMM_DYNAMIC] = {0, 1, -1, 3, -1, 2, -1, -1, 4}};
    const ei_tensor *t[9];
    for (int r = 0; r < 9; r++) t[r] = roles[mode][r] >= 0 && has_in(ctx, roles[mode][r]) ? ctx->in[roles[mode][r]] : NULL;
    return (qmm_io){t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]};
}

static ei_status qmm_setup(op_ctx *ctx, const qmm_io *io, int mode, qmm_args *p)
{
    memset(p, 0, sizeof *p);
    TRY(qmm_plan(ctx, io->a, io->b, &p->g));
    const qmm *g = &p->g;
    TRY(qparam_plan(ctx, io->a_zp, "a_zero_point", g->M, false, g, &p->azp));
    TRY(qparam_plan(ctx, io->b_zp, "b_zero_point", g->N, true, g, &p->bzp));
    if (mode == QMM_QLINEAR) {
        p->requant = true;
        TRY(qparam_plan(ctx, io->a_scale, "a_scale", g->M, false, g, &p->as));
        TRY(qparam_plan(ctx, io->b_scale, "b_scale", g->N, true, g, &p->bs));
        TRY(qparam_plan(ctx, io->y_scale, "y_scale", g->M, false, g, &p->ys));
        TRY(qparam_plan(ctx, io->y_zp, "y_zero_point", g->M, false, g, &p->yzp));
        CHECK_SHAPE(ctx, numel(io->a_scale) == numel(io->a_zp) && numel(io->b_scale) == numel(io->b_zp) &&
                             numel(io->y_scale) == numel(io->y_zp),
                    "each scale must have the shape of its zero point (a %s/%s, b %s/%s, y %s/%s)",
                    shape_str(io->a_scale), shape_str(io->a_zp), shape_str(io->b_scale), shape_str(io->b_zp),
                    shape_str(io->y_scale), shape_str(io->y_zp));
    }
    return EI_STATUS_OK;
}

/* Scratch: B minus its zero points [K, N], one row of A minus its zero point [K], one accumulator row [N]. */
static uint64_t qmm_scratch(const qmm *g)
{
    return ((uint64_t)g->K * (uint64_t)g->N + (uint64_t)g->K + (uint64_t)g->N) * 4;
}

/* Parameters of one value for the whole tensor, or one per column of B ([N]). */
static bool per_tensor(const ei_tensor *t) { return !t || (numel(t) == 1 && t->rank <= 1); }
static bool per_tensor_or_col(const ei_tensor *t, int64_t N) { return per_tensor(t) || (t->rank == 1 && t->dims[0] == N); }

/* The q8 GEMM path takes A's and y's parameters per tensor and B's per tensor or per column. B is its
 * packed operand (B's columns are the GEMM's rows, so per-column parameters are per row) and the rows
 * of A its columns, so the product is written transposed. Other layouts take the plain loop. */
static bool qmm_fast(const qmm_io *io, const qmm *g)
{
    return per_tensor(io->a_zp) && per_tensor(io->a_scale) && per_tensor(io->y_scale) && per_tensor(io->y_zp) &&
           per_tensor_or_col(io->b_zp, g->N) && per_tensor_or_col(io->b_scale, g->N);
}

/* Fast-path scratch: [B's zero points, int32 N][multipliers, float N][packed B unless prepacked]
 * [packed rows of A, a chunk][DynamicQuantizeMatMul: all of A quantized]. */
static uint64_t qmm_fast_scratch(const qmm *g, bool packed, const ei_tensor *a, int mode)
{
    size_t N = (size_t)g->N, K = (size_t)g->K;
    uint64_t r = 2 * bytes_aligned((uint64_t)N * 4);
    if (!packed) r += bytes_aligned((uint64_t)q8_gemm_packed_a_size(N, K) * 2);
    r += bytes_aligned((uint64_t)q8_gemm_packed_b_size(K, q8_chunk(K, (size_t)g->M)) * 2);
    return r + (mode == QMM_DYNAMIC ? (uint64_t)numel(a) : 0);
}

typedef struct qmm_state {
    int16_t *pw; /* B packed once: constant, one matrix, fast path; else NULL */
} qmm_state;

static void qmm_pack_b(const qmm *g, const qmm_io *io, int64_t b_off, int32_t *zps, int16_t *dst)
{
    for (int64_t n = 0; n < g->N; n++) zps[n] = zp_at(io->b_zp, per_tensor(io->b_zp) ? 0 : n);
    q8_gemm_pack_a((size_t)g->N, (size_t)g->K, (const uint8_t *)io->b->data + b_off, io->b->dtype == EI_DTYPE_INT8, 1,
                   (ptrdiff_t)g->N, zps, 1, dst);
}

static bool qmm_packable(op_ctx *ctx, const qmm_io *io, const qmm *g, int mode)
{
    int q = mode == QMM_QLINEAR;
    return qmm_fast(io, g) && g->b_mats == 1 && in_is_const(ctx, q ? 3 : 1) && (!io->b_zp || in_is_const(ctx, q ? 5 : 3));
}

static ei_status qmm_infer(op_ctx *ctx)
{
    int mode = qmm_mode(ctx), dyn = mode == QMM_DYNAMIC;
    if (mode == QMM_QLINEAR) {
        TRY(check_arity(ctx, 8, ctx->n->fused ? 9 : 8, 8));
        TRY(check_dtype(ctx, 0, q8_dtypes));
        TRY(check_dtype(ctx, 3, q8_dtypes));
        TRY(check_dtype(ctx, 7, q8_dtypes));
        TRY(check_dtype(ctx, 8, i32_only));
        TRY(check_same_dtype(ctx, 2, 0, "a_zero_point", "a"));
        TRY(check_same_dtype(ctx, 5, 3, "b_zero_point", "b"));
        TRY(check_dtype(ctx, 1, f32_only));
        TRY(check_dtype(ctx, 4, f32_only));
        TRY(check_dtype(ctx, 6, f32_only));
    } else {
        TRY(check_arity(ctx, 2 + dyn, 4 + dyn, 2 + dyn));
        TRY(check_dtype(ctx, 0, dyn ? f32_only : q8_dtypes));
        TRY(check_dtype(ctx, 1, q8_dtypes));
        TRY(dyn ? check_dtype(ctx, 2, f32_only) : check_same_dtype(ctx, 2, 0, "a_zero_point", "A"));
        TRY(check_same_dtype(ctx, 3, 1, "b_zero_point", "B"));
        TRY(check_dtype(ctx, 4, f32_only));
    }
    qmm_io io = qmm_inputs(ctx, mode);
    qmm_args p;
    TRY(qmm_setup(ctx, &io, mode, &p));
    int32_t dt = mode == QMM_QLINEAR ? io.y_zp->dtype : dyn ? EI_DTYPE_FLOAT32 : EI_DTYPE_INT32;
    TRY(set_output(ctx, 0, dt, p.g.out_rank, p.g.out_dims));
    bool fast = qmm_fast(&io, &p.g);
    CHECK_SHAPE(ctx, fast || !dyn, "b_scale %s and b_zero_point need one value or one per column of B %s",
                shape_str(io.b_scale), shape_str(io.b));
    if (io.bias)
        CHECK_SHAPE(ctx, io.bias->rank == 1 && io.bias->dims[0] == p.g.N && fast,
                    "bias %s needs [%lld] and per-tensor parameters of a and y", shape_str(io.bias), (long long)p.g.N);
    if (fast) return set_scratch(ctx, qmm_fast_scratch(&p.g, qmm_packable(ctx, &io, &p.g, mode), io.a, mode));
    return set_scratch(ctx, qmm_scratch(&p.g));
}

/* Offset of batch idx along strides bs. */
static int64_t batch_off(int r, const int64_t *idx, const int64_t *bs)
{
    int64_t off = 0;
    for (int d = 0; d < r; d++) off += idx[d] * bs[d];
    return off;
}


static ei_status qmm_prepare(op_ctx *ctx)
{
    int mode = qmm_mode(ctx);
    qmm_io io = qmm_inputs(ctx, mode);
    qmm_args p;
    TRY(qmm_setup(ctx, &io, mode, &p));
    qmm_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    ctx->state = st;
    if (!qmm_packable(ctx, &io, &p.g, mode)) return EI_STATUS_OK;
    size_t n = q8_gemm_packed_a_size((size_t)p.g.N, (size_t)p.g.K);
    int32_t *zps = op_alloc(ctx, (size_t)p.g.N * sizeof *zps);
    st->pw = op_alloc_uninit(ctx, n * 2);
    if (!st->pw || !zps) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing B (%zu int16)", n);
    qmm_pack_b(&p.g, &io, 0, zps, st->pw);
    return EI_STATUS_OK;
}

static ei_status qmm_run_fast(op_ctx *ctx, const qmm_io *io, const qmm_args *p, int mode)
{
    const qmm *g = &p->g;
    const qmm_state *st = ctx->state;
    bool qlinear = mode == QMM_QLINEAR;
    size_t M = (size_t)g->M, N = (size_t)g->N, K = (size_t)g->K, mc = q8_chunk(K, M), es = qlinear ? 1 : 4;
    if (M == 0 || N == 0) return EI_STATUS_OK;
    uint8_t *s = ctx->scratch;
    int32_t *zps = (int32_t *)s;
    float *mult = (float *)(s += bytes_aligned((uint64_t)N * 4));
    s += bytes_aligned((uint64_t)N * 4);
    int16_t *pwork = (int16_t *)s;
    if (!st->pw) s += bytes_aligned((uint64_t)q8_gemm_packed_a_size(N, K) * 2);
    int16_t *pb = (int16_t *)s;
    q8_requant rq = {.scale = mult, .per_row = 1, .bias = io->bias && qlinear ? io->bias->data : NULL};
    int a_signed = io->a->dtype == EI_DTYPE_INT8;
    int32_t za = zp_at(io->a_zp, 0);
    const uint8_t *a = io->a->data;
    if (mode == QMM_DYNAMIC) { /* A quantized as DynamicQuantizeLinear does it, after the packed chunk */
        uint8_t *aq = s + bytes_aligned((uint64_t)q8_gemm_packed_b_size(K, mc) * 2);
        size_t n = (size_t)numel(io->a);
        float sa;
        q8_dynamic_params_simd128(io->a->data, n, &sa, &za);
        q8_quantize_simd128(io->a->data, aq, n, sa, za, 0);
        const float *sb = io->b_scale->data;
        for (size_t i = 0; i < N; i++) mult[i] = sa * sb[per_tensor(io->b_scale) ? 0 : i];
        rq.out_f32 = 1;
        rq.fbias = io->bias ? io->bias->data : NULL;
        a = aq;
        a_signed = 0;
    } else if (qlinear) {
        float sa = *(const float *)io->a_scale->data, sy = *(const float *)io->y_scale->data;
        const float *sb = io->b_scale->data;
        for (size_t n = 0; n < N; n++) mult[n] = sa * sb[per_tensor(io->b_scale) ? 0 : n] / sy;
        rq.out_signed = io->y_zp->dtype == EI_DTYPE_INT8;
        rq.zp = zp_at(io->y_zp, 0);
        TRY(q8_act_clamp(ctx, sy, rq.zp, &rq));
    }
    uint8_t *y = ctx->out[0]->data;
    const int16_t *pw = st->pw;
    int64_t idx[EI_MAX_DIMS] = {0}, last_b = -1;
    for (int64_t bi = 0; bi < g->nbatch; bi++) {
        int r = g->batch_rank;
        int64_t a_off = batch_off(r, idx, g->a_bs), b_off = batch_off(r, idx, g->b_bs);
        if (!st->pw && b_off != last_b) {
            qmm_pack_b(g, io, b_off, zps, pwork);
            pw = pwork;
            last_b = b_off;
        }
        for (size_t m0 = 0; m0 < M; m0 += mc) {
            size_t m1 = m0 + mc < M ? m0 + mc : M;
            q8_gemm_pack_b(K, m1 - m0, a + a_off + m0 * K, a_signed, 1, (ptrdiff_t)K, za, pb);
            q8_gemm_packed_simd128(N, m1 - m0, K, pw, pb, mode != QMM_INTEGER ? &rq : NULL, y + ((size_t)bi * M + m0) * N * es, 1,
                                   (ptrdiff_t)N);
            if (mode == QMM_DYNAMIC) op_apply_act(ctx, (float *)y + ((size_t)bi * M + m0) * N, (m1 - m0) * N);
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < g->batch[d]) break;
            idx[d] = 0;
        }
    }
    return EI_STATUS_OK;
}

/* The plain loop for per-row parameters of A or y, and batched parameters. */
static ei_status qmm_run_plain(op_ctx *ctx, const qmm_io *iop, const qmm_args *pp, bool qlinear)
{
    qmm_io io = *iop;
    qmm_args p = *pp;
    const qmm *g = &p.g;
    int64_t M = g->M, N = g->N, K = g->K;
    int32_t *bq = ctx->scratch;       /* [K, N] */
    int32_t *arow = bq + K * N;       /* [K] */
    uint32_t *acc = (uint32_t *)(arow + K); /* [N] */
    ei_tensor *y = ctx->out[0];
    int64_t idx[EI_MAX_DIMS] = {0};
    int64_t last_b = -1, last_bzp = -1;
    for (int64_t bi = 0; bi < g->nbatch; bi++) {
        int r = g->batch_rank;
        int64_t a_off = batch_off(r, idx, g->a_bs), b_off = batch_off(r, idx, g->b_bs);
        int64_t azp_off = batch_off(r, idx, p.azp.bs), bzp_off = batch_off(r, idx, p.bzp.bs);
        if (b_off != last_b || bzp_off != last_bzp) { /* B (minus zero points) changes with the batch */
            for (int64_t k = 0; k < K; k++)
                for (int64_t n = 0; n < N; n++)
                    bq[k * N + n] = qload(io.b->data, io.b->dtype, b_off + k * N + n) -
                                    zp_at(io.b_zp, bzp_off + n * p.bzp.vs);
            last_b = b_off;
            last_bzp = bzp_off;
        }
        for (int64_t m = 0; m < M; m++) {
            int32_t z = zp_at(io.a_zp, azp_off + m * p.azp.vs);
            for (int64_t k = 0; k < K; k++) arow[k] = qload(io.a->data, io.a->dtype, a_off + m * K + k) - z;
            for (int64_t n = 0; n < N; n++) acc[n] = 0;
            for (int64_t k = 0; k < K; k++) {
                uint32_t av = (uint32_t)arow[k];
                const int32_t *brow = bq + k * N;
                if (!av) continue;
                for (int64_t n = 0; n < N; n++) acc[n] += av * (uint32_t)brow[n];
            }
            int64_t y_off = (bi * M + m) * N;
            if (!qlinear) {
                int32_t *yi = (int32_t *)y->data + y_off;
                for (int64_t n = 0; n < N; n++) yi[n] = wrap32(acc[n]);
                continue;
            }
            const float *as = io.a_scale->data, *bs = io.b_scale->data, *ys = io.y_scale->data;
            float sa = as[batch_off(r, idx, p.as.bs) + m * p.as.vs];
            float sy = ys[batch_off(r, idx, p.ys.bs) + m * p.ys.vs];
            int32_t zy = zp_at(io.y_zp, batch_off(r, idx, p.yzp.bs) + m * p.yzp.vs);
            int64_t bs_off = batch_off(r, idx, p.bs.bs);
            for (int64_t n = 0; n < N; n++) {
                float mult = sa * bs[bs_off + n * p.bs.vs] / sy;
                qstore(y->data, y->dtype, y_off + n, (float)wrap32(acc[n]) * mult, zy);
            }
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < g->batch[d]) break;
            idx[d] = 0;
        }
    }
    return EI_STATUS_OK;
}

static ei_status qmm_run(op_ctx *ctx)
{
    int mode = qmm_mode(ctx);
    qmm_io io = qmm_inputs(ctx, mode);
    qmm_args p;
    TRY(qmm_setup(ctx, &io, mode, &p));
    if (qmm_fast(&io, &p.g)) return qmm_run_fast(ctx, &io, &p, mode);
    return qmm_run_plain(ctx, &io, &p, mode == QMM_QLINEAR);
}

/* =========================== ConvInteger, QLinearConv =========================== */
/* Direct convolution over any number of spatial dims: per image and group,
 * an im2col of (x - x_zero_point) into scratch (padding reads as 0), then an
 * integer product with (w - w_zero_point). */

#define QCONV_MAX_ND (EI_MAX_DIMS - 2)

typedef struct qconv {
    int nd;
    int64_t batch, cin, cout, group, cg, mg; /* cg, mg: input and output channels per group */
    int64_t in[QCONV_MAX_ND], out[QCONV_MAX_ND];
    int64_t kernel[QCONV_MAX_ND], stride[QCONV_MAX_ND], dilation[QCONV_MAX_ND], pad[QCONV_MAX_ND];
    int64_t ksize, in_pix, out_pix; /* prod(kernel), prod(in), prod(out) */
} qconv;

/* Inputs by role: ConvInteger is (x, w, x_zp, w_zp), QLinearConv is
 * (x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B). */
typedef struct qconv_io {
    const ei_tensor *x, *w, *x_zp, *w_zp;
    const ei_tensor *x_scale, *w_scale, *y_scale, *y_zp, *bias; /* QLinearConv only */
} qconv_io;

static qconv_io qconv_inputs(const op_ctx *ctx, bool qlinear)
{
    qconv_io io;
    memset(&io, 0, sizeof io);
    if (qlinear) {
        io.x = ctx->in[0];
        io.x_scale = ctx->in[1];
        io.x_zp = ctx->in[2];
        io.w = ctx->in[3];
        io.w_scale = ctx->in[4];
        io.w_zp = ctx->in[5];
        io.y_scale = ctx->in[6];
        io.y_zp = ctx->in[7];
        io.bias = has_in(ctx, 8) ? ctx->in[8] : NULL;
    } else {
        io.x = ctx->in[0];
        io.w = ctx->in[1];
        io.x_zp = has_in(ctx, 2) ? ctx->in[2] : NULL;
        io.w_zp = has_in(ctx, 3) ? ctx->in[3] : NULL;
    }
    return io;
}

static ei_status qconv_geometry(op_ctx *ctx, const qconv_io *io, qconv *g)
{
    const ei_tensor *x = io->x, *w = io->w;
    CHECK_SHAPE(ctx, x->rank >= 3 && x->rank <= QCONV_MAX_ND + 2,
                "input x has shape %s, expected [N, C, spatial...] with 1 to %d spatial dims", shape_str(x),
                QCONV_MAX_ND);
    CHECK_SHAPE(ctx, w->rank == x->rank, "weight w has shape %s, expected %d dims like x %s", shape_str(w), x->rank,
                shape_str(x));
    memset(g, 0, sizeof *g);
    int nd = g->nd = x->rank - 2;
    g->batch = x->dims[0];
    g->cin = x->dims[1];
    g->cout = w->dims[0];
    g->group = attr_int(ctx->n, "group", 1);
    CHECK(ctx, g->group >= 1 && g->group < ATTR_LIMIT, "attribute 'group' = %lld, expected >= 1",
          (long long)g->group);
    CHECK_SHAPE(ctx, g->cin % g->group == 0 && w->dims[1] * g->group == g->cin,
                "weight w %s with group = %lld does not fit the %lld input channels of x %s", shape_str(w),
                (long long)g->group, (long long)g->cin, shape_str(x));
    CHECK_SHAPE(ctx, g->cout % g->group == 0, "weight w %s has %lld output channels, not divisible by group = %lld",
                shape_str(w), (long long)g->cout, (long long)g->group);
    g->cg = g->cin / g->group;
    g->mg = g->cout / g->group;

    window_geom win;
    TRY(spatial_window(ctx, x, w, WINDOW_CONV, &win));
    for (int d = 0; d < nd; d++) {
        g->in[d] = win.in[d];
        g->out[d] = win.out[d];
        g->kernel[d] = win.kernel[d];
        g->stride[d] = win.stride[d];
        g->dilation[d] = win.dilation[d];
        g->pad[d] = win.pad_begin[d];
    }
    g->ksize = win.ksize;
    g->in_pix = win.in_pix;
    g->out_pix = win.out_pix;
    return EI_STATUS_OK;
}

/* Checks a weight parameter is per-tensor or per output channel. */
static ei_status check_per_channel(op_ctx *ctx, const ei_tensor *p, const char *what, int64_t cout)
{
    if (!p) return EI_STATUS_OK;
    CHECK_SHAPE(ctx, (numel(p) == 1 && p->rank <= 1) || (p->rank == 1 && p->dims[0] == cout),
                "%s has shape %s, expected a scalar or [%lld] (one per output channel)", what, shape_str(p),
                (long long)cout);
    return EI_STATUS_OK;
}

static ei_status qconv_setup(op_ctx *ctx, bool qlinear, qconv_io *io, qconv *g)
{
    *io = qconv_inputs(ctx, qlinear);
    TRY(qconv_geometry(ctx, io, g));
    TRY(check_per_channel(ctx, io->w_zp, "w_zero_point", g->cout));
    if (qlinear) {
        TRY(check_per_channel(ctx, io->w_scale, "w_scale", g->cout));
        CHECK_SHAPE(ctx, numel(io->w_scale) == numel(io->w_zp), "w_scale %s and w_zero_point %s differ in shape",
                    shape_str(io->w_scale), shape_str(io->w_zp));
        if (io->bias)
            CHECK_SHAPE(ctx, io->bias->rank == 1 && io->bias->dims[0] == g->cout, "bias B has shape %s, expected [%lld]",
                        shape_str(io->bias), (long long)g->cout);
    }
    return EI_STATUS_OK;
}

/*
 * The convolution runs as a q8 GEMM per image and group: the weights
 * [mg, cg * ksize] minus their zero points are the packed A operand (packed
 * once in prepare when constant), the columns of a range of output pixels
 * (a byte im2col padded with the input zero point, or the image itself for a
 * pointwise convolution) are packed into B, and the kernel's epilogue writes
 * the int32 sums (ConvInteger) or the requantized output (QLinearConv).
 */
_Static_assert(QCONV_MAX_ND == F32_CONV_MAX_ND, "the byte im2col covers every convolution");

/* A 1x1 convolution with stride 1 and no padding: the image already is the column matrix. */
static bool qconv_pointwise(const qconv *g)
{
    for (int d = 0; d < g->nd; d++)
        if (g->kernel[d] != 1 || g->stride[d] != 1 || g->pad[d] != 0 || g->out[d] != g->in[d]) return false;
    return true;
}

/* Depthwise 2-D (one input channel per output channel): the direct kernel, not a GEMM per channel. */
static bool qconv_depthwise(const qconv *g) { return g->nd == 2 && g->group == g->cin && g->cout == g->cin; }

/* The kernels' geometry of the convolution: one group's channels (im2col), or all of them (depthwise). */
static f32_conv_geom qconv_kernel_geom(const qconv *g)
{
    f32_conv_geom k;
    memset(&k, 0, sizeof k);
    k.nd = g->nd;
    k.channels = (size_t)(qconv_depthwise(g) ? g->cin : g->cg);
    for (int d = 0; d < g->nd; d++) {
        k.img[d] = (size_t)g->in[d];
        k.grid[d] = (size_t)g->out[d];
        k.kernel[d] = (size_t)g->kernel[d];
        k.stride[d] = (size_t)g->stride[d];
        k.dilation[d] = (size_t)g->dilation[d];
        k.pad[d] = (ptrdiff_t)g->pad[d];
    }
    return k;
}

/* int16 elements of one group's packed weights (depthwise: the whole [C, ksize] weight, minus zero points). */
static uint64_t qconv_group_packed(const qconv *g)
{
    if (qconv_depthwise(g)) return (uint64_t)g->cout * (uint64_t)g->ksize;
    return q8_gemm_packed_a_size((size_t)g->mg, (size_t)(g->cg * g->ksize));
}

/* Scratch: [weight zero points, int32 cout][multipliers, float cout][packed weights unless prepacked]
 * then the depthwise kernel's work plane, or [im2col bytes, Kg x chunk][packed columns of the chunk].
 * Sizes are bounded by the tensors'. */
/* Bytes of one thread's share of the scratch: the byte columns of one range (unless pointwise)
 * and their packed form. */
static uint64_t qconv_thread_bytes(const qconv *g)
{
    uint64_t kg = (uint64_t)g->cg * (uint64_t)g->ksize, nc = q8_chunk((size_t)kg, (size_t)g->out_pix);
    return (qconv_pointwise(g) ? 0 : bytes_aligned(kg * nc)) + bytes_aligned(q8_gemm_packed_b_size((size_t)kg, (size_t)nc) * 2);
}

/* Scratch: zero points and multipliers per channel, the packed weights unless prepacked, then
 * the depthwise kernel's work, or one qconv_thread_bytes per thread. */
static uint64_t qconv_scratch(const qconv *g, bool packed, int threads)
{
    uint64_t r = 2 * bytes_aligned((uint64_t)g->cout * 4);
    if (!packed) r += bytes_aligned(qconv_group_packed(g) * (uint64_t)(qconv_depthwise(g) ? 1 : g->group) * 2);
    if (qconv_depthwise(g)) {
        f32_conv_geom k = qconv_kernel_geom(g);
        return r + q8_dwconv_work_size(&k);
    }
    return r + qconv_thread_bytes(g) * (uint64_t)threads;
}

static ei_status qconv_infer_common(op_ctx *ctx, bool qlinear)
{
    if (qlinear) {
        TRY(check_arity(ctx, 8, 9, 8));
        TRY(check_dtype(ctx, 0, q8_dtypes));
        TRY(check_dtype(ctx, 3, q8_dtypes));
        TRY(check_dtype(ctx, 7, q8_dtypes));
        TRY(check_same_dtype(ctx, 2, 0, "x_zero_point", "x"));
        TRY(check_same_dtype(ctx, 5, 3, "w_zero_point", "w"));
        TRY(check_dtype(ctx, 1, f32_only));
        TRY(check_dtype(ctx, 4, f32_only));
        TRY(check_dtype(ctx, 6, f32_only));
        TRY(check_dtype(ctx, 8, i32_only));
        TRY(check_scalar(ctx, 1, "x_scale"));
        TRY(check_scalar(ctx, 2, "x_zero_point"));
        TRY(check_scalar(ctx, 6, "y_scale"));
        TRY(check_scalar(ctx, 7, "y_zero_point"));
    } else {
        TRY(check_arity(ctx, 2, 4, 2));
        TRY(check_dtype(ctx, 0, q8_dtypes));
        TRY(check_dtype(ctx, 1, q8_dtypes));
        TRY(check_same_dtype(ctx, 2, 0, "x_zero_point", "x"));
        TRY(check_same_dtype(ctx, 3, 1, "w_zero_point", "w"));
        TRY(check_scalar(ctx, 2, "x_zero_point"));
    }
    qconv_io io;
    qconv g;
    TRY(qconv_setup(ctx, qlinear, &io, &g));
    int64_t dims[EI_MAX_DIMS];
    dims[0] = g.batch;
    dims[1] = g.cout;
    for (int d = 0; d < g.nd; d++) dims[d + 2] = g.out[d];
    TRY(set_output(ctx, 0, qlinear ? io.y_zp->dtype : EI_DTYPE_INT32, g.nd + 2, dims));
    return set_scratch(ctx, qconv_scratch(&g, in_is_const(ctx, qlinear ? 3 : 1) && (!io.w_zp || in_is_const(ctx, qlinear ? 5 : 3)),
                                          op_threads(ctx)));
}

static ei_status conv_integer_infer(op_ctx *ctx) { return qconv_infer_common(ctx, false); }
static ei_status qlinear_conv_infer(op_ctx *ctx) { return qconv_infer_common(ctx, true); }

/* The weight zero points as int32, one per output channel. */
static void weight_zps(const ei_tensor *zp, int64_t cout, int32_t *out)
{
    for (int64_t m = 0; m < cout; m++) out[m] = zp_at(zp, zp && numel(zp) != 1 ? m : 0);
}

static void qconv_pack(const qconv *g, const qconv_io *io, int32_t *zps, int16_t *dst)
{
    size_t kg = (size_t)(g->cg * g->ksize), mg = (size_t)g->mg, each = (size_t)qconv_group_packed(g);
    weight_zps(io->w_zp, g->cout, zps);
    if (qconv_depthwise(g)) {
        for (size_t i = 0; i < each; i++)
            dst[i] = (int16_t)(qload(io->w->data, io->w->dtype, (int64_t)i) - zps[i / (size_t)g->ksize]);
        return;
    }
    for (int64_t gr = 0; gr < g->group; gr++)
        q8_gemm_pack_a(mg, kg, (const uint8_t *)io->w->data + (size_t)gr * mg * kg, io->w->dtype == EI_DTYPE_INT8,
                       (ptrdiff_t)kg, 1, zps + (size_t)gr * mg, 1, dst + (size_t)gr * each);
}

/* What qconv prepare works out once per plan. */
typedef struct qconv_state {
    qconv g;
    f32_conv_geom kg; /* one group's im2col geometry, or the depthwise kernel's */
    int16_t *pw;      /* packed weights, group after group; NULL unless w is constant */
} qconv_state;

static ei_status qconv_prepare(op_ctx *ctx)
{
    bool qlinear = !strcmp(ctx->n->op_type, "QLinearConv");
    qconv_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    qconv_io io;
    TRY(qconv_setup(ctx, qlinear, &io, &st->g));
    const qconv *g = &st->g;
    st->kg = qconv_kernel_geom(g);
    ctx->state = st;
    int wi = qlinear ? 3 : 1, zi = qlinear ? 5 : 3;
    if (!in_is_const(ctx, wi) || (has_in(ctx, zi) && !in_is_const(ctx, zi))) return EI_STATUS_OK;
    size_t n = (size_t)qconv_group_packed(g) * (size_t)(qconv_depthwise(g) ? 1 : g->group);
    int32_t *zps = op_alloc(ctx, (size_t)g->cout * sizeof *zps);
    st->pw = op_alloc_uninit(ctx, n * 2);
    if (!st->pw || !zps) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing w (%zu int16)", n);
    qconv_pack(g, &io, zps, st->pw);
    return EI_STATUS_OK;
}

/* What the tasks of one ConvInteger or QLinearConv run share. */
typedef struct qconv_job {
    const qconv_state *st;
    const uint8_t *x;
    uint8_t *y;
    const int16_t *pw;
    uint8_t *work;           /* thread t's columns and packed range at work + t * per_thread */
    uint64_t per_thread;
    const q8_requant *rq;    /* NULL for ConvInteger (int32 out) */
    const int32_t *bias;
    int x_signed;
    int32_t xz;
    size_t kg, N, nc, chunks, each, es;
} qconv_job;

/* Task i: one column range of one image and group, every output channel of the group. */
static void qconv_task(void *arg, size_t i, int thread)
{
    const qconv_job *j = arg;
    const qconv *g = &j->st->g;
    size_t c = i % j->chunks, gr = i / j->chunks % (size_t)g->group, n = i / j->chunks / (size_t)g->group;
    size_t mg = (size_t)g->mg, m0 = gr * mg, n0 = c * j->nc, n1 = n0 + j->nc < j->N ? n0 + j->nc : j->N;
    const uint8_t *xg = j->x + (n * (size_t)g->cin + gr * (size_t)g->cg) * (size_t)g->in_pix;
    uint8_t *col = j->work + (size_t)thread * j->per_thread;
    bool pointwise = qconv_pointwise(g);
    int16_t *pb = (int16_t *)(pointwise ? col : col + bytes_aligned((uint64_t)j->kg * j->nc));
    q8_requant rg;
    if (j->rq) {
        rg = *j->rq;
        rg.scale += m0;
        rg.bias = j->bias ? j->bias + m0 : NULL;
    }
    if (pointwise) {
        q8_gemm_pack_b(j->kg, n1 - n0, xg + n0, j->x_signed, (ptrdiff_t)j->N, 1, j->xz, pb);
    } else {
        u8_im2col(&j->st->kg, xg, (uint8_t)j->xz, n0, n1, col);
        q8_gemm_pack_b(j->kg, n1 - n0, col, j->x_signed, (ptrdiff_t)(n1 - n0), 1, j->xz, pb);
    }
    q8_gemm_packed_simd128(mg, n1 - n0, j->kg, j->pw + gr * j->each, pb, j->rq ? &rg : NULL,
                           j->y + ((n * (size_t)g->cout + m0) * j->N + n0) * j->es, (ptrdiff_t)j->N, 1);
}

static ei_status qconv_run_common(op_ctx *ctx, bool qlinear)
{
    const qconv_state *st = ctx->state;
    const qconv *g = &st->g;
    qconv_io io = qconv_inputs(ctx, qlinear);
    if (g->batch == 0 || g->cout == 0 || g->out_pix == 0) return EI_STATUS_OK;
    size_t kg = (size_t)(g->cg * g->ksize), N = (size_t)g->out_pix, nc = q8_chunk(kg, N);
    size_t each = (size_t)qconv_group_packed(g), cout = (size_t)g->cout;
    uint8_t *s = ctx->scratch;
    int32_t *zps = (int32_t *)s;
    float *mult = (float *)(s += bytes_aligned(cout * 4));
    s += bytes_aligned(cout * 4);
    const int16_t *pw = st->pw;
    if (!pw) {
        qconv_pack(g, &io, zps, (int16_t *)s);
        pw = (const int16_t *)s;
        s += bytes_aligned((uint64_t)each * (uint64_t)(qconv_depthwise(g) ? 1 : g->group) * 2);
    }
    int x_signed = io.x->dtype == EI_DTYPE_INT8;
    int32_t xz = zp_at(io.x_zp, 0);
    q8_requant rq = {.scale = mult, .per_row = 1};
    if (qlinear) {
        float sx = *(const float *)io.x_scale->data, sy = *(const float *)io.y_scale->data;
        const float *sw = io.w_scale->data;
        for (size_t m = 0; m < cout; m++) mult[m] = sx * sw[numel(io.w_scale) == 1 ? 0 : m] / sy;
        rq.out_signed = io.y_zp->dtype == EI_DTYPE_INT8;
        rq.zp = zp_at(io.y_zp, 0);
        TRY(q8_act_clamp(ctx, sy, rq.zp, &rq));
    }
    const uint8_t *x = io.x->data;
    uint8_t *y = ctx->out[0]->data;
    size_t es = qlinear ? 1 : 4;
    if (qconv_depthwise(g)) {
        rq.bias = io.bias ? io.bias->data : NULL;
        for (int64_t n = 0; n < g->batch; n++)
            q8_dwconv_simd128(&st->kg, x + (size_t)n * cout * (size_t)g->in_pix, x_signed, xz, pw, qlinear ? &rq : NULL,
                              y + (size_t)n * cout * N * es, s);
        return EI_STATUS_OK;
    }
    qconv_job j = {st, x, y, pw, s, qconv_thread_bytes(g), qlinear ? &rq : NULL, io.bias ? io.bias->data : NULL,
                   x_signed, xz, kg, N, nc, (N + nc - 1) / nc, each, es};
    op_parallel(ctx, (size_t)g->batch * (size_t)g->group * j.chunks, qconv_task, &j);
    return EI_STATUS_OK;
}
static ei_status conv_integer_run(op_ctx *ctx) { return qconv_run_common(ctx, false); }
static ei_status qlinear_conv_run(op_ctx *ctx) { return qconv_run_common(ctx, true); }

const op_def quant_ops[] = {
    {"QuantizeLinear", "", 10, quantize_infer, NULL, quantize_run, 0},
    {"DequantizeLinear", "", 10, dequantize_infer, NULL, dequantize_run, 0},
    {"DynamicQuantizeLinear", "", 11, dynamic_quantize_infer, NULL, dynamic_quantize_run, 0},
    {"MatMulInteger", "", 10, qmm_infer, qmm_prepare, qmm_run, 0},
    {"QLinearMatMul", "", 10, qmm_infer, qmm_prepare, qmm_run, 0},
    {"DynamicQuantizeMatMul", "com.microsoft", 1, qmm_infer, qmm_prepare, qmm_run, 0},
    {"ConvInteger", "", 10, conv_integer_infer, qconv_prepare, conv_integer_run, 0},
    {"QLinearConv", "", 10, qlinear_conv_infer, qconv_prepare, qlinear_conv_run, 0},
};
const int quant_ops_count = sizeof quant_ops / sizeof quant_ops[0];
