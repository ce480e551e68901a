/* crypto/sign.c — signatures over byte strings. See crypto.h. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "crypto/internal.h"

/* EVP wants a valid pointer even for an empty message. */
static const uint8_t empty_msg[1];

static const char *md_name(cordon_key_type type)
{
    return type == CORDON_KEY_P256 ? "SHA256" : NULL;
}

cordon_err cordon_sign(const cordon_key *key, const void *msg, size_t len, uint8_t *sig,
                       size_t *sig_len)
{
    cordon_err err = CORDON_OK;
    EVP_MD_CTX *mctx = NULL;
    size_t n = CORDON_SIG_MAX;

    if (key == NULL || sig == NULL || sig_len == NULL || (msg == NULL && len != 0))
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestSignInit_ex(mctx, NULL, md_name(key->type), NULL, NULL, key->pkey, NULL) != 1 ||
        EVP_DigestSign(mctx, sig, &n, msg != NULL ? msg : empty_msg, len) != 1 ||
        n > CORDON_SIG_MAX) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    *sig_len = n;
out:
    EVP_MD_CTX_free(mctx);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_verify(const cordon_cert *signer, const void *msg, size_t len, const uint8_t *sig,
                         size_t sig_len)
{
    cordon_err err = CORDON_OK;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY *pub;
    cordon_key_type type;

    if (signer == NULL || (msg == NULL && len != 0))
        return CORDON_ERR_INVAL;
    if (sig == NULL || sig_len == 0 || sig_len > CORDON_SIG_MAX)
        return CORDON_ERR_BAD_SIGNATURE;
    ERR_set_mark();
    pub = X509_get0_pubkey(signer->x509);
    err = cordon_crypto_pkey_type(pub, &type);
    if (err != CORDON_OK)
        goto out;
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestVerifyInit_ex(mctx, NULL, md_name(type), NULL, NULL, pub, NULL) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    /* 0 is a wrong signature, < 0 one that does not even decode: the same to callers. */
    if (EVP_DigestVerify(mctx, sig, sig_len, msg != NULL ? msg : empty_msg, len) != 1)
        err = CORDON_ERR_BAD_SIGNATURE;
out:
    EVP_MD_CTX_free(mctx);
    ERR_pop_to_mark();
    return err;
}
