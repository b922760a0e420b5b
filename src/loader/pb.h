/*
 * A protobuf wire-format reader: no generated code, no allocation. Every
 * read is bounds-checked against the end of the message; a false return
 * means the bytes are truncated or malformed, never an out-of-bounds read.
 */
#ifndef EI_PB_H
#define EI_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

typedef struct pb {
    const uint8_t *p, *end;
} pb;

static inline pb pb_init(const uint8_t *p, size_t n) { return (pb){p, p + n}; }
static inline bool pb_done(const pb *r) { return r->p >= r->end; }

bool pb_varint(pb *r, uint64_t *v);
/* Next field: its number and wire type. */
bool pb_tag(pb *r, uint32_t *field, uint32_t *wire);
/* A length-delimited payload (bytes, string, sub-message, packed array). */
bool pb_len(pb *r, const uint8_t **data, size_t *len);
bool pb_fixed32(pb *r, uint32_t *v);
bool pb_fixed64(pb *r, uint64_t *v);
bool pb_skip(pb *r, uint32_t wire);
/* The next length-delimited field (strings, sub-messages, packed arrays), skipping the
 * others: 1 with its number and payload, 0 at the end, -1 on bad bytes. */
int pb_next_len(pb *r, uint32_t *field, const uint8_t **data, size_t *len);

/* Counts the elements of a repeated scalar field (packed or not) of the given
 * element wire type within a message, so callers can allocate once. */
bool pb_count_repeated(const uint8_t *msg, size_t len, uint32_t field, uint32_t elem_wire, size_t *count);
/* Reads element i of that walk: call with a cursor over the whole message. */
typedef struct pb_rep {
    pb msg;     /* the rest of the message */
    pb packed;  /* the current packed run, if any */
    uint32_t field, elem_wire;
} pb_rep;
void pb_rep_init(pb_rep *it, const uint8_t *msg, size_t len, uint32_t field, uint32_t elem_wire);
/* Next raw element (varint value, or fixed bits); false at the end or on bad bytes. */
bool pb_rep_next(pb_rep *it, uint64_t *v, bool *ok);

#endif
