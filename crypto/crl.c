/* crypto/crl.c — certificate revocation lists. See crypto.h. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "common/file.h"
#include "crypto/internal.h"

static cordon_err crl_wrap(X509_CRL *x, cordon_crl **out)
{
    cordon_crl *crl = calloc(1, sizeof(*crl));
    if (crl == NULL)
        return CORDON_ERR_NOMEM;
    crl->crl = x;
    *out = crl;
    return CORDON_OK;
}

/* An upper bound on the PEM encoding of n DER bytes: base64, a newline per 64 characters,
 * and the BEGIN/END lines. */
static size_t pem_size_bound(size_t n)
{
    size_t b64 = (n + 2) / 3 * 4;
    return b64 + b64 / 64 + 1 + 2 * sizeof("-----BEGIN X509 CRL-----\n");
}

static cordon_err add_revoked(X509_CRL *x, const struct cordon_revoked *r)
{
    cordon_err err = CORDON_OK;
    X509_REVOKED *rev = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *at = NULL;

    err = cordon_crypto_serial_to_asn1(r->serial, &serial);
    if (err != CORDON_OK)
        goto out;
    err = cordon_crypto_time_new(r->revoked_at, &at);
    if (err != CORDON_OK)
        goto out;
    rev = X509_REVOKED_new();
    if (rev == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
        X509_REVOKED_set_revocationDate(rev, at) != 1 || X509_CRL_add0_revoked(x, rev) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    rev = NULL; /* the CRL owns it now */
out:
    X509_REVOKED_free(rev);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(at);
    return err;
}

cordon_err cordon_crl_create(const cordon_key *ca_key, const cordon_cert *ca_cert, uint64_t number,
                             int64_t this_update, int64_t next_update,
                             const struct cordon_revoked *revoked, size_t n, cordon_crl **out)
{
    cordon_err err = CORDON_OK;
    X509_CRL *x = NULL;
    ASN1_TIME *last = NULL;
    ASN1_TIME *next = NULL;
    ASN1_INTEGER *num = NULL;
    X509_EXTENSION *aki = NULL;
    X509V3_CTX ctx;

    if (ca_key == NULL || ca_cert == NULL || out == NULL || (revoked == NULL && n != 0) ||
        next_update <= this_update)
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (n > CORDON_CRL_ENTRIES_MAX)
        return CORDON_ERR_TOO_LARGE;
    ERR_set_mark();
    err = cordon_crypto_check_ca_pair(ca_key, ca_cert);
    if (err != CORDON_OK)
        goto out;
    if ((err = cordon_crypto_time_new(this_update, &last)) != CORDON_OK ||
        (err = cordon_crypto_time_new(next_update, &next)) != CORDON_OK)
        goto out;
    x = X509_CRL_new();
    num = ASN1_INTEGER_new();
    if (x == NULL || num == NULL) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (X509_CRL_set_version(x, X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(x, X509_get_subject_name(ca_cert->x509)) != 1 ||
        X509_CRL_set1_lastUpdate(x, last) != 1 || X509_CRL_set1_nextUpdate(x, next) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        err = add_revoked(x, &revoked[i]);
        if (err != CORDON_OK)
            goto out;
    }
    /* DER wants the entries in a fixed order; sorted also makes lookups a binary search. */
    if (X509_CRL_sort(x) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    memset(&ctx, 0, sizeof(ctx));
    X509V3_set_ctx(&ctx, ca_cert->x509, NULL, NULL, x, 0);
    aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    if (ASN1_INTEGER_set_uint64(num, number) != 1 ||
        X509_CRL_add1_ext_i2d(x, NID_crl_number, num, 0, X509V3_ADD_APPEND) != 1 || aki == NULL ||
        X509_CRL_add_ext(x, aki, -1) != 1) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    if (X509_CRL_sign(x, ca_key->pkey, cordon_crypto_sign_md(ca_key->type)) <= 0) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    /* Never publish a CRL that peers would refuse to parse, in either encoding. */
    int der_len = i2d_X509_CRL(x, NULL);
    if (der_len <= 0) {
        err = CORDON_ERR_CRYPTO;
        goto out;
    }
    if (pem_size_bound((size_t)der_len) > CORDON_CRL_MAX) {
        err = CORDON_ERR_TOO_LARGE;
        goto out;
    }
    err = crl_wrap(x, out);
    if (err != CORDON_OK)
        goto out;
    x = NULL;
out:
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    X509_CRL_free(x);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_crl_parse(const void *data, size_t len, cordon_crl **out)
{
    cordon_err err = CORDON_OK;
    unsigned char *alloc = NULL;
    const unsigned char *der = NULL;
    const unsigned char *p;
    long der_len = 0;
    X509_CRL *x = NULL;

    if (out == NULL || (data == NULL && len != 0))
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (len > CORDON_CRL_MAX)
        return CORDON_ERR_TOO_LARGE;
    ERR_set_mark();
    err = cordon_crypto_frame(data, len, PEM_STRING_X509_CRL, &alloc, &der, &der_len);
    if (err != CORDON_OK)
        goto out;
    p = der;
    x = d2i_X509_CRL(NULL, &p, der_len);
    if (x == NULL || p != der + der_len) {
        err = CORDON_ERR_MALFORMED;
        goto out;
    }
    if (sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x)) > CORDON_CRL_ENTRIES_MAX) {
        err = CORDON_ERR_TOO_LARGE;
        goto out;
    }
    err = crl_wrap(x, out);
    if (err != CORDON_OK)
        goto out;
    x = NULL;
out:
    X509_CRL_free(x);
    OPENSSL_free(alloc);
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_crl_load(const char *path, cordon_crl **out)
{
    cordon_err err;
    cordon_buf file;

    if (path == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    cordon_buf_init(&file, CORDON_CRL_MAX, false);
    err = cordon_read_file(path, CORDON_CRL_MAX, &file);
    if (err == CORDON_OK)
        err = cordon_crl_parse(file.data, file.len, out);
    cordon_buf_free(&file);
    return err;
}

cordon_err cordon_crl_verify(const cordon_crl *crl, const cordon_cert *ca, int64_t now)
{
    cordon_err err = CORDON_ERR_CRL;
    EVP_PKEY *pub;
    int64_t last, next;

    if (crl == NULL || ca == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl->crl), X509_get_subject_name(ca->x509)) != 0)
        goto out;
    pub = X509_get0_pubkey(ca->x509);
    if (pub == NULL || X509_CRL_verify(crl->crl, pub) != 1)
        goto out;
    /* A CRL without nextUpdate never goes stale: refuse it. */
    if (cordon_crypto_time_get(X509_CRL_get0_lastUpdate(crl->crl), &last) != CORDON_OK ||
        X509_CRL_get0_nextUpdate(crl->crl) == NULL ||
        cordon_crypto_time_get(X509_CRL_get0_nextUpdate(crl->crl), &next) != CORDON_OK)
        goto out;
    /* Half-open, as OpenSSL's verifier counts it: at nextUpdate the CRL is stale. */
    if (now < last || now >= next)
        goto out;
    err = CORDON_OK;
out:
    ERR_pop_to_mark();
    return err;
}

cordon_err cordon_crl_window(const cordon_crl *crl, int64_t *last, int64_t *next)
{
    if (crl == NULL || X509_CRL_get0_nextUpdate(crl->crl) == NULL ||
        cordon_crypto_time_get(X509_CRL_get0_lastUpdate(crl->crl), last) != CORDON_OK ||
        cordon_crypto_time_get(X509_CRL_get0_nextUpdate(crl->crl), next) != CORDON_OK)
        return CORDON_ERR_CRL;
    return CORDON_OK;
}

cordon_err cordon_crl_number(const cordon_crl *crl, uint64_t *number)
{
    cordon_err err = CORDON_ERR_CRL;
    ASN1_INTEGER *ai = NULL;
    uint64_t v;
    int crit = 0;

    if (crl == NULL || number == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    ai = X509_CRL_get_ext_d2i(crl->crl, NID_crl_number, &crit, NULL);
    if (ai != NULL && ASN1_INTEGER_get_uint64(&v, ai) == 1) {
        *number = v;
        err = CORDON_OK;
    }
    ASN1_INTEGER_free(ai);
    ERR_pop_to_mark();
    return err;
}

bool cordon_crl_lists(const cordon_crl *crl, const uint8_t serial[CORDON_SERIAL_LEN])
{
    static const uint8_t zero[1];
    X509_REVOKED *rev = NULL;
    ASN1_INTEGER key;
    size_t skip = 0;
    bool listed;

    if (crl == NULL || serial == NULL)
        return false;
    /* The lookup key lives on the stack: a revocation check must not be able to fail
     * open for lack of memory. Content octets as c2i leaves them: no leading zeros. */
    while (skip < CORDON_SERIAL_LEN && serial[skip] == 0)
        skip++;
    memset(&key, 0, sizeof(key));
    key.type = V_ASN1_INTEGER;
    key.data = (unsigned char *)(skip < CORDON_SERIAL_LEN ? serial + skip : zero);
    key.length = skip < CORDON_SERIAL_LEN ? (int)(CORDON_SERIAL_LEN - skip) : 1;
    ERR_set_mark();
    /* 2 means "removeFromCRL", which OpenSSL's verifier too treats as not revoked. */
    listed = X509_CRL_get0_by_serial(crl->crl, &rev, &key) == 1;
    ERR_pop_to_mark();
    return listed;
}

cordon_err cordon_crl_pem(const cordon_crl *crl, cordon_buf *out)
{
    cordon_buf der;
    if (crl == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    cordon_err err = cordon_crl_der(crl, &der);
    if (err == CORDON_OK)
        err = cordon_crypto_pem(PEM_STRING_X509_CRL, &der, out);
    cordon_buf_free(&der);
    return err;
}

cordon_err cordon_crl_der(const cordon_crl *crl, cordon_buf *out)
{
    cordon_err err;
    unsigned char *p = NULL;
    int n;

    if (crl == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    ERR_set_mark();
    n = i2d_X509_CRL(crl->crl, &p);
    err = cordon_crypto_der_to_buf(p, n, out);
    ERR_pop_to_mark();
    return err;
}

void cordon_crl_free(cordon_crl *crl)
{
    if (crl == NULL)
        return;
    X509_CRL_free(crl->crl);
    free(crl);
}
