/*
 * numpy .npy files for the command-line tool: tensors go in and come out in
 * the format numpy, PyTorch users and the JS test helpers all read.
 *
 * Format (numpy's NEP 1): "\x93NUMPY", major and minor version bytes, the
 * header length (uint16 LE in 1.0, uint32 LE in 2.0 and 3.0), an ASCII Python
 * dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a '\n', then the raw elements in C order.
 *
 * Supported element types: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, little-endian
 * (or byte-sized), C order. Everything else is rejected with a message, never
 * misread. The reader trusts nothing in the file: every length, dimension and
 * product is checked against the bytes actually present.
 */
#ifndef EI_CLI_NPY_H
#define EI_CLI_NPY_H

#include <stddef.h>

#include "edgeinfer.h"

/*
 * Parses a whole .npy file held in memory. On success returns 0 and fills
 * *out with dtype, rank, dims and a malloc'd copy of the data (free it with
 * free(out->data); it is non-NULL even for zero elements). Bool elements are
 * normalised to 0 or 1. On failure returns -1, leaves out->data NULL and
 * writes one line (no trailing newline) to err.
 */
int npy_parse(const void *bytes, size_t size, ei_tensor *out, char *err, size_t errlen);

/* Writes t as a version 1.0 .npy file at path. Returns 0, or -1 with a message in err. */
int npy_write(const char *path, const ei_tensor *t, char *err, size_t errlen);

/* The numpy type code of a dtype ("f4", "i8", "b1" ...), or NULL when .npy cannot hold it. */
const char *npy_code(ei_dtype dtype);

#endif
