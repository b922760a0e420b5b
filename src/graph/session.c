/*
 * Sessions: plan once, run many times.
 *
 * Planning walks the nodes in execution order with the actual input shapes:
 * each op infers its output shapes; nodes whose inputs are all known (weights,
 * or shape arithmetic such as Shape -> Gather -> Concat -> Reshape) run right
 * there and become constants. The remaining activations get fixed offsets in
 * one arena (planner.c), in-place where an op allows it and the input dies at
 * that node. A run then only calls the ops' run functions.
 *
 * When an output shape depends on data that is only known while running
 * (NonZero, or a Reshape fed by computed values), the session is "dynamic":
 * each run infers and allocates node by node, freeing buffers after their last
 * use. The plan is made again only when the input shapes change.
 */
#include <stdlib.h>
#include <string.h>

#include "../ops/op.h"
#include "compile.h"
#include "graph.h"

#define FAIL(s, st, ...) set_error((s)->errmsg, (st), __VA_ARGS__)

/* The data of empty inputs, and the scratch of ops that asked for none: never NULL, so that an
 * op's `scratch + 0` or `data + 0` is defined (C has no NULL + 0). Nothing writes to it. */
static _Alignas(EI_ALIGN) uint8_t empty_data[EI_ALIGN + EI_PAD];

static void ctx_init(op_ctx *c, ei_session *s, int i, bool at_plan)
{
    const node *n = &s->m->nodes[i];
    node_rt *rt = &s->rt[i];
    memset(c, 0, sizeof *c);
    c->s = s;
    c->n = n;
    c->opset = n->opset;
    c->n_in = n->n_in;
    c->n_out = n->n_out;
    c->in = rt->in;
    c->out = rt->out;
    c->state = rt->state;
    c->scratch = empty_data;
    c->at_plan = at_plan;
}

/* An op call's status, unless the op met an attribute of the wrong type: that error comes first. */
static ei_status attr_checked(op_ctx *c, ei_status st)
{
    ei_status at = attr_type_error(c);
    return at != EI_STATUS_OK ? at : st;
}

/* Runs an op's infer and checks that it described every wanted output. */
static ei_status infer_node(ei_session *s, int i, op_ctx *c)
{
    const node *n = &s->m->nodes[i];
    for (int k = 0; k < n->n_out; k++)
        if (c->out[k]) {
            c->out[k]->dtype = 0;
            c->out[k]->data = NULL;
        }
    attr_type_reset();
    ei_status st = attr_checked(c, n->op->infer(c));
    if (st != EI_STATUS_OK) return st;
    for (int k = 0; k < n->n_out; k++)
        if (c->out[k] && c->out[k]->dtype == 0)
            return FAIL(s, EI_STATUS_UNSUPPORTED, "%s: output %d was not produced (not supported in this form)",
                        node_label(n), k);
    return EI_STATUS_OK;
}

static void free_dynamic(ei_session *s)
{
    if (!s->dyn) return;
    for (int v = 0; v < s->m->n_values; v++) {
        free(s->dyn[v]);
        s->dyn[v] = NULL;
        s->dyn_size[v] = 0;
    }
    s->dyn_bytes = 0;
}

/* Fails unless `more` bytes fit in the session's memory budget beside what it holds (the
 * activation arena `arena`, folded constants and op state, per-run buffers). */
static ei_status check_budget(ei_session *s, size_t arena, size_t more, const char *what)
{
    uint64_t held = (uint64_t)arena + s->plan_mem.total + s->dyn_bytes;
    if (more <= (uint64_t)s->limits.session_bytes && held <= (uint64_t)s->limits.session_bytes - more)
        return EI_STATUS_OK;
    return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "%s needs %zu bytes beside the %llu the session holds: more than its "
                "budget of %lld bytes (ei_limits.session_bytes)", what, more, (unsigned long long)held,
                (long long)s->limits.session_bytes);
}

static void reset_values(ei_session *s)
{
    const ei_model *m = s->m;
    free_dynamic(s);
    arena_free(&s->plan_mem);
    for (int v = 0; v < m->n_values; v++) {
        const value *val = &m->values[v];
        s->known[v] = val->kind == VALUE_CONST;
        if (val->kind == VALUE_CONST) s->t[v] = val->init;
        else memset(&s->t[v], 0, sizeof s->t[v]);
    }
    for (int i = 0; i < m->n_nodes; i++) {
        if (s->rt[i].resume) s->rt[i].resume_free(s->rt[i].resume);
        s->rt[i].resume = NULL;
        s->rt[i].state = NULL;
        s->rt[i].folded = false;
        s->rt[i].scratch_bytes = 0;
        s->rt[i].scratch_off = 0;
    }
    s->planned = s->dynamic = s->ran = false;
}

/* Places the non-constant activations and scratch buffers of a static plan. */
static ei_status place_activations(ei_session *s)
{
    const ei_model *m = s->m;
    int nv = m->n_values, nn = m->n_nodes;
    plan_buf *bufs = calloc((size_t)(nv + nn) + 1, sizeof *bufs);
    int *buf_of = malloc(((size_t)nv + 1) * sizeof(int));
    if (!bufs || !buf_of) {
        free(bufs);
        free(buf_of);
        return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "out of memory while planning");
    }
    int nb = 0;
    for (int v = 0; v < nv; v++) buf_of[v] = -1;
    for (int pos = 0; pos < nn; pos++) {
        int i = m->order[pos];
        const node *n = &m->nodes[i];
        node_rt *rt = &s->rt[i];
        if (rt->folded) continue;
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0) continue;
            const value *val = &m->values[v];
            size_t bytes = (size_t)tensor_nbytes(&s->t[v]);
            int last = val->is_output ? nn : val->last_use >= 0 ? val->last_use : pos;
            int src = k == 0 && (n->op->flags & OP_INPLACE) && n->n_in > 0 ? n->in[0] : -1;
            if (src >= 0 && buf_of[src] >= 0 && !s->known[src] && m->values[src].kind == VALUE_ACTIVATION &&
                !m->values[src].is_output && m->values[src].last_use == pos &&
                s->t[src].dtype == s->t[v].dtype && tensor_nbytes(&s->t[src]) == (int64_t)bytes) {
                /* Same dtype and byte size means the same element count: no input element is
                 * broadcast, so each is read before the op writes the same index. */
                buf_of[v] = buf_of[src];
                if (bufs[buf_of[v]].last < last) bufs[buf_of[v]].last = last;
                continue;
            }
            buf_of[v] = nb;
            bufs[nb++] = (plan_buf){padded_size(bytes), pos, last, 0};
        }
        if (rt->scratch_bytes) {
            bufs[nb] = (plan_buf){padded_size(rt->scratch_bytes), pos, pos, 0};
            rt->scratch_off = (size_t)nb++; /* a buffer index until placed */
        }
    }
    size_t total = plan_place(bufs, nb);
    if (total > SIZE_MAX - 2 * EI_ALIGN || check_budget(s, 0, total, "the activation arena") != EI_STATUS_OK) {
        free(bufs);
        free(buf_of);
        if (total > SIZE_MAX - 2 * EI_ALIGN) return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "out of memory while planning");
        return EI_STATUS_OUT_OF_MEMORY;
    }
    if (total < EI_ALIGN) total = EI_ALIGN;
    if (total > s->arena_bytes || !s->arena_raw) {
        free(s->arena_raw);
        s->arena_raw = malloc(total + EI_ALIGN);
        s->arena_base = NULL;
        s->arena_bytes = 0;
        if (!s->arena_raw) {
            free(bufs);
            free(buf_of);
            return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "out of memory: the activation arena needs %zu bytes", total);
        }
        s->arena_base = (uint8_t *)(((uintptr_t)s->arena_raw + EI_ALIGN - 1) & ~(uintptr_t)(EI_ALIGN - 1));
    }
    s->arena_bytes = total;
    for (int v = 0; v < nv; v++)
        if (buf_of[v] >= 0) s->t[v].data = s->arena_base + bufs[buf_of[v]].offset;
    for (int i = 0; i < nn; i++)
        if (!s->rt[i].folded && s->rt[i].scratch_bytes) s->rt[i].scratch_off = bufs[s->rt[i].scratch_off].offset;
    free(bufs);
    free(buf_of);
    return EI_STATUS_OK;
}

/* True when every output of the node holds zero elements: there is nothing to compute, and the
 * op's run is not called (its loops could otherwise walk a huge outer extent of empty rows). */
static bool outputs_empty(const op_ctx *c)
{
    if (c->n_out == 0) return false;
    for (int k = 0; k < c->n_out; k++)
        if (c->out[k] && shape_numel(c->out[k]->rank, c->out[k]->dims) != 0) return false;
    return true;
}

/* Runs a node at plan time because all its inputs are known: its outputs become constants. */
static ei_status fold_node(ei_session *s, int i, op_ctx *c)
{
    const node *n = &s->m->nodes[i];
    size_t need = padded_size(c->scratch_bytes);
    for (int k = 0; k < n->n_out; k++)
        if (c->out[k]) need += padded_size((size_t)tensor_nbytes(c->out[k]));
    if (check_budget(s, s->arena_bytes, need, node_label(n)) != EI_STATUS_OK) return EI_STATUS_OUT_OF_MEMORY;
    for (int k = 0; k < n->n_out; k++) {
        if (!c->out[k]) continue;
        c->out[k]->data = arena_alloc(&s->plan_mem, (size_t)tensor_nbytes(c->out[k]));
        if (!c->out[k]->data) return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "%s: out of memory", node_label(n));
    }
    if (c->scratch_bytes) {
        c->scratch = arena_alloc(&s->plan_mem, c->scratch_bytes);
        if (!c->scratch) return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "%s: out of memory", node_label(n));
    }
    if (n->op->prepare) {
        TRY(attr_checked(c, n->op->prepare(c)));
        s->rt[i].state = c->state;
    }
    if (!outputs_empty(c)) TRY(attr_checked(c, n->op->run(c)));
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) s->known[n->out[k]] = true;
    s->rt[i].folded = true;
    return EI_STATUS_OK;
}

/* Plans for the given input shapes (data is not looked at). */
static ei_status plan(ei_session *s, const ei_tensor *inputs)
{
    const ei_model *m = s->m;
    reset_values(s);
    for (int k = 0; k < m->n_inputs; k++) {
        ei_tensor *t = &s->t[m->inputs[k]];
        *t = inputs[k];
        t->data = NULL;
        s->plan_inputs[k] = inputs[k];
        s->plan_inputs[k].data = NULL;
    }
    for (int pos = 0; pos < m->n_nodes; pos++) {
        int i = m->order[pos];
        const node *n = &m->nodes[i];
        op_ctx c;
        ctx_init(&c, s, i, true);
        ei_status st = infer_node(s, i, &c);
        if (st == EI_STATUS_NEEDS_DATA) {
            reset_values(s);
            for (int k = 0; k < m->n_inputs; k++) s->plan_inputs[k] = inputs[k];
            s->dynamic = s->planned = true;
            return EI_STATUS_OK;
        }
        if (st != EI_STATUS_OK) return st;
        bool all_known = true;
        for (int k = 0; k < n->n_in + n->n_implicit; k++)
            if (node_input(n, k) >= 0 && !s->known[node_input(n, k)]) all_known = false;
        if (all_known || (n->op->flags & OP_SHAPE_ONLY)) {
            TRY(fold_node(s, i, &c));
        } else {
            s->rt[i].scratch_bytes = c.scratch_bytes;
        }
    }
    TRY(place_activations(s));
    for (int pos = 0; pos < m->n_nodes; pos++) {
        int i = m->order[pos];
        const node *n = &m->nodes[i];
        if (s->rt[i].folded || !n->op->prepare) continue;
        op_ctx c;
        ctx_init(&c, s, i, true);
        TRY(attr_checked(&c, n->op->prepare(&c)));
        s->rt[i].state = c.state;
    }
    s->planned = true;
    return EI_STATUS_OK;
}

static bool all_dims_fixed(const ei_model *m)
{
    for (int k = 0; k < m->n_inputs; k++) {
        const value *v = &m->values[m->inputs[k]];
        if (!v->has_decl || v->decl_rank < 0 || dtype_size(v->decl_dtype) == 0) return false;
        for (int d = 0; d < v->decl_rank; d++)
            if (v->decl_dims[d] < 0) return false;
    }
    return true;
}

static ei_status create(ei_session *s, const ei_model *m)
{
    if (!m) return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "ei_session_create: no model");
    if (m->n_nodes == 0 && m->n_outputs == 0)
        return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "ei_session_create: the model did not load (%s)",
                    m->errmsg[0] ? m->errmsg : "empty graph");
    int unsupported = 0;
    const node *n_bad = model_find_unsupported(m, &unsupported);
    if (unsupported) {
        const node *n = n_bad;
        char more[64] = "";
        if (unsupported > 1) ei_format(more, sizeof more, " (and %d more unsupported nodes)", unsupported - 1);
        return FAIL(s, EI_STATUS_UNSUPPORTED, "%s: op %s%s%s is not supported by edgeinfer%s", node_label(n),
                    n->domain[0] ? n->domain : "", n->domain[0] ? "." : "", n->op_type, more);
    }
    TRY(graph_compile(m, &s->compiled, s->errmsg));
    s->m = m = s->compiled;
    int nv = m->n_values, nn = m->n_nodes, ni = m->n_inputs;
    s->t = arena_alloc(&s->mem, ((size_t)nv + 1) * sizeof(ei_tensor));
    s->known = arena_alloc(&s->mem, ((size_t)nv + 1) * sizeof(bool));
    s->rt = arena_alloc(&s->mem, ((size_t)nn + 1) * sizeof(node_rt));
    s->bound = arena_alloc(&s->mem, ((size_t)ni + 1) * sizeof(ei_tensor));
    s->is_bound = arena_alloc(&s->mem, ((size_t)ni + 1) * sizeof(bool));
    s->plan_inputs = arena_alloc(&s->mem, ((size_t)ni + 1) * sizeof(ei_tensor));
    s->dyn = arena_alloc(&s->mem, ((size_t)nv + 1) * sizeof(void *));
    s->dyn_size = arena_alloc(&s->mem, ((size_t)nv + 1) * sizeof(size_t));
    if (!s->t || !s->known || !s->rt || !s->bound || !s->is_bound || !s->plan_inputs || !s->dyn || !s->dyn_size)
        return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "out of memory creating the session");

    for (int i = 0; i < nn; i++) {
        const node *n = &m->nodes[i];
        node_rt *rt = &s->rt[i];
        rt->in = arena_alloc(&s->mem, ((size_t)n->n_in + 1) * sizeof(ei_tensor *));
        rt->out = arena_alloc(&s->mem, ((size_t)n->n_out + 1) * sizeof(ei_tensor *));
        if (!rt->in || !rt->out) return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "out of memory creating the session");
        for (int k = 0; k < n->n_in; k++) rt->in[k] = n->in[k] >= 0 ? &s->t[n->in[k]] : NULL;
        for (int k = 0; k < n->n_out; k++) rt->out[k] = n->out[k] >= 0 ? &s->t[n->out[k]] : NULL;
    }
    /* Ops rely on out[0] being there, except those whose outputs are all optional. */
    for (int i = 0; i < nn; i++) {
        const node *n = &m->nodes[i];
        if ((n->n_out == 0 || n->out[0] < 0) && !(n->op->flags & OP_OUTPUTS_OPTIONAL))
            return FAIL(s, EI_STATUS_INVALID_MODEL, "%s: output 0 is required but absent", node_label(n));
    }
    reset_values(s);
    if (all_dims_fixed(m)) {
        for (int k = 0; k < ni; k++) {
            const value *v = &m->values[m->inputs[k]];
            ei_tensor *t = &s->bound[k];
            t->dtype = v->decl_dtype;
            t->rank = v->decl_rank;
            memcpy(t->dims, v->decl_dims, sizeof t->dims);
            if (tensor_nbytes(t) < 0 || tensor_nbytes(t) > s->limits.tensor_bytes)
                return FAIL(s, EI_STATUS_INVALID_SHAPE, "input '%s': shape %s is invalid or too large", v->name,
                            shape_str(t));
        }
        ei_status st = plan(s, s->bound);
        memset(s->bound, 0, ((size_t)ni + 1) * sizeof(ei_tensor));
        if (st != EI_STATUS_OK) return st;
    }
    return EI_STATUS_OK;
}

void ei_limits_default(ei_limits *l)
{
    if (!l) return;
    l->tensor_bytes = EI_MAX_TENSOR_BYTES;
    l->session_bytes = EI_DEFAULT_SESSION_BYTES;
    l->loop_iterations = EI_DEFAULT_LOOP_ITERATIONS;
}

void ei_session_options_default(ei_session_options *o)
{
    if (!o) return;
    ei_limits_default(&o->limits);
    o->threadpool = NULL;
}

static ei_status create_session(const ei_model *m, const ei_session_options *o, int64_t *iter_count,
                                int64_t *slice_left, ei_session **out)
{
    if (!out) return EI_STATUS_INVALID_ARGUMENT;
    ei_session *s = calloc(1, sizeof *s);
    *out = s;
    if (!s) return EI_STATUS_OUT_OF_MEMORY;
    ei_limits_default(&s->limits);
    if (o) {
        const ei_limits *l = &o->limits;
        if (l->tensor_bytes <= 0 || l->session_bytes <= 0 || l->loop_iterations <= 0)
            return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "ei_session_create_with: every limit must be > 0 "
                        "(tensor_bytes %lld, session_bytes %lld, loop_iterations %lld)",
                        (long long)l->tensor_bytes, (long long)l->session_bytes, (long long)l->loop_iterations);
        s->limits = *l;
        if (s->limits.tensor_bytes > EI_MAX_TENSOR_BYTES) s->limits.tensor_bytes = EI_MAX_TENSOR_BYTES;
        s->pool = o->threadpool;
    }
    s->iter_count = iter_count ? iter_count : &s->iterations;
    s->slice_left = slice_left ? slice_left : &s->slice;
    s->pos = -1;
    ei_status st = create(s, m);
    if (st != EI_STATUS_OK && s->m) {
        /* A failed session keeps only its message: every later call says it was not created. */
        reset_values(s);
        s->m = NULL;
    }
    return st;
}

ei_status ei_session_create(const ei_model *m, ei_session **out) { return create_session(m, NULL, NULL, NULL, out); }

ei_status ei_session_create_with(const ei_model *m, const ei_session_options *o, ei_session **out)
{
    return create_session(m, o, NULL, NULL, out);
}

ei_status session_create_child(const ei_session *parent, const ei_model *m, ei_session **out)
{
    ei_session_options o = {parent->limits, parent->pool};
    return create_session(m, &o, parent->iter_count, parent->slice_left, out);
}

ei_status op_count_iteration(op_ctx *ctx)
{
    ei_session *s = ctx->s;
    if (++*s->iter_count <= s->limits.loop_iterations) return EI_STATUS_OK;
    return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT, "more than %lld loop iterations in one run (nested loops "
                   "included; ei_limits.loop_iterations)", (long long)s->limits.loop_iterations);
}

bool op_pause(op_ctx *ctx, void *progress, void (*progress_free)(void *))
{
    ei_session *s = ctx->s;
    if (!s->stepping || *s->slice_left > 0) return false;
    node_rt *rt = &s->rt[ctx->n - s->m->nodes];
    rt->resume = progress;
    rt->resume_free = progress_free;
    return true;
}

void *op_resumed(op_ctx *ctx)
{
    node_rt *rt = &ctx->s->rt[ctx->n - ctx->s->m->nodes];
    void *p = rt->resume;
    rt->resume = NULL;
    return p;
}

ei_status op_subsession_plan(op_ctx *ctx, ei_session *cs, const ei_tensor *inputs, ei_tensor *outputs, bool *is_static)
{
    ei_status st = plan(cs, inputs);
    if (st != EI_STATUS_OK) return op_fail(ctx, st, "subgraph: %s", cs->errmsg);
    *is_static = !cs->dynamic;
    for (int i = 0; *is_static && i < cs->m->n_outputs; i++) {
        outputs[i] = cs->t[cs->m->outputs[i]];
        outputs[i].data = NULL;
    }
    return EI_STATUS_OK;
}

ei_status op_subsession(op_ctx *ctx, const attr *a, ei_session **out)
{
    node_rt *rt = &ctx->s->rt[ctx->n - ctx->s->m->nodes];
    int k = 0;
    while (k < 2 && rt->sub[k] && rt->sub_of[k] != a) k++;
    if (k == 2) return op_fail(ctx, EI_STATUS_INVALID_MODEL, "more than two subgraphs");
    if (!rt->sub[k]) {
        ei_status st = session_create_child(ctx->s, a->sub, &rt->sub[k]);
        if (st != EI_STATUS_OK) {
            op_fail(ctx, st, "subgraph '%s': %s", a->name, ei_session_errmsg(rt->sub[k]));
            ei_session_free(rt->sub[k]);
            rt->sub[k] = NULL;
            return st;
        }
        rt->sub_of[k] = a;
    }
    *out = rt->sub[k];
    return EI_STATUS_OK;
}

void ei_session_free(ei_session *s)
{
    if (!s) return;
    for (int i = 0; s->rt && s->compiled && i < s->compiled->n_nodes; i++) {
        ei_session_free(s->rt[i].sub[0]);
        ei_session_free(s->rt[i].sub[1]);
    }
    if (s->m) reset_values(s);
    arena_free(&s->plan_mem);
    arena_free(&s->mem);
    graph_free(s->compiled);
    free(s->arena_raw);
    free(s);
}

const char *ei_session_errmsg(const ei_session *s)
{
    return s ? s->errmsg : "no session (out of memory)";
}

size_t ei_session_arena_bytes(const ei_session *s)
{
    return s && s->planned && !s->dynamic ? s->arena_bytes : 0;
}

int ei_session_node_count(const ei_session *s) { return s && s->m ? s->m->n_nodes : 0; }

static const node *compiled_node(const ei_session *s, int i)
{
    return i >= 0 && i < ei_session_node_count(s) ? &s->m->nodes[s->m->order[i]] : NULL;
}

const char *ei_session_run_node(const ei_session *s)
{
    const node *n = s ? compiled_node(s, s->pos) : NULL;
    return n ? node_label(n) : NULL;
}

const char *ei_session_node_op(const ei_session *s, int i)
{
    return compiled_node(s, i) ? compiled_node(s, i)->op_type : NULL;
}

const char *ei_session_node_name(const ei_session *s, int i)
{
    return compiled_node(s, i) ? compiled_node(s, i)->name : NULL;
}

const char *ei_session_node_fused(const ei_session *s, int i)
{
    const node *n = compiled_node(s, i);
    return !n ? NULL : n->fused ? n->fused : "";
}

static const char *decl_str(const value *v)
{
    static _Thread_local char buf[256];
    size_t k = 0;
    k += ei_format(buf, sizeof buf, "%s [", ei_dtype_name(v->decl_dtype));
    for (int d = 0; d < v->decl_rank && k < 200; d++) {
        if (d) buf[k++] = ',';
        if (v->decl_dims[d] >= 0) k += ei_format(buf + k, sizeof buf - k, "%lld", (long long)v->decl_dims[d]);
        else k += ei_format(buf + k, sizeof buf - k, "%s", v->decl_dim_names[d][0] ? v->decl_dim_names[d] : "?");
    }
    ei_format(buf + k, sizeof buf - k, "]");
    return buf;
}

ei_status ei_session_set_input(ei_session *s, int index, const ei_tensor *t)
{
    if (!s) return EI_STATUS_INVALID_ARGUMENT;
    if (!s->m) return FAIL(s, EI_STATUS_INVALID_STATE, "the session was not created");
    const ei_model *m = s->m;
    ei_session_run_cancel(s);
    if (index < 0 || index >= m->n_inputs)
        return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "input index %d is out of range: the model has %d inputs", index,
                    m->n_inputs);
    const value *v = &m->values[m->inputs[index]];
    if (!t) return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "input '%s': no tensor given", v->name);
    if (t->rank < 0 || t->rank > EI_MAX_DIMS)
        return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "input '%s': rank %d is out of range (0..%d)", v->name, t->rank,
                    EI_MAX_DIMS);
    if (dtype_size(t->dtype) == 0)
        return FAIL(s, EI_STATUS_UNSUPPORTED, "input '%s': dtype %s is not supported", v->name,
                    ei_dtype_name(t->dtype));
    if (tensor_nbytes(t) < 0 || tensor_nbytes(t) > s->limits.tensor_bytes)
        return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "input '%s': shape %s is invalid or too large", v->name,
                    shape_str(t));
    /* As onnxruntime does, a one-element tensor of any rank ([1], [1,1]) feeds a declared scalar. */
    ei_tensor scalar;
    if (v->has_decl && v->decl_rank == 0 && t->rank > 0 && ei_tensor_numel(t) == 1) {
        scalar = *t;
        scalar.rank = 0;
        t = &scalar;
    }
    if (v->has_decl) {
        bool ok = v->decl_dtype == t->dtype || v->decl_dtype == 0;
        if (ok && v->decl_rank >= 0) {
            ok = v->decl_rank == t->rank;
            for (int d = 0; ok && d < t->rank; d++)
                if (v->decl_dims[d] >= 0 && v->decl_dims[d] != t->dims[d]) ok = false;
        }
        if (!ok)
            return FAIL(s, EI_STATUS_INVALID_SHAPE, "input '%s': expected %s, got %s %s", v->name, decl_str(v),
                        ei_dtype_name(t->dtype), shape_str(t));
    }
    if (!t->data && ei_tensor_numel(t) > 0)
        return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "input '%s': data is NULL", v->name);
    if (t->data && dtype_size(t->dtype) > EI_UNALIGNED_MAX && (uintptr_t)t->data % dtype_size(t->dtype))
        return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "input '%s': data is not aligned to its %zu-byte elements",
                    v->name, dtype_size(t->dtype));
    s->bound[index] = *t;
    if (!t->data) s->bound[index].data = empty_data;
    s->is_bound[index] = true;
    return EI_STATUS_OK;
}

static bool same_shape(const ei_tensor *a, const ei_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return true;
}

/* Symbolic dims with the same name must agree across inputs. */
static ei_status check_symbols(ei_session *s)
{
    const ei_model *m = s->m;
    for (int a = 0; a < m->n_inputs; a++) {
        const value *va = &m->values[m->inputs[a]];
        for (int da = 0; va->has_decl && da < va->decl_rank; da++) {
            const char *name = va->decl_dim_names[da];
            if (va->decl_dims[da] >= 0 || !name[0]) continue;
            for (int b = a; b < m->n_inputs; b++) {
                const value *vb = &m->values[m->inputs[b]];
                for (int db = 0; vb->has_decl && db < vb->decl_rank; db++) {
                    if ((b == a && db <= da) || strcmp(vb->decl_dim_names[db], name)) continue;
                    int64_t x = s->bound[a].dims[da], y = s->bound[b].dims[db];
                    if (x != y)
                        return FAIL(s, EI_STATUS_INVALID_SHAPE,
                                    "dim '%s' is %lld in input '%s' but %lld in input '%s'", name, (long long)x,
                                    va->name, (long long)y, vb->name);
                }
            }
        }
    }
    return EI_STATUS_OK;
}

/* Per-run mode: frees the buffers whose last reader was the node at `pos`. */
static void free_dead_inputs(ei_session *s, const node *n, int pos)
{
    const ei_model *m = s->m;
    for (int k = 0; k < n->n_in + n->n_implicit; k++) {
        int v = node_input(n, k);
        if (v >= 0 && s->dyn[v] && m->values[v].last_use == pos && !m->values[v].is_output) {
            free(s->dyn[v]);
            s->dyn[v] = NULL;
            s->dyn_bytes -= s->dyn_size[v];
            s->dyn_size[v] = 0;
            s->t[v].data = NULL;
        }
    }
}

/* Per-run mode: gives value v (its dtype and dims already set) a buffer of its own, within the budget. */
static ei_status place_dynamic(ei_session *s, const node *n, int k)
{
    int v = n->out[k];
    free(s->dyn[v]);
    s->dyn[v] = NULL;
    s->t[v].data = NULL;
    s->dyn_bytes -= s->dyn_size[v];
    s->dyn_size[v] = 0;
    size_t bytes = (size_t)tensor_nbytes(&s->t[v]) + EI_PAD;
    TRY(check_budget(s, 0, bytes, node_label(n)));
    s->dyn[v] = s->t[v].data = malloc(bytes);
    if (!s->dyn[v])
        return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "%s: out of memory for output %d (%s)", node_label(n), k,
                    shape_str(&s->t[v]));
    s->dyn_size[v] = bytes;
    s->dyn_bytes += bytes;
    return EI_STATUS_OK;
}

ei_status op_output_alloc(op_ctx *ctx, int i, int32_t dtype, int rank, const int64_t *dims)
{
    if (!has_out(ctx, i)) return EI_STATUS_OK;
    TRY(set_output(ctx, i, dtype, rank, dims));
    return place_dynamic(ctx->s, ctx->n, i);
}

/* Per-run mode, at the start of a run: fresh values, the bound inputs in place. */
static void dynamic_begin(ei_session *s)
{
    const ei_model *m = s->m;
    reset_values(s);
    s->dynamic = s->planned = true;
    for (int k = 0; k < m->n_inputs; k++) {
        s->t[m->inputs[k]] = s->bound[k];
        s->known[m->inputs[k]] = true;
    }
}

/* Per-run mode: infers, places and runs the node at `pos`. */
static ei_status dynamic_node(ei_session *s, int pos)
{
    int i = s->m->order[pos];
    const node *n = &s->m->nodes[i];
    op_ctx c;
    ctx_init(&c, s, i, false);
    if (n->op->flags & OP_DYNAMIC_OUTPUTS) {
        /* The op places its outputs itself (op_output_alloc) once it knows them; a paused op
         * resumes with those it placed already. */
        for (int k = 0; k < n->n_out && !s->rt[i].resume; k++)
            if (c.out[k]) c.out[k]->dtype = 0;
        TRY(attr_checked(&c, n->op->run(&c)));
        for (int k = 0; k < n->n_out; k++)
            if (c.out[k] && !c.out[k]->data)
                return FAIL(s, EI_STATUS_INVALID_MODEL, "%s: output %d was not produced", node_label(n), k);
        free_dead_inputs(s, n, pos);
        return EI_STATUS_OK;
    }
    ei_status st = infer_node(s, i, &c);
    if (st == EI_STATUS_NEEDS_DATA)
        return FAIL(s, EI_STATUS_INVALID_STATE, "%s: an input value is missing at run time", node_label(n));
    TRY(st);
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) TRY(place_dynamic(s, n, k));
    void *scratch = NULL;
    if (c.scratch_bytes) {
        TRY(check_budget(s, 0, padded_size(c.scratch_bytes), node_label(n)));
        scratch = aligned_alloc(EI_ALIGN, padded_size(c.scratch_bytes));
        if (!scratch) return FAIL(s, EI_STATUS_OUT_OF_MEMORY, "%s: out of memory for scratch", node_label(n));
        c.scratch = scratch;
    }
    if (n->op->prepare) st = attr_checked(&c, n->op->prepare(&c));
    if (st == EI_STATUS_OK && !outputs_empty(&c)) st = attr_checked(&c, n->op->run(&c));
    free(scratch);
    TRY(st);
    free_dead_inputs(s, n, pos);
    return EI_STATUS_OK;
}

/* Planned mode: runs the node at `pos` on the arena. */
static ei_status static_node(ei_session *s, int pos)
{
    int i = s->m->order[pos];
    if (s->rt[i].folded) return EI_STATUS_OK;
    op_ctx c;
    ctx_init(&c, s, i, false);
    c.scratch_bytes = s->rt[i].scratch_bytes;
    c.scratch = c.scratch_bytes ? s->arena_base + s->rt[i].scratch_off : empty_data;
    return outputs_empty(&c) ? EI_STATUS_OK : attr_checked(&c, s->m->nodes[i].op->run(&c));
}

/* The start of a run: checks the inputs, plans when their shapes changed. */
static ei_status run_begin(ei_session *s)
{
    if (!s) return EI_STATUS_INVALID_ARGUMENT;
    if (!s->m) return FAIL(s, EI_STATUS_INVALID_STATE, "the session was not created");
    const ei_model *m = s->m;
    ei_session_run_cancel(s);
    s->ran = false;
    s->pos = -1; /* no node while planning */
    if (s->iter_count == &s->iterations) s->iterations = 0; /* a root session: a new run's count */
    for (int k = 0; k < m->n_inputs; k++)
        if (!s->is_bound[k])
            return FAIL(s, EI_STATUS_INVALID_STATE, "input '%s' was not set (the model has %d inputs)",
                        m->values[m->inputs[k]].name, m->n_inputs);
    TRY(check_symbols(s));
    s->replanned = !s->planned;
    for (int k = 0; k < m->n_inputs && !s->replanned; k++)
        if (!same_shape(&s->bound[k], &s->plan_inputs[k])) s->replanned = true;
    if (s->replanned) TRY(plan(s, s->bound));
    if (s->dynamic) dynamic_begin(s);
    else
        for (int k = 0; k < m->n_inputs; k++) s->t[m->inputs[k]].data = s->bound[k].data;
    s->pos = 0;
    return EI_STATUS_OK;
}

/* Runs nodes from s->pos to the end, or (stepping) until the slice is used up. */
static ei_status run_nodes(ei_session *s)
{
    for (int first = s->pos; s->pos < s->m->n_nodes; s->pos++) {
        if (s->stepping && *s->slice_left <= 0 && s->pos > first) return EI_STATUS_PENDING; /* after one node at least */
        --*s->slice_left;
        TRY(s->dynamic ? dynamic_node(s, s->pos) : static_node(s, s->pos));
    }
    return EI_STATUS_OK;
}

/* The end of a run, with its status. */
static ei_status run_end(ei_session *s, ei_status st)
{
    s->stepping = false;
    if (st != EI_STATUS_OK) {
        if (s->m && (s->replanned || s->dynamic)) reset_values(s); /* plan again next time, from a clean state */
        return st;
    }
    s->ran = true;
    return EI_STATUS_OK;
}

ei_status ei_session_run(ei_session *s)
{
    if (!s) return EI_STATUS_INVALID_ARGUMENT;
    ei_status st = run_begin(s);
    if (s->slice_left == &s->slice) s->slice = INT64_MAX; /* a root session: no slices */
    if (st == EI_STATUS_OK) st = run_nodes(s);
    return run_end(s, st);
}

ei_status ei_session_run_step(ei_session *s, int64_t budget)
{
    if (!s) return EI_STATUS_INVALID_ARGUMENT;
    if (!s->stepping) {
        ei_status st = run_begin(s);
        if (st != EI_STATUS_OK) return run_end(s, st);
        s->stepping = true;
    }
    s->slice = budget;
    ei_status st = run_nodes(s);
    return st == EI_STATUS_PENDING ? st : run_end(s, st);
}

void ei_session_run_cancel(ei_session *s)
{
    if (!s || !s->stepping) return;
    s->stepping = false;
    if (s->m && s->dynamic) reset_values(s); /* frees paused loops' progress and the run's buffers */
}

ei_status ei_session_output(ei_session *s, int index, ei_tensor *out)
{
    if (!s || !out) return EI_STATUS_INVALID_ARGUMENT;
    if (!s->m) return FAIL(s, EI_STATUS_INVALID_STATE, "the session was not created");
    if (index < 0 || index >= s->m->n_outputs)
        return FAIL(s, EI_STATUS_INVALID_ARGUMENT, "output index %d is out of range: the model has %d outputs", index,
                    s->m->n_outputs);
    if (!s->ran) return FAIL(s, EI_STATUS_INVALID_STATE, "no output yet: the last run did not succeed");
    *out = s->t[s->m->outputs[index]];
    return EI_STATUS_OK;
}
