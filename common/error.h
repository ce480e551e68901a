/*
 * common/error.h — the one error enum of the project.
 *
 * Every function that can fail returns a cordon_err and is marked CORDON_MUST_CHECK.
 * cordon_strerror() gives a message meant for a user: it says what was wrong.
 * The enum is append-only: its values appear in audit logs and wire error codes.
 */
#ifndef CORDON_COMMON_ERROR_H
#define CORDON_COMMON_ERROR_H

#define CORDON_MUST_CHECK __attribute__((warn_unused_result))

typedef enum cordon_err {
    CORDON_OK = 0,
    CORDON_ERR_NOMEM,              /* out of memory */
    CORDON_ERR_INVAL,              /* invalid argument from the caller */
    CORDON_ERR_TRUNCATED,          /* input ended before the structure did */
    CORDON_ERR_TRAILING,           /* bytes left over after a complete structure */
    CORDON_ERR_TOO_LARGE,          /* a length or count over its cap */
    CORDON_ERR_MALFORMED,          /* bytes that do not decode */
    CORDON_ERR_IO,                 /* a system call failed (see errno at the call site) */
    CORDON_ERR_EXISTS,             /* refusing to overwrite something that exists */
    CORDON_ERR_NOT_FOUND,          /* no such thing */
    CORDON_ERR_CRYPTO,             /* an OpenSSL operation failed internally */
    CORDON_ERR_BAD_SIGNATURE,      /* a signature does not verify */
    CORDON_ERR_KEY_TYPE,           /* key type not accepted (only ECDSA P-256 and Ed25519) */
    CORDON_ERR_CERT_UNTRUSTED,     /* certificate not issued by this overlay's CA */
    CORDON_ERR_CERT_EXPIRED,       /* certificate past its notAfter */
    CORDON_ERR_CERT_NOT_YET_VALID, /* certificate before its notBefore */
    CORDON_ERR_CERT_REVOKED,       /* certificate listed in the CRL */
    CORDON_ERR_CERT_NODE_ID,       /* certificate carries no node ID of this overlay, or several */
    CORDON_ERR_CRL,                /* CRL missing, badly signed, or out of date */
    CORDON_ERR_TOKEN_UNKNOWN,      /* enrollment token not known to the server */
    CORDON_ERR_TOKEN_EXPIRED,      /* enrollment token past its expiry */
    CORDON_ERR_TOKEN_EXHAUSTED,    /* enrollment token has no nodes left */
    CORDON_ERR_RATE_LIMITED,       /* too many requests; try again later */
    CORDON_ERR_DB,                 /* the database failed */
    CORDON_ERR_PROTOCOL,           /* a peer process or server broke the protocol */
    CORDON_ERR_FINGERPRINT,        /* server CA does not match the pinned fingerprint */
    CORDON_ERR_NETWORK,            /* server unreachable or connection failed */
    CORDON_ERR_REFUSED,            /* the server refused the request */
    CORDON_ERR_BUSY,               /* a resource cap was reached */
    /* Refusals of a stored object (store/ acceptance; each reaches the writer). */
    CORDON_ERR_OBJ_NOT_ALLOWED, /* the kind's policy does not let this writer write there */
    CORDON_ERR_OBJ_STALE,       /* seq not above the stored object's */
    CORDON_ERR_OBJ_FUTURE,      /* created_at beyond the allowed clock skew */
    CORDON_ERR_OBJ_EXPIRED,     /* created_at + lifetime already past */
    CORDON_ERR_OBJ_LIFETIME,    /* lifetime 0 or over the overlay maximum */
    CORDON_ERR_OBJ_QUOTA,       /* the writer's quota (objects or bytes) is used up */
    CORDON_ERR_OBJ_CAPACITY,    /* this node's storage capacity is used up */
    CORDON_ERR__COUNT
} cordon_err;

/* Never NULL; a static string. */
const char *cordon_strerror(cordon_err err);

/* Short stable name for logs and JSON ("token_exhausted"). Never NULL. */
const char *cordon_errname(cordon_err err);

#endif
