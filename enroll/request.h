/*
 * enroll/request.h — the enrollment server's handling of an HTTP request, without the
 * network: routing, the Authorization header, and the CSR body. The HTTP front calls it
 * with what libmicrohttpd collected; the fuzzer calls it with arbitrary bytes.
 *
 * Every refusal carries the HTTP status and a message for the client's {"error": ...}.
 */
#ifndef CORDON_ENROLL_REQUEST_H
#define CORDON_ENROLL_REQUEST_H

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

/* The token text for 32 random bytes ("cdt_" + 64 hex, NUL-terminated) and its hash. */
void cordon_token_format(const uint8_t raw[CORDON_TOKEN_BYTES],
                         char out[CORDON_TOKEN_TEXT_LEN + 1]);
void cordon_token_hash(const uint8_t raw[CORDON_TOKEN_BYTES], uint8_t hash[32]);

#endif
