/* crypto/csr.c — certificate signing requests. See crypto.h. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "crypto/internal.h"

static cordon_err csr_wrap(X509_REQ *req, cordon_csr **out)
{
    cordon_csr *csr = calloc(1, sizeof(*csr));
    if (csr == NULL)
        return CORDON_ERR_NOMEM;
    csr->req = req;
    *out = csr;
    return CORDON_OK;
}

cordon_err cordon_csr_create(const cordon_key *key, cordon_csr **out)
{
    cordon_err err = CORDON_OK;
    X509_REQ *req = NULL;
    X509_NAME *name;

    if (key == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    ERR_set_mark();
    req = X509_REQ_new();
    if (req == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    name = X509_REQ_get_subject_name(req);
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                   (const unsigned char *)"cordon-node", -1, -1, 0) != 1 ||
        X509_REQ_set_pubkey(req, key->pkey) != 1 ||
        X509_REQ_sign(req, key->pkey, cordon_crypto_sign_md(key->type)) <= 0) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    err = csr_wrap(req, out);
    if (err != CORDON_OK)
        goto out;
    req = NULL;
out:
    X509_REQ_free(req);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_csr_parse(const void *data, size_t len, cordon_csr **out)
{
    cordon_err err = CORDON_OK;
    unsigned char *alloc = NULL;
    const unsigned char *der = NULL;
    const unsigned char *p;
    long der_len = 0;
    X509_REQ *req = NULL;
    cordon_key_type type;

    if (out == NULL || (data == NULL && len != 0))
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (len > CORDON_CSR_MAX)
        return CORDON_ERR_TOO_LARGE;
    ERR_set_mark();
    err = cordon_crypto_frame(data, len, PEM_STRING_X509_REQ, &alloc, &der, &der_len);
    if (err != CORDON_OK)
        goto out;
    p = der;
    req = d2i_X509_REQ(NULL, &p, der_len);
    if (req == NULL || p != der + der_len || X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
        err = CORDON_ERR_MALFORMED;
        goto out;
    }
    /* The key type first: it is cheap, and a key we would never certify need not have its
     * signature checked. */
    err = cordon_crypto_pkey_type(X509_REQ_get0_pubkey(req), &type);
    if (err != CORDON_OK)
        goto out;
    if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
        err = CORDON_ERR_BAD_SIGNATURE;
        goto out;
    }
    err = csr_wrap(req, out);
    if (err != CORDON_OK)
        goto out;
    req = NULL;
out:
    X509_REQ_free(req);
    OPENSSL_free(alloc);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_csr_pem(const cordon_csr *csr, cordon_buf *out)
{
    cordon_buf der;
    if (csr == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    cordon_buf_init(&der, CORDON_CSR_MAX, false);
    cordon_err err = cordon_csr_der(csr, &der);
    if (err == CORDON_OK)
        err = cordon_crypto_pem(PEM_STRING_X509_REQ, &der, out);
    cordon_buf_free(&der);
    return err;
}

cordon_err cordon_csr_der(const cordon_csr *csr, cordon_buf *out)
{
    cordon_err err;
    unsigned char *p = NULL;
    int n;

    if (csr == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    n = i2d_X509_REQ(csr->req, &p);
    err = cordon_crypto_der_to_buf(p, n, out);
    ERR_pop_to_mark();
    return err;
}

bool cordon_csr_matches_cert(const cordon_csr *csr, const cordon_cert *cert)
{
    bool ok;

    if (csr == NULL || cert == NULL)
        return false;
    ERR_set_mark();
    const EVP_PKEY *want = X509_REQ_get0_pubkey(csr->req);
    const EVP_PKEY *have = X509_get0_pubkey(cert->x509);
    ok = want != NULL && have != NULL && EVP_PKEY_eq(want, have) == 1;
    ERR_pop_to_mark();
    return ok;
}

cordon_err cordon_renew_message(const cordon_csr *csr, int64_t time,
                                uint8_t out[CORDON_RENEW_MSG_LEN])
{
    static const char label[16] = "cordon-renew-v1"; /* 15 characters and the 0x00 */
    cordon_buf der;

    if (csr == NULL || out == NULL || time < 0)
        return CORDON_ERR_INVAL;
    cordon_buf_init(&der, CORDON_CSR_MAX, false);
    cordon_err err = cordon_csr_der(csr, &der);
    if (err == CORDON_OK) {
        memcpy(out, label, sizeof(label));
        cordon_sha256(der.data, der.len, out + 16);
        for (int i = 0; i < 8; i++)
            out[48 + i] = (uint8_t)((uint64_t)time >> (56 - 8 * i));
    }
    cordon_buf_free(&der);
    return err;
}

void cordon_csr_free(cordon_csr *csr)
{
    if (csr == NULL)
        return;
    X509_REQ_free(csr->req);
    free(csr);
}
