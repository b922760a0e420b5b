/*
 * The operator registry: every op family file exports one table, gathered
 * here. Lookup takes the row with the highest since_version that is not newer
 * than the model's opset for that domain (cONNXr's rule).
 */

#include "op.h"

#define FAMILIES(X) \
    X(elementwise) X(matmul) X(conv) X(pool) X(norm) X(reduce) X(layout) X(gather) X(generate) X(resize) \
    X(loss) X(misc) X(quant) X(vision) X(rnn) X(signal) X(control) X(text) X(training) \
    X(contrib) X(attention) X(nbits) X(qlinear)

#define DECLARE(f) extern const op_def f##_ops[]; extern const int f##_ops_count;
FAMILIES(DECLARE)
#undef DECLARE

typedef struct family {
    const op_def *ops;
    const int *count;
} family;

#define ROW(f) {f##_ops, &f##_ops_count},
static const family families[] = {FAMILIES(ROW)};
#undef ROW

static bool same_domain(const char *a, const char *b)
{
    if (!strcmp(a, "ai.onnx")) a = "";
    if (!strcmp(b, "ai.onnx")) b = "";
    return !strcmp(a, b);
}

const op_def *op_lookup(const char *op_type, const char *domain, int64_t opset)
{
    const op_def *best = NULL;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (int i = 0; i < *families[f].count; i++) {
            const op_def *d = &families[f].ops[i];
            if (!d->infer || !d->run || strcmp(d->op_type, op_type) || !same_domain(d->domain, domain) ||
                d->since > opset)
                continue;
            if (!best || d->since > best->since) best = d;
        }
    }
    return best;
}

int op_registry_duplicates(char *buf, size_t len)
{
    int dups = 0;
    size_t nf = sizeof families / sizeof families[0];
    if (len) buf[0] = 0;
    for (size_t f = 0; f < nf; f++)
        for (int i = 0; i < *families[f].count; i++) {
            const op_def *a = &families[f].ops[i];
            for (size_t g = f; g < nf; g++)
                for (int j = g == f ? i + 1 : 0; j < *families[g].count; j++) {
                    const op_def *b = &families[g].ops[j];
                    if (strcmp(a->op_type, b->op_type) || !same_domain(a->domain, b->domain) || a->since != b->since)
                        continue;
                    if (dups++ == 0 && len) ei_format(buf, len, "%s (since %d)", a->op_type, a->since);
                }
        }
    return dups;
}
