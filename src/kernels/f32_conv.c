/*
 * float32 convolution helpers: N-D im2col into the packed GEMM layout, its
 * adjoint col2im, and the direct depthwise 2-D kernels (see f32_conv.h).
 *
 * im2col and col2im walk the column matrix row by row (one channel and
 * kernel position per row) and the grid one innermost line at a time; the
 * range of that line that falls inside the image is computed once per line,
 * so the inner loops carry no per-element coordinate arithmetic.
 *
 * The depthwise kernels copy each input plane into a zero-bordered work
 * plane first, so their inner loops have no bounds checks and may read whole
 * vectors past the last output column. They vectorise along the output row.
 */
#include <stdint.h>
#include <string.h>

#include "f32_conv.h"
#include "f32_gemm.h"
#include "simd.h"

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* Range [lo, hi) of grid positions o in [0, n) with 0 <= o*stride + off < size. */
static void valid_range(size_t n, size_t stride, ptrdiff_t off, size_t size, size_t *lo, size_t *hi)
{
    ptrdiff_t s = (ptrdiff_t)stride;
    ptrdiff_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    ptrdiff_t room = (ptrdiff_t)size - off; /* o*stride < room */
    ptrdiff_t h = room <= 0 ? 0 : (room + s - 1) / s;
    if (l > (ptrdiff_t)n) l = (ptrdiff_t)n;
    if (h > (ptrdiff_t)n) h = (ptrdiff_t)n;
    if (h < l) h = l;
    *lo = (size_t)l;
    *hi = (size_t)h;
}

/* Shared walk of im2col / col2im: for each column-matrix row k and each
 * innermost grid line, `line` gets the image line (or NULL when the line lies
 * outside the image), the valid range and the column index of the line start. */
typedef struct conv_walk {
    const f32_conv_geom *g;
    size_t ksize, npix, img_plane, K;
    size_t img_stride[F32_CONV_MAX_ND];
} conv_walk;

static void walk_init(conv_walk *w, const f32_conv_geom *g)
{
    w->g = g;
    w->ksize = 1;
    w->npix = 1;
    w->img_plane = 1;
    for (int d = g->nd - 1; d >= 0; d--) {
        w->img_stride[d] = w->img_plane;
        w->img_plane *= g->img[d];
        w->ksize *= g->kernel[d];
        w->npix *= g->grid[d];
    }
    w->K = g->channels * w->ksize;
}

/* Image offset of grid line `outer` (index over all grid dims but the last)
 * at kernel position kpos; false when the line is outside the image. */
static int line_offset(const conv_walk *w, const size_t *outer, const size_t *kpos, size_t *off)
{
    const f32_conv_geom *g = w->g;
    size_t o = 0;
    for (int d = 0; d < g->nd - 1; d++) {
        ptrdiff_t i = (ptrdiff_t)(outer[d] * g->stride[d]) - g->pad[d] + (ptrdiff_t)(kpos[d] * g->dilation[d]);
        if (i < 0 || i >= (ptrdiff_t)g->img[d]) return 0;
        o += (size_t)i * w->img_stride[d];
    }
    *off = o;
    return 1;
}

static void odometer_next(int n, const size_t *dims, size_t *idx)
{
    for (int d = n - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) return;
        idx[d] = 0;
    }
}

/* Grid coordinates (all dims but the last) of grid line `line`. */
static void line_coords(const f32_conv_geom *g, size_t line, size_t *outer)
{
    for (int d = g->nd - 2; d >= 0; d--) {
        outer[d] = line % g->grid[d];
        line /= g->grid[d];
    }
}

void f32_im2col_packed(const f32_conv_geom *g, const float *x, size_t n0, size_t n1, float *pb)
{
    f32_im2col_packed_rows(g, x, n0, n1, 0, g->channels, pb);
}

void f32_im2col_packed_rows(const f32_conv_geom *g, const float *x, size_t n0, size_t n1, size_t c0, size_t c1,
                            float *pb)
{
    conv_walk w;
    walk_init(&w, g);
    size_t K = w.K, N = n1 - n0;
    if (K == 0 || n1 <= n0) return;
    int last = g->nd - 1;
    size_t ow = g->grid[last], iw = g->img[last], sw = g->stride[last];
    size_t npad = (N + F32_GEMM_NR - 1) / F32_GEMM_NR * F32_GEMM_NR;
    size_t k = c0 * w.ksize;
    for (size_t c = c0; c < c1 && c < g->channels; c++) {
        const float *plane = x + c * w.img_plane;
        size_t kpos[F32_CONV_MAX_ND] = {0};
        for (size_t kk = 0; kk < w.ksize; kk++, k++) {
            size_t k0 = k / F32_GEMM_KC * F32_GEMM_KC, kc = min_sz(F32_GEMM_KC, K - k0);
            float *row = pb + k0 * npad + (k - k0) * F32_GEMM_NR; /* column n at row[(n/NR)*NR*kc + n%NR] */
            size_t panel_step = F32_GEMM_NR * kc;
            ptrdiff_t off = (ptrdiff_t)(kpos[last] * g->dilation[last]) - g->pad[last];
            size_t lo, hi;
            valid_range(ow, sw, off, iw, &lo, &hi);
            size_t outer[F32_CONV_MAX_ND] = {0};
            line_coords(g, n0 / ow, outer);
            size_t n = 0; /* column within the range */
            for (size_t l = n0 / ow; n < N; l++) {
                size_t base = 0;
                int inside = line_offset(&w, outer, kpos, &base);
                const float *src = plane + base;
                size_t a = inside ? lo : ow, b = inside ? hi : ow; /* [a, b) reads the image */
                size_t o = l == n0 / ow ? n0 % ow : 0, o_end = min_sz(ow, o + (N - n));
                while (o < o_end) {
                    /* One run inside a panel: zeros before a, image values in [a, b), zeros after b. */
                    size_t lane = n % F32_GEMM_NR, end = o + min_sz(o_end - o, F32_GEMM_NR - lane);
                    float *dst = row + n / F32_GEMM_NR * panel_step + lane; /* dst[j - o] is column j */
                    size_t va = a < o ? o : a > end ? end : a, vb = b < va ? va : b > end ? end : b;
                    for (size_t j = o; j < va; j++) dst[j - o] = 0.0f;
                    if (sw == 1) {
                        size_t j = va;
                        for (; j + 4 <= vb; j += 4)
                            wasm_v128_store(dst + (j - o), wasm_v128_load(src + (ptrdiff_t)j + off));
                        for (; j < vb; j++) dst[j - o] = src[(ptrdiff_t)j + off];
                    } else {
                        for (size_t j = va; j < vb; j++) dst[j - o] = src[(ptrdiff_t)(j * sw) + off];
                    }
                    for (size_t j = vb; j < end; j++) dst[j - o] = 0.0f;
                    n += end - o;
                    o = end;
                }
                odometer_next(last, g->grid, outer);
            }
            for (; n < npad; n++) row[n / F32_GEMM_NR * panel_step + n % F32_GEMM_NR] = 0.0f;
            odometer_next(g->nd, g->kernel, kpos);
        }
    }
}

void u8_im2col(const f32_conv_geom *g, const uint8_t *x, uint8_t pad, size_t n0, size_t n1, uint8_t *col)
{
    conv_walk w;
    walk_init(&w, g);
    size_t N = n1 - n0;
    if (w.K == 0 || n1 <= n0) return;
    int last = g->nd - 1;
    size_t ow = g->grid[last], iw = g->img[last], sw = g->stride[last];
    uint8_t *dst = col;
    for (size_t c = 0; c < g->channels; c++) {
        const uint8_t *plane = x + c * w.img_plane;
        size_t kpos[F32_CONV_MAX_ND] = {0};
        for (size_t kk = 0; kk < w.ksize; kk++) {
            ptrdiff_t off = (ptrdiff_t)(kpos[last] * g->dilation[last]) - g->pad[last];
            size_t lo, hi;
            valid_range(ow, sw, off, iw, &lo, &hi);
            size_t outer[F32_CONV_MAX_ND] = {0};
            line_coords(g, n0 / ow, outer);
            for (size_t l = n0 / ow, n = 0; n < N; l++) {
                size_t base = 0;
                int inside = line_offset(&w, outer, kpos, &base);
                const uint8_t *src = plane + base;
                size_t o = l == n0 / ow ? n0 % ow : 0, o_end = min_sz(ow, o + (N - n));
                /* [va, vb): the part of [o, o_end) that reads the image; padding around it */
                size_t va = inside ? lo : o_end, vb = inside ? hi : o_end;
                va = va < o ? o : va > o_end ? o_end : va;
                vb = vb < va ? va : vb > o_end ? o_end : vb;
                size_t j = o;
                for (; j < va; j++) dst[j - o] = pad;
                if (sw == 1) {
                    for (; j + 16 <= vb; j += 16)
                        wasm_v128_store(dst + (j - o), wasm_v128_load(src + (ptrdiff_t)j + off));
                    for (; j < vb; j++) dst[j - o] = src[(ptrdiff_t)j + off];
                } else {
                    for (; j < vb; j++) dst[j - o] = src[(ptrdiff_t)(j * sw) + off];
                }
                for (; j < o_end; j++) dst[j - o] = pad;
                dst += o_end - o;
                n += o_end - o;
                odometer_next(last, g->grid, outer);
            }
            odometer_next(g->nd, g->kernel, kpos);
        }
    }
}

void f32_col2im_add(const f32_conv_geom *g, const float *col, size_t n0, size_t n1, float *y)
{
    conv_walk w;
    walk_init(&w, g);
    size_t N = n1 - n0;
    if (w.K == 0 || n1 <= n0) return;
    int last = g->nd - 1;
    size_t ow = g->grid[last], iw = g->img[last], sw = g->stride[last];
    for (size_t c = 0; c < g->channels; c++) {
        float *plane = y + c * w.img_plane;
        size_t kpos[F32_CONV_MAX_ND] = {0};
        for (size_t kk = 0; kk < w.ksize; kk++) {
            const float *src = col + (c * w.ksize + kk) * N; /* src[n] is grid column n0 + n */
            ptrdiff_t off = (ptrdiff_t)(kpos[last] * g->dilation[last]) - g->pad[last];
            size_t lo, hi;
            valid_range(ow, sw, off, iw, &lo, &hi);
            size_t outer[F32_CONV_MAX_ND] = {0};
            line_coords(g, n0 / ow, outer);
            for (size_t l = n0 / ow; l * ow < n1; l++) {
                size_t base = 0;
                /* this line's columns inside the range, clipped to the image */
                size_t o_lo = l * ow < n0 ? n0 - l * ow : 0, o_hi = min_sz(ow, n1 - l * ow);
                size_t a = lo > o_lo ? lo : o_lo, b = hi < o_hi ? hi : o_hi;
                if (a < b && line_offset(&w, outer, kpos, &base)) {
                    float *dst = plane + base;
                    for (size_t o = a; o < b; o++) dst[(ptrdiff_t)(o * sw) + off] += src[l * ow + o - n0];
                }
                odometer_next(last, g->grid, outer);
            }
            odometer_next(g->nd, g->kernel, kpos);
        }
    }
}

/* ---- depthwise ---- */

static size_t round4(size_t x) { return (x + 3) / 4 * 4; }

/* a * b + c, or SIZE_MAX when it overflows (SIZE_MAX stays SIZE_MAX). */
static size_t mul_add_sat(size_t a, size_t b, size_t c)
{
    size_t r;
    if (a == SIZE_MAX || b == SIZE_MAX || c == SIZE_MAX || __builtin_mul_overflow(a, b, &r) ||
        __builtin_add_overflow(r, c, &r))
        return SIZE_MAX;
    return r;
}

/*
 * Work memory of the depthwise kernels, in this order:
 *  - the output channel's kernel, each weight splatted to a vector;
 *  - the plane offset of every kernel tap;
 *  - the zero-padded input plane, each row split by column phase: padded
 *    column p * SW + r of a row is at r * phase + p.
 * An output column ox reads, for a tap at kx * DW = q * SW + r, position
 * ox + q of phase r, so for any stride every tap is a run of consecutive
 * floats that the kernel loads a vector at a time. A phase holds the output
 * width rounded up to whole vectors plus the largest q.
 */
typedef struct dw_layout {
    size_t taps;       /* KH * KW */
    size_t phase, row; /* floats per phase; per plane row (SW phases) */
    size_t rows;       /* plane rows: every input row an output reads */
    size_t toff_at, plane_at, bytes;
} dw_layout;

static void dw_layout_init(const f32_conv_geom *g, dw_layout *l)
{
    size_t KH = g->kernel[0], KW = g->kernel[1], SW = g->stride[1];
    l->taps = mul_add_sat(KH, KW, 0);
    l->phase = mul_add_sat(KW - 1, g->dilation[1], 0);
    if (l->phase != SIZE_MAX) l->phase = l->phase / SW;
    l->phase = mul_add_sat(1, l->phase, round4(g->grid[1]));
    l->row = mul_add_sat(SW, l->phase, 0);
    size_t last = mul_add_sat(g->grid[0] - 1, g->stride[0], 0); /* first plane row of the last output row */
    l->rows = mul_add_sat(KH - 1, g->dilation[0], mul_add_sat(1, last, 1));
    l->toff_at = mul_add_sat(l->taps, 16, 0);
    size_t toff_bytes = mul_add_sat(l->taps, sizeof(ptrdiff_t), 15);
    l->plane_at = mul_add_sat(1, toff_bytes == SIZE_MAX ? SIZE_MAX : toff_bytes / 16 * 16, l->toff_at);
    l->bytes = mul_add_sat(mul_add_sat(l->rows, l->row, 0), sizeof(float), l->plane_at);
}

size_t f32_dwconv_work_size(const f32_conv_geom *g)
{
    if (g->grid[0] == 0 || g->grid[1] == 0) return 0;
    dw_layout l;
    dw_layout_init(g, &l);
    return l.bytes;
}

/* Copies plane x [H, W] into the phase-split work plane; positions outside
 * the image keep the zeros they were given at the start of the call. */
static void dw_fill(const f32_conv_geom *g, const dw_layout *l, const float *x, float *plane)
{
    size_t H = g->img[0], W = g->img[1], SW = g->stride[1];
    size_t r_lo, r_hi; /* plane rows r with 0 <= r - pad_t < H */
    valid_range(l->rows, 1, -g->pad[0], H, &r_lo, &r_hi);
    for (size_t ph = 0; ph < SW; ph++) {
        /* positions p of this phase with 0 <= p * SW + ph - pad_l < W */
        ptrdiff_t off = (ptrdiff_t)ph - g->pad[1];
        size_t lo, hi;
        valid_range(l->phase, SW, off, W, &lo, &hi);
        if (lo >= hi) continue;
        for (size_t r = r_lo; r < r_hi; r++) {
            const float *src = x + (size_t)((ptrdiff_t)r - g->pad[0]) * W + ((ptrdiff_t)(lo * SW) + off);
            float *dst = plane + r * l->row + ph * l->phase;
            if (SW == 1) {
                memcpy(dst + lo, src, (hi - lo) * sizeof(float));
            } else {
                for (size_t p = lo; p < hi; p++, src += SW) dst[p] = *src;
            }
        }
    }
}

/* Lanes [0, n) of v to y, n <= 4. */
static void store_part(float *y, v128_t v, size_t n)
{
    if (n >= 4) {
        wasm_v128_store(y, v);
    } else {
        float tail[4];
        wasm_v128_store(tail, v);
        for (size_t j = 0; j < n; j++) y[j] = tail[j];
    }
}

/*
 * The row kernels: output row(s) from the work plane, `base` at the row's
 * first plane row, every tap a vector of weights `wv` at offset `toff`.
 * Each loads a tap's weights and offset once for several vectors and keeps
 * four independent sums, so neither loads nor the latency of dependent adds
 * set the pace; sums that split a row's taps are added at the end.
 */
typedef struct dw_row_args {
    const v128_t *wv;
    const ptrdiff_t *toff;
    size_t taps, OW;
    v128_t vb;
} dw_row_args;

/* Two output rows y0, y1 whose plane rows start `step` floats apart. */
static void dw_rows2(const dw_row_args *a, const float *base, size_t step, float *y0, float *y1)
{
    size_t ox = 0, taps = a->taps;
    for (; ox + 8 <= a->OW; ox += 8) {
        v128_t s00 = a->vb, s01 = a->vb, s10 = a->vb, s11 = a->vb;
        for (size_t t = 0; t < taps; t++) {
            const float *p = base + a->toff[t] + ox, *q = p + step;
            v128_t k = a->wv[t];
            s00 = f32x4_madd(k, wasm_v128_load(p), s00);
            s01 = f32x4_madd(k, wasm_v128_load(p + 4), s01);
            s10 = f32x4_madd(k, wasm_v128_load(q), s10);
            s11 = f32x4_madd(k, wasm_v128_load(q + 4), s11);
        }
        wasm_v128_store(y0 + ox, s00);
        wasm_v128_store(y0 + ox + 4, s01);
        wasm_v128_store(y1 + ox, s10);
        wasm_v128_store(y1 + ox + 4, s11);
    }
    for (; ox < a->OW; ox += 4) {
        v128_t s0 = a->vb, s1 = a->vb, r0 = wasm_f32x4_splat(0.0f), r1 = r0;
        size_t t = 0;
        for (; t + 2 <= taps; t += 2) {
            const float *p = base + a->toff[t] + ox, *q = base + a->toff[t + 1] + ox;
            s0 = f32x4_madd(a->wv[t], wasm_v128_load(p), s0);
            s1 = f32x4_madd(a->wv[t], wasm_v128_load(p + step), s1);
            r0 = f32x4_madd(a->wv[t + 1], wasm_v128_load(q), r0);
            r1 = f32x4_madd(a->wv[t + 1], wasm_v128_load(q + step), r1);
        }
        if (t < taps) {
            const float *p = base + a->toff[t] + ox;
            s0 = f32x4_madd(a->wv[t], wasm_v128_load(p), s0);
            s1 = f32x4_madd(a->wv[t], wasm_v128_load(p + step), s1);
        }
        store_part(y0 + ox, wasm_f32x4_add(s0, r0), a->OW - ox);
        store_part(y1 + ox, wasm_f32x4_add(s1, r1), a->OW - ox);
    }
}

/* One output row. */
static void dw_rows1(const dw_row_args *a, const float *base, float *y)
{
    size_t ox = 0, taps = a->taps;
    v128_t zero = wasm_f32x4_splat(0.0f);
    for (; ox + 8 <= a->OW; ox += 8) {
        v128_t s0 = a->vb, s1 = a->vb, r0 = zero, r1 = zero;
        size_t t = 0;
        for (; t + 2 <= taps; t += 2) {
            const float *p = base + a->toff[t] + ox, *q = base + a->toff[t + 1] + ox;
            s0 = f32x4_madd(a->wv[t], wasm_v128_load(p), s0);
            s1 = f32x4_madd(a->wv[t], wasm_v128_load(p + 4), s1);
            r0 = f32x4_madd(a->wv[t + 1], wasm_v128_load(q), r0);
            r1 = f32x4_madd(a->wv[t + 1], wasm_v128_load(q + 4), r1);
        }
        if (t < taps) {
            const float *p = base + a->toff[t] + ox;
            s0 = f32x4_madd(a->wv[t], wasm_v128_load(p), s0);
            s1 = f32x4_madd(a->wv[t], wasm_v128_load(p + 4), s1);
        }
        wasm_v128_store(y + ox, wasm_f32x4_add(s0, r0));
        wasm_v128_store(y + ox + 4, wasm_f32x4_add(s1, r1));
    }
    for (; ox < a->OW; ox += 4) {
        v128_t s0 = a->vb, r0 = zero;
        size_t t = 0;
        for (; t + 2 <= taps; t += 2) {
            s0 = f32x4_madd(a->wv[t], wasm_v128_load(base + a->toff[t] + ox), s0);
            r0 = f32x4_madd(a->wv[t + 1], wasm_v128_load(base + a->toff[t + 1] + ox), r0);
        }
        if (t < taps) s0 = f32x4_madd(a->wv[t], wasm_v128_load(base + a->toff[t] + ox), s0);
        store_part(y + ox, wasm_f32x4_add(s0, r0), a->OW - ox);
    }
}

/* 3x3 kernels: the nine weights stay in registers. */
static void dw_rows2_3x3(const dw_row_args *a, const float *base, size_t step, float *y0, float *y1)
{
    const v128_t *wv = a->wv;
    v128_t k0 = wv[0], k1 = wv[1], k2 = wv[2], k3 = wv[3], k4 = wv[4], k5 = wv[5], k6 = wv[6], k7 = wv[7], k8 = wv[8];
    ptrdiff_t c1 = a->toff[1], c2 = a->toff[2], r1 = a->toff[3], r2 = a->toff[6]; /* toff[0] is 0 */
    for (size_t ox = 0; ox < a->OW; ox += 4) {
        const float *p0 = base + ox, *p1 = p0 + r1, *p2 = p0 + r2;
        const float *q0 = p0 + step, *q1 = q0 + r1, *q2 = q0 + r2;
        v128_t s = a->vb, t = a->vb;
        s = f32x4_madd(k0, wasm_v128_load(p0), s);
        t = f32x4_madd(k0, wasm_v128_load(q0), t);
        s = f32x4_madd(k1, wasm_v128_load(p0 + c1), s);
        t = f32x4_madd(k1, wasm_v128_load(q0 + c1), t);
        s = f32x4_madd(k2, wasm_v128_load(p0 + c2), s);
        t = f32x4_madd(k2, wasm_v128_load(q0 + c2), t);
        s = f32x4_madd(k3, wasm_v128_load(p1), s);
        t = f32x4_madd(k3, wasm_v128_load(q1), t);
        s = f32x4_madd(k4, wasm_v128_load(p1 + c1), s);
        t = f32x4_madd(k4, wasm_v128_load(q1 + c1), t);
        s = f32x4_madd(k5, wasm_v128_load(p1 + c2), s);
        t = f32x4_madd(k5, wasm_v128_load(q1 + c2), t);
        s = f32x4_madd(k6, wasm_v128_load(p2), s);
        t = f32x4_madd(k6, wasm_v128_load(q2), t);
        s = f32x4_madd(k7, wasm_v128_load(p2 + c1), s);
        t = f32x4_madd(k7, wasm_v128_load(q2 + c1), t);
        s = f32x4_madd(k8, wasm_v128_load(p2 + c2), s);
        t = f32x4_madd(k8, wasm_v128_load(q2 + c2), t);
        store_part(y0 + ox, s, a->OW - ox);
        store_part(y1 + ox, t, a->OW - ox);
    }
}

static void dw_rows1_3x3(const dw_row_args *a, const float *base, float *y)
{
    const v128_t *wv = a->wv;
    v128_t k0 = wv[0], k1 = wv[1], k2 = wv[2], k3 = wv[3], k4 = wv[4], k5 = wv[5], k6 = wv[6], k7 = wv[7], k8 = wv[8];
    ptrdiff_t c1 = a->toff[1], c2 = a->toff[2], r1 = a->toff[3], r2 = a->toff[6];
    for (size_t ox = 0; ox < a->OW; ox += 4) {
        const float *p0 = base + ox, *p1 = p0 + r1, *p2 = p0 + r2;
        v128_t s = a->vb, t = wasm_f32x4_mul(k1, wasm_v128_load(p0 + c1));
        s = f32x4_madd(k0, wasm_v128_load(p0), s);
        t = f32x4_madd(k2, wasm_v128_load(p0 + c2), t);
        s = f32x4_madd(k3, wasm_v128_load(p1), s);
        t = f32x4_madd(k4, wasm_v128_load(p1 + c1), t);
        s = f32x4_madd(k5, wasm_v128_load(p1 + c2), s);
        t = f32x4_madd(k6, wasm_v128_load(p2), t);
        s = f32x4_madd(k7, wasm_v128_load(p2 + c1), s);
        t = f32x4_madd(k8, wasm_v128_load(p2 + c2), t);
        store_part(y + ox, wasm_f32x4_add(s, t), a->OW - ox);
    }
}

/* The work memory of one call, set up by dw_begin. */
typedef struct dw_state {
    dw_layout l;
    dw_row_args ra;
    v128_t *wv;  /* [taps], what ra.wv points at */
    float *plane;
    size_t step; /* plane floats from one output row to the next */
} dw_state;

/* Lays out the work memory: tap offsets, and a plane whose padding is zero. */
static void dw_begin(const f32_conv_geom *g, void *work, dw_state *s)
{
    dw_layout_init(g, &s->l);
    const dw_layout *l = &s->l;
    size_t KW = g->kernel[1], SW = g->stride[1];
    ptrdiff_t *toff = (ptrdiff_t *)((char *)work + l->toff_at); /* [taps] */
    for (size_t t = 0; t < l->taps; t++) {
        size_t ky = t / KW, cx = t % KW * g->dilation[1];
        toff[t] = (ptrdiff_t)(ky * g->dilation[0] * l->row + cx % SW * l->phase + cx / SW);
    }
    s->plane = (float *)((char *)work + l->plane_at); /* [rows, row] */
    memset(s->plane, 0, l->rows * l->row * sizeof(float));
    s->step = g->stride[0] * l->row;
    s->wv = work;
    s->ra.wv = s->wv;
    s->ra.toff = toff;
    s->ra.taps = l->taps;
    s->ra.OW = g->grid[1];
}

/* Readies output channel o: its input plane (once per input channel), weights and bias. */
static void dw_channel(dw_state *s, const f32_conv_geom *g, size_t mult, size_t o, const float *x, const float *w,
                       const float *bias)
{
    if (o % mult == 0) dw_fill(g, &s->l, x + o / mult * g->img[0] * g->img[1], s->plane);
    const float *k = w + o * s->l.taps;
    for (size_t t = 0; t < s->l.taps; t++) s->wv[t] = wasm_f32x4_splat(k[t]);
    s->ra.vb = wasm_f32x4_splat(bias ? bias[o] : 0.0f);
}

void f32_dwconv_simd128(const f32_conv_geom *g, size_t mult, const float *x, const float *w, const float *bias,
                        float *y, void *work, f32_vunary_fn post, const f32_vunary_params *post_params)
{
    size_t OH = g->grid[0], OW = g->grid[1];
    if (OH == 0 || OW == 0) return;
    dw_state s;
    dw_begin(g, work, &s);
    for (size_t o = 0; o < g->channels * mult; o++) {
        dw_channel(&s, g, mult, o, x, w, bias);
        float *yo = y + o * OH * OW;
        size_t oy = 0;
        for (; oy + 2 <= OH; oy += 2) dw_rows2(&s.ra, s.plane + oy * s.step, s.step, yo + oy * OW, yo + (oy + 1) * OW);
        if (oy < OH) dw_rows1(&s.ra, s.plane + oy * s.step, yo + oy * OW);
        if (post) post(yo, yo, OH * OW, post_params);
    }
}

void f32_dwconv3x3_simd128(const f32_conv_geom *g, size_t mult, const float *x, const float *w, const float *bias,
                           float *y, void *work, f32_vunary_fn post, const f32_vunary_params *post_params)
{
    size_t OH = g->grid[0], OW = g->grid[1];
    if (OH == 0 || OW == 0) return;
    dw_state s;
    dw_begin(g, work, &s);
    for (size_t o = 0; o < g->channels * mult; o++) {
        dw_channel(&s, g, mult, o, x, w, bias);
        float *yo = y + o * OH * OW;
        size_t oy = 0;
        for (; oy + 2 <= OH; oy += 2)
            dw_rows2_3x3(&s.ra, s.plane + oy * s.step, s.step, yo + oy * OW, yo + (oy + 1) * OW);
        if (oy < OH) dw_rows1_3x3(&s.ra, s.plane + oy * s.step, yo + oy * OW);
        if (post) post(yo, yo, OH * OW, post_params);
    }
}

void f32_dwconv_scalar(const f32_conv_geom *g, size_t mult, const float *x, const float *w, const float *bias,
                       float *y, void *work, f32_vunary_fn post, const f32_vunary_params *post_params)
{
    (void)work;
    size_t H = g->img[0], W = g->img[1], OH = g->grid[0], OW = g->grid[1];
    size_t KH = g->kernel[0], KW = g->kernel[1];
    for (size_t o = 0; o < g->channels * mult; o++) {
        const float *xc = x + o / mult * H * W, *k = w + o * KH * KW;
        for (size_t oy = 0; oy < OH; oy++) {
            for (size_t ox = 0; ox < OW; ox++) {
                float acc = bias ? bias[o] : 0.0f;
                for (size_t ky = 0; ky < KH; ky++) {
                    ptrdiff_t iy = (ptrdiff_t)(oy * g->stride[0] + ky * g->dilation[0]) - g->pad[0];
                    if (iy < 0 || iy >= (ptrdiff_t)H) continue;
                    for (size_t kx = 0; kx < KW; kx++) {
                        ptrdiff_t ix = (ptrdiff_t)(ox * g->stride[1] + kx * g->dilation[1]) - g->pad[1];
                        if (ix < 0 || ix >= (ptrdiff_t)W) continue;
                        acc += k[ky * KW + kx] * xc[iy * (ptrdiff_t)W + ix];
                    }
                }
                y[(o * OH + oy) * OW + ox] = acc;
            }
        }
        if (post) post(y + o * OH * OW, y + o * OH * OW, OH * OW, post_params);
    }
}
