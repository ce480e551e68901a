/*
 * common/buf.h — a growable byte buffer with a hard cap, set when it is created
 * (after curl's dynbuf). Appending past the cap fails with CORDON_ERR_TOO_LARGE and
 * poisons the buffer: every later append fails too, so a half-built value is never used.
 *
 * Ownership: the buffer owns data until cordon_buf_take() hands it to the caller.
 * cordon_buf_free() wipes the bytes when the buffer was created with secret = true.
 */
#ifndef CORDON_COMMON_BUF_H
#define CORDON_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct cordon_buf {
    uint8_t *data;
    size_t len;
    size_t alloc;
    size_t max; /* hard cap on len */
    bool secret;
    bool failed;
} cordon_buf;

void cordon_buf_init(cordon_buf *b, size_t max, bool secret);
void cordon_buf_free(cordon_buf *b);  /* accepts NULL; leaves b empty and reusable */
void cordon_buf_reset(cordon_buf *b); /* len = 0, keeps the allocation, clears failure */
CORDON_MUST_CHECK cordon_err cordon_buf_append(cordon_buf *b, const void *p, size_t n);
CORDON_MUST_CHECK cordon_err cordon_buf_append_str(cordon_buf *b, const char *s);
CORDON_MUST_CHECK cordon_err cordon_buf_printf(cordon_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a NUL that is not counted in len, so data can be used as a C string. */
CORDON_MUST_CHECK cordon_err cordon_buf_terminate(cordon_buf *b);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
uint8_t *cordon_buf_take(cordon_buf *b, size_t *len);

#endif
