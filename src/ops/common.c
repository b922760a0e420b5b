/*
 * What every op needs: error messages that name the node, arity and dtype
 * checks, attribute lookup, element access across dtypes, and the one numpy
 * broadcasting iterator all elementwise ops share.
 */

#include "../kernels/f32_vunary.h"
#include "op.h"

ei_status op_fail(op_ctx *ctx, ei_status st, const char *fmt, ...)
{
    char *buf = ctx->s->errmsg;
    size_t k = ei_format(buf, EI_ERRMSG_LEN, "%s: ", node_label(ctx->n));
    va_list ap;
    va_start(ap, fmt);
    ei_vformat(buf + k, EI_ERRMSG_LEN - k, fmt, ap);
    va_end(ap);
    utf8_trim(buf);
    return st;
}

ei_status check_arity(op_ctx *ctx, int lo, int hi, int required)
{
    if (lo == hi) CHECK(ctx, ctx->n_in == lo, "has %d inputs, expected %d", ctx->n_in, lo);
    CHECK(ctx, ctx->n_in >= lo && ctx->n_in <= hi, "has %d inputs, expected %d to %d", ctx->n_in, lo, hi);
    for (int i = 0; i < required; i++) CHECK(ctx, ctx->in[i], "input %d is required but absent", i);
    return EI_STATUS_OK;
}

ei_status set_output(op_ctx *ctx, int i, int32_t dtype, int rank, const int64_t *dims)
{
    if (!has_out(ctx, i)) return EI_STATUS_OK;
    CHECK_SHAPE(ctx, rank >= 0 && rank <= EI_MAX_DIMS, "output %d would have rank %d (at most %d supported)", i,
                rank, EI_MAX_DIMS);
    ei_tensor *t = ctx->out[i];
    t->dtype = dtype;
    t->rank = rank;
    for (int d = 0; d < rank; d++) {
        CHECK_SHAPE(ctx, dims[d] >= 0, "output %d would have negative dim %lld at axis %d", i, (long long)dims[d],
                    d);
        t->dims[d] = dims[d];
    }
    int64_t bytes = tensor_nbytes(t);
    CHECK_SHAPE(ctx, bytes >= 0 && bytes <= ctx->s->limits.tensor_bytes,
                "output %d of shape %s is too large (at most %lld bytes per tensor)", i, shape_str(t),
                (long long)ctx->s->limits.tensor_bytes);
    return EI_STATUS_OK;
}

ei_status check_dtype(op_ctx *ctx, int i, const int32_t *allowed)
{
    if (!has_in(ctx, i)) return EI_STATUS_OK;
    for (const int32_t *a = allowed; *a; a++)
        if (ctx->in[i]->dtype == *a) return EI_STATUS_OK;
    return op_fail(ctx, EI_STATUS_UNSUPPORTED, "input %d has dtype %s, which this op does not support", i,
                   ei_dtype_name(ctx->in[i]->dtype));
}

void *op_alloc(op_ctx *ctx, size_t bytes)
{
    return arena_alloc(&ctx->s->plan_mem, bytes);
}

void *op_alloc_uninit(op_ctx *ctx, size_t bytes)
{
    return arena_alloc_uninit(&ctx->s->plan_mem, bytes);
}

/* ---- attributes ---- */

const attr *attr_find(const node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

/* The first attribute of the running op that an accessor found with a type other than the one
 * it asked for, and that type; per thread, as sessions may run on several threads at once.
 * The session reports it after the op's infer and run (attr_type_error): an attribute of the
 * wrong type is an error naming it, never a silent fall back to the default. */
static _Thread_local const attr *wrong_attr;
static _Thread_local int wrong_want;

static const char *attr_type_name(int type)
{
    static const char *names[] = {"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints",
                                  "strings", "tensors", "graphs", "sparse tensor", "sparse tensors", "type proto",
                                  "type protos"};
    return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "unknown";
}

/* The attribute when it has type `want` (or `also`), NULL when absent; records a wrong type. */
static const attr *attr_typed(const node *n, const char *name, int want, int also)
{
    const attr *a = attr_find(n, name);
    if (!a || a->type == want || a->type == also) return a;
    if (!wrong_attr) {
        wrong_attr = a;
        wrong_want = want;
    }
    return NULL;
}

ei_status attr_type_error(op_ctx *ctx)
{
    const attr *a = wrong_attr;
    wrong_attr = NULL;
    if (!a) return EI_STATUS_OK;
    return op_fail(ctx, EI_STATUS_INVALID_MODEL, "attribute '%s' has type %s, expected %s", a->name,
                   attr_type_name(a->type), attr_type_name(wrong_want));
}

void attr_type_reset(void) { wrong_attr = NULL; }

int64_t attr_int(const node *n, const char *name, int64_t def)
{
    const attr *a = attr_typed(n, name, ATTR_INT, ATTR_INT);
    return a ? a->i : def;
}

float attr_float(const node *n, const char *name, float def)
{
    const attr *a = attr_typed(n, name, ATTR_FLOAT, ATTR_INT);
    if (!a) return def;
    return a->type == ATTR_FLOAT ? a->f : (float)a->i;
}

const char *attr_str(const node *n, const char *name, const char *def)
{
    const attr *a = attr_typed(n, name, ATTR_STRING, ATTR_STRING);
    return a ? a->s : def;
}

int attr_ints(const node *n, const char *name, const int64_t **v)
{
    const attr *a = attr_typed(n, name, ATTR_INTS, ATTR_INTS);
    if (!a) return -1;
    *v = a->ints;
    return a->n;
}

int attr_floats(const node *n, const char *name, const float **v)
{
    const attr *a = attr_typed(n, name, ATTR_FLOATS, ATTR_FLOATS);
    if (!a) return -1;
    *v = a->floats;
    return a->n;
}

const ei_tensor *attr_tensor(const node *n, const char *name)
{
    const attr *a = attr_typed(n, name, ATTR_TENSOR, ATTR_TENSOR);
    return a ? &a->tensors[0] : NULL;
}

/* ---- tensors ---- */

/* Float to integer without undefined behaviour: NaN and out-of-range values
 * (which hostile models can supply) become INT64_MIN, as x86 does. */
static int64_t f2i(double v)
{
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (int64_t)v : INT64_MIN;
}

static uint64_t f2u(double v)
{
    if (v >= 0 && v < 18446744073709551616.0) return (uint64_t)v;
    return (uint64_t)f2i(v);
}

int64_t tensor_get_i64(const ei_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case EI_DTYPE_INT64: return ((const int64_t *)p)[i];
    case EI_DTYPE_INT32: return ((const int32_t *)p)[i];
    case EI_DTYPE_INT16: return ((const int16_t *)p)[i];
    case EI_DTYPE_INT8: return ((const int8_t *)p)[i];
    case EI_DTYPE_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case EI_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case EI_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case EI_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case EI_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case EI_DTYPE_FLOAT32: return f2i(((const float *)p)[i]);
    case EI_DTYPE_FLOAT64: return f2i(((const double *)p)[i]);
    default: return 0;
    }
}

double tensor_get_f64(const ei_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EI_DTYPE_FLOAT16: return half_to_double(((const uint16_t *)t->data)[i]);
    case EI_DTYPE_FLOAT32: return ((const float *)t->data)[i];
    case EI_DTYPE_FLOAT64: return ((const double *)t->data)[i];
    case EI_DTYPE_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return (double)tensor_get_i64(t, i);
    }
}

void tensor_set_f64(ei_tensor *t, int64_t i, double v)
{
    void *p = t->data;
    switch (t->dtype) {
    case EI_DTYPE_FLOAT32: ((float *)p)[i] = (float)v; break;
    case EI_DTYPE_FLOAT64: ((double *)p)[i] = v; break;
    case EI_DTYPE_INT64: ((int64_t *)p)[i] = f2i(v); break;
    case EI_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)f2i(v); break;
    case EI_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)f2i(v); break;
    case EI_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)f2i(v); break;
    case EI_DTYPE_UINT64: ((uint64_t *)p)[i] = f2u(v); break;
    case EI_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)f2u(v); break;
    case EI_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)f2u(v); break;
    case EI_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)f2u(v); break;
    case EI_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
    }
}

bool norm_axis(int64_t *axis, int rank)
{
    if (*axis < -rank || *axis >= rank) return false;
    if (*axis < 0) *axis += rank;
    return true;
}

void shape_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        /* Shapes obey the one shape rule, so this fits; unsigned arithmetic keeps a shape that
         * does not (a caller's bug) from being undefined behaviour as well. */
        s = (int64_t)((uint64_t)s * (uint64_t)dims[d]);
    }
}

bool dtype_is_float(int32_t dtype)
{
    return dtype == EI_DTYPE_FLOAT32 || dtype == EI_DTYPE_FLOAT64 || dtype == EI_DTYPE_FLOAT16;
}

bool dtype_is_int(int32_t dtype)
{
    switch (dtype) {
    case EI_DTYPE_INT8: case EI_DTYPE_INT16: case EI_DTYPE_INT32: case EI_DTYPE_INT64:
    case EI_DTYPE_UINT8: case EI_DTYPE_UINT16: case EI_DTYPE_UINT32: case EI_DTYPE_UINT64:
        return true;
    default:
        return false;
    }
}

/* ---- broadcasting ---- */

bool bcast_shape(int n, const ei_tensor *const *ins, int *rank, int64_t *dims)
{
    int r = 0;
    for (int i = 0; i < n; i++)
        if (ins[i]->rank > r) r = ins[i]->rank;
    for (int d = 0; d < r; d++) {
        int64_t dim = 1;
        for (int i = 0; i < n; i++) {
            int k = d - (r - ins[i]->rank);
            if (k < 0) continue;
            int64_t v = ins[i]->dims[k];
            if (v == dim || v == 1) continue;
            if (dim != 1) return false;
            dim = v;
        }
        dims[d] = dim;
    }
    *rank = r;
    return true;
}

void bcast_init(bcast *b, const ei_tensor *out, int n, const ei_tensor *const *ins)
{
    int r = out->rank;
    int64_t dims[EI_MAX_DIMS], st[BCAST_MAX_IN][EI_MAX_DIMS];
    b->n = n;
    for (int i = 0; i < n; i++) {
        int64_t s = 1;
        for (int d = r - 1; d >= 0; d--) {
            int k = d - (r - ins[i]->rank);
            int64_t v = k >= 0 ? ins[i]->dims[k] : 1;
            st[i][d] = (v == 1) ? 0 : s;
            s *= v;
        }
        b->esize[i] = dtype_size(ins[i]->dtype);
    }
    b->esize[n] = dtype_size(out->dtype);
    for (int d = 0; d < r; d++) dims[d] = out->dims[d];

    /* Drop size-1 dims, then merge neighbours that are contiguous for every input. */
    int m = 0;
    for (int d = 0; d < r; d++) {
        if (dims[d] == 1) continue;
        if (m > 0) {
            bool merge = true;
            for (int i = 0; i < n; i++) {
                int64_t outer = b->stride[i][m - 1], inner = st[i][d];
                bool both_bcast = outer == 0 && inner == 0;
                bool contiguous = inner != 0 && outer == inner * dims[d];
                if (!both_bcast && !contiguous) merge = false;
            }
            if (merge) {
                b->dims[m - 1] *= dims[d];
                for (int i = 0; i < n; i++) b->stride[i][m - 1] = st[i][d];
                continue;
            }
        }
        b->dims[m] = dims[d];
        for (int i = 0; i < n; i++) b->stride[i][m] = st[i][d];
        m++;
    }
    if (m == 0) { /* a scalar, or all ones */
        b->dims[0] = 1;
        for (int i = 0; i < n; i++) b->stride[i][0] = 0;
        m = 1;
    }
    b->rank = m;
}

void bcast_run(const bcast *b, void *out, const void *const *in, bcast_row_fn fn, void *arg)
{
    int r = b->rank, n = b->n;
    int64_t inner = b->dims[r - 1];
    int64_t in_stride[BCAST_MAX_IN];
    for (int i = 0; i < n; i++) in_stride[i] = b->stride[i][r - 1] ? 1 : 0;
    for (int d = 0; d < r; d++)
        if (b->dims[d] == 0) return;

    int64_t idx[EI_MAX_DIMS] = {0};
    const char *ip[BCAST_MAX_IN];
    char *op = out;
    int64_t rows = 1;
    for (int d = 0; d < r - 1; d++) rows *= b->dims[d];
    for (int64_t row = 0; row < rows; row++) {
        int64_t off[BCAST_MAX_IN] = {0};
        for (int d = 0; d < r - 1; d++)
            for (int i = 0; i < n; i++) off[i] += idx[d] * b->stride[i][d];
        for (int i = 0; i < n; i++) ip[i] = (const char *)in[i] + off[i] * (int64_t)b->esize[i];
        fn(arg, op + row * inner * (int64_t)b->esize[n], (const void *const *)ip, in_stride, inner);
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < b->dims[d]) break;
            idx[d] = 0;
        }
    }
}

op_act_fn op_act_kernel(const op_ctx *ctx, f32_vunary_params *p)
{
    const fused_act *a = &ctx->n->act;
    if (!a->on) return NULL;
    *p = (f32_vunary_params){.alpha = a->alpha, .beta = a->beta, .lo = a->lo, .hi = a->hi};
    return f32_vunary_select((f32_vunary_op)a->op);
}

void op_apply_act(const op_ctx *ctx, float *y, size_t n)
{
    f32_vunary_params p;
    op_act_fn f = op_act_kernel(ctx, &p);
    if (f && n) f(y, y, n, &p);
}

typedef struct range_job {
    op_range_fn fn;
    void *arg;
    size_t n, per;
} range_job;

static void range_task(void *arg, size_t i, int thread)
{
    (void)thread;
    const range_job *j = arg;
    size_t b = i * j->per, e = b + j->per < j->n ? b + j->per : j->n;
    j->fn(j->arg, b, e);
}

void op_parallel_range(const op_ctx *ctx, size_t n, size_t grain, op_range_fn fn, void *arg)
{
    size_t threads = (size_t)op_threads(ctx);
    if (threads == 1 || n < 2 * grain) {
        fn(arg, 0, n);
        return;
    }
    size_t parts = 4 * threads, per = (n + parts - 1) / parts;
    if (per < grain) per = grain;
    range_job j = {fn, arg, n, (per + 15) / 16 * 16};
    op_parallel(ctx, (n + j.per - 1) / j.per, range_task, &j);
}
