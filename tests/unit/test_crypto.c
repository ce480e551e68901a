/*
 * tests/unit/test_crypto.c — crypto/: keys, signatures, CSRs, certificates and the node-ID
 * binding, CRLs, base64. Objects that cordon would never make (RSA keys, certificates
 * without or with two node IDs, CSRs that ask for an identity) are built here with OpenSSL
 * directly, signed by the test CA, to prove the checks refuse them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/buf.h"
#include "common/hex.h"
#include "common/mem.h"
#include "crypto/crypto.h"

#define OVERLAY "test"
#define T0 INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define DAY INT64_C(86400)
#define NODE_NB T0
#define NODE_NA (T0 + 7 * DAY)
#define BIG (1024 * 1024)

/* ---- fixture ------------------------------------------------------------------------- */

static char tmpdir[64];
static cordon_key *ca_key;   /* P-256 */
static cordon_cert *ca_cert; /* overlay "test" */
static cordon_key *node_key; /* P-256 */
static int file_seq;

static void tmp_path(char *out, size_t n, const char *stem)
{
    snprintf(out, n, "%s/%s-%d", tmpdir, stem, file_seq++);
}

static void must(cordon_err err)
{
    if (err != CORDON_OK)
        fail_msg("unexpected error %s", cordon_errname(err));
}

static cordon_key *gen(cordon_key_type type)
{
    cordon_key *k = NULL;
    must(cordon_key_generate(type, &k));
    assert_non_null(k);
    return k;
}

static cordon_cert *make_ca(const cordon_key *key, const char *overlay)
{
    cordon_cert *c = NULL;
    must(cordon_ca_create(key, overlay, T0 - DAY, T0 + 3650 * DAY, &c));
    return c;
}

static void fill_params(struct cordon_node_cert_params *p, const char *overlay, uint8_t id_byte,
                        uint8_t serial_byte, int64_t nb, int64_t na)
{
    memset(p, 0, sizeof(*p));
    p->overlay = overlay;
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        p->node_id[i] = (uint8_t)(id_byte + i);
    p->serial[CORDON_SERIAL_LEN - 1] = serial_byte;
    p->serial[0] = 0x12;
    p->not_before = nb;
    p->not_after = na;
}

static cordon_cert *issue_with(const cordon_key *key, const struct cordon_node_cert_params *p,
                               const cordon_key *cak, const cordon_cert *cac)
{
    cordon_csr *csr = NULL;
    cordon_cert *c = NULL;
    must(cordon_csr_create(key, &csr));
    must(cordon_cert_issue_node(csr, p, cak, cac, &c));
    cordon_csr_free(csr);
    return c;
}

static cordon_cert *issue(uint8_t id_byte, uint8_t serial_byte)
{
    struct cordon_node_cert_params p;
    fill_params(&p, OVERLAY, id_byte, serial_byte, NODE_NB, NODE_NA);
    return issue_with(node_key, &p, ca_key, ca_cert);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/cordon-test-crypto-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    if (cordon_key_generate(CORDON_KEY_P256, &ca_key) != CORDON_OK ||
        cordon_key_generate(CORDON_KEY_P256, &node_key) != CORDON_OK ||
        cordon_ca_create(ca_key, OVERLAY, T0 - DAY, T0 + 3650 * DAY, &ca_cert) != CORDON_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    char path[128];
    (void)state;
    for (int i = 0; i < file_seq; i++) {
        static const char *const stems[] = {"key", "rsa",  "p384", "junk",
                                            "enc", "cert", "crl",  "big"};
        for (size_t s = 0; s < sizeof(stems) / sizeof(stems[0]); s++) {
            snprintf(path, sizeof(path), "%s/%s-%d", tmpdir, stems[s], i);
            (void)unlink(path);
        }
    }
    (void)rmdir(tmpdir);
    cordon_cert_free(ca_cert);
    cordon_key_free(ca_key);
    cordon_key_free(node_key);
    return 0;
}

/* ---- bridges to OpenSSL objects (tests only) ------------------------------------------ */

static EVP_PKEY *ossl_key(const cordon_key *k)
{
    cordon_buf pem;
    cordon_buf_init(&pem, 16384, true);
    must(cordon_key_private_pem(k, &pem));
    BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    cordon_buf_free(&pem);
    assert_non_null(pk);
    return pk;
}

static X509 *ossl_cert(const cordon_cert *c)
{
    cordon_buf der;
    cordon_buf_init(&der, BIG, false);
    must(cordon_cert_der(c, &der));
    const unsigned char *p = der.data;
    X509 *x = d2i_X509(NULL, &p, (long)der.len);
    cordon_buf_free(&der);
    assert_non_null(x);
    return x;
}

static cordon_cert *wrap_cert(X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    cordon_cert *c = NULL;
    assert_true(n > 0);
    must(cordon_cert_parse(der, (size_t)n, &c));
    OPENSSL_free(der);
    return c;
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/*
 * A leaf certificate signed by the CA, built by hand. san_conf is an OpenSSL config value
 * ("URI:...,URI:...") or NULL; san is added as it is when not NULL; bc defaults to CA:FALSE.
 */
static cordon_cert *forge_leaf(EVP_PKEY *pub, const char *san_conf, GENERAL_NAMES *san,
                               const char *bc, const cordon_key *cak, const cordon_cert *cac)
{
    EVP_PKEY *ca_pk = ossl_key(cak);
    X509 *ca = ossl_cert(cac);
    X509 *x = X509_new();
    X509V3_CTX ctx;

    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242), 1);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)NODE_NB));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)NODE_NA));
    assert_int_equal(X509_set_pubkey(x, pub), 1);
    X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, MBSTRING_UTF8,
                               (const unsigned char *)"forged", -1, -1, 0);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca)), 1);
    memset(&ctx, 0, sizeof(ctx));
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    add_ext(x, &ctx, NID_basic_constraints, bc != NULL ? bc : "critical,CA:FALSE");
    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    if (san_conf != NULL)
        add_ext(x, &ctx, NID_subject_alt_name, san_conf);
    if (san != NULL)
        assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0, X509V3_ADD_APPEND), 1);
    assert_true(
        X509_sign(x, ca_pk, cordon_key_type_of(cak) == CORDON_KEY_P256 ? EVP_sha256() : NULL) > 0);
    cordon_cert *c = wrap_cert(x);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(ca_pk);
    return c;
}

static void node_uri(char *out, size_t n, const char *overlay, uint8_t id_byte)
{
    uint8_t id[CORDON_NODE_ID_LEN];
    char hex[2 * CORDON_NODE_ID_LEN + 1];
    for (size_t i = 0; i < sizeof(id); i++)
        id[i] = (uint8_t)(id_byte + i);
    cordon_hex_encode(id, sizeof(id), hex);
    snprintf(out, n, "cordon://%s/node/%s", overlay, hex);
}

static void expect_id(const uint8_t *id, uint8_t id_byte)
{
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        assert_int_equal(id[i], (uint8_t)(id_byte + i));
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_traditional(const char *path, EVP_PKEY *pk)
{
    BIO *bio = BIO_new_file(path, "w");
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    BIO_free(bio);
}

/* ---- randomness and hashing ---------------------------------------------------------- */

static void test_random_sha256(void **state)
{
    (void)state;
    uint8_t a[64] = {0}, b[64] = {0}, zero[64] = {0};
    must(cordon_random(a, sizeof(a)));
    must(cordon_random(b, sizeof(b)));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_memory_not_equal(a, b, sizeof(a));
    must(cordon_random(NULL, 0));
    assert_int_equal(cordon_random(NULL, 1), CORDON_ERR_INVAL);

    /* FIPS 180-2 known answers. */
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    static const uint8_t empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                      0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                      0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                      0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    uint8_t out[32];
    cordon_sha256("abc", 3, out);
    assert_memory_equal(out, abc, 32);
    cordon_sha256(NULL, 0, out);
    assert_memory_equal(out, empty, 32);
}

/* ---- keys ---------------------------------------------------------------------------- */

static void key_roundtrip(cordon_key_type type)
{
    char path[128];
    struct stat st;
    cordon_key *k = gen(type), *loaded = NULL;
    cordon_buf a, b;

    assert_int_equal(cordon_key_type_of(k), type);
    tmp_path(path, sizeof(path), "key");
    must(cordon_key_save(k, path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(cordon_key_save(k, path), CORDON_ERR_EXISTS);
    must(cordon_key_load(path, &loaded));
    assert_int_equal(cordon_key_type_of(loaded), type);

    cordon_buf_init(&a, 16384, true);
    cordon_buf_init(&b, 16384, true);
    must(cordon_key_private_pem(k, &a));
    must(cordon_key_private_pem(loaded, &b));
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_int_equal(a.data[a.len], '\0');
    assert_non_null(strstr((const char *)a.data, "-----BEGIN PRIVATE KEY-----"));

    /* The loaded key certifies the same public key. */
    cordon_cert *c = make_ca(k, OVERLAY);
    assert_true(cordon_cert_matches_key(c, loaded));
    cordon_cert_free(c);

    cordon_buf_free(&a);
    cordon_buf_free(&b);
    cordon_key_free(loaded);
    cordon_key_free(k);
}

static void test_key_roundtrip_p256(void **state)
{
    (void)state;
    key_roundtrip(CORDON_KEY_P256);
}

static void test_key_roundtrip_ed25519(void **state)
{
    (void)state;
    key_roundtrip(CORDON_KEY_ED25519);
}

static void test_key_bad_inputs(void **state)
{
    (void)state;
    char path[128];
    cordon_key *k = NULL;
    cordon_buf buf;

    assert_int_equal(cordon_key_generate(CORDON_KEY_NONE, &k), CORDON_ERR_KEY_TYPE);
    assert_int_equal(cordon_key_generate((cordon_key_type)7, &k), CORDON_ERR_KEY_TYPE);
    assert_null(k);
    assert_int_equal(cordon_key_type_of(NULL), CORDON_KEY_NONE);
    cordon_key_free(NULL);

    tmp_path(path, sizeof(path), "key");
    assert_int_equal(cordon_key_load(path, &k), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_key_load(tmpdir, &k), CORDON_ERR_IO); /* a directory */

    /* A private key must never land in a buffer that does not wipe itself. */
    cordon_buf_init(&buf, 16384, false);
    assert_int_equal(cordon_key_private_pem(node_key, &buf), CORDON_ERR_INVAL);
    assert_int_equal(buf.len, 0);
    cordon_buf_free(&buf);

    /* RSA, written with OpenSSL. */
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    assert_non_null(rsa);
    tmp_path(path, sizeof(path), "rsa");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, rsa, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    assert_int_equal(cordon_key_load(path, &k), CORDON_ERR_KEY_TYPE);
    assert_null(k);

    /* The same key encrypted: refused, and never a password prompt. */
    tmp_path(path, sizeof(path), "enc");
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, rsa, EVP_aes_128_cbc(),
                                          (const unsigned char *)"secret", 6, NULL, NULL),
                     1);
    fclose(f);
    assert_int_equal(cordon_key_load(path, &k), CORDON_ERR_MALFORMED);
    EVP_PKEY_free(rsa);

    /* EC, but P-384 (traditional "EC PRIVATE KEY" PEM). */
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    assert_non_null(p384);
    tmp_path(path, sizeof(path), "p384");
    write_traditional(path, p384);
    assert_int_equal(cordon_key_load(path, &k), CORDON_ERR_KEY_TYPE);
    EVP_PKEY_free(p384);

    /* Traditional PEM of a P-256 key is accepted. */
    EVP_PKEY *p256 = EVP_EC_gen("P-256");
    assert_non_null(p256);
    tmp_path(path, sizeof(path), "p384");
    write_traditional(path, p256);
    must(cordon_key_load(path, &k));
    assert_int_equal(cordon_key_type_of(k), CORDON_KEY_P256);
    cordon_key_free(k);
    k = NULL;
    EVP_PKEY_free(p256);

    tmp_path(path, sizeof(path), "junk");
    write_file(path, "not a key\n", 10);
    assert_int_equal(cordon_key_load(path, &k), CORDON_ERR_MALFORMED);
    tmp_path(path, sizeof(path), "junk");
    write_file(path, "", 0);
    assert_int_equal(cordon_key_load(path, &k), CORDON_ERR_MALFORMED);

    /* Bigger than any key file. */
    char *big = malloc(64 * 1024);
    assert_non_null(big);
    memset(big, 'A', 64 * 1024);
    tmp_path(path, sizeof(path), "big");
    write_file(path, big, 64 * 1024);
    assert_int_equal(cordon_key_load(path, &k), CORDON_ERR_TOO_LARGE);
    free(big);
    assert_null(k);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- signatures ---------------------------------------------------------------------- */

/* cordon_verify and the prepared check of the same certificate (cordon_verify_with), which
 * must answer alike: the result of both. */
static cordon_err verify_both(const cordon_cert *c, cordon_verify_ctx *vc, const void *msg,
                              size_t len, const uint8_t *sig, size_t sig_len)
{
    cordon_err a = cordon_verify(c, msg, len, sig, sig_len);
    assert_int_equal(cordon_verify_with(vc, msg, len, sig, sig_len), a);
    return a;
}

static void sign_verify(cordon_key_type type)
{
    cordon_key *k = gen(type);
    cordon_cert *c = make_ca(k, OVERLAY);
    cordon_cert *other = make_ca(node_key, OVERLAY);
    uint8_t msg[100], sig[CORDON_SIG_MAX], big[CORDON_SIG_MAX + 1];
    size_t sig_len = 0;
    cordon_verify_ctx *vc = NULL, *ovc = NULL;
    must(cordon_verify_ctx_new(c, &vc));
    must(cordon_verify_ctx_new(other, &ovc));

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    must(cordon_sign(k, msg, sizeof(msg), sig, &sig_len));
    assert_in_range(sig_len, 8, CORDON_SIG_MAX);
    if (type == CORDON_KEY_ED25519)
        assert_int_equal(sig_len, 64);
    must(verify_both(c, vc, msg, sizeof(msg), sig, sig_len));
    assert_int_equal(verify_both(other, ovc, msg, sizeof(msg), sig, sig_len),
                     CORDON_ERR_BAD_SIGNATURE);

    for (size_t bit = 0; bit < 8 * sizeof(msg); bit += 13) {
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(verify_both(c, vc, msg, sizeof(msg), sig, sig_len),
                         CORDON_ERR_BAD_SIGNATURE);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * sig_len; bit++) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(verify_both(c, vc, msg, sizeof(msg), sig, sig_len),
                         CORDON_ERR_BAD_SIGNATURE);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t n = 0; n < sig_len; n++)
        assert_int_equal(verify_both(c, vc, msg, sizeof(msg), sig, n), CORDON_ERR_BAD_SIGNATURE);
    memcpy(big, sig, sig_len);
    big[sig_len] = 0;
    assert_int_equal(verify_both(c, vc, msg, sizeof(msg), big, sig_len + 1),
                     CORDON_ERR_BAD_SIGNATURE);
    assert_int_equal(verify_both(c, vc, msg, sizeof(msg), NULL, 0), CORDON_ERR_BAD_SIGNATURE);
    must(verify_both(c, vc, msg, sizeof(msg), sig, sig_len));

    /* The empty message is a message too. */
    must(cordon_sign(k, NULL, 0, sig, &sig_len));
    must(verify_both(c, vc, NULL, 0, sig, sig_len));
    must(verify_both(c, vc, "", 0, sig, sig_len));
    assert_int_equal(verify_both(c, vc, "x", 1, sig, sig_len), CORDON_ERR_BAD_SIGNATURE);
    assert_int_equal(cordon_sign(k, NULL, 1, sig, &sig_len), CORDON_ERR_INVAL);
    assert_int_equal(ERR_peek_error(), 0);

    cordon_verify_ctx_free(ovc);
    cordon_verify_ctx_free(vc);
    cordon_cert_free(other);
    cordon_cert_free(c);
    cordon_key_free(k);
}

static void test_sign_verify_p256(void **state)
{
    (void)state;
    sign_verify(CORDON_KEY_P256);
}

static void test_sign_verify_ed25519(void **state)
{
    (void)state;
    sign_verify(CORDON_KEY_ED25519);
}

static void test_verify_rsa_signer(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    assert_non_null(rsa);
    char uri[160];
    node_uri(uri, sizeof(uri), OVERLAY, 1);
    char conf[200];
    snprintf(conf, sizeof(conf), "URI:%s", uri);
    cordon_cert *c = forge_leaf(rsa, conf, NULL, NULL, ca_key, ca_cert);
    uint8_t sig[CORDON_SIG_MAX] = {1};
    assert_int_equal(cordon_verify(c, "m", 1, sig, 64), CORDON_ERR_KEY_TYPE);
    cordon_verify_ctx *vc = (cordon_verify_ctx *)1;
    assert_int_equal(cordon_verify_ctx_new(c, &vc), CORDON_ERR_KEY_TYPE);
    assert_null(vc);
    assert_int_equal(cordon_verify_with(NULL, "m", 1, sig, 64), CORDON_ERR_INVAL);

    /* A CA-signed, well-formed node certificate with an RSA key is still refused. */
    uint8_t id[CORDON_NODE_ID_LEN];
    assert_int_equal(cordon_cert_verify_node(c, ca_cert, NULL, OVERLAY, T0 + 10, id),
                     CORDON_ERR_KEY_TYPE);
    cordon_cert_free(c);
    EVP_PKEY_free(rsa);
}

/* ---- CSRs ---------------------------------------------------------------------------- */

static void csr_der_of(const cordon_key *k, cordon_buf *der)
{
    cordon_csr *csr = NULL;
    must(cordon_csr_create(k, &csr));
    cordon_buf_init(der, CORDON_CSR_MAX + 64, false);
    must(cordon_csr_der(csr, der));
    cordon_csr_free(csr);
}

static void csr_roundtrip(cordon_key_type type)
{
    cordon_key *k = gen(type);
    cordon_csr *csr = NULL, *parsed = NULL, *parsed2 = NULL;
    cordon_buf pem, der, der2;

    must(cordon_csr_create(k, &csr));
    cordon_buf_init(&pem, CORDON_CSR_MAX, false);
    cordon_buf_init(&der, CORDON_CSR_MAX, false);
    cordon_buf_init(&der2, CORDON_CSR_MAX, false);
    must(cordon_csr_pem(csr, &pem));
    assert_int_equal(pem.data[pem.len], '\0');
    assert_non_null(strstr((const char *)pem.data, "-----BEGIN CERTIFICATE REQUEST-----"));
    must(cordon_csr_parse(pem.data, pem.len, &parsed));
    must(cordon_csr_der(csr, &der));
    must(cordon_csr_der(parsed, &der2));
    assert_int_equal(der.len, der2.len);
    assert_memory_equal(der.data, der2.data, der.len);
    must(cordon_csr_parse(der.data, der.len, &parsed2));

    /* The request names nothing but CN=cordon-node. */
    const unsigned char *p = der.data;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)der.len);
    assert_non_null(req);
    char cn[64];
    assert_int_equal(
        X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn)),
        11);
    assert_string_equal(cn, "cordon-node");
    assert_int_equal(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 1);
    X509_REQ_free(req);

    /* A certificate issued from the parsed CSR certifies k. */
    struct cordon_node_cert_params prm;
    fill_params(&prm, OVERLAY, 9, 9, NODE_NB, NODE_NA);
    cordon_cert *c = NULL;
    must(cordon_cert_issue_node(parsed2, &prm, ca_key, ca_cert, &c));
    assert_true(cordon_cert_matches_key(c, k));
    assert_false(cordon_cert_matches_key(c, ca_key));
    cordon_cert_free(c);

    cordon_buf_free(&pem);
    cordon_buf_free(&der);
    cordon_buf_free(&der2);
    cordon_csr_free(parsed2);
    cordon_csr_free(parsed);
    cordon_csr_free(csr);
    cordon_key_free(k);
}

static void test_csr_roundtrip_p256(void **state)
{
    (void)state;
    csr_roundtrip(CORDON_KEY_P256);
}

static void test_csr_roundtrip_ed25519(void **state)
{
    (void)state;
    csr_roundtrip(CORDON_KEY_ED25519);
}

static void test_csr_bad_inputs(void **state)
{
    (void)state;
    cordon_csr *csr = NULL;
    cordon_buf der;

    csr_der_of(node_key, &der);

    /* Signature: the last bytes of the DER are inside the signature BIT STRING. */
    der.data[der.len - 1] ^= 0x01;
    assert_int_equal(cordon_csr_parse(der.data, der.len, &csr), CORDON_ERR_BAD_SIGNATURE);
    der.data[der.len - 1] ^= 0x01;
    must(cordon_csr_parse(der.data, der.len, &csr));
    cordon_csr_free(csr);
    csr = NULL;

    /* Trailing bytes after a complete DER CSR. */
    must(cordon_buf_append(&der, "\0", 1));
    assert_int_equal(cordon_csr_parse(der.data, der.len, &csr), CORDON_ERR_MALFORMED);
    der.len--;

    /* Every prefix fails, and nothing crashes (the sanitizer build watches). */
    for (size_t n = 0; n < der.len; n++) {
        cordon_err err = cordon_csr_parse(der.data, n, &csr);
        assert_int_not_equal(err, CORDON_OK);
        assert_null(csr);
    }
    /* Every single-bit flip: never a crash; the CSR is then either refused or still
     * certifies exactly the same key. */
    for (size_t bit = 0; bit < 8 * der.len; bit++) {
        der.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (cordon_csr_parse(der.data, der.len, &csr) == CORDON_OK) {
            struct cordon_node_cert_params prm;
            cordon_cert *c = NULL;
            fill_params(&prm, OVERLAY, 1, 1, NODE_NB, NODE_NA);
            must(cordon_cert_issue_node(csr, &prm, ca_key, ca_cert, &c));
            assert_true(cordon_cert_matches_key(c, node_key));
            cordon_cert_free(c);
            cordon_csr_free(csr);
            csr = NULL;
        }
        der.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }

    assert_int_equal(cordon_csr_parse("garbage", 7, &csr), CORDON_ERR_MALFORMED);
    assert_int_equal(cordon_csr_parse("-----BEGIN garbage", 18, &csr), CORDON_ERR_MALFORMED);
    assert_int_equal(cordon_csr_parse(NULL, 0, &csr), CORDON_ERR_MALFORMED);
    assert_int_equal(cordon_csr_parse(NULL, 5, &csr), CORDON_ERR_INVAL);

    /* A certificate is not a CSR, in PEM or DER. */
    cordon_buf cert;
    cordon_buf_init(&cert, BIG, false);
    must(cordon_cert_pem(ca_cert, &cert));
    assert_int_equal(cordon_csr_parse(cert.data, cert.len, &csr), CORDON_ERR_MALFORMED);
    cordon_buf_reset(&cert);
    must(cordon_cert_der(ca_cert, &cert));
    assert_int_equal(cordon_csr_parse(cert.data, cert.len, &csr), CORDON_ERR_MALFORMED);
    cordon_buf_free(&cert);

    /* Over the cap: refused before any parsing, even when the start is a valid CSR. */
    uint8_t *big = calloc(1, CORDON_CSR_MAX + 1);
    assert_non_null(big);
    memcpy(big, der.data, der.len);
    assert_int_equal(cordon_csr_parse(big, CORDON_CSR_MAX + 1, &csr), CORDON_ERR_TOO_LARGE);
    free(big);
    assert_null(csr);
    cordon_buf_free(&der);
    assert_int_equal(ERR_peek_error(), 0);
}

/* A CSR built with OpenSSL: the key, and optionally an identity it asks for. */
static void forge_csr(EVP_PKEY *pk, const char *cn, const char *san_conf, cordon_buf *out)
{
    X509_REQ *req = X509_REQ_new();
    assert_non_null(req);
    assert_int_equal(X509_REQ_set_version(req, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName,
                                                MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                                0),
                     1);
    assert_int_equal(X509_REQ_set_pubkey(req, pk), 1);
    if (san_conf != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, san_conf);
        assert_non_null(ext);
        sk_X509_EXTENSION_push(exts, ext);
        X509_EXTENSION *bc =
            X509V3_EXT_nconf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
        assert_non_null(bc);
        sk_X509_EXTENSION_push(exts, bc);
        assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    assert_true(X509_REQ_sign(req, pk, EVP_PKEY_is_a(pk, "ED25519") ? NULL : EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(req, &der);
    assert_true(n > 0);
    cordon_buf_init(out, CORDON_CSR_MAX, false);
    must(cordon_buf_append(out, der, (size_t)n));
    OPENSSL_free(der);
    X509_REQ_free(req);
}

static void test_csr_key_types(void **state)
{
    (void)state;
    cordon_csr *csr = NULL;
    cordon_buf der;

    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    assert_non_null(rsa);
    forge_csr(rsa, "cordon-node", NULL, &der);
    assert_int_equal(cordon_csr_parse(der.data, der.len, &csr), CORDON_ERR_KEY_TYPE);
    cordon_buf_free(&der);
    EVP_PKEY_free(rsa);

    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    assert_non_null(p384);
    forge_csr(p384, "cordon-node", NULL, &der);
    assert_int_equal(cordon_csr_parse(der.data, der.len, &csr), CORDON_ERR_KEY_TYPE);
    cordon_buf_free(&der);
    EVP_PKEY_free(p384);

    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    assert_non_null(x25519);
    /* X25519 cannot sign its own request: build one signed by another key. */
    EVP_PKEY *signer = EVP_EC_gen("P-256");
    X509_REQ *req = X509_REQ_new();
    assert_int_equal(X509_REQ_set_pubkey(req, x25519), 1);
    assert_true(X509_REQ_sign(req, signer, EVP_sha256()) > 0);
    unsigned char *d = NULL;
    int n = i2d_X509_REQ(req, &d);
    assert_true(n > 0);
    assert_int_equal(cordon_csr_parse(d, (size_t)n, &csr), CORDON_ERR_KEY_TYPE);
    OPENSSL_free(d);
    X509_REQ_free(req);
    EVP_PKEY_free(signer);
    EVP_PKEY_free(x25519);
    assert_null(csr);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- certificates: encoding ---------------------------------------------------------- */

static void test_cert_encoding(void **state)
{
    (void)state;
    cordon_cert *leaf = issue(1, 1), *c = NULL;
    cordon_buf pem, der, der2, two;
    char path[128];

    cordon_buf_init(&pem, BIG, false);
    cordon_buf_init(&der, BIG, false);
    cordon_buf_init(&der2, BIG, false);
    must(cordon_cert_pem(leaf, &pem));
    assert_int_equal(pem.data[pem.len], '\0');
    must(cordon_cert_der(leaf, &der));

    must(cordon_cert_parse(pem.data, pem.len, &c));
    must(cordon_cert_der(c, &der2));
    assert_int_equal(der.len, der2.len);
    assert_memory_equal(der.data, der2.data, der.len);
    cordon_cert_free(c);
    c = NULL;

    /* PEM: the first certificate of a chain. */
    cordon_buf_init(&two, BIG, false);
    must(cordon_buf_append(&two, pem.data, pem.len));
    must(cordon_cert_pem(ca_cert, &two));
    must(cordon_cert_parse(two.data, two.len, &c));
    uint8_t id[CORDON_NODE_ID_LEN];
    must(cordon_cert_node_id(c, OVERLAY, id));
    expect_id(id, 1);
    cordon_cert_free(c);
    c = NULL;
    cordon_buf_free(&two);

    /* Fingerprint: SHA-256 of the DER. */
    uint8_t fp[32], want[32];
    unsigned int n = 0;
    must(cordon_cert_fingerprint(leaf, fp));
    assert_int_equal(EVP_Digest(der.data, der.len, want, &n, EVP_sha256(), NULL), 1);
    assert_memory_equal(fp, want, 32);

    /* Files. */
    tmp_path(path, sizeof(path), "cert");
    write_file(path, der.data, der.len);
    must(cordon_cert_load(path, &c));
    assert_true(cordon_cert_matches_key(c, node_key));
    cordon_cert_free(c);
    c = NULL;
    tmp_path(path, sizeof(path), "cert");
    assert_int_equal(cordon_cert_load(path, &c), CORDON_ERR_NOT_FOUND);

    /* Bad input. */
    must(cordon_buf_append(&der, "x", 1));
    assert_int_equal(cordon_cert_parse(der.data, der.len, &c), CORDON_ERR_MALFORMED);
    der.len--;
    for (size_t i = 0; i < der.len; i++)
        assert_int_not_equal(cordon_cert_parse(der.data, i, &c), CORDON_OK);
    for (size_t i = 0; i + 1 < pem.len; i += 7)
        assert_int_not_equal(cordon_cert_parse(pem.data, i, &c), CORDON_OK);
    uint8_t *big = calloc(1, CORDON_CERT_MAX + 1);
    assert_non_null(big);
    memcpy(big, pem.data, pem.len);
    assert_int_equal(cordon_cert_parse(big, CORDON_CERT_MAX + 1, &c), CORDON_ERR_TOO_LARGE);
    tmp_path(path, sizeof(path), "big");
    write_file(path, big, CORDON_CERT_MAX + 1);
    assert_int_equal(cordon_cert_load(path, &c), CORDON_ERR_TOO_LARGE);
    free(big);
    assert_int_equal(cordon_cert_parse("\x30\x00", 2, &c), CORDON_ERR_MALFORMED);
    assert_null(c);

    cordon_buf_free(&pem);
    cordon_buf_free(&der);
    cordon_buf_free(&der2);
    cordon_cert_free(leaf);
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_cert_fields(void **state)
{
    (void)state;
    struct cordon_node_cert_params p;
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t nb, na;

    /* Serial: 16 bytes with the top byte 0x7f, and a short one. */
    fill_params(&p, OVERLAY, 3, 0x77, T0, INT64_C(2524608000) /* 2050, GeneralizedTime */);
    memset(p.serial, 0xa5, sizeof(p.serial));
    p.serial[0] = 0x7f;
    cordon_cert *c = issue_with(node_key, &p, ca_key, ca_cert);
    must(cordon_cert_serial(c, serial));
    assert_memory_equal(serial, p.serial, CORDON_SERIAL_LEN);
    must(cordon_cert_validity(c, &nb, &na));
    assert_int_equal(nb, T0);
    assert_int_equal(na, INT64_C(2524608000));
    cordon_cert_free(c);

    memset(p.serial, 0, sizeof(p.serial));
    p.serial[CORDON_SERIAL_LEN - 1] = 1;
    p.not_after = T0 + 1;
    c = issue_with(node_key, &p, ca_key, ca_cert);
    must(cordon_cert_serial(c, serial));
    assert_memory_equal(serial, p.serial, CORDON_SERIAL_LEN);
    must(cordon_cert_validity(c, &nb, &na));
    assert_int_equal(na, T0 + 1);
    cordon_cert_free(c);

    /* The CA: random positive serial, its own validity, CA:TRUE. */
    must(cordon_cert_serial(ca_cert, serial));
    assert_int_equal(serial[0] & 0x80, 0);
    must(cordon_cert_validity(ca_cert, &nb, &na));
    assert_int_equal(nb, T0 - DAY);
    assert_int_equal(na, T0 + 3650 * DAY);
    X509 *x = ossl_cert(ca_cert);
    assert_int_equal(X509_check_ca(x), 1);
    char cn[80];
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "test overlay CA");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    assert_int_equal(X509_get_extension_flags(x) & EXFLAG_CRITICAL, 0); /* none unknown */
    assert_int_equal(X509_EXTENSION_get_critical(
                         X509_get_ext(x, X509_get_ext_by_NID(x, NID_basic_constraints, -1))),
                     1);
    assert_int_equal(
        X509_EXTENSION_get_critical(X509_get_ext(x, X509_get_ext_by_NID(x, NID_key_usage, -1))), 1);
    assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_int_equal(X509_get_pathlen(x), 0);
    X509_free(x);

    /* A negative serial (forged) does not come out as bytes. */
    EVP_PKEY *ca_pk = ossl_key(ca_key);
    x = ossl_cert(ca_cert);
    ASN1_INTEGER_set(X509_get_serialNumber(x), -5);
    assert_true(X509_sign(x, ca_pk, EVP_sha256()) > 0);
    c = wrap_cert(x);
    assert_int_equal(cordon_cert_serial(c, serial), CORDON_ERR_MALFORMED);
    cordon_cert_free(c);
    /* Nor one of 17 bytes. */
    BIGNUM *bn = BN_new();
    assert_int_equal(BN_set_bit(bn, 130), 1);
    assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    assert_true(X509_sign(x, ca_pk, EVP_sha256()) > 0);
    c = wrap_cert(x);
    assert_int_equal(cordon_cert_serial(c, serial), CORDON_ERR_MALFORMED);
    cordon_cert_free(c);
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(ca_pk);

    /* A long overlay name still gives a CA (the CN is cut to what X.520 allows). */
    char name[CORDON_OVERLAY_NAME_MAX + 1];
    memset(name, 'a', CORDON_OVERLAY_NAME_MAX);
    name[CORDON_OVERLAY_NAME_MAX] = '\0';
    cordon_cert *longca = make_ca(ca_key, name);
    fill_params(&p, name, 4, 4, NODE_NB, NODE_NA);
    c = issue_with(node_key, &p, ca_key, longca);
    uint8_t id[CORDON_NODE_ID_LEN];
    must(cordon_cert_verify_node(c, longca, NULL, name, T0 + 1, id));
    expect_id(id, 4);
    cordon_cert_free(c);
    cordon_cert_free(longca);
}

static void test_issue_params(void **state)
{
    (void)state;
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;
    cordon_cert *c = NULL;
    must(cordon_csr_create(node_key, &csr));

#define EXPECT_INVAL()                                                                             \
    do {                                                                                           \
        assert_int_equal(cordon_cert_issue_node(csr, &p, ca_key, ca_cert, &c), CORDON_ERR_INVAL);  \
        assert_null(c);                                                                            \
    } while (0)

    fill_params(&p, OVERLAY, 1, 1, NODE_NB, NODE_NB);
    EXPECT_INVAL();
    fill_params(&p, OVERLAY, 1, 1, NODE_NB, NODE_NB - 1);
    EXPECT_INVAL();
    fill_params(&p, OVERLAY, 1, 1, -5, NODE_NA);
    EXPECT_INVAL();
    fill_params(&p, OVERLAY, 1, 1, NODE_NB, INT64_C(253402300800));
    EXPECT_INVAL();
    fill_params(&p, OVERLAY, 1, 1, NODE_NB, NODE_NA);
    p.serial[0] = 0x80;
    EXPECT_INVAL();
    memset(p.serial, 0, sizeof(p.serial));
    EXPECT_INVAL();
    static const char *const bad_names[] = {
        "",
        "Test",
        "te st",
        "t_e",
        "tést",
        "x/node",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        fill_params(&p, bad_names[i], 1, 1, NODE_NB, NODE_NA);
        EXPECT_INVAL();
    }
    fill_params(&p, NULL, 1, 1, NODE_NB, NODE_NA);
    EXPECT_INVAL();
    /* A CA key that is not the CA certificate's. */
    fill_params(&p, OVERLAY, 1, 1, NODE_NB, NODE_NA);
    assert_int_equal(cordon_cert_issue_node(csr, &p, node_key, ca_cert, &c), CORDON_ERR_INVAL);
    /* A leaf is no CA, even with its own key. */
    cordon_cert *leaf = issue(1, 1);
    assert_int_equal(cordon_cert_issue_node(csr, &p, node_key, leaf, &c), CORDON_ERR_INVAL);
    cordon_cert_free(leaf);
    assert_int_equal(cordon_ca_create(ca_key, "Bad", T0, T0 + 1, &c), CORDON_ERR_INVAL);
    assert_int_equal(cordon_ca_create(ca_key, OVERLAY, T0, T0, &c), CORDON_ERR_INVAL);
    assert_null(c);
#undef EXPECT_INVAL
    cordon_csr_free(csr);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- node certificates ---------------------------------------------------------------- */

static void test_node_issue_verify(void **state)
{
    (void)state;
    cordon_cert *leaf = issue(0x40, 2);
    uint8_t id[CORDON_NODE_ID_LEN];
    char uri[160];

    must(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, T0 + 3600, id));
    expect_id(id, 0x40);
    must(cordon_cert_node_id(leaf, OVERLAY, id));
    expect_id(id, 0x40);
    assert_true(cordon_cert_matches_key(leaf, node_key));
    assert_false(cordon_cert_matches_key(leaf, ca_key));
    assert_false(cordon_cert_matches_key(ca_cert, node_key));

    /* What OpenSSL sees: the SAN URI, the CN, the extensions. */
    X509 *x = ossl_cert(leaf);
    node_uri(uri, sizeof(uri), OVERLAY, 0x40);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
    GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, 0);
    assert_int_equal(g->type, GEN_URI);
    assert_int_equal(ASN1_STRING_length(g->d.uniformResourceIdentifier), (int)strlen(uri));
    assert_memory_equal(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), uri, strlen(uri));
    GENERAL_NAMES_free(gens);
    char cn[80];
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, strrchr(uri, '/') + 1);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_non_null(X509_get0_authority_key_id(x));
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    X509_free(x);

    /* Wrong CA: another CA of the same overlay name, and another overlay's CA. */
    cordon_key *k2 = gen(CORDON_KEY_P256);
    cordon_cert *ca2 = make_ca(k2, OVERLAY);
    assert_int_equal(cordon_cert_verify_node(leaf, ca2, NULL, OVERLAY, T0 + 3600, id),
                     CORDON_ERR_CERT_UNTRUSTED);
    cordon_cert *ca3 = make_ca(k2, "other");
    assert_int_equal(cordon_cert_verify_node(leaf, ca3, NULL, OVERLAY, T0 + 3600, id),
                     CORDON_ERR_CERT_UNTRUSTED);

    /* The CA itself is not a node. */
    assert_int_equal(cordon_cert_verify_node(ca_cert, ca_cert, NULL, OVERLAY, T0 + 3600, id),
                     CORDON_ERR_CERT_UNTRUSTED);

    /* Time. Valid for not_before <= now < not_after. */
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, NODE_NA + 1, id),
                     CORDON_ERR_CERT_EXPIRED);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, NODE_NA, id),
                     CORDON_ERR_CERT_EXPIRED);
    must(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, NODE_NA - 1, id));
    must(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, NODE_NB, id));
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, NODE_NB - 1, id),
                     CORDON_ERR_CERT_NOT_YET_VALID);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, T0 - 30 * DAY, id),
                     CORDON_ERR_CERT_NOT_YET_VALID);

    /* Another overlay's node ID, or a name that only starts like ours. */
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, NULL, "tes", T0 + 1, id),
                     CORDON_ERR_CERT_NODE_ID);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, NULL, "test2", T0 + 1, id),
                     CORDON_ERR_CERT_NODE_ID);
    assert_int_equal(cordon_cert_node_id(leaf, "other", id), CORDON_ERR_CERT_NODE_ID);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, NULL, "Bad!", T0 + 1, id),
                     CORDON_ERR_INVAL);
    struct cordon_node_cert_params p;
    fill_params(&p, "other", 0x41, 3, NODE_NB, NODE_NA);
    cordon_cert *other = issue_with(node_key, &p, ca_key, ca_cert);
    assert_int_equal(cordon_cert_verify_node(other, ca_cert, NULL, OVERLAY, T0 + 1, id),
                     CORDON_ERR_CERT_NODE_ID);
    must(cordon_cert_verify_node(other, ca_cert, NULL, "other", T0 + 1, id));
    expect_id(id, 0x41);

    /* Mixed key types: Ed25519 CA issuing P-256 and Ed25519 nodes, and the reverse. */
    cordon_key *edca_key = gen(CORDON_KEY_ED25519);
    cordon_key *ednode = gen(CORDON_KEY_ED25519);
    cordon_cert *edca = make_ca(edca_key, OVERLAY);
    fill_params(&p, OVERLAY, 0x50, 4, NODE_NB, NODE_NA);
    cordon_cert *a = issue_with(node_key, &p, edca_key, edca);
    cordon_cert *b = issue_with(ednode, &p, edca_key, edca);
    cordon_cert *d = issue_with(ednode, &p, ca_key, ca_cert);
    must(cordon_cert_verify_node(a, edca, NULL, OVERLAY, T0 + 1, id));
    must(cordon_cert_verify_node(b, edca, NULL, OVERLAY, T0 + 1, id));
    must(cordon_cert_verify_node(d, ca_cert, NULL, OVERLAY, T0 + 1, id));
    expect_id(id, 0x50);
    assert_int_equal(cordon_cert_verify_node(d, edca, NULL, OVERLAY, T0 + 1, id),
                     CORDON_ERR_CERT_UNTRUSTED);

    cordon_cert_free(a);
    cordon_cert_free(b);
    cordon_cert_free(d);
    cordon_cert_free(edca);
    cordon_key_free(ednode);
    cordon_key_free(edca_key);
    cordon_cert_free(other);
    cordon_cert_free(ca3);
    cordon_cert_free(ca2);
    cordon_key_free(k2);
    cordon_cert_free(leaf);
    assert_int_equal(ERR_peek_error(), 0);
}

static void expect_node_id_refused(const char *san_conf, GENERAL_NAMES *san)
{
    EVP_PKEY *pub = ossl_key(node_key);
    cordon_cert *c = forge_leaf(pub, san_conf, san, NULL, ca_key, ca_cert);
    uint8_t id[CORDON_NODE_ID_LEN];
    memset(id, 0xee, sizeof(id));
    assert_int_equal(cordon_cert_verify_node(c, ca_cert, NULL, OVERLAY, T0 + 1, id),
                     CORDON_ERR_CERT_NODE_ID);
    assert_int_equal(cordon_cert_node_id(c, OVERLAY, id), CORDON_ERR_CERT_NODE_ID);
    for (size_t i = 0; i < sizeof(id); i++)
        assert_int_equal(id[i], 0xee);
    cordon_cert_free(c);
    EVP_PKEY_free(pub);
}

static void test_node_id_forged(void **state)
{
    (void)state;
    char u1[160], u2[160], conf[512];
    uint8_t id[CORDON_NODE_ID_LEN];
    node_uri(u1, sizeof(u1), OVERLAY, 1);
    node_uri(u2, sizeof(u2), OVERLAY, 2);

    /* The forging helper itself makes acceptable certificates. */
    snprintf(conf, sizeof(conf), "URI:%s,DNS:node.example", u1);
    EVP_PKEY *pub = ossl_key(node_key);
    cordon_cert *ok = forge_leaf(pub, conf, NULL, NULL, ca_key, ca_cert);
    must(cordon_cert_verify_node(ok, ca_cert, NULL, OVERLAY, T0 + 1, id));
    expect_id(id, 1);
    cordon_cert_free(ok);

    /* A CA:TRUE leaf (even one without keyCertSign) is not a node. */
    snprintf(conf, sizeof(conf), "URI:%s", u1);
    cordon_cert *caleaf = forge_leaf(pub, conf, NULL, "critical,CA:TRUE", ca_key, ca_cert);
    assert_int_equal(cordon_cert_verify_node(caleaf, ca_cert, NULL, OVERLAY, T0 + 1, id),
                     CORDON_ERR_CERT_UNTRUSTED);
    cordon_cert_free(caleaf);
    EVP_PKEY_free(pub);

    expect_node_id_refused(NULL, NULL);                       /* no SAN at all */
    expect_node_id_refused("DNS:node.example", NULL);         /* no URI */
    expect_node_id_refused("URI:https://example.org/", NULL); /* no cordon URI */
    snprintf(conf, sizeof(conf), "URI:%s,URI:%s", u1, u2);    /* two node IDs */
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:%s,URI:%s", u1, u1); /* the same one twice */
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:%s,URI:cordon://other/node/00", u1);
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:%s,URI:CORDON://test/x", u1); /* scheme in any case */
    expect_node_id_refused(conf, NULL);
    node_uri(u2, sizeof(u2), "other", 1);
    snprintf(conf, sizeof(conf), "URI:%s", u2);
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:%s0", u1); /* 65 digits */
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:%.*s", (int)strlen(u1) - 1, u1); /* 63 */
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:%s", u1);
    for (char *c = conf + strlen("URI:cordon://test/node/"); *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A'); /* upper-case hex */
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:cordon://test/node/%064d", 0);
    conf[strlen(conf) - 1] = 'g';
    expect_node_id_refused(conf, NULL);
    snprintf(conf, sizeof(conf), "URI:cordon://test/nodes/%s", strrchr(u1, '/') + 1);
    expect_node_id_refused(conf, NULL);

    /* A NUL inside the URI: a C-string compare would stop early and accept it. */
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    char withnul[200];
    size_t n = strlen(u1);
    memcpy(withnul, u1, n);
    withnul[n] = '\0';
    memcpy(withnul + n + 1, "evil", 4);
    assert_int_equal(ASN1_STRING_set(s, withnul, (int)(n + 5)), 1);
    GENERAL_NAME_set0_value(g, GEN_URI, s);
    sk_GENERAL_NAME_push(gens, g);
    expect_node_id_refused(NULL, gens);
    /* ... and a NUL inside the hex digits. */
    ASN1_STRING_set(s, u1, (int)n);
    ((unsigned char *)ASN1_STRING_get0_data(s))[n - 3] = '\0';
    expect_node_id_refused(NULL, gens);
    GENERAL_NAMES_free(gens);
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_csr_identity_ignored(void **state)
{
    (void)state;
    /* The request asks for a chosen node ID, a subject and CA:TRUE. */
    char chosen[160], conf[200];
    node_uri(chosen, sizeof(chosen), OVERLAY, 0xc0);
    snprintf(conf, sizeof(conf), "URI:%s", chosen);
    EVP_PKEY *pk = ossl_key(node_key);
    cordon_buf der;
    forge_csr(pk, "I am the CA", conf, &der);
    EVP_PKEY_free(pk);

    cordon_csr *csr = NULL;
    must(cordon_csr_parse(der.data, der.len, &csr));
    cordon_buf_free(&der);
    struct cordon_node_cert_params p;
    fill_params(&p, OVERLAY, 0x10, 7, NODE_NB, NODE_NA);
    cordon_cert *c = NULL;
    must(cordon_cert_issue_node(csr, &p, ca_key, ca_cert, &c));

    uint8_t id[CORDON_NODE_ID_LEN];
    must(cordon_cert_verify_node(c, ca_cert, NULL, OVERLAY, T0 + 1, id));
    expect_id(id, 0x10);

    /* Nothing of the request but the key made it into the certificate. */
    cordon_buf_init(&der, BIG, false);
    must(cordon_cert_der(c, &der));
    const char *hex = strrchr(chosen, '/') + 1;
    assert_null(memmem(der.data, der.len, hex, strlen(hex)));
    assert_null(memmem(der.data, der.len, "I am the CA", 11));
    cordon_buf_free(&der);
    X509 *x = ossl_cert(c);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_get_ext_count(x), 6);
    X509_free(x);
    cordon_cert_free(c);
    cordon_csr_free(csr);
}

/* ---- server certificate --------------------------------------------------------------- */

static void test_server_cert(void **state)
{
    (void)state;
    static const char *const names[] = {"enroll.example.org", "192.0.2.7", "2001:db8::7",
                                        "localhost"};
    uint8_t serial[CORDON_SERIAL_LEN] = {0x01, 0x02};
    cordon_key *k = gen(CORDON_KEY_P256);
    cordon_cert *c = NULL;

    must(cordon_cert_issue_server(k, names, 4, serial, T0, T0 + 90 * DAY, ca_key, ca_cert, &c));
    assert_true(cordon_cert_matches_key(c, k));
    X509 *x = ossl_cert(c);
    X509 *ca = ossl_cert(ca_cert);
    assert_int_equal(X509_check_host(x, "enroll.example.org", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "other.example.org", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "2001:db8::7", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "192.0.2.8", 0), 0);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
    assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    assert_int_equal(X509_check_ca(x), 0);
    /* The IP addresses are iPAddress names, not DNS names. */
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 0)->type, GEN_DNS);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->type, GEN_IPADD);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 2)->type, GEN_IPADD);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 3)->type, GEN_DNS);
    GENERAL_NAMES_free(gens);

    /* It chains to the CA for a TLS server at a time inside its validity. */
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX_init(sctx, store, x, NULL);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(sctx), (time_t)(T0 + DAY));
    X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(sctx), "enroll.example.org", 0);
    assert_int_equal(X509_verify_cert(sctx), 1);
    X509_STORE_CTX_free(sctx);
    X509_STORE_free(store);

    /* Not a node certificate. */
    uint8_t id[CORDON_NODE_ID_LEN];
    assert_int_not_equal(cordon_cert_verify_node(c, ca_cert, NULL, OVERLAY, T0 + 1, id), CORDON_OK);
    X509_free(ca);
    X509_free(x);
    cordon_cert_free(c);
    c = NULL;

    static const char *const bad[] = {"bad name", "a..b", ".a", "a.", "x,y", "a=b", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *one[1] = {bad[i]};
        assert_int_equal(
            cordon_cert_issue_server(k, one, 1, serial, T0, T0 + DAY, ca_key, ca_cert, &c),
            CORDON_ERR_INVAL);
    }
    assert_int_equal(
        cordon_cert_issue_server(k, names, 0, serial, T0, T0 + DAY, ca_key, ca_cert, &c),
        CORDON_ERR_INVAL);
    assert_int_equal(cordon_cert_issue_server(k, names, CORDON_SERVER_NAMES_MAX + 1, serial, T0,
                                              T0 + DAY, ca_key, ca_cert, &c),
                     CORDON_ERR_INVAL);
    serial[0] = 0x80;
    assert_int_equal(
        cordon_cert_issue_server(k, names, 1, serial, T0, T0 + DAY, ca_key, ca_cert, &c),
        CORDON_ERR_INVAL);
    assert_null(c);
    cordon_key_free(k);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- CRLs ----------------------------------------------------------------------------- */

static void serial_of(uint8_t out[CORDON_SERIAL_LEN], uint8_t last)
{
    memset(out, 0, CORDON_SERIAL_LEN);
    out[0] = 0x12;
    out[CORDON_SERIAL_LEN - 1] = last;
}

static cordon_crl *make_crl(const cordon_key *k, const cordon_cert *ca, uint64_t number,
                            const uint8_t *lasts, size_t n, int64_t this_update,
                            int64_t next_update)
{
    struct cordon_revoked r[8];
    cordon_crl *crl = NULL;
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        serial_of(r[i].serial, lasts[i]);
        r[i].revoked_at = this_update - 60;
    }
    must(cordon_crl_create(k, ca, number, this_update, next_update, r, n, &crl));
    return crl;
}

static void test_crl_roundtrip(void **state)
{
    (void)state;
    static const uint8_t revoked[] = {9, 3, 200};
    cordon_crl *crl = make_crl(ca_key, ca_cert, 7, revoked, 3, T0, T0 + DAY);
    cordon_crl *pem_crl = NULL, *der_crl = NULL, *file_crl = NULL;
    cordon_buf pem, der;
    uint8_t serial[CORDON_SERIAL_LEN];
    uint64_t number = 0;
    char path[128];

    cordon_buf_init(&pem, CORDON_CRL_MAX, false);
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    must(cordon_crl_pem(crl, &pem));
    assert_int_equal(pem.data[pem.len], '\0');
    must(cordon_crl_der(crl, &der));
    must(cordon_crl_parse(pem.data, pem.len, &pem_crl));
    must(cordon_crl_parse(der.data, der.len, &der_crl));
    tmp_path(path, sizeof(path), "crl");
    write_file(path, pem.data, pem.len);
    must(cordon_crl_load(path, &file_crl));

    cordon_crl *all[] = {crl, pem_crl, der_crl, file_crl};
    for (size_t i = 0; i < 4; i++) {
        must(cordon_crl_verify(all[i], ca_cert, T0));
        must(cordon_crl_verify(all[i], ca_cert, T0 + DAY - 1));
        assert_int_equal(cordon_crl_verify(all[i], ca_cert, T0 + DAY), CORDON_ERR_CRL);
        assert_int_equal(cordon_crl_verify(all[i], ca_cert, T0 - 1), CORDON_ERR_CRL);
        must(cordon_crl_number(all[i], &number));
        assert_int_equal(number, 7);
        for (unsigned s = 0; s < 256; s++) {
            serial_of(serial, (uint8_t)s);
            bool want = s == 9 || s == 3 || s == 200;
            assert_int_equal(cordon_crl_lists(all[i], serial), want);
        }
        serial_of(serial, 9);
        serial[0] = 0x13;
        assert_false(cordon_crl_lists(all[i], serial));
    }

    /* Another CA's key, or its certificate, does not verify it. */
    cordon_key *k2 = gen(CORDON_KEY_P256);
    cordon_cert *ca2 = make_ca(k2, OVERLAY);
    assert_int_equal(cordon_crl_verify(crl, ca2, T0 + 1), CORDON_ERR_CRL);

    /* Tampering (a sampled bit-flip sweep). */
    for (size_t bit = 0; bit < 8 * der.len; bit += 3) {
        cordon_crl *t = NULL;
        der.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        /* OpenSSL may accept a non-canonical variant of the same bytes; whatever still
         * verifies must say exactly what the CA signed. */
        if (cordon_crl_parse(der.data, der.len, &t) == CORDON_OK) {
            if (cordon_crl_verify(t, ca_cert, T0 + 1) == CORDON_OK) {
                must(cordon_crl_number(t, &number));
                assert_int_equal(number, 7);
                for (unsigned s = 0; s < 256; s++) {
                    serial_of(serial, (uint8_t)s);
                    assert_int_equal(cordon_crl_lists(t, serial), s == 9 || s == 3 || s == 200);
                }
            }
            cordon_crl_free(t);
        }
        der.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* The signature's last byte, specifically. */
    der.data[der.len - 1] ^= 0x40;
    cordon_crl *t = NULL;
    must(cordon_crl_parse(der.data, der.len, &t));
    assert_int_equal(cordon_crl_verify(t, ca_cert, T0 + 1), CORDON_ERR_CRL);
    cordon_crl_free(t);
    t = NULL;
    der.data[der.len - 1] ^= 0x40;

    /* Parser limits. */
    for (size_t i = 0; i < der.len; i++)
        assert_int_not_equal(cordon_crl_parse(der.data, i, &t), CORDON_OK);
    must(cordon_buf_append(&der, "\0", 1));
    assert_int_equal(cordon_crl_parse(der.data, der.len, &t), CORDON_ERR_MALFORMED);
    assert_int_equal(cordon_crl_parse("junk", 4, &t), CORDON_ERR_MALFORMED);
    uint8_t *big = calloc(1, CORDON_CRL_MAX + 1);
    assert_non_null(big);
    assert_int_equal(cordon_crl_parse(big, CORDON_CRL_MAX + 1, &t), CORDON_ERR_TOO_LARGE);
    free(big);
    assert_null(t);

    /* An empty CRL, a big CRL number. */
    cordon_crl *empty = make_crl(ca_key, ca_cert, UINT64_MAX, NULL, 0, T0, T0 + DAY);
    must(cordon_crl_number(empty, &number));
    assert_int_equal(number, UINT64_MAX);
    must(cordon_crl_verify(empty, ca_cert, T0 + 5));
    serial_of(serial, 9);
    assert_false(cordon_crl_lists(empty, serial));
    cordon_crl_free(empty);

    /* Bad arguments. */
    assert_int_equal(cordon_crl_create(ca_key, ca_cert, 1, T0, T0, NULL, 0, &t), CORDON_ERR_INVAL);
    assert_int_equal(cordon_crl_create(k2, ca_cert, 1, T0, T0 + 1, NULL, 0, &t), CORDON_ERR_INVAL);
    assert_int_equal(cordon_crl_create(ca_key, ca_cert, 1, T0, T0 + 1, NULL, 1, &t),
                     CORDON_ERR_INVAL);
    struct cordon_revoked r = {.revoked_at = 0};
    assert_int_equal(
        cordon_crl_create(ca_key, ca_cert, 1, T0, T0 + 1, &r, CORDON_CRL_ENTRIES_MAX + 1, &t),
        CORDON_ERR_TOO_LARGE);
    assert_null(t);

    cordon_cert_free(ca2);
    cordon_key_free(k2);
    cordon_buf_free(&pem);
    cordon_buf_free(&der);
    cordon_crl_free(file_crl);
    cordon_crl_free(der_crl);
    cordon_crl_free(pem_crl);
    cordon_crl_free(crl);
    assert_int_equal(ERR_peek_error(), 0);
}

/* The CRL cap of limits.h bounds what crl_create makes: a CRL is never made that the
 * parser would refuse, in DER or in PEM. */
static void test_crl_size_cap(void **state)
{
    (void)state;
    const size_t fits = 20000, too_many = 25000;
    struct cordon_revoked *r = calloc(too_many, sizeof(*r));
    cordon_crl *crl = NULL, *back = NULL;
    cordon_buf pem;

    assert_non_null(r);
    for (size_t i = 0; i < too_many; i++) {
        memset(r[i].serial, 0x5a, CORDON_SERIAL_LEN);
        r[i].serial[CORDON_SERIAL_LEN - 2] = (uint8_t)(i >> 8);
        r[i].serial[CORDON_SERIAL_LEN - 1] = (uint8_t)i;
        r[i].serial[CORDON_SERIAL_LEN - 3] = (uint8_t)(i >> 16);
        r[i].revoked_at = T0;
    }
    must(cordon_crl_create(ca_key, ca_cert, 1, T0, T0 + DAY, r, fits, &crl));
    cordon_buf_init(&pem, CORDON_CRL_MAX, false);
    must(cordon_crl_pem(crl, &pem));
    must(cordon_crl_parse(pem.data, pem.len, &back));
    must(cordon_crl_verify(back, ca_cert, T0));
    assert_true(cordon_crl_lists(back, r[fits - 1].serial));
    assert_false(cordon_crl_lists(back, r[fits].serial));
    cordon_buf_free(&pem);
    cordon_crl_free(back);
    cordon_crl_free(crl);
    crl = NULL;
    assert_int_equal(cordon_crl_create(ca_key, ca_cert, 1, T0, T0 + DAY, r, too_many, &crl),
                     CORDON_ERR_TOO_LARGE);
    assert_null(crl);
    free(r);
}

static void test_crl_without_number(void **state)
{
    (void)state;
    EVP_PKEY *pk = ossl_key(ca_key);
    X509 *ca = ossl_cert(ca_cert);
    X509_CRL *x = X509_CRL_new();
    X509_CRL_set_version(x, X509_CRL_VERSION_2);
    X509_CRL_set_issuer_name(x, X509_get_subject_name(ca));
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)T0);
    X509_CRL_set1_lastUpdate(x, t);
    ASN1_TIME_set(t, (time_t)(T0 + DAY));
    X509_CRL_set1_nextUpdate(x, t);
    assert_true(X509_CRL_sign(x, pk, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(x, &der);
    cordon_crl *crl = NULL;
    must(cordon_crl_parse(der, (size_t)n, &crl));
    uint64_t number;
    assert_int_equal(cordon_crl_number(crl, &number), CORDON_ERR_CRL);
    must(cordon_crl_verify(crl, ca_cert, T0 + 1));
    cordon_crl_free(crl);
    OPENSSL_free(der);

    /* Without nextUpdate it never goes stale, so it is refused. */
    X509_CRL_free(x);
    x = X509_CRL_new();
    X509_CRL_set_version(x, X509_CRL_VERSION_2);
    X509_CRL_set_issuer_name(x, X509_get_subject_name(ca));
    ASN1_TIME_set(t, (time_t)T0);
    X509_CRL_set1_lastUpdate(x, t);
    assert_true(X509_CRL_sign(x, pk, EVP_sha256()) > 0);
    der = NULL;
    n = i2d_X509_CRL(x, &der);
    must(cordon_crl_parse(der, (size_t)n, &crl));
    assert_int_equal(cordon_crl_verify(crl, ca_cert, T0 + 1), CORDON_ERR_CRL);
    cordon_crl_free(crl);
    OPENSSL_free(der);

    ASN1_TIME_free(t);
    X509_CRL_free(x);
    X509_free(ca);
    EVP_PKEY_free(pk);
}

static void test_verify_with_crl(void **state)
{
    (void)state;
    cordon_cert *leaf = issue(0x60, 0x21);
    uint8_t id[CORDON_NODE_ID_LEN];
    static const uint8_t others[] = {1, 2, 3};
    static const uint8_t with_leaf[] = {1, 0x21, 3};

    cordon_crl *clean = make_crl(ca_key, ca_cert, 1, others, 3, T0, T0 + DAY);
    must(cordon_cert_verify_node(leaf, ca_cert, clean, OVERLAY, T0 + 60, id));
    expect_id(id, 0x60);
    /* At exactly lastUpdate, too (OpenSSL and cordon_crl_verify agree). */
    must(cordon_cert_verify_node(leaf, ca_cert, clean, OVERLAY, T0, id));

    cordon_crl *revoking = make_crl(ca_key, ca_cert, 2, with_leaf, 3, T0, T0 + DAY);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, revoking, OVERLAY, T0 + 60, id),
                     CORDON_ERR_CERT_REVOKED);
    /* Revocation also trumps expiry being far off, and holds through a PEM round trip. */
    cordon_buf pem;
    cordon_buf_init(&pem, CORDON_CRL_MAX, false);
    must(cordon_crl_pem(revoking, &pem));
    cordon_crl *parsed = NULL;
    must(cordon_crl_parse(pem.data, pem.len, &parsed));
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, parsed, OVERLAY, T0 + 60, id),
                     CORDON_ERR_CERT_REVOKED);
    cordon_buf_free(&pem);

    /* A CRL by another CA (same overlay name, so the same issuer name). */
    cordon_key *k2 = gen(CORDON_KEY_P256);
    cordon_cert *ca2 = make_ca(k2, OVERLAY);
    cordon_crl *foreign = make_crl(k2, ca2, 1, others, 3, T0, T0 + DAY);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, foreign, OVERLAY, T0 + 60, id),
                     CORDON_ERR_CRL);

    /* Stale, and not yet valid. */
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, clean, OVERLAY, T0 + DAY, id),
                     CORDON_ERR_CRL);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, clean, OVERLAY, T0 + 2 * DAY, id),
                     CORDON_ERR_CRL);
    assert_int_equal(cordon_cert_verify_node(leaf, ca_cert, clean, OVERLAY, T0 - 1, id),
                     CORDON_ERR_CRL);

    /* A bad CRL is reported as such even for an untrusted leaf. */
    cordon_cert *foreign_leaf = NULL;
    struct cordon_node_cert_params p;
    fill_params(&p, OVERLAY, 0x61, 0x22, NODE_NB, NODE_NA);
    foreign_leaf = issue_with(node_key, &p, k2, ca2);
    assert_int_equal(cordon_cert_verify_node(foreign_leaf, ca_cert, foreign, OVERLAY, T0 + 60, id),
                     CORDON_ERR_CRL);
    assert_int_equal(cordon_cert_verify_node(foreign_leaf, ca_cert, clean, OVERLAY, T0 + 60, id),
                     CORDON_ERR_CERT_UNTRUSTED);

    cordon_cert_free(foreign_leaf);
    cordon_crl_free(foreign);
    cordon_cert_free(ca2);
    cordon_key_free(k2);
    cordon_crl_free(parsed);
    cordon_crl_free(revoking);
    cordon_crl_free(clean);
    cordon_cert_free(leaf);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- OpenSSL error queue ----------------------------------------------------------- */

static void test_error_queue(void **state)
{
    (void)state;
    cordon_csr *csr = NULL;
    cordon_cert *c = NULL;

    ERR_clear_error();
    assert_int_equal(cordon_csr_parse("garbage!", 8, &csr), CORDON_ERR_MALFORMED);
    assert_int_equal(cordon_cert_parse("-----BEGIN CERTIFICATE-----\nAAAA", 32, &c),
                     CORDON_ERR_MALFORMED);
    assert_int_equal(ERR_peek_error(), 0);

    /* An error the caller had queued survives our calls, failed or not. */
    ERR_raise(ERR_LIB_USER, 42);
    assert_int_equal(cordon_csr_parse("garbage!", 8, &csr), CORDON_ERR_MALFORMED);
    uint8_t id[CORDON_NODE_ID_LEN];
    assert_int_equal(cordon_cert_verify_node(ca_cert, ca_cert, NULL, OVERLAY, T0, id),
                     CORDON_ERR_CERT_UNTRUSTED);
    cordon_cert *leaf = issue(1, 1);
    must(cordon_cert_verify_node(leaf, ca_cert, NULL, OVERLAY, T0 + 1, id));
    cordon_cert_free(leaf);
    unsigned long e = ERR_get_error();
    assert_int_equal(ERR_GET_LIB(e), ERR_LIB_USER);
    assert_int_equal(ERR_GET_REASON(e), 42);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- base64 ---------------------------------------------------------------------------- */

static void test_base64(void **state)
{
    (void)state;
    static const char *const vectors[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    cordon_buf b;

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const char *raw = vectors[i][0], *text = vectors[i][1];
        cordon_buf_init(&b, 64, false);
        must(cordon_base64_encode(raw, strlen(raw), &b));
        assert_int_equal(b.len, strlen(text));
        if (b.len)
            assert_memory_equal(b.data, text, b.len);
        assert_int_equal(b.data[b.len], '\0');
        cordon_buf_free(&b);
        cordon_buf_init(&b, 64, false);
        must(cordon_base64_decode(text, strlen(text), &b));
        assert_int_equal(b.len, strlen(raw));
        if (b.len)
            assert_memory_equal(b.data, raw, b.len);
        cordon_buf_free(&b);
    }

    /* Bytes of every value, across several internal chunks. */
    uint8_t raw[5000];
    for (size_t n = 0; n < 40; n++) {
        size_t len = n < 20 ? n : 700 + 97 * n;
        must(cordon_random(raw, len));
        cordon_buf enc, dec;
        cordon_buf_init(&enc, 16384, false);
        cordon_buf_init(&dec, 16384, false);
        must(cordon_base64_encode(raw, len, &enc));
        assert_int_equal(enc.len, (len + 2) / 3 * 4);
        must(cordon_base64_decode((const char *)enc.data, enc.len, &dec));
        assert_int_equal(dec.len, len);
        if (len)
            assert_memory_equal(dec.data, raw, len);
        cordon_buf_free(&enc);
        cordon_buf_free(&dec);
    }

    static const char *const bad[] = {
        "Zg=",  "Zg",    "Z",        "Zg=a",        "Z===",       "====", "Zh==",
        "Zm9=", " Zg==", "Zg== ",    "Zg==\n",      "Zm9v\nYg==", "Zm-v", "Zm_v",
        "=Zm9", "Zm=v",  "Zg==Zg==", "Zm9vYg=\x01", "Zm9\x80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cordon_buf_init(&b, 64, false);
        assert_int_equal(cordon_base64_decode(bad[i], strlen(bad[i]), &b), CORDON_ERR_MALFORMED);
        assert_int_equal(b.len, 0);
        cordon_buf_free(&b);
    }
    /* A NUL inside the stated length is a bad character, not an end. */
    cordon_buf_init(&b, 64, false);
    assert_int_equal(cordon_base64_decode("Zm9v\0AAA", 8, &b), CORDON_ERR_MALFORMED);
    /* Only the stated length is read: no NUL needed after it. */
    must(cordon_base64_decode("Zm9vYmFyXXXX", 8, &b));
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "foobar", 6);
    cordon_buf_free(&b);

    /* The output cap holds. */
    cordon_buf_init(&b, 4, false);
    assert_int_equal(cordon_base64_encode("foob", 4, &b), CORDON_ERR_TOO_LARGE);
    cordon_buf_free(&b);
    cordon_buf_init(&b, 5, false);
    assert_int_equal(cordon_base64_decode("Zm9vYmFy", 8, &b), CORDON_ERR_TOO_LARGE);
    cordon_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_sha256),         cmocka_unit_test(test_key_roundtrip_p256),
        cmocka_unit_test(test_key_roundtrip_ed25519), cmocka_unit_test(test_key_bad_inputs),
        cmocka_unit_test(test_sign_verify_p256),      cmocka_unit_test(test_sign_verify_ed25519),
        cmocka_unit_test(test_verify_rsa_signer),     cmocka_unit_test(test_csr_roundtrip_p256),
        cmocka_unit_test(test_csr_roundtrip_ed25519), cmocka_unit_test(test_csr_bad_inputs),
        cmocka_unit_test(test_csr_key_types),         cmocka_unit_test(test_cert_encoding),
        cmocka_unit_test(test_cert_fields),           cmocka_unit_test(test_issue_params),
        cmocka_unit_test(test_node_issue_verify),     cmocka_unit_test(test_node_id_forged),
        cmocka_unit_test(test_csr_identity_ignored),  cmocka_unit_test(test_server_cert),
        cmocka_unit_test(test_crl_roundtrip),         cmocka_unit_test(test_crl_size_cap),
        cmocka_unit_test(test_crl_without_number),    cmocka_unit_test(test_verify_with_crl),
        cmocka_unit_test(test_error_queue),           cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
