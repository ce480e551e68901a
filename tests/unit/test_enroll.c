/*
 * tests/unit/test_enroll.c — the enrollment server's logic without the network:
 *
 *   enroll/request.c  routing of every path and method, the Authorization header, and the
 *                     status of every kind of refused enrollment request (401, 413, 415,
 *                     400 for garbage, a bad self-signature, RSA and P-384 keys), and the
 *                     good PEM, DER and Ed25519 CSRs made with the crypto API;
 *   enroll/db.c       create/open refusals, tokens, nodes, metadata, duplicates refused
 *                     without anything half-written, poisoned write transactions, and the
 *                     record codecs (round trip, truncation sweep, version, trailing bytes);
 *   enroll/signer.c   cordon_signer_handle() with a CA made here: node certificates that
 *                     cordon_cert_verify_node() accepts, every refusal of the policy, every
 *                     truncation and trailing byte, documents and CRLs; and the real
 *                     signer process started and stopped with cordon_signer_start();
 *   renewal           the signed bytes (known answer), the JSON body parser (every member
 *                     wrong in every way, every truncation), every refusal of
 *                     cordon_renew_request_check() in its order, the serial index walk, the
 *                     CRL that lists every unexpired certificate of a revoked renewed node
 *                     (enroll/files.c), and the issuer's renewals with a real signer process:
 *                     same node ID, new serial, superseded, unknown, revoked, rate limited.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/limits.h"
#include "crypto/crypto.h"
#include "common/hex.h"
#include "enroll/audit.h"
#include "enroll/db.h"
#include "enroll/files.h"
#include "enroll/issuer.h"
#include "enroll/request.h"
#include "enroll/signer.h"
#include "wire/overlay_doc.h"
#include "wire/reader.h"
#include "wire/writer.h"

#define NOW INT64_C(1767225600)           /* 2026-01-01T00:00:00Z */
#define CA_NOT_BEFORE INT64_C(1577836800) /* 2020-01-01 */
#define CA_NOT_AFTER INT64_C(2208988800)  /* 2040-01-01 */
#define OVERLAY "test-overlay"
#define MAX_VALIDITY 259200u
#define MAX_CRL_VALIDITY 172800u
#define CANARY 0xA5
#define RESP_MAX (CORDON_IPC_MSG_MAX + 6)

/* ---- shared fixture: keys, CAs and CSRs made once ---------------------------------------- */

static struct {
    cordon_key *ca_key;
    cordon_cert *ca;
    cordon_buf ca_pem;
    cordon_key *other_key; /* a second CA, of the same overlay name */
    cordon_cert *other_ca;
    cordon_buf other_ca_pem;
    cordon_key *node_key;
    cordon_buf csr_der;
    cordon_buf csr_pem;
    cordon_buf ed_csr_der;
    cordon_buf rsa_csr_der;
    cordon_buf p384_csr_der;
} fx;

static void make_csr(cordon_key_type type, cordon_key **key_out, cordon_buf *der, cordon_buf *pem)
{
    cordon_key *key = NULL;
    cordon_csr *csr = NULL;
    assert_int_equal(cordon_key_generate(type, &key), CORDON_OK);
    assert_int_equal(cordon_csr_create(key, &csr), CORDON_OK);
    cordon_buf_init(der, CORDON_CSR_MAX, false);
    assert_int_equal(cordon_csr_der(csr, der), CORDON_OK);
    if (pem != NULL) {
        cordon_buf_init(pem, CORDON_CSR_MAX, false);
        assert_int_equal(cordon_csr_pem(csr, pem), CORDON_OK);
    }
    cordon_csr_free(csr);
    if (key_out != NULL)
        *key_out = key;
    else
        cordon_key_free(key);
}

/* A CSR for a key cordon never certifies, built with OpenSSL directly. */
static void make_foreign_csr(EVP_PKEY *pk, cordon_buf *der)
{
    assert_non_null(pk);
    X509_REQ *req = X509_REQ_new();
    assert_non_null(req);
    assert_int_equal(X509_REQ_set_version(req, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                                                (const unsigned char *)"foreign", -1, -1, 0),
                     1);
    assert_int_equal(X509_REQ_set_pubkey(req, pk), 1);
    assert_true(X509_REQ_sign(req, pk, EVP_sha256()) > 0);
    unsigned char *p = NULL;
    int n = i2d_X509_REQ(req, &p);
    assert_true(n > 0);
    cordon_buf_init(der, CORDON_CSR_MAX, false);
    assert_int_equal(cordon_buf_append(der, p, (size_t)n), CORDON_OK);
    OPENSSL_free(p);
    X509_REQ_free(req);
    EVP_PKEY_free(pk);
}

static void make_ca(cordon_key **key, cordon_cert **ca, cordon_buf *pem)
{
    assert_int_equal(cordon_key_generate(CORDON_KEY_P256, key), CORDON_OK);
    assert_int_equal(cordon_ca_create(*key, OVERLAY, CA_NOT_BEFORE, CA_NOT_AFTER, ca), CORDON_OK);
    cordon_buf_init(pem, CORDON_CERT_MAX, false);
    assert_int_equal(cordon_cert_pem(*ca, pem), CORDON_OK);
    assert_int_equal(cordon_buf_terminate(pem), CORDON_OK);
}

static int fixture_setup(void **state)
{
    (void)state;
    make_ca(&fx.ca_key, &fx.ca, &fx.ca_pem);
    make_ca(&fx.other_key, &fx.other_ca, &fx.other_ca_pem);
    make_csr(CORDON_KEY_P256, &fx.node_key, &fx.csr_der, &fx.csr_pem);
    make_csr(CORDON_KEY_ED25519, NULL, &fx.ed_csr_der, NULL);
    make_foreign_csr(EVP_RSA_gen(2048), &fx.rsa_csr_der);
    make_foreign_csr(EVP_EC_gen("P-384"), &fx.p384_csr_der);
    return 0;
}

static int fixture_teardown(void **state)
{
    (void)state;
    cordon_key_free(fx.ca_key);
    cordon_cert_free(fx.ca);
    cordon_buf_free(&fx.ca_pem);
    cordon_key_free(fx.other_key);
    cordon_cert_free(fx.other_ca);
    cordon_buf_free(&fx.other_ca_pem);
    cordon_key_free(fx.node_key);
    cordon_buf_free(&fx.csr_der);
    cordon_buf_free(&fx.csr_pem);
    cordon_buf_free(&fx.ed_csr_der);
    cordon_buf_free(&fx.rsa_csr_der);
    cordon_buf_free(&fx.p384_csr_der);
    return 0;
}

/* A copy of the good DER CSR with one byte changed where `what` first occurs (or the last
 * byte, the end of the signature, when what is NULL). */
static uint8_t *tampered_csr(const char *what, size_t *len)
{
    uint8_t *p = malloc(fx.csr_der.len);
    assert_non_null(p);
    memcpy(p, fx.csr_der.data, fx.csr_der.len);
    *len = fx.csr_der.len;
    if (what == NULL) {
        p[*len - 1] ^= 0x01;
        return p;
    }
    size_t n = strlen(what);
    for (size_t i = 0; i + n <= *len; i++) {
        if (memcmp(p + i, what, n) == 0) {
            p[i] ^= 0x01;
            return p;
        }
    }
    fail_msg("'%s' not in the CSR", what);
    return NULL;
}

static void token_header(const uint8_t raw[CORDON_TOKEN_BYTES], char *out, size_t cap)
{
    char token[CORDON_TOKEN_TEXT_LEN + 1];
    cordon_token_format(raw, token);
    assert_int_equal(strlen(token), CORDON_TOKEN_TEXT_LEN);
    assert_memory_equal(token, "cdt_", 4);
    snprintf(out, cap, "Bearer %s", token);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 31);
}

/* ==== enroll/request.c ================================================================== */

static void test_route(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path;
        enum cordon_route route;
        unsigned status;
    } cases[] = {
        {"GET", "/v1/ca", CORDON_ROUTE_CA, 0},
        {"GET", "/v1/overlay", CORDON_ROUTE_OVERLAY, 0},
        {"GET", "/v1/crl", CORDON_ROUTE_CRL, 0},
        {"POST", "/v1/enroll", CORDON_ROUTE_ENROLL, 0},
        {"GET", "/metrics", CORDON_ROUTE_METRICS, 0},
        /* HEAD is GET without a body, for GET routes only. */
        {"HEAD", "/v1/ca", CORDON_ROUTE_CA, 0},
        {"HEAD", "/v1/overlay", CORDON_ROUTE_OVERLAY, 0},
        {"HEAD", "/v1/crl", CORDON_ROUTE_CRL, 0},
        {"HEAD", "/metrics", CORDON_ROUTE_METRICS, 0},
        {"HEAD", "/v1/enroll", CORDON_ROUTE_NONE, 405},
        /* Known paths, wrong methods. */
        {"POST", "/v1/ca", CORDON_ROUTE_NONE, 405},
        {"PUT", "/v1/overlay", CORDON_ROUTE_NONE, 405},
        {"DELETE", "/v1/crl", CORDON_ROUTE_NONE, 405},
        {"GET", "/v1/enroll", CORDON_ROUTE_NONE, 405},
        {"PUT", "/v1/enroll", CORDON_ROUTE_NONE, 405},
        {"POST", "/metrics", CORDON_ROUTE_NONE, 405},
        {"POST", "/v1/renew", CORDON_ROUTE_RENEW, 0},
        {"GET", "/v1/renew", CORDON_ROUTE_NONE, 405},
        {"HEAD", "/v1/renew", CORDON_ROUTE_NONE, 405},
        {"POST", "/v1/renew/", CORDON_ROUTE_NONE, 404},
        {"get", "/v1/ca", CORDON_ROUTE_NONE, 405}, /* methods are case-sensitive */
        {"", "/v1/ca", CORDON_ROUTE_NONE, 405},
        /* Unknown paths, whatever the method. */
        {"GET", "/", CORDON_ROUTE_NONE, 404},
        {"GET", "", CORDON_ROUTE_NONE, 404},
        {"GET", "/v1/ca/", CORDON_ROUTE_NONE, 404},
        {"GET", "/V1/CA", CORDON_ROUTE_NONE, 404},
        {"GET", "/v1/ca?x=1", CORDON_ROUTE_NONE, 404},
        {"GET", "//v1/ca", CORDON_ROUTE_NONE, 404},
        {"POST", "/v1/enroll/", CORDON_ROUTE_NONE, 404},
        {"POST", "/v2/enroll", CORDON_ROUTE_NONE, 404},
        {"BREW", "/coffee", CORDON_ROUTE_NONE, 404},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cordon_http_refusal refusal = {.status = 12345, .message = NULL, .allow = "x"};
        enum cordon_route r = cordon_enroll_route(cases[i].method, cases[i].path, &refusal);
        assert_int_equal(r, cases[i].route);
        if (cases[i].status != 0) {
            assert_int_equal(refusal.status, cases[i].status);
            assert_non_null(refusal.message);
        }
        /* A 405 says what the path allows (the Allow header); a 404 has nothing to say. */
        if (cases[i].status == 405) {
            assert_non_null(refusal.allow);
            if (strcmp(cases[i].path, "/v1/enroll") == 0 || strcmp(cases[i].path, "/v1/renew") == 0)
                assert_string_equal(refusal.allow, "POST");
            else
                assert_string_equal(refusal.allow, "GET, HEAD");
        } else if (cases[i].status == 404) {
            assert_null(refusal.allow);
        }
    }
}

static void test_parse_authorization(void **state)
{
    (void)state;
    uint8_t raw[CORDON_TOKEN_BYTES], want[32], hash[32];
    char hdr[128];
    fill(raw, sizeof(raw), 0x3c);
    cordon_token_hash(raw, want);
    token_header(raw, hdr, sizeof(hdr));

    memset(hash, 0, sizeof(hash));
    assert_int_equal(cordon_enroll_parse_authorization(hdr, strlen(hdr), hash), CORDON_OK);
    assert_memory_equal(hash, want, 32);

    /* The scheme is case-insensitive. */
    static const char *const schemes[] = {"bearer", "BEARER", "bEaReR"};
    for (size_t i = 0; i < 3; i++) {
        char h[128];
        snprintf(h, sizeof(h), "%s%s", schemes[i], hdr + 6);
        memset(hash, 0, sizeof(hash));
        assert_int_equal(cordon_enroll_parse_authorization(h, strlen(h), hash), CORDON_OK);
        assert_memory_equal(hash, want, 32);
    }

    /* The length passed, not the NUL, bounds the header. */
    assert_int_equal(cordon_enroll_parse_authorization(hdr, strlen(hdr) - 1, hash),
                     CORDON_ERR_MALFORMED);
    assert_int_equal(cordon_enroll_parse_authorization(hdr, 0, hash), CORDON_ERR_MALFORMED);

    const char *tok = hdr + 7; /* "cdt_<hex>" */
    char bad[160];
    static const char *const prefixes[] = {"Basic ",   "Bearer", "Bearer  ",  "Bearer\t",
                                           " Bearer ", "Token ", "Bearercdt", ""};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        snprintf(bad, sizeof(bad), "%s%s", prefixes[i], tok);
        assert_int_equal(cordon_enroll_parse_authorization(bad, strlen(bad), hash),
                         CORDON_ERR_MALFORMED);
    }
    /* Wrong token prefix. */
    snprintf(bad, sizeof(bad), "Bearer xyz_%s", tok + 4);
    assert_int_equal(cordon_enroll_parse_authorization(bad, strlen(bad), hash),
                     CORDON_ERR_MALFORMED);
    snprintf(bad, sizeof(bad), "Bearer CDT_%s", tok + 4);
    assert_int_equal(cordon_enroll_parse_authorization(bad, strlen(bad), hash),
                     CORDON_ERR_MALFORMED);
    /* Wrong lengths: one hex digit short, one too many, trailing space or newline. */
    snprintf(bad, sizeof(bad), "Bearer %.*s", CORDON_TOKEN_TEXT_LEN - 1, tok);
    assert_int_equal(cordon_enroll_parse_authorization(bad, strlen(bad), hash),
                     CORDON_ERR_MALFORMED);
    static const char *const tails[] = {"0", " ", "\n", "\r\n"};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        snprintf(bad, sizeof(bad), "Bearer %s%s", tok, tails[i]);
        assert_int_equal(cordon_enroll_parse_authorization(bad, strlen(bad), hash),
                         CORDON_ERR_MALFORMED);
    }
    /* A non-hex digit at each position of the hex part. */
    for (size_t at = 0; at < 2 * CORDON_TOKEN_BYTES; at++) {
        snprintf(bad, sizeof(bad), "%s", hdr);
        bad[7 + 4 + at] = 'g';
        assert_int_equal(cordon_enroll_parse_authorization(bad, strlen(bad), hash),
                         CORDON_ERR_MALFORMED);
    }
    assert_int_equal(cordon_enroll_parse_authorization(NULL, 10, hash), CORDON_ERR_INVAL);
}

static unsigned parse_request(const char *auth, const char *ct, const void *body, size_t len,
                              struct cordon_http_refusal *refusal)
{
    struct cordon_enroll_request req;
    memset(refusal, 0, sizeof(*refusal));
    unsigned status = cordon_enroll_request_parse(auth, ct, body, len, &req, refusal);
    if (status != 0) {
        assert_int_equal(refusal->status, status);
        assert_non_null(refusal->message);
        assert_null(req.csr);
    } else {
        assert_non_null(req.csr);
    }
    cordon_enroll_request_clear(&req);
    return status;
}

static void test_request_parse_ok(void **state)
{
    (void)state;
    uint8_t raw[CORDON_TOKEN_BYTES], want[32];
    char hdr[128];
    fill(raw, sizeof(raw), 7);
    token_header(raw, hdr, sizeof(hdr));
    cordon_token_hash(raw, want);

    struct cordon_enroll_request req;
    struct cordon_http_refusal refusal;
    assert_int_equal(cordon_enroll_request_parse(hdr, "application/pkcs10", fx.csr_pem.data,
                                                 fx.csr_pem.len, &req, &refusal),
                     0);
    assert_non_null(req.csr);
    assert_memory_equal(req.token_hash, want, 32);
    cordon_enroll_request_clear(&req);
    assert_null(req.csr);
    cordon_enroll_request_clear(&req); /* twice is harmless */
    cordon_enroll_request_clear(NULL);

    static const char *const types[] = {NULL,
                                        "application/pkcs10",
                                        "Application/PKCS10",
                                        "application/pkcs10; charset=binary",
                                        "application/pkcs10 ;x=y",
                                        "application/x-pem-file",
                                        "text/plain",
                                        "text/plain; charset=utf-8"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        assert_int_equal(parse_request(hdr, types[i], fx.csr_der.data, fx.csr_der.len, &refusal),
                         0);
        assert_int_equal(parse_request(hdr, types[i], fx.csr_pem.data, fx.csr_pem.len, &refusal),
                         0);
    }
    assert_int_equal(parse_request(hdr, NULL, fx.ed_csr_der.data, fx.ed_csr_der.len, &refusal), 0);
}

static void test_request_parse_refused(void **state)
{
    (void)state;
    uint8_t raw[CORDON_TOKEN_BYTES];
    char hdr[128];
    struct cordon_http_refusal refusal;
    fill(raw, sizeof(raw), 99);
    token_header(raw, hdr, sizeof(hdr));
    const uint8_t *der = fx.csr_der.data;
    size_t der_len = fx.csr_der.len;

    /* 401: missing or malformed token, checked before anything else. */
    assert_int_equal(parse_request(NULL, NULL, der, der_len, &refusal), 401);
    assert_int_equal(parse_request("", NULL, der, der_len, &refusal), 401);
    assert_int_equal(parse_request("Bearer cdt_00", NULL, der, der_len, &refusal), 401);
    assert_int_equal(
        parse_request("Basic dXNlcjpwYXNz", "application/json", NULL, 100000, &refusal), 401);

    /* 413: over CORDON_HTTP_BODY_MAX, before the body is looked at. */
    uint8_t *big = calloc(1, CORDON_HTTP_BODY_MAX + 1);
    assert_non_null(big);
    assert_int_equal(parse_request(hdr, NULL, big, CORDON_HTTP_BODY_MAX + 1, &refusal), 413);
    assert_int_equal(
        parse_request(hdr, "application/json", big, CORDON_HTTP_BODY_MAX + 1, &refusal), 413);
    /* At the cap, zeros are merely not a CSR. */
    assert_int_equal(parse_request(hdr, NULL, big, CORDON_HTTP_BODY_MAX, &refusal), 400);
    free(big);

    /* 415: a content type that is not a CSR's. */
    static const char *const types[] = {"application/json",
                                        "",
                                        "text/html",
                                        "application/pkcs10x",
                                        "application/pkcs",
                                        " application/pkcs10",
                                        "multipart/form-data; boundary=x"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        assert_int_equal(parse_request(hdr, types[i], der, der_len, &refusal), 415);

    /* 400: empty, garbage, truncated, a bad self-signature, refused key types. */
    assert_int_equal(parse_request(hdr, NULL, der, 0, &refusal), 400);
    assert_int_equal(parse_request(hdr, NULL, "hello, world", 12, &refusal), 400);
    assert_int_equal(
        parse_request(hdr, NULL, "-----BEGIN CERTIFICATE REQUEST-----\n", 36, &refusal), 400);
    for (size_t n = 1; n < der_len; n += 7) {
        uint8_t *cut = malloc(n);
        assert_non_null(cut);
        memcpy(cut, der, n);
        assert_int_equal(parse_request(hdr, NULL, cut, n, &refusal), 400);
        free(cut);
    }
    uint8_t *longer = malloc(der_len + 1);
    assert_non_null(longer);
    memcpy(longer, der, der_len);
    longer[der_len] = 0;
    assert_int_equal(parse_request(hdr, NULL, longer, der_len + 1, &refusal), 400);
    free(longer);

    size_t len;
    uint8_t *bad_sig = tampered_csr(NULL, &len);
    assert_int_equal(parse_request(hdr, NULL, bad_sig, len, &refusal), 400);
    assert_non_null(strstr(refusal.message, "signature"));
    free(bad_sig);
    uint8_t *bad_subject = tampered_csr("cordon-node", &len);
    assert_int_equal(parse_request(hdr, NULL, bad_subject, len, &refusal), 400);
    assert_non_null(strstr(refusal.message, "signature"));
    free(bad_subject);

    assert_int_equal(parse_request(hdr, NULL, fx.rsa_csr_der.data, fx.rsa_csr_der.len, &refusal),
                     400);
    assert_non_null(strstr(refusal.message, "key type"));
    assert_int_equal(parse_request(hdr, NULL, fx.p384_csr_der.data, fx.p384_csr_der.len, &refusal),
                     400);
    assert_non_null(strstr(refusal.message, "key type"));
}

/* ==== enroll/db.c ======================================================================== */

struct dbdir {
    char dir[64];
    char path[128];
};

static int db_setup(void **state)
{
    struct dbdir *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -1;
    snprintf(d->dir, sizeof(d->dir), "/tmp/cordon-test-enroll-XXXXXX");
    if (mkdtemp(d->dir) == NULL) {
        free(d);
        return -1;
    }
    snprintf(d->path, sizeof(d->path), "%s/enroll.db", d->dir);
    *state = d;
    return 0;
}

static int db_teardown(void **state)
{
    struct dbdir *d = *state;
    char p[160];
    static const char *const names[] = {"enroll.db", "enroll.db-lock", "ca.key",       "ca.crt",
                                        "other.key", "junk.db",        "junk.db-lock", "audit.log"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", d->dir, names[i]);
        (void)unlink(p);
    }
    (void)rmdir(d->dir);
    free(d);
    return 0;
}

static cordon_db *db_create(const struct dbdir *d)
{
    cordon_db *db = NULL;
    assert_int_equal(cordon_db_open(d->path, true, &db), CORDON_OK);
    assert_non_null(db);
    return db;
}

static void test_db_create_open(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = NULL;
    assert_int_equal(cordon_db_open(d->path, false, &db), CORDON_ERR_NOT_FOUND);
    assert_null(db);
    assert_false(cordon_path_exists(d->path)); /* a failed open creates nothing */
    db = db_create(d);
    cordon_db_close(db);
    db = NULL;
    assert_int_equal(cordon_db_open(d->path, true, &db), CORDON_ERR_EXISTS);
    assert_null(db);
    assert_int_equal(cordon_db_open(d->path, false, &db), CORDON_OK);
    cordon_db_close(db);
    cordon_db_close(NULL);

    /* A file that is not an LMDB environment. */
    char junk[160];
    snprintf(junk, sizeof(junk), "%s/junk.db", d->dir);
    assert_int_equal(cordon_write_file(junk, "not a database, not at all.", 27, 0600), CORDON_OK);
    db = NULL;
    assert_int_not_equal(cordon_db_open(junk, false, &db), CORDON_OK);
    assert_null(db);
}

static struct cordon_token_record token_rec(uint32_t max, uint32_t used, const char *label)
{
    struct cordon_token_record t;
    memset(&t, 0, sizeof(t));
    t.max_nodes = max;
    t.used = used;
    t.created_at = NOW;
    t.expires_at = NOW + 86400;
    snprintf(t.label, sizeof(t.label), "%s", label);
    return t;
}

static void assert_token_equal(const struct cordon_token_record *a,
                               const struct cordon_token_record *b)
{
    assert_int_equal(a->max_nodes, b->max_nodes);
    assert_int_equal(a->used, b->used);
    assert_true(a->created_at == b->created_at);
    assert_true(a->expires_at == b->expires_at);
    assert_string_equal(a->label, b->label);
}

static void test_db_tokens(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    uint8_t h1[32], h2[32];
    fill(h1, 32, 1);
    fill(h2, 32, 2);
    struct cordon_token_record t1 = token_rec(10, 0, "first"), t2 = token_rec(1, 1, ""), got;
    size_t count = 99;

    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 0);
    /* NOT_FOUND is an answer, not a failure: the transaction still commits. */
    assert_int_equal(cordon_db_token_get(txn, h1, &got), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_db_token_put(txn, h1, &t1), CORDON_OK);
    assert_int_equal(cordon_db_token_put(txn, h2, &t2), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 2);
    assert_int_equal(cordon_db_token_get(txn, h1, &got), CORDON_OK);
    assert_token_equal(&got, &t1);
    assert_int_equal(cordon_db_token_get(txn, h2, &got), CORDON_OK);
    assert_token_equal(&got, &t2);
    /* A read transaction cannot write. */
    assert_int_equal(cordon_db_token_put(txn, h1, &t2), CORDON_ERR_INVAL);
    assert_int_equal(cordon_db_meta_put_u64(txn, "x", 1), CORDON_ERR_INVAL);
    cordon_db_abort(txn);
    cordon_db_abort(NULL);

    /* Overwrite (a token's use count goes up). */
    t1.used = 3;
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_put(txn, h1, &t1), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);
    /* An aborted write leaves nothing. */
    struct cordon_token_record t3 = token_rec(5, 0, "aborted");
    uint8_t h3[32];
    fill(h3, 32, 3);
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_put(txn, h3, &t3), CORDON_OK);
    cordon_db_abort(txn);

    /* All of it survives closing and reopening. */
    cordon_db_close(db);
    assert_int_equal(cordon_db_open(d->path, false, &db), CORDON_OK);
    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_get(txn, h1, &got), CORDON_OK);
    assert_int_equal(got.used, 3);
    assert_int_equal(cordon_db_token_get(txn, h3, &got), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_db_token_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 2);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);
    cordon_db_close(db);
}

static struct cordon_node_record node_rec(uint8_t id_seed, uint8_t serial_seed)
{
    struct cordon_node_record r;
    memset(&r, 0, sizeof(r));
    fill(r.node_id, sizeof(r.node_id), id_seed);
    fill(r.serial, sizeof(r.serial), serial_seed);
    r.serial[0] &= 0x7f;
    fill(r.token_hash, sizeof(r.token_hash), 0x55);
    snprintf(r.token_label, sizeof(r.token_label), "label-%u", id_seed);
    r.issued_at = NOW;
    r.not_after = NOW + MAX_VALIDITY;
    r.revoked_at = 0;
    r.cert_der_len = 100 + id_seed;
    r.cert_der = malloc(r.cert_der_len);
    assert_non_null(r.cert_der);
    fill(r.cert_der, r.cert_der_len, (uint8_t)(id_seed ^ 0x30));
    return r;
}

static void assert_node_equal(const struct cordon_node_record *a,
                              const struct cordon_node_record *b)
{
    assert_memory_equal(a->node_id, b->node_id, sizeof(a->node_id));
    assert_memory_equal(a->serial, b->serial, sizeof(a->serial));
    assert_memory_equal(a->token_hash, b->token_hash, sizeof(a->token_hash));
    assert_string_equal(a->token_label, b->token_label);
    assert_true(a->issued_at == b->issued_at);
    assert_true(a->not_after == b->not_after);
    assert_true(a->revoked_at == b->revoked_at);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->cert_der_len, b->cert_der_len);
    assert_memory_equal(a->cert_der, b->cert_der, a->cert_der_len);
}

struct walk {
    uint8_t last[CORDON_NODE_ID_LEN];
    size_t calls;
    size_t stop_after;
};

static cordon_err walk_fn(const struct cordon_node_record *rec, void *arg)
{
    struct walk *w = arg;
    if (w->calls > 0 && memcmp(w->last, rec->node_id, CORDON_NODE_ID_LEN) >= 0)
        return CORDON_ERR_MALFORMED; /* not in node ID order */
    if (rec->cert_der == NULL || rec->cert_der_len == 0)
        return CORDON_ERR_MALFORMED;
    memcpy(w->last, rec->node_id, CORDON_NODE_ID_LEN);
    w->calls++;
    if (w->stop_after != 0 && w->calls == w->stop_after)
        return CORDON_ERR_BUSY;
    return CORDON_OK;
}

static void test_db_nodes(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    struct cordon_node_record recs[5], got;
    size_t count = 99;
    /* Seeds chosen so that insertion order is not node ID order. */
    static const uint8_t seeds[5] = {200, 3, 150, 77, 9};
    for (size_t i = 0; i < 5; i++)
        recs[i] = node_rec(seeds[i], (uint8_t)(seeds[i] + 1));

    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 0);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(cordon_db_node_add(txn, &recs[i]), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(cordon_db_node_get(txn, recs[i].node_id, &got), CORDON_OK);
        assert_node_equal(&got, &recs[i]);
        cordon_node_record_clear(&got);
        assert_null(got.cert_der);
    }
    uint8_t missing[CORDON_NODE_ID_LEN] = {0};
    assert_int_equal(cordon_db_node_get(txn, missing, &got), CORDON_ERR_NOT_FOUND);
    struct walk w = {.calls = 0};
    assert_int_equal(cordon_db_node_each(txn, walk_fn, &w), CORDON_OK);
    assert_int_equal(w.calls, 5);
    /* A callback's error stops the walk and comes back. */
    struct walk stop = {.stop_after = 2};
    assert_int_equal(cordon_db_node_each(txn, walk_fn, &stop), CORDON_ERR_BUSY);
    assert_int_equal(stop.calls, 2);
    cordon_db_abort(txn);

    /* Update: revocation of the third. */
    struct cordon_node_record upd = recs[2];
    upd.revoked_at = NOW + 10;
    snprintf(upd.reason, sizeof(upd.reason), "key compromise");
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_update(txn, &upd), CORDON_OK);
    /* Updating a node that does not exist is refused. */
    struct cordon_node_record ghost = node_rec(42, 43);
    assert_int_equal(cordon_db_node_update(txn, &ghost), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_get(txn, upd.node_id, &got), CORDON_OK);
    assert_node_equal(&got, &upd);
    cordon_node_record_clear(&got);
    assert_int_equal(cordon_db_node_get(txn, ghost.node_id, &got), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_db_node_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 5);
    cordon_db_abort(txn);

    cordon_node_record_clear(&ghost);
    for (size_t i = 0; i < 5; i++)
        cordon_node_record_clear(&recs[i]);
    cordon_node_record_clear(NULL);
    cordon_db_close(db);
}

/* A duplicate node ID or serial is refused with CORDON_ERR_EXISTS, leaves nothing behind
 * (in particular no serial index entry for a node that was not added), and does not poison
 * the transaction: the issuer may try again with fresh identifiers. */
static void test_db_node_duplicates(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    struct cordon_node_record a = node_rec(1, 101), got;
    size_t count;

    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &a), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    for (int in_same_txn = 0; in_same_txn < 2; in_same_txn++) {
        /* Fresh identifiers for this round. */
        uint8_t fresh_id = (uint8_t)(3 + 10 * in_same_txn);
        uint8_t spare_id = (uint8_t)(2 + 20 * in_same_txn);
        uint8_t fresh_serial = (uint8_t)(102 + 10 * in_same_txn);
        uint8_t spare_serial = (uint8_t)(103 + 10 * in_same_txn);
        assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
        if (in_same_txn) {
            /* The first add in this very transaction, not yet committed. */
            struct cordon_node_record c = node_rec(50, 50);
            assert_int_equal(cordon_db_node_add(txn, &c), CORDON_OK);
            /* Same node ID, fresh serial. */
            struct cordon_node_record c2 = node_rec(50, 51);
            assert_int_equal(cordon_db_node_add(txn, &c2), CORDON_ERR_EXISTS);
            /* The refused serial 51 was not left behind. */
            struct cordon_node_record c3 = node_rec(51, 51);
            assert_int_equal(cordon_db_node_add(txn, &c3), CORDON_OK);
            cordon_node_record_clear(&c);
            cordon_node_record_clear(&c2);
            cordon_node_record_clear(&c3);
        }
        /* The original serial with a fresh node ID. */
        struct cordon_node_record dup_serial = node_rec(spare_id, 101);
        assert_int_equal(cordon_db_node_add(txn, &dup_serial), CORDON_ERR_EXISTS);
        /* The same again: still refused (nothing was half-added the first time). */
        assert_int_equal(cordon_db_node_add(txn, &dup_serial), CORDON_ERR_EXISTS);
        /* The original node ID with a fresh serial. */
        struct cordon_node_record dup_id = node_rec(1, fresh_serial);
        assert_int_equal(cordon_db_node_add(txn, &dup_id), CORDON_ERR_EXISTS);
        assert_int_equal(cordon_db_node_add(txn, &dup_id), CORDON_ERR_EXISTS);
        /* Both at once. */
        assert_int_equal(cordon_db_node_add(txn, &a), CORDON_ERR_EXISTS);
        /* The fresh serial was not left in the index: with a fresh node ID it goes in. */
        struct cordon_node_record fresh = node_rec(fresh_id, fresh_serial);
        assert_int_equal(cordon_db_node_add(txn, &fresh), CORDON_OK);
        /* And the fresh node ID whose serial was refused is still free. */
        struct cordon_node_record spare = node_rec(spare_id, spare_serial);
        assert_int_equal(cordon_db_node_add(txn, &spare), CORDON_OK);
        /* The refusals did not poison the transaction. */
        assert_int_equal(cordon_db_commit(txn), CORDON_OK);
        cordon_node_record_clear(&dup_serial);
        cordon_node_record_clear(&dup_id);
        cordon_node_record_clear(&fresh);
        cordon_node_record_clear(&spare);

        /* The original record is untouched. */
        assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
        assert_int_equal(cordon_db_node_get(txn, a.node_id, &got), CORDON_OK);
        assert_node_equal(&got, &a);
        cordon_node_record_clear(&got);
        assert_int_equal(cordon_db_node_count(txn, &count), CORDON_OK);
        assert_int_equal(count, in_same_txn ? 3 + 4 : 3);
        cordon_db_abort(txn);
        /* The serials that went in are taken for good: a new transaction sees them. */
        assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
        struct cordon_node_record again = node_rec(90, fresh_serial);
        assert_int_equal(cordon_db_node_add(txn, &again), CORDON_ERR_EXISTS);
        cordon_node_record_clear(&again);
        again = node_rec(91, spare_serial);
        assert_int_equal(cordon_db_node_add(txn, &again), CORDON_ERR_EXISTS);
        cordon_node_record_clear(&again);
        cordon_db_abort(txn);
    }
    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 7); /* a, 2 x (fresh, spare), c, c3 */
    cordon_db_abort(txn);
    cordon_node_record_clear(&a);
    cordon_db_close(db);
}

/* db.h: node_update "replaces an existing node record (revocation, renewal)". A renewal
 * carries a new certificate, hence a new serial, and serials must stay unique (a CRL
 * entry names a serial: two certificates sharing one are revoked together). So an update
 * must index its new serial, refuse a serial that another node holds, and keep the old
 * serial reserved. */
static void test_db_node_update_serial_index(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    struct cordon_node_record a = node_rec(1, 101), b = node_rec(2, 102), got;

    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &a), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &b), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    /* Renewal of a: same node ID, new serial 103. */
    struct cordon_node_record renewed = node_rec(1, 103);
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_update(txn, &renewed), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    /* The outcomes are gathered first and asserted after the cleanup, so that a failure
     * here (a product bug) leaks nothing into the sanitizer runs. */
    struct cordon_node_record old_serial = node_rec(4, 101), new_serial = node_rec(3, 103);
    struct cordon_node_record steal = node_rec(1, 102);
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_get(txn, a.node_id, &got), CORDON_OK);
    bool renewed_stored = got.cert_der_len == renewed.cert_der_len &&
                          memcmp(got.serial, renewed.serial, CORDON_SERIAL_LEN) == 0;
    cordon_node_record_clear(&got);
    /* The old serial stays reserved: its certificate still exists. */
    cordon_err add_old = cordon_db_node_add(txn, &old_serial);
    /* The new serial is taken. */
    cordon_err add_new = cordon_db_node_add(txn, &new_serial);
    /* An update to a serial that another node holds is refused, and changes nothing. */
    cordon_err upd_steal = cordon_db_node_update(txn, &steal);
    assert_int_equal(cordon_db_node_get(txn, a.node_id, &got), CORDON_OK);
    bool unchanged = memcmp(got.serial, renewed.serial, CORDON_SERIAL_LEN) == 0;
    cordon_node_record_clear(&got);
    cordon_db_abort(txn);
    cordon_node_record_clear(&steal);
    cordon_node_record_clear(&new_serial);
    cordon_node_record_clear(&old_serial);
    cordon_node_record_clear(&renewed);
    cordon_node_record_clear(&a);
    cordon_node_record_clear(&b);
    cordon_db_close(db);

    assert_true(renewed_stored);
    assert_int_equal(add_old, CORDON_ERR_EXISTS);
    assert_int_equal(add_new, CORDON_ERR_EXISTS);
    assert_int_equal(upd_steal, CORDON_ERR_EXISTS);
    assert_true(unchanged);
}

/* A failure inside a write transaction poisons it: later writes are refused with the first
 * error and commit aborts, so nothing of it (not even what was written before the failure)
 * reaches the database. */
static void test_db_poisoned_txn(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    uint8_t h[32];
    struct cordon_token_record t = token_rec(3, 0, "poisoned"), got;
    size_t count;
    fill(h, 32, 9);

    /* 1. A meta value over its cap. */
    size_t big_len = CORDON_CRL_MAX + 65;
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_put(txn, h, &t), CORDON_OK);
    assert_int_equal(cordon_db_meta_put(txn, "crl", big, big_len), CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_db_token_put(txn, h, &t), CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_db_meta_put_u64(txn, "crl_number", 1), CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_db_commit(txn), CORDON_ERR_TOO_LARGE);
    free(big);

    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_count(txn, &count), CORDON_OK);
    assert_int_equal(count, 0);
    assert_int_equal(cordon_db_token_get(txn, h, &got), CORDON_ERR_NOT_FOUND);
    uint64_t v;
    assert_int_equal(cordon_db_meta_get_u64(txn, "crl_number", &v), CORDON_ERR_NOT_FOUND);
    cordon_db_abort(txn);

    /* 2. A node record that cannot be encoded, after its serial went in: the serial must
     * not survive the aborted commit. */
    struct cordon_node_record n = node_rec(7, 70);
    uint8_t *real = n.cert_der;
    size_t real_len = n.cert_der_len;
    n.cert_der_len = CORDON_CERT_MAX + 1;
    n.cert_der = calloc(1, n.cert_der_len);
    assert_non_null(n.cert_der);
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &n), CORDON_ERR_TOO_LARGE);
    free(n.cert_der);
    n.cert_der = real;
    n.cert_der_len = real_len;
    assert_int_not_equal(cordon_db_node_add(txn, &n), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_ERR_TOO_LARGE);

    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &n), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);
    cordon_node_record_clear(&n);

    /* 3. A value that does not decode, read in a write transaction. */
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_meta_put(txn, "odd", "abc", 3), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_put(txn, h, &t), CORDON_OK);
    assert_int_equal(cordon_db_meta_get_u64(txn, "odd", &v), CORDON_ERR_DB);
    assert_int_equal(cordon_db_commit(txn), CORDON_ERR_DB);
    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_get(txn, h, &got), CORDON_ERR_NOT_FOUND);
    cordon_db_abort(txn);
    cordon_db_close(db);
}

static void test_db_meta(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    cordon_buf b;
    uint64_t v = 0;
    cordon_buf_init(&b, 64, false);

    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_meta_get(txn, "crl", &b), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_db_meta_get_u64(txn, "crl_number", &v), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_db_meta_put(txn, "crl", "\x30\x82\x00\x00", 4), CORDON_OK);
    assert_int_equal(cordon_db_meta_put(txn, "empty", "", 0), CORDON_OK);
    assert_int_equal(cordon_db_meta_put_u64(txn, "crl_number", UINT64_C(0x0102030405060708)),
                     CORDON_OK);
    assert_int_equal(cordon_db_meta_put_u64(txn, "max", UINT64_MAX), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    assert_int_equal(cordon_db_meta_get(txn, "crl", &b), CORDON_OK);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "\x30\x82\x00\x00", 4);
    cordon_buf_reset(&b);
    assert_int_equal(cordon_db_meta_get(txn, "empty", &b), CORDON_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(cordon_db_meta_get_u64(txn, "crl_number", &v), CORDON_OK);
    assert_true(v == UINT64_C(0x0102030405060708));
    assert_int_equal(cordon_db_meta_get_u64(txn, "max", &v), CORDON_OK);
    assert_true(v == UINT64_MAX);
    /* The u64 is stored big-endian, 8 bytes: the raw value shows it. */
    cordon_buf_reset(&b);
    assert_int_equal(cordon_db_meta_get(txn, "crl_number", &b), CORDON_OK);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    /* A value of the wrong size is not a u64. */
    assert_int_equal(cordon_db_meta_get_u64(txn, "crl", &v), CORDON_ERR_DB);
    assert_int_equal(cordon_db_meta_get_u64(txn, "empty", &v), CORDON_ERR_DB);
    /* A value larger than the caller's buffer. */
    cordon_buf small;
    cordon_buf_init(&small, 3, false);
    assert_int_equal(cordon_db_meta_get(txn, "crl", &small), CORDON_ERR_TOO_LARGE);
    cordon_buf_free(&small);
    cordon_db_abort(txn);

    /* Overwrite. */
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_meta_put_u64(txn, "crl_number", 2), CORDON_OK);
    assert_int_equal(cordon_db_meta_get_u64(txn, "crl_number", &v), CORDON_OK);
    assert_true(v == 2);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);
    cordon_buf_free(&b);
    cordon_db_close(db);
}

/* ---- record codecs ------------------------------------------------------------------------ */

#define TOKEN_RECORD_CAP (1 + 4 + 4 + 8 + 8 + 1 + CORDON_TOKEN_LABEL_MAX)

static void test_token_record_codec(void **state)
{
    (void)state;
    uint8_t enc[TOKEN_RECORD_CAP + 8];
    size_t len;
    struct cordon_token_record rec = token_rec(1000, 999, ""), out, canary;

    /* Round trip, with an empty label and with the longest one. */
    for (int longest = 0; longest < 2; longest++) {
        if (longest) {
            memset(rec.label, 'L', CORDON_TOKEN_LABEL_MAX);
            rec.label[CORDON_TOKEN_LABEL_MAX] = '\0';
        }
        assert_int_equal(cordon_token_record_encode(&rec, enc, sizeof(enc), &len), CORDON_OK);
        assert_int_equal(len, 1 + 4 + 4 + 8 + 8 + 1 + strlen(rec.label));
        assert_int_equal(enc[0], 1); /* version */
        memset(&out, 0, sizeof(out));
        assert_int_equal(cordon_token_record_decode(enc, len, &out), CORDON_OK);
        assert_token_equal(&out, &rec);
    }

    /* Every prefix fails, with the output untouched and nothing read past the prefix. */
    memset(&canary, CANARY, sizeof(canary));
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, enc, n);
        memcpy(&out, &canary, sizeof(out));
        assert_int_equal(cordon_token_record_decode(cut, n, &out), CORDON_ERR_DB);
        assert_memory_equal(&out, &canary, sizeof(out));
        free(cut);
    }
    /* Trailing byte. */
    enc[len] = 0;
    memcpy(&out, &canary, sizeof(out));
    assert_int_equal(cordon_token_record_decode(enc, len + 1, &out), CORDON_ERR_DB);
    assert_memory_equal(&out, &canary, sizeof(out));
    /* Versions other than 1. */
    static const uint8_t versions[] = {0, 2, 0x81, 0xff};
    for (size_t i = 0; i < sizeof(versions); i++) {
        uint8_t v = enc[0];
        enc[0] = versions[i];
        assert_int_equal(cordon_token_record_decode(enc, len, &out), CORDON_ERR_DB);
        enc[0] = v;
    }
    assert_int_equal(cordon_token_record_decode(enc, len, &out), CORDON_OK);

    /* used > max_nodes. */
    struct cordon_token_record over = token_rec(2, 3, "x");
    assert_int_equal(cordon_token_record_encode(&over, enc, sizeof(enc), &len), CORDON_OK);
    assert_int_equal(cordon_token_record_decode(enc, len, &out), CORDON_ERR_DB);
    /* A NUL inside the label. */
    struct cordon_token_record nul = token_rec(2, 1, "abc");
    assert_int_equal(cordon_token_record_encode(&nul, enc, sizeof(enc), &len), CORDON_OK);
    enc[len - 2] = 0;
    assert_int_equal(cordon_token_record_decode(enc, len, &out), CORDON_ERR_DB);
    /* A label longer than CORDON_TOKEN_LABEL_MAX (written by hand: the encoder cannot). */
    uint8_t longer[TOKEN_RECORD_CAP + 1];
    assert_int_equal(cordon_token_record_encode(&rec, longer, sizeof(longer), &len), CORDON_OK);
    assert_int_equal(len, TOKEN_RECORD_CAP);
    longer[25] = CORDON_TOKEN_LABEL_MAX + 1;
    longer[len] = 'L';
    assert_int_equal(cordon_token_record_decode(longer, len + 1, &out), CORDON_ERR_DB);
    /* A time past INT64_MAX. */
    assert_int_equal(cordon_token_record_encode(&nul, enc, sizeof(enc), &len), CORDON_OK);
    enc[9] = 0x80; /* high byte of created_at */
    assert_int_equal(cordon_token_record_decode(enc, len, &out), CORDON_ERR_DB);

    /* Encoding into too small a buffer: refused, and nothing written past the cap. */
    assert_int_equal(cordon_token_record_encode(&nul, enc, sizeof(enc), &len), CORDON_OK);
    size_t full = len;
    for (size_t cap = 0; cap < full; cap++) {
        memset(enc, CANARY, sizeof(enc));
        assert_int_equal(cordon_token_record_encode(&nul, enc, cap, &len), CORDON_ERR_TOO_LARGE);
        for (size_t i = cap; i < sizeof(enc); i++)
            assert_int_equal(enc[i], CANARY);
    }
}

static void test_node_record_codec(void **state)
{
    (void)state;
    struct cordon_node_record rec = node_rec(33, 44), out;
    rec.revoked_at = NOW + 5;
    snprintf(rec.reason, sizeof(rec.reason), "superseded");
    cordon_buf enc;
    cordon_buf_init(&enc, 16384, false);
    assert_int_equal(cordon_node_record_encode(&rec, &enc), CORDON_OK);
    assert_int_equal(enc.data[0], 1);
    assert_int_equal(enc.len, 1 + 32 + 16 + 32 + 1 + strlen(rec.token_label) + 24 + 1 +
                                  strlen(rec.reason) + 2 + rec.cert_der_len);
    memset(&out, 0, sizeof(out));
    assert_int_equal(cordon_node_record_decode(enc.data, enc.len, &out), CORDON_OK);
    assert_node_equal(&out, &rec);
    assert_ptr_not_equal(out.cert_der, enc.data + enc.len - rec.cert_der_len); /* a copy */
    cordon_node_record_clear(&out);

    /* Truncation sweep: every prefix fails, output untouched (so nothing to free). */
    struct cordon_node_record canary;
    memset(&canary, CANARY, sizeof(canary));
    for (size_t n = 0; n < enc.len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, enc.data, n);
        memcpy(&out, &canary, sizeof(out));
        assert_int_equal(cordon_node_record_decode(cut, n, &out), CORDON_ERR_DB);
        assert_memory_equal(&out, &canary, sizeof(out));
        free(cut);
    }
    /* Trailing byte. */
    assert_int_equal(cordon_buf_append(&enc, "", 1), CORDON_OK);
    assert_int_equal(cordon_node_record_decode(enc.data, enc.len, &out), CORDON_ERR_DB);
    enc.len--;
    /* Bad versions. */
    for (unsigned v = 0; v < 256; v += 1) {
        if (v == 1)
            continue;
        enc.data[0] = (uint8_t)v;
        assert_int_equal(cordon_node_record_decode(enc.data, enc.len, &out), CORDON_ERR_DB);
    }
    enc.data[0] = 1;
    assert_int_equal(cordon_node_record_decode(enc.data, enc.len, &out), CORDON_OK);
    cordon_node_record_clear(&out);
    /* issued_at past INT64_MAX. */
    size_t issued_at = 1 + 32 + 16 + 32 + 1 + strlen(rec.token_label);
    enc.data[issued_at] = 0xff;
    assert_int_equal(cordon_node_record_decode(enc.data, enc.len, &out), CORDON_ERR_DB);
    cordon_buf_free(&enc);

    /* An empty certificate decodes as damage. */
    cordon_buf_init(&enc, 16384, false);
    struct cordon_node_record empty = rec;
    empty.cert_der_len = 0;
    assert_int_equal(cordon_node_record_encode(&empty, &enc), CORDON_OK);
    assert_int_equal(cordon_node_record_decode(enc.data, enc.len, &out), CORDON_ERR_DB);
    cordon_buf_reset(&enc);
    /* A certificate over CORDON_CERT_MAX is refused by the encoder, which appends nothing. */
    struct cordon_node_record huge = rec;
    huge.cert_der_len = CORDON_CERT_MAX + 1;
    huge.cert_der = calloc(1, huge.cert_der_len);
    assert_non_null(huge.cert_der);
    assert_int_equal(cordon_node_record_encode(&huge, &enc), CORDON_ERR_TOO_LARGE);
    assert_int_equal(enc.len, 0);
    free(huge.cert_der);
    /* At the cap exactly, it fits and round-trips. */
    huge.cert_der_len = CORDON_CERT_MAX;
    huge.cert_der = calloc(1, huge.cert_der_len);
    assert_non_null(huge.cert_der);
    assert_int_equal(cordon_node_record_encode(&huge, &enc), CORDON_OK);
    assert_int_equal(cordon_node_record_decode(enc.data, enc.len, &out), CORDON_OK);
    assert_int_equal(out.cert_der_len, CORDON_CERT_MAX);
    cordon_node_record_clear(&out);
    free(huge.cert_der);
    cordon_buf_free(&enc);
    cordon_node_record_clear(&rec);
}

/* ==== enroll/signer.c ===================================================================== */

static struct cordon_signer_state signer_state(void)
{
    struct cordon_signer_state st;
    memset(&st, 0, sizeof(st));
    st.ca_key = fx.ca_key;
    st.ca_cert = fx.ca;
    snprintf(st.policy.overlay, sizeof(st.policy.overlay), "%s", OVERLAY);
    st.policy.max_validity = MAX_VALIDITY;
    st.policy.max_crl_validity = MAX_CRL_VALIDITY;
    return st;
}

/* Runs one request and checks the response frame: u16 status equal to the return value,
 * u32 length equal to what follows, no payload on a refusal. The payload goes to out. */
static cordon_err handle(struct cordon_signer_state *st, const uint8_t *req, size_t len,
                         int64_t now, cordon_buf *out)
{
    cordon_buf resp;
    cordon_buf_init(&resp, RESP_MAX, false);
    /* An exact-size heap copy: reading past len is an ASan report. */
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, req, len);
    cordon_err ret = cordon_signer_handle(st, copy, len, now, &resp);
    free(copy);
    cordon_reader r;
    uint16_t status;
    uint32_t plen;
    cordon_reader_init(&r, resp.data, resp.len);
    assert_int_equal(cordon_read_u16(&r, &status), CORDON_OK);
    assert_int_equal(cordon_read_u32(&r, &plen), CORDON_OK);
    assert_int_equal(status, ret);
    assert_int_equal(plen, cordon_reader_left(&r));
    if (ret != CORDON_OK)
        assert_int_equal(plen, 0);
    else
        assert_true(plen > 0);
    if (out != NULL)
        assert_int_equal(cordon_buf_append(out, resp.data + 6, plen), CORDON_OK);
    cordon_buf_free(&resp);
    return ret;
}

static struct cordon_node_cert_params node_params(int64_t now)
{
    struct cordon_node_cert_params p;
    memset(&p, 0, sizeof(p));
    p.overlay = OVERLAY;
    fill(p.node_id, sizeof(p.node_id), 0xc3);
    fill(p.serial, sizeof(p.serial), 0x11);
    p.serial[0] &= 0x7f;
    p.not_before = now;
    p.not_after = now + MAX_VALIDITY;
    return p;
}

static void encode_node(const struct cordon_node_cert_params *p, const uint8_t *csr, size_t csr_len,
                        cordon_buf *req)
{
    cordon_buf_init(req, CORDON_IPC_MSG_MAX + 5, false);
    assert_int_equal(cordon_signer_encode_node_cert(csr, csr_len, p, req), CORDON_OK);
}

static cordon_err node_request(struct cordon_signer_state *st,
                               const struct cordon_node_cert_params *p, cordon_buf *cert_der)
{
    cordon_buf req;
    encode_node(p, fx.csr_der.data, fx.csr_der.len, &req);
    cordon_err err = handle(st, req.data, req.len, NOW, cert_der);
    cordon_buf_free(&req);
    return err;
}

static void check_node_cert(const cordon_buf *der, const struct cordon_node_cert_params *p,
                            int64_t now)
{
    cordon_cert *cert = NULL;
    uint8_t id[CORDON_NODE_ID_LEN], serial[CORDON_SERIAL_LEN];
    int64_t nb, na;
    assert_int_equal(cordon_cert_parse(der->data, der->len, &cert), CORDON_OK);
    assert_int_equal(cordon_cert_verify_node(cert, fx.ca, NULL, OVERLAY, now, id), CORDON_OK);
    assert_memory_equal(id, p->node_id, sizeof(id));
    assert_int_equal(cordon_cert_serial(cert, serial), CORDON_OK);
    assert_memory_equal(serial, p->serial, sizeof(serial));
    assert_int_equal(cordon_cert_validity(cert, &nb, &na), CORDON_OK);
    assert_true(nb == p->not_before);
    assert_true(na == p->not_after);
    assert_true(cordon_cert_matches_key(cert, fx.node_key));
    /* Another CA does not accept it. */
    assert_int_equal(cordon_cert_verify_node(cert, fx.other_ca, NULL, OVERLAY, now, id),
                     CORDON_ERR_CERT_UNTRUSTED);
    cordon_cert_free(cert);
}

static void test_signer_node_cert_ok(void **state)
{
    (void)state;
    struct cordon_signer_state st = signer_state();
    struct cordon_node_cert_params p = node_params(NOW);
    cordon_buf der;
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    assert_int_equal(node_request(&st, &p, &der), CORDON_OK);
    check_node_cert(&der, &p, NOW + 60);
    cordon_buf_free(&der);

    /* The edges of the policy are inside it. */
    struct cordon_node_cert_params edges[4];
    edges[0] = node_params(NOW);
    edges[0].not_after = edges[0].not_before + MAX_VALIDITY + 3600;
    edges[1] = node_params(NOW - 3600);
    edges[2] = node_params(NOW + 300);
    edges[3] = node_params(NOW);
    edges[3].not_after = NOW + 1;
    memset(edges[3].serial, 0, sizeof(edges[3].serial));
    edges[3].serial[15] = 1; /* the smallest serial */
    memset(edges[3].node_id, 0xff, sizeof(edges[3].node_id));
    for (size_t i = 0; i < 4; i++) {
        cordon_buf_init(&der, CORDON_CERT_MAX, false);
        assert_int_equal(node_request(&st, &edges[i], &der), CORDON_OK);
        check_node_cert(&der, &edges[i], edges[i].not_before);
        cordon_buf_free(&der);
    }

    /* An Ed25519 CSR is certified too. */
    cordon_buf req;
    encode_node(&p, fx.ed_csr_der.data, fx.ed_csr_der.len, &req);
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    assert_int_equal(handle(&st, req.data, req.len, NOW, &der), CORDON_OK);
    cordon_cert *cert = NULL;
    uint8_t id[CORDON_NODE_ID_LEN];
    assert_int_equal(cordon_cert_parse(der.data, der.len, &cert), CORDON_OK);
    assert_int_equal(cordon_cert_verify_node(cert, fx.ca, NULL, OVERLAY, NOW, id), CORDON_OK);
    cordon_cert_free(cert);
    cordon_buf_free(&der);
    cordon_buf_free(&req);
}

static void test_signer_node_cert_refused(void **state)
{
    (void)state;
    struct cordon_signer_state st = signer_state();
    struct {
        struct cordon_node_cert_params p;
        cordon_err want;
    } cases[12];
    size_t n = 0;

    cases[n].p = node_params(NOW); /* zero node ID */
    memset(cases[n].p.node_id, 0, CORDON_NODE_ID_LEN);
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW); /* zero serial */
    memset(cases[n].p.serial, 0, CORDON_SERIAL_LEN);
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW); /* serial with the top bit set (a negative INTEGER) */
    cases[n].p.serial[0] |= 0x80;
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW); /* one second longer than the policy allows */
    cases[n].p.not_after = NOW + MAX_VALIDITY + 3600 + 1;
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW); /* far longer */
    cases[n].p.not_after = NOW + 10 * 365 * 86400;
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW - 3601); /* backdated too far */
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW - 86400 * 365);
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW + 301); /* starts too far in the future */
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW); /* ends when it starts */
    cases[n].p.not_after = NOW;
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW); /* ends before it starts */
    cases[n].p.not_after = NOW - 1;
    cases[n++].want = CORDON_ERR_INVAL;
    cases[n].p = node_params(NOW); /* times past the sane range */
    cases[n].p.not_after = INT64_MAX;
    cases[n++].want = CORDON_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        cordon_buf out;
        cordon_buf_init(&out, CORDON_CERT_MAX, false);
        assert_int_equal(node_request(&st, &cases[i].p, &out), cases[i].want);
        assert_int_equal(out.len, 0);
        cordon_buf_free(&out);
    }

    /* CSRs that do not pass: a bad self-signature, a refused key type, garbage, empty. */
    struct cordon_node_cert_params p = node_params(NOW);
    size_t len;
    uint8_t *bad = tampered_csr(NULL, &len);
    const struct {
        const uint8_t *csr;
        size_t len;
        cordon_err want;
    } csrs[] = {
        {bad, len, CORDON_ERR_BAD_SIGNATURE},
        {fx.rsa_csr_der.data, fx.rsa_csr_der.len, CORDON_ERR_KEY_TYPE},
        {fx.p384_csr_der.data, fx.p384_csr_der.len, CORDON_ERR_KEY_TYPE},
        {(const uint8_t *)"garbage", 7, CORDON_ERR_MALFORMED},
        {(const uint8_t *)"", 0, CORDON_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(csrs) / sizeof(csrs[0]); i++) {
        cordon_buf req;
        encode_node(&p, csrs[i].csr, csrs[i].len, &req);
        assert_int_equal(handle(&st, req.data, req.len, NOW, NULL), csrs[i].want);
        cordon_buf_free(&req);
    }
    free(bad);
}

/* No node certificate outlives the CA that signs it. */
static void test_signer_node_cert_ca_expiry(void **state)
{
    (void)state;
    cordon_cert *short_ca = NULL;
    assert_int_equal(cordon_ca_create(fx.ca_key, OVERLAY, NOW - 86400, NOW + 7200, &short_ca),
                     CORDON_OK);
    struct cordon_signer_state st = signer_state();
    st.ca_cert = short_ca;
    struct cordon_node_cert_params p = node_params(NOW);
    p.not_after = NOW + 7200 + 1;
    assert_int_equal(node_request(&st, &p, NULL), CORDON_ERR_INVAL);
    p.not_after = NOW + 7200;
    cordon_buf der;
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    assert_int_equal(node_request(&st, &p, &der), CORDON_OK);
    cordon_cert *cert = NULL;
    uint8_t id[CORDON_NODE_ID_LEN];
    assert_int_equal(cordon_cert_parse(der.data, der.len, &cert), CORDON_OK);
    assert_int_equal(cordon_cert_verify_node(cert, short_ca, NULL, OVERLAY, NOW, id), CORDON_OK);
    cordon_cert_free(cert);
    cordon_buf_free(&der);
    cordon_cert_free(short_ca);
}

/* The node-certificate request, cut at every length (the frame as sent, and the payload in
 * a frame that claims the cut length), and with a byte too many: always
 * CORDON_ERR_PROTOCOL, never a certificate. */
static void test_signer_truncated_and_trailing(void **state)
{
    (void)state;
    struct cordon_signer_state st = signer_state();
    struct cordon_node_cert_params p = node_params(NOW);
    cordon_buf req;
    encode_node(&p, fx.csr_der.data, fx.csr_der.len, &req);
    assert_int_equal(req.data[0], CORDON_SIGNER_NODE_CERT);
    assert_int_equal(handle(&st, req.data, req.len, NOW, NULL), CORDON_OK);

    for (size_t n = 0; n < req.len; n++)
        assert_int_equal(handle(&st, req.data, n, NOW, NULL), CORDON_ERR_PROTOCOL);

    size_t plen = req.len - 5;
    uint8_t *framed = malloc(req.len + 1);
    assert_non_null(framed);
    for (size_t n = 0; n < plen; n++) {
        cordon_writer w;
        cordon_writer_init(&w, framed, req.len);
        cordon_write_u8(&w, CORDON_SIGNER_NODE_CERT);
        cordon_write_u32(&w, (uint32_t)n);
        cordon_write_bytes(&w, req.data + 5, n);
        size_t flen;
        assert_int_equal(cordon_writer_finish(&w, &flen), CORDON_OK);
        assert_int_equal(handle(&st, framed, flen, NOW, NULL), CORDON_ERR_PROTOCOL);
    }

    /* A byte after the frame. */
    memcpy(framed, req.data, req.len);
    framed[req.len] = 0;
    assert_int_equal(handle(&st, framed, req.len + 1, NOW, NULL), CORDON_ERR_PROTOCOL);
    /* A byte after the payload, inside a frame that counts it. */
    framed[1] = (uint8_t)((plen + 1) >> 24);
    framed[2] = (uint8_t)((plen + 1) >> 16);
    framed[3] = (uint8_t)((plen + 1) >> 8);
    framed[4] = (uint8_t)(plen + 1);
    assert_int_equal(handle(&st, framed, req.len + 1, NOW, NULL), CORDON_ERR_PROTOCOL);
    /* A CSR length that claims one byte more than the CSR, with the byte present: the CSR
     * then has trailing data and is malformed. */
    memcpy(framed, req.data, req.len);
    framed[req.len] = 0;
    framed[1] = (uint8_t)((plen + 1) >> 24);
    framed[2] = (uint8_t)((plen + 1) >> 16);
    framed[3] = (uint8_t)((plen + 1) >> 8);
    framed[4] = (uint8_t)(plen + 1);
    size_t csr_len_at = 5 + 32 + 16 + 16;
    uint16_t csr_len = (uint16_t)(framed[csr_len_at] << 8 | framed[csr_len_at + 1]);
    assert_int_equal(csr_len, fx.csr_der.len);
    csr_len++;
    framed[csr_len_at] = (uint8_t)(csr_len >> 8);
    framed[csr_len_at + 1] = (uint8_t)csr_len;
    assert_int_equal(handle(&st, framed, req.len + 1, NOW, NULL), CORDON_ERR_MALFORMED);
    free(framed);

    /* Unknown types, with an otherwise valid body. */
    static const uint8_t types[] = {0, 4, 5, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(types); i++) {
        uint8_t t = req.data[0];
        req.data[0] = types[i];
        assert_int_equal(handle(&st, req.data, req.len, NOW, NULL), CORDON_ERR_PROTOCOL);
        req.data[0] = t;
    }
    /* A frame length over CORDON_IPC_MSG_MAX. */
    uint8_t over[5] = {CORDON_SIGNER_CRL, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(handle(&st, over, sizeof(over), NOW, NULL), CORDON_ERR_PROTOCOL);
    cordon_buf_free(&req);
}

static void make_doc(const char *overlay, const cordon_buf *ca_pem, cordon_buf *json)
{
    struct cordon_overlay_doc doc;
    memset(&doc, 0, sizeof(doc));
    doc.version = 1;
    snprintf(doc.overlay, sizeof(doc.overlay), "%s", overlay);
    doc.issued_at = NOW;
    doc.ca_pem = (char *)ca_pem->data;
    cordon_overlay_params_default(&doc.params);
    doc.n_bootstrap = 2;
    snprintf(doc.bootstrap[0], sizeof(doc.bootstrap[0]), "127.0.0.1:7000");
    snprintf(doc.bootstrap[1], sizeof(doc.bootstrap[1]), "[::1]:7000");
    cordon_buf_init(json, CORDON_OVERLAY_DOC_MAX, false);
    assert_int_equal(cordon_overlay_doc_encode(&doc, json), CORDON_OK);
}

static cordon_err doc_request(struct cordon_signer_state *st, const void *doc, size_t len,
                              cordon_buf *sig)
{
    cordon_buf req;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + 5, false);
    assert_int_equal(cordon_signer_encode_document(doc, len, &req), CORDON_OK);
    cordon_err err = handle(st, req.data, req.len, NOW, sig);
    cordon_buf_free(&req);
    return err;
}

static void test_signer_document(void **state)
{
    (void)state;
    struct cordon_signer_state st = signer_state();
    cordon_buf json, sig;

    make_doc(OVERLAY, &fx.ca_pem, &json);
    cordon_buf_init(&sig, CORDON_SIG_MAX, false);
    assert_int_equal(doc_request(&st, json.data, json.len, &sig), CORDON_OK);
    assert_true(sig.len > 0 && sig.len <= CORDON_SIG_MAX);
    assert_int_equal(cordon_verify(fx.ca, json.data, json.len, sig.data, sig.len), CORDON_OK);
    /* The signature covers exactly these bytes. */
    json.data[json.len - 1] ^= 1;
    assert_int_equal(cordon_verify(fx.ca, json.data, json.len, sig.data, sig.len),
                     CORDON_ERR_BAD_SIGNATURE);
    cordon_buf_free(&json);
    cordon_buf_free(&sig);

    /* Another overlay's document. */
    make_doc("other-overlay", &fx.ca_pem, &json);
    assert_int_equal(doc_request(&st, json.data, json.len, NULL), CORDON_ERR_INVAL);
    cordon_buf_free(&json);
    /* A document naming another CA (same overlay name). */
    make_doc(OVERLAY, &fx.other_ca_pem, &json);
    assert_int_equal(doc_request(&st, json.data, json.len, NULL), CORDON_ERR_CERT_UNTRUSTED);
    /* Truncated, and not a document at all. */
    assert_int_equal(doc_request(&st, json.data, json.len - 1, NULL), CORDON_ERR_MALFORMED);
    assert_int_equal(doc_request(&st, "{}", 2, NULL), CORDON_ERR_MALFORMED);
    assert_int_equal(doc_request(&st, "", 0, NULL), CORDON_ERR_MALFORMED);
    cordon_buf_free(&json);

    /* The request framing itself: every truncation is a protocol error. */
    make_doc(OVERLAY, &fx.ca_pem, &json);
    cordon_buf req;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + 5, false);
    assert_int_equal(cordon_signer_encode_document(json.data, json.len, &req), CORDON_OK);
    for (size_t n = 0; n < req.len; n += (n < 64 ? 1 : 97))
        assert_int_equal(handle(&st, req.data, n, NOW, NULL), CORDON_ERR_PROTOCOL);
    cordon_buf_free(&req);
    cordon_buf_free(&json);
}

static void revoked_list(struct cordon_revoked *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fill(r[i].serial, CORDON_SERIAL_LEN, (uint8_t)(0x20 + i));
        r[i].serial[0] &= 0x7f;
        r[i].revoked_at = NOW - 100 * (int64_t)(i + 1);
    }
}

static cordon_err crl_request(struct cordon_signer_state *st, uint64_t number, int64_t tu,
                              int64_t nu, const struct cordon_revoked *r, size_t n, cordon_buf *der)
{
    cordon_buf req;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + 5, false);
    assert_int_equal(cordon_signer_encode_crl(number, tu, nu, r, n, &req), CORDON_OK);
    cordon_err err = handle(st, req.data, req.len, NOW, der);
    cordon_buf_free(&req);
    return err;
}

static void test_signer_crl(void **state)
{
    (void)state;
    struct cordon_signer_state st = signer_state();
    struct cordon_revoked r[3];
    revoked_list(r, 3);
    cordon_buf der;

    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    assert_int_equal(crl_request(&st, 1, NOW, NOW + 86400, r, 3, &der), CORDON_OK);
    assert_true(st.last_crl_number == 1);
    cordon_crl *crl = NULL;
    uint64_t number = 0;
    assert_int_equal(cordon_crl_parse(der.data, der.len, &crl), CORDON_OK);
    assert_int_equal(cordon_crl_verify(crl, fx.ca, NOW), CORDON_OK);
    assert_int_equal(cordon_crl_verify(crl, fx.other_ca, NOW), CORDON_ERR_CRL);
    assert_int_equal(cordon_crl_number(crl, &number), CORDON_OK);
    assert_true(number == 1);
    for (size_t i = 0; i < 3; i++)
        assert_true(cordon_crl_lists(crl, r[i].serial));
    uint8_t other[CORDON_SERIAL_LEN];
    fill(other, sizeof(other), 0x77);
    other[0] &= 0x7f;
    assert_false(cordon_crl_lists(crl, other));
    cordon_crl_free(crl);
    cordon_buf_free(&der);

    /* Numbers only go up. */
    assert_int_equal(crl_request(&st, 1, NOW, NOW + 86400, r, 3, NULL), CORDON_ERR_INVAL);
    assert_int_equal(crl_request(&st, 0, NOW, NOW + 86400, r, 3, NULL), CORDON_ERR_INVAL);
    assert_int_equal(crl_request(&st, 2, NOW, NOW + 86400, NULL, 0, NULL), CORDON_OK);
    assert_true(st.last_crl_number == 2);
    assert_int_equal(crl_request(&st, 2, NOW, NOW + 86400, NULL, 0, NULL), CORDON_ERR_INVAL);
    assert_int_equal(crl_request(&st, 10, NOW, NOW + MAX_CRL_VALIDITY, r, 1, NULL), CORDON_OK);
    assert_true(st.last_crl_number == 10);

    /* Refusals leave the number where it was. */
    assert_int_equal(crl_request(&st, 11, NOW, NOW + MAX_CRL_VALIDITY + 1, r, 1, NULL),
                     CORDON_ERR_INVAL); /* nextUpdate beyond max_crl_validity */
    assert_int_equal(crl_request(&st, 11, NOW, NOW, r, 1, NULL), CORDON_ERR_INVAL);
    assert_int_equal(crl_request(&st, 11, NOW, NOW - 1, r, 1, NULL), CORDON_ERR_INVAL);
    assert_int_equal(crl_request(&st, 11, NOW + 301, NOW + 3600, r, 1, NULL), CORDON_ERR_INVAL);
    assert_int_equal(crl_request(&st, 11, NOW - 301, NOW + 3600, r, 1, NULL), CORDON_ERR_INVAL);
    assert_true(st.last_crl_number == 10);
    assert_int_equal(crl_request(&st, 11, NOW + 300, NOW + 3600, r, 1, NULL), CORDON_OK);
    assert_int_equal(crl_request(&st, 12, NOW - 300, NOW + 3600, r, 1, NULL), CORDON_OK);
    assert_true(st.last_crl_number == 12);

    /* A count that disagrees with the payload length. */
    cordon_buf req;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + 5, false);
    assert_int_equal(cordon_signer_encode_crl(13, NOW, NOW + 3600, r, 2, &req), CORDON_OK);
    const size_t count_at = 5 + 24;
    assert_int_equal(req.data[count_at + 3], 2);
    static const uint32_t wrong[] = {0, 1, 3, 100, CORDON_CRL_ENTRIES_MAX + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        req.data[count_at] = (uint8_t)(wrong[i] >> 24);
        req.data[count_at + 1] = (uint8_t)(wrong[i] >> 16);
        req.data[count_at + 2] = (uint8_t)(wrong[i] >> 8);
        req.data[count_at + 3] = (uint8_t)wrong[i];
        assert_int_equal(handle(&st, req.data, req.len, NOW, NULL), CORDON_ERR_PROTOCOL);
    }
    req.data[count_at] = req.data[count_at + 1] = req.data[count_at + 2] = 0;
    req.data[count_at + 3] = 2;
    /* Truncations of the payload in a frame that claims them. */
    for (size_t n = 0; n < req.len - 5; n++) {
        uint8_t framed[5 + 24 + 4 + 2 * 24];
        assert_true(req.len <= sizeof(framed));
        framed[0] = CORDON_SIGNER_CRL;
        framed[1] = framed[2] = framed[3] = 0;
        framed[4] = (uint8_t)n;
        memcpy(framed + 5, req.data + 5, n);
        assert_int_equal(handle(&st, framed, 5 + n, NOW, NULL), CORDON_ERR_PROTOCOL);
    }
    assert_int_equal(handle(&st, req.data, req.len, NOW, NULL), CORDON_OK);
    assert_true(st.last_crl_number == 13);
    cordon_buf_free(&req);
}

/* ---- the signer process ---------------------------------------------------------------------- */

static void write_ca_files(const struct dbdir *d, char *key_path, char *crt_path, size_t cap)
{
    snprintf(key_path, cap, "%s/ca.key", d->dir);
    snprintf(crt_path, cap, "%s/ca.crt", d->dir);
    assert_int_equal(cordon_key_save(fx.ca_key, key_path), CORDON_OK);
    assert_int_equal(cordon_write_file(crt_path, fx.ca_pem.data, fx.ca_pem.len, 0644), CORDON_OK);
}

static struct cordon_signer_policy process_policy(void)
{
    struct cordon_signer_policy pol;
    memset(&pol, 0, sizeof(pol));
    snprintf(pol.overlay, sizeof(pol.overlay), "%s", OVERLAY);
    pol.max_validity = MAX_VALIDITY;
    pol.max_crl_validity = MAX_CRL_VALIDITY;
    return pol;
}

static void test_signer_process(void **state)
{
    struct dbdir *d = *state;
    char key_path[160], crt_path[160];
    write_ca_files(d, key_path, crt_path, sizeof(key_path));
    struct cordon_signer_policy pol = process_policy();
    cordon_signer *s = NULL;
    assert_int_equal(cordon_signer_start(key_path, crt_path, &pol, &s), CORDON_OK);
    assert_non_null(s);

    /* The process reads its own clock. */
    int64_t now = (int64_t)time(NULL);
    struct cordon_node_cert_params p = node_params(now);
    cordon_buf der;
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    assert_int_equal(cordon_signer_node_cert(s, fx.csr_der.data, fx.csr_der.len, &p, &der),
                     CORDON_OK);
    check_node_cert(&der, &p, now);
    cordon_buf_free(&der);

    /* A refusal comes back as such and leaves the channel working. */
    struct cordon_node_cert_params zero = node_params(now);
    memset(zero.node_id, 0, sizeof(zero.node_id));
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    assert_int_equal(cordon_signer_node_cert(s, fx.csr_der.data, fx.csr_der.len, &zero, &der),
                     CORDON_ERR_INVAL);
    assert_int_equal(der.len, 0);
    fill(p.serial + 8, 8, 0x99);
    assert_int_equal(cordon_signer_node_cert(s, fx.csr_der.data, fx.csr_der.len, &p, &der),
                     CORDON_OK);
    cordon_buf_free(&der);

    /* A document and a CRL through the same channel. */
    cordon_buf json;
    make_doc(OVERLAY, &fx.ca_pem, &json);
    uint8_t sig[CORDON_SIG_MAX];
    size_t sig_len = 0;
    assert_int_equal(cordon_signer_document(s, json.data, json.len, sig, &sig_len), CORDON_OK);
    assert_int_equal(cordon_verify(fx.ca, json.data, json.len, sig, sig_len), CORDON_OK);
    cordon_buf_free(&json);
    struct cordon_revoked r[2];
    revoked_list(r, 2);
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    assert_int_equal(cordon_signer_crl(s, 1, now, now + 3600, r, 2, &der), CORDON_OK);
    cordon_crl *crl = NULL;
    assert_int_equal(cordon_crl_parse(der.data, der.len, &crl), CORDON_OK);
    assert_int_equal(cordon_crl_verify(crl, fx.ca, now), CORDON_OK);
    cordon_crl_free(crl);
    cordon_buf_reset(&der);
    assert_int_equal(cordon_signer_crl(s, 1, now, now + 3600, r, 2, &der), CORDON_ERR_INVAL);
    cordon_buf_free(&der);

    cordon_signer_stop(s);
    cordon_signer_stop(NULL);
}

static void test_signer_process_refused(void **state)
{
    struct dbdir *d = *state;
    char key_path[160], crt_path[160], other[160];
    write_ca_files(d, key_path, crt_path, sizeof(key_path));
    snprintf(other, sizeof(other), "%s/other.key", d->dir);
    assert_int_equal(cordon_key_save(fx.other_key, other), CORDON_OK);
    struct cordon_signer_policy pol = process_policy();
    cordon_signer *s = NULL;

    /* A key that is not the certificate's. */
    assert_int_not_equal(cordon_signer_start(other, crt_path, &pol, &s), CORDON_OK);
    assert_null(s);
    /* Files that are missing or are not what they should be. */
    assert_int_not_equal(cordon_signer_start("/nonexistent/ca.key", crt_path, &pol, &s), CORDON_OK);
    assert_int_not_equal(cordon_signer_start(key_path, "/nonexistent/ca.crt", &pol, &s), CORDON_OK);
    assert_int_not_equal(cordon_signer_start(crt_path, key_path, &pol, &s), CORDON_OK);
    assert_null(s);
    /* A policy out of range, refused before any process is started. */
    pol.max_validity = 0;
    assert_int_equal(cordon_signer_start(key_path, crt_path, &pol, &s), CORDON_ERR_INVAL);
    pol.max_validity = CORDON_CERT_VALIDITY_MAX + 1;
    assert_int_equal(cordon_signer_start(key_path, crt_path, &pol, &s), CORDON_ERR_INVAL);
    assert_null(s);
    /* And the right pair still starts. */
    pol = process_policy();
    assert_int_equal(cordon_signer_start(key_path, crt_path, &pol, &s), CORDON_OK);
    cordon_signer_stop(s);
}

/* ==== renewal ============================================================================ */

/* A node certificate for key, issued by ca_key/ca. */
static cordon_cert *issue_cert(const cordon_key *key, const cordon_key *ca_key,
                               const cordon_cert *ca, uint8_t id_seed, uint8_t serial_seed,
                               int64_t not_before, int64_t not_after)
{
    cordon_csr *csr = NULL;
    cordon_cert *cert = NULL;
    struct cordon_node_cert_params p;
    memset(&p, 0, sizeof(p));
    p.overlay = OVERLAY;
    fill(p.node_id, sizeof(p.node_id), id_seed);
    fill(p.serial, sizeof(p.serial), serial_seed);
    p.serial[0] &= 0x7f;
    p.serial[0] |= 0x01;
    p.not_before = not_before;
    p.not_after = not_after;
    assert_int_equal(cordon_csr_create(key, &csr), CORDON_OK);
    assert_int_equal(cordon_cert_issue_node(csr, &p, ca_key, ca, &cert), CORDON_OK);
    cordon_csr_free(csr);
    return cert;
}

/* PEM armour with 64-character lines, for CSRs the crypto API would not make. */
static char *pem_armour(const char *label, const uint8_t *der, size_t len)
{
    cordon_buf b64, out;
    cordon_buf_init(&b64, 4 * CORDON_CSR_MAX, false);
    cordon_buf_init(&out, 8 * CORDON_CSR_MAX, false);
    assert_int_equal(cordon_base64_encode(der, len, &b64), CORDON_OK);
    assert_int_equal(cordon_buf_printf(&out, "-----BEGIN %s-----\n", label), CORDON_OK);
    for (size_t i = 0; i < b64.len; i += 64) {
        size_t n = b64.len - i < 64 ? b64.len - i : 64;
        assert_int_equal(cordon_buf_append(&out, b64.data + i, n), CORDON_OK);
        assert_int_equal(cordon_buf_append_str(&out, "\n"), CORDON_OK);
    }
    assert_int_equal(cordon_buf_printf(&out, "-----END %s-----\n", label), CORDON_OK);
    assert_int_equal(cordon_buf_terminate(&out), CORDON_OK);
    size_t n;
    char *text = (char *)cordon_buf_take(&out, &n);
    cordon_buf_free(&b64);
    return text;
}

struct renew_spec {
    const cordon_cert *cert;
    const cordon_key *csr_key;  /* the CSR's key (the node's) */
    const char *csr_text;       /* instead of a CSR for csr_key, when not NULL */
    const cordon_key *sign_key; /* who signs */
    int64_t time;
    bool flip_sig; /* one bit of the signature changed */
};

/* The JSON body for spec, signed over cordon_renew_message() as a node would. */
static json_t *renew_json(const struct renew_spec *sp)
{
    cordon_csr *csr = NULL;
    cordon_buf cert_pem, csr_pem;
    uint8_t msg[CORDON_RENEW_MSG_LEN], sig[CORDON_SIG_MAX];
    char hex[2 * CORDON_SIG_MAX + 1];
    size_t sig_len = 0;
    cordon_buf_init(&cert_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&csr_pem, CORDON_CSR_MAX, false);
    assert_int_equal(cordon_cert_pem(sp->cert, &cert_pem), CORDON_OK);
    assert_int_equal(cordon_csr_create(sp->csr_key, &csr), CORDON_OK);
    assert_int_equal(cordon_csr_pem(csr, &csr_pem), CORDON_OK);
    const char *csr_text = sp->csr_text ? sp->csr_text : (const char *)csr_pem.data;
    /* The signature covers the CSR that is sent. */
    cordon_csr *sent = NULL;
    if (cordon_csr_parse(csr_text, strlen(csr_text), &sent) == CORDON_OK)
        assert_int_equal(cordon_renew_message(sent, sp->time, msg), CORDON_OK);
    else
        assert_int_equal(cordon_renew_message(csr, sp->time, msg), CORDON_OK);
    cordon_csr_free(sent);
    assert_int_equal(cordon_sign(sp->sign_key, msg, sizeof(msg), sig, &sig_len), CORDON_OK);
    if (sp->flip_sig)
        sig[sig_len / 2] ^= 0x04;
    cordon_hex_encode(sig, sig_len, hex);
    json_t *o = json_pack("{s:s,s:s,s:I,s:s}", "certificate", (const char *)cert_pem.data, "csr",
                          csr_text, "time", (json_int_t)sp->time, "signature", hex);
    assert_non_null(o);
    cordon_csr_free(csr);
    cordon_buf_free(&cert_pem);
    cordon_buf_free(&csr_pem);
    return o;
}

/* Dumps o (taking it) into an exact-size heap block: reading past it is an ASan report. */
static uint8_t *dump_exact(json_t *o, size_t *len)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(text);
    json_decref(o);
    *len = strlen(text);
    uint8_t *body = malloc(*len);
    assert_non_null(body);
    memcpy(body, text, *len);
    free(text);
    return body;
}

static unsigned parse_renew(const char *ct, const uint8_t *body, size_t len,
                            struct cordon_renew_request *rr)
{
    struct cordon_http_refusal refusal = {0, NULL, NULL};
    unsigned status = cordon_renew_request_parse(ct, body, len, rr, &refusal);
    if (status != 0) {
        /* A refusal carries its status and a message, and leaves nothing behind. */
        assert_int_equal(refusal.status, status);
        assert_non_null(refusal.message);
        assert_null(rr->cert);
        assert_null(rr->csr);
    }
    return status;
}

/* Parses and checks spec's body at now against fx.ca with crl. */
static unsigned check_renew(const struct renew_spec *sp, const cordon_crl *crl, const char *overlay,
                            int64_t now, struct cordon_renew_proof *proof, const char **message)
{
    struct cordon_renew_request rr;
    struct cordon_http_refusal refusal = {0, NULL, NULL};
    size_t len;
    uint8_t *body = dump_exact(renew_json(sp), &len);
    assert_int_equal(parse_renew("application/json", body, len, &rr), 0);
    unsigned status = cordon_renew_request_check(&rr, fx.ca, crl, overlay, now, proof, &refusal);
    if (status != 0) {
        assert_int_equal(refusal.status, status);
        assert_non_null(refusal.message);
        assert_null(proof->csr);
        *message = refusal.message;
    } else {
        assert_non_null(proof->csr);
        *message = NULL;
    }
    cordon_renew_request_clear(&rr);
    free(body);
    return status;
}

static void test_renew_message(void **state)
{
    (void)state;
    cordon_csr *csr = NULL;
    uint8_t msg[CORDON_RENEW_MSG_LEN], hash[32];
    assert_int_equal(CORDON_RENEW_MSG_LEN, 56);
    assert_int_equal(cordon_csr_parse(fx.csr_der.data, fx.csr_der.len, &csr), CORDON_OK);
    memset(msg, CANARY, sizeof(msg));
    assert_int_equal(cordon_renew_message(csr, INT64_C(0x0102030405060708), msg), CORDON_OK);
    assert_memory_equal(msg, "cordon-renew-v1\0", 16);
    cordon_sha256(fx.csr_der.data, fx.csr_der.len, hash);
    assert_memory_equal(msg + 16, hash, 32);
    static const uint8_t be[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(msg + 48, be, 8);
    assert_int_equal(cordon_renew_message(csr, -1, msg), CORDON_ERR_INVAL);
    assert_int_equal(cordon_renew_message(NULL, 0, msg), CORDON_ERR_INVAL);
    cordon_csr_free(csr);
}

static void test_renew_parse_ok(void **state)
{
    (void)state;
    cordon_cert *cert = issue_cert(fx.node_key, fx.ca_key, fx.ca, 0x21, 0x31, NOW - 60, NOW + 3600);
    struct renew_spec sp = {
        .cert = cert, .csr_key = fx.node_key, .sign_key = fx.node_key, .time = NOW};
    size_t len;
    uint8_t *body = dump_exact(renew_json(&sp), &len);
    static const char *const types[] = {"application/json", "application/json; charset=utf-8",
                                        "Application/JSON"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct cordon_renew_request rr;
        assert_int_equal(parse_renew(types[i], body, len, &rr), 0);
        assert_non_null(rr.cert);
        assert_non_null(rr.csr);
        assert_true(rr.csr_len > 0);
        assert_true(rr.time == NOW);
        assert_true(rr.sig_len >= 64 && rr.sig_len <= CORDON_SIG_MAX);
        cordon_renew_request_clear(&rr);
        assert_null(rr.cert);
        cordon_renew_request_clear(&rr); /* twice is harmless */
    }
    cordon_renew_request_clear(NULL);
    free(body);
    cordon_cert_free(cert);
}

/* The good body with one member replaced (value NULL: removed) or added. */
static uint8_t *variant(const uint8_t *good, size_t good_len, const char *key, json_t *value,
                        size_t *len)
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *)good, good_len, 0, &jerr);
    assert_non_null(o);
    if (value == NULL)
        assert_int_equal(json_object_del(o, key), 0);
    else
        assert_int_equal(json_object_set_new(o, key, value), 0);
    return dump_exact(o, len);
}

static void test_renew_parse_refused(void **state)
{
    (void)state;
    cordon_cert *cert = issue_cert(fx.node_key, fx.ca_key, fx.ca, 0x21, 0x31, NOW - 60, NOW + 3600);
    struct renew_spec sp = {
        .cert = cert, .csr_key = fx.node_key, .sign_key = fx.node_key, .time = NOW};
    struct cordon_renew_request rr;
    size_t len, vlen;
    uint8_t *good = dump_exact(renew_json(&sp), &len);

    /* Content type, before anything is parsed: given, and JSON. */
    assert_int_equal(parse_renew(NULL, good, len, &rr), 415);
    assert_int_equal(parse_renew("text/plain", good, len, &rr), 415);
    assert_int_equal(parse_renew("application/jsonx", good, len, &rr), 415);
    assert_int_equal(parse_renew("application/pkcs10", good, len, &rr), 415);
    /* Size. */
    uint8_t *big = malloc(CORDON_HTTP_BODY_MAX + 1);
    assert_non_null(big);
    memset(big, ' ', CORDON_HTTP_BODY_MAX + 1);
    assert_int_equal(parse_renew("application/json", big, CORDON_HTTP_BODY_MAX + 1, &rr), 413);
    assert_int_equal(parse_renew("application/json", big, CORDON_HTTP_BODY_MAX, &rr), 400);
    free(big);

    /* Every truncation of the good body. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, good, n);
        assert_int_equal(parse_renew("application/json", cut, n, &rr), 400);
        free(cut);
    }

    /* Not one JSON object, or something after it. */
    static const char *const texts[] = {"[]", "null", "\"x\"", "{}", "{\"certificate\":1}",
                                        " ",  "{} {}"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        assert_int_equal(
            parse_renew("application/json", (const uint8_t *)texts[i], strlen(texts[i]), &rr), 400);
    uint8_t *trail = malloc(len + 1);
    assert_non_null(trail);
    memcpy(trail, good, len);
    trail[len] = 'x';
    assert_int_equal(parse_renew("application/json", trail, len + 1, &rr), 400);
    /* A duplicate member: the same key again before the closing brace. */
    static const char dup[] = ",\"time\":1}";
    uint8_t *dupl = malloc(len - 1 + sizeof(dup) - 1);
    assert_non_null(dupl);
    memcpy(dupl, good, len - 1);
    memcpy(dupl + len - 1, dup, sizeof(dup) - 1);
    assert_int_equal(parse_renew("application/json", dupl, len - 1 + sizeof(dup) - 1, &rr), 400);
    free(dupl);
    free(trail);

    /* Each member missing, of the wrong type, or of a bad value; an unknown member. */
    struct {
        const char *key;
        json_t *value;
    } bad[] = {
        {"certificate", NULL},
        {"csr", NULL},
        {"time", NULL},
        {"signature", NULL},
        {"extra", json_integer(1)},
        {"certificate", json_integer(1)},
        {"certificate", json_string("not a certificate")},
        {"certificate", json_string("")},
        {"csr", json_integer(1)},
        {"csr", json_string("")},
        {"time", json_string("1767225600")},
        {"time", json_real(1767225600.5)},
        {"time", json_integer(-1)},
        {"time", json_true()},
        {"signature", json_integer(1)},
        {"signature", json_string("")},
        {"signature", json_string("abc")},
        {"signature", json_string("zz")},
        {"signature", json_string("0x00")},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *v = variant(good, len, bad[i].key, bad[i].value, &vlen);
        assert_int_equal(parse_renew("application/json", v, vlen, &rr), 400);
        free(v);
    }
    /* A signature longer than any the key types make. */
    char longsig[2 * (CORDON_SIG_MAX + 1) + 1];
    memset(longsig, 'a', sizeof(longsig) - 1);
    longsig[sizeof(longsig) - 1] = '\0';
    uint8_t *v = variant(good, len, "signature", json_string(longsig), &vlen);
    assert_int_equal(parse_renew("application/json", v, vlen, &rr), 400);
    free(v);
    longsig[2 * CORDON_SIG_MAX] = '\0'; /* at the cap: parses (and fails later, the check) */
    v = variant(good, len, "signature", json_string(longsig), &vlen);
    assert_int_equal(parse_renew("application/json", v, vlen, &rr), 0);
    cordon_renew_request_clear(&rr);
    free(v);
    /* A NUL inside a string is refused by the JSON parser itself. */
    static const char nul[] = "{\"certificate\":\"a\\u0000b\",\"csr\":\"x\",\"time\":1,"
                              "\"signature\":\"00\"}";
    assert_int_equal(parse_renew("application/json", (const uint8_t *)nul, sizeof(nul) - 1, &rr),
                     400);

    free(good);
    cordon_cert_free(cert);
}

static void test_renew_check(void **state)
{
    (void)state;
    struct cordon_renew_proof proof;
    const char *msg;
    uint8_t want_id[CORDON_NODE_ID_LEN];
    fill(want_id, sizeof(want_id), 0x21);
    cordon_cert *cert = issue_cert(fx.node_key, fx.ca_key, fx.ca, 0x21, 0x31, NOW - 60, NOW + 3600);
    cordon_cert *foreign =
        issue_cert(fx.node_key, fx.other_key, fx.other_ca, 0x21, 0x31, NOW - 60, NOW + 3600);
    uint8_t serial[CORDON_SERIAL_LEN];
    assert_int_equal(cordon_cert_serial(cert, serial), CORDON_OK);
    struct cordon_revoked listed = {.revoked_at = NOW - 10};
    memcpy(listed.serial, serial, sizeof(serial));
    cordon_crl *crl = NULL, *revoking = NULL, *short_crl = NULL, *early_crl = NULL;
    assert_int_equal(cordon_crl_create(fx.ca_key, fx.ca, 1, NOW - 60, NOW + 86400, NULL, 0, &crl),
                     CORDON_OK);
    assert_int_equal(
        cordon_crl_create(fx.ca_key, fx.ca, 2, NOW - 60, NOW + 86400, &listed, 1, &revoking),
        CORDON_OK);
    assert_int_equal(
        cordon_crl_create(fx.ca_key, fx.ca, 3, NOW - 60, NOW + 10, NULL, 0, &short_crl), CORDON_OK);
    cordon_key *ed = NULL, *other = NULL;
    assert_int_equal(cordon_key_generate(CORDON_KEY_ED25519, &ed), CORDON_OK);
    assert_int_equal(cordon_key_generate(CORDON_KEY_P256, &other), CORDON_OK);
    struct renew_spec good = {
        .cert = cert, .csr_key = fx.node_key, .sign_key = fx.node_key, .time = NOW};

    /* Accepted: the proof names the node and the presented serial. */
    assert_int_equal(check_renew(&good, crl, OVERLAY, NOW, &proof, &msg), 0);
    assert_memory_equal(proof.node_id, want_id, sizeof(want_id));
    assert_memory_equal(proof.serial, serial, sizeof(serial));
    assert_false(proof.revoked);
    assert_true(cordon_csr_matches_cert(proof.csr, cert));
    cordon_renew_proof_clear(&proof);
    assert_null(proof.csr);
    cordon_renew_proof_clear(NULL);

    /* The edges of the time window are inside it. */
    struct renew_spec sp = good;
    sp.time = NOW - CORDON_RENEW_TIME_WINDOW;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 0);
    cordon_renew_proof_clear(&proof);
    sp.time = NOW + CORDON_RENEW_TIME_WINDOW;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 0);
    cordon_renew_proof_clear(&proof);

    /* A listed certificate passes the check, marked: the issuer refuses it with 403. */
    assert_int_equal(check_renew(&good, revoking, OVERLAY, NOW, &proof, &msg), 0);
    assert_true(proof.revoked);
    cordon_renew_proof_clear(&proof);

    /* 401: the certificate. Another CA (even with a listed serial), another overlay,
     * expired, not yet valid. */
    sp = good;
    sp.cert = foreign;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 401);
    assert_int_equal(check_renew(&sp, revoking, OVERLAY, NOW, &proof, &msg), 401);
    assert_non_null(strstr(msg, "CA"));
    assert_int_equal(check_renew(&good, crl, "other-overlay", NOW, &proof, &msg), 401);
    sp = good;
    sp.time = NOW + 3600;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW + 3600, &proof, &msg), 401);
    assert_non_null(strstr(msg, "expired"));
    sp.time = NOW - 120; /* with a CRL that was current then */
    assert_int_equal(check_renew(&sp, early_crl, OVERLAY, NOW - 120, &proof, &msg), 401);
    assert_non_null(strstr(msg, "not valid yet"));
    /* 503: the server's own CRL is out of date. */
    sp.time = NOW + 20;
    assert_int_equal(check_renew(&sp, short_crl, OVERLAY, NOW + 20, &proof, &msg), 503);

    /* 400: the CSR. Not a CSR, badly self-signed, a refused key type, another key. */
    sp = good;
    sp.csr_text = "not a CSR";
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 400);
    size_t tlen;
    uint8_t *tampered = tampered_csr(NULL, &tlen);
    char *tampered_pem = pem_armour("CERTIFICATE REQUEST", tampered, tlen);
    sp.csr_text = tampered_pem;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 400);
    assert_non_null(strstr(msg, "self-signature"));
    char *rsa_pem = pem_armour("CERTIFICATE REQUEST", fx.rsa_csr_der.data, fx.rsa_csr_der.len);
    sp.csr_text = rsa_pem;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 400);
    assert_non_null(strstr(msg, "key type"));
    sp = good;
    sp.csr_key = other; /* signed by the node's key, for a CSR of another key */
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 400);
    assert_non_null(strstr(msg, "key"));
    sp.csr_key = ed;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 400);

    /* 401: the time, one second past the window either way. */
    sp = good;
    sp.time = NOW - CORDON_RENEW_TIME_WINDOW - 1;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 401);
    assert_non_null(strstr(msg, "time"));
    sp.time = NOW + CORDON_RENEW_TIME_WINDOW + 1;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 401);

    /* 401: the signature. Another key, one bit changed. */
    sp = good;
    sp.sign_key = other;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 401);
    assert_non_null(strstr(msg, "signature"));
    sp = good;
    sp.flip_sig = true;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 401);

    /* The order: a bad certificate is reported before a bad CSR, a bad CSR before a bad
     * time, a bad time before a bad signature. */
    sp = good;
    sp.cert = foreign;
    sp.csr_text = "not a CSR";
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 401);
    sp = good;
    sp.csr_key = other;
    sp.time = NOW + 10000;
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 400);
    sp = good;
    sp.time = NOW + 10000;
    sp.sign_key = other;
    assert_non_null(strstr(msg, "key"));
    assert_int_equal(check_renew(&sp, crl, OVERLAY, NOW, &proof, &msg), 401);
    assert_non_null(strstr(msg, "time"));

    /* An Ed25519 node renews the same way. */
    cordon_cert *ed_cert = issue_cert(ed, fx.ca_key, fx.ca, 0x22, 0x32, NOW - 60, NOW + 3600);
    struct renew_spec eds = {.cert = ed_cert, .csr_key = ed, .sign_key = ed, .time = NOW};
    assert_int_equal(check_renew(&eds, crl, OVERLAY, NOW, &proof, &msg), 0);
    cordon_renew_proof_clear(&proof);
    eds.flip_sig = true;
    assert_int_equal(check_renew(&eds, crl, OVERLAY, NOW, &proof, &msg), 401);

    cordon_cert_free(ed_cert);
    free(tampered);
    free(tampered_pem);
    free(rsa_pem);
    cordon_key_free(ed);
    cordon_key_free(other);
    cordon_crl_free(crl);
    cordon_crl_free(revoking);
    cordon_crl_free(short_crl);
    cordon_crl_free(early_crl);
    cordon_cert_free(cert);
    cordon_cert_free(foreign);
}

struct serial_walk {
    size_t calls;
    uint8_t serial[4][CORDON_SERIAL_LEN];
    uint8_t node[4][CORDON_NODE_ID_LEN];
    int64_t not_after[4];
};

static cordon_err serial_fn(const uint8_t serial[CORDON_SERIAL_LEN],
                            const uint8_t node_id[CORDON_NODE_ID_LEN], int64_t not_after, void *arg)
{
    struct serial_walk *w = arg;
    if (w->calls == 4)
        return CORDON_ERR_TOO_LARGE;
    memcpy(w->serial[w->calls], serial, CORDON_SERIAL_LEN);
    memcpy(w->node[w->calls], node_id, CORDON_NODE_ID_LEN);
    w->not_after[w->calls] = not_after;
    w->calls++;
    return CORDON_OK;
}

static cordon_err serial_stop(const uint8_t serial[CORDON_SERIAL_LEN],
                              const uint8_t node_id[CORDON_NODE_ID_LEN], int64_t not_after,
                              void *arg)
{
    (void)serial;
    (void)node_id;
    (void)not_after;
    (void)arg;
    return CORDON_ERR_BUSY;
}

/* Every serial stays in the index with its node and expiry, renewed ones included. */
static void test_db_serial_each(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    struct cordon_node_record a = node_rec(1, 0x10), b = node_rec(2, 0x20);
    struct cordon_node_record renewed = node_rec(1, 0x30);
    renewed.not_after = NOW + 2 * MAX_VALIDITY;
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &a), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &b), CORDON_OK);
    assert_int_equal(cordon_db_node_update(txn, &renewed), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    struct serial_walk w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    cordon_err walked = cordon_db_serial_each(txn, serial_fn, &w);
    cordon_err stopped = cordon_db_serial_each(txn, serial_stop, NULL);
    cordon_db_abort(txn);
    cordon_db_close(db);

    assert_int_equal(walked, CORDON_OK);
    assert_int_equal(stopped, CORDON_ERR_BUSY);
    assert_int_equal(w.calls, 3);
    /* In serial order: 0x10.., 0x20.., 0x30.. */
    const struct cordon_node_record *want[3] = {&a, &b, &renewed};
    for (size_t i = 0; i < 3; i++) {
        assert_memory_equal(w.serial[i], want[i]->serial, CORDON_SERIAL_LEN);
        assert_memory_equal(w.node[i], want[i]->node_id, CORDON_NODE_ID_LEN);
        assert_true(w.not_after[i] == want[i]->not_after);
    }
    cordon_node_record_clear(&a);
    cordon_node_record_clear(&b);
    cordon_node_record_clear(&renewed);
}

/* A revoked node that renewed: the CRL lists each of its certificates that has not expired,
 * and nothing of the others. */
static void test_write_crl_renewed(void **state)
{
    struct dbdir *d = *state;
    cordon_db *db = db_create(d);
    cordon_db_txn *txn;
    int64_t now = NOW + 1000;
    /* a: enrolled (expired by now), renewed twice (both still valid), then revoked.
     * b: revoked, its only certificate expired. c: renewed, not revoked. */
    struct cordon_node_record a0 = node_rec(1, 0x10), a1 = node_rec(1, 0x11),
                              a2 = node_rec(1, 0x12);
    struct cordon_node_record b = node_rec(2, 0x20), c0 = node_rec(3, 0x30), c1 = node_rec(3, 0x31);
    a0.not_after = now - 1;
    a1.not_after = now + 100;
    a2.not_after = now + 200;
    b.not_after = now - 5;
    b.revoked_at = now - 10;
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &a0), CORDON_OK);
    assert_int_equal(cordon_db_node_update(txn, &a1), CORDON_OK);
    assert_int_equal(cordon_db_node_update(txn, &a2), CORDON_OK);
    a2.revoked_at = now - 50;
    assert_int_equal(cordon_db_node_update(txn, &a2), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &b), CORDON_OK);
    assert_int_equal(cordon_db_node_add(txn, &c0), CORDON_OK);
    assert_int_equal(cordon_db_node_update(txn, &c1), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);

    cordon_err wrote = cordon_enroll_write_crl(db, now, 3600, fx.ca_key, fx.ca, NULL, NULL, NULL);
    cordon_buf der;
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    assert_int_equal(cordon_db_begin(db, false, &txn), CORDON_OK);
    cordon_err got = cordon_db_meta_get(txn, "crl", &der);
    cordon_db_abort(txn);
    cordon_db_close(db);
    assert_int_equal(wrote, CORDON_OK);
    assert_int_equal(got, CORDON_OK);

    cordon_crl *crl = NULL;
    assert_int_equal(cordon_crl_parse(der.data, der.len, &crl), CORDON_OK);
    assert_int_equal(cordon_crl_verify(crl, fx.ca, now), CORDON_OK);
    bool listed_a1 = cordon_crl_lists(crl, a1.serial), listed_a2 = cordon_crl_lists(crl, a2.serial);
    bool listed_a0 = cordon_crl_lists(crl, a0.serial), listed_b = cordon_crl_lists(crl, b.serial);
    bool listed_c = cordon_crl_lists(crl, c0.serial) || cordon_crl_lists(crl, c1.serial);
    cordon_crl_free(crl);
    cordon_buf_free(&der);
    struct cordon_node_record *all[] = {&a0, &a1, &a2, &b, &c0, &c1};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cordon_node_record_clear(all[i]);

    assert_true(listed_a1); /* superseded, still valid: listed */
    assert_true(listed_a2);
    assert_false(listed_a0); /* expired */
    assert_false(listed_b);  /* expired */
    assert_false(listed_c);  /* not revoked */
}

/* ---- the issuer: renewals through the one issuance path, with a real signer ------------- */

static struct cordon_renew_proof proof_for(const cordon_buf *cert_der)
{
    struct cordon_renew_proof p;
    cordon_cert *cert = NULL;
    memset(&p, 0, sizeof(p));
    assert_int_equal(cordon_cert_parse(cert_der->data, cert_der->len, &cert), CORDON_OK);
    assert_int_equal(
        cordon_cert_verify_node(cert, fx.ca, NULL, OVERLAY, (int64_t)time(NULL), p.node_id),
        CORDON_OK);
    assert_int_equal(cordon_cert_serial(cert, p.serial), CORDON_OK);
    assert_true(cordon_cert_matches_key(cert, fx.node_key));
    cordon_cert_free(cert);
    assert_int_equal(cordon_csr_parse(fx.csr_der.data, fx.csr_der.len, &p.csr), CORDON_OK);
    return p;
}

static size_t count_lines(const char *path, const char *needle)
{
    cordon_buf text;
    size_t n = 0;
    cordon_buf_init(&text, 1024 * 1024, false);
    assert_int_equal(cordon_read_file(path, 1024 * 1024, &text), CORDON_OK);
    assert_int_equal(cordon_buf_terminate(&text), CORDON_OK);
    for (const char *p = (const char *)text.data; (p = strstr(p, needle)) != NULL; p++)
        n++;
    cordon_buf_free(&text);
    return n;
}

static void test_issuer_renew(void **state)
{
    struct dbdir *d = *state;
    char key_path[160], crt_path[160], audit_path[160];
    write_ca_files(d, key_path, crt_path, sizeof(key_path));
    snprintf(audit_path, sizeof(audit_path), "%s/audit.log", d->dir);
    struct cordon_signer_policy pol = process_policy();
    cordon_signer *signer = NULL;
    cordon_audit *audit = NULL;
    cordon_issuer *is = NULL;
    cordon_db *db = db_create(d);
    assert_int_equal(cordon_signer_start(key_path, crt_path, &pol, &signer), CORDON_OK);
    assert_int_equal(cordon_audit_open(audit_path, &audit), CORDON_OK);

    /* A token, and one node enrolled with it. */
    struct cordon_enroll_request er;
    uint8_t raw[CORDON_TOKEN_BYTES];
    fill(raw, sizeof(raw), 0x77);
    memset(&er, 0, sizeof(er));
    cordon_token_hash(raw, er.token_hash);
    struct cordon_token_record tok = token_rec(5, 0, "renewals");
    tok.expires_at = (int64_t)time(NULL) + 3600;
    cordon_db_txn *txn;
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_token_put(txn, er.token_hash, &tok), CORDON_OK);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);
    struct cordon_issuer_config cfg = {.cert_validity = MAX_VALIDITY,
                                       .ca_not_after = CA_NOT_AFTER,
                                       .source_rate = 100,
                                       .source_burst = 100,
                                       .token_rate = 100,
                                       .token_burst = 100,
                                       .renew_rate = 0.001,
                                       .renew_burst = 2};
    assert_int_equal(cordon_issuer_new(db, signer, audit, &cfg, &is), CORDON_OK);
    assert_int_equal(cordon_csr_parse(fx.csr_der.data, fx.csr_der.len, &er.csr), CORDON_OK);
    struct cordon_http_refusal refusal = {0, NULL, NULL};
    cordon_buf c0, c1, c2, c3;
    cordon_buf_init(&c0, CORDON_CERT_MAX, false);
    cordon_buf_init(&c1, CORDON_CERT_MAX, false);
    cordon_buf_init(&c2, CORDON_CERT_MAX, false);
    cordon_buf_init(&c3, CORDON_CERT_MAX, false);
    uint8_t node_id[CORDON_NODE_ID_LEN];
    assert_int_equal(cordon_issuer_enroll(is, &er, "test", &c0, node_id, &refusal), 201);
    cordon_enroll_request_clear(&er);

    /* Renewal: the same node ID and key, a new serial. */
    struct cordon_renew_proof p0 = proof_for(&c0);
    assert_memory_equal(p0.node_id, node_id, sizeof(node_id));
    assert_int_equal(cordon_issuer_renew(is, &p0, "test", &c1, &refusal), 201);
    struct cordon_renew_proof p1 = proof_for(&c1);
    assert_memory_equal(p1.node_id, node_id, sizeof(node_id));
    assert_memory_not_equal(p1.serial, p0.serial, CORDON_SERIAL_LEN);

    /* The certificate it replaced can no longer renew. */
    assert_int_equal(cordon_issuer_renew(is, &p0, "test", &c2, &refusal), 403);
    assert_non_null(strstr(refusal.message, "superseded"));
    assert_int_equal(c2.len, 0);
    /* A node the server never enrolled. */
    struct cordon_renew_proof stranger = p1;
    stranger.node_id[0] ^= 0xff;
    assert_int_equal(cordon_issuer_renew(is, &stranger, "test", &c2, &refusal), 403);
    assert_non_null(strstr(refusal.message, "unknown"));
    /* A certificate the CRL lists. */
    struct cordon_renew_proof listed = p1;
    listed.revoked = true;
    assert_int_equal(cordon_issuer_renew(is, &listed, "test", &c2, &refusal), 403);
    assert_non_null(strstr(refusal.message, "revoked"));

    /* The burst is 2: the second renewal passes, the third is rate limited. */
    assert_int_equal(cordon_issuer_renew(is, &p1, "test", &c2, &refusal), 201);
    struct cordon_renew_proof p2 = proof_for(&c2);
    assert_int_equal(cordon_issuer_renew(is, &p2, "test", &c3, &refusal), 429);
    assert_int_equal(c3.len, 0);

    /* The record holds the newest certificate; revoked, the node cannot renew. */
    struct cordon_node_record rec;
    assert_int_equal(cordon_db_begin(db, true, &txn), CORDON_OK);
    assert_int_equal(cordon_db_node_get(txn, node_id, &rec), CORDON_OK);
    bool newest = memcmp(rec.serial, p2.serial, CORDON_SERIAL_LEN) == 0 &&
                  rec.cert_der_len == c2.len && memcmp(rec.cert_der, c2.data, c2.len) == 0;
    rec.revoked_at = (int64_t)time(NULL);
    cordon_err upd = cordon_db_node_update(txn, &rec);
    cordon_node_record_clear(&rec);
    assert_int_equal(cordon_db_commit(txn), CORDON_OK);
    assert_true(newest);
    assert_int_equal(upd, CORDON_OK);
    assert_int_equal(cordon_issuer_renew(is, &p2, "test", &c3, &refusal), 403);
    assert_non_null(strstr(refusal.message, "revoked"));

    cordon_issuer_free(is);
    cordon_signer_stop(signer);
    cordon_audit_close(audit);
    cordon_db_close(db);
    /* Audited: two renewals issued, the refusals (not the rate-limited one), no token. */
    assert_int_equal(count_lines(audit_path, "\"event\":\"renew\",\"outcome\":\"issued\""), 2);
    assert_int_equal(count_lines(audit_path, "\"event\":\"renew\",\"outcome\":\"forbidden\""), 4);
    assert_int_equal(count_lines(audit_path, "\"old_serial\""), 6);
    assert_int_equal(count_lines(audit_path, "rate"), 0);
    cordon_renew_proof_clear(&p0);
    cordon_renew_proof_clear(&p1);
    cordon_renew_proof_clear(&p2);
    cordon_buf_free(&c0);
    cordon_buf_free(&c1);
    cordon_buf_free(&c2);
    cordon_buf_free(&c3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_parse_authorization),
        cmocka_unit_test(test_request_parse_ok),
        cmocka_unit_test(test_request_parse_refused),
        cmocka_unit_test_setup_teardown(test_db_create_open, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_tokens, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_nodes, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_node_duplicates, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_node_update_serial_index, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_poisoned_txn, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_meta, db_setup, db_teardown),
        cmocka_unit_test(test_token_record_codec),
        cmocka_unit_test(test_node_record_codec),
        cmocka_unit_test(test_signer_node_cert_ok),
        cmocka_unit_test(test_signer_node_cert_refused),
        cmocka_unit_test(test_signer_node_cert_ca_expiry),
        cmocka_unit_test(test_signer_truncated_and_trailing),
        cmocka_unit_test(test_signer_document),
        cmocka_unit_test(test_signer_crl),
        cmocka_unit_test_setup_teardown(test_signer_process, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_signer_process_refused, db_setup, db_teardown),
        cmocka_unit_test(test_renew_message),
        cmocka_unit_test(test_renew_parse_ok),
        cmocka_unit_test(test_renew_parse_refused),
        cmocka_unit_test(test_renew_check),
        cmocka_unit_test_setup_teardown(test_db_serial_each, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_write_crl_renewed, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_issuer_renew, db_setup, db_teardown),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
