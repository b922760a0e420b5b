/*
 * Operators of the com.microsoft domain (opset 1) that onnxruntime's transformer exporters
 * and optimisers write, with the semantics of its ContribOperators.md: the GELU family and
 * BiasAdd, the layer-norm family (SkipLayerNormalization, SkipSimplifiedLayerNormalization,
 * SimplifiedLayerNormalization, EmbedLayerNormalization), RotaryEmbedding, FusedMatMul and
 * FusedConv. The attention ops are in attention.c.
 *
 * The GELU family adds its bias (and BiasAdd its skip) block by block into a small stack
 * buffer, then applies the activation from it, so the output may alias the input. Every
 * layer-norm variant comes down to one row routine: sum the row's parts, take its statistics
 * (mean and variance, or the mean square for the "simplified" RMS form) and apply the affine
 * map. FusedConv runs Conv's own infer/prepare/run and then adds Z and the activation.
 */
#include <stdint.h>

#include "../kernels/f32_gemm.h"
#include "../kernels/f32_norm.h"
#include "../kernels/f32_vbinary.h"
#include "../kernels/f32_vunary.h"
#include "contrib.h"
#include "matmul.h"

uint64_t size_mul3(int64_t a, int64_t b, int64_t c)
{
    uint64_t r, s;
    if (a < 0 || b < 0 || c < 0 || __builtin_mul_overflow((uint64_t)a, (uint64_t)b, &r) ||
        __builtin_mul_overflow(r, (uint64_t)c, &s))
        return UINT64_MAX;
    return s;
}

ei_status scratch_floats(op_ctx *ctx, uint64_t floats)
{
    CHECK_SHAPE(ctx, floats <= (uint64_t)EI_MAX_TENSOR_BYTES / sizeof(float),
                "needs %llu floats of temporary memory, more than the library places", (unsigned long long)floats);
    ctx->scratch_bytes = (size_t)floats * sizeof(float);
    return EI_STATUS_OK;
}

ei_status check_f32(op_ctx *ctx, int from, int to)
{
    for (int i = from; i < to && i < ctx->n_in; i++)
        CHECK(ctx, !has_in(ctx, i) || ctx->in[i]->dtype == EI_DTYPE_FLOAT32, "input %d has dtype %s, expected float32",
              i, ei_dtype_name(ctx->in[i]->dtype));
    return EI_STATUS_OK;
}

ei_status check_dims(op_ctx *ctx, int i, const char *name, int rank, const int64_t *want)
{
    if (!has_in(ctx, i)) return EI_STATUS_OK;
    const ei_tensor *t = ctx->in[i];
    bool ok = t->rank == rank;
    for (int d = 0; ok && d < rank; d++) ok = t->dims[d] == want[d];
    if (ok) return EI_STATUS_OK;
    ei_tensor w = {.rank = rank};
    memcpy(w.dims, want, (size_t)rank * sizeof(int64_t));
    return op_fail(ctx, EI_STATUS_INVALID_SHAPE, "input %s has shape %s, expected %s", name, shape_str(t),
                   shape_str(&w));
}

static ei_status check_vec(op_ctx *ctx, int i, const char *name, int64_t n) { return check_dims(ctx, i, name, 1, &n); }

static const float *in_f32(const op_ctx *ctx, int i) { return has_in(ctx, i) ? ctx->in[i]->data : NULL; }
static float *out_f32(const op_ctx *ctx, int i) { return has_out(ctx, i) ? ctx->out[i]->data : NULL; }

/* ================= Gelu, FastGelu, BiasGelu, QuickGelu, BiasAdd ================= */

enum { A_GELU, A_FAST, A_BIASGELU, A_QUICK, A_BIASADD };
#define ACT_BLOCK 256

static int act_kind(const op_ctx *ctx)
{
    static const char *names[] = {"Gelu", "FastGelu", "BiasGelu", "QuickGelu", "BiasAdd"};
    int k = 0;
    while (k < A_BIASADD && strcmp(ctx->n->op_type, names[k])) k++;
    return k;
}

static ei_status act_infer(op_ctx *ctx)
{
    int k = act_kind(ctx);
    static const signed char lo[] = {1, 1, 2, 1, 3}, hi[] = {1, 2, 2, 1, 3};
    TRY(check_arity(ctx, lo[k], hi[k], lo[k]));
    TRY(check_f32(ctx, 0, 3));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 1, "input X is a scalar, expected at least 1 dim");
    TRY(check_vec(ctx, 1, "bias", x->dims[x->rank - 1]));
    if (k == A_BIASADD) {
        CHECK_SHAPE(ctx, x->rank == 3, "input X has shape %s, expected [N, S, C]", shape_str(x));
        TRY(check_dims(ctx, 2, "skip", 3, x->dims));
    }
    return set_output(ctx, 0, EI_DTYPE_FLOAT32, x->rank, x->dims);
}

/* y = f(a) for one block of the GELU family. */
static void act_block(int k, float alpha, const float *a, float *y, size_t n)
{
    f32_vunary_params p = {0};
    float t[ACT_BLOCK];
    switch (k) {
    case A_GELU:
    case A_BIASGELU: f32_vunary_select(F32_VGELU)(a, y, n, &p); break;
    case A_FAST: /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        for (size_t i = 0; i < n; i++) t[i] = a[i] * (0.7978845608f + 0.0356774081f * a[i] * a[i]);
        f32_vunary_select(F32_VTANH)(t, t, n, &p);
        for (size_t i = 0; i < n; i++) y[i] = 0.5f * a[i] * (1.0f + t[i]);
        break;
    case A_QUICK: /* x * sigmoid(alpha x) */
        f32_vaffine_simd128(n, a, alpha, 0.0f, t);
        f32_vunary_select(F32_VSIGMOID)(t, t, n, &p);
        f32_vbinary_select(F32_VMUL).v(a, t, y, n);
        break;
    default: memcpy(y, a, n * sizeof(float));
    }
}

static ei_status act_run(op_ctx *ctx)
{
    int k = act_kind(ctx);
    const ei_tensor *x = ctx->in[0];
    const float *xd = x->data, *bias = in_f32(ctx, 1), *skip = k == A_BIASADD ? in_f32(ctx, 2) : NULL;
    float *yd = ctx->out[0]->data;
    float alpha = attr_float(ctx->n, "alpha", 1.702f);
    f32_vbinary_fn add = f32_vbinary_select(F32_VADD).v;
    size_t c = (size_t)x->dims[x->rank - 1], rows = c ? (size_t)(numel(x) / (int64_t)c) : 0;
    float a[ACT_BLOCK];
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j += ACT_BLOCK) {
            size_t n = c - j < ACT_BLOCK ? c - j : ACT_BLOCK, o = r * c + j;
            const float *src = xd + o;
            if (bias) add(src, bias + j, a, n), src = a;
            if (skip) add(src, skip + o, a, n), src = a;
            if (src != a) memcpy(a, src, n * sizeof(float));
            act_block(k, alpha, a, yd + o, n);
        }
    return EI_STATUS_OK;
}

/* ================= the layer-norm family ================= */

/* One row: s = x (+ skip) (+ bias), kept in `sum` when given; then
 * y = (s - mean) / sqrt(var + eps) * gamma + beta, or s / sqrt(mean(s^2) + eps) * gamma (rms).
 * y may equal x. Returns 1 / sqrt(...) and the mean in *mean. */
static float norm_row(size_t h, const float *x, const float *skip, const float *bias, const float *gamma,
                      const float *beta, bool rms, float eps, float *y, float *sum, float *mean)
{
    f32_vbinary_fn add = f32_vbinary_select(F32_VADD).v;
    float *s = sum ? sum : y;
    const float *src = x;
    if (skip) add(src, skip, s, h), src = s;
    if (bias) add(src, bias, s, h), src = s;
    if (src != s) memcpy(s, src, h * sizeof(float));
    float m, var;
    f32_meanvar_simd128(h, s, &m, &var);
    if (rms) var += m * m, m = 0.0f;
    float inv = 1.0f / sqrtf(var + eps);
    f32_layernorm_apply_simd128(h, s, m, inv, gamma, rms ? NULL : beta, y);
    *mean = m;
    return inv;
}

/* SimplifiedLayerNormalization and SkipSimplifiedLayerNormalization: no mean is subtracted. */
static bool is_rms(const op_ctx *ctx)
{
    const char *t = ctx->n->op_type;
    return !strcmp(t, "SimplifiedLayerNormalization") || !strcmp(t, "SkipSimplifiedLayerNormalization");
}

/* Skip broadcasts over input's leading dims: after its leading 1s it must equal input's trailing dims. */
static bool skip_fits(const ei_tensor *x, const ei_tensor *s)
{
    int lead = 0;
    while (lead < s->rank - 1 && s->dims[lead] == 1) lead++;
    int r = s->rank - lead;
    if (r > x->rank) return false;
    for (int d = 0; d < r; d++)
        if (s->dims[lead + d] != x->dims[x->rank - r + d]) return false;
    return true;
}

/* SkipLayerNormalization: input, skip, gamma, beta?, bias?; SkipSimplifiedLayerNormalization:
 * input, skip, gamma, bias?. Outputs: output, mean?, inv_std_var?, input_skip_bias_sum?. */
static ei_status skipln_infer(op_ctx *ctx)
{
    bool rms = is_rms(ctx);
    TRY(check_arity(ctx, 3, rms ? 4 : 5, 3));
    TRY(check_f32(ctx, 0, 5));
    CHECK(ctx, ctx->n_out <= 4, "has %d outputs, expected at most 4", ctx->n_out);
    const ei_tensor *x = ctx->in[0], *s = ctx->in[1];
    CHECK_SHAPE(ctx, x->rank == 2 || x->rank == 3, "input has shape %s, expected 2 or 3 dims", shape_str(x));
    int64_t h = x->dims[x->rank - 1];
    CHECK_SHAPE(ctx, skip_fits(x, s), "input skip of shape %s does not broadcast to input %s", shape_str(s),
                shape_str(x));
    TRY(check_vec(ctx, 2, "gamma", h));
    TRY(check_vec(ctx, 3, rms ? "bias" : "beta", h));
    TRY(check_vec(ctx, 4, "bias", h));
    int64_t dims[3] = {x->dims[0], x->dims[1], 1};
    dims[x->rank - 1] = 1;
    for (int i = 1; i < 3; i++) TRY(set_output(ctx, i, EI_DTYPE_FLOAT32, x->rank, dims));
    TRY(set_output(ctx, 3, EI_DTYPE_FLOAT32, x->rank, x->dims));
    return set_output(ctx, 0, EI_DTYPE_FLOAT32, x->rank, x->dims);
}

static ei_status skipln_run(op_ctx *ctx)
{
    bool rms = is_rms(ctx);
    const ei_tensor *x = ctx->in[0];
    size_t h = (size_t)x->dims[x->rank - 1], rows = h ? (size_t)(numel(x) / (int64_t)h) : 0;
    size_t skip_n = (size_t)numel(ctx->in[1]);
    const float *xd = x->data, *skip = ctx->in[1]->data, *gamma = ctx->in[2]->data;
    const float *beta = rms ? NULL : in_f32(ctx, 3), *bias = in_f32(ctx, rms ? 3 : 4);
    float *y = ctx->out[0]->data, *mean = out_f32(ctx, 1), *inv = out_f32(ctx, 2), *sum = out_f32(ctx, 3);
    float eps = attr_float(ctx->n, "epsilon", 1e-12f), m;
    for (size_t r = 0; r < rows; r++) {
        float iv = norm_row(h, xd + r * h, skip + r * h % skip_n, bias, gamma, beta, rms, eps, y + r * h,
                            sum ? sum + r * h : NULL, &m);
        if (mean) mean[r] = m;
        if (inv) inv[r] = iv;
    }
    return EI_STATUS_OK;
}

/* SimplifiedLayerNormalization (RMS norm): X, scale; outputs Y, inv_std_var?; rows are X.dims[axis:]. */
static ei_status sln_geometry(op_ctx *ctx, int64_t *axis, int64_t *rows, int64_t *h)
{
    const ei_tensor *x = ctx->in[0];
    int64_t a = attr_int(ctx->n, "axis", -1);
    *axis = a;
    CHECK(ctx, norm_axis(axis, x->rank), "attribute axis = %lld is out of range for input X of shape %s",
          (long long)a, shape_str(x));
    *rows = shape_numel((int)*axis, x->dims);
    *h = shape_numel(x->rank - (int)*axis, x->dims + *axis);
    return EI_STATUS_OK;
}

static ei_status sln_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_f32(ctx, 0, 2));
    CHECK(ctx, ctx->n_out <= 2, "has %d outputs, expected at most 2", ctx->n_out);
    const ei_tensor *x = ctx->in[0];
    int64_t axis, rows, h;
    TRY(sln_geometry(ctx, &axis, &rows, &h));
    CHECK_SHAPE(ctx, numel(ctx->in[1]) == h, "input scale has shape %s, expected the %lld elements of X%s[%lld:]",
                shape_str(ctx->in[1]), (long long)h, shape_str(x), (long long)axis);
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) dims[d] = d < axis ? x->dims[d] : 1;
    TRY(set_output(ctx, 1, EI_DTYPE_FLOAT32, x->rank, dims));
    return set_output(ctx, 0, EI_DTYPE_FLOAT32, x->rank, x->dims);
}

static ei_status sln_run(op_ctx *ctx)
{
    int64_t axis, rows, h;
    TRY(sln_geometry(ctx, &axis, &rows, &h));
    const float *x = ctx->in[0]->data, *scale = ctx->in[1]->data;
    float *y = ctx->out[0]->data, *inv = out_f32(ctx, 1), m;
    float eps = attr_float(ctx->n, "epsilon", 1e-5f);
    for (int64_t r = 0; r < rows; r++) {
        float iv = norm_row((size_t)h, x + r * h, NULL, NULL, scale, NULL, true, eps, y + r * h, NULL, &m);
        if (inv) inv[r] = iv;
    }
    return EI_STATUS_OK;
}

/* EmbedLayerNormalization: input_ids, segment_ids?, word_embedding, position_embedding,
 * segment_embedding?, gamma, beta, mask?, position_ids?; outputs output, mask_index?,
 * embedding_sum?. Ids are int32; an id outside its table fails the run. */
/* int32 ids [b, s]; position_ids may also be [1, s]. */
static ei_status check_ids(op_ctx *ctx, int i, const char *name, int64_t b, int64_t s)
{
    if (!has_in(ctx, i)) return EI_STATUS_OK;
    const ei_tensor *t = ctx->in[i];
    CHECK(ctx, t->dtype == EI_DTYPE_INT32, "input %s has dtype %s, expected int32", name, ei_dtype_name(t->dtype));
    int64_t want[2] = {i == 8 && t->dims[0] == 1 ? 1 : b, s};
    return check_dims(ctx, i, name, 2, want);
}

/* An embedding table [rows, h]. */
static ei_status check_table(op_ctx *ctx, int i, const char *name, int64_t h)
{
    if (!has_in(ctx, i)) return EI_STATUS_OK;
    int64_t want[2] = {ctx->in[i]->dims[0], h};
    return check_dims(ctx, i, name, 2, want);
}

static ei_status eln_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 7, 9, 1));
    CHECK(ctx, has_in(ctx, 2) && has_in(ctx, 3) && has_in(ctx, 5) && has_in(ctx, 6),
          "inputs word_embedding, position_embedding, gamma and beta are required");
    CHECK(ctx, has_in(ctx, 1) == has_in(ctx, 4), "inputs segment_ids and segment_embedding go together");
    CHECK(ctx, ctx->n_out <= 3, "has %d outputs, expected at most 3", ctx->n_out);
    for (int i = 2; i < 7; i++) TRY(check_f32(ctx, i, i + 1));
    const ei_tensor *ids = ctx->in[0];
    CHECK_SHAPE(ctx, ids->rank == 2, "input input_ids has shape %s, expected [batch, sequence]", shape_str(ids));
    int64_t b = ids->dims[0], s = ids->dims[1], h = ctx->in[2]->rank == 2 ? ctx->in[2]->dims[1] : -1;
    TRY(check_ids(ctx, 0, "input_ids", b, s));
    TRY(check_ids(ctx, 1, "segment_ids", b, s));
    TRY(check_ids(ctx, 7, "mask", b, s));
    TRY(check_ids(ctx, 8, "position_ids", b, s));
    TRY(check_table(ctx, 2, "word_embedding", h));
    TRY(check_table(ctx, 3, "position_embedding", h));
    TRY(check_table(ctx, 4, "segment_embedding", h));
    TRY(check_vec(ctx, 5, "gamma", h));
    TRY(check_vec(ctx, 6, "beta", h));
    int64_t dims[3] = {b, s, h};
    TRY(set_output(ctx, 1, EI_DTYPE_INT32, 1, dims));
    TRY(set_output(ctx, 2, EI_DTYPE_FLOAT32, 3, dims));
    return set_output(ctx, 0, EI_DTYPE_FLOAT32, 3, dims);
}

/* Row `id` of the table of input i, or a failure naming the id. */
static ei_status table_row(op_ctx *ctx, int i, const char *name, int32_t id, const float **row)
{
    const ei_tensor *t = ctx->in[i];
    CHECK_SHAPE(ctx, id >= 0 && id < t->dims[0], "%s %d is outside the table of %lld rows", name, (int)id,
                (long long)t->dims[0]);
    *row = (const float *)t->data + (int64_t)id * t->dims[1];
    return EI_STATUS_OK;
}

static ei_status eln_run(op_ctx *ctx)
{
    const ei_tensor *ids = ctx->in[0];
    int64_t B = ids->dims[0], S = ids->dims[1], h = ctx->in[2]->dims[1];
    const int32_t *word = ids->data, *seg = has_in(ctx, 1) ? ctx->in[1]->data : NULL;
    const int32_t *mask = has_in(ctx, 7) ? ctx->in[7]->data : NULL, *pos = has_in(ctx, 8) ? ctx->in[8]->data : NULL;
    bool pos_shared = pos && ctx->in[8]->dims[0] == 1;
    const float *gamma = ctx->in[5]->data, *beta = ctx->in[6]->data;
    float *y = ctx->out[0]->data, *sum = out_f32(ctx, 2), m;
    float eps = attr_float(ctx->n, "epsilon", 1e-12f);
    for (int64_t i = 0; i < B * S; i++) {
        const float *w, *p, *g = NULL;
        TRY(table_row(ctx, 2, "input id", word[i], &w));
        TRY(table_row(ctx, 3, "position", pos ? pos[pos_shared ? i % S : i] : (int32_t)(i % S), &p));
        if (seg) TRY(table_row(ctx, 4, "segment id", seg[i], &g));
        float *row = sum ? sum + i * h : y + i * h;
        norm_row((size_t)h, w, p, g, gamma, beta, false, eps, y + i * h, row, &m);
    }
    if (has_out(ctx, 1)) {
        int32_t *mi = ctx->out[1]->data;
        for (int64_t b = 0; b < B; b++) {
            int32_t n = 0;
            for (int64_t j = 0; mask && j < S; j++) n += mask[b * S + j] == 1;
            mi[b] = n;
        }
    }
    return EI_STATUS_OK;
}

/* ================= RotaryEmbedding ================= */

void rope_head(size_t half, bool interleaved, const float *cos, const float *sin, const float *x, float *y)
{
    for (size_t i = 0; i < half; i++) {
        size_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
        float a = x[i1], b = x[i2];
        y[i1] = a * cos[i] - b * sin[i];
        y[i2] = b * cos[i] + a * sin[i];
    }
}

/* input [B, S, N*H] or [B, N, S, H], position_ids int64 [1] (a start) or [B, S], cos and sin caches
 * [max_position, rotary_dim / 2]; values past rotary_dim are copied. */
typedef struct rope_geo {
    int64_t B, S, N, H, rot;
    bool bnsh;
} rope_geo;

static ei_status rope_geometry(op_ctx *ctx, rope_geo *g)
{
    const ei_tensor *x = ctx->in[0], *pos = ctx->in[1], *cs = ctx->in[2];
    int64_t nh = attr_int(ctx->n, "num_heads", 0), rd = attr_int(ctx->n, "rotary_embedding_dim", 0);
    CHECK_SUPPORTED(ctx, attr_int(ctx->n, "is_packed_batching", 0) == 0, "is_packed_batching = 1 is not supported");
    CHECK_SHAPE(ctx, x->rank == 3 || x->rank == 4, "input has shape %s, expected 3 or 4 dims", shape_str(x));
    CHECK_SHAPE(ctx, cs->rank == 2, "input cos_cache has shape %s, expected 2 dims", shape_str(cs));
    TRY(check_dims(ctx, 3, "sin_cache", 2, cs->dims));
    CHECK(ctx, nh >= 0 && rd >= 0 && (rd == 0 || nh > 0), "rotary_embedding_dim = %lld needs num_heads (%lld)",
          (long long)rd, (long long)nh);
    g->bnsh = x->rank == 4;
    g->B = x->dims[0];
    g->S = x->dims[g->bnsh ? 2 : 1];
    if (g->bnsh) g->N = x->dims[1], g->H = x->dims[3];
    else {
        int64_t hidden = x->dims[2];
        g->H = nh ? hidden / nh : 2 * cs->dims[1];
        CHECK_SHAPE(ctx, g->H > 0 && hidden % g->H == 0, "input %s: hidden size is not a multiple of head size %lld",
                    shape_str(x), (long long)g->H);
        g->N = hidden / g->H;
    }
    g->rot = rd ? rd : g->H;
    CHECK_SHAPE(ctx, g->rot <= g->H && g->rot == 2 * cs->dims[1], "cos_cache %s does not fit rotary dim %lld, head "
                "size %lld", shape_str(cs), (long long)g->rot, (long long)g->H);
    CHECK(ctx, pos->dtype == EI_DTYPE_INT64, "input position_ids has dtype %s, expected int64",
          ei_dtype_name(pos->dtype));
    int64_t one = 1, bs[2] = {g->B, g->S};
    return pos->rank == 1 ? check_dims(ctx, 1, "position_ids", 1, &one) : check_dims(ctx, 1, "position_ids", 2, bs);
}

static ei_status rope_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 4, 4, 4));
    TRY(check_f32(ctx, 0, 1));
    TRY(check_f32(ctx, 2, 4));
    rope_geo g;
    TRY(rope_geometry(ctx, &g));
    return set_output(ctx, 0, EI_DTYPE_FLOAT32, ctx->in[0]->rank, ctx->in[0]->dims);
}

static ei_status rope_run(op_ctx *ctx)
{
    rope_geo g;
    TRY(rope_geometry(ctx, &g));
    const float *x = ctx->in[0]->data, *cosc = ctx->in[2]->data, *sinc = ctx->in[3]->data;
    const int64_t *pos = ctx->in[1]->data;
    bool one = ctx->in[1]->rank == 1, il = attr_int(ctx->n, "interleaved", 0) != 0;
    int64_t half = g.rot / 2, maxpos = ctx->in[2]->dims[0];
    float *y = ctx->out[0]->data;
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t s = 0; s < g.S; s++) {
            int64_t p = one ? pos[0] + s : pos[b * g.S + s];
            CHECK_SHAPE(ctx, p >= 0 && p < maxpos, "position %lld is outside the cos/sin caches of %lld rows",
                        (long long)p, (long long)maxpos);
            for (int64_t n = 0; n < g.N; n++) {
                int64_t o = g.bnsh ? ((b * g.N + n) * g.S + s) * g.H : ((b * g.S + s) * g.N + n) * g.H;
                memmove(y + o + g.rot, x + o + g.rot, (size_t)(g.H - g.rot) * sizeof(float));
                rope_head((size_t)half, il, cosc + p * half, sinc + p * half, x + o, y + o);
            }
        }
    return EI_STATUS_OK;
}

/* ================= FusedMatMul ================= */
/* Y = alpha * A' B' with numpy batching, A' and B' transposed on their last two dims when asked. */

static void swap_last(ei_tensor *t, bool on)
{
    if (!on || t->rank < 2) return;
    int64_t d = t->dims[t->rank - 1];
    t->dims[t->rank - 1] = t->dims[t->rank - 2];
    t->dims[t->rank - 2] = d;
}

static ei_status fmm_plan(op_ctx *ctx, mm_shape *p, bool *ta, bool *tb)
{
    CHECK_SUPPORTED(ctx, !attr_int(ctx->n, "transBatchA", 0) && !attr_int(ctx->n, "transBatchB", 0),
                    "transBatchA and transBatchB are not supported");
    ei_tensor a = *ctx->in[0], b = *ctx->in[1];
    *ta = attr_int(ctx->n, "transA", 0) && a.rank >= 2;
    *tb = attr_int(ctx->n, "transB", 0) && b.rank >= 2;
    swap_last(&a, *ta);
    swap_last(&b, *tb);
    return mm_shape_plan(ctx, &a, &b, p);
}

static ei_status fmm_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2, 2));
    TRY(check_f32(ctx, 0, 2));
    mm_shape p;
    bool ta, tb;
    TRY(fmm_plan(ctx, &p, &ta, &tb));
    TRY(set_output(ctx, 0, EI_DTYPE_FLOAT32, p.out_rank, p.out_dims));
    return scratch_floats(ctx, f32_gemm_work_size((size_t)p.M, (size_t)p.N, (size_t)p.K));
}

static ei_status fmm_run(op_ctx *ctx)
{
    mm_shape p;
    bool ta, tb;
    TRY(fmm_plan(ctx, &p, &ta, &tb));
    const float *a = ctx->in[0]->data, *b = ctx->in[1]->data;
    float *y = ctx->out[0]->data, alpha = attr_float(ctx->n, "alpha", 1.0f);
    ptrdiff_t a_rs = ta ? 1 : (ptrdiff_t)p.K, a_cs = ta ? (ptrdiff_t)p.M : 1;
    ptrdiff_t b_rs = tb ? 1 : (ptrdiff_t)p.N, b_cs = tb ? (ptrdiff_t)p.K : 1;
    int64_t idx[EI_MAX_DIMS] = {0}, mn = p.M * p.N;
    for (int64_t bi = 0; bi < p.nbatch && mn > 0; bi++) {
        int64_t ao = 0, bo = 0;
        for (int d = 0; d < p.batch_rank; d++) ao += idx[d] * p.a_bs[d], bo += idx[d] * p.b_bs[d];
        float *yo = y + bi * mn;
        f32_gemm_simd128((size_t)p.M, (size_t)p.N, (size_t)p.K, a + ao, a_rs, a_cs, b + bo, b_rs, b_cs, yo,
                         (ptrdiff_t)p.N, 1, 0, ctx->scratch);
        if (alpha != 1.0f) f32_vaffine_simd128((size_t)mn, yo, alpha, 0.0f, yo);
        for (int d = p.batch_rank - 1; d >= 0 && ++idx[d] == p.batch[d]; d--) idx[d] = 0;
    }
    return EI_STATUS_OK;
}

/* ================= FusedConv ================= */
/* Y = activation(Conv(X, W, B) + Z): Conv's own row does the convolution. */

static ei_status fconv_act(op_ctx *ctx, fused_act *a)
{
    static const char *names[] = {"Relu", "Tanh", "Sigmoid", "LeakyRelu", "Clip", "HardSigmoid"};
    static const unsigned char ops[] = {F32_VRELU, F32_VTANH, F32_VSIGMOID, F32_VLEAKYRELU, F32_VCLIP,
                                        F32_VHARDSIGMOID};
    const char *s = attr_str(ctx->n, "activation", "");
    const float *p;
    int np = attr_floats(ctx->n, "activation_params", &p);
    np = np < 0 ? 0 : np;
    memset(a, 0, sizeof *a);
    if (!*s || !strcmp(s, "Identity")) return EI_STATUS_OK;
    int k = 0;
    while (k < 6 && strcmp(s, names[k])) k++;
    CHECK_SUPPORTED(ctx, k < 6, "activation '%s' is not supported", s);
    static const signed char need[] = {0, 0, 0, 0, 2, 0};
    CHECK(ctx, np >= need[k], "activation %s needs %d activation_params, got %d", s, need[k], np);
    a->on = true;
    a->op = ops[k];
    a->alpha = np > 0 ? p[0] : k == 3 ? 0.01f : 0.2f;
    a->beta = np > 1 ? p[1] : 0.5f;
    a->lo = np > 0 ? p[0] : 0.0f;
    a->hi = np > 1 ? p[1] : 0.0f;
    return EI_STATUS_OK;
}

static const op_def *conv_def(void) { return op_lookup("Conv", "", 11); }

/* Calls Conv's fn on this node seen as a plain Conv (inputs X, W, B; no fused activation). */
static ei_status fconv_call(op_ctx *ctx, op_fn fn)
{
    if (!fn) return EI_STATUS_OK;
    node nd = *ctx->n;
    nd.act.on = false;
    const node *orig = ctx->n;
    int n_in = ctx->n_in;
    ctx->n = &nd;
    ctx->n_in = n_in > 3 ? 3 : n_in;
    ei_status st = fn(ctx);
    ctx->n = orig;
    ctx->n_in = n_in;
    return st;
}

static ei_status fconv_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 4, 2));
    fused_act a;
    TRY(fconv_act(ctx, &a));
    TRY(fconv_call(ctx, conv_def()->infer));
    if (has_in(ctx, 3)) {
        const ei_tensor *z = ctx->in[3], *y = ctx->out[0];
        bool same = z->dtype == EI_DTYPE_FLOAT32 && z->rank == y->rank;
        for (int d = 0; same && d < y->rank; d++) same = z->dims[d] == y->dims[d];
        CHECK_SHAPE(ctx, same, "input Z (%s %s) must be float32 of the output's shape %s", ei_dtype_name(z->dtype),
                    shape_str(z), shape_str(y));
    }
    return EI_STATUS_OK;
}

static ei_status fconv_prepare(op_ctx *ctx) { return fconv_call(ctx, conv_def()->prepare); }

static ei_status fconv_run(op_ctx *ctx)
{
    TRY(fconv_call(ctx, conv_def()->run));
    fused_act a;
    TRY(fconv_act(ctx, &a));
    float *y = ctx->out[0]->data;
    size_t n = (size_t)numel(ctx->out[0]);
    if (has_in(ctx, 3)) f32_vbinary_select(F32_VADD).v(y, ctx->in[3]->data, y, n);
    f32_vunary_params p = {.alpha = a.alpha, .beta = a.beta, .lo = a.lo, .hi = a.hi};
    if (a.on && n) f32_vunary_select((f32_vunary_op)a.op)(y, y, n, &p);
    return EI_STATUS_OK;
}

#define MS "com.microsoft"
const op_def contrib_ops[] = {
    {"Gelu", MS, 1, act_infer, NULL, act_run, OP_INPLACE},
    {"FastGelu", MS, 1, act_infer, NULL, act_run, OP_INPLACE},
    {"BiasGelu", MS, 1, act_infer, NULL, act_run, OP_INPLACE},
    {"QuickGelu", MS, 1, act_infer, NULL, act_run, OP_INPLACE},
    {"BiasAdd", MS, 1, act_infer, NULL, act_run, OP_INPLACE},
    {"SkipLayerNormalization", MS, 1, skipln_infer, NULL, skipln_run, OP_INPLACE},
    {"SkipSimplifiedLayerNormalization", MS, 1, skipln_infer, NULL, skipln_run, OP_INPLACE},
    /* onnxruntime registers it in the default domain; exporters write both */
    {"SimplifiedLayerNormalization", "", 1, sln_infer, NULL, sln_run, OP_INPLACE},
    {"SimplifiedLayerNormalization", MS, 1, sln_infer, NULL, sln_run, OP_INPLACE},
    {"EmbedLayerNormalization", MS, 1, eln_infer, NULL, eln_run, 0},
    {"RotaryEmbedding", MS, 1, rope_infer, NULL, rope_run, OP_INPLACE},
    {"FusedMatMul", MS, 1, fmm_infer, NULL, fmm_run, 0},
    {"FusedConv", MS, 1, fconv_infer, fconv_prepare, fconv_run, 0},
};
const int contrib_ops_count = (int)(sizeof contrib_ops / sizeof contrib_ops[0]);
