/* crypto/base64.c — standard base64 (RFC 4648 section 4), strict. See crypto.h. */
#include <string.h>

#include <openssl/evp.h>

#include "common/mem.h"
#include "crypto/crypto.h"

/* Chunks keep the work on the stack: 768 bytes <-> 1024 characters. */
#define RAW_CHUNK 768
#define TEXT_CHUNK 1024

cordon_err cordon_base64_encode(const void *in, size_t len, cordon_buf *out)
{
    const uint8_t *p = in;
    unsigned char text[TEXT_CHUNK + 1];
    cordon_err err = CORDON_OK;

    if (out == NULL || (in == NULL && len != 0))
        return CORDON_ERR_INVAL;
    while (len > 0) {
        size_t n = len < RAW_CHUNK ? len : RAW_CHUNK;
        int m = EVP_EncodeBlock(text, p, (int)n);
        if (m < 0) {
            err = CORDON_ERR_CRYPTO;
            break;
        }
        err = cordon_buf_append(out, text, (size_t)m);
        if (err != CORDON_OK)
            break;
        p += n;
        len -= n;
    }
    if (err == CORDON_OK)
        err = cordon_buf_terminate(out);
    /* The input may have been a secret, and this is its encoding. */
    cordon_wipe(text, sizeof(text));
    return err;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * EVP_DecodeBlock() skips leading and trailing white space, takes '=' anywhere in the
 * last quantum and ignores the bits that padding leaves over; so the whole input is checked
 * here first and the decoder only ever sees canonical base64.
 */
static bool b64_canonical(const char *in, size_t len, size_t *pad)
{
    size_t n;

    *pad = 0;
    if (len % 4 != 0)
        return false;
    if (len == 0)
        return true;
    if (in[len - 1] == '=')
        (*pad)++;
    if (in[len - 2] == '=')
        (*pad)++;
    if (*pad == 1 && in[len - 2] == '=')
        return false;
    n = len - *pad;
    for (size_t i = 0; i < n; i++)
        if (b64_value(in[i]) < 0)
            return false;
    /* The bits the last character carries beyond the data must be zero. */
    if (*pad == 1 && (b64_value(in[n - 1]) & 0x03) != 0)
        return false;
    if (*pad == 2 && (b64_value(in[n - 1]) & 0x0f) != 0)
        return false;
    return true;
}

cordon_err cordon_base64_decode(const char *in, size_t len, cordon_buf *out)
{
    unsigned char raw[RAW_CHUNK];
    cordon_err err = CORDON_OK;
    size_t pad;

    if (out == NULL || (in == NULL && len != 0))
        return CORDON_ERR_INVAL;
    if (!b64_canonical(in, len, &pad))
        return CORDON_ERR_MALFORMED;
    while (len > 0) {
        size_t n = len < TEXT_CHUNK ? len : TEXT_CHUNK;
        int m = EVP_DecodeBlock(raw, (const unsigned char *)in, (int)n);
        if (m < 0 || m % 3 != 0) {
            err = CORDON_ERR_MALFORMED;
            break;
        }
        size_t got = (size_t)m;
        /* EVP_DecodeBlock() counts the zero bytes that padding stands for. */
        if (n == len)
            got -= pad;
        err = cordon_buf_append(out, raw, got);
        if (err != CORDON_OK)
            break;
        in += n;
        len -= n;
    }
    cordon_wipe(raw, sizeof(raw));
    return err;
}
