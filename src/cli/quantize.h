/*
 * edgeinfer quantize: an 8-bit QDQ copy of an ONNX model, written at the protobuf wire level from
 * the original bytes (every field the tool does not change is copied as it was).
 */
#ifndef EI_CLI_QUANTIZE_H
#define EI_CLI_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "edgeinfer.h"

/*
 * Quantizes the weights of Conv, Gemm and MatMul (float32 initializers read by that node only) to
 * int8, symmetric, per output channel, behind DequantizeLinear. With calibration samples (values
 * for the model's single input), every float32 activation also gets QuantizeLinear ->
 * DequantizeLinear (uint8, asymmetric, per tensor, from the [min, max] seen over the samples, widened
 * to include 0), and biases of quantized Conv/Gemm become int32 with scale x_scale * w_scale: the
 * static QDQ form onnxruntime's quantizer writes, which edgeinfer's fuse-qdq pass runs in int8.
 * With `dynamic` (and no samples), the form of onnxruntime's quantize_dynamic instead: each Gemm
 * (without transA, alpha, beta) and MatMul by such a weight becomes DynamicQuantizeLinear of its
 * input (uint8, per tensor, at run time), MatMulInteger by the int8 weight (symmetric, per column),
 * Cast to float32, Mul by x_scale * w_scale, and an Add of a Gemm's C; the rest stays float32.
 * *out (malloc'd, *out_len bytes) gets the model; on failure a message goes to err and -1 returns.
 * *n_weights and *n_acts get how many weights and activations were quantized.
 */
int quantize_model(const uint8_t *bytes, size_t size, const ei_tensor *samples, int n_samples, int dynamic,
                   uint8_t **out, size_t *out_len, int *n_weights, int *n_acts, char *err, size_t errlen);

/*
 * --weights int4: every MatMul whose second input is a float32 [K, N] initializer read by that node
 * only becomes a com.microsoft MatMulNBits node (bits 4, block_size `block`, 16 to 256): the
 * weight transposed into [N, k_blocks, block / 2] bytes, asymmetric per block with packed zero
 * points, as onnxruntime's MatMul4BitsQuantizer writes by default. Other nodes are unchanged; the
 * model gets the com.microsoft opset import if it has none. *n_weights: MatMuls converted.
 */
int quantize_model_int4(const uint8_t *bytes, size_t size, int64_t block, uint8_t **out, size_t *out_len, int *n_weights,
                        char *err, size_t errlen);

#endif
