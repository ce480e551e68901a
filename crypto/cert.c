/* crypto/cert.c — certificates: parsing, issuing, node-ID binding and verification; and the
 * framing, time and serial helpers the other files of the module share. See crypto.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/hex.h"
#include "crypto/crypto.h"
#include "common/file.h"
#include "crypto/internal.h"

/* ---- helpers shared through internal.h ----------------------------------------------- */

bool cordon_crypto_is_pem(const void *data, size_t len)
{
    static const char tag[] = "-----BEGIN";
    return data != NULL && len >= sizeof(tag) - 1 && memcmp(data, tag, sizeof(tag) - 1) == 0;
}

cordon_err cordon_crypto_frame(const void *data, size_t len, const char *pem_name,
                               unsigned char **alloc, const unsigned char **der, long *der_len)
{
    cordon_err err = CORDON_OK;
    unsigned char *block = NULL;
    long block_len = 0;
    BIO *bio = NULL;

    *alloc = NULL;
    *der = NULL;
    *der_len = 0;
    if (data == NULL || len == 0)
        return CORDON_ERR_MALFORMED;
    /* The callers' caps are far below this; it keeps the casts below honest. */
    if (len > INT_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (!cordon_crypto_is_pem(data, len)) {
        *der = data;
        *der_len = (long)len;
        return CORDON_OK;
    }
    bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (PEM_bytes_read_bio(&block, &block_len, NULL, pem_name, bio, cordon_crypto_no_password,
                           NULL) != 1 ||
        block_len <= 0) {
        err = CORDON_ERR_MALFORMED;
        goto out;
    }
    *alloc = block;
    *der = block;
    *der_len = block_len;
    block = NULL;
out:
    OPENSSL_free(block);
    BIO_free(bio);
    return err;
}

cordon_err cordon_crypto_bio_to_buf(BIO *bio, cordon_buf *out)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);

    if (n <= 0 || p == NULL)
        return CORDON_ERR_CRYPTO;
    return cordon_buf_append(out, p, (size_t)n);
}

cordon_err cordon_crypto_pem(const char *name, const cordon_buf *der, cordon_buf *out)
{
    cordon_err err = CORDON_OK;
    BIO *bio = NULL;

    if (der->len == 0 || der->len > INT_MAX)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (PEM_write_bio(bio, name, "", der->data, (long)der->len) <= 0) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    err = cordon_crypto_bio_to_buf(bio, out);
    if (err == CORDON_OK)
        err = cordon_buf_terminate(out);
out:
    BIO_free(bio);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_crypto_der_to_buf(unsigned char *p, int n, cordon_buf *out)
{
    cordon_err err = CORDON_ERR_CRYPTO;

    if (p != NULL && n > 0)
        err = cordon_buf_append(out, p, (size_t)n);
    OPENSSL_free(p);
    return err;
}

cordon_err cordon_crypto_time_new(int64_t secs, ASN1_TIME **out)
{
    *out = NULL;
    if (secs < 0 || secs > CORDON_TIME_MAX || (int64_t)(time_t)secs != secs)
        return CORDON_ERR_INVAL;
    *out = ASN1_TIME_set(NULL, (time_t)secs);
    return *out != NULL ? CORDON_OK : CORDON_ERR_NOMEM;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil);
 * exact for every year an ASN1_TIME can hold, with no time zone or time_t in the way. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

cordon_err cordon_crypto_time_get(const ASN1_TIME *t, int64_t *secs)
{
    struct tm tm;

    /* ASN1_TIME_to_tm() reads the clock when given NULL: never let it. */
    if (t == NULL)
        return CORDON_ERR_MALFORMED;
    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return CORDON_ERR_MALFORMED;
    *secs = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400 +
            (int64_t)tm.tm_hour * 3600 + (int64_t)tm.tm_min * 60 + tm.tm_sec;
    return CORDON_OK;
}

cordon_err cordon_crypto_serial_to_asn1(const uint8_t serial[CORDON_SERIAL_LEN], ASN1_INTEGER **out)
{
    BIGNUM *bn = BN_bin2bn(serial, CORDON_SERIAL_LEN, NULL);

    *out = NULL;
    if (bn == NULL)
        return CORDON_ERR_NOMEM;
    *out = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    return *out != NULL ? CORDON_OK : CORDON_ERR_NOMEM;
}

cordon_err cordon_crypto_serial_from_asn1(const ASN1_INTEGER *ai, uint8_t serial[CORDON_SERIAL_LEN])
{
    const unsigned char *p;
    int n;

    if (ai == NULL || ASN1_STRING_type(ai) != V_ASN1_INTEGER)
        return CORDON_ERR_MALFORMED; /* V_ASN1_NEG_INTEGER lands here too */
    p = ASN1_STRING_get0_data(ai);
    n = ASN1_STRING_length(ai);
    while (n > 0 && *p == 0) {
        p++;
        n--;
    }
    if (n < 0 || n > CORDON_SERIAL_LEN)
        return CORDON_ERR_MALFORMED;
    memset(serial, 0, CORDON_SERIAL_LEN);
    if (n > 0)
        memcpy(serial + CORDON_SERIAL_LEN - n, p, (size_t)n);
    return CORDON_OK;
}

bool cordon_crypto_overlay_ok(const char *overlay)
{
    size_t n;

    if (overlay == NULL)
        return false;
    n = strnlen(overlay, CORDON_OVERLAY_NAME_MAX + 1);
    if (n == 0 || n > CORDON_OVERLAY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = overlay[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

cordon_err cordon_crypto_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    cordon_err err = CORDON_OK;
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);

    if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
        err = CORDON_ERR_CRYPTO;
    X509_EXTENSION_free(ext);
    return err;
}

/* ---- parsing and encoding ------------------------------------------------------------ */

static cordon_err cert_wrap(X509 *x, cordon_cert **out)
{
    cordon_cert *cert = calloc(1, sizeof(*cert));
    if (cert == NULL)
        return CORDON_ERR_NOMEM;
    cert->x509 = x;
    *out = cert;
    return CORDON_OK;
}

cordon_err cordon_cert_parse(const void *data, size_t len, cordon_cert **out)
{
    cordon_err err = CORDON_OK;
    unsigned char *alloc = NULL;
    const unsigned char *der = NULL;
    const unsigned char *p;
    long der_len = 0;
    X509 *x = NULL;

    if (out == NULL || (data == NULL && len != 0))
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (len > CORDON_CERT_MAX)
        return CORDON_ERR_TOO_LARGE;
    ERR_set_mark();
    err = cordon_crypto_frame(data, len, PEM_STRING_X509, &alloc, &der, &der_len);
    if (err != CORDON_OK)
        goto out;
    p = der;
    x = d2i_X509(NULL, &p, der_len);
    if (x == NULL || p != der + der_len) {
        err = CORDON_ERR_MALFORMED;
        goto out;
    }
    err = cert_wrap(x, out);
    if (err != CORDON_OK)
        goto out;
    x = NULL;
out:
    X509_free(x);
    OPENSSL_free(alloc);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_cert_load(const char *path, cordon_cert **out)
{
    cordon_err err;
    cordon_buf file;

    if (path == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    cordon_buf_init(&file, CORDON_CERT_MAX, false);
    err = cordon_read_file(path, CORDON_CERT_MAX, &file);
    if (err == CORDON_OK)
        err = cordon_cert_parse(file.data, file.len, out);
    cordon_buf_free(&file);
    return err;
}

cordon_err cordon_cert_pem(const cordon_cert *cert, cordon_buf *out)
{
    cordon_buf der;
    if (cert == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    cordon_err err = cordon_cert_der(cert, &der);
    if (err == CORDON_OK)
        err = cordon_crypto_pem(PEM_STRING_X509, &der, out);
    cordon_buf_free(&der);
    return err;
}

cordon_err cordon_cert_pem_from_der(const uint8_t *der, size_t len, cordon_buf *out)
{
    if (der == NULL || out == NULL || len < 2 || der[0] != 0x30 || len > CORDON_CERT_MAX)
        return CORDON_ERR_MALFORMED;
    cordon_buf view = {.data = (uint8_t *)der, .len = len};
    return cordon_crypto_pem(PEM_STRING_X509, &view, out);
}

cordon_err cordon_cert_der(const cordon_cert *cert, cordon_buf *out)
{
    cordon_err err;
    unsigned char *p = NULL;
    int n;

    if (cert == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    n = i2d_X509(cert->x509, &p);
    err = cordon_crypto_der_to_buf(p, n, out);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_cert_fingerprint(const cordon_cert *cert, uint8_t out[32])
{
    cordon_err err = CORDON_OK;
    unsigned char *p = NULL;
    int n;

    if (cert == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    n = i2d_X509(cert->x509, &p);
    if (p == NULL || n <= 0) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    cordon_sha256(p, (size_t)n, out);
out:
    OPENSSL_free(p);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_cert_serial(const cordon_cert *cert, uint8_t out[CORDON_SERIAL_LEN])
{
    if (cert == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    return cordon_crypto_serial_from_asn1(X509_get0_serialNumber(cert->x509), out);
}

cordon_err cordon_cert_validity(const cordon_cert *cert, int64_t *not_before, int64_t *not_after)
{
    cordon_err err;
    int64_t nb, na;

    if (cert == NULL || not_before == NULL || not_after == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    err = cordon_crypto_time_get(X509_get0_notBefore(cert->x509), &nb);
    if (err == CORDON_OK)
        err = cordon_crypto_time_get(X509_get0_notAfter(cert->x509), &na);
    if (err == CORDON_OK) {
        *not_before = nb;
        *not_after = na;
    }
    ERR_pop_to_mark();
    return err;
}

/* ---- node IDs ------------------------------------------------------------------------ */

#define NODE_URI_SCHEME "cordon://"
#define NODE_URI_PATH "/node/"
#define NODE_URI_PREFIX_MAX                                                                        \
    (sizeof(NODE_URI_SCHEME) - 1 + CORDON_OVERLAY_NAME_MAX + sizeof(NODE_URI_PATH) - 1)

/* true when the n bytes at p start with the scheme, in any case: a "CORDON://" URI must
 * count as a second node ID, not slip past as something else. */
static bool has_node_scheme(const unsigned char *p, int n)
{
    static const char scheme[] = NODE_URI_SCHEME;
    const size_t len = sizeof(scheme) - 1;

    if (p == NULL || n < 0 || (size_t)n < len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)scheme[i])
            return false;
    }
    return true;
}

static bool lower_hex(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* The node ID of x for overlay. Caller brackets the OpenSSL error queue. */
static cordon_err node_id_of(X509 *x, const char *overlay, uint8_t out[CORDON_NODE_ID_LEN])
{
    cordon_err err = CORDON_ERR_CERT_NODE_ID;
    GENERAL_NAMES *gens = NULL;
    const unsigned char *uri = NULL;
    int uri_len = 0;
    int count = 0;
    char prefix[NODE_URI_PREFIX_MAX + 1];
    size_t prefix_len;
    int crit = 0;

    prefix_len =
        (size_t)snprintf(prefix, sizeof(prefix), "%s%s%s", NODE_URI_SCHEME, overlay, NODE_URI_PATH);
    if (prefix_len >= sizeof(prefix))
        return CORDON_ERR_INVAL; /* cannot happen for a checked overlay name */
    /* NULL when absent, and also when the extension appears twice (crit == -2). */
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL)
        goto out;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
        if (gen == NULL || gen->type != GEN_URI)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(gen->d.uniformResourceIdentifier);
        int n = ASN1_STRING_length(gen->d.uniformResourceIdentifier);
        if (!has_node_scheme(p, n))
            continue;
        if (++count > 1)
            goto out;
        uri = p;
        uri_len = n;
    }
    if (count != 1)
        goto out;
    /* Bytes, not C strings: the URI may hold NULs and has no terminator. */
    if ((size_t)uri_len != prefix_len + 2 * CORDON_NODE_ID_LEN ||
        memcmp(uri, prefix, prefix_len) != 0 ||
        !lower_hex(uri + prefix_len, 2 * CORDON_NODE_ID_LEN))
        goto out;
    if (cordon_hex_decode((const char *)uri + prefix_len, 2 * CORDON_NODE_ID_LEN, out,
                          CORDON_NODE_ID_LEN) != CORDON_OK)
        goto out;
    err = CORDON_OK;
out:
    GENERAL_NAMES_free(gens);
    return err;
}

cordon_err cordon_cert_node_id(const cordon_cert *cert, const char *overlay,
                               uint8_t out[CORDON_NODE_ID_LEN])
{
    cordon_err err;

    if (cert == NULL || out == NULL || !cordon_crypto_overlay_ok(overlay))
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    err = node_id_of(cert->x509, overlay, out);
    ERR_pop_to_mark();
    return err;
}

bool cordon_cert_matches_key(const cordon_cert *cert, const cordon_key *key)
{
    bool ok;

    if (cert == NULL || key == NULL)
        return false;
    ERR_set_mark();
    const EVP_PKEY *pub = X509_get0_pubkey(cert->x509);
    ok = pub != NULL && EVP_PKEY_eq(pub, key->pkey) == 1;
    ERR_pop_to_mark();
    return ok;
}

void cordon_cert_free(cordon_cert *cert)
{
    if (cert == NULL)
        return;
    X509_free(cert->x509);
    free(cert);
}

/* ---- issuing ------------------------------------------------------------------------- */

static bool serial_ok(const uint8_t serial[CORDON_SERIAL_LEN])
{
    uint8_t any = 0;

    if (serial[0] & 0x80)
        return false;
    for (size_t i = 0; i < CORDON_SERIAL_LEN; i++)
        any |= serial[i];
    return any != 0;
}

/* A fresh v3 certificate with serial, validity, subject key and issuer name set. */
static cordon_err cert_start(const uint8_t serial[CORDON_SERIAL_LEN], int64_t not_before,
                             int64_t not_after, EVP_PKEY *pub, X509 **out)
{
    cordon_err err = CORDON_OK;
    ASN1_INTEGER *ai = NULL;
    ASN1_TIME *nb = NULL;
    ASN1_TIME *na = NULL;
    X509 *x = NULL;

    *out = NULL;
    if (not_after <= not_before || !serial_ok(serial))
        return CORDON_ERR_INVAL;
    err = cordon_crypto_time_new(not_before, &nb);
    if (err != CORDON_OK)
        goto out;
    err = cordon_crypto_time_new(not_after, &na);
    if (err != CORDON_OK)
        goto out;
    err = cordon_crypto_serial_to_asn1(serial, &ai);
    if (err != CORDON_OK)
        goto out;
    x = X509_new();
    if (x == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_serialNumber(x, ai) != 1 ||
        X509_set1_notBefore(x, nb) != 1 || X509_set1_notAfter(x, na) != 1 ||
        X509_set_pubkey(x, pub) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    ASN1_INTEGER_free(ai);
    ASN1_TIME_free(nb);
    ASN1_TIME_free(na);
    return err;
}

static cordon_err name_add(X509_NAME *name, int nid, const char *value)
{
    if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (const unsigned char *)value, -1, -1,
                                   0) != 1)
        return CORDON_ERR_CRYPTO;
    return CORDON_OK;
}

/* Pushes one name of type (GEN_URI, GEN_DNS, GEN_IPADD) onto gens; takes value. */
static cordon_err san_push(GENERAL_NAMES *gens, int type, ASN1_STRING *value)
{
    GENERAL_NAME *gen = GENERAL_NAME_new();

    if (gen == NULL) {
        ASN1_STRING_free(value);
        return CORDON_ERR_NOMEM;
    }
    GENERAL_NAME_set0_value(gen, type, value);
    if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
        GENERAL_NAME_free(gen);
        return CORDON_ERR_NOMEM;
    }
    return CORDON_OK;
}

static cordon_err san_push_ia5(GENERAL_NAMES *gens, int type, const char *s, size_t n)
{
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

    if (ia5 == NULL)
        return CORDON_ERR_NOMEM;
    if (n > INT_MAX || ASN1_STRING_set(ia5, s, (int)n) != 1) {
        ASN1_IA5STRING_free(ia5);
        return CORDON_ERR_NOMEM;
    }
    return san_push(gens, type, ia5);
}

/* Extensions every end-entity certificate here carries, then the signature. */
static cordon_err finish_leaf(X509 *x, X509 *ca, const char *eku, GENERAL_NAMES *san,
                              const cordon_key *ca_key)
{
    X509V3_CTX ctx;
    cordon_err err;

    memset(&ctx, 0, sizeof(ctx));
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    if ((err = cordon_crypto_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")) ||
        (err = cordon_crypto_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature")) ||
        (err = cordon_crypto_add_ext(x, &ctx, NID_ext_key_usage, eku)) ||
        (err = cordon_crypto_add_ext(x, &ctx, NID_subject_key_identifier, "hash")) ||
        (err = cordon_crypto_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")))
        return err;
    /* Built directly rather than from a config string: the values are data. */
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0, X509V3_ADD_APPEND) != 1)
        return CORDON_ERR_CRYPTO;
    if (X509_sign(x, ca_key->pkey, cordon_crypto_sign_md(ca_key->type)) <= 0)
        return CORDON_ERR_CRYPTO;
    return CORDON_OK;
}

cordon_err cordon_ca_create(const cordon_key *ca_key, const char *overlay, int64_t not_before,
                            int64_t not_after, cordon_cert **out)
{
    cordon_err err = CORDON_OK;
    uint8_t serial[CORDON_SERIAL_LEN];
    char cn[64 + 1];
    X509_NAME *name = NULL;
    X509V3_CTX ctx;
    X509 *x = NULL;

    if (ca_key == NULL || out == NULL || !cordon_crypto_overlay_ok(overlay))
        return CORDON_ERR_INVAL;
    *out = NULL;
    ERR_set_mark();
    /* 127 random bits, positive, and not zero (RFC 5280 4.1.2.2). */
    do {
        err = cordon_random(serial, sizeof(serial));
        if (err != CORDON_OK)
            goto out;
        serial[0] &= 0x7f;
    } while (!serial_ok(serial));
    err = cert_start(serial, not_before, not_after, ca_key->pkey, &x);
    if (err != CORDON_OK)
        goto out;
    /* X.520 allows 64 characters in a CN; a 63-character overlay name plus " overlay CA"
     * would not fit, so such a CA is named by the overlay alone. */
    if ((size_t)snprintf(cn, sizeof(cn), "%s overlay CA", overlay) >= sizeof(cn))
        (void)snprintf(cn, sizeof(cn), "%s", overlay);
    name = X509_NAME_new();
    if (name == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if ((err = name_add(name, NID_commonName, cn)) != CORDON_OK)
        goto out;
    if (X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    memset(&ctx, 0, sizeof(ctx));
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if ((err =
             cordon_crypto_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) ||
        (err = cordon_crypto_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) ||
        (err = cordon_crypto_add_ext(x, &ctx, NID_subject_key_identifier, "hash")))
        goto out;
    if (X509_sign(x, ca_key->pkey, cordon_crypto_sign_md(ca_key->type)) <= 0) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    err = cert_wrap(x, out);
    if (err != CORDON_OK)
        goto out;
    x = NULL;
out:
    X509_NAME_free(name);
    X509_free(x);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_cert_issue_node(const cordon_csr *csr, const struct cordon_node_cert_params *p,
                                  const cordon_key *ca_key, const cordon_cert *ca_cert,
                                  cordon_cert **out)
{
    cordon_err err = CORDON_OK;
    char hex[2 * CORDON_NODE_ID_LEN + 1];
    char uri[NODE_URI_PREFIX_MAX + 2 * CORDON_NODE_ID_LEN + 1];
    size_t uri_len;
    GENERAL_NAMES *san = NULL;
    cordon_key_type type;
    EVP_PKEY *pub;
    X509 *x = NULL;

    if (csr == NULL || p == NULL || ca_key == NULL || ca_cert == NULL || out == NULL ||
        !cordon_crypto_overlay_ok(p->overlay))
        return CORDON_ERR_INVAL;
    *out = NULL;
    ERR_set_mark();
    err = cordon_crypto_check_ca_pair(ca_key, ca_cert);
    if (err != CORDON_OK)
        goto out;
    /* Only the key is taken from the request; it was checked when parsed, and is checked
     * again here because a handle may also come from cordon_csr_create(). */
    pub = X509_REQ_get0_pubkey(csr->req);
    err = cordon_crypto_pkey_type(pub, &type);
    if (err != CORDON_OK)
        goto out;
    err = cert_start(p->serial, p->not_before, p->not_after, pub, &x);
    if (err != CORDON_OK)
        goto out;
    cordon_hex_encode(p->node_id, CORDON_NODE_ID_LEN, hex);
    uri_len = (size_t)snprintf(uri, sizeof(uri), "%s%s%s%s", NODE_URI_SCHEME, p->overlay,
                               NODE_URI_PATH, hex);
    if (uri_len >= sizeof(uri)) {
        err = CORDON_ERR_INVAL;
        goto out;
    }
    X509_NAME *subject = X509_get_subject_name(x);
    if ((err = name_add(subject, NID_commonName, hex)) != CORDON_OK ||
        (err = name_add(subject, NID_organizationName, p->overlay)) != CORDON_OK)
        goto out;
    if (X509_set_issuer_name(x, X509_get_subject_name(ca_cert->x509)) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    san = GENERAL_NAMES_new();
    if (san == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    err = san_push_ia5(san, GEN_URI, uri, uri_len);
    if (err != CORDON_OK)
        goto out;
    err = finish_leaf(x, ca_cert->x509, "serverAuth,clientAuth", san, ca_key);
    if (err != CORDON_OK)
        goto out;
    err = cert_wrap(x, out);
    if (err != CORDON_OK)
        goto out;
    x = NULL;
out:
    GENERAL_NAMES_free(san);
    X509_free(x);
    ERR_pop_to_mark();
    return err;
}

/* Host names as they go into a certificate: LDH labels separated by dots, with an optional
 * leading "*." wildcard label. */
static bool dns_name_ok(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0 || n > CORDON_SERVER_NAME_MAX)
        return false;
    if (n > 2 && s[0] == '*' && s[1] == '.')
        i = 2;
    for (size_t label = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
        if (++label > 63)
            return false;
    }
    return s[n - 1] != '.';
}

cordon_err cordon_cert_issue_server(const cordon_key *key, const char *const *names, size_t n_names,
                                    const uint8_t serial[CORDON_SERIAL_LEN], int64_t not_before,
                                    int64_t not_after, const cordon_key *ca_key,
                                    const cordon_cert *ca_cert, cordon_cert **out)
{
    cordon_err err = CORDON_OK;
    GENERAL_NAMES *san = NULL;
    X509 *x = NULL;
    const char *cn = "cordon enrollment server";

    if (key == NULL || names == NULL || serial == NULL || ca_key == NULL || ca_cert == NULL ||
        out == NULL || n_names == 0 || n_names > CORDON_SERVER_NAMES_MAX)
        return CORDON_ERR_INVAL;
    *out = NULL;
    ERR_set_mark();
    err = cordon_crypto_check_ca_pair(ca_key, ca_cert);
    if (err != CORDON_OK)
        goto out;
    err = cert_start(serial, not_before, not_after, key->pkey, &x);
    if (err != CORDON_OK)
        goto out;
    san = GENERAL_NAMES_new();
    if (san == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_names; i++) {
        const char *name = names[i];
        if (name == NULL) {
            err = CORDON_ERR_INVAL;
            goto out;
        }
        size_t n = strnlen(name, CORDON_SERVER_NAME_MAX + 1);
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
        if (ip != NULL) {
            err = san_push(san, GEN_IPADD, ip);
        } else if (dns_name_ok(name, n)) {
            err = san_push_ia5(san, GEN_DNS, name, n);
        } else {
            err = CORDON_ERR_INVAL;
        }
        if (err != CORDON_OK)
            goto out;
    }
    /* Clients match the SANs; the CN is for people reading the certificate, and X.520
     * caps it at 64 characters. */
    if (strnlen(names[0], 65) <= 64)
        cn = names[0];
    if ((err = name_add(X509_get_subject_name(x), NID_commonName, cn)) != CORDON_OK)
        goto out;
    if (X509_set_issuer_name(x, X509_get_subject_name(ca_cert->x509)) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    err = finish_leaf(x, ca_cert->x509, "serverAuth", san, ca_key);
    if (err != CORDON_OK)
        goto out;
    err = cert_wrap(x, out);
    if (err != CORDON_OK)
        goto out;
    x = NULL;
out:
    GENERAL_NAMES_free(san);
    X509_free(x);
    ERR_pop_to_mark();
    return err;
}

/* ---- verification -------------------------------------------------------------------- */

static cordon_err map_verify_error(int code)
{
    switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return CORDON_ERR_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return CORDON_ERR_CERT_NOT_YET_VALID;
    case X509_V_ERR_CERT_REVOKED:
        return CORDON_ERR_CERT_REVOKED;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
        return CORDON_ERR_CRL;
    default:
        return CORDON_ERR_CERT_UNTRUSTED;
    }
}

cordon_err cordon_cert_verify_node(const cordon_cert *leaf, const cordon_cert *ca,
                                   const cordon_crl *crl, const char *overlay, int64_t now,
                                   uint8_t node_id[CORDON_NODE_ID_LEN])
{
    cordon_err err = CORDON_OK;
    X509_STORE *store = NULL;
    X509_STORE_CTX *sctx = NULL;
    X509_VERIFY_PARAM *param;
    uint8_t id[CORDON_NODE_ID_LEN];
    cordon_key_type type;
    unsigned long flags = X509_V_FLAG_X509_STRICT;

    if (leaf == NULL || ca == NULL || node_id == NULL || !cordon_crypto_overlay_ok(overlay) ||
        (int64_t)(time_t)now != now)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    if (crl != NULL) {
        /* On its own first, so that a bad CRL is reported as such whatever the leaf. */
        if (cordon_crl_verify(crl, ca, now) != CORDON_OK) {
            err = CORDON_ERR_CRL;
            goto out;
        }
        flags |= X509_V_FLAG_CRL_CHECK;
    }
    /* A CA certificate (ours or any other) is never a node. X509_check_ca() alone would
     * miss CA:TRUE without keyCertSign, hence the flag too. */
    if ((X509_get_extension_flags(leaf->x509) & EXFLAG_CA) != 0 || X509_check_ca(leaf->x509) != 0) {
        err = CORDON_ERR_CERT_UNTRUSTED;
        goto out;
    }
    store = X509_STORE_new();
    sctx = X509_STORE_CTX_new();
    if (store == NULL || sctx == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    /* The overlay CA is the only trust anchor; nothing from the default paths. */
    if (X509_STORE_add_cert(store, ca->x509) != 1 ||
        (crl != NULL && X509_STORE_add_crl(store, crl->crl) != 1) ||
        X509_STORE_CTX_init(sctx, store, leaf->x509, NULL) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    param = X509_STORE_CTX_get0_param(sctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)now);
    X509_VERIFY_PARAM_set_depth(param, 0); /* leaf directly under the CA */
    if (X509_VERIFY_PARAM_set_flags(param, flags) != 1 ||
        X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    if (X509_verify_cert(sctx) != 1) {
        err = map_verify_error(X509_STORE_CTX_get_error(sctx));
        goto out;
    }
    /* Every link is mutually authenticated: the same certificate also serves. */
    if (X509_check_purpose(leaf->x509, X509_PURPOSE_SSL_SERVER, 0) != 1) {
        err = CORDON_ERR_CERT_UNTRUSTED;
        goto out;
    }
    err = node_id_of(leaf->x509, overlay, id);
    if (err != CORDON_OK)
        goto out;
    err = cordon_crypto_pkey_type(X509_get0_pubkey(leaf->x509), &type);
    if (err != CORDON_OK)
        goto out;
    memcpy(node_id, id, sizeof(id));
out:
    X509_STORE_CTX_free(sctx);
    X509_STORE_free(store);
    ERR_pop_to_mark();
    return err;
}

cordon_key_type cordon_cert_key_type(const cordon_cert *cert)
{
    cordon_key_type type = CORDON_KEY_NONE;
    if (cert == NULL)
        return CORDON_KEY_NONE;
    ERR_set_mark();
    if (cordon_crypto_pkey_type(X509_get0_pubkey(cert->x509), &type) != CORDON_OK)
        type = CORDON_KEY_NONE;
    ERR_pop_to_mark();
    return type;
}
