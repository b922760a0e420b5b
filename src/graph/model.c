/* Read-only queries on a loaded model: inputs, outputs, nodes, facts. */
#include <string.h>

#include "../ops/op.h"
#include "graph.h"

const char *ei_model_errmsg(const ei_model *m)
{
    return m ? m->errmsg : "no model (out of memory)";
}

static const value *io(const ei_model *m, int is_output, int i)
{
    if (!m) return NULL;
    int n = is_output ? m->n_outputs : m->n_inputs;
    if (i < 0 || i >= n) return NULL;
    return &m->values[is_output ? m->outputs[i] : m->inputs[i]];
}

int ei_model_io_count(const ei_model *m, int is_output)
{
    return !m ? 0 : is_output ? m->n_outputs : m->n_inputs;
}

const char *ei_model_io_name(const ei_model *m, int is_output, int i)
{
    const value *v = io(m, is_output, i);
    return v ? v->name : NULL;
}

int ei_model_io_index(const ei_model *m, int is_output, const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < ei_model_io_count(m, is_output); i++)
        if (!strcmp(io(m, is_output, i)->name, name)) return i;
    return -1;
}

ei_dtype ei_model_io_dtype(const ei_model *m, int is_output, int i)
{
    const value *v = io(m, is_output, i);
    if (!v) return EI_DTYPE_UNDEFINED;
    if (v->kind == VALUE_CONST && !v->has_decl) return (ei_dtype)v->init.dtype;
    return v->has_decl && v->decl_dtype > 0 ? (ei_dtype)v->decl_dtype : EI_DTYPE_UNDEFINED;
}

int ei_model_io_rank(const ei_model *m, int is_output, int i)
{
    const value *v = io(m, is_output, i);
    if (!v) return -1;
    return v->has_decl ? v->decl_rank : -1;
}

int64_t ei_model_io_dim(const ei_model *m, int is_output, int i, int axis)
{
    const value *v = io(m, is_output, i);
    if (!v || !v->has_decl || axis < 0 || axis >= v->decl_rank) return -1;
    return v->decl_dims[axis];
}

const char *ei_model_io_dim_name(const ei_model *m, int is_output, int i, int axis)
{
    const value *v = io(m, is_output, i);
    if (!v || !v->has_decl || axis < 0 || axis >= v->decl_rank) return "";
    return v->decl_dim_names[axis] ? v->decl_dim_names[axis] : "";
}

int64_t ei_model_ir_version(const ei_model *m) { return m ? m->ir_version : 0; }
const char *ei_model_producer(const ei_model *m) { return m && m->producer ? m->producer : ""; }

int64_t ei_model_opset(const ei_model *m, const char *domain)
{
    if (!m) return 0;
    if (!domain || !strcmp(domain, "ai.onnx")) domain = "";
    for (int i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        if (!strcmp(d, "ai.onnx")) d = "";
        if (!strcmp(d, domain)) return m->opsets[i].version;
    }
    return 0;
}

int ei_model_node_count(const ei_model *m) { return m ? m->n_nodes : 0; }

static const node *nd(const ei_model *m, int i)
{
    return m && i >= 0 && i < m->n_nodes ? &m->nodes[i] : NULL;
}

const char *ei_model_node_op(const ei_model *m, int i) { return nd(m, i) ? nd(m, i)->op_type : NULL; }
const char *ei_model_node_domain(const ei_model *m, int i) { return nd(m, i) ? nd(m, i)->domain : NULL; }
const char *ei_model_node_name(const ei_model *m, int i) { return nd(m, i) ? nd(m, i)->name : NULL; }
const node *model_find_unsupported(const ei_model *m, int *count)
{
    const node *first = NULL;
    for (int i = 0; i < m->n_nodes; i++) {
        const node *n = &m->nodes[i];
        if (!node_op(n) && (*count)++ == 0) first = n;
        for (int k = 0; k < n->n_attr; k++) {
            if (!n->attrs[k].sub) continue;
            const node *f = model_find_unsupported(n->attrs[k].sub, count);
            if (f && !first) first = f;
        }
    }
    return first;
}

int ei_model_node_supported(const ei_model *m, int i)
{
    const node *n = nd(m, i);
    if (!n || !node_op(n)) return 0;
    for (int k = 0; k < n->n_attr; k++) {
        int bad = 0;
        if (n->attrs[k].sub) model_find_unsupported(n->attrs[k].sub, &bad);
        if (bad) return 0;
    }
    return 1;
}
size_t ei_model_weight_bytes(const ei_model *m) { return m ? m->weight_bytes : 0; }

const op_def *node_op(const node *n)
{
    return op_lookup(n->op_type, n->domain, n->opset);
}

void model_compute_last_use(ei_model *m)
{
    for (int v = 0; v < m->n_values; v++) m->values[v].last_use = -1;
    for (int pos = 0; pos < m->n_nodes; pos++) {
        const node *nd = &m->nodes[m->order[pos]];
        for (int k = 0; k < nd->n_in + nd->n_implicit; k++)
            if (node_input(nd, k) >= 0) m->values[node_input(nd, k)].last_use = pos;
    }
}
