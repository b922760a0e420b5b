/*
 * The compile step (compile.c) and its passes (passes.c): each session runs a
 * copy of the model's graph through a fixed list of passes before planning.
 */
#ifndef EI_COMPILE_H
#define EI_COMPILE_H

#include "graph.h"

/* A pass rewrites g in place and leaves a valid graph: call graph_compact after killing nodes. */
typedef ei_status (*graph_pass_fn)(ei_model *g);

typedef struct graph_pass {
    const char *name;
    graph_pass_fn run;
} graph_pass;

/* The passes in the order compile runs them; the list ends with {NULL, NULL}. */
extern const graph_pass graph_passes[];

/* A copy of src that passes may rewrite: own nodes, values (with room for new constants),
 * order and arena; attributes, names, weights and subgraphs stay src's. NULL when out of memory. */
ei_model *graph_copy(const ei_model *src);
void graph_free(ei_model *g);
/* Drops dead nodes and restores the execution order, producers and last uses. */
ei_status graph_compact(ei_model *g);
/* Copies src and runs every pass, then binds each node to its op. Messages go to err. */
ei_status graph_compile(const ei_model *src, ei_model **out, char *err);

/* ---- helpers for passes ---- */
/* count[v]: live node inputs (implicit ones too) reading value v; pinned[v]: v is a graph output or
 * read by a subgraph, so no pass may rename or remove it. Each array has g->n_values entries. */
typedef struct graph_uses {
    int *count;
    bool *pinned;
    int *first, *last; /* the first and last live node (by index) reading v as an input; -1 for none */
} graph_uses;
ei_status graph_uses_init(const ei_model *g, graph_uses *u);
void graph_uses_free(graph_uses *u);
/* Appends a constant value holding t (whose data must outlive g); -1 when there is no room. */
int graph_add_const(ei_model *g, const char *name, const ei_tensor *t);
/* The node producing value v when it is alive, else NULL. */
node *graph_producer(ei_model *g, int v);
/* Makes n produce value v as its first output, in place of the node a pass fused into it, so that
 * graph_producer sees the change within the same pass. */
void graph_take_output(ei_model *g, node *n, int v);
/* Records in n->fused that `what` (an op type) was merged into it. */
ei_status graph_note_fused(ei_model *g, node *n, const char *what);
/* A constant float32 tensor held by value v, or NULL. */
const ei_tensor *graph_const_f32(const ei_model *g, int v);

#endif
