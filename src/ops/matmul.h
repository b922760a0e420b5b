/*
 * numpy matmul shapes, shared by MatMul and the integer matmuls (MatMulInteger,
 * QLinearMatMul): 1-D operands are promoted (and the added dim dropped from
 * the output), leading batch dims broadcast.
 */
#ifndef EI_MATMUL_H
#define EI_MATMUL_H

#include "op.h"

typedef struct mm_shape {
    int64_t M, N, K;
    int batch_rank;
    int64_t batch[EI_MAX_DIMS]; /* broadcast batch dims of the output */
    int64_t a_bs[EI_MAX_DIMS];  /* per batch dim: A's matrix stride in elements, 0 when broadcast */
    int64_t b_bs[EI_MAX_DIMS];
    int64_t nbatch;             /* prod(batch) */
    int64_t b_mats;             /* distinct B matrices (B's own batch count) */
    bool fold;                  /* B is one matrix: A's batches can fold into M */
    int out_rank;
    int64_t out_dims[EI_MAX_DIMS];
} mm_shape;

ei_status mm_shape_plan(op_ctx *ctx, const ei_tensor *a, const ei_tensor *b, mm_shape *p);

#endif
