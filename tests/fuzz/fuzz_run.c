/*
 * libFuzzer target: a control block, then a model. The model is loaded and a
 * session created; then it runs twice on inputs whose shapes and data come
 * from the control block: any dim may be the declared one, 0, small, or huge
 * (2^31, 2^40, 2^62, INT64_MAX), and the data is the block's pattern bytes
 * repeated (NaN, infinities, huge and negative integers all occur). Nothing
 * may crash, read out of bounds, hit undefined behaviour, leak or hang; every
 * failure must carry a message, and the session must stay usable.
 *
 * Control block (CTL bytes): [0, 32) one byte per (input, dim) for 4 inputs x
 * 8 dims: low nibble = the dim of the first run, high nibble = the second;
 * [32, 64) the data pattern. The second run goes in slices (ei_session_run_step)
 * of 1 to 8 nodes, byte 32's low bits choosing. Seeds: CTL zero bytes + a
 * node-suite model.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinfer.h"

#define CTL 64
#define MAX_IN 4
#define MAX_DATA (1 << 20)

/* Nibble 0 keeps the declared dim (1 when it is symbolic). */
static int64_t pick_dim(unsigned nib, int64_t declared)
{
    static const int64_t dims[16] = {-1, 0, 1, 2, 3, 4, 5, 7, 8, 16, 255, (int64_t)1 << 20, (int64_t)1 << 31,
                                     (int64_t)1 << 40, (int64_t)1 << 62, INT64_MAX};
    if (nib == 0) return declared < 0 ? 1 : declared;
    return dims[nib];
}

static ei_status run_in_slices(ei_session *s, int budget)
{
    ei_status st;
    while ((st = ei_session_run_step(s, budget)) == EI_STATUS_PENDING) continue;
    return st;
}

static void run_once(const ei_model *m, ei_session *s, const uint8_t *ctl, int shift)
{
    void *bufs[MAX_IN] = {0};
    int ni = ei_model_io_count(m, 0);
    int ok = ni <= MAX_IN;
    for (int i = 0; ok && i < ni; i++) {
        ei_tensor t;
        memset(&t, 0, sizeof t);
        t.dtype = ei_model_io_dtype(m, 0, i);
        t.rank = ei_model_io_rank(m, 0, i);
        if (t.rank < 0) t.rank = ctl[i] & 3;
        if (t.rank > 8) t.rank = 8;
        for (int d = 0; d < t.rank; d++)
            t.dims[d] = pick_dim((ctl[i * 8 + d] >> shift) & 15, ei_model_io_dim(m, 0, i, d));
        size_t es = ei_dtype_size(t.dtype);
        int64_t n = ei_tensor_numel(&t);
        if (es && n > 0 && n <= MAX_DATA / (int64_t)es) {
            uint8_t *p = bufs[i] = malloc((size_t)n * es);
            if (!p) abort();
            for (size_t k = 0; k < (size_t)n * es; k++) p[k] = ctl[32 + k % 32];
            t.data = p;
        } else if (n != 0) {
            t.data = NULL; /* too large to make here: binding must fail cleanly, or the dims were refused */
        }
        ei_status st = ei_session_set_input(s, i, &t);
        if (st != EI_STATUS_OK && !ei_session_errmsg(s)[0]) abort();
        ok = st == EI_STATUS_OK;
    }
    if (ok && (shift ? run_in_slices(s, (ctl[32] & 7) + 1) : ei_session_run(s)) == EI_STATUS_OK) {
        int no = ei_model_io_count(m, 1);
        for (int k = 0; k < no; k++) {
            ei_tensor y;
            if (ei_session_output(s, k, &y) != EI_STATUS_OK) abort();
            int64_t n = ei_tensor_numel(&y);
            size_t es = ei_dtype_size(y.dtype);
            if (n < 0 || !es) abort();
            /* every output byte must be readable (ASan checks the whole range) */
            volatile uint8_t sink = 0;
            if (n > 0) for (size_t b = 0; b < (size_t)n * es; b += 4096) sink ^= ((const uint8_t *)y.data)[b];
            if (n > 0) sink ^= ((const uint8_t *)y.data)[(size_t)n * es - 1];
            (void)sink;
        }
    } else if (ok && !ei_session_errmsg(s)[0]) {
        abort();
    }
    for (int i = 0; i < MAX_IN; i++) free(bufs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTL) return 0;
    const uint8_t *ctl = data;
    ei_model *m = NULL;
    if (ei_model_load(data + CTL, size - CTL, EI_LOAD_COPY, &m) != EI_STATUS_OK) {
        ei_model_free(m);
        return 0;
    }
    /* Small limits, as a page with little memory would set: the fuzzer explores shapes, not 2 GiB copies. */
    ei_session_options limits = {{(int64_t)1 << 24, (int64_t)1 << 26, (int64_t)1 << 16}, NULL};
    ei_session *s = NULL;
    if (ei_session_create_with(m, &limits, &s) == EI_STATUS_OK) {
        run_once(m, s, ctl, 0);
        run_once(m, s, ctl, 4);
    } else if (s && !ei_session_errmsg(s)[0]) {
        abort();
    }
    ei_session_free(s);
    ei_model_free(m);
    return 0;
}
