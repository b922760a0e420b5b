/*
 * The compile passes, in the order graph_compile runs them. Each is a
 * standalone function graph -> graph (compile.h), idempotent, and sound on
 * its own: it checks every fact it relies on (constant weights, single
 * consumers, attribute types) and leaves a node alone otherwise, so that the
 * op itself reports whatever is wrong with it at plan time.
 *
 *   constants          Constant nodes holding a tensor become constant values, as
 *                      initializers are, so later passes see them as weights.
 *   cancel-transposes  Transpose -> Transpose becomes an Identity when the perms cancel,
 *                      else one Transpose.
 *   remove-identity    Identity, and Dropout in its inference form, become wires.
 *   fold-batchnorm     BatchNormalization after a Conv with constant weights
 *                      goes into that Conv's weights and bias.
 *   fuse-bias          MatMul by a constant [K, N] matrix, then Add of a constant
 *                      [N] vector: the MatMul adds the bias itself.
 *   fuse-layer-norm    ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add
 *                      (LayerNorm as exported before opset 17): one LayerNormalization.
 *   fuse-qdq           QuantizeLinear of a Conv, MatMul or Gemm (optionally through Relu or
 *                      Clip) whose inputs are DequantizeLinear of a per-tensor activation and
 *                      of constant 8-bit weights (per tensor or per channel): one QLinearConv
 *                      or QLinearMatMul on the quantized values, the activation a clamp of
 *                      its output, a bias as int32 (a Gemm's as QLinearMatMul's ninth input,
 *                      its B transposed if transB). DequantizeLinear nodes left unread go.
 *   fuse-dynamic-quant MatMulInteger of a DynamicQuantizeLinear'd activation and constant 8-bit
 *                      weights, then Cast to float32 and Mul by Mul(x_scale, w_scale), optionally Add
 *                      of a constant [N] bias, as
 *                      onnxruntime's quantize_dynamic writes transformers: one DynamicQuantizeMatMul,
 *                      which quantizes its activation itself. DynamicQuantizeLinear nodes left unread go.
 *   fuse-activation    Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, Sigmoid,
 *                      Tanh, x * Sigmoid(x) (SiLU) and the erf GELU after Conv, ConvTranspose,
 *                      Gemm, MatMul, DynamicQuantizeMatMul or float32 Add/Sub/Mul/Div (a residual sum):
 *                      that node applies it to its output while the output is
 *                      still in cache (node.act), saving a pass over memory.
 *
 * Constant and shape folding need shapes, so the planner does them on the
 * compiled graph (session.c). No pass renames or removes a pinned value (a
 * graph output, or one a subgraph reads), nor a value read twice where it
 * relies on a single reader.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/f32_vunary.h"
#include "../ops/op.h"
#include "compile.h"

static bool is_op(const node *n, const char *op_type)
{
    return n && !n->dead && !n->domain[0] && !strcmp(n->op_type, op_type);
}

/* The attribute is absent or has the given type: a pass never guesses past a malformed one. */
static bool attr_is(const node *n, const char *name, int type)
{
    const attr *a = attr_find(n, name);
    return !a || a->type == type;
}

/* Output k of n is absent or read by nobody. */
static bool output_unused(const node *n, int k, const graph_uses *u)
{
    return k >= n->n_out || n->out[k] < 0 || (u->count[n->out[k]] == 0 && !u->pinned[n->out[k]]);
}

/* x is produced by a live node as its only output in use, and only `readers` nodes read it. */
static node *sole_producer(ei_model *g, int x, const graph_uses *u, int readers)
{
    node *p = graph_producer(g, x);
    if (!p || u->pinned[x] || u->count[x] != readers || p->out[0] != x) return NULL;
    for (int k = 1; k < p->n_out; k++)
        if (!output_unused(p, k, u)) return NULL;
    return p;
}

/* A pass's rule for one node: it may rewrite the node and those around it. */
typedef ei_status (*node_rule)(ei_model *g, node *n, const graph_uses *u);

/* Applies rule to every live node in file order. The use counts are those from before the walk;
 * a rule only relies on counts of values that no earlier rule of the walk has rewired. */
static ei_status each_node(ei_model *g, node_rule rule)
{
    graph_uses u;
    TRY(graph_uses_init(g, &u));
    ei_status st = EI_STATUS_OK;
    for (int i = 0; i < g->n_nodes && st == EI_STATUS_OK; i++)
        if (!g->nodes[i].dead) st = rule(g, &g->nodes[i], &u);
    graph_uses_free(&u);
    return st;
}

/* ---- constants ---- */

static ei_status constant_rule(ei_model *g, node *n, const graph_uses *u)
{
    if (!is_op(n, "Constant") || n->n_in || n->n_out != 1 || n->out[0] < 0 || u->pinned[n->out[0]] ||
        n->n_attr != 1 || strcmp(n->attrs[0].name, "value") || n->attrs[0].type != ATTR_TENSOR)
        return EI_STATUS_OK;
    const ei_tensor *t = &n->attrs[0].tensors[0];
    if (dtype_size(t->dtype) == 0 || tensor_nbytes(t) < 0 || (!t->data && tensor_nbytes(t) > 0)) return EI_STATUS_OK;
    value *v = &g->values[n->out[0]];
    v->kind = VALUE_CONST;
    v->init = *t;
    n->dead = true;
    return EI_STATUS_OK;
}

/* ---- remove-identity ---- */

static bool is_wire(const ei_model *g, const node *n, const graph_uses *u)
{
    if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0) return false;
    if (is_op(n, "Identity")) return n->n_in == 1;
    if (!is_op(n, "Dropout") || !output_unused(n, 1, u)) return false;
    if (n->opset < 7) return attr_is(n, "is_test", ATTR_INT) && attr_int(n, "is_test", 0) != 0;
    if (n->n_in < 3 || n->in[2] < 0) return true;
    const ei_tensor *t = &g->values[n->in[2]].init; /* training_mode: only a constant false */
    return g->values[n->in[2]].kind == VALUE_CONST && t->dtype == EI_DTYPE_BOOL &&
           shape_numel(t->rank, t->dims) == 1 && t->data && *(const uint8_t *)t->data == 0;
}

/* Walks the nodes in execution order, so that a wire's input already reads through the wires
 * before it: a chain of any length resolves to its start in one walk. */
static ei_status remove_identity(ei_model *g)
{
    graph_uses u;
    TRY(graph_uses_init(g, &u));
    int *to = malloc(((size_t)g->n_values + 1) * sizeof *to); /* what a read of value v reads instead */
    if (!to) {
        graph_uses_free(&u);
        return EI_STATUS_OUT_OF_MEMORY;
    }
    for (int v = 0; v < g->n_values; v++) to[v] = v;
    for (int pos = 0; pos < g->n_nodes; pos++) {
        node *n = &g->nodes[g->order[pos]];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) n->in[k] = to[n->in[k]];
        if (is_wire(g, n, &u) && !u.pinned[n->out[0]]) {
            to[n->out[0]] = n->in[0];
            n->dead = true;
        }
    }
    free(to);
    graph_uses_free(&u);
    return EI_STATUS_OK;
}

/* ---- cancel-transposes ---- */

/* The perm of a Transpose node in p (rank entries), false unless it is given and valid. */
static bool transpose_perm(const node *n, int64_t *p, int *rank)
{
    const int64_t *v;
    int r = attr_ints(n, "perm", &v);
    if (r < 1 || r > EI_MAX_DIMS) return false;
    bool seen[EI_MAX_DIMS] = {false};
    for (int i = 0; i < r; i++) {
        if (v[i] < 0 || v[i] >= r || seen[v[i]]) return false;
        seen[v[i]] = true;
        p[i] = v[i];
    }
    *rank = r;
    return true;
}

/* A copy of n's attributes with "perm" set to p. */
static ei_status set_perm(ei_model *g, node *n, const int64_t *p, int rank)
{
    attr *a = arena_alloc(&g->mem, ((size_t)n->n_attr + 1) * sizeof(attr));
    int64_t *ints = arena_alloc(&g->mem, (size_t)rank * sizeof(int64_t));
    if (!a || !ints) return EI_STATUS_OUT_OF_MEMORY;
    memcpy(a, n->attrs, (size_t)n->n_attr * sizeof(attr));
    memcpy(ints, p, (size_t)rank * sizeof(int64_t));
    for (int k = 0; k < n->n_attr; k++)
        if (!strcmp(a[k].name, "perm")) {
            a[k].ints = ints;
            a[k].n = rank;
        }
    n->attrs = a;
    return EI_STATUS_OK;
}

/* t2 = Transpose(Transpose(x)): an Identity of x when the perms cancel (remove-identity, which
 * runs next, makes it a wire), else one Transpose of x. */
static ei_status transpose_rule(ei_model *g, node *t2, const graph_uses *u)
{
    if (!is_op(t2, "Transpose") || t2->n_in != 1 || t2->in[0] < 0 || t2->out[0] < 0) return EI_STATUS_OK;
    node *t1 = sole_producer(g, t2->in[0], u, 1);
    int64_t p1[EI_MAX_DIMS], p2[EI_MAX_DIMS], r[EI_MAX_DIMS];
    int r1, r2;
    if (!is_op(t1, "Transpose") || t1->n_in != 1 || !transpose_perm(t1, p1, &r1) || !transpose_perm(t2, p2, &r2) ||
        r1 != r2)
        return EI_STATUS_OK;
    bool identity = true;
    for (int d = 0; d < r1; d++) {
        r[d] = p1[p2[d]]; /* out2[d] = out1[p2[d]] = in1[p1[p2[d]]] */
        identity = identity && r[d] == d;
    }
    t1->dead = true;
    t2->in[0] = t1->in[0];
    if (identity) {
        t2->op_type = "Identity";
        t2->n_attr = 0;
    } else {
        TRY(set_perm(g, t2, r, r1));
    }
    return graph_note_fused(g, t2, "Transpose");
}

/* ---- fold-batchnorm ---- */

/* A constant float32 vector of n elements held by input k of nd, or NULL. */
static const float *const_vec(const ei_model *g, const node *nd, int k, int64_t n)
{
    const ei_tensor *t = k < nd->n_in ? graph_const_f32(g, nd->in[k]) : NULL;
    return t && t->rank == 1 && t->dims[0] == n ? t->data : NULL;
}

static bool bn_foldable(const node *bn, const graph_uses *u)
{
    if (!is_op(bn, "BatchNormalization") || bn->n_in != 5 || bn->out[0] < 0) return false;
    for (int k = 1; k < bn->n_out; k++)
        if (!output_unused(bn, k, u)) return false;
    if (!attr_is(bn, "epsilon", ATTR_FLOAT) || !attr_is(bn, "training_mode", ATTR_INT) ||
        !attr_is(bn, "spatial", ATTR_INT) || !attr_is(bn, "is_test", ATTR_INT))
        return false;
    return attr_int(bn, "training_mode", 0) == 0 && attr_int(bn, "spatial", 1) == 1;
}

/* W' = W * s and B' = (B - mean) * s + beta with s = scale / sqrt(var + eps), per output channel. */
static ei_status fold_bn_into(ei_model *g, node *conv, const node *bn)
{
    const ei_tensor *w = graph_const_f32(g, conv->in[1]);
    if (!w || w->rank < 3) return EI_STATUS_OK;
    int64_t m = w->dims[0], per = shape_numel(w->rank - 1, w->dims + 1);
    const float *b = conv->n_in > 2 && conv->in[2] >= 0 ? const_vec(g, conv, 2, m) : NULL;
    const float *scale = const_vec(g, bn, 1, m), *beta = const_vec(g, bn, 2, m);
    const float *mean = const_vec(g, bn, 3, m), *var = const_vec(g, bn, 4, m);
    if ((conv->n_in > 2 && conv->in[2] >= 0 && !b) || !scale || !beta || !mean || !var || per < 0) return EI_STATUS_OK;
    if (g->n_values + 2 > g->cap_values || (uint64_t)m * (uint64_t)per > (uint64_t)EI_MAX_TENSOR_BYTES / sizeof(float))
        return EI_STATUS_OK;
    float *w2 = arena_alloc(&g->mem, (size_t)(m * per) * sizeof(float));
    float *b2 = arena_alloc(&g->mem, (size_t)m * sizeof(float));
    if (!w2 || !b2) return EI_STATUS_OUT_OF_MEMORY;
    double eps = attr_float(bn, "epsilon", 1e-5f);
    const float *wf = w->data;
    for (int64_t c = 0; c < m; c++) {
        double s = scale[c] / sqrt((double)var[c] + eps);
        for (int64_t k = 0; k < per; k++) w2[c * per + k] = (float)(wf[c * per + k] * s);
        b2[c] = (float)(((b ? b[c] : 0.0) - mean[c]) * s + beta[c]);
    }
    ei_tensor tw = *w, tb = {.dtype = EI_DTYPE_FLOAT32, .rank = 1, .dims = {m}};
    tw.data = w2;
    tb.data = b2;
    conv->in[1] = graph_add_const(g, g->values[conv->in[1]].name, &tw);
    conv->in[2] = graph_add_const(g, g->values[bn->in[2]].name, &tb);
    conv->n_in = 3;
    graph_take_output(g, conv, bn->out[0]);
    return graph_note_fused(g, conv, "BatchNormalization");
}

static ei_status batchnorm_rule(ei_model *g, node *bn, const graph_uses *u)
{
    if (!bn_foldable(bn, u) || bn->in[0] < 0) return EI_STATUS_OK;
    node *conv = sole_producer(g, bn->in[0], u, 1);
    if (!is_op(conv, "Conv") || conv->act.on || conv->n_in < 2) return EI_STATUS_OK;
    int old_out = conv->out[0];
    ei_status st = fold_bn_into(g, conv, bn);
    if (conv->out[0] != old_out) bn->dead = true;
    return st;
}

/* ---- fuse-bias ---- */

static ei_status bias_rule(ei_model *g, node *add, const graph_uses *u)
{
    if (!is_op(add, "Add") || add->n_in != 2 || add->in[0] < 0 || add->in[1] < 0 || add->out[0] < 0)
        return EI_STATUS_OK;
    if (attr_find(add, "axis")) return EI_STATUS_OK; /* an opset 1-6 Add placing B at an axis */
    for (int side = 0; side < 2; side++) {
        node *mm = sole_producer(g, add->in[side], u, 1);
        if (!is_op(mm, "MatMul") || mm->n_in != 2 || mm->act.on) continue;
        const ei_tensor *b = graph_const_f32(g, mm->in[1]);
        if (!b || b->rank != 2 || !const_vec(g, add, 1 - side, b->dims[1])) continue;
        mm->in[2] = add->in[1 - side];
        mm->n_in = 3;
        graph_take_output(g, mm, add->out[0]);
        add->dead = true;
        return graph_note_fused(g, mm, "Add");
    }
    return EI_STATUS_OK;
}

/* ---- fuse-layer-norm ---- */

/* The value of a constant float32 scalar (any shape of one element) held by v. */
static bool const_scalar(const ei_model *g, int v, float *out)
{
    const ei_tensor *t = graph_const_f32(g, v);
    if (!t || shape_numel(t->rank, t->dims) != 1) return false;
    *out = *(const float *)t->data;
    return true;
}

/* The reader of v when it is read by exactly one live node and not pinned. */
static node *sole_reader(ei_model *g, int v, const graph_uses *u)
{
    if (v < 0 || u->pinned[v] || u->count[v] != 1) return NULL;
    node *n = &g->nodes[u->first[v]];
    return n->dead ? NULL : n;
}

/* Binary node n reads v as one operand; *other gets the other operand. */
static bool other_operand(const node *n, int v, int *other)
{
    if (!n || n->n_in != 2 || n->n_out != 1 || n->out[0] < 0) return false;
    if (n->in[0] == v) *other = n->in[1];
    else if (n->in[1] == v) *other = n->in[0];
    else return false;
    return true;
}

/* ReduceMean over the last axis, keeping it (opsets before 18, where axes is an attribute). */
static bool mean_last_axis(const node *n)
{
    const int64_t *axes;
    return is_op(n, "ReduceMean") && n->n_in == 1 && n->opset < 18 && attr_is(n, "keepdims", ATTR_INT) &&
           attr_int(n, "keepdims", 1) == 1 && attr_ints(n, "axes", &axes) == 1 && axes[0] == -1;
}

/* Turns node n into LayerNormalization(x, scale, bias) over the last axis. */
static ei_status make_layer_norm(ei_model *g, node *n, int x, int scale, int bias, float eps)
{
    attr *a = arena_alloc(&g->mem, 2 * sizeof(attr));
    if (!a) return EI_STATUS_OUT_OF_MEMORY;
    a[0] = (attr){.name = "axis", .type = ATTR_INT, .i = -1};
    a[1] = (attr){.name = "epsilon", .type = ATTR_FLOAT, .f = eps};
    n->op_type = "LayerNormalization";
    n->opset = 17;
    n->attrs = a;
    n->n_attr = 2;
    n->in[0] = x;
    n->in[1] = scale;
    n->in[2] = bias;
    n->n_in = 3;
    return graph_note_fused(g, n, "ReduceMean+Sub+Pow+ReduceMean+Add+Sqrt+Div+Mul+Add");
}

/* mean = ReduceMean(x); d = x - mean; var = ReduceMean(d ^ 2); y = d / Sqrt(var + eps) * scale + bias,
 * as exporters write LayerNorm before opset 17: one LayerNormalization node instead of nine. */
static ei_status layer_norm_rule(ei_model *g, node *mean, const graph_uses *u)
{
    if (!mean_last_axis(mean)) return EI_STATUS_OK;
    int x = mean->in[0], dv, sq, m2, e, other;
    float two, eps;
    node *sub = sole_reader(g, mean->out[0], u);
    if (!is_op(sub, "Sub") || sub->n_in != 2 || sub->in[0] != x || sub->in[1] != mean->out[0]) return EI_STATUS_OK;
    dv = sub->out[0];
    if (u->pinned[dv] || u->count[dv] != 2) return EI_STATUS_OK;
    node *pow = NULL, *div = NULL; /* the two readers of d */
    for (int i = u->first[dv]; i >= 0; i = i == u->last[dv] ? -1 : u->last[dv]) {
        node *n = &g->nodes[i];
        if (is_op(n, "Pow") && n->n_in == 2 && n->in[0] == dv) pow = n;
        if (is_op(n, "Div") && n->n_in == 2 && n->in[0] == dv) div = n;
    }
    if (!pow || !div || !const_scalar(g, pow->in[1], &two) || two != 2.0f) return EI_STATUS_OK;
    node *mean2 = sole_reader(g, sq = pow->out[0], u);
    if (!mean_last_axis(mean2)) return EI_STATUS_OK;
    node *add = sole_reader(g, m2 = mean2->out[0], u);
    if (!is_op(add, "Add") || !other_operand(add, m2, &other) || !const_scalar(g, other, &eps)) return EI_STATUS_OK;
    node *sqrt = sole_reader(g, e = add->out[0], u);
    if (!is_op(sqrt, "Sqrt") || div->in[1] != sqrt->out[0] || sole_reader(g, sqrt->out[0], u) != div)
        return EI_STATUS_OK;
    node *mul = sole_reader(g, div->out[0], u);
    int scale, bias;
    if (!is_op(mul, "Mul") || !other_operand(mul, div->out[0], &scale)) return EI_STATUS_OK;
    node *add2 = sole_reader(g, mul->out[0], u);
    if (!is_op(add2, "Add") || !other_operand(add2, mul->out[0], &bias)) return EI_STATUS_OK;
    const ei_tensor *ts = graph_const_f32(g, scale), *tb = graph_const_f32(g, bias);
    if (!ts || !tb || ts->rank != 1 || tb->rank != 1 || ts->dims[0] != tb->dims[0]) return EI_STATUS_OK;
    (void)sq;
    mean->dead = sub->dead = pow->dead = mean2->dead = add->dead = sqrt->dead = div->dead = mul->dead = true;
    return make_layer_norm(g, add2, x, scale, bias, eps);
}


/* ---- fuse-activation ---- */

static bool is_arith(const node *n)
{
    return is_op(n, "Add") || is_op(n, "Sub") || is_op(n, "Mul") || is_op(n, "Div");
}

/* Value v is float32 whatever the model's inputs hold: a float32 constant, a graph input declared
 * float32 (feeds are checked against the declaration), or the output of a node that computes
 * float32 from such values. */
static bool known_f32(ei_model *g, int v, int depth)
{
    if (v < 0 || depth > 16) return false;
    const value *val = &g->values[v];
    if (val->kind == VALUE_CONST) return val->init.dtype == EI_DTYPE_FLOAT32;
    if (val->kind == VALUE_INPUT) return val->has_decl && val->decl_dtype == EI_DTYPE_FLOAT32;
    const node *p = graph_producer(g, v);
    if (!p || p->out[0] != v || p->n_in < 1) return false;
    if (is_op(p, "Conv") || is_op(p, "ConvTranspose") || p->act.on) return true;
    /* both operands have one dtype (infer checks it), so either one tells */
    if (is_arith(p) || is_op(p, "Gemm") || is_op(p, "MatMul"))
        return known_f32(g, p->in[0], depth + 1) || (p->n_in > 1 && known_f32(g, p->in[1], depth + 1));
    static const char *const same_dtype[] = {"Relu", "Sigmoid", "Tanh", "Softmax", "LayerNormalization",
        "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "Reshape", "Transpose", "Flatten",
        "Squeeze", "Unsqueeze", "Concat", "Slice", "Pad", "Resize", NULL};
    for (const char *const *op = same_dtype; *op; op++)
        if (is_op(p, *op)) return known_f32(g, p->in[0], depth + 1);
    return false;
}

/* A node that applies node.act to its output, which must be float32: convolutions and
 * DynamicQuantizeMatMul always compute float32; Gemm, MatMul and the arithmetic ops when their first input is known to be float32. */
static bool takes_activation(ei_model *g, const node *p)
{
    if (!p || p->act.on) return false;
    if (is_op(p, "Conv") || is_op(p, "ConvTranspose") || !strcmp(p->op_type, "DynamicQuantizeMatMul")) return true;
    bool f32_op = is_op(p, "Gemm") || is_op(p, "MatMul") || (is_arith(p) && p->n_in == 2);
    return f32_op && known_f32(g, p->in[0], 0);
}

/* The scalar a Clip (opset 11+) reads as bound k, when it is a constant; absent: def. */
static bool clip_bound(const ei_model *g, const node *n, int k, float def, float *out)
{
    *out = def;
    if (k >= n->n_in || n->in[k] < 0) return true;
    const ei_tensor *t = graph_const_f32(g, n->in[k]);
    if (!t || shape_numel(t->rank, t->dims) != 1) return false;
    *out = *(const float *)t->data;
    return true;
}

/* The fused form of activation node a, false when a is not one (or not in a form we fuse). */
static bool activation_of(const ei_model *g, const node *a, fused_act *act)
{
    memset(act, 0, sizeof *act);
    act->on = true;
    if (a->n_in < 1 || a->in[0] < 0 || a->n_out != 1 || a->out[0] < 0) return false;
    if (is_op(a, "Relu")) act->op = F32_VRELU;
    else if (is_op(a, "Sigmoid")) act->op = F32_VSIGMOID;
    else if (is_op(a, "Tanh")) act->op = F32_VTANH;
    else if (is_op(a, "HardSwish")) act->op = F32_VHARDSWISH;
    else if (is_op(a, "LeakyRelu") && attr_is(a, "alpha", ATTR_FLOAT)) {
        act->op = F32_VLEAKYRELU;
        act->alpha = attr_float(a, "alpha", 0.01f);
    } else if (is_op(a, "HardSigmoid") && attr_is(a, "alpha", ATTR_FLOAT) && attr_is(a, "beta", ATTR_FLOAT)) {
        act->op = F32_VHARDSIGMOID;
        act->alpha = attr_float(a, "alpha", 0.2f);
        act->beta = attr_float(a, "beta", 0.5f);
    } else if (is_op(a, "Clip") && a->opset >= 11) {
        act->op = F32_VCLIP;
        return clip_bound(g, a, 1, -INFINITY, &act->lo) && clip_bound(g, a, 2, INFINITY, &act->hi);
    } else if (is_op(a, "Clip") && attr_is(a, "min", ATTR_FLOAT) && attr_is(a, "max", ATTR_FLOAT)) {
        act->op = F32_VCLIP;
        act->lo = attr_float(a, "min", -3.402823e+38f);
        act->hi = attr_float(a, "max", 3.402823e+38f);
    } else {
        return false;
    }
    return true;
}

/* Node p now writes what node a wrote. */
static ei_status take_over(ei_model *g, node *p, node *a, const fused_act *act, const char *what)
{
    p->act = *act;
    graph_take_output(g, p, a->out[0]);
    a->dead = true;
    return graph_note_fused(g, p, what);
}

/* Mul(x, Sigmoid(x)) in either order, with x read by just those two: the Mul and the Sigmoid. */
static ei_status fuse_silu(ei_model *g, node *mul, const graph_uses *u)
{
    if (!is_op(mul, "Mul") || mul->n_in != 2 || mul->out[0] < 0) return EI_STATUS_OK;
    for (int side = 0; side < 2; side++) {
        node *sig = graph_producer(g, mul->in[side]);
        int x = mul->in[1 - side];
        if (!is_op(sig, "Sigmoid") || sig->n_in != 1 || sig->in[0] != x || x < 0 ||
            u->pinned[mul->in[side]] || u->count[mul->in[side]] != 1)
            continue;
        node *p = sole_producer(g, x, u, 2);
        if (!takes_activation(g, p)) continue;
        fused_act act = {.on = true, .op = F32_VSILU};
        sig->dead = true;
        return take_over(g, p, mul, &act, "Sigmoid+Mul");
    }
    return EI_STATUS_OK;
}

/* Mul(Mul(x, Erf(x / sqrt2) + 1), 0.5), the exact GELU as exporters write it, with x read by just
 * the Div and the inner Mul. */
static ei_status fuse_gelu(ei_model *g, node *div, const graph_uses *u)
{
    int x = div->in[0], one_v, half_v;
    float r2, one, half;
    if (!is_op(div, "Div") || div->n_in != 2 || !const_scalar(g, div->in[1], &r2) || fabsf(r2 - 1.41421356f) > 1e-5f)
        return EI_STATUS_OK;
    node *erf = sole_reader(g, div->out[0], u);
    if (!is_op(erf, "Erf")) return EI_STATUS_OK;
    node *add = sole_reader(g, erf->out[0], u);
    if (!is_op(add, "Add") || !other_operand(add, erf->out[0], &one_v) || !const_scalar(g, one_v, &one) || one != 1.0f)
        return EI_STATUS_OK;
    node *mul = sole_reader(g, add->out[0], u);
    int other;
    if (!is_op(mul, "Mul") || !other_operand(mul, add->out[0], &other) || other != x) return EI_STATUS_OK;
    node *mul2 = sole_reader(g, mul->out[0], u);
    if (!is_op(mul2, "Mul") || !other_operand(mul2, mul->out[0], &half_v) || !const_scalar(g, half_v, &half) ||
        half != 0.5f)
        return EI_STATUS_OK;
    node *p = sole_producer(g, x, u, 2);
    if (!takes_activation(g, p)) return EI_STATUS_OK;
    fused_act act = {.on = true, .op = F32_VGELU};
    div->dead = erf->dead = add->dead = mul->dead = true;
    return take_over(g, p, mul2, &act, "Gelu");
}

static ei_status activation_rule(ei_model *g, node *a, const graph_uses *u)
{
    fused_act act;
    if (!activation_of(g, a, &act)) {
        TRY(fuse_silu(g, a, u));
        return a->dead ? EI_STATUS_OK : fuse_gelu(g, a, u);
    }
    node *p = sole_producer(g, a->in[0], u, 1);
    return takes_activation(g, p) ? take_over(g, p, a, &act, a->op_type) : EI_STATUS_OK;
}

/* ---- fuse-qdq ---- */

/* A live DequantizeLinear producing v from a quantized value with a constant per-tensor or 1-D scale
 * and a constant zero point of the same shape (or none). */
typedef struct dq_node {
    node *n;
    int q;                      /* the quantized value */
    const ei_tensor *scale, *zp; /* zp NULL when absent */
} dq_node;

static const ei_tensor *const_of(const ei_model *g, int v)
{
    if (v < 0 || g->values[v].kind != VALUE_CONST) return NULL;
    const ei_tensor *t = &g->values[v].init;
    return t->data || shape_numel(t->rank, t->dims) == 0 ? t : NULL;
}

static bool dq_of(ei_model *g, int v, dq_node *d)
{
    node *n = graph_producer(g, v);
    if (!is_op(n, "DequantizeLinear") || n->n_in < 2 || n->n_out != 1 || n->in[0] < 0 || !attr_is(n, "axis", ATTR_INT))
        return false;
    d->n = n;
    d->q = n->in[0];
    d->scale = graph_const_f32(g, n->in[1]);
    d->zp = n->n_in > 2 && n->in[2] >= 0 ? const_of(g, n->in[2]) : NULL;
    if (!d->scale || d->scale->rank > 1 || (n->n_in > 2 && n->in[2] >= 0 && !d->zp)) return false;
    int64_t len = shape_numel(d->scale->rank, d->scale->dims);
    if (d->zp && (shape_numel(d->zp->rank, d->zp->dims) != len || d->zp->rank > 1)) return false;
    return len >= 1;
}

/* d quantizes the activation per tensor: a scalar scale and a uint8/int8 zero point present. */
static bool dq_per_tensor(const dq_node *d)
{
    return shape_numel(d->scale->rank, d->scale->dims) == 1 && d->zp &&
           (d->zp->dtype == EI_DTYPE_UINT8 || d->zp->dtype == EI_DTYPE_INT8);
}

/* d dequantizes a constant 8-bit weight per tensor or along `axis` (per channel). */
static bool dq_weight(const ei_model *g, const dq_node *d, int axis)
{
    const ei_tensor *w = const_of(g, d->q);
    if (!w || (w->dtype != EI_DTYPE_UINT8 && w->dtype != EI_DTYPE_INT8) || (d->zp && d->zp->dtype != w->dtype))
        return false;
    int64_t len = shape_numel(d->scale->rank, d->scale->dims), ax = attr_int(d->n, "axis", 1);
    if (len == 1) return true;
    if (ax < 0) ax += w->rank;
    return ax == axis && axis < w->rank && w->dims[axis] == len;
}

/* A zero-point constant: the DequantizeLinear's own, or a new all-zero one of the weight's dtype and
 * the scale's shape (the QLinear ops want the two alike). */
static int weight_zp(ei_model *g, const dq_node *d, int32_t dtype)
{
    if (d->zp) return d->n->in[2];
    ei_tensor t = *d->scale;
    t.dtype = dtype;
    t.data = arena_alloc(&g->mem, (size_t)shape_numel(t.rank, t.dims));
    return t.data ? graph_add_const(g, "zero_point", &t) : -1;
}

/* The int32 bias of the fused node: a DequantizeLinear of an int32 constant with a zero zero point, or a
 * float32 constant [M], either rescaled to x_scale * w_scale[m]. -1 when there is none, -2 when the bias
 * cannot be fused. */
static int int_bias(ei_model *g, int v, float sx, const ei_tensor *sw, int64_t m)
{
    if (v < 0) return -1;
    dq_node d;
    const ei_tensor *b = graph_const_f32(g, v);
    const float *bs = NULL;
    if (!b) {
        if (!dq_of(g, v, &d) || !(b = const_of(g, d.q)) || b->dtype != EI_DTYPE_INT32) return -2;
        if (d.zp && (d.zp->dtype != EI_DTYPE_INT32 || shape_numel(d.zp->rank, d.zp->dims) != 1 ||
                     *(const int32_t *)d.zp->data != 0))
            return -2;
        bs = d.scale->data;
        if (shape_numel(d.scale->rank, d.scale->dims) != 1 && shape_numel(d.scale->rank, d.scale->dims) != m) return -2;
    }
    if (b->rank != 1 || b->dims[0] != m || g->n_values >= g->cap_values) return -2;
    int32_t *q = arena_alloc(&g->mem, (size_t)m * sizeof *q);
    if (!q) return -2;
    bool per_bs = bs && shape_numel(d.scale->rank, d.scale->dims) != 1, per_w = shape_numel(sw->rank, sw->dims) != 1;
    for (int64_t i = 0; i < m; i++) {
        double s = (double)sx * ((const float *)sw->data)[per_w ? i : 0];
        double f = bs ? (double)((const int32_t *)b->data)[i] * bs[per_bs ? i : 0] : ((const float *)b->data)[i];
        double r = s > 0 ? nearbyint(f / s) : 0;
        if (!(fabs(r) < 2147483647.0)) return -2;
        q[i] = (int32_t)r;
    }
    ei_tensor t = {.dtype = EI_DTYPE_INT32, .rank = 1, .dims = {m}};
    t.data = q;
    return graph_add_const(g, "bias", &t);
}

/* A copy of the constant [N, K] weight transposed to [K, N] (Gemm with transB). */
static int transposed(ei_model *g, int v)
{
    const ei_tensor *w = const_of(g, v);
    int64_t n = w->dims[0], k = w->dims[1];
    uint8_t *d = arena_alloc(&g->mem, (size_t)(n * k));
    if (!d || g->n_values >= g->cap_values) return -1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) d[j * n + i] = ((const uint8_t *)w->data)[i * k + j];
    ei_tensor t = {.dtype = w->dtype, .rank = 2, .dims = {k, n}};
    t.data = d;
    return graph_add_const(g, g->values[v].name, &t);
}

/* Node p is a Conv, MatMul or Gemm the int8 form can compute: *axis is its weight's output-channel
 * axis (per-channel parameters lie along it), *trans_b whether it is a Gemm with transB. */
static bool qdq_compute(ei_model *g, const node *p, int *axis, bool *trans_b)
{
    *trans_b = false;
    if (is_op(p, "Conv")) {
        *axis = 0;
        return p->n_in >= 2 && p->n_in <= 3;
    }
    if (is_op(p, "MatMul")) {
        *axis = 1;
        return p->n_in == 2;
    }
    if (!is_op(p, "Gemm") || !attr_is(p, "transA", ATTR_INT) || !attr_is(p, "transB", ATTR_INT) ||
        !attr_is(p, "alpha", ATTR_FLOAT) || !attr_is(p, "beta", ATTR_FLOAT) || attr_int(p, "transA", 0) != 0 ||
        attr_float(p, "alpha", 1.0f) != 1.0f || attr_float(p, "beta", 1.0f) != 1.0f || p->n_in < 2)
        return false;
    *trans_b = attr_int(p, "transB", 0) != 0;
    *axis = *trans_b ? 0 : 1;
    return true;
}

/* The nodes dq reads from die with the fusion when p was their only reader. */
static void drop_if_sole(node *dq, int v, const graph_uses *u)
{
    if (!u->pinned[v] && u->count[v] == 1) dq->dead = true;
}

/* QuantizeLinear(act?(op(DequantizeLinear(x), DequantizeLinear(w const), bias?))) with op Conv, MatMul or
 * Gemm becomes QLinearConv or QLinearMatMul on the quantized values, the activation a clamp of its
 * output. A Gemm goes to QLinearMatMul with B transposed if needed and its bias as a ninth input. */
static ei_status qdq_rule(ei_model *g, node *q, const graph_uses *u)
{
    if (!is_op(q, "QuantizeLinear") || q->n_in != 3 || q->in[0] < 0 || q->in[2] < 0 || q->n_out != 1 ||
        q->out[0] < 0 || q->opset < 10 || !attr_is(q, "axis", ATTR_INT))
        return EI_STATUS_OK;
    const ei_tensor *sy = graph_const_f32(g, q->in[1]), *zy = const_of(g, q->in[2]);
    if (!sy || !zy || shape_numel(sy->rank, sy->dims) != 1 || shape_numel(zy->rank, zy->dims) != 1 || sy->rank > 1 ||
        zy->rank > 1 || (zy->dtype != EI_DTYPE_UINT8 && zy->dtype != EI_DTYPE_INT8))
        return EI_STATUS_OK;
    node *p = sole_producer(g, q->in[0], u, 1), *act_node = NULL;
    fused_act act;
    memset(&act, 0, sizeof act);
    if (p && activation_of(g, p, &act) && (act.op == F32_VRELU || act.op == F32_VCLIP)) {
        act_node = p;
        p = sole_producer(g, p->in[0], u, 1);
    } else {
        memset(&act, 0, sizeof act);
    }
    int axis;
    bool trans_b;
    if (!p || p->n_out != 1 || !qdq_compute(g, p, &axis, &trans_b) || p->in[0] < 0 || p->in[1] < 0) return EI_STATUS_OK;
    if (p->act.on) {
        if (act_node || (p->act.op != F32_VRELU && p->act.op != F32_VCLIP)) return EI_STATUS_OK;
        act = p->act;
    }
    dq_node dx, dw;
    if (!dq_of(g, p->in[0], &dx) || !dq_per_tensor(&dx) || !dq_of(g, p->in[1], &dw) || !dq_weight(g, &dw, axis))
        return EI_STATUS_OK;
    const ei_tensor *w = const_of(g, dw.q);
    bool conv = is_op(p, "Conv");
    if (!conv && w->rank != 2) return EI_STATUS_OK;
    int64_t m = conv ? w->dims[0] : w->dims[trans_b ? 0 : 1];
    int bias = int_bias(g, p->n_in > 2 ? p->in[2] : -1, *(const float *)dx.scale->data, dw.scale, m);
    if (bias == -2) return EI_STATUS_OK;
    int wq = trans_b ? transposed(g, dw.q) : dw.q, wz = weight_zp(g, &dw, w->dtype);
    int *in = arena_alloc(&g->mem, 9 * sizeof(int));
    if (!in || wq < 0 || wz < 0) return in ? EI_STATUS_OK : EI_STATUS_OUT_OF_MEMORY;
    int vals[9] = {dx.q, dx.n->in[1], dx.n->in[2], wq, dw.n->in[1], wz, q->in[1], q->in[2], bias};
    memcpy(in, vals, sizeof vals);
    drop_if_sole(dx.n, p->in[0], u);
    drop_if_sole(dw.n, p->in[1], u);
    if (p->n_in > 2 && p->in[2] >= 0) {
        dq_node db;
        if (dq_of(g, p->in[2], &db)) drop_if_sole(db.n, p->in[2], u);
    }
    p->op_type = conv ? "QLinearConv" : "QLinearMatMul";
    p->in = in;
    p->n_in = bias >= 0 ? 9 : 8;
    graph_take_output(g, p, q->out[0]);
    p->act = act;
    q->dead = true;
    if (act_node) act_node->dead = true;
    TRY(graph_note_fused(g, p, "DequantizeLinear"));
    if (act_node) TRY(graph_note_fused(g, p, act_node->op_type));
    return graph_note_fused(g, p, "QuantizeLinear");
}

/* Kills the op_type nodes none of whose outputs is read any more (they fed only fused nodes). */
static ei_status drop_unread(ei_model *g, const char *op_type)
{
    graph_uses u;
    TRY(graph_uses_init(g, &u));
    for (int i = 0; i < g->n_nodes; i++) {
        node *n = &g->nodes[i];
        bool unread = is_op(n, op_type);
        for (int k = 0; k < n->n_out && unread; k++) unread = output_unused(n, k, &u);
        if (unread) n->dead = true;
    }
    graph_uses_free(&u);
    return EI_STATUS_OK;
}

static ei_status fuse_qdq(ei_model *g)
{
    TRY(each_node(g, qdq_rule));
    return drop_unread(g, "DequantizeLinear");
}

/* ---- fuse-dynamic-quant ---- */

/* A constant weight parameter of B [K, N]: float32 (scale) or B's dtype (zero point), one value or [N]. */
static bool b_param(const ei_tensor *t, int32_t dtype, int64_t n)
{
    return t && t->dtype == dtype && t->rank <= 1 && (shape_numel(t->rank, t->dims) == 1 || t->dims[0] == n);
}

/* MatMulInteger(DynamicQuantizeLinear(x), W const, x_zero_point, W_zero_point const), then Cast to
 * float32 and the Mul by Mul(x_scale, W_scale), optionally an Add of a constant [N] bias: one
 * DynamicQuantizeMatMul(x, W, W_scale, W_zero_point, bias). */
static ei_status dynq_rule(ei_model *g, node *mm, const graph_uses *u)
{
    if (!is_op(mm, "MatMulInteger") || mm->n_in < 3 || mm->n_out != 1 || mm->in[0] < 0 || mm->in[2] < 0) return EI_STATUS_OK;
    node *d = graph_producer(g, mm->in[0]), *cast = sole_reader(g, mm->out[0], u), *end, *sm, *add;
    const ei_tensor *w = const_of(g, mm->in[1]), *wz = mm->n_in > 3 ? const_of(g, mm->in[3]) : NULL;
    if (!is_op(d, "DynamicQuantizeLinear") || d->n_out != 3 || d->out[0] != mm->in[0] || d->out[2] != mm->in[2] ||
        d->out[1] < 0 || !w || w->rank != 2 || (mm->n_in > 3 && mm->in[3] >= 0 && !b_param(wz, w->dtype, w->dims[1])) ||
        !is_op(cast, "Cast") || !attr_is(cast, "to", ATTR_INT) || attr_int(cast, "to", 0) != EI_DTYPE_FLOAT32)
        return EI_STATUS_OK;
    int s = -1, ws = -1, bias = -1;
    end = sole_reader(g, cast->out[0], u);
    if (!is_op(end, "Mul") || !other_operand(end, cast->out[0], &s)) return EI_STATUS_OK;
    sm = sole_producer(g, s, u, 1);
    if (!is_op(sm, "Mul") || !other_operand(sm, d->out[1], &ws) || !b_param(graph_const_f32(g, ws), EI_DTYPE_FLOAT32, w->dims[1]))
        return EI_STATUS_OK;
    add = sole_reader(g, end->out[0], u);
    if (is_op(add, "Add") && other_operand(add, end->out[0], &bias) && const_vec(g, add, add->in[0] == bias ? 0 : 1, w->dims[1]))
        end->dead = true, end = add;
    else
        bias = -1;
    int *in = arena_alloc(&g->mem, 5 * sizeof(int));
    if (!in) return EI_STATUS_OUT_OF_MEMORY;
    int vals[5] = {d->in[0], mm->in[1], ws, mm->n_in > 3 ? mm->in[3] : -1, bias};
    memcpy(in, vals, sizeof vals);
    cast->dead = sm->dead = end->dead = true;
    mm->in = in;
    mm->n_in = 5;
    mm->out[0] = end->out[0];
    mm->op_type = "DynamicQuantizeMatMul";
    mm->domain = "com.microsoft";
    mm->opset = 1;
    return graph_note_fused(g, mm, bias < 0 ? "DynamicQuantizeLinear+Cast+Mul+Mul" : "DynamicQuantizeLinear+Cast+Mul+Mul+Add");
}

static ei_status fuse_dynamic_quant(ei_model *g)
{
    TRY(each_node(g, dynq_rule));
    return drop_unread(g, "DynamicQuantizeLinear");
}

static ei_status constants(ei_model *g) { return each_node(g, constant_rule); }
static ei_status cancel_transposes(ei_model *g) { return each_node(g, transpose_rule); }
static ei_status fold_batchnorm(ei_model *g) { return each_node(g, batchnorm_rule); }
static ei_status fuse_bias(ei_model *g) { return each_node(g, bias_rule); }
static ei_status fuse_layer_norm(ei_model *g) { return each_node(g, layer_norm_rule); }
static ei_status fuse_activation(ei_model *g) { return each_node(g, activation_rule); }

const graph_pass graph_passes[] = {
    {"constants", constants},
    {"cancel-transposes", cancel_transposes},
    {"remove-identity", remove_identity},
    {"fold-batchnorm", fold_batchnorm},
    {"fuse-bias", fuse_bias},
    {"fuse-layer-norm", fuse_layer_norm},
    {"fuse-qdq", fuse_qdq},
    {"fuse-dynamic-quant", fuse_dynamic_quant},
    {"fuse-activation", fuse_activation},
    {NULL, NULL},
};
