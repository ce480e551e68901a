/* crypto/sign.c — signatures over byte strings. See crypto.h. */
#include <stdlib.h>

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

struct cordon_verify_ctx {
    const cordon_cert *signer; /* borrowed */
    EVP_MD *md;                /* P-256: SHA-256, fetched once */
    EVP_PKEY_CTX *pctx;        /* P-256: initialized for verify once; NULL for Ed25519 */
};

cordon_err cordon_verify_ctx_new(const cordon_cert *signer, cordon_verify_ctx **out)
{
    cordon_err err;
    cordon_key_type type;
    cordon_verify_ctx *c = NULL;

    if (out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (signer == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    EVP_PKEY *pub = X509_get0_pubkey(signer->x509);
    err = cordon_crypto_pkey_type(pub, &type);
    if (err != CORDON_OK)
        goto out;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    c->signer = signer;
    if (type == CORDON_KEY_P256) {
        c->md = EVP_MD_fetch(NULL, md_name(type), NULL);
        c->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
        /* init once, verify many times: the context keeps its parameters (as openssl
         * speed uses it). */
        if (c->md == NULL || c->pctx == NULL || EVP_PKEY_verify_init(c->pctx) != 1 ||
            EVP_PKEY_CTX_set_signature_md(c->pctx, c->md) != 1) {
            err = CORDON_ERR_CRYPTO;
            goto out;
        }
    }
    *out = c;
    c = NULL;
out:
    cordon_verify_ctx_free(c);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_verify_with(cordon_verify_ctx *c, const void *msg, size_t len, const uint8_t *sig,
                              size_t sig_len)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    cordon_err err = CORDON_OK;

    if (c == NULL || (msg == NULL && len != 0))
        return CORDON_ERR_INVAL;
    if (c->pctx == NULL)
        return cordon_verify(c->signer, msg, len, sig, sig_len);
    if (sig == NULL || sig_len == 0 || sig_len > CORDON_SIG_MAX)
        return CORDON_ERR_BAD_SIGNATURE;
    ERR_set_mark();
    if (EVP_Digest(msg != NULL ? msg : empty_msg, len, digest, &n, c->md, NULL) != 1)
        err = CORDON_ERR_CRYPTO;
    /* 0 is a wrong signature, < 0 one that does not even decode: the same to callers. */
    else if (EVP_PKEY_verify(c->pctx, sig, sig_len, digest, n) != 1)
        err = CORDON_ERR_BAD_SIGNATURE;
    ERR_pop_to_mark();
    return err;
}

void cordon_verify_ctx_free(cordon_verify_ctx *c)
{
    if (c == NULL)
        return;
    EVP_PKEY_CTX_free(c->pctx);
    EVP_MD_free(c->md);
    free(c);
}
