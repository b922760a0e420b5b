/*
 * A 32-bit checksum of a byte string: FNV-1a's step (xor a 32-bit word, then
 * multiply by FNV's prime) on sixteen independent 32-bit lanes, 64 bytes per
 * step, so that it runs at memory speed even before the engine optimises it;
 * the tail is zero padded and the lanes folded in order at the end. It tells
 * whether bytes changed, not whether someone forged them.
 */
#ifndef EI_CHECKSUM_H
#define EI_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

uint32_t u8_checksum_simd128(const uint8_t *p, size_t n);
uint32_t u8_checksum_scalar(const uint8_t *p, size_t n);

#endif
