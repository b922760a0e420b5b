/*
 * The compile step: between loading a model and planning a session, the
 * session takes its own copy of the graph and runs it through the fixed list
 * of passes in passes.c (tract's declutter/codegen), then binds every node to
 * the registry row that runs it. The loaded model stays immutable and shared.
 *
 * Every pass is a standalone function graph -> graph. It may kill nodes
 * (node.dead), rewire inputs, add constants and merge work into a node
 * (node.act, node.fused); graph_compact then restores the invariants the
 * planner relies on: live nodes only, a topological execution order, each
 * value's producer and last use. Passes keep the original order valid by
 * construction: a node only ever takes over outputs of nodes that ran after
 * it and only reads values produced before it.
 */
#include <stdlib.h>
#include <string.h>

#include "../ops/op.h"
#include "compile.h"

/* Room for the constants passes add: a few per node at most (folded weights and biases). */
#define CONSTS_PER_NODE 2

static bool copy_nodes(ei_model *g, const ei_model *src)
{
    g->nodes = arena_alloc(&g->mem, ((size_t)src->n_nodes + 1) * sizeof(node));
    g->order = arena_alloc(&g->mem, ((size_t)src->n_nodes + 1) * sizeof(int));
    if (!g->nodes || !g->order) return false;
    memcpy(g->order, src->order, (size_t)src->n_nodes * sizeof(int));
    for (int i = 0; i < src->n_nodes; i++) {
        node *n = &g->nodes[i];
        *n = src->nodes[i];
        /* one spare input slot: a pass may give a node a bias it did not have */
        n->in = arena_alloc(&g->mem, ((size_t)n->n_in + 2) * sizeof(int));
        n->out = arena_alloc(&g->mem, ((size_t)n->n_out + 1) * sizeof(int));
        if (!n->in || !n->out) return false;
        memcpy(n->in, src->nodes[i].in, (size_t)n->n_in * sizeof(int));
        memcpy(n->out, src->nodes[i].out, (size_t)n->n_out * sizeof(int));
    }
    return true;
}

ei_model *graph_copy(const ei_model *src)
{
    ei_model *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    *g = *src;
    memset(&g->mem, 0, sizeof g->mem);
    g->owned = NULL;
    g->children = g->next = NULL; /* subgraphs stay src's; each sub-session compiles its own copy */
    g->errmsg[0] = 0;
    if ((size_t)src->n_nodes > ((size_t)INT32_MAX - (size_t)src->n_values) / (CONSTS_PER_NODE + 1)) {
        graph_free(g);
        return NULL;
    }
    g->cap_values = src->n_values + CONSTS_PER_NODE * src->n_nodes;
    g->values = arena_alloc(&g->mem, ((size_t)g->cap_values + 1) * sizeof(value));
    if (!g->values || !copy_nodes(g, src)) {
        graph_free(g);
        return NULL;
    }
    memcpy(g->values, src->values, (size_t)src->n_values * sizeof(value));
    return g;
}

void graph_free(ei_model *g)
{
    if (!g) return;
    arena_free(&g->mem);
    free(g);
}

ei_status graph_compact(ei_model *g)
{
    int *new_index = malloc(((size_t)g->n_nodes + 1) * sizeof(int));
    if (!new_index) return EI_STATUS_OUT_OF_MEMORY;
    int live = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        new_index[i] = g->nodes[i].dead ? -1 : live;
        if (!g->nodes[i].dead) g->nodes[live++] = g->nodes[i];
    }
    int pos = 0;
    for (int p = 0; p < g->n_nodes; p++)
        if (new_index[g->order[p]] >= 0) g->order[pos++] = new_index[g->order[p]];
    free(new_index);
    g->n_nodes = live;
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] >= 0) g->values[g->nodes[i].out[k]].producer = i;
    model_compute_last_use(g);
    return EI_STATUS_OK;
}

ei_status graph_uses_init(const ei_model *g, graph_uses *u)
{
    size_t n = (size_t)g->n_values + 1;
    u->count = calloc(n, sizeof *u->count);
    u->pinned = calloc(n, sizeof *u->pinned);
    u->first = malloc(n * sizeof *u->first);
    u->last = malloc(n * sizeof *u->last);
    if (!u->count || !u->pinned || !u->first || !u->last) {
        graph_uses_free(u);
        return EI_STATUS_OUT_OF_MEMORY;
    }
    for (int v = 0; v < g->n_values; v++) u->first[v] = u->last[v] = -1;
    for (int k = 0; k < g->n_outputs; k++) u->pinned[g->outputs[k]] = true;
    for (int i = 0; i < g->n_nodes; i++) {
        const node *nd = &g->nodes[i];
        if (nd->dead) continue;
        for (int k = 0; k < nd->n_in + nd->n_implicit; k++) {
            int v = node_input(nd, k);
            if (v < 0) continue;
            u->count[v]++;
            if (k >= nd->n_in) u->pinned[v] = true;
            if (u->first[v] < 0) u->first[v] = i;
            u->last[v] = i;
        }
    }
    return EI_STATUS_OK;
}

void graph_uses_free(graph_uses *u)
{
    free(u->count);
    free(u->pinned);
    free(u->first);
    free(u->last);
    memset(u, 0, sizeof *u);
}

int graph_add_const(ei_model *g, const char *name, const ei_tensor *t)
{
    if (g->n_values >= g->cap_values) return -1;
    int v = g->n_values++;
    value *val = &g->values[v];
    memset(val, 0, sizeof *val);
    val->name = name;
    val->kind = VALUE_CONST;
    val->producer = -1;
    val->last_use = -1;
    val->init = *t;
    return v;
}

node *graph_producer(ei_model *g, int v)
{
    if (v < 0 || g->values[v].producer < 0) return NULL;
    node *n = &g->nodes[g->values[v].producer];
    return n->dead ? NULL : n;
}

void graph_take_output(ei_model *g, node *n, int v)
{
    n->out[0] = v;
    if (v >= 0) g->values[v].producer = (int)(n - g->nodes);
}

ei_status graph_note_fused(ei_model *g, node *n, const char *what)
{
    size_t len = (n->fused ? strlen(n->fused) + 1 : 0) + strlen(what) + 1;
    char *s = arena_alloc(&g->mem, len);
    if (!s) return EI_STATUS_OUT_OF_MEMORY;
    ei_format(s, len, "%s%s%s", n->fused ? n->fused : "", n->fused ? "+" : "", what);
    n->fused = s;
    return EI_STATUS_OK;
}

const ei_tensor *graph_const_f32(const ei_model *g, int v)
{
    if (v < 0 || g->values[v].kind != VALUE_CONST) return NULL;
    const ei_tensor *t = &g->values[v].init;
    return t->dtype == EI_DTYPE_FLOAT32 && (t->data || shape_numel(t->rank, t->dims) == 0) ? t : NULL;
}

ei_status graph_compile(const ei_model *src, ei_model **out, char *err)
{
    *out = NULL;
    ei_model *g = graph_copy(src);
    if (!g) return set_error(err, EI_STATUS_OUT_OF_MEMORY, "out of memory compiling the graph");
    for (const graph_pass *p = graph_passes; p->name; p++) {
        ei_status st = p->run(g);
        if (st == EI_STATUS_OK) st = graph_compact(g);
        if (st != EI_STATUS_OK) {
            graph_free(g);
            return set_error(err, st, "compile pass %s failed (%s)", p->name, ei_status_name(st));
        }
    }
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].op = node_op(&g->nodes[i]);
    *out = g;
    return EI_STATUS_OK;
}
