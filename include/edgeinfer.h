/*
 * edgeinfer: a small ONNX inference runtime for the device in front of the user.
 *
 * This header is the whole public C API. A model is parsed once from its
 * serialized bytes; any number of sessions run it. Every function returns an
 * ei_status; when it is not EI_STATUS_OK, the handle involved keeps a message
 * that names what went wrong and where (ei_model_errmsg, ei_session_errmsg).
 * The library never prints, exits or aborts, and a failed call leaves the
 * handle usable for the next one.
 *
 * Example:
 *
 *     ei_model *model;
 *     if (ei_model_load(bytes, size, EI_LOAD_COPY, &model) != EI_STATUS_OK) {
 *         fprintf(stderr, "%s\n", ei_model_errmsg(model));
 *         ei_model_free(model);
 *         return 1;
 *     }
 *     ei_session *s;
 *     if (ei_session_create(model, &s) != EI_STATUS_OK) { ... ei_session_errmsg(s) ... }
 *
 *     float pixels[1 * 3 * 224 * 224] = {...};
 *     int64_t dims[4] = {1, 3, 224, 224};
 *     ei_tensor x = {EI_DTYPE_FLOAT32, 4, {0}, pixels};
 *     memcpy(x.dims, dims, sizeof dims);
 *     ei_session_set_input(s, 0, &x);          // data is borrowed until the run ends
 *     if (ei_session_run(s) != EI_STATUS_OK) { ... }
 *     ei_tensor y;
 *     ei_session_output(s, 0, &y);              // y.data valid until the next run or free
 *
 *     ei_session_free(s);
 *     ei_model_free(model);
 */
#ifndef EDGEINFER_H
#define EDGEINFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EI_VERSION "0.1.0"
#define EI_MAX_DIMS 8

typedef enum ei_status {
    EI_STATUS_OK = 0,
    EI_STATUS_INVALID_ARGUMENT = 1, /* the caller passed something unusable */
    EI_STATUS_INVALID_MODEL = 2,    /* malformed bytes or an inconsistent graph */
    EI_STATUS_UNSUPPORTED = 3,      /* valid ONNX that this build does not run */
    EI_STATUS_INVALID_SHAPE = 4,    /* shapes or dtypes that do not fit together */
    EI_STATUS_OUT_OF_MEMORY = 5,
    EI_STATUS_INVALID_STATE = 6,    /* e.g. run before every input was set */
    EI_STATUS_PENDING = 7           /* not an error: ei_session_run_step stopped before the end */
} ei_status;

/* Element types, numbered as ONNX TensorProto.DataType. */
typedef enum ei_dtype {
    EI_DTYPE_UNDEFINED = 0,
    EI_DTYPE_FLOAT32 = 1,
    EI_DTYPE_UINT8 = 2,
    EI_DTYPE_INT8 = 3,
    EI_DTYPE_UINT16 = 4,
    EI_DTYPE_INT16 = 5,
    EI_DTYPE_INT32 = 6,
    EI_DTYPE_INT64 = 7,
    EI_DTYPE_STRING = 8,
    EI_DTYPE_BOOL = 9,
    EI_DTYPE_FLOAT16 = 10,
    EI_DTYPE_FLOAT64 = 11,
    EI_DTYPE_UINT32 = 12,
    EI_DTYPE_UINT64 = 13,
    EI_DTYPE_BFLOAT16 = 16 /* raw bits; Cast converts it, other ops reject it */
} ei_dtype;

/*
 * A dense, row-major tensor. The layout is fixed (dtype at byte 0, rank at 4,
 * dims at 8, data after the dims) so that foreign callers such as the JS
 * loader can read it without helpers. `data` must be aligned to the element
 * size. A tensor never owns its data.
 */
typedef struct ei_tensor {
    int32_t dtype; /* ei_dtype */
    int32_t rank;
    int64_t dims[EI_MAX_DIMS];
    void *data;
} ei_tensor;

typedef struct ei_model ei_model;
typedef struct ei_session ei_session;

/* How ei_model_load treats the bytes it is given. */
enum {
    EI_LOAD_COPY = 0,   /* the library copies them; the caller may free its buffer at once */
    EI_LOAD_BORROW = 1, /* the caller keeps them alive and unchanged until ei_model_free */
    EI_LOAD_TAKE = 2    /* the library takes a malloc'd buffer and free()s it with the model */
};

/*
 * Parses a serialized ONNX ModelProto. On success *out is the model. On
 * failure *out is still set (unless memory ran out before it could be made):
 * it holds only the error message, and must be freed with ei_model_free.
 * With EI_LOAD_TAKE the buffer belongs to the library even when loading fails.
 * Weights are read in place from the bytes where their alignment allows.
 */
ei_status ei_model_load(const void *bytes, size_t size, int flags, ei_model **out);
void ei_model_free(ei_model *model);
const char *ei_model_errmsg(const ei_model *model);

/* Graph inputs (is_output = 0) and outputs (is_output = 1). Initializers are not inputs. */
int ei_model_io_count(const ei_model *model, int is_output);
const char *ei_model_io_name(const ei_model *model, int is_output, int index);
/* Index of the input or output with that name, or -1. */
int ei_model_io_index(const ei_model *model, int is_output, const char *name);
/* Declared dtype, rank and dims; a dim is -1 when it is symbolic or unknown, and its
 * name (or "" when it has none) comes from ei_model_io_dim_name. Rank -1: unknown. */
ei_dtype ei_model_io_dtype(const ei_model *model, int is_output, int index);
int ei_model_io_rank(const ei_model *model, int is_output, int index);
int64_t ei_model_io_dim(const ei_model *model, int is_output, int index, int axis);
const char *ei_model_io_dim_name(const ei_model *model, int is_output, int index, int axis);

/* Model facts: IR version, producer, the opset of the default domain. */
int64_t ei_model_ir_version(const ei_model *model);
const char *ei_model_producer(const ei_model *model);
int64_t ei_model_opset(const ei_model *model, const char *domain);
/* Nodes, for tools: op type, domain and name of node i in file order. */
int ei_model_node_count(const ei_model *model);
const char *ei_model_node_op(const ei_model *model, int index);
const char *ei_model_node_domain(const ei_model *model, int index);
const char *ei_model_node_name(const ei_model *model, int index);
/* 1 when this build runs node i's op at the model's opset (and every op of its subgraphs), else 0. */
int ei_model_node_supported(const ei_model *model, int index);
/* Bytes of initializer data. */
size_t ei_model_weight_bytes(const ei_model *model);

/*
 * Limits. A model or an input may come from anyone, so what a session agrees
 * to do is bounded; beyond a bound the call fails with a message naming it
 * (EI_STATUS_INVALID_SHAPE for a tensor, EI_STATUS_OUT_OF_MEMORY for the
 * session's memory, EI_STATUS_INVALID_ARGUMENT for loop iterations), never
 * with an attempt. Fixed by the build:
 *  - EI_MAX_TENSOR_BYTES: the largest tensor (2 GiB natively, 1 GiB in wasm32).
 *    The shape rule, checked where every shape is born (initializers,
 *    declared and fed inputs, every inferred output): each dim >= 0, and the
 *    product of the non-zero dims times the element size is at most this, so
 *    a zero-element tensor such as [0, 2^40, 2^40] is refused too.
 *  - EI_MAX_NODES nodes (and as many initializers) per graph, subgraphs nested at most
 *    EI_MAX_GRAPH_DEPTH deep.
 * Settable per session (ei_session_options.limits), defaults from ei_limits_default:
 *  - tensor_bytes: the largest tensor, at most EI_MAX_TENSOR_BYTES.
 *  - session_bytes: the session's memory: the activation arena, constants
 *    folded at plan time, op state and scratch, and per-run buffers.
 *    Default EI_DEFAULT_SESSION_BYTES (2 GiB natively, 1 GiB in wasm32).
 *  - loop_iterations: Loop and Scan body runs in one ei_session_run, nested
 *    loops included (a nest of loops multiplies). Default 2^24.
 */
#if SIZE_MAX <= UINT32_MAX
#define EI_MAX_TENSOR_BYTES ((int64_t)1 << 30)
#define EI_DEFAULT_SESSION_BYTES ((int64_t)1 << 30)
#else
#define EI_MAX_TENSOR_BYTES ((int64_t)1 << 31)
#define EI_DEFAULT_SESSION_BYTES ((int64_t)1 << 31)
#endif
#define EI_MAX_NODES (1 << 20)
#define EI_MAX_GRAPH_DEPTH 8
#define EI_DEFAULT_LOOP_ITERATIONS ((int64_t)1 << 24)

typedef struct ei_limits {
    int64_t tensor_bytes;
    int64_t session_bytes;
    int64_t loop_iterations;
} ei_limits;

void ei_limits_default(ei_limits *limits);

/*
 * A pool of threads that sessions split their heavier nodes across (convolution and matrix
 * product tiles, depthwise channels, long elementwise ranges). `threads` counts the calling
 * thread: a pool of 4 starts 3 workers, and the thread that calls ei_session_run works too.
 * A pool runs one node at a time: sessions on different threads may share one, and a run
 * that finds it busy runs alone on its own thread. Free it after the sessions using it.
 * Natively the workers are pthreads. In wasm the pool starts none: the loader runs
 * ei_threadpool_work in each Web Worker sharing the instance's memory; the single-threaded
 * wasm builds fail any pool of more than one thread with EI_STATUS_UNSUPPORTED.
 */
#define EI_MAX_THREADS 64
typedef struct ei_threadpool ei_threadpool;
ei_status ei_threadpool_create(int threads, ei_threadpool **out);
void ei_threadpool_free(ei_threadpool *pool);
int ei_threadpool_threads(const ei_threadpool *pool);
/* The loop of worker `index` (1 .. threads-1) of a wasm pool; returns when the pool is freed. */
void ei_threadpool_work(ei_threadpool *pool, int index);

/* How a session is made: its limits, and the pool its runs use (NULL: the calling thread only). */
typedef struct ei_session_options {
    ei_limits limits;
    ei_threadpool *threadpool;
} ei_session_options;

void ei_session_options_default(ei_session_options *options);

/*
 * A session holds the run-time state of one model: the activation arena, its
 * plan and the outputs. The model must outlive its sessions. On failure *out
 * is set like ei_model_load's. Creating a session checks every op; the
 * activation arena is planned from the declared input shapes when they are
 * all fixed, otherwise at the first run, and again whenever input shapes change.
 */
ei_status ei_session_create(const ei_model *model, ei_session **out);
/* The same with options other than the defaults (NULL: the defaults). Each limit must be > 0;
 * tensor_bytes above EI_MAX_TENSOR_BYTES is EI_MAX_TENSOR_BYTES. */
ei_status ei_session_create_with(const ei_model *model, const ei_session_options *options, ei_session **out);
void ei_session_free(ei_session *session);
const char *ei_session_errmsg(const ei_session *session);

/* Binds input `index` to caller data. The data is read during ei_session_run
 * and must stay valid until it returns; the library never writes to it. */
ei_status ei_session_set_input(ei_session *session, int index, const ei_tensor *tensor);
ei_status ei_session_run(ei_session *session);
/*
 * The same run in slices, for a caller that must stay responsive or be able to stop
 * (a browser's main thread): each call runs nodes until `budget` of them (those of subgraphs
 * included; at least one) have run, then returns EI_STATUS_PENDING; call it again to go on. The run ends
 * with the call that returns EI_STATUS_OK (outputs ready) or an error. A slice ends between
 * two nodes of the model's graph or between two iterations of a Loop or Scan of that graph,
 * so one node (one iteration of such a loop, loops nested in it included) may run past the
 * budget. The inputs stay bound and their data valid until the run ends.
 * ei_session_run_cancel abandons a run under way (ei_session_set_input and ei_session_run
 * do too) and leaves the session ready for the next run.
 */
ei_status ei_session_run_step(ei_session *session, int64_t budget);
void ei_session_run_cancel(ei_session *session);
/* Output `index` of the last successful run; its data stays valid until the next
 * run, a failed run, or ei_session_free. */
ei_status ei_session_output(ei_session *session, int index, ei_tensor *out);
/* Bytes of the activation arena of the current plan (0 before a plan exists). */
size_t ei_session_arena_bytes(const ei_session *session);
/* The session's compiled graph, in execution order: what runs after the compile passes (wires
 * removed, BatchNormalization folded, biases and activations fused into the node before them). */
int ei_session_node_count(const ei_session *session);
/* Node i's op type; its name ("" when unnamed); what the compile step merged into it, such as
 * "BatchNormalization+Relu" ("" when nothing). NULL when i is out of range. */
const char *ei_session_node_op(const ei_session *session, int index);
const char *ei_session_node_name(const ei_session *session, int index);
const char *ei_session_node_fused(const ei_session *session, int index);
/* The node the current or last run is at, as "node 'conv1' (Conv, opset 13)": the one that
 * failed or was running when the run stopped (a paused run goes on there); NULL after a whole
 * run, before any run and while a run plans. Lets a caller whose run was cut short from
 * outside (a trap of the wasm build) name the node. The text lasts until the next call. */
const char *ei_session_run_node(const ei_session *session);

/*
 * Decodes a serialized ONNX TensorProto (such as the .pb files of the ONNX
 * test suites). *out gets dtype, dims and a malloc'd copy of the data that the
 * caller frees with ei_tensor_free_data. float16 becomes float32 (bfloat16 stays raw bits). A short
 * message goes to `err` (size errlen) on failure.
 */
ei_status ei_tensor_decode(const void *bytes, size_t size, ei_tensor *out, char *name, size_t namelen,
                           char *err, size_t errlen);
void ei_tensor_free_data(ei_tensor *tensor);

/* Helpers. */
size_t ei_dtype_size(ei_dtype dtype); /* 0 for unsupported types */
const char *ei_dtype_name(ei_dtype dtype);
int64_t ei_tensor_numel(const ei_tensor *tensor);
const char *ei_status_name(ei_status status);
/* A 32-bit checksum of `size` bytes, to tell whether they changed (not a cryptographic hash). */
uint32_t ei_checksum(const void *bytes, size_t size);

#ifdef __cplusplus
}
#endif
#endif
