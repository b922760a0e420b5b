/*
 * edgeinfer quantize (quantize.h). The model is read with the library's protobuf reader and
 * written again field by field: ModelProto and GraphProto fields other than nodes and
 * initializers are copied verbatim, nodes are copied with their inputs renamed where a quantized
 * value replaces a float one, and the new DequantizeLinear/QuantizeLinear nodes and int8/int32
 * initializers are added. Activation ranges come from running a copy of the model in which every
 * node output is a graph output, on the calibration samples, with the library itself.
 */
#include "quantize.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/pb.h"

/* ---- output buffer ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->oom || !n) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, t, n);
}

static void put_int(buf *b, uint32_t field, uint64_t v)
{
    put_varint(b, (uint64_t)field << 3 | PB_VARINT);
    put_varint(b, v);
}

static void put_bytes(buf *b, uint32_t field, const void *d, size_t n)
{
    put_varint(b, (uint64_t)field << 3 | PB_LEN);
    put_varint(b, n);
    put(b, d, n);
}

static void put_str(buf *b, uint32_t field, const char *s) { put_bytes(b, field, s, strlen(s)); }

/* A sub-message built in `sub`, emitted as field `field` of b; sub is emptied. */
static void put_msg(buf *b, uint32_t field, buf *sub)
{
    put_bytes(b, field, sub->p, sub->n);
    b->oom |= sub->oom;
    sub->n = 0;
}

/* ---- the parsed graph ---- */

typedef struct span {
    const uint8_t *p;
    size_t n;
} span;

typedef struct qnode {
    span msg;             /* the NodeProto payload */
    char *op, *domain;
    int n_in, n_out;
    char **in, **out;
    int64_t trans_b;
} qnode;

typedef struct qinit {
    span field;           /* the whole initializer field, to copy */
    char *name;
    int32_t dtype;
    int rank;
    int64_t dims[8];
    const float *f32;     /* float32 data when readable (raw_data or packed float_data), else NULL */
    float *owned;         /* an aligned copy of it */
    bool drop;            /* replaced by a quantized form */
} qinit;

typedef struct act {
    char *name;
    float lo, hi, scale;
    uint8_t zp;
    bool quantize;
} act;

typedef struct qmodel {
    span model_other[64];
    int n_model_other;
    span graph_other[4096];
    int n_graph_other;
    qnode *nodes;
    int n_nodes;
    qinit *inits;
    int n_inits;
    char **outputs;
    int n_outputs;
    char **inputs;
    int n_inputs;
    act *acts;
    int n_acts;
    bool dynamic;         /* --dynamic */
    char **dyn_done;      /* activations already given a DynamicQuantizeLinear */
    int n_dyn_done;
    char *err;
    size_t errlen;
} qmodel;

static int fail(qmodel *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(qmodel *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err, q->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

static bool grow(void **arr, int n, size_t size)
{
    if (n & (n - 1)) return true; /* capacity doubles at powers of two */
    void *p = realloc(*arr, (size_t)(n ? 2 * n : 1) * size);
    if (!p) return false;
    *arr = p;
    return true;
}

static bool push_str(char ***arr, int *n, const uint8_t *p, size_t len)
{
    if (!grow((void **)arr, *n, sizeof **arr)) return false;
    return ((*arr)[(*n)++] = dup_n(p, len)) != NULL;
}

/* The AttributeProto `name` of a node in *out, false when absent. */
static bool attr_of(span msg, const char *name, pb *out)
{
    pb r = pb_init(msg.p, msg.n);
    uint32_t f, w;
    while (!pb_done(&r) && pb_tag(&r, &f, &w)) {
        const uint8_t *d, *s;
        size_t n, sl;
        if (f != 5 || w != PB_LEN) {
            if (!pb_skip(&r, w)) break;
            continue;
        }
        if (!pb_len(&r, &d, &n)) break;
        pb a = pb_init(d, n);
        uint32_t af;
        while (pb_next_len(&a, &af, &s, &sl) == 1)
            if (af == 1 && sl == strlen(name) && !memcmp(s, name, sl)) {
                *out = pb_init(d, n);
                return true;
            }
    }
    return false;
}

/* The attribute `name` of a node, an int or a float: def when absent. */
static int64_t attr_int_of(span msg, const char *name, int64_t def)
{
    pb a;
    uint64_t v = (uint64_t)def;
    uint32_t f, w;
    if (!attr_of(msg, name, &a)) return def;
    while (!pb_done(&a) && pb_tag(&a, &f, &w))
        if (f == 3 && w == PB_VARINT) pb_varint(&a, &v);
        else if (!pb_skip(&a, w)) break;
    return (int64_t)v;
}

static float attr_float_of(span msg, const char *name, float def)
{
    pb a;
    uint32_t f, w, v;
    if (!attr_of(msg, name, &a)) return def;
    while (!pb_done(&a) && pb_tag(&a, &f, &w))
        if (f == 2 && w == PB_I32 && pb_fixed32(&a, &v)) memcpy(&def, &v, 4);
        else if (!pb_skip(&a, w)) break;
    return def;
}

static int parse_node(qmodel *q, const uint8_t *d, size_t n)
{
    if (!grow((void **)&q->nodes, q->n_nodes, sizeof *q->nodes)) return fail(q, "out of memory");
    qnode *nd = &q->nodes[q->n_nodes++];
    memset(nd, 0, sizeof *nd);
    nd->msg = (span){d, n};
    pb r = pb_init(d, n);
    uint32_t f;
    const uint8_t *s;
    size_t sl;
    int k;
    while ((k = pb_next_len(&r, &f, &s, &sl)) == 1) {
        bool ok = true;
        if (f == 1) ok = push_str(&nd->in, &nd->n_in, s, sl);
        else if (f == 2) ok = push_str(&nd->out, &nd->n_out, s, sl);
        else if (f == 4) ok = (nd->op = dup_n(s, sl)) != NULL;
        else if (f == 7) ok = (nd->domain = dup_n(s, sl)) != NULL;
        if (!ok) return fail(q, "out of memory");
    }
    if (k < 0) return fail(q, "node %d: malformed NodeProto", q->n_nodes - 1);
    if (!nd->op) nd->op = dup_n((const uint8_t *)"", 0);
    if (!nd->domain) nd->domain = dup_n((const uint8_t *)"", 0);
    nd->trans_b = attr_int_of(nd->msg, "transB", 0);
    return nd->op && nd->domain ? 0 : fail(q, "out of memory");
}

static int parse_init(qmodel *q, span field, const uint8_t *d, size_t n)
{
    if (!grow((void **)&q->inits, q->n_inits, sizeof *q->inits)) return fail(q, "out of memory");
    qinit *t = &q->inits[q->n_inits++];
    memset(t, 0, sizeof *t);
    t->field = field;
    pb r = pb_init(d, n);
    uint32_t f, w;
    const uint8_t *raw = NULL, *fl = NULL;
    size_t raw_n = 0, fl_n = 0;
    bool external = false;
    while (!pb_done(&r)) {
        if (!pb_tag(&r, &f, &w)) return fail(q, "malformed initializer");
        uint64_t v;
        const uint8_t *s;
        size_t sl;
        if (f == 1 && w == PB_VARINT && pb_varint(&r, &v)) {
            if (t->rank < 8) t->dims[t->rank] = (int64_t)v;
            t->rank++;
        } else if (f == 1 && w == PB_LEN && pb_len(&r, &s, &sl)) {
            pb pr = pb_init(s, sl);
            while (!pb_done(&pr) && pb_varint(&pr, &v)) {
                if (t->rank < 8) t->dims[t->rank] = (int64_t)v;
                t->rank++;
            }
        } else if (f == 2 && w == PB_VARINT && pb_varint(&r, &v)) {
            t->dtype = (int32_t)v;
        } else if (f == 8 && w == PB_LEN && pb_len(&r, &s, &sl)) {
            if (!(t->name = dup_n(s, sl))) return fail(q, "out of memory");
        } else if (f == 9 && w == PB_LEN && pb_len(&r, &s, &sl)) {
            raw = s, raw_n = sl;
        } else if (f == 4 && w == PB_LEN && pb_len(&r, &s, &sl)) {
            fl = s, fl_n = sl;
        } else if (f == 14 && w == PB_VARINT && pb_varint(&r, &v)) {
            external = v == 1;
        } else if (!pb_skip(&r, w)) {
            return fail(q, "malformed initializer");
        }
    }
    if (!t->name) t->name = dup_n((const uint8_t *)"", 0);
    int64_t count = 1;
    for (int i = 0; i < t->rank && i < 8; i++) count = t->dims[i] >= 0 && count <= INT32_MAX ? count * t->dims[i] : -1;
    const uint8_t *src = raw ? raw : fl;
    size_t src_n = raw ? raw_n : fl_n;
    if (t->dtype == EI_DTYPE_FLOAT32 && !external && t->rank <= 8 && count >= 0 && src && src_n == (size_t)count * 4) {
        t->owned = malloc(src_n + 4);
        if (!t->owned) return fail(q, "out of memory");
        memcpy(t->owned, src, src_n); /* little-endian hosts, as the library */
        t->f32 = t->owned;
    }
    return 0;
}

static int parse_graph(qmodel *q, const uint8_t *d, size_t n)
{
    pb r = pb_init(d, n);
    while (!pb_done(&r)) {
        const uint8_t *start = r.p, *s;
        size_t sl;
        uint32_t f, w;
        if (!pb_tag(&r, &f, &w)) return fail(q, "malformed GraphProto");
        if (w == PB_LEN && (f == 1 || f == 5 || f == 11 || f == 12)) {
            if (!pb_len(&r, &s, &sl)) return fail(q, "malformed GraphProto");
            if (f == 1 && parse_node(q, s, sl)) return -1;
            if (f == 5 && parse_init(q, (span){start, (size_t)(r.p - start)}, s, sl)) return -1;
            if (f == 1 || f == 5) continue;
            pb v = pb_init(s, sl);
            uint32_t vf;
            const uint8_t *name;
            size_t nl;
            char ***list = f == 11 ? &q->inputs : &q->outputs;
            int *count = f == 11 ? &q->n_inputs : &q->n_outputs;
            while (pb_next_len(&v, &vf, &name, &nl) == 1)
                if (vf == 1 && !push_str(list, count, name, nl)) return fail(q, "out of memory");
        } else if (!pb_skip(&r, w)) {
            return fail(q, "malformed GraphProto");
        }
        if (q->n_graph_other >= (int)(sizeof q->graph_other / sizeof q->graph_other[0]))
            return fail(q, "the graph has too many fields besides its nodes and initializers");
        q->graph_other[q->n_graph_other++] = (span){start, (size_t)(r.p - start)};
    }
    return 0;
}

/* Splits the model into its graph (parsed) and its other fields (kept as bytes). */
static int parse_model(qmodel *q, const uint8_t *bytes, size_t size)
{
    pb r = pb_init(bytes, size);
    bool graph = false;
    while (!pb_done(&r)) {
        const uint8_t *start = r.p, *s;
        size_t sl;
        uint32_t f, w;
        if (!pb_tag(&r, &f, &w)) return fail(q, "malformed ModelProto");
        if (f == 7 && w == PB_LEN) {
            if (graph || !pb_len(&r, &s, &sl)) return fail(q, "malformed ModelProto (graph)");
            graph = true;
            if (parse_graph(q, s, sl)) return -1;
            continue;
        }
        if (!pb_skip(&r, w)) return fail(q, "malformed ModelProto");
        if (q->n_model_other >= (int)(sizeof q->model_other / sizeof q->model_other[0]))
            return fail(q, "the model has too many top-level fields");
        q->model_other[q->n_model_other++] = (span){start, (size_t)(r.p - start)};
    }
    return graph ? 0 : fail(q, "the model has no graph");
}

/* ---- lookups ---- */

static qinit *find_init(qmodel *q, const char *name)
{
    for (int i = 0; i < q->n_inits; i++)
        if (!strcmp(q->inits[i].name, name)) return &q->inits[i];
    return NULL;
}

static int readers(const qmodel *q, const char *name, const qnode **only)
{
    int c = 0;
    for (int i = 0; i < q->n_nodes; i++)
        for (int k = 0; k < q->nodes[i].n_in; k++)
            if (!strcmp(q->nodes[i].in[k], name)) {
                c++;
                if (only) *only = &q->nodes[i];
            }
    return c;
}

static bool listed(char **list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], name)) return true;
    return false;
}

static act *find_act(qmodel *q, const char *name)
{
    for (int i = 0; i < q->n_acts; i++)
        if (q->acts[i].quantize && !strcmp(q->acts[i].name, name)) return &q->acts[i];
    return NULL;
}

static bool is_op(const qnode *n, const char *op) { return !n->domain[0] && !strcmp(n->op, op); }

/* The output-channel axis of node n's weight when it is one this tool quantizes, else -1. */
static int weight_axis(qmodel *q, const qnode *n)
{
    if (n->n_in < 2 || !(is_op(n, "Conv") || is_op(n, "Gemm") || is_op(n, "MatMul"))) return -1;
    const qinit *w = find_init(q, n->in[1]);
    if (!w || !w->f32 || readers(q, n->in[1], NULL) != 1 || listed(q->outputs, q->n_outputs, w->name)) return -1;
    if (is_op(n, "Conv")) return w->rank >= 3 ? 0 : -1;
    if (w->rank != 2) return -1;
    return is_op(n, "Gemm") && n->trans_b ? 0 : 1;
}

/* ---- calibration ---- */

/* The model again with every node output a graph output. */
static int calib_model(qmodel *q, buf *out)
{
    buf g = {0}, sub = {0};
    for (int i = 0; i < q->n_graph_other; i++) put(&g, q->graph_other[i].p, q->graph_other[i].n);
    for (int i = 0; i < q->n_inits; i++) put(&g, q->inits[i].field.p, q->inits[i].field.n);
    for (int i = 0; i < q->n_nodes; i++) put_bytes(&g, 1, q->nodes[i].msg.p, q->nodes[i].msg.n);
    for (int i = 0; i < q->n_nodes; i++)
        for (int k = 0; k < q->nodes[i].n_out; k++) {
            const char *o = q->nodes[i].out[k];
            if (!o[0] || listed(q->outputs, q->n_outputs, o)) continue;
            put_str(&sub, 1, o);
            put_msg(&g, 12, &sub);
        }
    for (int i = 0; i < q->n_model_other; i++) put(out, q->model_other[i].p, q->model_other[i].n);
    put_msg(out, 7, &g);
    free(g.p);
    free(sub.p);
    return out->oom ? fail(q, "out of memory") : 0;
}

static int calibrate(qmodel *q, const ei_tensor *samples, int n_samples)
{
    buf mb = {0};
    if (calib_model(q, &mb)) return -1;
    ei_model *m = NULL;
    ei_session *s = NULL;
    ei_status st = ei_model_load(mb.p, mb.n, EI_LOAD_TAKE, &m);
    if (st != EI_STATUS_OK) {
        fail(q, "calibration model: %s", m ? ei_model_errmsg(m) : ei_status_name(st));
        ei_model_free(m);
        return -1;
    }
    if (ei_model_io_count(m, 0) != 1) {
        ei_model_free(m);
        return fail(q, "calibration needs a model with one input (this one has %d)", ei_model_io_count(m, 0));
    }
    if ((st = ei_session_create(m, &s)) != EI_STATUS_OK) {
        fail(q, "calibration session: %s", s ? ei_session_errmsg(s) : ei_status_name(st));
        ei_session_free(s);
        ei_model_free(m);
        return -1;
    }
    int n_out = ei_model_io_count(m, 1);
    q->acts = calloc((size_t)n_out + 1, sizeof *q->acts);
    if (!q->acts) st = EI_STATUS_OUT_OF_MEMORY;
    q->n_acts = q->acts ? n_out + 1 : 0;
    for (int i = 0; i < q->n_acts; i++) {
        q->acts[i].name = (char *)(i < n_out ? ei_model_io_name(m, 1, i) : ei_model_io_name(m, 0, 0));
        q->acts[i].lo = INFINITY;
        q->acts[i].hi = -INFINITY;
    }
    for (int k = 0; k < n_samples && st == EI_STATUS_OK; k++) {
        if ((st = ei_session_set_input(s, 0, &samples[k])) != EI_STATUS_OK || (st = ei_session_run(s)) != EI_STATUS_OK)
            break;
        for (int i = 0; i < q->n_acts; i++) {
            ei_tensor t;
            if (i < n_out && ei_session_output(s, i, &t) != EI_STATUS_OK) continue;
            if (i == n_out) t = samples[k];
            if (t.dtype != EI_DTYPE_FLOAT32) continue;
            int64_t n = 1;
            for (int d = 0; d < t.rank; d++) n *= t.dims[d];
            for (int64_t e = 0; e < n; e++) {
                float v = ((const float *)t.data)[e];
                if (v < q->acts[i].lo) q->acts[i].lo = v;
                if (v > q->acts[i].hi) q->acts[i].hi = v;
            }
            q->acts[i].quantize = isfinite(q->acts[i].lo) && isfinite(q->acts[i].hi);
        }
    }
    if (st != EI_STATUS_OK) fail(q, "calibration run: %s", ei_session_errmsg(s));
    /* names outlive the model: copy them */
    for (int i = 0; i < q->n_acts && st == EI_STATUS_OK; i++)
        if (!(q->acts[i].name = dup_n((const uint8_t *)q->acts[i].name, strlen(q->acts[i].name))))
            st = EI_STATUS_OUT_OF_MEMORY, fail(q, "out of memory");
    if (st != EI_STATUS_OK)
        for (int i = 0; i < q->n_acts; i++) q->acts[i].name = NULL;
    ei_session_free(s);
    ei_model_free(m);
    return st == EI_STATUS_OK ? 0 : -1;
}

/* True when a Conv, Gemm or MatMul with int8 weights reads or writes activation `name` (through
 * the Relu or Clip that alone reads its output): only those are quantized (as onnxruntime's QDQ
 * quantizer does), so a raw input that a Sub/Div normalises first keeps its float range. */
static bool next_to_weights(qmodel *q, const char *name)
{
    for (int i = 0; i < q->n_nodes; i++) {
        const qnode *n = &q->nodes[i];
        if (weight_axis(q, n) < 0) continue;
        if (n->n_out && !strcmp(n->out[0], name)) return true;
        const qnode *r = NULL; /* or its Relu/Clip, whose output is the one quantized (choose_acts) */
        if (n->n_out && readers(q, n->out[0], &r) == 1 && (is_op(r, "Relu") || is_op(r, "Clip")) && r->n_out &&
            !strcmp(r->out[0], name))
            return true;
        for (int k = 0; k < n->n_in; k++)
            if (!strcmp(n->in[k], name)) return true;
    }
    return false;
}

/* Which activations get QuantizeLinear -> DequantizeLinear, and their parameters. */
static void choose_acts(qmodel *q)
{
    for (int i = 0; i < q->n_acts; i++) {
        act *a = &q->acts[i];
        const qnode *r = NULL;
        if (!a->quantize || listed(q->outputs, q->n_outputs, a->name) || readers(q, a->name, &r) == 0 ||
            !next_to_weights(q, a->name)) {
            a->quantize = false;
            continue;
        }
        /* not a Constant's value (a Clip bound, ...); and for a Conv/Gemm/MatMul output read only by a Relu
         * or Clip, the activation's output is the one quantized */
        for (int n = 0; n < q->n_nodes; n++) {
            const qnode *p = &q->nodes[n];
            if (!p->n_out || strcmp(p->out[0], a->name)) continue;
            if (is_op(p, "Constant")) a->quantize = false;
            if (weight_axis(q, p) >= 0 && readers(q, a->name, &r) == 1 && (is_op(r, "Relu") || is_op(r, "Clip")))
                a->quantize = false;
        }
        if (!a->quantize) continue;
        float lo = a->lo < 0 ? a->lo : 0, hi = a->hi > 0 ? a->hi : 0;
        a->scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
        float z = nearbyintf(-lo / a->scale);
        a->zp = (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    }
}

/* ---- writing ---- */

static void put_tensor(buf *g, buf *sub, const char *name, int32_t dtype, int rank, const int64_t *dims,
                       const void *data, size_t bytes)
{
    for (int d = 0; d < rank; d++) put_int(sub, 1, (uint64_t)dims[d]);
    put_int(sub, 2, (uint64_t)dtype);
    put_str(sub, 8, name);
    put_bytes(sub, 9, data, bytes);
    put_msg(g, 5, sub);
}

/* A node named after its first output, with one int attribute unless attr is NULL. */
static void put_node_n(buf *g, buf *sub, const char *op, const char *const *in, int n_in, const char *const *out,
                       int n_out, const char *attr, int64_t v)
{
    for (int i = 0; i < n_in; i++) put_str(sub, 1, in[i]);
    for (int i = 0; i < n_out; i++) put_str(sub, 2, out[i]);
    put_str(sub, 3, out[0]);
    put_str(sub, 4, op);
    if (attr) {
        buf a = {0};
        put_str(&a, 1, attr);
        put_int(&a, 3, (uint64_t)v);
        put_int(&a, 20, 2);
        put_msg(sub, 5, &a);
        sub->oom |= a.oom;
        free(a.p);
    }
    put_msg(g, 1, sub);
}

static void put_node(buf *g, buf *sub, const char *op, const char *const *in, int n_in, const char *out, int axis)
{
    put_node_n(g, sub, op, in, n_in, &out, 1, axis >= 0 ? "axis" : NULL, axis);
}

static char *suffixed(const char *name, const char *suffix)
{
    size_t n = strlen(name) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s", name, suffix);
    return s;
}

/* QuantizeLinear -> DequantizeLinear of activation a: its scale and zero point, then the two nodes. */
static void put_qdq(buf *g, buf *sub, buf *nodes, const act *a)
{
    char *s = suffixed(a->name, "_scale"), *z = suffixed(a->name, "_zero_point"), *qv = suffixed(a->name, "_quantized"),
         *dq = suffixed(a->name, "_dequantized");
    if (s && z && qv && dq) {
        put_tensor(g, sub, s, EI_DTYPE_FLOAT32, 0, NULL, &a->scale, 4);
        put_tensor(g, sub, z, EI_DTYPE_UINT8, 0, NULL, &a->zp, 1);
        const char *qin[3] = {a->name, s, z}, *dqin[3] = {qv, s, z};
        put_node(nodes, sub, "QuantizeLinear", qin, 3, qv, -1);
        put_node(nodes, sub, "DequantizeLinear", dqin, 3, dq, -1);
    } else {
        g->oom = true;
    }
    free(s), free(z), free(qv), free(dq);
}

/* The weight of node n as int8 per channel along axis, its DequantizeLinear, and (with a quantized
 * input) its bias as int32; the node's inputs are renamed to the dequantized values. */
/* Weight w as int8, symmetric per channel along axis: scale[c] = max |w| / 127 over channel c. */
static void int8_channels(const qinit *w, int axis, int64_t count, float *scale, int8_t *qw)
{
    int64_t C = w->dims[axis], inner = 1;
    for (int d = axis + 1; d < w->rank; d++) inner *= w->dims[d];
    for (int64_t i = 0; i < count; i++) {
        int64_t c = i / inner % C;
        float a = fabsf(w->f32[i]);
        if (a > scale[c]) scale[c] = a;
    }
    for (int64_t c = 0; c < C; c++) scale[c] = scale[c] > 0 ? scale[c] / 127.0f : 1.0f;
    for (int64_t i = 0; i < count; i++) {
        float v = nearbyintf(w->f32[i] / scale[i / inner % C]);
        qw[i] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
    }
}

static int quantize_weight(qmodel *q, qnode *n, int axis, buf *g, buf *sub, buf *nodes)
{
    qinit *w = find_init(q, n->in[1]);
    int64_t C = w->dims[axis], count = 1;
    for (int d = 0; d < w->rank; d++) count *= w->dims[d];
    float *scale = calloc((size_t)C + 1, sizeof *scale);
    int8_t *qw = malloc((size_t)count + 1), *zp = calloc((size_t)C + 1, 1);
    char *qn = suffixed(w->name, "_quantized"), *sn = suffixed(w->name, "_scale"), *zn = suffixed(w->name, "_zero_point"),
         *dqn = suffixed(w->name, "_dequantized");
    int rc = 0;
    if (!scale || !qw || !zp || !qn || !sn || !zn || !dqn) {
        rc = fail(q, "out of memory");
        goto done;
    }
    int8_channels(w, axis, count, scale, qw);
    put_tensor(g, sub, qn, EI_DTYPE_INT8, w->rank, w->dims, qw, (size_t)count);
    put_tensor(g, sub, sn, EI_DTYPE_FLOAT32, 1, &C, scale, (size_t)C * 4);
    put_tensor(g, sub, zn, EI_DTYPE_INT8, 1, &C, zp, (size_t)C);
    const char *in[3] = {qn, sn, zn};
    put_node(nodes, sub, "DequantizeLinear", in, 3, dqn, axis);
    w->drop = true;
    free(n->in[1]);
    n->in[1] = dqn;
    dqn = NULL;
    /* bias: float32 [C] read by this node only, with the input quantized */
    const act *x = find_act(q, n->in[0]);
    qinit *b = n->n_in > 2 && !is_op(n, "MatMul") ? find_init(q, n->in[2]) : NULL;
    if (x && b && b->f32 && b->rank == 1 && b->dims[0] == C && readers(q, b->name, NULL) == 1 &&
        !listed(q->outputs, q->n_outputs, b->name)) {
        int32_t *qb = malloc((size_t)C * 4);
        float *bs = malloc((size_t)C * 4);
        char *bq = suffixed(b->name, "_quantized"), *bsn = suffixed(b->name, "_scale"), *bd = suffixed(b->name, "_dequantized");
        if (qb && bs && bq && bsn && bd) {
            for (int64_t c = 0; c < C; c++) {
                bs[c] = x->scale * scale[c];
                double v = nearbyint((double)b->f32[c] / bs[c]);
                qb[c] = (int32_t)(v < -2147483647.0 ? -2147483647.0 : v > 2147483647.0 ? 2147483647.0 : v);
            }
            put_tensor(g, sub, bq, EI_DTYPE_INT32, 1, &C, qb, (size_t)C * 4);
            put_tensor(g, sub, bsn, EI_DTYPE_FLOAT32, 1, &C, bs, (size_t)C * 4);
            const char *bin[2] = {bq, bsn};
            put_node(nodes, sub, "DequantizeLinear", bin, 2, bd, 0);
            b->drop = true;
            free(n->in[2]);
            n->in[2] = bd;
            bd = NULL;
        } else {
            rc = fail(q, "out of memory");
        }
        free(qb), free(bs), free(bq), free(bsn), free(bd);
    }
done:
    free(scale), free(qw), free(zp), free(qn), free(sn), free(zn), free(dqn);
    return rc;
}

/* Node n copied with each input that has a quantized form renamed to its dequantized value. */
static void put_node_renamed(qmodel *q, const qnode *n, buf *nodes, buf *sub)
{
    pb r = pb_init(n->msg.p, n->msg.n);
    int k = 0;
    while (!pb_done(&r)) {
        const uint8_t *start = r.p, *s;
        size_t sl;
        uint32_t f, w;
        if (!pb_tag(&r, &f, &w)) break;
        if (f == 1 && w == PB_LEN && pb_len(&r, &s, &sl)) {
            const char *in = n->in[k++];
            const act *a = find_act(q, in);
            char *dq = a ? suffixed(in, "_dequantized") : NULL;
            put_str(sub, 1, dq ? dq : in);
            free(dq);
            continue;
        }
        if (!pb_skip(&r, w)) break;
        put(sub, start, (size_t)(r.p - start));
    }
    put_msg(nodes, 1, sub);
}

/* ---- --dynamic: the form of onnxruntime's quantize_dynamic ---- */

/* The model's opset of the default domain (its opset_import), 0 when it has none. */
static int64_t default_opset(const qmodel *q)
{
    for (int i = 0; i < q->n_model_other; i++) {
        pb r = pb_init(q->model_other[i].p, q->model_other[i].n);
        uint32_t f, w, of, ow;
        const uint8_t *d, *s;
        size_t n, sl;
        if (!pb_tag(&r, &f, &w) || f != 8 || w != PB_LEN || !pb_len(&r, &d, &n)) continue;
        pb o = pb_init(d, n);
        uint64_t v = 0;
        bool deflt = true;
        while (!pb_done(&o) && pb_tag(&o, &of, &ow)) {
            if (of == 1 && ow == PB_LEN && pb_len(&o, &s, &sl)) deflt = !sl || (sl == 7 && !memcmp(s, "ai.onnx", 7));
            else if (of == 2 && ow == PB_VARINT) pb_varint(&o, &v);
            else if (!pb_skip(&o, ow)) break;
        }
        if (deflt) return (int64_t)v;
    }
    return 0;
}

/* A MatMul, or a Gemm without transA, alpha or beta, by a float32 weight this tool quantizes. */
static bool dynamic_node(qmodel *q, const qnode *n)
{
    if (weight_axis(q, n) < 0 || is_op(n, "Conv")) return false;
    return is_op(n, "MatMul") || (attr_int_of(n->msg, "transA", 0) == 0 && attr_float_of(n->msg, "alpha", 1) == 1 &&
                                  attr_float_of(n->msg, "beta", 1) == 1);
}

/* Node n (a dynamic_node) as DynamicQuantizeLinear of its input (the first time it is read), then
 * MatMulInteger by the weight as int8 [K, N], symmetric per column, a Cast to float32, a Mul by
 * x_scale * w_scale and, for a Gemm's C, an Add. */
static int put_dynamic(qmodel *q, const qnode *n, buf *g, buf *sub, buf *nodes)
{
    qinit *w = find_init(q, n->in[1]);
    int tb = is_op(n, "Gemm") && n->trans_b;
    int64_t N = w->dims[tb ? 0 : 1], K = w->dims[tb ? 1 : 0];
    const char *x = n->in[0], *y = n->out[0];
    static const char *sfx[] = {"_quantized", "_scale", "_zero_point", "_quantized", "_scale", "_zero_point",
                                "_MatMulInteger", "_cast", "_scales", "_mul"};
    char *nm[10] = {0};
    float *scale = calloc((size_t)N + 1, sizeof *scale);
    int8_t *qw = malloc((size_t)(N * K) + 1), *t = malloc((size_t)(N * K) + 1), *zp = calloc((size_t)N + 1, 1);
    bool ok = scale && qw && t && zp;
    for (int i = 0; i < 10; i++) ok = (nm[i] = suffixed(i < 3 ? x : i < 6 ? w->name : y, sfx[i])) && ok;
    if (ok && !listed(q->dyn_done, q->n_dyn_done, x)) {
        ok = push_str(&q->dyn_done, &q->n_dyn_done, (const uint8_t *)x, strlen(x));
        put_node_n(nodes, sub, "DynamicQuantizeLinear", &x, 1, (const char *const *)nm, 3, NULL, 0);
    }
    if (ok) {
        int8_channels(w, tb ? 0 : 1, N * K, scale, tb ? t : qw);
        for (int64_t i = 0; tb && i < N * K; i++) qw[i % K * N + i / K] = t[i]; /* [N, K] -> [K, N] */
        int64_t dims[2] = {K, N};
        put_tensor(g, sub, nm[3], EI_DTYPE_INT8, 2, dims, qw, (size_t)(N * K));
        put_tensor(g, sub, nm[4], EI_DTYPE_FLOAT32, 1, &N, scale, (size_t)N * 4);
        put_tensor(g, sub, nm[5], EI_DTYPE_INT8, 1, &N, zp, (size_t)N);
        w->drop = true;
        bool add = n->n_in > 2 && n->in[2][0];
        const char *mi[4] = {nm[0], nm[3], nm[2], nm[5]}, *ci[1] = {nm[6]}, *si[2] = {nm[1], nm[4]},
                   *mu[2] = {nm[7], nm[8]}, *ai[2] = {nm[9], add ? n->in[2] : ""};
        put_node(nodes, sub, "MatMulInteger", mi, 4, nm[6], -1);
        put_node_n(nodes, sub, "Cast", ci, 1, (const char *const *)&nm[7], 1, "to", EI_DTYPE_FLOAT32);
        put_node(nodes, sub, "Mul", si, 2, nm[8], -1);
        put_node(nodes, sub, "Mul", mu, 2, add ? nm[9] : y, -1);
        if (add) put_node(nodes, sub, "Add", ai, 2, y, -1);
    }
    free(scale), free(qw), free(t), free(zp);
    for (int i = 0; i < 10; i++) free(nm[i]);
    return ok ? 0 : fail(q, "out of memory");
}

/* The model around graph g: the initializers kept, the other graph fields, then `nodes`; g, sub and
 * nodes are freed. Returns rc, or -1 if a buffer ran out of memory. */
static int finish_model(qmodel *q, int rc, buf *g, buf *sub, buf *nodes, buf *out)
{
    for (int i = 0; i < q->n_inits; i++)
        if (!q->inits[i].drop) put(g, q->inits[i].field.p, q->inits[i].field.n);
    for (int i = 0; i < q->n_graph_other; i++) put(g, q->graph_other[i].p, q->graph_other[i].n);
    put(g, nodes->p, nodes->n);
    g->oom |= nodes->oom | sub->oom;
    for (int i = 0; i < q->n_model_other; i++) put(out, q->model_other[i].p, q->model_other[i].n);
    put_msg(out, 7, g);
    free(g->p), free(sub->p), free(nodes->p);
    return rc ? rc : out->oom ? fail(q, "out of memory") : 0;
}

static int write_model(qmodel *q, int *n_weights, buf *out)
{
    buf g = {0}, sub = {0}, nodes = {0};
    int rc = 0;
    *n_weights = 0;
    for (int i = 0; i < q->n_acts; i++)
        if (q->acts[i].quantize && listed(q->inputs, q->n_inputs, q->acts[i].name)) put_qdq(&g, &sub, &nodes, &q->acts[i]);
    for (int i = 0; i < q->n_nodes && !rc; i++) {
        int axis = q->dynamic ? -1 : weight_axis(q, &q->nodes[i]);
        if (axis >= 0) {
            rc = quantize_weight(q, &q->nodes[i], axis, &g, &sub, &nodes);
            ++*n_weights;
        }
    }
    for (int i = 0; i < q->n_nodes && !rc; i++) {
        if (q->dynamic && dynamic_node(q, &q->nodes[i])) {
            rc = put_dynamic(q, &q->nodes[i], &g, &sub, &nodes);
            ++*n_weights;
            continue;
        }
        put_node_renamed(q, &q->nodes[i], &nodes, &sub);
        for (int k = 0; k < q->nodes[i].n_out; k++) {
            const act *a = find_act(q, q->nodes[i].out[k]);
            if (a) put_qdq(&g, &sub, &nodes, a);
        }
    }
    return finish_model(q, rc, &g, &sub, &nodes, out);
}

static void free_model(qmodel *q)
{
    for (int i = 0; i < q->n_nodes; i++) {
        qnode *n = &q->nodes[i];
        for (int k = 0; k < n->n_in; k++) free(n->in[k]);
        for (int k = 0; k < n->n_out; k++) free(n->out[k]);
        free(n->in), free(n->out), free(n->op), free(n->domain);
    }
    for (int i = 0; i < q->n_inits; i++) free(q->inits[i].name), free(q->inits[i].owned);
    for (int i = 0; i < q->n_outputs; i++) free(q->outputs[i]);
    for (int i = 0; i < q->n_inputs; i++) free(q->inputs[i]);
    for (int i = 0; i < q->n_acts; i++) free(q->acts[i].name);
    for (int i = 0; i < q->n_dyn_done; i++) free(q->dyn_done[i]);
    free(q->dyn_done);
    free(q->nodes), free(q->inits), free(q->outputs), free(q->inputs), free(q->acts);
}

/* An empty model that reports its errors into err, or NULL (said in err) when out of memory. */
static qmodel *new_qmodel(char *err, size_t errlen)
{
    qmodel *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->err = err;
    q->errlen = errlen;
    return q;
}

/* Frees q, then gives the caller the written model b, or drops it when rc says it failed. */
static int hand_over(qmodel *q, int rc, buf *b, uint8_t **out, size_t *out_len)
{
    free_model(q);
    free(q);
    if (rc) {
        free(b->p);
        return -1;
    }
    *out = b->p;
    *out_len = b->n;
    return 0;
}

int quantize_model(const uint8_t *bytes, size_t size, const ei_tensor *samples, int n_samples, int dynamic,
                   uint8_t **out, size_t *out_len, int *n_weights, int *n_acts, char *err, size_t errlen)
{
    qmodel *q = new_qmodel(err, errlen);
    if (!q) return -1;
    q->dynamic = dynamic;
    buf b = {0};
    int rc = parse_model(q, bytes, size);
    if (!rc && dynamic && default_opset(q) < 11)
        rc = fail(q, "--dynamic writes DynamicQuantizeLinear, which needs opset 11 or later; the model imports opset %lld",
                  (long long)default_opset(q));
    if (!rc && n_samples) rc = calibrate(q, samples, n_samples);
    if (!rc) {
        choose_acts(q);
        rc = write_model(q, n_weights, &b);
    }
    *n_acts = 0;
    for (int i = 0; i < q->n_acts; i++) *n_acts += q->acts[i].quantize;
    *n_acts += q->n_dyn_done;
    return hand_over(q, rc, &b, out, out_len);
}

/* ---- --weights int4: MatMul weights as MatMulNBits ---- */

static void put_attr_int(buf *node, const char *name, int64_t v)
{
    buf a = {0};
    put_str(&a, 1, name);
    put_int(&a, 3, (uint64_t)v);
    put_int(&a, 20, 2); /* AttributeProto.INT */
    put_msg(node, 5, &a);
    node->oom |= a.oom;
    free(a.p);
}

/* One block of a column, 4-bit asymmetric as onnxruntime's MatMul4BitsQuantizer (MLAS) writes it:
 * the range [min, max] widened to include 0 maps onto 0..15. v[0, count) are the values, the
 * rest of the block 0. Returns the zero point; the nibbles go to blob, the scale to *scale. */
static int q4_block(const float *v, size_t stride, int64_t count, int64_t block, uint8_t *blob, float *scale)
{
    float lo = 0, hi = 0;
    for (int64_t k = 0; k < count; k++) {
        float x = v[(size_t)k * stride];
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    *scale = (hi - lo) / 15.0f;
    float inv = *scale != 0 ? 1.0f / *scale : 0, z = *scale != 0 ? nearbyintf(-lo / *scale) : 0;
    z = z < 0 ? 0 : z > 15 ? 15 : z;
    for (int64_t k = 0; k < block; k++) {
        float x = nearbyintf((k < count ? v[(size_t)k * stride] : 0) * inv + z);
        int qv = x < 0 ? 0 : x > 15 ? 15 : (int)x;
        blob[k / 2] |= (uint8_t)(qv << (k % 2 * 4));
    }
    return (int)z;
}

/* MatMul node n with its [K, N] weight as a MatMulNBits node (4 bits, block `block`, zero points). */
static int put_int4_matmul(qmodel *q, const qnode *n, int64_t block, buf *g, buf *sub, buf *nodes)
{
    qinit *w = find_init(q, n->in[1]);
    int64_t K = w->dims[0], N = w->dims[1], kb = (K + block - 1) / block, zrow = (kb + 1) / 2, blob = block / 2;
    int64_t bdims[3] = {N, kb, blob}, sdim = N * kb, zdim = N * zrow;
    uint8_t *b = calloc((size_t)(N * kb * blob) + 1, 1), *zp = calloc((size_t)zdim + 1, 1);
    float *scales = malloc((size_t)sdim * 4 + 4);
    char *bn = suffixed(w->name, "_Q4"), *sn = suffixed(w->name, "_scales"), *zn = suffixed(w->name, "_zero_points");
    int rc = 0;
    if (b && zp && scales && bn && sn && zn) {
        for (int64_t c = 0; c < N; c++)
            for (int64_t i = 0; i < kb; i++) {
                int64_t k0 = i * block, count = K - k0 < block ? K - k0 : block;
                int z = q4_block(w->f32 + k0 * N + c, (size_t)N, count, block, b + (c * kb + i) * blob, &scales[c * kb + i]);
                zp[c * zrow + i / 2] |= (uint8_t)(z << (i % 2 * 4));
            }
        put_tensor(g, sub, bn, EI_DTYPE_UINT8, 3, bdims, b, (size_t)(N * kb * blob));
        put_tensor(g, sub, sn, EI_DTYPE_FLOAT32, 1, &sdim, scales, (size_t)sdim * 4);
        put_tensor(g, sub, zn, EI_DTYPE_UINT8, 1, &zdim, zp, (size_t)zdim);
        const char *in[4] = {n->in[0], bn, sn, zn};
        for (int i = 0; i < 4; i++) put_str(sub, 1, in[i]);
        put_str(sub, 2, n->out[0]);
        put_str(sub, 3, n->out[0]);
        put_str(sub, 4, "MatMulNBits");
        put_str(sub, 7, "com.microsoft");
        put_attr_int(sub, "K", K);
        put_attr_int(sub, "N", N);
        put_attr_int(sub, "bits", 4);
        put_attr_int(sub, "block_size", block);
        put_msg(nodes, 1, sub);
        w->drop = true;
    } else {
        rc = fail(q, "out of memory");
    }
    free(b), free(zp), free(scales), free(bn), free(sn), free(zn);
    return rc;
}

/* True when the model imports the com.microsoft opset. */
static bool imports_ms(const qmodel *q)
{
    for (int i = 0; i < q->n_model_other; i++) {
        pb r = pb_init(q->model_other[i].p, q->model_other[i].n);
        uint32_t f, w;
        const uint8_t *s, *d;
        size_t sl, dl;
        if (!pb_tag(&r, &f, &w) || f != 8 || w != PB_LEN || !pb_len(&r, &s, &sl)) continue;
        pb o = pb_init(s, sl);
        while (pb_next_len(&o, &f, &d, &dl) == 1)
            if (f == 1 && dl == 13 && !memcmp(d, "com.microsoft", 13)) return true;
    }
    return false;
}

static int write_model_int4(qmodel *q, int64_t block, int *n_weights, buf *out)
{
    buf g = {0}, sub = {0}, nodes = {0};
    int rc = 0;
    *n_weights = 0;
    for (int i = 0; i < q->n_nodes && !rc; i++) {
        const qnode *n = &q->nodes[i];
        if (is_op(n, "MatMul") && n->n_out == 1 && weight_axis(q, n) == 1) {
            rc = put_int4_matmul(q, n, block, &g, &sub, &nodes);
            ++*n_weights;
        } else {
            put_node_renamed(q, n, &nodes, &sub);
        }
    }
    if (*n_weights && !imports_ms(q)) {
        buf o = {0};
        put_str(&o, 1, "com.microsoft");
        put_int(&o, 2, 1);
        put_msg(out, 8, &o);
        out->oom |= o.oom;
        free(o.p);
    }
    return finish_model(q, rc, &g, &sub, &nodes, out);
}

int quantize_model_int4(const uint8_t *bytes, size_t size, int64_t block, uint8_t **out, size_t *out_len, int *n_weights,
                        char *err, size_t errlen)
{
    if (block < 16 || block > 256 || (block & (block - 1))) {
        snprintf(err, errlen, "block size %lld: expected 16, 32, 64, 128 or 256", (long long)block);
        return -1;
    }
    qmodel *q = new_qmodel(err, errlen);
    if (!q) return -1;
    buf b = {0};
    int rc = parse_model(q, bytes, size);
    if (!rc) rc = write_model_int4(q, block, n_weights, &b);
    return hand_over(q, rc, &b, out, out_len);
}
