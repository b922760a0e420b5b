/*
 * TensorProto -> ei_tensor. Used for initializers, tensor attributes and the
 * .pb files of test suites. Raw data is read in place when aligned (weights
 * stay in the model bytes); typed repeated fields and float16 are converted.
 */
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "pb.h"

enum {
    T_DIMS = 1, T_DATA_TYPE = 2, T_SEGMENT = 3, T_FLOAT_DATA = 4, T_INT32_DATA = 5, T_STRING_DATA = 6,
    T_INT64_DATA = 7, T_NAME = 8, T_RAW_DATA = 9, T_DOUBLE_DATA = 10, T_UINT64_DATA = 11,
    T_EXTERNAL_DATA = 13, T_DATA_LOCATION = 14
};

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Memory for tensor data; `full`: the caller writes every byte, so only the padding is zeroed. */
static void *alloc_data(arena *a, size_t bytes, bool full)
{
    if (a) return full ? arena_alloc_uninit(a, bytes) : arena_alloc(a, bytes);
    void *p = malloc(bytes + EI_PAD);
    if (p) memset(full ? (char *)p + bytes : p, 0, full ? EI_PAD : bytes + EI_PAD);
    return p;
}

/* Which repeated field holds the values of a dtype, and its wire type. */
static bool typed_field(int32_t dtype, uint32_t *field, uint32_t *wire)
{
    switch (dtype) {
    case EI_DTYPE_FLOAT32: *field = T_FLOAT_DATA; *wire = PB_I32; return true;
    case EI_DTYPE_FLOAT64: *field = T_DOUBLE_DATA; *wire = PB_I64; return true;
    case EI_DTYPE_INT64: *field = T_INT64_DATA; *wire = PB_VARINT; return true;
    case EI_DTYPE_UINT32: case EI_DTYPE_UINT64: *field = T_UINT64_DATA; *wire = PB_VARINT; return true;
    case EI_DTYPE_INT32: case EI_DTYPE_INT16: case EI_DTYPE_INT8: case EI_DTYPE_UINT16: case EI_DTYPE_UINT8:
    case EI_DTYPE_BOOL: case EI_DTYPE_FLOAT16: case EI_DTYPE_BFLOAT16:
        *field = T_INT32_DATA; *wire = PB_VARINT; return true;
    default: return false;
    }
}

static void store(void *dst, int32_t dtype, int64_t i, uint64_t raw)
{
    switch (dtype) {
    case EI_DTYPE_FLOAT32: { uint32_t w = (uint32_t)raw; memcpy((float *)dst + i, &w, 4); break; }
    case EI_DTYPE_FLOAT64: memcpy((double *)dst + i, &raw, 8); break;
    case EI_DTYPE_INT64: ((int64_t *)dst)[i] = (int64_t)raw; break;
    case EI_DTYPE_UINT64: ((uint64_t *)dst)[i] = raw; break;
    case EI_DTYPE_UINT32: ((uint32_t *)dst)[i] = (uint32_t)raw; break;
    case EI_DTYPE_INT32: ((int32_t *)dst)[i] = (int32_t)raw; break;
    case EI_DTYPE_INT16: ((int16_t *)dst)[i] = (int16_t)raw; break;
    case EI_DTYPE_UINT16: case EI_DTYPE_BFLOAT16: ((uint16_t *)dst)[i] = (uint16_t)raw; break;
    case EI_DTYPE_INT8: ((int8_t *)dst)[i] = (int8_t)raw; break;
    case EI_DTYPE_UINT8: ((uint8_t *)dst)[i] = (uint8_t)raw; break;
    case EI_DTYPE_BOOL: ((uint8_t *)dst)[i] = raw != 0; break;
    case EI_DTYPE_FLOAT16: ((float *)dst)[i] = half_to_float((uint16_t)raw); break;
    default: break;
    }
}

ei_status tensor_parse(const uint8_t *p, size_t n, arena *a, bool in_place, ei_tensor *out, const char **name,
                       char *err, size_t errlen)
{
#define FAIL(st, ...) do { ei_format(err, errlen, __VA_ARGS__); return (st); } while (0)
    memset(out, 0, sizeof *out);
    if (name) *name = NULL;
    const uint8_t *raw = NULL, *name_p = NULL;
    size_t raw_len = 0, name_len = 0;
    bool external = false, has_raw = false;
    int rank = 0;
    pb r = pb_init(p, n);
    while (!pb_done(&r)) {
        uint32_t field, wire;
        uint64_t v;
        if (!pb_tag(&r, &field, &wire)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: malformed bytes");
        if (field == T_DIMS && wire == PB_VARINT) {
            if (!pb_varint(&r, &v)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: truncated dims");
            if (rank >= EI_MAX_DIMS) FAIL(EI_STATUS_UNSUPPORTED, "tensor has more than %d dims", EI_MAX_DIMS);
            out->dims[rank++] = (int64_t)v;
        } else if (field == T_DIMS && wire == PB_LEN) {
            const uint8_t *d;
            size_t dl;
            if (!pb_len(&r, &d, &dl)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: truncated dims");
            pb q = pb_init(d, dl);
            while (!pb_done(&q)) {
                if (!pb_varint(&q, &v)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: truncated dims");
                if (rank >= EI_MAX_DIMS) FAIL(EI_STATUS_UNSUPPORTED, "tensor has more than %d dims", EI_MAX_DIMS);
                out->dims[rank++] = (int64_t)v;
            }
        } else if (field == T_DATA_TYPE && wire == PB_VARINT) {
            if (!pb_varint(&r, &v)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: truncated data_type");
            out->dtype = (int32_t)v;
        } else if (field == T_NAME && wire == PB_LEN) {
            if (!pb_len(&r, &name_p, &name_len)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: truncated name");
        } else if (field == T_RAW_DATA && wire == PB_LEN) {
            if (!pb_len(&r, &raw, &raw_len)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: truncated raw_data");
            has_raw = true;
        } else if (field == T_DATA_LOCATION && wire == PB_VARINT) {
            if (!pb_varint(&r, &v)) FAIL(EI_STATUS_INVALID_MODEL, "tensor: truncated data_location");
            external = v == 1;
        } else if (field == T_SEGMENT) {
            FAIL(EI_STATUS_UNSUPPORTED, "segmented tensors are not supported");
        } else if (!pb_skip(&r, wire)) {
            FAIL(EI_STATUS_INVALID_MODEL, "tensor: malformed field %u", field);
        }
    }
    out->rank = rank;
    const char *tname = "";
    if (name_p) {
        char *s = a ? arena_strndup(a, (const char *)name_p, name_len) : NULL;
        if (a && !s) FAIL(EI_STATUS_OUT_OF_MEMORY, "out of memory");
        if (s) tname = s;
        if (name) *name = s;
    }
    if (external) FAIL(EI_STATUS_UNSUPPORTED, "tensor '%s' keeps its data in an external file; external data is "
                       "not supported (save the model with all tensors inside it)", tname);
    for (int d = 0; d < rank; d++)
        if (out->dims[d] < 0) FAIL(EI_STATUS_INVALID_MODEL, "tensor '%s' has a negative dim", tname);
    int32_t src_type = out->dtype;
    size_t src_es = dtype_size(src_type);
    if (src_type == EI_DTYPE_STRING)
        FAIL(EI_STATUS_UNSUPPORTED, "tensor '%s' has dtype string, which is not supported", tname);
    if (src_es == 0)
        FAIL(EI_STATUS_UNSUPPORTED, "tensor '%s' has dtype %s (%d), which is not supported", tname,
             ei_dtype_name(src_type), (int)src_type);
    /* Model tensors (read in place) keep float16, so a model's declared types hold; decoded
     * test data (ei_tensor_decode) is widened to float32. */
    bool widen = src_type == EI_DTYPE_FLOAT16 && !in_place;
    if (widen) out->dtype = EI_DTYPE_FLOAT32;
    int64_t count = shape_numel(rank, out->dims);
    int64_t bytes = tensor_nbytes(out);
    if (count < 0 || bytes < 0) FAIL(EI_STATUS_INVALID_MODEL, "tensor '%s' of shape %s is too large", tname,
                                     shape_str(out));

    if (has_raw) {
        if ((uint64_t)raw_len != (uint64_t)count * src_es)
            FAIL(EI_STATUS_INVALID_MODEL, "tensor '%s' of shape %s and dtype %s needs %lld bytes, raw_data has %zu",
                 tname, shape_str(out), ei_dtype_name(src_type), (long long)((uint64_t)count * src_es), raw_len);
        if (in_place && src_type == out->dtype && count > 0 &&
            (src_es <= EI_UNALIGNED_MAX || (uintptr_t)raw % src_es == 0)) {
            out->data = (void *)raw;
            return EI_STATUS_OK;
        }
        void *dst = alloc_data(a, (size_t)bytes, true);
        if (!dst) FAIL(EI_STATUS_OUT_OF_MEMORY, "out of memory for tensor '%s'", tname);
        if (widen) {
            for (int64_t i = 0; i < count; i++) {
                uint16_t h;
                memcpy(&h, raw + 2 * i, 2);
                ((float *)dst)[i] = half_to_float(h);
            }
        } else if (raw_len) {
            memcpy(dst, raw, raw_len);
        }
        if (src_type == EI_DTYPE_BOOL)
            for (int64_t i = 0; i < count; i++) ((uint8_t *)dst)[i] = ((uint8_t *)dst)[i] != 0;
        out->data = dst;
        return EI_STATUS_OK;
    }

    uint32_t field, wire;
    if (!typed_field(src_type, &field, &wire))
        FAIL(EI_STATUS_UNSUPPORTED, "tensor '%s': dtype %s is not supported", tname, ei_dtype_name(src_type));
    size_t have;
    if (!pb_count_repeated(p, n, field, wire, &have)) FAIL(EI_STATUS_INVALID_MODEL, "tensor '%s': malformed data",
                                                           tname);
    if ((int64_t)have != count)
        FAIL(EI_STATUS_INVALID_MODEL, "tensor '%s' of shape %s has %zu values, expected %lld", tname,
             shape_str(out), have, (long long)count);
    void *dst = alloc_data(a, (size_t)bytes, false);
    if (!dst) FAIL(EI_STATUS_OUT_OF_MEMORY, "out of memory for tensor '%s'", tname);
    pb_rep it;
    uint64_t v;
    bool ok;
    pb_rep_init(&it, p, n, field, wire);
    int32_t as = src_type == EI_DTYPE_FLOAT16 && !widen ? EI_DTYPE_UINT16 : src_type; /* kept: the raw bits */
    for (int64_t i = 0; i < count && pb_rep_next(&it, &v, &ok); i++) store(dst, as, i, v);
    out->data = dst;
    return EI_STATUS_OK;
#undef FAIL
}

ei_status ei_tensor_decode(const void *bytes, size_t size, ei_tensor *out, char *name, size_t namelen, char *err,
                           size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = 0;
    if (!out || (!bytes && size)) {
        ei_format(err, errlen, "ei_tensor_decode: null argument");
        return EI_STATUS_INVALID_ARGUMENT;
    }
    /* Parse once with an arena to get the name, then keep only the malloc'd data. */
    arena a = {0};
    const char *tname = NULL;
    ei_status st = tensor_parse(bytes, size, &a, false, out, &tname, err, errlen);
    if (st == EI_STATUS_OK) {
        int64_t nb = tensor_nbytes(out);
        void *copy = malloc((size_t)nb + EI_PAD);
        if (!copy) {
            st = EI_STATUS_OUT_OF_MEMORY;
            ei_format(err, errlen, "out of memory");
            out->data = NULL;
        } else {
            memcpy(copy, out->data, (size_t)nb);
            out->data = copy;
        }
    }
    if (name && namelen) ei_format(name, namelen, "%s", tname ? tname : "");
    arena_free(&a);
    if (st != EI_STATUS_OK) out->data = NULL;
    return st;
}

void ei_tensor_free_data(ei_tensor *t)
{
    if (!t) return;
    free(t->data);
    t->data = NULL;
}
