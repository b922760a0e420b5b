/*
 * Transposes and strided copies by element size (see transpose.h). Elements
 * are moved with fixed-size memcpy on byte pointers: compilers turn those into
 * single loads and stores, and the same loop then serves float32, int32 and
 * uint32 without type-punning the caller's data.
 */
#include <stdbool.h>
#include <string.h>

#include "transpose.h"

/* Square tile of the blocked transpose: 16 x 16 elements of 8 bytes is 2 KiB a side. */
#define TILE 16

#define DEFINE_TRANSPOSE2D(name, ES)                                                                      \
    void name(const void *src, int64_t src_ld, void *dst, int64_t dst_ld, int64_t rows, int64_t cols)   \
    {                                                                                                     \
        const char *s = src;                                                                              \
        char *d = dst;                                                                                    \
        for (int64_t r0 = 0; r0 < rows; r0 += TILE) {                                                     \
            int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;                                             \
            for (int64_t c0 = 0; c0 < cols; c0 += TILE) {                                                 \
                int64_t c1 = c0 + TILE < cols ? c0 + TILE : cols;                                         \
                for (int64_t c = c0; c < c1; c++)                                                         \
                    for (int64_t r = r0; r < r1; r++)                                                     \
                        memcpy(d + (c * dst_ld + r) * ES, s + (r * src_ld + c) * ES, ES);                 \
            }                                                                                             \
        }                                                                                                 \
    }

DEFINE_TRANSPOSE2D(x8_transpose2d_blocked, 1)
DEFINE_TRANSPOSE2D(x16_transpose2d_blocked, 2)
DEFINE_TRANSPOSE2D(x32_transpose2d_blocked, 4)
DEFINE_TRANSPOSE2D(x64_transpose2d_blocked, 8)

void f32_transpose2d_blocked(const float *src, int64_t src_ld, float *dst, int64_t dst_ld, int64_t rows, int64_t cols)
{
    x32_transpose2d_blocked(src, src_ld, dst, dst_ld, rows, cols);
}

/* One row of a strided copy: n elements, strides in elements (source stride may be 0 or negative). */
#define DEFINE_ROW(name, ES)                                                                        \
    static void name(char *d, int64_t ds, const char *s, int64_t ss, int64_t n)                     \
    {                                                                                               \
        for (int64_t i = 0; i < n; i++) memcpy(d + i * ds * ES, s + i * ss * ES, ES);              \
    }

DEFINE_ROW(x8_row_strided, 1)
DEFINE_ROW(x16_row_strided, 2)
DEFINE_ROW(x32_row_strided, 4)
DEFINE_ROW(x64_row_strided, 8)

static void row_strided(size_t esize, char *d, int64_t ds, const char *s, int64_t ss, int64_t n)
{
    if (ds == 1 && ss == 1) {
        memcpy(d, s, (size_t)n * esize);
        return;
    }
    if (ss == 0 && ds == 1) {
        xN_fill(esize, d, s, n);
        return;
    }
    switch (esize) {
    case 1: x8_row_strided(d, ds, s, ss, n); break;
    case 2: x16_row_strided(d, ds, s, ss, n); break;
    case 4: x32_row_strided(d, ds, s, ss, n); break;
    case 8: x64_row_strided(d, ds, s, ss, n); break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + i * ds * (int64_t)esize, s + i * ss * (int64_t)esize, esize);
    }
}

void xN_fill(size_t esize, void *dst, const void *value, int64_t n)
{
    char *d = dst;
    if (n <= 0) return;
    if (esize == 1) {
        memset(d, *(const unsigned char *)value, (size_t)n);
        return;
    }
    /* Write one element, then double the filled prefix: log2(n) memcpy calls. */
    memcpy(d, value, esize);
    int64_t done = 1;
    while (done < n) {
        int64_t k = done < n - done ? done : n - done;
        memcpy(d + done * (int64_t)esize, d, (size_t)k * esize);
        done += k;
    }
}

static bool transpose2d(size_t esize, const void *src, int64_t src_ld, void *dst, int64_t dst_ld, int64_t rows,
                        int64_t cols)
{
    switch (esize) {
    case 1: x8_transpose2d_blocked(src, src_ld, dst, dst_ld, rows, cols); return true;
    case 2: x16_transpose2d_blocked(src, src_ld, dst, dst_ld, rows, cols); return true;
    case 4: x32_transpose2d_blocked(src, src_ld, dst, dst_ld, rows, cols); return true;
    case 8: x64_transpose2d_blocked(src, src_ld, dst, dst_ld, rows, cols); return true;
    default: return false;
    }
}

void xN_copy_strided(size_t esize, int rank, const int64_t *dims, void *dst, const int64_t *dst_stride,
                     const void *src, const int64_t *src_stride)
{
    int64_t n[COPY_MAX_RANK], ds[COPY_MAX_RANK], ss[COPY_MAX_RANK];
    int r = 0;

    /* Drop unit dims and merge each dim into its outer neighbour when both sides are contiguous across them. */
    for (int d = 0; d < rank; d++)
        if (dims[d] == 0) return;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1) continue;
        if (r > 0 && ds[r - 1] == dst_stride[d] * dims[d] && ss[r - 1] == src_stride[d] * dims[d]) {
            n[r - 1] *= dims[d];
            ds[r - 1] = dst_stride[d];
            ss[r - 1] = src_stride[d];
            continue;
        }
        n[r] = dims[d];
        ds[r] = dst_stride[d];
        ss[r] = src_stride[d];
        r++;
    }
    if (r == 0) {
        memcpy(dst, src, esize);
        return;
    }

    /* A transpose of the innermost axis with an outer axis that is contiguous in the source:
     * copy [inner, t] planes with the blocked kernel instead of strided rows. */
    int t = -1;
    if (ds[r - 1] == 1 && ss[r - 1] != 1 && n[r - 1] >= 4 && (esize == 1 || esize == 2 || esize == 4 || esize == 8))
        for (int d = 0; d < r - 1; d++)
            if (ss[d] == 1 && n[d] >= 4) t = d;

    /* Odometer over the remaining outer axes, with running element offsets. */
    int outer[COPY_MAX_RANK], m = 0;
    for (int d = 0; d < r - 1; d++)
        if (d != t) outer[m++] = d;
    int64_t idx[COPY_MAX_RANK] = {0};
    int64_t doff = 0, soff = 0;
    const int64_t es = (int64_t)esize;
    for (;;) {
        char *dp = (char *)dst + doff * es;
        const char *sp = (const char *)src + soff * es;
        if (t >= 0)
            transpose2d(esize, sp, ss[r - 1], dp, ds[t], n[r - 1], n[t]);
        else
            row_strided(esize, dp, ds[r - 1], sp, ss[r - 1], n[r - 1]);
        int k = m - 1;
        for (; k >= 0; k--) {
            int d = outer[k];
            doff += ds[d];
            soff += ss[d];
            if (++idx[k] < n[d]) break;
            doff -= ds[d] * n[d];
            soff -= ss[d] * n[d];
            idx[k] = 0;
        }
        if (k < 0) return;
    }
}
