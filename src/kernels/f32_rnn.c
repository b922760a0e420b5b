/*
 * float32 cell updates of RNN, GRU and LSTM (see f32_rnn.h). The matrix
 * products happen before these run (kernels/f32_gemm.c); what is left is
 * elementwise work over one batch row, dominated by the activations.
 */
#include <math.h>

#include "f32_rnn.h"

void f32_rnn_affine_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p)
{
    float a = p->alpha, b = p->beta;
    for (size_t i = 0; i < n; i++) y[i] = a * x[i] + b;
}

void f32_rnn_scaledtanh_scalar(const float *x, float *y, size_t n, const f32_vunary_params *p)
{
    float a = p->alpha, b = p->beta;
    for (size_t i = 0; i < n; i++) y[i] = a * tanhf(b * x[i]);
}

/* NaN passes through, as in the Clip op. */
static void clip_to(const float *x, float *y, size_t n, float clip)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v < -clip ? -clip : v > clip ? clip : v;
    }
}

void f32_rnn_gate(const float *x, float *y, size_t n, float clip, const f32_rnn_act *act)
{
    if (isinf(clip)) {
        act->fn(x, y, n, &act->p);
        return;
    }
    clip_to(x, y, n, clip);
    act->fn(y, y, n, &act->p);
}

void f32_lstm_cell(size_t n, float *g, const float *p, float *c, float *h, int input_forget, float clip,
                   const f32_rnn_act act[3])
{
    float *gi = g, *go = g + n, *gf = g + 2 * n, *gc = g + 3 * n;
    /* The input and forget gates look at the previous cell state, the output gate at the new one. */
    if (p) {
        const float *pi = p, *pf = p + 2 * n;
        for (size_t j = 0; j < n; j++) {
            gi[j] += pi[j] * c[j];
            gf[j] += pf[j] * c[j];
        }
    }
    f32_rnn_gate(gi, gi, n, clip, &act[0]);
    if (input_forget) {
        for (size_t j = 0; j < n; j++) gf[j] = 1.0f - gi[j];
    } else {
        f32_rnn_gate(gf, gf, n, clip, &act[0]);
    }
    f32_rnn_gate(gc, gc, n, clip, &act[1]);
    for (size_t j = 0; j < n; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
    if (p) {
        const float *po = p + n;
        for (size_t j = 0; j < n; j++) go[j] += po[j] * c[j];
    }
    f32_rnn_gate(go, go, n, clip, &act[0]);
    act[2].fn(c, h, n, &act[2].p);
    for (size_t j = 0; j < n; j++) h[j] *= go[j];
}

void f32_gru_reset_after(size_t n, float *gh, const float *r, const float *hr, const float *rbh)
{
    if (rbh) {
        for (size_t j = 0; j < n; j++) gh[j] += r[j] * (hr[j] + rbh[j]);
    } else {
        for (size_t j = 0; j < n; j++) gh[j] += r[j] * hr[j];
    }
}

void f32_rnn_mul(size_t n, const float *a, const float *b, float *y)
{
    for (size_t j = 0; j < n; j++) y[j] = a[j] * b[j];
}

void f32_gru_output(size_t n, float *gh, const float *z, float *h, float clip, const f32_rnn_act *g)
{
    f32_rnn_gate(gh, gh, n, clip, g);
    for (size_t j = 0; j < n; j++) h[j] = (1.0f - z[j]) * gh[j] + z[j] * h[j];
}
