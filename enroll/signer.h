/*
 * enroll/signer.h — the process that holds the CA key (privilege separation, after
 * openiked's ca.c).
 *
 * `cordon-enroll serve` starts the signer before it creates any thread or parses any
 * request: it forks, and only the child loads DIR/ca.key. The HTTP front talks to it over
 * a socketpair with typed, size-checked messages, and the signer signs only what passes
 * its own checks: a node certificate for a CSR whose self-signature verifies, with a
 * node ID and a serial that are not zero and a validity within the overlay's; an overlay
 * document naming this overlay and this CA; a CRL whose number only goes up and whose
 * times are sane. A compromised front can therefore get certificates issued, but never
 * read the key, sign arbitrary bytes, or issue a CA certificate.
 *
 * Wire format (both directions), see docs/protocol.md "Signer channel":
 *   request  u8 type | u32 length | payload
 *   response u16 cordon_err | u32 length | payload
 */
#ifndef CORDON_ENROLL_SIGNER_H
#define CORDON_ENROLL_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "crypto/crypto.h"

enum cordon_signer_msg {
    CORDON_SIGNER_NODE_CERT = 1, /* node_id[32] serial[16] u64 not_before u64 not_after
                                    u16-prefixed CSR DER  ->  certificate DER */
    CORDON_SIGNER_DOCUMENT = 2,  /* u32-prefixed overlay document JSON  ->  signature */
    CORDON_SIGNER_CRL = 3,       /* u64 number u64 this_update u64 next_update u32 count
                                    count * (serial[16] u64 revoked_at)  ->  CRL DER */
};

/* What the signer enforces, besides the CA it holds. */
struct cordon_signer_policy {
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    uint32_t max_validity; /* seconds; at most CORDON_CERT_VALIDITY_MAX */
    uint32_t max_crl_validity;
};

/* The signer's side, without any process: decodes one request, checks it, signs, and
 * writes the whole response (status, length, payload) into resp. last_crl_number is the
 * signer's memory of the highest CRL number it signed. Used by the signer process, the
 * unit tests and the fuzzer. Returns the status it put in the response. */
struct cordon_signer_state {
    const cordon_key *ca_key;
    const cordon_cert *ca_cert;
    struct cordon_signer_policy policy;
    uint64_t last_crl_number;
};
cordon_err cordon_signer_handle(struct cordon_signer_state *st, const uint8_t *req, size_t len,
                                int64_t now, cordon_buf *resp);

/* ---- the front's side ------------------------------------------------------------------ */

typedef struct cordon_signer cordon_signer;

/* Forks the signer process, which loads key_path and cert_path. Call before creating any
 * thread. CORDON_ERR_IO if the fork or socketpair fails; the child's load errors come
 * back as the result of this call (it waits for the child's "ready"). */
CORDON_MUST_CHECK cordon_err cordon_signer_start(const char *key_path, const char *cert_path,
                                                 const struct cordon_signer_policy *policy,
                                                 cordon_signer **out);
/* false once the signer process has exited (it is reaped then). */
bool cordon_signer_alive(cordon_signer *s);
/* Closes the channel and reaps the child. Accepts NULL. */
void cordon_signer_stop(cordon_signer *s);

/* Safe from any thread. Calls are pipelined inside: several requests may be in flight, and
 * the signer handles them one at a time, in order. A broken channel (the child died, a
 * malformed answer, a 10 s timeout) poisons the handle: every later call returns
 * CORDON_ERR_PROTOCOL. */
CORDON_MUST_CHECK cordon_err cordon_signer_node_cert(cordon_signer *s, const uint8_t *csr_der,
                                                     size_t csr_len,
                                                     const struct cordon_node_cert_params *p,
                                                     cordon_buf *cert_der);
CORDON_MUST_CHECK cordon_err cordon_signer_document(cordon_signer *s, const void *doc, size_t len,
                                                    uint8_t sig[CORDON_SIG_MAX], size_t *sig_len);
CORDON_MUST_CHECK cordon_err cordon_signer_crl(cordon_signer *s, uint64_t number,
                                               int64_t this_update, int64_t next_update,
                                               const struct cordon_revoked *revoked, size_t n,
                                               cordon_buf *crl_der);

/* Encoders of the requests, shared by the client calls above and the tests. */
CORDON_MUST_CHECK cordon_err cordon_signer_encode_node_cert(const uint8_t *csr_der, size_t csr_len,
                                                            const struct cordon_node_cert_params *p,
                                                            cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_signer_encode_document(const void *doc, size_t len,
                                                           cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_signer_encode_crl(uint64_t number, int64_t this_update,
                                                      int64_t next_update,
                                                      const struct cordon_revoked *revoked,
                                                      size_t n, cordon_buf *out);

#endif
