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
 *   - local requests: join, lookup, status, forget.
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
 * Several cores may live in one process (no globals): the simulator runs thousands.
 */
#ifndef CORDON_PEER_CORE_CORE_H
#define CORDON_PEER_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* cordon_core_new refuses (CORDON_ERR_INVAL) params that cordon_overlay_params_check
 * refuses, rpc_timeout_ms outside 1..600000, rpc_retries over CORDON_RPC_RETRIES_MAX,
 * fail_evict outside 1..CORDON_FAIL_EVICT_MAX and refresh_ms 0. */
struct cordon_core_config {
    struct cordon_overlay_params params; /* k, alpha, disjoint_paths, limits (overlay doc) */
    uint32_t rpc_timeout_ms;             /* first timeout of a request (1000) */
    uint32_t rpc_retries;                /* retries after a timeout, with doubling (1) */
    uint32_t fail_evict;                 /* consecutive failures that evict a contact (2) */
    uint32_t refresh_ms;                 /* bucket refresh period (15 min, + up to half) */
    uint32_t check_quiet_ms; /* a full bucket pings its least-recently-seen resident for a
                              * newcomer only if that one was quiet this long (60 s) */
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
    uint64_t dropped_unsolicited; /* answers to nothing we asked, or from another node */
    uint64_t dropped_rate_node;   /* over a per-node token bucket */
    uint64_t dropped_rate_global; /* over the global inbound budget */
    uint64_t refused_prefix;      /* contacts refused by the per-prefix limit */
    uint64_t refused_churn;       /* admissions refused by the churn limiter */
    uint64_t refused_full;        /* messages of newcomers kept out by a full bucket */
    uint64_t timeouts;            /* requests that failed after their last retry */
    uint64_t evictions;           /* contacts evicted after fail_evict failures */
};

typedef struct cordon_core cordon_core;

/* self is this node's proven ID and address. The host struct is copied; host->random is
 * called during the call (hash seeds). CORDON_ERR_INVAL, CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_core_new(const struct cordon_core_config *cfg,
                                             const struct cordon_contact *self,
                                             const struct cordon_core_host *host,
                                             cordon_core **out);
void cordon_core_free(cordon_core *core); /* accepts NULL; pending lookups are not called */

/* ---- events -------------------------------------------------------------------------- */

/* Requests (PING, FIND_NODE) are answered; answers are matched to pending requests. The
 * order of checks: global inbound budget (over it: dropped silently), decoding, then for
 * requests the sender's request bucket and, for FIND_NODE, its routing bucket (over them:
 * an ERROR "rate limited" answer). Only a message that passes them all admits `from` to
 * the table. msg is read during the call only. */
void cordon_core_receive(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                         const uint8_t *msg, size_t len);
/* The link to `to` failed: one failure for the contact, and every request pending to it
 * fails now. */
void cordon_core_link_failed(cordon_core *core, uint64_t now_ms, const struct cordon_contact *to);
/* Runs what is due at now_ms: retries and timeouts, the join's self-lookup if it waited
 * for a free slot, the bucket refresh. Calling it early or late is harmless. */
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
void cordon_core_status(const cordon_core *core, struct cordon_core_status *out);
/* Copies up to max contacts of the routing table; returns how many there are in all. */
size_t cordon_core_contacts(const cordon_core *core, struct cordon_contact *out, size_t max);
/* Drops a node (revoked, or banned by the host) from the table and from running lookups
 * (their requests to it fail, it is not asked again by them). It may come back later like
 * any node, through a message of its own: the host keeps banned nodes off its links.
 * Works at the latest time the core was given. Lookups may end, and call back, inside. */
void cordon_core_forget(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN]);
/* Bytes of heap this core holds (for the per-node memory figure): the core, the buckets,
 * the pending table, running lookups, the rate-limit tables and the churn limiter. */
size_t cordon_core_memory(const cordon_core *core);

#endif
