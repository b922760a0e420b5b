/*
 * Small shared pieces: the persistent arena, dtype facts, and the helpers
 * that format shapes and node names for error messages.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

struct arena_block {
    arena_block *next;
    size_t used, cap;
    _Alignas(EI_ALIGN) unsigned char data[];
};

#define ARENA_CHUNK ((size_t)64 << 10)

void *arena_alloc(arena *a, size_t bytes)
{
    void *p = arena_alloc_uninit(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void *arena_alloc_uninit(arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX / 2) return NULL;
    size_t need = padded_size(bytes);
    arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        b = aligned_alloc(EI_ALIGN, (sizeof *b + cap + EI_ALIGN - 1) & ~(size_t)(EI_ALIGN - 1));
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        /* Keep a partly used head in front when the new block is a one-off large one. */
        if (a->head && cap > ARENA_CHUNK) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
        a->total += cap;
    }
    unsigned char *p = b->data + b->used;
    b->used += need;
    memset(p + bytes, 0, need - bytes);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = 0;
    return p;
}

void arena_free(arena *a)
{
    arena_block *b = a->head;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

size_t dtype_size(int32_t dtype)
{
    switch (dtype) {
    case EI_DTYPE_FLOAT32: case EI_DTYPE_INT32: case EI_DTYPE_UINT32: return 4;
    case EI_DTYPE_UINT8: case EI_DTYPE_INT8: case EI_DTYPE_BOOL: return 1;
    case EI_DTYPE_UINT16: case EI_DTYPE_INT16: case EI_DTYPE_FLOAT16: case EI_DTYPE_BFLOAT16: return 2;
    case EI_DTYPE_INT64: case EI_DTYPE_FLOAT64: case EI_DTYPE_UINT64: return 8;
    default: return 0;
    }
}

size_t ei_dtype_size(ei_dtype dtype) { return dtype_size(dtype); }

double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0) v = ldexp(m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

uint16_t half_from_double(double v)
{
    uint16_t sign = signbit(v) ? 0x8000 : 0;
    double a = fabs(v);
    if (isnan(v)) return sign | 0x7e00;
    if (a >= 65520.0) return sign | 0x7c00; /* 65520 is halfway past the largest half, 65504: ties go to inf */
    if (a < 6.103515625e-05) /* below the smallest normal, 2^-14: multiples of 2^-24 */
        return sign | (uint16_t)nearbyint(a * 16777216.0);
    int e;
    double fr = frexp(a, &e); /* a = fr * 2^e, fr in [0.5, 1) */
    int q = (int)nearbyint(ldexp(fr, 11)); /* 11 significant bits: [1024, 2048] */
    int biased = e - 1 + 15;
    if (q == 2048) {
        q = 1024;
        biased++;
    }
    return (uint16_t)(sign | biased << 10 | (q - 1024));
}

const char *ei_dtype_name(ei_dtype dtype)
{
    static const char *names[] = {"undefined", "float32", "uint8", "int8", "uint16", "int16", "int32",
                                  "int64", "string", "bool", "float16", "float64", "uint32", "uint64",
                                  "complex64", "complex128", "bfloat16"};
    if ((unsigned)dtype < sizeof names / sizeof names[0]) return names[dtype];
    return "unknown";
}

const char *ei_status_name(ei_status st)
{
    switch (st) {
    case EI_STATUS_OK: return "ok";
    case EI_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case EI_STATUS_INVALID_MODEL: return "invalid model";
    case EI_STATUS_UNSUPPORTED: return "unsupported";
    case EI_STATUS_INVALID_SHAPE: return "invalid shape";
    case EI_STATUS_OUT_OF_MEMORY: return "out of memory";
    case EI_STATUS_INVALID_STATE: return "invalid state";
    case EI_STATUS_PENDING: return "pending";
    default: return "unknown status";
    }
}

int64_t shape_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0) return -1;
        if (dims[d] && n > INT64_MAX / dims[d]) return -1;
        n *= dims[d];
    }
    return n;
}

int64_t ei_tensor_numel(const ei_tensor *t) { return shape_numel(t->rank, t->dims); }

int64_t tensor_nbytes(const ei_tensor *t)
{
    int64_t es = (int64_t)dtype_size(t->dtype), span = es;
    bool empty = false;
    if (es == 0 || t->rank < 0 || t->rank > EI_MAX_DIMS) return -1;
    for (int d = 0; d < t->rank; d++) {
        int64_t v = t->dims[d];
        if (v < 0) return -1;
        if (v == 0) empty = true;
        else if (span > EI_MAX_TENSOR_BYTES / v) return -1;
        else span *= v;
    }
    return empty ? 0 : span;
}

/* ---- the message formatter ----
 * What every message goes through instead of the C library's snprintf, whose float
 * formatting (%e, %f, %a, long double) and wide characters are most of the printf code in
 * the wasm build. It knows the conversions the messages use: %s (with precision .N or .*),
 * %c, %d and %u with the length modifiers l, ll and z, %g, and %%. %g gives printf's 6
 * significant digits, except that a value within a few units in the last place of halfway
 * between two 6-digit decimals may round the other way (it is scaled in double arithmetic). */
typedef struct fmt_out {
    char *buf;
    size_t cap, n;
} fmt_out;

static void fmt_put(fmt_out *o, char c)
{
    if (o->n + 1 < o->cap) o->buf[o->n++] = c;
}

static void fmt_str(fmt_out *o, const char *s, size_t max)
{
    for (size_t i = 0; i < max && s[i]; i++) fmt_put(o, s[i]);
}

static void fmt_uint(fmt_out *o, unsigned long long v, int min_digits)
{
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || k < min_digits);
    while (k) fmt_put(o, d[--k]);
}

static double pow10_int(int k)
{
    double p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

static void fmt_g(fmt_out *o, double v)
{
    if (signbit(v)) fmt_put(o, '-');
    v = fabs(v);
    if (!isfinite(v) || v == 0) {
        fmt_str(o, isnan(v) ? "nan" : isinf(v) ? "inf" : "0", 3);
        return;
    }
    int e = 0; /* v = d.ddddd x 10^e, give or take the rounding next to a power of 10 */
    for (double t = v; t >= 10; e++) t /= 10;
    for (double t = v; t < 1; e--) t *= 10;
    /* the 6 digits, rounded half to even like printf (powers of 10 below 10^23 are exact) */
    int k = 5 - e;
    double m = nearbyint(k >= 0 ? v * pow10_int(k / 2) * pow10_int(k - k / 2) : v / pow10_int(-k));
    if (m >= 1e6) {
        m = 1e5;
        e++;
    }
    unsigned long digits = (unsigned long)m;
    char d[6];
    int last = 0;
    for (int i = 5; i >= 0; i--, digits /= 10)
        if ((d[i] = (char)('0' + digits % 10)) != '0' && !last) last = i;
    if (e < -4 || e >= 6) {
        fmt_put(o, d[0]);
        if (last) fmt_put(o, '.');
        fmt_str(o, d + 1, (size_t)last);
        fmt_put(o, 'e');
        fmt_put(o, e < 0 ? '-' : '+');
        fmt_uint(o, (unsigned long long)(e < 0 ? -e : e), 2);
    } else if (e >= 0) {
        fmt_str(o, d, (size_t)e + 1);
        if (last > e) fmt_put(o, '.');
        if (last > e) fmt_str(o, d + e + 1, (size_t)(last - e));
    } else {
        fmt_str(o, "0.0000", (size_t)(1 - e));
        fmt_str(o, d, (size_t)last + 1);
    }
}

size_t ei_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    fmt_out o = {buf, cap, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            fmt_put(&o, *fmt);
            continue;
        }
        size_t prec = SIZE_MAX;
        if (fmt[1] == '.') {
            fmt += 2;
            if (*fmt == '*') prec = (size_t)va_arg(ap, int);
            else for (prec = 0; *fmt >= '0' && *fmt <= '9'; fmt++) prec = prec * 10 + (size_t)(*fmt - '0');
            if (*fmt != '*') fmt--;
        }
        int size = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
        while (*++fmt == 'l') size++;
        if (*fmt == 'z') size = 3, fmt++;
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            fmt_str(&o, s ? s : "(null)", prec);
            break;
        }
        case 'c': fmt_put(&o, (char)va_arg(ap, int)); break;
        case 'g': fmt_g(&o, va_arg(ap, double)); break;
        case 'd': {
            long long v = size == 0 ? va_arg(ap, int) : size == 1 ? va_arg(ap, long)
                        : size == 2 ? va_arg(ap, long long) : (long long)va_arg(ap, size_t);
            if (v < 0) fmt_put(&o, '-');
            fmt_uint(&o, v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v, 1);
            break;
        }
        case 'u':
            fmt_uint(&o, size == 0 ? va_arg(ap, unsigned) : size == 1 ? va_arg(ap, unsigned long)
                         : size == 2 ? va_arg(ap, unsigned long long) : va_arg(ap, size_t), 1);
            break;
        case 0: fmt--; /* a lone % at the end */ /* fall through */
        default: fmt_put(&o, '%');
        }
    }
    if (cap) buf[o.n] = 0;
    return o.n;
}

size_t ei_format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = ei_vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

static _Thread_local char label_buf[4][160];
static _Thread_local unsigned label_next;

const char *shape_str(const ei_tensor *t)
{
    char *b = label_buf[label_next++ & 3];
    size_t k = 0;
    b[k++] = '[';
    for (int d = 0; d < t->rank && k < 140; d++)
        k += ei_format(b + k, 160 - k, d ? ",%lld" : "%lld", (long long)t->dims[d]);
    ei_format(b + k, 160 - k, "]");
    return b;
}

const char *node_label(const node *n)
{
    char *b = label_buf[label_next++ & 3];
    if (n->name[0])
        ei_format(b, 160, "node '%.80s' (%.40s, opset %d)", n->name, n->op_type, n->opset);
    else
        ei_format(b, 160, "node with output '%.60s' (%.40s, opset %d)", n->label, n->op_type, n->opset);
    return b;
}

ei_status set_error(char *buf, ei_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ei_vformat(buf, EI_ERRMSG_LEN, fmt, ap);
    va_end(ap);
    utf8_trim(buf);
    return st;
}

size_t utf8_char_len(const char *s)
{
    unsigned char c = (unsigned char)s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
    for (size_t k = 1; k < n; k++)
        if (((unsigned char)s[k] & 0xc0) != 0x80) return k; /* a broken sequence: just its valid part */
    return n;
}

void utf8_trim(char *buf)
{
    size_t len = strlen(buf), k = len;
    while (k > 0 && len - k < 4 && ((unsigned char)buf[k - 1] & 0xc0) == 0x80) k--;
    if (k > 0 && (unsigned char)buf[k - 1] >= 0xc0 && utf8_char_len(buf + k - 1) > len - (k - 1)) buf[k - 1] = 0;
}
