/*
 * MatMulNBits (com.microsoft): Y = A B^T with B stored as 2- to 8-bit integers in blocks along K,
 * as onnxruntime's 4-bit exports of language models write it:
 *   A            float32 [..., K]
 *   B            uint8 [N, k_blocks, blob], blob = block_size * bits / 8; value k of a block is
 *                bits wide at bit k * bits of the blob, low bits first
 *   scales       float32 [N * k_blocks]
 *   zero_points  optional: uint8 [N, ceil(k_blocks * bits / 8)] packed like B, or float32
 *                [N * k_blocks]; absent means 2^(bits - 1)
 *   g_idx        optional int32 [K]: the block of each k (act-order exports); absent, k / block_size
 *   bias         optional float32 [N]
 * B(k, n) = (q - zero_point) * scale of k's block. The weights stay packed in memory: each run
 * widens a range of NC columns at a time into scratch (in the packed layout of the float32 GEMM)
 * and multiplies it, so memory holds the packed B plus one range.
 */
#include <stdint.h>

#include "../kernels/f32_gemm.h"
#include "../kernels/f32_vbinary.h"
#include "contrib.h"

#define NC 64 /* columns of B widened per GEMM call */

typedef struct nbits_geom {
    int64_t M, K, N, bits, block, k_blocks, blob;
} nbits_geom;

static ei_status nbits_geometry(op_ctx *ctx, nbits_geom *g)
{
    TRY(check_arity(ctx, 3, 6, 3));
    const ei_tensor *a = ctx->in[0], *b = ctx->in[1];
    g->K = attr_int(ctx->n, "K", -1);
    g->N = attr_int(ctx->n, "N", -1);
    g->bits = attr_int(ctx->n, "bits", 4);
    g->block = attr_int(ctx->n, "block_size", -1);
    CHECK(ctx, g->K > 0 && g->N > 0, "attributes K and N must be given and > 0 (K %lld, N %lld)", (long long)g->K,
          (long long)g->N);
    CHECK_SUPPORTED(ctx, g->bits >= 2 && g->bits <= 8, "bits = %lld (2 to 8 supported)", (long long)g->bits);
    CHECK(ctx, g->block >= 16 && (g->block & (g->block - 1)) == 0 && g->block <= (1 << 16),
          "block_size = %lld, expected a power of 2 from 16", (long long)g->block);
    TRY(check_f32(ctx, 0, 1));
    CHECK(ctx, b->dtype == EI_DTYPE_UINT8, "input B has dtype %s, expected uint8", ei_dtype_name(b->dtype));
    CHECK_SHAPE(ctx, a->rank >= 1 && a->dims[a->rank - 1] == g->K, "input A has shape %s, expected [..., %lld] (K)",
                shape_str(a), (long long)g->K);
    g->k_blocks = g->K / g->block + (g->K % g->block != 0);
    g->blob = g->block * g->bits / 8;
    int64_t want_b[3] = {g->N, g->k_blocks, g->blob};
    TRY(check_dims(ctx, 1, "B", 3, want_b));
    TRY(check_f32(ctx, 2, 3));
    CHECK_SHAPE(ctx, numel(ctx->in[2]) == g->N * g->k_blocks, "input scales has %lld values, expected N * k_blocks = %lld",
                (long long)numel(ctx->in[2]), (long long)(g->N * g->k_blocks));
    if (has_in(ctx, 3)) {
        const ei_tensor *z = ctx->in[3];
        int64_t packed = g->N * ((g->k_blocks * g->bits + 7) / 8);
        bool ok = z->dtype == EI_DTYPE_UINT8 ? numel(z) == packed
                  : z->dtype == EI_DTYPE_FLOAT32 && numel(z) == g->N * g->k_blocks;
        CHECK_SHAPE(ctx, ok, "input zero_points is %s %s, expected uint8 with %lld values or float32 with %lld",
                    ei_dtype_name(z->dtype), shape_str(z), (long long)packed, (long long)(g->N * g->k_blocks));
    }
    if (has_in(ctx, 4)) {
        const ei_tensor *gi = ctx->in[4];
        CHECK_SHAPE(ctx, gi->dtype == EI_DTYPE_INT32 && numel(gi) == g->K, "input g_idx is %s %s, expected int32 [%lld]",
                    ei_dtype_name(gi->dtype), shape_str(gi), (long long)g->K);
    }
    if (has_in(ctx, 5)) {
        int64_t want_bias[1] = {g->N};
        TRY(check_f32(ctx, 5, 6));
        TRY(check_dims(ctx, 5, "bias", 1, want_bias));
    }
    g->M = a->rank > 0 ? numel(a) / g->K : 1;
    return EI_STATUS_OK;
}

/* Scratch: the packed A, the widened range [K, NC] and its packed form. */
static uint64_t nbits_scratch(const nbits_geom *g)
{
    size_t M = (size_t)g->M, K = (size_t)g->K;
    return (uint64_t)f32_gemm_packed_a_size(M, K) + 16 + (uint64_t)K * NC + f32_gemm_packed_b_size(K, NC) + 16;
}

static ei_status nbits_infer(op_ctx *ctx)
{
    nbits_geom g;
    TRY(nbits_geometry(ctx, &g));
    const ei_tensor *a = ctx->in[0];
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < a->rank; d++) dims[d] = a->dims[d];
    dims[a->rank - 1] = g.N;
    TRY(set_output(ctx, 0, EI_DTYPE_FLOAT32, a->rank, dims));
    return scratch_floats(ctx, nbits_scratch(&g)); /* A exists, so M * K is a size */
}

/* Quantized value j (bits wide) of a packed byte run. */
static unsigned packed_at(const uint8_t *p, int64_t j, int64_t bits)
{
    int64_t bit = j * bits;
    unsigned v = p[bit / 8] | (bit % 8 + bits > 8 ? (unsigned)p[bit / 8 + 1] << 8 : 0u);
    return (v >> (bit % 8)) & ((1u << bits) - 1);
}

/* Column n of B as float32 into col[0, K) (stride `stride`). */
static void widen_column(const op_ctx *ctx, const nbits_geom *g, int64_t n, float *col, size_t stride)
{
    const uint8_t *b = (const uint8_t *)ctx->in[1]->data + n * g->k_blocks * g->blob;
    const float *scales = (const float *)ctx->in[2]->data + n * g->k_blocks;
    const ei_tensor *zt = has_in(ctx, 3) ? ctx->in[3] : NULL;
    const int32_t *gidx = has_in(ctx, 4) ? ctx->in[4]->data : NULL;
    int64_t zp_row = (g->k_blocks * g->bits + 7) / 8;
    float center = (float)(1 << (g->bits - 1));
    for (int64_t k = 0; k < g->K; k++) {
        int64_t blk = k / g->block, within = k % g->block;
        int64_t sblk = gidx && gidx[k] >= 0 && gidx[k] < g->k_blocks ? gidx[k] : blk;
        float zp = center;
        if (zt && zt->dtype == EI_DTYPE_UINT8) zp = (float)packed_at((const uint8_t *)zt->data + n * zp_row, sblk, g->bits);
        else if (zt) zp = ((const float *)zt->data)[n * g->k_blocks + sblk];
        float q = (float)packed_at(b + blk * g->blob, within, g->bits);
        col[(size_t)k * stride] = (q - zp) * scales[sblk];
    }
}

static ei_status nbits_run(op_ctx *ctx)
{
    nbits_geom g;
    TRY(nbits_geometry(ctx, &g));
    size_t M = (size_t)g.M, K = (size_t)g.K, N = (size_t)g.N;
    float *y = ctx->out[0]->data;
    if (M == 0) return EI_STATUS_OK;
    float *pa = ctx->scratch;
    float *wide = pa + (f32_gemm_packed_a_size(M, K) + 15) / 16 * 16;
    float *pb = wide + (K * NC + 15) / 16 * 16;
    f32_gemm_pack_a(M, K, ctx->in[0]->data, (ptrdiff_t)K, 1, pa);
    for (size_t n0 = 0; n0 < N; n0 += NC) {
        size_t nc = N - n0 < NC ? N - n0 : NC;
        for (size_t j = 0; j < nc; j++) widen_column(ctx, &g, (int64_t)(n0 + j), wide + j, nc);
        f32_gemm_pack_b(K, nc, wide, (ptrdiff_t)nc, 1, pb);
        f32_gemm_packed_simd128(M, nc, K, pa, pb, NULL, y + n0, (ptrdiff_t)N, 1, 0);
    }
    if (has_in(ctx, 5)) {
        f32_vbinary_fn add = f32_vbinary_select(F32_VADD).v;
        for (size_t m = 0; m < M; m++) add(y + m * N, ctx->in[5]->data, y + m * N, N);
    }
    return EI_STATUS_OK;
}

const op_def nbits_ops[] = {
    {"MatMulNBits", "com.microsoft", 1, nbits_infer, NULL, nbits_run, 0},
};
const int nbits_ops_count = (int)(sizeof nbits_ops / sizeof nbits_ops[0]);
