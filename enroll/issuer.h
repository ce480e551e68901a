/*
 * enroll/issuer.h — issuing node certificates, durably, for many clients at once.
 *
 * One enrollment: per-token rate limit; token check in a read transaction (unknown,
 * expired, exhausted are refused before any signing); a node ID and a serial drawn from
 * the CSPRNG; the certificate signed by the signer process; then the issuance joins the
 * commit queue. A single committer thread takes every waiting issuance into one LMDB
 * write transaction, where each is checked again against the token (so concurrent
 * enrollments can never push a quota below zero) and against the node and serial indexes
 * (so node IDs never repeat), records it, bumps the token's use count, commits, makes the
 * audit lines durable, and only then lets the answers go. A certificate that was answered
 * is therefore always on disk; a crash before the commit answers nothing and uses no
 * quota.
 *
 * One renewal takes the same path with the node ID kept: the node is checked in a read
 * transaction (unknown, revoked, or presenting a certificate that is not its newest are
 * refused before any signing), then a per-node rate limit, then a fresh serial, the signer
 * and the commit queue, where the committer checks the node again (so two renewals racing
 * with one certificate cannot both succeed) and replaces its record with the new serial.
 */
#ifndef CORDON_ENROLL_ISSUER_H
#define CORDON_ENROLL_ISSUER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "enroll/audit.h"
#include "enroll/db.h"
#include "enroll/request.h"
#include "enroll/signer.h"

struct cordon_issuer_config {
    uint32_t cert_validity; /* seconds */
    int64_t ca_not_after;   /* no node certificate outlives its CA */
    double source_rate;     /* enrollment requests per second per source address */
    double source_burst;
    double token_rate; /* enrollments per second per token */
    double token_burst;
    double renew_rate; /* renewals per second per node */
    double renew_burst;
};

typedef struct cordon_issuer cordon_issuer;

/* Borrows db, signer and audit, which must outlive the issuer. Starts the committer. */
CORDON_MUST_CHECK cordon_err cordon_issuer_new(cordon_db *db, cordon_signer *signer,
                                               cordon_audit *audit,
                                               const struct cordon_issuer_config *cfg,
                                               cordon_issuer **out);
/* Stops the committer after the queue drains. Accepts NULL. */
void cordon_issuer_free(cordon_issuer *is);

/* Per-source rate limit, checked before a request body is even read. source_key is the
 * binary address (4 or 16 bytes). */
bool cordon_issuer_allow_source(cordon_issuer *is, const void *source_key, size_t len);

/* Issues a certificate for a parsed request. Returns 201 with the certificate DER in
 * cert_der and the node ID, or the refusal's status (401 unknown token, 403 expired or
 * exhausted, 429 rate limited, 500/503) with refusal filled. source is the client's
 * address as text, for the audit log. Blocks until the issuance is durable. */
unsigned cordon_issuer_enroll(cordon_issuer *is, const struct cordon_enroll_request *req,
                              const char *source, cordon_buf *cert_der,
                              uint8_t node_id[CORDON_NODE_ID_LEN],
                              struct cordon_http_refusal *refusal);

/* Renews the certificate of a node whose request passed cordon_renew_request_check(): same
 * node ID, the CSR's (same) key, a fresh serial, the overlay's validity. Returns 201 with
 * the certificate DER in cert_der, or the refusal's status (403 unknown node, node revoked
 * (also when proof->revoked), or the presented certificate superseded; 429 rate limited;
 * 500/503) with refusal filled. Blocks until the renewal is durable. */
unsigned cordon_issuer_renew(cordon_issuer *is, const struct cordon_renew_proof *proof,
                             const char *source, cordon_buf *cert_der,
                             struct cordon_http_refusal *refusal);

/* Writes an audit line for a request refused before it reached the issuer; event is
 * "enroll" or "renew". */
void cordon_issuer_audit_refusal(cordon_issuer *is, const char *event, const char *source,
                                 unsigned status, const char *message);

#endif
