/*
 * ONNX ModelProto -> the graph of graph.h. Two passes over the GraphProto:
 * the first reads nodes, attributes, initializers and value infos into the
 * model's arena; the second resolves value names to indices and sorts the
 * nodes topologically. Every read is bounds-checked (pb.h), so a truncated or
 * hostile file ends in a message, never in a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "../ops/op.h"
#include "pb.h"

/* Field numbers from onnx.proto. */
enum { M_IR_VERSION = 1, M_PRODUCER = 2, M_GRAPH = 7, M_OPSET = 8 };
enum { G_NODE = 1, G_INIT = 5, G_SPARSE_INIT = 15, G_INPUT = 11, G_OUTPUT = 12, G_VALUE_INFO = 13 };
enum { N_INPUT = 1, N_OUTPUT = 2, N_NAME = 3, N_OP_TYPE = 4, N_ATTR = 5, N_DOMAIN = 7 };
enum { A_NAME = 1, A_F = 2, A_I = 3, A_S = 4, A_T = 5, A_G = 6, A_FLOATS = 7, A_INTS = 8, A_STRINGS = 9,
       A_TENSORS = 10, A_GRAPHS = 11, A_TYPE = 20 };

typedef struct loader {
    ei_model *m;
    bool is_sub;        /* a subgraph: names it does not define come from enclosing graphs */
    /* names of node inputs/outputs before resolution, [n_nodes][n_in or n_out] */
    const char ***in_names, ***out_names;
    /* name -> value index, open addressing */
    int *slots;
    size_t n_slots;
} loader;

#define FAIL(st, ...) return set_error(L->m->errmsg, (st), __VA_ARGS__)
#define OOM() FAIL(EI_STATUS_OUT_OF_MEMORY, "out of memory while loading the model")
#define MALFORMED(what) FAIL(EI_STATUS_INVALID_MODEL, "malformed model: %s is truncated or corrupt", (what))

static const char *dup_str(loader *L, const uint8_t *p, size_t n)
{
    return arena_strndup(&L->m->mem, (const char *)p, n);
}

/* ---- name table ---- */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static int find_value(loader *L, const char *name)
{
    size_t mask = L->n_slots - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
        int v = L->slots[i];
        if (v < 0) return -1;
        if (!strcmp(L->m->values[v].name, name)) return v;
    }
}

static int add_value(loader *L, const char *name, int kind)
{
    ei_model *m = L->m;
    size_t mask = L->n_slots - 1, i = hash_str(name) & mask;
    while (L->slots[i] >= 0) i = (i + 1) & mask;
    int v = m->n_values++;
    L->slots[i] = v;
    value *val = &m->values[v];
    val->name = name;
    val->kind = kind;
    val->producer = -1;
    val->last_use = -1;
    val->decl_rank = -1;
    return v;
}

/* ---- attributes ---- */

static ei_status parse_attr(loader *L, const uint8_t *p, size_t n, attr *a, const char *where)
{
    ei_model *m = L->m;
    pb r = pb_init(p, n);
    size_t n_floats = 0, n_ints = 0, n_strings = 0, n_tensors = 0;
    if (!pb_count_repeated(p, n, A_FLOATS, PB_I32, &n_floats) || !pb_count_repeated(p, n, A_INTS, PB_VARINT, &n_ints))
        MALFORMED(where);
    a->name = "";
    while (!pb_done(&r)) {
        uint32_t f, w;
        uint64_t v;
        const uint8_t *d;
        size_t dl;
        if (!pb_tag(&r, &f, &w)) MALFORMED(where);
        if (w == PB_LEN && (f == A_NAME || f == A_S || f == A_T || f == A_G || f == A_STRINGS || f == A_TENSORS ||
                            f == A_GRAPHS)) {
            if (!pb_len(&r, &d, &dl)) MALFORMED(where);
            if (f == A_NAME) {
                if (!(a->name = dup_str(L, d, dl))) OOM();
            } else if (f == A_S) {
                if (!(a->s = dup_str(L, d, dl))) OOM();
                a->s_len = dl;
            } else if (f == A_T) {
                a->tensors = arena_alloc(&m->mem, sizeof(ei_tensor));
                if (!a->tensors) OOM();
                char err[256];
                ei_status st = tensor_parse(d, dl, &m->mem, true, a->tensors, NULL, err, sizeof err);
                if (st) FAIL(st, "%s: attribute '%s': %s", where, a->name, err);
            } else if (f == A_G) {
                a->graph = d;
                a->graph_len = dl;
            } else if (f == A_STRINGS) {
                n_strings++;
            } else if (f == A_TENSORS) {
                n_tensors++;
            } else if (f == A_GRAPHS && !a->graph) {
                a->graph = d;
                a->graph_len = dl;
            }
        } else if (f == A_F && w == PB_I32) {
            uint32_t bits;
            if (!pb_fixed32(&r, &bits)) MALFORMED(where);
            memcpy(&a->f, &bits, 4);
        } else if (f == A_I && w == PB_VARINT) {
            if (!pb_varint(&r, &v)) MALFORMED(where);
            a->i = (int64_t)v;
        } else if (f == A_TYPE && w == PB_VARINT) {
            if (!pb_varint(&r, &v)) MALFORMED(where);
            a->type = (int)v;
        } else if (!pb_skip(&r, w)) {
            MALFORMED(where);
        }
    }
    if (a->type == ATTR_UNDEFINED) {
        /* Very old writers leave the type out; infer it from what is set. */
        if (a->tensors) a->type = ATTR_TENSOR;
        else if (a->graph) a->type = ATTR_GRAPH;
        else if (a->s) a->type = ATTR_STRING;
        else if (n_ints) a->type = ATTR_INTS;
        else if (n_floats) a->type = ATTR_FLOATS;
        else a->type = ATTR_INT;
    }
    /* Lists: a second walk fills them now that their lengths are known. */
    if (a->type == ATTR_FLOATS || a->type == ATTR_INTS || a->type == ATTR_STRINGS || a->type == ATTR_TENSORS) {
        size_t count = a->type == ATTR_FLOATS ? n_floats : a->type == ATTR_INTS ? n_ints
                     : a->type == ATTR_STRINGS ? n_strings : n_tensors;
        if (count > (size_t)1 << 24) FAIL(EI_STATUS_INVALID_MODEL, "%s: attribute '%s' is too long", where, a->name);
        a->n = (int)count;
        if (a->type == ATTR_FLOATS || a->type == ATTR_INTS) {
            pb_rep it;
            uint64_t v;
            bool ok;
            if (a->type == ATTR_FLOATS) {
                if (!(a->floats = arena_alloc(&m->mem, count * sizeof(float)))) OOM();
                pb_rep_init(&it, p, n, A_FLOATS, PB_I32);
                for (size_t i = 0; i < count && pb_rep_next(&it, &v, &ok); i++) {
                    uint32_t bits = (uint32_t)v;
                    memcpy(&a->floats[i], &bits, 4);
                }
            } else {
                if (!(a->ints = arena_alloc(&m->mem, count * sizeof(int64_t)))) OOM();
                pb_rep_init(&it, p, n, A_INTS, PB_VARINT);
                for (size_t i = 0; i < count && pb_rep_next(&it, &v, &ok); i++) a->ints[i] = (int64_t)v;
            }
        } else {
            if (a->type == ATTR_STRINGS && !(a->strings = arena_alloc(&m->mem, count * sizeof(char *)))) OOM();
            if (a->type == ATTR_TENSORS && !(a->tensors = arena_alloc(&m->mem, count * sizeof(ei_tensor)))) OOM();
            r = pb_init(p, n);
            size_t k = 0;
            while (!pb_done(&r)) {
                uint32_t f, w;
                const uint8_t *d;
                size_t dl;
                if (!pb_tag(&r, &f, &w)) MALFORMED(where);
                if (w == PB_LEN && (f == A_STRINGS || f == A_TENSORS)) {
                    if (!pb_len(&r, &d, &dl)) MALFORMED(where);
                    if (f == A_STRINGS && a->type == ATTR_STRINGS) {
                        if (!(a->strings[k++] = dup_str(L, d, dl))) OOM();
                    } else if (f == A_TENSORS && a->type == ATTR_TENSORS) {
                        char err[256];
                        ei_status st = tensor_parse(d, dl, &m->mem, true, &a->tensors[k++], NULL, err, sizeof err);
                        if (st) FAIL(st, "%s: attribute '%s': %s", where, a->name, err);
                    }
                } else if (!pb_skip(&r, w)) {
                    MALFORMED(where);
                }
            }
        }
    }
    if (a->type == ATTR_TENSOR && !a->tensors)
        FAIL(EI_STATUS_INVALID_MODEL, "%s: tensor attribute '%s' has no tensor", where, a->name);
    if (a->type == ATTR_STRING && !a->s) a->s = ""; /* ops may rely on a string being there */
    return EI_STATUS_OK;
}

/* ---- nodes ---- */

static ei_status parse_node(loader *L, int idx, const uint8_t *p, size_t n)
{
    ei_model *m = L->m;
    node *nd = &m->nodes[idx];
    size_t n_in = 0, n_out = 0, n_attr = 0;
    char where[64];
    ei_format(where, sizeof where, "node #%d", idx);
    pb r = pb_init(p, n);
    while (!pb_done(&r)) {
        uint32_t f, w;
        if (!pb_tag(&r, &f, &w)) MALFORMED(where);
        if (w == PB_LEN && f == N_INPUT) n_in++;
        else if (w == PB_LEN && f == N_OUTPUT) n_out++;
        else if (w == PB_LEN && f == N_ATTR) n_attr++;
        if (!pb_skip(&r, w)) MALFORMED(where);
    }
    if (n_in > 4096 || n_out > 4096 || n_attr > 4096) FAIL(EI_STATUS_INVALID_MODEL, "%s has too many fields", where);
    nd->name = nd->op_type = nd->domain = "";
    nd->in = arena_alloc(&m->mem, (n_in + 1) * sizeof(int));
    nd->out = arena_alloc(&m->mem, (n_out + 1) * sizeof(int));
    nd->attrs = arena_alloc(&m->mem, (n_attr + 1) * sizeof(attr));
    L->in_names[idx] = arena_alloc(&m->mem, (n_in + 1) * sizeof(char *));
    L->out_names[idx] = arena_alloc(&m->mem, (n_out + 1) * sizeof(char *));
    if (!nd->in || !nd->out || !nd->attrs || !L->in_names[idx] || !L->out_names[idx]) OOM();
    r = pb_init(p, n);
    uint32_t f;
    const uint8_t *d;
    size_t dl;
    int got;
    while ((got = pb_next_len(&r, &f, &d, &dl)) > 0) {
        const char *s = NULL;
        if (f != N_ATTR && !(s = dup_str(L, d, dl))) OOM();
        switch (f) {
        case N_INPUT: L->in_names[idx][nd->n_in++] = s; break;
        case N_OUTPUT: L->out_names[idx][nd->n_out++] = s; break;
        case N_NAME: nd->name = s; break;
        case N_OP_TYPE: nd->op_type = s; break;
        case N_DOMAIN: nd->domain = s; break;
        case N_ATTR: TRY(parse_attr(L, d, dl, &nd->attrs[nd->n_attr++], where)); break;
        default: break;
        }
    }
    if (got < 0) MALFORMED(where);
    if (!nd->op_type[0]) FAIL(EI_STATUS_INVALID_MODEL, "%s has no op_type", where);
    nd->label = nd->name;
    for (int k = 0; !nd->label[0] && k < nd->n_out; k++) nd->label = L->out_names[idx][k];
    return EI_STATUS_OK;
}

/* ---- value infos: TypeProto.tensor_type ---- */

/* TensorShapeProto.Dimension: a size or a symbolic name. */
static ei_status parse_dim(loader *L, const uint8_t *p, size_t n, value *decl, int k)
{
    decl->decl_dims[k] = -1;
    decl->decl_dim_names[k] = "";
    pb r = pb_init(p, n);
    while (!pb_done(&r)) {
        uint32_t f, w;
        uint64_t v;
        const uint8_t *d;
        size_t dl;
        if (!pb_tag(&r, &f, &w)) MALFORMED("value_info");
        if (f == 1 && w == PB_VARINT) {
            if (!pb_varint(&r, &v)) MALFORMED("value_info");
            decl->decl_dims[k] = (int64_t)v < 0 ? -1 : (int64_t)v;
        } else if (f == 2 && w == PB_LEN) {
            if (!pb_len(&r, &d, &dl)) MALFORMED("value_info");
            if (!(decl->decl_dim_names[k] = dup_str(L, d, dl))) OOM();
        } else if (!pb_skip(&r, w)) {
            MALFORMED("value_info");
        }
    }
    return EI_STATUS_OK;
}

/* TensorShapeProto. More dims than we declare leaves the rank unknown (checked at run). */
static ei_status parse_shape(loader *L, const uint8_t *p, size_t n, value *decl)
{
    decl->decl_rank = 0;
    pb r = pb_init(p, n);
    uint32_t f;
    const uint8_t *d;
    size_t dl;
    int got;
    while ((got = pb_next_len(&r, &f, &d, &dl)) > 0) {
        if (f != 1) continue;
        if (decl->decl_rank >= EI_MAX_DIMS) {
            decl->decl_rank = -1;
            return EI_STATUS_OK;
        }
        TRY(parse_dim(L, d, dl, decl, decl->decl_rank++));
    }
    if (got < 0) MALFORMED("value_info");
    return EI_STATUS_OK;
}

/* TypeProto.Tensor: elem_type and shape. */
static ei_status parse_tensor_type(loader *L, const uint8_t *p, size_t n, value *decl)
{
    pb r = pb_init(p, n);
    while (!pb_done(&r)) {
        uint32_t f, w;
        uint64_t v;
        const uint8_t *d;
        size_t dl;
        if (!pb_tag(&r, &f, &w)) MALFORMED("value_info");
        if (f == 1 && w == PB_VARINT) {
            if (!pb_varint(&r, &v)) MALFORMED("value_info");
            decl->decl_dtype = (int32_t)v;
        } else if (f == 2 && w == PB_LEN) {
            if (!pb_len(&r, &d, &dl)) MALFORMED("value_info");
            TRY(parse_shape(L, d, dl, decl));
            if (decl->decl_rank < 0) break;
        } else if (!pb_skip(&r, w)) {
            MALFORMED("value_info");
        }
    }
    return EI_STATUS_OK;
}

/* TypeProto: a tensor type, or another kind remembered as "not a tensor" (dtype -1). */
static ei_status parse_type(loader *L, const uint8_t *p, size_t n, value *decl)
{
    pb r = pb_init(p, n);
    uint32_t f;
    const uint8_t *d;
    size_t dl;
    int got;
    while ((got = pb_next_len(&r, &f, &d, &dl)) > 0) {
        decl->has_decl = true;
        if (f != 1) { /* sequence, map, optional, sparse */
            decl->decl_dtype = -1;
            continue;
        }
        TRY(parse_tensor_type(L, d, dl, decl));
    }
    if (got < 0) MALFORMED("value_info");
    return EI_STATUS_OK;
}

static ei_status parse_value_info(loader *L, const uint8_t *p, size_t n, const char **name, value *decl)
{
    pb r = pb_init(p, n);
    *name = NULL;
    decl->decl_rank = -1;
    uint32_t f;
    const uint8_t *d;
    size_t dl;
    int got;
    while ((got = pb_next_len(&r, &f, &d, &dl)) > 0) {
        if (f == 1) {
            if (!(*name = dup_str(L, d, dl))) OOM();
        } else if (f == 2) {
            TRY(parse_type(L, d, dl, decl));
        }
    }
    if (got < 0) MALFORMED("value_info");
    if (!*name) FAIL(EI_STATUS_INVALID_MODEL, "a graph input or output has no name");
    return EI_STATUS_OK;
}

static void copy_decl(value *dst, const value *src)
{
    dst->has_decl = src->has_decl;
    dst->decl_dtype = src->decl_dtype;
    dst->decl_rank = src->decl_rank;
    memcpy(dst->decl_dims, src->decl_dims, sizeof dst->decl_dims);
    memcpy(dst->decl_dim_names, src->decl_dim_names, sizeof dst->decl_dim_names);
}

/* ---- graph ---- */

static ei_status parse_graph(loader *L, const uint8_t *p, size_t n);

/* Parses the GRAPH attributes of every node into child models. */
static ei_status parse_subgraphs(loader *L, size_t *n_outer)
{
    ei_model *m = L->m;
    *n_outer = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        for (int k = 0; k < nd->n_attr; k++) {
            attr *a = &nd->attrs[k];
            if (a->type != ATTR_GRAPH || !a->graph) continue;
            if (m->depth + 1 > EI_MAX_GRAPH_DEPTH)
                FAIL(EI_STATUS_UNSUPPORTED, "%s: subgraphs are nested deeper than %d levels", node_label(nd),
                     EI_MAX_GRAPH_DEPTH);
            ei_model *c = calloc(1, sizeof *c);
            if (!c) OOM();
            c->next = m->children;
            m->children = c;
            c->bytes = m->bytes;
            c->size = m->size;
            c->ir_version = m->ir_version;
            c->producer = m->producer;
            c->opsets = m->opsets;
            c->n_opsets = m->n_opsets;
            c->depth = m->depth + 1;
            loader sub = {.m = c, .is_sub = true};
            ei_status st = parse_graph(&sub, a->graph, a->graph_len);
            free(sub.slots);
            if (st != EI_STATUS_OK)
                FAIL(st, "%s: subgraph '%s': %s", node_label(nd), a->name, c->errmsg);
            model_compute_last_use(c);
            a->sub = c;
            *n_outer += (size_t)(c->n_inputs - c->n_graph_inputs);
        }
    }
    return EI_STATUS_OK;
}

/* A name this graph does not define: in a subgraph it is an outer value, bound at run time. */
static int outer_value(loader *L, const char *name)
{
    int v = add_value(L, name, VALUE_OUTER);
    L->m->inputs[L->m->n_inputs++] = v;
    return v;
}

/* Points each subgraph's outer values at this graph's values, and records them as the
 * node's implicit inputs. */
static ei_status resolve_outer(loader *L)
{
    ei_model *m = L->m;
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        int total = 0;
        for (int k = 0; k < nd->n_attr; k++)
            if (nd->attrs[k].sub) total += nd->attrs[k].sub->n_inputs - nd->attrs[k].sub->n_graph_inputs;
        if (!total) continue;
        nd->implicit = arena_alloc(&m->mem, (size_t)total * sizeof(int));
        if (!nd->implicit) OOM();
        for (int k = 0; k < nd->n_attr; k++) {
            ei_model *c = nd->attrs[k].sub;
            if (!c || c->n_inputs == c->n_graph_inputs) continue;
            int n_outer = c->n_inputs - c->n_graph_inputs;
            c->outer_src = arena_alloc(&c->mem, (size_t)n_outer * sizeof(int));
            if (!c->outer_src) OOM();
            for (int j = 0; j < n_outer; j++) {
                const char *name = c->values[c->inputs[c->n_graph_inputs + j]].name;
                int v = find_value(L, name);
                if (v < 0 && !L->is_sub)
                    FAIL(EI_STATUS_INVALID_MODEL, "%s: subgraph '%s' reads '%s', which no enclosing graph defines",
                         node_label(nd), nd->attrs[k].name, name);
                if (v < 0) v = outer_value(L, name);
                c->outer_src[j] = v;
                bool seen = false;
                for (int q = 0; q < nd->n_implicit; q++) seen |= nd->implicit[q] == v;
                if (!seen) nd->implicit[nd->n_implicit++] = v;
            }
        }
    }
    return EI_STATUS_OK;
}

static ei_status count_fields(const uint8_t *p, size_t n, size_t counts[32])
{
    memset(counts, 0, 32 * sizeof counts[0]);
    pb r = pb_init(p, n);
    while (!pb_done(&r)) {
        uint32_t f, w;
        if (!pb_tag(&r, &f, &w)) return EI_STATUS_INVALID_MODEL;
        if (f < 32) counts[f]++;
        if (!pb_skip(&r, w)) return EI_STATUS_INVALID_MODEL;
    }
    return EI_STATUS_OK;
}

static ei_status topo_sort(loader *L)
{
    ei_model *m = L->m;
    int nn = m->n_nodes;
    int *pending = calloc((size_t)nn + 1, sizeof(int));
    int *queue = calloc((size_t)nn + 1, sizeof(int));
    /* consumers of each value, CSR */
    int *start = calloc((size_t)m->n_values + 1, sizeof(int));
    size_t total = 0;
    for (int i = 0; i < nn; i++) total += (size_t)(m->nodes[i].n_in + m->nodes[i].n_implicit);
    int *cons = calloc(total + 1, sizeof(int));
    if (!pending || !queue || !start || !cons) {
        free(pending), free(queue), free(start), free(cons);
        OOM();
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < m->nodes[i].n_in + m->nodes[i].n_implicit; k++) {
            int v = node_input(&m->nodes[i], k);
            if (v >= 0) start[v + 1]++;
        }
    for (int v = 0; v < m->n_values; v++) start[v + 1] += start[v];
    int *fill = calloc((size_t)m->n_values + 1, sizeof(int));
    if (!fill) {
        free(pending), free(queue), free(start), free(cons);
        OOM();
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < m->nodes[i].n_in + m->nodes[i].n_implicit; k++) {
            int v = node_input(&m->nodes[i], k);
            if (v < 0) continue;
            cons[start[v] + fill[v]++] = i;
            if (m->values[v].producer >= 0) pending[i]++;
        }
    int head = 0, tail = 0;
    for (int i = 0; i < nn; i++)
        if (!pending[i]) queue[tail++] = i;
    while (head < tail) {
        int i = queue[head++];
        m->order[head - 1] = i;
        for (int k = 0; k < m->nodes[i].n_out; k++) {
            int v = m->nodes[i].out[k];
            if (v < 0) continue;
            for (int c = start[v]; c < start[v + 1]; c++)
                if (--pending[cons[c]] == 0) queue[tail++] = cons[c];
        }
    }
    ei_status st = EI_STATUS_OK;
    if (tail < nn) {
        int stuck = 0;
        for (int i = 0; i < nn; i++)
            if (pending[i]) {
                stuck = i;
                break;
            }
        st = set_error(m->errmsg, EI_STATUS_INVALID_MODEL, "the graph has a cycle through %s",
                       node_label(&m->nodes[stuck]));
    }
    free(pending), free(queue), free(start), free(cons), free(fill);
    return st;
}

static ei_status parse_graph(loader *L, const uint8_t *p, size_t n)
{
    ei_model *m = L->m;
    size_t c[32];
    if (count_fields(p, n, c)) MALFORMED("graph");
    if (c[G_SPARSE_INIT]) FAIL(EI_STATUS_UNSUPPORTED, "sparse initializers are not supported");
    size_t nn = c[G_NODE], n_init = c[G_INIT], n_in = c[G_INPUT], n_out = c[G_OUTPUT], n_vi = c[G_VALUE_INFO];
    if (nn > EI_MAX_NODES || n_init > EI_MAX_NODES)
        FAIL(EI_STATUS_INVALID_MODEL, "the graph has %zu nodes and %zu initializers, more than EI_MAX_NODES (%d)", nn,
             n_init, EI_MAX_NODES);
    m->nodes = arena_alloc(&m->mem, (nn + 1) * sizeof(node));
    m->order = arena_alloc(&m->mem, (nn + 1) * sizeof(int));
    L->in_names = arena_alloc(&m->mem, (nn + 1) * sizeof(char **));
    L->out_names = arena_alloc(&m->mem, (nn + 1) * sizeof(char **));
    m->outputs = arena_alloc(&m->mem, (n_out + 1) * sizeof(int));
    value *vinfo = arena_alloc(&m->mem, (n_in + n_out + n_vi + 1) * sizeof(value));
    const char **vinfo_names = arena_alloc(&m->mem, (n_in + n_out + n_vi + 1) * sizeof(char *));
    if (!m->nodes || !m->order || !L->in_names || !L->out_names || !m->outputs || !vinfo ||
        !vinfo_names)
        OOM();

    /* Pass 1: nodes and value infos; initializers are counted now, parsed below. */
    pb r = pb_init(p, n);
    size_t n_vinfo = 0, max_values = n_init + n_in;
    int in_pos = 0, out_pos = 0;
    uint32_t f;
    const uint8_t *d;
    size_t dl;
    int got;
    while ((got = pb_next_len(&r, &f, &d, &dl)) > 0) {
        if (f == G_NODE) {
            int idx = m->n_nodes++;
            TRY(parse_node(L, idx, d, dl));
            max_values += (size_t)m->nodes[idx].n_out;
        } else if (f == G_INPUT || f == G_OUTPUT || f == G_VALUE_INFO) {
            value *vi = &vinfo[n_vinfo];
            TRY(parse_value_info(L, d, dl, &vinfo_names[n_vinfo], vi));
            vi->kind = f; /* reused as a tag: which list it came from */
            vi->producer = f == G_INPUT ? in_pos++ : f == G_OUTPUT ? out_pos++ : -1;
            n_vinfo++;
        }
    }
    if (got < 0) MALFORMED("graph");
    for (int i = 0; i < m->n_nodes; i++) {
        const char *dom = m->nodes[i].domain;
        int64_t ver = 0;
        bool imported = false;
        for (int k = 0; k < m->n_opsets; k++) {
            const char *od = m->opsets[k].domain;
            bool same = !strcmp(od, dom) || ((!strcmp(od, "ai.onnx") || !od[0]) && (!strcmp(dom, "ai.onnx") || !dom[0]));
            if (same) ver = m->opsets[k].version, imported = true;
        }
        if (imported && ver < 1)
            FAIL(EI_STATUS_INVALID_MODEL, "%s: the model imports opset %lld of domain '%s'; opset versions start at 1",
                 node_label(&m->nodes[i]), (long long)ver, dom[0] ? dom : "ai.onnx");
        if (ver == 0 && !dom[0]) ver = 1; /* no opset_import: the first version */
        m->nodes[i].opset = (int)(ver > 1000000 ? 1000000 : ver);
    }

    size_t n_outer = 0, node_inputs = 0;
    TRY(parse_subgraphs(L, &n_outer));
    for (int i = 0; i < m->n_nodes; i++) node_inputs += (size_t)m->nodes[i].n_in;
    /* Outer values: those the subgraphs read, and in a subgraph those its own nodes read. */
    size_t own_outer = L->is_sub ? node_inputs + n_out : 0;
    max_values += n_outer + own_outer;
    m->inputs = arena_alloc(&m->mem, (n_in + n_outer + own_outer + 1) * sizeof(int));
    if (!m->inputs) OOM();

    size_t slots = 16;
    while (slots < 2 * (max_values + 1)) slots *= 2;
    L->n_slots = slots;
    L->slots = malloc(slots * sizeof(int));
    m->values = arena_alloc(&m->mem, (max_values + 1) * sizeof(value));
    if (!L->slots || !m->values) OOM();
    memset(L->slots, 0xff, slots * sizeof(int));

    /* Initializers become constants. */
    r = pb_init(p, n);
    while ((got = pb_next_len(&r, &f, &d, &dl)) > 0) {
        if (f != G_INIT) continue;
        ei_tensor t;
        const char *name;
        char err[256];
        ei_status st = tensor_parse(d, dl, &m->mem, true, &t, &name, err, sizeof err);
        if (st) FAIL(st, "initializer #%d: %s", m->n_values, err);
        if (!name || !name[0]) FAIL(EI_STATUS_INVALID_MODEL, "initializer #%d has no name", m->n_values);
        if (find_value(L, name) >= 0) FAIL(EI_STATUS_INVALID_MODEL, "initializer '%s' is defined twice", name);
        int v = add_value(L, name, VALUE_CONST);
        m->values[v].init = t;
        m->weight_bytes += (size_t)tensor_nbytes(&t);
    }
    if (got < 0) MALFORMED("graph");

    /* Graph inputs (those backed by an initializer stay constants). */
    for (size_t k = 0; k < n_vinfo; k++) {
        if (vinfo[k].kind != G_INPUT) continue;
        int v = find_value(L, vinfo_names[k]);
        if (v >= 0 && m->values[v].kind == VALUE_CONST) continue;
        if (v >= 0) FAIL(EI_STATUS_INVALID_MODEL, "graph input '%s' is listed twice", vinfo_names[k]);
        v = add_value(L, vinfo_names[k], VALUE_INPUT);
        copy_decl(&m->values[v], &vinfo[k]);
        if (vinfo[k].decl_dtype < 0)
            FAIL(EI_STATUS_UNSUPPORTED, "graph input '%s' is not a tensor (sequences, maps and optionals are not "
                 "supported)", vinfo_names[k]);
        m->inputs[m->n_inputs++] = v;
    }
    m->n_graph_inputs = m->n_inputs;

    /* Node outputs. */
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        for (int k = 0; k < nd->n_out; k++) {
            const char *name = L->out_names[i][k];
            if (!name[0]) {
                nd->out[k] = -1;
                continue;
            }
            if (find_value(L, name) >= 0)
                FAIL(EI_STATUS_INVALID_MODEL, "%s: output '%s' is already defined elsewhere in the graph",
                     node_label(nd), name);
            int v = add_value(L, name, VALUE_ACTIVATION);
            m->values[v].producer = i;
            nd->out[k] = v;
        }
    }
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        for (int k = 0; k < nd->n_in; k++) {
            const char *name = L->in_names[i][k];
            if (!name[0]) {
                nd->in[k] = -1;
                continue;
            }
            int v = find_value(L, name);
            if (v < 0 && L->is_sub) v = outer_value(L, name);
            if (v < 0)
                FAIL(EI_STATUS_INVALID_MODEL, "%s: input '%s' is not produced by any node, graph input or "
                     "initializer", node_label(nd), name);
            nd->in[k] = v;
        }
    }

    TRY(resolve_outer(L));

    /* Graph outputs and value infos. */
    for (size_t k = 0; k < n_vinfo; k++) {
        int v = find_value(L, vinfo_names[k]);
        if (vinfo[k].kind == G_OUTPUT) {
            if (v < 0 && L->is_sub) v = outer_value(L, vinfo_names[k]); /* passes an outer value on */
            if (v < 0) FAIL(EI_STATUS_INVALID_MODEL, "graph output '%s' is not produced by the graph",
                            vinfo_names[k]);
            if (vinfo[k].decl_dtype < 0)
                FAIL(EI_STATUS_UNSUPPORTED, "graph output '%s' is not a tensor (sequences, maps and optionals are "
                     "not supported)", vinfo_names[k]);
            m->values[v].is_output = true;
            m->outputs[m->n_outputs++] = v;
            if (m->values[v].kind != VALUE_INPUT) copy_decl(&m->values[v], &vinfo[k]);
        } else if (vinfo[k].kind == G_VALUE_INFO && v >= 0 && !m->values[v].has_decl) {
            copy_decl(&m->values[v], &vinfo[k]);
        }
    }
    return topo_sort(L);
}

static ei_status parse_model(loader *L)
{
    ei_model *m = L->m;
    const uint8_t *graph = NULL;
    size_t graph_len = 0, n_opsets = 0;
    pb r = pb_init(m->bytes, m->size);
    while (!pb_done(&r)) {
        uint32_t f, w;
        if (!pb_tag(&r, &f, &w)) MALFORMED("model");
        if (f == M_OPSET && w == PB_LEN) n_opsets++;
        if (!pb_skip(&r, w)) MALFORMED("model");
    }
    if (n_opsets > 1024) FAIL(EI_STATUS_INVALID_MODEL, "too many opset imports");
    m->opsets = arena_alloc(&m->mem, (n_opsets + 1) * sizeof(opset_id));
    if (!m->opsets) OOM();
    m->producer = "";
    r = pb_init(m->bytes, m->size);
    while (!pb_done(&r)) {
        uint32_t f, w;
        uint64_t v;
        const uint8_t *d;
        size_t dl;
        if (!pb_tag(&r, &f, &w)) MALFORMED("model");
        if (f == M_IR_VERSION && w == PB_VARINT) {
            if (!pb_varint(&r, &v)) MALFORMED("model");
            m->ir_version = (int64_t)v;
        } else if (f == M_PRODUCER && w == PB_LEN) {
            if (!pb_len(&r, &d, &dl)) MALFORMED("model");
            if (!(m->producer = dup_str(L, d, dl))) OOM();
        } else if (f == M_GRAPH && w == PB_LEN) {
            if (!pb_len(&r, &graph, &graph_len)) MALFORMED("model");
        } else if (f == M_OPSET && w == PB_LEN) {
            if (!pb_len(&r, &d, &dl)) MALFORMED("model");
            opset_id *o = &m->opsets[m->n_opsets++];
            o->domain = "";
            pb q = pb_init(d, dl);
            while (!pb_done(&q)) {
                uint32_t qf, qw;
                const uint8_t *qd;
                size_t ql;
                if (!pb_tag(&q, &qf, &qw)) MALFORMED("opset_import");
                if (qf == 1 && qw == PB_LEN) {
                    if (!pb_len(&q, &qd, &ql)) MALFORMED("opset_import");
                    if (!(o->domain = dup_str(L, qd, ql))) OOM();
                } else if (qf == 2 && qw == PB_VARINT) {
                    if (!pb_varint(&q, &v)) MALFORMED("opset_import");
                    o->version = (int64_t)v;
                } else if (!pb_skip(&q, qw)) {
                    MALFORMED("opset_import");
                }
            }
        } else if (!pb_skip(&r, w)) {
            MALFORMED("model");
        }
    }
    if (!graph) FAIL(EI_STATUS_INVALID_MODEL, "not an ONNX model: no graph found in %zu bytes", m->size);
    if (m->ir_version <= 0) FAIL(EI_STATUS_INVALID_MODEL, "not an ONNX model: ir_version is missing");
    return parse_graph(L, graph, graph_len);
}

ei_status ei_model_load(const void *bytes, size_t size, int flags, ei_model **out)
{
    if (!out) {
        if (flags == EI_LOAD_TAKE) free((void *)bytes);
        return EI_STATUS_INVALID_ARGUMENT;
    }
    ei_model *m = calloc(1, sizeof *m);
    *out = m;
    if (!m) {
        if (flags == EI_LOAD_TAKE) free((void *)bytes);
        return EI_STATUS_OUT_OF_MEMORY;
    }
    if (!bytes || size == 0) {
        if (flags == EI_LOAD_TAKE) free((void *)bytes);
        return set_error(m->errmsg, EI_STATUS_INVALID_ARGUMENT, "the model is empty (0 bytes)");
    }
    if (flags == EI_LOAD_TAKE) {
        m->owned = (uint8_t *)bytes;
        m->bytes = bytes;
    } else if (flags == EI_LOAD_BORROW) {
        m->bytes = bytes;
    } else if (flags == EI_LOAD_COPY) {
        /* Aligned so that weights stay readable in place. */
        m->owned = aligned_alloc(EI_ALIGN, (size + EI_ALIGN - 1) & ~(size_t)(EI_ALIGN - 1));
        if (!m->owned) return set_error(m->errmsg, EI_STATUS_OUT_OF_MEMORY, "out of memory copying the model");
        memcpy(m->owned, bytes, size);
        m->bytes = m->owned;
    } else {
        return set_error(m->errmsg, EI_STATUS_INVALID_ARGUMENT, "ei_model_load: unknown flags %d", flags);
    }
    m->size = size;
    loader L = {.m = m};
    ei_status st = parse_model(&L);
    free(L.slots);
    if (st == EI_STATUS_OK) model_compute_last_use(m);
    else m->n_nodes = m->n_values = m->n_inputs = m->n_outputs = 0; /* a failed model is only a message */
    return st;
}
#undef FAIL

void ei_model_free(ei_model *m)
{
    if (!m) return;
    for (ei_model *c = m->children, *next; c; c = next) {
        next = c->next;
        c->owned = NULL; /* the bytes belong to the top model */
        ei_model_free(c);
    }
    arena_free(&m->mem);
    free(m->owned);
    free(m);
}
