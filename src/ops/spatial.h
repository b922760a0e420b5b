/*
 * Window geometry shared by the ops that slide a kernel over spatial dims
 * (Conv, ConvTranspose, the pools, QLinearConv, ConvInteger): reading the
 * per-dim attributes, auto_pad, and SAME padding.
 */
#ifndef EI_SPATIAL_H
#define EI_SPATIAL_H

#include "op.h"

/* Kernel, stride, dilation and pad values at or beyond this are absurd, not requests. */
#define SPATIAL_LIMIT ((int64_t)1 << 31)

typedef enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } auto_pad_kind;

/* Reads the INTS attribute `name`, which must have exactly `count` values in
 * [lo, SPATIAL_LIMIT); when absent, fills def. *present (if given) says which. */
ei_status spatial_ints(op_ctx *ctx, const char *name, int count, int64_t lo, int64_t def, int64_t *v,
                       bool *present);
ei_status spatial_auto_pad(op_ctx *ctx, auto_pad_kind *k);
/* SAME_UPPER / SAME_LOWER along one dim: the output is ceil(in / stride) and the padding
 * that takes is split evenly, the odd element at the end (upper) or the beginning (lower). */
void spatial_same_pad(auto_pad_kind k, int64_t in, int64_t stride, int64_t extent, int64_t *out, int64_t *begin,
                      int64_t *end);

#endif
