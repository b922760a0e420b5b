/*
 * Matrix products: Gemm, MatMul and Einsum.
 *
 * float32 goes through the packed GEMM kernel (kernels/f32_gemm.c). A weight
 * operand that is constant when the session plans (Gemm's B, MatMul's B) is
 * packed once in prepare, with Gemm's alpha folded in; everything else is
 * packed per run into scratch. float64 and the integer types use plain loops.
 *
 * Einsum handles any equation numpy accepts on its inputs (ellipsis with
 * broadcasting, repeated labels for diagonals and traces, implicit output).
 * Two-operand float32 equations whose labels split into batch / row / column
 * / contracted sets run as strided GEMMs; all other forms run one generic
 * sum-of-products loop, which is slow but exact.
 */
#include <stdint.h>

#include "../kernels/f32_gemm.h"
#include "../kernels/f32_vbinary.h"
#include "matmul.h"
#include "op.h"

static ei_status set_scratch_floats(op_ctx *ctx, uint64_t floats)
{
    CHECK_SHAPE(ctx, floats <= (uint64_t)EI_MAX_TENSOR_BYTES / sizeof(float) && floats <= SIZE_MAX / sizeof(float),
                "needs %llu floats of temporary memory, more than the library places", (unsigned long long)floats);
    ctx->scratch_bytes = (size_t)floats * sizeof(float);
    return EI_STATUS_OK;
}

static ei_status check_scratch(op_ctx *ctx, size_t floats)
{
    if (floats * sizeof(float) > ctx->scratch_bytes)
        return op_fail(ctx, EI_STATUS_INVALID_STATE, "needs %zu bytes of scratch at run but was given %zu",
                       floats * sizeof(float), ctx->scratch_bytes);
    return EI_STATUS_OK;
}

/* a * b for non-negative sizes, or -1 when it exceeds what the library places. */
static int64_t mul_bounded(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > EI_MAX_TENSOR_BYTES) return -1;
    return r;
}

static void scale_floats(float *p, size_t n, float s)
{
    if (s == 1.0f) return;
    for (size_t i = 0; i < n; i++) p[i] *= s;
}

/* ---- plain loops for float64 and integers ----
 * One strided matrix product y[m,n] = alpha * sum_k a[m,k] b[k,n] (+ beta * c[m,n]),
 * defined once per element type. */
typedef struct mm_args {
    int64_t M, N, K;
    int64_t a_rs, a_cs, b_rs, b_cs;
    int64_t c_rs, c_cs; /* c strides (0 where broadcast) when c is given */
    double alpha, beta;
} mm_args;

#define DEFINE_MM_LOOP(name, T, ACC)                                                                 \
    static void name(const mm_args *g, const T *a, const T *b, const T *c, T *y)                    \
    {                                                                                                \
        for (int64_t m = 0; m < g->M; m++) {                                                         \
            for (int64_t n = 0; n < g->N; n++) {                                                     \
                ACC acc = 0;                                                                         \
                for (int64_t k = 0; k < g->K; k++)                                                   \
                    acc += (ACC)a[m * g->a_rs + k * g->a_cs] * (ACC)b[k * g->b_rs + n * g->b_cs];    \
                T r = g->alpha == 1.0 ? (T)acc : (T)(g->alpha * (double)acc);                        \
                if (c) {                                                                             \
                    T cv = c[m * g->c_rs + n * g->c_cs];                                             \
                    r += g->beta == 1.0 ? cv : (T)(g->beta * (double)cv);                            \
                }                                                                                    \
                y[m * g->N + n] = r;                                                                 \
            }                                                                                        \
        }                                                                                            \
    }

DEFINE_MM_LOOP(mm_f64, double, double)
DEFINE_MM_LOOP(mm_i32, int32_t, int64_t)
DEFINE_MM_LOOP(mm_i64, int64_t, int64_t)
DEFINE_MM_LOOP(mm_u32, uint32_t, uint64_t)
DEFINE_MM_LOOP(mm_u64, uint64_t, uint64_t)

/* Runs the loop for dtype on untyped pointers; false for a dtype without one. */
static bool mm_loop(int32_t dtype, const mm_args *g, const void *a, const void *b, const void *c, void *y)
{
    switch (dtype) {
    case EI_DTYPE_FLOAT64: mm_f64(g, a, b, c, y); return true;
    case EI_DTYPE_INT32: mm_i32(g, a, b, c, y); return true;
    case EI_DTYPE_INT64: mm_i64(g, a, b, c, y); return true;
    case EI_DTYPE_UINT32: mm_u32(g, a, b, c, y); return true;
    case EI_DTYPE_UINT64: mm_u64(g, a, b, c, y); return true;
    default: return false;
    }
}

static const int32_t mm_dtypes[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, EI_DTYPE_INT32, EI_DTYPE_INT64,
                                    EI_DTYPE_UINT32,  EI_DTYPE_UINT64,  0};

static ei_status check_same_dtype(op_ctx *ctx, int i, int j)
{
    if (!has_in(ctx, i) || !has_in(ctx, j)) return EI_STATUS_OK;
    CHECK_SHAPE(ctx, ctx->in[i]->dtype == ctx->in[j]->dtype, "input %d has dtype %s but input %d has %s", j,
                ei_dtype_name(ctx->in[j]->dtype), i, ei_dtype_name(ctx->in[i]->dtype));
    return EI_STATUS_OK;
}

/* ================================ Gemm ================================ */
/* Y[M,N] = alpha * A' B' + beta * C, A' = transA ? A^T : A, C broadcast to [M,N]. */

typedef struct gemm_dims {
    int64_t M, N, K;
    int64_t a_rs, a_cs, b_rs, b_cs; /* element strides of A' and B' */
    int64_t c_rs, c_cs;             /* C's broadcast strides */
    bool has_c;
} gemm_dims;

/* What prepare works out once per plan and run only reads. */
typedef struct gemm_state {
    gemm_dims g;
    float alpha, beta;
    float *pa, *pb; /* packed constant operands (alpha folded into pb), or NULL */
} gemm_state;

static ei_status gemm_shape(op_ctx *ctx, gemm_dims *g)
{
    const ei_tensor *a = ctx->in[0], *b = ctx->in[1];
    CHECK_SHAPE(ctx, a->rank == 2, "input A has shape %s, expected 2 dims", shape_str(a));
    CHECK_SHAPE(ctx, b->rank == 2, "input B has shape %s, expected 2 dims", shape_str(b));
    bool ta = attr_int(ctx->n, "transA", 0) != 0, tb = attr_int(ctx->n, "transB", 0) != 0;
    g->M = ta ? a->dims[1] : a->dims[0];
    g->K = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0];
    g->N = tb ? b->dims[0] : b->dims[1];
    CHECK_SHAPE(ctx, g->K == kb, "inner dimensions differ: A%s %s has K=%lld, B%s %s has K=%lld", ta ? "^T" : "",
                shape_str(a), (long long)g->K, tb ? "^T" : "", shape_str(b), (long long)kb);
    g->a_rs = ta ? 1 : a->dims[1];
    g->a_cs = ta ? a->dims[1] : 1;
    g->b_rs = tb ? 1 : b->dims[1];
    g->b_cs = tb ? b->dims[1] : 1;
    g->has_c = has_in(ctx, 2);
    g->c_rs = g->c_cs = 0;
    if (g->has_c) {
        const ei_tensor *c = ctx->in[2];
        CHECK_SHAPE(ctx, c->rank <= 2, "input C has shape %s, expected at most 2 dims", shape_str(c));
        int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        CHECK_SHAPE(ctx, (cm == 1 || cm == g->M) && (cn == 1 || cn == g->N),
                    "input C of shape %s does not broadcast to the output [%lld,%lld]", shape_str(c),
                    (long long)g->M, (long long)g->N);
        g->c_rs = cm == 1 ? 0 : cn;
        g->c_cs = cn == 1 ? 0 : 1;
    }
    return EI_STATUS_OK;
}

static ei_status gemm_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 3, 2));
    TRY(check_dtype(ctx, 0, mm_dtypes));
    TRY(check_same_dtype(ctx, 0, 1));
    TRY(check_same_dtype(ctx, 0, 2));
    gemm_dims g;
    TRY(gemm_shape(ctx, &g));
    int64_t dims[2] = {g.M, g.N};
    TRY(set_output(ctx, 0, ctx->in[0]->dtype, 2, dims));
    if (ctx->in[0]->dtype == EI_DTYPE_FLOAT32) {
        uint64_t floats = 0;
        if (!in_is_const(ctx, 0)) floats += floats_aligned(f32_gemm_packed_a_size((size_t)g.M, (size_t)g.K));
        if (!in_is_const(ctx, 1)) floats += floats_aligned(f32_gemm_packed_b_size((size_t)g.K, (size_t)g.N));
        TRY(set_scratch_floats(ctx, floats));
    }
    return EI_STATUS_OK;
}

static ei_status gemm_prepare(op_ctx *ctx)
{
    gemm_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    TRY(gemm_shape(ctx, &st->g));
    st->alpha = attr_float(ctx->n, "alpha", 1.0f);
    st->beta = attr_float(ctx->n, "beta", 1.0f);
    ctx->state = st;
    if (ctx->in[0]->dtype != EI_DTYPE_FLOAT32 || !ctx->at_plan) return EI_STATUS_OK;
    const gemm_dims g = st->g;
    size_t M = (size_t)g.M, N = (size_t)g.N, K = (size_t)g.K;
    if (in_is_const(ctx, 1)) {
        size_t n = f32_gemm_packed_b_size(K, N);
        st->pb = op_alloc(ctx, n * sizeof(float) + EI_PAD);
        if (!st->pb) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing B (%zu floats)", n);
        f32_gemm_pack_b(K, N, ctx->in[1]->data, g.b_rs, g.b_cs, st->pb);
        scale_floats(st->pb, n, st->alpha);
    }
    if (in_is_const(ctx, 0)) {
        size_t n = f32_gemm_packed_a_size(M, K);
        st->pa = op_alloc(ctx, n * sizeof(float) + EI_PAD);
        if (!st->pa) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing A (%zu floats)", n);
        f32_gemm_pack_a(M, K, ctx->in[0]->data, g.a_rs, g.a_cs, st->pa);
    }
    return EI_STATUS_OK;
}

/* ============================ split by rows ============================= */

/* One packed product C [M, N] (+)= A B split across the session's threads by blocks of rows, each
 * finished by `done` (the fused bias and activation) while it is in cache. */
typedef struct rows_job {
    op_ctx *ctx;
    size_t M, N, K, rows;
    const float *pa, *pb;
    float *y;
    int accumulate;
    void (*done)(op_ctx *ctx, float *y, size_t rows, size_t N);
} rows_job;

#define TASKS_PER_THREAD 6
/* Multiply-adds per task at least: tens of microseconds, so that waking a thread pays off. */
#define MIN_TASK_MACS (1 << 18)

static void rows_task(void *arg, size_t i, int thread)
{
    (void)thread;
    const rows_job *j = arg;
    size_t m0 = i * j->rows, m1 = m0 + j->rows < j->M ? m0 + j->rows : j->M;
    f32_gemm_rows_simd128(j->M, m0, m1, j->N, j->K, j->pa, j->pb, NULL, j->y, (ptrdiff_t)j->N, 1, j->accumulate);
    j->done(j->ctx, j->y + m0 * j->N, m1 - m0, j->N);
}

static void gemm_split(op_ctx *ctx, rows_job *j)
{
    size_t parts = (size_t)op_threads(ctx) * TASKS_PER_THREAD;
    uint64_t most = (uint64_t)j->M * j->N * j->K / MIN_TASK_MACS;
    if (parts > most) parts = most ? (size_t)most : 1;
    size_t per = (j->M + parts - 1) / parts;
    j->rows = (per + F32_GEMM_MR - 1) / F32_GEMM_MR * F32_GEMM_MR;
    op_parallel(ctx, (j->M + j->rows - 1) / j->rows, rows_task, j);
}

static void gemm_act(op_ctx *ctx, float *y, size_t rows, size_t N) { op_apply_act(ctx, y, rows * N); }

/* Reads the sizes, scales and packed operands that gemm_prepare made for this plan. */
static ei_status gemm_run(op_ctx *ctx)
{
    const gemm_state *st = ctx->state;
    const gemm_dims g = st->g;
    float alpha = st->alpha, beta = st->beta;
    ei_tensor *y = ctx->out[0];
    if (g.M == 0 || g.N == 0) return EI_STATUS_OK;
    const void *c = g.has_c && beta != 0.0f ? ctx->in[2]->data : NULL;
    if (y->dtype != EI_DTYPE_FLOAT32) {
        mm_args a = {g.M, g.N, g.K, g.a_rs, g.a_cs, g.b_rs, g.b_cs, g.c_rs, g.c_cs, alpha, beta};
        CHECK_SUPPORTED(ctx, mm_loop(y->dtype, &a, ctx->in[0]->data, ctx->in[1]->data, c, y->data),
                        "dtype %s is not supported", ei_dtype_name(y->dtype));
        return EI_STATUS_OK;
    }

    size_t M = (size_t)g.M, N = (size_t)g.N, K = (size_t)g.K;
    const float *pa = st->pa, *pb = st->pb;
    size_t need = (pa ? 0 : floats_aligned(f32_gemm_packed_a_size(M, K))) +
                  (pb ? 0 : floats_aligned(f32_gemm_packed_b_size(K, N)));
    TRY(check_scratch(ctx, need));
    float *scratch = ctx->scratch;
    if (!pa) {
        f32_gemm_pack_a(M, K, ctx->in[0]->data, g.a_rs, g.a_cs, scratch);
        pa = scratch;
        scratch += floats_aligned(f32_gemm_packed_a_size(M, K));
    }
    if (!pb) {
        f32_gemm_pack_b(K, N, ctx->in[1]->data, g.b_rs, g.b_cs, scratch);
        scale_floats(scratch, f32_gemm_packed_b_size(K, N), alpha);
        pb = scratch;
    }
    float *out = y->data;
    int accumulate = 0;
    if (c) { /* start from beta * C, then add the product */
        const float *cf = c;
        for (size_t m = 0; m < M; m++)
            for (size_t n = 0; n < N; n++)
                out[m * N + n] = beta * cf[(int64_t)m * g.c_rs + (int64_t)n * g.c_cs];
        accumulate = 1;
    }
    rows_job j = {ctx, M, N, K, 0, pa, pb, out, accumulate, gemm_act};
    gemm_split(ctx, &j);
    return EI_STATUS_OK;
}

/* ================================ MatMul ================================ */
/* numpy matmul: 1-D operands are promoted (and the added dim dropped from the
 * output), leading dims broadcast. */

typedef mm_shape mm_plan;

typedef struct matmul_state {
    float *pb; /* b_mats packed B matrices, each f32_gemm_packed_b_size floats (padded) */
} matmul_state;

ei_status mm_shape_plan(op_ctx *ctx, const ei_tensor *a, const ei_tensor *b, mm_shape *p)
{
    CHECK_SHAPE(ctx, a->rank >= 1 && b->rank >= 1, "inputs must have at least 1 dim, got A %s and B %s",
                shape_str(a), shape_str(b));
    int ar = a->rank, br = b->rank;
    p->M = ar >= 2 ? a->dims[ar - 2] : 1;
    p->K = a->dims[ar - 1];
    int64_t kb = br >= 2 ? b->dims[br - 2] : b->dims[0];
    p->N = br >= 2 ? b->dims[br - 1] : 1;
    CHECK_SHAPE(ctx, p->K == kb, "inner dimensions differ: A %s has K=%lld, B %s has K=%lld", shape_str(a),
                (long long)p->K, shape_str(b), (long long)kb);
    int abr = ar > 2 ? ar - 2 : 0, bbr = br > 2 ? br - 2 : 0;
    int r = abr > bbr ? abr : bbr;
    p->batch_rank = r;
    int64_t as = p->M * p->K, bs = p->K * p->N;
    p->nbatch = 1;
    p->b_mats = 1;
    /* Strides from the innermost batch dim outwards. */
    for (int d = r - 1; d >= 0; d--) {
        int ka = d - (r - abr), kb2 = d - (r - bbr);
        int64_t da = ka >= 0 ? a->dims[ka] : 1, db = kb2 >= 0 ? b->dims[kb2] : 1;
        CHECK_SHAPE(ctx, da == db || da == 1 || db == 1, "batch dims of A %s and B %s do not broadcast",
                    shape_str(a), shape_str(b));
        p->batch[d] = da == 1 ? db : da;
        p->a_bs[d] = da == 1 ? 0 : as;
        p->b_bs[d] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
        p->nbatch = mul_bounded(p->nbatch, p->batch[d]);
        CHECK_SHAPE(ctx, p->nbatch >= 0, "broadcast batch of A %s and B %s is too large", shape_str(a), shape_str(b));
        p->b_mats *= db;
    }
    p->fold = p->b_mats == 1;
    int n = 0;
    for (int d = 0; d < r; d++) p->out_dims[n++] = p->batch[d];
    if (ar >= 2) p->out_dims[n++] = p->M;
    if (br >= 2) p->out_dims[n++] = p->N;
    p->out_rank = n;
    return EI_STATUS_OK;
}

static ei_status matmul_plan(op_ctx *ctx, mm_plan *p, int64_t *out_dims, int *out_rank)
{
    TRY(mm_shape_plan(ctx, ctx->in[0], ctx->in[1], p));
    memcpy(out_dims, p->out_dims, sizeof p->out_dims);
    *out_rank = p->out_rank;
    return EI_STATUS_OK;
}

/* Scratch floats for the float32 path: one packed A (all of A when folded), one packed B unless prepacked. */
static uint64_t matmul_scratch(const mm_plan *p, bool b_packed)
{
    int64_t rows = p->fold ? p->nbatch * p->M : p->M;
    uint64_t f = floats_aligned(f32_gemm_packed_a_size((size_t)rows, (size_t)p->K));
    if (!b_packed) f += floats_aligned(f32_gemm_packed_b_size((size_t)p->K, (size_t)p->N));
    return f;
}

/* Row by row while each is in cache: the bias that the compile step's fuse-bias pass gave this
 * MatMul as input 2 (a float32 [N] vector), then its fused activation. */
static void matmul_epilogue(op_ctx *ctx, float *y, size_t rows, size_t N)
{
    const float *bias = has_in(ctx, 2) ? ctx->in[2]->data : NULL;
    f32_vbinary_fn add = f32_vbinary_select(F32_VADD).v;
    for (size_t r = 0; r < rows && (bias || ctx->n->act.on); r++) {
        if (bias) add(y + r * N, bias, y + r * N, N);
        op_apply_act(ctx, y + r * N, N);
    }
}

static ei_status matmul_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, ctx->n->fused ? 3 : 2, 2));
    TRY(check_dtype(ctx, 0, mm_dtypes));
    TRY(check_same_dtype(ctx, 0, 1));
    mm_plan p;
    int64_t dims[EI_MAX_DIMS + 2];
    int rank;
    TRY(matmul_plan(ctx, &p, dims, &rank));
    if (has_in(ctx, 2)) {
        const ei_tensor *c = ctx->in[2];
        CHECK_SHAPE(ctx, c->dtype == EI_DTYPE_FLOAT32 && ctx->in[0]->dtype == EI_DTYPE_FLOAT32 && c->rank == 1 &&
                    c->dims[0] == p.N && p.N == dims[rank - 1],
                    "fused bias %s does not match the output's last dim %lld", shape_str(c), (long long)p.N);
    }
    TRY(set_output(ctx, 0, ctx->in[0]->dtype, rank, dims));
    if (ctx->in[0]->dtype == EI_DTYPE_FLOAT32) TRY(set_scratch_floats(ctx, matmul_scratch(&p, in_is_const(ctx, 1))));
    return EI_STATUS_OK;
}

static ei_status matmul_prepare(op_ctx *ctx)
{
    ctx->state = NULL;
    if (ctx->in[0]->dtype != EI_DTYPE_FLOAT32 || !in_is_const(ctx, 1)) return EI_STATUS_OK;
    mm_plan p;
    int64_t dims[EI_MAX_DIMS + 2];
    int rank;
    TRY(matmul_plan(ctx, &p, dims, &rank));
    size_t K = (size_t)p.K, N = (size_t)p.N, each = floats_aligned(f32_gemm_packed_b_size(K, N));
    matmul_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    st->pb = op_alloc(ctx, each * (size_t)p.b_mats * sizeof(float) + EI_PAD);
    if (!st->pb) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing B (%lld matrices of %zu floats)",
                                (long long)p.b_mats, each);
    const float *b = ctx->in[1]->data;
    /* B's batches are stored contiguously, so matrix i starts at i*K*N. */
    for (int64_t i = 0; i < p.b_mats; i++) f32_gemm_pack_b(K, N, b + i * p.K * p.N, (ptrdiff_t)N, 1, st->pb + i * each);
    ctx->state = st;
    return EI_STATUS_OK;
}

static ei_status matmul_run(op_ctx *ctx)
{
    mm_plan p;
    int64_t dims[EI_MAX_DIMS + 2];
    int rank;
    TRY(matmul_plan(ctx, &p, dims, &rank));
    ei_tensor *y = ctx->out[0];
    if (p.nbatch == 0 || p.M == 0 || p.N == 0) return EI_STATUS_OK;
    const char *a = ctx->in[0]->data, *b = ctx->in[1]->data;
    char *out = y->data;
    size_t es = dtype_size(y->dtype);
    const matmul_state *st = ctx->state;
    size_t M = (size_t)p.M, N = (size_t)p.N, K = (size_t)p.K;
    size_t b_each = floats_aligned(f32_gemm_packed_b_size(K, N));
    bool f32 = y->dtype == EI_DTYPE_FLOAT32;
    float *pa = NULL, *pb_scratch = NULL;
    if (f32) {
        TRY(check_scratch(ctx, (size_t)matmul_scratch(&p, st != NULL)));
        pa = ctx->scratch;
        pb_scratch = pa + floats_aligned(f32_gemm_packed_a_size(p.fold ? (size_t)(p.nbatch * p.M) : M, K));
    }
    if (f32 && p.fold) {
        /* B is one matrix, so A is never broadcast and its batches are
         * contiguous rows: one GEMM [batch*M, K] x [K, N]. */
        size_t rows = (size_t)(p.nbatch * p.M);
        const float *pb = st ? st->pb : pb_scratch;
        if (!st) f32_gemm_pack_b(K, N, (const float *)b, (ptrdiff_t)N, 1, pb_scratch);
        f32_gemm_pack_a(rows, K, (const float *)a, (ptrdiff_t)K, 1, pa);
        rows_job j = {ctx, rows, N, K, 0, pa, pb, (float *)out, 0, matmul_epilogue};
        gemm_split(ctx, &j);
        return EI_STATUS_OK;
    }

    /* Batch by batch; repack an operand only when its matrix changes. */
    int64_t idx[EI_MAX_DIMS] = {0};
    int64_t last_a = -1, last_b = -1;
    for (int64_t bi = 0; bi < p.nbatch; bi++) {
        int64_t ao = 0, bo = 0;
        for (int d = 0; d < p.batch_rank; d++) {
            ao += idx[d] * p.a_bs[d];
            bo += idx[d] * p.b_bs[d];
        }
        char *yo = out + (size_t)(bi * p.M * p.N) * es;
        if (f32) {
            if (ao != last_a) f32_gemm_pack_a(M, K, (const float *)a + ao, (ptrdiff_t)K, 1, pa);
            const float *pb;
            if (st) {
                pb = st->pb + (size_t)(bo / (p.K * p.N > 0 ? p.K * p.N : 1)) * b_each;
            } else {
                if (bo != last_b) f32_gemm_pack_b(K, N, (const float *)b + bo, (ptrdiff_t)N, 1, pb_scratch);
                pb = pb_scratch;
            }
            rows_job j = {ctx, M, N, K, 0, pa, pb, (float *)yo, 0, matmul_epilogue};
            gemm_split(ctx, &j);
        } else {
            mm_args g = {p.M, p.N, p.K, p.K, 1, p.N, 1, 0, 0, 1.0, 1.0};
            CHECK_SUPPORTED(ctx, mm_loop(y->dtype, &g, a + (size_t)ao * es, b + (size_t)bo * es, NULL, yo),
                            "dtype %s is not supported", ei_dtype_name(y->dtype));
        }
        last_a = ao;
        last_b = bo;
        for (int d = p.batch_rank - 1; d >= 0; d--) {
            if (++idx[d] < p.batch[d]) break;
            idx[d] = 0;
        }
    }
    return EI_STATUS_OK;
}

/* ================================ Einsum ================================ */

#define ES_MAX_IN 8
#define ES_LETTERS 52                       /* a-z then A-Z */
#define ES_MAX_LABELS (ES_LETTERS + EI_MAX_DIMS) /* letters, then ellipsis dims */
#define ES_MAX_WORK ((int64_t)1 << 46)

typedef struct es_plan {
    int n_in;
    int n_labels;                       /* labels in use, numbered 0..n_labels-1 */
    int64_t dim[ES_MAX_LABELS];         /* size of each label */
    int n_out;                          /* output labels: 0..n_out-1 */
    int64_t stride[ES_MAX_IN][ES_MAX_LABELS]; /* per input, element stride of each label (0 if absent or broadcast) */
    int count[ES_MAX_IN][ES_MAX_LABELS];      /* axes of input i carrying each label */
} es_plan;

static char label_char(int l)
{
    return l < 26 ? (char)('a' + l) : l < ES_LETTERS ? (char)('A' + l - 26) : '.';
}

static int letter_id(char c)
{
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
    return -1;
}

/* One operand term: label ids per axis (ellipsis dims get ES_LETTERS + position). */
typedef struct es_term {
    int n;                   /* letters before and after the ellipsis */
    int ids[ES_MAX_LABELS];
    int ell_at;              /* index in ids where the ellipsis stands, -1 when none */
} es_term;

static ei_status parse_term(op_ctx *ctx, const char *eq, const char *s, const char *end, es_term *t)
{
    t->n = 0;
    t->ell_at = -1;
    for (const char *c = s; c < end; c++) {
        if (*c == ' ') continue;
        if (*c == '.') {
            CHECK(ctx, end - c >= 3 && c[1] == '.' && c[2] == '.' && t->ell_at < 0,
                  "equation '%s': a '.' that is not one '...' per term", eq);
            t->ell_at = t->n;
            c += 2;
            continue;
        }
        int id = letter_id(*c);
        CHECK(ctx, id >= 0, "equation '%s': unexpected character '%.*s'", eq, (int)utf8_char_len(c), c);
        CHECK(ctx, t->n < EI_MAX_DIMS, "equation '%s': a term has more than %d labels", eq, EI_MAX_DIMS);
        t->ids[t->n++] = id;
    }
    return EI_STATUS_OK;
}

static ei_status einsum_plan(op_ctx *ctx, es_plan *p, int64_t *out_dims, int *out_rank)
{
    const char *eq = attr_str(ctx->n, "equation", NULL);
    CHECK(ctx, eq, "attribute 'equation' is missing");
    CHECK_SUPPORTED(ctx, ctx->n_in >= 1 && ctx->n_in <= ES_MAX_IN, "equation '%s': %d inputs (1 to %d supported)",
                    eq, ctx->n_in, ES_MAX_IN);
    const char *arrow = strchr(eq, '-'); /* "->": a '-' anywhere else is refused by the term parser */
    while (arrow && arrow[1] != '>') arrow = strchr(arrow + 1, '-');
    const char *lhs_end = arrow ? arrow : eq + strlen(eq);

    /* Operand terms, and the broadcast rank of the ellipsis. */
    es_term terms[ES_MAX_IN];
    int n_terms = 0, ell_rank = 0;
    int ell_dims[ES_MAX_IN];
    for (const char *s = eq;;) {
        const char *comma = s;
        while (comma < lhs_end && *comma != ',') comma++;
        CHECK(ctx, n_terms < ctx->n_in, "equation '%s' has more terms than the %d inputs", eq, ctx->n_in);
        TRY(parse_term(ctx, eq, s, comma, &terms[n_terms]));
        const ei_tensor *x = ctx->in[n_terms];
        CHECK(ctx, x, "input %d is absent", n_terms);
        es_term *t = &terms[n_terms];
        int e = x->rank - t->n;
        CHECK_SHAPE(ctx, t->ell_at >= 0 ? e >= 0 : e == 0,
                    "equation '%s': term %d has %d labels%s but input %d has shape %s", eq, n_terms, t->n,
                    t->ell_at >= 0 ? " and '...'" : "", n_terms, shape_str(x));
        ell_dims[n_terms] = t->ell_at >= 0 ? e : 0;
        if (ell_dims[n_terms] > ell_rank) ell_rank = ell_dims[n_terms];
        n_terms++;
        if (comma >= lhs_end) break;
        s = comma + 1;
    }
    CHECK(ctx, n_terms == ctx->n_in, "equation '%s' has %d terms for %d inputs", eq, n_terms, ctx->n_in);

    /* Label sizes (letters and ellipsis dims), broadcasting size-1 dims. */
    int64_t size[ES_MAX_LABELS];
    int uses[ES_MAX_LABELS] = {0};
    for (int l = 0; l < ES_MAX_LABELS; l++) size[l] = -1;
    memset(p, 0, sizeof *p);
    p->n_in = n_terms;
    int axis_label[ES_MAX_IN][EI_MAX_DIMS];
    for (int i = 0; i < n_terms; i++) {
        const ei_tensor *x = ctx->in[i];
        const es_term *t = &terms[i];
        int ax = 0;
        for (int j = 0; j <= t->n; j++) {
            if (j == t->ell_at)
                for (int e = 0; e < ell_dims[i]; e++) axis_label[i][ax++] = ES_LETTERS + (ell_rank - ell_dims[i] + e);
            if (j < t->n) axis_label[i][ax++] = t->ids[j];
        }
        for (int d = 0; d < x->rank; d++) {
            int l = axis_label[i][d];
            int64_t v = x->dims[d];
            bool ell = l >= ES_LETTERS;
            if (!ell) {
                /* a letter repeated within one operand (a diagonal) must have equal dims */
                for (int d2 = 0; d2 < d; d2++)
                    CHECK_SHAPE(ctx, axis_label[i][d2] != l || x->dims[d2] == v,
                                "equation '%s': label '%c' has sizes %lld and %lld in input %d %s", eq,
                                label_char(l),
                                (long long)x->dims[d2], (long long)v, i, shape_str(x));
            }
            if (size[l] < 0 || size[l] == 1) size[l] = v;
            else CHECK_SHAPE(ctx, v == size[l] || v == 1,
                             "equation '%s': dimension %d of input %d %s is %lld, elsewhere %lld", eq, d, i,
                             shape_str(x), (long long)v, (long long)size[l]);
            if (!ell) uses[l]++;
        }
    }

    /* Output labels. */
    int out_ids[ES_MAX_LABELS], n_out = 0;
    if (arrow) {
        es_term t;
        TRY(parse_term(ctx, eq, arrow + 2, arrow + strlen(arrow), &t));
        for (int j = 0; j <= t.n; j++) {
            if (j == t.ell_at)
                for (int e = 0; e < ell_rank; e++) out_ids[n_out++] = ES_LETTERS + e;
            if (j < t.n) {
                int l = t.ids[j];
                CHECK(ctx, size[l] >= 0, "equation '%s': output label '%c' is not in any input", eq,
                      label_char(l));
                for (int k = 0; k < n_out; k++)
                    CHECK(ctx, out_ids[k] != l, "equation '%s': output label '%c' appears twice", eq,
                          label_char(l));
                out_ids[n_out++] = l;
            }
        }
    } else { /* implicit: the ellipsis, then labels used once, in alphabetical (ASCII) order */
        for (int e = 0; e < ell_rank; e++) out_ids[n_out++] = ES_LETTERS + e;
        for (int l = 26; l < 52; l++)
            if (uses[l] == 1) out_ids[n_out++] = l;
        for (int l = 0; l < 26; l++)
            if (uses[l] == 1) out_ids[n_out++] = l;
    }
    CHECK_SHAPE(ctx, n_out <= EI_MAX_DIMS, "equation '%s': output would have %d dims", eq, n_out);

    /* Renumber: output labels first, then the summed ones. */
    int map[ES_MAX_LABELS];
    for (int l = 0; l < ES_MAX_LABELS; l++) map[l] = -1;
    int n = 0;
    for (int k = 0; k < n_out; k++) map[out_ids[k]] = n++;
    for (int l = 0; l < ES_MAX_LABELS; l++)
        if (size[l] >= 0 && map[l] < 0) map[l] = n++;
    p->n_labels = n;
    p->n_out = n_out;
    for (int l = 0; l < ES_MAX_LABELS; l++)
        if (map[l] >= 0) p->dim[map[l]] = size[l];
    for (int i = 0; i < n_terms; i++) {
        const ei_tensor *x = ctx->in[i];
        int64_t st[EI_MAX_DIMS];
        shape_strides(x->rank, x->dims, st);
        for (int d = 0; d < x->rank; d++) {
            int l = map[axis_label[i][d]];
            if (x->dims[d] != 1 || p->dim[l] == 1) p->stride[i][l] += st[d];
            p->count[i][l]++;
        }
    }
    /* Every combination of label values is one multiply-add: refuse counts no run would finish. */
    int64_t work = 1;
    bool empty = false;
    for (int l = 0; l < n; l++) empty = empty || p->dim[l] == 0;
    for (int l = 0; l < n && !empty; l++)
        CHECK_SUPPORTED(ctx, !__builtin_mul_overflow(work, p->dim[l], &work) && work <= ES_MAX_WORK,
                        "equation '%s' on these shapes needs more than %lld multiply-adds", eq,
                        (long long)ES_MAX_WORK);
    for (int k = 0; k < n_out; k++) out_dims[k] = p->dim[k];
    *out_rank = n_out;
    return EI_STATUS_OK;
}

static const int32_t einsum_dtypes[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, EI_DTYPE_INT32,  EI_DTYPE_INT64,
                                        EI_DTYPE_INT8,    EI_DTYPE_INT16,   EI_DTYPE_UINT8,  EI_DTYPE_UINT16,
                                        EI_DTYPE_UINT32,  EI_DTYPE_UINT64,  0};

/* The float32 GEMM form: every label is batch (in both and the output), row
 * (A and output), column (B and output) or contracted (A and B), at most once
 * per operand. One label of each kind goes to the kernel, the rest loop outside. */
typedef struct es_gemm {
    int m, n, k;            /* label ids handed to the kernel, -1 when there is none */
} es_gemm;

static bool einsum_gemm_form(const op_ctx *ctx, const es_plan *p, es_gemm *g)
{
    if (p->n_in != 2 || ctx->in[0]->dtype != EI_DTYPE_FLOAT32) return false;
    g->m = g->n = g->k = -1;
    for (int l = 0; l < p->n_labels; l++) {
        int ca = p->count[0][l], cb = p->count[1][l];
        if (ca > 1 || cb > 1) return false;
        bool out = l < p->n_out;
        if (!out && !(ca && cb)) return false; /* summed in one operand only */
        int64_t d = p->dim[l];
        if (out && ca && !cb && (g->m < 0 || d > p->dim[g->m])) g->m = l;
        if (out && cb && !ca && (g->n < 0 || d > p->dim[g->n])) g->n = l;
        if (!out && (g->k < 0 || d > p->dim[g->k])) g->k = l;
    }
    return true;
}

static size_t es_gemm_work(const es_plan *p, const es_gemm *g)
{
    size_t M = g->m >= 0 ? (size_t)p->dim[g->m] : 1, N = g->n >= 0 ? (size_t)p->dim[g->n] : 1;
    size_t K = g->k >= 0 ? (size_t)p->dim[g->k] : 1;
    return f32_gemm_work_size(M, N, K);
}

static ei_status einsum_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, ES_MAX_IN, ctx->n_in));
    for (int i = 0; i < ctx->n_in; i++) {
        TRY(check_dtype(ctx, i, einsum_dtypes));
        TRY(check_same_dtype(ctx, 0, i));
    }
    es_plan p;
    int64_t dims[EI_MAX_DIMS];
    int rank;
    TRY(einsum_plan(ctx, &p, dims, &rank));
    TRY(set_output(ctx, 0, ctx->in[0]->dtype, rank, dims));
    es_gemm g;
    if (einsum_gemm_form(ctx, &p, &g)) TRY(set_scratch_floats(ctx, es_gemm_work(&p, &g)));
    return EI_STATUS_OK;
}

static void next_index(int n, const int64_t *dims, int64_t *idx)
{
    for (int d = n - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return;
        idx[d] = 0;
    }
}

static ei_status einsum_run_gemm(op_ctx *ctx, const es_plan *p, const es_gemm *g)
{
    TRY(check_scratch(ctx, es_gemm_work(p, g)));
    float *y = ctx->out[0]->data;
    int64_t ny = numel(ctx->out[0]);
    for (int64_t i = 0; i < ny; i++) y[i] = 0.0f;
    int64_t ys[ES_MAX_LABELS] = {0};
    {
        int64_t s = 1;
        for (int l = p->n_out - 1; l >= 0; l--) {
            ys[l] = s;
            s *= p->dim[l];
        }
    }
    for (int l = 0; l < p->n_labels; l++)
        if (p->dim[l] == 0) return EI_STATUS_OK;
    size_t M = g->m >= 0 ? (size_t)p->dim[g->m] : 1, N = g->n >= 0 ? (size_t)p->dim[g->n] : 1;
    size_t K = g->k >= 0 ? (size_t)p->dim[g->k] : 1;
    ptrdiff_t a_rs = g->m >= 0 ? p->stride[0][g->m] : 0, a_cs = g->k >= 0 ? p->stride[0][g->k] : 0;
    ptrdiff_t b_rs = g->k >= 0 ? p->stride[1][g->k] : 0, b_cs = g->n >= 0 ? p->stride[1][g->n] : 0;
    ptrdiff_t c_rs = g->m >= 0 ? ys[g->m] : 0, c_cs = g->n >= 0 ? ys[g->n] : 0;
    /* Every other label loops here; outer contracted labels accumulate into y. */
    int outer[ES_MAX_LABELS], n_outer = 0;
    int64_t odims[ES_MAX_LABELS], oidx[ES_MAX_LABELS] = {0};
    int64_t total = 1;
    for (int l = 0; l < p->n_labels; l++) {
        if (l == g->m || l == g->n || l == g->k) continue;
        outer[n_outer] = l;
        odims[n_outer++] = p->dim[l];
        total *= p->dim[l];
    }
    const float *a = ctx->in[0]->data, *b = ctx->in[1]->data;
    for (int64_t it = 0; it < total; it++) {
        int64_t ao = 0, bo = 0, yo = 0;
        for (int j = 0; j < n_outer; j++) {
            int l = outer[j];
            ao += oidx[j] * p->stride[0][l];
            bo += oidx[j] * p->stride[1][l];
            yo += oidx[j] * ys[l];
        }
        f32_gemm_simd128(M, N, K, a + ao, a_rs, a_cs, b + bo, b_rs, b_cs, y + yo, c_rs, c_cs, 1, ctx->scratch);
        next_index(n_outer, odims, oidx);
    }
    return EI_STATUS_OK;
}

/* The generic form: for each output element, the sum over all summed labels
 * of the product of the inputs. Floats accumulate in double, integers in int64. */
static ei_status einsum_run_generic(op_ctx *ctx, const es_plan *p)
{
    ei_tensor *y = ctx->out[0];
    int64_t ny = numel(y);
    int n_sum = p->n_labels - p->n_out;
    int64_t sum_total = 1;
    for (int l = p->n_out; l < p->n_labels; l++) sum_total *= p->dim[l];
    bool is_float = dtype_is_float(y->dtype);
    int64_t oidx[EI_MAX_DIMS] = {0};
    for (int64_t o = 0; o < ny; o++) {
        int64_t base[ES_MAX_IN] = {0};
        for (int i = 0; i < p->n_in; i++)
            for (int l = 0; l < p->n_out; l++) base[i] += oidx[l] * p->stride[i][l];
        double fsum = 0.0;
        int64_t isum = 0;
        int64_t sidx[ES_MAX_LABELS] = {0};
        for (int64_t s = 0; s < sum_total; s++) {
            double fprod = 1.0;
            int64_t iprod = 1;
            for (int i = 0; i < p->n_in; i++) {
                int64_t off = base[i];
                for (int j = 0; j < n_sum; j++) off += sidx[j] * p->stride[i][p->n_out + j];
                if (is_float) fprod *= tensor_get_f64(ctx->in[i], off);
                else iprod *= tensor_get_i64(ctx->in[i], off);
            }
            fsum += fprod;
            isum += iprod;
            next_index(n_sum, p->dim + p->n_out, sidx);
        }
        if (is_float) tensor_set_f64(y, o, fsum);
        else if (y->dtype == EI_DTYPE_INT64) ((int64_t *)y->data)[o] = isum;
        else if (y->dtype == EI_DTYPE_UINT64) ((uint64_t *)y->data)[o] = (uint64_t)isum;
        else tensor_set_f64(y, o, (double)isum);
        next_index(p->n_out, p->dim, oidx);
    }
    return EI_STATUS_OK;
}

static ei_status einsum_run(op_ctx *ctx)
{
    es_plan p;
    int64_t dims[EI_MAX_DIMS];
    int rank;
    TRY(einsum_plan(ctx, &p, dims, &rank));
    es_gemm g;
    if (einsum_gemm_form(ctx, &p, &g)) return einsum_run_gemm(ctx, &p, &g);
    return einsum_run_generic(ctx, &p);
}

const op_def matmul_ops[] = {
    {"Gemm", "", 1, gemm_infer, gemm_prepare, gemm_run, 0}, /* opsets 1-6: C broadcasts as since 7 */
    {"Gemm", "", 7, gemm_infer, gemm_prepare, gemm_run, 0},
    {"MatMul", "", 1, matmul_infer, matmul_prepare, matmul_run, 0},
    {"Einsum", "", 12, einsum_infer, NULL, einsum_run, 0},
};
const int matmul_ops_count = sizeof matmul_ops / sizeof matmul_ops[0];
