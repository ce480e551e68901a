/*
 * crypto/overlay.c — opening the CA-signed overlay document. See overlay.h.
 *
 * Order of work: the cheap, bounded checks (envelope size and shape, algorithm against
 * the CA's key type) before the signature; the document is parsed only once its bytes are
 * known to come from the CA; the CA named inside it is compared last, by DER fingerprint.
 */
#include "crypto/overlay.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

const char *cordon_overlay_alg(cordon_key_type type)
{
    switch (type) {
    case CORDON_KEY_P256:
        return "ecdsa-p256-sha256";
    case CORDON_KEY_ED25519:
        return "ed25519";
    default:
        return NULL;
    }
}

static cordon_err ca_key_type(const cordon_cert *ca, cordon_key_type *type)
{
    *type = cordon_cert_key_type(ca);
    return *type == CORDON_KEY_NONE ? CORDON_ERR_KEY_TYPE : CORDON_OK;
}

/* CORDON_OK when the PEM text names the same certificate as ca (same DER). */
static cordon_err same_ca(const char *pem, const cordon_cert *ca)
{
    uint8_t want[32], got[32];
    cordon_cert *named = NULL;
    cordon_err err = cordon_cert_parse(pem, strlen(pem), &named);
    if (err != CORDON_OK) {
        /* The CA signed a document whose CA field is not a certificate. */
        err = err == CORDON_ERR_NOMEM ? err : CORDON_ERR_MALFORMED;
        goto out;
    }
    if ((err = cordon_cert_fingerprint(ca, want)) != CORDON_OK ||
        (err = cordon_cert_fingerprint(named, got)) != CORDON_OK)
        goto out;
    err = cordon_ct_equal(want, got, sizeof(want)) ? CORDON_OK : CORDON_ERR_CERT_UNTRUSTED;
out:
    cordon_cert_free(named);
    return err;
}

cordon_err cordon_overlay_open(const void *envelope, size_t len, const cordon_cert *ca,
                               struct cordon_overlay_doc *doc)
{
    struct cordon_overlay_envelope env;
    struct cordon_overlay_doc *tmp = NULL;
    cordon_key_type type;

    if (ca == NULL || doc == NULL || (envelope == NULL && len > 0))
        return CORDON_ERR_INVAL;
    memset(&env, 0, sizeof(env));
    cordon_err err = cordon_overlay_envelope_decode(envelope, len, &env);
    if (err != CORDON_OK)
        goto out;
    if ((err = ca_key_type(ca, &type)) != CORDON_OK)
        goto out;
    /* A signature made for another algorithm cannot be this CA's: refuse it before
     * spending a verification on it. */
    if (strcmp(env.alg, cordon_overlay_alg(type)) != 0) {
        err = CORDON_ERR_BAD_SIGNATURE;
        goto out;
    }
    err = cordon_verify(ca, env.document, env.document_len, env.signature, env.signature_len);
    if (err != CORDON_OK)
        goto out;
    /* Heap rather than stack: the bootstrap table alone is 4 KiB. */
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if ((err = cordon_overlay_doc_decode(env.document, env.document_len, tmp)) != CORDON_OK)
        goto out;
    if ((err = same_ca(tmp->ca_pem, ca)) != CORDON_OK)
        goto out;
    *doc = *tmp;
    tmp->ca_pem = NULL; /* moved */
out:
    cordon_overlay_doc_clear(tmp);
    free(tmp);
    cordon_overlay_envelope_clear(&env);
    return err;
}
