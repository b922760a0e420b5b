/*
 * Recurrent layers: RNN, GRU and LSTM (opsets 7 and 14; the layout attribute
 * exists from 14), float32.
 *
 * Each direction runs in two phases. First the input projection of every time
 * step at once: one GEMM, XW[T*B, G*H] = X * W^T, started from the summed W
 * and R biases so that they cost nothing later. Then the recurrence, step by
 * step: h_prev * R^T is accumulated straight into that step's rows of XW, and
 * a cell kernel (kernels/f32_rnn.c) turns the rows into the new state. W and
 * R are packed once in prepare when they are constants, else per run.
 *
 * sequence_lens: a batch entry stops at its own length. Its state is frozen
 * from there on, so Y_h and Y_c hold its last valid step (the initial state
 * for a length of 0) and its rows of Y past the length are zero. The reverse
 * direction of such an entry starts at step length-1.
 *
 * Every output is optional, the first one included: out[0] may be NULL here.
 */
#include <stdint.h>
#include <strings.h>

#include "../kernels/f32_gemm.h"
#include "../kernels/f32_rnn.h"
#include "op.h"

enum { KIND_RNN, KIND_GRU, KIND_LSTM };
enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P };

static const int kind_gates[] = {1, 3, 4}; /* G: weight blocks per direction */
static const int kind_acts[] = {1, 2, 3};  /* activations per direction */

typedef struct rnn_cfg {
    int kind;
    int64_t T, B, I, H; /* steps, batch, input size, hidden size */
    int64_t GH;         /* G * H: columns of the gate rows */
    int D;              /* directions */
    bool reverse;       /* direction "reverse" (with D == 1) */
    bool batch_major;   /* layout 1: X [B,T,I], Y [B,T,D,H], states [B,D,H] */
    float clip;         /* INFINITY when absent */
    bool lbr;           /* GRU linear_before_reset */
    bool input_forget;  /* LSTM */
    f32_rnn_act act[2][3];
} rnn_cfg;

/* ---- activations ---- */

typedef struct act_def {
    const char *name;
    int op;              /* f32_vunary_op, or -1 / -2 for affine / scaled tanh */
    bool alpha, beta;    /* which of activation_alpha / activation_beta it consumes */
    float def_alpha, def_beta; /* the defaults of the matching ONNX ops */
} act_def;

static const act_def act_defs[] = {
    {"Relu", F32_VRELU, false, false, 0, 0},
    {"Tanh", F32_VTANH, false, false, 0, 0},
    {"Sigmoid", F32_VSIGMOID, false, false, 0, 0},
    {"Affine", -1, true, true, 1.0f, 0.0f},
    {"LeakyRelu", F32_VLEAKYRELU, true, false, 0.01f, 0},
    {"ThresholdedRelu", F32_VTHRESHOLDEDRELU, true, false, 1.0f, 0},
    {"ScaledTanh", -2, true, true, 1.0f, 1.0f},
    {"HardSigmoid", F32_VHARDSIGMOID, true, true, 0.2f, 0.5f},
    {"Elu", F32_VELU, true, false, 1.0f, 0},
    {"Softsign", F32_VSOFTSIGN, false, false, 0, 0},
    {"Softplus", F32_VSOFTPLUS, false, false, 0, 0},
};

static f32_vunary_fn act_fn(int op)
{
    if (op == -1) return f32_rnn_affine_scalar;
    if (op == -2) return f32_rnn_scaledtanh_scalar;
    return f32_vunary_select((f32_vunary_op)op);
}

/* The spec's defaults: f = Sigmoid for gates, g = h = Tanh; a simple RNN's f = Tanh. */
static const char *default_act(int kind, int k)
{
    if (kind == KIND_RNN) return "Tanh";
    return k == 0 ? "Sigmoid" : "Tanh";
}

static ei_status parse_acts(op_ctx *ctx, rnn_cfg *c)
{
    int per_dir = kind_acts[c->kind];
    const char *names[6];
    const attr *a = attr_find(ctx->n, "activations");
    if (a) {
        CHECK(ctx, a->type == ATTR_STRINGS, "attribute activations is not a list of strings");
        /* One direction's list serves both directions of a bidirectional layer. */
        CHECK(ctx, a->n == per_dir * c->D || (c->D == 2 && a->n == per_dir),
              "attribute activations lists %d functions, expected %d (%d per direction)", a->n, per_dir * c->D,
              per_dir);
        for (int i = 0; i < per_dir * c->D; i++) names[i] = a->strings[i % a->n];
    } else {
        for (int i = 0; i < per_dir * c->D; i++) names[i] = default_act(c->kind, i % per_dir);
    }
    const float *alphas = NULL, *betas = NULL;
    int n_alpha = attr_floats(ctx->n, "activation_alpha", &alphas);
    int n_beta = attr_floats(ctx->n, "activation_beta", &betas);
    int ia = 0, ib = 0;
    for (int i = 0; i < per_dir * c->D; i++) {
        const act_def *def = NULL;
        for (size_t k = 0; k < sizeof act_defs / sizeof act_defs[0]; k++)
            if (!strcasecmp(names[i], act_defs[k].name)) def = &act_defs[k];
        CHECK_SUPPORTED(ctx, def, "activation '%s' is not one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, "
                        "ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus", names[i]);
        f32_rnn_act *act = &c->act[i / per_dir][i % per_dir];
        memset(act, 0, sizeof *act);
        act->fn = act_fn(def->op);
        act->p.alpha = def->def_alpha;
        act->p.beta = def->def_beta;
        /* The alpha and beta lists are consumed in order by the activations that take them. */
        if (def->alpha && ia < n_alpha) act->p.alpha = alphas[ia++];
        if (def->beta && ib < n_beta) act->p.beta = betas[ib++];
    }
    return EI_STATUS_OK;
}

/* ---- attributes and shapes, shared by infer, prepare and run ---- */

static ei_status check_dims3(op_ctx *ctx, int i, const char *what, int64_t d0, int64_t d1, int64_t d2)
{
    if (!has_in(ctx, i)) return EI_STATUS_OK;
    const ei_tensor *t = ctx->in[i];
    CHECK_SHAPE(ctx, t->rank == 3 && t->dims[0] == d0 && t->dims[1] == d1 && t->dims[2] == d2,
                "input %s has shape %s, expected [%lld,%lld,%lld]", what, shape_str(t), (long long)d0,
                (long long)d1, (long long)d2);
    return EI_STATUS_OK;
}

static ei_status parse(op_ctx *ctx, int kind, rnn_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    bool lstm = kind == KIND_LSTM;
    TRY(check_arity(ctx, 3, lstm ? 8 : 6, 3));
    CHECK(ctx, ctx->n_out <= (lstm ? 3 : 2), "has %d outputs, expected at most %d", ctx->n_out, lstm ? 3 : 2);

    const ei_tensor *x = ctx->in[IN_X], *r = ctx->in[IN_R];
    CHECK_SUPPORTED(ctx, x->dtype == EI_DTYPE_FLOAT32, "input X has dtype %s, only float32 is supported",
                    ei_dtype_name(x->dtype));
    static const char *const in_names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
    for (int i = 1; i < ctx->n_in; i++) {
        if (i == IN_SEQ || !has_in(ctx, i)) continue;
        CHECK_SHAPE(ctx, ctx->in[i]->dtype == x->dtype, "input %s has dtype %s but X has %s", in_names[i],
                    ei_dtype_name(ctx->in[i]->dtype), ei_dtype_name(x->dtype));
    }
    if (has_in(ctx, IN_SEQ)) {
        int32_t dt = ctx->in[IN_SEQ]->dtype;
        CHECK_SHAPE(ctx, dt == EI_DTYPE_INT32 || dt == EI_DTYPE_INT64,
                    "input sequence_lens has dtype %s, expected int32", ei_dtype_name(dt));
    }

    int64_t layout = ctx->opset >= 14 ? attr_int(ctx->n, "layout", 0) : 0;
    CHECK(ctx, layout == 0 || layout == 1, "attribute layout is %lld, expected 0 or 1", (long long)layout);
    c->batch_major = layout == 1;
    const char *dir = attr_str(ctx->n, "direction", "forward");
    if (!strcmp(dir, "forward")) c->D = 1;
    else if (!strcmp(dir, "reverse")) c->D = 1, c->reverse = true;
    else if (!strcmp(dir, "bidirectional")) c->D = 2;
    else CHECK(ctx, false, "attribute direction is '%s', expected forward, reverse or bidirectional", dir);

    CHECK_SHAPE(ctx, x->rank == 3, "input X has shape %s, expected 3 dims", shape_str(x));
    c->T = c->batch_major ? x->dims[1] : x->dims[0];
    c->B = c->batch_major ? x->dims[0] : x->dims[1];
    c->I = x->dims[2];
    CHECK_SHAPE(ctx, r->rank == 3, "input R has shape %s, expected 3 dims", shape_str(r));
    c->H = r->dims[2];
    int64_t hs = attr_int(ctx->n, "hidden_size", c->H);
    CHECK_SHAPE(ctx, hs == c->H, "attribute hidden_size is %lld but input R has shape %s", (long long)hs,
                shape_str(r));
    int64_t G = kind_gates[kind], D = c->D, B = c->B, H = c->H;
    /* Bounded so that 2*GH and 3*H below cannot overflow. */
    CHECK_SHAPE(ctx, !__builtin_mul_overflow(G, H, &c->GH) && c->GH <= INT64_MAX / 8,
                "hidden size %lld is too large", (long long)H);
    TRY(check_dims3(ctx, IN_W, "W", D, c->GH, c->I));
    TRY(check_dims3(ctx, IN_R, "R", D, c->GH, H));
    if (has_in(ctx, IN_B)) {
        const ei_tensor *b = ctx->in[IN_B];
        CHECK_SHAPE(ctx, b->rank == 2 && b->dims[0] == D && b->dims[1] == 2 * c->GH,
                    "input B has shape %s, expected [%lld,%lld]", shape_str(b), (long long)D, (long long)(2 * c->GH));
    }
    if (has_in(ctx, IN_SEQ)) {
        const ei_tensor *s = ctx->in[IN_SEQ];
        CHECK_SHAPE(ctx, s->rank == 1 && s->dims[0] == B, "input sequence_lens has shape %s, expected [%lld]",
                    shape_str(s), (long long)B);
    }
    for (int i = IN_H0; i <= IN_C0; i++) {
        if (i == IN_C0 && !lstm) break;
        TRY(check_dims3(ctx, i, in_names[i], c->batch_major ? B : D, c->batch_major ? D : B, H));
    }
    if (lstm && has_in(ctx, IN_P)) {
        const ei_tensor *p = ctx->in[IN_P];
        CHECK_SHAPE(ctx, p->rank == 2 && p->dims[0] == D && p->dims[1] == 3 * H,
                    "input P has shape %s, expected [%lld,%lld]", shape_str(p), (long long)D, (long long)(3 * H));
    }

    c->clip = INFINITY;
    if (attr_find(ctx->n, "clip")) {
        float clip = attr_float(ctx->n, "clip", 0.0f);
        CHECK(ctx, clip >= 0.0f, "attribute clip is %g, expected a threshold >= 0", (double)clip);
        c->clip = clip;
    }
    c->lbr = kind == KIND_GRU && attr_int(ctx->n, "linear_before_reset", 0) != 0;
    c->input_forget = lstm && attr_int(ctx->n, "input_forget", 0) != 0;
    return parse_acts(ctx, c);
}

/* ---- scratch ----
 * Float offsets of the regions, each rounded to 16 floats so that every one
 * starts 64-byte aligned. Packed weights are absent when prepare packed them. */
typedef struct rnn_scratch {
    size_t px;   /* X packed as the A operand, [T*B, I]; shared by the directions */
    size_t xw;   /* [T*B, G*H] gate rows: input projection, then each step's recurrence */
    size_t bias; /* [G*H] Wb + Rb (a GRU with linear_before_reset keeps Rbh apart) */
    size_t pw;   /* W^T packed, [I, G*H] */
    size_t pr;   /* R^T packed, [H, G*H]; for a GRU the z,r block then the h block */
    size_t ph;   /* the previous hidden state packed as A, [B, H] */
    size_t h, c; /* [B, H] running hidden and cell states */
    size_t tmp;  /* [B, H] GRU: r * h_prev, or h_prev * Rh^T */
    size_t total;
} rnn_scratch;

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

static size_t packed_r_size(const rnn_cfg *c)
{
    size_t H = (size_t)c->H;
    if (c->kind == KIND_GRU) return round16(f32_gemm_packed_b_size(H, 2 * H)) + f32_gemm_packed_b_size(H, H);
    return f32_gemm_packed_b_size(H, (size_t)c->GH);
}

/* Appends a region of rows x cols floats, rows rounded up to a multiple of pad
 * (whole GEMM panels); false when it grows past what the library places. */
static bool add_region(size_t *off, uint64_t *total, uint64_t rows, uint64_t pad, uint64_t cols)
{
    const uint64_t limit = (uint64_t)EI_MAX_TENSOR_BYTES / sizeof(float);
    uint64_t n = 0;
    if (cols) {
        if (rows > limit) return false;
        rows = (rows + pad - 1) / pad * pad;
        if (__builtin_mul_overflow(rows, cols, &n) || n > limit) return false;
    }
    *off = (size_t)*total;
    *total += (n + 15) / 16 * 16;
    return *total <= limit;
}

static bool plan_scratch(const rnn_cfg *c, bool w_packed, bool r_packed, rnn_scratch *s)
{
    uint64_t T = (uint64_t)c->T, B = (uint64_t)c->B, I = (uint64_t)c->I, H = (uint64_t)c->H, GH = (uint64_t)c->GH;
    uint64_t total = 0, TB;
    size_t unused;
    memset(s, 0, sizeof *s);
    if (__builtin_mul_overflow(T, B, &TB)) return false;
    bool ok = add_region(&s->px, &total, TB, F32_GEMM_MR, I) && add_region(&s->xw, &total, TB, 1, GH) &&
              add_region(&s->bias, &total, GH, 1, 1) && add_region(&s->ph, &total, B, F32_GEMM_MR, H) &&
              add_region(&s->h, &total, B, 1, H) && add_region(&s->c, &total, c->kind == KIND_LSTM ? B : 0, 1, H) &&
              add_region(&s->tmp, &total, c->kind == KIND_GRU ? B : 0, 1, H);
    /* Packed W^T [I, GH] and R^T [H, GH] pad GH to whole panels (f32_gemm_packed_b_size);
     * a GRU's R^T is two blocks laid out as pack_r writes them. */
    if (ok && !w_packed) ok = add_region(&s->pw, &total, GH, F32_GEMM_NR, I);
    if (ok && !r_packed) {
        if (c->kind == KIND_GRU)
            ok = add_region(&s->pr, &total, 2 * H, F32_GEMM_NR, H) && add_region(&unused, &total, H, F32_GEMM_NR, H);
        else
            ok = add_region(&s->pr, &total, GH, F32_GEMM_NR, H);
    }
    s->total = (size_t)total + 16; /* never empty, so the scratch pointer is never NULL */
    return ok;
}

/* ---- infer ---- */

static ei_status rnn_infer(op_ctx *ctx, int kind)
{
    rnn_cfg c;
    TRY(parse(ctx, kind, &c));
    int32_t dt = ctx->in[IN_X]->dtype;
    int64_t D = c.D, T = c.T, B = c.B, H = c.H;
    int64_t y[4] = {T, D, B, H}, yb[4] = {B, T, D, H};
    int64_t yh[3] = {D, B, H}, yhb[3] = {B, D, H};
    TRY(set_output(ctx, 0, dt, 4, c.batch_major ? yb : y));
    TRY(set_output(ctx, 1, dt, 3, c.batch_major ? yhb : yh));
    TRY(set_output(ctx, 2, dt, 3, c.batch_major ? yhb : yh));
    rnn_scratch s;
    CHECK_SHAPE(ctx, plan_scratch(&c, in_is_const(ctx, IN_W), in_is_const(ctx, IN_R), &s),
                "X %s with hidden size %lld needs more temporary memory than the library places",
                shape_str(ctx->in[IN_X]), (long long)H);
    ctx->scratch_bytes = s.total * sizeof(float);
    return EI_STATUS_OK;
}

/* ---- prepare: pack constant weights once ---- */

typedef struct rnn_state {
    float *pw[2], *pr[2]; /* per direction, or NULL when packed per run */
} rnn_state;

/* W^T for direction d: element (i, g) is W[d][g][i]. */
static void pack_w(const rnn_cfg *c, const float *w, int d, float *dst)
{
    size_t I = (size_t)c->I, GH = (size_t)c->GH;
    f32_gemm_pack_b(I, GH, w + (size_t)d * GH * I, 1, (ptrdiff_t)I, dst);
}

/* R^T for direction d; a GRU's h block is packed on its own, because it multiplies r * h_prev
 * (or its product is scaled by r) after the z and r gates are known. */
static void pack_r(const rnn_cfg *c, const float *r, int d, float *dst)
{
    size_t H = (size_t)c->H, GH = (size_t)c->GH;
    const float *rd = r + (size_t)d * GH * H;
    if (c->kind == KIND_GRU) {
        f32_gemm_pack_b(H, 2 * H, rd, 1, (ptrdiff_t)H, dst);
        f32_gemm_pack_b(H, H, rd + 2 * H * H, 1, (ptrdiff_t)H, dst + round16(f32_gemm_packed_b_size(H, 2 * H)));
    } else {
        f32_gemm_pack_b(H, GH, rd, 1, (ptrdiff_t)H, dst);
    }
}

static ei_status rnn_prepare(op_ctx *ctx, int kind)
{
    ctx->state = NULL;
    bool pack_w_now = in_is_const(ctx, IN_W), pack_r_now = in_is_const(ctx, IN_R);
    if (!pack_w_now && !pack_r_now) return EI_STATUS_OK;
    rnn_cfg c;
    TRY(parse(ctx, kind, &c));
    rnn_state *st = op_alloc(ctx, sizeof *st);
    if (!st) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    size_t nw = f32_gemm_packed_b_size((size_t)c.I, (size_t)c.GH), nr = packed_r_size(&c);
    for (int d = 0; d < c.D; d++) {
        if (pack_w_now) {
            st->pw[d] = op_alloc(ctx, nw * sizeof(float) + EI_PAD);
            if (!st->pw[d]) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing W (%zu floats)", nw);
            pack_w(&c, ctx->in[IN_W]->data, d, st->pw[d]);
        }
        if (pack_r_now) {
            st->pr[d] = op_alloc(ctx, nr * sizeof(float) + EI_PAD);
            if (!st->pr[d]) return op_fail(ctx, EI_STATUS_OUT_OF_MEMORY, "out of memory packing R (%zu floats)", nr);
            pack_r(&c, ctx->in[IN_R]->data, d, st->pr[d]);
        }
    }
    ctx->state = st;
    return EI_STATUS_OK;
}

/* ---- run ---- */

/* Offset in floats of row (b, d) of a state tensor [D,B,H] or [B,D,H]. */
static size_t state_off(const rnn_cfg *c, int64_t b, int d)
{
    return (size_t)((c->batch_major ? b * c->D + d : d * c->B + b) * c->H);
}

/* The initial state of direction d (from initial_h / initial_c when given, else zero). */
static void load_state(const rnn_cfg *c, const ei_tensor *init, int d, float *dst)
{
    size_t H = (size_t)c->H;
    for (int64_t b = 0; b < c->B; b++) {
        if (init) memcpy(dst + (size_t)b * H, (const float *)init->data + state_off(c, b, d), H * sizeof(float));
        else memset(dst + (size_t)b * H, 0, H * sizeof(float));
    }
}

static void store_state(const rnn_cfg *c, const float *src, int d, ei_tensor *out)
{
    if (!out) return;
    size_t H = (size_t)c->H;
    for (int64_t b = 0; b < c->B; b++)
        memcpy((float *)out->data + state_off(c, b, d), src + (size_t)b * H, H * sizeof(float));
}

/* Gate biases of direction d: Wb + Rb, except the GRU h block under linear_before_reset,
 * whose Rbh is added inside the reset gate's product instead. */
static void sum_bias(const rnn_cfg *c, const float *b, int d, float *dst)
{
    size_t GH = (size_t)c->GH, keep_r = c->lbr ? 2 * (size_t)c->H : GH;
    const float *wb = b + (size_t)d * 2 * GH, *rb = wb + GH;
    for (size_t g = 0; g < GH; g++) dst[g] = wb[g] + (g < keep_r ? rb[g] : 0.0f);
}

static ei_status rnn_run(op_ctx *ctx, int kind)
{
    rnn_cfg c;
    TRY(parse(ctx, kind, &c));
    const rnn_state *st = ctx->state;
    rnn_scratch L;
    bool w_packed = st && st->pw[0], r_packed = st && st->pr[0];
    if (!plan_scratch(&c, w_packed, r_packed, &L) || L.total * sizeof(float) > ctx->scratch_bytes)
        return op_fail(ctx, EI_STATUS_INVALID_STATE, "needs %zu bytes of scratch at run but was given %zu",
                       L.total * sizeof(float), ctx->scratch_bytes);

    const int64_t T = c.T, B = c.B;
    const size_t H = (size_t)c.H, GH = (size_t)c.GH, I = (size_t)c.I, TB = (size_t)(T * B);
    const ei_tensor *seq = has_in(ctx, IN_SEQ) ? ctx->in[IN_SEQ] : NULL;
    for (int64_t b = 0; seq && b < B; b++) {
        int64_t len = tensor_get_i64(seq, b);
        if (len < 0 || len > T)
            return op_fail(ctx, EI_STATUS_INVALID_ARGUMENT, "sequence_lens[%lld] is %lld, outside [0, %lld]",
                           (long long)b, (long long)len, (long long)T);
    }
    /* Every output is empty, and a step would have nothing to compute. */
    if (B == 0 || H == 0) return EI_STATUS_OK;
    ei_tensor *y = has_out(ctx, 0) ? ctx->out[0] : NULL;
    ei_tensor *y_h = has_out(ctx, 1) ? ctx->out[1] : NULL;
    ei_tensor *y_c = has_out(ctx, 2) ? ctx->out[2] : NULL;

    float *s = ctx->scratch;
    float *px = s + L.px, *xw = s + L.xw, *bias = s + L.bias, *ph = s + L.ph, *h = s + L.h, *cs = s + L.c;
    float *tmp = s + L.tmp;
    /* Rows of X, and so of XW, are in memory order: (t, b) is row t*B + b, or b*T + t when batch-major. */
    const size_t xs_t = c.batch_major ? 1 : (size_t)B, xs_b = c.batch_major ? (size_t)T : 1;
    const ptrdiff_t g_rs = (ptrdiff_t)(xs_b * GH); /* between the batch rows of one step */
    f32_gemm_pack_a(TB, I, ctx->in[IN_X]->data, (ptrdiff_t)I, 1, px);

    const float *rbh_all = c.lbr && has_in(ctx, IN_B) ? ctx->in[IN_B]->data : NULL;
    const float *p_all = kind == KIND_LSTM && has_in(ctx, IN_P) ? ctx->in[IN_P]->data : NULL;
    for (int d = 0; d < c.D; d++) {
        bool rev = c.reverse || d == 1;
        const f32_rnn_act *act = c.act[d];
        const float *pw = w_packed ? st->pw[d] : s + L.pw, *pr = r_packed ? st->pr[d] : s + L.pr;
        if (!w_packed) pack_w(&c, ctx->in[IN_W]->data, d, s + L.pw);
        if (!r_packed) pack_r(&c, ctx->in[IN_R]->data, d, s + L.pr);
        const float *pr_h = pr + round16(f32_gemm_packed_b_size(H, 2 * H)); /* GRU only */

        /* Input projection of every step, on top of the biases. */
        int acc = 0;
        if (has_in(ctx, IN_B)) {
            sum_bias(&c, ctx->in[IN_B]->data, d, bias);
            for (size_t m = 0; m < TB; m++) memcpy(xw + m * GH, bias, GH * sizeof(float));
            acc = 1;
        }
        f32_gemm_packed_simd128(TB, GH, I, px, pw, NULL, xw, (ptrdiff_t)GH, 1, acc);

        load_state(&c, has_in(ctx, IN_H0) ? ctx->in[IN_H0] : NULL, d, h);
        if (kind == KIND_LSTM) load_state(&c, has_in(ctx, IN_C0) ? ctx->in[IN_C0] : NULL, d, cs);
        const float *rbh = rbh_all ? rbh_all + (size_t)d * 2 * GH + GH + 2 * H : NULL;
        const float *p = p_all ? p_all + (size_t)d * 3 * H : NULL;

        for (int64_t step = 0; step < T; step++) {
            int64_t t = rev ? T - 1 - step : step;
            float *gt = xw + (size_t)t * xs_t * GH; /* row b of this step is gt + b * g_rs */
            f32_gemm_pack_a((size_t)B, H, h, (ptrdiff_t)H, 1, ph);
            size_t n_rec = kind == KIND_GRU ? 2 * H : GH;
            f32_gemm_packed_simd128((size_t)B, n_rec, H, ph, pr, NULL, gt, g_rs, 1, 1);

            if (kind == KIND_GRU) {
                for (int64_t b = 0; b < B; b++) {
                    float *g = gt + b * g_rs, *tb = tmp + (size_t)b * H;
                    bool active = !seq || t < tensor_get_i64(seq, b);
                    if (active) f32_rnn_gate(g, g, 2 * H, c.clip, &act[0]);
                    if (!c.lbr) {
                        if (active) f32_rnn_mul(H, g + H, h + (size_t)b * H, tb);
                        else memset(tb, 0, H * sizeof(float));
                    }
                }
                if (c.lbr) {
                    f32_gemm_packed_simd128((size_t)B, H, H, ph, pr_h, NULL, tmp, (ptrdiff_t)H, 1, 0);
                } else {
                    f32_gemm_pack_a((size_t)B, H, tmp, (ptrdiff_t)H, 1, ph);
                    f32_gemm_packed_simd128((size_t)B, H, H, ph, pr_h, NULL, gt + 2 * H, g_rs, 1, 1);
                }
            }
            for (int64_t b = 0; b < B; b++) {
                float *g = gt + b * g_rs, *hb = h + (size_t)b * H;
                bool active = !seq || t < tensor_get_i64(seq, b);
                if (active) {
                    switch (kind) {
                    case KIND_RNN: f32_rnn_gate(g, hb, H, c.clip, &act[0]); break;
                    case KIND_GRU:
                        if (c.lbr) f32_gru_reset_after(H, g + 2 * H, g + H, tmp + (size_t)b * H, rbh);
                        f32_gru_output(H, g + 2 * H, g, hb, c.clip, &act[1]);
                        break;
                    default: f32_lstm_cell(H, g, p, cs + (size_t)b * H, hb, c.input_forget, c.clip, act); break;
                    }
                }
                if (y) {
                    float *dst = (float *)y->data +
                                 (size_t)((c.batch_major ? (b * T + t) * c.D + d : (t * c.D + d) * B + b) * c.H);
                    if (active) memcpy(dst, hb, H * sizeof(float));
                    else memset(dst, 0, H * sizeof(float));
                }
            }
        }
        store_state(&c, h, d, y_h);
        if (kind == KIND_LSTM) store_state(&c, cs, d, y_c);
    }
    return EI_STATUS_OK;
}

static ei_status rnn_infer_rnn(op_ctx *ctx) { return rnn_infer(ctx, KIND_RNN); }
static ei_status rnn_infer_gru(op_ctx *ctx) { return rnn_infer(ctx, KIND_GRU); }
static ei_status rnn_infer_lstm(op_ctx *ctx) { return rnn_infer(ctx, KIND_LSTM); }
static ei_status rnn_prepare_rnn(op_ctx *ctx) { return rnn_prepare(ctx, KIND_RNN); }
static ei_status rnn_prepare_gru(op_ctx *ctx) { return rnn_prepare(ctx, KIND_GRU); }
static ei_status rnn_prepare_lstm(op_ctx *ctx) { return rnn_prepare(ctx, KIND_LSTM); }
static ei_status rnn_run_rnn(op_ctx *ctx) { return rnn_run(ctx, KIND_RNN); }
static ei_status rnn_run_gru(op_ctx *ctx) { return rnn_run(ctx, KIND_GRU); }
static ei_status rnn_run_lstm(op_ctx *ctx) { return rnn_run(ctx, KIND_LSTM); }

const op_def rnn_ops[] = {
    {"RNN", "", 7, rnn_infer_rnn, rnn_prepare_rnn, rnn_run_rnn, OP_OUTPUTS_OPTIONAL},
    {"GRU", "", 7, rnn_infer_gru, rnn_prepare_gru, rnn_run_gru, OP_OUTPUTS_OPTIONAL},
    {"LSTM", "", 7, rnn_infer_lstm, rnn_prepare_lstm, rnn_run_lstm, OP_OUTPUTS_OPTIONAL},
};
const int rnn_ops_count = (int)(sizeof rnn_ops / sizeof rnn_ops[0]);
