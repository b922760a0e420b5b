/*
 * float32 convolution helpers: N-D im2col into the packed GEMM layout, its
 * adjoint col2im, and the depthwise 3x3 kernels (see f32_conv.h).
 *
 * im2col and col2im walk the column matrix row by row (one channel and
 * kernel position per row) and the grid one innermost line at a time; the
 * range of that line that falls inside the image is computed once per line,
 * so the inner loops carry no per-element coordinate arithmetic.
 *
 * The depthwise kernel copies each input plane into a zero-bordered work
 * plane first, so its inner loop has no bounds checks and may read whole
 * vectors past the last output column.
 */
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
    conv_walk w;
    walk_init(&w, g);
    size_t K = w.K, N = n1 - n0;
    if (K == 0 || n1 <= n0) return;
    int last = g->nd - 1;
    size_t ow = g->grid[last], iw = g->img[last], sw = g->stride[last];
    size_t npad = (N + F32_GEMM_NR - 1) / F32_GEMM_NR * F32_GEMM_NR;
    size_t k = 0;
    for (size_t c = 0; c < g->channels; c++) {
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
                        for (size_t j = va; j < vb; j++) dst[j - o] = src[(ptrdiff_t)j + off];
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

/* ---- depthwise 3x3 ---- */

static size_t round4(size_t x) { return (x + 3) / 4 * 4; }

/* Work plane: rows cover every input row an output reads; columns cover
 * whole 4-output vectors plus the loads the stride-2 deinterleave makes. */
static void work_dims(size_t OH, size_t OW, size_t stride, size_t *ph, size_t *pw)
{
    *ph = (OH - 1) * stride + 3;
    *pw = stride * round4(OW) + 4;
}

size_t f32_dwconv_work_size(size_t OH, size_t OW, size_t stride)
{
    if (OH == 0 || OW == 0) return 0;
    size_t ph, pw;
    work_dims(OH, OW, stride, &ph, &pw);
    return ph * pw;
}

/* Copies plane x [H, W] into the work plane at (pad_t, pad_l); the border
 * stays as it was zeroed at the start. */
static void fill_plane(const float *x, size_t H, size_t W, size_t pad_t, size_t pad_l, size_t ph, size_t pw,
                       float *work)
{
    if (pad_t >= ph || pad_l >= pw) return;
    size_t rows = min_sz(H, ph - pad_t), cols = min_sz(W, pw - pad_l);
    for (size_t r = 0; r < rows; r++) memcpy(work + (pad_t + r) * pw + pad_l, x + r * W, cols * sizeof(float));
}

void f32_dwconv_simd128(size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t stride, size_t pad_t,
                        size_t pad_l, const float *x, const float *w, const float *bias, float *y, float *work)
{
    if (OH == 0 || OW == 0) return;
    size_t ph, pw;
    work_dims(OH, OW, stride, &ph, &pw);
    memset(work, 0, ph * pw * sizeof(float));
    for (size_t c = 0; c < C; c++) {
        fill_plane(x + c * H * W, H, W, pad_t, pad_l, ph, pw, work);
        const float *k = w + c * 9;
        v128_t k00 = wasm_f32x4_splat(k[0]), k01 = wasm_f32x4_splat(k[1]), k02 = wasm_f32x4_splat(k[2]);
        v128_t k10 = wasm_f32x4_splat(k[3]), k11 = wasm_f32x4_splat(k[4]), k12 = wasm_f32x4_splat(k[5]);
        v128_t k20 = wasm_f32x4_splat(k[6]), k21 = wasm_f32x4_splat(k[7]), k22 = wasm_f32x4_splat(k[8]);
        v128_t vb = wasm_f32x4_splat(bias ? bias[c] : 0.0f);
        float *yc = y + c * OH * OW;
        for (size_t oy = 0; oy < OH; oy++) {
            const float *r0 = work + oy * stride * pw, *r1 = r0 + pw, *r2 = r1 + pw;
            float *yr = yc + oy * OW;
            for (size_t ox = 0; ox < OW; ox += 4) {
                v128_t acc = vb;
                if (stride == 1) {
                    const float *p0 = r0 + ox, *p1 = r1 + ox, *p2 = r2 + ox;
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k00, wasm_v128_load(p0)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k01, wasm_v128_load(p0 + 1)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k02, wasm_v128_load(p0 + 2)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k10, wasm_v128_load(p1)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k11, wasm_v128_load(p1 + 1)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k12, wasm_v128_load(p1 + 2)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k20, wasm_v128_load(p2)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k21, wasm_v128_load(p2 + 1)));
                    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(k22, wasm_v128_load(p2 + 2)));
                } else {
                    /* Outputs ox..ox+3 read columns 2*ox + kx + {0,2,4,6}: split even and odd lanes. */
                    const float *rows[3] = {r0 + 2 * ox, r1 + 2 * ox, r2 + 2 * ox};
                    const v128_t kr[3][3] = {{k00, k01, k02}, {k10, k11, k12}, {k20, k21, k22}};
                    for (int r = 0; r < 3; r++) {
                        v128_t v0 = wasm_v128_load(rows[r]), v1 = wasm_v128_load(rows[r] + 4);
                        v128_t v2 = wasm_v128_load(rows[r] + 8);
                        v128_t even = wasm_i32x4_shuffle(v0, v1, 0, 2, 4, 6);
                        v128_t odd = wasm_i32x4_shuffle(v0, v1, 1, 3, 5, 7);
                        v128_t next = wasm_i32x4_shuffle(even, v2, 1, 2, 3, 4);
                        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(kr[r][0], even));
                        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(kr[r][1], odd));
                        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(kr[r][2], next));
                    }
                }
                if (ox + 4 <= OW) {
                    wasm_v128_store(yr + ox, acc);
                } else {
                    float tail[4];
                    wasm_v128_store(tail, acc);
                    for (size_t j = 0; ox + j < OW; j++) yr[ox + j] = tail[j];
                }
            }
        }
    }
}

void f32_dwconv_scalar(size_t C, size_t H, size_t W, size_t OH, size_t OW, size_t stride, size_t pad_t,
                       size_t pad_l, const float *x, const float *w, const float *bias, float *y, float *work)
{
    (void)work;
    for (size_t c = 0; c < C; c++) {
        const float *xc = x + c * H * W, *k = w + c * 9;
        for (size_t oy = 0; oy < OH; oy++) {
            for (size_t ox = 0; ox < OW; ox++) {
                float acc = bias ? bias[c] : 0.0f;
                for (size_t ky = 0; ky < 3; ky++) {
                    ptrdiff_t iy = (ptrdiff_t)(oy * stride + ky) - (ptrdiff_t)pad_t;
                    if (iy < 0 || iy >= (ptrdiff_t)H) continue;
                    for (size_t kx = 0; kx < 3; kx++) {
                        ptrdiff_t ix = (ptrdiff_t)(ox * stride + kx) - (ptrdiff_t)pad_l;
                        if (ix < 0 || ix >= (ptrdiff_t)W) continue;
                        acc += k[ky * 3 + kx] * xc[iy * (ptrdiff_t)W + ix];
                    }
                }
                y[(c * OH + oy) * OW + ox] = acc;
            }
        }
    }
}
