/* enroll/request.c — see request.h. */
#include "enroll/request.h"

#include <string.h>
#include <strings.h>

#include "common/hex.h"
#include "common/mem.h"
#include "wire/reader.h"

static const struct {
    const char *path;
    const char *method;
    enum cordon_route route;
} routes[] = {
    {"/v1/ca", "GET", CORDON_ROUTE_CA},        {"/v1/overlay", "GET", CORDON_ROUTE_OVERLAY},
    {"/v1/crl", "GET", CORDON_ROUTE_CRL},      {"/v1/enroll", "POST", CORDON_ROUTE_ENROLL},
    {"/metrics", "GET", CORDON_ROUTE_METRICS},
};

enum cordon_route cordon_enroll_route(const char *method, const char *path,
                                      struct cordon_http_refusal *refusal)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        /* HEAD is GET without a body; libmicrohttpd drops the body itself. */
        if (strcmp(method, routes[i].method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
            return routes[i].route;
        refusal->status = 405;
        refusal->message = "method not allowed for this path";
        refusal->allow = strcmp(routes[i].method, "GET") == 0 ? "GET, HEAD" : routes[i].method;
        return CORDON_ROUTE_NONE;
    }
    refusal->status = 404;
    refusal->message = "no such endpoint";
    refusal->allow = NULL;
    return CORDON_ROUTE_NONE;
}

void cordon_token_format(const uint8_t raw[CORDON_TOKEN_BYTES], char out[CORDON_TOKEN_TEXT_LEN + 1])
{
    memcpy(out, CORDON_TOKEN_PREFIX, sizeof(CORDON_TOKEN_PREFIX) - 1);
    cordon_hex_encode(raw, CORDON_TOKEN_BYTES, out + sizeof(CORDON_TOKEN_PREFIX) - 1);
}

void cordon_token_hash(const uint8_t raw[CORDON_TOKEN_BYTES], uint8_t hash[32])
{
    cordon_sha256(raw, CORDON_TOKEN_BYTES, hash);
}

cordon_err cordon_enroll_parse_authorization(const char *header, size_t len, uint8_t token_hash[32])
{
    static const char scheme[] = "Bearer ";
    static const char prefix[] = CORDON_TOKEN_PREFIX;
    const uint8_t *p;
    uint8_t raw[CORDON_TOKEN_BYTES];
    cordon_reader r;
    if (header == NULL)
        return CORDON_ERR_INVAL;
    cordon_reader_init(&r, header, len);
    if (cordon_read_view(&r, sizeof(scheme) - 1, &p) != CORDON_OK ||
        strncasecmp((const char *)p, scheme, sizeof(scheme) - 1) != 0)
        return CORDON_ERR_MALFORMED;
    if (cordon_reader_left(&r) != CORDON_TOKEN_TEXT_LEN)
        return CORDON_ERR_MALFORMED;
    if (cordon_read_view(&r, sizeof(prefix) - 1, &p) != CORDON_OK ||
        memcmp(p, prefix, sizeof(prefix) - 1) != 0)
        return CORDON_ERR_MALFORMED;
    if (cordon_read_view(&r, 2 * CORDON_TOKEN_BYTES, &p) != CORDON_OK ||
        cordon_hex_decode((const char *)p, 2 * CORDON_TOKEN_BYTES, raw, sizeof(raw)) != CORDON_OK)
        return CORDON_ERR_MALFORMED;
    cordon_token_hash(raw, token_hash);
    cordon_wipe(raw, sizeof(raw));
    return CORDON_OK;
}

static int content_type_ok(const char *ct)
{
    static const char *const accepted[] = {"application/pkcs10", "application/x-pem-file",
                                           "text/plain"};
    if (ct == NULL)
        return 1;
    size_t n = strcspn(ct, ";"); /* parameters such as charset are ignored */
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
        if (strlen(accepted[i]) == n && strncasecmp(ct, accepted[i], n) == 0)
            return 1;
    return 0;
}

static unsigned refuse(struct cordon_http_refusal *refusal, unsigned status, const char *msg)
{
    refusal->status = status;
    refusal->message = msg;
    refusal->allow = NULL;
    return status;
}

unsigned cordon_enroll_request_parse(const char *authorization, const char *content_type,
                                     const uint8_t *body, size_t body_len,
                                     struct cordon_enroll_request *out,
                                     struct cordon_http_refusal *refusal)
{
    memset(out, 0, sizeof(*out));
    if (authorization == NULL)
        return refuse(refusal, 401, "missing Authorization: Bearer <token>");
    if (cordon_enroll_parse_authorization(authorization, strlen(authorization), out->token_hash) !=
        CORDON_OK)
        return refuse(refusal, 401, "malformed token: expected Authorization: Bearer cdt_<hex>");
    if (body_len > CORDON_HTTP_BODY_MAX)
        return refuse(refusal, 413, "request body too large: a CSR is at most 8192 bytes");
    if (!content_type_ok(content_type))
        return refuse(refusal, 415, "content type must be application/pkcs10 (PEM or DER CSR)");
    if (body_len == 0)
        return refuse(refusal, 400, "empty body: send a PKCS#10 CSR");
    cordon_err err = cordon_csr_parse(body, body_len, &out->csr);
    switch (err) {
    case CORDON_OK:
        return 0;
    case CORDON_ERR_BAD_SIGNATURE:
        return refuse(refusal, 400, "CSR self-signature does not verify");
    case CORDON_ERR_KEY_TYPE:
        return refuse(refusal, 400, "CSR key type not accepted: use ECDSA P-256 or Ed25519");
    case CORDON_ERR_TOO_LARGE:
        return refuse(refusal, 413, "request body too large: a CSR is at most 8192 bytes");
    case CORDON_ERR_NOMEM:
        return refuse(refusal, 503, "server out of memory");
    default:
        return refuse(refusal, 400, "body is not a PKCS#10 CSR (PEM or DER)");
    }
}

void cordon_enroll_request_clear(struct cordon_enroll_request *req)
{
    if (req == NULL)
        return;
    cordon_csr_free(req->csr);
    req->csr = NULL;
    cordon_wipe(req->token_hash, sizeof(req->token_hash));
}
