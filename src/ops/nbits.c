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
 * B(k, n) = (q - zero_point) * scale of k's block. The weights stay packed in memory; the
 * session's threads share the output columns in ranges of NC. With 4 or 8 bits, packed or no zero
 * points and no g_idx (what onnxruntime's quantizer writes), q4_gemv (one row of A: token
 * generation) and q4_gemm (more) unpack the blocks in registers, inside the product. The other
 * forms widen each column of a range, value by value, into the float32 GEMM's packed layout.
 */
#include <stdint.h>

#include "../kernels/f32_gemm.h"
#include "../kernels/f32_vbinary.h"
#include "../kernels/q4_gemv.h"
#include "contrib.h"

#define NC 64 /* columns of the output per task (widened per GEMM call) */

typedef struct nbits_geom {
    int64_t M, K, N, bits, block, k_blocks, blob;
    bool q4;      /* a form the q4_gemv kernels take */
    q4_weights w; /* then: the weights, and A's rows packed, row floats apart */
    size_t row;
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
    g->q4 = (g->bits == 4 || g->bits == 8) && !has_in(ctx, 4) && (!has_in(ctx, 3) || ctx->in[3]->dtype == EI_DTYPE_UINT8);
    g->w = (q4_weights){b->data, ctx->in[2]->data, has_in(ctx, 3) ? ctx->in[3]->data : NULL, (size_t)g->K,
                        (size_t)g->block, (size_t)g->k_blocks, (int)g->bits};
    g->row = g->q4 ? q4_row_len(&g->w) : 0;
    return EI_STATUS_OK;
}

/* Floats of one thread's share of the scratch: one widened column and a packed range [K, NC]. */
static size_t range_floats(const nbits_geom *g)
{
    return floats_aligned((size_t)g->K) + floats_aligned(f32_gemm_packed_b_size((size_t)g->K, NC));
}

/* Scratch: A's packed rows (q4), else A packed for the GEMM and one range_floats per thread. */
static uint64_t nbits_scratch(const nbits_geom *g, int threads)
{
    if (g->q4) return ((uint64_t)g->M * g->row + 15) / 16 * 16; /* up to twice A (8 bits): 64-bit */
    return (uint64_t)floats_aligned(f32_gemm_packed_a_size((size_t)g->M, (size_t)g->K)) +
           (uint64_t)range_floats(g) * (uint64_t)threads;
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
    return scratch_floats(ctx, nbits_scratch(&g, op_threads(ctx))); /* A exists, so M * K is a size */
}

/* Quantized value j (bits wide) of a packed byte run. */
static unsigned packed_at(const uint8_t *p, int64_t j, int64_t bits)
{
    int64_t bit = j * bits;
    unsigned v = p[bit / 8] | (bit % 8 + bits > 8 ? (unsigned)p[bit / 8 + 1] << 8 : 0u);
    return (v >> (bit % 8)) & ((1u << bits) - 1);
}

/* Scale and zero point of block `blk` of column n. */
static void block_params(const op_ctx *ctx, const nbits_geom *g, int64_t n, int64_t blk, float *scale, float *zp)
{
    const ei_tensor *zt = has_in(ctx, 3) ? ctx->in[3] : NULL;
    *scale = ((const float *)ctx->in[2]->data)[n * g->k_blocks + blk];
    *zp = (float)(1 << (g->bits - 1));
    if (zt && zt->dtype == EI_DTYPE_UINT8)
        *zp = (float)packed_at((const uint8_t *)zt->data + n * ((g->k_blocks * g->bits + 7) / 8), blk, g->bits);
    else if (zt)
        *zp = ((const float *)zt->data)[n * g->k_blocks + blk];
}

/* Column n of B as float32 into col[0, K). */
static void widen_column(const op_ctx *ctx, const nbits_geom *g, int64_t n, float *col)
{
    const uint8_t *b = (const uint8_t *)ctx->in[1]->data + n * g->k_blocks * g->blob;
    const int32_t *gidx = has_in(ctx, 4) ? ctx->in[4]->data : NULL;
    float scale, zp;
    for (int64_t blk = 0; blk < g->k_blocks; blk++) {
        const uint8_t *q = b + blk * g->blob;
        int64_t k0 = blk * g->block, count = g->K - k0 < g->block ? g->K - k0 : g->block;
        block_params(ctx, g, n, blk, &scale, &zp);
        if (gidx) { /* act-order: each k names the block of its scale and zero point */
            for (int64_t k = 0; k < count; k++) {
                int32_t s = gidx[k0 + k];
                block_params(ctx, g, n, s >= 0 && s < g->k_blocks ? s : blk, &scale, &zp);
                col[k0 + k] = ((float)packed_at(q, k, g->bits) - zp) * scale;
            }
        } else if (g->bits == 4) {
            for (int64_t k = 0; k + 1 < count; k += 2) {
                col[k0 + k] = ((float)(q[k / 2] & 15) - zp) * scale;
                col[k0 + k + 1] = ((float)(q[k / 2] >> 4) - zp) * scale;
            }
            if (count % 2) col[k0 + count - 1] = ((float)(q[count / 2] & 15) - zp) * scale;
        } else {
            for (int64_t k = 0; k < count; k++) col[k0 + k] = ((float)packed_at(q, k, g->bits) - zp) * scale;
        }
    }
}

/* Stores col[0, K) as column j of the packed B of a [K, nc] range (f32_gemm's panel layout). */
static void pack_column(const float *col, size_t K, size_t nc, size_t j, float *pb)
{
    size_t npad = (nc + F32_GEMM_NR - 1) / F32_GEMM_NR * F32_GEMM_NR;
    for (size_t k0 = 0; k0 < K; k0 += F32_GEMM_KC) {
        size_t kc = K - k0 < F32_GEMM_KC ? K - k0 : F32_GEMM_KC;
        float *dst = pb + k0 * npad + j / F32_GEMM_NR * F32_GEMM_NR * kc + j % F32_GEMM_NR;
        for (size_t k = 0; k < kc; k++) dst[k * F32_GEMM_NR] = col[k0 + k];
    }
}

/* What the range tasks of one run share. */
typedef struct nbits_job {
    op_ctx *ctx;
    nbits_geom g;
    const float *a, *pa;
    float *y, *work; /* thread t's range scratch at work + t * range_floats */
} nbits_job;

/* Task i: columns [i * NC, ...) of the output, widened, packed and multiplied on one thread. */
static void range_task(void *arg, size_t i, int thread)
{
    const nbits_job *j = arg;
    size_t M = (size_t)j->g.M, K = (size_t)j->g.K, N = (size_t)j->g.N, n0 = i * NC;
    size_t nc = N - n0 < NC ? N - n0 : NC;
    if (j->g.q4) {
        if (M == 1) q4_gemv_simd128(&j->g.w, j->a, n0, n0 + nc, j->y + n0);
        else q4_gemm_simd128(&j->g.w, M, j->a, j->g.row, n0, n0 + nc, j->y + n0, N);
        return;
    }
    float *col = j->work + (size_t)thread * range_floats(&j->g), *pb = col + floats_aligned(K);
    for (size_t c = 0; c < nc; c++) {
        widen_column(j->ctx, &j->g, (int64_t)(n0 + c), col);
        pack_column(col, K, nc, c, pb);
    }
    f32_gemm_packed_simd128(M, nc, K, j->pa, pb, NULL, j->y + n0, (ptrdiff_t)N, 1, 0);
}

static ei_status nbits_run(op_ctx *ctx)
{
    nbits_job j = {.ctx = ctx, .y = ctx->out[0]->data};
    TRY(nbits_geometry(ctx, &j.g));
    size_t M = (size_t)j.g.M, K = (size_t)j.g.K, N = (size_t)j.g.N;
    if (M == 0) return EI_STATUS_OK;
    float *pa = ctx->scratch;
    j.a = ctx->in[0]->data;
    if (j.g.q4) { /* rows of A in the kernels' order */
        for (size_t m = 0; m < M; m++) q4_pack_a(&j.g.w, j.a + m * K, pa + m * j.g.row);
        j.a = pa;
    } else {
        j.pa = pa;
        j.work = pa + floats_aligned(f32_gemm_packed_a_size(M, K));
        f32_gemm_pack_a(M, K, j.a, (ptrdiff_t)K, 1, pa);
    }
    op_parallel(ctx, (N + NC - 1) / NC, range_task, &j);
    if (has_in(ctx, 5)) {
        f32_vbinary_fn add = f32_vbinary_select(F32_VADD).v;
        for (size_t m = 0; m < M; m++) add(j.y + m * N, ctx->in[5]->data, j.y + m * N, N);
    }
    return EI_STATUS_OK;
}

const op_def nbits_ops[] = {
    {"MatMulNBits", "com.microsoft", 1, nbits_infer, NULL, nbits_run, 0},
};
const int nbits_ops_count = (int)(sizeof nbits_ops / sizeof nbits_ops[0]);
