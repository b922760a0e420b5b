/*
 * Hostile models (tests/fuzz/regressions, written by tests/fuzz/make_regressions.py): each
 * must load, then fail to create or run with the status and message listed here, or run,
 * without a crash, a sanitizer report or a long loop. The fuzz targets replay the same files
 * under ASan/UBSan with a time limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinfer.h"

int hostile_tests(const char *dir);

typedef struct hostile_case {
    const char *file;        /* in dir, without .onnx */
    ei_status create;        /* expected status of ei_session_create */
    ei_status run;           /* expected status of a run on zeros of the declared shapes */
    const char *msg;         /* a substring of the failing call's message, or NULL */
} hostile_case;

static const hostile_case cases[] = {
    /* zero-element tensors whose other dims are huge: refused where the shape is born */
    {"empty-huge-dims-averagepool-input", EI_STATUS_INVALID_SHAPE, 0, "input 'x': shape [0,1099511627776"},
    {"empty-huge-dims-softmax-axis0-input", EI_STATUS_INVALID_SHAPE, 0, "too large"},
    {"empty-huge-dims-softmax-axis0-folded", EI_STATUS_INVALID_SHAPE, 0, "too large"},
    {"empty-huge-dims-logsoftmax-folded", EI_STATUS_INVALID_SHAPE, 0, "too large"},
    {"empty-huge-dims-averagepool-folded", EI_STATUS_INVALID_SHAPE, 0, "too large"},
    /* empty rows of a large outer extent: nothing to compute, and nothing iterated */
    {"empty-rows-softmax", EI_STATUS_OK, EI_STATUS_OK, NULL},
    {"empty-rows-logsoftmax", EI_STATUS_OK, EI_STATUS_OK, NULL},
    {"empty-rows-hardmax", EI_STATUS_OK, EI_STATUS_OK, NULL},
    {"empty-rows-lpnormalization", EI_STATUS_OK, EI_STATUS_OK, NULL},
    {"empty-rows-lrn", EI_STATUS_OK, EI_STATUS_OK, NULL},
    {"empty-rows-topk", EI_STATUS_OK, EI_STATUS_OK, NULL},
    {"empty-rows-cumsum", EI_STATUS_OK, EI_STATUS_OK, NULL},
    /* the quantized convolutions check their pads like Conv (one window geometry) */
    {"pads-near-2^31-convinteger", EI_STATUS_INVALID_SHAPE, 0, "too large"},
    {"pads-near-2^31-qlinearconv", EI_STATUS_INVALID_SHAPE, 0, "too large"},
    /* attributes of the wrong type are errors that name the attribute */
    {"attr-wrong-type-gather-axis-float", EI_STATUS_INVALID_MODEL, 0, "attribute 'axis' has type float, expected int"},
    {"attr-wrong-type-transpose-perm-floats", EI_STATUS_INVALID_MODEL, 0,
     "attribute 'perm' has type floats, expected ints"},
    {"attr-wrong-type-transpose-perm-strings", EI_STATUS_INVALID_MODEL, 0,
     "attribute 'perm' has type strings, expected ints"},
    {"attr-wrong-type-leakyrelu-alpha-floats", EI_STATUS_INVALID_MODEL, 0, /* read once, by prepare */
     "attribute 'alpha' has type floats, expected float"},
    {"attr-wrong-type-conv-pads-string", EI_STATUS_INVALID_MODEL, 0, "attribute 'pads' has type string, expected ints"},
    /* a 168-byte model whose folded constants would take 4 GiB stops at the session budget */
    {"fold-chain-session-budget", EI_STATUS_OUT_OF_MEMORY, 0, "ei_limits.session_bytes"},
    {"loop-nest-iteration-budget", EI_STATUS_OK, EI_STATUS_OK, NULL}, /* 10,100 body runs, within the default */
    {"pad-opset18-axes", EI_STATUS_OK, EI_STATUS_OK, NULL},
    /* the message names the whole character (2 bytes of UTF-8), not half of it */
    {"einsum-utf8-label", EI_STATUS_INVALID_MODEL, 0, "unexpected character '\xc3\xa9'"},
};

static int failures;

static void expect(int ok, const char *file, const char *what, ei_status st, const char *msg)
{
    if (ok) return;
    failures++;
    printf("FAIL hostile %s: %s (status %s: %s)\n", file, what, ei_status_name(st), msg);
}

/* Binds zeros of the declared shapes (unknown dims 1; no data for an empty tensor) and runs. */
static ei_status run_zeros(const ei_model *m, ei_session *s)
{
    void *bufs[8] = {0};
    ei_status st = EI_STATUS_OK;
    int ni = ei_model_io_count(m, 0);
    for (int i = 0; i < ni && i < 8 && st == EI_STATUS_OK; i++) {
        ei_tensor t;
        memset(&t, 0, sizeof t);
        t.dtype = ei_model_io_dtype(m, 0, i);
        t.rank = ei_model_io_rank(m, 0, i);
        for (int d = 0; d < t.rank; d++) {
            int64_t v = ei_model_io_dim(m, 0, i, d);
            t.dims[d] = v < 0 ? 1 : v;
        }
        int64_t n = ei_tensor_numel(&t);
        if (n > 0 && n <= (1 << 20)) t.data = bufs[i] = calloc((size_t)n, ei_dtype_size(t.dtype));
        st = ei_session_set_input(s, i, &t);
    }
    if (st == EI_STATUS_OK) st = ei_session_run(s);
    for (int i = 0; i < 8; i++) free(bufs[i]);
    return st;
}

static void run_case(const char *dir, const hostile_case *c)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, c->file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        expect(0, c->file, "the file is missing", EI_STATUS_INVALID_ARGUMENT, path);
        return;
    }
    static unsigned char buf[1 << 16];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ei_model *m;
    ei_status st = ei_model_load(buf, size, EI_LOAD_COPY, &m);
    expect(st == EI_STATUS_OK, c->file, "load", st, ei_model_errmsg(m));
    if (st) {
        ei_model_free(m);
        return;
    }
    ei_session *s;
    st = ei_session_create(m, &s);
    const char *msg = ei_session_errmsg(s);
    expect(st == c->create, c->file, "create status", st, msg);
    if (st == EI_STATUS_OK) {
        st = run_zeros(m, s);
        msg = ei_session_errmsg(s);
        expect(st == c->run, c->file, "run status", st, msg);
    }
    if (st != EI_STATUS_OK && c->msg) expect(strstr(msg, c->msg) != NULL, c->file, c->msg, st, msg);
    ei_session_free(s);
    ei_model_free(m);
}

static ei_session *open_session(const char *dir, const char *file, ei_model **m)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, file);
    static unsigned char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t size = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    ei_session *s = NULL;
    ei_status st = ei_model_load(buf, size, EI_LOAD_COPY, m);
    if (st == EI_STATUS_OK) st = ei_session_create(*m, &s);
    expect(st == EI_STATUS_OK, file, "load and create", st, s ? ei_session_errmsg(s) : ei_model_errmsg(*m));
    if (st == EI_STATUS_OK) return s;
    ei_session_free(s);
    ei_model_free(*m);
    return NULL;
}

/* ConvTranspose, stride 2, 3x3 ones, output_shape [6, 6] of the full 7x7: the ONNX reference (and
 * onnxruntime) pad begin = total - total / 2 = 1, so the result is the full one from (1, 1). */
static void convtranspose_output_shape(const char *dir)
{
    const char *file = "convtranspose-output-shape-derived-pads";
    ei_model *m;
    ei_session *s = open_session(dir, file, &m);
    if (!s) return;
    float x[9], full[7][7] = {{0}};
    for (int i = 0; i < 9; i++) x[i] = (float)i;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int ki = 0; ki < 3; ki++)
                for (int kj = 0; kj < 3; kj++) full[2 * i + ki][2 * j + kj] += x[3 * i + j];
    ei_tensor t = {EI_DTYPE_FLOAT32, 4, {1, 1, 3, 3}, x}, y;
    ei_status st = ei_session_set_input(s, 0, &t);
    if (st == EI_STATUS_OK) st = ei_session_run(s);
    if (st == EI_STATUS_OK) st = ei_session_output(s, 0, &y);
    expect(st == EI_STATUS_OK, file, "run", st, ei_session_errmsg(s));
    if (st == EI_STATUS_OK) {
        int bad = y.rank != 4 || y.dims[2] != 6 || y.dims[3] != 6;
        for (int r = 0; !bad && r < 6; r++)
            for (int c = 0; c < 6; c++) bad |= ((const float *)y.data)[r * 6 + c] != full[r + 1][c + 1];
        expect(!bad, file, "output is the full result from (1, 1)", st, "");
    }
    ei_session_free(s);
    ei_model_free(m);
}

/* Creates a session of `file` with `limits` and runs it on zeros; returns the status of the first failing step. */
static ei_status with_limits(const char *dir, const char *file, const ei_limits *limits, char *msg, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, file);
    static unsigned char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t size = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    ei_model *m;
    ei_session *s = NULL;
    ei_status st = ei_model_load(buf, size, EI_LOAD_COPY, &m);
    ei_session_options o = {*limits, NULL};
    if (st == EI_STATUS_OK) st = ei_session_create_with(m, &o, &s);
    for (int round = 0; st == EI_STATUS_OK && round < 2; round++) st = run_zeros(m, s); /* a count per run */
    snprintf(msg, len, "%s", s ? ei_session_errmsg(s) : ei_model_errmsg(m));
    ei_session_free(s);
    ei_model_free(m);
    return st;
}

static void limits_tests(const char *dir)
{
    char msg[1024];
    ei_limits l;
    ei_limits_default(&l);
    expect(l.tensor_bytes == EI_MAX_TENSOR_BYTES && l.session_bytes == EI_DEFAULT_SESSION_BYTES &&
           l.loop_iterations == EI_DEFAULT_LOOP_ITERATIONS, "limits", "defaults", 0, "");
    const char *loops = "loop-nest-iteration-budget", *conv = "convtranspose-output-shape-derived-pads";
    l.loop_iterations = 1000;
    ei_status st = with_limits(dir, loops, &l, msg, sizeof msg);
    expect(st == EI_STATUS_INVALID_ARGUMENT && strstr(msg, "more than 1000 loop iterations"), loops,
           "nested loops stop at loop_iterations", st, msg);
    l.loop_iterations = 10100;
    st = with_limits(dir, loops, &l, msg, sizeof msg);
    expect(st == EI_STATUS_OK, loops, "10,100 body runs fit loop_iterations = 10,100, in every run", st, msg);
    ei_limits_default(&l);
    l.session_bytes = 200;
    st = with_limits(dir, conv, &l, msg, sizeof msg);
    expect(st == EI_STATUS_OUT_OF_MEMORY && strstr(msg, "budget of 200 bytes"), conv, "session_bytes", st, msg);
    ei_limits_default(&l);
    l.tensor_bytes = 100;
    st = with_limits(dir, conv, &l, msg, sizeof msg);
    expect(st == EI_STATUS_INVALID_SHAPE && strstr(msg, "at most 100 bytes per tensor"), conv, "tensor_bytes", st,
           msg);
    for (int v = 0; v >= -1; v--) { /* opset 0 and -1: the load fails and says why */
        char path[1024], name[64];
        snprintf(name, sizeof name, "opset-%d-import", v);
        snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
        static unsigned char buf[4096];
        FILE *f = fopen(path, "rb");
        size_t size = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f) fclose(f);
        ei_model *m;
        st = ei_model_load(buf, size, EI_LOAD_COPY, &m);
        char want[64];
        snprintf(want, sizeof want, "imports opset %d of domain 'ai.onnx'", v);
        expect(st == EI_STATUS_INVALID_MODEL && strstr(ei_model_errmsg(m), want), name, want, st, ei_model_errmsg(m));
        ei_model_free(m);
    }
    l.tensor_bytes = 0;
    st = with_limits(dir, conv, &l, msg, sizeof msg);
    expect(st == EI_STATUS_INVALID_ARGUMENT && strstr(msg, "must be > 0"), conv, "a limit of 0", st, msg);
}

/* A float16 output declared by the model comes back as float16 (1.0 and 2.0 as half bits). */
static void float16_outputs(const char *dir)
{
    const char *files[] = {"float16-initializer-output", "float16-constant-output"};
    for (int i = 0; i < 2; i++) {
        ei_model *m;
        ei_session *s = open_session(dir, files[i], &m);
        if (!s) continue;
        ei_tensor y;
        ei_status st = ei_session_run(s);
        if (st == EI_STATUS_OK) st = ei_session_output(s, 0, &y);
        expect(st == EI_STATUS_OK, files[i], "run", st, ei_session_errmsg(s));
        if (st == EI_STATUS_OK) {
            const uint16_t *h = y.data;
            expect(y.dtype == EI_DTYPE_FLOAT16 && h[0] == 0x3c00 && h[1] == 0x4000, files[i], "float16 1.0, 2.0", st,
                   ei_dtype_name(y.dtype));
        }
        ei_session_free(s);
        ei_model_free(m);
    }
}

/* A run in slices (ei_session_run_step) pauses between the outer loop's iterations of a 100 x 100 nest
 * and gives the result of a whole run; a cancelled run leaves the session ready for the next. */
static void run_in_steps(const char *dir)
{
    const char *file = "loop-nest-iteration-budget";
    ei_model *m;
    ei_session *s = open_session(dir, file, &m);
    if (!s) return;
    float v = 7;
    ei_tensor x = {EI_DTYPE_FLOAT32, 1, {1}, &v}, y;
    ei_status st = ei_session_set_input(s, 0, &x);
    int pending = 0;
    while (st == EI_STATUS_OK && (st = ei_session_run_step(s, 1)) == EI_STATUS_PENDING) {
        pending++;
        st = EI_STATUS_OK;
    }
    if (st == EI_STATUS_OK) st = ei_session_output(s, 0, &y);
    expect(st == EI_STATUS_OK && *(float *)y.data == 7, file, "a run in slices gives 7", st, ei_session_errmsg(s));
    char slices[32];
    snprintf(slices, sizeof slices, "%d slices", pending + 1);
    expect(pending == 99, file, "slices of one node: one per iteration of the outer loop", st, slices);
    for (int k = 0; k < 30 && st == EI_STATUS_OK; k++) st = ei_session_run_step(s, 3);
    expect(st == EI_STATUS_PENDING, file, "30 slices of 3 leave the run under way", st, ei_session_errmsg(s));
    expect(ei_session_output(s, 0, &y) == EI_STATUS_INVALID_STATE, file, "no output mid-run", st, "");
    ei_session_run_cancel(s);
    v = 9;
    st = ei_session_run(s);
    if (st == EI_STATUS_OK) st = ei_session_output(s, 0, &y);
    expect(st == EI_STATUS_OK && *(float *)y.data == 9, file, "a run after a cancelled one gives 9", st,
           ei_session_errmsg(s));
    st = ei_session_run_step(s, 0);
    expect(st == EI_STATUS_PENDING, file, "a new run in slices (a budget of 0 runs one node)", st, ei_session_errmsg(s));
    /* freeing a session paused mid-loop frees the loop's progress (ASan checks) */
    ei_session_free(s);
    ei_model_free(m);
}

int hostile_tests(const char *dir)
{
    run_in_steps(dir);
    float16_outputs(dir);
    limits_tests(dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(dir, &cases[i]);
    convtranspose_output_shape(dir);
    printf("hostile models: %zu cases, %d failures\n", sizeof cases / sizeof cases[0], failures);
    return failures;
}
