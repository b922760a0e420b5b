/*
 * The edgeinfer command-line tool: inspect a model (info), run it on .npy
 * inputs (run), time it (bench) and write an int8 copy of it (quantize). It is
 * a thin client of the public API in edgeinfer.h, so it doubles as an example
 * of that API; quantize.c also reads the model with the library's protobuf
 * reader (src/loader/pb.h) to rewrite it.
 *
 * Every failure prints exactly one line, "edgeinfer: <file>: <message>", on
 * stderr and exits 1 (bad model, bad input file, failed run) or 2 (bad
 * command line). The library's messages already name the node, op and shapes
 * involved; the tool adds the file they came from.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "edgeinfer.h"
#include "npy.h"
#include "quantize.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DEFAULT_RUNS 50
#define WARMUP_RUNS 3
/* Refuse to synthesise inputs larger than this (a declared dim of 10^9 is a typo, not a request). */
#define MAX_FILL_BYTES ((uint64_t)1 << 32)

static const char HELP[] =
    "usage: edgeinfer <command> MODEL.onnx [options]\n"
    "\n"
    "commands:\n"
    "  info MODEL.onnx [--compiled]\n"
    "      IR version, opsets, producer, inputs and outputs (dtype and dims; symbolic\n"
    "      dims by name, e.g. [batch,64]), op histogram, weight bytes, planned arena\n"
    "      bytes, and the ops this build does not support (exit status 1 if any).\n"
    "      --compiled also lists the graph a session runs after the compile passes,\n"
    "      node by node in execution order, with what was fused into each node.\n"
    "  run MODEL.onnx [-i NAME=FILE.npy]... [-o OUTDIR] [--threads N]\n"
    "      Runs the model once and writes every output to OUTDIR/<name>.npy\n"
    "      (OUTDIR defaults to the current directory; it is created if missing).\n"
    "  bench MODEL.onnx [--runs N] [--threads N] [-i NAME=FILE.npy]...\n"
    "      Times session creation, then 3 warm-up runs and N timed runs (default 50),\n"
    "      and prints the min, median and 90th percentile latency in milliseconds.\n"
    "  quantize MODEL.onnx -o OUT.onnx --weights int8 [--calibrate DIR]\n"
    "      Writes an 8-bit QDQ copy: Conv, Gemm and MatMul weights int8, symmetric,\n"
    "      per output channel. With --calibrate, each DIR/*.npy is one value of the\n"
    "      model's (single) input: every float32 activation also gets uint8\n"
    "      QuantizeLinear/DequantizeLinear from the range seen over those samples,\n"
    "      and biases become int32 (static quantization, run in int8 by edgeinfer\n"
    "      and onnxruntime). Without it only the weights are quantized.\n"
    "  quantize MODEL.onnx -o OUT.onnx --dynamic\n"
    "      The form of onnxruntime's quantize_dynamic: each MatMul and Gemm by a\n"
    "      float32 weight becomes DynamicQuantizeLinear (uint8 activation, at run\n"
    "      time) + MatMulInteger (int8 weight per column) + Cast + Mul.\n"
    "  quantize MODEL.onnx -o OUT.onnx --weights int4 [--block-size N]\n"
    "      MatMul weights as 4-bit MatMulNBits (com.microsoft): blocks of N values\n"
    "      along K (16 to 256, default 32), each with a scale and a zero point.\n"
    "  --help, --version\n"
    "\n"
    "options:\n"
    "  -i, --input NAME=FILE.npy  bind model input NAME to a .npy file (repeatable)\n"
    "  -o, --outdir DIR           run: where the outputs go\n"
    "  -n, --runs N               bench: number of timed runs\n"
    "  -t, --threads N            run, bench: threads to split nodes across (default 1)\n"
    "      --strict               run, bench: every input must be given with -i\n"
    "\n"
    ".npy files: format 1.0 is written; 1.0, 2.0 and 3.0 are read. Element types\n"
    "f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, little-endian, C order (fortran_order\n"
    "True is rejected). The dtype must equal the input's declared dtype, and every\n"
    "fixed dim must match; symbolic dims accept any size.\n"
    "\n"
    "inputs not given with -i (and without --strict) are filled deterministically:\n"
    "symbolic dims become 1, and element i (in C order) is\n"
    "  float types:    ((i * 7919) % 2000) / 1000 - 1   (values in [-1, 1))\n"
    "  integer types:  i % 10\n"
    "  bool:           i % 2\n"
    "\n"
    "output file names: the output name with every '/', '\\', ':' and control\n"
    "character replaced by '_' (\"\", \".\" and \"..\" also become underscores), plus\n"
    "\".npy\". When two outputs map to the same name, the later one gets \"_<index>\"\n"
    "appended (its output index).\n"
    "\n"
    "exit status: 0 success, 1 model, input or run error (one line on stderr),\n"
    "2 bad command line.\n";

/* ---- errors: one line on stderr ---- */

static void errorf(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errorf(const char *file, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line, and no terminal control codes from names inside a hostile model */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    if (file) fprintf(stderr, "edgeinfer: %s: %s\n", file, msg);
    else fprintf(stderr, "edgeinfer: %s\n", msg);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "edgeinfer: %s (see edgeinfer --help)\n", msg);
    return EXIT_USAGE;
}

static const char *model_msg(const ei_model *m, ei_status st)
{
    const char *msg = m ? ei_model_errmsg(m) : NULL;
    return msg && *msg ? msg : ei_status_name(st);
}

static const char *session_msg(const ei_session *s, ei_status st)
{
    const char *msg = s ? ei_session_errmsg(s) : NULL;
    return msg && *msg ? msg : ei_status_name(st);
}

/* ---- files ---- */

/* Reads a whole file into a malloc'd buffer (one spare byte, so an empty file is not NULL). */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errorf(path, "cannot open: %s", strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            errorf(path, "out of memory reading the file");
            return -1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *bigger = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (ferror(f)) {
        errorf(path, "read failed: %s", strerror(errno));
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    *data = buf;
    *size = n;
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p) return -1;
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        if (mkdir(p, 0777) && errno != EEXIST) {
            free(p);
            return -1;
        }
        *q = '/';
    }
    int r = mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
    free(p);
    struct stat st;
    if (!r && stat(path, &st)) r = -1;
    else if (!r && !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        r = -1;
    }
    return r;
}

static ei_model *load_model(const char *path)
{
    uint8_t *bytes;
    size_t size;
    if (read_file(path, &bytes, &size)) return NULL;
    ei_model *m = NULL;
    ei_status st = ei_model_load(bytes, size, EI_LOAD_TAKE, &m); /* bytes now belong to the model */
    if (st != EI_STATUS_OK) {
        errorf(path, "%s", model_msg(m, st));
        ei_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- formatting ---- */

static void tensor_shape(const ei_tensor *t, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->rank && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (n < len) snprintf(buf + n, len - n, "]");
}

/* Declared dims of an input or output: "[batch,64]", "?" for an unnamed unknown dim. */
static void io_shape(const ei_model *m, int is_out, int idx, char *buf, size_t len)
{
    int rank = ei_model_io_rank(m, is_out, idx);
    if (rank < 0) {
        snprintf(buf, len, "(unknown rank)");
        return;
    }
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int a = 0; a < rank && n < len; a++) {
        int64_t d = ei_model_io_dim(m, is_out, idx, a);
        const char *sep = a ? "," : "";
        if (d >= 0) {
            n += (size_t)snprintf(buf + n, len - n, "%s%lld", sep, (long long)d);
        } else {
            const char *name = ei_model_io_dim_name(m, is_out, idx, a);
            n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, name && *name ? name : "?");
        }
    }
    if (n < len) snprintf(buf + n, len - n, "]");
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
    if (b < 1024) snprintf(buf, len, "%llu bytes", (unsigned long long)b);
    else if (b < (uint64_t)1 << 20) snprintf(buf, len, "%llu bytes (%.1f KiB)", (unsigned long long)b, b / 1024.0);
    else snprintf(buf, len, "%llu bytes (%.1f MiB)", (unsigned long long)b, b / 1048576.0);
}

static const char *dtype_str(ei_dtype d)
{
    const char *s = ei_dtype_name(d);
    return s && *s ? s : "?";
}

/* "node 'conv1'", or "node #3" when it has no name */
static void node_ref(const ei_model *m, int i, char *buf, size_t len)
{
    const char *name = ei_model_node_name(m, i);
    if (name && *name) snprintf(buf, len, "node '%s'", name);
    else snprintf(buf, len, "node #%d", i);
}

static int has_symbolic_inputs(const ei_model *m)
{
    for (int i = 0; i < ei_model_io_count(m, 0); i++) {
        int rank = ei_model_io_rank(m, 0, i);
        if (rank < 0) return 1;
        for (int a = 0; a < rank; a++)
            if (ei_model_io_dim(m, 0, i, a) < 0) return 1;
    }
    return 0;
}

/* ---- command line ---- */

typedef struct input_arg {
    const char *name;
    const char *file;
} input_arg;

typedef struct options {
    const char *model;
    input_arg *inputs; /* [n_inputs] */
    int n_inputs;
    const char *outdir;
    long runs;
    int strict; /* every input must be given with -i */
    int compiled; /* info: list the compiled graph */
    long threads;
} options;

enum { ALLOW_INPUTS = 1, ALLOW_OUTDIR = 2, ALLOW_RUNS = 4, ALLOW_COMPILED = 8 };

/* A whole number in [lo, hi] from option `key`'s value, or -1 after saying what is wrong. */
static long number_option(const char *key, const char *v, long lo, long hi)
{
    if (!v) return usage_error("%s needs a number", key), -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return usage_error("%s expects a whole number from %ld to %ld, got '%s'", key, lo, hi, v), -1;
    return n;
}

/* The value of an option given as "-x VALUE", "--long VALUE" or "--long=VALUE". */
static const char *option_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq) return eq + 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

static int parse_args(int argc, char **argv, int allow, const char *cmd, options *o)
{
    memset(o, 0, sizeof *o);
    o->outdir = ".";
    o->runs = DEFAULT_RUNS;
    o->threads = 1;
    o->inputs = calloc((size_t)argc + 1, sizeof *o->inputs);
    if (!o->inputs) {
        errorf(NULL, "out of memory");
        return EXIT_FAIL;
    }
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || !arg[1]) {
            if (o->model) return usage_error("%s: unexpected argument '%s' (one model per call)", cmd, arg);
            o->model = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = 1;
            continue;
        }
        /* --long=value */
        const char *eq = !strncmp(arg, "--", 2) ? strchr(arg, '=') : NULL;
        size_t keylen = eq ? (size_t)(eq - arg) : strlen(arg);
        char key[64];
        if (keylen >= sizeof key) return usage_error("%s: unknown option '%s'", cmd, arg);
        memcpy(key, arg, keylen);
        key[keylen] = '\0';

        if (!strcmp(key, "-i") || !strcmp(key, "--input")) {
            if (!(allow & ALLOW_INPUTS)) return usage_error("%s does not take %s", cmd, key);
            const char *v = option_value(argc, argv, &i, eq);
            if (!v) return usage_error("%s needs NAME=FILE.npy", key);
            const char *sep = strchr(v, '=');
            if (!sep || sep == v || !sep[1]) return usage_error("%s expects NAME=FILE.npy, got '%s'", key, v);
            for (int k = 0; k < o->n_inputs; k++) {
                if (strlen(o->inputs[k].name) == (size_t)(sep - v) && !strncmp(o->inputs[k].name, v, (size_t)(sep - v)))
                    return usage_error("input '%.*s' is given twice", (int)(sep - v), v);
            }
            /* keep the name NUL-terminated without copying: write over the '=' in argv */
            ((char *)sep)[0] = '\0';
            o->inputs[o->n_inputs].name = v;
            o->inputs[o->n_inputs].file = sep + 1;
            o->n_inputs++;
        } else if (!strcmp(key, "-o") || !strcmp(key, "--outdir") || !strcmp(key, "--output-dir")) {
            if (!(allow & ALLOW_OUTDIR)) return usage_error("%s does not take %s", cmd, key);
            const char *v = option_value(argc, argv, &i, eq);
            if (!v || !*v) return usage_error("%s needs a directory", key);
            o->outdir = v;
        } else if (!strcmp(key, "--compiled")) {
            if (!(allow & ALLOW_COMPILED)) return usage_error("%s does not take %s", cmd, key);
            o->compiled = 1;
        } else if (!strcmp(key, "--strict")) {
            if (!(allow & ALLOW_INPUTS)) return usage_error("%s does not take %s", cmd, key);
            o->strict = 1;
        } else if (!strcmp(key, "-n") || !strcmp(key, "--runs")) {
            if (!(allow & ALLOW_RUNS)) return usage_error("%s does not take %s", cmd, key);
            if ((o->runs = number_option(key, option_value(argc, argv, &i, eq), 1, 10000000)) < 0) return EXIT_USAGE;
        } else if (!strcmp(key, "-t") || !strcmp(key, "--threads")) {
            if (!(allow & ALLOW_INPUTS)) return usage_error("%s does not take %s", cmd, key);
            if ((o->threads = number_option(key, option_value(argc, argv, &i, eq), 1, EI_MAX_THREADS)) < 0)
                return EXIT_USAGE;
        } else {
            return usage_error("%s: unknown option '%s'", cmd, arg);
        }
    }
    if (!o->model) return usage_error("%s needs a model file", cmd);
    return EXIT_OK;
}

/* ---- inputs: from .npy files or the documented fill ---- */

typedef struct bound_input {
    ei_tensor t;        /* data malloc'd */
    const char *source; /* the .npy path, or NULL when filled */
} bound_input;

static void free_inputs(bound_input *b, int n)
{
    if (!b) return;
    for (int i = 0; i < n; i++) free(b[i].t.data);
    free(b);
}

/* The model's input names, comma separated, for messages. */
static void input_names(const ei_model *m, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    int count = ei_model_io_count(m, 0);
    for (int i = 0; i < count && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s'%s'", i ? ", " : "", ei_model_io_name(m, 0, i));
    if (!count) snprintf(buf, len, "none");
}

/* Checks a .npy tensor against input idx's declared dtype and dims. */
static int check_input(const ei_model *m, int idx, const ei_tensor *t, const char *file)
{
    const char *name = ei_model_io_name(m, 0, idx);
    ei_dtype want = ei_model_io_dtype(m, 0, idx);
    if (want != EI_DTYPE_UNDEFINED && want != (ei_dtype)t->dtype) {
        errorf(file, "input '%s' needs dtype %s, the file holds %s", name, dtype_str(want),
               dtype_str((ei_dtype)t->dtype));
        return -1;
    }
    int rank = ei_model_io_rank(m, 0, idx);
    if (rank < 0) return 0;
    int ok = rank == t->rank;
    for (int a = 0; ok && a < rank; a++) {
        int64_t d = ei_model_io_dim(m, 0, idx, a);
        if (d >= 0 && d != t->dims[a]) ok = 0;
    }
    if (!ok) {
        char want_s[256], got_s[256];
        io_shape(m, 0, idx, want_s, sizeof want_s);
        tensor_shape(t, got_s, sizeof got_s);
        errorf(file, "input '%s' needs shape %s, the file holds shape %s", name, want_s, got_s);
        return -1;
    }
    return 0;
}

static int fill_input(const ei_model *m, int idx, ei_tensor *t, const char *model_path)
{
    const char *name = ei_model_io_name(m, 0, idx);
    ei_dtype dt = ei_model_io_dtype(m, 0, idx);
    int rank = ei_model_io_rank(m, 0, idx);
    int is_float = dt == EI_DTYPE_FLOAT32 || dt == EI_DTYPE_FLOAT64;
    int is_int = dt == EI_DTYPE_INT8 || dt == EI_DTYPE_INT16 || dt == EI_DTYPE_INT32 || dt == EI_DTYPE_INT64 ||
                 dt == EI_DTYPE_UINT8 || dt == EI_DTYPE_UINT16 || dt == EI_DTYPE_UINT32 || dt == EI_DTYPE_UINT64;
    if (!is_float && !is_int && dt != EI_DTYPE_BOOL) {
        errorf(model_path, "input '%s' has dtype %s, which the tool cannot fill; give it with -i %s=FILE.npy",
               name, dtype_str(dt), name);
        return -1;
    }
    if (rank < 0 || rank > EI_MAX_DIMS) {
        errorf(model_path, "input '%s' has no declared shape; give it with -i %s=FILE.npy", name, name);
        return -1;
    }
    size_t esize = ei_dtype_size(dt);
    uint64_t count = 1;
    t->dtype = dt;
    t->rank = rank;
    for (int a = 0; a < rank; a++) {
        int64_t d = ei_model_io_dim(m, 0, idx, a);
        t->dims[a] = d < 0 ? 1 : d;
    }
    for (int a = 0; a < rank; a++) {
        uint64_t d = (uint64_t)t->dims[a];
        if (d && count > MAX_FILL_BYTES / esize / d) {
            char s[256];
            io_shape(m, 0, idx, s, sizeof s);
            errorf(model_path, "input '%s' of shape %s is too large to fill; give it with -i %s=FILE.npy", name, s,
                   name);
            return -1;
        }
        count *= d;
    }
    uint8_t *data = malloc(count > 0 ? (size_t)(count * esize) : 1);
    if (!data) {
        errorf(model_path, "out of memory filling input '%s'", name);
        return -1;
    }
    for (uint64_t i = 0; i < count; i++) {
        double f = (double)((i * 7919) % 2000) / 1000.0 - 1.0;
        switch (dt) {
        case EI_DTYPE_FLOAT32: ((float *)data)[i] = (float)f; break;
        case EI_DTYPE_FLOAT64: ((double *)data)[i] = f; break;
        case EI_DTYPE_INT8: ((int8_t *)data)[i] = (int8_t)(i % 10); break;
        case EI_DTYPE_INT16: ((int16_t *)data)[i] = (int16_t)(i % 10); break;
        case EI_DTYPE_INT32: ((int32_t *)data)[i] = (int32_t)(i % 10); break;
        case EI_DTYPE_INT64: ((int64_t *)data)[i] = (int64_t)(i % 10); break;
        case EI_DTYPE_UINT8: ((uint8_t *)data)[i] = (uint8_t)(i % 10); break;
        case EI_DTYPE_UINT16: ((uint16_t *)data)[i] = (uint16_t)(i % 10); break;
        case EI_DTYPE_UINT32: ((uint32_t *)data)[i] = (uint32_t)(i % 10); break;
        case EI_DTYPE_UINT64: ((uint64_t *)data)[i] = i % 10; break;
        default: data[i] = (uint8_t)(i % 2); break; /* bool */
        }
    }
    t->data = data;
    return 0;
}

/* Reads the -i files and fills the rest; *out gets one entry per model input. */
static int prepare_inputs(const ei_model *m, const options *o, bound_input **out)
{
    int n = ei_model_io_count(m, 0);
    bound_input *b = calloc(n > 0 ? (size_t)n : 1, sizeof *b);
    if (!b) {
        errorf(o->model, "out of memory");
        return -1;
    }
    for (int k = 0; k < o->n_inputs; k++) {
        const input_arg *a = &o->inputs[k];
        int idx = ei_model_io_index(m, 0, a->name);
        if (idx < 0) {
            char names[1024];
            input_names(m, names, sizeof names);
            errorf(a->file, "the model has no input named '%s' (its inputs: %s)", a->name, names);
            goto fail;
        }
        uint8_t *bytes;
        size_t size;
        if (read_file(a->file, &bytes, &size)) goto fail;
        char err[512];
        int r = npy_parse(bytes, size, &b[idx].t, err, sizeof err);
        free(bytes);
        if (r) {
            errorf(a->file, "%s", err);
            goto fail;
        }
        b[idx].source = a->file;
        if (check_input(m, idx, &b[idx].t, a->file)) goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (!b[i].source && o->strict) {
            errorf(o->model, "input '%s' is missing: give it with -i %s=FILE.npy (--strict turns off the fill)",
                   ei_model_io_name(m, 0, i), ei_model_io_name(m, 0, i));
            goto fail;
        }
        if (!b[i].source && fill_input(m, i, &b[i].t, o->model)) goto fail;
    }
    *out = b;
    return 0;
fail:
    free_inputs(b, n);
    return -1;
}

static int bind_inputs(ei_session *s, const ei_model *m, const bound_input *b, const char *model_path)
{
    for (int i = 0; i < ei_model_io_count(m, 0); i++) {
        ei_status st = ei_session_set_input(s, i, &b[i].t);
        if (st != EI_STATUS_OK) {
            errorf(b[i].source ? b[i].source : model_path, "%s", session_msg(s, st));
            return -1;
        }
    }
    return 0;
}

/* A session of m on `threads` threads; *pool gets the pool it runs on (NULL for one thread). */
static ei_session *create_session(const ei_model *m, const char *model_path, long threads, ei_threadpool **pool)
{
    ei_session *s = NULL;
    ei_session_options so;
    ei_session_options_default(&so);
    ei_status st = threads > 1 ? ei_threadpool_create((int)threads, pool) : EI_STATUS_OK;
    if (st != EI_STATUS_OK) {
        errorf(model_path, "cannot start %ld threads (%s)", threads, ei_status_name(st));
        return NULL;
    }
    so.threadpool = *pool;
    st = ei_session_create_with(m, &so, &s);
    if (st != EI_STATUS_OK) {
        errorf(model_path, "%s", session_msg(s, st));
        ei_session_free(s);
        return NULL;
    }
    return s;
}

/* ---- info ---- */

typedef struct op_count {
    const char *op, *domain;
    int count;
} op_count;

static int by_count_then_name(const void *a, const void *b)
{
    const op_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    int c = strcmp(x->domain, y->domain);
    return c ? c : strcmp(x->op, y->op);
}

static int is_default_domain(const char *d)
{
    return !d || !*d || !strcmp(d, "ai.onnx");
}

static void print_io(const ei_model *m, int is_out)
{
    int n = ei_model_io_count(m, is_out);
    printf("%-10s %d\n", is_out ? "outputs" : "inputs", n);
    int width = 4;
    for (int i = 0; i < n; i++) {
        int len = (int)strlen(ei_model_io_name(m, is_out, i));
        if (len > width) width = len;
    }
    if (width > 40) width = 40;
    for (int i = 0; i < n; i++) {
        char shape[512];
        io_shape(m, is_out, i, shape, sizeof shape);
        printf("  %-*s  %-8s %s\n", width, ei_model_io_name(m, is_out, i), dtype_str(ei_model_io_dtype(m, is_out, i)),
               shape);
    }
}

/* The session's compiled graph: one line per node, "op [fused] name". */
static void print_compiled(const ei_session *s)
{
    int n = ei_session_node_count(s), fused = 0;
    for (int i = 0; i < n; i++) fused += *ei_session_node_fused(s, i) != 0;
    printf("%-10s %d nodes, %d with fused work\n", "compiled", n, fused);
    for (int i = 0; i < n; i++) {
        char op[512];
        const char *f = ei_session_node_fused(s, i);
        snprintf(op, sizeof op, "%s%s%s%s", ei_session_node_op(s, i), *f ? " [" : "", f, *f ? "]" : "");
        printf("  %-40s  %s\n", op, ei_session_node_name(s, i));
    }
}

static int cmd_info(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, ALLOW_COMPILED, "info", &o);
    if (rc) {
        free(o.inputs);
        return rc;
    }
    ei_model *m = load_model(o.model);
    if (!m) {
        free(o.inputs);
        return EXIT_FAIL;
    }
    int n_nodes = ei_model_node_count(m);
    op_count *ops = calloc(n_nodes > 0 ? (size_t)n_nodes : 1, sizeof *ops);
    const char **domains = calloc((size_t)(n_nodes > 0 ? n_nodes : 0) + 1, sizeof *domains);
    if (!ops || !domains) {
        errorf(o.model, "out of memory");
        free(ops);
        free(domains);
        ei_model_free(m);
        free(o.inputs);
        return EXIT_FAIL;
    }

    printf("%-10s %s\n", "model", o.model);
    printf("%-10s %lld\n", "ir", (long long)ei_model_ir_version(m));
    const char *producer = ei_model_producer(m);
    printf("%-10s %s\n", "producer", producer && *producer ? producer : "(none)");

    /* opsets: the default domain, then every other domain a node uses */
    int n_domains = 0;
    domains[n_domains++] = "";
    for (int i = 0; i < n_nodes; i++) {
        const char *d = ei_model_node_domain(m, i);
        if (is_default_domain(d)) continue;
        int seen = 0;
        for (int k = 0; k < n_domains && !seen; k++) seen = !strcmp(domains[k], d);
        if (!seen) domains[n_domains++] = d;
    }
    printf("%-10s", "opsets");
    for (int k = 0; k < n_domains; k++) {
        int64_t v = ei_model_opset(m, domains[k]);
        printf("%s%s %lld", k ? ", " : " ", *domains[k] ? domains[k] : "ai.onnx", (long long)v);
    }
    printf("\n");

    print_io(m, 0);
    print_io(m, 1);

    int n_ops = 0, n_unsupported = 0;
    for (int i = 0; i < n_nodes; i++) {
        const char *op = ei_model_node_op(m, i), *d = ei_model_node_domain(m, i);
        if (is_default_domain(d)) d = "";
        if (!ei_model_node_supported(m, i)) n_unsupported++;
        int k = 0;
        while (k < n_ops && (strcmp(ops[k].op, op) || strcmp(ops[k].domain, d))) k++;
        if (k == n_ops) ops[n_ops++] = (op_count){op, d, 0};
        ops[k].count++;
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, by_count_then_name);
    printf("%-10s %d (%d op types)\n", "nodes", n_nodes, n_ops);
    int width = 4;
    for (int k = 0; k < n_ops; k++) {
        int len = (int)(strlen(ops[k].op) + (*ops[k].domain ? strlen(ops[k].domain) + 1 : 0));
        if (len > width) width = len;
    }
    for (int k = 0; k < n_ops; k++) {
        char label[512];
        if (*ops[k].domain) snprintf(label, sizeof label, "%s:%s", ops[k].domain, ops[k].op);
        else snprintf(label, sizeof label, "%s", ops[k].op);
        printf("  %-*s  %d\n", width, label, ops[k].count);
    }

    char size[64];
    human_bytes(ei_model_weight_bytes(m), size, sizeof size);
    printf("%-10s %s\n", "weights", size);

    rc = EXIT_OK;
    if (n_unsupported) {
        printf("%-10s not planned (unsupported ops)\n", "arena");
        printf("unsupported ops: %d\n", n_unsupported);
        int opw = 4;
        for (int i = 0; i < n_nodes; i++) {
            const char *d = ei_model_node_domain(m, i);
            int len = (int)(strlen(ei_model_node_op(m, i)) + (is_default_domain(d) ? 0 : strlen(d) + 1));
            if (!ei_model_node_supported(m, i) && len > opw) opw = len;
        }
        char line[1024];
        size_t len = 0;
        int listed = 0;
        for (int i = 0; i < n_nodes; i++) {
            if (ei_model_node_supported(m, i)) continue;
            char ref[300];
            node_ref(m, i, ref, sizeof ref);
            const char *d = ei_model_node_domain(m, i);
            char opset[64] = "";
            int64_t v = ei_model_opset(m, is_default_domain(d) ? "" : d);
            if (v > 0) snprintf(opset, sizeof opset, ", opset %lld", (long long)v);
            char label[512];
            snprintf(label, sizeof label, "%s%s%s", is_default_domain(d) ? "" : d, is_default_domain(d) ? "" : ":",
                     ei_model_node_op(m, i));
            printf("  %-*s  %s%s\n", opw, label, ref, opset);
            if (listed < 5 && len < sizeof line) {
                len += (size_t)snprintf(line + len, sizeof line - len, "%s%s (%s%s)", listed ? ", " : "",
                                        ei_model_node_op(m, i), ref, opset);
                listed++;
            }
        }
        if (n_unsupported > listed && len < sizeof line)
            snprintf(line + len, sizeof line - len, " and %d more", n_unsupported - listed);
        fflush(stdout);
        errorf(o.model, "%d unsupported op%s: %s", n_unsupported, n_unsupported > 1 ? "s" : "", line);
        rc = EXIT_FAIL;
    } else {
        ei_session *s = NULL;
        ei_status st = ei_session_create(m, &s);
        if (st != EI_STATUS_OK) {
            printf("%-10s not planned (session creation failed)\n", "arena");
            printf("unsupported ops: none\n");
            fflush(stdout);
            errorf(o.model, "%s", session_msg(s, st));
            rc = EXIT_FAIL;
        } else if (has_symbolic_inputs(m)) {
            printf("%-10s planned at first run (symbolic input dims)\n", "arena");
            printf("unsupported ops: none\n");
        } else {
            size_t a = ei_session_arena_bytes(s);
            human_bytes(a, size, sizeof size);
            printf("%-10s %s%s\n", "arena", size,
                   a == 0 && n_nodes > 0 ? " (nothing planned before the first run)" : "");
            printf("unsupported ops: none\n");
        }
        if (st == EI_STATUS_OK && o.compiled) print_compiled(s);
        ei_session_free(s);
    }
    free(ops);
    free(domains);
    ei_model_free(m);
    free(o.inputs);
    return rc;
}

/* ---- run ---- */

/* Output name -> file name (see the help text). */
static char *safe_file_name(const char *name)
{
    size_t n = strlen(name);
    char *s = malloc(n + 3);
    if (!s) return NULL;
    if (n == 0 || !strcmp(name, ".") || !strcmp(name, "..")) {
        memset(s, '_', n ? n : 1);
        s[n ? n : 1] = '\0';
        return s;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        s[i] = (c == '/' || c == '\\' || c == ':' || c < 0x20 || c == 0x7f) ? '_' : (char)c;
    }
    s[n] = '\0';
    return s;
}

static int write_outputs(ei_session *s, const ei_model *m, const char *outdir, const char *model_path)
{
    int n = ei_model_io_count(m, 1);
    char **files = calloc(n > 0 ? (size_t)n : 1, sizeof *files);
    int rc = 0;
    if (!files) {
        errorf(outdir, "out of memory");
        return -1;
    }
    for (int i = 0; i < n && !rc; i++) {
        const char *name = ei_model_io_name(m, 1, i);
        ei_tensor t;
        ei_status st = ei_session_output(s, i, &t);
        if (st != EI_STATUS_OK) {
            errorf(model_path, "output '%s': %s", name, session_msg(s, st));
            rc = -1;
            break;
        }
        char *base = safe_file_name(name);
        if (!base) {
            errorf(outdir, "out of memory");
            rc = -1;
            break;
        }
        for (int k = 0; k < i; k++) {
            if (files[k] && !strcmp(files[k], base)) {
                char *longer = malloc(strlen(base) + 24);
                if (longer) snprintf(longer, strlen(base) + 24, "%s_%d", base, i);
                free(base);
                base = longer;
                break;
            }
        }
        files[i] = base;
        if (!base) {
            errorf(outdir, "out of memory");
            rc = -1;
            break;
        }
        size_t len = strlen(outdir) + strlen(base) + 8;
        char *path = malloc(len);
        if (!path) {
            errorf(outdir, "out of memory");
            rc = -1;
            break;
        }
        snprintf(path, len, "%s/%s.npy", outdir, base);
        char err[512];
        if (npy_write(path, &t, err, sizeof err)) {
            errorf(path, "output '%s': %s", name, err);
            rc = -1;
        } else {
            char shape[256];
            tensor_shape(&t, shape, sizeof shape);
            printf("output %s: %s %s -> %s\n", name, dtype_str((ei_dtype)t.dtype), shape, path);
        }
        free(path);
    }
    for (int i = 0; i < n; i++) free(files[i]);
    free(files);
    return rc;
}

static void print_inputs(const ei_model *m, const bound_input *b)
{
    for (int i = 0; i < ei_model_io_count(m, 0); i++) {
        char shape[256];
        tensor_shape(&b[i].t, shape, sizeof shape);
        if (b[i].source)
            printf("input  %s: %s %s <- %s\n", ei_model_io_name(m, 0, i), dtype_str((ei_dtype)b[i].t.dtype), shape,
                   b[i].source);
        else
            printf("input  %s: %s %s (filled)\n", ei_model_io_name(m, 0, i), dtype_str((ei_dtype)b[i].t.dtype), shape);
    }
}

static int cmd_run(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, ALLOW_INPUTS | ALLOW_OUTDIR, "run", &o);
    if (rc) {
        free(o.inputs);
        return rc;
    }
    rc = EXIT_FAIL;
    bound_input *b = NULL;
    ei_session *s = NULL;
    ei_threadpool *pool = NULL;
    ei_model *m = load_model(o.model);
    if (!m) goto done;
    if (prepare_inputs(m, &o, &b)) goto done;
    /* before the run, which may take a while: a bad -o is reported at once */
    if (make_dirs(o.outdir)) {
        errorf(o.outdir, "cannot create the output directory: %s", strerror(errno));
        goto done;
    }
    s = create_session(m, o.model, o.threads, &pool);
    if (!s) goto done;
    if (bind_inputs(s, m, b, o.model)) goto done;
    ei_status st = ei_session_run(s);
    if (st != EI_STATUS_OK) {
        errorf(o.model, "%s", session_msg(s, st));
        goto done;
    }
    print_inputs(m, b);
    if (write_outputs(s, m, o.outdir, o.model)) goto done;
    rc = EXIT_OK;
done:
    ei_session_free(s);
    ei_threadpool_free(pool);
    free_inputs(b, m ? ei_model_io_count(m, 0) : 0);
    ei_model_free(m);
    free(o.inputs);
    return rc;
}

/* ---- bench ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, ALLOW_INPUTS | ALLOW_RUNS, "bench", &o);
    if (rc) {
        free(o.inputs);
        return rc;
    }
    rc = EXIT_FAIL;
    bound_input *b = NULL;
    ei_session *s = NULL;
    ei_threadpool *pool = NULL;
    double *times = NULL;
    double t0 = now_ms();
    ei_model *m = load_model(o.model);
    double load_ms = now_ms() - t0;
    if (!m) goto done;
    if (prepare_inputs(m, &o, &b)) goto done;
    t0 = now_ms();
    s = create_session(m, o.model, o.threads, &pool);
    double create_ms = now_ms() - t0;
    if (!s) goto done;
    if (bind_inputs(s, m, b, o.model)) goto done;
    times = malloc((size_t)o.runs * sizeof *times);
    if (!times) {
        errorf(o.model, "out of memory");
        goto done;
    }
    for (long i = 0; i < WARMUP_RUNS + o.runs; i++) {
        t0 = now_ms();
        ei_status st = ei_session_run(s);
        double dt = now_ms() - t0;
        if (st != EI_STATUS_OK) {
            errorf(o.model, "%s", session_msg(s, st));
            goto done;
        }
        if (i >= WARMUP_RUNS) times[i - WARMUP_RUNS] = dt;
    }
    qsort(times, (size_t)o.runs, sizeof *times, by_value);
    long n = o.runs;
    double median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    long p90 = (long)((n * 90 + 99) / 100) - 1; /* nearest rank */
    double sum = 0;
    for (long i = 0; i < n; i++) sum += times[i];

    char arena[64];
    human_bytes(ei_session_arena_bytes(s), arena, sizeof arena);
    print_inputs(m, b);
    printf("%-15s %.3f ms\n", "model load", load_ms);
    printf("%-15s %.3f ms\n", "session create", create_ms);
    printf("%-15s %s\n", "arena", arena);
    printf("%-15s %ld timed, after %d warm-up\n", "runs", n, WARMUP_RUNS);
    printf("%-15s %ld\n", "threads", o.threads);
    printf("%-15s min %.3f  median %.3f  p90 %.3f  mean %.3f\n", "latency ms", times[0], median,
           times[p90 < 0 ? 0 : p90], sum / n);
    rc = EXIT_OK;
done:
    free(times);
    ei_session_free(s);
    ei_threadpool_free(pool);
    free_inputs(b, m ? ei_model_io_count(m, 0) : 0);
    ei_model_free(m);
    free(o.inputs);
    return rc;
}

/* ---- quantize ---- */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every .npy file of dir (in name order) parsed into samples; -1 after an error. */
static int read_samples(const char *dir, ei_tensor **out, int *n)
{
    DIR *d = opendir(dir);
    if (!d) {
        errorf(dir, "cannot open: %s", strerror(errno));
        return -1;
    }
    char **names = NULL;
    int count = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d)) && !rc;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".npy")) continue;
        char **more = realloc(names, (size_t)(count + 1) * sizeof *names);
        char *path = malloc(strlen(dir) + len + 2);
        if (!more || !path) {
            free(more ? NULL : path);
            if (more) names = more;
            errorf(dir, "out of memory");
            rc = -1;
            break;
        }
        names = more;
        sprintf(path, "%s/%s", dir, e->d_name);
        names[count++] = path;
    }
    closedir(d);
    if (!rc && !count) rc = (errorf(dir, "no .npy files to calibrate with"), -1);
    if (!rc) qsort(names, (size_t)count, sizeof *names, by_name);
    ei_tensor *t = rc ? NULL : calloc((size_t)count, sizeof *t);
    if (!rc && !t) rc = (errorf(dir, "out of memory"), -1);
    for (int i = 0; i < count && !rc; i++) {
        uint8_t *bytes;
        size_t size;
        char err[256];
        if (read_file(names[i], &bytes, &size)) {
            rc = -1;
            break;
        }
        if (npy_parse(bytes, size, &t[i], err, sizeof err)) rc = (errorf(names[i], "%s", err), -1);
        free(bytes);
    }
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    if (rc) {
        for (int i = 0; t && i < count; i++) free(t[i].data);
        free(t);
        return -1;
    }
    *out = t;
    *n = count;
    return 0;
}

/* Writes `out` to path; false (reported) when it cannot. */
static bool write_bytes(const char *path, const uint8_t *out, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(out, 1, len, f) == len;
    if (f && fclose(f)) ok = false;
    if (!ok) errorf(path, "cannot write: %s", strerror(errno));
    return ok;
}

static int quantize_int4(const char *model, const char *outpath, const char *block)
{
    char *end, err[512];
    long long bs = strtoll(block, &end, 10);
    if (*end || end == block) return usage_error("quantize: --block-size '%s' is not a number", block);
    uint8_t *bytes, *out = NULL;
    size_t size, out_len = 0;
    int n_weights = 0;
    if (read_file(model, &bytes, &size)) return EXIT_FAIL;
    int rc = quantize_model_int4(bytes, size, bs, &out, &out_len, &n_weights, err, sizeof err);
    free(bytes);
    if (rc) errorf(model, "%s", err);
    bool ok = !rc && write_bytes(outpath, out, out_len);
    free(out);
    if (ok) printf("%s: %d MatMul weights int4 in blocks of %lld (%zu bytes)\n", outpath, n_weights, bs, out_len);
    return ok ? EXIT_OK : EXIT_FAIL;
}

static int cmd_quantize(int argc, char **argv)
{
    const char *model = NULL, *outpath = NULL, *weights = NULL, *calib = NULL, *block = NULL;
    int dynamic = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dynamic")) {
            dynamic = 1;
            continue;
        }
        const char **slot = !strcmp(a, "-o") || !strcmp(a, "--output") ? &outpath
                            : !strcmp(a, "--weights")                  ? &weights
                            : !strcmp(a, "--calibrate")                ? &calib
                            : !strcmp(a, "--block-size")               ? &block
                                                                       : NULL;
        if (slot) {
            if (i + 1 >= argc) return usage_error("%s needs a value", a);
            *slot = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return usage_error("quantize: unknown option '%s'", a);
        } else if (model) {
            return usage_error("quantize: more than one model given ('%s', '%s')", model, a);
        } else {
            model = a;
        }
    }
    if (!model) return usage_error("quantize: no model given");
    if (!outpath) return usage_error("quantize: no output file given (-o OUT.onnx)");
    if (!dynamic && weights && !strcmp(weights, "int4") && !calib) return quantize_int4(model, outpath, block ? block : "32");
    if (block) return usage_error("quantize: --block-size goes with --weights int4");
    if (dynamic ? weights && strcmp(weights, "int8") : !weights || strcmp(weights, "int8"))
        return usage_error("quantize: --weights int8, --weights int4 (without --calibrate) or --dynamic are the forms this build writes");
    if (dynamic && calib) return usage_error("quantize: --dynamic quantizes activations at run time, without --calibrate");
    uint8_t *bytes;
    size_t size;
    if (read_file(model, &bytes, &size)) return EXIT_FAIL;
    ei_tensor *samples = NULL;
    int n_samples = 0;
    if (calib && read_samples(calib, &samples, &n_samples)) {
        free(bytes);
        return EXIT_FAIL;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    int n_weights = 0, n_acts = 0;
    char err[512];
    int rc = quantize_model(bytes, size, samples, n_samples, dynamic, &out, &out_len, &n_weights, &n_acts, err, sizeof err);
    free(bytes);
    for (int i = 0; i < n_samples; i++) free(samples[i].data);
    free(samples);
    if (rc) {
        errorf(model, "%s", err);
        return EXIT_FAIL;
    }
    bool ok = write_bytes(outpath, out, out_len);
    free(out);
    if (!ok) return EXIT_FAIL;
    printf("%s: %d weights int8 per channel, %d activations uint8%s (%zu bytes)\n", outpath, n_weights, n_acts,
           dynamic ? " at run time" : "", out_len);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage_error("no command given");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(HELP, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("edgeinfer %s\n", EI_VERSION);
        return EXIT_OK;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(HELP, stdout);
            return EXIT_OK;
        }
    }
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
    if (!strcmp(cmd, "quantize")) return cmd_quantize(argc - 2, argv + 2);
    if (cmd[0] == '-') return usage_error("unknown option '%s'", cmd);
    return usage_error("unknown command '%s'", cmd);
}
