/*
 * Kernels: flat-pointer loops that know nothing about graphs or ONNX. Each
 * SIMD kernel has a scalar twin with the same signature, and tests compare
 * the two. Families declare their kernels in their own headers next to this
 * one (f32_gemm.h, ...); this file only holds what they share.
 */
#ifndef EI_KERNELS_H
#define EI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#endif
