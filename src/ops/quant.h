/*
 * Loading and storing the elements of quantized tensors, shared by the quantized op files
 * (quant.c: the ONNX ops; qlinear.c: the com.microsoft elementwise and pooling ones).
 */
#ifndef EI_QUANT_H
#define EI_QUANT_H

#include "op.h"

/* Element i of a uint8, int8 or int32 buffer. */
static inline int32_t qload(const void *p, int32_t dt, int64_t i)
{
    switch (dt) {
    case EI_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case EI_DTYPE_INT8: return ((const int8_t *)p)[i];
    default: return ((const int32_t *)p)[i];
    }
}

/* Element i of an optional zero point (absent means 0). */
static inline int32_t zp_at(const ei_tensor *zp, int64_t i)
{
    return zp ? qload(zp->data, zp->dtype, i) : 0;
}

/* Stores round_half_even(v) + zp saturated to dt (uint8 or int8). NaN has
 * no quantized value; it becomes the zero point, the code of 0.0. */
static inline void qstore(void *p, int32_t dt, int64_t i, float v, int32_t zp)
{
    double lo = dt == EI_DTYPE_UINT8 ? 0 : -128, hi = dt == EI_DTYPE_UINT8 ? 255 : 127;
    double r = isnan(v) ? zp : nearbyint((double)v) + zp;
    if (r < lo) r = lo;
    if (r > hi) r = hi;
    if (dt == EI_DTYPE_UINT8) ((uint8_t *)p)[i] = (uint8_t)r;
    else ((int8_t *)p)[i] = (int8_t)r;
}

#endif
