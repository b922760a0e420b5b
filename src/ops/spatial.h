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
#define SPATIAL_MAX_ND (EI_MAX_DIMS - 2)

typedef enum {
    WINDOW_CONV,      /* Conv, ConvInteger, QLinearConv: pads or auto_pad */
    WINDOW_POOL,      /* the pools: also ceil_mode, and pads smaller than the window */
    WINDOW_TRANSPOSE  /* ConvTranspose: also output_padding and output_shape */
} window_kind;

/* Where a window slides over the spatial dims of X [N, C, spatial...]. */
typedef struct window_geom {
    int nd;                             /* spatial dims */
    int64_t in[SPATIAL_MAX_ND];         /* X's spatial dims */
    int64_t out[SPATIAL_MAX_ND];        /* the output's spatial dims */
    int64_t kernel[SPATIAL_MAX_ND], stride[SPATIAL_MAX_ND], dilation[SPATIAL_MAX_ND];
    int64_t pad_begin[SPATIAL_MAX_ND];  /* ConvTranspose: may be negative (a crop) */
    int64_t pad_end[SPATIAL_MAX_ND];
    int64_t ksize, in_pix, out_pix;     /* prod(kernel), prod(in), prod(out), each checked */
} window_geom;

/*
 * The one window geometry of Conv, ConvTranspose, the pools, ConvInteger and
 * QLinearConv. Reads kernel_shape (from the weight W when given: its dims
 * [M, C, kernel...] are the kernel, and kernel_shape must agree; required
 * when W is NULL), strides, dilations, pads and auto_pad (ceil_mode for pools,
 * output_padding and output_shape for ConvTranspose), and computes every
 * spatial dim's output extent and padding. Every value is range checked
 * before any arithmetic and every product is bounded by EI_MAX_TENSOR_BYTES,
 * so callers may multiply extents freely.
 */
ei_status spatial_window(op_ctx *ctx, const ei_tensor *x, const ei_tensor *w, window_kind kind, window_geom *g);

/* SAME_UPPER / SAME_LOWER along one dim: the output is ceil(in / stride) and the padding
 * that takes is split evenly, the odd element at the end (upper) or the beginning (lower). */
void spatial_same_pad(auto_pad_kind k, int64_t in, int64_t stride, int64_t extent, int64_t *out, int64_t *begin,
                      int64_t *end);

#endif
