/*
 * crypto/crypto.h — the overlay's cryptography behind opaque handles: keys, CSRs,
 * certificates that bind a node ID, CRLs, signatures over byte strings, hashing and the
 * CSPRNG. This module and the peer's link layer are the only code that includes OpenSSL
 * headers; everyone else sees only the handles below.
 *
 * Conventions:
 * - Times are Unix seconds (int64_t), always passed in by the caller, never read from the
 *   clock here, so tests can place "now" anywhere.
 * - Parsers take untrusted bytes (PEM or DER, detected by the leading "-----BEGIN") with
 *   an explicit length, refuse more than the caps of common/limits.h, and never need a
 *   NUL after the input.
 * - Every handle is owned by whoever received it from a _new/_create/_parse/_load call and
 *   released with its _free, which accepts NULL. Handles are immutable once made and may
 *   be shared read-only between threads.
 * - Private keys are wiped when freed, written with mode 0600 and never printed.
 * - Functions that write into a cordon_buf append to what it already holds, within its cap
 *   (CORDON_ERR_TOO_LARGE); PEM and base64 text is also NUL-terminated (the NUL is not
 *   counted in len). After a failure the buffer's contents are unspecified.
 * - A NULL where a handle, buffer or output is required gives CORDON_ERR_INVAL (false from
 *   the bool functions); a NULL data pointer is fine only with a length of 0.
 * - OpenSSL errors raised inside a call are removed from the thread's error queue before it
 *   returns; errors the caller had queued before are left in place.
 *
 * Node IDs: 32 bytes, carried in the certificate as exactly one subjectAltName URI
 *   cordon://<overlay>/node/<64 lower-case hex digits>
 */
#ifndef CORDON_CRYPTO_CRYPTO_H
#define CORDON_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/limits.h"

typedef struct cordon_key cordon_key;
typedef struct cordon_csr cordon_csr;
typedef struct cordon_cert cordon_cert;
typedef struct cordon_crl cordon_crl;

typedef enum cordon_key_type {
    CORDON_KEY_NONE = 0,
    CORDON_KEY_P256 = 1,    /* ECDSA over P-256, signatures with SHA-256 (the default) */
    CORDON_KEY_ED25519 = 2, /* Ed25519 (pure) */
} cordon_key_type;

/* ---- randomness and hashing ---------------------------------------------------------- */

/* n bytes from the CSPRNG (OpenSSL RAND_bytes). CORDON_ERR_CRYPTO if it is not seeded. */
CORDON_MUST_CHECK cordon_err cordon_random(void *out, size_t n);
/* Cannot fail short of a broken OpenSSL installation, in which case it aborts (as it does
 * for data == NULL with len != 0). */
void cordon_sha256(const void *data, size_t len, uint8_t out[32]);

/* ---- keys ----------------------------------------------------------------------------- */

CORDON_MUST_CHECK cordon_err cordon_key_generate(cordon_key_type type, cordon_key **out);
/* Loads a private key (PEM, PKCS#8 or traditional). CORDON_ERR_KEY_TYPE for other types;
 * CORDON_ERR_MALFORMED for anything else that is not a plain PEM private key (encrypted keys
 * included: there is never a password prompt); CORDON_ERR_NOT_FOUND, CORDON_ERR_IO (also
 * for a path that is not a regular file), CORDON_ERR_TOO_LARGE (a file of more than 16 KiB). */
CORDON_MUST_CHECK cordon_err cordon_key_load(const char *path, cordon_key **out);
/* Writes the private key as PKCS#8 PEM, mode 0600, creating the file exclusively:
 * CORDON_ERR_EXISTS if path exists. The file is fsync'ed before return. */
CORDON_MUST_CHECK cordon_err cordon_key_save(const cordon_key *key, const char *path);
/* The private key as PKCS#8 PEM in out (a secret buffer: init it with secret = true;
 * CORDON_ERR_INVAL otherwise). */
CORDON_MUST_CHECK cordon_err cordon_key_private_pem(const cordon_key *key, cordon_buf *out);
cordon_key_type cordon_key_type_of(const cordon_key *key);
void cordon_key_free(cordon_key *key);

/* ---- signatures over byte strings (objects, the overlay document) ---------------------- */

/* sig must hold CORDON_SIG_MAX bytes; *sig_len receives the length used. */
CORDON_MUST_CHECK cordon_err cordon_sign(const cordon_key *key, const void *msg, size_t len,
                                         uint8_t *sig, size_t *sig_len);
/* CORDON_OK or CORDON_ERR_BAD_SIGNATURE (also for a malformed signature); and
 * CORDON_ERR_KEY_TYPE when the signer's certificate holds neither a P-256 nor an Ed25519
 * key. */
CORDON_MUST_CHECK cordon_err cordon_verify(const cordon_cert *signer, const void *msg, size_t len,
                                           const uint8_t *sig, size_t sig_len);

/* The same check prepared once for one signer, for a caller that verifies many signatures
 * of the same certificate (the object verifier's certificate cache): cordon_verify fetches
 * the digest and signature algorithms and builds a context on every call (16,600 P-256
 * checks/s where openssl speed did 19,100 on the bench machine). cordon_verify_ctx_new borrows
 * signer, which must outlive the context; it fails as cordon_verify would on the key
 * (CORDON_ERR_KEY_TYPE), or with CORDON_ERR_NOMEM / CORDON_ERR_CRYPTO. cordon_verify_with answers
 * exactly as cordon_verify (a P-256 signature is checked over the SHA-256 of msg, as
 * EVP_DigestVerify does; Ed25519 goes through cordon_verify). A context is used by one thread at a
 * time. */
typedef struct cordon_verify_ctx cordon_verify_ctx;
CORDON_MUST_CHECK cordon_err cordon_verify_ctx_new(const cordon_cert *signer,
                                                   cordon_verify_ctx **out);
CORDON_MUST_CHECK cordon_err cordon_verify_with(cordon_verify_ctx *c, const void *msg, size_t len,
                                                const uint8_t *sig, size_t sig_len);
void cordon_verify_ctx_free(cordon_verify_ctx *c);

/* ---- certificate signing requests ---------------------------------------------------- */

/* A CSR for key, self-signed. Its subject holds only CN=cordon-node: the server decides
 * every identity. */
CORDON_MUST_CHECK cordon_err cordon_csr_create(const cordon_key *key, cordon_csr **out);
/* Parses a CSR (PEM or DER, at most CORDON_CSR_MAX bytes) and checks it:
 * CORDON_ERR_TOO_LARGE, CORDON_ERR_MALFORMED (not a CSR, or trailing data),
 * CORDON_ERR_KEY_TYPE (public key not P-256 or Ed25519), CORDON_ERR_BAD_SIGNATURE
 * (self-signature does not verify). */
CORDON_MUST_CHECK cordon_err cordon_csr_parse(const void *data, size_t len, cordon_csr **out);
CORDON_MUST_CHECK cordon_err cordon_csr_pem(const cordon_csr *csr, cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_csr_der(const cordon_csr *csr, cordon_buf *out);
/* true when the CSR asks for the public key that cert certifies. */
bool cordon_csr_matches_cert(const cordon_csr *csr, const cordon_cert *cert);
void cordon_csr_free(cordon_csr *csr);

/* The bytes a node signs with its current key to renew its certificate (POST /v1/renew,
 * docs/protocol.md): "cordon-renew-v1" 0x00 || SHA-256(CSR DER) || time as u64 big-endian.
 * CORDON_ERR_INVAL for a NULL argument or a negative time. */
#define CORDON_RENEW_MSG_LEN (16 + 32 + 8)
CORDON_MUST_CHECK cordon_err cordon_renew_message(const cordon_csr *csr, int64_t time,
                                                  uint8_t out[CORDON_RENEW_MSG_LEN]);

/* ---- certificates -------------------------------------------------------------------- */

/* Parses one certificate (PEM or DER, at most CORDON_CERT_MAX bytes; with PEM, the first
 * certificate of the input). CORDON_ERR_TOO_LARGE / CORDON_ERR_MALFORMED. */
CORDON_MUST_CHECK cordon_err cordon_cert_parse(const void *data, size_t len, cordon_cert **out);
/* cordon_cert_parse() of a file: also CORDON_ERR_NOT_FOUND and CORDON_ERR_IO. */
CORDON_MUST_CHECK cordon_err cordon_cert_load(const char *path, cordon_cert **out);
CORDON_MUST_CHECK cordon_err cordon_cert_pem(const cordon_cert *cert, cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_cert_der(const cordon_cert *cert, cordon_buf *out);
/* Armours DER bytes that a trusted source produced (the signer) as a CERTIFICATE PEM
 * block without parsing them: parsing a certificate costs OpenSSL 3.0 a full decoder set-up.
 * Only checks that der starts a DER SEQUENCE (CORDON_ERR_MALFORMED otherwise). */
CORDON_MUST_CHECK cordon_err cordon_cert_pem_from_der(const uint8_t *der, size_t len,
                                                      cordon_buf *out);
/* SHA-256 over the DER encoding (what `openssl x509 -fingerprint -sha256` shows). */
CORDON_MUST_CHECK cordon_err cordon_cert_fingerprint(const cordon_cert *cert, uint8_t out[32]);
/* The serial number as 16 bytes, big-endian, left-padded with zeros.
 * CORDON_ERR_MALFORMED if negative or longer than 16 bytes. */
CORDON_MUST_CHECK cordon_err cordon_cert_serial(const cordon_cert *cert,
                                                uint8_t out[CORDON_SERIAL_LEN]);
CORDON_MUST_CHECK cordon_err cordon_cert_validity(const cordon_cert *cert, int64_t *not_before,
                                                  int64_t *not_after);
/* The node ID of overlay that the certificate carries. CORDON_ERR_CERT_NODE_ID when it
 * carries none, several, one of another overlay, or one that is not 64 hex digits. */
CORDON_MUST_CHECK cordon_err cordon_cert_node_id(const cordon_cert *cert, const char *overlay,
                                                 uint8_t out[CORDON_NODE_ID_LEN]);
/* true when cert certifies the public half of key. */
bool cordon_cert_matches_key(const cordon_cert *cert, const cordon_key *key);
/* The type of the certified public key; CORDON_KEY_NONE for any other type. */
cordon_key_type cordon_cert_key_type(const cordon_cert *cert);
void cordon_cert_free(cordon_cert *cert);

/* A self-signed CA certificate for the overlay: CN=<overlay> overlay CA (just CN=<overlay>
 * when that would pass the 64 characters X.520 allows), a random positive serial,
 * basicConstraints CA:TRUE pathlen:0 (critical), keyUsage keyCertSign+cRLSign (critical),
 * SKI. CORDON_ERR_INVAL for a bad overlay name (see struct cordon_node_cert_params) or
 * not_after <= not_before. */
CORDON_MUST_CHECK cordon_err cordon_ca_create(const cordon_key *ca_key, const char *overlay,
                                              int64_t not_before, int64_t not_after,
                                              cordon_cert **out);

/* Refused with CORDON_ERR_INVAL: an overlay name that is not 1..CORDON_OVERLAY_NAME_MAX
 * characters of [a-z0-9-]; a serial with the top bit set or all zero; not_after <=
 * not_before; times before 1970 or after 9999. */
struct cordon_node_cert_params {
    const char *overlay;
    uint8_t node_id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN]; /* the top bit must be clear (positive INTEGER) */
    int64_t not_before;
    int64_t not_after;
};

/* Issues a node certificate for the CSR's public key. Everything the CSR asks for besides
 * its key (subject, extensions) is ignored: subject CN=<node ID hex>, O=<overlay>, the one
 * SAN URI above, basicConstraints CA:FALSE (critical), keyUsage digitalSignature (critical),
 * extendedKeyUsage serverAuth+clientAuth, AKI and SKI. Signed by ca_key (SHA-256 for a
 * P-256 CA). CORDON_ERR_INVAL also when ca_cert is not a CA certificate of ca_key.
 * The validity is not capped here: the signer enforces CORDON_CERT_VALIDITY_MAX. */
CORDON_MUST_CHECK cordon_err cordon_cert_issue_node(const cordon_csr *csr,
                                                    const struct cordon_node_cert_params *p,
                                                    const cordon_key *ca_key,
                                                    const cordon_cert *ca_cert, cordon_cert **out);

/* Issues the enrollment server's TLS certificate for key: SANs are DNS names, or IP
 * addresses where a name parses as IPv4/IPv6; extendedKeyUsage serverAuth; CN = the first
 * name when it fits in 64 characters. CORDON_ERR_INVAL for 0 or more than
 * CORDON_SERVER_NAMES_MAX names, a name that is neither an address nor a host name (letters,
 * digits, '-', dots between labels, an optional leading "*."), and as for node certs. */
CORDON_MUST_CHECK cordon_err cordon_cert_issue_server(
    const cordon_key *key, const char *const *names, size_t n_names,
    const uint8_t serial[CORDON_SERIAL_LEN], int64_t not_before, int64_t not_after,
    const cordon_key *ca_key, const cordon_cert *ca_cert, cordon_cert **out);

/* Verifies a node certificate against the overlay CA at time now and returns its node
 * ID. crl may be NULL (no revocation check); when given, it must verify against ca and
 * cover now (else CORDON_ERR_CRL). Errors: CORDON_ERR_CERT_UNTRUSTED (other issuer, bad
 * signature, not a CA-issued leaf, a CA certificate, not usable for both TLS client and
 * server), CORDON_ERR_CERT_EXPIRED, CORDON_ERR_CERT_NOT_YET_VALID, CORDON_ERR_CERT_REVOKED,
 * CORDON_ERR_CERT_NODE_ID, CORDON_ERR_KEY_TYPE, CORDON_ERR_CRL. A certificate is valid for
 * notBefore <= now < notAfter (OpenSSL's rule: at notAfter it has expired); the CA's own
 * validity counts too. node_id is written only on success. */
CORDON_MUST_CHECK cordon_err cordon_cert_verify_node(const cordon_cert *leaf, const cordon_cert *ca,
                                                     const cordon_crl *crl, const char *overlay,
                                                     int64_t now,
                                                     uint8_t node_id[CORDON_NODE_ID_LEN]);

/* ---- certificate revocation lists ---------------------------------------------------- */

struct cordon_revoked {
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t revoked_at;
};

/* A CRL signed by the CA with the given CRL number (crlNumber extension), lastUpdate and
 * nextUpdate, listing n revoked serials (n <= CORDON_CRL_ENTRIES_MAX), with AKI.
 * CORDON_ERR_INVAL when next_update <= this_update or ca_cert is not a CA certificate of
 * ca_key; CORDON_ERR_TOO_LARGE when n is over the cap or the CRL would not fit in
 * CORDON_CRL_MAX bytes as PEM (so cordon_crl_parse() could not read it back). */
CORDON_MUST_CHECK cordon_err cordon_crl_create(const cordon_key *ca_key, const cordon_cert *ca_cert,
                                               uint64_t number, int64_t this_update,
                                               int64_t next_update,
                                               const struct cordon_revoked *revoked, size_t n,
                                               cordon_crl **out);
/* Parses a CRL (PEM or DER, at most CORDON_CRL_MAX bytes). Does not verify it. */
CORDON_MUST_CHECK cordon_err cordon_crl_parse(const void *data, size_t len, cordon_crl **out);
/* cordon_crl_parse() of a file: also CORDON_ERR_NOT_FOUND and CORDON_ERR_IO. */
CORDON_MUST_CHECK cordon_err cordon_crl_load(const char *path, cordon_crl **out);
/* CORDON_OK when the CRL is issued and signed by ca, has a nextUpdate, and
 * lastUpdate <= now < nextUpdate (as OpenSSL's verifier counts: at nextUpdate it is stale);
 * CORDON_ERR_CRL otherwise. */
CORDON_MUST_CHECK cordon_err cordon_crl_verify(const cordon_crl *crl, const cordon_cert *ca,
                                               int64_t now);
/* lastUpdate and nextUpdate, in seconds since the epoch; CORDON_ERR_CRL when one is missing
 * or out of range. Does not verify the CRL. */
CORDON_MUST_CHECK cordon_err cordon_crl_window(const cordon_crl *crl, int64_t *last, int64_t *next);
/* The crlNumber; CORDON_ERR_CRL when absent or longer than 64 bits. */
CORDON_MUST_CHECK cordon_err cordon_crl_number(const cordon_crl *crl, uint64_t *number);
/* true when serial is listed (an entry with reason removeFromCRL does not count). Does not
 * allocate, so it cannot fail open. */
bool cordon_crl_lists(const cordon_crl *crl, const uint8_t serial[CORDON_SERIAL_LEN]);
CORDON_MUST_CHECK cordon_err cordon_crl_pem(const cordon_crl *crl, cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_crl_der(const cordon_crl *crl, cordon_buf *out);
void cordon_crl_free(cordon_crl *crl);

/* ---- encodings ---------------------------------------------------------------------- */

/* Standard base64 without line breaks (out is a text buffer, NUL-terminated). */
CORDON_MUST_CHECK cordon_err cordon_base64_encode(const void *in, size_t len, cordon_buf *out);
/* Decodes standard base64 (padding required, no white space); CORDON_ERR_MALFORMED on any
 * other character or a wrong length. */
CORDON_MUST_CHECK cordon_err cordon_base64_decode(const char *in, size_t len, cordon_buf *out);

#endif
