/*
 * Conformance runner for the ONNX backend node test suite.
 *
 *   conformance --suite DIR [--expect LIST] [--filter SUBSTR] [--table] [-v]
 *               [--write-passing FILE] [--fork]
 *
 * Every DIR/test_xxx folder holds model.onnx and test_data_set_N folders of
 * input_K.pb and output_K.pb TensorProtos. A case passes when every data set
 * runs and every output matches with the ONNX backend tolerances:
 * |got - expected| <= 1e-7 + 1e-3 * |expected| for floats (NaN matches NaN,
 * an infinity must be the same infinity), exact equality for integers and
 * bools, and identical dtype and shape. Inputs and outputs are matched to the
 * model's by the name stored in the .pb, by position when it has none.
 *
 * --expect LIST is the regression gate: every case it names must pass. Cases
 * that fail without being listed are fine (not implemented yet), and cases
 * that pass without being listed are only counted, with a hint to update the
 * list. The runner uses only the public API, runs each case in-process by
 * default so that leak checkers see the library's allocations, and with
 * --fork runs each case in a child process so a crash is reported as a
 * failure instead of ending the run.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edgeinfer.h"

#define ATOL 1e-7
#define RTOL 1e-3
#define REASON_LEN 1024
#define OP_LEN 128

static const char USAGE[] =
    "usage: conformance --suite DIR [--expect LIST] [--filter SUBSTR] [--table] [-v]\n"
    "                   [--write-passing FILE] [--fork] [--threads N]\n"
    "  --suite DIR           folder of test_* cases (model.onnx + test_data_set_*/)\n"
    "  --expect LIST         cases that must pass, one per line ('#' starts a comment);\n"
    "                        a listed case that fails is a regression (exit status 1)\n"
    "  --filter SUBSTR       only cases whose name contains SUBSTR\n"
    "  --table               per-op table of passed and total cases\n"
    "  -v                    one line per failing case with its reason\n"
    "  --write-passing FILE  write the sorted names of the passing cases to FILE\n"
    "  --fork                run each case in a child process (a crash becomes a failure)\n"
    "  --threads N           sessions split their nodes across N threads (one pool for all)\n";

static ei_threadpool *pool; /* --threads */

/* ---- small helpers ---- */

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy) return -1;
    l->v[l->n++] = copy;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strlist_sort(strlist *l)
{
    if (l->n) qsort(l->v, (size_t)l->n, sizeof *l->v, cmp_str);
}

/* l must be sorted */
static int strlist_has(const strlist *l, const char *s)
{
    return l->n && bsearch(&s, l->v, (size_t)l->n, sizeof *l->v, cmp_str) != NULL;
}

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void set_reason(char *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, REASON_LEN, fmt, ap);
    va_end(ap);
    for (char *p = reason; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int is_dir(const char *path)
{
    struct stat st;
    return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* Sorted names of the sub-folders of dir that start with prefix. */
static int list_dirs(const char *dir, const char *prefix, strlist *out)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    size_t plen = strlen(prefix);
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, plen)) continue;
        char *p = path_join(dir, e->d_name);
        if (!p) rc = -1;
        else if (is_dir(p)) rc = strlist_add(out, e->d_name);
        free(p);
    }
    closedir(d);
    strlist_sort(out);
    return rc;
}

/* Whole file into a malloc'd buffer; on failure a message in reason. */
static int read_file(const char *path, uint8_t **data, size_t *size, char *reason)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_reason(reason, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 14, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            set_reason(reason, "out of memory reading %s", path);
            return -1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *bigger = realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        set_reason(reason, "cannot read %s", path);
        return -1;
    }
    *data = buf;
    *size = n;
    return 0;
}

static void shape_text(const ei_tensor *t, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (n < len) snprintf(buf + n, len - n, "]");
}

static const char *dtype_text(int32_t dtype)
{
    const char *s = ei_dtype_name((ei_dtype)dtype);
    return s && *s ? s : "?";
}

static float half_to_float(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)frac, -24);
    else if (exp == 31) v = frac ? NAN : INFINITY;
    else v = ldexpf((float)(frac | 0x400), exp - 25);
    return sign ? -v : v;
}

/* Round to nearest even; the .pb decoder widened float16 inputs, a float16 model input
 * gets them back narrowed (exactly, since they were float16 to begin with). */
static uint16_t float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        int shift = 14 - e;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | (uint32_t)e << 10 | mant >> 13, rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry into the exponent is right */
    return (uint16_t)h;
}

/* ---- comparing one output ---- */

static double float_at(const ei_tensor *t, int64_t i)
{
    return t->dtype == EI_DTYPE_FLOAT64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

static int is_signed_int(int32_t d)
{
    return d == EI_DTYPE_INT8 || d == EI_DTYPE_INT16 || d == EI_DTYPE_INT32 || d == EI_DTYPE_INT64;
}

static int is_unsigned_int(int32_t d)
{
    return d == EI_DTYPE_UINT8 || d == EI_DTYPE_UINT16 || d == EI_DTYPE_UINT32 || d == EI_DTYPE_UINT64;
}

static long long int_at(const ei_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EI_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case EI_DTYPE_INT16: return ((const int16_t *)t->data)[i];
    case EI_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    default: return ((const int64_t *)t->data)[i];
    }
}

static unsigned long long uint_at(const ei_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EI_DTYPE_UINT8: return ((const uint8_t *)t->data)[i];
    case EI_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case EI_DTYPE_UINT32: return ((const uint32_t *)t->data)[i];
    default: return ((const uint64_t *)t->data)[i];
    }
}

/* 0 when got matches want; otherwise the reason. */
static int compare(const char *name, const ei_tensor *got_in, const ei_tensor *want, char *reason)
{
    ei_tensor got = *got_in;
    float *widened = NULL;
    int rc = -1;
    char gs[256], ws[256];
    shape_text(&got, gs, sizeof gs);
    shape_text(want, ws, sizeof ws);

    if (got.rank != want->rank || memcmp(got.dims, want->dims, (size_t)got.rank * sizeof got.dims[0])) {
        set_reason(reason, "output '%s': shape %s, expected %s", name, gs, ws);
        return -1;
    }
    int64_t n = ei_tensor_numel(want);
    /* the decoder widens float16 to float32; widen a float16 result the same way */
    if (got.dtype == EI_DTYPE_FLOAT16 && want->dtype == EI_DTYPE_FLOAT32) {
        widened = malloc(n > 0 ? (size_t)n * sizeof *widened : 1);
        if (!widened) {
            set_reason(reason, "output '%s': out of memory", name);
            return -1;
        }
        for (int64_t i = 0; i < n; i++) widened[i] = half_to_float(((const uint16_t *)got.data)[i]);
        got.dtype = EI_DTYPE_FLOAT32;
        got.data = widened;
    }
    /* bfloat16 results are compared bit for bit with the suite's uint16 data (see the inputs). */
    if (got.dtype == EI_DTYPE_BFLOAT16 && want->dtype == EI_DTYPE_UINT16) got.dtype = EI_DTYPE_UINT16;
    if (got.dtype != want->dtype) {
        set_reason(reason, "output '%s': dtype %s, expected %s", name, dtype_text(got.dtype), dtype_text(want->dtype));
        goto done;
    }
    if (n > 0 && (!got.data || !want->data)) {
        set_reason(reason, "output '%s': no data", name);
        goto done;
    }

    int64_t bad = 0, first = -1;
    double max_diff = 0;
    if (got.dtype == EI_DTYPE_FLOAT32 || got.dtype == EI_DTYPE_FLOAT64) {
        for (int64_t i = 0; i < n; i++) {
            double a = float_at(&got, i), b = float_at(want, i);
            int ok;
            if (isnan(b)) ok = isnan(a);
            else if (isinf(b)) ok = a == b;
            else ok = !isnan(a) && fabs(a - b) <= ATOL + RTOL * fabs(b);
            if (!ok) {
                if (first < 0) first = i;
                bad++;
                double d = fabs(a - b);
                if (!(d <= max_diff)) max_diff = d; /* NaN-aware */
            }
        }
        if (bad) {
            set_reason(reason,
                       "output '%s' %s: %lld of %lld values differ beyond %g + %g*|expected|; "
                       "first at flat index %lld: got %.9g, expected %.9g; max abs diff %.3g",
                       name, gs, (long long)bad, (long long)n, ATOL, RTOL, (long long)first,
                       float_at(&got, first), float_at(want, first), max_diff);
            goto done;
        }
    } else if (is_signed_int(got.dtype) || is_unsigned_int(got.dtype) || got.dtype == EI_DTYPE_BOOL) {
        for (int64_t i = 0; i < n; i++) {
            int same;
            if (got.dtype == EI_DTYPE_BOOL)
                same = (((const uint8_t *)got.data)[i] != 0) == (((const uint8_t *)want->data)[i] != 0);
            else if (is_signed_int(got.dtype)) same = int_at(&got, i) == int_at(want, i);
            else same = uint_at(&got, i) == uint_at(want, i);
            if (!same) {
                if (first < 0) first = i;
                bad++;
            }
        }
        if (bad) {
            char g[32], w[32];
            if (got.dtype == EI_DTYPE_BOOL) {
                snprintf(g, sizeof g, "%s", ((const uint8_t *)got.data)[first] ? "true" : "false");
                snprintf(w, sizeof w, "%s", ((const uint8_t *)want->data)[first] ? "true" : "false");
            } else if (is_signed_int(got.dtype)) {
                snprintf(g, sizeof g, "%lld", int_at(&got, first));
                snprintf(w, sizeof w, "%lld", int_at(want, first));
            } else {
                snprintf(g, sizeof g, "%llu", uint_at(&got, first));
                snprintf(w, sizeof w, "%llu", uint_at(want, first));
            }
            set_reason(reason, "output '%s' %s: %lld of %lld values differ; first at flat index %lld: got %s, expected %s",
                       name, gs, (long long)bad, (long long)n, (long long)first, g, w);
            goto done;
        }
    } else {
        set_reason(reason, "output '%s': cannot compare dtype %s", name, dtype_text(got.dtype));
        goto done;
    }
    rc = 0;
done:
    free(widened);
    return rc;
}

/* ---- one case ---- */

typedef struct case_result {
    int pass;
    char op[OP_LEN];        /* the op this case is counted under in the table */
    char reason[REASON_LEN]; /* why it failed */
} case_result;

/* Whether lowercase op name `op` is a prefix of `name` that ends at a word boundary, where
 * underscores in the name may be skipped: "reducesum" matches "reduce_sum_default", "log"
 * does not match "logsoftmax_axis_0". */
static int op_prefix(const char *name, const char *op)
{
    const char *p = name;
    for (const char *q = op; *q; q++) {
        while (*p == '_' && *q != '_') p++;
        if (*p != *q) return 0;
        p++;
    }
    return *p == '\0' || *p == '_';
}

/* The op a case tests: the model's only op type; else the op type among its nodes whose
 * lowercase name is the longest prefix of the case name after "test_" (see op_prefix);
 * else "(composite)". */
static void case_op(const ei_model *m, const char *case_name, char *op, size_t oplen)
{
    int n = ei_model_node_count(m);
    if (n <= 0) {
        snprintf(op, oplen, "(no nodes)");
        return;
    }
    const char *first = ei_model_node_op(m, 0);
    int single = 1;
    for (int i = 1; i < n && single; i++) single = !strcmp(ei_model_node_op(m, i), first);
    if (single) {
        snprintf(op, oplen, "%s", first);
        return;
    }
    const char *rest = case_name;
    if (!strncmp(rest, "test_", 5)) rest += 5;
    const char *best = NULL;
    size_t best_len = 0;
    for (int i = 0; i < n; i++) {
        const char *name = ei_model_node_op(m, i);
        char lower[OP_LEN];
        size_t len = strlen(name);
        if (len == 0 || len >= sizeof lower || len <= best_len) continue;
        for (size_t j = 0; j <= len; j++) lower[j] = (char)tolower((unsigned char)name[j]);
        if (op_prefix(rest, lower)) {
            best = name;
            best_len = len;
        }
    }
    snprintf(op, oplen, "%s", best ? best : "(composite)");
}

/* Model inputs and outputs must be tensors; the loader reports other types as UNDEFINED. */
static int check_tensor_io(const ei_model *m, char *reason)
{
    for (int is_out = 0; is_out < 2; is_out++) {
        for (int i = 0; i < ei_model_io_count(m, is_out); i++) {
            int32_t d = ei_model_io_dtype(m, is_out, i);
            if (d == EI_DTYPE_UNDEFINED) {
                set_reason(reason, "%s '%s' is not a tensor (sequence, optional and map types are not supported)",
                           is_out ? "output" : "input", ei_model_io_name(m, is_out, i));
                return -1;
            }
        }
    }
    return 0;
}

/* Decodes DIR/<kind>_<k>.pb; returns 1 when the file does not exist, -1 on failure. */
static int decode_pb(const char *dir, const char *kind, int k, ei_tensor *t, char *name, size_t namelen,
                     char *reason)
{
    char file[64];
    snprintf(file, sizeof file, "%s_%d.pb", kind, k);
    char *path = path_join(dir, file);
    if (!path) {
        set_reason(reason, "out of memory");
        return -1;
    }
    if (!is_file(path)) {
        free(path);
        return 1;
    }
    uint8_t *bytes;
    size_t size;
    int rc = read_file(path, &bytes, &size, reason);
    free(path);
    if (rc) return -1;
    char err[512] = "";
    memset(t, 0, sizeof *t);
    name[0] = '\0';
    ei_status st = ei_tensor_decode(bytes, size, t, name, namelen, err, sizeof err);
    free(bytes);
    if (st != EI_STATUS_OK) {
        set_reason(reason, "%s cannot be decoded: %s", file, *err ? err : ei_status_name(st));
        ei_tensor_free_data(t);
        return -1;
    }
    return 0;
}

/* Model index of a .pb tensor: by its name, else by its position. */
static int match_io(const ei_model *m, int is_out, const char *name, int k)
{
    if (*name) {
        int idx = ei_model_io_index(m, is_out, name);
        if (idx >= 0) return idx;
    }
    return k < ei_model_io_count(m, is_out) ? k : -1;
}

static const char *session_msg(const ei_session *s, ei_status st)
{
    const char *msg = s ? ei_session_errmsg(s) : NULL;
    return msg && *msg ? msg : ei_status_name(st);
}

typedef struct input_pb {
    ei_tensor t;     /* as decoded */
    ei_tensor bound; /* what is bound: t, or t narrowed to float16 */
    void *narrowed;  /* malloc'd float16 data, or NULL */
} input_pb;

static int run_data_set(const ei_model *m, ei_session *s, const char *dir, char *reason)
{
    int rc = -1, n_in = 0, cap = 0;
    input_pb *inputs = NULL;
    char name[256];

    for (;;) {
        if (n_in == cap) {
            cap = cap ? cap * 2 : 8;
            input_pb *v = realloc(inputs, (size_t)cap * sizeof *v);
            if (!v) {
                set_reason(reason, "out of memory");
                goto done;
            }
            inputs = v;
        }
        input_pb *in = &inputs[n_in];
        memset(in, 0, sizeof *in);
        int r = decode_pb(dir, "input", n_in, &in->t, name, sizeof name, reason);
        if (r > 0) break;
        if (r < 0) goto done;
        n_in++;
        int idx = match_io(m, 0, name, n_in - 1);
        if (idx < 0) {
            set_reason(reason, "input_%d.pb ('%s') matches no model input", n_in - 1, name);
            goto done;
        }
        in->bound = in->t;
        if (ei_model_io_dtype(m, 0, idx) == EI_DTYPE_FLOAT16 && in->t.dtype == EI_DTYPE_FLOAT32) {
            int64_t n = ei_tensor_numel(&in->t);
            uint16_t *h = malloc(n > 0 ? (size_t)n * sizeof *h : 1);
            if (!h) {
                set_reason(reason, "out of memory");
                goto done;
            }
            for (int64_t i = 0; i < n; i++) h[i] = float_to_half(((const float *)in->t.data)[i]);
            in->narrowed = h;
            in->bound.dtype = EI_DTYPE_FLOAT16;
            in->bound.data = h;
        }
        /* The suite stores bfloat16 data as uint16 TensorProtos (numpy has no bfloat16):
         * the same bits, labelled as the model declares them. */
        if (ei_model_io_dtype(m, 0, idx) == EI_DTYPE_BFLOAT16 && in->t.dtype == EI_DTYPE_UINT16)
            in->bound.dtype = EI_DTYPE_BFLOAT16;
        ei_status st = ei_session_set_input(s, idx, &in->bound);
        if (st != EI_STATUS_OK) {
            set_reason(reason, "%s", session_msg(s, st));
            goto done;
        }
    }
    ei_status st = ei_session_run(s);
    if (st != EI_STATUS_OK) {
        set_reason(reason, "%s", session_msg(s, st));
        goto done;
    }
    for (int k = 0;; k++) {
        ei_tensor want;
        int r = decode_pb(dir, "output", k, &want, name, sizeof name, reason);
        if (r > 0) break;
        if (r < 0) goto done;
        int idx = match_io(m, 1, name, k);
        int bad = 0;
        if (idx < 0) {
            set_reason(reason, "output_%d.pb ('%s') matches no model output", k, name);
            bad = 1;
        } else {
            ei_tensor got;
            st = ei_session_output(s, idx, &got);
            if (st != EI_STATUS_OK) {
                set_reason(reason, "%s", session_msg(s, st));
                bad = 1;
            } else {
                bad = compare(ei_model_io_name(m, 1, idx), &got, &want, reason) != 0;
            }
        }
        ei_tensor_free_data(&want);
        if (bad) goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < n_in; i++) {
        ei_tensor_free_data(&inputs[i].t);
        free(inputs[i].narrowed);
    }
    free(inputs);
    return rc;
}

/* --fork: the child's end of the pipe; the op is sent as soon as it is known, so that a case
 * that crashes later is still counted under its op. */
static int report_fd = -1;

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t read_all(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

static void run_case(const char *suite, const char *case_name, case_result *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->op, sizeof res->op, "(not loaded)");
    char *dir = path_join(suite, case_name);
    char *model_path = dir ? path_join(dir, "model.onnx") : NULL;
    strlist sets = {0};
    ei_model *m = NULL;
    ei_session *s = NULL;
    uint8_t *bytes;
    size_t size;
    if (!model_path) {
        set_reason(res->reason, "out of memory");
        goto done;
    }
    if (read_file(model_path, &bytes, &size, res->reason)) goto done;
    ei_status st = ei_model_load(bytes, size, EI_LOAD_TAKE, &m);
    if (st != EI_STATUS_OK) {
        const char *msg = m ? ei_model_errmsg(m) : NULL;
        set_reason(res->reason, "%s", msg && *msg ? msg : ei_status_name(st));
        goto done;
    }
    case_op(m, case_name, res->op, sizeof res->op);
    if (report_fd >= 0 && write_all(report_fd, res->op, sizeof res->op)) _exit(3);
    if (check_tensor_io(m, res->reason)) goto done;
    ei_session_options so;
    ei_session_options_default(&so);
    so.threadpool = pool;
    st = ei_session_create_with(m, &so, &s);
    if (st != EI_STATUS_OK) {
        set_reason(res->reason, "%s", session_msg(s, st));
        goto done;
    }
    if (list_dirs(dir, "test_data_set_", &sets)) {
        set_reason(res->reason, "cannot list %s: %s", dir, strerror(errno));
        goto done;
    }
    if (!sets.n) {
        set_reason(res->reason, "no test_data_set_* folder");
        goto done;
    }
    for (int i = 0; i < sets.n; i++) {
        char *set_dir = path_join(dir, sets.v[i]);
        char reason[REASON_LEN];
        int r = set_dir ? run_data_set(m, s, set_dir, reason) : (set_reason(reason, "out of memory"), -1);
        free(set_dir);
        if (r) {
            if (sets.n > 1) set_reason(res->reason, "%s: %s", sets.v[i], reason);
            else memcpy(res->reason, reason, sizeof reason);
            goto done;
        }
    }
    res->pass = 1;
done:
    ei_session_free(s);
    ei_model_free(m);
    strlist_free(&sets);
    free(model_path);
    free(dir);
}

/* Runs the case in a child process; a crash or an abnormal exit becomes the failure reason. */
static void run_case_forked(const char *suite, const char *case_name, case_result *res)
{
    int fds[2];
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds)) {
        memset(res, 0, sizeof *res);
        set_reason(res->reason, "pipe failed: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        memset(res, 0, sizeof *res);
        set_reason(res->reason, "fork failed: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        report_fd = fds[1];
        case_result r;
        run_case(suite, case_name, &r);
        /* a case that never loaded its model has not sent its op yet */
        if (!strcmp(r.op, "(not loaded)") && write_all(fds[1], r.op, sizeof r.op)) _exit(3);
        _exit(write_all(fds[1], &r, sizeof r) ? 3 : 0);
    }
    close(fds[1]);
    char op[OP_LEN];
    size_t got_op = read_all(fds[0], op, sizeof op);
    size_t got = got_op == sizeof op ? read_all(fds[0], res, sizeof *res) : 0;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got == sizeof *res && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    memset(res, 0, sizeof *res);
    if (got_op == sizeof op) memcpy(res->op, op, sizeof op);
    else snprintf(res->op, sizeof res->op, "(not loaded)");
    res->op[OP_LEN - 1] = '\0';
    if (WIFSIGNALED(status))
        set_reason(res->reason, "crashed with signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        set_reason(res->reason, "child exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* ---- the run ---- */

typedef struct options {
    const char *suite, *expect, *filter, *write_passing, *threads;
    int table, verbose, fork;
} options;

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = !strncmp(a, "--", 2) ? strchr(a, '=') : NULL;
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);
        const char **target = NULL;
        if (klen == 7 && !strncmp(a, "--suite", 7)) target = &o->suite;
        else if (klen == 8 && !strncmp(a, "--expect", 8)) target = &o->expect;
        else if (klen == 8 && !strncmp(a, "--filter", 8)) target = &o->filter;
        else if (klen == 15 && !strncmp(a, "--write-passing", 15)) target = &o->write_passing;
        else if (klen == 9 && !strncmp(a, "--threads", 9)) target = &o->threads;
        if (target) {
            if (eq) *target = eq + 1;
            else if (i + 1 < argc) *target = argv[++i];
            else {
                fprintf(stderr, "conformance: %.*s needs a value\n", (int)klen, a);
                return 2;
            }
            continue;
        }
        if (!strcmp(a, "--table")) o->table = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) o->verbose = 1;
        else if (!strcmp(a, "--fork")) o->fork = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return -1;
        } else {
            fprintf(stderr, "conformance: unknown argument '%s'\n%s", a, USAGE);
            return 2;
        }
    }
    if (!o->suite) {
        fprintf(stderr, "conformance: --suite DIR is required\n%s", USAGE);
        return 2;
    }
    return 0;
}

/* The case names of an --expect list: one per line, '#' to the end of a line is a comment. */
static int read_list(const char *path, strlist *out)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        char *end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1])) *--end = '\0';
        if (*p) rc = strlist_add(out, p);
    }
    if (ferror(f)) rc = -1;
    fclose(f);
    strlist_sort(out);
    return rc;
}

typedef struct op_row {
    char op[OP_LEN];
    int passed, total;
} op_row;

static int cmp_row(const void *a, const void *b)
{
    const op_row *x = a, *y = b;
    int px = x->op[0] == '(', py = y->op[0] == '('; /* "(composite)" and friends go last */
    if (px != py) return px - py;
    return strcmp(x->op, y->op);
}

static void print_table(const strlist *cases, const case_result *res)
{
    op_row *rows = calloc((size_t)cases->n + 1, sizeof *rows);
    if (!rows) return;
    int n = 0;
    for (int i = 0; i < cases->n; i++) {
        int k = 0;
        while (k < n && strcmp(rows[k].op, res[i].op)) k++;
        if (k == n) snprintf(rows[n++].op, OP_LEN, "%s", res[i].op);
        rows[k].total++;
        rows[k].passed += res[i].pass;
    }
    qsort(rows, (size_t)n, sizeof *rows, cmp_row);
    int width = 2;
    for (int k = 0; k < n; k++)
        if ((int)strlen(rows[k].op) > width) width = (int)strlen(rows[k].op);
    printf("%-*s  %6s  %5s\n", width, "op", "passed", "total");
    for (int k = 0; k < n; k++) printf("%-*s  %6d  %5d\n", width, rows[k].op, rows[k].passed, rows[k].total);
    free(rows);
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    int threads = o.threads ? atoi(o.threads) : 1;
    if (threads > 1 && ei_threadpool_create(threads, &pool) != EI_STATUS_OK) {
        fprintf(stderr, "conformance: cannot start %s threads\n", o.threads);
        return 2;
    }

    strlist all = {0}, cases = {0}, expect = {0};
    case_result *res = NULL;
    if (list_dirs(o.suite, "test_", &all)) {
        fprintf(stderr, "conformance: cannot read suite %s: %s\n", o.suite, strerror(errno));
        rc = 2;
        goto done;
    }
    if (o.expect && read_list(o.expect, &expect)) {
        int missing = errno == ENOENT;
        fprintf(stderr, "conformance: cannot read %s: %s%s\n", o.expect, errno ? strerror(errno) : "out of memory",
                missing ? " (write it with --write-passing, e.g. make conformance-update)" : "");
        rc = 2;
        goto done;
    }
    for (int i = 0; i < all.n; i++) {
        if (o.filter && !strstr(all.v[i], o.filter)) continue;
        if (strlist_add(&cases, all.v[i])) {
            fprintf(stderr, "conformance: out of memory\n");
            rc = 2;
            goto done;
        }
    }
    res = calloc((size_t)cases.n + 1, sizeof *res);
    if (!res) {
        fprintf(stderr, "conformance: out of memory\n");
        rc = 2;
        goto done;
    }

    int passed = 0;
    for (int i = 0; i < cases.n; i++) {
        if (o.fork) run_case_forked(o.suite, cases.v[i], &res[i]);
        else run_case(o.suite, cases.v[i], &res[i]);
        passed += res[i].pass;
        if (o.verbose && !res[i].pass) {
            printf("FAIL %s: %s\n", cases.v[i], res[i].reason);
            fflush(stdout);
        }
    }

    if (o.table) print_table(&cases, res);

    if (o.write_passing) {
        FILE *f = fopen(o.write_passing, "w");
        int ok = f != NULL;
        for (int i = 0; ok && i < cases.n; i++)
            if (res[i].pass && fprintf(f, "%s\n", cases.v[i]) < 0) ok = 0;
        if (f && fclose(f)) ok = 0;
        if (!ok) {
            fprintf(stderr, "conformance: cannot write %s: %s\n", o.write_passing, strerror(errno));
            rc = 2;
        }
    }

    if (o.expect) {
        int regressions = 0, unlisted = 0;
        for (int i = 0; i < cases.n; i++) {
            int listed = strlist_has(&expect, cases.v[i]);
            if (listed && !res[i].pass) {
                printf("REGRESSION: %s: %s\n", cases.v[i], res[i].reason);
                regressions++;
            }
            if (!listed && res[i].pass) unlisted++;
        }
        /* listed cases the suite does not have (within the filter) cannot pass either */
        for (int i = 0; i < expect.n; i++) {
            if (o.filter && !strstr(expect.v[i], o.filter)) continue;
            if (!strlist_has(&all, expect.v[i])) {
                printf("REGRESSION: %s: no such case in %s\n", expect.v[i], o.suite);
                regressions++;
            }
        }
        if (unlisted)
            printf("%d %s that %s does not list yet; add them with: make conformance-update\n", unlisted,
                   unlisted == 1 ? "case passes" : "cases pass", o.expect);
        if (regressions && !rc) rc = 1;
    }
    printf("%d passed, %d failed\n", passed, cases.n - passed);

done:
    free(res);
    ei_threadpool_free(pool);
    strlist_free(&all);
    strlist_free(&cases);
    strlist_free(&expect);
    return rc;
}
