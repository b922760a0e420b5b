/*
 * Independent sessions on different threads (built with -fsanitize=thread by `make tsan`):
 * two threads each load models of the node suite, create sessions (planning, constant
 * folding), run them on the suite's inputs and free them, over and over, sharing nothing
 * but one thread pool of three threads (a run that finds it busy runs alone). With MODEL
 * (a convolution network), each thread also runs it on the pool, so that its nodes are
 * really split. ThreadSanitizer must report no race; outputs must match between threads.
 *
 * Usage: tsan_sessions NODE_SUITE_DIR [MODEL.onnx]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinfer.h"

static const char *suite, *model_path;
static ei_threadpool *pool;
static const char *cases[] = {"test_conv_with_strides_padding", "test_maxpool_2d_pads", "test_averagepool_2d_pads",
                              "test_softmax_axis_1", "test_gemm_all_attributes", "test_reshape_reordered_all_dims",
                              "test_loop11", "test_transpose_all_permutations_3", "test_top_k", "test_gather_0",
                              "test_einsum_batch_matmul", "test_convtranspose_pads", "test_nonzero_example"};
#define N_CASES (sizeof cases / sizeof cases[0])
#define ROUNDS 6

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* Input i of m as zeros of its declared dims (a symbolic dim becomes 1). */
static ei_status zeros(const ei_model *m, int i, ei_tensor *t)
{
    t->dtype = ei_model_io_dtype(m, 0, i);
    t->rank = ei_model_io_rank(m, 0, i);
    if (t->rank < 0 || t->rank > EI_MAX_DIMS) return EI_STATUS_UNSUPPORTED;
    for (int d = 0; d < t->rank; d++) {
        int64_t v = ei_model_io_dim(m, 0, i, d);
        t->dims[d] = v < 0 ? 1 : v;
    }
    t->data = calloc((size_t)ei_tensor_numel(t) + 1, ei_dtype_size((ei_dtype)t->dtype));
    return t->data ? EI_STATUS_OK : EI_STATUS_OUT_OF_MEMORY;
}

/* Runs one case (or MODEL when name is NULL, on zeros): returns a checksum of its outputs, or -1 on a failure. */
static double run_case(const char *name)
{
    char path[1024];
    size_t size;
    if (name) snprintf(path, sizeof path, "%s/%s/model.onnx", suite, name);
    else snprintf(path, sizeof path, "%s", model_path);
    unsigned char *bytes = read_file(path, &size);
    if (!bytes) return -1;
    ei_model *m;
    ei_session *s = NULL;
    double sum = -1;
    ei_status st = ei_model_load(bytes, size, EI_LOAD_TAKE, &m);
    ei_session_options so;
    ei_session_options_default(&so);
    so.threadpool = pool;
    if (st == EI_STATUS_OK) st = ei_session_create_with(m, &so, &s);
    ei_tensor in[8];
    int ni = st == EI_STATUS_OK ? ei_model_io_count(m, 0) : 0;
    for (int i = 0; i < ni && i < 8 && st == EI_STATUS_OK; i++) {
        if (name) {
            snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_%d.pb", suite, name, i);
            unsigned char *pb = read_file(path, &size);
            char err[128];
            st = pb ? ei_tensor_decode(pb, size, &in[i], NULL, 0, err, sizeof err) : EI_STATUS_INVALID_ARGUMENT;
            free(pb);
        } else {
            st = zeros(m, i, &in[i]);
        }
        if (st == EI_STATUS_OK) st = ei_session_set_input(s, i, &in[i]);
    }
    if (st == EI_STATUS_OK) st = ei_session_run(s);
    if (st == EI_STATUS_OK) {
        sum = 0;
        for (int k = 0; k < ei_model_io_count(m, 1); k++) {
            ei_tensor y;
            if (ei_session_output(s, k, &y) != EI_STATUS_OK) return -1;
            const unsigned char *p = y.data;
            size_t n = (size_t)ei_tensor_numel(&y) * ei_dtype_size(y.dtype);
            for (size_t b = 0; b < n; b++) sum = sum * 1.0000001 + p[b];
        }
    } else {
        fprintf(stderr, "%s: %s\n", name, s ? ei_session_errmsg(s) : ei_model_errmsg(m));
    }
    for (int i = 0; i < ni && i < 8; i++) ei_tensor_free_data(&in[i]);
    ei_session_free(s);
    ei_model_free(m);
    return sum;
}

typedef struct job {
    int offset;
    double sums[N_CASES], model_sum;
    int failures;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    for (int r = 0; r < ROUNDS; r++)
        for (size_t c = 0; c < N_CASES; c++) {
            size_t k = (c + (size_t)j->offset) % N_CASES; /* the threads start at different cases */
            double v = run_case(cases[k]);
            if (v < 0 || (r > 0 && v != j->sums[k])) j->failures++;
            j->sums[k] = v;
        }
    if (model_path) {
        j->model_sum = run_case(NULL);
        if (j->model_sum < 0) j->failures++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tsan_sessions NODE_SUITE_DIR\n");
        return 2;
    }
    suite = argv[1];
    model_path = argc > 2 ? argv[2] : NULL;
    if (ei_threadpool_create(3, &pool) != EI_STATUS_OK) return 2;
    job jobs[2] = {{.offset = 0}, {.offset = (int)N_CASES / 2}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    ei_threadpool_free(pool);
    int bad = jobs[0].failures + jobs[1].failures + (jobs[0].model_sum != jobs[1].model_sum);
    for (size_t c = 0; c < N_CASES; c++)
        if (jobs[0].sums[c] != jobs[1].sums[c]) {
            fprintf(stderr, "%s: the threads' outputs differ\n", cases[c]);
            bad++;
        }
    printf("tsan_sessions: 2 threads x %d rounds x %zu models, %d failures\n", ROUNDS, N_CASES, bad);
    return bad ? 1 : 0;
}
