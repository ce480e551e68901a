/*
 * peer/core/core.h — the overlay core: a hardened Kademlia node as a state machine with
 * no I/O (ARCHITECTURE.md, "The sans-I/O core"; after jech/dht's dht_periodic/dht_sendto,
 * without its globals).
 *
 * The host drives it with three kinds of event and supplies the rest:
 *   - cordon_core_receive(): a message arrived from a node whose ID the host has proven
 *     (the DTLS handshake in the runtime, the virtual network in the simulator). That ID
 *     is the only identity the core ever believes, and a contact enters the routing table
 *     only through such a proven message.
 *   - cordon_core_tick(): time passed; the core runs timeouts, retries, refreshes.
 *     cordon_core_next_deadline() says when it next needs a tick.
 *   - local requests: join, lookup, put, get, status, forget.
 * Time is always passed in (milliseconds on the host's monotonic clock); randomness and
 * sending go through the host callbacks. A core never blocks and never calls the clock.
 *
 * Hardening (S/Kademlia and RFC 5694 section 7): handshake-proven IDs only; at most
 * per_prefix_contacts contacts per IP prefix (/24, /64) per bucket; long-lived contacts
 * are kept over new ones; lookups over d disjoint paths (a node serves at most one path);
 * transaction IDs from the host's randomness, answers accepted only from the node asked
 * and only once; token buckets per remote node for requests and for routing queries
 * (senders beyond what the tables track share one overflow budget); a global inbound
 * budget; a churn limiter that holds off IDs that rejoin too often.
 *
 * Storage (ARCHITECTURE.md, "Storage"; the messages of docs/protocol.md 7.5): the host
 * supplies its object store through struct cordon_core_storage (cordon_core_set_storage);
 * the core never touches a file. With it the core serves STORE and FETCH, and runs puts
 * (cordon_core_put: a lookup of the object's resource ID, then STORE to the r closest
 * nodes found) and gets (cordon_core_get: the same lookup, then FETCH from the r closest in
 * parallel, replacing those that fail, have nothing or lie, and the valid object with the
 * highest seq wins). When the storage can also list its entries and tell a held seq (scan,
 * held), the core maintains the replicas (docs/protocol.md 7.8): every maintain_ms, and
 * maintain_soon_ms after the table gains a node, it walks the store in batches and sends
 * each of the r nodes closest to an entry (by its table) a SUMMARY of what it holds; a
 * WANT answer gets the entries it names in STOREs. It answers SUMMARY with WANT for the
 * entries of resources it should replicate that it lacks or holds older. Writers'
 * republishing comes later.
 *
 * Several cores may live in one process (no globals): the simulator runs thousands.
 */
#ifndef CORDON_PEER_CORE_CORE_H
#define CORDON_PEER_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "wire/msg.h"
#include "wire/overlay_doc.h"

/* Caps of one core (common/limits.h holds the project-wide ones). Every table below is
 * allocated lazily and grows up to its cap, so an idle core stays small. */
#define CORDON_K_MAX 64               /* largest k accepted */
#define CORDON_PENDING_MAX 256        /* requests in flight per core */
#define CORDON_LOOKUPS_MAX 64         /* concurrent lookups per core */
#define CORDON_CHURN_TRACKED_MAX 1024 /* node IDs the churn limiter remembers */
#define CORDON_PATHS_MAX 16           /* disjoint paths of one lookup (overlay doc maximum) */
#define CORDON_RATE_NODES_MAX 64      /* remote nodes with busy per-node token buckets */
#define CORDON_OVERFLOW_SHARE 4       /* senders beyond them share inbound_rate / 4 */
#define CORDON_SHORTLIST_PER_K 2      /* a lookup path keeps at most 2k candidates */
#define CORDON_PATH_QUERIES_PER_K 3   /* and queries at most 3k nodes */
#define CORDON_RPC_RETRIES_MAX 8      /* retries of one request (the timeout doubles each) */
#define CORDON_FAIL_EVICT_MAX 255     /* largest fail_evict accepted */
#define CORDON_STORAGE_OPS_MAX 64     /* puts and gets running per core */
#define CORDON_REPLICAS_MAX 16        /* largest r (the overlay document's maximum) */
#define CORDON_GET_ASK_PER_R 2        /* a get asks at most 2r replicas, itself included */

struct cordon_core_host {
    void *ctx;
    /* Sends an encoded message to a node. The host delivers it over a link that proves
     * the node's ID; if it cannot (no route, failed handshake, the handshake proved
     * another ID) it later calls cordon_core_link_failed(). msg is valid only during the
     * call. send must not call back into the core: report failures later. */
    void (*send)(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len);
    /* Fills out with n random bytes (transaction IDs, refresh targets, hash seeds). A
     * seeded generator makes a core deterministic. */
    void (*random)(void *ctx, void *out, size_t n);
};

/* The object store of this node, supplied by the host (cordon_core_set_storage): the
 * runtime backs it with cordon_store (store/store.h) and a verifier, the simulator and the
 * tests with what they like. The core decides where objects go and who is asked; the host
 * decides what is accepted, and does the file I/O. now_ms is the core's time of the event
 * (the host's monotonic clock); acceptance judges created_at and lifetime on wall-clock
 * seconds, which the host takes from its own clock (the simulator from its virtual one).
 * Objects are passed as their encoded bytes (wire/object.h), borrowed for the call only.
 * None of the three may call back into the core. */
struct cordon_core_storage {
    void *ctx;
    /* Accepts and stores one object (len in 1..CORDON_OBJECT_MAX), as cordon_store_put():
     * CORDON_OK when stored, else why not, as a cordon_err that cordon_msg_store_code()
     * maps to a STORED code (errors of the host itself, _DB or _NOMEM, map to INTERNAL).
     * *held gets the seq this node holds for the object's entry after the call: the
     * object's when stored; on a refusal the stored one (0 when none, or unknown), so a
     * writer refused as stale learns the seq to beat. Serves STORE, and the writer's own
     * copy when it is one of the r closest. */
    cordon_err (*put)(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len, uint64_t *held);
    /* Copies the object stored under key into out (a buffer of the core's with a cap of
     * CORDON_OBJECT_MAX, empty; cordon_store_get() fills it as it is), or
     * CORDON_ERR_NOT_FOUND when there is none or it expired. Any other error is the host's
     * failure (FETCH is answered ERROR "internal"). Serves FETCH, and a get's own copy. */
    cordon_err (*get)(void *ctx, uint64_t now_ms, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                      cordon_buf *out);
    /* Judges an object a get received, storing nothing (cordon_store_check()): CORDON_OK
     * when it is genuine and current, else why not. The core has already decoded it and
     * matched its entry key to the one asked for; it reads seq from its own decoding. */
    cordon_err (*check)(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len);
    /* Replica maintenance (docs/protocol.md 7.8). Both may be NULL: the core then does no
     * maintenance and answers SUMMARY with ERROR "unsupported", as before.
     *
     * scan lists the entries held, in increasing memcmp order of their keys, starting
     * strictly after after (NULL: from the first), at most max (1..CORDON_SUMMARY_MAX) of
     * them, into out[0..*n). Expired entries are skipped. *n = 0 means the walk reached the
     * end. Any error is the host's failure (the pass stops and starts over next period), and
     * so is a batch of more than max entries or of keys not strictly above after and each
     * other. */
    cordon_err (*scan)(void *ctx, uint64_t now_ms, const uint8_t *after,
                       struct cordon_summary_entry *out, size_t max, size_t *n);
    /* The seq held for key (0 when none or expired), without copying the object: serves
     * SUMMARY (a WANT names the entries held at a lower seq or not at all). */
    cordon_err (*held)(void *ctx, uint64_t now_ms, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                       uint64_t *seq);
};

/* cordon_core_new refuses (CORDON_ERR_INVAL) params that cordon_overlay_params_check
 * refuses, rpc_timeout_ms outside 1..600000, rpc_retries over CORDON_RPC_RETRIES_MAX,
 * fail_evict outside 1..CORDON_FAIL_EVICT_MAX, refresh_ms 0, maintain_ms outside
 * 1..86400000, maintain_soon_ms or maintain_watch_ms outside 1..maintain_ms and
 * watch_timeout_min_ms outside 1..rpc_timeout_ms. */
struct cordon_core_config {
    struct cordon_overlay_params params; /* k, alpha, disjoint_paths, limits (overlay doc) */
    uint32_t rpc_timeout_ms;             /* first timeout of a request (1000) */
    uint32_t rpc_retries;                /* retries after a timeout, with doubling (1) */
    uint32_t fail_evict;                 /* consecutive failures that evict a contact (2) */
    uint32_t refresh_ms;                 /* bucket refresh period (15 min, + up to half) */
    uint32_t check_quiet_ms; /* a full bucket pings its least-recently-seen resident for a
                              * newcomer only if that one was quiet this long (60 s) */
    /* STOREs get budgets of their own, tighter than the request bucket that they also
     * pay (RFC 5694 section 7, storage flooding): a STORE can cost a signature check and
     * a committed, synced write, where a FETCH or FIND_NODE costs a read. Local policy,
     * not the overlay document's (yet). Each 1..100000. */
    uint32_t store_rate;        /* STOREs per second per remote node (10) */
    uint32_t store_burst;       /* token bucket depth for them (100) */
    uint32_t store_global_rate; /* STOREs per second from all remotes, 1 s deep (1000) */
    /* Replica maintenance: a pass over the whole store every maintain_ms (60 s, 1..86400000;
     * the first one jittered within the period), and one maintain_soon_ms (5 s, 1..maintain_ms)
     * after the routing table gains a node, so a joiner gets its objects without waiting
     * a period (plus up to half of it again, drawn, so that nodes restarted together do
     * not pass together; one early pass pending at a time). Only when the storage has scan
     * and held, and after cordon_core_join. Between passes, the other replicas of what
     * this node is among the r closest for (as its last pass or the STOREs it accepted
     * since found them, at most 16) are pinged every maintain_watch_ms (1 s,
     * 1..maintain_ms) unless heard from meanwhile, without retry; when one of them fails a
     * request, a pass starts at once and hands their entries to the next closest. Under churn, the
     * time from a replica's departure to a new copy decides whether the last copy departs first
     * (bench/README.md, churn). */
    uint32_t maintain_ms;
    uint32_t maintain_soon_ms;
    uint32_t maintain_watch_ms;
    /* A watch ping waits SRTT + 4 x RTTVAR of its receiver (RFC 6298's estimator, from
     * answers to first tries), at least this (200 ms) and at most rpc_timeout_ms, which it
     * also waits before the first sample: a departed replica is noticed a few round trips
     * after the ping rather than a second. A late PONG costs one early pass. */
    uint32_t watch_timeout_min_ms;
};

void cordon_core_config_default(struct cordon_core_config *cfg);

struct cordon_lookup_stats {
    uint32_t hops;     /* the chain of requests that reached the closest node found (the
                        * result's first contact): 1 when a seed from our own table */
    uint32_t rounds;   /* the longest chain of requests on any path, the closing round
                        * that confirms the k closest included */
    uint32_t messages; /* FIND_NODE messages sent, retries included */
    uint32_t answered; /* NODES answers */
    uint32_t failed;   /* requests that timed out, hit a link failure, got an ERROR
                        * answer, or went to a node forgotten meanwhile */
};

/* A lookup's result: up to k contacts closest to the target that answered, closest first.
 * result is CORDON_OK, or CORDON_ERR_NOT_FOUND when no node answered. The array is valid
 * only during the call. The callback may start lookups, forget nodes and read the status,
 * but must not free the core.
 *
 * How a lookup runs (lookup.c has the details): the k closest contacts of the table are
 * dealt round-robin to d = disjoint_paths paths; each path asks up to alpha of its closest
 * candidates at a time and learns candidates only from its own answers; a node is asked
 * by one path at most. A path ends when its k closest candidates have answered (failed
 * ones drop out), when it has no candidate left, or after 3k requests; the lookup ends
 * with its last path, so it always ends within bounded time. Contacts named in answers
 * are candidates only: they enter the routing table when they themselves answer. */
typedef void (*cordon_lookup_cb)(void *arg, cordon_err result, const struct cordon_contact *closest,
                                 size_t n, const struct cordon_lookup_stats *stats);

/* Counters count events since cordon_core_new; each message is counted once, under the
 * first check that stopped it. */
struct cordon_core_status {
    size_t table_size;
    size_t buckets_used;
    size_t pending;               /* requests in flight */
    size_t lookups;               /* lookups running, the core's own (join, refresh) too */
    uint64_t msgs_in, msgs_out;   /* every message received / sent */
    uint64_t dropped_malformed;   /* undecodable messages */
    uint64_t dropped_unsolicited; /* answers to nothing we asked, or from another node, and
                                   * WANTs naming an entry their SUMMARY did not */
    uint64_t dropped_rate_node;   /* over a per-node token bucket */
    uint64_t dropped_rate_global; /* over the global inbound budget */
    uint64_t refused_prefix;      /* contacts refused by the per-prefix limit */
    uint64_t refused_churn;       /* admissions refused by the churn limiter */
    uint64_t refused_full;        /* messages of newcomers kept out by a full bucket */
    uint64_t timeouts;            /* requests that failed after their last retry */
    uint64_t paced;               /* requests held back to keep to a receiver's per-node
                                   * limits (the overlay's request and routing rates) */
    uint64_t retried_limited;     /* requests sent again after a RATE_LIMITED answer */
    uint64_t evictions;           /* contacts evicted after fail_evict failures */
    /* storage */
    size_t storage_ops;          /* puts and gets running */
    uint64_t dropped_rate_store; /* STOREs within the request bucket but over the sender's
                                  * store bucket or the global store budget */
    uint64_t stores_served;      /* STOREs answered STORED */
    uint64_t stores_accepted;    /* of them, accepted */
    uint64_t fetches_served;     /* FETCHes answered OBJECT */
    uint64_t get_stale;          /* valid answers to gets older than the object returned:
                                  * outvoted replicas */
    uint64_t get_forged;         /* answers to gets that failed the check: forged or
                                  * tampered, of another entry, revoked, expired */
    /* replica maintenance */
    uint64_t maintain_passes;       /* passes over the whole store completed */
    uint64_t summaries_sent;        /* SUMMARY requests sent */
    uint64_t summaries_served;      /* SUMMARY requests answered WANT */
    uint64_t maintain_pushed;       /* STOREs sent because a WANT asked for them */
    uint64_t maintain_accepted;     /* of them, answered STORED accepted */
    uint64_t maintain_retargeted;   /* targets added after a SUMMARY failed (retarget) */
    uint64_t maintain_watched;      /* watch pings sent to other replicas between passes */
    uint64_t maintain_watch_failed; /* of them, failed (each started a pass) */
};

/* What a put did. The replicas are the r nodes closest to the object's resource ID among
 * those the lookup found to answer, and this node when it is closer than the r-th of
 * them (its own copy goes through storage->put, no message). */
struct cordon_put_result {
    uint32_t replicas; /* chosen: r, fewer in an overlay of fewer nodes */
    uint32_t accepted; /* STORED accepted (or this node's storage->put returned CORDON_OK) */
    uint32_t refused;  /* STORED with a refusal */
    uint32_t failed;   /* no STORED: timeout, link failure, ERROR (rate limited...) */
    uint16_t code;     /* the most common refusal's STORED code, the first seen among
                        * equals; 0 when none refused */
    uint64_t held;     /* the highest seq a refusing replica said it holds (stale: the seq
                        * to beat) */
    bool self;         /* this node was one of the replicas */
    struct cordon_lookup_stats lookup;
};

/* result: CORDON_OK when at least one replica accepted (see res->accepted); else, when
 * some refused, the refusal of res->code as its own cordon_err (cordon_msg_store_err():
 * CORDON_ERR_OBJ_STALE, _OBJ_QUOTA, _OBJ_NOT_ALLOWED, _TOO_LARGE..., CORDON_ERR_REFUSED for
 * a replica's internal failure or a code this version does not know); else
 * CORDON_ERR_NETWORK: no replica answered. res is valid only during the call. */
typedef void (*cordon_put_cb)(void *arg, cordon_err result, const struct cordon_put_result *res);

struct cordon_get_result {
    uint32_t asked;     /* replicas asked, this node included when it is one */
    uint32_t found;     /* answers with a valid object */
    uint32_t not_found; /* answers without one */
    uint32_t stale;     /* valid objects with a lower seq than the one returned */
    uint32_t forged;    /* answers that failed the check or named another entry */
    uint32_t failed;    /* no answer: timeout, link failure, ERROR */
    uint64_t seq;       /* of the object returned */
    struct cordon_lookup_stats lookup;
};

/* result: CORDON_OK with the valid object of the highest seq (obj, len bytes, valid only
 * during the call; a tombstone is an object: cordon_object_is_tombstone() tells a delete);
 * CORDON_ERR_NOT_FOUND when some replica answered but none with a valid object;
 * CORDON_ERR_NETWORK when none answered at all. */
typedef void (*cordon_get_cb)(void *arg, cordon_err result, const uint8_t *obj, size_t len,
                              const struct cordon_get_result *res);

typedef struct cordon_core cordon_core;

/* self is this node's proven ID and address. The host struct is copied; host->random is
 * called during the call (hash seeds). CORDON_ERR_INVAL, CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_core_new(const struct cordon_core_config *cfg,
                                             const struct cordon_contact *self,
                                             const struct cordon_core_host *host,
                                             cordon_core **out);
/* Accepts NULL. Running lookups, puts and gets are dropped without their callbacks. */
void cordon_core_free(cordon_core *core);
/* Gives the core this node's object store (the struct is copied). Until then a core serves
 * no storage: STORE and FETCH are answered ERROR "unsupported" and put/get refuse. Set it
 * once, before the first event that needs it. CORDON_ERR_INVAL for a NULL argument or
 * function, or when it is already set; CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_core_set_storage(cordon_core *core,
                                                     const struct cordon_core_storage *storage);

/* ---- events -------------------------------------------------------------------------- */

/* Requests (PING, FIND_NODE, STORE, FETCH, SUMMARY) are answered; answers (every message with the
 * response flag) are matched to pending requests. The order of checks: global inbound
 * budget (over it: dropped silently), decoding, then for requests the sender's request
 * bucket and, for FIND_NODE, its routing bucket, for STORE its store bucket and the global
 * store budget (over them: an ERROR "rate limited" answer). Only a message that passes
 * them all admits `from` to the table. msg is read during the call only: an object it
 * carries is handed to the storage or copied, never kept. */
void cordon_core_receive(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                         const uint8_t *msg, size_t len);
/* The link to `to` failed: one failure for the contact, and every request pending to it
 * fails now. */
void cordon_core_link_failed(cordon_core *core, uint64_t now_ms, const struct cordon_contact *to);
/* Runs what is due at now_ms: retries and timeouts, the join's self-lookup if it waited
 * for a free slot, the bucket refresh, replica maintenance (a pass due, or one that paused
 * to pace itself). Calling it early or late is harmless. */
void cordon_core_tick(cordon_core *core, uint64_t now_ms);
/* The time of the next timer, or UINT64_MAX when none is set. */
uint64_t cordon_core_next_deadline(const cordon_core *core);

/* ---- local requests ------------------------------------------------------------------ */

/* Pings the bootstrap contacts (at most CORDON_BOOTSTRAP_MAX; they enter the table when
 * they answer), and once every ping has been answered or has failed looks up this node's
 * own ID (at once when n is 0, for the first node of an overlay). From now on, every
 * refresh_ms plus a random part of up to refresh_ms / 2 (drawn anew each time, so nodes
 * that joined together do not refresh together), each non-empty bucket that saw no traffic
 * (no lookup into its range, no message from a resident) for refresh_ms gets a lookup of a
 * random ID in its range, one lookup at a time. CORDON_ERR_INVAL for NULL bootstrap with n > 0 or n
 * too large. */
CORDON_MUST_CHECK cordon_err cordon_core_join(cordon_core *core, uint64_t now_ms,
                                              const struct cordon_contact *bootstrap, size_t n);
/* CORDON_ERR_BUSY when CORDON_LOOKUPS_MAX lookups are running. cb runs from inside a
 * later receive/tick/link_failed call (or this one, if the table is empty). */
CORDON_MUST_CHECK cordon_err cordon_core_lookup(cordon_core *core, uint64_t now_ms,
                                                const uint8_t target[CORDON_NODE_ID_LEN],
                                                cordon_lookup_cb cb, void *arg);
/* A lookup of a node: the same as cordon_core_lookup(), except that it ends as soon as the
 * target itself answers one of its FIND_NODE requests (over a link that proved its ID); the
 * result then holds the target first and the nodes that had answered until then. It is
 * frugal: one request in flight per path, the target asked as soon as it is a candidate
 * and nothing else sent while that request is out, so a node of our own table costs one
 * message. A target that does not answer makes it a full lookup. Same errors. */
CORDON_MUST_CHECK cordon_err cordon_core_find_node(cordon_core *core, uint64_t now_ms,
                                                   const uint8_t target[CORDON_NODE_ID_LEN],
                                                   cordon_lookup_cb cb, void *arg);
/* Stores an object (its encoded bytes, len in 1..CORDON_OBJECT_MAX; copied for the
 * operation, so the caller's bytes may go at once) on the r = params.replicas nodes closest
 * to its resource ID: a disjoint-path lookup of the resource ID, then STORE to the r
 * closest nodes that answered it, this node's own storage->put instead when it is among
 * them. The core judges nothing but the framing: the replicas accept or refuse, and cb
 * says which and why (cordon_put_cb). It ends when every replica answered or its request
 * failed (each request ends by its last timeout), so in bounded time.
 * Errors, with no callback: CORDON_ERR_INVAL (NULL arguments, no storage set),
 * CORDON_ERR_TOO_LARGE (len over CORDON_OBJECT_MAX), the decoding errors of
 * cordon_object_decode() (the bytes are not one object), CORDON_ERR_BUSY
 * (CORDON_STORAGE_OPS_MAX operations or CORDON_LOOKUPS_MAX lookups running),
 * CORDON_ERR_NOMEM. On CORDON_OK cb runs exactly once, from inside a later
 * receive/tick/link_failed/forget call, or this one when no other node is asked; like a
 * lookup callback it may start operations but must not free the core. */
CORDON_MUST_CHECK cordon_err cordon_core_put(cordon_core *core, uint64_t now_ms, const uint8_t *obj,
                                             size_t len, cordon_put_cb cb, void *arg);
/* Reads the entry key (resource ID || entry writer, wire/object.h): a lookup of the
 * resource ID, then FETCH from the r closest nodes found in parallel (this node's
 * storage->get when it is among them). An answer that fails, holds nothing, or holds an
 * object that is not of the entry or fails storage->check is replaced by the next closest
 * node, up to CORDON_GET_ASK_PER_R * r asked in all. Every answer is checked; the valid
 * object with the highest seq wins, and the others are counted (cordon_get_cb, and
 * get_stale / get_forged in the status). Errors as for put (but for the object's). */
CORDON_MUST_CHECK cordon_err cordon_core_get(cordon_core *core, uint64_t now_ms,
                                             const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                             cordon_get_cb cb, void *arg);
void cordon_core_status(const cordon_core *core, struct cordon_core_status *out);
/* Copies up to max contacts of the routing table; returns how many there are in all. */
size_t cordon_core_contacts(const cordon_core *core, struct cordon_contact *out, size_t max);
/* Drops a node (revoked, or banned by the host) from the table and from running lookups
 * (their requests to it fail, it is not asked again by them). It may come back later like
 * any node, through a message of its own: the host keeps banned nodes off its links.
 * Works at the latest time the core was given. Lookups may end, and call back, inside. */
void cordon_core_forget(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN]);
/* Bytes of heap this core holds (for the per-node memory figure): the core, the buckets,
 * the pending table, running lookups, puts and gets (with their object copies), the
 * rate-limit tables and the churn limiter. Buffers that live within one call (encoding a
 * STORE or OBJECT, serving a FETCH: up to CORDON_MSG_STORAGE_MAX each) are not counted. */
size_t cordon_core_memory(const cordon_core *core);

#endif
