/*
 * Signal processing ops of opset 17: DFT, STFT and MelWeightMatrix.
 *
 * DFT and STFT gather each signal (one line along the DFT axis, or one frame
 * of the signal times the window) into a complex double buffer, transform it
 * with the any-length FFT of src/kernels/fft.c and write the leading bins
 * back in the tensor's dtype (float32 or float64). Doing the arithmetic in
 * double keeps long float32 transforms as accurate as numpy's. The FFT plan
 * (twiddles, Bluestein chirp) is built once in prepare; run only borrows
 * scratch for the line and the FFT's work buffer.
 *
 * Semantics follow the ONNX reference: a real input (last dim 1) is a
 * complex one with zero imaginary parts; dft_length truncates or zero-pads
 * the signal; onesided keeps bins [0, n/2] of the full transform; the
 * inverse transform is divided by n.
 */
#include "../kernels/fft.h"
#include "op.h"

static const int32_t float_types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};

static inline double get_f(const void *p, int64_t i, bool f64)
{
    return f64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static inline void put_f(void *p, int64_t i, bool f64, double v)
{
    if (f64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

/* The value of a one-element integer input (int32 or int64). Infer only: it may need data. */
static ei_status scalar_int(op_ctx *ctx, int i, const char *name, int64_t *v)
{
    const ei_tensor *t = ctx->in[i];
    CHECK(ctx, t->dtype == EI_DTYPE_INT32 || t->dtype == EI_DTYPE_INT64, "input %s has dtype %s, expected int32 or int64",
          name, ei_dtype_name(t->dtype));
    CHECK_SHAPE(ctx, numel(t) == 1, "input %s has shape %s, expected a single value", name, shape_str(t));
    *v = tensor_get_i64(t, 0);
    return EI_STATUS_OK;
}

static ei_status scalar_float(op_ctx *ctx, int i, const char *name, double *v)
{
    const ei_tensor *t = ctx->in[i];
    CHECK_SUPPORTED(ctx, t->dtype == EI_DTYPE_FLOAT32 || t->dtype == EI_DTYPE_FLOAT64,
                    "input %s has dtype %s; float32 and float64 are supported", name, ei_dtype_name(t->dtype));
    CHECK_SHAPE(ctx, numel(t) == 1, "input %s has shape %s, expected a single value", name, shape_str(t));
    *v = tensor_get_f64(t, 0);
    CHECK(ctx, isfinite(*v), "input %s is %g, expected a finite value", name, *v);
    return EI_STATUS_OK;
}

/* Scratch for one transform of length n: the line, then the FFT's work buffer. */
static ei_status fft_scratch(op_ctx *ctx, int64_t n, const char *what, size_t *bytes)
{
    /* Bluestein lengths need about 4n complex values of plan and work. */
    CHECK_SHAPE(ctx, n <= EI_MAX_TENSOR_BYTES / 256, "%s %lld is too large", what, (long long)n);
    size_t plan = fft_plan_bytes((size_t)n), work = fft_work_bytes((size_t)n);
    CHECK_SHAPE(ctx, plan && work, "%s %lld is too large", what, (long long)n);
    *bytes = 16 * (size_t)n + work;
    return EI_STATUS_OK;
}

/* In prepare: the plan for length n, in persistent memory. */
static const fft_plan *make_plan(op_ctx *ctx, int64_t n)
{
    void *mem = op_alloc(ctx, fft_plan_bytes((size_t)n));
    size_t init_bytes = fft_init_work_bytes((size_t)n);
    double *init_work = init_bytes ? op_alloc(ctx, init_bytes) : NULL;
    if (!mem || (init_bytes && !init_work)) return NULL;
    return fft_plan_init(mem, (size_t)n, init_work);
}

/* ---- DFT ----
 * X is [batch, signal dims..., 1 or 2]; the transform runs along one signal
 * axis (an attribute until opset 20, then input 2, defaulting to -2). */

typedef struct dft_params {
    int axis;
    int64_t n;     /* transform length */
    int64_t bins;  /* outputs along the axis: n, or n / 2 + 1 when onesided */
    bool inverse;
} dft_params;

typedef struct dft_state {
    dft_params p;
    const fft_plan *plan; /* NULL when the output is empty */
} dft_state;

static ei_status dft_parse(op_ctx *ctx, dft_params *p)
{
    TRY(check_arity(ctx, 1, ctx->opset >= 20 ? 3 : 2, 1));
    TRY(check_dtype(ctx, 0, float_types));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank >= 2, "input has shape %s, expected [batch, signal dims..., 1 or 2]", shape_str(x));
    int64_t c = x->dims[x->rank - 1];
    CHECK_SHAPE(ctx, c == 1 || c == 2, "input has shape %s: the last dim is %lld, expected 1 (real) or 2 (complex)",
                shape_str(x), (long long)c);

    int64_t axis;
    if (ctx->opset >= 20) {
        axis = -2;
        if (has_in(ctx, 2)) {
            NEED_DATA(ctx, 2);
            TRY(scalar_int(ctx, 2, "axis", &axis));
        }
    } else {
        axis = attr_int(ctx->n, "axis", 1);
    }
    int64_t a = axis;
    CHECK_SHAPE(ctx, norm_axis(&a, x->rank) && a <= x->rank - 2,
                "axis %lld is out of range for input of shape %s (the last dim holds real and imaginary parts)",
                (long long)axis, shape_str(x));
    p->axis = (int)a;

    int64_t onesided = attr_int(ctx->n, "onesided", 0), inverse = attr_int(ctx->n, "inverse", 0);
    CHECK(ctx, onesided == 0 || onesided == 1, "attribute onesided is %lld, expected 0 or 1", (long long)onesided);
    CHECK(ctx, inverse == 0 || inverse == 1, "attribute inverse is %lld, expected 0 or 1", (long long)inverse);
    p->inverse = inverse != 0;

    p->n = x->dims[p->axis];
    if (has_in(ctx, 1)) {
        NEED_DATA(ctx, 1);
        TRY(scalar_int(ctx, 1, "dft_length", &p->n));
        CHECK_SHAPE(ctx, p->n >= 1, "dft_length is %lld, expected at least 1", (long long)p->n);
    }
    p->bins = onesided ? p->n / 2 + 1 : p->n;
    if (p->n == 0) p->bins = 0; /* an empty axis and no dft_length: nothing to transform */
    return EI_STATUS_OK;
}

static ei_status dft_infer(op_ctx *ctx)
{
    dft_params p;
    TRY(dft_parse(ctx, &p));
    const ei_tensor *x = ctx->in[0];
    int64_t dims[EI_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) dims[d] = x->dims[d];
    dims[p.axis] = p.bins;
    dims[x->rank - 1] = 2;
    TRY(set_output(ctx, 0, x->dtype, x->rank, dims));
    ctx->scratch_bytes = 0;
    if (has_out(ctx, 0) && numel(ctx->out[0]) > 0) TRY(fft_scratch(ctx, p.n, "dft_length", &ctx->scratch_bytes));
    return EI_STATUS_OK;
}

static ei_status dft_prepare(op_ctx *ctx)
{
    dft_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    TRY(dft_parse(ctx, &st->p));
    st->plan = NULL;
    if (has_out(ctx, 0) && numel(ctx->out[0]) > 0) {
        st->plan = make_plan(ctx, st->p.n);
        if (!st->plan) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory for the FFT plan of length %lld",
                                      (long long)st->p.n);
    }
    ctx->state = st;
    return EI_STATUS_OK;
}

static ei_status dft_run(op_ctx *ctx)
{
    const dft_state *st = ctx->state;
    if (!st || !st->plan) return EI_STATUS_OK;
    const ei_tensor *x = ctx->in[0];
    ei_tensor *y = ctx->out[0];
    const dft_params *p = &st->p;
    bool f64 = x->dtype == EI_DTYPE_FLOAT64;
    int r = x->rank;
    int64_t outer = shape_numel(p->axis, x->dims), len = x->dims[p->axis];
    int64_t inner = shape_numel(r - 2 - p->axis, x->dims + p->axis + 1), c = x->dims[r - 1];
    int64_t n = p->n, take = len < n ? len : n;
    double *line = ctx->scratch, *work = line + 2 * n;
    double scale = p->inverse ? 1.0 / (double)n : 1.0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < take; j++) {
                int64_t at = ((o * len + j) * inner + i) * c;
                line[2 * j] = get_f(x->data, at, f64);
                line[2 * j + 1] = c == 2 ? get_f(x->data, at + 1, f64) : 0.0;
            }
            for (int64_t j = take; j < n; j++) line[2 * j] = line[2 * j + 1] = 0.0;
            f64_fft_scalar(st->plan, line, work, p->inverse);
            for (int64_t k = 0; k < p->bins; k++) {
                int64_t at = ((o * p->bins + k) * inner + i) * 2;
                put_f(y->data, at, f64, line[2 * k] * scale);
                put_f(y->data, at + 1, f64, line[2 * k + 1] * scale);
            }
        }
    return EI_STATUS_OK;
}

/* ---- STFT ----
 * signal [batch, length, 1 or 2] -> [batch, frames, bins, 2]. Frame f takes
 * the samples from f * frame_step; its DFT has length frame_length (else the
 * window's length, else the whole signal). As in the reference, a window of
 * another length than frame_length weights that many samples, which the DFT
 * then truncates or zero-pads. */

typedef struct stft_params {
    int64_t batch, len, c;  /* signal [batch, len, c] */
    int64_t step, frame;    /* frame_step, DFT length */
    int64_t win;            /* samples weighted per frame */
    int64_t frames, bins;
} stft_params;

typedef struct stft_state {
    stft_params p;
    const fft_plan *plan;
} stft_state;

static ei_status stft_parse(op_ctx *ctx, stft_params *p)
{
    TRY(check_arity(ctx, 2, 4, 2));
    TRY(check_dtype(ctx, 0, float_types));
    const ei_tensor *x = ctx->in[0];
    CHECK_SHAPE(ctx, x->rank == 3 && (x->dims[2] == 1 || x->dims[2] == 2),
                "signal has shape %s, expected [batch, length, 1 or 2]", shape_str(x));
    p->batch = x->dims[0];
    p->len = x->dims[1];
    p->c = x->dims[2];

    NEED_DATA(ctx, 1);
    TRY(scalar_int(ctx, 1, "frame_step", &p->step));
    CHECK_SHAPE(ctx, p->step >= 1, "frame_step is %lld, expected at least 1", (long long)p->step);

    const ei_tensor *w = has_in(ctx, 2) ? ctx->in[2] : NULL;
    if (w) {
        CHECK(ctx, w->dtype == x->dtype, "window has dtype %s but signal has %s", ei_dtype_name(w->dtype),
              ei_dtype_name(x->dtype));
        CHECK_SHAPE(ctx, w->rank == 1, "window has shape %s, expected one dim", shape_str(w));
    }
    if (has_in(ctx, 3)) {
        NEED_DATA(ctx, 3);
        TRY(scalar_int(ctx, 3, "frame_length", &p->frame));
        CHECK_SHAPE(ctx, p->frame >= 1, "frame_length is %lld, expected at least 1", (long long)p->frame);
    } else {
        p->frame = w ? w->dims[0] : p->len;
        CHECK_SHAPE(ctx, p->frame >= 1, "the frame length (from the %s) is 0", w ? "window" : "signal length");
    }
    p->win = w ? w->dims[0] : p->frame;
    CHECK_SHAPE(ctx, p->len >= p->frame, "signal of shape %s is shorter than the frame length %lld", shape_str(x),
                (long long)p->frame);
    p->frames = 1 + (p->len - p->frame) / p->step;

    int64_t onesided = attr_int(ctx->n, "onesided", 1);
    CHECK(ctx, onesided == 0 || onesided == 1, "attribute onesided is %lld, expected 0 or 1", (long long)onesided);
    p->bins = onesided ? p->frame / 2 + 1 : p->frame;
    return EI_STATUS_OK;
}

static ei_status stft_infer(op_ctx *ctx)
{
    stft_params p;
    TRY(stft_parse(ctx, &p));
    int64_t dims[4] = {p.batch, p.frames, p.bins, 2};
    TRY(set_output(ctx, 0, ctx->in[0]->dtype, 4, dims));
    ctx->scratch_bytes = 0;
    if (has_out(ctx, 0) && numel(ctx->out[0]) > 0) TRY(fft_scratch(ctx, p.frame, "frame length", &ctx->scratch_bytes));
    return EI_STATUS_OK;
}

static ei_status stft_prepare(op_ctx *ctx)
{
    stft_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    TRY(stft_parse(ctx, &st->p));
    st->plan = NULL;
    if (has_out(ctx, 0) && numel(ctx->out[0]) > 0) {
        st->plan = make_plan(ctx, st->p.frame);
        if (!st->plan) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory for the FFT plan of length %lld",
                                      (long long)st->p.frame);
    }
    ctx->state = st;
    return EI_STATUS_OK;
}

static ei_status stft_run(op_ctx *ctx)
{
    const stft_state *st = ctx->state;
    if (!st || !st->plan) return EI_STATUS_OK;
    const stft_params *p = &st->p;
    const ei_tensor *x = ctx->in[0];
    const void *w = has_in(ctx, 2) ? ctx->in[2]->data : NULL;
    ei_tensor *y = ctx->out[0];
    bool f64 = x->dtype == EI_DTYPE_FLOAT64;
    int64_t take = p->win < p->frame ? p->win : p->frame;
    double *line = ctx->scratch, *work = line + 2 * p->frame;
    for (int64_t b = 0; b < p->batch; b++)
        for (int64_t f = 0; f < p->frames; f++) {
            int64_t start = f * p->step;
            for (int64_t t = 0; t < p->frame; t++) {
                double re = 0.0, im = 0.0;
                if (t < take && start + t < p->len) {
                    int64_t at = (b * p->len + start + t) * p->c;
                    double wt = w ? get_f(w, t, f64) : 1.0;
                    re = get_f(x->data, at, f64) * wt;
                    if (p->c == 2) im = get_f(x->data, at + 1, f64) * wt;
                }
                line[2 * t] = re;
                line[2 * t + 1] = im;
            }
            f64_fft_scalar(st->plan, line, work, false);
            int64_t base = (b * p->frames + f) * p->bins * 2;
            for (int64_t k = 0; k < p->bins; k++) {
                put_f(y->data, base + 2 * k, f64, line[2 * k]);
                put_f(y->data, base + 2 * k + 1, f64, line[2 * k + 1]);
            }
        }
    return EI_STATUS_OK;
}

/* ---- MelWeightMatrix ----
 * [dft_length / 2 + 1, num_mel_bins]: triangular filters with peak 1. The
 * mel range [mel(lower), mel(upper)] is cut into num_mel_bins + 2 equal steps
 * (the reference divides by that count, so the top edge is never reached);
 * each edge maps back to hertz and to the spectrogram bin
 * floor((dft_length + 1) * hz / sample_rate). Filter i rises from edge i to
 * edge i + 1 and falls to edge i + 2. */

typedef struct mel_params {
    int64_t mels, dft_length, spec_bins;
    double sample_rate, low_mel, mel_step;
    int32_t dtype;
} mel_params;

static double hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}

/* Spectrogram bin of edge i, as a double (range-checked by infer before any use as an index). */
static double mel_edge_bin(const mel_params *p, int64_t i)
{
    double hz = 700.0 * (pow(10.0, ((double)i * p->mel_step + p->low_mel) / 2595.0) - 1.0);
    return floor((double)(p->dft_length + 1) * hz / p->sample_rate);
}

static ei_status mel_parse(op_ctx *ctx, mel_params *p)
{
    TRY(check_arity(ctx, 5, 5, 5));
    for (int i = 0; i < 5; i++) NEED_DATA(ctx, i);
    int64_t sr;
    double lower, upper;
    TRY(scalar_int(ctx, 0, "num_mel_bins", &p->mels));
    TRY(scalar_int(ctx, 1, "dft_length", &p->dft_length));
    TRY(scalar_int(ctx, 2, "sample_rate", &sr));
    TRY(scalar_float(ctx, 3, "lower_edge_hertz", &lower));
    TRY(scalar_float(ctx, 4, "upper_edge_hertz", &upper));
    CHECK_SHAPE(ctx, p->mels >= 0, "num_mel_bins is %lld, expected at least 0", (long long)p->mels);
    CHECK_SHAPE(ctx, p->dft_length >= 1, "dft_length is %lld, expected at least 1", (long long)p->dft_length);
    CHECK(ctx, sr >= 1, "sample_rate is %lld, expected at least 1", (long long)sr);
    CHECK(ctx, lower >= 0 && lower <= upper, "lower_edge_hertz %g and upper_edge_hertz %g: expected 0 <= lower <= upper",
          lower, upper);
    int64_t dt = attr_int(ctx->n, "output_datatype", EI_DTYPE_FLOAT32);
    CHECK_SUPPORTED(ctx, dt != EI_DTYPE_BOOL && dt != EI_DTYPE_STRING && dt != EI_DTYPE_FLOAT16 &&
                         dt >= EI_DTYPE_FLOAT32 && dt <= EI_DTYPE_UINT64,
                    "attribute output_datatype %lld is not a supported output dtype", (long long)dt);
    p->dtype = (int32_t)dt;
    p->spec_bins = p->dft_length / 2 + 1;
    p->sample_rate = (double)sr;
    p->low_mel = hz_to_mel(lower);
    p->mel_step = (hz_to_mel(upper) - p->low_mel) / (double)(p->mels + 2);
    /* The edges rise with i: writes reach edge mels (a filter's centre) and stop
     * before edge mels + 1 (its exclusive right end). */
    if (p->mels > 0) {
        double first = mel_edge_bin(p, 0), centre = mel_edge_bin(p, p->mels), last = mel_edge_bin(p, p->mels + 1);
        CHECK_SHAPE(ctx, first >= 0 && centre < (double)p->spec_bins && last <= (double)p->spec_bins,
                    "upper_edge_hertz %g maps past the %lld bins of a DFT of length %lld at sample_rate %lld", upper,
                    (long long)p->spec_bins, (long long)p->dft_length, (long long)sr);
    }
    return EI_STATUS_OK;
}

static ei_status mel_infer(op_ctx *ctx)
{
    mel_params p;
    TRY(mel_parse(ctx, &p));
    int64_t dims[2] = {p.spec_bins, p.mels};
    return set_output(ctx, 0, p.dtype, 2, dims);
}

static ei_status mel_run(op_ctx *ctx)
{
    if (!has_out(ctx, 0)) return EI_STATUS_OK;
    mel_params p;
    TRY(mel_parse(ctx, &p));
    ei_tensor *y = ctx->out[0];
    memset(y->data, 0, (size_t)tensor_nbytes(y)); /* zero in every numeric dtype */
    int64_t m = p.mels;
    for (int64_t i = 0; i < m; i++) {
        int64_t lo = (int64_t)mel_edge_bin(&p, i), mid = (int64_t)mel_edge_bin(&p, i + 1);
        int64_t hi = (int64_t)mel_edge_bin(&p, i + 2);
        if (mid == lo) {
            tensor_set_f64(y, mid * m + i, 1.0);
        } else {
            for (int64_t j = lo; j <= mid; j++) tensor_set_f64(y, j * m + i, (double)(j - lo) / (double)(mid - lo));
        }
        for (int64_t j = mid; j < hi; j++) tensor_set_f64(y, j * m + i, (double)(hi - j) / (double)(hi - mid));
    }
    return EI_STATUS_OK;
}

const op_def signal_ops[] = {
    {"DFT", "", 17, dft_infer, dft_prepare, dft_run, 0},
    {"STFT", "", 17, stft_infer, stft_prepare, stft_run, 0},
    {"MelWeightMatrix", "", 17, mel_infer, NULL, mel_run, 0},
};
const int signal_ops_count = (int)(sizeof signal_ops / sizeof signal_ops[0]);
