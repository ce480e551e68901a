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
 *   cordon_renew_request_parse       (the renewal body: content type, size, jansson's
 *                                     json_loadb, the members, hex, cordon_cert_parse), and
 *                                     when it parses
 *   cordon_renew_request_check       (cordon_cert_verify_node against the fuzz CA and a CRL
 *                                     it signed at FUZZ_NOW, cordon_csr_parse,
 *                                     cordon_csr_matches_cert, the time window,
 *                                     cordon_renew_message and cordon_verify)
 * Both request parsers run whatever the route, so that every input reaches them.
 * Invariants that abort: a refusal with a status other than the documented ones, or with
 * a handle left behind; an acceptance without one; a renewal accepted for a CSR whose key
 * is not the certificate's.
 *
 * Deterministic: time is FUZZ_NOW, jansson's hash seed is fixed, no state is carried
 * between inputs (the CA and the CRL are made once, in LLVMFuzzerInitialize).
 * Seeds: fuzz/corpus/enroll_request/ (written by fuzz/enroll_seeds.c).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enroll/request.h"
#include "fuzz/enroll_fuzz_ca.h"
#include "wire/reader.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cordon_cert *ca_cert;
static cordon_crl *crl;

/* cordon_key_load() reads only files: the key goes through a private temporary one. */
static cordon_key *load_key(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/cordon-fuzz-ca-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    size_t n = sizeof(FUZZ_CA_KEY_PEM) - 1;
    if (write(fd, FUZZ_CA_KEY_PEM, n) != (ssize_t)n || close(fd) != 0)
        abort();
    cordon_key *key = NULL;
    cordon_err err = cordon_key_load(path, &key);
    unlink(path);
    if (err != CORDON_OK)
        abort();
    return key;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    cordon_key *ca_key = load_key();
    if (cordon_cert_parse(FUZZ_CA_CERT_PEM, sizeof(FUZZ_CA_CERT_PEM) - 1, &ca_cert) != CORDON_OK ||
        cordon_crl_create(ca_key, ca_cert, 1, FUZZ_NOW - 60, FUZZ_NOW + 86400, NULL, 0, &crl) !=
            CORDON_OK)
        abort();
    cordon_key_free(ca_key);
    return 0;
}

static void check_renew(const char *ct, const uint8_t *body, size_t body_len)
{
    struct cordon_renew_request rr;
    struct cordon_renew_proof proof;
    struct cordon_http_refusal refusal = {0};
    unsigned status = cordon_renew_request_parse(ct, body, body_len, &rr, &refusal);
    if (status != 0) {
        if (rr.cert != NULL || rr.csr != NULL || refusal.status != status ||
            refusal.message == NULL)
            abort();
        if (status != 400 && status != 413 && status != 415 && status != 503)
            abort();
        return;
    }
    if (rr.cert == NULL || rr.csr == NULL || rr.sig_len == 0 || rr.sig_len > CORDON_SIG_MAX)
        abort();
    memset(&refusal, 0, sizeof(refusal));
    status =
        cordon_renew_request_check(&rr, ca_cert, crl, FUZZ_OVERLAY, FUZZ_NOW, &proof, &refusal);
    if (status == 0) {
        if (proof.csr == NULL || !cordon_csr_matches_cert(proof.csr, rr.cert))
            abort();
    } else if (proof.csr != NULL || refusal.status != status || refusal.message == NULL ||
               (status != 400 && status != 401 && status != 503)) {
        abort();
    }
    cordon_renew_proof_clear(&proof);
    cordon_renew_request_clear(&rr);
}

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
    check_renew(ct, body, body_len);

    free(method);
    free(path);
    free(auth);
    free(ct);
    return 0;
}
