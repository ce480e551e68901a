/*
 * crypto/object.h — resource IDs, signing and verifying the overlay's objects
 * (wire/object.h holds their encoding).
 *
 * Resource IDs (SHA-256, with the overlay name for domain separation):
 *   owned   SHA-256("cordon-owned-v1"  0x00 || overlay || 0x00 || writer[32] || name)
 *   shared  SHA-256("cordon-shared-v1" 0x00 || overlay || 0x00 || name)
 *   crl     SHA-256("cordon-crl-v1"    0x00 || overlay)
 * so an owned object's place depends on its writer: no other node can write there.
 *
 * Verification (cordon_object_verify) is the cryptographic half of acceptance, the same at
 * replicas and readers; store/ adds the stateful half (seq, quotas, time). It checks, in
 * this order, with the first failure returned:
 *   - the object's overlay is the verifier's (CORDON_ERR_OBJ_NOT_ALLOWED);
 *   - the resource ID is the one its kind derives (CORDON_ERR_OBJ_NOT_ALLOWED);
 *   - the certificate is a node certificate of this overlay's CA, valid at now and not
 *     revoked by the verifier's CRL (the CORDON_ERR_CERT_* codes of
 *     cordon_cert_verify_node(), CORDON_ERR_MALFORMED for bytes that do not parse), and its
 *     node ID is the object's writer (CORDON_ERR_OBJ_NOT_ALLOWED);
 *   - the signature over "cordon-object-v1" 0x00 || tbs verifies with the certificate's key
 *     (CORDON_ERR_BAD_SIGNATURE);
 *   - kind crl only: the value is a DER CRL signed by the overlay CA whose crlNumber is the
 *     object's seq (CORDON_ERR_CRL). Its nextUpdate may have passed: the newest CRL stays
 *     the best one there is while the enrollment server is down.
 *
 * Certificates checked once are cached (by the SHA-256 of their DER, at most cache_max,
 * least recently used evicted): a cache hit re-checks only validity at now and the CRL
 * listing of its serial, so many objects by one writer cost one chain verification.
 */
#ifndef CORDON_CRYPTO_OBJECT_H
#define CORDON_CRYPTO_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "crypto/crypto.h"
#include "wire/object.h"

/* The resource ID of an object of kind (owned, shared, crl) named name by writer; writer
 * and name are ignored where the kind does not use them. */
void cordon_object_resource_id(uint8_t kind, const char *overlay,
                               const uint8_t writer[CORDON_NODE_ID_LEN], const uint8_t *name,
                               size_t name_len, uint8_t out[CORDON_NODE_ID_LEN]);

/* Signs o and encodes the whole object into out (cap bytes, *len its length). o carries
 * every field but sig (o->resource is computed here from kind, overlay, writer and name;
 * o->cert must be the DER of the certificate of key). CORDON_ERR_INVAL when key does not
 * match the certificate or a field is out of range, CORDON_ERR_TOO_LARGE when out is too
 * small. o->sig/sig_len are left pointing into out. */
CORDON_MUST_CHECK cordon_err cordon_object_sign(const cordon_key *key, struct cordon_object *o,
                                                uint8_t *out, size_t cap, size_t *len);

typedef struct cordon_object_verifier cordon_object_verifier;

/* A verifier for overlay's objects, trusting ca (copied, not borrowed). crl may be NULL
 * (no revocation check) and is replaced with cordon_object_verifier_set_crl(). */
CORDON_MUST_CHECK cordon_err cordon_object_verifier_new(const cordon_cert *ca, const char *overlay,
                                                        size_t cache_max,
                                                        cordon_object_verifier **out);
/* Takes a CRL (the verifier keeps its own reference; the caller keeps ownership of crl).
 * The caller verified it against the CA. Cached certificates are re-checked against it. */
CORDON_MUST_CHECK cordon_err cordon_object_verifier_set_crl(cordon_object_verifier *v,
                                                            const cordon_crl *crl);
void cordon_object_verifier_free(cordon_object_verifier *v);

/* See the top of this file. o comes from cordon_object_decode() (o->tbs set). */
CORDON_MUST_CHECK cordon_err cordon_object_verify(cordon_object_verifier *v,
                                                  const struct cordon_object *o, int64_t now);

/* Counters of the certificate cache (for /metrics). */
struct cordon_object_verifier_stats {
    uint64_t cert_hits;
    uint64_t cert_misses;
    uint64_t verified;
    uint64_t refused;
};
void cordon_object_verifier_stats(const cordon_object_verifier *v,
                                  struct cordon_object_verifier_stats *out);

#endif
