/*
 * The attention ops of the com.microsoft domain, with onnxruntime's semantics: Attention
 * (input times packed Q/K/V weights), MultiHeadAttention (separate or packed Q/K/V, optional
 * projection bias, past key/value) and GroupQueryAttention (fewer K/V heads than Q heads, a KV
 * cache with a length per batch entry, optional rotary embedding).
 *
 * Each op brings its inputs to one form: Q as [B, N, S, D], K and V as [B, Nkv, T, D] buffers
 * (the present outputs when the graph wants them: the past rows, then the new ones), and one
 * scaled-dot-product routine, sdpa, runs every (batch, head): scores = scale * Q K^T
 * (+ mask + attention_bias), a softmax over each row's window, times V, into Y [B, S, N * Dv].
 *
 * Masks follow onnxruntime's CPU kernels. Attention and MultiHeadAttention add
 * mask_filter_value (-10000) to masked scores: key padding as 0/1 [B, T] or [B, S, T], or key
 * end (and start) positions [B] ([2B]); unidirectional masks the keys after the query's own
 * position. GroupQueryAttention gives query row s of batch entry b the keys up to its position
 * (past_b + s, past_b = seqlens_k[b] + 1 - S) and exactly zero weight past them.
 */
#include <stdint.h>

#include "../kernels/f32_gemm.h"
#include "../kernels/f32_norm.h"
#include "../kernels/f32_softmax.h"
#include "../kernels/f32_vbinary.h"
#include "contrib.h"

enum { M_NONE, M_END, M_END_START, M_RAW2, M_RAW3 };

typedef struct attn {
    int64_t B, S, T, N, Nkv, D, Dv; /* T: rows of the K and V buffers */
    float scale, filter;
    bool causal;
    int64_t past;                   /* Attention, MultiHeadAttention: rows before the new ones */
    int mask_kind;
    const int32_t *mask;
    const float *abias;             /* attention_bias [B|1, N|1, S, T] */
    int64_t ab_bs, ab_hs;           /* its batch and head strides, 0 where broadcast */
    const int32_t *seqlens;         /* GroupQueryAttention: seqlens_k [B] */
    bool prompt;                    /* GroupQueryAttention: S == total_sequence_length */
    int64_t window;                 /* local_window_size, -1 for none */
    const float *cos, *sin;         /* rotary caches [max_position, half] when do_rotary */
    int64_t half, maxpos;
    bool interleaved;
} attn;

/* Where a source's row l of head h of batch b starts: p + b*bs + l*ls + h*hs, plus bias + h*D. */
typedef struct attn_src {
    const float *p;
    int64_t bs, ls, hs;
    const float *bias;
} attn_src;

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static uint64_t round16(uint64_t n) { return n > UINT64_MAX - 15 ? UINT64_MAX : (n + 15) / 16 * 16; }

/* Rows before the new ones in batch entry b. */
static int64_t attn_past(const attn *a, int64_t b)
{
    if (!a->seqlens) return a->past;
    return a->prompt ? 0 : (int64_t)a->seqlens[b] + 1 - a->S;
}

/* ---- the shared core ---- */

static size_t sdpa_work(const attn *a)
{
    size_t w1 = f32_gemm_work_size((size_t)a->S, (size_t)a->T, (size_t)a->D);
    size_t w2 = f32_gemm_work_size((size_t)a->S, (size_t)a->Dv, (size_t)a->T);
    return (size_t)round16(w1 > w2 ? w1 : w2);
}

/* Floats of scratch sdpa needs: GEMM work, then an additive mask and the scores, [S, T] each. */
static uint64_t sdpa_scratch(const attn *a)
{
    uint64_t st = size_mul3(a->S, a->T, 2);
    if (st > (uint64_t)EI_MAX_TENSOR_BYTES) return UINT64_MAX;
    return round16(sat_add(sdpa_work(a), st));
}

/* The additive mask of batch entry b, [S, T]: 0 or mask_filter_value. */
static void build_mask(const attn *a, int64_t b, float *m)
{
    const int32_t *mk = a->mask;
    for (int64_t s = 0; s < a->S; s++)
        for (int64_t t = 0; t < a->T; t++) {
            bool off = false;
            switch (a->mask_kind) {
            case M_END: off = t >= mk[b]; break;
            case M_END_START: off = t >= mk[b] || t < mk[a->B + b]; break;
            case M_RAW2: off = mk[b * a->T + t] <= 0; break;
            case M_RAW3: off = mk[(b * a->S + s) * a->T + t] <= 0; break;
            }
            if (a->causal && t > a->past + s) off = true;
            m[s * a->T + t] = off ? a->filter : 0.0f;
        }
}

/* Keys [lo, hi) that GroupQueryAttention's query row s of batch entry b sees. */
static void gqa_window(const attn *a, int64_t b, int64_t s, size_t *lo, size_t *hi)
{
    int64_t len = a->causal ? attn_past(a, b) + s + 1 : (int64_t)a->seqlens[b] + 1;
    if (len > a->T) len = a->T;
    *hi = (size_t)len;
    *lo = a->window > 0 && len > a->window ? (size_t)(len - a->window) : 0;
}

/* Y[b, s, h*Dv + :] = softmax(scale * Q K^T + mask + bias) V for every batch entry and head;
 * q [B, N, S, D], k [B, Nkv, T, D], v [B, Nkv, T, Dv]. */
static void sdpa(const attn *a, const float *q, const float *k, const float *v, float *y, float *scratch)
{
    size_t S = (size_t)a->S, T = (size_t)a->T, D = (size_t)a->D, Dv = (size_t)a->Dv;
    float *work = scratch, *mask = work + sdpa_work(a), *sc = mask + S * T;
    f32_vbinary_fn add = f32_vbinary_select(F32_VADD).v;
    int64_t group = a->N / a->Nkv, ys = a->N * a->Dv;
    if (T == 0) memset(y, 0, (size_t)(a->B * a->S * ys) * sizeof(float));
    for (int64_t b = 0; b < a->B && T > 0; b++) {
        if (!a->seqlens) build_mask(a, b, mask);
        for (int64_t h = 0; h < a->N; h++) {
            int64_t kh = b * a->Nkv + h / group;
            f32_gemm_simd128(S, T, D, q + (b * a->N + h) * a->S * a->D, (ptrdiff_t)D, 1, k + kh * a->T * a->D, 1,
                             (ptrdiff_t)D, sc, (ptrdiff_t)T, 1, 0, work);
            for (size_t s = 0; s < S; s++) {
                float *row = sc + s * T;
                size_t lo = 0, hi = T;
                if (a->seqlens) gqa_window(a, b, (int64_t)s, &lo, &hi);
                f32_vaffine_simd128(hi - lo, row + lo, a->scale, 0.0f, row + lo);
                if (!a->seqlens) add(row, mask + s * T, row, T);
                if (a->abias) add(row, a->abias + b * a->ab_bs + h * a->ab_hs + (int64_t)(s * T), row, T);
                f32_softmax_row_simd128(hi - lo, row + lo, row + lo);
                memset(row, 0, lo * sizeof(float));
                memset(row + hi, 0, (T - hi) * sizeof(float));
            }
            f32_gemm_simd128(S, Dv, T, sc, (ptrdiff_t)T, 1, v + kh * a->T * a->Dv, (ptrdiff_t)Dv, 1,
                             y + b * a->S * ys + h * a->Dv, (ptrdiff_t)ys, 1, 0, work);
        }
    }
}

/* dst [B, nh, rows, d]: for K and V (is_q false) the batch entry's past rows from past [B, nh, pbuf, d],
 * then the L new rows from src (+ bias), then zeros; for Q (is_q true) the L rows of src. With rotary
 * caches, Q and K rows turn by their positions past_b + l. */
static void fill_heads(const attn *a, float *dst, int64_t nh, int64_t d, int64_t rows, const float *past, int64_t pbuf,
                       attn_src src, int64_t L, bool is_q, bool rotate)
{
    f32_vbinary_fn add = f32_vbinary_select(F32_VADD).v;
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < nh; h++) {
            float *o = dst + (b * nh + h) * rows * d;
            int64_t p = attn_past(a, b), base = is_q ? 0 : p;
            if (!is_q && p > 0) memcpy(o, past + (b * nh + h) * pbuf * d, (size_t)(p * d) * sizeof(float));
            for (int64_t l = 0; l < L; l++) {
                float *row = o + (base + l) * d;
                const float *s = src.p + b * src.bs + l * src.ls + h * src.hs;
                if (src.bias) add(s, src.bias + h * d, row, (size_t)d);
                else memcpy(row, s, (size_t)d * sizeof(float));
                if (rotate && a->cos)
                    rope_head((size_t)a->half, a->interleaved, a->cos + (p + l) * a->half, a->sin + (p + l) * a->half,
                              row, row);
            }
            memset(o + (base + L) * d, 0, (size_t)((rows - base - L) * d) * sizeof(float));
        }
}

/* ---- geometry shared by the ops ---- */

/* num_heads, head sizes, scale, mask_filter_value, unidirectional. */
static ei_status heads(op_ctx *ctx, attn *a, int64_t hq, int64_t hv)
{
    int64_t n = attr_int(ctx->n, "num_heads", 0);
    CHECK(ctx, n > 0, "attribute num_heads = %lld, expected a positive count", (long long)n);
    CHECK_SHAPE(ctx, hq > 0 && hv > 0 && hq % n == 0 && hv % n == 0,
                "hidden sizes %lld (Q, K) and %lld (V) are not positive multiples of num_heads = %lld", (long long)hq,
                (long long)hv, (long long)n);
    a->N = a->Nkv = n;
    a->D = hq / n;
    a->Dv = hv / n;
    float sc = attr_float(ctx->n, "scale", 0.0f);
    a->scale = sc != 0.0f ? sc : 1.0f / sqrtf((float)a->D);
    a->filter = attr_float(ctx->n, "mask_filter_value", -10000.0f);
    a->causal = attr_int(ctx->n, "unidirectional", 0) != 0;
    a->window = -1;
    return EI_STATUS_OK;
}

/* mask (int32) at input i and attention_bias at input j. */
static ei_status masks(op_ctx *ctx, attn *a, int i, int j)
{
    a->mask_kind = M_NONE;
    if (has_in(ctx, i)) {
        const ei_tensor *m = ctx->in[i];
        CHECK(ctx, m->dtype == EI_DTYPE_INT32, "mask input %d has dtype %s, expected int32", i,
              ei_dtype_name(m->dtype));
        const int64_t *d = m->dims;
        a->mask_kind = m->rank == 1 && d[0] == a->B       ? M_END
                       : m->rank == 1 && d[0] == 2 * a->B ? M_END_START
                       : m->rank == 2 && d[0] == a->B && d[1] == a->T ? M_RAW2
                       : m->rank == 3 && d[0] == a->B && d[1] == a->S && d[2] == a->T ? M_RAW3 : -1;
        CHECK_SUPPORTED(ctx, a->mask_kind >= 0, "mask input %d has shape %s; supported: [B], [2B], [B, T], [B, S, T] "
                        "for B = %lld, S = %lld, T = %lld", i, shape_str(m), (long long)a->B, (long long)a->S,
                        (long long)a->T);
        /* onnxruntime's kernel masks a [B, S, T] mask's rows otherwise when unidirectional: not matched */
        CHECK_SUPPORTED(ctx, a->mask_kind != M_RAW3 || !a->causal, "a [B, S, T] mask with unidirectional = 1 is not "
                        "supported");
        a->mask = m->data;
    }
    a->abias = NULL;
    if (has_in(ctx, j)) {
        const ei_tensor *t = ctx->in[j];
        TRY(check_f32(ctx, j, j + 1));
        int64_t want[4] = {t->dims[0] == 1 ? 1 : a->B, t->dims[1] == 1 ? 1 : a->N, a->S, a->T};
        TRY(check_dims(ctx, j, "attention_bias", 4, want));
        a->abias = t->data;
        a->ab_hs = t->dims[1] == 1 ? 0 : a->S * a->T;
        a->ab_bs = t->dims[0] == 1 ? 0 : t->dims[1] * a->S * a->T;
    }
    return EI_STATUS_OK;
}

/* Scratch floats: the Q buffer, K and V buffers unless the present outputs hold them, extra, sdpa's. */
static ei_status attn_scratch(op_ctx *ctx, const attn *a, bool k_out, bool v_out, uint64_t extra)
{
    uint64_t f = round16(size_mul3(a->B * a->N, a->S, a->D));
    if (!k_out) f = sat_add(f, round16(size_mul3(a->B * a->Nkv, a->T, a->D)));
    if (!v_out) f = sat_add(f, round16(size_mul3(a->B * a->Nkv, a->T, a->Dv)));
    return scratch_floats(ctx, sat_add(sat_add(f, extra), sdpa_scratch(a)));
}

/* Carves the Q, K, V buffers from scratch (K and V from the outputs when given); returns sdpa's scratch. */
static float *attn_buffers(op_ctx *ctx, const attn *a, float **q, float **k, float **v, float *k_out, float *v_out)
{
    float *s = ctx->scratch;
    *q = s;
    s += round16(size_mul3(a->B * a->N, a->S, a->D));
    *k = k_out ? k_out : s;
    if (!k_out) s += round16(size_mul3(a->B * a->Nkv, a->T, a->D));
    *v = v_out ? v_out : s;
    if (!v_out) s += round16(size_mul3(a->B * a->Nkv, a->T, a->Dv));
    return s;
}

/* ================= Attention ================= */
/* input [B, S, Hin], weights [Hin, Hq + Hk + Hv], bias?, mask_index?, past? [2, B, N, P, D],
 * attention_bias?; outputs output [B, S, Hv], present? [2, B, N, P + S, D]. */

static ei_status att_geometry(op_ctx *ctx, attn *a, int64_t *hs)
{
    memset(a, 0, sizeof *a);
    CHECK_SUPPORTED(ctx, !attr_int(ctx->n, "do_rotary", 0) && !attr_int(ctx->n, "past_present_share_buffer", 0) &&
                    !has_in(ctx, 6), "do_rotary, past_present_share_buffer and past_sequence_length are not supported");
    const ei_tensor *x = ctx->in[0], *w = ctx->in[1];
    CHECK_SHAPE(ctx, x->rank == 3, "input has shape %s, expected [batch, sequence, hidden]", shape_str(x));
    CHECK_SHAPE(ctx, w->rank == 2 && w->dims[0] == x->dims[2], "weights has shape %s, expected [%lld, Q+K+V hidden]",
                shape_str(w), (long long)x->dims[2]);
    const int64_t *qkv;
    int n = attr_ints(ctx->n, "qkv_hidden_sizes", &qkv);
    CHECK(ctx, n < 0 || n == 3, "attribute qkv_hidden_sizes has %d values, expected 3", n);
    for (int i = 0; i < 3; i++) hs[i] = n < 0 ? w->dims[1] / 3 : qkv[i];
    CHECK_SHAPE(ctx, hs[0] == hs[1] && hs[0] >= 0 && hs[2] >= 0 && hs[0] <= w->dims[1] &&
                hs[2] == w->dims[1] - 2 * hs[0], "weights %s do not hold Q, K, V hidden sizes %lld, %lld, %lld",
                shape_str(w), (long long)hs[0], (long long)hs[1], (long long)hs[2]);
    TRY(heads(ctx, a, hs[0], hs[2]));
    if (has_in(ctx, 2)) TRY(check_dims(ctx, 2, "bias", 1, &w->dims[1]));
    a->B = x->dims[0];
    a->S = x->dims[1];
    a->past = 0;
    if (has_in(ctx, 4)) {
        const ei_tensor *p = ctx->in[4];
        CHECK_SHAPE(ctx, a->D == a->Dv && p->rank == 5, "input past has shape %s, expected [2, B, N, P, head size] "
                    "with Q, K and V of one hidden size", shape_str(p));
        a->past = p->dims[3];
        int64_t want[5] = {2, a->B, a->N, a->past, a->D};
        TRY(check_dims(ctx, 4, "past", 5, want));
    }
    a->T = a->past + a->S;
    return masks(ctx, a, 3, 5);
}

static ei_status att_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 7, 2));
    TRY(check_f32(ctx, 0, 3));
    TRY(check_f32(ctx, 4, 6));
    attn a;
    int64_t hs[3];
    TRY(att_geometry(ctx, &a, hs));
    int64_t dims[5] = {a.B, a.S, hs[2]}, pd[5] = {2, a.B, a.N, a.T, a.D};
    TRY(set_output(ctx, 0, EI_DTYPE_FLOAT32, 3, dims));
    TRY(set_output(ctx, 1, EI_DTYPE_FLOAT32, 5, pd));
    const ei_tensor *w = ctx->in[1];
    uint64_t proj = round16(size_mul3(a.B * a.S, w->dims[1], 1));
    size_t work = f32_gemm_work_size((size_t)(a.B * a.S), (size_t)w->dims[1], (size_t)w->dims[0]);
    bool present = has_out(ctx, 1);
    return attn_scratch(ctx, &a, present, present, sat_add(proj, round16(work)));
}

static ei_status att_run(op_ctx *ctx)
{
    attn a;
    int64_t hs[3];
    TRY(att_geometry(ctx, &a, hs));
    const ei_tensor *x = ctx->in[0], *w = ctx->in[1];
    int64_t ht = w->dims[1], rows = a.B * a.S;
    float *pres = has_out(ctx, 1) ? ctx->out[1]->data : NULL, *q, *k, *v;
    float *rest = attn_buffers(ctx, &a, &q, &k, &v, pres, pres ? pres + a.B * a.N * a.T * a.D : NULL);
    float *proj = rest + sdpa_scratch(&a), *work = proj + round16((uint64_t)(rows * ht));
    f32_gemm_simd128((size_t)rows, (size_t)ht, (size_t)w->dims[0], x->data, (ptrdiff_t)x->dims[2], 1, w->data,
                     (ptrdiff_t)ht, 1, proj, (ptrdiff_t)ht, 1, 0, work);
    const float *bias = has_in(ctx, 2) ? ctx->in[2]->data : NULL, *past = has_in(ctx, 4) ? ctx->in[4]->data : NULL;
    int64_t pv = a.B * a.N * a.past * a.D;
    for (int i = 0; i < 3; i++) {
        int64_t off = i * hs[0], d = i == 2 ? a.Dv : a.D;
        attn_src src = {proj + off, a.S * ht, ht, d, bias ? bias + off : NULL};
        float *dst = i == 0 ? q : i == 1 ? k : v;
        fill_heads(&a, dst, a.N, d, i ? a.T : a.S, past ? past + (i == 2) * pv : NULL, a.past, src, a.S, i == 0, false);
    }
    sdpa(&a, q, k, v, ctx->out[0]->data, rest);
    return EI_STATUS_OK;
}

/* ================= MultiHeadAttention ================= */
/* query [B, S, Hq] with key [B, L, Hq] and value [B, L, Hv] (or both [B, N, L, head size]), or
 * packed [B, S, N, 3, D] alone; bias? [Hq + Hq + Hv], key_padding_mask?, attention_bias?,
 * past_key?, past_value? [B, N, P, D]; outputs output [B, S, Hv], present_key?, present_value?. */

typedef struct mha_form {
    attn_src src[3];
    int64_t L;
} mha_form;

static ei_status mha_geometry(op_ctx *ctx, attn *a, mha_form *f)
{
    memset(a, 0, sizeof *a);
    CHECK_SUPPORTED(ctx, !has_in(ctx, 8) && !has_in(ctx, 9) && !has_out(ctx, 3),
                    "past_sequence_length, cache_indirection and the qk output are not supported");
    const ei_tensor *q = ctx->in[0], *k = has_in(ctx, 1) ? ctx->in[1] : NULL, *v = has_in(ctx, 2) ? ctx->in[2] : NULL;
    const float *bias = has_in(ctx, 3) ? ctx->in[3]->data : NULL;
    int64_t nh = attr_int(ctx->n, "num_heads", 0);
    a->B = q->dims[0];
    a->S = q->rank >= 2 ? q->dims[1] : 0;
    if (q->rank == 5) {
        CHECK_SUPPORTED(ctx, !k && !v && q->dims[2] == nh && q->dims[3] == 3, "query %s must be packed QKV [B, S, "
                        "num_heads = %lld, 3, head size], without key and value", shape_str(q), (long long)nh);
        int64_t d = q->dims[4];
        TRY(heads(ctx, a, nh * d, nh * d));
        for (int i = 0; i < 3; i++)
            f->src[i] = (attn_src){(const float *)q->data + i * d, a->S * nh * 3 * d, nh * 3 * d, 3 * d,
                                   bias ? bias + i * nh * d : NULL};
        f->L = a->S;
    } else {
        CHECK_SHAPE(ctx, q->rank == 3 && k && v && k->rank == v->rank && (k->rank == 3 || k->rank == 4),
                    "query %s needs key and value of 3 or 4 dims (packed forms other than [B, S, N, 3, D] are not "
                    "supported)", shape_str(q));
        bool bnsh = k->rank == 4;
        int64_t hv = bnsh ? nh * v->dims[3] : v->dims[2];
        TRY(heads(ctx, a, q->dims[2], hv));
        f->L = k->dims[bnsh ? 2 : 1];
        int64_t kd[4] = {a->B, f->L, q->dims[2]}, vd[4] = {a->B, f->L, hv};
        if (bnsh) {
            CHECK_SUPPORTED(ctx, !bias && !has_in(ctx, 6), "bias and past_key need key and value of 3 dims");
            int64_t kb[4] = {a->B, a->N, f->L, a->D}, vb[4] = {a->B, a->N, f->L, a->Dv};
            memcpy(kd, kb, sizeof kd);
            memcpy(vd, vb, sizeof vd);
        }
        TRY(check_dims(ctx, 1, "key", k->rank, kd));
        TRY(check_dims(ctx, 2, "value", v->rank, vd));
        f->src[0] = (attn_src){q->data, a->S * q->dims[2], q->dims[2], a->D, bias};
        for (int i = 1; i < 3; i++) {
            const ei_tensor *t = i == 1 ? k : v;
            int64_t d = i == 1 ? a->D : a->Dv;
            f->src[i] = bnsh ? (attn_src){t->data, a->N * f->L * d, d, f->L * d, NULL}
                             : (attn_src){t->data, f->L * t->dims[2], t->dims[2], d, bias ? bias + i * q->dims[2] : NULL};
        }
    }
    if (bias) TRY(check_dims(ctx, 3, "bias", 1, (int64_t[]){a->N * (2 * a->D + a->Dv)}));
    CHECK(ctx, has_in(ctx, 6) == has_in(ctx, 7), "inputs past_key and past_value go together");
    a->past = has_in(ctx, 6) ? ctx->in[6]->dims[2] : 0;
    if (has_in(ctx, 6)) {
        int64_t pk[4] = {a->B, a->N, a->past, a->D}, pv[4] = {a->B, a->N, a->past, a->Dv};
        TRY(check_dims(ctx, 6, "past_key", 4, pk));
        TRY(check_dims(ctx, 7, "past_value", 4, pv));
    }
    a->T = a->past + f->L;
    return masks(ctx, a, 4, 5);
}

static ei_status mha_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 10, 1));
    TRY(check_f32(ctx, 0, 4));
    TRY(check_f32(ctx, 5, 8));
    CHECK_SHAPE(ctx, ctx->in[0]->rank >= 1, "query is a scalar");
    attn a;
    mha_form f;
    TRY(mha_geometry(ctx, &a, &f));
    int64_t dims[3] = {a.B, a.S, a.N * a.Dv}, pk[4] = {a.B, a.N, a.T, a.D}, pv[4] = {a.B, a.N, a.T, a.Dv};
    TRY(set_output(ctx, 0, EI_DTYPE_FLOAT32, 3, dims));
    TRY(set_output(ctx, 1, EI_DTYPE_FLOAT32, 4, pk));
    TRY(set_output(ctx, 2, EI_DTYPE_FLOAT32, 4, pv));
    return attn_scratch(ctx, &a, has_out(ctx, 1), has_out(ctx, 2), 0);
}

static ei_status mha_run(op_ctx *ctx)
{
    attn a;
    mha_form f;
    TRY(mha_geometry(ctx, &a, &f));
    float *q, *k, *v;
    float *rest = attn_buffers(ctx, &a, &q, &k, &v, has_out(ctx, 1) ? ctx->out[1]->data : NULL,
                               has_out(ctx, 2) ? ctx->out[2]->data : NULL);
    fill_heads(&a, q, a.N, a.D, a.S, NULL, 0, f.src[0], a.S, true, false);
    fill_heads(&a, k, a.N, a.D, a.T, has_in(ctx, 6) ? ctx->in[6]->data : NULL, a.past, f.src[1], f.L, false, false);
    fill_heads(&a, v, a.N, a.Dv, a.T, has_in(ctx, 7) ? ctx->in[7]->data : NULL, a.past, f.src[2], f.L, false, false);
    sdpa(&a, q, k, v, ctx->out[0]->data, rest);
    return EI_STATUS_OK;
}

/* ================= GroupQueryAttention ================= */
/* query [B, S, N*D] (or packed [B, S, (N + 2 Nkv) D] without key and value), key and value
 * [B, S, Nkv*D], past_key? past_value? [B, Nkv, P, D], seqlens_k int32 [B], total_sequence_length
 * int32 scalar, cos_cache? sin_cache? [max_position, rotary_dim / 2]; outputs output [B, S, N*D],
 * present_key? present_value? [B, Nkv, max(P, total), D]. */

static ei_status gqa_geometry(op_ctx *ctx, attn *a, attn_src *src)
{
    memset(a, 0, sizeof *a);
    for (int i = 9; i < ctx->n_in; i++)
        CHECK_SUPPORTED(ctx, !has_in(ctx, i), "input %d (position_ids, attention_bias, head_sink, quantized cache "
                        "scales ...) is not supported", i);
    CHECK_SUPPORTED(ctx, attr_float(ctx->n, "softcap", 0.0f) == 0.0f && !attr_int(ctx->n, "smooth_softmax", 0) &&
                    !attr_int(ctx->n, "qk_output", 0) && !has_out(ctx, 3), "softcap, smooth_softmax and qk_output are "
                    "not supported");
    const ei_tensor *q = ctx->in[0];
    bool packed = !has_in(ctx, 1);
    CHECK(ctx, packed == !has_in(ctx, 2), "inputs key and value go together");
    CHECK_SHAPE(ctx, q->rank == 3, "query has shape %s, expected [batch, sequence, hidden]", shape_str(q));
    int64_t n = attr_int(ctx->n, "num_heads", 0), nkv = attr_int(ctx->n, "kv_num_heads", 0);
    CHECK(ctx, n > 0 && nkv > 0 && n % nkv == 0, "attributes num_heads = %lld and kv_num_heads = %lld: expected "
          "positive counts, num_heads a multiple of kv_num_heads", (long long)n, (long long)nkv);
    int64_t units = packed ? n + 2 * nkv : n;
    CHECK_SHAPE(ctx, q->dims[2] % units == 0 && q->dims[2] > 0, "query hidden size %lld is not a positive multiple "
                "of %lld heads", (long long)q->dims[2], (long long)units);
    TRY(heads(ctx, a, q->dims[2] / units * n, q->dims[2] / units * n));
    a->Nkv = nkv;
    a->B = q->dims[0];
    a->S = q->dims[1];
    a->causal = attr_int(ctx->n, "causal", 1) != 0;
    a->window = attr_int(ctx->n, "local_window_size", -1);
    int64_t ls = q->dims[2], kvh = nkv * a->D;
    src[0] = (attn_src){q->data, a->S * ls, ls, a->D, NULL};
    if (packed) {
        src[1] = (attn_src){(const float *)q->data + n * a->D, a->S * ls, ls, a->D, NULL};
        src[2] = (attn_src){(const float *)q->data + n * a->D + kvh, a->S * ls, ls, a->D, NULL};
    } else {
        int64_t kd[3] = {a->B, a->S, kvh};
        TRY(check_dims(ctx, 1, "key", 3, kd));
        TRY(check_dims(ctx, 2, "value", 3, kd));
        for (int i = 1; i < 3; i++) src[i] = (attn_src){ctx->in[i]->data, a->S * kvh, kvh, a->D, NULL};
    }
    CHECK(ctx, has_in(ctx, 3) == has_in(ctx, 4), "inputs past_key and past_value go together");
    a->past = has_in(ctx, 3) ? ctx->in[3]->dims[2] : 0;
    if (has_in(ctx, 3)) {
        int64_t pd[4] = {a->B, nkv, a->past, a->D};
        TRY(check_dims(ctx, 3, "past_key", 4, pd));
        TRY(check_dims(ctx, 4, "past_value", 4, pd));
    }
    const ei_tensor *sl = ctx->in[5], *tot = ctx->in[6];
    CHECK(ctx, sl->dtype == EI_DTYPE_INT32 && tot->dtype == EI_DTYPE_INT32 && numel(tot) == 1,
          "seqlens_k (%s %s) and total_sequence_length (%s %s) must be int32, the latter one value",
          ei_dtype_name(sl->dtype), shape_str(sl), ei_dtype_name(tot->dtype), shape_str(tot));
    TRY(check_dims(ctx, 5, "seqlens_k", 1, &a->B));
    NEED_DATA(ctx, 6);
    int64_t total = *(const int32_t *)tot->data;
    CHECK_SHAPE(ctx, total >= a->S, "total_sequence_length = %lld is less than the sequence length %lld",
                (long long)total, (long long)a->S);
    a->T = total > a->past ? total : a->past;
    a->prompt = a->S == total;
    a->seqlens = sl->data;
    a->cos = a->sin = NULL;
    a->interleaved = attr_int(ctx->n, "rotary_interleaved", 0) != 0;
    if (attr_int(ctx->n, "do_rotary", 0)) {
        CHECK(ctx, has_in(ctx, 7) && has_in(ctx, 8), "do_rotary = 1 needs inputs cos_cache and sin_cache");
        const ei_tensor *c = ctx->in[7];
        CHECK_SHAPE(ctx, c->rank == 2 && c->dims[1] > 0 && 2 * c->dims[1] <= a->D, "cos_cache has shape %s, expected "
                    "[max_position, at most %lld]", shape_str(c), (long long)(a->D / 2));
        TRY(check_dims(ctx, 8, "sin_cache", 2, c->dims));
        a->cos = c->data;
        a->sin = ctx->in[8]->data;
        a->half = c->dims[1];
        a->maxpos = c->dims[0];
    }
    return EI_STATUS_OK;
}

static ei_status gqa_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 7, 16, 1));
    CHECK(ctx, has_in(ctx, 5) && has_in(ctx, 6), "inputs seqlens_k and total_sequence_length are required");
    TRY(check_f32(ctx, 0, 5));
    TRY(check_f32(ctx, 7, 9));
    attn a;
    attn_src src[3];
    TRY(gqa_geometry(ctx, &a, src));
    int64_t dims[3] = {a.B, a.S, a.N * a.D}, pd[4] = {a.B, a.Nkv, a.T, a.D};
    TRY(set_output(ctx, 0, EI_DTYPE_FLOAT32, 3, dims));
    TRY(set_output(ctx, 1, EI_DTYPE_FLOAT32, 4, pd));
    TRY(set_output(ctx, 2, EI_DTYPE_FLOAT32, 4, pd));
    return attn_scratch(ctx, &a, has_out(ctx, 1), has_out(ctx, 2), 0);
}

static ei_status gqa_run(op_ctx *ctx)
{
    attn a;
    attn_src src[3];
    TRY(gqa_geometry(ctx, &a, src));
    for (int64_t b = 0; b < a.B; b++) {
        int64_t len = (int64_t)a.seqlens[b] + 1, p = attn_past(&a, b);
        CHECK_SHAPE(ctx, len >= 1 && len <= a.T && p >= 0 && p <= a.past && p + a.S <= a.T,
                    "seqlens_k[%lld] = %lld does not fit %lld new tokens after a past of %lld in a cache of %lld",
                    (long long)b, (long long)(len - 1), (long long)a.S, (long long)a.past, (long long)a.T);
        CHECK_SHAPE(ctx, !a.cos || p + a.S <= a.maxpos, "position %lld is outside the cos/sin caches of %lld rows",
                    (long long)(p + a.S - 1), (long long)a.maxpos);
    }
    float *q, *k, *v;
    float *rest = attn_buffers(ctx, &a, &q, &k, &v, has_out(ctx, 1) ? ctx->out[1]->data : NULL,
                               has_out(ctx, 2) ? ctx->out[2]->data : NULL);
    fill_heads(&a, q, a.N, a.D, a.S, NULL, 0, src[0], a.S, true, true);
    fill_heads(&a, k, a.Nkv, a.D, a.T, has_in(ctx, 3) ? ctx->in[3]->data : NULL, a.past, src[1], a.S, false, true);
    fill_heads(&a, v, a.Nkv, a.D, a.T, has_in(ctx, 4) ? ctx->in[4]->data : NULL, a.past, src[2], a.S, false, false);
    sdpa(&a, q, k, v, ctx->out[0]->data, rest);
    return EI_STATUS_OK;
}

#define MS "com.microsoft"
const op_def attention_ops[] = {
    {"Attention", MS, 1, att_infer, NULL, att_run, 0},
    {"MultiHeadAttention", MS, 1, mha_infer, NULL, mha_run, 0},
    {"GroupQueryAttention", MS, 1, gqa_infer, NULL, gqa_run, 0},
};
const int attention_ops_count = (int)(sizeof attention_ops / sizeof attention_ops[0]);
