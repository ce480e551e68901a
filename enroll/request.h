/*
 * enroll/request.h — the enrollment server's handling of an HTTP request, without the
 * network: routing, the Authorization header, the CSR body of an enrollment, and the JSON
 * body of a renewal with every check of it that needs no database. The HTTP front calls it
 * with what libmicrohttpd collected; the fuzzer calls it with arbitrary bytes.
 *
 * Every refusal carries the HTTP status and a message for the client's {"error": ...}.
 */
#ifndef CORDON_ENROLL_REQUEST_H
#define CORDON_ENROLL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "crypto/crypto.h"

enum cordon_route {
    CORDON_ROUTE_NONE = 0,
    CORDON_ROUTE_CA,      /* GET  /v1/ca */
    CORDON_ROUTE_OVERLAY, /* GET  /v1/overlay */
    CORDON_ROUTE_CRL,     /* GET  /v1/crl */
    CORDON_ROUTE_ENROLL,  /* POST /v1/enroll */
    CORDON_ROUTE_METRICS, /* GET  /metrics */
    CORDON_ROUTE_RENEW,   /* POST /v1/renew */
};

struct cordon_http_refusal {
    unsigned status;     /* 400, 401, 403, 404, 405, 413, 415, 429, 500, 503 */
    const char *message; /* static text */
    const char *allow;   /* for 405: the methods the path allows, else NULL */
};

/* Maps method and path (NUL-terminated, untrusted) to a route. On failure returns
 * CORDON_ROUTE_NONE and fills refusal (404 unknown path, 405 wrong method). */
enum cordon_route cordon_enroll_route(const char *method, const char *path,
                                      struct cordon_http_refusal *refusal);

/* Parses "Bearer cdt_<64 hex>" (scheme case-insensitive, one space). On success writes the
 * SHA-256 of the token's 32 random bytes, which is all the server ever stores.
 * CORDON_ERR_MALFORMED otherwise (or CORDON_ERR_INVAL for a NULL header). */
CORDON_MUST_CHECK cordon_err cordon_enroll_parse_authorization(const char *header, size_t len,
                                                               uint8_t token_hash[32]);

struct cordon_enroll_request {
    uint8_t token_hash[32];
    cordon_csr *csr; /* owned: cordon_enroll_request_clear() */
};

/* Checks an enrollment request whose route is CORDON_ROUTE_ENROLL: the bearer token's
 * form (401 when missing or malformed), the content type if one is given (415 unless
 * application/pkcs10 or application/x-pem-file or text/plain), the body size (413 over
 * CORDON_HTTP_BODY_MAX), the CSR (400 malformed, badly self-signed or of a refused key
 * type). Returns 0 and fills out, or the status with refusal filled. */
unsigned cordon_enroll_request_parse(const char *authorization, const char *content_type,
                                     const uint8_t *body, size_t body_len,
                                     struct cordon_enroll_request *out,
                                     struct cordon_http_refusal *refusal);
void cordon_enroll_request_clear(struct cordon_enroll_request *req);

/* ---- renewal (POST /v1/renew, docs/protocol.md) -------------------------------------------- */

/* How far the signed time may lie from the server's clock, either way (seconds): the
 * window in which a captured request could be replayed (and then only for the same key,
 * node ID and CSR, answered by a certificate only the key's holder can use). */
#define CORDON_RENEW_TIME_WINDOW 300

struct cordon_renew_request {
    cordon_cert *cert; /* owned: the node's current certificate, parsed, not yet verified */
    uint8_t *csr;      /* owned: the CSR text as sent, parsed by the check */
    size_t csr_len;
    int64_t time; /* >= 0 */
    uint8_t sig[CORDON_SIG_MAX];
    size_t sig_len;
};

/* Parses a renewal body: the content type (415 unless application/json, parameters
 * ignored), the size (413 over CORDON_HTTP_BODY_MAX), then one JSON object with exactly the
 * members certificate (string: a certificate, PEM), csr (string), time (integer >= 0) and
 * signature (string: hex, 1..CORDON_SIG_MAX bytes); 400 for anything else (not JSON,
 * trailing bytes, a duplicate or unknown member, a wrong type, a certificate that does not
 * parse, an empty CSR). Returns 0 and fills out, or the status with refusal filled and out
 * empty. */
unsigned cordon_renew_request_parse(const char *content_type, const uint8_t *body, size_t body_len,
                                    struct cordon_renew_request *out,
                                    struct cordon_http_refusal *refusal);
void cordon_renew_request_clear(struct cordon_renew_request *req);

/* What the checks established about a renewal. */
struct cordon_renew_proof {
    uint8_t node_id[CORDON_NODE_ID_LEN]; /* from the presented certificate */
    uint8_t serial[CORDON_SERIAL_LEN];   /* the presented certificate's */
    bool revoked;    /* the CRL lists the presented certificate: refuse with 403 */
    cordon_csr *csr; /* owned: cordon_renew_proof_clear() */
};

/* The checks of a parsed renewal that need no database, in this order:
 *   401  the certificate does not verify against ca, for overlay, at now, with crl
 *        (cordon_cert_verify_node). A certificate that the CRL lists but that is otherwise
 *        valid is not refused here: proof->revoked is set, and the caller refuses it (403)
 *        after the signature, like a revoked node, so that only the key's holder learns it;
 *   400  the CSR does not parse, is badly self-signed, or has a refused key type;
 *   400  the CSR's public key is not the certificate's;
 *   401  |time - now| > CORDON_RENEW_TIME_WINDOW;
 *   401  the signature over cordon_renew_message(csr, time) does not verify with the
 *        certificate's key.
 * 503 when the server's own CRL is unusable or memory runs out. Returns 0 and fills out,
 * or the status with refusal filled and out empty. */
unsigned cordon_renew_request_check(const struct cordon_renew_request *req, const cordon_cert *ca,
                                    const cordon_crl *crl, const char *overlay, int64_t now,
                                    struct cordon_renew_proof *out,
                                    struct cordon_http_refusal *refusal);
void cordon_renew_proof_clear(struct cordon_renew_proof *proof);

/* The token text for 32 random bytes ("cdt_" + 64 hex, NUL-terminated) and its hash. */
void cordon_token_format(const uint8_t raw[CORDON_TOKEN_BYTES],
                         char out[CORDON_TOKEN_TEXT_LEN + 1]);
void cordon_token_hash(const uint8_t raw[CORDON_TOKEN_BYTES], uint8_t hash[32]);

#endif
