/*
 * The in-memory graph: what the loader builds from a ModelProto and what a
 * session plans and runs. A model is immutable once loaded; all run-time
 * state (shapes, buffers, op state) lives in the session.
 */
#ifndef EI_GRAPH_H
#define EI_GRAPH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeinfer.h"

#define EI_ERRMSG_LEN 1024
#define EI_ALIGN 64   /* alignment of every buffer the library places */
#define EI_PAD 16     /* bytes past every buffer, so a vector load may run over a tail */
/* Elements up to this size are read in place from the model bytes at any address: wasm loads
 * work at any alignment, so the wasm build skips copying a weight that protobuf left unaligned
 * (a copy is one more write of fresh memory, which dominates creating a session). Natively an
 * element must sit at a multiple of its size. */
#if defined(__wasm__)
#define EI_UNALIGNED_MAX 4
#else
#define EI_UNALIGNED_MAX 0
#endif

/* What a buffer of `bytes` occupies when placed: the pad, rounded up to the alignment. */
static inline size_t padded_size(size_t bytes)
{
    return (bytes + EI_PAD + EI_ALIGN - 1) & ~(size_t)(EI_ALIGN - 1);
}

/* ---- persistent arena: bump allocation in chunks, freed all at once ---- */
typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;
    size_t total;
} arena;

void *arena_alloc(arena *a, size_t bytes); /* zeroed, EI_ALIGN-aligned, NULL when out of memory */
/* The same with only the padding past `bytes` zeroed, for data the caller writes in full (weights
 * copied or packed at load: zeroing them first is one more pass over fresh memory). */
void *arena_alloc_uninit(arena *a, size_t bytes);
char *arena_strndup(arena *a, const char *s, size_t len);
void arena_free(arena *a);

/* ---- attributes, numbered as AttributeProto.AttributeType ---- */
enum {
    ATTR_UNDEFINED = 0,
    ATTR_FLOAT = 1,
    ATTR_INT = 2,
    ATTR_STRING = 3,
    ATTR_TENSOR = 4,
    ATTR_GRAPH = 5,
    ATTR_FLOATS = 6,
    ATTR_INTS = 7,
    ATTR_STRINGS = 8,
    ATTR_TENSORS = 9,
    ATTR_GRAPHS = 10,
    ATTR_SPARSE_TENSOR = 11,
    ATTR_SPARSE_TENSORS = 12,
    ATTR_TYPE_PROTO = 13,
    ATTR_TYPE_PROTOS = 14
};

typedef struct attr {
    const char *name;
    int type;
    int64_t i;
    float f;
    const char *s;      /* NUL-terminated copy; s_len excludes the NUL */
    size_t s_len;
    int n;              /* element count of a list attribute */
    int64_t *ints;      /* [n] */
    float *floats;      /* [n] */
    const char **strings; /* [n] */
    ei_tensor *tensors; /* [n] for TENSORS, [1] for TENSOR */
    const uint8_t *graph; /* raw GraphProto bytes of a GRAPH attribute */
    size_t graph_len;
    struct ei_model *sub; /* that graph, parsed (If's branches, Loop's and Scan's body) */
} attr;

struct op_def;

/* An elementwise activation the compile step merged into the node that produces its input
 * (Conv, ConvTranspose, Gemm, MatMul), when `on`: op is an f32_vunary_op (kernels/f32_vunary.h)
 * and the parameters mean what that op's kernel reads. */
typedef struct fused_act {
    bool on;
    int op;
    float alpha, beta, lo, hi;
} fused_act;

typedef struct node {
    const char *name;   /* may be "" */
    const char *label;  /* the name, or the first output's name when the node has none */
    const char *op_type;
    const char *domain; /* "" for ai.onnx */
    int n_in, n_out;
    int *in, *out;      /* value indices; -1 for an absent optional input or output */
    int n_attr;
    attr *attrs;
    const struct op_def *op; /* NULL when this build lacks the op */
    int opset;          /* opset version of the node's domain in this model */
    int n_implicit;     /* values of this graph that its subgraphs read (outer scope) */
    int *implicit;
    /* set by the compile step (compile.c) on a session's own copy of the graph */
    fused_act act;      /* applied to output 0 after the op's own result */
    const char *fused;  /* what was merged into this node, "BatchNormalization+Relu"; NULL if nothing */
    bool dead;          /* removed by a pass; gone after graph_compact */
} node;

/* VALUE_OUTER: in a subgraph, a value of an enclosing graph; bound like an input. */
/* Input k of a node counting its implicit (outer-scope) inputs after its own: k < n_in + n_implicit. */
#define node_input(nd, k) ((k) < (nd)->n_in ? (nd)->in[(k)] : (nd)->implicit[(k) - (nd)->n_in])

enum { VALUE_ACTIVATION = 0, VALUE_INPUT = 1, VALUE_CONST = 2, VALUE_OUTER = 3 };

typedef struct value {
    const char *name;
    int kind;
    int producer;       /* node index, or -1 */
    int last_use;       /* position in exec order of the last node reading it; -1 if none */
    bool is_output;
    ei_tensor init;     /* VALUE_CONST: the initializer (data in the model bytes or arena) */
    /* declared type from a ValueInfoProto, when there was one */
    bool has_decl;
    int32_t decl_dtype;
    int decl_rank;      /* -1: unknown */
    int64_t decl_dims[EI_MAX_DIMS]; /* -1: symbolic or unknown */
    const char *decl_dim_names[EI_MAX_DIMS];
} value;

typedef struct opset_id {
    const char *domain;
    int64_t version;
} opset_id;

struct ei_model {
    char errmsg[EI_ERRMSG_LEN];
    const uint8_t *bytes;
    size_t size;
    uint8_t *owned;     /* bytes we free with the model */
    arena mem;
    int64_t ir_version;
    const char *producer;
    int n_opsets;
    opset_id *opsets;
    int n_values, cap_values; /* cap_values: room in values[] (a compiled graph adds constants) */
    value *values;
    int n_nodes;
    node *nodes;        /* file order */
    int *order;         /* [n_nodes] execution (topological) order of node indices */
    int n_inputs, n_outputs;
    int *inputs, *outputs; /* value indices */
    size_t weight_bytes;
    /* A subgraph lists its outer values after its graph inputs: inputs[n_graph_inputs ..
     * n_inputs) are VALUE_OUTER, and outer_src[k] is the enclosing graph's value index for
     * inputs[n_graph_inputs + k]. A top-level model has no outer values. */
    int n_graph_inputs;
    int *outer_src;
    int depth;          /* 0 for the model, 1 for its subgraphs, ... */
    struct ei_model *children, *next; /* subgraphs, freed with their model */
};


/* Fills value.last_use from the execution order. */
void model_compute_last_use(ei_model *m);

/* ---- session internals ---- */
typedef struct node_rt {
    ei_tensor **in, **out; /* [n_in], [n_out]; NULL entries for absent optional ones */
    void *state;           /* set by the op's prepare, lives until the next plan */
    size_t scratch_bytes;  /* set by the op's infer */
    size_t scratch_off;
    bool folded;           /* computed once at plan time from constants */
    /* control flow: a session per subgraph attribute (If has two), made at its first run and
     * kept for the session's life, so a subgraph is compiled and planned once, not per run */
    struct ei_session *sub[2];
    const attr *sub_of[2]; /* the attribute each was made for */
    /* a Loop or Scan paused by ei_session_run_step between two iterations: its progress, taken
     * back when the node runs again, freed with resume_free when the run is abandoned */
    void *resume;
    void (*resume_free)(void *);
} node_rt;

struct ei_session {
    char errmsg[EI_ERRMSG_LEN];
    const ei_model *m;     /* the session's compiled graph (compile.c); NULL when creation failed */
    ei_model *compiled;    /* the same, owned */
    arena mem;             /* per-session structures that live as long as it does */
    ei_tensor *t;          /* [n_values] current dtype, dims and data of every value */
    bool *known;           /* [n_values] data known at plan time (constant or folded) */
    node_rt *rt;           /* [n_nodes], by node index */
    ei_tensor *bound;      /* [n_inputs] what the caller bound */
    bool *is_bound;
    bool planned, dynamic, ran;
    ei_tensor *plan_inputs; /* [n_inputs] the input shapes the plan was made for */
    uint8_t *arena_raw;    /* malloc'd activation arena */
    uint8_t *arena_base;   /* aligned */
    size_t arena_bytes;
    arena plan_mem;        /* folded constants and op state of the current plan */
    void **dyn;            /* [n_values] dynamic mode: malloc'd buffers */
    size_t *dyn_size;      /* [n_values] their sizes */
    size_t dyn_bytes;      /* their sum, with per-run scratch */
    ei_limits limits;
    ei_threadpool *pool;   /* the threads runs split nodes across; NULL: the calling thread only */
    int64_t iterations;    /* Loop/Scan body runs in the current run (the root session's count) */
    int64_t *iter_count;   /* where this session counts them: its own, or its root's */
    int64_t slice;         /* node runs left in the current ei_session_run_step (the root's count) */
    int64_t *slice_left;   /* where this session counts its node runs: its own, or its root's */
    bool stepping;         /* a run made of ei_session_run_step calls is under way (root only) */
    bool replanned;        /* that run made a new plan */
    int pos;               /* the position in execution order a run is at (ei_session_run_node), -1 while planning */
};

/* A session for a subgraph, sharing its parent's limits and iteration count. */
ei_status session_create_child(const ei_session *parent, const ei_model *m, ei_session **out);

/* Memory planner (planner.c): places buffers in one arena. */
typedef struct plan_buf {
    size_t size;
    int first, last;   /* live from the step that writes it to the last step that reads it */
    size_t offset;     /* result */
} plan_buf;
/* Returns the arena size, or SIZE_MAX when out of memory. */
size_t plan_place(plan_buf *bufs, int n);

/* The first node, in this graph or its subgraphs, whose op this build lacks; *count counts them. */
const node *model_find_unsupported(const ei_model *m, int *count);

size_t dtype_size(int32_t dtype);
/* IEEE half precision <-> double: widening is exact; narrowing rounds to nearest even in one
 * step (through float it would round twice), overflow goes to infinity, NaN keeps its sign. */
double half_to_double(uint16_t h);
uint16_t half_from_double(double v);
int64_t shape_numel(int rank, const int64_t *dims);
/* The one shape rule, checked wherever a shape is born (initializers, declared and fed inputs,
 * every inferred output): bytes of a tensor, or -1 when a dim is negative or the product of its
 * non-zero dims times the element size exceeds EI_MAX_TENSOR_BYTES. Zero dims count as 1 in
 * that product, so a [0, 2^40, 2^40] tensor is refused too: any product of some of a valid
 * tensor's dims fits, and no op can overflow multiplying them or loop 2^62 times over empty rows. */
int64_t tensor_nbytes(const ei_tensor *t);
/* "[1,3,224,224]" in a small rotating per-thread buffer, for messages */
const char *shape_str(const ei_tensor *t);
const char *node_label(const node *n); /* "node 'conv1' (Conv, opset 13)" rotating buffer */

/* Parses a serialized TensorProto. Data goes to `a` (or is read in place from the
 * bytes when `in_place` and aligned), or to malloc when a is NULL. */
ei_status tensor_parse(const uint8_t *p, size_t n, arena *a, bool in_place, ei_tensor *out,
                       const char **name, char *err, size_t errlen);

/* Bytes of the UTF-8 character at s (1 for a stray byte), and the cut of a message that a
 * length limit left ending inside a character (so messages stay valid UTF-8). */
size_t utf8_char_len(const char *s);
void utf8_trim(char *buf);

/* snprintf for messages (the conversions they use: see util.c), without the C library's
 * printf. Returns the characters written, at most cap - 1, so that calls can append. */
size_t ei_format(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t ei_vformat(char *buf, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

ei_status set_error(char *buf, ei_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
