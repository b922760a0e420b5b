/*
 * libFuzzer target: arbitrary bytes as a model. Loading, creating a session
 * and running it on zero inputs of the declared (small) shapes must never
 * crash, read out of bounds or leak; failures must carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ei_model *m = NULL;
    if (ei_model_load(data, size, EI_LOAD_COPY, &m) != EI_STATUS_OK) {
        if (m && !ei_model_errmsg(m)[0]) abort(); /* a failure must say why */
        ei_model_free(m);
        return 0;
    }
    ei_session *s = NULL;
    /* Small limits, as fuzz_run sets them: a legal model asking for a 30 MB convolution over
     * padding takes longer than the fuzzer's timeout under the sanitizers and says nothing new. */
    ei_session_options limits = {{(int64_t)1 << 24, (int64_t)1 << 26, (int64_t)1 << 16}, NULL};
    if (ei_session_create_with(m, &limits, &s) == EI_STATUS_OK) {
        void *bufs[4] = {0};
        int ni = ei_model_io_count(m, 0);
        int ok = ni <= 4;
        for (int i = 0; ok && i < ni; i++) {
            ei_tensor t;
            memset(&t, 0, sizeof t);
            t.dtype = ei_model_io_dtype(m, 0, i);
            t.rank = ei_model_io_rank(m, 0, i);
            if (t.rank < 0 || ei_dtype_size(t.dtype) == 0) { ok = 0; break; }
            for (int d = 0; d < t.rank; d++) {
                int64_t v = ei_model_io_dim(m, 0, i, d);
                t.dims[d] = v < 0 ? 1 : v;
            }
            int64_t n = ei_tensor_numel(&t);
            if (n < 0 || n > 4096) { ok = 0; break; }
            t.data = bufs[i] = calloc((size_t)n + 1, ei_dtype_size(t.dtype));
            ok = ei_session_set_input(s, i, &t) == EI_STATUS_OK;
        }
        if (ok && ei_session_run(s) != EI_STATUS_OK && !ei_session_errmsg(s)[0]) abort();
        for (int i = 0; i < 4; i++) free(bufs[i]);
    } else if (s && !ei_session_errmsg(s)[0]) {
        abort();
    }
    ei_session_free(s);
    ei_model_free(m);
    return 0;
}
