/* crypto/rand.c — the CSPRNG and SHA-256. See crypto.h. */
#include <limits.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/mem.h"
#include "crypto/crypto.h"
#include "crypto/internal.h"

cordon_err cordon_random(void *out, size_t n)
{
    cordon_err err = CORDON_OK;
    unsigned char *p = out;

    if (out == NULL && n != 0)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(p, chunk) != 1) {
            /* Never hand out a partly filled buffer as if it were random. */
            cordon_wipe(out, (size_t)(p - (unsigned char *)out));
            err = CORDON_ERR_CRYPTO;
            goto out;
        }
        p += chunk;
        n -= (size_t)chunk;
    }
out:
    ERR_pop_to_mark();
    return err;
}

void cordon_sha256(const void *data, size_t len, uint8_t out[32])
{
    static const uint8_t empty[1];
    unsigned int n = 0;

    if (data == NULL && len != 0)
        abort();
    ERR_set_mark();
    /* SHA-256 from the default provider cannot fail short of memory exhaustion or a
     * broken installation; a void hash that quietly returned garbage would be worse than
     * stopping, so stop. */
    if (EVP_Digest(data != NULL ? data : empty, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
        abort();
    ERR_pop_to_mark();
}
