/*
 * store/store.h — one peer's object store (libcordon-store), on LMDB.
 *
 * One LMDB environment per peer (a directory, 0700, its files 0600) holds, in named
 * databases:
 *   objects   entry key (resource ID || entry writer, wire/object.h) -> the encoded object
 *   usage     writer node ID -> u64 objects | u64 bytes held for that writer
 *   expiry    u64 expires_at (big-endian) || entry key -> empty   (sweep in time order)
 *   meta      totals (objects, bytes) and a format version
 * Every change is one write transaction, so a peer killed at any point restarts with what
 * was committed, and usage always agrees with the objects.
 *
 * Acceptance (cordon_store_put) is in one place, for replicas and for readers alike
 * (cordon_store_check is its stateless half, for a reader that stores nothing). In order,
 * the first failure returned, and nothing stored changes on any failure:
 *   1. the bytes decode (cordon_object_decode: CORDON_ERR_MALFORMED, _TRUNCATED, ...);
 *   2. the value fits the kind's maximum (CORDON_ERR_TOO_LARGE);
 *   3. lifetime in 1..max_lifetime (CORDON_ERR_OBJ_LIFETIME); created_at <= now + skew
 *      (CORDON_ERR_OBJ_FUTURE); created_at + lifetime > now (CORDON_ERR_OBJ_EXPIRED);
 *   4. cordon_object_verify(): overlay, resource ID, certificate, signature, CRL kind
 *      (CORDON_ERR_OBJ_NOT_ALLOWED, CORDON_ERR_CERT_*, CORDON_ERR_BAD_SIGNATURE, CORDON_ERR_CRL);
 *   5. (put only) seq strictly above the stored entry's (CORDON_ERR_OBJ_STALE);
 *   6. (put only) the writer's quota in objects and bytes, counted after the replacement
 *      (CORDON_ERR_OBJ_QUOTA); kind crl is not charged to its writer;
 *   7. (put only) the node's capacity in objects and bytes (CORDON_ERR_OBJ_CAPACITY).
 * A delete is a tombstone object with a higher seq: stored like any object (it holds the
 * entry's seq against replays) until it expires.
 *
 * Values read from LMDB are copied out before the read transaction ends: nothing the
 * caller holds points into the map.
 */
#ifndef CORDON_STORE_STORE_H
#define CORDON_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "crypto/object.h"
#include "wire/object.h"

struct cordon_store_config {
    const char *path;      /* directory of the environment; created (0700) when missing */
    uint64_t map_size;     /* 0: CORDON_STORE_MAP_SIZE */
    uint32_t max_lifetime; /* 0: CORDON_OBJECT_LIFETIME_MAX */
    uint32_t skew;         /* seconds created_at may be ahead of now; 0: CORDON_OBJECT_SKEW_S */
    size_t value_max;      /* per value, kinds owned and shared; 0: CORDON_OBJECT_VALUE_MAX */
    uint64_t writer_objects, writer_bytes; /* per writer; 0: CORDON_STORE_WRITER_* */
    uint64_t node_objects, node_bytes;     /* in all; 0: CORDON_STORE_NODE_* */
};

typedef struct cordon_store cordon_store;

/* Opens (creating) the store. CORDON_ERR_DB when LMDB refuses, CORDON_ERR_INVAL for a
 * configuration over a hard cap. */
CORDON_MUST_CHECK cordon_err cordon_store_open(const struct cordon_store_config *cfg,
                                               cordon_store **out);
void cordon_store_close(cordon_store *st);

/* Steps 1-4 of acceptance, storing nothing; *out borrows data. */
CORDON_MUST_CHECK cordon_err cordon_store_check(const cordon_store *st, cordon_object_verifier *v,
                                                const void *data, size_t len, uint64_t now,
                                                struct cordon_object *out);

/* Accepts and stores one encoded object (steps 1-7). On success, *out (may be NULL) borrows
 * data. */
CORDON_MUST_CHECK cordon_err cordon_store_put(cordon_store *st, cordon_object_verifier *v,
                                              const void *data, size_t len, uint64_t now,
                                              struct cordon_object *out);

/* Copies the stored object of an entry into out (replacing its contents).
 * CORDON_ERR_NOT_FOUND when there is none or it expired at now (a tombstone is returned:
 * the caller tells "deleted" from "not found" with cordon_object_is_tombstone()). */
CORDON_MUST_CHECK cordon_err cordon_store_get(cordon_store *st,
                                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                              uint64_t now, cordon_buf *out);

/* Removes at most max objects whose expiry is <= now, oldest first, in one transaction;
 * *removed gets how many. Called on a timer: each call is short. */
CORDON_MUST_CHECK cordon_err cordon_store_expire(cordon_store *st, uint64_t now, size_t max,
                                                 size_t *removed);

/* A compact summary of one stored entry, for replica maintenance. */
struct cordon_store_summary {
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t seq;
    uint64_t expires_at;
};

/* Calls fn for at most max entries in key order, starting after *after (NULL: from the
 * first), skipping those expired at now. fn returns false to stop early. Summaries are
 * copied out; fn must not call back into the store. *next gets the last key visited, for
 * the next call; the return is CORDON_ERR_NOT_FOUND when no entry was left. */
CORDON_MUST_CHECK cordon_err cordon_store_scan(
    cordon_store *st, const uint8_t *after, size_t max, uint64_t now,
    bool (*fn)(void *ctx, const struct cordon_store_summary *s), void *ctx,
    uint8_t next[CORDON_OBJECT_ENTRY_KEY_LEN]);

struct cordon_store_stats {
    uint64_t objects;
    uint64_t bytes;
    uint64_t accepted;  /* since open */
    uint64_t refused;   /* since open, every refusal code */
    uint64_t expired;   /* since open */
};
void cordon_store_stats(const cordon_store *st, struct cordon_store_stats *out);

/* Objects and bytes held for one writer (0, 0 when none). */
CORDON_MUST_CHECK cordon_err cordon_store_usage(cordon_store *st,
                                                const uint8_t writer[CORDON_NODE_ID_LEN],
                                                uint64_t *objects, uint64_t *bytes);

#endif
