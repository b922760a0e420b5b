/*
 * Unit tests of the core: the memory planner's placement invariant, the
 * loader against truncated and corrupted bytes, and the public API's error
 * paths (each must fail with a message and leave the handle usable).
 *
 * Usage: unit_tests NODE_SUITE_DIR   (the generated ONNX node test cases)
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinfer.h"
#include "graph/graph.h"
#include "ops/op.h"

static int passed, failed;

int hostile_tests(const char *dir); /* test_hostile.c */

#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
        }                                                                  \
    } while (0)

static const char *suite;

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static uint8_t *read_case(const char *name, const char *file, size_t *size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", suite, name, file);
    uint8_t *b = read_file(path, size);
    if (!b) {
        printf("missing test data %s (generate the node suite first)\n", path);
        exit(1);
    }
    return b;
}

/* ---- planner ---- */

static void test_planner(void)
{
    srand(1);
    for (int round = 0; round < 200; round++) {
        int n = 1 + rand() % 40;
        plan_buf b[40];
        for (int i = 0; i < n; i++) {
            int first = rand() % 30, len = rand() % 8;
            b[i] = (plan_buf){(size_t)(1 + rand() % 1000) * 16, first, first + len, 0};
        }
        size_t total = plan_place(b, n);
        size_t peak = 0, sum_all = 0;
        for (int step = 0; step < 40; step++) {
            size_t live = 0;
            for (int i = 0; i < n; i++)
                if (b[i].first <= step && step <= b[i].last) live += b[i].size;
            if (live > peak) peak = live;
        }
        for (int i = 0; i < n; i++) sum_all += b[i].size;
        int overlaps = 0;
        for (int i = 0; i < n; i++) {
            if (b[i].offset + b[i].size > total) overlaps++;
            for (int j = i + 1; j < n; j++) {
                bool time = b[i].first <= b[j].last && b[j].first <= b[i].last;
                bool mem = b[i].offset < b[j].offset + b[j].size && b[j].offset < b[i].offset + b[i].size;
                if (time && mem) overlaps++;
            }
        }
        EXPECT(overlaps == 0, "planner round %d: %d overlapping live buffers", round, overlaps);
        EXPECT(total >= peak && total <= sum_all, "planner round %d: total %zu outside [%zu, %zu]", round, total,
               peak, sum_all);
    }
}

/* ---- loader robustness ---- */

static void test_truncated(const char *name)
{
    size_t size;
    uint8_t *bytes = read_case(name, "model.onnx", &size);
    int ok_prefixes = 0;
    for (size_t n = 0; n < size; n++) {
        ei_model *m = NULL;
        /* BORROW of an exact-size heap copy: ASan sees any read past the prefix. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, bytes, n);
        ei_status st = ei_model_load(copy, n, EI_LOAD_BORROW, &m);
        if (st == EI_STATUS_OK) {
            ok_prefixes++;
            ei_session *s = NULL;
            ei_session_create(m, &s);
            ei_session_free(s);
        } else {
            EXPECT(m && ei_model_errmsg(m)[0], "%s prefix %zu: failure without a message", name, n);
        }
        ei_model_free(m);
        free(copy);
    }
    /* A prefix may parse (protobuf has no length header) but most must fail. */
    EXPECT(ok_prefixes < (int)size / 2, "%s: %d of %zu prefixes loaded", name, ok_prefixes, size);
    free(bytes);
}

static void test_corrupted(const char *name)
{
    size_t size;
    uint8_t *bytes = read_case(name, "model.onnx", &size);
    srand(7);
    for (int round = 0; round < 2000; round++) {
        uint8_t *copy = malloc(size);
        memcpy(copy, bytes, size);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++) copy[rand() % size] = (uint8_t)rand();
        ei_model *m = NULL;
        if (ei_model_load(copy, size, EI_LOAD_BORROW, &m) == EI_STATUS_OK) {
            ei_session *s = NULL;
            if (ei_session_create(m, &s) == EI_STATUS_OK) {
                /* Bind zeros of the declared shapes when they are small, and run. */
                ei_tensor in[8];
                void *data[8] = {0};
                int ni = ei_model_io_count(m, 0);
                bool bound = ni <= 8;
                for (int i = 0; bound && i < ni; i++) {
                    ei_tensor *t = &in[i];
                    memset(t, 0, sizeof *t);
                    t->dtype = ei_model_io_dtype(m, 0, i);
                    t->rank = ei_model_io_rank(m, 0, i);
                    if (t->rank < 0 || ei_dtype_size(t->dtype) == 0) { bound = false; break; }
                    for (int d = 0; d < t->rank; d++) {
                        t->dims[d] = ei_model_io_dim(m, 0, i, d);
                        if (t->dims[d] < 0) t->dims[d] = 1;
                    }
                    int64_t n = ei_tensor_numel(t);
                    if (n < 0 || n > (1 << 20)) { bound = false; break; }
                    t->data = data[i] = calloc((size_t)n + 1, ei_dtype_size(t->dtype));
                    if (ei_session_set_input(s, i, t) != EI_STATUS_OK) bound = false;
                }
                if (bound) ei_session_run(s);
                for (int i = 0; i < 8; i++) free(data[i]);
            }
            ei_session_free(s);
        } else {
            EXPECT(m && ei_model_errmsg(m)[0], "%s corrupted round %d: failure without a message", name, round);
        }
        ei_model_free(m);
        free(copy);
    }
    free(bytes);
}

/* ---- API ---- */

static void test_api_errors(void)
{
    size_t size;
    uint8_t *bytes = read_case("test_add", "model.onnx", &size);
    ei_model *m;
    EXPECT(ei_model_load(bytes, size, EI_LOAD_COPY, &m) == EI_STATUS_OK, "load test_add: %s", ei_model_errmsg(m));
    free(bytes);
    EXPECT(ei_model_io_count(m, 0) == 2 && ei_model_io_count(m, 1) == 1, "test_add has 2 inputs, 1 output");
    EXPECT(ei_model_io_index(m, 0, "y") == 1 && ei_model_io_index(m, 0, "nope") == -1, "io_index");
    EXPECT(ei_model_io_rank(m, 0, 0) == 3 && ei_model_io_dim(m, 0, 0, 2) == 5, "declared dims of x");

    ei_session *s;
    EXPECT(ei_session_create(m, &s) == EI_STATUS_OK, "create: %s", ei_session_errmsg(s));
    EXPECT(ei_session_arena_bytes(s) > 0, "fixed dims are planned at create");
    float x[60], y[60];
    for (int i = 0; i < 60; i++) x[i] = (float)i, y[i] = 0.5f;
    ei_tensor tx = {EI_DTYPE_FLOAT32, 3, {3, 4, 5}, x}, ty = {EI_DTYPE_FLOAT32, 3, {3, 4, 5}, y};

    EXPECT(ei_session_run(s) == EI_STATUS_INVALID_STATE && strstr(ei_session_errmsg(s), "'x' was not set"),
           "run without inputs: %s", ei_session_errmsg(s));
    ei_tensor out;
    EXPECT(ei_session_output(s, 0, &out) == EI_STATUS_INVALID_STATE, "output before a run");
    EXPECT(ei_session_set_input(s, 5, &tx) == EI_STATUS_INVALID_ARGUMENT, "input index out of range");
    ei_tensor bad = tx;
    bad.dims[1] = 7;
    EXPECT(ei_session_set_input(s, 0, &bad) == EI_STATUS_INVALID_SHAPE &&
               strstr(ei_session_errmsg(s), "expected float32 [3,4,5], got float32 [3,7,5]"),
           "wrong shape: %s", ei_session_errmsg(s));
    bad = tx;
    bad.dtype = EI_DTYPE_INT32;
    EXPECT(ei_session_set_input(s, 0, &bad) == EI_STATUS_INVALID_SHAPE && strstr(ei_session_errmsg(s), "int32"),
           "wrong dtype: %s", ei_session_errmsg(s));
    bad = tx;
    bad.dims[0] = INT64_MAX / 2;
    EXPECT(ei_session_set_input(s, 0, &bad) != EI_STATUS_OK, "absurd dims");
    bad = tx;
    bad.rank = 99;
    EXPECT(ei_session_set_input(s, 0, &bad) == EI_STATUS_INVALID_ARGUMENT, "absurd rank");

    /* Still usable after all of that. */
    EXPECT(ei_session_set_input(s, 0, &tx) == EI_STATUS_OK && ei_session_set_input(s, 1, &ty) == EI_STATUS_OK,
           "set inputs");
    ei_status st = ei_session_run(s);
    EXPECT(st == EI_STATUS_OK, "run: %s", ei_session_errmsg(s));
    if (st == EI_STATUS_OK && ei_session_output(s, 0, &out) == EI_STATUS_OK) {
        EXPECT(out.rank == 3 && out.dims[2] == 5 && ((float *)out.data)[59] == 59.5f, "add result");
    }
    ei_session_free(s);
    ei_model_free(m);

    /* Empty and garbage bytes. */
    EXPECT(ei_model_load("", 0, EI_LOAD_COPY, &m) == EI_STATUS_INVALID_ARGUMENT && strstr(ei_model_errmsg(m), "empty"),
           "empty model");
    ei_model_free(m);
    const char junk[] = "this is not an onnx file at all";
    EXPECT(ei_model_load(junk, sizeof junk, EI_LOAD_COPY, &m) == EI_STATUS_INVALID_MODEL, "junk: %s",
           ei_model_errmsg(m));
    ei_model_free(m);
    EXPECT(ei_session_create(NULL, &s) == EI_STATUS_INVALID_ARGUMENT, "session of no model");
    ei_session_free(s);

    /* TAKE hands the buffer over even on failure (ASan would report a leak otherwise). */
    char *owned = malloc(8);
    memcpy(owned, "garbage!", 8);
    EXPECT(ei_model_load(owned, 8, EI_LOAD_TAKE, &m) != EI_STATUS_OK, "take garbage");
    ei_model_free(m);
}

/* A model whose shapes change between runs is planned again; outputs follow. */
static void test_replan(void)
{
    size_t size;
    uint8_t *bytes = read_case("test_relu", "model.onnx", &size);
    ei_model *m;
    ei_status st = ei_model_load(bytes, size, EI_LOAD_COPY, &m);
    free(bytes);
    EXPECT(st == EI_STATUS_OK, "load relu");
    if (st) {
        ei_model_free(m);
        return;
    }
    ei_session *s;
    EXPECT(ei_session_create(m, &s) == EI_STATUS_OK, "create relu: %s", ei_session_errmsg(s));
    float x[60];
    for (int i = 0; i < 60; i++) x[i] = (float)(i - 30);
    for (int round = 0; round < 3; round++) {
        ei_tensor tx = {EI_DTYPE_FLOAT32, 3, {3, 4, 5}, x};
        EXPECT(ei_session_set_input(s, 0, &tx) == EI_STATUS_OK, "set relu input: %s", ei_session_errmsg(s));
        EXPECT(ei_session_run(s) == EI_STATUS_OK, "run relu: %s", ei_session_errmsg(s));
        ei_tensor out;
        if (ei_session_output(s, 0, &out) == EI_STATUS_OK)
            EXPECT(((float *)out.data)[0] == 0 && ((float *)out.data)[59] == 29, "relu values");
    }
    ei_session_free(s);
    ei_model_free(m);
}

/* ---- the message formatter against the C library's snprintf ---- */

static void expect_format(const char *got, const char *want)
{
    EXPECT(!strcmp(got, want), "ei_format gave \"%s\", snprintf \"%s\"", got, want);
}

static void test_format(void)
{
    char got[128], want[128];
    const double g[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, 0.1, 0.2, 0.3, 1e-4, 1.5e-5, 9.5e-5, 123456.0,
                        1234567.0, 999999.0, 9999995.0, 999999.5, 0.000123456, 1e-300, 5e-324, 1.7976931348623157e308,
                        3.14159265358979, -2.718281828, 100.0, 1e6, 1e15, 1e16, 1e100, 65504.0, 0.000099999999,
                        1.0 / 3.0, 2.0 / 3.0, 123.456, 700.0, 16000.0, 1e-5, INFINITY, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        ei_format(got, sizeof got, "%g", g[i]);
        snprintf(want, sizeof want, "%g", g[i]);
        expect_format(got, want);
    }
    /* every float32 that a message prints passes through double: a spread of them */
    for (uint32_t bits = 0x00800000u; bits < 0x7f800000u; bits += 0x00f0f0f1u) {
        float f;
        memcpy(&f, &bits, sizeof f);
        ei_format(got, sizeof got, "%g|%g", (double)f, -(double)f);
        snprintf(want, sizeof want, "%g|%g", (double)f, -(double)f);
        expect_format(got, want);
    }
    ei_format(got, sizeof got, "%d %d %lld %lld %llu %zu %u %c%% %s|%.3s|%.*s|%.10s", INT_MIN, 42, LLONG_MIN,
              LLONG_MAX, ULLONG_MAX, (size_t)7, 4000000000u, 'x', "str", "abcdef", 2, "xyz", "ab");
    snprintf(want, sizeof want, "%d %d %lld %lld %llu %zu %u %c%% %s|%.3s|%.*s|%.10s", INT_MIN, 42, LLONG_MIN,
             LLONG_MAX, ULLONG_MAX, (size_t)7, 4000000000u, 'x', "str", "abcdef", 2, "xyz", "ab");
    expect_format(got, want);
    /* truncation: at most cap - 1 characters and a terminator, and the count written */
    size_t n = ei_format(got, 6, "%s=%lld", "long name", 12345LL);
    EXPECT(n == 5 && !strcmp(got, "long "), "truncated to \"%s\" (%zu)", got, n);
    n = ei_format(got, 1, "abc");
    EXPECT(n == 0 && got[0] == 0, "cap 1 gave \"%s\"", got);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: unit_tests NODE_SUITE_DIR\n");
        return 2;
    }
    suite = argv[1];
    char dup[128];
    int dups = op_registry_duplicates(dup, sizeof dup);
    EXPECT(dups == 0, "%d op rows registered twice, first: %s", dups, dup);
    test_planner();
    test_format();
    test_api_errors();
    test_replan();
    const char *models[] = {"test_add", "test_conv_with_strides_padding", "test_reshape_reordered_all_dims",
                            "test_nonzero_example", "test_constant", "test_gemm_all_attributes"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        test_truncated(models[i]);
        test_corrupted(models[i]);
    }
    failed += hostile_tests("tests/fuzz/regressions");
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
