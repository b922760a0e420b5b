/*
 * Loss ops: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12).
 *
 * Both see their scores as [N, C, D], D being the product of the dims after
 * the class axis (1 for a 2-D input), and the target as [N, D]. A target equal
 * to ignore_index contributes nothing, not even to the weight total of a mean,
 * and may lie outside [0, C) (negative ignore indices are common); any other
 * target outside [0, C) fails the run. Sums run in double so that a mean over
 * many elements does not drift from the float32 reference.
 */
#include "op.h"

#include "../kernels/f32_softmax.h"

enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct loss_args {
    int red;
    bool has_ii;
    int64_t ii;
    int64_t n, c, d; /* scores viewed as [n, c, d] */
} loss_args;

/* Checks inputs (scores, target, optional weight) and attributes of either op. */
static ei_status parse_loss(op_ctx *ctx, loss_args *a)
{
    static const int32_t float_types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};
    static const int32_t index_types[] = {EI_DTYPE_INT32, EI_DTYPE_INT64, 0};
    TRY(check_arity(ctx, 2, 3, 2));
    TRY(check_dtype(ctx, 0, float_types));
    TRY(check_dtype(ctx, 1, index_types));
    const ei_tensor *x = ctx->in[0], *t = ctx->in[1];
    const ei_tensor *w = has_in(ctx, 2) ? ctx->in[2] : NULL;

    const char *red = attr_str(ctx->n, "reduction", "mean");
    if (!strcmp(red, "none")) a->red = RED_NONE;
    else if (!strcmp(red, "sum")) a->red = RED_SUM;
    else if (!strcmp(red, "mean")) a->red = RED_MEAN;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL, "reduction '%s' is not one of none, sum, mean", red);
    a->has_ii = attr_find(ctx->n, "ignore_index") != NULL;
    a->ii = attr_int(ctx->n, "ignore_index", 0);

    CHECK_SHAPE(ctx, x->rank >= 2, "input scores %s has rank %d, expected [N, C] or [N, C, d1, ...]", shape_str(x),
                x->rank);
    bool ok = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int k = 1; ok && k < t->rank; k++) ok = t->dims[k] == x->dims[k + 1];
    CHECK_SHAPE(ctx, ok, "target %s does not fit scores %s: expected the scores' shape without dim 1", shape_str(t),
                shape_str(x));
    if (w) {
        CHECK(ctx, w->dtype == x->dtype, "weight has dtype %s but scores have %s", ei_dtype_name(w->dtype),
              ei_dtype_name(x->dtype));
        CHECK_SHAPE(ctx, w->rank == 1 && w->dims[0] == x->dims[1], "weight %s must be [C] with C = %lld",
                    shape_str(w), (long long)x->dims[1]);
    }
    a->n = x->dims[0];
    a->c = x->dims[1];
    a->d = shape_numel(x->rank - 2, x->dims + 2);
    return EI_STATUS_OK;
}

/* The loss output: the target's shape without reduction, a scalar with it. */
static ei_status set_loss_output(op_ctx *ctx, const loss_args *a)
{
    const ei_tensor *x = ctx->in[0], *t = ctx->in[1];
    if (a->red == RED_NONE) return set_output(ctx, 0, x->dtype, t->rank, t->dims);
    return set_output(ctx, 0, x->dtype, 0, t->dims);
}

static inline double load_f(const void *p, bool f64, int64_t i)
{
    return f64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static inline int64_t load_index(const ei_tensor *t, int64_t i)
{
    return t->dtype == EI_DTYPE_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

/* The loss from log-probabilities logp [n, c, d] (input dtype) into ctx->out[0]. */
static ei_status nll(op_ctx *ctx, const loss_args *a, const void *logp)
{
    const ei_tensor *t = ctx->in[1];
    const ei_tensor *w = has_in(ctx, 2) ? ctx->in[2] : NULL;
    ei_tensor *y = ctx->out[0];
    bool f64 = ctx->in[0]->dtype == EI_DTYPE_FLOAT64;
    double sum = 0, wsum = 0;
    for (int64_t i = 0; i < a->n; i++) {
        for (int64_t j = 0; j < a->d; j++) {
            int64_t pos = i * a->d + j, cls = load_index(t, pos);
            double loss = 0, wt = 0;
            if (!a->has_ii || cls != a->ii) {
                if (cls < 0 || cls >= a->c)
                    return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT,
                                   "target element %lld has class %lld, out of range [0, %lld)", (long long)pos,
                                   (long long)cls, (long long)a->c);
                wt = w ? load_f(w->data, f64, cls) : 1.0;
                loss = -load_f(logp, f64, (i * a->c + cls) * a->d + j) * wt;
            }
            if (a->red == RED_NONE) tensor_set_f64(y, pos, loss);
            sum += loss;
            wsum += wt;
        }
    }
    /* A mean over nothing (every target ignored, or no elements) is 0/0, NaN, as in the reference. */
    if (a->red == RED_SUM) tensor_set_f64(y, 0, sum);
    else if (a->red == RED_MEAN) tensor_set_f64(y, 0, sum / wsum);
    return EI_STATUS_OK;
}

/* ---- NegativeLogLikelihoodLoss ---- */

static ei_status nll_infer(op_ctx *ctx)
{
    loss_args a;
    TRY(parse_loss(ctx, &a));
    return set_loss_output(ctx, &a);
}

static ei_status nll_run(op_ctx *ctx)
{
    loss_args a;
    TRY(parse_loss(ctx, &a));
    return nll(ctx, &a, ctx->in[0]->data);
}

/* ---- SoftmaxCrossEntropyLoss ----
 * The log-softmax over the class axis goes to the optional log_prob output
 * when it is wanted, otherwise to scratch; the loss is then NLL on it. */

static size_t sce_tmp_bytes(const ei_tensor *x, const loss_args *a)
{
    /* the float32 column kernel keeps 2 floats per column */
    return x->dtype == EI_DTYPE_FLOAT32 && a->d > 1 ? 2 * (size_t)a->d * sizeof(float) : 0;
}

static ei_status sce_infer(op_ctx *ctx)
{
    loss_args a;
    TRY(parse_loss(ctx, &a));
    const ei_tensor *x = ctx->in[0];
    TRY(set_loss_output(ctx, &a));
    TRY(set_output(ctx, 1, x->dtype, x->rank, x->dims));
    size_t logp_bytes = has_out(ctx, 1) ? 0 : (size_t)tensor_nbytes(x);
    /* keep the kernel's temporary after the log-probabilities, aligned */
    logp_bytes = (logp_bytes + EI_ALIGN - 1) & ~(size_t)(EI_ALIGN - 1);
    ctx->scratch_bytes = logp_bytes + sce_tmp_bytes(x, &a);
    return EI_STATUS_OK;
}

static void logsoftmax_f64(const double *x, double *y, int64_t n, int64_t c, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        const double *xb = x + i * c * d;
        double *yb = y + i * c * d;
        for (int64_t j = 0; j < d; j++) {
            double mx = -INFINITY, s = 0;
            for (int64_t k = 0; k < c; k++) mx = fmax(mx, xb[k * d + j]);
            for (int64_t k = 0; k < c; k++) s += exp(xb[k * d + j] - mx);
            double lse = mx + log(s);
            for (int64_t k = 0; k < c; k++) yb[k * d + j] = xb[k * d + j] - lse;
        }
    }
}

static ei_status sce_run(op_ctx *ctx)
{
    loss_args a;
    TRY(parse_loss(ctx, &a));
    const ei_tensor *x = ctx->in[0];
    size_t logp_bytes = has_out(ctx, 1) ? 0 : (size_t)tensor_nbytes(x);
    logp_bytes = (logp_bytes + EI_ALIGN - 1) & ~(size_t)(EI_ALIGN - 1);
    void *logp = has_out(ctx, 1) ? ctx->out[1]->data : ctx->scratch;
    if (numel(x) == 0) {
        /* nothing to normalise; the loss still sees every target */
    } else if (x->dtype == EI_DTYPE_FLOAT64) {
        logsoftmax_f64(x->data, logp, a.n, a.c, a.d);
    } else {
        float *tmp = ctx->scratch ? (float *)((char *)ctx->scratch + logp_bytes) : NULL; /* none when d == 1 */
        for (int64_t i = 0; i < a.n; i++) {
            const float *in = (const float *)x->data + i * a.c * a.d;
            float *out = (float *)logp + i * a.c * a.d;
            if (a.d == 1) f32_logsoftmax_row_simd128((size_t)a.c, in, out);
            else f32_logsoftmax_cols_simd128((size_t)a.c, (size_t)a.d, in, out, tmp);
        }
    }
    return nll(ctx, &a, logp);
}

const op_def loss_ops[] = {
    {"NegativeLogLikelihoodLoss", "", 12, nll_infer, NULL, nll_run, 0},
    {"SoftmaxCrossEntropyLoss", "", 12, sce_infer, NULL, sce_run, 0},
};
const int loss_ops_count = (int)(sizeof loss_ops / sizeof loss_ops[0]);
