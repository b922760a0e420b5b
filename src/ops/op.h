/*
 * The operator interface. Every ONNX op is one row of a registry table:
 *
 *   {op_type, domain, since_version, infer, prepare, run, flags}
 *
 * looked up by name and the highest since_version <= the model's opset. Opset
 * differences live inside the op's own code (read ctx->opset), not in copies.
 *
 * Lifecycle (tflite-micro's init/prepare/invoke):
 *  - infer: pure. Checks dtypes, shapes and attributes, sets every output's
 *    dtype and dims with set_output, and may ask for scratch memory (bytes the
 *    run may use, valid during that run only) in ctx->scratch_bytes. At plan time
 *    an input whose value is not known yet has data == NULL; an infer that needs
 *    a value (Reshape's shape, Slice's starts ...) returns NEED_DATA(ctx, i) and
 *    the session then plans at every run instead. Infer may use temporary
 *    heap memory that it frees before returning (Unique counts distinct values);
 *    it never runs inside a planned run.
 *  - prepare (optional): may allocate persistent memory with op_alloc (packed
 *    weights, tables) and keep it in ctx->state. Constant inputs have data here
 *    (test with in_is_const: activations already point into the arena too).
 *  - run: computes outputs from inputs. Never allocates. Returns an error only
 *    for data-dependent faults (an index out of range), never on valid shapes.
 */
#ifndef EI_OP_H
#define EI_OP_H

#include <math.h>
#include <string.h>

#include "../graph/graph.h"
#include "../graph/threadpool.h"

/* An infer asking for the value of an input that is not known at plan time. */
#define EI_STATUS_NEEDS_DATA ((ei_status)100)

typedef struct op_ctx {
    ei_session *s;
    const node *n;
    int opset;           /* the model's opset for this node's domain */
    int n_in, n_out;     /* as written in the node, absent optional ones included */
    ei_tensor **in;      /* in[i] is NULL when input i is absent */
    ei_tensor **out;     /* out[i] is NULL when output i is not wanted; out[0] is
                          * always there unless the op has OP_OUTPUTS_OPTIONAL */
    size_t scratch_bytes; /* infer: set to the scratch bytes run needs */
    void *scratch;       /* run: EI_ALIGN-aligned scratch of scratch_bytes */
    void *state;         /* prepare sets, run reads */
    bool at_plan;        /* infer/prepare called while planning (values may be unknown) */
} op_ctx;

typedef ei_status (*op_fn)(op_ctx *ctx);

enum {
    OP_INPLACE = 1,    /* output 0 may share input 0's buffer (same byte size) */
    OP_SHAPE_ONLY = 2, /* run reads only the shapes of its inputs (Shape, Size): fold at plan */
    OP_OUTPUTS_OPTIONAL = 4, /* every output may be absent, the first one too (RNN, GRU, LSTM) */
    /* Output shapes are known only by running (If, Loop, Scan): infer returns
     * EI_STATUS_NEEDS_DATA, and in the per-run mode the session calls run without
     * placing outputs; run places each one with op_output_alloc. */
    OP_DYNAMIC_OUTPUTS = 8
};

typedef struct op_def {
    const char *op_type;
    const char *domain; /* "" for ai.onnx */
    int since;
    op_fn infer, prepare, run;
    unsigned flags;
} op_def;

/* Registry: one table per op family file, gathered in registry.c. */
const op_def *op_lookup(const char *op_type, const char *domain, int64_t opset);
/* The row that runs node n at its opset, or NULL when this build lacks it. */
const op_def *node_op(const node *n);
/* Rows registered twice (same op, domain and since_version); the first goes to buf. For tests. */
int op_registry_duplicates(char *buf, size_t len);

/* ---- errors: "node 'conv1' (Conv, opset 13): <message>" into the session ---- */
ei_status op_fail(op_ctx *ctx, ei_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define CHECK(ctx, cond, ...) \
    do { if (!(cond)) return op_fail((ctx), EI_STATUS_INVALID_MODEL, __VA_ARGS__); } while (0)
#define CHECK_SHAPE(ctx, cond, ...) \
    do { if (!(cond)) return op_fail((ctx), EI_STATUS_INVALID_SHAPE, __VA_ARGS__); } while (0)
#define CHECK_SUPPORTED(ctx, cond, ...) \
    do { if (!(cond)) return op_fail((ctx), EI_STATUS_UNSUPPORTED, __VA_ARGS__); } while (0)
#define TRY(expr) \
    do { ei_status try_st_ = (expr); if (try_st_ != EI_STATUS_OK) return try_st_; } while (0)
/* Inside infer: return this when input i is present but its value is not known yet. */
#define NEED_DATA(ctx, i) \
    do { if ((ctx)->in[(i)] && !(ctx)->in[(i)]->data) return EI_STATUS_NEEDS_DATA; } while (0)

/* ---- inputs, outputs ---- */
static inline bool has_in(const op_ctx *ctx, int i) { return i < ctx->n_in && ctx->in[i]; }
static inline bool has_out(const op_ctx *ctx, int i) { return i < ctx->n_out && ctx->out[i]; }
/* True when input i is a constant of the plan being made (a weight, or folded): infer and
 * prepare may then size and pack it once. At plan time other inputs may already point
 * into the activation arena, so `data != NULL` alone does not mean the value is known.
 * Always false in dynamic runs, where infer and prepare run again every time. */
static inline bool in_is_const(const op_ctx *ctx, int i)
{
    if (!ctx->at_plan || !has_in(ctx, i) || !ctx->in[i]->data) return false;
    int v = ctx->n->in[i];
    return v >= 0 && ctx->s->known && ctx->s->known[v];
}
/* Checks the input count is in [lo, hi] and inputs [0, required) are present. */
ei_status check_arity(op_ctx *ctx, int lo, int hi, int required);
/* Sets output i's dtype and dims (a no-op when the output is not wanted). */
ei_status set_output(op_ctx *ctx, int i, int32_t dtype, int rank, const int64_t *dims);
/* Fails unless input i has one of the listed dtypes (list ends with 0). */
ei_status check_dtype(op_ctx *ctx, int i, const int32_t *allowed);
/* For OP_DYNAMIC_OUTPUTS ops in run: sets output i's dtype and dims and gives it memory. */
ei_status op_output_alloc(op_ctx *ctx, int i, int32_t dtype, int rank, const int64_t *dims);
/* The session running subgraph attribute `a` of this node (If, Loop, Scan): made and compiled at
 * the first call, then the same one for the session's life. The caller binds its inputs. */
ei_status op_subsession(op_ctx *ctx, const attr *a, ei_session **out);
/* Plans that session for inputs of these dtypes and dims (their data is not read). *is_static tells
 * whether its output shapes are then known (the subgraph needs no values to plan); if so, outputs
 * (one per subgraph output) get their dtypes and dims. */
ei_status op_subsession_plan(op_ctx *ctx, ei_session *cs, const ei_tensor *inputs, ei_tensor *outputs,
                             bool *is_static);
/* Loop and Scan count each body run: fails past the session's ei_limits.loop_iterations. */
ei_status op_count_iteration(op_ctx *ctx);
/* Threads a run may split this node across: infer sizes per-thread scratch with it. */
static inline int op_threads(const op_ctx *ctx) { return ei_threadpool_threads(ctx->s->pool); }
/* Runs fn(arg, i, thread) for i in [0, tasks) on the session's threads; thread is in [0, op_threads). */
static inline void op_parallel(const op_ctx *ctx, size_t tasks, tp_task fn, void *arg)
{
    tp_run(ctx->s->pool, tasks, fn, arg);
}
/* Calls fn(arg, begin, end) on consecutive ranges covering [0, n), split across the session's
 * threads when n is at least 2 * grain (ranges start at multiples of 16 elements); else once. */
typedef void (*op_range_fn)(void *arg, size_t begin, size_t end);
void op_parallel_range(const op_ctx *ctx, size_t n, size_t grain, op_range_fn fn, void *arg);
/* Loop and Scan, between two iterations (after at least one since the node started or resumed, so
 * that every slice makes progress): true when ei_session_run_step's slice is used up and
 * this node may pause (it is in the model's graph). The session then keeps `progress`, and the
 * op returns EI_STATUS_PENDING; when the node runs again, op_resumed gives it back (NULL on a
 * fresh start). An abandoned run frees it with progress_free. */
bool op_pause(op_ctx *ctx, void *progress, void (*progress_free)(void *));
void *op_resumed(op_ctx *ctx);
/* n floats rounded up to whole 64-byte blocks: scratch regions carved in these stay aligned. */
static inline size_t floats_aligned(size_t n) { return (n + 15) / 16 * 16; }
/* Persistent memory for prepare; lives until the session re-plans or is freed. */
void *op_alloc(op_ctx *ctx, size_t bytes);
/* The same, not zeroed (but for the padding): for packed weights, which prepare writes in full. */
void *op_alloc_uninit(op_ctx *ctx, size_t bytes);

/* Applies the activation the compile step fused into this node (node.act) to y[0, n), in place;
 * a no-op when there is none. Ops call it on each block of output they have just written. */
void op_apply_act(const op_ctx *ctx, float *y, size_t n);
/* The same as a kernel and its parameters, for kernels that apply it themselves; NULL when none. */
struct f32_vunary_params;
typedef void (*op_act_fn)(const float *x, float *y, size_t n, const struct f32_vunary_params *p);
op_act_fn op_act_kernel(const op_ctx *ctx, struct f32_vunary_params *p);

/* ---- attributes (def is returned when the attribute is absent) ----
 * An attribute present with another type also gives def, and is recorded: the session then
 * fails the node with attr_type_error ("attribute 'axis' has type float, expected int"). */
const attr *attr_find(const node *n, const char *name);
int64_t attr_int(const node *n, const char *name, int64_t def);
float attr_float(const node *n, const char *name, float def);
const char *attr_str(const node *n, const char *name, const char *def);
/* Count of a list attribute and its values in *v, or -1 when absent. */
int attr_ints(const node *n, const char *name, const int64_t **v);
int attr_floats(const node *n, const char *name, const float **v);
const ei_tensor *attr_tensor(const node *n, const char *name);
/* The session's side: forget any record, and turn one into the node's error (OK when none). */
void attr_type_reset(void);
ei_status attr_type_error(op_ctx *ctx);

/* ---- tensors ---- */
static inline int64_t numel(const ei_tensor *t) { return shape_numel(t->rank, t->dims); }
/* Element i of an integer or float tensor of any numeric dtype, converted. */
int64_t tensor_get_i64(const ei_tensor *t, int64_t i);
double tensor_get_f64(const ei_tensor *t, int64_t i);
void tensor_set_f64(ei_tensor *t, int64_t i, double v);
/* Normalises a possibly negative axis into [0, rank); false when out of range. */
bool norm_axis(int64_t *axis, int rank);
/* Row-major element strides of a shape. */
void shape_strides(int rank, const int64_t *dims, int64_t *strides);
bool dtype_is_float(int32_t dtype);
bool dtype_is_int(int32_t dtype); /* signed or unsigned integers, not bool */

/* ---- numpy broadcasting, shared by every elementwise op ----
 * bcast_shape computes the broadcast of n shapes (false if incompatible).
 * bcast_init prepares an iteration over the output; bcast_run then calls
 * fn once per innermost row with the row's pointers and per-input element
 * strides (0 for a broadcast input, 1 otherwise). Dimensions that are
 * contiguous for every operand are merged, so a same-shape op is one row. */
#define BCAST_MAX_IN 4
bool bcast_shape(int n, const ei_tensor *const *ins, int *rank, int64_t *dims);

typedef struct bcast {
    int n;               /* inputs */
    int rank;            /* after merging */
    int64_t dims[EI_MAX_DIMS];
    int64_t stride[BCAST_MAX_IN][EI_MAX_DIMS]; /* element strides of each input, 0 where broadcast */
    size_t esize[BCAST_MAX_IN + 1]; /* element sizes of inputs, then output */
} bcast;

typedef void (*bcast_row_fn)(void *arg, void *out, const void *const *in, const int64_t *in_stride, int64_t n);
void bcast_init(bcast *b, const ei_tensor *out, int n, const ei_tensor *const *ins);
void bcast_run(const bcast *b, void *out, const void *const *in, bcast_row_fn fn, void *arg);

#endif
