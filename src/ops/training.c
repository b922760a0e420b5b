/*
 * Optimizer ops of the ai.onnx.preview.training domain (opset 1 of that
 * domain): Adagrad, Momentum (standard and Nesterov) and Adam.
 *
 * One node updates n tensors at once. Its inputs are R (the learning rate, a
 * float scalar), T (the update count so far, an int64 scalar), then the n
 * tensors X, their n gradients G, and the n tensors of each optimizer state
 * (Adagrad: H, Momentum: V, Adam: V then H). Its outputs are the n new X
 * followed by the n new tensors of each state, in the same order. Every
 * group i has one shape and one dtype (float or double).
 *
 * The updates are elementwise and computed in double for both dtypes: these
 * ops run on parameter-sized tensors once per step, so a single readable loop
 * per rule is worth more than a float32 fast path, and double keeps the result
 * within the tolerance of the float32 reference whatever the coefficients.
 */
#include "op.h"

enum { OPT_ADAGRAD, OPT_MOMENTUM, OPT_ADAM };

typedef struct opt_args {
    int kind;
    int states; /* state tensors per updated tensor: 1, or 2 for Adam */
    int n;      /* tensors updated by the node */
    double norm, eps;
    double decay;            /* Adagrad */
    double alpha, beta;      /* Momentum, Adam */
    bool nesterov;           /* Momentum */
    double norm_post;        /* Adam */
} opt_args;

static int opt_kind(const node *n)
{
    if (!strcmp(n->op_type, "Adagrad")) return OPT_ADAGRAD;
    if (!strcmp(n->op_type, "Momentum")) return OPT_MOMENTUM;
    return OPT_ADAM;
}

/* Momentum has no defaults: its four attributes are required. */
static ei_status required_attr(op_ctx *ctx, const char *name, int type)
{
    const attr *a = attr_find(ctx->n, name);
    CHECK(ctx, a, "attribute '%s' is required", name);
    CHECK(ctx, a->type == type, "attribute '%s' has attribute type %d, expected %d", name, a->type, type);
    return EI_STATUS_OK;
}

static ei_status parse_opt(op_ctx *ctx, opt_args *a)
{
    const node *nd = ctx->n;
    memset(a, 0, sizeof *a);
    a->kind = opt_kind(nd);
    a->states = a->kind == OPT_ADAM ? 2 : 1;
    switch (a->kind) {
    case OPT_ADAGRAD:
        a->norm = attr_float(nd, "norm_coefficient", 0.0f);
        a->eps = attr_float(nd, "epsilon", 1e-6f);
        a->decay = attr_float(nd, "decay_factor", 0.0f);
        break;
    case OPT_MOMENTUM: {
        TRY(required_attr(ctx, "alpha", ATTR_FLOAT));
        TRY(required_attr(ctx, "beta", ATTR_FLOAT));
        TRY(required_attr(ctx, "norm_coefficient", ATTR_FLOAT));
        TRY(required_attr(ctx, "mode", ATTR_STRING));
        a->alpha = attr_float(nd, "alpha", 0.0f);
        a->beta = attr_float(nd, "beta", 0.0f);
        a->norm = attr_float(nd, "norm_coefficient", 0.0f);
        const char *mode = attr_str(nd, "mode", "");
        if (!strcmp(mode, "nesterov")) a->nesterov = true;
        else CHECK(ctx, !strcmp(mode, "standard"), "mode '%s' is not one of standard, nesterov", mode);
        break;
    }
    default:
        a->alpha = attr_float(nd, "alpha", 0.9f);
        a->beta = attr_float(nd, "beta", 0.999f);
        a->eps = attr_float(nd, "epsilon", 1e-6f);
        a->norm = attr_float(nd, "norm_coefficient", 0.0f);
        a->norm_post = attr_float(nd, "norm_coefficient_post", 0.0f);
        break;
    }

    int groups = 2 + a->states; /* X, G, states */
    CHECK(ctx, ctx->n_in >= 2 + groups && (ctx->n_in - 2) % groups == 0,
          "has %d inputs, expected R, T and then %d tensors per updated tensor (X..., G..., %s)", ctx->n_in, groups,
          a->kind == OPT_ADAM ? "V..., H..." : a->kind == OPT_MOMENTUM ? "V..." : "H...");
    a->n = (ctx->n_in - 2) / groups;
    CHECK(ctx, ctx->n_out == a->n * (1 + a->states),
          "has %d outputs, expected %d: the %d updated tensor(s), then %d new state tensor(s) for each", ctx->n_out,
          a->n * (1 + a->states), a->n, a->states);
    return EI_STATUS_OK;
}

static ei_status opt_infer(op_ctx *ctx)
{
    static const int32_t float_types[] = {EI_DTYPE_FLOAT32, EI_DTYPE_FLOAT64, 0};
    static const int32_t count_types[] = {EI_DTYPE_INT64, 0};
    opt_args a;
    TRY(parse_opt(ctx, &a));
    TRY(check_arity(ctx, ctx->n_in, ctx->n_in, ctx->n_in));
    TRY(check_dtype(ctx, 0, float_types));
    TRY(check_dtype(ctx, 1, count_types));
    CHECK_SHAPE(ctx, numel(ctx->in[0]) == 1, "input R %s must be a scalar", shape_str(ctx->in[0]));
    CHECK_SHAPE(ctx, numel(ctx->in[1]) == 1, "input T %s must be a scalar", shape_str(ctx->in[1]));

    for (int i = 0; i < a.n; i++) {
        const ei_tensor *x = ctx->in[2 + i];
        TRY(check_dtype(ctx, 2 + i, float_types));
        for (int g = 1; g < 2 + a.states; g++) {
            int k = 2 + g * a.n + i;
            const ei_tensor *t = ctx->in[k];
            CHECK(ctx, t->dtype == x->dtype, "input %d has dtype %s but the tensor it goes with (input %d) has %s", k,
                  ei_dtype_name(t->dtype), 2 + i, ei_dtype_name(x->dtype));
            bool same = t->rank == x->rank;
            for (int d = 0; same && d < x->rank; d++) same = t->dims[d] == x->dims[d];
            CHECK_SHAPE(ctx, same, "input %d %s does not have the shape of the tensor it goes with (input %d) %s", k,
                        shape_str(t), 2 + i, shape_str(x));
        }
        for (int s = 0; s <= a.states; s++) TRY(set_output(ctx, s * a.n + i, x->dtype, x->rank, x->dims));
    }
    return EI_STATUS_OK;
}

static inline double load_f(const void *p, bool f64, int64_t i)
{
    return f64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static inline void store_f(void *p, bool f64, int64_t i, double v)
{
    if (f64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

/* Output k's buffer, or NULL when the output is not wanted. */
static void *out_data(op_ctx *ctx, int k) { return has_out(ctx, k) ? ctx->out[k]->data : NULL; }

static ei_status opt_run(op_ctx *ctx)
{
    opt_args a;
    TRY(parse_opt(ctx, &a));
    double r = tensor_get_f64(ctx->in[0], 0);
    int64_t t = tensor_get_i64(ctx->in[1], 0);
    int n = a.n;

    /* Per-step scalars of each rule. */
    double rate = r;
    if (a.kind == OPT_ADAGRAD) rate = r / (1.0 + (double)t * a.decay);
    /* Adam's bias correction starts with the second step (t > 0). */
    if (a.kind == OPT_ADAM && t > 0)
        rate = r * sqrt(1.0 - pow(a.beta, (double)t)) / (1.0 - pow(a.alpha, (double)t));
    /* Momentum's gradient coefficient is 1 on the first step, whatever beta. */
    double beta_t = a.kind == OPT_MOMENTUM && t <= 0 ? 1.0 : a.beta;

    for (int i = 0; i < n; i++) {
        const ei_tensor *xt = ctx->in[2 + i];
        bool f64 = xt->dtype == EI_DTYPE_FLOAT64;
        int64_t len = numel(xt);
        const void *x = xt->data, *g = ctx->in[2 + n + i]->data, *s1 = ctx->in[2 + 2 * n + i]->data;
        const void *s2 = a.states > 1 ? ctx->in[2 + 3 * n + i]->data : NULL;
        void *x_new = out_data(ctx, i), *s1_new = out_data(ctx, n + i);
        void *s2_new = a.states > 1 ? out_data(ctx, 2 * n + i) : NULL;

        for (int64_t e = 0; e < len; e++) {
            double xv = load_f(x, f64, e);
            /* The gradient of the L2 regularisation term 0.5 * norm * ||x||^2 is norm * x. */
            double gv = a.norm * xv + load_f(g, f64, e);
            double xn, v1, v2 = 0;
            switch (a.kind) {
            case OPT_ADAGRAD:
                v1 = load_f(s1, f64, e) + gv * gv; /* accumulated squared gradient */
                xn = xv - rate * gv / (sqrt(v1) + a.eps);
                break;
            case OPT_MOMENTUM:
                v1 = a.alpha * load_f(s1, f64, e) + beta_t * gv; /* momentum */
                xn = a.nesterov ? xv - rate * (gv + a.alpha * v1) : xv - rate * v1;
                break;
            default:
                v1 = a.alpha * load_f(s1, f64, e) + (1.0 - a.alpha) * gv;      /* first moment */
                v2 = a.beta * load_f(s2, f64, e) + (1.0 - a.beta) * gv * gv;   /* second moment */
                xn = (1.0 - a.norm_post) * (xv - rate * v1 / (sqrt(v2) + a.eps));
                break;
            }
            if (x_new) store_f(x_new, f64, e, xn);
            if (s1_new) store_f(s1_new, f64, e, v1);
            if (s2_new) store_f(s2_new, f64, e, v2);
        }
    }
    return EI_STATUS_OK;
}

#define TRAINING_DOMAIN "ai.onnx.preview.training"

const op_def training_ops[] = {
    {"Adagrad", TRAINING_DOMAIN, 1, opt_infer, NULL, opt_run, 0},
    {"Momentum", TRAINING_DOMAIN, 1, opt_infer, NULL, opt_run, 0},
    {"Adam", TRAINING_DOMAIN, 1, opt_infer, NULL, opt_run, 0},
};
const int training_ops_count = sizeof training_ops / sizeof training_ops[0];
