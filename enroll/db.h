/*
 * enroll/db.h — the enrollment server's durable state in one LMDB environment
 * (DIR/enroll.db): tokens, issued node certificates, serials, and metadata (the current
 * CRL and its number). The server and the admin commands may use it at the same time
 * from different processes; LMDB serializes the writers.
 *
 * Records are encoded with the wire writer and decoded with the bounded reader: a
 * damaged record is reported as CORDON_ERR_DB, never trusted.
 *
 * Ownership: strings and certificates returned in records are copied out of LMDB before
 * the transaction ends; cordon_node_record_clear() releases them.
 */
#ifndef CORDON_ENROLL_DB_H
#define CORDON_ENROLL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/limits.h"

typedef struct cordon_db cordon_db;
typedef struct cordon_db_txn cordon_db_txn;

struct cordon_token_record {
    uint32_t max_nodes;
    uint32_t used;
    int64_t created_at;
    int64_t expires_at;
    char label[CORDON_TOKEN_LABEL_MAX + 1];
};

struct cordon_node_record {
    uint8_t node_id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    uint8_t token_hash[32];
    char token_label[CORDON_TOKEN_LABEL_MAX + 1];
    int64_t issued_at;
    int64_t not_after;
    int64_t revoked_at; /* 0: not revoked */
    char reason[CORDON_TOKEN_LABEL_MAX + 1];
    uint8_t *cert_der; /* owned */
    size_t cert_der_len;
};

/* Opens (create = true: creates, refusing an existing one with CORDON_ERR_EXISTS) the
 * environment at path (a file; LMDB adds path-lock). */
CORDON_MUST_CHECK cordon_err cordon_db_open(const char *path, bool create, cordon_db **out);
void cordon_db_close(cordon_db *db);

/* Transactions. A write transaction that failed in any call is poisoned: commit then
 * aborts it and returns the first error. Only one write transaction per process at a
 * time (LMDB's rule); read transactions may run in parallel. */
CORDON_MUST_CHECK cordon_err cordon_db_begin(cordon_db *db, bool write, cordon_db_txn **out);
CORDON_MUST_CHECK cordon_err cordon_db_commit(cordon_db_txn *txn);
void cordon_db_abort(cordon_db_txn *txn); /* accepts NULL */

CORDON_MUST_CHECK cordon_err cordon_db_token_get(cordon_db_txn *txn, const uint8_t hash[32],
                                                 struct cordon_token_record *out);
CORDON_MUST_CHECK cordon_err cordon_db_token_put(cordon_db_txn *txn, const uint8_t hash[32],
                                                 const struct cordon_token_record *rec);
CORDON_MUST_CHECK cordon_err cordon_db_token_count(cordon_db_txn *txn, size_t *count);

/* CORDON_ERR_EXISTS when the node ID or the serial is already recorded. */
CORDON_MUST_CHECK cordon_err cordon_db_node_add(cordon_db_txn *txn,
                                                const struct cordon_node_record *rec);
CORDON_MUST_CHECK cordon_err cordon_db_node_get(cordon_db_txn *txn,
                                                const uint8_t node_id[CORDON_NODE_ID_LEN],
                                                struct cordon_node_record *out);
/* Replaces an existing node record (revocation, renewal). */
CORDON_MUST_CHECK cordon_err cordon_db_node_update(cordon_db_txn *txn,
                                                   const struct cordon_node_record *rec);
void cordon_node_record_clear(struct cordon_node_record *rec);

/* Calls fn for every node record in node ID order; a non-OK return from fn stops the walk
 * and is returned. The record is valid only during the call. */
typedef cordon_err (*cordon_db_node_fn)(const struct cordon_node_record *rec, void *arg);
CORDON_MUST_CHECK cordon_err cordon_db_node_each(cordon_db_txn *txn, cordon_db_node_fn fn,
                                                 void *arg);
CORDON_MUST_CHECK cordon_err cordon_db_node_count(cordon_db_txn *txn, size_t *count);

/* Calls fn for every serial ever issued, in serial order, with the node it was issued to
 * and its certificate's notAfter (-1 when the serial was reserved by a version that did not
 * record it). Every certificate of a node is there, superseded ones included: a revocation
 * lists them all. A non-OK return from fn stops the walk and is returned; a damaged entry
 * gives CORDON_ERR_DB. */
typedef cordon_err (*cordon_db_serial_fn)(const uint8_t serial[CORDON_SERIAL_LEN],
                                          const uint8_t node_id[CORDON_NODE_ID_LEN],
                                          int64_t not_after, void *arg);
CORDON_MUST_CHECK cordon_err cordon_db_serial_each(cordon_db_txn *txn, cordon_db_serial_fn fn,
                                                   void *arg);

/* Metadata: small named values. */
CORDON_MUST_CHECK cordon_err cordon_db_meta_get(cordon_db_txn *txn, const char *key,
                                                cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_db_meta_put(cordon_db_txn *txn, const char *key,
                                                const void *value, size_t len);
CORDON_MUST_CHECK cordon_err cordon_db_meta_get_u64(cordon_db_txn *txn, const char *key,
                                                    uint64_t *out);
CORDON_MUST_CHECK cordon_err cordon_db_meta_put_u64(cordon_db_txn *txn, const char *key,
                                                    uint64_t v);

/* Record codecs, exposed for tests and the fuzzer. decode copies what it keeps. */
CORDON_MUST_CHECK cordon_err cordon_token_record_encode(const struct cordon_token_record *rec,
                                                        uint8_t *out, size_t cap, size_t *len);
CORDON_MUST_CHECK cordon_err cordon_token_record_decode(const void *data, size_t len,
                                                        struct cordon_token_record *rec);
CORDON_MUST_CHECK cordon_err cordon_node_record_encode(const struct cordon_node_record *rec,
                                                       cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_node_record_decode(const void *data, size_t len,
                                                       struct cordon_node_record *rec);

#endif
