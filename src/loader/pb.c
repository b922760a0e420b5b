/* The protobuf wire-format reader declared in pb.h. */
#include <string.h>

#include "pb.h"

bool pb_varint(pb *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return false;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

bool pb_tag(pb *r, uint32_t *field, uint32_t *wire)
{
    uint64_t t;
    if (!pb_varint(r, &t)) return false;
    *field = (uint32_t)(t >> 3);
    *wire = (uint32_t)(t & 7);
    return *field != 0 && (t >> 3) <= 0x1fffffff;
}

bool pb_len(pb *r, const uint8_t **data, size_t *len)
{
    uint64_t n;
    if (!pb_varint(r, &n)) return false;
    if (n > (uint64_t)(r->end - r->p)) return false;
    *data = r->p;
    *len = (size_t)n;
    r->p += n;
    return true;
}

bool pb_fixed32(pb *r, uint32_t *v)
{
    if (r->end - r->p < 4) return false;
    memcpy(v, r->p, 4);
    r->p += 4;
    return true;
}

bool pb_fixed64(pb *r, uint64_t *v)
{
    if (r->end - r->p < 8) return false;
    memcpy(v, r->p, 8);
    r->p += 8;
    return true;
}

bool pb_skip(pb *r, uint32_t wire)
{
    uint64_t v;
    const uint8_t *d;
    size_t n;
    switch (wire) {
    case PB_VARINT: return pb_varint(r, &v);
    case PB_I64: return pb_fixed64(r, &v);
    case PB_LEN: return pb_len(r, &d, &n);
    case PB_I32: {
        uint32_t w;
        return pb_fixed32(r, &w);
    }
    default: return false; /* groups (3, 4) are not used by ONNX */
    }
}

int pb_next_len(pb *r, uint32_t *field, const uint8_t **data, size_t *len)
{
    while (!pb_done(r)) {
        uint32_t wire;
        if (!pb_tag(r, field, &wire)) return -1;
        if (wire == PB_LEN) return pb_len(r, data, len) ? 1 : -1;
        if (!pb_skip(r, wire)) return -1;
    }
    return 0;
}

static bool read_elem(pb *r, uint32_t elem_wire, uint64_t *v)
{
    if (elem_wire == PB_VARINT) return pb_varint(r, v);
    if (elem_wire == PB_I64) return pb_fixed64(r, v);
    uint32_t w;
    if (!pb_fixed32(r, &w)) return false;
    *v = w;
    return true;
}

void pb_rep_init(pb_rep *it, const uint8_t *msg, size_t len, uint32_t field, uint32_t elem_wire)
{
    it->msg = pb_init(msg, len);
    it->packed = pb_init(msg, 0);
    it->field = field;
    it->elem_wire = elem_wire;
}

bool pb_rep_next(pb_rep *it, uint64_t *v, bool *ok)
{
    *ok = true;
    for (;;) {
        if (!pb_done(&it->packed)) {
            if (read_elem(&it->packed, it->elem_wire, v)) return true;
            *ok = false;
            return false;
        }
        if (pb_done(&it->msg)) return false;
        uint32_t field, wire;
        if (!pb_tag(&it->msg, &field, &wire)) break;
        if (field == it->field && wire == PB_LEN) {
            const uint8_t *d;
            size_t n;
            if (!pb_len(&it->msg, &d, &n)) break;
            it->packed = pb_init(d, n);
            continue;
        }
        if (field == it->field && wire == it->elem_wire) {
            if (read_elem(&it->msg, it->elem_wire, v)) return true;
            break;
        }
        if (!pb_skip(&it->msg, wire)) break;
    }
    *ok = false;
    return false;
}

bool pb_count_repeated(const uint8_t *msg, size_t len, uint32_t field, uint32_t elem_wire, size_t *count)
{
    pb_rep it;
    uint64_t v;
    bool ok;
    size_t n = 0;
    pb_rep_init(&it, msg, len, field, elem_wire);
    while (pb_rep_next(&it, &v, &ok)) n++;
    *count = n;
    return ok;
}
