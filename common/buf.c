/* common/buf.c — see buf.h. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

void cordon_buf_init(cordon_buf *b, size_t max, bool secret)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
    b->secret = secret;
}

void cordon_buf_free(cordon_buf *b)
{
    if (b == NULL)
        return;
    if (b->secret)
        cordon_wipe(b->data, b->alloc);
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
    b->failed = false;
}

void cordon_buf_reset(cordon_buf *b)
{
    if (b->secret)
        cordon_wipe(b->data, b->alloc);
    b->len = 0;
    b->failed = false;
}

static cordon_err reserve(cordon_buf *b, size_t extra)
{
    if (b->failed)
        return CORDON_ERR_TOO_LARGE;
    /* + 1 keeps room for cordon_buf_terminate(). */
    if (extra > b->max - b->len) {
        b->failed = true;
        return CORDON_ERR_TOO_LARGE;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return CORDON_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (b->max < SIZE_MAX && n > b->max + 1)
        n = b->max + 1;
    uint8_t *p = malloc(n);
    if (p == NULL) {
        b->failed = true;
        return CORDON_ERR_NOMEM;
    }
    if (b->len)
        memcpy(p, b->data, b->len);
    if (b->secret)
        cordon_wipe(b->data, b->alloc);
    free(b->data);
    b->data = p;
    b->alloc = n;
    return CORDON_OK;
}

cordon_err cordon_buf_append(cordon_buf *b, const void *p, size_t n)
{
    cordon_err err = reserve(b, n);
    if (err != CORDON_OK)
        return err;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return CORDON_OK;
}

cordon_err cordon_buf_append_str(cordon_buf *b, const char *s)
{
    return cordon_buf_append(b, s, strlen(s));
}

cordon_err cordon_buf_printf(cordon_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CORDON_ERR_INVAL;
    cordon_err err = reserve(b, (size_t)n);
    if (err != CORDON_OK)
        return err;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CORDON_OK;
}

cordon_err cordon_buf_terminate(cordon_buf *b)
{
    cordon_err err = reserve(b, 0);
    if (err != CORDON_OK)
        return err;
    b->data[b->len] = '\0';
    return CORDON_OK;
}

uint8_t *cordon_buf_take(cordon_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    b->failed = false;
    return p;
}
