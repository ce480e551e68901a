/*
 * crypto/internal.h — private to crypto/: the handle structs and the helpers the .c files
 * share (input framing, times, serials, key classification, OpenSSL error hygiene).
 * Nothing outside crypto/ includes this file.
 *
 * OpenSSL error queue: every public function that calls into OpenSSL brackets its work
 * with ERR_set_mark() at entry and ERR_pop_to_mark() at exit, so the errors it causes never
 * outlive the call, while errors a caller (say, the link layer inside an SSL callback)
 * had queued before are left alone. No decision here ever reads the queue.
 */
#ifndef CORDON_CRYPTO_INTERNAL_H
#define CORDON_CRYPTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"

/* Latest time an ASN1_TIME can carry: 9999-12-31T23:59:59Z. */
#define CORDON_TIME_MAX INT64_C(253402300799)

struct cordon_key {
    EVP_PKEY *pkey;
    cordon_key_type type;
};

struct cordon_csr {
    X509_REQ *req;
};

struct cordon_cert {
    X509 *x509;
};

struct cordon_crl {
    X509_CRL *crl;
};

/* The cordon key type of pkey: P-256 (named curve only) or Ed25519, else
 * CORDON_ERR_KEY_TYPE. */
CORDON_MUST_CHECK cordon_err cordon_crypto_pkey_type(const EVP_PKEY *pkey, cordon_key_type *type);

/* The digest to sign with: SHA-256 for P-256, NULL (pure) for Ed25519. */
const EVP_MD *cordon_crypto_sign_md(cordon_key_type type);

/* true for "-----BEGIN" at the very start of the input. */
bool cordon_crypto_is_pem(const void *data, size_t len);

/*
 * Frames untrusted input as DER. For PEM, the first block named pem_name (OpenSSL's
 * aliases included, encrypted blocks refused) is decoded into *alloc (OPENSSL_free it);
 * for DER, *der points into data and *alloc is NULL. The caller must still check that its
 * d2i consumed all der_len bytes. The caller checks the size cap first.
 * CORDON_ERR_MALFORMED when there is no such PEM block or the input is empty.
 */
CORDON_MUST_CHECK cordon_err cordon_crypto_frame(const void *data, size_t len, const char *pem_name,
                                                 unsigned char **alloc, const unsigned char **der,
                                                 long *der_len);

/* Appends what a memory BIO holds to out. */
CORDON_MUST_CHECK cordon_err cordon_crypto_bio_to_buf(BIO *bio, cordon_buf *out);

/* Appends the DER of an i2d result (p from i2d_X(obj, &p), n its return) to out and frees p. */
CORDON_MUST_CHECK cordon_err cordon_crypto_der_to_buf(unsigned char *p, int n, cordon_buf *out);

/* Appends the PEM armour ("-----BEGIN <name>-----" ...) of der to out, NUL-terminated. */
CORDON_MUST_CHECK cordon_err cordon_crypto_pem(const char *name, const cordon_buf *der,
                                               cordon_buf *out);

/* Unix seconds -> a new ASN1_TIME (ASN1_TIME_free it): UTCTime up to 2049, GeneralizedTime
 * after, as RFC 5280 wants. CORDON_ERR_INVAL for a time before 1970 or after 9999. */
CORDON_MUST_CHECK cordon_err cordon_crypto_time_new(int64_t secs, ASN1_TIME **out);
/* ASN1_TIME -> Unix seconds; CORDON_ERR_MALFORMED when it does not decode (or is NULL). */
CORDON_MUST_CHECK cordon_err cordon_crypto_time_get(const ASN1_TIME *t, int64_t *secs);

/* A positive ASN1_INTEGER from 16 big-endian bytes (ASN1_INTEGER_free it). */
CORDON_MUST_CHECK cordon_err cordon_crypto_serial_to_asn1(const uint8_t serial[CORDON_SERIAL_LEN],
                                                          ASN1_INTEGER **out);
/* 16 big-endian bytes from a non-negative ASN1_INTEGER of at most 16 bytes, else
 * CORDON_ERR_MALFORMED. */
CORDON_MUST_CHECK cordon_err cordon_crypto_serial_from_asn1(const ASN1_INTEGER *ai,
                                                            uint8_t serial[CORDON_SERIAL_LEN]);

/* Overlay names: 1..CORDON_OVERLAY_NAME_MAX characters of [a-z0-9-]. */
bool cordon_crypto_overlay_ok(const char *overlay);

/* Adds one extension from an OpenSSL config string ("critical,CA:TRUE"); the strings are
 * constants of this module, never input. */
CORDON_MUST_CHECK cordon_err cordon_crypto_add_ext(X509 *x, X509V3_CTX *ctx, int nid,
                                                   const char *value);

/* ca_cert is a CA certificate (basicConstraints CA:TRUE) for ca_key's public key, else
 * CORDON_ERR_INVAL. */
CORDON_MUST_CHECK cordon_err cordon_crypto_check_ca_pair(const cordon_key *ca_key,
                                                         const cordon_cert *ca_cert);

/* A PEM password callback that refuses: encrypted input is never decrypted, and OpenSSL
 * never falls back to prompting on the terminal. */
int cordon_crypto_no_password(char *buf, int size, int rwflag, void *u);

#endif
