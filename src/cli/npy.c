/*
 * Reader and writer for numpy .npy files (see npy.h for the format).
 *
 * The reader parses the header dict with a small tokenizer instead of
 * searching for substrings, so keys may come in any order and a header that
 * is not exactly one descr, one fortran_order and one shape is an error.
 * Sizes are checked with overflow-safe arithmetic before anything is copied:
 * a file claiming a shape of (10**18, 10**18) is reported, not allocated.
 */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* numpy type code <-> dtype. */
static const struct {
    const char *code;
    ei_dtype dtype;
    size_t size;
} TYPES[] = {
    {"f2", EI_DTYPE_FLOAT16, 2}, {"f4", EI_DTYPE_FLOAT32, 4}, {"f8", EI_DTYPE_FLOAT64, 8},
    {"i1", EI_DTYPE_INT8, 1},    {"i2", EI_DTYPE_INT16, 2},   {"i4", EI_DTYPE_INT32, 4},
    {"i8", EI_DTYPE_INT64, 8},   {"u1", EI_DTYPE_UINT8, 1},   {"u2", EI_DTYPE_UINT16, 2},
    {"u4", EI_DTYPE_UINT32, 4},  {"u8", EI_DTYPE_UINT64, 8},  {"b1", EI_DTYPE_BOOL, 1},
};
#define N_TYPES (sizeof TYPES / sizeof TYPES[0])

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

const char *npy_code(ei_dtype dtype)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (TYPES[i].dtype == dtype) return TYPES[i].code;
    return NULL;
}

/* ---- header tokenizer: a cursor over [p, end) ---- */
typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int accept_char(cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, copied into buf. */
static int parse_string(cursor *c, char *buf, size_t buflen)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || n + 1 >= buflen) return -1;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    buf[n] = '\0';
    return 0;
}

static int parse_word(cursor *c, const char *word)
{
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return 0;
    c->p += n;
    return 1;
}

/* A non-negative decimal integer (Python 2 headers may append 'L'). */
static int parse_dim(cursor *c, int64_t *v)
{
    skip_space(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
    int64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p++ - '0';
        if (x > (INT64_MAX - d) / 10) return -2;
        x = x * 10 + d;
    }
    if (c->p < c->end && *c->p == 'L') c->p++;
    *v = x;
    return 0;
}

static void shape_text(int rank, const int64_t *dims, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < rank && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (n < len) snprintf(buf + n, len - n, rank == 1 ? ",)" : ")");
}

typedef struct header {
    char descr[32];
    int fortran;
    int rank;
    int64_t dims[EI_MAX_DIMS];
} header;

static int parse_header(cursor *c, header *h, char *err, size_t errlen)
{
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (!accept_char(c, '{')) return fail(err, errlen, "header is not a Python dict literal");
    for (;;) {
        if (accept_char(c, '}')) break;
        char key[32];
        if (parse_string(c, key, sizeof key)) return fail(err, errlen, "header: expected a quoted key");
        if (!accept_char(c, ':')) return fail(err, errlen, "header: expected ':' after '%s'", key);
        if (!strcmp(key, "descr")) {
            if (seen_descr++) return fail(err, errlen, "header: 'descr' given twice");
            if (parse_string(c, h->descr, sizeof h->descr))
                return fail(err, errlen, "header: 'descr' is not a plain type string "
                                         "(structured dtypes are not supported)");
        } else if (!strcmp(key, "fortran_order")) {
            if (seen_fortran++) return fail(err, errlen, "header: 'fortran_order' given twice");
            if (parse_word(c, "True")) h->fortran = 1;
            else if (parse_word(c, "False")) h->fortran = 0;
            else return fail(err, errlen, "header: 'fortran_order' is neither True nor False");
        } else if (!strcmp(key, "shape")) {
            if (seen_shape++) return fail(err, errlen, "header: 'shape' given twice");
            if (!accept_char(c, '(')) return fail(err, errlen, "header: 'shape' is not a tuple");
            h->rank = 0;
            for (;;) {
                if (accept_char(c, ')')) break;
                int64_t d;
                int r = parse_dim(c, &d);
                if (r == -2) return fail(err, errlen, "header: a dimension of 'shape' is too large");
                if (r) return fail(err, errlen, "header: 'shape' must hold non-negative integers");
                if (h->rank == EI_MAX_DIMS)
                    return fail(err, errlen, "shape has more than %d dimensions", EI_MAX_DIMS);
                h->dims[h->rank++] = d;
                if (accept_char(c, ',')) continue;
                if (accept_char(c, ')')) break;
                return fail(err, errlen, "header: malformed 'shape' tuple");
            }
        } else {
            return fail(err, errlen, "header: unexpected key '%s'", key);
        }
        if (accept_char(c, ',')) continue;
        if (accept_char(c, '}')) break;
        return fail(err, errlen, "header: expected ',' or '}' after '%s'", key);
    }
    skip_space(c);
    if (c->p != c->end) return fail(err, errlen, "header: unexpected text after the dict");
    if (!seen_descr || !seen_fortran || !seen_shape)
        return fail(err, errlen, "header lacks '%s'",
                    !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
    return 0;
}

/* '<f4' -> dtype and element size; handles the byte-order character. */
static int parse_descr(const char *descr, ei_dtype *dtype, size_t *size, char *err, size_t errlen)
{
    const char *code = descr;
    char order = '=';
    if (*code == '<' || *code == '>' || *code == '|' || *code == '=') order = *code++;
    for (size_t i = 0; i < N_TYPES; i++) {
        if (strcmp(code, TYPES[i].code)) continue;
        if (TYPES[i].size > 1) {
            if (order == '>' || (order == '=' && !host_is_little_endian()))
                return fail(err, errlen, "big-endian dtype '%s' is not supported (save it as '<%s')",
                            descr, code);
            if (!host_is_little_endian())
                return fail(err, errlen, "multi-byte .npy data needs a little-endian host");
        }
        *dtype = TYPES[i].dtype;
        *size = TYPES[i].size;
        return 0;
    }
    return fail(err, errlen, "unsupported dtype '%s' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)", descr);
}

int npy_parse(const void *bytes, size_t size, ei_tensor *out, char *err, size_t errlen)
{
    const unsigned char *b = bytes;
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(b, MAGIC, sizeof MAGIC))
        return fail(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
    int major = b[6], minor = b[7];
    size_t start, hlen;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return fail(err, errlen, "truncated header (file has %zu bytes)", size);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return fail(err, errlen, "unsupported .npy format version %d.%d", major, minor);
    }
    if (hlen > size - start)
        return fail(err, errlen, "truncated header: it claims %zu bytes, the file has %zu after the preamble",
                    hlen, size - start);

    header h;
    memset(&h, 0, sizeof h);
    cursor c = {(const char *)b + start, (const char *)b + start + hlen};
    if (parse_header(&c, &h, err, errlen)) return -1;
    if (h.fortran)
        return fail(err, errlen, "fortran_order is True: only C-order arrays are supported "
                                 "(save np.ascontiguousarray(a))");
    ei_dtype dtype = EI_DTYPE_UNDEFINED;
    size_t esize = 1;
    if (parse_descr(h.descr, &dtype, &esize, err, errlen)) return -1;

    /* element count and byte size, refusing anything that overflows or exceeds the file */
    size_t avail = size - start - hlen;
    uint64_t count = 1;
    int zero = 0;
    for (int i = 0; i < h.rank; i++) zero |= h.dims[i] == 0;
    char shape[256];
    shape_text(h.rank, h.dims, shape, sizeof shape);
    if (!zero) {
        for (int i = 0; i < h.rank; i++) {
            if ((uint64_t)h.dims[i] > UINT64_MAX / esize / count)
                return fail(err, errlen, "shape %s of '%s' is too large (the file holds %zu data bytes)",
                            shape, h.descr, avail);
            count *= (uint64_t)h.dims[i];
        }
    } else {
        count = 0;
    }
    uint64_t nbytes = count * esize;
    if (nbytes > avail)
        return fail(err, errlen, "data too short: shape %s of '%s' needs %llu bytes, the file holds %zu",
                    shape, h.descr, (unsigned long long)nbytes, avail);
    if (nbytes < avail)
        return fail(err, errlen, "%zu bytes follow the data of shape %s of '%s' (several arrays in one file?)",
                    avail - (size_t)nbytes, shape, h.descr);

    void *data = malloc(nbytes ? (size_t)nbytes : 1);
    if (!data) return fail(err, errlen, "out of memory reading %llu bytes", (unsigned long long)nbytes);
    memcpy(data, b + start + hlen, (size_t)nbytes);
    if (dtype == EI_DTYPE_BOOL) {
        /* anything but 0 or 1 in a bool is not a valid C bool for the kernels */
        unsigned char *u = data;
        for (size_t i = 0; i < (size_t)nbytes; i++) u[i] = u[i] != 0;
    }
    out->dtype = dtype;
    out->rank = h.rank;
    memcpy(out->dims, h.dims, sizeof h.dims);
    out->data = data;
    return 0;
}

int npy_write(const char *path, const ei_tensor *t, char *err, size_t errlen)
{
    const char *code = npy_code((ei_dtype)t->dtype);
    if (!code) return fail(err, errlen, "dtype %s cannot be written to .npy", ei_dtype_name((ei_dtype)t->dtype));
    if (!host_is_little_endian() && ei_dtype_size((ei_dtype)t->dtype) > 1)
        return fail(err, errlen, "writing .npy needs a little-endian host");
    if (t->rank < 0 || t->rank > EI_MAX_DIMS) return fail(err, errlen, "bad rank %d", t->rank);

    size_t esize = ei_dtype_size((ei_dtype)t->dtype);
    uint64_t count = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0) return fail(err, errlen, "negative dimension %lld", (long long)t->dims[i]);
        if (t->dims[i] == 0) count = 0;
    }
    for (int i = 0; i < t->rank && count; i++) {
        if ((uint64_t)t->dims[i] > SIZE_MAX / esize / count) return fail(err, errlen, "tensor too large");
        count *= (uint64_t)t->dims[i];
    }
    size_t nbytes = (size_t)(count * esize);
    if (nbytes && !t->data) return fail(err, errlen, "tensor has no data");

    /* dict, padded with spaces so that preamble + header ends on a 64-byte boundary */
    char text[512];
    char shape[256];
    shape_text(t->rank, t->dims, shape, sizeof shape);
    int len = snprintf(text, sizeof text, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
                       esize == 1 ? '|' : '<', code, shape);
    if (len < 0 || (size_t)len + 64 >= sizeof text) return fail(err, errlen, "header too long");
    size_t total = ((size_t)(10 + len + 1) + 63) / 64 * 64;
    size_t hlen = total - 10;
    memset(text + len, ' ', hlen - 1 - (size_t)len);
    text[hlen - 1] = '\n';

    unsigned char pre[10];
    memcpy(pre, MAGIC, sizeof MAGIC);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    FILE *f = fopen(path, "wb");
    if (!f) return fail(err, errlen, "cannot create: %s", strerror(errno));
    int ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(text, 1, hlen, f) == hlen &&
             (nbytes == 0 || fwrite(t->data, 1, nbytes, f) == nbytes);
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        remove(path);
        return fail(err, errlen, "write failed: %s", strerror(saved));
    }
    return 0;
}
