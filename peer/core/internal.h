/*
 * peer/core/internal.h — the state of one overlay core and the functions its modules call
 * on each other. Not a public header: the host uses core.h only; tests may use this one.
 *
 *   table.c    k-buckets: admission (long-lived preference, per-prefix limit, churn
 *              limiter), failures and eviction, the k closest contacts to a target
 *   rpc.c      pending requests: transaction IDs, timeouts, retries, matching answers
 *   lookup.c   iterative lookups over disjoint paths
 *   limits.c   per-node token buckets, the global inbound budget, the churn limiter
 *   storage.c  puts and gets over r replicas, serving STORE, FETCH and SUMMARY, and
 *              replica maintenance (SUMMARY/WANT and the STOREs they ask for)
 *   core.c     the public API: message dispatch, serving requests, join, refresh, status
 *
 * Re-entrancy: a lookup, put or get callback may call back into the core (start a lookup,
 * forget a node, read the status), but not free it. host->send and the storage functions
 * must not call back into the core; a failed link is reported later through
 * cordon_core_link_failed().
 */
#ifndef CORDON_PEER_CORE_INTERNAL_H
#define CORDON_PEER_CORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ratelimit.h"
#include "peer/core/core.h"
#include "peer/core/id.h"

/* ---- routing table -------------------------------------------------------------------- */

struct table_entry {
    uint64_t last_seen_ms; /* last accepted message from it */
    struct cordon_contact c;
    uint8_t fails; /* consecutive failures; fail_evict of them evict */
    /* Round-trip time to it, RFC 6298's estimator in ms (srtt8 = 8 x SRTT, rttvar4 = 4 x
     * RTTVAR, saturating), from answers to first tries only (Karn): the watch's timeout. */
    bool has_rtt;
    uint16_t srtt8, rttvar4;
};

/* One k-bucket, allocated when its first contact arrives and grown up to k entries. */
struct bucket {
    uint64_t last_active_ms; /* last lookup into its range or message from a resident */
    uint16_t n, cap;
    bool has_repl;      /* a newcomer waits for a resident to fail */
    bool check_pending; /* a ping to the least-recently-seen resident is out */
    struct cordon_contact repl;
    struct table_entry e[];
};

/* ---- requests in flight --------------------------------------------------------------- */

enum pending_purpose {
    PURPOSE_PLAIN = 0,
    PURPOSE_JOIN,    /* a bootstrap ping: the self-lookup starts when all are resolved */
    PURPOSE_CHECK,   /* a ping to a full bucket's least-recently-seen resident */
    PURPOSE_LOOKUP,  /* a FIND_NODE of a lookup path */
    PURPOSE_STORAGE, /* a STORE or FETCH of a put, get or push, or a maintenance SUMMARY */
    PURPOSE_WATCH,   /* a ping to another replica of what this node holds (storage.c) */
};

struct pending {
    uint64_t deadline_ms;
    struct cordon_contact to;
    uint8_t target[CORDON_NODE_ID_LEN]; /* FIND_NODE only */
    uint32_t txid;
    uint32_t timeout_ms; /* of the current try; doubles on each retry */
    uint32_t lookup;     /* serial of the lookup (PURPOSE_LOOKUP), of the put, get or push
                            (PURPOSE_STORAGE), or of the maintenance target (a SUMMARY) */
    uint8_t type;        /* CORDON_MSG_PING, _FIND_NODE, _STORE, _FETCH or _SUMMARY */
    uint8_t purpose;
    uint8_t tries; /* retries sent so far */
    uint8_t held;  /* not sent yet (a first try or a retry): deadline_ms is when it may go */
    uint8_t path;  /* lookup path, or the replica's index in its put or get */
};

enum rpc_outcome {
    RPC_ANSWERED, /* PONG, NODES, STORED or OBJECT */
    RPC_REFUSED,  /* an ERROR answer */
    RPC_FAILED,   /* timeout after retries, link failure, or the node was forgotten */
};

/* ---- lookups -------------------------------------------------------------------------- */

enum cand_state { CAND_NEW = 0, CAND_INFLIGHT, CAND_ANSWERED };

struct cand {
    struct cordon_contact c;
    uint8_t state;
    uint8_t depth; /* requests on the chain that led to it, itself included */
};

struct lookup_path {
    struct cand *cand; /* sorted by distance to the target, at most shortlist_cap */
    uint16_t n;
    uint16_t inflight;
    uint16_t queries;
    bool done;
};

struct claim {
    uint8_t id[CORDON_NODE_ID_LEN];
    uint8_t path; /* CLAIM_FORGOTTEN for nodes the host made the core forget */
};
#define CLAIM_FORGOTTEN 0xff

/* LOOKUP_FIND is a user lookup that ends as soon as the target itself answers. */
enum lookup_kind { LOOKUP_USER = 0, LOOKUP_SELF, LOOKUP_REFRESH, LOOKUP_FIND };

struct lookup {
    uint32_t serial;
    uint8_t kind;
    uint8_t target[CORDON_NODE_ID_LEN];
    cordon_lookup_cb cb;
    void *arg;
    struct cordon_lookup_stats stats;
    uint16_t npaths, shortlist_cap, query_cap;
    uint16_t nclaims, claims_cap;
    bool target_inflight; /* LOOKUP_FIND: a request to the target itself is out */
    struct claim *claims; /* every node queried by some path, and forgotten ones */
    size_t bytes;         /* heap held, for cordon_core_memory */
    struct lookup_path path[CORDON_PATHS_MAX];
};

/* ---- puts and gets -------------------------------------------------------------------- */

/* OP_PUSH is a STORE that replica maintenance sends because a WANT asked for the entry:
 * one replica, no lookup, no callback. */
enum storage_op_kind { OP_PUT = 0, OP_GET, OP_PUSH };

/* A replica of a put or get: one of the nodes closest to the resource ID. */
enum replica_state {
    REPLICA_NEW = 0, /* not asked yet */
    REPLICA_ASKED,   /* its request is in flight */
    REPLICA_GOOD,    /* answered: accepted (put), or with a valid object (get) */
    REPLICA_BAD,     /* refused, failed, had nothing, lied, or was forgotten */
};

struct replica {
    struct cordon_contact c;
    bool self; /* this node: served by the host's storage, no message */
    uint8_t state;
};

/* Replicas a put or get may hold: r for a put, CORDON_GET_ASK_PER_R * r for a get. */
#define OP_REPLICAS_MAX (CORDON_GET_ASK_PER_R * CORDON_REPLICAS_MAX)

struct storage_op {
    cordon_core *core; /* for the lookup callback */
    uint32_t serial;
    uint8_t kind;
    bool looking; /* its lookup is running; replicas are known when it ends */
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    cordon_put_cb put_cb;
    cordon_get_cb get_cb;
    void *arg;
    uint8_t *obj; /* put: the caller's object (copied); get: the best valid answer so far */
    size_t len;
    uint64_t seq; /* put: the object's; get: of obj */
    uint16_t nrep, limit, inflight;
    struct replica rep[OP_REPLICAS_MAX];
    uint64_t valid_seq[OP_REPLICAS_MAX]; /* get: the seq of every valid answer (stale count) */
    uint16_t codes[CORDON_REPLICAS_MAX]; /* put: the STORED code of every refusal */
    struct cordon_put_result put;
    struct cordon_get_result get;
};

/* ---- replica maintenance ------------------------------------------------------------------ */

/* A pass walks the store in batches of at most CORDON_SUMMARY_MAX entries (storage->scan).
 * Each entry belongs on the r nodes closest to its resource ID among the table and this
 * node; every one of them but this node is a target of the batch, and gets one SUMMARY
 * naming the batch's entries it should hold. Work is bounded three ways: at most
 * MAINT_BATCHES_MAX batches are held at once (a batch is scanned only when one is done),
 * MAINT_SUMMARIES_MAX SUMMARYs are in flight and MAINT_PUSHES_MAX pushes (OP_PUSH), and one
 * event scans at most MAINT_SCANS_PER_STEP batches; a pass that stopped on that last cap
 * goes on MAINT_PACE_MS later. So a large store is walked at the pace its answers come
 * back, never in one burst, and pushes never take more than 8 of the 64 operation slots
 * that puts and gets share. */
#define MAINT_BATCHES_MAX 4
#define MAINT_SUMMARIES_MAX 16
#define MAINT_PUSHES_MAX 8
#define MAINT_SCANS_PER_STEP 4
#define MAINT_PACE_MS 10
/* A target whose SUMMARY failed hands its entries to the next closest nodes at once
 * (storage.c, retarget): a batch grows to at most this many times its first n * r
 * targets, so a region of departed nodes costs a bounded number of SUMMARYs. */
#define MAINT_RETARGETS 3
/* Between passes a node watches the other replicas of the entries it is among the r
 * closest for (as its last pass and the STOREs it accepted since found them): at most this
 * many, pinged every maintain_watch_ms unless heard from within half of it (storage.c,
 * watch_step). */
#define MAINT_WATCH_MAX 16

enum maint_target_state {
    TARGET_NEW = 0, /* its SUMMARY is not sent yet */
    TARGET_ASKED,   /* its SUMMARY is in flight */
    TARGET_WANTS,   /* answered WANT: want holds the entries still to push */
    TARGET_DONE,    /* everything pushed, or failed, refused, answered badly, forgotten */
};

struct maint_target {
    struct cordon_contact c;
    uint32_t serial;  /* names its SUMMARY in the pending table (pending.lookup) */
    uint16_t entries; /* bit i: batch entry i is in its SUMMARY */
    uint16_t want;    /* bit i: batch entry i asked for and not pushed yet */
    uint8_t state;
};

struct maint_batch {
    struct cordon_summary_entry e[CORDON_SUMMARY_MAX]; /* in scan (key) order */
    size_t n;
    struct maint_target *t; /* nt of cap; cap at most MAINT_RETARGETS * n * r */
    size_t nt, cap;
};

/* ---- churn limiter -------------------------------------------------------------------- */

struct churn_entry {
    uint64_t window_start_ms; /* first re-admission of the current window */
    uint64_t last_ms;         /* last eviction or re-admission: the oldest entry goes first */
    uint8_t id[CORDON_NODE_ID_LEN];
    uint32_t rejoins; /* re-admissions in the current window */
    bool out;         /* evicted and not re-admitted since */
};

struct token_bucket {
    double tokens;
    uint64_t last_ms;
};

/* Observes every FIND_NODE a lookup path sends (tests check disjointness with it). */
typedef void (*cordon_core_query_hook)(void *ctx, uint32_t lookup, unsigned path,
                                       const struct cordon_contact *to);

struct cordon_core {
    struct cordon_core_config cfg;
    struct cordon_contact self;
    struct cordon_core_host host;
    struct cordon_core_status st; /* counters; sizes are filled in by cordon_core_status */

    struct bucket *buckets[CORDON_ID_BITS];
    size_t table_size, buckets_used, table_bytes;

    struct pending *pend; /* unordered; grown and shrunk between 16 and CORDON_PENDING_MAX */
    size_t npend, pend_cap;

    struct lookup *lookups[CORDON_LOOKUPS_MAX];
    size_t nlookups;
    uint32_t next_serial;
    bool stalled; /* a lookup could not send for a full pending table */

    cordon_ratelimit *rate_request, *rate_routing;
    struct token_bucket global;       /* inbound_rate per second, for every message */
    struct token_bucket overflow;     /* shared by senders the per-node tables cannot track */
    cordon_ratelimit *rate_store;     /* per-node STORE buckets, made with the storage */
    struct token_bucket store_global; /* store_global_rate per second, for every STORE */
    /* This node's own requests, paced to what the receivers allow it (limits.c). */
    cordon_ratelimit *pace_request, *pace_routing;

    struct cordon_core_storage storage; /* all NULL until cordon_core_set_storage */
    struct storage_op *ops[CORDON_STORAGE_OPS_MAX];
    size_t nops;
    uint32_t next_op_serial;

    /* Replica maintenance (storage.c), when the storage has scan and held: */
    uint64_t maint_at;        /* the next periodic pass (0: not scheduled yet) */
    uint64_t maint_soon_at;   /* the pending early pass after the table gained a node, or 0 */
    uint64_t maint_resume_at; /* a running pass stopped on MAINT_SCANS_PER_STEP: go on then
                               * (0: not stopped) */
    uint64_t maint_changes;   /* changes to the table seen so far (table_size + evictions +
                               * maint_removed + maint_suspects): a rise is a new node or
                               * one that stopped answering */
    uint64_t maint_removed;   /* contacts removed by forget */
    uint64_t maint_suspects;  /* contacts that turned suspect (their first failure) */
    bool maint_running;
    bool maint_end;       /* the pass's scan reached the end of the store */
    bool maint_has_after; /* maint_after holds the last key scanned */
    uint8_t maint_after[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint32_t maint_serial;
    struct maint_batch *maint_batch[MAINT_BATCHES_MAX];
    size_t maint_summaries;                             /* SUMMARYs in flight */
    size_t maint_pushes;                                /* OP_PUSH operations running */
    uint8_t watch[MAINT_WATCH_MAX][CORDON_NODE_ID_LEN]; /* the replica watch, by node ID */
    size_t nwatch;
    uint64_t watch_at; /* its next round of pings */

    struct churn_entry *churn; /* grown up to CORDON_CHURN_TRACKED_MAX */
    size_t nchurn, churn_cap;

    uint64_t now_ms; /* the latest time the host gave (forget has none of its own) */
    bool joined;
    bool self_lookup_due; /* the join's self-lookup waits for a free lookup slot */
    uint32_t join_pings;  /* bootstrap pings not yet resolved */
    uint64_t refresh_at;
    /* A refresh pass walks the buckets one lookup at a time: */
    unsigned refresh_bucket; /* the next bucket to consider */
    bool refresh_running;    /* its lookup is out */
    bool refresh_continue;   /* its lookup ended: go on at the end of the event */
    bool refresh_all;        /* the pass after join: every bucket up to the deepest one in
                                use, active or not, empty or not (Kademlia's join) */

    cordon_core_query_hook query_hook;
    void *query_hook_ctx;
};

/* core.c */
void cordon_core_fill_random(cordon_core *core, void *out, size_t n);
/* Encodes m and hands it to host->send. STORE and OBJECT are encoded into a heap buffer of
 * their exact size (up to CORDON_MSG_STORAGE_MAX), freed before returning; when it cannot
 * be had the message is not sent (a request then times out). */
void cordon_core_send_msg(cordon_core *core, const struct cordon_contact *to,
                          const struct cordon_msg *m);
/* A refresh lookup ended: the pass goes on to the next stale bucket. */
void cordon_core_refresh_done(cordon_core *core);
/* The join's self-lookup ended: refresh the buckets farther than our nearest neighbour. */
void cordon_core_self_lookup_done(cordon_core *core);
/* A bootstrap ping was answered or failed: the last one starts the self-lookup. */
void cordon_core_join_pinged(cordon_core *core, uint64_t now_ms);
void cordon_core_set_query_hook(cordon_core *core, cordon_core_query_hook hook, void *ctx);
void cordon_core_answer_error(cordon_core *core, const struct cordon_contact *to, uint32_t txid,
                              uint16_t code, const char *text);

/* table.c */
/* A proven node sent an accepted message: refresh it, or try to admit it. */
void cordon_table_seen(cordon_core *core, uint64_t now_ms, const struct cordon_contact *c);
/* A request to id failed: count it; fail_evict in a row evict the contact. */
void cordon_table_failed(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN]);
/* Drops id without counting an eviction (revocation). true when it was there. */
bool cordon_table_remove(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN]);
struct table_entry *cordon_table_find(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN]);
/* Up to max contacts closest to target, closest first, leaving out `exclude` (may be NULL)
 * and, when healthy_only, contacts with failures. Returns how many. */
size_t cordon_table_closest(const cordon_core *core, const uint8_t target[CORDON_NODE_ID_LEN],
                            const uint8_t *exclude, bool healthy_only, struct cordon_contact *out,
                            size_t max);
/* A lookup into target's range counts as activity of that bucket. */
void cordon_table_touch(cordon_core *core, uint64_t now_ms,
                        const uint8_t target[CORDON_NODE_ID_LEN]);
/* An answer to the first try of a request to id came sample_ms after it went out. */
void cordon_table_rtt(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN], uint64_t sample_ms);
/* The timeout of a watch ping to id: SRTT + 4 x RTTVAR, within watch_timeout_min_ms and
 * rpc_timeout_ms; rpc_timeout_ms before the first sample. */
uint32_t cordon_table_watch_timeout(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN]);
/* The check ping of bucket b was resolved. */
void cordon_table_check_done(cordon_core *core, unsigned b);
void cordon_table_free(cordon_core *core);

/* rpc.c */
/* Sends a request and records it. CORDON_ERR_BUSY when CORDON_PENDING_MAX are in flight. */
CORDON_MUST_CHECK cordon_err cordon_rpc_request(cordon_core *core, uint64_t now_ms,
                                                const struct cordon_contact *to, uint8_t type,
                                                const uint8_t *target, uint8_t purpose,
                                                uint32_t lookup, uint8_t path);
/* An answer arrived from a proven node: match it to a pending request or drop it. */
void cordon_rpc_answer(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                       const struct cordon_msg *m);
void cordon_rpc_tick(cordon_core *core, uint64_t now_ms);
void cordon_rpc_link_failed(cordon_core *core, uint64_t now_ms, const struct cordon_contact *to);
/* Drops every request to id, resolving it as failed without counting against the node. */
void cordon_rpc_forget(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN]);
uint64_t cordon_rpc_next_deadline(const cordon_core *core);
size_t cordon_rpc_memory(const cordon_core *core);
void cordon_rpc_free(cordon_core *core);

/* lookup.c */
CORDON_MUST_CHECK cordon_err cordon_lookups_start(cordon_core *core, uint64_t now_ms,
                                                  const uint8_t target[CORDON_NODE_ID_LEN],
                                                  uint8_t kind, cordon_lookup_cb cb, void *arg);
/* The outcome of a lookup's request (m is the answer when RPC_ANSWERED, else NULL). */
void cordon_lookups_resolved(cordon_core *core, uint64_t now_ms, const struct pending *p,
                             enum rpc_outcome outcome, const struct cordon_msg *m);
/* A lookup's request was sent again after a timeout. */
void cordon_lookups_resent(cordon_core *core, const struct pending *p);
/* Removes id from every running lookup and keeps it from coming back. */
void cordon_lookups_forget(cordon_core *core, uint64_t now_ms,
                           const uint8_t id[CORDON_NODE_ID_LEN]);
/* Lets stalled lookups send now that the pending table may have room. */
void cordon_lookups_pump_all(cordon_core *core, uint64_t now_ms);
size_t cordon_lookups_memory(const cordon_core *core);
void cordon_lookups_free(cordon_core *core);

/* storage.c */
/* cordon_core_put and cordon_core_get after their argument checks. */
CORDON_MUST_CHECK cordon_err cordon_storage_put(cordon_core *core, uint64_t now_ms,
                                                const uint8_t *obj, size_t len, cordon_put_cb cb,
                                                void *arg);
CORDON_MUST_CHECK cordon_err cordon_storage_get(cordon_core *core, uint64_t now_ms,
                                                const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                                cordon_get_cb cb, void *arg);
/* Serves a STORE, FETCH or SUMMARY that passed the limits (ERROR "unsupported" without
 * storage, or for a SUMMARY without scan and held). */
void cordon_storage_serve(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                          const struct cordon_msg *m);
/* Fills the request a pending STORE, FETCH or SUMMARY sends (on its first try and each
 * retry): the object or key comes from its operation, the entries from the maintenance
 * target. false when that is gone (nothing is sent). */
bool cordon_storage_request(const cordon_core *core, const struct pending *p, struct cordon_msg *m);
/* The outcome of a put's, get's or push's request, or of a SUMMARY (m is the answer when
 * RPC_ANSWERED, else NULL; an object it carries is valid only during the call). */
void cordon_storage_resolved(cordon_core *core, uint64_t now_ms, const struct pending *p,
                             enum rpc_outcome outcome, const struct cordon_msg *m);
/* Replicas not asked yet that are id are dropped from every put and get, and maintenance
 * targets not asked yet from their batches. */
void cordon_storage_forget(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN]);
/* Lets operations that found the pending table full send now. */
void cordon_storage_pump_all(cordon_core *core, uint64_t now_ms);
/* Replica maintenance, at the end of every event: notices nodes new to the table (an early
 * pass), starts a pass when one is due, and moves a running pass on. */
void cordon_maint_step(cordon_core *core, uint64_t now_ms);
/* A watch ping (PURPOSE_WATCH) is over. */
void cordon_maint_watch_resolved(cordon_core *core, enum rpc_outcome outcome);
/* Contact id failed a first request (table.c): a watched replica starts a pass at once. */
void cordon_maint_suspect(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN]);
/* When maintenance next needs a tick (UINT64_MAX: never). */
uint64_t cordon_maint_next_deadline(const cordon_core *core);
size_t cordon_storage_memory(const cordon_core *core);
void cordon_storage_free(cordon_core *core);

/* limits.c */
CORDON_MUST_CHECK cordon_err cordon_limits_init(cordon_core *core);
/* Makes the per-node STORE buckets (when the storage is set). */
CORDON_MUST_CHECK cordon_err cordon_limits_store_init(cordon_core *core);
/* One STORE from node id against its store bucket and the global store budget; false:
 * over one of them. */
bool cordon_limits_store(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN]);
/* One message against the global inbound budget; false: over it. */
bool cordon_limits_global(cordon_core *core, uint64_t now_ms);
/* One request (and, for routing queries, one routing token) from node id; false: over. */
bool cordon_limits_node(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN],
                        bool routing);
/* The table evicted id. */
void cordon_churn_evicted(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN]);
/* id is about to enter the table: false (and refused_churn counted) when it rejoined too
 * often; true records the re-admission. */
bool cordon_churn_admit(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN]);
/* Pacing of this node's own requests: 0 when a request (a routing query when routing) to
 * id may go now, and its tokens are taken; else the milliseconds to wait, nothing taken. */
uint64_t cordon_limits_pace(cordon_core *core, uint64_t now_ms,
                            const uint8_t id[CORDON_NODE_ID_LEN], bool routing);
size_t cordon_limits_memory(const cordon_core *core);
void cordon_limits_free(cordon_core *core);

#endif
