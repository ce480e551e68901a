/* wire/reader.c — see reader.h. */
#include "wire/reader.h"

#include <string.h>

void cordon_reader_init(cordon_reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
}

size_t cordon_reader_left(const cordon_reader *r)
{
    return r->len - r->pos;
}

static cordon_err read_uint(cordon_reader *r, unsigned n, uint64_t *out)
{
    if (cordon_reader_left(r) < n)
        return CORDON_ERR_TRUNCATED;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | r->data[r->pos + i];
    r->pos += n;
    *out = v;
    return CORDON_OK;
}

cordon_err cordon_read_u8(cordon_reader *r, uint8_t *out)
{
    uint64_t v;
    cordon_err err = read_uint(r, 1, &v);
    if (err == CORDON_OK)
        *out = (uint8_t)v;
    return err;
}

cordon_err cordon_read_u16(cordon_reader *r, uint16_t *out)
{
    uint64_t v;
    cordon_err err = read_uint(r, 2, &v);
    if (err == CORDON_OK)
        *out = (uint16_t)v;
    return err;
}

cordon_err cordon_read_u32(cordon_reader *r, uint32_t *out)
{
    uint64_t v;
    cordon_err err = read_uint(r, 4, &v);
    if (err == CORDON_OK)
        *out = (uint32_t)v;
    return err;
}

cordon_err cordon_read_u64(cordon_reader *r, uint64_t *out)
{
    return read_uint(r, 8, out);
}

cordon_err cordon_read_bytes(cordon_reader *r, void *out, size_t n)
{
    if (cordon_reader_left(r) < n)
        return CORDON_ERR_TRUNCATED;
    if (n)
        memcpy(out, r->data + r->pos, n);
    r->pos += n;
    return CORDON_OK;
}

cordon_err cordon_read_view(cordon_reader *r, size_t n, const uint8_t **out)
{
    if (cordon_reader_left(r) < n)
        return CORDON_ERR_TRUNCATED;
    *out = r->data + r->pos;
    r->pos += n;
    return CORDON_OK;
}

cordon_err cordon_read_sub(cordon_reader *r, unsigned prefix_len, size_t max, cordon_reader *sub)
{
    if (prefix_len != 1 && prefix_len != 2 && prefix_len != 4)
        return CORDON_ERR_INVAL;
    size_t start = r->pos;
    uint64_t n;
    cordon_err err = read_uint(r, prefix_len, &n);
    if (err != CORDON_OK)
        return err;
    if (n > max) {
        r->pos = start;
        return CORDON_ERR_TOO_LARGE;
    }
    if (n > cordon_reader_left(r)) {
        r->pos = start;
        return CORDON_ERR_TRUNCATED;
    }
    cordon_reader_init(sub, r->data + r->pos, (size_t)n);
    r->pos += (size_t)n;
    return CORDON_OK;
}

cordon_err cordon_read_text(cordon_reader *r, unsigned prefix_len, char *out, size_t outlen)
{
    if (outlen == 0)
        return CORDON_ERR_INVAL;
    size_t start = r->pos;
    cordon_reader sub;
    cordon_err err = cordon_read_sub(r, prefix_len, outlen - 1, &sub);
    if (err != CORDON_OK)
        return err;
    if (memchr(sub.data, '\0', sub.len) != NULL) {
        r->pos = start;
        return CORDON_ERR_MALFORMED;
    }
    memcpy(out, sub.data, sub.len);
    out[sub.len] = '\0';
    return CORDON_OK;
}

cordon_err cordon_reader_end(const cordon_reader *r)
{
    return r->pos == r->len ? CORDON_OK : CORDON_ERR_TRAILING;
}
