/*
 * wire/writer.h — the bounded writer: appends big-endian fields into a caller's buffer of
 * fixed capacity. The first write that does not fit poisons the writer (every later write
 * fails and cordon_writer_finish() reports CORDON_ERR_TOO_LARGE), so a caller checks once
 * at the end and never sends a half-encoded message.
 */
#ifndef CORDON_WIRE_WRITER_H
#define CORDON_WIRE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct cordon_writer {
    uint8_t *data;
    size_t cap;
    size_t len;
    bool failed;
} cordon_writer;

void cordon_writer_init(cordon_writer *w, void *data, size_t cap);
void cordon_write_u8(cordon_writer *w, uint8_t v);
void cordon_write_u16(cordon_writer *w, uint16_t v);
void cordon_write_u32(cordon_writer *w, uint32_t v);
void cordon_write_u64(cordon_writer *w, uint64_t v);
void cordon_write_bytes(cordon_writer *w, const void *p, size_t n);
/* A length prefix of prefix_len bytes (1, 2 or 4) followed by the bytes. Fails (poisons)
 * when n does not fit the prefix. */
void cordon_write_prefixed(cordon_writer *w, unsigned prefix_len, const void *p, size_t n);
/* CORDON_OK and the length written, or CORDON_ERR_TOO_LARGE if any write failed. */
CORDON_MUST_CHECK cordon_err cordon_writer_finish(const cordon_writer *w, size_t *len);

#endif
