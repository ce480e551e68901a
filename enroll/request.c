/* enroll/request.c — see request.h. */
#include "enroll/request.h"

#include <jansson.h>
#include <stdlib.h>
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
    {"/metrics", "GET", CORDON_ROUTE_METRICS}, {"/v1/renew", "POST", CORDON_ROUTE_RENEW},
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

/* ct (NULL: none given) names one of the n accepted media types; parameters such as
 * charset are ignored. */
static bool media_type_is(const char *ct, const char *const *accepted, size_t n_accepted)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < n_accepted; i++)
        if (strlen(accepted[i]) == n && strncasecmp(ct, accepted[i], n) == 0)
            return true;
    return false;
}

static int content_type_ok(const char *ct)
{
    static const char *const accepted[] = {"application/pkcs10", "application/x-pem-file",
                                           "text/plain"};
    return ct == NULL || media_type_is(ct, accepted, sizeof(accepted) / sizeof(accepted[0]));
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

/* ---- renewal ---------------------------------------------------------------------------- */

void cordon_renew_request_clear(struct cordon_renew_request *req)
{
    if (req == NULL)
        return;
    cordon_cert_free(req->cert);
    free(req->csr);
    memset(req, 0, sizeof(*req));
}

/* The four members, each of the right type, and nothing else. */
static unsigned renew_members(json_t *o, struct cordon_renew_request *out,
                              struct cordon_http_refusal *refusal)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "certificate") != 0 && strcmp(key, "csr") != 0 &&
            strcmp(key, "time") != 0 && strcmp(key, "signature") != 0)
            return refuse(refusal, 400, "unknown member in the renewal body");
    }
    json_t *cert = json_object_get(o, "certificate");
    json_t *csr = json_object_get(o, "csr");
    json_t *time = json_object_get(o, "time");
    json_t *sig = json_object_get(o, "signature");
    if (!json_is_string(cert) || !json_is_string(csr) || !json_is_integer(time) ||
        !json_is_string(sig))
        return refuse(refusal, 400,
                      "renewal body needs certificate, csr and signature (strings) and time "
                      "(integer)");
    if (json_integer_value(time) < 0)
        return refuse(refusal, 400, "time must be Unix seconds, not negative");
    out->time = (int64_t)json_integer_value(time);

    size_t hex_len = json_string_length(sig);
    if (hex_len == 0 || hex_len % 2 != 0 || hex_len > 2 * CORDON_SIG_MAX ||
        cordon_hex_decode(json_string_value(sig), hex_len, out->sig, hex_len / 2) != CORDON_OK)
        return refuse(refusal, 400, "signature must be 2..160 hex digits");
    out->sig_len = hex_len / 2;

    size_t csr_len = json_string_length(csr);
    if (csr_len == 0)
        return refuse(refusal, 400, "csr is empty");
    out->csr = malloc(csr_len);
    if (out->csr == NULL)
        return refuse(refusal, 503, "server out of memory");
    memcpy(out->csr, json_string_value(csr), csr_len);
    out->csr_len = csr_len;

    cordon_err err =
        cordon_cert_parse(json_string_value(cert), json_string_length(cert), &out->cert);
    if (err == CORDON_ERR_NOMEM)
        return refuse(refusal, 503, "server out of memory");
    if (err != CORDON_OK)
        return refuse(refusal, 400, "certificate is not a PEM certificate");
    return 0;
}

unsigned cordon_renew_request_parse(const char *content_type, const uint8_t *body, size_t body_len,
                                    struct cordon_renew_request *out,
                                    struct cordon_http_refusal *refusal)
{
    static const char *const json_type[] = {"application/json"};
    json_error_t jerr;
    memset(out, 0, sizeof(*out));
    if (body_len > CORDON_HTTP_BODY_MAX)
        return refuse(refusal, 413, "request body too large: a renewal is at most 8192 bytes");
    if (content_type == NULL || !media_type_is(content_type, json_type, 1))
        return refuse(refusal, 415, "content type must be application/json");
    if (body_len == 0)
        return refuse(refusal, 400, "empty body: send the renewal as a JSON object");
    /* JSON is parsed with jansson within the length given (no NUL needed after the body);
     * duplicate members and anything after the object are refused, and so is \u0000. */
    json_t *o = json_loadb((const char *)body, body_len, JSON_REJECT_DUPLICATES, &jerr);
    unsigned status;
    if (!json_is_object(o))
        status = refuse(refusal, 400, "renewal body is not a JSON object");
    else
        status = renew_members(o, out, refusal);
    json_decref(o);
    if (status != 0)
        cordon_renew_request_clear(out);
    return status;
}

void cordon_renew_proof_clear(struct cordon_renew_proof *proof)
{
    if (proof == NULL)
        return;
    cordon_csr_free(proof->csr);
    memset(proof, 0, sizeof(*proof));
}

static unsigned cert_refusal(cordon_err err, struct cordon_http_refusal *refusal)
{
    switch (err) {
    case CORDON_ERR_CERT_EXPIRED:
        return refuse(refusal, 401,
                      "certificate has expired: it can no longer renew; enroll again with a token");
    case CORDON_ERR_CERT_NOT_YET_VALID:
        return refuse(refusal, 401, "certificate is not valid yet (check the clocks)");
    case CORDON_ERR_CERT_NODE_ID:
        return refuse(refusal, 401, "certificate carries no node ID of this overlay");
    case CORDON_ERR_KEY_TYPE:
        return refuse(refusal, 401, "certificate key type not accepted");
    case CORDON_ERR_CRL:
        return refuse(refusal, 503, "the server has no current CRL; retry later");
    case CORDON_ERR_NOMEM:
        return refuse(refusal, 503, "server out of memory");
    default:
        return refuse(refusal, 401, "certificate not issued by this overlay's CA");
    }
}

unsigned cordon_renew_request_check(const struct cordon_renew_request *req, const cordon_cert *ca,
                                    const cordon_crl *crl, const char *overlay, int64_t now,
                                    struct cordon_renew_proof *out,
                                    struct cordon_http_refusal *refusal)
{
    uint8_t msg[CORDON_RENEW_MSG_LEN];
    unsigned status = 0;
    memset(out, 0, sizeof(*out));
    cordon_err err = cordon_cert_verify_node(req->cert, ca, crl, overlay, now, out->node_id);
    if (err == CORDON_ERR_CERT_REVOKED) {
        /* Listed, but is it otherwise a certificate of ours? Only then is "revoked" the
         * answer (403, once the signature proves the key); else it is a stranger (401). */
        out->revoked = true;
        err = cordon_cert_verify_node(req->cert, ca, NULL, overlay, now, out->node_id);
    }
    if (err == CORDON_OK)
        err = cordon_cert_serial(req->cert, out->serial);
    if (err != CORDON_OK) {
        status = cert_refusal(err, refusal);
        goto out;
    }
    err = cordon_csr_parse(req->csr, req->csr_len, &out->csr);
    switch (err) {
    case CORDON_OK:
        break;
    case CORDON_ERR_BAD_SIGNATURE:
        status = refuse(refusal, 400, "CSR self-signature does not verify");
        goto out;
    case CORDON_ERR_KEY_TYPE:
        status = refuse(refusal, 400, "CSR key type not accepted: use ECDSA P-256 or Ed25519");
        goto out;
    case CORDON_ERR_NOMEM:
        status = refuse(refusal, 503, "server out of memory");
        goto out;
    default:
        status = refuse(refusal, 400, "csr is not a PKCS#10 CSR");
        goto out;
    }
    if (!cordon_csr_matches_cert(out->csr, req->cert)) {
        status =
            refuse(refusal, 400, "the CSR's key is not the certificate's: renewal keeps the key");
        goto out;
    }
    if (req->time > now + CORDON_RENEW_TIME_WINDOW || req->time < now - CORDON_RENEW_TIME_WINDOW) {
        status = refuse(refusal, 401, "time is more than 300 s from the server's clock");
        goto out;
    }
    err = cordon_renew_message(out->csr, req->time, msg);
    if (err == CORDON_OK)
        err = cordon_verify(req->cert, msg, sizeof(msg), req->sig, req->sig_len);
    if (err == CORDON_ERR_NOMEM || err == CORDON_ERR_CRYPTO || err == CORDON_ERR_INVAL) {
        status = refuse(refusal, 503, "signature check failed inside the server");
        goto out;
    }
    if (err != CORDON_OK) {
        status = refuse(refusal, 401, "signature does not verify with the certificate's key");
        goto out;
    }
out:
    if (status != 0)
        cordon_renew_proof_clear(out);
    return status;
}
