/* common/error.c — messages for the error enum (see error.h). */
#include "common/error.h"

#include <stddef.h>

static const struct {
    const char *name;
    const char *message;
} table[CORDON_ERR__COUNT] = {
    [CORDON_OK] = {"ok", "success"},
    [CORDON_ERR_NOMEM] = {"nomem", "out of memory"},
    [CORDON_ERR_INVAL] = {"invalid", "invalid argument"},
    [CORDON_ERR_TRUNCATED] = {"truncated", "input is truncated"},
    [CORDON_ERR_TRAILING] = {"trailing", "unexpected bytes after the end of the input"},
    [CORDON_ERR_TOO_LARGE] = {"too_large", "input is larger than allowed"},
    [CORDON_ERR_MALFORMED] = {"malformed", "input is malformed"},
    [CORDON_ERR_IO] = {"io", "input/output error"},
    [CORDON_ERR_EXISTS] = {"exists", "already exists; refusing to overwrite it"},
    [CORDON_ERR_NOT_FOUND] = {"not_found", "not found"},
    [CORDON_ERR_CRYPTO] = {"crypto", "cryptographic operation failed"},
    [CORDON_ERR_BAD_SIGNATURE] = {"bad_signature", "signature does not verify"},
    [CORDON_ERR_KEY_TYPE] = {"key_type", "unsupported key type (ECDSA P-256 or Ed25519 required)"},
    [CORDON_ERR_CERT_UNTRUSTED] = {"cert_untrusted",
                                   "certificate was not issued by this overlay's CA"},
    [CORDON_ERR_CERT_EXPIRED] = {"cert_expired", "certificate has expired"},
    [CORDON_ERR_CERT_NOT_YET_VALID] = {"cert_not_yet_valid", "certificate is not yet valid"},
    [CORDON_ERR_CERT_REVOKED] = {"cert_revoked", "certificate has been revoked"},
    [CORDON_ERR_CERT_NODE_ID] = {"cert_node_id",
                                 "certificate must carry exactly one node ID of this overlay"},
    [CORDON_ERR_CRL] = {"crl", "certificate revocation list is missing, invalid or stale"},
    [CORDON_ERR_TOKEN_UNKNOWN] = {"token_unknown", "enrollment token is not known"},
    [CORDON_ERR_TOKEN_EXPIRED] = {"token_expired", "enrollment token has expired"},
    [CORDON_ERR_TOKEN_EXHAUSTED] = {"token_exhausted",
                                    "enrollment token has no node enrollments left"},
    [CORDON_ERR_RATE_LIMITED] = {"rate_limited", "too many requests; retry later"},
    [CORDON_ERR_DB] = {"db", "database error"},
    [CORDON_ERR_PROTOCOL] = {"protocol", "protocol violation"},
    [CORDON_ERR_FINGERPRINT] = {"fingerprint",
                                "server CA certificate does not match the pinned fingerprint"},
    [CORDON_ERR_NETWORK] = {"network", "could not reach the server"},
    [CORDON_ERR_REFUSED] = {"refused", "the server refused the request"},
    [CORDON_ERR_BUSY] = {"busy", "resource limit reached"},
    [CORDON_ERR_OBJ_NOT_ALLOWED] = {"not_allowed",
                                    "this writer is not allowed to write that object"},
    [CORDON_ERR_OBJ_STALE] = {"stale", "a newer or equal version is already stored"},
    [CORDON_ERR_OBJ_FUTURE] = {"future", "the object is dated too far in the future"},
    [CORDON_ERR_OBJ_EXPIRED] = {"expired", "the object's lifetime is over"},
    [CORDON_ERR_OBJ_LIFETIME] = {"lifetime", "the object's lifetime is zero or over the maximum"},
    [CORDON_ERR_OBJ_QUOTA] = {"quota_exceeded", "the writer's storage quota is exceeded"},
    [CORDON_ERR_OBJ_CAPACITY] = {"capacity", "the node's storage capacity is exhausted"},
};

const char *cordon_strerror(cordon_err err)
{
    if ((unsigned)err >= CORDON_ERR__COUNT || table[err].message == NULL)
        return "unknown error";
    return table[err].message;
}

const char *cordon_errname(cordon_err err)
{
    if ((unsigned)err >= CORDON_ERR__COUNT || table[err].name == NULL)
        return "unknown";
    return table[err].name;
}
