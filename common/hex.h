/*
 * common/hex.h — lower-case hex encoding of byte strings (node IDs, fingerprints).
 */
#ifndef CORDON_COMMON_HEX_H
#define CORDON_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Writes 2*n hex digits and a NUL into out, which holds at least 2*n + 1 bytes. */
void cordon_hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes exactly 2*n hex digits (either case) from the NUL-free string s of length slen.
 * CORDON_ERR_MALFORMED for a wrong length or a non-hex digit; out is untouched then. */
CORDON_MUST_CHECK cordon_err cordon_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

#endif
