/*
 * fuzz/fuzz_enroll_request.c — libFuzzer target for the enrollment server's handling of an
 * HTTP request without the network: what libmicrohttpd hands over from an unauthenticated
 * client (method, path, Authorization and Content-Type headers, body).
 *
 * Input framing (read with the wire reader): four u8-length-prefixed strings — method,
 * path, Authorization, Content-Type (an empty header string stands for an absent header)
 * — and the rest of the input is the body. Each string is copied into a NUL-terminated
 * heap block of its exact size, so an over-read is an ASan report.
 *
 * Reaches, on every input that frames:
 *   cordon_enroll_route              (method and path)
 *   cordon_enroll_parse_authorization (the raw header bytes, without a NUL after them)
 *   cordon_enroll_request_parse      (token form, content type, body size, and the CSR:
 *                                     cordon_csr_parse -> PEM framing or DER, d2i_X509_REQ,
 *                                     key type, self-signature), then
 *   cordon_enroll_request_clear
 * The request parser runs whatever the route, so that every input reaches the CSR parser.
 * Invariants that abort: a refusal with a status other than the documented ones, or with
 * a CSR handle left behind; an acceptance without one.
 *
 * Deterministic: no clock, no randomness, no state carried between inputs.
 * Seeds: fuzz/corpus/enroll_request/ (written by fuzz/enroll_seeds.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/request.h"
#include "wire/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dup_text(const cordon_reader *f)
{
    char *s = malloc(f->len + 1);
    if (s == NULL)
        abort();
    if (f->len)
        memcpy(s, f->data, f->len);
    s[f->len] = '\0';
    return s;
}

static void check_refusal(unsigned status, const struct cordon_enroll_request *req,
                          const struct cordon_http_refusal *refusal)
{
    if (status == 0) {
        if (req->csr == NULL)
            abort();
        return;
    }
    if (req->csr != NULL || refusal->status != status || refusal->message == NULL)
        abort();
    switch (status) {
    case 400:
    case 401:
    case 413:
    case 415:
    case 503:
        return;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cordon_reader r, f[4];
    const uint8_t *body;
    cordon_reader_init(&r, data, size);
    for (int i = 0; i < 4; i++)
        if (cordon_read_sub(&r, 1, 255, &f[i]) != CORDON_OK)
            return 0;
    size_t body_len = cordon_reader_left(&r);
    if (cordon_read_view(&r, body_len, &body) != CORDON_OK)
        abort();

    char *method = dup_text(&f[0]);
    char *path = dup_text(&f[1]);
    char *auth = f[2].len ? dup_text(&f[2]) : NULL;
    char *ct = f[3].len ? dup_text(&f[3]) : NULL;

    struct cordon_http_refusal refusal = {0};
    enum cordon_route route = cordon_enroll_route(method, path, &refusal);
    if (route == CORDON_ROUTE_NONE && refusal.status != 404 && refusal.status != 405)
        abort();

    /* The header parser on the bytes as they came, in a block of exactly their size. */
    uint8_t hash[32];
    uint8_t *raw = malloc(f[2].len ? f[2].len : 1);
    if (raw == NULL)
        abort();
    if (f[2].len)
        memcpy(raw, f[2].data, f[2].len);
    (void)cordon_enroll_parse_authorization((const char *)raw, f[2].len, hash);
    free(raw);

    struct cordon_enroll_request req;
    memset(&refusal, 0, sizeof(refusal));
    unsigned status = cordon_enroll_request_parse(auth, ct, body, body_len, &req, &refusal);
    check_refusal(status, &req, &refusal);
    cordon_enroll_request_clear(&req);

    free(method);
    free(path);
    free(auth);
    free(ct);
    return 0;
}
