/*
 * float32 cell updates of the recurrent ops (RNN, GRU, LSTM): what happens to
 * one batch row of gate pre-activations once the input and recurrent matrix
 * products have been summed into it.
 *
 * ONNX lets a model pick each gate's activation from a list, so a cell takes
 * its activations as unary kernels (f32_vunary.h) with their parameters. The
 * loops here are scalar; the activations run whatever variant the caller
 * chose, which is why these functions carry no variant suffix.
 *
 * Clipping bounds a gate's pre-activation to [-clip, clip] before its
 * activation (never the cell state); INFINITY means no clipping.
 */
#ifndef EI_KERNELS_F32_RNN_H
#define EI_KERNELS_F32_RNN_H

#include "f32_vunary.h"

/* One gate activation: a unary kernel and the alpha / beta it reads. */
typedef struct f32_rnn_act {
    f32_vunary_fn fn;
    f32_vunary_params p;
} f32_rnn_act;

/* The two activations recurrent ops accept that are not ONNX unary ops. */
void f32_rnn_affine_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p);     /* alpha*x + beta */
void f32_rnn_scaledtanh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p); /* alpha*tanh(beta*x) */

/* y[n] = act(clip(x)); x may be y. The RNN cell, and the GRU's z and r gates. */
void f32_rnn_gate(const float *x, float *y, size_t n, float clip, const f32_rnn_act *act);

/*
 * LSTM, one batch row of n hidden units.
 *   g [4n]  pre-activations of the i, o, f, c gates, consumed (overwritten)
 *   p [3n]  peepholes for i, o, f, or NULL
 *   c [n]   cell state, updated in place
 *   h [n]   new hidden state (may not alias g or c)
 *   act     f (the i, o, f gates), g (cell input), h (cell output)
 * With input_forget the forget gate is coupled to the input gate: f = 1 - i.
 */
void f32_lstm_cell(size_t n, float *g, const float *p, float *c, float *h, int input_forget, float clip,
                   const f32_rnn_act act[3]);

/* GRU with the reset gate applied after the recurrent product (linear_before_reset):
 * gh[n] += r * (hr + rbh), where hr = h_prev * Rh^T; rbh may be NULL. */
void f32_gru_reset_after(size_t n, float *gh, const float *r, const float *hr, const float *rbh);

/* y[n] = a * b (the GRU's r * h_prev before its recurrent product). */
void f32_rnn_mul(size_t n, const float *a, const float *b, float *y);

/* GRU output: h = (1 - z) * g(clip(gh)) + z * h, h updated in place, gh consumed. */
void f32_gru_output(size_t n, float *gh, const float *z, float *h, float clip, const f32_rnn_act *g);

#endif
