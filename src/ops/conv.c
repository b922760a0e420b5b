/*
 * Convolutions: Conv and ConvTranspose, float32, channel-major (NCHW), any
 * number of spatial dims (1-D, 2-D, 3-D ... up to F32_CONV_MAX_ND).
 *
 * Conv is a packed GEMM per image and group: the weights [M/group, C/group
 * * prod(kernel)] are the A operand (packed once in prepare when constant),
 * im2col writes the B operand straight into the packed layout in scratch, a
 * range of output pixels at a time (so it stays in cache and the scratch
 * stays small), and the product lands in the output planes with the bias
 * added by the GEMM kernel. Depthwise convolutions (1-D and 2-D, one input
 * channel per group: mobilenet's, efficientnet's, convnext's) use a direct
 * kernel instead: there the GEMM would be a one-row product per channel fed
 * by an im2col that copies every input value once per kernel tap.
 *
 * ConvTranspose is the adjoint: a GEMM W^T x X gives, for every input pixel,
 * its contribution at every kernel position, and col2im adds those into the
 * output. Padding, output_padding, output_shape and auto_pad follow the ONNX
 * reference implementation.
 */
#include <stdint.h>

#include "../kernels/f32_conv.h"
#include "../kernels/f32_gemm.h"
#include "op.h"
#include "spatial.h"

#define ATTR_LIMIT SPATIAL_LIMIT /* strides, dilations, pads and output sizes beyond this are absurd */

typedef struct conv_geom {
    bool transpose;
    int nd;                        /* spatial dims */
    int64_t batch, cin, cout, group;
    int64_t in[F32_CONV_MAX_ND];   /* input spatial dims */
    int64_t out[F32_CONV_MAX_ND];  /* output spatial dims */
    int64_t kernel[F32_CONV_MAX_ND], stride[F32_CONV_MAX_ND], dilation[F32_CONV_MAX_ND];
    int64_t pad[F32_CONV_MAX_ND];  /* leading padding (ConvTranspose: may be negative) */
    int64_t ksize, in_pix, out_pix; /* prod(kernel), prod(in), prod(out) */
} conv_geom;

/* Validates X, W, B and the attributes, and computes the geometry. */
static ei_status conv_geometry(op_ctx *ctx, bool transpose, conv_geom *g)
{
    CHECK(ctx, has_in(ctx, 0), "input X is missing");
    CHECK(ctx, has_in(ctx, 1), "weight input W is missing");
    TRY(check_arity(ctx, 2, 3, 2));
    const ei_tensor *x = ctx->in[0], *w = ctx->in[1];
    static const int32_t f32_only[] = {EI_DTYPE_FLOAT32, 0};
    TRY(check_dtype(ctx, 0, f32_only));
    CHECK_SHAPE(ctx, w->dtype == x->dtype, "weight W has dtype %s but X has %s", ei_dtype_name(w->dtype),
                ei_dtype_name(x->dtype));
    CHECK_SHAPE(ctx, x->rank >= 3 && x->rank <= F32_CONV_MAX_ND + 2,
                "input X has shape %s, expected [N, C, spatial...] with 1 to %d spatial dims", shape_str(x),
                F32_CONV_MAX_ND);
    CHECK_SHAPE(ctx, w->rank == x->rank, "weight W has shape %s, expected %d dims like X %s", shape_str(w), x->rank,
                shape_str(x));
    memset(g, 0, sizeof *g);
    g->transpose = transpose;
    int nd = g->nd = x->rank - 2;
    g->batch = x->dims[0];
    g->cin = x->dims[1];
    g->group = attr_int(ctx->n, "group", 1);
    CHECK(ctx, g->group >= 1 && g->group < ATTR_LIMIT, "attribute 'group' = %lld, expected >= 1",
          (long long)g->group);
    CHECK_SHAPE(ctx, g->cin % g->group == 0, "input X %s has %lld channels, not divisible by group = %lld",
                shape_str(x), (long long)g->cin, (long long)g->group);
    if (!transpose) {
        CHECK_SHAPE(ctx, w->dims[1] * g->group == g->cin,
                    "weight W %s expects %lld input channels (%lld x group %lld) but X %s has %lld", shape_str(w),
                    (long long)(w->dims[1] * g->group), (long long)w->dims[1], (long long)g->group, shape_str(x),
                    (long long)g->cin);
        g->cout = w->dims[0];
        CHECK_SHAPE(ctx, g->cout % g->group == 0, "weight W %s has %lld output channels, not divisible by group = %lld",
                    shape_str(w), (long long)g->cout, (long long)g->group);
    } else {
        CHECK_SHAPE(ctx, w->dims[0] == g->cin, "weight W %s expects %lld input channels but X %s has %lld",
                    shape_str(w), (long long)w->dims[0], shape_str(x), (long long)g->cin);
        g->cout = w->dims[1] * g->group;
    }
    if (has_in(ctx, 2)) {
        const ei_tensor *b = ctx->in[2];
        CHECK_SHAPE(ctx, b->dtype == x->dtype, "bias B has dtype %s but X has %s", ei_dtype_name(b->dtype),
                    ei_dtype_name(x->dtype));
        CHECK_SHAPE(ctx, b->rank == 1 && b->dims[0] == g->cout, "bias B has shape %s, expected [%lld]", shape_str(b),
                    (long long)g->cout);
    }

    window_geom win;
    TRY(spatial_window(ctx, x, w, transpose ? WINDOW_TRANSPOSE : WINDOW_CONV, &win));
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

static void set_dims(const conv_geom *g, int64_t *dims)
{
    dims[0] = g->batch;
    dims[1] = g->cout;
    for (int d = 0; d < g->nd; d++) dims[d + 2] = g->out[d];
}

/* Per-group GEMM sizes: Conv: [Mg, Kg] x [Kg, pixels]; ConvTranspose: [Mg*ksize, Cg] x [Cg, in pixels]. */
static void gemm_sizes(const conv_geom *g, size_t *M, size_t *K, size_t *N)
{
    size_t cg = (size_t)(g->cin / g->group), mg = (size_t)(g->cout / g->group);
    if (!g->transpose) {
        *M = mg;
        *K = cg * (size_t)g->ksize;
        *N = (size_t)g->out_pix;
    } else {
        *M = mg * (size_t)g->ksize;
        *K = cg;
        *N = (size_t)g->in_pix;
    }
}

/*
 * Direct depthwise kernels, for 1-D and 2-D convolutions with one input
 * channel per group (and any number of output channels per group), any
 * stride, dilation and padding: the first row whose kernel size matches
 * (0 matches any) runs. The 3x3 kernel keeps its nine weights in registers.
 */
typedef struct dwconv_kernel {
    size_t kh, kw;
    f32_dwconv_fn *run;
} dwconv_kernel;

static const dwconv_kernel dwconv_kernels[] = {
    {3, 3, f32_dwconv3x3_simd128},
    {0, 0, f32_dwconv_simd128},
};

/* The 2-D kernel geometry of a depthwise convolution (a 1-D one gets a unit height). */
static f32_conv_geom dwconv_geom(const conv_geom *g)
{
    f32_conv_geom k;
    memset(&k, 0, sizeof k);
    k.nd = 2;
    k.channels = (size_t)g->cin;
    int lead = 2 - g->nd; /* unit dims in front */
    for (int d = 0; d < 2; d++) {
        bool unit = d < lead;
        k.img[d] = unit ? 1 : (size_t)g->in[d - lead];
        k.grid[d] = unit ? 1 : (size_t)g->out[d - lead];
        k.kernel[d] = unit ? 1 : (size_t)g->kernel[d - lead];
        k.stride[d] = unit ? 1 : (size_t)g->stride[d - lead];
        k.dilation[d] = unit ? 1 : (size_t)g->dilation[d - lead];
        k.pad[d] = unit ? 0 : (ptrdiff_t)g->pad[d - lead];
    }
    return k;
}

/* The direct kernel for g, or NULL when g is not depthwise or its work plane would dwarf the tensors
 * (huge padding), where im2col + GEMM, whose memory is bounded, is the better choice. */
static const dwconv_kernel *dwconv_pick(const conv_geom *g, f32_conv_geom *kg)
{
    if (g->transpose || g->nd > 2 || g->group != g->cin || g->cin == 0 || g->cout % g->cin != 0) return NULL;
    *kg = dwconv_geom(g);
    const dwconv_kernel *k = dwconv_kernels;
    while (k->kh && !(k->kh == kg->kernel[0] && k->kw == kg->kernel[1])) k++;
    uint64_t limit = 4 * ((uint64_t)g->in_pix + (uint64_t)g->out_pix) + 65536;
    return f32_dwconv_work_size(kg) / sizeof(float) <= limit ? k : NULL;
}

/* A 1x1 convolution with stride 1 and no padding: the image already is the column matrix. */
static bool is_pointwise(const conv_geom *g)
{
    for (int d = 0; d < g->nd; d++)
        if (g->kernel[d] != 1 || g->stride[d] != 1 || g->pad[d] != 0 || g->out[d] != g->in[d]) return false;
    return !g->transpose;
}

/* What prepare works out once per plan and run only reads. */
typedef struct conv_state {
    conv_geom g;
    const dwconv_kernel *dw; /* the direct depthwise kernel, or NULL for im2col + GEMM */
    f32_conv_geom dg;        /* its geometry */
    f32_conv_geom kg;        /* im2col's (Conv) or col2im's (ConvTranspose) geometry */
    float *pa;               /* group packed weight matrices, each packed_a_floats; NULL unless W is constant */
    size_t per_thread;       /* thread_scratch: floats of each thread's share of the scratch */
} conv_state;

static size_t packed_a_floats(const conv_geom *g)
{
    size_t M, K, N;
    gemm_sizes(g, &M, &K, &N);
    return floats_aligned(f32_gemm_packed_a_size(M, K));
}

/*
 * Columns of the B operand converted per GEMM call. A range of about
 * CHUNK_FLOATS stays in L2 between im2col and the GEMM and bounds the
 * scratch memory; at least MIN_CHUNK columns, so that weights too large
 * for the cache are streamed a few times per image, not once per panel.
 */
#define CHUNK_FLOATS (64 * 1024)
#define MIN_CHUNK 128

static size_t chunk_columns(size_t K, size_t N)
{
    size_t nc = K ? CHUNK_FLOATS / K : N;
    if (nc < MIN_CHUNK) nc = MIN_CHUNK;
    nc = nc / F32_GEMM_NR * F32_GEMM_NR;
    return nc < N ? nc : N;
}

/* Floats of one thread's share of the scratch: the packed B of one column range ([ConvTranspose:
 * and the GEMM result for it]), or for depthwise the kernel's work plane. */
static size_t thread_scratch(const conv_geom *g)
{
    f32_conv_geom kg;
    if (dwconv_pick(g, &kg)) return floats_aligned((f32_dwconv_work_size(&kg) + sizeof(float) - 1) / sizeof(float));
    size_t M, K, N;
    gemm_sizes(g, &M, &K, &N);
    size_t nc = chunk_columns(K, N);
    return floats_aligned(f32_gemm_packed_b_size(K, nc) + (g->transpose ? M * nc : 0));
}

/* Scratch layout (floats): [packed weights unless prepacked, or for depthwise nothing]
 * [one thread_scratch per thread]. */
static uint64_t conv_scratch(const conv_geom *g, bool weights_packed, int threads)
{
    f32_conv_geom kg;
    uint64_t f = weights_packed || dwconv_pick(g, &kg) ? 0 : (uint64_t)packed_a_floats(g) * (uint64_t)g->group;
    return f + (uint64_t)thread_scratch(g) * (uint64_t)threads;
}

static ei_status conv_infer_common(op_ctx *ctx, bool transpose)
{
    conv_geom g;
    TRY(conv_geometry(ctx, transpose, &g));
    int64_t dims[EI_MAX_DIMS];
    set_dims(&g, dims);
    TRY(set_output(ctx, 0, ctx->in[0]->dtype, g.nd + 2, dims));
    /* Every GEMM operand must be addressable in this build (wasm's size_t is 32 bits). */
    uint64_t f = conv_scratch(&g, in_is_const(ctx, 1), op_threads(ctx));
    CHECK_SHAPE(ctx, f <= (uint64_t)EI_MAX_TENSOR_BYTES / sizeof(float) && f <= SIZE_MAX / sizeof(float),
                "needs %llu floats of temporary memory, more than the library places", (unsigned long long)f);
    ctx->scratch_bytes = (size_t)f * sizeof(float);
    return EI_STATUS_OK;
}

/* Packs every group's weight matrix into dst (group * packed_a_floats). */
static void pack_weights(const conv_geom *g, const float *w, float *dst)
{
    size_t M, K, N;
    gemm_sizes(g, &M, &K, &N);
    size_t each = packed_a_floats(g);
    size_t cg = (size_t)(g->cin / g->group);
    for (int64_t gi = 0; gi < g->group; gi++) {
        if (!g->transpose) {
            f32_gemm_pack_a(M, K, w + (size_t)gi * M * K, (ptrdiff_t)K, 1, dst + (size_t)gi * each);
        } else {
            /* W [C, Mg*ksize]: row r of W_g^T is column r of the group's [Cg, Mg*ksize] block. */
            f32_gemm_pack_a(M, K, w + (size_t)gi * cg * M, 1, (ptrdiff_t)M, dst + (size_t)gi * each);
        }
    }
}

static f32_conv_geom kernel_geom(const conv_geom *g);

static ei_status conv_prepare(op_ctx *ctx)
{
    conv_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    TRY(conv_geometry(ctx, strcmp(ctx->n->op_type, "ConvTranspose") == 0, &st->g));
    st->dw = dwconv_pick(&st->g, &st->dg);
    st->kg = kernel_geom(&st->g);
    st->per_thread = thread_scratch(&st->g);
    ctx->state = st;
    if (!in_is_const(ctx, 1) || st->dw) return EI_STATUS_OK; /* the direct kernel reads W as it is */
    size_t n = packed_a_floats(&st->g) * (size_t)st->g.group;
    st->pa = op_alloc_uninit(ctx, n * sizeof(float));
    if (!st->pa) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing W (%zu floats)", n);
    pack_weights(&st->g, ctx->in[1]->data, st->pa);
    return EI_STATUS_OK;
}

static f32_conv_geom kernel_geom(const conv_geom *g)
{
    f32_conv_geom k;
    memset(&k, 0, sizeof k);
    k.nd = g->nd;
    k.channels = (size_t)(g->transpose ? g->cout / g->group : g->cin / g->group);
    for (int d = 0; d < g->nd; d++) {
        /* im2col gathers from the input; col2im scatters into the output */
        k.img[d] = (size_t)(g->transpose ? g->out[d] : g->in[d]);
        k.grid[d] = (size_t)(g->transpose ? g->in[d] : g->out[d]);
        k.kernel[d] = (size_t)g->kernel[d];
        k.stride[d] = (size_t)g->stride[d];
        k.dilation[d] = (size_t)g->dilation[d];
        k.pad[d] = (ptrdiff_t)g->pad[d];
    }
    return k;
}

/* Output planes start at the bias (or zero). */
static void fill_bias(float *y, const float *bias, size_t channels, size_t pix)
{
    for (size_t c = 0; c < channels; c++) {
        float b = bias ? bias[c] : 0.0f;
        for (size_t i = 0; i < pix; i++) y[c * pix + i] = b;
    }
}

/* Tasks per thread a node is cut into, at least, so that a thread that starts late still finds
 * work to share; a convolution with fewer column ranges than COLUMN_TASKS per thread splits
 * each range by output channels instead. */
#define TASKS_PER_THREAD 2
#define COLUMN_TASKS 2

/* What the tasks of one convolution run share. Thread t's scratch starts at work + t * per_thread. */
typedef struct conv_job {
    const op_ctx *ctx;
    const conv_state *st;
    const float *x, *w, *bias, *pa;
    float *y, *work;
    size_t per_thread, M, K, N, nc, chunks, each;
    size_t rows, n0, n1; /* row tasks: rows per task, of the column range [n0, n1) */
    size_t pack_per;     /* and the channels each task converts to that range's columns */
    const float *xg, *pb, *pag, *bg;
    float *yg;
    size_t per_task;     /* depthwise: channels per task */
} conv_job;

/* Depthwise task i: channels [i * per_task, ...) of every image. */
static void dw_task(void *arg, size_t i, int thread)
{
    const conv_job *j = arg;
    const conv_state *st = j->st;
    const conv_geom *g = &st->g;
    size_t cin = (size_t)g->cin, mult = (size_t)(g->cout / g->cin), in_pix = (size_t)g->in_pix;
    size_t out_pix = (size_t)g->out_pix, ksize = (size_t)g->ksize;
    size_t c0 = i * j->per_task, c1 = c0 + j->per_task < cin ? c0 + j->per_task : cin;
    f32_conv_geom dg = st->dg;
    dg.channels = c1 - c0;
    f32_vunary_params pp;
    op_act_fn post = op_act_kernel(j->ctx, &pp);
    for (int64_t n = 0; n < g->batch; n++)
        st->dw->run(&dg, mult, j->x + ((size_t)n * cin + c0) * in_pix, j->w + c0 * mult * ksize,
                    j->bias ? j->bias + c0 * mult : NULL, j->y + ((size_t)n * cin + c0) * mult * out_pix,
                    j->work + (size_t)thread * j->per_thread, post, &pp);
}

/* The packed B of columns [n0, n1) of image n, group gi. */
static void pack_columns(const conv_job *j, const float *xg, size_t n0, size_t n1, float *pb)
{
    const conv_geom *g = &j->st->g;
    if (is_pointwise(g)) f32_gemm_pack_b(j->K, n1 - n0, xg + n0, (ptrdiff_t)g->in_pix, 1, pb);
    else f32_im2col_packed(&j->st->kg, xg, n0, n1, pb);
}

/* Column task i: one column range of one image and group, every output channel. */
static void column_task(void *arg, size_t i, int thread)
{
    const conv_job *j = arg;
    const conv_geom *g = &j->st->g;
    size_t c = i % j->chunks, gi = i / j->chunks % (size_t)g->group, n = i / j->chunks / (size_t)g->group;
    size_t cg = (size_t)(g->cin / g->group), mg = (size_t)(g->cout / g->group);
    size_t in_pix = (size_t)g->in_pix, out_pix = (size_t)g->out_pix;
    size_t n0 = c * j->nc, n1 = n0 + j->nc < j->N ? n0 + j->nc : j->N;
    const float *xg = j->x + (n * (size_t)g->cin + gi * cg) * in_pix;
    float *yg = j->y + (n * (size_t)g->cout + gi * mg) * out_pix;
    float *pb = j->work + (size_t)thread * j->per_thread;
    pack_columns(j, xg, n0, n1, pb);
    f32_gemm_packed_simd128(j->M, n1 - n0, j->K, j->pa + gi * j->each, pb, j->bias ? j->bias + gi * mg : NULL,
                            yg + n0, (ptrdiff_t)out_pix, 1, 0);
    for (size_t m = 0; m < j->M; m++) op_apply_act(j->ctx, yg + m * out_pix + n0, n1 - n0);
}

/* Pack task i: the rows of channels [i * pack_per, ...) of the column range [n0, n1). */
static void pack_task(void *arg, size_t i, int thread)
{
    (void)thread;
    const conv_job *j = arg;
    f32_im2col_packed_rows(&j->st->kg, j->xg, j->n0, j->n1, i * j->pack_per, (i + 1) * j->pack_per, j->work);
}

/* Row task i: output channels [i * rows, ...) of the column range packed by the pack tasks. */
static void row_task(void *arg, size_t i, int thread)
{
    (void)thread;
    const conv_job *j = arg;
    size_t out_pix = (size_t)j->st->g.out_pix, m0 = i * j->rows, m1 = m0 + j->rows < j->M ? m0 + j->rows : j->M;
    f32_gemm_rows_simd128(j->M, m0, m1, j->n1 - j->n0, j->K, j->pag, j->pb, j->bg, j->yg + j->n0,
                          (ptrdiff_t)out_pix, 1, 0);
    for (size_t m = m0; m < m1; m++) op_apply_act(j->ctx, j->yg + m * out_pix + j->n0, j->n1 - j->n0);
}

/*
 * Conv as GEMMs split across threads. With enough column ranges (a large image), each task packs
 * its own range and multiplies it by all the weights; otherwise (the small, deep layers, where
 * the weights are the larger operand) the caller packs each range once and the threads share
 * out the output channels, each reading only its rows of the weights.
 */
static void conv_gemm(const op_ctx *ctx, conv_job *j)
{
    const conv_geom *g = &j->st->g;
    int threads = op_threads(ctx);
    size_t tasks = (size_t)g->batch * (size_t)g->group * j->chunks;
    if (threads == 1 || tasks >= COLUMN_TASKS * (size_t)threads) {
        op_parallel(ctx, tasks, column_task, j);
        return;
    }
    size_t cg = (size_t)(g->cin / g->group), mg = (size_t)(g->cout / g->group);
    size_t parts = TASKS_PER_THREAD * (size_t)threads;
    size_t per = (j->M + parts - 1) / parts;
    j->rows = (per + F32_GEMM_MR - 1) / F32_GEMM_MR * F32_GEMM_MR;
    j->pack_per = (cg + parts - 1) / parts;
    j->pb = j->work;
    for (int64_t n = 0; n < g->batch; n++) {
        for (int64_t gi = 0; gi < g->group; gi++) {
            j->xg = j->x + ((size_t)n * (size_t)g->cin + (size_t)gi * cg) * (size_t)g->in_pix;
            j->yg = j->y + ((size_t)n * (size_t)g->cout + (size_t)gi * mg) * (size_t)g->out_pix;
            j->pag = j->pa + (size_t)gi * j->each;
            j->bg = j->bias ? j->bias + (size_t)gi * mg : NULL;
            for (j->n0 = 0; j->n0 < j->N; j->n0 = j->n1) {
                j->n1 = j->n0 + j->nc < j->N ? j->n0 + j->nc : j->N;
                op_parallel(ctx, (cg + j->pack_per - 1) / j->pack_per, pack_task, j);
                op_parallel(ctx, (j->M + j->rows - 1) / j->rows, row_task, j);
            }
        }
    }
}

/* ConvTranspose, on the calling thread: the col2im of neighbouring ranges adds into the same outputs. */
static void convt_gemm(const op_ctx *ctx, const conv_job *j)
{
    const conv_geom *g = &j->st->g;
    size_t cg = (size_t)(g->cin / g->group), mg = (size_t)(g->cout / g->group);
    size_t in_pix = (size_t)g->in_pix, out_pix = (size_t)g->out_pix;
    float *pb = j->work, *col = pb + floats_aligned(f32_gemm_packed_b_size(j->K, j->nc)); /* [M, nc] */
    for (int64_t n = 0; n < g->batch; n++) {
        for (int64_t gi = 0; gi < g->group; gi++) {
            const float *xg = j->x + ((size_t)n * (size_t)g->cin + (size_t)gi * cg) * in_pix;
            float *yg = j->y + ((size_t)n * (size_t)g->cout + (size_t)gi * mg) * out_pix;
            fill_bias(yg, j->bias ? j->bias + (size_t)gi * mg : NULL, mg, out_pix);
            for (size_t n0 = 0; n0 < j->N; n0 += j->nc) {
                size_t n1 = n0 + j->nc < j->N ? n0 + j->nc : j->N;
                f32_gemm_pack_b(j->K, n1 - n0, xg + n0, (ptrdiff_t)in_pix, 1, pb);
                f32_gemm_packed_simd128(j->M, n1 - n0, j->K, j->pa + (size_t)gi * j->each, pb, NULL, col,
                                        (ptrdiff_t)(n1 - n0), 1, 0);
                f32_col2im_add(&j->st->kg, col, n0, n1, yg);
            }
            op_apply_act(ctx, yg, mg * out_pix);
        }
    }
}

/* Reads the geometry, kernel choice and packed weights that conv_prepare made for this plan. */
static ei_status conv_run_common(op_ctx *ctx, bool transpose)
{
    const conv_state *st = ctx->state;
    const conv_geom *g = &st->g;
    if (g->batch == 0 || g->cout == 0 || g->out_pix == 0) return EI_STATUS_OK;
    conv_job j = {.ctx = ctx, .st = st, .x = ctx->in[0]->data, .w = ctx->in[1]->data, .y = ctx->out[0]->data,
                  .bias = has_in(ctx, 2) ? ctx->in[2]->data : NULL, .work = ctx->scratch,
                  .per_thread = st->per_thread};
    if (st->dw) {
        size_t threads = (size_t)op_threads(ctx), cin = (size_t)g->cin;
        j.per_task = threads == 1 ? cin : (cin + TASKS_PER_THREAD * threads - 1) / (TASKS_PER_THREAD * threads);
        op_parallel(ctx, (cin + j.per_task - 1) / j.per_task, dw_task, &j);
        return EI_STATUS_OK;
    }
    gemm_sizes(g, &j.M, &j.K, &j.N);
    j.each = packed_a_floats(g);
    j.pa = st->pa;
    if (!j.pa) {
        pack_weights(g, j.w, j.work);
        j.pa = j.work;
        j.work += j.each * (size_t)g->group;
    }
    j.nc = chunk_columns(j.K, j.N);
    j.chunks = j.nc ? (j.N + j.nc - 1) / j.nc : 0; /* ConvTranspose of an empty image: only the bias */
    if (transpose) convt_gemm(ctx, &j);
    else conv_gemm(ctx, &j);
    return EI_STATUS_OK;
}

static ei_status conv_infer(op_ctx *ctx) { return conv_infer_common(ctx, false); }
static ei_status conv_run(op_ctx *ctx) { return conv_run_common(ctx, false); }
static ei_status convt_infer(op_ctx *ctx) { return conv_infer_common(ctx, true); }
static ei_status convt_run(op_ctx *ctx) { return conv_run_common(ctx, true); }

const op_def conv_ops[] = {
    {"Conv", "", 1, conv_infer, conv_prepare, conv_run, 0},
    {"ConvTranspose", "", 1, convt_infer, conv_prepare, convt_run, 0},
};
const int conv_ops_count = sizeof conv_ops / sizeof conv_ops[0];
