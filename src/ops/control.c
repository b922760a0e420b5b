/*
 * Control flow: If, Loop and Scan. Their subgraphs were parsed with the model
 * (attr->sub); each has a session of its own, made (and compiled) at the
 * node's first run and kept with the node; each run binds the values it reads
 * from enclosing graphs (its outer values, after its own inputs), runs it as
 * often as the op says and copies its outputs out. Every body run counts
 * against the run's ei_limits.loop_iterations, shared with nested loops
 * through child sessions.
 *
 * Output shapes are known only by running, so these ops have
 * OP_DYNAMIC_OUTPUTS: a model that uses them plans node by node at each run
 * (allocation is allowed there), and run places the outputs itself.
 */
#include <stdlib.h>

#include "op.h"

/* Subgraph loops that run away are errors, not hangs. */
#define MAX_ITERATIONS ((int64_t)1 << 31)

static const attr *graph_attr(op_ctx *ctx, const char *name)
{
    const attr *a = attr_find(ctx->n, name);
    return a && a->type == ATTR_GRAPH && a->sub ? a : NULL;
}

static ei_status sub_fail(op_ctx *ctx, ei_status st, const attr *a, const ei_session *cs)
{
    return op_fail(ctx, st, "subgraph '%s': %s", a->name, ei_session_errmsg(cs));
}

/* The subgraph's session (made once, op_subsession) with its outer values bound to this graph's values. */
static ei_status sub_open(op_ctx *ctx, const attr *a, ei_session **out)
{
    const ei_model *g = a->sub;
    ei_session *cs;
    TRY(op_subsession(ctx, a, &cs));
    for (int k = 0; k < g->n_inputs - g->n_graph_inputs; k++) {
        ei_status st = ei_session_set_input(cs, g->n_graph_inputs + k, &ctx->s->t[g->outer_src[k]]);
        if (st != EI_STATUS_OK) return sub_fail(ctx, st, a, cs);
    }
    *out = cs;
    return EI_STATUS_OK;
}

static ei_status sub_run(op_ctx *ctx, const attr *a, ei_session *cs)
{
    ei_status st = ei_session_run(cs);
    return st == EI_STATUS_OK ? st : sub_fail(ctx, st, a, cs);
}

static bool is_true(const ei_tensor *t) { return numel(t) > 0 && tensor_get_i64(t, 0) != 0; }

/* A 1-element tensor shaped as the subgraph declares its input i ([] or [1]). */
static void scalar_for(const ei_model *g, int i, int32_t dtype, void *data, ei_tensor *t)
{
    const value *v = &g->values[g->inputs[i]];
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->rank = v->has_decl && v->decl_rank > 0 ? v->decl_rank : 0;
    for (int d = 0; d < t->rank; d++) t->dims[d] = 1;
    t->data = data;
}

/* An owned copy of a tensor: what a loop carries from one iteration to the next. */
static ei_status copy_tensor(op_ctx *ctx, const ei_tensor *src, ei_tensor *dst)
{
    size_t bytes = (size_t)tensor_nbytes(src);
    void *p = malloc(bytes + EI_PAD);
    if (!p) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory (%zu bytes)", bytes);
    memcpy(p, src->data, bytes);
    free(dst->data);
    *dst = *src;
    dst->data = p;
    return EI_STATUS_OK;
}

static bool same_type(const ei_tensor *a, const ei_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return true;
}

/* Output i gets src: into the buffer the plan gave it (an If planned statically), or into one
 * placed now (outputs known only by running). */
static ei_status output_copy(op_ctx *ctx, int i, const ei_tensor *src)
{
    if (has_out(ctx, i) && ctx->out[i]->data) {
        CHECK_SHAPE(ctx, same_type(ctx->out[i], src), "output %d is %s %s, planned as %s %s", i,
                    ei_dtype_name(src->dtype), shape_str(src), ei_dtype_name(ctx->out[i]->dtype), shape_str(ctx->out[i]));
    } else {
        TRY(op_output_alloc(ctx, i, src->dtype, src->rank, src->dims));
    }
    if (has_out(ctx, i)) memcpy(ctx->out[i]->data, src->data, (size_t)tensor_nbytes(src));
    return EI_STATUS_OK;
}

/* ================================ If ================================ */

/* Plans branch a for the shapes its outer values have now; false when it cannot be planned
 * without values (then the If, too, is planned at every run). */
#define MAX_BRANCH_VALUES 64 /* outer values and outputs of a branch planned with its If */

static ei_status branch_plan(op_ctx *ctx, const attr *a, ei_tensor *outputs, bool *is_static)
{
    const ei_model *g = a->sub;
    int n = g->n_inputs - g->n_graph_inputs;
    *is_static = false;
    if (g->n_graph_inputs != 0 || n > MAX_BRANCH_VALUES || g->n_outputs != ctx->n_out) return EI_STATUS_OK;
    ei_tensor inputs[MAX_BRANCH_VALUES + 1];
    for (int k = 0; k < n; k++) inputs[k] = ctx->s->t[g->outer_src[k]];
    ei_session *cs;
    TRY(op_subsession(ctx, a, &cs));
    return op_subsession_plan(ctx, cs, inputs, outputs, is_static);
}

/* Output shapes are those of the branches when both can be planned now and agree; otherwise
 * they are known only by running. */
static ei_status if_infer(op_ctx *ctx)
{
    TRY(check_arity(ctx, 1, 1, 1));
    const attr *br[2] = {graph_attr(ctx, "then_branch"), graph_attr(ctx, "else_branch")};
    CHECK(ctx, br[0] && br[1], "attributes then_branch and else_branch must both be graphs");
    CHECK_SHAPE(ctx, numel(ctx->in[0]) == 1, "cond has shape %s, expected a single element", shape_str(ctx->in[0]));
    if (!ctx->at_plan || ctx->n_out > MAX_BRANCH_VALUES) return EI_STATUS_NEEDS_DATA;
    ei_tensor out[2][MAX_BRANCH_VALUES + 1];
    for (int b = 0; b < 2; b++) {
        bool is_static;
        TRY(branch_plan(ctx, br[b], out[b], &is_static));
        if (!is_static) return EI_STATUS_NEEDS_DATA;
    }
    for (int i = 0; i < ctx->n_out; i++)
        if (!same_type(&out[0][i], &out[1][i])) return EI_STATUS_NEEDS_DATA;
    for (int i = 0; i < ctx->n_out; i++) TRY(set_output(ctx, i, out[0][i].dtype, out[0][i].rank, out[0][i].dims));
    return EI_STATUS_OK;
}

static ei_status if_run(op_ctx *ctx)
{
    CHECK_SHAPE(ctx, numel(ctx->in[0]) == 1, "cond has shape %s, expected a single element", shape_str(ctx->in[0]));
    const attr *a = graph_attr(ctx, is_true(ctx->in[0]) ? "then_branch" : "else_branch");
    CHECK(ctx, a, "attributes then_branch and else_branch must both be graphs");
    CHECK(ctx, a->sub->n_outputs == ctx->n_out, "subgraph '%s' has %d outputs, the node %d", a->name,
          a->sub->n_outputs, ctx->n_out);
    CHECK(ctx, a->sub->n_graph_inputs == 0, "subgraph '%s' has %d inputs, expected none", a->name,
          a->sub->n_graph_inputs);
    ei_session *cs;
    TRY(sub_open(ctx, a, &cs));
    ei_status st = sub_run(ctx, a, cs);
    for (int i = 0; st == EI_STATUS_OK && i < ctx->n_out; i++) {
        ei_tensor o;
        st = ei_session_output(cs, i, &o);
        if (st == EI_STATUS_OK) st = output_copy(ctx, i, &o);
    }
    return st;
}

/* ================================ Loop ================================ */
/* inputs M (trip count), cond, v_initial[N]; body (iter, cond, v[N]) -> (cond, v[N], scan[K]);
 * outputs v_final[N], scan outputs[K] stacked along a new first axis. */

typedef struct stack {
    ei_tensor elem;   /* dtype and shape of one iteration's value */
    uint8_t *data;
    size_t used, cap; /* bytes */
} stack;

static ei_status stack_push(op_ctx *ctx, stack *s, const ei_tensor *t, int k, int64_t iter)
{
    size_t bytes = (size_t)tensor_nbytes(t);
    if (iter == 0) {
        s->elem = *t;
    } else {
        bool same = s->elem.dtype == t->dtype && s->elem.rank == t->rank;
        for (int d = 0; same && d < t->rank; d++) same = s->elem.dims[d] == t->dims[d];
        CHECK_SHAPE(ctx, same, "scan output %d has shape %s in iteration %lld but %s before", k, shape_str(t),
                    (long long)iter, shape_str(&s->elem));
    }
    int64_t cap = ctx->s->limits.tensor_bytes;
    CHECK_SHAPE(ctx, (int64_t)(s->used + bytes) <= cap, "scan output %d grows beyond %lld bytes (ei_limits.tensor_bytes)",
                k, (long long)cap);
    if (s->used + bytes > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->used + bytes) cap *= 2;
        uint8_t *p = realloc(s->data, cap + EI_PAD);
        if (!p) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory stacking scan output %d", k);
        s->data = p;
        s->cap = cap;
    }
    if (bytes) memcpy(s->data + s->used, t->data, bytes);
    s->used += bytes;
    return EI_STATUS_OK;
}

static ei_status loop_check(op_ctx *ctx)
{
    TRY(check_arity(ctx, 2, 2 + 4096, 0));
    const attr *body = graph_attr(ctx, "body");
    CHECK(ctx, body, "attribute body must be a graph");
    int n = ctx->n_in - 2;
    CHECK(ctx, body->sub->n_graph_inputs == n + 2, "body has %d inputs, expected %d (iteration, cond and %d loop "
          "values)", body->sub->n_graph_inputs, n + 2, n);
    CHECK(ctx, body->sub->n_outputs >= n + 1 && ctx->n_out == body->sub->n_outputs - 1,
          "body has %d outputs and the node %d, expected 1 + %d + K and %d + K", body->sub->n_outputs, ctx->n_out, n,
          n);
    CHECK(ctx, has_in(ctx, 0) || has_in(ctx, 1), "neither a trip count M nor a condition is given: the loop would "
          "never end");
    return EI_STATUS_OK;
}

static ei_status loop_infer(op_ctx *ctx)
{
    TRY(loop_check(ctx));
    return EI_STATUS_NEEDS_DATA;
}

/* A Loop's or Scan's progress, kept while the node is paused: n owned tensors (Loop's carried
 * values; Scan's states, then its slice buffers), k stacked outputs (Loop's scan outputs) and the
 * next iteration. */
typedef struct progress {
    int n, k;
    int64_t it;
    bool cond;
    ei_tensor *t; /* [n] */
    stack *st;    /* [k] */
} progress;

static void progress_free(void *p)
{
    progress *g = p;
    for (int j = 0; g->t && j < g->n; j++) free(g->t[j].data);
    for (int k = 0; g->st && k < g->k; k++) free(g->st[k].data);
    free(g->t);
    free(g->st);
    free(g);
}

static ei_status progress_new(op_ctx *ctx, int n, int k, progress **out)
{
    progress *g = *out = calloc(1, sizeof *g);
    if (g) {
        g->n = n;
        g->k = k;
        g->cond = true;
        g->t = calloc((size_t)n + 1, sizeof *g->t);
        g->st = calloc((size_t)k + 1, sizeof *g->st);
    }
    return g && g->t && g->st ? EI_STATUS_OK : op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory starting the loop");
}

/* A fresh start: the initial loop values copied, nothing stacked. */
static ei_status loop_start(op_ctx *ctx, int n, int k_scan, progress **out)
{
    TRY(progress_new(ctx, n, k_scan, out));
    progress *lp = *out;
    if (has_in(ctx, 1)) lp->cond = is_true(ctx->in[1]);
    for (int j = 0; j < n; j++) {
        if (!has_in(ctx, 2 + j)) return op_fail(ctx, EI_STATUS_INVALID_MODEL, "loop value %d is absent", j);
        TRY(copy_tensor(ctx, ctx->in[2 + j], &lp->t[j]));
    }
    return EI_STATUS_OK;
}

/* One body run: binds the iteration number, cond and carried values, copies the results back. */
static ei_status loop_iteration(op_ctx *ctx, const attr *body, ei_session *cs, progress *lp)
{
    const ei_model *g = body->sub;
    int n = lp->n;
    int64_t iter_value = lp->it;
    uint8_t cond_value = 1;
    ei_tensor t_iter, t_cond, o;
    scalar_for(g, 0, EI_DTYPE_INT64, &iter_value, &t_iter);
    scalar_for(g, 1, EI_DTYPE_BOOL, &cond_value, &t_cond);
    ei_status st = ei_session_set_input(cs, 0, &t_iter);
    if (st == EI_STATUS_OK) st = ei_session_set_input(cs, 1, &t_cond);
    for (int j = 0; st == EI_STATUS_OK && j < n; j++) st = ei_session_set_input(cs, 2 + j, &lp->t[j]);
    if (st != EI_STATUS_OK) return sub_fail(ctx, st, body, cs);
    TRY(sub_run(ctx, body, cs));
    TRY(ei_session_output(cs, 0, &o));
    lp->cond = is_true(&o);
    /* Copy before the next run: it may overwrite the body's output buffers. */
    for (int j = 0; j < n; j++) {
        TRY(ei_session_output(cs, 1 + j, &o));
        TRY(copy_tensor(ctx, &o, &lp->t[j]));
    }
    for (int k = 0; k < lp->k; k++) {
        TRY(ei_session_output(cs, 1 + n + k, &o));
        TRY(stack_push(ctx, &lp->st[k], &o, k, lp->it));
    }
    return EI_STATUS_OK;
}

/* The node's outputs: the final loop values, then the stacked scan outputs. */
static ei_status loop_finish(op_ctx *ctx, const ei_model *g, progress *lp)
{
    int n = lp->n;
    for (int j = 0; j < n; j++) TRY(output_copy(ctx, j, &lp->t[j]));
    for (int k = 0; k < lp->k; k++) {
        ei_tensor *e = &lp->st[k].elem;
        if (lp->it == 0) { /* no iteration: take the body's declared type; the shape is [0] */
            const value *v = &g->values[g->outputs[1 + n + k]];
            e->dtype = v->has_decl && dtype_size(v->decl_dtype) ? v->decl_dtype : EI_DTYPE_FLOAT32;
            e->rank = 0;
        }
        if (e->rank >= EI_MAX_DIMS) return op_fail(ctx, EI_STATUS_INVALID_SHAPE, "scan output %d has too many dims", k);
        int64_t dims[EI_MAX_DIMS];
        dims[0] = lp->it;
        for (int d = 0; d < e->rank; d++) dims[d + 1] = e->dims[d];
        TRY(op_output_alloc(ctx, n + k, e->dtype, e->rank + 1, dims));
        if (has_out(ctx, n + k) && lp->st[k].used) memcpy(ctx->out[n + k]->data, lp->st[k].data, lp->st[k].used);
    }
    return EI_STATUS_OK;
}

static ei_status loop_run(op_ctx *ctx)
{
    TRY(loop_check(ctx));
    const attr *body = graph_attr(ctx, "body");
    const ei_model *g = body->sub;
    int n = ctx->n_in - 2;
    int64_t trips = has_in(ctx, 0) ? tensor_get_i64(ctx->in[0], 0) : MAX_ITERATIONS;
    CHECK(ctx, !has_in(ctx, 0) || numel(ctx->in[0]) == 1, "M has shape %s, expected one element",
          shape_str(ctx->in[0]));
    progress *lp = op_resumed(ctx);
    ei_session *cs = NULL;
    ei_status st = lp ? EI_STATUS_OK : loop_start(ctx, n, g->n_outputs - 1 - n, &lp);
    if (st == EI_STATUS_OK) st = sub_open(ctx, body, &cs);
    for (int64_t first = lp ? lp->it : 0; st == EI_STATUS_OK && lp->cond && lp->it < trips; lp->it++) {
        if (lp->it >= MAX_ITERATIONS) {
            st = op_fail(ctx, EI_STATUS_INVALID_ARGUMENT, "the loop ran %lld iterations without ending",
                         (long long)lp->it);
            break;
        }
        if (lp->it > first && op_pause(ctx, lp, progress_free)) return EI_STATUS_PENDING;
        if ((st = op_count_iteration(ctx)) == EI_STATUS_OK) st = loop_iteration(ctx, body, cs, lp);
    }
    if (st == EI_STATUS_OK) st = loop_finish(ctx, g, lp);
    if (lp) progress_free(lp);
    return st;
}

/* ================================ Scan (opset 9) ================================ */
/* inputs: N states, then K scan inputs; body (states[N], slices[K]) -> (states[N], y[M]);
 * outputs: final states[N], then M scan outputs with the iterations stacked on an axis. */

/* Copies index i along `axis` of t into dst (contiguous, t's shape without that axis). */
static void take_slice(const ei_tensor *t, int axis, int64_t i, void *dst)
{
    int64_t outer = 1, inner = (int64_t)dtype_size(t->dtype), len = t->dims[axis];
    for (int d = 0; d < axis; d++) outer *= t->dims[d];
    for (int d = axis + 1; d < t->rank; d++) inner *= t->dims[d];
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)dst + o * inner, (const char *)t->data + (o * len + i) * inner, (size_t)inner);
}

/* Writes src (out's shape without `axis`) at index i along `axis` of out. */
static void put_slice(ei_tensor *out, int axis, int64_t i, const void *src)
{
    int64_t outer = 1, inner = (int64_t)dtype_size(out->dtype), len = out->dims[axis];
    for (int d = 0; d < axis; d++) outer *= out->dims[d];
    for (int d = axis + 1; d < out->rank; d++) inner *= out->dims[d];
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)out->data + (o * len + i) * inner, (const char *)src + o * inner, (size_t)inner);
}

typedef struct scan_geom {
    int n_state, k_in, m_out;
    int64_t len;
    int64_t in_axis[64], in_dir[64], out_axis[64], out_dir[64];
} scan_geom;

static ei_status scan_axes(op_ctx *ctx, const char *name, int count, int64_t *v, int rank_of(op_ctx *, int), int base)
{
    const int64_t *a;
    int n = attr_ints(ctx->n, name, &a);
    CHECK(ctx, n < 0 || n == count, "attribute %s has %d values, expected %d", name, n, count);
    for (int i = 0; i < count; i++) {
        int64_t given = v[i] = n < 0 ? 0 : a[i];
        if (rank_of) {
            int r = rank_of(ctx, base + i);
            CHECK(ctx, norm_axis(&v[i], r), "attribute %s[%d] = %lld%s is out of range for rank %d", name, i,
                  (long long)given, n < 0 ? " (its default)" : "", r);
        } else {
            CHECK(ctx, v[i] == 0 || v[i] == 1, "attribute %s[%d] = %lld, expected 0 or 1", name, i, (long long)v[i]);
        }
    }
    return EI_STATUS_OK;
}

static int input_rank(op_ctx *ctx, int i) { return ctx->in[i]->rank; }

static ei_status scan_geometry(op_ctx *ctx, scan_geom *s)
{
    const attr *body = graph_attr(ctx, "body");
    CHECK(ctx, body, "attribute body must be a graph");
    CHECK_SUPPORTED(ctx, ctx->opset >= 9, "Scan before opset 9 (batched, with sequence_lens) is not supported");
    const ei_model *g = body->sub;
    int64_t k = attr_int(ctx->n, "num_scan_inputs", -1);
    CHECK(ctx, k >= 1 && k <= ctx->n_in && k <= 64, "attribute num_scan_inputs = %lld, expected 1 to %d",
          (long long)k, ctx->n_in < 64 ? ctx->n_in : 64);
    s->k_in = (int)k;
    s->n_state = ctx->n_in - s->k_in;
    s->m_out = ctx->n_out - s->n_state;
    CHECK(ctx, s->m_out >= 0 && s->m_out <= 64, "the node has %d outputs for %d states", ctx->n_out, s->n_state);
    CHECK(ctx, g->n_graph_inputs == s->n_state + s->k_in && g->n_outputs == s->n_state + s->m_out,
          "body has %d inputs and %d outputs, expected %d and %d", g->n_graph_inputs, g->n_outputs,
          s->n_state + s->k_in, s->n_state + s->m_out);
    for (int i = 0; i < ctx->n_in; i++) CHECK(ctx, has_in(ctx, i), "input %d is absent", i);
    TRY(scan_axes(ctx, "scan_input_axes", s->k_in, s->in_axis, input_rank, s->n_state));
    TRY(scan_axes(ctx, "scan_input_directions", s->k_in, s->in_dir, NULL, 0));
    TRY(scan_axes(ctx, "scan_output_directions", s->m_out, s->out_dir, NULL, 0));
    const int64_t *a;
    int n = attr_ints(ctx->n, "scan_output_axes", &a);
    CHECK(ctx, n < 0 || n == s->m_out, "attribute scan_output_axes has %d values, expected %d", n, s->m_out);
    for (int j = 0; j < s->m_out; j++) s->out_axis[j] = n < 0 ? 0 : a[j];
    s->len = -1;
    for (int i = 0; i < s->k_in; i++) {
        const ei_tensor *x = ctx->in[s->n_state + i];
        int64_t l = x->dims[s->in_axis[i]];
        CHECK_SHAPE(ctx, s->len < 0 || l == s->len, "scan input %d has %lld steps along axis %lld, others %lld", i,
                    (long long)l, (long long)s->in_axis[i], (long long)s->len);
        s->len = l;
    }
    return EI_STATUS_OK;
}

static ei_status scan_infer(op_ctx *ctx)
{
    scan_geom s;
    TRY(scan_geometry(ctx, &s));
    return EI_STATUS_NEEDS_DATA;
}

/* A fresh start: the initial states copied, a buffer for each input's slice. */
static ei_status scan_start(op_ctx *ctx, const scan_geom *s, progress **out)
{
    int ns = s->n_state;
    TRY(progress_new(ctx, ns + s->k_in, 0, out));
    progress *sp = *out;
    for (int j = 0; j < ns; j++) TRY(copy_tensor(ctx, ctx->in[j], &sp->t[j]));
    for (int i = 0; i < s->k_in; i++) {
        const ei_tensor *x = ctx->in[ns + i];
        ei_tensor *sl = &sp->t[ns + i];
        sl->dtype = x->dtype;
        sl->rank = x->rank - 1;
        for (int d = 0, e = 0; d < x->rank; d++)
            if (d != s->in_axis[i]) sl->dims[e++] = x->dims[d];
        sl->data = malloc((size_t)tensor_nbytes(sl) + EI_PAD);
        if (!sl->data) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    return EI_STATUS_OK;
}

static ei_status scan_run(op_ctx *ctx)
{
    scan_geom s;
    TRY(scan_geometry(ctx, &s));
    const attr *body = graph_attr(ctx, "body");
    int ns = s.n_state;
    progress *sp = op_resumed(ctx);
    ei_session *cs = NULL;
    ei_status st = sp ? EI_STATUS_OK : scan_start(ctx, &s, &sp);
    if (st == EI_STATUS_OK) st = sub_open(ctx, body, &cs);
    ei_tensor *state = sp ? sp->t : NULL, *slice = sp ? sp->t + ns : NULL;
    for (int64_t first = sp ? sp->it : 0; st == EI_STATUS_OK && sp->it < s.len; sp->it++) {
        int64_t t = sp->it;
        if (t > first && op_pause(ctx, sp, progress_free)) return EI_STATUS_PENDING;
        if ((st = op_count_iteration(ctx)) != EI_STATUS_OK) break;
        for (int j = 0; st == EI_STATUS_OK && j < ns; j++) st = ei_session_set_input(cs, j, &state[j]);
        for (int i = 0; st == EI_STATUS_OK && i < s.k_in; i++) {
            const ei_tensor *x = ctx->in[ns + i];
            take_slice(x, (int)s.in_axis[i], s.in_dir[i] ? s.len - 1 - t : t, slice[i].data);
            st = ei_session_set_input(cs, ns + i, &slice[i]);
        }
        if (st != EI_STATUS_OK) {
            sub_fail(ctx, st, body, cs);
            break;
        }
        if ((st = sub_run(ctx, body, cs)) != EI_STATUS_OK) break;
        for (int j = 0; st == EI_STATUS_OK && j < ns; j++) {
            ei_tensor o;
            st = ei_session_output(cs, j, &o);
            if (st == EI_STATUS_OK) st = copy_tensor(ctx, &o, &state[j]);
        }
        for (int m = 0; st == EI_STATUS_OK && m < s.m_out; m++) {
            ei_tensor o;
            if ((st = ei_session_output(cs, ns + m, &o)) != EI_STATUS_OK) break;
            int64_t axis = s.out_axis[m];
            if (!norm_axis(&axis, o.rank + 1)) {
                st = op_fail(ctx, EI_STATUS_INVALID_MODEL, "scan_output_axes[%d] is out of range for rank %d", m,
                             o.rank + 1);
                break;
            }
            ei_tensor *y = ctx->out[ns + m];
            if (t == 0) {
                if (o.rank >= EI_MAX_DIMS) {
                    st = op_fail(ctx, EI_STATUS_INVALID_SHAPE, "scan output %d has too many dims", m);
                    break;
                }
                int64_t dims[EI_MAX_DIMS];
                for (int d = 0, e = 0; d <= o.rank; d++) dims[d] = d == axis ? s.len : o.dims[e++];
                if ((st = op_output_alloc(ctx, ns + m, o.dtype, o.rank + 1, dims)) != EI_STATUS_OK) break;
            } else if (y) {
                bool same = y->dtype == o.dtype && y->rank == o.rank + 1;
                for (int d = 0, e = 0; same && d <= o.rank; d++) same = d == axis || y->dims[d] == o.dims[e++];
                if (!same) {
                    st = op_fail(ctx, EI_STATUS_INVALID_SHAPE, "scan output %d has shape %s in step %lld, which "
                                 "does not fit %s", m, shape_str(&o), (long long)t, shape_str(y));
                    break;
                }
            }
            if (y) put_slice(y, (int)axis, s.out_dir[m] ? s.len - 1 - t : t, o.data);
        }
    }
    for (int j = 0; st == EI_STATUS_OK && j < ns; j++) st = output_copy(ctx, j, &state[j]);
    if (st == EI_STATUS_OK && s.len == 0)
        for (int m = 0; st == EI_STATUS_OK && m < s.m_out; m++) {
            int64_t zero = 0;
            st = op_output_alloc(ctx, ns + m, EI_DTYPE_FLOAT32, 1, &zero);
        }
    if (sp) progress_free(sp);
    return st;
}

const op_def control_ops[] = {
    {"If", "", 1, if_infer, NULL, if_run, OP_DYNAMIC_OUTPUTS},
    {"Loop", "", 1, loop_infer, NULL, loop_run, OP_DYNAMIC_OUTPUTS},
    {"Scan", "", 8, scan_infer, NULL, scan_run, OP_DYNAMIC_OUTPUTS},
};
const int control_ops_count = sizeof control_ops / sizeof control_ops[0];
