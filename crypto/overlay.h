/*
 * crypto/overlay.h — signing and opening the overlay document (wire/overlay_doc.h).
 *
 * Signing is the CA's: cordon_overlay_doc_encode(), cordon_sign() over exactly those
 * bytes with the CA key, cordon_overlay_envelope_encode() with cordon_overlay_alg() of
 * the key's type. Opening is every peer's: cordon_overlay_open().
 */
#ifndef CORDON_CRYPTO_OVERLAY_H
#define CORDON_CRYPTO_OVERLAY_H

#include "crypto/crypto.h"
#include "wire/overlay_doc.h"

/* The signature algorithm name carried in the envelope for a CA key of this type
 * ("ecdsa-p256-sha256" or "ed25519"); NULL for any other type. A static string. */
const char *cordon_overlay_alg(cordon_key_type type);

/* Opens an envelope: decodes it, checks that alg matches the CA's key type, verifies the
 * signature over the document bytes with ca, decodes the document, and checks that the
 * CA certificate inside the document is ca itself (same DER). On success doc is filled
 * (release with cordon_overlay_doc_clear); on failure it is untouched. ca is borrowed for
 * the call only.
 *
 * Errors: CORDON_ERR_MALFORMED, CORDON_ERR_TOO_LARGE (see wire/overlay_doc.h; also a
 * signed document whose CA field does not parse as a certificate),
 * CORDON_ERR_BAD_SIGNATURE (the signature does not verify with ca, or alg is not the one
 * of ca's key type), CORDON_ERR_CERT_UNTRUSTED (the document names another CA),
 * CORDON_ERR_INVAL (parameters out of range, or NULL arguments), CORDON_ERR_KEY_TYPE (ca's
 * key is neither P-256 nor Ed25519), CORDON_ERR_NOMEM, CORDON_ERR_CRYPTO.
 *
 * Not checked here: freshness. Any document the CA ever signed opens, so a peer that
 * already holds one must refuse a fetched document whose issued_at is older (rollback
 * to old parameters or bootstrap peers). */
CORDON_MUST_CHECK cordon_err cordon_overlay_open(const void *envelope, size_t len,
                                                 const cordon_cert *ca,
                                                 struct cordon_overlay_doc *doc);

#endif
