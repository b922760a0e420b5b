/*
 * What the com.microsoft op files share: input checks, rotary position embedding of one head
 * vector (RotaryEmbedding in contrib.c, GroupQueryAttention's do_rotary in attention.c) and the
 * checked sizing of scratch carved into float regions.
 */
#ifndef EI_CONTRIB_H
#define EI_CONTRIB_H

#include "op.h"

/* Rotates the first 2 * half values of a head vector x into y (y may be x) with the cos and sin
 * rows of its position: pairs (x[i], x[i + half]), or (x[2i], x[2i + 1]) when interleaved. */
void rope_head(size_t half, bool interleaved, const float *cos, const float *sin, const float *x, float *y);

/* Fails unless every present input in [from, to) is float32. */
ei_status check_f32(op_ctx *ctx, int from, int to);
/* Fails unless input i, when present, has exactly this shape. */
ei_status check_dims(op_ctx *ctx, int i, const char *name, int rank, const int64_t *want);

/* a * b * c for sizes, saturating at UINT64_MAX (then refused by scratch_floats). */
uint64_t size_mul3(int64_t a, int64_t b, int64_t c);
/* Sets ctx->scratch_bytes to `floats` floats, refusing more than the library places. */
ei_status scratch_floats(op_ctx *ctx, uint64_t floats);

#endif
