/*
 * crypto/object.h — resource IDs, signing and verifying the overlay's objects
 * (wire/object.h holds their encoding).
 *
 * Resource IDs (SHA-256, with the overlay name for domain separation):
 *   owned   SHA-256("cordon-owned-v1"  0x00 || overlay || 0x00 || writer[32] || name)
 *   shared  SHA-256("cordon-shared-v1" 0x00 || overlay || 0x00 || name)
 *   crl     SHA-256("cordon-crl-v1"    0x00 || overlay)
 * so an owned object's place depends on its writer: no other node can write there. The tag
 * is the ASCII text shown followed by one 0x00; the overlay name holds no 0x00, the writer
 * is fixed-length and the name runs to the end, so no two inputs read the same.
 *
 * Verification (cordon_object_verify) is the cryptographic half of acceptance, the same at
 * replicas and readers; store/ adds the stateful half (seq, quotas, time). It checks, in
 * this order, with the first failure returned:
 *   - the object's overlay is the verifier's (CORDON_ERR_OBJ_NOT_ALLOWED);
 *   - the resource ID is the one its kind derives (CORDON_ERR_OBJ_NOT_ALLOWED);
 *   - the certificate is a node certificate of this overlay's CA, valid at now and not
 *     revoked by the verifier's CRL (the CORDON_ERR_CERT_* codes and CORDON_ERR_KEY_TYPE of
 *     cordon_cert_verify_node(); CORDON_ERR_MALFORMED for bytes that do not parse as one
 *     DER certificate, PEM included), and its node ID is the object's writer
 *     (CORDON_ERR_OBJ_NOT_ALLOWED);
 *   - the signature over "cordon-object-v1" 0x00 || tbs verifies with the certificate's key
 *     (CORDON_ERR_BAD_SIGNATURE). The tbs is encoded again from o's fields, not taken from
 *     o->tbs, so what was judged above is what the signature covers;
 *   - kind crl only: the value is a DER CRL signed by the overlay CA whose crlNumber is the
 *     object's seq (CORDON_ERR_CRL). Its nextUpdate may have passed: the newest CRL stays
 *     the best one there is while the enrollment server is down.
 * CORDON_ERR_INVAL for a NULL argument, or for fields the encoder refuses (found when the
 * signed bytes are encoded, so after the checks above); CORDON_ERR_NOMEM.
 *
 * Revocation and a stale CRL. The chain is verified without a CRL (cordon_cert_verify_node
 * with crl = NULL) and the certificate's serial is then looked up in the verifier's CRL with
 * cordon_crl_lists(), whatever that CRL's nextUpdate. Handing the CRL to
 * cordon_cert_verify_node() would refuse every object (CORDON_ERR_CRL) once nextUpdate
 * passed, so a peer would stop accepting any write, its own included, whenever the
 * enrollment server has been unreachable for a CRL period — and the DHT's copy of the CRL
 * cannot help, since it is just as stale. A stale CRL still revokes all it lists; what it
 * cannot know is a revocation made after it, and no choice here could know that either.
 * Keeping the CRL fresh (fetching it, taking newer ones from kind crl objects) is the
 * caller's work; cordon_object_verifier_set_crl() only ever moves forward.
 *
 * Certificates checked once are cached (by the SHA-256 of their DER, at most cache_max,
 * least recently used evicted): a cache hit re-checks only validity at now (within the CA's
 * own validity) and the CRL listing of its serial, then verifies the signature with the
 * cached parsed certificate, so many objects by one writer cost one chain verification.
 * Only certificates whose chain verified are cached, so outsiders cannot churn it.
 * A verifier is not thread-safe (the cache changes on every call): one per thread.
 */
#ifndef CORDON_CRYPTO_OBJECT_H
#define CORDON_CRYPTO_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "crypto/crypto.h"
#include "wire/object.h"

/* The resource ID of an object of kind (owned, shared, crl) named name by writer; writer
 * and name are ignored where the kind does not use them. All zero (which no input hashes
 * to) for an unknown kind, an overlay that is not 1..63 of [a-z0-9-], a missing writer
 * (owned), or a name that is not 1..CORDON_OBJECT_NAME_MAX bytes (owned, shared). */
void cordon_object_resource_id(uint8_t kind, const char *overlay,
                               const uint8_t writer[CORDON_NODE_ID_LEN], const uint8_t *name,
                               size_t name_len, uint8_t out[CORDON_NODE_ID_LEN]);

/* Signs o and encodes the whole object into out (cap bytes, *len its length). o carries
 * every field but sig (o->resource is computed here from kind, overlay, writer and name;
 * o->cert must be the DER of the certificate of key, and name o->writer as its node ID in
 * o->overlay; for kind crl, o->value must be a DER CRL whose crlNumber is o->seq).
 * CORDON_ERR_INVAL when key does not match the certificate, the certificate does not name
 * the writer, or a field is out of range; CORDON_ERR_TOO_LARGE when out is too small.
 * o->sig/sig_len and o->tbs/tbs_len are left pointing into out, so o can be verified as
 * it is. out needs room for the finished object only: it is signed in place. */
CORDON_MUST_CHECK cordon_err cordon_object_sign(const cordon_key *key, struct cordon_object *o,
                                                uint8_t *out, size_t cap, size_t *len);

typedef struct cordon_object_verifier cordon_object_verifier;

/* A verifier for overlay's objects, trusting ca (copied, not borrowed), caching at most
 * cache_max certificates (0: none; CORDON_OBJECT_CERT_CACHE is the usual size). It starts
 * without a CRL (no revocation check) until cordon_object_verifier_set_crl().
 * CORDON_ERR_INVAL for a NULL ca, a bad overlay name or cache_max over
 * CORDON_OBJECT_CERT_CACHE_MAX; CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_object_verifier_new(const cordon_cert *ca, const char *overlay,
                                                        size_t cache_max,
                                                        cordon_object_verifier **out);
/* Takes a CRL (the verifier keeps its own reference; the caller keeps ownership of crl).
 * Cached certificates are re-checked against it on their next use. The verifier checks
 * the CRL's issuer and signature again (not its freshness: see the top of this file) and
 * refuses with CORDON_ERR_CRL one that is not the CA's, has no crlNumber, or has a lower
 * crlNumber than the CRL it holds (an older CRL could un-revoke a certificate); the same
 * number replaces it. CORDON_ERR_INVAL for a NULL argument. On error the CRL held stays. */
CORDON_MUST_CHECK cordon_err cordon_object_verifier_set_crl(cordon_object_verifier *v,
                                                            const cordon_crl *crl);
void cordon_object_verifier_free(cordon_object_verifier *v);

/* See the top of this file. o comes from cordon_object_decode() or cordon_object_sign();
 * now is the verifier's clock (Unix seconds). Does not judge seq, created_at or lifetime:
 * store/ does. */
CORDON_MUST_CHECK cordon_err cordon_object_verify(cordon_object_verifier *v,
                                                  const struct cordon_object *o, int64_t now);

/* Counters of the certificate cache (for /metrics). */
struct cordon_object_verifier_stats {
    uint64_t cert_hits;   /* certificates found in the cache */
    uint64_t cert_misses; /* certificates parsed and chain-verified (passing or not) */
    uint64_t verified;    /* objects accepted */
    uint64_t refused;     /* objects refused, every error */
};
void cordon_object_verifier_stats(const cordon_object_verifier *v,
                                  struct cordon_object_verifier_stats *out);

#endif
