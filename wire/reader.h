/*
 * wire/reader.h — the one bounded reader for untrusted bytes (after s2n's stuffer and
 * openiked's ibuf).
 *
 * Every read is all-or-nothing: on failure the cursor stays where it was and nothing is
 * written to the output. Integers are big-endian. A length-prefixed field is decoded
 * through a sub-reader, whose declared length is checked against what is left before
 * anything is read; cordon_reader_end() rejects trailing bytes.
 *
 * A reader borrows its bytes: views it hands out live as long as those bytes.
 */
#ifndef CORDON_WIRE_READER_H
#define CORDON_WIRE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct cordon_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
} cordon_reader;

void cordon_reader_init(cordon_reader *r, const void *data, size_t len);
size_t cordon_reader_left(const cordon_reader *r);

CORDON_MUST_CHECK cordon_err cordon_read_u8(cordon_reader *r, uint8_t *out);
CORDON_MUST_CHECK cordon_err cordon_read_u16(cordon_reader *r, uint16_t *out);
CORDON_MUST_CHECK cordon_err cordon_read_u32(cordon_reader *r, uint32_t *out);
CORDON_MUST_CHECK cordon_err cordon_read_u64(cordon_reader *r, uint64_t *out);
/* Copies n bytes out. */
CORDON_MUST_CHECK cordon_err cordon_read_bytes(cordon_reader *r, void *out, size_t n);
/* Borrows n bytes in place. */
CORDON_MUST_CHECK cordon_err cordon_read_view(cordon_reader *r, size_t n, const uint8_t **out);
/* Reads a length prefix of prefix_len bytes (1, 2 or 4), checks it against max and against
 * what is left, and sets sub to exactly that many bytes. CORDON_ERR_TOO_LARGE when the
 * length exceeds max, CORDON_ERR_TRUNCATED when it exceeds the input. */
CORDON_MUST_CHECK cordon_err cordon_read_sub(cordon_reader *r, unsigned prefix_len, size_t max,
                                             cordon_reader *sub);
/* Reads a length prefix and a text of that length that holds no NUL byte, into out
 * (outlen bytes, NUL-terminated). CORDON_ERR_TOO_LARGE if it does not fit. */
CORDON_MUST_CHECK cordon_err cordon_read_text(cordon_reader *r, unsigned prefix_len, char *out,
                                              size_t outlen);
/* CORDON_OK when every byte was consumed, else CORDON_ERR_TRAILING. */
CORDON_MUST_CHECK cordon_err cordon_reader_end(const cordon_reader *r);

#endif
