/* Window geometry shared by convolutions and pools (spatial.h). */
#include "spatial.h"

ei_status spatial_ints(op_ctx *ctx, const char *name, int count, int64_t lo, int64_t def, int64_t *v,
                       bool *present)
{
    const int64_t *a;
    int n = attr_ints(ctx->n, name, &a);
    if (present) *present = n >= 0;
    if (n < 0) {
        for (int i = 0; i < count; i++) v[i] = def;
        return EI_STATUS_OK;
    }
    CHECK(ctx, n == count, "attribute '%s' has %d values, expected %d", name, n, count);
    for (int i = 0; i < n; i++) {
        CHECK(ctx, a[i] >= lo && a[i] < SPATIAL_LIMIT, "attribute '%s'[%d] = %lld is out of range (expected >= %lld)",
              name, i, (long long)a[i], (long long)lo);
        v[i] = a[i];
    }
    return EI_STATUS_OK;
}

ei_status spatial_auto_pad(op_ctx *ctx, auto_pad_kind *k)
{
    const char *s = attr_str(ctx->n, "auto_pad", "NOTSET");
    if (!strcmp(s, "NOTSET") || !*s) *k = PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER")) *k = PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *k = PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID")) *k = PAD_VALID;
    else return op_fail(ctx, EI_STATUS_INVALID_MODEL, "attribute 'auto_pad' is '%s', expected NOTSET, SAME_UPPER, "
                        "SAME_LOWER or VALID", s);
    return EI_STATUS_OK;
}

void spatial_same_pad(auto_pad_kind k, int64_t in, int64_t stride, int64_t extent, int64_t *out, int64_t *begin,
                      int64_t *end)
{
    int64_t o = (in + stride - 1) / stride;
    int64_t total = (o - 1) * stride + extent - in;
    if (total < 0) total = 0;
    *out = o;
    *begin = k == PAD_SAME_UPPER ? total / 2 : total - total / 2;
    *end = total - *begin;
}
