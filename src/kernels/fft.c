/*
 * Any-length complex FFT in double precision (see fft.h).
 *
 * Stockham stage for a radix r, with len the length still to transform and
 * s the product of the radices done so far (len * s = n): for the sequence
 * position k < len / r and each of the s interleaved sub-transforms q,
 *
 *   y[q + s (r k + u)] = w_len^(k u) * sum_t x[q + s (k + t len / r)] w_r^(t u)
 *
 * which splits a length-len DFT into r DFTs of length len / r (decimation in
 * frequency), each stored with stride s r for the next stage. Outputs land in
 * natural order, so no bit reversal pass is needed; stages alternate between
 * the data and the work buffer. w_len^(k u) = w_n^(k u s) reads the one
 * twiddle table of length n, and k u s < n.
 */
#include "fft.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define PI 3.14159265358979323846

static size_t align16(size_t bytes)
{
    return (bytes + 15) & ~(size_t)15;
}

/* Radices of n, 4s first, or -1 when a prime factor exceeds FFT_MAX_RADIX. */
static int factorize(size_t n, int *factors)
{
    int k = 0;
    while (n % 4 == 0) {
        factors[k++] = 4;
        n /= 4;
    }
    if (n % 2 == 0) {
        factors[k++] = 2;
        n /= 2;
    }
    for (size_t p = 3; p <= FFT_MAX_RADIX && n > 1; p += 2)
        while (n % p == 0) {
            factors[k++] = (int)p;
            n /= p;
        }
    return n == 1 ? k : -1;
}

/* Lengths past this make the byte counts below overflow. */
static bool too_large(size_t n)
{
    return n == 0 || n > (SIZE_MAX - 4096) / 64;
}

static size_t bluestein_len(size_t n)
{
    size_t m = 1;
    while (m < 2 * n - 1) m <<= 1;
    return m;
}

size_t fft_plan_bytes(size_t n)
{
    if (too_large(n)) return 0;
    int factors[FFT_MAX_FACTORS];
    size_t head = align16(sizeof(fft_plan));
    if (factorize(n, factors) >= 0) return head + 16 * n;
    size_t m = bluestein_len(n);
    if (too_large(m)) return 0;
    size_t sub = fft_plan_bytes(m);
    if (!sub) return 0;
    return head + 16 * n + 16 * m + sub;
}

size_t fft_work_bytes(size_t n)
{
    if (too_large(n)) return 0;
    int factors[FFT_MAX_FACTORS];
    if (factorize(n, factors) >= 0) return 16 * n;
    size_t m = bluestein_len(n);
    return too_large(m) ? 0 : 32 * m; /* the convolution buffer, then the power-of-two plan's work */
}

size_t fft_init_work_bytes(size_t n)
{
    if (too_large(n)) return 0;
    int factors[FFT_MAX_FACTORS];
    if (factorize(n, factors) >= 0) return 0;
    size_t m = bluestein_len(n);
    return too_large(m) ? 0 : fft_work_bytes(m);
}

const fft_plan *fft_plan_init(void *mem, size_t n, double *work)
{
    fft_plan *p = mem;
    memset(p, 0, sizeof *p);
    char *next = (char *)mem + align16(sizeof *p);
    p->n = n;
    int k = factorize(n, p->factors);
    if (k >= 0) {
        double *tw = (double *)(void *)next;
        for (size_t j = 0; j < n; j++) {
            double a = -2.0 * PI * (double)j / (double)n;
            tw[2 * j] = cos(a);
            tw[2 * j + 1] = sin(a);
        }
        p->n_factors = k;
        p->tw = tw;
        return p;
    }

    size_t m = bluestein_len(n);
    double *chirp = (double *)(void *)next;
    double *kernel = chirp + 2 * n;
    const fft_plan *sub = fft_plan_init(kernel + 2 * m, m, work);
    /* j^2 mod 2n keeps the chirp's angle small, hence exact to the last bits. */
    size_t sq = 0;
    for (size_t j = 0; j < n; j++) {
        double a = -PI * (double)sq / (double)n;
        chirp[2 * j] = cos(a);
        chirp[2 * j + 1] = sin(a);
        sq += 2 * j + 1;
        while (sq >= 2 * n) sq -= 2 * n;
    }
    /* The convolution kernel conj(chirp[|j|]) laid out circularly: j at j, -j at m - j. */
    memset(kernel, 0, 16 * m);
    for (size_t j = 0; j < n; j++) {
        kernel[2 * j] = chirp[2 * j];
        kernel[2 * j + 1] = -chirp[2 * j + 1];
        if (j > 0) {
            kernel[2 * (m - j)] = chirp[2 * j];
            kernel[2 * (m - j) + 1] = -chirp[2 * j + 1];
        }
    }
    f64_fft_scalar(sub, kernel, work, false);
    for (size_t j = 0; j < 2 * m; j++) kernel[j] /= (double)m;
    p->m = m;
    p->sub = sub;
    p->chirp = chirp;
    p->kernel = kernel;
    return p;
}

/* out = (re, im) * tw[idx], stored at y[2 * o]. */
static inline void put_twiddled(double *y, size_t o, double re, double im, const double *tw, size_t idx)
{
    double wr = tw[2 * idx], wi = tw[2 * idx + 1];
    y[2 * o] = re * wr - im * wi;
    y[2 * o + 1] = re * wi + im * wr;
}

static void stage2(const double *x, double *y, size_t m, size_t s, const double *tw)
{
    for (size_t k = 0; k < m; k++)
        for (size_t q = 0; q < s; q++) {
            const double *a0 = x + 2 * (q + s * k), *a1 = x + 2 * (q + s * (k + m));
            size_t o = q + s * 2 * k;
            y[2 * o] = a0[0] + a1[0];
            y[2 * o + 1] = a0[1] + a1[1];
            put_twiddled(y, o + s, a0[0] - a1[0], a0[1] - a1[1], tw, k * s);
        }
}

static void stage3(const double *x, double *y, size_t m, size_t s, const double *tw)
{
    const double h = 0.86602540378443864676; /* sin(2 pi / 3) */
    for (size_t k = 0; k < m; k++)
        for (size_t q = 0; q < s; q++) {
            const double *a0 = x + 2 * (q + s * k), *a1 = x + 2 * (q + s * (k + m));
            const double *a2 = x + 2 * (q + s * (k + 2 * m));
            double tr = a1[0] + a2[0], ti = a1[1] + a2[1];
            double mr = a0[0] - 0.5 * tr, mi = a0[1] - 0.5 * ti;
            /* -i h (a1 - a2) */
            double dr = h * (a1[1] - a2[1]), di = -h * (a1[0] - a2[0]);
            size_t o = q + s * 3 * k;
            y[2 * o] = a0[0] + tr;
            y[2 * o + 1] = a0[1] + ti;
            put_twiddled(y, o + s, mr + dr, mi + di, tw, k * s);
            put_twiddled(y, o + 2 * s, mr - dr, mi - di, tw, 2 * k * s);
        }
}

static void stage4(const double *x, double *y, size_t m, size_t s, const double *tw)
{
    for (size_t k = 0; k < m; k++)
        for (size_t q = 0; q < s; q++) {
            const double *a0 = x + 2 * (q + s * k), *a1 = x + 2 * (q + s * (k + m));
            const double *a2 = x + 2 * (q + s * (k + 2 * m)), *a3 = x + 2 * (q + s * (k + 3 * m));
            double t0r = a0[0] + a2[0], t0i = a0[1] + a2[1];
            double t1r = a0[0] - a2[0], t1i = a0[1] - a2[1];
            double t2r = a1[0] + a3[0], t2i = a1[1] + a3[1];
            double t3r = a1[1] - a3[1], t3i = -(a1[0] - a3[0]); /* -i (a1 - a3) */
            size_t o = q + s * 4 * k;
            y[2 * o] = t0r + t2r;
            y[2 * o + 1] = t0i + t2i;
            put_twiddled(y, o + s, t1r + t3r, t1i + t3i, tw, k * s);
            put_twiddled(y, o + 2 * s, t0r - t2r, t0i - t2i, tw, 2 * k * s);
            put_twiddled(y, o + 3 * s, t1r - t3r, t1i - t3i, tw, 3 * k * s);
        }
}

static void stage5(const double *x, double *y, size_t m, size_t s, const double *tw)
{
    const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410; /* cos(2 pi / 5), cos(4 pi / 5) */
    const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917; /* sin(2 pi / 5), sin(4 pi / 5) */
    for (size_t k = 0; k < m; k++)
        for (size_t q = 0; q < s; q++) {
            const double *a0 = x + 2 * (q + s * k), *a1 = x + 2 * (q + s * (k + m));
            const double *a2 = x + 2 * (q + s * (k + 2 * m)), *a3 = x + 2 * (q + s * (k + 3 * m));
            const double *a4 = x + 2 * (q + s * (k + 4 * m));
            double t1r = a1[0] + a4[0], t1i = a1[1] + a4[1], d1r = a1[0] - a4[0], d1i = a1[1] - a4[1];
            double t2r = a2[0] + a3[0], t2i = a2[1] + a3[1], d2r = a2[0] - a3[0], d2i = a2[1] - a3[1];
            double p1r = a0[0] + c1 * t1r + c2 * t2r, p1i = a0[1] + c1 * t1i + c2 * t2i;
            double p2r = a0[0] + c2 * t1r + c1 * t2r, p2i = a0[1] + c2 * t1i + c1 * t2i;
            /* -i (s1 d1 + s2 d2) and -i (s2 d1 - s1 d2) */
            double q1r = s1 * d1i + s2 * d2i, q1i = -(s1 * d1r + s2 * d2r);
            double q2r = s2 * d1i - s1 * d2i, q2i = -(s2 * d1r - s1 * d2r);
            size_t o = q + s * 5 * k;
            y[2 * o] = a0[0] + t1r + t2r;
            y[2 * o + 1] = a0[1] + t1i + t2i;
            put_twiddled(y, o + s, p1r + q1r, p1i + q1i, tw, k * s);
            put_twiddled(y, o + 2 * s, p2r + q2r, p2i + q2i, tw, 2 * k * s);
            put_twiddled(y, o + 3 * s, p2r - q2r, p2i - q2i, tw, 3 * k * s);
            put_twiddled(y, o + 4 * s, p1r - q1r, p1i - q1i, tw, 4 * k * s);
        }
}

/* Any odd prime radix r <= FFT_MAX_RADIX by its direct DFT; w_r^j = w_n^(j n / r). */
static void stage_generic(const double *x, double *y, int r, size_t m, size_t s, const double *tw, size_t n)
{
    double ar[FFT_MAX_RADIX], ai[FFT_MAX_RADIX];
    size_t step = n / (size_t)r;
    for (size_t k = 0; k < m; k++)
        for (size_t q = 0; q < s; q++) {
            for (int t = 0; t < r; t++) {
                const double *a = x + 2 * (q + s * (k + (size_t)t * m));
                ar[t] = a[0];
                ai[t] = a[1];
            }
            size_t o = q + s * (size_t)r * k;
            for (int u = 0; u < r; u++) {
                double br = ar[0], bi = ai[0];
                int j = 0; /* t * u mod r */
                for (int t = 1; t < r; t++) {
                    j += u;
                    if (j >= r) j -= r;
                    double wr = tw[2 * (size_t)j * step], wi = tw[2 * (size_t)j * step + 1];
                    br += ar[t] * wr - ai[t] * wi;
                    bi += ar[t] * wi + ai[t] * wr;
                }
                put_twiddled(y, o + (size_t)u * s, br, bi, tw, k * (size_t)u * s);
            }
        }
}

static void stockham(const fft_plan *p, double *x, double *work)
{
    double *src = x, *dst = work;
    size_t len = p->n, s = 1;
    for (int f = 0; f < p->n_factors; f++) {
        int r = p->factors[f];
        size_t m = len / (size_t)r;
        switch (r) {
        case 2: stage2(src, dst, m, s, p->tw); break;
        case 3: stage3(src, dst, m, s, p->tw); break;
        case 4: stage4(src, dst, m, s, p->tw); break;
        case 5: stage5(src, dst, m, s, p->tw); break;
        default: stage_generic(src, dst, r, m, s, p->tw, p->n); break;
        }
        double *t = src;
        src = dst;
        dst = t;
        len = m;
        s *= (size_t)r;
    }
    if (src != x) memcpy(x, src, 16 * p->n);
}

/* X[k] = c[k] sum_j (x[j] c[j]) conj(c[k - j]) with the chirp c[j] = exp(-pi i j^2 / n):
 * a circular convolution of length m, through the power-of-two plan. */
static void bluestein(const fft_plan *p, double *x, double *work)
{
    size_t n = p->n, m = p->m;
    const double *c = p->chirp, *kern = p->kernel;
    double *a = work, *sub_work = work + 2 * m;
    for (size_t j = 0; j < n; j++) {
        a[2 * j] = x[2 * j] * c[2 * j] - x[2 * j + 1] * c[2 * j + 1];
        a[2 * j + 1] = x[2 * j] * c[2 * j + 1] + x[2 * j + 1] * c[2 * j];
    }
    memset(a + 2 * n, 0, 16 * (m - n));
    f64_fft_scalar(p->sub, a, sub_work, false);
    for (size_t j = 0; j < m; j++) {
        double re = a[2 * j] * kern[2 * j] - a[2 * j + 1] * kern[2 * j + 1];
        double im = a[2 * j] * kern[2 * j + 1] + a[2 * j + 1] * kern[2 * j];
        a[2 * j] = re;
        a[2 * j + 1] = im;
    }
    f64_fft_scalar(p->sub, a, sub_work, true); /* the kernel carries the 1 / m */
    for (size_t j = 0; j < n; j++) {
        x[2 * j] = a[2 * j] * c[2 * j] - a[2 * j + 1] * c[2 * j + 1];
        x[2 * j + 1] = a[2 * j] * c[2 * j + 1] + a[2 * j + 1] * c[2 * j];
    }
}

/* The inverse is the forward transform of the conjugate, conjugated. */
void f64_fft_scalar(const fft_plan *p, double *x, double *work, bool inverse)
{
    size_t n = p->n;
    if (inverse)
        for (size_t j = 0; j < n; j++) x[2 * j + 1] = -x[2 * j + 1];
    if (p->m) bluestein(p, x, work);
    else stockham(p, x, work);
    if (inverse)
        for (size_t j = 0; j < n; j++) x[2 * j + 1] = -x[2 * j + 1];
}
