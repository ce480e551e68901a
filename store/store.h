/*
 * store/store.h — one peer's object store (libcordon-store), on LMDB.
 *
 * One LMDB environment per peer (a directory, 0700, its files 0600) holds, in named
 * databases:
 *   objects   entry key (resource ID || entry writer, wire/object.h) -> the encoded object
 *   usage     writer node ID -> u64 objects | u64 bytes held for that writer (no record: 0, 0)
 *   expiry    u64 expires_at (big-endian) || entry key -> empty   (sweep in time order)
 *   meta      "totals" (u64 objects | u64 bytes) and "version" (u32, the format: 1)
 *   mine      entry key -> u64 republish_at | encoded object: this node's own latest
 *             object of the entry, as its writer (republishing; see cordon_store_mine_put)
 *   mine_due  u64 republish_at (big-endian) || entry key -> empty  (earliest first)
 * Every change is one write transaction (or a batch of them, see cordon_store_batch_begin),
 * so a peer killed at any point restarts with what was committed, and usage, totals and the expiry
 * index always agree with the objects (cordon_store_audit() proves it). Bytes are counted as
 * encoded object lengths.
 *
 * Acceptance (cordon_store_put) is in one place, for replicas and for readers alike
 * (cordon_store_check is its stateless half, for a reader that stores nothing). In order,
 * the first failure returned, and nothing stored changes on any failure:
 *   1. the bytes decode (more than CORDON_OBJECT_MAX bytes: CORDON_ERR_TOO_LARGE without
 *      decoding; then cordon_object_decode: CORDON_ERR_MALFORMED, _TRUNCATED, ...);
 *   2. the value fits the kind's maximum: value_max for owned and shared, the hard
 *      CORDON_OBJECT_VALUE_MAX for crl (CORDON_ERR_TOO_LARGE);
 *   3. lifetime in 1..max_lifetime (CORDON_ERR_OBJ_LIFETIME); created_at <= now + skew
 *      (CORDON_ERR_OBJ_FUTURE); created_at + lifetime > now (CORDON_ERR_OBJ_EXPIRED);
 *   4. cordon_object_verify(): overlay, resource ID, certificate, signature, CRL kind
 *      (CORDON_ERR_OBJ_NOT_ALLOWED, CORDON_ERR_CERT_*, CORDON_ERR_BAD_SIGNATURE, CORDON_ERR_CRL);
 *   5. (put only) seq strictly above the stored entry's (CORDON_ERR_OBJ_STALE). A stored
 *      entry already expired at now (not yet swept) counts as absent, as for get.
 *      put checks 5 BEFORE 4: replicas push each other what they already hold, and a
 *      replay then costs one lookup instead of a signature check. So a stale object is
 *      refused with CORDON_ERR_OBJ_STALE whatever step 4 would say of it (forged, revoked,
 *      not allowed); nothing is learnt from that but the stored seq, which get returns
 *      anyway. A forged object with a higher seq still gets the step-4 code;
 *   6. (put only) the writer's quota in objects and bytes, counted after the replacement
 *      (CORDON_ERR_OBJ_QUOTA); kind crl is not charged to its writer;
 *   7. (put only) the node's capacity in objects and bytes, counted after the replacement
 *      (CORDON_ERR_OBJ_CAPACITY), crl included. Also CORDON_ERR_OBJ_CAPACITY when the LMDB
 *      map is full: its pages can hold less than node_bytes of objects (an object just
 *      over half a page takes a whole one), so keep map_size about twice node_bytes, as
 *      the defaults are. LMDB reuses the pages a commit frees only two commits later, so
 *      a put that meets a full map after a commit that freed pages (an expiry step, a
 *      shrinking replacement) commits one empty write and tries once more.
 * In 6 and 7 a put is refused only when it makes a count grow past its cap: a replacement
 * that does not grow a count is never refused by it, so a writer or a node over caps
 * lowered since (a restart with a smaller configuration) can still shrink and delete.
 * A delete is a tombstone object with a higher seq: stored like any object, charged like
 * one (it holds the entry's seq against replays) until it expires.
 *
 * Values read from LMDB are copied out before the read transaction ends: nothing the
 * caller holds points into the map.
 *
 * Threads: a store is used by one thread at a time (the peer's loop); calls take no lock.
 * Its read transactions are tied to the calling thread (no MDB_NOTLS) and never outlive a
 * call. LMDB allows one open environment per directory per process: open a directory
 * once, and close it before opening it again.
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
    uint64_t
        mine_max; /* the writer's own records (cordon_store_mine_put); 0: CORDON_STORE_MINE_MAX */
};

typedef struct cordon_store cordon_store;

/* Opens (creating) the store. The directory is created 0700 when missing (an existing one
 * is used as it is); LMDB creates its files 0600. Errors: CORDON_ERR_INVAL for a
 * configuration over a hard cap (value_max over CORDON_OBJECT_VALUE_MAX, max_lifetime or
 * skew over CORDON_OBJECT_LIFETIME_MAX, node_bytes over map_size); CORDON_ERR_IO when the
 * directory cannot be made or is not one; CORDON_ERR_DB when LMDB refuses, or when an
 * existing store is of another format or its totals do not count its objects;
 * CORDON_ERR_NOMEM. Durability: every put and every expiry step is committed with an
 * fsync (LMDB's default), except inside a batch, which commits once at its end. */
CORDON_MUST_CHECK cordon_err cordon_store_open(const struct cordon_store_config *cfg,
                                               cordon_store **out);
/* Closes the store; a batch still open is aborted, its puts lost as in a crash. */
void cordon_store_close(cordon_store *st);

/* Steps 1-4 of acceptance, storing nothing; on success *out (may be NULL) borrows data.
 * CORDON_ERR_INVAL for a NULL st, v or data (with len > 0), or now over INT64_MAX. */
CORDON_MUST_CHECK cordon_err cordon_store_check(const cordon_store *st, cordon_object_verifier *v,
                                                const void *data, size_t len, uint64_t now,
                                                struct cordon_object *out);

/* Accepts and stores one encoded object (steps 1-7), replacing the entry's older object,
 * its expiry index entry and its charge. On success, *out (may be NULL) borrows data.
 * Besides the refusals above: CORDON_ERR_INVAL as for check, CORDON_ERR_DB when LMDB
 * fails or finds the store damaged, CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_store_put(cordon_store *st, cordon_object_verifier *v,
                                              const void *data, size_t len, uint64_t now,
                                              struct cordon_object *out);

/* Group commit. Between batch_begin and batch_end, puts and expiry steps share one LMDB
 * write transaction, and end commits it: one fsync for all of them, where each would cost
 * its own (a sync costs as much as several signature checks). Acceptance is unchanged and
 * in the same place: a put is refused (steps 1-7) before it writes anything, so a refused
 * put leaves the batch as it was, earlier puts of the batch intact, and counts (quota,
 * capacity, seq) see the batch's earlier puts. Puts write into the batch's transaction
 * itself (a child transaction per put, as LMDB offers, allocates some 3 MiB each time and
 * cost more than the signature check); expiry steps and other writes use a child.
 * What the caller must know:
 *   - A put that returns CORDON_OK inside a batch is NOT durable until batch_end returns
 *     CORDON_OK: tell no writer "stored" before. When end fails, or the store is closed
 *     (or the process dies) with the batch open, every put of the batch is lost and
 *     nothing else: the store is as it was before batch_begin, stats included.
 *   - Reads inside a batch (get, usage, scan, audit, seq) see the batch's puts: LMDB gives
 *     a thread one transaction at a time, so they go through the batch's.
 *   - A batch is lost at once when a put fails while writing (LMDB found the map full:
 *     that put gets CORDON_ERR_OBJ_CAPACITY; damage: CORDON_ERR_DB), when a child cannot
 *     begin or commit (CORDON_ERR_DB), or when its commit fails (a map the batch filled:
 *     LMDB needs pages to record what it freed, CORDON_ERR_OBJ_CAPACITY; else
 *     CORDON_ERR_DB). Lost, it is undone in memory at once (reads see the committed store),
 *     its later puts and writes return that error, and end returns it.
 *   - After a batch lost to a full map, and until an expiry step removes objects, batches
 *     are direct: each put commits alone (durable when put returns, with step 7's retry),
 *     so that a full node keeps taking what fits instead of losing every batch.
 *   - LMDB holds the batch's changes in memory: keep a batch short (a burst of datagrams).
 *     It holds the store's write lock for its length.
 * batch_begin: CORDON_ERR_INVAL for a NULL st or a batch already open, CORDON_ERR_DB when
 * LMDB refuses. batch_end: CORDON_ERR_INVAL when no batch is open; the error that lost the
 * batch, as above. A batch with nothing written ends without a commit. Either way no batch
 * is open after end. */
CORDON_MUST_CHECK cordon_err cordon_store_batch_begin(cordon_store *st);
CORDON_MUST_CHECK cordon_err cordon_store_batch_end(cordon_store *st);
bool cordon_store_in_batch(const cordon_store *st);

/* Copies the stored object of an entry into out (replacing its contents; out is the
 * caller's, its cap at least CORDON_OBJECT_MAX or CORDON_ERR_TOO_LARGE may poison it).
 * CORDON_ERR_NOT_FOUND when there is none or it expired at now (out untouched; a tombstone
 * is returned: the caller tells "deleted" from "not found" with
 * cordon_object_is_tombstone()). CORDON_ERR_DB when LMDB fails or the stored bytes no
 * longer decode. */
CORDON_MUST_CHECK cordon_err cordon_store_get(cordon_store *st,
                                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                              uint64_t now, cordon_buf *out);

/* Removes at most max objects whose expiry is <= now, oldest first, in one transaction,
 * with their index entries and charges; *removed gets how many. Called on a timer: each
 * call is short (max is clamped to CORDON_STORE_EXPIRE_BATCH; 0 is CORDON_ERR_INVAL). A
 * call with nothing due commits nothing. CORDON_ERR_DB when LMDB fails or the index
 * disagrees with the objects; nothing is removed then. */
CORDON_MUST_CHECK cordon_err cordon_store_expire(cordon_store *st, uint64_t now, size_t max,
                                                 size_t *removed);

/* A compact summary of one stored entry, for replica maintenance. */
struct cordon_store_summary {
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t seq;
    uint64_t expires_at;
};

/* Visits at most max entries (max > 0) in key order, starting after the key at after
 * (CORDON_OBJECT_ENTRY_KEY_LEN bytes; NULL: from the first), and calls fn for those not
 * expired at now: expired entries count toward max too, so a call's work is bounded
 * however many wait for the sweep. fn returns false to stop early (that entry counts as
 * visited). Summaries are copied out; fn must not call back into the store (a read
 * transaction is open). On CORDON_OK, next gets the last key visited, to pass as after to
 * the next call; CORDON_ERR_NOT_FOUND (next untouched) when no entry was left after after;
 * CORDON_ERR_DB when LMDB fails or a stored object no longer decodes. */
CORDON_MUST_CHECK cordon_err
cordon_store_scan(cordon_store *st, const uint8_t *after, size_t max, uint64_t now,
                  bool (*fn)(void *ctx, const struct cordon_store_summary *s), void *ctx,
                  uint8_t next[CORDON_OBJECT_ENTRY_KEY_LEN]);

/* The seq held for an entry: its stored object's, 0 when there is none or it expired at
 * now (as get sees it), without copying the object out (replica maintenance asks this of
 * every entry a SUMMARY names). CORDON_ERR_INVAL for NULL arguments, CORDON_ERR_DB when
 * LMDB fails or the stored bytes no longer decode. */
CORDON_MUST_CHECK cordon_err cordon_store_seq(cordon_store *st,
                                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                              uint64_t now, uint64_t *seq);

/* The writer's own objects, which it republishes before half their lifetime is spent
 * (peer/runtime.c). They are records of this node, not objects it serves: nothing judges
 * them (the node signed them itself), they are not counted in the totals or the usage,
 * never expire and never reach FETCH. A record is the newest object this node wrote to an
 * entry and the time (the caller's clock, Unix seconds in the runtime) it is next due.
 *
 * mine_put replaces the entry's record (obj: 1..CORDON_OBJECT_MAX bytes, copied) and its
 * place in the due index, in one transaction. CORDON_ERR_OBJ_QUOTA when it would add a
 * record beyond mine_max (the configuration's, CORDON_STORE_MINE_MAX by default);
 * CORDON_ERR_OBJ_CAPACITY when the map is full; CORDON_ERR_INVAL, CORDON_ERR_DB, CORDON_ERR_NOMEM.
 */
#define CORDON_STORE_MINE_MAX 10000
CORDON_MUST_CHECK cordon_err cordon_store_mine_put(cordon_store *st,
                                                   const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                                   const void *obj, size_t len,
                                                   uint64_t republish_at);
/* Removes the entry's record (none: CORDON_OK). CORDON_ERR_INVAL, CORDON_ERR_DB. */
CORDON_MUST_CHECK cordon_err cordon_store_mine_del(cordon_store *st,
                                                   const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN]);
/* The record due first: its entry key, republish time and (obj not NULL: copied into it,
 * its cap at least CORDON_OBJECT_MAX) object. CORDON_ERR_NOT_FOUND when there is none;
 * CORDON_ERR_DB when LMDB fails or the index and the records disagree. The caller that
 * works through what is due replaces or removes each record it takes, so the next call
 * finds the next one. */
CORDON_MUST_CHECK cordon_err cordon_store_mine_first(cordon_store *st,
                                                     uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                                     uint64_t *republish_at, cordon_buf *obj);
/* How many records there are. CORDON_ERR_INVAL, CORDON_ERR_DB. */
CORDON_MUST_CHECK cordon_err cordon_store_mine_count(cordon_store *st, uint64_t *n);

struct cordon_store_stats {
    uint64_t objects; /* held now, expired ones not yet swept included (as persisted) */
    uint64_t bytes;
    uint64_t accepted; /* puts since open */
    uint64_t refused;  /* puts refused since open, every refusal code (not _DB, _NOMEM,
                          _INVAL: those are the store's or the caller's failures) */
    uint64_t expired;  /* removed by cordon_store_expire since open */
};
void cordon_store_stats(const cordon_store *st, struct cordon_store_stats *out);

/* Objects and bytes held for one writer (0, 0 when none; crl objects are never charged).
 * Expired objects count until they are swept. */
CORDON_MUST_CHECK cordon_err cordon_store_usage(cordon_store *st,
                                                const uint8_t writer[CORDON_NODE_ID_LEN],
                                                uint64_t *objects, uint64_t *bytes);

/* Checks that the databases agree: every object decodes under its own entry key and has
 * its expiry entry, the index holds nothing else, the totals count the objects, and each
 * usage record is the sum of its writer's charged objects (no record for a writer with
 * none). CORDON_ERR_DB on the first disagreement, CORDON_ERR_NOMEM. Reads everything: for
 * tests and an operator's check, not for a timer. */
CORDON_MUST_CHECK cordon_err cordon_store_audit(cordon_store *st);

#endif
