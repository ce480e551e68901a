/* wire/writer.c — see writer.h. */
#include "wire/writer.h"

#include <string.h>

void cordon_writer_init(cordon_writer *w, void *data, size_t cap)
{
    w->data = data;
    w->cap = data ? cap : 0;
    w->len = 0;
    w->failed = false;
}

static void write_uint(cordon_writer *w, unsigned n, uint64_t v)
{
    if (w->failed || w->cap - w->len < n) {
        w->failed = true;
        return;
    }
    for (unsigned i = 0; i < n; i++)
        w->data[w->len + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w->len += n;
}

void cordon_write_u8(cordon_writer *w, uint8_t v)
{
    write_uint(w, 1, v);
}

void cordon_write_u16(cordon_writer *w, uint16_t v)
{
    write_uint(w, 2, v);
}

void cordon_write_u32(cordon_writer *w, uint32_t v)
{
    write_uint(w, 4, v);
}

void cordon_write_u64(cordon_writer *w, uint64_t v)
{
    write_uint(w, 8, v);
}

void cordon_write_bytes(cordon_writer *w, const void *p, size_t n)
{
    if (w->failed || w->cap - w->len < n) {
        w->failed = true;
        return;
    }
    if (n)
        memcpy(w->data + w->len, p, n);
    w->len += n;
}

void cordon_write_prefixed(cordon_writer *w, unsigned prefix_len, const void *p, size_t n)
{
    if ((prefix_len != 1 && prefix_len != 2 && prefix_len != 4) ||
        (prefix_len < 4 && n >> (8 * prefix_len)) || (uint64_t)n > UINT32_MAX) {
        w->failed = true;
        return;
    }
    write_uint(w, prefix_len, n);
    cordon_write_bytes(w, p, n);
}

cordon_err cordon_writer_finish(const cordon_writer *w, size_t *len)
{
    if (w->failed)
        return CORDON_ERR_TOO_LARGE;
    if (len)
        *len = w->len;
    return CORDON_OK;
}
